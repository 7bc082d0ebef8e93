// The main job end to end: the model-guide stack (the root Pulumi.yaml, examples/model-guide) deployed by the
// real engine onto algorithmia-local, the published version called with the official `algorithmia` npm client,
// a second up and a preview that change nothing, and destroy. Also: the committed model is what the training
// script produces.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { callAlgorithm } from "../../examples/model-guide/call";
import { EXPECTED_LABELS, MODEL_FILE, TEST_DATA_FILE } from "../../examples/model-guide/stack";
import { sha256File } from "../../examples/promotion/promotion";
import { ensurePythonRuntime } from "../../server/runtime/python-env";
import { gpuDevices } from "../../server/runtime/workers";
import { copyExamples } from "../helpers/examples";
import { ALICE, BOB, call } from "../helpers/server";
import { testBed } from "../helpers/testBed";

describe("model-guide stack", function () {
    const bed = testBed();
    let stack: Stack;
    let project: string;
    let outputs: Record<string, any>;
    const upOutputs = async () => {
        const up = await stack.up();
        assert.strictEqual(up.summary.result, "succeeded");
        return Object.fromEntries(Object.entries(up.outputs).map(([key, o]) => [key, o.value]));
    };

    before(async () => {
        await ensurePythonRuntime();
        project = copyExamples(path.join(bed.sandbox.root, "repo"), { rootProject: true });
        stack = await bed.sandbox.projectStack(project, "guide");
        await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
    });

    it("trains the committed model and test data reproducibly", async () => {
        const out = path.join(bed.sandbox.root, "trained");
        const { python } = await ensurePythonRuntime();
        const log = execFileSync(python, [path.join(path.dirname(MODEL_FILE), "train.py"), out], { encoding: "utf8" });
        assert.match(log, /held-out accuracy 0\.96\d\d; test\.csv predicts \[2, 0, 9, 0, 3, 7, 0, 3, 0, 3\]/);
        assert.strictEqual(sha256File(path.join(out, "digits-svc.joblib")), sha256File(MODEL_FILE));
        assert.strictEqual(sha256File(path.join(out, "test.csv")), sha256File(TEST_DATA_FILE));
    });

    it("deploys the guide: collection, model, algorithm, tested and published version", async () => {
        const up = await stack.up();
        assert.strictEqual(up.summary.result, "succeeded");
        assert.deepStrictEqual(up.summary.resourceChanges, { create: 6 });
        outputs = Object.fromEntries(Object.entries(up.outputs).map(([key, o]) => [key, o.value]));

        assert.strictEqual(outputs.algoUri, "alice/DigitClassifier/0.1.0");
        assert.strictEqual(outputs.version, "0.1.0");
        assert.strictEqual(outputs.testsPassed, 2);
        assert.match(outputs.gitHash, /^[0-9a-f]{40}$/);
        assert.match(outputs.sourceSha256, /^[0-9a-f]{64}$/);
        // Each content under a name of its own (16 hex digits of its sha256), which the algorithm's manifest names.
        assert.strictEqual(
            outputs.modelUri,
            `data://alice/digits/digits-svc.${sha256File(MODEL_FILE).slice(0, 16)}.joblib`,
        );
        assert.strictEqual(outputs.modelSha256, sha256File(MODEL_FILE));
        assert.strictEqual(
            outputs.sampleInput,
            JSON.stringify({ test_data: `data://alice/digits/test.${sha256File(TEST_DATA_FILE).slice(0, 16)}.csv` }),
        );
        assert.strictEqual(outputs.endpoint, `${bed.server.url}/v1/algo/alice/DigitClassifier/0.1.0`);

        // What the server holds: the model bytes, the algorithm's settings, the version bound to the build.
        const model = await call(bed.server, "GET", `/v1/connector/data/${outputs.modelUri.slice("data://".length)}`, {
            key: ALICE.key,
        });
        assert.strictEqual(model.status, 200);
        const algo = await call(bed.server, "GET", "/v1/algorithms/alice/DigitClassifier", { key: ALICE.key });
        assert.strictEqual(algo.json.settings.environment, "gpu");
        assert.strictEqual(algo.json.settings.algorithm_callability, "public");
        const version = await call(
            bed.server,
            "GET",
            `/v1/algorithms/alice/DigitClassifier/versions/${outputs.gitHash}`,
            { key: ALICE.key },
        );
        assert.strictEqual(version.json.version_info.semantic_version, "0.1.0");
    });

    it("answers the guide's input through the official npm client, for any caller", async () => {
        const input = JSON.parse(outputs.sampleInput);
        const reply = await callAlgorithm(outputs.algoUri, input, { apiKey: ALICE.key, apiAddress: bed.server.url });
        assert.deepStrictEqual(reply.result, EXPECTED_LABELS);
        assert.strictEqual(reply.metadata.content_type, "json");
        // The GPU environment: the reply names the GPUs the worker saw; without one it ran on CPU and says so.
        if (gpuDevices().length) assert.deepStrictEqual((reply.metadata as { gpus?: unknown }).gpus, gpuDevices());
        else assert.match(String(reply.metadata.alerts), /GPU environment, but this server has no GPU: it ran on CPU/);
        // Public and royalty-free: another user calls it too (the model is read as the algorithm's owner).
        const asBob = await callAlgorithm(outputs.algoUri, input, { apiKey: BOB.key, apiAddress: bed.server.url });
        assert.deepStrictEqual(asBob.result, EXPECTED_LABELS);
        await assert.rejects(
            callAlgorithm(outputs.algoUri, { images: [[1, 2, 3]] }, { apiKey: ALICE.key, apiAddress: bed.server.url }),
            /InputError: each image needs 64 pixel values/,
        );
    });

    it("changes nothing on a second up and previews no changes", async () => {
        const again = await stack.up();
        assert.deepStrictEqual(again.summary.resourceChanges, { same: 6 });
        await stack.preview({ expectNoChanges: true });
    });

    it("keeps the API key out of the stored state", async () => {
        const stored = bed.sandbox.storedState();
        assert.match(stored, /"algoUri":\s*"alice\/DigitClassifier\/0\.1\.0"/, "the deployment is in the stored state");
        assert.ok(!stored.includes(ALICE.key), "the key appears in the stored state");
    });

    it("retrains: v2 serves the new model, v1 keeps its own bytes across a restart, and a rollback uploads nothing", async () => {
        const first = { ...outputs };
        const modelHere = path.join(project, "examples/model-guide/model/digits-svc.joblib");
        const original = fs.readFileSync(modelHere);
        // A retrained model: the same estimator saved again with compression, so other bytes that still pass the tests.
        const { python } = await ensurePythonRuntime();
        execFileSync(python, [
            "-c",
            "import sys, joblib; joblib.dump(joblib.load(sys.argv[1]), sys.argv[1], compress=3)",
            modelHere,
        ]);
        assert.notStrictEqual(sha256File(modelHere), first.modelSha256);
        const retrained = await upOutputs();
        assert.deepStrictEqual([retrained.version, retrained.modelSha256], ["0.2.0", sha256File(modelHere)]);
        assert.notStrictEqual(retrained.modelUri, first.modelUri, "the new model is a new file");

        // Cold workers load the model again: each version must read the bytes its manifest names.
        bed.server = await bed.server.restart();
        const sample = JSON.parse(first.sampleInput);
        const call = (uri: string) => callAlgorithm(uri, sample, { apiKey: BOB.key, apiAddress: bed.server.url });
        assert.deepStrictEqual((await call(first.algoUri)).result, EXPECTED_LABELS, "0.1.0 still loads its own model");
        assert.deepStrictEqual((await call(retrained.algoUri)).result, EXPECTED_LABELS);
        const bytes = async (uri: string) =>
            Buffer.from(
                await (
                    await fetch(`${bed.server.url}/v1/connector/data/${uri.slice("data://".length)}`, {
                        headers: { authorization: `Simple ${ALICE.key}` },
                    })
                ).arrayBuffer(),
            );
        assert.ok((await bytes(first.modelUri)).equals(original), "the first model's bytes are untouched");

        // Rolling back is pointing the program at the old model again: a new version serving it, no upload.
        fs.writeFileSync(modelHere, original);
        bed.server.faults.resetCounts();
        const rolledBack = await upOutputs();
        const uploads = Object.entries(bed.server.faults.counts().routes).filter(([route]) =>
            route.startsWith("PUT /v1/connector/data"),
        );
        assert.deepStrictEqual(uploads, [], "the old model was not uploaded again");
        assert.deepStrictEqual(
            [rolledBack.version, rolledBack.modelUri, rolledBack.sourceSha256],
            ["0.3.0", first.modelUri, first.sourceSha256],
        );
        assert.deepStrictEqual((await call(rolledBack.algoUri)).result, EXPECTED_LABELS);
        await stack.preview({ expectNoChanges: true });
        outputs = rolledBack;
    });

    it("destroys the stack: the data goes, the public algorithm stays (Algorithmia never deletes those)", async () => {
        const down = await stack.destroy();
        assert.strictEqual(down.summary.result, "succeeded");
        assert.strictEqual(down.summary.resourceChanges?.delete, 6);
        const collection = await call(bed.server, "GET", "/v1/connector/data/alice/digits", { key: ALICE.key });
        assert.strictEqual(collection.status, 404);
        const algo = await call(bed.server, "DELETE", "/v1/algorithms/alice/DigitClassifier", { key: ALICE.key });
        assert.match(algo.text, /has a public published version and cannot be deleted/);
    });

    it("deploys again over the algorithm a destroy had to leave, with adopt", async () => {
        await assert.rejects(stack.up(), /Algorithm alice\/DigitClassifier already exists: set `adopt: true`/);
        await stack.setConfig("model-guide:adopt", { value: "true" });
        const up = await stack.up();
        assert.strictEqual(up.outputs.gitHash.value, outputs.gitHash, "the same tree on master is the same build");
        assert.strictEqual(
            up.outputs.algoUri.value,
            outputs.algoUri,
            "that build's version is adopted, not published again",
        );
        await stack.preview({ expectNoChanges: true });
    });
});
