#!/usr/bin/env node
// Runs the TypeScript sources through ts-node in a checkout (they are what the tests and the demo must exercise,
// whatever an earlier `npm pack` left in dist/), else the compiled server of the installed package.
const fs = require("fs");
const path = require("path");
const sources = path.join(__dirname, "..", "server", "cli.ts");
if (fs.existsSync(sources)) {
    require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "tsconfig.json") });
    require(sources);
} else {
    require(path.join(__dirname, "..", "dist", "server", "cli.js"));
}
