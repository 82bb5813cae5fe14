//! Admin: roles, the named sets of permissions given to department
//! memberships. List, add, edit (permission checkboxes), delete (when no
//! membership uses it), and choose the default role.

use rocket::form::Form;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use super::form_support::{in_tx, Errors};
use crate::model::RoleId;
use crate::store::staff_admin::audit;
use crate::store::{roles, Store, StoreError};
use crate::tickets::permissions::Permission;
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![list, new_page, create, edit_page, save, delete, set_default]
}

type Page = Either<Redirect, (Status, RawHtml<String>)>;

/// Every permission with whether the role grants it, for the checkboxes.
fn permission_boxes(granted: &[String]) -> serde_json::Value {
    json!(Permission::ALL
        .iter()
        .map(|p| json!({"name": p.as_str(), "on": granted.iter().any(|g| g == p.as_str())}))
        .collect::<Vec<_>>())
}

#[get("/roles?<error>")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    error: Option<&str>,
) -> Result<RawHtml<String>, WebError> {
    let role_list = db(store, |c| roles::list(c)).await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("section", "roles");
    ctx.insert("roles", &role_list);
    ctx.insert(
        "all_permissions",
        &Permission::ALL.map(Permission::as_str).to_vec(),
    );
    // A refused deletion comes back as a message key.
    ctx.insert(
        "error",
        &error
            .filter(|e| e.starts_with("roles."))
            .map(|e| i18n::t(&me.0.lang, e, &[])),
    );
    render(templates, "admin/roles.html", &ctx)
}

async fn form_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    role: Option<RoleId>,
    name: &str,
    granted: &[String],
    errors: &Errors,
) -> Result<(Status, RawHtml<String>), WebError> {
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("section", "roles");
    ctx.insert("role_id", &role);
    ctx.insert("name", name);
    ctx.insert("permissions", &permission_boxes(granted));
    ctx.insert("errors", &errors.0);
    let status = if errors.is_empty() {
        Status::Ok
    } else {
        Status::BadRequest
    };
    Ok((status, render(templates, "admin/role_form.html", &ctx)?))
}

#[get("/roles/new")]
async fn new_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<(Status, RawHtml<String>), WebError> {
    form_page(store, templates, &me, None, "", &[], &Errors::default()).await
}

#[get("/roles/<id>")]
async fn edit_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<(Status, RawHtml<String>), WebError> {
    let role = db(store, move |c| roles::get(c, RoleId(id)))
        .await?
        .ok_or(WebError::NotFound)?;
    form_page(
        store,
        templates,
        &me,
        Some(role.id),
        &role.name,
        &role.permissions,
        &Errors::default(),
    )
    .await
}

#[derive(FromForm)]
struct RoleForm<'r> {
    name: &'r str,
    perms: Vec<&'r str>,
}

/// The checked permissions, known names only, in the canonical order.
fn checked(lang: &str, form: &RoleForm<'_>, errors: &mut Errors) -> Vec<&'static str> {
    if form.perms.iter().any(|p| Permission::parse(p).is_none()) {
        errors.add("perms", i18n::t(lang, "roles.bad_permission", &[]));
    }
    Permission::ALL
        .into_iter()
        .filter(|p| form.perms.contains(&p.as_str()))
        .map(Permission::as_str)
        .collect()
}

fn check_name(lang: &str, name: &str, errors: &mut Errors) {
    if name.is_empty() || name.chars().count() > 80 {
        errors.add("name", i18n::t(lang, "roles.bad_role_name", &[]));
    }
}

/// Save a new role (`id` None) or an existing one, with its audit event.
async fn save_role(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: Option<RoleId>,
    form: &RoleForm<'_>,
) -> Result<Page, WebError> {
    let lang = me.0.lang.clone();
    let name = form.name.trim().to_string();
    let mut errors = Errors::default();
    check_name(&lang, &name, &mut errors);
    let perms = checked(&lang, form, &mut errors);
    let typed: Vec<String> = perms.iter().map(|p| p.to_string()).collect();
    if !errors.is_empty() {
        return form_page(store, templates, me, id, &name, &typed, &errors)
            .await
            .map(Either::Right);
    }
    let actor = me.0.actor();
    let n2 = name.clone();
    let saved = db(store, move |c| {
        in_tx(c, |tx| match id {
            None => {
                let id = roles::create(tx, &n2, &perms)?;
                let after = roles::get(tx, id)?;
                audit(
                    tx,
                    &actor,
                    "config.role_created",
                    &json!({"role": id, "after": after}),
                )?;
                Ok(id)
            }
            Some(id) => {
                let before = roles::get(tx, id)?
                    .ok_or_else(|| StoreError::NotFound(format!("role {id}")))?;
                roles::update(tx, id, &n2, &perms)?;
                let after = roles::get(tx, id)?;
                audit(
                    tx,
                    &actor,
                    "config.role_updated",
                    &json!({"role": id, "before": before, "after": after}),
                )?;
                Ok(id)
            }
        })
    })
    .await;
    match saved {
        Ok(_) => Ok(Either::Left(Redirect::to("/admin/roles"))),
        Err(WebError::Store(StoreError::Invalid(msg))) => {
            errors.add("name", msg);
            form_page(store, templates, me, id, &name, &typed, &errors)
                .await
                .map(Either::Right)
        }
        Err(e) => Err(e),
    }
}

#[post("/roles/new", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<RoleForm<'_>>,
) -> Result<Page, WebError> {
    save_role(store, templates, &me, None, &form).await
}

#[post("/roles/<id>", data = "<form>")]
async fn save(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<RoleForm<'_>>,
) -> Result<Page, WebError> {
    save_role(store, templates, &me, Some(RoleId(id)), &form).await
}

#[post("/roles/<id>/delete")]
async fn delete(store: &State<Store>, me: AdminSession, id: i64) -> Result<Redirect, WebError> {
    let id = RoleId(id);
    let actor = me.0.actor();
    let done = db(store, move |c| {
        in_tx(c, |tx| {
            let before =
                roles::get(tx, id)?.ok_or_else(|| StoreError::NotFound(format!("role {id}")))?;
            if before.is_default {
                return Ok(Some("roles.delete_default"));
            }
            if before.memberships > 0 {
                return Ok(Some("roles.delete_in_use"));
            }
            roles::delete(tx, id)?;
            audit(
                tx,
                &actor,
                "config.role_deleted",
                &json!({"role": id, "before": before}),
            )?;
            Ok(None)
        })
    })
    .await?;
    Ok(Redirect::to(match done {
        None => "/admin/roles".to_string(),
        Some(key) => format!("/admin/roles?error={key}"),
    }))
}

#[derive(FromForm)]
struct DefaultForm {
    role: i64,
}

#[post("/roles/default", data = "<form>")]
async fn set_default(
    store: &State<Store>,
    me: AdminSession,
    form: Form<DefaultForm>,
) -> Result<Redirect, WebError> {
    let id = RoleId(form.role);
    let actor = me.0.actor();
    db(store, move |c| {
        in_tx(c, |tx| {
            let before = roles::default_role(tx)?;
            roles::set_default_role(tx, id)?;
            if before != Some(id) {
                audit(
                    tx,
                    &actor,
                    "config.role_default_changed",
                    &json!({"before": before, "after": id}),
                )?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(Redirect::to("/admin/roles"))
}
