// algorithmia-local as a process, started through its real entry point: the CLI contract (docs/design.md §2), state
// surviving kill -9 (committed writes kept, an interrupted upload leaving the previous file), stopping at once on
// SIGTERM whatever connections clients keep open, and file bodies streaming through without the server's memory
// growing with the file.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { createBody } from "../helpers/algorithms";
import { ALICE, BOB, call } from "../helpers/server";
import { until } from "../helpers/processes";
import { spawnServer, ServerProcess } from "../helpers/server-process";

const MiB = 1024 * 1024;
const users = ["--user", `${ALICE.name}:${ALICE.key}`, "--user", `${BOB.name}:${BOB.key}`];

function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `algorithmia-local-${prefix}-`));
}

/** A PUT whose body the test writes itself, chunk by chunk, with backpressure. */
function openUpload(port: number, route: string, size: number) {
    const request = http.request({
        host: "127.0.0.1",
        port,
        method: "PUT",
        path: route,
        headers: {
            authorization: `Simple ${ALICE.key}`,
            "content-type": "application/octet-stream",
            "content-length": String(size),
        },
    });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
        request.on("response", (res) => {
            let text = "";
            res.on("data", (chunk) => (text += chunk));
            res.on("end", () => resolve({ status: res.statusCode!, text }));
        });
        request.on("error", reject);
    });
    response.catch(() => undefined); // a test that kills the server reads the failure itself
    return {
        request,
        response,
        async write(chunk: Buffer) {
            if (!request.write(chunk)) await new Promise((r) => request.once("drain", r));
        },
    };
}

/** `count` blocks of 1 MiB, generated on the fly: one random block, stamped with its index so no two are alike. */
function* blocks(count: number): Generator<Buffer> {
    const seed = crypto.randomBytes(MiB);
    for (let i = 0; i < count; i++) {
        const block = Buffer.from(seed);
        block.writeUInt32BE(i, 0);
        yield block;
    }
}

describe("algorithmia-local as a process", function () {
    describe("the CLI (npx algorithmia-local)", () => {
        let dataDir: string;
        let server: ServerProcess | undefined;
        beforeEach(() => (dataDir = tempDir("cli")));
        afterEach(async () => {
            await server?.stop();
            server = undefined;
            fs.rmSync(dataDir, { recursive: true, force: true });
        });

        it("without --user, creates user local with a fresh key, prints it and keeps it in the data dir", async () => {
            server = await spawnServer(
                ["--port", "0", "--data-dir", dataDir],
                ["npx", "--no", "--", "algorithmia-local"],
            );
            const lines = server.stdout().trim().split("\n");
            assert.match(lines[lines.length - 1], /^algorithmia-local listening on http:\/\/127\.0\.0\.1:\d+$/);
            const kept = JSON.parse(fs.readFileSync(path.join(dataDir, "local-user.json"), "utf8"));
            assert.strictEqual(kept.name, "local");
            assert.match(kept.key, /^sim[A-Za-z0-9_-]{20,}$/);
            assert.ok(
                lines.some((line) => line.includes(kept.key)),
                "the generated key is printed",
            );
            assert.strictEqual((fs.statSync(path.join(dataDir, "local-user.json")).mode & 0o777).toString(8), "600");

            // The key works, and a second start on the same directory keeps it.
            const created = await call(server, "POST", "/v1/data/.my", { key: kept.key, json: { name: "kept" } });
            assert.deepStrictEqual([created.status, created.json], [200, { result: "data://local/kept" }]);
            await server.stop();
            server = await spawnServer(
                ["--port", "0", "--data-dir", dataDir],
                ["npx", "--no", "--", "algorithmia-local"],
            );
            assert.ok(server.stdout().includes(kept.key));
            assert.strictEqual((await call(server, "GET", "/v1/data/local/kept", { key: kept.key })).status, 200);
        });

        it("with --user, --org and --faults, serves those users with those faults and prints only the listening line", async () => {
            server = await spawnServer([
                "--port",
                "0",
                "--data-dir",
                dataDir,
                ...users,
                "--org",
                `team:${ALICE.name}`,
                "--faults",
                "GET /v1/data/*=rate429:1,retryAfter:2,max:1; seed=3",
            ]);
            assert.match(server.stdout(), /^algorithmia-local listening on http:\/\/127\.0\.0\.1:\d+\n$/);
            assert.ok(!fs.existsSync(path.join(dataDir, "local-user.json")));
            const limited = await call(server, "GET", "/v1/data/.my", { key: BOB.key });
            assert.deepStrictEqual([limited.status, limited.headers.get("retry-after")], [429, "2"]);
            assert.strictEqual((await call(server, "GET", "/v1/data/.my", { key: BOB.key })).status, 200);
            assert.strictEqual((await call(server, "GET", "/v1/data/.my", { key: "simSomeoneElse" })).status, 401);
            const org = await call(server, "POST", "/v1/data/team", { key: ALICE.key, json: { name: "shared" } });
            assert.deepStrictEqual([org.status, org.json], [200, { result: "data://team/shared" }]);
            assert.strictEqual(
                (await call(server, "POST", "/v1/data/team", { key: BOB.key, json: { name: "nope" } })).status,
                403,
            );
        });

        it("narrows a --user key by the permissions after it, or makes it an admin key", async () => {
            const narrowed = { name: ALICE.name, key: "simAliceNoManagementCli00001" };
            const admin = { name: "root", key: "simRootAdminCli0000000000001" };
            server = await spawnServer([
                "--port",
                "0",
                "--data-dir",
                dataDir,
                ...users,
                "--user",
                `${narrowed.name}:${narrowed.key}:{"allow_algo_management":false}`,
                "--user",
                `${admin.name}:${admin.key}:admin`,
            ]);
            assert.strictEqual(
                (await call(server, "GET", "/v1/algorithms/alice/Nothing", { key: ALICE.key })).status,
                404,
            );
            assert.strictEqual(
                (await call(server, "GET", "/v1/algorithms/alice/Nothing", { key: narrowed.key })).status,
                403,
            );
            assert.strictEqual((await call(server, "GET", "/v1/data/.my", { key: narrowed.key })).status, 200);
            assert.strictEqual((await call(server, "GET", "/v1/organization/types", { key: admin.key })).status, 200);
            assert.strictEqual((await call(server, "GET", "/v1/data/.my", { key: admin.key })).status, 403);
        });

        it("serves a relative --data-dir: creates, builds and calls an algorithm, and again when started from elsewhere", async () => {
            // `--data-dir ./state`, as README shows and as the demo prints to serve its state again.
            const work = path.join(dataDir, "work");
            fs.mkdirSync(path.join(work, "elsewhere"), { recursive: true });
            server = await spawnServer(["--port", "0", "--data-dir", "./state", ...users], undefined, work);
            assert.strictEqual(
                (await call(server, "POST", "/v1/algorithms/alice", { key: ALICE.key, json: createBody("Relative") }))
                    .status,
                201,
            );
            const built = await call(server, "POST", "/v1/algorithms/alice/Relative/compile", {
                key: ALICE.key,
                json: {},
            });
            assert.strictEqual(built.status, 200, built.text);
            const hash = built.json.version_info.git_hash;
            const callIt = () =>
                call(server!, "POST", `/v1/algo/alice/Relative/${hash}`, { key: ALICE.key, json: "there" });
            assert.strictEqual((await callIt()).json.result, "hello there");
            assert.ok(
                fs.existsSync(path.join(work, "state", "algorithmia-local.db")),
                "the state is under the starting directory",
            );

            await server.stop();
            server = await spawnServer(
                ["--port", "0", "--data-dir", "../state", ...users],
                undefined,
                path.join(work, "elsewhere"),
            );
            assert.strictEqual((await callIt()).json.result, "hello there");
        });

        it("logs the cause of an internal error, and answers it in the API's shape", async () => {
            server = await spawnServer(["--port", "0", "--data-dir", dataDir, ...users]);
            assert.strictEqual(
                (await call(server, "POST", "/v1/data/alice", { key: ALICE.key, json: { name: "broken" } })).status,
                200,
            );
            // Uploads are staged under <data dir>/tmp: a plain file in its place makes the next upload fail inside.
            fs.rmSync(path.join(dataDir, "tmp"), { recursive: true, force: true });
            fs.writeFileSync(path.join(dataDir, "tmp"), "not a directory");
            const failed = await call(server, "PUT", "/v1/data/alice/broken/model.bin", {
                key: ALICE.key,
                body: "bytes",
            });
            assert.deepStrictEqual([failed.status, failed.json?.error?.message], [500, "Internal server error"]);
            await until(
                "the cause in the server's output",
                () =>
                    /internal error on PUT \/v1\/data\/alice\/broken\/model\.bin: Error: ENOTDIR/.test(
                        server!.stderr(),
                    ),
                5_000,
                50,
            );
        });

        it("stops at once on SIGTERM while a client holds a connection that has sent no request", async () => {
            server = await spawnServer(["--port", "0", "--data-dir", dataDir, ...users]);
            // What fetch leaves after it aborts a request (an idle timeout): a spare connection, open and silent.
            const spare = net.connect(server.port, "127.0.0.1").on("error", () => undefined);
            await new Promise((resolve) => spare.once("connect", resolve));
            const started = Date.now();
            await server.stop();
            spare.destroy();
            assert.ok(Date.now() - started < 5_000, `stopped after ${Date.now() - started} ms`);
        });

        it("refuses bad arguments with a message naming the option", async () => {
            await assert.rejects(spawnServer(["--port", "99999", "--data-dir", dataDir]), /--port must be 0-65535/);
            await assert.rejects(
                spawnServer(["--port", "0", "--data-dir", dataDir, "--user", "alice"]),
                /--user takes NAME:VALUE/,
            );
            await assert.rejects(
                spawnServer(["--port", "0", "--data-dir", dataDir, "--user", "alice:simKey:{nope"]),
                /--user alice: PERMISSIONS must be a JSON object or "admin"/,
            );
            await assert.rejects(
                spawnServer(["--port", "0", "--data-dir", dataDir, "--user", 'alice:simKey:{"allow_algo":1}']),
                /user alice: allow_algo must be true or false/,
            );
            await assert.rejects(
                spawnServer(["--port", "0", "--data-dir", dataDir, "--faults", "GET /x=boom:1"]),
                /unknown action "boom"/,
            );
        });
    });

    describe("kill -9", () => {
        let dataDir: string;
        let server: ServerProcess;
        const start = async () => (server = await spawnServer(["--port", "0", "--data-dir", dataDir, ...users]));
        before(async () => {
            dataDir = tempDir("kill");
            await start();
        });
        after(async () => {
            await server?.stop();
            fs.rmSync(dataDir, { recursive: true, force: true });
        });
        const alice = (method: string, route: string, opts: Parameters<typeof call>[3] = {}) =>
            call(server, method, route, { key: ALICE.key, ...opts });

        it("keeps every acknowledged write and the previous file when an upload is cut off", async () => {
            // Acknowledged writes of every kind.
            assert.strictEqual(
                (await alice("POST", "/v1/data/.my", { json: { name: "models", acl: { read: ["user://*"] } } })).status,
                200,
            );
            assert.strictEqual((await alice("POST", "/v1/data/.my", { json: { name: "scratch" } })).status, 200);
            assert.strictEqual(
                (await alice("PUT", "/v1/data/.my/models/model.bin", { body: "version 1" })).status,
                200,
            );
            assert.strictEqual(
                (await alice("PUT", "/v1/data/.my/models/notes.txt", { body: "to be deleted" })).status,
                200,
            );
            assert.strictEqual((await alice("DELETE", "/v1/data/.my/models/notes.txt")).status, 200);
            assert.strictEqual(
                (await alice("PATCH", "/v1/data/.my/scratch", { json: { acl: { read: [] } } })).status,
                200,
            );
            assert.strictEqual((await alice("PUT", "/v1/data/.my/scratch/a.txt", { body: "a" })).status, 200);

            // An overwrite of model.bin and a brand-new file, both cut off halfway by kill -9.
            const tmpDir = path.join(dataDir, "tmp");
            const overwrite = openUpload(server.port, "/v1/data/alice/models/model.bin", 64 * MiB);
            const fresh = openUpload(server.port, "/v1/data/alice/models/new.bin", 64 * MiB);
            const chunks = blocks(8);
            for (const chunk of chunks) {
                await overwrite.write(chunk);
                await fresh.write(chunk);
            }
            await until(
                "both uploads to reach the server's staging files",
                () => {
                    const staged = fs.readdirSync(tmpDir).map((f) => fs.statSync(path.join(tmpDir, f)).size);
                    return staged.length === 2 && staged.every((size) => size >= MiB);
                },
                10_000,
                10,
            );
            await server.stop("SIGKILL");
            await assert.rejects(overwrite.response);
            await assert.rejects(fresh.response);

            await start();
            assert.deepStrictEqual(
                fs.readdirSync(tmpDir),
                [],
                "staging files of the killed uploads are cleared at start",
            );
            const model = await call(server, "GET", "/v1/data/alice/models/model.bin", { key: BOB.key });
            assert.deepStrictEqual([model.status, model.text], [200, "version 1"]);
            assert.strictEqual((await alice("HEAD", "/v1/data/.my/models/new.bin")).status, 404);
            const listing = await alice("GET", "/v1/data/.my/models?acl=true");
            assert.deepStrictEqual(
                listing.json.files.map((f: { filename: string }) => f.filename),
                ["model.bin"],
            );
            assert.deepStrictEqual(listing.json.acl, { read: ["user://*"] });
            assert.strictEqual(
                (await call(server, "GET", "/v1/data/alice/scratch/a.txt", { key: BOB.key })).status,
                403,
            );
            assert.strictEqual((await alice("GET", "/v1/data/.my/scratch/a.txt")).text, "a");
        });

        it("keeps writes acknowledged just before the kill", async () => {
            const algorithm = await alice("POST", "/v1/algorithms/alice", { json: createBody("Survivor") });
            assert.strictEqual(algorithm.status, 201, algorithm.text);
            assert.strictEqual(
                (await alice("PUT", "/v1/data/.my/models/model.bin", { body: "version 2" })).status,
                200,
            );
            assert.strictEqual(
                (await alice("POST", "/v1/data/.my", { json: { name: "late", acl: { read: ["user://*"] } } })).status,
                200,
            );
            assert.strictEqual((await alice("DELETE", "/v1/data/.my/scratch?force=true")).status, 200);
            await server.stop("SIGKILL");
            await start();
            assert.strictEqual((await alice("GET", "/v1/data/.my/models/model.bin")).text, "version 2");
            assert.deepStrictEqual((await alice("GET", "/v1/data/.my/late?acl=true")).json.acl, { read: ["user://*"] });
            assert.strictEqual((await alice("GET", "/v1/data/.my/scratch")).status, 404);
            const collections = (await alice("GET", "/v1/data/.my")).json.folders.map((f: { name: string }) => f.name);
            assert.deepStrictEqual(collections, ["late", "models"]);
            const kept = await alice("GET", "/v1/algorithms/alice/Survivor");
            assert.deepStrictEqual(
                [kept.status, kept.json.id, kept.json.details],
                [200, algorithm.json.id, algorithm.json.details],
            );
        });
    });

    describe("streaming", () => {
        // 2 GiB (about 20 s on 2 cores, and 2 GiB of free space in the temp dir); ALGORITHMIA_LOCAL_TEST_FILE_MIB
        // sets another size for a quick local run.
        const size = Number(process.env.ALGORITHMIA_LOCAL_TEST_FILE_MIB || 2048) * MiB;
        const maxGrowth = 100 * MiB;
        let dataDir: string;
        let server: ServerProcess;
        before(async () => {
            dataDir = tempDir("stream");
            server = await spawnServer(["--port", "0", "--data-dir", dataDir, ...users]);
            assert.strictEqual(
                (await call(server, "POST", "/v1/data/.my", { key: ALICE.key, json: { name: "big" } })).status,
                200,
            );
        });
        after(async () => {
            await server?.stop();
            fs.rmSync(dataDir, { recursive: true, force: true });
        });

        it(`uploads and downloads a ${size / MiB} MiB file intact while the server's memory stays flat`, async function () {
            // Warm up the upload and download paths first, so the baseline includes code and buffers they need once.
            await call(server, "PUT", "/v1/data/.my/big/warmup.bin", { key: ALICE.key, body: Buffer.alloc(8 * MiB) });
            await call(server, "GET", "/v1/data/.my/big/warmup.bin", { key: ALICE.key });
            const baseline = server.rss();
            let peak = baseline;
            const sampler = setInterval(() => (peak = Math.max(peak, server.rss())), 50);
            try {
                const sent = crypto.createHash("sha256");
                const upload = openUpload(server.port, "/v1/data/alice/big/model.bin", size);
                for (const chunk of blocks(size / MiB)) {
                    sent.update(chunk);
                    await upload.write(chunk);
                }
                upload.request.end();
                const uploaded = await upload.response;
                assert.strictEqual(uploaded.status, 200, uploaded.text);

                const received = crypto.createHash("sha256");
                let length = 0;
                const download = await new Promise<{ status: number; contentLength?: string }>((resolve, reject) => {
                    http.get(
                        {
                            host: "127.0.0.1",
                            port: server.port,
                            path: "/v1/data/alice/big/model.bin",
                            headers: { authorization: `Simple ${ALICE.key}` },
                        },
                        (res) => {
                            res.on("data", (chunk: Buffer) => {
                                received.update(chunk);
                                length += chunk.length;
                            });
                            res.on("end", () =>
                                resolve({ status: res.statusCode!, contentLength: res.headers["content-length"] }),
                            );
                            res.on("error", reject);
                        },
                    ).on("error", reject);
                });
                assert.deepStrictEqual(download, { status: 200, contentLength: String(size) });
                assert.strictEqual(length, size);
                assert.strictEqual(received.digest("hex"), sent.digest("hex"));
            } finally {
                clearInterval(sampler);
            }
            peak = Math.max(peak, server.rss());
            const growth = peak - baseline;
            assert.ok(
                growth < maxGrowth,
                `server RSS grew by ${(growth / MiB).toFixed(1)} MiB (from ${(baseline / MiB).toFixed(1)} MiB) moving a ${size / MiB} MiB file`,
            );
        });
    });
});
