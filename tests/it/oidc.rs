//! Sign-in with OpenID Connect against a real OpenID Provider: panva's `oidc-provider` with its
//! device flow (tests/oidc/provider.mjs, `npm ci` in tests/oidc). The test acts as the user in
//! the provider's own forms (user code, login, consent) while the real `warroom login` polls.
//! Without node or the installed provider the tests are skipped here, and fail under CI=true.
//! Also #15 items 0 (an outbox entry belongs to its identity) and 13 (token_file).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::bin_support::{Env, PATIENCE, text};
use crate::server_support::{self, Srv, expect_error};
use warroom::api::Role;
use warroom::server::oidc::{OidcConfig, parse_lifetime};

/// The provider, stopped on drop.
struct Provider {
    child: Child,
    issuer: String,
    http: reqwest::Client,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider on a free port, or `None` (skipped) when it cannot run here outside CI.
fn provider() -> Option<Provider> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !dir.join("node_modules/oidc-provider").exists() {
        assert!(!ci, "the test OpenID Provider is not installed: run `npm ci` in tests/oidc");
        eprintln!("skipped: the test OpenID Provider is not installed (npm ci in tests/oidc)");
        return None;
    }
    let mut child = match Command::new("node")
        .arg("provider.mjs")
        .arg("0")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(!ci, "cannot start node for the test OpenID Provider: {e}");
            eprintln!("skipped: cannot start node: {e}");
            return None;
        }
    };
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(issuer) = line.strip_prefix("ready ") {
                let _ = tx.send(issuer.to_string());
            }
        }
    });
    let issuer = rx.recv_timeout(PATIENCE).expect("the OpenID Provider printed no ready line");
    Some(Provider { child, issuer, http: server_support::client() })
}

impl Provider {
    async fn test_post(&self, path: &str, body: Value) -> Value {
        let res = self.http.post(format!("{}{path}", self.issuer)).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// An ID token with these claims, signed with the provider's key or a key it never published.
    async fn sign(&self, claims: Value, wrong_key: bool) -> String {
        let key = if wrong_key { "wrong" } else { "real" };
        let v = self.test_post("/test/sign", json!({"claims": claims, "key": key})).await;
        v["id_token"].as_str().unwrap().to_string()
    }

    /// An ID token signed with a key id the provider does not publish.
    async fn sign_with_kid(&self, claims: Value, kid: &str) -> String {
        let v = self.test_post("/test/sign", json!({"claims": claims, "key": "wrong", "kid": kid})).await;
        v["id_token"].as_str().unwrap().to_string()
    }

    async fn set_groups(&self, user: &str, groups: &[&str]) {
        self.test_post("/test/groups", json!({"user": user, "groups": groups})).await;
    }

    /// Acts as `user` in a browser: opens the complete verification URL, confirms the code,
    /// logs in through the provider's login form and consents.
    async fn approve(&self, verification_uri_complete: &str, user: &str) {
        let browser = server_support::client_builder().cookie_store(true).build().unwrap();
        let mut page = browser.get(verification_uri_complete).send().await.unwrap().text().await.unwrap();
        for _ in 0..8 {
            if page.contains("Sign-in Success") || page.contains("warroom: signed in") {
                return;
            }
            let action = attr(&page, "<form", "action").expect("a form on the page");
            let mut fields: Vec<(String, String)> = hidden_inputs(&page);
            if page.contains("name=\"login\"") {
                fields.push(("login".into(), user.into()));
                fields.push(("password".into(), "any".into()));
            }
            let res = browser.post(&action).form(&fields).send().await.unwrap();
            page = res.text().await.unwrap();
        }
        panic!("the provider's forms did not finish the sign-in:\n{page}");
    }
}

/// The value of `name="..."` in the first tag starting with `tag`.
fn attr(page: &str, tag: &str, name: &str) -> Option<String> {
    let start = page.find(tag)?;
    let tag_text = &page[start..start + page[start..].find('>')?];
    let key = format!("{name}=\"");
    let at = tag_text.find(&key)? + key.len();
    Some(tag_text[at..at + tag_text[at..].find('"')?].to_string())
}

/// Every `<input type="hidden" name=... value=...>` of a page.
fn hidden_inputs(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(i) = rest.find("<input") {
        let tag = &rest[i..i + rest[i..].find('>').map_or(rest.len() - i, |end| end + 1)];
        if tag.contains("type=\"hidden\"")
            && let (Some(n), Some(v)) = (attr(tag, "<input", "name"), attr(tag, "<input", "value"))
        {
            out.push((n, v));
        }
        rest = &rest[i + 6..];
    }
    out
}

fn config(issuer: &str, lifetime: &str) -> OidcConfig {
    OidcConfig {
        issuer: issuer.to_string(),
        client_id: "warroom".into(),
        client_secret: None,
        scopes: ["openid", "profile", "email", "groups", "offline_access"].map(String::from).to_vec(),
        username_claim: None,
        groups_claim: "groups".into(),
        roles: [("sre-oncall".to_string(), Role::Commander), ("observers".to_string(), Role::Viewer)]
            .into_iter()
            .collect(),
        default_role: None,
        session_lifetime: parse_lifetime(lifetime).unwrap(),
    }
}

async fn server(p: &Provider, lifetime: &str) -> Srv {
    let opts = warroom::server::ServeOptions {
        oidc: Some(config(&p.issuer, lifetime)),
        ..server_support::options(warroom::server::Limits::unlimited())
    };
    server_support::start(opts).await
}

/// Runs the real `warroom login` and signs in as `user` in the provider's forms meanwhile.
async fn login(env: &Env, p: &Provider, srv: &Srv, user: &str) -> String {
    let mut child = env
        .cmd()
        .args(["--server", &srv.base, "login"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = Vec::new();
    let complete = loop {
        let line = rx.recv_timeout(PATIENCE).expect("warroom login printed no verification URL");
        printed.push(line.clone());
        if let Some(url) = line.strip_prefix("(or open ").and_then(|l| l.strip_suffix(')')) {
            break url.to_string();
        }
    };
    assert!(printed[0].contains("/device") && printed[0].contains("enter the code"), "{printed:?}");
    p.approve(&complete, user).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    // Every line the child printed: the reader ends at the pipe's end, after sending its last.
    tokio::task::spawn_blocking(move || reader.join().expect("the stdout reader")).await.unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(out.status.success(), "warroom login failed: {rest:?} {}", text(&out.stderr));
    rest.join("\n")
}

/// `warroom whoami`'s stdout, then its stderr.
fn whoami(env: &Env, srv: &Srv) -> String {
    let o = env.run(&["--server", &srv.base, "whoami"]);
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn device_login_signs_in_with_the_mapped_role_and_entries_are_authored_by_the_user() {
    let Some(p) = provider() else { return };
    let srv = server(&p, "12h").await;
    let env = Env::new();
    let said = login(&env, &p, &srv, "alice").await;
    assert!(said.contains("as alice (commander)"), "{said}");
    let file = std::fs::read_dir(&env.data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("session-"))
        .expect("a session file");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(whoami(&env, &srv).starts_with("alice (commander)"), "{}", whoami(&env, &srv));
    let (inc, _) = env.ok(&["--server", &srv.base, "declare", "--severity", "SEV-2", "--title", "db down"]);
    let inc = inc.trim().to_string();
    // A commander may change the severity: the role from the group is what the server enforces.
    env.ok(&["--server", &srv.base, "log", "-i", &inc, "checking replicas"]);
    let events = srv.store.events_after(0, 100, Some(&inc)).await.unwrap();
    assert!(events.iter().all(|e| e.author == "alice"), "{events:?}");
    // The audit log has the sign-in and the role grant.
    let audit = srv.store.audit_since(None, 100).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "login" && a.subject == "alice"), "{audit:?}");
    assert!(
        audit
            .iter()
            .any(|a| a.action == "role_granted" && a.detail.contains("commander from group sre-oncall")),
        "{audit:?}"
    );
    // Logout ends the session on the server too.
    let token: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let (out, _) = env.ok(&["--server", &srv.base, "logout"]);
    assert!(out.contains("Signed out alice"), "{out}");
    assert!(!file.exists());
    let res = srv.req(Method::GET, "/api/v1/me", Some(&token)).send().await.unwrap();
    let err = expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(err.message.contains("has ended"), "{}", err.message);
}

async fn exchange(srv: &Srv, id_token: &str) -> reqwest::Response {
    srv.req(Method::POST, "/api/v1/auth/session", None)
        .json(&json!({"id_token": id_token}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_maps_groups_to_roles_and_refuses_bad_id_tokens() {
    let Some(p) = provider() else { return };
    let srv = server(&p, "12h").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |user: &str, groups: &[&str]| {
        json!({"iss": p.issuer, "aud": "warroom", "sub": user, "preferred_username": user,
               "groups": groups, "iat": now, "exp": now + 300})
    };
    // How to sign in, for clients.
    let info: Value = srv.req(Method::GET, "/api/v1/auth", None).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["oidc"]["client_id"], "warroom");
    assert!(info["oidc"]["device_authorization_endpoint"].as_str().unwrap().starts_with(&p.issuer));

    // A viewer (observers) may read but not declare.
    let good = p.sign(claims("bob", &["observers"]), false).await;
    let res = exchange(&srv, &good).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let s: Value = res.json().await.unwrap();
    assert_eq!(s["role"], "viewer");
    let bob = s["token"].as_str().unwrap();
    assert_eq!(srv.get("/api/v1/incidents", bob).await.status(), StatusCode::OK);
    let declare = json!({"id": uuid::Uuid::now_v7(), "occurred_at": chrono::Utc::now(),
                          "kind": "declared", "title": "t", "severity": "SEV-2", "summary": ""});
    let res = srv.post("/api/v1/incidents", bob, &declare).await;
    expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Nor manage tokens.
    expect_error(srv.get("/api/v1/tokens", bob).await, StatusCode::FORBIDDEN, "forbidden").await;

    // No mapped group and no default role: refused, and audited.
    let res = exchange(&srv, &p.sign(claims("carol", &[]), false).await).await;
    expect_error(res, StatusCode::FORBIDDEN, "no_role").await;

    // Expired, forged, for another client, from another issuer: refused.
    let mut expired = claims("alice", &["sre-oncall"]);
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let mut other_aud = claims("alice", &["sre-oncall"]);
    other_aud["aud"] = json!("another-client");
    let mut future = claims("alice", &["sre-oncall"]);
    future["iat"] = json!(now + 3600);
    future["exp"] = json!(now + 7200);
    let mut with_nonce = claims("alice", &["sre-oncall"]);
    with_nonce["nonce"] = json!("n-1");
    let mut other_iss = claims("alice", &["sre-oncall"]);
    other_iss["iss"] = json!("http://127.0.0.1:1");
    for (what, token, says) in [
        ("expired", p.sign(expired, false).await, "expired"),
        ("forged", p.sign(claims("alice", &["sre-oncall"]), true).await, "signature"),
        ("wrong audience", p.sign(other_aud, false).await, "another-client"),
        ("wrong issuer", p.sign(other_iss, false).await, "issued by"),
        ("not a JWT", "abc.def".to_string(), "not a signed JWT"),
        (
            "unknown key id",
            p.sign_with_kid(claims("alice", &["sre-oncall"]), "rotated-away").await,
            "does not publish",
        ),
        ("issued in the future", p.sign(future, false).await, "future"),
        ("a nonce nobody asked for", p.sign(with_nonce.clone(), false).await, "nonce"),
    ] {
        let err =
            expect_error(exchange(&srv, &token).await, StatusCode::UNAUTHORIZED, "invalid_id_token").await;
        assert!(err.message.contains(says), "{what}: {}", err.message);
    }
    // The nonce the client sent must be the token's.
    let token = p.sign(with_nonce, false).await;
    for (nonce, status) in [("n-2", StatusCode::UNAUTHORIZED), ("n-1", StatusCode::CREATED)] {
        let res = srv
            .req(Method::POST, "/api/v1/auth/session", None)
            .json(&json!({"id_token": token, "nonce": nonce}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "nonce {nonce}");
    }

    // An admin token manages tokens over the API; the secret is shown once and works.
    let admin = srv.token(Role::Admin).to_string();
    let res = srv.post("/api/v1/tokens", &admin, &json!({"name": "bot", "role": "responder"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap();
    assert_eq!(srv.get("/api/v1/me", secret).await.status(), StatusCode::OK);
    let list: Value = srv.get("/api/v1/tokens", &admin).await.json().await.unwrap();
    assert!(list.as_array().unwrap().iter().any(|t| t["name"] == "bot"));
    let res = srv.req(Method::DELETE, "/api/v1/tokens/bot", Some(&admin)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    expect_error(srv.get("/api/v1/me", secret).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let audit: Value = srv.get("/api/v1/audit", &admin).await.json().await.unwrap();
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    for want in ["token_created", "token_revoked", "login", "role_granted", "login_refused"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_removed_at_the_provider_is_lost_at_refresh_and_an_expired_session_loses_nothing() {
    let Some(p) = provider() else { return };
    let srv = server(&p, "2s").await;
    let env = Env::new();
    login(&env, &p, &srv, "alice").await;
    let (inc, _) = env.ok(&["--server", &srv.base, "declare", "--severity", "SEV-2", "--title", "db down"]);
    let inc = inc.trim().to_string();

    // Removed from sre-oncall: once the session expires, the refresh maps the new groups.
    p.set_groups("alice", &["observers"]).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let who = whoami(&env, &srv);
        if who.starts_with("alice (viewer)") {
            break;
        }
        // Until then commander (or, in the instant the session expires between the client's
        // check and the server's, refused as expired: the next command renews it).
        assert!(who.starts_with("alice (commander)") || who.contains("expired"), "{who}");
        assert!(Instant::now() < deadline, "the role never changed: {who}");
        std::thread::sleep(Duration::from_millis(200));
    }
    p.set_groups("alice", &["sre-oncall"]).await;

    // The refresh token is gone (expired at the provider): the session cannot be renewed.
    let file = std::fs::read_dir(&env.data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("session-"))
        .unwrap();
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    s.as_object_mut().unwrap().remove("refresh_token");
    std::fs::write(&file, s.to_string()).unwrap();
    // Wait until the server refuses the session.
    let deadline = Instant::now() + PATIENCE;
    while !whoami(&env, &srv).contains("expired") {
        assert!(Instant::now() < deadline, "the session never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = env.run(&["--server", &srv.base, "log", "-i", &inc, "written while signed out"]);
    assert!(!o.status.success());
    let out = text(&o.stderr);
    assert!(out.contains("expired") && out.contains("warroom login"), "{out}");
    assert!(out.contains("waits in"), "{out}");
    // A declaration too: it waits, and declaring again after signing in sends it, once.
    let declare = ["--server", srv.base.as_str(), "declare", "--severity", "SEV-3", "--title", "queue lag"];
    let o = env.run(&declare);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("waits in"), "{}", text(&o.stderr));
    // Another identity (an admin token) does not send alice's entry.
    let admin = srv.token(Role::Admin).to_string();
    env.ok(&["--server", &srv.base, "--token", &admin, "log", "-i", &inc, "by the admin"]);
    let texts = |events: &[warroom::domain::Event]| -> Vec<String> {
        events.iter().map(|e| format!("{}: {}", e.author, serde_json::to_string(&e.body).unwrap())).collect()
    };
    let events = srv.store.events_after(0, 100, Some(&inc)).await.unwrap();
    assert!(!texts(&events).iter().any(|t| t.contains("written while signed out")), "{:?}", texts(&events));
    // Signed in again as alice: the queued entry is sent, authored by alice.
    login(&env, &p, &srv, "alice").await;
    // Declaring again while it is still queued sends the queued one (and the waiting note).
    let (again, said) = env.ok(&declare);
    assert!(said.contains(&format!("already declared as {}", again.trim())), "{said}");
    let (_, all) = srv.store.list_incidents(warroom::server::store::ListFilter::All).await.unwrap();
    assert_eq!(all.iter().filter(|i| i.title == "queue lag").count(), 1, "{all:?}");
    env.ok(&["--server", &srv.base, "log", "-i", &inc, "after signing in again"]);
    let events = srv.store.events_after(0, 100, Some(&inc)).await.unwrap();
    let t = texts(&events);
    assert!(t.iter().any(|t| t.starts_with("alice: ") && t.contains("written while signed out")), "{t:?}");
    assert!(t.iter().any(|t| t.starts_with("alice: ") && t.contains("after signing in again")), "{t:?}");
}

/// #15 item 0: a write refused for its token is never sent later under another token.
#[tokio::test(flavor = "multi_thread")]
async fn a_write_refused_for_its_token_is_never_sent_under_another() {
    let srv = server_support::start(server_support::options(warroom::server::Limits::unlimited())).await;
    let env = Env::new();
    let bad = "wr_0000000000000000000000000000000000000000000000000000000000000000";
    let o = env.run(&[
        "--server",
        &srv.base,
        "--token",
        bad,
        "declare",
        "--severity",
        "SEV-1",
        "--title",
        "api down",
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("unknown token") && err.contains("rejected"), "{err}");
    let good = srv.token(Role::Responder).to_string();
    env.ok(&[
        "--server",
        &srv.base,
        "--token",
        &good,
        "declare",
        "--severity",
        "SEV-1",
        "--title",
        "api down",
    ]);
    let list: Value = srv.get("/api/v1/incidents", &good).await.json().await.unwrap();
    let n = list["incidents"].as_array().unwrap().len();
    assert_eq!(n, 1, "one incident, not a second one from the refused write: {list}");
}

/// #15 item 13: `token_file` is read with a size cap, and a malformed token says so.
#[test]
fn token_file_is_capped_and_a_malformed_token_is_named() {
    let env = Env::new();
    for (content, says) in [(None, "larger than"), (Some("wr_abc def\n"), "malformed")] {
        let path = match content {
            None => "/dev/zero".to_string(),
            Some(c) => {
                let f = env.config.join("token");
                std::fs::write(&f, c).unwrap();
                f.display().to_string()
            }
        };
        std::fs::write(
            env.config.join("config.toml"),
            format!("server = \"http://127.0.0.1:9\"\ntoken_file = \"{path}\"\n"),
        )
        .unwrap();
        let o = env.run(&["log", "-i", "INC-1", "hello"]);
        let err = text(&o.stderr);
        assert!(!o.status.success(), "{err}");
        assert!(err.contains(says) && !err.contains("cannot reach"), "{err}");
    }
}

/// #15 item 0: `declare` run again while its first try is still queued sends the queued one
/// (its event id is the idempotency key) and says so: one incident, not two.
#[tokio::test(flavor = "multi_thread")]
async fn a_retried_declare_makes_one_incident_and_says_already_declared() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let (mut server, url) = env.serve(&listen);
    let (tok, _) = env.ok(&["token", "create", "--name", "ic", "--role", "commander"]);
    let tok = tok.trim().to_string();
    server.kill().unwrap();
    server.wait().unwrap();
    let args = ["--server", url.as_str(), "--token", tok.as_str()];
    let declare = ["declare", "--severity", "SEV-1", "--title", "checkout down"];
    let o = env.cmd().args(args).args(declare).output().unwrap();
    assert_eq!(o.status.code(), Some(75), "queued: {}", text(&o.stderr));
    let (mut server, _) = env.serve(&listen);
    let o = env.cmd().args(args).args(declare).output().unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert_eq!(out.trim(), "INC-1");
    assert!(err.contains("already declared as INC-1"), "{err}");
    let list: Value = server_support::client()
        .get(format!("{url}/api/v1/incidents"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1, "{list}");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// `warroom token create|list|revoke --server URL` over the API, as an admin token; the list
/// has a header and aligned columns; `warroom audit` lists what was done.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_over_the_api_from_the_cli_and_the_audit_log() {
    let srv = server_support::start(server_support::options(warroom::server::Limits::unlimited())).await;
    let env = Env::new();
    let admin = srv.token(Role::Admin).to_string();
    let base = ["--server", srv.base.as_str(), "--token", admin.as_str()];
    let (secret, _) =
        env.ok(&[&base[..], &["token", "create", "--name", "new responder", "--role", "responder"]].concat());
    let secret = secret.trim().to_string();
    assert!(secret.starts_with("wr_"), "{secret}");
    assert_eq!(srv.get("/api/v1/me", &secret).await.status(), StatusCode::OK);
    let (list, _) = env.ok(&[&base[..], &["token", "list"]].concat());
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("NAME") && lines[0].contains("ROLE"), "{list}");
    let col = lines[0].find("ROLE").unwrap();
    assert!(lines[1..].iter().all(|l| l[col..].starts_with(|c: char| c.is_ascii_lowercase())), "{list}");
    assert!(list.contains("new responder"), "{list}");
    env.ok(&[&base[..], &["token", "revoke", "new responder"]].concat());
    assert_eq!(srv.get("/api/v1/me", &secret).await.status(), StatusCode::UNAUTHORIZED);
    // Not the token the request is made with: that would lock the caller out.
    let res = srv.req(Method::DELETE, "/api/v1/tokens/admin", Some(&admin)).send().await.unwrap();
    expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "own_token").await;
    // A non-admin is refused.
    let viewer = srv.token(Role::Viewer).to_string();
    let o = env.run(&["--server", &srv.base, "--token", &viewer, "token", "list"]);
    assert!(!o.status.success() && text(&o.stderr).contains("only an admin"), "{}", text(&o.stderr));
    let (audit, _) = env.ok(&[&base[..], &["audit"]].concat());
    assert!(audit.contains("token_created") && audit.contains("token_revoked"), "{audit}");
    assert!(audit.lines().any(|l| l.contains("admin") && l.contains("token_revoked")), "{audit}");
}

/// Sessions and the audit log in both SQL stores (one SQL text for both): a session is found
/// by its hash, ends once, and the audit log filters by time.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_and_the_audit_log_in_sqlite_and_postgres() {
    use warroom::server::store::SessionRecord;
    let dir = tempfile::tempdir().unwrap();
    let mut stores: Vec<(&str, std::sync::Arc<dyn warroom::server::Store>)> = vec![(
        "sqlite",
        warroom::server::open_store(&format!("sqlite://{}", dir.path().join("w.db").display()))
            .await
            .unwrap(),
    )];
    let _serial = crate::pg_support::SERIAL.lock().await;
    if let Some(url) = crate::pg_support::pg_url() {
        warroom::server::postgres::PgStore::reset(&url).await.unwrap();
        stores.push(("postgres", warroom::server::open_store(&url).await.unwrap()));
    }
    for (name, store) in stores {
        let now = chrono::Utc::now();
        let s = SessionRecord {
            id: uuid::Uuid::now_v7(),
            user: "alice".into(),
            role: Role::Commander,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            ended_at: None,
        };
        let hash = [7u8; 32];
        store.create_session(&s, hash).await.unwrap();
        let found = store.find_session(hash).await.unwrap().unwrap();
        assert_eq!((found.id, found.user.as_str(), found.role), (s.id, "alice", Role::Commander), "{name}");
        assert!((found.expires_at - s.expires_at).num_milliseconds().abs() < 1, "{name}");
        assert!(store.find_session([8u8; 32]).await.unwrap().is_none(), "{name}");
        assert!(store.end_session(hash, now).await.unwrap().is_some(), "{name}");
        assert!(store.end_session(hash, now).await.unwrap().is_none(), "{name}: ends once");
        assert!(store.find_session(hash).await.unwrap().unwrap().ended_at.is_some(), "{name}");
        store.record_audit("admin", "token_created", "bot", "responder").await.unwrap();
        let mid = chrono::Utc::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        store.record_audit("alice", "login", "alice", "commander").await.unwrap();
        let all = store.audit_since(None, 100).await.unwrap();
        assert_eq!(
            all.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
            ["token_created", "login"],
            "{name}"
        );
        let later = store.audit_since(Some(mid), 100).await.unwrap();
        assert_eq!(later.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["login"], "{name}");
    }
}

/// A signed-in user's long poll (and stream) lasts while the session does: the server's
/// periodic token re-check knows sessions (it once took them for revoked tokens).
#[tokio::test(flavor = "multi_thread")]
async fn a_sessions_long_poll_outlives_the_token_recheck() {
    let Some(p) = provider() else { return };
    let srv = server(&p, "12h").await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": p.issuer, "aud": "warroom", "sub": "alice", "preferred_username": "alice",
                        "groups": ["sre-oncall"], "iat": now, "exp": now + 300});
    let res = exchange(&srv, &p.sign(claims, false).await).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let token = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    // Longer than the server's 2 s re-check.
    let res = srv.get("/api/v1/events?after=0&wait=5", &token).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

/// The console of a signed-in user: it shows who you are and your role; when the session
/// expires (and cannot be renewed) the status line asks for `warroom login` and a note typed
/// meanwhile is kept; after `warroom login` in another terminal the console takes the new
/// session and the note reaches the server, authored by the user.
#[tokio::test(flavor = "multi_thread")]
async fn a_console_whose_session_expires_asks_for_login_and_loses_nothing() {
    let Some(p) = provider() else { return };
    let srv = server(&p, "4s").await;
    let env = Env::new();
    login(&env, &p, &srv, "alice").await;
    env.ok(&["--server", &srv.base, "declare", "--severity", "SEV-2", "--title", "db down"]);
    // The provider's refresh token is gone: the session cannot be renewed when it expires.
    let file = std::fs::read_dir(&env.data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("session-"))
        .unwrap();
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    s.as_object_mut().unwrap().remove("refresh_token");
    std::fs::write(&file, s.to_string()).unwrap();

    let Some(tmux) = crate::bin_support::Tmux::new("oidc-console") else { return };
    let cmd = format!(
        "env TERM=xterm-256color WARROOM_DATA_DIR={d} WARROOM_CONFIG_DIR={c} {exe} --server {url} --open INC-1",
        d = env.data.display(),
        c = env.config.display(),
        exe = crate::bin_support::BIN,
        url = srv.base
    );
    tmux.run(&["new-session", "-d", "-s", "c", "-x", "120", "-y", "30", &cmd]);
    tmux.wait_for("c", "who and role", |s| s.contains("alice (commander)") && s.contains("live"));
    tmux.wait_for("c", "asked to sign in again", |s| s.contains("warroom login"));
    tmux.keys("c", &["n"]);
    tmux.wait_for("c", "composer", |s| s.contains("note @"));
    tmux.text("c", "typed while signed out");
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "the note kept", |s| s.contains("typed while signed out"));
    let has_note = || async {
        srv.store
            .events_after(0, 100, Some("INC-1"))
            .await
            .unwrap()
            .into_iter()
            .find(|e| serde_json::to_string(&e.body).unwrap().contains("typed while signed out"))
    };
    assert!(has_note().await.is_none(), "sent with an expired session?");
    login(&env, &p, &srv, "alice").await;
    let deadline = Instant::now() + PATIENCE;
    let note = loop {
        if let Some(e) = has_note().await {
            break e;
        }
        assert!(Instant::now() < deadline, "the note never reached the server:\n{}", tmux.screen("c"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(note.author, "alice");
    tmux.wait_for("c", "live again, no sign-in prompt", |s| {
        s.contains("live") && !s.contains("warroom login")
    });
}

/// `warroom login --browser`: the authorization code grant with PKCE, a nonce, and the
/// redirect to a loopback port; the test is the browser.
#[tokio::test(flavor = "multi_thread")]
async fn browser_login_with_pkce_and_a_loopback_redirect() {
    let Some(p) = provider() else { return };
    let srv = server(&p, "12h").await;
    let env = Env::new();
    let mut child = env
        .cmd()
        .args(["--server", &srv.base, "login", "--browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = rx.recv_timeout(PATIENCE).expect("warroom login --browser printed no URL");
        if let Some(u) = line.strip_prefix("To sign in, open ") {
            break u.to_string();
        }
    };
    assert!(url.contains("code_challenge_method=S256") && url.contains("nonce="), "{url}");
    p.approve(&url, "bob").await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    tokio::task::spawn_blocking(move || reader.join().expect("the stdout reader")).await.unwrap();
    let said: Vec<String> = rx.try_iter().collect();
    assert!(out.status.success(), "{said:?} {}", text(&out.stderr));
    assert!(said.iter().any(|l| l.contains("as bob (viewer)")), "{said:?}");
    assert!(whoami(&env, &srv).starts_with("bob (viewer)"), "{}", whoami(&env, &srv));
}

/// The user refuses at the provider: `warroom login` says sign-in was denied and stores nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_device_login_denied_by_the_user_fails_clearly() {
    let Some(p) = provider() else { return };
    let srv = server(&p, "12h").await;
    let env = Env::new();
    let mut child = env
        .cmd()
        .args(["--server", &srv.base, "login"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let complete = loop {
        let line = rx.recv_timeout(PATIENCE).expect("no verification URL");
        if let Some(url) = line.strip_prefix("(or open ").and_then(|l| l.strip_suffix(')')) {
            break url.to_string();
        }
    };
    // The browser: the code page, then "Abort" on the confirmation page.
    let browser = server_support::client_builder().cookie_store(true).build().unwrap();
    let page = browser.get(&complete).send().await.unwrap().text().await.unwrap();
    let action = attr(&page, "<form", "action").unwrap();
    let page = browser.post(&action).form(&hidden_inputs(&page)).send().await.unwrap().text().await.unwrap();
    let mut fields = hidden_inputs(&page);
    fields.retain(|(k, _)| k != "confirm");
    fields.push(("abort".into(), "yes".into()));
    browser.post(&action).form(&fields).send().await.unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("denied"), "{}", text(&out.stderr));
    assert!(
        !std::fs::read_dir(&env.data).is_ok_and(
            |mut d| d.any(|e| { e.unwrap().file_name().to_string_lossy().starts_with("session-") })
        )
    );
}
