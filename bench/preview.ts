// (b) `pulumi preview` of an up-to-date stack of N of our resources against the same engine previewing N trivial
// dynamic resources (the engine floor: a provider that does nothing), for N = 10 and 100.
import * as fs from "fs";
import * as path from "path";
import { apiEnv, Benchmark, FLOOR_PROGRAM, BenchContext, Figure, PROVIDER_IMPORT, Project, round, sideBySide } from "./lib";

/** Half DataCollections, half ModelFiles (a small file each), so both diff paths and ModelFile's hashing count. */
const OURS_PROGRAM = `import * as path from "path";
import { DataCollection, ModelFile } from ${PROVIDER_IMPORT};
const count = Number(process.env.BENCH_COUNT);
for (let i = 0; i < count / 2; i++) {
    const collection = new DataCollection("c" + i, { name: "preview" + count + "_" + i, readAcl: "private" });
    new ModelFile("f" + i, { collection: collection.dataUri, name: "model.bin", source: path.join(process.env.BENCH_FILES!, "m" + i + ".bin") });
}
`;

export const previewBenchmark: Benchmark = {
    id: "preview",
    title: "(b) pulumi preview vs the engine floor",
    async run(ctx) {
        const figures: Figure[] = [];
        for (const count of [10, 100]) {
            const floor = await new Project(ctx, `floor${count}`, FLOOR_PROGRAM, { BENCH_COUNT: String(count) }).init();
            await floor.cli("up", "--yes", "--skip-preview");
            const ours = await oursProject(ctx, count);
            await ours.cli("up", "--yes", "--skip-preview");
            const runs = await sideBySide(3, () => ours.cli("preview", "--expect-no-changes"), () => floor.cli("preview", "--expect-no-changes"));
            figures.push({
                id: `preview.n${count}.ratio`,
                label: `preview of ${count} resources, ours / engine floor`,
                value: round(runs.a / runs.b, 2),
                unit: "ratio",
                how: `Median wall time of 3 alternating \`pulumi preview\` runs (CLI, nodejs host, transpile-only) of up-to-date stacks: ` +
                    `${count / 2} DataCollections + ${count / 2} ModelFiles (1 KiB each) against algorithmia-local vs ${count} ` +
                    "dynamic resources whose provider does nothing; ratio = ours / floor (1 = no cost beyond the engine).",
                details: { oursSeconds: round(runs.a), floorSeconds: round(runs.b), oursRunsS: runs.aRuns, floorRunsS: runs.bRuns },
            });
        }
        return figures;
    },
};

async function oursProject(ctx: BenchContext, count: number): Promise<Project> {
    const files = fs.mkdtempSync(path.join(ctx.scratch, "preview-files-"));
    for (let i = 0; i < count / 2; i++) fs.writeFileSync(path.join(files, `m${i}.bin`), Buffer.alloc(1024, i));
    const server = await ctx.server();
    return new Project(ctx, `ours${count}`, OURS_PROGRAM, { ...apiEnv(server), BENCH_COUNT: String(count), BENCH_FILES: files }).init();
}
