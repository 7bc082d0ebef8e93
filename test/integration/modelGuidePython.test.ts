// The model guide as a Python program (examples/model-guide-python): the real `pulumi` CLI runs it with the python
// language host, the PyPI `pulumi` SDK and this checkout's pulumi_algorithmia (sdk/python) in a venv, and the
// engine starts the provider plugin its Pulumi.yaml names. Against algorithmia-local: the same six resources and
// the same answer as the TypeScript guide, a second `up` that changes nothing, drift found by refresh and undone by
// up, `pulumi import` of an algorithm made elsewhere, and destroy.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ensurePythonRuntime } from "../../server/runtime/python-env";
import { deployFixture } from "../helpers/git";
import { assertGuideDeployed, GuideProgram, guideProgram } from "../helpers/guideProgram";
import { pulumiAlgorithmiaVenv, pythonProgramEnv } from "../helpers/pulumi";
import { ALICE, call } from "../helpers/server";
import { testBed } from "../helpers/testBed";

describe("model-guide stack in Python (provider plugin + pulumi_algorithmia)", function () {
    this.timeout(900_000);
    const bed = testBed({ sandboxEnv: async () => pythonProgramEnv(await pulumiAlgorithmiaVenv()) });
    let program: GuideProgram;
    let outputs: Record<string, any>;
    const pulumi = (...args: string[]) => program.pulumi(...args);
    const readAcl = async () =>
        (await call(bed.server, "GET", "/v1/connector/data/alice/digits?acl=true", { key: ALICE.key })).json.acl.read;

    before(async () => {
        await ensurePythonRuntime();
        program = await guideProgram(bed, "model-guide-python");
    });

    it("deploys the guide and answers as the TypeScript guide does", async () => {
        const up = await pulumi("up", "--yes", "--skip-preview");
        assert.match(up, /6 created/, up); // the stack and five (the default provider is not counted)
        outputs = await program.outputs();
        await assertGuideDeployed(bed, outputs);
        assert.deepStrictEqual(await readAcl(), ["algo://.my/*"], "myAlgorithms: only the owner's algorithms read it");
    });

    it("changes nothing on a second up and previews no changes", async () => {
        const again = await pulumi("up", "--yes", "--skip-preview");
        assert.match(again, /6 unchanged/, again);
        await pulumi("preview", "--expect-no-changes");
        assert.deepStrictEqual(await program.outputs(), outputs);
    });

    it("refresh finds drift made outside the program, and up undoes it", async () => {
        await pulumi("refresh", "--yes", "--skip-preview");
        await pulumi("preview", "--expect-no-changes");

        // Someone opens the model's collection to everyone, through the API.
        const opened = await call(bed.server, "PATCH", "/v1/connector/data/alice/digits", {
            key: ALICE.key,
            json: { acl: { read: ["user://*"] } },
        });
        assert.strictEqual(opened.status, 200, opened.text);
        const refreshed = await pulumi("refresh", "--yes", "--skip-preview");
        assert.match(refreshed, /1 updated/, refreshed);
        const preview = await pulumi("preview", "--diff");
        assert.match(preview, /readAcl\s*:\s*"public"\s*=>\s*"myAlgorithms"/, preview);
        await pulumi("up", "--yes", "--skip-preview");
        assert.deepStrictEqual(await readAcl(), ["algo://.my/*"]);
        await pulumi("preview", "--expect-no-changes");
    });

    it("imports an algorithm made elsewhere", async () => {
        await deployFixture(bed.server, ALICE.key, "alice", "Hello");
        const imported = await pulumi(
            "import",
            "algorithmia:index:Algorithm",
            "hello",
            "alice/Hello",
            "--yes",
            "--protect=false",
            // The python host v3.79.0 has no GenerateProgram (current hosts write the program's code).
            "--generate-code=false",
        );
        assert.match(imported, /1 imported/, imported);
        const state = JSON.parse(await pulumi("stack", "export"));
        const hello = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith("::hello"));
        assert.strictEqual(hello?.type, "algorithmia:index:Algorithm");
        assert.strictEqual(hello.outputs.algoPath, "alice/Hello");
    });

    it("destroys: the data and the imported algorithm go, the public algorithm stays", async () => {
        const down = await pulumi("destroy", "--yes", "--skip-preview");
        assert.match(down, /7 deleted/, down);
        assert.strictEqual(
            (await call(bed.server, "GET", "/v1/connector/data/alice/digits", { key: ALICE.key })).status,
            404,
        );
        assert.strictEqual(await bed.client.getAlgorithm("alice", "Hello"), undefined);
        const algo = await call(bed.server, "DELETE", "/v1/algorithms/alice/DigitClassifier", { key: ALICE.key });
        assert.match(algo.text, /has a public published version and cannot be deleted/);
        assert.ok(
            !fs.existsSync(path.join(program.dir, "venv")),
            "the program ran in the test's venv, not one of its own",
        );
    });
});
