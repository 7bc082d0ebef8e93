// Conformance with the official Algorithmia Python client: pytest files under python/ drive algorithmia-local with
// the client from PyPI (pinned in python/requirements.txt), installed once into a cached venv. If pip cannot
// install it (offline, no python3), the suite skips and says why; any other failure fails with pytest's output.
import * as assert from "assert";
import { execFile, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ADMIN, ALICE, BOB, startTestServer, TestServer } from "../helpers/server";

const PYTHON_DIR = path.join(__dirname, "python");
const REQUIREMENTS = path.join(PYTHON_DIR, "requirements.txt");

/** The cached venv for these requirements; a `.complete` marker means a finished install. */
function venvDir(): string {
    const requirements = fs.readFileSync(REQUIREMENTS, "utf8");
    const version = /^algorithmia==(\S+)/m.exec(requirements)?.[1] ?? "unpinned";
    const digest = crypto.createHash("sha256").update(requirements).digest("hex").slice(0, 8);
    return path.join(os.homedir(), ".cache", "pulumi-algorithmia", `python-venv-${version}-${digest}`);
}

/** Creates the venv if needed; returns its python, or the reason it could not be made. */
function ensureVenv(): { python?: string; why?: string } {
    const dir = venvDir();
    const python = path.join(dir, "bin", "python");
    if (fs.existsSync(path.join(dir, ".complete"))) return { python };
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const venv = spawnSync("python3", ["-m", "venv", dir], { encoding: "utf8" });
    if (venv.error || venv.status !== 0)
        return { why: `python3 -m venv failed: ${venv.error?.message ?? venv.stderr}` };
    const pip = spawnSync(python, ["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", REQUIREMENTS], {
        encoding: "utf8",
        timeout: 600_000,
    });
    if (pip.error || pip.status !== 0) {
        fs.rmSync(dir, { recursive: true, force: true });
        return { why: `pip install -r ${REQUIREMENTS} failed: ${pip.error?.message ?? ""}${pip.stderr.slice(-2000)}` };
    }
    fs.writeFileSync(path.join(dir, ".complete"), new Date().toISOString() + "\n");
    return { python };
}

function runPython(python: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
    return new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve) =>
        execFile(python, args, { ...options, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number | string }).code ?? String(err)) : 0, stdout, stderr }),
        ),
    );
}

describe("conformance: official Python client (algorithmia on PyPI)", function () {
    let server: TestServer;
    let python: string;

    before(async () => {
        const venv = ensureVenv();
        // A suite that skips proves nothing: without the client it fails, saying why.
        if (!venv.python) throw new Error(`the official Python client could not be installed: ${venv.why}`);
        python = venv.python;
        server = await startTestServer({ users: [ALICE, BOB, ADMIN] });
    });
    after(async () => server?.dispose());

    for (const file of fs
        .readdirSync(PYTHON_DIR)
        .filter((f) => /^test_.*\.py$/.test(f))
        .sort()) {
        // Asynchronously: the server runs in this process and must keep answering while pytest runs.
        it(`passes ${file}`, async () => {
            const run = await runPython(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", file], {
                cwd: PYTHON_DIR,
                env: {
                    ...process.env,
                    ALGORITHMIA_API: server.url,
                    ALGORITHMIA_API_KEY: ALICE.key,
                    ALGORITHMIA_USER: ALICE.name,
                    ALGORITHMIA_OTHER_API_KEY: BOB.key,
                    ALGORITHMIA_ADMIN_API_KEY: ADMIN.key,
                    ALGORITHMIA_ORG: "team",
                },
            });
            if (run.code !== 0) assert.fail(`pytest ${file} failed (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
        });
    }
});
