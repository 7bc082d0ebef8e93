#!/usr/bin/env bash
# `npm test`: installs dependencies when missing or stale, builds the engine when missing (cached per version),
# type-checks and lints (`npm run lint`), then runs every suite on Node 20 with the dev pin (@pulumi/pulumi and
# CLI 3.248), then the Node 24 leg (tools/test-leg.sh: the newest SDK and CLI). Extra arguments go to the first
# run's mocha alone (e.g. `npm test -- --grep smoke`); `npm run test:node24 -- ARGS` runs the leg alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi
PULUMI_ALGORITHMIA_ENGINE_BIN="$(bash tools/pulumi-cli/build.sh | tail -n 1)"
export PULUMI_ALGORITHMIA_ENGINE_BIN

echo "test: type-checking" >&2
npx tsc --noEmit -p tsconfig.json
echo "test: linting (npm run lint)" >&2
npm run --silent lint
# Every suite unless spec files are named (options alone, e.g. --grep, still run every suite).
specs=("test/**/*.test.ts")
for arg in "$@"; do case "$arg" in *.ts) specs=() ;; esac; done
# In parallel (.mocharc.js says how many workers).
status=0
npx mocha "${specs[@]}" "$@" || status=$?
# Both legs run even when the first fails, so one CI run shows every failure.
if [ $# -eq 0 ]; then
  (unset PULUMI_ALGORITHMIA_ENGINE_BIN; bash tools/test-leg.sh) || status=$?
fi
exit $status
