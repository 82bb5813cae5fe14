//! Oxidesk: a self-hosted, single-binary support ticket system.
//!
//! Data flows one way: intake paths (mail pipe, HTTP intake, portal, staff
//! UI) call the `tickets` domain, which writes through `store` (all SQL) and
//! queues outbound mail and events in the same transaction.

pub mod accounts;
pub mod alloc;
pub mod background;
pub mod cli;
pub mod config;
pub mod display;
pub mod intake_socket;
pub mod mail;
pub mod model;
pub mod plugin;
pub mod settings;
pub mod store;
pub mod tickets;
pub mod web;
