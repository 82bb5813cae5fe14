//! Plain data shared between layers: typed ids and the values the store
//! returns. No behaviour beyond conversions lives here.

mod ids;

pub use ids::*;

use serde::{Deserialize, Serialize};

/// Where a ticket came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Email,
    Web,
    Phone,
    Api,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Email => "email",
            Source::Web => "web",
            Source::Phone => "phone",
            Source::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Some(match s {
            "email" => Source::Email,
            "web" => Source::Web,
            "phone" => Source::Phone,
            "api" => Source::Api,
            _ => return None,
        })
    }
}

/// The state a ticket is in. Custom status labels (configuration) map onto
/// these five states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Answered,
    Pending,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::Answered,
        Status::Pending,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Answered => "answered",
            Status::Pending => "pending",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Resolved and closed tickets are "done": a customer reply reopens them
    /// (per setting), and they leave the open queues.
    pub fn is_done(self) -> bool {
        matches!(self, Status::Resolved | Status::Closed)
    }
}

/// The kind of a thread entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// From the customer (mail, portal, or staff on the customer's behalf).
    Message,
    /// From staff to the customer.
    Response,
    /// Internal note: never shown to customers.
    Note,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Message => "message",
            EntryKind::Response => "response",
            EntryKind::Note => "note",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        Some(match s {
            "message" => EntryKind::Message,
            "response" => EntryKind::Response,
            "note" => EntryKind::Note,
            _ => return None,
        })
    }
}

mod ticket;
pub use ticket::*;
