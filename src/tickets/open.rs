//! Opening tickets and appending customer messages, from any source.

use rusqlite::Connection;

use super::content::{self, Body, MailInfo, NewAttachment};
use super::events::{self, Actor, TicketEvent};
use super::{numbers, with_tx, TicketError};
use crate::model::{
    CustomerId, DepartmentId, EntryId, EntryKind, HelpTopicId, PriorityId, SlaPlanId, Source,
    StaffId, Status, TeamId, TicketId,
};
use crate::store::{self, entries::NewEntryRow, tickets::NewTicketRow, Store};

/// Longest subject accepted from forms (mail subjects are kept whole).
const MAX_SUBJECT_CHARS: usize = 255;

/// Everything needed to open a ticket.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub source: Source,
    /// The customer: matched by address (case-insensitive) or created.
    pub customer_email: String,
    pub customer_name: String,
    pub subject: String,
    pub body: Body,
    pub attachments: Vec<NewAttachment>,
    /// Defaults: the help topic's, then the helpdesk's.
    pub department: Option<DepartmentId>,
    pub priority: Option<PriorityId>,
    pub help_topic: Option<HelpTopicId>,
    /// Assign on opening (filters, help topics); else auto-assignment decides.
    pub assignee: Option<StaffId>,
    /// Assign to a team on opening (filters, help topics).
    pub team: Option<TeamId>,
    /// The SLA plan; else the help topic's, the department's, the default.
    pub sla_plan: Option<SlaPlanId>,
    /// No auto-response (auto-replies, bounces, bulk mail, rules).
    pub suppress_auto_response: bool,
    /// Set when the ticket comes from mail.
    pub mail: Option<MailInfo>,
}

impl NewTicket {
    /// A ticket with the defaults for everything optional.
    pub fn new(
        source: Source,
        customer_email: impl Into<String>,
        customer_name: impl Into<String>,
        subject: impl Into<String>,
        body: Body,
    ) -> NewTicket {
        NewTicket {
            source,
            customer_email: customer_email.into(),
            customer_name: customer_name.into(),
            subject: subject.into(),
            body,
            attachments: Vec::new(),
            department: None,
            priority: None,
            help_topic: None,
            assignee: None,
            team: None,
            sla_plan: None,
            suppress_auto_response: false,
            mail: None,
        }
    }
}

/// A ticket that was opened.
#[derive(Debug, Clone)]
pub struct Opened {
    pub ticket: TicketId,
    pub number: String,
    pub entry: EntryId,
    pub customer: CustomerId,
}

/// A customer message to append to a ticket.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// The sender; None means the ticket's customer.
    pub author_email: Option<String>,
    pub author_name: String,
    pub body: Body,
    pub attachments: Vec<NewAttachment>,
    pub mail: Option<MailInfo>,
}

/// A message that was appended.
#[derive(Debug, Clone)]
pub struct Appended {
    pub ticket: TicketId,
    pub number: String,
    pub entry: EntryId,
    /// The ticket was resolved or closed and the message reopened it.
    pub reopened: bool,
}

/// Open a ticket in its own transaction.
/// A ticket refused by a filter or the ban list is logged (and its sender
/// banned, when the filter says so) in a transaction of its own, since the
/// attempt's was rolled back.
pub fn open(store: &Store, actor: &Actor, new: NewTicket) -> Result<Opened, TicketError> {
    match with_tx(store, |tx| open_in(tx, actor, new)) {
        Err(TicketError::Rejected(r)) => {
            with_tx(store, |tx| super::rules_apply::record_rejection(tx, &r))?;
            Err(TicketError::Rejected(r))
        }
        other => other,
    }
}

/// Open a ticket inside the caller's transaction.
pub fn open_in(tx: &Connection, actor: &Actor, mut new: NewTicket) -> Result<Opened, TicketError> {
    // Ban list and filters first: they may refuse the ticket or route it.
    let filtered = super::rules_apply::before_open(tx, actor, &mut new)?;
    let from_mail = new.mail.is_some();
    let email = content::validate_email(&new.customer_email)?;
    let name = new.customer_name.trim().to_string();
    if name.chars().count() > 200 {
        return Err(TicketError::invalid(
            "name",
            "is longer than 200 characters",
        ));
    }
    let subject = new.subject.trim().to_string();
    if !from_mail {
        if subject.is_empty() {
            return Err(TicketError::invalid("subject", "is required"));
        }
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(TicketError::invalid(
                "subject",
                format!("is longer than {MAX_SUBJECT_CHARS} characters"),
            ));
        }
        if new.body.is_empty() && new.attachments.is_empty() {
            return Err(TicketError::invalid("body", "is required"));
        }
    }
    content::validate_attachments(&new.attachments)?;

    let new = apply_topic_routing(tx, new)?;
    // Routing: explicit choice, else the help topic's, else the defaults.
    let (topic_department, topic_priority) = match new.help_topic {
        Some(id) => store::ticket_refs::help_topic_defaults(tx, id)?.ok_or_else(|| {
            TicketError::invalid("help_topic", format!("help topic {id} does not exist"))
        })?,
        None => (None, None),
    };
    let department = match new.department.or(topic_department) {
        Some(d) => d,
        None => DepartmentId(store::settings::get_i64(
            tx,
            "tickets.default_department_id",
            1,
        )?),
    };
    if !store::ticket_refs::department_exists(tx, department)? {
        return Err(TicketError::invalid(
            "department",
            format!("department {department} does not exist"),
        ));
    }
    let priority = match new.priority.or(topic_priority) {
        Some(p) => p,
        None => PriorityId(store::settings::get_i64(
            tx,
            "tickets.default_priority_id",
            2,
        )?),
    };
    if !store::ticket_refs::priority_exists(tx, priority)? {
        return Err(TicketError::invalid(
            "priority",
            format!("priority {priority} does not exist"),
        ));
    }

    if let Some(staff) = new.assignee {
        if !store::ticket_refs::staff_active(tx, staff)? {
            return Err(TicketError::invalid(
                "assignee",
                format!("staff member {staff} does not exist or is disabled"),
            ));
        }
    }

    if let Some(team) = new.team {
        if !store::teams::is_active(tx, team)? {
            return Err(TicketError::invalid(
                "team",
                format!("team {team} does not exist or is disabled"),
            ));
        }
    }

    let now = store::now();
    let customer = match actor {
        Actor::Customer { id, .. } => *id,
        _ => resolve_customer(tx, &email, &name, now)?,
    };
    let number = numbers::allocate(tx)?;
    let ticket = store::tickets::insert(
        tx,
        &NewTicketRow {
            number: &number,
            subject: &subject,
            status: Status::Open,
            priority_id: priority,
            department_id: department,
            help_topic_id: new.help_topic,
            assignee_id: new.assignee,
            customer_id: customer,
            source: new.source,
            now,
            last_message_at: Some(now),
        },
    )?;
    if new.team.is_some() {
        store::teams::set_ticket_team(tx, ticket, new.team, now)?;
    }
    let body = new.body.prepare(from_mail);
    let entry = insert_message(
        tx,
        ticket,
        actor,
        customer,
        &name,
        &email,
        &body,
        new.mail.as_ref(),
        now,
    )?;
    content::store_attachments(tx, entry, &new.attachments, now)?;
    let suppress = new.suppress_auto_response || new.mail.as_ref().is_some_and(|m| m.auto.any());
    events::record(
        tx,
        actor,
        &TicketEvent::Created {
            ticket,
            entry,
            source: new.source,
            suppress_auto_response: suppress,
        },
    )?;
    // SLA plan and due date, then auto-assignment unless someone was named.
    let named = new.assignee.is_some() || new.team.is_some();
    super::sla::on_open(
        tx,
        ticket,
        new.sla_plan,
        new.help_topic,
        department,
        named,
        now,
    )?;
    filtered.finish(tx, ticket)?;
    Ok(Opened {
        ticket,
        number,
        entry,
        customer,
    })
}

/// Append a customer message in its own transaction.
pub fn append_message(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    msg: NewMessage,
) -> Result<Appended, TicketError> {
    with_tx(store, |tx| append_message_in(tx, actor, ticket, msg))
}

/// Append a customer message inside the caller's transaction. A resolved or
/// closed ticket is reopened when the setting `tickets.reopen_on_reply` is
/// on, unless the message is an auto-reply, bounce or bulk mail (a vacation
/// notice answering our last response must not reopen the ticket) or the
/// ticket is spam. An answered or pending ticket goes back to open.
pub fn append_message_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    msg: NewMessage,
) -> Result<Appended, TicketError> {
    let from_mail = msg.mail.is_some();
    let t = super::load_open_for_change(tx, ticket)?;
    if !from_mail && msg.body.is_empty() && msg.attachments.is_empty() {
        return Err(TicketError::invalid("body", "is required"));
    }
    content::validate_attachments(&msg.attachments)?;
    let now = store::now();
    let name = msg.author_name.trim().to_string();
    let (customer, email) = match (&msg.author_email, actor) {
        (Some(e), _) => {
            let email = content::validate_email(e)?;
            (resolve_customer(tx, &email, &name, now)?, email)
        }
        (None, Actor::Customer { id, .. }) => (*id, primary_email(tx, *id)?),
        (None, _) => (t.customer_id, primary_email(tx, t.customer_id)?),
    };
    let body = msg.body.prepare(from_mail);
    let entry = insert_message(
        tx,
        t.id,
        actor,
        customer,
        &name,
        &email,
        &body,
        msg.mail.as_ref(),
        now,
    )?;
    content::store_attachments(tx, entry, &msg.attachments, now)?;
    store::tickets::note_message(tx, t.id, now)?;

    let machine = msg.mail.as_ref().is_some_and(|m| m.auto.any());
    let new_status = match t.status {
        Status::Resolved | Status::Closed
            if !machine
                && !t.is_spam
                && store::settings::get_bool(tx, "tickets.reopen_on_reply", true)? =>
        {
            Some(Status::Open)
        }
        Status::Answered | Status::Pending if !machine => Some(Status::Open),
        _ => None,
    };
    let reopened = t.status.is_done() && new_status.is_some();
    if let Some(to) = new_status {
        super::change::move_status(tx, actor, t.id, t.status, to, now)?;
    }
    events::record(
        tx,
        actor,
        &TicketEvent::MessageReceived {
            ticket: t.id,
            entry,
            reopened,
        },
    )?;
    Ok(Appended {
        ticket: t.id,
        number: t.number,
        entry,
        reopened,
    })
}

/// The customer owning `email`, created when there is none.
pub(crate) fn resolve_customer(
    tx: &Connection,
    email: &str,
    name: &str,
    now: i64,
) -> Result<CustomerId, TicketError> {
    Ok(match store::customers::find_by_email(tx, email)? {
        Some(id) => {
            if !name.is_empty() {
                store::customers::fill_name(tx, id, name)?;
            }
            id
        }
        None => store::customers::create(tx, name, email, now)?,
    })
}

fn primary_email(tx: &Connection, id: CustomerId) -> Result<String, TicketError> {
    let c = store::customers::get(tx, id).map_err(super::error::not_found)?;
    Ok(c.emails.into_iter().next().unwrap_or_default())
}

#[allow(clippy::too_many_arguments)]
fn insert_message(
    tx: &Connection,
    ticket: TicketId,
    actor: &Actor,
    customer: CustomerId,
    name: &str,
    email: &str,
    body: &Body,
    mail: Option<&MailInfo>,
    now: i64,
) -> Result<EntryId, TicketError> {
    let staff_id = match actor {
        Actor::Staff { id, .. } => Some(*id),
        _ => None,
    };
    let in_reply_to = mail.and_then(|m| content::join_ids(&m.in_reply_to));
    let refs = mail.and_then(|m| content::join_ids(&m.references));
    let auto = mail.map(|m| m.auto.clone()).unwrap_or_default();
    Ok(store::entries::insert(
        tx,
        &NewEntryRow {
            ticket_id: Some(ticket),
            kind: Some(EntryKind::Message),
            staff_id,
            customer_id: Some(customer),
            author_name: name,
            author_email: (!email.is_empty()).then_some(email),
            body_text: &body.text,
            body_html: body.html.as_deref(),
            message_id: mail.and_then(|m| m.message_id.as_deref()),
            in_reply_to: in_reply_to.as_deref(),
            refs: refs.as_deref(),
            raw_message_id: mail.and_then(|m| m.raw_message_id),
            is_auto_reply: auto.auto_reply,
            is_bounce: auto.bounce,
            is_bulk: auto.bulk,
            now,
        },
    )?)
}

/// The help topic's auto-assignment target (a staff member or a team) when
/// the ticket names none, and its auto-response override: "off" suppresses
/// the auto-response here; "on" is honoured by outbound mail even where
/// the department's auto-response is off.
fn apply_topic_routing(tx: &Connection, mut new: NewTicket) -> Result<NewTicket, TicketError> {
    let Some(topic) = new.help_topic else {
        return Ok(new);
    };
    let Some(routing) = store::ticket_refs::help_topic_routing(tx, topic)? else {
        return Ok(new);
    };
    if new.assignee.is_none() && new.team.is_none() {
        new.assignee = routing.assignee;
        new.team = routing.team;
    }
    if routing.auto_response == Some(false) {
        new.suppress_auto_response = true;
    }
    Ok(new)
}
