// ModelFile's upload through its controller (no engine) against algorithmia-local: what is stored is what check
// hashed. A file whose stamp stays the checked one is sent without hashing it again; a file changed after check is
// hashed on its way out, and one changed during the upload is not kept under the checked content's name.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AlgorithmiaClient } from "../../provider/client";
import { ProviderContext } from "../../provider/resources/dynamic";
import { contentName, contentOf, fileStamp, modelFileController, upload } from "../../provider/resources/modelFile";
import { ALICE, TestServer, call, startTestServer } from "../helpers/server";

const MiB = 1024 * 1024;
const sha256 = (data: Buffer | string) => crypto.createHash("sha256").update(data).digest("hex");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ModelFile upload (controller + algorithmia-local)", function () {
    this.timeout(60_000);
    let server: TestServer;
    let client: AlgorithmiaClient;
    let ctx: ProviderContext;
    let root: string;

    before(async () => {
        server = await startTestServer();
        client = new AlgorithmiaClient({ apiAddress: server.url, apiKey: ALICE.key });
        ctx = { client: () => client, whoami: (c) => c.username() };
        root = fs.mkdtempSync(path.join(os.tmpdir(), "model-upload-"));
        await call(server, "POST", "/v1/connector/data/alice", { key: ALICE.key, json: { name: "models" } });
    });
    after(async () => {
        await server?.dispose();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    /** A file of `size` random bytes, older than the racy window (so it gets a stamp). */
    const modelFile = async (name: string, size: number) => {
        const file = path.join(root, name);
        fs.writeFileSync(file, crypto.randomBytes(size));
        await sleep(2100);
        return file;
    };
    /** The sha256 of what the server holds under `name`, or undefined when it holds nothing. */
    const stored = async (name: string) => {
        if (!(await client.statFile("alice", "models", name))) return undefined;
        const hash = crypto.createHash("sha256");
        for await (const chunk of await client.downloadFile("alice", "models", name)) hash.update(chunk);
        return hash.digest("hex");
    };

    it("sends a file whose stamp is the checked one without hashing it again", async () => {
        const file = await modelFile("trusted.bin", 3 * MiB);
        const stamp = await fileStamp(file);
        assert.ok(stamp);
        // A made-up sha256 comes back: the bytes were not hashed on the way (a hash would answer the real one).
        const sent = await upload(client, "alice", "models", "trusted.bin", contentOf(file), {
            sha256: "f".repeat(64),
            stamp,
        });
        assert.strictEqual(sent.sha256, "f".repeat(64));
        assert.strictEqual(sent.size, 3 * MiB);
        assert.strictEqual(await stored("trusted.bin"), sha256(fs.readFileSync(file)), "the file's bytes were stored");
    });

    it("answers no sha256 when the stamp moves during the upload, and hashes a file whose stamp is not the checked one", async () => {
        const file = await modelFile("moving.bin", 3 * MiB);
        const checked = { sha256: sha256(fs.readFileSync(file)), stamp: (await fileStamp(file))! };
        // The source's stamp moves once its first chunk is out (a write would move it the same way).
        const source = contentOf(file);
        const touched = {
            ...source,
            open: async function* () {
                let first = true;
                for await (const chunk of source.open()) {
                    yield chunk;
                    if (first) fs.utimesSync(file, new Date(), new Date());
                    first = false;
                }
            },
        };
        const moved = await upload(client, "alice", "models", "moving.bin", touched, checked);
        assert.strictEqual(moved.sha256, undefined);

        // Now its stamp is another than the checked one: hashed on the way out, and the answer is the real hash.
        const hashed = await upload(client, "alice", "models", "moving.bin", contentOf(file), {
            sha256: "f".repeat(64),
            stamp: checked.stamp,
        });
        assert.strictEqual(hashed.sha256, checked.sha256);
    });

    it("keeps nothing of a file rewritten between check and upload, and says to run up again", async () => {
        const file = await modelFile("rewritten.bin", 2 * MiB);
        const { inputs } = await modelFileController.prepare!(
            { collection: "data://alice/models", name: "rewritten.bin", source: file, adopt: false } as any,
            {},
            ctx,
        );
        assert.ok(inputs.sourceStamp, "checked with a stamp");
        fs.writeFileSync(file, crypto.randomBytes(2 * MiB)); // same size, other bytes, a new stamp
        await assert.rejects(
            modelFileController.create(ctx, inputs),
            /The model file .*rewritten\.bin changed while `pulumi up` ran \(sha256 [0-9a-f]{64} at preview, [0-9a-f]{64} uploaded\): nothing was kept; run `pulumi up` again/,
        );
        assert.strictEqual(await stored(contentName("rewritten.bin", inputs.sha256!)), undefined);
    });
});
