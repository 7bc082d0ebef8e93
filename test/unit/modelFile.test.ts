// ModelFile's check: the sha256 kept in state (or remembered on this machine) is reused while the source file's
// identity (path, inode, size, modification and change times) is the same, and the file is hashed again whenever
// any of them moved, also for a same-size rewrite whose modification time is put back. Real files, real stat and
// hashing.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fileStamp, modelFileController } from "../../provider/resources/modelFile";

const sha256 = (data: string) => crypto.createHash("sha256").update(data).digest("hex");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("resources/modelFile check", function () {
    this.timeout(20_000);
    let dir: string;
    const inputs = (source: string) => ({ collection: "data://alice/models", name: "model.pkl", source, adopt: false });
    const check = (source: string, olds: object) => modelFileController.prepare!(inputs(source), olds, {} as any);

    // This suite's own cache directory, where the hashes of its files are remembered.
    let cache: string;
    const cachedEntries = () => {
        const kept = path.join(cache, "model-hashes");
        return fs.existsSync(kept) ? fs.readdirSync(kept).map((name) => path.join(kept, name)) : [];
    };
    before(() => {
        cache = fs.mkdtempSync(path.join(os.tmpdir(), "model-file-cache-"));
        process.env.PULUMI_ALGORITHMIA_CACHE = cache;
    });
    after(() => {
        delete process.env.PULUMI_ALGORITHMIA_CACHE;
        fs.rmSync(cache, { recursive: true, force: true });
    });
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-file-check-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reuses the kept sha256 while the file's stamp is unchanged, and hashes a same-size rewrite again", async () => {
        const file = path.join(dir, "model.bin");
        fs.writeFileSync(file, "weights A");
        const { mtime } = fs.statSync(file);
        await sleep(2100); // older than the racy window, so it gets a stamp
        const first = (await check(file, {})).inputs;
        assert.strictEqual(first.sha256, sha256("weights A"));
        assert.ok(first.sourceStamp, "a stamp is kept for a file that has not changed lately");

        // The same stamp: the kept hash is the answer (a made-up one here, so a re-read would show).
        const kept = (await check(file, { ...first, sha256: "f".repeat(64) })).inputs;
        assert.strictEqual(kept.sha256, "f".repeat(64));
        assert.strictEqual(kept.sourceStamp, first.sourceStamp);

        // Same size, modification time put back: the change time still moved, so it is read again.
        fs.writeFileSync(file, "weights B");
        fs.utimesSync(file, mtime, mtime);
        const changed = (await check(file, first)).inputs;
        assert.strictEqual(changed.sha256, sha256("weights B"));
        assert.strictEqual(
            changed.sourceStamp,
            undefined,
            "just changed: no stamp until it is older than the racy window",
        );
        assert.strictEqual(
            (await check(file, { ...changed, sha256: "f".repeat(64) })).inputs.sha256,
            sha256("weights B"),
        );
    });

    it("stamps the path too: another file with the same bytes and times is its own", async () => {
        const [a, b] = [path.join(dir, "a.bin"), path.join(dir, "b.bin")];
        fs.writeFileSync(a, "same");
        fs.copyFileSync(a, b);
        await sleep(2100);
        const [stampA, stampB] = [await fileStamp(a), await fileStamp(b)];
        assert.ok(stampA && stampB);
        assert.notStrictEqual(stampA, stampB);
        const first = (await check(a, {})).inputs;
        assert.strictEqual((await check(b, { ...first, sha256: "f".repeat(64) })).inputs.sha256, sha256("same"));
    });

    it("remembers the hashes of a stamp on this machine: the update's check after a preview reads nothing", async () => {
        const file = path.join(dir, "model.bin");
        fs.writeFileSync(file, "weights A");
        await sleep(2100);
        const preview = (await check(file, {})).inputs;
        assert.strictEqual(preview.sha256, sha256("weights A"));
        const [entry] = cachedEntries();
        // What the preview's check kept answers the next check of the same stamp (a made-up hash, so a re-read would show).
        const remembered = JSON.parse(fs.readFileSync(entry, "utf8"));
        fs.writeFileSync(entry, JSON.stringify({ ...remembered, sha256: "f".repeat(64) }));
        const update = (await check(file, {})).inputs;
        assert.strictEqual(update.sha256, "f".repeat(64));
        assert.strictEqual(update.sourceStamp, preview.sourceStamp);

        // A changed file has another stamp: hashed again, whatever is remembered.
        fs.writeFileSync(file, "weights B");
        await sleep(2100);
        assert.strictEqual((await check(file, {})).inputs.sha256, sha256("weights B"));
        assert.strictEqual(cachedEntries().length, 1, "one entry per path");

        // The entries of files that are gone go when the next one is kept.
        fs.rmSync(file);
        const other = path.join(dir, "other.bin");
        fs.writeFileSync(other, "weights C");
        await sleep(2100);
        await check(other, {});
        assert.deepStrictEqual(
            cachedEntries().map((e) => JSON.parse(fs.readFileSync(e, "utf8")).file),
            [other],
        );
    });

    it("fails naming source for a file that is gone", async () => {
        const { failures } = await check(path.join(dir, "missing.bin"), {});
        assert.match(failures![0].reason, /^source: cannot read .*missing\.bin: ENOENT$/);
    });
});
