//! Running SQLite work off the async runtime, and the error pages handlers
//! return.

use rocket::http::Status;
use rocket::response::{self, Responder};
use rocket::Request;

use crate::store::{Conn, Store, StoreError, StoreResult};

/// Why a request failed, as the user will see it.
#[derive(Debug)]
pub enum WebError {
    NotFound,
    Forbidden,
    /// Forbidden, with a sentence saying which permission is missing.
    Denied(String),
    /// A sentence for the user (bad form input and the like).
    BadRequest(String),
    Store(StoreError),
    Internal(String),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> WebError {
        if e.is_not_found() {
            WebError::NotFound
        } else {
            WebError::Store(e)
        }
    }
}

impl WebError {
    pub fn status(&self) -> Status {
        match self {
            WebError::NotFound => Status::NotFound,
            WebError::Forbidden => Status::Forbidden,
            WebError::Denied(_) => Status::Forbidden,
            WebError::BadRequest(_) => Status::BadRequest,
            WebError::Store(e) if e.is_temporary() => Status::ServiceUnavailable,
            WebError::Store(_) | WebError::Internal(_) => Status::InternalServerError,
        }
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebError::NotFound => f.write_str("not found"),
            WebError::Forbidden => f.write_str("forbidden"),
            WebError::Denied(msg) | WebError::BadRequest(msg) | WebError::Internal(msg) => {
                f.write_str(msg)
            }
            WebError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl<'r> Responder<'r, 'static> for WebError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match &self {
            WebError::Store(e) => tracing::error!(error = %e, uri = %req.uri(), "request failed"),
            WebError::Internal(e) => {
                tracing::error!(error = %e, uri = %req.uri(), "request failed")
            }
            _ => {}
        }
        let status = self.status();
        if let WebError::BadRequest(msg) = self {
            req.local_cache(|| ErrorMessage(Some(msg.clone())));
        } else if let WebError::Denied(msg) = self {
            req.local_cache(|| ErrorMessage(Some(msg.clone())));
        }
        Err(status)
    }
}

/// The sentence a `BadRequest` carries, for the error catcher.
#[derive(Debug, Default)]
pub struct ErrorMessage(pub Option<String>);

/// Run `f` with a pooled connection on Tokio's blocking pool, so a busy
/// database never stalls the async workers.
pub async fn db<T, F>(store: &Store, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
{
    let store = store.clone();
    rocket::tokio::task::spawn_blocking(move || {
        let mut conn = store.conn()?;
        f(&mut conn)
    })
    .await
    .map_err(|e| WebError::Internal(format!("a database task failed: {e}")))?
    .map_err(WebError::from)
}

/// Run a short read on the calling task when a pooled connection is free,
/// else as [`db`] does; either way in one read transaction
/// ([`Conn::snapshot`]).
///
/// For the pages staff load all day (a queue, a ticket, the session behind
/// them): their reads take a fraction of a millisecond, less than handing
/// them to another thread and back costs. Only reads belong here: in WAL
/// mode they never wait for a lock, while a write may wait seconds for
/// another writer, and that wait must not hold an async worker.
pub async fn read<T, F>(store: &Store, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
{
    if let Some(mut conn) = store.try_conn() {
        return conn.snapshot(f).map_err(WebError::from);
    }
    db(store, move |c| c.snapshot(f)).await
}

impl From<crate::tickets::TicketError> for WebError {
    fn from(e: crate::tickets::TicketError) -> WebError {
        use crate::tickets::TicketError as T;
        match e {
            T::NotFound(_) => WebError::NotFound,
            T::Invalid(_, msg) => WebError::BadRequest(msg),
            // A polite refusal: the submitter is not told which rule said no.
            T::Rejected(_) => WebError::BadRequest(crate::web::i18n::t("en", "rules.refused", &[])),
            T::Store(s) => WebError::from(s),
        }
    }
}

/// Run a domain operation (which opens its own transaction) on the
/// blocking pool.
pub async fn domain<T, F>(store: &Store, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, crate::tickets::TicketError> + Send + 'static,
{
    let store = store.clone();
    rocket::tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| WebError::Internal(format!("a database task failed: {e}")))?
        .map_err(WebError::from)
}
