//! Admin: each department's SLA plan and auto-assignment strategy. Every
//! change writes a `config.department_sla_updated` audit event.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use serde_json::json;

use super::sla::{actor, in_tx};
use crate::model::{DepartmentId, SlaPlanId};
use crate::store::sla::{self, AssignStrategy};
use crate::store::{self, Store, StoreError};
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![index, update]
}

#[get("/sla/departments?<saved>")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    saved: Option<i64>,
) -> Result<RawHtml<String>, WebError> {
    let (departments, plans, available) = db(store, |c| {
        let departments = sla::list_department_defaults(c)?;
        let mut available = Vec::new();
        for d in &departments {
            available.push(store::sla_tickets::assign_candidates(c, d.id)?.len());
        }
        Ok((departments, sla::list_plans(c)?, available))
    })
    .await?;
    let rows: Vec<serde_json::Value> = departments
        .iter()
        .zip(available)
        .map(|(d, n)| json!({ "department": d, "available": n }))
        .collect();
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("rows", &rows);
    ctx.insert("plans", &plans);
    ctx.insert("saved", &saved);
    render(templates, "admin/sla_departments.html", &ctx)
}

#[derive(FromForm)]
struct DepartmentForm {
    #[field(default = String::new())]
    sla_plan: String,
    #[field(default = String::new())]
    assign_strategy: String,
}

#[post("/sla/departments/<id>", data = "<form>")]
async fn update(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
    form: Form<DepartmentForm>,
) -> Result<Redirect, WebError> {
    let lang = me.0.lang.clone();
    let bad = |key: &str| WebError::BadRequest(i18n::t(&lang, key, &[]));
    let plan = match form.sla_plan.trim() {
        "" => None,
        s => Some(SlaPlanId(s.parse().map_err(|_| bad("sla.err_plan"))?)),
    };
    let strategy = AssignStrategy::parse(form.assign_strategy.trim())
        .ok_or_else(|| bad("sla.err_strategy"))?;
    let (dept, who, msg) = (
        DepartmentId(id),
        actor(&me),
        i18n::t(&lang, "sla.err_plan", &[]),
    );
    db(store, move |conn| {
        in_tx(conn, |tx| {
            let before = sla::department_defaults(tx, dept)?
                .ok_or_else(|| StoreError::NotFound(format!("department {dept}")))?;
            if let Some(p) = plan {
                if sla::get_plan(tx, p)?.is_none() {
                    return Err(StoreError::Invalid(msg));
                }
            }
            sla::set_department_defaults(tx, dept, plan, strategy)?;
            let data = json!({
                "department_id": dept, "name": before.name,
                "before": { "sla_plan_id": before.sla_plan_id, "assign_strategy": before.assign_strategy },
                "after": { "sla_plan_id": plan, "assign_strategy": strategy },
            });
            store::events::insert_config(tx, &who, "config.department_sla_updated", &data)?;
            Ok(())
        })
    })
    .await
    .map_err(|e| match e {
        WebError::Store(StoreError::Invalid(m)) => WebError::BadRequest(m),
        other => other,
    })?;
    Ok(Redirect::to(format!("/admin/sla/departments?saved={id}")))
}
