// The provider's HTTP client against algorithmia-local with injected faults (real HTTP): retries of 429 (honouring
// Retry-After), 5xx and dropped connections; POSTs retried only when they provably did not take effect; errors
// naming method, route, status and the API's message, never the key; streamed uploads and downloads, timed out
// only when no byte moves for the timeout (a slow transfer takes what it needs, a stalled one fails). And its git
// transport: pushes as the key's own account (also to an organization's repository), retried through 503s,
// dropped connections and a push reply lost after the push landed, without ever making a second commit.
import * as assert from "assert";
import * as crypto from "crypto";
import { Readable } from "stream";
import { AlgorithmiaApiError, AlgorithmiaClient } from "../../provider/client";
import { PushResult, TreeEntry } from "../../provider/client/git";
import { PushEvent } from "../../server/git";
import { ALICE, TestServer, call, replyLosingProxy, startTestServer } from "../helpers/server";
// SETTINGS as the API spells them, for algorithms made out of band.
import { SETTINGS as WIRE_SETTINGS } from "../helpers/algorithms";

/** A download's bytes, read to the end. */
const bytesOf = async (stream: AsyncIterable<Buffer>) => Buffer.concat(await Readable.from(stream).toArray());

describe("provider client (algorithmia-local with faults)", function () {
    this.timeout(60_000);
    let server: TestServer;
    let client: AlgorithmiaClient;

    before(async () => {
        server = await startTestServer();
        client = new AlgorithmiaClient({ apiAddress: server.url, apiKey: ALICE.key, baseDelayMs: 10, maxAttempts: 4 });
        await client.createCollection("alice", "files", "private");
    });
    beforeEach(() => server.faults.resetCounts());
    afterEach(() => server.faults.clear());
    after(async () => server?.dispose());

    const routeCount = (route: string) => server.faults.counts().routes[route] ?? 0;
    const bytes = (text: string) => () => Readable.from([Buffer.from(text)]);

    it("retries a 429, waiting as Retry-After says, and re-sends the whole streamed body", async () => {
        server.faults.set("PUT /v1/connector/data/alice/files/*=rate429:1,retryAfter:1,max:1");
        const started = Date.now();
        const uri = await client.putFile("alice", "files", "a.txt", bytes("after a 429"), "after a 429".length);
        assert.ok(Date.now() - started >= 900, "waited for Retry-After");
        assert.strictEqual(uri, "data://alice/files/a.txt");
        assert.strictEqual(routeCount("PUT /v1/connector/*"), 2);
        assert.strictEqual(server.faults.counts().injected.rate429, 1);
        const body = await bytesOf(await client.downloadFile("alice", "files", "a.txt"));
        assert.strictEqual(body.toString(), "after a 429");
    });

    it("retries 5xx answers and dropped connections of reads", async () => {
        server.faults.set("GET /v1/connector/data/alice/files=error:0.5,status:503,drop:0.5,max:3; seed=7");
        const listing = await client.getCollection("alice", "files");
        assert.ok(listing, "answered after the faults");
        assert.strictEqual(routeCount("GET /v1/connector/*"), 4);
    });

    it("retries a dropped POST only after checking it did not take effect", async () => {
        server.faults.set("POST /v1/connector/data/alice=drop:1,max:1");
        const owner = await client.createCollection("alice", "retried", "public");
        assert.strictEqual(owner, "alice");
        assert.strictEqual(routeCount("POST /v1/connector/*"), 2, "sent again");
        assert.strictEqual(routeCount("GET /v1/connector/*"), 1, "after one existence check");
    });

    it("answers the real owner when a create through .my took effect but its reply was lost", async () => {
        const proxy = await replyLosingProxy(server.url, "POST", "/v1/connector/data/.my", { cut: true });
        try {
            const viaProxy = new AlgorithmiaClient({
                apiAddress: proxy.url,
                apiKey: ALICE.key,
                baseDelayMs: 10,
                maxAttempts: 4,
            });
            assert.strictEqual(await viaProxy.createCollection(".my", "lost_reply", "private"), "alice");
        } finally {
            proxy.close();
        }
        assert.strictEqual(routeCount("POST /v1/connector/*"), 1, "not sent again: the check found it");
    });

    it("does not repeat a POST that has no way to check whether it took effect", async () => {
        server.faults.set("POST /v1/algo/*=error:1,status:500");
        await assert.rejects(client.callAlgorithm("alice/nothing", {}), /POST \/v1\/algo\/alice\/nothing returned 500/);
        // Counted by route pattern: the execution area (server-git) serves /v1/algo/:owner/:algo.
        assert.strictEqual(routeCount("POST /v1/algo/:owner/:algo"), 1);
    });

    it("sends a repeatable call (a version's test) again after a 503 and a dropped connection", async () => {
        await client.createAlgorithm("alice", {
            name: "Greeter",
            details: { label: "Greeter" },
            settings: WIRE_SETTINGS,
        });
        const compiled = await call(server, "POST", "/v1/algorithms/alice/Greeter/compile", {
            key: ALICE.key,
            json: {},
        });
        const gitHash = compiled.json.version_info.git_hash;
        server.faults.set("POST /v1/algo/*=error:0.5,status:503,drop:0.5,max:2; seed=7");
        const reply = await client.callAlgorithm(`alice/Greeter/${gitHash}`, "again", { repeatable: true });
        assert.strictEqual(reply.result, "hello again");
        assert.strictEqual(routeCount("POST /v1/algo/:owner/:algo/:version"), 3, "two faults, then the call");
        const { error, drop } = server.faults.counts().injected;
        assert.strictEqual(error + drop, 2, "both faults were injected");
    });

    it("gives up after maxAttempts with the last status", async () => {
        server.faults.set("HEAD /v1/connector/*=error:1,status:502");
        await assert.rejects(client.statFile("alice", "files", "a.txt"), (err: AlgorithmiaApiError) => {
            assert.strictEqual(err.status, 502);
            assert.match(err.message, /^HEAD \/v1\/connector\/data\/alice\/files\/a\.txt returned 502: /);
            return true;
        });
        assert.strictEqual(routeCount("HEAD /v1/connector/*"), 4);
    });

    it("reports method, route, status and the API's message, not retried, without the key", async () => {
        const err: AlgorithmiaApiError = await client.createCollection("alice", "bad-name", "private").then(
            () => assert.fail("the name is invalid"),
            (e) => e,
        );
        assert.ok(err instanceof AlgorithmiaApiError);
        assert.strictEqual(err.method, "POST");
        assert.strictEqual(err.route, "/v1/connector/data/alice");
        assert.strictEqual(err.status, 400);
        assert.match(err.message, /^POST \/v1\/connector\/data\/alice returned 400: .+/);
        assert.strictEqual(routeCount("POST /v1/connector/*"), 1);

        const wrongKey = "simWrongKeyForTheClientTest00001";
        const stranger = new AlgorithmiaClient({ apiAddress: server.url, apiKey: wrongKey, baseDelayMs: 10 });
        const denied: Error = await stranger.getCollection("alice", "files").then(
            () => assert.fail("401"),
            (e) => e,
        );
        assert.match(denied.message, /returned 401/);
        assert.ok(!denied.message.includes(wrongKey) && !JSON.stringify(denied).includes(wrongKey));
    });

    describe("idle timeouts", () => {
        // A transfer may take many times the timeout; what it may not do is go that long without a byte.
        const timeoutMs = 300;
        const idleClient = () =>
            new AlgorithmiaClient({
                apiAddress: server.url,
                apiKey: ALICE.key,
                baseDelayMs: 10,
                maxAttempts: 3,
                timeoutMs,
            });
        const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
        /** `count` chunks of 1 KiB, one each `everyMs`: a slow link's upload. */
        const slowly = (count: number, everyMs: number) => () =>
            Readable.from(
                (async function* () {
                    for (let i = 0; i < count; i++) {
                        await pause(everyMs);
                        yield Buffer.alloc(1024, i);
                    }
                })(),
            );
        const timedOut = new RegExp(`timed out: no byte sent or received for ${timeoutMs} ms`);
        const KIB_15 = Buffer.concat(Array.from({ length: 15 }, (_, i) => Buffer.alloc(1024, i)));
        const download = async (filename: string, by = client) =>
            bytesOf(await by.downloadFile("alice", "files", filename));

        before(async () => {
            await client.putFile("alice", "files", "slow.bin", () => Readable.from([KIB_15]), KIB_15.length);
        });

        it("uploads and downloads for five times the timeout while bytes keep coming", async () => {
            let started = Date.now();
            await idleClient().putFile("alice", "files", "uploaded-slowly.bin", slowly(15, 100), 15 * 1024);
            assert.ok(Date.now() - started >= 1400, "the upload took 15 × 100 ms");
            assert.strictEqual(routeCount("PUT /v1/connector/*"), 1, "one attempt");
            assert.ok((await download("uploaded-slowly.bin")).equals(KIB_15), "byte for byte");

            server.faults.set("GET /v1/connector/data/alice/files/slow.bin=trickle:100ms");
            started = Date.now();
            const body = await download("slow.bin", idleClient());
            assert.ok(Date.now() - started >= 1400, "the download took 15 × 100 ms");
            assert.ok(body.equals(KIB_15), "byte for byte");
            assert.strictEqual(routeCount("GET /v1/connector/*"), 2, "one attempt (and the check of the upload)");
        });

        it("does not time a download out while its reader pauses, only while a read waits", async () => {
            server.faults.set("GET /v1/connector/data/alice/files/slow.bin=trickle:100ms");
            const reader = (await idleClient().downloadFile("alice", "files", "slow.bin"))[Symbol.asyncIterator]();
            const chunks = [(await reader.next()).value!];
            await pause(3 * timeoutMs); // the consumer is busy: no read waits for the network
            for (let next = await reader.next(); !next.done; next = await reader.next()) chunks.push(next.value);
            assert.ok(Buffer.concat(chunks).equals(KIB_15));
        });

        it("fails an upload that stalls, after as many attempts as the budget allows, leaving the file as it was", async () => {
            let opened = 0;
            const stalling = () => {
                opened++;
                return Readable.from(
                    (async function* () {
                        yield Buffer.alloc(1024);
                        await pause(3 * timeoutMs);
                        yield Buffer.alloc(1024);
                    })(),
                );
            };
            await assert.rejects(
                idleClient().putFile("alice", "files", "slow.bin", stalling, 2048),
                new RegExp(`PUT /v1/connector/data/alice/files/slow\\.bin failed: ${timedOut.source}$`),
            );
            assert.strictEqual(opened, 3, "the body was sent three times");
            assert.strictEqual(routeCount("PUT /v1/connector/*"), 3);
            assert.ok((await download("slow.bin")).equals(KIB_15), "an interrupted upload leaves the file as it was");
        });

        it("fails a read of a download that stalls midway with the timeout", async () => {
            server.faults.set("GET /v1/connector/data/alice/files/slow.bin=trickle:1s");
            const started = Date.now();
            const body = await idleClient().downloadFile("alice", "files", "slow.bin");
            await assert.rejects(bytesOf(body), (err: Error) => {
                assert.strictEqual(err.name, "TimeoutError");
                assert.match(err.message, timedOut);
                return true;
            });
            assert.ok(Date.now() - started < 1000, "before the next piece came");
            // The caller holds the stream: trying again is the caller's (a refresh runs again).
            assert.strictEqual(routeCount("GET /v1/connector/*"), 1);
            server.faults.clear();
            assert.ok((await download("slow.bin", idleClient())).equals(KIB_15), "the next try gets it whole");
        });
    });

    describe("source by git", () => {
        /** A working algorithm `name` whose apply greets with `greeting`. */
        const source = (name: string, greeting: string): TreeEntry[] =>
            [
                ["algorithmia.conf", JSON.stringify({ username: "alice", algoname: name, language: "python3-1" })],
                ["requirements.txt", "algorithmia\n"],
                [`src/${name}.py`, `def apply(input):\n    return "${greeting} {}".format(input)\n`],
                ["src/__init__.py", ""],
            ].map(([path, text]) => ({ path, mode: "100644", content: Buffer.from(text) }));

        /** Creates `owner/name`; answers its template commit. */
        const create = async (owner: string, name: string) => {
            await client.createAlgorithm(owner, { name, details: { label: name }, settings: WIRE_SETTINGS });
            return (await server.repos.head(owner, name))!;
        };
        /** The commits of master, newest first, from the commit-log route. */
        const history = async (owner: string, name: string) =>
            (await call(server, "GET", `/v1/algorithms/${owner}/${name}/log`, { key: ALICE.key })).json.commits.map(
                (c: any) => c.id,
            );
        /** The pushes that moved master of `owner/name` while `work` ran. */
        const pushesDuring = async (owner: string, name: string, work: () => Promise<void>) => {
            const seen: PushEvent[] = [];
            const listener = (event: PushEvent) => event.owner === owner && event.algo === name && seen.push(event);
            server.repos.on("push", listener);
            try {
                await work();
            } finally {
                server.repos.off("push", listener);
            }
            return seen;
        };
        const builds = async (owner: string, name: string) => (await client.listBuilds(owner, name)).results;

        it("pushes an organization's algorithm as the key's own account", async () => {
            const template = await create("team", "TeamGreeter");
            const pushed = await client.pushSource("team", "TeamGreeter", source("TeamGreeter", "hi"), "m");
            assert.strictEqual(pushed.pushed, true);
            assert.deepStrictEqual(await history("team", "TeamGreeter"), [pushed.commit, template]);
            assert.deepStrictEqual(
                await client.sourceOnServer("team", "TeamGreeter").then((s) => s?.commit),
                pushed.commit,
            );
            // The server takes no other user name, so these passed as alice: one root listing told the client who that is.
            assert.strictEqual(routeCount("GET /v1/connector/*"), 1);
        });

        it("does not push again when the push's reply is lost after it landed", async () => {
            const template = await create("alice", "LostReply");
            const receivePack = "/git/alice/LostReply.git/git-receive-pack";
            let landed = 0;
            const proxy = await replyLosingProxy(server.url, "POST", receivePack, {
                cut: true,
                landed: () => landed++,
            });
            let pushed: PushResult | undefined;
            const pushes = await pushesDuring("alice", "LostReply", async () => {
                try {
                    const viaProxy = new AlgorithmiaClient({
                        apiAddress: proxy.url,
                        apiKey: ALICE.key,
                        baseDelayMs: 10,
                        maxAttempts: 4,
                    });
                    pushed = await viaProxy.pushSource("alice", "LostReply", source("LostReply", "hi"), "m");
                } finally {
                    proxy.close();
                }
            });
            assert.strictEqual(landed, 1, "the push landed and its reply was lost");
            assert.deepStrictEqual(pushed, { commit: await server.repos.head("alice", "LostReply"), pushed: true });
            assert.deepStrictEqual(
                await history("alice", "LostReply"),
                [pushed!.commit, template],
                "exactly one commit was made",
            );
            assert.strictEqual(pushes.length, 1, "master moved once");
            assert.strictEqual(
                proxy.requests["GET /git/alice/LostReply.git/info/refs?service=git-receive-pack"],
                1,
                "git push ran once",
            );
            assert.deepStrictEqual(
                (await builds("alice", "LostReply")).map((b) => b.commit_sha),
                [pushed!.commit],
                "one build",
            );
        });

        it("rides out 503s and dropped connections on every git route and a lost push reply, with one commit", async () => {
            const template = await create("alice", "Flaky");
            let landed = 0;
            const proxy = await replyLosingProxy(server.url, "POST", "/git/alice/Flaky.git/git-receive-pack", {
                cut: true,
                landed: () => landed++,
            });
            // Seeded: the same faults for the same sequence of requests. Before acting on them, the server answers
            // git's requests (fetch and push alike) with 503 or drops the connection, one time in four.
            server.faults.set("* /git/alice/Flaky.git/*=error:0.15,status:503,drop:0.1; seed=12");
            let pushed: PushResult | undefined;
            const pushes = await pushesDuring("alice", "Flaky", async () => {
                try {
                    const viaProxy = new AlgorithmiaClient({
                        apiAddress: proxy.url,
                        apiKey: ALICE.key,
                        baseDelayMs: 10,
                    });
                    pushed = await viaProxy.pushSource("alice", "Flaky", source("Flaky", "hi"), "m");
                } finally {
                    proxy.close();
                }
            });
            const { error, drop } = server.faults.counts().injected;
            assert.ok(
                error >= 1 && drop >= 1,
                `faults were injected: ${JSON.stringify(server.faults.counts().injected)}`,
            );
            assert.ok(
                proxy.requests["GET /git/alice/Flaky.git/info/refs?service=git-receive-pack"] >= 2,
                "a push failed before it landed and was sent again",
            );
            assert.strictEqual(landed, 1, "the push that landed lost its reply");
            assert.deepStrictEqual(pushed, { commit: await server.repos.head("alice", "Flaky"), pushed: true });
            assert.deepStrictEqual(
                await history("alice", "Flaky"),
                [pushed!.commit, template],
                "exactly one commit was made",
            );
            assert.strictEqual(pushes.length, 1, "master moved once");
            assert.deepStrictEqual(
                (await builds("alice", "Flaky")).map((b) => b.commit_sha),
                [pushed!.commit],
                "one build",
            );
            server.faults.clear();
            assert.deepStrictEqual(await client.pushSource("alice", "Flaky", source("Flaky", "hi"), "m"), {
                commit: pushed!.commit,
                pushed: false,
            });
        });

        it("fetches only master's own commit and tree for a push and a refresh, however long the history", async () => {
            await create("alice", "Heavy");
            // Five commits, each with its own incompressible 1 MiB file: 5 MiB of history, 1 MiB in master's tree.
            const weights = () => ({
                path: "weights.bin",
                mode: "100644" as const,
                content: crypto.randomBytes(1 << 20),
            });
            for (let i = 0; i < 5; i++)
                await client.pushSource("alice", "Heavy", [...source("Heavy", `hi ${i}`), weights()], `m${i}`);
            const proxy = await replyLosingProxy(server.url, "NONE", "");
            try {
                const viaProxy = new AlgorithmiaClient({ apiAddress: proxy.url, apiKey: ALICE.key, baseDelayMs: 10 });
                const fetched = () => proxy.replyBytes["POST /git/alice/Heavy.git/git-upload-pack"] ?? 0;
                const onServer = await viaProxy.sourceOnServer("alice", "Heavy");
                assert.strictEqual(onServer?.commit, await server.repos.head("alice", "Heavy"));
                const refreshed = fetched();
                assert.ok(refreshed > 1 << 20 && refreshed < 1.5 * (1 << 20), `a refresh fetched ${refreshed} bytes`);
                assert.strictEqual(
                    (await viaProxy.pushSource("alice", "Heavy", source("Heavy", "light"), "m5")).pushed,
                    true,
                );
                const pushed = fetched() - refreshed;
                assert.ok(pushed > 1 << 20 && pushed < 1.5 * (1 << 20), `a push fetched ${pushed} bytes`);
            } finally {
                proxy.close();
            }
            assert.strictEqual((await history("alice", "Heavy")).length, 7, "the template and six pushes");
        });

        it("tries git as often as an API call, and answers such as 403 only once", async () => {
            await create("alice", "Down");
            server.faults.set("* /git/alice/Down.git/*=error:1,status:503");
            await assert.rejects(
                client.pushSource("alice", "Down", source("Down", "hi"), "m"),
                /git fetch failed \(exit \d+\): .*returned error: 503/,
            );
            assert.strictEqual(routeCount("GET /git/:owner/:repo/*"), 4, "maxAttempts fetches");
            server.faults.clear();
            server.faults.resetCounts();
            await assert.rejects(client.pushSource("bob", "Anything", source("Anything", "hi"), "m"), (err: Error) => {
                assert.match(err.message, /git fetch failed \(exit \d+\): .*returned error: 403/);
                assert.ok(!err.message.includes(ALICE.key), err.message);
                return true;
            });
            assert.strictEqual(routeCount("GET /git/:owner/:repo/*"), 1, "not retried");
        });
    });
});
