//! Building a complete message and writing it to the outbox.
//!
//! Everything is fixed at queue time — Message-ID, Date, From, the MIME
//! body — so a retry sends the same bytes, and a duplicate (see the worker)
//! carries the same Message-ID.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use rusqlite::Connection;

use crate::config::Config;
use crate::model::{EntryId, TicketId};
use crate::store::{self, StoreError};

/// Who a message is from; None in [`OutgoingMail::from`] means the global
/// default (`smtp.from_address`, `smtp.from_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct MailAttachment {
    pub filename: String,
    pub mime_type: String,
    pub data: Vec<u8>,
    /// Shown inside the HTML body by `cid:` reference.
    pub inline: bool,
    pub content_id: Option<String>,
}

/// A message to queue. Later features (portal access links, account and
/// password-reset mails) call [`queue`] with one of these.
#[derive(Debug, Clone, Default)]
pub struct OutgoingMail {
    /// What kind of mail this is (the template name), for the outbox list
    /// and the auto-response limit.
    pub kind: String,
    pub ticket: Option<TicketId>,
    pub entry: Option<EntryId>,
    pub from: Option<Sender>,
    /// (display name, address)
    pub to: Vec<(String, String)>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Message-ID (without angle brackets) this replies to.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attachments: Vec<MailAttachment>,
    /// `Auto-Submitted` value for machine-made mail (RFC 3834):
    /// `auto-replied` for auto-responses, `auto-generated` for alerts.
    pub auto_submitted: Option<&'static str>,
    /// Use this Message-ID (without angle brackets) instead of a new one.
    pub message_id: Option<String>,
}

/// What was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: i64,
    /// Without angle brackets.
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{0} is not a valid email address")]
    Address(String),
    #[error("the message has no recipient")]
    NoRecipient,
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message built and ready for the transport.
#[derive(Debug, Clone)]
pub struct BuiltMail {
    /// Without angle brackets.
    pub message_id: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
}

/// Build the complete message (From, Message-ID, Date, MIME body).
pub fn build_mail(conn: &Connection, mail: &OutgoingMail) -> Result<BuiltMail, QueueError> {
    let config = super::config();
    let from = sender(conn, &config, mail.from.as_ref())?;
    let message_id = mail
        .message_id
        .clone()
        .unwrap_or_else(|| new_message_id(&config));
    let (message, recipients) = build(mail, &from, &message_id)?;
    Ok(BuiltMail {
        message_id,
        envelope_from: from.email.to_string(),
        recipients,
        raw: message.formatted(),
    })
}

/// Build `mail` and write it to the outbox in `tx`; it goes out once `tx`
/// commits and the worker runs.
pub fn queue(tx: &Connection, mail: OutgoingMail) -> Result<QueuedMail, QueueError> {
    let built = build_mail(tx, &mail)?;
    let id = store::outbox::insert(
        tx,
        &store::outbox::NewOutboxMail {
            kind: mail.kind.clone(),
            ticket: mail.ticket,
            entry: mail.entry,
            message_id: built.message_id.clone(),
            envelope_from: built.envelope_from,
            recipients: built.recipients,
            subject: mail.subject.clone(),
            raw: built.raw,
        },
    )?;
    tracing::debug!(id, kind = %mail.kind, message_id = %built.message_id, "mail queued");
    Ok(QueuedMail {
        id,
        message_id: built.message_id,
    })
}

/// A mail queued now and rendered by the worker when it is sent.
pub struct ToRender<'a> {
    pub kind: &'a str,
    pub ticket: Option<TicketId>,
    pub entry: Option<EntryId>,
    pub to: &'a str,
    /// Provisional, for outbox listings until the worker renders the mail.
    pub subject: &'a str,
    /// What the worker needs to render it (JSON).
    pub render: &'a str,
    /// The sender, when not the helpdesk's address (fixes the envelope).
    pub from: Option<&'a Sender>,
}

/// Queue a mail the outbox worker renders just before its first delivery
/// (see `deferred`): only the row is written here, with its recipient, a
/// provisional `subject` for listings and the Message-ID, fixed now so that
/// threading and duplicate detection work as for any other mail.
pub fn queue_to_render(tx: &Connection, m: ToRender<'_>) -> Result<QueuedMail, QueueError> {
    let ToRender {
        kind,
        ticket,
        entry,
        to,
        subject,
        render,
        from,
    } = m;
    let config = super::config();
    let recipient = parse_address(to)?.to_string();
    let envelope_from = envelope_sender(&config, from)?;
    let message_id = new_message_id(&config);
    let id = store::outbox::insert_to_render(
        tx,
        &store::outbox::NewOutboxMail {
            kind: kind.to_string(),
            ticket,
            entry,
            message_id: message_id.clone(),
            envelope_from,
            recipients: vec![recipient],
            subject: subject.to_string(),
            raw: Vec::new(),
        },
        render,
    )?;
    tracing::debug!(id, kind, %message_id, "mail queued, to be rendered when sent");
    Ok(QueuedMail { id, message_id })
}

/// The envelope sender `sender` would give, without the display name.
fn envelope_sender(config: &Config, given: Option<&Sender>) -> Result<String, QueueError> {
    let email = match given {
        Some(s) if !s.email.trim().is_empty() => s.email.clone(),
        _ if !config.smtp.from_address.trim().is_empty() => config.smtp.from_address.clone(),
        _ => format!("noreply@{}", mail_host(config)),
    };
    Ok(parse_address(&email)?.to_string())
}

fn parse_address(s: &str) -> Result<Address, QueueError> {
    s.trim()
        .parse::<Address>()
        .map_err(|_| QueueError::Address(s.to_string()))
}

/// The From mailbox: the given sender, else the configured default, else a
/// no-reply address at our host so that mail is never built without one.
fn sender(
    conn: &Connection,
    config: &Config,
    given: Option<&Sender>,
) -> Result<Mailbox, QueueError> {
    let helpdesk = store::settings::get_or(conn, "helpdesk.name", "Oxidesk")?;
    let (email, name) = match given {
        Some(s) if !s.email.trim().is_empty() => (s.email.clone(), s.name.clone()),
        _ if !config.smtp.from_address.trim().is_empty() => (
            config.smtp.from_address.clone(),
            config.smtp.from_name.clone(),
        ),
        _ => (format!("noreply@{}", mail_host(config)), String::new()),
    };
    let name = if name.trim().is_empty() {
        helpdesk
    } else {
        name
    };
    Ok(Mailbox::new(Some(name), parse_address(&email)?))
}

/// The host part of our Message-IDs: the public URL's host, else the
/// domain of the From address.
pub fn mail_host(config: &Config) -> String {
    let base = config.server.base_url.trim();
    let from_url = base
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(base)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("");
    let host = if from_url.starts_with('[') {
        from_url
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
    } else {
        from_url
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(from_url)
    };
    let host = host.rsplit('@').next().unwrap_or("");
    if !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
    {
        return host.to_ascii_lowercase();
    }
    match config.smtp.from_address.rsplit_once('@') {
        Some((_, d)) if !d.trim().is_empty() => d.trim().to_ascii_lowercase(),
        _ => "oxidesk.localhost".to_string(),
    }
}

/// A new Message-ID without angle brackets: 128 random bits and our host.
pub fn new_message_id(config: &Config) -> String {
    let mut bytes = [0u8; 16];
    rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
    format!("{}@{}", hex::encode(bytes), mail_host(config))
}

fn angle(id: &str) -> String {
    format!(
        "<{}>",
        id.trim().trim_start_matches('<').trim_end_matches('>')
    )
}

fn build(
    mail: &OutgoingMail,
    from: &Mailbox,
    message_id: &str,
) -> Result<(Message, Vec<String>), QueueError> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(mail.subject.clone())
        .message_id(Some(angle(message_id)))
        .date_now();
    let mut recipients = Vec::new();
    for (name, email) in &mail.to {
        let address = parse_address(email)?;
        recipients.push(address.to_string());
        let name = (!name.trim().is_empty()).then(|| name.trim().to_string());
        builder = builder.to(Mailbox::new(name, address));
    }
    if recipients.is_empty() {
        return Err(QueueError::NoRecipient);
    }
    if let Some(id) = mail.in_reply_to.as_deref().filter(|s| !s.trim().is_empty()) {
        builder = builder.in_reply_to(angle(id));
    }
    let refs: Vec<String> = mail
        .references
        .iter()
        .filter(|r| !r.trim().is_empty())
        .map(|r| angle(r))
        .collect();
    if !refs.is_empty() {
        builder = builder.references(refs.join(" "));
    }

    let mut body = MultiPart::alternative_plain_html(crlf(&mail.text), crlf(&mail.html));
    let (inline, files): (Vec<_>, Vec<_>) = mail
        .attachments
        .iter()
        .partition(|a| a.inline && a.content_id.is_some());
    if !inline.is_empty() {
        let mut related = MultiPart::related().multipart(body);
        for a in inline {
            let cid = a.content_id.clone().unwrap_or_default();
            related = related.singlepart(
                Attachment::new_inline_with_name(cid, a.filename.clone())
                    .body(a.data.clone(), content_type(&a.mime_type)),
            );
        }
        body = related;
    }
    if !files.is_empty() {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in files {
            mixed = mixed.singlepart(file_part(a));
        }
        body = mixed;
    }
    let mut message = builder
        .multipart(body)
        .map_err(|e| QueueError::Build(e.to_string()))?;
    if let Some(value) = mail.auto_submitted {
        let headers = message.headers_mut();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            value.to_string(),
        ));
        // Asks Exchange and Outlook not to answer with out-of-office notes.
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".to_string(),
        ));
    }
    Ok((message, recipients))
}

fn content_type(mime: &str) -> ContentType {
    ContentType::parse(mime)
        .or_else(|_| ContentType::parse("application/octet-stream"))
        .unwrap_or(ContentType::TEXT_PLAIN)
}

/// `text` with CRLF line endings, in one pass. lettre converts bare LF
/// itself, but one insertion at a time, which shifts the rest of the body at
/// every line: quadratic, and slow on musl for a long message.
fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut prev = '\0';
    for c in text.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

fn file_part(a: &MailAttachment) -> SinglePart {
    let name = if a.filename.trim().is_empty() {
        "attachment".to_string()
    } else {
        a.filename.clone()
    };
    Attachment::new(name).body(a.data.clone(), content_type(&a.mime_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_converts_bare_line_feeds_only() {
        assert_eq!(crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
        assert_eq!(crlf("سلام\nدنیا"), "سلام\r\nدنیا");
        assert_eq!(crlf(""), "");
    }

    #[test]
    fn host_from_base_url_or_from_address() {
        let mut c = Config::default();
        assert_eq!(mail_host(&c), "oxidesk.localhost");
        c.smtp.from_address = "help@Example.org".into();
        assert_eq!(mail_host(&c), "example.org");
        c.server.base_url = "https://desk.example.com:8443/sub/".into();
        assert_eq!(mail_host(&c), "desk.example.com");
    }
}
