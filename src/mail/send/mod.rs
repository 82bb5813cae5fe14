//! Outbound mail: templates, the outbox worker and lettre transports.

pub mod notify;
