// `npm run lint`: typescript-eslint's recommended rules, Prettier's layout (`prettier --check`, run by the same
// script), and the rules this codebase keeps that a reviewer would otherwise have to remember.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

/** Syntax newer than ES2017, which the closure serializer's vendored TypeScript 3.8 may fail to parse. */
const newerThanES2017 = [
    ["ChainExpression", "optional chaining (`?.`)"],
    ["LogicalExpression[operator='??']", "`??`"],
    ["AssignmentExpression[operator=/^(\\?\\?|\\|\\||&&)=$/]", "logical assignment"],
    ["CatchClause[param=null]", "a `catch` without a binding"],
    ["Literal[bigint]", "BigInt literals"],
    ["PropertyDefinition", "class fields"],
    ["ImportExpression", "dynamic `import()`"],
];

export default tseslint.config(
    { ignores: ["node_modules/", "dist/", "bench/build/", "**/node_modules/"] },
    js.configs.recommended,
    tseslint.configs.recommended,
    prettier,
    {
        languageOptions: { globals: { ...globals.node }, ecmaVersion: 2022, sourceType: "commonjs" },
        rules: {
            // Unused arguments keep a documented signature (a controller method's `olds`); a leading `_` says so.
            "@typescript-eslint/no-unused-vars": [
                "error",
                { args: "none", caughtErrors: "none", ignoreRestSiblings: true },
            ],
            // Inputs and outputs of the engine are untyped by nature (PropertyMap); `any` is where they enter.
            "@typescript-eslint/no-explicit-any": "off",
            // The Node worker and bin scripts are CommonJS.
            "@typescript-eslint/no-require-imports": "off",
            "no-empty": ["error", { allowEmptyCatch: true }],
            eqeqeq: ["error", "smart"],
            "prefer-const": ["error", { destructuring: "all" }],
        },
    },
    {
        // The provider runs inside the engine's dynamic-provider host, whose stdout carries the gRPC handshake and
        // whose log is the user's `pulumi up` output: it reports through errors and the engine's log only, never
        // the console (which is also how a secret would reach a CI log).
        files: ["provider/**/*.ts"],
        rules: { "no-console": "error" },
    },
    {
        // The only code the engine serializes into state (see its header): ES2017 syntax, nothing captured but
        // strings and its own object.
        files: ["provider/resources/stub.ts"],
        rules: {
            "no-restricted-syntax": [
                "error",
                ...newerThanES2017.map(([selector, what]) => ({
                    selector: `FunctionDeclaration[id.name='providerStub'] ObjectExpression ${selector}`,
                    message: `providerStub's methods are serialized into state and parsed by an old TypeScript: no ${what}.`,
                })),
                {
                    selector:
                        "FunctionDeclaration[id.name='providerStub'] ObjectExpression ArrowFunctionExpression[async=true], FunctionDeclaration[id.name='providerStub'] ObjectExpression FunctionExpression[async=true]",
                    message: "providerStub's methods are serialized: no async functions (return promises).",
                },
            ],
        },
    },
    {
        // The same rules for the code that runs algorithms' source in a worker (plain Node.js, CommonJS).
        files: ["**/*.js"],
        rules: { "@typescript-eslint/no-var-requires": "off" },
    },
);
