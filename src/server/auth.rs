//! Bearer-token authentication: the [`Caller`] extractor hashes the presented secret (SHA-256)
//! and looks it up in the store. Secrets are never logged or stored.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use crate::api::Role;

/// Who made a request: the token's name (the author of what they append) and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the presented secret: open streams look the token up again with it.
    pub token_hash: [u8; 32],
}

/// SHA-256 of a token secret, as stored.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The secret of an `Authorization: Bearer <secret>` header.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    // Two credentials: which one counts would depend on the proxy in front. Refused outright.
    if parts.headers.get_all(AUTHORIZATION).iter().nth(1).is_some() {
        return Err(ApiError::bad_request(
            "duplicate_authorization",
            "the request carries more than one Authorization header; send exactly one",
        ));
    }
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing credentials: send `Authorization: Bearer <token>`"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not readable text"))?;
    let (scheme, secret) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
        return Err(ApiError::unauthorized("expected `Authorization: Bearer <token>`"));
    }
    Ok(secret.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret = bearer(parts)?;
        let token_hash = hash_secret(secret);
        let Some(token) = state.store.find_token(token_hash).await? else {
            // oidc: a sign-in session's token.
            return match state.store.find_session(token_hash).await? {
                Some(s) => session_caller(s, token_hash),
                None => Err(ApiError::unauthorized("unknown token")),
            };
        };
        if token.revoked {
            return Err(ApiError::unauthorized(format!("the token `{}` has been revoked", token.name)));
        }
        Ok(Caller { token_id: token.id, name: token.name, role: token.role, token_hash })
    }
}

/// The caller a sign-in session's token names, if the session is still open.
fn session_caller(s: super::store::SessionRecord, token_hash: [u8; 32]) -> Result<Caller, ApiError> {
    if s.ended_at.is_some() {
        return Err(ApiError::unauthorized(format!(
            "the session of {} has ended (signed out); sign in again with `warroom login`",
            s.user
        )));
    }
    if s.expires_at <= chrono::Utc::now() {
        return Err(ApiError::unauthorized(format!(
            "the session of {} expired at {}; sign in again with `warroom login`",
            s.user,
            s.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    Ok(Caller { token_id: s.id, name: s.user, role: s.role, token_hash })
}
