// ModelFile's refresh through its controller (no engine) against algorithmia-local: the file's listing time is kept
// at upload, so refresh downloads the file only when its size or time changed, and so sees bytes of the same size
// written out of band; state from before the time was kept is compared by size, and gets the time.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AlgorithmiaClient } from "../../provider/client";
import { ProviderContext } from "../../provider/resources/dynamic";
import { modelFileController } from "../../provider/resources/modelFile";
import { ALICE, TestServer, call, startTestServer } from "../helpers/server";

describe("ModelFile refresh (controller + algorithmia-local)", function () {
    let server: TestServer;
    let ctx: ProviderContext;
    let root: string;

    before(async () => {
        server = await startTestServer();
        ctx = {
            client: () => new AlgorithmiaClient({ apiAddress: server.url, apiKey: ALICE.key }),
            whoami: (client) => client.username(),
        };
        root = fs.mkdtempSync(path.join(os.tmpdir(), "model-refresh-"));
        await call(server, "POST", "/v1/connector/data/alice", { key: ALICE.key, json: { name: "models" } });
    });
    after(async () => {
        await server?.dispose();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    const sha256 = (data: string) => crypto.createHash("sha256").update(data).digest("hex");
    /** A model file with `content`, created as `up` does; answers its outputs. */
    const create = async (name: string, content: string) => {
        const source = path.join(root, name);
        fs.writeFileSync(source, content);
        const { inputs } = await modelFileController.prepare!(
            { collection: "data://alice/models", name, source, adopt: false } as any,
            {},
            ctx,
        );
        return (await modelFileController.create(ctx, inputs)).outs;
    };
    const route = (uri: string) => `/v1/connector/data/${uri.slice("data://".length)}`;
    const listed = async (uri: string) => {
        const filename = uri.split("/").pop();
        return (await call(server, "GET", "/v1/connector/data/alice/models", { key: ALICE.key })).json.files.find(
            (f: any) => f.filename === filename,
        );
    };
    /** Writes `content` over the file out of band, in a later second than its last write: listings show whole seconds. */
    const overwrite = async (uri: string, content: string) => {
        await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)));
        assert.strictEqual((await call(server, "PUT", route(uri), { key: ALICE.key, body: content })).status, 200);
    };
    /** What refresh reads back, and the requests it made (a download is a second GET beside the listing). */
    const refresh = async (outs: any) => {
        server.faults.resetCounts();
        const read = await modelFileController.read(ctx, outs.dataUri, outs);
        return { read: read as any, requests: server.faults.counts().routes };
    };
    const STAT = { "HEAD /v1/connector/*": 1, "GET /v1/connector/*": 1 };
    const STAT_AND_DOWNLOAD = { "HEAD /v1/connector/*": 1, "GET /v1/connector/*": 2 };

    it("keeps the listing's time at upload, and refreshes an unchanged file by its listing alone", async () => {
        const outs = await create("unchanged.bin", "weights");
        assert.strictEqual(outs.lastModified, (await listed(outs.dataUri)).last_modified);
        const { read, requests } = await refresh(outs);
        assert.deepStrictEqual(read, outs);
        assert.deepStrictEqual(requests, STAT, "no download");
    });

    it("sees other bytes of the same size written out of band, by their time, and downloads them once", async () => {
        const outs = await create("same-size.bin", "weights v1");
        await overwrite(outs.dataUri, "weights v2");
        const { read, requests } = await refresh(outs);
        assert.strictEqual(read.sha256, sha256("weights v2"), "drift: the next up uploads the program's content again");
        assert.strictEqual(read.size, outs.size);
        assert.strictEqual(read.lastModified, (await listed(outs.dataUri)).last_modified);
        assert.notStrictEqual(read.lastModified, outs.lastModified);
        assert.deepStrictEqual(requests, STAT_AND_DOWNLOAD);
        assert.deepStrictEqual(await refresh(read), { read, requests: STAT }, "known now: not downloaded again");
    });

    it("compares state from before the time was kept by size, and keeps the time from then on", async () => {
        const { lastModified: _none, ...old } = await create("old-state.bin", "weights v1");
        const first = await refresh(old);
        assert.deepStrictEqual(first, {
            read: { ...old, lastModified: (await listed(old.dataUri)).last_modified },
            requests: STAT,
        });
        await overwrite(old.dataUri, "weights v2");
        const second = await refresh(first.read);
        assert.strictEqual(second.read.sha256, sha256("weights v2"));
        assert.deepStrictEqual(second.requests, STAT_AND_DOWNLOAD);
    });
});
