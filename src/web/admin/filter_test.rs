//! /admin/filters/test: paste a raw mail (or type a sender, subject and
//! body) and see which filters would match, in order, and what they would
//! do. Nothing is created, banned or logged.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::{get, post, routes, FromForm, Route, State};
use serde::Serialize;

use super::filter_form::{self, Choices};
use crate::mail::parse;
use crate::model::{HelpTopicId, Source};
use crate::store::{self, Store};
use crate::tickets::rules::{self, RuleInput};
use crate::tickets::rules_apply;
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![form, run]
}

#[derive(Debug, Default, FromForm, Serialize)]
struct TestForm {
    #[field(default = String::new())]
    raw: String,
    #[field(default = String::new())]
    sender: String,
    #[field(default = String::new())]
    recipient: String,
    #[field(default = String::new())]
    subject: String,
    #[field(default = String::new())]
    body: String,
    #[field(default = String::from("email"))]
    source: String,
    help_topic: Option<i64>,
}

/// One filter's verdict on the sample.
#[derive(Debug, Serialize)]
struct Verdict {
    id: i64,
    name: String,
    /// "applied", "not_reached" (an earlier filter stopped processing or
    /// rejected) or "no_match".
    state: &'static str,
    actions: Vec<String>,
}

/// What would become of the sample.
#[derive(Debug, Serialize)]
struct Report {
    sender: String,
    subject: String,
    recipients: Vec<String>,
    /// The ban list entry refusing the sender, if any (filters do not run).
    banned: Option<String>,
    verdicts: Vec<Verdict>,
    /// The routing in words ("Set department: Sales", …).
    summary: Vec<String>,
    rejected_by: Option<String>,
    banned_by: Option<String>,
    skip_auto_response: bool,
    notes: Vec<String>,
}

#[get("/filters/test")]
async fn form(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    show(store, templates, &me, &TestForm::default(), None, None).await
}

async fn show(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    input: &TestForm,
    report: Option<&Report>,
    error: Option<(&str, String)>,
) -> Result<RawHtml<String>, WebError> {
    let topics = db(store, |c| store::filters::help_topics(c)).await?;
    let mut ctx = super::admin_page(store, me, "filters").await?;
    ctx.insert("t_in", input);
    ctx.insert("topics", &topics);
    ctx.insert("report", &report);
    ctx.insert("error_field", &error.as_ref().map(|e| e.0));
    ctx.insert("error", &error.as_ref().map(|e| e.1.clone()));
    render(templates, "admin/filter_test.html", &ctx)
}

#[post("/filters/test", data = "<form>")]
async fn run(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<TestForm>,
) -> Result<RawHtml<String>, WebError> {
    let form = form.into_inner();
    let lang = me.0.lang.clone();
    let input = if !form.raw.trim().is_empty() {
        match parse::parse(form.raw.as_bytes()) {
            Ok(inbound) => RuleInput::from_inbound(&inbound),
            Err(e) => {
                let msg = i18n::t(&lang, "rules.test_bad_raw", &[("error", e.to_string())]);
                return show(store, templates, &me, &form, None, Some(("raw", msg))).await;
            }
        }
    } else {
        let sender = form.sender.trim();
        if !sender.contains('@') {
            let msg = i18n::t(&lang, "rules.test_need_sender", &[]);
            return show(store, templates, &me, &form, None, Some(("sender", msg))).await;
        }
        RuleInput {
            source: Source::parse(&form.source).unwrap_or(Source::Email),
            sender: sender.to_string(),
            recipients: form
                .recipient
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            subject: form.subject.clone(),
            body: form.body.clone(),
            headers: Vec::new(),
            help_topic: None,
        }
    };
    let topic = form.help_topic.filter(|id| *id > 0).map(HelpTopicId);
    let report = db(store, move |c| {
        let mut input = input;
        if let Some(id) = topic {
            input.help_topic = store::filters::help_topic_name(c, id)?;
        }
        let banned = store::bans::matching_entry(c, &input.sender)?;
        let filters = rules_apply::load(c)?;
        let choices = filter_form::choices(c, &lang)?;
        Ok(evaluate(&filters, &input, banned, &choices, &lang))
    })
    .await?;
    show(store, templates, &me, &form, Some(&report), None).await
}

fn evaluate(
    filters: &[rules::Filter],
    input: &RuleInput,
    banned: Option<String>,
    choices: &Choices,
    lang: &str,
) -> Report {
    let outcome = rules::evaluate(filters, input);
    let describe = |a: &rules::Action| filter_form::describe(choices, a.kind(), &a.value(), lang);
    let verdicts = filters
        .iter()
        .map(|f| {
            let state = if outcome.matched.iter().any(|m| m.id == f.id) {
                "applied"
            } else if f.matches(input) {
                "not_reached"
            } else {
                "no_match"
            };
            Verdict {
                id: f.id,
                name: f.name.clone(),
                state,
                actions: f.actions.iter().map(describe).collect(),
            }
        })
        .collect();
    let mut summary = Vec::new();
    let mut line = |kind: &str, id: Option<i64>| {
        if let Some(id) = id {
            summary.push(filter_form::describe(choices, kind, &id.to_string(), lang));
        }
    };
    line("set_department", outcome.department.map(|d| d.0));
    line("set_help_topic", outcome.help_topic.map(|d| d.0));
    line("set_priority", outcome.priority.map(|d| d.0));
    line("set_sla_plan", outcome.sla_plan.map(|d| d.0));
    line("assign_staff", outcome.assignee.map(|d| d.0));
    line("assign_team", outcome.team.map(|d| d.0));
    if let Some(s) = outcome.status {
        summary.push(filter_form::describe(
            choices,
            "set_status",
            s.as_str(),
            lang,
        ));
    }
    Report {
        sender: input.sender.clone(),
        subject: input.subject.clone(),
        recipients: input.recipients.clone(),
        banned,
        verdicts,
        summary,
        rejected_by: outcome.rejected_by.clone(),
        banned_by: outcome.banned_by.clone(),
        skip_auto_response: outcome.skip_auto_response,
        notes: outcome.notes.iter().map(|(_, n)| n.clone()).collect(),
    }
}
