//! Bulk actions on queue rows: assign (agent or team), status, priority,
//! delete (after a confirmation page). The viewer's role must allow the
//! action on every selected ticket, or nothing happens.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{post, routes, Either, FromForm, Route, State};

use super::actions::{apply_target, parse_target};
use super::ticket::denied;
use super::{page, render, safe_next};
use crate::model::{PriorityId, Status as TicketStatus, TicketId};
use crate::store::ticket_page as tp;
use crate::store::Store;
use crate::tickets;
use crate::tickets::permissions::{self, Permission};
use crate::web::auth::StaffSession;
use crate::web::templates::Templates;
use crate::web::{db, domain, WebError};

pub fn routes() -> Vec<Route> {
    routes![bulk]
}

#[derive(FromForm)]
pub struct BulkForm<'r> {
    ids: Vec<i64>,
    action: &'r str,
    #[field(default = "")]
    value: &'r str,
    confirm: Option<bool>,
    back: Option<&'r str>,
}

#[post("/queues/bulk", data = "<form>")]
async fn bulk(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
    form: Form<BulkForm<'_>>,
) -> Result<Either<Redirect, RawHtml<String>>, WebError> {
    if form.ids.is_empty() || form.ids.len() > 500 {
        return Err(WebError::BadRequest(crate::web::i18n::t(
            &me.lang,
            "bulk.none_selected",
            &[],
        )));
    }
    let needed = match form.action {
        "assign" => Permission::Assign,
        "status" => match TicketStatus::parse(form.value) {
            Some(to) => Permission::for_status(to),
            None => {
                return Err(WebError::BadRequest(format!(
                    "unknown status {:?}",
                    form.value
                )))
            }
        },
        "priority" => Permission::Edit,
        "delete" => Permission::Delete,
        other => {
            return Err(WebError::BadRequest(format!(
                "unknown bulk action {other:?}"
            )))
        }
    };
    // Every ticket must be within the viewer's scope and allow the action,
    // or nothing happens.
    let scope = me.scope();
    let ids = form.ids.clone();
    let (heads, allowed) = db(store, move |c| {
        let mut heads = Vec::with_capacity(ids.len());
        let mut allowed = true;
        for id in &ids {
            let head = tp::head(c, scope, TicketId(*id))?;
            if let Some(h) = &head {
                allowed &= permissions::on_ticket(c, scope, h.row.id)?
                    .unwrap_or_default()
                    .has(needed);
            }
            heads.push(head);
        }
        Ok((heads, allowed))
    })
    .await?;
    if heads.iter().any(Option::is_none) {
        return Err(WebError::NotFound);
    }
    if !allowed {
        return Err(denied(&me.lang, needed));
    }
    let ticket_ids: Vec<TicketId> = heads.iter().flatten().map(|h| h.row.id).collect();
    let back = safe_next(form.back);
    let actor = me.actor();
    match form.action {
        "assign" => {
            let to = parse_target(form.value)?;
            domain(store, move |s| {
                ticket_ids
                    .iter()
                    .try_for_each(|t| apply_target(s, &actor, *t, to))
            })
            .await?;
        }
        "status" => {
            let to = TicketStatus::parse(form.value)
                .ok_or_else(|| WebError::BadRequest(format!("unknown status {:?}", form.value)))?;
            domain(store, move |s| {
                ticket_ids
                    .iter()
                    .try_for_each(|t| tickets::set_status(s, &actor, *t, to))
            })
            .await?;
        }
        "priority" => {
            let to =
                PriorityId(form.value.parse().map_err(|_| {
                    WebError::BadRequest(format!("unknown priority {:?}", form.value))
                })?);
            domain(store, move |s| {
                ticket_ids
                    .iter()
                    .try_for_each(|t| tickets::set_priority(s, &actor, *t, to))
            })
            .await?;
        }
        "delete" => {
            if form.confirm != Some(true) {
                let rows: Vec<_> = heads.into_iter().flatten().map(|h| h.row).collect();
                let mut ctx = page(store, &me, "bulk").await?;
                ctx.insert("rows", &rows);
                ctx.insert("back", &back);
                return render(templates, "staff/confirm_delete.html", &ctx).map(Either::Right);
            }
            domain(store, move |s| {
                ticket_ids
                    .iter()
                    .try_for_each(|t| tickets::removal::delete(s, &actor, *t))
            })
            .await?;
        }
        other => {
            return Err(WebError::BadRequest(format!(
                "unknown bulk action {other:?}"
            )))
        }
    }
    Ok(Either::Left(Redirect::to(back)))
}
