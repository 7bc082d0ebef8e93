// (a) API requests of a no-op `pulumi up` of the model-guide stack, split into reads and writes (goal: no writes).
import * as path from "path";
import { ensurePythonRuntime } from "../server/runtime/python-env";
import { copyExamples } from "../test/helpers/examples";
import { CliProject } from "../test/helpers/processes";
import { BENCH_USER, Benchmark, round, seconds } from "./lib";

export const noopRequestsBenchmark: Benchmark = {
    id: "noop-requests",
    title: "(a) API requests of a no-op up of the model-guide stack",
    async run(ctx) {
        await ensurePythonRuntime();
        const server = await ctx.server();
        const project = await new CliProject(copyExamples(path.join(ctx.scratch, "model-guide"), { rootProject: true }), {
            ...ctx.sandbox.env,
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        }).init("bench");
        await project.cli("config", "set", "algorithmia:apiAddress", server.url);
        await project.cli("config", "set", "--secret", "algorithmia:apiKey", BENCH_USER.key);
        const first = await seconds(() => project.cli("up", "--yes", "--skip-preview"));

        // Read and reset in one step, then the no-op up, then read what it made.
        await fetch(`${server.url}/_local/counters`, { method: "DELETE" });
        const noop = await seconds(() => project.cli("up", "--yes", "--skip-preview"));
        const counts = (await (await fetch(`${server.url}/_local/counters`, { method: "DELETE" })).json()) as {
            reads: number; writes: number; routes: Record<string, number>;
        };
        const how = "algorithmia-local's request counters (every request by method and route, GET/HEAD = read, any other " +
            "method = write), reset after a first `pulumi up` of examples/model-guide (6 resources) and read after a second, " +
            "unchanged `pulumi up --skip-preview` (CLI, nodejs host).";
        const details = { routes: counts.routes, firstUpSeconds: round(first.s, 1), noopUpSeconds: round(noop.s, 1) };
        return [
            { id: "noopUp.reads", label: "no-op up of model-guide: API reads", value: counts.reads, unit: "requests", how, details },
            { id: "noopUp.writes", label: "no-op up of model-guide: API writes", value: counts.writes, unit: "requests", how },
        ];
    },
};
