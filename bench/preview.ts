// (b) `pulumi preview` of an up-to-date stack of N of our resources against the same engine previewing N trivial
// dynamic resources (the engine floor: a provider that does nothing), for N = 10 and 100; and the no-op preview of
// a stack whose model is 1 GiB against the same stack with a 1 KiB model (what ModelFile's check costs per byte).
import * as fs from "fs";
import * as path from "path";
import {
    apiEnv,
    Benchmark,
    FLOOR_PROGRAM,
    BenchContext,
    Figure,
    PROVIDER_IMPORT,
    Project,
    round,
    sideBySide,
} from "./lib";

/** Previews per side and figure: the machine is noisy (one preview of 100 resources took from 4.4 to 5.7 s). */
const ROUNDS = 5;

/** Half DataCollections, half ModelFiles (a small file each), so both diff paths and ModelFile's hashing count. */
const OURS_PROGRAM = `import * as path from "path";
import { DataCollection, ModelFile } from ${PROVIDER_IMPORT};
const count = Number(process.env.BENCH_COUNT);
for (let i = 0; i < count / 2; i++) {
    const collection = new DataCollection("c" + i, { name: "preview" + count + "_" + i, readAcl: "private" });
    new ModelFile("f" + i, { collection: collection.dataUri, name: "model.bin", source: path.join(process.env.BENCH_FILES!, "m" + i + ".bin") });
}
`;

/** One collection and one model file, BENCH_MODEL. */
const MODEL_PROGRAM = `import { DataCollection, ModelFile } from ${PROVIDER_IMPORT};
const collection = new DataCollection("c", { name: process.env.BENCH_COLLECTION!, readAcl: "private" });
new ModelFile("model", { collection: collection.dataUri, name: "model.bin", source: process.env.BENCH_MODEL! });
`;

export const previewBenchmark: Benchmark = {
    id: "preview",
    title: "(b) pulumi preview vs the engine floor",
    async run(ctx) {
        const figures: Figure[] = [];
        for (const count of [10, 100]) {
            // The same graph as ours: pairs, the second resource of each taking the first's output.
            const floor = await new Project(ctx, `floor${count}`, FLOOR_PROGRAM, {
                BENCH_COUNT: String(count),
                BENCH_PAIRED: "1",
            }).init();
            await floor.cli("up", "--yes", "--skip-preview");
            const ours = await oursProject(ctx, count);
            await ours.cli("up", "--yes", "--skip-preview");
            const runs = await sideBySide(
                ROUNDS,
                () => ours.cli("preview", "--expect-no-changes"),
                () => floor.cli("preview", "--expect-no-changes"),
            );
            figures.push({
                id: `preview.n${count}.ratio`,
                label: `preview of ${count} resources, ours / engine floor`,
                value: round(runs.a / runs.b, 2),
                unit: "ratio",
                how:
                    `Median wall time of ${ROUNDS} alternating \`pulumi preview\` runs (CLI, nodejs host, transpile-only) of up-to-date stacks: ` +
                    `${count / 2} DataCollections + ${count / 2} ModelFiles (1 KiB each) against algorithmia-local vs ${count} ` +
                    "dynamic resources whose provider does nothing; ratio = ours / floor (1 = no cost beyond the engine).",
                details: {
                    oursSeconds: round(runs.a),
                    floorSeconds: round(runs.b),
                    oursRunsS: runs.aRuns,
                    floorRunsS: runs.bRuns,
                },
            });
        }
        figures.push(await modelSizeFigure(ctx));
        return figures;
    },
};

async function modelSizeFigure(ctx: BenchContext): Promise<Figure> {
    const small = path.join(ctx.scratch, "model-1KiB.bin");
    fs.writeFileSync(small, Buffer.alloc(1024, 7));
    const server = await ctx.server();
    const project = (name: string, model: string) =>
        new Project(ctx, name, MODEL_PROGRAM, { ...apiEnv(server), BENCH_COLLECTION: name, BENCH_MODEL: model }).init();
    const [big, tiny] = [await project("previewbig", ctx.bigFile()), await project("previewsmall", small)];
    // Files written in the last 2 s are hashed at every check (racily clean): let both age first.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    for (const p of [big, tiny]) await p.cli("up", "--yes", "--skip-preview");
    const runs = await sideBySide(
        ROUNDS,
        () => big.cli("preview", "--expect-no-changes"),
        () => tiny.cli("preview", "--expect-no-changes"),
    );
    return {
        id: "preview.model1GiB.ratio",
        label: "no-op preview with a 1 GiB model / with a 1 KiB model",
        value: round(runs.a / runs.b, 2),
        unit: "ratio",
        how:
            `Median wall time of ${ROUNDS} alternating \`pulumi preview --expect-no-changes\` runs of two up-to-date stacks, a ` +
            "DataCollection and a ModelFile each, the model 1 GiB in one and 1 KiB in the other (1 = the model's size costs nothing).",
        details: {
            bigSeconds: round(runs.a),
            smallSeconds: round(runs.b),
            bigRunsS: runs.aRuns,
            smallRunsS: runs.bRuns,
        },
    };
}

async function oursProject(ctx: BenchContext, count: number): Promise<Project> {
    const files = fs.mkdtempSync(path.join(ctx.scratch, "preview-files-"));
    for (let i = 0; i < count / 2; i++) fs.writeFileSync(path.join(files, `m${i}.bin`), Buffer.alloc(1024, i));
    const server = await ctx.server();
    return new Project(ctx, `ours${count}`, OURS_PROGRAM, {
        ...apiEnv(server),
        BENCH_COUNT: String(count),
        BENCH_FILES: files,
    }).init();
}
