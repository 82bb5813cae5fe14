//! Admin: teams, groups of agents across departments. List, add, edit
//! (name, lead, members, active), delete. A ticket assigned to a team is
//! visible to its members.

use rocket::form::Form;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use super::form_support::{in_tx, Errors};
use crate::model::{StaffId, TeamId};
use crate::store::staff_admin::audit;
use crate::store::teams::{self, TeamFields};
use crate::store::{staff, Store, StoreError};
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![list, new_page, create, edit_page, save, delete]
}

type Page = Either<Redirect, (Status, RawHtml<String>)>;

#[get("/teams")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let team_list = db(store, |c| teams::list(c)).await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("section", "teams");
    ctx.insert("teams", &team_list);
    render(templates, "admin/teams.html", &ctx)
}

async fn form_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: Option<TeamId>,
    fields: &TeamFields,
    errors: &Errors,
) -> Result<(Status, RawHtml<String>), WebError> {
    let staff_list = db(store, |c| staff::list(c)).await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("section", "teams");
    ctx.insert("team_id", &id);
    ctx.insert("v", fields);
    ctx.insert("staff", &staff_list);
    ctx.insert("errors", &errors.0);
    let status = if errors.is_empty() {
        Status::Ok
    } else {
        Status::BadRequest
    };
    Ok((status, render(templates, "admin/team_form.html", &ctx)?))
}

#[get("/teams/new")]
async fn new_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<(Status, RawHtml<String>), WebError> {
    let fields = TeamFields {
        name: String::new(),
        lead_id: None,
        active: true,
        members: Vec::new(),
    };
    form_page(store, templates, &me, None, &fields, &Errors::default()).await
}

#[get("/teams/<id>")]
async fn edit_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<(Status, RawHtml<String>), WebError> {
    let team = db(store, move |c| teams::get(c, TeamId(id)))
        .await?
        .ok_or(WebError::NotFound)?;
    let fields = TeamFields {
        name: team.name,
        lead_id: team.lead_id,
        active: team.active,
        members: team.members,
    };
    form_page(
        store,
        templates,
        &me,
        Some(team.id),
        &fields,
        &Errors::default(),
    )
    .await
}

#[derive(FromForm)]
struct TeamForm<'r> {
    name: &'r str,
    /// A staff id, or empty for no lead.
    lead: &'r str,
    active: Option<bool>,
    members: Vec<i64>,
}

async fn save_team(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: Option<TeamId>,
    form: &TeamForm<'_>,
) -> Result<Page, WebError> {
    let lang = me.0.lang.clone();
    let mut errors = Errors::default();
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        errors.add("name", i18n::t(&lang, "roles.bad_team_name", &[]));
    }
    let staff_list = db(store, |c| staff::list(c)).await?;
    let known = |s: StaffId| staff_list.iter().any(|x| x.id == s);
    let mut members: Vec<StaffId> = form.members.iter().map(|m| StaffId(*m)).collect();
    members.sort();
    members.dedup();
    if members.iter().any(|m| !known(*m)) {
        errors.add("members", i18n::t(&lang, "roles.bad_member", &[]));
    }
    let lead = match form.lead.trim() {
        "" => None,
        s => match s.parse().map(StaffId) {
            Ok(l) if known(l) => Some(l),
            _ => {
                errors.add("lead", i18n::t(&lang, "roles.bad_lead", &[]));
                None
            }
        },
    };
    // The lead is a member: leading a team one cannot see makes no sense.
    if let Some(l) = lead {
        if !members.contains(&l) {
            members.push(l);
            members.sort();
        }
    }
    let fields = TeamFields {
        name,
        lead_id: lead,
        active: form.active == Some(true),
        members,
    };
    if !errors.is_empty() {
        return form_page(store, templates, me, id, &fields, &errors)
            .await
            .map(Either::Right);
    }
    let actor = me.0.actor();
    let f2 = fields.clone();
    let saved = db(store, move |c| {
        in_tx(c, |tx| match id {
            None => {
                let id = teams::create(tx, &f2)?;
                audit(
                    tx,
                    &actor,
                    "config.team_created",
                    &json!({"team": id, "after": f2}),
                )?;
                Ok(id)
            }
            Some(id) => {
                let before = teams::get(tx, id)?
                    .ok_or_else(|| StoreError::NotFound(format!("team {id}")))?;
                teams::update(tx, id, &f2)?;
                let before = TeamFields {
                    name: before.name,
                    lead_id: before.lead_id,
                    active: before.active,
                    members: before.members,
                };
                audit(
                    tx,
                    &actor,
                    "config.team_updated",
                    &json!({"team": id, "before": before, "after": f2}),
                )?;
                Ok(id)
            }
        })
    })
    .await;
    match saved {
        Ok(_) => Ok(Either::Left(Redirect::to("/admin/teams"))),
        Err(WebError::Store(StoreError::Invalid(msg))) => {
            errors.add("name", msg);
            form_page(store, templates, me, id, &fields, &errors)
                .await
                .map(Either::Right)
        }
        Err(e) => Err(e),
    }
}

#[post("/teams/new", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<TeamForm<'_>>,
) -> Result<Page, WebError> {
    save_team(store, templates, &me, None, &form).await
}

#[post("/teams/<id>", data = "<form>")]
async fn save(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<TeamForm<'_>>,
) -> Result<Page, WebError> {
    save_team(store, templates, &me, Some(TeamId(id)), &form).await
}

/// Delete a team; its tickets keep their department and agent.
#[post("/teams/<id>/delete")]
async fn delete(store: &State<Store>, me: AdminSession, id: i64) -> Result<Redirect, WebError> {
    let id = TeamId(id);
    let actor = me.0.actor();
    db(store, move |c| {
        in_tx(c, |tx| {
            let before =
                teams::get(tx, id)?.ok_or_else(|| StoreError::NotFound(format!("team {id}")))?;
            teams::delete(tx, id)?;
            audit(
                tx,
                &actor,
                "config.team_deleted",
                &json!({"team": id, "before": before}),
            )?;
            Ok(())
        })
    })
    .await?;
    Ok(Redirect::to("/admin/teams"))
}
