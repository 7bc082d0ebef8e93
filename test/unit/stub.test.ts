// The provider stub the state holds: serialized by the SDK's own serializer and loaded as the dynamic-provider host
// loads it (require-from-string, in a process whose working directory is the program's), it finds the installed
// implementation at `configure` and hands every later call to it; a state from before the stub is told apart.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { frozenProvider } from "../../provider/resources/dynamic";
import {
    implementationLocation,
    ImplementationLocation,
    providerStub,
    STUB_PROTOCOL,
} from "../../provider/resources/stub";
// The loader the dynamic-provider host uses for the serialized provider.
const requireFromString: (code: string) => any = require("require-from-string");

const escape = (text: string) => text.replace(/[/.]/g, "\\$&");

/** A module like providers.ts: its provider records each call, named by `tag`. */
function writeImplementation(file: string, tag: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(
        file,
        `exports.loadProvider = (type, protocol) => ({
    async configure(req) { this.config = req.config; },
    async check(olds, news) { return { inputs: { ...news, by: ${JSON.stringify(tag)}, type, protocol, config: this.config }, failures: [] }; },
    async diff() { return { changes: false }; },
    async create(inputs) { return { id: "x", outs: inputs }; },
    async read(id, props) { return { id, props }; },
    async update(id, olds, news) { return { outs: news }; },
    async delete() {},
});
`,
    );
}

describe("provider stub", () => {
    let root: string;
    const cwd = process.cwd();
    beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), "stub-test-"))));
    afterEach(() => {
        process.chdir(cwd);
        fs.rmSync(root, { recursive: true, force: true });
    });

    /** The stub as the host gets it from state: serialized, loaded from text, configured once. */
    async function hosted(location: ImplementationLocation) {
        const stub = providerStub("ModelFile", location);
        const serialized = (await pulumi.runtime.serializeFunction(() => stub)).text;
        const provider = requireFromString(serialized).handler();
        const configured = provider
            .configure({
                // The provider's own settings unset; anything else answers "configured".
                config: { get: (key?: string) => (key?.startsWith("algorithmia:") ? undefined : "configured") },
            })
            .then(
                () => undefined,
                (err: Error) => err,
            );
        return { serialized, provider, configureError: await configured };
    }

    it("holds no provider code, and loads the implementation's provider for its type at configure", async () => {
        const file = path.join(root, "checkout/provider/resources/providers.js");
        writeImplementation(file, "checkout");
        const { serialized, provider, configureError } = await hosted({ file });
        assert.strictEqual(configureError, undefined);
        assert.ok(serialized.includes(STUB_PROTOCOL));
        assert.ok(!serialized.includes("checkWithSchema"), "nothing of dynamic.ts is serialized");
        const { inputs } = await provider.check({}, { name: "m" });
        assert.deepStrictEqual(inputs, {
            name: "m",
            by: "checkout",
            type: "ModelFile",
            protocol: STUB_PROTOCOL,
            config: { get: inputs.config.get },
        });
        assert.strictEqual(inputs.config.get(), "configured");
        for (const method of ["diff", "create", "read", "update", "delete"])
            assert.strictEqual(typeof provider[method], "function", method);
    });

    it("prefers the package installed where the program is to the file the program loaded, and falls back to that file", async () => {
        const file = path.join(root, "old-location/providers.js");
        writeImplementation(file, "file");
        const project = path.join(root, "project");
        writeImplementation(path.join(project, "node_modules/fake-provider/dist/providers.js"), "package");
        process.chdir(project);
        const installed = await hosted({ packageEntry: "fake-provider/dist/providers.js", file });
        assert.strictEqual((await installed.provider.check({}, {})).inputs.by, "package");

        process.chdir(root);
        const elsewhere = await hosted({ packageEntry: "fake-provider/dist/providers.js", file });
        assert.strictEqual((await elsewhere.provider.check({}, {})).inputs.by, "file");
    });

    it("fails every call, saying what to install, when neither the package nor the file is there", async () => {
        process.chdir(root);
        const gone = path.join(root, "gone/providers.js");
        const { provider, configureError } = await hosted({
            packageEntry: "pulumi-algorithmia/dist/provider/resources/providers.js",
            file: gone,
        });
        const expected = new RegExp(
            `pulumi-algorithmia is not installed in ${escape(root)} and ${escape(gone)} is gone: npm install pulumi-algorithmia`,
        );
        assert.match(String(configureError), expected);
        await assert.rejects(provider.check({}, {}), expected);
        await assert.rejects(provider.delete("id", {}), expected);
    });

    it("finds the package entry only when loaded from node_modules", () => {
        const installed = path.join(root, "project/node_modules/pulumi-algorithmia");
        fs.mkdirSync(path.join(installed, "dist/provider/resources"), { recursive: true });
        fs.writeFileSync(path.join(installed, "package.json"), JSON.stringify({ name: "pulumi-algorithmia" }));
        const file = path.join(installed, "dist/provider/resources/providers.js");
        assert.deepStrictEqual(implementationLocation(file), {
            packageEntry: "pulumi-algorithmia/dist/provider/resources/providers.js",
            file,
        });

        const checkout = path.join(root, "checkout");
        fs.mkdirSync(path.join(checkout, "provider/resources"), { recursive: true });
        fs.writeFileSync(path.join(checkout, "package.json"), JSON.stringify({ name: "pulumi-algorithmia" }));
        const source = path.join(checkout, "provider/resources/providers.ts");
        assert.deepStrictEqual(implementationLocation(source), { file: source });
    });

    it("loads this repository's TypeScript implementation through ts-node, as the examples and tests need", async () => {
        // This process has ts-node already; a provider process has not, which the stub handles (integration tests).
        const { provider, configureError } = await hosted(implementationLocation());
        assert.strictEqual(configureError, undefined);
        const { failures } = await provider.check(
            {},
            { collection: "data://alice/models", name: "bad/name", source: "x" },
        );
        assert.match(failures[0].reason, /name: must be a plain file name/, "the real ModelFile check ran");
    });

    it("tells state written by a whole serialized provider from a stub's, and makes the first an update", async () => {
        const stubObject = providerStub("DataCollection");
        const stub = (await pulumi.runtime.serializeFunction(() => stubObject)).text;
        assert.strictEqual(frozenProvider({ __provider: stub }), false);
        assert.strictEqual(frozenProvider({ __provider: "exports.handler = __f0; /* the whole provider */" }), true);
        assert.strictEqual(frozenProvider({}), false);
        const { providers } = await import("../../provider/resources/providers");
        const olds = {
            name: "c",
            owner: "alice",
            readAcl: "private",
            forceDestroy: false,
            adopt: false,
            cluster: "http://a.example",
        };
        const news = { ...olds, owner: undefined };
        await providers.DataCollection.configure!({ config: { get: () => undefined } } as any);
        assert.strictEqual(
            (
                await providers.DataCollection.diff!(
                    "alice/c",
                    { ...olds, __provider: stub },
                    { ...news, __provider: stub },
                )
            ).changes,
            false,
        );
        const legacy = await providers.DataCollection.diff!(
            "alice/c",
            { ...olds, __provider: "exports.handler = __f0;" },
            { ...news, __provider: stub },
        );
        assert.deepStrictEqual([legacy.changes, legacy.replaces], [true, []]);
    });

    it("leaves zod to the provider process: declaring resources in a program never loads it", () => {
        // A fresh process, as a program is: what it requires to declare every resource type, and then to check inputs.
        const script = `
            require("ts-node").register({ transpileOnly: true });
            const loaded = () => Object.keys(require.cache).some((file) => file.includes("/node_modules/zod/"));
            require(${JSON.stringify(path.join(__dirname, "../../provider"))});
            const program = loaded();
            require(${JSON.stringify(path.join(__dirname, "../../provider/resources/modelFile"))}).modelFileController.schema();
            console.log(JSON.stringify({ program, checking: loaded() }));`;
        const out = execFileSync(process.execPath, ["-e", script], {
            cwd: path.join(__dirname, "../.."),
            encoding: "utf8",
        });
        assert.deepStrictEqual(JSON.parse(out.trim().split("\n").pop()!), { program: false, checking: true });
    });
});
