//! Business-hours arithmetic with fixed clocks.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::Hours;
use crate::store::sla::{Holiday, Interval, Schedule};

/// Local wall-clock time in `tz` as Unix seconds ("2026-11-23 10:00").
fn at(tz: Tz, local: &str) -> i64 {
    let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&naive)
        .earliest()
        .unwrap()
        .timestamp()
}

fn utc(local: &str) -> i64 {
    at(Tz::UTC, local)
}

fn days(weekdays: &[u8], spans: &[(u16, u16)]) -> Vec<Interval> {
    let mut out = Vec::new();
    for &weekday in weekdays {
        for &(s, e) in spans {
            out.push(Interval {
                weekday,
                start_min: s,
                end_min: e,
            });
        }
    }
    out
}

const MON_FRI: &[u8] = &[0, 1, 2, 3, 4];
const NINE_TO_FIVE: &[(u16, u16)] = &[(9 * 60, 17 * 60)];

fn office(tz: Tz) -> Hours {
    Hours::weekly(tz, &days(MON_FRI, NINE_TO_FIVE), [])
}

// 2026-11-23 is a Monday.

#[test]
fn inside_hours_counts_straight_on() {
    let h = office(Tz::UTC);
    assert_eq!(
        h.add(utc("2026-11-23 10:00"), 120),
        Some(utc("2026-11-23 12:00"))
    );
}

#[test]
fn the_end_of_the_day_is_still_that_day() {
    let h = office(Tz::UTC);
    assert_eq!(
        h.add(utc("2026-11-23 09:00"), 8 * 60),
        Some(utc("2026-11-23 17:00"))
    );
    assert_eq!(
        h.add(utc("2026-11-23 16:00"), 61),
        Some(utc("2026-11-24 09:01"))
    );
}

#[test]
fn before_and_after_hours_wait_for_the_opening() {
    let h = office(Tz::UTC);
    assert_eq!(
        h.add(utc("2026-11-23 07:00"), 60),
        Some(utc("2026-11-23 10:00"))
    );
    assert_eq!(
        h.add(utc("2026-11-23 18:00"), 120),
        Some(utc("2026-11-24 11:00"))
    );
}

#[test]
fn weekends_are_skipped() {
    let h = office(Tz::UTC);
    // Friday 16:00 + 2 h: one hour on Friday, one on Monday.
    assert_eq!(
        h.add(utc("2026-11-27 16:00"), 120),
        Some(utc("2026-11-30 10:00"))
    );
    // Opened on Saturday: the clock starts on Monday morning.
    assert_eq!(
        h.add(utc("2026-11-28 10:00"), 60),
        Some(utc("2026-11-30 10:00"))
    );
    // 18 business hours from Monday 09:00: Monday 8 h, Tuesday 8 h, Wednesday 2 h.
    assert_eq!(
        h.add(utc("2026-11-23 09:00"), 18 * 60),
        Some(utc("2026-11-25 11:00"))
    );
}

#[test]
fn holidays_are_skipped() {
    let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let h = Hours::weekly(Tz::UTC, &days(MON_FRI, NINE_TO_FIVE), [monday]);
    assert_eq!(
        h.add(utc("2026-11-27 16:00"), 120),
        Some(utc("2026-12-01 10:00"))
    );
    assert!(!h.is_open(utc("2026-11-30 10:00")));
    assert!(h.is_open(utc("2026-12-01 10:00")));
}

#[test]
fn several_intervals_a_day() {
    let h = Hours::weekly(
        Tz::UTC,
        &days(MON_FRI, &[(9 * 60, 12 * 60), (13 * 60, 17 * 60)]),
        [],
    );
    // 11:00 + 2 h: one hour before lunch, one after.
    assert_eq!(
        h.add(utc("2026-11-23 11:00"), 120),
        Some(utc("2026-11-23 14:00"))
    );
    // Written during lunch: the clock starts at 13:00.
    assert_eq!(
        h.add(utc("2026-11-23 12:30"), 30),
        Some(utc("2026-11-23 13:30"))
    );
    assert!(!h.is_open(utc("2026-11-23 12:30")));
}

#[test]
fn overlapping_intervals_count_once() {
    let h = Hours::weekly(
        Tz::UTC,
        &days(&[0], &[(9 * 60, 12 * 60), (11 * 60, 13 * 60)]),
        [],
    );
    assert_eq!(
        h.between(utc("2026-11-23 00:00"), utc("2026-11-24 00:00")),
        4 * 3600
    );
}

#[test]
fn tehran_week_runs_saturday_to_wednesday() {
    let tz: Tz = "Asia/Tehran".parse().unwrap();
    // Saturday (5) to Wednesday (2), 08:00–16:00; Thursday 08:00–12:00.
    let mut hours = days(&[5, 6, 0, 1, 2], &[(8 * 60, 16 * 60)]);
    hours.extend(days(&[3], &[(8 * 60, 12 * 60)]));
    let h = Hours::weekly(tz, &hours, []);
    // Wednesday 2026-11-25 15:00 + 6 h: 1 h Wednesday, 4 h Thursday, 1 h Saturday.
    let due = h.add(at(tz, "2026-11-25 15:00"), 6 * 60).unwrap();
    assert_eq!(due, at(tz, "2026-11-28 09:00"));
    // Iran keeps +03:30 all year.
    assert_eq!(due, utc("2026-11-28 05:30"));
}

#[test]
fn new_york_across_the_end_of_daylight_saving() {
    let tz: Tz = "America/New_York".parse().unwrap();
    let h = office(tz);
    // Friday 2026-10-30 16:00 EDT + 2 h → Monday 2026-11-02 10:00 EST.
    let due = h.add(at(tz, "2026-10-30 16:00"), 120).unwrap();
    assert_eq!(due, at(tz, "2026-11-02 10:00"));
    assert_eq!(due, utc("2026-11-02 15:00"));
}

#[test]
fn business_time_is_elapsed_time_on_dst_days() {
    let tz: Tz = "America/New_York".parse().unwrap();
    let all_day = Hours::weekly(tz, &days(&[0, 1, 2, 3, 4, 5, 6], &[(0, 1440)]), []);
    // Sunday 2026-11-01 has 25 hours: 24 h from Saturday noon is Sunday 11:00.
    let due = all_day.add(at(tz, "2026-10-31 12:00"), 24 * 60).unwrap();
    assert_eq!(due, at(tz, "2026-11-01 11:00"));
    assert_eq!(due - at(tz, "2026-10-31 12:00"), 24 * 3600);
    // Sunday 2026-03-08 has 23 hours.
    let sunday = at(tz, "2026-03-08 00:00");
    assert_eq!(
        all_day.between(sunday, at(tz, "2026-03-09 00:00")),
        23 * 3600
    );
}

#[test]
fn an_interval_starting_in_the_spring_gap_starts_when_the_gap_ends() {
    let tz: Tz = "America/New_York".parse().unwrap();
    // Sunday 02:30–05:00: 02:30 does not exist on 2026-03-08, so the day's
    // hours run 03:00 EDT–05:00 EDT.
    let h = Hours::weekly(tz, &days(&[6], &[(150, 300)]), []);
    let day = at(tz, "2026-03-08 00:00");
    assert_eq!(h.between(day, day + 86_400), 2 * 3600);
    assert_eq!(h.add(day, 1), Some(utc("2026-03-08 07:01")));
    // The hour repeated in November counts twice: 01:00–02:00 is 2 h long.
    let h = Hours::weekly(tz, &days(&[6], &[(60, 120)]), []);
    let day = at(tz, "2026-11-01 00:00");
    assert_eq!(h.between(day, day + 90_000), 2 * 3600);
}

#[test]
fn always_open_is_wall_clock_time() {
    let h = Hours::always_open();
    let t = utc("2026-11-28 23:00");
    assert_eq!(h.add(t, 18 * 60), Some(t + 18 * 3600));
    assert_eq!(h.between(t, t + 100), 100);
    assert!(h.is_open(t));
}

#[test]
fn a_schedule_without_hours_never_falls_due() {
    let h = Hours::weekly(Tz::UTC, &[], []);
    assert_eq!(h.add(utc("2026-11-23 10:00"), 60), None);
    assert_eq!(
        h.between(utc("2026-11-23 10:00"), utc("2026-11-30 10:00")),
        0
    );
}

#[test]
fn between_counts_only_open_time() {
    let h = office(Tz::UTC);
    assert_eq!(
        h.between(utc("2026-11-27 16:00"), utc("2026-11-30 10:00")),
        2 * 3600
    );
    assert_eq!(
        h.between(utc("2026-11-30 10:00"), utc("2026-11-27 16:00")),
        0
    );
}

#[test]
fn from_a_stored_schedule() {
    let s = Schedule {
        id: 7,
        name: "Office".into(),
        timezone: "Europe/Berlin".into(),
        always_open: false,
        hours: days(MON_FRI, NINE_TO_FIVE),
        holidays: vec![Holiday {
            id: 1,
            day: "2026-12-25".into(),
            name: "Christmas".into(),
        }],
    };
    let h = Hours::from_schedule(&s).unwrap();
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    // Thursday 24th 16:00 + 2 h: 1 h Thursday, Friday 25th is a holiday,
    // then Monday 28th.
    assert_eq!(
        h.add(at(tz, "2026-12-24 16:00"), 120),
        Some(at(tz, "2026-12-28 10:00"))
    );
    let bad = Schedule {
        timezone: "Mars/Olympus".into(),
        ..s
    };
    assert!(Hours::from_schedule(&bad)
        .unwrap_err()
        .contains("Mars/Olympus"));
}
