// Algorithm error logs (server/error-logs.ts): failed calls that warm Python workers really ran, listed by
// algorithm name and UUID and for the owning user or organization, over real HTTP.
import * as assert from "assert";
import { recordFailure } from "../../server/error-logs";
import { ensurePythonRuntime } from "../../server/runtime/python-env";
import { createBody } from "../helpers/algorithms";
import { deployFixture } from "../helpers/git";
import { until } from "../helpers/processes";
import { ALICE, BOB, call, expectError, startTestServer, TestServer } from "../helpers/server";

const ENTRY_FIELDS = [
    "created_at",
    "request_id",
    "username",
    "algoname",
    "algoversion",
    "input",
    "error",
    "error_type",
    "billable_to",
    "worker",
];
const DAY_MS = 24 * 60 * 60 * 1000;

describe("algorithmia-local: algorithm error logs", function () {
    this.timeout(120_000);
    let server: TestServer;
    let sha: string;
    let teamSha: string;
    let algorithmId: string;
    const alice = (method: string, route: string, json?: unknown) =>
        call(server, method, route, { key: ALICE.key, json });
    const bob = (method: string, route: string, json?: unknown) => call(server, method, route, { key: BOB.key, json });
    const log = async (route: string, as = alice) => {
        const res = await as("GET", route);
        assert.strictEqual(res.status, 200, res.text);
        assert.ok(Array.isArray(res.json), res.text);
        return res.json as Record<string, unknown>[];
    };

    before(async function () {
        this.timeout(15 * 60_000); // the Python runtime may have to be created first
        await ensurePythonRuntime();
        server = await startTestServer();
        sha = await deployFixture(server, ALICE.key, "alice", "Runtime");
        const published = await alice("POST", "/v1/algorithms/alice/Runtime/versions", {
            settings: { algorithm_callability: "public" },
            version_info: { version_type: "minor" },
        });
        assert.strictEqual(published.status, 200, published.text);
        algorithmId = published.json.id;
        teamSha = await deployFixture(server, ALICE.key, "team", "Runtime");
    });
    after(async () => server?.dispose());

    it("keeps nothing for calls that succeed", async () => {
        assert.strictEqual(
            (await alice("POST", `/v1/algo/alice/Runtime/${sha}`, { op: "echo", value: 1 })).json.result,
            1,
        );
        assert.deepStrictEqual(await log("/v1/algorithms/alice/Runtime/errors"), []);
    });

    it("lists a failed call with the entry's fields, newest first, by name and by UUID", async () => {
        const failed = await alice("POST", `/v1/algo/alice/Runtime/${sha}`, { op: "raise", why: "logged" });
        assert.strictEqual(failed.json.error.error_type, "AlgorithmError", failed.text);
        const started = Date.now();
        const byBob = await bob("POST", "/v1/algo/alice/Runtime/0.1.0?output=raw", { op: "input_error" });
        assert.strictEqual(byBob.status, 400, byBob.text);

        const entries = await log("/v1/algorithms/alice/Runtime/errors");
        assert.strictEqual(entries.length, 2);
        for (const entry of entries) assert.deepStrictEqual(Object.keys(entry), ENTRY_FIELDS);
        const [newest, first] = entries;
        assert.deepStrictEqual(
            { ...newest, created_at: 0, request_id: "", error: "", worker: "" },
            {
                created_at: 0,
                request_id: "",
                username: "alice",
                algoname: "Runtime",
                algoversion: "0.1.0",
                input: '{"op":"input_error"}',
                error: "",
                error_type: "InputError",
                billable_to: "bob",
                worker: "",
            },
        );
        assert.ok(Math.abs((newest.created_at as number) - started) < 60_000, String(newest.created_at));
        assert.match(newest.request_id as string, /^req-[0-9a-f-]{36}$/);
        assert.match(newest.worker as string, /^w-/);
        assert.strictEqual(first.algoversion, "0.1.0", "called by the hash of the build published as 0.1.0");
        assert.strictEqual(first.billable_to, "alice");
        assert.strictEqual(first.input, '{"op":"raise","why":"logged"}');
        // Message and stack trace, the latter as Algorithmia's Scala server printed an Option.
        assert.match(
            first.error as string,
            /^error:\nsomething went wrong: logged\nstacktrace:\nSome\(Traceback[^]*ValueError: [^]*\)$/,
        );
        assert.notStrictEqual(first.request_id, newest.request_id);

        assert.deepStrictEqual(await log(`/v1/algorithms/${algorithmId}/errors`), entries);
        assert.deepStrictEqual(await log(`/v1/algorithms/${algorithmId.toUpperCase()}/errors`), entries);
    });

    it("logs the failures of asynchronous calls under their request id, and timeouts", async () => {
        const voided = await alice("POST", `/v1/algo/alice/Runtime/${sha}?output=void`, { op: "algorithm_exception" });
        const requestId = voided.json.request_id;
        await until(
            "the void call's failure in the log",
            async () => (await log("/v1/algorithms/alice/Runtime/errors")).some((e) => e.request_id === requestId),
            30_000,
            100,
        );
        const [entry] = await log("/v1/algorithms/alice/Runtime/errors");
        assert.deepStrictEqual([entry.request_id, entry.error_type], [requestId, "ParsingError"]);

        const timedOut = await alice("POST", `/v1/algo/alice/Runtime/${sha}?timeout=1`, { op: "sleep", seconds: 30 });
        assert.strictEqual(timedOut.json.error.error_type, "TimeoutError", timedOut.text);
        const [latest] = await log("/v1/algorithms/alice/Runtime/errors");
        assert.strictEqual(latest.error_type, "TimeoutError");
        assert.match(latest.error as string, /timed out after 1 second/);
    });

    it("lists a user's and an organization's algorithms' failures to that user or the organization's members", async () => {
        assert.ok((await alice("POST", `/v1/algo/team/Runtime/${teamSha}`, { op: "raise", why: "team" })).json.error);

        const mine = await log("/v1/users/alice/errors");
        assert.deepStrictEqual(mine, await log("/v1/algorithms/alice/Runtime/errors"));
        const team = await log("/v1/organizations/team/errors");
        assert.deepStrictEqual(
            team.map((e) => [e.username, e.algoname, e.algoversion]),
            [["team", "Runtime", teamSha]],
        );
        assert.deepStrictEqual(await log("/v1/users/bob/errors", bob), []);

        expectError(await bob("GET", "/v1/users/alice/errors"), 403, 2001);
        expectError(await bob("GET", "/v1/organizations/team/errors"), 403, 2001);
        expectError(await alice("GET", "/v1/users/nobody/errors"), 404, 3000);
        expectError(await alice("GET", "/v1/users/team/errors"), 404, 3000);
        expectError(await alice("GET", "/v1/organizations/alice/errors"), 404, 3100);
    });

    it("lets only the owner or the owning organization's members read an algorithm's log", async () => {
        expectError(await bob("GET", "/v1/algorithms/alice/Runtime/errors"), 403, 2001);
        expectError(await bob("GET", `/v1/algorithms/${algorithmId}/errors`), 403, 2001);
        const unknown = await alice("GET", "/v1/algorithms/alice/Nothing/errors");
        assert.deepStrictEqual([unknown.status, unknown.json], [404, { error: "No such algorithm" }]);
        expectError(await alice("GET", "/v1/algorithms/00000000-0000-4000-8000-000000000000/errors"), 404, 1009);
    });

    it("tells an algorithm named errors from the log of an algorithm UUID", async () => {
        assert.strictEqual((await alice("POST", "/v1/algorithms/alice", createBody("errors"))).status, 201);
        const algorithm = await alice("GET", "/v1/algorithms/alice/errors");
        assert.deepStrictEqual([algorithm.status, algorithm.json.name], [200, "errors"]);
        assert.deepStrictEqual(await log("/v1/algorithms/alice/errors/errors"), []);
    });

    it("shows the last 7 days only, at most 200 entries, and keeps no more", async () => {
        const failure = (n: number) => ({
            algorithmId,
            requestId: `req-bulk-${n}`,
            version: "0.1.0",
            input: `input ${n}`,
            contentType: "text" as const,
            error: { message: `failure ${n}`, stacktrace: "", error_type: "AlgorithmError" },
            caller: "alice",
        });
        for (let n = 0; n < 210; n++) recordFailure(server.store, failure(n));
        const age = server.store.db.prepare("UPDATE algorithm_errors SET created_at = ? WHERE request_id = ?");
        age.run(Date.now() - 8 * DAY_MS, "req-bulk-209");

        const entries = await log("/v1/algorithms/alice/Runtime/errors");
        assert.strictEqual(entries.length, 199, "200 kept, one of them older than 7 days");
        assert.deepStrictEqual([entries[0].request_id, entries[198].request_id], ["req-bulk-208", "req-bulk-10"]);
        assert.strictEqual(entries[0].error, "error:\nfailure 208\nstacktrace:\nNone");
        const kept = server.store.db
            .prepare("SELECT COUNT(*) AS n FROM algorithm_errors WHERE algorithm_id = ?")
            .get(algorithmId);
        assert.deepStrictEqual(kept, { n: 200 });
        recordFailure(server.store, failure(210));
        assert.ok(!(await log("/v1/algorithms/alice/Runtime/errors")).some((e) => e.request_id === "req-bulk-209"));
    });

    it("keeps the log across a restart", async () => {
        const before = await log("/v1/algorithms/alice/Runtime/errors");
        server = await server.restart();
        assert.deepStrictEqual(await log("/v1/algorithms/alice/Runtime/errors"), before);
    });
});
