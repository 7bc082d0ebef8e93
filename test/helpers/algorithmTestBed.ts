// What the Algorithm and AlgorithmVersion suites share: their algorithms' settings, source directories copied from
// a fixture algorithm (test/fixtures/algorithms/<fixture>), renamed for the algorithm they will be (the server imports
// src/<algorithm name>.py) and edited with plain file writes, as a user changes their code.
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { repoRoot } from "./pulumi";
import { ALICE } from "./server";

export const SETTINGS = {
    language: "python3-1",
    environment: "cpu",
    license: "apl",
    sourceVisibility: "closed",
    networkAccess: "isolated",
    pipelineEnabled: false,
} as const;

/** Alice's key as a secret in the stack's config, as a user would set it. */
export async function configureKey(stack: Stack): Promise<void> {
    await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
}

/** The stack's outputs as plain values. */
export async function outputValues(stack: Stack): Promise<Record<string, any>> {
    return Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
}

/** Copies `fixture` to `<root>/<dirName>` as the source of algorithm `algoName`; answers the directory. */
export function sourceDirectory(root: string, fixture: string, algoName: string, dirName = algoName): string {
    const dir = path.join(root, dirName);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(path.join(repoRoot, "test/fixtures/algorithms", fixture), dir, { recursive: true });
    if (fixture !== algoName) {
        fs.renameSync(path.join(dir, "src", `${fixture}.py`), path.join(dir, "src", `${algoName}.py`));
    }
    const conf = JSON.parse(fs.readFileSync(path.join(dir, "algorithmia.conf"), "utf8"));
    fs.writeFileSync(
        path.join(dir, "algorithmia.conf"),
        JSON.stringify({ ...conf, algoname: algoName }, null, 2) + "\n",
    );
    return dir;
}

/** Rewrites the Greeter fixture's greeting in `dir` (src/<algoName>.py). */
export function setGreeting(dir: string, algoName: string, greeting: string): void {
    const file = path.join(dir, "src", `${algoName}.py`);
    fs.writeFileSync(
        file,
        fs.readFileSync(file, "utf8").replace(/^GREETING = .*$/m, `GREETING = ${JSON.stringify(greeting)}`),
    );
}
