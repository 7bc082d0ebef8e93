// Where the provider's connection comes from (docs/design.md §3), and that the API key never leaks: not into the state
// file (the serialized provider included), not into the engine's output, not into error messages. The git address
// from stack config reaches the provider process, which pushes there as the key's account.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { Stack } from "@pulumi/pulumi/automation";
import { Algorithm, AlgorithmVersion, DataCollection, ModelFile } from "../../provider";
import { SETTINGS, sourceDirectory } from "../helpers/algorithmTestBed";
import { ALICE, BOB, call, replyLosingProxy, startTestServer } from "../helpers/server";
import { testBed } from "../helpers/testBed";

describe("provider configuration and secrets (engine + algorithmia-local)", function () {
    this.timeout(300_000);
    const bed = testBed();

    const allState = () => bed.sandbox.storedState();

    const collectionExists = async (owner: string, name: string) =>
        (await call(bed.server, "GET", `/v1/connector/data/${owner}/${name}`, { key: ALICE.key })).status === 200;

    describe("with the key as a secret in stack config", () => {
        let stack: Stack;
        let output = "";
        const onOutput = (text: string) => (output += text);

        before(async () => {
            stack = await bed.sandbox.inlineStack("config", "secret-key", async () => {
                const collection = new DataCollection("models", { name: "secret_models", forceDestroy: true });
                const model = new ModelFile("model", {
                    collection: collection.dataUri,
                    name: "m.bin",
                    source: new pulumi.asset.StringAsset("bytes"),
                });
                return { dataUri: model.dataUri };
            });
            await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
            // The address from stack config, as no resource sets `apiAddress`.
            await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        });

        it("runs up, preview, refresh and destroy, and the key is never in the state or the output", async () => {
            await stack.up({ onOutput });
            assert.ok(await collectionExists("alice", "secret_models"));
            await stack.preview({ expectNoChanges: true, onOutput });
            await stack.refresh({ onOutput });
            const state = allState();
            assert.match(state, /__provider/, "the serialized providers are in the state");
            assert.ok(!state.includes(ALICE.key), "the state never holds the key in plain text");
            await stack.destroy({ onOutput });
            assert.ok(!(await collectionExists("alice", "secret_models")));
            assert.ok(!allState().includes(ALICE.key));
            assert.ok(output.length > 0 && !output.includes(ALICE.key), "the engine output never shows the key");
        });
    });

    describe("moving to another cluster", () => {
        it("replaces on an algorithmia:apiAddress change: made on the new cluster, then deleted from the old one", async () => {
            const other = await startTestServer();
            try {
                const stack = await bed.sandbox.inlineStack("config", "move", async () => {
                    const collection = new DataCollection("models", { name: "moving_models", forceDestroy: true });
                    const model = new ModelFile("model", {
                        collection: collection.dataUri,
                        name: "m.bin",
                        source: new pulumi.asset.StringAsset("bytes"),
                    });
                    return { dataUri: model.dataUri };
                });
                await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
                await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
                await stack.up();
                const onFirst = (await stack.exportStack()).deployment.resources.filter((r: any) => r.outputs?.cluster);
                assert.deepStrictEqual(
                    onFirst.map((r: any) => r.outputs.cluster),
                    [bed.server.url, bed.server.url],
                    "each object knows its cluster",
                );

                // The config alone moves the stack: nothing of it exists over there yet.
                await stack.setConfig("algorithmia:apiAddress", { value: other.url });
                assert.deepStrictEqual((await stack.preview()).changeSummary, { same: 1, replace: 2 });
                await stack.up();
                const there = await call(other, "GET", "/v1/connector/data/alice/moving_models", { key: ALICE.key });
                assert.deepStrictEqual([there.status, there.json.files.length], [200, 1], "made on the new cluster");
                assert.ok(!(await collectionExists("alice", "moving_models")), "deleted from the old cluster");
                await stack.preview({ expectNoChanges: true });
                // Refresh and destroy act on the new cluster.
                assert.deepStrictEqual((await stack.refresh()).summary.resourceChanges, { same: 3 });
                await stack.destroy();
                assert.strictEqual(
                    (await call(other, "GET", "/v1/connector/data/alice/moving_models", { key: ALICE.key })).status,
                    404,
                );
            } finally {
                await other.dispose();
            }
        });
    });

    describe("two accounts on two clusters in one stack", () => {
        it("keeps each resource's own key as a secret, uses it for every step, and stores a rotated key in place", async () => {
            const bobsOtherKey = { name: BOB.name, key: "simBobSecondTestKey0000000003" };
            const other = await startTestServer({ users: [ALICE, BOB, bobsOtherKey] });
            const bobs = () => ({ apiAddress: other.url, apiKey: bobKey });
            let bobKey = BOB.key;
            try {
                const stack = await bed.sandbox.inlineStack("config", "two-accounts", async () => {
                    // Alice's, on the stack's cluster with the stack's key.
                    new DataCollection("alice-models", { name: "alice_models", forceDestroy: true });
                    // Bob's, on another cluster with a key of his own.
                    const collection = new DataCollection("bob-models", {
                        name: "bob_models",
                        forceDestroy: true,
                        ...bobs(),
                    });
                    new ModelFile("bob-model", {
                        collection: collection.dataUri,
                        name: "m.bin",
                        source: new pulumi.asset.StringAsset("bob's"),
                        ...bobs(),
                    });
                    const algorithm = new Algorithm("bob-greeter", {
                        name: "BobGreeter",
                        details: { label: "Bob's" },
                        settings: SETTINGS,
                        source: sourceDirectory(bed.root, "Greeter", "BobGreeter"),
                        ...bobs(),
                    });
                    const version = new AlgorithmVersion("bob-release", {
                        algorithm: algorithm.algoPath,
                        gitHash: algorithm.gitHash,
                        algorithmSettings: algorithm.settings,
                        versionType: "minor",
                        callability: "private",
                        tests: [{ input: "ada", expect: "hello ada" }],
                        ...bobs(),
                    });
                    return { collection: collection.dataUri, algoUri: version.algoUri };
                });
                await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
                await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
                await stack.up();
                const outputs = await stack.outputs();
                assert.deepStrictEqual(
                    [outputs.collection.value, outputs.algoUri.value],
                    ["data://bob/bob_models", "bob/BobGreeter/0.1.0"],
                );
                assert.ok(await collectionExists("alice", "alice_models"));
                assert.strictEqual(
                    (await call(other, "GET", "/v1/connector/data/bob/bob_models", { key: BOB.key })).status,
                    200,
                );
                const reply = await call(other, "POST", "/v1/algo/bob/BobGreeter/0.1.0", {
                    key: BOB.key,
                    body: JSON.stringify("bob"),
                    headers: { "content-type": "application/json" },
                });
                assert.strictEqual(reply.json.result, "hello bob");

                const noKeyInState = () => {
                    for (const key of [ALICE.key, BOB.key, bobsOtherKey.key])
                        assert.ok(!allState().includes(key), "no key in the stored state");
                };
                const bobsResources = async () =>
                    (await stack.exportStack()).deployment.resources.filter((r: any) => r.inputs?.apiKey);
                noKeyInState();
                assert.strictEqual((await bobsResources()).length, 4);
                // (exportStack shows secrets decrypted, still marked as secrets.)
                const secret = (value: any) =>
                    value?.["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270";
                for (const r of await bobsResources())
                    assert.ok(
                        secret(r.inputs.apiKey) && secret(r.outputs.apiKey),
                        `${r.urn}: the key is a secret in inputs and outputs`,
                    );
                await stack.preview({ expectNoChanges: true });
                assert.deepStrictEqual((await stack.refresh()).summary.resourceChanges, { same: 6 });

                // Another key of Bob's: an update that only stores it.
                bobKey = bobsOtherKey.key;
                const builds = (await call(other, "GET", "/v1/algorithms/bob/BobGreeter/builds", { key: BOB.key })).json
                    .results.length;
                assert.deepStrictEqual((await stack.up()).summary.resourceChanges, { same: 2, update: 4 });
                assert.strictEqual(
                    (await call(other, "GET", "/v1/algorithms/bob/BobGreeter/builds", { key: BOB.key })).json.results
                        .length,
                    builds,
                    "no build, no publish",
                );
                assert.strictEqual((await stack.outputs()).algoUri.value, "bob/BobGreeter/0.1.0");
                noKeyInState();
                await stack.preview({ expectNoChanges: true });
                assert.deepStrictEqual((await stack.refresh()).summary.resourceChanges, { same: 6 });
                await stack.destroy();
                assert.strictEqual(
                    (await call(other, "GET", "/v1/connector/data/bob/bob_models", { key: BOB.key })).status,
                    404,
                );
                assert.ok(!(await collectionExists("alice", "alice_models")));
                noKeyInState();
            } finally {
                await other.dispose();
            }
        });
    });

    describe("with a key the server rejects", () => {
        it("fails with the method, route and status, and without the key", async () => {
            const badKey = "simThisKeyIsNotKnown000000000000";
            const stack = await bed.sandbox.inlineStack("config", "bad-key", async () => {
                new DataCollection("models", { name: "bad_key_models", apiAddress: bed.server.url });
            });
            await stack.setConfig("algorithmia:apiKey", { value: badKey, secret: true });
            let output = "";
            const err: Error = await stack.up({ onOutput: (text) => (output += text) }).then(
                () => assert.fail("up should fail"),
                (e) => e,
            );
            assert.match(err.message, /POST \/v1\/connector\/data\/\.my returned 401/);
            assert.ok(!err.message.includes(badKey) && !output.includes(badKey), "the key is not in the error");
            assert.ok(!allState().includes(badKey));
        });
    });

    describe("with algorithmia:gitAddress", () => {
        it("pushes an organization's algorithm there, as the key's account", async () => {
            // A proxy that loses nothing (no request matches) and counts what comes through it.
            const gitProxy = await replyLosingProxy(bed.server.url, "NONE", "/");
            const source = sourceDirectory(bed.root, "Greeter", "ViaGit");
            const stack = await bed.sandbox.inlineStack("config", "git-address", async () => {
                const algorithm = new Algorithm("greeter", {
                    name: "ViaGit",
                    owner: "team",
                    details: { label: "ViaGit" },
                    settings: SETTINGS,
                    source,
                });
                return { gitHash: algorithm.gitHash };
            });
            await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
            await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
            await stack.setConfig("algorithmia:gitAddress", { value: gitProxy.url });
            try {
                const up = await stack.up();
                assert.strictEqual(up.outputs.gitHash.value, await bed.server.repos.head("team", "ViaGit"));
                assert.ok(
                    gitProxy.requests["GET /git/team/ViaGit.git/info/refs?service=git-receive-pack"] >= 1,
                    "pushed through the git address",
                );
                assert.ok(
                    Object.keys(gitProxy.requests).every((r) => r.includes(" /git/")),
                    "only git went there",
                );
                await stack.destroy();
            } finally {
                gitProxy.close();
            }
        });
    });

    describe("from the environment", () => {
        let stack: Stack;

        before(async () => {
            stack = await bed.sandbox.inlineStack("config", "env", async () => {
                new DataCollection("models", { name: "env_models" });
            });
        });

        it("says how to set the key when there is none", async () => {
            await assert.rejects(
                stack.preview().then(() => stack.up()),
                /No Algorithmia API key: run `pulumi config set --secret algorithmia:apiKey/,
            );
        });

        it("reads ALGORITHMIA_API and ALGORITHMIA_API_KEY, stack config winning over them", async () => {
            const env = stack.workspace as unknown as { envVars: Record<string, string> };
            env.envVars.ALGORITHMIA_API = bed.server.url;
            env.envVars.ALGORITHMIA_API_KEY = BOB.key;
            try {
                await stack.up();
                assert.strictEqual(
                    (await call(bed.server, "GET", "/v1/connector/data/bob/env_models", { key: BOB.key })).status,
                    200,
                );
                await stack.destroy();

                // Stack config beats the environment: the collection now goes to alice.
                await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
                await stack.up();
                assert.ok(await collectionExists("alice", "env_models"));
                await stack.destroy();
                assert.ok(!allState().includes(BOB.key) && !allState().includes(ALICE.key));
            } finally {
                delete env.envVars.ALGORITHMIA_API;
                delete env.envVars.ALGORITHMIA_API_KEY;
            }
        });
    });
});
