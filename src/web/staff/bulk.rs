//! Bulk actions on queue rows: assign, status, priority, delete (admins,
//! after a confirmation page).

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{post, routes, Either, FromForm, Route, State};

use super::actions::parse_assignee;
use super::{page, render, safe_next};
use crate::model::{PriorityId, Status as TicketStatus, TicketId};
use crate::store::ticket_page as tp;
use crate::store::Store;
use crate::tickets;
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
    // Every ticket must be within the viewer's scope, or nothing happens.
    let scope = me.scope();
    let ids = form.ids.clone();
    let heads = db(store, move |c| {
        ids.iter()
            .map(|id| tp::head(c, scope, TicketId(*id)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    if heads.iter().any(Option::is_none) {
        return Err(WebError::NotFound);
    }
    let ticket_ids: Vec<TicketId> = heads.iter().flatten().map(|h| h.row.id).collect();
    let back = safe_next(form.back);
    let actor = me.actor();
    match form.action {
        "assign" => {
            let to = parse_assignee(form.value)?;
            domain(store, move |s| {
                ticket_ids
                    .iter()
                    .try_for_each(|t| tickets::assign(s, &actor, *t, to))
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
            if !me.is_admin {
                return Err(WebError::Forbidden);
            }
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
