#!/usr/bin/env bash
# Load benchmark of the hot paths, each beside its ceiling (see README, "Load benchmark").
#
#   scripts/load.sh [sqlite|postgres|both]     (default: both)
#
# Builds the release binary and the ceiling server (benches/ceilings.rs), starts
# mcp-authz pinned to CPU 0 (taskset) and drives it with wrk pinned to CPU 1, 32
# connections, 5 s warm-up then 10 s measured, for: client_credentials with
# client_secret_basic, client_credentials with private_key_jwt, redemption of an ID-JAG
# (jwt-bearer), introspection of a JWT,
# GET of the JWKS and of the metadata. The ceiling of each case runs in the same way
# (for the documents: the same bytes, served by a minimal handler)
# on the same CPU. Prints req/s, p50, p99, server CPU microseconds per request, the
# ratio to the ceiling and the count of non-2xx answers (which must be 0).
# PostgreSQL: starts a throwaway local cluster (fsync on), or, when LOAD_POSTGRES_URL is
# set, creates a fresh database on that server and drops it afterwards.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
backends=${1:-both}
connections=${LOAD_CONNECTIONS:-32}
warmup=${LOAD_WARMUP:-5}
duration=${LOAD_DURATION:-10}
server_port=${LOAD_PORT:-18480}
ceiling_port=$((server_port + 1))

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
    log "installing $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v wrk >/dev/null || apt_install wrk
command -v taskset >/dev/null || apt_install util-linux
command -v curl >/dev/null || apt_install curl
if [ "$(nproc)" -lt 2 ]; then
    echo "needs at least 2 CPUs (server on CPU 0, load generator on CPU 1)" >&2
    exit 1
fi

work=$(mktemp -d /tmp/mcp-authz-load.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${load_db:-}" ]; then psql -q "$LOAD_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $load_db" >/dev/null 2>&1 || true; fi
    if [ -n "${pg_dir:-}" ]; then run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$work" "${pg_dir:-}"
}
trap cleanup EXIT

log "building the release binary and the ceiling server"
cargo build --release --locked --bin mcp-authz >&2
ceilings=$(cargo bench --locked --bench ceilings --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*ceilings[^"]*"' | tail -n 1 | cut -d'"' -f4)
server_bin="$root/target/release/mcp-authz"
[ -x "$ceilings" ] || { echo "could not build benches/ceilings.rs" >&2; exit 1; }

"$ceilings" keygen "$work"
"$ceilings" token "$work/client.pem" >"$work/ceiling-token"

# --- wrk scripts ----------------------------------------------------------------------
# One Lua prelude: count every answer that is not 2xx, print one machine-readable line.
cat >"$work/common.lua" <<'LUA'
bad = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end
setup = function(thread) table.insert(threads, thread) end
threads = {}
done = function(summary, latency, requests)
  local non2xx = 0
  for _, t in ipairs(threads) do non2xx = non2xx + (t:get("bad") or 0) end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), non2xx, errors))
end
LUA

form_post() { # $1 file, $2 body, $3 extra header line (or empty)
    {
        cat "$work/common.lua"
        printf 'wrk.method = "POST"\n'
        printf 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        [ -n "$3" ] && printf '%s\n' "$3"
        printf 'wrk.body = "%s"\n' "$2"
    } >"$1"
}
get_script() { cat "$work/common.lua" >"$1"; }
assertion_script() { # $1 file, $2 form prefix, $3 extra header line; reads the file named by the first script arg
    {
        cat "$work/common.lua"
        printf 'local prefix = "%s"\n' "$2"
        [ -n "$3" ] && printf '%s\n' "$3"
        cat <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local lines = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
end
request = function()
  i = i + 1
  local body = prefix .. lines[((i - 1) % #lines) + 1]
  return wrk.format(nil, nil, nil, body)
end
LUA
    } >"$1"
}

# Runs wrk on CPU 1 against $1 (URL) with script $2 (and script args), measuring the CPU
# time of process $3. Prints "rps p50_us p99_us cpu_us_per_req non2xx".
measure() {
    local url=$1 script=$2 pid=$3 warm_args=$4 run_args=$5
    taskset -c 1 wrk -t1 -c"$connections" -d"${warmup}s" -s "$script" "$url" -- $warm_args >/dev/null 2>&1 || true
    local before after
    before=$(cpu_ticks "$pid")
    local out
    out=$(taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --timeout 5s -s "$script" "$url" -- $run_args 2>&1)
    after=$(cpu_ticks "$pid")
    local line
    line=$(grep '^RESULT' <<<"$out" || { echo "$out" >&2; return 1; })
    local requests seconds p50 p99 non2xx socket
    requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
    seconds=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
    p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$line")
    p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
    non2xx=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")
    socket=$(sed -E 's/.*socket_errors=([0-9]+).*/\1/' <<<"$line")
    local hz
    hz=$(getconf CLK_TCK)
    awk -v r="$requests" -v s="$seconds" -v p50="$p50" -v p99="$p99" -v bad="$((non2xx + socket))" \
        -v ticks="$((after - before))" -v hz="$hz" \
        'BEGIN { printf "%.0f %d %d %.1f %d\n", r / s, p50, p99, (r > 0 ? ticks * 1e6 / hz / r : 0), bad }'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

wait_http() {
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# --- PostgreSQL ------------------------------------------------------------------------
run_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres:postgres "$pg_dir"
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}
start_postgres() { # sets pg_url (no subshell: cleanup must see pg_dir)
    if [ -n "${LOAD_POSTGRES_URL:-}" ]; then
        load_db="mcp_authz_load_$$"
        psql -q "$LOAD_POSTGRES_URL" -c "CREATE DATABASE $load_db" >/dev/null
        pg_url="${LOAD_POSTGRES_URL%/*}/$load_db"
        return
    fi
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$pg_bin" ]; then
        apt_install postgresql
        pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    pg_dir=$(mktemp -d /tmp/mcp-authz-load-pg.XXXXXX)
    run_pg "$pg_bin/initdb" -D "$pg_dir/data" -U mcp_authz --auth=trust -E UTF8 >/dev/null
    # Durable commits (fsync on): the jti insert is measured as production would pay it.
    # PostgreSQL shares CPU 0 with the server under test: the database is part of it.
    run_pg taskset -c 0 "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
        -o "-p 54391 -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
    pg_url="postgres://mcp_authz@127.0.0.1:54391/postgres"
}

# --- One run ---------------------------------------------------------------------------
run_backend() {
    local backend=$1 url=$2
    local dir="$work/$backend"
    mkdir -p "$dir"
    local issuer="http://127.0.0.1:$server_port"
    cat >"$dir/config.toml" <<EOF
[server]
listen = "127.0.0.1:$server_port"
issuer = "$issuer"
[dev]
loopback = true
[database]
url = "$url"
max_connections = 16
[keys]
data_dir = "$dir/data"
[log]
filter = "warn"
EOF
    local admin_token
    admin_token=$("$server_bin" --config "$dir/config.toml" admin create-token --name load 2>/dev/null | tail -n 1)
    taskset -c 0 "$server_bin" --config "$dir/config.toml" serve >"$dir/server.log" 2>&1 &
    local server_pid=$!
    pids+=("$server_pid")
    wait_http "$issuer/.well-known/oauth-authorization-server"

    local api="$issuer/admin/api/v1"
    local auth="Authorization: Bearer $admin_token"
    post_json() { curl -fsS -H "$auth" -H 'Content-Type: application/json' "$api/$1" -d "$2"; }
    local resource="https://mcp.example.com/mcp"
    post_json servers "{\"resource\":\"$resource\",\"name\":\"Load MCP server\",\"scopes\":[{\"name\":\"files:read\",\"description\":\"Read files\"}],\"default_scopes\":[\"files:read\"]}" >/dev/null
    local secret_client jwt_client mcp_client
    secret_client=$(post_json clients '{"client_name":"Load secret client","grant_types":["client_credentials"]}')
    jwt_client=$(post_json clients "{\"client_name\":\"Load key client\",\"grant_types\":[\"client_credentials\"],\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":$(cat "$work/client.jwks.json")}")
    mcp_client=$(post_json clients "{\"client_name\":\"Load MCP server client\",\"grant_types\":[],\"allow_introspection\":true,\"allowed_resources\":[\"$resource\"]}")
    field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\1/" <<<"$2"; }
    local basic mcp_basic jwt_id
    basic=$(printf '%s:%s' "$(field client_id "$secret_client")" "$(field client_secret "$secret_client")" | base64 -w0)
    mcp_basic=$(printf '%s:%s' "$(field client_id "$mcp_client")" "$(field client_secret "$mcp_client")" | base64 -w0)
    jwt_id=$(field client_id "$jwt_client")
    # Cross App Access: a trusted IdP (the same test key) and a client it speaks for.
    local jag_client idp_issuer="https://idp.load.example"
    jag_client=$(post_json clients '{"client_name":"Load agent","grant_types":["urn:ietf:params:oauth:grant-type:jwt-bearer"]}')
    local jag_id jag_basic
    jag_id=$(field client_id "$jag_client")
    jag_basic=$(printf '%s:%s' "$jag_id" "$(field client_secret "$jag_client")" | base64 -w0)
    post_json idps "{\"issuer\":\"$idp_issuer\",\"jwks\":$(cat "$work/client.jwks.json"),\"clients\":[{\"client_id\":\"$jag_id\"}],\"jit_provisioning\":true}" >/dev/null
    local access_token
    access_token=$(curl -fsS -H "Authorization: Basic $basic" "$issuer/oauth2/token" -d grant_type=client_credentials |
        sed -E 's/.*"access_token":"([^"]*)".*/\1/')

    form_post "$dir/cc.lua" "grant_type=client_credentials" "wrk.headers[\"Authorization\"] = \"Basic $basic\""
    form_post "$dir/introspect.lua" "token=$access_token" "wrk.headers[\"Authorization\"] = \"Basic $mcp_basic\""
    form_post "$dir/ceiling-token.lua" "grant_type=client_credentials" ""
    form_post "$dir/ceiling-introspect.lua" "token=$(cat "$work/ceiling-token")" ""
    get_script "$dir/get.lua"
    assertion_script "$dir/assertion.lua" \
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" ""
    assertion_script "$dir/id-jag.lua" \
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" \
        "wrk.headers[\"Authorization\"] = \"Basic $jag_basic\""

    # Assertions are single use: separate sets for warm-up and measurement, for the
    # server and for the ceiling, generated just before use (they live ~10 minutes).
    local n=$((40000 * (warmup + duration) / 15 + 60000))
    log "$backend: signing $((4 * n)) client assertions"
    "$ceilings" assertions "$work/client.pem" "$jwt_id" "$issuer" "$n" "$backend-warm" >"$dir/a-warm"
    "$ceilings" assertions "$work/client.pem" "$jwt_id" "$issuer" "$n" "$backend-run" >"$dir/a-run"
    "$ceilings" assertions "$work/client.pem" "$jwt_id" "$issuer" "$n" "$backend-cwarm" >"$dir/c-warm"
    "$ceilings" assertions "$work/client.pem" "$jwt_id" "$issuer" "$n" "$backend-crun" >"$dir/c-run"
    log "$backend: signing $((2 * n)) ID-JAGs"
    "$ceilings" id-jags "$work/client.pem" "$idp_issuer" "$issuer" "$jag_id" "$resource" "$n" "$backend-jwarm" >"$dir/j-warm"
    "$ceilings" id-jags "$work/client.pem" "$idp_issuer" "$issuer" "$jag_id" "$resource" "$n" "$backend-jrun" >"$dir/j-run"

    # The JWKS and metadata ceilings answer the very bytes the server answers.
    curl -fsS "$issuer/jwks.json" >"$dir/jwks.json"
    curl -fsS "$issuer/.well-known/oauth-authorization-server" >"$dir/metadata.json"
    taskset -c 0 "$ceilings" serve "127.0.0.1:$ceiling_port" "$(ceiling_db "$backend" "$url" "$dir")" \
        "$work/client.pem" "$dir/jwks.json" "$dir/metadata.json" >"$dir/ceiling.log" 2>&1 &
    local ceiling_pid=$!
    pids+=("$ceiling_pid")
    wait_http "http://127.0.0.1:$ceiling_port/fixed"

    local ceiling="http://127.0.0.1:$ceiling_port"
    printf '\n%s\n' "$backend ($connections connections, ${duration}s after ${warmup}s warm-up; server on CPU 0, wrk on CPU 1)"
    printf '%-30s %9s %8s %8s %10s %9s %9s %7s %7s\n' case "req/s" "p50 ms" "p99 ms" "CPU us/req" "ceiling" "ceil p99" ratio non2xx
    row() { # name, server measurement, ceiling measurement
        local name=$1 s=($2) c=($3)
        awk -v n="$name" -v rps="${s[0]}" -v p50="${s[1]}" -v p99="${s[2]}" -v cpu="${s[3]}" -v bad="$((${s[4]} + ${c[4]}))" -v crps="${c[0]}" -v cp99="${c[2]}" \
            'BEGIN { printf "%-30s %9d %8.2f %8.2f %10.1f %9d %9.2f %7.2f %7d\n", n, rps, p50 / 1000, p99 / 1000, cpu, crps, cp99 / 1000, rps / crps, bad }'
    }
    row "client_credentials (secret)" \
        "$(measure "$issuer/oauth2/token" "$dir/cc.lua" "$server_pid" "" "")" \
        "$(measure "$ceiling/token" "$dir/ceiling-token.lua" "$ceiling_pid" "" "")"
    row "client_credentials (key JWT)" \
        "$(measure "$issuer/oauth2/token" "$dir/assertion.lua" "$server_pid" "$dir/a-warm" "$dir/a-run")" \
        "$(measure "$ceiling/assertion" "$dir/assertion.lua" "$ceiling_pid" "$dir/c-warm" "$dir/c-run")"
    row "jwt-bearer (ID-JAG)" \
        "$(measure "$issuer/oauth2/token" "$dir/id-jag.lua" "$server_pid" "$dir/j-warm" "$dir/j-run")" \
        "$(measure "$ceiling/assertion" "$dir/assertion.lua" "$ceiling_pid" "$dir/j-warm" "$dir/j-run")"
    row "introspection (JWT)" \
        "$(measure "$issuer/oauth2/introspect" "$dir/introspect.lua" "$server_pid" "" "")" \
        "$(measure "$ceiling/introspect" "$dir/ceiling-introspect.lua" "$ceiling_pid" "" "")"
    row "GET /jwks.json" \
        "$(measure "$issuer/jwks.json" "$dir/get.lua" "$server_pid" "" "")" \
        "$(measure "$ceiling/fixed/jwks" "$dir/get.lua" "$ceiling_pid" "" "")"
    row "GET metadata" \
        "$(measure "$issuer/.well-known/oauth-authorization-server" "$dir/get.lua" "$server_pid" "" "")" \
        "$(measure "$ceiling/fixed/metadata" "$dir/get.lua" "$ceiling_pid" "" "")"

    kill "$server_pid" "$ceiling_pid" 2>/dev/null || true
    wait "$server_pid" "$ceiling_pid" 2>/dev/null || true
}

ceiling_db() { # the ceiling's jti table lives in the same kind of database
    case $1 in
        sqlite) echo "sqlite://$3/ceiling.db" ;;
        postgres) echo "$2" ;;
    esac
}

case $backends in
    sqlite) run_backend sqlite "sqlite://$work/sqlite/mcp-authz.db" ;;
    postgres) start_postgres; run_backend postgres "$pg_url" ;;
    both)
        run_backend sqlite "sqlite://$work/sqlite/mcp-authz.db"
        start_postgres
        run_backend postgres "$pg_url"
        ;;
    *) echo "usage: $0 [sqlite|postgres|both]" >&2; exit 2 ;;
esac
