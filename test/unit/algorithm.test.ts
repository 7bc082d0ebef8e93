// The Algorithm and AlgorithmVersion rules that need no server: what the schemas refuse and how they name it,
// which differences are updates, replacements or nothing at all (server defaults and empty values normalised,
// so an unchanged program never shows a diff), and the version rules checked at preview from the old inputs.
import * as assert from "assert";
import * as path from "path";
import { algorithmController, settingsFromWire } from "../../provider/resources/algorithm";
import { algorithmVersionController } from "../../provider/resources/algorithmVersion";
import { UNKNOWN, checkWithSchema, diffByKeys } from "../../provider/resources/dynamic";
import { repoRoot } from "../helpers/pulumi";

const SETTINGS = {
    language: "python3-1", environment: "cpu", license: "apl", sourceVisibility: "closed", networkAccess: "isolated", pipelineEnabled: false,
};
const PROGRAM = {
    name: "Greeter",
    details: { label: "Greeter" },
    settings: SETTINGS,
    source: path.join(repoRoot, "test/fixtures/algorithms/Greeter"),
};

describe("Algorithm rules (unit)", () => {
    const check = (news: Record<string, unknown>) => checkWithSchema(algorithmController.schema(), news);
    const diff = (olds: Record<string, unknown>, news: Record<string, unknown>) => diffByKeys(olds, news, algorithmController.diff);

    it("refuses closed source without the apl license, bad names and enums, naming each property", () => {
        const { failures } = check({ ...PROGRAM, name: "9lives", settings: { ...SETTINGS, license: "mit", environment: "tpu" } });
        assert.deepStrictEqual(failures.map((f) => f.property).sort(), ["name", "settings.environment"]);
        const license = check({ ...PROGRAM, settings: { ...SETTINGS, license: "mit" } }).failures;
        assert.deepStrictEqual(license.map((f) => f.property), ["settings.license"]);
        assert.match(license[0].reason, /requires license "apl"/);
        assert.deepStrictEqual(check({ ...PROGRAM, settings: { ...SETTINGS, license: "mit", sourceVisibility: "open" } }).failures, []);
    });

    it("hashes the source in check, and marks it unknown while the tree depends on unknown values", async () => {
        const { inputs } = check(PROGRAM);
        const prepared = await algorithmController.prepare!(inputs as any, {});
        assert.match(prepared.inputs.sourceSha256, /^[0-9a-f]{64}$/);
        const unknownModel = await algorithmController.prepare!({ ...(inputs as any), modelFiles: { m: { dataUri: "data://a/b/c", sha256: UNKNOWN } } }, {});
        assert.strictEqual(unknownModel.inputs.sourceSha256, UNKNOWN);
        const expected = await algorithmController.prepare!({ ...(inputs as any), expectedSourceSha256: "0".repeat(64) }, {});
        assert.deepStrictEqual(expected.failures?.map((f) => f.property), ["expectedSourceSha256"]);
    });

    it("sees no change between a program and what the server normalised", async () => {
        const { inputs } = check({ ...PROGRAM, details: { label: "Greeter", tagline: "" } });
        const news: Record<string, unknown> = { ...(await algorithmController.prepare!(inputs as any, {})).inputs };
        const olds = { ...news, owner: "alice", details: { label: "Greeter" }, algoPath: "alice/Greeter", gitHash: "a".repeat(40) };
        assert.strictEqual(diff(olds, news).changes, false);
    });

    it("updates details, settings and source in place; replaces on name, owner or language", () => {
        const olds = { ...PROGRAM, owner: "alice", sourceSha256: "1" };
        const update = diff(olds, { ...PROGRAM, details: { label: "New" }, settings: { ...SETTINGS, networkAccess: "full" }, sourceSha256: "2" });
        assert.deepStrictEqual([update.changes, update.replaces], [true, []]);
        const rename = diff(olds, { ...PROGRAM, name: "Other", sourceSha256: "1" });
        assert.deepStrictEqual([rename.replaces, rename.deleteBeforeReplace], [["name"], false]);
        const language = diff(olds, { ...PROGRAM, settings: { ...SETTINGS, language: "python3" }, sourceSha256: "1" });
        assert.deepStrictEqual([language.replaces, language.deleteBeforeReplace], [["settings.language"], true], "same name: delete first");
        assert.strictEqual(diff(olds, { ...PROGRAM, sourceSha256: "1" }).changes, false, "an omitted owner is the resolved one");
    });

    it("reads server settings back in our names, in the runtime model the program used", () => {
        const wire = { package_set: "python38", algorithm_environment: "e1", source_visibility: "open", license: "mit", network_access: "full", pipeline_enabled: true };
        const { language, environment, ...permissions } = SETTINGS;
        const bySet = { ...permissions, packageSet: "python38" } as any;
        const read = { license: "mit", sourceVisibility: "open", networkAccess: "full", pipelineEnabled: true };
        assert.deepStrictEqual(settingsFromWire(wire, bySet), { ...read, packageSet: "python38" }, "the derived environment id is not drift");
        assert.deepStrictEqual(settingsFromWire(wire, SETTINGS as any), { ...read, algorithmEnvironment: "e1" }, "moved to an environment out of band");
        assert.deepStrictEqual(settingsFromWire({ ...wire, package_set: undefined, algorithm_environment: undefined, language, environment }, SETTINGS as any),
            { ...SETTINGS, ...read });
    });

    it("takes exactly one runtime model: a language with its machine type, an environment or a package set", () => {
        const { language: _language, environment: _environment, ...permissions } = SETTINGS;
        const failures = (settings: Record<string, unknown>) => check({ ...PROGRAM, settings }).failures.map((f) => f.reason).sort();
        assert.deepStrictEqual(failures({ ...permissions, algorithmEnvironment: "8f5a2a3c-1b2d-4c5e-9f60-718293a4b5c6" }), []);
        assert.deepStrictEqual(failures({ ...permissions, packageSet: "python38" }), []);
        assert.deepStrictEqual(failures(permissions), [
            "settings.environment: is required unless settings.algorithmEnvironment or settings.packageSet chooses the runtime",
            "settings.language: is required unless settings.algorithmEnvironment or settings.packageSet chooses the runtime",
        ]);
        assert.match(failures({ ...SETTINGS, packageSet: "python38" }).join("\n"), /settings\.language: leave it out when settings\.packageSet chooses the runtime/);
        assert.match(failures({ ...permissions, packageSet: "python38", algorithmEnvironment: "8f5a2a3c-1b2d-4c5e-9f60-718293a4b5c6" }).join(),
            /settings\.packageSet: choose the runtime by algorithmEnvironment or by packageSet, not both/);
        assert.deepStrictEqual(failures({ ...permissions, algorithmEnvironment: UNKNOWN }), [], "an environment not known yet is one");
    });

    it("moves a legacy algorithm to an environment in place; back to a language is a new algorithm", () => {
        const { language: _language, environment: _environment, ...permissions } = SETTINGS;
        const legacy = { ...PROGRAM, owner: "alice", sourceSha256: "1" };
        const byEnv = { ...legacy, settings: { ...permissions, algorithmEnvironment: "e1" } };
        assert.deepStrictEqual([diff(legacy, byEnv).changes, diff(legacy, byEnv).replaces], [true, []]);
        assert.deepStrictEqual(diff(byEnv, { ...byEnv, settings: { ...byEnv.settings, algorithmEnvironment: "e2" } }).replaces, []);
        assert.deepStrictEqual(diff(byEnv, legacy).replaces, ["settings.language"]);
    });
});

describe("AlgorithmVersion rules (unit)", () => {
    const VERSION = { algorithm: "alice/Greeter", gitHash: "a".repeat(40), versionType: "minor", callability: "private", royaltyMicrocredits: 0, adopt: false };
    const prepare = (news: Record<string, unknown>, olds: Record<string, unknown>) => algorithmVersionController.prepare!(news as any, olds as any);

    it("refuses a callability change without a major version, from the old inputs", async () => {
        const { failures } = await prepare({ ...VERSION, gitHash: "b".repeat(40), callability: "public" }, VERSION);
        assert.deepStrictEqual(failures?.map((f) => f.property), ["versionType"]);
        assert.deepStrictEqual((await prepare({ ...VERSION, gitHash: "b".repeat(40), callability: "public", versionType: "major" }, VERSION)).failures, []);
    });

    it("lets other settings for the same build through (a new version of it), and waits for unknown values", async () => {
        assert.deepStrictEqual((await prepare({ ...VERSION, royaltyMicrocredits: 10 }, VERSION)).failures, []);
        assert.deepStrictEqual((await prepare({ ...VERSION, gitHash: UNKNOWN, callability: "public" }, VERSION)).failures, []);
    });

    it("replaces on another build, algorithm or cluster; publishes in place on every other change; adopt alone is nothing to publish", () => {
        const diff = (news: Record<string, unknown>) => diffByKeys(VERSION, news, algorithmVersionController.diff);
        assert.deepStrictEqual(diff({ ...VERSION, gitHash: "b".repeat(40) }).replaces, ["gitHash"]);
        assert.deepStrictEqual(diff({ ...VERSION, algorithm: "alice/Other" }).replaces, ["algorithm"]);
        for (const change of [{ releaseNotes: "x" }, { tests: [{ input: 1 }] }, { versionType: "major" }, { sampleInput: "s" }, { royaltyMicrocredits: 5 }]) {
            const d = diff({ ...VERSION, ...change });
            assert.deepStrictEqual([d.changes, d.replaces], [true, []], JSON.stringify(change));
        }
        assert.deepStrictEqual(diff({ ...VERSION, adopt: true }).replaces, []);
        assert.strictEqual(diff({ ...VERSION, royaltyMicrocredits: undefined }).changes, false, "royalty 0 is the default");
        assert.strictEqual(diff(VERSION).deleteBeforeReplace, false);
    });
});
