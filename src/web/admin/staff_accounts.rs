//! Admin: staff accounts. List, add (with a one-time password), edit
//! (name, address, admin flag, active, away), reset the password, and
//! department memberships with a role each. Every change writes an audit
//! event in the same transaction.

use std::collections::{BTreeMap, HashMap};

use rocket::form::Form;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use super::form_support::{in_tx, Errors};
use crate::model::{DepartmentId, RoleId, StaffId};
use crate::store::staff_admin::{self, ProfileChange};
use crate::store::{roles, sessions, staff, teams, Store, StoreError};
use crate::web::auth::{self, AdminSession};
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![
        list,
        new_page,
        create,
        edit_page,
        save,
        reset_password,
        save_memberships
    ]
}

type Page = Either<Redirect, (Status, RawHtml<String>)>;

#[get("/staff")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let rows = db(store, |c| staff_admin::list(c)).await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("rows", &rows);
    ctx.insert("section", "staff");
    render(templates, "admin/staff_list.html", &ctx)
}

/// Departments with the role the form shows for each ("" = not a member).
async fn membership_rows(
    store: &Store,
    chosen: HashMap<DepartmentId, String>,
) -> Result<(serde_json::Value, serde_json::Value), WebError> {
    let (departments, role_list) = db(store, |c| {
        Ok((staff::list_departments(c)?, roles::list(c)?))
    })
    .await?;
    let rows: Vec<serde_json::Value> = departments
        .into_iter()
        .map(|d| {
            let role = chosen.get(&d.id).cloned().unwrap_or_default();
            json!({"id": d.id, "name": d.name, "role": role})
        })
        .collect();
    Ok((json!(rows), json!(role_list)))
}

#[derive(FromForm, Default)]
struct NewStaffForm<'r> {
    email: &'r str,
    name: &'r str,
    admin: Option<bool>,
    /// department id → role id ("" = not a member)
    roles: HashMap<i64, String>,
}

/// Parse the department → role map of a form; unknown roles are an error
/// beside the memberships.
async fn parse_memberships(
    store: &Store,
    lang: &str,
    form: &HashMap<i64, String>,
    errors: &mut Errors,
) -> Result<Vec<(DepartmentId, RoleId)>, WebError> {
    let (departments, role_list) = db(store, |c| {
        Ok((staff::list_departments(c)?, roles::list(c)?))
    })
    .await?;
    let mut out = Vec::new();
    for (dept, role) in form {
        let role = role.trim();
        if role.is_empty() {
            continue;
        }
        let dept = DepartmentId(*dept);
        let role_id = role.parse().ok().map(RoleId);
        match role_id {
            Some(r)
                if role_list.iter().any(|x| x.id == r)
                    && departments.iter().any(|d| d.id == dept) =>
            {
                out.push((dept, r))
            }
            _ => errors.add("roles", i18n::t(lang, "roles.bad_membership", &[])),
        }
    }
    out.sort();
    Ok(out)
}

fn check_profile(lang: &str, email: &str, name: &str, errors: &mut Errors) {
    if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
        errors.add("email", i18n::t(lang, "roles.bad_email", &[]));
    }
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", i18n::t(lang, "roles.bad_name", &[]));
    }
}

#[allow(clippy::too_many_arguments)]
async fn new_form(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    values: serde_json::Value,
    chosen: HashMap<DepartmentId, String>,
    errors: &Errors,
    status: Status,
) -> Result<(Status, RawHtml<String>), WebError> {
    let (memberships, role_list) = membership_rows(store, chosen).await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("section", "staff");
    ctx.insert("v", &values);
    ctx.insert("memberships", &memberships);
    ctx.insert("roles", &role_list);
    ctx.insert("errors", &errors.0);
    Ok((status, render(templates, "admin/staff_new.html", &ctx)?))
}

#[get("/staff/new")]
async fn new_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<(Status, RawHtml<String>), WebError> {
    let default = db(store, |c| roles::default_role(c)).await?;
    // The default department starts ticked with the default role.
    let chosen: HashMap<DepartmentId, String> = default
        .map(|r| (DepartmentId(1), r.0.to_string()))
        .into_iter()
        .collect();
    let values = json!({"email": "", "name": "", "is_admin": false});
    new_form(
        store,
        templates,
        &me,
        values,
        chosen,
        &Errors::default(),
        Status::Ok,
    )
    .await
}

/// Create an account with a one-time password, shown once on its page;
/// the new agent must change it at first sign-in.
#[post("/staff/new", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<NewStaffForm<'_>>,
) -> Result<(Status, RawHtml<String>), WebError> {
    let lang = me.0.lang.clone();
    let email = form.email.trim().to_string();
    let name = form.name.trim().to_string();
    let is_admin = form.admin == Some(true);
    let mut errors = Errors::default();
    check_profile(&lang, &email, &name, &mut errors);
    let wanted = parse_memberships(store, &lang, &form.roles, &mut errors).await?;
    let values = json!({"email": email, "name": name, "is_admin": is_admin});
    let chosen: HashMap<DepartmentId, String> = form
        .roles
        .iter()
        .map(|(d, r)| (DepartmentId(*d), r.clone()))
        .collect();
    if !errors.is_empty() {
        return new_form(
            store,
            templates,
            &me,
            values,
            chosen,
            &errors,
            Status::BadRequest,
        )
        .await;
    }
    let password = auth::random_password();
    let hash = auth::hash_password(&password).map_err(WebError::Internal)?;
    let actor = me.0.actor();
    let (e2, n2, w2) = (email.clone(), name.clone(), wanted.clone());
    let created = db(store, move |c| {
        in_tx(c, |tx| {
            let id = staff::create(tx, &e2, &n2, &hash, is_admin, true)?;
            roles::set_memberships(tx, id, &w2)?;
            let memberships = roles::memberships_of(tx, id)?;
            staff_admin::audit(
                tx,
                &actor,
                "config.staff_created",
                &json!({"staff": id, "after": {
                    "email": e2, "name": n2, "is_admin": is_admin,
                    "memberships": memberships,
                }}),
            )?;
            Ok(id)
        })
    })
    .await;
    let id = match created {
        Ok(id) => id,
        Err(WebError::Store(StoreError::Invalid(msg))) => {
            errors.add("email", msg);
            return new_form(
                store,
                templates,
                &me,
                values,
                chosen,
                &errors,
                Status::BadRequest,
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    let flash = Flash::Created(email, password);
    edit_form(store, templates, &me, id, None, &Errors::default(), flash).await
}

/// A message at the top of the edit page.
enum Flash {
    None,
    Saved,
    Created(String, String),
    PasswordReset(String, String),
}

async fn edit_form(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: StaffId,
    values: Option<serde_json::Value>,
    errors: &Errors,
    flash: Flash,
) -> Result<(Status, RawHtml<String>), WebError> {
    let (profile, current, team_list) = db(store, move |c| {
        Ok((
            staff_admin::profile(c, id)?,
            roles::memberships_of(c, id)?,
            teams::teams_of(c, id)?,
        ))
    })
    .await?;
    let profile = profile.ok_or(WebError::NotFound)?;
    let chosen: HashMap<DepartmentId, String> = current
        .iter()
        .map(|m| {
            (
                m.department_id,
                m.role_id.map(|r| r.0.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    let (memberships, role_list) = membership_rows(store, chosen).await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("section", "staff");
    ctx.insert("s", &profile);
    ctx.insert(
        "v",
        &values.unwrap_or_else(|| serde_json::to_value(&profile).unwrap_or_default()),
    );
    ctx.insert("memberships", &memberships);
    ctx.insert("roles", &role_list);
    ctx.insert(
        "teams",
        &team_list.into_iter().map(|t| t.1).collect::<Vec<_>>(),
    );
    ctx.insert("errors", &errors.0);
    ctx.insert("is_self", &(id == me.0.staff_id));
    let status = if errors.is_empty() {
        Status::Ok
    } else {
        Status::BadRequest
    };
    match flash {
        Flash::None => {}
        Flash::Saved => ctx.insert("saved", &true),
        Flash::Created(email, password) => ctx.insert(
            "one_time",
            &json!({"email": email, "password": password, "new": true}),
        ),
        Flash::PasswordReset(email, password) => ctx.insert(
            "one_time",
            &json!({"email": email, "password": password, "new": false}),
        ),
    }
    Ok((status, render(templates, "admin/staff_edit.html", &ctx)?))
}

#[get("/staff/<id>?<saved>")]
async fn edit_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    saved: Option<bool>,
) -> Result<(Status, RawHtml<String>), WebError> {
    let flash = if saved == Some(true) {
        Flash::Saved
    } else {
        Flash::None
    };
    edit_form(
        store,
        templates,
        &me,
        StaffId(id),
        None,
        &Errors::default(),
        flash,
    )
    .await
}

#[derive(FromForm)]
struct ProfileForm<'r> {
    email: &'r str,
    name: &'r str,
    admin: Option<bool>,
    active: Option<bool>,
    away: Option<bool>,
}

#[post("/staff/<id>", data = "<form>")]
async fn save(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<ProfileForm<'_>>,
) -> Result<Page, WebError> {
    let id = StaffId(id);
    let lang = me.0.lang.clone();
    let change = ProfileChange {
        email: form.email.trim().to_string(),
        name: form.name.trim().to_string(),
        is_admin: form.admin == Some(true),
        active: form.active == Some(true),
        away: form.away == Some(true),
    };
    let mut errors = Errors::default();
    check_profile(&lang, &change.email, &change.name, &mut errors);
    if id == me.0.staff_id {
        if !change.is_admin {
            errors.add("admin", i18n::t(&lang, "roles.own_admin", &[]));
        }
        if !change.active {
            errors.add("active", i18n::t(&lang, "roles.own_active", &[]));
        }
    }
    let values = serde_json::to_value(&change).unwrap_or_default();
    if !errors.is_empty() {
        return edit_form(
            store,
            templates,
            &me,
            id,
            Some(values),
            &errors,
            Flash::None,
        )
        .await
        .map(Either::Right);
    }
    let actor = me.0.actor();
    let c2 = change.clone();
    let saved = db(store, move |c| {
        in_tx(c, |tx| {
            let before = staff_admin::profile(tx, id)?
                .ok_or_else(|| StoreError::NotFound(format!("staff {id}")))?;
            staff_admin::update(tx, id, &c2)?;
            let after = staff_admin::profile(tx, id)?;
            if after.as_ref() != Some(&before) {
                staff_admin::audit(
                    tx,
                    &actor,
                    "config.staff_updated",
                    &json!({"staff": id, "before": before, "after": after}),
                )?;
            }
            Ok(())
        })
    })
    .await;
    match saved {
        Ok(()) => Ok(Either::Left(Redirect::to(format!(
            "/admin/staff/{id}?saved=true"
        )))),
        Err(WebError::Store(StoreError::Invalid(msg))) => {
            errors.add("email", msg);
            edit_form(
                store,
                templates,
                &me,
                id,
                Some(values),
                &errors,
                Flash::None,
            )
            .await
            .map(Either::Right)
        }
        Err(e) => Err(e),
    }
}

/// A new one-time password, shown once; the agent must change it at the
/// next sign-in, and their sessions end now.
#[post("/staff/<id>/password")]
async fn reset_password(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<(Status, RawHtml<String>), WebError> {
    let id = StaffId(id);
    if id == me.0.staff_id {
        let mut errors = Errors::default();
        errors.add("password", i18n::t(&me.0.lang, "roles.own_password", &[]));
        return edit_form(store, templates, &me, id, None, &errors, Flash::None).await;
    }
    let password = auth::random_password();
    let hash = auth::hash_password(&password).map_err(WebError::Internal)?;
    let actor = me.0.actor();
    let email = db(store, move |c| {
        in_tx(c, |tx| {
            let p = staff_admin::profile(tx, id)?
                .ok_or_else(|| StoreError::NotFound(format!("staff {id}")))?;
            staff::set_password(tx, id, &hash, true)?;
            let ended = sessions::delete_all_for(tx, id)?;
            staff_admin::audit(
                tx,
                &actor,
                "config.staff_password_reset",
                &json!({"staff": id, "email": p.email, "sessions_ended": ended}),
            )?;
            Ok(p.email)
        })
    })
    .await?;
    edit_form(
        store,
        templates,
        &me,
        id,
        None,
        &Errors::default(),
        Flash::PasswordReset(email, password),
    )
    .await
}

#[derive(FromForm)]
struct MembershipsForm {
    roles: HashMap<i64, String>,
}

#[post("/staff/<id>/departments", data = "<form>")]
async fn save_memberships(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<MembershipsForm>,
) -> Result<Page, WebError> {
    let id = StaffId(id);
    let mut errors = Errors::default();
    let wanted = parse_memberships(store, &me.0.lang, &form.roles, &mut errors).await?;
    if !errors.is_empty() {
        return edit_form(store, templates, &me, id, None, &errors, Flash::None)
            .await
            .map(Either::Right);
    }
    let actor = me.0.actor();
    db(store, move |c| {
        in_tx(c, |tx| {
            if staff_admin::profile(tx, id)?.is_none() {
                return Err(StoreError::NotFound(format!("staff {id}")));
            }
            let before = roles::memberships_of(tx, id)?;
            roles::set_memberships(tx, id, &wanted)?;
            let after = roles::memberships_of(tx, id)?;
            let pairs = |m: &[roles::Membership]| -> BTreeMap<i64, Option<i64>> {
                m.iter()
                    .map(|m| (m.department_id.0, m.role_id.map(|r| r.0)))
                    .collect()
            };
            if pairs(&before) != pairs(&after) {
                staff_admin::audit(
                    tx,
                    &actor,
                    "config.staff_memberships_updated",
                    &json!({"staff": id, "before": before, "after": after}),
                )?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(Either::Left(Redirect::to(format!(
        "/admin/staff/{id}?saved=true"
    ))))
}
