//! Opening a ticket from the portal's form: one transaction that checks the
//! per-address limit, opens the ticket (source web) through
//! `tickets::open_in`, stores the custom field values, counts the
//! submission and makes sure the customer is mailed an access link.

use rusqlite::Connection;

use crate::mail::send::notify;
use crate::model::{HelpTopicId, Source};
use crate::store::forms::FieldValue;
use crate::store::{self, customers, forms, portal as sp};
use crate::tickets::events::Actor;
use crate::tickets::{self, Body, NewAttachment, NewTicket, Opened, TicketError};

/// How long a submission is remembered (for the token's reuse check); the
/// rate limit counts only the last hour.
const KEEP_SECONDS: i64 = super::antispam::MAX_SECONDS;

/// A checked form, ready to become a ticket.
#[derive(Debug, Clone)]
pub struct PortalTicket {
    pub email: String,
    pub name: String,
    pub topic: Option<HelpTopicId>,
    pub subject: String,
    pub message: String,
    pub attachments: Vec<NewAttachment>,
    pub values: Vec<FieldValue>,
    pub ip: String,
    pub lang: String,
    /// SHA-256 of the form's time token.
    pub token_hash: String,
    pub rate_limit_per_hour: i64,
}

/// Why the form was refused at the last step.
#[derive(Debug)]
pub enum Refused {
    RateLimited,
    Ticket(TicketError),
}

impl From<TicketError> for Refused {
    fn from(e: TicketError) -> Refused {
        Refused::Ticket(e)
    }
}

impl From<store::StoreError> for Refused {
    fn from(e: store::StoreError) -> Refused {
        Refused::Ticket(TicketError::Store(e))
    }
}

pub fn open(store: &store::Store, p: PortalTicket) -> Result<Opened, Refused> {
    let mut conn = store.conn()?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| store::StoreError::wrap("starting a transaction", e))?;
    let opened = open_in(&tx, p)?;
    tx.commit()
        .map_err(|e| store::StoreError::wrap("committing the new ticket", e))?;
    Ok(opened)
}

fn open_in(tx: &Connection, p: PortalTicket) -> Result<Opened, Refused> {
    let now = store::now();
    if p.rate_limit_per_hour > 0
        && sp::submissions_since(tx, &p.ip, now - 3600)? >= p.rate_limit_per_hour
    {
        return Err(Refused::RateLimited);
    }
    // The customer first, so that a new one gets the language they used
    // here before the auto-response is written.
    let customer = match customers::find_by_email(tx, &p.email)? {
        Some(id) => id,
        None => customers::create(tx, &p.name, &p.email, now)?,
    };
    sp::set_locale_if_unset(tx, customer, &p.lang)?;
    let mut new = NewTicket::new(
        Source::Web,
        p.email.clone(),
        p.name.clone(),
        p.subject,
        Body::text(p.message),
    );
    new.help_topic = p.topic;
    new.attachments = p.attachments;
    let opened = tickets::open_in(tx, &Actor::System, new)?;
    forms::insert_values(tx, opened.ticket, &p.values)?;
    sp::record_submission(
        tx,
        &p.ip,
        &p.token_hash,
        opened.ticket,
        now,
        now - KEEP_SECONDS,
    )?;
    // The auto-response carries the access link; when it was not sent
    // (switched off for the helpdesk or the department, or the per-sender
    // limit reached) the customer still gets the link on its own.
    if !sp::mail_queued(tx, opened.ticket, "auto_response")? {
        notify::queue_access_link(tx, opened.ticket, &p.email)?;
    }
    Ok(opened)
}
