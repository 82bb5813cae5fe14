//! Admin: SLA plans (list, create, edit, remove) and the default plan for
//! new tickets. Every change writes a `config.*` audit event.

use std::collections::BTreeMap;

use rocket::form::Form;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use rusqlite::Connection;
use serde::Serialize;
use serde_json::json;

use crate::model::{SlaPlanId, StaffId};
use crate::store::sla::{self, PlanFields, SlaPlan};
use crate::store::{self, Conn, Context as _, Store, StoreError, StoreResult};
use crate::tickets::events::Actor;
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

/// Longest grace period accepted, in hours (a year of round-the-clock time).
const MAX_GRACE_HOURS: i64 = 8760;

pub fn routes() -> Vec<Route> {
    routes![
        index,
        new_plan,
        create_plan,
        edit_plan,
        update_plan,
        delete_plan,
        set_default
    ]
}

/// Field name → message, shown beside the field.
pub(crate) type Errors = BTreeMap<&'static str, String>;

/// A page answer: the page, or the form again with a 400 and its errors.
pub(crate) type FormResult = Result<Result<Redirect, (Status, RawHtml<String>)>, WebError>;

pub(crate) fn actor(me: &AdminSession) -> Actor {
    Actor::Staff {
        id: me.0.staff_id,
        name: me.0.name.clone(),
    }
}

/// Run a configuration change and its audit event in one transaction.
pub(crate) fn in_tx<T>(
    c: &mut Conn,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = c
        .transaction()
        .ctx(|| "starting a configuration change".into())?;
    let v = f(&tx)?;
    tx.commit().ctx(|| "saving a configuration change".into())?;
    Ok(v)
}

#[derive(Serialize)]
struct PlanRow {
    #[serde(flatten)]
    plan: SlaPlan,
    grace: String,
    escalate_to_name: Option<String>,
    is_default: bool,
}

/// "18", "1.5" or "2:30" hours, as minutes.
pub fn parse_grace(s: &str) -> Option<i64> {
    let s = s.trim();
    let minutes = if let Some((h, m)) = s.split_once(':') {
        let h: i64 = h.trim().parse().ok()?;
        let m: i64 = m.trim().parse().ok()?;
        if !(0..60).contains(&m) || h < 0 {
            return None;
        }
        h * 60 + m
    } else {
        let h: f64 = s.replace(',', ".").parse().ok()?;
        if !h.is_finite() || h < 0.0 {
            return None;
        }
        (h * 60.0).round() as i64
    };
    (1..=MAX_GRACE_HOURS * 60)
        .contains(&minutes)
        .then_some(minutes)
}

/// Minutes as the form shows them: "18" or "1:30".
pub fn format_grace(minutes: i64) -> String {
    if minutes % 60 == 0 {
        (minutes / 60).to_string()
    } else {
        format!("{}:{:02}", minutes / 60, minutes % 60)
    }
}

#[get("/sla")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let (plans, default, staff) = db(store, |c| {
        Ok((
            sla::list_plans(c)?,
            sla::default_plan(c)?,
            store::staff::list(c)?,
        ))
    })
    .await?;
    let rows: Vec<PlanRow> = plans
        .into_iter()
        .map(|p| PlanRow {
            grace: format_grace(p.grace_minutes),
            escalate_to_name: p
                .escalate_to
                .and_then(|id| staff.iter().find(|s| s.id == id))
                .map(|s| s.name.clone()),
            is_default: default == Some(p.id),
            plan: p,
        })
        .collect();
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("plans", &rows);
    ctx.insert("default_plan", &default);
    render(templates, "admin/sla.html", &ctx)
}

#[derive(FromForm, Serialize, Default, Clone)]
struct PlanForm {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    grace_hours: String,
    #[field(default = String::new())]
    schedule: String,
    active: bool,
    escalate_priority: bool,
    #[field(default = String::new())]
    escalate_to: String,
    overdue_alerts: bool,
}

impl PlanForm {
    fn of(p: &SlaPlan) -> PlanForm {
        PlanForm {
            name: p.name.clone(),
            grace_hours: format_grace(p.grace_minutes),
            schedule: p.schedule_id.to_string(),
            active: p.active,
            escalate_priority: p.escalate_priority,
            escalate_to: p.escalate_to.map(|s| s.to_string()).unwrap_or_default(),
            overdue_alerts: p.overdue_alerts,
        }
    }
}

/// The checked values of a plan form, or the errors beside its fields.
struct Checked {
    name: String,
    grace_minutes: i64,
    schedule_id: i64,
    escalate_to: Option<StaffId>,
}

fn check(
    lang: &str,
    f: &PlanForm,
    schedules: &[i64],
    staff: &[StaffId],
) -> Result<Checked, Errors> {
    let mut errors = Errors::new();
    let name = f.name.trim().to_string();
    if name.is_empty() {
        errors.insert("name", i18n::t(lang, "sla.err_name", &[]));
    } else if name.chars().count() > 100 {
        errors.insert("name", i18n::t(lang, "sla.err_name_long", &[]));
    }
    let grace = parse_grace(&f.grace_hours);
    if grace.is_none() {
        errors.insert(
            "grace_hours",
            i18n::t(
                lang,
                "sla.err_grace",
                &[("max", MAX_GRACE_HOURS.to_string())],
            ),
        );
    }
    let schedule = f
        .schedule
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| schedules.contains(s));
    if schedule.is_none() {
        errors.insert("schedule", i18n::t(lang, "sla.err_schedule", &[]));
    }
    let escalate_to = match f.escalate_to.trim() {
        "" => None,
        s => match s
            .parse::<i64>()
            .ok()
            .map(StaffId)
            .filter(|s| staff.contains(s))
        {
            Some(id) => Some(id),
            None => {
                errors.insert("escalate_to", i18n::t(lang, "sla.err_staff", &[]));
                None
            }
        },
    };
    match (grace, schedule) {
        (Some(grace_minutes), Some(schedule_id)) if errors.is_empty() => Ok(Checked {
            name,
            grace_minutes,
            schedule_id,
            escalate_to,
        }),
        _ => Err(errors),
    }
}

async fn plan_form(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: Option<SlaPlanId>,
    form: &PlanForm,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let (schedules, staff) = db(store, |c| {
        Ok((sla::list_schedules(c)?, store::staff::list_active(c)?))
    })
    .await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("plan_id", &id);
    ctx.insert("form", form);
    ctx.insert("errors", errors);
    ctx.insert("schedules", &schedules);
    ctx.insert("staff", &staff);
    render(templates, "admin/sla_plan.html", &ctx)
}

#[get("/sla/plans/new")]
async fn new_plan(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let form = PlanForm {
        grace_hours: "18".into(),
        schedule: sla::ALWAYS_OPEN_SCHEDULE.to_string(),
        active: true,
        overdue_alerts: true,
        ..PlanForm::default()
    };
    plan_form(store, templates, &me, None, &form, &Errors::new()).await
}

#[get("/sla/plans/<id>")]
async fn edit_plan(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<RawHtml<String>, WebError> {
    let id = SlaPlanId(id);
    let plan = db(store, move |c| sla::get_plan(c, id))
        .await?
        .ok_or(WebError::NotFound)?;
    plan_form(
        store,
        templates,
        &me,
        Some(id),
        &PlanForm::of(&plan),
        &Errors::new(),
    )
    .await
}

/// Check a submitted plan form against the schedules and staff that exist.
async fn checked(
    store: &Store,
    me: &AdminSession,
    form: &PlanForm,
) -> Result<Result<Checked, Errors>, WebError> {
    let (schedules, staff) = db(store, |c| {
        Ok((
            sla::list_schedules(c)?
                .into_iter()
                .map(|s| s.id)
                .collect::<Vec<_>>(),
            store::staff::list_active(c)?
                .into_iter()
                .map(|s| s.id)
                .collect::<Vec<_>>(),
        ))
    })
    .await?;
    Ok(check(&me.0.lang, form, &schedules, &staff))
}

fn fields<'a>(c: &'a Checked, f: &PlanForm) -> PlanFields<'a> {
    PlanFields {
        name: &c.name,
        grace_minutes: c.grace_minutes,
        schedule_id: c.schedule_id,
        active: f.active,
        escalate_priority: f.escalate_priority,
        escalate_to: c.escalate_to,
        overdue_alerts: f.overdue_alerts,
    }
}

fn plan_json(c: &Checked, f: &PlanForm) -> serde_json::Value {
    json!({
        "name": c.name, "grace_minutes": c.grace_minutes, "schedule_id": c.schedule_id,
        "active": f.active, "escalate_priority": f.escalate_priority,
        "escalate_to_staff_id": c.escalate_to, "overdue_alerts": f.overdue_alerts,
    })
}

/// A store `Invalid` (a name in use) goes beside the name field.
fn name_taken(e: WebError, errors: &mut Errors) -> Result<(), WebError> {
    match e {
        WebError::Store(StoreError::Invalid(m)) => {
            errors.insert("name", m);
            Ok(())
        }
        other => Err(other),
    }
}

#[post("/sla/plans", data = "<form>")]
async fn create_plan(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<PlanForm>,
) -> FormResult {
    let form = form.into_inner();
    let errors = match checked(store, &me, &form).await? {
        Ok(c) => {
            let (f, who) = (form.clone(), actor(&me));
            let saved = db(store, move |conn| {
                in_tx(conn, |tx| {
                    let id = sla::create_plan(tx, &fields(&c, &f))?;
                    let mut data = plan_json(&c, &f);
                    data["id"] = json!(id);
                    store::events::insert_config(tx, &who, "config.sla_plan_created", &data)?;
                    Ok(id)
                })
            })
            .await;
            match saved {
                Ok(_) => return Ok(Ok(Redirect::to("/admin/sla"))),
                Err(e) => {
                    let mut errors = Errors::new();
                    name_taken(e, &mut errors)?;
                    errors
                }
            }
        }
        Err(errors) => errors,
    };
    let page = plan_form(store, templates, &me, None, &form, &errors).await?;
    Ok(Err((Status::BadRequest, page)))
}

#[post("/sla/plans/<id>", data = "<form>")]
async fn update_plan(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<PlanForm>,
) -> FormResult {
    let id = SlaPlanId(id);
    let form = form.into_inner();
    let errors = match checked(store, &me, &form).await? {
        Ok(c) => {
            let (f, who) = (form.clone(), actor(&me));
            let saved = db(store, move |conn| {
                in_tx(conn, |tx| {
                    let before = sla::get_plan(tx, id)?
                        .ok_or_else(|| StoreError::NotFound(format!("SLA plan {id}")))?;
                    sla::update_plan(tx, id, &fields(&c, &f))?;
                    let data = json!({
                        "id": id,
                        "before": PlanForm::of(&before),
                        "after": plan_json(&c, &f),
                    });
                    store::events::insert_config(tx, &who, "config.sla_plan_updated", &data)?;
                    Ok(())
                })
            })
            .await;
            match saved {
                Ok(()) => return Ok(Ok(Redirect::to("/admin/sla"))),
                Err(e) => {
                    let mut errors = Errors::new();
                    name_taken(e, &mut errors)?;
                    errors
                }
            }
        }
        Err(errors) => errors,
    };
    let page = plan_form(store, templates, &me, Some(id), &form, &errors).await?;
    Ok(Err((Status::BadRequest, page)))
}

#[post("/sla/plans/<id>/delete")]
async fn delete_plan(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
) -> Result<Redirect, WebError> {
    let (id, who) = (SlaPlanId(id), actor(&me));
    db(store, move |conn| {
        in_tx(conn, |tx| {
            let plan = sla::get_plan(tx, id)?
                .ok_or_else(|| StoreError::NotFound(format!("SLA plan {id}")))?;
            sla::delete_plan(tx, id)?;
            let data = json!({ "id": id, "name": plan.name });
            store::events::insert_config(tx, &who, "config.sla_plan_deleted", &data)?;
            Ok(())
        })
    })
    .await?;
    Ok(Redirect::to("/admin/sla"))
}

#[derive(FromForm)]
struct DefaultForm {
    #[field(default = String::new())]
    plan: String,
}

/// The plan new tickets get when neither a rule, the help topic nor the
/// department names one ("" = none).
#[post("/sla/default", data = "<form>")]
async fn set_default(
    store: &State<Store>,
    me: AdminSession,
    form: Form<DefaultForm>,
) -> Result<Redirect, WebError> {
    let plan = match form.plan.trim() {
        "" => None,
        s => Some(SlaPlanId(s.parse().map_err(|_| {
            WebError::BadRequest(i18n::t(&me.0.lang, "sla.err_plan", &[]))
        })?)),
    };
    let (who, lang) = (actor(&me), me.0.lang.clone());
    db(store, move |conn| {
        in_tx(conn, |tx| {
            if let Some(p) = plan {
                if sla::get_plan(tx, p)?.is_none() {
                    return Err(StoreError::Invalid(i18n::t(&lang, "sla.err_plan", &[])));
                }
            }
            let before = store::settings::get(tx, "tickets.default_sla_plan_id")?;
            let value = plan.map(|p| p.to_string()).unwrap_or_default();
            store::settings::set(tx, "tickets.default_sla_plan_id", &value)?;
            let data = json!({
                "key": "tickets.default_sla_plan_id", "before": before, "after": value,
            });
            store::events::insert_config(tx, &who, "config.settings_updated", &data)?;
            Ok(())
        })
    })
    .await
    .map_err(|e| match e {
        WebError::Store(StoreError::Invalid(m)) => WebError::BadRequest(m),
        other => other,
    })?;
    Ok(Redirect::to("/admin/sla"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_accepts_hours_decimals_and_h_mm() {
        assert_eq!(parse_grace("18"), Some(18 * 60));
        assert_eq!(parse_grace(" 1.5 "), Some(90));
        assert_eq!(parse_grace("1,5"), Some(90));
        assert_eq!(parse_grace("2:30"), Some(150));
        assert_eq!(parse_grace("0:05"), Some(5));
        for bad in ["", "0", "-1", "abc", "2:75", "NaN", "inf", "8761"] {
            assert_eq!(parse_grace(bad), None, "{bad}");
        }
        assert_eq!(format_grace(18 * 60), "18");
        assert_eq!(format_grace(90), "1:30");
    }
}
