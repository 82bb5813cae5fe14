//! What the staff, roles and teams admin pages share: field errors shown
//! beside their fields, and one transaction per change (the change and its
//! audit event commit together).

use std::collections::BTreeMap;

use rusqlite::{Connection, TransactionBehavior};

use crate::store::{StoreError, StoreResult};

/// Messages by form field; the first message per field is kept.
#[derive(Debug, Default)]
pub struct Errors(pub BTreeMap<&'static str, String>);

impl Errors {
    pub fn add(&mut self, field: &'static str, message: String) {
        self.0.entry(field).or_insert(message);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Run `f` in one immediate transaction.
pub fn in_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::wrap("starting a transaction", e))?;
    let value = f(&tx)?;
    tx.commit()
        .map_err(|e| StoreError::wrap("committing the change", e))?;
    Ok(value)
}
