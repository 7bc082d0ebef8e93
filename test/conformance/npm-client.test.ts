// Conformance with the official Algorithmia npm client (`algorithmia`, node_modules/algorithmia/lib/data.js): its
// Data API calls, exactly as it sends them, against algorithmia-local over real HTTP — directories, files, listings
// across pages, and what ACLs let a second user do. The client has no ACL calls, so ACLs are set over raw HTTP.
//
// What the client sends (read from its source): every path as `/v1/data/<path without data://>`, unencoded;
// `Authorization: Simple <key>`; Dir.create POSTs `{"name"}` (JSON, no ACL) to the parent; Dir.exists is a GET,
// File.exists a HEAD with `Accept: text/plain`; File.get asks for `application/octet-stream` and getString/getJson
// for `text/plain`/`application/json`, decoding the reply by its Content-Type; listings follow `marker`.
import * as assert from "assert";
import * as crypto from "crypto";
import { ALICE, BOB, call, startTestServer, TestServer } from "../helpers/server";

/** The parts of the untyped client this suite uses (callbacks as in lib/data.js). */
interface NpmFile {
    put(content: string | Buffer, cb: (body: any, status: number) => void): void;
    putJson(content: string, cb: (body: any, status: number) => void): void;
    get(cb: (err: { message: string } | null, data: any) => void): void;
    getString(cb: (body: any, status: number) => void): void;
    getJson(cb: (body: any, status: number) => void): void;
    exists(cb: (exists: boolean, status?: number) => void): void;
    delete(cb: (body: any, status: number) => void): void;
    last_modified?: string;
    size?: number;
    data_path: string;
}
interface NpmDir {
    create(cb: (body: any, status: number) => void): void;
    exists(cb: (exists: boolean, status?: number) => void): void;
    delete(force: boolean, cb: (body: any, status: number) => void): void;
    file(name: string): NpmFile;
    iterator(): { next(cb: (err: { message: string } | null, item: NpmFile | NpmDir | undefined) => void): void };
    data_path: string;
}
interface NpmClient {
    file(uri: string): NpmFile;
    dir(uri: string): NpmDir;
}
const algorithmia: (key: string, address: string) => NpmClient = require("algorithmia");

/** The client's (body, status) callbacks as a promise. */
const reply = (op: (cb: (body: any, status: number) => void) => void) =>
    new Promise<{ body: any; status: number }>((resolve) => op((body, status) => resolve({ body, status })));
const exists = (target: NpmFile | NpmDir) => new Promise<boolean>((resolve) => target.exists((yes) => resolve(yes)));
const get = (file: NpmFile) =>
    new Promise<{ err: { message: string } | null; data: any }>((resolve) =>
        file.get((err, data) => resolve({ err, data })),
    );

/** Every entry of a listing, through the client's own iterator (which follows markers). */
async function list(dir: NpmDir): Promise<{ names: string[]; error?: string; files: NpmFile[] }> {
    const iterator = dir.iterator();
    const names: string[] = [];
    const files: NpmFile[] = [];
    for (;;) {
        const { err, item } = await new Promise<{
            err: { message: string } | null;
            item: NpmFile | NpmDir | undefined;
        }>((resolve) => iterator.next((err, item) => resolve({ err, item })));
        if (err) return { names, files, error: err.message };
        if (!item) return { names, files };
        names.push(item.data_path);
        if ("put" in item) files.push(item);
    }
}

describe("conformance: official npm client (algorithmia)", function () {
    let server: TestServer;
    let alice: NpmClient;
    let bob: NpmClient;
    const setAcl = async (uri: string, read: string[]) => {
        const res = await call(server, "PATCH", `/v1/data/${uri.replace("data://", "")}`, {
            key: ALICE.key,
            json: { acl: { read } },
        });
        assert.strictEqual(res.status, 200, res.text);
    };

    before(async () => {
        server = await startTestServer();
        alice = algorithmia(ALICE.key, server.url);
        bob = algorithmia(BOB.key, server.url);
    });
    after(async () => server?.dispose());

    it("creates a directory, puts, gets, checks and deletes files", async () => {
        const dir = alice.dir("data://.my/npm_files");
        assert.strictEqual(await exists(dir), false);
        const created = await reply((cb) => dir.create(cb));
        assert.deepStrictEqual([created.status, created.body], [200, { result: "data://alice/npm_files" }]);
        assert.strictEqual(await exists(dir), true);
        assert.strictEqual(await exists(alice.dir("data://alice/npm_files")), true);

        const bytes = crypto.randomBytes(4096);
        const binary = dir.file("model.bin");
        assert.strictEqual(await exists(binary), false);
        const put = await reply((cb) => binary.put(bytes, cb));
        assert.deepStrictEqual([put.status, put.body], [200, { result: "data://alice/npm_files/model.bin" }]);
        assert.strictEqual(await exists(binary), true);
        const downloaded = await get(binary);
        assert.strictEqual(downloaded.err, null);
        assert.ok(Buffer.isBuffer(downloaded.data) && downloaded.data.equals(bytes), "get returns the bytes put");

        const text = alice.file("data://.my/npm_files/greeting.txt");
        await reply((cb) => text.put("hello, world", cb));
        assert.deepStrictEqual(await reply((cb) => text.getString(cb)), { body: "hello, world", status: 200 });
        const json = alice.file("data://alice/npm_files/config.json");
        await reply((cb) => json.putJson(JSON.stringify({ threshold: 0.5 }), cb));
        assert.deepStrictEqual(await reply((cb) => json.getJson(cb)), { body: { threshold: 0.5 }, status: 200 });

        // Overwriting replaces the content.
        await reply((cb) => text.put("goodbye", cb));
        assert.strictEqual((await reply((cb) => text.getString(cb))).body, "goodbye");

        const deleted = await reply((cb) => text.delete(cb));
        assert.deepStrictEqual([deleted.status, deleted.body], [200, { result: { deleted: 1 } }]);
        assert.strictEqual(await exists(text), false);
        const missing = await get(text);
        assert.match(missing.err!.message, /does not exist/);
        const again = await reply((cb) => text.delete(cb));
        assert.strictEqual(again.status, 404);
        assert.match(again.body.error.message, /does not exist/);
    });

    it("lists files with size and last_modified, and directories of an owner", async () => {
        const dir = alice.dir("data://.my/npm_listing");
        await reply((cb) => dir.create(cb));
        for (const [name, content] of [
            ["b.txt", "bb"],
            ["a.txt", "a"],
            ["c d.txt", "ccc"],
        ]) {
            assert.strictEqual((await reply((cb) => dir.file(name).put(content, cb))).status, 200, name);
        }
        const listing = await list(dir);
        assert.strictEqual(listing.error, undefined);
        assert.deepStrictEqual(
            listing.names,
            ["npm_listing/a.txt", "npm_listing/b.txt", "npm_listing/c d.txt"].map((n) => `.my/${n}`),
        );
        assert.deepStrictEqual(
            listing.files.map((f) => f.size),
            [1, 2, 3],
        );
        for (const file of listing.files) assert.match(file.last_modified!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
        // A file found by listing can be read back through the object the client made.
        assert.strictEqual((await reply((cb) => listing.files[2].getString(cb))).body, "ccc");

        const owner = await list(alice.dir("data://.my"));
        assert.ok(owner.names.includes(".my/npm_listing") && owner.names.includes(".my/npm_files"), owner.names.join());
    });

    it("pages through more than 1000 files by marker", async () => {
        const dir = alice.dir("data://.my/npm_paged");
        await reply((cb) => dir.create(cb));
        const names = Array.from({ length: 1003 }, (_, i) => `f${String(i).padStart(4, "0")}`);
        for (let i = 0; i < names.length; i += 50) {
            await Promise.all(names.slice(i, i + 50).map((name) => reply((cb) => dir.file(name).put(name, cb))));
        }
        const page1 = await call(server, "GET", "/v1/data/.my/npm_paged", { key: ALICE.key });
        assert.strictEqual(page1.json.files.length, 1000);
        assert.ok(page1.json.marker, "a first page of 1000 has a marker");
        const listing = await list(dir);
        assert.deepStrictEqual(
            listing.names,
            names.map((n) => `.my/npm_paged/${n}`),
        );
    });

    it("refuses to delete a non-empty directory unless forced", async () => {
        const dir = alice.dir("data://.my/npm_delete");
        await reply((cb) => dir.create(cb));
        await reply((cb) => dir.file("x").put("x", cb));
        await reply((cb) => dir.file("y").put("y", cb));
        const refused = await reply((cb) => dir.delete(false, cb));
        assert.strictEqual(refused.status, 400);
        assert.match(refused.body.error.message, /not empty.*force=true/);
        assert.strictEqual(await exists(dir.file("x")), true);
        const forced = await reply((cb) => dir.delete(true, cb));
        assert.deepStrictEqual([forced.status, forced.body], [200, { result: { deleted: 2 } }]);
        assert.strictEqual(await exists(dir), false);
    });

    it("reports a missing or unauthenticated call as an error the client understands", async () => {
        const nobody = algorithmia("simNoSuchKey", server.url);
        const unauthenticated = await reply((cb) => nobody.dir("data://alice/npm_nobody").create(cb));
        assert.strictEqual(unauthenticated.status, 401);
        assert.match(unauthenticated.body.error.message, /API key/);
        const keyless = algorithmia("", server.url);
        assert.strictEqual(await exists(keyless.file("data://alice/npm_files/model.bin")), false);
        const noCollection = await reply((cb) => alice.file("data://.my/npm_nosuch/f").put("x", cb));
        assert.strictEqual(noCollection.status, 404);
        assert.match(noCollection.body.error.message, /does not exist/);
    });

    describe("ACL effects between two users", () => {
        const uri = "data://alice/npm_acl";
        before(async () => {
            const dir = alice.dir(uri);
            await reply((cb) => dir.create(cb));
            await reply((cb) => dir.file("weights.bin").put("secret weights", cb));
        });

        it("a new directory is my-algorithms: other users cannot read it from outside", async () => {
            const acl = await call(server, "GET", "/v1/data/alice/npm_acl?acl=true", { key: ALICE.key });
            assert.deepStrictEqual(acl.json.acl, { read: ["algo://.my/*"] });
            const file = bob.file(`${uri}/weights.bin`);
            assert.strictEqual(await exists(file), false);
            const denied = await get(file);
            assert.match(denied.err!.message, /not authorized/);
            assert.strictEqual(await exists(bob.dir(uri)), false);
        });

        it("public: another user may read and list, but not write or delete", async () => {
            await setAcl(uri, ["user://*"]);
            const file = bob.file(`${uri}/weights.bin`);
            assert.strictEqual(await exists(file), true);
            assert.strictEqual((await reply((cb) => file.getString(cb))).body, "secret weights");
            assert.deepStrictEqual((await list(bob.dir(uri))).names, ["alice/npm_acl/weights.bin"]);
            // Bob sees alice's public collection in her namespace.
            assert.ok((await list(bob.dir("data://alice"))).names.includes("alice/npm_acl"));

            const write = await reply((cb) => file.put("bob was here", cb));
            assert.strictEqual(write.status, 403);
            assert.match(write.body.error.message, /not authorized/);
            const remove = await reply((cb) => file.delete(cb));
            assert.strictEqual(remove.status, 403);
            const removeDir = await reply((cb) => bob.dir(uri).delete(true, cb));
            assert.strictEqual(removeDir.status, 403);
            const create = await reply((cb) => bob.dir("data://alice/npm_by_bob").create(cb));
            assert.strictEqual(create.status, 403);
            assert.strictEqual(
                (await reply((cb) => alice.file(`${uri}/weights.bin`).getString(cb))).body,
                "secret weights",
            );
        });

        it("private: only the owner reads; the collection disappears from the other user's view", async () => {
            await setAcl(uri, []);
            const file = bob.file(`${uri}/weights.bin`);
            assert.strictEqual(await exists(file), false);
            assert.match((await get(file)).err!.message, /not authorized/);
            const listing = await list(bob.dir(uri));
            assert.match(listing.error!, /not authorized/);
            assert.ok(!(await list(bob.dir("data://alice"))).names.includes("alice/npm_acl"));
            assert.strictEqual(
                (await reply((cb) => alice.file(`${uri}/weights.bin`).getString(cb))).body,
                "secret weights",
            );
        });

        it("an organization's collection is written by its members only", async () => {
            const dir = alice.dir("data://team/npm_shared");
            assert.strictEqual((await reply((cb) => dir.create(cb))).status, 200);
            assert.strictEqual((await reply((cb) => dir.file("m.txt").put("from alice", cb))).status, 200);
            const fromBob = await reply((cb) => bob.file("data://team/npm_shared/m.txt").put("from bob", cb));
            assert.strictEqual(fromBob.status, 403);
            assert.strictEqual(await exists(bob.file("data://team/npm_shared/m.txt")), false);
            assert.strictEqual((await reply((cb) => dir.file("m.txt").getString(cb))).body, "from alice");
        });
    });
});
