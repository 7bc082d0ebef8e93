// The ONNX model guide end to end (examples/onnx-model-guide): its training script makes a network that answers
// the model guide's input; the program, deployed by the real engine onto algorithmia-local, builds an algorithm
// whose own environment has onnxruntime (the server's runtime has none), publishes it after its tests, and the
// published version answers the model guide's labels for any caller; a second up changes nothing; destroy.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { callAlgorithm } from "../../examples/model-guide/call";
import { EXPECTED_LABELS } from "../../examples/model-guide/stack";
import { DIGIT_NET } from "../../examples/onnx-model-guide/stack";
import { sha256File } from "../../examples/promotion/promotion";
import { ensureAlgorithmEnvironment, ensurePythonRuntime } from "../../server/runtime/python-env";
import { gpuDevices } from "../../server/runtime/workers";
import { copyExamples } from "../helpers/examples";
import { ALICE, BOB, call } from "../helpers/server";
import { testBed } from "../helpers/testBed";

describe("ONNX model-guide stack", function () {
    const bed = testBed();
    let stack: Stack;
    let outputs: Record<string, any>;

    before(async () => {
        const root = copyExamples(path.join(bed.sandbox.root, "repo"));
        stack = await bed.sandbox.projectStack(path.join(root, "examples/onnx-model-guide"), "onnx");
        await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
    });

    it("trains and exports a network that answers the model guide's test images", async function () {
        this.timeout(15 * 60_000); // the training environment may have to be made first
        const modelDir = path.dirname(DIGIT_NET.modelFile);
        const { python } = await ensureAlgorithmEnvironment(modelDir, ["requirements.txt"], () => undefined);
        const out = path.join(bed.sandbox.root, "trained");
        const log = execFileSync(python, [path.join(modelDir, "train.py"), out], { encoding: "utf8" });
        assert.match(
            log,
            /held-out accuracy 0\.9\d+; the ONNX export \(\d+ bytes\) predicts \[2, 0, 9, 0, 3, 7, 0, 3, 0, 3\]/,
        );
        assert.ok(fs.statSync(path.join(out, "digits-mlp.onnx")).size > 10_000);
    });

    it("deploys: the build installs onnxruntime into the algorithm's own environment, tests and publishes", async () => {
        const { python } = await ensurePythonRuntime();
        assert.throws(
            () => execFileSync(python, ["-c", "import onnxruntime"], { stdio: "pipe" }),
            "the server's runtime has no onnxruntime",
        );
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { create: 6 });
        outputs = Object.fromEntries(Object.entries(up.outputs).map(([key, o]) => [key, o.value]));
        assert.deepStrictEqual([outputs.algoUri, outputs.testsPassed], ["alice/DigitNet/0.1.0", 2]);
        assert.strictEqual(outputs.modelSha256, sha256File(DIGIT_NET.modelFile));
        const builds = await call(bed.server, "GET", "/v1/algorithms/alice/DigitNet/builds", { key: ALICE.key });
        const log = await call(
            bed.server,
            "GET",
            `/v1/algorithms/alice/DigitNet/builds/${builds.json.results[0].build_id}/logs`,
            { key: ALICE.key },
        );
        assert.match(log.json.logs, /onnxruntime==1\.32\.0/);
    });

    it("answers the model guide's input with the model guide's labels, for any caller", async () => {
        const input = JSON.parse(outputs.sampleInput);
        const reply = await callAlgorithm(outputs.algoUri, input, { apiKey: BOB.key, apiAddress: bed.server.url });
        assert.deepStrictEqual(reply.result, EXPECTED_LABELS);
        if (gpuDevices().length) assert.deepStrictEqual((reply.metadata as { gpus?: unknown }).gpus, gpuDevices());
        else assert.match(String(reply.metadata.alerts), /GPU environment, but this server has no GPU: it ran on CPU/);
        const rows = fs
            .readFileSync(
                path.join(path.dirname(DIGIT_NET.modelFile), "..", "..", "model-guide", "model", "test.csv"),
                "utf8",
            )
            .trim()
            .split("\n")
            .map((line) => line.split(",").map(Number));
        assert.deepStrictEqual(
            (await callAlgorithm(outputs.algoUri, { images: rows }, { apiKey: ALICE.key, apiAddress: bed.server.url }))
                .result,
            EXPECTED_LABELS,
        );
        await assert.rejects(
            callAlgorithm(outputs.algoUri, { images: [[1, 2, 3]] }, { apiKey: ALICE.key, apiAddress: bed.server.url }),
            /InputError: each image needs 64 pixel values/,
        );
    });

    it("changes nothing on a second up and previews no changes", async () => {
        assert.deepStrictEqual((await stack.up()).summary.resourceChanges, { same: 6 });
        await stack.preview({ expectNoChanges: true });
    });

    it("destroys the stack: the data goes, the public algorithm stays", async () => {
        assert.strictEqual((await stack.destroy()).summary.resourceChanges?.delete, 6);
        assert.strictEqual(
            (await call(bed.server, "GET", "/v1/connector/data/alice/digits_onnx", { key: ALICE.key })).status,
            404,
        );
        assert.ok((await call(bed.server, "GET", "/v1/algorithms/alice/DigitNet", { key: ALICE.key })).status === 200);
    });
});
