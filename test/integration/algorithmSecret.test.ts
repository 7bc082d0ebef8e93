// AlgorithmSecret through the real engine against algorithmia-local: the algorithm reads the value at run time; a
// new value rotates the same secret in place; a secret deleted out of band drops out at refresh and comes back at
// the next up; an existing key is refused without `adopt` and taken over with it; a bad key fails at preview naming
// the property; destroy deletes it. The value never appears in the stored state, the engine output or an error.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { Stack } from "@pulumi/pulumi/automation";
import { Algorithm, AlgorithmSecret } from "../../provider";
import { configureKey, outputValues, SETTINGS, sourceDirectory } from "../helpers/algorithmTestBed";
import { testBed } from "../helpers/testBed";

const FIRST = "first-value-4f1c9a";
const SECOND = "rotated-value-8b27d0";
const OUT_OF_BAND = "set-elsewhere-19e3c5";

describe("AlgorithmSecret (engine + algorithmia-local)", function () {
    const bed = testBed();
    let stack: Stack;
    let output = "";
    const onOutput = (text: string) => (output += text);
    /** The keys of a second secret the program declares, with their `adopt`; none by default. */
    let extra: { key: string; adopt?: boolean } | undefined;

    const outputs = () => outputValues(stack);
    const algorithmId = async () => (await bed.client.getAlgorithm("alice", "SecretReader"))!.id;
    const secretsOnServer = async () => (await bed.client.listSecrets(await algorithmId())) ?? [];
    /** What the algorithm's code reads from its environment, at the built commit. */
    const readByAlgorithm = async (name: string) =>
        (await bed.client.callAlgorithm(`alice/SecretReader/${(await outputs()).gitHash}`, name)).result;
    const assertNeverShown = () => {
        const state = bed.sandbox.storedState();
        for (const value of [FIRST, SECOND, OUT_OF_BAND]) {
            assert.ok(!state.includes(value), "the stored state never holds a value in plain text");
            assert.ok(!output.includes(value), "the engine output never shows a value");
        }
    };

    before(async () => {
        const source = sourceDirectory(bed.root, "SecretReader", "SecretReader");
        stack = await bed.sandbox.inlineStack("secret-test", "dev", async () => {
            const config = new pulumi.Config();
            const algorithm = new Algorithm("reader", {
                name: "SecretReader",
                details: { label: "Secret reader" },
                settings: { ...SETTINGS, language: (config.get("language") ?? SETTINGS.language) as "python3-1" },
                source,
            });
            const token = new AlgorithmSecret("token", {
                algorithm: algorithm.algoPath,
                key: config.get("tokenKey") ?? "API_TOKEN",
                value: config.requireSecret("token"),
                description: "the token of the upstream API",
            });
            if (extra) {
                new AlgorithmSecret("extra", {
                    algorithm: algorithm.algoPath,
                    key: extra.key,
                    value: config.requireSecret("token"),
                    adopt: extra.adopt,
                });
            }
            return { gitHash: algorithm.gitHash, secretId: token.secretId };
        });
        await configureKey(stack);
        await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        await stack.setConfig("token", { value: FIRST, secret: true });
    });

    it("creates the secret, which the algorithm reads at run time", async () => {
        const up = await stack.up({ onOutput });
        assert.deepStrictEqual(up.summary.resourceChanges, { create: 3 });
        const [secret] = await secretsOnServer();
        assert.deepStrictEqual(
            [secret.secret_key, secret.short_name, secret.description, secret.id],
            ["API_TOKEN", "API_TOKEN", "the token of the upstream API", (await outputs()).secretId],
        );
        assert.strictEqual(await readByAlgorithm("API_TOKEN"), FIRST);
        assertNeverShown();
    });

    it("previews no changes for an unchanged program, also after a refresh", async () => {
        await stack.preview({ expectNoChanges: true, onOutput });
        await stack.refresh({ onOutput });
        await stack.preview({ expectNoChanges: true, onOutput });
    });

    it("rotates the value in place: the same secret, the new value seen by the algorithm", async () => {
        const before = await outputs();
        await stack.setConfig("token", { value: SECOND, secret: true });
        const up = await stack.up({ onOutput });
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, update: 1 });
        assert.strictEqual((await outputs()).secretId, before.secretId);
        assert.strictEqual(await readByAlgorithm("API_TOKEN"), SECOND);
        await stack.preview({ expectNoChanges: true, onOutput });
        assertNeverShown();
    });

    it("sees a secret deleted out of band at refresh, and the next up makes it again", async () => {
        const [secret] = await secretsOnServer();
        assert.ok(await bed.client.deleteSecret(await algorithmId(), secret.id));
        const refresh = await stack.refresh({ onOutput });
        assert.strictEqual(refresh.summary.resourceChanges?.delete, 1);
        const up = await stack.up({ onOutput });
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 2, create: 1 });
        assert.deepStrictEqual(
            (await secretsOnServer()).map((s) => s.secret_key),
            ["API_TOKEN"],
        );
        assert.strictEqual(await readByAlgorithm("API_TOKEN"), SECOND);
    });

    it("refuses a key the algorithm already has without `adopt`, and takes it over with it", async () => {
        const providerId = await bed.client.defaultSecretProvider();
        await bed.client.createSecret(
            await algorithmId(),
            { short_name: "other", description: " ", secret_key: "OTHER", secret_value: OUT_OF_BAND },
            providerId,
        );
        extra = { key: "OTHER" };
        await assert.rejects(stack.up({ onOutput }), (err: Error) => {
            assert.match(err.message, /already has a secret OTHER: set `adopt: true`/);
            assert.ok(!err.message.includes(SECOND) && !err.message.includes(OUT_OF_BAND));
            return true;
        });
        extra = { key: "OTHER", adopt: true };
        const up = await stack.up({ onOutput });
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 3, create: 1 });
        assert.strictEqual(await readByAlgorithm("OTHER"), SECOND);
        await stack.preview({ expectNoChanges: true, onOutput });
        assertNeverShown();
    });

    it("fails at preview on a key that is no environment variable name, naming key", async () => {
        await stack.setConfig("tokenKey", { value: "1BAD" });
        try {
            await assert.rejects(stack.preview({ onOutput }), (err: Error) => {
                assert.match(err.message, /key: must be an environment variable name/);
                assert.ok(!err.message.includes(SECOND));
                return true;
            });
        } finally {
            await stack.removeConfig("tokenKey");
        }
    });

    it("a new key is another secret: made before the old one is deleted", async () => {
        await stack.setConfig("tokenKey", { value: "NEW_TOKEN" });
        const up = await stack.up({ onOutput });
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 3, replace: 1 });
        assert.deepStrictEqual((await secretsOnServer()).map((s) => s.secret_key).sort(), ["NEW_TOKEN", "OTHER"]);
        assert.strictEqual(await readByAlgorithm("NEW_TOKEN"), SECOND);
        assert.strictEqual(await readByAlgorithm("API_TOKEN"), null);
    });

    it("an algorithm replaced under the same name gets the secrets again", async () => {
        const before = await algorithmId();
        await stack.setConfig("language", { value: "python3" });
        const up = await stack.up({ onOutput });
        assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, replace: 3 });
        assert.notStrictEqual(await algorithmId(), before);
        assert.deepStrictEqual((await secretsOnServer()).map((s) => s.secret_key).sort(), ["NEW_TOKEN", "OTHER"]);
        assert.strictEqual(await readByAlgorithm("NEW_TOKEN"), SECOND);
        await stack.preview({ expectNoChanges: true, onOutput });
    });

    it("destroys the secrets with the algorithm", async () => {
        await stack.destroy({ onOutput });
        assert.strictEqual(await bed.client.getAlgorithm("alice", "SecretReader"), undefined);
        assertNeverShown();
    });
});
