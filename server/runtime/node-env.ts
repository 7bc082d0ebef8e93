// The environments of JavaScript algorithms, cached per machine (env-cache.ts) under
//
//     <cache root>/node-envs/<hash>/               copies of the algorithm's package.json (and package-lock.json),
//         node_modules/                            what npm installed from them, beside the Algorithmia npm client
//
// shared by every build whose files are the same, byte for byte. <hash> also covers Node's module ABI and the
// platform, so packages with native addons always match the Node that runs the workers (the server's own).
// The client is the `algorithmia` package the server itself ships with (pinned in its package.json, no
// dependencies of its own), copied in unless the algorithm's package.json names its own version, so the
// template builds without reaching a registry, as the platform's images come with it.
//
// API:
//     ensureNodeEnvironment(treeDir, files, log): Promise<NodeEnvironment>   created on first use
//
// Fails with a NodeEnvironmentError carrying npm's own output when npm cannot install the dependencies.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { cacheRoot, ensureEnvironment, EnvironmentError, runLogged } from "./env-cache";

export class NodeEnvironmentError extends EnvironmentError {}

export interface NodeEnvironment {
    /** The <hash> naming it. */
    id: string;
    dir: string;
    /** Where workers resolve the algorithm's packages (NODE_PATH). */
    nodeModules: string;
    /** Made by this call (false: it was there already). */
    created: boolean;
}

/** The flags of every install: runtime dependencies only, and nothing that reaches out beyond the install itself. */
const NPM_INSTALL = ["install", "--omit=dev", "--no-audit", "--no-fund", "--no-update-notifier"];

/**
 * The environment an algorithm runs in: `files` (package.json and package-lock.json, those the tree has, relative
 * to `treeDir`) installed by npm, with the Algorithmia client. Made once per set of identical files; npm's
 * output goes to `log`.
 */
export async function ensureNodeEnvironment(
    treeDir: string,
    files: string[],
    log: (line: string) => void,
): Promise<NodeEnvironment> {
    const contents = files.map((file) => ({ file, text: fs.readFileSync(path.join(treeDir, file), "utf8") }));
    const client = bundledClient();
    const hash = crypto
        .createHash("sha256")
        .update(
            `node abi ${process.versions.modules}\0${process.platform}-${process.arch}\0algorithmia ${client.version}\0`,
        );
    for (const { file, text } of contents) hash.update(`${file}\0${text}\0`);
    const id = hash.digest("hex").slice(0, 16);
    const dir = path.join(cacheRoot(), "node-envs", id);
    const manifest = contents.find((c) => c.file === "package.json");
    const named = manifest !== undefined && "algorithmia" in (JSON.parse(manifest.text).dependencies ?? {});
    let created = false;
    await ensureEnvironment(dir, {
        kind: "Node environment",
        contains: "node_modules",
        describe: { node: process.version, files, client: named ? undefined : client.version },
        log,
        announce: () => {
            created = true;
            log(`Installing the dependencies into a new environment of this algorithm (${id})`);
        },
        make: async (tmp) => {
            fs.mkdirSync(path.join(tmp, "node_modules"), { recursive: true });
            for (const { file, text } of contents) fs.writeFileSync(path.join(tmp, file), text);
            if (manifest) await npmInstall(tmp, log);
            if (!named) fs.cpSync(client.dir, path.join(tmp, "node_modules", "algorithmia"), { recursive: true });
        },
    });
    if (!created) log(`Using the environment ${id}: the same dependencies were installed before`);
    return { id, dir, nodeModules: path.join(dir, "node_modules"), created };
}

async function npmInstall(dir: string, log: (line: string) => void): Promise<void> {
    const bin = path.dirname(process.execPath);
    const beside = path.join(bin, "npm");
    // The npm of the Node that runs the server (it runs the workers too), else whichever is on PATH; with that
    // Node first on PATH for npm's own scripts and those of the packages it installs.
    const env = { ...process.env, PATH: [bin, process.env.PATH].filter(Boolean).join(path.delimiter) };
    log(`  npm ${NPM_INSTALL.join(" ")}`);
    const npm = await runLogged(fs.existsSync(beside) ? beside : "npm", NPM_INSTALL, log, { cwd: dir, env });
    if (npm.code !== 0)
        throw new NodeEnvironmentError(`npm could not install the dependencies (exit ${npm.code}):\n${npm.tail}`);
}

/** The `algorithmia` npm package installed with the server. */
function bundledClient(): { dir: string; version: string } {
    const manifest = require.resolve("algorithmia/package.json");
    return { dir: path.dirname(manifest), version: JSON.parse(fs.readFileSync(manifest, "utf8")).version };
}
