// The model guide in another language (examples/model-guide-python, examples/model-guide-yaml): a copy of the
// example as a stack of the suite's engine sandbox, run with the real `pulumi` CLI against the suite's server, and
// what every version of the guide must do once deployed.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { callAlgorithm } from "../../examples/model-guide/call";
import { ALGORITHM_SOURCE, DIGIT_CLASSIFIER, EXPECTED_LABELS, MODEL_FILE } from "../../examples/model-guide/stack";
import { sourceSha256 } from "../../provider/resources/algorithmSource";
import { sha256File } from "../../examples/promotion/promotion";
import { copyExamples } from "./examples";
import { ALICE, BOB } from "./server";
import { TestBed } from "./testBed";

export interface GuideProgram {
    dir: string;
    /** `pulumi ARGS --stack dev` in the example's directory. */
    pulumi(...args: string[]): Promise<string>;
    /** The stack's outputs, secrets shown. */
    outputs(): Promise<Record<string, any>>;
}

/** Copies `examples/<example>` and makes its stack `dev`, configured for alice on the suite's server. */
export async function guideProgram(bed: TestBed, example: string): Promise<GuideProgram> {
    const dir = path.join(copyExamples(path.join(bed.sandbox.root, "repo")), "examples", example);
    const pulumi = (...args: string[]) => bed.sandbox.cliAsync(dir, [...args, "--stack", "dev"]);
    await bed.sandbox.cliAsync(dir, ["stack", "init", "dev"]);
    await pulumi("config", "set", "algorithmia:apiAddress", bed.server.url);
    await pulumi("config", "set", "--secret", "algorithmia:apiKey", ALICE.key);
    return {
        dir,
        pulumi,
        outputs: async () => JSON.parse(await pulumi("stack", "output", "--json", "--show-secrets")),
    };
}

/** What the deployed guide's outputs say, and that its version answers the guide's input for alice and bob. */
export async function assertGuideDeployed(bed: TestBed, outputs: Record<string, any>): Promise<void> {
    assert.strictEqual(outputs.algoUri, "alice/DigitClassifier/0.1.0");
    assert.strictEqual(outputs.version, "0.1.0");
    assert.strictEqual(outputs.testsPassed, 2);
    assert.strictEqual(outputs.modelSha256, sha256File(MODEL_FILE));
    assert.strictEqual(
        outputs.modelUri,
        `data://alice/digits/digits-svc.${sha256File(MODEL_FILE).slice(0, 16)}.joblib`,
    );
    // The tree the TypeScript guide builds: the same source, dependencies and frozen model manifest.
    const md5 = crypto.createHash("md5").update(fs.readFileSync(MODEL_FILE)).digest("hex");
    const tree = await sourceSha256({
        source: ALGORITHM_SOURCE,
        dependencies: DIGIT_CLASSIFIER.dependencies,
        modelFiles: { model: { dataUri: outputs.modelUri, sha256: outputs.modelSha256, md5 } },
    });
    assert.strictEqual(outputs.sourceSha256, tree, "the TypeScript guide's tree");
    assert.strictEqual(outputs.endpoint, `${bed.server.url}/v1/algo/alice/DigitClassifier/0.1.0`);
    const input = JSON.parse(outputs.sampleInput);
    assert.deepStrictEqual(input, { test_data: outputs.testDataUri });
    for (const key of [ALICE.key, BOB.key]) {
        const reply = await callAlgorithm(outputs.algoUri, input, { apiKey: key, apiAddress: bed.server.url });
        assert.deepStrictEqual(reply.result, EXPECTED_LABELS);
    }
    assert.ok(!bed.sandbox.storedState().includes(ALICE.key), "the key appears in the stored state");
}
