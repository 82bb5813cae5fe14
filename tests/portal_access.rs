//! Customer access on the portal: "check ticket status" and access links,
//! customer accounts (register, verify, sign in and out, reset), the
//! customer's ticket page (thread without notes, attachments, reply, close)
//! and isolation between customers.

#[path = "web_support/mod.rs"]
mod web_support;

#[path = "portal_access/helpers.rs"]
mod helpers;

#[path = "portal_access/accounts.rs"]
mod accounts;
#[path = "portal_access/links.rs"]
mod links;
#[path = "portal_access/ticket.rs"]
mod ticket;
