// Builds, compile and publishing (docs/api-reference.md §3.2, §3.3.5–3.3.9, §6): a build checks out a commit of the
// algorithm's git repository and validates it step by step, keeping a real log. Every push that moves master
// starts a build of its new head in the background (unless that commit was built already); compile builds the
// head (or a given commit) and answers when done. Every successful build is a hash version; publishing turns
// the newest successful build into an immutable semantic version under the numbering and permission rules of §6.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { FastifyInstance, FastifyRequest } from "fastify";
import {
    Algorithm,
    algorithmById,
    algorithmByName,
    algorithmObject,
    Build,
    buildObject,
    byIdOrAlgorithm,
    checkDetails,
    checkEnum,
    checkSettings,
    latestPublished,
    managementBodies,
    member,
    objectBody,
    resolveAlgorithm,
    saveAlgorithm,
    settingsObject,
    isPublicVersion,
    snapshotOf,
    VersionSnapshot,
} from "./algorithms";
import { entryFile, familyOf } from "./environments";
import { ApiError, ErrorCode, invalidRequest, notAuthorized } from "./errors";
import type { ServerContext } from "./index";
import type { PushEvent } from "./git";
import type { BuildFault } from "./faults";
import { pageRequest, parseBoolean, toPage } from "./paging";
import { buildNode } from "./runtime/node-build";
import { buildPython } from "./runtime/python-build";
import { Store } from "./store";

// --- builds ---------------------------------------------------------------------------------------------------

function getBuild(store: Store, buildId: string): Build | undefined {
    return store.db.prepare("SELECT * FROM algorithm_builds WHERE build_id = ?").get(buildId) as Build | undefined;
}

/** The builds running now; the server waits for them before it closes its database. */
export class Builder {
    private readonly running = new Set<Promise<Build>>();

    constructor(private readonly ctx: ServerContext) {}

    /**
     * Starts a build of `commitSha` of `algo`. The in-progress record is written before this returns (readers
     * see the build while it runs); the promise settles with the finished build. A build cut short by a crash is
     * marked failed at the next start.
     */
    start(
        algo: Algorithm,
        commitSha: string,
        fault: Omit<BuildFault, "skip"> = { fail: false, latencyMs: 0 },
    ): Promise<Build> {
        const store = this.ctx.store;
        const buildId = crypto.randomUUID();
        store.transaction(() => {
            store.db
                .prepare(
                    `INSERT INTO algorithm_builds (build_id, algorithm_id, commit_sha, status, started_at)
                VALUES (?, ?, ?, 'in-progress', ?)`,
                )
                .run(buildId, algo.id, commitSha, new Date().toISOString());
        });
        const done = this.run(algo, commitSha, buildId, fault);
        this.running.add(done);
        void done.finally(() => this.running.delete(done));
        return done;
    }

    async idle(): Promise<void> {
        await Promise.allSettled([...this.running]);
    }

    /** `fault`: an injected slow or failing build (server/faults.ts); the latency is spent before the checks. */
    private async run(
        algo: Algorithm,
        commitSha: string,
        buildId: string,
        fault: Omit<BuildFault, "skip">,
    ): Promise<Build> {
        const store = this.ctx.store;
        const started = Date.now();
        const { family, language } = familyOf(algo.settings);
        const runtime = algo.settings.environment ? `${language} (${algo.settings.environment})` : language;
        const log: string[] = [
            `Building ${algo.owner}/${algo.name} at commit ${commitSha} (build ${buildId})`,
            `Runtime: ${runtime}`,
        ];
        let ok = false;
        // The environment a successful build runs in, by its column: python_env or node_env.
        const environment: { python_env?: string; node_env?: string } = {};
        try {
            if (fault.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
            const tree = await this.ctx.repos.tree(algo.owner, algo.name, commitSha);
            log.push(`Checked out ${commitSha}`);
            if (fault.fail)
                log.push("Build failed: the build machine stopped before the build finished (injected fault)");
            else if (family === "python") {
                const result = await buildPython(tree, algo.name);
                log.push(...result.log.trimEnd().split("\n"));
                ok = result.ok;
                const env = result.environment;
                if (env) environment.python_env = JSON.stringify({ id: env.id, files: env.files });
            } else if (family === "javascript") {
                const result = await buildNode(tree, algo.name);
                log.push(...result.log.trimEnd().split("\n"));
                ok = result.ok;
                if (result.environment) environment.node_env = JSON.stringify(result.environment);
            } else ok = checkOther(tree, algo, log);
        } catch (err) {
            log.push(`Build failed: internal error: ${(err as Error).message}`);
        }
        log.push(`${ok ? "Succeeded" : "Failed"} after ${((Date.now() - started) / 1000).toFixed(2)}s`);
        const snapshot: VersionSnapshot = {
            details: algo.details,
            settings: settingsObject(algo.settings, "private", 0),
            version_info: algo.sample_input !== undefined ? { sample_input: algo.sample_input } : {},
        };
        store.transaction(() => {
            store.db
                .prepare(
                    `UPDATE algorithm_builds SET status = ?, finished_at = ?, logs = ?, version_uuid = ?, snapshot = ?,
                python_env = ?, node_env = ? WHERE build_id = ?`,
                )
                .run(
                    ok ? "succeeded" : "failed",
                    new Date().toISOString(),
                    log.join("\n") + "\n",
                    ok ? crypto.randomUUID() : null,
                    ok ? JSON.stringify(snapshot) : null,
                    (ok && environment.python_env) || null,
                    (ok && environment.node_env) || null,
                    buildId,
                );
        });
        return getBuild(store, buildId)!;
    }
}

/**
 * Languages other than Python and JavaScript are not run by algorithmia-local. Their build checks what it can without a toolchain
 * (algorithmia.conf parses, the entry file of the language's template is there), then fails saying why: a build
 * that succeeded would promise versions that fail every call.
 */
function checkOther(tree: string, algo: Algorithm, log: string[]): boolean {
    const confFile = path.join(tree, "algorithmia.conf");
    if (fs.existsSync(confFile)) {
        try {
            JSON.parse(fs.readFileSync(confFile, "utf8"));
        } catch {
            log.push("Build failed: algorithmia.conf is not valid JSON");
            return false;
        }
    }
    const entry = entryFile(familyOf(algo.settings).family, algo.name);
    const file = path.join(tree, entry);
    if (!fs.existsSync(file) || !fs.readFileSync(file, "utf8").trim()) {
        log.push(`Build failed: the entry point ${entry} is missing or empty`);
        return false;
    }
    const { language } = familyOf(algo.settings);
    log.push(
        `Entry point ${entry} present`,
        `Build failed: algorithmia-local cannot run ${language} algorithms (it runs Python and JavaScript ones); build and run ` +
            "this one on an Algorithmia cluster that supports its language",
    );
    return false;
}

// --- publishing -----------------------------------------------------------------------------------------------

const VERSION_TYPES: Record<string, "major" | "minor" | "revision"> = {
    major: "major",
    minor: "minor",
    revision: "revision",
    patch: "revision",
    default: "minor",
};

/** The fields whose change needs a major version (permissions, §6.4), in the order messages name them. */
const PERMISSION_FIELDS = [
    "algorithm_callability",
    "source_visibility",
    "license",
    "network_access",
    "pipeline_enabled",
];

function bump(previous: string | undefined, type: "major" | "minor" | "revision"): string {
    const [major, minor, patch] = (previous ?? "0.0.0").split(".").map(Number);
    if (type === "major") return `${major + 1}.0.0`;
    if (type === "minor") return `${major}.${minor + 1}.0`;
    return `${major}.${minor}.${patch + 1}`;
}

const versionKey = (v: string) => v.split(".").map(Number);
function newer(a: string, b: string): boolean {
    const [x, y] = [versionKey(a), versionKey(b)];
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i];
    return false;
}

/** §6.4: what a revision or minor version may not change relative to the previous published version. */
function checkVersionRules(
    type: "major" | "minor" | "revision",
    previous: Record<string, unknown>,
    next: Record<string, unknown>,
): void {
    if (type === "major") return;
    for (const field of PERMISSION_FIELDS) {
        if (previous[field] !== next[field]) {
            throw invalidRequest(
                `A ${type} version cannot change settings.${field} (from ${JSON.stringify(previous[field])} to ` +
                    `${JSON.stringify(next[field])}): callability and permission changes need a major version`,
            );
        }
    }
    const [before, after] = [Number(previous.royalty_microcredits ?? 0), Number(next.royalty_microcredits ?? 0)];
    if (type === "revision" && before !== after) {
        throw invalidRequest(
            `A revision cannot change settings.royalty_microcredits (from ${before} to ${after}): ` +
                "price changes need a minor or major version",
        );
    }
    if (before === 0 && after > 0) {
        throw invalidRequest(
            "A free algorithm cannot start charging (settings.royalty_microcredits from 0) in a minor version: publish a major version",
        );
    }
}

function publish(ctx: ServerContext, algo: Algorithm, body: Record<string, unknown>): Record<string, unknown> {
    const store = ctx.store;
    const info = member(body, "version_info");
    const typeField = info.version_type !== undefined ? "version_type" : "type"; // `type`: older dev-center payloads
    const rawType = info[typeField] ?? "minor";
    if (typeof rawType !== "string" || !(rawType in VERSION_TYPES)) {
        throw invalidRequest(
            `version_info.${typeField} must be one of major, minor, revision, patch (got ${JSON.stringify(rawType)})`,
        );
    }
    let type = VERSION_TYPES[rawType];
    const settingsIn = member(body, "settings");

    return store.transaction(() => {
        const target = store.db
            .prepare(
                `SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND status = 'succeeded'
            ORDER BY seq DESC LIMIT 1`,
            )
            .get(algo.id) as Build | undefined;
        if (!target) {
            throw new ApiError(
                400,
                `${algo.owner}/${algo.name} has no successful build to publish: compile it first`,
                ErrorCode.AlgorithmBuildNotFound,
            );
        }
        if (
            ctx.legacyGitHashPublish &&
            info.git_hash !== undefined &&
            String(info.git_hash).toLowerCase() !== target.commit_sha
        ) {
            throw invalidRequest(
                `Only the latest successful build (${target.commit_sha}) can be published, not version_info.git_hash ${JSON.stringify(info.git_hash)}`,
            );
        }
        if (target.semantic_version) {
            throw new ApiError(
                400,
                `The latest build (${target.commit_sha}) is already published as ${target.semantic_version}: ` +
                    "compile again to publish a new version",
                ErrorCode.VersionAlreadyPublished,
            );
        }
        const previous = latestPublished(store, algo.id);
        const previousSettings = previous ? snapshotOf(previous)!.settings : undefined;

        const details = checkDetails({ ...algo.details, ...member(body, "details") });
        const permissions: Record<string, unknown> = {};
        for (const key of ["source_visibility", "license", "licence", "network_access", "pipeline_enabled"]) {
            if (settingsIn[key] !== undefined) permissions[key] = settingsIn[key];
        }
        const settings = checkSettings({ ...algo.settings, ...permissions });
        const callability = checkEnum(
            "algorithm_callability",
            settingsIn.algorithm_callability ?? previousSettings?.algorithm_callability ?? "private",
        );
        const royalty = settingsIn.royalty_microcredits ?? previousSettings?.royalty_microcredits ?? 0;
        if (!Number.isInteger(royalty) || (royalty as number) < 0)
            throw invalidRequest("settings.royalty_microcredits must be an integer >= 0");
        const published = settingsObject(settings, callability, royalty as number);

        let version: string;
        if (info.semantic_version !== undefined) {
            // Legacy payloads name the version; its position decides which rules apply.
            const explicit = info.semantic_version;
            if (typeof explicit !== "string" || !/^\d+\.\d+\.\d+$/.test(explicit)) {
                throw invalidRequest(
                    `version_info.semantic_version must look like 1.2.3 (got ${JSON.stringify(explicit)})`,
                );
            }
            if (previous && !newer(explicit, previous.semantic_version!)) {
                throw invalidRequest(
                    `version_info.semantic_version ${explicit} must be newer than ${previous.semantic_version}`,
                );
            }
            const [a, b] = [versionKey(explicit), versionKey(previous?.semantic_version ?? "0.0.0")];
            type = a[0] !== b[0] ? "major" : a[1] !== b[1] ? "minor" : "revision";
            version = explicit;
        } else {
            version = bump(previous?.semantic_version ?? undefined, type);
        }
        if (previousSettings) checkVersionRules(type, previousSettings, published);

        const versionInfo: VersionSnapshot["version_info"] = {};
        for (const key of ["release_notes", "sample_input", "sample_output"] as const) {
            const value = info[key] ?? (key === "sample_input" ? algo.sample_input : undefined);
            if (value === undefined) continue;
            if (typeof value !== "string") throw invalidRequest(`version_info.${key} must be a string`);
            versionInfo[key] = value;
        }
        if (info.insights_enabled !== undefined && typeof info.insights_enabled !== "boolean") {
            throw invalidRequest("version_info.insights_enabled must be a boolean");
        }
        const snapshot: VersionSnapshot = { details, settings: published, version_info: versionInfo };
        store.db
            .prepare("UPDATE algorithm_builds SET semantic_version = ?, published_at = ?, snapshot = ? WHERE seq = ?")
            .run(version, new Date().toISOString(), JSON.stringify(snapshot), target.seq);
        // What was published becomes the algorithm's current details and settings too.
        const updated: Algorithm = { ...algo, details, settings };
        saveAlgorithm(store, updated);
        return algorithmObject(ctx, updated, getBuild(store, target.build_id)!);
    });
}

// --- routes ---------------------------------------------------------------------------------------------------

export async function versionsApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
    const store = ctx.store;
    managementBodies(app);
    // A build cut short by a crash or kill will never finish.
    store.db
        .prepare(
            `UPDATE algorithm_builds SET status = 'failed', finished_at = ?,
        logs = COALESCE(logs, '') || 'Build interrupted: the server stopped before it finished' || char(10)
        WHERE status = 'in-progress'`,
        )
        .run(new Date().toISOString());

    const both = (suffix: string) => [`/v1/algorithms/:owner/:algo${suffix}`, `/v1/algorithms/:id${suffix}`];

    const builder = new Builder(ctx);
    app.addHook("onClose", async () => builder.idle());

    // Each push that moves master builds its new head (intermediate commits are not built, §3.2), unless that
    // commit was built already (e.g. compiled by commitSha before master reached it).
    const onPush = (event: PushEvent) => {
        const algo = algorithmByName(store, event.owner, event.algo);
        if (!algo) return;
        const built = store.db
            .prepare("SELECT 1 FROM algorithm_builds WHERE algorithm_id = ? AND commit_sha = ? LIMIT 1")
            .get(algo.id, event.after);
        if (built) return;
        const fault = ctx.faults.onBuild(algo.owner, algo.name, "push");
        if (!fault.skip) builder.start(algo, event.after, fault).catch(() => undefined);
    };
    ctx.repos.on("push", onPush);
    app.addHook("onClose", async () => void ctx.repos.off("push", onPush));

    // Builds the head of master now (or `commitSha`, a commit of the repository) and answers when it is done.
    const compile = async (request: FastifyRequest) => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const body = objectBody(request.body);
        let commit: string;
        if (body.commitSha !== undefined) {
            commit = String(body.commitSha).toLowerCase();
            if (!(await ctx.repos.hasCommit(algo.owner, algo.name, commit))) {
                throw invalidRequest(
                    `commitSha ${JSON.stringify(body.commitSha)} is not a commit of ${algo.owner}/${algo.name}`,
                );
            }
        } else {
            const head = await ctx.repos.head(algo.owner, algo.name);
            if (!head) throw new ApiError(500, `${algo.owner}/${algo.name} has no master branch`);
            commit = head;
        }
        const build = await builder.start(algo, commit, ctx.faults.onBuild(algo.owner, algo.name, "compile"));
        const current = algorithmById(store, algo.id) ?? algo;
        // The algorithm now, described through this build (a concurrent compile may have finished later).
        const reply = algorithmObject(ctx, current);
        return {
            ...reply,
            ...pick(algorithmObject(ctx, current, build), ["version_info", "compilation", "build", "self_link"]),
        };
    };
    for (const route of both("/compile")) app.post(route, compile);

    const publishRoute = async (request: FastifyRequest) =>
        publish(ctx, resolveAlgorithm(store, request, "write").algo, objectBody(request.body));
    for (const route of [...both("/versions"), ...both("/version")]) app.post(route, publishRoute);

    const listVersions = async (request: FastifyRequest) => {
        const { algo, owns } = resolveAlgorithm(store, request, "read");
        const query = request.query as Record<string, string | undefined>;
        const page = pageRequest(request);
        // Others only see what they may call: public published versions.
        const published = owns ? parseBoolean(query.published, "published") : true;
        const callable = owns ? parseBoolean(query.callable, "callable") : true;
        const where = ["algorithm_id = ?", "status = 'succeeded'"];
        const args: unknown[] = [algo.id];
        if (published !== undefined) where.push(`semantic_version IS ${published ? "NOT " : ""}NULL`);
        if (callable !== undefined) {
            where.push(
                `COALESCE(json_extract(snapshot, '$.settings.algorithm_callability'), 'private') ${callable ? "=" : "<>"} 'public'`,
            );
        }
        if (page.before !== undefined) {
            where.push("seq < ?");
            args.push(page.before);
        }
        const rows = store.db
            .prepare(`SELECT * FROM algorithm_builds WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`)
            .all(...args, page.limit + 1) as Build[];
        return toPage(request, ctx.baseUrl(), page, rows, (build) => algorithmObject(ctx, algo, build, false));
    };
    app.get("/v1/algorithms/:owner/:algo/versions", listVersions);
    app.get("/v1/algorithms/:id/versions", byIdOrAlgorithm(ctx, "versions", listVersions));

    const getVersion = async (request: FastifyRequest) => {
        const { algo, owns } = resolveAlgorithm(store, request, "read");
        const { version } = request.params as { version: string };
        // A git hash (any build of it, so failed builds show their output, §3.3.8) or a semantic version.
        const build = store.db
            .prepare(
                `SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND (commit_sha = ? OR semantic_version = ?)
            ORDER BY seq DESC LIMIT 1`,
            )
            .get(algo.id, version.toLowerCase(), version) as Build | undefined;
        if (!build)
            throw new ApiError(
                404,
                `No version ${version} of ${algo.owner}/${algo.name}`,
                ErrorCode.VersionDoesNotExist,
            );
        // Others see public published versions only; for the rest they lack the right, as when calling them (§1).
        if (!owns && !isPublicVersion(build)) throw notAuthorized();
        return algorithmObject(ctx, algo, build);
    };
    for (const route of both("/versions/:version")) app.get(route, getVersion);

    const listBuilds = async (request: FastifyRequest) => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const page = pageRequest(request);
        const rows = store.db
            .prepare(`SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`)
            .all(algo.id, page.before ?? Number.MAX_SAFE_INTEGER, page.limit + 1) as Build[];
        return toPage(request, ctx.baseUrl(), page, rows, buildObject);
    };
    app.get("/v1/algorithms/:owner/:algo/builds", listBuilds);
    app.get("/v1/algorithms/:id/builds", byIdOrAlgorithm(ctx, "builds", listBuilds));

    const findBuild = (request: FastifyRequest): Build => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const { buildId } = request.params as { buildId: string };
        const build = getBuild(store, buildId);
        if (!build || build.algorithm_id !== algo.id) {
            throw new ApiError(
                404,
                `No build ${buildId} of ${algo.owner}/${algo.name}`,
                ErrorCode.AlgorithmBuildNotFound,
            );
        }
        return build;
    };
    for (const route of both("/builds/:buildId")) app.get(route, async (request) => buildObject(findBuild(request)));
    for (const route of both("/builds/:buildId/logs")) {
        app.get(route, async (request) => {
            const build = findBuild(request);
            if (build.status === "in-progress") {
                throw new ApiError(
                    404,
                    `Build ${build.build_id} is still in progress; its logs are available once it finishes`,
                    ErrorCode.AlgorithmBuildLogsNotFound,
                );
            }
            return { logs: build.logs ?? "" };
        });
    }
}

function pick(object: Record<string, unknown>, keys: string[]): Record<string, unknown> {
    return Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));
}
