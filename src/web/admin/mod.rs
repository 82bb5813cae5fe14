//! The basic admin page: staff accounts, departments and membership.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

pub mod form_support;
pub mod plugins;
pub mod roles;
pub mod staff_accounts;
pub mod teams;

use crate::model::{DepartmentId, StaffId};
use crate::store::{staff, Store};
use crate::web::auth::{self, AdminSession};
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![index, add_staff, add_department, membership]
}

fn invalid_as_bad_request(e: WebError) -> WebError {
    match e {
        WebError::Store(crate::store::StoreError::Invalid(m)) => WebError::BadRequest(m),
        other => other,
    }
}

async fn index_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    created: Option<(String, String)>,
) -> Result<RawHtml<String>, WebError> {
    let (list, departments, members) = db(store, |c| {
        Ok((
            staff::list(c)?,
            staff::list_departments(c)?,
            staff::memberships(c)?,
        ))
    })
    .await?;
    let members: Vec<String> = members
        .into_iter()
        .map(|(s, d)| format!("{s}:{d}"))
        .collect();
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("staff", &list);
    ctx.insert("departments", &departments);
    ctx.insert("members", &members);
    ctx.insert("created", &created);
    render(templates, "admin/index.html", &ctx)
}

#[get("/")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    index_page(store, templates, &me, None).await
}

#[derive(FromForm)]
struct StaffForm<'r> {
    email: &'r str,
    name: &'r str,
    admin: Option<bool>,
}

/// Create an account with a one-time password, shown once on the page; the
/// new agent must change it at first sign-in.
#[post("/staff", data = "<form>")]
async fn add_staff(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<StaffForm<'_>>,
) -> Result<RawHtml<String>, WebError> {
    let email = form.email.trim().to_string();
    let name = form.name.trim().to_string();
    if !email.contains('@') || name.is_empty() {
        return Err(WebError::BadRequest(i18n::t(
            &me.0.lang,
            "admin.bad_staff",
            &[],
        )));
    }
    let password = auth::random_password();
    let hash = auth::hash_password(&password).map_err(WebError::Internal)?;
    let admin = form.admin == Some(true);
    let (e2, n2) = (email.clone(), name.clone());
    db(store, move |c| {
        staff::create(c, &e2, &n2, &hash, admin, true)
    })
    .await
    .map_err(invalid_as_bad_request)?;
    index_page(store, templates, &me, Some((email, password))).await
}

#[derive(FromForm)]
struct DepartmentForm<'r> {
    name: &'r str,
}

#[post("/departments", data = "<form>")]
async fn add_department(
    store: &State<Store>,
    me: AdminSession,
    form: Form<DepartmentForm<'_>>,
) -> Result<Redirect, WebError> {
    let name = form.name.trim().to_string();
    if name.is_empty() {
        return Err(WebError::BadRequest(i18n::t(
            &me.0.lang,
            "admin.bad_department",
            &[],
        )));
    }
    db(store, move |c| staff::create_department(c, &name))
        .await
        .map_err(invalid_as_bad_request)?;
    Ok(Redirect::to("/admin/"))
}

#[derive(FromForm)]
struct MembershipForm {
    staff: i64,
    department: i64,
    member: bool,
}

#[post("/membership", data = "<form>")]
async fn membership(
    store: &State<Store>,
    _me: AdminSession,
    form: Form<MembershipForm>,
) -> Result<Redirect, WebError> {
    let (s, d, m) = (
        StaffId(form.staff),
        DepartmentId(form.department),
        form.member,
    );
    db(store, move |c| staff::set_membership(c, s, d, m)).await?;
    Ok(Redirect::to("/admin/"))
}
pub mod bans;
pub mod filter_form;
pub mod filter_test;
pub mod filters;
