//! A user's reads: their accounts, and their entries across currencies newest first in pages,
//! filtered by currency; never another user's.

use crate::fixtures::{self, FixtureClock};
use crate::wallets::new_account_id;
use crate::Fixture;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::{EntryType, MovementBuilder, WalletAccountId};
use tmcp_domain::{Currency, Money, UserId};
use tmcp_repository::{NewWalletAccount, WalletOwner};

async fn account(fixture: &Fixture, owner: WalletOwner, code: &str) -> WalletAccountId {
    fixture
        .db
        .open_wallet_account(NewWalletAccount {
            id: new_account_id(),
            owner,
            currency: Currency::parse(code).expect("known"),
            at: fixture.clock.now_for_fixtures(),
        })
        .await
        .expect("opens")
        .id
}

async fn fund(fixture: &Fixture, user: UserId, code: &str, minor: i64) {
    let clearing = account(fixture, WalletOwner::Clearing, code).await;
    let wallet = account(fixture, WalletOwner::User(user), code).await;
    let currency = Currency::parse(code).expect("known");
    let amount = Money { minor, currency };
    let at = fixture.clock.now_for_fixtures();
    let movement = MovementBuilder::new(EntryType::TopUp)
        .debit(clearing, amount)
        .credit(wallet, amount)
        .build(uuid_v7_at(at))
        .expect("balanced");
    fixture
        .db
        .post_movement(&movement, at)
        .await
        .expect("posts");
}

pub async fn user_entries_page_newest_first_and_only_own(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "rd_alice").await.id;
    let bob = fixtures::user(fixture, "rd_bob").await.id;
    for (i, code) in ["USD", "EUR", "USD", "JPY", "USD"].iter().enumerate() {
        fund(fixture, alice, code, 100 + i64::try_from(i).unwrap_or(0)).await;
    }
    fund(fixture, bob, "USD", 999).await;

    let accounts = fixture
        .db
        .user_wallet_accounts(alice)
        .await
        .expect("accounts");
    let codes: Vec<&str> = accounts.iter().map(|a| a.currency.code()).collect();
    assert_eq!(
        codes,
        ["USD", "EUR", "JPY"],
        "oldest first, one per currency"
    );
    assert!(accounts.iter().all(|a| a.owner == WalletOwner::User(alice)));

    // Two pages of two, then the last one; amounts newest first: 104, 103, 102, 101, 100.
    let mut amounts = Vec::new();
    let mut cursor = None;
    for _ in 0..3 {
        let page = fixture
            .db
            .user_wallet_entries(alice, None, cursor.as_ref(), 2)
            .await
            .expect("page");
        amounts.extend(page.entries.iter().map(|e| e.entry.amount));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(amounts, [104, 103, 102, 101, 100]);
    let usd = fixture
        .db
        .user_wallet_entries(alice, Some(Currency::parse("USD").expect("USD")), None, 10)
        .await
        .expect("page");
    let usd: Vec<(i64, &str)> = usd
        .entries
        .iter()
        .map(|e| (e.entry.amount, e.currency.code()))
        .collect();
    assert_eq!(usd, [(104, "USD"), (102, "USD"), (100, "USD")]);
    let bobs = fixture
        .db
        .user_wallet_entries(bob, None, None, 10)
        .await
        .expect("page");
    assert_eq!(bobs.entries.len(), 1);
    assert_eq!(bobs.entries[0].entry.amount, 999);
    assert_eq!(bobs.next, None);
}
