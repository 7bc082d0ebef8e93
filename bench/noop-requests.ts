// (a) API requests of a no-op `pulumi up` of the model-guide stack, split into reads and writes (goal: no writes).
import * as fs from "fs";
import * as path from "path";
import { repoRoot } from "../test/helpers/pulumi";
import { Benchmark } from "./lib";

export const noopRequestsBenchmark: Benchmark = {
    id: "noop-requests",
    title: "(a) API requests of a no-op up of the model-guide stack",
    async run() {
        const reason = fs.existsSync(path.join(repoRoot, "examples/model-guide/index.ts")) ? "the model-guide bench is not wired yet" : "examples/model-guide does not exist yet";
        return ["reads", "writes"].map((kind) => ({
            id: `noopUp.${kind}`,
            label: `no-op up of model-guide: API ${kind}`,
            value: null,
            unit: "requests",
            how: "not measured",
            skipped: reason,
        }));
    },
};
