// The repository content of an Algorithm: the `source` directory's whole tree, with `dependencies` merged into
// requirements.txt and `modelFiles` written as our model-manifest.json and, when every model's md5 is known, as
// Algorithmia's ADK model manifest, frozen (model_manifest.json and model_manifest.json.freeze), so a new
// dependency or a new model is a new tree, hence a new commit and a new build. `sourceSha256` is the hash of that
// final tree (git.ts treeSha256).
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { GitMode, TreeEntry, treeSha256 } from "../client/git";

/** A model bound into the tree; users pass a ModelFile's outputs. */
export interface ModelBinding {
    /** A ModelFile's `dataUri`. */
    dataUri: string;
    /** A ModelFile's `sha256`. */
    sha256: string;
    /** The content's md5 (hex), which the ADK checks when it loads the model; without it the manifest is not frozen. */
    md5?: string;
}

const REQUIREMENTS_FILE = "requirements.txt";
const MODEL_MANIFEST_FILE = "model-manifest.json";
export const ADK_MANIFEST_FILE = "model_manifest.json";
export const ADK_FREEZE_FILE = ADK_MANIFEST_FILE + ".freeze";
/**
 * The freeze's `timestamp`, as `algo freeze` writes it (Python's `str(time())`). Not the time of the run: the same
 * inputs must give the same tree, and so the same commit on every cluster; it is the fixed date of every commit
 * this provider makes (client/git.ts). The ADK never reads it.
 */
export const FREEZE_TIMESTAMP = "946684800.0";

export interface SourceSpec {
    /** The directory (a relative one is the process's working directory's). */
    source: string;
    dependencies?: string[];
    modelFiles?: Record<string, ModelBinding>;
}

/** The final tree. Throws an Error saying what is wrong with the directory. */
export function sourceTree(spec: SourceSpec): TreeEntry[] {
    // Absolute, since git runs elsewhere; a relative directory is the provider's working directory's, which for the
    // plugin is the program's (the engine starts it there).
    const entries = readDirectory(path.resolve(spec.source));
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
        const adk = adkManifestFiles(spec.modelFiles);
        // The ADK's files only with every md5, frozen: bindings without them (as before the ADK files) keep the tree,
        // and so the commit, they always had, and a source's own ADK files stay as they are.
        const generated: [string, string][] = [[MODEL_MANIFEST_FILE, modelManifest(spec.modelFiles)]];
        if (adk.freeze) generated.push([ADK_MANIFEST_FILE, adk.manifest], [ADK_FREEZE_FILE, adk.freeze]);
        for (const [file, content] of generated) {
            byPath.set(file, { path: file, mode: "100644", content: Buffer.from(content) });
        }
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

/** A JSON value as Python's `json.load` gives it; the manifests hold no numbers and no nulls. */
type PyJson = string | boolean | PyJson[] | { [key: string]: PyJson };

/**
 * The ADK's model manifest and its freeze, byte for byte what Algorithmia's `algo freeze` (client.freeze) writes
 * from that manifest with the same md5s at `timestamp`. Every model is a required file named by its key, with
 * `fail_on_tamper` so the ADK refuses bytes whose md5 is not the frozen one. Without every md5 there is no freeze
 * (it needs them) and `fail_on_tamper` is off: an unfrozen manifest has no md5 to compare, and the ADK fails on it.
 */
export function adkManifestFiles(
    models: Record<string, ModelBinding>,
    timestamp = FREEZE_TIMESTAMP,
): { manifest: string; freeze?: string } {
    const names = Object.keys(models).sort();
    const frozen = names.every((name) => models[name].md5);
    const requiredFiles = names.map((name) => ({
        name,
        source_uri: models[name].dataUri,
        fail_on_tamper: frozen,
        metadata: { sha256: models[name].sha256 },
    }));
    const manifest = JSON.stringify({ required_files: requiredFiles, optional_files: [] }, null, 4) + "\n";
    if (!frozen) return { manifest };
    // As client.freeze does to the loaded manifest: each required file gains its md5, then the manifest a
    // timestamp, then a lock (the md5 of Python's str() of the whole) that the ADK recomputes on load.
    const locked: Record<string, PyJson> = {
        required_files: requiredFiles.map((file) => ({ ...file, md5_checksum: models[file.name].md5! })),
        optional_files: [],
        timestamp,
    };
    const lockChecksum = crypto.createHash("md5").update(pythonStr(locked), "utf8").digest("hex");
    return { manifest, freeze: pythonJsonDump({ ...locked, lock_checksum: lockChecksum }) };
}

/** Python's `json.dump(value)`: `", "` and `": "` separators, no indent, every non-ASCII character escaped. */
function pythonJsonDump(value: PyJson): string {
    const json = (v: PyJson): string => {
        if (typeof v !== "object") return JSON.stringify(v);
        if (Array.isArray(v)) return "[" + v.map(json).join(", ") + "]";
        return (
            "{" +
            Object.entries(v)
                .map(([k, item]) => `${JSON.stringify(k)}: ${json(item)}`)
                .join(", ") +
            "}"
        );
    };
    // JSON.stringify already escapes quotes, backslashes and control characters as Python does.
    return json(value).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** Python 3's `str(value)` (its repr) of what `json.load` returns, whose md5 is the freeze's lock. */
function pythonStr(value: PyJson): string {
    if (typeof value === "boolean") return value ? "True" : "False";
    if (typeof value === "string") return pythonStringRepr(value);
    if (Array.isArray(value)) return "[" + value.map(pythonStr).join(", ") + "]";
    return (
        "{" +
        Object.entries(value)
            .map(([k, v]) => `${pythonStringRepr(k)}: ${pythonStr(v)}`)
            .join(", ") +
        "}"
    );
}

/** Python's non-printable characters (str.isprintable): these its repr escapes. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr of a str: single quotes unless only double quotes avoid escaping, escapes as CPython writes them. */
function pythonStringRepr(text: string): string {
    const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
    const named: Record<string, string> = {
        "\t": "\\t",
        "\n": "\\n",
        "\r": "\\r",
        "\\": "\\\\",
        [quote]: "\\" + quote,
    };
    let out = "";
    for (const c of text) {
        const code = c.codePointAt(0)!;
        if (named[c]) out += named[c];
        else if (c === " " || !UNPRINTABLE.test(c)) out += c;
        else if (code < 0x100) out += "\\x" + code.toString(16).padStart(2, "0");
        else if (code < 0x10000) out += "\\u" + code.toString(16).padStart(4, "0");
        else out += "\\U" + code.toString(16).padStart(8, "0");
    }
    return quote + out + quote;
}
