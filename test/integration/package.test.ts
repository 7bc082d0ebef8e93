// The provider works when installed as a package: `npm pack`, install the tarball offline into a program outside
// the repository, and run `up`/`preview`/`destroy` there with the real `pulumi` CLI, for all four resources (the
// fixture program declares a collection, a model file, an algorithm built from a copy of test/fixtures/algorithms/
// Hello, and a version published after one test). Closure serialization
// turns the package's files into `require("pulumi-algorithmia/dist/...")` calls inside the state, which only
// work if package.json `exports` allows those subpaths.
//
// Offline install: the fixture gets a package-lock.json derived from the repository's own lock (the runtime
// dependency closure of the package, same versions and integrity hashes) plus the tarball as a `file:`
// dependency. `npm install --offline ./<tarball>` then takes every dependency from the npm cache by its
// integrity hash, with no registry request (without the lock npm would need the registry's package metadata,
// which the cache does not hold). The fixture's dependencies are real copies, not links into the repository. `--ignore-scripts` skips native builds (better-sqlite3 is for algorithmia-local, which the
// provider does not load).
import * as assert from "assert";
import { execFile } from "child_process";
import { promisify } from "util";
import * as fs from "fs";
import * as path from "path";
import { ALICE, call } from "../helpers/server";
import { engineBinDir, repoRoot } from "../helpers/pulumi";
import { testBed } from "../helpers/testBed";

/** A lockfile for `{dependencies: {[pkg.name]: "file:<tarball>"}}`, from the repository's resolved tree. */
function fixtureLock(tarball: string): object {
    const repoLock = JSON.parse(fs.readFileSync(path.join(repoRoot, "package-lock.json"), "utf8"));
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
    const entries: Record<string, any> = repoLock.packages;
    const packages: Record<string, any> = {};
    // Node's resolution over the lock's paths: the nearest node_modules/<name> from `from` upwards.
    const visit = (name: string, from: string) => {
        for (let dir = from; ; dir = dir.includes("/node_modules/") ? dir.slice(0, dir.lastIndexOf("/node_modules/")) : "") {
            const key = `${dir ? dir + "/" : ""}node_modules/${name}`;
            if (entries[key]) {
                if (packages[key]) return;
                const { dev, devOptional, peer, ...entry } = entries[key];
                packages[key] = entry;
                for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) visit(dep, key);
                return;
            }
            if (!dir) throw new Error(`package-lock.json has no ${name} for ${from || "the root"}`);
        }
    };
    for (const dep of Object.keys(pkg.dependencies)) visit(dep, "");
    const file = `file:${path.basename(tarball)}`;
    packages[""] = { name: "fixture", dependencies: { [pkg.name]: file } };
    packages[`node_modules/${pkg.name}`] = { version: pkg.version, resolved: file, dependencies: pkg.dependencies, bin: pkg.bin };
    return { name: "fixture", lockfileVersion: 3, requires: true, packages };
}

describe("installed as a package (npm pack → offline install → pulumi up outside the repo)", function () {
    this.timeout(600_000);
    // bed.root is the fixture project: outside the repository, removed after the suite.
    const bed = testBed();

    // Asynchronous: algorithmia-local runs in this process and must keep answering while a command runs.
    const run = async (command: string, args: string[], env: Record<string, string> = {}, cwd = bed.root) => {
        try {
            const { stdout } = await promisify(execFile)(command, args, { cwd, env: { ...process.env, ...env }, encoding: "utf8" });
            return stdout;
        } catch (err: any) {
            throw new Error(`${command} ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
        }
    };
    // The engine sees only the fixture's node_modules: NODE_PATH no longer points into the repository.
    const pulumi = (...args: string[]) =>
        run(path.join(engineBinDir(), "pulumi"), [...args, "--stack", "dev", "--non-interactive"], {
            ...bed.sandbox.env,
            NODE_PATH: path.join(bed.root, "node_modules"),
        });

    it("packs, installs offline and runs up, a no-change preview, a provider upgrade with no diff, an update and destroy", async () => {
        const tarball = (await run("npm", ["pack", "--silent", "--pack-destination", bed.root], {}, repoRoot)).trim().split("\n").pop()!;
        fs.cpSync(path.join(repoRoot, "test/fixtures/package-project"), bed.root, { recursive: true });
        fs.cpSync(path.join(repoRoot, "test/fixtures/algorithms/Hello"), path.join(bed.root, "Hello"), { recursive: true });
        const file = `file:${tarball}`;
        fs.writeFileSync(path.join(bed.root, "package.json"), JSON.stringify({ name: "fixture", private: true, dependencies: { "pulumi-algorithmia": file } }));
        fs.writeFileSync(path.join(bed.root, "package-lock.json"), JSON.stringify(fixtureLock(path.join(bed.root, tarball))));
        await run("npm", ["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", `./${tarball}`]);
        assert.ok(fs.existsSync(path.join(bed.root, "node_modules/pulumi-algorithmia/dist/provider/index.js")));
        assert.ok(!fs.realpathSync(path.join(bed.root, "node_modules/@pulumi/pulumi")).startsWith(repoRoot), "dependencies are the fixture's own");

        await pulumi("stack", "init", "--secrets-provider", "passphrase");
        await pulumi("config", "set", "--secret", "algorithmia:apiKey", ALICE.key);
        await pulumi("config", "set", "algorithmia:apiAddress", bed.server.url);
        // A preview first: the collection's URI is unknown then, which the model file's check must tolerate.
        assert.match(await pulumi("preview"), /5 to create/);
        await pulumi("up", "--yes", "--skip-preview");
        const outputs = JSON.parse(await pulumi("stack", "output", "--json"));
        assert.strictEqual(outputs.collectionUri, "data://alice/packaged");
        assert.strictEqual(outputs.modelUri, "data://alice/packaged/model.txt");
        const model = await call(bed.server, "GET", "/v1/connector/data/alice/packaged/model.txt", { key: ALICE.key });
        assert.strictEqual(model.text, fs.readFileSync(path.join(bed.root, "model.txt"), "utf8"), "the relative path was read from the project");
        // The Algorithm built the project's Hello directory and the AlgorithmVersion published it after its test.
        assert.strictEqual(outputs.algoPath, "alice/Hello");
        assert.deepStrictEqual([outputs.versionUri, outputs.testsPassed], ["alice/Hello/0.1.0", 1]);
        const answer = await call(bed.server, "POST", "/v1/algo/alice/Hello/0.1.0", { key: ALICE.key, json: "from the package" });
        assert.strictEqual(answer.json.result, "hello from the package");

        const state = await pulumi("stack", "export");
        assert.match(state, /require\(\\"pulumi-algorithmia\/dist\/provider\//, "the serialized provider requires the package's files");
        assert.ok(!state.includes(ALICE.key), "no key in the state");

        await pulumi("preview", "--expect-no-changes");

        // A new provider release alone (its serialized code differs) is no change to the resources.
        const installed = path.join(bed.root, "node_modules/pulumi-algorithmia/dist/provider/resources/dynamic.js");
        const code = fs.readFileSync(installed, "utf8");
        assert.ok(code.includes("async configure(req) {"));
        fs.writeFileSync(installed, code.replace("async configure(req) {", "async configure(req) { /* a newer provider release */"));
        await pulumi("preview", "--expect-no-changes");
        assert.match(await pulumi("up", "--yes", "--skip-preview"), /5 unchanged/);
        assert.match(await pulumi("stack", "export"), /a newer provider release/, "the state now holds the new provider code");

        await pulumi("config", "set", "readAcl", "public");
        assert.match(await pulumi("up", "--yes", "--skip-preview"), /1 updated/);
        await pulumi("preview", "--expect-no-changes");
        const acl = await call(bed.server, "GET", "/v1/connector/data/alice/packaged?acl=true", { key: ALICE.key });
        assert.deepStrictEqual(acl.json.acl.read, ["user://*"]);
        await pulumi("destroy", "--yes", "--skip-preview");
        assert.strictEqual((await call(bed.server, "GET", "/v1/connector/data/alice/packaged", { key: ALICE.key })).status, 404);
        assert.strictEqual((await call(bed.server, "GET", "/v1/algorithms/alice/Hello", { key: ALICE.key })).status, 404);
    });
});
