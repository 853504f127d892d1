//! Bench helper for the store search rows of `bench/run.sh`, not part of the server binary.
//! Fills the configured database with `count` listed apps through the store repository
//! (registration, then approval), so the full-text document, the FTS tables and the typo
//! vocabulary (`app_search_terms`) are exactly what real registrations leave. Names and
//! descriptions are drawn (deterministically) from word lists with a few very common
//! words ("app", "pro", "photo", "lite", …), a share of Cyrillic and Japanese names, and
//! publication dates spread over two years; the ranking refresh then runs once. Prints a
//! TEP on stdout for the search requests. Idempotent: apps already there are skipped.
//!
//!     TMCP_DATA_DIR=… cargo run --release --example bench_catalogue <count>

use anyhow::Context;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::store::AppStatus;
use tmcp_domain::user::Role;
use tmcp_domain::{Clock, SystemClock, UserId};
use tmcp_http::auth::TepMint;
use tmcp_http::AppState;
use tmcp_repository::{
    AppListing, AuditEntry, NewRegistration, NewUser, OAuthClient, StatusChange, StoreApp,
};
use tmcp_server::config::Config;

const DEVELOPER: &str = "bench_catalogue_dev";
const READER: &str = "bench_catalogue_reader";
const CLIENT: &str = "ma_bench_cat_0";
/// Parallel registration tasks (each holds at most one database connection at a time).
const TASKS: usize = 8;

const COMMON: &[&str] = &["app", "pro", "photo", "lite", "plus", "free", "mini", "go"];
const ADJECTIVES: &[&str] = &[
    "quick", "smart", "daily", "simple", "super", "happy", "easy", "tiny", "magic", "bright",
    "swift", "secure", "clever", "cosmic", "urban", "green", "golden", "silent", "wild", "pocket",
    "family", "global", "local", "instant", "modern", "classic", "ultra", "zen", "royal", "lucky",
];
const NOUNS: &[&str] = &[
    "editor",
    "camera",
    "weather",
    "notes",
    "calculator",
    "translator",
    "scanner",
    "player",
    "planner",
    "tracker",
    "wallet",
    "browser",
    "keyboard",
    "launcher",
    "recorder",
    "reader",
    "timer",
    "calendar",
    "compass",
    "dictionary",
    "fitness",
    "recipes",
    "music",
    "podcast",
    "video",
    "maps",
    "taxi",
    "delivery",
    "chess",
    "sudoku",
    "puzzle",
    "budget",
    "expense",
    "banking",
    "news",
    "radio",
    "flashlight",
    "alarm",
    "meditation",
    "yoga",
    "language",
    "quiz",
    "stickers",
    "wallpaper",
    "cleaner",
    "backup",
    "vpn",
    "chat",
    "mail",
    "parking",
];
const TAILS: &[&str] = &[
    "studio", "hub", "box", "master", "buddy", "center", "kit", "lab", "world", "zone",
];
const CYRILLIC: &[&str] = &[
    "карта",
    "погода",
    "фото",
    "музыка",
    "новости",
    "такси",
    "калькулятор",
    "заметки",
    "переводчик",
    "банк",
];
const JAPANESE: &[&str] = &[
    "天気予報",
    "写真",
    "地図",
    "音楽",
    "ニュース",
    "カメラ",
    "辞書",
    "家計簿",
    "翻訳",
    "時計",
];
const FILLER: &[&str] = &[
    "the",
    "best",
    "way",
    "to",
    "manage",
    "your",
    "everyday",
    "life",
    "with",
    "fast",
    "offline",
    "support",
    "and",
    "sync",
    "across",
    "devices",
    "for",
    "friends",
    "work",
    "travel",
    "fun",
    "share",
    "save",
    "time",
    "beautiful",
    "design",
    "privacy",
    "first",
    "no",
    "ads",
];
const CATEGORIES: &[&str] = &[
    "tools",
    "photo",
    "weather",
    "productivity",
    "finance",
    "health",
    "food",
    "education",
    "travel",
    "games",
    "music",
    "news",
];
const CLASSIFICATIONS: &[&str] = &["official", "verified", "community", "beta"];

/// A small deterministic generator (SplitMix64): the same catalogue on every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        let len = u64::try_from(list.len()).unwrap_or(1);
        list[usize::try_from(self.next() % len).unwrap_or(0)]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// App `index`'s name, short description, description, category and classification.
fn listing(index: usize) -> (String, String, String, &'static str, &'static str) {
    let mut draw = Draw(u64::try_from(index).unwrap_or(0).wrapping_mul(7919));
    let mut words: Vec<String> = Vec::new();
    if draw.chance(6) {
        words.push(draw.pick(CYRILLIC).to_owned());
        words.push(draw.pick(CYRILLIC).to_owned());
    } else if draw.chance(4) {
        words.push(draw.pick(JAPANESE).to_owned());
    } else {
        if draw.chance(50) {
            words.push(title(draw.pick(ADJECTIVES)));
        }
        if draw.chance(8) {
            words.push("Photo".into());
        }
        words.push(title(draw.pick(NOUNS)));
        if draw.chance(35) {
            words.push(title(draw.pick(TAILS)));
        }
        if draw.chance(45) {
            words.push(title(draw.pick(COMMON)));
        }
    }
    // Names repeat at this scale; a number keeps every name distinct, as stores require.
    words.push(format!("{index}"));
    let name = words.join(" ");
    let short: Vec<&str> = (0..6).map(|_| draw.pick(FILLER)).collect();
    let mut long: Vec<&str> = (0..24).map(|_| draw.pick(FILLER)).collect();
    long.push(draw.pick(NOUNS));
    long.push(draw.pick(COMMON));
    long.push("mini-app");
    let category = draw.pick(CATEGORIES);
    let classification = draw.pick(CLASSIFICATIONS);
    (
        name,
        format!("{} {}", short.join(" "), draw.pick(NOUNS)),
        long.join(" "),
        category,
        classification,
    )
}

fn app_id(index: usize) -> String {
    format!("ma_bench_cat_{index}")
}

fn audit(at: OffsetDateTime, app_id: &str, action: &str) -> AuditEntry {
    AuditEntry {
        id: uuid_v7_at(at),
        actor_id: None,
        app_id: Some(app_id.to_owned()),
        action: action.to_owned(),
        detail: serde_json::json!({"bench": true}),
        created_at: at,
    }
}

async fn user(state: &AppState, username: &str, role: Role) -> anyhow::Result<UserId> {
    let db = state.db.as_ref();
    if let Some(found) = db.find_user_by_login(username).await? {
        return Ok(found.id);
    }
    let now = SystemClock.now();
    let created = db
        .create_user(NewUser {
            id: UserId::new_v7(now),
            email: format!("{username}@example.com"),
            username: username.to_owned(),
            password_hash: "!bench".into(),
            first_name: None,
            last_name: None,
            phone_ciphertext: None,
            role,
            created_at: now,
        })
        .await?;
    Ok(created.id)
}

async fn register(state: &AppState, index: usize, developer: UserId) -> anyhow::Result<()> {
    let db = state.db.as_ref();
    let id = app_id(index);
    if db.find_store_app(&id).await?.is_some() {
        return Ok(());
    }
    let now = SystemClock.now();
    let (name, short, description, category, classification) = listing(index);
    let app = StoreApp {
        app_id: id.clone(),
        listing: AppListing {
            name,
            short_description: Some(short),
            description: Some(description),
            category: Some(category.to_owned()),
            website: None,
            support_email: None,
            developer: serde_json::json!({"company_name": "Bench Studio"}),
            technical: serde_json::json!({}),
            branding: serde_json::json!({"icon_url": format!("https://cdn.example.com/{id}.png")}),
        },
        version: "0.0.0".into(),
        classification: classification.to_owned(),
        developer_id: developer,
        developer_name: "Bench Studio".into(),
        status: AppStatus::Pending,
        featured: index.is_multiple_of(500),
        mandatory: false,
        rejection_reason: None,
        submitted_at: Some(now),
        published_at: None,
        created_at: now,
        updated_at: now,
    };
    db.register_app(NewRegistration {
        app,
        clients: Vec::new(),
        webhook: None,
        audit: audit(now, &id, "register"),
    })
    .await?;
    let days = i64::try_from(index.wrapping_mul(2_654_435_761) % 730).unwrap_or(0);
    db.change_status(StatusChange {
        app_id: id.clone(),
        from: AppStatus::Pending,
        to: AppStatus::Active,
        version: Some("1.0.0".into()),
        rejection_reason: None,
        submitted_at: None,
        published_at: Some(now - Duration::days(days)),
        at: now,
        audit: audit(now, &id, "approve"),
        outbox: None,
    })
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = std::env::var_os("TMCP_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    let count: usize = std::env::args()
        .nth(1)
        .context("usage: bench_catalogue <count>")?
        .parse()?;
    anyhow::ensure!(count > 0, "count must be positive");
    let state = tmcp_server::serve::build_state(&config, Arc::new(SystemClock)).await?;
    let developer = user(&state, DEVELOPER, Role::Developer).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let state = state.clone();
        tasks.spawn(async move {
            for index in (task..count).step_by(TASKS) {
                register(&state, index, developer).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    let refreshed = state.db.refresh_rankings(SystemClock.now()).await?;
    eprintln!("catalogue of {count} apps ready ({refreshed} rankings refreshed)");

    let reader = user(&state, READER, Role::User).await?;
    if state.db.find_client(CLIENT).await?.is_none() {
        state
            .db
            .create_client(OAuthClient {
                client_id: CLIENT.into(),
                client_secret_hash: None,
                app_id: Some(CLIENT.into()),
                name: "Bench catalogue reader".into(),
                redirect_uris: vec!["https://bench.invalid/cb".into()],
                grant_types: vec!["authorization_code".into()],
                scopes: vec!["user:read".into()],
                is_official: false,
                is_active: true,
                created_at: SystemClock.now(),
            })
            .await?;
    }
    let minted = state
        .tep
        .mint(
            state.db.as_ref(),
            SystemClock.now(),
            TepMint {
                user_id: Some(reader),
                client_id: CLIENT.into(),
                scopes: ScopeSet::parse("user:read").context("scopes")?,
                session_id: None,
                lifetime: None,
                user_context: None,
                miniapp_context: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("minting failed: {}", e.message))?;
    println!("{}", minted.token);
    Ok(())
}
