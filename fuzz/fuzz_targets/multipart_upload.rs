//! Package uploads: the `multipart/form-data` body of `POST .../versions` (part heads,
//! names, text parts and the streamed package part) as the handler reads it, then the text
//! fields' rules (semantic version, release notes, OS version); plus the download's `Range`
//! header and version precedence.
//!
//! Asserts: an accepted form has the package part and text parts of UTF-8 without NUL within
//! their byte limit; an accepted version is canonical (parses to itself) and has no build
//! metadata; a `Range` answer lies inside the body; precedence is a strict order.
#![no_main]

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use libfuzzer_sys::fuzz_target;
use tmcp_domain::store::version::{is_newer, AppVersion};
use tmcp_http::routes::store::packages::{
    range_ask, read_form, PackageSink, RangeAsk, MAX_TEXT_FIELD_BYTES,
};
use tmcp_usecases::store::packages::check_fields;
use tmcp_usecases::store::StoreError;

const LIMIT: u64 = 64 * 1024;

/// Counts the package bytes in memory, refusing past the limit as the real upload does.
#[derive(Default)]
struct Counter {
    size: u64,
}

impl PackageSink for Counter {
    fn write(
        &mut self,
        chunk: Bytes,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send {
        self.size += chunk.len() as u64;
        let over = self.size > LIMIT;
        async move {
            if over {
                Err(StoreError::PackageTooLarge { limit: LIMIT })
            } else {
                Ok(())
            }
        }
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let request = Request::builder()
                .method("POST")
                .header("content-type", "multipart/form-data; boundary=fuzzb")
                .body(Body::from(rest.to_vec()))
                .expect("request");
            runtime().block_on(async {
                let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
                    panic!("a multipart content type with a boundary is accepted");
                };
                let mut counter = Counter::default();
                let Ok(fields) = read_form(&mut multipart, &mut counter, LIMIT).await else {
                    return;
                };
                assert!(counter.size <= LIMIT);
                for text in [
                    &fields.version,
                    &fields.release_notes,
                    &fields.min_os_version,
                ]
                .into_iter()
                .flatten()
                {
                    assert!(text.len() <= MAX_TEXT_FIELD_BYTES && !text.contains('\0'));
                }
                if let Ok(checked) = check_fields(fields) {
                    let version = AppVersion::parse(&checked.version).expect("re-parses");
                    assert_eq!(version.as_string(), checked.version);
                    assert!(!checked.version.contains('+'));
                    if let Some(notes) = &checked.release_notes {
                        assert!(notes.chars().count() <= 5000);
                    }
                }
            });
        }
        1 => {
            if rest.len() < 8 {
                return;
            }
            let (len, header) = rest.split_at(8);
            let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) % (1 << 40);
            let Ok(header) = std::str::from_utf8(header) else {
                return;
            };
            match range_ask(Some(header), len) {
                RangeAsk::Part(start, end) => assert!(start <= end && end < len),
                RangeAsk::Unsatisfiable | RangeAsk::Full => {}
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let (a, b) = text.split_once('\n').unwrap_or((text, ""));
            if let Ok(version) = AppVersion::parse(a) {
                assert_eq!(AppVersion::parse(&version.as_string()), Ok(version.clone()));
                assert!(!is_newer(a, a));
            }
            assert!(!(is_newer(a, b) && is_newer(b, a)), "{a:?} vs {b:?}");
        }
    }
});
