// Warm workers for Python and JavaScript algorithms: a pool of long-lived python-worker.py (or node-worker.js,
// which speaks the same protocol) processes, one per algorithm version (key, e.g. "owner/algo/gitHash"), each
// loading the algorithm's module once and then serving calls one at a time through apply (Algorithmia's
// "preloading": module-level model loading happens once).
//
// API (what the execution route calls):
//     const pool = new WorkerPool(options?)
//     pool.call(request: WorkerCallRequest): Promise<WorkerCallOutcome>   never rejects; see the types below
//     pool.activeCall(workerId): ActiveCall | undefined    which call a worker is serving right now (identity)
//     pool.workers(): WorkerInfo[]                          live workers
//     pool.retire(key?): void                               stop idle workers of a version (all: no key);
//                                                           busy ones stop when their call ends
//     pool.shutdown(): Promise<void>                        kill everything (the server calls it on close)
//     gpuDevices(): GpuDevice[]                           the NVIDIA GPUs this server may hand to workers
//
// Semantics:
//   - Concurrency: at most `maxWorkersPerKey` workers per version (default 1, so a version's module is loaded
//     once and its calls queue in arrival order); with more, calls go to idle workers first and new workers
//     start up to the limit, so that many calls run in parallel. At most `maxQueuePerKey` calls (default 100)
//     wait for a worker; one more is refused at once (`queueFull` in the outcome, with a Retry-After estimate)
//     rather than left to use up its timeout in the queue. A soft global cap (`maxWorkers`, default 16) stops the
//     least recently used idle workers of other versions before starting a new one.
//   - Timeout: `timeoutSeconds` (default 300, as Algorithmia) bounds the whole call, from pool.call() to the
//     reply, including queueing, worker start and import. When it runs out while the call is running, the
//     worker (its whole process group) is killed; the reply is error_type TimeoutError, "algorithm timed out
//     after N seconds", and the next call starts a fresh worker.
//   - Crashes: a worker that dies mid-call (os._exit, a signal, the OOM killer) gives that call an
//     AlgorithmError saying how it died, with the tail of the worker's stderr (faulthandler's traceback for a
//     segfault) as stacktrace and the call's captured output as stdout; the next call starts a fresh worker.
//   - Import failures: InitializationError with the traceback (every queued call gets a try of its own).
//   - stdout: per call, the algorithm's stdout and stderr interleaved (fds 1 and 2 redirected in the worker,
//     so C extensions and subprocesses are captured too). The first call on a new worker also gets whatever
//     the import printed, before its own output.
//   - Idle workers are stopped after `idleTimeoutSeconds` (default 600).
//   - Environment: workers get a minimal environment (PATH, HOME, LANG, TMPDIR, PYTHON* settings or NODE_PATH), then the
//     caller's `env`. Pass `env` as a function to mint per-worker values (e.g. ALGORITHMIA_API_KEY set to a
//     session key the server maps to the algorithm's identity; map that key to WorkerInfo.id, ask
//     activeCall(id) which call — and `context` — a request made with it belongs to, and revoke it in
//     `onWorkerExit`). A worker only serves calls whose env fingerprint matches the one it was started with:
//     a plain-object env is fingerprinted by value, a function env by `envKey` (e.g. a hash of the
//     algorithm's secrets), so changed secrets reach the next call through a new worker.
//   - GPU: `environment: "gpu"` runs with the pool's GPUs (option `gpus`, default gpuDevices()) visible, named by
//     UUID in CUDA_VISIBLE_DEVICES, and the outcome's `gpus` lists them; without any it runs on CPU with `gpus`
//     empty. "cpu" hides GPUs (CUDA_VISIBLE_DEVICES="").
//   - Working directory of the algorithm: its treeDir; sys.path starts with treeDir and treeDir/src (Python);
//     packages resolve from the tree's and the `nodeModules` environment's node_modules only (JavaScript).
//   - Network: `network: "isolated"` runs the worker in a network namespace of its own (unshare; only `lo`),
//     so it reaches nothing outside itself, not even the host's loopback. With `apiSocket` (a Unix socket
//     reaching the platform API), the worker relays 127.0.0.1:<port> inside the namespace to it and points
//     ALGORITHMIA_API there, so the Algorithmia client keeps working. Where namespaces are refused it runs with
//     the network (isolated: false in the outcome; networkIsolation(runtime) says why). The effective mode is part
//     of the fingerprint, so switching an algorithm's network access reaches its next call through a new worker.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable, Writable } from "stream";
import { runtimeAsset } from "./env-cache";
import { ensurePythonRuntime } from "./python-env";

export type ContentType = "text" | "json" | "binary";
export type MachineEnvironment = "cpu" | "gpu";
export type NetworkAccess = "full" | "isolated";
export type WorkerRuntime = "python" | "node";

/** The `error` object of an algorithm-execution reply (docs/api-reference.md §1.4 shape 3, §4.5). */
export interface AlgorithmErrorBody {
    message: string;
    stacktrace: string;
    error_type: string;
}

/** An NVIDIA GPU as `nvidia-smi -L` names it. */
export interface GpuDevice {
    index: number;
    name: string;
    /** "GPU-…" (or "MIG-…" for a MIG instance); empty when only the device node was seen. */
    uuid: string;
}

export interface WorkerInfo {
    /** Unique per worker process, e.g. "w-3f9c…". */
    id: string;
    /** The version key it serves. */
    key: string;
    treeDir: string;
    entryModule: string;
    environment: MachineEnvironment;
    /** The GPUs visible to it (none for "cpu", or on a machine without any). */
    gpus: GpuDevice[];
    /** Whether it runs in a network namespace of its own. */
    isolated: boolean;
    pid?: number;
    state: "starting" | "idle" | "busy" | "stopped";
    startedAt: Date;
    /** Calls answered so far. */
    calls: number;
}

export interface WorkerCallRequest {
    /** The algorithm version, e.g. "owner/algo/gitHash"; one warm worker (group) per key. */
    key: string;
    /** The checked-out source tree of that version (the worker's cwd). */
    treeDir: string;
    /** python: the module to import, e.g. "src.Hello" (see pythonEntryModule in python-build.ts); node: the file to require. */
    entryModule: string;
    /** "python" (default): python-worker.py runs it; "node": node-worker.js, under the Node that runs this pool. */
    runtime?: WorkerRuntime;
    /** The interpreter of a new worker: the version's own environment (default: the pool's `python`, else the runtime's). */
    python?: () => Promise<string>;
    /** node: the node_modules of the version's own environment (the worker's NODE_PATH). */
    nodeModules?: () => Promise<string>;
    /**
     * text: a string (a Buffer is decoded as UTF-8); json: the parsed value, or a Buffer holding the JSON
     * text (parsed by Python, so big integers keep their precision); binary: a Buffer/Uint8Array.
     */
    input: unknown;
    contentType: ContentType;
    /** Default 300 (Algorithmia's default; the route enforces its maximum of 3000). */
    timeoutSeconds?: number;
    /** Extra environment variables for the worker (see the top of this module). */
    env?: Record<string, string> | ((worker: WorkerInfo) => Record<string, string>);
    /** Fingerprint of a function `env`; workers started with another fingerprint are not reused. */
    envKey?: string;
    /** Default "cpu". */
    environment?: MachineEnvironment;
    /** Default "full"; see the top of this module. */
    network?: NetworkAccess;
    /** A Unix socket that reaches the platform API, for isolated workers (their ALGORITHMIA_API relays to it). */
    apiSocket?: string;
    /** An id for this call (default a generated "call-…"); ActiveCall reports it. */
    callId?: string;
    /** Anything the caller wants back from activeCall() while this call runs (e.g. the caller's identity). */
    context?: unknown;
}

interface OutcomeMeta {
    callId: string;
    /** The algorithm's captured stdout and stderr for this call. */
    stdout: string;
    /** Time in apply() as measured by the worker; for timeouts and crashes, time since the call was sent. */
    durationSeconds: number;
    /** Time since pool.call(), queueing and worker start included. */
    wallSeconds: number;
    workerId?: string;
    /** The call started a new worker (and so paid the import). */
    coldStart: boolean;
    environment: MachineEnvironment;
    /** The GPUs the call could use. */
    gpus: GpuDevice[];
    /** The network access asked for, and whether the worker really ran without network (see networkIsolation(runtime)). */
    network: NetworkAccess;
    isolated: boolean;
    runtime: WorkerRuntime;
}

export interface WorkerCallSuccess extends OutcomeMeta {
    /** text: string; json: the value; binary: a Buffer. */
    result: unknown;
    contentType: ContentType;
    /** json only: the result as the algorithm serialised it (exact, e.g. for integers beyond 2^53). */
    resultJson?: string;
}

export interface WorkerCallFailure extends OutcomeMeta {
    error: AlgorithmErrorBody;
    /** Refused without running: the version's queue was full; try again after this many seconds. */
    queueFull?: { retryAfterSeconds: number };
}

export type WorkerCallOutcome = WorkerCallSuccess | WorkerCallFailure;

export function isFailure(outcome: WorkerCallOutcome): outcome is WorkerCallFailure {
    return "error" in outcome;
}

export interface ActiveCall {
    callId: string;
    key: string;
    workerId: string;
    context: unknown;
    startedAt: Date;
}

export interface WorkerPoolOptions {
    /** The interpreter workers run with; default the runtime venv's (created on first call if need be). */
    python?: string;
    /** Workers per version: calls to one version that run in parallel. Default 1. */
    maxWorkersPerKey?: number;
    /** Calls per version that may wait for a worker; more are refused (`queueFull`). Default 100. */
    maxQueuePerKey?: number;
    /** Soft cap on live workers; default 16. */
    maxWorkers?: number;
    /** Default 600. */
    idleTimeoutSeconds?: number;
    /** The GPUs "gpu" workers see; default gpuDevices() ([] runs them on CPU). */
    gpus?: GpuDevice[];
    onWorkerStart?: (worker: WorkerInfo) => void;
    onWorkerExit?: (worker: WorkerInfo, reason: string) => void;
}

export const DEFAULT_TIMEOUT_SECONDS = 300;
const STDERR_TAIL = 16 * 1024;

let gpuCache: GpuDevice[] | undefined;

/**
 * The NVIDIA GPUs of this machine, probed once with `nvidia-smi -L` (or, without it, from /dev/nvidiaN), less
 * those the server's own CUDA_VISIBLE_DEVICES hides; ALGORITHMIA_LOCAL_GPU=0 hides them all.
 */
export function gpuDevices(): GpuDevice[] {
    if (process.env.ALGORITHMIA_LOCAL_GPU === "0") return [];
    if (gpuCache === undefined) {
        const probe = spawnSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 5000 });
        const listed = probe.status === 0 ? parseGpuList(probe.stdout ?? "") : [];
        const nodes = listed.length ? [] : fs.readdirSync("/dev").filter((name) => /^nvidia\d+$/.test(name));
        gpuCache = visibleGpus(
            listed.length
                ? listed
                : nodes.map((node) => ({ index: Number(node.slice("nvidia".length)), name: "NVIDIA GPU", uuid: "" })),
            process.env.CUDA_VISIBLE_DEVICES,
        );
    }
    return gpuCache;
}

/** The GPUs (and MIG instances, which replace their GPU) of `nvidia-smi -L` output. */
export function parseGpuList(text: string): GpuDevice[] {
    const devices: GpuDevice[] = [];
    let gpu: GpuDevice | undefined;
    for (const line of text.split("\n").map((l) => l.trim())) {
        const listed = /^GPU (\d+): (.+?) \(UUID: (GPU-[^)]+)\)/.exec(line);
        if (listed) devices.push((gpu = { index: Number(listed[1]), name: listed[2], uuid: listed[3] }));
        const mig = /^MIG (\S+)\s+Device\s+\d+: \(UUID: (MIG-[^)]+)\)/.exec(line);
        if (mig && gpu) {
            // CUDA sees a GPU's MIG instances, not the GPU itself.
            if (devices.includes(gpu)) devices.splice(devices.indexOf(gpu), 1);
            devices.push({ index: gpu.index, name: `${gpu.name} MIG ${mig[1]}`, uuid: mig[2] });
        }
    }
    return devices;
}

/** `devices` less those CUDA_VISIBLE_DEVICES (indices or UUID prefixes, as CUDA reads it) hides. */
export function visibleGpus(devices: GpuDevice[], cudaVisible: string | undefined): GpuDevice[] {
    if (cudaVisible === undefined) return devices;
    const wanted = cudaVisible
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean);
    const chosen: GpuDevice[] = [];
    // CUDA stops at the first entry it cannot resolve.
    for (const entry of wanted) {
        const device = devices.find((d) =>
            /^\d+$/.test(entry)
                ? d.index === Number(entry) && !d.uuid.startsWith("MIG-")
                : d.uuid !== "" && d.uuid.startsWith(entry),
        );
        if (!device) break;
        if (!chosen.includes(device)) chosen.push(device);
    }
    return chosen;
}

const isolationCache = new Map<WorkerRuntime, { available: boolean; reason?: string }>();

/**
 * Whether workers of `runtime` can run in a network namespace of their own: `unshare --net` as root, with
 * --map-root-user otherwise; node workers also need `ip` there to bring up lo (python-worker.py does that
 * itself). Probed once per runtime; ALGORITHMIA_LOCAL_ISOLATION=0 turns isolation off.
 */
export function networkIsolation(runtime: WorkerRuntime = "python"): { available: boolean; reason?: string } {
    if (process.env.ALGORITHMIA_LOCAL_ISOLATION === "0")
        return { available: false, reason: "ALGORITHMIA_LOCAL_ISOLATION=0" };
    let known = isolationCache.get(runtime);
    if (known === undefined) {
        if (process.platform !== "linux") {
            known = { available: false, reason: `network namespaces need Linux, this is ${process.platform}` };
        } else {
            const [command, ...args] = isolatedCommand(runtime, "true", []);
            const probe = spawnSync(command, args, { encoding: "utf8", timeout: 5000 });
            const what = `unshare ${unshareArgs().join(" ")}${runtime === "node" ? " with `ip link set lo up`" : ""}`;
            const why = (probe.error?.message ?? probe.stderr ?? "").trim() || `exit ${probe.status}`;
            known = probe.status === 0 ? { available: true } : { available: false, reason: `${what} failed: ${why}` };
            if (!known.available) {
                const which = runtime === "node" ? "JavaScript algorithms" : "algorithms";
                console.warn(
                    `algorithmia-local: ${which} with network_access "isolated" will run WITH network (${known.reason})`,
                );
            }
        }
        isolationCache.set(runtime, known);
    }
    return known;
}

function unshareArgs(): string[] {
    return process.getuid?.() === 0 ? ["--net"] : ["--net", "--map-root-user"];
}

/**
 * `program args` in a network namespace of its own. unshare execs it in place (no fork), and so does the shell
 * that first brings up lo for node workers: the child's pid and process group stay the worker's own.
 */
function isolatedCommand(runtime: WorkerRuntime, program: string, args: string[]): string[] {
    const unshare = ["unshare", ...unshareArgs(), "--"];
    if (runtime === "python") return [...unshare, program, ...args];
    return [
        ...unshare,
        "sh",
        "-c",
        'PATH="$PATH:/usr/sbin:/sbin" ip link set lo up && exec "$@"',
        "sh",
        program,
        ...args,
    ];
}

interface PendingCall {
    request: WorkerCallRequest;
    callId: string;
    fingerprint: string;
    environment: MachineEnvironment;
    gpus: GpuDevice[];
    isolated: boolean;
    receivedAt: number;
    sentAt?: number;
    /** The file name stem the worker captures this call's output under (in its capture directory). */
    capture?: string;
    worker?: Worker;
    coldStart: boolean;
    timer?: NodeJS.Timeout;
    settled: boolean;
    resolve(outcome: WorkerCallOutcome): void;
}

interface Group {
    workers: Worker[];
    queue: PendingCall[];
    /** A moving average of the version's call durations. */
    meanCallSeconds?: number;
}

interface Message {
    type: "ready" | "init_error" | "result" | "error";
    id?: string;
    result?: unknown;
    result_json?: string;
    content_type?: ContentType;
    error?: AlgorithmErrorBody;
    stdout?: string;
    duration?: number;
    pid?: number;
}

class Worker {
    readonly info: WorkerInfo;
    child?: ChildProcess;
    current?: PendingCall;
    ready = false;
    stopping = false;
    lastUsed = Date.now();
    /** Output of the import, handed to the first call. */
    initStdout = "";
    stderrTail = "";
    sequence = 0;
    captureDir: string;
    exited: Promise<void>;
    private markExited!: () => void;

    constructor(
        readonly key: string,
        readonly fingerprint: string,
        request: WorkerCallRequest,
        environment: MachineEnvironment,
        isolated: boolean,
        gpus: GpuDevice[],
    ) {
        this.info = {
            id: `w-${crypto.randomBytes(8).toString("hex")}`,
            key,
            treeDir: request.treeDir,
            entryModule: request.entryModule,
            environment,
            gpus,
            isolated,
            state: "starting",
            startedAt: new Date(),
            calls: 0,
        };
        this.captureDir = fs.mkdtempSync(path.join(os.tmpdir(), "algorithmia-worker-"));
        this.exited = new Promise((resolve) => (this.markExited = resolve));
    }

    get idle(): boolean {
        return this.ready && !this.current && !this.stopping;
    }

    /**
     * What `call` has printed so far, for a call that ends without a reply: its capture file once the worker is
     * ready (dispatch names it), else the import's init.out; "" when nothing was written.
     */
    printedSoFar(call: PendingCall): string {
        try {
            return fs.readFileSync(
                path.join(this.captureDir, this.ready && call.capture ? `${call.capture}.out` : "init.out"),
                "utf8",
            );
        } catch {
            return "";
        }
    }

    send(message: unknown): void {
        const requests = this.child?.stdio[3] as Writable | undefined;
        requests?.write(JSON.stringify(message) + "\n");
    }

    kill(): void {
        this.stopping = true;
        const pid = this.child?.pid;
        if (pid === undefined || this.info.state === "stopped") return;
        try {
            process.kill(-pid, "SIGKILL"); // its own process group: the algorithm's subprocesses too
        } catch {
            try {
                this.child?.kill("SIGKILL");
            } catch {
                // already gone
            }
        }
    }

    exitedNow(): void {
        this.info.state = "stopped";
        fs.rmSync(this.captureDir, { recursive: true, force: true });
        this.markExited();
    }
}

const livePools = new Set<WorkerPool>();
let exitHookInstalled = false;

function installExitHook(): void {
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    // Workers run in their own process groups; do not leave them behind when node exits without shutdown().
    process.on("exit", () => {
        for (const pool of livePools) pool.killAllNow();
    });
}

export class WorkerPool {
    private readonly groups = new Map<string, Group>();
    private readonly byId = new Map<string, Worker>();
    private readonly maxPerKey: number;
    private readonly maxQueue: number;
    private readonly maxWorkers: number;
    private readonly idleMs: number;
    private readonly gpus: GpuDevice[];
    private closed = false;
    private reaper: NodeJS.Timeout;

    constructor(private readonly options: WorkerPoolOptions = {}) {
        this.maxPerKey = Math.max(1, options.maxWorkersPerKey ?? 1);
        this.maxQueue = Math.max(0, options.maxQueuePerKey ?? 100);
        this.maxWorkers = Math.max(1, options.maxWorkers ?? 16);
        this.idleMs = (options.idleTimeoutSeconds ?? 600) * 1000;
        this.gpus = options.gpus ?? gpuDevices();
        this.reaper = setInterval(() => this.reapIdle(), Math.min(30_000, Math.max(1000, this.idleMs / 4)));
        this.reaper.unref();
        livePools.add(this);
        installExitHook();
    }

    call(request: WorkerCallRequest): Promise<WorkerCallOutcome> {
        return new Promise((resolve) => {
            const environment: MachineEnvironment = request.environment === "gpu" ? "gpu" : "cpu";
            const isolated = request.network === "isolated" && networkIsolation(request.runtime).available;
            const call: PendingCall = {
                request,
                callId: request.callId ?? `call-${crypto.randomUUID()}`,
                fingerprint: fingerprint(request, environment, isolated),
                environment,
                gpus: environment === "gpu" ? this.gpus : [],
                isolated,
                receivedAt: Date.now(),
                coldStart: false,
                settled: false,
                resolve,
            };
            if (this.closed) {
                this.settle(call, failure(call, "SystemError", "the algorithm runtime is shutting down", ""));
                return;
            }
            const asked = request.timeoutSeconds;
            const timeoutSeconds =
                asked !== undefined && Number.isFinite(asked) && asked > 0 ? asked : DEFAULT_TIMEOUT_SECONDS;
            call.timer = setTimeout(
                () => this.timeOut(call, timeoutSeconds),
                Math.min(timeoutSeconds * 1000, 2 ** 31 - 1),
            );
            const group = this.group(request.key);
            const busy = group.workers.filter((w) => !w.idle).length;
            if (group.queue.length >= this.maxQueue && busy >= this.maxPerKey) {
                const refused = failure(
                    call,
                    "TooManyRequests",
                    `${group.queue.length} calls are already waiting for this version's ${this.maxPerKey} worker(s)`,
                    "",
                );
                this.settle(call, { ...refused, queueFull: { retryAfterSeconds: this.retryAfterSeconds(group) } });
                return;
            }
            group.queue.push(call);
            this.pump(request.key);
        });
    }

    activeCall(workerId: string): ActiveCall | undefined {
        const worker = this.byId.get(workerId);
        const call = worker?.current;
        if (!worker || !call) return undefined;
        return {
            callId: call.callId,
            key: worker.key,
            workerId,
            context: call.request.context,
            startedAt: new Date(call.sentAt ?? call.receivedAt),
        };
    }

    workers(): WorkerInfo[] {
        return [...this.byId.values()].map((w) => ({ ...w.info }));
    }

    retire(key?: string): void {
        for (const worker of [...this.byId.values()]) {
            if (key !== undefined && worker.key !== key) continue;
            if (worker.current)
                worker.stopping = true; // stops after its call
            else this.stop(worker, "retired");
        }
    }

    async shutdown(): Promise<void> {
        this.closed = true;
        clearInterval(this.reaper);
        for (const group of this.groups.values()) {
            for (const call of group.queue.splice(0)) {
                this.settle(call, failure(call, "SystemError", "the algorithm runtime is shutting down", ""));
            }
        }
        const workers = [...this.byId.values()];
        for (const worker of workers) {
            if (worker.current) {
                this.settle(
                    worker.current,
                    failure(worker.current, "SystemError", "the algorithm runtime is shutting down", ""),
                );
            }
            this.stop(worker, "shutdown");
        }
        // A ref'd timer: wait (briefly) for the exits even though workers themselves do not hold node open.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
            Promise.all(workers.map((w) => w.exited)),
            new Promise((resolve) => (timer = setTimeout(resolve, 3000))),
        ]);
        clearTimeout(timer);
        for (const worker of workers) fs.rmSync(worker.captureDir, { recursive: true, force: true });
        livePools.delete(this);
    }

    /** Synchronous last resort from process.on("exit"). */
    killAllNow(): void {
        for (const worker of this.byId.values()) {
            worker.kill();
            fs.rmSync(worker.captureDir, { recursive: true, force: true });
        }
    }

    // --- scheduling -----------------------------------------------------------------------------------------

    /** When a refused call might find room: the queue ahead of it at the version's recent pace (at least 1 s). */
    private retryAfterSeconds(group: Group): number {
        return Math.max(1, Math.ceil((group.queue.length * (group.meanCallSeconds ?? 1)) / this.maxPerKey));
    }

    private group(key: string): Group {
        let group = this.groups.get(key);
        if (!group) {
            group = { workers: [], queue: [] };
            this.groups.set(key, group);
        }
        return group;
    }

    private pump(key: string): void {
        const group = this.groups.get(key);
        if (!group || this.closed) return;
        while (group.queue.length) {
            const call = group.queue[0];
            let worker = group.workers.find((w) => w.idle && w.fingerprint === call.fingerprint);
            if (!worker) {
                // A worker started for another env (e.g. before a secret changed) is replaced once idle.
                const stale = group.workers.find((w) => w.idle && w.fingerprint !== call.fingerprint);
                if (stale) this.stop(stale, "environment changed");
                const live = group.workers.filter((w) => !w.stopping).length;
                if (live >= this.maxPerKey) return; // wait for a worker to free up
                worker = this.start(call);
                call.coldStart = true;
            }
            group.queue.shift();
            this.assign(worker, call);
        }
        if (!group.workers.length && !group.queue.length) this.groups.delete(key);
    }

    private assign(worker: Worker, call: PendingCall): void {
        worker.current = call;
        worker.info.state = "busy";
        call.worker = worker;
        if (worker.ready) this.dispatch(worker, call);
    }

    private dispatch(worker: Worker, call: PendingCall): void {
        call.sentAt = Date.now();
        call.capture = `call-${++worker.sequence}`;
        const { input, contentType } = call.request;
        const message: Record<string, unknown> = { id: call.callId, content_type: contentType, capture: call.capture };
        try {
            if (contentType === "text") {
                message.data = Buffer.isBuffer(input) ? input.toString("utf8") : String(input ?? "");
            } else if (contentType === "binary") {
                const bytes = Buffer.isBuffer(input)
                    ? input
                    : input instanceof Uint8Array
                      ? Buffer.from(input.buffer, input.byteOffset, input.byteLength)
                      : Buffer.from(String(input ?? ""), "utf8");
                message.data = bytes.toString("base64");
            } else if (contentType === "json") {
                if (Buffer.isBuffer(input)) {
                    message.data = input.toString("utf8");
                    message.json_text = true;
                } else {
                    message.data = input === undefined ? null : input;
                }
            } else {
                throw new Error(`unsupported content type ${String(contentType)}`);
            }
            worker.send(message);
        } catch (err) {
            worker.current = undefined;
            worker.info.state = "idle";
            this.settle(call, failure(call, "InputError", (err as Error).message, ""));
            this.pump(worker.key);
        }
    }

    private start(call: PendingCall): Worker {
        const request = call.request;
        this.makeRoom();
        const worker = new Worker(request.key, call.fingerprint, request, call.environment, call.isolated, call.gpus);
        this.group(request.key).workers.push(worker);
        this.byId.set(worker.info.id, worker);
        this.launch(worker, request).catch((err: Error) => {
            // No interpreter (or the runtime could not be created): fail this call, drop the worker.
            if (worker.current) this.settle(worker.current, failure(worker.current, "SystemError", err.message, ""));
            worker.current = undefined;
            this.forget(worker, `failed to start: ${err.message}`);
            worker.exitedNow();
        });
        return worker;
    }

    private async launch(worker: Worker, request: WorkerCallRequest): Promise<void> {
        const runtime = request.runtime ?? "python";
        const program = await (runtime === "node" ? nodeProgram : this.pythonProgram.bind(this))(
            request,
            worker.captureDir,
        );
        if (worker.stopping) throw new Error("the worker was stopped before it started");
        const extra = typeof request.env === "function" ? request.env({ ...worker.info }) : (request.env ?? {});
        const env: NodeJS.ProcessEnv = {
            PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
            HOME: process.env.HOME ?? os.homedir(),
            LANG: process.env.LANG ?? "C.UTF-8",
            TMPDIR: process.env.TMPDIR ?? os.tmpdir(),
            ...program.env,
            CUDA_VISIBLE_DEVICES: gpuList(worker.info.gpus),
            ...extra,
            ...(worker.info.isolated ? { ALGORITHMIA_LOCAL_ISOLATED: "1" } : {}),
            ...(worker.info.isolated && request.apiSocket ? { ALGORITHMIA_LOCAL_API_SOCKET: request.apiSocket } : {}),
        };
        const [command, ...argv] = worker.info.isolated
            ? isolatedCommand(runtime, program.command, program.args)
            : [program.command, ...program.args];
        const child = spawn(command, argv, {
            cwd: request.treeDir,
            env,
            stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"],
            detached: true,
        });
        worker.child = child;
        worker.info.pid = child.pid;
        // Idle workers must not keep node alive; a call in flight is held by its (ref'd) timeout timer.
        child.unref();
        for (const stream of child.stdio) (stream as unknown as { unref?: () => void } | null)?.unref?.();

        const onOutput = (chunk: Buffer) => {
            worker.stderrTail = (worker.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL);
        };
        child.stdout!.on("data", onOutput);
        child.stderr!.on("data", onOutput);
        const stderrDone = new Promise<void>((resolve) => child.stderr!.on("close", () => resolve()));

        let partial = "";
        const replies = child.stdio[4] as Readable;
        replies.on("data", (chunk: Buffer) => {
            partial += chunk.toString("utf8");
            let newline: number;
            while ((newline = partial.indexOf("\n")) >= 0) {
                const line = partial.slice(0, newline);
                partial = partial.slice(newline + 1);
                if (line.trim()) this.onMessage(worker, line);
            }
        });
        replies.on("error", () => undefined);
        (child.stdio[3] as Writable).on("error", () => undefined); // EPIPE when the worker dies

        child.on("error", (err) => {
            onOutput(Buffer.from(`failed to start the worker: ${err.message}\n`));
            if (child.pid === undefined) this.onExit(worker, null, null); // never started: no exit event
        });
        child.on("exit", (code, signal) => {
            // Let the last stderr (e.g. faulthandler's traceback) arrive, but do not wait on grandchildren.
            void Promise.race([stderrDone, sleep(300)]).then(() => this.onExit(worker, code, signal));
        });
        this.options.onWorkerStart?.({ ...worker.info });
    }

    private async pythonProgram(request: WorkerCallRequest, captureDir: string): Promise<WorkerProgram> {
        // ensurePythonRuntime is cheap once warm and retries a failed creation on the next call. Awaited even
        // when `python` is given, so the worker starts after start() has returned and assign() has run.
        const python = await (request.python?.() ?? this.options.python ?? ensurePythonRuntime().then((r) => r.python));
        return {
            command: python,
            args: ["-u", runtimeAsset("python-worker.py"), request.treeDir, request.entryModule, captureDir],
            env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1", PYTHONIOENCODING: "utf-8" },
        };
    }

    private onMessage(worker: Worker, line: string): void {
        let message: Message;
        try {
            message = JSON.parse(line);
        } catch {
            worker.stderrTail += `\n[worker protocol error: ${line.slice(0, 200)}]`;
            return;
        }
        if (message.type === "ready") {
            worker.ready = true;
            worker.initStdout = message.stdout ?? "";
            if (worker.current) this.dispatch(worker, worker.current);
            else {
                worker.info.state = "idle";
                this.pump(worker.key);
            }
            return;
        }
        const call = worker.current;
        if (message.type === "init_error") {
            worker.stopping = true; // it exits by itself
            if (call) {
                worker.current = undefined;
                const error = message.error ?? {
                    message: "the algorithm failed to load",
                    stacktrace: "",
                    error_type: "InitializationError",
                };
                this.settle(call, { ...meta(call, message.stdout ?? "", elapsed(call)), error });
            }
            return;
        }
        if (!call || message.id !== call.callId) return; // a reply to a call that already timed out
        worker.current = undefined;
        worker.info.calls++;
        worker.lastUsed = Date.now();
        let stdout = message.stdout ?? "";
        if (worker.info.calls === 1 && worker.initStdout) stdout = worker.initStdout + stdout;
        const duration = message.duration ?? elapsed(call);
        if (message.type === "result") {
            const contentType = message.content_type ?? "json";
            let result: unknown = message.result;
            let resultJson: string | undefined;
            if (contentType === "binary") result = Buffer.from(String(message.result ?? ""), "base64");
            else if (contentType === "json") {
                resultJson = message.result_json ?? JSON.stringify(message.result ?? null);
                result = JSON.parse(resultJson);
            }
            this.settle(call, {
                ...meta(call, stdout, duration),
                result,
                contentType,
                ...(resultJson !== undefined ? { resultJson } : {}),
            });
        } else {
            const error = message.error ?? { message: "unknown error", stacktrace: "", error_type: "AlgorithmError" };
            this.settle(call, { ...meta(call, stdout, duration), error });
        }
        if (worker.stopping) this.stop(worker, "retired");
        else worker.info.state = "idle";
        this.pump(worker.key);
    }

    private onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
        const how = signal ? `was killed by signal ${signal}` : `exited with code ${code}`;
        const call = worker.current;
        worker.current = undefined;
        if (call && !call.settled) {
            const stdout = worker.printedSoFar(call);
            const phase = worker.ready ? "while handling the request" : "while loading the algorithm";
            const type = worker.ready ? "AlgorithmError" : "InitializationError";
            this.settle(
                call,
                failure(call, type, `the algorithm's process ${how} ${phase}`, stdout, worker.stderrTail.trim()),
            );
        }
        this.forget(worker, worker.stopping ? "stopped" : how);
        worker.exitedNow();
        this.pump(worker.key);
    }

    private timeOut(call: PendingCall, seconds: number): void {
        if (call.settled) return;
        const message = `algorithm timed out after ${seconds} seconds`;
        const worker = call.worker;
        if (!worker) {
            const group = this.groups.get(call.request.key);
            if (group) group.queue = group.queue.filter((c) => c !== call);
            this.settle(call, failure(call, "TimeoutError", message, ""));
            return;
        }
        this.settle(call, failure(call, "TimeoutError", message, worker.printedSoFar(call)));
        worker.current = undefined;
        this.stop(worker, "timed out");
    }

    private settle(call: PendingCall, outcome: WorkerCallOutcome): void {
        if (call.settled) return;
        call.settled = true;
        if (call.timer) clearTimeout(call.timer);
        const group = call.worker && this.groups.get(call.request.key);
        if (group) {
            // The version's pace, for the Retry-After of a full queue.
            const seconds = outcome.durationSeconds;
            group.meanCallSeconds =
                group.meanCallSeconds === undefined ? seconds : 0.8 * group.meanCallSeconds + 0.2 * seconds;
        }
        call.resolve(outcome);
    }

    /** Kills a worker and takes it out of the pool at once (its exit is handled later). */
    private stop(worker: Worker, reason: string): void {
        worker.kill();
        this.forget(worker, reason);
        if (!worker.child) worker.exitedNow();
    }

    private forget(worker: Worker, reason: string): void {
        if (!this.byId.has(worker.info.id)) return;
        this.byId.delete(worker.info.id);
        const group = this.groups.get(worker.key);
        if (group) group.workers = group.workers.filter((w) => w !== worker);
        this.options.onWorkerExit?.({ ...worker.info, state: "stopped" }, reason);
        // Queued calls of this version may now start a worker of their own.
        setImmediate(() => this.pump(worker.key));
    }

    private makeRoom(): void {
        if (this.byId.size < this.maxWorkers) return;
        const idle = [...this.byId.values()].filter((w) => w.idle).sort((a, b) => a.lastUsed - b.lastUsed);
        for (const worker of idle) {
            if (this.byId.size < this.maxWorkers) break;
            this.stop(worker, "evicted (too many workers)");
        }
    }

    private reapIdle(): void {
        const now = Date.now();
        for (const worker of [...this.byId.values()]) {
            if (worker.idle && now - worker.lastUsed > this.idleMs) this.stop(worker, "idle");
        }
    }
}

interface WorkerProgram {
    command: string;
    args: string[];
    env: Record<string, string>;
}

/** node-worker.js under this process's own Node, resolving the algorithm's packages from its environment. */
async function nodeProgram(request: WorkerCallRequest, captureDir: string): Promise<WorkerProgram> {
    const nodeModules = await (request.nodeModules?.() ?? Promise.resolve(""));
    return {
        command: process.execPath,
        args: [runtimeAsset("node-worker.js"), request.treeDir, request.entryModule, captureDir],
        env: nodeModules ? { NODE_PATH: nodeModules } : {},
    };
}

function fingerprint(request: WorkerCallRequest, environment: MachineEnvironment, isolated: boolean): string {
    const env =
        typeof request.env === "function"
            ? `fn:${request.envKey ?? ""}`
            : JSON.stringify(Object.entries(request.env ?? {}).sort(([a], [b]) => a.localeCompare(b)));
    return crypto
        .createHash("sha256")
        .update(
            JSON.stringify([
                request.treeDir,
                request.entryModule,
                environment,
                env,
                isolated,
                isolated ? (request.apiSocket ?? "") : "",
            ]),
        )
        .digest("hex");
}

/** CUDA_VISIBLE_DEVICES for `gpus`: UUIDs where known (CUDA's own order need not be nvidia-smi's), "" for none. */
function gpuList(gpus: GpuDevice[]): string {
    return gpus.map((gpu) => gpu.uuid || String(gpu.index)).join(",");
}

function elapsed(call: PendingCall): number {
    return (Date.now() - (call.sentAt ?? call.receivedAt)) / 1000;
}

function meta(call: PendingCall, stdout: string, durationSeconds: number): OutcomeMeta {
    return {
        callId: call.callId,
        stdout,
        durationSeconds,
        wallSeconds: (Date.now() - call.receivedAt) / 1000,
        workerId: call.worker?.info.id,
        coldStart: call.coldStart,
        environment: call.environment,
        gpus: call.gpus,
        network: call.request.network === "isolated" ? "isolated" : "full",
        isolated: call.isolated,
        runtime: call.request.runtime ?? "python",
    };
}

function failure(
    call: PendingCall,
    errorType: string,
    message: string,
    stdout: string,
    stacktrace = "",
): WorkerCallFailure {
    return { ...meta(call, stdout, elapsed(call)), error: { message, stacktrace, error_type: errorType } };
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
