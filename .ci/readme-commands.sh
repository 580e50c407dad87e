#!/usr/bin/env bash
# usage: .ci/readme-commands.sh <node bin folder> <clone folder>
#
# A newcomer's first minutes, checked: a fresh clone of this repository, then the README's
# first command — `npm ci && npm start` — under the given Node. Fails on any `npm warn` line
# (EBADENGINE, unreviewed install scripts, deprecations…) and, with LOG_FORMAT=json, on any
# stdout line of the service that is not JSON, or on "listening" said other than once.
# Bounded: start, wait for "listening", GET /health, SIGTERM, expect exit 0.
# The README's second command, `npm test`, is run by .ci/run in the same clone.
set -euo pipefail
node_bin=$1
clone=$2
source_repo="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$node_bin:$PATH"
start_timeout_s=300
echo "== $(node --version): fresh clone, npm ci, npm start (LOG_FORMAT=json)"

git clone -q --no-hardlinks "$source_repo" "$clone"
cd "$clone"
logs="$(mktemp -d)"
sessions="$(mktemp -d)"
trap 'rm -rf "$logs" "$sessions"' EXIT

fail() {
  echo "readme-commands ($(node --version)): $*" >&2
  for f in "$logs"/*; do echo "--- $f" >&2; cat "$f" >&2; done
  exit 1
}

npm ci --no-audit --no-fund >"$logs/ci.out" 2>&1 || fail "npm ci failed"
if grep -i '^npm warn' "$logs/ci.out" >&2; then fail "npm ci printed warnings"; fi

LOG_FORMAT=json PORT=0 SESSIONS_DIR="$sessions" npm start >"$logs/start.out" 2>"$logs/start.err" &
pid=$!
deadline=$((SECONDS + start_timeout_s))
until grep -q 'wa-vigil listening on' "$logs/start.out"; do
  kill -0 "$pid" 2>/dev/null || fail "npm start exited before listening"
  if ((SECONDS > deadline)); then
    kill -TERM "$pid"
    fail "npm start did not listen within ${start_timeout_s} s"
  fi
  sleep 1
done
url="$(grep -o 'wa-vigil listening on http://[^,]*' "$logs/start.out" | head -1 | sed 's/^wa-vigil listening on //')"
curl -fsS "$url/health" >/dev/null || fail "GET $url/health failed"
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
((code == 0)) || fail "npm start exited with $code after SIGTERM"

if grep -i '^npm warn' "$logs/start.out" "$logs/start.err" >&2; then fail "npm start printed warnings"; fi
# npm's own banner ("> wa-vigil@0.1.0 start", "> exec node …", blank lines) is npm's, not the service's.
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("> "));
  const bad = lines.filter((l) => { try { return typeof JSON.parse(l) !== "object"; } catch { return true; } });
  if (bad.length) { console.error("not JSON:\n" + bad.join("\n")); process.exit(1); }
  const listening = lines.filter((l) => /listening/i.test(JSON.parse(l).msg ?? ""));
  if (listening.length !== 1) { console.error(`"listening" logged ${listening.length} times`); process.exit(1); }
  console.log(`npm start: ${lines.length} JSON lines, "listening" once, exit 0 on SIGTERM`);
' "$logs/start.out" || fail "npm start's stdout under LOG_FORMAT=json"
