// The only provider code the engine serializes into state. A dynamic resource carries its provider as an input
// (`__provider`), which the engine stores in the resource's inputs and outputs and sends with every call. Serializing
// the whole provider put some 80 KB per resource in state, and froze that code there: refresh and delete of an
// old resource ran the code it was created with. A stub is under 2 KB: it loads the installed implementation
// (./providers) in the provider process.
//
// Closure-serialization rules, for `providerStub` only: the serializer copies each captured variable into the state
// and may parse the function with a TypeScript 3.8 it vendors, so it uses ES2017 syntax, captures only strings and
// its own object, and `require`s what it needs at call time (`require` is never captured: the provider process has
// its own, which resolves from the program's directory).
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type { providers } from "./providers";

/**
 * What a stub asks of the implementation it loads (`loadProvider`); part of every stub's serialized text, which is
 * how state written by a stub is told from state that holds a whole provider (releases before the stub).
 */
export const STUB_PROTOCOL = "pulumi-algorithmia:provider-stub/v1";

/**
 * Where the provider process finds the implementation:
 * - `packageEntry`: the installed package's module (`pulumi-algorithmia/dist/provider/resources/providers.js`),
 *   resolved from the program's directory (the provider process's working directory), so that an upgraded package
 *   serves state written by the old one. Only when this module was itself loaded from a `node_modules` directory.
 * - `file`: the absolute path resolved now, for a program that imports the repository's own sources (the examples
 *   and tests), or when the package cannot be resolved from the working directory.
 */
export interface ImplementationLocation {
    packageEntry?: string;
    file: string;
}

export function implementationLocation(file = require.resolve("./providers")): ImplementationLocation {
    for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (!fs.existsSync(manifest)) continue;
        const parent = path.basename(path.dirname(dir));
        const installed =
            parent === "node_modules" ||
            (parent.startsWith("@") && path.basename(path.dirname(path.dirname(dir))) === "node_modules");
        if (!installed) return { file };
        const name: string = JSON.parse(fs.readFileSync(manifest, "utf8")).name;
        return { packageEntry: `${name}/${path.relative(dir, file).split(path.sep).join("/")}`, file };
    }
    return { file };
}

/** Found once per program, for every resource type's stub. */
let thisImplementation: ImplementationLocation | undefined;

/**
 * The provider of resource type `type`, as serialized into state: only `configure`, which the host always calls first
 * on a provider it deserialized (`getProvider` in @pulumi/pulumi's cmd/dynamic-provider, every release since 3.139,
 * where providers began to receive the config). It loads the implementation's provider and puts its methods on this
 * object, so every later call goes straight to the installed code. A load that fails puts that error on every method.
 * The package where the program is wins; else the file the program loaded, compiled by ts-node when it is the
 * repository's own TypeScript (its examples and tests), as the program was. (No comments inside: they would be
 * serialized too.)
 */
export function providerStub(
    type: keyof typeof providers,
    location = (thisImplementation ??= implementationLocation()),
): pulumi.dynamic.ResourceProvider<any, any> {
    const protocol = STUB_PROTOCOL;
    const packageEntry = location.packageEntry;
    const file = location.file;
    const stub: Partial<pulumi.dynamic.ResourceProvider<any, any>> = {
        configure: function (req) {
            let provider: pulumi.dynamic.ResourceProvider<any, any>;
            try {
                let resolved = file;
                try {
                    if (packageEntry) resolved = require.resolve(packageEntry, { paths: [process.cwd()] });
                } catch (err) {}
                if (!require("fs").existsSync(resolved)) {
                    throw new Error(
                        `pulumi-algorithmia is not installed in ${process.cwd()} and ${resolved} is gone: npm install pulumi-algorithmia`,
                    );
                }
                if (/\.ts$/.test(resolved) && !require.extensions[".ts"]) {
                    const dir = require("path").dirname(resolved);
                    require(require.resolve("ts-node", { paths: [dir] })).register({
                        transpileOnly: true,
                        projectSearchDir: dir,
                    });
                }
                provider = require(resolved).loadProvider(type, protocol);
            } catch (err) {
                provider = {} as typeof provider;
                for (const method of ["configure", "check", "diff", "create", "read", "update", "delete"])
                    (provider as any)[method] = () => Promise.reject(err);
            }
            Object.assign(stub, provider);
            return stub.configure!(req);
        },
    };
    // Complete once `configure` has run, which is before anything else is called.
    return stub as pulumi.dynamic.ResourceProvider<any, any>;
}
