// pulumi-resource-algorithmia, the provider plugin, through the real engine: the program registers resources by
// type token alone (as a Python or YAML program's generated SDK does), the engine starts the plugin named in the
// project's `plugins:` and configures it with the stack's `algorithmia:*` config (the key a secret). A collection,
// a model file, an algorithm bound to it and its secret: create, a no-op preview, an update in place shown as a
// detailed diff, a check failure naming the property, refresh and destroy. No key or secret value reaches the state.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ProjectSettings, Stack } from "@pulumi/pulumi/automation";
import { configureKey, SETTINGS, sourceDirectory } from "../helpers/algorithmTestBed";
import { deployFixture } from "../helpers/git";
import { repoRoot } from "../helpers/pulumi";
import { ALICE, call } from "../helpers/server";
import { testBed } from "../helpers/testBed";

/** A resource registered by its type token alone, as another language's SDK registers it. */
class ByToken extends pulumi.CustomResource {}

/** The project setting that points the engine at this checkout's plugin (the SDK's types lack `plugins`). */
const PLUGIN_SETTINGS = {
    plugins: { providers: [{ name: "algorithmia", path: path.join(repoRoot, "bin") }] },
} as Partial<ProjectSettings>;

const SECRET_VALUE = "plugin-secret-3c81f0";

describe("provider plugin pulumi-resource-algorithmia (engine + algorithmia-local)", function () {
    this.timeout(300_000);
    const bed = testBed();
    let stack: Stack;
    let readAcl = "private";

    const aclOnServer = async () =>
        (await call(bed.server, "GET", "/v1/connector/data/alice/plugin_models?acl=true", { key: ALICE.key })).json.acl;

    before(async () => {
        const model = path.join(bed.root, "model.bin");
        fs.writeFileSync(model, "model bytes");
        const source = sourceDirectory(bed.root, "SecretReader", "PluginReader");
        stack = await bed.sandbox.inlineStack(
            "plugin-test",
            "dev",
            async () => {
                const output = (resource: pulumi.CustomResource, name: string) => (resource as any)[name];
                const collection = new ByToken("algorithmia:index:DataCollection", "models", {
                    name: "plugin_models",
                    readAcl,
                    dataUri: undefined,
                });
                const file = new ByToken("algorithmia:index:ModelFile", "model", {
                    collection: output(collection, "dataUri"),
                    name: "model.bin",
                    source: model,
                    dataUri: undefined,
                    sha256: undefined,
                });
                const algorithm = new ByToken("algorithmia:index:Algorithm", "reader", {
                    name: "PluginReader",
                    details: { label: "Plugin reader" },
                    settings: { ...SETTINGS },
                    source,
                    modelFiles: { model: { dataUri: output(file, "dataUri"), sha256: output(file, "sha256") } },
                    algoPath: undefined,
                    gitHash: undefined,
                });
                new ByToken("algorithmia:index:AlgorithmSecret", "token", {
                    algorithm: output(algorithm, "algoPath"),
                    key: "API_TOKEN",
                    value: new pulumi.Config().requireSecret("token"),
                });
                return { dataUri: output(file, "dataUri"), gitHash: output(algorithm, "gitHash") };
            },
            PLUGIN_SETTINGS,
        );
        await configureKey(stack);
        await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        await stack.setConfig("token", { value: SECRET_VALUE, secret: true });
    });

    it("creates every resource through the plugin, with the stack's config", async () => {
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { create: 5 }); // the stack and four
        assert.match(up.outputs.dataUri.value, /^data:\/\/alice\/plugin_models\/model\.[0-9a-f]{16}\.bin$/);
        assert.deepStrictEqual((await aclOnServer()).read, []);
        const read = await bed.client.callAlgorithm(`alice/PluginReader/${up.outputs.gitHash.value}`, "API_TOKEN");
        assert.strictEqual(read.result, SECRET_VALUE, "the algorithm reads the secret made through the plugin");
        const state = bed.sandbox.storedState();
        assert.ok(!state.includes(ALICE.key) && !state.includes(SECRET_VALUE), "no key or secret in the state");
        await stack.preview({ expectNoChanges: true });
    });

    it("updates in place with a detailed diff, refreshes and destroys", async () => {
        readAcl = "public";
        let output = "";
        const preview = await stack.preview({ diff: true, onOutput: (text) => (output += text) });
        assert.deepStrictEqual(preview.changeSummary, { same: 4, update: 1 });
        assert.match(output, /readAcl\s*:\s*"private"\s*=>\s*"public"/);
        await stack.up();
        assert.deepStrictEqual((await aclOnServer()).read, ["user://*"]);
        await stack.refresh();
        await stack.preview({ expectNoChanges: true });
    });

    it("fails at preview on bad input, naming the property", async () => {
        readAcl = "everyone";
        await assert.rejects(stack.preview(), /readAcl: Invalid option: expected one of/);
        readAcl = "public";
    });

    it("destroys everything", async () => {
        await stack.destroy();
        assert.strictEqual(await bed.client.getAlgorithm("alice", "PluginReader"), undefined);
        assert.strictEqual(
            (await call(bed.server, "GET", "/v1/connector/data/alice/plugin_models", { key: ALICE.key })).status,
            404,
        );
        assert.ok(!bed.sandbox.storedState().includes(SECRET_VALUE));
    });

    describe("pulumi import", () => {
        let importing: Stack;
        let declared = false;

        before(async () => {
            // Made elsewhere: an algorithm pushed and built by plain git, a collection by the Data API.
            await deployFixture(bed.server, ALICE.key, "alice", "Hello");
            const made = await call(bed.server, "POST", "/v1/data/alice", {
                key: ALICE.key,
                json: { name: "imported" },
            });
            assert.strictEqual(made.status, 200, made.text);
            const source = sourceDirectory(bed.root, "Hello", "Hello");
            importing = await bed.sandbox.inlineStack(
                "plugin-import",
                "dev",
                async () => {
                    if (!declared) return {};
                    new ByToken("algorithmia:index:DataCollection", "models", { name: "imported" });
                    new ByToken("algorithmia:index:Algorithm", "hello", {
                        name: "Hello",
                        details: { label: "The Hello", summary: "sum", tagline: "tag" },
                        settings: { ...SETTINGS },
                        source,
                    });
                    return {};
                },
                PLUGIN_SETTINGS,
            );
            await configureKey(importing);
            await importing.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        });

        it("imports an algorithm and a collection by id, reading them from the server", async () => {
            await importing.import({
                resources: [
                    { type: "algorithmia:index:Algorithm", name: "hello", id: "alice/Hello" },
                    { type: "algorithmia:index:DataCollection", name: "models", id: "alice/imported" },
                ],
                generateCode: false,
            });
            const resources = (await importing.exportStack()).deployment.resources;
            const algorithm = resources.find((r: any) => r.type === "algorithmia:index:Algorithm");
            const collection = resources.find((r: any) => r.type === "algorithmia:index:DataCollection");
            const built = await bed.client.latestSuccessfulBuild("alice", "Hello");
            assert.strictEqual(algorithm.outputs.gitHash, built?.commit_sha);
            assert.deepStrictEqual(algorithm.inputs.details, { label: "The Hello", summary: "sum", tagline: "tag" });
            assert.strictEqual(algorithm.inputs.settings.license, "apl");
            assert.strictEqual(collection.outputs.dataUri, "data://alice/imported");
        });

        it("is then managed by the program that declares it, and destroyed with the stack", async () => {
            declared = true;
            await importing.up();
            await importing.preview({ expectNoChanges: true });
            const algorithm = (await importing.exportStack()).deployment.resources.find(
                (r: any) => r.type === "algorithmia:index:Algorithm",
            );
            const reply = await bed.client.callAlgorithm(`alice/Hello/${algorithm.outputs.gitHash}`, "import");
            assert.strictEqual(reply.result, "hello import");
            await importing.destroy();
            assert.strictEqual(await bed.client.getAlgorithm("alice", "Hello"), undefined);
        });

        it("refuses an id of the wrong form, saying the form", async () => {
            await assert.rejects(
                importing.import({ resources: [{ type: "algorithmia:index:Algorithm", name: "bad", id: "Hello" }] }),
                /cannot import "Hello": the id must be owner\/name/,
            );
        });
    });
});
