#!/usr/bin/env bash
# Builds the Pulumi engine (the `pulumi` CLI and the nodejs, python and yaml language hosts)
# from Pulumi's published Go modules, the way Pulumi's release does, and caches the result per version outside the
# repository.
# Its last line of output is the absolute bin directory (`npm run --silent engine` relies on that).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# The Go module that pins the CLI: this directory (v3.248.0, the version of the dev @pulumi/pulumi) unless the
# first argument or PULUMI_ALGORITHMIA_ENGINE_MODULE names another (relative to the repository root), e.g.
# tools/pulumi-cli/newest.
module="$(cd "$repo" && cd "${1:-${PULUMI_ALGORITHMIA_ENGINE_MODULE:-$here}}" && pwd)"
version="$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2 }' "$module/go.mod")"
[ -n "$version" ] || { echo "engine: $module/go.mod requires no github.com/pulumi/pulumi/pkg/v3" >&2; exit 1; }
# The newest language host published as part of a module the proxy serves (see README.md).
language_host_version="v3.68.0"
# The same for Python: the newest sdk/v3 release that still holds the python host as a package (see README.md).
python_host_version="v3.79.0"
# YAML's host is pulumi-yaml's own module, versioned on its own (language-yaml/go.mod pins it).
yaml_host_version="$(awk '$1 == "github.com/pulumi/pulumi-yaml" { print $2 }' "$here/language-yaml/go.mod")"
# The cache key covers everything that decides the binaries: the pinned modules and this script.
key="$(cat "$module/go.mod" "$module/go.sum" "$here"/language-{nodejs,python,yaml}/go.{mod,sum} "${BASH_SOURCE[0]}" |
  sha256sum | cut -c1-12)"
cache_root="${PULUMI_ALGORITHMIA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-algorithmia}"
bin="$cache_root/engine/pulumi-$version-$key/bin"
nodejs_plugin="$repo/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
# The cache is shared by every checkout on the machine; the directory we hand out is this checkout's own, with
# links to the cached binaries and to this checkout's dynamic-provider plugin, so checkouts never relink each
# other's engine.
repo_bin="$repo/node_modules/.cache/pulumi-algorithmia/engine-$version-$key/bin"

say() { echo "engine: $*" >&2; }

checkout_bin() {
  # The dynamic-provider plugin ships inside the npm @pulumi/pulumi; the engine finds it on PATH next to `pulumi`.
  [ -f "$nodejs_plugin" ] || { say "missing $nodejs_plugin: run 'npm ci' first"; exit 1; }
  # The binaries are hard links (copies across file systems), not symlinks: pulumi looks for its bundled
  # plugins next to its own resolved path, and warns about any it finds only on PATH.
  mkdir -p "$repo_bin"
  local exe
  # The python host runs the `pulumi-language-python-exec` script found beside its own path, so it is linked too.
  for exe in pulumi pulumi-language-nodejs pulumi-language-python pulumi-language-python-exec pulumi-language-yaml; do
    [ "$repo_bin/$exe" -ef "$bin/$exe" ] || ln -f "$bin/$exe" "$repo_bin/$exe" 2>/dev/null || cp -f "$bin/$exe" "$repo_bin/$exe"
  done
  ln -sfn "$nodejs_plugin" "$repo_bin/pulumi-resource-pulumi-nodejs"
  echo "$repo_bin"
}

# Entries are marked when used; one no checkout has used for 30 days (another key: other pins or an older
# script) is removed. Checkouts that still hold its hard links keep working.
prune_cache() {
  touch "$(dirname "$bin")"
  find "$cache_root/engine" -mindepth 1 -maxdepth 1 -name 'pulumi-*' ! -path "$(dirname "$bin")" -mtime +30 \
    -exec rm -rf {} + 2>/dev/null || true
}

if [ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-language-nodejs" ] && [ -x "$bin/pulumi-language-python" ] &&
  [ -f "$bin/pulumi-language-python-exec" ] && [ -x "$bin/pulumi-language-yaml" ]; then
  prune_cache
  checkout_bin
  exit 0
fi

command -v go >/dev/null 2>&1 || {
  say "Go is not installed. The engine is built from Pulumi's Go modules: install Go 1.25 or newer and re-run."
  exit 1
}
if ! (cd "$module" && GOFLAGS=-mod=mod go mod download github.com/pulumi/pulumi/pkg/v3 >/dev/null 2>&1); then
  say "cannot download Pulumi's Go modules: check that the Go module proxy (GOPROXY=$(go env GOPROXY)) is reachable."
  exit 1
fi

tmp="$(mktemp -d "$cache_root/engine/.build-XXXXXX" 2>/dev/null || { mkdir -p "$cache_root/engine" && mktemp -d "$cache_root/engine/.build-XXXXXX"; })"
trap 'rm -rf "$tmp"' EXIT

# Pulumi's release flags: static, trimmed, no gRPC tracing, and the version stamped in (the Automation API
# refuses a CLI that reports no version).
build() { # module-dir package output version [version-variable]
  say "building $3 ($4) from $2 — the first build takes several minutes"
  local start=$SECONDS
  (cd "$1" && CGO_ENABLED=0 go build -v -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X ${5:-github.com/pulumi/pulumi/sdk/v3/go/common/version.Version}=$4" \
    -o "$tmp/$3" "$2" 2>&1 |
    # -v names each package as it compiles: count those, pass anything else (errors) through.
    awk -v out="$3" '/ / { print > "/dev/stderr"; next }
      { if (++n % 100 == 0) printf "engine: %s: %d packages compiled\n", out, n > "/dev/stderr" }')
  [ -x "$tmp/$3" ] || { say "building $3 failed"; exit 1; }
  say "built $3 in $((SECONDS - start))s"
}
build "$module" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi pulumi "$version"
build "$here/language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs pulumi-language-nodejs \
  "$language_host_version"
build "$here/language-python" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python pulumi-language-python \
  "$python_host_version"
# The python host starts programs through this script (`python pulumi-language-python-exec --monitor … PROGRAM`);
# take the one of the same sdk/v3 release, which parses exactly the arguments that host passes.
build "$here/language-yaml" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml pulumi-language-yaml \
  "$yaml_host_version" github.com/pulumi/pulumi-yaml/pkg/version.Version
python_sdk="$(cd "$here/language-python" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
install -m 0755 "$python_sdk/python/cmd/pulumi-language-python-exec" "$tmp/pulumi-language-python-exec"

mkdir -p "$(dirname "$bin")"
rm -rf "$bin" && mv "$tmp" "$bin"
trap - EXIT
"$bin/pulumi" version >&2
prune_cache
checkout_bin
