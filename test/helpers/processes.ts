// Processes in tests and benchmarks: algorithmia-local as a child process (so it can be
// killed with SIGKILL and restarted on the same data directory and port), the `pulumi` CLI run asynchronously
// (so it can be killed mid-update), and peak-memory sampling of a process tree from /proc.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ServerOptions } from "../../server";
import { engineBinDir, repoRoot } from "./pulumi";
import { ServerProcess, spawnServer } from "./server-process";

/** The server's own options; a `port` of 0 picks a free port on first start, and restarts keep it. */
export type LocalServerOptions = Partial<
    Pick<ServerOptions, "dataDir" | "port" | "users" | "orgs" | "faults" | "log" | "workers">
>;

/** The options that stay unset unless given. */
type Optional = "faults" | "log" | "workers";

/** The CLI flag of each worker-pool count (`gpus` is a device list: the CLI takes it as CUDA_VISIBLE_DEVICES would). */
const WORKER_FLAGS: Record<Exclude<keyof NonNullable<ServerOptions["workers"]>, "gpus">, string> = {
    maxWorkersPerKey: "--workers-per-version",
    maxQueuePerKey: "--queue-per-version",
    maxWorkers: "--max-workers",
    idleTimeoutSeconds: "--worker-idle-seconds",
};

/** algorithmia-local in its own process (see server-process.ts), restartable on the same data directory and port. */
export class LocalServer {
    private constructor(
        readonly options: Required<Omit<LocalServerOptions, Optional>> & Pick<LocalServerOptions, Optional>,
        readonly process: ServerProcess,
    ) {}

    get url(): string {
        return this.process.url;
    }

    static async start(options: LocalServerOptions = {}): Promise<LocalServer> {
        const opts = {
            dataDir: options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "algorithmia-local-proc-")),
            port: options.port ?? 0,
            users: options.users ?? [],
            orgs: options.orgs ?? [],
            faults: options.faults,
            log: options.log,
            workers: options.workers,
        };
        const args = ["--port", String(opts.port), "--data-dir", opts.dataDir];
        for (const u of opts.users) args.push("--user", `${u.name}:${u.key}`);
        for (const o of opts.orgs) args.push("--org", `${o.name}:${o.members.join(",")}`);
        if (opts.faults) args.push("--faults", opts.faults);
        if (opts.log) args.push("--log");
        for (const [setting, value] of Object.entries(opts.workers ?? {})) {
            if (value !== undefined) args.push(WORKER_FLAGS[setting as keyof typeof WORKER_FLAGS], String(value));
        }
        const proc = await spawnServer(args);
        return new LocalServer({ ...opts, port: proc.port }, proc);
    }

    /** Sends `signal` (default SIGKILL: no chance to clean up) and waits for the process to exit. */
    kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
        return this.process.stop(signal);
    }

    /** A new process on the same data directory and port. */
    restart(overrides: Partial<LocalServerOptions> = {}): Promise<LocalServer> {
        return LocalServer.start({ ...this.options, ...overrides });
    }

    /** Stops the process and removes its data directory. */
    async dispose(): Promise<void> {
        await this.kill();
        fs.rmSync(this.options.dataDir, { recursive: true, force: true });
    }
}

export interface CliRun {
    child: ChildProcess;
    /** SIGKILLs the CLI and every process it started (language host, plugins), like a machine losing power. */
    killTree(): void;
    /** Resolves when the CLI exits, with its exit code and all output. */
    done: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
    output(): string;
}

/** Starts the `pulumi` CLI in `cwd` with `env` (an engine sandbox's variables) without waiting for it. */
export function startCli(cwd: string, args: string[], env: Record<string, string>): CliRun {
    const child = spawn(path.join(engineBinDir(), "pulumi"), [...args, "--non-interactive"], {
        cwd,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
        child.once("close", (code, signal) => resolve({ code, signal, output })),
    );
    // The engine starts each plugin in a process group of its own, so the CLI's group is not enough: every
    // descendant is found first (killing parents first would orphan the rest), then all are killed.
    const killTree = () => {
        for (const pid of [child.pid!, ...descendants(child.pid!)]) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
    };
    return { child, done, output: () => output, killTree };
}

/** Runs the CLI to completion; throws with its output when it fails. */
export async function runCli(cwd: string, args: string[], env: Record<string, string>): Promise<string> {
    const { code, output } = await startCli(cwd, args, env).done;
    if (code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${code}:\n${output}`);
    return output;
}

/** The provider package as a Pulumi program in a project directory imports it (an absolute path). */
export const PROVIDER_IMPORT = JSON.stringify(path.join(repoRoot, "provider"));

/** Writes a Pulumi project (Pulumi.yaml + index.ts holding `program`) into a fresh directory under `parent`. */
export function writeProject(parent: string, name: string, program: string): string {
    const dir = fs.mkdtempSync(path.join(parent, `${name}-`));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime: nodejs\n`);
    fs.writeFileSync(path.join(dir, "index.ts"), program);
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

/**
 * A Pulumi project directory run by the real `pulumi` CLI and the nodejs language host with `env` (an engine
 * sandbox's variables plus the program's own).
 */
export class CliProject {
    constructor(
        readonly dir: string,
        readonly env: Record<string, string>,
    ) {}

    async init(stack: string): Promise<this> {
        await this.cli("stack", "init", stack, "--secrets-provider", "passphrase");
        return this;
    }

    cli(...args: string[]): Promise<string> {
        return runCli(this.dir, args, this.env);
    }

    /** Starts the CLI without waiting (to watch or kill its process tree). */
    start(...args: string[]): CliRun {
        return startCli(this.dir, args, this.env);
    }

    /** `pulumi stack export`, by file (the CLI's output may hold warnings too). */
    async exportedState(): Promise<string> {
        const file = path.join(this.dir, "exported-state.json");
        await this.cli("stack", "export", "--file", file);
        return fs.readFileSync(file, "utf8");
    }
}

/** Each resource's serialized providers in a `pulumi stack export`: the `__provider` of its inputs, then of its outputs. */
export function serializedProviders(exported: string): string[][] {
    const resources: { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[] =
        JSON.parse(exported).deployment.resources ?? [];
    return resources
        .map((r) =>
            [r.inputs?.__provider, r.outputs?.__provider].filter((code): code is string => typeof code === "string"),
        )
        .filter((codes) => codes.length > 0);
}

/** Every descendant of `pid` (children, grandchildren, ...) read from /proc. */
export function descendants(pid: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            // The command name may hold spaces and parentheses: the parent pid follows the last ")".
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
        } catch {
            // The process ended while we looked.
        }
    }
    const out: number[] = [];
    const walk = (p: number) => {
        for (const c of children.get(p) ?? []) {
            out.push(c);
            walk(c);
        }
    };
    walk(pid);
    return out;
}

function readCmdline(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
    } catch {
        return "";
    }
}

/** VmHWM (the kernel's peak resident set size) of a process in bytes, or undefined once it is gone. */
function peakRss(pid: number): number | undefined {
    try {
        const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return match ? Number(match[1]) * 1024 : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Samples, every `intervalMs`, the peak RSS (VmHWM) of each descendant of `rootPid` whose command line matches
 * `pattern`. VmHWM only grows, so the last sample before a process exits misses at most one interval's growth.
 * `stop()` answers the largest peak seen for any one matching process, and how many matched.
 */
export function sampleTreePeakRss(rootPid: number, pattern: RegExp, intervalMs = 50) {
    const peaks = new Map<number, number>();
    const sample = () => {
        for (const pid of descendants(rootPid)) {
            if (!pattern.test(readCmdline(pid))) continue;
            const rss = peakRss(pid);
            if (rss !== undefined) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, rss));
        }
    };
    const timer = setInterval(sample, intervalMs);
    sample();
    return {
        stop(): { peakBytes: number; processes: number } {
            clearInterval(timer);
            sample();
            return { peakBytes: Math.max(0, ...peaks.values()), processes: peaks.size };
        },
    };
}

/** The dynamic-provider plugin process (`node …/@pulumi/pulumi/cmd/dynamic-provider`). */
export const DYNAMIC_PROVIDER_PROCESS = /cmd\/dynamic-provider/;

/**
 * Kills (SIGKILL) the dynamic-provider processes the engine started for this test process — an `up` that dies
 * in the middle of a step. Answers how many it killed.
 */
export function killDynamicProviders(): number {
    const pids = descendants(process.pid).filter((pid) => DYNAMIC_PROVIDER_PROCESS.test(readCmdline(pid)));
    for (const pid of pids) process.kill(pid, "SIGKILL");
    return pids.length;
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** Polls `check` every `intervalMs` until it holds; throws naming `what` after `timeoutMs`. */
export async function until(
    what: string,
    check: () => boolean | Promise<boolean>,
    timeoutMs: number,
    intervalMs: number,
): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
}

/** Polls `condition` every 50 ms for up to `ms`; returns its last value (for assertions of their own). */
export async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        if (condition()) return true;
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return condition();
}
