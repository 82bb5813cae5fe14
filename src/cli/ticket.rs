//! `oxidesk ticket list|show`: tickets for admins and their scripts.
//!
//! The `--json` output is a stable interface, documented in
//! docs/ticket-json.md: fields are only ever added, never renamed or
//! removed. Timestamps are Unix seconds (UTC), absent values are `null`.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;

use super::Context;
use crate::model::{Attachment, Entry, EntryKind, Source, Status, Ticket};
use crate::store::{self, tickets::ListFilter};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Tickets, most recently updated first.
    List {
        #[arg(long)]
        json: bool,
        /// open, answered, pending, resolved or closed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One ticket with its whole thread and attachments.
    Show {
        number: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store()?;
    let conn = store.conn()?;
    let mut out = String::new();
    match cmd {
        Command::List {
            json,
            status,
            limit,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some(s) => Some(Status::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown status {s:?}: use open, answered, pending, resolved or closed"
                    )
                })?),
            };
            if limit == 0 || limit > 100_000 {
                anyhow::bail!("--limit must be between 1 and 100000");
            }
            let list = store::tickets::list(&conn, &ListFilter { status, limit })?;
            if json {
                let items: Vec<ListItem> = list
                    .into_iter()
                    .map(|t| ListItem {
                        number: t.number,
                        subject: t.subject,
                        status: t.status,
                        priority: t.priority,
                        department: t.department,
                        assignee: t.assignee,
                        customer: CustomerRef {
                            name: t.customer_name,
                            email: t.customer_email,
                        },
                        source: t.source,
                        is_spam: t.is_spam,
                        created_at: t.created_at,
                        updated_at: t.updated_at,
                        due_at: t.due_at,
                    })
                    .collect();
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&items)?);
            } else {
                let _ = writeln!(
                    out,
                    "{:<8}  {:<9}  {:<16}  {:<28}  SUBJECT",
                    "NUMBER", "STATUS", "UPDATED", "CUSTOMER"
                );
                for t in list {
                    let _ = writeln!(
                        out,
                        "{:<8}  {:<9}  {:<16}  {:<28}  {}",
                        t.number,
                        t.status.as_str(),
                        when(Some(t.updated_at)),
                        t.customer_email.unwrap_or(t.customer_name),
                        t.subject
                    );
                }
            }
        }
        Command::Show { number, json } => {
            let number = number.trim().trim_start_matches('#');
            let Some(t) = store::tickets::find_by_number(&conn, number)? else {
                eprintln!("oxidesk: there is no ticket {number}");
                return Ok(ExitCode::from(1));
            };
            let view = load(&conn, t)?;
            if json {
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&view)?);
            } else {
                print_human(&mut out, &view);
            }
        }
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Write command output to stdout; a reader that went away (`| head`) is
/// not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// A timestamp for people: "2026-11-23 04:05" (UTC), "-" when absent.
pub fn when(ts: Option<i64>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

#[derive(Serialize)]
struct ListItem {
    number: String,
    subject: String,
    status: Status,
    priority: String,
    department: String,
    assignee: Option<String>,
    customer: CustomerRef,
    source: Source,
    is_spam: bool,
    created_at: i64,
    updated_at: i64,
    due_at: Option<i64>,
}

#[derive(Serialize)]
struct CustomerRef {
    name: String,
    email: Option<String>,
}

#[derive(Serialize)]
struct TicketView {
    number: String,
    subject: String,
    status: Status,
    priority: String,
    department: String,
    help_topic: Option<String>,
    source: Source,
    is_spam: bool,
    merged_into: Option<String>,
    customer: CustomerView,
    assignee: Option<StaffView>,
    created_at: i64,
    updated_at: i64,
    last_message_at: Option<i64>,
    last_response_at: Option<i64>,
    first_response_at: Option<i64>,
    due_at: Option<i64>,
    closed_at: Option<i64>,
    is_overdue: bool,
    resolved_at: Option<i64>,
    sla: SlaView,
    entries: Vec<EntryView>,
}

/// The ticket's service level: plan, clock, response and resolution times
/// (seconds from opening).
#[derive(Serialize)]
struct SlaView {
    plan: Option<String>,
    plan_explicit: bool,
    started_at: Option<i64>,
    first_response_seconds: Option<i64>,
    resolution_seconds: Option<i64>,
}

#[derive(Serialize)]
struct CustomerView {
    name: String,
    /// The primary (oldest) address.
    email: Option<String>,
    emails: Vec<String>,
}

#[derive(Serialize)]
struct StaffView {
    name: String,
    email: String,
}

#[derive(Serialize)]
struct EntryView {
    id: i64,
    kind: EntryKind,
    author: AuthorView,
    created_at: i64,
    body_text: String,
    body_html: Option<String>,
    message_id: Option<String>,
    in_reply_to: Vec<String>,
    references: Vec<String>,
    is_auto_reply: bool,
    is_bounce: bool,
    is_bulk: bool,
    raw_message_id: Option<i64>,
    attachments: Vec<AttachmentView>,
}

#[derive(Serialize)]
struct AuthorView {
    name: String,
    email: Option<String>,
    staff_id: Option<i64>,
    customer_id: Option<i64>,
}

#[derive(Serialize)]
struct AttachmentView {
    id: i64,
    filename: String,
    mime_type: String,
    size: i64,
    sha256: String,
    inline: bool,
    content_id: Option<String>,
}

fn load(conn: &rusqlite::Connection, t: Ticket) -> anyhow::Result<TicketView> {
    let labels = store::tickets::labels(conn, &t)?;
    let sla = store::sla_tickets::get(conn, t.id)?;
    let (first_response_seconds, resolution_seconds) = sla
        .as_ref()
        .map(crate::tickets::sla::response_times)
        .unwrap_or_default();
    let customer = store::customers::get(conn, t.customer_id)?;
    let merged_into = match t.merged_into_id {
        Some(id) => store::tickets::number_of(conn, id)?,
        None => None,
    };
    let mut attachments = store::attachments::list_for_ticket(conn, t.id)?
        .into_iter()
        .peekable();
    let entries = store::entries::list_for_ticket(conn, t.id)?
        .into_iter()
        .map(|e: Entry| {
            let mut mine = Vec::new();
            while let Some(a) = attachments.next_if(|a: &Attachment| a.entry_id == e.id) {
                mine.push(AttachmentView {
                    id: a.id.0,
                    filename: a.filename,
                    mime_type: a.mime_type,
                    size: a.size,
                    sha256: a.sha256,
                    inline: a.inline,
                    content_id: a.content_id,
                });
            }
            let split = |v: Option<String>| -> Vec<String> {
                v.map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default()
            };
            EntryView {
                id: e.id.0,
                kind: e.kind,
                author: AuthorView {
                    name: e.author_name,
                    email: e.author_email,
                    staff_id: e.staff_id.map(|s| s.0),
                    customer_id: e.customer_id.map(|c| c.0),
                },
                created_at: e.created_at,
                body_text: e.body_text,
                body_html: e.body_html,
                message_id: e.message_id,
                in_reply_to: split(e.in_reply_to),
                references: split(e.refs),
                is_auto_reply: e.is_auto_reply,
                is_bounce: e.is_bounce,
                is_bulk: e.is_bulk,
                raw_message_id: e.raw_message_id.map(|r| r.0),
                attachments: mine,
            }
        })
        .collect();
    Ok(TicketView {
        number: t.number,
        subject: t.subject,
        status: t.status,
        priority: labels.priority,
        department: labels.department,
        help_topic: labels.help_topic,
        source: t.source,
        is_spam: t.is_spam,
        merged_into,
        customer: CustomerView {
            name: customer.name,
            email: customer.emails.first().cloned(),
            emails: customer.emails,
        },
        assignee: labels
            .assignee_name
            .zip(labels.assignee_email)
            .map(|(name, email)| StaffView { name, email }),
        created_at: t.created_at,
        updated_at: t.updated_at,
        last_message_at: t.last_message_at,
        last_response_at: t.last_response_at,
        first_response_at: t.first_response_at,
        due_at: t.due_at,
        closed_at: t.closed_at,
        is_overdue: t.is_overdue,
        resolved_at: sla.as_ref().and_then(|s| s.resolved_at),
        sla: SlaView {
            plan: sla.as_ref().and_then(|s| s.sla_plan.clone()),
            plan_explicit: sla.as_ref().is_some_and(|s| s.sla_plan_explicit),
            started_at: sla.as_ref().and_then(|s| s.sla_started_at),
            first_response_seconds,
            resolution_seconds,
        },
        entries,
    })
}

fn print_human(out: &mut String, v: &TicketView) {
    let _ = writeln!(out, "Ticket #{}: {}", v.number, v.subject);
    let _ = writeln!(
        out,
        "Status {} · priority {} · department {} · source {}",
        v.status.as_str(),
        v.priority,
        v.department,
        v.source.as_str()
    );
    let _ = writeln!(
        out,
        "Customer {} <{}>",
        v.customer.name,
        v.customer.email.as_deref().unwrap_or("-")
    );
    if let Some(a) = &v.assignee {
        let _ = writeln!(out, "Assigned to {} <{}>", a.name, a.email);
    }
    if let Some(m) = &v.merged_into {
        let _ = writeln!(out, "Merged into #{m}");
    }
    let _ = writeln!(
        out,
        "Created {} · updated {}",
        when(Some(v.created_at)),
        when(Some(v.updated_at))
    );
    for e in &v.entries {
        let _ = writeln!(out,);
        let _ = writeln!(
            out,
            "--- {} by {}{} at {}",
            e.kind.as_str(),
            e.author.name,
            e.author
                .email
                .as_deref()
                .map(|m| format!(" <{m}>"))
                .unwrap_or_default(),
            when(Some(e.created_at))
        );
        let _ = writeln!(out, "{}", e.body_text);
        for a in &e.attachments {
            let _ = writeln!(
                out,
                "[attachment {}: {} bytes, {}, sha256 {}]",
                a.filename, a.size, a.mime_type, a.sha256
            );
        }
    }
}
