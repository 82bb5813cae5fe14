//! Which mail follows from which ticket event. Called by the domain inside
//! the transaction that records the event, so mail is queued in the outbox
//! if and only if the change is committed.
//!
//! Each kind of mail is switched on or off by a setting (`mail.*`). A mail
//! that cannot be built (an invalid address, a template bug) is logged and
//! skipped: it must never undo the customer's ticket.

use rusqlite::Connection;
use serde_json::json;

use super::deferred;
use super::queue::{queue, MailAttachment, OutgoingMail, QueueError, Sender};
use super::templates::{self, TemplateError};
use crate::model::{EntryId, StaffId, TicketId};
use crate::store::mail_facts::{self, StaffContact, TicketFacts};
use crate::store::{self, settings, StoreError, StoreResult};
use crate::tickets::events::{Actor, TicketEvent};
use crate::tickets::links;

pub fn on_event(tx: &Connection, actor: &Actor, event: &TicketEvent) -> StoreResult<()> {
    match *event {
        TicketEvent::Created {
            ticket,
            entry,
            suppress_auto_response,
            ..
        } => {
            if !suppress_auto_response {
                auto_response(tx, ticket, entry)?;
            }
            alert_department(tx, actor, ticket, entry, "alert_new_ticket")?;
        }
        TicketEvent::MessageReceived {
            ticket,
            entry,
            reopened,
        } => alert_new_message(tx, actor, ticket, entry, reopened)?,
        TicketEvent::ResponseAdded { ticket, entry } => response(tx, ticket, entry)?,
        TicketEvent::Assigned {
            ticket,
            to: Some(to),
            ..
        } => alert_assigned(tx, actor, ticket, to)?,
        TicketEvent::TeamAssigned {
            ticket,
            to: Some(to),
            ..
        } => alert_team_assigned(tx, actor, ticket, to)?,
        TicketEvent::Transferred { ticket, .. } => alert_transferred(tx, actor, ticket)?,
        TicketEvent::Overdue { ticket } => alert_overdue(tx, ticket)?,
        _ => {}
    }
    Ok(())
}

/// Store errors roll the change back (the caller retries); anything else
/// about one mail is logged and that mail skipped.
fn soft<T>(
    what: &str,
    ticket: TicketId,
    r: Result<T, impl Into<Failure>>,
) -> StoreResult<Option<T>> {
    match r.map_err(Into::into) {
        Ok(v) => Ok(Some(v)),
        Err(Failure::Store(e)) => Err(e),
        Err(Failure::Other(message)) => {
            tracing::error!(ticket = %ticket, mail = what, error = %message, "mail not queued");
            Ok(None)
        }
    }
}

enum Failure {
    Store(StoreError),
    Other(String),
}

impl From<QueueError> for Failure {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Store(s) => Failure::Store(s),
            other => Failure::Other(other.to_string()),
        }
    }
}

impl From<TemplateError> for Failure {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::Store(s) => Failure::Store(s),
            other => Failure::Other(other.to_string()),
        }
    }
}

fn load_ticket(tx: &Connection, ticket: TicketId) -> StoreResult<TicketFacts> {
    mail_facts::ticket(tx, ticket)?.ok_or_else(|| StoreError::NotFound(format!("ticket {ticket}")))
}

/// Our own addresses: mail to them would come straight back in.
fn is_own_address(tx: &Connection, email: &str) -> StoreResult<bool> {
    let email = email.trim().to_lowercase();
    let config = super::config();
    if config.smtp.from_address.trim().to_lowercase() == email {
        return Ok(true);
    }
    Ok(mail_facts::department_addresses(tx)?
        .iter()
        .any(|a| a.trim().to_lowercase() == email))
}

/// Customer mail comes from the department's address when it has one.
pub(super) fn department_sender(t: &TicketFacts) -> Option<Sender> {
    let email = t.department_email.as_deref().unwrap_or("").trim();
    (!email.is_empty()).then(|| Sender {
        email: email.to_string(),
        name: t.department_email_name.clone().unwrap_or_default(),
    })
}

/// The subject must carry `[#NUMBER]` whatever the template says, so a
/// reply whose client drops the threading headers still finds the ticket.
pub(super) fn with_token(subject: &str, number: &str) -> String {
    let token = format!("[#{number}]");
    if subject.contains(&token) {
        subject.to_string()
    } else {
        format!("{token} {subject}")
    }
}

/// Variables every ticket mail gets.
pub(super) fn base_context(
    tx: &Connection,
    t: &TicketFacts,
    customer_email: &str,
    access_link: &str,
) -> StoreResult<tera::Context> {
    let config = super::config();
    let base = links::public_base(tx, &config.server.base_url, &config.server.listen)?;
    let mut ctx = tera::Context::new();
    ctx.insert(
        "helpdesk",
        &json!({ "name": settings::get_or(tx, "helpdesk.name", "Oxidesk")? }),
    );
    ctx.insert(
        "ticket",
        &json!({
            "number": t.number,
            "subject": t.subject,
            "status": t.status,
            "department": t.department_name,
            "access_link": access_link,
            "staff_url": format!("{base}/staff/tickets/{}", t.number),
        }),
    );
    ctx.insert(
        "customer",
        &json!({ "name": t.customer_name, "email": customer_email }),
    );
    ctx.insert("reopened", &false);
    ctx.insert("signature", "");
    Ok(ctx)
}

pub(super) fn entry_context(ctx: &mut tera::Context, e: &mail_facts::EntryFacts) {
    let html = match e.body_html.as_deref().filter(|h| !h.trim().is_empty()) {
        // Stored HTML was sanitised when it was stored.
        Some(h) => h.to_string(),
        None => format!(
            "<div style=\"white-space:pre-wrap\">{}</div>",
            tera::escape_html(&e.body_text)
        ),
    };
    // Alerts show what the customer added, without the quoted history.
    let visible = crate::mail::quote::trim(&e.body_text).visible;
    ctx.insert(
        "entry",
        &json!({ "author": e.author_name, "text": e.body_text, "visible": visible, "html": html }),
    );
}

/// A signed portal link for the customer, valid `portal.link_ttl_days`.
fn access_link(tx: &Connection, t: &TicketFacts, email: &str) -> StoreResult<String> {
    let config = super::config();
    let secret = links::secret(tx, &config.server.secret)?;
    let days = settings::get_i64(tx, "portal.link_ttl_days", 30)?.max(1);
    let token = links::sign(&secret, t.id, email, store::now() + days * 86400);
    let base = links::public_base(tx, &config.server.base_url, &config.server.listen)?;
    Ok(links::url(&base, &t.number, &token))
}

fn auto_response(tx: &Connection, ticket: TicketId, entry: EntryId) -> StoreResult<()> {
    if !settings::get_bool(tx, "mail.auto_response", true)? {
        return Ok(());
    }
    let t = load_ticket(tx, ticket)?;
    if !t.department_auto_response {
        return Ok(());
    }
    let first = mail_facts::entry(tx, entry)?;
    let email = match first.as_ref().and_then(|e| e.author_email.clone()) {
        Some(e) if !e.trim().is_empty() => e,
        _ => match mail_facts::customer_address(tx, ticket, t.customer_id)? {
            Some(e) => e,
            None => return Ok(()),
        },
    };
    if is_own_address(tx, &email)? {
        tracing::info!(ticket = %ticket, to = %email, "no auto-response to our own address");
        return Ok(());
    }
    let limit = settings::get_i64(tx, "mail.auto_response_per_hour", 5)?;
    let sent = store::outbox::count_recent(tx, "auto_response", &email, store::now() - 3600)?;
    if sent >= limit {
        tracing::warn!(ticket = %ticket, to = %email, limit, "auto-response limit reached for this sender; none sent");
        return Ok(());
    }
    let link = access_link(tx, &t, &email)?;
    // Rendered by the outbox worker when it is sent (see `deferred`): the
    // templates are not parsed while the mail's transaction holds the lock.
    deferred::queue_auto_response(tx, &t, entry, &email, &link, t.customer_locale.as_deref())
}

fn response(tx: &Connection, ticket: TicketId, entry: EntryId) -> StoreResult<()> {
    if !settings::get_bool(tx, "mail.send_responses", true)? {
        return Ok(());
    }
    let t = load_ticket(tx, ticket)?;
    let Some(e) = mail_facts::entry(tx, entry)? else {
        return Err(StoreError::NotFound(format!("thread entry {entry}")));
    };
    let Some(email) = mail_facts::customer_address(tx, ticket, t.customer_id)? else {
        tracing::warn!(ticket = %ticket, "the customer has no email address; the response is not mailed");
        return Ok(());
    };
    let link = access_link(tx, &t, &email)?;
    let mut ctx = base_context(tx, &t, &email, &link)?;
    entry_context(&mut ctx, &e);
    let signature = match e.staff_id {
        Some(id) => mail_facts::staff_signature(tx, id)?,
        None => String::new(),
    };
    ctx.insert("signature", signature.trim());
    let lang = templates::language(t.customer_locale.as_deref());
    let Some(r) = soft(
        "response",
        ticket,
        templates::render(tx, "response", &lang, &ctx),
    )?
    else {
        return Ok(());
    };
    // Reply to the customer's last message so their client threads it.
    let (in_reply_to, references) = match mail_facts::last_customer_message(tx, ticket)? {
        Some((mid, refs)) => {
            let mut r: Vec<String> = refs
                .unwrap_or_default()
                .split_whitespace()
                .map(|s| s.trim_matches(['<', '>']).to_string())
                .filter(|s| !s.is_empty())
                .collect();
            r.push(mid.clone());
            (Some(mid), r)
        }
        None => (None, Vec::new()),
    };
    let attachments = mail_facts::attachments(tx, entry)?
        .into_iter()
        .map(|a| MailAttachment {
            filename: a.filename,
            mime_type: a.mime_type,
            data: a.data,
            inline: a.inline,
            content_id: a.content_id,
        })
        .collect();
    let mail = OutgoingMail {
        kind: "response".into(),
        ticket: Some(ticket),
        entry: Some(entry),
        from: department_sender(&t),
        to: vec![(t.customer_name.clone(), email)],
        subject: with_token(&r.subject, &t.number),
        text: r.text,
        html: r.html,
        in_reply_to,
        references,
        attachments,
        message_id: e.message_id.clone().filter(|m| !m.trim().is_empty()),
        ..OutgoingMail::default()
    };
    if let Some(q) = soft("response", ticket, queue(tx, mail))? {
        mail_facts::set_entry_message_id(tx, entry, &q.message_id)?;
    }
    Ok(())
}

/// Alerts rendered by the outbox worker when it sends them (see
/// `deferred`): the ones a piped mail causes, to a whole department.
const DEFERRED: &[&str] = &["alert_new_ticket", "alert_new_message"];

/// One alert per staff member, in their language, never to the actor.
fn alert_staff(
    tx: &Connection,
    actor: &Actor,
    t: &TicketFacts,
    entry: Option<&mail_facts::EntryFacts>,
    template: &str,
    recipients: Vec<StaffContact>,
    reopened: bool,
) -> StoreResult<()> {
    let actor_id = match actor {
        Actor::Staff { id, .. } => Some(*id),
        _ => None,
    };
    if DEFERRED.contains(&template) {
        let actor_name = actor.display_name();
        let mut seen = Vec::new();
        for staff in recipients {
            if Some(staff.id) == actor_id
                || seen.contains(&staff.id)
                || staff.email.trim().is_empty()
            {
                continue;
            }
            seen.push(staff.id);
            let entry = entry.map(|e| e.id);
            deferred::queue_alert(tx, t, entry, template, &staff, actor_name, reopened)?;
        }
        return Ok(());
    }
    let customer_email = mail_facts::customer_address(tx, t.id, t.customer_id)?.unwrap_or_default();
    // What every recipient's alert shares, built once: the entry's text is
    // trimmed and escaped once, not once per department member.
    let mut shared = base_context(tx, t, &customer_email, "")?;
    shared.insert("actor", &json!({ "name": actor.display_name() }));
    shared.insert("reopened", &reopened);
    if let Some(e) = entry {
        entry_context(&mut shared, e);
    }
    let mut seen = Vec::new();
    for staff in recipients {
        if Some(staff.id) == actor_id || seen.contains(&staff.id) || staff.email.trim().is_empty() {
            continue;
        }
        seen.push(staff.id);
        let mut ctx = shared.clone();
        ctx.insert(
            "recipient",
            &json!({ "name": staff.name, "email": staff.email }),
        );
        let lang = templates::language(staff.locale.as_deref());
        let Some(r) = soft(template, t.id, templates::render(tx, template, &lang, &ctx))? else {
            continue;
        };
        let mail = OutgoingMail {
            kind: template.into(),
            ticket: Some(t.id),
            entry: entry.map(|e| e.id),
            to: vec![(staff.name.clone(), staff.email.clone())],
            subject: with_token(&r.subject, &t.number),
            text: r.text,
            html: r.html,
            auto_submitted: Some("auto-generated"),
            ..OutgoingMail::default()
        };
        soft(template, t.id, queue(tx, mail))?;
    }
    Ok(())
}

/// The department's members; the administrators when it has none, so a
/// new ticket never goes unnoticed.
fn department_or_admins(tx: &Connection, t: &TicketFacts) -> StoreResult<Vec<StaffContact>> {
    let members = mail_facts::department_members(tx, t.department_id)?;
    if members.is_empty() {
        mail_facts::admins(tx)
    } else {
        Ok(members)
    }
}

fn alert_department(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    entry: EntryId,
    template: &str,
) -> StoreResult<()> {
    if !settings::get_bool(tx, "mail.alert_new_ticket", true)? {
        return Ok(());
    }
    let t = load_ticket(tx, ticket)?;
    let e = mail_facts::entry(tx, entry)?;
    let members = department_or_admins(tx, &t)?;
    alert_staff(tx, actor, &t, e.as_ref(), template, members, false)
}

fn alert_new_message(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    entry: EntryId,
    reopened: bool,
) -> StoreResult<()> {
    if !settings::get_bool(tx, "mail.alert_new_message", true)? {
        return Ok(());
    }
    let t = load_ticket(tx, ticket)?;
    let e = mail_facts::entry(tx, entry)?;
    if e.as_ref().is_some_and(|e| e.kind != "message") {
        return Ok(());
    }
    let assignee = match t.assignee_id {
        Some(id) => mail_facts::staff(tx, id)?,
        None => None,
    };
    // Nobody assigned: the ticket's team if it has one, else the department.
    let team_members = match (&assignee, store::teams::ticket_team(tx, ticket)?) {
        (None, Some(team)) if store::teams::is_active(tx, team)? => {
            store::teams::alert_members(tx, team)?
        }
        _ => Vec::new(),
    };
    let recipients = match assignee {
        Some(s) => vec![s],
        None if !team_members.is_empty() => team_members,
        None => department_or_admins(tx, &t)?,
    };
    alert_staff(
        tx,
        actor,
        &t,
        e.as_ref(),
        "alert_new_message",
        recipients,
        reopened,
    )
}

fn alert_assigned(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    to: StaffId,
) -> StoreResult<()> {
    if !settings::get_bool(tx, "mail.alert_assigned", true)? {
        return Ok(());
    }
    let t = load_ticket(tx, ticket)?;
    let Some(staff) = mail_facts::staff(tx, to)? else {
        return Ok(());
    };
    alert_staff(tx, actor, &t, None, "alert_assigned", vec![staff], false)
}

/// The team's members who are active and not away.
fn alert_team_assigned(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    to: crate::model::TeamId,
) -> StoreResult<()> {
    if !settings::get_bool(tx, "mail.alert_assigned", true)? {
        return Ok(());
    }
    let t = load_ticket(tx, ticket)?;
    let members = store::teams::alert_members(tx, to)?;
    alert_staff(tx, actor, &t, None, "alert_team_assigned", members, false)
}

/// The new department's members (the assignee keeps the ticket and knows).
fn alert_transferred(tx: &Connection, actor: &Actor, ticket: TicketId) -> StoreResult<()> {
    if !settings::get_bool(tx, "mail.alert_transferred", true)? {
        return Ok(());
    }
    let t = load_ticket(tx, ticket)?;
    let members = department_or_admins(tx, &t)?;
    alert_staff(tx, actor, &t, None, "alert_transferred", members, false)
}

fn alert_overdue(tx: &Connection, ticket: TicketId) -> StoreResult<()> {
    if !settings::get_bool(tx, "mail.alert_overdue", true)? {
        return Ok(());
    }
    // The ticket's SLA plan may turn overdue alerts off.
    if !store::sla_tickets::overdue_alerts_on(tx, ticket)? {
        return Ok(());
    }
    let t = load_ticket(tx, ticket)?;
    let mut recipients = Vec::new();
    for id in [t.assignee_id, t.department_manager_id]
        .into_iter()
        .flatten()
    {
        if let Some(s) = mail_facts::staff(tx, id)? {
            recipients.push(s);
        }
    }
    // Nobody owns it: the department (or the admins) must hear of it.
    if recipients.is_empty() {
        recipients = department_or_admins(tx, &t)?;
    }
    alert_staff(
        tx,
        &Actor::System,
        &t,
        None,
        "alert_overdue",
        recipients,
        false,
    )
}

/// Mail a fresh access link for `ticket` to `email` (the portal's "check
/// ticket status"). The caller has checked that `email` belongs to the
/// ticket's customer; the link grants that one ticket only.
pub fn queue_access_link(
    tx: &Connection,
    ticket: TicketId,
    email: &str,
) -> StoreResult<Option<super::QueuedMail>> {
    let t = load_ticket(tx, ticket)?;
    let link = access_link(tx, &t, email)?;
    let ctx = base_context(tx, &t, email, &link)?;
    let lang = templates::language(t.customer_locale.as_deref());
    let Some(r) = soft(
        "access_link",
        ticket,
        templates::render(tx, "access_link", &lang, &ctx),
    )?
    else {
        return Ok(None);
    };
    let mail = OutgoingMail {
        kind: "access_link".into(),
        ticket: Some(ticket),
        from: department_sender(&t),
        to: vec![(t.customer_name.clone(), email.to_string())],
        subject: with_token(&r.subject, &t.number),
        text: r.text,
        html: r.html,
        auto_submitted: Some("auto-generated"),
        ..OutgoingMail::default()
    };
    soft("access_link", ticket, queue(tx, mail))
}

/// Mail a password-reset `link` (built and signed by the caller) to a
/// person, in their language.
pub fn queue_password_reset(
    tx: &Connection,
    name: &str,
    email: &str,
    locale: Option<&str>,
    link: &str,
) -> Result<super::QueuedMail, QueueError> {
    let mut ctx = tera::Context::new();
    ctx.insert(
        "helpdesk",
        &json!({ "name": settings::get_or(tx, "helpdesk.name", "Oxidesk")? }),
    );
    ctx.insert("recipient", &json!({ "name": name, "email": email }));
    ctx.insert("link", link);
    let lang = templates::language(locale);
    let r = templates::render(tx, "password_reset", &lang, &ctx).map_err(|e| match e {
        TemplateError::Store(s) => QueueError::Store(s),
        other => QueueError::Build(other.to_string()),
    })?;
    queue(
        tx,
        OutgoingMail {
            kind: "password_reset".into(),
            to: vec![(name.to_string(), email.to_string())],
            subject: r.subject,
            text: r.text,
            html: r.html,
            auto_submitted: Some("auto-generated"),
            ..OutgoingMail::default()
        },
    )
}
