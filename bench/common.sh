# Helpers shared by the scripts in bench/. They are sourced, not run. The
# caller sets SCRIPT_NAME (for messages) and HOST before calling them.

USERS=10000

fail() {
  echo "$SCRIPT_NAME: $*" >&2
  exit 1
}

# Fails unless every `tool:package` argument names a command on PATH, and
# unless the machine has the 2 cores that the scripts pin servers and wrk to.
require_tools() {
  local entry tool package
  for entry in "$@"; do
    tool=${entry%%:*}
    package=${entry#*:}
    if ! command -v "$tool" >/dev/null 2>&1; then
      fail "\`$tool\` is missing; install it with \`apt-get update && apt-get install -y $package\`"
    fi
  done

  if (($(nproc) < 2)); then
    fail "needs 2 cores (servers on core 0, wrk on core 1) but nproc is $(nproc)"
  fi
}

# Creates a SQLite file with the quickstart's users table and USERS rows.
create_users_database() {
  sqlite3 "$1" <<SQL
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $USERS)
INSERT INTO users (name) SELECT 'user' || i FROM n;
SQL
}

# Fails if something already listens on `port`, because it would respond in
# place of the server under measurement. `setting` names the variable that
# moves the script to other ports.
require_free_port() {
  local port=$1 setting=$2
  if curl -s -o /dev/null --max-time 1 "http://$HOST:$port/"; then
    fail "port $port on $HOST is in use; stop what listens there or set $setting"
  fi
}

# Waits up to `seconds` until the server `name` on `port` responds with any
# HTTP status, and fails with `hint` otherwise.
wait_until_ready() {
  local name=$1 port=$2 seconds=$3 hint=$4 code attempt
  for ((attempt = 0; attempt < seconds * 5; attempt++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$HOST:$port/" || true)
    [[ $code == 000 ]] || return 0
    sleep 0.2
  done
  fail "$name did not respond on $HOST:$port within $seconds s; $hint"
}

# Registers a user called `name` through POST /api/v1/register on `port` and
# prints its token.
register_user() {
  local port=$1 name=$2 body token
  body=$(curl -s --max-time 30 -X POST -H 'Content-Type: application/json' -d "{\"name\":\"$name\"}" \
    "http://$HOST:$port/api/v1/register")
  token=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$body")
  [[ -n $token ]] || fail "POST /api/v1/register on port $port returned no token: $body"
  printf '%s' "$token"
}
