// The shared resource plumbing: zod failures that name the property, tolerance of unknowns during preview, and a
// diff limited to an explicit key list with normalised defaults.
import * as assert from "assert";
import { z } from "zod";
import { AlgorithmiaApiError } from "../../provider/client";
import {
    UNKNOWN,
    checkWithSchema,
    diffByKeys,
    dynamicProvider,
    hostError,
    parseDataUri,
} from "../../provider/resources/dynamic";

describe("resources/dynamic", () => {
    const schema = z.object({
        name: z.string().regex(/^[a-z]+$/, "must be lowercase letters"),
        settings: z.object({ environment: z.enum(["cpu", "gpu"]).default("cpu") }),
        tags: z.array(z.string()).default([]),
    });

    describe("checkWithSchema", () => {
        it("answers the parsed inputs with defaults, without the serialized provider", () => {
            const { inputs, failures } = checkWithSchema(schema, {
                name: "abc",
                settings: {},
                __provider: "exports.handler = ...",
            });
            assert.deepStrictEqual(failures, []);
            assert.deepStrictEqual(inputs, { name: "abc", settings: { environment: "cpu" }, tags: [] });
        });

        it("names the property (nested and indexed) and the rule in each failure", () => {
            const { failures } = checkWithSchema(schema, {
                name: "ABC",
                settings: { environment: "tpu" },
                tags: ["ok", 3],
            });
            assert.deepStrictEqual(
                failures.map((f) => f.property),
                ["name", "settings.environment", "tags[1]"],
            );
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
            assert.deepStrictEqual(
                mixed.failures.map((f) => f.property),
                ["name"],
                "known values are still checked",
            );
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
                {
                    name: "a",
                    acl: "myAlgorithms",
                    settings: { x: 1, y: 2 },
                    __provider: "old code",
                    dataUri: "data://u/a",
                },
                { name: "a", settings: { y: 2, x: 1 }, __provider: "new code" },
                rules,
            );
            assert.strictEqual(diff.changes, false);
            assert.deepStrictEqual(diff.replaces, []);
        });

        it("updates in place for update keys and replaces for replace keys", () => {
            assert.deepStrictEqual(
                diffByKeys({ name: "a", acl: "private" }, { name: "a", acl: "public" }, rules).replaces,
                [],
            );
            assert.strictEqual(
                diffByKeys({ name: "a", acl: "private" }, { name: "a", acl: "public" }, rules).changes,
                true,
            );
            assert.deepStrictEqual(diffByKeys({ name: "a" }, { name: "b" }, rules).replaces, ["name"]);
        });

        it("counts an unknown new value as a change (a possible replace for a replace key)", () => {
            assert.deepStrictEqual(diffByKeys({ name: "a" }, { name: UNKNOWN }, rules).replaces, ["name"]);
            assert.strictEqual(
                diffByKeys({ name: "a", settings: { x: 1 } }, { name: "a", settings: { x: UNKNOWN } }, rules).changes,
                true,
            );
        });
    });

    it("parses hosted data URIs", () => {
        assert.deepStrictEqual(parseDataUri("data://alice/models/m.pkl"), {
            owner: "alice",
            collection: "models",
            file: "m.pkl",
        });
        assert.deepStrictEqual(parseDataUri("data://.my/models/"), {
            owner: ".my",
            collection: "models",
            file: undefined,
        });
        assert.throws(() => parseDataUri("s3://bucket/x"), /not a hosted data URI/);
    });

    describe("hostError", () => {
        it("turns an AlgorithmiaApiError into a plain Error without the numeric code", () => {
            const error = hostError(new AlgorithmiaApiError("DELETE", "/v1/algorithms/alice/a", 400, "refused", 2003));
            assert.ok(error instanceof Error);
            assert.strictEqual(`${error}`, "AlgorithmiaApiError: DELETE /v1/algorithms/alice/a returned 400: refused");
            assert.match(error.stack!, /DELETE \/v1\/algorithms\/alice\/a returned 400: refused/);
            assert.strictEqual((error as any).code, undefined, "grpc-js would send a numeric code as the gRPC status");
        });

        it("keeps what the host reports for a resource that failed to initialise, and describes non-errors", () => {
            const initFailure = Object.assign(new Error("build failed"), {
                id: "alice/a",
                properties: { x: 1 },
                reasons: ["build failed"],
            });
            const reported = hostError(initFailure) as any;
            assert.deepStrictEqual(
                [reported.message, reported.id, reported.properties, reported.reasons],
                ["build failed", "alice/a", { x: 1 }, ["build failed"]],
            );
            assert.strictEqual(hostError("boom").message, "the provider failed: boom");
            assert.strictEqual(hostError({ status: 500 }).message, 'the provider failed: {"status":500}');
        });
    });
    describe("the cluster of each object", () => {
        const provider = dynamicProvider({
            schema: () => z.object({ name: z.string(), apiAddress: z.string().optional() }),
            diff: { replaceKeys: ["name"], updateKeys: ["apiAddress"], deleteBeforeReplace: true },
        } as any);
        before(async () => {
            await provider.configure!({
                config: { get: (key: string) => (key === "algorithmia:apiAddress" ? "http://a.example" : undefined) },
            } as any);
        });

        it("is the resolved API address, compared resolved: another one replaces, created before the old one is deleted", async () => {
            const { inputs } = await provider.check!({}, { name: "x" });
            assert.strictEqual(inputs.cluster, "http://a.example");
            const explicit = (await provider.check!({}, { name: "x", apiAddress: "http://a.example/" })).inputs;
            assert.strictEqual(
                (await provider.diff!("id", { ...inputs }, explicit)).changes,
                false,
                "written out, the same cluster",
            );
            const moved = await provider.diff!("id", { name: "x", cluster: "http://b.example" }, inputs);
            assert.deepStrictEqual([moved.replaces, moved.deleteBeforeReplace], [["cluster"], false]);
            const renamed = await provider.diff!("id", { name: "y", cluster: "http://a.example" }, inputs);
            assert.deepStrictEqual([renamed.replaces, renamed.deleteBeforeReplace], [["name"], true]);
        });

        it("is no change for a state written before the cluster was kept", async () => {
            const { inputs } = await provider.check!({}, { name: "x" });
            assert.strictEqual((await provider.diff!("id", { name: "x" }, inputs)).changes, false);
        });
    });
});
