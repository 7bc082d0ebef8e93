// Running algorithms (docs/api-reference.md §4, §6.1–6.2): `POST /v1/algo/<owner>/<algo>[/<version>]` (also by
// algorithm UUID, with a trailing slash, and under /v1/web/algo) resolves a version, runs it in a warm Python or
// JavaScript worker (server/runtime/workers.ts: the module is loaded once per worker, then every call goes through
// apply) and answers `{result, metadata: {content_type, duration}}`, or `{error: {message, stacktrace,
// error_type}}` with HTTP 200 when the algorithm failed.
//
// Identity inside an algorithm: each worker gets ALGORITHMIA_API (this server) and ALGORITHMIA_API_KEY, a
// session key minted for that worker, so `Algorithmia.client()` (Python) and `require("algorithmia").client()` (npm,
// which reads the same two variables) work unchanged. A request made with a session
// key acts for the call the worker is serving right now: the calling user, plus the algorithm (`owner/name`),
// which lets it read the owner's collections whose ACL is `algo://.my/*` (data.ts canRead) and call other
// algorithms only when the version it runs has `pipeline_enabled`. Session keys reach only the Data API and
// algorithm calls, and die with their worker.
//
// network_access "isolated" (§3.1.2) is enforced: such workers run in a network namespace of their own, their
// ALGORITHMIA_API a relay to this server's Unix socket (api-socket.ts); where that is impossible they run with
// network and the reply's metadata.alerts says so.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { algorithmById, algorithmByName, Algorithm, Build, isPublicVersion, isUuid, snapshotOf } from "./algorithms";
import { aclAllows, actsFor, Caller, requireCaller, SessionCaller } from "./auth";
import { environmentByPackageSet, familyOf } from "./environments";
import { recordFailure } from "./error-logs";
import { ApiError, ErrorCode, invalidRequest, notAuthorized } from "./errors";
import type { ServerContext } from "./index";
import { nodeModulesOf } from "./runtime/node-build";
import { algorithmEnvironment, pythonEntryModule } from "./runtime/python-build";
import {
    ContentType,
    DEFAULT_TIMEOUT_SECONDS,
    isFailure,
    MachineEnvironment,
    WorkerCallOutcome,
    WorkerCallRequest,
    WorkerPool,
    WorkerPoolOptions,
    networkIsolation,
} from "./runtime/workers";
import { secretEnvironment } from "./secrets";
import { sha256, Store } from "./store";
import { parseBoolean } from "./paging";

export const MAX_TIMEOUT_SECONDS = 3000;
const HASH = /^[0-9a-f]{40}$/i;
const PARTIAL_VERSION = /^(\d+)(?:\.(\d+|\*))?(?:\.\*)?$/;

/** What a worker's call carries, so that requests made with its session key act for that call. */
interface CallContext {
    caller: Pick<Caller, "username" | "orgs">;
    algorithm: string;
    pipelineEnabled: boolean;
    /** The worker keys of this call and of the calls waiting on it. */
    chain: string[];
}

/** A short digest of a secret environment, for worker keys (never the values themselves). */
function digestOf(secrets: Record<string, string>): string {
    const canonical = JSON.stringify(Object.entries(secrets).sort(([a], [b]) => (a < b ? -1 : 1)));
    return crypto.createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/** The worker pool with the session keys of its workers. */
export class AlgorithmRunner {
    readonly pool: WorkerPool;
    private readonly workerOfKey = new Map<string, string>();
    private readonly keyOfWorker = new Map<string, string>();

    constructor(options: WorkerPoolOptions = {}) {
        this.pool = new WorkerPool({
            ...options,
            onWorkerExit: (worker, reason) => {
                this.revoke(worker.id);
                options.onWorkerExit?.(worker, reason);
            },
        });
    }

    /** A new session key for a worker (called when the worker starts). */
    mint(workerId: string): string {
        const key = `simsession${crypto.randomBytes(24).toString("base64url")}`;
        this.workerOfKey.set(key, workerId);
        this.keyOfWorker.set(workerId, key);
        return key;
    }

    /**
     * Who a request with `key` acts for: undefined when it is no session key; null when it is one but its worker
     * is not serving a call (e.g. a background thread between calls).
     */
    sessionCaller(key: string): SessionCaller | null | undefined {
        const workerId = this.workerOfKey.get(key);
        if (workerId === undefined) return undefined;
        const context = this.pool.activeCall(workerId)?.context as CallContext | undefined;
        if (!context) return null;
        return {
            ...context.caller,
            algorithm: context.algorithm,
            pipelineEnabled: context.pipelineEnabled,
            callChain: context.chain,
        };
    }

    /** Stops the workers of an algorithm (it was deleted). */
    forget(algorithmId: string): void {
        for (const key of new Set(this.pool.workers().map((w) => w.key))) {
            if (key.startsWith(`${algorithmId}/`)) this.pool.retire(key);
        }
    }

    shutdown(): Promise<void> {
        return this.pool.shutdown();
    }

    private revoke(workerId: string): void {
        const key = this.keyOfWorker.get(workerId);
        if (key !== undefined) this.workerOfKey.delete(key);
        this.keyOfWorker.delete(workerId);
    }
}

// --- version resolution ---------------------------------------------------------------------------------------

interface Target {
    algo: Algorithm;
    build: Build;
    owns: boolean;
    /** The settings of that version (as built or as published). */
    settings: Record<string, unknown>;
}

function published(store: Store, algorithmId: string): Build[] {
    return store.db
        .prepare(
            `SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND status = 'succeeded'
        AND semantic_version IS NOT NULL ORDER BY seq DESC`,
        )
        .all(algorithmId) as Build[];
}

/**
 * §6.2: no version or `latest` is the newest public version; `x.y` / `x` (with optional `.*`) the newest public
 * one in that line; `x.y.z` that version (private ones for the owner only); `latestPrivate` the newest
 * published version of any callability and a 40-hex git hash the newest successful build of that commit, both
 * for the owner (or a member of the owning organization) only.
 */
function resolveVersion(store: Store, algo: Algorithm, version: string | undefined, owns: boolean): Build {
    const path = `algo://${algo.owner}/${algo.name}`;
    const missing = (what: string) => new ApiError(404, `${path} has no ${what}`, ErrorCode.VersionDoesNotExist);
    const ownersOnly = (what: string) =>
        new ApiError(403, `${what} of ${path} may only be called by its owner`, ErrorCode.NotAuthorized);
    const versions = () => published(store, algo.id);

    if (version === undefined || version === "" || version === "latest") {
        const found = versions().find(isPublicVersion);
        if (!found) throw missing("public published version; call a semantic version, latestPrivate or a git hash");
        return found;
    }
    if (version === "latestPrivate") {
        if (!owns) throw ownersOnly("latestPrivate");
        const [latest] = versions();
        if (!latest) throw missing("published version");
        return latest;
    }
    if (HASH.test(version)) {
        if (!owns) throw ownersOnly("Git hash versions");
        const build = store.db
            .prepare(
                `SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND commit_sha = ?
            ORDER BY status = 'succeeded' DESC, seq DESC LIMIT 1`,
            )
            .get(algo.id, version.toLowerCase()) as Build | undefined;
        if (!build) throw missing(`build of commit ${version}`);
        if (build.status !== "succeeded") {
            throw new ApiError(
                404,
                `The build of ${path} at ${version} ${build.status === "failed" ? "failed" : "is still in progress"}; ` +
                    "only successful builds can be called",
                ErrorCode.VersionDoesNotExist,
            );
        }
        return build;
    }
    if (/^\d+\.\d+\.\d+$/.test(version)) {
        const found = versions().find((b) => b.semantic_version === version);
        if (!found) throw missing(`version ${version}`);
        if (!isPublicVersion(found) && !owns) throw ownersOnly(`The private version ${version}`);
        return found;
    }
    const partial = PARTIAL_VERSION.exec(version);
    if (partial) {
        const [, major, minor] = partial;
        const found = versions().find((b) => {
            const [x, y] = b.semantic_version!.split(".");
            return isPublicVersion(b) && x === major && (minor === undefined || minor === "*" || y === minor);
        });
        if (!found)
            throw missing(`public version matching ${version} (partial versions resolve among public versions only)`);
        return found;
    }
    throw invalidRequest(
        `Invalid version "${version}": use a semantic version (1.2.3), a partial one (1.2, 1.2.*, 1), ` +
            "latest, latestPrivate or a 40-character git hash",
    );
}

function resolveTarget(store: Store, request: FastifyRequest, caller: Caller): Target {
    const params = request.params as { owner: string; algo?: string; version?: string };
    let algo: Algorithm | undefined;
    let version = params.version;
    if (params.algo === undefined || isUuid(params.owner)) {
        // /v1/algo/{algorithmId}[/{version}] (no account name looks like a UUID)
        algo = isUuid(params.owner) && params.version === undefined ? algorithmById(store, params.owner) : undefined;
        if (!algo) throw new ApiError(404, `algorithm ${params.owner} not found`, ErrorCode.AlgorithmIdDoesNotExist);
        version = params.algo;
    } else {
        algo = algorithmByName(store, params.owner, params.algo);
        if (!algo)
            throw new ApiError(
                404,
                `algorithm algo://${params.owner}/${params.algo} not found`,
                ErrorCode.AlgorithmNotFound,
            );
    }
    if (!aclAllows(caller.permissions.algo_acl, algo.owner, algo.name, version)) {
        throw notAuthorized(
            `this API key's algo_acl does not cover algo://${algo.owner}/${algo.name}${version ? `/${version}` : ""}`,
        );
    }
    const owns = actsFor(caller, algo.owner);
    const build = resolveVersion(store, algo, version, owns);
    return { algo, build, owns, settings: snapshotOf(build)?.settings ?? {} };
}

// --- request and reply ----------------------------------------------------------------------------------------

interface CallOptions {
    timeoutSeconds: number;
    stdout: boolean;
    output?: "raw" | "void";
}

function callOptions(query: Record<string, string | undefined>): CallOptions {
    let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
    if (query.timeout !== undefined && query.timeout !== "") {
        timeoutSeconds = Number(query.timeout);
        if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
            throw invalidRequest(
                `timeout must be a number of seconds greater than 0 and at most ${MAX_TIMEOUT_SECONDS} (got ${JSON.stringify(query.timeout)})`,
            );
        }
    }
    const stdout = parseBoolean(query.stdout, "stdout") ?? false;
    const output = query.output || undefined;
    if (output !== undefined && output !== "raw" && output !== "void") {
        throw invalidRequest(`output must be raw or void (got ${JSON.stringify(query.output)})`);
    }
    return { timeoutSeconds, stdout, output };
}

/** The input by Content-Type (§4.1): JSON (kept as text, so Python parses big numbers exactly), text or bytes. */
function readInput(request: FastifyRequest): { input: unknown; contentType: ContentType } {
    const type = (request.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (type === "application/json" || type.endsWith("+json")) {
        try {
            JSON.parse(body.toString("utf8"));
        } catch (err) {
            throw new ApiError(400, `Malformed JSON input: ${(err as Error).message}`, ErrorCode.MalformedJson);
        }
        return { input: body, contentType: "json" };
    }
    if (type.startsWith("text/") || type === "application/text")
        return { input: body.toString("utf8"), contentType: "text" };
    if (type === "application/octet-stream" || type === "") return { input: body, contentType: "binary" };
    throw new ApiError(
        415,
        `Unsupported Content-Type "${type}": send application/json, text/plain or application/octet-stream`,
    );
}

function machineEnvironment(settings: Record<string, unknown>): MachineEnvironment {
    if (settings.environment === "gpu") return "gpu";
    const packageSet = typeof settings.package_set === "string" ? settings.package_set : "";
    return environmentByPackageSet(packageSet)?.machine_type === "GPU" || /gpu|cuda/.test(packageSet) ? "gpu" : "cpu";
}

function metadataOf(outcome: WorkerCallOutcome, target: Target, options: CallOptions): Record<string, unknown> {
    const metadata: Record<string, unknown> = { duration: outcome.durationSeconds };
    // Captured output shows the algorithm's internals: only for those who may see its source (§4.1).
    if (options.stdout && target.owns) metadata.stdout = outcome.stdout;
    const alerts: string[] = [];
    // Not in Algorithmia's metadata (clients ignore fields they do not know): which devices a GPU algorithm saw.
    if (outcome.gpus.length) metadata.gpus = outcome.gpus;
    else if (outcome.environment === "gpu") {
        alerts.push("This algorithm uses a GPU environment, but this server has no GPU: it ran on CPU");
    }
    if (outcome.network === "isolated" && !outcome.isolated) {
        alerts.push(
            `This algorithm has network_access "isolated", but this server cannot isolate it ` +
                `(${networkIsolation(outcome.runtime).reason ?? "no network namespaces"}): it ran with network access`,
        );
    }
    if (alerts.length) metadata.alerts = alerts;
    return metadata;
}

function send(reply: FastifyReply, outcome: WorkerCallOutcome, target: Target, options: CallOptions): FastifyReply {
    if (isFailure(outcome) && outcome.queueFull) {
        // A platform refusal, not an algorithm error: clients retry a 429 after Retry-After.
        reply.header("Retry-After", String(outcome.queueFull.retryAfterSeconds));
        throw new ApiError(
            429,
            `Too many requests: ${outcome.error.message}; try again in ${outcome.queueFull.retryAfterSeconds}s`,
        );
    }
    const metadata = metadataOf(outcome, target, options);
    if (isFailure(outcome)) {
        const seesSource = target.owns || target.settings.source_visibility === "open";
        const stacktrace = seesSource ? outcome.error.stacktrace : "";
        // The Python client reads `stack_trace`, the others `stacktrace` (§1.4): send both.
        const error = {
            message: outcome.error.message,
            stacktrace,
            stack_trace: stacktrace,
            error_type: outcome.error.error_type,
        };
        // Clients detect an algorithm error by the `error` key of a 200 reply (§4.5); raw output answers 400.
        return reply
            .status(options.output === "raw" ? 400 : 200)
            .type("application/json")
            .send({ error, metadata });
    }
    const { contentType, result } = outcome;
    if (options.output === "raw") {
        if (contentType === "binary") return reply.type("application/octet-stream").send(result as Buffer);
        if (contentType === "text") return reply.type("text/plain; charset=utf-8").send(result as string);
        return reply.type("application/json").send(outcome.resultJson ?? JSON.stringify(result));
    }
    const encoded =
        contentType === "binary"
            ? JSON.stringify((result as Buffer).toString("base64"))
            : contentType === "text"
              ? JSON.stringify(result)
              : (outcome.resultJson ?? JSON.stringify(result ?? null));
    // Written by hand so a JSON result keeps the algorithm's own serialisation (big integers stay exact).
    return reply
        .type("application/json")
        .send(`{"result":${encoded},"metadata":${JSON.stringify({ content_type: contentType, ...metadata })}}`);
}

/** How a worker runs a Python version: its module, in the environment of its build. */
function pythonWorker(
    build: Build,
    treeDir: string,
    algoName: string,
): Pick<WorkerCallRequest, "entryModule" | "python"> {
    // A build from before environments were per algorithm has none recorded: its requirements.txt makes one.
    const files: string[] = build.python_env
        ? JSON.parse(build.python_env).files
        : fs.existsSync(path.join(treeDir, "requirements.txt"))
          ? ["requirements.txt"]
          : [];
    return { entryModule: pythonEntryModule(algoName), python: () => algorithmEnvironment(treeDir, files) };
}

/** How a worker runs a JavaScript version: the entry file and the environment its build recorded. */
function nodeWorker(build: Build, treeDir: string): Pick<WorkerCallRequest, "runtime" | "entryModule" | "nodeModules"> {
    const { files, entry } = JSON.parse(build.node_env!) as { files: string[]; entry: string };
    return { runtime: "node", entryModule: entry, nodeModules: () => nodeModulesOf(treeDir, files) };
}

// --- routes ---------------------------------------------------------------------------------------------------

export async function executionApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
    const store = ctx.store;
    const runner = ctx.runner;
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        const caller = requireCaller(request);
        const options = callOptions(request.query as Record<string, string | undefined>);
        const target = resolveTarget(store, request, caller);
        const { algo, build } = target;
        if (caller.algorithm !== undefined && !caller.pipelineEnabled) {
            throw new ApiError(
                403,
                `${caller.algorithm} may not call other algorithms: its settings.pipeline_enabled is false`,
                ErrorCode.NotAuthorized,
            );
        }
        const { input, contentType } = readInput(request);
        const { family, language } = familyOf(algo.settings);
        if (family !== "python" && family !== "javascript") {
            const message = `algorithmia-local runs Python and JavaScript algorithms only; ${algo.owner}/${algo.name} is ${language}`;
            const error = { message, stacktrace: "", error_type: "UnsupportedError" };
            return reply.send({ error, metadata: { duration: 0 } });
        }

        const key = `${algo.id}/${build.commit_sha}`;
        // One worker per version: a call back into a version that is waiting on this call would wait for itself.
        if (caller.callChain?.includes(key)) {
            throw new ApiError(
                508,
                `Recursive call: ${algo.owner}/${algo.name} at ${build.commit_sha} is already running further up ` +
                    "this call chain, and algorithmia-local runs one worker per version",
            );
        }
        const secrets = secretEnvironment(store, algo.id);
        const context: CallContext = {
            caller: { username: caller.username, orgs: caller.orgs },
            algorithm: `${algo.owner}/${algo.name}`,
            pipelineEnabled: target.settings.pipeline_enabled === true,
            chain: [...(caller.callChain ?? []), key],
        };
        const treeDir = await ctx.repos.tree(algo.owner, algo.name, build.commit_sha);
        const running = runner.pool
            .call({
                // A worker keeps the environment it started with: a new or rotated secret is served by new workers
                // (the old ones idle out), as Algorithmia's running algorithms see a new value within a minute.
                key: `${key}#${digestOf(secrets)}`,
                treeDir,
                ...(family === "javascript" ? nodeWorker(build, treeDir) : pythonWorker(build, treeDir, algo.name)),
                input,
                contentType,
                timeoutSeconds: options.timeoutSeconds,
                environment: machineEnvironment(target.settings),
                network: target.settings.network_access === "isolated" ? "isolated" : "full",
                apiSocket: ctx.apiSocket(),
                env: (worker) => ({
                    ...secrets,
                    ALGORITHMIA_API: ctx.baseUrl(),
                    ALGORITHMIA_API_KEY: runner.mint(worker.id),
                }),
                // Changed secrets reach the next call through a new worker.
                envKey: sha256(JSON.stringify(Object.entries(secrets).sort())),
                callId: request.id,
                context,
            })
            .then((outcome) => {
                // Kept before the reply goes, so the error log already holds a failure its caller has seen. A call refused
                // for a full queue never ran: it is a 429, not an execution error.
                if (isFailure(outcome) && !outcome.queueFull) {
                    const version = build.semantic_version ?? build.commit_sha;
                    recordFailure(store, {
                        algorithmId: algo.id,
                        requestId: request.id,
                        version,
                        input,
                        contentType,
                        error: outcome.error,
                        caller: caller.username,
                        worker: outcome.workerId,
                    });
                }
                return outcome;
            });
        if (options.output === "void") {
            // Asynchronous: the result is discarded (§4.4); the algorithm writes what it must keep to the Data API.
            return reply.send({ async: "void", request_id: request.id });
        }
        return send(reply, await running, target, options);
    };

    for (const prefix of ["/v1/algo", "/v1/web/algo"]) {
        for (const route of [":owner", ":owner/:algo", ":owner/:algo/:version"]) {
            app.post(`${prefix}/${route}`, handler);
            app.post(`${prefix}/${route}/`, handler);
        }
    }
}
