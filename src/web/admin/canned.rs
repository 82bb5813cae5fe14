//! /admin/canned: shared canned responses, for every department or one.
//! Agents keep their personal ones on /canned.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{actor, admin_page, check_name, in_tx, msg, opt_id, Errors, NotANumber, Submitted};
use crate::model::DepartmentId;
use crate::store::canned::{self, SharedFields};
use crate::store::{audit, staff, ticket_refs, Store, StoreError};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

/// Longest body accepted (a long policy text fits; a mail archive does not).
const MAX_BODY: usize = 20_000;

pub fn routes() -> Vec<Route> {
    routes![list, create, edit, update, delete]
}

#[derive(FromForm)]
pub struct CannedForm<'r> {
    title: &'r str,
    body: &'r str,
    department: Option<&'r str>,
}

fn values(f: &CannedForm<'_>) -> serde_json::Value {
    serde_json::json!({
        "title": f.title, "body": f.body, "department": f.department.unwrap_or(""),
    })
}

async fn parse(
    store: &Store,
    me: &AdminSession,
    f: &CannedForm<'_>,
) -> Result<Result<SharedFields, Errors>, WebError> {
    let mut errors = Errors::default();
    let title = f.title.trim().to_string();
    check_name(me, &mut errors, "title", &title, 150);
    let body = f.body.replace("\r\n", "\n");
    if body.trim().is_empty() {
        errors.add("body", msg(me, "admin.err.required", &[]));
    } else if body.chars().count() > MAX_BODY {
        errors.add(
            "body",
            msg(me, "admin.err.too_long", &[("max", MAX_BODY.to_string())]),
        );
    }
    let department = match opt_id(f.department) {
        Ok(d) => d.map(DepartmentId),
        Err(NotANumber) => {
            errors.add("department", msg(me, "admin.err.choose", &[]));
            None
        }
    };
    if let Some(d) = department {
        if !db(store, move |c| ticket_refs::department_exists(c, d)).await? {
            errors.add("department", msg(me, "admin.err.choose", &[]));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(SharedFields {
        title,
        body,
        department_id: department,
    }))
}

async fn list_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    values: serde_json::Value,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let (items, departments) = db(store, |c| {
        Ok((canned::list_shared(c)?, staff::list_departments(c)?))
    })
    .await?;
    let mut ctx = admin_page(store, me, "canned").await?;
    ctx.insert("items", &items);
    ctx.insert("departments", &departments);
    ctx.insert("values", &values);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/canned.html", &ctx)
}

#[get("/canned")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let values = serde_json::json!({ "title": "", "body": "", "department": "" });
    list_page(store, templates, &me, values, &Errors::default()).await
}

#[post("/canned", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<CannedForm<'_>>,
) -> Result<Submitted, WebError> {
    let fields = match parse(store, &me, &form).await? {
        Ok(f) => f,
        Err(errors) => {
            let page = list_page(store, templates, &me, values(&form), &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    in_tx(store, move |c| {
        let id = canned::create_shared(c, &fields)?;
        audit::record(
            c,
            &who,
            "config.canned_created",
            &serde_json::json!({ "id": id, "before": null, "after": fields }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to("/admin/canned"))
}

async fn edit_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: i64,
    values: Option<serde_json::Value>,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let (item, departments) = db(store, move |c| {
        let item = canned::get_shared(c, id)?
            .ok_or_else(|| StoreError::NotFound(format!("canned response {id}")))?;
        Ok((item, staff::list_departments(c)?))
    })
    .await?;
    let mut ctx = admin_page(store, me, "canned").await?;
    ctx.insert(
        "values",
        &values.unwrap_or_else(|| {
            serde_json::json!({
                "title": item.title,
                "body": item.body,
                "department": item.department_id.map(|d| d.to_string()).unwrap_or_default(),
            })
        }),
    );
    ctx.insert("item", &item);
    ctx.insert("departments", &departments);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/canned_edit.html", &ctx)
}

#[get("/canned/<id>")]
async fn edit(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<RawHtml<String>, WebError> {
    edit_page(store, templates, &me, id, None, &Errors::default()).await
}

#[post("/canned/<id>", data = "<form>")]
async fn update(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<CannedForm<'_>>,
) -> Result<Submitted, WebError> {
    let fields = match parse(store, &me, &form).await? {
        Ok(f) => f,
        Err(errors) => {
            let page = edit_page(store, templates, &me, id, Some(values(&form)), &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    in_tx(store, move |c| {
        let item = canned::get_shared(c, id)?
            .ok_or_else(|| StoreError::NotFound(format!("canned response {id}")))?;
        let before = SharedFields {
            title: item.title,
            body: item.body,
            department_id: item.department_id,
        };
        if before == fields {
            return Ok(());
        }
        canned::update_shared(c, id, &fields)?;
        audit::record(
            c,
            &who,
            "config.canned_updated",
            &serde_json::json!({ "id": id, "before": before, "after": fields }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to("/admin/canned"))
}

#[post("/canned/<id>/delete")]
async fn delete(store: &State<Store>, me: AdminSession, id: i64) -> Result<Redirect, WebError> {
    let who = actor(&me);
    in_tx(store, move |c| {
        let item = canned::get_shared(c, id)?
            .ok_or_else(|| StoreError::NotFound(format!("canned response {id}")))?;
        canned::delete_shared(c, id)?;
        audit::record(
            c,
            &who,
            "config.canned_deleted",
            &serde_json::json!({ "id": id, "before": item, "after": null }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Redirect::to("/admin/canned"))
}
