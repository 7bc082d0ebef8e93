// The reliability suite: a deployment survives an unreliable API (seeded errors, 429s with Retry-After, dropped
// connections), a `pulumi up` killed with SIGKILL mid-upload, and algorithmia-local killed and restarted mid-`up`
// — and afterwards the server holds exactly the expected objects and the next preview shows no changes. Invalid
// programs fail at preview with an error naming the property. Real engine, real server process, real HTTP and git.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PulumiSandbox, repoRoot } from "../helpers/pulumi";
import { MODEL_FILE, TEST_DATA_FILE } from "../../examples/model-guide/stack";
import { sha256File } from "../../examples/promotion/promotion";
import { contentName } from "../../provider/resources/modelFile";
import { copyExamples } from "../helpers/examples";
import { CliProject, LocalServer, PROVIDER_IMPORT, until, writeProject } from "../helpers/processes";
import { ALICE, BOB } from "../helpers/server";

const HELLO_SOURCE = path.join(repoRoot, "test/fixtures/algorithms/Hello");

/**
 * A small deployment with every resource kind and every API area (data, management, git, builds): a collection,
 * a model file (MODEL_FILE, big enough to kill an up mid-upload), an algorithm built from source with the model
 * bound into it, and a published version.
 */
const SMALL_DEPLOYMENT = `import { Algorithm, AlgorithmVersion, DataCollection, ModelFile } from ${PROVIDER_IMPORT};
const collection = new DataCollection("models", { name: "models", readAcl: "myAlgorithms" });
const model = new ModelFile("model", { collection: collection.dataUri, name: "model.bin", source: process.env.MODEL_FILE! });
const algorithm = new Algorithm("hello", {
    name: "Hello",
    details: { label: "Hello" },
    settings: { language: "python3-1", environment: "cpu", license: "apl", sourceVisibility: "closed", networkAccess: "isolated", pipelineEnabled: false },
    source: ${JSON.stringify(HELLO_SOURCE)},
    modelFiles: { model: { dataUri: model.dataUri, sha256: model.sha256, md5: model.md5 } },
});
const version = new AlgorithmVersion("hello-version", {
    algorithm: algorithm.algoPath, gitHash: algorithm.gitHash, versionType: "minor", callability: "public",
});
export const modelSha256 = model.sha256;
export const gitHash = algorithm.gitHash;
export const algoUri = version.algoUri;
`;

/** What a converged deployment leaves on the server: collections, files (by the local file they hold), one algorithm. */
interface Expected {
    collections: string[];
    files: Record<string, string>;
    algorithm: string;
}

/** What the server holds for alice, read over HTTP with faults off. */
async function serverObjects(server: LocalServer) {
    const get = async (route: string) => {
        const res = await fetch(server.url + route, { headers: { authorization: `Simple ${ALICE.key}` } });
        assert.ok(res.ok, `GET ${route}: ${res.status} ${await res.clone().text()}`);
        return res;
    };
    const json = async (route: string): Promise<any> => (await get(route)).json();
    const collections = (await json("/v1/data/alice")).folders.map((f: { name: string }) => f.name).sort();
    const files: Record<string, { size: number; sha256: string }> = {};
    for (const c of collections) {
        for (const f of (await json(`/v1/data/alice/${c}`)).files) {
            const bytes = Buffer.from(await (await get(`/v1/data/alice/${c}/${f.filename}`)).arrayBuffer());
            files[`${c}/${f.filename}`] = {
                size: f.size,
                sha256: crypto.createHash("sha256").update(bytes).digest("hex"),
            };
        }
    }
    const algorithms = (await json("/v1/users/alice/algorithms")).map((a: { algoname: string }) => a.algoname).sort();
    const published: Record<string, { version: string; gitHash: string }[]> = {};
    for (const a of algorithms) {
        const versions = (await json(`/v1/algorithms/alice/${a}/versions?published=true`)).results;
        published[a] = versions.map((v: any) => ({
            version: v.version_info.semantic_version,
            gitHash: v.version_info.git_hash,
        }));
    }
    return { collections, files, algorithms, published };
}

async function setFaults(server: LocalServer, spec: string | undefined): Promise<void> {
    const res = await fetch(
        `${server.url}/_local/faults`,
        spec === undefined
            ? { method: "DELETE" }
            : { method: "PUT", body: spec, headers: { "content-type": "text/plain" } },
    );
    assert.ok(res.ok, await res.text());
}

async function counters(
    server: LocalServer,
): Promise<{ reads: number; writes: number; routes: Record<string, number>; injected: Record<string, number> }> {
    return (await fetch(`${server.url}/_local/counters`)).json() as any;
}

describe("reliability", function () {
    this.timeout(15 * 60 * 1000);
    let sandbox: PulumiSandbox;
    let scratch: string;
    let modelFile: string;

    before(async () => {
        sandbox = await PulumiSandbox.create();
        scratch = fs.mkdtempSync(path.join(sandbox.root, "reliability-"));
        // Big enough that an upload is still running when we pull the plug, small enough to stay quick.
        modelFile = path.join(scratch, "model.bin");
        const block = crypto.createHash("sha512").update("reliability").digest();
        fs.writeFileSync(
            modelFile,
            Buffer.alloc(32 * 1024 * 1024).map((_, i) => block[i % block.length] ^ (i >> 16)),
        );
    });
    after(async () => {
        await sandbox?.dispose();
    });

    /** A fresh server process (faults from the start) and a project in `dir` pointed at it as alice. */
    async function deploy(dir: string, faults?: string) {
        const server = await LocalServer.start({ users: [ALICE, BOB], faults });
        try {
            const project = await new CliProject(dir, { ...sandbox.env, MODEL_FILE: modelFile }).init("dev");
            await project.cli("config", "set", "algorithmia:apiAddress", server.url);
            await project.cli("config", "set", "--secret", "algorithmia:apiKey", ALICE.key);
            return { server, project };
        } catch (err) {
            await server.dispose();
            throw err;
        }
    }
    const small = (name: string, faults?: string) => deploy(writeProject(scratch, name, SMALL_DEPLOYMENT), faults);
    /** The model's file in the collection: named after its content. */
    const storedModel = () => `models/${contentName("model.bin", sha256File(modelFile))}`;
    const smallExpected = (): Expected => ({
        collections: ["models"],
        files: { [storedModel()]: modelFile },
        algorithm: "Hello",
    });

    /** The server holds exactly what the deployment declares, the state agrees, and nothing is left to do. */
    async function assertConverged(server: LocalServer, project: CliProject, expected: Expected) {
        await setFaults(server, undefined);
        const outputs = JSON.parse(await project.cli("stack", "output", "--json"));
        const objects = await serverObjects(server);
        assert.deepStrictEqual(objects.collections, expected.collections);
        assert.deepStrictEqual(
            objects.files,
            Object.fromEntries(
                Object.entries(expected.files).map(([remote, local]) => [
                    remote,
                    { size: fs.statSync(local).size, sha256: sha256File(local) },
                ]),
            ),
        );
        assert.deepStrictEqual(objects.algorithms, [expected.algorithm], "no orphan algorithms");
        assert.deepStrictEqual(
            objects.published[expected.algorithm],
            [{ version: "0.1.0", gitHash: outputs.gitHash }],
            "exactly one published version",
        );
        assert.strictEqual(outputs.algoUri, `alice/${expected.algorithm}/0.1.0`);
        await project.cli("preview", "--expect-no-changes");
    }

    it("deploys the model guide through 10% errors, 429s with Retry-After and dropped connections, with no duplicates or orphans", async () => {
        // Seeded, so a run is repeatable for the same sequence of requests. The first upload's connection is
        // dropped and the first POST answered 429 for sure; every other request of the provider (API and git)
        // then meets 10% errors (503), 5% 429s with Retry-After and 3% dropped connections. The algorithm's own
        // reads of its model and test data inside the platform (the Python client's /v1/data/... routes; the
        // provider uses /v1/connector/data/...) are left alone: the first matching rule applies, and it does nothing.
        const rule = "error:0.1,status:503,rate429:0.05,retryAfter:1,drop:0.03";
        const guide = copyExamples(path.join(scratch, "model-guide"), { rootProject: true });
        const { server, project } = await deploy(
            guide,
            [
                "* /v1/data/*=latency:0",
                "PUT /v1/*=drop:1,max:1",
                "POST /v1/*=rate429:1,retryAfter:1,max:1",
                `* /v1/*=${rule}`,
                `* /git/*=${rule}`,
                "seed=20261125",
            ].join("; "),
        );
        try {
            await project.cli("up", "--yes", "--skip-preview");
            const seen = await counters(server);
            assert.ok(
                seen.injected.drop >= 1 && seen.injected.rate429 >= 1,
                `faults were injected: ${JSON.stringify(seen.injected)}`,
            );
            await assertConverged(server, project, {
                collections: ["digits"],
                files: {
                    [`digits/${contentName("digits-svc.joblib", sha256File(MODEL_FILE))}`]: MODEL_FILE,
                    [`digits/${contentName("test.csv", sha256File(TEST_DATA_FILE))}`]: TEST_DATA_FILE,
                },
                algorithm: "DigitClassifier",
            });
        } finally {
            await server.dispose();
        }
    });

    it("converges after `pulumi up` is killed with SIGKILL during the model upload", async () => {
        // The upload's PUT waits 3 s before the server reads its body, so it is surely in flight when killed.
        const { server, project } = await small("killed-up", "PUT /v1/*/model.*.bin=latency:3s");
        try {
            const run = project.start("up", "--yes", "--skip-preview");
            await until(
                "the model upload to start",
                async () =>
                    Object.entries((await counters(server)).routes).some(
                        ([route, n]) => route.startsWith("PUT ") && n > 0,
                    ),
                120_000,
                25,
            );
            run.killTree();
            const killed = await run.done;
            assert.strictEqual(killed.signal, "SIGKILL", killed.output);
            await setFaults(server, undefined);
            // Nothing half-written is visible: the model is absent (or complete, never partial).
            const before = await serverObjects(server);
            for (const file of Object.values(before.files)) assert.strictEqual(file.sha256, sha256File(modelFile));

            // What a user does next: release the killed run's lock, then run `up` again.
            await project.cli("cancel", "--yes");
            await project.cli("up", "--yes", "--skip-preview");
            await assertConverged(server, project, smallExpected());
        } finally {
            await server.dispose();
        }
    });

    // Where the server dies: mid-upload (the collection made, the model's PUT started), and once the algorithm
    // is being created (its POST seen: the push and the build come next, or are under way).
    const killPoints: [string, string, (routes: Record<string, number>) => boolean][] = [
        [
            "server-killed-upload",
            "during the model upload",
            (routes) => Object.keys(routes).some((r) => r.startsWith("PUT ")),
        ],
        [
            "server-killed-build",
            "while the algorithm is created and built",
            (routes) => (routes["POST /v1/algorithms/:owner"] ?? 0) > 0,
        ],
    ];
    for (const [name, when, reached] of killPoints) {
        it(`loses nothing when algorithmia-local is killed (SIGKILL) and restarted ${when}`, async () => {
            // Slow every API call down so the up is surely mid-way when the server dies.
            let server: LocalServer | undefined;
            const { server: first, project } = await small(name, "* /v1/*=latency:150ms; * /git/*=latency:150ms");
            try {
                server = first;
                const run = project.start("up", "--yes", "--skip-preview");
                await until(`the up to get ${when}`, async () => reached((await counters(first)).routes), 120_000, 25);
                await first.kill("SIGKILL");
                server = await first.restart({ faults: undefined });
                const firstUp = await run.done;

                // Whatever the state file says was created survived the crash.
                const state = JSON.parse(await project.cli("stack", "export"));
                const created = state.deployment.resources.filter((r: any) =>
                    r.type.startsWith("pulumi-nodejs:dynamic"),
                );
                const objects = await serverObjects(server);
                for (const r of created) {
                    if (r.outputs?.dataUri?.endsWith("/models"))
                        assert.ok(objects.collections.includes("models"), "the collection survived");
                    if (r.outputs?.dataUri?.endsWith(storedModel()))
                        assert.ok(objects.files[storedModel()], "the model survived");
                    if (r.outputs?.algoPath) assert.ok(objects.algorithms.includes("Hello"), "the algorithm survived");
                }
                // The provider rides out a short outage by retrying; when the outage outlasts its retries, the
                // next up finishes the job.
                if (firstUp.code !== 0) await project.cli("up", "--yes", "--skip-preview");
                await assertConverged(server, project, smallExpected());
            } finally {
                await server?.dispose();
            }
        });
    }

    describe("invalid programs fail at preview, naming the property", () => {
        type Kind = "DataCollection" | "ModelFile" | "Algorithm" | "AlgorithmVersion";
        let server: LocalServer;
        let stack: import("@pulumi/pulumi/automation").Stack;
        let program: () => void = () => undefined;
        const valid = (): Record<Kind, Record<string, any>> => ({
            DataCollection: { name: "valid", readAcl: "private" },
            ModelFile: { collection: "data://alice/valid", name: "model.bin", source: modelFile },
            Algorithm: {
                name: "Valid",
                details: { label: "Valid" },
                settings: {
                    language: "python3-1",
                    environment: "cpu",
                    license: "apl",
                    sourceVisibility: "closed",
                    networkAccess: "isolated",
                    pipelineEnabled: false,
                },
                source: HELLO_SOURCE,
            },
            AlgorithmVersion: {
                algorithm: "alice/Valid",
                gitHash: "0123456789abcdef0123456789abcdef01234567",
                versionType: "minor",
                callability: "public",
            },
        });
        // [resource, property path (dotted), bad value ("<missing>" deletes it)]; the error must name the path.
        const MISSING = Symbol("missing");
        const cases: [Kind, string, unknown][] = [
            ["DataCollection", "name", MISSING],
            ["DataCollection", "name", "has spaces"],
            ["DataCollection", "name", "x".repeat(31)],
            ["DataCollection", "name", "9starts_with_digit"],
            ["DataCollection", "owner", "not/an/owner"],
            ["DataCollection", "readAcl", "everyone"],
            ["DataCollection", "forceDestroy", "yes"],
            ["ModelFile", "collection", MISSING],
            ["ModelFile", "collection", "s3://bucket/models"],
            ["ModelFile", "collection", "data://alice"],
            ["ModelFile", "name", ""],
            ["ModelFile", "name", "nested/model.bin"],
            ["ModelFile", "source", MISSING],
            ["ModelFile", "source", "/nonexistent/model.bin"],
            ["ModelFile", "source", repoRoot],
            ["Algorithm", "name", "9lives"],
            ["Algorithm", "name", "has-dash"],
            ["Algorithm", "details.label", MISSING],
            ["Algorithm", "settings.language", "cobol"],
            ["Algorithm", "settings.environment", "tpu"],
            ["Algorithm", "settings.license", "proprietary"],
            ["Algorithm", "settings.sourceVisibility", "secret"],
            ["Algorithm", "settings.networkAccess", "sometimes"],
            ["Algorithm", "settings.pipelineEnabled", "yes"],
            ["Algorithm", "source", "/nonexistent/algorithm"],
            ["Algorithm", "buildTimeoutSeconds", -5],
            ["Algorithm", "dependencies", "numpy"],
            ["AlgorithmVersion", "algorithm", "no-slash"],
            ["AlgorithmVersion", "gitHash", "not-a-hash"],
            ["AlgorithmVersion", "versionType", "patchy"],
            ["AlgorithmVersion", "callability", "friends"],
            ["AlgorithmVersion", "royaltyMicrocredits", -1],
            ["AlgorithmVersion", "tests", [{ expect: "no input" }]],
        ];

        before(async () => {
            server = await LocalServer.start({ users: [ALICE] });
            stack = await sandbox.inlineStack("invalid-programs", "dev", async () => program());
            await stack.setAllConfig({
                "algorithmia:apiAddress": { value: server.url },
                "algorithmia:apiKey": { value: ALICE.key, secret: true },
            });
        });
        after(async () => server?.dispose());

        it(`has at least 25 cases (${cases.length})`, () => assert.ok(cases.length >= 25));

        for (const [kind, property, bad] of cases) {
            const shown = bad === MISSING ? "missing" : JSON.stringify(bad).slice(0, 40);
            it(`${kind}.${property} = ${shown}`, async () => {
                const args = valid()[kind];
                const keys = property.split(".");
                const parent = keys.slice(0, -1).reduce((o, k) => o[k], args);
                if (bad === MISSING) delete parent[keys[keys.length - 1]];
                else parent[keys[keys.length - 1]] = bad;
                program = () => {
                    const provider = require(path.join(repoRoot, "provider"));
                    new provider[kind]("subject", args);
                };
                const writesBefore = (await counters(server)).writes;
                const message = await stack.preview().then(
                    () => assert.fail(`preview accepted ${kind} with ${property} = ${shown}`),
                    (err: Error) => err.message,
                );
                // The engine shows a check failure as "property <path> value {...} has a problem: <path>: <rule>".
                const named = new RegExp(
                    `property ${property.replace(/\./g, "\\.")}\\b[^\\n]*has a problem: ${property.replace(/\./g, "\\.")}\\b`,
                );
                assert.match(message, named, `the error names "${property}":\n${message}`);
                assert.ok(!message.includes(ALICE.key), "the error carries no API key");
                assert.strictEqual((await counters(server)).writes, writesBefore, "preview wrote nothing");
            });
        }
    });
});
