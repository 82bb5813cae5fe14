//! The new-ticket form at `/portal/open`: contact details, help topic,
//! subject, message, attachments and the chosen topic's custom fields.
//!
//! Every topic's fields are rendered as a group; only the chosen topic's
//! group is enabled, and the script swaps groups when the topic changes.
//! Without the script, sending the form with another topic shows that
//! topic's fields with a note instead of opening the ticket. Every problem
//! is shown beside its input with what was typed kept (files must be chosen
//! again: browsers never refill file inputs).

use std::collections::HashMap;

use rocket::form::{Errors, Form};
use rocket::fs::TempFile;
use rocket::http::{CookieJar, Status};
use rocket::response::content::RawHtml;
use rocket::{get, post, routes, FromForm, Route, State};
use serde::Serialize;

use super::antispam::{self, TokenError};
use super::customer::CustomerSession;
use super::submit::{self, PortalTicket, Refused};
use super::uploads::{check_files, chosen_files, read_files, size_label};
use super::validate::{self, Limits, Problem, Submitted};
use super::{portal_page, render, Visitor};
use crate::config::Config;
use crate::model::HelpTopicId;
use crate::store::forms::{self, FormField, TopicOption};
use crate::store::{portal as sp, settings, Store};
use crate::tickets::{links, TicketError};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![form_page, submit_form]
}

const MAX_NAME: usize = 200;
const MAX_SUBJECT: usize = 255;
const MAX_MESSAGE: usize = 50_000;

/// What the visitor typed, kept across a failed submission.
#[derive(Debug, Clone, Default, Serialize)]
struct Typed {
    email: String,
    name: String,
    topic: Option<i64>,
    subject: String,
    message: String,
    f: Submitted,
}

/// Everything the form page shows besides the branding.
#[derive(Debug, Default)]
struct FormState {
    typed: Typed,
    errors: HashMap<String, String>,
    /// The time token to put in the form (None: issue a fresh one).
    token: Option<String>,
    /// Whose fields are shown (enabled) in the page as served.
    shown_topic: Option<i64>,
    note: Option<String>,
    /// Files had been chosen: tell the visitor to choose them again.
    reselect: bool,
    /// A signed-in customer: the address is theirs and cannot be changed.
    signed_in: bool,
}

#[derive(Serialize)]
struct OptionView {
    text: String,
    name: String,
    checked: bool,
}

#[derive(Serialize)]
struct FieldView {
    id: i64,
    name: String,
    label: String,
    kind: String,
    required: bool,
    help: String,
    value: String,
    options: Vec<OptionView>,
    error: Option<String>,
}

#[derive(Serialize)]
struct GroupView {
    topic: i64,
    shown: bool,
    fields: Vec<FieldView>,
}

fn field_view(f: &FormField, typed: &Submitted, error: Option<String>) -> FieldView {
    FieldView {
        id: f.id,
        name: format!("f[{}]", f.id),
        label: f.label.clone(),
        kind: f.kind.clone(),
        required: f.required,
        help: f.help.clone(),
        value: typed.get(&f.id.to_string()).cloned().unwrap_or_default(),
        options: f
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let key = format!("{}_{i}", f.id);
                OptionView {
                    text: o.clone(),
                    checked: typed.contains_key(&key),
                    name: format!("f[{key}]"),
                }
            })
            .collect(),
        error,
    }
}

/// What the form needs from the database.
struct FormData {
    topics: Vec<TopicOption>,
    fields: Vec<FormField>,
    limits: Limits,
    rate_limit: i64,
    secret: Vec<u8>,
}

async fn load(store: &Store, config: &Config) -> Result<FormData, WebError> {
    let configured = config.server.secret.clone();
    db(store, move |c| {
        let topics = forms::public_topics(c)?;
        let fields = forms::all_fields(c)?
            .into_iter()
            .filter(|f| f.active && topics.iter().any(|t| t.id == f.help_topic_id))
            .collect();
        Ok(FormData {
            topics,
            fields,
            limits: Limits {
                max_files: settings::get_i64(c, "attachments.max_files", sp::DEFAULT_MAX_FILES)?
                    .max(0) as usize,
                max_file_bytes: settings::get_i64(
                    c,
                    "attachments.max_file_bytes",
                    sp::DEFAULT_MAX_FILE_BYTES,
                )?
                .max(0) as u64,
                allowed: Limits::parse_allowed(&settings::get_or(
                    c,
                    "attachments.allowed_types",
                    "",
                )?),
            },
            rate_limit: settings::get_i64(
                c,
                "portal.rate_limit_per_hour",
                sp::DEFAULT_RATE_LIMIT_PER_HOUR,
            )?,
            secret: links::secret(c, &configured)?,
        })
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn form_response(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    data: &FormData,
    state: FormState,
    status: Status,
) -> Result<(Status, RawHtml<String>), WebError> {
    let mut ctx = portal_page(store, visitor, jar, "open").await?;
    let groups: Vec<GroupView> = data
        .topics
        .iter()
        .filter_map(|t| {
            let fields: Vec<FieldView> = data
                .fields
                .iter()
                .filter(|f| f.help_topic_id == t.id)
                .map(|f| {
                    let err = state.errors.get(&format!("f{}", f.id)).cloned();
                    field_view(f, &state.typed.f, err)
                })
                .collect();
            (!fields.is_empty()).then_some(GroupView {
                topic: t.id.0,
                shown: state.shown_topic == Some(t.id.0),
                fields,
            })
        })
        .collect();
    let token = state
        .token
        .clone()
        .unwrap_or_else(|| antispam::issue(&data.secret, crate::store::now()));
    ctx.insert("v", &state.typed);
    ctx.insert("errors", &state.errors);
    ctx.insert("topics", &data.topics);
    ctx.insert("groups", &groups);
    ctx.insert("shown_topic", &state.shown_topic);
    ctx.insert("ts", &token);
    ctx.insert("note", &state.note);
    ctx.insert("reselect", &state.reselect);
    ctx.insert("signed_in", &state.signed_in);
    ctx.insert("honeypot", antispam::HONEYPOT);
    ctx.insert("max_files", &data.limits.max_files);
    ctx.insert("max_size", &size_label(data.limits.max_file_bytes));
    ctx.insert("allowed_types", &data.limits.allowed.join(", "));
    let html = render(templates, "portal/open.html", &ctx)?;
    Ok((status, html))
}

#[get("/open?<topic>")]
async fn form_page(
    store: &State<Store>,
    config: &State<Config>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    customer: Option<CustomerSession>,
    topic: Option<i64>,
) -> Result<(Status, RawHtml<String>), WebError> {
    let data = load(store, config).await?;
    let topic = topic
        .filter(|t| data.topics.iter().any(|x| x.id.0 == *t))
        .or_else(|| (data.topics.len() == 1).then(|| data.topics[0].id.0));
    let state = FormState {
        typed: Typed {
            topic,
            email: customer
                .as_ref()
                .map(|c| c.email.clone())
                .unwrap_or_default(),
            name: customer
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            ..Typed::default()
        },
        shown_topic: topic,
        signed_in: customer.is_some(),
        ..FormState::default()
    };
    form_response(store, templates, &visitor, jar, &data, state, Status::Ok).await
}

#[derive(FromForm)]
struct OpenForm<'r> {
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    topic: String,
    #[field(default = String::new())]
    shown_topic: String,
    #[field(default = String::new())]
    subject: String,
    #[field(default = String::new())]
    message: String,
    #[field(default = String::new())]
    website: String,
    #[field(default = String::new())]
    ts: String,
    #[field(default = HashMap::new())]
    f: HashMap<String, String>,
    #[field(default = Vec::new())]
    attachments: Vec<TempFile<'r>>,
}

fn say(lang: &str, p: &Problem) -> String {
    i18n::t(lang, p.key, &p.args)
}

#[post("/open", data = "<form>")]
async fn submit_form(
    store: &State<Store>,
    config: &State<Config>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    customer: Option<CustomerSession>,
    form: Result<Form<OpenForm<'_>>, Errors<'_>>,
) -> Result<(Status, RawHtml<String>), WebError> {
    let data = load(store, config).await?;
    let lang = visitor.lang.clone();
    let form = match form {
        Ok(f) => f,
        Err(e) => {
            tracing::info!(errors = %e, "a portal form could not be read");
            let mut state = FormState::default();
            state.errors.insert(
                "form".into(),
                i18n::t(
                    &lang,
                    "portal.err_unreadable",
                    &[("max", size_label(data.limits.max_file_bytes))],
                ),
            );
            return form_response(
                store,
                templates,
                &visitor,
                jar,
                &data,
                state,
                Status::BadRequest,
            )
            .await;
        }
    };
    let topic_id: Option<i64> = form.topic.trim().parse().ok();
    let mut typed = Typed {
        email: form.email.trim().to_string(),
        name: form.name.trim().to_string(),
        topic: topic_id,
        subject: form.subject.trim().to_string(),
        message: form.message.clone(),
        f: form.f.clone(),
    };
    // A signed-in customer opens tickets under their own address.
    if let Some(c) = &customer {
        typed.email = c.email.clone();
        if typed.name.is_empty() {
            typed.name = c.name.clone();
        }
    }
    let shown_topic: Option<i64> = form.shown_topic.trim().parse().ok();
    let files = chosen_files(&form.attachments);
    let token_hash = crate::web::auth::sha256_hex(form.ts.trim());
    let mut state = FormState {
        typed,
        shown_topic,
        reselect: !files.is_empty(),
        signed_in: customer.is_some(),
        token: Some(form.ts.trim().to_string()),
        ..FormState::default()
    };
    let mut err = |k: &str, msg: String| {
        state.errors.entry(k.to_string()).or_insert(msg);
    };

    // The same form sent twice (a double click, a reload): show the ticket
    // it already opened.
    let th = token_hash.clone();
    if let Some((_, number)) = db(store, move |c| {
        crate::store::portal::ticket_for_token(c, &th)
    })
    .await?
    {
        return success(
            store,
            templates,
            &visitor,
            jar,
            &number,
            &state.typed.email,
            state.signed_in,
        )
        .await;
    }

    // Anti-spam.
    if !form.website.trim().is_empty() {
        tracing::info!(ip = %visitor.client.ip, "portal form refused: the honeypot was filled in");
        err("form", i18n::t(&lang, "portal.err_honeypot", &[]));
    }
    match antispam::check(&data.secret, &form.ts, crate::store::now()) {
        Ok(_) => {}
        Err(TokenError::TooFast) => {
            tracing::info!(ip = %visitor.client.ip, "portal form refused: sent too fast");
            err("form", i18n::t(&lang, "portal.err_too_fast", &[]));
        }
        Err(TokenError::Expired) => {
            err("form", i18n::t(&lang, "portal.err_token_expired", &[]));
            state.token = None;
        }
        Err(TokenError::Forged) => {
            tracing::info!(ip = %visitor.client.ip, "portal form refused: missing or forged time token");
            err("form", i18n::t(&lang, "portal.err_token_forged", &[]));
            state.token = None;
        }
    }

    // The visible fields.
    let email = match validate::email(&state.typed.email) {
        Ok(e) => Some(e),
        Err(p) => {
            err("email", say(&lang, &p));
            None
        }
    };
    let required = |s: &str, max: usize| -> Option<Problem> {
        if s.trim().is_empty() {
            Some(Problem::new("portal.err_required"))
        } else if s.chars().count() > max {
            Some(Problem::new("portal.err_too_long").with("max", max.to_string()))
        } else {
            None
        }
    };
    for (key, value, max) in [
        ("name", state.typed.name.clone(), MAX_NAME),
        ("subject", state.typed.subject.clone(), MAX_SUBJECT),
        ("message", state.typed.message.clone(), MAX_MESSAGE),
    ] {
        if let Some(p) = required(&value, max) {
            err(key, say(&lang, &p));
        }
    }
    let topic = match topic_id {
        Some(id) if data.topics.iter().any(|t| t.id.0 == id) => Some(HelpTopicId(id)),
        Some(_) => {
            err("topic", i18n::t(&lang, "portal.err_choice", &[]));
            None
        }
        None if !data.topics.is_empty() => {
            err("topic", i18n::t(&lang, "portal.err_required", &[]));
            None
        }
        None => None,
    };

    // Custom fields of the chosen topic. Without the script the page may
    // still show another topic's fields: show the chosen topic's first.
    let topic_fields: Vec<FormField> = topic
        .map(|t| {
            data.fields
                .iter()
                .filter(|f| f.help_topic_id == t)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut values = Vec::new();
    if topic.is_some() && topic_id != shown_topic && !topic_fields.is_empty() {
        state.note = Some(i18n::t(&lang, "portal.topic_changed", &[]));
    } else {
        match validate::fields(&topic_fields, &state.typed.f) {
            Ok(v) => values = v,
            Err(problems) => {
                for (id, p) in problems {
                    err(&format!("f{id}"), say(&lang, &p));
                }
            }
        }
    }
    if topic.is_some() {
        state.shown_topic = topic_id;
    }

    if let Some(p) = check_files(&files, &data.limits) {
        err("attachments", say(&lang, &p));
    }

    if !state.errors.is_empty() || state.note.is_some() {
        let status = if state.errors.is_empty() {
            Status::Ok
        } else {
            Status::UnprocessableEntity
        };
        return form_response(store, templates, &visitor, jar, &data, state, status).await;
    }
    let Some(email) = email else {
        return Err(WebError::Internal("a checked address went missing".into()));
    };

    let attachments = read_files(&files).await?;
    let ticket = PortalTicket {
        email: email.clone(),
        name: state.typed.name.clone(),
        topic,
        subject: state.typed.subject.clone(),
        message: state.typed.message.clone(),
        attachments,
        values,
        ip: visitor.client.ip.clone(),
        lang: lang.clone(),
        token_hash,
        rate_limit_per_hour: data.rate_limit,
    };
    let s = store.inner().clone();
    let result = rocket::tokio::task::spawn_blocking(move || submit::open(&s, ticket))
        .await
        .map_err(|e| WebError::Internal(format!("a database task failed: {e}")))?;
    match result {
        Ok(opened) => {
            success(
                store,
                templates,
                &visitor,
                jar,
                &opened.number,
                &email,
                state.signed_in,
            )
            .await
        }
        Err(Refused::RateLimited) => {
            tracing::warn!(ip = %visitor.client.ip, limit = data.rate_limit, "portal form refused: hourly limit for this address reached");
            state
                .errors
                .insert("form".into(), i18n::t(&lang, "portal.err_rate_limit", &[]));
            form_response(
                store,
                templates,
                &visitor,
                jar,
                &data,
                state,
                Status::TooManyRequests,
            )
            .await
        }
        Err(Refused::Ticket(TicketError::Invalid(field, msg))) => {
            let key = match field {
                "email" | "name" | "subject" => field,
                "body" => "message",
                "attachments" => "attachments",
                _ => "form",
            };
            state.errors.insert(key.into(), msg);
            form_response(
                store,
                templates,
                &visitor,
                jar,
                &data,
                state,
                Status::UnprocessableEntity,
            )
            .await
        }
        Err(Refused::Ticket(e)) => Err(WebError::from(e)),
    }
}

async fn success(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    number: &str,
    email: &str,
    signed_in: bool,
) -> Result<(Status, RawHtml<String>), WebError> {
    let mut ctx = portal_page(store, visitor, jar, "open").await?;
    ctx.insert("number", number);
    ctx.insert("email", email);
    // A signed-in customer can go straight to the ticket.
    ctx.insert("ticket_path", &signed_in.then(|| urlencode(number)));
    Ok((Status::Ok, render(templates, "portal/opened.html", &ctx)?))
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
