// Runs algorithmia-local as its own process through its real entry point (bin/algorithmia-local.js, or any command
// line such as `npx algorithmia-local`), for tests that kill it, restart it, or measure its memory.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const REPO_ROOT = path.join(__dirname, "..", "..");
export const BIN = path.join(REPO_ROOT, "bin", "algorithmia-local.js");

export interface ServerProcess {
    child: ChildProcess;
    url: string;
    port: number;
    /** Everything the process printed on stdout so far. */
    stdout(): string;
    /** Everything the process printed on stderr so far. */
    stderr(): string;
    /** Resident memory now (VmRSS), in bytes. */
    rss(): number;
    /** Sends `signal` to the process group and waits for the process to exit. */
    stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `command args` (default: node bin/algorithmia-local.js) in its own process group and waits for the line
 * `algorithmia-local listening on http://127.0.0.1:P`. The process is the group leader, so stop() also ends
 * whatever a wrapper such as npx started.
 */
export async function spawnServer(
    args: string[],
    command: string[] = [process.execPath, BIN],
    cwd = REPO_ROOT,
): Promise<ServerProcess> {
    const child = spawn(command[0], [...command.slice(1), ...args], {
        cwd,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (chunk) => (out += chunk));
    child.stderr!.on("data", (chunk) => (err += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const port = await new Promise<number>((resolve, reject) => {
        const check = () => {
            const match = /^algorithmia-local listening on http:\/\/127\.0\.0\.1:(\d+)$/m.exec(out);
            if (match) resolve(Number(match[1]));
        };
        child.stdout!.on("data", check);
        child.once("exit", (code, signal) =>
            reject(new Error(`algorithmia-local exited (${code ?? signal}) before listening:\n${out}\n${err}`)),
        );
    });
    return {
        child,
        port,
        url: `http://127.0.0.1:${port}`,
        stdout: () => out,
        stderr: () => err,
        rss: () => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) * 1024,
        async stop(signal: NodeJS.Signals = "SIGTERM") {
            if (child.exitCode === null && child.signalCode === null) {
                try {
                    process.kill(-child.pid!, signal);
                } catch {
                    // already gone
                }
            }
            await exited;
        },
    };
}
