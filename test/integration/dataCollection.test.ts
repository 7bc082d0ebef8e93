// DataCollection through the real engine (Automation API inline program) against algorithmia-local: create,
// no-op preview, ACL change in place, rename → replace, drift seen by refresh, adopt, forceDestroy, invalid
// programs failing at preview with the property named, and destroy.
import * as assert from "assert";
import { Stack } from "@pulumi/pulumi/automation";
import { DataCollection, DataCollectionArgs } from "../../provider";
import { ALICE, TestServer, call, startTestServer } from "../helpers/server";
import { PulumiSandbox } from "../helpers/pulumi";

describe("DataCollection (engine + algorithmia-local)", function () {
    this.timeout(300_000);
    let server: TestServer;
    let sandbox: PulumiSandbox;

    before(async () => {
        server = await startTestServer();
        sandbox = await PulumiSandbox.create();
    });
    after(async () => {
        await sandbox?.dispose();
        await server?.dispose();
    });

    /** A stack holding one collection whose args the test changes between runs. */
    async function collectionStack(stackName: string, args: () => Partial<DataCollectionArgs>): Promise<Stack> {
        const stack = await sandbox.inlineStack("data-collection", stackName, async () => {
            const collection = new DataCollection("models", { name: "models", apiAddress: server.url, ...args() });
            return { dataUri: collection.dataUri, owner: collection.owner, readAcl: collection.readAcl };
        });
        await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
        return stack;
    }

    const getAcl = async (owner: string, name: string) => {
        const res = await call(server, "GET", `/v1/connector/data/${owner}/${name}?acl=true`, { key: ALICE.key });
        return res.status === 404 ? undefined : res.json.acl.read;
    };

    describe("lifecycle", () => {
        let stack: Stack;
        let args: Partial<DataCollectionArgs> = { name: "models" };

        before(async () => {
            stack = await collectionStack("lifecycle", () => args);
        });

        it("creates the collection, owner defaulting to the key's user", async () => {
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { create: 2 });
            assert.strictEqual(up.outputs.dataUri.value, "data://alice/models");
            assert.strictEqual(up.outputs.owner.value, "alice");
            assert.strictEqual(up.outputs.readAcl.value, "myAlgorithms");
            assert.deepStrictEqual(await getAcl("alice", "models"), ["algo://.my/*"]);
        });

        it("previews no changes for the same program", async () => {
            const preview = await stack.preview({ expectNoChanges: true });
            assert.deepStrictEqual(preview.changeSummary, { same: 2 });
        });

        it("changes the ACL in place", async () => {
            args = { name: "models", readAcl: "public" };
            const preview = await stack.preview();
            assert.deepStrictEqual(preview.changeSummary, { same: 1, update: 1 });
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, update: 1 });
            assert.deepStrictEqual(await getAcl("alice", "models"), ["user://*"]);
            assert.strictEqual(up.outputs.dataUri.value, "data://alice/models", "update keeps the outputs");
            await stack.preview({ expectNoChanges: true });
        });

        it("replaces the collection when its name changes", async () => {
            args = { name: "models_v2", readAcl: "public" };
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, replace: 1 });
            assert.strictEqual(up.outputs.dataUri.value, "data://alice/models_v2");
            assert.strictEqual(await getAcl("alice", "models"), undefined, "the old collection is deleted");
            assert.deepStrictEqual(await getAcl("alice", "models_v2"), ["user://*"]);
            await stack.preview({ expectNoChanges: true });
        });

        it("sees an out-of-band ACL change on refresh and converges on the next up", async () => {
            await call(server, "PATCH", "/v1/connector/data/alice/models_v2", { key: ALICE.key, json: { acl: { read: [] } } });
            const refresh = await stack.refresh();
            assert.strictEqual(refresh.summary.resourceChanges?.update, 1);
            const preview = await stack.preview();
            assert.deepStrictEqual(preview.changeSummary, { same: 1, update: 1 });
            await stack.up();
            assert.deepStrictEqual(await getAcl("alice", "models_v2"), ["user://*"]);
            await stack.preview({ expectNoChanges: true });
        });

        it("reads a collection deleted out of band as gone, and re-creates it", async () => {
            await call(server, "DELETE", "/v1/connector/data/alice/models_v2?force=true", { key: ALICE.key });
            const refresh = await stack.refresh();
            assert.strictEqual(refresh.summary.resourceChanges?.delete, 1);
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, create: 1 });
            assert.deepStrictEqual(await getAcl("alice", "models_v2"), ["user://*"]);
        });

        it("refuses to delete a non-empty collection unless forceDestroy", async () => {
            await call(server, "PUT", "/v1/connector/data/alice/models_v2/weights.bin", { key: ALICE.key, body: "0123" });
            await assert.rejects(stack.destroy(), /still holds 1 file.*forceDestroy: true/s);
            assert.ok(await getAcl("alice", "models_v2"), "nothing was deleted");

            args = { name: "models_v2", readAcl: "public", forceDestroy: true };
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, update: 1 });
            await stack.destroy();
            assert.strictEqual(await getAcl("alice", "models_v2"), undefined);
        });
    });

    describe("adopt and owners", () => {
        it("fails clearly when the collection exists, and adopts it with adopt: true", async () => {
            await call(server, "POST", "/v1/connector/data/alice", { key: ALICE.key, json: { name: "existing", acl: { read: [] } } });
            let args: Partial<DataCollectionArgs> = { name: "existing", readAcl: "public" };
            const stack = await collectionStack("adopt", () => args);
            await assert.rejects(stack.up(), /already exists: set `adopt: true`/);

            args = { name: "existing", readAcl: "public", adopt: true };
            const up = await stack.up();
            assert.strictEqual(up.outputs.dataUri.value, "data://alice/existing");
            assert.deepStrictEqual(await getAcl("alice", "existing"), ["user://*"]);
            await stack.preview({ expectNoChanges: true });
            await stack.destroy();
            assert.strictEqual(await getAcl("alice", "existing"), undefined);
        });

        it("creates in an organization the key's user belongs to, and replaces on an owner change", async () => {
            let args: Partial<DataCollectionArgs> = { name: "shared", owner: "team" };
            const stack = await collectionStack("org", () => args);
            const up = await stack.up();
            assert.strictEqual(up.outputs.dataUri.value, "data://team/shared");
            await stack.preview({ expectNoChanges: true });

            // Dropping `owner` keeps the collection where it is (no request needed to know the key's user) ...
            args = { name: "shared" };
            await stack.preview({ expectNoChanges: true });
            // ... naming another owner moves it.
            args = { name: "shared", owner: "alice" };
            const moved = await stack.up();
            assert.deepStrictEqual(moved.summary.resourceChanges, { same: 1, replace: 1 });
            assert.strictEqual(moved.outputs.dataUri.value, "data://alice/shared");
            assert.strictEqual(await getAcl("team", "shared"), undefined);
            await stack.destroy();
        });
    });

    describe("invalid programs", () => {
        for (const [label, args, property] of [
            ["an unknown ACL", { name: "ok", readAcl: "everyone" }, "readAcl"],
            ["a name with a dash", { name: "bad-name" }, "name"],
            ["an owner that is too long", { name: "ok", owner: "a".repeat(31) }, "owner"],
        ] as const) {
            it(`fails at preview on ${label}, naming ${property}`, async () => {
                const stack = await collectionStack(`invalid-${property}`, () => args as any);
                await assert.rejects(stack.preview(), (err: Error) => {
                    assert.match(err.message, new RegExp(`property ${property} .*has a problem: ${property}: `));
                    return true;
                });
                assert.strictEqual(await getAcl("alice", "ok"), undefined);
            });
        }
    });
});
