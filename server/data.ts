// The Data API (docs/api-reference.md §2): hosted collections `data://<owner>/<collection>/<file>` on both URL forms,
// `/v1/data/<path>` and `/v1/connector/data/<path>`.
//
// Storage: collection metadata (owner, name, read ACL) in SQLite; each collection's files in a directory named by
// the collection's id under <filesDir>/data, so file names never meet owner or collection names on disk and a
// collection deleted by a killed process leaves at worst an unreferenced directory, removed at the next start.
// File metadata (size, modification time) comes from the filesystem. Uploads stream into <tmpDir>, are fsynced and
// renamed over the old file, so a reader or a crash sees either the old or the new content, never a mix.
import { FastifyReply, FastifyRequest } from "fastify";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { pipeline } from "stream/promises";
import { actsFor, Caller, requireActsFor, requireCaller } from "./auth";
import { ApiError, ErrorCode, invalidRequest, malformedJson, notAuthorized, notFound } from "./errors";
import type { ApiArea } from "./index";
import { Account, Store } from "./store";

const fsp = fs.promises;

export const ACL_PUBLIC = "user://*";
export const ACL_MY_ALGOS = "algo://.my/*";
const DEFAULT_ACL = [ACL_MY_ALGOS];
const PAGE_SIZE = 1000; // entries per listing page (§2.4.1)
const JSON_BODY_LIMIT = 64 * 1024; // for the small JSON bodies of POST and PATCH
const COLLECTION_NAME = /^[a-zA-Z][a-zA-Z0-9_]*$/; // spec ResourceName, max 30 (§1.8)
const MAX_FILE_NAME_BYTES = 255; // what the filesystem holds in one name

interface Collection {
    id: string;
    owner: string;
    name: string;
    acl: string[];
}

interface FileEntry {
    filename: string;
    last_modified: string;
    size: number;
}

export const dataApi: ApiArea = async (app, ctx) => {
    const data = new DataStore(ctx.store);

    // Bodies are not parsed here: PUT streams request.raw to disk, POST and PATCH read their small JSON bodies
    // themselves (the Node client sends a collection name as plain text).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        const caller = requireCaller(request);
        const segments = dataSegments(request.url);
        const query = request.query as Record<string, string | undefined>;
        const method = request.method;
        if (segments.length === 0) {
            if (method === "GET" || method === "HEAD") return listRoot(reply, caller, method);
            throw notAllowed(
                method,
                "the root (it lists namespaces: create collections under data://.my or data://<owner>)",
            );
        }
        // Checked segment by segment from the left, so the error names the first bad one.
        const [ownerSegment, collection, file, ...deeper] = segments;
        const owner = resolveOwner(ctx.store, caller, ownerSegment);
        if (collection !== undefined) checkCollectionName(collection);
        if (deeper.length)
            throw invalidRequest(
                "Hosted data collections hold files only, no sub-folders: use data://<owner>/<collection>/<file>",
            );

        if (collection === undefined) {
            if (method === "GET" || method === "HEAD")
                return data.listOwner(reply, caller, owner, query.marker, method);
            if (method === "POST") return data.createCollection(reply, caller, owner, await readSmallBody(request));
            throw notAllowed(method, "an account's namespace");
        }
        if (file === undefined) {
            if (method === "GET" || method === "HEAD") {
                return data.listCollection(reply, caller, owner, collection, query.marker, isTrue(query.acl), method);
            }
            if (method === "PATCH")
                return data.updateAcl(reply, caller, owner, collection, await readSmallBody(request));
            if (method === "DELETE")
                return data.deleteCollection(reply, caller, owner, collection, isTrue(query.force));
            throw notAllowed(method, "a collection (POST to its owner creates one, PUT needs a file name)");
        }
        checkFileName(file);
        if (method === "GET" || method === "HEAD") return data.getFile(request, reply, caller, owner, collection, file);
        if (method === "PUT") return data.putFile(request, reply, caller, owner, collection, file);
        if (method === "DELETE") return data.deleteFile(reply, caller, owner, collection, file);
        throw notAllowed(method, "a file (collections hold no sub-folders)");
    };

    for (const url of ["/v1/data", "/v1/data/*", "/v1/connector/*"]) {
        app.route({
            method: ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"],
            url,
            exposeHeadRoute: false,
            handler,
        });
    }
};

/**
 * The root (`data://`) lists the namespaces the caller may act for as folders: its own user name first, then its
 * organizations. The official Python client's `username()` takes the first folder as the caller's name (§2.2),
 * and it ran against the real service. Few enough for one page.
 */
function listRoot(reply: FastifyReply, caller: Caller, method: string) {
    reply.header("X-Data-Type", "directory");
    if (method === "HEAD") return reply.send();
    const orgs = [...caller.orgs].sort((a, b) => a.localeCompare(b));
    return reply.send({ folders: [caller.username, ...orgs].map((name) => ({ name })), files: [] });
}

class DataStore {
    private readonly root: string;

    constructor(private readonly store: Store) {
        store.migrate(`
            CREATE TABLE IF NOT EXISTS data_collections (
                id TEXT PRIMARY KEY,
                owner TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                name TEXT NOT NULL,
                acl TEXT NOT NULL,
                created_at TEXT NOT NULL,
                UNIQUE (owner, name)
            );
        `);
        this.root = path.join(store.filesDir, "data");
        fs.mkdirSync(this.root, { recursive: true });
        // Directories of collections whose deletion was cut short by a crash.
        const ids = new Set(
            (store.db.prepare("SELECT id FROM data_collections").all() as { id: string }[]).map((r) => r.id),
        );
        for (const dir of fs.readdirSync(this.root)) {
            if (!ids.has(dir)) fs.rmSync(path.join(this.root, dir), { recursive: true, force: true });
        }
    }

    // --- namespaces and collections ---------------------------------------------------------------------

    listOwner(reply: FastifyReply, caller: Caller, owner: Account, marker: string | undefined, method: string) {
        // Other accounts' namespaces show only the collections the caller may read.
        const names = this.collectionsOf(owner.name)
            .filter((c) => canRead(caller, c))
            .map((c) => c.name);
        const page = pageOf(names, marker);
        reply.header("X-Data-Type", "directory");
        if (method === "HEAD") return reply.send();
        return reply.send({ folders: page.names.map((name) => ({ name })), files: [], ...markerField(page.next) });
    }

    createCollection(reply: FastifyReply, caller: Caller, owner: Account, body: string) {
        requireActsFor(caller, owner.name);
        const request = parseCreateBody(body);
        checkCollectionName(request.name);
        const acl = request.acl === undefined ? DEFAULT_ACL : parseAcl(request.acl);
        const id = crypto.randomUUID();
        const inserted = this.store.db
            .prepare("INSERT OR IGNORE INTO data_collections (id, owner, name, acl, created_at) VALUES (?, ?, ?, ?, ?)")
            .run(id, owner.name, request.name, JSON.stringify(acl), new Date().toISOString());
        if (inserted.changes === 0)
            throw new ApiError(409, `Collection ${uri(owner.name, request.name)} already exists`);
        fs.mkdirSync(this.dirOf(id), { recursive: true });
        return reply.send({ result: uri(owner.name, request.name) });
    }

    async listCollection(
        reply: FastifyReply,
        caller: Caller,
        owner: Account,
        name: string,
        marker: string | undefined,
        withAcl: boolean,
        method: string,
    ) {
        const collection = this.readable(caller, owner, name);
        reply.header("X-Data-Type", "directory");
        if (method === "HEAD") return reply.send();
        const page = pageOf(await this.fileNames(collection), marker);
        const files: FileEntry[] = [];
        for (const filename of page.names) {
            const stat = await fsp.stat(path.join(this.dirOf(collection.id), filename)).catch(() => undefined);
            if (stat) files.push({ filename, last_modified: listingTime(stat.mtimeMs), size: stat.size }); // else deleted meanwhile
        }
        return reply.send({
            folders: [],
            files,
            ...markerField(page.next),
            ...(withAcl ? { acl: { read: collection.acl } } : {}),
        });
    }

    updateAcl(reply: FastifyReply, caller: Caller, owner: Account, name: string, body: string) {
        requireActsFor(caller, owner.name);
        const collection = this.existing(owner, name);
        const request = parseJsonObject(body);
        if (request.acl === undefined) throw invalidRequest('PATCH takes {"acl": {"read": [...]}}; "acl" is missing');
        const acl = parseAcl(request.acl);
        this.store.db
            .prepare("UPDATE data_collections SET acl = ? WHERE id = ?")
            .run(JSON.stringify(acl), collection.id);
        return reply.send();
    }

    async deleteCollection(reply: FastifyReply, caller: Caller, owner: Account, name: string, force: boolean) {
        requireActsFor(caller, owner.name);
        const collection = this.existing(owner, name);
        const count = (await this.fileNames(collection)).length;
        if (count > 0 && !force) {
            throw invalidRequest(
                `Collection ${uri(owner.name, name)} is not empty (${count} file${count === 1 ? "" : "s"}); delete it with force=true`,
            );
        }
        // The row goes first: once it is gone the directory is garbage, whatever happens next.
        this.store.db.prepare("DELETE FROM data_collections WHERE id = ?").run(collection.id);
        await fsp.rm(this.dirOf(collection.id), { recursive: true, force: true });
        return reply.send({ result: { deleted: count } });
    }

    // --- files ------------------------------------------------------------------------------------------

    async getFile(
        request: FastifyRequest,
        reply: FastifyReply,
        caller: Caller,
        owner: Account,
        name: string,
        filename: string,
    ) {
        const collection = this.readable(caller, owner, name);
        // Open first and stat the open file, so headers and bytes describe the same version even if a new upload
        // is renamed over it meanwhile.
        const handle = await fsp.open(path.join(this.dirOf(collection.id), filename), "r").catch((err) => {
            if (err.code === "ENOENT") throw notFound(`File ${uri(owner.name, name, filename)} does not exist`);
            throw err;
        });
        try {
            const stat = await handle.stat();
            reply
                .header("X-Data-Type", "file")
                .header("Content-Type", downloadType(request.headers.accept))
                .header("Content-Length", String(stat.size))
                .header("Last-Modified", new Date(stat.mtimeMs).toUTCString())
                .header(
                    "ETag",
                    `"${stat.ino.toString(16)}-${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
                );
        } catch (err) {
            await handle.close();
            throw err;
        }
        if (request.method === "HEAD") {
            await handle.close();
            return reply.send();
        }
        return reply.send(handle.createReadStream({ highWaterMark: 1024 * 1024 }));
    }

    async putFile(
        request: FastifyRequest,
        reply: FastifyReply,
        caller: Caller,
        owner: Account,
        name: string,
        filename: string,
    ) {
        requireActsFor(caller, owner.name);
        const collection = this.existing(owner, name);
        const tmp = path.join(this.store.tmpDir, `upload-${crypto.randomUUID()}`);
        try {
            // `flush` fsyncs before the close that ends the pipeline: the bytes are on disk before the rename.
            await pipeline(
                request.raw,
                fs.createWriteStream(tmp, { flags: "wx", flush: true, highWaterMark: 1024 * 1024 }),
            );
            // The collection may have been deleted while the bytes arrived.
            this.existing(owner, name);
            const dir = this.dirOf(collection.id);
            await fsp.mkdir(dir, { recursive: true });
            await fsp.rename(tmp, path.join(dir, filename));
            await fsyncDir(dir);
        } catch (err) {
            await fsp.rm(tmp, { force: true });
            if (request.raw.readableAborted || request.raw.destroyed) {
                throw invalidRequest(
                    "Upload interrupted: the request body ended early; the previous file (if any) is unchanged",
                );
            }
            throw err;
        }
        return reply.send({ result: uri(owner.name, name, filename) });
    }

    async deleteFile(reply: FastifyReply, caller: Caller, owner: Account, name: string, filename: string) {
        requireActsFor(caller, owner.name);
        const collection = this.existing(owner, name);
        const file = path.join(this.dirOf(collection.id), filename);
        await fsp.unlink(file).catch((err) => {
            if (err.code === "ENOENT") throw notFound(`File ${uri(owner.name, name, filename)} does not exist`);
            throw err;
        });
        await fsyncDir(path.dirname(file));
        return reply.send({ result: { deleted: 1 } });
    }

    // --- helpers ----------------------------------------------------------------------------------------

    private collectionsOf(owner: string): Collection[] {
        const rows = this.store.db
            .prepare("SELECT id, owner, name, acl FROM data_collections WHERE owner = ? ORDER BY name")
            .all(owner);
        return (rows as (Omit<Collection, "acl"> & { acl: string })[]).map((r) => ({ ...r, acl: JSON.parse(r.acl) }));
    }

    private existing(owner: Account, name: string): Collection {
        const row = this.store.db
            .prepare("SELECT id, owner, name, acl FROM data_collections WHERE owner = ? AND name = ?")
            .get(owner.name, name) as (Omit<Collection, "acl"> & { acl: string }) | undefined;
        if (!row) throw notFound(`Collection ${uri(owner.name, name)} does not exist`);
        return { ...row, acl: JSON.parse(row.acl) };
    }

    /** The collection if the caller may read it: 404 when it does not exist, 403 when its ACL keeps the caller out. */
    private readable(caller: Caller, owner: Account, name: string): Collection {
        const collection = this.existing(owner, name);
        if (!canRead(caller, collection)) throw notAuthorized();
        return collection;
    }

    private async fileNames(collection: Collection): Promise<string[]> {
        const names = await fsp.readdir(this.dirOf(collection.id)).catch((err) => {
            if (err.code === "ENOENT") return [] as string[]; // created, then killed before its directory was made
            throw err;
        });
        return names.sort();
    }

    private dirOf(id: string): string {
        return path.join(this.root, id);
    }
}

/** Read access per the collection's ACL (§2.3); writes always need the owner or an org member. */
export function canRead(
    caller: Pick<Caller, "username" | "orgs" | "algorithm">,
    collection: { owner: string; acl: string[] },
): boolean {
    if (actsFor(caller, collection.owner)) return true;
    if (collection.acl.includes(ACL_PUBLIC)) return true;
    const ownersAlgorithm = caller.algorithm?.toLowerCase().startsWith(`${collection.owner.toLowerCase()}/`) ?? false;
    return collection.acl.includes(ACL_MY_ALGOS) && ownersAlgorithm;
}

// --- paths and names --------------------------------------------------------------------------------------

/**
 * The hosted-data path segments of a request URL (§2.1): the part after `/v1/data/` or `/v1/connector/<c>/`,
 * percent-decoded including `%2F`, with an optional `<connector>://` prefix, and trailing slashes ignored.
 */
export function dataSegments(url: string): string[] {
    let rest = url.split("?")[0];
    let connector = "data";
    if (rest.startsWith("/v1/connector/")) {
        const [id, ...tail] = rest.slice("/v1/connector/".length).split("/");
        connector = decode(id);
        rest = tail.join("/");
    } else {
        rest = rest.slice("/v1/data".length).replace(/^\//, "");
    }
    let decoded = decode(rest);
    const scheme = /^\/*([^/:]+):\/\/(.*)$/s.exec(decoded);
    if (scheme) [, connector, decoded] = scheme;
    if (connector !== "data") {
        throw notFound(`Connector "${connector}" not found: algorithmia-local hosts only data:// collections`);
    }
    const trimmed = decoded.replace(/^\/+|\/+$/g, "");
    if (!trimmed) return [];
    const segments = trimmed.split("/");
    if (segments.includes("")) throw invalidRequest(`Data path "${trimmed}" has an empty segment ("//")`);
    return segments;
}

function decode(text: string): string {
    // Java's URLEncoder encodes the whole path, "/" as %2F and spaces as "+"; other clients keep "/" and "+".
    const formEncoded = !text.includes("/") && /%2f/i.test(text);
    try {
        return decodeURIComponent(formEncoded ? text.replace(/\+/g, " ") : text);
    } catch {
        throw invalidRequest(`Data path "${text}" has a malformed percent-encoding`);
    }
}

function resolveOwner(store: Store, caller: Caller, segment: string): Account {
    const name = segment === ".my" ? caller.username : segment;
    if (name.startsWith(".")) {
        throw invalidRequest(
            `"${segment}" is not an owner: algorithmia-local supports data://.my and data://<owner> only`,
        );
    }
    const account = store.account(name);
    if (!account) throw notFound(`No user or organization named "${name}"`);
    return account;
}

function checkCollectionName(name: string): void {
    if (!COLLECTION_NAME.test(name) || name.length > 30) {
        throw invalidRequest(
            `Invalid collection name "${name}": it must start with a letter, contain only letters, digits and _, and have at most 30 characters`,
        );
    }
}

export function checkFileName(name: string): void {
    const bad = (rule: string) => invalidRequest(`Invalid file name ${JSON.stringify(name)}: ${rule}`);
    if (name === "." || name === "..") throw bad('"." and ".." are not file names');
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    if (/[\x00-\x1f\x7f]/.test(name)) throw bad("control characters (including NUL) are not allowed");
    if (name.includes("\\")) throw bad('"\\" is not allowed');
    if (Buffer.byteLength(name) > MAX_FILE_NAME_BYTES) throw bad(`at most ${MAX_FILE_NAME_BYTES} bytes (UTF-8)`);
}

const isTrue = (value: string | undefined) => value?.toLowerCase() === "true";

const uri = (...parts: string[]) => `data://${parts.join("/")}`;

const notAllowed = (method: string, what: string) => new ApiError(405, `${method} is not supported on ${what}`);

// --- request bodies ---------------------------------------------------------------------------------------

async function readSmallBody(request: FastifyRequest): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request.raw) {
        size += chunk.length;
        if (size > JSON_BODY_LIMIT) throw new ApiError(413, `Request body larger than ${JSON_BODY_LIMIT} bytes`);
        chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
}

function parseJsonObject(body: string): Record<string, unknown> {
    let value: unknown;
    try {
        value = JSON.parse(body);
    } catch (err) {
        throw malformedJson((err as Error).message);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
        throw invalidRequest("Expected a JSON object");
    return value as Record<string, unknown>;
}

/** `{name, acl?}`, or a bare name as text (the Node client's form). */
function parseCreateBody(body: string): { name: string; acl?: unknown } {
    const text = body.trim();
    if (!text.startsWith("{")) {
        if (!text) throw invalidRequest('Creating a collection takes {"name": "...", "acl": {"read": [...]}}');
        return { name: text };
    }
    const json = parseJsonObject(text);
    if (typeof json.name !== "string") throw invalidRequest('Creating a collection needs "name" (a string)');
    return { name: json.name, acl: json.acl };
}

function parseAcl(acl: unknown): string[] {
    const read = (acl as { read?: unknown } | null)?.read;
    if (typeof acl !== "object" || acl === null || read === undefined) return DEFAULT_ACL;
    const allowed = [ACL_PUBLIC, ACL_MY_ALGOS];
    if (!Array.isArray(read) || read.some((entry) => !allowed.includes(entry))) {
        throw invalidRequest(
            `"acl.read" must be a list of ${JSON.stringify(allowed)} ([] is private), got ${JSON.stringify(read)}`,
        );
    }
    return [...new Set(read as string[])];
}

// --- listings ---------------------------------------------------------------------------------------------

/** One page of sorted names after `marker` (the last name of the previous page, base64url-encoded). */
function pageOf(names: string[], marker: string | undefined): { names: string[]; next?: string } {
    let start = 0;
    if (marker) {
        const after = Buffer.from(marker, "base64url").toString("utf8");
        if (!after || Buffer.from(after).toString("base64url") !== marker) {
            throw new ApiError(400, `Invalid marker "${marker}"`, ErrorCode.InvalidMarker);
        }
        start = names.findIndex((name) => name > after);
        if (start < 0) start = names.length;
    }
    const page = names.slice(start, start + PAGE_SIZE);
    const more = start + PAGE_SIZE < names.length;
    return { names: page, next: more ? Buffer.from(page[page.length - 1]).toString("base64url") : undefined };
}

const markerField = (next: string | undefined) => (next ? { marker: next } : {});

/**
 * `YYYY-MM-DDTHH:MM:SS.000Z`: the C# client parses exactly this pattern (§2.4.1). Whole seconds, then, as Algorithmia
 * lists them: two writes within one second list the same time.
 */
function listingTime(mtimeMs: number): string {
    return new Date(Math.floor(mtimeMs / 1000) * 1000).toISOString();
}

/** The old Node client decodes a download by its Content-Type, which it asks for with Accept (§1.3). */
function downloadType(accept: string | undefined): string {
    if (accept === "text/plain") return "text/plain; charset=utf-8";
    if (accept === "application/json") return "application/json";
    return "application/octet-stream";
}

async function fsyncDir(dir: string): Promise<void> {
    const handle = await fsp.open(dir, "r");
    try {
        await handle.sync();
    } finally {
        await handle.close();
    }
}
