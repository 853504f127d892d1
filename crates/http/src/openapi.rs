//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
        crate::routes::storage::entries::get,
        crate::routes::storage::entries::put,
        crate::routes::storage::entries::delete,
        crate::routes::storage::entries::list,
        crate::routes::storage::quota::quota,
        crate::routes::storage::batch::get,
        crate::routes::storage::batch::set,
        crate::routes::storage::batch::delete,
        crate::routes::storage::sync::push,
        crate::routes::storage::sync::pull,
        crate::routes::storage::sync::status,
        crate::routes::storage::conflicts::list,
        crate::routes::storage::conflicts::resolve,
    ),
    components(schemas(
        crate::error::ErrorEnvelope,
        crate::error::ErrorBody,
        crate::routes::storage::EntryResponse,
        crate::routes::storage::WriteResult,
        crate::routes::storage::QuotaResponse,
        crate::routes::storage::Pagination,
        crate::routes::storage::entries::PutRequest,
        crate::routes::storage::entries::DeleteResponse,
        crate::routes::storage::entries::KeySummary,
        crate::routes::storage::entries::ListResponse,
        crate::routes::storage::batch::KeysRequest,
        crate::routes::storage::batch::BatchGetResponse,
        crate::routes::storage::batch::BatchSetItem,
        crate::routes::storage::batch::BatchSetRequest,
        crate::routes::storage::batch::BatchSetResponse,
        crate::routes::storage::batch::BatchDeleteResponse,
        crate::routes::storage::sync::PushRequest,
        crate::routes::storage::sync::PushOperation,
        crate::routes::storage::sync::PushResult,
        crate::routes::storage::sync::PushError,
        crate::routes::storage::sync::PushResponse,
        crate::routes::storage::sync::PullRequest,
        crate::routes::storage::sync::ChangeItem,
        crate::routes::storage::sync::PullResponse,
        crate::routes::storage::sync::SyncStatusResponse,
        crate::routes::storage::conflicts::ConflictItem,
        crate::routes::storage::conflicts::ConflictList,
        crate::routes::storage::conflicts::ResolveRequest,
        crate::routes::storage::conflicts::ResolveResponse,
    )),
    modifiers(&TepBearer),
    tags(
        (name = "operations", description = "Health, readiness, metrics and documentation"),
        (name = "oauth", description = "OAuth 2.0 authorization server and TEP keys"),
        (name = "storage", description = "Per-user key-value storage of mini-apps: quotas, TTL, \
                                          batches, offline sync and conflicts")
    )
)]
pub struct ApiDoc;

/// The `tep` security scheme: `Authorization: Bearer tep.<jws>`.
pub struct TepBearer;

impl Modify for TepBearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("TEP (tep. + JWS)".into());
        components.add_security_scheme("tep", SecurityScheme::Http(scheme));
    }
}
