// Route tests of compile, builds, publishing and versions (server/versions.ts) over real HTTP.
import * as assert from "assert";
import { algorithmByName } from "../../server/algorithms";
import { ALICE, BOB, call, startTestServer, TestServer } from "../helpers/server";
import { createBody } from "../helpers/algorithms";
import { clone, commit, gitOk, waitForBuild } from "../helpers/git";

const HASH = /^[0-9a-f]{40}$/;

describe("algorithmia-local: builds and versions", function () {
    this.timeout(30_000);
    let server: TestServer;
    const alice = (method: string, route: string, json?: unknown) =>
        call(server, method, route, { key: ALICE.key, json });
    const bob = (method: string, route: string, json?: unknown) => call(server, method, route, { key: BOB.key, json });
    const create = async (name: string, owner = "alice") => {
        const res = await alice("POST", `/v1/algorithms/${owner}`, createBody(name));
        assert.strictEqual(res.status, 201, res.text);
        return res.json;
    };
    const compile = async (path: string) => {
        const res = await alice("POST", `/v1/algorithms/${path}/compile`, {});
        assert.strictEqual(res.status, 200, res.text);
        return res.json;
    };
    /** Pushes a new commit to master and waits for the build the push starts (each version its own git hash). */
    const pushChange = async (owner: string, algo: string) => {
        const work = await clone(server, owner, algo, ALICE.key);
        const sha = await commit(work, { "CHANGES.md": `change ${Date.now()}\n` });
        await gitOk(work, "push", "--quiet", "origin", "master");
        return waitForBuild(server, owner, algo, sha, ALICE.key);
    };
    const publish = (path: string, body: unknown, route = "versions") =>
        alice("POST", `/v1/algorithms/${path}/${route}`, body);
    const expectError = (
        res: { status: number; json: any; text: string },
        status: number,
        code: number,
        pattern?: RegExp,
    ) => {
        assert.strictEqual(res.status, status, res.text);
        assert.strictEqual(res.json.error.code, code, res.text);
        if (pattern) assert.match(res.json.error.message, pattern);
    };

    before(async () => {
        server = await startTestServer();
    });
    after(async () => server.dispose());

    describe("compile and builds", () => {
        it("builds synchronously: a new git hash, a succeeded build, its log", async () => {
            await create("algo");
            const res = await compile("alice/algo");
            assert.match(res.version_info.git_hash, HASH);
            assert.match(res.version_info.version_uuid, /^[0-9a-f-]{36}$/);
            assert.strictEqual(res.compilation.successful, true);
            assert.match(res.compilation.output, /Compiling src\/algo\.py/);
            assert.match(res.compilation.output, /found apply\(input\)/);
            assert.match(res.compilation.output, /Build succeeded/);
            assert.strictEqual(res.build.status, "succeeded");
            assert.strictEqual(res.build.commit_sha, res.version_info.git_hash);
            assert.strictEqual(res.build.resource_type, "algorithm_build");
            assert.ok(res.self_link.endsWith(`/v1/algorithms/alice/algo/versions/${res.version_info.git_hash}`));
            assert.deepStrictEqual(Object.keys(res).sort(), [
                "build",
                "compilation",
                "details",
                "id",
                "name",
                "resource_type",
                "self_link",
                "settings",
                "source",
                "version_info",
            ]);
            // The algorithm object now reflects the build.
            const got = await alice("GET", "/v1/algorithms/alice/algo");
            assert.strictEqual(got.json.version_info.git_hash, res.version_info.git_hash);
            assert.strictEqual(got.json.version_info.semantic_version, undefined);
        });

        it("builds the head of master again on every compile (a new build, the same hash), accepts no body, by UUID", async () => {
            const first = await compile("alice/algo");
            const id = first.id;
            const res = await call(server, "POST", `/v1/algorithms/${id}/compile`, { key: ALICE.key });
            assert.strictEqual(res.status, 200, res.text);
            assert.strictEqual(res.json.version_info.git_hash, first.version_info.git_hash);
            assert.notStrictEqual(res.json.build.build_id, first.build.build_id);
            assert.notStrictEqual(res.json.version_info.version_uuid, first.version_info.version_uuid);
            const empty = await call(server, "POST", "/v1/algorithms/alice/algo/compile", {
                key: ALICE.key,
                body: "",
                headers: { "content-type": "application/json" },
            });
            assert.strictEqual(empty.status, 200, empty.text);
        });

        it("lists builds newest first and pages with limit/marker", async () => {
            const all = await alice("GET", "/v1/algorithms/alice/algo/builds");
            assert.strictEqual(all.json.results.length, 4);
            assert.strictEqual(all.json.marker, null);
            assert.strictEqual(all.json.next_link, null);
            const started = all.json.results.map((b: any) => b.started_at);
            assert.deepStrictEqual([...started].sort().reverse(), started);

            const first = await alice("GET", "/v1/algorithms/alice/algo/builds?limit=3");
            assert.strictEqual(first.json.results.length, 3);
            assert.ok(first.json.marker);
            assert.match(first.json.next_link, /limit=3&marker=/);
            const next = await alice("GET", first.json.next_link.slice(server.url.length));
            assert.strictEqual(next.json.results.length, 1);
            assert.strictEqual(next.json.marker, null);
            assert.deepStrictEqual(
                [...first.json.results, ...next.json.results].map((b: any) => b.build_id),
                all.json.results.map((b: any) => b.build_id),
            );

            expectError(await alice("GET", "/v1/algorithms/alice/algo/builds?marker=garbage"), 400, 5002);
            for (const limit of ["0", "-1", "abc", "100000"]) {
                expectError(await alice("GET", `/v1/algorithms/alice/algo/builds?limit=${limit}`), 400, 5003);
            }
        });

        it("gets one build and its logs, by name and by UUID", async () => {
            const { json } = await alice("GET", "/v1/algorithms/alice/algo/builds?limit=1");
            const build = json.results[0];
            const one = await alice("GET", `/v1/algorithms/alice/algo/builds/${build.build_id}`);
            assert.deepStrictEqual(one.json, build);
            for (const key of ["build_id", "status", "commit_sha", "started_at", "finished_at", "resource_type"])
                assert.ok(key in one.json, key);
            const logs = await alice("GET", `/v1/algorithms/alice/algo/builds/${build.build_id}/logs`);
            assert.deepStrictEqual(Object.keys(logs.json), ["logs"]);
            assert.match(logs.json.logs, /Build succeeded/);
            const id = (await alice("GET", "/v1/algorithms/alice/algo")).json.id;
            assert.deepStrictEqual((await alice("GET", `/v1/algorithms/${id}/builds/${build.build_id}`)).json, build);
            assert.strictEqual((await alice("GET", `/v1/algorithms/${id}/builds`)).json.results.length, 4);
            expectError(
                await alice("GET", "/v1/algorithms/alice/algo/builds/00000000-0000-4000-8000-000000000000"),
                404,
                1010,
            );
            expectError(await bob("GET", "/v1/algorithms/alice/algo/builds"), 403, 2001);
        });

        it("fails a build of broken code with its reason in the log", async () => {
            // A commit on another branch: pushes there start no build, compile builds it by commitSha.
            const work = await clone(server, "alice", "algo", ALICE.key);
            await gitOk(work, "checkout", "--quiet", "-b", "broken");
            const sha = await commit(work, { "src/algo.py": "def apply(input)\n    return 1\n" }, "broken");
            await gitOk(work, "push", "--quiet", "origin", "broken");
            const res = await alice("POST", "/v1/algorithms/alice/algo/compile", { commitSha: sha });
            assert.strictEqual(res.status, 200, res.text);
            assert.strictEqual(res.json.compilation.successful, false);
            assert.strictEqual(res.json.build.status, "failed");
            assert.match(res.json.compilation.output, /src\/algo\.py:1:.*(SyntaxError|invalid syntax|expected ':')/);
            const version = await alice("GET", `/v1/algorithms/alice/algo/versions/${sha}`);
            assert.strictEqual(version.json.compilation.successful, false);
            assert.match(version.json.compilation.output, /Build failed/);
            expectError(
                await alice("POST", "/v1/algorithms/alice/algo/compile", { commitSha: "f".repeat(40) }),
                400,
                2015,
                /commitSha/,
            );
        });

        it("fails builds of a good tree under a BUILD fail fault, and builds the same commit again after it", async () => {
            server.faults.set("BUILD alice/algo=fail:1,max:1");
            try {
                const failed = await compile("alice/algo");
                assert.strictEqual(failed.build.status, "failed");
                assert.match(
                    failed.compilation.output,
                    /the build machine stopped before the build finished \(injected fault\)/,
                );
                const again = await compile("alice/algo");
                assert.deepStrictEqual(
                    [again.build.status, again.version_info.git_hash],
                    ["succeeded", failed.version_info.git_hash],
                );
                assert.strictEqual(server.faults.counts().injected.fail, 1);
            } finally {
                server.faults.clear();
            }
        });

        it("answers 404 for logs while a build is in progress, and fails it if the server dies", async () => {
            const algo = algorithmByName(server.store, "alice", "algo")!;
            const head = await server.repos.head("alice", "algo");
            server.store.db
                .prepare(
                    `INSERT INTO algorithm_builds (build_id, algorithm_id, commit_sha, status, started_at)
                VALUES ('11111111-1111-4111-8111-111111111111', ?, ?, 'in-progress', ?)`,
                )
                .run(algo.id, head, new Date().toISOString());
            expectError(
                await alice("GET", "/v1/algorithms/alice/algo/builds/11111111-1111-4111-8111-111111111111/logs"),
                404,
                1011,
            );
            server = await server.restart();
            const build = await alice("GET", "/v1/algorithms/alice/algo/builds/11111111-1111-4111-8111-111111111111");
            assert.strictEqual(build.json.status, "failed");
            assert.match(
                (await alice("GET", "/v1/algorithms/alice/algo/builds/11111111-1111-4111-8111-111111111111/logs")).json
                    .logs,
                /interrupted/,
            );
        });
    });

    describe("publish", () => {
        it("refuses to publish without a successful build", async () => {
            await create("unbuilt");
            expectError(
                await publish("alice/unbuilt", { version_info: { version_type: "minor" } }),
                400,
                1010,
                /compile it first/,
            );
        });

        it("publishes the latest successful build as 0.1.0 and applies settings and details", async () => {
            const built = await compile("alice/algo");
            const res = await publish("alice/algo", {
                details: { label: "Published" },
                settings: { algorithm_callability: "private", royalty_microcredits: 0 },
                version_info: { version_type: "minor", release_notes: "first", sample_input: "world" },
            });
            assert.strictEqual(res.status, 200, res.text);
            assert.strictEqual(res.json.version_info.semantic_version, "0.1.0");
            assert.strictEqual(res.json.version_info.git_hash, built.version_info.git_hash);
            assert.strictEqual(res.json.version_info.release_notes, "first");
            assert.strictEqual(res.json.version_info.sample_input, "world");
            assert.strictEqual(res.json.build.version_info.semantic_version, "0.1.0");
            assert.strictEqual(res.json.details.label, "Published");
            const algo = await alice("GET", "/v1/algorithms/alice/algo");
            assert.strictEqual(algo.json.details.label, "Published");
            assert.strictEqual(algo.json.version_info.semantic_version, "0.1.0");
            assert.strictEqual(algo.json.settings.algorithm_callability, "private");
        });

        it("publishes the latest successful build whatever version_info.git_hash says, unless the legacy option is on", async () => {
            await create("picked");
            const older = (await pushChange("alice", "picked")).commit_sha;
            const latest = (await pushChange("alice", "picked")).commit_sha;
            // As on Algorithmia: the field does not choose the build, so a client that sends an older hash gets the latest.
            const res = await publish("alice/picked", { version_info: { version_type: "minor", git_hash: older } });
            assert.strictEqual(res.status, 200, res.text);
            assert.strictEqual(res.json.version_info.git_hash, latest);

            const legacy = await startTestServer({ legacyGitHashPublish: true });
            try {
                assert.strictEqual(
                    (await call(legacy, "POST", "/v1/algorithms/alice", { key: ALICE.key, json: createBody("legacy") }))
                        .status,
                    201,
                );
                const first = (
                    await call(legacy, "POST", "/v1/algorithms/alice/legacy/compile", { key: ALICE.key, json: {} })
                ).json.version_info.git_hash;
                const refused = await call(legacy, "POST", "/v1/algorithms/alice/legacy/versions", {
                    key: ALICE.key,
                    json: { version_info: { version_type: "minor", git_hash: "f".repeat(40) } },
                });
                expectError(
                    refused,
                    400,
                    2015,
                    /Only the latest successful build .* can be published, not version_info\.git_hash/,
                );
                const named = await call(legacy, "POST", "/v1/algorithms/alice/legacy/versions", {
                    key: ALICE.key,
                    json: { version_info: { version_type: "minor", git_hash: first } },
                });
                assert.strictEqual(named.json.version_info.semantic_version, "0.1.0", named.text);
            } finally {
                await legacy.dispose();
            }
        });

        it("refuses to publish the same build twice with code 1007", async () => {
            expectError(
                await publish("alice/algo", { version_info: { version_type: "minor" } }),
                400,
                1007,
                /compile again/,
            );
        });

        it("numbers per version_type, with its aliases, on /versions and /version and by UUID", async () => {
            const id = (await alice("GET", "/v1/algorithms/alice/algo")).json.id;
            const steps: [unknown, string, string][] = [
                [{ version_type: "revision" }, "alice/algo", "0.1.1"],
                [{ version_type: "patch" }, id, "0.1.2"],
                [{ type: "minor" }, "alice/algo", "0.2.0"],
                [{ version_type: "major" }, id, "1.0.0"],
                [{}, "alice/algo", "1.1.0"],
            ];
            let route = "versions";
            for (const [versionInfo, path, expected] of steps) {
                await compile(path);
                route = route === "versions" ? "version" : "versions";
                const res = await publish(path, { version_info: versionInfo }, route);
                assert.strictEqual(res.status, 200, res.text);
                assert.strictEqual(res.json.version_info.semantic_version, expected, JSON.stringify(versionInfo));
            }
            await compile("alice/algo");
            expectError(
                await publish("alice/algo", { version_info: { version_type: "huge" } }),
                400,
                2015,
                /version_info\.version_type/,
            );
        });

        it("starts at 1.0.0 for a first major and 0.0.1 for a first revision", async () => {
            await create("firstmajor");
            await compile("alice/firstmajor");
            assert.strictEqual(
                (await publish("alice/firstmajor", { version_info: { version_type: "major" } })).json.version_info
                    .semantic_version,
                "1.0.0",
            );
            await create("firstrev");
            await compile("alice/firstrev");
            assert.strictEqual(
                (await publish("alice/firstrev", { version_info: { version_type: "revision" } })).json.version_info
                    .semantic_version,
                "0.0.1",
            );
        });

        it("enforces the public/private and permission rules between versions", async () => {
            await create("rules");
            await compile("alice/rules");
            const first = await publish("alice/rules", {
                settings: { algorithm_callability: "private" },
                version_info: { version_type: "minor" },
            });
            assert.strictEqual(first.status, 200, first.text);
            await pushChange("alice", "rules");
            for (const type of ["revision", "minor"]) {
                expectError(
                    await publish("alice/rules", {
                        settings: { algorithm_callability: "public" },
                        version_info: { version_type: type },
                    }),
                    400,
                    2015,
                    /cannot change settings\.algorithm_callability.*major/,
                );
                expectError(
                    await publish("alice/rules", {
                        settings: { network_access: "full" },
                        version_info: { version_type: type },
                    }),
                    400,
                    2015,
                    /settings\.network_access/,
                );
                expectError(
                    await publish("alice/rules", {
                        settings: { pipeline_enabled: true },
                        version_info: { version_type: type },
                    }),
                    400,
                    2015,
                    /settings\.pipeline_enabled/,
                );
            }
            expectError(
                await publish("alice/rules", {
                    settings: { royalty_microcredits: 5 },
                    version_info: { version_type: "revision" },
                }),
                400,
                2015,
                /royalty/,
            );
            expectError(
                await publish("alice/rules", {
                    settings: { royalty_microcredits: 5 },
                    version_info: { version_type: "minor" },
                }),
                400,
                2015,
                /free algorithm cannot start charging/,
            );
            const major = await publish("alice/rules", {
                settings: { algorithm_callability: "public", royalty_microcredits: 5, network_access: "full" },
                version_info: { version_type: "major" },
            });
            assert.strictEqual(major.status, 200, major.text);
            assert.strictEqual(major.json.settings.algorithm_callability, "public");
            assert.strictEqual(
                (await alice("GET", "/v1/algorithms/alice/rules")).json.settings.algorithm_callability,
                "public",
            );
            assert.strictEqual(
                (await alice("GET", "/v1/algorithms/alice/rules")).json.settings.royalty_microcredits,
                5,
            );
            // A minor may change a non-zero price.
            await pushChange("alice", "rules");
            const minor = await publish("alice/rules", {
                settings: { royalty_microcredits: 7 },
                version_info: { version_type: "minor" },
            });
            assert.strictEqual(minor.status, 200, minor.text);
            assert.strictEqual(minor.json.version_info.semantic_version, "1.1.0");
            // Publish-time settings are validated like any others.
            await pushChange("alice", "rules");
            expectError(
                await publish("alice/rules", {
                    settings: { algorithm_callability: "everyone" },
                    version_info: { version_type: "major" },
                }),
                400,
                2015,
                /settings\.algorithm_callability/,
            );
            expectError(
                await publish("alice/rules", { settings: { license: "mit" }, version_info: { version_type: "major" } }),
                400,
                2015,
                /only allowed with license "apl"/,
            );
        });

        it("refuses to delete an algorithm with a public version, allows a private-only one", async () => {
            expectError(await alice("DELETE", "/v1/algorithms/alice/rules"), 400, 2015, /public published version/);
            assert.strictEqual((await alice("DELETE", "/v1/algorithms/alice/firstrev")).status, 204);
        });

        it("lets only owners publish, including organization members", async () => {
            expectError(
                await bob("POST", "/v1/algorithms/alice/algo/versions", { version_info: { version_type: "minor" } }),
                403,
                2001,
            );
            expectError(await bob("POST", "/v1/algorithms/alice/algo/compile", {}), 403, 2001);
            await create("orgalgo", "team");
            await compile("team/orgalgo");
            const res = await publish("team/orgalgo", { version_info: { version_type: "minor" } });
            assert.strictEqual(res.status, 200, res.text);
        });
    });

    describe("versions", () => {
        it("lists versions newest first with published/callable filters and paging", async () => {
            const all = await alice("GET", "/v1/algorithms/alice/rules/versions");
            assert.strictEqual(all.status, 200);
            assert.deepStrictEqual(Object.keys(all.json).sort(), ["marker", "next_link", "results"]);
            const semvers = all.json.results.map((v: any) => v.version_info.semantic_version ?? null);
            assert.deepStrictEqual(semvers, [null, "1.1.0", "1.0.0", "0.1.0"]);
            assert.strictEqual(all.json.results[0].resource_type, "algorithm");

            const published = await alice("GET", "/v1/algorithms/alice/rules/versions?published=true");
            assert.deepStrictEqual(
                published.json.results.map((v: any) => v.version_info.semantic_version),
                ["1.1.0", "1.0.0", "0.1.0"],
            );
            const unpublished = await alice("GET", "/v1/algorithms/alice/rules/versions?published=false");
            assert.ok(unpublished.json.results.every((v: any) => !v.version_info.semantic_version));
            const callable = await alice("GET", "/v1/algorithms/alice/rules/versions?published=true&callable=true");
            assert.deepStrictEqual(
                callable.json.results.map((v: any) => v.version_info.semantic_version),
                ["1.1.0", "1.0.0"],
            );
            const priv = await alice("GET", "/v1/algorithms/alice/rules/versions?published=True&callable=False");
            assert.deepStrictEqual(
                priv.json.results.map((v: any) => v.version_info.semantic_version),
                ["0.1.0"],
            );

            const page1 = await alice("GET", "/v1/algorithms/alice/rules/versions?published=true&limit=2");
            assert.strictEqual(page1.json.results.length, 2);
            assert.match(page1.json.next_link, /published=true/);
            const page2 = await alice(
                "GET",
                `/v1/algorithms/alice/rules/versions?published=true&limit=2&marker=${page1.json.marker}`,
            );
            assert.deepStrictEqual(
                page2.json.results.map((v: any) => v.version_info.semantic_version),
                ["0.1.0"],
            );
            assert.strictEqual(page2.json.marker, null);
            expectError(await alice("GET", "/v1/algorithms/alice/rules/versions?marker=zzz"), 400, 5002);
            expectError(await alice("GET", "/v1/algorithms/alice/rules/versions?limit=0"), 400, 5003);
            expectError(
                await alice("GET", "/v1/algorithms/alice/rules/versions?published=maybe"),
                400,
                2015,
                /published/,
            );
            const id = all.json.results[0].id;
            assert.strictEqual(
                (await alice("GET", `/v1/algorithms/${id}/versions`)).json.results.length,
                all.json.results.length,
            );
        });

        it("gets one version by git hash, with compilation.output, as an immutable snapshot", async () => {
            const list = await alice("GET", "/v1/algorithms/alice/rules/versions?published=true");
            const v100 = list.json.results.find((v: any) => v.version_info.semantic_version === "1.0.0");
            await alice("PUT", "/v1/algorithms/alice/rules", {
                details: { label: "Changed later" },
                settings: { pipeline_enabled: true },
            });
            const res = await alice("GET", `/v1/algorithms/alice/rules/versions/${v100.version_info.git_hash}`);
            assert.strictEqual(res.status, 200, res.text);
            assert.strictEqual(res.json.version_info.semantic_version, "1.0.0");
            assert.strictEqual(res.json.settings.royalty_microcredits, 5);
            assert.strictEqual(res.json.settings.pipeline_enabled, false);
            assert.notStrictEqual(res.json.details.label, "Changed later");
            assert.match(res.json.compilation.output, /Build succeeded/);
            assert.strictEqual((await alice("GET", "/v1/algorithms/alice/rules")).json.details.label, "Changed later");
            expectError(await alice("GET", `/v1/algorithms/alice/rules/versions/${"0".repeat(40)}`), 404, 1014);
        });

        it("shows others a public algorithm and only its public versions (403 for the others)", async () => {
            assert.strictEqual((await bob("GET", "/v1/algorithms/alice/rules")).status, 200);
            const list = await bob("GET", "/v1/algorithms/alice/rules/versions");
            assert.deepStrictEqual(
                list.json.results.map((v: any) => v.version_info.semantic_version),
                ["1.1.0", "1.0.0"],
            );
            const privateHash = (
                await alice("GET", "/v1/algorithms/alice/rules/versions?published=true&callable=false")
            ).json.results[0].version_info.git_hash;
            expectError(await bob("GET", `/v1/algorithms/alice/rules/versions/${privateHash}`), 403, 2001);
            expectError(await bob("GET", "/v1/algorithms/alice/rules/builds"), 403, 2001);
            expectError(await bob("PUT", "/v1/algorithms/alice/rules", {}), 403, 2001);
            assert.deepStrictEqual(
                (await bob("GET", "/v1/users/alice/algorithms")).json.map((a: any) => a.algoname),
                ["rules"],
            );
        });

        it("keeps builds and versions across a restart", async () => {
            const before = await alice("GET", "/v1/algorithms/alice/rules/versions");
            const builds = await alice("GET", "/v1/algorithms/alice/rules/builds");
            server = await server.restart();
            assert.deepStrictEqual(
                (await alice("GET", "/v1/algorithms/alice/rules/versions")).json.results,
                before.json.results.map((v: any) => ({ ...v, self_link: v.self_link })),
            );
            assert.deepStrictEqual((await alice("GET", "/v1/algorithms/alice/rules/builds")).json, builds.json);
            // And publishing carries on from where it was.
            await compile("alice/rules");
            // The pipeline_enabled change made by PUT above reaches callers only through a major version.
            expectError(
                await publish("alice/rules", { version_info: { version_type: "revision" } }),
                400,
                2015,
                /pipeline_enabled/,
            );
            assert.strictEqual(
                (await publish("alice/rules", { version_info: { version_type: "major" } })).json.version_info
                    .semantic_version,
                "2.0.0",
            );
        });
    });
});
