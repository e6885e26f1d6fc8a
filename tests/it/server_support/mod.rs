//! The server as the in-process tests run it: the real router on 127.0.0.1:0 over a SQLite file
//! in a temp dir, with tokens made before it starts ([`start`], [`start_with`]), and the HTTP
//! client the tests talk to it with ([`client`], [`client_builder`]).

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use warroom::api::{ErrorBody, Role};
use warroom::server::sqlite::SqliteStore;
use warroom::server::{self, Limits, Running, ServeOptions, Store};

pub struct Srv {
    pub base: String,
    pub http: reqwest::Client,
    pub running: Option<Running>,
    pub store: Arc<dyn Store>,
    pub sqlite: Arc<SqliteStore>,
    /// The database's URL, to open it again.
    pub url: String,
    pub dir: tempfile::TempDir,
    /// Secrets by role, in the order they were asked for.
    pub tokens: Vec<(Role, String)>,
}

/// A reqwest client builder with the TLS setup every test client needs: rustls's ring provider
/// installed (reqwest is built without one, as in the binary) and no proxy from the
/// environment.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy()
}

/// A client as [`client_builder`] sets it up.
pub fn client() -> reqwest::Client {
    client_builder().build().unwrap()
}

pub fn options(limits: Limits) -> ServeOptions {
    ServeOptions { listen: "127.0.0.1:0".into(), limits, ..Default::default() }
}

/// A server with one token per role, each named after its role, over `warroom.db`.
pub async fn start(opts: ServeOptions) -> Srv {
    start_with(opts, "warroom.db", &Role::ALL.map(|r| (r.as_str(), r))).await
}

/// A server over the SQLite file `db` (a path in the temp dir) with a token for each
/// `(name, role)`.
pub async fn start_with(opts: ServeOptions, db: &str, tokens: &[(&str, Role)]) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join(db).display());
    let sqlite = Arc::new(SqliteStore::open(&url).await.unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    let mut secrets = Vec::new();
    for &(name, role) in tokens {
        secrets.push((role, server::tokens::create(&*store, name, role).await.unwrap()));
    }
    let running = server::start(opts, store.clone()).await.unwrap();
    Srv {
        base: format!("http://{}", running.addr),
        http: client(),
        running: Some(running),
        store,
        sqlite,
        url,
        dir,
        tokens: secrets,
    }
}

impl Srv {
    pub fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.req(Method::POST, path, Some(token)).json(body).send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.req(Method::GET, path, Some(token)).send().await.unwrap()
    }

    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }
}

/// Asserts a JSON error answer with this status and code; returns it.
pub async fn expect_error(res: reqwest::Response, status: StatusCode, code: &str) -> ErrorBody {
    assert_eq!(res.status(), status, "expected {status} {code}");
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(ct.starts_with("application/json"), "error bodies are JSON, got {ct}");
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, code, "{}", body.message);
    assert!(!body.message.is_empty());
    body
}
