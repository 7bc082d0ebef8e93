// (d) The provider's file hashing (what ModelFile's `check` runs on every preview) against `sha256sum`, on the
// same 1 GiB file, alternately, so both read it from the page cache.
import { execFileSync } from "child_process";
import * as fs from "fs";
import { contentOf, hashStream } from "../provider/resources/modelFile";
import { Benchmark, GiB, round, sideBySide } from "./lib";

export const sha256Benchmark: Benchmark = {
    id: "sha256",
    title: "(d) sha256 throughput vs sha256sum",
    async run(ctx) {
        const file = ctx.bigFile();
        const size = fs.statSync(file).size;
        const expected = execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0]; // also warms the cache
        let ours = "";
        const runs = await sideBySide(
            3,
            // Exactly what ModelFile's check does with a file source.
            async () => (ours = (await hashStream(contentOf(file).open())).sha256),
            async () => execFileSync("sha256sum", [file]),
        );
        if (ours !== expected) throw new Error(`provider hash ${ours} differs from sha256sum ${expected}`);
        const mibps = (s: number) => round(size / 2 ** 20 / s, 1);
        return [
            {
                id: "sha256.ratio",
                label: "sha256 throughput, provider / sha256sum",
                value: round(runs.b / runs.a),
                unit: "ratio",
                how:
                    `Median of 3 alternating runs each over the same ${size / GiB} GiB file (page-cached): ` +
                    "ModelFile's hashStream over its file reader (what its check runs) in this node process vs the coreutils sha256sum binary; ratio = sha256sum time / provider time (1 = as fast).",
                details: {
                    providerMiBps: mibps(runs.a),
                    sha256sumMiBps: mibps(runs.b),
                    providerRunsS: runs.aRuns,
                    sha256sumRunsS: runs.bRuns,
                },
            },
        ];
    },
};
