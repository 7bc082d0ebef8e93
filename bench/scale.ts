// (e) `pulumi up` time for 10, 50 and 100 algorithms built from source, with the engine's default parallelism, beside
// the same work done by the provider's own code without the engine.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { algorithmController } from "../provider/resources/algorithm";
import { dynamicProvider } from "../provider/resources/dynamic";
import { ensureAlgorithmEnvironment, ensurePythonRuntime } from "../server/runtime/python-env";
import { LocalServer } from "../test/helpers/processes";
import { apiEnv, BENCH_USER, Benchmark, Figure, PROVIDER_IMPORT, Project, round, seconds } from "./lib";

/** The i-th algorithm's arguments (the program below and the floor declare the same ones). */
const args = (i: number, sources: string) => ({
    name: "Bench" + i,
    details: { label: "Bench " + i },
    settings: {
        language: "python3-1",
        environment: "cpu",
        license: "apl",
        sourceVisibility: "closed",
        networkAccess: "isolated",
        pipelineEnabled: false,
    },
    source: sources + "/Bench" + i,
});

const PROGRAM = `import { Algorithm } from ${PROVIDER_IMPORT};
const args = ${args.toString()};
for (let i = 0; i < Number(process.env.BENCH_COUNT); i++) new Algorithm("algo" + i, args(i, process.env.BENCH_SOURCES!));
`;

/** The CLI's default `--parallel`: four per core (GOMAXPROCS), pkg/cmd/pulumi/operations/up.go. */
const ENGINE_PARALLEL = 4 * os.availableParallelism();

/**
 * The floor: each algorithm's `check` and `create` in this process (POST, git push, wait for the build), as many at
 * once as the engine runs, with no engine, language host or state around them.
 */
async function providerAlone(server: LocalServer, count: number, sources: string): Promise<void> {
    const provider = dynamicProvider(algorithmController);
    // No stack config: the connection is each resource's own (apiAddress, apiKey).
    await provider.configure!({
        config: {
            get: () => undefined,
            require: (key: string) => {
                throw new Error(`no ${key}`);
            },
        },
    });
    let next = 0;
    const worker = async () => {
        for (let i = next++; i < count; i = next++) {
            const { inputs, failures } = await provider.check!(
                {},
                { ...args(i, sources), apiAddress: server.url, apiKey: BENCH_USER.key },
            );
            if (failures?.length) throw new Error(`check failed: ${JSON.stringify(failures)}`);
            await provider.create!(inputs);
        }
    };
    await Promise.all(Array.from({ length: Math.min(ENGINE_PARALLEL, count) }, worker));
}

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
            fs.writeFileSync(
                path.join(sources, `Bench${i}`, "src", `Bench${i}.py`),
                `def apply(input):\n    return {"bench": ${i}, "input": input}\n`,
            );
        }
        // The server's runtime, and the one environment of every algorithm (they have the same requirements): made now
        // (pip, on a machine that never built them), so that no timed run pays for them.
        await ensurePythonRuntime();
        await ensureAlgorithmEnvironment(path.join(sources, "Bench0"), ["requirements.txt"], () => undefined);
        const figures: Figure[] = [];
        for (const count of counts) {
            // A fresh server for each side, so every run creates, pushes and builds from nothing.
            const { s, noop } = await withServer(async (server) => {
                const project = await new Project(ctx, `scale${count}`, PROGRAM, {
                    ...apiEnv(server),
                    BENCH_COUNT: String(count),
                    BENCH_SOURCES: sources,
                }).init();
                const { s } = await seconds(() => project.cli("up", "--yes", "--skip-preview"));
                return { s, noop: (await seconds(() => project.cli("up", "--yes", "--skip-preview"))).s };
            });
            const floor = (await withServer((server) => seconds(() => providerAlone(server, count, sources)))).s;
            figures.push({
                id: `scale.n${count}.upSeconds`,
                label: `up of ${count} algorithms (create, git push, build)`,
                value: round(s, 1),
                unit: "s",
                how:
                    `Wall time of one \`pulumi up --skip-preview\` (CLI, default parallelism, transpile-only) creating ${count} ` +
                    "Algorithms (a one-function Python source each) against a fresh algorithmia-local process: POST, git push, wait for each " +
                    "build (Python byte-compile on the server). Same 2-core machine runs engine, provider, server and builds.",
                details: { perAlgorithmSeconds: round(s / count, 2), noChangeUpSeconds: round(noop, 1) },
            });
            figures.push({
                id: `scale.n${count}.floorRatio`,
                label: `up of ${count} algorithms / the provider alone doing the same`,
                value: round(s / floor, 2),
                unit: "ratio",
                how:
                    `The up above against its floor: the same ${count} Algorithms' check and create run by the provider's code in the ` +
                    `bench process, ${ENGINE_PARALLEL} at once (the CLI's default --parallel), against another fresh server; ` +
                    "ratio = up time / floor time (1 = no cost from the engine and the dynamic-provider host).",
                details: { upSeconds: round(s, 1), providerAloneSeconds: round(floor, 1), parallel: ENGINE_PARALLEL },
            });
        }
        return figures;
    },
};

async function withServer<T>(fn: (server: LocalServer) => Promise<T>): Promise<T> {
    const server = await LocalServer.start({ users: [BENCH_USER] });
    try {
        return await fn(server);
    } finally {
        await server.dispose();
    }
}
