// Algorithm source moves only by git (docs/api-reference.md §3.4). This module pushes a file tree to an algorithm's
// repository as one DETERMINISTIC commit — fixed author, committer and date, a message derived from the tree,
// the current master as parent — so the same tree on the same parent always gives the same sha: a retried push
// is a no-op, and clusters with identical history get identical git hashes (environment promotion relies on it).
//
// Why the git CLI: it is the reference implementation of the smart-HTTP protocol and is on every machine that
// builds software. The API key never appears on a command line, in a URL or in a message: it reaches git through
// GIT_CONFIG_COUNT/KEY/VALUE environment variables (an `http.extraHeader`), and git's stderr is scrubbed.
//
// Remote steps get the HTTP client's retry budget (http.ts). fetch and ls-remote only read, so they are simply
// run again after a transient failure; a push whose reply was lost may have moved master, so master is looked at
// before the push is repeated.
import { spawn } from "child_process";
import { Readable } from "stream";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backoffMs, RetryBudget, sleep } from "./http";

/** Git's file modes: a regular file, an executable file, a symbolic link (content = the link's target). */
export type GitMode = "100644" | "100755" | "120000";

/** One file of a tree: its content is either on disk (`file`) or given (`content`). */
export interface TreeEntry {
    /** Relative, `/`-separated. */
    path: string;
    mode: GitMode;
    file?: string;
    content?: Buffer;
}

/** A repository, how to authenticate to it, and how hard to try (the HTTP client's budget). */
export interface GitRemote extends RetryBudget {
    /** The repository URL, without credentials. */
    url: string;
    /** The account the key belongs to: Algorithmia's git takes the account name, with the key as the password. */
    user: string;
    apiKey: string;
    /** A CA bundle file git trusts instead of the system's (`http.sslCAInfo`). */
    caCert?: string;
}

export interface PushResult {
    /** The commit master now points at. */
    commit: string;
    /** False when master already held exactly this tree (nothing was pushed). */
    pushed: boolean;
}

/** The fixed identity and date of every commit this provider makes. */
export const COMMIT_IDENTITY = {
    GIT_AUTHOR_NAME: "pulumi-algorithmia",
    GIT_AUTHOR_EMAIL: "pulumi-algorithmia@localhost",
    GIT_AUTHOR_DATE: "946684800 +0000",
    GIT_COMMITTER_NAME: "pulumi-algorithmia",
    GIT_COMMITTER_EMAIL: "pulumi-algorithmia@localhost",
    GIT_COMMITTER_DATE: "946684800 +0000",
};

const MASTER = "refs/heads/master";
/** Where the scratch repository's new commit goes before it is pushed (nothing else reads it). */
const SCRATCH_REF = "refs/heads/pulumi-algorithmia";

/**
 * Where git is served when no `gitAddress` is set: the `git.` sibling of an `api.` host, as Algorithmia's own
 * `algo clone` derives it; any other API address serves git itself (algorithmia-local does, on its API port).
 */
export function defaultGitAddress(apiAddress: string): string {
    return apiAddress.replace(/\/+$/, "").replace("//api.", "//git.");
}

/** The git repository of an algorithm: `<git address>/git/<owner>/<algo>.git`. */
export function gitRepositoryUrl(gitAddress: string, owner: string, name: string): string {
    return `${gitAddress.replace(/\/+$/, "")}/git/${encodeURIComponent(owner)}/${encodeURIComponent(name)}.git`;
}

/**
 * The sha256 of a tree: over its entries sorted by path, each `<mode> <path>\0<sha256 of content>\n`. It is what
 * `sourceSha256` means, computed the same way from local files and from a repository.
 */
export async function treeSha256(entries: TreeEntry[]): Promise<string> {
    const lines = await Promise.all(
        sortEntries(entries).map(async (e) => `${e.mode} ${e.path}\0${await contentSha256(e)}\n`),
    );
    return sha256Lines(lines);
}

function sha256Lines(lines: string[]): string {
    const hash = crypto.createHash("sha256");
    for (const line of lines) hash.update(line);
    return hash.digest("hex");
}

async function contentSha256(entry: TreeEntry): Promise<string> {
    if (entry.content !== undefined) return crypto.createHash("sha256").update(entry.content).digest("hex");
    const hash = crypto.createHash("sha256");
    // A symbolic link's content is its target, as git stores it.
    if (entry.mode === "120000") return hash.update(fs.readlinkSync(entry.file!)).digest("hex");
    for await (const chunk of fs.createReadStream(entry.file!)) hash.update(chunk as Buffer);
    return hash.digest("hex");
}

function sortEntries<T extends { path: string }>(entries: T[]): T[] {
    return [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/**
 * Makes `entries` the content of master: one deterministic commit on top of the current master (or none when
 * master already holds this tree), then a fast-forward push. A concurrent push elsewhere makes the push fail
 * rather than overwrite it (the server refuses history rewrites anyway).
 *
 * A push that fails may still have landed (its reply lost): if master is now our commit, that is success.
 * Otherwise a transient failure starts over from master as it now is, which gives the very same commit again
 * while master has not moved (the commit is deterministic), so a retry never adds a second commit.
 */
export async function pushTree(remote: GitRemote, entries: TreeEntry[], message: string): Promise<PushResult> {
    return withScratchRepository(remote, async (git) => {
        for (let attempt = 1; ; attempt++) {
            const onMaster = await fetchMaster(git, remote);
            const { commit, tree, parentTree } = await writeCommit(git, entries, message, onMaster);
            if (parentTree === tree) return { commit: await git.run(["rev-parse", MASTER]), pushed: false };
            try {
                await git.run(["push", "--quiet", remote.url, `${commit}:${MASTER}`], { remote: true });
                return { commit, pushed: true };
            } catch (err) {
                // Whatever git says: when a reply is lost, the git CLI may send the push again by itself and report
                // that second one's refusal (master had already moved, to our commit).
                if ((await remoteMaster(git, remote)) === commit) return { commit, pushed: true };
                if (!isTransient(err) || attempt >= remote.maxAttempts) throw err;
            }
            await sleep(backoffMs(attempt, remote.baseDelayMs));
        }
    });
}

/** The tree of master as `{commit, sha256}` (see `treeSha256`), or undefined for an empty repository. */
export async function remoteTreeSha256(remote: GitRemote): Promise<{ commit: string; sha256: string } | undefined> {
    return withScratchRepository(remote, async (git) => {
        if (!(await fetchMaster(git, remote))) return undefined;
        const commit = await git.run(["rev-parse", MASTER]);
        const listing = await git.run(["ls-tree", "-r", "-z", "--full-tree", commit]);
        const entries = listing
            .split("\0")
            .filter(Boolean)
            .map((record) => {
                const [meta, file] = [record.slice(0, record.indexOf("\t")), record.slice(record.indexOf("\t") + 1)];
                const [mode, type, object] = meta.split(" ");
                return { mode, type, object, path: file };
            });
        const blobs = sortEntries(entries.filter((e) => e.type === "blob"));
        const sha256s = await git.sha256Of(blobs.map((e) => e.object));
        return { commit, sha256: sha256Lines(blobs.map((e, i) => `${e.mode} ${e.path}\0${sha256s[i]}\n`)) };
    });
}

// --- the scratch repository -------------------------------------------------------------------------------------

interface RunOptions {
    env?: Record<string, string>;
    /** Talks to the remote: authenticate. */
    remote?: boolean;
    /** stdin: given whole, or streamed (fast-import's commands and file contents). */
    input?: Buffer | string | AsyncIterable<Buffer>;
}

interface ScratchGit {
    dir: string;
    run(args: string[], options?: RunOptions): Promise<string>;
    /** The sha256 of each object's content, in order. */
    sha256Of(objects: string[]): Promise<string[]>;
}

/** Runs `work` with a temporary bare repository, removed afterwards. */
async function withScratchRepository<T>(remote: GitRemote, work: (git: ScratchGit) => Promise<T>): Promise<T> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-algorithmia-git-"));
    const secrets = [remote.apiKey, basicCredentials(remote), encodeURIComponent(remote.apiKey)];
    const git: ScratchGit = {
        dir,
        run: (args, options = {}) => runGit(dir, args, options, remote, secrets),
        sha256Of: (objects) => hashGitObjects(dir, objects),
    };
    try {
        // No template: nothing to copy in, nothing to remove after (sample hooks were most of init's and rm's work).
        await git.run(["init", "--quiet", "--bare", "--template=", "."]);
        return await work(git);
    } finally {
        await fs.promises.rm(dir, { recursive: true, force: true });
    }
}

/** Master's sha on the remote, or undefined when it has none. */
async function remoteMaster(git: ScratchGit, remote: GitRemote): Promise<string | undefined> {
    const listed = await retrying(remote, () => git.run(["ls-remote", remote.url, MASTER], { remote: true }));
    return listed.split(/\s+/)[0] || undefined;
}

/**
 * Fetches master's commit into the scratch repository (as its own master); false when the remote has none. Only that
 * commit and its tree: a push needs no more (its parent is the remote's own master) and a refresh reads one tree, so
 * the cost stays that of one tree however long the history grows. A server without shallow support gets the plain
 * fetch. No `ls-remote` first: the fetch's own ref advertisement says whether there is a master, and the scratch
 * repository never holds it already.
 */
async function fetchMaster(git: ScratchGit, remote: GitRemote): Promise<boolean> {
    const fetch = (depth: string[]) =>
        retrying(remote, () =>
            git.run(["fetch", "--quiet", "--no-tags", ...depth, remote.url, `+${MASTER}:${MASTER}`], { remote: true }),
        );
    try {
        await fetch(["--depth=1"]).catch((err) => {
            if (!/does not support shallow/i.test(String(err?.message))) throw err;
            return fetch([]);
        });
    } catch (err) {
        if (err instanceof GitError && /couldn't find remote ref/i.test(err.stderr)) return false;
        throw err;
    }
    return true;
}

/** Runs a remote step that only reads (ls-remote, fetch), again after transient failures, as http.ts does. */
async function retrying(remote: GitRemote, step: () => Promise<string>): Promise<string> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await step();
        } catch (err) {
            if (!isTransient(err) || attempt >= remote.maxAttempts) throw err;
        }
        await sleep(backoffMs(attempt, remote.baseDelayMs));
    }
}

/**
 * Whether a failed git command met trouble worth another try: the connection failed, dropped or stalled, or the
 * remote answered 429 or 5xx. Authentication failures, other 4xx (no such repository, not yours) and rejected
 * pushes (non-fast-forward) are answers, not trouble.
 */
function isTransient(err: unknown): boolean {
    if (!(err instanceof GitError)) return false;
    const status = /(?:returned error:|RPC failed; HTTP) (\d{3})/.exec(err.stderr);
    if (status) return status[1] === "429" || status[1][0] === "5";
    if (/Authentication failed|rejected|non-fast-forward|denied/i.test(err.stderr)) return false;
    return /remote end hung up unexpectedly|RPC failed|unexpected disconnect|early EOF|Empty reply from server|Connection reset|Connection refused|Failed to connect|Couldn't connect|timed out|Operation too slow|transfer closed|Recv failure|Send failure|SSL_read|SSL_write/i.test(
        err.stderr,
    );
}

/**
 * Writes `entries` as one commit (COMMIT_IDENTITY, `message`) whose parent is the fetched master, if `onMaster`: the
 * blobs, the tree and the commit in one `git fast-import`, which also tells the new commit's sha (`get-mark`), its
 * tree's and the parent's tree's (`ls`). The commit is the one `git commit-tree` would make of the same tree.
 */
async function writeCommit(
    git: ScratchGit,
    entries: TreeEntry[],
    message: string,
    onMaster: boolean,
): Promise<{ commit: string; tree: string; parentTree?: string }> {
    const { GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_AUTHOR_DATE } = COMMIT_IDENTITY;
    const { GIT_COMMITTER_NAME, GIT_COMMITTER_EMAIL, GIT_COMMITTER_DATE } = COMMIT_IDENTITY;
    const data = (bytes: Buffer) => [Buffer.from(`data ${bytes.length}\n`), bytes, Buffer.from("\n")];
    async function* stream(): AsyncGenerator<Buffer> {
        yield Buffer.from(
            `commit ${SCRATCH_REF}\nmark :1\n` +
                `author ${GIT_AUTHOR_NAME} <${GIT_AUTHOR_EMAIL}> ${GIT_AUTHOR_DATE}\n` +
                `committer ${GIT_COMMITTER_NAME} <${GIT_COMMITTER_EMAIL}> ${GIT_COMMITTER_DATE}\n`,
        );
        // As `commit-tree -m` writes it: the message and a newline.
        yield* data(Buffer.from(message.replace(/\n*$/, "\n")));
        // The parent's tree is listed before the new tree replaces it whole.
        if (onMaster) yield Buffer.from(`from ${MASTER}\nls ""\ndeleteall\n`);
        for (const e of sortEntries(entries)) {
            const content =
                e.content ??
                (e.mode === "120000" ? Buffer.from(fs.readlinkSync(e.file!)) : await fs.promises.readFile(e.file!));
            yield Buffer.concat([Buffer.from(`M ${e.mode} inline `), quotedPath(e.path), Buffer.from("\n")]);
            yield* data(content);
        }
        yield Buffer.from(`\nget-mark :1\nls :1 ""\ndone\n`);
    }
    const lines = (await git.run(["fast-import", "--quiet", "--done"], { input: stream() })).split("\n");
    const treeOf = (line: string | undefined) => {
        // (The output is trimmed: the last line has lost its tab and empty path.)
        const match = /^040000 tree ([0-9a-f]{40})(\t|$)/.exec(line ?? "");
        if (!match) throw new Error(`git fast-import listed no tree: ${JSON.stringify(line)}`);
        return match[1];
    };
    const [parentTree, commit, tree] = onMaster ? lines : [undefined, ...lines];
    return { commit: commit!, tree: treeOf(tree), parentTree: onMaster ? treeOf(parentTree) : undefined };
}

/** A path as fast-import reads a quoted one (C-style: `"`, `\\` and control bytes escaped), whatever it holds. */
function quotedPath(file: string): Buffer {
    const bytes: number[] = [0x22];
    for (const byte of Buffer.from(file, "utf8")) {
        if (byte === 0x22 || byte === 0x5c) bytes.push(0x5c, byte);
        else if (byte < 0x20 || byte === 0x7f) bytes.push(...Buffer.from("\\" + byte.toString(8).padStart(3, "0")));
        else bytes.push(byte);
    }
    bytes.push(0x22);
    return Buffer.from(bytes);
}

function basicCredentials(remote: GitRemote): string {
    return Buffer.from(`${remote.user}:${remote.apiKey}`).toString("base64");
}

/** Runs git isolated from the user's and system's configuration; authenticates remote calls by environment. */
function runGit(
    dir: string,
    args: string[],
    options: RunOptions,
    remote: GitRemote,
    secrets: string[],
): Promise<string> {
    const env: Record<string, string> = {
        PATH: process.env.PATH ?? "",
        HOME: dir,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_TERMINAL_PROMPT: "0",
        GIT_ASKPASS: "",
        LC_ALL: "C",
        ...options.env,
    };
    const config: [string, string][] = [
        ["commit.gpgSign", "false"],
        ["core.hooksPath", "/dev/null"],
    ];
    if (options.remote) {
        config.push(["http.extraHeader", `Authorization: Basic ${basicCredentials(remote)}`]);
        if (remote.caCert) config.push(["http.sslCAInfo", remote.caCert]);
        // A reply that stops coming (under 1 byte/s for the per-attempt timeout) ends the command, as a transient failure.
        config.push(
            ["http.lowSpeedLimit", "1"],
            ["http.lowSpeedTime", String(Math.max(1, Math.ceil(remote.timeoutMs / 1000)))],
        );
    }
    env.GIT_CONFIG_COUNT = String(config.length);
    config.forEach(([key, value], i) => {
        env[`GIT_CONFIG_KEY_${i}`] = key;
        env[`GIT_CONFIG_VALUE_${i}`] = value;
    });
    return new Promise((resolve, reject) => {
        const child = spawn("git", args, {
            cwd: dir,
            env,
            stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout!.on("data", (c: Buffer) => out.push(c));
        child.stderr!.on("data", (c: Buffer) => err.push(c));
        child.on("error", (e) => reject(new Error(`git ${args[0]} could not start: ${e.message} (is git installed?)`)));
        child.on("close", (code) => {
            if (code === 0) return resolve(Buffer.concat(out).toString("utf8").trim());
            const stderr = scrub(Buffer.concat(err).toString("utf8").trim(), secrets);
            reject(new GitError(args[0], code, stderr));
        });
        const input = options.input;
        if (typeof input === "string" || Buffer.isBuffer(input)) child.stdin!.end(input);
        else if (input !== undefined) {
            // A git that stops reading (it failed) breaks the pipe: its exit status and stderr say why.
            child.stdin!.on("error", () => undefined);
            Readable.from(input)
                .on("error", (e) => child.kill() && reject(e))
                .pipe(child.stdin!);
        }
    });
}

/**
 * The sha256 of each blob's content, streamed out of one `git cat-file --batch`, which answers each id on its stdin
 * with `<id> blob <size>\n`, the content and a newline.
 */
function hashGitObjects(dir: string, objects: string[]): Promise<string[]> {
    if (objects.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
        const hashes: string[] = [];
        // The blob being read: its hash so far and how many of its bytes (and then its newline) are still to come.
        let blob: { hash: crypto.Hash; left: number } | undefined;
        let header = Buffer.alloc(0);
        const child = spawn("git", ["cat-file", "--batch"], {
            cwd: dir,
            env: { PATH: process.env.PATH ?? "", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
        });
        const fail = (why: string) => {
            child.kill();
            reject(new GitError("cat-file", null, why));
        };
        child.stdout.on("data", (chunk: Buffer) => {
            while (chunk.length > 0) {
                if (!blob) {
                    const end = chunk.indexOf(10);
                    header = Buffer.concat([header, end < 0 ? chunk : chunk.subarray(0, end)]);
                    if (end < 0) return;
                    chunk = chunk.subarray(end + 1);
                    const size = /^[0-9a-f]{40} blob (\d+)$/.exec(header.toString("latin1"))?.[1];
                    if (size === undefined) return fail(`not a blob: ${header.toString("latin1")}`);
                    blob = { hash: crypto.createHash("sha256"), left: Number(size) };
                    header = Buffer.alloc(0);
                }
                const take = Math.min(blob.left, chunk.length);
                blob.hash.update(chunk.subarray(0, take));
                blob.left -= take;
                chunk = chunk.subarray(take);
                if (blob.left === 0 && chunk.length > 0) {
                    // The newline after the content.
                    hashes.push(blob.hash.digest("hex"));
                    blob = undefined;
                    chunk = chunk.subarray(1);
                }
            }
        });
        child.on("error", reject);
        child.on("close", (code) =>
            code === 0 && hashes.length === objects.length
                ? resolve(hashes)
                : reject(new GitError("cat-file", code, `answered ${hashes.length} of ${objects.length} objects`)),
        );
        child.stdin.end(objects.join("\n") + "\n");
    });
}

export class GitError extends Error {
    constructor(
        readonly command: string,
        readonly exitCode: number | null,
        readonly stderr: string,
    ) {
        const message = `git ${command} failed (exit ${exitCode}): ${stderr || "no output"}`;
        super(message);
        this.name = "GitError";
    }
}

function scrub(text: string, secrets: string[]): string {
    let out = text;
    for (const secret of secrets) if (secret) out = out.split(secret).join("[redacted]");
    return out.replace(/\/\/[^/@\s]+@/g, "//[redacted]@");
}
