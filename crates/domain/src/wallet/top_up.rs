//! The life of a top-up (money entering a wallet from a payment method): `processing` while
//! the processor is asked, then `completed` (the ledger movement is posted in the same
//! transaction) or `failed`. Each transition consumes the state and returns the next one or
//! an error, so a settled top-up cannot settle again.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopUpState {
    Processing,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("top-up is already {0:?}")]
pub struct TopUpTransitionError(pub TopUpState);

impl TopUpState {
    pub const ALL: [Self; 3] = [Self::Processing, Self::Completed, Self::Failed];

    pub fn as_db(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_db() == value)
    }

    pub fn complete(self) -> Result<Self, TopUpTransitionError> {
        match self {
            Self::Processing => Ok(Self::Completed),
            settled => Err(TopUpTransitionError(settled)),
        }
    }

    pub fn fail(self) -> Result<Self, TopUpTransitionError> {
        match self {
            Self::Processing => Ok(Self::Failed),
            settled => Err(TopUpTransitionError(settled)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_processing_top_up_settles() {
        assert_eq!(TopUpState::Processing.complete(), Ok(TopUpState::Completed));
        assert_eq!(TopUpState::Processing.fail(), Ok(TopUpState::Failed));
        for settled in [TopUpState::Completed, TopUpState::Failed] {
            assert_eq!(settled.complete(), Err(TopUpTransitionError(settled)));
            assert_eq!(settled.fail(), Err(TopUpTransitionError(settled)));
        }
        for state in TopUpState::ALL {
            assert_eq!(TopUpState::from_db(state.as_db()), Some(state));
        }
    }
}
