// Where the connection comes from (provider/config.ts): the git address with its precedence (stack config over
// environment over the address derived from the API address), its validation, and that the client pushes there.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AlgorithmiaClient } from "../../provider/client";
import { resolveConnection, StackConfig } from "../../provider/config";
import { writeAlgoConfig } from "../helpers/algoConfig";

const KEY = "simConfigUnitKey00000000000007";
const stack = (values: Record<string, string>): StackConfig => ({ get: (key) => values[key] });

describe("connection settings (unit)", () => {
    it("derives the git address as `algo clone` does when none is set", () => {
        const env = { ALGORITHMIA_API_KEY: KEY };
        assert.strictEqual(
            resolveConnection(undefined, undefined, undefined, env).gitAddress,
            "https://git.algorithmia.com",
        );
        assert.strictEqual(
            resolveConnection(undefined, "https://api.example.test/", undefined, env).gitAddress,
            "https://git.example.test",
        );
        assert.strictEqual(
            resolveConnection(undefined, "http://127.0.0.1:8080", undefined, env).gitAddress,
            "http://127.0.0.1:8080",
        );
        assert.strictEqual(
            resolveConnection(
                stack({ "algorithmia:apiAddress": "https://algo.example.test" }),
                undefined,
                undefined,
                env,
            ).gitAddress,
            "https://algo.example.test",
        );
    });

    it("takes algorithmia:gitAddress over ALGORITHMIA_GIT_ADDRESS over the derived address", () => {
        const env = { ALGORITHMIA_API_KEY: KEY, ALGORITHMIA_GIT_ADDRESS: "https://git-env.example.test/" };
        const api = "https://api.example.test";
        assert.strictEqual(
            resolveConnection(undefined, api, undefined, env).gitAddress,
            "https://git-env.example.test",
        );
        const configured = stack({ "algorithmia:gitAddress": "https://scm.example.test:8443/base/" });
        assert.deepStrictEqual(resolveConnection(configured, api, undefined, env), {
            apiAddress: api,
            apiKey: KEY,
            gitAddress: "https://scm.example.test:8443/base",
        });
    });

    it("refuses a git address that is not an http(s) URL, naming the setting it came from", () => {
        const env = { ALGORITHMIA_API_KEY: KEY, ALGORITHMIA_GIT_ADDRESS: "git@example.test:alice" };
        assert.throws(
            () => resolveConnection(undefined, undefined, undefined, env),
            /^Error: ALGORITHMIA_GIT_ADDRESS \(environment\) must be an http\(s\) URL such as https:\/\/git\.algorithmia\.com, got "git@example\.test:alice"/,
        );
        assert.throws(
            () =>
                resolveConnection(
                    stack({ "algorithmia:gitAddress": "ssh://git.example.test" }),
                    undefined,
                    undefined,
                    env,
                ),
            /^Error: algorithmia:gitAddress \(stack config\) must be an http\(s\) URL/,
        );
        assert.throws(
            () =>
                resolveConnection(
                    stack({ "algorithmia:gitAddress": "ssh://git.example.test", "algorithmia:apiKey": KEY }),
                    undefined,
                    undefined,
                    {},
                ),
            (err: Error) => !err.message.includes(KEY),
        );
    });

    it("takes a resource's own key over the stack's and the environment's", () => {
        const configured = stack({ "algorithmia:apiKey": "simStackKey" });
        assert.strictEqual(
            resolveConnection(configured, undefined, "simResourceKey", { ALGORITHMIA_API_KEY: KEY }).apiKey,
            "simResourceKey",
        );
        assert.strictEqual(
            resolveConnection(configured, undefined, undefined, { ALGORITHMIA_API_KEY: KEY }).apiKey,
            "simStackKey",
        );
        assert.strictEqual(
            resolveConnection(undefined, undefined, undefined, { ALGORITHMIA_API_KEY: KEY }).apiKey,
            KEY,
        );
        assert.throws(
            () => resolveConnection(undefined, undefined, undefined, {}),
            /No Algorithmia API key: .*give the resource an `apiKey`, or name an `algo` CLI profile/,
        );
    });

    it("gives the client the git address its repositories live under", async () => {
        const usernames = { "https://api.example.test": Promise.resolve("alice") };
        const client = new AlgorithmiaClient({
            ...resolveConnection(
                stack({ "algorithmia:gitAddress": "https://scm.example.test" }),
                "https://api.example.test",
                undefined,
                { ALGORITHMIA_API_KEY: KEY },
            ),
            usernames,
        });
        const remote = await client.gitRemote("team", "Hello");
        assert.strictEqual(remote.url, "https://scm.example.test/git/team/Hello.git");
        assert.strictEqual(remote.user, "alice", "the key's account, not the owner");
        const derived = new AlgorithmiaClient({ apiAddress: "https://api.example.test", apiKey: KEY, usernames });
        assert.strictEqual(
            (await derived.gitRemote("alice", "Hello")).url,
            "https://git.example.test/git/alice/Hello.git",
        );
    });

    describe("algo CLI profiles (~/.algorithmia/config)", () => {
        let home: string;
        const writeConfig = (profiles: Record<string, Record<string, string>>) => writeAlgoConfig(home, profiles);
        beforeEach(() => (home = fs.mkdtempSync(path.join(os.tmpdir(), "algo-home-"))));
        afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

        it("falls back to the default profile, below the environment", () => {
            writeConfig({ default: { api_key: "simDefault", api_server: "https://api.default.test" } });
            assert.deepStrictEqual(resolveConnection(undefined, undefined, undefined, { HOME: home }), {
                apiAddress: "https://api.default.test",
                apiKey: "simDefault",
                gitAddress: "https://git.default.test",
            });
            const env = { HOME: home, ALGORITHMIA_API_KEY: KEY, ALGORITHMIA_API: "https://api.env.test" };
            const fromEnv = resolveConnection(undefined, undefined, undefined, env);
            assert.deepStrictEqual([fromEnv.apiKey, fromEnv.apiAddress], [KEY, "https://api.env.test"]);
        });

        it("takes the profile algorithmia:profile names over the environment, below the stack's own settings", () => {
            writeConfig({
                default: { api_key: "simDefault" },
                prod: { api_key: "simProd", api_server: "https://api.prod.test" },
            });
            const env = { HOME: home, ALGORITHMIA_API_KEY: KEY, ALGORITHMIA_API: "https://api.env.test" };
            const named = resolveConnection(stack({ "algorithmia:profile": "prod" }), undefined, undefined, env);
            assert.deepStrictEqual([named.apiKey, named.apiAddress], ["simProd", "https://api.prod.test"]);
            const overridden = resolveConnection(
                stack({ "algorithmia:profile": "prod", "algorithmia:apiKey": "simStack" }),
                undefined,
                undefined,
                env,
            );
            assert.strictEqual(overridden.apiKey, "simStack");
            assert.throws(
                () => resolveConnection(stack({ "algorithmia:profile": "staging" }), undefined, undefined, env),
                /algorithmia:profile is "staging", but .*\.algorithmia\/config has no such profile: run `algo auth --profile staging`/,
            );
        });

        it("uses a profile's bearer token when there is no key anywhere, and a key over any token", () => {
            writeConfig({ default: { bearer_token: "header.claims.signature" } });
            const token = resolveConnection(undefined, "https://api.example.test", undefined, { HOME: home });
            assert.deepStrictEqual([token.apiKey, token.bearerToken], [undefined, "header.claims.signature"]);
            const keyed = resolveConnection(undefined, "https://api.example.test", undefined, {
                HOME: home,
                ALGORITHMIA_API_KEY: KEY,
            });
            assert.deepStrictEqual([keyed.apiKey, keyed.bearerToken], [KEY, undefined]);
        });

        it("takes the CA bundle from the profile, and refuses one that does not exist", () => {
            const bundle = path.join(home, "ca.pem");
            fs.writeFileSync(bundle, "-----BEGIN CERTIFICATE-----\n");
            writeConfig({ default: { api_key: "simDefault", ca_cert: bundle } });
            assert.strictEqual(resolveConnection(undefined, undefined, undefined, { HOME: home }).caCert, bundle);
            writeConfig({ default: { api_key: "simDefault", ca_cert: path.join(home, "gone.pem") } });
            assert.throws(
                () => resolveConnection(undefined, undefined, undefined, { HOME: home }),
                /the CA bundle .*gone\.pem \(algorithmia:caCert, a profile's ca_cert or REQUESTS_CA_BUNDLE\) does not exist/,
            );
        });

        it("names a broken config file without quoting it (it holds keys)", () => {
            fs.mkdirSync(path.join(home, ".algorithmia"));
            fs.writeFileSync(path.join(home, ".algorithmia", "config"), '[profiles.default]\napi_key = "simLeaky\n');
            assert.throws(
                () => resolveConnection(undefined, undefined, undefined, { HOME: home }),
                (err: Error) =>
                    /config is not a valid algo CLI config \(TOML\)/.test(err.message) &&
                    !err.message.includes("simLeaky"),
            );
        });

        it("refuses to push source with a bearer token alone: git takes API keys only", async () => {
            const client = new AlgorithmiaClient({
                apiAddress: "https://api.example.test",
                bearerToken: "header.claims.signature",
            });
            await assert.rejects(
                client.gitRemote("alice", "Hello"),
                /pushed with git, which Algorithmia authenticates with an API key only/,
            );
        });
    });
});
