//! /admin/departments: list, add, edit, delete departments (name, outbound
//! address and display name, manager, public or private, auto-response).
//! A department that still has tickets cannot be deleted.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{
    actor, admin_page, check_name, in_tx, msg, opt_id, valid_email, Errors, NotANumber, Submitted,
};
use crate::model::{DepartmentId, StaffId};
use crate::store::departments::{self as dept, DepartmentFields};
use crate::store::{audit, settings, staff, Store, StoreError};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

pub fn routes() -> Vec<Route> {
    routes![list, create, edit, update, delete]
}

#[derive(FromForm, Default)]
pub struct DepartmentForm<'r> {
    name: &'r str,
    email: Option<&'r str>,
    email_name: Option<&'r str>,
    manager: Option<&'r str>,
    public: Option<bool>,
    auto_response: Option<bool>,
}

/// What the form shows: the values typed (or stored).
fn values(f: &DepartmentForm<'_>) -> serde_json::Value {
    serde_json::json!({
        "name": f.name,
        "email": f.email.unwrap_or(""),
        "email_name": f.email_name.unwrap_or(""),
        "manager": f.manager.unwrap_or(""),
        "public": f.public == Some(true),
        "auto_response": f.auto_response == Some(true),
    })
}

fn stored_values(d: &dept::DepartmentRow) -> serde_json::Value {
    serde_json::json!({
        "name": d.name,
        "email": d.email.clone().unwrap_or_default(),
        "email_name": d.email_name.clone().unwrap_or_default(),
        "manager": d.manager_id.map(|m| m.to_string()).unwrap_or_default(),
        "public": d.public,
        "auto_response": d.auto_response,
    })
}

/// Check the form; the fields to save, or the errors to show.
async fn parse(
    store: &Store,
    me: &AdminSession,
    f: &DepartmentForm<'_>,
    id: Option<DepartmentId>,
) -> Result<Result<DepartmentFields, Errors>, WebError> {
    let mut errors = Errors::default();
    let name = f.name.trim().to_string();
    check_name(me, &mut errors, "name", &name, 100);
    let email = f.email.map(str::trim).filter(|s| !s.is_empty());
    if let Some(e) = email {
        if !valid_email(e) {
            errors.add("email", msg(me, "admin.err.email", &[]));
        }
    }
    let email_name = f.email_name.map(str::trim).filter(|s| !s.is_empty());
    if let Some(n) = email_name {
        check_name(me, &mut errors, "email_name", n, 100);
    }
    let manager = match opt_id(f.manager) {
        Ok(m) => m.map(StaffId),
        Err(NotANumber) => {
            errors.add("manager", msg(me, "admin.err.choose", &[]));
            None
        }
    };
    let n2 = name.clone();
    let (taken, manager_ok) = db(store, move |c| {
        let taken = !n2.is_empty() && dept::name_taken(c, &n2, id)?;
        let ok = match manager {
            Some(m) => crate::store::ticket_refs::staff_active(c, m)?,
            None => true,
        };
        Ok((taken, ok))
    })
    .await?;
    if taken {
        errors.add("name", msg(me, "admin.err.name_taken", &[]));
    }
    if !manager_ok {
        errors.add("manager", msg(me, "admin.err.no_staff", &[]));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(DepartmentFields {
        name,
        email: email.map(|e| e.to_ascii_lowercase()),
        email_name: email_name.map(str::to_string),
        manager_id: manager,
        public: f.public == Some(true),
        auto_response: f.auto_response == Some(true),
    }))
}

async fn list_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    values: serde_json::Value,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let (list, staff_list) = db(store, |c| Ok((dept::list(c)?, staff::list_active(c)?))).await?;
    let mut ctx = admin_page(store, me, "departments").await?;
    ctx.insert("departments", &list);
    ctx.insert("staff", &staff_list);
    ctx.insert("values", &values);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/departments.html", &ctx)
}

#[get("/departments")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let values = values(&DepartmentForm {
        public: Some(true),
        auto_response: Some(true),
        ..Default::default()
    });
    list_page(store, templates, &me, values, &Errors::default()).await
}

#[post("/departments", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<DepartmentForm<'_>>,
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
        let id = dept::create(c, &fields)?;
        audit::record(
            c,
            &who,
            "config.department_created",
            &serde_json::json!({ "id": id, "before": null, "after": fields }),
        )?;
        Ok(id)
    })
    .await?;
    Ok(Submitted::to(format!("/admin/departments/{id}")))
}

async fn edit_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: DepartmentId,
    values: Option<serde_json::Value>,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let (d, members, staff_list, is_default) = db(store, move |c| {
        let d =
            dept::get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("department {id}")))?;
        let default = settings::get_i64(c, "tickets.default_department_id", 1)? == id.0;
        Ok((d, dept::members(c, id)?, staff::list_active(c)?, default))
    })
    .await?;
    let mut ctx = admin_page(store, me, "departments").await?;
    ctx.insert("values", &values.unwrap_or_else(|| stored_values(&d)));
    ctx.insert("d", &d);
    ctx.insert("members", &members);
    ctx.insert("staff", &staff_list);
    ctx.insert("is_default", &is_default);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/department.html", &ctx)
}

#[get("/departments/<id>")]
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
        DepartmentId(id),
        None,
        &Errors::default(),
    )
    .await
}

#[post("/departments/<id>", data = "<form>")]
async fn update(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<DepartmentForm<'_>>,
) -> Result<Submitted, WebError> {
    let id = DepartmentId(id);
    let fields = match parse(store, &me, &form, Some(id)).await? {
        Ok(f) => f,
        Err(errors) => {
            let page = edit_page(store, templates, &me, id, Some(values(&form)), &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    in_tx(store, move |c| {
        let before = dept::get(c, id)?
            .ok_or_else(|| StoreError::NotFound(format!("department {id}")))?
            .fields();
        if before == fields {
            return Ok(());
        }
        dept::update(c, id, &fields)?;
        audit::record(
            c,
            &who,
            "config.department_updated",
            &serde_json::json!({ "id": id, "before": before, "after": fields }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to(format!("/admin/departments/{id}")))
}

/// Why a department cannot be deleted, if it cannot.
enum Blocked {
    Tickets(i64),
    Default,
}

#[post("/departments/<id>/delete")]
async fn delete(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<Submitted, WebError> {
    let id = DepartmentId(id);
    let who = actor(&me);
    let blocked = in_tx(store, move |c| {
        let d =
            dept::get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("department {id}")))?;
        if d.tickets > 0 {
            return Ok(Some(Blocked::Tickets(d.tickets)));
        }
        if settings::get_i64(c, "tickets.default_department_id", 1)? == id.0 {
            return Ok(Some(Blocked::Default));
        }
        dept::delete(c, id)?;
        audit::record(
            c,
            &who,
            "config.department_deleted",
            &serde_json::json!({ "id": id, "before": d.fields(), "after": null }),
        )?;
        Ok(None)
    })
    .await?;
    let mut errors = Errors::default();
    match blocked {
        None => return Ok(Submitted::to("/admin/departments")),
        Some(Blocked::Tickets(n)) => errors.add(
            "delete",
            msg(&me, "admin.dept.has_tickets", &[("n", n.to_string())]),
        ),
        Some(Blocked::Default) => errors.add("delete", msg(&me, "admin.dept.is_default", &[])),
    }
    let page = edit_page(store, templates, &me, id, None, &errors).await?;
    Ok(Submitted::Invalid(page))
}
