//! /admin/audit: configuration changes, newest first, paginated, filtered
//! by kind. Each line shows who, when, what, and the fields that changed.

use rocket::response::content::RawHtml;
use rocket::{get, routes, Route, State};
use serde_json::Value;

use super::admin_page;
use crate::store::{audit, Store};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

const PER_PAGE: i64 = 50;

pub fn routes() -> Vec<Route> {
    routes![list]
}

/// A JSON value as a short line of text.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The changed fields of `{"before": {…}, "after": {…}}` as (field,
/// before, after); other data as one line per top-level field.
pub fn changes(data: &Value) -> Vec<(String, String, String)> {
    let (before, after) = (data.get("before"), data.get("after"));
    match (before, after) {
        (Some(b), Some(a)) if b.is_object() || a.is_object() => {
            let empty = serde_json::Map::new();
            let bo = b.as_object().unwrap_or(&empty);
            let ao = a.as_object().unwrap_or(&empty);
            let mut fields: Vec<&String> = bo.keys().chain(ao.keys()).collect();
            fields.sort();
            fields.dedup();
            fields
                .into_iter()
                .filter_map(|f| {
                    let (x, y) = (
                        bo.get(f).unwrap_or(&Value::Null),
                        ao.get(f).unwrap_or(&Value::Null),
                    );
                    (x != y).then(|| (f.clone(), show(x), show(y)))
                })
                .collect()
        }
        (Some(b), Some(a)) => {
            let field = data.get("key").map(show).unwrap_or_default();
            vec![(field, show(b), show(a))]
        }
        _ => match data.as_object() {
            Some(o) => o
                .iter()
                .map(|(k, v)| (k.clone(), String::new(), show(v)))
                .collect(),
            None => Vec::new(),
        },
    }
}

#[get("/audit?<kind>&<page>")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    kind: Option<String>,
    page: Option<i64>,
) -> Result<RawHtml<String>, WebError> {
    let page = page.unwrap_or(1).clamp(1, 100_000);
    let kind = kind.filter(|k| !k.trim().is_empty());
    let k2 = kind.clone();
    let (events, kinds) = db(store, move |c| {
        Ok((
            audit::list(c, k2.as_deref(), PER_PAGE + 1, (page - 1) * PER_PAGE)?,
            audit::kinds(c)?,
        ))
    })
    .await?;
    let more = events.len() as i64 > PER_PAGE;
    let rows: Vec<Value> = events
        .into_iter()
        .take(PER_PAGE as usize)
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
            let id = data.get("id").map(show);
            let changes: Vec<Value> = changes(&data)
                .into_iter()
                .map(|(f, b, a)| serde_json::json!({ "field": f, "before": b, "after": a }))
                .collect();
            serde_json::json!({
                "id": e.id,
                "actor": e.actor,
                "kind": e.kind,
                "created_at": e.created_at,
                "subject_id": id,
                "changes": changes,
            })
        })
        .collect();
    let mut ctx = admin_page(store, &me, "audit").await?;
    ctx.insert("rows", &rows);
    ctx.insert("kinds", &kinds);
    let kind = kind.unwrap_or_default();
    let kind_q = percent_encoding::utf8_percent_encode(&kind, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    ctx.insert("kind", &kind);
    ctx.insert("kind_q", &kind_q);
    ctx.insert("page", &page);
    ctx.insert("more", &more);
    render(templates, "admin/audit.html", &ctx)
}

#[cfg(test)]
mod tests {
    use super::changes;
    use serde_json::json;

    #[test]
    fn changes_list_only_what_differs() {
        let d = json!({"before": {"name": "A", "public": true}, "after": {"name": "B", "public": true}});
        assert_eq!(changes(&d), vec![("name".into(), "A".into(), "B".into())]);
        let created = json!({"before": null, "after": {"name": "B"}});
        assert_eq!(
            changes(&created),
            vec![("name".into(), "—".into(), "B".into())]
        );
        let setting = json!({"key": "helpdesk.name", "before": "Old", "after": "New"});
        assert_eq!(
            changes(&setting),
            vec![("helpdesk.name".into(), "Old".into(), "New".into())]
        );
    }
}
