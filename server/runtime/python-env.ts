// The Python environments of algorithmia-local, virtual environments cached per machine under
//
//     <cache root>/python-runtime-<hash>/          the server's own runtime: the committed, fully pinned
//                                                  server/runtime/python-requirements.txt (the `algorithmia`
//                                                  client, packaging, ...), where the build checks run
//     <cache root>/python-envs/<hash>/             an algorithm's own environment: its requirements.txt (and the
//                                                  files that includes) installed by pip beside the Algorithmia
//                                                  client, where its workers run; shared by every build whose
//                                                  requirement files are the same, byte for byte
//
//     cache root: $PULUMI_ALGORITHMIA_CACHE, else $XDG_CACHE_HOME/pulumi-algorithmia, else ~/.cache/pulumi-algorithmia
//
// Each <hash> covers what the environment is made from and the base interpreter's version, so editing the
// requirements (or a new python3) makes a new environment; an algorithm's environment never sees the server's
// runtime. Deleting a directory is always safe: it is made again when next needed.
//
// API:
//     ensurePythonRuntime(options?): Promise<PythonRuntime>           the server's runtime, created on first use
//     ensureAlgorithmEnvironment(treeDir, files, log, options?)        an algorithm's environment, created on first use
//     runtimeAsset(name): string                                      a file shipped next to this module
//
// Creation fails with a PythonRuntimeError that says what is missing when python3, its venv module or pip are
// unavailable, or (for an algorithm) with pip's own message. Concurrency: callers in one process share one
// promise per environment; across processes a lock file (<dir>.lock, holding the creator's pid; a lock whose
// process is gone, or older than an hour, is stale and taken over) serialises creation, and the environment is
// built in a temporary directory that is renamed into place only once complete (it carries a `.complete`
// marker), so a killed creator never leaves a half-made environment behind. A venv is always used through its
// own interpreter (<dir>/bin/python), which finds its site-packages relative to itself, so the rename is safe.
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface PythonRuntime {
    /** The venv's interpreter: run algorithms and build checks with this. */
    python: string;
    /** The venv directory. */
    dir: string;
    /** The base interpreter's version, e.g. "3.11.7". */
    pythonVersion: string;
    /** The requirements file it was made from. */
    requirementsFile: string;
}

export interface PythonRuntimeOptions {
    /** The base interpreter; default $ALGORITHMIA_LOCAL_PYTHON, else `python3` on PATH. */
    python?: string;
}

export class PythonRuntimeError extends Error {}

/** An algorithm's own environment. */
export interface AlgorithmEnvironment {
    /** The <hash> naming it. */
    id: string;
    dir: string;
    python: string;
    /** Made by this call (false: it was there already). */
    created: boolean;
}

const COMPLETE_MARKER = ".complete";
const STALE_LOCK_MS = 60 * 60 * 1000;
const inProcess = new Map<string, { promise: Promise<string>; done: boolean }>();
// Base interpreter -> its version. Only successful probes are kept (a missing interpreter is probed again next
// time), so a warm ensurePythonRuntime() spawns nothing; a python3 replaced while the process runs is seen on restart.
const probed = new Map<string, string>();

/**
 * A file shipped beside this module (python-worker.py, python-build-check.py, python-requirements.txt). When
 * running from a compiled dist/ tree, where tsc copies no such files, it falls back to the source tree.
 */
export function runtimeAsset(name: string): string {
    const here = path.join(__dirname, name);
    if (fs.existsSync(here)) return here;
    const source = path.resolve(__dirname, "..", "..", "..", "server", "runtime", name);
    if (fs.existsSync(source)) return source;
    throw new PythonRuntimeError(`algorithmia-local: runtime file ${name} not found beside ${__dirname}`);
}

function defaultCacheRoot(): string {
    if (process.env.PULUMI_ALGORITHMIA_CACHE) return process.env.PULUMI_ALGORITHMIA_CACHE;
    const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    return path.join(xdg, "pulumi-algorithmia");
}

function basePython(options: PythonRuntimeOptions): string {
    return options.python ?? process.env.ALGORITHMIA_LOCAL_PYTHON ?? "python3";
}

/** The base interpreter's version (probed once per interpreter); throws a PythonRuntimeError saying how to get one when it is missing. */
function probePython(python: string): string {
    const known = probed.get(python);
    if (known !== undefined) return known;
    const probe = spawnSync(python, ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], { encoding: "utf8" });
    if (probe.error || probe.status !== 0) {
        const why = probe.error ? (probe.error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : probe.error.message
            : (probe.stderr || "").trim();
        throw new PythonRuntimeError(
            `algorithmia-local: cannot run Python algorithms: the interpreter '${python}' is unavailable (${why}). ` +
            `Install Python 3.9 or newer with its venv module (e.g. apt-get install python3 python3-venv), or set ` +
            `ALGORITHMIA_LOCAL_PYTHON to an interpreter.`);
    }
    const version = probe.stdout.trim();
    const [major, minor] = version.split(".").map(Number);
    if (major !== 3 || minor < 9) {
        throw new PythonRuntimeError(`algorithmia-local: '${python}' is Python ${version}; Python 3.9 or newer is needed`);
    }
    probed.set(python, version);
    return version;
}

function dirFor(pythonVersion: string): { dir: string; requirementsFile: string } {
    const requirementsFile = runtimeAsset("python-requirements.txt");
    const hash = crypto.createHash("sha256")
        .update(fs.readFileSync(requirementsFile))
        .update(`\0python ${pythonVersion}\0${process.platform}-${process.arch}`)
        .digest("hex").slice(0, 16);
    return { dir: path.join(defaultCacheRoot(), `python-runtime-${hash}`), requirementsFile };
}

/** The Python runtime, created on first use (minutes) and reused afterwards (milliseconds). */
export async function ensurePythonRuntime(options: PythonRuntimeOptions = {}): Promise<PythonRuntime> {
    const pythonVersion = probePython(basePython(options));
    const { dir, requirementsFile } = dirFor(pythonVersion);
    const log = (line: string) => process.stderr.write(`algorithmia-local: ${line}\n`);
    await once(dir, () => create(dir, {
        python: basePython(options),
        pipArgs: ["-r", requirementsFile],
        describe: { pythonVersion, requirements: fs.readFileSync(requirementsFile, "utf8") },
        log,
        announce: () => log("creating the Python runtime for algorithms (first run; this takes a few minutes)"),
        failed: (tail, code) => `algorithmia-local: installing the Python runtime's packages failed (pip exit ${code}); ` +
            `is the package index reachable?\n${tail}`,
    }));
    return result(dir, requirementsFile, pythonVersion);
}

/** The Algorithmia client as the platform provides it (the runtime's pin), unless the requirements name it. */
function clientRequirement(): string {
    const pin = fs.readFileSync(runtimeAsset("python-requirements.txt"), "utf8").split("\n").find((line) => /^algorithmia==/.test(line));
    if (!pin) throw new PythonRuntimeError("algorithmia-local: python-requirements.txt pins no algorithmia client");
    return pin.trim();
}

/**
 * The environment an algorithm runs in: `files` (requirements.txt and the files it includes, relative to
 * `treeDir`, as the build check lists them) installed by pip, with the Algorithmia client. Made once per set of
 * identical files and reused by every build and worker that needs it; pip's output goes to `log`.
 */
export async function ensureAlgorithmEnvironment(treeDir: string, files: string[], log: (line: string) => void,
    options: PythonRuntimeOptions = {}): Promise<AlgorithmEnvironment> {
    const pythonVersion = probePython(basePython(options));
    const contents = files.map((file) => ({ file, text: fs.readFileSync(path.join(treeDir, file), "utf8") }));
    const client = clientRequirement();
    const hash = crypto.createHash("sha256").update(`python ${pythonVersion}\0${process.platform}-${process.arch}\0${client}\0`);
    for (const { file, text } of contents) hash.update(`${file}\0${text}\0`);
    const id = hash.digest("hex").slice(0, 16);
    const dir = path.join(defaultCacheRoot(), "python-envs", id);
    const named = contents.some(({ text }) => /^\s*algorithmia\s*([<>=!~;[@]|$)/im.test(text));
    let created = false;
    await once(dir, () => create(dir, {
        python: basePython(options),
        // pip reads the copies kept in the environment, so it describes itself and can be made again from them.
        pipArgs: [...(files.length ? ["-r", path.join("requirements", "requirements.txt")] : []), ...(named ? [] : [client])],
        prepare: (tmp) => {
            for (const { file, text } of contents) {
                fs.mkdirSync(path.dirname(path.join(tmp, "requirements", file)), { recursive: true });
                fs.writeFileSync(path.join(tmp, "requirements", file), text);
            }
        },
        describe: { pythonVersion, files, client: named ? undefined : client },
        log,
        announce: () => {
            created = true;
            log(`Installing the requirements into a new environment of this algorithm (${id})`);
        },
        failed: (tail, code) => `pip could not install the requirements (exit ${code}):\n${tail}`,
    }));
    if (!created) log(`Using the environment ${id}: the same requirements were installed before`);
    return { id, dir, python: path.join(dir, "bin", "python"), created };
}

/** One creation per directory at a time in this process; a failed one, or one deleted since, is made again. */
function once(dir: string, make: () => Promise<string>): Promise<string> {
    const known = inProcess.get(dir);
    if (known && (!known.done || complete(dir))) return known.promise;
    const entry = { promise: make(), done: false };
    inProcess.set(dir, entry);
    entry.promise.then(() => (entry.done = true), () => inProcess.delete(dir));
    return entry.promise;
}

function complete(dir: string): boolean {
    return fs.existsSync(path.join(dir, COMPLETE_MARKER)) && fs.existsSync(path.join(dir, "bin", "python"));
}

function result(dir: string, requirementsFile: string, pythonVersion: string): PythonRuntime {
    return { python: path.join(dir, "bin", "python"), dir, pythonVersion, requirementsFile };
}

/** How to make one environment. */
interface EnvironmentRecipe {
    /** The base interpreter of the venv. */
    python: string;
    /** What `pip install` gets, run in the new environment's directory. */
    pipArgs: string[];
    /** Files to put in the new environment before pip runs. */
    prepare?: (tmp: string) => void;
    /** Written into the `.complete` marker. */
    describe: object;
    log: (line: string) => void;
    /** Called once this process is the one creating it. */
    announce: () => void;
    /** The error message when pip fails. */
    failed: (pipTail: string, code: number) => string;
}

/** Makes the environment at `dir` unless it is complete already; answers `dir`. */
async function create(dir: string, recipe: EnvironmentRecipe): Promise<string> {
    const { log } = recipe;
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const lock = `${dir}.lock`;
    let waitingSaid = false;
    for (;;) {
        if (complete(dir)) return dir; // on the first pass: already made
        if (tryLock(lock)) break;
        if (!waitingSaid) {
            log(`Waiting for another process creating the Python environment ${dir}`);
            waitingSaid = true;
        }
        await sleep(1000);
    }
    try {
        if (complete(dir)) return dir;
        recipe.announce();
        const tmp = `${dir}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
        try {
            recipe.prepare?.(tmp);
            await build(tmp, recipe);
            fs.writeFileSync(path.join(tmp, COMPLETE_MARKER), JSON.stringify({ ...recipe.describe, created: new Date().toISOString() }) + "\n");
            fs.rmSync(dir, { recursive: true, force: true }); // an incomplete leftover, if any
            fs.renameSync(tmp, dir);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
        log(`Python environment ready in ${dir}`);
        return dir;
    } finally {
        fs.rmSync(lock, { force: true });
    }
}

/** Takes the lock file, or takes over a stale one; false when another live process holds it. */
function tryLock(lock: string): boolean {
    try {
        fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), at: Date.now() }), { flag: "wx" });
        return true;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: { pid?: number; host?: string; at?: number } = {};
    try {
        holder = JSON.parse(fs.readFileSync(lock, "utf8"));
    } catch {
        // Being written right now, or garbage: judge by its age.
        try {
            holder = { at: fs.statSync(lock).mtimeMs };
        } catch {
            return false; // just removed: try again
        }
    }
    const dead = holder.pid !== undefined && holder.host === os.hostname() && !alive(holder.pid);
    const old = Date.now() - (holder.at ?? 0) > STALE_LOCK_MS;
    if (dead || old) fs.rmSync(lock, { force: true });
    return false;
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

async function build(tmp: string, recipe: EnvironmentRecipe): Promise<void> {
    const { python, log } = recipe;
    log(`  ${python} -m venv ${tmp}`);
    const venv = await runLogged(python, ["-m", "venv", tmp], log);
    if (venv.code !== 0 || !fs.existsSync(path.join(tmp, "bin", "python"))) {
        throw new PythonRuntimeError(
            `algorithmia-local: could not create a virtual environment with '${python} -m venv' (exit ${venv.code}). ` +
            `Install the venv module (e.g. apt-get install python3-venv).\n${venv.tail}`);
    }
    const venvPython = path.join(tmp, "bin", "python");
    const pipCheck = await runLogged(venvPython, ["-m", "pip", "--version"], log);
    if (pipCheck.code !== 0) {
        throw new PythonRuntimeError(
            `algorithmia-local: the new virtual environment has no pip (exit ${pipCheck.code}). ` +
            `Install ensurepip/pip for '${python}' (e.g. apt-get install python3-venv python3-pip).\n${pipCheck.tail}`);
    }
    log(`  pip install ${recipe.pipArgs.join(" ")}`);
    const pip = await runLogged(venvPython,
        ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", ...recipe.pipArgs], log, tmp);
    if (pip.code !== 0) throw new PythonRuntimeError(recipe.failed(pip.tail, pip.code));
}

/** Runs a command, sending its output lines to `log`; keeps the last lines for error messages. */
function runLogged(cmd: string, args: string[], log: (line: string) => void, cwd?: string): Promise<{ code: number; tail: string }> {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd });
        const lines: string[] = [];
        let partial = "";
        const onData = (chunk: Buffer) => {
            const parts = (partial + chunk.toString("utf8")).split("\n");
            partial = parts.pop() ?? "";
            for (const line of parts) {
                if (!line.trim()) continue;
                lines.push(line);
                if (lines.length > 40) lines.shift();
                log(`    ${line}`);
            }
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.on("error", (err) => resolve({ code: -1, tail: err.message }));
        child.on("close", (code) => {
            if (partial.trim()) lines.push(partial);
            resolve({ code: code ?? -1, tail: lines.join("\n") });
        });
    });
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
