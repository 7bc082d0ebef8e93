// The ADK model manifest an Algorithm commits (algorithmSource.ts): its layout, the freeze and when there is none.
// test/conformance/adk-manifest.test.ts checks the same files against Algorithmia's own `algo freeze` and ADK.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    ADK_FREEZE_FILE,
    ADK_MANIFEST_FILE,
    adkManifestFiles,
    sourceTree,
} from "../../provider/resources/algorithmSource";

const MODEL = { dataUri: "data://alice/m/d.joblib", sha256: "ab".repeat(32), md5: "cd".repeat(16) };

describe("ADK model manifest", () => {
    it("names every model as a required file, sorted by key, with fail_on_tamper and its sha256", () => {
        const { manifest } = adkManifestFiles({ z: MODEL, a: { ...MODEL, dataUri: "data://alice/m/a.bin" } });
        assert.deepStrictEqual(JSON.parse(manifest), {
            required_files: [
                {
                    name: "a",
                    source_uri: "data://alice/m/a.bin",
                    fail_on_tamper: true,
                    metadata: { sha256: MODEL.sha256 },
                },
                { name: "z", source_uri: MODEL.dataUri, fail_on_tamper: true, metadata: { sha256: MODEL.sha256 } },
            ],
            optional_files: [],
        });
    });

    it("freezes as `algo freeze` does: md5 per file, a fixed timestamp, the lock over Python's str()", () => {
        // The lock was computed by Python: hashlib.md5(str(json.loads(freeze) less lock_checksum).encode()).
        assert.strictEqual(
            adkManifestFiles({ model: MODEL }).freeze,
            '{"required_files": [{"name": "model", "source_uri": "data://alice/m/d.joblib", "fail_on_tamper": true, ' +
                `"metadata": {"sha256": "${MODEL.sha256}"}, "md5_checksum": "${MODEL.md5}"}], "optional_files": [], ` +
                '"timestamp": "946684800.0", "lock_checksum": "14758aaad65489c46a0e5ea4fc07074d"}',
        );
    });

    it("without every md5 writes no freeze and turns fail_on_tamper off (the ADK has nothing to compare)", () => {
        const files = adkManifestFiles({ model: MODEL, other: { ...MODEL, md5: undefined } });
        assert.strictEqual(files.freeze, undefined);
        assert.ok(JSON.parse(files.manifest).required_files.every((f: any) => f.fail_on_tamper === false));
    });

    it("replaces the source's own manifest files when it freezes, and leaves them (and the tree) as they were without md5s", () => {
        const source = fs.mkdtempSync(path.join(os.tmpdir(), "adk-source-"));
        try {
            fs.writeFileSync(path.join(source, ADK_MANIFEST_FILE), "{}");
            fs.writeFileSync(path.join(source, ADK_FREEZE_FILE), "{}");
            const files = (modelFiles: Record<string, typeof MODEL>) =>
                Object.fromEntries(sourceTree({ source, modelFiles }).map((e) => [e.path, e.content?.toString()]));
            const frozen = files({ model: MODEL });
            assert.strictEqual(frozen[ADK_MANIFEST_FILE], adkManifestFiles({ model: MODEL }).manifest);
            assert.strictEqual(frozen[ADK_FREEZE_FILE], adkManifestFiles({ model: MODEL }).freeze);
            assert.ok("model-manifest.json" in frozen, "the older manifest stays for algorithms that read it");
            const unfrozen = files({ model: { ...MODEL, md5: undefined as any } });
            // The source's own files (read from disk when pushed), not generated ones.
            assert.ok(ADK_MANIFEST_FILE in unfrozen && unfrozen[ADK_MANIFEST_FILE] === undefined);
            assert.ok(ADK_FREEZE_FILE in unfrozen && unfrozen[ADK_FREEZE_FILE] === undefined);
            fs.rmSync(path.join(source, ADK_MANIFEST_FILE));
            fs.rmSync(path.join(source, ADK_FREEZE_FILE));
            fs.writeFileSync(path.join(source, "main.py"), "");
            assert.deepStrictEqual(
                Object.keys(files({ model: { ...MODEL, md5: undefined as any } })).sort(),
                ["main.py", "model-manifest.json"],
                "bindings without md5 give the tree of releases before the ADK files",
            );
        } finally {
            fs.rmSync(source, { recursive: true, force: true });
        }
    });
});
