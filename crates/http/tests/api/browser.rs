//! One real login + consent + redirect in headless Chromium, driven over WebDriver
//! (chromedriver) against the server on a loopback listener. The redirect target is a second
//! local listener, so the browser really follows the redirect.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/services.sh installs them). The
//! test is skipped only when both `CI` is unset and the browser is missing; in CI a missing
//! browser fails it.

use crate::support::*;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tmcp_domain::Clock;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn found(program: &str) -> Option<String> {
    ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
        .iter()
        .map(|dir| format!("{dir}/{program}"))
        .find(|path| std::path::Path::new(path).exists())
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct WebDriver {
    http: reqwest::Client,
    session: String,
    base: String,
}

impl WebDriver {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = request
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver json");
        reply["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Waits up to 10 s for an element.
    async fn find(&self, css: &str) -> String {
        for _ in 0..100 {
            let value = self
                .call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await;
            if let Some(id) = value[ELEMENT].as_str() {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let source = self.call(reqwest::Method::GET, "/source", None).await;
        panic!("element {css} not found on {}:\n{source}", self.url().await);
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let value = self.call(reqwest::Method::GET, "/screenshot", None).await;
        if let Some(png) = value
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        {
            let _ = std::fs::write(path, png);
        }
    }

    async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

async fn start_driver(chromedriver: &str) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(reply) = http.get(format!("{}/status", driver.base)).send().await {
            if reply.status().is_success() {
                return driver;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not come up");
}

#[tokio::test]
async fn login_consent_and_redirect_in_headless_chromium() {
    let (Some(chromium), Some(chromedriver)) = (found("chromium"), found("chromedriver")) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium and chromium-driver (scripts/services.sh installs them)"
        );
        eprintln!("skipped: chromium or chromedriver is not installed");
        return;
    };

    // The client's redirect target: a page on its own loopback listener.
    let callback = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("callback listener");
    let callback_base = format!("http://{}", callback.local_addr().expect("addr"));
    let callback_task = tokio::spawn(async move {
        let app = Router::new().route(
            "/cb",
            get(|| async { axum::response::Html("<h1 id=\"done\">Back at the app</h1>") }),
        );
        let _ = axum::serve(callback, app).await;
    });
    let redirect_uri = format!("{callback_base}/cb");

    let mut env = Env::new(tmcp_contract_tests::engines::sqlite().await).await;
    let (base, server) = env.serve().await;
    env.state
        .db
        .create_client(tmcp_repository::OAuthClient {
            client_id: "ma_browser_app".into(),
            client_secret_hash: None,
            app_id: Some("ma_browser_app".into()),
            name: "Browser <Test> App".into(),
            redirect_uris: vec![redirect_uri.clone()],
            grant_types: ALL_GRANTS.iter().map(|g| (*g).to_owned()).collect(),
            scopes: vec!["user:read".into(), "storage:read".into()],
            is_official: false,
            is_active: true,
            created_at: env.fixture.clock.now(),
        })
        .await
        .expect("client");
    let (verifier, challenge) = pkce();
    let authorize = format!(
        "{base}/oauth2/authorize?{}",
        encode(&[
            ("response_type", "code"),
            ("client_id", "ma_browser_app"),
            ("redirect_uri", &redirect_uri),
            ("scope", "user:read storage:read"),
            ("state", "browser-state"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );

    let driver = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/session", driver.base))
        .json(&json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        }))
        .send()
        .await
        .expect("new session")
        .json()
        .await
        .expect("session json");
    let session = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
        .to_owned();
    let browser = WebDriver {
        http,
        session,
        base: driver.base.clone(),
    };

    browser.goto(&authorize).await;
    browser.type_into("#login", "oauth_alice").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#sign-in").await;

    // The consent page, with the client's name escaped (shown as text, not markup).
    let name = browser.text("#client-name").await;
    assert_eq!(name, "Browser <Test> App");
    let scopes = browser.text("#scopes").await;
    assert!(scopes.contains("user:read"), "{scopes}");
    let shot = std::env::temp_dir().join("tmcp-consent.png");
    browser.screenshot(&shot).await;
    browser.click("#approve").await;
    browser.find("#done").await;
    let landed = browser.url().await;
    browser.quit().await;
    drop(driver);

    assert!(landed.starts_with(&redirect_uri), "{landed}");
    assert_eq!(
        query_param(&landed, "state").as_deref(),
        Some("browser-state")
    );
    let code = query_param(&landed, "code").expect("code in the redirect");
    let tokens: Value = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "ma_browser_app"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    assert!(
        tokens["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("tep.")),
        "{tokens}"
    );
    assert_eq!(tokens["scope"], "storage:read user:read");
    server.abort();
    callback_task.abort();
}
