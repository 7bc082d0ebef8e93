// algorithmia-local: an Algorithmia-compatible API server. This module assembles it: durable store, request
// counting and fault injection, authentication, then one plugin per API area (each in its own encapsulated
// Fastify context, so an area may parse bodies its own way — the Data API streams them).
import Fastify = require("fastify");
import { FastifyInstance } from "fastify";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { authenticate, keyPermissions, KeyPermissions } from "./auth";
import { BearerTokens } from "./tokens";
import { errorHandler, invalidRequest, routeNotFound } from "./errors";
import { Faults } from "./faults";
import { Store } from "./store";
import { dataApi } from "./data";
import { algorithmsApi } from "./algorithms";
import { versionsApi } from "./versions";
import { secretsApi } from "./secrets";
import { environmentsApi } from "./environments";
import { AlgorithmRunner, executionApi } from "./execution";
import { errorLogsApi } from "./error-logs";
import { organizationsApi } from "./organizations";
import { GitRepos, gitRoutes } from "./git";
import { ApiSocket, listenApiSocket } from "./api-socket";
import type { WorkerPoolOptions } from "./runtime/workers";

/** An API user and one of its keys. */
export interface ServerUser {
    name: string;
    key: string;
    /** An admin key (PlatformAdminKey): it reaches the admin routes (organizations) and nothing else. */
    admin?: boolean;
    /** The key's permissions (the API's AuthPermissions fields); what is left out is granted. */
    permissions?: Partial<KeyPermissions>;
}

export interface ServerOptions {
    /** Where everything is kept; state survives restarts. */
    dataDir: string;
    /** 0 (the default) picks a free port. */
    port?: number;
    host?: string;
    /**
     * API users as `{name, key}`, standard keys with every permission unless said otherwise. None: a user `local`
     * with a generated key (kept in dataDir).
     */
    users?: ServerUser[];
    /** Organizations and their member users. */
    orgs?: { name: string; members: string[] }[];
    /** A fault-injection spec, see server/faults.ts. */
    faults?: string;
    /** Log every request (pino JSON lines on stdout). */
    log?: boolean;
    /** Tuning of the warm workers that run algorithms (idle timeout, caps). */
    workers?: Pick<
        WorkerPoolOptions,
        "maxWorkers" | "maxWorkersPerKey" | "maxQueuePerKey" | "idleTimeoutSeconds" | "gpus"
    >;
    /**
     * Honour the legacy `version_info.git_hash` of a publish request: refuse it unless it names the latest
     * successful build. Off by default: like Algorithmia, a publish takes the latest successful build and
     * ignores the field, so a client must not count on it.
     */
    legacyGitHashPublish?: boolean;
}

/** What every API area gets. */
export interface ServerContext {
    store: Store;
    faults: Faults;
    /** Algorithm repositories (the source of truth for code) and their checked-out trees. */
    repos: GitRepos;
    /** The warm workers that run algorithms, and their session keys. */
    runner: AlgorithmRunner;
    /** The server's own base URL (for links in replies), known once it listens. */
    baseUrl(): string;
    /** A Unix socket reaching this API (for isolated algorithms), known once the server listens. */
    apiSocket(): string | undefined;
    legacyGitHashPublish: boolean;
}

export type ApiArea = (app: FastifyInstance, ctx: ServerContext) => Promise<void>;

/** The API areas, in registration order. */
const areas: ApiArea[] = [
    dataApi,
    algorithmsApi,
    versionsApi,
    secretsApi,
    environmentsApi,
    errorLogsApi,
    executionApi,
    organizationsApi,
];

export interface RunningServer {
    url: string;
    port: number;
    store: Store;
    faults: Faults;
    repos: GitRepos;
    runner: AlgorithmRunner;
    /** The users created from ServerOptions (or the generated `local` user). */
    users: ServerUser[];
    close(): Promise<void>;
}

export const DEFAULT_USER = "local";
export const GENERATED_KEY_FILE = "local-user.json";

export async function startServer(given: ServerOptions): Promise<RunningServer> {
    // Absolute from here on: workers run in other directories, and git and the builds keep paths into the data.
    const options = { ...given, dataDir: path.resolve(given.dataDir) };
    const users = options.users?.length ? options.users : [generatedUser(options.dataDir)];
    const keys = users.map((user) => ({ ...user, permissions: permissionsOf(user) })); // checked before anything is written
    const store = new Store(options.dataDir);
    for (const key of keys)
        store.ensureUser(key.name, key.key, key.admin ? "PlatformAdminKey" : "AlgorithmKey", key.permissions);
    for (const org of options.orgs ?? []) store.ensureOrg(org.name, org.members);

    const faults = new Faults(options.faults);
    const tokens = new BearerTokens(options.dataDir);
    const app = Fastify({
        logger: options.log ?? false,
        bodyLimit: 10 * 1024 * 1024, // Algorithmia's maximum request size (docs/api-reference.md §1.3)
        genReqId: () => `req-${crypto.randomUUID()}`,
        // Errors Fastify raises before routing (a URL that does not percent-decode) get the API's error shape too.
        frameworkErrors: (err, request, reply) =>
            errorHandler(
                err.code === "FST_ERR_BAD_URL"
                    ? invalidRequest(
                          `Malformed URL ${JSON.stringify(request.url)}: it has a malformed percent-encoding`,
                      )
                    : err,
                request,
                reply,
            ),
    });
    let url = "";
    const repos = new GitRepos(options.dataDir);
    const runner = new AlgorithmRunner(options.workers);
    let apiSocket: ApiSocket | undefined; // eslint-disable-line prefer-const -- set once the server listens
    const ctx: ServerContext = {
        store,
        faults,
        repos,
        runner,
        baseUrl: () => url,
        apiSocket: () => apiSocket?.path,
        legacyGitHashPublish: options.legacyGitHashPublish ?? false,
    };

    app.setErrorHandler(errorHandler);
    closeUnusedConnectionsOnClose(app);
    app.setNotFoundHandler(routeNotFound);
    app.addHook("onRequest", async (request, reply) => faults.onRequest(request, reply));
    app.addHook("onSend", async (request, _reply, payload) => faults.onSend(request, payload));
    app.addHook("onRequest", async (request) => {
        if (request.url.startsWith("/v1/")) authenticate(store, request, runner, tokens);
    });
    await app.register(faults.routes());
    await app.register(tokens.routes(store));
    await app.register(gitRoutes(store, repos));
    for (const area of areas) await app.register(async (scope) => area(scope, ctx));

    await app.listen({ port: options.port ?? 0, host: options.host ?? "127.0.0.1" });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : (options.port ?? 0);
    url = `http://${options.host ?? "127.0.0.1"}:${port}`;
    const loopback = !options.host || options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host;
    apiSocket = await listenApiSocket(options.dataDir, port, loopback);

    return {
        url,
        port,
        store,
        faults,
        repos,
        runner,
        users,
        async close() {
            // Calls in flight end first (as SystemError), then requests and builds, then the database.
            await runner.shutdown();
            await apiSocket?.close();
            await app.close();
            store.close();
        },
    };
}

/**
 * Closes, as the server closes, the connections that carry no request yet: Node counts them as busy, so `close`
 * waited for the client to hang up (a minute or more), and fetch opens such a spare connection after it aborts a
 * request (an idle timeout), also while the server closes. Connections between requests Fastify closes itself.
 */
function closeUnusedConnectionsOnClose(app: FastifyInstance) {
    const unused = new Set<net.Socket>();
    let closing = false;
    app.server.on("connection", (socket: net.Socket) => {
        if (closing) return socket.destroy();
        unused.add(socket);
        socket.once("close", () => unused.delete(socket));
    });
    app.server.on("request", (request: http.IncomingMessage) => unused.delete(request.socket));
    app.addHook("preClose", async () => {
        closing = true;
        for (const socket of unused) socket.destroy();
    });
}

/** A user's key permissions, checked: what it leaves out is granted. */
function permissionsOf(user: ServerUser): KeyPermissions {
    try {
        return keyPermissions(user.permissions);
    } catch (err) {
        throw new Error(`user ${user.name}: ${(err as Error).message}`, { cause: err });
    }
}

/** The `local` user's key, generated on first start and kept in the data directory. */
function generatedUser(dataDir: string): ServerUser {
    const file = path.join(dataDir, GENERATED_KEY_FILE);
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
    const user = { name: DEFAULT_USER, key: `sim${crypto.randomBytes(18).toString("base64url")}` };
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(user, null, 2) + "\n", { mode: 0o600 });
    return user;
}
