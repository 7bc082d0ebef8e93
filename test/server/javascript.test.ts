// JavaScript algorithms on algorithmia-local (server/runtime/node-build.ts, node-env.ts, node-worker.js): pushed by
// git, built with their package.json dependencies installed by npm, called over real HTTP, and run by warm Node
// workers that use the official npm client against this server from the inside. The first run installs the
// fixtures' dependencies from the npm registry (seconds); later runs reuse the cached environments.
import * as assert from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { cacheRoot } from "../../server/runtime/env-cache";
import { networkIsolation } from "../../server/runtime/workers";
import { createBody } from "../helpers/algorithms";
import { clone, commit, deployFixture, fixtureFiles, gitOk, waitForBuild } from "../helpers/git";
import { npmClient } from "../helpers/npm-client";
import { alive, waitFor } from "../helpers/processes";
import { ALICE, call, callError, callResult, startTestServer, TestServer } from "../helpers/server";

const JS = { language: "javascript" };

describe("algorithmia-local: JavaScript algorithms", function () {
    this.timeout(120_000);
    let server: TestServer;
    let sha: string;
    const run = (input: unknown, query = "") =>
        call(server, "POST", `/v1/algo/alice/JsRuntime/${sha}${query}`, { key: ALICE.key, json: input });

    /** Creates alice/<name> (JavaScript unless `settings` say otherwise) and compiles its template; answers the build with its logs. */
    const compileTemplate = async (name: string, settings: Record<string, unknown> = JS) => {
        const created = await call(server, "POST", "/v1/algorithms/alice", {
            key: ALICE.key,
            json: createBody(name, settings),
        });
        assert.strictEqual(created.status, 201, created.text);
        const compiled = await call(server, "POST", `/v1/algorithms/alice/${name}/compile`, {
            key: ALICE.key,
            json: {},
        });
        assert.strictEqual(compiled.status, 200, compiled.text);
        const builds = await call(server, "GET", `/v1/algorithms/alice/${name}/builds`, { key: ALICE.key });
        const [build] = builds.json.results;
        const logs = await call(server, "GET", `/v1/algorithms/alice/${name}/builds/${build.build_id}/logs`, {
            key: ALICE.key,
        });
        return { ...build, logs: logs.json.logs as string };
    };

    /** Creates alice/<name> in JavaScript, pushes `files` over its template and answers the build with its logs. */
    const push = async (name: string, files: Record<string, string | null>) => {
        const created = await call(server, "POST", "/v1/algorithms/alice", {
            key: ALICE.key,
            json: createBody(name, JS),
        });
        assert.strictEqual(created.status, 201, created.text);
        const work = await clone(server, "alice", name, ALICE.key);
        try {
            const pushed = await commit(work, files);
            await gitOk(work, "push", "--quiet", "origin", "master");
            return await waitForBuild(server, "alice", name, pushed, ALICE.key, 110_000);
        } finally {
            fs.rmSync(path.dirname(work), { recursive: true, force: true });
        }
    };

    before(async function () {
        this.timeout(5 * 60_000); // the first run installs the fixture's dependencies
        server = await startTestServer();
        // A package above the algorithm's tree (trees live in the data directory), which it must not see.
        fs.mkdirSync(path.join(server.dataDir, "node_modules", "leaky"), { recursive: true });
        fs.writeFileSync(path.join(server.dataDir, "node_modules", "leaky", "index.js"), "module.exports = 1;\n");
        sha = await deployFixture(server, ALICE.key, "alice", "JsRuntime", "JsRuntime", JS);
    });
    after(async () => server?.dispose());

    describe("builds", () => {
        it("build the template, whose apply(input, cb) says hello", async () => {
            const build = await compileTemplate("JsHello");
            assert.strictEqual(build.status, "succeeded", build.logs);
            for (const step of [
                "Checking algorithmia.conf",
                "Checking package.json",
                "  (no dependencies)",
                "Compiling src/JsHello.js",
                "Checking entry point src/JsHello.js",
                "Build succeeded",
            ]) {
                assert.ok(build.logs.split("\n").includes(step), `missing step ${step}:\n${build.logs}`);
            }
            const hello = await call(server, "POST", `/v1/algo/alice/JsHello/${build.commit_sha}`, {
                key: ALICE.key,
                body: "world",
                headers: { "content-type": "text/plain" },
            });
            assert.deepStrictEqual(callResult(hello), "hello world");
            assert.strictEqual(hello.json.metadata.content_type, "text");
        });

        it("install package.json's dependencies with npm into a cached environment, beside the Algorithmia client", async () => {
            const builds = await call(server, "GET", "/v1/algorithms/alice/JsRuntime/builds", { key: ALICE.key });
            const logs = (
                await call(
                    server,
                    "GET",
                    `/v1/algorithms/alice/JsRuntime/builds/${builds.json.results[0].build_id}/logs`,
                    { key: ALICE.key },
                )
            ).json.logs as string;
            assert.match(logs, /\n {2}dependency ms@2\.1\.3\n/);
            const id =
                /(?:Installing the dependencies into a new environment of this algorithm \(|Using the environment )([0-9a-f]{16})/.exec(
                    logs,
                )?.[1];
            assert.ok(id, logs);
            const modules = path.join(cacheRoot(), "node-envs", id, "node_modules");
            assert.strictEqual(
                JSON.parse(fs.readFileSync(path.join(modules, "ms", "package.json"), "utf8")).version,
                "2.1.3",
            );
            const client = JSON.parse(fs.readFileSync(path.join(modules, "algorithmia", "package.json"), "utf8"));
            assert.strictEqual(
                client.version,
                require("algorithmia/package.json").version,
                "the client the server ships with",
            );
            assert.ok(!fs.existsSync(path.join(modules, "mocha")), "devDependencies are not installed");
            assert.strictEqual(callResult(await run({ op: "ms", value: "2 days" })), 172_800_000);
        });

        it("fail on a dependency npm cannot install, with npm's message", async () => {
            const build = await push("JsBadDependency", fixtureFiles("JsBadDependency"));
            assert.strictEqual(build.status, "failed", build.logs);
            assert.match(build.logs, /npm install --omit=dev/);
            assert.match(
                build.logs,
                /\nBuild failed: installing the dependencies failed: npm error notarget No matching version found for ms@999\.0\.0\.\n/,
            );
        });

        it("check the tree without running it: algorithmia.conf, CommonJS syntax with file:line, no ES module packages", async () => {
            const marker = path.join(server.dataDir, "ran");
            const build = await push("JsBroken", {
                "algorithmia.conf": null,
                "package.json": JSON.stringify({ name: "jsbroken", type: "module" }),
                "src/JsBroken.js":
                    `require("fs").writeFileSync(${JSON.stringify(marker)}, "x");\nexports.apply = function(input, cb) {\n` +
                    '    cb(null, "hello " + input;\n};\n',
                "src/esm.js": 'import fs from "fs";\n',
            });
            assert.strictEqual(build.status, "failed", build.logs);
            assert.match(build.logs, /ERROR: algorithmia\.conf not found\n/);
            assert.match(build.logs, /ERROR: package\.json: "type": "module" is not supported/);
            assert.match(
                build.logs,
                /ERROR: src\/JsBroken\.js:3: SyntaxError: missing \) after argument list\n +cb\(null, "hello " \+ in/,
            );
            assert.match(
                build.logs,
                /ERROR: src\/esm\.js:1: SyntaxError: Cannot use import statement outside a module\n/,
            );
            assert.match(build.logs, /\nBuild failed: algorithmia\.conf not found \(and 3 more problems\)\n/);
            assert.doesNotMatch(build.logs, /npm install/, "nothing is installed for a tree that fails its checks");
            assert.ok(!fs.existsSync(marker), "the build ran the algorithm's code");
        });

        it("warn about a require() that nothing installed answers; the call then fails to load the module", async () => {
            const build = await push("JsUnlisted", {
                "package.json": null,
                "src/JsUnlisted.js":
                    'const pad = require("left-pad");\n\nexports.apply = (input, cb) => cb(null, pad(input, 5));\n',
            });
            assert.strictEqual(build.status, "succeeded", build.logs);
            assert.match(build.logs, /\nNo package\.json \(only the Algorithmia client is installed\)\n/);
            assert.match(
                build.logs,
                /\nwarning: src\/JsUnlisted\.js:1 requires left-pad, which is neither in the repository nor in/,
            );
            const called = await call(server, "POST", `/v1/algo/alice/JsUnlisted/${build.commit_sha}`, {
                key: ALICE.key,
                json: "x",
            });
            const failed = callError(called, "InitializationError");
            assert.match(failed.message, /^Error: Cannot find module 'left-pad'/);
        });

        it("of Ruby and Java algorithms fail, saying algorithmia-local cannot run them", async () => {
            for (const [name, language] of [
                ["RubyAlgo", "ruby"],
                ["JavaAlgo", "java"],
            ]) {
                const build = await compileTemplate(name, { language });
                assert.strictEqual(build.status, "failed", build.logs);
                const refused = `Build failed: algorithmia-local cannot run ${language} algorithms (it runs Python and JavaScript ones)`;
                assert.ok(build.logs.includes(refused), build.logs);
            }
        });
    });

    describe("calls", () => {
        it("take text, JSON and binary input and answer by the result's type (npm client)", async () => {
            const client = npmClient(ALICE.key, server.url);
            const text = await client.pipe(`alice/JsRuntime/${sha}`, "there");
            assert.strictEqual(text.get(), "HELLO THERE");
            assert.strictEqual(text.metadata!.content_type, "text");
            const json = await client.pipe(`alice/JsRuntime/${sha}`, {
                op: "echo",
                value: { a: [1, 2.5, null], b: "ü" },
            });
            assert.deepStrictEqual(json.get(), { a: [1, 2.5, null], b: "ü" });
            assert.strictEqual(json.metadata!.content_type, "json");
            assert.deepStrictEqual(callResult(await run(42)), { type: "number", value: 42 });
            assert.strictEqual(callResult(await run({ op: "echo" })), null, "undefined answers null");
            const binary = await call(server, "POST", `/v1/algo/alice/JsRuntime/${sha}`, {
                key: ALICE.key,
                body: Buffer.from([1, 2, 3, 255]),
                headers: { "content-type": "application/octet-stream" },
            });
            assert.strictEqual(binary.json.metadata.content_type, "binary");
            assert.deepStrictEqual([...Buffer.from(callResult(binary), "base64")], [255, 3, 2, 1]);
        });

        it("load the module once per worker, in the tree, and keep its state across calls", async () => {
            const first = callResult(await run({ op: "state" }));
            assert.ok(first.cwd.endsWith(sha), first.cwd);
            for (let i = 1; i <= 3; i++) {
                const state = callResult(await run({ op: "state" }));
                assert.strictEqual(state.pid, first.pid);
                assert.strictEqual(state.loadedAt, first.loadedAt);
                assert.strictEqual(state.calls, first.calls + i);
            }
        });

        it("answer the first cb of a call, also when it comes later", async () => {
            assert.strictEqual(callResult(await run({ op: "later", value: "x" })), "later x");
            assert.strictEqual(callResult(await run({ op: "twice" })), "first");
            assert.strictEqual(callResult(await run({ op: "echo", value: 1 })), 1);
        });

        it("answer errors as AlgorithmError with their stack, whatever error_type they carry", async () => {
            const thrown = callError(await run({ op: "throw", why: "because" }), "AlgorithmError");
            assert.strictEqual(thrown.message, "Error: something went wrong: because");
            // Only the algorithm's own frames: none of the worker's or Node's.
            assert.match(
                thrown.stacktrace,
                /^Error: something went wrong: because\n +at exports\.apply \(\S+\/JsRuntime\.js:\d+:\d+\)$/,
            );
            const passed = callError(await run({ op: "cb_error" }), "AlgorithmError");
            assert.strictEqual(passed.message, "Please provide a number");
            assert.strictEqual(passed.stacktrace, "");
            assert.strictEqual(
                callError(await run({ op: "typed_error" }), "AlgorithmError").message,
                "Error: bad input",
            );
            const unencodable = callError(await run({ op: "circular" }), "AlgorithmError");
            assert.match(
                unencodable.message,
                /^Error: Cannot json encode result of type: object \(Converting circular structure to JSON/,
            );
        });

        it("show console output as stdout to the owner when asked", async () => {
            const shown = await run({ op: "print", tag: "t1" }, "?stdout=true");
            assert.strictEqual(shown.json.result, "printed");
            assert.match(shown.json.metadata.stdout, /stdout line for t1\nstderr line for t1\n/);
            assert.strictEqual((await run({ op: "print", tag: "t2" })).json.metadata.stdout, undefined);
        });

        it("ignore a value apply returns: without cb the call runs into its timeout", async () => {
            const before = callResult(await run({ op: "state" }));
            const timedOut = callError(await run({ op: "returns" }, "?timeout=1"), "TimeoutError");
            assert.match(timedOut.message, /timed out after 1 seconds/);
            assert.ok(await waitFor(() => !alive(before.pid), 10_000), "the timed-out worker is gone");
        });

        it("end the worker on an exception thrown outside the call; the next call starts a fresh one", async () => {
            const before = callResult(await run({ op: "state" }));
            const crashed = callError(await run({ op: "crash", why: "y" }), "AlgorithmError");
            assert.match(crashed.message, /exited with code 1 while handling the request/);
            assert.match(crashed.stacktrace, /Error: thrown outside the call: y/);
            const after = callResult(await run({ op: "state" }));
            assert.notStrictEqual(after.pid, before.pid);
            assert.strictEqual(after.calls, 1);
        });

        it("resolve packages from their own environment only, never from a node_modules above the tree", async () => {
            assert.strictEqual(callResult(await run({ op: "require", name: "ms" })), "found ms");
            assert.strictEqual(callResult(await run({ op: "require", name: "leaky" })), "MODULE_NOT_FOUND");
        });
    });

    describe("inside an algorithm", () => {
        it('give require("algorithmia").client() this server and a session key', async () => {
            const inside = callResult(await run({ op: "client" }));
            // network_access "isolated" (createBody's default): the client reaches this server through the relay
            // inside the worker's network namespace, where it can have one.
            assert.match(inside.api, /^http:\/\/127\.0\.0\.1:\d+$/);
            if (networkIsolation("node").available) assert.notStrictEqual(inside.api, server.url);
            assert.match(inside.key, /^Simple sim/);
            assert.ok(!inside.key.includes(ALICE.key));
        });

        it("reach nothing outside the worker with network_access isolated, not even the host's loopback", async () => {
            const listener = net.createServer((socket) => socket.destroy());
            await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
            try {
                const reached = callResult(
                    await run({ op: "connect", host: "127.0.0.1", port: (listener.address() as net.AddressInfo).port }),
                );
                assert.strictEqual(reached, networkIsolation("node").available ? "ECONNREFUSED" : "connected");
            } finally {
                listener.close();
            }
        });

        it("read a data file of this server with the npm client", async () => {
            assert.strictEqual(
                (await call(server, "POST", "/v1/data/alice", { key: ALICE.key, json: { name: "shared" } })).status,
                200,
            );
            const put = await call(server, "PUT", "/v1/data/alice/shared/note.txt", {
                key: ALICE.key,
                body: "alice's note",
            });
            assert.strictEqual(put.status, 200, put.text);
            assert.strictEqual(
                callResult(await run({ op: "read_file", path: "data://alice/shared/note.txt" })),
                "alice's note",
            );
            const missing = callError(
                await run({ op: "read_file", path: "data://alice/shared/none.txt" }),
                "AlgorithmError",
            );
            assert.match(missing.message, /does not exist/);
        });
    });
});
