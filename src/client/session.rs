//! Signing in with OpenID Connect: the device authorization grant (RFC 8628) at the server's
//! identity provider, the exchange of the ID token for the server's own session token, the
//! session kept in the data dir (`session-<server hash>.json`, mode 0600), and its refresh (a
//! refresh at the provider, whose new ID token carries the user's groups as they are now,
//! exchanged again at the server).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::http::{ApiClient, ClientError};
use super::outbox::server_key;
use crate::api::auth::{
    AuditEntry, AuthInfo, CreateToken, CreatedToken, OidcInfo, SessionGranted, SessionRequest, paths,
};
use crate::api::{Role, TokenInfo};

/// Whether a refusal means the sign-in session expired or ended (sign in again as the same
/// user), rather than an unknown or revoked token.
pub fn is_session_expired(e: &ClientError) -> bool {
    matches!(e, ClientError::Unauthorized { message } if message.starts_with("the session of "))
}

/// A signed-in session for one server, as kept in the data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    /// The server's session token (`ws_...`).
    pub token: String,
    pub user: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
    /// Where to refresh: the provider's token endpoint, the client, and the refresh token.
    pub token_endpoint: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl Session {
    /// The outbox identity of what this session writes: the user, whichever session.
    pub fn identity(&self) -> String {
        format!("user:{}", self.user)
    }

    pub fn expired(&self) -> bool {
        self.expires_at <= Utc::now()
    }
}

/// The session file of a server in the data dir.
pub fn session_path(data_dir: &Path, server: &str) -> PathBuf {
    data_dir.join(format!("session-{}.json", server_key(server)))
}

/// The stored session for `server`, if any (an unreadable file counts as none).
pub fn load(data_dir: &Path, server: &str) -> Option<Session> {
    let text = std::fs::read_to_string(session_path(data_dir, server)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Stores a session (mode 0600; the file is replaced whole).
pub fn save(data_dir: &Path, s: &Session) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let path = session_path(data_dir, &s.server);
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(s)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Forgets the stored session of `server`; whether there was one.
pub fn remove(data_dir: &Path, server: &str) -> std::io::Result<bool> {
    match std::fs::remove_file(session_path(data_dir, server)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// What the user is asked to do during a device login.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DevicePrompt {
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct DeviceAuthorization {
    device_code: String,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(flatten)]
    prompt: DevicePrompt,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

fn idp_http() -> anyhow::Result<reqwest::Client> {
    super::http::init_tls();
    Ok(reqwest::Client::builder()
        .user_agent(concat!("warroom/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .build()?)
}

/// Posts a form to the provider: the JSON answer, or its OAuth error.
async fn post_form<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Result<T, OAuthError>> {
    let resp = http
        .post(url)
        .form(form)
        .send()
        .await
        .with_context(|| format!("cannot reach the identity provider at {url}"))?;
    let status = resp.status();
    let text = resp.text().await.with_context(|| format!("reading the answer of {url}"))?;
    if status.is_success() {
        return Ok(Ok(serde_json::from_str(&text)
            .with_context(|| format!("unreadable answer from the identity provider at {url}"))?));
    }
    match serde_json::from_str::<OAuthError>(&text) {
        Ok(e) => Ok(Err(e)),
        Err(_) => bail!("the identity provider answered {status} at {url}"),
    }
}

fn client_form<'a>(
    info_id: &'a str,
    secret: Option<&'a str>,
    mut form: Vec<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    form.push(("client_id", info_id));
    if let Some(s) = secret {
        form.push(("client_secret", s));
    }
    form
}

/// Signs in to the server `api` talks to with the device authorization grant: `prompt` is
/// called once with what the user must open and type; polls the provider at its interval
/// until the user is done. The session is returned (not yet stored).
pub async fn device_login(api: &ApiClient, prompt: impl FnOnce(&DevicePrompt)) -> anyhow::Result<Session> {
    let info = api.auth_info().await.context("asking the server how to sign in")?;
    let Some(oidc) = info.oidc else {
        bail!("{} has no sign-in configured ([serve.oidc]); use a token (--token or token_file)", api.base());
    };
    let Some(device_endpoint) = oidc.device_authorization_endpoint.clone() else {
        bail!("the identity provider {} offers no device authorization (RFC 8628)", oidc.issuer);
    };
    let http = idp_http()?;
    let scope = oidc.scopes.join(" ");
    let form = client_form(&oidc.client_id, oidc.client_secret.as_deref(), vec![("scope", &scope)]);
    let auth: DeviceAuthorization = match post_form(&http, &device_endpoint, &form).await? {
        Ok(a) => a,
        Err(e) => bail!(
            "the identity provider refused the device authorization: {} {}",
            e.error,
            e.error_description.unwrap_or_default()
        ),
    };
    prompt(&auth.prompt);
    let mut interval = Duration::from_secs(auth.interval.unwrap_or(5).max(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(auth.prompt.expires_in.unwrap_or(600));
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    loop {
        tokio::time::sleep(interval).await;
        let form = client_form(
            &oidc.client_id,
            oidc.client_secret.as_deref(),
            vec![("grant_type", grant), ("device_code", &auth.device_code)],
        );
        match post_form::<TokenAnswer>(&http, &oidc.token_endpoint, &form).await? {
            Ok(answer) => return exchange(api, &oidc, answer, None).await,
            Err(e) => match e.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += Duration::from_secs(5),
                "expired_token" => bail!(
                    "the code {} expired before sign-in finished; run `warroom login` again",
                    auth.prompt.user_code
                ),
                "access_denied" => bail!("sign-in was denied at the identity provider"),
                other => bail!(
                    "the identity provider refused the sign-in: {other} {}",
                    e.error_description.unwrap_or_default()
                ),
            },
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the code {} expired before sign-in finished; run `warroom login` again",
                auth.prompt.user_code
            );
        }
    }
}

fn random_url_safe() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs in with a browser on this machine: the authorization code grant with PKCE (S256), a
/// `state` and a `nonce`, and a redirect to a one-shot listener on a loopback port (RFC 8252).
/// `open` is called with the URL to open in the browser.
pub async fn browser_login(api: &ApiClient, open: impl FnOnce(&str)) -> anyhow::Result<Session> {
    use base64::Engine as _;
    use sha2::Digest as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let info = api.auth_info().await.context("asking the server how to sign in")?;
    let Some(oidc) = info.oidc else {
        bail!("{} has no sign-in configured ([serve.oidc]); use a token (--token or token_file)", api.base());
    };
    let Some(authorize) = oidc.authorization_endpoint.clone() else {
        bail!("the identity provider {} names no authorization endpoint", oidc.issuer);
    };
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.context("listening on a loopback port")?;
    let redirect = format!("http://127.0.0.1:{}/callback", listener.local_addr()?.port());
    let (verifier, state, nonce) = (random_url_safe(), random_url_safe(), random_url_safe());
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut url =
        reqwest::Url::parse(&authorize).with_context(|| format!("bad authorization endpoint {authorize}"))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &oidc.client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", &oidc.scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "consent");
    open(url.as_str());
    // The browser comes back once (other requests, e.g. a favicon, are answered and ignored).
    let code = tokio::time::timeout(Duration::from_secs(600), async {
        loop {
            let (mut sock, _) = listener.accept().await?;
            let mut buf = vec![0u8; 8192];
            let n = sock.read(&mut buf).await?;
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let Ok(back) = reqwest::Url::parse(&format!("http://127.0.0.1{path}")) else { continue };
            if back.path() != "/callback" {
                let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                continue;
            }
            let q: std::collections::HashMap<String, String> = back.query_pairs().into_owned().collect();
            let (ok, body) = match (q.get("state"), q.get("code"), q.get("error")) {
                (Some(s), Some(c), None) if *s == state => (Ok(c.clone()), "warroom: signed in; you may close this window."),
                (_, _, Some(e)) => (Err(anyhow::anyhow!("sign-in failed at the identity provider: {e}")), "warroom: sign-in failed."),
                _ => (Err(anyhow::anyhow!("the browser came back without a valid code and state")), "warroom: sign-in failed."),
            };
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            return Ok::<_, anyhow::Error>(ok);
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("the browser did not come back within 10 minutes"))???;
    let http = idp_http()?;
    let form = client_form(
        &oidc.client_id,
        oidc.client_secret.as_deref(),
        vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ],
    );
    let answer = match post_form::<TokenAnswer>(&http, &oidc.token_endpoint, &form).await? {
        Ok(a) => a,
        Err(e) => bail!(
            "the identity provider refused the code: {} {}",
            e.error,
            e.error_description.unwrap_or_default()
        ),
    };
    exchange_with_nonce(api, &oidc, answer, None, Some(nonce)).await
}

/// Exchanges the provider's answer (its ID token) for a session of the server.
async fn exchange(
    api: &ApiClient,
    oidc: &OidcInfo,
    answer: TokenAnswer,
    old_refresh: Option<String>,
) -> anyhow::Result<Session> {
    exchange_with_nonce(api, oidc, answer, old_refresh, None).await
}

async fn exchange_with_nonce(
    api: &ApiClient,
    oidc: &OidcInfo,
    answer: TokenAnswer,
    old_refresh: Option<String>,
    nonce: Option<String>,
) -> anyhow::Result<Session> {
    let Some(id_token) = answer.id_token else {
        bail!("the identity provider returned no ID token (is the `openid` scope configured?)");
    };
    let granted = api.create_session_with_nonce(&id_token, nonce).await?;
    Ok(Session {
        server: api.base().to_string(),
        token: granted.token,
        user: granted.user,
        role: granted.role,
        expires_at: granted.expires_at,
        token_endpoint: oidc.token_endpoint.clone(),
        client_id: oidc.client_id.clone(),
        client_secret: oidc.client_secret.clone(),
        refresh_token: answer.refresh_token.or(old_refresh),
    })
}

/// Renews a session: a refresh at the provider, its new ID token exchanged at the server (the
/// role is mapped again from the user's groups now). Fails when there is no refresh token or
/// the provider refuses it (sign in again).
pub async fn refresh(api: &ApiClient, s: &Session) -> anyhow::Result<Session> {
    let Some(rt) = s.refresh_token.as_deref() else {
        bail!(
            "the session of {} cannot be renewed (no refresh token); sign in again with `warroom login`",
            s.user
        );
    };
    let http = idp_http()?;
    let form = client_form(
        &s.client_id,
        s.client_secret.as_deref(),
        vec![("grant_type", "refresh_token"), ("refresh_token", rt)],
    );
    let answer = match post_form::<TokenAnswer>(&http, &s.token_endpoint, &form).await? {
        Ok(a) => a,
        Err(e) => bail!(
            "the identity provider refused to renew the session of {} ({}); sign in again with `warroom login`",
            s.user,
            e.error
        ),
    };
    let oidc = OidcInfo {
        issuer: String::new(),
        client_id: s.client_id.clone(),
        client_secret: s.client_secret.clone(),
        scopes: Vec::new(),
        device_authorization_endpoint: None,
        token_endpoint: s.token_endpoint.clone(),
        authorization_endpoint: None,
    };
    let new = exchange(api, &oidc, answer, s.refresh_token.clone()).await?;
    if new.user != s.user {
        bail!("the renewed session is for {}, not {}; sign in again", new.user, s.user);
    }
    Ok(new)
}

/// The sign-in, token and audit endpoints.
impl ApiClient {
    /// `GET /api/v1/auth` (no token needed).
    pub async fn auth_info(&self) -> Result<AuthInfo, ClientError> {
        self.json(self.request(Method::GET, paths::AUTH)).await
    }

    /// `POST /api/v1/auth/session`: an ID token for a session.
    pub async fn create_session(&self, id_token: &str) -> Result<SessionGranted, ClientError> {
        self.create_session_with_nonce(id_token, None).await
    }

    /// As [`ApiClient::create_session`], for an ID token that must carry `nonce`.
    pub async fn create_session_with_nonce(
        &self,
        id_token: &str,
        nonce: Option<String>,
    ) -> Result<SessionGranted, ClientError> {
        let body = SessionRequest { id_token: id_token.to_string(), nonce };
        self.json(self.request(Method::POST, paths::SESSION).json(&body)).await
    }

    /// `DELETE /api/v1/auth/session`: signs this client's session out.
    pub async fn end_session(&self) -> Result<(), ClientError> {
        self.send(self.request(Method::DELETE, paths::SESSION)).await.map(drop)
    }

    /// `GET /api/v1/tokens` (admins).
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        self.json(self.request(Method::GET, paths::TOKENS)).await
    }

    /// `POST /api/v1/tokens` (admins): the token and its secret (shown once).
    pub async fn create_token(&self, name: &str, role: Role) -> Result<CreatedToken, ClientError> {
        let body = CreateToken { name: name.to_string(), role };
        self.json(self.request(Method::POST, paths::TOKENS).json(&body)).await
    }

    /// `DELETE /api/v1/tokens/{name_or_id}` (admins).
    pub async fn revoke_token(&self, name_or_id: &str) -> Result<TokenInfo, ClientError> {
        self.json(self.request(Method::DELETE, &paths::token(name_or_id))).await
    }

    /// `GET /api/v1/audit?since=` (admins).
    pub async fn audit(&self, since: Option<DateTime<Utc>>) -> Result<Vec<AuditEntry>, ClientError> {
        let mut rb = self.request(Method::GET, paths::AUDIT);
        if let Some(t) = since {
            rb = rb.query(&[("since", t.to_rfc3339())]);
        }
        self.json(rb).await
    }
}
