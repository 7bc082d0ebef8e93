// Environment promotion: one program, a stack per stage (dev, staging, prod), each pointed at its own
// Algorithmia cluster by stack config. Dev and staging build and publish the model guide's algorithm from
// source. A stage with `promoteFrom` (prod) builds nothing new: it reads the promoted stack's outputs through
// a StackReference and deploys that exact content — the provider refuses a source tree whose sha256 differs, the
// program refuses a different model or a build whose tests did not pass (both at preview) — then builds it on its
// own cluster and publishes that build, whose git hash is the cluster's own (each cluster writes its own commits).
// See docs/promotion.md.
//
// Config per stack (Pulumi.<stack>.yaml):
//     algorithmia:apiAddress   the stage's cluster
//     algorithmia:apiKey       a secret: that cluster's key
//     promotion:owner          user or organization owning the algorithm (the same name in every cluster)
//     promotion:promoteFrom    optional: the stack whose build this stage deploys, e.g. "staging"
import * as pulumi from "@pulumi/pulumi";
import { digitClassifier, MODEL_FILE } from "../model-guide/stack";
import { PROMOTED_OUTPUTS, promotableBuild, sha256File } from "./promotion";

export = async () => {
    const config = new pulumi.Config();
    const owner = config.require("owner");
    const promoteFrom = config.get("promoteFrom");

    let promote: { sourceSha256: string } | undefined;
    let promotedFrom: { promotedFrom: string; promotedVersion: string; promotedGitHash: string } | undefined;
    if (promoteFrom) {
        const name = promoteFrom.includes("/")
            ? promoteFrom
            : `${pulumi.getOrganization()}/${pulumi.getProject()}/${promoteFrom}`;
        const upstream = new pulumi.StackReference(name);
        const outputs: Record<string, unknown> = {};
        for (const key of PROMOTED_OUTPUTS) outputs[key] = (await upstream.getOutputDetails(key)).value;
        const build = promotableBuild(name, outputs, sha256File(MODEL_FILE));
        promote = { sourceSha256: build.sourceSha256 };
        promotedFrom = { promotedFrom: promoteFrom, promotedVersion: build.version, promotedGitHash: build.gitHash };
    }

    const deployed = digitClassifier({ owner, promote });
    return {
        gitHash: deployed.gitHash,
        sourceSha256: deployed.sourceSha256,
        modelSha256: deployed.modelSha256,
        version: deployed.version,
        testsPassed: deployed.testsPassed,
        algoUri: deployed.algoUri,
        endpoint: deployed.endpoint,
        sampleInput: deployed.sampleInput,
        ...promotedFrom,
    };
};
