//! Outbound mail against a real SMTP server on loopback: Postfix's
//! `smtp-sink`, started by each test on a port it picks. In CI (CI=true) a
//! missing smtp-sink fails the tests; elsewhere they skip loudly.

#[path = "outbound/harness.rs"]
mod harness;

#[path = "outbound/delivery.rs"]
mod delivery;
#[path = "outbound/messages.rs"]
mod messages;
