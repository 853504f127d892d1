//! Lifecycle analytics over HTTP on both engines: ingestion rules (validation, clock skew,
//! lateness, batch all-or-nothing, app and user from the token), cross-tenant refusals, time
//! zone day boundaries, retention, and a randomized check that every stat read from the
//! rollups equals the same stat computed straight from the events (late and out-of-order
//! arrivals, rollups run in between).

use crate::store::{setup, Store};
use crate::support::{on_both_engines, seed};
use axum::http::{Method, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, Weekday};
use tmcp_domain::analytics::{hour_of, load_time_key, session_length, SessionEvent};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::{Clock, UserId};
use tmcp_repository::{IngestBatch, NewLifecycleEvent, NewMetric, NewUsageEvent};
use tmcp_usecases::analytics::rollup::{self, RollupSettings};

on_both_engines!(setup = setup, runtime = ();
    ingestion_validates_every_item_and_stores_all_or_nothing,
    stats_belong_to_the_developer_and_the_token_s_app,
    days_follow_the_requested_offset,
    days_starting_at_half_past_a_utc_hour_split_that_hour,
    days_follow_iana_zones_across_dst,
    rollups_equal_stats_computed_from_raw_events,
    retention_drops_raw_events_and_keeps_rollups,
);

fn rfc(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("format")
}

async fn drain(store: &Store) {
    rollup::drain(
        store.env.state.db.as_ref(),
        store.env.fixture.clock.now(),
        &RollupSettings::default(),
    )
    .await
    .expect("rollup");
}

async fn stats(store: &Store, token: &str, app_id: &str, query: &str) -> (StatusCode, Value) {
    let reply = store
        .call(
            Method::GET,
            &format!("/api/v1/developer/apps/{app_id}/stats?{query}"),
            token,
            None,
        )
        .await;
    (reply.status, reply.json())
}

/// An app of `dev` and a TEP for Alice in it.
async fn app_and_tep(store: &Store, name: &str) -> (String, String) {
    let app_id = store.register(name, "public").await["miniapp_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let now = store.env.fixture.clock.now();
    let tep = seed::tep(
        &store.env.state,
        now,
        Some(store.env.user),
        &app_id,
        "storage:read",
        None,
    )
    .await;
    (app_id, tep)
}

async fn ingestion_validates_every_item_and_stores_all_or_nothing(store: Store) {
    let (app_id, tep) = app_and_tep(&store, "Pedometer").await;
    let now = store.env.fixture.clock.now();
    let post = |path: &'static str, body: Value| {
        let tep = tep.clone();
        let store = &store;
        async move { store.call(Method::POST, path, &tep, Some(body)).await }
    };
    let one = post(
        "/api/v1/lifecycle/events",
        json!({"event_type": "launched"}),
    )
    .await;
    assert_eq!(one.status, StatusCode::ACCEPTED, "{}", one.text());
    assert_eq!(one.json()["accepted"], 1);
    let batch = post(
        "/api/v1/lifecycle/events",
        json!({"events": [
            {"event_type": "launched", "device_id": "d1", "timestamp": rfc(now - Duration::days(6))},
            {"event_type": "launched", "timestamp": rfc(now + Duration::minutes(4))},
            {"event_type": "closed", "event_data": {"screen": "home"}},
        ]}),
    )
    .await;
    assert_eq!(batch.status, StatusCode::ACCEPTED, "{}", batch.text());
    assert_eq!(batch.json()["accepted"], 3);

    // One bad item refuses the whole batch, naming it.
    let refusals = [
        (json!({"event_type": "exploded"}), "event_type"),
        (
            json!({"event_type": "launched", "timestamp": rfc(now + Duration::minutes(6))}),
            "timestamp",
        ),
        (
            json!({"event_type": "launched", "timestamp": rfc(now - Duration::days(8))}),
            "timestamp",
        ),
        (
            json!({"event_type": "launched", "event_data": {"x": "y".repeat(5000)}}),
            "event_data",
        ),
        (
            json!({"event_type": "launched", "event_data": [1]}),
            "event_data",
        ),
        (json!({"event_type": "launched", "app_id": "other"}), "item"),
    ];
    for (bad, field) in refusals {
        let reply = post(
            "/api/v1/lifecycle/events",
            json!({"events": [{"event_type": "launched"}, bad]}),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text()
        );
        let details = &reply.json()["error"]["details"];
        assert_eq!(details["index"], 1, "{details}");
        assert!(
            details["fields"]
                .get(format!("events[1].{field}"))
                .is_some(),
            "{details}"
        );
    }
    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({"event_type": "launched"}))
        .collect();
    let reply = post("/api/v1/lifecycle/events", json!({ "events": too_many })).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = post("/api/v1/lifecycle/events", json!({ "events": [] })).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Usage and metrics, with their own rules.
    let usage = post(
        "/api/v1/lifecycle/analytics",
        json!({"events": [
            {"session_id": "s1", "event_type": "session_start"},
            {"session_id": "s1", "event_type": "session_end", "duration_seconds": 0},
        ]}),
    )
    .await;
    assert_eq!(usage.status, StatusCode::ACCEPTED, "{}", usage.text());
    for bad in [
        json!({"session_id": "s1", "event_type": "session_end", "duration_seconds": -1}),
        json!({"session_id": "", "event_type": "session_start"}),
        json!({"event_type": "session_start"}),
    ] {
        let reply = post("/api/v1/lifecycle/analytics", bad).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text()
        );
    }
    let metric = post(
        "/api/v1/lifecycle/metrics",
        json!({"version": "1.0.0", "metric_type": "load_time", "metric_value": 250.5,
               "device_info": {"os": "android"}}),
    )
    .await;
    assert_eq!(metric.status, StatusCode::ACCEPTED, "{}", metric.text());
    for bad in [
        json!({"version": "1.0.0", "metric_type": "load_time", "metric_value": -1}),
        json!({"version": "1.0.0", "metric_type": "crash_rate", "metric_value": 1.5}),
        json!({"version": "1.0.0", "metric_type": "load_time", "metric_value": 1e308}),
        json!({"version": "1.0.0", "metric_type": "fps", "metric_value": 60}),
        json!({"version": "", "metric_type": "load_time", "metric_value": 1}),
    ] {
        let reply = post("/api/v1/lifecycle/metrics", bad).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text()
        );
    }

    // A token without a user cannot send user events.
    let client_only = seed::tep(&store.env.state, now, None, &app_id, "storage:read", None).await;
    let reply = store
        .call(
            Method::POST,
            "/api/v1/lifecycle/events",
            &client_only,
            Some(json!({"event_type": "launched"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // Exactly the accepted items were stored: 3 launches, 1 close, 1 session, 1 load time.
    drain(&store).await;
    let from = (now - Duration::days(7)).date();
    let (status, body) = stats(
        &store,
        &store.dev,
        &app_id,
        &format!("from={from}&to={}", (now + Duration::days(1)).date()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totals"]["launches"], 3, "{body}");
    assert_eq!(body["totals"]["sessions"], 1, "{body}");
    assert_eq!(body["totals"]["active_users"], 1, "{body}");
    assert_eq!(body["versions"][0]["load_time_samples"], 1, "{body}");
    assert_eq!(body["versions"][0]["load_time_median_ms"], 250.5, "{body}");
}

async fn stats_belong_to_the_developer_and_the_token_s_app(store: Store) {
    let (mine, tep) = app_and_tep(&store, "Mine").await;
    let (other, other_tep) = app_and_tep(&store, "Other").await;
    for (token, count) in [(&tep, 2), (&other_tep, 5)] {
        let events: Vec<Value> = (0..count)
            .map(|_| json!({"event_type": "launched"}))
            .collect();
        let reply = store
            .call(
                Method::POST,
                "/api/v1/lifecycle/events",
                token,
                Some(json!({ "events": events })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }
    drain(&store).await;
    let (status, body) = stats(&store, &store.dev, &mine, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["totals"]["launches"], 2,
        "only the token's app: {body}"
    );
    let (_, body) = stats(&store, &store.dev, &other, "").await;
    assert_eq!(body["totals"]["launches"], 5);
    let (status, _) = stats(&store, &store.admin, &mine, "").await;
    assert_eq!(status, StatusCode::OK, "admins see every app");
    for token in [&store.other_dev, &store.env.session] {
        let (status, _) = stats(&store, token, &mine, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another developer or a user");
    }
    let (status, _) = stats(&store, &store.dev, "no-such-app", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in [
        "tz=%2B05:3",
        "tz=Mars/Olympus",
        "granularity=week",
        "from=2026-13-01",
        "from=2026-01-02&to=2026-01-01",
        "from=2026-01-01&to=2026-06-01",
    ] {
        let reply = store
            .call(
                Method::GET,
                &format!("/api/v1/developer/apps/{mine}/stats?{bad}"),
                &store.dev,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

async fn days_follow_the_requested_offset(store: Store) {
    let (app_id, tep) = app_and_tep(&store, "Clocks").await;
    let now = store.env.fixture.clock.now();
    // 22:30 UTC two days ago and 01:30 UTC the next day: two days in UTC, one day at +03:00
    // (01:30 and 04:30 the next day) and one day at -05:00 (17:30 and 20:30 the same day).
    let day = (now - Duration::days(2)).date();
    let late = day.midnight().assume_utc() + Duration::minutes(22 * 60 + 30);
    let early = late + Duration::hours(3);
    let reply = store
        .call(
            Method::POST,
            "/api/v1/lifecycle/events",
            &tep,
            Some(json!({"events": [
                {"event_type": "installed", "timestamp": rfc(late)},
                {"event_type": "launched", "timestamp": rfc(early)},
            ]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    drain(&store).await;
    let next = day.next_day().expect("day");
    let range = format!("from={}&to={}", day.previous_day().expect("day"), next);
    let (_, utc) = stats(&store, &store.dev, &app_id, &range).await;
    let series = utc["series"].as_array().expect("series");
    assert_eq!(series.len(), 3);
    assert_eq!(series[1]["installs"], 1);
    assert_eq!(series[2]["launches"], 1);
    assert_eq!(series[1]["active_users"], 1);
    assert_eq!(series[2]["active_users"], 1);
    assert_eq!(utc["totals"]["active_users"], 1, "one user over the range");

    let (_, east) = stats(&store, &store.dev, &app_id, &format!("{range}&tz=%2B03:00")).await;
    let series = east["series"].as_array().expect("series");
    assert_eq!(series[2]["installs"], 1, "{east}");
    assert_eq!(series[2]["launches"], 1, "{east}");
    assert_eq!(series[2]["start"], format!("{next}T00:00:00+03:00"));
    assert_eq!(east["tz"], "+03:00");

    let (_, west) = stats(&store, &store.dev, &app_id, &format!("{range}&tz=-05:00")).await;
    let series = west["series"].as_array().expect("series");
    assert_eq!(series[1]["installs"], 1, "{west}");
    assert_eq!(series[1]["launches"], 1, "{west}");

    let (_, hourly) = stats(
        &store,
        &store.dev,
        &app_id,
        &format!("from={day}&to={next}&granularity=hour"),
    )
    .await;
    let series = hourly["series"].as_array().expect("series");
    assert_eq!(series.len(), 48);
    assert_eq!(series[22]["installs"], 1);
    assert_eq!(series[25]["launches"], 1);
}

/// India (+05:30): local midnight is 18:30 UTC, so UTC hour 18 belongs to two local days.
/// Its first half is counted in the earlier day and its second half in the later one, from
/// the raw events; the rollups' hour 18 holds both halves and is left out.
async fn days_starting_at_half_past_a_utc_hour_split_that_hour(store: Store) {
    let (app_id, tep) = app_and_tep(&store, "Half Clocks").await;
    let now = store.env.fixture.clock.now();
    let day = (now - Duration::days(2)).date();
    let at = |minute: i64| rfc(at_utc(day, 18, minute));
    let reply = store
        .call(
            Method::POST,
            "/api/v1/lifecycle/events",
            &tep,
            Some(json!({"events": [
                {"event_type": "installed", "timestamp": at(15)},
                {"event_type": "launched", "timestamp": at(45)},
            ]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    // A session from 23:50 to 00:20 local: it counts in the day it starts.
    let reply = store
        .call(
            Method::POST,
            "/api/v1/lifecycle/analytics",
            &tep,
            Some(json!({"events": [
                {"session_id": "late", "event_type": "session_start", "timestamp": at(20)},
                {"session_id": "late", "event_type": "session_end", "timestamp": at(50)},
            ]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    drain(&store).await;
    let next = day.next_day().expect("day");
    let range = format!("from={}&to={next}", day.previous_day().expect("day"));

    let (_, utc) = stats(&store, &store.dev, &app_id, &range).await;
    let series = utc["series"].as_array().expect("series");
    assert_eq!(
        (series[1]["installs"].clone(), series[1]["launches"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(series[1]["sessions"], 1);

    for tz in ["Asia%2FKolkata", "%2B05:30"] {
        let (status, india) = stats(&store, &store.dev, &app_id, &format!("{range}&tz={tz}")).await;
        assert_eq!(status, StatusCode::OK, "{tz}");
        let series = india["series"].as_array().expect("series");
        assert_eq!(series.len(), 3);
        assert_eq!(series[2]["start"], format!("{next}T00:00:00+05:30"));
        let (before, after) = (&series[1], &series[2]);
        assert_eq!(
            (before["installs"].clone(), before["launches"].clone()),
            (json!(1), json!(0)),
            "{india}"
        );
        assert_eq!(
            (after["installs"].clone(), after["launches"].clone()),
            (json!(0), json!(1)),
            "{india}"
        );
        assert_eq!(
            (before["sessions"].clone(), after["sessions"].clone()),
            (json!(1), json!(0))
        );
        assert_eq!(before["session_median_seconds"], 1800);
        assert_eq!(
            (
                before["active_users"].clone(),
                after["active_users"].clone()
            ),
            (json!(1), json!(1))
        );
        assert_eq!(
            india["totals"]["active_users"], 1,
            "one user over the range"
        );
        assert_eq!(india["totals"]["installs"], 1);
        assert_eq!(india["totals"]["launches"], 1);
        assert_eq!(india["totals"]["sessions"], 1);
    }

    // By hour, the local day starts with the half hour up to 19:00 UTC.
    let (_, hourly) = stats(
        &store,
        &store.dev,
        &app_id,
        &format!("from={next}&to={next}&granularity=hour&tz=Asia%2FKolkata"),
    )
    .await;
    let series = hourly["series"].as_array().expect("series");
    assert_eq!(series.len(), 25);
    assert_eq!(series[0]["start"], format!("{next}T00:00:00+05:30"));
    assert_eq!(series[1]["start"], format!("{next}T00:30:00+05:30"));
    assert_eq!(series[24]["start"], format!("{next}T23:30:00+05:30"));
    assert_eq!(
        (
            series[0]["launches"].clone(),
            series[0]["active_users"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(hourly["totals"]["installs"], 0);
}

/// The last Sunday of `month` in the first year from `after`'s on whose one is after `after`
/// (EU summer time starts on the last Sunday of March and ends on that of October).
fn last_sunday_after(after: Date, month: Month) -> Date {
    let mut year = after.year();
    loop {
        let mut day = Date::from_calendar_date(year, month, 1)
            .expect("date")
            .replace_day(month.length(year))
            .expect("date");
        while day.weekday() != Weekday::Sunday {
            day = day.previous_day().expect("date");
        }
        if day > after {
            return day;
        }
        year += 1;
    }
}

fn at_utc(day: Date, hour: i64, minute: i64) -> OffsetDateTime {
    day.midnight().assume_utc() + Duration::minutes(hour * 60 + minute)
}

async fn days_follow_iana_zones_across_dst(store: Store) {
    let (app_id, _) = app_and_tep(&store, "Berlin Clock").await;
    let now = store.env.fixture.clock.now();
    let db = store.env.state.db.clone();
    // The next DST changes of Europe/Berlin after today, wherever the real clock is: the
    // raw events go in through the repository (the routes refuse future timestamps), into
    // partitions made ahead for them.
    let spring = last_sunday_after(now.date(), Month::March);
    let fall = last_sunday_after(now.date(), Month::October);
    db.ensure_partitions(now, 14).await.expect("partitions");
    let other = seed::user(&store.env.fixture, "berliner").await;
    let me = store.env.user;
    // Spring day S: CET (+01:00) until 01:00 UTC, then CEST (+02:00); local S runs from
    // S-1 23:00 UTC to S 22:00 UTC (23 hours). Fall day F: CEST until 01:00 UTC, then CET;
    // local F runs from F-1 22:00 UTC to F 23:00 UTC (25 hours).
    let s0 = spring.previous_day().expect("day");
    let f0 = fall.previous_day().expect("day");
    let events = [
        (me, at_utc(s0, 22, 30)),        // S-1 23:30 +01:00
        (me, at_utc(s0, 23, 30)),        // S 00:30 +01:00
        (me, at_utc(spring, 10, 0)),     // S 12:00 +02:00 (the same user again)
        (other, at_utc(spring, 21, 30)), // S 23:30 +02:00
        (other, at_utc(spring, 22, 30)), // S+1 00:30 +02:00
        (me, at_utc(f0, 21, 30)),        // F-1 23:30 +02:00
        (me, at_utc(fall, 0, 30)),       // F 02:30 +02:00
        (other, at_utc(fall, 1, 30)),    // F 02:30 +01:00
        (me, at_utc(fall, 22, 30)),      // F 23:30 +01:00
        (other, at_utc(fall, 23, 30)),   // F+1 00:30 +01:00
    ];
    db.ingest(
        IngestBatch::Lifecycle(
            events
                .iter()
                .map(|(user, at)| NewLifecycleEvent {
                    id: uuid_v7_at(*at),
                    app_id: app_id.clone(),
                    user_id: Some(*user),
                    device_id: None,
                    event_type: "launched".into(),
                    event_data: json!({}),
                    at: *at,
                })
                .collect(),
        ),
        now,
    )
    .await
    .expect("ingest");
    drain(&store).await;
    let tz = "tz=Europe%2FBerlin";
    let figures = |body: &Value, key: &str| -> Vec<i64> {
        body["series"]
            .as_array()
            .expect("series")
            .iter()
            .map(|p| p[key].as_i64().expect("figure"))
            .collect()
    };
    let starts = |body: &Value| -> Vec<String> {
        body["series"]
            .as_array()
            .expect("series")
            .iter()
            .map(|p| p["start"].as_str().expect("start").to_owned())
            .collect()
    };
    let s1 = spring.next_day().expect("day");
    let (status, days) = stats(
        &store,
        &store.dev,
        &app_id,
        &format!("from={s0}&to={s1}&{tz}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(days["tz"], "Europe/Berlin", "{days}");
    assert_eq!(figures(&days, "launches"), [1, 3, 1], "{days}");
    assert_eq!(
        figures(&days, "active_users"),
        [1, 2, 1],
        "distinct within the day: {days}"
    );
    assert_eq!(days["totals"]["active_users"], 2);
    assert_eq!(
        starts(&days),
        [
            format!("{s0}T00:00:00+01:00"),
            format!("{spring}T00:00:00+01:00"),
            format!("{s1}T00:00:00+02:00"),
        ]
    );
    // The same events by UTC day: two on S-1, three on S, none on S+1.
    let (_, utc) = stats(&store, &store.dev, &app_id, &format!("from={s0}&to={s1}")).await;
    assert_eq!(figures(&utc, "launches"), [2, 3, 0], "{utc}");

    let (_, hours) = stats(
        &store,
        &store.dev,
        &app_id,
        &format!("from={spring}&to={spring}&granularity=hour&{tz}"),
    )
    .await;
    let launches = figures(&hours, "launches");
    assert_eq!(launches.len(), 23, "{hours}");
    let hour_starts = starts(&hours);
    assert_eq!(hour_starts[0], format!("{spring}T00:00:00+01:00"));
    assert_eq!(hour_starts[1], format!("{spring}T01:00:00+01:00"));
    assert_eq!(hour_starts[2], format!("{spring}T03:00:00+02:00"));
    assert_eq!(hour_starts[22], format!("{spring}T23:00:00+02:00"));
    assert_eq!((launches[0], launches[11], launches[22]), (1, 1, 1));
    assert_eq!(launches.iter().sum::<i64>(), 3);

    let f1 = fall.next_day().expect("day");
    let (_, days) = stats(
        &store,
        &store.dev,
        &app_id,
        &format!("from={f0}&to={f1}&{tz}"),
    )
    .await;
    assert_eq!(figures(&days, "launches"), [1, 3, 1], "{days}");
    assert_eq!(figures(&days, "active_users"), [1, 2, 1], "{days}");
    assert_eq!(
        starts(&days),
        [
            format!("{f0}T00:00:00+02:00"),
            format!("{fall}T00:00:00+02:00"),
            format!("{f1}T00:00:00+01:00"),
        ]
    );
    let (_, hours) = stats(
        &store,
        &store.dev,
        &app_id,
        &format!("from={fall}&to={fall}&granularity=hour&{tz}"),
    )
    .await;
    let launches = figures(&hours, "launches");
    assert_eq!(launches.len(), 25, "{hours}");
    let hour_starts = starts(&hours);
    assert_eq!(hour_starts[2], format!("{fall}T02:00:00+02:00"));
    assert_eq!(hour_starts[3], format!("{fall}T02:00:00+01:00"));
    assert_eq!(hour_starts[24], format!("{fall}T23:00:00+01:00"));
    assert_eq!((launches[2], launches[3], launches[24]), (1, 1, 1));
    let users = figures(&hours, "active_users");
    assert_eq!((users[2], users[3]), (1, 1));

    // Tokyo has no DST: a day is 24 hours from 15:00 UTC.
    let (_, tokyo) = stats(
        &store,
        &store.dev,
        &app_id,
        &format!("from={spring}&to={spring}&granularity=hour&tz=Asia%2FTokyo"),
    )
    .await;
    assert_eq!(tokyo["tz"], "Asia/Tokyo");
    assert_eq!(starts(&tokyo).len(), 24);
    assert_eq!(starts(&tokyo)[0], format!("{spring}T00:00:00+09:00"));

    // A zone whose days start inside a UTC hour reads the hours where days meet from the
    // raw events, kept 90 days: a range reaching further back is refused on `from`.
    let now = store.env.fixture.clock.now();
    let old = (now - Duration::days(100)).date();
    let recent = (now - Duration::days(80)).date();
    for tz in ["Asia%2FKolkata", "%2B05:30", "Australia%2FAdelaide"] {
        let (status, body) = stats(
            &store,
            &store.dev,
            &app_id,
            &format!("from={old}&to={recent}&tz={tz}"),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{tz}");
        let message = body["error"]["details"]["fields"]["from"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("kept 90 days"), "{tz}: {message}");
        // The same range in a whole-hour zone is read from the rollups alone.
        let (status, _) = stats(
            &store,
            &store.dev,
            &app_id,
            &format!("from={old}&to={recent}&tz=%2B05:00"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }

    // Unknown names and malformed offsets: 422 on `tz`.
    for (bad, says) in [
        ("Mars%2FOlympus", "unknown time zone"),
        ("Europe%2FNowhere", "unknown time zone"),
        ("%2B05:3", "must be UTC"),
    ] {
        let reply = store
            .call(
                Method::GET,
                &format!("/api/v1/developer/apps/{app_id}/stats?tz={bad}"),
                &store.dev,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let message = reply.json()["error"]["details"]["fields"]["tz"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(says), "{bad}: {message}");
    }
}

/// Events as the test sent them: the reference the rollups are checked against.
#[derive(Default)]
struct Sent {
    lifecycle: Vec<(UserId, String, OffsetDateTime)>,
    usage: Vec<(UserId, String, bool, OffsetDateTime)>,
    metrics: Vec<(String, String, f64, OffsetDateTime)>,
}

fn nearest_rank(mut values: Vec<i64>, percent: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (percent * values.len()).div_ceil(100).max(1);
    Some(values[rank - 1])
}

/// The local date of `at` in the IANA zone or fixed offset `tz` (as the test's own reference,
/// going from instants to local dates, where the server goes from local midnights to
/// instants).
fn local_date(tz: &jiff::tz::TimeZone, at: OffsetDateTime) -> Date {
    let local = jiff::Timestamp::from_second(at.unix_timestamp())
        .expect("instant")
        .to_zoned_datetime(tz.clone())
        .date();
    Date::from_calendar_date(
        i32::from(local.year()),
        Month::try_from(u8::try_from(local.month()).expect("month")).expect("month"),
        u8::try_from(local.day()).expect("day"),
    )
    .expect("date")
}

/// The periods of the local days `from..=to` in `tz`: by day, the day's index; by hour, the
/// index of the UTC hour among the hours whose start lies in those days. `None` outside.
fn periods_of(
    tz: &jiff::tz::TimeZone,
    from: Date,
    to: Date,
    hourly: bool,
) -> (Box<dyn Fn(OffsetDateTime) -> Option<i64> + '_>, i64) {
    let day = move |at: OffsetDateTime| {
        let d = local_date(tz, at);
        (from <= d && d <= to).then(|| (d - from).whole_days())
    };
    if !hourly {
        return (Box::new(day), (to - from).whole_days() + 1);
    }
    // By hour, a period is a UTC hour within one local day: an hour that a local midnight
    // splits (`+05:30`) is two periods, one in each day. Every zone's offset is a multiple
    // of 15 minutes, so a scan in quarter hours meets every (day, hour) pair.
    let scan = from.midnight().assume_utc() - Duration::hours(16);
    let mut keys: Vec<(Date, i64)> = (0..4 * 24 * ((to - from).whole_days() + 3))
        .map(|q| scan + Duration::minutes(15 * q))
        .filter_map(|at| day(at).map(|_| (local_date(tz, at), hour_of(at))))
        .collect();
    keys.dedup();
    let count = i64::try_from(keys.len()).expect("count");
    let period = move |at: OffsetDateTime| {
        day(at)?;
        keys.binary_search(&(local_date(tz, at), hour_of(at)))
            .ok()
            .map(|i| i64::try_from(i).expect("index"))
    };
    (Box::new(period), count)
}

/// The expected `series` and `versions` of a stats answer, straight from the events.
fn expected(sent: &Sent, period: &dyn Fn(OffsetDateTime) -> Option<i64>, count: i64) -> Value {
    let inside = |at: OffsetDateTime| period(at).is_some();
    let period = |at: OffsetDateTime| period(at).expect("inside");
    let mut periods: BTreeMap<i64, BTreeMap<&str, i64>> = BTreeMap::new();
    let mut users: BTreeMap<i64, BTreeSet<UserId>> = BTreeMap::new();
    for (user, kind, at) in sent.lifecycle.iter().filter(|e| inside(e.2)) {
        let key = match kind.as_str() {
            "installed" => "installs",
            "uninstalled" => "uninstalls",
            "launched" => "launches",
            "updated" => "updates",
            _ => "closes",
        };
        *periods
            .entry(period(*at))
            .or_default()
            .entry(key)
            .or_default() += 1;
        users.entry(period(*at)).or_default().insert(*user);
    }
    let mut sessions: BTreeMap<(UserId, &str), Vec<SessionEvent>> = BTreeMap::new();
    for (user, session, is_end, at) in &sent.usage {
        if inside(*at) {
            users.entry(period(*at)).or_default().insert(*user);
        }
        sessions
            .entry((*user, session.as_str()))
            .or_default()
            .push(SessionEvent {
                at: *at,
                is_end: *is_end,
            });
    }
    let mut lengths: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for events in sessions.values() {
        let start = events.iter().map(|e| e.at).min().expect("events");
        if inside(start) {
            lengths
                .entry(period(start))
                .or_default()
                .push(session_length(events).expect("length"));
        }
    }
    let mut series = Vec::new();
    for p in 0..count {
        let counts = periods.get(&p).cloned().unwrap_or_default();
        let l = lengths.get(&p).cloned().unwrap_or_default();
        series.push(json!({
            "installs": counts.get("installs").copied().unwrap_or(0),
            "uninstalls": counts.get("uninstalls").copied().unwrap_or(0),
            "updates": counts.get("updates").copied().unwrap_or(0),
            "launches": counts.get("launches").copied().unwrap_or(0),
            "active_users": users.get(&p).map_or(0, BTreeSet::len),
            "sessions": l.len(),
            "session_median_seconds": nearest_rank(l.clone(), 50),
            "session_p95_seconds": nearest_rank(l, 95),
        }));
    }
    let mut loads: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut crashes: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (version, kind, value, _) in sent.metrics.iter().filter(|m| inside(m.3)) {
        if kind == "load_time" {
            loads
                .entry(version)
                .or_default()
                .push(load_time_key(*value));
        } else if kind == "crash_rate" {
            let c = crashes.entry(version).or_default();
            c.0 += 1;
            c.1 += i64::from(*value > 0.0);
        }
    }
    let names: BTreeSet<&str> = loads.keys().chain(crashes.keys()).copied().collect();
    let versions: Vec<Value> = names
        .into_iter()
        .map(|v| {
            let l = loads.get(v).cloned().unwrap_or_default();
            let (reports, crashing) = crashes.get(v).copied().unwrap_or((0, 0));
            json!({
                "version": v,
                "load_time_samples": l.len(),
                "load_time_median_ms": nearest_rank(l.clone(), 50).map(|t| t as f64 / 10.0),
                "load_time_p95_ms": nearest_rank(l, 95).map(|t| t as f64 / 10.0),
                "crash_reports": reports,
                "crashing_sessions": crashing,
                "crash_rate": (reports > 0).then(|| crashing as f64 / reports as f64),
            })
        })
        .collect();
    json!({ "series": series, "versions": versions })
}

/// Versions with `crash_rate` checked to 1e-12 and then dropped: serde_json's default float
/// parsing may differ in the last bit from the server's division (the counts are exact).
fn rates(versions: &Value) -> Value {
    let mut versions = versions.clone();
    for v in versions.as_array_mut().expect("versions") {
        let v = v.as_object_mut().expect("version");
        let rate = v.remove("crash_rate").expect("crash_rate");
        let reports = v["crash_reports"].as_f64().expect("reports");
        let crashing = v["crashing_sessions"].as_f64().expect("crashing");
        match rate.as_f64() {
            Some(rate) => assert!((rate - crashing / reports).abs() < 1e-12),
            None => assert_eq!(reports, 0.0),
        }
    }
    versions
}

fn strip(series: &Value) -> Value {
    let mut series = series.clone();
    for item in series.as_array_mut().expect("series") {
        item.as_object_mut().expect("period").remove("start");
    }
    series
}

async fn rollups_equal_stats_computed_from_raw_events(store: Store) {
    let (app_id, _) = app_and_tep(&store, "Random Walk").await;
    let (noise_app, _) = app_and_tep(&store, "Noise").await;
    let db = store.env.state.db.clone();
    let mut users = vec![store.env.user];
    for i in 0..4 {
        users.push(seed::user(&store.env.fixture, &format!("walker{i}")).await);
    }
    let now = store.env.fixture.clock.now();
    // Each case adds to the same app: the reference holds every case's events so far.
    let mut all = Sent::default();
    for case in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(0xA11 + case);
        let mut sent = Sent::default();
        // Events of the last 4 days, sent in random order and random batches, with rollups
        // in between, so buckets are rolled up and then receive late events.
        let mut pending: Vec<(u8, IngestBatch)> = Vec::new();
        let at = |rng: &mut StdRng| now - Duration::seconds(rng.gen_range(0..4 * 86_400));
        for _ in 0..rng.gen_range(20..60) {
            let user = users[rng.gen_range(0..users.len())];
            let kind = ["installed", "uninstalled", "launched", "closed", "updated"]
                [rng.gen_range(0..5)]
            .to_owned();
            let t = at(&mut rng);
            sent.lifecycle.push((user, kind.clone(), t));
            pending.push((
                0,
                IngestBatch::Lifecycle(vec![NewLifecycleEvent {
                    id: uuid_v7_at(now),
                    app_id: app_id.clone(),
                    user_id: Some(user),
                    device_id: None,
                    event_type: kind,
                    event_data: json!({}),
                    at: t,
                }]),
            ));
        }
        for s in 0..rng.gen_range(5..25) {
            let user = users[rng.gen_range(0..users.len())];
            let session = format!("c{case}s{s}");
            let mut t = at(&mut rng);
            let steps = rng.gen_range(1..6);
            for step in 0..steps {
                let is_end = step == steps - 1 && rng.gen_bool(0.6);
                let kind = match (step, is_end) {
                    (0, _) => "session_start",
                    (_, true) => "session_end",
                    _ => "feature_used",
                };
                sent.usage.push((user, session.clone(), is_end, t));
                pending.push((
                    1,
                    IngestBatch::Usage(vec![NewUsageEvent {
                        id: uuid_v7_at(now),
                        app_id: app_id.clone(),
                        user_id: Some(user),
                        device_id: None,
                        session_id: session.clone(),
                        event_type: kind.into(),
                        duration_seconds: None,
                        event_data: json!({}),
                        at: t,
                    }]),
                ));
                // Gaps around the 30-minute idle limit, sometimes across hours and days.
                t += Duration::seconds(rng.gen_range(1..2400));
                if t > now {
                    break;
                }
            }
        }
        for _ in 0..rng.gen_range(10..40) {
            let version = ["1.0.0", "1.1.0"][rng.gen_range(0..2)].to_owned();
            let (kind, value) = if rng.gen_bool(0.5) {
                ("load_time", f64::from(rng.gen_range(0..50_000)) / 10.0)
            } else {
                ("crash_rate", f64::from(u8::from(rng.gen_bool(0.2))))
            };
            let t = at(&mut rng);
            sent.metrics.push((version.clone(), kind.into(), value, t));
            pending.push((
                2,
                IngestBatch::Metrics(vec![NewMetric {
                    id: uuid_v7_at(now),
                    app_id: app_id.clone(),
                    version,
                    metric_type: kind.into(),
                    value,
                    device_info: None,
                    at: t,
                }]),
            ));
        }
        // Shuffle, merge neighbours of one kind into batches, interleave rollups.
        for i in (1..pending.len()).rev() {
            pending.swap(i, rng.gen_range(0..=i));
        }
        let mut batches: Vec<IngestBatch> = Vec::new();
        for (_, item) in pending {
            match (batches.last_mut(), item) {
                (Some(IngestBatch::Lifecycle(b)), IngestBatch::Lifecycle(mut i)) if b.len() < 7 => {
                    b.append(&mut i)
                }
                (Some(IngestBatch::Usage(b)), IngestBatch::Usage(mut i)) if b.len() < 7 => {
                    b.append(&mut i)
                }
                (Some(IngestBatch::Metrics(b)), IngestBatch::Metrics(mut i)) if b.len() < 7 => {
                    b.append(&mut i)
                }
                (_, item) => batches.push(item),
            }
        }
        // Another app's events must never show.
        db.ingest(
            IngestBatch::Lifecycle(vec![NewLifecycleEvent {
                id: uuid_v7_at(now),
                app_id: noise_app.clone(),
                user_id: Some(users[1]),
                device_id: None,
                event_type: "launched".into(),
                event_data: json!({}),
                at: now - Duration::hours(5),
            }]),
            now,
        )
        .await
        .expect("noise");
        for batch in batches {
            db.ingest(batch, now).await.expect("ingest");
            if rng.gen_bool(0.3) {
                rollup::run(
                    db.as_ref(),
                    now,
                    &RollupSettings {
                        batch_size: rng.gen_range(1..5),
                        ..RollupSettings::default()
                    },
                )
                .await
                .expect("partial rollup");
            }
        }
        // The rest by three concurrent drains in small batches: on PostgreSQL they take
        // disjoint marks (`SKIP LOCKED`) and meet on shared buckets under the advisory locks.
        rollup::drain_parallel(
            db.as_ref(),
            now,
            &RollupSettings {
                batch_size: 3,
                ..RollupSettings::default()
            },
            3,
        )
        .await
        .expect("parallel drain");
        // Re-running over already-rolled buckets changes nothing (idempotent).
        rollup::run(db.as_ref(), now, &RollupSettings::default())
            .await
            .expect("rerun");

        all.lifecycle.append(&mut sent.lifecycle);
        all.usage.append(&mut sent.usage);
        all.metrics.append(&mut sent.metrics);
        // Three fixed offsets and two IANA zones with DST, plus one drawn at random.
        let extra = [
            "Asia/Tokyo",
            "America/Sao_Paulo",
            "Australia/Sydney",
            "Europe/London",
        ][rng.gen_range(0..4)];
        // Zones whose days start inside a UTC hour (the hours where days meet come from the
        // raw events): India always, and each case one more of these.
        let inside_an_hour = [
            "+05:30",
            "Asia/Kathmandu",
            "Australia/Adelaide",
            "Australia/Lord_Howe",
        ][usize::try_from(case).expect("case") % 4];
        for tz in [
            "UTC",
            "+03:00",
            "-05:00",
            "Europe/Berlin",
            "America/New_York",
            extra,
            "Asia/Kolkata",
            inside_an_hour,
        ] {
            let zone = if tz == "UTC" {
                jiff::tz::TimeZone::UTC
            } else if tz.starts_with(['+', '-']) {
                let hours: i32 = tz[..3].parse().expect("offset");
                let minutes: i32 = tz[4..].parse().expect("offset");
                let seconds = hours * 3600 + hours.signum() * minutes * 60;
                jiff::tz::TimeZone::fixed(jiff::tz::Offset::from_seconds(seconds).expect("offset"))
            } else {
                jiff::tz::TimeZone::get(tz).expect("zone")
            };
            for hourly in [false, true] {
                let (from, to) = if hourly {
                    (now - Duration::days(2), now)
                } else {
                    (now - Duration::days(5), now + Duration::days(1))
                };
                let (from, to) = (local_date(&zone, from), local_date(&zone, to));
                let query = format!(
                    "from={from}&to={to}&granularity={}&tz={}",
                    if hourly { "hour" } else { "day" },
                    tz.replace('+', "%2B").replace('/', "%2F")
                );
                let (status, body) = stats(&store, &store.dev, &app_id, &query).await;
                assert_eq!(status, StatusCode::OK, "{query}");
                let (period, count) = periods_of(&zone, from, to, hourly);
                let want = expected(&all, period.as_ref(), count);
                assert_eq!(
                    strip(&body["series"]),
                    want["series"],
                    "case {case} {query}"
                );
                assert_eq!(
                    rates(&body["versions"]),
                    rates(&want["versions"]),
                    "case {case} {query}"
                );
            }
        }
    }
}

async fn retention_drops_raw_events_and_keeps_rollups(store: Store) {
    let (app_id, tep) = app_and_tep(&store, "Old News").await;
    let now = store.env.fixture.clock.now();
    let reply = store
        .call(
            Method::POST,
            "/api/v1/lifecycle/events",
            &tep,
            Some(json!({"events": [{"event_type": "installed"}, {"event_type": "launched"}]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    drain(&store).await;
    let day = now.date();
    let range = format!("from={day}&to={day}");
    let (_, before) = stats(&store, &store.dev, &app_id, &range).await;
    assert_eq!(before["totals"]["installs"], 1);

    // 130 days later the month of the events is past the 90-day retention (the upkeep and
    // the job are given that time; the sessions keep the test clock).
    let later = now + Duration::days(130);
    let db = store.env.state.db.as_ref();
    db.ensure_partitions(later, 3).await.expect("partitions");
    let dropped = db
        .drop_analytics_partitions_before((later - Duration::days(90)).date())
        .await
        .expect("retention");
    if db.engine() == "postgres" {
        assert!(
            dropped >= 3,
            "the events' monthly partitions went: {dropped}"
        );
    }
    // A rollup run after retention never recomputes (and so never empties) old buckets.
    rollup::drain(db, later, &RollupSettings::default())
        .await
        .expect("rollup");
    let (status, after) = stats(&store, &store.dev, &app_id, &range).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["totals"], before["totals"], "rollups are kept");
    // Rollups past their own retention go.
    rollup::purge(
        db,
        later,
        &RollupSettings {
            rollup_retention: Duration::days(100),
            ..RollupSettings::default()
        },
        1000,
    )
    .await
    .expect("purge");
    let (_, purged) = stats(&store, &store.dev, &app_id, &range).await;
    assert_eq!(purged["totals"]["installs"], 0);
}
