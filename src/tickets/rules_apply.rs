//! Running the ticket filters on a new ticket, inside its transaction: the
//! ban list and the filters are checked before anything is written
//! (`before_open`), and what needs the new ticket (notes, a status, the
//! event log, a ban) is done once it exists (`Filtered::finish`).

use rusqlite::Connection;
use serde_json::json;

use super::error::Rejection;
use super::events::Actor;
use super::open::NewTicket;
use super::rules::{self, Action, Condition, Filter, Outcome, RuleInput};
use super::{Body, TicketError};
use crate::model::{Status, TicketId};
use crate::store::{self, filters::FilterRow, StoreResult};

/// What the filters decided for a ticket about to be opened.
#[derive(Debug, Default)]
pub(crate) struct Filtered {
    outcome: Outcome,
    sender: String,
}

/// Check the ban list and run the filters over `new`, changing its routing
/// in place. A banned sender or a rejecting filter is `TicketError::Rejected`.
/// Tickets staff open themselves (phone intake) are not refused for a ban:
/// the agent chose to open them.
pub(crate) fn before_open(
    tx: &Connection,
    actor: &Actor,
    new: &mut NewTicket,
) -> Result<Filtered, TicketError> {
    let sender = new.customer_email.trim().to_string();
    if !matches!(actor, Actor::Staff { .. }) {
        if let Some(entry) = store::bans::matching_entry(tx, &sender)? {
            return Err(rejection(
                new,
                format!("the sender {sender} is banned ({entry})"),
                None,
                false,
            ));
        }
    }
    if !store::filters::any_active(tx)? {
        return Ok(Filtered::default());
    }
    let filters = load(tx)?;
    let topic = match new.help_topic {
        Some(id) => store::filters::help_topic_name(tx, id)?,
        None => None,
    };
    let body = body_text(&new.body);
    let input = RuleInput::new(
        new.source,
        &sender,
        &new.subject,
        &body,
        new.mail.as_ref(),
        topic,
    );
    let outcome = rules::evaluate(&filters, &input);
    if let Some(name) = &outcome.rejected_by {
        return Err(rejection(
            new,
            format!("rejected by the filter \"{name}\""),
            Some(name.clone()),
            outcome.banned_by.is_some(),
        ));
    }
    apply(tx, &outcome, new)?;
    Ok(Filtered { outcome, sender })
}

fn rejection(new: &NewTicket, reason: String, filter: Option<String>, ban: bool) -> TicketError {
    TicketError::Rejected(Box::new(Rejection {
        reason,
        filter,
        sender: new.customer_email.trim().to_string(),
        ban,
        subject: new.subject.clone(),
        source: new.source,
    }))
}

/// The body filters see: the text, else the HTML made text.
fn body_text(body: &Body) -> String {
    if !body.text.trim().is_empty() {
        return body.text.clone();
    }
    match &body.html {
        Some(html) => html2text::from_read(html.as_bytes(), 100).unwrap_or_default(),
        None => String::new(),
    }
}

/// The active filters, ready to run. A filter whose stored rows no longer
/// parse (edited by hand in the database) is skipped with a warning rather
/// than stopping every new ticket.
pub(crate) fn load(conn: &Connection) -> StoreResult<Vec<Filter>> {
    let rows = store::filters::list(conn, true)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match compile(&row) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(filter = %row.name, "filter skipped: {e}");
                None
            }
        })
        .collect())
}

/// A stored filter made ready to run; the error names the bad part.
pub fn compile(row: &FilterRow) -> Result<Filter, String> {
    let conditions = row
        .conditions
        .iter()
        .map(|c| {
            Condition::parse(&c.field, &c.header, &c.op, &c.value)
                .map_err(|e| format!("condition on {}: {e}", c.field))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let actions = row
        .actions
        .iter()
        .map(|a| Action::parse(&a.kind, &a.value).map_err(|e| format!("action {}: {e}", a.kind)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Filter {
        id: row.id,
        name: row.name.clone(),
        active: row.active,
        match_all: row.match_all,
        stop_processing: row.stop_processing,
        sources: rules::parse_sources(&row.sources),
        conditions,
        actions,
    })
}

/// Route the ticket as the filters say. An action pointing at something
/// deleted since (a department, a disabled agent) is skipped with a
/// warning: the ticket still opens, routed by the rest.
fn apply(tx: &Connection, o: &Outcome, new: &mut NewTicket) -> Result<(), TicketError> {
    let ok = |kind: &str, id: i64| -> Result<bool, TicketError> {
        let exists = store::filters::target_exists(tx, kind, id)?;
        if !exists {
            tracing::warn!(
                action = kind,
                id,
                "a filter action points to nothing; skipped"
            );
        }
        Ok(exists)
    };
    if let Some(id) = o.department {
        if ok("set_department", id.0)? {
            new.department = Some(id);
        }
    }
    if let Some(id) = o.help_topic {
        if ok("set_help_topic", id.0)? {
            new.help_topic = Some(id);
        }
    }
    if let Some(id) = o.priority {
        if ok("set_priority", id.0)? {
            new.priority = Some(id);
        }
    }
    if let Some(id) = o.sla_plan {
        if ok("set_sla_plan", id.0)? {
            new.sla_plan = Some(id);
        }
    }
    if let Some(id) = o.assignee {
        if ok("assign_staff", id.0)? {
            new.assignee = Some(id);
        }
    }
    if let Some(id) = o.team {
        if ok("assign_team", id.0)? {
            new.team = Some(id);
        }
    }
    new.suppress_auto_response |= o.skip_auto_response;
    Ok(())
}

impl Filtered {
    /// Once the ticket exists: log each filter that matched, add the notes,
    /// set the status and ban the sender, in the ticket's transaction.
    pub(crate) fn finish(self, tx: &Connection, ticket: TicketId) -> Result<(), TicketError> {
        if self.outcome.is_empty() {
            return Ok(());
        }
        for m in &self.outcome.matched {
            store::filters::record_applied(
                tx,
                ticket,
                &m.name,
                &json!({ "filter_id": m.id, "filter": m.name, "actions": m.actions }),
            )?;
        }
        for (name, text) in &self.outcome.notes {
            let note = super::Note {
                body: Body::text(text.clone()),
                attachments: Vec::new(),
            };
            super::add_note_in(tx, &Actor::System, ticket, note)
                .map_err(|e| TicketError::invalid("filter", format!("{name}: {e}")))?;
        }
        if let Some(status) = self.outcome.status.filter(|s| *s != Status::Open) {
            super::set_status_in(tx, &Actor::System, ticket, status)?;
        }
        if let Some(name) = &self.outcome.banned_by {
            ban(tx, &self.sender, name)?;
        }
        Ok(())
    }
}

fn ban(tx: &Connection, sender: &str, filter: &str) -> Result<(), TicketError> {
    if let Ok(entry) = store::bans::normalise(sender) {
        if store::bans::add(tx, &entry, &format!("filter: {filter}"), None)? {
            store::audit::record(
                tx,
                &Actor::System,
                "config.ban_added",
                &json!({ "entry": entry, "by_filter": filter }),
            )?;
        }
    }
    Ok(())
}

/// Remember a refused ticket: ban the sender if the filter said so, and log
/// the refusal (the event log has no ticket to hang it on). Called by the
/// opener after rolling back the attempt.
pub fn record_rejection(tx: &Connection, r: &Rejection) -> Result<(), TicketError> {
    if r.ban {
        if let Some(name) = &r.filter {
            ban(tx, &r.sender, name)?;
        }
    }
    store::filters::record_event(
        tx,
        None,
        &Actor::System,
        "ticket_rejected",
        &json!({
            "reason": r.reason,
            "filter": r.filter,
            "sender": r.sender,
            "subject": r.subject,
            "source": r.source,
        }),
    )?;
    tracing::info!(sender = %r.sender, source = r.source.as_str(), "new ticket refused: {}", r.reason);
    Ok(())
}
