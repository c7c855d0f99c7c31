# syntax=docker/dockerfile:1
# mcp-authz: release build in a Rust image, run as non-root on distroless.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src tests/it benches \
 && echo 'fn main() {}' > src/main.rs \
 && echo '' > src/lib.rs \
 && echo '' > tests/it/main.rs \
 && cargo build --release --locked --bin mcp-authz \
 && rm -rf src tests
COPY src ./src
COPY migrations ./migrations
COPY config ./config
COPY templates ./templates
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin mcp-authz \
 && mkdir -p /out/data \
 && cp target/release/mcp-authz /out/mcp-authz

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/mcp-authz /usr/local/bin/mcp-authz
COPY --from=build --chown=65532:65532 /out/data /data
# The same settings the release binary is smoke-tested with in CI (scripts/image-env-smoke.sh).
# Set MCP_AUTHZ__SERVER__ISSUER to the public https URL and mount keys and secrets.
ENV MCP_AUTHZ__SERVER__LISTEN=0.0.0.0:8080 \
    MCP_AUTHZ__DATABASE__URL=sqlite:///data/mcp-authz.db \
    MCP_AUTHZ__KEYS__DATA_DIR=/data \
    MCP_AUTHZ__LOG__FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/mcp-authz", "health"]
ENTRYPOINT ["/usr/local/bin/mcp-authz"]
CMD ["serve"]
