// (a) API requests of a no-op `pulumi up` of the model-guide stack, split into reads and writes (goal: no writes);
// and the size of that stack's state, with the part its serialized providers take beside a trivial provider's.
import * as path from "path";
import { ensurePythonRuntime } from "../server/runtime/python-env";
import { copyExamples } from "../test/helpers/examples";
import { CliProject, serializedProviders } from "../test/helpers/processes";
import { BENCH_USER, Benchmark, Figure, FLOOR_PROGRAM, Project, round, seconds } from "./lib";

export const noopRequestsBenchmark: Benchmark = {
    id: "noop-requests",
    title: "(a) API requests of a no-op up of the model-guide stack; its state size",
    async run(ctx) {
        await ensurePythonRuntime();
        const server = await ctx.server();
        const project = await new CliProject(
            copyExamples(path.join(ctx.scratch, "model-guide"), { rootProject: true }),
            {
                ...ctx.sandbox.env,
                PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            },
        ).init("bench");
        await project.cli("config", "set", "algorithmia:apiAddress", server.url);
        await project.cli("config", "set", "--secret", "algorithmia:apiKey", BENCH_USER.key);
        const first = await seconds(() => project.cli("up", "--yes", "--skip-preview"));

        // Read and reset in one step, then the no-op up, then read what it made.
        await fetch(`${server.url}/_local/counters`, { method: "DELETE" });
        const noop = await seconds(() => project.cli("up", "--yes", "--skip-preview"));
        const counts = (await (await fetch(`${server.url}/_local/counters`, { method: "DELETE" })).json()) as {
            reads: number;
            writes: number;
            routes: Record<string, number>;
        };
        const how =
            "algorithmia-local's request counters (every request by method and route, GET/HEAD = read, any other " +
            "method = write), reset after a first `pulumi up` of examples/model-guide (6 resources) and read after a second, " +
            "unchanged `pulumi up --skip-preview` (CLI, nodejs host).";
        const details = { routes: counts.routes, firstUpSeconds: round(first.s, 1), noopUpSeconds: round(noop.s, 1) };
        return [
            {
                id: "noopUp.reads",
                label: "no-op up of model-guide: API reads",
                value: counts.reads,
                unit: "requests",
                how,
                details,
            },
            {
                id: "noopUp.writes",
                label: "no-op up of model-guide: API writes",
                value: counts.writes,
                unit: "requests",
                how,
            },
            ...(await stateFigures(
                project,
                await new Project(ctx, "stateFloor", FLOOR_PROGRAM, { BENCH_COUNT: "1" }).init(),
            )),
        ];
    },
};

/** The model guide's state, and the serialized provider per resource beside the engine floor's trivial one. */
async function stateFigures(modelGuide: CliProject, floor: CliProject): Promise<Figure[]> {
    await floor.cli("up", "--yes", "--skip-preview");
    const [ours, trivial] = [await providerBytes(modelGuide), await providerBytes(floor)];
    const how =
        "`pulumi stack export` after the up; a resource's provider is its `__provider` in inputs and outputs together " +
        "(the engine stores both), compared with the same for a dynamic resource whose provider does nothing.";
    return [
        {
            id: "state.providerBytesPerResource",
            label: "serialized provider per resource in state (inputs + outputs)",
            value: Math.max(...ours.perResource),
            unit: "bytes",
            how: how + " The largest of the stack's resources.",
            details: { perResource: ours.perResource, trivialProviderBytes: trivial.perResource[0] },
        },
        {
            id: "state.modelGuideKiB",
            label: "model-guide stack state",
            value: round(ours.stateBytes / 1024, 1),
            unit: "KiB",
            how: "Bytes of `pulumi stack export` of examples/model-guide after the up (6 resources and the stack).",
            details: {
                providerKiB: round(ours.perResource.reduce((a, b) => a + b, 0) / 1024, 1),
                resources: ours.perResource.length,
            },
        },
    ];
}

async function providerBytes(project: CliProject): Promise<{ stateBytes: number; perResource: number[] }> {
    const exported = await project.exportedState();
    const perResource = serializedProviders(exported).map((codes) => codes.reduce((sum, code) => sum + code.length, 0));
    return { stateBytes: Buffer.byteLength(exported), perResource };
}
