//! The payment state machine of the schema's `payment_transactions.state` column.
//! Transitions consume the old state and return the new one or an error, so an illegal move
//! cannot be written by accident; the SQL update additionally checks the expected old state.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PaymentState {
    Initiated,
    Validating,
    #[serde(rename = "MFA_Required")]
    MfaRequired,
    Authorized,
    Processing,
    Completed,
    Failed,
    Cancelled,
    Expired,
    Refunded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("payment cannot move from {from:?} to {to:?}")]
pub struct InvalidTransition {
    pub from: PaymentState,
    pub to: PaymentState,
}

impl PaymentState {
    /// The value stored in the `state` column.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Initiated => "Initiated",
            Self::Validating => "Validating",
            Self::MfaRequired => "MFA_Required",
            Self::Authorized => "Authorized",
            Self::Processing => "Processing",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::Expired => "Expired",
            Self::Refunded => "Refunded",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        [
            Self::Initiated,
            Self::Validating,
            Self::MfaRequired,
            Self::Authorized,
            Self::Processing,
            Self::Completed,
            Self::Failed,
            Self::Cancelled,
            Self::Expired,
            Self::Refunded,
        ]
        .into_iter()
        .find(|s| s.as_db() == value)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Cancelled | Self::Expired | Self::Refunded
        )
    }

    /// Moves to `to` if the protocol allows it.
    pub fn transition(self, to: Self) -> Result<Self, InvalidTransition> {
        use PaymentState::*;
        let allowed = match (self, to) {
            (Initiated, Validating) => true,
            (Validating, MfaRequired | Authorized) => true,
            (MfaRequired, Authorized) => true,
            (Authorized, Processing) => true,
            (Processing, Completed) => true,
            // A completed payment can be refunded (fully: the state; partially: status only).
            (Completed, Refunded) => true,
            // Failure is possible from every live step before settlement.
            (Initiated | Validating | MfaRequired | Authorized | Processing, Failed) => true,
            // Cancel and expiry only before money moved.
            (Initiated | Validating | MfaRequired, Cancelled | Expired) => true,
            _ => false,
        };
        if allowed {
            Ok(to)
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentState::*;
    use super::*;

    #[test]
    fn happy_path_with_mfa_is_allowed() {
        let s = Initiated
            .transition(Validating)
            .and_then(|s| s.transition(MfaRequired));
        let s = s
            .and_then(|s| s.transition(Authorized))
            .and_then(|s| s.transition(Processing));
        assert_eq!(s.and_then(|s| s.transition(Completed)), Ok(Completed));
    }

    #[test]
    fn settled_and_terminal_states_do_not_move_backwards() {
        assert!(Completed.transition(Cancelled).is_err());
        assert!(Completed.transition(Failed).is_err());
        assert!(Failed.transition(Completed).is_err());
        assert!(Refunded.transition(Completed).is_err());
        assert!(Processing.transition(Cancelled).is_err());
        assert!(Initiated.transition(Completed).is_err());
        for s in [Failed, Cancelled, Expired, Refunded] {
            assert!(s.is_terminal());
        }
    }

    #[test]
    fn db_names_round_trip() {
        for s in [
            Initiated,
            Validating,
            MfaRequired,
            Authorized,
            Processing,
            Completed,
            Failed,
        ] {
            assert_eq!(PaymentState::from_db(s.as_db()), Some(s));
        }
        assert_eq!(MfaRequired.as_db(), "MFA_Required");
    }
}

/// The wire summary of a payment (`payment_transactions.status`), derived from its state
/// and how much of it was refunded: clients see this, the state machine decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    PendingAuthorization,
    MfaRequired,
    Processing,
    Completed,
    Failed,
    Cancelled,
    Expired,
    Refunded,
    PartiallyRefunded,
}

impl PaymentStatus {
    pub const ALL: [Self; 9] = [
        Self::PendingAuthorization,
        Self::MfaRequired,
        Self::Processing,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Expired,
        Self::Refunded,
        Self::PartiallyRefunded,
    ];

    pub fn as_db(self) -> &'static str {
        match self {
            Self::PendingAuthorization => "pending_authorization",
            Self::MfaRequired => "mfa_required",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_db() == value)
    }

    /// The status of a payment in `state` with `refunded` of its amount refunded. A
    /// completed payment with some refunds stays `Completed` (more can be refunded) and
    /// shows `partially_refunded`; a fully refunded one is in state `Refunded`.
    pub fn of(state: PaymentState, refunded: i64) -> Self {
        match state {
            PaymentState::Initiated | PaymentState::Validating => Self::PendingAuthorization,
            PaymentState::MfaRequired => Self::MfaRequired,
            PaymentState::Authorized | PaymentState::Processing => Self::Processing,
            PaymentState::Completed if refunded > 0 => Self::PartiallyRefunded,
            PaymentState::Completed => Self::Completed,
            PaymentState::Failed => Self::Failed,
            PaymentState::Cancelled => Self::Cancelled,
            PaymentState::Expired => Self::Expired,
            PaymentState::Refunded => Self::Refunded,
        }
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn status_follows_state_and_refunds() {
        assert_eq!(
            PaymentStatus::of(PaymentState::Initiated, 0),
            PaymentStatus::PendingAuthorization
        );
        assert_eq!(
            PaymentStatus::of(PaymentState::Completed, 1),
            PaymentStatus::PartiallyRefunded
        );
        assert_eq!(
            PaymentStatus::of(PaymentState::Refunded, 10),
            PaymentStatus::Refunded
        );
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_db()), Some(s));
        }
    }
}
