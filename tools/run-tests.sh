#!/usr/bin/env bash
# `npm test`: installs dependencies when missing or stale, builds the engine when missing (cached per version),
# type-checks, then runs every suite. Extra arguments go to mocha (e.g. `npm test -- --grep smoke`).
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
# Every suite unless spec files are named (options alone, e.g. --grep, still run every suite).
specs=("test/**/*.test.ts")
for arg in "$@"; do case "$arg" in *.ts) specs=() ;; esac; done
npx mocha "${specs[@]}" "$@"
