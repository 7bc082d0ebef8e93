#!/usr/bin/env bash
# `npm run sdk`: generates the Python SDK (sdk/python) from schema.json with Pulumi's own code generator.
#
#   bash tools/sdkgen/sdk.sh [-schema FILE] [-out DIR]     (defaults: schema.json, sdk/python; relative to the repo)
#   bash tools/sdkgen/sdk.sh --build                        (only build the tool; prints the binary's path)
#
# The tool (main.go here) is built once per version of its sources and pins and cached outside the repository, as
# the engine is (tools/pulumi-cli/build.sh): `<cache root>/sdkgen/sdkgen-<key>/sdkgen`, where <key> hashes go.mod,
# go.sum, the Go sources and this script. It requires the pkg/v3 version tools/pulumi-cli/go.mod pins, so the
# module cache the engine build filled serves it, and it is built with the engine's flags, so Go's build cache
# shares the compiled Pulumi packages.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
say() { echo "sdkgen: $*" >&2; }

script="$here/$(basename "${BASH_SOURCE[0]}")"
key="$(cd "$here" && cat go.mod go.sum $(ls ./*.go | LC_ALL=C sort) "$script" | sha256sum | cut -c1-12)"
cache_root="${PULUMI_ALGORITHMIA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-algorithmia}"
dir="$cache_root/sdkgen/sdkgen-$key"
exe="$dir/sdkgen"

if [ ! -x "$exe" ]; then
  command -v go >/dev/null 2>&1 || {
    say "Go is not installed. The SDK generator is built from Pulumi's Go modules: install Go 1.25 or newer and re-run."
    exit 1
  }
  version="$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2 }' "$here/go.mod")"
  if ! (cd "$here" && go mod download github.com/pulumi/pulumi/pkg/v3 >/dev/null 2>&1); then
    say "cannot download Pulumi's Go modules: check that the Go module proxy (GOPROXY=$(go env GOPROXY)) is reachable."
    exit 1
  fi
  say "building the generator (pulumi/pkg $version) — the first build takes a minute or two"
  start=$SECONDS
  mkdir -p "$dir"
  tmp="$(mktemp "$dir/.sdkgen-XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  # The engine's release flags (tools/pulumi-cli/build.sh): the same flags hit the same entries of Go's build cache.
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace -ldflags "-s -w" -o "$tmp" .)
  chmod 0755 "$tmp"
  mv -f "$tmp" "$exe"
  trap - EXIT
  say "built $exe in $((SECONDS - start))s"
fi
# Entries are marked when used; one no checkout has used for 30 days (other sources or pins) is removed.
touch "$dir"
find "$cache_root/sdkgen" -mindepth 1 -maxdepth 1 -name 'sdkgen-*' ! -path "$dir" -mtime +30 -exec rm -rf {} + \
  2>/dev/null || true

if [ "${1:-}" = "--build" ]; then
  echo "$exe"
  exit 0
fi
cd "$repo"
exec "$exe" "$@"
