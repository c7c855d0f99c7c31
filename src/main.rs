//! The `mcp-authz` binary: parses the command line and hands over to [`mcp_authz::cli`].

fn main() -> std::process::ExitCode {
    mcp_authz::cli::main()
}
