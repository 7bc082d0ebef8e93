// Route tests of algorithm management (server/algorithms.ts), secrets, languages/environments and SCMs, over
// real HTTP against a fresh algorithmia-local.
import * as assert from "assert";
import * as zlib from "zlib";
import { createBody, SETTINGS } from "../helpers/algorithms";
import { ALICE, BOB, call, expectError, startTestServer, TestServer } from "../helpers/server";

describe("algorithmia-local: algorithm management", function () {
    let server: TestServer;
    const alice = (method: string, route: string, json?: unknown) =>
        call(server, method, route, { key: ALICE.key, json });
    const bob = (method: string, route: string, json?: unknown) => call(server, method, route, { key: BOB.key, json });

    before(async () => {
        server = await startTestServer();
    });
    after(async () => server.dispose());

    describe("create", () => {
        it("creates with 201 and the fresh field set", async () => {
            const res = await alice("POST", "/v1/algorithms/alice", {
                ...createBody("hello"),
                version_info: { sample_input: "x" },
            });
            assert.strictEqual(res.status, 201);
            assert.deepStrictEqual(Object.keys(res.json).sort(), [
                "details",
                "id",
                "name",
                "resource_type",
                "settings",
                "source",
            ]);
            assert.match(res.json.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
            assert.strictEqual(res.json.name, "hello");
            assert.strictEqual(res.json.resource_type, "algorithm");
            assert.deepStrictEqual(res.json.details, { label: "The hello", summary: "sum", tagline: "tag" });
            assert.deepStrictEqual(res.json.settings, {
                algorithm_callability: "private",
                source_visibility: "closed",
                language: "python3-1",
                environment: "cpu",
                license: "apl",
                royalty_microcredits: 0,
                network_access: "isolated",
                pipeline_enabled: false,
                insights_enabled: false,
            });
            assert.strictEqual(res.json.source.scm.id, "internal");
            assert.strictEqual(res.json.source.scm.provider, "internal");
        });

        it("refuses a duplicate name (case-insensitively) with 400 code 1002", async () => {
            expectError(await alice("POST", "/v1/algorithms/alice", createBody("Hello")), 400, 1002, /taken/);
        });

        it("creates for an organization the caller belongs to, refuses others with 403", async () => {
            assert.strictEqual((await alice("POST", "/v1/algorithms/team", createBody("teamalgo"))).status, 201);
            assert.strictEqual((await alice("GET", "/v1/algorithms/team/teamalgo")).status, 200);
            expectError(await bob("POST", "/v1/algorithms/team", createBody("nope")), 403, 2001);
            expectError(await bob("POST", "/v1/algorithms/alice", createBody("nope")), 403, 2001);
            expectError(await bob("GET", "/v1/algorithms/team/teamalgo"), 403, 2001);
            expectError(await alice("POST", "/v1/algorithms/nobody", createBody("nope")), 404, 3000);
        });

        it("needs an API key", async () => {
            const res = await call(server, "POST", "/v1/algorithms/alice", { json: createBody("anon") });
            expectError(res, 401, 2002);
        });

        const invalid: [string, Record<string, unknown>, RegExp][] = [
            ["name with a dash", { name: "bad-name" }, /^name .*letters, digits and underscores/],
            ["name starting with a digit", { name: "1abc" }, /^name /],
            ["missing name", { name: undefined }, /^name is required/],
            ["missing details.label", { details: { summary: "x" } }, /details\.label is required/],
            [
                "unknown language",
                { settings: { ...SETTINGS, language: "cobol" } },
                /settings\.language must be one of .*python3-1/,
            ],
            [
                "bad environment",
                { settings: { ...SETTINGS, environment: "tpu" } },
                /settings\.environment must be one of cpu, gpu/,
            ],
            [
                "missing environment with a language",
                { settings: { ...SETTINGS, environment: undefined } },
                /settings\.environment is required/,
            ],
            [
                "bad license",
                { settings: { ...SETTINGS, license: "bsd" } },
                /settings\.license must be one of apl, apache2, gpl3, mit/,
            ],
            ["missing license", { settings: { ...SETTINGS, license: undefined } }, /settings\.license is required/],
            [
                "bad source_visibility",
                { settings: { ...SETTINGS, source_visibility: "hidden" } },
                /settings\.source_visibility must be one of open, closed/,
            ],
            [
                "closed with mit",
                { settings: { ...SETTINGS, license: "mit" } },
                /"closed" is only allowed with license "apl"/,
            ],
            [
                "bad network_access",
                { settings: { ...SETTINGS, network_access: "some" } },
                /settings\.network_access must be one of full, isolated/,
            ],
            [
                "pipeline_enabled as a string",
                { settings: { ...SETTINGS, pipeline_enabled: "yes" } },
                /settings\.pipeline_enabled is required: a boolean/,
            ],
            ["no runtime", { settings: { ...SETTINGS, language: undefined } }, /settings must choose a runtime/],
            [
                "unknown environment id",
                {
                    settings: {
                        ...SETTINGS,
                        language: undefined,
                        environment: undefined,
                        algorithm_environment: "abc",
                    },
                },
                /settings\.algorithm_environment/,
            ],
            [
                "a language with a package set",
                { settings: { ...SETTINGS, package_set: "python38" } },
                /settings\.language cannot be combined with settings\.package_set/,
            ],
            [
                "a machine type with an environment",
                { settings: { ...SETTINGS, language: undefined, algorithm_environment: "abc" } },
                /settings\.environment cannot be combined with settings\.algorithm_environment/,
            ],
            ["settings not an object", { settings: "x" }, /settings must be a JSON object/],
        ];
        for (const [what, change, message] of invalid) {
            it(`refuses ${what} with a 400 naming the field`, async () => {
                const res = await alice("POST", "/v1/algorithms/alice", { ...createBody("valid_name"), ...change });
                assert.strictEqual(res.status, 400, res.text);
                assert.match(res.json.error.message, message);
                assert.ok([2015, 4001].includes(res.json.error.code), res.text);
            });
        }

        it("refuses malformed JSON with code 2013", async () => {
            const res = await call(server, "POST", "/v1/algorithms/alice", {
                key: ALICE.key,
                body: "{nope",
                headers: { "content-type": "application/json" },
            });
            expectError(res, 400, 2013);
        });

        it("accepts `licence`, open licenses with open source, environments and package sets", async () => {
            const res = await alice(
                "POST",
                "/v1/algorithms/alice",
                createBody("licenced", { license: undefined, licence: "mit", source_visibility: "open" }),
            );
            assert.strictEqual(res.status, 201, res.text);
            assert.strictEqual(res.json.settings.license, "mit");

            const envs = await alice("GET", "/v1/algorithm-environments/edge/languages/python3/environments");
            const py39 = envs.json.environments.find((e: any) => e.display_name === "Python 3.9");
            const env = await alice(
                "POST",
                "/v1/algorithms/alice",
                createBody("withenv", {
                    language: undefined,
                    environment: undefined,
                    algorithm_environment: py39.id,
                }),
            );
            assert.strictEqual(env.status, 201, env.text);
            assert.strictEqual(env.json.settings.algorithm_environment, py39.id);
            assert.strictEqual(env.json.settings.package_set, "python39");
            assert.strictEqual(env.json.settings.language, undefined);

            const set = await alice(
                "POST",
                "/v1/algorithms/alice",
                createBody("withset", { language: undefined, environment: undefined, package_set: "python38" }),
            );
            assert.strictEqual(set.status, 201, set.text);
            assert.strictEqual(set.json.settings.package_set, "python38");
        });
    });

    describe("get", () => {
        it("answers an unknown algorithm with 404 and exactly the legacy body", async () => {
            const res = await alice("GET", "/v1/algorithms/alice/missing");
            assert.strictEqual(res.status, 404);
            assert.strictEqual(res.text, '{"error":"No such algorithm"}');
        });

        it("refuses another user's private algorithm with 403 code 2001", async () => {
            const res = await bob("GET", "/v1/algorithms/alice/hello");
            expectError(res, 403, 2001, /not authorized/);
        });

        it("gets by owner/name and by UUID", async () => {
            const byName = await alice("GET", "/v1/algorithms/alice/hello");
            assert.strictEqual(byName.status, 200);
            const byId = await alice("GET", `/v1/algorithms/${byName.json.id}`);
            assert.deepStrictEqual(byId.json, byName.json);
            expectError(await alice("GET", "/v1/algorithms/00000000-0000-4000-8000-000000000000"), 404, 1009);
            expectError(await bob("GET", `/v1/algorithms/${byName.json.id}`), 403, 2001);
        });

        it("serves the internal SCM status", async () => {
            assert.deepStrictEqual((await alice("GET", "/v1/algorithms/alice/hello/scm/status")).json, {
                scm_connection_status: "active",
            });
        });
    });

    describe("update", () => {
        it("treats empty objects as unchanged (what the Python client sends)", async () => {
            const before = await alice("GET", "/v1/algorithms/alice/hello");
            const res = await alice("PUT", "/v1/algorithms/alice/hello", {
                details: {},
                settings: {},
                version_info: {},
                source: {},
                scmsCredentials: {},
            });
            assert.strictEqual(res.status, 200, res.text);
            assert.deepStrictEqual(res.json, before.json);
        });

        it("merges details and settings", async () => {
            const res = await alice("PUT", "/v1/algorithms/alice/hello", {
                details: { tagline: "new tag" },
                settings: { network_access: "full", environment: "gpu" },
            });
            assert.strictEqual(res.status, 200, res.text);
            assert.deepStrictEqual(res.json.details, { label: "The hello", summary: "sum", tagline: "new tag" });
            assert.strictEqual(res.json.settings.network_access, "full");
            assert.strictEqual(res.json.settings.environment, "gpu");
            assert.strictEqual(res.json.settings.license, "apl");
        });

        it("updates by UUID too", async () => {
            const { json } = await alice("GET", "/v1/algorithms/alice/hello");
            const res = await alice("PUT", `/v1/algorithms/${json.id}`, { details: { label: "Renamed" } });
            assert.strictEqual(res.status, 200, res.text);
            assert.strictEqual((await alice("GET", "/v1/algorithms/alice/hello")).json.details.label, "Renamed");
        });

        it("refuses to change the language, and validates the merged settings", async () => {
            expectError(
                await alice("PUT", "/v1/algorithms/alice/hello", { settings: { language: "java" } }),
                400,
                2015,
                /language cannot be changed/,
            );
            expectError(
                await alice("PUT", "/v1/algorithms/alice/licenced", { settings: { source_visibility: "closed" } }),
                400,
                2015,
                /only allowed with license "apl"/,
            );
            expectError(
                await alice("PUT", "/v1/algorithms/alice/hello", { details: { label: "" } }),
                400,
                2015,
                /details\.label/,
            );
            expectError(
                await alice("PUT", "/v1/algorithms/alice/hello", { settings: { license: "wtfpl" } }),
                400,
                2015,
                /settings\.license/,
            );
        });

        it("updates an environment-based algorithm without a language, and converts a legacy one to an environment", async () => {
            const envs = await alice("GET", "/v1/algorithm-environments/edge/languages/python3/environments");
            const py38 = envs.json.environments.find((e: any) => e.display_name === "Python 3.8");
            const moved = await alice("PUT", "/v1/algorithms/alice/withenv", {
                settings: { network_access: "full", algorithm_environment: py38.id },
            });
            assert.strictEqual(moved.status, 200, moved.text);
            assert.deepStrictEqual(
                [
                    moved.json.settings.algorithm_environment,
                    moved.json.settings.package_set,
                    moved.json.settings.network_access,
                ],
                [py38.id, "python38", "full"],
            );
            const unchanged = await alice("PUT", "/v1/algorithms/alice/withset", {
                settings: { pipeline_enabled: true },
            });
            assert.strictEqual(unchanged.status, 200, unchanged.text);
            assert.strictEqual(unchanged.json.settings.package_set, "python38");
            expectError(
                await alice("PUT", "/v1/algorithms/alice/withenv", { settings: { language: "python3-1" } }),
                400,
                2015,
                /language cannot be changed/,
            );
            expectError(
                await alice("PUT", "/v1/algorithms/alice/withenv", { settings: { environment: "gpu" } }),
                400,
                2015,
                /settings\.environment cannot be combined with settings\.algorithm_environment/,
            );
            const converted = await alice("PUT", "/v1/algorithms/alice/licenced", {
                settings: { algorithm_environment: py38.id },
            });
            assert.strictEqual(converted.status, 200, converted.text);
            assert.deepStrictEqual(
                [converted.json.settings.language, converted.json.settings.package_set],
                [undefined, "python38"],
            );
        });

        it("refuses a form body whose values were lost, accepts an empty one", async () => {
            const form = await call(server, "PUT", "/v1/algorithms/alice/hello", {
                key: ALICE.key,
                body: "details=label&details=summary",
                headers: { "content-type": "application/x-www-form-urlencoded" },
            });
            expectError(form, 400, 2015, /must be a JSON object.*details/);
            const empty = await call(server, "PUT", "/v1/algorithms/alice/hello", {
                key: ALICE.key,
                body: "",
                headers: { "content-type": "application/x-www-form-urlencoded" },
            });
            assert.strictEqual(empty.status, 200, empty.text);
        });

        it("lets only the owner update", async () => {
            expectError(await bob("PUT", "/v1/algorithms/alice/hello", { details: { label: "x" } }), 403, 2001);
            assert.strictEqual((await bob("PUT", "/v1/algorithms/alice/missing", {})).status, 404);
        });
    });

    describe("listing and delete", () => {
        it("lists a user's algorithms", async () => {
            const res = await alice("GET", "/v1/users/alice/algorithms");
            assert.strictEqual(res.status, 200);
            const names = res.json.map((a: any) => a.algoname);
            assert.ok(names.includes("hello") && names.includes("licenced"), res.text);
            assert.deepStrictEqual(Object.keys(res.json[0]).sort(), ["algoname", "id", "username"]);
            // Bob sees none of alice's private algorithms.
            assert.deepStrictEqual((await bob("GET", "/v1/users/alice/algorithms")).json, []);
            expectError(await alice("GET", "/v1/users/nobody/algorithms"), 404, 3000);
        });

        it("deletes with 204, then 404", async () => {
            assert.strictEqual((await alice("POST", "/v1/algorithms/alice", createBody("doomed"))).status, 201);
            expectError(await bob("DELETE", "/v1/algorithms/alice/doomed"), 403, 2001);
            const res = await alice("DELETE", "/v1/algorithms/alice/doomed");
            assert.strictEqual(res.status, 204);
            assert.strictEqual(res.text, "");
            assert.strictEqual(
                (await alice("GET", "/v1/algorithms/alice/doomed")).text,
                '{"error":"No such algorithm"}',
            );
            // The name is free again.
            assert.strictEqual((await alice("POST", "/v1/algorithms/alice", createBody("doomed"))).status, 201);
        });
    });

    describe("secrets", () => {
        let id: string;
        let providerId: string;
        before(async () => {
            id = (await alice("GET", "/v1/algorithms/alice/hello")).json.id;
            const providers = await alice("GET", "/v1/secret-provider");
            assert.strictEqual(providers.status, 200);
            assert.strictEqual(providers.json[0].name, "algorithmia_internal_secret_provider");
            providerId = providers.json[0].id;
        });

        it("creates, lists (under secrets and results), updates and deletes without ever returning the value", async () => {
            const created = await alice("POST", `/v1/algorithms/${id}/secrets`, {
                owner_type: "algorithm",
                owner_id: id,
                short_name: "token",
                description: " ",
                secret_key: "API_TOKEN",
                secret_value: "s3cr3t",
                provider_id: providerId,
            });
            assert.strictEqual(created.status, 200, created.text);
            assert.ok(!created.text.includes("s3cr3t"));
            assert.strictEqual(created.json.secret_key, "API_TOKEN");
            assert.strictEqual(created.json.owner_id, id);

            const list = await alice("GET", `/v1/algorithms/${id}/secrets`);
            assert.strictEqual(list.json.secrets.length, 1);
            assert.deepStrictEqual(list.json.results, list.json.secrets);
            assert.ok(!list.text.includes("s3cr3t"));

            const updated = await alice("PUT", `/v1/algorithms/${id}/secrets/${created.json.id}`, {
                short_name: "token",
                description: "rotated",
                secret_key: "API_TOKEN",
                secret_value: "new",
            });
            assert.strictEqual(updated.status, 200, updated.text);
            assert.strictEqual(updated.json.description, "rotated");
            assert.strictEqual(updated.json.secret_key, "API_TOKEN");

            // An edit names the whole metadata, as the spec's request schema says.
            expectError(
                await alice("PUT", `/v1/algorithms/${id}/secrets/${created.json.id}`, { secret_value: "newer" }),
                400,
                8001,
                /short_name is required/,
            );
            expectError(
                await alice("POST", `/v1/algorithms/${id}/secrets`, {
                    short_name: "t",
                    secret_key: "OTHER",
                    secret_value: "v",
                }),
                400,
                8001,
                /description is required/,
            );
            expectError(
                await alice("POST", `/v1/algorithms/${id}/secrets`, {
                    short_name: "t",
                    description: "",
                    secret_key: "OTHER",
                    secret_value: "v",
                }),
                400,
                8001,
                /description must not be empty/,
            );
            expectError(
                await alice("POST", `/v1/algorithms/${id}/secrets`, {
                    short_name: "t",
                    description: " ",
                    secret_key: "API_TOKEN",
                    secret_value: "v",
                }),
                400,
                8001,
            );
            expectError(
                await alice("POST", `/v1/algorithms/${id}/secrets`, {
                    short_name: "t",
                    description: " ",
                    secret_key: "OTHER",
                }),
                400,
                8004,
            );
            expectError(
                await alice("POST", `/v1/algorithms/${id}/secrets`, {
                    short_name: "t",
                    description: " ",
                    secret_key: "1BAD",
                    secret_value: "v",
                }),
                400,
                8001,
                /secret_key/,
            );
            expectError(
                await alice("POST", `/v1/algorithms/${id}/secrets`, {
                    short_name: "t",
                    description: " ",
                    secret_key: "K",
                    secret_value: "v",
                    provider_id: "x",
                }),
                400,
                8006,
            );
            expectError(await bob("GET", `/v1/algorithms/${id}/secrets`), 403, 2001);

            assert.strictEqual((await alice("DELETE", `/v1/algorithms/${id}/secrets/${created.json.id}`)).status, 204);
            expectError(await alice("DELETE", `/v1/algorithms/${id}/secrets/${created.json.id}`), 404, 8008);
            assert.deepStrictEqual((await alice("GET", `/v1/algorithms/${id}/secrets`)).json.secrets, []);
        });
    });

    describe("languages, environments, templates, SCMs", () => {
        it("lists languages with configuration as a JSON string", async () => {
            const res = await alice("GET", "/v1/algorithm-environments/edge/languages");
            assert.ok(res.json.some((l: any) => l.name === "anaconda3"));
            const py = res.json.find((l: any) => l.name === "python3");
            assert.strictEqual(typeof py.configuration, "string");
            assert.deepStrictEqual(JSON.parse(py.configuration).req_files, ["requirements.txt"]);
        });

        it("lists environments under `environments` and 404s an unknown language", async () => {
            const res = await alice("GET", "/v1/algorithm-environments/edge/languages/python3/environments");
            const env = res.json.environments[0];
            for (const key of [
                "id",
                "environment_specification_id",
                "display_name",
                "description",
                "created_at",
                "language",
                "machine_type",
            ]) {
                assert.ok(key in env, key);
            }
            assert.strictEqual(env.language.name, "python3");
            expectError(await alice("GET", "/v1/algorithm-environments/edge/languages/cobol/environments"), 404, 4001);
        });

        it("serves a template as tar.gz without authentication", async () => {
            const envs = await alice("GET", "/v1/algorithm-environments/edge/languages/python3/environments");
            const res = await fetch(
                `${server.url}/v1/algorithm-environments/edge/environment-specifications/${envs.json.environments[0].environment_specification_id}/template`,
            );
            assert.strictEqual(res.status, 200);
            const tar = zlib.gunzipSync(Buffer.from(await res.arrayBuffer())).toString("latin1");
            assert.ok(
                tar.includes("algorithmia.conf") &&
                    tar.includes("requirements.txt") &&
                    tar.includes('return "hello {}".format(input)'),
            );
        });

        it("lists the internal SCM", async () => {
            const res = await alice("GET", "/v1/scms");
            assert.strictEqual(res.json.results[0].id, "internal");
            assert.strictEqual((await alice("GET", "/v1/scms/internal")).json.provider, "internal");
            assert.strictEqual(
                (await alice("GET", "/v1/scms/internal/oauth/status")).json.authorization_status,
                "unauthorized",
            );
            expectError(await alice("GET", "/v1/scms/github"), 404, 4009);
        });
    });

    describe("durability", () => {
        it("keeps algorithms and secrets across a restart", async () => {
            const before = await alice("GET", "/v1/algorithms/alice/hello");
            await alice("POST", `/v1/algorithms/${before.json.id}/secrets`, {
                short_name: "k",
                description: " ",
                secret_key: "KEPT",
                secret_value: "v",
            });
            server = await server.restart();
            const after = await alice("GET", "/v1/algorithms/alice/hello");
            assert.deepStrictEqual(after.json, before.json);
            assert.strictEqual(
                (await alice("GET", `/v1/algorithms/${before.json.id}/secrets`)).json.secrets[0].secret_key,
                "KEPT",
            );
        });
    });
});
