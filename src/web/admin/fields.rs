//! Admin page `/admin/fields`: the custom fields of the portal's new-ticket
//! form, per help topic. Define, edit, reorder, deactivate (fields are
//! never deleted: tickets keep what was entered). Every change writes an
//! audit event (no ticket) in the same transaction.

use rocket::form::Form;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::model::HelpTopicId;
use crate::store::forms::{self, FieldSpec, FormField, KINDS};
use crate::store::{self, Conn, Store, StoreError, StoreResult};
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![index, create, update, move_field, set_active]
}

const MAX_LABEL: usize = 200;
const MAX_HELP: usize = 500;
const MAX_OPTIONS: usize = 50;

#[derive(Debug, Clone, Default, FromForm, serde::Serialize)]
struct FieldForm {
    #[field(default = 0)]
    topic: i64,
    #[field(default = String::new())]
    label: String,
    #[field(default = String::new())]
    kind: String,
    #[field(default = false)]
    required: bool,
    #[field(default = String::new())]
    help: String,
    /// One choice per line.
    #[field(default = String::new())]
    options: String,
}

impl FieldForm {
    fn of(f: &FormField) -> FieldForm {
        FieldForm {
            topic: f.help_topic_id.0,
            label: f.label.clone(),
            kind: f.kind.clone(),
            required: f.required,
            help: f.help.clone(),
            options: f.options.join("\n"),
        }
    }

    /// The spec, or the problems keyed by input name.
    fn check(
        &self,
        lang: &str,
        topics: &[forms::TopicOption],
    ) -> Result<FieldSpec, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let label = self.label.trim().to_string();
        if label.is_empty() {
            errors.push(("label", i18n::t(lang, "fields.err_label", &[])));
        } else if label.chars().count() > MAX_LABEL {
            errors.push((
                "label",
                i18n::t(
                    lang,
                    "portal.err_too_long",
                    &[("max", MAX_LABEL.to_string())],
                ),
            ));
        }
        if !topics.iter().any(|t| t.id.0 == self.topic) {
            errors.push(("topic", i18n::t(lang, "fields.err_topic", &[])));
        }
        if !KINDS.contains(&self.kind.as_str()) {
            errors.push(("kind", i18n::t(lang, "fields.err_kind", &[])));
        }
        let help = self.help.trim().to_string();
        if help.chars().count() > MAX_HELP {
            errors.push((
                "help",
                i18n::t(
                    lang,
                    "portal.err_too_long",
                    &[("max", MAX_HELP.to_string())],
                ),
            ));
        }
        let mut options: Vec<String> = Vec::new();
        for o in self
            .options
            .lines()
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            if !options.iter().any(|x| x == o) {
                options.push(o.to_string());
            }
        }
        let with_options = matches!(self.kind.as_str(), "choice" | "multi_choice");
        if with_options && options.is_empty() {
            errors.push(("options", i18n::t(lang, "fields.err_options", &[])));
        } else if options.len() > MAX_OPTIONS
            || options.iter().any(|o| o.chars().count() > MAX_LABEL)
        {
            errors.push((
                "options",
                i18n::t(
                    lang,
                    "fields.err_options_long",
                    &[
                        ("n", MAX_OPTIONS.to_string()),
                        ("max", MAX_LABEL.to_string()),
                    ],
                ),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(FieldSpec {
            help_topic_id: HelpTopicId(self.topic),
            label,
            kind: self.kind.clone(),
            required: self.required,
            help,
            options: if with_options { options } else { Vec::new() },
        })
    }
}

fn spec_json(s: &FieldSpec) -> serde_json::Value {
    json!({
        "help_topic_id": s.help_topic_id, "label": s.label, "kind": s.kind,
        "required": s.required, "help": s.help, "options": s.options,
    })
}

/// Run `f` and the audit event it returns in one transaction.
fn audited<T>(
    conn: &mut Conn,
    me: &AdminSession,
    f: impl FnOnce(&rusqlite::Connection) -> StoreResult<(T, &'static str, serde_json::Value)>,
) -> StoreResult<T> {
    let tx = conn
        .transaction()
        .map_err(|e| StoreError::wrap("starting a transaction", e))?;
    let (value, kind, data) = f(&tx)?;
    forms::audit(&tx, me.0.staff_id, &me.0.name, kind, &data)?;
    tx.commit()
        .map_err(|e| StoreError::wrap("committing the field change", e))?;
    Ok(value)
}

/// What the page shows besides the fields: the form being edited (new or
/// existing), its errors and a flash.
#[derive(Default)]
struct View {
    editing: Option<i64>,
    form: FieldForm,
    errors: Vec<(&'static str, String)>,
}

async fn page_with(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    view: View,
    status: Status,
) -> Result<(Status, RawHtml<String>), WebError> {
    let (topics, fields) = db(store, |c| Ok((forms::topics(c)?, forms::all_fields(c)?))).await?;
    let groups: Vec<serde_json::Value> = topics
        .iter()
        .map(|t| {
            let list: Vec<&FormField> = fields.iter().filter(|f| f.help_topic_id == t.id).collect();
            json!({ "topic": t, "fields": list })
        })
        .collect();
    let errors: std::collections::HashMap<&str, &String> =
        view.errors.iter().map(|(k, v)| (*k, v)).collect();
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("topics", &topics);
    ctx.insert("groups", &groups);
    ctx.insert("kinds", &KINDS);
    ctx.insert("editing", &view.editing);
    ctx.insert("form", &view.form);
    ctx.insert("errors", &errors);
    Ok((status, render(templates, "admin/fields.html", &ctx)?))
}

#[get("/fields?<edit>&<topic>")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    edit: Option<i64>,
    topic: Option<i64>,
) -> Result<(Status, RawHtml<String>), WebError> {
    let mut view = View::default();
    if let Some(id) = edit {
        let f = db(store, move |c| forms::get_field(c, id)).await?;
        view.editing = Some(id);
        view.form = FieldForm::of(&f);
    } else {
        view.form.topic = topic.unwrap_or(0);
        view.form.kind = "text".into();
    }
    page_with(store, templates, &me, view, Status::Ok).await
}

type Answer = Either<Redirect, (Status, RawHtml<String>)>;

#[post("/fields", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<FieldForm>,
) -> Result<Answer, WebError> {
    let form = form.into_inner();
    let topics = db(store, |c| forms::topics(c)).await?;
    let spec = match form.check(&me.0.lang, &topics) {
        Ok(s) => s,
        Err(errors) => {
            let view = View {
                editing: None,
                form,
                errors,
            };
            let page = page_with(store, templates, &me, view, Status::UnprocessableEntity).await?;
            return Ok(Either::Right(page));
        }
    };
    let who = me.clone();
    let topic = spec.help_topic_id;
    db(store, move |c| {
        audited(c, &who, |tx| {
            let id = forms::create_field(tx, &spec, store::now())?;
            let mut data = spec_json(&spec);
            data["field_id"] = json!(id);
            Ok((id, "config.field_created", data))
        })
    })
    .await?;
    Ok(Either::Left(Redirect::to(format!(
        "/admin/fields?topic={topic}#topic-{topic}"
    ))))
}

#[post("/fields/<id>", data = "<form>")]
async fn update(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<FieldForm>,
) -> Result<Answer, WebError> {
    let form = form.into_inner();
    let (topics, old) = db(store, move |c| {
        Ok((forms::topics(c)?, forms::get_field(c, id)?))
    })
    .await?;
    let spec = match form.check(&me.0.lang, &topics) {
        Ok(s) => s,
        Err(errors) => {
            let view = View {
                editing: Some(id),
                form,
                errors,
            };
            let page = page_with(store, templates, &me, view, Status::UnprocessableEntity).await?;
            return Ok(Either::Right(page));
        }
    };
    let before = spec_json(&FieldSpec {
        help_topic_id: old.help_topic_id,
        label: old.label.clone(),
        kind: old.kind.clone(),
        required: old.required,
        help: old.help.clone(),
        options: old.options.clone(),
    });
    let after = spec_json(&spec);
    // Only what changed goes into the audit event.
    let mut changed = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, v) in a {
            if b.get(k) != Some(v) {
                changed.insert(k.clone(), json!({ "from": b.get(k), "to": v }));
            }
        }
    }
    let topic = spec.help_topic_id;
    if !changed.is_empty() {
        let who = me.clone();
        db(store, move |c| {
            audited(c, &who, |tx| {
                forms::update_field(tx, id, &spec, store::now())?;
                let data = json!({ "field_id": id, "label": spec.label, "changed": changed });
                Ok(((), "config.field_updated", data))
            })
        })
        .await?;
    }
    Ok(Either::Left(Redirect::to(format!(
        "/admin/fields?topic={topic}#topic-{topic}"
    ))))
}

#[derive(FromForm)]
struct MoveForm {
    /// "up" or "down".
    direction: String,
}

#[post("/fields/<id>/move", data = "<form>")]
async fn move_field(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
    form: Form<MoveForm>,
) -> Result<Redirect, WebError> {
    let delta = match form.direction.as_str() {
        "up" => -1,
        "down" => 1,
        _ => {
            return Err(WebError::BadRequest(i18n::t(
                &me.0.lang,
                "fields.err_direction",
                &[],
            )))
        }
    };
    let who = me.clone();
    let direction = form.direction.clone();
    let topic = db(store, move |c| {
        let f = forms::get_field(c, id)?;
        audited(c, &who, |tx| {
            forms::move_field(tx, id, delta)?;
            let data = json!({ "field_id": id, "label": f.label, "direction": direction });
            Ok((f.help_topic_id, "config.field_moved", data))
        })
    })
    .await?;
    Ok(Redirect::to(format!(
        "/admin/fields?topic={topic}#topic-{topic}"
    )))
}

#[derive(FromForm)]
struct ActiveForm {
    active: bool,
}

#[post("/fields/<id>/active", data = "<form>")]
async fn set_active(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
    form: Form<ActiveForm>,
) -> Result<Redirect, WebError> {
    let who = me.clone();
    let active = form.active;
    let topic = db(store, move |c| {
        let f = forms::get_field(c, id)?;
        audited(c, &who, |tx| {
            forms::set_active(tx, id, active, store::now())?;
            let kind = if active {
                "config.field_activated"
            } else {
                "config.field_deactivated"
            };
            Ok((
                f.help_topic_id,
                kind,
                json!({ "field_id": id, "label": f.label }),
            ))
        })
    })
    .await?;
    Ok(Redirect::to(format!(
        "/admin/fields?topic={topic}#topic-{topic}"
    )))
}
