//! Ingestion: `POST /api/v1/lifecycle/{events,analytics,metrics}`. The body is one item or
//! `{"events": [item, …]}` (1–100 items; the same key for all three kinds). The app and the
//! user come from the token only. Every item is checked before anything is stored; the first
//! bad item answers with its index and nothing is written.

use super::AnalyticsError;
use crate::fields::FieldErrors;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tmcp_domain::analytics::{
    metric_range, LIFECYCLE_EVENT_TYPES, MAX_BATCH_ITEMS, MAX_CLOCK_SKEW, MAX_JSON_BYTES,
    MAX_LATENESS, METRIC_TYPES, USAGE_EVENT_TYPES,
};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::{Clock, UserId};
use tmcp_repository::{
    Database, IngestBatch, NewLifecycleEvent, NewMetric, NewUsageEvent, RepoError,
};

/// Which of the three endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lifecycle,
    Usage,
    Metrics,
}

impl Kind {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Lifecycle => "lifecycle",
            Kind::Usage => "usage",
            Kind::Metrics => "metric",
        }
    }
}

/// Who sends: from the token.
#[derive(Debug, Clone)]
pub struct Sender {
    pub app_id: String,
    pub user: Option<UserId>,
}

// Items are read straight from the body's text: strings borrowed where they hold no escape,
// JSON objects kept as raw text until checked. Building a `serde_json::Value` tree per item
// first and converting it again was most of the per-request CPU of a 100-item batch.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleItem<'a> {
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    device_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_data: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageItem<'a> {
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    device_id: Option<Cow<'a, str>>,
    duration_seconds: Option<i64>,
    #[serde(borrow)]
    event_data: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricItem<'a> {
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(borrow)]
    metric_type: Cow<'a, str>,
    metric_value: f64,
    #[serde(borrow)]
    device_info: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
}

struct Refusal {
    reason: &'static str,
    fields: FieldErrors,
}

fn refuse(reason: &'static str, field: &str, message: impl Into<String>) -> Refusal {
    let mut fields = FieldErrors::new();
    fields.add(field, message);
    Refusal { reason, fields }
}

/// The items of the body: a batch under `events`, or the body itself as one item.
fn items(body: &RawValue) -> Result<(Vec<&RawValue>, bool), AnalyticsError> {
    let invalid = |reason, message: &str| AnalyticsError::InvalidItem {
        index: None,
        reason,
        fields: {
            let mut f = FieldErrors::new();
            f.add("events", message);
            f
        },
        items: 1,
    };
    let Ok(keys) = serde_json::from_str::<BTreeMap<String, &RawValue>>(body.get()) else {
        return Err(invalid(
            "shape",
            "the body must be an item or {\"events\": [...]}",
        ));
    };
    let Some(events) = keys.get("events") else {
        return Ok((vec![body], false));
    };
    if keys.len() != 1 {
        return Err(invalid("shape", "a batch has only the `events` key"));
    }
    match serde_json::from_str::<Vec<&RawValue>>(events.get()) {
        Ok(items) if items.is_empty() => {
            Err(invalid("batch_size", "a batch needs at least one item"))
        }
        Ok(items) if items.len() > MAX_BATCH_ITEMS => {
            Err(invalid("batch_size", "a batch holds at most 100 items"))
        }
        Ok(items) => Ok((items, true)),
        Err(_) => Err(invalid("shape", "`events` must be an array of items")),
    }
}

fn parse<'a, T: Deserialize<'a>>(item: &'a RawValue) -> Result<T, Refusal> {
    serde_json::from_str(item.get()).map_err(|e| refuse("shape", "item", e.to_string()))
}

fn when(text: Option<&str>, now: OffsetDateTime) -> Result<OffsetDateTime, Refusal> {
    let Some(text) = text else {
        return Ok(now);
    };
    let at = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| refuse("timestamp", "timestamp", "must be an RFC 3339 date-time"))?;
    if at > now + MAX_CLOCK_SKEW {
        return Err(refuse(
            "future_timestamp",
            "timestamp",
            "is more than 5 minutes ahead of the server's clock",
        ));
    }
    if at < now - MAX_LATENESS {
        return Err(refuse(
            "too_old",
            "timestamp",
            "is more than 7 days old; late events are accepted for 7 days",
        ));
    }
    Ok(at)
}

/// A JSON object of at most [`MAX_JSON_BYTES`] once compacted (the text as sent may carry
/// whitespace, so only a longer one is compacted to be measured).
fn json_object(
    value: Option<&RawValue>,
    field: &str,
    required_default: bool,
) -> Result<Option<Value>, Refusal> {
    // A JSON `null` arrives here as `None` (serde reads it as the absent option).
    let Some(raw) = value else {
        return Ok(required_default.then(|| Value::Object(Map::new())));
    };
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(v @ Value::Object(_)) => {
            if raw.get().len() > MAX_JSON_BYTES && v.to_string().len() > MAX_JSON_BYTES {
                Err(refuse(
                    "too_large",
                    field,
                    "is larger than 4096 bytes of JSON",
                ))
            } else {
                Ok(Some(v))
            }
        }
        _ => Err(refuse("field", field, "must be a JSON object")),
    }
}

fn text(value: Option<Cow<'_, str>>, field: &str, max: usize) -> Result<Option<String>, Refusal> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > max => Err(refuse(
            "field",
            field,
            format!("must be 1 to {max} characters"),
        )),
        other => Ok(other.map(Cow::into_owned)),
    }
}

fn one_of(value: &str, allowed: &[&str], field: &str) -> Result<(), Refusal> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(refuse(
            "event_type",
            field,
            format!("must be one of {}", allowed.join(", ")),
        ))
    }
}

fn lifecycle(
    item: &RawValue,
    sender: &Sender,
    now: OffsetDateTime,
) -> Result<NewLifecycleEvent, Refusal> {
    let item: LifecycleItem = parse(item)?;
    one_of(&item.event_type, &LIFECYCLE_EVENT_TYPES, "event_type")?;
    let device_id = text(item.device_id, "device_id", 255)?;
    let event_data = json_object(item.event_data, "event_data", true)?.unwrap_or_default();
    let at = when(item.timestamp.as_deref(), now)?;
    Ok(NewLifecycleEvent {
        id: uuid_v7_at(now),
        app_id: sender.app_id.clone(),
        user_id: sender.user,
        device_id,
        event_type: item.event_type.into_owned(),
        event_data,
        at,
    })
}

fn usage(item: &RawValue, sender: &Sender, now: OffsetDateTime) -> Result<NewUsageEvent, Refusal> {
    let item: UsageItem = parse(item)?;
    one_of(&item.event_type, &USAGE_EVENT_TYPES, "event_type")?;
    let session_id = text(Some(item.session_id), "session_id", 255)?.unwrap_or_default();
    let device_id = text(item.device_id, "device_id", 255)?;
    let duration_seconds = match item.duration_seconds {
        None => None,
        Some(d) if (0..=86_400 * 7).contains(&d) => i32::try_from(d).ok(),
        Some(_) => {
            return Err(refuse(
                "value_range",
                "duration_seconds",
                "must be between 0 and 604800",
            ))
        }
    };
    let event_data = json_object(item.event_data, "event_data", true)?.unwrap_or_default();
    let at = when(item.timestamp.as_deref(), now)?;
    Ok(NewUsageEvent {
        id: uuid_v7_at(now),
        app_id: sender.app_id.clone(),
        user_id: sender.user,
        device_id,
        session_id,
        event_type: item.event_type.into_owned(),
        duration_seconds,
        event_data,
        at,
    })
}

fn metric(item: &RawValue, sender: &Sender, now: OffsetDateTime) -> Result<NewMetric, Refusal> {
    let item: MetricItem = parse(item)?;
    one_of(&item.metric_type, &METRIC_TYPES, "metric_type")?;
    let version = text(Some(item.version), "version", 50)?.unwrap_or_default();
    let (lo, hi) = metric_range(&item.metric_type).unwrap_or((0.0, 0.0));
    if !item.metric_value.is_finite() || item.metric_value < lo || item.metric_value > hi {
        return Err(refuse(
            "value_range",
            "metric_value",
            format!(
                "must be a finite number from {lo} to {hi} for {}",
                item.metric_type
            ),
        ));
    }
    let device_info = json_object(item.device_info, "device_info", false)?;
    let at = when(item.timestamp.as_deref(), now)?;
    Ok(NewMetric {
        id: uuid_v7_at(now),
        app_id: sender.app_id.clone(),
        version,
        metric_type: item.metric_type.into_owned(),
        value: item.metric_value,
        device_info,
        at,
    })
}

fn checked<T>(
    items: Vec<&RawValue>,
    batched: bool,
    check: impl Fn(&RawValue) -> Result<T, Refusal>,
) -> Result<Vec<T>, AnalyticsError> {
    let total = items.len();
    let mut rows = Vec::with_capacity(total);
    for (index, item) in items.into_iter().enumerate() {
        match check(item) {
            Ok(row) => rows.push(row),
            Err(Refusal { reason, fields }) => {
                let mut named = FieldErrors::new();
                for (field, message) in fields.iter() {
                    let field = if batched {
                        format!("events[{index}].{field}")
                    } else {
                        field.to_owned()
                    };
                    named.add(field, message);
                }
                return Err(AnalyticsError::InvalidItem {
                    index: batched.then_some(index),
                    reason,
                    fields: named,
                    items: total,
                });
            }
        }
    }
    Ok(rows)
}

/// Validates every item of `body` as received at `now`, without storing anything: the
/// rows to write, or the first refusal. Pure, so the ingest fuzz target can drive it.
pub fn check_body(
    kind: Kind,
    sender: &Sender,
    body: &RawValue,
    now: OffsetDateTime,
) -> Result<IngestBatch, AnalyticsError> {
    let (items, batched) = items(body)?;
    Ok(match kind {
        Kind::Lifecycle => {
            IngestBatch::Lifecycle(checked(items, batched, |i| lifecycle(i, sender, now))?)
        }
        Kind::Usage => IngestBatch::Usage(checked(items, batched, |i| usage(i, sender, now))?),
        Kind::Metrics => IngestBatch::Metrics(checked(items, batched, |i| metric(i, sender, now))?),
    })
}

/// Validates every item of `body` and stores them all in one write; how many were
/// accepted.
pub async fn ingest(
    db: &dyn Database,
    clock: &dyn Clock,
    kind: Kind,
    sender: &Sender,
    body: &RawValue,
) -> Result<usize, AnalyticsError> {
    if kind != Kind::Metrics && sender.user.is_none() {
        return Err(AnalyticsError::UserRequired);
    }
    let now = clock.now();
    let batch = check_body(kind, sender, body, now)?;
    let count = match &batch {
        IngestBatch::Lifecycle(rows) => rows.len(),
        IngestBatch::Usage(rows) => rows.len(),
        IngestBatch::Metrics(rows) => rows.len(),
    };
    match db.ingest(batch, now).await {
        Ok(()) => Ok(count),
        // The token's client has no app row (foreign key).
        Err(RepoError::Constraint { constraint })
            if constraint == "foreign_key" || constraint.ends_with("app_id_fkey") =>
        {
            Err(AnalyticsError::AppNotFound)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        Sender {
            app_id: "ma_test".into(),
            user: Some(UserId(uuid::Uuid::from_u128(7))),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time")
    }

    fn usage_with_data(data: &str) -> Result<IngestBatch, AnalyticsError> {
        let body = format!(
            r#"{{"events":[{{"session_id":"s","event_type":"feature_used","event_data":{data}}}]}}"#
        );
        let raw = serde_json::from_str::<&RawValue>(&body).expect("valid JSON");
        check_body(Kind::Usage, &sender(), raw, now())
    }

    #[test]
    fn object_size_is_measured_compacted_not_as_sent() {
        // 4,000 bytes of content padded with whitespace past 4,096 as sent: accepted.
        let value = "x".repeat(3_990);
        let padded = format!(
            "{{ {} \"k\" : \"{value}\" {} }}",
            " ".repeat(60),
            " ".repeat(60)
        );
        assert!(padded.len() > MAX_JSON_BYTES);
        assert!(usage_with_data(&padded).is_ok());
        // Over 4,096 compacted: refused whatever the spacing.
        let big = format!("{{\"k\":\"{}\"}}", "x".repeat(MAX_JSON_BYTES));
        assert!(matches!(
            usage_with_data(&big),
            Err(AnalyticsError::InvalidItem {
                reason: "too_large",
                index: Some(0),
                ..
            })
        ));
    }

    #[test]
    fn escaped_strings_and_null_objects_are_read() {
        let body = r#"{"session_id":"s\u00e9\"q","event_type":"session_start","event_data":null}"#;
        let raw = serde_json::from_str::<&RawValue>(body).expect("valid JSON");
        let Ok(IngestBatch::Usage(rows)) = check_body(Kind::Usage, &sender(), raw, now()) else {
            panic!("one usage item is accepted");
        };
        assert_eq!(rows[0].session_id, "s\u{e9}\"q");
        assert_eq!(rows[0].event_data, Value::Object(Map::new()));
    }

    #[test]
    fn shapes_are_refused_with_their_reason() {
        for (body, reason) in [
            ("[1]", "shape"),
            (r#"{"events":[], "x":1}"#, "shape"),
            (r#"{"events":{}}"#, "shape"),
            (r#"{"events":[]}"#, "batch_size"),
        ] {
            let raw = serde_json::from_str::<&RawValue>(body).expect("valid JSON");
            assert!(
                matches!(
                    check_body(Kind::Usage, &sender(), raw, now()),
                    Err(AnalyticsError::InvalidItem { reason: r, .. }) if r == reason
                ),
                "{body}"
            );
        }
    }
}
