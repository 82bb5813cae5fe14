use rusqlite::ErrorCode;

pub type StoreResult<T> = Result<T, StoreError>;

/// An error from the storage layer, carrying what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is busy, locked, read-only or cannot be opened right now:
    /// the caller may retry later (the mail pipe exits with EX_TEMPFAIL).
    #[error("the database is temporarily unavailable while {context}: {source}")]
    Temporary {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database error while {context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("could not get a database connection: {0}")]
    Pool(String),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: u32,
        name: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Wrap a rusqlite error with what was being done, classifying busy and
    /// locked databases as temporary.
    pub fn wrap(context: impl Into<String>, source: rusqlite::Error) -> StoreError {
        let context = context.into();
        if is_temporary(&source) {
            StoreError::Temporary { context, source }
        } else {
            StoreError::Sqlite { context, source }
        }
    }

    /// True when retrying later may succeed (busy, locked, read-only, I/O).
    pub fn is_temporary(&self) -> bool {
        matches!(self, StoreError::Temporary { .. } | StoreError::Pool(_))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound(_))
    }
}

fn is_temporary(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => matches!(
            f.code,
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::PermissionDenied
        ),
        _ => false,
    }
}

/// `.ctx("loading ticket 123456")` on any rusqlite result.
pub trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> StoreResult<T>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> StoreResult<T> {
        self.map_err(|e| StoreError::wrap(context(), e))
    }
}
