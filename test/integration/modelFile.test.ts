// ModelFile through the real engine against algorithmia-local: upload from a path, a FileAsset and a
// StringAsset, each content under a name of its own; no upload for unchanged content (server request counters);
// a changed model shows at preview and is uploaded once beside the old one, which stays; going back to an earlier
// model uploads nothing; rename → replace; drift and remote delete seen by refresh; adopt; invalid programs
// failing at preview; an `up` whose uploads fail converges on the next run.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Stack } from "@pulumi/pulumi/automation";
import { DataCollection, ModelFile, ModelFileArgs } from "../../provider";
import { contentName } from "../../provider/resources/modelFile";
import { descendants } from "../helpers/processes";
import { ALICE, call } from "../helpers/server";
import { testBed } from "../helpers/testBed";

/** Kills (SIGKILL) the `pulumi` process this test process started for `stackName`, with its plugins. */
function killEngine(stackName: string) {
    const engine = descendants(process.pid).find((pid) => {
        let args: string[];
        try {
            args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0"); // argv itself: readCmdline joins it with spaces
        } catch {
            return false; // ended meanwhile
        }
        return path.basename(args[0]) === "pulumi" && args.includes("up") && args.includes(stackName);
    });
    assert.ok(engine, "the engine of the running up");
    // Children before parents, so none is orphaned before it is killed.
    for (const pid of [engine, ...descendants(engine)].reverse()) process.kill(pid, "SIGKILL");
}

const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");
const md5 = (data: string | Buffer) => crypto.createHash("md5").update(data).digest("hex");
/** Where `content`, named `name`, is stored in alice's `collection`. */
const stored = (collection: string, content: string | Buffer, name = "model.pkl") =>
    `data://alice/${collection}/${contentName(name, sha256(content))}`;

describe("ModelFile (engine + algorithmia-local)", function () {
    this.timeout(300_000);
    const bed = testBed();

    /** A stack with one collection `collectionName` and one model file whose args the test changes between runs. */
    async function modelStack(
        stackName: string,
        collectionName: string,
        args: () => Partial<ModelFileArgs>,
    ): Promise<Stack> {
        const stack = await bed.sandbox.inlineStack("model-file", stackName, async () => {
            const collection = new DataCollection("models", {
                name: collectionName,
                forceDestroy: true,
                apiAddress: bed.server.url,
            });
            const model = new ModelFile("model", {
                collection: collection.dataUri,
                name: "model.pkl",
                source: "",
                apiAddress: bed.server.url,
                ...args(),
            });
            return { dataUri: model.dataUri, sha256: model.sha256, md5: model.md5, size: model.size };
        });
        await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
        return stack;
    }

    const remote = async (uri: string) => {
        const res = await call(bed.server, "GET", "/v1/connector/data/" + uri.replace("data://", ""), {
            key: ALICE.key,
        });
        return res.status === 404 ? undefined : res.text;
    };
    /** Requests the server saw while `run` ran. */
    const counting = async (run: () => Promise<unknown>) => {
        bed.server.faults.resetCounts();
        await run();
        return bed.server.faults.counts();
    };
    const uploads = (counts: { routes: Record<string, number> }) =>
        Object.entries(counts.routes)
            .filter(([route]) => route.startsWith("PUT "))
            .reduce((n, [, count]) => n + count, 0);

    describe("lifecycle", () => {
        let stack: Stack;
        let file: string;
        let args: Partial<ModelFileArgs>;

        before(async () => {
            file = path.join(bed.root, "model-v1.pkl");
            fs.writeFileSync(file, "weights v1");
            args = { source: file };
            stack = await modelStack("lifecycle", "lifecycle", () => args);
        });

        it("uploads the file, with its sha256, md5 and size as outputs", async () => {
            const counts = await counting(() => stack.up());
            const outputs = await stack.outputs();
            assert.strictEqual(outputs.dataUri.value, stored("lifecycle", "weights v1"));
            assert.match(outputs.dataUri.value, /^data:\/\/alice\/lifecycle\/model\.[0-9a-f]{16}\.pkl$/);
            assert.strictEqual(outputs.sha256.value, sha256("weights v1"));
            assert.strictEqual(outputs.md5.value, md5("weights v1"));
            assert.strictEqual(outputs.size.value, "weights v1".length);
            assert.strictEqual(await remote(outputs.dataUri.value), "weights v1");
            assert.strictEqual(uploads(counts), 1);
        });

        it("makes no request at all on a no-op preview and a no-op up", async () => {
            const preview = await counting(() => stack.preview({ expectNoChanges: true }));
            assert.strictEqual(preview.total, 0);
            const up = await counting(async () => {
                const result = await stack.up();
                assert.deepStrictEqual(result.summary.resourceChanges, { same: 3 });
            });
            assert.deepStrictEqual({ reads: up.reads, writes: up.writes }, { reads: 0, writes: 0 });
        });

        it("reads each object on refresh without writing: collection 1 GET, model file HEAD + listing", async () => {
            const refresh = await counting(async () => {
                const result = await stack.refresh();
                assert.deepStrictEqual(result.summary.resourceChanges, { same: 3 });
            });
            assert.deepStrictEqual({ reads: refresh.reads, writes: refresh.writes }, { reads: 3, writes: 0 });
        });

        it("does not upload again when only the file's timestamp changes", async () => {
            const later = new Date(Date.now() + 60_000);
            fs.utimesSync(file, later, later);
            const counts = await counting(() => stack.preview({ expectNoChanges: true }));
            assert.strictEqual(counts.total, 0);
        });

        it("shows a changed model at preview and uploads it once, beside the old one, which stays", async () => {
            fs.writeFileSync(file, "weights v2, longer");
            const preview = await stack.preview();
            assert.deepStrictEqual(preview.changeSummary, { same: 2, update: 1 });
            const counts = await counting(async () => {
                const up = await stack.up();
                assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, update: 1 });
            });
            assert.strictEqual(uploads(counts), 1);
            assert.strictEqual(counts.writes, 1);
            const outputs = await stack.outputs();
            assert.strictEqual(outputs.sha256.value, sha256("weights v2, longer"));
            assert.strictEqual(outputs.md5.value, md5("weights v2, longer"), "hashed with the sha256, in one pass");
            assert.strictEqual(
                outputs.dataUri.value,
                stored("lifecycle", "weights v2, longer"),
                "the new content's own name",
            );
            assert.strictEqual(await remote(outputs.dataUri.value), "weights v2, longer");
            assert.strictEqual(
                await remote(stored("lifecycle", "weights v1")),
                "weights v1",
                "what a published version may read stays",
            );
            await stack.preview({ expectNoChanges: true });
        });

        it("goes back to an earlier model without uploading it again", async () => {
            fs.writeFileSync(file, "weights v1");
            const counts = await counting(async () => {
                const up = await stack.up();
                assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, update: 1 });
            });
            assert.strictEqual(uploads(counts), 0, "the bytes are there already");
            assert.strictEqual((await stack.outputs()).dataUri.value, stored("lifecycle", "weights v1"));
            await stack.preview({ expectNoChanges: true });
        });

        it("learns the md5 a state from before it lacks: hashed again, stored by an update that uploads nothing", async () => {
            const deployment = await stack.exportStack();
            const model = deployment.deployment.resources.find((r: any) => r.type.endsWith(":ModelFile"));
            for (const props of [model.inputs, model.outputs]) delete props.md5;
            await stack.importStack(deployment);
            const counts = await counting(async () => {
                const up = await stack.up();
                assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, update: 1 });
            });
            assert.deepStrictEqual({ uploads: uploads(counts), writes: counts.writes }, { uploads: 0, writes: 0 });
            assert.strictEqual((await stack.outputs()).md5.value, md5("weights v1"));
            await stack.preview({ expectNoChanges: true });
        });

        it("takes a FileAsset or a StringAsset; the same bytes from another kind of source are no change", async () => {
            args = { source: new pulumi.asset.FileAsset(file) };
            const same = await counting(() => stack.preview({ expectNoChanges: true }));
            assert.strictEqual(same.total, 0);

            args = { source: new pulumi.asset.StringAsset("weights v3 from a string") };
            const counts = await counting(() => stack.up());
            assert.strictEqual(uploads(counts), 1);
            assert.strictEqual(
                await remote(stored("lifecycle", "weights v3 from a string")),
                "weights v3 from a string",
            );
            assert.strictEqual((await stack.outputs()).sha256.value, sha256("weights v3 from a string"));
            await stack.preview({ expectNoChanges: true });
        });

        it("replaces the file when its name changes", async () => {
            args = { source: new pulumi.asset.StringAsset("weights v3 from a string"), name: "model_v3.pkl" };
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, replace: 1 });
            assert.strictEqual(
                up.outputs.dataUri.value,
                stored("lifecycle", "weights v3 from a string", "model_v3.pkl"),
            );
            assert.strictEqual(await remote(up.outputs.dataUri.value), "weights v3 from a string");
            assert.strictEqual(
                await remote(stored("lifecycle", "weights v3 from a string")),
                undefined,
                "the replaced resource's content is deleted",
            );
            await stack.preview({ expectNoChanges: true });
        });

        it("sees a remote size change on refresh and uploads its own content again", async () => {
            const v3 = stored("lifecycle", "weights v3 from a string", "model_v3.pkl");
            await call(bed.server, "PUT", `/v1/connector/data/${v3.slice("data://".length)}`, {
                key: ALICE.key,
                body: "tampered",
            });
            const refresh = await stack.refresh();
            assert.strictEqual(refresh.summary.resourceChanges?.update, 1);
            const state = await stack.exportStack();
            const model = state.deployment.resources.find(
                (r: any) => r.type === "pulumi-nodejs:dynamic/algorithmia:ModelFile",
            );
            assert.strictEqual(model.outputs.sha256, sha256("tampered"));
            const counts = await counting(() => stack.up());
            assert.strictEqual(uploads(counts), 1);
            assert.strictEqual(await remote(v3), "weights v3 from a string");
            await stack.preview({ expectNoChanges: true });
        });

        it("reads a remotely deleted file as gone and uploads it again", async () => {
            const v3 = stored("lifecycle", "weights v3 from a string", "model_v3.pkl");
            await call(bed.server, "DELETE", `/v1/connector/data/${v3.slice("data://".length)}`, { key: ALICE.key });
            const refresh = await stack.refresh();
            assert.strictEqual(refresh.summary.resourceChanges?.delete, 1);
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, create: 1 });
            assert.strictEqual(await remote(v3), "weights v3 from a string");
        });

        it("uploads a 48 MiB file by streaming, byte for byte", async () => {
            const big = path.join(bed.root, "big.bin");
            const chunk = crypto.randomBytes(1024 * 1024);
            const out = fs.openSync(big, "w");
            for (let i = 0; i < 48; i++)
                fs.writeSync(
                    out,
                    chunk.map((b) => (b + i) & 0xff),
                );
            fs.closeSync(out);
            const expected = crypto.createHash("sha256").update(fs.readFileSync(big)).digest("hex");
            args = { source: big, name: "model_v3.pkl" };
            const counts = await counting(() => stack.up());
            assert.strictEqual(uploads(counts), 1);
            assert.strictEqual((await stack.outputs()).sha256.value, expected);
            assert.strictEqual((await stack.outputs()).size.value, 48 * 1024 * 1024);
            const at = (await stack.outputs()).dataUri.value.slice("data://".length);
            const res = await fetch(`${bed.server.url}/v1/connector/data/${at}`, {
                headers: { authorization: `Simple ${ALICE.key}` },
            });
            assert.strictEqual(
                crypto
                    .createHash("sha256")
                    .update(Buffer.from(await res.arrayBuffer()))
                    .digest("hex"),
                expected,
            );
            await stack.preview({ expectNoChanges: true });
        });

        it("deletes the current content on destroy", async () => {
            const current = (await stack.outputs()).dataUri.value;
            await stack.destroy();
            assert.strictEqual(await remote(current), undefined);
        });
    });

    describe("previews of updates", () => {
        // The engine previews an update with the new inputs as its outputs: what depends on an output the inputs
        // determine (a data URI) must see it, not an unknown that would show a replacement.
        let readAcl: "private" | "public" = "private";
        let weights = "weights a";
        let stack: Stack;
        /** The ModelFile's operation in a preview and the outputs the engine predicts for it. */
        const previewModel = async () => {
            let step: { op?: string; outputs?: Record<string, unknown> } = {};
            const preview = await stack.preview({
                onEvent: (event) => {
                    const meta = event.resOutputsEvent?.metadata;
                    if (meta?.urn.endsWith("::model")) step = { op: meta.op, outputs: meta.new?.outputs };
                },
            });
            return { summary: preview.changeSummary, ...step };
        };

        before(async () => {
            stack = await bed.sandbox.inlineStack("model-file", "previews", async () => {
                const collection = new DataCollection("models", {
                    name: "previews",
                    readAcl,
                    forceDestroy: true,
                    apiAddress: bed.server.url,
                });
                new ModelFile("model", {
                    collection: collection.dataUri,
                    name: "model.pkl",
                    source: new pulumi.asset.StringAsset(weights),
                    apiAddress: bed.server.url,
                });
            });
            await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
            await stack.up();
        });

        it("keeps the model file when its collection's ACL changes in place", async () => {
            readAcl = "public";
            const preview = await previewModel();
            assert.deepStrictEqual(
                preview.summary,
                { same: 2, update: 1 },
                "the collection updates, the model file stays",
            );
            assert.strictEqual(preview.op, "same");
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, update: 1 });
        });

        it("shows a new model's own data URI at preview, as the up then makes it", async () => {
            weights = "weights b";
            const preview = await previewModel();
            assert.deepStrictEqual(
                { summary: preview.summary, op: preview.op },
                { summary: { same: 2, update: 1 }, op: "update" },
            );
            assert.strictEqual(preview.outputs?.dataUri, stored("previews", "weights b"));
            await stack.up();
            const state = (await stack.exportStack()).deployment.resources.find((r: { urn: string }) =>
                r.urn.endsWith("::model"),
            );
            assert.strictEqual(state.outputs.dataUri, stored("previews", "weights b"));
            await stack.preview({ expectNoChanges: true });
        });
    });

    describe("hashing at check", () => {
        it("keeps the file's stamp in state and still sees a same-size rewrite whose modification time is put back", async () => {
            const file = path.join(bed.root, "model-stamped.pkl");
            fs.writeFileSync(file, "weights A");
            const { mtime } = fs.statSync(file);
            await new Promise((resolve) => setTimeout(resolve, 2100)); // out of the racy window: it gets a stamp
            const stack = await modelStack("stamped", "stamped", () => ({ source: file }));
            await stack.up();
            const model = async () =>
                (await stack.exportStack()).deployment.resources.find((r: any) => r.type.endsWith(":ModelFile"));
            const kept = (await model()).inputs;
            assert.match(kept.sourceStamp, /:\d+:\d+$/, "the stamp is kept with the inputs");
            assert.strictEqual(kept.sha256, sha256("weights A"));
            await stack.preview({ expectNoChanges: true });

            fs.writeFileSync(file, "weights B");
            fs.utimesSync(file, mtime, mtime);
            assert.deepStrictEqual((await stack.preview()).changeSummary, { same: 2, update: 1 });
            await stack.up();
            assert.strictEqual((await stack.outputs()).sha256.value, sha256("weights B"));
            assert.strictEqual(await remote(stored("stamped", "weights B")), "weights B");
            await stack.preview({ expectNoChanges: true });
            await stack.destroy();
        });
    });

    describe("existing files", () => {
        before(async () => {
            await call(bed.server, "POST", "/v1/connector/data/alice", { key: ALICE.key, json: { name: "existing" } });
        });

        it("refuses a file at its content's name that holds other bytes, and overwrites it with adopt: true", async () => {
            const at = stored("existing", "ours");
            await call(bed.server, "PUT", `/v1/connector/data/${at.slice("data://".length)}`, {
                key: ALICE.key,
                body: "someone else's",
            });
            let args: Partial<ModelFileArgs> = { source: new pulumi.asset.StringAsset("ours") };
            const stack = await bed.sandbox.inlineStack("model-file", "adopt", async () => {
                new ModelFile("model", {
                    collection: "data://alice/existing",
                    name: "model.pkl",
                    source: "",
                    apiAddress: bed.server.url,
                    ...args,
                });
            });
            await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
            await assert.rejects(
                stack.up(),
                /already exists with other content \(14 bytes, not 4\): it was changed out of band\. Set `adopt: true`/,
            );
            assert.strictEqual(await remote(at), "someone else's");

            args = { source: new pulumi.asset.StringAsset("ours"), adopt: true };
            await stack.up();
            assert.strictEqual(await remote(at), "ours");
            await stack.preview({ expectNoChanges: true });
            await stack.destroy();
            assert.strictEqual(await remote(at), undefined);
        });
    });

    describe("failures", () => {
        it("fails at preview when the source file does not exist, naming source", async () => {
            const stack = await modelStack("missing", "missing", () => ({ source: path.join(bed.root, "nope.pkl") }));
            await assert.rejects(
                stack.preview(),
                /property source .*has a problem: source: cannot read .*nope\.pkl: ENOENT/,
            );
        });

        it("fails at preview on a collection that is not a data URI, naming collection", async () => {
            const stack = await bed.sandbox.inlineStack("model-file", "bad-uri", async () => {
                new ModelFile("model", {
                    collection: "s3://bucket",
                    name: "m.pkl",
                    source: new pulumi.asset.StringAsset("x"),
                    apiAddress: bed.server.url,
                });
            });
            await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
            await assert.rejects(
                stack.preview(),
                /property collection .*has a problem: collection: must be a collection's data URI/,
            );
        });

        it("converges on the next up after an up whose uploads all failed", async () => {
            const file = path.join(bed.root, "flaky.pkl");
            fs.writeFileSync(file, "flaky weights");
            const stack = await modelStack("flaky", "flaky", () => ({ source: file }));
            bed.server.faults.set("PUT /v1/connector/data/alice/flaky/*=drop:1");
            try {
                await assert.rejects(
                    stack.up(),
                    /PUT \/v1\/connector\/data\/alice\/flaky\/model\.[0-9a-f]{16}\.pkl failed/,
                );
            } finally {
                bed.server.faults.clear();
            }
            assert.strictEqual(await remote(stored("flaky", "flaky weights")), undefined);
            const counts = await counting(() => stack.up());
            assert.strictEqual(uploads(counts), 1);
            assert.strictEqual(await remote(stored("flaky", "flaky weights")), "flaky weights");
            await stack.preview({ expectNoChanges: true });
        });

        it("converges on the next up after the engine is killed in the middle of an upload", async () => {
            const file = path.join(bed.root, "killed.pkl");
            fs.writeFileSync(file, "weights that were being uploaded");
            const stack = await modelStack("killed", "killed", () => ({ source: file }));
            bed.server.faults.set("PUT /v1/connector/data/alice/killed/*=latency:5s");
            bed.server.faults.resetCounts();
            const interrupted = stack.up().then(
                () => assert.fail("the up was killed"),
                (err) => err,
            );
            try {
                // Wait for the upload to reach the server (it then waits 5 s before storing anything).
                for (let i = 0; uploads(bed.server.faults.counts()) === 0; i++) {
                    assert.ok(i < 600, "the upload reached the server");
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                killEngine("killed");
                await interrupted;
            } finally {
                bed.server.faults.clear();
            }
            // What a user does after a crash: remove the dead engine's lock, then run `up` again.
            await stack.cancel();
            const rerun = await stack.up();
            assert.deepStrictEqual(
                rerun.summary.resourceChanges,
                { same: 2, create: 1 },
                "the collection made it, the model did not",
            );
            assert.strictEqual(
                await remote(stored("killed", "weights that were being uploaded")),
                "weights that were being uploaded",
            );
            await stack.preview({ expectNoChanges: true });
        });
    });
});
