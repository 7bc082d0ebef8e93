// The security suite: what another user's key may and may not do, path traversal in data paths and git
// repository names, and API keys never showing up in state, logs or error messages. Real server, real HTTP,
// and (for the key checks) the real engine running the provider.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ALICE, BOB, call, CallOptions, rawRequest, startTestServer, TestServer } from "../helpers/server";
import { createBody } from "../helpers/algorithms";
import { PulumiSandbox } from "../helpers/pulumi";
import { CliProject, LocalServer, PROVIDER_IMPORT, writeProject } from "../helpers/processes";

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir, { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(e.parentPath, e.name));
}

describe("security", function () {
    let server: TestServer;
    const as =
        (key: string) =>
        (method: string, route: string, opts: CallOptions = {}) =>
            call(server, method, route, { key, ...opts });
    const alice = as(ALICE.key);
    const bob = as(BOB.key);
    const expect403 = async (method: string, route: string, opts: CallOptions = {}) => {
        const res = await bob(method, route, opts);
        assert.strictEqual(res.status, 403, `bob ${method} ${route}: ${res.status} ${res.text}`);
        if (method !== "HEAD") assert.strictEqual(res.json?.error?.code, 2001, `bob ${method} ${route}: ${res.text}`);
        return res;
    };
    let publicAlgoUnpublishedHash: string;
    let privateAlgoHash: string;

    before(async () => {
        server = await startTestServer();
        for (const [name, read] of [
            ["secrets", []],
            ["shared", ["user://*"]],
        ] as const) {
            assert.strictEqual((await alice("POST", "/v1/data/.my", { json: { name, acl: { read } } })).status, 200);
            assert.strictEqual(
                (await alice("PUT", `/v1/data/.my/${name}/model.bin`, { body: `${name} weights` })).status,
                200,
            );
        }
        // A private algorithm with a build, never published.
        assert.strictEqual((await alice("POST", "/v1/algorithms/alice", { json: createBody("Hidden") })).status, 201);
        privateAlgoHash = (await alice("POST", "/v1/algorithms/alice/Hidden/compile", { json: {} })).json.version_info
            .git_hash;
        // A public algorithm: 0.1.0 published, then a newer build that is only a hash version.
        assert.strictEqual((await alice("POST", "/v1/algorithms/alice", { json: createBody("Open") })).status, 201);
        await alice("POST", "/v1/algorithms/alice/Open/compile", { json: {} });
        const published = await alice("POST", "/v1/algorithms/alice/Open/versions", {
            json: { settings: { algorithm_callability: "public" }, version_info: { version_type: "minor" } },
        });
        assert.strictEqual(published.status, 200, published.text);
        publicAlgoUnpublishedHash = (await alice("POST", "/v1/algorithms/alice/Open/compile", { json: {} })).json
            .version_info.git_hash;
    });
    after(async () => server?.dispose());

    describe("another user's key", () => {
        it("gets 403 on a private collection and its files, on both URL forms", async () => {
            for (const prefix of ["/v1/data/alice", "/v1/connector/data/alice"]) {
                await expect403("GET", `${prefix}/secrets`);
                await expect403("GET", `${prefix}/secrets?acl=true`);
                await expect403("HEAD", `${prefix}/secrets/model.bin`);
                const res = await expect403("GET", `${prefix}/secrets/model.bin`);
                assert.ok(!res.text.includes("secrets weights"));
            }
            const listing = await bob("GET", "/v1/data/alice");
            assert.ok(
                !listing.json.folders.some((f: { name: string }) => f.name === "secrets"),
                "a private collection is not listed to others",
            );
        });

        it("gets 403 on a private algorithm: object, builds, versions and every write", async () => {
            await expect403("GET", "/v1/algorithms/alice/Hidden");
            await expect403("GET", "/v1/algorithms/alice/Hidden/builds");
            await expect403("GET", "/v1/algorithms/alice/Hidden/versions");
            await expect403("GET", `/v1/algorithms/alice/Hidden/versions/${privateAlgoHash}`);
            await expect403("PUT", "/v1/algorithms/alice/Hidden", { json: createBody("Hidden") });
            await expect403("POST", "/v1/algorithms/alice/Hidden/compile", { json: {} });
            await expect403("POST", "/v1/algorithms/alice/Hidden/versions", {
                json: { version_info: { version_type: "minor" } },
            });
            await expect403("DELETE", "/v1/algorithms/alice/Hidden");
            assert.strictEqual(
                (await alice("GET", "/v1/algorithms/alice/Hidden")).status,
                200,
                "the owner still sees it",
            );
        });

        it("gets 403 calling a private algorithm or an unpublished hash version, which the owner can call", async () => {
            const own = await alice("POST", `/v1/algo/alice/Open/${publicAlgoUnpublishedHash}`, { json: "x" });
            assert.strictEqual(own.status, 200, own.text);
            await expect403("POST", `/v1/algo/alice/Open/${publicAlgoUnpublishedHash}`, { json: "x" });
            await expect403("POST", `/v1/algo/alice/Hidden/${privateAlgoHash}`, { json: "x" });
            await expect403("POST", "/v1/algo/alice/Hidden/latestPrivate", { json: "x" });
        });

        it("reads a public collection but cannot write, re-ACL or delete it", async () => {
            assert.strictEqual((await bob("GET", "/v1/data/alice/shared/model.bin")).text, "shared weights");
            assert.strictEqual((await bob("GET", "/v1/data/alice/shared")).status, 200);
            await expect403("PUT", "/v1/data/alice/shared/model.bin", { body: "tampered" });
            await expect403("PUT", "/v1/data/alice/shared/extra.bin", { body: "planted" });
            await expect403("PATCH", "/v1/data/alice/shared", { json: { acl: { read: [] } } });
            await expect403("DELETE", "/v1/data/alice/shared/model.bin");
            await expect403("DELETE", "/v1/data/alice/shared?force=true");
            await expect403("POST", "/v1/data/alice", { json: { name: "planted" } });
            const listing = (await alice("GET", "/v1/data/.my/shared?acl=true")).json;
            assert.deepStrictEqual(
                listing.files.map((f: { filename: string }) => f.filename),
                ["model.bin"],
            );
            assert.deepStrictEqual(listing.acl, { read: ["user://*"] });
            assert.strictEqual((await alice("GET", "/v1/data/.my/shared/model.bin")).text, "shared weights");
        });
    });

    describe("path traversal", () => {
        const sentinelName = "traversal-sentinel.txt";

        it("refuses data paths that climb out of a collection, raw or percent-encoded", async () => {
            const auth = { authorization: `Simple ${ALICE.key}` };
            const reads = [
                "/v1/data/alice/shared/../secrets/model.bin",
                "/v1/data/alice/shared/..%2Fsecrets%2Fmodel.bin",
                "/v1/data/alice/shared/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                "/v1/data/alice/shared/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
                "/v1/connector/data/alice/shared/..%2f..%2f..%2f..%2fetc%2fpasswd",
                "/v1/data/..%2F..%2F..%2Fetc/passwd",
                "/v1/data/alice/..",
                "/v1/data/alice/shared/..",
                "/v1/data/alice/shared/.",
                "/v1/data/alice/shared/..%5C..%5Cetc%5Cpasswd",
                "/v1/data/alice%2F..%2F..%2Fetc/passwd",
                "/v1/data/data%3A%2F%2Falice%2F..%2F..%2Fetc%2Fpasswd",
            ];
            for (const route of reads) {
                const res = await rawRequest(server, "GET", route, { headers: auth });
                assert.ok(
                    res.status >= 400 && res.status < 500,
                    `GET ${route} answered ${res.status}: ${res.text.slice(0, 200)}`,
                );
                assert.ok(!res.text.includes("root:"), `GET ${route} leaked /etc/passwd`);
            }
            // Bob cannot reach alice's private file by walking through a public collection either.
            const bobs = await rawRequest(server, "GET", "/v1/data/alice/shared/..%2Fsecrets%2Fmodel.bin", {
                key: BOB.key,
            });
            assert.ok(!bobs.text.includes("secrets weights"));

            const writes = [
                `/v1/data/alice/shared/..%2F..%2F${sentinelName}`,
                `/v1/data/alice/shared/../../${sentinelName}`,
                `/v1/data/alice/shared/%2e%2e%2f%2e%2e%2f%2e%2e%2f${sentinelName}`,
                `/v1/data/alice/shared/..%5C..%5C${sentinelName}`,
                `/v1/data/alice/shared/..`,
            ];
            for (const route of writes) {
                const res = await rawRequest(server, "PUT", route, { headers: auth, body: "escaped" });
                assert.ok(
                    res.status >= 400 && res.status < 500,
                    `PUT ${route} answered ${res.status}: ${res.text.slice(0, 200)}`,
                );
            }
            // Anywhere in the data directory, or in any directory above it (where a climb would land).
            const ancestors: string[] = [];
            for (
                let dir = path.dirname(server.dataDir);
                ancestors[ancestors.length - 1] !== dir;
                dir = path.dirname(dir)
            )
                ancestors.push(dir);
            const escaped = [
                ...filesUnder(server.dataDir),
                ...ancestors.map((dir) => path.join(dir, sentinelName)).filter((f) => fs.existsSync(f)),
            ].filter((f) => f.endsWith(sentinelName));
            assert.deepStrictEqual(escaped, [], "no upload landed outside its collection");
            // The collections are as they were.
            assert.deepStrictEqual(
                (await alice("GET", "/v1/data/.my/shared")).json.files.map((f: any) => f.filename),
                ["model.bin"],
            );
        });

        it("refuses git repository names that climb out of the repository root", async () => {
            const auth = { authorization: `Basic ${Buffer.from(`alice:${ALICE.key}`).toString("base64")}` };
            const own = await rawRequest(server, "GET", "/git/alice/Open.git/info/refs?service=git-upload-pack", {
                headers: auth,
            });
            assert.strictEqual(own.status, 200, own.text);
            const routes = [
                "/git/alice/..%2F..%2Fbob%2FOpen.git/info/refs?service=git-upload-pack",
                "/git/alice/../bob/Open.git/info/refs?service=git-upload-pack",
                "/git/..%2Fbob/Open.git/info/refs?service=git-upload-pack",
                "/git/alice/Open.git%2F..%2F..%2F..%2F..%2Fetc/info/refs?service=git-upload-pack",
                "/git/alice/%2e%2e.git/info/refs?service=git-upload-pack",
                "/git/alice/Open.git/..%2F..%2F..%2Fconfig",
                "/git/alice/Open.git/../../../../etc/passwd",
            ];
            for (const route of routes) {
                for (const method of ["GET", "POST"]) {
                    const res = await rawRequest(server, method, route, { headers: auth });
                    assert.ok(
                        res.status >= 400 && res.status < 500,
                        `${method} ${route} answered ${res.status}: ${res.text.slice(0, 200)}`,
                    );
                    assert.ok(
                        !res.text.includes("root:") && !res.text.includes("[core]"),
                        `${method} ${route} leaked a file`,
                    );
                }
            }
        });
    });

    describe("API keys", function () {
        this.timeout(10 * 60 * 1000);
        let sandbox: PulumiSandbox;
        let api: LocalServer;
        let modelFile: string;
        const WRONG_KEY = "simNotAKnownKey0000000000000042";

        /** A project of `program` on the API server, with `key` as the secret stack config. */
        const project = async (name: string, program: string, key = ALICE.key) => {
            const p = await new CliProject(writeProject(sandbox.root, name, program), sandbox.env).init("dev");
            await p.cli("config", "set", "algorithmia:apiAddress", api.url);
            await p.cli("config", "set", "--secret", "algorithmia:apiKey", key);
            return p;
        };
        /** Fails naming the file when any file under `dir` (symlinks not followed) contains a key. */
        const assertNoKeyIn = (dir: string, keys: string[]) => {
            for (const file of filesUnder(dir)) {
                if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
                const text = fs.readFileSync(file, "latin1");
                for (const key of keys) assert.ok(!text.includes(key), `${file} contains an API key`);
            }
        };
        const assertNoKeyInText = (what: string, text: string, keys: string[]) => {
            for (const key of keys)
                assert.ok(!text.includes(key), `${what} contains an API key:\n${text.slice(0, 3000)}`);
        };

        before(async () => {
            sandbox = await PulumiSandbox.create();
            api = await LocalServer.start({ users: [ALICE, BOB], log: true });
            modelFile = path.join(sandbox.root, "model.bin");
            fs.writeFileSync(modelFile, "weights");
        });
        after(async () => {
            await sandbox?.dispose();
            await api?.dispose();
        });

        it("are in no state file, config file, CLI output or server log line through up, refresh, preview and destroy", async () => {
            const p = await project(
                "keys",
                `import { DataCollection, ModelFile } from ${PROVIDER_IMPORT};
const collection = new DataCollection("models", { name: "models", readAcl: "private" });
export const sha256 = new ModelFile("model", { collection: collection.dataUri, name: "model.bin", source: ${JSON.stringify(modelFile)} }).sha256;
`,
            );
            const outputs = [
                await p.cli("up", "--yes", "--skip-preview", "--debug"),
                await p.cli("refresh", "--yes", "--skip-preview", "--debug"),
                await p.cli("preview", "--diff", "--expect-no-changes", "--debug"),
                await p.cli("stack", "export"),
                await p.cli("stack", "output", "--json"),
            ];
            assert.match(outputs[4], /"sha256"/);
            // The state holds the deployment (so the scan below looks at the real thing).
            assert.match(outputs[3], /data:\/\/alice\/models/);
            outputs.push(await p.cli("destroy", "--yes", "--skip-preview", "--debug"));
            outputs.forEach((text, i) => assertNoKeyInText(`CLI output #${i}`, text, [ALICE.key]));
            assert.match(fs.readFileSync(path.join(p.dir, "Pulumi.dev.yaml"), "utf8"), /algorithmia:apiKey:\s+secure:/);
            assertNoKeyIn(sandbox.stateDir, [ALICE.key]);
            assertNoKeyIn(sandbox.pulumiHome, [ALICE.key]);
            assertNoKeyIn(p.dir, [ALICE.key]);
            assert.match(api.process.stdout(), /"url":"\/v1\//, "the server logged the requests");
            assertNoKeyInText("the server log", api.process.stdout(), [ALICE.key]);
        });

        it("are in no error message: a refused write, then an unknown key", async () => {
            const program = `import { DataCollection } from ${PROVIDER_IMPORT};
new DataCollection("theirs", { name: "planted", owner: "bob", readAcl: "private" });
`;
            const refused = await project("refused", program);
            const denied = await refused.cli("up", "--yes", "--skip-preview").then(
                () => assert.fail("alice wrote into bob's namespace"),
                (err: Error) => err.message,
            );
            assert.match(denied, /403|not authorized/i);
            assertNoKeyInText("the 403 error", denied, [ALICE.key]);

            const unknown = await project("unknown-key", program.replace('owner: "bob", ', ""), WRONG_KEY);
            const rejected = await unknown.cli("up", "--yes", "--skip-preview").then(
                () => assert.fail("an unknown key was accepted"),
                (err: Error) => err.message,
            );
            assert.match(rejected, /401|authenticat/i);
            assertNoKeyInText("the 401 error", rejected, [WRONG_KEY, ALICE.key]);
            assertNoKeyIn(sandbox.stateDir, [ALICE.key, WRONG_KEY]);
        });
    });
});
