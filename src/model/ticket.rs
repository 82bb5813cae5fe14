//! Values the store returns for tickets, their threads and the things hanging
//! off them (customers, attachments, raw mail, API keys).

use serde::Serialize;

use super::{
    ApiKeyId, AttachmentId, BlobId, CustomerId, DepartmentId, EntryId, EntryKind, HelpTopicId,
    PriorityId, RawMessageId, Source, StaffId, Status, TicketId,
};

/// One ticket row.
#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    pub id: TicketId,
    pub number: String,
    pub subject: String,
    pub status: Status,
    pub priority_id: PriorityId,
    pub department_id: DepartmentId,
    pub help_topic_id: Option<HelpTopicId>,
    pub assignee_id: Option<StaffId>,
    pub customer_id: CustomerId,
    pub source: Source,
    pub is_spam: bool,
    pub is_overdue: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_at: Option<i64>,
    pub last_response_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub due_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub merged_into_id: Option<TicketId>,
}

/// A ticket as lists show it: the row plus the names it points to.
#[derive(Debug, Clone, Serialize)]
pub struct TicketSummary {
    pub id: TicketId,
    pub number: String,
    pub subject: String,
    pub status: Status,
    pub priority: String,
    pub department: String,
    pub assignee: Option<String>,
    pub customer_name: String,
    pub customer_email: Option<String>,
    pub source: Source,
    pub is_spam: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub due_at: Option<i64>,
}

/// The names a ticket's ids point to.
#[derive(Debug, Clone, Serialize)]
pub struct TicketLabels {
    pub priority: String,
    pub department: String,
    pub help_topic: Option<String>,
    pub assignee_name: Option<String>,
    pub assignee_email: Option<String>,
}

/// One thread entry: a customer message, a staff response or a note.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: EntryId,
    pub ticket_id: TicketId,
    pub kind: EntryKind,
    pub staff_id: Option<StaffId>,
    pub customer_id: Option<CustomerId>,
    pub author_name: String,
    pub author_email: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// References, space separated.
    pub refs: Option<String>,
    pub raw_message_id: Option<RawMessageId>,
    pub is_auto_reply: bool,
    pub is_bounce: bool,
    pub is_bulk: bool,
    pub created_at: i64,
}

/// Attachment metadata (the bytes stay in `blobs` until asked for).
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub entry_id: EntryId,
    pub blob_id: BlobId,
    pub filename: String,
    pub mime_type: String,
    pub size: i64,
    pub sha256: String,
    pub inline: bool,
    pub content_id: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    /// Email identities, oldest (primary) first.
    pub emails: Vec<String>,
    pub created_at: i64,
}

/// What happened to a raw inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RawStatus {
    Stored,
    Quarantined,
    Rejected,
}

impl RawStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RawStatus::Stored => "stored",
            RawStatus::Quarantined => "quarantined",
            RawStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<RawStatus> {
        Some(match s {
            "stored" => RawStatus::Stored,
            "quarantined" => RawStatus::Quarantined,
            "rejected" => RawStatus::Rejected,
            _ => return None,
        })
    }
}

/// A raw inbound message without its bytes.
#[derive(Debug, Clone, Serialize)]
pub struct RawMessageInfo {
    pub id: RawMessageId,
    pub message_id: Option<String>,
    pub size: i64,
    pub source: String,
    pub status: RawStatus,
    pub error: Option<String>,
    pub ticket_id: Option<TicketId>,
    pub received_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub key_prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The text-valued enums are stored as their `as_str()` names.
macro_rules! text_enum_sql {
    ($($ty:ty),*) => {$(
        impl rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                let s = value.as_str()?;
                <$ty>::parse(s).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(
                        format!("unknown {} {s:?}", stringify!($ty)).into(),
                    )
                })
            }
        }
    )*};
}

text_enum_sql!(Status, Source, EntryKind, RawStatus);
