// Algorithm management (docs/api-reference.md §3.1–3.3): create, read, update, delete and listing, plus the model
// the other management areas share — the tables, lookups with their access rules, settings validation and the
// algorithm object every reply is built from.
//
// Source lives in git (server/git.ts): creating an algorithm creates its repository from the language template,
// and the head of master is its current source. Builds (versions.ts) are keyed by commit sha.
import * as crypto from "crypto";
import { FastifyInstance, FastifyRequest } from "fastify";
import { actsFor, Caller, requireActsFor, requireCaller } from "./auth";
import {
    environmentById,
    environmentByPackageSet,
    familyOf,
    INTERNAL_SCM,
    LEGACY_LANGUAGES,
    PACKAGE_SETS,
    templateFiles,
} from "./environments";
import { ApiError, ErrorCode, invalidRequest, malformedJson, notAuthorized } from "./errors";
import type { ServerContext } from "./index";
import { Store } from "./store";

// --- model ----------------------------------------------------------------------------------------------------

export interface Details {
    label: string;
    summary?: string;
    tagline?: string;
}

/** The settings an algorithm keeps; callability and royalty belong to published versions. */
export interface Settings {
    source_visibility: "open" | "closed";
    license: "apl" | "apache2" | "gpl3" | "mit";
    network_access: "full" | "isolated";
    pipeline_enabled: boolean;
    language?: string;
    environment?: "cpu" | "gpu";
    package_set?: string;
    algorithm_environment?: string;
}

export interface Algorithm {
    id: string;
    owner: string;
    name: string;
    details: Details;
    settings: Settings;
    sample_input?: string;
    created_at: string;
}

export interface Build {
    seq: number;
    build_id: string;
    algorithm_id: string;
    commit_sha: string;
    status: "in-progress" | "succeeded" | "failed";
    started_at: string;
    finished_at: string | null;
    logs: string | null;
    version_uuid: string | null;
    semantic_version: string | null;
    published_at: string | null;
    /** JSON VersionSnapshot: what a hash version (set at build) or a published version (set at publish) is. */
    snapshot: string | null;
    /** JSON `{id, files}` of a successful Python build: its environment and the requirement files it is made from. */
    python_env: string | null;
    /** JSON `{id, files, entry}` of a successful JavaScript build: its environment, the package files it is made from, its entry file. */
    node_env: string | null;
}

/** An immutable record of a version: details, settings (with callability and royalty) and version_info. */
export interface VersionSnapshot {
    details: Details;
    settings: Record<string, unknown>;
    version_info: { release_notes?: string; sample_input?: string; sample_output?: string; insights_enabled?: boolean };
}

const SCHEMA = `
    CREATE TABLE IF NOT EXISTS algorithms (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL COLLATE NOCASE REFERENCES accounts(name) ON DELETE CASCADE,
        name TEXT NOT NULL COLLATE NOCASE,
        details TEXT NOT NULL,
        settings TEXT NOT NULL,
        sample_input TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (owner, name)
    );
    CREATE TABLE IF NOT EXISTS algorithm_builds (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        build_id TEXT NOT NULL UNIQUE,
        algorithm_id TEXT NOT NULL REFERENCES algorithms(id) ON DELETE CASCADE,
        commit_sha TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('in-progress', 'succeeded', 'failed')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        logs TEXT,
        version_uuid TEXT,
        semantic_version TEXT,
        published_at TEXT,
        snapshot TEXT,
        python_env TEXT,
        node_env TEXT,
        UNIQUE (algorithm_id, semantic_version)
    );
    CREATE INDEX IF NOT EXISTS algorithm_builds_by_algorithm ON algorithm_builds (algorithm_id, seq);
`;

export function migrateAlgorithms(store: Store): void {
    store.migrate(SCHEMA);
    // Data directories from before git hosting kept source in SQLite; git holds it now.
    const columns = store.db.prepare("PRAGMA table_info(algorithms)").all() as { name: string }[];
    if (columns.some((c) => c.name === "head")) store.db.exec("ALTER TABLE algorithms DROP COLUMN head");
    store.db.exec("DROP TABLE IF EXISTS algorithm_commits; DROP TABLE IF EXISTS algorithm_trees;");
    // Builds from before per-algorithm environments ran in the server's runtime: their requirements.txt makes one
    // when they are next called (execution.ts). No JavaScript build succeeded before node_env was added.
    const buildColumns = store.db.prepare("PRAGMA table_info(algorithm_builds)").all() as { name: string }[];
    for (const column of ["python_env", "node_env"]) {
        if (!buildColumns.some((c) => c.name === column))
            store.db.exec(`ALTER TABLE algorithm_builds ADD COLUMN ${column} TEXT`);
    }
}

interface AlgorithmRow extends Omit<Algorithm, "details" | "settings" | "sample_input"> {
    details: string;
    settings: string;
    sample_input: string | null;
}

function fromRow(row: AlgorithmRow | undefined): Algorithm | undefined {
    if (!row) return undefined;
    return {
        ...row,
        details: JSON.parse(row.details),
        settings: JSON.parse(row.settings),
        sample_input: row.sample_input ?? undefined,
    };
}

export function algorithmByName(store: Store, owner: string, name: string): Algorithm | undefined {
    return fromRow(
        store.db.prepare("SELECT * FROM algorithms WHERE owner = ? AND name = ?").get(owner, name) as AlgorithmRow,
    );
}

export function algorithmById(store: Store, id: string): Algorithm | undefined {
    return fromRow(store.db.prepare("SELECT * FROM algorithms WHERE id = ?").get(id.toLowerCase()) as AlgorithmRow);
}

export function saveAlgorithm(store: Store, algo: Algorithm): void {
    store.db
        .prepare("UPDATE algorithms SET details = ?, settings = ?, sample_input = ? WHERE id = ?")
        .run(JSON.stringify(algo.details), JSON.stringify(algo.settings), algo.sample_input ?? null, algo.id);
}

export function latestBuild(store: Store, algorithmId: string): Build | undefined {
    return store.db
        .prepare("SELECT * FROM algorithm_builds WHERE algorithm_id = ? ORDER BY seq DESC LIMIT 1")
        .get(algorithmId) as Build | undefined;
}

/** The newest published version (any callability), which sets the algorithm's callability and royalty. */
export function latestPublished(store: Store, algorithmId: string): Build | undefined {
    return store.db
        .prepare(
            `SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND semantic_version IS NOT NULL
        ORDER BY seq DESC LIMIT 1`,
        )
        .get(algorithmId) as Build | undefined;
}

export function hasPublicVersion(store: Store, algorithmId: string): boolean {
    const row = store.db
        .prepare(
            `SELECT 1 FROM algorithm_builds WHERE algorithm_id = ? AND semantic_version IS NOT NULL
        AND json_extract(snapshot, '$.settings.algorithm_callability') = 'public' LIMIT 1`,
        )
        .get(algorithmId);
    return row !== undefined;
}

export function snapshotOf(build: Build): VersionSnapshot | undefined {
    return build.snapshot ? JSON.parse(build.snapshot) : undefined;
}

/** A version anyone may call: published, with public callability. */
export function isPublicVersion(build: Build): boolean {
    return build.semantic_version != null && snapshotOf(build)?.settings.algorithm_callability === "public";
}

// --- source ---------------------------------------------------------------------------------------------------

/** The starter files of an algorithm: its language's template, named for it. */
export function algorithmTemplate(algo: Pick<Algorithm, "owner" | "name" | "settings">): Record<string, string> {
    const { family, language } = familyOf(algo.settings);
    return templateFiles(family, language, algo.owner, algo.name);
}

/** The message of a template's first commit (fixed, so the commit is the same on every server). */
export const INITIAL_COMMIT_MESSAGE = "Initial commit";

// --- validation -----------------------------------------------------------------------------------------------

export const NAME_RULE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const ENUMS = {
    source_visibility: ["open", "closed"],
    license: ["apl", "apache2", "gpl3", "mit"],
    network_access: ["full", "isolated"],
    environment: ["cpu", "gpu"],
    algorithm_callability: ["public", "private"],
} as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The JSON object of a request body; an absent or empty body is `{}`. */
export function objectBody(body: unknown): Record<string, unknown> {
    if (body === undefined || body === null) return {};
    if (body instanceof URLSearchParams) {
        // The Python client's Algorithm.update() sends its dicts through requests' `data=`, which form-encodes only
        // their keys: the values are lost, so the only honest answer is to refuse (an empty form is just "{}").
        if ([...body.keys()].length === 0) return {};
        throw invalidRequest(
            "The request body must be a JSON object (Content-Type: application/json); got a form " +
                `with fields ${[...new Set(body.keys())].join(", ")} whose values cannot carry objects`,
        );
    }
    if (!isObject(body)) throw invalidRequest("The request body must be a JSON object");
    return body;
}

/** `body[key]` as an object; absent or null is `{}`. */
export function member(body: Record<string, unknown>, key: string): Record<string, unknown> {
    const value = body[key];
    if (value === undefined || value === null) return {};
    if (!isObject(value)) throw invalidRequest(`${key} must be a JSON object`);
    return value;
}

export function checkEnum<K extends keyof typeof ENUMS>(
    key: K,
    value: unknown,
    where = "settings",
): (typeof ENUMS)[K][number] {
    const allowed = ENUMS[key] as readonly string[];
    if (value === undefined || value === null)
        throw invalidRequest(`${where}.${key} is required: one of ${allowed.join(", ")}`);
    if (typeof value !== "string" || !allowed.includes(value)) {
        throw invalidRequest(`${where}.${key} must be one of ${allowed.join(", ")} (got ${JSON.stringify(value)})`);
    }
    return value as (typeof ENUMS)[K][number];
}

function optionalString(value: unknown, field: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") throw invalidRequest(`${field} must be a string`);
    return value;
}

export function checkDetails(input: Record<string, unknown>): Details {
    if (typeof input.label !== "string" || input.label.trim() === "") {
        throw invalidRequest("details.label is required: a non-empty string (the algorithm's display name)");
    }
    const details: Details = { label: input.label };
    const summary = optionalString(input.summary, "details.summary");
    const tagline = optionalString(input.tagline, "details.tagline");
    if (summary !== undefined) details.summary = summary;
    if (tagline !== undefined) details.tagline = tagline;
    return details;
}

/** Validates complete settings (after merging an update into the current ones) and keeps the known fields. */
export function checkSettings(input: Record<string, unknown>): Settings {
    const license = input.license ?? input.licence; // Java and Node models spell it `licence` (§8.4)
    const settings: Settings = {
        source_visibility: checkEnum("source_visibility", input.source_visibility),
        license: checkEnum("license", license),
        network_access: checkEnum("network_access", input.network_access),
        pipeline_enabled: false,
    };
    if (typeof input.pipeline_enabled !== "boolean") {
        throw invalidRequest(
            `settings.pipeline_enabled is required: a boolean (got ${JSON.stringify(input.pipeline_enabled ?? null)})`,
        );
    }
    settings.pipeline_enabled = input.pipeline_enabled;
    if (settings.source_visibility === "closed" && settings.license !== "apl") {
        throw invalidRequest(
            `settings.source_visibility "closed" is only allowed with license "apl" (got license "${settings.license}"); ` +
                'open-source licenses require source_visibility "open"',
        );
    }
    if (
        input.royalty_microcredits !== undefined &&
        !(Number.isInteger(input.royalty_microcredits) && (input.royalty_microcredits as number) >= 0)
    ) {
        throw invalidRequest("settings.royalty_microcredits must be an integer >= 0");
    }
    if (input.algorithm_callability !== undefined) checkEnum("algorithm_callability", input.algorithm_callability);

    // The runtime: an environment (2020+), a package set (2019) or a legacy language + cpu|gpu (§5), one model at a
    // time: an environment decides the language and the machine type, so the reference never shows them together.
    const given = (key: string) => input[key] !== undefined && input[key] !== null;
    const runtimeModel = ["algorithm_environment", "package_set"].find(given);
    const legacyField = ["language", "environment"].find(given);
    if (runtimeModel && legacyField) {
        throw invalidRequest(
            `settings.${legacyField} cannot be combined with settings.${runtimeModel}: the environment decides ` +
                "the language and the machine type",
        );
    }
    if (input.algorithm_environment !== undefined && input.algorithm_environment !== null) {
        const env =
            typeof input.algorithm_environment === "string"
                ? environmentById(input.algorithm_environment.toLowerCase())
                : undefined;
        if (!env) {
            throw invalidRequest(
                `settings.algorithm_environment must be the id of an environment listed by ` +
                    `GET /v1/algorithm-environments/edge/languages/{language}/environments (got ${JSON.stringify(input.algorithm_environment)})`,
            );
        }
        settings.algorithm_environment = env.id;
        settings.package_set = env.package_set;
    } else if (input.package_set !== undefined && input.package_set !== null) {
        if (typeof input.package_set !== "string" || !(input.package_set in PACKAGE_SETS)) {
            throw new ApiError(
                400,
                `settings.package_set must be one of ${Object.keys(PACKAGE_SETS).join(", ")} ` +
                    `(got ${JSON.stringify(input.package_set)})`,
                ErrorCode.UnknownAlgorithmLanguage,
            );
        }
        settings.package_set = input.package_set;
        const env = environmentByPackageSet(input.package_set);
        if (env) settings.algorithm_environment = env.id;
    } else if (input.language !== undefined && input.language !== null) {
        if (typeof input.language !== "string" || !(input.language in LEGACY_LANGUAGES)) {
            throw new ApiError(
                400,
                `settings.language must be one of ${Object.keys(LEGACY_LANGUAGES).join(", ")} ` +
                    `(got ${JSON.stringify(input.language)})`,
                ErrorCode.UnknownAlgorithmLanguage,
            );
        }
        settings.language = input.language === "python2-lackpack" ? "python2-langpack" : input.language;
        settings.environment = checkEnum("environment", input.environment);
    } else {
        throw invalidRequest(
            "settings must choose a runtime: settings.language with settings.environment (cpu|gpu), " +
                "settings.algorithm_environment (an environment id) or settings.package_set",
        );
    }
    return settings;
}

// --- lookups with access rules --------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

/** The legacy 404 body of `GET /v1/algorithms/{owner}/{algo}` (§1.4), which clients match on. */
export const noSuchAlgorithm = () =>
    new ApiError(404, "No such algorithm", ErrorCode.AlgorithmNotFound, { error: "No such algorithm" });

export interface Resolved {
    algo: Algorithm;
    caller: Caller;
    /** The caller is the owner or a member of the owning organization. */
    owns: boolean;
}

/**
 * The algorithm a route names by `:owner/:algo` or `:id`. Others may read an algorithm once it has a public
 * version; everything else needs the owner (or a member of the owning organization).
 */
export function resolveAlgorithm(store: Store, request: FastifyRequest, access: "read" | "write"): Resolved {
    const caller = requireCaller(request);
    const params = request.params as { owner?: string; algo?: string; id?: string };
    let algo: Algorithm | undefined;
    if (params.id !== undefined) {
        algo = isUuid(params.id) ? algorithmById(store, params.id) : undefined;
        if (!algo) throw new ApiError(404, `No algorithm with id ${params.id}`, ErrorCode.AlgorithmIdDoesNotExist);
    } else {
        algo = algorithmByName(store, params.owner!, params.algo!);
        if (!algo) throw noSuchAlgorithm();
    }
    const owns = actsFor(caller, algo.owner);
    if (!owns && (access === "write" || !hasPublicVersion(store, algo.id))) throw notAuthorized();
    return { algo, caller, owns };
}

/**
 * `GET /v1/algorithms/{algorithmId}/<segment>` also matches `GET /v1/algorithms/{owner}/{algo}` for an algorithm
 * named <segment> (the router prefers the static segment): serve that algorithm when the first segment is no UUID.
 */
export function byIdOrAlgorithm(
    ctx: ServerContext,
    segment: string,
    handler: (request: FastifyRequest) => Promise<unknown>,
) {
    return async (request: FastifyRequest) => {
        const { id } = request.params as { id: string };
        if (isUuid(id)) return handler(request);
        request.params = { owner: id, algo: segment };
        return algorithmObject(ctx, resolveAlgorithm(ctx.store, request, "read").algo);
    };
}

// --- rendering ------------------------------------------------------------------------------------------------

/** Settings as replies show them: the runtime fields of the model in use, then callability and royalty. */
export function settingsObject(settings: Settings, callability: string, royalty: number): Record<string, unknown> {
    const runtime =
        settings.algorithm_environment || settings.package_set
            ? {
                  package_set: settings.package_set,
                  ...(settings.algorithm_environment ? { algorithm_environment: settings.algorithm_environment } : {}),
              }
            : { language: settings.language, environment: settings.environment };
    return {
        algorithm_callability: callability,
        source_visibility: settings.source_visibility,
        ...runtime,
        license: settings.license,
        royalty_microcredits: royalty,
        network_access: settings.network_access,
        pipeline_enabled: settings.pipeline_enabled,
        insights_enabled: false,
    };
}

export function buildObject(build: Build): Record<string, unknown> {
    return {
        build_id: build.build_id,
        status: build.status,
        commit_sha: build.commit_sha,
        started_at: build.started_at,
        ...(build.finished_at ? { finished_at: build.finished_at } : {}),
        ...(build.semantic_version ? { version_info: { semantic_version: build.semantic_version } } : {}),
        resource_type: "algorithm_build",
    };
}

function sourceObject() {
    return { scm: { ...INTERNAL_SCM } };
}

/**
 * The algorithm object (§3.1). Without `version`, it describes the algorithm now: current details and settings,
 * callability and royalty of the newest published version, and its newest build. With `version`, it describes
 * that build as a (hash or published) version, from the snapshot taken when it was built or published.
 */
export function algorithmObject(
    ctx: ServerContext,
    algo: Algorithm,
    version?: Build,
    withOutput = true,
): Record<string, unknown> {
    const store = ctx.store;
    const build = version ?? latestBuild(store, algo.id);
    let details: Details = algo.details;
    let settings: Record<string, unknown>;
    const snapshot = build && snapshotOf(build);
    if (version && snapshot) {
        details = snapshot.details;
        settings = snapshot.settings;
    } else {
        const published = latestPublished(store, algo.id);
        const current = published && snapshotOf(published);
        settings = settingsObject(
            algo.settings,
            String(current?.settings.algorithm_callability ?? "private"),
            Number(current?.settings.royalty_microcredits ?? 0),
        );
    }
    const reply: Record<string, unknown> = {
        id: algo.id,
        name: algo.name,
        details,
        settings,
        source: sourceObject(),
        resource_type: "algorithm",
    };
    if (!build) return reply;

    reply.version_info = {
        git_hash: build.commit_sha,
        ...(build.version_uuid ? { version_uuid: build.version_uuid } : {}),
        ...(build.semantic_version ? { semantic_version: build.semantic_version, ...snapshot?.version_info } : {}),
    };
    reply.compilation = {
        successful: build.status === "succeeded",
        ...(withOutput && build.status !== "in-progress" ? { output: build.logs ?? "" } : {}),
    };
    reply.build = buildObject(build);
    reply.self_link = `${ctx.baseUrl()}/v1/algorithms/${algo.owner}/${algo.name}/versions/${build.commit_sha}`;
    return reply;
}

// --- request bodies -------------------------------------------------------------------------------------------

/**
 * Management routes take JSON, but clients also send empty bodies with a JSON type (Java's compile) and the
 * Python client's update sends a form (see objectBody). Malformed JSON is a 400 with code 2013.
 */
export function managementBodies(app: FastifyInstance): void {
    app.removeContentTypeParser("application/json");
    app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, text, done) => {
        const body = String(text);
        if (body.trim() === "") return done(null, undefined);
        try {
            done(null, JSON.parse(body));
        } catch (err) {
            done(malformedJson((err as Error).message), undefined);
        }
    });
    app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, text, done) =>
        done(null, new URLSearchParams(String(text))),
    );
}

// --- routes ---------------------------------------------------------------------------------------------------

export async function algorithmsApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
    const store = ctx.store;
    migrateAlgorithms(store);
    managementBodies(app);
    /** Names being created right now (their repository is being made), `owner/name` lower-cased. */
    const creating = new Set<string>();
    // An algorithm whose repository is gone (removed by hand) gets its template back: the same first commit.
    for (const algo of (store.db.prepare("SELECT * FROM algorithms").all() as AlgorithmRow[]).map((r) => fromRow(r)!)) {
        if (!ctx.repos.exists(algo.owner, algo.name)) {
            await ctx.repos.create(algo.owner, algo.name, algorithmTemplate(algo), INITIAL_COMMIT_MESSAGE);
        }
    }

    app.post("/v1/algorithms/:owner", async (request, reply) => {
        const caller = requireCaller(request);
        const { owner } = request.params as { owner: string };
        const account = store.account(owner);
        if (!account) throw new ApiError(404, `No user or organization named ${owner}`, ErrorCode.UserNotFound);
        requireActsFor(caller, account.name);

        const body = objectBody(request.body);
        const name = body.name;
        if (typeof name !== "string" || !NAME_RULE.test(name)) {
            throw invalidRequest(
                `name is required: letters, digits and underscores, starting with a letter, at most 64 ` +
                    `characters (got ${JSON.stringify(name ?? null)})`,
            );
        }
        const details = checkDetails(member(body, "details"));
        const settings = checkSettings(member(body, "settings"));
        const sampleInput = optionalString(member(body, "version_info").sample_input, "version_info.sample_input");
        const source = member(body, "source");
        if (source.scm !== undefined && source.scm !== INTERNAL_SCM.id) {
            throw new ApiError(
                400,
                `source.scm ${JSON.stringify(source.scm)} is not a configured SCM; only "internal" is available`,
                ErrorCode.ScmConfigurationNotFound,
            );
        }

        const taken = () =>
            new ApiError(
                400,
                `Algorithm name ${account.name}/${name} has been taken`,
                ErrorCode.AlgorithmNameHasBeenTaken,
            );
        const slot = `${account.name}/${name}`.toLowerCase();
        if (creating.has(slot) || algorithmByName(store, account.name, name)) throw taken();
        creating.add(slot);
        let algo: Algorithm;
        try {
            // The repository first: an algorithm row always has one. A crash before the row is written leaves a
            // repository no algorithm owns, which the next create of that name replaces.
            // source.initial_commit_message is not used: the first commit must depend only on owner, name and
            // language, so that every server (dev, staging, prod) makes the same one.
            await ctx.repos.create(
                account.name,
                name,
                algorithmTemplate({ owner: account.name, name, settings }),
                INITIAL_COMMIT_MESSAGE,
            );
            algo = store.transaction(() => {
                if (algorithmByName(store, account.name, name)) throw taken();
                const id = crypto.randomUUID();
                store.db
                    .prepare(
                        `INSERT INTO algorithms (id, owner, name, details, settings, sample_input, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)`,
                    )
                    .run(
                        id,
                        account.name,
                        name,
                        JSON.stringify(details),
                        JSON.stringify(settings),
                        sampleInput ?? null,
                        new Date().toISOString(),
                    );
                return algorithmById(store, id)!;
            });
        } finally {
            creating.delete(slot);
        }
        reply.status(201);
        return algorithmObject(ctx, algo);
    });

    const get = async (request: FastifyRequest) => algorithmObject(ctx, resolveAlgorithm(store, request, "read").algo);
    app.get("/v1/algorithms/:owner/:algo", get);
    app.get("/v1/algorithms/:id", get);

    const update = async (request: FastifyRequest) => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const body = objectBody(request.body);
        const details = checkDetails({ ...algo.details, ...member(body, "details") });
        const changes = { ...member(body, "settings") };
        // Callability and royalty are set by publishing; the spec marks them read-only here.
        for (const key of ["algorithm_callability", "royalty_microcredits", "insights_enabled"]) delete changes[key];
        if (changes.language !== undefined && changes.language !== algo.settings.language) {
            throw invalidRequest(
                `settings.language cannot be changed after create (it is ${JSON.stringify(algo.settings.language ?? null)}); ` +
                    "create a new algorithm instead",
            );
        }
        // Choosing an environment or a package set replaces the previous runtime model (environment migration, §3.1.2).
        const base: Record<string, unknown> = { ...algo.settings };
        if (changes.algorithm_environment !== undefined || changes.package_set !== undefined) {
            for (const key of ["language", "environment", "package_set", "algorithm_environment"]) delete base[key];
        }
        const settings = checkSettings({ ...base, ...changes });
        const before = familyOf(algo.settings).family;
        const after = familyOf(settings).family;
        if (before !== after) {
            throw invalidRequest(
                `The algorithm's language cannot change (it is a ${before} algorithm; the new settings are for ${after})`,
            );
        }
        const versionInfo = member(body, "version_info");
        const sampleInput = optionalString(versionInfo.sample_input, "version_info.sample_input");
        const source = member(body, "source");
        if (source.scm !== undefined && source.scm !== INTERNAL_SCM.id)
            throw invalidRequest("source.scm cannot be changed");

        const updated: Algorithm = { ...algo, details, settings, sample_input: sampleInput ?? algo.sample_input };
        store.transaction(() => saveAlgorithm(store, updated));
        return algorithmObject(ctx, updated);
    };
    app.put("/v1/algorithms/:owner/:algo", update);
    app.put("/v1/algorithms/:id", update);

    app.delete("/v1/algorithms/:owner/:algo", async (request, reply) => {
        const { algo } = resolveAlgorithm(store, request, "write");
        store.transaction(() => {
            // Callers may depend on a public version, so only never-public algorithms can go (§3.2 point 7).
            if (hasPublicVersion(store, algo.id)) {
                throw invalidRequest(
                    `Algorithm ${algo.owner}/${algo.name} has a public published version and cannot be deleted`,
                );
            }
            store.db.prepare("DELETE FROM algorithms WHERE id = ?").run(algo.id);
        });
        // The row is gone, so what follows only tidies up: a crash here leaves files that the next create replaces.
        ctx.runner.forget(algo.id);
        ctx.repos.remove(algo.owner, algo.name);
        return reply.status(204).send();
    });

    app.get("/v1/algorithms/:owner/:algo/log", async (request) => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const { since, until } = request.query as { since?: string; until?: string };
        return { commits: await ctx.repos.log(algo.owner, algo.name, since || undefined, until || undefined) };
    });

    app.get("/v1/algorithms/:owner/:algo/scm/status", async (request) => {
        resolveAlgorithm(store, request, "write");
        return { scm_connection_status: "active" };
    });

    app.get("/v1/users/:username/algorithms", async (request) => {
        const caller = requireCaller(request);
        const { username } = request.params as { username: string };
        const account = store.account(username);
        if (!account) throw new ApiError(404, `No user or organization named ${username}`, ErrorCode.UserNotFound);
        const rows = store.db
            .prepare("SELECT id, name FROM algorithms WHERE owner = ? ORDER BY created_at, name")
            .all(account.name) as { id: string; name: string }[];
        // Others see only what they could call: algorithms with a public version.
        const visible = actsFor(caller, account.name) ? rows : rows.filter((r) => hasPublicVersion(store, r.id));
        return visible.map((r) => ({ id: r.id, algoname: r.name, username: account.name }));
    });
}
