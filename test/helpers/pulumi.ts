// Gives integration tests the real Pulumi engine, offline: a temporary PULUMI_HOME and file backend per suite,
// the passphrase secrets provider, and Automation API stacks (inline programs or project directories) that
// are torn down with the suite.
import { execFile, execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, ProjectSettings, PulumiCommand, PulumiFn, Stack } from "@pulumi/pulumi/automation";
import * as runtime from "@pulumi/pulumi/runtime";
import { cacheRoot, ensureEnvironment, runLogged } from "../../server/runtime/env-cache";

export const repoRoot = path.resolve(__dirname, "../..");

let engineBin: string | undefined;

/**
 * The Go module that pins the CLI under test: tools/pulumi-cli (the dev pin) unless PULUMI_ALGORITHMIA_ENGINE_MODULE
 * names another (the Node 24 leg's tools/pulumi-cli/newest). tools/pulumi-cli/build.sh reads the same variable.
 */
export function engineModuleDir(): string {
    return path.resolve(repoRoot, process.env.PULUMI_ALGORITHMIA_ENGINE_MODULE ?? "tools/pulumi-cli");
}

/** The CLI version that module pins (`v3.248.0`). */
export function engineVersion(): string {
    const goMod = fs.readFileSync(path.join(engineModuleDir(), "go.mod"), "utf8");
    const pinned = /^\s*github\.com\/pulumi\/pulumi\/pkg\/v3 (v\S+)/m.exec(goMod);
    if (!pinned) throw new Error(`${engineModuleDir()}/go.mod pins no github.com/pulumi/pulumi/pkg/v3`);
    return pinned[1];
}

/** The directory holding `pulumi`, its language hosts (nodejs, python) and `pulumi-resource-pulumi-nodejs`. */
export function engineBinDir(): string {
    if (!engineBin) {
        engineBin = process.env.PULUMI_ALGORITHMIA_ENGINE_BIN;
        if (!engineBin) {
            const out = execFileSync("bash", [path.join(repoRoot, "tools/pulumi-cli/build.sh")], {
                stdio: ["ignore", "pipe", "inherit"],
                encoding: "utf8",
            });
            engineBin = out.trim().split("\n").pop()!;
        }
    }
    return engineBin;
}

/** The variables that make the engine run offline against a local state directory. */
export function offlineEngineEnv(pulumiHome: string, stateDir: string): Record<string, string> {
    return {
        PULUMI_HOME: pulumiHome,
        PULUMI_BACKEND_URL: `file://${stateDir}`,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_CONFIG_PASSPHRASE: "test-passphrase",
        // TypeScript programs are transpiled, not type-checked on every run (`tsc --noEmit` in `npm test` checks the
        // examples and fixtures once); the package test type-checks, as a user's program is.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        // The dynamic-provider plugin resolves @pulumi/pulumi from its working directory; let it find ours.
        NODE_PATH: path.join(repoRoot, "node_modules"),
        // The language host and the plugins are found next to the CLI.
        PATH: `${engineBinDir()}${path.delimiter}${process.env.PATH ?? ""}`,
    };
}

/**
 * A venv holding what `requirements` (a requirements.txt that pins `pulumi==X.Y.Z`) names, for Python programs:
 * made once per machine in `<cache root>/pulumi-python-<X.Y.Z>-<hash>` (the hash covers the file and the base
 * python3's version) and answered as its interpreter. It throws, saying why, when python3, its venv module or pip
 * cannot make it: a Python suite that skipped would prove nothing.
 */
export async function pulumiPythonVenv(requirements: string): Promise<string> {
    const text = fs.readFileSync(requirements, "utf8");
    const base = spawnSync("python3", ["--version"], { encoding: "utf8" });
    if (base.error || base.status !== 0)
        throw new Error(
            `Python programs need python3 (3.9 or newer, with venv) on PATH: ${base.error?.message ?? base.stderr}`,
        );
    const pin = /^pulumi==(\S+)/m.exec(text)?.[1] ?? "unpinned";
    const hash = crypto.createHash("sha256").update(text).update(base.stdout).digest("hex").slice(0, 12);
    const dir = path.join(cacheRoot(), `pulumi-python-${pin}-${hash}`);
    const log = (line: string) => console.error(line);
    await ensureEnvironment(dir, {
        kind: "Python venv for Pulumi programs",
        contains: path.join("bin", "python"),
        describe: { requirements: text, python: base.stdout.trim() },
        log,
        announce: () => log(`Installing ${requirements} into ${dir} (once per machine)`),
        make: async (tmp) => {
            const venv = await runLogged("python3", ["-m", "venv", tmp], log);
            if (venv.code !== 0)
                throw new Error(
                    `python3 -m venv failed (exit ${venv.code}); install Python's venv module:\n${venv.tail}`,
                );
            const pip = await runLogged(
                path.join(tmp, "bin", "python"),
                ["-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-input", "-r", requirements],
                log,
            );
            if (pip.code !== 0)
                throw new Error(
                    `pip install -r ${requirements} failed (exit ${pip.code}); is PyPI reachable?\n${pip.tail}`,
                );
        },
    });
    return path.join(dir, "bin", "python");
}

/** Every file under `dir`, as sorted relative paths. */
export function treeFiles(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
        .filter((entry) => entry.isFile())
        .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
        .sort();
}

/**
 * A venv for Python programs of this provider: the PyPI `pulumi` that test/fixtures/python-project pins (the
 * engine's version) and this checkout's sdk/python. pip builds a local package inside its source tree, so it
 * installs from a copy in the cache named by the SDK's content: a regenerated SDK is a new copy and a new venv.
 */
export async function pulumiAlgorithmiaVenv(): Promise<string> {
    const sdk = path.join(repoRoot, "sdk/python");
    const built = /(^|\/)(build|__pycache__|[^/]*\.egg-info)(\/|$)/;
    const files = treeFiles(sdk).filter((file) => !built.test(file));
    const hash = crypto.createHash("sha256");
    for (const file of files)
        hash.update(`${file}\0`)
            .update(fs.readFileSync(path.join(sdk, file)))
            .update("\0");
    const copy = path.join(cacheRoot(), `sdk-python-${hash.digest("hex").slice(0, 12)}`);
    if (!fs.existsSync(copy)) {
        const tmp = `${copy}.tmp-${process.pid}`;
        for (const file of files) {
            fs.mkdirSync(path.dirname(path.join(tmp, file)), { recursive: true });
            fs.copyFileSync(path.join(sdk, file), path.join(tmp, file));
        }
        try {
            fs.renameSync(tmp, copy);
        } catch (err) {
            // Another suite made it first.
            fs.rmSync(tmp, { recursive: true, force: true });
            if (!fs.existsSync(copy)) throw err;
        }
    }
    const pin = /^pulumi==\S+/m.exec(
        fs.readFileSync(path.join(repoRoot, "test/fixtures/python-project/requirements.txt"), "utf8"),
    )![0];
    const requirements = `${copy}.requirements.txt`;
    fs.writeFileSync(requirements, `${pin}\n${copy}\n`);
    return pulumiPythonVenv(requirements);
}

/**
 * The variables that run Python programs with `python` (a venv's interpreter, from `pulumiPythonVenv`). The python
 * language host we build (v3.79.0) takes its options as flags, which CLI v3.248 no longer passes (it sends them
 * in each request), so a `virtualenv:` in Pulumi.yaml would be ignored; the host runs PULUMI_PYTHON_CMD instead
 * (else python3 from PATH).
 */
export function pythonProgramEnv(python: string): Record<string, string> {
    return { PULUMI_PYTHON_CMD: python };
}

/** One suite's engine sandbox: its own PULUMI_HOME and state directory, removed by `dispose`. */
export class PulumiSandbox {
    readonly root: string;
    readonly pulumiHome: string;
    readonly stateDir: string;
    readonly env: Record<string, string>;
    private readonly stacks: Stack[] = [];

    private constructor(
        readonly command: PulumiCommand,
        root: string,
        extraEnv: Record<string, string>,
    ) {
        this.root = root;
        this.pulumiHome = path.join(root, "home");
        this.stateDir = path.join(root, "state");
        fs.mkdirSync(this.pulumiHome);
        fs.mkdirSync(this.stateDir);
        this.env = { ...offlineEngineEnv(this.pulumiHome, this.stateDir), ...extraEnv };
    }

    /** `extraEnv` adds to (or overrides) the offline variables for every run, e.g. `pythonProgramEnv(...)`. */
    static async create(extraEnv: Record<string, string> = {}): Promise<PulumiSandbox> {
        const command = await PulumiCommand.get({ root: path.dirname(engineBinDir()) });
        return new PulumiSandbox(command, fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-algorithmia-test-")), extraEnv);
    }

    /** A stack running `program` in this process (Automation API inline program); `settings` add to its project's. */
    async inlineStack(
        projectName: string,
        stackName: string,
        program: PulumiFn,
        settings: Partial<ProjectSettings> = {},
    ): Promise<Stack> {
        const workDir = fs.mkdtempSync(path.join(this.root, "inline-"));
        const stack = await LocalWorkspace.createOrSelectStack(
            { projectName, stackName, program },
            {
                workDir,
                pulumiCommand: this.command,
                envVars: this.env,
                secretsProvider: "passphrase",
                projectSettings: {
                    name: projectName,
                    runtime: "nodejs",
                    backend: { url: this.env.PULUMI_BACKEND_URL },
                    ...settings,
                },
            },
        );
        this.stacks.push(stack);
        return stack;
    }

    /** A stack of the Pulumi project in `workDir`, run by `pulumi` and the project's language host. */
    async projectStack(workDir: string, stackName: string): Promise<Stack> {
        const stack = await LocalWorkspace.createOrSelectStack(
            { workDir, stackName },
            { pulumiCommand: this.command, envVars: this.env, secretsProvider: "passphrase" },
        );
        this.stacks.push(stack);
        return stack;
    }

    /** Runs the `pulumi` CLI itself, as a user would, in `cwd`. Throws with the output on failure. */
    cli(cwd: string, args: string[]): string {
        try {
            return execFileSync(path.join(engineBinDir(), "pulumi"), [...args, "--non-interactive"], {
                cwd,
                env: { ...process.env, ...this.env },
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
            });
        } catch (err: any) {
            throw new Error(`pulumi ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`, { cause: err });
        }
    }

    /** `cli` without blocking this process: what a suite whose server runs in this process must use. */
    cliAsync(cwd: string, args: string[]): Promise<string> {
        return new Promise((resolve, reject) =>
            execFile(
                path.join(engineBinDir(), "pulumi"),
                [...args, "--non-interactive"],
                { cwd, env: { ...process.env, ...this.env }, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
                (err, stdout, stderr) =>
                    err
                        ? reject(new Error(`pulumi ${args.join(" ")} failed:\n${stdout}${stderr}`, { cause: err }))
                        : resolve(stdout),
            ),
        );
    }

    /** Every file of the file backend (states, backups, history), concatenated as stored: secrets stay encrypted. */
    storedState(): string {
        const texts: string[] = [];
        const walk = (dir: string) => {
            for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
                const full = path.join(dir, entry.name);
                if (entry.isDirectory()) walk(full);
                else texts.push(fs.readFileSync(full, "utf8"));
            }
        };
        walk(this.stateDir);
        // A search of nothing would find no key: an empty backend is the caller's mistake.
        if (!texts.some((text) => text.includes('"checkpoint"')))
            throw new Error(`no stack state under ${this.stateDir}`);
        return texts.join("\n");
    }

    /** Destroys what the suite's stacks still hold, removes them, and deletes the sandbox. */
    async dispose(): Promise<void> {
        for (const stack of this.stacks.reverse()) {
            await stack.destroy().catch(() => undefined);
            await stack.workspace.removeStack(stack.name).catch(() => undefined);
        }
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}

/**
 * Inline programs run in this test process and reach each run's engine through grpc-js, whose subchannels are
 * shared process-wide by address. When a new engine listens on a port a finished engine used, the program's
 * client can inherit that address's subchannel still backing off and fail with "14 UNAVAILABLE: No connection
 * established". The SDK reads UNAVAILABLE as "the engine is shutting down" and stops registering without an
 * error, so such an `up` silently creates fewer resources. A local subchannel pool per channel (the SDK builds a
 * new monitor client per run) makes every run connect afresh. `pulumi up` in its own process never meets this.
 */
(runtime as unknown as { grpcClientOptions: Record<string, unknown> }).grpcClientOptions[
    "grpc.use_local_subchannel_pool"
] = 1;
