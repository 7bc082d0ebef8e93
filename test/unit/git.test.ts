// Deterministic commits and tree hashing against real local repositories (git CLI, no server): the same tree on
// the same parent gives the same commit, a repeated push is a no-op, and the tree hash computed from local files
// equals the one computed from the repository.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    COMMIT_IDENTITY,
    defaultGitAddress,
    GitRemote,
    gitRepositoryUrl,
    pushTree,
    remoteTreeSha256,
    treeSha256,
} from "../../provider/client/git";
import { mergeRequirements, modelManifest, sourceTree } from "../../provider/resources/algorithmSource";
import { repoRoot } from "../helpers/pulumi";

const HELLO = path.join(repoRoot, "test/fixtures/algorithms/Hello");
const KEY = "simUnitTestKey000000000000042";
/** Local repositories need no retries; the remote test below tries twice. */
const BUDGET = { timeoutMs: 10_000, maxAttempts: 1, baseDelayMs: 1 };

/** A bare repository with one template commit on master, made the same way each time. */
function templateRepository(root: string, name: string): GitRemote {
    const dir = path.join(root, `${name}.git`);
    const env = {
        ...process.env,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@t",
        GIT_AUTHOR_DATE: "1000000000 +0000",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@t",
        GIT_COMMITTER_DATE: "1000000000 +0000",
    };
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=master", dir], { env });
    const blob = execFileSync("git", ["hash-object", "-w", "--stdin"], { cwd: dir, env, input: "template\n" })
        .toString()
        .trim();
    const tree = execFileSync("git", ["mktree"], { cwd: dir, env, input: `100644 blob ${blob}\tREADME\n` })
        .toString()
        .trim();
    const commit = execFileSync("git", ["commit-tree", tree, "-m", "template"], { cwd: dir, env }).toString().trim();
    execFileSync("git", ["update-ref", "refs/heads/master", commit], { cwd: dir, env });
    return { url: dir, user: "alice", apiKey: KEY, ...BUDGET };
}

const master = (remote: GitRemote) =>
    execFileSync("git", ["rev-parse", "master"], { cwd: remote.url }).toString().trim();

describe("git source push (unit)", () => {
    let root: string;
    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "git-unit-"));
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("pushes one deterministic commit on top of master, and a repeat is a no-op", async () => {
        const a = templateRepository(root, "a");
        const b = templateRepository(root, "b");
        const template = master(a);
        const tree = sourceTree({ source: HELLO });
        const first = await pushTree(a, tree, "pulumi-algorithmia: source x");
        assert.strictEqual(first.pushed, true);
        assert.strictEqual(master(a), first.commit);
        assert.strictEqual(
            execFileSync("git", ["rev-parse", `${first.commit}^`], { cwd: a.url })
                .toString()
                .trim(),
            template,
        );

        // The commit `git commit-tree` makes of the same tree, parent, message and identity.
        const commitTree = execFileSync(
            "git",
            ["commit-tree", `${first.commit}^{tree}`, "-p", template, "-m", "pulumi-algorithmia: source x"],
            { cwd: a.url, env: { ...process.env, ...COMMIT_IDENTITY } },
        );
        assert.strictEqual(commitTree.toString().trim(), first.commit);

        const again = await pushTree(a, tree, "pulumi-algorithmia: source x");
        assert.deepStrictEqual(again, { commit: first.commit, pushed: false });

        // Another repository with the same history gets the very same commit.
        const other = await pushTree(b, tree, "pulumi-algorithmia: source x");
        assert.strictEqual(other.commit, first.commit);
        const author = execFileSync("git", ["log", "-1", "--format=%an <%ae> %at", first.commit], { cwd: a.url })
            .toString()
            .trim();
        assert.strictEqual(author, "pulumi-algorithmia <pulumi-algorithmia@localhost> 946684800");
    });

    it("pushes a root commit to an empty repository, which has no master to fetch", async () => {
        const dir = path.join(root, "empty.git");
        execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=master", dir]);
        const remote = { url: dir, user: "alice", apiKey: KEY, ...BUDGET };
        assert.strictEqual(await remoteTreeSha256(remote), undefined);
        const first = await pushTree(remote, sourceTree({ source: HELLO }), "m");
        assert.deepStrictEqual(
            { pushed: first.pushed, master: master(remote) },
            { pushed: true, master: first.commit },
        );
        assert.strictEqual(
            execFileSync("git", ["rev-list", "--count", "master"], { cwd: dir }).toString().trim(),
            "1",
            "a root commit",
        );
        assert.strictEqual((await remoteTreeSha256(remote))?.sha256, await treeSha256(sourceTree({ source: HELLO })));
    });

    it("hashes the same tree the same way locally and in the repository; modes and contents count", async () => {
        const remote = templateRepository(root, "c");
        const src = path.join(root, "src");
        fs.cpSync(HELLO, src, { recursive: true });
        fs.writeFileSync(path.join(src, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
        fs.symlinkSync("src/Hello.py", path.join(src, "link.py"));
        // Names git must quote: a quote, a backslash, a tab, a newline, spaces and non-ASCII letters.
        const oddNames = ['say "hi".txt', "back\\slash", "tab\there", "new\nline", "ünïcödé name.md"];
        for (const name of oddNames) fs.writeFileSync(path.join(src, name), name);
        const spec = {
            source: src,
            dependencies: ["numpy==1.26.4"],
            modelFiles: { digits: { dataUri: "data://alice/m/d.joblib", sha256: "ab".repeat(32) } },
        };
        const local = await treeSha256(sourceTree(spec));
        await pushTree(remote, sourceTree(spec), "m");
        const onServer = await remoteTreeSha256(remote);
        assert.strictEqual(onServer?.sha256, local);
        assert.strictEqual(onServer?.commit, master(remote));
        const modes = execFileSync("git", ["ls-tree", "-r", "master"], { cwd: remote.url }).toString();
        assert.match(modes, /^100755 blob \w+\trun\.sh$/m);
        assert.match(modes, /^120000 blob \w+\tlink\.py$/m);
        assert.match(modes, /\tmodel-manifest\.json$/m);
        const names = execFileSync("git", ["ls-tree", "-r", "-z", "--name-only", "master"], { cwd: remote.url });
        for (const name of oddNames) assert.ok(names.toString().split("\0").includes(name), `${name} in ${names}`);

        fs.chmodSync(path.join(src, "run.sh"), 0o644);
        assert.notStrictEqual(await treeSha256(sourceTree(spec)), local, "a mode change changes the hash");
        fs.chmodSync(path.join(src, "run.sh"), 0o755);
        assert.strictEqual(await treeSha256(sourceTree(spec)), local);
        fs.writeFileSync(path.join(src, "src/Hello.py"), "def apply(input):\n    return 1\n");
        assert.notStrictEqual(await treeSha256(sourceTree(spec)), local, "a content change changes the hash");
    });

    it("merges dependencies into requirements.txt and writes a stable model manifest", () => {
        assert.strictEqual(
            mergeRequirements("algorithmia\n# pinned\nNumPy==1.0\n", ["numpy==1.26.4", "scikit_learn>=1.3"]),
            "algorithmia\n# pinned\nnumpy==1.26.4\nscikit_learn>=1.3\n",
        );
        const manifest = modelManifest({
            z: { dataUri: "data://a/b/z", sha256: "1" },
            a: { sha256: "2", dataUri: "data://a/b/a" } as any,
        });
        assert.strictEqual(
            manifest,
            '{\n  "a": {\n    "dataUri": "data://a/b/a",\n    "sha256": "2"\n  },\n  "z": {\n    "dataUri": "data://a/b/z",\n    "sha256": "1"\n  }\n}\n',
        );
    });

    it("never shows the key when git fails", async () => {
        const remote = {
            url: "http://127.0.0.1:9/git/alice/nothing.git",
            user: "alice",
            apiKey: KEY,
            ...BUDGET,
            maxAttempts: 2,
        };
        await assert.rejects(pushTree(remote, sourceTree({ source: HELLO }), "m"), (err: Error) => {
            assert.ok(!err.message.includes(KEY), err.message);
            assert.ok(!err.message.includes(Buffer.from(`alice:${KEY}`).toString("base64")), err.message);
            assert.match(err.message, /git fetch failed/);
            return true;
        });
    });

    it("maps a cluster's api host to its git host, as `algo clone` does; any other address serves git itself", () => {
        assert.strictEqual(defaultGitAddress("https://api.example.test"), "https://git.example.test");
        assert.strictEqual(defaultGitAddress("https://api.example.test:8443/"), "https://git.example.test:8443");
        assert.strictEqual(defaultGitAddress("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert.strictEqual(defaultGitAddress("https://algorithmia.example.test"), "https://algorithmia.example.test");
        assert.strictEqual(
            gitRepositoryUrl("https://git.example.test/", "alice", "Hello"),
            "https://git.example.test/git/alice/Hello.git",
        );
        assert.strictEqual(
            gitRepositoryUrl("http://127.0.0.1:8080", "team", "Hello"),
            "http://127.0.0.1:8080/git/team/Hello.git",
        );
    });
});
