// Algorithm through the real engine against algorithmia-local, with real git and real builds: create (POST, push,
// build), a no-change preview, in-place updates of details/settings and of source/dependencies, drift seen by
// refresh and undone by the next up, a failed build reported with its log and converging once fixed, invalid
// programs refused at preview naming the property, replacement on a name change, and destroy.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Stack } from "@pulumi/pulumi/automation";
import { Algorithm, AlgorithmArgs, DataCollection, ModelFile } from "../../provider";
import { sourceSha256 } from "../../provider/resources/algorithmSource";
import { contentName } from "../../provider/resources/modelFile";
import { configureKey, outputValues, SETTINGS, setGreeting, sourceDirectory } from "../helpers/algorithmTestBed";
// SETTINGS as the API spells them, for algorithms made out of band.
import { SETTINGS as WIRE_SETTINGS } from "../helpers/algorithms";
import { killDynamicProviders, until } from "../helpers/processes";
import { testBed } from "../helpers/testBed";
import { clone, commit, gitOk } from "../helpers/git";
import { ALICE } from "../helpers/server";

describe("Algorithm (engine + algorithmia-local + git)", function () {
    const bed = testBed();
    let stack: Stack;
    let args: AlgorithmArgs;

    const outputs = () => outputValues(stack);
    const state = async () =>
        (await stack.exportStack()).deployment.resources.find((r: any) => r.type.endsWith(":Algorithm"));
    const call = async (gitHash: string, input: unknown) =>
        (await bed.client.callAlgorithm(`alice/${(await outputs()).name}/${gitHash}`, input)).result;

    /** An inline stack running `program(args)` with the key as a secret in stack config. */
    async function stackFor(name: string, program: () => AlgorithmArgs): Promise<Stack> {
        const s = await bed.sandbox.inlineStack("algorithm-test", name, async () => {
            const algorithm = new Algorithm("greeter", program());
            return {
                name: algorithm.name,
                algoPath: algorithm.algoPath,
                gitHash: algorithm.gitHash,
                buildId: algorithm.buildId,
                sourceSha256: algorithm.sourceSha256,
                apiUrl: algorithm.apiUrl,
            };
        });
        await configureKey(s);
        await s.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        return s;
    }

    before(async () => {
        args = {
            name: "Greeter",
            details: { label: "Greeter", tagline: "greets people" },
            settings: { ...SETTINGS },
            source: sourceDirectory(bed.root, "Greeter", "Greeter"),
        };
        stack = await stackFor("dev", () => args);
    });

    it("creates the algorithm, pushes its source as one deterministic commit and waits for the build", async () => {
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { create: 2 });
        const out = await outputs();
        assert.strictEqual(out.algoPath, "alice/Greeter");
        assert.match(out.gitHash, /^[0-9a-f]{40}$/);
        assert.strictEqual(out.sourceSha256, await sourceSha256({ source: args.source as string }));
        assert.strictEqual(out.apiUrl, `${bed.server.url}/v1/algo/alice/Greeter`);

        const algo = await bed.client.getAlgorithm("alice", "Greeter");
        assert.strictEqual(algo?.details.tagline, "greets people");
        const build = await bed.client.findBuild("alice", "Greeter", out.gitHash);
        assert.deepStrictEqual([build?.build_id, build?.status], [out.buildId, "succeeded"]);
        assert.deepStrictEqual(await bed.client.sourceOnServer("alice", "Greeter"), {
            commit: out.gitHash,
            sha256: out.sourceSha256,
        });
        assert.strictEqual(await call(out.gitHash, "ada"), "hello ada");

        // The state on disk (exportStack would decrypt secrets for us).
        assert.ok(!bed.sandbox.storedState().includes(ALICE.key), "the API key is not in the stored state");
    });

    it("previews no changes for an unchanged program", async () => {
        const preview = await stack.preview({ expectNoChanges: true });
        assert.deepStrictEqual(preview.changeSummary, { same: 2 });
    });

    it("updates details and settings in place without a new build", async () => {
        const before = await outputs();
        args = { ...args, details: { label: "Greeter v2" }, settings: { ...SETTINGS, networkAccess: "full" } };
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, update: 1 });
        const algo = await bed.client.getAlgorithm("alice", "Greeter");
        assert.strictEqual(algo?.details.label, "Greeter v2");
        assert.ok(!algo?.details.tagline, "a removed tagline is removed on the server");
        assert.strictEqual(algo?.settings.network_access, "full");
        assert.strictEqual((await outputs()).gitHash, before.gitHash);
        await stack.preview({ expectNoChanges: true });
    });

    it("shows a source change at preview, then pushes and builds it in place", async () => {
        const before = await outputs();
        setGreeting(args.source as string, "Greeter", "hi");
        const preview = await stack.preview();
        assert.strictEqual(preview.changeSummary.update, 1);

        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, update: 1 });
        const out = await outputs();
        assert.notStrictEqual(out.gitHash, before.gitHash);
        assert.strictEqual(await call(out.gitHash, "ada"), "hi ada");
        const repo = await clone(bed.server, "alice", "Greeter", ALICE.key);
        assert.strictEqual(
            await gitOk(repo, "rev-parse", "HEAD^"),
            before.gitHash,
            "the new commit sits on the previous one",
        );
        await stack.preview({ expectNoChanges: true });

        args = { ...args, dependencies: ["numpy"] };
        await stack.up();
        const withDeps = await outputs();
        assert.notStrictEqual(withDeps.gitHash, out.gitHash);
        const repo2 = await clone(bed.server, "alice", "Greeter", ALICE.key);
        assert.strictEqual(fs.readFileSync(path.join(repo2, "requirements.txt"), "utf8"), "algorithmia\nnumpy\n");
        await stack.preview({ expectNoChanges: true });
    });

    it("sees drift on refresh (settings edited, code pushed out of band) and converges on the next up", async () => {
        const before = await outputs();
        await bed.client.updateAlgorithm("alice", "Greeter", { details: { label: "edited by hand" } });
        const repo = await clone(bed.server, "alice", "Greeter", ALICE.key);
        const pushed = await commit(
            repo,
            { "src/Greeter.py": 'def apply(input):\n    return "pwned"\n' },
            "out of band",
        );
        await gitOk(repo, "push", "--quiet", "origin", "master");

        const refresh = await stack.refresh();
        assert.strictEqual(refresh.summary.resourceChanges?.update, 1);
        const refreshed = (await state()).outputs;
        assert.strictEqual(refreshed.details.label, "edited by hand");
        assert.strictEqual(refreshed.gitHash, pushed);
        assert.notStrictEqual(refreshed.sourceSha256, before.sourceSha256);

        const preview = await stack.preview();
        assert.strictEqual(preview.changeSummary.update, 1);
        await stack.up();
        const out = await outputs();
        assert.strictEqual((await bed.client.getAlgorithm("alice", "Greeter"))?.details.label, "Greeter v2");
        assert.deepStrictEqual(await bed.client.sourceOnServer("alice", "Greeter"), {
            commit: out.gitHash,
            sha256: before.sourceSha256,
        });
        assert.strictEqual(await call(out.gitHash, "ada"), "hi ada");
        await stack.preview({ expectNoChanges: true });
    });

    it("fails a broken build with the tail of its log, keeps the algorithm in state, and converges once fixed", async () => {
        const file = path.join(args.source as string, "src", "Greeter.py");
        const good = fs.readFileSync(file, "utf8");
        fs.writeFileSync(file, good.replace("def apply(input):", "def apply(input)"));
        await assert.rejects(stack.up(), (err: Error) => {
            assert.match(err.message, /The build of alice\/Greeter at [0-9a-f]{40} failed/);
            assert.match(err.message, /SyntaxError|invalid syntax|expected ':'/);
            assert.match(err.message, /Greeter\.py/);
            return true;
        });
        assert.ok(await state(), "the algorithm stays in state");
        await assert.rejects(stack.preview({ expectNoChanges: true }), "a failed build is not converged");

        fs.writeFileSync(file, good);
        const up = await stack.up();
        assert.strictEqual(up.summary.resourceChanges?.update, 1);
        assert.strictEqual(await call((await outputs()).gitHash, "ada"), "hi ada");
        await stack.preview({ expectNoChanges: true });
    });

    it("refuses invalid programs at preview, naming the property and the rule", async () => {
        const cases: [string, Partial<AlgorithmArgs>, RegExp][] = [
            [
                "license",
                { settings: { ...SETTINGS, license: "mit" } },
                /settings\.license: closed source .* requires license "apl"/,
            ],
            ["name", { name: "9lives" }, /name: must start with a letter/],
            ["environment", { settings: { ...SETTINGS, environment: "tpu" as any } }, /settings\.environment/],
            [
                "source",
                { source: path.join(bed.root, "no-such-dir") },
                /source: directory .*no-such-dir does not exist/,
            ],
            [
                "expected",
                { expectedSourceSha256: "0".repeat(64) },
                /expectedSourceSha256: the source tree hashes to [0-9a-f]{64}, not the expected 0{64}/,
            ],
            ["timeout-zero", { buildTimeoutSeconds: 0 }, /buildTimeoutSeconds: must be at least 1 second/],
            [
                "timeout-fraction",
                { buildTimeoutSeconds: 1.5 },
                /buildTimeoutSeconds: must be a whole number of seconds/,
            ],
            ["timeout-huge", { buildTimeoutSeconds: 7 * 86400 }, /buildTimeoutSeconds: must be at most 86400 seconds/],
        ];
        for (const [label, change, message] of cases) {
            const bad = await stackFor(`invalid-${label}`, () => ({ ...args, name: `Invalid_${label}`, ...change }));
            await assert.rejects(bad.preview(), (err: Error) => {
                assert.match(err.message, message, `${label}: ${err.message}`);
                return true;
            });
        }
        assert.strictEqual(await bed.client.getAlgorithm("alice", "Invalid_license"), undefined, "nothing was created");
    });

    it("replaces the algorithm when its name changes", async () => {
        args = { ...args, name: "Greeter2", source: sourceDirectory(bed.root, "Greeter", "Greeter2") };
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, replace: 1 });
        assert.strictEqual((await outputs()).algoPath, "alice/Greeter2");
        assert.ok(await bed.client.getAlgorithm("alice", "Greeter2"));
        assert.strictEqual(
            await bed.client.getAlgorithm("alice", "Greeter"),
            undefined,
            "the old algorithm is deleted",
        );
        await stack.preview({ expectNoChanges: true });
    });

    it("replaces the algorithm under the same name when its language changes, deleting the old one first", async () => {
        const oldId = (await bed.client.getAlgorithm("alice", "Greeter2"))?.id;
        args = {
            ...args,
            settings: { ...(args.settings as object), language: "python3" } as AlgorithmArgs["settings"],
        };
        const preview = await stack.preview();
        assert.strictEqual(preview.changeSummary.replace, 1);
        const up = await stack.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, replace: 1 });
        const algo = await bed.client.getAlgorithm("alice", "Greeter2");
        assert.strictEqual(algo?.settings.language, "python3");
        assert.ok(oldId && algo?.id !== oldId, "a new algorithm");
        assert.strictEqual(await call((await outputs()).gitHash, "ada"), "hello ada");
        await stack.preview({ expectNoChanges: true });
    });

    it("takes over the leftover of a create that died before the engine heard back", async () => {
        let current: AlgorithmArgs = {
            ...args,
            name: "Leftover",
            settings: SETTINGS,
            source: sourceDirectory(bed.root, "Greeter", "Leftover"),
        };
        const s = await stackFor("interrupted", () => current);
        const tree = await sourceSha256({
            source: current.source as string,
            dependencies: current.dependencies as string[],
        });
        // Hold the provider's wait for the build, and kill it once the source is pushed.
        bed.server.faults.set("GET /v1/algorithms/alice/Leftover/builds*=latency:5s");
        const interrupted = s.up();
        await until(
            "the push",
            async () => (await bed.client.sourceOnServer("alice", "Leftover").catch(() => undefined))?.sha256 === tree,
            120_000,
            100,
        );
        assert.ok(killDynamicProviders() > 0, "killed the dynamic provider process");
        await assert.rejects(interrupted);
        bed.server.faults.clear();

        const up = await s.up();
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, create: 1 });
        const repo = await clone(bed.server, "alice", "Leftover", ALICE.key);
        assert.strictEqual(
            await gitOk(repo, "rev-list", "--count", "HEAD"),
            "2",
            "the template and one commit of ours, not two",
        );
        assert.strictEqual(await gitOk(repo, "rev-parse", "HEAD"), (await outputValues(s)).gitHash);
        await s.preview({ expectNoChanges: true });

        // Someone else's algorithm of the same name is not taken over silently.
        await s.destroy();
        await bed.client.createAlgorithm("alice", {
            name: "Leftover",
            details: { label: "Not ours" },
            settings: { ...WIRE_SETTINGS },
        });
        await assert.rejects(
            s.up(),
            /Algorithm alice\/Leftover already exists: set `adopt: true` to manage it with this stack/,
        );
        current = { ...current, adopt: true };
        const adopted = await s.up();
        assert.deepStrictEqual(adopted.summary.resourceChanges, { same: 1, create: 1 });
        assert.strictEqual(
            (await bed.client.getAlgorithm("alice", "Leftover"))?.details.label,
            (current.details as { label: string }).label,
            "adopting applies our details",
        );
        assert.deepStrictEqual(await bed.client.sourceOnServer("alice", "Leftover"), {
            commit: (await outputValues(s)).gitHash,
            sha256: tree,
        });
        await s.preview({ expectNoChanges: true });
        await s.destroy();
    });

    it("binds a ModelFile into the tree: a new model shows at preview and is a new build", async () => {
        let model = "weights v1";
        const source = sourceDirectory(bed.root, "Greeter", "Modeled");
        const s = await bed.sandbox.inlineStack("algorithm-test", "models", async () => {
            const collection = new DataCollection("models", { name: "models", forceDestroy: true });
            const file = new ModelFile("model", {
                collection: collection.dataUri,
                name: "model.bin",
                source: new pulumi.asset.StringAsset(model),
            });
            const algorithm = new Algorithm("modeled", {
                ...args,
                name: "Modeled",
                source,
                dependencies: undefined,
                modelFiles: { greeting: { dataUri: file.dataUri, sha256: file.sha256, md5: file.md5 } },
            });
            return { gitHash: algorithm.gitHash };
        });
        await configureKey(s);
        await s.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        const manifest = async () =>
            JSON.parse(
                fs.readFileSync(
                    path.join(await clone(bed.server, "alice", "Modeled", ALICE.key), "model-manifest.json"),
                    "utf8",
                ),
            );
        const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

        await s.up();
        // The manifest names the content's own file, so a published build keeps reading its bytes.
        const storedAt = (text: string) => `data://alice/models/${contentName("model.bin", sha256(text))}`;
        assert.deepStrictEqual(await manifest(), {
            greeting: { dataUri: storedAt("weights v1"), sha256: sha256("weights v1") },
        });
        const first = (await outputValues(s)).gitHash;
        await s.preview({ expectNoChanges: true });

        model = "weights v2";
        const preview = await s.preview();
        assert.strictEqual(preview.changeSummary.update, 2, "the model and the algorithm that binds it");
        await s.up();
        assert.deepStrictEqual(await manifest(), {
            greeting: { dataUri: storedAt("weights v2"), sha256: sha256("weights v2") },
        });
        assert.notStrictEqual((await outputValues(s)).gitHash, first);
        await s.preview({ expectNoChanges: true });
        await s.destroy();
    });

    it("fails an up whose build outlasts buildTimeoutSeconds, keeps the algorithm in state, and converges with a longer timeout", async () => {
        let current: AlgorithmArgs = {
            ...args,
            name: "Slow",
            settings: SETTINGS,
            source: sourceDirectory(bed.root, "Greeter", "Slow"),
            buildTimeoutSeconds: 2,
        };
        const s = await stackFor("slow-build", () => current);
        // The server's builds of alice/Slow run 20 s longer than their checks: far beyond the 2 s the provider waits.
        bed.server.faults.set("BUILD alice/Slow=latency:20s");
        try {
            await assert.rejects(s.up(), (err: Error) => {
                assert.match(
                    err.message,
                    /The build of alice\/Slow at [0-9a-f]{40} did not finish within buildTimeoutSeconds \(2\); build \S+ is still in progress\. Raise buildTimeoutSeconds/,
                );
                assert.match(err.message, /run `pulumi up` again: it waits for the build of this commit/);
                return true;
            });
        } finally {
            bed.server.faults.clear();
        }
        const pushed = await bed.client.sourceOnServer("alice", "Slow");
        const running = await bed.client.findBuild("alice", "Slow", pushed!.commit);
        const kept = (await s.exportStack()).deployment.resources.find((r: any) => r.type.endsWith(":Algorithm"));
        assert.ok(kept, "the algorithm is in state");
        assert.deepStrictEqual(
            [kept.outputs.gitHash, kept.outputs.buildId],
            [pushed!.commit, running?.build_id],
            "state names the pushed commit and its build",
        );
        await assert.rejects(s.preview({ expectNoChanges: true }), "an unfinished build is not converged");

        current = { ...current, buildTimeoutSeconds: 120 };
        const up = await s.up();
        assert.strictEqual(up.summary.resourceChanges?.update, 1);
        const out = await outputValues(s);
        assert.deepStrictEqual(
            [out.gitHash, out.buildId],
            [pushed!.commit, running?.build_id],
            "waited for that build rather than pushing or building again",
        );
        assert.strictEqual((await bed.client.findBuild("alice", "Slow", out.gitHash))?.status, "succeeded");
        assert.strictEqual((await bed.client.callAlgorithm(`alice/Slow/${out.gitHash}`, "ada")).result, "hello ada");
        await s.preview({ expectNoChanges: true });
        await s.destroy();
    });

    it("builds the same tree again on the next up after its build failed for a reason outside the tree", async () => {
        const s = await stackFor("failed-build", () => ({
            ...args,
            name: "Flaky",
            settings: SETTINGS,
            source: sourceDirectory(bed.root, "Greeter", "Flaky"),
            buildTimeoutSeconds: 60,
        }));
        // The first build of alice/Flaky dies as a build whose machine stopped; the tree itself is fine.
        bed.server.faults.set("BUILD alice/Flaky=fail:1,max:1");
        try {
            await assert.rejects(s.up(), /The build of alice\/Flaky at [0-9a-f]{40} failed .*\n.*injected fault/s);
        } finally {
            bed.server.faults.clear();
        }
        const pushed = (await bed.client.sourceOnServer("alice", "Flaky"))!.commit;
        assert.strictEqual((await bed.client.findBuild("alice", "Flaky", pushed))?.status, "failed");
        await assert.rejects(s.preview({ expectNoChanges: true }), "a failed build is not converged");

        // Nothing changed in the program: the push is a no-op, and the failed build of that commit is built again.
        const up = await s.up();
        assert.strictEqual(up.summary.resourceChanges?.update, 1);
        const out = await outputValues(s);
        assert.strictEqual(out.gitHash, pushed, "the same commit, built again");
        const builds = (await bed.client.listBuilds("alice", "Flaky")).results.filter((b) => b.commit_sha === pushed);
        assert.deepStrictEqual(
            builds.map((b) => b.status),
            ["succeeded", "failed"],
            "one new build of the commit",
        );
        assert.strictEqual(out.buildId, builds[0].build_id);
        assert.strictEqual((await bed.client.callAlgorithm(`alice/Flaky/${out.gitHash}`, "ada")).result, "hello ada");
        await s.preview({ expectNoChanges: true });
        await s.destroy();
    });

    it("compiles the pushed commit itself when the push starts no build (a lost push event)", async () => {
        const s = await stackFor("lost-push", () => ({
            ...args,
            name: "Unbuilt",
            settings: SETTINGS,
            source: sourceDirectory(bed.root, "Greeter", "Unbuilt"),
            buildTimeoutSeconds: 20,
        }));
        bed.server.faults.set("BUILD alice/Unbuilt=skip:1");
        bed.server.faults.resetCounts();
        try {
            await s.up();
        } finally {
            bed.server.faults.clear();
        }
        const counts = bed.server.faults.counts();
        assert.strictEqual(counts.injected.skip, 1, "the push started no build");
        assert.strictEqual(
            counts.routes["POST /v1/algorithms/:owner/:algo/compile"],
            1,
            "the provider asked for a build of its commit",
        );
        const out = await outputValues(s);
        const builds = (await bed.client.listBuilds("alice", "Unbuilt")).results.filter(
            (b) => b.commit_sha === out.gitHash,
        );
        assert.deepStrictEqual(
            builds.map((b) => [b.build_id, b.status]),
            [[out.buildId, "succeeded"]],
            "one build of the pushed commit, the compiled one",
        );
        assert.strictEqual((await bed.client.callAlgorithm(`alice/Unbuilt/${out.gitHash}`, "ada")).result, "hello ada");
        await s.preview({ expectNoChanges: true });
        await s.destroy();
    });

    it("keeps to buildTimeoutSeconds when it compiles a lost push itself and that build is slow", async () => {
        let current: AlgorithmArgs = {
            ...args,
            name: "LostSlow",
            settings: SETTINGS,
            source: sourceDirectory(bed.root, "Greeter", "LostSlow"),
            buildTimeoutSeconds: 4,
        };
        const s = await stackFor("lost-slow", () => current);
        // No build on push, and the compile the provider then asks for (the server builds while it answers) takes 15 s.
        bed.server.faults.set("BUILD alice/LostSlow=skip:1,latency:15s");
        try {
            await assert.rejects(
                s.up(),
                /did not finish within buildTimeoutSeconds \(4\); build \S+ is still in progress/,
            );
            const pushed = await bed.client.sourceOnServer("alice", "LostSlow");
            assert.strictEqual(
                (await bed.client.findBuild("alice", "LostSlow", pushed!.commit))?.status,
                "in-progress",
                "the up gave up while the compiled build was still running",
            );
        } finally {
            bed.server.faults.clear();
        }
        current = { ...current, buildTimeoutSeconds: 120 };
        await s.up();
        assert.strictEqual(
            (await bed.client.callAlgorithm(`alice/LostSlow/${(await outputValues(s)).gitHash}`, "ada")).result,
            "hello ada",
        );
        await s.preview({ expectNoChanges: true });
        await s.destroy();
    });

    it("creates, updates, refreshes and adopts algorithms whose runtime is an environment or a package set", async () => {
        const environments = await fetch(
            `${bed.server.url}/v1/algorithm-environments/edge/languages/python3/environments`,
            {
                headers: { authorization: `Simple ${ALICE.key}` },
            },
        ).then((res) => res.json() as Promise<{ environments: { id: string; display_name: string }[] }>);
        const idOf = (displayName: string) => environments.environments.find((e) => e.display_name === displayName)!.id;
        const { language: _language, environment: _environment, ...permissions } = SETTINGS;
        let current: AlgorithmArgs = {
            ...args,
            name: "ByEnv",
            settings: { ...permissions, algorithmEnvironment: idOf("Python 3.9") },
            source: sourceDirectory(bed.root, "Greeter", "ByEnv"),
        };
        const s = await stackFor("environments", () => current);
        const runtime = async () => {
            const settings = (await bed.client.getAlgorithm("alice", "ByEnv"))!.settings;
            return [settings.language, settings.package_set, settings.algorithm_environment];
        };
        assert.deepStrictEqual((await s.up()).summary.resourceChanges, { create: 2 });
        assert.deepStrictEqual(await runtime(), [undefined, "python39", idOf("Python 3.9")]);
        const created = await outputValues(s);
        assert.strictEqual(
            (await bed.client.callAlgorithm(`alice/ByEnv/${created.gitHash}`, "ada")).result,
            "hello ada",
        );
        await s.preview({ expectNoChanges: true });

        // Another environment of the same language, with another setting: in place, built again for the new runtime.
        current = {
            ...current,
            settings: { ...permissions, networkAccess: "full", algorithmEnvironment: idOf("Python 3.8") },
        };
        assert.deepStrictEqual((await s.up()).summary.resourceChanges, { same: 1, update: 1 });
        assert.deepStrictEqual(await runtime(), [undefined, "python38", idOf("Python 3.8")]);
        const moved = await outputValues(s);
        assert.strictEqual(moved.gitHash, created.gitHash);
        assert.notStrictEqual(moved.buildId, created.buildId, "a new build for the new environment");
        await s.refresh();
        await s.preview({ expectNoChanges: true });

        // A package set instead: the environment id the server derives from it is not drift.
        current = { ...current, settings: { ...permissions, packageSet: "python39" } };
        assert.deepStrictEqual((await s.up()).summary.resourceChanges, { same: 1, update: 1 });
        assert.deepStrictEqual(await runtime(), [undefined, "python39", idOf("Python 3.9")]);
        await s.refresh();
        await s.preview({ expectNoChanges: true });
        await s.destroy();

        // A legacy algorithm made out of band is adopted and moved to an environment.
        await bed.client.createAlgorithm("alice", {
            name: "ByEnv",
            details: { label: "Legacy" },
            settings: { ...WIRE_SETTINGS },
        });
        current = { ...current, adopt: true, settings: { ...permissions, algorithmEnvironment: idOf("Python 3.9") } };
        assert.deepStrictEqual((await s.up()).summary.resourceChanges, { create: 2 });
        assert.deepStrictEqual(await runtime(), [undefined, "python39", idOf("Python 3.9")]);
        assert.strictEqual(
            (await bed.client.callAlgorithm(`alice/ByEnv/${(await outputValues(s)).gitHash}`, "ada")).result,
            "hello ada",
        );
        await s.refresh();
        await s.preview({ expectNoChanges: true });
        await s.destroy();
    });

    it("deletes the algorithm on destroy", async () => {
        const result = await stack.destroy();
        assert.deepStrictEqual(result.summary.resourceChanges, { delete: 2 });
        assert.strictEqual(await bed.client.getAlgorithm("alice", "Greeter2"), undefined);
    });
});
