//! `GET /metrics`: Prometheus text exposition (format 0.0.4).
//!
//! Written by hand rather than with a metrics crate: the format is a few
//! lines of text, the series are fixed, and a dependency (with its own
//! registry, locks and allocation per observation) would buy nothing here.
//!
//! - HTTP: a counter and a latency histogram per route, method and status
//!   class. The series are allocated once, when the server ignites (one
//!   slot per mounted route), so recording a request is a map lookup and a
//!   few relaxed atomic additions: no lock, no allocation.
//! - Mail intake and the outbox: read from the database at scrape time,
//!   because `oxidesk pipe` runs as separate processes that share nothing
//!   with the server but the database.
//! - Outbox deliveries by this server's worker (counters in
//!   `mail::send::worker`), process resident memory (from /proc) and
//!   uptime.
//!
//! Access: from loopback (a direct connection, not one relayed by a proxy
//! on the same host), or anywhere with `Authorization: Bearer TOKEN` where
//! TOKEN is `server.metrics_token`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rocket::http::{ContentType, Method, Status};
use rocket::{Request, Route, State};

use crate::config::Config;
use crate::mail::send::worker;
use crate::store::{self, Store};

/// Upper bounds of the latency buckets, in seconds (Prometheus' defaults).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// 1xx … 5xx.
const CLASSES: usize = 5;

/// One route's (or the unmatched requests') series.
struct Series {
    method: String,
    route: String,
    /// Per status class: request count.
    count: [AtomicU64; CLASSES],
    /// Per status class: total microseconds.
    sum_us: [AtomicU64; CLASSES],
    /// Per status class and bucket: requests at or under the bound
    /// (non-cumulative here; summed when written out).
    buckets: [[AtomicU64; BUCKETS.len()]; CLASSES],
}

impl Series {
    fn new(method: &str, route: &str) -> Series {
        Series {
            method: method.to_string(),
            route: route.to_string(),
            count: Default::default(),
            sum_us: Default::default(),
            buckets: Default::default(),
        }
    }
}

struct HttpMetrics {
    /// Route path → (method, index into `series`). Keyed by the path alone
    /// so a lookup borrows the request's route and allocates nothing.
    index: HashMap<String, Vec<(Method, usize)>>,
    series: Vec<Series>,
    /// Requests no route matched (404s, rejected by a fairing…).
    unmatched: Series,
}

static HTTP: OnceLock<HttpMetrics> = OnceLock::new();
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Allocate a series per route (called once, when the server ignites; a
/// second server in the same process, as in tests, shares the first one's).
pub fn register_routes<'a>(routes: impl Iterator<Item = &'a Route>) {
    STARTED.get_or_init(Instant::now);
    HTTP.get_or_init(|| {
        let mut index: HashMap<String, Vec<(Method, usize)>> = HashMap::new();
        let mut series = Vec::new();
        for r in routes {
            let methods = index.entry(r.uri.path().to_string()).or_default();
            if !methods.iter().any(|(m, _)| *m == r.method) {
                series.push(Series::new(r.method.as_str(), r.uri.path()));
                methods.push((r.method, series.len() - 1));
            }
        }
        HttpMetrics {
            index,
            series,
            unmatched: Series::new("", "unmatched"),
        }
    });
}

/// Count one request (from the request-log fairing).
pub fn record_request(req: &Request<'_>, status: u16, elapsed: Duration) {
    let Some(http) = HTTP.get() else { return };
    let series = req
        .route()
        .and_then(|r| {
            http.index
                .get(r.uri.path())?
                .iter()
                .find(|(m, _)| *m == r.method)
                .and_then(|&(_, i)| http.series.get(i))
        })
        .unwrap_or(&http.unmatched);
    let class = usize::from(status / 100).clamp(1, CLASSES) - 1;
    let secs = elapsed.as_secs_f64();
    series.count[class].fetch_add(1, Ordering::Relaxed);
    series.sum_us[class].fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    if let Some(b) = BUCKETS.iter().position(|&le| secs <= le) {
        series.buckets[class][b].fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether the request may read the metrics.
fn allowed(req: &Request<'_>, config: &Config) -> bool {
    let token = config.server.metrics_token.trim();
    if !token.is_empty() {
        if let Some(given) = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
        {
            if constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
                return true;
            }
        }
    }
    // Loopback, and not relayed: a proxy on this host would otherwise make
    // every visitor look local.
    let relayed = ["X-Forwarded-For", "X-Real-IP", "Forwarded"]
        .iter()
        .any(|h| req.headers().contains(*h));
    !relayed && req.remote().is_some_and(|a| a.ip().is_loopback())
}

/// Compare without stopping at the first difference (the length still
/// shows, which reveals nothing useful about a random token).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The guard for `/metrics`: lets the request through or answers 403.
pub struct MetricsAccess;

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for MetricsAccess {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, ()> {
        let ok = req
            .rocket()
            .state::<Config>()
            .is_some_and(|c| allowed(req, c));
        if ok {
            rocket::request::Outcome::Success(MetricsAccess)
        } else {
            rocket::request::Outcome::Error((Status::Forbidden, ()))
        }
    }
}

#[rocket::get("/metrics")]
pub async fn metrics(
    access: Result<MetricsAccess, ()>,
    store: &State<Store>,
) -> (Status, (ContentType, String)) {
    let plain = ContentType::new("text", "plain").with_params(("version", "0.0.4"));
    if access.is_err() {
        return (
            Status::Forbidden,
            (
                ContentType::Plain,
                "metrics are served to loopback, or with the metrics token \
                 (Authorization: Bearer; server.metrics_token)\n"
                    .into(),
            ),
        );
    }
    let db = super::db(store, |c| store::metrics::snapshot(c)).await;
    let mut out = String::with_capacity(16 * 1024);
    write_http(&mut out);
    match db {
        Ok(snap) => write_db(&mut out, &snap),
        Err(e) => {
            tracing::warn!(error = ?e, "metrics: the database could not be read");
            help(
                &mut out,
                "oxidesk_database_up",
                "gauge",
                "Whether the database answered this scrape.",
            );
            out.push_str("oxidesk_database_up 0\n");
        }
    }
    write_process(&mut out);
    (Status::Ok, (plain, out))
}

fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
}

/// A label value escaped as the format asks (backslash, quote, newline).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn write_http(out: &mut String) {
    let Some(http) = HTTP.get() else { return };
    let all: Vec<&Series> = http.series.iter().chain([&http.unmatched]).collect();
    help(
        out,
        "oxidesk_http_requests_total",
        "counter",
        "HTTP requests by route, method and status class.",
    );
    for s in &all {
        for (c, count) in s.count.iter().enumerate() {
            let n = count.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "oxidesk_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}xx\"}} {n}",
                    esc(&s.method),
                    esc(&s.route),
                    c + 1
                );
            }
        }
    }
    help(
        out,
        "oxidesk_http_request_duration_seconds",
        "histogram",
        "Time from the request's arrival to its response, by route, method and status class.",
    );
    for s in &all {
        for c in 0..CLASSES {
            let n = s.count[c].load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{}xx\"",
                esc(&s.method),
                esc(&s.route),
                c + 1
            );
            let mut cumulative = 0;
            for (b, le) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[c][b].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "oxidesk_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "oxidesk_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {n}"
            );
            let sum = s.sum_us[c].load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "oxidesk_http_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "oxidesk_http_request_duration_seconds_count{{{labels}}} {n}"
            );
        }
    }
}

fn write_db(out: &mut String, snap: &store::metrics::Snapshot) {
    help(
        out,
        "oxidesk_database_up",
        "gauge",
        "Whether the database answered this scrape.",
    );
    out.push_str("oxidesk_database_up 1\n");
    help(
        out,
        "oxidesk_inbound_messages",
        "gauge",
        "Inbound mail kept in the database (pipe and HTTP intake), by status: stored (filed on a ticket), quarantined, rejected.",
    );
    for status in ["stored", "quarantined", "rejected"] {
        let n = snap.raw_by_status.get(status).copied().unwrap_or(0);
        let _ = writeln!(out, "oxidesk_inbound_messages{{status=\"{status}\"}} {n}");
    }
    help(
        out,
        "oxidesk_outbox_messages",
        "gauge",
        "Outgoing mail in the outbox, by state.",
    );
    for state in ["queued", "sending", "sent", "failed"] {
        let n = snap.outbox_by_state.get(state).copied().unwrap_or(0);
        let _ = writeln!(out, "oxidesk_outbox_messages{{state=\"{state}\"}} {n}");
    }
    help(
        out,
        "oxidesk_outbox_depth",
        "gauge",
        "Outgoing mail not yet delivered (queued or being sent).",
    );
    let depth = ["queued", "sending"]
        .iter()
        .map(|s| snap.outbox_by_state.get(*s).copied().unwrap_or(0))
        .sum::<i64>();
    let _ = writeln!(out, "oxidesk_outbox_depth {depth}");
    help(
        out,
        "oxidesk_outbox_retrying",
        "gauge",
        "Queued mail whose last delivery attempt failed temporarily.",
    );
    let _ = writeln!(out, "oxidesk_outbox_retrying {}", snap.outbox_retrying);
    help(
        out,
        "oxidesk_outbox_failed",
        "gauge",
        "Outgoing mail that failed for good (refused, or retries exhausted).",
    );
    let failed = snap.outbox_by_state.get("failed").copied().unwrap_or(0);
    let _ = writeln!(out, "oxidesk_outbox_failed {failed}");
    help(
        out,
        "oxidesk_outbox_oldest_queued_seconds",
        "gauge",
        "Age of the oldest undelivered message (0 when none).",
    );
    let _ = writeln!(
        out,
        "oxidesk_outbox_oldest_queued_seconds {}",
        snap.oldest_queued_age
    );
}

fn write_process(out: &mut String) {
    help(
        out,
        "oxidesk_outbox_deliveries_total",
        "counter",
        "Delivery attempts by this server's outbox worker since it started, by result.",
    );
    for (result, n) in [
        ("sent", &worker::OUTBOX_SENT),
        ("retry", &worker::OUTBOX_RETRIED),
        ("failed", &worker::OUTBOX_FAILED),
    ] {
        let _ = writeln!(
            out,
            "oxidesk_outbox_deliveries_total{{result=\"{result}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    if let Some(rss) = resident_bytes() {
        help(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {rss}");
    }
    help(
        out,
        "oxidesk_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    let up = STARTED.get().map_or(0.0, |s| s.elapsed().as_secs_f64());
    let _ = writeln!(out, "oxidesk_uptime_seconds {up:.0}");
    help(
        out,
        "oxidesk_build_info",
        "gauge",
        "The running version (value 1).",
    );
    let _ = writeln!(
        out,
        "oxidesk_build_info{{version=\"{}\"}} 1",
        esc(crate::cli::version())
    );
}

/// VmRSS from /proc/self/status (Linux); None elsewhere.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_tokens_compared_whole() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(resident_bytes().is_some_and(|b| b > 0));
        }
    }
}
