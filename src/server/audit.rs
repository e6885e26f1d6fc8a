//! Tokens over the API (`POST/GET/DELETE /api/v1/tokens`) and the audit log
//! (`GET /api/v1/audit?since=`), for admins: a signed-in admin or an admin token. Token changes,
//! sign-ins and sign-outs and the roles granted by group mapping are recorded in the audit log.

use axum::http::StatusCode;

use axum::extract::State;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Json, Path, Query, Unauthorized};
use super::tokens;
use crate::api::auth::{AuditEntry, AuditQuery, CreateToken, CreatedToken, paths};
use crate::api::{Role, TokenInfo};

/// Most audit entries in one answer.
const AUDIT_PAGE: u32 = 1000;

fn admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("only an admin manages tokens and reads the audit log ({} is {})", caller.name, caller.role),
    ))
}

/// Every token, active and revoked (never a secret).
#[utoipa::path(
    get, path = paths::TOKENS, tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<TokenInfo>),
        (status = 403, description = "Not an admin", body = crate::api::ErrorBody),
        Unauthorized,
    )
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    admin(&caller)?;
    Ok(Json(state.store.list_tokens().await?))
}

/// Creates a token; its secret is in this answer only.
#[utoipa::path(
    post, path = paths::TOKENS, tag = "auth", security(("bearer" = [])),
    request_body = CreateToken,
    responses(
        (status = 201, body = CreatedToken),
        (status = 400, description = "Not a JSON token request", body = crate::api::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::api::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::api::ErrorBody),
        (status = 422, description = "Bad name or role, or the name is taken", body = crate::api::ErrorBody),
        Unauthorized,
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    admin(&caller)?;
    let (token, secret) = tokens::create_by(state.store.as_ref(), &caller.name, &req.name, req.role).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

/// Revokes the active token with this name, or the token with this id.
#[utoipa::path(
    delete, path = paths::TOKEN, tag = "auth", security(("bearer" = [])),
    params(("name_or_id" = String, Path, description = "The token's name or id")),
    responses(
        (status = 200, body = TokenInfo),
        (status = 403, description = "Not an admin", body = crate::api::ErrorBody),
        (status = 404, description = "No active token of that name or id", body = crate::api::ErrorBody),
        (status = 422, description = "The token this request is made with", body = crate::api::ErrorBody),
        Unauthorized,
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(name_or_id): Path<String>,
) -> Result<Json<TokenInfo>, ApiError> {
    admin(&caller)?;
    // Revoking the token this request uses would lock the caller out mid-work (and a script
    // or fuzzer out of the rest of its run): refused, another admin does it.
    let id = uuid::Uuid::parse_str(&name_or_id).ok();
    let own = state.store.list_tokens().await?.into_iter().any(|t| {
        t.id == caller.token_id && t.revoked_at.is_none() && (t.name == name_or_id || Some(t.id) == id)
    });
    if own {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "own_token",
            "this is the token the request is made with; revoke it with another admin token or on the server host",
        ));
    }
    Ok(Json(tokens::revoke_by(state.store.as_ref(), &caller.name, &name_or_id).await?))
}

/// The audit log, oldest first (at most 1000 entries from `since`).
#[utoipa::path(
    get, path = paths::AUDIT, tag = "auth", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, body = Vec<AuditEntry>),
        (status = 400, description = "Bad query", body = crate::api::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::api::ErrorBody),
        Unauthorized,
    )
)]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    admin(&caller)?;
    Ok(Json(state.store.audit_since(q.since, AUDIT_PAGE).await?))
}
