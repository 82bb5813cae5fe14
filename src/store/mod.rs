//! The storage layer: every SQL statement in the product lives below this
//! module, grouped by table family. Callers get plain values from `model`.
//!
//! One SQLite file holds everything. Connections come from an r2d2 pool and
//! are set up for WAL, foreign keys and a busy timeout; schema changes are the
//! numbered migrations embedded from `store/migrations/`.

mod error;
pub use error::Context;
mod migrations;
mod pool;

pub mod backup;
pub mod checkpoint;
pub mod events;
pub mod mail_facts;
pub mod mail_templates;
pub mod outbox;
pub mod plugins;
pub mod seed;
pub mod settings;
pub mod spam;

pub use error::{StoreError, StoreResult};
pub use migrations::{pending_migrations, schema_version, Migration, MIGRATIONS_DIR};
pub use pool::{Conn, Store, StoreOptions};

/// Current time as Unix seconds, the unit every timestamp column uses.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub mod api_keys;
pub mod attachments;
pub mod audit;
pub mod bans;
pub mod canned;
pub mod customer_accounts;
pub mod customer_sessions;
pub mod customers;
pub mod departments;
pub mod entries;
pub mod filters;
pub mod forms;
pub mod health;
pub mod healthz;
pub mod help_topics;
pub mod locks;
pub mod metrics;
pub mod portal;
pub mod portal_tickets;
pub mod priorities;
pub mod queues;
pub mod raw_messages;
pub mod roles;
pub mod search;
pub mod sessions;
pub mod sla;
pub mod sla_tickets;
pub mod staff;
pub mod staff_admin;
pub mod statuses;
pub mod tags;
pub mod teams;
pub mod ticket_page;
pub mod ticket_refs;
pub mod ticket_removal;
pub mod tickets;
