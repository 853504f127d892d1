//! Field rules of the account area, each answering with a message for `details.fields`.

use tmcp_domain::user::{Email, Username};

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;

pub fn username(raw: &str) -> Result<Username, &'static str> {
    Username::parse(raw).ok_or("3 to 32 characters of a-z, 0-9, '_' and '.'")
}

/// Emails are compared case-insensitively: they are stored in lower case.
pub fn email(raw: &str) -> Result<Email, &'static str> {
    Email::parse(&raw.trim().to_ascii_lowercase()).ok_or("not a valid email address")
}

pub fn password(raw: &str) -> Result<(), &'static str> {
    let chars = raw.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        Err("at least 8 characters")
    } else if chars > PASSWORD_MAX_CHARS {
        Err("at most 128 characters")
    } else {
        Ok(())
    }
}

/// Free text such as a name: trimmed, no control characters, 1..=max characters.
pub fn text(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

/// A phone number in international form: `+` and 7 to 15 digits; spaces, dashes, dots and
/// parentheses are dropped.
pub fn phone(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    let rest = trimmed
        .strip_prefix('+')
        .ok_or("international format starting with '+'")?;
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err("only digits, spaces, dashes, dots and parentheses"),
        }
    }
    if !(7..=15).contains(&digits.len()) {
        return Err("7 to 15 digits");
    }
    Ok(format!("+{digits}"))
}

/// An http(s) URL of at most `max` characters without spaces.
pub fn url(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| "must be an http(s) URL".to_owned())?;
    if rest.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an http(s) URL".into());
    }
    Ok(trimmed.to_owned())
}

/// A device or client-chosen identifier: 1–255 of `[A-Za-z0-9._:-]`.
pub fn identifier(raw: &str) -> Result<String, &'static str> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._:-".contains(c);
    if (1..=255).contains(&raw.len()) && raw.chars().all(ok) {
        Ok(raw.to_owned())
    } else {
        Err("1 to 255 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'")
    }
}

/// A JSON object whose serialised form is at most `max_bytes`.
pub fn json_object(value: &serde_json::Value, max_bytes: usize) -> Result<(), String> {
    if !value.is_object() {
        return Err("must be a JSON object".into());
    }
    if value.to_string().len() > max_bytes {
        return Err(format!("at most {max_bytes} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised() {
        assert_eq!(phone("+1 (555) 000-1111"), Ok("+15550001111".into()));
        assert!(phone("5550001111").is_err());
        assert!(phone("+12").is_err());
        assert!(phone("+1555abc1111").is_err());
    }

    #[test]
    fn passwords_count_characters() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"é".repeat(128)).is_ok());
        assert!(password(&"é".repeat(129)).is_err());
    }

    #[test]
    fn emails_are_lowercased() {
        assert_eq!(
            email(" Alice@Example.COM ").map(|e| e.as_str().to_owned()),
            Ok("alice@example.com".into())
        );
    }

    #[test]
    fn urls_and_identifiers() {
        assert!(url("https://example.com/a", 500).is_ok());
        assert!(url("javascript:alert(1)", 500).is_err());
        assert!(url("https://", 500).is_err());
        assert!(identifier("phone-1:abc").is_ok());
        assert!(identifier("").is_err());
        assert!(identifier("a b").is_err());
    }
}
