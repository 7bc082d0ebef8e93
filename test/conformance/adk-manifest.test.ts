// Conformance with Algorithmia's own model-manifest tools (the algorithmia client and algorithmia-adk pinned in the
// server's Python runtime, server/runtime/python-requirements.txt): from the model_manifest.json an Algorithm
// commits, `algo freeze` writes the same model_manifest.json.freeze as the provider (at the timestamp it chose),
// and the ADK's ModelData loads the models the provider's files name and refuses them once they are tampered with.
import * as assert from "assert";
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    ADK_FREEZE_FILE,
    ADK_MANIFEST_FILE,
    adkManifestFiles,
    FREEZE_TIMESTAMP,
    ModelBinding,
    sourceTree,
} from "../../provider/resources/algorithmSource";
import { ensurePythonRuntime } from "../../server/runtime/python-env";
import { ALICE, call, startTestServer, TestServer } from "../helpers/server";

const TOOLS = path.join(__dirname, "adk", "manifest_tools.py");

// A quote, a space and non-ASCII in a name exercise the escaping of Python's str() and json.dump.
const CONTENTS: Record<string, string> = { model: "weights v1", labels: "zero,one,two\n" };
const FILE_NAMES: Record<string, string> = { model: "model.bin", labels: "label's é.csv" };

const hash = (algorithm: string, text: string) => crypto.createHash(algorithm).update(text).digest("hex");

describe("conformance: ADK model manifests (algo freeze, ModelData)", function () {
    let server: TestServer;
    let python: string;
    let root: string;
    let models: Record<string, ModelBinding>;

    // Asynchronously: the server runs in this process and must keep answering while Python runs.
    const tool = (command: string, target: string) =>
        new Promise<{ ok: boolean; stdout: string; stderr: string }>((resolve) =>
            execFile(
                python,
                [TOOLS, command, target],
                { env: { ...process.env, ALGORITHMIA_API: server.url, ALGORITHMIA_API_KEY: ALICE.key } },
                (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr }),
            ),
        );
    const upload = async (name: string, text: string) => {
        const res = await call(server, "PUT", `/v1/data/alice/models/${encodeURIComponent(FILE_NAMES[name])}`, {
            key: ALICE.key,
            body: text,
        });
        assert.strictEqual(res.status, 200, res.text);
    };

    before(async () => {
        python = (await ensurePythonRuntime()).python;
        server = await startTestServer({ users: [ALICE] });
        assert.strictEqual(
            (await call(server, "POST", "/v1/data/alice", { key: ALICE.key, json: { name: "models" } })).status,
            200,
        );
        models = {};
        for (const [name, text] of Object.entries(CONTENTS)) {
            await upload(name, text);
            const dataUri = `data://alice/models/${FILE_NAMES[name]}`;
            models[name] = { dataUri, sha256: hash("sha256", text), md5: hash("md5", text) };
        }
        // What an Algorithm commits, in "ours"; its manifest alone in "official", for `algo freeze`.
        root = fs.mkdtempSync(path.join(os.tmpdir(), "adk-manifest-"));
        const source = path.join(root, "source");
        fs.mkdirSync(path.join(source, "src"), { recursive: true });
        fs.writeFileSync(path.join(source, "src", "Algo.py"), "def apply(input):\n    return input\n");
        for (const entry of sourceTree({ source, modelFiles: models })) {
            if (entry.content === undefined) continue;
            fs.mkdirSync(path.join(root, "ours"), { recursive: true });
            fs.writeFileSync(path.join(root, "ours", entry.path), entry.content);
        }
        fs.mkdirSync(path.join(root, "official"));
        fs.copyFileSync(path.join(root, "ours", ADK_MANIFEST_FILE), path.join(root, "official", ADK_MANIFEST_FILE));
    });
    after(async () => {
        await server?.dispose();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("writes the freeze `algo freeze` writes, but for the timestamp", async () => {
        const run = await tool("freeze", path.join(root, "official"));
        assert.ok(run.ok, run.stderr);
        const official = fs.readFileSync(path.join(root, "official", ADK_FREEZE_FILE), "utf8");
        const timestamp = JSON.parse(official).timestamp;
        assert.match(timestamp, /^\d+\.\d+$/, "the time of the run, as Python's str(time())");
        assert.strictEqual(adkManifestFiles(models, timestamp).freeze, official);
        // The committed freeze is that one at the provider's fixed timestamp.
        const ours = fs.readFileSync(path.join(root, "ours", ADK_FREEZE_FILE), "utf8");
        assert.strictEqual(JSON.parse(ours).timestamp, FREEZE_TIMESTAMP);
        assert.strictEqual(ours, adkManifestFiles(models, FREEZE_TIMESTAMP).freeze);
    });

    it("loads the models through the ADK's ModelData, checking their md5", async () => {
        const run = await tool("load", path.join(root, "ours", ADK_MANIFEST_FILE));
        assert.ok(run.ok, run.stderr);
        assert.deepStrictEqual(
            JSON.parse(run.stdout),
            Object.fromEntries(Object.entries(models).map(([name, m]) => [name, m.md5])),
        );
    });

    it("refuses a freeze file edited by hand (its lock no longer matches)", async () => {
        const dir = path.join(root, "edited");
        fs.cpSync(path.join(root, "ours"), dir, { recursive: true });
        const freeze = path.join(dir, ADK_FREEZE_FILE);
        fs.writeFileSync(
            freeze,
            fs.readFileSync(freeze, "utf8").replace(/"fail_on_tamper": true/g, '"fail_on_tamper": false'),
        );
        const run = await tool("load", path.join(dir, ADK_MANIFEST_FILE));
        assert.ok(!run.ok);
        assert.match(run.stderr, /Manifest FreezeFile Tamper Detected/);
    });

    it("refuses a model whose bytes changed (fail_on_tamper)", async () => {
        await upload("model", "weights v2, swapped behind the manifest's back");
        const run = await tool("load", path.join(root, "ours", ADK_MANIFEST_FILE));
        assert.ok(!run.ok);
        assert.match(run.stderr, new RegExp(`Model File Mismatch for model\\s+expected hash:\\s+${models.model.md5}`));
    });
});
