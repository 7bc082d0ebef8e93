// Where the provider's connection comes from (design.md §3), and that the API key never leaks: not into the state
// file (the serialized provider included), not into the engine's output, not into error messages. The git address
// from stack config reaches the provider process, which pushes there as the key's account.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { Stack } from "@pulumi/pulumi/automation";
import { Algorithm, DataCollection, ModelFile } from "../../provider";
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
                const model = new ModelFile("model", { collection: collection.dataUri, name: "m.bin", source: new pulumi.asset.StringAsset("bytes") });
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
                    const model = new ModelFile("model", { collection: collection.dataUri, name: "m.bin", source: new pulumi.asset.StringAsset("bytes") });
                    return { dataUri: model.dataUri };
                });
                await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
                await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
                await stack.up();
                const onFirst = (await stack.exportStack()).deployment.resources.filter((r: any) => r.outputs?.cluster);
                assert.deepStrictEqual(onFirst.map((r: any) => r.outputs.cluster), [bed.server.url, bed.server.url], "each object knows its cluster");

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
                assert.strictEqual((await call(other, "GET", "/v1/connector/data/alice/moving_models", { key: ALICE.key })).status, 404);
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
                const algorithm = new Algorithm("greeter", { name: "ViaGit", owner: "team", details: { label: "ViaGit" }, settings: SETTINGS, source });
                return { gitHash: algorithm.gitHash };
            });
            await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
            await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
            await stack.setConfig("algorithmia:gitAddress", { value: gitProxy.url });
            try {
                const up = await stack.up();
                assert.strictEqual(up.outputs.gitHash.value, await bed.server.repos.head("team", "ViaGit"));
                assert.ok(gitProxy.requests["GET /git/team/ViaGit.git/info/refs?service=git-receive-pack"] >= 1, "pushed through the git address");
                assert.ok(Object.keys(gitProxy.requests).every((r) => r.includes(" /git/")), "only git went there");
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
            await assert.rejects(stack.preview().then(() => stack.up()), /No Algorithmia API key: run `pulumi config set --secret algorithmia:apiKey/);
        });

        it("reads ALGORITHMIA_API and ALGORITHMIA_API_KEY, stack config winning over them", async () => {
            const env = stack.workspace as unknown as { envVars: Record<string, string> };
            env.envVars.ALGORITHMIA_API = bed.server.url;
            env.envVars.ALGORITHMIA_API_KEY = BOB.key;
            try {
                await stack.up();
                assert.strictEqual((await call(bed.server, "GET", "/v1/connector/data/bob/env_models", { key: BOB.key })).status, 200);
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
