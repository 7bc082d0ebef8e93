// Mocha's settings for `npm test`, both legs and direct `npx mocha` runs alike.
const os = require("os");

module.exports = {
    require: ["ts-node/register/transpile-only"],
    extension: ["ts"],
    timeout: 600000,
    reporter: "spec",
    // Spec files run in parallel, one worker per core and at least two: most of a test is waiting on the engine,
    // git and builds (one worker used about one core). Every suite has its own servers, ports and directories; the
    // machine-wide caches lock across processes (server/runtime/env-cache.ts).
    parallel: true,
    jobs: Number(process.env.PULUMI_ALGORITHMIA_TEST_JOBS) || Math.max(2, os.availableParallelism()),
};
