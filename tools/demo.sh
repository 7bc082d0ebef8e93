#!/usr/bin/env bash
# `npm run demo`: the main job, from a clean clone. Deploys the model-guide stack (examples/model-guide: a data
# collection, the trained model, the DigitClassifier algorithm on the GPU environment, its published version)
# and calls the published version with the official `algorithmia` npm client.
#
#     npm run demo                 install if needed, build the engine if missing, start algorithmia-local,
#                                  `pulumi up`, call the model, print its answer and how to call it
#     npm run demo -- --destroy    remove everything the demo made (resources, stack, local state)
#
# Target: an embedded algorithmia-local (data kept in .pulumi-local/algorithmia, so a second run finds the same
# objects and reports no changes), unless ALGORITHMIA_API and ALGORITHMIA_API_KEY both point at a real cluster.
# State: a file backend in .pulumi-local/state, passphrase secrets (the passphrase is generated once into
# .pulumi-local/passphrase unless PULUMI_CONFIG_PASSPHRASE is set). The API key only travels in the
# environment of the processes that need it; it is never printed or written to the stack's config or state.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
local_dir="$repo/.pulumi-local"

say() { echo "demo: $*" >&2; }
die() { say "$*"; exit 1; }

action=up
for arg in "$@"; do
  case "$arg" in
    --destroy) action=destroy ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (use --destroy to remove everything)" ;;
  esac
done

# 1. Dependencies: npm ci when node_modules is missing or older than the lock file. A linked node_modules is a
#    shared install (e.g. a git worktree's): it is used as it is.
if [ -L node_modules ]; then
  :
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2
fi

# 2. The Pulumi engine, built from Go modules the first time (minutes), cached afterwards.
engine_bin="$(bash tools/pulumi-cli/build.sh | tail -n 1)"
[ -x "$engine_bin/pulumi" ] || die "the engine build did not produce $engine_bin/pulumi"
export PATH="$engine_bin:$PATH"

mkdir -p "$local_dir"
export PULUMI_HOME="$local_dir/home"
export PULUMI_BACKEND_URL="file://$local_dir/state"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "$PULUMI_HOME" "$local_dir/state"
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -s "$local_dir/passphrase" ]; then
    (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("base64url"))' >"$local_dir/passphrase")
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$local_dir/passphrase"
fi

# 3. The API: a real cluster when both variables are set, else algorithmia-local on a port kept between runs.
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap stop_server EXIT

port_free() {
  node -e 'const s=require("net").createServer().once("error",()=>process.exit(1)).listen(+process.argv[1],"127.0.0.1",()=>s.close())' "$1"
}
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

if [ -n "${ALGORITHMIA_API:-}" ] && [ -n "${ALGORITHMIA_API_KEY:-}" ]; then
  stack=cluster
  say "using the Algorithmia cluster at $ALGORITHMIA_API (stack '$stack')"
else
  [ -z "${ALGORITHMIA_API:-}${ALGORITHMIA_API_KEY:-}" ] ||
    say "only one of ALGORITHMIA_API / ALGORITHMIA_API_KEY is set; both are needed for a real cluster — using algorithmia-local"
  stack=local
  data_dir="$local_dir/algorithmia"
  log="$local_dir/algorithmia-local.log"
  port="$(cat "$local_dir/port" 2>/dev/null || true)"
  if [ -z "$port" ] || ! port_free "$port"; then
    port="$(free_port)"
    echo "$port" >"$local_dir/port"
  fi
  if [ "$action" = up ]; then
    # Algorithms run in a Python environment created on first use (a few minutes); make it before the build
    # waits for it.
    say "preparing algorithmia-local's Python runtime (the first time takes a few minutes)"
    node -e 'require("ts-node").register({transpileOnly:true});require("./server/runtime/python-env").ensurePythonRuntime().catch(e=>{console.error(e.message);process.exit(1)})'
  fi
  # Without --user the server makes user "local" with a generated key, kept in the data directory and printed
  # once on its stdout: keep that line out of the log.
  node bin/algorithmia-local.js --port "$port" --data-dir "$data_dir" \
    > >(sed -u 's/API key [^ ]*/API key (hidden; see local-user.json)/' >"$log") 2>&1 &
  server_pid=$!
  for _ in $(seq 1 120); do
    grep -q "algorithmia-local listening on" "$log" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "algorithmia-local did not start (log: $log)"; }
    sleep 0.5
  done
  grep -q "algorithmia-local listening on" "$log" || die "algorithmia-local did not start within 60 s (log: $log)"
  ALGORITHMIA_API="$(sed -n 's/.*algorithmia-local listening on \(http[^ ]*\).*/\1/p' "$log" | tail -n 1)"
  ALGORITHMIA_API_KEY="$(node -p 'require(process.argv[1]).key' "$data_dir/local-user.json")"
  export ALGORITHMIA_API ALGORITHMIA_API_KEY
  say "algorithmia-local is serving $ALGORITHMIA_API (user 'local', data in ${data_dir#"$repo/"})"
fi

pulumi() { command pulumi "$@" --stack "$stack" --non-interactive; }
if ! command pulumi stack select "$stack" --non-interactive >/dev/null 2>&1; then
  [ "$action" = up ] || { say "nothing to destroy: stack '$stack' does not exist"; rm -rf "$local_dir"; exit 0; }
  rm -f "Pulumi.$stack.yaml" # config left from a removed stack, salted for another passphrase
  command pulumi stack init "$stack" --secrets-provider passphrase --non-interactive >&2
fi

# An algorithm left on the cluster by an earlier destroy (public algorithms cannot be deleted) is taken over
# only when asked to.
[ "$action" = up ] && [ "${MODEL_GUIDE_ADOPT:-}" = true ] && pulumi config set model-guide:adopt true

# 4. Destroy, or deploy and call.
if [ "$action" = destroy ]; then
  pulumi destroy --yes --remove >&2
  stop_server
  if [ "$stack" = local ]; then
    rm -rf "$local_dir"
    say "removed the model-guide stack and all of algorithmia-local's data"
  else
    # The state (.pulumi-local) is kept: other stacks may live there.
    say "removed the model-guide stack; its algorithm stays on the cluster (Algorithmia keeps algorithms with" \
      "public versions): deploy again with 'MODEL_GUIDE_ADOPT=true npm run demo' to take it over"
  fi
  exit 0
fi

pulumi up --yes >&2 || die "pulumi up failed (the error is above; docs/troubleshooting.md lists the usual causes)"
outputs="$(pulumi stack output --json)"
output() { node -e 'process.stdout.write(String(JSON.parse(process.argv[1])[process.argv[2]]))' "$outputs" "$1"; }
algo_uri="$(output algoUri)"
sample_input="$(output sampleInput)"

say "calling algo://$algo_uri with $sample_input (official algorithmia npm client)"
answer="$(node -r ts-node/register/transpile-only examples/model-guide/call.ts "$algo_uri" "$sample_input")"

echo "algorithm:  algo://$algo_uri"
echo "endpoint:   $(output endpoint)"
echo "input:      $sample_input"
echo "answer:     $answer"
echo
echo "Call it yourself (the stack's outputs say how: pulumi stack output, with the variables above):"
echo "  $(output callWithCurl)"
if [ "$stack" = local ]; then
  echo "  algorithmia-local stops with the demo; serve it again with"
  echo "  npx algorithmia-local --port $port --data-dir .pulumi-local/algorithmia   (key: .pulumi-local/algorithmia/local-user.json)"
fi
echo "Run 'npm run demo' again for a no-change update; 'npm run demo -- --destroy' removes everything."
