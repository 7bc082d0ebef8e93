// The refusal rules of examples/promotion: what a promoting stage accepts from the promoted stack's outputs.
import * as assert from "assert";
import { promotableBuild } from "../../examples/promotion/promotion";

const staging = "organization/promotion/staging";
const good = {
    gitHash: "a".repeat(40),
    sourceSha256: "b".repeat(64),
    modelSha256: "c".repeat(64),
    version: "0.1.0",
    testsPassed: 2,
};

describe("promotion rules", () => {
    it("accepts a tested build with the same model", () => {
        assert.deepStrictEqual(
            promotableBuild(staging, { ...good, algoUri: "mlteam/DigitClassifier/0.1.0" }, good.modelSha256),
            good,
        );
    });

    it("refuses a stack that was never deployed, naming the missing outputs", () => {
        assert.throws(
            () => promotableBuild(staging, {}, good.modelSha256),
            /stack "organization\/promotion\/staging" has no gitHash, sourceSha256, modelSha256, version, testsPassed output; deploy it \(pulumi up --stack staging\)/,
        );
        assert.throws(
            () => promotableBuild(staging, { ...good, gitHash: "" }, good.modelSha256),
            /has no gitHash output/,
        );
    });

    it("refuses a build whose tests did not pass", () => {
        assert.throws(
            () => promotableBuild(staging, { ...good, testsPassed: 0 }, good.modelSha256),
            /testsPassed=0; only a build whose version tests passed/,
        );
        assert.throws(
            () => promotableBuild(staging, { ...good, testsPassed: "2" }, good.modelSha256),
            /testsPassed="2"/,
        );
    });

    it("refuses a different model", () => {
        const other = "d".repeat(64);
        assert.throws(
            () => promotableBuild(staging, good, other),
            new RegExp(`the model here has sha256 ${other}, stack "${staging}" deployed ${good.modelSha256}; refusing`),
        );
    });
});
