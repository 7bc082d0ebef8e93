// DataCollection through the real engine (Automation API inline program) against algorithmia-local: create,
// no-op preview, ACL change in place, rename → replace, drift seen by refresh, adopt, the leftover of a create
// interrupted after its POST, forceDestroy, invalid programs failing at preview with the property named, and destroy.
import * as assert from "assert";
import { Stack } from "@pulumi/pulumi/automation";
import { DataCollection, DataCollectionArgs } from "../../provider";
import { ALICE, call, replyLosingProxy } from "../helpers/server";
import { testBed } from "../helpers/testBed";
import { killDynamicProviders } from "../helpers/processes";

describe("DataCollection (engine + algorithmia-local)", function () {
    this.timeout(300_000);
    const bed = testBed();

    /** A stack holding one collection whose args the test changes between runs. */
    async function collectionStack(stackName: string, args: () => Partial<DataCollectionArgs>): Promise<Stack> {
        const stack = await bed.sandbox.inlineStack("data-collection", stackName, async () => {
            const collection = new DataCollection("models", { name: "models", apiAddress: bed.server.url, ...args() });
            return { dataUri: collection.dataUri, owner: collection.owner, readAcl: collection.readAcl };
        });
        await stack.setConfig("algorithmia:apiKey", { value: ALICE.key, secret: true });
        return stack;
    }

    const getAcl = async (owner: string, name: string) => {
        const res = await call(bed.server, "GET", `/v1/connector/data/${owner}/${name}?acl=true`, { key: ALICE.key });
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
            await call(bed.server, "PATCH", "/v1/connector/data/alice/models_v2", {
                key: ALICE.key,
                json: { acl: { read: [] } },
            });
            const refresh = await stack.refresh();
            assert.strictEqual(refresh.summary.resourceChanges?.update, 1);
            const preview = await stack.preview();
            assert.deepStrictEqual(preview.changeSummary, { same: 1, update: 1 });
            await stack.up();
            assert.deepStrictEqual(await getAcl("alice", "models_v2"), ["user://*"]);
            await stack.preview({ expectNoChanges: true });
        });

        it("reads a collection deleted out of band as gone, and re-creates it", async () => {
            await call(bed.server, "DELETE", "/v1/connector/data/alice/models_v2?force=true", { key: ALICE.key });
            const refresh = await stack.refresh();
            assert.strictEqual(refresh.summary.resourceChanges?.delete, 1);
            const up = await stack.up();
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, create: 1 });
            assert.deepStrictEqual(await getAcl("alice", "models_v2"), ["user://*"]);
        });

        it("refuses to delete a non-empty collection unless forceDestroy", async () => {
            await call(bed.server, "PUT", "/v1/connector/data/alice/models_v2/weights.bin", {
                key: ALICE.key,
                body: "0123",
            });
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
            await call(bed.server, "POST", "/v1/connector/data/alice", {
                key: ALICE.key,
                json: { name: "existing", acl: { read: [] } },
            });
            let args: Partial<DataCollectionArgs> = { name: "existing", readAcl: "public" };
            const stack = await collectionStack("adopt", () => args);
            await assert.rejects(stack.up(), /already exists: set `adopt: true`/);

            // Adopting without an owner asks who the key is by reading the root listing: the ACL's PATCH is the
            // only write (no scratch collection created and deleted to learn the owner).
            args = { name: "existing", readAcl: "public", adopt: true };
            bed.server.faults.resetCounts();
            const up = await stack.up();
            const counts = bed.server.faults.counts();
            assert.deepStrictEqual(
                { writes: counts.writes, patches: counts.routes["PATCH /v1/connector/*"] },
                { writes: 1, patches: 1 },
            );
            assert.strictEqual(up.outputs.dataUri.value, "data://alice/existing");
            assert.deepStrictEqual(await getAcl("alice", "existing"), ["user://*"]);
            await stack.preview({ expectNoChanges: true });
            await stack.destroy();
            assert.strictEqual(await getAcl("alice", "existing"), undefined);
        });

        it("takes over the leftover of a create whose POST landed before the provider was killed, and nothing else", async () => {
            let landed!: () => void;
            const posted = new Promise<void>((resolve) => (landed = resolve));
            const proxy = await replyLosingProxy(bed.server.url, "POST", "/v1/connector/data/.my", { landed });
            let apiAddress = proxy.url;
            let args: Partial<DataCollectionArgs> = { name: "interrupted", readAcl: "private" };
            const stack = await collectionStack("interrupted", () => ({ ...args, apiAddress }));
            try {
                const interrupted = stack.up();
                await posted;
                assert.deepStrictEqual(await getAcl("alice", "interrupted"), [], "the POST took effect");
                assert.ok(killDynamicProviders() > 0, "killed the dynamic provider process");
                await assert.rejects(interrupted);
            } finally {
                proxy.close();
            }
            assert.deepStrictEqual(
                (await stack.exportStack()).deployment.resources?.filter((r: { type: string }) =>
                    r.type.includes("DataCollection"),
                ) ?? [],
                [],
                "the state does not know the collection",
            );

            apiAddress = bed.server.url;
            let output = "";
            const up = await stack.up({ onOutput: (text) => (output += text) });
            assert.deepStrictEqual(up.summary.resourceChanges, { create: 1, same: 1 });
            assert.match(
                output,
                /data:\/\/alice\/interrupted already exists, empty and with readAcl "private": taking it over/,
            );
            assert.strictEqual(up.outputs.dataUri.value, "data://alice/interrupted");
            await stack.preview({ expectNoChanges: true });
            await stack.destroy();

            // A collection that holds a file, or has another ACL, may be someone's data: it needs adopt: true.
            await call(bed.server, "POST", "/v1/connector/data/alice", {
                key: ALICE.key,
                json: { name: "interrupted", acl: { read: [] } },
            });
            await call(bed.server, "PUT", "/v1/connector/data/alice/interrupted/data.csv", {
                key: ALICE.key,
                body: "a,b",
            });
            await assert.rejects(stack.up(), /already exists: set `adopt: true`/);
            await call(bed.server, "DELETE", "/v1/connector/data/alice/interrupted/data.csv", { key: ALICE.key });
            args = { name: "interrupted", readAcl: "public" };
            await assert.rejects(stack.up(), /already exists: set `adopt: true`/);
            assert.deepStrictEqual(await getAcl("alice", "interrupted"), [], "untouched");
            await call(bed.server, "DELETE", "/v1/connector/data/alice/interrupted", { key: ALICE.key });
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
