//! The storage listings' and change feed's cursors, over the shared codec in
//! [`crate::cursor`]. Clients get them from one reply and send them back unchanged.

use crate::cursor::{decode, encode};

/// A position in one (user, app)'s change feed.
///
/// `seq` is the last change the client has seen; `floor` is the server's resync floor when
/// the cursor was issued. If the floor has since risen above both (tombstones the client
/// never saw were purged, or all the app's data was deleted), the client must start over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCursor {
    pub seq: i64,
    pub floor: i64,
}

impl ChangeCursor {
    pub fn encode(self) -> String {
        encode("c1", &[&self.seq.to_string(), &self.floor.to_string()])
    }

    pub fn decode(text: &str) -> Option<Self> {
        let [seq, floor] = decode("c1", text)?;
        let seq: i64 = seq.parse().ok()?;
        let floor: i64 = floor.parse().ok()?;
        (seq >= 0 && floor >= 0).then_some(Self { seq, floor })
    }

    /// Whether a pull from this cursor could miss deletions, given the current floor.
    pub fn needs_resync(self, current_floor: i64) -> bool {
        current_floor > self.seq && current_floor > self.floor
    }
}

/// The last key of a listing page; the next page starts after it (byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCursor(pub String);

impl KeyCursor {
    pub fn encode(&self) -> String {
        encode("k1", &[&self.0])
    }

    pub fn decode(text: &str) -> Option<Self> {
        let [key] = decode("k1", text)?;
        Some(Self(key))
    }
}

/// The last conflict of a page (conflict ids are time-ordered UUIDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdCursor(pub uuid::Uuid);

impl IdCursor {
    pub fn encode(self) -> String {
        encode("i1", &[&self.0.simple().to_string()])
    }

    pub fn decode(text: &str) -> Option<Self> {
        let [id] = decode("i1", text)?;
        uuid::Uuid::parse_str(&id).ok().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = ChangeCursor { seq: 42, floor: 7 };
        assert_eq!(ChangeCursor::decode(&c.encode()), Some(c));
        let k = KeyCursor("é/ü".into());
        assert_eq!(KeyCursor::decode(&k.encode()), Some(k.clone()));
        let i = IdCursor(uuid::Uuid::from_u128(99));
        assert_eq!(IdCursor::decode(&i.encode()), Some(i));
        for bad in ["", "!!", "YWJj", &k.encode()] {
            assert_eq!(ChangeCursor::decode(bad), None, "{bad}");
        }
        assert_eq!(KeyCursor::decode(&c.encode()), None);
        assert_eq!(ChangeCursor::decode(&encode("c1", &["-1", "0"])), None);
    }

    #[test]
    fn resync_when_the_floor_passed_the_cursor() {
        let c = ChangeCursor { seq: 10, floor: 3 };
        assert!(!c.needs_resync(3));
        assert!(!c.needs_resync(10), "the client saw change 10");
        assert!(c.needs_resync(11));
        // A cursor handed out during a resync (seq below the floor it was issued under).
        let during = ChangeCursor { seq: 2, floor: 11 };
        assert!(!during.needs_resync(11));
        assert!(during.needs_resync(12));
    }
}
