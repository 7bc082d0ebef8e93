// The model guide as a YAML program (examples/model-guide-yaml): the real `pulumi` CLI runs it with the yaml
// language host the engine kit builds, and the engine starts the provider plugin its Pulumi.yaml names. Against
// algorithmia-local: the same resources, values and answer as the TypeScript guide (the program spells out what
// examples/model-guide/guide.json holds: the server shows they agree), a second `up` that changes nothing, and
// destroy.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { settingsToWire } from "../../provider/resources/algorithm";
import { ensurePythonRuntime } from "../../server/runtime/python-env";
import { assertGuideDeployed, GuideProgram, guideProgram } from "../helpers/guideProgram";
import { repoRoot } from "../helpers/pulumi";
import { ALICE, call } from "../helpers/server";
import { testBed } from "../helpers/testBed";

const GUIDE = JSON.parse(fs.readFileSync(path.join(repoRoot, "examples/model-guide/guide.json"), "utf8"));

describe("model-guide stack in YAML (provider plugin)", function () {
    this.timeout(900_000);
    const bed = testBed();
    let program: GuideProgram;

    before(async () => {
        await ensurePythonRuntime();
        program = await guideProgram(bed, "model-guide-yaml");
    });

    it("deploys the guide with guide.json's values and answers as the TypeScript guide does", async () => {
        const up = await program.pulumi("up", "--yes", "--skip-preview");
        assert.match(up, /6 created/, up);
        const outputs = await program.outputs();
        await assertGuideDeployed(bed, outputs);

        const algorithm = await bed.client.getAlgorithm("alice", "DigitClassifier");
        assert.deepStrictEqual(algorithm!.details, GUIDE.details);
        const settings = settingsToWire(GUIDE.settings);
        assert.deepStrictEqual({ ...algorithm!.settings, ...settings }, algorithm!.settings, "guide.json's settings");
        const version = (
            await call(bed.server, "GET", `/v1/algorithms/alice/DigitClassifier/versions/${outputs.gitHash}`, {
                key: ALICE.key,
            })
        ).json;
        assert.strictEqual(version.version_info.release_notes, GUIDE.releaseNotes);
    });

    it("changes nothing on a second up and previews no changes", async () => {
        assert.match(await program.pulumi("up", "--yes", "--skip-preview"), /6 unchanged/);
        await program.pulumi("preview", "--expect-no-changes");
    });

    it("destroys: the data goes, the public algorithm stays", async () => {
        assert.match(await program.pulumi("destroy", "--yes", "--skip-preview"), /6 deleted/);
        const collection = await call(bed.server, "GET", "/v1/connector/data/alice/digits", { key: ALICE.key });
        assert.strictEqual(collection.status, 404);
        assert.ok(await bed.client.getAlgorithm("alice", "DigitClassifier"), "the public algorithm stays");
    });
});
