//! A real webhook receiver inside the test: an axum server on 127.0.0.1:0 that records every
//! request and answers from a script (200 when the script is empty).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    RetryAfter(u16, &'static str),
    /// Records the request, then never answers (the sender is killed meanwhile).
    Hang,
}

#[derive(Default)]
struct Inner {
    requests: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    /// Requests being handled now, per webhook-id, and the most ever seen at once.
    in_flight: Mutex<HashMap<String, usize>>,
    max_overlap: Mutex<usize>,
    delay: Mutex<Duration>,
    arrived: Notify,
}

#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("receiver binds");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            inner,
            url: format!("http://{addr}/hook"),
        }
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.script.lock().expect("lock").extend(replies);
    }

    pub fn delay_answers(&self, by: Duration) {
        *self.inner.delay.lock().expect("lock") = by;
    }

    pub fn requests(&self) -> Vec<Received> {
        self.inner.requests.lock().expect("lock").clone()
    }

    pub fn max_overlap(&self) -> usize {
        *self.inner.max_overlap.lock().expect("lock")
    }

    /// Waits until `count` requests have arrived.
    pub async fn wait_for(&self, count: usize) {
        let waiting = async {
            loop {
                let notified = self.inner.arrived.notified();
                if self.requests().len() >= count {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), waiting)
            .await
            .expect("requests arrive in time");
    }
}

async fn hook(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let id = headers.get("webhook-id").cloned().unwrap_or_default();
    {
        let mut in_flight = inner.in_flight.lock().expect("lock");
        let now = in_flight.entry(id.clone()).or_insert(0);
        *now += 1;
        let mut max = inner.max_overlap.lock().expect("lock");
        *max = (*max).max(*now);
    }
    inner.requests.lock().expect("lock").push(Received {
        headers,
        body: body.to_vec(),
    });
    inner.arrived.notify_waiters();
    let reply = inner.script.lock().expect("lock").pop_front();
    let delay = *inner.delay.lock().expect("lock");
    tokio::time::sleep(delay).await;
    if let Some(n) = inner.in_flight.lock().expect("lock").get_mut(&id) {
        *n -= 1;
    }
    match reply.unwrap_or(Reply::Status(200)) {
        Reply::Status(code) => status(code).into_response(),
        Reply::RetryAfter(code, after) => (status(code), [("retry-after", after)]).into_response(),
        Reply::Hang => std::future::pending().await,
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
