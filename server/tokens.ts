// Bearer tokens (docs/api-reference.md §1.2): `Authorization: Bearer <JWT>` authenticates as the token's user, as
// the official Python client sends it when it holds a token instead of an API key. Algorithmia issues these tokens
// from its web login; algorithmia-local issues them at `POST /_local/tokens` to a caller with an API key (a local
// stand-in for that login, outside the API), signed with a secret kept in the data directory. A bearer token is
// never taken for an API key, nor a key for a token.
//
// HS256 JWTs are made and checked with node:crypto (a dozen lines) rather than a JWT library: the server only
// verifies the tokens it signs itself, with one algorithm, so no key sets, algorithms or claims beyond `exp`.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { FastifyInstance } from "fastify";
import { apiKeyFrom } from "./auth";
import { ApiError, invalidRequest, notAuthenticated } from "./errors";
import { Store } from "./store";

const SECRET_FILE = "bearer-token-secret";
const DEFAULT_TTL_SECONDS = 3600;
const MAX_TTL_SECONDS = 30 * 24 * 3600;

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

export class BearerTokens {
    private readonly secret: Buffer;

    constructor(dataDir: string) {
        const file = path.join(dataDir, SECRET_FILE);
        if (!fs.existsSync(file)) {
            fs.mkdirSync(dataDir, { recursive: true });
            fs.writeFileSync(file, crypto.randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
        }
        this.secret = Buffer.from(fs.readFileSync(file, "utf8").trim(), "hex");
    }

    issue(username: string, ttlSeconds = DEFAULT_TTL_SECONDS): { token: string; expires_at: string } {
        const now = Math.floor(Date.now() / 1000);
        const body = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub: username, iat: now, exp: now + ttlSeconds })}`;
        return { token: `${body}.${this.sign(body)}`, expires_at: new Date((now + ttlSeconds) * 1000).toISOString() };
    }

    /** The user a token was issued to; throws a 401 for anything but a valid, unexpired token of this server. */
    verify(token: string): string {
        const refuse = (why: string) => new ApiError(401, `Invalid bearer token: ${why}`, 2002);
        const [header, claims, signature, ...rest] = token.split(".");
        if (!header || !claims || !signature || rest.length) throw refuse("a bearer token is a JWT, not an API key");
        const expected = Buffer.from(this.sign(`${header}.${claims}`));
        const given = Buffer.from(signature);
        if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
            throw refuse("its signature does not match");
        }
        const { sub, exp } = JSON.parse(Buffer.from(claims, "base64url").toString("utf8"));
        if (typeof sub !== "string" || typeof exp !== "number") throw refuse("it names no user or expiry");
        if (exp * 1000 <= Date.now()) throw refuse("it has expired");
        return sub;
    }

    private sign(body: string): string {
        return crypto.createHmac("sha256", this.secret).update(body).digest("base64url");
    }

    /** `POST /_local/tokens {"ttl_seconds"?}` with an API key: a token for the key's user. */
    routes(store: Store) {
        return async (app: FastifyInstance) => {
            app.post("/_local/tokens", async (request) => {
                const key = apiKeyFrom(request.headers.authorization);
                const stored = key ? store.apiKey(key) : undefined;
                if (!stored) throw notAuthenticated();
                const ttl = (request.body as { ttl_seconds?: unknown } | undefined)?.ttl_seconds ?? DEFAULT_TTL_SECONDS;
                if (!Number.isInteger(ttl) || (ttl as number) < 1 || (ttl as number) > MAX_TTL_SECONDS) {
                    throw invalidRequest(`ttl_seconds must be a whole number of seconds, 1 to ${MAX_TTL_SECONDS}`);
                }
                return this.issue(stored.username, ttl as number);
            });
        };
    }
}
