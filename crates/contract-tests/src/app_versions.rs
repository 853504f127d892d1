//! Versions and their package rows: one row per (app, version), replaceable only while it is
//! pending and was never submitted; status changes check the old status.

use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use time::Duration;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::store::{AppStatus, VersionStatus};
use tmcp_repository::{RepoError, StoredVersion};

fn upload(fixture: &Fixture, app: &str, version: &str, key: &str) -> StoredVersion {
    let at = fixture.clock.now_for_fixtures();
    StoredVersion {
        id: uuid_v7_at(at),
        app_id: app.to_owned(),
        version: version.to_owned(),
        release_notes: Some(format!("notes of {version}")),
        download_url: Some(format!(
            "/api/v1/store/apps/{app}/versions/{version}/package"
        )),
        package_size: Some(1234),
        checksum: Some("ab".repeat(32)),
        object_key: Some(key.to_owned()),
        min_os_version: Some("14.0".into()),
        status: VersionStatus::Pending,
        submitted_at: None,
        created_at: at,
    }
}

pub async fn versions_round_trip_and_list_newest_first(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "developer").await;
    fixtures::app(fixture, "ma_versions", &dev).await;

    let first = upload(fixture, "ma_versions", "1.0.0", "k1");
    assert_eq!(
        fixture.db.put_version(first.clone()).await.expect("put"),
        None
    );
    fixture.clock.advance(Duration::seconds(1));
    let second = upload(fixture, "ma_versions", "1.1.0", "k2");
    fixture.db.put_version(second.clone()).await.expect("put");

    let found = fixture
        .db
        .find_version("ma_versions", "1.0.0")
        .await
        .expect("read")
        .expect("row");
    assert_eq!(found, first);
    assert_eq!(
        fixture
            .db
            .find_version("ma_versions", "9.9.9")
            .await
            .expect("read"),
        None
    );
    let listed = fixture.db.versions("ma_versions").await.expect("list");
    assert_eq!(listed, vec![second, first]);
    assert!(fixture
        .db
        .versions("ma_other")
        .await
        .expect("list")
        .is_empty());
}

pub async fn pending_versions_are_replaced_until_submitted(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "developer").await;
    fixtures::app(fixture, "ma_replace", &dev).await;

    fixture
        .db
        .put_version(upload(fixture, "ma_replace", "2.0.0", "old"))
        .await
        .expect("put");
    fixture.clock.advance(Duration::seconds(1));
    let newer = upload(fixture, "ma_replace", "2.0.0", "new");
    assert_eq!(
        fixture
            .db
            .put_version(newer.clone())
            .await
            .expect("replace"),
        Some("old".to_owned()),
        "the replaced object's key comes back for deletion"
    );
    let row = fixture
        .db
        .find_version("ma_replace", "2.0.0")
        .await
        .expect("read")
        .expect("row");
    assert_eq!(row, newer);
    assert_eq!(
        fixture.db.versions("ma_replace").await.expect("list").len(),
        1
    );

    let at = fixture.clock.now_for_fixtures();
    assert!(fixture
        .db
        .submit_version("ma_replace", "2.0.0", at)
        .await
        .expect("submit"));
    assert!(
        !fixture
            .db
            .submit_version("ma_replace", "2.0.0", at)
            .await
            .expect("submit again"),
        "a submitted version is not submitted twice"
    );
    let refused = fixture
        .db
        .put_version(upload(fixture, "ma_replace", "2.0.0", "third"))
        .await;
    assert!(
        matches!(refused, Err(RepoError::Conflict { ref constraint }) if constraint == "idx_app_versions_unique"),
        "{refused:?}"
    );
    let kept = fixture
        .db
        .find_version("ma_replace", "2.0.0")
        .await
        .expect("read")
        .expect("row");
    assert_eq!(kept.object_key.as_deref(), Some("new"));
    assert_eq!(kept.submitted_at, Some(at));
    assert_eq!(
        fixture
            .db
            .submitted_version("ma_replace")
            .await
            .expect("read")
            .map(|v| v.version),
        Some("2.0.0".to_owned())
    );

    // An approved version is immutable too, submitted or not.
    fixture
        .db
        .put_version(upload(fixture, "ma_replace", "2.1.0", "k"))
        .await
        .expect("put");
    assert!(fixture
        .db
        .set_version_status(
            "ma_replace",
            "2.1.0",
            VersionStatus::Pending,
            VersionStatus::Active
        )
        .await
        .expect("status"));
    assert!(
        !fixture
            .db
            .set_version_status(
                "ma_replace",
                "2.1.0",
                VersionStatus::Pending,
                VersionStatus::Removed
            )
            .await
            .expect("status"),
        "the old status is checked"
    );
    assert!(matches!(
        fixture
            .db
            .put_version(upload(fixture, "ma_replace", "2.1.0", "again"))
            .await,
        Err(RepoError::Conflict { .. })
    ));
}

pub async fn published_packages_join_the_published_version(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "developer").await;
    // Fixture apps are active at 1.0.0.
    fixtures::app(fixture, "ma_with_package", &dev).await;
    fixtures::app(fixture, "ma_without_package", &dev).await;
    fixture
        .db
        .put_version(upload(fixture, "ma_with_package", "1.0.0", "k"))
        .await
        .expect("put");
    fixture
        .db
        .put_version(upload(fixture, "ma_with_package", "1.1.0", "k2"))
        .await
        .expect("put");

    let ids = [
        "ma_with_package".to_owned(),
        "ma_without_package".to_owned(),
        "ma_unknown".to_owned(),
    ];
    let found = fixture.db.published_packages(&ids).await.expect("read");
    assert_eq!(found.len(), 2, "unknown ids are left out");
    let with = found
        .iter()
        .find(|p| p.app_id == "ma_with_package")
        .expect("listed");
    assert_eq!(with.status, AppStatus::Active);
    assert_eq!(with.developer_id, dev.id);
    assert_eq!(with.version, "1.0.0");
    assert_eq!(
        with.package.as_ref().map(|v| v.version.as_str()),
        Some("1.0.0"),
        "the published version's row, not the newest upload"
    );
    let without = found
        .iter()
        .find(|p| p.app_id == "ma_without_package")
        .expect("listed");
    assert_eq!(without.package, None);
    assert!(fixture
        .db
        .published_packages(&[])
        .await
        .expect("read")
        .is_empty());
}

pub async fn versions_refuse_unknown_apps(fixture: &Fixture) {
    let refused = fixture
        .db
        .put_version(upload(fixture, "ma_missing", "1.0.0", "k"))
        .await;
    assert!(
        matches!(refused, Err(RepoError::Constraint { .. })),
        "{refused:?}"
    );
}
