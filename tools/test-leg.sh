#!/usr/bin/env bash
# `npm run test:node24` (and the end of `npm test`): the Node 24 leg. What users run today, beside the Node 20 /
# 3.248 dev pin: Node.js 24 (tools/node.sh), the newest @pulumi/pulumi, and the newest `pulumi` CLI the Go module
# proxy serves (tools/pulumi-cli/newest). It runs, in a copy of this checkout that has its own node_modules (native
# modules built for Node 24, that SDK as the dev copy), the package test, the model guide, the engine smoke suite
# and the engine suite of each resource. Extra arguments go to mocha (spec files replace the default list).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

NODE_VERSION=24.22.3
SDK_VERSION=3.276.0
ENGINE_MODULE=tools/pulumi-cli/newest
SUITES=(test/integration/package.test.ts test/integration/modelGuide.test.ts test/integration/engine.test.ts
  test/integration/dataCollection.test.ts test/integration/modelFile.test.ts test/integration/algorithm.test.ts
  test/integration/algorithmVersion.test.ts)

say() { echo "test (node $NODE_VERSION): $*" >&2; }
cache_root="${PULUMI_ALGORITHMIA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-algorithmia}"
node_bin="$(bash "$repo/tools/node.sh" "$NODE_VERSION" | tail -n 1)"
export PATH="$node_bin:$PATH"
# Native modules (better-sqlite3) compile against this Node's own headers.
export npm_config_nodedir="$(dirname "$node_bin")"

# Outside the checkout, so that no module resolves into its Node 20 node_modules; one per checkout.
leg="$cache_root/legs/node$NODE_VERSION-$(printf %s "$repo" | sha256sum | cut -c1-12)"
mkdir -p "$leg"
say "copying the checkout to $leg"
find "$leg" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
  tar -C "$leg" -xf -
# The leg's dev copy of the SDK is the newest release (the peer range must hold it).
node -e '
  const fs = require("fs"), file = process.argv[1], pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  pkg.devDependencies["@pulumi/pulumi"] = process.argv[2];
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");' "$leg/package.json" "$SDK_VERSION"

# Installs again only when the dependencies or versions change.
stamp="$(cat "$leg/package.json" "$repo/package-lock.json" | sha256sum | cut -c1-16)-node$NODE_VERSION"
if [ "$(cat "$leg/node_modules/.leg-stamp" 2>/dev/null)" != "$stamp" ]; then
  say "installing dependencies with @pulumi/pulumi $SDK_VERSION (npm install)"
  (cd "$leg" && npm install --no-audit --no-fund)
  echo "$stamp" >"$leg/node_modules/.leg-stamp"
fi

PULUMI_ALGORITHMIA_ENGINE_MODULE="$ENGINE_MODULE"
PULUMI_ALGORITHMIA_ENGINE_BIN="$(bash "$leg/tools/pulumi-cli/build.sh" "$ENGINE_MODULE" | tail -n 1)"
export PULUMI_ALGORITHMIA_ENGINE_MODULE PULUMI_ALGORITHMIA_ENGINE_BIN
# The copy has no .git; a test that packs an old release reads the history from here.
export PULUMI_ALGORITHMIA_CHECKOUT="$repo"

specs=("${SUITES[@]}")
for arg in "$@"; do case "$arg" in *.ts) specs=() ;; esac; done
say "running on $(node --version), @pulumi/pulumi $(node -p 'require(process.argv[1]).version' "$leg/node_modules/@pulumi/pulumi/package.json"), $("$PULUMI_ALGORITHMIA_ENGINE_BIN/pulumi" version)"
cd "$leg"
# In parallel, as the first leg (.mocharc.js).
node node_modules/mocha/bin/mocha.js "${specs[@]}" "$@"
