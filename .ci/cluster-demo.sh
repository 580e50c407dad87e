#!/usr/bin/env bash
# usage: .ci/cluster-demo.sh (in a clone with node_modules)
#
# `npm run cluster:demo` as a user runs it: embedded PostgreSQL, the simulator, two nodes.
# It runs for 30 s (CLUSTER_DEMO_SECONDS); meanwhile both nodes must answer GET /cluster and
# list each other; then it must stop by itself with exit 0.
set -euo pipefail
ready_timeout_s=300
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
fail() {
  echo "cluster:demo: $*" >&2
  cat "$log" >&2
  exit 1
}

CLUSTER_DEMO_SECONDS=30 npm run cluster:demo >"$log" 2>&1 &
pid=$!
deadline=$((SECONDS + ready_timeout_s))
until grep -q '^cluster:demo ready' "$log"; do
  kill -0 "$pid" 2>/dev/null || fail "exited before it was ready"
  if ((SECONDS > deadline)); then
    kill -TERM "$pid"
    fail "not ready within ${ready_timeout_s} s"
  fi
  sleep 1
done
key="$(grep -o "x-api-key: [0-9a-f]*" "$log" | head -1 | sed 's/^x-api-key: //')"
check_cluster() { # url: both nodes listed (a node joins the list with its first lease renew)
  curl -fsS -H "x-api-key: $key" "$1/cluster" | node -e '
    const body = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(body.nodes?.length === 2 ? 0 : 1);
  '
}
for node in node-1 node-2; do
  url="$(grep -o "^  $node: *http://[0-9.:]*" "$log" | grep -o 'http://.*')"
  tries=0
  until check_cluster "$url"; do
    tries=$((tries + 1))
    ((tries < 20)) || fail "GET $url/cluster does not list both nodes"
    sleep 1
  done
  echo "cluster:demo: $node ($url) GET /cluster lists both nodes"
done
code=0
wait "$pid" || code=$?
((code == 0)) || fail "exited with $code"
echo "cluster:demo: ran 30 s, both nodes served GET /cluster, stopped cleanly"
