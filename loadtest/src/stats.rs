//! Latency histograms, counters, the once-a-second progress line and the CPU clocks a summary
//! reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

/// Highest latency a histogram holds, in microseconds (longer ones are clamped).
const HIGHEST_MICROS: u64 = 120_000_000;

#[allow(clippy::expect_used)] // constant, valid bounds: this cannot fail
fn histogram() -> Histogram<u64> {
    // Three significant digits from 1 µs to two minutes: about 0.1% error on any percentile.
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, HIGHEST_MICROS)
}

fn ms(micros: u64) -> f64 {
    round3(micros as f64 / 1000.0)
}

/// Rounds to three decimals for the summary.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// p50/p90/p99/p99.9/max/mean of a histogram, in milliseconds.
pub fn latency_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"count": 0});
    }
    json!({
        "count": h.len(),
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": round3(h.mean() / 1000.0),
    })
}

#[derive(Default)]
struct Interval {
    requests: u64,
    units: u64,
    errors: u64,
}

struct Inner {
    recording: bool,
    total: Histogram<u64>,
    interval: Histogram<u64>,
    by_kind: BTreeMap<String, Histogram<u64>>,
    requests: u64,
    units: u64,
    counters: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    first_errors: Vec<String>,
    now: Interval,
}

/// What every worker reports into. Locked once per request: cheap next to an HTTP round trip.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            inner: Arc::new(Mutex::new(Inner {
                recording: true,
                total: histogram(),
                interval: histogram(),
                by_kind: BTreeMap::new(),
                requests: 0,
                units: 0,
                counters: BTreeMap::new(),
                errors: BTreeMap::new(),
                first_errors: Vec::new(),
                now: Interval::default(),
            })),
        }
    }
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A worker that panicked holding the lock leaves counts that are still counts.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether results count (false during warm-up and after the end).
    pub fn set_recording(&self, on: bool) {
        self.lock().recording = on;
    }

    /// A request that succeeded: its latency, how many units (decisions) it carried, and an
    /// optional kind for a per-kind histogram.
    pub fn ok(&self, latency: Duration, units: u64, kind: Option<&str>) {
        let mut inner = self.lock();
        let us = micros(latency);
        // The progress line shows warm-up traffic too; only the totals leave it out.
        inner.interval.saturating_record(us);
        inner.now.requests += 1;
        inner.now.units += units;
        if !inner.recording {
            return;
        }
        inner.total.saturating_record(us);
        if let Some(kind) = kind {
            inner
                .by_kind
                .entry(kind.to_owned())
                .or_insert_with(histogram)
                .saturating_record(us);
        }
        inner.requests += 1;
        inner.units += units;
    }

    /// A failed request (or a failed item of a batch), by label; the first few messages are kept.
    pub fn error(&self, label: &str, message: &str) {
        let mut inner = self.lock();
        inner.now.errors += 1;
        if !inner.recording {
            return;
        }
        *inner.errors.entry(label.to_owned()).or_default() += 1;
        if inner.first_errors.len() < 5 {
            inner.first_errors.push(format!("{label}: {message}"));
        }
    }

    /// Adds to a named counter (outcomes, operations).
    pub fn count(&self, name: &str, n: u64) {
        let mut inner = self.lock();
        if inner.recording {
            *inner.counters.entry(name.to_owned()).or_default() += n;
        }
    }

    /// The progress line for the interval just ended, and resets it.
    fn tick(&self, elapsed: Duration, interval: Duration, unit: &str) -> String {
        let mut inner = self.lock();
        let secs = interval.as_secs_f64().max(1e-9);
        let line =
            format!(
            "[{:>4.0}s] {:>8.0} req/s {:>9.0} {unit}/s  p50 {:>7.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  errors {}{}",
            elapsed.as_secs_f64(),
            inner.now.requests as f64 / secs,
            inner.now.units as f64 / secs,
            ms(inner.interval.value_at_quantile(0.5)),
            ms(inner.interval.value_at_quantile(0.99)),
            ms(inner.interval.max()),
            inner.now.errors,
            if inner.recording { "" } else { "  (warm-up, not counted)" },
        );
        inner.interval.reset();
        inner.now = Interval::default();
        line
    }

    /// The totals for the summary: `requests`, `units`, `latencyMs`, `latencyMsByKind`,
    /// `counters`, `errors`, `firstErrors`.
    pub fn totals(&self) -> (u64, u64, Value) {
        let inner = self.lock();
        let by_kind: Map<String, Value> = inner
            .by_kind
            .iter()
            .map(|(k, h)| (k.clone(), latency_json(h)))
            .collect();
        (
            inner.requests,
            inner.units,
            json!({
                "latencyMs": latency_json(&inner.total),
                "latencyMsByKind": by_kind,
                "counters": inner.counters,
                "errors": inner.errors,
                "errorCount": inner.errors.values().sum::<u64>(),
                "firstErrors": inner.first_errors,
            }),
        )
    }
}

/// Prints one progress line a second to stderr until dropped.
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts printing `recorder`'s interval figures, `unit` naming what `units` counts.
    pub fn start(recorder: Recorder, unit: &'static str, quiet: bool) -> Progress {
        let task = tokio::spawn(async move {
            if quiet {
                return;
            }
            let started = Instant::now();
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            ticker.tick().await;
            let mut last = Instant::now();
            loop {
                ticker.tick().await;
                let now = Instant::now();
                eprintln!("{}", recorder.tick(now - started, now - last, unit));
                last = now;
            }
        });
        Progress { task }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on Linux by default).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// User + system CPU seconds of a process so far (`self` when `pid` is `None`), from `/proc`.
pub fn process_cpu_seconds(pid: Option<u32>, ticks: f64) -> Option<f64> {
    let path = pid.map_or_else(|| "/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces: fields are counted from after its closing parenthesis.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// CPU used by this process and (optionally) by iamd over a measured window.
pub struct CpuWindow {
    ticks: f64,
    iamd_pid: Option<u32>,
    wall: Instant,
    own: Option<f64>,
    iamd: Option<f64>,
    signing: (u64, Duration),
}

impl CpuWindow {
    /// Starts the window now.
    pub fn start(iamd_pid: Option<u32>) -> CpuWindow {
        let ticks = clock_ticks();
        CpuWindow {
            ticks,
            iamd_pid,
            wall: Instant::now(),
            own: process_cpu_seconds(None, ticks),
            iamd: iamd_pid.and_then(|p| process_cpu_seconds(Some(p), ticks)),
            signing: crate::http::signing_cost(),
        }
    }

    /// The `cpu` object of a summary, for the window up to now.
    pub fn finish(&self) -> Value {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let own = process_cpu_seconds(None, self.ticks)
            .zip(self.own)
            .map(|(end, start)| end - start);
        let iamd = self
            .iamd_pid
            .and_then(|p| process_cpu_seconds(Some(p), self.ticks))
            .zip(self.iamd)
            .map(|(end, start)| end - start);
        let (signatures_end, signing_end) = crate::http::signing_cost();
        let signatures = signatures_end - self.signing.0;
        let signing = (signing_end - self.signing.1).as_secs_f64();
        json!({
            "wallSeconds": round3(wall),
            "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            "loadtestCpuSeconds": own.map(round3),
            "loadtestCoresUsed": own.map(|s| round3(s / wall)),
            "iamdPid": self.iamd_pid,
            "iamdCpuSeconds": iamd.map(round3),
            "iamdCoresUsed": iamd.map(|s| round3(s / wall)),
            "signatures": signatures,
            "signingCpuSeconds": round3(signing),
            "signingMicrosPerRequest": if signatures == 0 { 0.0 } else { round3(signing * 1e6 / signatures as f64) },
            "signingShareOfLoadtestCpu": own.filter(|s| *s > 0.0).map(|s| round3(signing / s)),
        })
    }
}
