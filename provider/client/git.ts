// Algorithm source moves only by git (algorithmia-api.md §3.4). This module pushes a file tree to an algorithm's
// repository as one DETERMINISTIC commit — fixed author, committer and date, a message derived from the tree,
// the current master as parent — so the same tree on the same parent always gives the same sha: a retried push
// is a no-op, and clusters with identical history get identical git hashes (environment promotion relies on it).
//
// Why the git CLI: it is the reference implementation of the smart-HTTP protocol and is on every machine that
// builds software. The API key never appears on a command line, in a URL or in a message: it reaches git through
// GIT_CONFIG_COUNT/KEY/VALUE environment variables (an `http.extraHeader`), and git's stderr is scrubbed.
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

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

export interface GitRemote {
    /** The repository URL, without credentials. */
    url: string;
    /** Any user name works with algorithmia-local; real clusters expected the account name. */
    user: string;
    apiKey: string;
}

export interface PushResult {
    /** The commit master now points at. */
    commit: string;
    /** False when master already held exactly this tree (nothing was pushed). */
    pushed: boolean;
}

/** The fixed identity and date of every commit this provider makes. */
const COMMIT_IDENTITY = {
    GIT_AUTHOR_NAME: "pulumi-algorithmia",
    GIT_AUTHOR_EMAIL: "pulumi-algorithmia@localhost",
    GIT_AUTHOR_DATE: "946684800 +0000",
    GIT_COMMITTER_NAME: "pulumi-algorithmia",
    GIT_COMMITTER_EMAIL: "pulumi-algorithmia@localhost",
    GIT_COMMITTER_DATE: "946684800 +0000",
};

const MASTER = "refs/heads/master";

/**
 * The git repository of an algorithm: `<api address>/git/<owner>/<algo>.git`. Real clusters served git from
 * `git.<domain>` next to `api.<domain>` (§1.1), so an `api.` host is mapped to its `git.` sibling.
 */
export function gitRepositoryUrl(apiAddress: string, owner: string, name: string): string {
    const url = new URL(apiAddress);
    if (url.hostname.startsWith("api.")) url.hostname = "git." + url.hostname.slice(4);
    const base = url.toString().replace(/\/+$/, "");
    return `${base}/git/${encodeURIComponent(owner)}/${encodeURIComponent(name)}.git`;
}

/**
 * The sha256 of a tree: over its entries sorted by path, each `<mode> <path>\0<sha256 of content>\n`. It is what
 * `sourceSha256` means, computed the same way from local files and from a repository.
 */
export async function treeSha256(entries: TreeEntry[]): Promise<string> {
    const lines = await Promise.all(sortEntries(entries).map(async (e) => `${e.mode} ${e.path}\0${await contentSha256(e)}\n`));
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
 */
export async function pushTree(remote: GitRemote, entries: TreeEntry[], message: string): Promise<PushResult> {
    return withScratchRepository(remote, async (git) => {
        const parent = await fetchMaster(git, remote);
        const tree = await writeTree(git, entries);
        if (parent && (await git.run(["rev-parse", `${parent}^{tree}`])) === tree) return { commit: parent, pushed: false };
        const commit = await git.run(["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-m", message], { env: COMMIT_IDENTITY });
        await git.run(["push", "--quiet", remote.url, `${commit}:${MASTER}`], { remote: true });
        return { commit, pushed: true };
    });
}

/** The tree of master as `{commit, sha256}` (see `treeSha256`), or undefined for an empty repository. */
export async function remoteTreeSha256(remote: GitRemote): Promise<{ commit: string; sha256: string } | undefined> {
    return withScratchRepository(remote, async (git) => {
        const commit = await fetchMaster(git, remote);
        if (!commit) return undefined;
        const listing = await git.run(["ls-tree", "-r", "-z", "--full-tree", commit]);
        const entries = listing.split("\0").filter(Boolean).map((record) => {
            const [meta, file] = [record.slice(0, record.indexOf("\t")), record.slice(record.indexOf("\t") + 1)];
            const [mode, type, object] = meta.split(" ");
            return { mode, type, object, path: file };
        });
        const lines: string[] = [];
        for (const e of sortEntries(entries.filter((e) => e.type === "blob"))) {
            lines.push(`${e.mode} ${e.path}\0${await git.sha256Of(e.object)}\n`);
        }
        return { commit, sha256: sha256Lines(lines) };
    });
}

// --- the scratch repository -------------------------------------------------------------------------------------

interface RunOptions {
    env?: Record<string, string>;
    /** Talks to the remote: authenticate. */
    remote?: boolean;
    input?: Buffer | string;
}

interface ScratchGit {
    dir: string;
    run(args: string[], options?: RunOptions): Promise<string>;
    sha256Of(object: string): Promise<string>;
}

/** Runs `work` with a temporary bare repository, removed afterwards. */
async function withScratchRepository<T>(remote: GitRemote, work: (git: ScratchGit) => Promise<T>): Promise<T> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-algorithmia-git-"));
    const secrets = [remote.apiKey, basicCredentials(remote), encodeURIComponent(remote.apiKey)];
    const git: ScratchGit = {
        dir,
        run: (args, options = {}) => runGit(dir, args, options, remote, secrets),
        sha256Of: (object) => hashGitObject(dir, object),
    };
    try {
        await git.run(["init", "--quiet", "--bare", "."]);
        return await work(git);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Fetches master into the scratch repository; answers its sha, or undefined when the remote has no master. */
async function fetchMaster(git: ScratchGit, remote: GitRemote): Promise<string | undefined> {
    const advertised = (await git.run(["ls-remote", remote.url, MASTER], { remote: true })).split(/\s+/)[0];
    if (!advertised) return undefined;
    await git.run(["fetch", "--quiet", "--no-tags", remote.url, `+${MASTER}:${MASTER}`], { remote: true });
    return git.run(["rev-parse", MASTER]);
}

/** Writes the blobs and a tree of `entries` into the scratch repository; answers the tree's sha. */
async function writeTree(git: ScratchGit, entries: TreeEntry[]): Promise<string> {
    const staged = path.join(git.dir, "staged");
    fs.mkdirSync(staged);
    // Given contents and link targets go through files too, so every blob is written by one hash-object call.
    const sources = entries.map((e, i) => {
        if (e.content === undefined && e.mode !== "120000") return e.file!;
        const file = path.join(staged, String(i));
        fs.writeFileSync(file, e.content ?? fs.readlinkSync(e.file!));
        return file;
    });
    const blobs = entries.length
        ? (await git.run(["hash-object", "-w", "--no-filters", "--stdin-paths"], { input: sources.join("\n") + "\n" })).split("\n")
        : [];
    const index = entries.map((e, i) => `${e.mode} ${blobs[i]}\t${e.path}\0`).join("");
    const env = { GIT_INDEX_FILE: path.join(git.dir, "scratch-index") };
    await git.run(["update-index", "-z", "--add", "--index-info"], { input: index, env });
    return git.run(["write-tree"], { env });
}

function basicCredentials(remote: GitRemote): string {
    return Buffer.from(`${remote.user}:${remote.apiKey}`).toString("base64");
}

/** Runs git isolated from the user's and system's configuration; authenticates remote calls by environment. */
function runGit(dir: string, args: string[], options: RunOptions, remote: GitRemote, secrets: string[]): Promise<string> {
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
    const config: [string, string][] = [["commit.gpgSign", "false"], ["core.hooksPath", "/dev/null"]];
    if (options.remote) config.push(["http.extraHeader", `Authorization: Basic ${basicCredentials(remote)}`]);
    env.GIT_CONFIG_COUNT = String(config.length);
    config.forEach(([key, value], i) => {
        env[`GIT_CONFIG_KEY_${i}`] = key;
        env[`GIT_CONFIG_VALUE_${i}`] = value;
    });
    return new Promise((resolve, reject) => {
        const child = spawn("git", args, { cwd: dir, env, stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
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
        if (options.input !== undefined) child.stdin!.end(options.input);
    });
}

/** The sha256 of a git object's content, streamed out of `git cat-file`. */
function hashGitObject(dir: string, object: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const hash = crypto.createHash("sha256");
        const child = spawn("git", ["cat-file", "blob", object], { cwd: dir, env: { PATH: process.env.PATH ?? "", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } });
        child.stdout.on("data", (c: Buffer) => hash.update(c));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(hash.digest("hex")) : reject(new GitError("cat-file", code, object))));
    });
}

export class GitError extends Error {
    constructor(readonly command: string, readonly exitCode: number | null, readonly stderr: string) {
        super(`git ${command} failed (exit ${exitCode}): ${stderr || "no output"}`);
        this.name = "GitError";
    }
}

function scrub(text: string, secrets: string[]): string {
    let out = text;
    for (const secret of secrets) if (secret) out = out.split(secret).join("[redacted]");
    return out.replace(/\/\/[^/@\s]+@/g, "//[redacted]@");
}
