// The Algorithm and AlgorithmVersion rules that need no server: what the schemas refuse and how they name it,
// which differences are updates, replacements or nothing at all (server defaults and empty values normalised,
// so an unchanged program never shows a diff), and the version rules checked at preview from the old inputs.
import * as assert from "assert";
import * as path from "path";
import { algorithmController, settingsFromWire } from "../../provider/resources/algorithm";
import {
    algorithmVersionController,
    publishRuleFailures,
    PublishTerms,
} from "../../provider/resources/algorithmVersion";
import { ProviderContext, UNKNOWN, checkWithSchema, diffByKeys } from "../../provider/resources/dynamic";
import { repoRoot } from "../helpers/pulumi";

const SETTINGS = {
    language: "python3-1",
    environment: "cpu",
    license: "apl",
    sourceVisibility: "closed",
    networkAccess: "isolated",
    pipelineEnabled: false,
};
const PROGRAM = {
    name: "Greeter",
    details: { label: "Greeter" },
    settings: SETTINGS,
    source: path.join(repoRoot, "test/fixtures/algorithms/Greeter"),
};

/** Rules that need no server never ask for one. */
const OFFLINE: ProviderContext = {
    client: () => {
        throw new Error("no server in unit tests");
    },
    whoami: async () => "alice",
};

describe("Algorithm rules (unit)", () => {
    const check = (news: Record<string, unknown>) => checkWithSchema(algorithmController.schema(), news);
    const diff = (olds: Record<string, unknown>, news: Record<string, unknown>) =>
        diffByKeys(olds, news, algorithmController.diff);

    it("refuses closed source without the apl license, bad names and enums, naming each property", () => {
        const { failures } = check({
            ...PROGRAM,
            name: "9lives",
            settings: { ...SETTINGS, license: "mit", environment: "tpu" },
        });
        assert.deepStrictEqual(failures.map((f) => f.property).sort(), ["name", "settings.environment"]);
        const license = check({ ...PROGRAM, settings: { ...SETTINGS, license: "mit" } }).failures;
        assert.deepStrictEqual(
            license.map((f) => f.property),
            ["settings.license"],
        );
        assert.match(license[0].reason, /requires license "apl"/);
        assert.deepStrictEqual(
            check({ ...PROGRAM, settings: { ...SETTINGS, license: "mit", sourceVisibility: "open" } }).failures,
            [],
        );
    });

    it("hashes the source in check, and marks it unknown while the tree depends on unknown values", async () => {
        const { inputs } = check(PROGRAM);
        const prepared = await algorithmController.prepare!(inputs as any, {}, OFFLINE);
        assert.match(prepared.inputs.sourceSha256, /^[0-9a-f]{64}$/);
        const unknownModel = await algorithmController.prepare!(
            { ...(inputs as any), modelFiles: { m: { dataUri: "data://a/b/c", sha256: UNKNOWN } } },
            {},
            OFFLINE,
        );
        assert.strictEqual(unknownModel.inputs.sourceSha256, UNKNOWN);
        const expected = await algorithmController.prepare!(
            { ...(inputs as any), expectedSourceSha256: "0".repeat(64) },
            {},
            OFFLINE,
        );
        assert.deepStrictEqual(
            expected.failures?.map((f) => f.property),
            ["expectedSourceSha256"],
        );
    });

    it("sees no change between a program and what the server normalised", async () => {
        const { inputs } = check({ ...PROGRAM, details: { label: "Greeter", tagline: "" } });
        const news: Record<string, unknown> = {
            ...(await algorithmController.prepare!(inputs as any, {}, OFFLINE)).inputs,
        };
        const olds = {
            ...news,
            owner: "alice",
            details: { label: "Greeter" },
            algoPath: "alice/Greeter",
            gitHash: "a".repeat(40),
        };
        assert.strictEqual(diff(olds, news).changes, false);
    });

    it("updates details, settings and source in place; replaces on name, owner or language", () => {
        const olds = { ...PROGRAM, owner: "alice", sourceSha256: "1" };
        const update = diff(olds, {
            ...PROGRAM,
            details: { label: "New" },
            settings: { ...SETTINGS, networkAccess: "full" },
            sourceSha256: "2",
        });
        assert.deepStrictEqual([update.changes, update.replaces], [true, []]);
        const rename = diff(olds, { ...PROGRAM, name: "Other", sourceSha256: "1" });
        assert.deepStrictEqual([rename.replaces, rename.deleteBeforeReplace], [["name"], false]);
        const language = diff(olds, { ...PROGRAM, settings: { ...SETTINGS, language: "python3" }, sourceSha256: "1" });
        assert.deepStrictEqual(
            [language.replaces, language.deleteBeforeReplace],
            [["settings.language"], true],
            "same name: delete first",
        );
        assert.strictEqual(
            diff(olds, { ...PROGRAM, sourceSha256: "1" }).changes,
            false,
            "an omitted owner is the resolved one",
        );
    });

    it("reads server settings back in our names, in the runtime model the program used", () => {
        const wire = {
            package_set: "python38",
            algorithm_environment: "e1",
            source_visibility: "open",
            license: "mit",
            network_access: "full",
            pipeline_enabled: true,
        };
        const { language, environment, ...permissions } = SETTINGS;
        const bySet = { ...permissions, packageSet: "python38" } as any;
        const read = { license: "mit", sourceVisibility: "open", networkAccess: "full", pipelineEnabled: true };
        assert.deepStrictEqual(
            settingsFromWire(wire, bySet),
            { ...read, packageSet: "python38" },
            "the derived environment id is not drift",
        );
        assert.deepStrictEqual(
            settingsFromWire(wire, SETTINGS as any),
            { ...read, algorithmEnvironment: "e1" },
            "moved to an environment out of band",
        );
        assert.deepStrictEqual(
            settingsFromWire(
                { ...wire, package_set: undefined, algorithm_environment: undefined, language, environment },
                SETTINGS as any,
            ),
            { ...SETTINGS, ...read },
        );
    });

    it("takes exactly one runtime model: a language with its machine type, an environment or a package set", () => {
        const { language: _language, environment: _environment, ...permissions } = SETTINGS;
        const failures = (settings: Record<string, unknown>) =>
            check({ ...PROGRAM, settings })
                .failures.map((f) => f.reason)
                .sort();
        assert.deepStrictEqual(
            failures({ ...permissions, algorithmEnvironment: "8f5a2a3c-1b2d-4c5e-9f60-718293a4b5c6" }),
            [],
        );
        assert.deepStrictEqual(failures({ ...permissions, packageSet: "python38" }), []);
        assert.deepStrictEqual(failures(permissions), [
            "settings.environment: is required unless settings.algorithmEnvironment or settings.packageSet chooses the runtime",
            "settings.language: is required unless settings.algorithmEnvironment or settings.packageSet chooses the runtime",
        ]);
        assert.match(
            failures({ ...SETTINGS, packageSet: "python38" }).join("\n"),
            /settings\.language: leave it out when settings\.packageSet chooses the runtime/,
        );
        assert.match(
            failures({
                ...permissions,
                packageSet: "python38",
                algorithmEnvironment: "8f5a2a3c-1b2d-4c5e-9f60-718293a4b5c6",
            }).join(),
            /settings\.packageSet: choose the runtime by algorithmEnvironment or by packageSet, not both/,
        );
        assert.deepStrictEqual(
            failures({ ...permissions, algorithmEnvironment: UNKNOWN }),
            [],
            "an environment not known yet is one",
        );
    });

    it("moves a legacy algorithm to an environment in place; back to a language is a new algorithm", () => {
        const { language: _language, environment: _environment, ...permissions } = SETTINGS;
        const legacy = { ...PROGRAM, owner: "alice", sourceSha256: "1" };
        const byEnv = { ...legacy, settings: { ...permissions, algorithmEnvironment: "e1" } };
        assert.deepStrictEqual([diff(legacy, byEnv).changes, diff(legacy, byEnv).replaces], [true, []]);
        assert.deepStrictEqual(
            diff(byEnv, { ...byEnv, settings: { ...byEnv.settings, algorithmEnvironment: "e2" } }).replaces,
            [],
        );
        assert.deepStrictEqual(diff(byEnv, legacy).replaces, ["settings.language"]);
    });
});

describe("AlgorithmVersion rules (unit)", () => {
    const VERSION = {
        algorithm: "alice/Greeter",
        gitHash: "a".repeat(40),
        versionType: "minor",
        callability: "private",
        royaltyMicrocredits: 0,
        adopt: false,
    };
    const PERMISSIONS = {
        sourceVisibility: "closed",
        license: "apl",
        networkAccess: "isolated",
        pipelineEnabled: false,
    } as const;
    const PREVIOUS: PublishTerms & { version: string } = {
        callability: "private",
        royaltyMicrocredits: 0,
        permissions: PERMISSIONS,
        version: "0.1.0",
    };
    const rules = (
        versionType: "major" | "minor" | "revision",
        next: Partial<PublishTerms>,
        previous: Partial<PublishTerms> = {},
    ) =>
        publishRuleFailures(versionType, { ...PREVIOUS, ...previous }, { ...PREVIOUS, ...next }).map(
            (f) => `${f.property} | ${f.reason}`,
        );

    it("refuses callability and permission changes without a major version, naming versionType and the setting", () => {
        assert.deepStrictEqual(rules("minor", { callability: "public" }), [
            'versionType | versionType: changing callability from private to public (since version 0.1.0) needs versionType "major", not "minor"',
        ]);
        assert.deepStrictEqual(
            rules("revision", { permissions: { ...PERMISSIONS, networkAccess: "full", pipelineEnabled: true } }),
            [
                'versionType | versionType: algorithmSettings.networkAccess changes from "isolated" to "full" (since version 0.1.0): ' +
                    'a permission change needs versionType "major", not "revision"',
                "versionType | versionType: algorithmSettings.pipelineEnabled changes from false to true (since version 0.1.0): " +
                    'a permission change needs versionType "major", not "revision"',
            ],
        );
        assert.match(
            rules("minor", { permissions: { ...PERMISSIONS, sourceVisibility: "open", license: "mit" } }).join("\n"),
            /sourceVisibility changes from "closed" to "open".*\n.*license changes from "apl" to "mit"/,
        );
        assert.deepStrictEqual(
            rules("major", {
                callability: "public",
                permissions: { ...PERMISSIONS, networkAccess: "full" },
                royaltyMicrocredits: 5,
            }),
            [],
        );
    });

    it("lets a minor version change the price but not start charging, and a revision change neither", () => {
        assert.deepStrictEqual(rules("minor", { royaltyMicrocredits: 20 }, { royaltyMicrocredits: 10 }), []);
        assert.match(
            rules("revision", { royaltyMicrocredits: 20 }, { royaltyMicrocredits: 10 })[0],
            /royaltyMicrocredits changes from 10 to 20.*"minor" or "major", not "revision"/,
        );
        assert.match(
            rules("minor", { royaltyMicrocredits: 5 })[0],
            /a free algorithm starts charging \(0 to 5.*needs versionType "major"/,
        );
        assert.deepStrictEqual(
            rules("minor", { royaltyMicrocredits: 0 }, { royaltyMicrocredits: 10 }),
            [],
            "dropping the price is a minor change",
        );
    });

    it("leaves out values not known yet, and asks no server for a major version or an unknown algorithm", async () => {
        assert.deepStrictEqual(rules("minor", { callability: UNKNOWN as any, permissions: UNKNOWN as any }), []);
        assert.deepStrictEqual(
            publishRuleFailures(UNKNOWN as any, PREVIOUS, { ...PREVIOUS, callability: "public" }),
            [],
        );
        for (const news of [
            { ...VERSION, versionType: "major" },
            { ...VERSION, algorithm: UNKNOWN },
            { ...VERSION, versionType: UNKNOWN },
        ]) {
            assert.deepStrictEqual(await algorithmVersionController.prepare!(news as any, VERSION as any, OFFLINE), {
                inputs: news,
            });
        }
    });

    it("replaces on another build, algorithm or cluster; publishes in place on every other change; adopt alone is nothing to publish", () => {
        const diff = (news: Record<string, unknown>) => diffByKeys(VERSION, news, algorithmVersionController.diff);
        assert.deepStrictEqual(diff({ ...VERSION, gitHash: "b".repeat(40) }).replaces, ["gitHash"]);
        assert.deepStrictEqual(diff({ ...VERSION, algorithm: "alice/Other" }).replaces, ["algorithm"]);
        const permissions = {
            sourceVisibility: "closed",
            license: "apl",
            networkAccess: "full",
            pipelineEnabled: false,
        };
        for (const change of [
            { releaseNotes: "x" },
            { tests: [{ input: 1 }] },
            { versionType: "major" },
            { sampleInput: "s" },
            { royaltyMicrocredits: 5 },
            { algorithmSettings: permissions },
        ]) {
            const d = diff({ ...VERSION, ...change });
            assert.deepStrictEqual([d.changes, d.replaces], [true, []], JSON.stringify(change));
        }
        assert.deepStrictEqual(diff({ ...VERSION, adopt: true }).replaces, []);
        assert.strictEqual(
            diff({ ...VERSION, royaltyMicrocredits: undefined }).changes,
            false,
            "royalty 0 is the default",
        );
        const carried = { ...VERSION, algorithmSettings: { ...permissions, networkAccess: "isolated" } };
        assert.strictEqual(
            diffByKeys(
                carried,
                { ...VERSION, algorithmSettings: { ...carried.algorithmSettings, language: "python3-1" } },
                algorithmVersionController.diff,
            ).changes,
            false,
            "an Algorithm's whole settings compare by their permissions",
        );
        assert.strictEqual(
            diffByKeys(carried, VERSION, algorithmVersionController.diff).changes,
            false,
            "no algorithmSettings: whatever the version carries",
        );
        assert.strictEqual(diff(VERSION).deleteBeforeReplace, false);
    });
});
