//! Staff alerts and auto-responses rendered at delivery time.
//!
//! A new ticket gets an auto-response and alerts every member of the
//! department; a new customer message alerts them too. Building each alert (templates, MIME) inside the transaction
//! that records the event made every piped mail pay for all of them while
//! holding the database's write lock. Instead, the event's transaction
//! writes one small outbox row per recipient — kind, ticket, entry,
//! recipient, a Message-ID fixed now, and an [`AlertSpec`] — and the outbox
//! worker renders the mail just before its first delivery attempt and
//! stores the complete message in the row, so every retry sends the same
//! bytes. The row is durable from the moment the event commits: nothing is
//! lost if the process dies before the worker runs.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::notify;
use super::queue::{build_mail, queue_to_render, BuiltMail, OutgoingMail, QueueError, ToRender};
use super::templates::{self, TemplateError};
use crate::model::{EntryId, TicketId};
use crate::store::mail_facts::{self, EntryFacts, StaffContact, TicketFacts};
use crate::store::outbox::ClaimedMail;
use crate::store::{StoreError, StoreResult};

/// What the worker needs, besides the row's ticket and entry, to render an
/// alert (stored as JSON in `outbox.render`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSpec {
    /// Template name (`alert_new_ticket`, `alert_new_message`).
    pub template: String,
    pub name: String,
    pub email: String,
    pub locale: Option<String>,
    /// Who caused the event, as shown in the alert.
    pub actor: String,
    pub reopened: bool,
}

/// Queue one alert to `staff`, to be rendered when it is sent. An address
/// that cannot be used is logged and skipped, as for any other mail.
pub fn queue_alert(
    tx: &Connection,
    t: &TicketFacts,
    entry: Option<EntryId>,
    template: &str,
    staff: &StaffContact,
    actor: &str,
    reopened: bool,
) -> StoreResult<()> {
    let spec = AlertSpec {
        template: template.to_string(),
        name: staff.name.clone(),
        email: staff.email.clone(),
        locale: staff.locale.clone(),
        actor: actor.to_string(),
        reopened,
    };
    let render = serde_json::to_string(&spec)
        .map_err(|e| StoreError::Invalid(format!("recording an alert to render: {e}")))?;
    // Provisional, for outbox listings until the worker renders the real one.
    let subject = notify::with_token(&t.subject, &t.number);
    match queue_to_render(
        tx,
        ToRender {
            kind: template,
            ticket: Some(t.id),
            entry,
            to: &staff.email,
            subject: &subject,
            render: &render,
            from: None,
        },
    ) {
        Ok(_) => Ok(()),
        Err(QueueError::Store(e)) => Err(e),
        Err(other) => {
            tracing::error!(ticket = %t.id, mail = template, error = %other, "mail not queued");
            Ok(())
        }
    }
}

/// What the worker needs to render an auto-response (stored as JSON in
/// `outbox.render` of a row of kind `auto_response`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoResponseSpec {
    /// The customer address it answers.
    pub email: String,
    /// The access link, signed when the message arrived.
    pub link: String,
    pub locale: Option<String>,
}

/// Queue the auto-response to a new ticket's first message, to be rendered
/// when it is sent. Its Message-ID, recipient and sender are fixed now, so
/// the per-sender limit counts it at once.
pub fn queue_auto_response(
    tx: &Connection,
    t: &TicketFacts,
    entry: EntryId,
    email: &str,
    link: &str,
    locale: Option<&str>,
) -> StoreResult<()> {
    let spec = AutoResponseSpec {
        email: email.to_string(),
        link: link.to_string(),
        locale: locale.map(str::to_string),
    };
    let render = serde_json::to_string(&spec)
        .map_err(|e| StoreError::Invalid(format!("recording an auto-response to render: {e}")))?;
    let subject = notify::with_token(&t.subject, &t.number);
    let from = notify::department_sender(t);
    match queue_to_render(
        tx,
        ToRender {
            kind: AUTO_RESPONSE,
            ticket: Some(t.id),
            entry: Some(entry),
            to: email,
            subject: &subject,
            render: &render,
            from: from.as_ref(),
        },
    ) {
        Ok(_) => Ok(()),
        Err(QueueError::Store(e)) => Err(e),
        Err(other) => {
            tracing::error!(ticket = %t.id, mail = AUTO_RESPONSE, error = %other, "mail not queued");
            Ok(())
        }
    }
}

const AUTO_RESPONSE: &str = "auto_response";

/// Why a queued alert could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The database is busy or failed: try again later.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// It never can be (the ticket was deleted, the spec is unreadable, the
    /// template fails): the row is marked failed with this reason.
    #[error("{0}")]
    Permanent(String),
}

impl From<QueueError> for RenderError {
    fn from(e: QueueError) -> RenderError {
        match e {
            QueueError::Store(s) => RenderError::Store(s),
            other => RenderError::Permanent(other.to_string()),
        }
    }
}

impl From<TemplateError> for RenderError {
    fn from(e: TemplateError) -> RenderError {
        match e {
            TemplateError::Store(s) => RenderError::Store(s),
            other => RenderError::Permanent(other.to_string()),
        }
    }
}

/// A rendered alert: its subject (for the outbox listing) and the message.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub built: BuiltMail,
}

/// Render a claimed row whose `render` is set, with the Message-ID it was
/// queued with.
pub fn render(conn: &Connection, mail: &ClaimedMail) -> Result<Rendered, RenderError> {
    if mail.kind == AUTO_RESPONSE {
        return render_auto_response(conn, mail);
    }
    let (spec, t, entry) = claimed_row::<AlertSpec>(conn, mail, "alert")?;
    let customer_email =
        mail_facts::customer_address(conn, t.id, t.customer_id)?.unwrap_or_default();
    let mut ctx = notify::base_context(conn, &t, &customer_email, "")?;
    ctx.insert("actor", &json!({ "name": spec.actor }));
    ctx.insert("reopened", &spec.reopened);
    if let Some(e) = &entry {
        notify::entry_context(&mut ctx, e);
    }
    ctx.insert(
        "recipient",
        &json!({ "name": spec.name, "email": spec.email }),
    );
    let lang = templates::language(spec.locale.as_deref());
    let r = templates::render(conn, &spec.template, &lang, &ctx)?;
    let subject = notify::with_token(&r.subject, &t.number);
    let out = OutgoingMail {
        kind: mail.kind.clone(),
        ticket: Some(t.id),
        entry: entry.as_ref().map(|e| e.id),
        to: vec![(spec.name.clone(), spec.email.clone())],
        subject: subject.clone(),
        text: r.text,
        html: r.html,
        auto_submitted: Some("auto-generated"),
        message_id: Some(mail.message_id.clone()),
        ..OutgoingMail::default()
    };
    let built = build_mail(conn, &out)?;
    Ok(Rendered { subject, built })
}

fn render_auto_response(conn: &Connection, mail: &ClaimedMail) -> Result<Rendered, RenderError> {
    let (spec, t, entry) = claimed_row::<AutoResponseSpec>(conn, mail, "auto-response")?;
    let mut ctx = notify::base_context(conn, &t, &spec.email, &spec.link)?;
    if let Some(e) = &entry {
        notify::entry_context(&mut ctx, e);
    }
    let lang = templates::language(spec.locale.as_deref());
    let r = templates::render(conn, AUTO_RESPONSE, &lang, &ctx)?;
    let subject = notify::with_token(&r.subject, &t.number);
    let reply_to = entry.as_ref().and_then(|e| e.message_id.clone());
    let out = OutgoingMail {
        kind: mail.kind.clone(),
        ticket: Some(t.id),
        entry: entry.as_ref().map(|e| e.id),
        from: notify::department_sender(&t),
        to: vec![(t.customer_name.clone(), spec.email.clone())],
        subject: subject.clone(),
        text: r.text,
        html: r.html,
        in_reply_to: reply_to.clone(),
        references: reply_to.into_iter().collect(),
        auto_submitted: Some("auto-replied"),
        message_id: Some(mail.message_id.clone()),
        ..OutgoingMail::default()
    };
    let built = build_mail(conn, &out)?;
    Ok(Rendered { subject, built })
}

/// A claimed row's render spec, its ticket and its entry, as they are now.
fn claimed_row<S: serde::de::DeserializeOwned>(
    conn: &Connection,
    mail: &ClaimedMail,
    what: &str,
) -> Result<(S, TicketFacts, Option<EntryFacts>), RenderError> {
    let spec: S = serde_json::from_str(mail.render.as_deref().unwrap_or_default())
        .map_err(|e| RenderError::Permanent(format!("unreadable {what} to render: {e}")))?;
    let ticket: TicketId = mail.ticket.ok_or_else(|| {
        RenderError::Permanent(format!("the ticket this {what} was about no longer exists"))
    })?;
    let t = mail_facts::ticket(conn, ticket)?
        .ok_or_else(|| RenderError::Permanent(format!("ticket {ticket} no longer exists")))?;
    let entry = match mail.entry {
        Some(e) => mail_facts::entry(conn, e)?,
        None => None,
    };
    Ok((spec, t, entry))
}
