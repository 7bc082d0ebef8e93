// The shared resource plumbing: zod failures that name the property, tolerance of unknowns during preview, and a
// diff limited to an explicit key list with normalised defaults.
import * as assert from "assert";
import { z } from "zod";
import { UNKNOWN, checkWithSchema, diffByKeys, parseDataUri } from "../../provider/resources/dynamic";

describe("resources/dynamic", () => {
    const schema = z.object({
        name: z.string().regex(/^[a-z]+$/, "must be lowercase letters"),
        settings: z.object({ environment: z.enum(["cpu", "gpu"]).default("cpu") }),
        tags: z.array(z.string()).default([]),
    });

    describe("checkWithSchema", () => {
        it("answers the parsed inputs with defaults, without the serialized provider", () => {
            const { inputs, failures } = checkWithSchema(schema, { name: "abc", settings: {}, __provider: "exports.handler = ..." });
            assert.deepStrictEqual(failures, []);
            assert.deepStrictEqual(inputs, { name: "abc", settings: { environment: "cpu" }, tags: [] });
        });

        it("names the property (nested and indexed) and the rule in each failure", () => {
            const { failures } = checkWithSchema(schema, { name: "ABC", settings: { environment: "tpu" }, tags: ["ok", 3] });
            assert.deepStrictEqual(failures.map((f) => f.property), ["name", "settings.environment", "tags[1]"]);
            assert.match(failures[0].reason, /^name: must be lowercase letters$/);
            assert.match(failures[1].reason, /^settings\.environment: .*"cpu".*"gpu"/);
        });

        it("tolerates unknown values, at the property or above it, during a preview", () => {
            const unknownLeaf = checkWithSchema(schema, { name: UNKNOWN, settings: { environment: UNKNOWN } });
            assert.deepStrictEqual(unknownLeaf.failures, []);
            assert.strictEqual(unknownLeaf.inputs.name, UNKNOWN, "the unknown passes through to diff");
            const unknownParent = checkWithSchema(schema, { name: "abc", settings: UNKNOWN });
            assert.deepStrictEqual(unknownParent.failures, []);
            const mixed = checkWithSchema(schema, { name: "ABC", settings: UNKNOWN });
            assert.deepStrictEqual(mixed.failures.map((f) => f.property), ["name"], "known values are still checked");
        });
    });

    describe("diffByKeys", () => {
        const rules = {
            replaceKeys: ["name"],
            updateKeys: ["acl", "settings"],
            normalize: (p: Record<string, any>) => ({ ...p, acl: p.acl ?? "myAlgorithms" }),
        };

        it("sees no change when only keys outside the list differ, or a default is spelled out", () => {
            const diff = diffByKeys(
                { name: "a", acl: "myAlgorithms", settings: { x: 1, y: 2 }, __provider: "old code", dataUri: "data://u/a" },
                { name: "a", settings: { y: 2, x: 1 }, __provider: "new code" },
                rules,
            );
            assert.strictEqual(diff.changes, false);
            assert.deepStrictEqual(diff.replaces, []);
        });

        it("updates in place for update keys and replaces for replace keys", () => {
            assert.deepStrictEqual(diffByKeys({ name: "a", acl: "private" }, { name: "a", acl: "public" }, rules).replaces, []);
            assert.strictEqual(diffByKeys({ name: "a", acl: "private" }, { name: "a", acl: "public" }, rules).changes, true);
            assert.deepStrictEqual(diffByKeys({ name: "a" }, { name: "b" }, rules).replaces, ["name"]);
        });

        it("counts an unknown new value as a change (a possible replace for a replace key)", () => {
            assert.deepStrictEqual(diffByKeys({ name: "a" }, { name: UNKNOWN }, rules).replaces, ["name"]);
            assert.strictEqual(diffByKeys({ name: "a", settings: { x: 1 } }, { name: "a", settings: { x: UNKNOWN } }, rules).changes, true);
        });
    });

    it("parses hosted data URIs", () => {
        assert.deepStrictEqual(parseDataUri("data://alice/models/m.pkl"), { owner: "alice", collection: "models", file: "m.pkl" });
        assert.deepStrictEqual(parseDataUri("data://.my/models/"), { owner: ".my", collection: "models", file: undefined });
        assert.throws(() => parseDataUri("s3://bucket/x"), /not a hosted data URI/);
    });
});
