// Running algorithms (server/execution.ts): algorithms pushed by git, built, then called over real HTTP and with
// the official npm `algorithmia` client, executed by warm Python workers that use the official Python client
// against this server from the inside.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { gpuDevices } from "../../server/runtime/workers";
import { ensurePythonRuntime } from "../../server/runtime/python-env";
import { createBody } from "../helpers/algorithms";
import { deployFixture } from "../helpers/git";
import { npmClient } from "../helpers/npm-client";
import { alive, waitFor } from "../helpers/processes";
import { ALICE, BOB, call, callError, callResult, CallResult, startTestServer, TestServer } from "../helpers/server";

describe("algorithmia-local: running algorithms", function () {
    this.timeout(120_000);
    let server: TestServer;
    let runtimeSha: string;
    const run = (key: string, route: string, input: unknown, query = "") =>
        call(server, "POST", `/v1/algo/${route}${query}`, { key, json: input });
    const alice = (route: string, input: unknown, query = "") => run(ALICE.key, route, input, query);
    const bob = (route: string, input: unknown, query = "") => run(BOB.key, route, input, query);
    const platformError = (res: CallResult, status: number, pattern?: RegExp) => {
        assert.strictEqual(res.status, status, res.text);
        if (pattern) assert.match(res.json.error.message, pattern);
    };

    before(async function () {
        this.timeout(15 * 60_000); // the Python runtime may have to be created first
        await ensurePythonRuntime();
        server = await startTestServer();
        runtimeSha = await deployFixture(server, ALICE.key, "alice", "Runtime", "Runtime", { pipeline_enabled: true });
        // 0.1.0 is public; 1.0.0 (same code, a new build) is private.
        const v010 = await call(server, "POST", "/v1/algorithms/alice/Runtime/versions", {
            key: ALICE.key,
            json: { settings: { algorithm_callability: "public" }, version_info: { version_type: "minor" } },
        });
        assert.strictEqual(v010.status, 200, v010.text);
        assert.strictEqual(
            (await call(server, "POST", "/v1/algorithms/alice/Runtime/compile", { key: ALICE.key, json: {} })).status,
            200,
        );
        const v100 = await call(server, "POST", "/v1/algorithms/alice/Runtime/versions", {
            key: ALICE.key,
            json: { settings: { algorithm_callability: "private" }, version_info: { version_type: "major" } },
        });
        assert.strictEqual(v100.json.version_info.semantic_version, "1.0.0", v100.text);
    });
    after(async () => server?.dispose());

    describe("input and output", () => {
        it("takes text, JSON and binary input and answers {result, metadata: {content_type, duration}} (npm client)", async () => {
            const client = npmClient(ALICE.key, server.url);
            const text = await client.pipe(`alice/Runtime/${runtimeSha}`, "there");
            assert.strictEqual(text.get(), "hello there");
            assert.strictEqual(text.metadata!.content_type, "text");
            assert.strictEqual(typeof text.metadata!.duration, "number");
            const json = await client.pipe(`alice/Runtime/${runtimeSha}`, {
                op: "echo",
                value: { a: [1, 2.5, null], b: "ü" },
            });
            assert.deepStrictEqual(json.get(), { a: [1, 2.5, null], b: "ü" });
            assert.strictEqual(json.metadata!.content_type, "json");
            const binary = await client.pipe(`alice/Runtime/${runtimeSha}`, Buffer.from([1, 2, 3, 255]));
            assert.strictEqual(binary.metadata!.content_type, "binary");
            assert.deepStrictEqual([...binary.get()], [255, 3, 2, 1]);

            const raw = await alice(`alice/Runtime/${runtimeSha}`, { op: "echo", value: 1 });
            assert.deepStrictEqual(Object.keys(raw.json).sort(), ["metadata", "result"]);
            assert.deepStrictEqual(Object.keys(raw.json.metadata).sort(), ["content_type", "duration"]);
            // JSON passes through Python's own parser and serialiser: big integers keep every digit.
            const big = await call(server, "POST", `/v1/algo/alice/Runtime/${runtimeSha}`, {
                key: ALICE.key,
                body: '{"op": "echo", "value": 123456789012345678901234567890}',
                headers: { "content-type": "application/json" },
            });
            assert.ok(big.text.includes('"result":123456789012345678901234567890'), big.text);
        });

        it("answers output=raw with the bare result and output=void at once, running the call anyway", async () => {
            const route = `/v1/algo/alice/Runtime/${runtimeSha}`;
            const text = await call(server, "POST", `${route}?output=raw`, {
                key: ALICE.key,
                body: "raw",
                headers: { "content-type": "text/plain" },
            });
            assert.strictEqual(text.text, "hello raw");
            assert.match(text.headers.get("content-type")!, /^text\/plain/);
            const json = await call(server, "POST", `${route}?output=raw`, {
                key: ALICE.key,
                json: { op: "echo", value: [1, "x"] },
            });
            assert.deepStrictEqual(JSON.parse(json.text), [1, "x"]);
            const bytes = await fetch(`${server.url}${route}?output=raw`, {
                method: "POST",
                headers: { authorization: `Simple ${ALICE.key}`, "content-type": "application/octet-stream" },
                body: Buffer.from([9, 8]),
            });
            assert.deepStrictEqual([...Buffer.from(await bytes.arrayBuffer())], [8, 9]);
            const failed = await call(server, "POST", `${route}?output=raw`, {
                key: ALICE.key,
                json: { op: "raise", why: "raw" },
            });
            assert.strictEqual(failed.status, 400, failed.text);
            assert.match(failed.json.error.message, /something went wrong: raw/);

            const before = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" })).calls;
            const voided = await alice(`alice/Runtime/${runtimeSha}`, { op: "echo", value: 1 }, "?output=void");
            assert.strictEqual(voided.json.async, "void");
            assert.match(voided.json.request_id, /^req-/);
            assert.strictEqual(
                callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" })).calls,
                before + 2,
            );
        });

        it("refuses bad parameters and input with 4xx naming the rule", async () => {
            const route = `alice/Runtime/${runtimeSha}`;
            platformError(await alice(route, "x", "?timeout=3001"), 400, /timeout .* at most 3000/);
            platformError(await alice(route, "x", "?timeout=soon"), 400, /timeout/);
            platformError(await alice(route, "x", "?output=xml"), 400, /output must be raw or void/);
            platformError(await alice(route, "x", "?stdout=maybe"), 400, /stdout/);
            const malformed = await call(server, "POST", `/v1/algo/${route}`, {
                key: ALICE.key,
                body: "{nope",
                headers: { "content-type": "application/json" },
            });
            platformError(malformed, 400, /Malformed JSON/);
            const xml = await call(server, "POST", `/v1/algo/${route}`, {
                key: ALICE.key,
                body: "<a/>",
                headers: { "content-type": "application/xml" },
            });
            platformError(xml, 415, /Content-Type/);
            platformError(await call(server, "POST", `/v1/algo/${route}`, { json: "x" }), 401);
        });
    });

    describe("workers", () => {
        it("imports the module once per version and serves every call through apply", async () => {
            const first = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" }));
            for (let i = 1; i <= 3; i++) {
                const state = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" }));
                assert.strictEqual(state.pid, first.pid);
                assert.strictEqual(state.loaded_at, first.loaded_at);
                assert.strictEqual(state.calls, first.calls + i);
            }
        });

        it("shows stdout to the owner when asked, never to others", async () => {
            const shown = await alice(`alice/Runtime/${runtimeSha}`, { op: "print", tag: "t1" }, "?stdout=true");
            assert.strictEqual(shown.json.result, "printed");
            for (const line of ["stdout line for t1", "stderr line for t1", "subprocess line for t1"]) {
                assert.ok(shown.json.metadata.stdout.includes(line), shown.text);
            }
            assert.strictEqual(
                (await alice(`alice/Runtime/${runtimeSha}`, { op: "print", tag: "t2" })).json.metadata.stdout,
                undefined,
            );
            const others = await bob("alice/Runtime/0.1.0", { op: "print", tag: "t3" }, "?stdout=True");
            assert.strictEqual(others.json.result, "printed");
            assert.strictEqual(others.json.metadata.stdout, undefined);
        });

        it("answers algorithm errors with HTTP 200 {error: {message, stacktrace, error_type}}; the trace only for those who see the source", async () => {
            const raised = callError(
                await alice(`alice/Runtime/${runtimeSha}`, { op: "raise", why: "because" }),
                "AlgorithmError",
            );
            assert.strictEqual(raised.message, "something went wrong: because");
            assert.match(raised.stacktrace, /ValueError: something went wrong: because/);
            assert.strictEqual(raised.stack_trace, raised.stacktrace);
            callError(await alice(`alice/Runtime/${runtimeSha}`, { op: "input_error" }), "InputError");
            callError(await alice(`alice/Runtime/${runtimeSha}`, { op: "algorithm_exception" }), "ParsingError");
            const hidden = callError(await bob("alice/Runtime/0.1.0", { op: "raise", why: "bob" }), "AlgorithmError");
            assert.strictEqual(hidden.stacktrace, "", "closed source: no stack trace for others");
            const npm = await npmClient(BOB.key, server.url).pipe("alice/Runtime/0.1.0", { op: "raise", why: "npm" });
            assert.throws(() => npm.get(), /something went wrong: npm/);
        });

        it("kills a worker that runs out of time; the next call starts a fresh one", async () => {
            const before = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" }));
            const error = callError(
                await alice(`alice/Runtime/${runtimeSha}`, { op: "sleep", seconds: 60 }, "?timeout=1"),
                "TimeoutError",
            );
            assert.match(error.message, /timed out after 1 seconds/);
            assert.ok(await waitFor(() => !alive(before.pid), 10_000), "the timed-out worker is gone");
            const after = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" }));
            assert.notStrictEqual(after.pid, before.pid);
            assert.strictEqual(after.calls, 1);
        });

        it("restarts a crashed worker", async () => {
            const before = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" }));
            const error = callError(await alice(`alice/Runtime/${runtimeSha}`, { op: "exit" }), "AlgorithmError");
            assert.match(error.message, /exited with code 3/);
            const after = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" }));
            assert.notStrictEqual(after.pid, before.pid);
            assert.strictEqual(after.calls, 1);
        });

        it("runs a version's calls in parallel up to its workers, and answers 429 with Retry-After once its queue is full", async () => {
            const pooled = await startTestServer({ workers: { maxWorkersPerKey: 2, maxQueuePerKey: 0 } });
            try {
                const sha = await deployFixture(pooled, ALICE.key, "alice", "Runtime", "Runtime");
                const runtime = (input: unknown) =>
                    call(pooled, "POST", `/v1/algo/alice/Runtime/${sha}`, { key: ALICE.key, json: input });
                const running = [runtime({ op: "sleep", seconds: 3 }), runtime({ op: "sleep", seconds: 3 })];
                await new Promise((resolve) => setTimeout(resolve, 1000));
                // Both workers are busy and no call may wait.
                const refused = await runtime({ op: "state" });
                platformError(
                    refused,
                    429,
                    /Too many requests: 0 calls are already waiting for this version's 2 worker\(s\)/,
                );
                assert.ok(
                    Number(refused.headers.get("retry-after")) >= 1,
                    `Retry-After: ${refused.headers.get("retry-after")}`,
                );
                const errors = await call(pooled, "GET", "/v1/algorithms/alice/Runtime/errors", { key: ALICE.key });
                assert.deepStrictEqual(
                    [errors.status, errors.json],
                    [200, []],
                    "a refused call never ran: no execution error",
                );
                for (const res of await Promise.all(running)) assert.strictEqual(callResult(res), "slept");
                const states = await Promise.all([runtime({ op: "state" }), runtime({ op: "state" })]);
                assert.strictEqual(
                    new Set(states.map((res) => callResult(res).pid)).size,
                    2,
                    "two workers, side by side",
                );
            } finally {
                await pooled.dispose();
            }
        });

        it("stops the workers when the server closes", async () => {
            const pid = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "state" })).pid;
            server = await server.restart();
            assert.ok(await waitFor(() => !alive(pid), 10_000), "the worker is gone after close");
            assert.strictEqual(callResult(await alice(`alice/Runtime/${runtimeSha}`, "again")), "hello again");
        });
    });

    describe("versions and permissions", () => {
        it("resolves exact, partial, latest, latestPrivate and hash versions (also by algorithm id, with a trailing slash)", async () => {
            assert.strictEqual(callResult(await bob("alice/Runtime", "a")), "hello a");
            for (const version of ["0.1.0", "0.1", "0.1.*", "0", "0.*", "latest"])
                assert.strictEqual(callResult(await bob(`alice/Runtime/${version}`, "b")), "hello b");
            for (const version of ["1.0.0", "latestPrivate", runtimeSha])
                assert.strictEqual(callResult(await alice(`alice/Runtime/${version}`, "c")), "hello c");
            const id = (await call(server, "GET", "/v1/algorithms/alice/Runtime", { key: ALICE.key })).json.id;
            assert.strictEqual(callResult(await bob(`${id}/0.1.0/`, "d")), "hello d");
            assert.strictEqual(callResult(await bob(`${id}`, "e")), "hello e");
            assert.strictEqual(
                callResult(
                    await call(server, "POST", "/v1/web/algo/alice/Runtime/0.1.0/", { key: BOB.key, json: "f" }),
                ),
                "hello f",
            );
        });

        it("keeps hash and private versions to the owner, and answers unknown algorithms and versions with 404", async () => {
            platformError(await bob(`alice/Runtime/${runtimeSha}`, "x"), 403, /owner/);
            platformError(await bob("alice/Runtime/1.0.0", "x"), 403, /private version 1\.0\.0/);
            platformError(await bob("alice/Runtime/latestPrivate", "x"), 403);
            platformError(await bob("alice/Runtime/1", "x"), 404, /public/);
            platformError(await alice("alice/Runtime/9.9.9", "x"), 404, /9\.9\.9/);
            platformError(await alice(`alice/Runtime/${"0".repeat(40)}`, "x"), 404);
            platformError(await alice("alice/Runtime/banana", "x"), 400, /Invalid version/);
            platformError(await alice("alice/Nope", "x"), 404, /algo:\/\/alice\/Nope not found/);
            // An algorithm with no public version cannot be called without one.
            assert.strictEqual(
                (
                    await call(server, "POST", "/v1/algorithms/alice", {
                        key: ALICE.key,
                        json: createBody("Unpublished"),
                    })
                ).status,
                201,
            );
            platformError(await alice("alice/Unpublished", "x"), 404, /no public published version/);
        });

        it("lets members of the owning organization call its hash versions, and shows open source's traces to all", async () => {
            const sha = await deployFixture(server, ALICE.key, "team", "Runtime", "Runtime", {
                source_visibility: "open",
                license: "mit",
            });
            assert.strictEqual(callResult(await alice(`team/Runtime/${sha}`, "team")), "hello team");
            platformError(await bob(`team/Runtime/${sha}`, "team"), 403, /owner/);
            const published = await call(server, "POST", "/v1/algorithms/team/Runtime/versions", {
                key: ALICE.key,
                json: { settings: { algorithm_callability: "public" }, version_info: { version_type: "minor" } },
            });
            assert.strictEqual(published.status, 200, published.text);
            const failed = callError(await bob("team/Runtime/0.1.0", { op: "raise", why: "open" }), "AlgorithmError");
            assert.match(failed.stacktrace, /ValueError: something went wrong: open/);
        });

        it("accepts the GPU environment and says in the metadata when it ran on CPU", async () => {
            const created = await call(server, "POST", "/v1/algorithms/alice", {
                key: ALICE.key,
                json: createBody("OnGpu", { environment: "gpu" }),
            });
            assert.strictEqual(created.json.settings.environment, "gpu");
            const sha = (await call(server, "POST", "/v1/algorithms/alice/OnGpu/compile", { key: ALICE.key, json: {} }))
                .json.version_info.git_hash;
            const res = await alice(`alice/OnGpu/${sha}`, "gpu");
            assert.strictEqual(callResult(res), "hello gpu");
            if (gpuDevices().length) assert.deepStrictEqual(res.json.metadata.gpus, gpuDevices());
            else assert.match(res.json.metadata.alerts[0], /no GPU: it ran on CPU/);
            const cpu = (await alice(`alice/Runtime/${runtimeSha}`, "cpu")).json.metadata;
            assert.strictEqual(cpu.alerts, undefined);
            assert.strictEqual(cpu.gpus, undefined);
        });

        it("names in the metadata the GPUs a GPU algorithm's workers were given", async () => {
            const gpus = [{ index: 0, name: "NVIDIA H200", uuid: "GPU-5d1c7d2e-8f4b-4f0e-9c43-2a0f1e6b7c11" }];
            const onGpus = await startTestServer({ workers: { gpus } });
            try {
                await call(onGpus, "POST", "/v1/algorithms/alice", {
                    key: ALICE.key,
                    json: createBody("OnGpu", { environment: "gpu" }),
                });
                const sha = (
                    await call(onGpus, "POST", "/v1/algorithms/alice/OnGpu/compile", { key: ALICE.key, json: {} })
                ).json.version_info.git_hash;
                const res = await call(onGpus, "POST", `/v1/algo/alice/OnGpu/${sha}`, { key: ALICE.key, json: "gpu" });
                assert.strictEqual(callResult(res), "hello gpu");
                assert.deepStrictEqual(res.json.metadata.gpus, gpus);
                assert.strictEqual(res.json.metadata.alerts, undefined);
            } finally {
                await onGpus.dispose();
            }
        });
    });

    describe("inside an algorithm", () => {
        before(async () => {
            const dirs: [string, string, unknown][] = [
                ["alice", "shared", undefined],
                ["alice", "closed", { read: [] }],
                ["bob", "mine", undefined],
            ];
            for (const [owner, name, acl] of dirs) {
                const key = owner === "alice" ? ALICE.key : BOB.key;
                assert.strictEqual(
                    (await call(server, "POST", `/v1/data/${owner}`, { key, json: { name, acl } })).status,
                    200,
                );
                const put = await call(server, "PUT", `/v1/data/${owner}/${name}/note.txt`, {
                    key,
                    body: `${owner}'s ${name} note`,
                });
                assert.strictEqual(put.status, 200, put.text);
            }
        });

        it("gives Algorithmia.client() this server and a session key valid only during the call", async () => {
            const inside = callResult(await alice(`alice/Runtime/${runtimeSha}`, { op: "client" }));
            // Runtime has network_access "isolated" (createBody's default): its client reaches this server through the
            // relay inside its network namespace (test/server/isolation.test.ts; a "full" algorithm gets server.url).
            assert.match(inside.api, /^http:\/\/127\.0\.0\.1:\d+$/);
            assert.match(inside.key, /^sim/);
            assert.notStrictEqual(inside.key, ALICE.key);
            // Between calls the worker's key acts for nobody.
            platformError(
                await call(server, "GET", "/v1/data/alice/shared", { key: inside.key }),
                401,
                /running algorithm/,
            );
        });

        it("reads the owner's algo://.my/* collections for any caller, the caller's own data, never another's private data", async () => {
            const read = (who: (r: string, i: unknown) => Promise<CallResult>, version: string, uri: string) =>
                who(`alice/Runtime/${version}`, { op: "read_file", path: uri });
            assert.strictEqual(
                callResult(await read(alice, runtimeSha, "data://alice/shared/note.txt")),
                "alice's shared note",
            );
            assert.strictEqual(
                callResult(await read(bob, "0.1.0", "data://alice/shared/note.txt")),
                "alice's shared note",
            );
            assert.strictEqual(
                callResult(await read(alice, runtimeSha, "data://alice/closed/note.txt")),
                "alice's closed note",
            );
            const denied = callError(await read(bob, "0.1.0", "data://alice/closed/note.txt"), "AlgorithmError");
            assert.match(denied.message, /not authorized|403/i);
            assert.strictEqual(callResult(await read(bob, "0.1.0", "data://.my/mine/note.txt")), "bob's mine note");
        });

        it("calls other algorithms only when the running version has pipeline_enabled", async () => {
            assert.strictEqual(
                (await call(server, "POST", "/v1/algorithms/alice", { key: ALICE.key, json: createBody("Hello") }))
                    .status,
                201,
            );
            const hello = (
                await call(server, "POST", "/v1/algorithms/alice/Hello/compile", { key: ALICE.key, json: {} })
            ).json.version_info.git_hash;
            const nested = await alice(`alice/Runtime/${runtimeSha}`, {
                op: "pipe",
                algo: `alice/Hello/${hello}`,
                input: "nested",
            });
            assert.strictEqual(callResult(nested), "hello nested");
            // A call back into a version already running up the chain would wait for itself: refused at once.
            const loop = callError(
                await alice(`alice/Runtime/${runtimeSha}`, {
                    op: "pipe",
                    algo: `alice/Runtime/${runtimeSha}`,
                    input: "x",
                }),
                "AlgorithmError",
            );
            assert.match(loop.message, /508/);
            // The same code built with pipeline_enabled false: the hash now names that build.
            assert.strictEqual(
                (
                    await call(server, "PUT", "/v1/algorithms/alice/Runtime", {
                        key: ALICE.key,
                        json: { settings: { pipeline_enabled: false } },
                    })
                ).status,
                200,
            );
            assert.strictEqual(
                (await call(server, "POST", "/v1/algorithms/alice/Runtime/compile", { key: ALICE.key, json: {} }))
                    .status,
                200,
            );
            const refused = callError(
                await alice(`alice/Runtime/${runtimeSha}`, {
                    op: "pipe",
                    algo: `alice/Hello/${hello}`,
                    input: "nested",
                }),
                "AlgorithmError",
            );
            // The official Python client reports platform refusals (non-2xx) by status only.
            assert.match(refused.message, /403/);
        });
    });

    describe("a model loaded from a data collection", () => {
        let modelFile: string;

        before(async () => {
            const { python } = await ensurePythonRuntime();
            modelFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "model-")), "digits.joblib");
            execFileSync(python, [
                "-c",
                [
                    "import sys, joblib",
                    "from sklearn.datasets import load_digits",
                    "from sklearn.svm import SVC",
                    "d = load_digits()",
                    "joblib.dump(SVC(gamma=0.001).fit(d.data[:1000], d.target[:1000]), sys.argv[1])",
                ].join("\n"),
                modelFile,
            ]);
        });
        after(() => fs.rmSync(path.dirname(modelFile), { recursive: true, force: true }));

        it("downloads and loads the model once per worker, then answers many calls from it (npm client)", async () => {
            const alices = npmClient(ALICE.key, server.url);
            assert.strictEqual((await alices.createDir("data://alice/models")).status, 200);
            assert.strictEqual(
                (await alices.putFile("data://alice/models/digits.joblib", fs.readFileSync(modelFile))).status,
                200,
            );
            const sha = await deployFixture(server, ALICE.key, "alice", "ModelLoader");
            const id = (await call(server, "GET", "/v1/algorithms/alice/ModelLoader", { key: ALICE.key })).json.id;
            const secret = await call(server, "POST", `/v1/algorithms/${id}/secrets`, {
                key: ALICE.key,
                json: {
                    short_name: "model",
                    description: " ",
                    secret_key: "MODEL_URI",
                    secret_value: "data://alice/models/digits.joblib",
                },
            });
            assert.strictEqual(secret.status, 200, secret.text);
            const published = await call(server, "POST", "/v1/algorithms/alice/ModelLoader/versions", {
                key: ALICE.key,
                json: {
                    settings: { algorithm_callability: "public" },
                    version_info: { version_type: "minor", git_hash: sha },
                },
            });
            assert.strictEqual(published.status, 200, published.text);

            // Bob calls Alice's public version: the algorithm reads her collection through its ACL algo://.my/*.
            const bobs = npmClient(BOB.key, server.url);
            const first = (await bobs.pipe("alice/ModelLoader/0.1.0", { sample: 1000 })).get();
            const dataReads = () =>
                Object.entries(server.faults.counts().routes)
                    .filter(([route]) => /^(GET|HEAD) \/v1\/(data|connector)/.test(route))
                    .reduce((sum, [, n]) => sum + n, 0);
            const readsAfterLoad = dataReads();
            let correct = 0;
            for (let sample = 1001; sample < 1041; sample++) {
                const answer = (await bobs.pipe("alice/ModelLoader/0.1.0", { sample })).get();
                assert.strictEqual(answer.pid, first.pid, "one warm worker");
                assert.strictEqual(answer.loaded_at, first.loaded_at, "the module was imported once");
                if (answer.digit === answer.expected) correct++;
            }
            assert.ok(correct >= 36, `the model predicts held-out digits (${correct}/40 right)`);
            assert.strictEqual(dataReads(), readsAfterLoad, "no further downloads of the model");
        });
    });
});
