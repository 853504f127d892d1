//! The one codec of every opaque pagination cursor: base64url of `"<tag>:<field>:<field>…"`.
//! The tag names the cursor's kind and version, so a cursor of one listing is refused by
//! another and the form can change without breaking the wire. Only the last field may
//! contain `:`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Cursors longer than this are refused before decoding (hostile input).
const MAX_CURSOR_CHARS: usize = 1024;

pub fn encode(tag: &str, fields: &[&str]) -> String {
    let mut plain = String::from(tag);
    for field in fields {
        plain.push(':');
        plain.push_str(field);
    }
    URL_SAFE_NO_PAD.encode(plain)
}

/// The `N` fields of a cursor made by [`encode`] with `tag`, or `None` for anything else.
pub fn decode<const N: usize>(tag: &str, text: &str) -> Option<[String; N]> {
    if text.is_empty() || text.len() > MAX_CURSOR_CHARS {
        return None;
    }
    let plain = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let rest = plain.strip_prefix(tag)?.strip_prefix(':')?;
    let mut parts = rest.splitn(N, ':');
    let fields: Vec<String> = parts.by_ref().map(str::to_owned).collect();
    fields.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_under_their_tag_only() {
        let text = encode("x1", &["12", "a:b"]);
        assert_eq!(
            decode::<2>("x1", &text),
            Some(["12".to_owned(), "a:b".to_owned()])
        );
        assert_eq!(decode::<2>("y1", &text), None);
        assert_eq!(decode::<3>("x1", &encode("x1", &["12"])), None);
        assert_eq!(decode::<1>("x1", ""), None);
        assert_eq!(decode::<1>("x1", "!!!"), None);
        assert_eq!(decode::<1>("x1", &"A".repeat(2000)), None);
    }
}
