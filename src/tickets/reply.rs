//! Staff responses and internal notes.

use rusqlite::Connection;

use super::content::{self, Body, NewAttachment};
use super::events::{self, Actor, TicketEvent};
use super::{with_tx, TicketError};
use crate::model::{EntryId, EntryKind, StaffId, Status, TicketId};
use crate::store::{self, entries::NewEntryRow, Store};

/// A staff response to the customer (mailed by outbound mail on the
/// `ResponseAdded` event).
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub body: Body,
    pub attachments: Vec<NewAttachment>,
    /// The status after the response; default answered.
    pub status: Option<Status>,
}

/// An internal note: never shown to the customer.
#[derive(Debug, Clone, Default)]
pub struct Note {
    pub body: Body,
    pub attachments: Vec<NewAttachment>,
}

pub fn add_response(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    reply: Reply,
) -> Result<EntryId, TicketError> {
    with_tx(store, |tx| add_response_in(tx, actor, ticket, reply))
}

/// Add a staff response: sets the response times and the status (answered
/// unless the reply asks for another).
pub fn add_response_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    reply: Reply,
) -> Result<EntryId, TicketError> {
    let staff = staff_author(actor, "responses")?;
    let t = super::load_open_for_change(tx, ticket)?;
    if reply.body.is_empty() {
        return Err(TicketError::invalid("body", "a response needs some text"));
    }
    content::validate_attachments(&reply.attachments)?;
    let now = store::now();
    let body = reply.body.prepare(false);
    let entry = insert(tx, t.id, EntryKind::Response, staff, actor, &body, now)?;
    content::store_attachments(tx, entry, &reply.attachments, now)?;
    store::tickets::note_response(tx, t.id, now)?;
    let to = reply.status.unwrap_or(Status::Answered);
    if to != t.status {
        super::change::move_status(tx, actor, t.id, t.status, to, now)?;
    }
    super::sla::on_response(tx, t.id, to, now)?;
    events::record(
        tx,
        actor,
        &TicketEvent::ResponseAdded {
            ticket: t.id,
            entry,
        },
    )?;
    Ok(entry)
}

pub fn add_note(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    note: Note,
) -> Result<EntryId, TicketError> {
    with_tx(store, |tx| add_note_in(tx, actor, ticket, note))
}

/// Add an internal note. Notes may be added to merged tickets too (to say
/// why they were merged).
pub fn add_note_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    note: Note,
) -> Result<EntryId, TicketError> {
    let staff = staff_author(actor, "notes")?;
    let t = store::tickets::get(tx, ticket).map_err(super::error::not_found)?;
    if note.body.is_empty() && note.attachments.is_empty() {
        return Err(TicketError::invalid("body", "a note needs some text"));
    }
    content::validate_attachments(&note.attachments)?;
    let now = store::now();
    let body = note.body.prepare(false);
    let entry = insert(tx, t.id, EntryKind::Note, staff, actor, &body, now)?;
    content::store_attachments(tx, entry, &note.attachments, now)?;
    store::tickets::touch(tx, t.id, now)?;
    events::record(
        tx,
        actor,
        &TicketEvent::NoteAdded {
            ticket: t.id,
            entry,
        },
    )?;
    Ok(entry)
}

/// Responses and notes come from staff or the system (rules, plugins),
/// never from a customer.
fn staff_author(actor: &Actor, what: &str) -> Result<Option<StaffId>, TicketError> {
    match actor {
        Actor::Staff { id, .. } => Ok(Some(*id)),
        Actor::System => Ok(None),
        Actor::Customer { .. } => Err(TicketError::invalid(
            "actor",
            format!("customers cannot add {what}"),
        )),
    }
}

fn insert(
    tx: &Connection,
    ticket: TicketId,
    kind: EntryKind,
    staff: Option<StaffId>,
    actor: &Actor,
    body: &Body,
    now: i64,
) -> Result<EntryId, TicketError> {
    Ok(store::entries::insert(
        tx,
        &NewEntryRow {
            ticket_id: Some(ticket),
            kind: Some(kind),
            staff_id: staff,
            author_name: actor.display_name(),
            body_text: &body.text,
            body_html: body.html.as_deref(),
            now,
            ..Default::default()
        },
    )?)
}
