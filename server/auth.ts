// Who is calling: `Authorization: Simple <key>`, a bare key (the Python and Ruby clients), or `Bearer <JWT>`
// (docs/api-reference.md §1.2; tokens.ts issues and checks those). Each request under /v1 gets `request.caller`; routes that need one call
// `requireCaller`. Accounts may act for themselves and for the organizations they belong to. Running algorithms
// call back with session keys (execution.ts), which act for the call their worker is serving.
//
// What a key may reach is decided here, from the route it matched (§1.11): an admin key reaches the admin routes
// and nothing else, a standard key everything else, each area only with its permission — algorithm management,
// algorithm calls, browser calls, data reads and writes. The algorithms a key may call (algo_acl) are checked
// by the execution area, which knows which algorithm a call names.
import { FastifyRequest } from "fastify";
import { ApiError, notAuthenticated, notAuthorized } from "./errors";
import { Store } from "./store";

/** A key's permissions, named as in the API's key permission object (AuthPermissions). */
export interface KeyPermissions {
    allow_algo: boolean;
    allow_web_algo: boolean;
    allow_data: boolean;
    allow_data_write: boolean;
    allow_algo_management: boolean;
    /** The algorithms the key may call: `algo://*`, `algo://<owner>/*`, `algo://<owner>/<algo>[/*]`, `algo://<owner>/<algo>/<version>`. */
    algo_acl: string[];
}

type Permission = Exclude<keyof KeyPermissions, "algo_acl">;

const FULL_PERMISSIONS: Readonly<KeyPermissions> = {
    allow_algo: true,
    allow_web_algo: true,
    allow_data: true,
    allow_data_write: true,
    allow_algo_management: true,
    algo_acl: ["algo://*"],
};

/** A session key acts like an algorithm's own key: data and calls, no management (SESSION_ROUTES). */
const SESSION_PERMISSIONS: Readonly<KeyPermissions> = { ...FULL_PERMISSIONS, allow_algo_management: false };

// ACL entries carry the algo:// prefix, which Algorithmia's key settings require.
const ALGO_SCHEME = "algo://";
const ACL_ENTRY = /^algo:\/\/(\*|[^/*]+\/\*|[^/*]+\/[^/*]+(\/\*|\/[^/*]+)?)$/;

/** A key's permissions from a partial permission object: the fields it leaves out are granted. Throws on anything else. */
export function keyPermissions(given: unknown = {}): KeyPermissions {
    if (typeof given !== "object" || given === null || Array.isArray(given)) {
        throw new Error(
            `key permissions must be an object like {"allow_algo_management": false} (got ${JSON.stringify(given)})`,
        );
    }
    const permissions: KeyPermissions = { ...FULL_PERMISSIONS };
    for (const [field, value] of Object.entries(given)) {
        if (field === "algo_acl") {
            if (!Array.isArray(value) || !value.every((entry) => typeof entry === "string" && ACL_ENTRY.test(entry))) {
                throw new Error(
                    `algo_acl must be a list of entries like algo://*, algo://owner/*, algo://owner/algo or ` +
                        `algo://owner/algo/version (got ${JSON.stringify(value)})`,
                );
            }
            permissions.algo_acl = value;
        } else if (field in FULL_PERMISSIONS) {
            if (typeof value !== "boolean")
                throw new Error(`${field} must be true or false (got ${JSON.stringify(value)})`);
            permissions[field as Permission] = value;
        } else {
            throw new Error(
                `unknown key permission ${JSON.stringify(field)}: use ${Object.keys(FULL_PERMISSIONS).join(", ")}`,
            );
        }
    }
    return permissions;
}

/**
 * Whether an algo_acl lets a key call `owner/algo` at `version` (as the call names it; none for the default
 * version). `*` matches the rest of a reference; an entry without a version covers every version.
 */
export function aclAllows(acl: string[], owner: string, algo: string, version?: string): boolean {
    const target = [owner.toLowerCase(), algo.toLowerCase(), ...(version ? [version] : [])];
    return acl.some((entry) => {
        for (const [i, segment] of entry.slice(ALGO_SCHEME.length).split("/").entries()) {
            if (segment === "*") return true;
            if (i >= target.length || (i < 2 ? segment.toLowerCase() : segment) !== target[i]) return false;
        }
        return true;
    });
}

export interface Caller {
    username: string;
    orgs: string[];
    /** An admin key (PlatformAdminKey): it reaches the admin routes only. */
    admin: boolean;
    permissions: KeyPermissions;
    /** Set when the call comes from inside a running algorithm (`owner/name`), see the execution area. */
    algorithm?: string;
    /** For calls from inside an algorithm: whether the version running may call other algorithms. */
    pipelineEnabled?: boolean;
    /** For calls from inside an algorithm: the versions (worker keys) whose calls are waiting on this one. */
    callChain?: string[];
    /** Authenticated by a bearer token (a user's login), not an API key. */
    bearer?: boolean;
}

export type SessionCaller = Omit<Caller, "admin" | "permissions">;

/** Resolves session keys: undefined for a key that is none, null for one whose worker serves no call now. */
export interface SessionKeys {
    sessionCaller(key: string): SessionCaller | null | undefined;
}

/** What a session key may reach: the Data API and algorithm calls, like an algorithm's key on Algorithmia. */
const SESSION_ROUTES = /^\/v1\/(data|connector|algo|web\/algo)(\/|$)/;

/** The admin routes (§1.11): organizations, their members and types; an organization's error log is for its members. */
const isAdminRoute = (route: string) => /^\/v1\/organizations?(\/|$)/.test(route) && !route.endsWith("/errors");

/** The permissions a route needs (§1.11 auth column; every route under /v1/algorithms is a management route). */
function permissionsFor(method: string, route: string): Permission[] {
    if (/^\/v1\/algorithms(\/|$)/.test(route)) return ["allow_algo_management"];
    if (/^\/v1\/algo(\/|$)/.test(route)) return ["allow_algo"];
    if (/^\/v1\/web\/algo(\/|$)/.test(route)) return ["allow_web_algo"];
    if (/^\/v1\/(data|connector)(\/|$)/.test(route)) {
        return method === "GET" || method === "HEAD" ? ["allow_data"] : ["allow_data", "allow_data_write"];
    }
    return [];
}

declare module "fastify" {
    interface FastifyRequest {
        caller?: Caller;
    }
}

/** The API key in an Authorization header value (`Simple <key>` or bare); undefined for none or a bearer token. */
export function apiKeyFrom(header: string | undefined): string | undefined {
    const value = header?.trim();
    if (!value || bearerTokenFrom(value) !== undefined) return undefined;
    const match = /^simple\s+(.+)$/i.exec(value);
    return match ? match[1].trim() : value;
}

function bearerTokenFrom(header: string | undefined): string | undefined {
    return /^bearer\s+(.+)$/i.exec(header?.trim() ?? "")?.[1].trim();
}

/**
 * Sets `request.caller` from the request's key and refuses a route the key may not reach. The route is the one
 * Fastify matched (its pattern, so no spelling of a path slips past); an unknown route is left to answer 404.
 */
export function authenticate(
    store: Store,
    request: FastifyRequest,
    sessions?: SessionKeys,
    tokens?: { verify(token: string): string },
): void {
    const route = request.routeOptions.url;
    const token = bearerTokenFrom(request.headers.authorization);
    if (token !== undefined) {
        // A user's login: what the user may do, as with a key without restrictions (never an admin's routes).
        const username = tokens ? tokens.verify(token) : undefined;
        if (!username || store.account(username)?.kind !== "user") throw notAuthenticated();
        request.caller = {
            username,
            orgs: store.orgsOf(username),
            admin: false,
            permissions: { ...FULL_PERMISSIONS },
            bearer: true,
        };
        if (route !== undefined && isAdminRoute(route)) throw notAuthorized("this route needs an admin API key");
        return;
    }
    const key = apiKeyFrom(request.headers.authorization);
    if (!key) return;
    const session = sessions?.sessionCaller(key);
    if (session === null) {
        throw new ApiError(
            401,
            "This key belongs to a running algorithm and is valid only while it handles a request",
            2002,
        );
    }
    let caller: Caller;
    if (session) {
        if (route !== undefined && !SESSION_ROUTES.test(route)) throw notAuthorized();
        caller = { ...session, admin: false, permissions: { ...SESSION_PERMISSIONS } };
    } else {
        const stored = store.apiKey(key);
        if (!stored) throw notAuthenticated();
        caller = {
            username: stored.username,
            orgs: store.orgsOf(stored.username),
            admin: stored.keyType === "PlatformAdminKey",
            permissions: keyPermissions(stored.permissions),
        };
    }
    request.caller = caller;
    if (route === undefined) return;
    if (isAdminRoute(route) !== caller.admin) {
        throw notAuthorized(
            caller.admin ? "an admin API key serves the admin routes only" : "this route needs an admin API key",
        );
    }
    const lacking = permissionsFor(request.method, route).filter((permission) => !caller.permissions[permission]);
    if (lacking.length) throw notAuthorized(`this API key lacks ${lacking.join(" and ")}`);
}

export function requireCaller(request: FastifyRequest): Caller {
    if (!request.caller) throw notAuthenticated();
    return request.caller;
}

/** True when the caller is `owner` or a member of the organization `owner` (case-insensitive, like names). */
export function actsFor(caller: Pick<Caller, "username" | "orgs">, owner: string): boolean {
    const o = owner.toLowerCase();
    return caller.username.toLowerCase() === o || caller.orgs.some((org) => org.toLowerCase() === o);
}

export function requireActsFor(caller: Caller, owner: string): void {
    if (!actsFor(caller, owner)) throw notAuthorized();
}
