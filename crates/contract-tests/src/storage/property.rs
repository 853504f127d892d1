//! The quota invariant as a property: random sequences of puts, deletes, batches, expiries
//! and purges (generated and shrunk by proptest) are mirrored in a model of the live
//! entries. After every step the reported quota equals the model's live entries, the stored
//! quota row equals the stored rows, and the database refuses exactly the writes that would
//! not fit.

use super::{bytes_write, ctx, key};
use crate::{fixtures, Fixture};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use time::{Duration, OffsetDateTime};
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::{AppId, Clock};
use tmcp_repository::{EntryDelete, RepoError, WriteOp};

const LIMITS: QuotaLimits = QuotaLimits {
    total_bytes: 60_000,
    total_keys: 6,
};
const KEYS: u8 = 9;

#[derive(Debug, Clone)]
enum Step {
    Put {
        key: u8,
        size: usize,
        ttl: Option<i64>,
    },
    Delete {
        key: u8,
    },
    BatchSet(Vec<(u8, usize)>),
    BatchDelete(Vec<u8>),
    Advance(i64),
    Purge,
}

fn step() -> impl Strategy<Value = Step> {
    let size = 1..20_000usize;
    prop_oneof![
        4 => (0..KEYS, size.clone(), proptest::option::weighted(0.3, 60..300i64))
            .prop_map(|(key, size, ttl)| Step::Put { key, size, ttl }),
        2 => (0..KEYS).prop_map(|key| Step::Delete { key }),
        2 => proptest::collection::btree_map(0..KEYS, size, 1..5)
            .prop_map(|m| Step::BatchSet(m.into_iter().collect())),
        1 => proptest::collection::btree_set(0..KEYS, 1..4)
            .prop_map(|s| Step::BatchDelete(s.into_iter().collect())),
        1 => (1..200i64).prop_map(Step::Advance),
        1 => Just(Step::Purge),
    ]
}

/// Live entries: key → (size, expiry).
type Model = BTreeMap<u8, (i64, Option<OffsetDateTime>)>;

fn live(model: &Model, now: OffsetDateTime) -> (i64, i64) {
    model
        .values()
        .filter(|(_, expires)| expires.is_none_or(|at| at > now))
        .fold((0, 0), |(bytes, keys), (size, _)| (bytes + size, keys + 1))
}

fn fits(model: &Model, now: OffsetDateTime) -> bool {
    let (bytes, keys) = live(model, now);
    bytes <= LIMITS.total_bytes && keys <= LIMITS.total_keys
}

fn name(k: u8) -> String {
    format!("k{k}")
}

static CASE: AtomicU32 = AtomicU32::new(0);

async fn run_case(fixture: &Fixture, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let case = CASE.fetch_add(1, Ordering::Relaxed);
    let user = fixtures::user(fixture, &format!("prop{case}")).await.id;
    let app = AppId::parse("ma_property").expect("app id");
    let db = &fixture.db;
    let mut model = Model::new();
    for (i, step) in steps.into_iter().enumerate() {
        let now = fixture.clock.now();
        let c = ctx(fixture, LIMITS);
        let mut next = model.clone();
        next.retain(|_, (_, expires)| expires.is_none_or(|at| at > now));
        let result = match &step {
            Step::Put { key: k, size, ttl } => {
                next.insert(*k, (*size as i64, ttl.map(|t| now + Duration::seconds(t))));
                db.put_entry(user, &app, bytes_write(&name(*k), *size, *ttl), &c)
                    .await
                    .map(|_| ())
            }
            Step::Delete { key: k } => {
                next.remove(k);
                db.delete_entry(user, &app, &key(&name(*k)), &c)
                    .await
                    .map(|_| ())
            }
            Step::BatchSet(items) => {
                let ops = items
                    .iter()
                    .map(|(k, size)| {
                        next.insert(*k, (*size as i64, None));
                        WriteOp::Put(bytes_write(&name(*k), *size, None))
                    })
                    .collect();
                db.write_entries(user, &app, ops, &c).await.map(|_| ())
            }
            Step::BatchDelete(keys) => {
                let ops = keys
                    .iter()
                    .map(|k| {
                        next.remove(k);
                        WriteOp::Delete(EntryDelete {
                            key: key(&name(*k)),
                            expected: None,
                        })
                    })
                    .collect();
                db.write_entries(user, &app, ops, &c).await.map(|_| ())
            }
            Step::Advance(seconds) => {
                fixture.clock.advance(Duration::seconds(*seconds));
                Ok(())
            }
            Step::Purge => db.purge_expired(now, 2).await.map(|_| ()),
        };
        match result {
            Ok(()) => {
                prop_assert!(fits(&next, now), "step {i} {step:?} accepted over quota");
                if !matches!(step, Step::Advance(_) | Step::Purge) {
                    model = next;
                }
            }
            Err(RepoError::QuotaExceeded(usage)) => {
                prop_assert!(
                    !fits(&next, now),
                    "step {i} {step:?} refused though it fits"
                );
                let (bytes, keys) = live(&model, now);
                prop_assert_eq!((usage.used_bytes, usage.used_keys), (bytes, keys));
            }
            Err(other) => return Err(TestCaseError::fail(format!("step {i}: {other:?}"))),
        }
        let now = fixture.clock.now();
        let snapshot = db
            .quota(user, &app, &ctx(fixture, LIMITS))
            .await
            .map_err(|e| TestCaseError::fail(format!("quota: {e:?}")))?;
        let (bytes, keys) = live(&model, now);
        prop_assert_eq!(
            (snapshot.usage.used_bytes, snapshot.usage.used_keys),
            (bytes, keys),
            "step {} {:?}: reported usage differs from the live entries",
            i,
            step
        );
        if let Some(row) = db
            .quota_usage(user, &app)
            .await
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?
        {
            let rows = db
                .recount_usage(user, &app)
                .await
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!((row.used_bytes, row.used_keys), rows, "row drifted");
        }
    }
    Ok(())
}

pub async fn random_operations_keep_usage_equal_to_live_entries(fixture: &Fixture) {
    let handle = tokio::runtime::Handle::current();
    let cases = std::env::var("TMCP_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let outcome = tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 200,
            ..Config::default()
        });
        runner.run(&proptest::collection::vec(step(), 1..30), |steps| {
            handle.block_on(run_case(fixture, steps))
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
