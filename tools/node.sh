#!/usr/bin/env bash
# Usage: tools/node.sh VERSION — installs that Node.js release once, cached beside the engine, and prints as its
# last line the directory holding its `node`. The binaries come from the npm registry's `node-linux-<arch>`
# package: Node's official build, headers included (native modules such as better-sqlite3 compile against them).
set -euo pipefail

version="${1:?usage: tools/node.sh VERSION}"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node: no Node.js package for $(uname -m)" >&2; exit 1 ;;
esac
cache_root="${PULUMI_ALGORITHMIA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-algorithmia}"
dir="$cache_root/node/node-v$version-linux-$arch"

if [ ! -x "$dir/bin/node" ]; then
  echo "node: installing Node.js $version (npm package node-linux-$arch@$version)" >&2
  mkdir -p "$cache_root/node"
  tmp="$(mktemp -d "$cache_root/node/.fetch-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null && tar xzf ./*.tgz)
  [ "$("$tmp/package/bin/node" --version)" = "v$version" ] || { echo "node: the package holds no working node $version" >&2; exit 1; }
  rm -rf "$dir" && mv "$tmp/package" "$dir"
fi
echo "$dir/bin"
