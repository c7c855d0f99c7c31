//! Headless Chromium driven over WebDriver (`chromedriver` + `fantoccini`), for tests that
//! use the web pages the way a person would: fields by their label, buttons by their text.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian `chromium` and
//! `chromium-driver`; `scripts/test.sh` installs them). Without them the tests fail; they
//! never skip.

mod cimd;
mod console;
mod dcr;
mod enterprise;
mod flow;
mod smoke;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Headless, and nothing that reaches out to Google (there is no internet in CI). No
/// back-forward cache: with it, Chromium may keep the page a test navigated away from
/// answering for a moment (its markup read, or "not attached to an active page").
const CHROMIUM_FLAGS: &str = "--headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --window-size=1280,1024 --disable-back-forward-cache \
    --disable-features=BackForwardCache,ProactivelySwapBrowsingInstance";
/// Collects the page's Content-Security-Policy violations in `window.__cspViolations`,
/// so a click that the browser refuses to follow can say why.
const RECORD_CSP_VIOLATIONS: &str = "window.__cspViolations = window.__cspViolations || []; \
    document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(\
    e.violatedDirective + ' refused ' + e.blockedURI + ' (policy: ' + e.originalPolicy + ')'));";
/// What [`Callback`] answers.
const CALLBACK_PAGE: &str =
    "<!doctype html><title>Client</title><p>The application got the answer.</p>";
/// How long [`Browser::wait_for_url`] waits for a navigation to land.
const NAVIGATION_WAIT: Duration = Duration::from_secs(10);
/// `chromedriver` gets this many tries, 50 ms apart, to accept connections (10 s).
const DRIVER_READY_TRIES: u32 = 200;
/// Upper bound on opening the WebDriver session (Chromium's start-up).
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);

/// A headless Chromium with its own `chromedriver` and a fresh, empty profile.
///
/// Call [`Browser::close`] at the end of a test; if a test panics first, dropping the
/// `Browser` kills `chromedriver` and the Chromium it started.
pub(crate) struct Browser {
    client: Client,
    /// Held for its `Drop`.
    _driver: Driver,
    /// Holds the `--user-data-dir` and the `chromedriver` log; deleted last.
    _dir: TempDir,
}

/// The `chromedriver` child process, killed when dropped.
struct Driver {
    child: Child,
    log: PathBuf,
}

impl Drop for Driver {
    /// Kills the whole process group: `chromedriver` and the Chromium it started, which
    /// would otherwise outlive a test that panicked before [`Browser::close`].
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// What `chromedriver` logged so far, for error messages.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Browser {
    /// Starts `chromedriver` on a free port and opens a headless Chromium session through it.
    pub(crate) async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`Browser::start`] with `extra_flags` for Chromium (e.g. `--ignore-certificate-errors`
    /// for a test whose HTTPS server has a certificate from a test CA).
    pub(crate) async fn start_with(extra_flags: &[&str]) -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: browser tests need Debian's chromium and chromium-driver. \
                 Run scripts/test.sh, which installs them."
            );
        }
        let dir = tempfile::tempdir().must("create a temp dir for the Chromium profile");
        let free = std::net::TcpListener::bind("127.0.0.1:0").must("find a free port");
        let address = free.local_addr().must("find a free port");
        drop(free);
        let log = dir.path().join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={}", address.port()))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .must(&format!("start {CHROMEDRIVER}"));
        let mut driver = Driver { child, log };

        let mut tries = 0;
        while tokio::net::TcpStream::connect(address).await.is_err() {
            let exited = driver.child.try_wait().ok().flatten();
            tries += 1;
            assert!(
                exited.is_none() && tries < DRIVER_READY_TRIES,
                "chromedriver did not accept connections on {address} within 10 s \
                 (exit status: {exited:?}); its log:\n{}",
                driver.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let mut args: Vec<String> = CHROMIUM_FLAGS
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        args.extend(extra_flags.iter().map(|flag| (*flag).to_owned()));
        args.push(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ));
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }) else {
            unreachable!("a JSON object literal")
        };
        // chromedriver speaks plain HTTP on loopback: no TLS (and no crypto provider) needed.
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let url = format!("http://{address}");
        let connect = builder.capabilities(capabilities).connect(&url);
        let client = tokio::time::timeout(SESSION_TIMEOUT, connect)
            .await
            .map_err(|_| format!("no answer within {SESSION_TIMEOUT:?}"))
            .and_then(|connected| connected.map_err(|e| e.to_string()))
            .must(&format!(
                "open a Chromium session; chromedriver log:\n{}",
                driver.log()
            ));
        let timeouts = TimeoutConfiguration::new(
            Some(Duration::from_secs(10)),
            Some(Duration::from_secs(30)),
            Some(Duration::ZERO),
        );
        client
            .update_timeouts(timeouts)
            .await
            .must("set WebDriver timeouts");
        Self {
            client,
            _driver: driver,
            _dir: dir,
        }
    }

    /// Opens `url` and waits for the page to load and show its document.
    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.must(&format!("open {url}"));
        self.html().await;
    }

    /// Types `value` into the one `<input>` whose `<label>` reads `label` (linked by
    /// `for`/`id`, or wrapping the input), replacing what was there.
    pub(crate) async fn fill(&self, label: &str, value: &str) {
        let label_is = format!("normalize-space(.) = {}", xpath_literal(label));
        let xpath = format!("//input[@id = //label[{label_is}]/@for] | //label[{label_is}]//input");
        let input = self
            .the_one(&xpath, &format!("<input> labelled {label:?}"))
            .await;
        input.clear().await.must(&format!("clear {label:?}"));
        input
            .send_keys(value)
            .await
            .must(&format!("type into {label:?}"));
    }

    /// Types `value` into the one `<input>` or `<textarea>` with `id`, replacing what
    /// was there (for fields whose label carries a hint).
    pub(crate) async fn fill_id(&self, id: &str, value: &str) {
        let xpath = format!(
            "//input[@id = {0}] | //textarea[@id = {0}]",
            xpath_literal(id)
        );
        let field = self.the_one(&xpath, &format!("field #{id}")).await;
        field.clear().await.must(&format!("clear #{id}"));
        field
            .send_keys(value)
            .await
            .must(&format!("type into #{id}"));
    }

    /// Picks the option `value` of the `<select>` with id `id`.
    pub(crate) async fn choose(&self, id: &str, value: &str) {
        let xpath = format!(
            "//select[@id = {}]/option[@value = {}]",
            xpath_literal(id),
            xpath_literal(value)
        );
        let option = self.the_one(&xpath, &format!("option {id}={value}")).await;
        option.click().await.must(&format!("choose {id}={value}"));
    }

    /// Clicks the checkbox named `name` whose value is `value` (toggling it).
    pub(crate) async fn click_checkbox_value(&self, name: &str, value: &str) {
        let xpath = format!(
            "//input[@type = 'checkbox' and @name = {} and @value = {}]",
            xpath_literal(name),
            xpath_literal(value)
        );
        let checkbox = self
            .the_one(&xpath, &format!("checkbox {name}={value}"))
            .await;
        checkbox
            .click()
            .await
            .must(&format!("toggle {name}={value}"));
    }

    /// Clicks the one checkbox named `name` (toggling it).
    pub(crate) async fn toggle(&self, name: &str) {
        let xpath = format!(
            "//input[@type = 'checkbox' and @name = {}]",
            xpath_literal(name)
        );
        let checkbox = self.the_one(&xpath, &format!("checkbox {name:?}")).await;
        checkbox.click().await.must(&format!("toggle {name:?}"));
    }

    /// Follows the one link of the page's navigation (`<nav>`) whose text is `text`.
    pub(crate) async fn navigate(&self, text: &str) {
        self.follow("//nav//a", text).await;
    }

    /// Follows the one link anywhere on the page whose text is `text`.
    pub(crate) async fn click_link(&self, text: &str) {
        self.follow("//a", text).await;
    }

    /// Follows the one link of `links` (an XPath) whose text is `text`.
    async fn follow(&self, links: &str, text: &str) {
        let xpath = format!("{links}[normalize-space(.) = {}]", xpath_literal(text));
        let link = self.the_one(&xpath, &format!("link {text:?}")).await;
        let href = link
            .attr("href")
            .await
            .must("read the link")
            .unwrap_or_else(|| panic!("browser: link {text:?} has no href"));
        let url = self
            .current_url()
            .await
            .join(&href)
            .must("resolve the link");
        self.goto(url.as_str()).await;
    }

    /// Clicks the one `<button>` whose text, or `<input type="submit">` whose value, is `text`.
    pub(crate) async fn click_button(&self, text: &str) {
        let literal = xpath_literal(text);
        let xpath = format!(
            "//button[normalize-space(.) = {literal}] \
             | //input[@type = 'submit' and normalize-space(@value) = {literal}]"
        );
        let button = self.the_one(&xpath, &format!("button {text:?}")).await;
        self.client
            .execute(RECORD_CSP_VIOLATIONS, Vec::new())
            .await
            .must("watch for Content-Security-Policy violations");
        button.click().await.must(&format!("click button {text:?}"));
    }

    /// Clicks the button `text` of a form and waits until the browser shows the next
    /// document (the submission's answer, after any redirects), so what a test reads
    /// next is never the page it came from.
    pub(crate) async fn submit(&self, text: &str) {
        let mark = "window.__beforeSubmit = true; return null;";
        self.client
            .execute(mark, Vec::new())
            .await
            .must("mark the current document");
        self.click_button(text).await;
        let fresh =
            "return window.__beforeSubmit === undefined && document.readyState === 'complete';";
        let arrived = tokio::time::timeout(NAVIGATION_WAIT, async {
            loop {
                let answer = self.client.execute(fresh, Vec::new()).await;
                if answer.is_ok_and(|v| v.as_bool() == Some(true)) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if arrived.is_err() {
            let script = "return window.__cspViolations || [];";
            let violations = self.client.execute(script, Vec::new()).await;
            let violations = violations.map_or_else(|e| e.to_string(), |v| v.to_string());
            panic!(
                "submitting {text:?} showed no new page within {NAVIGATION_WAIT:?} \
                 (at {}); CSP violations: {violations}",
                self.current_url().await
            );
        }
    }

    /// The visible text of the page (`document.body.innerText`).
    pub(crate) async fn text(&self) -> String {
        self.read_until_present("the page text", async || {
            let script = "return document.body ? document.body.innerText : '';";
            let text = self.client.execute(script, Vec::new()).await?;
            Ok(text.as_str().unwrap_or_default().to_owned())
        })
        .await
    }

    /// The page's markup (`document.documentElement.outerHTML`).
    pub(crate) async fn html(&self) -> String {
        self.read_until_present("the page source", async || self.client.source().await)
            .await
    }

    /// Reads `what` of the page until it is non-empty (every page here has markup and
    /// text). Right after a navigation ChromeDriver now and then answers with an empty
    /// document while it still attaches to the new page; a test reading that would look
    /// for its text in nothing (and a "does not contain" check would pass vacuously).
    async fn read_until_present(
        &self,
        what: &str,
        read: impl AsyncFn() -> Result<String, fantoccini::error::CmdError>,
    ) -> String {
        let deadline = tokio::time::Instant::now() + NAVIGATION_WAIT;
        loop {
            let value = read().await.must(&format!("read {what}"));
            if !value.trim().is_empty() {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "browser: {what} of {} stayed empty for {NAVIGATION_WAIT:?}",
                    self.current_url().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address the browser is at now (after any redirects).
    pub(crate) async fn current_url(&self) -> url::Url {
        self.client.current_url().await.must("read the current URL")
    }

    /// The document's `<title>`.
    pub(crate) async fn title(&self) -> String {
        self.client.title().await.must("read the page title")
    }

    /// The text of every button on the page (`<button>` text, `<input type="submit">`
    /// value), in document order.
    pub(crate) async fn buttons(&self) -> Vec<String> {
        let script = "return Array.from(document.querySelectorAll('button, input[type=submit]'))\
            .map(b => (b.tagName === 'BUTTON' ? b.innerText : b.value).trim());";
        let texts = self
            .client
            .execute(script, Vec::new())
            .await
            .must("list the buttons");
        serde_json::from_value(texts).must("read the button texts")
    }

    /// Waits (at most 10 s) until the browser's address starts with `prefix`, as after a
    /// redirect to an OAuth client; returns that address. On timeout the panic names any
    /// Content-Security-Policy violation the last [`Browser::click_button`] caused.
    pub(crate) async fn wait_for_url(&self, prefix: &str) -> url::Url {
        let waited = tokio::time::timeout(NAVIGATION_WAIT, async {
            loop {
                let url = self.current_url().await;
                if url.as_str().starts_with(prefix) {
                    return url;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        match waited {
            Ok(url) => url,
            Err(_) => {
                let (url, text) = (self.current_url().await, self.text().await);
                let script = "return window.__cspViolations || [];";
                let violations = self.client.execute(script, Vec::new()).await;
                let violations = violations.map_or_else(|e| e.to_string(), |v| v.to_string());
                panic!(
                    "the browser did not reach {prefix} within {NAVIGATION_WAIT:?}; \
                     it is at {url}; CSP violations: {violations}; page text:\n{text}"
                )
            }
        }
    }

    /// Saves a PNG screenshot of the window to `path`.
    ///
    /// ChromeDriver now and then refuses a screenshot of a page that has finished loading
    /// ("aborted by navigation: Not attached to an active page": it still follows the
    /// navigation that brought the page); the shot is for people to look at, so it is
    /// taken again a few times before the test gives up.
    pub(crate) async fn screenshot(&self, path: &Path) {
        let mut attempts = 0;
        let png = loop {
            attempts += 1;
            match self.client.screenshot().await {
                Ok(png) => break png,
                Err(error) if attempts == 5 => {
                    panic!("browser: cannot take a screenshot after {attempts} attempts: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        std::fs::write(path, png).must(&format!("write {}", path.display()));
    }

    /// Ends the session (Chromium quits), then stops `chromedriver`.
    pub(crate) async fn close(self) {
        self.client.close().await.must("close the Chromium session");
    }

    /// The single element matching `xpath`; panics, naming `what`, on none or several.
    async fn the_one(&self, xpath: &str, what: &str) -> Element {
        let locator = Locator::XPath(xpath);
        let mut found = self
            .client
            .find_all(locator)
            .await
            .must(&format!("search {xpath}"));
        if found.len() != 1 {
            let (url, text) = (self.current_url().await, self.text().await);
            panic!(
                "expected one {what} on {url}, found {}; page text:\n{text}",
                found.len()
            );
        }
        found.remove(0)
    }
}

/// A stand-in for an OAuth client's redirect endpoint on `127.0.0.1`: answers every GET
/// with a small page, so a redirect to the client lands somewhere real (Chromium's own
/// error page for an unreachable address would hide where the browser went).
pub(crate) struct Callback {
    /// `http://127.0.0.1:PORT/callback`
    pub(crate) redirect_uri: String,
    task: tokio::task::JoinHandle<()>,
}

impl Callback {
    /// Listens on a free loopback port until dropped.
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .must("bind the callback listener");
        let port = listener.local_addr().must("read the callback port").port();
        let router = axum::Router::new().fallback(|| async { axum::response::Html(CALLBACK_PAGE) });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            task,
        }
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `text` as an XPath string literal (XPath 1.0 has no escapes: use `concat` for quotes).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// `unwrap` with a message saying what the harness was doing.
trait Must<T> {
    fn must(self, doing: &str) -> T;
}

impl<T, E: std::fmt::Display> Must<T> for Result<T, E> {
    fn must(self, doing: &str) -> T {
        self.unwrap_or_else(|e| panic!("browser: cannot {doing}: {e}"))
    }
}
