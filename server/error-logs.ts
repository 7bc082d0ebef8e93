// Algorithm error logs (docs/api-reference.md §3.3.13): every call a worker answered with an error is kept, and
// four routes list the newest of the last 7 days (at most 200) as a JSON array — by algorithm name or UUID
// (management routes, see auth.ts), and for every algorithm a user or an organization owns. Only the owner, or
// a member of the owning organization, may read them.
import { FastifyInstance, FastifyRequest } from "fastify";
import { byIdOrAlgorithm, resolveAlgorithm } from "./algorithms";
import { requireActsFor, requireCaller } from "./auth";
import { ApiError, ErrorCode } from "./errors";
import type { ServerContext } from "./index";
import type { AlgorithmErrorBody, ContentType } from "./runtime/workers";
import { Account, Store } from "./store";

const WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
const MAX_ENTRIES = 200;
/** The log is for diagnosis: a whole input (up to 10 MiB) per entry would only bloat the database. */
const MAX_INPUT_CHARS = 64 * 1024;

export interface FailedCall {
    algorithmId: string;
    requestId: string;
    /** The version that ran: its semantic version, or its git hash when unpublished. */
    version: string;
    input: unknown;
    contentType: ContentType;
    error: AlgorithmErrorBody;
    /** The account the call was made by (and billed to). */
    caller: string;
    worker?: string;
}

function migrate(store: Store): void {
    store.migrate(`
        CREATE TABLE IF NOT EXISTS algorithm_errors (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            algorithm_id TEXT NOT NULL REFERENCES algorithms(id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            request_id TEXT NOT NULL,
            algoversion TEXT NOT NULL,
            input TEXT NOT NULL,
            error TEXT NOT NULL,
            error_type TEXT NOT NULL,
            billable_to TEXT NOT NULL,
            worker TEXT
        );
        CREATE INDEX IF NOT EXISTS algorithm_errors_by_algorithm ON algorithm_errors (algorithm_id, seq);
    `);
}

/** The input as the log shows it: text as it is, JSON as it was sent, bytes in base64. */
function loggedInput(input: unknown, contentType: ContentType): string {
    const text =
        contentType === "text"
            ? String(input)
            : Buffer.from(input as Buffer).toString(contentType === "json" ? "utf8" : "base64");
    return text.length > MAX_INPUT_CHARS ? `${text.slice(0, MAX_INPUT_CHARS)}…` : text;
}

/**
 * Keeps a failed call; entries beyond what the routes can show (older than 7 days, or past an algorithm's newest
 * 200) go. The error reads as Algorithmia's did: message and stack trace, the latter as a Scala Option.
 */
export function recordFailure(store: Store, call: FailedCall): void {
    if (!store.db.open) return; // a call that ends while the server closes
    const now = Date.now();
    const { message, stacktrace, error_type } = call.error;
    const error = `error:\n${message}\nstacktrace:\n${stacktrace ? `Some(${stacktrace})` : "None"}`;
    store.transaction(() => {
        store.db
            .prepare(
                `INSERT INTO algorithm_errors (algorithm_id, created_at, request_id, algoversion, input, error, error_type,
            billable_to, worker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
                call.algorithmId,
                now,
                call.requestId,
                call.version,
                loggedInput(call.input, call.contentType),
                error,
                error_type,
                call.caller,
                call.worker ?? null,
            );
        store.db.prepare("DELETE FROM algorithm_errors WHERE created_at < ?").run(now - WINDOW_MS);
        store.db
            .prepare(
                `DELETE FROM algorithm_errors WHERE algorithm_id = ? AND seq NOT IN
            (SELECT seq FROM algorithm_errors WHERE algorithm_id = ? ORDER BY seq DESC LIMIT ?)`,
            )
            .run(call.algorithmId, call.algorithmId, MAX_ENTRIES);
    });
}

export async function errorLogsApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
    const store = ctx.store;
    migrate(store);

    /** The newest entries of the window for the algorithms `where` selects (on `algorithms a`). */
    const entries = (where: string, value: string) =>
        store.db
            .prepare(
                `SELECT e.created_at, e.request_id, a.owner AS username, a.name AS algoname, e.algoversion, e.input,
            e.error, e.error_type, e.billable_to, e.worker FROM algorithm_errors e JOIN algorithms a ON a.id = e.algorithm_id
            WHERE ${where} AND e.created_at >= ? ORDER BY e.seq DESC LIMIT ?`,
            )
            .all(value, Date.now() - WINDOW_MS, MAX_ENTRIES);

    const ofAlgorithm = async (request: FastifyRequest) =>
        entries("a.id = ?", resolveAlgorithm(store, request, "write").algo.id);
    app.get("/v1/algorithms/:owner/:algo/errors", ofAlgorithm);
    app.get("/v1/algorithms/:id/errors", byIdOrAlgorithm(ctx, "errors", ofAlgorithm));

    const ofAccount = (kind: Account["kind"], param: string) => async (request: FastifyRequest) => {
        const caller = requireCaller(request);
        const name = (request.params as Record<string, string>)[param];
        const account = store.account(name);
        if (account?.kind !== kind) {
            throw kind === "user"
                ? new ApiError(404, `No user named ${name}`, ErrorCode.UserNotFound)
                : new ApiError(404, `No organization named ${name}`, ErrorCode.OrganizationNotFound);
        }
        requireActsFor(caller, account.name);
        return entries("a.owner = ?", account.name);
    };
    app.get("/v1/users/:username/errors", ofAccount("user", "username"));
    app.get("/v1/organizations/:org/errors", ofAccount("org", "org"));
}
