// Algorithm source hosting: one bare repository per algorithm under <dataDir>/git/<owner>/<algo>.git, served
// over git's smart HTTP protocol at /git/<owner>/<algo>.git by git itself (`git http-backend`, run as CGI).
// Clients authenticate with HTTP basic auth: the account name as the user name and one of that account's API
// keys as the password (docs/api-reference.md §3.4; any other user name is refused, even for an organization's
// repository), or send the key as `Authorization: Simple <key>` (git's http.extraHeader). History rewrites and
// branch deletion are refused by the repository's own configuration. After a push moves master, `push` is
// emitted — before the push's HTTP reply ends, so a client that lists builds right after its push already sees
// the new one.
//
// The repository is the source of truth for an algorithm's code; builds and running algorithms use checked-out
// trees of its commits (`tree`), kept under <dataDir>/trees/<owner>/<algo>/<sha> (a commit never changes).
//
// The first commit is the server's own, as on a real cluster: written when the algorithm is created and naming
// this server's cluster id (made once per data directory), so the same template gives another sha on every
// server and at every creation. Nothing may count on two clusters sharing git hashes: environment promotion
// compares trees (sourceSha256), not commits.
import * as crypto from "crypto";
import { execFile, spawn } from "child_process";
import { EventEmitter } from "events";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { NAME_RULE } from "./algorithms";
import { actsFor, apiKeyFrom, keyPermissions } from "./auth";
import { ApiError, notAuthorized } from "./errors";
import { ApiKeyRecord, Store } from "./store";

const run = promisify(execFile);
const BRANCH = "refs/heads/master";
const SHA = /^[0-9a-f]{40}$/;

/** Every repository's own settings: pushes over HTTP, fast-forwards only, no branch deletes. */
const REPOSITORY_CONFIG =
    "[receive]\n\tdenyNonFastForwards = true\n\tdenyDeletes = true\n[http]\n\treceivepack = true\n" +
    "[core]\n\tsharedRepository = false\n";

/**
 * A `git fast-import` stream that makes `files` the first commit on master, by the platform, now, and asks for the
 * commit's sha (`get-mark`). Template file names are plain (no quoting needed); `data` counts bytes.
 */
function firstCommit(files: Record<string, string>, message: string): string {
    const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
    const identity = `Algorithmia <noreply@algorithmia.com> ${Math.floor(Date.now() / 1000)} +0000`;
    const entries = Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1));
    return (
        `commit ${BRANCH}\nmark :1\nauthor ${identity}\ncommitter ${identity}\n${data(message)}` +
        entries.map(([file, content]) => `M 100644 inline ${file}\n${data(content)}`).join("") +
        "\nget-mark :1\ndone\n"
    );
}

/** This server's cluster id: random, made on first start and kept in the data directory. */
function clusterId(dataDir: string): string {
    const file = path.join(dataDir, "cluster-id");
    try {
        return fs.readFileSync(file, "utf8").trim();
    } catch {
        const id = crypto.randomUUID();
        fs.writeFileSync(file, `${id}\n`, { flag: "wx" });
        return id;
    }
}

/** Server-side git ignores the machine's and user's git configuration (signing, hooks, templates). */
const GIT_ENV: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
};

export interface CommitInfo {
    id: string;
    short_message: string;
    message: string;
    author: string;
}

export interface PushEvent {
    owner: string;
    algo: string;
    before?: string;
    after: string;
}

export class GitRepos extends EventEmitter {
    readonly root: string;
    readonly treesRoot: string;
    readonly clusterId: string;
    /** An empty repository with every repository's settings, which `create` copies (see `emptyRepository`). */
    private readonly empty: string;
    private readonly checkouts = new Map<string, Promise<string>>();

    constructor(dataDir: string) {
        super();
        this.root = path.join(dataDir, "git");
        this.empty = path.join(dataDir, "git-empty.git");
        this.treesRoot = path.join(dataDir, "trees");
        this.clusterId = clusterId(dataDir);
        fs.mkdirSync(this.root, { recursive: true });
        fs.mkdirSync(this.treesRoot, { recursive: true });
    }

    /** The repository directory; throws on names that could leave the git root. */
    dir(owner: string, algo: string): string {
        if (!NAME_RULE.test(owner) || !NAME_RULE.test(algo))
            throw new ApiError(400, `invalid repository name ${owner}/${algo}`);
        return path.join(this.root, owner.toLowerCase(), `${algo.toLowerCase()}.git`);
    }

    exists(owner: string, algo: string): boolean {
        return fs.existsSync(path.join(this.dir(owner, algo), "HEAD"));
    }

    /**
     * Creates the repository with `files` as its first commit on master (this cluster's own, see the top of
     * this module) and returns that commit's sha. Whatever was at this path before (a leftover of a deleted
     * algorithm) is replaced: the caller makes sure no algorithm owns it.
     */
    async create(owner: string, algo: string, files: Record<string, string>, message: string): Promise<string> {
        const dir = this.dir(owner, algo);
        const staging = `${dir}.creating`;
        fs.rmSync(staging, { recursive: true, force: true });
        fs.mkdirSync(path.dirname(dir), { recursive: true });
        fs.cpSync(await this.emptyRepository(), staging, { recursive: true });
        // The blobs, the tree, the commit and master in one `git fast-import`, which prints the commit's sha.
        const text = `${message.replace(/\n+$/, "")}\n\nCluster: ${this.clusterId}\n`;
        const commit = await gitInput(staging, firstCommit(files, text), "fast-import", "--quiet");
        // Appear whole or not at all: a crash before this rename leaves only the staging directory.
        this.remove(owner, algo);
        fs.renameSync(staging, dir);
        return commit;
    }

    /**
     * The empty repository every new one starts as a copy of (made by `git init` once per data directory): a copy
     * costs no process, and processes forked from the server's are what its git work spends most on.
     */
    private async emptyRepository(): Promise<string> {
        if (fs.existsSync(this.empty)) return this.empty;
        const staging = `${this.empty}.tmp-${process.pid}-${crypto.randomUUID()}`;
        await git(
            path.dirname(this.empty),
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=master",
            "--template=",
            staging,
        );
        // Appended in git's own config format: one write instead of a `git config` process per key.
        fs.appendFileSync(path.join(staging, "config"), REPOSITORY_CONFIG);
        // Complete or absent; another creation may have made it meanwhile (either is as good).
        try {
            fs.renameSync(staging, this.empty);
        } catch {
            fs.rmSync(staging, { recursive: true, force: true });
        }
        return this.empty;
    }

    async head(owner: string, algo: string): Promise<string | undefined> {
        return revParse(this.dir(owner, algo), BRANCH);
    }

    /**
     * The history of master (or of `until`) newest first, down to `since` (both inclusive), as the commit-log
     * route shows it (docs/api-reference.md §3.3.10).
     */
    async log(owner: string, algo: string, since?: string, until?: string): Promise<CommitInfo[]> {
        const dir = this.dir(owner, algo);
        for (const [name, sha] of Object.entries({ since, until })) {
            if (sha !== undefined && !(await this.hasCommit(owner, algo, sha))) {
                throw new ApiError(
                    400,
                    `${name} must be the full sha of a commit of ${owner}/${algo} (got ${JSON.stringify(sha)})`,
                );
            }
        }
        const out = await git(dir, "log", "--format=%H%x1f%an <%ae>%x1f%s%x1f%B%x1e", until ?? BRANCH);
        const commits = out
            .split("\x1e")
            .map((r) => r.trim())
            .filter(Boolean)
            .map((record) => {
                const [id, author, short_message, message] = record.split("\x1f");
                return { id, short_message, message: message.trim(), author };
            });
        if (since === undefined) return commits;
        const end = commits.findIndex((c) => c.id === since);
        if (end < 0) throw new ApiError(400, `since (${since}) is not an ancestor of ${until ?? "master"}`);
        return commits.slice(0, end + 1);
    }

    /** Whether `sha` names a commit of the repository. */
    async hasCommit(owner: string, algo: string, sha: string): Promise<boolean> {
        return SHA.test(sha) && (await revParse(this.dir(owner, algo), `${sha}^{commit}`)) === sha;
    }

    /**
     * The checked-out files of `commit` (a directory that builds check and workers run in), made on first use:
     * extracted into a temporary directory and renamed into place, so it is complete or absent.
     */
    tree(owner: string, algo: string, commit: string): Promise<string> {
        if (!SHA.test(commit)) return Promise.reject(new ApiError(400, `not a commit sha: ${commit}`));
        const dest = path.join(this.treesOf(owner, algo), commit);
        const pending = this.checkouts.get(dest);
        if (pending) return pending;
        const made = (async () => {
            if (fs.existsSync(dest)) return dest;
            const staging = `${dest}.tmp-${process.pid}-${Date.now()}`;
            const index = `${staging}.index`;
            fs.mkdirSync(staging, { recursive: true });
            try {
                // As a clone checks out, in one process: the commit's tree into a scratch index and onto the disk.
                await run("git", ["read-tree", "--reset", "-u", commit], {
                    cwd: staging,
                    env: { ...GIT_ENV, GIT_DIR: this.dir(owner, algo), GIT_WORK_TREE: staging, GIT_INDEX_FILE: index },
                });
                fs.renameSync(staging, dest);
            } finally {
                fs.rmSync(staging, { recursive: true, force: true });
                fs.rmSync(index, { force: true });
            }
            return dest;
        })().finally(() => this.checkouts.delete(dest));
        this.checkouts.set(dest, made);
        return made;
    }

    /** Deletes the repository and its checked-out trees. */
    remove(owner: string, algo: string): void {
        fs.rmSync(this.dir(owner, algo), { recursive: true, force: true });
        fs.rmSync(this.treesOf(owner, algo), { recursive: true, force: true });
    }

    private treesOf(owner: string, algo: string): string {
        this.dir(owner, algo); // validates the names
        return path.join(this.treesRoot, owner.toLowerCase(), algo.toLowerCase());
    }
}

async function git(cwd: string, ...args: string[]): Promise<string> {
    return (await run("git", args, { cwd, env: GIT_ENV })).stdout.trim();
}

/** Runs git with `input` on stdin and returns its trimmed stdout. */
function gitInput(
    cwd: string,
    input: string,
    ...argsAndOptions: (string | { env: NodeJS.ProcessEnv })[]
): Promise<string> {
    const options =
        typeof argsAndOptions[argsAndOptions.length - 1] === "object"
            ? (argsAndOptions.pop() as { env: NodeJS.ProcessEnv })
            : { env: GIT_ENV };
    return new Promise((resolve, reject) => {
        const child = execFile("git", argsAndOptions as string[], { cwd, env: options.env }, (err, stdout) =>
            err ? reject(err) : resolve(stdout.trim()),
        );
        child.stdin!.end(input);
    });
}

async function revParse(repo: string, ref: string): Promise<string | undefined> {
    try {
        return (
            (await run("git", ["rev-parse", "--verify", "--quiet", ref], { cwd: repo, env: GIT_ENV })).stdout.trim() ||
            undefined
        );
    } catch {
        return undefined;
    }
}

const SMART_HTTP_PATHS = new Set(["info/refs", "git-upload-pack", "git-receive-pack"]);

/** The smart-HTTP routes. Only the owner (or a member of the owning org) may clone, fetch or push. */
export function gitRoutes(store: Store, repos: GitRepos) {
    return async function (app: FastifyInstance): Promise<void> {
        // Bodies are git's own (pack data, maybe gzipped): hand them to http-backend untouched.
        app.removeAllContentTypeParsers();
        app.addContentTypeParser("*", (_request, _payload, done) => done(null));

        const handler = async (request: FastifyRequest, reply: FastifyReply) => {
            const { owner, repo } = request.params as { owner: string; repo: string; "*": string };
            const algo = repo.replace(/\.git$/, "");
            const key = basicAuthKey(store, request);
            if (!key) {
                reply.header("WWW-Authenticate", 'Basic realm="algorithmia-local"');
                throw new ApiError(
                    401,
                    "Authentication required: use your account name as the user name and your API key as the password",
                );
            }
            // Source is managed through git, so a key needs algorithm management here as on the management routes.
            if (key.keyType !== "AlgorithmKey" || !keyPermissions(key.permissions).allow_algo_management)
                throw notAuthorized();
            const username = key.username;
            if (!actsFor({ username, orgs: store.orgsOf(username) }, owner)) throw notAuthorized();
            if (!repos.exists(owner, algo)) throw new ApiError(404, `No such repository ${owner}/${algo}`);

            const dir = repos.dir(owner, algo);
            const service = (request.params as { "*": string })["*"];
            // Only the smart protocol's three endpoints: no other path (e.g. "../config") reaches http-backend.
            if (!SMART_HTTP_PATHS.has(service)) throw new ApiError(404, `Not a git smart-HTTP endpoint: ${service}`);
            const pushing = service === "git-receive-pack";
            const before = pushing ? await revParse(dir, BRANCH) : undefined;
            await httpBackend(request, reply, dir, service, username, async () => {
                if (!pushing) return;
                const after = await revParse(dir, BRANCH);
                if (after && after !== before) repos.emit("push", { owner, algo, before, after } satisfies PushEvent);
            });
        };
        app.get("/git/:owner/:repo/*", handler);
        app.post("/git/:owner/:repo/*", handler);
    };
}

/**
 * The key a request authenticates with, or undefined. Basic auth must name the key's own account, exactly as
 * the API spells it: a wrong user name with a valid key is refused like a wrong key (and says no more, so it
 * does not tell a guesser that the key is valid).
 */
function basicAuthKey(store: Store, request: FastifyRequest): ApiKeyRecord | undefined {
    const header = request.headers.authorization ?? "";
    const match = /^basic\s+(.+)$/i.exec(header);
    if (!match) {
        const key = apiKeyFrom(header);
        return key ? store.apiKey(key) : undefined;
    }
    const decoded = Buffer.from(match[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    // git sends the URL's password percent-decoded already; a key pasted still encoded is decoded once more.
    let key = password;
    try {
        key = decodeURIComponent(password);
    } catch {
        // not percent-encoded
    }
    const found = store.apiKey(key) ?? store.apiKey(password);
    return found?.username === user ? found : undefined;
}

/**
 * Runs `git http-backend` as a CGI program for one request and streams its reply; `beforeEnd` runs once git is
 * done, before the reply ends.
 */
function httpBackend(
    request: FastifyRequest,
    reply: FastifyReply,
    repoDir: string,
    pathInfo: string,
    user: string,
    beforeEnd: () => Promise<void>,
) {
    const url = new URL(request.url, "http://local");
    const child = spawn("git", ["http-backend"], {
        env: {
            PATH: process.env.PATH,
            GIT_CONFIG_NOSYSTEM: "1",
            GIT_CONFIG_GLOBAL: "/dev/null",
            GIT_PROJECT_ROOT: path.dirname(repoDir),
            GIT_HTTP_EXPORT_ALL: "1",
            PATH_INFO: `/${path.basename(repoDir)}/${pathInfo}`,
            REQUEST_METHOD: request.method,
            QUERY_STRING: url.search.slice(1),
            CONTENT_TYPE: request.headers["content-type"] ?? "",
            HTTP_CONTENT_ENCODING: (request.headers["content-encoding"] as string) ?? "",
            GIT_PROTOCOL: (request.headers["git-protocol"] as string) ?? "",
            REMOTE_USER: user,
            REMOTE_ADDR: request.ip,
        },
    });
    request.raw.pipe(child.stdin);
    return new Promise<void>((resolve, reject) => {
        let head = Buffer.alloc(0);
        let headersDone = false;
        child.stdout.on("data", (chunk: Buffer) => {
            if (headersDone) return void reply.raw.write(chunk);
            head = Buffer.concat([head, chunk]);
            const end = head.indexOf("\r\n\r\n");
            if (end < 0) return;
            headersDone = true;
            let status = 200;
            for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
                const colon = line.indexOf(":");
                const name = line.slice(0, colon).trim();
                const value = line.slice(colon + 1).trim();
                if (name.toLowerCase() === "status") status = parseInt(value, 10);
                else reply.raw.setHeader(name, value);
            }
            reply.hijack();
            reply.raw.writeHead(status);
            reply.raw.write(head.subarray(end + 4));
        });
        child.on("error", reject);
        child.on("close", (code) => {
            if (!headersDone) return reject(new ApiError(500, `git http-backend failed (exit ${code})`));
            beforeEnd()
                .catch((err) => request.log.error({ err }, "after git push"))
                .finally(() => {
                    reply.raw.end();
                    resolve();
                });
        });
    });
}
