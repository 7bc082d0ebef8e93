// Environment promotion end to end (examples/promotion, docs/design.md §6): three algorithmia-local "clusters"
// (dev, staging, prod: own address, own data, own key, the same organization `mlteam`), one program with a
// stack per stage. Dev and staging build from source; prod deploys staging's exact tree (sourceSha256) and model
// sha256, builds and publishes them on its own cluster, where every commit differs (each cluster writes its own
// first commit, as real ones do), answers the same, and refuses (at preview) a different tree or model.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { callAlgorithm } from "../../examples/model-guide/call";
import { AlgorithmiaClient } from "../../provider/client";
import { EXPECTED_LABELS } from "../../examples/model-guide/stack";
import { sha256File } from "../../examples/promotion/promotion";
import { ensurePythonRuntime } from "../../server/runtime/python-env";
import { copyExamples } from "../helpers/examples";
import { PulumiSandbox } from "../helpers/pulumi";
import { startTestServer, TestServer } from "../helpers/server";

const STAGES = ["dev", "staging", "prod"] as const;
type Stage = (typeof STAGES)[number];

describe("promotion dev → staging → prod", function () {
    let sandbox: PulumiSandbox;
    let root: string;
    const servers = {} as Record<Stage, TestServer>;
    const keys = {} as Record<Stage, string>;
    const stacks = {} as Record<Stage, Stack>;
    const outputs = {} as Record<Stage, Record<string, any>>;

    const algorithmFile = () => path.join(root, "examples/model-guide/algorithm/src/DigitClassifier.py");
    const modelFile = () => path.join(root, "examples/model-guide/model/digits-svc.joblib");
    async function up(stage: Stage): Promise<Record<string, any>> {
        const result = await stacks[stage].up();
        assert.strictEqual(result.summary.result, "succeeded");
        outputs[stage] = Object.fromEntries(Object.entries(result.outputs).map(([key, o]) => [key, o.value]));
        return outputs[stage];
    }
    const answer = (stage: Stage) =>
        callAlgorithm(outputs[stage].algoUri, JSON.parse(outputs[stage].sampleInput), {
            apiKey: keys[stage],
            apiAddress: servers[stage].url,
        });

    before(async () => {
        await ensurePythonRuntime();
        sandbox = await PulumiSandbox.create();
        root = copyExamples(path.join(sandbox.root, "repo"));
        for (const stage of STAGES) {
            keys[stage] = `sim${stage}DeployerKey${"0".repeat(12)}`;
            servers[stage] = await startTestServer({
                users: [{ name: "deployer", key: keys[stage] }],
                orgs: [{ name: "mlteam", members: ["deployer"] }],
            });
            stacks[stage] = await sandbox.projectStack(path.join(root, "examples/promotion"), stage);
            // The committed Pulumi.<stage>.yaml names owner mlteam; point each stage at its own test cluster.
            await stacks[stage].setConfig("algorithmia:apiAddress", { value: servers[stage].url });
            await stacks[stage].setConfig("algorithmia:apiKey", { value: keys[stage], secret: true });
        }
    });
    after(async () => {
        await sandbox?.dispose();
        for (const stage of STAGES) await servers[stage]?.dispose();
    });

    it("refuses to promote from a staging that was never deployed", async () => {
        await assert.rejects(
            stacks.prod.preview(),
            /stack "organization\/promotion\/staging" has no gitHash, sourceSha256, modelSha256, version, testsPassed output/,
        );
    });

    it("builds and publishes dev and staging from source", async () => {
        const dev = await up("dev");
        const staging = await up("staging");
        for (const out of [dev, staging]) {
            assert.strictEqual(out.algoUri, "mlteam/DigitClassifier/0.1.0");
            assert.strictEqual(out.testsPassed, 2);
            assert.strictEqual(out.modelSha256, sha256File(modelFile()));
        }
        // Same owner, same data URIs: the same tree, yet each cluster's own commit (its first commit is its own).
        assert.strictEqual(dev.sourceSha256, staging.sourceSha256);
        assert.notStrictEqual(dev.gitHash, staging.gitHash);
    });

    it("deploys staging's exact tree and model to prod, builds and publishes it there, and answers the same", async () => {
        const prod = await up("prod");
        const staging = outputs.staging;
        assert.strictEqual(prod.sourceSha256, staging.sourceSha256);
        assert.notStrictEqual(prod.gitHash, staging.gitHash, "prod's own build, on its own commit");
        assert.strictEqual(prod.promotedGitHash, staging.gitHash);
        assert.strictEqual(prod.modelSha256, staging.modelSha256);
        assert.strictEqual(prod.promotedFrom, "staging");
        assert.strictEqual(prod.promotedVersion, staging.version);
        assert.strictEqual(prod.testsPassed, 2);
        const [fromProd, fromStaging] = await Promise.all([answer("prod"), answer("staging")]);
        assert.deepStrictEqual(fromProd.result, EXPECTED_LABELS);
        assert.deepStrictEqual(fromProd.result, fromStaging.result);
        await stacks.prod.preview({ expectNoChanges: true });
    });

    it("refuses at preview a source tree that is not staging's", async () => {
        const original = fs.readFileSync(algorithmFile());
        fs.appendFileSync(algorithmFile(), "\n# an unreviewed edit\n");
        try {
            await assert.rejects(
                stacks.prod.preview(),
                /expectedSourceSha256: the source tree hashes to [0-9a-f]{64}, not the expected [0-9a-f]{64}: refusing to deploy a tree other than the one expected/,
            );
        } finally {
            fs.writeFileSync(algorithmFile(), original);
        }
    });

    it("refuses at preview a model that is not staging's", async () => {
        const original = fs.readFileSync(modelFile());
        fs.appendFileSync(modelFile(), Buffer.from([0]));
        try {
            await assert.rejects(
                stacks.prod.preview(),
                /the model here has sha256 [0-9a-f]{64}, stack "organization\/promotion\/staging" deployed [0-9a-f]{64}; refusing/,
            );
        } finally {
            fs.writeFileSync(modelFile(), original);
        }
        await stacks.prod.preview({ expectNoChanges: true });
    });

    it("promotes the next staging build, and keeps every key out of the stored state", async () => {
        fs.appendFileSync(algorithmFile(), "\n# reviewed: release 0.2\n");
        const staging = await up("staging");
        assert.strictEqual(staging.version, "0.2.0");
        assert.notStrictEqual(staging.gitHash, outputs.dev.gitHash);
        const prod = await up("prod");
        assert.strictEqual(prod.version, "0.2.0");
        assert.strictEqual(prod.sourceSha256, staging.sourceSha256);
        assert.deepStrictEqual((await answer("prod")).result, EXPECTED_LABELS);

        const stored = sandbox.storedState();
        for (const stage of STAGES)
            assert.ok(!stored.includes(keys[stage]), `${stage}'s key appears in the stored state`);
    });

    it("publishes staging's tree on prod even when prod's history was changed by hand: content, not commits", async () => {
        // Someone pushes straight to prod's repository: the provider makes master's tree staging's again.
        const prodClient = new AlgorithmiaClient({ apiAddress: servers.prod.url, apiKey: keys.prod });
        const handmade = await prodClient.pushSource(
            "mlteam",
            "DigitClassifier",
            [{ path: "README.md", mode: "100644", content: Buffer.from("hotfix\n") }],
            "hotfix",
        );
        assert.strictEqual(handmade.pushed, true);

        fs.appendFileSync(algorithmFile(), "\n# reviewed: release 0.3\n");
        const staging = await up("staging");
        const prod = await up("prod");
        assert.deepStrictEqual([prod.version, prod.sourceSha256], ["0.3.0", staging.sourceSha256]);
        assert.strictEqual(
            (await prodClient.sourceOnServer("mlteam", "DigitClassifier"))?.sha256,
            staging.sourceSha256,
            "the hotfix is gone from master",
        );
        const published = await prodClient.findPublishedVersion("mlteam", "DigitClassifier", prod.gitHash);
        assert.strictEqual(published?.version_info?.semantic_version, "0.3.0");
        assert.deepStrictEqual((await answer("prod")).result, EXPECTED_LABELS);
        await stacks.prod.preview({ expectNoChanges: true });
    });
});
