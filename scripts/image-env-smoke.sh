#!/usr/bin/env bash
# Runs the release binary with exactly the environment the Dockerfile sets (its /data
# mapped to a temporary directory), as the container would: serve, health check,
# metadata, an admin call, SIGTERM, restart with the data kept. No Docker engine needed.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/release/mcp-authz}
work=$(mktemp -d /tmp/mcp-authz-image.XXXXXX)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The ENV instruction of the runtime stage, continuation lines joined.
mapfile -t image_env < <(awk '
    /^ENV / { collecting = 1; sub(/^ENV /, "") }
    collecting { line = $0; more = sub(/\\$/, "", line); gsub(/^[ \t]+|[ \t]+$/, "", line);
                 if (line != "") print line; if (!more) collecting = 0 }' Dockerfile \
    | sed "s#/data#$work/data#g")
[ "${#image_env[@]}" -gt 0 ] || { echo "no ENV found in Dockerfile"; exit 1; }
mkdir -p "$work/data"
token=$(head -c 32 /dev/urandom | base64 | tr -d '=+/')
# What an operator adds: a bootstrap token; loopback dev mode stands in for the https issuer.
run_env=(env -i "PATH=$PATH" "${image_env[@]}" "MCP_AUTHZ__DEV__LOOPBACK=true" "MCP_AUTHZ__ADMIN__BOOTSTRAP_TOKEN=$token")
base=http://127.0.0.1:8080

start() {
    "${run_env[@]}" "$bin" serve >>"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        if "${run_env[@]}" "$bin" health >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    cat "$work/server.log"; echo "server did not become healthy"; exit 1
}

stop() {
    kill -TERM "$server_pid"
    wait "$server_pid"
    server_pid=""
}

echo "image env: ${image_env[*]}"
start
curl -fsS "$base/.well-known/oauth-authorization-server" | grep -q '"issuer":"http://127.0.0.1:8080"'
curl -fsS "$base/jwks.json" | grep -q '"kty":"EC"'
curl -fsS -X POST "$base/admin/api/v1/servers" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d '{"resource":"https://mcp.example.com/mcp","name":"Smoke","scopes":[{"name":"read","description":"Read"}],"default_scopes":["read"]}' >/dev/null
kid=$(curl -fsS "$base/jwks.json")
stop
start
[ "$(curl -fsS "$base/jwks.json")" = "$kid" ] || { echo "keys changed across restart"; exit 1; }
curl -fsS "$base/admin/api/v1/servers" -H "Authorization: Bearer $token" | grep -q 'https://mcp.example.com/mcp'
grep -q '"level":"INFO"' "$work/server.log" || { echo "expected JSON logs"; cat "$work/server.log"; exit 1; }
stop
echo "image environment smoke test passed"
