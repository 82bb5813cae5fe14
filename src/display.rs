//! How dates are shown to people: in the helpdesk's time zone
//! (`helpdesk.timezone`) and date format (`helpdesk.date_format`), both set
//! on the admin settings page or with `oxidesk settings set`.
//!
//! Template filters have no database handle, so the two settings are kept
//! here, read when the web server is built and again at most every
//! [`REFRESH`] after that (a change made by another process, such as the
//! CLI, shows within that time). Until a store is attached, and for values
//! that do not parse, UTC and the default format are used.

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use chrono::format::{Item, StrftimeItems};
use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::store::{self, Store};

/// How long the cached settings are used before they are read again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The format of `datetime-local` inputs (HTML), in the helpdesk's zone.
const INPUT_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// A date format, parsed once rather than on every date shown: a queue
/// page shows a hundred.
#[derive(Clone)]
struct Format(Arc<[Item<'static>]>);

impl Format {
    /// `None` for a format chrono cannot parse.
    fn parse(format: &str) -> Option<Format> {
        let items = StrftimeItems::new(format).parse_to_owned().ok()?;
        Some(Format(items.into()))
    }

    fn default_format() -> &'static Format {
        static DEFAULT: OnceLock<Format> = OnceLock::new();
        DEFAULT.get_or_init(|| {
            Format::parse(crate::settings::DEFAULT_DATE_FORMAT)
                .unwrap_or_else(|| Format(Arc::new([])))
        })
    }

    fn input() -> &'static Format {
        static INPUT: OnceLock<Format> = OnceLock::new();
        INPUT.get_or_init(|| Format::parse(INPUT_FORMAT).unwrap_or_else(|| Format(Arc::new([]))))
    }
}

#[derive(Clone)]
struct Settings {
    tz: Tz,
    /// `None`: the default format.
    format: Option<Format>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tz: Tz::UTC,
            format: None,
        }
    }
}

struct State {
    store: Option<Store>,
    settings: Settings,
    read_at: Option<Instant>,
}

static STATE: RwLock<State> = RwLock::new(State {
    store: None,
    settings: Settings {
        tz: Tz::UTC,
        format: None,
    },
    read_at: None,
});

/// Read the settings from `store` now and whenever they are older than
/// [`REFRESH`].
pub fn attach(store: Store) {
    let settings = read(&store);
    if let Ok(mut s) = STATE.write() {
        s.store = Some(store);
        s.settings = settings;
        s.read_at = Some(Instant::now());
    }
}

/// Forget the cached settings so the next date shown reads them again (the
/// admin settings page calls this after saving).
pub fn invalidate() {
    if let Ok(mut s) = STATE.write() {
        s.read_at = None;
    }
}

fn read(store: &Store) -> Settings {
    let mut out = Settings::default();
    let Ok(conn) = store.conn() else {
        return out;
    };
    if let Ok(Some(tz)) = store::settings::get(&conn, "helpdesk.timezone") {
        if let Ok(tz) = Tz::from_str(tz.trim()) {
            out.tz = tz;
        }
    }
    if let Ok(Some(f)) = store::settings::get(&conn, "helpdesk.date_format") {
        if valid_format(&f) {
            out.format = Format::parse(&f);
        }
    }
    out
}

fn current() -> Settings {
    let stale_store = match STATE.read() {
        Ok(s) => {
            let fresh = s.read_at.is_some_and(|t| t.elapsed() < REFRESH);
            if fresh || s.store.is_none() {
                return s.settings.clone();
            }
            s.store.clone()
        }
        Err(_) => return Settings::default(),
    };
    match stale_store {
        Some(store) => {
            let settings = read(&store);
            if let Ok(mut s) = STATE.write() {
                s.settings = settings.clone();
                s.read_at = Some(Instant::now());
            }
            settings
        }
        None => Settings::default(),
    }
}

/// Whether `format` is a chrono format that formats without error.
pub fn valid_format(format: &str) -> bool {
    let probe = chrono::DateTime::from_timestamp(0, 0).unwrap_or_default();
    let mut out = String::new();
    !format.trim().is_empty() && write!(out, "{}", probe.format(format)).is_ok()
}

/// `ts` in `tz` as `format` says, or as the default format says when
/// `format` is `None` or fails.
fn format_in(tz: Tz, ts: i64, format: Option<&Format>) -> String {
    let Some(utc) = chrono::DateTime::from_timestamp(ts, 0) else {
        return String::new();
    };
    let local = utc.with_timezone(&tz);
    let mut out = String::new();
    let format = format.unwrap_or(Format::default_format());
    if write!(out, "{}", local.format_with_items(format.0.iter())).is_err() {
        out.clear();
        let _ = write!(
            out,
            "{}",
            local.format_with_items(Format::default_format().0.iter())
        );
    }
    out
}

/// `ts` (Unix seconds) as the helpdesk shows dates.
pub fn datetime(ts: i64) -> String {
    let s = current();
    format_in(s.tz, ts, s.format.as_ref())
}

/// `ts` as the value of a `datetime-local` input, in the helpdesk's zone.
pub fn input_value(ts: i64) -> String {
    format_in(current().tz, ts, Some(Format::input()))
}

/// A wall-clock time typed in the helpdesk's zone, as Unix seconds. A time
/// that falls in a daylight-saving gap is read with the offset from before
/// the change (02:30 in a 02:00→03:00 gap is 03:30); an ambiguous one takes
/// the earlier instant.
pub fn from_local(local: NaiveDateTime) -> i64 {
    from_local_in(current().tz, local)
}

fn from_local_in(tz: Tz, local: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.timestamp(),
        None => {
            // In a gap: read it with the offset from before the clocks
            // moved (02:30 in a 02:00→03:00 gap becomes 03:30).
            let earlier = local - chrono::Duration::hours(1);
            tz.from_local_datetime(&earlier)
                .earliest()
                .map(|t| t.timestamp() + 3600)
                .unwrap_or_else(|| local.and_utc().timestamp())
        }
    }
}

/// The helpdesk's time zone name, for labels ("Asia/Tehran").
pub fn zone_name() -> String {
    current().tz.name().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_in(tz: Tz, ts: i64, format: &str) -> String {
        super::format_in(tz, ts, Format::parse(format).as_ref())
    }

    #[test]
    fn formats_in_the_zone_and_falls_back_on_bad_formats() {
        let ts = 1_795_000_000; // 2026-11-18 11:06:40 UTC
        assert_eq!(format_in(Tz::UTC, ts, "%Y-%m-%d %H:%M"), "2026-11-18 11:06");
        assert_eq!(
            format_in(Tz::Asia__Tehran, ts, "%d.%m.%Y %H:%M"),
            "18.11.2026 14:36"
        );
        assert_eq!(format_in(Tz::UTC, ts, "%Q"), "2026-11-18 11:06");
        assert!(valid_format("%d/%m/%Y"));
        assert!(!valid_format("%Q"));
        assert!(!valid_format(" "));
    }

    #[test]
    fn local_input_round_trips_and_handles_gaps() {
        let tz = Tz::America__New_York;
        let ts = 1_795_000_000;
        let shown = format_in(tz, ts, INPUT_FORMAT);
        let parsed = NaiveDateTime::parse_from_str(&shown, INPUT_FORMAT).unwrap();
        assert_eq!(from_local_in(tz, parsed), ts - ts % 60);
        // 2026-03-08 02:30 does not exist in New York (clocks jump 2→3).
        let gap = NaiveDateTime::parse_from_str("2026-03-08T02:30", INPUT_FORMAT).unwrap();
        let t = from_local_in(tz, gap);
        assert_eq!(format_in(tz, t, INPUT_FORMAT), "2026-03-08T03:30");
    }
}
