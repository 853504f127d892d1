//! The life of a hold: money set aside on an account until it is captured (moved to the
//! payee) or released (made available again). A hold is resolved at most once; the
//! transitions consume the state and return the next one or an error.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldState {
    Held,
    Captured,
    Released,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("hold is already {0:?}")]
pub struct HoldTransitionError(pub HoldState);

impl HoldState {
    pub const ALL: [Self; 3] = [Self::Held, Self::Captured, Self::Released];

    pub fn as_db(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Captured => "captured",
            Self::Released => "released",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_db() == value)
    }

    pub fn capture(self) -> Result<Self, HoldTransitionError> {
        match self {
            Self::Held => Ok(Self::Captured),
            resolved => Err(HoldTransitionError(resolved)),
        }
    }

    pub fn release(self) -> Result<Self, HoldTransitionError> {
        match self {
            Self::Held => Ok(Self::Released),
            resolved => Err(HoldTransitionError(resolved)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_held_hold_resolves() {
        assert_eq!(HoldState::Held.capture(), Ok(HoldState::Captured));
        assert_eq!(HoldState::Held.release(), Ok(HoldState::Released));
        for resolved in [HoldState::Captured, HoldState::Released] {
            assert_eq!(resolved.capture(), Err(HoldTransitionError(resolved)));
            assert_eq!(resolved.release(), Err(HoldTransitionError(resolved)));
        }
        for s in HoldState::ALL {
            assert_eq!(HoldState::from_db(s.as_db()), Some(s));
        }
    }
}
