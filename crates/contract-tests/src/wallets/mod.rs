//! Wallet scenarios: balanced movements, available funds under concurrency, holds resolved
//! once, the append-only ledger and random interleavings checked by the ledger check.

pub mod append_only;
pub mod concurrency;
pub mod property;

pub use concurrency::{
    hot_merchant_account_stays_exact, opposite_transfers_never_deadlock,
    parallel_debits_never_overdraw, parallel_holds_never_exceed_the_balance,
    racing_captures_and_releases_resolve_a_hold_once,
};
pub use property::random_interleavings_keep_the_ledger_clean;

use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Mutex;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::{EntryType, MovementBuilder, MovementError, WalletAccountId};
use tmcp_domain::{Currency, Money};
use tmcp_repository::{
    ledger_check, LedgerEntry, NewWalletAccount, WalletAccount, WalletError, WalletOwner,
};

pub(crate) fn usd() -> Currency {
    Currency::parse("USD").expect("USD is known")
}

pub(crate) fn money(minor: i64) -> Money {
    Money {
        minor,
        currency: usd(),
    }
}

/// The injected rng of the scenarios: seeded, so a failure replays.
pub(crate) static RNG: std::sync::LazyLock<Mutex<StdRng>> =
    std::sync::LazyLock::new(|| Mutex::new(StdRng::seed_from_u64(0x07e1_1e75)));

pub(crate) fn new_account_id() -> WalletAccountId {
    let mut rng = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    WalletAccountId::generate(&mut *rng)
}

pub(crate) async fn open(fixture: &Fixture, owner: WalletOwner) -> WalletAccount {
    fixture
        .db
        .open_wallet_account(NewWalletAccount {
            id: new_account_id(),
            owner,
            currency: usd(),
            at: fixture.clock.now_for_fixtures(),
        })
        .await
        .expect("account opens")
}

/// A user's wallet.
pub(crate) async fn user_wallet(fixture: &Fixture, name: &str) -> WalletAccount {
    let user = fixtures::user(fixture, name).await;
    open(fixture, WalletOwner::User(user.id)).await
}

/// The clearing account top-ups come from.
pub(crate) async fn clearing(fixture: &Fixture) -> WalletAccount {
    open(fixture, WalletOwner::Clearing).await
}

/// Moves `minor` from `from` to `to` as `entry_type`.
pub(crate) async fn transfer(
    fixture: &Fixture,
    entry_type: EntryType,
    from: &WalletAccountId,
    to: &WalletAccountId,
    minor: i64,
) -> Result<Vec<LedgerEntry>, WalletError> {
    let at = fixture.clock.now_for_fixtures();
    let movement = MovementBuilder::new(entry_type)
        .debit(from.clone(), money(minor))
        .credit(to.clone(), money(minor))
        .build(uuid_v7_at(at))?;
    fixture.db.post_movement(&movement, at).await
}

pub(crate) async fn top_up(fixture: &Fixture, wallet: &WalletAccountId, minor: i64) {
    let clearing = clearing(fixture).await;
    transfer(fixture, EntryType::TopUp, &clearing.id, wallet, minor)
        .await
        .expect("top-up posts");
}

pub(crate) async fn account(fixture: &Fixture, id: &WalletAccountId) -> WalletAccount {
    fixture
        .db
        .wallet_account(id)
        .await
        .expect("account readable")
        .expect("account exists")
}

pub(crate) async fn assert_ledger_clean(fixture: &Fixture) -> tmcp_repository::LedgerReport {
    let report = ledger_check(fixture.db.as_ref())
        .await
        .expect("ledger readable");
    assert!(report.is_clean(), "ledger check: {:#?}", report.findings);
    report
}

pub async fn movements_balance_or_are_refused(fixture: &Fixture) {
    let alice = user_wallet(fixture, "alice").await;
    let bob = user_wallet(fixture, "bob").await;
    // Opening again finds the same wallet.
    let again = open(fixture, alice.owner.clone()).await;
    assert_eq!(again.id, alice.id);

    top_up(fixture, &alice.id, 5000).await;
    let entries = transfer(fixture, EntryType::Transfer, &alice.id, &bob.id, 1200)
        .await
        .expect("transfer posts");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].movement_id, entries[1].movement_id);
    assert_eq!(entries.iter().map(|e| e.amount).sum::<i64>(), 0);

    // Unbalanced legs never leave the builder.
    let at = fixture.clock.now_for_fixtures();
    let unbalanced = MovementBuilder::new(EntryType::Transfer)
        .debit(alice.id.clone(), money(100))
        .credit(bob.id.clone(), money(99))
        .build(uuid_v7_at(at));
    assert_eq!(unbalanced, Err(MovementError::Unbalanced("USD")));

    // More than is available: refused, and nothing of it is written.
    let refused = transfer(fixture, EntryType::Transfer, &alice.id, &bob.id, 3801).await;
    assert!(
        matches!(refused, Err(WalletError::InsufficientFunds(ref id)) if *id == alice.id),
        "{refused:?}"
    );
    // A leg in the wrong currency is refused before anything is written.
    let eur = Money {
        minor: 10,
        currency: Currency::parse("EUR").expect("EUR"),
    };
    let mismatch = MovementBuilder::new(EntryType::Transfer)
        .debit(alice.id.clone(), eur)
        .credit(bob.id.clone(), eur)
        .build(uuid_v7_at(at))
        .expect("balanced in EUR");
    assert!(matches!(
        fixture.db.post_movement(&mismatch, at).await,
        Err(WalletError::CurrencyMismatch)
    ));

    // A hold's money moves only by capturing the hold.
    let capture_by_hand = MovementBuilder::new(EntryType::Payment)
        .debit(alice.id.clone(), money(10))
        .credit(bob.id.clone(), money(10))
        .hold(uuid_v7_at(at))
        .build(uuid_v7_at(at))
        .expect("balanced");
    assert!(matches!(
        fixture.db.post_movement(&capture_by_hand, at).await,
        Err(WalletError::CaptureOutsideHold)
    ));

    let alice_now = account(fixture, &alice.id).await;
    let bob_now = account(fixture, &bob.id).await;
    assert_eq!((alice_now.balance, bob_now.balance), (3800, 1200));
    let balance = fixture
        .db
        .wallet_balance(&alice.id)
        .await
        .expect("balance readable")
        .expect("wallet exists");
    assert_eq!((balance.available.minor, balance.pending.minor), (3800, 0));

    // Entries newest first, paged by seq.
    let first = fixture
        .db
        .wallet_entries(&alice.id, None, 1)
        .await
        .expect("entries");
    assert_eq!(first.entries.len(), 1);
    assert_eq!(
        (first.entries[0].amount, first.entries[0].balance_after),
        (-1200, 3800)
    );
    let rest = fixture
        .db
        .wallet_entries(&alice.id, first.next_before, 10)
        .await
        .expect("entries");
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(
        (rest.entries[0].amount, rest.entries[0].balance_after),
        (5000, 5000)
    );
    assert_eq!(rest.next_before, None);

    let report = assert_ledger_clean(fixture).await;
    assert_eq!((report.movements, report.entries), (2, 4));
}
