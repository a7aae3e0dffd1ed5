//! What an operator sees of the edge: a request id on every request (its response header and
//! every log line written while it runs, through a tracing span), and Prometheus metrics of
//! requests by route and outcome with latency histograms.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use tracing::Instrument;

/// The request id of the request being served (`x-amzn-RequestId`, the audit records'
/// `requestID`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A route and the status it answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteOutcome {
    /// The route pattern (`/graphql`), or `unmatched`.
    pub route: &'static str,
    /// The HTTP status code.
    pub status: u16,
}

/// A route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// The route pattern.
    pub route: &'static str,
}

/// The routes the gateway serves, so a label is a static string and not an allocation per
/// request.
const ROUTES: &[&str] = &[
    "/",
    "/graphql",
    "/v1/authorize",
    "/v1/authorize/batch",
    "/access/v1/evaluation",
    "/access/v1/evaluations",
    "/health",
    "/health/live",
    "/health/ready",
    "/metrics",
];

fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    matched
        .and_then(|path| ROUTES.iter().find(|route| **route == path.as_str()))
        .copied()
        .unwrap_or("unmatched")
}

fn latency() -> Histogram {
    // 100 µs to about 6.5 s.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 17))
}

/// The edge's metrics.
#[derive(Debug)]
pub struct HttpMetrics {
    requests: Family<RouteOutcome, Counter>,
    seconds: Family<Route, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            seconds: Family::new_with_constructor(latency),
        }
    }
}

impl HttpMetrics {
    /// Registers the edge's metrics in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "gatehouse_http_requests",
            "HTTP requests answered, by route and status",
            self.requests.clone(),
        );
        registry.register(
            "gatehouse_http_request_seconds",
            "Time from a request's headers to its answer, by route",
            self.seconds.clone(),
        );
    }
}

/// The middleware: gives the request its id and span, then counts and times it.
pub async fn track(State(metrics): State<Arc<HttpMetrics>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(request.extensions().get::<MatchedPath>());
    let request_id = uuid::Uuid::now_v7().to_string();
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", request_id = %request_id, route);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    metrics
        .requests
        .get_or_create(&RouteOutcome {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    metrics
        .seconds
        .get_or_create(&Route { route })
        .observe(started.elapsed().as_secs_f64());
    response
}
