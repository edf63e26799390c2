#!/usr/bin/env bash
# Resident memory of the quickstart under sustained load, on 127.0.0.1 only.
# BENCHMARKS.md explains the result and records a run.
#
# Usage: bench/memory.sh
#
# It builds examples/quickstart.rs in release mode, gives it a SQLite file
# with 10,000 users, starts it pinned to core 0 with ROCKET_WORKERS=1 and
# logging off, registers USERS_WITH_TOKENS users, and runs wrk (pinned to core
# 1) for DURATION with a mix of requests: each connection cycles through the
# tokens on GET /api/v1/user, and every fourth request is GET / without a
# token, GET /api/v1/user with a forged token (401), or POST /api/v1/token
# (a new token). It samples VmRSS of the server every SAMPLE_SECONDS and
# prints the samples and the ratio of the last one to the one at 30 s. The
# server is stopped on exit.
#
# Environment (defaults in brackets):
#   DURATION [300]             seconds of load
#   SAMPLE_SECONDS [10]        seconds between samples
#   CONNECTIONS [32]           open connections of wrk
#   USERS_WITH_TOKENS [200]    users that get a token
#   PORT [18310]               port of the server
#   JWT_SETTINGS []            extra `jwt_router` settings, such as
#                              ',entity_cache_ttl="30s"'
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-300}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-32}
USERS_WITH_TOKENS=${USERS_WITH_TOKENS:-200}
PORT=${PORT:-18310}
JWT_SETTINGS=${JWT_SETTINGS:-}
HOST=127.0.0.1
SCRIPT_NAME=memory.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

require_tools wrk:wrk taskset:util-linux sqlite3:sqlite3 curl:curl
((DURATION > 30)) || fail "DURATION must be more than 30 seconds, because the reference sample is taken at 30 s"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/jwt-router-memory.XXXXXX")
SERVER_PID=
WRK_PID=

cleanup() {
  for pid in $WRK_PID $SERVER_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building the quickstart in release mode"
(cd "$ROOT" && cargo build --release --quiet --example quickstart)

echo "== preparing $WORK"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/jwt-secret"
create_users_database "$WORK/app.db"
require_free_port "$PORT" PORT

echo "== starting the quickstart on $HOST:$PORT (core 0)"
(
  cd "$WORK"
  export ROCKET_CONFIG="$ROOT/Rocket.toml" ROCKET_ADDRESS=$HOST ROCKET_PORT=$PORT
  export ROCKET_WORKERS=1 ROCKET_LOG_LEVEL=off
  export ROCKET_JWT_ROUTER="{secret_file=\"$WORK/jwt-secret\"$JWT_SETTINGS}"
  export ROCKET_DATABASES="{app={url=\"sqlite://$WORK/app.db\"}}"
  exec taskset -c 0 "$ROOT/target/release/examples/quickstart"
) >"$WORK/quickstart.log" 2>&1 &
SERVER_PID=$!

wait_until_ready quickstart "$PORT" 30 "see its log in $WORK/quickstart.log"

echo "== registering $USERS_WITH_TOKENS users"
tokens=()
for i in $(seq 1 "$USERS_WITH_TOKENS"); do
  tokens+=("$(register_user "$PORT" "memory-$i")")
done

# The wrk script: request() builds each request from the connection's
# counter, so every token is used and each kind of request recurs.
{
  echo 'local tokens = {'
  printf '  "%s",\n' "${tokens[@]}"
  echo '}'
  cat <<'LUA'
local counter = 0
local forged = tokens[1]:sub(1, -5) .. "AAAA"

request = function()
  counter = counter + 1
  local token = tokens[counter % #tokens + 1]
  local kind = counter % 16
  if kind == 4 then
    return wrk.format("GET", "/", {})
  elseif kind == 8 then
    return wrk.format("GET", "/api/v1/user", { ["Authorization"] = "Bearer " .. forged })
  elseif kind == 12 then
    return wrk.format("POST", "/api/v1/token", { ["Authorization"] = "Bearer " .. token })
  end
  return wrk.format("GET", "/api/v1/user", { ["Authorization"] = "Bearer " .. token })
end
LUA
} >"$WORK/mix.lua"

rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"
}

echo "== ${DURATION}s of wrk -t1 -c$CONNECTIONS (core 1); VmRSS every ${SAMPLE_SECONDS}s"
echo "   before load: $(rss_kib) KiB"
taskset -c 1 wrk -t1 "-c$CONNECTIONS" "-d${DURATION}s" -s "$WORK/mix.lua" "http://$HOST:$PORT" >"$WORK/wrk.out" &
WRK_PID=$!

reference=
last=
elapsed=0
while ((elapsed < DURATION)); do
  sleep "$SAMPLE_SECONDS"
  elapsed=$((elapsed + SAMPLE_SECONDS))
  kill -0 "$SERVER_PID" 2>/dev/null || fail "the quickstart exited during the load; see its log"
  last=$(rss_kib)
  ((elapsed != 30)) || reference=$last
  echo "   ${elapsed}s: $last KiB"
done

wait "$WRK_PID" || true
WRK_PID=
echo
grep -E "requests in|Requests/sec|Non-2xx" "$WORK/wrk.out" | sed 's/^/   /'

[[ -n $reference ]] || fail "no sample at 30 s; use a SAMPLE_SECONDS that divides 30"
awk -v reference="$reference" -v last="$last" -v duration="$DURATION" 'BEGIN {
  printf "\nVmRSS at %ds / VmRSS at 30s: %d / %d KiB = %.3f\n", duration, last, reference, last / reference
}'
