// The Python language runtime of algorithmia-local (server/runtime/): the cached venv, the build checks and the
// warm worker pool — with real Python processes running the sample algorithms in test/fixtures/algorithms/.
// The first run creates the runtime venv (a few minutes); later runs reuse it.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ensurePythonRuntime, PythonRuntime } from "../../server/runtime/python-env";
import { buildPython, pythonEntryModule } from "../../server/runtime/python-build";
import { askChecker } from "../../server/runtime/python-checkers";
import {
    GpuDevice,
    gpuDevices,
    isFailure,
    parseGpuList,
    visibleGpus,
    WorkerCallFailure,
    WorkerCallOutcome,
    WorkerCallRequest,
    WorkerCallSuccess,
    WorkerInfo,
    WorkerPool,
} from "../../server/runtime/workers";
import { alive, waitFor } from "../helpers/processes";
import { ALICE, call, startTestServer } from "../helpers/server";

const FIXTURES = path.join(__dirname, "..", "fixtures", "algorithms");

function ok(outcome: WorkerCallOutcome): WorkerCallSuccess {
    if (isFailure(outcome))
        assert.fail(
            `expected a result, got ${outcome.error.error_type}: ${outcome.error.message}\n${outcome.error.stacktrace}`,
        );
    return outcome;
}

function failed(outcome: WorkerCallOutcome, errorType: string): WorkerCallFailure {
    if (!isFailure(outcome)) assert.fail(`expected ${errorType}, got result ${JSON.stringify(outcome.result)}`);
    assert.strictEqual(outcome.error.error_type, errorType, `${outcome.error.message}\n${outcome.error.stacktrace}`);
    return outcome;
}

describe("python runtime", function () {
    this.timeout(60_000);
    let runtime: PythonRuntime;

    before(async function () {
        this.timeout(15 * 60_000); // first creation downloads the pinned packages
        runtime = await ensurePythonRuntime();
    });

    describe("environment", () => {
        it("is a cached venv with the Algorithmia client, numpy and scikit-learn", async () => {
            assert.ok(fs.existsSync(runtime.python));
            assert.match(path.basename(runtime.dir), /^python-runtime-[0-9a-f]{16}$/);
            const again = await ensurePythonRuntime();
            assert.strictEqual(again.python, runtime.python);
            const { execFileSync } = await import("child_process");
            const out = execFileSync(
                runtime.python,
                ["-c", "import Algorithmia, numpy, sklearn, packaging; print(numpy.__version__, sklearn.__version__)"],
                { encoding: "utf8" },
            );
            const pins = fs.readFileSync(runtime.requirementsFile, "utf8");
            const [numpy, sklearn] = out.trim().split(" ");
            assert.ok(pins.includes(`numpy==${numpy}`), out);
            assert.ok(pins.includes(`scikit-learn==${sklearn}`), out);
        });

        it("fails with a clear message when the interpreter is missing", async () => {
            await assert.rejects(
                ensurePythonRuntime({ python: "/nonexistent/python3" }),
                /interpreter '\/nonexistent\/python3' is unavailable \(not found\)/,
            );
        });
    });

    describe("build", () => {
        it("succeeds on the Python 3 template, logging each step", async () => {
            const build = await buildPython(path.join(FIXTURES, "Hello"), "Hello");
            assert.strictEqual(build.ok, true, build.log);
            assert.strictEqual(build.reason, undefined);
            const lines = build.log.trim().split("\n");
            assert.match(lines[0], /^Beginning build of Hello/);
            for (const step of [
                "Checking algorithmia.conf",
                "Checking requirements.txt",
                "Compiling src/Hello.py",
                "Compiling src/__init__.py",
                "Compiling src/Hello_test.py",
                "Checking entry point src/Hello.py",
            ]) {
                assert.ok(lines.includes(step), `missing step ${step}:\n${build.log}`);
            }
            assert.ok(lines.includes("  requirements.txt:1: algorithmia"), build.log);
            assert.match(build.log, /found apply\(input\) at line \d+/);
            assert.match(build.environment!.python, new RegExp(`python-envs/${build.environment!.id}/bin/python$`));
            assert.deepStrictEqual(build.environment!.files, ["requirements.txt"]);
            assert.strictEqual(lines[lines.length - 1], "Build succeeded");
        });

        it("fails on a syntax error with file:line and the message", async () => {
            const build = await buildPython(path.join(FIXTURES, "Broken"), "Broken");
            assert.strictEqual(build.ok, false);
            assert.match(build.reason!, /^src\/Broken\.py:5:\d+: SyntaxError: '\(' was never closed$/);
            assert.match(
                build.log,
                /ERROR: src\/Broken\.py:5:\d+: SyntaxError: '\(' was never closed\n\s+greeting = "hello \{\}"\.format\(input/,
            );
            assert.match(build.log, /Build failed: src\/Broken\.py:5/);
        });

        it("fails when the entry module has no apply", async () => {
            const build = await buildPython(path.join(FIXTURES, "NoApply"), "NoApply");
            assert.strictEqual(build.ok, false);
            assert.match(
                build.log,
                /Build failed: src\/NoApply\.py does not define an apply\(input\) function at module level/,
            );
        });

        it("fails when the entry module is missing (the algorithm name decides it)", async () => {
            const build = await buildPython(path.join(FIXTURES, "Hello"), "Greeter");
            assert.strictEqual(build.ok, false);
            assert.match(build.log, /Build failed: entry module src\/Greeter\.py not found .*src\/Hello\.py/);
            assert.match(build.log, /warning: algorithmia\.conf names the algorithm 'Hello'/);
        });

        it("fails on a bad requirements line; comments and index options are accepted", async () => {
            const build = await buildPython(path.join(FIXTURES, "BadRequirements"), "BadRequirements");
            assert.strictEqual(build.ok, false);
            assert.match(build.reason!, /^requirements\.txt:4: invalid requirement 'numpy=>1\.20': /);
            assert.match(build.log, /requirements\.txt:2: algorithmia>=1\.0\n/);
            assert.match(build.log, /requirements\.txt:3: pip option --index-url\n/);
            assert.match(build.log, /requirements\.txt:5: scikit-learn\n/);
            assert.match(build.log, /Build failed: requirements\.txt:4/);
            assert.doesNotMatch(build.log, /pip install/, "nothing is installed for a tree that fails its checks");
        });

        it("checks requirement includes, unknown options, algorithmia.conf JSON and async apply", async () => {
            const tree = fs.mkdtempSync(path.join(os.tmpdir(), "runtime-build-"));
            try {
                fs.mkdirSync(path.join(tree, "src"));
                fs.writeFileSync(path.join(tree, "algorithmia.conf"), '{"algoname": "Multi",');
                fs.writeFileSync(
                    path.join(tree, "requirements.txt"),
                    '-r more.txt\n--frobnicate\nrequests>=2 ; python_version >= "3"\nleftpad-not-here==1.0\n',
                );
                fs.writeFileSync(path.join(tree, "more.txt"), "numpy==0.1 \\\n  # continued\n");
                fs.writeFileSync(path.join(tree, "src", "Multi.py"), "async def apply(input):\n    return input\n");
                const build = await buildPython(tree, "Multi");
                assert.strictEqual(build.ok, false);
                assert.match(build.log, /algorithmia\.conf is not valid JSON/);
                assert.match(build.log, /requirements\.txt:1: including more\.txt/);
                assert.match(build.log, /more\.txt:1: numpy==0\.1\n/);
                assert.match(build.log, /requirements\.txt:2: unsupported pip option '--frobnicate'/);
                assert.match(build.log, /requirements\.txt:3: requests>=2 ; python_version >= "3"\n/);
                assert.match(build.log, /apply must be a plain function, not async def/);
                assert.match(build.log, /Build failed: algorithmia\.conf is not valid JSON.*\(and 2 more problems\)/);
            } finally {
                fs.rmSync(tree, { recursive: true, force: true });
            }
        });

        it("never runs the algorithm's code, and warns about imports it cannot resolve", async () => {
            const tree = fs.mkdtempSync(path.join(os.tmpdir(), "runtime-build-"));
            try {
                fs.mkdirSync(path.join(tree, "src"));
                const marker = path.join(tree, "ran");
                fs.writeFileSync(
                    path.join(tree, "src", "Sneaky.py"),
                    `open(${JSON.stringify(marker)}, "w").write("x")\nimport no_such_module_anywhere\n\ndef apply(input):\n    return input\n`,
                );
                const build = await buildPython(tree, "Sneaky");
                assert.strictEqual(build.ok, true, build.log);
                assert.ok(!fs.existsSync(marker), "the build imported user code");
                assert.match(build.log, /warning: src\/Sneaky\.py:2 imports no_such_module_anywhere/);
                assert.match(build.log, /No requirements\.txt/);
            } finally {
                fs.rmSync(tree, { recursive: true, force: true });
            }
        });

        describe("long-running checkers", () => {
            /** This process's serving checkers of `python` (their pids), from /proc. */
            function checkers(python: string): number[] {
                return fs
                    .readdirSync("/proc")
                    .filter((entry) => /^\d+$/.test(entry))
                    .filter((pid) => {
                        try {
                            const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
                            const ppid = Number(
                                fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1],
                            );
                            return ppid === process.pid && cmdline[0] === python && cmdline.includes("--serve");
                        } catch {
                            return false; // ended meanwhile
                        }
                    })
                    .map(Number);
            }
            // Each test starts with none: earlier builds leave checkers idle for a few seconds (the pool finds the ones
            // killed here dead, and replaces them).
            beforeEach(async () => {
                for (const pid of checkers(runtime.python)) process.kill(pid, "SIGKILL");
                assert.ok(await waitFor(() => checkers(runtime.python).length === 0, 5000));
            });

            it("serve one build after another, and one that died while idle is replaced", async () => {
                const hello = path.join(FIXTURES, "Hello");
                assert.strictEqual((await buildPython(hello, "Hello")).ok, true);
                const first = checkers(runtime.python);
                assert.strictEqual(first.length, 1, `one checker of the runtime, not ${first}`);
                assert.strictEqual((await buildPython(hello, "Hello")).ok, true);
                assert.deepStrictEqual(checkers(runtime.python), first, "the second build asked the same checker");
                process.kill(first[0], "SIGKILL");
                assert.ok(await waitFor(() => !checkers(runtime.python).includes(first[0]), 5000));
                const again = await buildPython(hello, "Hello");
                assert.strictEqual(again.ok, true, again.log);
                assert.notDeepStrictEqual(checkers(runtime.python), first);
            });

            it("a check past its time kills its checker; an error in one is reported and the checker goes on", async () => {
                const tree = fs.mkdtempSync(path.join(os.tmpdir(), "runtime-slow-"));
                try {
                    fs.mkdirSync(path.join(tree, "src"));
                    // Compiling 300,000 lines takes far longer than 50 ms.
                    fs.writeFileSync(path.join(tree, "src", "Slow.py"), "x = 1\n".repeat(300_000));
                    const slow = await askChecker(runtime.python, { tree, algo: "Slow", imports: false }, 50);
                    assert.strictEqual(slow.timedOut, true);
                    // (Killed at once; gone from /proc once the kernel has run its exit, which a loaded machine delays.)
                    assert.ok(
                        await waitFor(() => checkers(runtime.python).length === 0, 5000),
                        `the checker that ran out of time was killed: ${checkers(runtime.python)} left`,
                    );

                    const broken = await askChecker(
                        runtime.python,
                        { tree: null as any, algo: "X", imports: false },
                        60_000,
                    );
                    assert.match(JSON.parse(broken.line!).crashed, /TypeError/);
                    const served = checkers(runtime.python);
                    const hello = { tree: path.join(FIXTURES, "Hello"), algo: "Hello", imports: false };
                    const fine = await askChecker(runtime.python, hello, 60_000);
                    assert.strictEqual(JSON.parse(fine.line!).ok, true, fine.line);
                    assert.deepStrictEqual(checkers(runtime.python), served, "the same checker answered");
                } finally {
                    fs.rmSync(tree, { recursive: true, force: true });
                }
            });
        });
    });

    describe("each algorithm's own environment", () => {
        const trees: string[] = [];
        const environments = new Set<string>();
        // Requirement sets of this run only (a comment is part of what an environment is made from), so that every
        // run makes its environments afresh; they are removed at the end.
        const run = `# test run ${process.pid}-${Date.now()}\n`;
        /** A tree whose apply answers what `probe` (Python source of a function of no argument) returns. */
        function algorithm(requirements: string | undefined, probe: string): string {
            const tree = fs.mkdtempSync(path.join(os.tmpdir(), "runtime-env-"));
            trees.push(tree);
            fs.mkdirSync(path.join(tree, "src"));
            if (requirements !== undefined) fs.writeFileSync(path.join(tree, "requirements.txt"), run + requirements);
            fs.writeFileSync(
                path.join(tree, "src", "Probe.py"),
                `def apply(input):
    return (${probe})()
`,
            );
            return tree;
        }
        async function callIn(tree: string, python: string): Promise<unknown> {
            const pool = new WorkerPool({ python });
            try {
                return ok(
                    await pool.call({
                        key: `alice/Probe/${path.basename(tree)}`,
                        treeDir: tree,
                        entryModule: "src.Probe",
                        input: null,
                        contentType: "json",
                    }),
                ).result;
            } finally {
                await pool.shutdown();
            }
        }
        async function build(tree: string) {
            const result = await buildPython(tree, "Probe");
            if (result.environment) environments.add(path.dirname(path.dirname(result.environment.python)));
            return result;
        }
        after(() => {
            for (const dir of [...trees, ...environments]) fs.rmSync(dir, { recursive: true, force: true });
        });

        it("installs the algorithm's requirements, with the Algorithmia client, and nothing of the server's runtime", async () => {
            const versions =
                "lambda: {m: __import__('importlib.metadata').metadata.version(m) for m in ['algorithmia', 'six']}";
            const tree = algorithm("six==1.16.0\n", versions);
            const built = await build(tree);
            assert.strictEqual(built.ok, true, built.log);
            assert.match(built.log, /pip install -r requirements\/requirements\.txt algorithmia==2\.0\.5/);
            assert.match(built.log, /Successfully installed .*six-1\.16\.0/);
            assert.deepStrictEqual(
                await callIn(tree, built.environment!.python),
                { algorithmia: "2.0.5", six: "1.16.0" },
                "its own pin of six, not the runtime's (1.17.0)",
            );
            const sklearn = algorithm(
                "algorithmia\n",
                "lambda: __import__('importlib.util').util.find_spec('sklearn') is None",
            );
            const bare = await build(sklearn);
            assert.strictEqual(bare.ok, true, bare.log);
            assert.strictEqual(
                await callIn(sklearn, bare.environment!.python),
                true,
                "scikit-learn of the server's runtime does not leak in",
            );
        });

        it("shares one environment between builds of the same requirements, and makes it again once cleared", async () => {
            const first = await build(algorithm("six==1.16.0\n", "lambda: 1"));
            assert.match(first.log, /Using the environment [0-9a-f]{16}: the same requirements were installed before/);
            assert.doesNotMatch(first.log, /pip install/);
            const other = await build(algorithm("six==1.15.0\n", "lambda: 1"));
            assert.notStrictEqual(
                other.environment!.id,
                first.environment!.id,
                "other requirements, another environment",
            );
            fs.rmSync(path.dirname(path.dirname(first.environment!.python)), { recursive: true, force: true });
            const again = await build(algorithm("six==1.16.0\n", "lambda: 1"));
            assert.strictEqual(again.environment!.id, first.environment!.id);
            assert.match(again.log, /Installing the requirements into a new environment of this algorithm/);
        });

        it("fails the build with pip's message when a requirement cannot be installed", async () => {
            const failed = await build(
                algorithm("algorithmia\nno-such-package-pulumi-algorithmia-test==1.0\n", "lambda: 1"),
            );
            assert.strictEqual(failed.ok, false, failed.log);
            assert.match(
                failed.reason!,
                /^installing the requirements failed: ERROR: .*no-such-package-pulumi-algorithmia-test/,
            );
            assert.match(failed.log, /pip could not install the requirements \(exit 1\)/);
            assert.match(failed.log.trimEnd().split("\n").pop()!, /^Build failed: installing the requirements failed/);
        });
    });

    describe("workers", () => {
        let pool: WorkerPool;
        let loadsFile: string;
        const RUNTIME_KEY = "alice/Runtime/0123abcd";

        function runtimeCall(
            input: unknown,
            contentType: WorkerCallRequest["contentType"],
            extra: Partial<WorkerCallRequest> = {},
        ): Promise<WorkerCallOutcome> {
            return pool.call({
                key: RUNTIME_KEY,
                treeDir: path.join(FIXTURES, "Runtime"),
                entryModule: pythonEntryModule("Runtime"),
                input,
                contentType,
                env: {
                    LOAD_COUNT_FILE: loadsFile,
                    ALGORITHMIA_API: "http://127.0.0.1:9",
                    ALGORITHMIA_API_KEY: "simWorkerSessionKey",
                },
                ...extra,
            });
        }

        async function state(): Promise<{ calls: number; pid: number }> {
            return ok(await runtimeCall({ op: "state" }, "json")).result as { calls: number; pid: number };
        }

        beforeEach(() => {
            pool = new WorkerPool({ python: runtime.python });
            loadsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "runtime-loads-")), "loads");
        });

        afterEach(async () => {
            await pool.shutdown();
            fs.rmSync(path.dirname(loadsFile), { recursive: true, force: true });
        });

        const loads = () =>
            fs.existsSync(loadsFile) ? fs.readFileSync(loadsFile, "utf8").trim().split("\n").length : 0;

        it("runs the template algorithm: hello {input}", async () => {
            const outcome = ok(
                await pool.call({
                    key: "alice/Hello/aaa",
                    treeDir: path.join(FIXTURES, "Hello"),
                    entryModule: "src.Hello",
                    input: "foo",
                    contentType: "text",
                }),
            );
            assert.strictEqual(outcome.result, "hello foo");
            assert.strictEqual(outcome.contentType, "text");
            assert.strictEqual(outcome.coldStart, true);
            assert.ok(outcome.durationSeconds >= 0 && outcome.durationSeconds < 5);
        });

        it("imports the module once per worker and keeps module state across calls", async () => {
            const first = ok(await runtimeCall("a", "text"));
            assert.strictEqual(first.coldStart, true);
            assert.strictEqual(first.stdout, "Runtime: module loaded\n", "the import's output goes to the first call");
            const s1 = await state();
            const s2 = await state();
            const second = ok(await runtimeCall("b", "text"));
            assert.strictEqual(second.coldStart, false);
            assert.strictEqual(second.stdout, "");
            assert.strictEqual(s1.calls, 2);
            assert.strictEqual(s2.calls, 3);
            assert.strictEqual(s1.pid, s2.pid);
            assert.strictEqual(loads(), 1);
            assert.strictEqual(pool.workers().length, 1);
            assert.strictEqual(pool.workers()[0].state, "idle");
        });

        it("round-trips text, json and binary with Algorithmia's content-type rules", async () => {
            const text = ok(await runtimeCall("HAL 9000", "text", { callId: "../../not/a/path" }));
            assert.deepStrictEqual([text.result, text.contentType], ["hello HAL 9000", "text"]);
            assert.strictEqual(text.callId, "../../not/a/path");

            // json input whose result is a string comes back as text
            const shout = ok(await runtimeCall({ op: "text", value: "quiet ünïcode" }, "json"));
            assert.deepStrictEqual([shout.result, shout.contentType], ["QUIET ÜNÏCODE", "text"]);

            const json = ok(await runtimeCall({ op: "echo", value: { a: [1, 2.5, null, true], b: "x" } }, "json"));
            assert.deepStrictEqual([json.result, json.contentType], [{ a: [1, 2.5, null, true], b: "x" }, "json"]);
            assert.strictEqual(json.resultJson, '{"a":[1,2.5,null,true],"b":"x"}');

            const none = ok(await runtimeCall({ op: "echo" }, "json"));
            assert.deepStrictEqual([none.result, none.contentType], [null, "json"]);

            const number = ok(await runtimeCall(41, "json"));
            assert.deepStrictEqual(number.result, { type: "int", value: 41 });

            const array = ok(await runtimeCall({ op: "numpy" }, "json"));
            assert.deepStrictEqual([array.result, array.contentType], [[0, 2, 4, 6], "json"]);

            const binary = ok(await runtimeCall(Buffer.from([0, 1, 2, 255]), "binary"));
            assert.strictEqual(binary.contentType, "binary");
            assert.deepStrictEqual(binary.result, Buffer.from([255, 2, 1, 0]));

            const bytesOut = ok(await runtimeCall({ op: "bytes" }, "json"));
            assert.strictEqual(bytesOut.contentType, "binary");
            assert.deepStrictEqual(bytesOut.result, Buffer.from([0, 1, 0xfe, 0xff]));

            // raw JSON text keeps big integers exact on the way in and out
            const big = ok(await runtimeCall(Buffer.from('{"op": "echo", "value": 12345678901234567890123}'), "json"));
            assert.strictEqual(big.resultJson, "12345678901234567890123");

            const nan = failed(await runtimeCall({ op: "nan" }, "json"), "AlgorithmError");
            assert.match(nan.error.message, /could not be serialised as JSON/);
        });

        it("turns exceptions into AlgorithmError with the stacktrace, honouring error-type names", async () => {
            const raised = failed(await runtimeCall({ op: "raise", why: "testing" }, "json"), "AlgorithmError");
            assert.strictEqual(raised.error.message, "something went wrong: testing");
            assert.match(
                raised.error.stacktrace,
                /^Traceback \(most recent call last\):\n {2}File ".*Runtime\.py", line \d+, in apply\n/,
            );
            assert.match(raised.error.stacktrace, /ValueError: something went wrong: testing\n$/);
            assert.doesNotMatch(raised.error.stacktrace, /python-worker\.py/, "the worker's own frames are hidden");

            const input = failed(await runtimeCall({ op: "input_error" }, "json"), "InputError");
            assert.strictEqual(input.error.message, "bad input: expected a number");

            const declared = failed(await runtimeCall({ op: "algorithm_exception" }, "json"), "ParsingError");
            assert.strictEqual(declared.error.message, "declared failure");

            const exit = failed(await runtimeCall({ op: "sys_exit" }, "json"), "AlgorithmError");
            assert.match(exit.error.message, /sys\.exit\(2\)/);

            // none of that cost the worker
            assert.strictEqual((await state()).calls, 5);
            assert.strictEqual(loads(), 1);
        });

        it("reports an import failure as InitializationError with the traceback and the import's output", async () => {
            const outcome = failed(
                await pool.call({
                    key: "alice/BadImport/1",
                    treeDir: path.join(FIXTURES, "BadImport"),
                    entryModule: "src.BadImport",
                    input: 1,
                    contentType: "json",
                }),
                "InitializationError",
            );
            assert.strictEqual(
                outcome.error.message,
                "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'",
            );
            assert.match(outcome.error.stacktrace, /BadImport\.py", line 2, in <module>/);
            assert.strictEqual(outcome.stdout, "loading BadImport\n");
        });

        it("times out: kills the worker, answers TimeoutError, and the next call gets a fresh worker", async () => {
            const before = await state();
            const started = Date.now();
            const timedOut = failed(
                await runtimeCall({ op: "sleep", seconds: 30 }, "json", { timeoutSeconds: 1 }),
                "TimeoutError",
            );
            assert.ok(Date.now() - started < 5000);
            assert.strictEqual(timedOut.error.message, "algorithm timed out after 1 seconds");
            assert.strictEqual(timedOut.stdout, "going to sleep\n", "output up to the timeout is kept");
            assert.ok(await waitFor(() => !alive(before.pid), 3000), "the timed-out worker was killed");
            const after = await state();
            assert.notStrictEqual(after.pid, before.pid);
            assert.strictEqual(after.calls, 1);
            assert.strictEqual(loads(), 2);
        });

        it("times out a call still waiting in the queue without killing the busy worker", async () => {
            const sleeper = runtimeCall({ op: "sleep", seconds: 1.5 }, "json");
            await new Promise((resolve) => setTimeout(resolve, 300));
            const queued = failed(await runtimeCall("late", "text", { timeoutSeconds: 0.5 }), "TimeoutError");
            assert.strictEqual(queued.workerId, undefined);
            assert.strictEqual(ok(await sleeper).result, "slept");
            assert.strictEqual(loads(), 1);
        });

        it("recovers from a crash (os._exit) and a segfault", async () => {
            const before = await state();
            const exited = failed(await runtimeCall({ op: "exit" }, "json"), "AlgorithmError");
            assert.strictEqual(
                exited.error.message,
                "the algorithm's process exited with code 3 while handling the request",
            );
            assert.strictEqual(exited.stdout, "about to exit\n");
            const middle = await state();
            assert.notStrictEqual(middle.pid, before.pid);

            const segfault = failed(await runtimeCall({ op: "segfault" }, "json"), "AlgorithmError");
            assert.match(segfault.error.message, /killed by signal SIGSEGV while handling the request/);
            assert.match(segfault.error.stacktrace, /Segmentation fault[\s\S]*Runtime\.py", line \d+ in apply/);
            const after = await state();
            assert.notStrictEqual(after.pid, middle.pid);
            assert.strictEqual(after.calls, 1);
        });

        it("captures stdout per call: prints, stderr and subprocesses", async () => {
            await runtimeCall("warm up", "text");
            const [one, two] = [
                ok(await runtimeCall({ op: "print", tag: "one" }, "json")),
                ok(await runtimeCall({ op: "print", tag: "two" }, "json")),
            ];
            assert.strictEqual(one.stdout, "stdout line for one\nstderr line for one\nsubprocess line for one\n");
            assert.strictEqual(two.stdout, "stdout line for two\nstderr line for two\nsubprocess line for two\n");
            assert.strictEqual(ok(await runtimeCall("quiet", "text")).stdout, "");
        });

        it("queues calls to one version in order, and runs versions side by side", async () => {
            const started = Date.now();
            const slow = runtimeCall({ op: "sleep", seconds: 0.6 }, "json");
            const next = runtimeCall({ op: "state" }, "json");
            const other = pool.call({
                key: "alice/Hello/bbb",
                treeDir: path.join(FIXTURES, "Hello"),
                entryModule: "src.Hello",
                input: "x",
                contentType: "text",
            });
            const otherDone = ok(await other);
            const otherAt = Date.now() - started;
            const [s, n] = [ok(await slow), ok(await next)];
            assert.strictEqual(s.result, "slept");
            assert.strictEqual((n.result as { calls: number }).calls, 2, "the queued call ran after the sleeping one");
            assert.ok(n.wallSeconds >= 0.5, `queued call waited ${n.wallSeconds}s`);
            assert.strictEqual(otherDone.result, "hello x");
            assert.ok(otherAt < 600 + 2000, "another version did not wait for the queue");
            assert.strictEqual(loads(), 1);
        });

        it("runs several workers per version when allowed", async () => {
            await pool.shutdown();
            pool = new WorkerPool({ python: runtime.python, maxWorkersPerKey: 2 });
            const outcomes = await Promise.all([0, 1].map(() => runtimeCall({ op: "sleep", seconds: 0.8 }, "json")));
            const pids = new Set(pool.workers().map((w) => w.pid));
            assert.strictEqual(pids.size, 2);
            assert.deepStrictEqual(
                outcomes.map((o) => ok(o).result),
                ["slept", "slept"],
            );
            assert.notStrictEqual(outcomes[0].workerId, outcomes[1].workerId);
        });

        it("refuses a call at once when the version's queue is full, saying when to come back", async () => {
            await pool.shutdown();
            pool = new WorkerPool({ python: runtime.python, maxWorkersPerKey: 2, maxQueuePerKey: 1 });
            // Two run, one waits, the fourth is refused without waiting.
            const calls = [0, 1, 2].map(() => runtimeCall({ op: "sleep", seconds: 1 }, "json"));
            await waitFor(() => pool.workers().filter((w) => w.state === "busy").length === 2, 10_000);
            const started = Date.now();
            const refused = await runtimeCall({ op: "sleep", seconds: 1 }, "json");
            assert.ok(Date.now() - started < 500, "refused without waiting");
            assert.ok(isFailure(refused) && refused.queueFull, JSON.stringify(refused));
            assert.strictEqual(refused.error.error_type, "TooManyRequests");
            assert.ok(refused.queueFull.retryAfterSeconds >= 1);
            assert.deepStrictEqual(
                (await Promise.all(calls)).map((o) => ok(o).result),
                ["slept", "slept", "slept"],
            );
            assert.strictEqual(
                ok(await runtimeCall({ op: "sleep", seconds: 0 }, "json")).result,
                "slept",
                "room again once the queue drained",
            );
        });

        it("passes env to the worker: Algorithmia.client() talks to the given server with the given key", async () => {
            const client = ok(await runtimeCall({ op: "client" }, "json"));
            assert.deepStrictEqual(client.result, { api: "http://127.0.0.1:9", key: "simWorkerSessionKey" });
            const env = ok(
                await runtimeCall(
                    { op: "env", names: ["ALGORITHMIA_API", "SECRET_TOKEN", "CUDA_VISIBLE_DEVICES"] },
                    "json",
                ),
            );
            assert.deepStrictEqual(env.result, {
                ALGORITHMIA_API: "http://127.0.0.1:9",
                SECRET_TOKEN: null,
                CUDA_VISIBLE_DEVICES: "",
            });
            const cwd = ok(await runtimeCall({ op: "cwd" }, "json"));
            assert.strictEqual(cwd.result, path.join(FIXTURES, "Runtime"));
        });

        it("supports per-worker session keys and tells which call a worker is serving", async () => {
            const started: WorkerInfo[] = [];
            const exited: string[] = [];
            await pool.shutdown();
            pool = new WorkerPool({
                python: runtime.python,
                onWorkerStart: (w) => started.push(w),
                onWorkerExit: (w, reason) => exited.push(`${w.id}:${reason}`),
            });
            const request = (input: unknown, callId: string, envKey = "secrets-v1"): Promise<WorkerCallOutcome> =>
                pool.call({
                    key: RUNTIME_KEY,
                    treeDir: path.join(FIXTURES, "Runtime"),
                    entryModule: "src.Runtime",
                    input,
                    contentType: "json",
                    callId,
                    context: { caller: "bob", callId },
                    envKey,
                    env: (worker) => ({
                        ALGORITHMIA_API: "http://127.0.0.1:9",
                        ALGORITHMIA_API_KEY: `session-${worker.id}`,
                        SECRET_TOKEN: envKey,
                    }),
                });
            const sleeping = request({ op: "sleep", seconds: 0.7 }, "call-1");
            assert.ok(
                await waitFor(
                    () => pool.workers().some((w) => w.state === "busy" && pool.activeCall(w.id)?.callId === "call-1"),
                    5000,
                ),
            );
            const worker = pool.workers()[0];
            assert.deepStrictEqual(pool.activeCall(worker.id)?.context, { caller: "bob", callId: "call-1" });
            assert.strictEqual(pool.activeCall(worker.id)?.key, RUNTIME_KEY);
            await sleeping;
            assert.strictEqual(pool.activeCall(worker.id), undefined);

            const key = ok(await request({ op: "env", names: ["ALGORITHMIA_API_KEY", "SECRET_TOKEN"] }, "call-2"));
            assert.deepStrictEqual(key.result, {
                ALGORITHMIA_API_KEY: `session-${worker.id}`,
                SECRET_TOKEN: "secrets-v1",
            });
            assert.strictEqual(key.workerId, worker.id);

            // a changed env fingerprint (e.g. new secrets) replaces the worker
            const changed = ok(await request({ op: "env", names: ["SECRET_TOKEN"] }, "call-3", "secrets-v2"));
            assert.deepStrictEqual(changed.result, { SECRET_TOKEN: "secrets-v2" });
            assert.notStrictEqual(changed.workerId, worker.id);
            assert.strictEqual(started.length, 2);
            assert.deepStrictEqual(exited, [`${worker.id}:environment changed`]);
        });

        it("accepts environment gpu and reports the GPUs it could use", async () => {
            const outcome = ok(
                await pool.call({
                    key: "alice/Hello/gpu",
                    treeDir: path.join(FIXTURES, "Hello"),
                    entryModule: "src.Hello",
                    input: "gpu",
                    contentType: "text",
                    environment: "gpu",
                }),
            );
            assert.strictEqual(outcome.result, "hello gpu");
            assert.strictEqual(outcome.environment, "gpu");
            assert.deepStrictEqual(outcome.gpus, gpuDevices());
            const cpu = ok(await runtimeCall("cpu", "text"));
            assert.deepStrictEqual(cpu.gpus, []);
        });

        it("shows a gpu worker the pool's GPUs by UUID, and a cpu worker none", async () => {
            // The pool's `gpus` stand in for a probe on this machine: what is checked is what workers are given.
            const gpus: GpuDevice[] = [
                { index: 0, name: "NVIDIA H200", uuid: "GPU-5d1c7d2e-8f4b-4f0e-9c43-2a0f1e6b7c11" },
                { index: 1, name: "NVIDIA H200", uuid: "GPU-0b9e4c3a-1d2f-4e5a-8b6c-7d8e9f0a1b2c" },
            ];
            await pool.shutdown();
            pool = new WorkerPool({ python: runtime.python, gpus });
            const visible = (environment: "cpu" | "gpu") =>
                runtimeCall({ op: "env", names: ["CUDA_VISIBLE_DEVICES"] }, "json", {
                    environment,
                    key: `${RUNTIME_KEY}/${environment}`,
                });
            const onGpu = ok(await visible("gpu"));
            assert.deepStrictEqual(onGpu.result, { CUDA_VISIBLE_DEVICES: gpus.map((g) => g.uuid).join(",") });
            assert.deepStrictEqual(onGpu.gpus, gpus);
            const onCpu = ok(await visible("cpu"));
            assert.deepStrictEqual(onCpu.result, { CUDA_VISIBLE_DEVICES: "" });
            assert.deepStrictEqual(onCpu.gpus, []);
        });

        it("reads GPUs and MIG instances from nvidia-smi -L, less those CUDA_VISIBLE_DEVICES hides", () => {
            const listed = parseGpuList(
                [
                    "GPU 0: NVIDIA H200 (UUID: GPU-5d1c7d2e-8f4b-4f0e-9c43-2a0f1e6b7c11)",
                    "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-0b9e4c3a-1d2f-4e5a-8b6c-7d8e9f0a1b2c)",
                    "  MIG 1g.5gb      Device  0: (UUID: MIG-4b7e2f7a-3a57-5b8d-9c21-0123456789ab)",
                    "  MIG 1g.5gb      Device  1: (UUID: MIG-9f1d0c2b-7e64-5a3c-8d12-ba9876543210)",
                    "",
                ].join("\n"),
            );
            assert.deepStrictEqual(listed, [
                { index: 0, name: "NVIDIA H200", uuid: "GPU-5d1c7d2e-8f4b-4f0e-9c43-2a0f1e6b7c11" },
                {
                    index: 1,
                    name: "NVIDIA A100-SXM4-40GB MIG 1g.5gb",
                    uuid: "MIG-4b7e2f7a-3a57-5b8d-9c21-0123456789ab",
                },
                {
                    index: 1,
                    name: "NVIDIA A100-SXM4-40GB MIG 1g.5gb",
                    uuid: "MIG-9f1d0c2b-7e64-5a3c-8d12-ba9876543210",
                },
            ]);
            assert.deepStrictEqual(visibleGpus(listed, undefined), listed);
            assert.deepStrictEqual(visibleGpus(listed, ""), []);
            assert.deepStrictEqual(visibleGpus(listed, "0"), [listed[0]]);
            assert.deepStrictEqual(visibleGpus(listed, "MIG-9f1d,GPU-5d1c"), [listed[2], listed[0]]);
            assert.deepStrictEqual(
                visibleGpus(listed, "0,7,MIG-9f1d"),
                [listed[0]],
                "CUDA stops at the first unknown entry",
            );
            assert.deepStrictEqual(parseGpuList("No devices were found\n"), []);
        });

        it("runs ADK algorithms: load() once, its result passed to apply", async () => {
            const request = (input: string) =>
                pool.call({
                    key: "alice/AdkHello/1",
                    treeDir: path.join(FIXTURES, "AdkHello"),
                    entryModule: "src.AdkHello",
                    input,
                    contentType: "text",
                });
            const first = ok(await request("you"));
            assert.strictEqual(first.result, "hello from ADK to you");
            assert.match(first.stdout, /loading complete/);
            const second = ok(await request("me"));
            assert.strictEqual(second.result, "hello from ADK to me");
            assert.strictEqual(second.workerId, first.workerId);
        });

        it("hosts a scikit-learn model loaded once from a file", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runtime-model-"));
            try {
                const modelPath = path.join(dir, "digits.joblib");
                const { execFileSync } = await import("child_process");
                execFileSync(runtime.python, [
                    "-c",
                    [
                        "import sys, joblib",
                        "from sklearn.datasets import load_digits",
                        "from sklearn.svm import SVC",
                        "d = load_digits()",
                        "joblib.dump(SVC(gamma=0.001).fit(d.data[:1200], d.target[:1200]), sys.argv[1])",
                    ].join("\n"),
                    modelPath,
                ]);
                const request = (input: unknown) =>
                    pool.call({
                        key: "alice/Digits/1",
                        treeDir: path.join(FIXTURES, "Digits"),
                        entryModule: "src.Digits",
                        input,
                        contentType: "json",
                        env: { MODEL_PATH: modelPath },
                    });
                const results = [];
                for (const sample of [1300, 1400, 1500, 1600])
                    results.push(ok(await request({ sample })).result as any);
                for (const r of results) {
                    assert.strictEqual(r.model, "file");
                    assert.strictEqual(r.digit, r.expected);
                }
                const zeroish = ok(await request({ pixels: new Array(64).fill(0) })).result as any;
                assert.ok(Number.isInteger(zeroish.digit));
                assert.strictEqual(pool.workers().filter((w) => w.key === "alice/Digits/1").length, 1);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("reaps idle workers and kills everything on shutdown", async () => {
            await pool.shutdown();
            pool = new WorkerPool({ python: runtime.python, idleTimeoutSeconds: 0.5 });
            const { pid } = await state();
            assert.ok(await waitFor(() => pool.workers().length === 0, 5000), "idle worker reaped");
            assert.ok(await waitFor(() => !alive(pid), 3000));

            const busy = runtimeCall({ op: "sleep", seconds: 30 }, "json");
            assert.ok(await waitFor(() => pool.workers().some((w) => w.state === "busy"), 5000));
            const busyPid = pool.workers()[0].pid!;
            await pool.shutdown();
            failed(await busy, "SystemError");
            assert.ok(await waitFor(() => !alive(busyPid), 3000));
            failed(await runtimeCall("late", "text"), "SystemError");
        });

        it("reads a data file through the server from inside an algorithm", async function () {
            const server = await startTestServer();
            try {
                const created = await call(server, "POST", `/v1/connector/data/${ALICE.name}`, {
                    key: ALICE.key,
                    json: { name: "runtime" },
                });
                assert.strictEqual(created.status, 200, created.text);
                const put = await call(server, "PUT", `/v1/connector/data/${ALICE.name}/runtime/greeting.txt`, {
                    key: ALICE.key,
                    body: "hi from the data API",
                    headers: { "content-type": "application/octet-stream" },
                });
                assert.strictEqual(put.status, 200, put.text);
                const outcome = ok(
                    await runtimeCall({ op: "read_file", path: `data://${ALICE.name}/runtime/greeting.txt` }, "json", {
                        env: { ALGORITHMIA_API: server.url, ALGORITHMIA_API_KEY: ALICE.key },
                    }),
                );
                assert.strictEqual(outcome.result, "hi from the data API");
                assert.strictEqual(outcome.contentType, "text");
            } finally {
                await server.dispose();
            }
        });
    });
});
