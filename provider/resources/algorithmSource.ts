// The repository content of an Algorithm: the `source` directory's whole tree, with `dependencies` merged into
// requirements.txt and `modelFiles` written as model-manifest.json, so a new dependency or a new model is a new
// tree, hence a new commit and a new build. `sourceSha256` is the hash of that final tree (git.ts treeSha256).
import * as fs from "fs";
import * as path from "path";
import { GitMode, TreeEntry, treeSha256 } from "../client/git";

/** A model bound into the tree; users pass a ModelFile's outputs. */
export interface ModelBinding {
    dataUri: string;
    sha256: string;
}

const REQUIREMENTS_FILE = "requirements.txt";
const MODEL_MANIFEST_FILE = "model-manifest.json";

export interface SourceSpec {
    /** An absolute directory. */
    source: string;
    dependencies?: string[];
    modelFiles?: Record<string, ModelBinding>;
}

/** The final tree. Throws an Error saying what is wrong with the directory. */
export function sourceTree(spec: SourceSpec): TreeEntry[] {
    const entries = readDirectory(spec.source);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    if (spec.dependencies?.length) {
        const existing = byPath.get(REQUIREMENTS_FILE);
        const current = existing ? fs.readFileSync(existing.file!, "utf8") : "";
        byPath.set(REQUIREMENTS_FILE, {
            path: REQUIREMENTS_FILE,
            mode: "100644",
            content: Buffer.from(mergeRequirements(current, spec.dependencies)),
        });
    }
    if (spec.modelFiles && Object.keys(spec.modelFiles).length) {
        byPath.set(MODEL_MANIFEST_FILE, {
            path: MODEL_MANIFEST_FILE,
            mode: "100644",
            content: Buffer.from(modelManifest(spec.modelFiles)),
        });
    }
    return [...byPath.values()];
}

export async function sourceSha256(spec: SourceSpec): Promise<string> {
    return treeSha256(sourceTree(spec));
}

/** Every file under `root` (symbolic links as links), except git's own `.git` directories. */
function readDirectory(root: string): TreeEntry[] {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(root);
    } catch {
        throw new Error(`directory ${root} does not exist`);
    }
    if (!stat.isDirectory()) throw new Error(`${root} is not a directory`);
    const entries: TreeEntry[] = [];
    const walk = (dir: string, prefix: string) => {
        for (const dirent of fs.readdirSync(dir, { withFileTypes: true })) {
            const file = path.join(dir, dirent.name);
            const rel = prefix + dirent.name;
            if (dirent.isDirectory()) {
                if (dirent.name !== ".git") walk(file, rel + "/");
            } else if (dirent.isSymbolicLink()) {
                entries.push({ path: rel, mode: "120000", file });
            } else if (dirent.isFile()) {
                const mode: GitMode = fs.statSync(file).mode & 0o111 ? "100755" : "100644";
                entries.push({ path: rel, mode, file });
            }
        }
    };
    walk(root, "");
    if (entries.length === 0) throw new Error(`directory ${root} holds no files`);
    return entries;
}

/** A requirement's project name, normalised as pip compares them (PEP 503); undefined for options and comments. */
function projectName(line: string): string | undefined {
    const match = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line.replace(/#.*/, ""));
    return match ? match[1].toLowerCase().replace(/[-_.]+/g, "-") : undefined;
}

/**
 * requirements.txt with `dependencies` merged in: a dependency replaces the source's line for the same project
 * (in place); the others are appended in the given order.
 */
export function mergeRequirements(current: string, dependencies: string[]): string {
    const pending = new Map(dependencies.map((d) => [projectName(d) ?? d.trim(), d.trim()]));
    const lines = current.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const merged = lines.map((line) => {
        const name = projectName(line);
        if (name === undefined || !pending.has(name)) return line;
        const replacement = pending.get(name)!;
        pending.delete(name);
        return replacement;
    });
    return [...merged, ...pending.values()].join("\n") + "\n";
}

/** `{"<key>": {"dataUri": …, "sha256": …}}` with sorted keys and fixed formatting, so equal maps give equal bytes. */
export function modelManifest(models: Record<string, ModelBinding>): string {
    const sorted = Object.fromEntries(
        Object.keys(models)
            .sort()
            .map((key) => [key, { dataUri: models[key].dataUri, sha256: models[key].sha256 }]),
    );
    return JSON.stringify(sorted, null, 2) + "\n";
}
