//! Wire types of sign-in (OpenID Connect), sessions, tokens over the API and the audit log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Role;

/// Paths of the sign-in, token and audit endpoints.
pub mod paths {
    pub const AUTH: &str = "/api/v1/auth";
    pub const SESSION: &str = "/api/v1/auth/session";
    pub const TOKENS: &str = "/api/v1/tokens";
    pub const TOKEN: &str = "/api/v1/tokens/{name_or_id}";
    pub const AUDIT: &str = "/api/v1/audit";

    pub fn token(name_or_id: &str) -> String {
        format!("{TOKENS}/{name_or_id}")
    }
}

/// `GET /api/v1/auth`: whether and how to sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthInfo {
    /// Bearer tokens (`wr_...`) always work; `oidc` is set when sign-in is configured.
    pub oidc: Option<OidcInfo>,
}

/// How a client signs in: the device authorization grant (RFC 8628) at the identity provider,
/// then `POST /api/v1/auth/session` with the ID token it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OidcInfo {
    pub issuer: String,
    pub client_id: String,
    /// Only for providers that insist on a secret for a client that cannot keep one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    pub device_authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub authorization_endpoint: Option<String>,
}

/// `POST /api/v1/auth/session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The ID token the identity provider issued to this server's client.
    pub id_token: String,
    /// The nonce the client sent in its authorization request, if it sent one.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// A new session: the secret is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionGranted {
    /// The session's bearer secret (`ws_...`).
    pub token: String,
    pub user: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub role: Role,
}

/// A token made over the API: the secret is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    pub token: super::TokenInfo,
    pub secret: String,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who did it: a token's or a user's name, or `local` (the server host's CLI).
    pub actor: String,
    /// `token_created`, `token_revoked`, `login`, `logout`, `role_granted`, `login_refused`.
    pub action: String,
    /// What it was done to (a token or user name).
    pub subject: String,
    pub detail: String,
}

/// `GET /api/v1/audit?since=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
}
