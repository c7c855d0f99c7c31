//! The `mcp-authz` binary: parses the command line and hands over to [`mcp_authz::cli`].

/// mimalloc instead of the C library's allocator. A token request allocates and frees a few
/// hundred small buffers (headers, form fields, claims, the JWS itself); with glibc's
/// allocator that was about a tenth of the token endpoint's CPU time under load (`perf
/// record -e cpu-clock` of `scripts/load.sh`'s client-credentials case), while mimalloc's
/// thread-local free lists serve them for a fraction of it. Only the binary sets it: the
/// library, its tests and the benches keep the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mcp_authz::cli::main()
}
