//! TEP tokens: `tep.` + a JWS whose claims bind one user (or none, for app backends), one
//! client (the mini-app) and the granted scopes. Signing uses the key ring; validation checks
//! the signature by `kid` with the key's own algorithm only, the standard claims, and then
//! that the token is still live (not revoked; session and grant intact), cached briefly.

use super::keys::{KeyRing, LoadedKey};
use crate::error::ApiError;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use jsonwebtoken::{Header, Validation};
use rand::RngCore;

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration as StdDuration, Instant};
use time::{Duration, OffsetDateTime};
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::{AppId, SessionId, UserId};
use tmcp_repository::{Database, IssuedToken, TokenLiveness};
use tmcp_usecases::oauth::TokenError;

pub const PREFIX: &str = tmcp_usecases::oauth::tokens::TEP_PREFIX;
pub const TOKEN_TYPE: &str = "tep_access_token";
/// Default tolerated clock skew for `exp`/`nbf`.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 5;
/// The largest leeway the configuration accepts.
pub const MAX_LEEWAY_SECONDS: u64 = 10;

#[derive(Debug, Clone)]
pub struct TepSettings {
    /// `iss` of every token; also the OAuth issuer.
    pub issuer: String,
    pub default_lifetime: Duration,
    /// Tolerated clock skew for `exp`/`nbf` (seconds; kept small: an expired token is
    /// accepted for at most this long).
    pub leeway_seconds: u64,
    /// How long a liveness answer is reused; revocation takes effect within this time.
    pub liveness_cache: StdDuration,
}

impl Default for TepSettings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            default_lifetime: Duration::hours(24),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            liveness_cache: StdDuration::from_secs(2),
        }
    }
}

/// The claims live with the OAuth use cases, which read them through `TokenVerifier`.
pub use tmcp_usecases::oauth::TepClaims;

/// What to put in a new token.
#[derive(Debug, Clone)]
pub struct TepMint {
    /// `None` for client-credentials tokens (the subject is then the client).
    pub user_id: Option<UserId>,
    pub client_id: String,
    pub scopes: ScopeSet,
    pub session_id: Option<SessionId>,
    pub lifetime: Option<Duration>,
    pub user_context: Option<serde_json::Value>,
    pub miniapp_context: Option<serde_json::Value>,
}

#[derive(Clone)]
pub struct MintedTep {
    pub token: String,
    pub token_id: String,
    pub expires_in: i64,
    pub expires_at: OffsetDateTime,
    pub scope: String,
    pub wallet_id: Option<String>,
}

super::redacted_debug!(MintedTep { token_id, expires_in, expires_at, scope, wallet_id; token });

/// The caller of a protected route, proven by a live TEP.
#[derive(Debug, Clone)]
pub struct TepPrincipal {
    pub user_id: Option<UserId>,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub session_id: Option<SessionId>,
    pub token_id: String,
}

impl TepPrincipal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// 403 `INSUFFICIENT_PERMISSIONS` naming the missing scope.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_PERMISSIONS",
                format!("this token lacks the {scope} scope"),
            )
            .with_details(serde_json::json!({ "required_scope": scope })))
        }
    }

    /// The user the token speaks for; app-backend tokens have none (403).
    pub fn require_user(&self) -> Result<UserId, ApiError> {
        self.user_id.ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_PERMISSIONS",
                "this route needs a user token",
            )
        })
    }

    /// The mini-app the token was issued to.
    pub fn app_id(&self) -> Result<AppId, ApiError> {
        AppId::parse(&self.client_id).map_err(|_| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_PERMISSIONS",
                "this token is not a mini-app token",
            )
        })
    }
}

/// The wallet id a user's tokens carry: `tw_` + 32 hex, derived from the user id.
pub fn wallet_id_for(user: UserId) -> String {
    format!("tw_{}", user.0.simple())
}

pub fn token_hash(token_id: &str) -> String {
    hex::encode(Sha256::digest(token_id.as_bytes()))
}

pub(crate) fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "INVALID_TOKEN", message)
}

/// A cached liveness answer.
struct Liveness {
    live: bool,
    checked: Instant,
    /// Set while one request re-checks an expired answer (see `LivenessCache::get`).
    refreshing_since: Option<Instant>,
}

struct LivenessCache {
    entries: Mutex<HashMap<String, Liveness>>,
    ttl: StdDuration,
    /// How long an expired answer may still serve while one request re-checks it.
    grace: StdDuration,
}

const CACHE_CAPACITY: usize = 100_000;

/// How long other requests keep using an expired answer while one request re-checks it; a
/// re-check that takes longer (cancelled, or a slow database) lets the next request try,
/// and an answer older than the cache time plus this serves nobody.
const REFRESH_GRACE: StdDuration = StdDuration::from_secs(1);

impl LivenessCache {
    /// The answer to use, or `None` when the caller must ask the database. When an answer
    /// expires, only the first request to notice re-checks it; requests arriving during that
    /// one check keep the old answer instead of all querying at once (with one hot token,
    /// every connection would otherwise re-check in the same instant). A revocation is
    /// therefore seen within the cache time plus the duration of the one check in flight.
    fn get(&self, jti: &str) -> Option<bool> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get_mut(jti)?;
        let age = entry.checked.elapsed();
        if age < self.ttl {
            return Some(entry.live);
        }
        // Past the cache time plus one grace period nobody gets the old answer: if the
        // re-check keeps failing (database down, request cancelled), every request checks
        // and fails closed, as without the cache.
        if age >= self.ttl + self.grace {
            return None;
        }
        match entry.refreshing_since {
            Some(since) if since.elapsed() < self.grace => Some(entry.live),
            _ => {
                entry.refreshing_since = Some(Instant::now());
                None
            }
        }
    }

    fn put(&self, jti: &str, live: bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            entries.retain(|_, entry| entry.checked.elapsed() < ttl);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        let fresh = Liveness {
            live,
            checked: Instant::now(),
            refreshing_since: None,
        };
        match entries.get_mut(jti) {
            Some(entry) => *entry = fresh,
            None => {
                entries.insert(jti.to_owned(), fresh);
            }
        }
    }
}

/// Signature checks already passed, keyed by SHA-256 of the exact token text. A hit skips
/// only the RSA/ECDSA/EdDSA verification: the key must still be in the ring and not retired,
/// and the time claims are checked again on every use. Cleared when the key ring changes.
struct VerifiedCache {
    entries: Mutex<HashMap<[u8; 32], (String, TepClaims)>>,
}

const VERIFIED_CAPACITY: usize = 20_000;

/// Mints and validates TEPs.
pub struct TepService {
    ring: RwLock<Arc<KeyRing>>,
    settings: TepSettings,
    cache: LivenessCache,
    verified: VerifiedCache,
}

impl TepService {
    pub fn new(ring: KeyRing, settings: TepSettings) -> Self {
        let cache = LivenessCache {
            entries: Mutex::new(HashMap::new()),
            ttl: settings.liveness_cache,
            grace: REFRESH_GRACE,
        };
        Self {
            ring: RwLock::new(Arc::new(ring)),
            settings,
            cache,
            verified: VerifiedCache {
                entries: Mutex::new(HashMap::new()),
            },
        }
    }

    pub fn settings(&self) -> &TepSettings {
        &self.settings
    }

    fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.ring.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the key ring (after a rotation).
    pub fn reload(&self, ring: KeyRing) {
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        self.verified
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The JWKS document: every key that can still verify a live token.
    pub fn jwks(&self) -> serde_json::Value {
        let ring = self.ring();
        let mut keys: Vec<&LoadedKey> = ring.keys.values().collect();
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        serde_json::json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// Signs a token and records it so it can be revoked and introspected.
    pub async fn mint(
        &self,
        db: &dyn Database,
        now: OffsetDateTime,
        request: TepMint,
    ) -> Result<MintedTep, ApiError> {
        self.sign_and_record(db, now, request, None)
            .await
            .map_err(|error| match error {
                TokenError::Repository(error) => error.into(),
                other => ApiError::internal(other),
            })
    }

    /// Like [`Self::mint`], recording the OAuth grant the token belongs to (so a replayed
    /// authorization code or refresh token revokes it with the rest of its grant).
    pub(crate) async fn sign_and_record(
        &self,
        db: &dyn Database,
        now: OffsetDateTime,
        request: TepMint,
        grant_id: Option<uuid::Uuid>,
    ) -> Result<MintedTep, TokenError> {
        let lifetime = request.lifetime.unwrap_or(self.settings.default_lifetime);
        let expires_at = now + lifetime;
        let mut id_bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id_bytes);
        let token_id = hex::encode(id_bytes);
        let wallet_id = request.user_id.map(wallet_id_for);
        let claims = TepClaims {
            iss: self.settings.issuer.clone(),
            sub: request
                .user_id
                .map_or_else(|| request.client_id.clone(), |u| u.to_string()),
            aud: request.client_id.clone(),
            client_id: request.client_id.clone(),
            azp: request.client_id.clone(),
            exp: expires_at.unix_timestamp(),
            iat: now.unix_timestamp(),
            nbf: now.unix_timestamp(),
            jti: token_id.clone(),
            token_type: TOKEN_TYPE.into(),
            scope: request.scopes.to_string(),
            wallet_id: wallet_id.clone(),
            session_id: request.session_id.map(|s| s.to_string()),
            user_context: request.user_context,
            miniapp_context: request.miniapp_context,
        };
        let ring = self.ring();
        let key = ring
            .keys
            .get(&ring.signing_kid)
            .ok_or_else(|| TokenError::Internal("signing key missing".into()))?;
        let encoding = key
            .encoding
            .clone()
            .ok_or_else(|| TokenError::Internal("signing key cannot sign".into()))?;
        let mut header = Header::new(key.algorithm);
        header.kid = Some(key.kid.clone());
        header.typ = Some("JWT".into());
        let signed = {
            let claims = claims.clone();
            // RSA signing costs about a millisecond: keep it off the async workers.
            tokio::task::spawn_blocking(move || jsonwebtoken::encode(&header, &claims, &encoding))
                .await
                .map_err(|e| TokenError::Internal(e.to_string()))?
                .map_err(|e| TokenError::Internal(e.to_string()))?
        };
        db.record_issued_token(IssuedToken {
            id: tmcp_domain::ids::uuid_v7_at(now),
            client_id: request.client_id,
            user_id: request.user_id,
            token_hash: token_hash(&token_id),
            scopes: request.scopes.to_vec(),
            expires_at,
            created_at: now,
            grant_id,
        })
        .await?;
        Ok(MintedTep {
            token: format!("{PREFIX}{signed}"),
            token_id,
            expires_in: lifetime.whole_seconds(),
            expires_at,
            scope: claims.scope,
            wallet_id,
        })
    }

    /// Verifies signature and claims only (no database): for introspection and the extractor.
    pub fn decode(&self, token: &str, now: OffsetDateTime) -> Result<TepClaims, ApiError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .verified
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
            .cloned();
        if let Some((kid, claims)) = cached {
            let ring = self.ring();
            if let Some(key) = ring.keys.get(&kid) {
                if key.retire_after.is_some_and(|t| t <= now) {
                    return Err(invalid("signing key retired"));
                }
                self.check_times(&claims, now)?;
                return Ok(claims);
            }
        }
        let (kid, claims) = self.verify(token, now)?;
        let mut entries = self
            .verified
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if entries.len() >= VERIFIED_CAPACITY {
            let now_s = now.unix_timestamp();
            entries.retain(|_, (_, c)| c.exp >= now_s);
            if entries.len() >= VERIFIED_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(digest, (kid, claims.clone()));
        Ok(claims)
    }

    fn check_times(&self, claims: &TepClaims, now: OffsetDateTime) -> Result<(), ApiError> {
        let leeway = i64::try_from(self.settings.leeway_seconds).unwrap_or(0);
        // Saturating: the claims are whatever was signed, and an `exp` near `i64::MAX`
        // overflowed here (a panic in debug builds, a wrapped "expired" in release); found
        // by the `tep_tokens` fuzz target.
        let now = now.unix_timestamp();
        if claims.exp.saturating_add(leeway) < now || claims.nbf.saturating_sub(leeway) > now {
            return Err(invalid("token expired or not yet valid"));
        }
        Ok(())
    }

    /// The full check: header, key, signature and claims.
    fn verify(&self, token: &str, now: OffsetDateTime) -> Result<(String, TepClaims), ApiError> {
        let jws = token
            .strip_prefix(PREFIX)
            .ok_or_else(|| invalid("not a TEP token"))?;
        let header = jsonwebtoken::decode_header(jws).map_err(|_| invalid("malformed token"))?;
        let kid = header.kid.ok_or_else(|| invalid("token has no key id"))?;
        let ring = self.ring();
        let key = ring
            .keys
            .get(&kid)
            .ok_or_else(|| invalid("unknown signing key"))?;
        if header.alg != key.algorithm {
            return Err(invalid("algorithm does not match the signing key"));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.algorithms = vec![key.algorithm];
        // Time claims are checked against the injected clock in `check_times`, never the
        // library's wall clock: tests and operators control "now" in one place.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.validate_aud = false; // aud is checked against client_id below
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "sub", "aud"]);
        let data = jsonwebtoken::decode::<TepClaims>(jws, &key.decoding, &validation)
            .map_err(|_| invalid("token signature or claims are invalid"))?;
        let claims = data.claims;
        if key.retire_after.is_some_and(|t| t <= now) {
            return Err(invalid("signing key retired"));
        }
        if claims.token_type != TOKEN_TYPE {
            return Err(invalid("wrong token type"));
        }
        if claims.aud != claims.client_id || claims.azp != claims.client_id {
            return Err(invalid("audience does not match the client"));
        }
        self.check_times(&claims, now)?;
        Ok((kid, claims))
    }

    /// Full validation: signature, claims, and liveness against the database (cached).
    pub async fn validate(
        &self,
        db: &dyn Database,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<TepPrincipal, ApiError> {
        let claims = self.decode(token, now)?;
        let user_id = uuid::Uuid::parse_str(&claims.sub).ok().map(UserId);
        if user_id.is_none() && claims.sub != claims.client_id {
            return Err(invalid("malformed subject"));
        }
        let session_id = match &claims.session_id {
            Some(raw) => Some(
                raw.parse::<SessionId>()
                    .map_err(|_| invalid("malformed session id"))?,
            ),
            None => None,
        };
        let live = match self.cache.get(&claims.jti) {
            Some(live) => live,
            None => {
                let check = TokenLiveness {
                    token_hash: token_hash(&claims.jti),
                    client_id: claims.client_id.clone(),
                    user_id,
                    session_id,
                };
                let live = db.token_is_live(&check).await?;
                self.cache.put(&claims.jti, live);
                live
            }
        };
        if !live {
            return Err(invalid("token has been revoked"));
        }
        Ok(TepPrincipal {
            user_id,
            client_id: claims.client_id,
            scopes: claims
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            session_id,
            token_id: claims.jti,
        })
    }

    /// Forgets cached liveness so a revocation in this process applies at once.
    pub fn forget(&self, token_id: &str) {
        self.cache
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token_id);
    }

    /// Forgets every cached answer (grant or session revocation in this process).
    pub fn forget_all(&self) {
        self.cache
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod liveness_cache_tests {
    use super::*;

    fn expired_at_once() -> LivenessCache {
        LivenessCache {
            entries: Mutex::new(HashMap::new()),
            ttl: StdDuration::ZERO,
            grace: REFRESH_GRACE,
        }
    }

    #[test]
    fn an_answer_past_its_grace_serves_nobody() {
        let cache = LivenessCache {
            entries: Mutex::new(HashMap::new()),
            ttl: StdDuration::ZERO,
            grace: StdDuration::ZERO,
        };
        cache.put("jti", true);
        // The re-check failed (nothing was put): every request must check again.
        assert_eq!(cache.get("jti"), None);
        assert_eq!(cache.get("jti"), None);
        assert_eq!(cache.get("jti"), None);
    }

    #[test]
    fn one_request_rechecks_an_expired_answer_while_the_others_keep_it() {
        let cache = expired_at_once();
        assert_eq!(cache.get("jti"), None, "unknown tokens are checked");
        cache.put("jti", true);
        assert_eq!(
            cache.get("jti"),
            None,
            "the first to see it expired re-checks"
        );
        assert_eq!(
            cache.get("jti"),
            Some(true),
            "the others keep the old answer"
        );
        assert_eq!(cache.get("jti"), Some(true));
        cache.put("jti", false);
        assert_eq!(
            cache.get("jti"),
            None,
            "the next expiry is re-checked again"
        );
        assert_eq!(cache.get("jti"), Some(false));
    }

    #[test]
    fn fresh_answers_are_used_as_they_are() {
        let cache = LivenessCache {
            entries: Mutex::new(HashMap::new()),
            ttl: StdDuration::from_secs(60),
            grace: REFRESH_GRACE,
        };
        cache.put("jti", true);
        assert_eq!(cache.get("jti"), Some(true));
        assert_eq!(cache.get("jti"), Some(true));
    }
}

#[cfg(test)]
mod time_claim_tests {
    use super::*;
    use crate::auth::keys::ephemeral_key;

    fn service() -> (TepService, LoadedKey) {
        let key = ephemeral_key("k", jsonwebtoken::Algorithm::ES256).expect("key");
        // The ring owns `key`; the test signs with a copy of it.
        let signer = LoadedKey {
            kid: key.kid.clone(),
            algorithm: key.algorithm,
            encoding: key.encoding.clone(),
            decoding: key.decoding.clone(),
            jwk: key.jwk.clone(),
            retire_after: None,
        };
        let ring = KeyRing {
            keys: HashMap::from([("k".to_owned(), key)]),
            signing_kid: "k".into(),
        };
        (TepService::new(ring, TepSettings::default()), signer)
    }

    fn claims(now: i64, exp: i64) -> TepClaims {
        TepClaims {
            iss: TepSettings::default().issuer,
            sub: "ma_x".into(),
            aud: "ma_x".into(),
            client_id: "ma_x".into(),
            azp: "ma_x".into(),
            exp,
            iat: now,
            nbf: now,
            jti: "j".into(),
            token_type: TOKEN_TYPE.into(),
            scope: String::new(),
            wallet_id: None,
            session_id: None,
            user_context: None,
            miniapp_context: None,
        }
    }

    /// Regression (fuzz target `tep_tokens`): a signed `exp` within the leeway of
    /// `i64::MAX` overflowed the expiry check.
    #[test]
    fn extreme_time_claims_do_not_overflow() {
        let (service, signer) = service();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let mut header = Header::new(signer.algorithm);
        header.kid = Some("k".into());
        let encoding = signer.encoding.as_ref().expect("signs");
        for exp in [i64::MAX, i64::MAX - 3] {
            let jws = jsonwebtoken::encode(&header, &claims(now.unix_timestamp(), exp), encoding)
                .expect("signed");
            let decoded = service.decode(&format!("{PREFIX}{jws}"), now);
            assert_eq!(
                decoded.map(|c| c.exp).ok(),
                Some(exp),
                "a far expiry is valid"
            );
        }
        let mut past = claims(now.unix_timestamp(), now.unix_timestamp() - 60);
        assert!(service.check_times(&past, now).is_err());
        past.nbf = i64::MIN;
        past.exp = i64::MAX;
        assert!(
            service.check_times(&past, now).is_ok(),
            "no underflow either"
        );
    }
}
