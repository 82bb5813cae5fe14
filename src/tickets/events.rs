//! What happened to a ticket. The domain records every change as an event in
//! the same transaction as the change itself; outbound mail (and plugins)
//! react to events from there, so an alert or auto-response is queued if and
//! only if the change was committed.

use rusqlite::Connection;
use serde::Serialize;

use crate::model::{DepartmentId, EntryId, EventId, PriorityId, Source, StaffId, Status, TicketId};
use crate::store::{self, StoreResult};

/// Who caused an event.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Actor {
    Staff {
        id: StaffId,
        name: String,
    },
    Customer {
        id: crate::model::CustomerId,
        name: String,
    },
    /// Mail intake, background tasks, rules.
    System,
}

impl Actor {
    pub fn display_name(&self) -> &str {
        match self {
            Actor::Staff { name, .. } | Actor::Customer { name, .. } => name,
            Actor::System => "system",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TicketEvent {
    /// A ticket was opened. `suppress_auto_response` is set for mail flagged
    /// as auto-reply, bounce or bulk, and by rules.
    Created {
        ticket: TicketId,
        entry: EntryId,
        source: Source,
        suppress_auto_response: bool,
    },
    /// A customer message was appended to an existing ticket.
    MessageReceived {
        ticket: TicketId,
        entry: EntryId,
        reopened: bool,
    },
    /// A staff response (to be mailed to the customer).
    ResponseAdded {
        ticket: TicketId,
        entry: EntryId,
    },
    NoteAdded {
        ticket: TicketId,
        entry: EntryId,
    },
    Assigned {
        ticket: TicketId,
        from: Option<StaffId>,
        to: Option<StaffId>,
    },
    /// Staff corrected the subject.
    SubjectChanged {
        ticket: TicketId,
        from: String,
        to: String,
    },
    /// Assigned to a team, or taken from one (None).
    TeamAssigned {
        ticket: TicketId,
        from: Option<crate::model::TeamId>,
        to: Option<crate::model::TeamId>,
    },
    Transferred {
        ticket: TicketId,
        from: DepartmentId,
        to: DepartmentId,
    },
    StatusChanged {
        ticket: TicketId,
        from: Status,
        to: Status,
    },
    PriorityChanged {
        ticket: TicketId,
        from: PriorityId,
        to: PriorityId,
    },
    DueChanged {
        ticket: TicketId,
        from: Option<i64>,
        to: Option<i64>,
    },
    Merged {
        ticket: TicketId,
        into: TicketId,
    },
    MarkedSpam {
        ticket: TicketId,
    },
    /// An admin released a ticket wrongly marked as spam.
    SpamReleased {
        ticket: TicketId,
    },
    Overdue {
        ticket: TicketId,
    },
    /// The help topic changed (the SLA plan may follow).
    HelpTopicChanged {
        ticket: TicketId,
        from: Option<crate::model::HelpTopicId>,
        to: Option<crate::model::HelpTopicId>,
    },
}

impl TicketEvent {
    pub fn ticket(&self) -> TicketId {
        match *self {
            TicketEvent::HelpTopicChanged { ticket, .. } => ticket,
            TicketEvent::Created { ticket, .. }
            | TicketEvent::MessageReceived { ticket, .. }
            | TicketEvent::ResponseAdded { ticket, .. }
            | TicketEvent::NoteAdded { ticket, .. }
            | TicketEvent::Assigned { ticket, .. }
            | TicketEvent::TeamAssigned { ticket, .. }
            | TicketEvent::SubjectChanged { ticket, .. }
            | TicketEvent::Transferred { ticket, .. }
            | TicketEvent::StatusChanged { ticket, .. }
            | TicketEvent::PriorityChanged { ticket, .. }
            | TicketEvent::DueChanged { ticket, .. }
            | TicketEvent::Merged { ticket, .. }
            | TicketEvent::MarkedSpam { ticket }
            | TicketEvent::SpamReleased { ticket }
            | TicketEvent::Overdue { ticket } => ticket,
        }
    }

    /// The short name stored in `events.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            TicketEvent::Created { .. } => "created",
            TicketEvent::MessageReceived { .. } => "message_received",
            TicketEvent::ResponseAdded { .. } => "response_added",
            TicketEvent::NoteAdded { .. } => "note_added",
            TicketEvent::Assigned { .. } => "assigned",
            TicketEvent::TeamAssigned { .. } => "team_assigned",
            TicketEvent::SubjectChanged { .. } => "subject_changed",
            TicketEvent::Transferred { .. } => "transferred",
            TicketEvent::StatusChanged { .. } => "status_changed",
            TicketEvent::PriorityChanged { .. } => "priority_changed",
            TicketEvent::DueChanged { .. } => "due_changed",
            TicketEvent::Merged { .. } => "merged",
            TicketEvent::MarkedSpam { .. } => "marked_spam",
            TicketEvent::SpamReleased { .. } => "spam_released",
            TicketEvent::Overdue { .. } => "overdue",
            TicketEvent::HelpTopicChanged { .. } => "help_topic_changed",
        }
    }
}

/// Record `event` inside the caller's transaction and let outbound mail queue
/// what follows from it, in that same transaction.
pub fn record(tx: &Connection, actor: &Actor, event: &TicketEvent) -> StoreResult<EventId> {
    let id = store::events::insert(tx, actor, event)?;
    crate::mail::send::notify::on_event(tx, actor, event)?;
    Ok(id)
}
