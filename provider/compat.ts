// Which Node.js and @pulumi/pulumi this package runs with. The rules are package.json's own `engines.node` and
// peer range of @pulumi/pulumi, read from there so they are declared once, and checked when a program imports the
// package: outside them a program fails at once, saying what to install, instead of deep inside the first
// resource (a nested second SDK, for one, fails closure serialization with "package.json export path ... not
// found"). Not part of any serialized provider: only the program process runs it.
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";

export interface Supported {
    /** `engines.node`, e.g. `>=20.19.0 <21 || >=22.12.0`. */
    node: string;
    /** The peer range of @pulumi/pulumi, e.g. `^3.139.0`. */
    sdk: string;
}

export interface Runtime {
    /** `process.versions.node`. */
    node: string;
    /** The directory of the @pulumi/pulumi this package resolves, or undefined when there is none. */
    sdkDir?: string;
    sdkVersion?: string;
    /** This package's own directory. */
    packageDir: string;
}

const SDK = "@pulumi/pulumi";

/** What is wrong with `found`, as a message that says what to install; undefined when it is supported. */
export function compatibilityProblem(supported: Supported, found: Runtime): string | undefined {
    const install = `npm install ${SDK}@"${supported.sdk}"`;
    if (!semver.satisfies(found.node, supported.node, { includePrerelease: true })) {
        return (
            `pulumi-algorithmia needs Node.js ${supported.node}, but this is Node.js ${found.node}: ` +
            `install a current LTS release (22 or 24) and run pulumi with it.`
        );
    }
    if (!found.sdkDir || !found.sdkVersion) {
        return `pulumi-algorithmia needs ${SDK} ${supported.sdk} in your program, and none is installed: run \`${install}\`.`;
    }
    if (!semver.satisfies(found.sdkVersion, supported.sdk, { includePrerelease: true })) {
        return (
            `pulumi-algorithmia needs ${SDK} ${supported.sdk}, but your program has ${found.sdkVersion} ` +
            `(${found.sdkDir}): run \`${install}\`.`
        );
    }
    // Installed in a program (not this repository, whose dev copy is its own): the SDK must be the program's.
    const installed = found.packageDir.split(path.sep).includes("node_modules");
    if (installed && found.sdkDir.startsWith(path.join(found.packageDir, "node_modules") + path.sep)) {
        return (
            `pulumi-algorithmia must share your program's ${SDK}, but a copy of its own is installed at ${found.sdkDir} ` +
            `(the program's is missing or outside ${supported.sdk}): run \`${install}\` in the program, then \`npm dedupe\`.`
        );
    }
    return undefined;
}

/** This process's Node.js and the @pulumi/pulumi that this package loads. */
export function currentRuntime(packageDir: string): Runtime {
    let sdkDir: string | undefined;
    let sdkVersion: string | undefined;
    try {
        const manifest = require.resolve(`${SDK}/package.json`, { paths: [packageDir] });
        sdkDir = path.dirname(manifest);
        sdkVersion = JSON.parse(fs.readFileSync(manifest, "utf8")).version;
    } catch {
        // Not installed: compatibilityProblem says what to do.
    }
    return { node: process.versions.node, sdkDir, sdkVersion, packageDir };
}

/** Throws the compatibility problem of this process, if any. */
export function assertSupportedRuntime(): void {
    // The package's own manifest, found through its `exports` (the same path from provider/ and dist/provider/).
    const manifest = require.resolve("pulumi-algorithmia/package.json");
    const pkg = JSON.parse(fs.readFileSync(manifest, "utf8"));
    const problem = compatibilityProblem(
        { node: pkg.engines.node, sdk: pkg.peerDependencies[SDK] },
        currentRuntime(path.dirname(manifest)),
    );
    if (problem) throw new Error(problem);
}
