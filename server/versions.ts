// Builds, compile and publishing (algorithmia-api.md §3.2, §3.3.5–3.3.9, §6): a build checks out a commit and
// validates it step by step, keeping a real log; every successful build is a hash version; publishing turns
// the newest successful build into an immutable semantic version under the numbering and permission rules of §6.
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { FastifyInstance, FastifyRequest } from "fastify";
import {
    Algorithm, algorithmById, algorithmObject, Build, buildObject, byIdOrAlgorithm, checkDetails, checkEnum,
    checkSettings, commitTree, latestPublished, managementBodies, member, objectBody, resolveAlgorithm, saveAlgorithm, settingsObject,
    snapshotOf, treeOf, VersionSnapshot,
} from "./algorithms";
import { entryFile, familyOf } from "./environments";
import { ApiError, ErrorCode, invalidRequest } from "./errors";
import type { ServerContext } from "./index";
import { pageRequest, toPage } from "./paging";
import { Store } from "./store";

// --- builds ---------------------------------------------------------------------------------------------------

function getBuild(store: Store, buildId: string): Build | undefined {
    return store.db.prepare("SELECT * FROM algorithm_builds WHERE build_id = ?").get(buildId) as Build | undefined;
}

/**
 * Builds `commitSha` of `algo` and returns the finished build. The in-progress record is committed first, so
 * readers see the build while it runs; a build cut short by a crash is marked failed at the next start.
 */
export async function buildCommit(store: Store, algo: Algorithm, commitSha: string): Promise<Build> {
    const buildId = crypto.randomUUID();
    store.transaction(() => {
        store.db.prepare(`INSERT INTO algorithm_builds (build_id, algorithm_id, commit_sha, status, started_at)
            VALUES (?, ?, ?, 'in-progress', ?)`).run(buildId, algo.id, commitSha, new Date().toISOString());
    });
    const started = Date.now();
    const log: string[] = [`Building ${algo.owner}/${algo.name} at commit ${commitSha} (build ${buildId})`];
    let ok: boolean;
    try {
        ok = await validateTree(store, algo, treeOf(store, commitSha), log);
    } catch (err) {
        log.push(`Internal error: ${(err as Error).message}`);
        ok = false;
    }
    log.push(ok ? `Build succeeded in ${((Date.now() - started) / 1000).toFixed(2)}s` : "Build failed");
    const snapshot: VersionSnapshot = {
        details: algo.details,
        settings: settingsObject(algo.settings, "private", 0),
        version_info: algo.sample_input !== undefined ? { sample_input: algo.sample_input } : {},
    };
    store.transaction(() => {
        store.db.prepare(`UPDATE algorithm_builds SET status = ?, finished_at = ?, logs = ?, version_uuid = ?, snapshot = ?
            WHERE build_id = ?`).run(ok ? "succeeded" : "failed", new Date().toISOString(), log.join("\n") + "\n",
            ok ? crypto.randomUUID() : null, ok ? JSON.stringify(snapshot) : null, buildId);
    });
    return getBuild(store, buildId)!;
}

/** The build steps: what the platform would check before making an image. Appends to `log`; true when sound. */
async function validateTree(store: Store, algo: Algorithm, files: Record<string, string>, log: string[]): Promise<boolean> {
    const { family, language } = familyOf(algo.settings);
    const runtime = algo.settings.environment ? `${language} (${algo.settings.environment})` : language;
    log.push(`Runtime: ${runtime}`, `Step 1/4: checked out ${Object.keys(files).length} files`);

    let conf: { algoname?: unknown };
    try {
        conf = JSON.parse(files["algorithmia.conf"] ?? "");
    } catch {
        log.push("Step 2/4: algorithmia.conf is missing or is not JSON");
        return false;
    }
    const algoname = typeof conf.algoname === "string" ? conf.algoname : algo.name;
    log.push(`Step 2/4: algorithmia.conf ok (algoname ${algoname})`);

    if (family === "python") {
        const bad = (files["requirements.txt"] ?? "").split("\n").map((l) => l.replace(/#.*/, "").trim())
            .filter((l) => l && !REQUIREMENT.test(l));
        if (bad.length) {
            log.push(`Step 3/4: requirements.txt: cannot parse ${bad.map((l) => JSON.stringify(l)).join(", ")}`);
            return false;
        }
        log.push("Step 3/4: requirements.txt parsed");
        return compilePython(store, files, `src/${algoname}.py`, log);
    }
    const entry = entryFile(family, algoname);
    log.push("Step 3/4: dependencies not resolved for this language in algorithmia-local");
    if (!files[entry]?.trim()) {
        log.push(`Step 4/4: entry point ${entry} is missing or empty`);
        return false;
    }
    log.push(`Step 4/4: entry point ${entry} present`);
    return true;
}

/** A requirements.txt line: a name with optional extras, version specifiers and marker, or a pip option/URL. */
const REQUIREMENT = /^(-[a-zA-Z-]+(\s+\S+)?|(git\+|https?:\/\/)\S+|[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,\s-]*\])?\s*((===|==|>=|<=|~=|!=|>|<)\s*[^\s,;]+(\s*,\s*(===|==|>=|<=|~=|!=|>|<)\s*[^\s,;]+)*)?\s*(;.*)?)$/;

/** Byte-compiles every Python file with the local python3 and checks that the entry module defines apply(). */
async function compilePython(store: Store, files: Record<string, string>, entry: string, log: string[]): Promise<boolean> {
    if (!(entry in files)) {
        log.push(`Step 4/4: entry module ${entry} is missing`);
        return false;
    }
    const dir = fs.mkdtempSync(path.join(store.tmpDir, "build-"));
    try {
        const sources = Object.keys(files).filter((f) => f.endsWith(".py"));
        for (const file of sources) {
            const target = path.join(dir, file);
            if (!target.startsWith(dir + path.sep)) throw new Error(`unsafe path ${file}`);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, files[file]);
        }
        const script = "import py_compile, sys\nfor f in sys.argv[1:]:\n    py_compile.compile(f, doraise=True)\n";
        const result = await new Promise<{ code: number | string | null; stderr: string }>((resolve) =>
            execFile("python3", ["-c", script, ...sources], { cwd: dir, timeout: 120_000 }, (err, _stdout, stderr) =>
                resolve({ code: err ? ((err as NodeJS.ErrnoException).code ?? 1) : 0, stderr })));
        if (result.code === "ENOENT") {
            log.push("Step 4/4: python3 not found on this host; syntax check skipped");
        } else if (result.code !== 0) {
            log.push(`Step 4/4: compiling ${sources.length} Python files failed:`, result.stderr.split(dir + path.sep).join("").trim());
            return false;
        } else {
            log.push(`Step 4/4: compiled ${sources.length} Python files`);
        }
        if (!/^def\s+apply\s*\(/m.test(files[entry])) {
            log.push(`Entry module ${entry} does not define apply(input)`);
            return false;
        }
        log.push(`Entry point: apply() in ${entry}`);
        return true;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

// --- publishing -----------------------------------------------------------------------------------------------

const VERSION_TYPES: Record<string, "major" | "minor" | "revision"> = {
    major: "major", minor: "minor", revision: "revision", patch: "revision", default: "minor",
};

/** The fields whose change needs a major version (permissions, §6.4), in the order messages name them. */
const PERMISSION_FIELDS = ["algorithm_callability", "source_visibility", "license", "network_access", "pipeline_enabled"];

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
function checkVersionRules(type: "major" | "minor" | "revision", previous: Record<string, unknown>, next: Record<string, unknown>): void {
    if (type === "major") return;
    for (const field of PERMISSION_FIELDS) {
        if (previous[field] !== next[field]) {
            throw invalidRequest(`A ${type} version cannot change settings.${field} (from ${JSON.stringify(previous[field])} to ` +
                `${JSON.stringify(next[field])}): callability and permission changes need a major version`);
        }
    }
    const [before, after] = [Number(previous.royalty_microcredits ?? 0), Number(next.royalty_microcredits ?? 0)];
    if (type === "revision" && before !== after) {
        throw invalidRequest(`A revision cannot change settings.royalty_microcredits (from ${before} to ${after}): ` +
            "price changes need a minor or major version");
    }
    if (before === 0 && after > 0) {
        throw invalidRequest("A free algorithm cannot start charging (settings.royalty_microcredits from 0) in a minor version: publish a major version");
    }
}

function publish(ctx: ServerContext, algo: Algorithm, body: Record<string, unknown>): Record<string, unknown> {
    const store = ctx.store;
    const info = member(body, "version_info");
    const typeField = info.version_type !== undefined ? "version_type" : "type"; // `type`: older dev-center payloads
    const rawType = info[typeField] ?? "minor";
    if (typeof rawType !== "string" || !(rawType in VERSION_TYPES)) {
        throw invalidRequest(`version_info.${typeField} must be one of major, minor, revision, patch (got ${JSON.stringify(rawType)})`);
    }
    let type = VERSION_TYPES[rawType];
    const settingsIn = member(body, "settings");

    return store.transaction(() => {
        const target = store.db.prepare(`SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND status = 'succeeded'
            ORDER BY seq DESC LIMIT 1`).get(algo.id) as Build | undefined;
        if (!target) {
            throw new ApiError(400, `${algo.owner}/${algo.name} has no successful build to publish: compile it first`,
                ErrorCode.AlgorithmBuildNotFound);
        }
        if (info.git_hash !== undefined && info.git_hash !== target.commit_sha) {
            throw invalidRequest(`Only the latest successful build (${target.commit_sha}) can be published, not version_info.git_hash ${JSON.stringify(info.git_hash)}`);
        }
        if (target.semantic_version) {
            throw new ApiError(400, `The latest build (${target.commit_sha}) is already published as ${target.semantic_version}: ` +
                "compile again to publish a new version", ErrorCode.VersionAlreadyPublished);
        }
        const previous = latestPublished(store, algo.id);
        const previousSettings = previous ? snapshotOf(previous)!.settings : undefined;

        const details = checkDetails({ ...algo.details, ...member(body, "details") });
        const permissions: Record<string, unknown> = {};
        for (const key of ["source_visibility", "license", "licence", "network_access", "pipeline_enabled"]) {
            if (settingsIn[key] !== undefined) permissions[key] = settingsIn[key];
        }
        const settings = checkSettings({ ...algo.settings, ...permissions });
        const callability = checkEnum("algorithm_callability",
            settingsIn.algorithm_callability ?? previousSettings?.algorithm_callability ?? "private");
        const royalty = settingsIn.royalty_microcredits ?? previousSettings?.royalty_microcredits ?? 0;
        if (!Number.isInteger(royalty) || (royalty as number) < 0) throw invalidRequest("settings.royalty_microcredits must be an integer >= 0");
        const published = settingsObject(settings, callability, royalty as number);

        let version: string;
        if (info.semantic_version !== undefined) {
            // Legacy payloads name the version; its position decides which rules apply.
            const explicit = info.semantic_version;
            if (typeof explicit !== "string" || !/^\d+\.\d+\.\d+$/.test(explicit)) {
                throw invalidRequest(`version_info.semantic_version must look like 1.2.3 (got ${JSON.stringify(explicit)})`);
            }
            if (previous && !newer(explicit, previous.semantic_version!)) {
                throw invalidRequest(`version_info.semantic_version ${explicit} must be newer than ${previous.semantic_version}`);
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
        store.db.prepare("UPDATE algorithm_builds SET semantic_version = ?, published_at = ?, snapshot = ? WHERE seq = ?")
            .run(version, new Date().toISOString(), JSON.stringify(snapshot), target.seq);
        // What was published becomes the algorithm's current details and settings too.
        const updated: Algorithm = { ...algo, details, settings };
        saveAlgorithm(store, updated);
        return algorithmObject(ctx, updated, getBuild(store, target.build_id)!);
    });
}

// --- routes ---------------------------------------------------------------------------------------------------

function parseBoolean(value: string | undefined, name: string): boolean | undefined {
    if (value === undefined || value === "") return undefined;
    const v = value.toLowerCase();
    if (v === "true" || v === "1") return true;
    if (v === "false" || v === "0") return false;
    throw invalidRequest(`${name} must be true or false (got ${JSON.stringify(value)})`);
}

export async function versionsApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
    const store = ctx.store;
    managementBodies(app);
    // A build cut short by a crash or kill will never finish.
    store.db.prepare(`UPDATE algorithm_builds SET status = 'failed', finished_at = ?,
        logs = COALESCE(logs, '') || 'Build interrupted: the server stopped before it finished' || char(10)
        WHERE status = 'in-progress'`).run(new Date().toISOString());

    const both = (suffix: string) => [`/v1/algorithms/:owner/:algo${suffix}`, `/v1/algorithms/:id${suffix}`];

    const compile = async (request: FastifyRequest) => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const body = objectBody(request.body);
        let commit: string;
        if (body.commitSha !== undefined) {
            commit = String(body.commitSha);
            const known = store.db.prepare("SELECT 1 FROM algorithm_commits WHERE sha = ? AND algorithm_id = ?").get(commit, algo.id);
            if (!known) throw invalidRequest(`commitSha ${JSON.stringify(body.commitSha)} is not a commit of ${algo.owner}/${algo.name}`);
        } else {
            // Every compile is a new version (§3.2 point 8): a new commit of the current tree on top of the head.
            commit = store.transaction(() => {
                const sha = commitTree(store, algo.id, treeOf(store, algo.head), algo.head, "Compile");
                store.db.prepare("UPDATE algorithms SET head = ? WHERE id = ?").run(sha, algo.id);
                return sha;
            });
        }
        const build = await buildCommit(store, algorithmById(store, algo.id)!, commit);
        const current = algorithmById(store, algo.id) ?? algo;
        // The algorithm now, described through this build (a concurrent compile may have finished later).
        const reply = algorithmObject(ctx, current);
        return { ...reply, ...pick(algorithmObject(ctx, current, build), ["version_info", "compilation", "build", "self_link"]) };
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
            where.push(`COALESCE(json_extract(snapshot, '$.settings.algorithm_callability'), 'private') ${callable ? "=" : "<>"} 'public'`);
        }
        if (page.before !== undefined) {
            where.push("seq < ?");
            args.push(page.before);
        }
        const rows = store.db.prepare(`SELECT * FROM algorithm_builds WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`)
            .all(...args, page.limit + 1) as Build[];
        return toPage(request, ctx.baseUrl(), page, rows, (build) => algorithmObject(ctx, algo, build, false));
    };
    app.get("/v1/algorithms/:owner/:algo/versions", listVersions);
    app.get("/v1/algorithms/:id/versions", byIdOrAlgorithm(ctx, "versions", listVersions));

    const getVersion = async (request: FastifyRequest) => {
        const { algo, owns } = resolveAlgorithm(store, request, "read");
        const { version } = request.params as { version: string };
        // A git hash (any build of it, so failed builds show their output, §3.3.8) or a semantic version.
        const build = store.db.prepare(`SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND (commit_sha = ? OR semantic_version = ?)
            ORDER BY seq DESC LIMIT 1`).get(algo.id, version.toLowerCase(), version) as Build | undefined;
        const visible = build && (owns || snapshotOf(build)?.settings.algorithm_callability === "public" && build.semantic_version);
        if (!visible) throw new ApiError(404, `No version ${version} of ${algo.owner}/${algo.name}`, ErrorCode.VersionDoesNotExist);
        return algorithmObject(ctx, algo, build);
    };
    for (const route of both("/versions/:version")) app.get(route, getVersion);

    const listBuilds = async (request: FastifyRequest) => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const page = pageRequest(request);
        const rows = store.db.prepare(`SELECT * FROM algorithm_builds WHERE algorithm_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`)
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
            throw new ApiError(404, `No build ${buildId} of ${algo.owner}/${algo.name}`, ErrorCode.AlgorithmBuildNotFound);
        }
        return build;
    };
    for (const route of both("/builds/:buildId")) app.get(route, async (request) => buildObject(findBuild(request)));
    for (const route of both("/builds/:buildId/logs")) {
        app.get(route, async (request) => {
            const build = findBuild(request);
            if (build.status === "in-progress") {
                throw new ApiError(404, `Build ${build.build_id} is still in progress; its logs are available once it finishes`,
                    ErrorCode.AlgorithmBuildLogsNotFound);
            }
            return { logs: build.logs ?? "" };
        });
    }
}

function pick(object: Record<string, unknown>, keys: string[]): Record<string, unknown> {
    return Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));
}
