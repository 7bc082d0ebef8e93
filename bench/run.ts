// `npm run bench`: runs every benchmark in one process (so ratios are taken side by side, on the same machine
// state), prints a table and writes bench/results/latest.json. Benchmarks, not tests: nothing here asserts a speed.
//
//   npm run bench                 every benchmark
//   npm run bench -- sha256 upload   only these (ids: see BENCHMARKS)
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiSandbox, repoRoot } from "../test/helpers/pulumi";
import { LocalServer } from "../test/helpers/processes";
import { BENCH_USER, BenchContext, Benchmark, buildProvider, Figure, GiB, writeFile } from "./lib";
import { sha256Benchmark } from "./sha256";
import { previewBenchmark } from "./preview";
import { uploadBenchmark } from "./upload";
import { noopRequestsBenchmark } from "./noop-requests";
import { scaleBenchmark } from "./scale";
import { servingBenchmark } from "./serving";

const BENCHMARKS: Benchmark[] = [
    noopRequestsBenchmark,
    previewBenchmark,
    uploadBenchmark,
    sha256Benchmark,
    scaleBenchmark,
    servingBenchmark,
];

async function main(): Promise<void> {
    const only = process.argv.slice(2);
    const unknown = only.filter((id) => !BENCHMARKS.some((b) => b.id === id));
    if (unknown.length)
        throw new Error(`unknown benchmark ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.id).join(", ")}`);
    const selected = only.length ? BENCHMARKS.filter((b) => only.includes(b.id)) : BENCHMARKS;

    buildProvider();
    const sandbox = await PulumiSandbox.create();
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-algorithmia-bench-"));
    let big: string | undefined;
    let server: Promise<LocalServer> | undefined;
    const ctx: BenchContext = {
        sandbox,
        scratch,
        bigFile() {
            if (!big) writeFile((big = path.join(scratch, "model-1GiB.bin")), GiB);
            return big;
        },
        server() {
            server ??= LocalServer.start({ dataDir: path.join(scratch, "server"), users: [BENCH_USER] });
            return server;
        },
    };

    const started = new Date();
    const figures: Figure[] = [];
    const failures: { benchmark: string; error: string }[] = [];
    try {
        for (const benchmark of selected) {
            const t0 = Date.now();
            process.stderr.write(`bench: ${benchmark.title} ...\n`);
            try {
                figures.push(...(await benchmark.run(ctx)));
            } catch (err) {
                failures.push({ benchmark: benchmark.id, error: (err as Error).message });
                process.stderr.write(`bench: ${benchmark.id} failed: ${(err as Error).message}\n`);
            }
            process.stderr.write(`bench: ${benchmark.id} took ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
        }
    } finally {
        await (await server)?.kill();
        await sandbox.dispose();
        fs.rmSync(scratch, { recursive: true, force: true });
    }

    const report = {
        startedAt: started.toISOString(),
        durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
        machine: {
            cpus: os.cpus().length,
            cpuModel: os.cpus()[0]?.model,
            memoryGiB: Math.round(os.totalmem() / GiB),
            node: process.version,
        },
        figures,
        failures,
    };
    const out = path.join(repoRoot, "bench/results/latest.json");
    fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
    printTable(figures);
    for (const f of failures) console.log(`FAILED ${f.benchmark}: ${f.error}`);
    console.log(
        `\nwritten to ${path.relative(process.cwd(), out)} (${report.durationSeconds} s); each figure's "how" says how it was measured`,
    );
    if (failures.length) process.exitCode = 1;
}

function printTable(figures: Figure[]): void {
    const rows = figures.map((f) => [
        f.label,
        f.value === null ? "-" : String(f.value),
        f.unit,
        f.skipped ? `skipped: ${f.skipped}` : "",
    ]);
    const header = ["figure", "value", "unit", ""];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) =>
        cells
            .map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
            .join("  ")
            .trimEnd();
    console.log(line(header));
    console.log(widths.map((w) => "-".repeat(w)).join("  "));
    for (const row of rows) console.log(line(row));
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
