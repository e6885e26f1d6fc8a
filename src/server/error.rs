//! The one error type of the HTTP layer: every failure becomes a JSON [`ErrorBody`] with a fitting
//! status. Client mistakes are 4xx; store failures are logged with their cause and answered 500
//! (or 503 when the database is busy). Also the extractor wrappers (`Json`, `Query`, `Path`)
//! whose rejections are JSON too.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::store::StoreError;
use crate::api::ErrorBody;
use crate::domain::Incident;

/// `401` (and the `400` of a request with two `Authorization` headers), in the OpenAPI
/// responses of every handler behind a token.
#[derive(utoipa::IntoResponses)]
pub enum Unauthorized {
    #[response(status = 401, description = "Missing, unknown or revoked token")]
    Missing(ErrorBody),
    #[response(status = 400, description = "Bad request (e.g. more than one Authorization header)")]
    Duplicate(ErrorBody),
}

/// `404`, in the OpenAPI responses of the handlers of one incident.
#[derive(utoipa::IntoResponses)]
#[response(status = 404, description = "No such incident")]
pub struct NoSuchIncident(pub ErrorBody);

/// How a read of the log can be refused, in the OpenAPI responses of the reading handlers.
#[derive(utoipa::IntoResponses)]
pub enum ReadRefusal {
    #[response(status = 400, description = "Bad query")]
    BadQuery(ErrorBody),
    #[response(status = 503, description = "Database busy, retry")]
    Busy(ErrorBody),
}

/// The limits every write meets, in the OpenAPI responses of the writing handlers.
#[derive(utoipa::IntoResponses)]
pub enum WriteRefusal {
    #[response(
        status = 413,
        description = "Body over the server's limit ([serve.limits] max_body_bytes, 1 MiB by default)"
    )]
    TooLarge(ErrorBody),
    #[response(status = 408, description = "The request body did not arrive within the body timeout")]
    Timeout(ErrorBody),
    #[response(status = 415, description = "Not JSON")]
    NotJson(ErrorBody),
    #[response(
        status = 429,
        description = "Too many writes, events or bytes with this token; see Retry-After"
    )]
    TooMany(ErrorBody),
    #[response(status = 503, description = "Database busy, read-only or full; retry later")]
    Unavailable(ErrorBody),
}

/// An error response's `code`, in the response's extensions (for the metrics' refusal counts).
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// An error answered as JSON `{error, message[, current]}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub current: Option<Box<Incident>>,
    /// Seconds for a `Retry-After` header (429 and 503 answers).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), current: None, retry_after: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; the cause is in its log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.to_string(), message: self.message, current: self.current };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.extensions_mut().insert(ErrorCode(self.code));
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        let retry = match self.status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => self.retry_after.or(Some(1)),
            _ => self.retry_after,
        };
        if let Some(secs) = retry {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            StoreError::Invalid { code, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            StoreError::Stale { conflict, current } => ApiError {
                status: StatusCode::PRECONDITION_FAILED,
                code: "conflict",
                message: conflict.to_string(),
                current: Some(current),
                retry_after: None,
            },
            StoreError::Unavailable(cause) => {
                tracing::error!(%cause, "the database refuses writes");
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the server's database refuses writes (read-only or full); nothing was recorded, \
                     reads still work; keep the entry and retry later",
                );
                e.retry_after = Some(30);
                e
            }
            StoreError::Busy(cause) => {
                tracing::warn!(%cause, "store busy");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "the database is busy; retry shortly")
            }
            StoreError::Backend(cause) => {
                tracing::error!(cause = format!("{cause:#}"), "store failure");
                ApiError::internal()
            }
        }
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        _ => "bad_request",
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let status = if status.is_server_error() { StatusCode::BAD_REQUEST } else { status };
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than the server's limit".to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "the request body must be JSON, sent with `Content-Type: application/json`".to_string()
            }
            _ => r.body_text(),
        };
        ApiError::new(status, code_for(status), message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        let status = if r.status().is_client_error() { r.status() } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, "invalid_path", r.body_text())
    }
}

/// `axum::Json` whose rejection is a JSON [`ApiError`].
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejection is a JSON [`ApiError`].
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` whose rejection is a JSON [`ApiError`].
#[derive(Debug, Clone, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Known routes, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Turns a handler panic into a JSON 500 (the panic itself is logged by the layer's caller).
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    ApiError::internal().into_response()
}
