// One typed client for every Algorithmia route the resources use (docs/api-reference.md §2–§3). Reads answer
// `undefined` for "not there"; writes that are not idempotent say how to tell whether a failed attempt took
// effect, so they can be retried safely.
import * as fs from "fs";
import {
    defaultGitAddress,
    GitRemote,
    gitRepositoryUrl,
    PushResult,
    pushTree,
    remoteTreeSha256,
    TreeEntry,
} from "./git";
import { AlgorithmiaApiError, HttpClient, HttpOptions, HttpResponse, sleep } from "./http";
import { formatBytes, formatDuration, formatRate, Progress, ProgressLog } from "./progress";

export { AlgorithmiaApiError, HttpOptions };

export type ReadAcl = "private" | "myAlgorithms" | "public";

const ACL_TO_WIRE: Record<ReadAcl, string[]> = {
    private: [],
    myAlgorithms: ["algo://.my/*"],
    public: ["user://*"],
};

export function aclFromWire(read: string[] | undefined): ReadAcl {
    const first = read?.[0];
    if (first === undefined) return "private";
    if (first === "user://*") return "public";
    if (first.startsWith("algo://")) return "myAlgorithms";
    throw new Error(`unknown read ACL ${JSON.stringify(read)}`);
}

export interface DataFile {
    filename: string;
    size: number;
    last_modified: string;
}

export interface Listing {
    folders: { name: string }[];
    files: DataFile[];
    /** Set when more pages follow. */
    marker?: string;
    acl?: { read: string[] };
}

export interface Page<T> {
    results: T[];
    marker?: string | null;
}

/** The parts of an algorithm object (§3.1) the provider reads; the server may send more. */
export interface AlgorithmObject {
    id: string;
    name: string;
    details: { label: string; summary?: string; tagline?: string };
    settings: Record<string, any>;
    version_info?: {
        git_hash?: string;
        semantic_version?: string;
        version_uuid?: string;
        release_notes?: string;
        sample_input?: string;
    };
    compilation?: { successful: boolean; output?: string };
    build?: BuildObject;
}

/** An algorithm's secret as the API shows it: never its value. */
export interface SecretObject {
    id: string;
    short_name: string;
    description: string;
    secret_key: string;
    provider_id?: string;
}

/** A secret's fields as a create or an update sends them (both name the whole metadata). */
export interface SecretFields {
    short_name: string;
    description: string;
    secret_key: string;
    secret_value?: string;
}

export interface BuildObject {
    build_id: string;
    status: "in-progress" | "succeeded" | "failed";
    commit_sha: string;
    started_at: string;
    finished_at?: string | null;
    version_info?: { semantic_version?: string };
}

export interface CallOptions {
    /**
     * Whether the call may be sent again after a 5xx or a dropped connection. A call is not repeated by default:
     * the algorithm may have run. Tests are, as a retried `up` runs them again anyway.
     */
    repeatable?: boolean;
}

/** The owner in a reported data URI (`data://alice/...`), unless it is missing or still `.my`. */
function ownerOf(uri: unknown): string | undefined {
    const owner = typeof uri === "string" ? /^data:\/\/([^/.][^/]*)/.exec(uri)?.[1] : undefined;
    return owner;
}

/** `/v1/connector/data/<owner>/<collection>[/<file>]`, each segment encoded. */
export function dataRoute(...segments: string[]): string {
    return "/v1/connector/data/" + segments.map(encodeURIComponent).join("/");
}

const algoRoute = (owner: string, name: string, ...rest: string[]) =>
    `/v1/algorithms/${[owner, name, ...rest].map(encodeURIComponent).join("/")}`;

const secretsRoute = (algorithmId: string, ...rest: string[]) =>
    `/v1/algorithms/${[algorithmId, "secrets", ...rest].map(encodeURIComponent).join("/")}`;

/** How long to wait for a pushed commit's build to show up in the build list before asking for one. */
const BUILD_APPEARS_WITHIN_MS = 30_000;

/** A build that did not finish in time; `build` is the one still running, if it showed up at all. */
export class BuildTimeoutError extends Error {
    constructor(
        readonly commitSha: string,
        readonly timeoutMs: number,
        readonly build: BuildObject | undefined,
        message: string,
    ) {
        super(message);
    }
}

export interface ClientOptions extends HttpOptions {
    /** Base address of the git repositories; by default derived from `apiAddress` (`defaultGitAddress`). */
    gitAddress?: string;
    /**
     * Where `username` remembers the key's user, by API address. Clients that share one (the provider process's
     * clients, all with the configured key) ask only once; by default each client has its own.
     */
    usernames?: Record<string, Promise<string>>;
    /** A CA bundle file (PEM) trusted instead of the system's, by the API client and by git. */
    caCert?: string;
    /** Where uploads and build waits report their progress (progress.ts); nowhere by default. */
    progress?: ProgressLog;
}

export class AlgorithmiaClient {
    readonly http: HttpClient;
    readonly gitAddress: string;
    private readonly apiKey?: string;
    private readonly caCert?: string;
    private readonly progress?: ProgressLog;
    private readonly usernames: Record<string, Promise<string>>;

    constructor(options: ClientOptions) {
        this.http = new HttpClient({
            ...options,
            ...(options.caCert ? { ca: fs.readFileSync(options.caCert, "utf8") } : {}),
        });
        this.apiKey = options.apiKey;
        this.caCert = options.caCert;
        this.progress = options.progress;
        this.gitAddress = (options.gitAddress || defaultGitAddress(this.http.apiAddress)).replace(/\/+$/, "");
        this.usernames = options.usernames || {};
    }

    // --- data collections -----------------------------------------------------------------------------

    /** The first page of a collection's listing with its ACL, or undefined when it does not exist. */
    async getCollection(owner: string, name: string): Promise<Listing | undefined> {
        const res = await this.http.request({
            method: "GET",
            path: dataRoute(owner, name),
            query: { acl: true },
            accept: [404],
        });
        return res.status === 404 ? undefined : res.body;
    }

    /**
     * Creates a collection; `owner` may be `.my`. Answers the owner the server reports in the new collection's
     * URI (`{"result": "data://alice/name"}`, §2.4.5), or `owner` itself when the reply has none (for `.my`: the
     * key's user, e.g. when the reply was lost and the retry found the collection already there).
     */
    async createCollection(owner: string, name: string, acl: ReadAcl): Promise<string> {
        const res = await this.http.request({
            method: "POST",
            path: dataRoute(owner),
            json: { name, acl: { read: ACL_TO_WIRE[acl] } },
            afterFailure: async () =>
                (await this.getCollection(owner, name)) ? { status: 200, headers: new Headers() } : undefined,
        });
        return ownerOf(res.body?.result) ?? (owner === ".my" ? await this.whoami() : owner);
    }

    /**
     * The key's own user name: the first folder of the root listing, which lists the namespaces the key acts for,
     * its own user first (the official Python client's `client.username()` reads it the same way, §2.2). One read.
     */
    async whoami(): Promise<string> {
        const root = await this.http.request({ method: "GET", path: dataRoute() });
        const first = (root.body?.folders as { name?: unknown }[] | undefined)?.[0]?.name;
        if (typeof first !== "string" || !first || first.startsWith(".")) {
            throw new Error(
                `Cannot tell which user the API key belongs to: the root listing of ${this.http.apiAddress} names no user; set \`owner\` explicitly`,
            );
        }
        return first;
    }

    /** `whoami`, asked once per API address and `usernames` cache; a failed lookup is asked again next time. */
    username(): Promise<string> {
        const cache = this.usernames;
        const address = this.http.apiAddress;
        if (!cache[address]) {
            cache[address] = this.whoami().catch((err) => {
                delete cache[address];
                throw err;
            });
        }
        return cache[address];
    }

    async setCollectionAcl(owner: string, name: string, acl: ReadAcl): Promise<void> {
        await this.http.request({
            method: "PATCH",
            path: dataRoute(owner, name),
            json: { acl: { read: ACL_TO_WIRE[acl] } },
        });
    }

    /** Deletes a collection; true if it was there. Without `force` a non-empty collection is an error. */
    async deleteCollection(owner: string, name: string, force: boolean): Promise<boolean> {
        const res = await this.http.request({
            method: "DELETE",
            path: dataRoute(owner, name),
            query: { force },
            accept: [404],
        });
        return res.status !== 404;
    }

    /** Every file of a collection, following `marker` pages. */
    async *listFiles(owner: string, name: string): AsyncGenerator<DataFile> {
        let marker: string | undefined;
        do {
            const res = await this.http.request({ method: "GET", path: dataRoute(owner, name), query: { marker } });
            yield* (res.body?.files ?? []) as DataFile[];
            marker = res.body?.marker || undefined;
        } while (marker);
    }

    // --- data files -----------------------------------------------------------------------------------

    /** A file's listing entry (size, last_modified), or undefined when it does not exist. */
    async statFile(owner: string, collection: string, filename: string): Promise<DataFile | undefined> {
        const head = await this.http.request({
            method: "HEAD",
            path: dataRoute(owner, collection, filename),
            accept: [404],
        });
        if (head.status === 404) return undefined;
        for await (const file of this.listFiles(owner, collection)) if (file.filename === filename) return file;
        return undefined;
    }

    /**
     * Uploads a file from a stream factory (called again on a retry), replacing any previous content. Answers
     * the file's URI as the server reports it (with the real owner when `owner` was `.my`). The timeout is the
     * client's idle one: a large model takes as long as the link needs.
     */
    async putFile(
        owner: string,
        collection: string,
        filename: string,
        open: () => AsyncIterable<Uint8Array>,
        size: number,
    ): Promise<string> {
        const uri = `data://${owner}/${collection}/${filename}`;
        const log = this.progress;
        // Counted per attempt: a retry sends the file again from its start.
        async function* reporting(): AsyncGenerator<Uint8Array> {
            const progress = new Progress(log);
            let sent = 0;
            for await (const chunk of open()) {
                yield chunk;
                sent += chunk.length;
                progress.tick((ms) => {
                    const percent = size > 0 ? ` (${Math.floor((sent * 100) / size)}%)` : "";
                    return `uploading ${uri}: ${formatBytes(sent)} of ${formatBytes(size)}${percent}, ${formatRate(sent, ms)}`;
                });
            }
            progress.done(
                (ms) => `uploaded ${uri}: ${formatBytes(sent)} in ${formatDuration(ms)} (${formatRate(sent, ms)})`,
            );
        }
        const res = await this.http.request({
            method: "PUT",
            path: dataRoute(owner, collection, filename),
            body: log ? reporting : open,
            contentLength: size,
        });
        const reported = ownerOf(res.body?.result);
        return `data://${reported ?? owner}/${collection}/${filename}`;
    }

    /** The file's bytes as they arrive; the caller reads them all or stops early (which closes the connection). */
    async downloadFile(owner: string, collection: string, filename: string): Promise<AsyncIterable<Buffer>> {
        const res = await this.http.request({
            method: "GET",
            path: dataRoute(owner, collection, filename),
            stream: true,
        });
        return res.stream!;
    }

    async deleteFile(owner: string, collection: string, filename: string): Promise<boolean> {
        const res = await this.http.request({
            method: "DELETE",
            path: dataRoute(owner, collection, filename),
            accept: [404],
        });
        return res.status !== 404;
    }

    // --- algorithms -----------------------------------------------------------------------------------

    async getAlgorithm(owner: string, name: string): Promise<AlgorithmObject | undefined> {
        const res = await this.http.request({ method: "GET", path: algoRoute(owner, name), accept: [404] });
        return res.status === 404 ? undefined : res.body;
    }

    async createAlgorithm(owner: string, body: Record<string, unknown>): Promise<AlgorithmObject> {
        const name = String(body.name);
        const res = await this.http.request({
            method: "POST",
            path: `/v1/algorithms/${encodeURIComponent(owner)}`,
            json: body,
            afterFailure: async () => {
                const existing = await this.getAlgorithm(owner, name);
                return existing ? { status: 200, headers: new Headers(), body: existing } : undefined;
            },
        });
        return res.body;
    }

    async updateAlgorithm(owner: string, name: string, body: Record<string, unknown>): Promise<AlgorithmObject> {
        return (await this.http.request({ method: "PUT", path: algoRoute(owner, name), json: body })).body;
    }

    async deleteAlgorithm(owner: string, name: string): Promise<boolean> {
        const res = await this.http.request({ method: "DELETE", path: algoRoute(owner, name), accept: [404] });
        return res.status !== 404;
    }

    async listBuilds(owner: string, name: string, marker?: string): Promise<Page<BuildObject>> {
        return (
            await this.http.request({
                method: "GET",
                path: algoRoute(owner, name, "builds"),
                query: { limit: 50, marker },
            })
        ).body;
    }

    /** The newest build of `commitSha`. */
    findBuild(owner: string, name: string, commitSha: string): Promise<BuildObject | undefined> {
        return this.findInBuilds(owner, name, (b) => b.commit_sha === commitSha);
    }

    /** The newest successful build, if any. */
    latestSuccessfulBuild(owner: string, name: string): Promise<BuildObject | undefined> {
        return this.findInBuilds(owner, name, (b) => b.status === "succeeded");
    }

    /** The first build matching `match` in the newest-first build list, reading pages only until it is found. */
    private async findInBuilds(
        owner: string,
        name: string,
        match: (build: BuildObject) => boolean,
    ): Promise<BuildObject | undefined> {
        let marker: string | undefined;
        do {
            const page = await this.listBuilds(owner, name, marker);
            const build = page.results.find(match);
            if (build) return build;
            marker = page.marker || undefined;
        } while (marker);
        return undefined;
    }

    /** Asks for a build of `commitSha` (a push normally starts one by itself). */
    async compile(owner: string, name: string, commitSha: string, timeoutMs?: number): Promise<AlgorithmObject> {
        return (
            await this.http.request({
                method: "POST",
                path: algoRoute(owner, name, "compile"),
                json: { commitSha },
                timeoutMs,
                afterFailure: async () => {
                    const build = await this.findBuild(owner, name, commitSha);
                    return build ? { status: 200, headers: new Headers(), body: { build } } : undefined;
                },
            })
        ).body;
    }

    /**
     * Waits until the build of `commitSha` has finished and answers it (succeeded or failed). A commit already
     * built is not built again, unless `rebuild` says so: `"failed"` when a failed build belongs to an earlier
     * attempt (a failing build, one cut short or whose machine died), `"finished"` when the runtime changed since
     * (any finished build was made for the old one). One whose build never shows up (a push the server did not
     * act on) is compiled. Throws a BuildTimeoutError when `timeoutMs` passes first.
     */
    async waitForBuild(
        owner: string,
        name: string,
        commitSha: string,
        timeoutMs: number,
        options: { rebuild?: "failed" | "finished" } = {},
    ): Promise<BuildObject> {
        const deadline = Date.now() + timeoutMs;
        const appearBy = Date.now() + Math.min(BUILD_APPEARS_WITHIN_MS, timeoutMs / 2);
        // The server builds while it answers a compile: wait no longer than the deadline (then the loop says so).
        const compileInTime = () =>
            this.compile(owner, name, commitSha, Math.max(1_000, deadline - Date.now())).catch((err) => {
                if (Date.now() < deadline) throw err;
            });
        let build = await this.findBuild(owner, name, commitSha);
        const stale =
            build &&
            build.status !== "in-progress" &&
            (options.rebuild === "finished" || (options.rebuild === "failed" && build.status === "failed"));
        if (stale) {
            await compileInTime();
            build = await this.findBuild(owner, name, commitSha);
        }
        let delay = 250;
        const progress = new Progress(this.progress);
        const which = () => `${owner}/${name} at ${commitSha.slice(0, 12)}${build ? ` (build ${build.build_id})` : ""}`;
        while (!build || build.status === "in-progress") {
            progress.tick(
                (ms) =>
                    `building ${which()}: ${build ? build.status : "waiting for the build to start"}, ${formatDuration(ms)}`,
            );
            if (Date.now() >= deadline) {
                throw new BuildTimeoutError(
                    commitSha,
                    timeoutMs,
                    build,
                    `the build of ${owner}/${name} at ${commitSha} did not finish within ${Math.round(timeoutMs / 1000)}s ` +
                        `(buildTimeoutSeconds)${build ? `; build ${build.build_id} is still in progress` : ""}`,
                );
            }
            await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
            // Gently and to 2 s at most: a build here takes a second or two, and a longer wait after it ends is time lost.
            delay = Math.min(delay * 1.5, 2_000);
            if (build) {
                build = await this.getBuild(owner, name, build.build_id);
            } else {
                build = await this.findBuild(owner, name, commitSha);
                if (!build && Date.now() >= appearBy) {
                    await compileInTime();
                    build = await this.findBuild(owner, name, commitSha);
                }
            }
        }
        progress.done((ms) => `build of ${which()} ${build!.status} after ${formatDuration(ms)}`);
        return build;
    }

    /** The last `lines` lines of a build's log. */
    async buildLogTail(owner: string, name: string, buildId: string, lines = 40): Promise<string> {
        const log = (await this.getBuildLogs(owner, name, buildId)).replace(/\s+$/, "");
        return log.split("\n").slice(-lines).join("\n");
    }

    // --- source (git) ---------------------------------------------------------------------------------------

    /**
     * The algorithm's git repository, with this client's key and retry budget. Git authenticates the account: the
     * key's own user name, also for an organization's algorithm (the owner is only in the path).
     */
    async gitRemote(owner: string, name: string): Promise<GitRemote> {
        if (!this.apiKey) {
            throw new Error(
                `The source of ${owner}/${name} is pushed with git, which Algorithmia authenticates with an API key ` +
                    "only, and this connection has a bearer token: set algorithmia:apiKey (or the profile's api_key)",
            );
        }
        const { timeoutMs, maxAttempts, baseDelayMs } = this.http;
        return {
            url: gitRepositoryUrl(this.gitAddress, owner, name),
            user: await this.username(),
            apiKey: this.apiKey,
            ...(this.caCert ? { caCert: this.caCert } : {}),
            timeoutMs,
            maxAttempts,
            baseDelayMs,
        };
    }

    /** Makes `entries` master's tree by one deterministic commit (git.ts); answers the commit. */
    async pushSource(owner: string, name: string, entries: TreeEntry[], message: string): Promise<PushResult> {
        return pushTree(await this.gitRemote(owner, name), entries, message);
    }

    /** Master's commit and the sha256 of its tree (what `sourceSha256` means), or undefined when empty. */
    async sourceOnServer(owner: string, name: string): Promise<{ commit: string; sha256: string } | undefined> {
        return remoteTreeSha256(await this.gitRemote(owner, name));
    }

    async getBuild(owner: string, name: string, buildId: string): Promise<BuildObject> {
        return (await this.http.request({ method: "GET", path: algoRoute(owner, name, "builds", buildId) })).body;
    }

    async getBuildLogs(owner: string, name: string, buildId: string): Promise<string> {
        const res = await this.http.request({
            method: "GET",
            path: algoRoute(owner, name, "builds", buildId, "logs"),
            accept: [404],
        });
        return res.status === 404 ? "" : (res.body?.logs ?? "");
    }

    /** Every version, newest first, following pages. */
    async *listVersions(
        owner: string,
        name: string,
        filter: { published?: boolean; callable?: boolean } = {},
    ): AsyncGenerator<AlgorithmObject> {
        let marker: string | undefined;
        do {
            const res = await this.http.request({
                method: "GET",
                path: algoRoute(owner, name, "versions"),
                query: { ...filter, limit: 50, marker },
            });
            yield* (res.body?.results ?? []) as AlgorithmObject[];
            marker = res.body?.marker || undefined;
        } while (marker);
    }

    /** The published version built from `gitHash`, if any. */
    async findPublishedVersion(owner: string, name: string, gitHash: string): Promise<AlgorithmObject | undefined> {
        for await (const version of this.listVersions(owner, name, { published: true })) {
            if (version.version_info?.git_hash === gitHash) return version;
        }
        return undefined;
    }

    async getVersion(owner: string, name: string, gitHash: string): Promise<AlgorithmObject | undefined> {
        const res = await this.http.request({
            method: "GET",
            path: algoRoute(owner, name, "versions", gitHash),
            accept: [404],
        });
        return res.status === 404 ? undefined : res.body;
    }

    /**
     * Publishes the latest successful build, as Algorithmia does (no request field chooses the build; the caller
     * makes sure which one that is). A retry after an attempt that may have landed first looks for a version newer
     * than `previous` (the newest published version before this call) of `gitHash`, so one `publish` never
     * publishes twice.
     */
    async publishVersion(
        owner: string,
        name: string,
        body: Record<string, unknown>,
        expect: { gitHash: string; previous?: string },
    ): Promise<AlgorithmObject> {
        const res = await this.http.request({
            method: "POST",
            path: algoRoute(owner, name, "versions"),
            json: body,
            afterFailure: async () => {
                for await (const newest of this.listVersions(owner, name, { published: true })) {
                    const landed =
                        newest.version_info?.semantic_version !== expect.previous &&
                        newest.version_info?.git_hash === expect.gitHash;
                    return landed ? { status: 200, headers: new Headers(), body: newest } : undefined;
                }
                return undefined;
            },
        });
        return res.body;
    }

    // Secrets (docs/api-reference.md §3.5) are addressed by the algorithm's id, which the official Python client also
    // looks up first.

    /** The algorithm's secrets, or undefined when the algorithm is gone. */
    async listSecrets(algorithmId: string): Promise<SecretObject[] | undefined> {
        const res = await this.http.request({ method: "GET", path: secretsRoute(algorithmId), accept: [404] });
        if (res.status === 404) return undefined;
        return res.body?.secrets ?? res.body?.results ?? []; // real replies said `secrets`, the spec `results`
    }

    /** The id of the cluster's default secret provider (Algorithmia's built-in one, unless an admin chose another). */
    async defaultSecretProvider(): Promise<string> {
        const providers: { id: string; name: string; isDefault?: boolean; isEnabled?: boolean }[] = (
            await this.http.request({ method: "GET", path: "/v1/secret-provider" })
        ).body;
        const chosen =
            providers.find((p) => p.isDefault && p.isEnabled !== false) ??
            providers.find((p) => p.name === "algorithmia_internal_secret_provider");
        if (!chosen) throw new Error("the cluster lists no enabled secret provider (GET /v1/secret-provider)");
        return chosen.id;
    }

    async createSecret(algorithmId: string, fields: SecretFields, providerId: string): Promise<SecretObject> {
        const res = await this.http.request({
            method: "POST",
            path: secretsRoute(algorithmId),
            json: { owner_type: "algorithm", owner_id: algorithmId, provider_id: providerId, ...fields },
            // One key per algorithm: a secret of this key that is there now is the one this request made.
            afterFailure: async () => {
                const landed = (await this.listSecrets(algorithmId))?.find((s) => s.secret_key === fields.secret_key);
                return landed ? { status: 200, headers: new Headers(), body: landed } : undefined;
            },
        });
        return res.body;
    }

    async updateSecret(algorithmId: string, secretId: string, fields: SecretFields): Promise<SecretObject> {
        return (await this.http.request({ method: "PUT", path: secretsRoute(algorithmId, secretId), json: fields }))
            .body;
    }

    /** Deletes a secret; false when it was already gone. */
    async deleteSecret(algorithmId: string, secretId: string): Promise<boolean> {
        const res = await this.http.request({
            method: "DELETE",
            path: secretsRoute(algorithmId, secretId),
            accept: [404],
        });
        return res.status !== 404;
    }

    /** Calls an algorithm (`owner/name[/version]`) with JSON input; answers the reply body. */
    async callAlgorithm(algoUri: string, input: unknown, options: CallOptions = {}): Promise<HttpResponse["body"]> {
        const timeoutSeconds = 300; // the platform's default time limit of a call
        const path =
            "/v1/algo/" +
            algoUri
                .replace(/^algo:\/\//, "")
                .split("/")
                .map(encodeURIComponent)
                .join("/");
        const res = await this.http.request({
            method: "POST",
            path,
            query: { timeout: timeoutSeconds },
            json: input,
            idempotent: options.repeatable ?? false,
            timeoutMs: (timeoutSeconds + 30) * 1000,
        });
        return res.body;
    }
}
