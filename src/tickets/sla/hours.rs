//! Business-hours arithmetic: "start + N minutes of opening hours" on a
//! weekly schedule in an IANA time zone, skipping closed days and holidays.
//!
//! Pure functions on Unix seconds, so tests pin the clock. Opening hours are
//! local wall-clock times; each interval is turned into real instants for
//! its own date, so a DST change inside an interval makes it an hour shorter
//! or longer (business time is elapsed time, as the customer experiences
//! it), and a local time that does not exist (the spring-forward gap) maps
//! to the instant the gap ends.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::store::sla::{Interval, Schedule};

/// How far ahead a due date is searched for: a schedule open less often
/// than this (every day a holiday) yields no due date rather than a loop.
const MAX_DAYS: i64 = 3 * 366;

/// A schedule ready for arithmetic.
#[derive(Debug, Clone)]
pub struct Hours {
    always_open: bool,
    tz: Tz,
    /// Per weekday (0 = Monday): sorted, non-overlapping [start, end) minutes.
    week: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Hours {
    /// Open all the time: business time is wall-clock time.
    pub fn always_open() -> Hours {
        Hours {
            always_open: true,
            tz: Tz::UTC,
            week: Default::default(),
            holidays: BTreeSet::new(),
        }
    }

    /// Weekly hours in `tz`; overlapping or touching intervals on one day
    /// are merged.
    pub fn weekly(
        tz: Tz,
        intervals: &[Interval],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Hours {
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for i in intervals {
            let (s, e) = (u32::from(i.start_min), u32::from(i.end_min).min(1440));
            if usize::from(i.weekday) < 7 && s < e {
                week[usize::from(i.weekday)].push((s, e));
            }
        }
        for day in &mut week {
            day.sort_unstable();
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(day.len());
            for &(s, e) in day.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            *day = merged;
        }
        Hours {
            always_open: false,
            tz,
            week,
            holidays: holidays.into_iter().collect(),
        }
    }

    /// The stored schedule; an unknown time zone name is an error sentence.
    pub fn from_schedule(s: &Schedule) -> Result<Hours, String> {
        if s.always_open {
            return Ok(Hours::always_open());
        }
        let tz: Tz = s.timezone.parse().map_err(|_| {
            format!(
                "schedule {} has an unknown time zone {}",
                s.name, s.timezone
            )
        })?;
        let holidays = s
            .holidays
            .iter()
            .filter_map(|h| NaiveDate::parse_from_str(&h.day, "%Y-%m-%d").ok());
        Ok(Hours::weekly(tz, &s.hours, holidays))
    }

    /// The instant `minutes` of business time after `start` (Unix seconds).
    /// None when the schedule has no opening hours in the next three years.
    pub fn add(&self, start: i64, minutes: i64) -> Option<i64> {
        let mut left = minutes.max(0) * 60;
        if self.always_open {
            return Some(start + left);
        }
        let start_utc = DateTime::from_timestamp(start, 0)?;
        let mut day = start_utc.with_timezone(&self.tz).date_naive();
        for _ in 0..MAX_DAYS {
            for (from, to) in self.open_instants(day) {
                let from = from.max(start);
                if to <= from {
                    continue;
                }
                if left <= to - from {
                    return Some(from + left);
                }
                left -= to - from;
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// Business seconds between two instants (0 when `to` is not later).
    pub fn between(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        if self.always_open {
            return to - from;
        }
        let Some(start_utc) = DateTime::from_timestamp(from, 0) else {
            return 0;
        };
        let mut day = start_utc.with_timezone(&self.tz).date_naive();
        let mut total = 0;
        // Days from `from`'s local date until one starts at or after `to`.
        while self.day_start(day).is_some_and(|s| s < to) {
            for (a, b) in self.open_instants(day) {
                let (a, b) = (a.max(from), b.min(to));
                if b > a {
                    total += b - a;
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        total
    }

    /// True when `at` falls inside opening hours.
    pub fn is_open(&self, at: i64) -> bool {
        if self.always_open {
            return true;
        }
        let Some(utc) = DateTime::from_timestamp(at, 0) else {
            return false;
        };
        let day = utc.with_timezone(&self.tz).date_naive();
        self.open_instants(day)
            .into_iter()
            .any(|(a, b)| a <= at && at < b)
    }

    /// The opening intervals of one local date as Unix-second ranges.
    fn open_instants(&self, day: NaiveDate) -> Vec<(i64, i64)> {
        if self.holidays.contains(&day) {
            return Vec::new();
        }
        let weekday = day.weekday().num_days_from_monday() as usize;
        self.week[weekday]
            .iter()
            .filter_map(|&(s, e)| {
                let a = self.instant(day, s, false)?;
                let b = self.instant(day, e, true)?;
                (b > a).then_some((a, b))
            })
            .collect()
    }

    fn day_start(&self, day: NaiveDate) -> Option<i64> {
        self.instant(day, 0, false)
    }

    /// Local `day` + `minute` as an instant. An ambiguous time (the hour
    /// repeated when clocks go back) is its earlier instant for a start and
    /// its later one for an end, so the interval covers the whole repeated
    /// hour; a time in a gap is the end of the gap.
    fn instant(&self, day: NaiveDate, minute: u32, is_end: bool) -> Option<i64> {
        let local = local_time(day, minute)?;
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.timestamp()),
            LocalResult::Ambiguous(early, late) => Some(if is_end {
                late.timestamp()
            } else {
                early.timestamp()
            }),
            LocalResult::None => {
                // Gaps start and end on quarter hours and last at most a
                // day (Samoa, 2011): the first valid quarter hour after
                // `local` is the end of the gap.
                let aligned = local - Duration::minutes(i64::from(minute % 15));
                let mut probe = aligned;
                for _ in 0..(2 * 24 * 4) {
                    probe += Duration::minutes(15);
                    if let Some(t) = self.tz.from_local_datetime(&probe).earliest() {
                        return Some(t.timestamp());
                    }
                }
                None
            }
        }
    }
}

fn local_time(day: NaiveDate, minute: u32) -> Option<NaiveDateTime> {
    if minute >= 1440 {
        day.succ_opt()?.and_hms_opt(0, 0, 0)
    } else {
        day.and_hms_opt(minute / 60, minute % 60, 0)
    }
}

#[cfg(test)]
#[path = "hours_tests.rs"]
mod tests;
