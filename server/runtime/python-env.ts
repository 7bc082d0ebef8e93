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
//     cache root: see env-cache.ts (the lock, temporary directory and `.complete` marker machinery lives there)
//
// Each <hash> covers what the environment is made from and the base interpreter's version, so editing the
// requirements (or a new python3) makes a new environment; an algorithm's environment never sees the server's
// runtime. Deleting a directory is always safe: it is made again when next needed.
//
// API:
//     ensurePythonRuntime(options?): Promise<PythonRuntime>           the server's runtime, created on first use
//     ensureAlgorithmEnvironment(treeDir, files, log, options?)        an algorithm's environment, created on first use
//     runtimeAsset(name): string                                      a file shipped next to this module (env-cache.ts)
//
// Creation fails with a PythonRuntimeError that says what is missing when python3, its venv module or pip are
// unavailable, or (for an algorithm) with pip's own message. A venv is always used through its own interpreter
// (<dir>/bin/python), which finds its site-packages relative to itself, so env-cache.ts may rename it into place.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
    cacheRoot,
    ensureEnvironment,
    EnvironmentError,
    EnvironmentRecipe,
    runLogged,
    runtimeAsset,
} from "./env-cache";

export { runtimeAsset };

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

export class PythonRuntimeError extends EnvironmentError {}

/** An algorithm's own environment. */
export interface AlgorithmEnvironment {
    /** The <hash> naming it. */
    id: string;
    dir: string;
    python: string;
    /** Made by this call (false: it was there already). */
    created: boolean;
}

// Base interpreter -> its version. Only successful probes are kept (a missing interpreter is probed again next
// time), so a warm ensurePythonRuntime() spawns nothing; a python3 replaced while the process runs is seen on restart.
const probed = new Map<string, string>();

function basePython(options: PythonRuntimeOptions): string {
    return options.python ?? process.env.ALGORITHMIA_LOCAL_PYTHON ?? "python3";
}

/** The base interpreter's version (probed once per interpreter); throws a PythonRuntimeError saying how to get one when it is missing. */
function probePython(python: string): string {
    const known = probed.get(python);
    if (known !== undefined) return known;
    const probe = spawnSync(python, ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], {
        encoding: "utf8",
    });
    if (probe.error || probe.status !== 0) {
        const why = probe.error
            ? (probe.error as NodeJS.ErrnoException).code === "ENOENT"
                ? "not found"
                : probe.error.message
            : (probe.stderr || "").trim();
        throw new PythonRuntimeError(
            `algorithmia-local: cannot run Python algorithms: the interpreter '${python}' is unavailable (${why}). ` +
                `Install Python 3.9 or newer with its venv module (e.g. apt-get install python3 python3-venv), or set ` +
                `ALGORITHMIA_LOCAL_PYTHON to an interpreter.`,
        );
    }
    const version = probe.stdout.trim();
    const [major, minor] = version.split(".").map(Number);
    if (major !== 3 || minor < 9) {
        throw new PythonRuntimeError(
            `algorithmia-local: '${python}' is Python ${version}; Python 3.9 or newer is needed`,
        );
    }
    probed.set(python, version);
    return version;
}

function dirFor(pythonVersion: string): { dir: string; requirementsFile: string } {
    const requirementsFile = runtimeAsset("python-requirements.txt");
    const hash = crypto
        .createHash("sha256")
        .update(fs.readFileSync(requirementsFile))
        .update(`\0python ${pythonVersion}\0${process.platform}-${process.arch}`)
        .digest("hex")
        .slice(0, 16);
    return { dir: path.join(cacheRoot(), `python-runtime-${hash}`), requirementsFile };
}

/** The Python runtime, created on first use (minutes) and reused afterwards (milliseconds). */
export async function ensurePythonRuntime(options: PythonRuntimeOptions = {}): Promise<PythonRuntime> {
    const pythonVersion = probePython(basePython(options));
    const { dir, requirementsFile } = dirFor(pythonVersion);
    const log = (line: string) => process.stderr.write(`algorithmia-local: ${line}\n`);
    await ensureEnvironment(
        dir,
        venv({
            python: basePython(options),
            pipArgs: ["-r", requirementsFile],
            describe: { pythonVersion, requirements: fs.readFileSync(requirementsFile, "utf8") },
            log,
            announce: () => log("creating the Python runtime for algorithms (first run; this takes a few minutes)"),
            failed: (tail, code) =>
                `algorithmia-local: installing the Python runtime's packages failed (pip exit ${code}); ` +
                `is the package index reachable?\n${tail}`,
        }),
    );
    return result(dir, requirementsFile, pythonVersion);
}

/** The Algorithmia client as the platform provides it (the runtime's pin), unless the requirements name it. */
function clientRequirement(): string {
    const pin = fs
        .readFileSync(runtimeAsset("python-requirements.txt"), "utf8")
        .split("\n")
        .find((line) => /^algorithmia==/.test(line));
    if (!pin) throw new PythonRuntimeError("algorithmia-local: python-requirements.txt pins no algorithmia client");
    return pin.trim();
}

/**
 * The environment an algorithm runs in: `files` (requirements.txt and the files it includes, relative to
 * `treeDir`, as the build check lists them) installed by pip, with the Algorithmia client. Made once per set of
 * identical files and reused by every build and worker that needs it; pip's output goes to `log`.
 */
export async function ensureAlgorithmEnvironment(
    treeDir: string,
    files: string[],
    log: (line: string) => void,
    options: PythonRuntimeOptions = {},
): Promise<AlgorithmEnvironment> {
    const pythonVersion = probePython(basePython(options));
    const contents = files.map((file) => ({ file, text: fs.readFileSync(path.join(treeDir, file), "utf8") }));
    const client = clientRequirement();
    const hash = crypto
        .createHash("sha256")
        .update(`python ${pythonVersion}\0${process.platform}-${process.arch}\0${client}\0`);
    for (const { file, text } of contents) hash.update(`${file}\0${text}\0`);
    const id = hash.digest("hex").slice(0, 16);
    const dir = path.join(cacheRoot(), "python-envs", id);
    const named = contents.some(({ text }) => /^\s*algorithmia\s*([<>=!~;[@]|$)/im.test(text));
    let created = false;
    await ensureEnvironment(
        dir,
        venv({
            python: basePython(options),
            // pip reads the copies kept in the environment, so it describes itself and can be made again from them.
            pipArgs: [
                ...(files.length ? ["-r", path.join("requirements", "requirements.txt")] : []),
                ...(named ? [] : [client]),
            ],
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
        }),
    );
    if (!created) log(`Using the environment ${id}: the same requirements were installed before`);
    return { id, dir, python: path.join(dir, "bin", "python"), created };
}

function result(dir: string, requirementsFile: string, pythonVersion: string): PythonRuntime {
    return { python: path.join(dir, "bin", "python"), dir, pythonVersion, requirementsFile };
}

/** How to make one venv. */
interface VenvRecipe extends Omit<EnvironmentRecipe, "kind" | "contains" | "make"> {
    /** The base interpreter of the venv. */
    python: string;
    /** What `pip install` gets, run in the new environment's directory. */
    pipArgs: string[];
    /** Files to put in the new environment before pip runs. */
    prepare?: (tmp: string) => void;
    /** The error message when pip fails. */
    failed: (pipTail: string, code: number) => string;
}

function venv(recipe: VenvRecipe): EnvironmentRecipe {
    return {
        ...recipe,
        kind: "Python environment",
        contains: path.join("bin", "python"),
        make: async (tmp) => {
            recipe.prepare?.(tmp);
            await build(tmp, recipe);
        },
    };
}

async function build(tmp: string, recipe: VenvRecipe): Promise<void> {
    const { python, log } = recipe;
    log(`  ${python} -m venv ${tmp}`);
    const venv = await runLogged(python, ["-m", "venv", tmp], log);
    if (venv.code !== 0 || !fs.existsSync(path.join(tmp, "bin", "python"))) {
        throw new PythonRuntimeError(
            `algorithmia-local: could not create a virtual environment with '${python} -m venv' (exit ${venv.code}). ` +
                `Install the venv module (e.g. apt-get install python3-venv).\n${venv.tail}`,
        );
    }
    const venvPython = path.join(tmp, "bin", "python");
    const pipCheck = await runLogged(venvPython, ["-m", "pip", "--version"], log);
    if (pipCheck.code !== 0) {
        throw new PythonRuntimeError(
            `algorithmia-local: the new virtual environment has no pip (exit ${pipCheck.code}). ` +
                `Install ensurepip/pip for '${python}' (e.g. apt-get install python3-venv python3-pip).\n${pipCheck.tail}`,
        );
    }
    log(`  pip install ${recipe.pipArgs.join(" ")}`);
    const pip = await runLogged(
        venvPython,
        [
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            ...recipe.pipArgs,
        ],
        log,
        { cwd: tmp },
    );
    if (pip.code !== 0) throw new PythonRuntimeError(recipe.failed(pip.tail, pip.code));
}
