// The lint rules that stand for a constraint of the provider code (eslint.config.mjs): each one fires on code that
// breaks it, where it applies, and nowhere else.
import * as assert from "assert";
import * as path from "path";
import { ESLint } from "eslint";

const root = path.resolve(__dirname, "../..");
const eslint = new ESLint({ cwd: root });

async function ruleIds(file: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
    return result.messages.map((message) => message.ruleId ?? message.message);
}

const stubWith = (body: string) => `export function providerStub(type: string) {
    const stub = {
        configure: function (req: any) {
            ${body}
        },
    };
    return stub;
}
`;

describe("lint rules for provider code", function () {
    this.timeout(60_000);

    for (const [what, body] of [
        ["optional chaining", "return req?.config;"],
        ["nullish coalescing", "return req.config ?? {};"],
        ["logical assignment", "req.config ||= {};"],
        ["a catch without a binding", "try { req.x(); } catch { }"],
    ]) {
        it(`refuses ${what} in the serialized stub's methods`, async () => {
            assert.deepStrictEqual(await ruleIds("provider/resources/stub.ts", stubWith(body)), [
                "no-restricted-syntax",
            ]);
        });
    }

    it("refuses an async method in the serialized stub", async () => {
        const code = stubWith("return 1;").replace("configure: function", "configure: async function");
        assert.deepStrictEqual(await ruleIds("provider/resources/stub.ts", code), ["no-restricted-syntax"]);
    });

    it("allows ES2017 in the stub, and newer syntax outside its serialized methods", async () => {
        assert.deepStrictEqual(await ruleIds("provider/resources/stub.ts", stubWith("return req && req.config;")), []);
        const outside = `export const x = (a?: { b?: number }) => a?.b ?? 0;\n${stubWith("return 1;")}`;
        assert.deepStrictEqual(await ruleIds("provider/resources/stub.ts", outside), []);
        assert.deepStrictEqual(await ruleIds("provider/resources/algorithm.ts", stubWith("return req?.config;")), []);
    });

    it("refuses the console in provider code only", async () => {
        const code = 'export function f(): void {\n    console.log("x");\n}\n';
        assert.deepStrictEqual(await ruleIds("provider/resources/algorithm.ts", code), ["no-console"]);
        assert.deepStrictEqual(await ruleIds("server/algorithms.ts", code), []);
    });
});
