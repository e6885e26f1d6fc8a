//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), served at
//! `/api/v1/openapi.json` for clients and for fuzzing with schemathesis.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::auth::Caller;
use super::error::Json;
use super::{routes, stream};
use crate::api::ErrorBody;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token made by `warroom token create` (`wr_...`)"))
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
    paths(
        routes::health,
        routes::me,
        routes::practice,
        routes::declare,
        routes::list_incidents,
        routes::get_incident,
        routes::append,
        stream::events,
        stream::stream,
        openapi_json,
    ),
    components(schemas(ErrorBody, routes::ListStatus)),
    modifiers(&BearerAuth),
    tags(
        (name = "incidents", description = "Incidents and their events"),
        (name = "events", description = "Following the global event log"),
        (name = "meta", description = "Health, identity, practice, this document"),
    )
)]
pub struct ApiDoc;

/// The document as a value.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This OpenAPI document.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "meta", security(("bearer" = [])),
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
    )
)]
pub async fn openapi_json(_caller: Caller) -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
