// The Python build checks (python-build-check.py) as long-running processes, one per interpreter and request in
// flight: a check takes milliseconds, while starting an interpreter and importing what the checker needs took
// about 50 ms of CPU per check, two checks per build, and a fork of the server's main thread each (npm run bench:
// most of an `up` of 100 algorithms' Python time).
//
// A checker answers one request at a time. Idle ones stay a few seconds for the next build, then end; one that
// runs past its timeout or breaks is killed and never reused, so the next request gets a fresh process. The
// processes read their requests from a pipe: if the server dies, they see end-of-file and end with it.
//
// API:
//     askChecker(python, request, timeoutMs): Promise<CheckerReply>   one request, on an idle or a new checker
import { ChildProcess, spawn } from "child_process";
import type { Socket } from "net";
import * as os from "os";
import { runtimeAsset } from "./python-env";

export interface CheckRequest {
    /** The checked-out tree. */
    tree: string;
    algo: string;
    /** Only the imports check (run with the algorithm's own environment's interpreter). */
    imports: boolean;
}

export interface CheckerReply {
    /** The checker's answer line (JSON), or undefined when it broke or ran out of time. */
    line?: string;
    timedOut: boolean;
    /** The end of what the checker wrote on stderr, to explain a crash. */
    stderr: string;
}

/** How long an idle checker waits for the next request before it ends. */
const IDLE_MS = 5000;
/** Checkers per interpreter at most; further requests wait for one to be free. */
const MAX_PER_INTERPRETER = Math.max(2, os.availableParallelism());

/** A running `python-build-check.py --serve`. */
class Checker {
    private readonly child: ChildProcess;
    private output = "";
    private stderr = "";
    private answer?: (line: string | undefined) => void;
    private idleTimer?: NodeJS.Timeout;
    /** While idle: what to do if it ends (its pool lets go of it). */
    private onIdleEnd?: () => void;
    ended = false;

    constructor(readonly python: string) {
        this.child = spawn(python, ["-I", "-B", runtimeAsset("python-build-check.py"), "--serve"], {
            stdio: ["pipe", "pipe", "pipe"],
            // No user code runs here, but keep the environment small all the same.
            env: { PATH: process.env.PATH, LANG: "C.UTF-8", PYTHONIOENCODING: "utf-8" },
        });
        this.child.stdout!.setEncoding("utf8").on("data", (text: string) => {
            this.output += text;
            const end = this.output.indexOf("\n");
            if (end < 0) return;
            const line = this.output.slice(0, end);
            this.output = this.output.slice(end + 1);
            this.settle(line);
        });
        this.child.stderr!.setEncoding("utf8").on("data", (text: string) => {
            this.stderr = (this.stderr + text).slice(-16_384);
        });
        // A checker that died mid-request answers nothing; writing to it then fails with EPIPE, reported the same way.
        this.child.stdin!.on("error", () => this.end());
        this.child.on("error", (err) => {
            this.stderr += err.message;
            this.end();
        });
        this.child.on("close", () => this.end());
    }

    ask(request: CheckRequest, timeoutMs: number): Promise<CheckerReply> {
        clearTimeout(this.idleTimer);
        this.onIdleEnd = undefined;
        this.holdProcess(true);
        return new Promise((resolve) => {
            const timer = setTimeout(() => {
                this.answer = undefined;
                this.end();
                resolve({ timedOut: true, stderr: this.stderr });
            }, timeoutMs);
            this.answer = (line) => {
                clearTimeout(timer);
                resolve({ line, timedOut: false, stderr: this.stderr });
            };
            if (this.ended) this.settle(undefined);
            else this.child.stdin!.write(JSON.stringify(request) + "\n");
        });
    }

    /** Waits for the next request, and ends if none comes in time; `onEnd` runs if it ends before one comes. */
    idle(onEnd: () => void): void {
        this.holdProcess(false);
        this.onIdleEnd = onEnd;
        this.idleTimer = setTimeout(() => this.end(), IDLE_MS);
    }

    end(): void {
        if (!this.ended) {
            this.ended = true;
            this.child.kill("SIGKILL");
            clearTimeout(this.idleTimer);
            const onIdleEnd = this.onIdleEnd;
            this.onIdleEnd = undefined;
            onIdleEnd?.();
        }
        this.settle(undefined);
    }

    /** An idle checker does not keep this process alive (a script that ran a build may end at once). */
    private holdProcess(hold: boolean): void {
        const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as (
            ChildProcess | Socket
        )[];
        for (const handle of handles)
            if (hold) handle.ref();
            else handle.unref();
    }

    private settle(line: string | undefined): void {
        const answer = this.answer;
        this.answer = undefined;
        answer?.(line);
    }
}

/** Per interpreter: the idle checkers, how many there are in all, and the requests waiting for one. */
const pools = new Map<string, { idle: Checker[]; count: number; waiting: (() => void)[] }>();

/** Runs one check on a checker of `python` (an idle one, else a new one while under the limit, else the next free). */
export async function askChecker(python: string, request: CheckRequest, timeoutMs: number): Promise<CheckerReply> {
    let pool = pools.get(python);
    if (!pool) pools.set(python, (pool = { idle: [], count: 0, waiting: [] }));
    while (pool.idle.length === 0 && pool.count >= MAX_PER_INTERPRETER) {
        await new Promise<void>((resolve) => pool!.waiting.push(resolve));
    }
    let checker = pool.idle.pop();
    const reused = checker !== undefined;
    if (!checker) {
        checker = new Checker(python);
        pool.count++;
    }
    const reply = await checker.ask(request, timeoutMs);
    if (checker.ended || reply.line === undefined) {
        checker.end();
        pool.count--;
    } else {
        const kept = checker;
        pool.idle.push(kept);
        kept.idle(() => {
            pool!.idle = pool!.idle.filter((c) => c !== kept);
            pool!.count--;
        });
    }
    pool.waiting.shift()?.();
    // An idle checker may have died before this process heard of it: that is no answer about this build.
    if (reused && reply.line === undefined && !reply.timedOut) return askChecker(python, request, timeoutMs);
    return reply;
}
