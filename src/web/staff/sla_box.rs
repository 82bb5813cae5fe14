//! The ticket page's service-level box: the SLA plan, first response and
//! resolution times, and (with the edit permission) changing the plan or
//! the help topic, which recomputes the due date.

use rocket::form::Form;
use rocket::response::Redirect;
use rocket::{post, routes, FromForm, Route, State};
use serde_json::{json, Value};

use super::ticket::permitted;
use crate::model::{HelpTopicId, SlaPlanId, TicketId};
use crate::store::{self, Store, StoreResult};
use crate::tickets::permissions::Permission;
use crate::tickets::{self, sla};
use crate::web::auth::StaffSession;
use crate::web::{domain, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![set_plan, set_topic]
}

/// "2 h 05 min", "12 min", "40 s".
pub fn duration(lang: &str, secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        return i18n::t(lang, "time.seconds", &[("n", secs.to_string())]);
    }
    let (h, m) = (secs / 3600, secs % 3600 / 60);
    if h == 0 {
        return i18n::t(lang, "time.minutes", &[("n", m.to_string())]);
    }
    format!(
        "{} {}",
        i18n::t(lang, "time.hours", &[("n", h.to_string())]),
        i18n::t(lang, "time.minutes", &[("n", format!("{m:02}"))])
    )
}

/// What the box shows, for the template's `sla`; `topic` is the ticket's
/// help topic.
pub fn load(
    conn: &store::Conn,
    ticket: TicketId,
    topic: Option<HelpTopicId>,
    lang: &str,
) -> StoreResult<Value> {
    let Some(s) = store::sla_tickets::get(conn, ticket)? else {
        return Ok(Value::Null);
    };
    let (first, resolution) = sla::response_times(&s);
    // The choices change only when an admin edits them.
    let plans: Vec<Value> = conn.memo("sla-box-plans", |c| {
        Ok(store::sla::list_active_plans(c)?
            .into_iter()
            .map(|p| json!({ "id": p.id, "name": p.name }))
            .collect())
    })?;
    let topics: Vec<Value> = conn.memo("sla-box-topics", |c| {
        Ok(store::sla::help_topic_choices(c)?
            .into_iter()
            .map(|(id, name)| json!({ "id": id, "name": name }))
            .collect())
    })?;
    Ok(json!({
        "plan_id": s.sla_plan_id,
        "plan": s.sla_plan,
        "explicit": s.sla_plan_explicit,
        "started_at": s.sla_started_at,
        "first_response": first.map(|x| duration(lang, x)),
        "resolution": resolution.map(|x| duration(lang, x)),
        "help_topic_id": topic,
        "plans": plans,
        "topics": topics,
    }))
}

#[derive(FromForm)]
struct PlanForm {
    /// A plan id, or "" for none.
    #[field(default = String::new())]
    plan: String,
}

fn parse_id(lang: &str, v: &str, key: &str) -> Result<Option<i64>, WebError> {
    match v.trim() {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| WebError::BadRequest(i18n::t(lang, key, &[]))),
    }
}

#[post("/tickets/<id>/sla", data = "<form>")]
async fn set_plan(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<PlanForm>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Edit).await?;
    let plan = parse_id(&me.lang, &form.plan, "sla.err_plan")?.map(SlaPlanId);
    let (tid, actor) = (head.row.id, me.actor());
    domain(store, move |s| sla::set_plan(s, &actor, tid, plan)).await?;
    Ok(Redirect::to(format!("/tickets/{tid}")))
}

#[derive(FromForm)]
struct TopicForm {
    #[field(default = String::new())]
    help_topic: String,
}

#[post("/tickets/<id>/topic", data = "<form>")]
async fn set_topic(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<TopicForm>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Edit).await?;
    let topic = parse_id(&me.lang, &form.help_topic, "sla.err_topic")?.map(HelpTopicId);
    let (tid, actor) = (head.row.id, me.actor());
    domain(store, move |s| {
        tickets::set_help_topic(s, &actor, tid, topic)
    })
    .await?;
    Ok(Redirect::to(format!("/tickets/{tid}")))
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration("en", 40), "40 s");
        assert_eq!(duration("en", 12 * 60 + 5), "12 min");
        assert_eq!(duration("en", 2 * 3600 + 5 * 60), "2 h 05 min");
        assert_eq!(duration("en", -5), "0 s");
    }
}
