use crate::Fixture;
use time::Duration;

pub async fn migrations_are_recorded(fixture: &Fixture) {
    fixture.db.ping().await.expect("database answers");
    let applied = fixture
        .db
        .applied_migrations()
        .await
        .expect("schema_migrations readable");
    assert!(
        applied
            .iter()
            .any(|(version, description)| version == "0001" && !description.is_empty()),
        "{applied:?}"
    );
}

pub async fn partition_upkeep_is_idempotent(fixture: &Fixture) {
    let far = fixture.clock_now() + Duration::days(400);
    let first = fixture
        .db
        .ensure_partitions(far, 2)
        .await
        .expect("partitions created");
    let again = fixture
        .db
        .ensure_partitions(far, 2)
        .await
        .expect("second run works");
    assert_eq!(again, 0, "a second run creates nothing");
    if fixture.db.engine() == "postgres" {
        assert!(first > 0, "months a year ahead did not exist yet");
    } else {
        assert_eq!(first, 0, "SQLite has no partitions");
    }
}

impl Fixture {
    pub fn clock_now(&self) -> time::OffsetDateTime {
        use tmcp_domain::Clock;
        self.clock.now()
    }
}
