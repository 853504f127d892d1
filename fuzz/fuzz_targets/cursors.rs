//! Opaque pagination cursors: the shared codec and every listing's cursor (storage keys,
//! change feed, conflicts, wallet history, payments).
//!
//! Asserts: a cursor the codec decodes re-encodes to the identical text; fields encoded
//! (only the last holding `:`) decode to the same fields under their tag only; and every
//! typed cursor that decodes re-encodes to a cursor that decodes to the same position.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tmcp_domain::cursor::{decode, encode};
use tmcp_domain::storage::cursor::{ChangeCursor, IdCursor, KeyCursor};
use tmcp_usecases::{payments, wallet};

/// Decodes `text` with `N` fields; whatever decodes must re-encode to exactly `text`.
fn codec<const N: usize>(tag: &str, text: &str) {
    if let Some(fields) = decode::<N>(tag, text) {
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        assert_eq!(encode(tag, &refs), text, "{fields:?}");
    }
}

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    Text(&'a str),
    Fields(Vec<String>),
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    match input {
        Input::Text(text) => {
            for tag in ["c1", "k1", "i1", "e1", "p1"] {
                codec::<1>(tag, text);
                codec::<2>(tag, text);
                codec::<4>(tag, text);
            }
            if let Some(c) = ChangeCursor::decode(text) {
                assert!(c.seq >= 0 && c.floor >= 0);
                assert_eq!(ChangeCursor::decode(&c.encode()), Some(c));
            }
            if let Some(k) = KeyCursor::decode(text) {
                assert_eq!(k.encode(), text);
            }
            if let Some(i) = IdCursor::decode(text) {
                assert_eq!(IdCursor::decode(&i.encode()), Some(i));
            }
            if let Ok(position) = wallet::reads::decode_cursor(text) {
                let again = wallet::reads::decode_cursor(&wallet::reads::encode_cursor(&position));
                assert_eq!(again.ok(), Some(position));
            }
            if let Ok(position) = payments::reads::decode_cursor(text) {
                let again =
                    payments::reads::decode_cursor(&payments::reads::cursor_text(&position));
                assert_eq!(again.ok(), Some(position));
            }
        }
        Input::Fields(fields) => {
            let n = fields.len();
            // The codec's contract: only the last field may contain `:`.
            if n == 0 || n > 4 || fields[..n - 1].iter().any(|f| f.contains(':')) {
                return;
            }
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            let text = encode("x1", &refs);
            let back: Option<Vec<String>> = match n {
                1 => decode::<1>("x1", &text).map(Vec::from),
                2 => decode::<2>("x1", &text).map(Vec::from),
                3 => decode::<3>("x1", &text).map(Vec::from),
                _ => decode::<4>("x1", &text).map(Vec::from),
            };
            if text.len() <= 1024 {
                assert_eq!(back.as_ref(), Some(&fields));
            } else {
                assert_eq!(back, None, "over-long cursors are refused");
            }
            assert_eq!(decode::<1>("y1", &text), None);
        }
    }
});
