// Provider errors as a user sees them through the real engine: a failed step names the operation and carries the
// server's own message, readable (no "[object Object]", no "undefined"), and never the API key. The refused delete
// of an algorithm with a public version also says what to do about it.
import * as assert from "assert";
import { Stack } from "@pulumi/pulumi/automation";
import { Algorithm, AlgorithmVersion, DataCollection } from "../../provider";
import { configureKey, SETTINGS, setGreeting, sourceDirectory } from "../helpers/algorithmTestBed";
import { testBed } from "../helpers/testBed";
import { ALICE, BOB } from "../helpers/server";

/** Runs `step`, which must fail; answers everything the user saw: the error message and the engine's output. */
async function failureOf(step: (onOutput: (out: string) => void) => Promise<unknown>): Promise<string> {
    let output = "";
    try {
        await step((out) => (output += out));
    } catch (err) {
        return `${(err as Error).message}\n${output}`;
    }
    return assert.fail(`the step succeeded:\n${output}`);
}

function assertReadable(seen: string): void {
    assert.doesNotMatch(seen, /\[object Object\]/, seen);
    assert.doesNotMatch(seen, /: undefined\b|^undefined$/m, seen);
    assert.ok(!seen.includes(ALICE.key) && !seen.includes(BOB.key), "no API key is shown");
}

describe("Provider errors (engine + algorithmia-local)", function () {
    const bed = testBed();

    async function stackFor(stackName: string, program: () => void): Promise<Stack> {
        const stack = await bed.sandbox.inlineStack("provider-errors", stackName, async () => program());
        await configureKey(stack);
        return stack;
    }

    it("a refused delete of an algorithm with a public version says why and what to do, and that advice works", async () => {
        const source = sourceDirectory(bed.root, "Greeter", "Kept");
        let options: { retainOnDelete?: boolean; adopt?: boolean } = {};
        const stack = await stackFor("kept", () => {
            const algorithm = new Algorithm(
                "kept",
                {
                    name: "Kept",
                    details: { label: "Kept" },
                    settings: SETTINGS,
                    source,
                    adopt: options.adopt,
                    apiAddress: bed.server.url,
                },
                { retainOnDelete: options.retainOnDelete },
            );
            new AlgorithmVersion("public", {
                algorithm: algorithm.algoPath,
                gitHash: algorithm.gitHash,
                versionType: "major",
                callability: "public",
                adopt: options.adopt,
                apiAddress: bed.server.url,
            });
        });
        await stack.up();
        const seen = await failureOf((onOutput) => stack.destroy({ onOutput }));
        assertReadable(seen);
        assert.match(
            seen,
            /Algorithm alice\/Kept cannot be deleted: DELETE \/v1\/algorithms\/alice\/Kept returned 400: Algorithm alice\/Kept has a public published version and cannot be deleted\. The platform keeps algorithms that have a public version/,
        );
        assert.match(
            seen,
            /`retainOnDelete: true`, run `pulumi up`, then destroy again; a later deploy takes it over with `adopt: true`/,
        );
        assert.ok(await bed.client.getAlgorithm("alice", "Kept"), "the algorithm is still there");

        options = { retainOnDelete: true };
        await stack.up();
        await stack.destroy();
        assert.ok(await bed.client.getAlgorithm("alice", "Kept"), "retained");
        options = { retainOnDelete: true, adopt: true };
        const again = await stack.up();
        assert.deepStrictEqual(again.summary.resourceChanges, { create: 3 }, "taken over");
        await stack.destroy();
    });

    describe("other failures read clearly", () => {
        type OnOutput = (out: string) => void;
        const up = (stack: Stack, onOutput: OnOutput) => stack.up({ onOutput });
        const cases: {
            name: string;
            program: () => void;
            fail: (stack: Stack, onOutput: OnOutput) => Promise<unknown>;
            message: RegExp;
        }[] = [
            {
                name: "an HTTP 4xx on create: a collection in an organization the key is not a member of",
                program: () => {
                    new DataCollection("foreign", { name: "foreign", owner: "team", apiAddress: bed.server.url });
                },
                fail: async (stack, onOutput) => {
                    await stack.setConfig("algorithmia:apiKey", { value: BOB.key, secret: true });
                    await stack.up({ onOutput });
                },
                message:
                    /POST \/v1\/connector\/data\/team returned 403: Caller is not authorized to perform the operation/,
            },
            {
                name: "an HTTP 5xx on read: a refresh while the server keeps failing",
                program: () => {
                    new DataCollection("flaky", { name: "flaky", apiAddress: bed.server.url });
                },
                fail: async (stack, onOutput) => {
                    await stack.up();
                    bed.server.faults.set("GET /v1/connector/data/alice/flaky=error:1,status:503");
                    try {
                        await stack.refresh({ onOutput });
                    } finally {
                        bed.server.faults.clear();
                    }
                },
                message: /GET \/v1\/connector\/data\/alice\/flaky returned 503: Injected fault/,
            },
            {
                name: "a failing git push",
                program: () => {
                    new Algorithm("unpushed", {
                        name: "Unpushed",
                        details: { label: "Unpushed" },
                        settings: SETTINGS,
                        source: sourceDirectory(bed.root, "Greeter", "Unpushed"),
                        apiAddress: bed.server.url,
                    });
                },
                fail: async (stack, onOutput) => {
                    bed.server.faults.set("* /git/alice/Unpushed*=error:1,status:503");
                    try {
                        await stack.up({ onOutput });
                    } finally {
                        bed.server.faults.clear();
                    }
                },
                message: /git \S+ failed \(exit \d+\): \S/,
            },
            {
                name: "a failing version test",
                program: () => {
                    const source = sourceDirectory(bed.root, "Greeter", "Tested");
                    setGreeting(source, "Tested", "hi");
                    const algorithm = new Algorithm("tested", {
                        name: "Tested",
                        details: { label: "Tested" },
                        settings: SETTINGS,
                        source,
                        apiAddress: bed.server.url,
                    });
                    new AlgorithmVersion("release", {
                        algorithm: algorithm.algoPath,
                        gitHash: algorithm.gitHash,
                        versionType: "minor",
                        callability: "private",
                        tests: [{ name: "greets", input: "ada", expect: "hello ada" }],
                        apiAddress: bed.server.url,
                    });
                },
                fail: up,
                message:
                    /Test "greets" failed against alice\/Tested\/[0-9a-f]{40}, so the version is not published: expected "hello ada", got "hi ada"/,
            },
        ];
        for (const c of cases) {
            it(c.name, async () => {
                const stack = await stackFor(c.name.replace(/\W+/g, "-").slice(0, 40), c.program);
                const seen = await failureOf((onOutput) => c.fail(stack, onOutput));
                assertReadable(seen);
                assert.match(seen, c.message);
            });
        }
    });
});
