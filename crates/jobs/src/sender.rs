//! The HTTP sender of webhook deliveries (reqwest with rustls). Redirects are not followed
//! (a 3xx is an answer like any other), no proxy from the environment is used, every
//! request times out after `timeout`, and at most `MAX_BODY_BYTES` of an answer are read.
//! The address policy is enforced on the address actually connected to: host names are
//! resolved by [`FilteringResolver`], which drops refused addresses, so a name that points to
//! a private address at delivery time is refused even if it was public when saved.

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tmcp_usecases::webhooks::target::{address_allowed, check_url};
use tmcp_usecases::webhooks::{OutgoingRequest, SendResult, WebhookSender};

/// Read at most this much of a receiver's answer (it is not used; reading a little lets the
/// connection be reused).
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why a resolution was refused; found again in reqwest's error chain.
#[derive(Debug)]
struct TargetRefused;

impl std::fmt::Display for TargetRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the webhook host resolves only to addresses that are not allowed")
    }
}

impl std::error::Error for TargetRefused {}

/// Resolves with the system resolver and keeps only allowed addresses.
pub struct FilteringResolver {
    pub allow_private: bool,
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| address_allowed(addr.ip(), allow_private))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(TargetRefused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

pub struct HttpSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpSender {
    pub fn new(allow_private: bool, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("tmcp-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(FilteringResolver { allow_private }))
            .build()?;
        Ok(Self {
            client,
            allow_private,
        })
    }
}

fn refused_in_chain(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<TargetRefused>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, request: OutgoingRequest) -> SendResult {
        // IP literals never reach the resolver: check them (and the scheme) here.
        let url = match check_url(&request.url, self.allow_private) {
            Ok(url) => url,
            Err(e) => return SendResult::Refused(e.to_string()),
        };
        let mut builder = self.client.post(url).body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(e) if refused_in_chain(&e) => {
                return SendResult::Refused(TargetRefused.to_string())
            }
            Err(e) if e.is_timeout() => return SendResult::Failed("timed out".into()),
            Err(e) if e.is_connect() => return SendResult::Failed("connection failed".into()),
            Err(_) => return SendResult::Failed("request failed".into()),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut read = 0usize;
        while read < MAX_BODY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        SendResult::Answered {
            status,
            retry_after,
        }
    }
}
