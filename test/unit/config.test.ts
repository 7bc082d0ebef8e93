// Where the connection comes from (provider/config.ts): the git address with its precedence (stack config over
// environment over the address derived from the API address), its validation, and that the client pushes there.
import * as assert from "assert";
import { AlgorithmiaClient } from "../../provider/client";
import { resolveConnection, StackConfig } from "../../provider/config";

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
            /No Algorithmia API key: .*or give the resource an `apiKey`/,
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
});
