// Route tests for fault injection and request counting (server/faults.ts) over real HTTP: the control endpoints
// under /_local, seeded and repeatable error rates, 429 with Retry-After, dropped connections, latency, trickled bodies, `max`,
// method and path matching, and the counters tests use to assert how many writes an operation made.
import * as assert from "assert";
import { ALICE, call, startTestServer, TestServer } from "../helpers/server";
import { parseSpec } from "../../server/faults";

describe("fault injection and request counters", function () {
    let server: TestServer;
    const alice = (method: string, route: string, opts: Parameters<typeof call>[3] = {}) =>
        call(server, method, route, { key: ALICE.key, ...opts });
    const setFaults = async (spec: string) => {
        const res = await call(server, "PUT", "/_local/faults", {
            body: spec,
            headers: { "content-type": "text/plain" },
        });
        assert.strictEqual(res.status, 200, res.text);
        return res.json;
    };
    const counters = async () => (await call(server, "GET", "/_local/counters")).json;

    before(async () => {
        server = await startTestServer();
        assert.strictEqual((await alice("POST", "/v1/data/.my", { json: { name: "faulty" } })).status, 200);
        assert.strictEqual((await alice("PUT", "/v1/data/.my/faulty/f.txt", { body: "ok" })).status, 200);
    });
    beforeEach(async () => {
        await call(server, "DELETE", "/_local/faults");
        await call(server, "DELETE", "/_local/counters");
    });
    after(async () => server?.dispose());

    describe("counters", () => {
        it("counts requests by method and route pattern, reads apart from writes", async () => {
            await alice("GET", "/v1/data/.my/faulty/f.txt");
            await alice("HEAD", "/v1/connector/data/.my/faulty/f.txt");
            await alice("PUT", "/v1/data/.my/faulty/g.txt", { body: "g" });
            await alice("PUT", "/v1/data/.my/faulty/g.txt", { body: "g2" });
            await alice("DELETE", "/v1/data/.my/faulty/g.txt");
            await alice("GET", "/v1/nothing/here");
            const counts = await counters();
            assert.deepStrictEqual(counts, {
                total: 6,
                reads: 3,
                writes: 3,
                routes: {
                    "GET /v1/data/*": 1,
                    "HEAD /v1/connector/*": 1,
                    "PUT /v1/data/*": 2,
                    "DELETE /v1/data/*": 1,
                    "GET /v1/nothing/here": 1,
                },
                injected: { error: 0, rate429: 0, drop: 0, skip: 0, fail: 0 },
            });
        });

        it("reads and resets in one step with DELETE, and does not count its own endpoints", async () => {
            await alice("GET", "/v1/data/.my");
            await counters();
            await call(server, "GET", "/_local/faults");
            const taken = (await call(server, "DELETE", "/_local/counters")).json;
            assert.deepStrictEqual([taken.total, taken.routes], [1, { "GET /v1/data/*": 1 }]);
            assert.deepStrictEqual(await counters(), {
                total: 0,
                reads: 0,
                writes: 0,
                routes: {},
                injected: { error: 0, rate429: 0, drop: 0, skip: 0, fail: 0 },
            });
        });

        it("are readable and resettable in process for tests that start the server themselves", async () => {
            await alice("GET", "/v1/data/.my");
            assert.strictEqual(server.faults.counts().total, 1);
            server.faults.resetCounts();
            assert.strictEqual(server.faults.counts().total, 0);
        });
    });

    describe("error rates", () => {
        /** The statuses of `n` GETs of the same file. */
        const statuses = async (n: number) => {
            const seen: number[] = [];
            for (let i = 0; i < n; i++) seen.push((await alice("GET", "/v1/data/.my/faulty/f.txt")).status);
            return seen;
        };

        it("injects errors at the rate given, repeatably for a seed", async () => {
            await setFaults("GET /v1/data/*=error:0.5; seed=7");
            const first = await statuses(40);
            await setFaults("GET /v1/data/*=error:0.5; seed=7"); // setting a spec reseeds
            const second = await statuses(40);
            assert.deepStrictEqual(second, first);
            const failed = first.filter((s) => s === 500).length;
            assert.ok(failed > 5 && failed < 35, `${failed} of 40 failed at rate 0.5`);
            assert.deepStrictEqual(new Set(first), new Set([200, 500]));
            await setFaults("GET /v1/data/*=error:0.5; seed=8");
            assert.notDeepStrictEqual(await statuses(40), first);
            const counts = await counters();
            assert.strictEqual(counts.routes["GET /v1/data/*"], 120, "injected faults are counted like any request");
            assert.ok(counts.injected.error >= failed);
        });

        it("answers injected errors in the API's error shape, with the status asked for", async () => {
            await setFaults("PUT /v1/data/*=error:1,status:503");
            const res = await alice("PUT", "/v1/data/.my/faulty/f.txt", { body: "overwritten?" });
            assert.strictEqual(res.status, 503);
            assert.strictEqual(res.json.error.code, 5001);
            assert.match(res.json.error.message, /Injected fault "PUT \/v1\/data\/\*=error:1,status:503"/);
            assert.match(res.headers.get("x-error-message")!, /Injected fault/);
            // The request never reached the handler; other methods are untouched.
            assert.strictEqual((await alice("GET", "/v1/data/.my/faulty/f.txt")).text, "ok");
        });

        it("answers 429 with Retry-After", async () => {
            await setFaults("* /v1/data/.my/*=rate429:1,retryAfter:7");
            const res = await alice("GET", "/v1/data/.my/faulty");
            assert.strictEqual(res.status, 429);
            assert.strictEqual(res.headers.get("retry-after"), "7");
            assert.match(res.json.error.message, /Too many requests/);
            // The glob matches the path only: another owner form of the same collection passes.
            assert.strictEqual((await alice("GET", "/v1/data/alice/faulty")).status, 200);
            assert.strictEqual((await counters()).injected.rate429, 1);
        });

        it("drops the connection without a reply", async () => {
            await setFaults("DELETE /v1/data/*=drop:1");
            await assert.rejects(alice("DELETE", "/v1/data/.my/faulty/f.txt"), /fetch failed/);
            assert.strictEqual((await counters()).injected.drop, 1);
            await call(server, "DELETE", "/_local/faults");
            assert.strictEqual(
                (await alice("GET", "/v1/data/.my/faulty/f.txt")).text,
                "ok",
                "the dropped delete did nothing",
            );
        });

        it("stops after max faults", async () => {
            await setFaults("GET /v1/data/*=error:1,max:2");
            assert.deepStrictEqual(await statuses(4), [500, 500, 200, 200]);
        });

        it("adds latency to matching requests", async () => {
            await setFaults("GET /v1/data/*=latency:300ms");
            const started = Date.now();
            assert.strictEqual((await alice("GET", "/v1/data/.my/faulty/f.txt")).status, 200);
            assert.ok(Date.now() - started >= 290, "the reply came after the injected delay");
        });

        it("trickles reply bodies in 1 KiB pieces, the first at once", async () => {
            const text = "0123456789abcdef".repeat(192); // 3 KiB
            assert.strictEqual((await alice("PUT", "/v1/data/.my/faulty/slow.txt", { body: text })).status, 200);
            await setFaults("GET /v1/data/.my/faulty/slow.txt=trickle:300ms");
            const started = Date.now();
            const res = await fetch(`${server.url}/v1/data/.my/faulty/slow.txt`, {
                headers: { authorization: `Simple ${ALICE.key}` },
            });
            assert.ok(Date.now() - started < 290, "the headers and the first piece at once");
            assert.strictEqual(await res.text(), text);
            assert.ok(Date.now() - started >= 590, "two pauses before the other two pieces");
        });

        it("applies the first matching rule", async () => {
            await setFaults("GET /v1/data/.my/faulty/f.txt=error:1,status:502; GET /v1/data/*=error:1,status:504");
            assert.strictEqual((await alice("GET", "/v1/data/.my/faulty/f.txt")).status, 502);
            assert.strictEqual((await alice("GET", "/v1/data/.my/faulty")).status, 504);
        });
    });

    describe("control endpoints and specs", () => {
        it("describes the rules and the seed, and clears them", async () => {
            const described = await setFaults("get /v1/algorithms/*=error:0.25,latency:1.5s; seed=42");
            assert.strictEqual(described.seed, 42);
            assert.strictEqual(described.rules.length, 1);
            assert.deepStrictEqual(
                {
                    method: described.rules[0].method,
                    error: described.rules[0].error,
                    latencyMs: described.rules[0].latencyMs,
                },
                { method: "GET", error: 0.25, latencyMs: 1500 },
            );
            assert.deepStrictEqual((await call(server, "GET", "/_local/faults")).json, described);
            assert.deepStrictEqual((await call(server, "DELETE", "/_local/faults")).json.rules, []);
            const json = await call(server, "PUT", "/_local/faults", {
                json: { spec: "PUT /v1/data/*=drop:0.1; seed=1" },
            });
            assert.deepStrictEqual([json.status, json.json.seed], [200, 1]);
        });

        it("refuses an invalid spec with a message naming the part and the rule", async () => {
            for (const [spec, message] of [
                ["GET /v1/data/*=error:2", /error must be a rate from 0 to 1, got "2"/],
                ["GET /v1/data/*=error:0.6,drop:0.6", /must not exceed 1/],
                ["GET /v1/data/*=explode:1", /unknown action "explode"/],
                ["GET v1/data=error:1", /PATH starting with \//],
                ["GET /v1/data/*=status:404", /status must be an integer from 500 to 599/],
                ["GET /v1/data/*=latency:soon", /latency must look like 200ms/],
                ["GET /v1/data/*=trickle:slowly", /trickle must look like 200ms/],
                ["seed=-1", /seed must be an integer/],
                ["nonsense", /expected "<METHOD> <PATH>=<action>/],
                ["BUILD /v1/algorithms/alice/X=latency:1s", /"BUILD <owner>\/<name>"/],
                ["BUILD alice/X=error:1", /unknown build action "error" \(known: latency, skip, fail, max\)/],
                ["GET /v1/data/*=skip:1", /"skip" is a BUILD action/],
                ["GET /v1/data/*=fail:1", /"fail" is a BUILD action/],
                ["BUILD alice/X=skip:0.6,fail:0.6", /skip \+ fail must not exceed 1/],
            ] as const) {
                const res = await call(server, "PUT", "/_local/faults", {
                    body: spec,
                    headers: { "content-type": "text/plain" },
                });
                assert.strictEqual(res.status, 400, spec);
                assert.match(res.json.error.message, message, spec);
            }
            assert.strictEqual((await call(server, "PUT", "/_local/faults", { json: { rules: [] } })).status, 400);
            assert.throws(() => parseSpec("POST /x=rate429:1.5"), /invalid fault spec part "POST \/x=rate429:1.5"/);
        });

        it("takes a spec at start (the CLI's --faults) and refuses a bad one", async () => {
            const faulty = await startTestServer({ faults: "GET /v1/data/*=rate429:1,retryAfter:3,max:1; seed=5" });
            try {
                const first = await call(faulty, "GET", "/v1/data/.my", { key: ALICE.key });
                assert.deepStrictEqual([first.status, first.headers.get("retry-after")], [429, "3"]);
                assert.strictEqual((await call(faulty, "GET", "/v1/data/.my", { key: ALICE.key })).status, 200);
            } finally {
                await faulty.dispose();
            }
            await assert.rejects(startTestServer({ faults: "GET /v1/data/*=drop:yes" }), /drop must be a rate/);
        });
    });
});
