// The provider's source path against the real algorithmia-local, without the engine: a tree pushed by the git CLI
// as a deterministic commit, the build that push starts, the tail of a failed build's log, publishing the latest
// build, and the same tree (sourceSha256) on two servers whose commits differ, as real clusters' do.
import * as assert from "assert";
import * as path from "path";
import { AlgorithmiaClient } from "../../provider/client";
import { sourceSha256, sourceTree } from "../../provider/resources/algorithmSource";
import { createBody } from "../helpers/algorithms";
import { ALICE, startTestServer, TestServer } from "../helpers/server";
import { repoRoot } from "../helpers/pulumi";

const fixture = (name: string) => path.join(repoRoot, "test/fixtures/algorithms", name);

describe("algorithm source by git (client, real server)", function () {
    let servers: TestServer[];
    let clients: AlgorithmiaClient[];

    before(async () => {
        servers = [await startTestServer(), await startTestServer()];
        clients = servers.map((s) => new AlgorithmiaClient({ apiAddress: s.url, apiKey: ALICE.key }));
    });
    after(async () => {
        for (const s of servers ?? []) await s.dispose();
    });

    it("pushes a tree and builds it: the same tree on two servers, each its own commit; a repeat pushes nothing", async () => {
        const tree = sourceTree({ source: fixture("Hello"), dependencies: ["numpy"] });
        const sha = await sourceSha256({ source: fixture("Hello"), dependencies: ["numpy"] });
        const commits: string[] = [];
        for (const client of clients) {
            await client.createAlgorithm("alice", createBody("Hello"));
            const pushed = await client.pushSource(
                "alice",
                "Hello",
                tree,
                `pulumi-algorithmia: source ${sha.slice(0, 12)}`,
            );
            assert.strictEqual(pushed.pushed, true);
            const build = await client.waitForBuild("alice", "Hello", pushed.commit, 300_000);
            assert.strictEqual(build.status, "succeeded", await client.buildLogTail("alice", "Hello", build.build_id));
            assert.deepStrictEqual(await client.sourceOnServer("alice", "Hello"), {
                commit: pushed.commit,
                sha256: sha,
            });
            commits.push(pushed.commit);
        }
        // Each cluster writes its own first commit, so the same tree is another commit there: promotion compares trees.
        assert.notStrictEqual(commits[0], commits[1]);

        const again = await clients[0].pushSource(
            "alice",
            "Hello",
            tree,
            `pulumi-algorithmia: source ${sha.slice(0, 12)}`,
        );
        assert.deepStrictEqual(again, { commit: commits[0], pushed: false });
        const builds = await clients[0].listBuilds("alice", "Hello");
        assert.strictEqual(
            builds.results.filter((b) => b.commit_sha === commits[0]).length,
            1,
            "a commit is built once",
        );

        const reply = await clients[0].callAlgorithm(`alice/Hello/${commits[0]}`, "pulumi");
        assert.strictEqual(reply.result, "hello pulumi");
    });

    it("publishes the latest successful build, sending no field that would choose one", async () => {
        const client = clients[0];
        const latest = await client.latestSuccessfulBuild("alice", "Hello");
        const published = await client.publishVersion(
            "alice",
            "Hello",
            {
                version_info: { version_type: "minor" },
                settings: { algorithm_callability: "private" },
            },
            { gitHash: latest!.commit_sha },
        );
        assert.strictEqual(published.version_info?.semantic_version, "0.1.0");
        assert.strictEqual(published.version_info?.git_hash, latest!.commit_sha);
        assert.strictEqual(
            (await client.findPublishedVersion("alice", "Hello", latest!.commit_sha))?.version_info?.semantic_version,
            "0.1.0",
        );
    });

    it("reports a failed build with the tail of its log", async () => {
        const client = clients[0];
        await client.createAlgorithm("alice", createBody("Broken"));
        const { commit } = await client.pushSource("alice", "Broken", sourceTree({ source: fixture("Broken") }), "m");
        const build = await client.waitForBuild("alice", "Broken", commit, 300_000);
        assert.strictEqual(build.status, "failed");
        const tail = await client.buildLogTail("alice", "Broken", build.build_id, 10);
        assert.match(tail, /Broken\.py/);
        assert.ok(tail.split("\n").length <= 10);
    });

    it("keeps the key out of git errors against the server", async () => {
        // A wrong key fails already when the client asks whose key it is (git takes the account name).
        const wrong = new AlgorithmiaClient({ apiAddress: servers[0].url, apiKey: "simWrongKey000000000000000000" });
        await assert.rejects(
            wrong.pushSource("alice", "Hello", sourceTree({ source: fixture("Hello") }), "m"),
            (err: Error) => {
                assert.ok(!err.message.includes("simWrongKey"), err.message);
                assert.match(err.message, /returned 401/);
                return true;
            },
        );
        // A valid key that git refuses: another user's repository.
        await assert.rejects(
            clients[0].pushSource("bob", "Hello", sourceTree({ source: fixture("Hello") }), "m"),
            (err: Error) => {
                assert.ok(!err.message.includes(ALICE.key), err.message);
                assert.ok(!err.message.includes(Buffer.from(`alice:${ALICE.key}`).toString("base64")), err.message);
                assert.match(err.message, /git fetch failed .*403/);
                return true;
            },
        );
    });
});
