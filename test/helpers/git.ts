// Algorithm source through the real git CLI against algorithmia-local's smart-HTTP hosting: clone, commit,
// push, and wait for the build a push starts (the way the provider does it: list builds, find the commit, poll).
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createBody } from "./algorithms";
import { call } from "./server";

/** git with no user or system configuration, a fixed identity and never a password prompt. */
export const GIT_ENV: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "Test Author",
    GIT_AUTHOR_EMAIL: "test@example.com",
    GIT_COMMITTER_NAME: "Test Author",
    GIT_COMMITTER_EMAIL: "test@example.com",
};

export interface GitResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs git; never throws (tests look at the exit code and output). */
export function git(cwd: string, ...args: string[]): Promise<GitResult> {
    return new Promise((resolve) => {
        execFile("git", args, { cwd, env: GIT_ENV, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            const code = err
                ? typeof (err as NodeJS.ErrnoException).code === "number"
                    ? Number((err as NodeJS.ErrnoException).code)
                    : 1
                : 0;
            resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
        });
    });
}

/** Like git(), but fails the test when git fails; returns trimmed stdout. */
export async function gitOk(cwd: string, ...args: string[]): Promise<string> {
    const result = await git(cwd, ...args);
    assert.strictEqual(result.code, 0, `git ${args.join(" ")} failed:\n${result.stderr}${result.stdout}`);
    return result.stdout.trim();
}

/** The clone URL with an account's credentials: its name as the basic-auth user, an API key as the password. */
export function remoteUrl(
    server: { url: string },
    owner: string,
    algo: string,
    account: { name: string; key: string },
): string {
    const url = new URL(`${server.url}/git/${owner}/${algo}.git`);
    url.username = account.name;
    url.password = account.key;
    return url.toString();
}

/** The account an API key belongs to: the first folder of the root listing, as the provider's `whoami` reads it. */
export async function accountOf(server: { url: string }, key: string): Promise<string> {
    const root = await call(server, "GET", "/v1/connector/data", { key });
    assert.strictEqual(root.status, 200, root.text);
    return root.json.folders[0].name;
}

/** Clones an algorithm's repository (as the key's account) into a fresh temporary directory. */
export async function clone(server: { url: string }, owner: string, algo: string, key: string): Promise<string> {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "algorithmia-clone-"));
    await gitOk(
        parent,
        "clone",
        "--quiet",
        remoteUrl(server, owner, algo, { name: await accountOf(server, key), key }),
        "work",
    );
    return path.join(parent, "work");
}

/** Writes (or, for null, deletes) files in a work tree and commits them all; returns the new commit's sha. */
export async function commit(dir: string, files: Record<string, string | null>, message = "Change"): Promise<string> {
    for (const [file, content] of Object.entries(files)) {
        const target = path.join(dir, file);
        if (content === null) fs.rmSync(target, { force: true });
        else {
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, content);
        }
    }
    await gitOk(dir, "add", "--all");
    await gitOk(dir, "commit", "--quiet", "--allow-empty", "-m", message);
    return gitOk(dir, "rev-parse", "HEAD");
}

/** Copies a fixture algorithm's files (test/fixtures/algorithms/<name>) into a work tree. */
export function fixtureFiles(name: string): Record<string, string> {
    const root = path.join(__dirname, "..", "fixtures", "algorithms", name);
    const files: Record<string, string> = {};
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(full);
            else files[path.relative(root, full)] = fs.readFileSync(full, "utf8");
        }
    };
    walk(root);
    return files;
}

/** Lists the algorithm's builds until one of `sha` appears and is finished; returns it with its logs. */
export async function waitForBuild(
    server: { url: string },
    owner: string,
    algo: string,
    sha: string,
    key: string,
    timeoutMs = 60_000,
) {
    const until = Date.now() + timeoutMs;
    for (;;) {
        const list = await call(server, "GET", `/v1/algorithms/${owner}/${algo}/builds?limit=10`, { key });
        assert.strictEqual(list.status, 200, list.text);
        const build = list.json.results.find((b: any) => b.commit_sha === sha);
        if (build && build.status !== "in-progress") {
            const logs = await call(server, "GET", `/v1/algorithms/${owner}/${algo}/builds/${build.build_id}/logs`, {
                key,
            });
            assert.strictEqual(logs.status, 200, logs.text);
            return { ...build, logs: logs.json.logs as string };
        }
        if (Date.now() > until) assert.fail(`no finished build of ${sha} after ${timeoutMs} ms: ${list.text}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/**
 * Creates `owner/name` (settings merged into the test defaults), pushes the fixture algorithm `fixture` (whose
 * entry module is src/<name>.py) over the template, and waits for its build; returns the pushed sha.
 */
export async function deployFixture(
    server: { url: string },
    key: string,
    owner: string,
    name: string,
    fixture = name,
    settings: Record<string, unknown> = {},
): Promise<string> {
    const created = await call(server, "POST", `/v1/algorithms/${owner}`, { key, json: createBody(name, settings) });
    assert.strictEqual(created.status, 201, created.text);
    const work = await clone(server, owner, name, key);
    try {
        const sha = await commit(work, fixtureFiles(fixture), `Deploy ${fixture}`);
        await gitOk(work, "push", "--quiet", "origin", "master");
        const build = await waitForBuild(server, owner, name, sha, key);
        assert.strictEqual(build.status, "succeeded", build.logs);
        return sha;
    } finally {
        fs.rmSync(path.dirname(work), { recursive: true, force: true });
    }
}
