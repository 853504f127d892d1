//! What can go wrong in the OAuth service's use cases.

use tmcp_repository::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum OAuthServiceError {
    /// An input breaks a registration rule; the message names the input.
    #[error("{0}")]
    InvalidRegistration(String),
    /// A request field breaks a rule.
    #[error("{field}: {message}")]
    InvalidField {
        field: &'static str,
        message: &'static str,
    },
    #[error("no client with this id")]
    UnknownClient,
    /// Every freshly drawn user code clashed with a pending one.
    #[error("no free user code")]
    UserCodesExhausted,
    #[error("client {0} already exists")]
    ClientExists(String),
    #[error(transparent)]
    Repository(#[from] RepoError),
}
