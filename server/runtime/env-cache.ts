// The machine-wide cache of algorithmia-local's environments (python-env.ts, node-env.ts): directories named by a
// hash of what they are made from, made once and shared by every build, worker and server process.
//
//     cache root: $PULUMI_ALGORITHMIA_CACHE, else $XDG_CACHE_HOME/pulumi-algorithmia, else ~/.cache/pulumi-algorithmia
//
// Deleting an environment is always safe: it is made again when next needed.
//
// API:
//     cacheRoot(): string
//     runtimeAsset(name): string                          a file shipped next to this module
//     ensureEnvironment(dir, recipe): Promise<string>     the environment at `dir`, made by `recipe.make` unless complete
//     runLogged(cmd, args, log, options?)                 runs an installer, its output lines to `log`
//
// Concurrency: callers in one process share one promise per environment; across processes a lock file
// (<dir>.lock, holding the creator's pid; a lock whose process is gone, or older than an hour, is stale and taken
// over) serialises creation, and the environment is made in a temporary directory that is renamed into place only
// once complete (it then carries a `.complete` marker), so a killed creator never leaves a half-made one behind.
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export class EnvironmentError extends Error {}

/** How to make one environment. */
export interface EnvironmentRecipe {
    /** What it is, for the log: "Python environment", "Node environment". */
    kind: string;
    /** A path every complete environment has besides the marker (e.g. bin/python), relative to it. */
    contains: string;
    /** Fills `tmp`, a path that does not exist yet; throws to fail the creation. */
    make: (tmp: string) => Promise<void>;
    /** Written into the `.complete` marker. */
    describe: object;
    log: (line: string) => void;
    /** Called once this process is the one creating it. */
    announce: () => void;
}

const COMPLETE_MARKER = ".complete";
const STALE_LOCK_MS = 60 * 60 * 1000;
const inProcess = new Map<string, { promise: Promise<string>; done: boolean }>();

export function cacheRoot(): string {
    if (process.env.PULUMI_ALGORITHMIA_CACHE) return process.env.PULUMI_ALGORITHMIA_CACHE;
    const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    return path.join(xdg, "pulumi-algorithmia");
}

/**
 * A file shipped beside this module (python-worker.py, node-worker.js, ...). When running from a compiled dist/
 * tree, where tsc copies no such files, it falls back to the source tree.
 */
export function runtimeAsset(name: string): string {
    const here = path.join(__dirname, name);
    if (fs.existsSync(here)) return here;
    const source = path.resolve(__dirname, "..", "..", "..", "server", "runtime", name);
    if (fs.existsSync(source)) return source;
    throw new EnvironmentError(`algorithmia-local: runtime file ${name} not found beside ${__dirname}`);
}

/** The environment at `dir`, made once per directory at a time in this process; a failed one, or one deleted since, is made again. */
export function ensureEnvironment(dir: string, recipe: EnvironmentRecipe): Promise<string> {
    const known = inProcess.get(dir);
    if (known && (!known.done || complete(dir, recipe))) return known.promise;
    const entry = { promise: create(dir, recipe), done: false };
    inProcess.set(dir, entry);
    entry.promise.then(
        () => (entry.done = true),
        () => inProcess.delete(dir),
    );
    return entry.promise;
}

function complete(dir: string, recipe: EnvironmentRecipe): boolean {
    return fs.existsSync(path.join(dir, COMPLETE_MARKER)) && fs.existsSync(path.join(dir, recipe.contains));
}

/** Makes the environment at `dir` unless it is complete already; answers `dir`. */
async function create(dir: string, recipe: EnvironmentRecipe): Promise<string> {
    const { log } = recipe;
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const lock = `${dir}.lock`;
    let waitingSaid = false;
    for (;;) {
        if (complete(dir, recipe)) return dir; // on the first pass: already made
        if (tryLock(lock)) break;
        if (!waitingSaid) {
            log(`Waiting for another process creating the ${recipe.kind} ${dir}`);
            waitingSaid = true;
        }
        await sleep(1000);
    }
    try {
        if (complete(dir, recipe)) return dir;
        recipe.announce();
        const tmp = `${dir}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
        try {
            await recipe.make(tmp);
            const marker = { ...recipe.describe, created: new Date().toISOString() };
            fs.writeFileSync(path.join(tmp, COMPLETE_MARKER), JSON.stringify(marker) + "\n");
            fs.rmSync(dir, { recursive: true, force: true }); // an incomplete leftover, if any
            fs.renameSync(tmp, dir);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
        log(`${recipe.kind} ready in ${dir}`);
        return dir;
    } finally {
        fs.rmSync(lock, { force: true });
    }
}

/** Takes the lock file, or takes over a stale one; false when another live process holds it. */
function tryLock(lock: string): boolean {
    try {
        fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), at: Date.now() }), {
            flag: "wx",
        });
        return true;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: { pid?: number; host?: string; at?: number };
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

/** Runs a command, sending its output lines to `log`; keeps the last lines for error messages. */
export function runLogged(
    cmd: string,
    args: string[],
    log: (line: string) => void,
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; tail: string }> {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd, env: options.env });
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
