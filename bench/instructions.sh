#!/usr/bin/env bash
# Instructions per request of each load-test target, counted by valgrind's
# callgrind, on 127.0.0.1 only. BENCHMARKS.md explains the result and records
# a run.
#
# Usage: bench/instructions.sh
#
# Requests per second vary by several percent between runs on a shared
# machine. The number of instructions a server executes per request does not,
# because callgrind counts them instead of timing them. For each target the
# script starts the server under callgrind (pinned to core 0, ROCKET_WORKERS=1,
# logging off), warms it up with wrk for 3 s, zeroes the counters, runs
# `wrk -t1 -c4` for DURATION, dumps the counters and divides the instructions
# of the whole process (every thread, SQLite's included) by the number of
# requests wrk completed. The servers, databases and tokens are the ones of
# bench/load.sh. Each server is stopped before the next one starts.
#
# Environment (defaults in brackets):
#   DURATION [20s]   length of the measured wrk run per target
#   PORT [18320]     port of the server under measurement
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-20s}
PORT=${PORT:-18320}
HOST=127.0.0.1
SCRIPT_NAME=instructions.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

require_tools valgrind:valgrind callgrind_control:valgrind wrk:wrk taskset:util-linux sqlite3:sqlite3 curl:curl

WORK=$(mktemp -d "${TMPDIR:-/tmp}/jwt-router-instructions.XXXXXX")
SERVER_PID=

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

# Starts `example` under callgrind with extra `jwt_router` settings and a
# database file, and waits until it responds.
start_server() {
  local name=$1 example=$2 settings=$3 database=$4

  require_free_port "$PORT" PORT
  (
    cd "$WORK"
    export ROCKET_CONFIG="$ROOT/Rocket.toml" ROCKET_ADDRESS=$HOST ROCKET_PORT=$PORT
    export ROCKET_WORKERS=1 ROCKET_LOG_LEVEL=off
    export ROCKET_JWT_ROUTER="{secret_file=\"$WORK/jwt-secret\"$settings}"
    export ROCKET_DATABASES="{app={url=\"sqlite://$database\"}}"
    exec taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.%p.out" \
      "$ROOT/target/release/examples/$example"
  ) >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!

  wait_until_ready "$name under callgrind" "$PORT" 120 "see $WORK/$name.log"
}

# Measures GET `path` with `token` on the running server and prints
# instructions per request.
measure() {
  local name=$1 path=$2 token=$3 output requests total
  local args=(-t1 -c4 --latency)
  [[ -z $token ]] || args+=(-H "Authorization: Bearer $token")

  taskset -c 1 wrk "${args[@]}" -d3s "http://$HOST:$PORT$path" >/dev/null
  callgrind_control -z "$SERVER_PID" >/dev/null 2>&1
  output=$(taskset -c 1 wrk "${args[@]}" "-d$DURATION" "http://$HOST:$PORT$path")
  callgrind_control --dump="$name" "$SERVER_PID" >/dev/null 2>&1
  sleep 1

  if grep -q "Non-2xx" <<<"$output"; then
    echo "$output" >&2
    fail "$name: GET $path returned non-2xx responses"
  fi
  requests=$(awk '/requests in/ { print $1 }' <<<"$output")

  # The dump contains the counts since the zeroing, for every thread.
  total=$(callgrind_annotate "$(ls -t "$WORK"/*.out.* | head -1)" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  awk -v total="$total" -v requests="$requests" 'BEGIN { printf "%.0f", total / requests }'
}

echo "== building the examples in release mode"
(cd "$ROOT" && cargo build --release --quiet --example quickstart --example bench_app --example baseline)

head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/jwt-secret"
create_users_database "$WORK/quickstart.db"
create_users_database "$WORK/baseline.db"

declare -A RESULT

echo "== quickstart"
start_server quickstart quickstart "" "$WORK/quickstart.db"
QUICKSTART_TOKEN=$(register_user "$PORT" instructions)
RESULT[ignored.library]=$(measure ignored-library / "")
RESULT[authed.library]=$(measure authed-library /api/v1/user "$QUICKSTART_TOKEN")
stop_server

echo "== quickstart with entity_cache_ttl = \"30s\""
start_server cached quickstart ',entity_cache_ttl="30s"' "$WORK/quickstart.db"
RESULT[cached.library]=$(measure cached-library /api/v1/user "$QUICKSTART_TOKEN")
stop_server

echo "== bench_app"
start_server bench_app bench_app "" "$WORK/quickstart.db"
RESULT[protected.library]=$(measure protected-library /api/v1/ping "$QUICKSTART_TOKEN")
stop_server

echo "== baseline"
start_server baseline baseline "" "$WORK/baseline.db"
BASELINE_TOKEN=$(register_user "$PORT" instructions)
RESULT[bare.hand]=$(measure bare-hand /bare "")
RESULT[ignored.hand]=$(measure ignored-hand / "")
RESULT[protected.hand]=$(measure protected-hand /api/v1/ping "$BASELINE_TOKEN")
RESULT[authed.hand]=$(measure authed-hand /api/v1/user "$BASELINE_TOKEN")
stop_server

# Prints one table line. `library` is empty for the row without a library
# target.
line() {
  local row=$1 library=$2 hand=$3 library_count=
  [[ -z $library ]] || library_count=${RESULT[$library]}
  awk -v row="$row" -v library="$library_count" -v hand="${RESULT[$hand]}" 'BEGIN {
    if (library == "") { printf "%-22s %12s %12d %8s\n", row, "", hand, ""; exit }
    printf "%-22s %12d %12d %8.3f\n", row, library, hand, hand / library
  }'
}

echo
echo "Instructions per request (whole process); wrk -t1 -c4 -d$DURATION under callgrind"
echo
printf '%-22s %12s %12s %8s\n' row library hand-written ratio
line "bare" "" bare.hand
line "ignored" ignored.library ignored.hand
line "ignored vs bare" ignored.library bare.hand
line "protected, no guard" protected.library protected.hand
line "AuthedEntity" authed.library authed.hand
line "AuthedEntity, cache" cached.library authed.hand
echo
echo "ratio = hand-written instructions / library instructions, so that it reads like a"
echo "throughput ratio: above 1.000 the library executes fewer instructions per request"
