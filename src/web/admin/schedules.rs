//! Admin: business-hours schedules (weekly hours per time zone) and their
//! holidays. Every change writes a `config.*` audit event.

use chrono::NaiveDate;
use chrono_tz::Tz;
use rocket::form::Form;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use serde::Serialize;
use serde_json::json;

use super::sla::{actor, in_tx, Errors, FormResult};
use crate::store::sla::{self, Interval, Schedule};
use crate::store::{self, Store, StoreError};
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![
        index,
        new_schedule,
        create_schedule,
        show,
        update_schedule,
        delete_schedule,
        add_holiday,
        delete_holiday
    ]
}

/// Weekday field names, Monday first (weekday 0).
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One day's hours as typed: "09:00-12:30, 13:30-18:00" (empty = closed).
/// Returns (start, end) minutes, sorted; `24:00` ends at midnight.
pub fn parse_day(s: &str) -> Result<Vec<(u16, u16)>, &'static str> {
    let mut out = Vec::new();
    for part in s.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once(['-', '–']).ok_or("sla.err_hours_format")?;
        let (a, b) = (
            parse_clock(a).ok_or("sla.err_hours_format")?,
            parse_clock(b).ok_or("sla.err_hours_format")?,
        );
        if a >= b || a >= 1440 {
            return Err("sla.err_hours_order");
        }
        out.push((a, b));
    }
    out.sort_unstable();
    if out.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err("sla.err_hours_overlap");
    }
    Ok(out)
}

/// "9", "09:30", "24:00" → minutes from midnight.
fn parse_clock(s: &str) -> Option<u16> {
    let s = s.trim();
    let (h, m) = match s.split_once([':', '.']) {
        Some((h, m)) => (h.trim().parse::<u16>().ok()?, m.trim().parse::<u16>().ok()?),
        None => (s.parse::<u16>().ok()?, 0),
    };
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return None;
    }
    Some(h * 60 + m)
}

fn clock(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A day's intervals as the form shows them.
fn format_day(hours: &[Interval], weekday: u8) -> String {
    hours
        .iter()
        .filter(|h| h.weekday == weekday)
        .map(|h| format!("{}-{}", clock(h.start_min), clock(h.end_min)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(FromForm, Serialize, Default, Clone)]
struct ScheduleForm {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    timezone: String,
    #[field(default = String::new())]
    mon: String,
    #[field(default = String::new())]
    tue: String,
    #[field(default = String::new())]
    wed: String,
    #[field(default = String::new())]
    thu: String,
    #[field(default = String::new())]
    fri: String,
    #[field(default = String::new())]
    sat: String,
    #[field(default = String::new())]
    sun: String,
}

impl ScheduleForm {
    fn days(&self) -> [&str; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }

    fn of(s: &Schedule) -> ScheduleForm {
        let d = |w: u8| format_day(&s.hours, w);
        ScheduleForm {
            name: s.name.clone(),
            timezone: s.timezone.clone(),
            mon: d(0),
            tue: d(1),
            wed: d(2),
            thu: d(3),
            fri: d(4),
            sat: d(5),
            sun: d(6),
        }
    }
}

struct Checked {
    name: String,
    timezone: String,
    hours: Vec<Interval>,
}

fn check(lang: &str, f: &ScheduleForm) -> Result<Checked, Errors> {
    let mut errors = Errors::new();
    let name = f.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        errors.insert("name", i18n::t(lang, "sla.err_name", &[]));
    }
    let timezone = f.timezone.trim().to_string();
    if timezone.parse::<Tz>().is_err() {
        errors.insert("timezone", i18n::t(lang, "sla.err_timezone", &[]));
    }
    let mut hours = Vec::new();
    for (weekday, (field, value)) in DAYS.iter().zip(f.days()).enumerate() {
        match parse_day(value) {
            Ok(spans) => hours.extend(spans.into_iter().map(|(s, e)| Interval {
                weekday: weekday as u8,
                start_min: s,
                end_min: e,
            })),
            Err(key) => {
                errors.insert(field, i18n::t(lang, key, &[]));
            }
        }
    }
    if errors.is_empty() {
        Ok(Checked {
            name,
            timezone,
            hours,
        })
    } else {
        Err(errors)
    }
}

#[get("/schedules")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let list = db(store, |c| sla::list_schedules(c)).await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("schedules", &list);
    render(templates, "admin/schedules.html", &ctx)
}

#[derive(Serialize, Default)]
struct HolidayForm {
    day: String,
    name: String,
}

#[allow(clippy::too_many_arguments)]
async fn schedule_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    schedule: Option<&Schedule>,
    form: &ScheduleForm,
    holiday: &HolidayForm,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let mut ctx = page(store, &me.0, "admin").await?;
    let days: Vec<serde_json::Value> = DAYS
        .iter()
        .zip(form.days())
        .map(|(k, v)| json!({ "key": k, "value": v, "error": errors.get(k) }))
        .collect();
    ctx.insert("schedule", &schedule);
    ctx.insert("form", form);
    ctx.insert("days", &days);
    ctx.insert("holiday", holiday);
    ctx.insert("errors", errors);
    ctx.insert("timezones", &timezones());
    render(templates, "admin/schedule.html", &ctx)
}

fn timezones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect()
}

#[get("/schedules/new")]
async fn new_schedule(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let tz = db(store, |c| {
        store::settings::get_or(c, "helpdesk.timezone", "UTC")
    })
    .await?;
    let office = "09:00-17:00".to_string();
    let form = ScheduleForm {
        timezone: tz,
        mon: office.clone(),
        tue: office.clone(),
        wed: office.clone(),
        thu: office.clone(),
        fri: office,
        ..ScheduleForm::default()
    };
    let holiday = HolidayForm::default();
    schedule_page(store, templates, &me, None, &form, &holiday, &Errors::new()).await
}

async fn load(store: &Store, id: i64) -> Result<Schedule, WebError> {
    db(store, move |c| sla::get_schedule(c, id))
        .await?
        .ok_or(WebError::NotFound)
}

#[get("/schedules/<id>")]
async fn show(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<RawHtml<String>, WebError> {
    let s = load(store, id).await?;
    let (form, holiday) = (ScheduleForm::of(&s), HolidayForm::default());
    schedule_page(
        store,
        templates,
        &me,
        Some(&s),
        &form,
        &holiday,
        &Errors::new(),
    )
    .await
}

fn invalid_beside(e: WebError, field: &'static str, errors: &mut Errors) -> Result<(), WebError> {
    match e {
        WebError::Store(StoreError::Invalid(m)) => {
            errors.insert(field, m);
            Ok(())
        }
        other => Err(other),
    }
}

#[post("/schedules", data = "<form>")]
async fn create_schedule(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<ScheduleForm>,
) -> FormResult {
    let form = form.into_inner();
    let mut errors = Errors::new();
    match check(&me.0.lang, &form) {
        Ok(c) => {
            let who = actor(&me);
            let saved = db(store, move |conn| {
                in_tx(conn, |tx| {
                    let id = sla::create_schedule(tx, &c.name, &c.timezone, &c.hours)?;
                    let data = json!({
                        "id": id, "name": c.name, "timezone": c.timezone, "hours": c.hours,
                    });
                    store::events::insert_config(tx, &who, "config.schedule_created", &data)?;
                    Ok(id)
                })
            })
            .await;
            match saved {
                Ok(id) => return Ok(Ok(Redirect::to(format!("/admin/schedules/{id}")))),
                Err(e) => invalid_beside(e, "name", &mut errors)?,
            }
        }
        Err(e) => errors = e,
    }
    let holiday = HolidayForm::default();
    let page = schedule_page(store, templates, &me, None, &form, &holiday, &errors).await?;
    Ok(Err((Status::BadRequest, page)))
}

#[post("/schedules/<id>", data = "<form>")]
async fn update_schedule(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<ScheduleForm>,
) -> FormResult {
    let s = load(store, id).await?;
    let mut form = form.into_inner();
    if s.always_open {
        // Always open: only the name is the admin's to choose.
        let keep = ScheduleForm::of(&s);
        form = ScheduleForm {
            name: form.name,
            ..keep
        };
    }
    let mut errors = Errors::new();
    match check(&me.0.lang, &form) {
        Ok(c) => {
            let who = actor(&me);
            let before = ScheduleForm::of(&s);
            let saved = db(store, move |conn| {
                in_tx(conn, |tx| {
                    sla::update_schedule(tx, id, &c.name, &c.timezone, &c.hours)?;
                    let data = json!({
                        "id": id, "before": before,
                        "after": { "name": c.name, "timezone": c.timezone, "hours": c.hours },
                    });
                    store::events::insert_config(tx, &who, "config.schedule_updated", &data)?;
                    Ok(())
                })
            })
            .await;
            match saved {
                Ok(()) => return Ok(Ok(Redirect::to(format!("/admin/schedules/{id}")))),
                Err(e) => invalid_beside(e, "name", &mut errors)?,
            }
        }
        Err(e) => errors = e,
    }
    let holiday = HolidayForm::default();
    let page = schedule_page(store, templates, &me, Some(&s), &form, &holiday, &errors).await?;
    Ok(Err((Status::BadRequest, page)))
}

#[post("/schedules/<id>/delete")]
async fn delete_schedule(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> FormResult {
    let s = load(store, id).await?;
    let who = actor(&me);
    let name = s.name.clone();
    let done = db(store, move |conn| {
        in_tx(conn, |tx| {
            sla::delete_schedule(tx, id)?;
            let data = json!({ "id": id, "name": name });
            store::events::insert_config(tx, &who, "config.schedule_deleted", &data)?;
            Ok(())
        })
    })
    .await;
    let mut errors = Errors::new();
    match done {
        Ok(()) => return Ok(Ok(Redirect::to("/admin/schedules"))),
        Err(e) => invalid_beside(e, "delete", &mut errors)?,
    }
    let (form, holiday) = (ScheduleForm::of(&s), HolidayForm::default());
    let page = schedule_page(store, templates, &me, Some(&s), &form, &holiday, &errors).await?;
    Ok(Err((Status::BadRequest, page)))
}

#[derive(FromForm)]
struct NewHoliday {
    #[field(default = String::new())]
    day: String,
    #[field(default = String::new())]
    name: String,
}

#[post("/schedules/<id>/holidays", data = "<form>")]
async fn add_holiday(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<NewHoliday>,
) -> FormResult {
    let s = load(store, id).await?;
    let lang = me.0.lang.clone();
    let typed = HolidayForm {
        day: form.day.trim().to_string(),
        name: form.name.trim().to_string(),
    };
    let mut errors = Errors::new();
    let day = NaiveDate::parse_from_str(&typed.day, "%Y-%m-%d").ok();
    if day.is_none() {
        errors.insert("holiday_day", i18n::t(&lang, "sla.err_day", &[]));
    }
    if typed.name.chars().count() > 100 {
        errors.insert("holiday_name", i18n::t(&lang, "sla.err_name_long", &[]));
    }
    if let (Some(day), true) = (day, errors.is_empty()) {
        let (who, name) = (actor(&me), typed.name.clone());
        let day = day.format("%Y-%m-%d").to_string();
        let saved = db(store, move |conn| {
            in_tx(conn, |tx| {
                let hid = sla::add_holiday(tx, id, &day, &name)?;
                let data = json!({ "schedule_id": id, "id": hid, "day": day, "name": name });
                store::events::insert_config(tx, &who, "config.schedule_holiday_added", &data)?;
                Ok(())
            })
        })
        .await;
        match saved {
            Ok(()) => return Ok(Ok(Redirect::to(format!("/admin/schedules/{id}")))),
            Err(e) => invalid_beside(e, "holiday_day", &mut errors)?,
        }
    }
    let form = ScheduleForm::of(&s);
    let page = schedule_page(store, templates, &me, Some(&s), &form, &typed, &errors).await?;
    Ok(Err((Status::BadRequest, page)))
}

#[post("/schedules/<id>/holidays/<holiday>/delete")]
async fn delete_holiday(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
    holiday: i64,
) -> Result<Redirect, WebError> {
    let who = actor(&me);
    db(store, move |conn| {
        in_tx(conn, |tx| {
            let Some(day) = sla::delete_holiday(tx, id, holiday)? else {
                return Err(StoreError::NotFound(format!("holiday {holiday}")));
            };
            let data = json!({ "schedule_id": id, "id": holiday, "day": day });
            store::events::insert_config(tx, &who, "config.schedule_holiday_removed", &data)?;
            Ok(())
        })
    })
    .await?;
    Ok(Redirect::to(format!("/admin/schedules/{id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_hours_parse_several_intervals() {
        assert_eq!(parse_day(""), Ok(vec![]));
        assert_eq!(parse_day("09:00-17:00"), Ok(vec![(540, 1020)]));
        assert_eq!(
            parse_day("13:30-18:00, 9-12:30"),
            Ok(vec![(540, 750), (810, 1080)])
        );
        assert_eq!(parse_day("00:00–24:00"), Ok(vec![(0, 1440)]));
        assert_eq!(parse_day("9.15-10"), Ok(vec![(555, 600)]));
    }

    #[test]
    fn day_hours_refuse_nonsense() {
        assert_eq!(parse_day("nine to five"), Err("sla.err_hours_format"));
        assert_eq!(parse_day("09:00"), Err("sla.err_hours_format"));
        assert_eq!(parse_day("25:00-26:00"), Err("sla.err_hours_format"));
        assert_eq!(parse_day("17:00-09:00"), Err("sla.err_hours_order"));
        assert_eq!(parse_day("24:00-24:00"), Err("sla.err_hours_order"));
        assert_eq!(
            parse_day("09:00-12:00, 11:00-13:00"),
            Err("sla.err_hours_overlap")
        );
    }

    #[test]
    fn days_round_trip_through_the_form() {
        let hours = [
            Interval {
                weekday: 0,
                start_min: 540,
                end_min: 750,
            },
            Interval {
                weekday: 0,
                start_min: 810,
                end_min: 1440,
            },
        ];
        let shown = format_day(&hours, 0);
        assert_eq!(shown, "09:00-12:30, 13:30-24:00");
        assert_eq!(parse_day(&shown), Ok(vec![(540, 750), (810, 1440)]));
        assert_eq!(format_day(&hours, 1), "");
    }
}
