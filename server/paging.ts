// Query parameters of management routes. Paging (docs/api-reference.md §1.7): `?limit=&marker=`, replies
// `{marker, next_link, results}`, newest first. The marker is an opaque keyset cursor (the sequence number of
// the last item served), so items created while a client pages never shift or repeat entries.
import { FastifyRequest } from "fastify";
import { ApiError, ErrorCode, invalidRequest } from "./errors";

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

export interface Page<T> {
    marker: string | null;
    next_link: string | null;
    results: T[];
}

export interface PageRequest {
    limit: number;
    /** Serve items with a sequence number below this (undefined: from the newest). */
    before?: number;
}

export function pageRequest(request: FastifyRequest): PageRequest {
    const query = request.query as Record<string, string | undefined>;
    let limit = DEFAULT_LIMIT;
    if (query.limit !== undefined && query.limit !== "") {
        limit = Number(query.limit);
        if (!/^\d+$/.test(query.limit) || limit < 1 || limit > MAX_LIMIT) {
            throw new ApiError(
                400,
                `Invalid limit "${query.limit}": must be an integer from 1 to ${MAX_LIMIT}`,
                ErrorCode.InvalidLimit,
            );
        }
    }
    if (query.marker === undefined || query.marker === "") return { limit };
    const decoded = /^s(\d+)$/.exec(Buffer.from(query.marker, "base64url").toString("latin1"));
    if (!decoded) throw new ApiError(400, `Invalid marker "${query.marker}"`, ErrorCode.InvalidMarker);
    return { limit, before: Number(decoded[1]) };
}

/**
 * Builds the page from up to `limit + 1` rows (newest first) that a query fetched for `page`; the extra row
 * only tells whether there is more.
 */
export function toPage<R extends { seq: number }, T>(
    request: FastifyRequest,
    baseUrl: string,
    page: PageRequest,
    rows: R[],
    render: (row: R) => T,
): Page<T> {
    const more = rows.length > page.limit;
    const served = rows.slice(0, page.limit);
    if (!more) return { marker: null, next_link: null, results: served.map(render) };
    const marker = Buffer.from(`s${served[served.length - 1].seq}`, "latin1").toString("base64url");
    const url = new URL(request.url, baseUrl);
    url.searchParams.set("limit", String(page.limit));
    url.searchParams.set("marker", marker);
    return { marker, next_link: url.toString(), results: served.map(render) };
}

/** A boolean query parameter as clients send it (`true`/`false`, `1`/`0`, any case); empty or absent: undefined. */
export function parseBoolean(value: string | undefined, name: string): boolean | undefined {
    if (value === undefined || value === "") return undefined;
    const v = value.toLowerCase();
    if (v === "true" || v === "1") return true;
    if (v === "false" || v === "0") return false;
    throw invalidRequest(`${name} must be true or false (got ${JSON.stringify(value)})`);
}
