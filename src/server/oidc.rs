//! Sign-in with OpenID Connect: `[serve.oidc]`, the identity provider's discovery document and
//! keys (JWKS, cached, fetched again when a token names a key id it does not know), ID token
//! verification (signature RS256/ES256 with `ring`, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`),
//! the groups -> role map, and the endpoints: `GET /api/v1/auth` (whether and how to sign in),
//! `POST /api/v1/auth/session` (an ID token in, the server's own session token out) and
//! `DELETE /api/v1/auth/session` (sign out).
//!
//! Refresh: the client keeps the provider's refresh token, refreshes at the provider and
//! exchanges the new ID token for a new session here. The role is mapped from the groups of
//! each ID token, so a change of groups at the provider takes effect at the next refresh.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::Mutex;

use super::AppState;
use super::auth::{Caller, hash_secret};
use super::error::{ApiError, Json, Unauthorized};
use super::store::SessionRecord;
use crate::api::Role;
use crate::api::auth::{AuthInfo, OidcInfo, SessionGranted, SessionRequest, paths};

/// Prefix of every session secret.
pub const SESSION_PREFIX: &str = "ws_";

/// Clock skew allowed between the provider and this server.
const LEEWAY_SECS: i64 = 60;

/// Least time between two fetches of the provider's keys (an unknown key id fetches again).
const JWKS_REFETCH: Duration = Duration::from_secs(5);

/// `[serve.oidc]`: sign-in with an OpenID Provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL (https, or http on loopback).
    #[serde(deserialize_with = "issuer_url")]
    pub issuer: String,
    /// This server's client at the provider (a public client).
    pub client_id: String,
    /// Only for providers that require one from a client that cannot keep it.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Scopes the client asks for.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim naming the user [default: `preferred_username`, else `email`].
    #[serde(default)]
    pub username_claim: Option<String>,
    /// The claim holding the user's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// `[serve.oidc.roles]`: group -> role; a user gets the highest role of their groups.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// The role of a user none of whose groups is mapped; without it, such a user is refused.
    #[serde(default)]
    pub default_role: Option<Role>,
    /// How long a session lasts, e.g. `12h`, `30m`, `90s`, `7d`.
    #[serde(default = "default_lifetime", deserialize_with = "lifetime", serialize_with = "ser_lifetime")]
    pub session_lifetime: Duration,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "offline_access"].map(String::from).to_vec()
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_lifetime() -> Duration {
    Duration::from_secs(12 * 3600)
}

/// Parses `90s`, `30m`, `12h`, `7d` (at least 1 s, at most 90 days).
pub fn parse_lifetime(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not a duration like `12h`, `30m`, `90s` or `7d`");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(mult).ok_or_else(bad)?;
    if secs == 0 || secs > 90 * 86400 {
        return Err(format!("a session lifetime is from 1s to 90d, not `{s}`"));
    }
    Ok(Duration::from_secs(secs))
}

fn lifetime<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_lifetime(&s).map_err(serde::de::Error::custom)
}

fn ser_lifetime<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{}s", d.as_secs()))
}

fn issuer_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let url = reqwest::Url::parse(s.trim())
        .map_err(|e| serde::de::Error::custom(format!("`{s}` is not a URL: {e}")))?;
    let loopback = url.host_str().is_some_and(|h| {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(serde::de::Error::custom(format!(
            "the issuer `{s}` must be an https:// URL (plain http only on loopback)"
        )));
    }
    Ok(s.trim().trim_end_matches('/').to_string())
}

/// The provider's discovery document (the parts used here).
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    #[serde(default)]
    device_authorization_endpoint: Option<String>,
    #[serde(default)]
    authorization_endpoint: Option<String>,
}

/// One public key of the provider's JWKS.
#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Default)]
struct Keys {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
}

/// Who an ID token names, and the role their groups map to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    /// The role and the group that granted it (`None` for the default role).
    pub role: Option<(Role, Option<String>)>,
}

/// Why sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The ID token is not acceptable (401).
    #[error("{0}")]
    Invalid(String),
    /// The user is known but may not use this server (403).
    #[error("{0}")]
    NoRole(String),
    /// The provider could not be asked (503).
    #[error("{0}")]
    Provider(String),
}

impl From<OidcError> for ApiError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Invalid(m) => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_id_token", m),
            OidcError::NoRole(m) => ApiError::new(StatusCode::FORBIDDEN, "no_role", m),
            OidcError::Provider(m) => {
                tracing::warn!("identity provider: {m}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "idp_unavailable", m)
            }
        }
    }
}

/// Sign-in for one configured provider. Shared by every request (cheap to share in an `Arc`).
pub struct Oidc {
    pub config: OidcConfig,
    http: reqwest::Client,
    discovery: Mutex<Option<Discovery>>,
    keys: Mutex<Keys>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, OidcError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| OidcError::Invalid(format!("the ID token's {what} is not base64url")))
}

impl Oidc {
    pub fn new(config: OidcConfig) -> anyhow::Result<Oidc> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("warroom/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Oidc { config, http, discovery: Mutex::new(None), keys: Mutex::new(Keys::default()) })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let resp =
            self.http.get(url).send().await.map_err(|e| {
                OidcError::Provider(format!("cannot reach the identity provider at {url}: {e}"))
            })?;
        if !resp.status().is_success() {
            return Err(OidcError::Provider(format!(
                "the identity provider answered {} for {url}",
                resp.status()
            )));
        }
        resp.json().await.map_err(|e| {
            OidcError::Provider(format!("unreadable answer from the identity provider at {url}: {e}"))
        })
    }

    /// The discovery document, fetched once (again after a failure).
    async fn discovery(&self) -> Result<Discovery, OidcError> {
        let mut d = self.discovery.lock().await;
        if let Some(d) = &*d {
            return Ok(d.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let doc: Discovery = self.get_json(&url).await?;
        if doc.issuer.trim_end_matches('/') != self.config.issuer {
            return Err(OidcError::Provider(format!(
                "the provider's discovery document names the issuer `{}`, not the configured `{}`",
                doc.issuer, self.config.issuer
            )));
        }
        *d = Some(doc.clone());
        Ok(doc)
    }

    /// What a client needs to sign in.
    pub async fn info(&self) -> Result<OidcInfo, OidcError> {
        let d = self.discovery().await?;
        Ok(OidcInfo {
            issuer: self.config.issuer.clone(),
            client_id: self.config.client_id.clone(),
            client_secret: self.config.client_secret.clone(),
            scopes: self.config.scopes.clone(),
            device_authorization_endpoint: d.device_authorization_endpoint,
            token_endpoint: d.token_endpoint,
            authorization_endpoint: d.authorization_endpoint,
        })
    }

    /// The keys that may have signed a token with this key id: from the cache, or fetched
    /// again when the id is unknown (a key rotation) and the last fetch is not too recent.
    async fn keys_for(&self, kid: Option<&str>) -> Result<Vec<Jwk>, OidcError> {
        let mut keys = self.keys.lock().await;
        let matching = |keys: &[Jwk]| -> Vec<Jwk> {
            keys.iter().filter(|k| kid.is_none() || k.kid.as_deref() == kid).cloned().collect()
        };
        let found = matching(&keys.keys);
        let stale = keys.fetched.is_none_or(|t| t.elapsed() >= JWKS_REFETCH);
        if !found.is_empty() || !stale {
            return Ok(found);
        }
        let d = self.discovery().await?;
        let set: JwkSet = self.get_json(&d.jwks_uri).await?;
        keys.keys = set.keys.into_iter().filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig")).collect();
        keys.fetched = Some(Instant::now());
        Ok(matching(&keys.keys))
    }

    /// Verifies an ID token and maps its user's groups to a role.
    pub async fn verify(&self, id_token: &str, nonce: Option<&str>) -> Result<Identity, OidcError> {
        let invalid = |m: &str| OidcError::Invalid(m.to_string());
        let mut parts = id_token.trim().split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the ID token is not a signed JWT (three dot-separated parts)"));
        };
        #[derive(Deserialize)]
        struct Header {
            alg: String,
            #[serde(default)]
            kid: Option<String>,
        }
        let header: Header = serde_json::from_slice(&b64(h, "header")?)
            .map_err(|_| invalid("the ID token's header is not a JSON object with `alg`"))?;
        let signature = b64(s, "signature")?;
        let message = &id_token.trim()[..h.len() + 1 + p.len()];
        let keys = self.keys_for(header.kid.as_deref()).await?;
        if keys.is_empty() {
            return Err(OidcError::Invalid(format!(
                "the ID token is signed with a key the provider does not publish (kid {:?})",
                header.kid.unwrap_or_default()
            )));
        }
        if !keys.iter().any(|k| check_signature(&header.alg, k, message.as_bytes(), &signature)) {
            return Err(OidcError::Invalid(format!(
                "the ID token's signature ({}) does not verify with the provider's keys",
                header.alg
            )));
        }
        let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&b64(p, "payload")?)
            .map_err(|_| invalid("the ID token's payload is not a JSON object"))?;
        self.check_claims(&claims, nonce)?;
        self.identity(&claims)
    }

    fn check_claims(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
        nonce: Option<&str>,
    ) -> Result<(), OidcError> {
        let str_claim = |k: &str| claims.get(k).and_then(|v| v.as_str());
        let iss = str_claim("iss").unwrap_or_default();
        if iss.trim_end_matches('/') != self.config.issuer {
            return Err(OidcError::Invalid(format!(
                "the ID token was issued by `{iss}`, not by this server's provider `{}`",
                self.config.issuer
            )));
        }
        let aud: Vec<&str> = match claims.get("aud") {
            Some(serde_json::Value::String(a)) => vec![a.as_str()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).collect(),
            _ => Vec::new(),
        };
        if !aud.contains(&self.config.client_id.as_str()) {
            return Err(OidcError::Invalid(format!(
                "the ID token is meant for {aud:?}, not for this server's client `{}`",
                self.config.client_id
            )));
        }
        if let Some(azp) = str_claim("azp")
            && azp != self.config.client_id
        {
            return Err(OidcError::Invalid(format!(
                "the ID token's authorized party is `{azp}`, not this server's client"
            )));
        }
        let now = Utc::now().timestamp();
        let num = |k: &str| claims.get(k).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));
        let Some(exp) = num("exp") else {
            return Err(OidcError::Invalid("the ID token has no expiry (`exp`)".into()));
        };
        if exp + LEEWAY_SECS < now {
            let at = chrono::DateTime::from_timestamp(exp, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
            return Err(OidcError::Invalid(format!("the ID token expired at {at}; sign in again")));
        }
        let Some(iat) = num("iat") else {
            return Err(OidcError::Invalid("the ID token has no issue time (`iat`)".into()));
        };
        if iat > now + LEEWAY_SECS {
            return Err(OidcError::Invalid(
                "the ID token was issued in the future (check the clocks)".into(),
            ));
        }
        match (nonce, str_claim("nonce")) {
            (None, None) => {}
            (Some(want), Some(got)) if want == got => {}
            _ => return Err(OidcError::Invalid("the ID token's nonce does not match the request's".into())),
        }
        Ok(())
    }

    fn identity(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Result<Identity, OidcError> {
        let name_of =
            |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
        let user = match &self.config.username_claim {
            Some(c) => name_of(c),
            None => name_of("preferred_username").or_else(|| name_of("email")),
        };
        let Some(user) = user else {
            return Err(OidcError::Invalid(format!(
                "the ID token names no user (claim `{}`)",
                self.config.username_claim.as_deref().unwrap_or("preferred_username` or `email")
            )));
        };
        if user.chars().count() > 64 || user.chars().any(char::is_control) {
            return Err(OidcError::Invalid("the ID token's user name is not a usable name".into()));
        }
        let groups: Vec<String> = match claims.get(&self.config.groups_claim) {
            Some(serde_json::Value::Array(a)) => {
                a.iter().filter_map(|v| v.as_str()).map(String::from).collect()
            }
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let mapped = groups
            .iter()
            .filter_map(|g| self.config.roles.get(g).map(|r| (*r, Some(g.clone()))))
            .max_by_key(|(r, _)| *r);
        let role = mapped.or(self.config.default_role.map(|r| (r, None)));
        Ok(Identity { user: user.to_string(), groups, role })
    }
}

/// Checks a JWS signature with one key (RS256, RS384, RS512, ES256).
fn check_signature(alg: &str, key: &Jwk, message: &[u8], sig: &[u8]) -> bool {
    use ring::signature as rs;
    let dec = |s: &Option<String>| s.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    match (alg, key.kty.as_str()) {
        ("RS256" | "RS384" | "RS512", "RSA") => {
            let (Some(n), Some(e)) = (dec(&key.n), dec(&key.e)) else { return false };
            let params = match alg {
                "RS256" => &rs::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &rs::RSA_PKCS1_2048_8192_SHA384,
                _ => &rs::RSA_PKCS1_2048_8192_SHA512,
            };
            rs::RsaPublicKeyComponents { n: &n, e: &e }.verify(params, message, sig).is_ok()
        }
        ("ES256", "EC") if key.crv.as_deref() == Some("P-256") => {
            let (Some(x), Some(y)) = (dec(&key.x), dec(&key.y)) else { return false };
            let mut point = vec![4u8];
            point.extend(x);
            point.extend(y);
            rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, point).verify(message, sig).is_ok()
        }
        _ => false,
    }
}

fn new_session_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SESSION_PREFIX}{}", hex::encode(bytes))
}

fn configured(state: &AppState) -> Result<&Oidc, ApiError> {
    state.oidc.as_deref().ok_or_else(|| {
        ApiError::not_found("sign-in is not configured on this server ([serve.oidc]); use a token")
    })
}

/// Whether and how to sign in. Needs no token.
#[utoipa::path(
    get, path = paths::AUTH, tag = "auth",
    responses(
        (status = 200, body = AuthInfo),
        (status = 503, description = "The identity provider cannot be reached", body = crate::api::ErrorBody),
    )
)]
pub async fn auth_info(State(state): State<AppState>) -> Result<Json<AuthInfo>, ApiError> {
    let oidc = match state.oidc.as_deref() {
        Some(o) => Some(o.info().await?),
        None => None,
    };
    Ok(Json(AuthInfo { oidc }))
}

/// Signs in: exchanges an ID token from the provider for a session token of this server
/// (shown once). Also how a client refreshes: with the ID token of a refresh at the provider,
/// which carries the user's groups as they are now.
#[utoipa::path(
    post, path = paths::SESSION, tag = "auth",
    request_body = SessionRequest,
    responses(
        (status = 201, body = SessionGranted),
        (status = 400, description = "Not a JSON session request", body = crate::api::ErrorBody),
        (status = 401, description = "The ID token is invalid, expired, forged, or for another client or issuer", body = crate::api::ErrorBody),
        (status = 403, description = "The user's groups map to no role", body = crate::api::ErrorBody),
        (status = 404, description = "Sign-in is not configured", body = crate::api::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::api::ErrorBody),
        (status = 422, description = "Bad body", body = crate::api::ErrorBody),
        (status = 503, description = "The identity provider cannot be reached", body = crate::api::ErrorBody),
    )
)]
pub async fn create_session(
    State(state): State<AppState>,
    Json(req): Json<SessionRequest>,
) -> Result<(StatusCode, Json<SessionGranted>), ApiError> {
    let oidc = configured(&state)?;
    let id = oidc.verify(&req.id_token, req.nonce.as_deref()).await?;
    let Some((role, group)) = id.role.clone() else {
        let groups = if id.groups.is_empty() { "none".to_string() } else { id.groups.join(", ") };
        let _ = state
            .store
            .record_audit(&id.user, "login_refused", &id.user, &format!("groups {groups} map to no role"))
            .await;
        return Err(OidcError::NoRole(format!(
            "{} may not use this server: their groups ({groups}) map to no role",
            id.user
        ))
        .into());
    };
    let now = Utc::now();
    let lifetime =
        chrono::Duration::from_std(oidc.config.session_lifetime).unwrap_or(chrono::Duration::hours(12));
    let session = SessionRecord {
        id: uuid::Uuid::now_v7(),
        user: id.user.clone(),
        role,
        created_at: now,
        expires_at: now + lifetime,
        ended_at: None,
    };
    let secret = new_session_secret();
    state.store.create_session(&session, hash_secret(&secret)).await?;
    let granted_by = match &group {
        Some(g) => format!("group {g}"),
        None => "the default role".to_string(),
    };
    state
        .store
        .record_audit(&id.user, "role_granted", &id.user, &format!("{role} from {granted_by}"))
        .await?;
    state
        .store
        .record_audit(
            &id.user,
            "login",
            &id.user,
            &format!("session {} as {role} until {}", session.id, session.expires_at.to_rfc3339()),
        )
        .await?;
    tracing::info!(user = %id.user, %role, "signed in");
    Ok((
        StatusCode::CREATED,
        Json(SessionGranted { token: secret, user: id.user, role, expires_at: session.expires_at }),
    ))
}

/// Signs out: ends the session whose token is presented.
#[utoipa::path(
    delete, path = paths::SESSION, tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "The token is not a session (a bearer token is revoked with `warroom token revoke`)", body = crate::api::ErrorBody),
        Unauthorized,
    )
)]
pub async fn end_session(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    match state.store.end_session(caller.token_hash, Utc::now()).await? {
        Some(s) => {
            state.store.record_audit(&s.user, "logout", &s.user, &format!("session {}", s.id)).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(ApiError::bad_request(
            "not_a_session",
            "this token is not a sign-in session; revoke tokens with `warroom token revoke`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("12h"), Ok(Duration::from_secs(43200)));
        assert_eq!(parse_lifetime("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_lifetime("7d"), Ok(Duration::from_secs(7 * 86400)));
        for bad in ["", "h", "12", "12x", "-1h", "0s", "91d", "99999999999999999999h", "1.5h"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }
}
