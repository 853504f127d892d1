//! `TepService` as the OAuth use cases' TEP ports: they decide what to mint and when to
//! revoke, the service holds the keys and the liveness cache.

use super::tep::{TepMint, TepService};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_repository::Database;
use tmcp_usecases::oauth::{
    GrantTep, SignedTep, TepClaims, TokenError, TokenMinter, TokenVerifier,
};

#[async_trait]
impl TokenMinter for TepService {
    fn issuer(&self) -> &str {
        &self.settings().issuer
    }

    async fn mint(
        &self,
        db: &dyn Database,
        now: OffsetDateTime,
        request: GrantTep,
    ) -> Result<SignedTep, TokenError> {
        let minted = self
            .sign_and_record(
                db,
                now,
                TepMint {
                    user_id: request.user_id,
                    client_id: request.client_id,
                    scopes: request.scopes,
                    session_id: request.session_id,
                    lifetime: None,
                    user_context: None,
                    miniapp_context: request.miniapp_context,
                },
                request.grant_id,
            )
            .await?;
        Ok(SignedTep {
            token: minted.token,
            expires_in: minted.expires_in,
            scope: minted.scope,
            wallet_id: minted.wallet_id,
        })
    }
}

impl TokenVerifier for TepService {
    fn verify(&self, token: &str, now: OffsetDateTime) -> Option<TepClaims> {
        self.decode(token, now).ok()
    }

    fn forget(&self, token_id: &str) {
        TepService::forget(self, token_id);
    }

    fn forget_all(&self) {
        TepService::forget_all(self);
    }
}
