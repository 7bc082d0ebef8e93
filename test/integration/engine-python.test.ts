// Proves the engine kit runs Python programs offline: the real `pulumi` CLI and the python language host it builds
// (tools/pulumi-cli/build.sh) run test/fixtures/python-project, a program of config, one component resource and
// stack outputs, with the PyPI `pulumi` SDK from a cached venv: up, a no-change preview, config, outputs, an
// update and destroy.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { PulumiSandbox, engineBinDir, pulumiPythonVenv, pythonProgramEnv, repoRoot } from "../helpers/pulumi";

const FIXTURE = path.join(repoRoot, "test/fixtures/python-project");
const REQUIREMENTS = path.join(FIXTURE, "requirements.txt");
/** The Python SDK the fixture pins (`pulumi==3.248.0`). */
const SDK_VERSION = /^pulumi==(\S+)/m.exec(fs.readFileSync(REQUIREMENTS, "utf8"))![1];
const GREETING_URN = "urn:pulumi:dev::python-project::smoke:index:Greeting::greeting";

describe("engine with a Python program (python language host)", function () {
    let sandbox: PulumiSandbox;
    let python: string;
    let dir: string;
    const pulumi = (...args: string[]) => sandbox.cli(dir, [...args, "--stack", "dev"]);

    before(async () => {
        // Installs the SDK once per machine; throws with pip's message when it cannot (never skips).
        python = await pulumiPythonVenv(REQUIREMENTS);
        sandbox = await PulumiSandbox.create(pythonProgramEnv(python));
        // Run from a copy so the stack's config file stays out of the repository.
        dir = path.join(sandbox.root, "python-project");
        fs.cpSync(FIXTURE, dir, { recursive: true });
        await sandbox.projectStack(dir, "dev");
        pulumi("config", "set", "greeting", "hello");
        pulumi("config", "set", "times", "2");
        pulumi("config", "set", "--secret", "token", "s3cret-token");
    });
    after(async () => {
        await sandbox?.dispose();
    });

    it("runs the python host built beside pulumi, with the venv's SDK", () => {
        for (const file of ["pulumi-language-python", "pulumi-language-python-exec"]) {
            assert.ok(fs.existsSync(path.join(engineBinDir(), file)), `${file} sits next to pulumi`);
        }
        const about = JSON.parse(pulumi("about", "--json"));
        assert.deepStrictEqual(
            about.plugins.filter((p: { kind: string }) => p.kind === "language"),
            [{ name: "python", version: "3.79.0", kind: "language" }],
        );
        assert.strictEqual(about.runtime.executable, python);
        assert.ok(
            about.dependencies.some(
                (d: { name: string; version: string }) => d.name === "pulumi" && d.version === SDK_VERSION,
            ),
            `the venv has pulumi ${SDK_VERSION}: ${JSON.stringify(about.dependencies)}`,
        );
    });

    it("runs up, a no-change preview, config, outputs, an update and destroy", () => {
        const up = pulumi("up", "--yes", "--skip-preview");
        assert.match(up, /2 created/);
        assert.deepStrictEqual(JSON.parse(pulumi("stack", "output", "--json", "--show-secrets")), {
            message: "hello hello",
            urn: GREETING_URN,
            project: "python-project",
            stack: "dev",
            sdkVersion: SDK_VERSION,
            token: "s3cret-token",
        });
        // The secret config value stays a secret: masked in outputs, encrypted in the stored state.
        assert.strictEqual(JSON.parse(pulumi("stack", "output", "--json")).token, "[secret]");
        assert.ok(!sandbox.storedState().includes("s3cret-token"), "the state holds no plaintext secret");
        pulumi("preview", "--expect-no-changes");

        assert.strictEqual(pulumi("config", "get", "greeting").trim(), "hello");
        pulumi("config", "set", "greeting", "bonjour");
        pulumi("up", "--yes", "--skip-preview");
        assert.strictEqual(JSON.parse(pulumi("stack", "output", "--json")).message, "bonjour bonjour");
        pulumi("preview", "--expect-no-changes");

        const destroy = pulumi("destroy", "--yes", "--skip-preview");
        assert.match(destroy, /2 deleted/);
        assert.deepStrictEqual(JSON.parse(pulumi("stack", "export")).deployment.resources ?? [], []);
    });
});
