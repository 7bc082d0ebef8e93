// The build of a Python algorithm, as a real Algorithmia Python build goes: the tree is checked statically by
// python-build-check.py (the algorithm's code is never imported or run here), then its requirements are
// installed into an environment of its own (python-env.ts), then its imports are checked in that environment:
//   - algorithmia.conf, when present, is a JSON object;
//   - requirements.txt parses the way pip reads it (comments, blank lines, continuations, `-r`/`-c` includes
//     inside the tree; index options, editable and URL requirements are left to pip; unknown options and
//     malformed requirement lines fail);
//   - every .py file byte-compiles (failures give file:line:column and the SyntaxError message);
//   - the entry module src/<algoName>.py exists and defines a module-level callable `apply` taking the input;
//   - pip installs the requirements beside the Algorithmia client (a requirement it cannot install fails the
//     build, with pip's message in the log); identical requirement files share one environment, so a rebuild
//     costs nothing;
//   - a top-level import found neither in the tree nor in the environment is a warning.
// The log reads like a build log: "Beginning build of …", "Checking requirements.txt", "Compiling src/…",
// pip's output, then "Build succeeded" or "Build failed: <reason>".
//
// API:
//     buildPython(treeDir, algoName): Promise<PythonBuildResult>
//         treeDir: a checked-out work tree of the algorithm's repository (not a bare repository).
//         Never throws for problems in the tree (they make ok false); throws PythonRuntimeError only when no
//         Python is available at all.
//     algorithmEnvironment(treeDir, files): the environment of a build (made again if it was cleared)
//     pythonEntryModule(algoName): string     the module the workers import ("src.<algoName>")
import { spawn } from "child_process";
import {
    AlgorithmEnvironment,
    PythonRuntimeError,
    ensureAlgorithmEnvironment,
    ensurePythonRuntime,
    runtimeAsset,
} from "./python-env";

export interface PythonBuildResult {
    ok: boolean;
    /** The build log, one step per line, ending with "Build succeeded" or "Build failed: <reason>". */
    log: string;
    /** Why it failed (the first problem, with a count of the others); absent on success. */
    reason?: string;
    durationSeconds: number;
    /** Where a successful build runs: its environment and the requirement files it was made from. */
    environment?: { id: string; python: string; files: string[] };
}

/** The build checks give up after this long (installing the requirements has no limit of its own). */
const BUILD_TIMEOUT_SECONDS = 120;

/** The dotted module name a worker imports for an algorithm built from src/<algoName>.py. */
export function pythonEntryModule(algoName: string): string {
    return `src.${algoName}`;
}

interface CheckOutput {
    ok: boolean;
    log: string[];
    reason: string | null;
    requirement_files: string[];
}

export async function buildPython(treeDir: string, algoName: string): Promise<PythonBuildResult> {
    const started = Date.now();
    const elapsed = () => (Date.now() - started) / 1000;
    // The checks run in the server's runtime, which has `packaging` to parse requirements exactly.
    const checked = await check((await ensurePythonRuntime()).python, treeDir, algoName);
    if ("crashed" in checked) return failure(checked.crashed, elapsed());
    const log = [...checked.log];
    if (!checked.ok)
        return {
            ok: false,
            log: log.join("\n") + "\n",
            reason: checked.reason ?? undefined,
            durationSeconds: elapsed(),
        };
    let environment: AlgorithmEnvironment;
    try {
        environment = await ensureAlgorithmEnvironment(treeDir, checked.requirement_files, (line) => log.push(line));
    } catch (err) {
        if (!(err instanceof PythonRuntimeError)) throw err;
        const message = err.message;
        log.push(...message.split("\n"));
        const reason = `installing the requirements failed: ${lastError(message)}`;
        log.push(`Build failed: ${reason}`);
        return { ok: false, log: log.join("\n") + "\n", reason, durationSeconds: elapsed() };
    }
    const imports = await check(environment.python, treeDir, algoName, ["--imports"]);
    if (!("crashed" in imports)) log.push(...imports.log);
    log.push("Build succeeded");
    return {
        ok: true,
        log: log.join("\n") + "\n",
        durationSeconds: elapsed(),
        environment: { id: environment.id, python: environment.python, files: checked.requirement_files },
    };
}

/** The environment a successful build made, made again from the tree when it was cleared since. */
export async function algorithmEnvironment(treeDir: string, files: string[]): Promise<string> {
    const lines: string[] = [];
    try {
        return (await ensureAlgorithmEnvironment(treeDir, files, (line) => lines.push(line))).python;
    } catch (err) {
        throw new Error(
            `the algorithm's Python environment could not be made again: ${(err as Error).message}\n${lines.slice(-20).join("\n")}`,
            { cause: err },
        );
    }
}

/** pip's own reason: its last "ERROR:" line, else the last line. */
function lastError(text: string): string {
    const lines = text
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
    return [...lines].reverse().find((line) => line.startsWith("ERROR:")) ?? lines[lines.length - 1] ?? "pip failed";
}

async function check(
    python: string,
    treeDir: string,
    algoName: string,
    extra: string[] = [],
): Promise<CheckOutput | { crashed: string }> {
    const timeoutMs = BUILD_TIMEOUT_SECONDS * 1000;
    const { code, stdout, stderr, timedOut } = await run(
        python,
        ["-I", "-B", runtimeAsset("python-build-check.py"), treeDir, algoName, ...extra],
        timeoutMs,
    );
    if (timedOut)
        return { crashed: `Build failed: the build checks did not finish within ${timeoutMs / 1000} seconds` };
    try {
        const parsed = JSON.parse(stdout.trim().split("\n").pop() ?? "") as CheckOutput;
        if (code === 0 && Array.isArray(parsed.log)) return parsed;
    } catch {
        // reported below
    }
    return { crashed: `Build failed: the build checker crashed (exit ${code})\n${stderr.trim()}` };
}

function failure(line: string, durationSeconds: number): PythonBuildResult {
    const reason = line.replace(/^Build failed: /, "").split("\n")[0];
    return { ok: false, log: `${line}\n`, reason, durationSeconds };
}

function run(
    cmd: string,
    args: string[],
    timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
    return new Promise((resolve) => {
        // No user code runs here, but keep the environment small all the same.
        const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LANG: "C.UTF-8", PYTHONIOENCODING: "utf-8" };
        const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
        }, timeoutMs);
        child.stdout.on("data", (c: Buffer) => out.push(c));
        child.stderr.on("data", (c: Buffer) => err.push(c));
        child.on("error", (e) => {
            clearTimeout(timer);
            resolve({ code: -1, stdout: "", stderr: e.message, timedOut });
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({
                code: code ?? -1,
                stdout: Buffer.concat(out).toString("utf8"),
                stderr: Buffer.concat(err).toString("utf8"),
                timedOut,
            });
        });
    });
}
