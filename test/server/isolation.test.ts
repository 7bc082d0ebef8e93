// network_access "isolated" (server/runtime/workers.ts, server/api-socket.ts): an isolated algorithm runs in a
// network namespace of its own, reaching neither the host's loopback nor its other addresses, while
// Algorithmia.client() still reaches this server (data and nested calls) through the relay to its Unix socket.
import * as assert from "assert";
import * as net from "net";
import * as os from "os";
import { networkIsolation } from "../../server/runtime/workers";
import { ensurePythonRuntime } from "../../server/runtime/python-env";
import { createBody } from "../helpers/algorithms";
import { deployFixture } from "../helpers/git";
import { alive, waitFor } from "../helpers/processes";
import { ALICE, call, CallResult, startTestServer, TestServer } from "../helpers/server";

describe("algorithmia-local: network_access isolated", function () {
    this.timeout(120_000);
    let server: TestServer;
    let sha: string;
    let helloSha: string;
    // Listeners of the test on this machine's addresses (127.0.0.1 and hostAddress), by address: their ports.
    const listeners: net.Server[] = [];
    const ports = new Map<string, number>();
    let accepted = 0;
    // An address of this machine other than loopback, when it has one (never an outside address).
    const hostAddress = Object.values(os.networkInterfaces())
        .flat()
        .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

    const run = (input: unknown, query = "") =>
        call(server, "POST", `/v1/algo/alice/Runtime/${sha}${query}`, { key: ALICE.key, json: input });
    const ok = (res: CallResult) => {
        assert.strictEqual(res.status, 200, res.text);
        assert.ok(!res.json.error, res.text);
        return res.json;
    };
    const connect = async (host: string) => ok(await run({ op: "connect", host, port: ports.get(host) })).result;
    const setNetwork = async (network_access: string) => {
        const put = await call(server, "PUT", "/v1/algorithms/alice/Runtime", {
            key: ALICE.key,
            json: { settings: { network_access } },
        });
        assert.strictEqual(put.status, 200, put.text);
        // The same commit built again: its hash now names a build with the new settings.
        const built = await call(server, "POST", "/v1/algorithms/alice/Runtime/compile", { key: ALICE.key, json: {} });
        assert.strictEqual(built.json.version_info.git_hash, sha, built.text);
    };

    before(async function () {
        this.timeout(15 * 60_000); // the Python runtime may have to be created first
        await ensurePythonRuntime();
        for (const host of ["127.0.0.1", ...(hostAddress ? [hostAddress] : [])]) {
            const listener = net.createServer((socket) => {
                accepted++;
                socket.destroy();
            });
            await new Promise<void>((resolve) => listener.listen(0, host, resolve));
            listeners.push(listener);
            ports.set(host, (listener.address() as net.AddressInfo).port);
        }
        server = await startTestServer();
        sha = await deployFixture(server, ALICE.key, "alice", "Runtime", "Runtime", {
            pipeline_enabled: true,
            network_access: "isolated",
        });
        assert.strictEqual(
            (await call(server, "POST", "/v1/algorithms/alice", { key: ALICE.key, json: createBody("Hello") })).status,
            201,
        );
        helloSha = (await call(server, "POST", "/v1/algorithms/alice/Hello/compile", { key: ALICE.key, json: {} })).json
            .version_info.git_hash;
        assert.strictEqual(
            (await call(server, "POST", "/v1/data/alice", { key: ALICE.key, json: { name: "shared" } })).status,
            200,
        );
        const put = await call(server, "PUT", "/v1/data/alice/shared/note.txt", { key: ALICE.key, body: "a note" });
        assert.strictEqual(put.status, 200, put.text);
    });
    after(async () => {
        await server?.dispose();
        for (const listener of listeners) listener.close();
    });

    it("this machine can isolate workers (root or user namespaces, unshare present)", () => {
        assert.deepStrictEqual(networkIsolation(), { available: true });
    });

    it("an isolated algorithm reaches no listener on the host, neither on 127.0.0.1 nor on its own address", async () => {
        const loopback = await connect("127.0.0.1");
        assert.strictEqual(loopback.connected, false, JSON.stringify(loopback));
        if (hostAddress) {
            const outside = await connect(hostAddress);
            assert.strictEqual(outside.connected, false, JSON.stringify(outside));
            assert.match(outside.error, /unreachable/i);
        }
        assert.strictEqual(accepted, 0);
        assert.strictEqual((await run("x")).json.metadata.alerts, undefined);
    });

    it("keeps Algorithmia.client() working when isolated: it reads a data file and calls another algorithm", async () => {
        const inside = ok(await run({ op: "client" })).result;
        assert.match(inside.api, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.notStrictEqual(inside.api, server.url); // the relay inside the namespace, not the server's port
        assert.strictEqual(ok(await run({ op: "read_file", path: "data://alice/shared/note.txt" })).result, "a note");
        assert.strictEqual(
            ok(await run({ op: "pipe", algo: `alice/Hello/${helloSha}`, input: "nested" })).result,
            "hello nested",
        );
    });

    it("still kills an isolated worker that runs out of time, and starts a fresh one", async () => {
        const before = ok(await run({ op: "state" })).result.pid;
        const timedOut = await run({ op: "sleep", seconds: 30 }, "?timeout=1");
        assert.strictEqual(timedOut.json.error?.error_type, "TimeoutError", timedOut.text);
        const after = ok(await run({ op: "state" })).result.pid;
        assert.notStrictEqual(after, before);
        assert.ok(await waitFor(() => !alive(before), 10_000), "the timed-out worker is gone");
        assert.strictEqual((await connect("127.0.0.1")).connected, false);
    });

    it("switching to full takes effect on the next call (a new worker) and reaches the listener", async () => {
        const isolatedPid = ok(await run({ op: "state" })).result.pid;
        await setNetwork("full");
        assert.deepStrictEqual(await connect("127.0.0.1"), { connected: true });
        if (hostAddress) assert.deepStrictEqual(await connect(hostAddress), { connected: true });
        assert.strictEqual(accepted, hostAddress ? 2 : 1);
        assert.notStrictEqual(ok(await run({ op: "state" })).result.pid, isolatedPid);
        assert.strictEqual(ok(await run({ op: "client" })).result.api, server.url);
        // And back: isolated again on the next call.
        await setNetwork("isolated");
        assert.strictEqual((await connect("127.0.0.1")).connected, false);
    });

    it("runs with network and says so in metadata.alerts where isolation is not possible", async () => {
        process.env.ALGORITHMIA_LOCAL_ISOLATION = "0";
        try {
            const res = ok(await run({ op: "connect", host: "127.0.0.1", port: ports.get("127.0.0.1") }));
            assert.deepStrictEqual(res.result, { connected: true });
            assert.match(
                res.metadata.alerts[0],
                /network_access "isolated", but this server cannot isolate it \(ALGORITHMIA_LOCAL_ISOLATION=0\): it ran with network access/,
            );
        } finally {
            delete process.env.ALGORITHMIA_LOCAL_ISOLATION;
        }
        assert.strictEqual((await connect("127.0.0.1")).connected, false);
    });
});
