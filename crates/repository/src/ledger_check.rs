//! The ledger check: re-derives every invariant of the wallet tables from one consistent
//! snapshot, independently of the code that wrote them. A clean report means the books
//! balance; each finding names what is wrong where. Meant for tests and for an operator's
//! periodic audit (it reads the whole ledger).

use crate::wallets::{LedgerRepository, LedgerSnapshot, WalletResult};
use std::collections::{BTreeMap, BTreeSet};
use tmcp_domain::wallet::{AccountKind, EntryType, HoldState};
use uuid::Uuid;

/// What the check found; `findings` is empty when every invariant holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerReport {
    pub accounts: usize,
    pub movements: usize,
    pub entries: usize,
    pub holds: usize,
    pub findings: Vec<String>,
}

impl LedgerReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Reads a snapshot and checks it.
pub async fn ledger_check(ledger: &dyn LedgerRepository) -> WalletResult<LedgerReport> {
    Ok(check_snapshot(&ledger.ledger_snapshot().await?))
}

/// Checks: every movement sums to zero per currency; refunds never exceed what their
/// payment captured, each refund one movement to one user wallet; each account's entries, in seq order,
/// chain `balance_after` exactly from zero to its balance; each account's `held` is the sum
/// of its open holds and never exceeds its balance; each hold is resolved at most once (a
/// captured hold has exactly one capture movement, other holds none); no user wallet is
/// negative.
pub fn check_snapshot(snapshot: &LedgerSnapshot) -> LedgerReport {
    let mut findings = Vec::new();
    let currency_of: BTreeMap<&str, &'static str> = snapshot
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a.currency.code()))
        .collect();

    let mut movements: BTreeMap<Uuid, BTreeMap<&'static str, i64>> = BTreeMap::new();
    let mut by_account: BTreeMap<&str, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for entry in &snapshot.entries {
        let Some(code) = currency_of.get(entry.account_id.as_str()) else {
            findings.push(format!("entry on unknown account {}", entry.account_id));
            continue;
        };
        *movements
            .entry(entry.movement_id)
            .or_default()
            .entry(code)
            .or_insert(0) += entry.amount;
        by_account
            .entry(entry.account_id.as_str())
            .or_default()
            .push((entry.seq, entry.amount, entry.balance_after));
    }
    for (movement, sums) in &movements {
        for (code, sum) in sums {
            if *sum != 0 {
                findings.push(format!("movement {movement} sums to {sum} {code}"));
            }
        }
    }

    let mut open_held: BTreeMap<&str, i64> = BTreeMap::new();
    for hold in &snapshot.holds {
        if hold.state == HoldState::Held {
            *open_held.entry(hold.account_id.as_str()).or_insert(0) += hold.amount;
        }
    }

    for account in &snapshot.accounts {
        let id = account.id.as_str();
        let mut legs = by_account.remove(id).unwrap_or_default();
        legs.sort_by_key(|(seq, _, _)| *seq);
        let mut running = 0i64;
        let mut last_seq = 0i64;
        for (seq, amount, balance_after) in legs {
            if seq == last_seq {
                findings.push(format!("{id}: two entries with seq {seq}"));
            }
            last_seq = seq;
            running = running.saturating_add(amount);
            if balance_after != running {
                findings.push(format!(
                    "{id}: entry {seq} says balance {balance_after}, the entries sum to {running}"
                ));
            }
        }
        if running != account.balance {
            findings.push(format!(
                "{id}: balance {} but its entries sum to {running}",
                account.balance
            ));
        }
        if last_seq > account.version {
            findings.push(format!(
                "{id}: entry {last_seq} beyond version {}",
                account.version
            ));
        }
        let held = open_held.get(id).copied().unwrap_or(0);
        if account.held != held {
            findings.push(format!(
                "{id}: held {} but open holds sum to {held}",
                account.held
            ));
        }
        if account.held < 0 || (account.held > 0 && account.held > account.balance) {
            findings.push(format!(
                "{id}: held {} not covered by balance {}",
                account.held, account.balance
            ));
        }
        if account.owner.kind() == AccountKind::User && account.balance < 0 {
            findings.push(format!("{id}: user wallet at {}", account.balance));
        }
    }
    for id in by_account.keys() {
        findings.push(format!("entries on unknown account {id}"));
    }

    let mut capture_movements: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    for entry in &snapshot.entries {
        if let Some(hold) = entry.hold_id {
            capture_movements
                .entry(hold)
                .or_default()
                .insert(entry.movement_id);
        }
    }
    for hold in &snapshot.holds {
        let posted = capture_movements.remove(&hold.id).unwrap_or_default();
        let expected: BTreeSet<Uuid> = match (hold.state, hold.capture_movement_id) {
            (HoldState::Captured, Some(movement)) => [movement].into(),
            (HoldState::Captured, None) => {
                findings.push(format!("hold {} captured without a movement", hold.id));
                BTreeSet::new()
            }
            _ => BTreeSet::new(),
        };
        if posted != expected {
            findings.push(format!(
                "hold {} ({:?}) has capture movements {posted:?}",
                hold.id, hold.state
            ));
        }
        if (hold.state == HoldState::Held) != hold.resolved_at.is_none() {
            findings.push(format!("hold {} state and resolved_at disagree", hold.id));
        }
    }
    for hold in capture_movements.keys() {
        findings.push(format!("entries capture unknown hold {hold}"));
    }
    check_refunds(snapshot, &mut findings);

    LedgerReport {
        accounts: snapshot.accounts.len(),
        movements: movements.len(),
        entries: snapshot.entries.len(),
        holds: snapshot.holds.len(),
        findings,
    }
}

/// Refunds against payments, from the entries alone: per payment, what its refunds gave the
/// user back never exceeds what its payment movements took from the user (refunds ≤
/// captured); each refund is exactly one movement, which credits one user wallet with the
/// refund's whole amount (its other legs are the merchant's and the platform's debits).
fn check_refunds(snapshot: &LedgerSnapshot, findings: &mut Vec<String>) {
    let user_accounts: BTreeSet<&str> = snapshot
        .accounts
        .iter()
        .filter(|a| a.owner.kind() == AccountKind::User)
        .map(|a| a.id.as_str())
        .collect();
    let mut captured: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut refunded: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut refund_legs: BTreeMap<Uuid, (BTreeSet<Uuid>, i64, i64, usize)> = BTreeMap::new();
    for entry in &snapshot.entries {
        let on_user = user_accounts.contains(entry.account_id.as_str());
        if let Some(refund) = entry.refund_id {
            let legs = refund_legs.entry(refund).or_default();
            legs.0.insert(entry.movement_id);
            if on_user {
                legs.1 += entry.amount;
                legs.3 += 1;
            } else {
                legs.2 -= entry.amount;
            }
        }
        let (Some(payment), true) = (entry.payment_id, on_user) else {
            continue;
        };
        match entry.entry_type {
            EntryType::Payment => *captured.entry(payment.0).or_insert(0) -= entry.amount,
            EntryType::Refund => *refunded.entry(payment.0).or_insert(0) += entry.amount,
            _ => {}
        }
    }
    for (payment, back) in &refunded {
        let paid = captured.get(payment).copied().unwrap_or(0);
        if *back > paid {
            findings.push(format!(
                "payment {payment}: refunds of {back} exceed the {paid} captured"
            ));
        }
    }
    for (refund, (movements, to_user, from_others, user_legs)) in &refund_legs {
        if movements.len() != 1 {
            findings.push(format!(
                "refund {refund} posted by {} movements",
                movements.len()
            ));
        }
        if *user_legs != 1 || *to_user <= 0 || to_user != from_others {
            findings.push(format!(
                "refund {refund}: credits users {to_user} in {user_legs} legs for {from_others} debited"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallets::{Hold, LedgerEntry, WalletAccount, WalletOwner};
    use time::macros::datetime;
    use tmcp_domain::wallet::{EntryType, WalletAccountId};
    use tmcp_domain::{Currency, UserId};

    const AT: time::OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    fn id(n: u8) -> WalletAccountId {
        WalletAccountId::parse(&format!("tw_{}", format!("{n:02x}").repeat(16))).expect("valid id")
    }

    fn account(n: u8, owner: WalletOwner, balance: i64, held: i64, version: i64) -> WalletAccount {
        WalletAccount {
            id: id(n),
            owner,
            currency: Currency::parse("USD").expect("USD"),
            balance,
            held,
            version,
            created_at: AT,
            updated_at: AT,
        }
    }

    fn entry(n: u8, seq: i64, movement: u128, amount: i64, balance_after: i64) -> LedgerEntry {
        LedgerEntry {
            account_id: id(n),
            seq,
            movement_id: Uuid::from_u128(movement),
            amount,
            balance_after,
            entry_type: EntryType::Transfer,
            payment_id: None,
            refund_id: None,
            hold_id: None,
            created_at: AT,
        }
    }

    /// Clearing (1) tops up a user (2) with 500; the user holds 200 of it, then pays 100
    /// of it out to a second user (3) in a capture of a second, smaller hold.
    fn clean() -> LedgerSnapshot {
        let user = WalletOwner::User(UserId(Uuid::from_u128(9)));
        let other = WalletOwner::User(UserId(Uuid::from_u128(8)));
        let mut capture = entry(2, 3, 2, -100, 400);
        capture.hold_id = Some(Uuid::from_u128(21));
        let mut credit = entry(3, 1, 2, 100, 100);
        credit.hold_id = Some(Uuid::from_u128(21));
        let hold = |n: u128, amount, state, movement: Option<u128>| Hold {
            id: Uuid::from_u128(n),
            account_id: id(2),
            amount,
            payment_id: None,
            state,
            capture_movement_id: movement.map(Uuid::from_u128),
            created_at: AT,
            resolved_at: (state != HoldState::Held).then_some(AT),
        };
        LedgerSnapshot {
            accounts: vec![
                account(1, WalletOwner::Clearing, -500, 0, 1),
                account(2, user, 400, 200, 4),
                account(3, other, 100, 0, 1),
            ],
            entries: vec![
                entry(1, 1, 1, -500, -500),
                entry(2, 1, 1, 500, 500),
                capture,
                credit,
            ],
            holds: vec![
                hold(20, 200, HoldState::Held, None),
                hold(21, 100, HoldState::Captured, Some(2)),
            ],
        }
    }

    #[test]
    fn a_consistent_ledger_is_clean() {
        let report = check_snapshot(&clean());
        assert!(report.is_clean(), "{:?}", report.findings);
        assert_eq!((report.movements, report.entries, report.holds), (2, 4, 2));
    }

    #[test]
    fn each_broken_invariant_is_reported() {
        type Breakage = fn(&mut LedgerSnapshot);
        let broken: [(&str, Breakage); 7] = [
            ("sums to", |s| s.entries[1].amount = 499),
            ("says balance", |s| s.entries[2].balance_after = 401),
            ("entries sum to", |s| s.accounts[1].balance = 450),
            ("open holds sum to", |s| s.accounts[1].held = 300),
            // A second movement claiming to capture the same hold.
            ("capture movements", |s| {
                s.entries[0].hold_id = Some(Uuid::from_u128(21))
            }),
            ("user wallet at", |s| {
                s.accounts[2].balance = -100;
                s.entries[3].amount = -100;
                s.entries[3].balance_after = -100;
                s.entries[2].amount = 100;
                s.entries[2].balance_after = 600;
                s.accounts[1].balance = 600;
            }),
            ("resolved_at disagree", |s| {
                s.holds[0].resolved_at = Some(AT)
            }),
        ];
        for (finding, break_it) in broken {
            let mut snapshot = clean();
            break_it(&mut snapshot);
            let report = check_snapshot(&snapshot);
            assert!(
                report.findings.iter().any(|f| f.contains(finding)),
                "expected {finding:?} in {:?}",
                report.findings
            );
        }
    }

    #[test]
    fn refunds_above_the_captured_amount_are_reported() {
        use tmcp_domain::PaymentId;
        // User 2 pays 100 to merchant 3, then gets 100 back in a
        // refund: clean. A second refund of 1 exceeds the captured amount.
        let mut snapshot = clean();
        snapshot.accounts[2].owner =
            WalletOwner::Merchant(tmcp_domain::AppId::parse("ma_shop").expect("app id"));
        let payment = PaymentId(Uuid::from_u128(77));
        for e in snapshot
            .entries
            .iter_mut()
            .filter(|e| e.movement_id == Uuid::from_u128(2))
        {
            e.entry_type = EntryType::Payment;
            e.payment_id = Some(payment);
        }
        let refund = |n: u8, seq, movement, amount, after, refund_id: u128| {
            let mut e = entry(n, seq, movement, amount, after);
            e.entry_type = EntryType::Refund;
            e.payment_id = Some(payment);
            e.refund_id = Some(Uuid::from_u128(refund_id));
            e
        };
        snapshot.entries.push(refund(3, 2, 3, -100, 0, 31));
        snapshot.entries.push(refund(2, 5, 3, 100, 500, 31));
        snapshot.accounts[1].balance = 500;
        snapshot.accounts[1].version = 5;
        snapshot.accounts[2].balance = 0;
        snapshot.accounts[2].version = 2;
        let report = check_snapshot(&snapshot);
        assert!(report.is_clean(), "{:?}", report.findings);

        let mut over = snapshot.clone();
        over.accounts[0].balance = -501;
        over.accounts[0].version = 2;
        over.accounts[1].balance = 501;
        over.accounts[1].version = 6;
        let mut from_clearing = entry(1, 2, 4, -1, -501);
        from_clearing.entry_type = EntryType::Refund;
        from_clearing.refund_id = Some(Uuid::from_u128(32));
        over.entries.push(from_clearing);
        over.entries.push(refund(2, 6, 4, 1, 501, 32));
        let report = check_snapshot(&over);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.contains("exceed the 100 captured")),
            "{:?}",
            report.findings
        );
    }
}
