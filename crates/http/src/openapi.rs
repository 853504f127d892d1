//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TMCP Server",
        description = "Tween Mini-App Communication Protocol server: accounts, OAuth 2.0 / TEP \
                       tokens, mini-app store, wallet payments, storage and lifecycle analytics."
    ),
    paths(
        crate::routes::meta::health,
        crate::routes::meta::ready,
        crate::routes::meta::metrics,
        crate::routes::wellknown::jwks,
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody)),
    tags(
        (name = "operations", description = "Health, readiness, metrics and documentation"),
        (name = "oauth", description = "OAuth 2.0 authorization server and TEP keys")
    )
)]
pub struct ApiDoc;
