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
import {
    AlgorithmEnvironment,
    PythonRuntimeError,
    ensureAlgorithmEnvironment,
    ensurePythonRuntime,
} from "./python-env";
import { askChecker } from "./python-checkers";

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
    const imports = await check(environment.python, treeDir, algoName, true);
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
    imports = false,
): Promise<CheckOutput | { crashed: string }> {
    const timeoutMs = BUILD_TIMEOUT_SECONDS * 1000;
    const reply = await askChecker(python, { tree: treeDir, algo: algoName, imports }, timeoutMs);
    if (reply.timedOut)
        return { crashed: `Build failed: the build checks did not finish within ${timeoutMs / 1000} seconds` };
    let parsed: (CheckOutput & { crashed?: undefined }) | { crashed: string } | undefined;
    try {
        parsed = JSON.parse(reply.line ?? "");
    } catch {
        // reported below
    }
    if (parsed && Array.isArray((parsed as CheckOutput).log)) return parsed as CheckOutput;
    const trace = typeof parsed?.crashed === "string" ? parsed.crashed : reply.stderr;
    return { crashed: `Build failed: the build checker crashed\n${trace.trim()}` };
}

function failure(line: string, durationSeconds: number): PythonBuildResult {
    const reason = line.replace(/^Build failed: /, "").split("\n")[0];
    return { ok: false, log: `${line}\n`, reason, durationSeconds };
}
