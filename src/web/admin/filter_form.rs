//! The filter edit form: what it posts, how that is checked (every error
//! kept beside its field with what was typed), and the choices it offers.
//!
//! Condition rows post parallel lists (`c_field`, `c_header`, `c_op`,
//! `c_value`); action rows post `a_action` ("kind:value", e.g.
//! "set_department:3", so one select covers every target without script)
//! and `a_note` (the text of an "add note" action). Blank rows are ignored:
//! without script the form simply shows a few empty rows.

use std::collections::BTreeMap;

use rocket::FromForm;
use rusqlite::Connection;
use serde::Serialize;

use crate::model::Status;
use crate::store::filters::{self as sf, ActionRow, Choice, ConditionRow, FilterRow, FilterSpec};
use crate::store::StoreResult;
use crate::tickets::rules::{Action, Condition, Field, Op};
use crate::web::i18n;

/// Empty rows offered below the filled ones (the no-script fallback).
const SPARE_ROWS: usize = 2;
const MIN_ROWS: usize = 3;
/// Most conditions (and actions) one filter may have.
pub const MAX_ROWS: usize = 50;

#[derive(Debug, FromForm)]
pub struct FilterForm {
    #[field(default = String::new())]
    pub name: String,
    pub active: bool,
    #[field(default = String::from("all"))]
    pub match_mode: String,
    pub stop_processing: bool,
    pub sources: Vec<String>,
    #[field(default = String::new())]
    pub notes: String,
    pub c_field: Vec<String>,
    pub c_header: Vec<String>,
    pub c_op: Vec<String>,
    pub c_value: Vec<String>,
    pub a_action: Vec<String>,
    pub a_note: Vec<String>,
}

/// One condition row as the form shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CondView {
    pub field: String,
    pub header: String,
    pub op: String,
    pub value: String,
    pub error: Option<String>,
}

/// One action row as the form shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActView {
    /// "kind:value" (the select's value).
    pub action: String,
    pub note: String,
    pub error: Option<String>,
}

/// The whole form, filled from a filter or from what was posted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FormView {
    pub id: Option<i64>,
    pub name: String,
    pub active: bool,
    pub match_all: bool,
    pub stop_processing: bool,
    pub sources: Vec<String>,
    pub notes: String,
    pub conditions: Vec<CondView>,
    pub actions: Vec<ActView>,
    /// Form-level errors by field name ("name", "conditions", "actions").
    pub errors: BTreeMap<String, String>,
}

impl FormView {
    pub fn new_filter() -> FormView {
        let mut v = FormView {
            active: true,
            match_all: true,
            ..FormView::default()
        };
        v.pad();
        v
    }

    pub fn from_row(row: &FilterRow) -> FormView {
        let mut v = FormView {
            id: Some(row.id),
            name: row.name.clone(),
            active: row.active,
            match_all: row.match_all,
            stop_processing: row.stop_processing,
            sources: row
                .sources
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            notes: row.notes.clone(),
            conditions: row
                .conditions
                .iter()
                .map(|c| CondView {
                    field: c.field.clone(),
                    header: c.header.clone(),
                    op: c.op.clone(),
                    value: c.value.clone(),
                    error: None,
                })
                .collect(),
            actions: row
                .actions
                .iter()
                .map(|a| {
                    if a.kind == "add_note" {
                        ActView {
                            action: "add_note:".into(),
                            note: a.value.clone(),
                            error: None,
                        }
                    } else {
                        ActView {
                            action: format!("{}:{}", a.kind, a.value),
                            ..ActView::default()
                        }
                    }
                })
                .collect(),
            errors: BTreeMap::new(),
        };
        v.pad();
        v
    }

    /// Add empty rows for the no-script form.
    fn pad(&mut self) {
        let want = (self.conditions.len() + SPARE_ROWS).max(MIN_ROWS);
        self.conditions.resize_with(want, CondView::default);
        let want = (self.actions.len() + SPARE_ROWS).max(MIN_ROWS);
        self.actions.resize_with(want, ActView::default);
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
            || self.conditions.iter().any(|c| c.error.is_some())
            || self.actions.iter().any(|a| a.error.is_some())
    }
}

fn nth(list: &[String], i: usize) -> String {
    list.get(i).cloned().unwrap_or_default()
}

/// Check a posted form. On success the spec to save; either way the view
/// to show again (with errors beside the rows and fields at fault).
pub fn check(
    conn: &Connection,
    id: Option<i64>,
    form: &FilterForm,
    lang: &str,
) -> StoreResult<(FormView, Option<FilterSpec>)> {
    let mut view = FormView {
        id,
        name: form.name.trim().to_string(),
        active: form.active,
        match_all: form.match_mode != "any",
        stop_processing: form.stop_processing,
        sources: form
            .sources
            .iter()
            .filter(|s| crate::model::Source::parse(s).is_some())
            .cloned()
            .collect(),
        notes: form.notes.trim().to_string(),
        ..FormView::default()
    };
    let mut spec = FilterSpec {
        name: view.name.clone(),
        active: view.active,
        match_all: view.match_all,
        stop_processing: view.stop_processing,
        sources: view.sources.join(","),
        notes: view.notes.clone(),
        ..FilterSpec::default()
    };
    if view.name.is_empty() {
        view.errors
            .insert("name".into(), i18n::t(lang, "rules.err_name", &[]));
    } else if view.name.chars().count() > 120 {
        view.errors
            .insert("name".into(), i18n::t(lang, "rules.err_name_long", &[]));
    }
    if view.notes.chars().count() > 2000 {
        view.errors
            .insert("notes".into(), i18n::t(lang, "rules.err_notes_long", &[]));
    }

    let rows = form.c_field.len().max(form.c_value.len());
    for i in 0..rows {
        let mut c = CondView {
            field: nth(&form.c_field, i),
            header: nth(&form.c_header, i).trim().to_string(),
            op: nth(&form.c_op, i),
            value: nth(&form.c_value, i),
            error: None,
        };
        if c.value.trim().is_empty() && c.header.is_empty() {
            continue; // a blank row
        }
        match Condition::parse(&c.field, &c.header, &c.op, &c.value) {
            Ok(parsed) => spec.conditions.push(ConditionRow {
                field: parsed.field.as_str().into(),
                header: parsed.header.clone(),
                op: parsed.op.as_str().into(),
                value: parsed.value.clone(),
            }),
            Err(e) => c.error = Some(e),
        }
        view.conditions.push(c);
    }
    if view.conditions.is_empty() {
        view.errors.insert(
            "conditions".into(),
            i18n::t(lang, "rules.err_conditions", &[]),
        );
    } else if view.conditions.len() > MAX_ROWS {
        let max = [("max", MAX_ROWS.to_string())];
        view.errors.insert(
            "conditions".into(),
            i18n::t(lang, "rules.err_too_many", &max),
        );
    }

    let rows = form.a_action.len();
    for i in 0..rows {
        let mut a = ActView {
            action: nth(&form.a_action, i),
            note: nth(&form.a_note, i).trim().to_string(),
            error: None,
        };
        if a.action.is_empty() {
            continue;
        }
        let (kind, value) = a.action.split_once(':').unwrap_or((a.action.as_str(), ""));
        let value = if kind == "add_note" {
            a.note.as_str()
        } else {
            value
        };
        match Action::parse(kind, value) {
            Ok(parsed) => match target_id(&parsed) {
                Some(target) if !sf::target_exists(conn, kind, target)? => {
                    a.error = Some(i18n::t(lang, "rules.err_target", &[]));
                }
                _ => spec.actions.push(ActionRow {
                    kind: parsed.kind().into(),
                    value: parsed.value(),
                }),
            },
            Err(e) => a.error = Some(e),
        }
        view.actions.push(a);
    }
    if view.actions.is_empty() {
        view.errors
            .insert("actions".into(), i18n::t(lang, "rules.err_actions", &[]));
    } else if view.actions.len() > MAX_ROWS {
        let max = [("max", MAX_ROWS.to_string())];
        view.errors
            .insert("actions".into(), i18n::t(lang, "rules.err_too_many", &max));
    }
    let ok = !view.has_errors();
    view.pad();
    Ok((view, ok.then_some(spec)))
}

fn target_id(a: &Action) -> Option<i64> {
    Some(match a {
        Action::SetDepartment(id) => id.0,
        Action::SetHelpTopic(id) => id.0,
        Action::SetPriority(id) => id.0,
        Action::SetSlaPlan(id) => id.0,
        Action::AssignStaff(id) => id.0,
        Action::AssignTeam(id) => id.0,
        _ => return None,
    })
}

/// One option of a select.
#[derive(Debug, Clone, Serialize)]
pub struct Opt {
    pub value: String,
    pub label: String,
}

/// A group of options (an <optgroup>).
#[derive(Debug, Clone, Serialize)]
pub struct OptGroup {
    pub label: String,
    pub options: Vec<Opt>,
}

/// What the selects of the form offer, and names for showing actions.
#[derive(Debug, Clone, Serialize)]
pub struct Choices {
    pub fields: Vec<Opt>,
    pub ops: Vec<Opt>,
    pub sources: Vec<Opt>,
    pub actions: Vec<OptGroup>,
    /// "kind:value" → "Set department: Sales", for lists and test results.
    pub labels: BTreeMap<String, String>,
}

pub fn choices(conn: &Connection, lang: &str) -> StoreResult<Choices> {
    let t = |k: &str| i18n::t(lang, k, &[]);
    let fields = Field::ALL
        .iter()
        .map(|f| Opt {
            value: f.as_str().into(),
            label: t(&format!("rules.field.{}", f.as_str())),
        })
        .collect();
    let ops = Op::ALL
        .iter()
        .map(|o| Opt {
            value: o.as_str().into(),
            label: t(&format!("rules.op.{}", o.as_str())),
        })
        .collect();
    let sources = ["email", "web", "phone", "api"]
        .iter()
        .map(|s| Opt {
            value: (*s).into(),
            label: t(&format!("rules.source.{s}")),
        })
        .collect();
    // Options carry the action in their label too: a closed select shows
    // only the option, not its group.
    let group = |kind: &str, list: Vec<Choice>| {
        let label = t(&format!("rules.action.{kind}"));
        OptGroup {
            options: list
                .into_iter()
                .map(|c| Opt {
                    value: format!("{kind}:{}", c.id),
                    label: format!("{label}: {}", c.name),
                })
                .collect(),
            label,
        }
    };
    let mut actions = vec![
        group("set_department", sf::departments(conn)?),
        group("set_help_topic", sf::help_topics(conn)?),
        group("set_priority", sf::priorities(conn)?),
        group("set_sla_plan", sf::sla_plans(conn)?),
        group("assign_staff", sf::staff(conn)?),
        group("assign_team", sf::teams(conn)?),
        OptGroup {
            label: t("rules.action.set_status"),
            options: Status::ALL
                .iter()
                .map(|s| Opt {
                    value: format!("set_status:{}", s.as_str()),
                    label: format!(
                        "{}: {}",
                        t("rules.action.set_status"),
                        t(&format!("status.{}", s.as_str()))
                    ),
                })
                .collect(),
        },
        OptGroup {
            label: t("rules.other_actions"),
            options: [
                "add_note",
                "skip_auto_response",
                "stop_processing",
                "ban_sender",
                "reject",
            ]
            .iter()
            .map(|k| Opt {
                value: format!("{k}:"),
                label: t(&format!("rules.action.{k}")),
            })
            .collect(),
        },
    ];
    actions.retain(|g| !g.options.is_empty());
    let labels = actions
        .iter()
        .flat_map(|g| g.options.iter())
        .map(|o| (o.value.clone(), o.label.clone()))
        .collect();
    Ok(Choices {
        fields,
        ops,
        sources,
        actions,
        labels,
    })
}

/// A stored action as a line of text ("Set department: Sales", "Add note:
/// …"); actions pointing at something deleted say so.
pub fn describe(choices: &Choices, kind: &str, value: &str, lang: &str) -> String {
    if kind == "add_note" {
        return format!("{}: {}", i18n::t(lang, "rules.action.add_note", &[]), value);
    }
    let key = format!("{kind}:{value}");
    match choices.labels.get(&key) {
        Some(l) => l.clone(),
        None => format!(
            "{}: {} ({})",
            i18n::t(lang, &format!("rules.action.{kind}"), &[]),
            value,
            i18n::t(lang, "rules.missing_target", &[])
        ),
    }
}
