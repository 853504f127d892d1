//! Request counts and latency by route template (never the raw path, which would let
//! clients create unbounded label values), method and status.
//!
//! The handles of each (route, method, status) series are kept after their first use, so a
//! request costs a read lock and two atomic updates, not a label allocation and a registry
//! lookup.

use crate::metrics::{REQUESTS_TOTAL, REQUEST_DURATION};
use axum::http::Method;
use metrics::{Counter, Histogram};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

struct Series {
    method: Method,
    status: u16,
    count: Counter,
    duration: Histogram,
}

impl Series {
    fn is(&self, method: &Method, status: u16) -> bool {
        self.status == status && self.method == *method
    }
}

/// The request series seen so far, by route template.
#[derive(Default)]
pub struct RequestSeries {
    by_route: RwLock<HashMap<Box<str>, Vec<Series>>>,
}

/// Methods outside the standard set share one label: a client can send any token as a
/// method, and each would otherwise become a series of its own.
fn method_label(method: &Method) -> Method {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if KNOWN.contains(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").unwrap_or(Method::GET)
    }
}

impl RequestSeries {
    pub fn record(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let seconds = elapsed.as_secs_f64();
        {
            let by_route = self.by_route.read().unwrap_or_else(|p| p.into_inner());
            if let Some(series) = by_route
                .get(route)
                .and_then(|all| all.iter().find(|s| s.is(&method, status)))
            {
                series.count.increment(1);
                series.duration.record(seconds);
                return;
            }
        }
        let labels = [
            ("route", route.to_owned()),
            ("method", method.to_string()),
            ("status", status.to_string()),
        ];
        let series = Series {
            method,
            status,
            count: metrics::counter!(REQUESTS_TOTAL, &labels),
            duration: metrics::histogram!(REQUEST_DURATION, &labels),
        };
        series.count.increment(1);
        series.duration.record(seconds);
        let mut by_route = self.by_route.write().unwrap_or_else(|p| p.into_inner());
        let all = by_route.entry(route.into()).or_default();
        if !all.iter().any(|s| s.is(&series.method, series.status)) {
            all.push(series);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::PUT), Method::PUT);
        let odd = Method::from_bytes(b"BREW").expect("token");
        assert_eq!(method_label(&odd).as_str(), "OTHER");
    }
}
