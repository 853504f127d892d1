//! Version numbers of mini-app packages: semantic versions (`1.2.3`, `2.0.0-beta.1`),
//! compared by semver precedence. Build metadata (`+…`) is refused: two versions differing
//! only in it would compare equal yet be stored as different rows.

use std::cmp::Ordering;

/// A parsed, canonical version number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppVersion(semver::Version);

impl AppVersion {
    /// Parses `text`: at most 50 characters, `MAJOR.MINOR.PATCH[-PRERELEASE]`.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if text.is_empty() || text.len() > 50 {
            return Err("must be 1-50 characters");
        }
        let version = semver::Version::parse(text)
            .map_err(|_| "must be a semantic version such as 1.2.3 or 2.0.0-beta.1")?;
        if !version.build.is_empty() {
            return Err("build metadata (+...) is not allowed");
        }
        Ok(Self(version))
    }

    pub fn as_string(&self) -> String {
        self.0.to_string()
    }
}

impl PartialOrd for AppVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AppVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// Whether `candidate` is newer than `installed`; a version that does not parse is never
/// newer, and anything parseable is newer than an unparseable installed version.
pub fn is_newer(candidate: &str, installed: &str) -> bool {
    match (AppVersion::parse(candidate), AppVersion::parse(installed)) {
        (Ok(c), Ok(i)) => c > i,
        (Ok(_), Err(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        assert!(is_newer("1.10.0", "1.9.0"));
        assert!(is_newer("2.0.0", "2.0.0-beta.1"));
        assert!(!is_newer("1.0.0", "1.0.0"));
        assert!(!is_newer("garbage", "1.0.0"));
        assert!(AppVersion::parse("1.0.0+build").is_err());
        assert!(AppVersion::parse("1.0").is_err());
        assert!(AppVersion::parse("01.0.0").is_err());
    }
}
