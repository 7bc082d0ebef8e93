// The provider works when installed as a package beside the program's own @pulumi/pulumi, its peer dependency:
// `npm pack`, install the tarball into programs outside the repository next to an SDK of the supported range, and
// run the real `pulumi` CLI there — up, a no-op preview, a provider upgrade with no diff, an update, refresh and
// destroy run by the upgraded code, for all four resources (the fixture program declares a collection, a model file, an algorithm built
// from a copy of test/fixtures/algorithms/Hello, and a version published after one test). The SDKs: the oldest of
// the peer range, and the one this test process runs (the dev pin 3.248.0 on the Node 20 leg; the newest on the
// Node 24 leg, tools/test-leg.sh). An SDK outside the range is refused at once, saying what to install.
//
// The state holds only a stub of each provider that loads `pulumi-algorithmia/dist/provider/resources/providers.js`
// from the program's directory, which works only if package.json `exports` allows that subpath. The package must
// also share the program's SDK (a nested copy of its own is the failure the compat check guards against). And state
// written by a release from before the stub (which froze the whole provider in state) is taken over by the stub.
//
// Each fixture is installed from the npm registry (or npm's cache, `--prefer-offline`), as a user installs it.
// `--ignore-scripts` skips native builds (better-sqlite3 is for algorithmia-local, which the provider does not load).
import * as assert from "assert";
import { execFile } from "child_process";
import { promisify } from "util";
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";
import { STUB_PROTOCOL } from "../../provider/resources/stub";
import { ALICE, call } from "../helpers/server";
import { repoRoot } from "../helpers/pulumi";
import { CliProject, serializedProviders } from "../helpers/processes";
import { testBed } from "../helpers/testBed";

const SDK = "@pulumi/pulumi";
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
const range: string = pkg.peerDependencies[SDK];
const oldestSdk = semver.minVersion(range)!.version;
const runningSdk: string = require(`${SDK}/package.json`).version;
/** The release just below the range (3.138.0 lacks the dynamic providers' `configure`, which the provider needs). */
const tooOldSdk = "3.138.0";

describe("installed as a package (npm pack → npm install beside the program's SDK → pulumi up outside the repo)", function () {
    this.timeout(900_000);
    // bed.root holds the fixture programs: outside the repository, removed after the suite.
    const bed = testBed();
    let tarball: string;

    // Asynchronous: algorithmia-local runs in this process and must keep answering while a command runs.
    const run = async (command: string, args: string[], cwd: string) => {
        try {
            return (await promisify(execFile)(command, args, { cwd, encoding: "utf8" })).stdout;
        } catch (err: any) {
            throw Object.assign(
                new Error(`${command} ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`),
                {
                    output: `${err.stdout ?? ""}${err.stderr ?? ""}`,
                },
            );
        }
    };

    /** A copy of test/fixtures/package-project with the tarball and `@pulumi/pulumi@sdk` installed, its stack made. */
    async function fixture(
        sdk: string,
        npmFlags: string[] = [],
        provider = tarball,
        name = `sdk-${sdk}`,
    ): Promise<CliProject> {
        const dir = path.join(bed.root, name);
        fs.cpSync(path.join(repoRoot, "test/fixtures/package-project"), dir, { recursive: true });
        fs.cpSync(path.join(repoRoot, "test/fixtures/algorithms/Hello"), path.join(dir, "Hello"), { recursive: true });
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "fixture", private: true }));
        await run(
            "npm",
            [
                "install",
                "--prefer-offline",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--save-exact",
                ...npmFlags,
                provider,
                `${SDK}@${sdk}`,
            ],
            dir,
        );
        assert.ok(fs.existsSync(path.join(dir, "node_modules/pulumi-algorithmia/dist/provider/index.js")));
        assert.strictEqual(
            JSON.parse(fs.readFileSync(path.join(dir, `node_modules/${SDK}/package.json`), "utf8")).version,
            sdk,
        );
        assert.ok(
            !fs.existsSync(path.join(dir, `node_modules/pulumi-algorithmia/node_modules/${SDK}`)),
            "no SDK of the package's own",
        );
        assert.ok(
            !fs.realpathSync(path.join(dir, `node_modules/${SDK}`)).startsWith(repoRoot),
            "dependencies are the fixture's own",
        );
        // The engine sees only the fixture's node_modules: NODE_PATH no longer points into the repository.
        // Type-checked on every run, as a user's program is (the other suites only transpile).
        const project = new CliProject(dir, {
            ...bed.sandbox.env,
            NODE_PATH: path.join(dir, "node_modules"),
            PULUMI_NODEJS_TRANSPILE_ONLY: "false",
        });
        await project.init(name);
        await project.cli("config", "set", "--secret", "algorithmia:apiKey", ALICE.key);
        await project.cli("config", "set", "algorithmia:apiAddress", bed.server.url);
        return project;
    }

    before(async () => {
        const packed = await run("npm", ["pack", "--silent", "--pack-destination", bed.root], repoRoot);
        tarball = path.join(bed.root, packed.trim().split("\n").pop()!);
    });

    it("declares @pulumi/pulumi as a peer dependency only", () => {
        assert.strictEqual(pkg.dependencies[SDK], undefined, "a dependency of its own would nest a second SDK");
        assert.ok(semver.satisfies(runningSdk, range), `the dev copy ${runningSdk} is inside ${range}`);
        assert.ok(!semver.satisfies(tooOldSdk, range));
    });

    for (const sdk of [...new Set([oldestSdk, runningSdk])]) {
        it(`works with @pulumi/pulumi ${sdk}: up, no-op preview, provider upgrade, update, refresh, destroy`, async () => {
            const project = await fixture(sdk);
            // A preview first: the collection's URI is unknown then, which the model file's check must tolerate.
            assert.match(await project.cli("preview"), /5 to create/);
            await project.cli("up", "--yes", "--skip-preview");
            const outputs = JSON.parse(await project.cli("stack", "output", "--json"));
            assert.strictEqual(outputs.collectionUri, "data://alice/packaged");
            // Stored under its content's own name (model.<16 hex digits of its sha256>.txt).
            assert.strictEqual(outputs.modelUri, `data://alice/packaged/model.${outputs.modelSha256.slice(0, 16)}.txt`);
            const model = await call(
                bed.server,
                "GET",
                `/v1/connector/data/${outputs.modelUri.slice("data://".length)}`,
                { key: ALICE.key },
            );
            assert.strictEqual(
                model.text,
                fs.readFileSync(path.join(project.dir, "model.txt"), "utf8"),
                "the relative path was read from the project",
            );
            // The Algorithm built the project's Hello directory and the AlgorithmVersion published it after its test.
            assert.strictEqual(outputs.algoPath, "alice/Hello");
            assert.deepStrictEqual([outputs.versionUri, outputs.testsPassed], ["alice/Hello/0.1.0", 1]);
            const answer = await call(bed.server, "POST", "/v1/algo/alice/Hello/0.1.0", {
                key: ALICE.key,
                json: "from the package",
            });
            assert.strictEqual(answer.json.result, "hello from the package");

            const state = await project.exportedState();
            const stubs = allProviders(state);
            assert.strictEqual(stubs.length, 8, "each of the four resources holds its provider in inputs and outputs");
            for (const stub of stubs) {
                assert.ok(
                    stub.includes(STUB_PROTOCOL) &&
                        stub.includes("pulumi-algorithmia/dist/provider/resources/providers.js"),
                    stub,
                );
                assert.ok(!stub.includes("checkWithSchema"), "the provider's code stays out of state");
            }
            assert.ok(!state.includes(ALICE.key), "no key in the state");
            await project.cli("preview", "--expect-no-changes");

            // A new provider release is no change to the resources, and from then on every call runs its code, even
            // those that run from state alone (refresh, destroy): the old code is not frozen there.
            const loads = path.join(project.dir, "provider-loads.txt");
            upgradeInstalled(project.dir, `require("fs").appendFileSync(${JSON.stringify(loads)}, "loaded\\n");`);
            const loadCount = () => (fs.existsSync(loads) ? fs.readFileSync(loads, "utf8").split("\n").length - 1 : 0);
            await project.cli("preview", "--expect-no-changes");
            assert.match(await project.cli("up", "--yes", "--skip-preview"), /5 unchanged/);
            // (The same set: the engine may store the resources in another order.)
            assert.deepStrictEqual(
                allProviders(await project.exportedState()).sort(),
                [...stubs].sort(),
                "the stubs in state are the same",
            );
            assert.strictEqual(loadCount(), 2, "the preview and the up each ran the installed code");

            await project.cli("config", "set", "readAcl", "public");
            assert.match(await project.cli("up", "--yes", "--skip-preview"), /1 updated/);
            await project.cli("preview", "--expect-no-changes");
            const acl = await call(bed.server, "GET", "/v1/connector/data/alice/packaged?acl=true", { key: ALICE.key });
            assert.deepStrictEqual(acl.json.acl.read, ["user://*"]);

            // Refresh reads every object back unchanged; then drift (the ACL changed out of band) is seen and taken in.
            let before = loadCount();
            assert.match(await project.cli("refresh", "--yes", "--skip-preview"), /5 unchanged/);
            assert.strictEqual(loadCount(), before + 1, "refresh ran the installed code");
            await bed.client.setCollectionAcl("alice", "packaged", "private");
            assert.match(await project.cli("refresh", "--yes", "--skip-preview"), /1 updated/);
            assert.match(await project.cli("preview"), /1 to update/);
            await project.cli("up", "--yes", "--skip-preview");
            await project.cli("preview", "--expect-no-changes");

            before = loadCount();
            await project.cli("destroy", "--yes", "--skip-preview");
            assert.strictEqual(loadCount(), before + 1, "destroy ran the installed code");
            assert.strictEqual(
                (await call(bed.server, "GET", "/v1/connector/data/alice/packaged", { key: ALICE.key })).status,
                404,
            );
            assert.strictEqual(
                (await call(bed.server, "GET", "/v1/algorithms/alice/Hello", { key: ALICE.key })).status,
                404,
            );
        });
    }

    it("takes over state written by a release from before the stub: one update stores the stub, nothing changes on the server", async () => {
        // That release, packed from this repository's history (a clone with its history, as CI's is). The Node 24 leg
        // runs in a copy without .git and names the checkout it copied.
        const history = process.env.PULUMI_ALGORITHMIA_CHECKOUT ?? repoRoot;
        const legacyDir = path.join(bed.root, "legacy-release");
        await run("git", ["cat-file", "-e", `${LEGACY_RELEASE}^{commit}`], history).catch(() => {
            throw new Error(
                `this test packs commit ${LEGACY_RELEASE} (the last release that froze the provider in state): clone with history`,
            );
        });
        fs.mkdirSync(legacyDir);
        await run("bash", ["-c", `git -C ${JSON.stringify(history)} archive ${LEGACY_RELEASE} | tar -x`], legacyDir);
        fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(legacyDir, "node_modules"));
        const legacyTarball = path.join(
            legacyDir,
            (await run("npm", ["pack", "--silent"], legacyDir)).trim().split("\n").pop()!,
        );

        const project = await fixture(runningSdk, [], legacyTarball, "legacy");
        await project.cli("up", "--yes", "--skip-preview");
        const legacyState = await project.exportedState();
        assert.ok(
            allProviders(legacyState).every((code) => code.includes("checkWithSchema")),
            "the old release froze its whole provider in state",
        );
        const onServer = async () => [
            (await call(bed.server, "GET", "/v1/algorithms/alice/Hello/versions", { key: ALICE.key })).json,
            (await call(bed.server, "GET", "/v1/algorithms/alice/Hello/builds", { key: ALICE.key })).json,
            (await call(bed.server, "GET", "/v1/connector/data/alice/packaged", { key: ALICE.key })).json,
        ];
        const before = await onServer();

        await run(
            "npm",
            ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", tarball],
            project.dir,
        );
        // (Not previewed: in a preview the host cannot say what an update will output, so the resources that read an
        // updated one's outputs show as replaced there; the up replaces nothing.)
        const migrated = await project.cli("up", "--yes", "--skip-preview");
        assert.match(migrated, /4 updated/);
        assert.doesNotMatch(migrated, /replaced|created|deleted/);
        const state = await project.exportedState();
        assert.ok(
            allProviders(state).every((code) => code.includes(STUB_PROTOCOL)),
            "every copy is the stub now",
        );
        assert.ok(state.length < legacyState.length / 5, `state ${state.length} bytes, was ${legacyState.length}`);
        await project.cli("preview", "--expect-no-changes");
        // The same versions (none republished), builds (none redone) and files (none uploaded again); it still answers.
        assert.deepStrictEqual(await onServer(), before);
        const answer = await call(bed.server, "POST", "/v1/algo/alice/Hello/0.1.0", {
            key: ALICE.key,
            json: "after the upgrade",
        });
        assert.strictEqual(answer.json.result, "hello after the upgrade");

        // From state alone, with the new release's code.
        const loads = path.join(project.dir, "provider-loads.txt");
        upgradeInstalled(project.dir, `require("fs").appendFileSync(${JSON.stringify(loads)}, "loaded\\n");`);
        assert.match(await project.cli("refresh", "--yes", "--skip-preview"), /5 unchanged/);
        await project.cli("destroy", "--yes", "--skip-preview");
        assert.strictEqual(
            fs.readFileSync(loads, "utf8"),
            "loaded\nloaded\n",
            "refresh and destroy ran the installed code",
        );
        assert.strictEqual(
            (await call(bed.server, "GET", "/v1/algorithms/alice/Hello", { key: ALICE.key })).status,
            404,
        );
    });

    it(`refuses @pulumi/pulumi ${tooOldSdk}: npm will not install it, and forced in, the program says what to install`, async () => {
        const refused = await fixture(tooOldSdk).then(
            () => undefined,
            (err) => err.output as string,
        );
        assert.match(
            refused ?? "installed",
            /ERESOLVE|peer @pulumi\/pulumi/,
            "npm refuses an SDK outside the peer range",
        );
        fs.rmSync(path.join(bed.root, `sdk-${tooOldSdk}`), { recursive: true, force: true });

        const project = await fixture(tooOldSdk, ["--legacy-peer-deps"]);
        const failed = await project.cli("preview").then(
            () => "",
            (err: Error) => err.message,
        );
        assert.ok(
            failed.includes(`pulumi-algorithmia needs ${SDK} ${range}, but your program has ${tooOldSdk}`),
            failed,
        );
        assert.ok(failed.includes(`npm install ${SDK}@"${range}"`), failed);
    });
});

/** The last commit whose provider was serialized whole into state (the stub came after it). */
const LEGACY_RELEASE = "bad7f9c";

/** Every `__provider` of a `pulumi stack export`: each resource's inputs and outputs hold one. */
const allProviders = (exported: string) => serializedProviders(exported).flat();

/** A new release of the package installed in `dir`: its implementation module runs `statement` when it loads. */
function upgradeInstalled(dir: string, statement: string): void {
    const installed = path.join(dir, "node_modules/pulumi-algorithmia/dist/provider/resources/providers.js");
    fs.writeFileSync(installed, `${statement}\n${fs.readFileSync(installed, "utf8")}`);
}
