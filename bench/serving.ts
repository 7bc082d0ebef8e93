// (f) Serving the model guide: calls per second and p50/p99 latency of its algorithm on algorithmia-local at 1, 4
// and 16 concurrent clients, beside a plain Python HTTP server doing the same prediction in the same environment
// (the floor, bench/serving-floor.py).
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
    ALGORITHM_SETTINGS,
    ALGORITHM_SOURCE,
    DIGIT_CLASSIFIER,
    EXPECTED_LABELS,
    MODEL_FILE,
    TEST_DATA_FILE,
} from "../examples/model-guide/stack";
import { AlgorithmiaClient } from "../provider/client";
import { settingsToWire } from "../provider/resources/algorithm";
import { sourceTree } from "../provider/resources/algorithmSource";
import { contentName, contentOf, hashStream, upload } from "../provider/resources/modelFile";
import { descendants, LocalServer } from "../test/helpers/processes";
import { BENCH_USER, Benchmark, Figure, round } from "./lib";

const LEVELS = [1, 4, 16];
const WORKERS = 4;
/** Per level: a warm-up per side, then this many alternating rounds of ROUND_MS per side. */
const ROUNDS = 3;
const ROUND_MS = 3_000;
const WARMUP_MS = 1_000;
const OWNER = BENCH_USER.name;
const ALGORITHM = "DigitClassifier";
const COLLECTION = "digits";

/** The same input for both sides: the ten test images themselves (the algorithm's `images` form). */
const IMAGES = fs
    .readFileSync(TEST_DATA_FILE, "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(",").map(Number));
const INPUT = JSON.stringify({ images: IMAGES });
const EXPECTED = JSON.stringify(EXPECTED_LABELS);

interface Target {
    url: string;
    headers: Record<string, string>;
}

interface Run {
    latenciesMs: number[];
    seconds: number;
    /** 429 answers (queue full), not counted as calls. */
    throttled: number;
}

export const servingBenchmark: Benchmark = {
    id: "serving",
    title: "(f) model guide calls/s and p50/p99 latency at 1, 4, 16 clients vs a plain Python HTTP server",
    async run() {
        const server = await LocalServer.start({ users: [BENCH_USER], workers: { maxWorkersPerKey: WORKERS } });
        let floor: ChildProcess | undefined;
        try {
            const client = new AlgorithmiaClient({ apiAddress: server.url, apiKey: BENCH_USER.key });
            const local: Target = {
                url: `${server.url}/v1/algo/${OWNER}/${ALGORITHM}/${await deploy(client)}`,
                headers: { "Content-Type": "application/json", Authorization: `Simple ${BENCH_USER.key}` },
            };
            // Enough calls at once to start every worker (each imports the module and loads the model).
            await drive(local, LEVELS[LEVELS.length - 1], WARMUP_MS);
            const workers = workerArgvs(server);
            if (workers.length !== WORKERS)
                throw new Error(`expected ${WORKERS} warm workers, found ${workers.length}`);
            // The workers' own interpreter, i.e. the build's environment: the floor runs the same numpy and scikit-learn.
            const python = workers[0][0];
            const started = await startFloor(python);
            floor = started.child;
            const plain: Target = { url: started.url, headers: { "Content-Type": "application/json" } };

            const figures: Figure[] = [];
            for (const clients of LEVELS) {
                await drive(local, clients, WARMUP_MS);
                await drive(plain, clients, WARMUP_MS);
                const runs = { local: [] as Run[], floor: [] as Run[] };
                for (let i = 0; i < ROUNDS; i++) {
                    runs.local.push(await drive(local, clients, ROUND_MS));
                    runs.floor.push(await drive(plain, clients, ROUND_MS));
                }
                const sides = { local: summary(runs.local), floor: summary(runs.floor) };
                figures.push(...levelFigures(clients, "local", "algorithmia-local", sides.local));
                figures.push(...levelFigures(clients, "floor", "floor", sides.floor, { python }));
                figures.push({
                    id: `serving.c${clients}.ratio`,
                    label: `model guide, ${level(clients)}: calls/s, algorithmia-local / floor`,
                    value: round(sides.local.callsPerSecond / sides.floor.callsPerSecond),
                    unit: "ratio",
                    how: "Calls per second of algorithmia-local divided by the floor's, at the same level (1 = as fast as the floor).",
                });
            }
            return figures;
        } finally {
            floor?.kill();
            await server.dispose();
        }
    },
};

const HOW =
    `${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per side after a ${WARMUP_MS / 1000} s warm-up: N async clients in ` +
    "this process (Node fetch, keep-alive) each POST the ten test images back to back; every reply is checked to be the " +
    `expected labels. algorithmia-local: its own process, --workers-per-version ${WORKERS} (one model per worker process), ` +
    "the build's commit called by git hash. Floor: bench/serving-floor.py, a stdlib ThreadingHTTPServer in the workers' " +
    "own interpreter and environment, one process (the GIL serialises its predictions; each worker has its own). " +
    "Clients, server and Python share the machine's cores.";

type Summary = ReturnType<typeof summary>;

const level = (clients: number) => `${clients} client${clients === 1 ? "" : "s"}`;

function levelFigures(
    clients: number,
    key: string,
    side: string,
    s: Summary,
    details: Record<string, unknown> = {},
): Figure[] {
    const id = `serving.c${clients}.${key}`;
    const label = `model guide, ${level(clients)}: ${side}`;
    const all = {
        calls: s.calls,
        seconds: round(s.seconds, 2),
        throttled: s.throttled,
        roundsCallsPerSecond: s.rounds,
        ...details,
    };
    return [
        {
            id: `${id}.callsPerSecond`,
            label: `${label} calls/s`,
            value: round(s.callsPerSecond, 1),
            unit: "calls/s",
            how: HOW,
            details: all,
        },
        { id: `${id}.p50Ms`, label: `${label} p50 latency`, value: round(s.p50, 2), unit: "ms", how: HOW },
        { id: `${id}.p99Ms`, label: `${label} p99 latency`, value: round(s.p99, 2), unit: "ms", how: HOW },
    ];
}

/**
 * The model guide's collection, model and algorithm, made with the provider's own client, content name and source
 * tree (no Pulumi, so setup is not measured). Answers the built commit.
 */
async function deploy(client: AlgorithmiaClient): Promise<string> {
    await client.createCollection(OWNER, COLLECTION, "myAlgorithms");
    const { sha256, md5 } = await hashStream(fs.createReadStream(MODEL_FILE));
    const model = await upload(
        client,
        OWNER,
        COLLECTION,
        contentName(path.basename(MODEL_FILE), sha256),
        contentOf(MODEL_FILE),
    );
    const settings = settingsToWire(ALGORITHM_SETTINGS);
    await client.createAlgorithm(OWNER, { name: ALGORITHM, details: { label: "Digit Classifier" }, settings });
    const tree = sourceTree({
        source: ALGORITHM_SOURCE,
        dependencies: DIGIT_CLASSIFIER.dependencies,
        modelFiles: { model: { dataUri: model.dataUri, sha256, md5 } },
    });
    const { commit } = await client.pushSource(OWNER, ALGORITHM, tree, "bench: the model guide");
    const build = await client.waitForBuild(OWNER, ALGORITHM, commit, 15 * 60_000);
    if (build.status !== "succeeded")
        throw new Error(`the build failed:\n${await client.buildLogTail(OWNER, ALGORITHM, build.build_id)}`);
    return commit;
}

/** `clients` loops, each POSTing INPUT back to back until `ms` have passed; calls in flight then still finish. */
async function drive(target: Target, clients: number, ms: number): Promise<Run> {
    const run: Run = { latenciesMs: [], seconds: 0, throttled: 0 };
    const start = process.hrtime.bigint();
    const end = Date.now() + ms;
    const loop = async () => {
        while (Date.now() < end) {
            const t0 = process.hrtime.bigint();
            const res = await fetch(target.url, { method: "POST", headers: target.headers, body: INPUT });
            const text = await res.text();
            const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
            if (res.status === 429) {
                run.throttled++;
            } else if (res.status !== 200 || JSON.stringify(JSON.parse(text).result) !== EXPECTED) {
                throw new Error(`${target.url} answered ${res.status}: ${text.slice(0, 500)}`);
            } else {
                run.latenciesMs.push(elapsedMs);
            }
        }
    };
    await Promise.all(Array.from({ length: clients }, loop));
    run.seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return run;
}

function summary(runs: Run[]) {
    const latencies = runs.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
    const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
    // Nearest rank.
    const percentile = (p: number) => latencies[Math.max(0, Math.ceil(p * latencies.length) - 1)];
    return {
        calls: latencies.length,
        seconds,
        callsPerSecond: latencies.length / seconds,
        p50: percentile(0.5),
        p99: percentile(0.99),
        throttled: runs.reduce((sum, r) => sum + r.throttled, 0),
        rounds: runs.map((r) => round(r.latenciesMs.length / r.seconds, 1)),
    };
}

/** The argv of each of the server's Python workers (python-worker.py processes under it). */
function workerArgvs(server: LocalServer): string[][] {
    const argv = (pid: number) => {
        try {
            return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        } catch {
            return []; // ended while we looked
        }
    };
    return descendants(server.process.child.pid!)
        .map(argv)
        .filter((args) => args.some((arg) => arg.endsWith("python-worker.py")));
}

/** bench/serving-floor.py in `python`, serving the model file; resolves once it listens. */
async function startFloor(python: string): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(python, [path.join(__dirname, "serving-floor.py"), MODEL_FILE], {
        stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        child.stdout!.on("data", (chunk) => {
            const match = /listening on (\d+)/.exec((out += chunk));
            if (match) resolve(Number(match[1]));
        });
        child.once("exit", (code, signal) =>
            reject(new Error(`the floor server exited (${code ?? signal}) before listening`)),
        );
    });
    return { child, url: `http://127.0.0.1:${port}/` };
}
