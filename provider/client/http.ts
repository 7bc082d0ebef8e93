// The transport under the provider's Algorithmia client: one request with an idle timeout, retries with exponential
// backoff and jitter, streaming bodies, and errors that say what failed without ever carrying the API key.
//
// Why not the official `algorithmia` npm client here: it buffers whole files in memory (a 1 GiB model would
// be read into RAM), has no retries, timeouts or management routes. The demo uses it to call algorithms,
// which is what it is good at.
import * as http from "http";
import * as https from "https";

/** How hard a remote call is tried: the API's calls (here) and git's (git.ts) alike. */
export interface RetryBudget {
    /** Per attempt: how long it may go without a byte moving (an idle timeout, so large files take what they take). */
    timeoutMs: number;
    /** Attempts in all, including the first. */
    maxAttempts: number;
    /** First backoff delay; doubles each retry, with full jitter, capped at 30 s. */
    baseDelayMs: number;
}

export interface HttpOptions {
    /** Base address, e.g. `http://127.0.0.1:8080` (the client appends `/v1/...`). */
    apiAddress: string;
    /** The API key; without one, `bearerToken` authenticates (as the official Python client does). */
    apiKey?: string;
    /** A user's bearer token (a JWT), sent as `Authorization: Bearer <token>` when there is no API key. */
    bearerToken?: string;
    /** A CA bundle (PEM text) trusted for https instead of the system's: a cluster with a private CA. */
    ca?: string;
    /** Per attempt: how long it may go without a byte moving; 60 s by default. */
    timeoutMs?: number;
    /** Attempts in all, including the first. */
    maxAttempts?: number;
    /** First backoff delay; doubles each retry, with full jitter, capped at 30 s. */
    baseDelayMs?: number;
}

export interface RequestSpec {
    method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
    /** The route, e.g. `/v1/algorithms/alice/hello`; query in `query`. */
    path: string;
    query?: Record<string, string | number | boolean | undefined>;
    json?: unknown;
    /**
     * A streamed body. A factory, because a retry needs a fresh stream. While a chunk goes to the socket the next one is
     * asked for, and a chunk has been sent by the time the one after the next is asked for: a source may reuse its
     * buffers from then on (three in turn).
     */
    body?: () => AsyncIterable<Uint8Array>;
    headers?: Record<string, string>;
    contentLength?: number;
    /**
     * Whether repeating the request is safe. Defaults to true for GET/HEAD/PUT/DELETE/PATCH (PUT and PATCH
     * here always send whole values). For a POST, pass `afterFailure`: it is asked, after an attempt that may
     * have reached the server, whether it took effect; returning a response there ends the retries.
     */
    idempotent?: boolean;
    afterFailure?: () => Promise<HttpResponse | undefined>;
    /** Statuses that are answers rather than errors (e.g. 404 for "not there"). 2xx always are. */
    accept?: number[];
    /** The idle timeout of this request, when it is not the client's (e.g. a call that answers only once it is done). */
    timeoutMs?: number;
    /**
     * Keep the body as a stream (downloads); the caller must consume or cancel it. The idle timeout goes on while
     * the caller reads: a read that gets no byte for `timeoutMs` fails with a TimeoutError (not retried here).
     */
    stream?: boolean;
}

export interface HttpResponse {
    status: number;
    headers: Headers;
    /** Parsed JSON when the reply is JSON, the text otherwise; undefined for HEAD and streams. */
    body?: any;
    stream?: AsyncIterable<Buffer>;
}

/** A failed API call: method, route, status and the API's own message — never the key. */
export class AlgorithmiaApiError extends Error {
    constructor(
        readonly method: string,
        readonly route: string,
        readonly status: number | undefined,
        readonly apiMessage: string,
        readonly code?: number,
    ) {
        const message = `${method} ${route} ${status === undefined ? "failed" : `returned ${status}`}: ${apiMessage}`;
        super(message);
        this.name = "AlgorithmiaApiError";
    }
}

const RETRYABLE_STATUS = [429, 502, 503, 504];

export class HttpClient implements RetryBudget {
    readonly apiAddress: string;
    private readonly authorization: string;
    /** What must never appear in an error: the key or the token. */
    private readonly credential: string;
    private readonly ca?: string;
    // Public: git (git.ts) retries with the same budget.
    readonly timeoutMs: number;
    readonly maxAttempts: number;
    readonly baseDelayMs: number;

    constructor(options: HttpOptions) {
        this.apiAddress = options.apiAddress.replace(/\/+$/, "");
        if (!options.apiKey && !options.bearerToken) throw new Error("HttpClient: an API key or a bearer token");
        this.credential = (options.apiKey || options.bearerToken)!;
        this.authorization = options.apiKey ? `Simple ${options.apiKey}` : `Bearer ${options.bearerToken}`;
        this.ca = options.ca;
        this.timeoutMs = options.timeoutMs ?? 60_000;
        this.maxAttempts = options.maxAttempts ?? 6;
        this.baseDelayMs = options.baseDelayMs ?? 250;
    }

    async request(spec: RequestSpec): Promise<HttpResponse> {
        const idempotent = spec.idempotent ?? spec.method !== "POST";
        let lastError: AlgorithmiaApiError | undefined;
        for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
            let retryAfterMs: number | undefined;
            let mayHaveLanded: boolean;
            try {
                const response = await this.once(spec);
                if (response.status < 300 || spec.accept?.includes(response.status)) return response;
                lastError = this.errorFrom(spec, response);
                if (!RETRYABLE_STATUS.includes(response.status)) throw lastError;
                retryAfterMs = retryAfter(response.headers);
                // A 429 was refused before doing anything; a 5xx may have done the work.
                mayHaveLanded = !idempotent && response.status !== 429;
            } catch (err) {
                if (err instanceof AlgorithmiaApiError) throw err;
                lastError = new AlgorithmiaApiError(spec.method, spec.path, undefined, describeFailure(err));
                if (!isTransient(err)) throw lastError;
                mayHaveLanded = !idempotent;
            }
            if (mayHaveLanded) {
                // Sent again only if the attempt provably did not take effect.
                const settled = await spec.afterFailure?.();
                if (settled) return settled;
                if (!spec.afterFailure) throw lastError;
            }
            if (attempt < this.maxAttempts) await sleep(retryAfterMs ?? backoffMs(attempt, this.baseDelayMs));
        }
        throw lastError!;
    }

    private async once(spec: RequestSpec): Promise<HttpResponse> {
        const url = new URL(this.apiAddress + spec.path);
        for (const [name, value] of Object.entries(spec.query ?? {})) {
            if (value !== undefined) url.searchParams.set(name, String(value));
        }
        const headers: Record<string, string> = { authorization: this.authorization, ...spec.headers };
        let body: string | AsyncIterable<Uint8Array> | undefined;
        if (spec.body) {
            headers["content-type"] ??= "application/octet-stream";
            if (spec.contentLength !== undefined) headers["content-length"] = String(spec.contentLength);
            body = spec.body();
        } else if (spec.json !== undefined) {
            headers["content-type"] = "application/json";
            body = JSON.stringify(spec.json);
        }
        const idle = idleTimer(spec.timeoutMs ?? this.timeoutMs);
        let status: number, replyHeaders: Headers, text: string;
        try {
            const reply = await exchange(url, spec.method, headers, body, idle, this.ca);
            status = reply.statusCode!;
            replyHeaders = headersOf(reply);
            if (spec.stream && status < 300)
                return { status, headers: replyHeaders, stream: whileReading(reply, idle) };
            // Not touched while this reply is read: a JSON reply is small, the wait is for the server to answer, so here
            // the idle timeout is in effect one for the whole request (what a slow call's `timeoutMs` relies on).
            text = spec.method === "HEAD" ? "" : await textOf(reply);
        } finally {
            idle.stop();
        }
        let parsed: any = text || undefined;
        if (text && (replyHeaders.get("content-type") ?? "").includes("json")) {
            try {
                parsed = JSON.parse(text);
            } catch {
                // Keep the text: the error message will show it.
            }
        }
        return { status, headers: replyHeaders, body: parsed };
    }

    private errorFrom(spec: RequestSpec, res: HttpResponse): AlgorithmiaApiError {
        const error = res.body?.error;
        const message =
            (typeof error === "string" ? error : error?.message) ??
            res.headers.get("x-error-message") ??
            (typeof res.body === "string" ? res.body.slice(0, 500) : `HTTP ${res.status}`);
        return new AlgorithmiaApiError(spec.method, spec.path, res.status, this.redact(message), error?.code);
    }

    /** Removes the key or token from anything the server echoed back. */
    private redact(text: string): string {
        return text.split(this.credential).join("[redacted]");
    }
}

/** The wait before retry `attempt` (1 = the first retry): exponential from `baseDelayMs`, capped at 30 s, full jitter. */
export function backoffMs(attempt: number, baseDelayMs: number): number {
    const cap = Math.min(30_000, baseDelayMs * 2 ** (attempt - 1));
    return Math.random() * cap;
}

/**
 * The idle timeout of one attempt: `signal` aborts with a TimeoutError once `ms` pass without a `touch()` (a byte
 * sent or received), so a large file takes as long as the link needs while a stalled transfer still fails. It
 * runs from the start, so connecting and the wait for the reply count as idle; `stop()` when nothing is awaited.
 */
function idleTimer(ms: number) {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => clearTimeout(timer);
    // Named as the platform's own timeouts are (AbortSignal.timeout); isTransient retries it.
    const timedOut = () =>
        Object.assign(new Error(`timed out: no byte sent or received for ${ms} ms`), { name: "TimeoutError" });
    const touch = () => {
        stop();
        timer = setTimeout(() => controller.abort(timedOut()), ms);
    };
    touch();
    return { signal: controller.signal, touch, stop };
}

type IdleTimer = ReturnType<typeof idleTimer>;

/**
 * A streamed reply body for the caller, timed only while a read waits for the network: a read that gets no byte
 * for the timeout fails with the TimeoutError, a caller that takes its time between reads is never timed out.
 */
async function* whileReading(reply: http.IncomingMessage, idle: IdleTimer): AsyncGenerator<Buffer> {
    const chunks = reply[Symbol.asyncIterator]();
    try {
        for (;;) {
            idle.touch();
            const { done, value } = await chunks.next();
            idle.stop();
            if (done) return;
            yield value;
        }
    } finally {
        idle.stop();
        reply.destroy(); // a caller that stops early closes the connection
    }
}

/**
 * One exchange on node's own HTTP client, answering once the reply's head arrives. Not fetch: Node's fetch (undici)
 * parses HTTP in WebAssembly, whose optimizing compile alone added 27 MiB to the provider's peak memory, and it reads
 * a stream body as fast as the disk gives it, whatever the socket takes (a 1 GiB model took 1.2 GiB of memory). Here
 * at most one chunk is on its way to the kernel while the next is read, so memory stays flat and the source may reuse
 * its buffers (a fresh 1 MiB buffer per chunk cost a third of the upload's CPU time in garbage collection).
 */
function exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | AsyncIterable<Uint8Array> | undefined,
    idle: IdleTimer,
    ca?: string,
) {
    const transport = url.protocol === "https:" ? https : http;
    return new Promise<http.IncomingMessage>((resolve, reject) => {
        let answered = false;
        const request = transport.request(url, { method, headers, ...(ca ? { ca } : {}) }, (reply) => {
            answered = true; // the server may answer (an error) before reading everything
            // Fails a read of the reply, once it has been handed on, with the TimeoutError.
            idle.signal.addEventListener("abort", () => reply.destroy(idle.signal.reason), { once: true });
            resolve(reply);
        });
        // Ends the attempt with the TimeoutError itself: the `signal` option of `request` would wrap it in an AbortError.
        idle.signal.addEventListener("abort", () => request.destroy(idle.signal.reason), { once: true });
        request.on("error", reject);
        if (body === undefined || typeof body === "string") return request.end(body);
        const send = async () => {
            // One write in flight while the next chunk is made ready (read, hashed), so the socket never waits for it.
            let writing: Promise<void> = Promise.resolve();
            try {
                for await (const chunk of body) {
                    await writing;
                    if (answered) return; // leaving the loop closes the source
                    writing = new Promise<void>((written, failed) =>
                        request.write(chunk, (err) => (err ? failed(err) : written())),
                    ).then(() => idle.touch());
                }
                await writing;
            } finally {
                // A source that failed must not leave its last write unobserved.
                writing.catch(() => undefined);
            }
            request.end();
        };
        send().catch((err) => request.destroy(err));
    });
}

function headersOf(reply: http.IncomingMessage): Headers {
    const headers = new Headers();
    for (const [name, value] of Object.entries(reply.headers)) {
        for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
    }
    return headers;
}

async function textOf(reply: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of reply) chunks.push(chunk);
    return Buffer.concat(chunks).toString("utf8");
}

function retryAfter(headers: Headers): number | undefined {
    const value = headers.get("retry-after");
    if (!value) return undefined;
    const seconds = Number(value);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Connection resets, refused connections, timeouts: worth another try. */
function isTransient(err: unknown): boolean {
    const e = err as { name?: string; code?: string };
    return (
        e.name === "TimeoutError" ||
        ["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ECONNABORTED"].includes(e.code ?? "")
    );
}

function describeFailure(err: unknown): string {
    const e = err as { message?: string; code?: string };
    return e.code && !e.message?.includes(e.code) ? `${e.message} (${e.code})` : (e.message ?? String(err));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
