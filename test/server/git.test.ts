// Algorithm source by git (server/git.ts) and the builds pushes start (server/versions.ts), with the real git
// CLI over smart HTTP; the results are called with the official npm `algorithmia` client.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { createBody } from "../helpers/algorithms";
import { clone, commit, fixtureFiles, git, gitOk, remoteUrl, waitForBuild } from "../helpers/git";
import { npmClient } from "../helpers/npm-client";
import { ALICE, BOB, call, startTestServer, TestServer } from "../helpers/server";

const HASH = /^[0-9a-f]{40}$/;
const HELLO = 'def apply(input):\n    return "hi {}".format(input)\n';

describe("algorithmia-local: git hosting and builds", function () {
    this.timeout(60_000);
    let server: TestServer;
    let work: string;
    const alice = (method: string, route: string, json?: unknown) =>
        call(server, method, route, { key: ALICE.key, json });
    const builds = async (algo = "Hello") =>
        (await alice("GET", `/v1/algorithms/alice/${algo}/builds`)).json.results as any[];

    before(async () => {
        server = await startTestServer();
        assert.strictEqual((await alice("POST", "/v1/algorithms/alice", createBody("Hello"))).status, 201);
        work = await clone(server, "alice", "Hello", ALICE.key);
    });
    after(async () => {
        await server.dispose();
        fs.rmSync(path.dirname(work), { recursive: true, force: true });
    });

    describe("repositories", () => {
        it("start from the Python 3 template: algorithmia.conf, requirements.txt, src/<name>.py with apply, src/__init__.py", async () => {
            const files = (await gitOk(work, "ls-files")).split("\n").sort();
            assert.deepStrictEqual(files, ["algorithmia.conf", "requirements.txt", "src/Hello.py", "src/__init__.py"]);
            assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(work, "algorithmia.conf"), "utf8")), {
                username: "alice",
                algoname: "Hello",
                language: "python3-1",
            });
            assert.match(
                fs.readFileSync(path.join(work, "src/Hello.py"), "utf8"),
                /^def apply\(input\):\n {4}return "hello \{\}"\.format\(input\)/,
            );
            const [author, committer, date] = (
                await gitOk(work, "log", "-1", "--format=%an <%ae>%n%cn <%ce>%n%aI")
            ).split("\n");
            assert.strictEqual(author, "Algorithmia <noreply@algorithmia.com>");
            assert.strictEqual(committer, "Algorithmia <noreply@algorithmia.com>");
            assert.ok(Math.abs(Date.parse(date) - Date.now()) < 10 * 60_000, `written at creation, not ${date}`);
            assert.strictEqual(
                await gitOk(work, "log", "-1", "--format=%B"),
                `Initial commit\n\nCluster: ${server.repos.clusterId}`,
            );
            assert.strictEqual(await gitOk(work, "rev-parse", "--abbrev-ref", "HEAD"), "master");
        });

        it("get a first commit of this cluster's own: another server, or a delete and create, gives another sha", async () => {
            // As on a real cluster: nothing may count on two clusters sharing git hashes (promotion compares trees).
            const head = await gitOk(work, "rev-parse", "HEAD");
            const tree = await gitOk(work, "rev-parse", "HEAD^{tree}");
            const other = await startTestServer();
            try {
                assert.notStrictEqual(other.repos.clusterId, server.repos.clusterId);
                assert.strictEqual(
                    (await call(other, "POST", "/v1/algorithms/alice", { key: ALICE.key, json: createBody("Hello") }))
                        .status,
                    201,
                );
                const otherHead = (await other.repos.head("alice", "Hello"))!;
                assert.notStrictEqual(otherHead, head, "another cluster, another first commit");
                const otherTree = await gitOk(other.repos.dir("alice", "Hello"), "rev-parse", `${otherHead}^{tree}`);
                assert.strictEqual(otherTree, tree, "of the same template tree");
                assert.strictEqual(
                    (await call(other, "DELETE", "/v1/algorithms/alice/Hello", { key: ALICE.key })).status,
                    204,
                );
                assert.strictEqual(fs.existsSync(other.repos.dir("alice", "Hello")), false);
                await new Promise((resolve) => setTimeout(resolve, 1100)); // the next second: a new creation time
                assert.strictEqual(
                    (await call(other, "POST", "/v1/algorithms/alice", { key: ALICE.key, json: createBody("Hello") }))
                        .status,
                    201,
                );
                assert.notStrictEqual(
                    await other.repos.head("alice", "Hello"),
                    otherHead,
                    "a new algorithm, a new first commit",
                );
                // The cluster id is kept: a restart is the same cluster.
                const restarted = await other.restart();
                other.dispose = restarted.dispose;
                assert.strictEqual(restarted.repos.clusterId, other.repos.clusterId);
            } finally {
                await other.dispose();
            }
        });

        it("need the API key: wrong keys and non-owners are refused, Authorization: Simple via http.extraHeader works", async () => {
            const parent = path.dirname(work);
            const wrong = await git(
                parent,
                "clone",
                "--quiet",
                remoteUrl(server, "alice", "Hello", { name: "alice", key: "simNotAKey" }),
                "wrong",
            );
            assert.notStrictEqual(wrong.code, 0);
            assert.match(wrong.stderr, /Authentication failed|401/);
            const bob = await git(parent, "clone", "--quiet", remoteUrl(server, "alice", "Hello", BOB), "bob");
            assert.notStrictEqual(bob.code, 0);
            assert.match(bob.stderr, /403/);
            const missing = await git(parent, "clone", "--quiet", remoteUrl(server, "alice", "Nope", ALICE), "missing");
            assert.notStrictEqual(missing.code, 0);
            assert.match(missing.stderr, /404|not found/);
            await gitOk(
                parent,
                "-c",
                `http.extraHeader=Authorization: Simple ${ALICE.key}`,
                "clone",
                "--quiet",
                `${server.url}/git/alice/Hello.git`,
                "simple",
            );
            assert.ok(fs.existsSync(path.join(parent, "simple", "src", "Hello.py")));
        });

        it("take the key's own account name as the user name, also for an organization's repository", async () => {
            const infoRefs = (owner: string, user: string, key: string) =>
                call(server, "GET", `/git/${owner}/Hello.git/info/refs?service=git-upload-pack`, {
                    auth: `Basic ${Buffer.from(`${user}:${key}`).toString("base64")}`,
                });
            assert.strictEqual((await alice("POST", "/v1/algorithms/team", createBody("Hello"))).status, 201);
            assert.strictEqual((await infoRefs("alice", "alice", ALICE.key)).status, 200);
            assert.strictEqual(
                (await infoRefs("team", "alice", ALICE.key)).status,
                200,
                "a member reaches the org's repository as herself",
            );
            const wrongKey = await infoRefs("alice", "alice", "simNotAKey");
            assert.strictEqual(wrongKey.status, 401);
            // A valid key under another name is refused exactly like a wrong key: the reply tells nothing more.
            for (const user of ["team", "bob", "apikey", "Alice", ""]) {
                for (const owner of ["alice", "team"]) {
                    const refused = await infoRefs(owner, user, ALICE.key);
                    assert.strictEqual(refused.status, 401, `${user} on ${owner}: ${refused.text}`);
                    assert.deepStrictEqual(refused.json, wrongKey.json);
                    assert.strictEqual(
                        refused.headers.get("www-authenticate"),
                        wrongKey.headers.get("www-authenticate"),
                    );
                }
            }
            const parent = path.dirname(work);
            const asOrg = await git(
                parent,
                "clone",
                "--quiet",
                remoteUrl(server, "team", "Hello", { name: "team", key: ALICE.key }),
                "as-org",
            );
            assert.notStrictEqual(asOrg.code, 0);
            assert.match(asOrg.stderr, /Authentication failed|401/);
            await gitOk(parent, "clone", "--quiet", remoteUrl(server, "team", "Hello", ALICE), "team-hello");
            assert.ok(fs.existsSync(path.join(parent, "team-hello", "src", "Hello.py")));
        });
    });

    describe("push, build, call, publish", () => {
        let sha: string;
        let second: string;
        before(async () => {
            second = await clone(server, "alice", "Hello", ALICE.key);
        });
        after(() => fs.rmSync(path.dirname(second), { recursive: true, force: true }));

        it("builds the pushed head of master: in-progress at once, then succeeded, with a log of each step", async () => {
            sha = await commit(work, { "src/Hello.py": HELLO }, "Say hi");
            await gitOk(work, "push", "--quiet", "origin", "master");
            // The build exists as soon as the push has returned.
            const listed = (await builds()).find((b) => b.commit_sha === sha);
            assert.ok(listed, "the push's build is listed right after the push");
            assert.ok(["in-progress", "succeeded"].includes(listed.status), listed.status);
            const build = await waitForBuild(server, "alice", "Hello", sha, ALICE.key);
            assert.strictEqual(build.status, "succeeded", build.logs);
            assert.ok(build.finished_at);
            for (const step of [
                `at commit ${sha}`,
                "Checking requirements.txt",
                "Compiling src/Hello.py",
                "found apply(input)",
                "Build succeeded",
            ]) {
                assert.ok(build.logs.includes(step), `log lacks "${step}":\n${build.logs}`);
            }
            const one = await alice("GET", `/v1/algorithms/alice/Hello/builds/${build.build_id}`);
            assert.strictEqual(one.json.status, "succeeded");
        });

        it("calls the build by git hash (owner only) with the npm client", async () => {
            const res = await npmClient(ALICE.key, server.url).pipe(`alice/Hello/${sha}`, "world");
            assert.strictEqual(res.status, 200, JSON.stringify(res));
            assert.strictEqual(res.get(), "hi world");
            assert.strictEqual(res.metadata!.content_type, "text");
            const bob = await npmClient(BOB.key, server.url).pipe(`alice/Hello/${sha}`, "world");
            assert.strictEqual(bob.status, 403);
            assert.throws(() => bob.get(), /owner/);
        });

        it("publishes the latest successful build and calls it by version", async () => {
            const res = await alice("POST", "/v1/algorithms/alice/Hello/versions", {
                settings: { algorithm_callability: "public" },
                version_info: { version_type: "minor" },
            });
            assert.strictEqual(res.status, 200, res.text);
            assert.strictEqual(res.json.version_info.semantic_version, "0.1.0");
            assert.strictEqual(res.json.version_info.git_hash, sha);
            const bob = npmClient(BOB.key, server.url);
            for (const version of ["/0.1.0", "/0.1", "/0", "", "/latest"]) {
                const called = await bob.pipe(`alice/Hello${version}`, "bob");
                assert.strictEqual(called.status, 200, `${version}: ${JSON.stringify(called)}`);
                assert.strictEqual(called.get(), "hi bob");
            }
        });

        it("starts no second build for a commit that was built already", async () => {
            await gitOk(work, "checkout", "--quiet", "-b", "feature");
            const feature = await commit(work, { "README.md": "# Hello\n" }, "Docs");
            await gitOk(work, "push", "--quiet", "origin", "feature");
            assert.strictEqual(
                (await builds()).filter((b) => b.commit_sha === feature).length,
                0,
                "pushes to other branches build nothing",
            );
            const compiled = await alice("POST", "/v1/algorithms/alice/Hello/compile", { commitSha: feature });
            assert.strictEqual(compiled.json.build.status, "succeeded", compiled.text);
            await gitOk(work, "checkout", "--quiet", "master");
            await gitOk(work, "merge", "--quiet", "--ff-only", "feature");
            await gitOk(work, "push", "--quiet", "origin", "master");
            assert.strictEqual(await server.repos.head("alice", "Hello"), feature);
            assert.strictEqual((await builds()).filter((b) => b.commit_sha === feature).length, 1);
        });

        it("compiles the head of master synchronously and returns its git_hash", async () => {
            const res = await alice("POST", "/v1/algorithms/alice/Hello/compile", {});
            assert.strictEqual(res.status, 200, res.text);
            assert.strictEqual(res.json.version_info.git_hash, await gitOk(work, "rev-parse", "HEAD"));
            assert.strictEqual(res.json.build.status, "succeeded");
            assert.match(res.json.compilation.output, /Build succeeded/);
        });

        it("refuses history rewrites and branch deletion", async () => {
            const before = await server.repos.head("alice", "Hello");
            const count = (await builds()).length;
            await gitOk(work, "reset", "--quiet", "--hard", "HEAD~1");
            await commit(work, { "src/Hello.py": 'def apply(input):\n    return "rewritten"\n' }, "Rewrite");
            const forced = await git(work, "push", "--force", "origin", "master");
            assert.notStrictEqual(forced.code, 0);
            assert.match(forced.stderr, /non-fast-forward|denied|rejected/);
            const deleted = await git(work, "push", "origin", ":master");
            assert.notStrictEqual(deleted.code, 0);
            assert.match(deleted.stderr, /deletion prohibited|denied|rejected/);
            assert.strictEqual(await server.repos.head("alice", "Hello"), before);
            assert.strictEqual((await builds()).length, count);
            await gitOk(work, "reset", "--quiet", "--hard", before!);
        });

        it("fails the build of broken code, with the file, line and error in its log; the failed hash cannot be called", async () => {
            const broken = fixtureFiles("Broken")["src/Broken.py"];
            const bad = await commit(
                work,
                { "src/Hello.py": broken, "requirements.txt": "algorithmia\nnot a requirement!\n" },
                "Break it",
            );
            await gitOk(work, "push", "--quiet", "origin", "master");
            const build = await waitForBuild(server, "alice", "Hello", bad, ALICE.key);
            assert.strictEqual(build.status, "failed");
            assert.match(build.logs, /src\/Hello\.py:5:/);
            assert.match(build.logs, /requirements\.txt/);
            assert.match(build.logs, /Build failed: /);
            const called = await call(server, "POST", `/v1/algo/alice/Hello/${bad}`, { key: ALICE.key, json: "x" });
            assert.strictEqual(called.status, 404, called.text);
            assert.match(called.json.error.message, /failed/);
            // Publishing means the latest *successful* build: naming the failed one does not publish it.
            const publish = await alice("POST", "/v1/algorithms/alice/Hello/versions", {
                version_info: { version_type: "revision", git_hash: bad },
            });
            assert.strictEqual(publish.status, 200, publish.text);
            assert.notStrictEqual(publish.json.version_info.git_hash, bad);
            assert.strictEqual(
                (await alice("GET", `/v1/algorithms/alice/Hello/versions/${bad}`)).json.version_info.semantic_version,
                undefined,
            );
            assert.ok(HASH.test(bad));
        });

        it("serves fetches of what others pushed", async () => {
            await gitOk(second, "fetch", "--quiet", "origin");
            assert.strictEqual(
                await gitOk(second, "rev-parse", "origin/master"),
                await server.repos.head("alice", "Hello"),
            );
            assert.strictEqual(
                await gitOk(second, "rev-parse", "origin/feature"),
                await gitOk(work, "rev-parse", "feature"),
            );
        });

        it("lists the commit log of master, newest first, with inclusive since/until", async () => {
            const shas = (await gitOk(work, "log", "--format=%H", "origin/master")).split("\n");
            const all = await alice("GET", "/v1/algorithms/alice/Hello/log");
            assert.strictEqual(all.status, 200, all.text);
            assert.deepStrictEqual(
                all.json.commits.map((c: any) => c.id),
                shas,
            );
            const first = all.json.commits[all.json.commits.length - 1];
            assert.deepStrictEqual(first, {
                id: shas[shas.length - 1],
                short_message: "Initial commit",
                message: `Initial commit\n\nCluster: ${server.repos.clusterId}`,
                author: "Algorithmia <noreply@algorithmia.com>",
            });
            const some = await alice("GET", `/v1/algorithms/alice/Hello/log?since=${shas[2]}&until=${shas[1]}`);
            assert.deepStrictEqual(
                some.json.commits.map((c: any) => c.id),
                [shas[1], shas[2]],
            );
            const bad = await alice("GET", `/v1/algorithms/alice/Hello/log?since=${"a".repeat(40)}`);
            assert.strictEqual(bad.status, 400, bad.text);
            assert.match(bad.json.error.message, /since must be the full sha of a commit/);
            assert.strictEqual(
                (await call(server, "GET", "/v1/algorithms/alice/Hello/log", { key: BOB.key })).status,
                403,
            );
        });
    });
});
