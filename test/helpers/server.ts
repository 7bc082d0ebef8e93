// Starts algorithmia-local for a test suite in a fresh data directory, with known users, and gives a small
// `call` helper for raw HTTP route tests (real HTTP through fetch, no injection) and `rawRequest` for unnormalised paths.
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { RunningServer, ServerOptions, startServer } from "../../server";

export const ALICE = { name: "alice", key: "simAliceTestKey0000000000001" };
export const BOB = { name: "bob", key: "simBobTestKey00000000000000002" };
/** An admin key (PlatformAdminKey), for the organization routes; not among the default users. */
export const ADMIN = { name: "admin", key: "simAdminTestKey000000000000003", admin: true };

export interface TestServer extends RunningServer {
    dataDir: string;
    /** Restarts on the same data directory and port (state must survive). */
    restart(): Promise<TestServer>;
    /** Closes the server and removes its data directory. */
    dispose(): Promise<void>;
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
    const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "algorithmia-local-test-"));
    const opts: ServerOptions = {
        users: [ALICE, BOB],
        orgs: [{ name: "team", members: [ALICE.name] }],
        ...options,
        dataDir,
    };
    const server = await startServer(opts);
    return {
        ...server,
        dataDir,
        async restart() {
            await server.close();
            const next = await startTestServer({ ...opts, port: server.port });
            await dropStaleSockets(next.url);
            return next;
        },
        async dispose() {
            await server.close();
            fs.rmSync(dataDir, { recursive: true, force: true });
        },
    };
}

/**
 * fetch keeps idle keep-alive sockets to the old server; the first requests after a restart may pick one that the
 * old server closed before this process read its FIN ("other side closed"). Probing an uncounted control route
 * until it answers uses them up, so the test's own requests go to the new server.
 */
async function dropStaleSockets(url: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
        try {
            await (await fetch(`${url}/_local/faults`)).arrayBuffer();
            return;
        } catch (err) {
            if (attempt >= 10) throw err;
        }
    }
}

export interface CallOptions {
    /** An API key, sent as `Simple <key>` unless `auth` says otherwise. */
    key?: string;
    auth?: string;
    json?: unknown;
    body?: string | Buffer;
    headers?: Record<string, string>;
}

export interface CallResult {
    status: number;
    headers: Headers;
    text: string;
    json: any;
}

/** Asserts an error reply in the API's shape: the status, `error.code` and a message (matching `pattern`). */
export function expectError(res: CallResult, status: number, code: number, pattern?: RegExp): void {
    assert.strictEqual(res.status, status, res.text);
    assert.strictEqual(res.json?.error?.code, code, res.text);
    assert.strictEqual(typeof res.json.error.message, "string", res.text);
    if (pattern) assert.match(res.json.error.message, pattern);
}

/** One real HTTP request to the server. */
export async function call(
    server: { url: string },
    method: string,
    route: string,
    opts: CallOptions = {},
): Promise<CallResult> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth !== undefined) headers.authorization = opts.auth;
    else if (opts.key) headers.authorization = `Simple ${opts.key}`;
    let body: string | Buffer | undefined = opts.body;
    if (opts.json !== undefined) {
        body = JSON.stringify(opts.json);
        headers["content-type"] ??= "application/json";
    }
    const res = await fetch(server.url + route, { method, headers, body });
    const text = await res.text();
    let json: any;
    try {
        json = text ? JSON.parse(text) : undefined;
    } catch {
        json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
}

/**
 * A loopback proxy to `target` that forwards every request, but loses the successful (2xx) reply to
 * `<method> <path>` once the server has given it (calling `landed`): the request took effect, the client never
 * hears so. The reply is held forever, or with `cut` the connection is closed instead (a lost reply the client
 * sees as a reset), once. `requests` counts what it forwarded, by `<METHOD> <path and query>`, and `replyBytes`
 * the bytes of the reply bodies it passed on.
 */
export async function replyLosingProxy(
    target: string,
    method: string,
    path: string,
    options: { landed?: () => void; cut?: boolean } = {},
) {
    const upstream = new URL(target);
    let lost = false;
    const requests: Record<string, number> = {};
    const replyBytes: Record<string, number> = {};
    const proxy = http.createServer((req, res) => {
        const key = `${req.method} ${req.url}`;
        requests[key] = (requests[key] ?? 0) + 1;
        const forwarded = http.request(
            { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
            (answer) => {
                const tookEffect = answer.statusCode! < 300;
                if (tookEffect && req.method === method && req.url?.split("?")[0] === path && !(options.cut && lost)) {
                    lost = true;
                    answer.resume().on("end", () => {
                        options.landed?.();
                        if (options.cut) res.destroy();
                    });
                    return;
                }
                res.writeHead(answer.statusCode!, answer.headers);
                answer.on("data", (chunk: Buffer) => (replyBytes[key] = (replyBytes[key] ?? 0) + chunk.length));
                answer.pipe(res);
            },
        );
        forwarded.on("error", () => res.destroy());
        req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        requests,
        replyBytes,
        close: () => {
            proxy.closeAllConnections();
            proxy.close();
        },
    };
}

/**
 * One request with the path sent byte for byte: fetch would normalise `..` and `%2e%2e` away, which is what the
 * path-safety tests send.
 */
export function rawRequest(
    server: { url: string },
    method: string,
    rawPath: string,
    opts: Pick<CallOptions, "key" | "headers"> & { body?: string } = {},
) {
    const url = new URL(server.url);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key) headers.authorization = `Simple ${opts.key}`;
    return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
        const req = http.request({ host: url.hostname, port: url.port, method, path: rawPath, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
                resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }),
            );
        });
        req.on("error", reject);
        req.end(opts.body);
    });
}

/** The result of an algorithm call that succeeded (HTTP 200 without `error`). */
export function callResult(res: CallResult): any {
    assert.strictEqual(res.status, 200, res.text);
    assert.ok(!res.json.error, res.text);
    return res.json.result;
}

/** The `error` of an algorithm call that failed in the algorithm (HTTP 200 with `error`) with `errorType`. */
export function callError(res: CallResult, errorType: string): any {
    assert.strictEqual(res.status, 200, res.text);
    assert.ok(res.json.error, res.text);
    assert.strictEqual(res.json.error.error_type, errorType, res.text);
    return res.json.error;
}
