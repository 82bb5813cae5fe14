//! /admin/topics: help topics, nested through a parent, public or for
//! staff only, with their routing: department, priority, SLA plan,
//! auto-assignment (a staff member or a team), the auto-response override,
//! and a link to their custom form fields.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{actor, admin_page, check_name, in_tx, msg, opt_id, Errors, NotANumber, Submitted};
use crate::model::{DepartmentId, HelpTopicId, PriorityId, SlaPlanId, StaffId, TeamId};
use crate::store::help_topics::{self as topics, TopicFields};
use crate::store::{audit, priorities, staff, ticket_refs, Store, StoreError};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

pub fn routes() -> Vec<Route> {
    routes![list, create, edit, update, delete]
}

#[derive(FromForm, Default)]
pub struct TopicForm<'r> {
    name: &'r str,
    parent: Option<&'r str>,
    department: Option<&'r str>,
    priority: Option<&'r str>,
    sla_plan: Option<&'r str>,
    public: Option<bool>,
    active: Option<bool>,
    sort: Option<&'r str>,
    /// "", "staff:ID" or "team:ID".
    assign: Option<&'r str>,
    /// "inherit", "on" or "off".
    auto_response: Option<&'r str>,
}

fn values(f: &TopicForm<'_>) -> serde_json::Value {
    serde_json::json!({
        "name": f.name,
        "parent": f.parent.unwrap_or(""),
        "department": f.department.unwrap_or(""),
        "priority": f.priority.unwrap_or(""),
        "sla_plan": f.sla_plan.unwrap_or(""),
        "public": f.public == Some(true),
        "active": f.active == Some(true),
        "sort": f.sort.unwrap_or("0"),
        "assign": f.assign.unwrap_or(""),
        "auto_response": f.auto_response.unwrap_or("inherit"),
    })
}

fn id_str<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn stored_values(f: &TopicFields) -> serde_json::Value {
    let assign = match (f.auto_assign_staff_id, f.auto_assign_team_id) {
        (Some(s), _) => format!("staff:{s}"),
        (None, Some(t)) => format!("team:{t}"),
        _ => String::new(),
    };
    serde_json::json!({
        "name": f.name,
        "parent": id_str(f.parent_id),
        "department": id_str(f.department_id),
        "priority": id_str(f.priority_id),
        "sla_plan": id_str(f.sla_plan_id),
        "public": f.public,
        "active": f.active,
        "sort": f.sort.to_string(),
        "assign": assign,
        "auto_response": match f.auto_response {
            None => "inherit",
            Some(true) => "on",
            Some(false) => "off",
        },
    })
}

async fn parse(
    store: &Store,
    me: &AdminSession,
    f: &TopicForm<'_>,
    id: Option<HelpTopicId>,
) -> Result<Result<TopicFields, Errors>, WebError> {
    let mut errors = Errors::default();
    let name = f.name.trim().to_string();
    check_name(me, &mut errors, "name", &name, 100);
    let mut id_field = |field: &str, v: Option<&str>| match opt_id(v) {
        Ok(v) => v,
        Err(NotANumber) => {
            errors.add(field, msg(me, "admin.err.choose", &[]));
            None
        }
    };
    let parent = id_field("parent", f.parent).map(HelpTopicId);
    let department = id_field("department", f.department).map(DepartmentId);
    let priority = id_field("priority", f.priority).map(PriorityId);
    let sla_plan = id_field("sla_plan", f.sla_plan).map(SlaPlanId);
    let sort = match f.sort.map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (-100_000..=100_000).contains(&n) => n,
            _ => {
                errors.add("sort", msg(me, "admin.err.number", &[]));
                0
            }
        },
    };
    let (mut assign_staff, mut assign_team) = (None, None);
    match f.assign.map(str::trim).filter(|s| !s.is_empty()) {
        None => {}
        Some(v) => match v.split_once(':').map(|(k, n)| (k, n.parse::<i64>())) {
            Some(("staff", Ok(n))) => assign_staff = Some(StaffId(n)),
            Some(("team", Ok(n))) => assign_team = Some(TeamId(n)),
            _ => errors.add("assign", msg(me, "admin.err.choose", &[])),
        },
    }
    let auto_response = match f.auto_response.unwrap_or("inherit") {
        "inherit" | "" => None,
        "on" => Some(true),
        "off" => Some(false),
        _ => {
            errors.add("auto_response", msg(me, "admin.err.choose", &[]));
            None
        }
    };
    let checks = db(store, move |c| {
        Ok([
            parent.map_or(Ok(true), |p| topics::exists(c, p))?,
            match (id, parent) {
                (Some(id), Some(p)) => !topics::would_cycle(c, id, p)?,
                _ => true,
            },
            department.map_or(Ok(true), |d| ticket_refs::department_exists(c, d))?,
            priority.map_or(Ok(true), |p| ticket_refs::priority_exists(c, p))?,
            sla_plan.map_or(Ok(true), |p| topics::sla_plan_exists(c, p))?,
            assign_staff.map_or(Ok(true), |s| ticket_refs::staff_active(c, s))?,
            assign_team.map_or(Ok(true), |t| topics::team_exists(c, t))?,
        ])
    })
    .await?;
    let [parent_ok, no_cycle, dept_ok, prio_ok, sla_ok, staff_ok, team_ok] = checks;
    if !parent_ok {
        errors.add("parent", msg(me, "admin.err.choose", &[]));
    }
    if !no_cycle {
        errors.add("parent", msg(me, "admin.topic.cycle", &[]));
    }
    if !dept_ok {
        errors.add("department", msg(me, "admin.err.choose", &[]));
    }
    if !prio_ok {
        errors.add("priority", msg(me, "admin.err.choose", &[]));
    }
    if !sla_ok {
        errors.add("sla_plan", msg(me, "admin.err.choose", &[]));
    }
    if !staff_ok {
        errors.add("assign", msg(me, "admin.err.no_staff", &[]));
    }
    if !team_ok {
        errors.add("assign", msg(me, "admin.err.choose", &[]));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(TopicFields {
        name,
        parent_id: parent,
        department_id: department,
        priority_id: priority,
        sla_plan_id: sla_plan,
        public: f.public == Some(true),
        active: f.active == Some(true),
        sort,
        auto_assign_staff_id: assign_staff,
        auto_assign_team_id: assign_team,
        auto_response,
    }))
}

/// Everything the topic form's menus offer.
async fn choices(store: &Store, ctx: &mut tera::Context) -> Result<(), WebError> {
    let (all, departments, prios, staff_list, teams, plans) = db(store, |c| {
        Ok((
            topics::list(c)?,
            staff::list_departments(c)?,
            priorities::list(c)?,
            staff::list_active(c)?,
            topics::team_choices(c)?,
            topics::sla_plan_choices(c)?,
        ))
    })
    .await?;
    ctx.insert("topics", &all);
    ctx.insert("departments", &departments);
    ctx.insert("priorities", &prios);
    ctx.insert("staff", &staff_list);
    ctx.insert("teams", &teams);
    ctx.insert("sla_plans", &plans);
    Ok(())
}

async fn list_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    values: serde_json::Value,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let mut ctx = admin_page(store, me, "topics").await?;
    choices(store, &mut ctx).await?;
    ctx.insert("values", &values);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/topics.html", &ctx)
}

#[get("/topics")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let values = values(&TopicForm {
        public: Some(true),
        active: Some(true),
        ..Default::default()
    });
    list_page(store, templates, &me, values, &Errors::default()).await
}

#[post("/topics", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<TopicForm<'_>>,
) -> Result<Submitted, WebError> {
    let fields = match parse(store, &me, &form, None).await? {
        Ok(f) => f,
        Err(errors) => {
            let page = list_page(store, templates, &me, values(&form), &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    let id = in_tx(store, move |c| {
        let id = topics::create(c, &fields)?;
        audit::record(
            c,
            &who,
            "config.help_topic_created",
            &serde_json::json!({ "id": id, "before": null, "after": fields }),
        )?;
        Ok(id)
    })
    .await?;
    Ok(Submitted::to(format!("/admin/topics/{id}")))
}

async fn edit_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: HelpTopicId,
    values: Option<serde_json::Value>,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let topic = db(store, move |c| {
        topics::get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("help topic {id}")))
    })
    .await?;
    let mut ctx = admin_page(store, me, "topics").await?;
    choices(store, &mut ctx).await?;
    ctx.insert(
        "values",
        &values.unwrap_or_else(|| stored_values(&topic.fields)),
    );
    ctx.insert("topic", &topic);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/topic.html", &ctx)
}

#[get("/topics/<id>")]
async fn edit(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<RawHtml<String>, WebError> {
    edit_page(
        store,
        templates,
        &me,
        HelpTopicId(id),
        None,
        &Errors::default(),
    )
    .await
}

#[post("/topics/<id>", data = "<form>")]
async fn update(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<TopicForm<'_>>,
) -> Result<Submitted, WebError> {
    let id = HelpTopicId(id);
    let fields = match parse(store, &me, &form, Some(id)).await? {
        Ok(f) => f,
        Err(errors) => {
            let page = edit_page(store, templates, &me, id, Some(values(&form)), &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    in_tx(store, move |c| {
        let before = topics::get(c, id)?
            .ok_or_else(|| StoreError::NotFound(format!("help topic {id}")))?
            .fields;
        if before == fields {
            return Ok(());
        }
        topics::update(c, id, &fields)?;
        audit::record(
            c,
            &who,
            "config.help_topic_updated",
            &serde_json::json!({ "id": id, "before": before, "after": fields }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to(format!("/admin/topics/{id}")))
}

#[post("/topics/<id>/delete")]
async fn delete(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<Submitted, WebError> {
    let id = HelpTopicId(id);
    let who = actor(&me);
    let used = in_tx(store, move |c| {
        let t =
            topics::get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("help topic {id}")))?;
        if t.tickets > 0 {
            return Ok(Some(t.tickets));
        }
        topics::delete(c, id)?;
        audit::record(
            c,
            &who,
            "config.help_topic_deleted",
            &serde_json::json!({ "id": id, "before": t.fields, "after": null }),
        )?;
        Ok(None)
    })
    .await?;
    match used {
        None => Ok(Submitted::to("/admin/topics")),
        Some(n) => {
            let mut errors = Errors::default();
            errors.add(
                "delete",
                msg(&me, "admin.topic.has_tickets", &[("n", n.to_string())]),
            );
            let page = edit_page(store, templates, &me, id, None, &errors).await?;
            Ok(Submitted::Invalid(page))
        }
    }
}
