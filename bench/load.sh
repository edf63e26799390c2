#!/usr/bin/env bash
# Load test of rocket_jwt_router against a hand-written Rocket application,
# with wrk, on 127.0.0.1 only. BENCHMARKS.md explains the rows and records a run.
#
# Usage: bench/load.sh
#
# It builds examples/quickstart.rs, examples/bench_app.rs (rocket_jwt_router)
# and examples/baseline.rs (no rocket_jwt_router) in release mode, gives the
# quickstart and the baseline each a SQLite file with 10,000 users, starts the
# servers pinned to core 0 with ROCKET_WORKERS=1 and logging off (a second
# quickstart, with the entity cache on, shares the first one's file), mints
# one token per application through POST /api/v1/register, and runs wrk
# (one thread, pinned to core 1) RUNS times against each target, alternating
# library and hand-written targets. The table shows the median of each column
# over the runs, and the ratio of each library row's requests/s to its
# hand-written counterpart's. Every server is stopped on exit.
#
# Environment (defaults in brackets):
#   RUNS [3]                 runs per target; the median of an even count is
#                            the lower of the two middle values
#   DURATION [10s]           length of one wrk run
#   WARMUP [2s]              one discarded wrk run per target before the runs
#   CONNECTIONS [32]         open connections of wrk
#   BASE_PORT [18300]        the servers listen on BASE_PORT to BASE_PORT + 3
#   CACHE_TTL [30s]          entity_cache_ttl of the second quickstart
#   LOAD_WAIT_SECONDS [600]  maximum wait, before each row of runs, for running
#                            cargo or rustc processes to end
#   SERVER_LOG_LEVEL [off]   ROCKET_LOG_LEVEL of the servers; logs go to
#                            $WORK/<example>.log, deleted on exit
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-32}
BASE_PORT=${BASE_PORT:-18300}
LOAD_WAIT_SECONDS=${LOAD_WAIT_SECONDS:-600}
SERVER_LOG_LEVEL=${SERVER_LOG_LEVEL:-off}
CACHE_TTL=${CACHE_TTL:-30s}
HOST=127.0.0.1
SCRIPT_NAME=load.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

QUICKSTART_PORT=$BASE_PORT
BENCH_APP_PORT=$((BASE_PORT + 1))
BASELINE_PORT=$((BASE_PORT + 2))
CACHED_PORT=$((BASE_PORT + 3))

require_tools wrk:wrk taskset:util-linux sqlite3:sqlite3 curl:curl

WORK=$(mktemp -d "${TMPDIR:-/tmp}/jwt-router-load.XXXXXX")
SERVER_PIDS=()

stop_servers() {
  local pid
  for pid in ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap stop_servers EXIT

# Starts an example binary on core 0 with the repository's Rocket.toml, the
# shared secret, extra `jwt_router` settings and, if given, a database file.
# Runs it in $WORK, so that the quickstart creates its development data
# folder there. Its log is $WORK/<name>.log.
start_server() {
  local name=$1 example=$2 port=$3 settings=$4 database=${5:-}
  (
    cd "$WORK"
    export ROCKET_CONFIG="$ROOT/Rocket.toml" ROCKET_ADDRESS=$HOST ROCKET_PORT=$port
    export ROCKET_WORKERS=1 ROCKET_LOG_LEVEL=$SERVER_LOG_LEVEL
    export ROCKET_JWT_ROUTER="{secret_file=\"$WORK/jwt-secret\"$settings}"
    if [[ -n $database ]]; then
      export ROCKET_DATABASES="{app={url=\"sqlite://$database\"}}"
    fi
    exec taskset -c 0 "$ROOT/target/release/examples/$example"
  ) >"$WORK/$name.log" 2>&1 &
  SERVER_PIDS+=("$!")
}

# Fails unless GET `path` on `port` returns 200, so that no row measures an error.
expect_ok() {
  local port=$1 path=$2 token=${3:-} code
  local headers=()
  [[ -z $token ]] || headers=(-H "Authorization: Bearer $token")
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 ${headers[@]+"${headers[@]}"} "http://$HOST:$port$path")
  [[ $code == 200 ]] || fail "GET $path on port $port returned $code instead of 200"
}

# Waits for running cargo or rustc processes, which distort timings, to end.
wait_for_idle() {
  local waited=0
  while pgrep -x 'cargo|rustc' >/dev/null 2>&1; do
    if ((waited >= LOAD_WAIT_SECONDS)); then
      echo "load.sh: cargo or rustc still running after ${LOAD_WAIT_SECONDS}s; measuring anyway" >&2
      return
    fi
    if ((waited == 0)); then
      echo "load.sh: waiting for running cargo or rustc processes to end" >&2
    fi
    sleep 5
    waited=$((waited + 5))
  done
}

# The wrk targets, by name: "port path token-variable", filled in once the
# tokens exist.
declare -A TARGETS

# Runs wrk once against `target` and appends "requests/s p50_us p99_us" to
# its result file, or only discards the output when `mode` is warmup.
run_wrk() {
  local target=$1 mode=$2 duration=$DURATION port path token_name token output summary
  read -r port path token_name <<<"${TARGETS[$target]}"
  token=${!token_name:-}
  [[ $mode == run ]] || duration=$WARMUP

  local args=(-t1 "-c$CONNECTIONS" "-d$duration" --latency)
  [[ -z $token ]] || args+=(-H "Authorization: Bearer $token")
  output=$(taskset -c 1 wrk "${args[@]}" "http://$HOST:$port$path")
  [[ $mode == run ]] || return 0

  summary=$(awk '
    function to_us(value) {
      if (value ~ /us$/) return value + 0
      if (value ~ /ms$/) return value * 1000
      if (value ~ /s$/) return value * 1000000
      return -1
    }
    /^Requests\/sec:/ { rps = $2 }
    /^ +50% / { p50 = to_us($2) }
    /^ +99% / { p99 = to_us($2) }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { errors = $0 }
    END { printf "%s %s %s %d %s\n", rps, p50, p99, bad, (errors == "" ? "-" : "socket-errors") }
  ' <<<"$output")

  local rps p50 p99 bad errors
  read -r rps p50 p99 bad errors <<<"$summary"
  if ((bad > 0)) || [[ $errors != - ]]; then
    echo "$output" >&2
    fail "$target: wrk saw $bad non-2xx responses or socket errors; the run is not valid"
  fi
  echo "$rps $p50 $p99" >>"$WORK/results/$target"
}

# Prints the median of column `column` of a target's result file.
median() {
  local target=$1 column=$2
  awk -v column="$column" '{ print $column }' "$WORK/results/$target" | sort -g |
    awk '{ values[NR] = $1 } END { print values[int((NR + 1) / 2)] }'
}

echo "== building the examples in release mode"
(cd "$ROOT" && cargo build --release --quiet --example quickstart --example bench_app --example baseline)

echo "== preparing $WORK"
mkdir -p "$WORK/results"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/jwt-secret"
create_users_database "$WORK/quickstart.db"
create_users_database "$WORK/baseline.db"

for port in "$QUICKSTART_PORT" "$BENCH_APP_PORT" "$BASELINE_PORT" "$CACHED_PORT"; do
  require_free_port "$port" BASE_PORT
done

echo "== starting the servers on $HOST:$QUICKSTART_PORT-$CACHED_PORT (core 0)"
start_server quickstart quickstart "$QUICKSTART_PORT" "" "$WORK/quickstart.db"
start_server bench_app bench_app "$BENCH_APP_PORT" ""
start_server baseline baseline "$BASELINE_PORT" "" "$WORK/baseline.db"
start_server quickstart-cached quickstart "$CACHED_PORT" ",entity_cache_ttl=\"$CACHE_TTL\"" "$WORK/quickstart.db"
LOG_HINT="rerun with SERVER_LOG_LEVEL=normal to see its log"
wait_until_ready quickstart "$QUICKSTART_PORT" 30 "$LOG_HINT"
wait_until_ready bench_app "$BENCH_APP_PORT" 30 "$LOG_HINT"
wait_until_ready baseline "$BASELINE_PORT" 30 "$LOG_HINT"
wait_until_ready quickstart-cached "$CACHED_PORT" 30 "$LOG_HINT"

# The quickstarts and bench_app share the secret, and the quickstarts share
# their database, so the quickstart's token also authenticates on the other
# two. TARGETS names these variables, and run_wrk reads them by indirect
# expansion.
# shellcheck disable=SC2034
QUICKSTART_TOKEN=$(register_user "$QUICKSTART_PORT" load-test)
# shellcheck disable=SC2034
BASELINE_TOKEN=$(register_user "$BASELINE_PORT" load-test)
# shellcheck disable=SC2034
NO_TOKEN=

TARGETS=(
  [bare.hand]="$BASELINE_PORT /bare NO_TOKEN"
  [ignored.library]="$QUICKSTART_PORT / NO_TOKEN"
  [ignored.hand]="$BASELINE_PORT / NO_TOKEN"
  [protected.library]="$BENCH_APP_PORT /api/v1/ping QUICKSTART_TOKEN"
  [protected.hand]="$BASELINE_PORT /api/v1/ping BASELINE_TOKEN"
  [authed.library]="$QUICKSTART_PORT /api/v1/user QUICKSTART_TOKEN"
  [authed.hand]="$BASELINE_PORT /api/v1/user BASELINE_TOKEN"
  [cached.library]="$CACHED_PORT /api/v1/user QUICKSTART_TOKEN"
)
ROWS=(bare ignored protected authed cached)
ORDER=(bare.hand ignored.library ignored.hand protected.library protected.hand authed.library authed.hand cached.library)

for target in "${ORDER[@]}"; do
  read -r port path token_name <<<"${TARGETS[$target]}"
  expect_ok "$port" "$path" "${!token_name}"
done

echo "== warming up each target for $WARMUP"
for target in "${ORDER[@]}"; do
  run_wrk "$target" warmup
done

echo "== $RUNS runs of wrk -t1 -c$CONNECTIONS -d$DURATION per target (core 1)"
LOADS=()
for run in $(seq 1 "$RUNS"); do
  for row in "${ROWS[@]}"; do
    wait_for_idle
    LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")

    # Alternate which application goes first, so that drift in machine load
    # does not always favor the same side.
    if ((run % 2 == 1)); then
      targets=("$row.library" "$row.hand")
    else
      targets=("$row.hand" "$row.library")
    fi
    for target in "${targets[@]}"; do
      if [[ -n ${TARGETS[$target]:-} ]]; then
        run_wrk "$target" run
      fi
    done
  done
  echo "   run $run of $RUNS done"
done

# Prints one table line. Hand-written rows have no ratio.
print_line() {
  local label=$1 application=$2 target=$3 ratio=${4:-}
  awk -v label="$label" -v app="$application" -v rps="$(median "$target" 1)" \
    -v p50="$(median "$target" 2)" -v p99="$(median "$target" 3)" -v ratio="$ratio" \
    'BEGIN { printf "%-22s %-26s %12.0f %10.2f %10.2f %8s\n", label, app, rps, p50 / 1000, p99 / 1000, ratio }'
}

ratio() {
  awk -v library="$(median "$1" 1)" -v hand="$(median "$2" 1)" 'BEGIN { printf "%.3f", library / hand }'
}

echo
echo "Median of $RUNS runs; wrk -t1 -c$CONNECTIONS -d$DURATION; servers: 1 worker on core 0; 1-minute load"
echo "average at the start of each row of runs: ${LOADS[*]}"
echo
printf '%-22s %-26s %12s %10s %10s %8s\n' row application requests/s "p50 (ms)" "p99 (ms)" ratio
print_line "bare" "baseline GET /bare" bare.hand
print_line "ignored" "quickstart GET /" ignored.library "$(ratio ignored.library ignored.hand)"
print_line "ignored" "baseline GET /" ignored.hand
print_line "protected, no guard" "bench_app GET /api/v1/ping" protected.library "$(ratio protected.library protected.hand)"
print_line "protected, no guard" "baseline GET /api/v1/ping" protected.hand
print_line "AuthedEntity" "quickstart GET /api/v1/user" authed.library "$(ratio authed.library authed.hand)"
print_line "AuthedEntity" "baseline GET /api/v1/user" authed.hand
print_line "AuthedEntity, cache" "quickstart GET /api/v1/user" cached.library "$(ratio cached.library authed.hand)"
echo
echo "ratio = library requests/s / hand-written requests/s of the same row; the cached row"
echo "is compared with the hand-written AuthedEntity row, which has no cache"
echo "quickstart ignored GET / versus baseline bare GET /bare: $(ratio ignored.library bare.hand)"
echo
echo "requests/s of each run, in run order:"
for target in "${ORDER[@]}"; do
  printf '  %-18s %s\n' "$target" "$(awk '{ printf "%.0f ", $1 }' "$WORK/results/$target")"
done
