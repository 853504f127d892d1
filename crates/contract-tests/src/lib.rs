//! The contract suite: the same scenarios run against every backend. Each scenario takes a
//! fresh, migrated database behind `Arc<dyn Database>` and a manual clock; the test files in
//! `tests/` supply SQLite and PostgreSQL fixtures and instantiate every scenario with
//! [`contract_suite!`].

pub mod accounts;
pub mod analytics;
pub mod app_versions;
pub mod apps_and_views;
pub mod cancellation;
pub mod cluster;
pub mod engines;
pub mod fixtures;
pub mod idempotency;
pub mod isolation;
pub mod oauth;
pub mod payments;
pub mod redis_server;
pub mod s3;
pub mod storage;
pub mod store_search;
pub mod system;
pub mod users;
pub mod wallet_api;
pub mod wallets;
pub mod webhooks;

use std::sync::{Arc, LazyLock};
use time::OffsetDateTime;
use tmcp_domain::ManualClock;
use tmcp_repository::Database;

/// The start time of every scenario: the real time when the test process first asks,
/// truncated to the second. Deriving it from the wall clock keeps the suite passing on any
/// date (outside verifiers such as JWT libraries and the database's own `now()` agree with
/// it); the scenarios then move only the injected clock.
pub static START: LazyLock<OffsetDateTime> = LazyLock::new(|| {
    #[allow(clippy::disallowed_methods)] // the one place tests read the wall clock
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
});

/// A fresh database for one scenario. `_guard` keeps per-test resources (a temporary
/// directory, a throwaway PostgreSQL database) alive until the scenario ends.
pub struct Fixture {
    pub db: Arc<dyn Database>,
    pub clock: ManualClock,
    pub _guard: Box<dyn Send + Sync>,
}

/// Expands to one `#[tokio::test]` per scenario, each built with `$setup().await`.
#[macro_export]
macro_rules! contract_suite {
    ($setup:path) => {
        $crate::contract_suite!(@tests $setup;
            users::create_and_find,
            users::duplicates_conflict_by_constraint,
            users::database_rejects_malformed_email,
            users::phone_is_stored_only_as_ciphertext,
            storage::put_get_delete_and_versions,
            storage::values_round_trip_with_encoding_and_checksum,
            storage::version_preconditions_and_last_write_wins,
            storage::expired_entries_are_invisible_and_purged,
            storage::quota_counts_only_live_entries,
            storage::quota_refuses_bytes_and_keys_atomically,
            storage::configured_limits_apply_when_usage_fits,
            storage::growing_an_entry_past_the_quota_keeps_the_old_value,
            storage::parallel_writers_never_exceed_the_byte_quota,
            storage::parallel_writers_never_exceed_the_key_quota,
            storage::users_and_apps_are_isolated,
            storage::delete_all_for_app_removes_data_and_resets_the_quota,
            storage::batch_set_is_all_or_nothing,
            storage::batch_quota_is_checked_for_the_batch_as_a_whole,
            storage::batch_outcomes_keep_request_order_and_refusals,
            storage::batch_delete_is_atomic_and_reports_each_key,
            storage::listing_is_in_byte_order_with_prefix_and_pages,
            storage::change_feed_reports_sets_and_deletions_in_order,
            storage::expiry_shows_as_a_deletion_in_the_feed,
            storage::purged_tombstones_force_a_resync,
            storage::sync_last_write_wins_and_replays,
            storage::sync_local_and_remote_wins,
            storage::sync_manual_conflicts_wait_for_a_resolution,
            storage::sync_refusals_are_recorded_and_replayed,
            storage::concurrent_pushes_of_one_op_apply_it_once,
            storage::random_operations_keep_usage_equal_to_live_entries,
            apps_and_views::user_summary_is_exact_with_many_joined_rows,
            apps_and_views::app_summary_is_exact_with_many_joined_rows,
            apps_and_views::one_live_installation_and_one_active_review,
            system::migrations_are_recorded,
            system::partition_upkeep_is_idempotent,
            analytics::refused_batches_leave_nothing_and_spare_their_neighbours,
            analytics::dropped_ingests_store_whole_batches_or_nothing,
            analytics::retention_drops_old_raw_events_of_every_app_and_keeps_newer_ones,
            analytics::raw_spans_split_an_hour_and_extra_users_count_once,
            oauth::consents_accumulate_and_withdrawal_kills_tokens_with_an_outbox_row,
            oauth::withdrawal_without_consent_ends_pre_approved_tokens,
            oauth::racing_rotation_and_withdrawal_leave_no_live_refresh_token,
            oauth::codes_are_single_use_and_a_replay_revokes_the_grant,
            oauth::racing_redemptions_of_one_code_have_one_winner,
            oauth::refresh_tokens_rotate_and_reuse_revokes_the_family,
            oauth::racing_refresh_rotations_rotate_once,
            oauth::device_authorizations_poll_slow_down_and_issue_once,
            accounts::sessions_are_found_by_token_hash_until_expiry,
            accounts::refresh_rotates_and_reuse_revokes_the_session,
            accounts::expired_or_revoked_refresh_tokens_are_dead,
            accounts::concurrent_refreshes_rotate_once,
            accounts::sessions_are_listed_and_ended_per_user,
            accounts::devices_are_per_user_and_unique,
            accounts::mfa_methods_drive_mfa_enabled_and_refuse_replays,
            accounts::profiles_update_partially,
            accounts::suspension_changes_status,
            accounts::account_deletion_erases_personal_data_and_keeps_payments,
            wallets::movements_balance_or_are_refused,
            wallets::parallel_debits_never_overdraw,
            wallets::parallel_holds_never_exceed_the_balance,
            wallets::racing_captures_and_releases_resolve_a_hold_once,
            wallets::hot_merchant_account_stays_exact,
            wallets::opposite_transfers_never_deadlock,
            wallets::random_interleavings_keep_the_ledger_clean,
            payments::payments_are_read_only_by_their_owners,
            payments::settlement_moves_money_fee_and_events_once,
            payments::unpaid_payments_fail_cleanly,
            payments::due_requests_expire_once,
            payments::parallel_settlements_never_overdraw,
            payments::racing_requests_with_one_key_create_one_payment,
            payments::random_payment_interleavings_keep_the_ledger_clean,
            idempotency::idempotency_keys_claim_once_and_replay,
            idempotency::racing_claimers_of_one_key_insert_once,
            idempotency::idempotency_purge_is_bounded_and_spares_running_keys,
            wallet_api::payment_methods_are_per_user_with_one_default,
            wallet_api::racing_default_changes_leave_one_default,
            wallet_api::top_ups_begin_once_and_settle_with_their_movement,
            wallet_api::racing_settlements_settle_a_top_up_once,
            wallet_api::user_entries_page_newest_first_and_only_own,
            webhooks::webhook_endpoints_store_rotate_and_disable,
            webhooks::due_events_are_claimed_once_under_a_lease,
            webhooks::outcomes_are_logged_and_schedule_the_next_attempt,
            webhooks::dead_letters_can_be_requeued,
            webhooks::racing_claimers_never_share_an_event,
            webhooks::finished_events_past_retention_are_purged,
            app_versions::versions_round_trip_and_list_newest_first,
            app_versions::pending_versions_are_replaced_until_submitted,
            app_versions::published_packages_join_the_published_version,
            app_versions::versions_refuse_unknown_apps,
            store_search::exact_names_rank_first_in_any_script,
            store_search::word_order_typos_and_prefixes_find_apps,
            store_search::filters_and_unlisted_apps,
            store_search::pages_never_repeat_or_skip,
            store_search::refresh_orders_popular_by_the_blend,
            store_search::broad_queries_rank_a_window_and_page_stably,
            store_search::listing_edits_and_status_changes_reach_search,
        );
    };
    (@tests $setup:path; $($module:ident :: $name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let fixture = $setup().await;
                $crate::$module::$name(&fixture).await;
            }
        )+
    };
}
