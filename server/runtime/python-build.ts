// The build of a Python algorithm: what a real Algorithmia Python build would catch without network access,
// checked statically by python-build-check.py (the algorithm's code is never imported or run here):
//   - algorithmia.conf, when present, is a JSON object;
//   - requirements.txt parses the way pip reads it (comments, blank lines, continuations, `-r`/`-c` includes
//     inside the tree; index options are accepted and ignored; editable/URL requirements accepted with a
//     warning; unknown options and malformed requirement lines fail). Nothing is installed per algorithm:
//     algorithms run in the shared runtime venv (python-env.ts), and requirements that it does not satisfy are
//     reported as warnings in the log;
//   - every .py file byte-compiles (failures give file:line:column and the SyntaxError message);
//   - the entry module src/<algoName>.py exists and defines a module-level callable `apply` taking the input.
// The log reads like a build log: "Beginning build of …", "Checking requirements.txt", "Compiling src/…",
// then "Build succeeded" or "Build failed: <reason>".
//
// API:
//     buildPython(treeDir, algoName): Promise<PythonBuildResult>
//         treeDir: a checked-out work tree of the algorithm's repository (not a bare repository).
//         Never throws for problems in the tree (they make ok false); throws PythonRuntimeError only when no
//         Python is available at all.
//     pythonEntryModule(algoName): string     the module the workers import ("src.<algoName>")
import { spawn } from "child_process";
import { ensurePythonRuntime, runtimeAsset } from "./python-env";

export interface PythonBuildResult {
    ok: boolean;
    /** The build log, one step per line, ending with "Build succeeded" or "Build failed: <reason>". */
    log: string;
    /** Why it failed (the first problem, with a count of the others); absent on success. */
    reason?: string;
    durationSeconds: number;
}

/** The build checks give up after this long. */
const BUILD_TIMEOUT_SECONDS = 120;

/** The dotted module name a worker imports for an algorithm built from src/<algoName>.py. */
export function pythonEntryModule(algoName: string): string {
    return `src.${algoName}`;
}

export async function buildPython(treeDir: string, algoName: string): Promise<PythonBuildResult> {
    const started = Date.now();
    // The checks run in the runtime venv, so requirements are compared with what algorithms will really have
    // (and `packaging` parses them).
    const python = (await ensurePythonRuntime()).python;
    const checker = runtimeAsset("python-build-check.py");
    const timeoutMs = BUILD_TIMEOUT_SECONDS * 1000;
    const { code, stdout, stderr, timedOut } = await run(python, ["-I", "-B", checker, treeDir, algoName], timeoutMs);
    const durationSeconds = (Date.now() - started) / 1000;
    if (timedOut) {
        return failure(`Build failed: the build checks did not finish within ${timeoutMs / 1000} seconds`, durationSeconds);
    }
    let parsed: { ok: boolean; log: string[]; reason: string | null } | undefined;
    try {
        parsed = JSON.parse(stdout.trim().split("\n").pop() ?? "");
    } catch {
        parsed = undefined;
    }
    if (code !== 0 || !parsed || !Array.isArray(parsed.log)) {
        return failure(`Build failed: the build checker crashed (exit ${code})\n${stderr.trim()}`, durationSeconds);
    }
    return { ok: !!parsed.ok, log: parsed.log.join("\n") + "\n", reason: parsed.reason ?? undefined, durationSeconds };
}

function failure(line: string, durationSeconds: number): PythonBuildResult {
    const reason = line.replace(/^Build failed: /, "").split("\n")[0];
    return { ok: false, log: `${line}\n`, reason, durationSeconds };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
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
            resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), timedOut });
        });
    });
}
