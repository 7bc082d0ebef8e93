// Long steps report how they go in the `pulumi up` output, through the real engine: an upload its bytes, share and
// rate, a build wait its status and elapsed time, then how each ended. The server is made slow on purpose (fault
// rules: a PUT that waits before reading, a build that takes longer) and the report interval short
// (PULUMI_ALGORITHMIA_PROGRESS_SECONDS); a step that ends quickly says nothing (the throttling is unit-tested).
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Algorithm, DataCollection, ModelFile } from "../../provider";
import { configureKey, SETTINGS, sourceDirectory } from "../helpers/algorithmTestBed";
import { testBed } from "../helpers/testBed";

describe("progress of uploads and builds in the up output (engine + algorithmia-local)", function () {
    this.timeout(300_000);
    const bed = testBed();

    it("reports an upload's bytes and rate and a build's status and time while they run", async () => {
        const model = path.join(bed.root, "model.bin");
        fs.writeFileSync(model, crypto.randomBytes(24 * 1024 * 1024));
        const source = sourceDirectory(bed.root, "Hello", "SlowHello");
        const faults = await fetch(`${bed.server.url}/_local/faults`, {
            method: "PUT",
            headers: { "content-type": "text/plain" },
            body: "PUT /v1/connector/data/*=latency:3s; BUILD alice/SlowHello=latency:4s",
        });
        assert.ok(faults.ok, await faults.text());

        const stack = await bed.sandbox.inlineStack("progress", "dev", async () => {
            const collection = new DataCollection("models", { name: "progress_models" });
            const file = new ModelFile("model", { collection: collection.dataUri, name: "model.bin", source: model });
            new Algorithm("hello", {
                name: "SlowHello",
                details: { label: "Slow hello" },
                settings: { ...SETTINGS },
                source,
            });
            return { dataUri: file.dataUri };
        });
        await configureKey(stack);
        await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        const env = (stack.workspace as unknown as { envVars: Record<string, string> }).envVars;
        env.PULUMI_ALGORITHMIA_PROGRESS_SECONDS = "1";
        let output = "";
        try {
            const up = await stack.up({ onOutput: (text) => (output += text) });
            const uri = up.outputs.dataUri.value as string;
            const escaped = uri.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
            assert.match(
                output,
                new RegExp(`uploading ${escaped}: [\\d.]+ MiB of 24.0 MiB \\(\\d+%\\), [\\d.]+ \\w+/s`),
            );
            assert.match(output, new RegExp(`uploaded ${escaped}: 24.0 MiB in \\d+s \\([\\d.]+ \\w+/s\\)`));
            assert.match(output, /building alice\/SlowHello at [0-9a-f]{12} \(build [^)]+\): in-progress, \d+s/);
            assert.match(output, /build of alice\/SlowHello at [0-9a-f]{12} \(build [^)]+\) succeeded after \d+s/);
            // Throttled: a few lines per step, not one per chunk or poll.
            assert.ok((output.match(/uploading /g) ?? []).length <= 4, output);
            assert.ok((output.match(/building alice/g) ?? []).length <= 4, output);
        } finally {
            delete env.PULUMI_ALGORITHMIA_PROGRESS_SECONDS;
        }
        await stack.destroy();
    });
});
