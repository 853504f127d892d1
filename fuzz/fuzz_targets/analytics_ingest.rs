//! Analytics ingestion bodies (`POST /api/v1/lifecycle/{events,analytics,metrics}`): one item
//! or `{"events": [...]}`, validated item by item before anything is stored.
//!
//! Asserts: an accepted body yields 1–100 rows; every row's time lies within the accepted
//! window around the server's clock; text fields are within their limits; a metric value is
//! finite and inside its type's range; JSON objects stay within 4096 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime};
use tmcp_domain::analytics::{metric_range, MAX_JSON_BYTES};
use tmcp_domain::UserId;
use tmcp_repository::IngestBatch;
use tmcp_usecases::analytics::ingest::{check_body, Kind, Sender};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<&serde_json::value::RawValue>(rest) else {
        return;
    };
    let kind = [Kind::Lifecycle, Kind::Usage, Kind::Metrics][usize::from(mode) % 3];
    let sender = Sender {
        app_id: "ma_fuzz".into(),
        user: Some(UserId(uuid::Uuid::from_u128(1))),
    };
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
    let window = |at: OffsetDateTime| {
        assert!(
            at <= now + Duration::minutes(5) && at >= now - Duration::days(7),
            "{at}"
        );
    };
    let small = |v: &serde_json::Value| {
        assert!(v.is_object() && v.to_string().len() <= MAX_JSON_BYTES);
    };
    let Ok(batch) = check_body(kind, &sender, body, now) else {
        return;
    };
    let rows = match &batch {
        IngestBatch::Lifecycle(rows) => {
            for row in rows {
                window(row.at);
                small(&row.event_data);
                assert!(row
                    .device_id
                    .as_ref()
                    .is_none_or(|d| (1..=255).contains(&d.chars().count())));
            }
            rows.len()
        }
        IngestBatch::Usage(rows) => {
            for row in rows {
                window(row.at);
                small(&row.event_data);
                assert!((1..=255).contains(&row.session_id.chars().count()));
                assert!(row
                    .duration_seconds
                    .is_none_or(|d| (0..=604_800).contains(&d)));
            }
            rows.len()
        }
        IngestBatch::Metrics(rows) => {
            for row in rows {
                window(row.at);
                let (lo, hi) = metric_range(&row.metric_type).expect("a known metric type");
                assert!(row.value.is_finite() && row.value >= lo && row.value <= hi);
                assert!((1..=50).contains(&row.version.chars().count()));
                if let Some(info) = &row.device_info {
                    small(info);
                }
            }
            rows.len()
        }
    };
    assert!((1..=100).contains(&rows));
});
