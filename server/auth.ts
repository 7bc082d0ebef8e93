// Who is calling: `Authorization: Simple <key>`, a bare key (the Python and Ruby clients), or `Bearer <key>`
// (algorithmia-api.md §1.2). Each request under /v1 gets `request.caller`; routes that need one call
// `requireCaller`. Accounts may act for themselves and for the organizations they belong to. Running algorithms
// call back with session keys (execution.ts), which act for the call their worker is serving.
import { FastifyRequest } from "fastify";
import { ApiError, notAuthenticated, notAuthorized } from "./errors";
import { Store } from "./store";

export interface Caller {
    username: string;
    orgs: string[];
    /** Set when the call comes from inside a running algorithm (`owner/name`), see the execution area. */
    algorithm?: string;
    /** For calls from inside an algorithm: whether the version running may call other algorithms. */
    pipelineEnabled?: boolean;
    /** For calls from inside an algorithm: the versions (worker keys) whose calls are waiting on this one. */
    callChain?: string[];
}

/** Resolves session keys: undefined for a key that is none, null for one whose worker serves no call now. */
export interface SessionKeys {
    sessionCaller(key: string): Caller | null | undefined;
}

/** What a session key may reach: the Data API and algorithm calls, like an algorithm's key on Algorithmia. */
const SESSION_ROUTES = /^\/v1\/(data|connector|algo|web\/algo)(\/|$|\?)/;

declare module "fastify" {
    interface FastifyRequest {
        caller?: Caller;
    }
}

/** The API key in an Authorization header value, whatever its scheme; undefined when there is none. */
export function apiKeyFrom(header: string | undefined): string | undefined {
    const value = header?.trim();
    if (!value) return undefined;
    const match = /^(simple|bearer)\s+(.+)$/i.exec(value);
    return match ? match[2].trim() : value;
}

export function authenticate(store: Store, request: FastifyRequest, sessions?: SessionKeys): void {
    const key = apiKeyFrom(request.headers.authorization);
    if (!key) return;
    const session = sessions?.sessionCaller(key);
    if (session === null) {
        throw new ApiError(401, "This key belongs to a running algorithm and is valid only while it handles a request", 2002);
    }
    if (session) {
        if (!SESSION_ROUTES.test(request.url)) throw notAuthorized();
        request.caller = session;
        return;
    }
    const username = store.userForKey(key);
    if (!username) throw notAuthenticated();
    request.caller = { username, orgs: store.orgsOf(username) };
}

export function requireCaller(request: FastifyRequest): Caller {
    if (!request.caller) throw notAuthenticated();
    return request.caller;
}

/** True when the caller is `owner` or a member of the organization `owner` (case-insensitive, like names). */
export function actsFor(caller: Caller, owner: string): boolean {
    const o = owner.toLowerCase();
    return caller.username.toLowerCase() === o || caller.orgs.some((org) => org.toLowerCase() === o);
}

export function requireActsFor(caller: Caller, owner: string): void {
    if (!actsFor(caller, owner)) throw notAuthorized();
}
