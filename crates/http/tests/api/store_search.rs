//! `GET /api/v1/store/apps` and `GET /api/v1/store/featured` over the contract suite's
//! catalogue: a session or a TEP reads, refusals are envelopes, a search round trip shows
//! the listing fields.

use crate::support::{encode, error_code, on_both_engines, seed, Env, Reply};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::sync::Arc;
use tmcp_contract_tests::store_search::{change, seed_catalogue, CATALOGUE};
use tmcp_domain::store::AppStatus;
use tmcp_domain::Clock;
use tmcp_usecases::store::search_cache::SearchCache;

const READER: &str = "ma_search_reader";

async fn get(env: &Env, path: &str, bearer: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    env.send(request.body(Body::empty()).expect("request"))
        .await
}

async fn search(env: &Env, pairs: &[(&str, &str)]) -> Reply {
    let path = format!("/api/v1/store/apps?{}", encode(pairs));
    get(env, &path, Some(&env.session)).await
}

async fn search_round_trip_with_session_or_tep(env: Env) {
    seed_catalogue(&env.fixture).await;
    let reply = search(&env, &[("q", "Photo Editor"), ("limit", "3")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["limit"], 3);
    assert_eq!(body["offset"], 0);
    assert!(body["total"].as_i64().is_some_and(|t| t >= 2), "{body}");
    let first = &body["apps"][0];
    assert_eq!(first["app_id"], "ma_photo_editor");
    assert_eq!(first["name"], "Photo Editor");
    assert_eq!(first["short_description"], "Crop, filters and retouch");
    assert_eq!(first["category"], "photo");
    assert_eq!(first["classification"], "verified");
    assert_eq!(first["developer_name"], "Example Studio");
    assert_eq!(first["version"], "1.0.0");
    assert_eq!(
        first["icon_url"],
        "https://cdn.example.com/ma_photo_editor.png"
    );
    assert_eq!(first["featured"], false);
    assert_eq!(first["install_count"], 0);
    assert_eq!(first["rating"]["count"], 0);
    assert!(first["rating"]["average"].is_number());

    // Browse, a typo, a category filter, a sort.
    let browse = search(&env, &[("limit", "100")]).await.json();
    assert_eq!(browse["total"], CATALOGUE.len());
    let typo = search(&env, &[("q", "wether now")]).await.json();
    assert_eq!(typo["apps"][0]["app_id"], "ma_weather_now");
    let cyrillic = search(&env, &[("q", "карта города")]).await.json();
    assert_eq!(cyrillic["apps"][0]["app_id"], "ma_karta");
    let named = search(&env, &[("category", "weather"), ("sort", "name")])
        .await
        .json();
    let names: Vec<&str> = named["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Weather Now", "Weather Pro", "Погода Про", "天気予報"]
    );
    // Unknown parameters are ignored, as on the other list routes.
    let extra = search(&env, &[("q", "chess"), ("colour", "blue")]).await;
    assert_eq!(extra.status, StatusCode::OK);

    // A mini-app's TEP reads too, whatever its scopes.
    seed::client(&env.fixture, READER, "Search reader", &["user:read"]).await;
    let tep = seed::tep(
        &env.state,
        env.fixture.clock.now(),
        Some(env.user),
        READER,
        "user:read",
        None,
    )
    .await;
    let with_tep = get(&env, "/api/v1/store/apps?q=chess", Some(&tep)).await;
    assert_eq!(with_tep.status, StatusCode::OK, "{}", with_tep.text());
    assert_eq!(with_tep.json()["apps"][0]["app_id"], "ma_chess");
    let featured = get(&env, "/api/v1/store/featured", Some(&tep)).await;
    assert_eq!(featured.status, StatusCode::OK, "{}", featured.text());
    assert_eq!(featured.json()["apps"], serde_json::json!([]));
}

async fn refusals_are_envelopes(env: Env) {
    for path in ["/api/v1/store/apps", "/api/v1/store/featured"] {
        let anonymous = get(&env, path, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(!error_code(&anonymous.json()).is_empty());
        let forged = get(&env, path, Some("tep.not-a-token")).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let huge = "x".repeat(201);
    for (pairs, field) in [
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "101")], "limit"),
        (vec![("offset", "10001")], "offset"),
        (vec![("offset", "-1")], "offset"),
        (vec![("q", huge.as_str())], "q"),
        (vec![("q", "tab\there")], "q"),
        (vec![("q", "bell\u{7}")], "q"),
        (vec![("sort", "loudest")], "sort"),
        (vec![("classification", "gold")], "classification"),
    ] {
        let reply = search(&env, &pairs).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{pairs:?}: {}",
            reply.text()
        );
        let body = reply.json();
        assert_eq!(error_code(&body), "VALIDATION_FAILED", "{body}");
        assert!(body.to_string().contains(field), "{pairs:?}: {body}");
    }
    let featured = get(&env, "/api/v1/store/featured?limit=0", Some(&env.session)).await;
    assert_eq!(featured.status, StatusCode::UNPROCESSABLE_ENTITY);
    for pairs in [vec![("limit", "ten")], vec![("offset", "1.5")]] {
        let reply = search(&env, &pairs).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{pairs:?}");
        assert_eq!(error_code(&reply.json()), "INVALID_REQUEST");
    }
    // 200 characters is still a query.
    let longest = "x".repeat(200);
    let reply = search(&env, &[("q", longest.as_str())]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["total"], 0);
}

fn app_ids(body: &serde_json::Value) -> Vec<String> {
    body["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .filter_map(|a| a["app_id"].as_str().map(str::to_owned))
        .collect()
}

/// With the answer cache on (as `serve` runs it), a listing is reused within the cache time
/// on the injected clock (each answer lives between half and all of it), whatever the
/// spelling of the same query, and then recomputed.
async fn answers_are_reused_for_the_cache_time(mut env: Env) {
    seed_catalogue(&env.fixture).await;
    env.state.search_cache = Arc::new(SearchCache::new(std::time::Duration::from_secs(2)));
    let first = search(&env, &[("q", "chess")]).await.json();
    assert_eq!(app_ids(&first)[0], "ma_chess", "{first}");
    let browse = search(&env, &[("limit", "100")]).await.json();
    change(
        &env.fixture,
        "ma_chess",
        AppStatus::Active,
        AppStatus::Removed,
    )
    .await;

    env.fixture.clock.advance(time::Duration::milliseconds(900));
    let again = search(&env, &[("q", "  CHESS ")]).await.json();
    assert_eq!(again, first, "the same words reuse the answer");
    let other_page = search(&env, &[("limit", "99")]).await.json();
    assert!(
        !app_ids(&other_page).contains(&"ma_chess".to_owned()),
        "another query is computed afresh"
    );

    env.fixture
        .clock
        .advance(time::Duration::milliseconds(2_500));
    let later = search(&env, &[("q", "chess")]).await.json();
    assert!(!app_ids(&later).contains(&"ma_chess".to_owned()), "{later}");
    let browse_later = search(&env, &[("limit", "100")]).await.json();
    assert_eq!(
        browse_later["total"].as_i64(),
        browse["total"].as_i64().map(|n| n - 1)
    );
}

on_both_engines!(setup = Env::new, runtime = (flavor = "multi_thread", worker_threads = 2);
    search_round_trip_with_session_or_tep,
    refusals_are_envelopes,
    answers_are_reused_for_the_cache_time,
);
