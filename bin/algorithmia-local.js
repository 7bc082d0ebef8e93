#!/usr/bin/env node
// Runs the compiled server when the package is built (dist/), else the TypeScript sources through ts-node.
const fs = require("fs");
const path = require("path");
const compiled = path.join(__dirname, "..", "dist", "server", "cli.js");
if (fs.existsSync(compiled)) {
    require(compiled);
} else {
    require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "tsconfig.json") });
    require("../server/cli.ts");
}
