//! Versions and packages over HTTP on both engines with a local package directory, and on
//! SQLite with the S3 test bucket (moto in the suite): streamed uploads with their checksum
//! and size, the size limit and dropped uploads (nothing left in storage, unfinished
//! uploads included), immutability once submitted, who may upload and download, verified
//! downloads with ETag, ranges and If-None-Match, the integrity check on a damaged object,
//! and update checks.

use crate::support::package_objects::{PackageObjects, UNFINISHED};
use crate::support::{on_both_engines, seed, Env, Reply, PASSWORD, PUBLIC};
use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, StatusCode};
use futures::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tmcp_contract_tests::Fixture;
use tmcp_domain::store::VersionStatus;
use tmcp_domain::user::Role;
use tmcp_domain::{AppId, Clock, UserId};
use tmcp_repository::NewApp;
use tmcp_usecases::accounts::{create_account, NewAccount};

const APP: &str = "ma_pkg_app";
const BOUNDARY: &str = "tmcp-test-boundary-7c1f";

struct Store {
    env: Env,
    /// The package store of this test's state.
    objects: PackageObjects,
    /// The app's developer's session.
    dev: String,
    /// Another developer's session.
    other_dev: String,
    dev_id: UserId,
}

async fn developer(env: &Env, name: &str) -> (UserId, String) {
    let account = create_account(
        env.state.account_ports(),
        NewAccount {
            username: name.into(),
            email: format!("{name}@example.com"),
            password: PASSWORD.into(),
            first_name: None,
            last_name: None,
            phone: None,
            role: Role::Developer,
        },
    )
    .await
    .expect("developer");
    let login = env
        .json(
            "/api/v1/auth/login",
            json!({"login": name, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let token = login.json()["session_token"]
        .as_str()
        .expect("session token")
        .to_owned();
    (account.id, token)
}

async fn app(env: &Env, id: &str, developer: UserId, version: &str) {
    env.fixture
        .db
        .create_app(NewApp {
            app_id: AppId::parse(id).expect("app id"),
            name: format!("App {id}"),
            version: version.into(),
            classification: "community".into(),
            developer_id: developer,
            developer_name: "dev".into(),
            status: "active".into(),
            created_at: env.fixture.clock.now(),
        })
        .await
        .expect("app");
}

async fn setup(fixture: Fixture) -> Store {
    setup_on(fixture, PackageObjects::local()).await
}

async fn setup_on(fixture: Fixture, objects: PackageObjects) -> Store {
    let mut env = Env::new(fixture).await;
    env.state.packages = objects.store();
    let (dev_id, dev) = developer(&env, "pkg_dev").await;
    let (_, other_dev) = developer(&env, "pkg_other").await;
    app(&env, APP, dev_id, "0.0.0").await;
    Store {
        env,
        objects,
        dev,
        other_dev,
        dev_id,
    }
}

fn multipart(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        if *name == "package" {
            body.extend_from_slice(
                b"Content-Disposition: form-data; name=\"package\"; filename=\"app.pkg\"\r\n\
                  Content-Type: application/octet-stream\r\n\r\n",
            );
        } else {
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn package(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

impl Store {
    async fn upload_parts(
        &self,
        app_id: &str,
        token: &str,
        parts: &[(&str, &[u8])],
        announce_length: bool,
    ) -> Reply {
        let body = multipart(parts);
        let mut request = Request::post(format!("/api/v1/developer/apps/{app_id}/versions"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            );
        if announce_length {
            request = request.header(header::CONTENT_LENGTH, body.len());
        }
        self.env
            .send(request.body(Body::from(body)).expect("request"))
            .await
    }

    async fn upload(&self, version: &str, bytes: &[u8]) -> Reply {
        self.upload_parts(
            APP,
            &self.dev,
            &[
                ("version", version.as_bytes()),
                ("release_notes", b"Faster start"),
                ("package", bytes),
            ],
            false,
        )
        .await
    }

    async fn get(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.env
            .send(request.body(Body::empty()).expect("request"))
            .await
    }

    async fn download(&self, version: &str, token: &str, headers: &[(&str, &str)]) -> Reply {
        self.get(
            &format!("/api/v1/store/apps/{APP}/versions/{version}/package"),
            token,
            headers,
        )
        .await
    }

    async fn set_status(&self, version: &str, from: VersionStatus, to: VersionStatus) {
        assert!(self
            .env
            .fixture
            .db
            .set_version_status(APP, version, from, to)
            .await
            .expect("status"));
    }
}

fn code(reply: &Reply) -> String {
    reply.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn upload_records_checksum_and_size_and_download_returns_the_bytes(store: Store) {
    // Past the global 10 MiB body limit, within the 20 MiB package limit.
    let bytes = package(11 * 1024 * 1024 + 7, 3);
    let uploaded = store.upload("1.0.0", &bytes).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.text());
    let body = uploaded.json();
    let hex = sha256_hex(&bytes);
    assert_eq!(body["version"], "1.0.0");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["package_size"], bytes.len());
    assert_eq!(body["checksum"], format!("sha256:{hex}"));
    assert_eq!(body["release_notes"], "Faster start");
    let url = body["download_url"]
        .as_str()
        .expect("download url")
        .to_owned();
    assert_eq!(
        url,
        format!("/api/v1/store/apps/{APP}/versions/1.0.0/package")
    );
    assert!(body["created_at"].is_string());
    let stored = store.objects.held().await;
    assert_eq!(stored.len(), 1, "one object: {stored:?}");
    assert!(
        stored[0].starts_with(&format!("apps/{APP}/")) && stored[0].ends_with(".pkg"),
        "{stored:?}"
    );

    // The developer may fetch the pending version (review); the bytes are the same.
    let downloaded = store.get(&url, &store.dev, &[]).await;
    assert_eq!(downloaded.status, StatusCode::OK, "{}", downloaded.text());
    assert_eq!(downloaded.body.as_ref(), bytes.as_slice());
    assert_eq!(
        downloaded.header("content-length"),
        Some(bytes.len().to_string())
    );
    assert_eq!(
        downloaded.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(downloaded.header("etag"), Some(format!("\"{hex}\"")));
    assert_eq!(downloaded.header("accept-ranges").as_deref(), Some("bytes"));

    let listed = store
        .get(
            &format!("/api/v1/developer/apps/{APP}/versions"),
            &store.dev,
            &[],
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.json()["versions"][0]["version"], "1.0.0");
    assert_eq!(
        listed.json()["versions"][0]["checksum"],
        format!("sha256:{hex}")
    );

    // A new upload of the pending version replaces it and its object.
    let again = package(2048, 9);
    let replaced = store.upload("1.0.0", &again).await;
    assert_eq!(replaced.status, StatusCode::CREATED, "{}", replaced.text());
    assert_eq!(
        replaced.json()["checksum"],
        format!("sha256:{}", sha256_hex(&again))
    );
    assert_eq!(
        store.objects.held().await.len(),
        1,
        "the old object is deleted"
    );
    let downloaded = store.get(&url, &store.dev, &[]).await;
    assert_eq!(downloaded.body.as_ref(), again.as_slice());
}

async fn ranges_and_conditional_downloads(store: Store) {
    let bytes = package(1000, 1);
    let hex = sha256_hex(&bytes);
    let etag = format!("\"{hex}\"");
    assert_eq!(
        store.upload("1.0.0", &bytes).await.status,
        StatusCode::CREATED
    );

    let part = store
        .download("1.0.0", &store.dev, &[("range", "bytes=10-19")])
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT, "{}", part.text());
    assert_eq!(part.body.as_ref(), &bytes[10..20]);
    assert_eq!(
        part.header("content-range").as_deref(),
        Some("bytes 10-19/1000")
    );
    assert_eq!(part.header("content-length").as_deref(), Some("10"));
    assert_eq!(part.header("etag"), Some(etag.clone()));

    let tail = store
        .download("1.0.0", &store.dev, &[("range", "bytes=-100")])
        .await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.body.as_ref(), &bytes[900..]);
    assert_eq!(
        tail.header("content-range").as_deref(),
        Some("bytes 900-999/1000")
    );

    let open = store
        .download("1.0.0", &store.dev, &[("range", "bytes=990-")])
        .await;
    assert_eq!(open.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(open.body.as_ref(), &bytes[990..]);

    let outside = store
        .download("1.0.0", &store.dev, &[("range", "bytes=1000-")])
        .await;
    assert_eq!(
        outside.status,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "{}",
        outside.text()
    );
    assert_eq!(
        outside.header("content-range").as_deref(),
        Some("bytes */1000")
    );

    let several = store
        .download("1.0.0", &store.dev, &[("range", "bytes=0-1,5-6")])
        .await;
    assert_eq!(several.status, StatusCode::OK);
    assert_eq!(several.body.len(), 1000);

    let stale_if_range = store
        .download(
            "1.0.0",
            &store.dev,
            &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
        )
        .await;
    assert_eq!(stale_if_range.status, StatusCode::OK);

    let current = store
        .download("1.0.0", &store.dev, &[("if-none-match", &etag)])
        .await;
    assert_eq!(current.status, StatusCode::NOT_MODIFIED);
    assert!(current.body.is_empty());
    assert_eq!(current.header("etag"), Some(etag.clone()));
    let changed = store
        .download(
            "1.0.0",
            &store.dev,
            &[("if-none-match", "\"something-else\"")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
}

async fn a_damaged_object_is_never_served(store: Store) {
    let bytes = package(4096, 5);
    assert_eq!(
        store.upload("1.0.0", &bytes).await.status,
        StatusCode::CREATED
    );
    let stored = store.objects.held().await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    // Same length, one byte flipped.
    let mut damaged = bytes.clone();
    damaged[100] ^= 0xFF;
    store.objects.overwrite(&stored[0], damaged).await;
    let refused = store.download("1.0.0", &store.dev, &[]).await;
    assert_eq!(
        refused.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        refused.text()
    );
    assert_eq!(code(&refused), "PACKAGE_CORRUPT");
    let ranged = store
        .download("1.0.0", &store.dev, &[("range", "bytes=0-9")])
        .await;
    assert_eq!(code(&ranged), "PACKAGE_CORRUPT", "not even a range of it");
    // A different length is caught before reading.
    store.objects.overwrite(&stored[0], b"short".to_vec()).await;
    assert_eq!(
        code(&store.download("1.0.0", &store.dev, &[]).await),
        "PACKAGE_CORRUPT"
    );
    // A missing object too.
    store.objects.remove(&stored[0]).await;
    assert_eq!(
        code(&store.download("1.0.0", &store.dev, &[]).await),
        "PACKAGE_CORRUPT"
    );
}

async fn oversized_uploads_are_refused_and_leave_nothing(mut store: Store) {
    std::sync::Arc::make_mut(&mut store.env.state.settings)
        .store
        .max_package_bytes = 1024;
    let limit_ok = store.upload("1.0.0", &package(1024, 0)).await;
    assert_eq!(limit_ok.status, StatusCode::CREATED, "{}", limit_ok.text());
    let before = store.objects.held().await;
    assert_eq!(before.len(), 1, "{before:?}");

    // Past the limit while streaming, with and without text after the package.
    let over = store.upload("1.1.0", &package(1025, 0)).await;
    assert_eq!(
        over.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        over.text()
    );
    assert_eq!(code(&over), "PAYLOAD_TOO_LARGE");
    assert_eq!(over.json()["error"]["details"]["limit_bytes"], 1024);
    let big = package(200 * 1024, 0);
    let far_over = store
        .upload_parts(
            APP,
            &store.dev,
            &[("package", big.as_slice()), ("version", b"1.2.0")],
            false,
        )
        .await;
    assert_eq!(
        far_over.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        far_over.text()
    );
    // Announced too large: refused before reading.
    let announced = store
        .upload_parts(
            APP,
            &store.dev,
            &[("version", b"1.3.0"), ("package", big.as_slice())],
            true,
        )
        .await;
    assert_eq!(
        announced.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        announced.text()
    );
    assert_eq!(
        store.objects.held().await,
        before,
        "nothing of the refused uploads is left"
    );
    let listed = store
        .get(
            &format!("/api/v1/developer/apps/{APP}/versions"),
            &store.dev,
            &[],
        )
        .await;
    assert_eq!(listed.json()["versions"].as_array().map(Vec::len), Some(1));
}

async fn submitted_versions_are_immutable(store: Store) {
    assert_eq!(
        store.upload("2.0.0", &package(100, 1)).await.status,
        StatusCode::CREATED
    );
    assert!(store
        .env
        .fixture
        .db
        .submit_version(APP, "2.0.0", store.env.fixture.clock.now())
        .await
        .expect("submit"));
    let before = store.objects.held().await;
    let refused = store.upload("2.0.0", &package(100, 2)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(code(&refused), "CONFLICT");
    assert_eq!(
        store.objects.held().await,
        before,
        "the refused upload's object is deleted"
    );
    let served = store.download("2.0.0", &store.dev, &[]).await;
    assert_eq!(served.body.as_ref(), package(100, 1).as_slice());
}

async fn uploads_need_the_apps_developer(store: Store) {
    let bytes = package(64, 0);
    let other = store
        .upload_parts(
            APP,
            &store.other_dev,
            &[("version", b"1.0.0"), ("package", bytes.as_slice())],
            false,
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text());
    assert_eq!(code(&other), "APP_NOT_FOUND");
    let listed = store
        .get(
            &format!("/api/v1/developer/apps/{APP}/versions"),
            &store.other_dev,
            &[],
        )
        .await;
    assert_eq!(code(&listed), "APP_NOT_FOUND");
    let unknown = store
        .upload_parts(
            "ma_nope",
            &store.dev,
            &[("version", b"1.0.0"), ("package", bytes.as_slice())],
            false,
        )
        .await;
    assert_eq!(code(&unknown), "APP_NOT_FOUND");
    // A plain user is refused whatever the app.
    let user = store
        .upload_parts(
            APP,
            &store.env.session,
            &[("version", b"1.0.0"), ("package", bytes.as_slice())],
            false,
        )
        .await;
    assert_eq!(user.status, StatusCode::FORBIDDEN, "{}", user.text());
    assert_eq!(code(&user), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(store.objects.held().await, Vec::<String>::new());

    // Bad forms: 422 with the field, nothing stored.
    for (parts, field) in [
        (
            vec![
                ("version", b"1.0".as_slice()),
                ("package", bytes.as_slice()),
            ],
            "version",
        ),
        (vec![("package", bytes.as_slice())], "version"),
        (vec![("version", b"1.0.0".as_slice())], "package"),
        (
            vec![
                ("version", b"1.0.0".as_slice()),
                ("package", b"".as_slice()),
            ],
            "package",
        ),
        (
            vec![
                ("version", b"1.0.0+build".as_slice()),
                ("package", bytes.as_slice()),
            ],
            "version",
        ),
        (
            vec![
                ("version", b"1.0.0".as_slice()),
                ("color", b"red".as_slice()),
                ("package", bytes.as_slice()),
            ],
            "color",
        ),
    ] {
        let reply = store.upload_parts(APP, &store.dev, &parts, false).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            reply.text()
        );
        assert!(
            reply.json()["error"]["details"]["fields"]
                .to_string()
                .contains(field),
            "{field}: {}",
            reply.text()
        );
    }
    let long_notes = "n".repeat(5001);
    let reply = store
        .upload_parts(
            APP,
            &store.dev,
            &[
                ("version", b"1.0.0"),
                ("release_notes", long_notes.as_bytes()),
                ("package", bytes.as_slice()),
            ],
            false,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    let not_multipart = store
        .env
        .json(
            &format!("/api/v1/developer/apps/{APP}/versions"),
            json!({"version": "1.0.0"}),
            Some(&store.dev),
        )
        .await;
    assert_eq!(
        not_multipart.status,
        StatusCode::BAD_REQUEST,
        "{}",
        not_multipart.text()
    );
    assert_eq!(store.objects.held().await, Vec::<String>::new());
}

async fn downloads_by_others_need_an_active_version(store: Store) {
    let bytes = package(300, 4);
    assert_eq!(
        store.upload("1.0.0", &bytes).await.status,
        StatusCode::CREATED
    );
    let tep = seed::tep(
        &store.env.state,
        store.env.fixture.clock.now(),
        Some(store.env.user),
        PUBLIC,
        "storage:read",
        None,
    )
    .await;
    // Pending: only the developer (and admins) may fetch it.
    for token in [&store.env.session, &store.other_dev, &tep] {
        let hidden = store.download("1.0.0", token, &[]).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text());
    }
    store
        .set_status("1.0.0", VersionStatus::Pending, VersionStatus::Active)
        .await;
    for token in [&store.env.session, &store.other_dev, &tep] {
        let served = store.download("1.0.0", token, &[]).await;
        assert_eq!(served.status, StatusCode::OK, "{}", served.text());
        assert_eq!(served.body.as_ref(), bytes.as_slice());
    }
    let unknown = store.download("9.9.9", &store.env.session, &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let no_token = store
        .env
        .send(
            Request::get(format!("/api/v1/store/apps/{APP}/versions/1.0.0/package"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
}

async fn check_updates_compares_semver(store: Store) {
    let dev_id = store.dev_id;
    // ma_pkg_up publishes 1.10.0 with a package; ma_pkg_same is at 2.0.0.
    app(&store.env, "ma_pkg_up", dev_id, "1.10.0").await;
    app(&store.env, "ma_pkg_same", dev_id, "2.0.0").await;
    let bytes = package(512, 8);
    for (id, version) in [("ma_pkg_up", "1.10.0"), ("ma_pkg_same", "2.0.0")] {
        let reply = store
            .upload_parts(
                id,
                &store.dev,
                &[
                    ("version", version.as_bytes()),
                    ("release_notes", b"Better"),
                    ("package", bytes.as_slice()),
                ],
                false,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        assert!(store
            .env
            .fixture
            .db
            .set_version_status(id, version, VersionStatus::Pending, VersionStatus::Active)
            .await
            .expect("status"));
    }
    let asked = json!({
        "installed_apps": [
            {"miniapp_id": "ma_pkg_up", "current_version": "1.9.0"},
            {"miniapp_id": "ma_pkg_same", "current_version": "2.0.0"},
            {"miniapp_id": "ma_unknown_app", "current_version": "1.0.0"},
            {"miniapp_id": APP, "current_version": "0.0.1"},
        ],
        "platform": "ios",
        "client_version": "3.2.1"
    });
    let reply = store
        .env
        .json(
            "/api/v1/client/check-updates",
            asked.clone(),
            Some(&store.env.session),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let updates = reply.json()["updates_available"].clone();
    assert_eq!(
        updates,
        json!([{
            "miniapp_id": "ma_pkg_up",
            "current_version": "1.9.0",
            "new_version": "1.10.0",
            "release_notes": "Better",
            "download": {
                "url": "/api/v1/store/apps/ma_pkg_up/versions/1.10.0/package",
                "size_bytes": 512,
                "hash": format!("sha256:{}", sha256_hex(&bytes)),
            }
        }]),
        "1.10.0 > 1.9.0 by semver; equal, unknown and package-less apps are skipped"
    );
    // A TEP may ask too.
    let tep = seed::tep(
        &store.env.state,
        store.env.fixture.clock.now(),
        Some(store.env.user),
        PUBLIC,
        "storage:read",
        None,
    )
    .await;
    let by_tep = store
        .env
        .json("/api/v1/client/check-updates", asked, Some(&tep))
        .await;
    assert_eq!(by_tep.json()["updates_available"], updates);

    // Validation.
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"miniapp_id": format!("ma_{i}"), "current_version": "1.0.0"}))
        .collect();
    for body in [
        json!({"installed_apps": too_many}),
        json!({"installed_apps": [{"miniapp_id": "", "current_version": "1.0.0"}]}),
        json!({"installed_apps": [{"miniapp_id": "ma_x"}]}),
        json!({"installed_apps": [], "surprise": true}),
        json!({"installed_apps": [], "platform": "p".repeat(51)}),
    ] {
        let refused = store
            .env
            .json(
                "/api/v1/client/check-updates",
                body.clone(),
                Some(&store.env.session),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.text()
        );
    }
    let empty = store
        .env
        .json(
            "/api/v1/client/check-updates",
            json!({"installed_apps": []}),
            Some(&store.env.session),
        )
        .await;
    assert_eq!(empty.json(), json!({"updates_available": []}));
    let anonymous = store
        .env
        .json(
            "/api/v1/client/check-updates",
            json!({"installed_apps": []}),
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// A request dropped mid-upload (the client went away, or the request timeout fired) never
/// reaches the handler's own clean-up; the upload is still aborted. On S3 that matters:
/// the parts of an unfinished multipart upload stay (billed, invisible) until aborted.
async fn a_dropped_upload_leaves_nothing(store: Store) {
    // Past one 5 MiB part, so S3 holds a part when the body stalls.
    let bytes = package(6 * 1024 * 1024, 6);
    let mut head = multipart(&[("version", b"1.0.0")]);
    // Open the package part without ever closing it (drop the closing boundary).
    head.truncate(head.len() - format!("--{BOUNDARY}--\r\n").len());
    head.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"package\"; \
             filename=\"app.pkg\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![Ok(head.into()), Ok(bytes.into())];
    let stalled = futures::stream::iter(chunks).chain(futures::stream::pending());
    let request = Request::post(format!("/api/v1/developer/apps/{APP}/versions"))
        .header(header::AUTHORIZATION, format!("Bearer {}", store.dev))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from_stream(stalled))
        .expect("request");
    tokio::select! {
        reply = store.env.send(request) => panic!("the stalled upload was answered: {}", reply.text()),
        () = store.objects.wait_until("the upload to start", |held| {
            held.iter().any(|key| key.ends_with(UNFINISHED))
        }) => {}
    }
    // The request's future is dropped here, the upload with it.
    store
        .objects
        .wait_until("the dropped upload to be aborted", <[String]>::is_empty)
        .await;
    let listed = store
        .get(
            &format!("/api/v1/developer/apps/{APP}/versions"),
            &store.dev,
            &[],
        )
        .await;
    assert_eq!(listed.json()["versions"], json!([]));
}

/// Every test on both engines with a local package directory, and on SQLite with the S3
/// test bucket: the storage is what differs there, not the engine.
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        on_both_engines!(
            setup = setup,
            runtime = (flavor = "multi_thread", worker_threads = 2);
            $($name),+
        );
        mod s3 {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
              async fn $name() {
                  let Some(objects) = PackageObjects::s3(concat!("s3::", stringify!($name))) else {
                      return;
                  };
                  let fixture = tmcp_contract_tests::engines::sqlite().await;
                  super::$name(setup_on(fixture, objects).await).await;
              })+
        }
    };
}

on_every_backend!(
    upload_records_checksum_and_size_and_download_returns_the_bytes,
    ranges_and_conditional_downloads,
    a_damaged_object_is_never_served,
    oversized_uploads_are_refused_and_leave_nothing,
    a_dropped_upload_leaves_nothing,
    submitted_versions_are_immutable,
    uploads_need_the_apps_developer,
    downloads_by_others_need_an_active_version,
    check_updates_compares_semver,
);
