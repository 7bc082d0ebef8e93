// The build of a JavaScript algorithm, after the platform's JavaScript langpack: its runner reads the algorithm's
// name from algorithmia.conf, require()s src/<algoname>.js once, then hands every call to that module's
// apply(input, cb); its build runs `npm install` on the package.json. The build here checks the tree without
// running any of its code, then installs the dependencies into an environment of its own (node-env.ts):
//   - algorithmia.conf is required (the runner cannot start without it): a JSON object whose "algoname" names
//     the entry file (a name differing from the algorithm's is a warning; the runner goes by the file);
//   - package.json, when present, is a JSON object whose dependencies map names to version strings; "type":
//     "module" fails, since the runner loads its entry with require(); package-lock.json, when present, parses;
//   - every .js/.cjs file outside node_modules and hidden directories compiles as a CommonJS module (failures
//     give file:line and the SyntaxError);
//   - the entry src/<algoname>.js exists (package.json's "main" plays no part: the runner never reads it);
//   - npm installs the dependencies (a failure fails the build with npm's message); identical package files
//     share one environment, so a rebuild costs nothing;
//   - a literal require() of a package found neither in the tree nor in the environment is a warning.
// The log ends with "Build succeeded" or "Build failed: <reason>", as the Python build's does.
//
// API:
//     buildNode(treeDir, algoName): Promise<NodeBuildResult>     never throws for problems in the tree
//     nodeModulesOf(treeDir, files): the node_modules of a build's environment (made again if it was cleared)
import * as fs from "fs";
import { builtinModules } from "module";
import * as path from "path";
import * as vm from "vm";
import { ensureNodeEnvironment, NodeEnvironment, NodeEnvironmentError } from "./node-env";

export interface NodeBuildResult {
    ok: boolean;
    /** The build log, one step per line. */
    log: string;
    /** Why it failed (the first problem, with a count of the others); absent on success. */
    reason?: string;
    durationSeconds: number;
    /** Where a successful build runs: its environment, the package files it was made from, and the entry file. */
    environment?: { id: string; files: string[]; entry: string };
}

const SKIP_DIRS = new Set(["node_modules"]);
// .mjs files are left out: the runner loads modules with require(), which cannot load them.
const SOURCE = /\.c?js$/;

export async function buildNode(treeDir: string, algoName: string): Promise<NodeBuildResult> {
    const started = Date.now();
    const log = [`Beginning build of ${algoName} (JavaScript, Node ${process.versions.node})`];
    const problems: string[] = [];
    const fail = (reason: string) => {
        problems.push(reason);
        log.push(`ERROR: ${reason}`);
    };
    const done = (): NodeBuildResult => {
        const more = problems.length - 1;
        const count = more > 0 ? ` (and ${more} more problem${more > 1 ? "s" : ""})` : "";
        const reason = problems.length ? problems[0].split("\n")[0] + count : undefined;
        if (reason) log.push(`Build failed: ${reason}`);
        return { ok: !reason, log: log.join("\n") + "\n", reason, durationSeconds: (Date.now() - started) / 1000 };
    };

    const entry = checkConf(treeDir, algoName, log, fail);
    const files = checkPackage(treeDir, log, fail);
    const sources = walk(treeDir).filter((file) => SOURCE.test(file));
    for (const file of sources) {
        log.push(`Compiling ${file}`);
        const error = syntaxError(treeDir, file);
        if (error) fail(error);
    }
    if (entry) {
        log.push(`Checking entry point ${entry}`);
        if (!fs.existsSync(path.join(treeDir, entry))) {
            const found = sources.filter((file) => file.startsWith("src/"));
            fail(
                `entry point ${entry} not found (the runner loads src/<algoname of algorithmia.conf>.js; src/ has ` +
                    `${found.length ? found.join(", ") : "no JavaScript files"})`,
            );
        } else if (!/\bapply\b/.test(fs.readFileSync(path.join(treeDir, entry), "utf8"))) {
            log.push(`warning: ${entry} never mentions apply: the runner calls its exports.apply(input, cb)`);
        }
    }
    if (problems.length) return done();

    let environment: NodeEnvironment;
    try {
        environment = await ensureNodeEnvironment(treeDir, files, (line) => log.push(line));
    } catch (err) {
        if (!(err instanceof NodeEnvironmentError)) throw err;
        log.push(err.message.split("\n")[0]); // npm's output is in the log already, line by line
        fail(`installing the dependencies failed: ${npmError(err.message)}`);
        return done();
    }
    checkRequires(treeDir, sources, environment.nodeModules, log);
    log.push("Build succeeded");
    return { ...done(), environment: { id: environment.id, files, entry: entry! } };
}

/** The node_modules a successful build made, made again from the tree when it was cleared since. */
export async function nodeModulesOf(treeDir: string, files: string[]): Promise<string> {
    const lines: string[] = [];
    try {
        return (await ensureNodeEnvironment(treeDir, files, (line) => lines.push(line))).nodeModules;
    } catch (err) {
        const tail = lines.slice(-20).join("\n");
        throw new Error(
            `the algorithm's Node environment could not be made again: ${(err as Error).message}\n${tail}`,
            { cause: err },
        );
    }
}

/** algorithmia.conf, which names the entry file; answers that file (relative to the tree) when it can. */
function checkConf(
    treeDir: string,
    algoName: string,
    log: string[],
    fail: (reason: string) => void,
): string | undefined {
    log.push("Checking algorithmia.conf");
    const conf = readJson(treeDir, "algorithmia.conf", fail);
    if (conf === undefined) return undefined;
    const name = conf.algoname;
    if (typeof name !== "string" || !/^[^/\\]+$/.test(name) || name === "..") {
        fail(
            `algorithmia.conf must name the algorithm in "algoname" (the runner loads src/<algoname>.js), found ${JSON.stringify(name)}`,
        );
        return undefined;
    }
    if (name !== algoName)
        log.push(`warning: algorithmia.conf names the algorithm '${name}'; the runner loads src/${name}.js`);
    if (conf.language) log.push(`  language: ${conf.language}`);
    return `src/${name}.js`;
}

/** package.json (and its lock), when present; answers the files npm installs from. */
function checkPackage(treeDir: string, log: string[], fail: (reason: string) => void): string[] {
    if (!fs.existsSync(path.join(treeDir, "package.json"))) {
        log.push("No package.json (only the Algorithmia client is installed)");
        return [];
    }
    log.push("Checking package.json");
    const manifest = readJson(treeDir, "package.json", fail);
    if (manifest === undefined) return [];
    const dependencies = manifest.dependencies ?? {};
    if (
        typeof dependencies !== "object" ||
        Array.isArray(dependencies) ||
        Object.values(dependencies).some((v) => typeof v !== "string")
    ) {
        fail("package.json: dependencies must be an object mapping package names to version strings");
    } else {
        for (const [name, version] of Object.entries(dependencies)) log.push(`  dependency ${name}@${version}`);
        if (!Object.keys(dependencies).length) log.push("  (no dependencies)");
    }
    if (manifest.type === "module") {
        fail(
            'package.json: "type": "module" is not supported: the runner loads the entry point with require() (CommonJS)',
        );
    }
    if (!fs.existsSync(path.join(treeDir, "package-lock.json"))) return ["package.json"];
    log.push("Checking package-lock.json");
    return readJson(treeDir, "package-lock.json", fail) === undefined ? [] : ["package.json", "package-lock.json"];
}

/** A JSON object file of the tree, or undefined after failing the build with why. */
function readJson(treeDir: string, file: string, fail: (reason: string) => void): Record<string, any> | undefined {
    let value: unknown;
    try {
        value = JSON.parse(fs.readFileSync(path.join(treeDir, file), "utf8"));
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        fail(code === "ENOENT" ? `${file} not found` : `${file} is not valid JSON: ${(err as Error).message}`);
        return undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        fail(`${file} must be a JSON object, found ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`);
        return undefined;
    }
    return value as Record<string, any>;
}

/** The tree's files (relative, with "/"), outside node_modules and hidden directories, in a stable order. */
function walk(treeDir: string, dir = ""): string[] {
    const found: string[] = [];
    for (const entry of fs
        .readdirSync(path.join(treeDir, dir), { withFileTypes: true })
        .sort((a, b) => a.name.localeCompare(b.name))) {
        const file = dir ? `${dir}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
            if (!entry.name.startsWith(".") && !SKIP_DIRS.has(entry.name)) found.push(...walk(treeDir, file));
        } else if (entry.isFile()) found.push(file);
    }
    return found;
}

/**
 * A CommonJS syntax check of one file, compiled the way Node's require() compiles a module but never run:
 * "file:line: SyntaxError: ..." with the offending line, or undefined. (`node --check` would accept ES module
 * syntax in a .js file, which require() on the platform's Node rejects.)
 */
function syntaxError(treeDir: string, file: string): string | undefined {
    try {
        vm.compileFunction(
            fs.readFileSync(path.join(treeDir, file), "utf8"),
            ["exports", "require", "module", "__filename", "__dirname"],
            { filename: file },
        );
        return undefined;
    } catch (err) {
        // Its stack: "<file>:<line>\n<source line>\n<caret>\n\nSyntaxError: <message>\n    at ..."
        const lines = String((err as Error).stack ?? err).split("\n");
        const where = /:(\d+)$/.exec(lines[0])?.[1];
        const context = where
            ? lines
                  .slice(1, 3)
                  .filter((line) => line.trim())
                  .map((line) => `    ${line}`)
            : [];
        return [
            `${file}${where ? `:${where}` : ""}: ${(err as Error).name}: ${(err as Error).message}`,
            ...context,
        ].join("\n");
    }
}

/** npm's own reason: its first "npm error" line that says more than the error code, else the last line. */
function npmError(text: string): string {
    const lines = text
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
    return lines.find((line) => /^npm (error|ERR!) (?!code )/.test(line)) ?? lines[lines.length - 1] ?? "npm failed";
}

/** Warnings for literal require("pkg") calls that nothing installed answers: the call would fail at run time. */
function checkRequires(treeDir: string, sources: string[], nodeModules: string, log: string[]): void {
    const builtin = new Set(builtinModules);
    for (const file of sources) {
        const text = fs.readFileSync(path.join(treeDir, file), "utf8");
        for (const match of text.matchAll(/\brequire\s*\(\s*(['"])([^'"]+)\1\s*\)/g)) {
            const request = match[2];
            if (
                request.startsWith(".") ||
                request.startsWith("/") ||
                request.startsWith("node:") ||
                builtin.has(request)
            )
                continue;
            const name = request
                .split("/")
                .slice(0, request.startsWith("@") ? 2 : 1)
                .join("/");
            const installed = [nodeModules, path.join(treeDir, "node_modules")].some((dir) =>
                fs.existsSync(path.join(dir, name)),
            );
            if (installed || builtin.has(name)) continue;
            const line = text.slice(0, match.index).split("\n").length;
            log.push(
                `warning: ${file}:${line} requires ${name}, which is neither in the repository nor in the algorithm's ` +
                    "dependencies; the algorithm will fail when that runs",
            );
        }
    }
}
