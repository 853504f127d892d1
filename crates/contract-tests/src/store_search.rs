//! Store browse and search on every engine, against golden queries over a seeded catalogue
//! of realistic apps (Latin, Cyrillic and CJK names; shared words such as "pro", "app" and
//! "photo"): exact names rank first, word order does not matter, typos within the budget
//! are corrected, the last word matches as a prefix, pages never repeat or skip an app,
//! the ranking refresh orders "popular" by its blend, and only listed apps ever show.

use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use serde_json::json;
use std::collections::HashSet;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::store::AppStatus;
use tmcp_domain::Clock;
use tmcp_repository::store_search::ranking;
use tmcp_repository::{
    AppListing, AuditEntry, CatalogueQuery, CatalogueSort, NewRegistration, ReviewWrite,
    StatusChange, StoreApp, StoreEvent, User,
};
use tmcp_usecases::store::search::{self, SearchInput, SearchResult};
use tmcp_usecases::store::search_cache::SearchCache;
use tmcp_usecases::store::StoreSettings;

/// (app id, name, short description, category, classification).
pub const CATALOGUE: &[(&str, &str, &str, &str, &str)] = &[
    (
        "ma_calc_plus",
        "Calculator Plus",
        "Scientific calculator with history",
        "tools",
        "official",
    ),
    (
        "ma_calc_pro",
        "Calculator Pro",
        "Graphing and unit conversion",
        "tools",
        "verified",
    ),
    (
        "ma_photo_editor",
        "Photo Editor",
        "Crop, filters and retouch",
        "photo",
        "verified",
    ),
    (
        "ma_photo_editor_pro",
        "Photo Editor Pro",
        "Layers, masks and RAW photo support",
        "photo",
        "community",
    ),
    (
        "ma_photo_book",
        "Photo Book",
        "Print albums of your photo library",
        "photo",
        "community",
    ),
    (
        "ma_photo_collage",
        "Photo Collage",
        "Grids and frames for photo stories",
        "photo",
        "beta",
    ),
    (
        "ma_pro_camera",
        "Pro Camera",
        "Manual focus, exposure and RAW capture",
        "photo",
        "verified",
    ),
    (
        "ma_camera_app",
        "Camera App",
        "A simple camera for quick snaps",
        "photo",
        "community",
    ),
    (
        "ma_weather_now",
        "Weather Now",
        "Forecasts and rain radar",
        "weather",
        "official",
    ),
    (
        "ma_weather_pro",
        "Weather Pro",
        "Hourly forecasts for pilots and sailors",
        "weather",
        "verified",
    ),
    (
        "ma_quick_notes",
        "Quick Notes",
        "Jot things down in a second",
        "productivity",
        "community",
    ),
    (
        "ma_notes_app",
        "Notes App",
        "Notebooks, tags and sync",
        "productivity",
        "verified",
    ),
    (
        "ma_todo_pro",
        "Todo List Pro",
        "Tasks, reminders and projects",
        "productivity",
        "community",
    ),
    (
        "ma_budget",
        "Budget Planner",
        "Plan monthly spending",
        "finance",
        "verified",
    ),
    (
        "ma_expense",
        "Expense Tracker",
        "Receipts and spending reports",
        "finance",
        "community",
    ),
    (
        "ma_fitness",
        "Fitness Coach",
        "Workouts planned for you",
        "health",
        "verified",
    ),
    (
        "ma_yoga",
        "Yoga Daily",
        "A short yoga session every day",
        "health",
        "community",
    ),
    (
        "ma_meditation",
        "Meditation & Sleep",
        "Calm sounds and guided meditation",
        "health",
        "beta",
    ),
    (
        "ma_recipes",
        "Recipe Book",
        "Cook from your saved recipes",
        "food",
        "community",
    ),
    (
        "ma_food_delivery",
        "Food Delivery",
        "Order from restaurants nearby",
        "food",
        "official",
    ),
    (
        "ma_translator",
        "Translator Pro",
        "Translate text, voice and photo",
        "education",
        "verified",
    ),
    (
        "ma_dictionary",
        "Dictionary App",
        "Definitions offline",
        "education",
        "community",
    ),
    (
        "ma_language",
        "Language Learning",
        "Daily lessons in 30 languages",
        "education",
        "verified",
    ),
    (
        "ma_kids_math",
        "Kids Math",
        "Counting games for children",
        "education",
        "community",
    ),
    (
        "ma_city_maps",
        "City Maps",
        "Offline maps and transit",
        "travel",
        "official",
    ),
    (
        "ma_taxi",
        "Taxi Ride",
        "Book a ride in seconds",
        "travel",
        "verified",
    ),
    (
        "ma_parking",
        "Parking Finder",
        "Free spots near you",
        "travel",
        "beta",
    ),
    (
        "ma_chess",
        "Chess Master",
        "Play and learn chess",
        "games",
        "verified",
    ),
    (
        "ma_sudoku",
        "Sudoku Puzzle",
        "Thousands of sudoku grids",
        "games",
        "community",
    ),
    (
        "ma_crossword",
        "Crossword Puzzle",
        "A new crossword every day",
        "games",
        "community",
    ),
    (
        "ma_music",
        "Music Player",
        "Your music library everywhere",
        "music",
        "verified",
    ),
    (
        "ma_podcast",
        "Podcast Player",
        "Subscribe and listen offline",
        "music",
        "community",
    ),
    (
        "ma_video",
        "Video Editor",
        "Cut and share clips",
        "photo",
        "community",
    ),
    (
        "ma_scanner",
        "Document Scanner",
        "Scan paper to PDF",
        "tools",
        "verified",
    ),
    (
        "ma_pdf",
        "PDF Reader",
        "Read and annotate documents",
        "tools",
        "community",
    ),
    (
        "ma_crypto",
        "Crypto Wallet",
        "Keep your coins safe",
        "finance",
        "beta",
    ),
    (
        "ma_banking",
        "Mobile Banking",
        "Your bank in your pocket",
        "finance",
        "official",
    ),
    (
        "ma_flashlight",
        "Flashlight",
        "The brightest torch",
        "tools",
        "community",
    ),
    (
        "ma_alarm",
        "Alarm Clock",
        "Wake up gently",
        "tools",
        "community",
    ),
    (
        "ma_pomodoro",
        "Pomodoro Timer",
        "Focus in 25 minute blocks",
        "productivity",
        "community",
    ),
    (
        "ma_calendar",
        "Calendar Pro",
        "Events, invites and time zones",
        "productivity",
        "verified",
    ),
    (
        "ma_news",
        "Daily News",
        "Headlines from trusted sources",
        "news",
        "official",
    ),
    (
        "ma_app_locker",
        "App Locker",
        "Lock any app with a PIN",
        "tools",
        "community",
    ),
    (
        "ma_cleaner",
        "Phone Cleaner",
        "Free up storage",
        "tools",
        "beta",
    ),
    (
        "ma_karta",
        "Карта Города",
        "Карта города с транспортом",
        "travel",
        "verified",
    ),
    (
        "ma_pogoda",
        "Погода Про",
        "Прогноз погоды на неделю",
        "weather",
        "community",
    ),
    (
        "ma_kalkulyator",
        "Калькулятор",
        "Простой калькулятор",
        "tools",
        "community",
    ),
    ("ma_tenki", "天気予報", "毎日の天気", "weather", "verified"),
    (
        "ma_shashin",
        "写真エディター",
        "写真を編集",
        "photo",
        "community",
    ),
    ("ma_ditu", "地图导航", "城市地图", "travel", "community"),
];

/// Apps registered but never listed: (app id, name, final status).
const UNLISTED: &[(&str, &str, AppStatus)] = &[
    ("ma_hidden_pending", "Calculator Hidden", AppStatus::Pending),
    ("ma_hidden_rejected", "Photo Secret", AppStatus::Rejected),
    ("ma_hidden_deprecated", "Weather Old", AppStatus::Deprecated),
    ("ma_hidden_removed", "Notes Removed", AppStatus::Removed),
];

fn audit(fixture: &Fixture, app_id: &str, action: &str) -> AuditEntry {
    let at = fixture.clock.now_for_fixtures();
    AuditEntry {
        id: uuid_v7_at(at),
        actor_id: None,
        app_id: Some(app_id.to_owned()),
        action: action.to_owned(),
        detail: json!({}),
        created_at: at,
    }
}

async fn register(
    fixture: &Fixture,
    dev: &User,
    (app_id, name, short, category, classification): (&str, &str, &str, &str, &str),
) {
    let at = fixture.clock.now_for_fixtures();
    let app = StoreApp {
        app_id: app_id.to_owned(),
        listing: AppListing {
            name: name.to_owned(),
            short_description: Some(short.to_owned()),
            description: Some(format!(
                "{name}: a mini-app for the super app. {short}. Works offline."
            )),
            category: Some(category.to_owned()),
            website: None,
            support_email: None,
            developer: json!({"company_name": "Example Studio"}),
            technical: json!({}),
            branding: json!({"icon_url": format!("https://cdn.example.com/{app_id}.png")}),
        },
        version: "0.0.0".into(),
        classification: classification.to_owned(),
        developer_id: dev.id,
        developer_name: "Example Studio".into(),
        status: AppStatus::Pending,
        featured: false,
        mandatory: false,
        rejection_reason: None,
        submitted_at: Some(at),
        published_at: None,
        created_at: at,
        updated_at: at,
    };
    fixture
        .db
        .register_app(NewRegistration {
            app,
            clients: Vec::new(),
            webhook: None,
            audit: audit(fixture, app_id, "register"),
        })
        .await
        .expect("registered");
}

/// Moves an app from one status to another straight through the repository (seeding and tests).
pub async fn change(fixture: &Fixture, app_id: &str, from: AppStatus, to: AppStatus) {
    let at = fixture.clock.now_for_fixtures();
    let approve = to == AppStatus::Active;
    let changed = fixture
        .db
        .change_status(StatusChange {
            app_id: app_id.to_owned(),
            from,
            to,
            version: approve.then(|| "1.0.0".to_owned()),
            rejection_reason: (to == AppStatus::Rejected).then(|| Some("incomplete".to_owned())),
            submitted_at: None,
            published_at: approve.then_some(at),
            at,
            audit: audit(fixture, app_id, to.as_db()),
            outbox: None,
        })
        .await
        .expect("status changed");
    assert!(changed, "{app_id}: {from:?} → {to:?}");
}

/// Registers and lists the whole catalogue, and the unlisted apps in their states.
pub async fn seed_catalogue(fixture: &Fixture) -> User {
    let dev = fixtures::user(fixture, "catalogue_dev").await;
    for entry in CATALOGUE {
        register(fixture, &dev, *entry).await;
        change(fixture, entry.0, AppStatus::Pending, AppStatus::Active).await;
    }
    for (app_id, name, status) in UNLISTED {
        register(
            fixture,
            &dev,
            (app_id, name, "Hidden", "tools", "community"),
        )
        .await;
        match status {
            AppStatus::Pending => {}
            AppStatus::Rejected | AppStatus::Removed => {
                change(fixture, app_id, AppStatus::Pending, *status).await;
            }
            _ => {
                change(fixture, app_id, AppStatus::Pending, AppStatus::Active).await;
                change(fixture, app_id, AppStatus::Active, *status).await;
            }
        }
    }
    dev
}

async fn find(fixture: &Fixture, input: SearchInput) -> SearchResult {
    let answer = search::search_apps(
        fixture.db.as_ref(),
        &StoreSettings::default(),
        &SearchCache::disabled(),
        fixture.clock.now(),
        input,
    )
    .await
    .expect("search runs");
    SearchResult::clone(&answer)
}

async fn query(fixture: &Fixture, q: &str) -> SearchResult {
    find(
        fixture,
        SearchInput {
            q: Some(q.to_owned()),
            ..SearchInput::default()
        },
    )
    .await
}

fn ids(result: &SearchResult) -> Vec<&str> {
    result.apps.iter().map(|a| a.app_id.as_str()).collect()
}

async fn assert_first(fixture: &Fixture, q: &str, app_id: &str) {
    let result = query(fixture, q).await;
    assert_eq!(
        ids(&result).first().copied(),
        Some(app_id),
        "{q:?} should rank {app_id} first: {:?}",
        ids(&result)
    );
}

pub async fn exact_names_rank_first_in_any_script(fixture: &Fixture) {
    seed_catalogue(fixture).await;
    for (app_id, name, ..) in CATALOGUE {
        assert_first(fixture, name, app_id).await;
        assert_first(fixture, &name.to_lowercase(), app_id).await;
    }
    assert_first(fixture, "  карта   города ", "ma_karta").await;
    assert_first(fixture, "ПОГОДА ПРО", "ma_pogoda").await;
    // "photo editor" is a prefix of "Photo Editor Pro": the exact name still wins.
    let result = query(fixture, "photo editor").await;
    assert_eq!(
        &ids(&result)[..2],
        ["ma_photo_editor", "ma_photo_editor_pro"]
    );
    // A listing shows what the registration said.
    let app = &result.apps[0];
    assert_eq!(app.name, "Photo Editor");
    assert_eq!(app.category.as_deref(), Some("photo"));
    assert_eq!(app.classification, "verified");
    assert_eq!(app.version, "1.0.0");
    assert_eq!(
        app.icon_url.as_deref(),
        Some("https://cdn.example.com/ma_photo_editor.png")
    );
    assert!(app.published_at.is_some());
}

pub async fn word_order_typos_and_prefixes_find_apps(fixture: &Fixture) {
    seed_catalogue(fixture).await;
    // Word order does not matter.
    for (app_id, name, ..) in CATALOGUE {
        let words: Vec<&str> = name.split_whitespace().collect();
        if words.len() < 2 {
            continue;
        }
        let reversed: Vec<&str> = words.iter().rev().copied().collect();
        let result = query(fixture, &reversed.join(" ")).await;
        assert!(
            ids(&result).contains(app_id),
            "{:?} should find {app_id}: {:?}",
            reversed.join(" "),
            ids(&result)
        );
    }
    assert_first(fixture, "plus calculator", "ma_calc_plus").await;
    assert_first(fixture, "puzzle sudoku", "ma_sudoku").await;
    assert_first(fixture, "города карта", "ma_karta").await;

    // One typo in a word of 5 to 8 letters, anywhere in the query.
    for (q, app_id) in [
        ("wether now", "ma_weather_now"),
        ("sudoku puzzel", "ma_sudoku"),
        ("podcsat player", "ma_podcast"),
        ("mobile banknig", "ma_banking"),
        ("flashlihgt", "ma_flashlight"),
        ("калькулятр", "ma_kalkulyator"),
    ] {
        let result = query(fixture, q).await;
        assert!(result.corrected, "{q:?} needed a correction");
        assert_eq!(
            ids(&result).first().copied(),
            Some(app_id),
            "{q:?}: {:?}",
            ids(&result)
        );
    }
    // Two typos in a word of 9 or more letters.
    for (q, app_id) in [
        ("transaltro pro", "ma_translator"),
        ("dictoinray app", "ma_dictionary"),
        ("calcualtro plus", "ma_calc_plus"),
    ] {
        let result = query(fixture, q).await;
        assert_eq!(
            ids(&result).first().copied(),
            Some(app_id),
            "{q:?}: {:?}",
            ids(&result)
        );
    }
    // Beyond the budget nothing is invented: two typos in a 6-letter word, one in a 4-letter one.
    assert_eq!(query(fixture, "wetehr now").await.total, 0);
    assert_eq!(query(fixture, "chss").await.total, 0);

    // The last word matches as a prefix.
    let result = query(fixture, "calcu").await;
    let found: HashSet<&str> = ids(&result).into_iter().collect();
    assert_eq!(
        found,
        HashSet::from(["ma_calc_plus", "ma_calc_pro"]),
        "calcu finds both calculators"
    );
    assert_first(fixture, "calculator pl", "ma_calc_plus").await;
    assert_first(fixture, "калькул", "ma_kalkulyator").await;
    assert_first(fixture, "天気", "ma_tenki").await;

    // Name outweighs description: every app's description says "mini-app", but "app" in a
    // name ranks that app above those that only describe themselves with it.
    let result = query(fixture, "app").await;
    assert_eq!(
        result.total,
        CATALOGUE.len() as i64,
        "every description holds the word"
    );
    let named: HashSet<&str> = [
        "ma_camera_app",
        "ma_notes_app",
        "ma_dictionary",
        "ma_app_locker",
    ]
    .into_iter()
    .collect();
    let top: HashSet<&str> = ids(&result)[..4].iter().copied().collect();
    assert_eq!(top, named);

    // Typo candidates come from the vocabulary of names.
    let candidates = fixture
        .db
        .term_candidates("calculater", 50)
        .await
        .expect("candidates");
    assert!(
        candidates.contains(&"calculator".to_owned()),
        "{candidates:?}"
    );
    assert!(!candidates.contains(&"secret".to_owned()));
}

pub async fn filters_and_unlisted_apps(fixture: &Fixture) {
    seed_catalogue(fixture).await;
    let unlisted: HashSet<&str> = UNLISTED.iter().map(|u| u.0).collect();
    for (_, name, _) in UNLISTED {
        let result = query(fixture, name).await;
        assert!(
            ids(&result).iter().all(|id| !unlisted.contains(id)),
            "{name:?}: {:?}",
            ids(&result)
        );
    }
    let browse = find(
        fixture,
        SearchInput {
            limit: Some(100),
            ..SearchInput::default()
        },
    )
    .await;
    assert_eq!(browse.total, CATALOGUE.len() as i64);
    assert_eq!(browse.apps.len(), CATALOGUE.len());
    assert!(ids(&browse).iter().all(|id| !unlisted.contains(id)));

    let weather = find(
        fixture,
        SearchInput {
            category: Some("weather".into()),
            limit: Some(100),
            ..SearchInput::default()
        },
    )
    .await;
    let found: HashSet<&str> = ids(&weather).into_iter().collect();
    assert_eq!(
        found,
        HashSet::from(["ma_weather_now", "ma_weather_pro", "ma_pogoda", "ma_tenki"])
    );
    let official_pro = find(
        fixture,
        SearchInput {
            q: Some("weather".into()),
            classification: Some("official".into()),
            ..SearchInput::default()
        },
    )
    .await;
    assert_eq!(ids(&official_pro), ["ma_weather_now"]);
    assert_eq!(official_pro.total, 1);

    // Featured: listed featured apps only.
    for app_id in ["ma_chess", "ma_hidden_deprecated"] {
        let at = fixture.clock.now_for_fixtures();
        let set = fixture
            .db
            .set_flags(
                app_id,
                Some(true),
                None,
                None,
                at,
                audit(fixture, app_id, "feature"),
            )
            .await
            .expect("flag set");
        assert!(set);
    }
    let featured = search::featured(fixture.db.as_ref(), &StoreSettings::default(), None)
        .await
        .expect("featured");
    let featured: Vec<&str> = featured.iter().map(|a| a.app_id.as_str()).collect();
    assert_eq!(featured, ["ma_chess"]);
    // A page past the end is empty but still counts the matches.
    let far = find(
        fixture,
        SearchInput {
            q: Some("photo".into()),
            offset: Some(500),
            ..SearchInput::default()
        },
    )
    .await;
    assert!(far.apps.is_empty());
    assert!(far.total >= 5, "{}", far.total);
}

async fn walk(fixture: &Fixture, q: Option<&str>, sort: Option<&str>) {
    let all = find(
        fixture,
        SearchInput {
            q: q.map(str::to_owned),
            sort: sort.map(str::to_owned),
            limit: Some(100),
            ..SearchInput::default()
        },
    )
    .await;
    assert!(all.total > 14, "{q:?} {sort:?} matches enough to page");
    let mut paged: Vec<String> = Vec::new();
    let mut offset = 0;
    loop {
        let page = find(
            fixture,
            SearchInput {
                q: q.map(str::to_owned),
                sort: sort.map(str::to_owned),
                limit: Some(7),
                offset: Some(offset),
                ..SearchInput::default()
            },
        )
        .await;
        assert_eq!(page.total, all.total, "{q:?} {sort:?}: total is stable");
        if page.apps.is_empty() {
            break;
        }
        assert!(page.apps.len() <= 7);
        paged.extend(page.apps.iter().map(|a| a.app_id.clone()));
        offset += 7;
    }
    let whole: Vec<String> = all.apps.iter().map(|a| a.app_id.clone()).collect();
    assert_eq!(paged, whole, "{q:?} {sort:?}: pages repeat or skip apps");
    let distinct: HashSet<&String> = paged.iter().collect();
    assert_eq!(distinct.len(), paged.len());
}

pub async fn pages_never_repeat_or_skip(fixture: &Fixture) {
    seed_catalogue(fixture).await;
    // Ties everywhere: nothing installed or rated, so popularity and rating are equal for
    // most apps and only app_id orders them.
    fixture
        .db
        .refresh_rankings(fixture.clock.now())
        .await
        .expect("rankings");
    for sort in [
        None,
        Some("popular"),
        Some("recent"),
        Some("rating"),
        Some("name"),
    ] {
        walk(fixture, None, sort).await;
        walk(fixture, Some("app"), sort).await;
    }
    walk(fixture, Some("mini"), None).await;
    // Popularities that differ between apps of equal text rank: SQLite reads the ranked
    // order from the index's popularity steps and joins only the rows tied with a page's
    // last one; pages must still follow the exact order.
    let installer = fixtures::user(fixture, "pages_installer").await;
    for app in CATALOGUE.iter().step_by(3) {
        install(fixture, &installer, app.0).await;
    }
    fixture
        .db
        .refresh_rankings(fixture.clock.now())
        .await
        .expect("rankings");
    walk(fixture, Some("app"), None).await;
    walk(fixture, Some("mini"), None).await;
}

async fn install(fixture: &Fixture, user: &User, app_id: &str) {
    let at = fixture.clock.now_for_fixtures();
    fixture
        .db
        .install_app(
            user.id,
            app_id,
            "1.0.0",
            at,
            StoreEvent {
                event_id: uuid_v7_at(at),
                event_type: "installed",
                data: json!({"version": "1.0.0", "source": "store"}),
            },
        )
        .await
        .expect("installed");
}

async fn review(fixture: &Fixture, user: &User, app_id: &str, rating: i32) {
    let at = fixture.clock.now_for_fixtures();
    fixture
        .db
        .write_review(ReviewWrite {
            app_id: app_id.to_owned(),
            user_id: user.id,
            version: Some("1.0.0".into()),
            rating,
            title: None,
            comment: None,
            at,
        })
        .await
        .expect("reviewed");
}

fn ranked_query(category: &str, sort: CatalogueSort) -> CatalogueQuery {
    CatalogueQuery {
        words: Vec::new(),
        exact: None,
        corrections: Vec::new(),
        category: Some(category.to_owned()),
        classification: None,
        sort,
        limit: 10,
        offset: 0,
        window: 1_000,
    }
}

pub async fn refresh_orders_popular_by_the_blend(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "ranking_dev").await;
    for (app_id, name) in [
        ("ma_rank_installed", "Installed A Lot"),
        ("ma_rank_loved", "Loved By Few"),
        ("ma_rank_new", "Brand New"),
        ("ma_rank_old", "Long Forgotten"),
    ] {
        register(
            fixture,
            &dev,
            (app_id, name, "Ranking", "ranking", "community"),
        )
        .await;
        change(fixture, app_id, AppStatus::Pending, AppStatus::Active).await;
    }
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(fixtures::user(fixture, &format!("ranker_{i}")).await);
    }
    for user in &users {
        install(fixture, user, "ma_rank_installed").await;
    }
    for user in &users[..2] {
        install(fixture, user, "ma_rank_loved").await;
        review(fixture, user, "ma_rank_loved", 5).await;
    }
    review(fixture, &users[2], "ma_rank_installed", 2).await;
    // Not refreshed yet: every app still has the registration's zeros.
    let before = fixture
        .db
        .search_apps(&ranked_query("ranking", CatalogueSort::Popular))
        .await
        .expect("browse");
    assert!(before.apps.iter().all(|a| a.install_count == 0));

    // Sixty days on, "Fresh Release" is published; the others' boost has faded to a quarter.
    fixture.clock.advance(time::Duration::days(60));
    register(
        fixture,
        &dev,
        (
            "ma_rank_fresh",
            "Fresh Release",
            "Ranking",
            "ranking",
            "community",
        ),
    )
    .await;
    change(
        fixture,
        "ma_rank_fresh",
        AppStatus::Pending,
        AppStatus::Active,
    )
    .await;
    let now = fixture.clock.now();
    let updated = fixture.db.refresh_rankings(now).await.expect("refresh");
    assert!(updated >= 5, "every ranking app changed: {updated}");
    assert_eq!(
        fixture.db.refresh_rankings(now).await.expect("again"),
        0,
        "nothing changed since"
    );

    // The blend, from the same inputs: 3 ratings in all (5, 5, 2) make the prior 4.
    let prior = 12.0 / 3.0;
    let faded = Some(60.0);
    let installed = ranking::popularity(6, 0, ranking::bayesian_mean(1, 2.0, prior), faded);
    let loved = ranking::popularity(2, 0, ranking::bayesian_mean(2, 10.0, prior), faded);
    let fresh = ranking::popularity(0, 0, 0.0, Some(0.0));
    let old = ranking::popularity(0, 0, 0.0, faded);
    // Installs sixty days old are outside the 30-day window: no active users.
    let mut expected = [
        ("ma_rank_installed", installed),
        ("ma_rank_loved", loved),
        ("ma_rank_fresh", fresh),
        ("ma_rank_old", old),
        ("ma_rank_new", old),
    ];
    expected.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let popular = fixture
        .db
        .search_apps(&ranked_query("ranking", CatalogueSort::Popular))
        .await
        .expect("browse");
    let order: Vec<&str> = popular.apps.iter().map(|a| a.app_id.as_str()).collect();
    let expected_order: Vec<&str> = expected.iter().map(|e| e.0).collect();
    assert_eq!(
        order, expected_order,
        "popular follows the blend {expected:?}"
    );
    let by_id = |id: &str| {
        popular
            .apps
            .iter()
            .find(|a| a.app_id == id)
            .expect("listed")
            .clone()
    };
    let most = by_id("ma_rank_installed");
    assert_eq!((most.install_count, most.rating_count), (6, 1));
    assert!((most.rating_mean - ranking::bayesian_mean(1, 2.0, prior)).abs() < 1e-9);
    let loved_app = by_id("ma_rank_loved");
    assert_eq!((loved_app.install_count, loved_app.rating_count), (2, 2));
    assert!((loved_app.rating_mean - (10.0 * prior + 10.0) / 12.0).abs() < 1e-9);
    assert_eq!(
        by_id("ma_rank_new").rating_mean,
        0.0,
        "unrated apps have no mean"
    );

    let rated = fixture
        .db
        .search_apps(&ranked_query("ranking", CatalogueSort::Rating))
        .await
        .expect("browse");
    assert_eq!(rated.apps[0].app_id, "ma_rank_loved");
    assert_eq!(rated.apps[1].app_id, "ma_rank_installed");

    // Recent use inside the window counts as active: a fresh install does.
    let late = fixtures::user(fixture, "late_ranker").await;
    install(fixture, &late, "ma_rank_old").await;
    let later = fixture.clock.now();
    fixture.db.refresh_rankings(later).await.expect("refresh");
    let popular = fixture
        .db
        .search_apps(&ranked_query("ranking", CatalogueSort::Popular))
        .await
        .expect("browse");
    let old_app = popular
        .apps
        .iter()
        .find(|a| a.app_id == "ma_rank_old")
        .expect("listed");
    assert_eq!(old_app.install_count, 1);
    let position = |id: &str| popular.apps.iter().position(|a| a.app_id == id);
    assert!(
        position("ma_rank_old") < position("ma_rank_new"),
        "one active user lifts it over its twin"
    );
}

async fn broad(fixture: &Fixture, q: &str, window: i64, limit: i64, offset: i64) -> Vec<String> {
    let input = SearchInput {
        q: Some(q.to_owned()),
        limit: Some(limit),
        offset: Some(offset),
        ..SearchInput::default()
    };
    let mut query = search::build_query(&StoreSettings::default(), &input).expect("valid");
    query.window = window;
    let page = fixture.db.search_apps(&query).await.expect("search");
    assert_eq!(page.total, window, "{q:?}: the count stops at the window");
    page.apps.into_iter().map(|a| a.app_id).collect()
}

pub async fn broad_queries_rank_a_window_and_page_stably(fixture: &Fixture) {
    seed_catalogue(fixture).await;
    fixture
        .db
        .refresh_rankings(fixture.clock.now())
        .await
        .expect("rankings");
    let by_popularity: Vec<String> = find(
        fixture,
        SearchInput {
            sort: Some("popular".into()),
            limit: Some(100),
            ..SearchInput::default()
        },
    )
    .await
    .apps
    .into_iter()
    .map(|a| a.app_id)
    .collect();
    // "app" matches every app (descriptions say "mini-app"): with a window of 5, the five
    // most popular are ranked by text, the rest follow by popularity.
    let whole = broad(fixture, "app", 5, 100, 0).await;
    assert_eq!(whole.len(), CATALOGUE.len());
    let head: HashSet<&String> = whole[..5].iter().collect();
    let popular_head: HashSet<&String> = by_popularity[..5].iter().collect();
    assert_eq!(head, popular_head);
    assert_eq!(whole[5..], by_popularity[5..]);
    let mut paged = Vec::new();
    for offset in (0..56).step_by(7) {
        paged.extend(broad(fixture, "app", 5, 7, offset).await);
    }
    assert_eq!(paged, whole, "pages repeat or skip apps");
    // The exact name still comes first, wherever its popularity puts it.
    let exact = broad(fixture, "notes app", 1, 10, 0).await;
    assert_eq!(exact.first().map(String::as_str), Some("ma_notes_app"));
    assert!(exact.contains(&"ma_quick_notes".to_owned()));
}

/// A listing edit and a status change show in search at once: the engines keep their search
/// structures (PostgreSQL's `app_search_rows`, SQLite's `apps_fts`) in the transaction that
/// changes the app.
pub async fn listing_edits_and_status_changes_reach_search(fixture: &Fixture) {
    seed_catalogue(fixture).await;
    let before = query(fixture, "Calculator Plus").await;
    assert_eq!(ids(&before).first(), Some(&"ma_calc_plus"));
    let app = fixture
        .db
        .find_store_app("ma_calc_plus")
        .await
        .expect("app read")
        .expect("app exists");
    let mut listing = app.listing.clone();
    listing.name = "Abacus Quantum".to_owned();
    listing.category = Some("games".to_owned());
    let at = fixture.clock.now_for_fixtures();
    let edited = fixture
        .db
        .update_listing(
            "ma_calc_plus",
            &listing,
            at,
            audit(fixture, "ma_calc_plus", "edit"),
        )
        .await
        .expect("listing updated");
    assert!(edited);
    let renamed = query(fixture, "abacus quantum").await;
    assert_eq!(ids(&renamed).first(), Some(&"ma_calc_plus"));
    assert_eq!(renamed.apps[0].name, "Abacus Quantum");
    let in_games = find(
        fixture,
        SearchInput {
            q: Some("abacus".into()),
            category: Some("games".into()),
            ..SearchInput::default()
        },
    )
    .await;
    assert_eq!(ids(&in_games), ["ma_calc_plus"]);

    change(
        fixture,
        "ma_calc_plus",
        AppStatus::Active,
        AppStatus::Deprecated,
    )
    .await;
    let gone = query(fixture, "abacus quantum").await;
    assert!(ids(&gone).is_empty(), "{:?}", ids(&gone));
    assert_eq!(gone.total, 0);
}
