// AlgorithmVersion through the real engine against algorithmia-local: tests run against the build before it is
// published, a failing test refuses to publish, a new build replaces the version (create before delete, the
// old version stays published), callability rules are enforced at preview, refresh notices a version that is
// gone, and an `up` whose provider dies after the server published converges without publishing twice.
import * as assert from "assert";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import {
    Algorithm,
    AlgorithmSettings,
    AlgorithmTest,
    AlgorithmVersion,
    Callability,
    VersionType,
} from "../../provider";
import { AlgorithmiaClient } from "../../provider/client";
import { sourceTree } from "../../provider/resources/algorithmSource";
import { configureKey, outputValues, SETTINGS, setGreeting, sourceDirectory } from "../helpers/algorithmTestBed";
// SETTINGS as the API spells them, for algorithms made out of band.
import { SETTINGS as WIRE_SETTINGS } from "../helpers/algorithms";
import { killDynamicProviders, until } from "../helpers/processes";
import { testBed } from "../helpers/testBed";
import { BOB } from "../helpers/server";

interface Program {
    name: string;
    source: string;
    versionType: VersionType;
    callability: Callability;
    tests?: AlgorithmTest[];
    releaseNotes?: string;
    sampleInput?: unknown;
    adopt?: boolean;
    royaltyMicrocredits?: number;
    settings?: AlgorithmSettings;
    /** Pass the Algorithm's settings as `algorithmSettings`. */
    passSettings?: boolean;
}

const TESTS: AlgorithmTest[] = [
    { name: "greets", input: "ada", expect: "hello ada" },
    { name: "refuses numbers", input: 42, expectError: true },
];

describe("AlgorithmVersion (engine + algorithmia-local)", function () {
    const bed = testBed();
    let stack: Stack;
    let program: Program;

    const outputs = () => outputValues(stack);
    const published = async (name = program.name) => {
        const versions: string[] = [];
        for await (const v of bed.client.listVersions("alice", name, { published: true }))
            versions.push(v.version_info!.semantic_version!);
        return versions.sort();
    };

    async function stackFor(stackName: string, current: () => Program): Promise<Stack> {
        const s = await bed.sandbox.inlineStack("algorithm-version-test", stackName, async () => {
            const p = current();
            const algorithm = new Algorithm("greeter", {
                name: p.name,
                details: { label: p.name },
                settings: p.settings ?? SETTINGS,
                source: p.source,
                apiAddress: bed.server.url,
            });
            const version = new AlgorithmVersion("release", {
                algorithm: algorithm.algoPath,
                gitHash: algorithm.gitHash,
                versionType: p.versionType,
                callability: p.callability,
                tests: p.tests,
                releaseNotes: p.releaseNotes,
                sampleInput: p.sampleInput,
                adopt: p.adopt,
                royaltyMicrocredits: p.royaltyMicrocredits,
                algorithmSettings: p.passSettings ? algorithm.settings : undefined,
                apiAddress: bed.server.url,
            });
            return {
                gitHash: algorithm.gitHash,
                version: version.version,
                algoUri: version.algoUri,
                testsPassed: version.testsPassed,
                versionGitHash: version.gitHash,
            };
        });
        await configureKey(s);
        return s;
    }

    before(async () => {
        program = {
            name: "Greeter",
            source: sourceDirectory(bed.root, "Greeter", "Greeter"),
            versionType: "minor",
            callability: "private",
            tests: TESTS,
            releaseNotes: "First release",
            sampleInput: { name: "ada" },
        };
        stack = await stackFor("dev", () => program);
    });

    it("runs the tests against the build, publishes exactly it and verifies the version", async () => {
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { create: 3 });
        const out = await outputs();
        assert.deepStrictEqual(
            [out.version, out.algoUri, out.testsPassed, out.versionGitHash],
            ["0.1.0", "alice/Greeter/0.1.0", 2, out.gitHash],
        );
        const version = await bed.client.findPublishedVersion("alice", "Greeter", out.gitHash);
        assert.deepStrictEqual(
            [
                version?.version_info?.semantic_version,
                version?.version_info?.release_notes,
                version?.version_info?.sample_input,
                version?.settings.algorithm_callability,
            ],
            ["0.1.0", "First release", '{"name":"ada"}', "private"],
        );
        assert.strictEqual((await bed.client.callAlgorithm("alice/Greeter/0.1.0", "ada")).result, "hello ada");
    });

    it("previews no changes for an unchanged program", async () => {
        const preview = await stack.preview({ expectNoChanges: true });
        assert.deepStrictEqual(preview.changeSummary, { same: 3 });
    });

    it("changes `adopt` in place without publishing", async () => {
        program = { ...program, adopt: true };
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, update: 1 });
        assert.deepStrictEqual(await published(), ["0.1.0"]);
        program = { ...program, adopt: undefined };
        await stack.up();
        await stack.preview({ expectNoChanges: true });
    });

    it("refuses to publish when a test fails, naming the test with expected and actual", async () => {
        setGreeting(program.source, "Greeter", "hi");
        // The new build's hash is not known before the build: the preview shows the version's replacement anyway.
        const preview = await stack.preview();
        assert.deepStrictEqual(preview.changeSummary, { same: 1, update: 1, replace: 1 });
        await assert.rejects(stack.up(), (err: Error) => {
            assert.match(
                err.message,
                /Test "greets" failed against alice\/Greeter\/[0-9a-f]{40}, so the version is not published: expected "hello ada", got "hi ada"/,
            );
            return true;
        });
        assert.deepStrictEqual(await published(), ["0.1.0"], "nothing new was published");
    });

    it("replaces the version for a new build, creating the new one before the old leaves the stack", async () => {
        program = { ...program, tests: [{ name: "greets", input: "ada", expect: "hi ada" }, TESTS[1]] };
        const events: EngineEvent[] = [];
        let output = "";
        const up = await stack.up({ onEvent: (e) => events.push(e), onOutput: (o) => (output += o) });
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, replace: 1 });
        const out = await outputs();
        assert.deepStrictEqual([out.version, out.testsPassed], ["0.2.0", 2]);
        assert.deepStrictEqual(await published(), ["0.1.0", "0.2.0"], "the old version stays published");
        const ops = events.map((e) => e.resOutputsEvent?.metadata.op).filter(Boolean);
        assert.ok(
            ops.indexOf("create-replacement") < ops.indexOf("delete-replaced"),
            `create before delete: ${ops.join(", ")}`,
        );
        assert.match(
            output,
            /alice\/Greeter\/0\.1\.0 is only removed from the stack: published versions are immutable/,
        );
        await stack.preview({ expectNoChanges: true });
    });

    it("refuses invalid programs at preview: a callability change without a major version, a malformed hash", async () => {
        program = { ...program, callability: "public" };
        await assert.rejects(
            stack.preview(),
            /versionType: changing callability from private to public \(since version 0\.2\.0\) needs versionType "major", not "minor"/,
        );
        program = { ...program, callability: "private" };

        const bad = await bed.sandbox.inlineStack("algorithm-version-test", "invalid-hash", async () => {
            new AlgorithmVersion("release", {
                algorithm: "alice/Greeter",
                gitHash: "abc123",
                versionType: "minor",
                callability: "private",
                apiAddress: bed.server.url,
            });
        });
        await configureKey(bad);
        await assert.rejects(bad.preview(), /gitHash: must be a full git commit sha/);
        assert.deepStrictEqual(await published(), ["0.1.0", "0.2.0"]);
    });

    it("publishes a version-only change as a new version of the same build: release notes, then only the tests", async () => {
        const before = await outputs();
        program = { ...program, releaseNotes: "Second release, same code" };
        // In place: the resource is this build's release, and the version it published stays as it is.
        assert.deepStrictEqual((await stack.preview()).changeSummary, { same: 2, update: 1 });
        await stack.up();
        const notes = await outputs();
        assert.deepStrictEqual(
            [notes.version, notes.versionGitHash],
            ["0.3.0", before.gitHash],
            "a new version of the same commit",
        );
        const third = await bed.client.getVersion("alice", "Greeter", notes.gitHash);
        assert.deepStrictEqual(
            [third?.version_info?.semantic_version, third?.version_info?.release_notes],
            ["0.3.0", "Second release, same code"],
        );
        await stack.preview({ expectNoChanges: true });

        program = { ...program, tests: [...program.tests!, { name: "greets bob", input: "bob", expect: "hi bob" }] };
        await stack.up();
        assert.deepStrictEqual([(await outputs()).version, (await outputs()).testsPassed], ["0.4.0", 3]);
        assert.deepStrictEqual(
            await published(),
            ["0.1.0", "0.2.0", "0.3.0", "0.4.0"],
            "every version stays published",
        );
        assert.strictEqual((await bed.client.callAlgorithm("alice/Greeter/0.2.0", "ada")).result, "hi ada");
        await stack.preview({ expectNoChanges: true });
    });

    it("publishes an older gitHash by building it again: only the latest successful build can be published", async () => {
        const { client } = bed;
        const source = sourceDirectory(bed.root, "Greeter", "Pinned");
        await client.createAlgorithm("alice", {
            name: "Pinned",
            details: { label: "Pinned" },
            settings: { ...WIRE_SETTINGS },
        });
        const built: string[] = [];
        for (const greeting of ["one", "two"]) {
            setGreeting(source, "Pinned", greeting);
            const { commit } = await client.pushSource(
                "alice",
                "Pinned",
                sourceTree({ source }),
                `greeting ${greeting}`,
            );
            assert.strictEqual((await client.waitForBuild("alice", "Pinned", commit, 300_000)).status, "succeeded");
            built.push(commit);
        }
        const pinned = await bed.sandbox.inlineStack("algorithm-version-test", "pinned", async () => {
            const version = new AlgorithmVersion("release", {
                algorithm: "alice/Pinned",
                gitHash: built[0],
                versionType: "minor",
                callability: "private",
                apiAddress: bed.server.url,
                tests: [{ input: "ada", expect: "one ada" }],
            });
            return { version: version.version };
        });
        await configureKey(pinned);
        await pinned.up();
        assert.strictEqual((await pinned.outputs()).version.value, "0.1.0");
        const version = await client.getVersion("alice", "Pinned", built[0]);
        assert.strictEqual(version?.version_info?.semantic_version, "0.1.0", "the version is of the program's gitHash");
        const builds = (await client.listBuilds("alice", "Pinned")).results;
        assert.deepStrictEqual(
            builds.map((b) => b.commit_sha),
            [built[0], built[1], built[0]],
            "built once more, as the newest",
        );
        assert.strictEqual((await client.callAlgorithm("alice/Pinned/0.1.0", "ada")).result, "one ada");
        await pinned.preview({ expectNoChanges: true });
    });

    it("sees on refresh that the algorithm and its versions are gone, and recreates them", async () => {
        assert.ok(await bed.client.deleteAlgorithm("alice", "Greeter"));
        const refresh = await stack.refresh();
        assert.strictEqual(refresh.summary.resourceChanges?.delete, 2);
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, create: 2 });
        assert.strictEqual((await outputs()).version, "0.1.0");
        await stack.preview({ expectNoChanges: true });
    });

    it("converges without a second version when the provider dies after the server published", async () => {
        const before = await published();
        setGreeting(program.source, "Greeter", "hallo");
        program = { ...program, tests: [{ name: "greets", input: "ada", expect: "hallo ada" }] };
        // Hold the provider's check of the new version (it comes right after the publish), and kill the provider
        // once the server has published: the version exists, but the engine never hears of it.
        bed.server.faults.set("GET /v1/algorithms/alice/Greeter/versions/*=latency:5s");
        const interrupted = stack.up();
        await until("the server to publish", async () => (await published()).length > before.length, 120_000, 100);
        assert.ok(killDynamicProviders() > 0, "killed the dynamic provider process");
        await assert.rejects(interrupted);
        bed.server.faults.clear();

        const landed = (await published()).filter((v) => !before.includes(v));
        const up = await stack.up();
        assert.strictEqual(up.summary.result, "succeeded");
        const out = await outputs();
        assert.deepStrictEqual(landed, [out.version], "the version the server published is the one adopted");
        assert.deepStrictEqual(await published(), [...before, out.version].sort(), "no second version");
        assert.strictEqual(
            (await bed.client.findPublishedVersion("alice", "Greeter", out.gitHash))?.version_info?.semantic_version,
            out.version,
        );
        await stack.preview({ expectNoChanges: true });
    });

    it("removes versions from the stack on destroy, saying they stay published", async () => {
        let output = "";
        const result = await stack.destroy({ onOutput: (o) => (output += o) });
        assert.deepStrictEqual(result.summary.resourceChanges, { delete: 3 });
        assert.match(output, /published versions are immutable and stay published/);
        assert.strictEqual(await bed.client.getAlgorithm("alice", "Greeter"), undefined);
    });

    it("checks every publish rule at preview against the newest version on the server, before gitHash is known", async () => {
        const source = sourceDirectory(bed.root, "Greeter", "Rules");
        let current: Program = {
            name: "Rules",
            source,
            versionType: "minor",
            callability: "private",
            passSettings: true,
        };
        const s = await stackFor("rules", () => current);
        await s.up();
        assert.strictEqual((await outputValues(s)).version, "0.1.0");
        const refused = async (change: Partial<Program>, why: RegExp) => {
            const before = current;
            current = { ...current, ...change };
            await assert.rejects(s.preview(), why);
            current = before;
        };
        // A new source: the build, so gitHash, is not known at preview.
        setGreeting(source, "Rules", "hey");
        await refused(
            { callability: "public" },
            /versionType: changing callability from private to public \(since version 0\.1\.0\) needs versionType "major"/,
        );
        await refused(
            { settings: { ...SETTINGS, networkAccess: "full" } },
            /versionType: algorithmSettings\.networkAccess changes from "isolated" to "full" \(since version 0\.1\.0\): a permission change needs versionType "major", not "minor"/,
        );
        await refused(
            { settings: { ...SETTINGS, pipelineEnabled: true }, versionType: "revision" },
            /algorithmSettings\.pipelineEnabled changes from false to true/,
        );
        await refused(
            { royaltyMicrocredits: 5 },
            /versionType: royaltyMicrocredits: a free algorithm starts charging \(0 to 5, since version 0\.1\.0\): that needs versionType "major"/,
        );
        assert.strictEqual(
            (await bed.client.getAlgorithm("alice", "Rules"))?.settings.network_access,
            "isolated",
            "a preview changes nothing",
        );

        // The same changes as a major version: the new build is published with the new permissions.
        current = {
            ...current,
            versionType: "major",
            settings: { ...SETTINGS, networkAccess: "full" },
            royaltyMicrocredits: 5,
        };
        await s.up();
        const major = await bed.client.getVersion("alice", "Rules", (await outputValues(s)).gitHash);
        assert.deepStrictEqual(
            [
                major?.version_info?.semantic_version,
                major?.settings.network_access,
                major?.settings.royalty_microcredits,
            ],
            ["1.0.0", "full", 5],
        );
        await s.preview({ expectNoChanges: true });

        // A permission change alone, same build: a new version of it, in place.
        current = { ...current, settings: { ...SETTINGS, networkAccess: "isolated" } };
        // (The preview cannot know the build stays the same: gitHash is an output of the Algorithm's update.)
        assert.deepStrictEqual((await s.up()).summary.resourceChanges, { same: 1, update: 2 });
        assert.deepStrictEqual(
            [
                (await outputValues(s)).version,
                (await bed.client.getVersion("alice", "Rules", (await outputValues(s)).gitHash))?.settings
                    .network_access,
            ],
            ["2.0.0", "isolated"],
        );
        await s.preview({ expectNoChanges: true });

        // Without algorithmSettings, the algorithm's settings on the server are what the next version carries.
        current = { ...current, passSettings: false, versionType: "minor" };
        await s.up();
        assert.strictEqual((await outputValues(s)).version, "2.1.0", "a new version type is a new version");
        await bed.client.updateAlgorithm("alice", "Rules", { settings: { ...WIRE_SETTINGS, pipeline_enabled: true } });
        await refused(
            { releaseNotes: "more" },
            /versionType: the settings of alice\/Rules on the server: settings\.pipelineEnabled changes from false to true \(since version 2\.1\.0\)/,
        );
        await s.destroy();
    });

    it("publishes a callability change as a major version that others can call", async () => {
        const source = sourceDirectory(bed.root, "Greeter", "Public");
        let current: Program = { name: "Public", source, versionType: "minor", callability: "private", tests: TESTS };
        const s = await stackFor("public", () => current);
        await s.up();
        setGreeting(source, "Public", "hey");
        current = {
            ...current,
            versionType: "major",
            callability: "public",
            tests: [{ input: "bob", expect: "hey bob" }],
        };
        await s.up();
        assert.strictEqual((await s.outputs()).version.value, "1.0.0");
        const bob = new AlgorithmiaClient({ apiAddress: bed.server.url, apiKey: BOB.key });
        assert.strictEqual((await bob.callAlgorithm("alice/Public/1.0.0", "bob")).result, "hey bob");
        await s.preview({ expectNoChanges: true });
    });
});
