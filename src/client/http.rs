//! `ApiClient`: the typed HTTP client for every endpoint of `warroom serve` (reqwest over
//! rustls with the ring provider), and `ClientError`, which says whether a failure is worth a
//! retry (server unreachable, 5xx) or final (the server refused the request, 4xx).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::api::{
    AppendRequest, AppendResponse, ErrorBody, EventPage, Health, IF_MATCH, IncidentList, IncidentSnapshot,
    Me, paths,
};
use crate::domain::{Incident, NewEvent, Practice};

/// Time allowed to open a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for one ordinary request, start to end.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest silence tolerated on the event stream (the server sends a keep-alive every 15 s).
pub const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(45);
/// How long an idle pooled connection is kept: under the server's idle cut-off of a keep-alive
/// connection (its header timeout, at least 5 s), so a request never goes out on a connection
/// the server is closing.
const POOL_IDLE: Duration = Duration::from_secs(4);

/// How long the client waits. The defaults suit people on real networks; tests that inject
/// faults shorten them so a stalled connection is given up in a second, not in fifteen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a TCP (and TLS) connection.
    pub connect: Duration,
    /// For one ordinary request, start to end (a long poll gets its `wait` on top).
    pub request: Duration,
    /// Longest silence between bytes on the event stream.
    pub stream_read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: CONNECT_TIMEOUT, request: REQUEST_TIMEOUT, stream_read: STREAM_READ_TIMEOUT }
    }
}

/// Installs rustls' ring crypto provider for the process. Idempotent; call before building a
/// client (reqwest is built with `rustls-no-provider`).
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why a request failed, sorted by what the caller should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// Could not connect, or the connection broke or timed out: retry later.
    #[error("cannot reach {url}: {reason} — is `warroom serve` running?")]
    Unreachable { url: String, reason: String },
    /// The server's certificate is not trusted (#15 item 16): not a network blip, nothing was
    /// sent, and trying again changes nothing until the user trusts it (`warroom trust`).
    #[error("the server's certificate is not trusted: {reason}")]
    Untrusted { url: String, reason: String, changed: bool },
    /// 401: the token is wrong, revoked or missing. Not worth retrying.
    #[error("the server refused the token: {message}")]
    Unauthorized { message: String },
    /// 403: the token's role may not do this.
    #[error("not allowed: {message}")]
    Forbidden { message: String },
    /// 412: a guarded change was made against an older revision; `current` is the incident now.
    #[error("conflict: {message}")]
    Conflict { message: String, current: Option<Box<Incident>> },
    /// Any other 4xx: the request itself is wrong. Not worth retrying.
    #[error("the server refused the request ({status}): {}", .body.message)]
    Refused { status: u16, body: ErrorBody },
    /// 5xx (or 408/429), or an answer that could not be understood: retry later. `code` is the
    /// server's error code (`store_unavailable`, `busy`, `rate_limited`, ...) when it sent one.
    #[error("server error ({status}) at {url}: {message}")]
    Server { status: u16, code: String, url: String, message: String },
}

impl ClientError {
    /// Worth trying again later (the write stays in the outbox).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. } | ClientError::Server { .. })
    }

    /// The server's certificate is not trusted: writes wait in the outbox (they were never sent)
    /// until the user trusts the server; not worth a retry before that.
    pub fn is_untrusted(&self) -> bool {
        matches!(self, ClientError::Untrusted { .. })
    }

    /// The HTTP status for a refusal (4xx), if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Unauthorized { .. } => Some(401),
            ClientError::Forbidden { .. } => Some(403),
            ClientError::Conflict { .. } => Some(412),
            ClientError::Refused { status, .. } | ClientError::Server { status, .. } => Some(*status),
            ClientError::Unreachable { .. } | ClientError::Untrusted { .. } => None,
        }
    }

    /// The error as the JSON body a refusal carries (for `SyncMsg::Refused` and the rejected file).
    pub fn error_body(&self) -> ErrorBody {
        match self {
            ClientError::Refused { body, .. } => body.clone(),
            ClientError::Conflict { message, current } => {
                ErrorBody { error: "conflict".into(), message: message.clone(), current: current.clone() }
            }
            ClientError::Unauthorized { message } => {
                ErrorBody { error: "unauthorized".into(), message: message.clone(), current: None }
            }
            ClientError::Forbidden { message } => {
                ErrorBody { error: "forbidden".into(), message: message.clone(), current: None }
            }
            other => ErrorBody { error: "unavailable".into(), message: other.to_string(), current: None },
        }
    }
}

/// The typed client. Cheap to clone (the connection pool and the current server are shared).
#[derive(Clone)]
pub struct ApiClient {
    bases: Arc<Vec<String>>,
    current: Arc<AtomicUsize>,
    /// Shared by every clone: a renewed sign-in session replaces it for all (see
    /// [`ApiClient::replace_token`]).
    token: Arc<std::sync::RwLock<Option<Arc<str>>>>,
    timeouts: Timeouts,
    http: reqwest::Client,
    stream_http: reqwest::Client,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("ApiClient")
            .field("bases", &self.bases)
            .field("current", &self.base())
            .field("token", &self.current_token().map(|_| "<redacted>"))
            .finish()
    }
}

fn normalize(url: &str) -> String {
    let u = url.trim().trim_end_matches('/');
    if u.contains("://") { u.to_string() } else { format!("http://{u}") }
}

/// The innermost cause of an error, which is usually the one a human understands
/// ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// How the client trusts servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra CA certificate(s) (PEM) to trust besides the system's, e.g. a team's own CA.
    pub ca_file: Option<std::path::PathBuf>,
    /// Allow sending the token over plain HTTP to a host that is not loopback.
    pub insecure_http: bool,
    /// Certificates trusted by fingerprint (`--pin`, config `pin`), whoever signed them.
    pub pins: Vec<super::tls::Fingerprint>,
    /// `<data dir>/known_servers`: servers trusted with `warroom trust` (none when unset).
    pub known_servers: Option<std::path::PathBuf>,
}

/// Whether a URL's host is this machine (plain HTTP there never leaves the host).
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The certificates of the CA file (PEM), each named in the error when unusable.
fn read_ca_file(path: &std::path::Path) -> anyhow::Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject as _;
    let pem =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("reading the CA file {}: {e}", path.display()))?;
    let certs =
        rustls_pki_types::CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(
            |e| anyhow::anyhow!("the CA file {} holds no usable PEM certificate: {e}", path.display()),
        )?;
    if certs.is_empty() {
        anyhow::bail!(
            "the CA file {} holds no certificate (expected `-----BEGIN CERTIFICATE-----`)",
            path.display()
        );
    }
    Ok(certs)
}

/// The rustls configuration for `tls` and the servers `urls` (see `client::tls`); with
/// `recorder`, one that accepts any certificate and remembers it (`warroom trust`).
fn tls_config(
    tls: &TlsOptions,
    urls: &[reqwest::Url],
    recorder: Option<&mut Option<Arc<super::tls::Recorder>>>,
) -> anyhow::Result<rustls::ClientConfig> {
    let ca = match &tls.ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = super::tls::TrustVerifier::new(
        ca,
        tls.pins.clone(),
        tls.known_servers.clone(),
        urls,
        provider.clone(),
    );
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match recorder {
        Some(slot) => {
            let r = Arc::new(super::tls::Recorder::new(verifier));
            *slot = Some(r.clone());
            r
        }
        None => Arc::new(verifier),
    };
    super::tls::client_config(verifier, provider)
}

/// What `warroom trust` learns from a server: the certificate it presents, and whether the
/// usual check (system roots and `--ca-file`) accepts it, or why not.
#[derive(Debug, Clone)]
pub struct Presented {
    pub fingerprint: super::tls::Fingerprint,
    pub usual: Result<(), String>,
}

/// Connects to `url` (an `https://` URL) accepting any certificate, and returns the one it
/// presents. Sends no token; the request (`/healthz`) may fail after the handshake.
pub async fn presented_certificate(
    url: &str,
    tls: &TlsOptions,
    timeouts: Timeouts,
) -> Result<Presented, ClientError> {
    init_tls();
    let base = normalize(url);
    let parsed = reqwest::Url::parse(&base)
        .map_err(|e| ClientError::Unreachable { url: base.clone(), reason: format!("bad URL: {e}") })?;
    let unreachable = |reason: String| ClientError::Unreachable { url: base.clone(), reason };
    let mut slot = None;
    let config = tls_config(tls, std::slice::from_ref(&parsed), Some(&mut slot))
        .map_err(|e| unreachable(format!("{e:#}")))?;
    let http = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .tls_backend_preconfigured(config)
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let sent = http.get(format!("{base}{}", paths::HEALTH)).send().await;
    let recorder = slot.expect("set by tls_config");
    let seen = recorder.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let usual = recorder.usual.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match (seen, usual) {
        (Some(cert), Some(usual)) => {
            Ok(Presented { fingerprint: super::tls::Fingerprint::of(cert.as_ref()), usual })
        }
        _ => Err(match sent {
            Err(e) => unreachable(if e.is_timeout() { "timed out".into() } else { root_cause(&e) }),
            Ok(_) => unreachable("no TLS certificate was presented".into()),
        }),
    }
}

impl ApiClient {
    /// A client for one or more base URLs (`http://host:port`; several for failover), with an
    /// optional bearer token. Refuses to send a token over plain HTTP to another host.
    pub fn new(urls: &[String], token: Option<String>) -> anyhow::Result<ApiClient> {
        Self::with_tls(urls, token, &TlsOptions::default())
    }

    /// As [`ApiClient::new`], trusting `tls.ca_file` too, and allowing plain HTTP to other
    /// hosts only with `tls.insecure_http`.
    pub fn with_tls(urls: &[String], token: Option<String>, tls: &TlsOptions) -> anyhow::Result<ApiClient> {
        Self::with_options(urls, token, tls, Timeouts::default())
    }

    /// As [`ApiClient::with_tls`], with explicit timeouts.
    pub fn with_options(
        urls: &[String],
        token: Option<String>,
        tls: &TlsOptions,
        timeouts: Timeouts,
    ) -> anyhow::Result<ApiClient> {
        init_tls();
        let bases: Vec<String> = urls.iter().map(|u| normalize(u)).filter(|u| u != "http://").collect();
        if bases.is_empty() {
            anyhow::bail!("no server URL given");
        }
        for b in &bases {
            let url = reqwest::Url::parse(b).map_err(|e| anyhow::anyhow!("bad server URL `{b}`: {e}"))?;
            if url.scheme() == "http" && token.is_some() && !tls.insecure_http && !is_loopback(&url) {
                anyhow::bail!(
                    "refusing to send the token over plain HTTP to {b}: use https:// (warroom serve \
                     --tls-cert/--tls-key), or pass --insecure-http if the network is trusted"
                );
            }
        }
        let urls: Vec<reqwest::Url> = bases.iter().filter_map(|b| reqwest::Url::parse(b).ok()).collect();
        let config = tls_config(tls, &urls, None)?;
        let ua = concat!("warroom/", env!("CARGO_PKG_VERSION"));
        let builder = |b: reqwest::ClientBuilder| {
            b.user_agent(ua)
                .connect_timeout(timeouts.connect)
                .pool_idle_timeout(POOL_IDLE)
                .tls_backend_preconfigured(config.clone())
        };
        let http = builder(reqwest::Client::builder()).timeout(timeouts.request).gzip(true).build()?;
        let stream_http = builder(reqwest::Client::builder()).read_timeout(timeouts.stream_read).build()?;
        Ok(ApiClient {
            bases: Arc::new(bases),
            current: Arc::new(AtomicUsize::new(0)),
            token: Arc::new(std::sync::RwLock::new(token.map(Arc::from))),
            timeouts,
            http,
            stream_http,
        })
    }

    fn current_token(&self) -> Option<Arc<str>> {
        self.token.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the token of this client and every clone of it (a renewed sign-in session).
    pub fn replace_token(&self, token: String) {
        *self.token.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::from(token));
    }

    /// The outbox identity of this client's token (`token:<SHA-256 prefix>`), if it has one.
    pub fn token_identity(&self) -> Option<String> {
        use sha2::Digest as _;
        let t = self.current_token()?;
        Some(format!("token:{}", &hex::encode(sha2::Sha256::digest(t.as_bytes()))[..16]))
    }

    /// The base URL requests go to now.
    pub fn base(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// The timeouts this client was built with.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Every configured base URL, first one first.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// Moves on from `failed` (a base URL that was unreachable) to the next base URL. Several
    /// tasks may report the same failure: only the first moves the cursor. Returns whether there
    /// is another server worth trying now.
    pub fn fail_over(&self, failed: &str) -> bool {
        let n = self.bases.len();
        if n < 2 {
            return false;
        }
        let cur = self.current.load(Ordering::SeqCst);
        if self.bases[cur % n] != failed {
            return true; // someone already moved on
        }
        let _ = self.current.compare_exchange(cur, (cur + 1) % n, Ordering::SeqCst, Ordering::SeqCst);
        true
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }

    pub(super) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.with_auth(self.http.request(method, self.url(path)))
    }

    fn with_auth(&self, rb: RequestBuilder) -> RequestBuilder {
        match self.current_token() {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> ClientError {
        // The base the failed request went to (the current one may have moved on meanwhile).
        let url = e
            .url()
            .and_then(|u| self.bases.iter().find(|b| u.as_str().starts_with(b.as_str())))
            .map(String::as_str)
            .unwrap_or(self.base())
            .to_string();
        let reason = if e.is_timeout() {
            "timed out".to_string()
        } else {
            let r = root_cause(&e);
            if r.is_empty() { e.to_string() } else { r }
        };
        if let Some(u) = super::tls::untrusted_in(&e) {
            let changed = matches!(u.why, super::tls::Why::Changed { .. });
            return ClientError::Untrusted { url, reason: u.to_string(), changed };
        }
        if e.is_decode() {
            return ClientError::Server {
                status: 200,
                code: "unreadable_answer".into(),
                url,
                message: format!("unreadable answer: {reason}"),
            };
        }
        ClientError::Unreachable { url, reason }
    }

    /// Sends a request and sorts the answer: success, or a `ClientError` by status.
    pub(super) async fn send(&self, rb: RequestBuilder) -> Result<Response, ClientError> {
        let resp = rb.send().await.map_err(|e| self.transport_error(e))?;
        self.check(resp).await
    }

    async fn check(&self, resp: Response) -> Result<Response, ClientError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let body: ErrorBody = serde_json::from_str(&text).unwrap_or_else(|_| ErrorBody {
            error: status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "_"),
            message: if text.trim().is_empty() {
                status.to_string()
            } else {
                crate::domain::text::line(text.trim()).chars().take(300).collect()
            },
            current: None,
        });
        Err(match status {
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized { message: body.message },
            StatusCode::FORBIDDEN => ClientError::Forbidden { message: body.message },
            StatusCode::PRECONDITION_FAILED => {
                ClientError::Conflict { message: body.message, current: body.current }
            }
            s if s.is_client_error()
                && s != StatusCode::REQUEST_TIMEOUT
                && s != StatusCode::TOO_MANY_REQUESTS =>
            {
                ClientError::Refused { status: s.as_u16(), body }
            }
            s => ClientError::Server {
                status: s.as_u16(),
                code: body.error,
                url: self.base().to_string(),
                message: body.message,
            },
        })
    }

    pub(super) async fn json<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T, ClientError> {
        let resp = self.send(rb).await?;
        resp.json::<T>().await.map_err(|e| self.transport_error(e))
    }

    /// `GET /healthz` (no token needed).
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.json(self.request(Method::GET, paths::HEALTH)).await
    }

    /// `GET /me`: who the token belongs to.
    pub async fn me(&self) -> Result<Me, ClientError> {
        self.json(self.request(Method::GET, paths::ME)).await
    }

    /// `GET /practice`: the server's severity scheme, roles, checklists and playbooks.
    pub async fn practice(&self) -> Result<Practice, ClientError> {
        self.json(self.request(Method::GET, paths::PRACTICE)).await
    }

    /// `GET /incidents`: every incident's state and the seq it reflects.
    pub async fn incidents(&self) -> Result<IncidentList, ClientError> {
        self.json(self.request(Method::GET, paths::INCIDENTS)).await
    }

    /// `GET /incidents?status=all`: every incident ever declared (for reports).
    pub async fn all_incidents(&self) -> Result<IncidentList, ClientError> {
        self.json(self.request(Method::GET, paths::INCIDENTS).query(&[("status", "all")])).await
    }

    /// `GET /incidents/{id}[?events=true]`.
    pub async fn incident(&self, id: &str, events: bool) -> Result<IncidentSnapshot, ClientError> {
        let rb = self.request(Method::GET, &paths::incident(id));
        let rb = if events { rb.query(&[("events", "true")]) } else { rb };
        self.json(rb).await
    }

    /// `GET /incidents/{id}/postmortem.md`: the open response, to read with `chunk()` (the
    /// server streams it: an incident of any length is never whole in memory).
    pub async fn postmortem_md(&self, id: &str) -> Result<Response, ClientError> {
        self.send(self.request(Method::GET, &format!("{}/postmortem.md", paths::incident(id)))).await
    }

    /// `POST /incidents`: declares an incident (the event must be `declared`).
    pub async fn declare(&self, event: &NewEvent) -> Result<AppendResponse, ClientError> {
        self.json(self.request(Method::POST, paths::INCIDENTS).json(event)).await
    }

    /// `POST /incidents/{id}/events`, with `If-Match` for a guarded change.
    pub async fn append(
        &self,
        incident: &str,
        events: Vec<NewEvent>,
        if_match: Option<u64>,
    ) -> Result<AppendResponse, ClientError> {
        let body = if events.len() == 1 {
            AppendRequest::One(events.into_iter().next().expect("one event"))
        } else {
            AppendRequest::Batch { events }
        };
        let mut rb = self.request(Method::POST, &paths::incident_events(incident)).json(&body);
        if let Some(rev) = if_match {
            rb = rb.header(IF_MATCH, rev.to_string());
        }
        self.json(rb).await
    }

    /// `GET /events?after=&wait=&limit=`: a page of events after `after`; with `wait`, a long
    /// poll that returns as soon as there is one (or after `wait` seconds, empty).
    pub async fn events(
        &self,
        after: u64,
        wait: Option<u64>,
        limit: Option<u32>,
    ) -> Result<EventPage, ClientError> {
        let mut q: Vec<(&str, String)> = vec![("after", after.to_string())];
        if let Some(w) = wait {
            q.push(("wait", w.to_string()));
        }
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        let mut rb = self.request(Method::GET, paths::EVENTS).query(&q);
        if let Some(w) = wait {
            rb = rb.timeout(self.timeouts.request + Duration::from_secs(w));
        }
        self.json(rb).await
    }

    /// `GET /stream`, resuming after `after` (sent as `Last-Event-ID` and `?after=`). Returns the
    /// open response; read it with `bytes_stream()` and `eventsource-stream`. No overall
    /// timeout, but a read timeout of [`Timeouts::stream_read`].
    pub async fn stream(&self, after: u64) -> Result<Response, ClientError> {
        let rb = self
            .with_auth(self.stream_http.get(self.url(paths::STREAM)))
            .query(&[("after", after.to_string())])
            .header("Last-Event-ID", after.to_string())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        self.send(rb).await
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    #[test]
    fn no_token_over_plain_http_to_another_host() {
        let tok = Some("wr_x".to_string());
        let err = ApiClient::new(&["http://warroom.internal:7878".into()], tok.clone()).unwrap_err();
        assert!(err.to_string().contains("refusing to send the token over plain HTTP"), "{err}");
        // Loopback, https, no token, or an explicit opt-in are fine.
        for ok in
            ["http://127.0.0.1:7878", "http://localhost:1", "http://[::1]:7878", "https://warroom.internal"]
        {
            ApiClient::new(&[ok.into()], tok.clone()).unwrap();
        }
        ApiClient::new(&["http://warroom.internal:7878".into()], None).unwrap();
        let opt_in = TlsOptions { insecure_http: true, ..TlsOptions::default() };
        ApiClient::with_tls(&["http://warroom.internal:7878".into()], tok, &opt_in).unwrap();
    }

    #[test]
    fn a_bad_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let tls = TlsOptions { ca_file: Some(path.clone()), ..TlsOptions::default() };
        let err = ApiClient::with_tls(&["https://x".into()], None, &tls).unwrap_err().to_string();
        assert!(err.contains("ca.pem"), "{err}");
        let missing = TlsOptions { ca_file: Some(dir.path().join("nope.pem")), ..TlsOptions::default() };
        let err = ApiClient::with_tls(&["https://x".into()], None, &missing).unwrap_err().to_string();
        assert!(err.contains("nope.pem"), "{err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreachable_server_is_a_clear_retryable_error() {
        // Bind then drop a listener to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let c = ApiClient::new(&[format!("127.0.0.1:{port}/")], None).unwrap();
        assert_eq!(c.base(), format!("http://127.0.0.1:{port}"));
        let err = c.me().await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("cannot reach http://127.0.0.1:{port}: ")), "{msg}");
        assert!(msg.contains("warroom serve"), "{msg}");
        assert!(msg.to_lowercase().contains("refused"), "{msg}");
    }

    #[test]
    fn fail_over_rotates_only_with_several_servers() {
        let c = ApiClient::new(&["http://a:1".into()], None).unwrap();
        assert!(!c.fail_over("http://a:1"));
        assert_eq!(c.base(), "http://a:1");
        let c = ApiClient::new(&["http://a:1".into(), "https://b:2".into()], None).unwrap();
        assert!(c.fail_over("http://a:1"));
        assert_eq!(c.base(), "https://b:2");
        // A second report of the same failure does not move back.
        assert!(c.fail_over("http://a:1"));
        assert_eq!(c.base(), "https://b:2");
        assert!(c.fail_over("https://b:2"));
        assert_eq!(c.base(), "http://a:1");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = ApiClient::new(&["https://a:1".into()], Some("wr_secret".into())).unwrap();
        assert!(!format!("{c:?}").contains("wr_secret"));
    }

    #[test]
    fn bad_url_is_refused() {
        assert!(ApiClient::new(&["http://exa mple:x".into()], None).is_err());
        assert!(ApiClient::new(&[], None).is_err());
    }
}
