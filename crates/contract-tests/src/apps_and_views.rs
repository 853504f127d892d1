//! The schema design's summary views joined installs, reviews and payments in one GROUP BY,
//! multiplying sums and averages whenever more than one of them had several rows. These
//! scenarios give every joined table several rows at once and check exact figures.

use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use tmcp_repository::RepoError;

pub async fn user_summary_is_exact_with_many_joined_rows(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "developer").await;
    let buyer = fixtures::user(fixture, "buyer").await;
    let apps = [
        fixtures::app(fixture, "ma_alpha", &dev).await,
        fixtures::app(fixture, "ma_beta", &dev).await,
        fixtures::app(fixture, "ma_gamma", &dev).await,
    ];
    for app in &apps {
        let at = fixture.clock.now_for_fixtures();
        fixture
            .db
            .record_installation(buyer.id, app, "1.0.0", at)
            .await
            .expect("installed");
    }
    for (minor, status) in [
        (1250, "completed"),
        (99, "completed"),
        (5000, "completed"),
        (777, "failed"),
    ] {
        fixtures::payment(fixture, &buyer, &apps[0], minor, status).await;
    }

    let summary = fixture
        .db
        .user_summary(buyer.id)
        .await
        .expect("view readable")
        .expect("row");
    assert_eq!(summary.installed_apps_count, 3);
    assert_eq!(summary.payment_count, 3, "failed payments are not counted");
    assert_eq!(
        summary.total_spent,
        1250 + 99 + 5000,
        "3 installs must not triple the sum"
    );

    let idle = fixture
        .db
        .user_summary(dev.id)
        .await
        .expect("view readable")
        .expect("row");
    assert_eq!(
        (
            idle.installed_apps_count,
            idle.payment_count,
            idle.total_spent
        ),
        (0, 0, 0)
    );
}

pub async fn app_summary_is_exact_with_many_joined_rows(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "developer").await;
    let app = fixtures::app(fixture, "ma_summary", &dev).await;
    let mut users = Vec::new();
    for name in ["u_one", "u_two", "u_three"] {
        users.push(fixtures::user(fixture, name).await);
    }
    for (user, rating) in users.iter().zip([5, 4, 2]) {
        let at = fixture.clock.now_for_fixtures();
        fixture
            .db
            .record_installation(user.id, &app, "1.0.0", at)
            .await
            .expect("installed");
        fixture
            .db
            .upsert_review(user.id, &app, rating, at)
            .await
            .expect("reviewed");
    }
    for minor in [100, 200, 300, 400] {
        fixtures::payment(fixture, &users[0], &app, minor, "completed").await;
    }
    fixtures::payment(fixture, &users[1], &app, 1000, "failed").await;

    let summary = fixture
        .db
        .app_summary(&app)
        .await
        .expect("view readable")
        .expect("row");
    assert_eq!(summary.install_count, 3);
    assert_eq!(summary.review_count, 3);
    assert!(
        (summary.average_rating - 11.0 / 3.0).abs() < 1e-9,
        "{}",
        summary.average_rating
    );
    assert_eq!(summary.purchase_count, 4);
    assert_eq!(
        summary.total_revenue, 1000,
        "3 installs x 3 reviews must not multiply revenue"
    );

    let lonely = fixtures::app(fixture, "ma_lonely", &dev).await;
    let empty = fixture
        .db
        .app_summary(&lonely)
        .await
        .expect("view readable")
        .expect("row");
    assert_eq!(
        (
            empty.install_count,
            empty.review_count,
            empty.purchase_count
        ),
        (0, 0, 0)
    );
    assert_eq!((empty.average_rating, empty.total_revenue), (0.0, 0));

    // The name alone, as request paths read it, agrees with the view.
    let name = fixture.db.app_name(&lonely).await.expect("read");
    assert_eq!(name.as_deref(), Some(empty.name.as_str()));
    let nobody = tmcp_domain::AppId::parse("ma_nobody").expect("app id");
    assert_eq!(fixture.db.app_name(&nobody).await.expect("read"), None);
}

pub async fn one_live_installation_and_one_active_review(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "developer").await;
    let user = fixtures::user(fixture, "fan").await;
    let app = fixtures::app(fixture, "ma_unique", &dev).await;
    let at = fixture.clock.now_for_fixtures();
    fixture
        .db
        .record_installation(user.id, &app, "1.0.0", at)
        .await
        .expect("installed");
    let twice = fixture
        .db
        .record_installation(user.id, &app, "1.0.0", at)
        .await;
    assert!(
        matches!(twice, Err(RepoError::Conflict { .. })),
        "{twice:?}"
    );

    let first = fixture
        .db
        .upsert_review(user.id, &app, 2, at)
        .await
        .expect("reviewed");
    let second = fixture
        .db
        .upsert_review(user.id, &app, 5, at)
        .await
        .expect("re-reviewed");
    assert_eq!(first, second, "a second review replaces the first");
    let summary = fixture
        .db
        .app_summary(&app)
        .await
        .expect("view readable")
        .expect("row");
    assert_eq!((summary.review_count, summary.average_rating), (1, 5.0));

    let bad = fixture.db.upsert_review(user.id, &app, 6, at).await;
    assert!(
        matches!(bad, Err(RepoError::Constraint { .. })),
        "rating 6: {bad:?}"
    );
}
