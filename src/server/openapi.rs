//! The API's routes and its OpenAPI 3.1 document, both from the handlers' annotations
//! (utoipa): [`routes`] names each handler once, and its `#[utoipa::path]` gives the method and
//! path to the router and to the document alike (utoipa-axum). The document is served at
//! `/api/v1/openapi.json` for clients and for fuzzing with schemathesis.

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{Json, Unauthorized};
use super::{AppState, audit, integrations, oidc, routes, stream};
use crate::api::{ErrorBody, paths};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token made by `warroom token create` (`wr_...`), or a sign-in session from \
                         `POST /api/v1/auth/session` (`ws_...`)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "warroom",
        description = "The shared incident event log: declare incidents, append events, follow the log live."
    ),
    components(schemas(ErrorBody, routes::ListStatus)),
    modifiers(&BearerAuth),
    tags(
        (name = "incidents", description = "Incidents and their events"),
        (name = "integrations", description = "Alerts in from Prometheus Alertmanager"),
        (name = "events", description = "Following the global event log"),
        (name = "meta", description = "Health, identity, practice, this document"),
        (name = "auth", description = "Sign-in (OpenID Connect), tokens and the audit log"),
    )
)]
pub struct ApiDoc;

/// Every route of the API, with its part of the document (the rest is [`ApiDoc`]'s).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::health))
        .routes(routes!(routes::me))
        .routes(routes!(routes::practice))
        .routes(routes!(routes::list_incidents, routes::declare))
        .routes(routes!(routes::get_incident))
        .routes(routes!(routes::append))
        .routes(routes!(integrations::postmortem_md))
        .routes(routes!(integrations::alertmanager))
        .routes(routes!(stream::events))
        .routes(routes!(stream::stream))
        .routes(routes!(openapi_json))
        .routes(routes!(super::metrics::metrics))
        // oidc: sign-in, tokens over the API, the audit log.
        .routes(routes!(oidc::auth_info))
        .routes(routes!(oidc::create_session, oidc::end_session))
        .routes(routes!(audit::list_tokens, audit::create_token))
        .routes(routes!(audit::revoke_token))
        .routes(routes!(audit::audit))
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| routes().into_openapi());

/// The document as a value.
pub fn document() -> utoipa::openapi::OpenApi {
    DOCUMENT.clone()
}

/// This OpenAPI document.
#[utoipa::path(
    get, path = paths::OPENAPI, tag = "meta", security(("bearer" = [])),
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        Unauthorized,
    )
)]
pub async fn openapi_json(_caller: Caller) -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
