// (e) `pulumi up` time for 10, 50 and 100 algorithms built from source, with the engine's default parallelism.
import * as fs from "fs";
import * as path from "path";
import { LocalServer } from "../test/helpers/processes";
import { apiEnv, BENCH_USER, Benchmark, Figure, PROVIDER_IMPORT, Project, round, seconds } from "./lib";

const PROGRAM = `import { Algorithm } from ${PROVIDER_IMPORT};
for (let i = 0; i < Number(process.env.BENCH_COUNT); i++) {
    new Algorithm("algo" + i, {
        name: "Bench" + i,
        details: { label: "Bench " + i },
        settings: { language: "python3-1", environment: "cpu", license: "apl", sourceVisibility: "closed", networkAccess: "isolated", pipelineEnabled: false },
        source: process.env.BENCH_SOURCES + "/Bench" + i,
    });
}
`;

export const scaleBenchmark: Benchmark = {
    id: "scale",
    title: "(e) up time for 10, 50 and 100 algorithms",
    async run(ctx) {
        const counts = [10, 50, 100];
        // One source tree per algorithm: the entry module is src/<name>.py.
        const sources = fs.mkdtempSync(path.join(ctx.scratch, "scale-sources-"));
        for (let i = 0; i < Math.max(...counts); i++) {
            fs.mkdirSync(path.join(sources, `Bench${i}`, "src"), { recursive: true });
            fs.writeFileSync(path.join(sources, `Bench${i}`, "requirements.txt"), "algorithmia\n");
            fs.writeFileSync(path.join(sources, `Bench${i}`, "src", "__init__.py"), "");
            fs.writeFileSync(path.join(sources, `Bench${i}`, "src", `Bench${i}.py`), `def apply(input):\n    return {"bench": ${i}, "input": input}\n`);
        }
        const figures: Figure[] = [];
        for (const count of counts) {
            // A fresh server each time, so every run creates, pushes and builds from nothing.
            const server = await LocalServer.start({ users: [BENCH_USER] });
            try {
                const project = await new Project(ctx, `scale${count}`, PROGRAM, {
                    ...apiEnv(server),
                    BENCH_COUNT: String(count),
                    BENCH_SOURCES: sources,
                }).init();
                const { s } = await seconds(() => project.cli("up", "--yes", "--skip-preview"));
                const noop = await seconds(() => project.cli("up", "--yes", "--skip-preview"));
                figures.push({
                    id: `scale.n${count}.upSeconds`,
                    label: `up of ${count} algorithms (create, git push, build)`,
                    value: round(s, 1),
                    unit: "s",
                    how: `Wall time of one \`pulumi up --skip-preview\` (CLI, default parallelism, transpile-only) creating ${count} ` +
                        "Algorithms (a one-function Python source each) against a fresh algorithmia-local process: POST, git push, wait for each " +
                        "build (Python byte-compile on the server). Same 2-core machine runs engine, provider, server and builds.",
                    details: { perAlgorithmSeconds: round(s / count, 2), noChangeUpSeconds: round(noop.s, 1) },
                });
            } finally {
                await server.dispose();
            }
        }
        return figures;
    },
};
