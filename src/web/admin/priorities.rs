//! /admin/priorities: ordered priorities with colours. Add, rename,
//! recolour, move up or down; delete only one nothing uses.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{actor, admin_page, check_name, in_tx, msg, Errors, Submitted};
use crate::model::PriorityId;
use crate::store::priorities::{self as prio, PriorityFields};
use crate::store::{audit, settings, Store, StoreError};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

pub fn routes() -> Vec<Route> {
    routes![list, create, edit, update, reorder, delete]
}

#[derive(FromForm)]
pub struct PriorityForm<'r> {
    name: &'r str,
    color: &'r str,
}

/// A colour as `#rgb` or `#rrggbb`, lower case.
pub fn valid_color(v: &str) -> Option<String> {
    let hex = v.trim().strip_prefix('#')?;
    (matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("#{}", hex.to_ascii_lowercase()))
}

async fn parse(
    store: &Store,
    me: &AdminSession,
    f: &PriorityForm<'_>,
    id: Option<PriorityId>,
) -> Result<Result<PriorityFields, Errors>, WebError> {
    let mut errors = Errors::default();
    let name = f.name.trim().to_string();
    check_name(me, &mut errors, "name", &name, 60);
    let color = valid_color(f.color);
    if color.is_none() {
        errors.add("color", msg(me, "admin.err.color", &[]));
    }
    let n2 = name.clone();
    if !n2.is_empty() && db(store, move |c| prio::name_taken(c, &n2, id)).await? {
        errors.add("name", msg(me, "admin.err.name_taken", &[]));
    }
    match color {
        Some(color) if errors.is_empty() => Ok(Ok(PriorityFields { name, color })),
        _ => Ok(Err(errors)),
    }
}

async fn list_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    values: serde_json::Value,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let (list, default) = db(store, |c| {
        Ok((
            prio::list(c)?,
            settings::get_i64(c, "tickets.default_priority_id", 2)?,
        ))
    })
    .await?;
    let mut ctx = admin_page(store, me, "priorities").await?;
    ctx.insert("priorities", &list);
    ctx.insert("default_priority", &default);
    ctx.insert("values", &values);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/priorities.html", &ctx)
}

#[get("/priorities")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let values = serde_json::json!({ "name": "", "color": "#6b7280" });
    list_page(store, templates, &me, values, &Errors::default()).await
}

#[post("/priorities", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<PriorityForm<'_>>,
) -> Result<Submitted, WebError> {
    let fields = match parse(store, &me, &form, None).await? {
        Ok(f) => f,
        Err(errors) => {
            let values = serde_json::json!({ "name": form.name, "color": form.color });
            let page = list_page(store, templates, &me, values, &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    in_tx(store, move |c| {
        let id = prio::create(c, &fields)?;
        audit::record(
            c,
            &who,
            "config.priority_created",
            &serde_json::json!({ "id": id, "before": null, "after": fields }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to("/admin/priorities"))
}

async fn edit_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: PriorityId,
    values: Option<serde_json::Value>,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let (p, default) = db(store, move |c| {
        let p = prio::get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("priority {id}")))?;
        Ok((p, settings::get_i64(c, "tickets.default_priority_id", 2)?))
    })
    .await?;
    let mut ctx = admin_page(store, me, "priorities").await?;
    ctx.insert(
        "values",
        &values.unwrap_or_else(|| serde_json::json!({ "name": p.name, "color": p.color })),
    );
    ctx.insert("p", &p);
    ctx.insert("is_default", &(default == p.id.0));
    ctx.insert("errors", &errors.0);
    render(templates, "admin/priority.html", &ctx)
}

#[get("/priorities/<id>")]
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
        PriorityId(id),
        None,
        &Errors::default(),
    )
    .await
}

#[post("/priorities/<id>", data = "<form>")]
async fn update(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<PriorityForm<'_>>,
) -> Result<Submitted, WebError> {
    let id = PriorityId(id);
    let fields = match parse(store, &me, &form, Some(id)).await? {
        Ok(f) => f,
        Err(errors) => {
            let values = serde_json::json!({ "name": form.name, "color": form.color });
            let page = edit_page(store, templates, &me, id, Some(values), &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    in_tx(store, move |c| {
        let p = prio::get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("priority {id}")))?;
        let before = PriorityFields {
            name: p.name,
            color: p.color,
        };
        if before == fields {
            return Ok(());
        }
        prio::update(c, id, &fields)?;
        audit::record(
            c,
            &who,
            "config.priority_updated",
            &serde_json::json!({ "id": id, "before": before, "after": fields }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to("/admin/priorities"))
}

#[derive(FromForm)]
pub struct MoveForm<'r> {
    /// "up" (more urgent) or "down".
    direction: &'r str,
}

#[post("/priorities/<id>/move", data = "<form>")]
async fn reorder(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
    form: Form<MoveForm<'_>>,
) -> Result<Redirect, WebError> {
    let up = match form.direction {
        "up" => true,
        "down" => false,
        other => return Err(WebError::BadRequest(format!("unknown direction {other:?}"))),
    };
    let id = PriorityId(id);
    let who = actor(&me);
    in_tx(store, move |c| {
        let before: Vec<String> = prio::list(c)?.into_iter().map(|p| p.name).collect();
        if prio::move_rank(c, id, up)? {
            let after: Vec<String> = prio::list(c)?.into_iter().map(|p| p.name).collect();
            audit::record(
                c,
                &who,
                "config.priority_reordered",
                &serde_json::json!({ "id": id, "before": before, "after": after }),
            )?;
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to("/admin/priorities"))
}

#[post("/priorities/<id>/delete")]
async fn delete(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<Submitted, WebError> {
    let id = PriorityId(id);
    let who = actor(&me);
    let blocked = in_tx(store, move |c| {
        let p = prio::get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("priority {id}")))?;
        if p.tickets > 0 || p.topics > 0 {
            return Ok(Some("admin.prio.in_use"));
        }
        if settings::get_i64(c, "tickets.default_priority_id", 2)? == id.0 {
            return Ok(Some("admin.prio.is_default"));
        }
        prio::delete(c, id)?;
        audit::record(
            c,
            &who,
            "config.priority_deleted",
            &serde_json::json!({
                "id": id,
                "before": { "name": p.name, "color": p.color, "rank": p.rank },
                "after": null,
            }),
        )?;
        Ok(None)
    })
    .await?;
    match blocked {
        None => Ok(Submitted::to("/admin/priorities")),
        Some(key) => {
            let mut errors = Errors::default();
            errors.add("delete", msg(&me, key, &[]));
            let page = edit_page(store, templates, &me, id, None, &errors).await?;
            Ok(Submitted::Invalid(page))
        }
    }
}
