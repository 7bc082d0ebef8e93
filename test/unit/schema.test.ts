// schema.json, the provider plugin's package schema, is what `npm run schema` generates from the code, and says
// what the code does: every resource type the plugin serves, its required inputs, secrets and object types.
import * as assert from "assert";
import * as fs from "fs";
import { PACKAGE } from "../../provider/plugin";
import { providers } from "../../provider/resources/providers";
import { pulumiSchema, renderSchema, SCHEMA_FILE } from "../../tools/schema";

describe("schema.json", function () {
    this.timeout(60_000);
    const schema = pulumiSchema() as any;

    it("is what the code generates (else run `npm run schema`)", () => {
        assert.strictEqual(fs.readFileSync(SCHEMA_FILE, "utf8"), renderSchema());
    });

    it("has every resource type the plugin serves, with its required inputs", () => {
        assert.deepStrictEqual(
            Object.keys(schema.resources).sort(),
            Object.keys(providers)
                .map((type) => `${PACKAGE}:index:${type}`)
                .sort(),
        );
        const algorithm = schema.resources[`${PACKAGE}:index:Algorithm`];
        assert.deepStrictEqual(algorithm.requiredInputs, ["name", "details", "settings", "source"]);
        assert.deepStrictEqual(algorithm.inputProperties.settings, {
            $ref: `#/types/${PACKAGE}:index:AlgorithmSettings`,
            description: algorithm.inputProperties.settings.description,
        });
        assert.strictEqual(algorithm.inputProperties.buildTimeoutSeconds.default, 900);
    });

    it("marks the key and secret values secret, in the config and in the resources", () => {
        assert.strictEqual(schema.config.variables.apiKey.secret, true);
        assert.strictEqual(schema.config.variables.bearerToken.secret, true);
        assert.strictEqual(schema.config.variables.apiAddress.secret, undefined);
        for (const resource of Object.values<any>(schema.resources))
            assert.strictEqual(resource.inputProperties.apiKey.secret, true);
        assert.strictEqual(schema.resources[`${PACKAGE}:index:AlgorithmSecret`].inputProperties.value.secret, true);
    });

    it("takes a model file's source as a path or an asset", () => {
        assert.deepStrictEqual(schema.resources[`${PACKAGE}:index:ModelFile`].inputProperties.source.oneOf, [
            { type: "string" },
            { $ref: "pulumi.json#/Asset" },
        ]);
    });
});
