// (c) Uploading a 1 GiB model: `curl -T` to algorithmia-local against the provider's client and against a
// ModelFile `pulumi up`, side by side on the same server and file; and the dynamic-provider process's peak memory.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { AlgorithmiaClient } from "../provider/client";
import { contentOf, fileStamp, hashStream, upload } from "../provider/resources/modelFile";
import { DYNAMIC_PROVIDER_PROCESS, sampleTreePeakRss } from "../test/helpers/processes";
import {
    apiEnv,
    BENCH_USER,
    Benchmark,
    Figure,
    FLOOR_PROGRAM,
    GiB,
    median,
    MiB,
    PROVIDER_IMPORT,
    Project,
    round,
    seconds,
    sideBySide,
} from "./lib";

const COLLECTION = "bench_upload";
/** PUTs per side: one 1 GiB PUT took from 3.5 to 6 s on the same machine. */
const CLIENT_ROUNDS = 5;

const MODEL_PROGRAM = `import { ModelFile } from ${PROVIDER_IMPORT};
new ModelFile("model", { collection: "data://${BENCH_USER.name}/${COLLECTION}", name: process.env.BENCH_NAME!, source: process.env.BENCH_FILE! });
`;

export const uploadBenchmark: Benchmark = {
    id: "upload",
    title: "(c) 1 GiB ModelFile upload vs curl -T, provider peak memory",
    async run(ctx) {
        const file = ctx.bigFile();
        const size = fs.statSync(file).size;
        const server = await ctx.server();
        const client = new AlgorithmiaClient({ apiAddress: server.url, apiKey: BENCH_USER.key });
        if (!(await client.getCollection(BENCH_USER.name, COLLECTION)))
            await client.createCollection(BENCH_USER.name, COLLECTION, "private");

        const curl = () => {
            const status = execFileSync(
                "curl",
                [
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-T",
                    file,
                    "-H",
                    `Authorization: Simple ${BENCH_USER.key}`,
                    `${server.url}/v1/connector/data/${BENCH_USER.name}/${COLLECTION}/curl.bin`,
                ],
                { encoding: "utf8" },
            );
            if (status !== "200") throw new Error(`curl -T answered ${status}`);
        };
        // ModelFile's own upload (file reader, the file's stamp checked before and after, client), without the engine
        // around it: as in an up, with what check found (the file must be older than the racy window to get a stamp).
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, fs.statSync(file).mtimeMs + 2100 - Date.now())));
        const checked = { sha256: (await hashStream(contentOf(file).open())).sha256, stamp: await fileStamp(file) };
        if (!checked.stamp) throw new Error(`${file} got no stamp`);
        const viaClient = () => upload(client, BENCH_USER.name, COLLECTION, "client.bin", contentOf(file), checked);
        const runs = await sideBySide(CLIENT_ROUNDS, async () => curl(), viaClient);
        // What Node's own streams make of the same upload: the file piped into an http.request.
        const viaNodePipe = () =>
            new Promise<void>((resolve, reject) => {
                const request = http.request(
                    `${server.url}/v1/connector/data/${BENCH_USER.name}/${COLLECTION}/pipe.bin`,
                    {
                        method: "PUT",
                        headers: { Authorization: `Simple ${BENCH_USER.key}`, "Content-Length": String(size) },
                    },
                    (reply) => {
                        reply
                            .resume()
                            .on("end", () =>
                                reply.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${reply.statusCode}`)),
                            );
                    },
                );
                request.on("error", reject);
                fs.createReadStream(file, { highWaterMark: MiB }).pipe(request);
            });
        const pipeRuns = await sideBySide(CLIENT_ROUNDS, async () => curl(), viaNodePipe);
        const mibps = (s: number) => round(size / MiB / s, 1);
        const figures: Figure[] = [
            {
                id: "upload.client.ratio",
                label: "1 GiB upload throughput, ModelFile upload / curl -T",
                value: round(runs.a / runs.b),
                unit: "ratio",
                how:
                    `Median of ${CLIENT_ROUNDS} alternating PUTs of the same ${size / GiB} GiB page-cached file to algorithmia-local (its own ` +
                    "process, fsync on completion): ModelFile's upload function (file reader, its stamp compared with check's " +
                    "before and after, client) in this process vs `curl -T`; " +
                    "ratio = curl time / client time (1 = as fast).",
                details: {
                    curlMiBps: mibps(runs.a),
                    clientMiBps: mibps(runs.b),
                    curlRunsS: runs.aRuns,
                    clientRunsS: runs.bRuns,
                },
            },
            {
                id: "upload.nodePipe.ratio",
                label: "1 GiB upload throughput, Node's fs stream piped into http.request / curl -T",
                value: round(pipeRuns.a / pipeRuns.b),
                unit: "ratio",
                how:
                    `The same as above with Node's own streams instead of ModelFile's upload (fs.createReadStream, 1 MiB ` +
                    "reads, piped into http.request): how fast a Node process uploads without trying; ratio = curl time / pipe time.",
                details: { curlRunsS: pipeRuns.aRuns, pipeRunsS: pipeRuns.bRuns },
            },
        ];

        // Three rounds of: `curl -T`; the same engine's `up` of one resource that does nothing (its fixed cost, and the
        // memory any dynamic-provider process needs); one hashing pass (check's: sha256 and md5); a ModelFile `up` of
        // the file in a new stack, with no hashes of it remembered, so that its check reads it as a user's first `up` of
        // new bytes does.
        const rounds = { curl: [] as number[], noop: [] as number[], hash: [] as number[], up: [] as number[] };
        const peaks = { noop: [] as number[], up: [] as number[] };
        let processes = 0;
        for (let round = 0; round < 3; round++) {
            rounds.curl.push((await seconds(async () => curl())).s);
            const noop = await new Project(ctx, `noop${round}`, FLOOR_PROGRAM, { BENCH_COUNT: "1" }).init();
            const noopRun = await watchUp(noop);
            rounds.noop.push(noopRun.seconds);
            peaks.noop.push(noopRun.peakBytes);
            // The name is content-addressed (the sha256 is in it), so `check` reads the file once before the upload.
            rounds.hash.push((await seconds(() => hashStream(contentOf(file).open()))).s);
            const model = await new Project(ctx, `model${round}`, MODEL_PROGRAM, {
                ...apiEnv(server),
                BENCH_FILE: file,
                BENCH_NAME: `model${round}.bin`,
                // An empty cache: no hashes of the file remembered from earlier runs (ModelFile's `rememberedHashes`).
                PULUMI_ALGORITHMIA_CACHE: fs.mkdtempSync(path.join(ctx.scratch, "hash-cache-")),
            }).init();
            const up = await watchUp(model);
            rounds.up.push(up.seconds);
            peaks.up.push(up.peakBytes);
            processes = up.processes;
        }
        const [curlS, noopS, hashS, upS] = [rounds.curl, rounds.noop, rounds.hash, rounds.up].map(median);
        const up = { seconds: upS, peakBytes: Math.max(...peaks.up), processes };
        const noopRun = { seconds: noopS, peakBytes: median(peaks.noop) };
        const floorS = noopS + hashS + curlS;
        figures.push({
            id: "upload.modelfile.ratio",
            label: "1 GiB ModelFile `pulumi up` throughput / curl -T",
            value: round(curlS / up.seconds),
            unit: "ratio",
            how:
                "Median wall time of 3 `pulumi up --skip-preview` runs each creating one ModelFile from the page-cached " +
                "1 GiB file in a new stack, no hashes of it remembered (engine start, `check` hashing the file, the streamed upload) vs the median `curl -T` of the " +
                "same file, alternating; ratio = curl time / up time. An upper bound on the upload's own cost.",
            // The same engine's up of one resource that does nothing: the fixed cost inside upSeconds.
            details: {
                upSeconds: round(up.seconds),
                noopUpSeconds: round(noopRun.seconds),
                curlSeconds: round(curlS),
                upMiBps: mibps(up.seconds),
                curlMiBps: mibps(curlS),
                upRunsS: rounds.up,
            },
        });
        figures.push({
            id: "upload.modelfile.ceiling",
            label: "1 GiB ModelFile `pulumi up` / curl -T: the most any up can reach (trivial up + curl -T)",
            value: round(curlS / (noopRun.seconds + curlS)),
            unit: "ratio",
            how:
                "What the ratio above would be if hashing cost nothing and the upload ran at curl's speed: the median " +
                "`curl -T` against the same engine's `up` of one resource that does nothing plus that curl; " +
                "ratio = curl time / (trivial up + curl time). No ModelFile up on this machine can pass it.",
            details: {
                noopUpSeconds: round(noopS),
                curlSeconds: round(curlS),
                noopRunsS: rounds.noop,
                curlRunsS: rounds.curl,
            },
        });
        figures.push({
            id: "upload.modelfile.floorRatio",
            label: "1 GiB ModelFile `pulumi up` / its floor (trivial up + one hashing pass + curl -T)",
            value: round(floorS / up.seconds),
            unit: "ratio",
            how:
                "The same up against what no content-addressed upload through the engine can beat: the same engine's `up` " +
                "of one resource that does nothing, plus one pass of ModelFile's hashing over the file (sha256 and md5, as `check` does, in this process), " +
                "plus the median `curl -T` (medians of the 3 rounds); ratio = floor / up time (1 = at the floor).",
            details: {
                upSeconds: round(up.seconds),
                floorSeconds: round(floorS),
                noopUpSeconds: round(noopRun.seconds),
                hashSeconds: round(hashS),
                curlSeconds: round(curlS),
            },
        });
        figures.push({
            id: "upload.modelfile.peakRssMiB",
            label: "dynamic-provider peak RSS during the 1 GiB ModelFile up",
            value: round(up.peakBytes / MiB, 1),
            unit: "MiB",
            how:
                "VmHWM (kernel peak resident set) of the dynamic-provider node process under the `pulumi` CLI, sampled from " +
                "/proc every 50 ms, the largest of the 3 ups; compared with the same engine's provider process creating " +
                "one resource that does nothing (median).",
            details: {
                noopProviderPeakRssMiB: round(noopRun.peakBytes / MiB, 1),
                fileMiB: size / MiB,
                providerProcesses: up.processes,
            },
        });
        return figures;
    },
};

/** `pulumi up` of a fresh project, timed, with the dynamic-provider process's peak RSS. */
async function watchUp(project: Project) {
    const {
        s: elapsed,
        result: { code, output, peak },
    } = await seconds(async () => {
        const run = project.start("up", "--yes", "--skip-preview");
        const sampler = sampleTreePeakRss(run.child.pid!, DYNAMIC_PROVIDER_PROCESS);
        const { code, output } = await run.done;
        return { code, output, peak: sampler.stop() };
    });
    if (code !== 0) throw new Error(`pulumi up failed:\n${output}`);
    if (peak.processes === 0) throw new Error("no dynamic-provider process was seen during `pulumi up`");
    return { seconds: elapsed, peakBytes: peak.peakBytes, processes: peak.processes };
}
