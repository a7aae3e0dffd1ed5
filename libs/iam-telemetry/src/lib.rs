//! What every Gatehouse process shares for its operators: logs as text or JSON lines (the
//! filter from `RUST_LOG`), and a small HTTP listener serving Prometheus metrics (`/metrics`)
//! and liveness (`/health/live`) for the processes that serve nothing else (the relay and the
//! projectors). `iamd` serves its metrics on its own API port.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line, with the current span's fields (a request's id) on each.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format must be `text` or `json`, not {other:?}")),
        }
    }
}

/// Installs the process's logger on stderr: `RUST_LOG` filters, `default_filter` otherwise.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into());
    match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
}

/// The Prometheus text of `registry`, as a response.
#[must_use]
pub fn metrics_response(registry: &Registry) -> Response {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Serves `/metrics` (from `registry`, after `refresh` updates its gauges) and `/health/live` on
/// `address` until the task is dropped. Returns the address bound (for port 0).
///
/// # Errors
/// The address cannot be bound.
pub async fn serve_metrics(
    address: SocketAddr,
    registry: Arc<Registry>,
    refresh: impl Fn() + Send + Sync + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let refresh = Arc::new(refresh);
    let router = Router::new().route("/health/live", get(|| async { "ok" })).route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            let refresh = refresh.clone();
            async move {
                refresh();
                metrics_response(&registry)
            }
        }),
    );
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(%error, "the metrics listener stopped");
        }
    });
    Ok((bound, task))
}

type Gauge = prometheus_client::metrics::gauge::Gauge;
type Read = fn() -> Option<i64>;

/// A value a process reads when it is scraped (a lag, a count kept in an atomic).
pub struct Reading {
    /// The metric's name (`gatehouse_projector_lag_messages`).
    pub name: &'static str,
    /// What it means.
    pub help: &'static str,
    /// Reads it now; `None` while unknown (the gauge then reads -1).
    pub read: fn() -> Option<i64>,
}

/// [`serve_metrics`] for processes whose metrics are a few readings, each a gauge.
///
/// # Errors
/// The address cannot be bound.
pub async fn serve_readings(
    address: SocketAddr,
    readings: Vec<Reading>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let mut registry = Registry::default();
    let gauges: Vec<(Gauge, Read)> = readings
        .into_iter()
        .map(|reading| {
            let gauge = Gauge::default();
            registry.register(reading.name, reading.help, gauge.clone());
            (gauge, reading.read)
        })
        .collect();
    serve_metrics(address, Arc::new(registry), move || {
        for (gauge, read) in &gauges {
            gauge.set(read().unwrap_or(-1));
        }
    })
    .await
}

/// [`serve_readings`] when `address` is given (a process's `--metrics-listen`), announcing where
/// on stdout; `None` otherwise.
///
/// # Errors
/// The address cannot be bound.
pub async fn serve_readings_at(
    address: Option<SocketAddr>,
    readings: impl FnOnce() -> Vec<Reading>,
) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(address) = address else {
        return Ok(None);
    };
    let (bound, task) = serve_readings(address, readings()).await?;
    println!("metrics on http://{bound}/metrics");
    Ok(Some(task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::gauge::Gauge;
    use std::io::Read;

    #[tokio::test(flavor = "multi_thread")]
    async fn serves_the_registry_after_refreshing_it() {
        let gauge = Gauge::<i64>::default();
        let mut registry = Registry::default();
        registry.register("things", "Things", gauge.clone());
        let refreshed = gauge.clone();
        let (address, _task) = serve_metrics("127.0.0.1:0".parse().unwrap(), Arc::new(registry), move || {
            refreshed.set(42);
        })
        .await
        .unwrap();
        let text = tokio::task::spawn_blocking(move || {
            let mut body = String::new();
            ureq::get(format!("http://{address}/metrics"))
                .call()
                .unwrap()
                .body_mut()
                .as_reader()
                .read_to_string(&mut body)
                .unwrap();
            body
        })
        .await
        .unwrap();
        assert!(text.contains("things 42"), "{text}");
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
