//! Payment methods: (provider, token) unique, one default per user, a user's calls never see
//! or change another user's methods.

use super::add_method;
use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use futures::future::join_all;
use std::sync::Arc;
use tmcp_repository::RepoError;

pub async fn payment_methods_are_per_user_with_one_default(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "pm_alice").await.id;
    let bob = fixtures::user(fixture, "pm_bob").await.id;
    let first = add_method(fixture, alice, "pm_sandbox_ok-a1", false).await;
    assert!(
        first.is_default,
        "a user's first method becomes the default"
    );
    assert_eq!(first.method_data["last4"], "4242");
    let second = add_method(fixture, alice, "pm_sandbox_ok-a2", false).await;
    assert!(!second.is_default);
    let third = add_method(fixture, alice, "pm_sandbox_ok-a3", true).await;
    assert!(third.is_default);
    let listed = fixture.db.payment_methods(alice).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|m| (m.id, m.is_default))
            .collect::<Vec<_>>(),
        vec![(first.id, false), (second.id, false), (third.id, true)]
    );

    // The token is unique across users.
    let at = fixture.clock.now_for_fixtures();
    let taken = fixture
        .db
        .add_payment_method(tmcp_repository::NewPaymentMethod {
            id: tmcp_domain::ids::uuid_v7_at(at),
            user_id: bob,
            method_type: "card".into(),
            provider: "sandbox".into(),
            provider_method_id: "pm_sandbox_ok-a1".into(),
            method_data: serde_json::json!({}),
            make_default: false,
            at,
        })
        .await;
    assert!(
        matches!(taken, Err(RepoError::Conflict { .. })),
        "{taken:?}"
    );

    // Bob cannot see, change or remove Alice's methods.
    let at = fixture.clock.now_for_fixtures();
    assert!(fixture
        .db
        .payment_methods(bob)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        fixture
            .db
            .payment_method(bob, first.id)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        fixture
            .db
            .set_default_payment_method(bob, first.id, at)
            .await
            .expect("default"),
        None
    );
    assert!(!fixture
        .db
        .remove_payment_method(bob, first.id, at)
        .await
        .expect("remove"));

    // Alice moves the default, then removes it: no default remains, the method is gone.
    let moved = fixture
        .db
        .set_default_payment_method(alice, second.id, at)
        .await
        .expect("default")
        .expect("found");
    assert!(moved.is_default);
    assert!(fixture
        .db
        .remove_payment_method(alice, second.id, at)
        .await
        .expect("remove"));
    assert!(!fixture
        .db
        .remove_payment_method(alice, second.id, at)
        .await
        .expect("again"));
    assert_eq!(
        fixture
            .db
            .payment_method(alice, second.id)
            .await
            .expect("read"),
        None
    );
    let left = fixture.db.payment_methods(alice).await.expect("list");
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|m| !m.is_default));
    assert_eq!(
        fixture
            .db
            .set_default_payment_method(alice, second.id, at)
            .await
            .expect("default"),
        None,
        "a removed method cannot become the default"
    );
    // With no default left, the next method added becomes it.
    let fourth = add_method(fixture, alice, "pm_sandbox_ok-a4", false).await;
    assert!(fourth.is_default);
}

pub async fn racing_default_changes_leave_one_default(fixture: &Fixture) {
    let user = fixtures::user(fixture, "pm_racer").await.id;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            add_method(fixture, user, &format!("pm_sandbox_ok-r{i}"), false)
                .await
                .id,
        );
    }
    let at = fixture.clock.now_for_fixtures();
    let tasks = ids.iter().cycle().take(24).map(|id| {
        let db = Arc::clone(&fixture.db);
        let id = *id;
        tokio::spawn(async move { db.set_default_payment_method(user, id, at).await })
    });
    for result in join_all(tasks).await {
        let set = result
            .expect("no panic")
            .expect("no error under concurrency");
        assert!(set.is_some_and(|m| m.is_default));
    }
    let defaults = fixture
        .db
        .payment_methods(user)
        .await
        .expect("list")
        .into_iter()
        .filter(|m| m.is_default)
        .count();
    assert_eq!(defaults, 1);
}
