// What every benchmark shares: the figure record (each says how it was measured), timing, scratch files and
// Pulumi projects run by the real CLI in an offline engine sandbox.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PulumiSandbox, repoRoot } from "../test/helpers/pulumi";
import { CliProject, LocalServer, writeProject } from "../test/helpers/processes";

/**
 * The package's compiled code (tsconfig.build.json), which installed users run; inside the repository, so that it
 * resolves the same dependencies and its own package.json. Built by `buildProvider` before any benchmark runs.
 */
const PROVIDER_BUILD = path.join(repoRoot, "bench/build");

/** How the benchmarks' programs import the provider: its compiled build (an absolute path). */
export const PROVIDER_IMPORT = JSON.stringify(path.join(PROVIDER_BUILD, "provider"));

export function buildProvider(): void {
    fs.rmSync(PROVIDER_BUILD, { recursive: true, force: true });
    execFileSync(
        path.join(repoRoot, "node_modules/.bin/tsc"),
        ["-p", path.join(repoRoot, "tsconfig.build.json"), "--outDir", PROVIDER_BUILD],
        { stdio: "inherit" },
    );
}

export interface Figure {
    /** Stable key in latest.json, e.g. "sha256.ratio". */
    id: string;
    label: string;
    /** null when the benchmark could not run (see `skipped`). */
    value: number | null;
    unit: string;
    /** How the figure was obtained, in one or two sentences. */
    how: string;
    /** Raw measurements behind the figure. */
    details?: Record<string, unknown>;
    /** Why there is no value. */
    skipped?: string;
}

export interface BenchContext {
    sandbox: PulumiSandbox;
    /** Scratch directory, removed after the run. */
    scratch: string;
    /** A 1 GiB file of pseudo-random bytes (created once, shared by the upload and hashing benchmarks). */
    bigFile(): string;
    /** algorithmia-local in its own process (user alice), shared by the benchmarks, started on first use. */
    server(): Promise<LocalServer>;
}

export const BENCH_USER = { name: "alice", key: "simBenchAliceKey000000000001" };

/** The environment that points the provider at the bench server as alice. */
export const apiEnv = (server: LocalServer) => ({ ALGORITHMIA_API: server.url, ALGORITHMIA_API_KEY: BENCH_USER.key });

export interface Benchmark {
    id: string;
    title: string;
    run(ctx: BenchContext): Promise<Figure[]>;
}

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** Wall-clock seconds of `fn`. */
export async function seconds<T>(fn: () => Promise<T>): Promise<{ s: number; result: T }> {
    const start = process.hrtime.bigint();
    const result = await fn();
    return { s: Number(process.hrtime.bigint() - start) / 1e9, result };
}

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs `a` and `b` alternately `rounds` times, each round in the other order than the last (a, b, b, a, a, b, …), so
 * both sides see the same machine state and neither always runs first, and answers the median seconds of each.
 */
export async function sideBySide(rounds: number, a: () => Promise<unknown>, b: () => Promise<unknown>) {
    const as: number[] = [];
    const bs: number[] = [];
    for (let i = 0; i < rounds; i++) {
        if (i % 2 === 0) as.push((await seconds(a)).s);
        bs.push((await seconds(b)).s);
        if (i % 2 === 1) as.push((await seconds(a)).s);
    }
    return { a: median(as), b: median(bs), aRuns: as, bRuns: bs };
}

export const round = (x: number, digits = 3) => Number(x.toFixed(digits));

/** Writes `size` bytes of pseudo-random data (one random MiB repeated, so writing is quick). */
export function writeFile(file: string, size: number): void {
    const block = crypto.randomBytes(MiB);
    const fd = fs.openSync(file, "w");
    try {
        for (let written = 0; written < size; written += MiB) fs.writeSync(fd, block, 0, Math.min(MiB, size - written));
    } finally {
        fs.closeSync(fd);
    }
}

/** A project in the bench's scratch directory, transpile-only (see below). */
export class Project extends CliProject {
    constructor(ctx: BenchContext, name: string, program: string, env: Record<string, string> = {}) {
        // Type-checking the program would add the same seconds to both sides of every ratio and hide the
        // difference being measured; users' programs are checked by their own build.
        super(writeProject(ctx.scratch, name, program), {
            ...ctx.sandbox.env,
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            ...env,
        });
    }

    override init(stack = "bench"): Promise<this> {
        return super.init(stack);
    }
}

/**
 * The engine floor: BENCH_COUNT dynamic resources whose provider does nothing. With BENCH_PAIRED each odd one takes
 * the one before it as an input, the dependency graph of a collection and the model file in it.
 */
export const FLOOR_PROGRAM = `import * as pulumi from "@pulumi/pulumi";
const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs) {
        return { id: inputs.name, outs: inputs };
    },
};
class Trivial extends pulumi.dynamic.Resource {
    constructor(name: string, args: Record<string, unknown>) {
        super(provider, name, args, undefined, "bench", "Trivial");
    }
}
let before: Trivial | undefined;
for (let i = 0; i < Number(process.env.BENCH_COUNT); i++) {
    const paired = process.env.BENCH_PAIRED && i % 2 === 1;
    before = new Trivial("r" + i, { name: "r" + i, ...(paired ? { after: before!.id } : {}) });
}
`;
