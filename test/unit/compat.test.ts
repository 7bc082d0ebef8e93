// Which Node.js and @pulumi/pulumi a program may use: the rules are package.json's, and each refusal says what to
// install. (test/integration/package.test.ts shows the refusal of an old SDK through the real engine.)
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { compatibilityProblem, currentRuntime, Supported } from "../../provider/compat";
import { repoRoot } from "../helpers/pulumi";

describe("compat", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
    const supported: Supported = { node: pkg.engines.node, sdk: pkg.peerDependencies["@pulumi/pulumi"] };
    const program = "/home/me/app";
    const installed = `${program}/node_modules/pulumi-algorithmia`;
    const sdkDir = `${program}/node_modules/@pulumi/pulumi`;
    const runtime = { node: "24.22.3", sdkDir, sdkVersion: "3.276.0", packageDir: installed };

    it("accepts the supported Node.js lines and SDK range", () => {
        for (const node of ["20.19.0", "20.20.2", "22.12.0", "24.22.3", "26.1.0"]) {
            assert.strictEqual(compatibilityProblem(supported, { ...runtime, node }), undefined, node);
        }
        const oldest = pkg.peerDependencies["@pulumi/pulumi"].replace(/^\^/, "");
        for (const sdkVersion of [oldest, "3.248.0", "3.276.0", "3.300.0-alpha.1"]) {
            assert.strictEqual(compatibilityProblem(supported, { ...runtime, sdkVersion }), undefined, sdkVersion);
        }
    });

    it("refuses an old Node.js, naming the supported lines", () => {
        for (const node of ["18.20.4", "20.18.1", "21.7.3", "22.11.0"]) {
            const problem = compatibilityProblem(supported, { ...runtime, node });
            assert.ok(problem?.includes(`needs Node.js ${supported.node}, but this is Node.js ${node}`), problem);
        }
    });

    it("refuses a missing or out-of-range SDK with the npm command that fixes it", () => {
        const install = `npm install @pulumi/pulumi@"${supported.sdk}"`;
        const missing = compatibilityProblem(supported, { ...runtime, sdkDir: undefined, sdkVersion: undefined });
        assert.ok(missing?.includes("none is installed") && missing.includes(install), missing);
        for (const sdkVersion of ["3.138.0", "4.0.0", "2.25.2"]) {
            const problem = compatibilityProblem(supported, { ...runtime, sdkVersion });
            assert.ok(problem?.includes(`your program has ${sdkVersion}`) && problem.includes(install), problem);
        }
    });

    it("refuses a second SDK nested inside the installed package, not the repository's own dev copy", () => {
        const nested = { ...runtime, sdkDir: `${installed}/node_modules/@pulumi/pulumi` };
        assert.match(compatibilityProblem(supported, nested)!, /a copy of its own is installed at .*npm dedupe/);
        const repository = {
            ...runtime,
            packageDir: "/src/pulumi-algorithmia",
            sdkDir: "/src/pulumi-algorithmia/node_modules/@pulumi/pulumi",
        };
        assert.strictEqual(compatibilityProblem(supported, repository), undefined);
    });

    it("reads this process's Node.js and the SDK the package resolves", () => {
        const found = currentRuntime(repoRoot);
        assert.strictEqual(found.node, process.versions.node);
        assert.strictEqual(found.sdkDir, path.join(repoRoot, "node_modules/@pulumi/pulumi"));
        assert.strictEqual(found.sdkVersion, require("@pulumi/pulumi/package.json").version);
        assert.strictEqual(currentRuntime(fs.mkdtempSync("/tmp/no-sdk-")).sdkVersion, undefined);
    });
});
