//! The binary as an operator runs it: config check, serve with SIGTERM, keys, tokens, users.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-authz");
const TOKEN: &str = "cli-bootstrap-token-0123456789abcdef";

/// A command with a clean environment plus `vars`.
fn command(dir: &TempDir, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .current_dir(dir.path())
        .env("MCP_AUTHZ__LOG__FILTER", "warn");
    for (key, value) in vars {
        command.env(key, value);
    }
    command
}

fn run(dir: &TempDir, vars: &[(&str, &str)], args: &[&str]) -> Output {
    command(dir, vars).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_check_prints_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("MCP_AUTHZ__DEV__LOOPBACK", "true"),
        ("MCP_AUTHZ__SERVER__LISTEN", "127.0.0.1:9999"),
        ("MCP_AUTHZ__ADMIN__BOOTSTRAP_TOKEN", TOKEN),
        (
            "MCP_AUTHZ__DATABASE__URL",
            "postgres://app:hunter2@db.internal/authz",
        ),
    ];
    let output = run(&dir, &vars, &["config", "check"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(stdout.contains("listen = \"127.0.0.1:9999\""), "{stdout}");
    assert!(stdout.contains("http://127.0.0.1:9999"), "{stdout}");
    assert!(
        !stdout.contains(TOKEN) && !stdout.contains("hunter2"),
        "{stdout}"
    );
    assert!(stdout.contains("[redacted]"), "{stdout}");
}

#[test]
fn meta_3_bad_configuration_stops_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "server.issuer"),
        (
            &[("MCP_AUTHZ__SERVER__ISSUER", "http://auth.example.com")],
            "server.issuer",
        ),
        (
            &[
                ("MCP_AUTHZ__DEV__LOOPBACK", "true"),
                ("MCP_AUTHZ__DATABASE__URL", "mysql://x"),
            ],
            "database.url",
        ),
        (
            &[
                ("MCP_AUTHZ__DEV__LOOPBACK", "true"),
                ("MCP_AUTHZ__SERVER__LISTEN", "not-an-address"),
            ],
            "server.listen",
        ),
    ];
    for (vars, key) in cases {
        for args in [&["config", "check"][..], &["serve"][..]] {
            let output = run(&dir, vars, args);
            let stderr = text(&output.stderr);
            assert!(!output.status.success(), "{args:?} {vars:?}");
            assert!(stderr.contains(key), "{args:?} {vars:?}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    let missing = run(
        &dir,
        &[],
        &["--config", "/nonexistent.toml", "config", "check"],
    );
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("/nonexistent.toml"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_ready(base: &str) {
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(format!("{base}/readyz")).await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} did not become ready");
}

/// The environment the Docker image sets, with a loopback issuer for the test.
fn image_like_env(port: u16) -> Vec<(String, String)> {
    vec![
        (
            "MCP_AUTHZ__SERVER__LISTEN".into(),
            format!("127.0.0.1:{port}"),
        ),
        ("MCP_AUTHZ__DEV__LOOPBACK".into(), "true".into()),
        (
            "MCP_AUTHZ__DATABASE__URL".into(),
            "sqlite://data/mcp-authz.db".into(),
        ),
        ("MCP_AUTHZ__KEYS__DATA_DIR".into(), "data".into()),
        ("MCP_AUTHZ__ADMIN__BOOTSTRAP_TOKEN".into(), TOKEN.into()),
        ("MCP_AUTHZ__LOG__FORMAT".into(), "json".into()),
    ]
}

#[tokio::test]
async fn serve_keys_tokens_and_users_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = image_like_env(port);
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let base = format!("http://127.0.0.1:{port}");

    let migrate = run(&dir, &vars, &["migrate"]);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));

    let mut server = command(&dir, &vars)
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(&base).await;
    let metadata: serde_json::Value =
        reqwest::get(format!("{base}/.well-known/oauth-authorization-server"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(metadata["issuer"], base);
    // The dev key-encryption key was generated with 0600 permissions.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.path().join("data/key-encryption-key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A token made on the command line works against the running server.
    let created = run(&dir, &vars, &["admin", "create-token", "--name", "ops"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = text(&created.stdout).trim().to_owned();
    #[expect(
        clippy::disallowed_methods,
        reason = "the test client talks to our own server"
    )]
    let http = reqwest::Client::new();
    let servers = http
        .get(format!("{base}/admin/api/v1/servers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(servers.status(), reqwest::StatusCode::OK);

    // A user made on the command line is visible through the API.
    let mut users = command(&dir, &vars)
        .args(["users", "create", "--username", "Frank", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    users
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long password\n")
        .unwrap();
    let users = users.wait_with_output().unwrap();
    assert!(users.status.success(), "{}", text(&users.stderr));
    let list: serde_json::Value = http
        .get(format!("{base}/admin/api/v1/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["username"], "frank");

    // keys rotate publishes a second key; the server sees it after its next reload.
    let listed = run(&dir, &vars, &["keys", "list"]);
    assert_eq!(
        text(&listed.stdout).lines().count(),
        2,
        "{}",
        text(&listed.stdout)
    );
    let rotated = run(&dir, &vars, &["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let listed = text(&run(&dir, &vars, &["keys", "list"]).stdout);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(
        listed.contains("signing") && listed.contains("published"),
        "{listed}"
    );

    // SIGTERM stops the server cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
