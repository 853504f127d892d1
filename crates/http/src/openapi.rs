//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The schema rules fields refer to live in a leaf module, so routes need not import this one.
pub use crate::schema_constraints as constraints;
mod responses;

pub use responses::SharedResponses;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TMCP Server",
        description = "Tween Mini-App Communication Protocol server: accounts, OAuth 2.0 / TEP \
                       tokens, mini-app store, wallet payments, storage and lifecycle analytics. \
                       Request text (path, query, JSON and form bodies) must be UTF-8 without \
                       NUL (U+0000, also not as the JSON escape `\\u0000`): otherwise 400 \
                       `INVALID_REQUEST` (`details.location`), or `invalid_request` on /oauth2/*."
    ),
    paths(
        crate::routes::meta::health,
        crate::routes::meta::ready,
        crate::routes::meta::metrics,
        crate::routes::accounts::register::register,
        crate::routes::accounts::login::login,
        crate::routes::accounts::refresh::refresh,
        crate::routes::accounts::logout::logout,
        crate::routes::accounts::sessions::list_sessions,
        crate::routes::accounts::sessions::end_session,
        crate::routes::accounts::me::get_me,
        crate::routes::accounts::me::patch_me,
        crate::routes::accounts::delete::delete_me,
        crate::routes::accounts::summary::user_summary,
        crate::routes::devices::register::register_device,
        crate::routes::devices::list::list_devices,
        crate::routes::devices::remove::remove_device,
        crate::routes::mfa::list::list_methods,
        crate::routes::mfa::enrol::enrol_method,
        crate::routes::mfa::confirm::confirm_method,
        crate::routes::mfa::remove::remove_method,
        crate::routes::wellknown::jwks,
        crate::routes::oauth::metadata::oauth_metadata,
        crate::routes::oauth::metadata::openid_configuration,
        crate::routes::oauth::authorize::authorize_page,
        crate::routes::oauth::authorize::authorize_submit,
        crate::routes::oauth::token::token,
        crate::routes::oauth::revoke::revoke,
        crate::routes::oauth::introspect::introspect,
        crate::routes::oauth::device::device_authorization,
        crate::routes::oauth::device::device_page,
        crate::routes::oauth::device::device_submit,
        crate::routes::oauth::device::approve_device,
        crate::routes::oauth::withdraw::withdraw_grant,
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
        crate::routes::payments::request::request,
        crate::routes::payments::authorize::authorize,
        crate::routes::payments::mfa::verify,
        crate::routes::payments::mfa::challenge,
        crate::routes::payments::cancel::cancel,
        crate::routes::payments::refund::refund,
        crate::routes::payments::reads::get,
        crate::routes::payments::reads::list,
        crate::routes::wallet::methods::list,
        crate::routes::wallet::methods::add,
        crate::routes::wallet::methods::remove,
        crate::routes::wallet::methods::make_default,
        crate::routes::wallet::top_up::top_up,
        crate::routes::wallet::reads::balance,
        crate::routes::wallet::reads::transactions,
        crate::routes::store::registration::register,
        crate::routes::store::registration::status,
        crate::routes::store::developer::list,
        crate::routes::store::developer::get,
        crate::routes::store::developer::patch,
        crate::routes::store::developer::submit,
        crate::routes::store::developer::audit,
        crate::routes::store::developer::webhook_events,
        crate::routes::store::developer::webhook_event,
        crate::routes::store::developer::redeliver,
        crate::routes::store::admin::queue,
        crate::routes::store::admin::approve,
        crate::routes::store::admin::reject,
        crate::routes::store::admin::deprecate,
        crate::routes::store::admin::remove,
        crate::routes::store::admin::flags,
        crate::routes::store::admin::summary,
        crate::routes::store::admin::moderate,
        crate::routes::store::admin::create_category,
        crate::routes::store::admin::update_category,
        crate::routes::store::admin::delete_category,
        crate::routes::store::browse::category_list,
        crate::routes::store::catalogue::list,
        crate::routes::store::catalogue::featured,
        crate::routes::store::browse::detail,
        crate::routes::store::browse::install,
        crate::routes::store::browse::uninstall,
        crate::routes::store::browse::installed,
        crate::routes::store::browse::list_reviews,
        crate::routes::store::browse::write_review,
        crate::routes::store::browse::helpful,
        crate::routes::store::capabilities::capabilities,
        crate::routes::store::packages::upload,
        crate::routes::store::packages::list,
        crate::routes::store::packages::download,
        crate::routes::store::packages::check_updates,
        crate::routes::analytics::ingest::events,
        crate::routes::analytics::ingest::analytics,
        crate::routes::analytics::ingest::metrics,
        crate::routes::analytics::stats::app_stats,
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
        crate::auth::second_factor::SecondFactorProof,
        crate::routes::payments::PaymentResponse,
        crate::routes::payments::Merchant,
        crate::routes::payments::request::PaymentRequestBody,
        crate::routes::payments::request::ItemBody,
        crate::routes::payments::authorize::AuthorizeBody,
        crate::routes::payments::mfa::VerifyBody,
        crate::routes::payments::refund::RefundBody,
        crate::routes::payments::refund::RefundInfo,
        crate::routes::payments::refund::RefundResponse,
        crate::routes::payments::mfa::ChallengeResponse,
        crate::routes::payments::mfa::ChallengeEnvelope,
        crate::routes::payments::reads::PaymentList,
        crate::routes::payments::reads::PaymentPagination,
        crate::routes::oauth::error::OAuthErrorBody,
        crate::routes::oauth::issue::TokenResponse,
        crate::routes::wallet::views::PaymentMethodView,
        crate::routes::wallet::views::PaymentMethodList,
        crate::routes::wallet::views::TopUpView,
        crate::routes::wallet::views::BalanceView,
        crate::routes::wallet::views::BalanceResponse,
        crate::routes::wallet::views::TransactionView,
        crate::routes::wallet::views::TransactionPagination,
        crate::routes::wallet::views::TransactionList,
        crate::routes::wallet::methods::AddMethodRequest,
        crate::routes::wallet::top_up::TopUpBody,
        crate::routes::store::packages::UploadVersionForm,
        crate::routes::store::packages::VersionView,
        crate::routes::store::packages::VersionList,
        crate::routes::store::packages::InstalledAppBody,
        crate::routes::store::packages::CheckUpdatesRequest,
        crate::routes::store::packages::DownloadInfo,
        crate::routes::store::packages::UpdateView,
        crate::routes::store::packages::CheckUpdatesResponse,
    )),
    modifiers(&SessionSecurity, &TepBearer, &SharedResponses),
    tags(
        (name = "operations", description = "Health, readiness, metrics and documentation"),
        (name = "accounts", description = "Registration, login, sessions and the caller's account"),
        (name = "devices", description = "Devices and their signing keys"),
        (name = "mfa", description = "Second factors: TOTP, transaction PIN, biometric"),
        (name = "oauth", description = "OAuth 2.0 authorization server and TEP keys"),
        (name = "storage", description = "Per-user key-value storage of mini-apps: quotas, TTL, \
                                          batches, offline sync and conflicts. Keys whose first \
                                          segment is `quota`, `batch`, `sync` or `conflicts` are \
                                          reserved for these routes: writes refuse them with 422."),
        (name = "payments", description = "Payment requests of mini-apps, their authorization by \
                                           the user (a second factor at or above the threshold), \
                                           reads. Money moves through the wallet ledger."),
        (name = "wallet", description = "Payment methods, top-ups through a payment processor \
                                         (built-in `sandbox`), balances and history. Amounts are \
                                         strings in major units with the currency's decimals."),
        (name = "store", description = "The mini-app store: developer registration and apps, \
                                        versions and packages (streamed uploads, verified \
                                        downloads with ETag and ranges), browse and search, \
                                        installs, reviews and update checks"),
        (name = "analytics", description = "Lifecycle analytics: events, sessions and \
                                            performance metrics from mini-apps (TEP), and the \
                                            developer's stats from hourly rollups"),
        (name = "store-admin", description = "Store administration (admins): the review queue \
                                              and decisions, flags, figures, moderation, \
                                              categories"),
    )
)]
pub struct ApiDoc;

/// The `session` scheme: `Authorization: Bearer <session token>` from login.
struct SessionSecurity;

impl Modify for SessionSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Session token from POST /api/v1/auth/login (host app only).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The `tep` scheme: `Authorization: Bearer tep.<jws>`, a mini-app's token.
pub struct TepBearer;

impl Modify for TepBearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "tep",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("TEP")
                    .description(Some("A TEP (`tep.` + JWS) for one user and one mini-app."))
                    .build(),
            ),
        );
    }
}

/// `/docs` (Swagger UI) and `/openapi.json`. Mounted by the router next to the routes, so
/// the document (which lists every route) is not itself inside `routes`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new()
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
