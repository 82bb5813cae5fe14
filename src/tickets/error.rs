use crate::store::StoreError;

/// Why a ticket operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// The ticket (or the thing named) does not exist.
    #[error("{0} was not found")]
    NotFound(String),
    /// An input is not acceptable: the field and a sentence saying why.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A filter rejected the new ticket, or its sender is banned: nothing
    /// was created. The caller logs it (`rules_apply::record_rejection`).
    #[error("{}", .0.reason)]
    Rejected(Box<Rejection>),
}

/// Why a new ticket was refused, and what to remember of it.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// A sentence for logs and the raw message's status.
    pub reason: String,
    /// The filter that rejected it (None for a banned sender).
    pub filter: Option<String>,
    /// The sender address, banned too when `ban` is set.
    pub sender: String,
    pub ban: bool,
    pub subject: String,
    pub source: crate::model::Source,
}

impl TicketError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> TicketError {
        TicketError::Invalid(field, message.into())
    }

    /// True when retrying later may succeed (the database was busy).
    pub fn is_temporary(&self) -> bool {
        matches!(self, TicketError::Store(e) if e.is_temporary())
    }
}

/// Store lookups that found nothing become `TicketError::NotFound`.
pub(crate) fn not_found(e: StoreError) -> TicketError {
    match e {
        StoreError::NotFound(what) => TicketError::NotFound(what),
        other => TicketError::Store(other),
    }
}
