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
