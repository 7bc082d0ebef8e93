// What prod takes from staging, and when it refuses (docs/design.md §6). Pure functions, so the rules are tested on
// their own (test/unit/promotion.test.ts) as well as end to end (test/integration/promotion.test.ts).
import * as crypto from "crypto";
import * as fs from "fs";

/** The outputs a stage exports for the next one to promote. */
export const PROMOTED_OUTPUTS = ["gitHash", "sourceSha256", "modelSha256", "version", "testsPassed"] as const;

export interface PromotedBuild {
    gitHash: string;
    sourceSha256: string;
    modelSha256: string;
    version: string;
    testsPassed: number;
}

/**
 * Checks what a StackReference returned (`outputs`, possibly incomplete) against the model this stage would
 * upload; returns the build to deploy or throws an error saying why promotion is refused.
 */
export function promotableBuild(
    from: string,
    outputs: Record<string, unknown>,
    localModelSha256: string,
): PromotedBuild {
    const missing = PROMOTED_OUTPUTS.filter(
        (key) => outputs[key] === undefined || outputs[key] === null || outputs[key] === "",
    );
    if (missing.length) {
        throw new Error(
            `promotion: stack "${from}" has no ${missing.join(", ")} output; deploy it (pulumi up --stack ` +
                `${from.split("/").pop()}) before promoting from it`,
        );
    }
    const build = Object.fromEntries(PROMOTED_OUTPUTS.map((key) => [key, outputs[key]])) as unknown as PromotedBuild;
    if (!(typeof build.testsPassed === "number" && build.testsPassed > 0)) {
        throw new Error(
            `promotion: stack "${from}" reports testsPassed=${JSON.stringify(build.testsPassed)}; ` +
                "only a build whose version tests passed can be promoted",
        );
    }
    if (build.modelSha256 !== localModelSha256) {
        throw new Error(
            `promotion: the model here has sha256 ${localModelSha256}, stack "${from}" deployed ` +
                `${build.modelSha256}; refusing to deploy a different model than the one being promoted`,
        );
    }
    return build;
}

export function sha256File(file: string): string {
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}
