//! Schemas of request fields whose rules a plain attribute cannot state (string enums,
//! arrays of constrained items), for `#[schema(schema_with = …)]`. The rules themselves
//! live in the handlers and the domain; these only describe them, so clients (and the API
//! fuzzer) send requests the handlers accept.

use tmcp_domain::storage::{MAX_BATCH_ITEMS, MAX_CONTENT_TYPE_BYTES};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

/// A storage key: 1–256 bytes of UTF-8 without control characters. JSON Schema counts
/// characters, so multi-byte keys can pass `maxLength` and still be refused (422). Keys
/// whose first segment names a storage route (`quota`, `batch`, `sync`, `conflicts`) are
/// left out: the path `/api/v1/storage/quota` is the quota, not the key `quota`.
pub const STORAGE_KEY_PATTERN: &str =
    r"^(?!(quota|batch|sync|conflicts)(/|$))[^\x00-\x1F\x7F-\x9F]+$";

/// Standard base64 with padding, at least one byte.
pub const BASE64_PATTERN: &str =
    r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$";

/// A media type: printable ASCII with a `/`.
pub const CONTENT_TYPE_PATTERN: &str = r"^[\x20-\x7E]*/[\x20-\x7E]*$";

/// `[A-Za-z0-9._:-]`, 1–255: device and client-chosen identifiers.
pub const IDENTIFIER_PATTERN: &str = r"^[A-Za-z0-9._:-]+$";

fn text(nullable: bool) -> ObjectBuilder {
    let schema_type = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new().schema_type(schema_type)
}

fn one_of(values: &[&str], nullable: bool, description: &str) -> Schema {
    let mut values: Vec<serde_json::Value> = values.iter().map(|v| (*v).into()).collect();
    if nullable {
        values.push(serde_json::Value::Null);
    }
    text(nullable)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

pub fn storage_key() -> ObjectBuilder {
    text(false)
        .min_length(Some(1))
        .max_length(Some(256))
        .pattern(Some(STORAGE_KEY_PATTERN))
        .description(Some("1–256 bytes of UTF-8 without control characters"))
}

/// `keys` of the batch get/delete requests: 1–100 distinct keys.
pub fn storage_keys() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(storage_key().into()))
        .min_items(Some(1))
        .max_items(Some(MAX_BATCH_ITEMS))
        .unique_items(true)
        .description(Some("1–100 distinct keys"))
        .into()
}

pub fn storage_key_schema() -> Schema {
    storage_key().into()
}

pub fn content_type() -> Schema {
    text(true)
        .min_length(Some(3))
        .max_length(Some(MAX_CONTENT_TYPE_BYTES))
        .pattern(Some(CONTENT_TYPE_PATTERN))
        .description(Some(
            "media type recorded with the value (printable ASCII, at most 100 bytes)",
        ))
        .into()
}

pub fn value_base64() -> Schema {
    text(true)
        .pattern(Some(BASE64_PATTERN))
        .description(Some(
            "binary value, standard base64 with padding (at most 1 MiB decoded)",
        ))
        .into()
}

pub fn sync_strategy() -> Schema {
    one_of(
        &["last_write_wins", "local_wins", "remote_wins", "manual"],
        true,
        "how conflicts are settled (default `last_write_wins`)",
    )
}

pub fn sync_operation_type() -> Schema {
    one_of(&["set", "delete"], false, "`set` or `delete`")
}

pub fn conflict_status() -> Schema {
    one_of(
        &["pending", "resolved", "ignored", "all"],
        true,
        "which conflicts to list (default `pending`)",
    )
}

pub fn conflict_resolution() -> Schema {
    one_of(
        &["local", "remote", "value"],
        false,
        "`local` applies the client's operation, `remote` keeps the server's state, `value` \
         stores the value given here",
    )
}

pub fn mfa_method_type() -> Schema {
    one_of(
        &["transaction_pin", "totp", "biometric"],
        false,
        "the kind of second factor",
    )
}

pub fn mfa_method_type_optional() -> Schema {
    one_of(
        &["transaction_pin", "totp", "biometric"],
        true,
        "the kind of second factor; inferred from the other fields when absent",
    )
}

pub fn device_type() -> Schema {
    one_of(&["mobile", "desktop", "tablet"], true, "the kind of device")
}

pub fn key_algorithm() -> Schema {
    one_of(
        &["ES256", "EdDSA"],
        false,
        "`ES256` (P-256) or `EdDSA` (Ed25519)",
    )
}

/// Free text (names, bio): not blank, no control characters but line feeds.
pub const TEXT_PATTERN: &str =
    r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x09\x0B-\x1F\x7F-\x9F]*$";

/// `+` and 7–15 digits; spaces, dashes, dots and parentheses may separate them.
pub const PHONE_PATTERN: &str = r"^ *\+[ ().-]*(?:[0-9][ ().-]*){7,15} *$";

/// The `scopes` of a grant withdrawal: 1–20 known scopes.
pub fn scope_names() -> Schema {
    let names: Vec<serde_json::Value> = tmcp_domain::scope::known_names().map(Into::into).collect();
    let item = text(false).enum_values(Some(names));
    let schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    ArrayBuilder::new()
        .schema_type(schema_type)
        .items(RefOr::T(item.into()))
        .min_items(Some(1))
        .max_items(Some(20))
        .description(Some("only these scopes (default: the whole grant)"))
        .into()
}

/// The `scopes_requested` of a store registration: 1–20 known scopes that are not
/// official-only.
pub fn requestable_scopes() -> Schema {
    let names: Vec<serde_json::Value> = tmcp_domain::scope::known_names()
        .filter(|name| tmcp_domain::scope::rules(name).is_some_and(|r| !r.official_only))
        .map(Into::into)
        .collect();
    ArrayBuilder::new()
        .items(RefOr::T(text(false).enum_values(Some(names)).into()))
        .min_items(Some(1))
        .max_items(Some(20))
        .description(Some(
            "Scopes the app will ask users for (1–20 known scopes, no official-only ones).",
        ))
        .into()
}

pub fn platform() -> Schema {
    one_of(
        &[
            "ios", "android", "windows", "macos", "linux", "web", "other",
        ],
        true,
        "the device's platform",
    )
}

pub fn grant_type() -> Schema {
    one_of(
        &[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        false,
        "the grant",
    )
}

pub fn subject_token_type() -> Schema {
    one_of(
        &["urn:ietf:params:oauth:token-type:access_token"],
        true,
        "token exchange: the kind of `subject_token`",
    )
}

pub fn token_type_hint() -> Schema {
    one_of(
        &["access_token", "refresh_token"],
        true,
        "optional; the token's form decides",
    )
}

pub fn response_type() -> Schema {
    one_of(&["code"], false, "must be `code`")
}

pub fn code_challenge_method() -> Schema {
    one_of(&["S256"], true, "must be `S256` (`plain` is refused)")
}

pub fn authorize_action() -> Schema {
    one_of(&["login", "approve", "deny"], false, "what the form does")
}

pub fn device_page_action() -> Schema {
    one_of(
        &["login", "lookup", "approve", "deny"],
        false,
        "what the form does",
    )
}

/// Optional free text of at most `MAX` characters (after trimming).
pub fn free_text<const MAX: usize>() -> Schema {
    text(true)
        .min_length(Some(1))
        .max_length(Some(MAX))
        .pattern(Some(TEXT_PATTERN))
        .into()
}

/// An optional identifier: 1–255 of `[A-Za-z0-9._:-]`.
pub fn identifier() -> Schema {
    text(true)
        .min_length(Some(1))
        .max_length(Some(255))
        .pattern(Some(IDENTIFIER_PATTERN))
        .into()
}

pub fn phone() -> Schema {
    text(true)
        .max_length(Some(64))
        .pattern(Some(PHONE_PATTERN))
        .description(Some(
            "international format, e.g. `+15550001111` (stored encrypted)",
        ))
        .into()
}

/// An optional http(s) URL of at most 500 characters.
pub fn http_url() -> Schema {
    text(true)
        .max_length(Some(500))
        .pattern(Some(r"^ *https?://[^\s\x00-\x1F\x7F-\x9F]+ *$"))
        .into()
}

/// A payment's wire status (`GET /api/v1/payments?status=`).
pub fn payment_status() -> Schema {
    let names: Vec<&str> = tmcp_domain::payment_state::PaymentStatus::ALL
        .iter()
        .map(|s| s.as_db())
        .collect();
    one_of(&names, false, "a payment status")
}

#[cfg(test)]
mod tests {
    use crate::openapi::ApiDoc;
    use serde_json::Value;
    use tmcp_domain::auth::device_key::DeviceKeyAlg;
    use tmcp_domain::storage::sync::SyncStrategy;
    use tmcp_domain::storage::{
        MAX_BATCH_ITEMS, MAX_LIST_LIMIT, MAX_OP_ID_BYTES, MAX_PULL_LIMIT, TTL_RANGE,
    };
    use tmcp_repository::MfaMethodType;
    use utoipa::OpenApi;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("document serialises")
    }

    fn property<'a>(doc: &'a Value, schema: &str, field: &str) -> &'a Value {
        &doc["components"]["schemas"][schema]["properties"][field]
    }

    fn strings(value: &Value) -> Vec<String> {
        value
            .as_array()
            .expect("an enum")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    fn query_param<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| &p["schema"])
            .expect("parameter documented")
    }

    #[test]
    fn numeric_limits_are_the_enforced_ones() {
        let doc = document();
        for schema in [
            "PutRequest",
            "BatchSetItem",
            "PushOperation",
            "ResolveRequest",
        ] {
            let ttl = property(&doc, schema, "ttl");
            assert_eq!(ttl["minimum"], *TTL_RANGE.start(), "{schema}.ttl");
            assert_eq!(ttl["maximum"], *TTL_RANGE.end(), "{schema}.ttl");
        }
        let items = property(&doc, "BatchSetRequest", "items");
        assert_eq!(items["maxItems"], MAX_BATCH_ITEMS);
        assert_eq!(
            property(&doc, "PushRequest", "operations")["maxItems"],
            MAX_BATCH_ITEMS
        );
        assert_eq!(
            property(&doc, "KeysRequest", "keys")["maxItems"],
            MAX_BATCH_ITEMS
        );
        assert_eq!(
            property(&doc, "PushOperation", "op_id")["maxLength"],
            MAX_OP_ID_BYTES
        );
        assert_eq!(
            property(&doc, "PullRequest", "limit")["maximum"],
            MAX_PULL_LIMIT
        );
        let list_limit = query_param(&doc, "/api/v1/storage", "limit");
        assert_eq!(list_limit["maximum"], MAX_LIST_LIMIT);
    }

    #[test]
    fn path_keys_follow_the_key_rule() {
        let doc = document();
        for method in ["get", "put", "delete"] {
            let key = doc["paths"]["/api/v1/storage/{key}"][method]["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .find(|p| p["name"] == "key")
                .map(|p| p["schema"].clone())
                .expect("key parameter");
            assert_eq!(key["pattern"], super::STORAGE_KEY_PATTERN, "{method}");
            assert_eq!(key["maxLength"], 256, "{method}");
        }
    }

    #[test]
    fn enums_name_exactly_what_the_server_accepts() {
        let doc = document();
        let strategies = strings(&property(&doc, "PushRequest", "strategy")["enum"]);
        assert!(strategies.iter().all(|s| SyncStrategy::parse(s).is_some()));
        assert_eq!(strategies.len(), 4);
        let kinds = strings(&property(&doc, "EnrolRequest", "type")["enum"]);
        assert!(kinds.iter().all(|k| MfaMethodType::from_db(k).is_some()));
        assert_eq!(kinds.len(), 3);
        let algs = strings(&property(&doc, "PublicKeyBody", "alg")["enum"]);
        assert!(algs.iter().all(|a| DeviceKeyAlg::parse(a).is_some()));
        let response_type = query_param(&doc, "/oauth2/authorize", "response_type");
        assert_eq!(strings(&response_type["enum"]), ["code"]);
        let scopes = &property(&doc, "WithdrawGrantRequest", "scopes")["items"]["enum"];
        assert!(strings(scopes)
            .iter()
            .all(|s| tmcp_domain::scope::rules(s).is_some()));
    }
}
