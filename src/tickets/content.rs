//! What every new thread entry carries: body text and HTML, attachments and,
//! for mail, its headers and auto-reply flags. Validated and stored here so
//! that every operation treats them alike.

use rusqlite::Connection;

use super::TicketError;
use crate::mail::parse::AutoFlags;
use crate::model::{EntryId, RawMessageId};
use crate::store::{self, attachments::NewAttachmentRow};

/// A file to attach to a new entry.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub filename: String,
    pub mime_type: String,
    pub data: Vec<u8>,
    /// Shown inside the HTML body (referenced by `cid:`) rather than listed.
    pub inline: bool,
    /// Content-ID without angle brackets.
    pub content_id: Option<String>,
}

impl From<crate::mail::parse::InboundAttachment> for NewAttachment {
    fn from(a: crate::mail::parse::InboundAttachment) -> NewAttachment {
        NewAttachment {
            filename: a.filename,
            mime_type: a.mime_type,
            data: a.data,
            inline: a.inline,
            content_id: a.content_id,
        }
    }
}

/// Where a message came from when it arrived by mail.
#[derive(Debug, Clone, Default)]
pub struct MailInfo {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub raw_message_id: Option<RawMessageId>,
    pub auto: AutoFlags,
    /// To, Cc and Delivered-To addresses (for filters).
    pub recipients: Vec<String>,
    /// Every header, decoded, in order (for filters).
    pub headers: Vec<(String, String)>,
}

/// The body of a new entry. HTML that came by mail was sanitised by the mail
/// parser; HTML from anywhere else is sanitised here.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub text: String,
    pub html: Option<String>,
}

impl Body {
    pub fn text(text: impl Into<String>) -> Body {
        Body {
            text: text.into(),
            html: None,
        }
    }

    /// Clean and complete the body: sanitise HTML not from the mail parser
    /// and derive the text from the HTML when only HTML was given.
    pub(crate) fn prepare(mut self, from_mail: bool) -> Body {
        if let Some(html) = self.html.take() {
            let html = if from_mail {
                html
            } else {
                ammonia::clean(&html)
            };
            if self.text.trim().is_empty() {
                self.text = html2text::from_read(html.as_bytes(), 100)
                    .unwrap_or_default()
                    .trim_end()
                    .to_string();
            }
            if !html.trim().is_empty() {
                self.html = Some(html);
            }
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty() && self.html.as_deref().is_none_or(|h| h.trim().is_empty())
    }
}

/// Largest single attachment accepted from callers other than mail (mail is
/// bounded by the message size limit).
const MAX_ATTACHMENT_BYTES: usize = 64 * 1024 * 1024;

pub(crate) fn validate_attachments(list: &[NewAttachment]) -> Result<(), TicketError> {
    for a in list {
        if a.data.len() > MAX_ATTACHMENT_BYTES {
            return Err(TicketError::invalid(
                "attachments",
                format!("{} is larger than 64 MB", a.filename),
            ));
        }
        if a.filename.len() > 1024 {
            return Err(TicketError::invalid(
                "attachments",
                "a file name is longer than 1024 bytes",
            ));
        }
    }
    Ok(())
}

/// Store the attachments of `entry`, deduplicating their bytes.
pub(crate) fn store_attachments(
    tx: &Connection,
    entry: EntryId,
    list: &[NewAttachment],
    now: i64,
) -> Result<(), TicketError> {
    for a in list {
        let (blob_id, _) = store::attachments::put_blob(tx, &a.data)?;
        let filename = clean_filename(&a.filename);
        let mime_type = if a.mime_type.trim().is_empty() {
            "application/octet-stream".to_string()
        } else {
            a.mime_type.trim().to_ascii_lowercase()
        };
        store::attachments::insert(
            tx,
            &NewAttachmentRow {
                entry_id: entry,
                blob_id,
                filename: &filename,
                mime_type: &mime_type,
                size: a.data.len() as i64,
                inline: a.inline,
                content_id: a.content_id.as_deref(),
                now,
            },
        )?;
    }
    Ok(())
}

/// A file name safe to offer for download: no path, no control characters.
fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "attachment".to_string()
    } else {
        cleaned.to_string()
    }
}

/// A plausible email address: something@something, no spaces, not too long.
pub(crate) fn validate_email(email: &str) -> Result<String, TicketError> {
    let email = email.trim();
    // Spaces are allowed only inside a quoted local part
    // ("power quadrant system"@example.com is a valid address).
    let ok = email.len() <= 254
        && !email.chars().any(char::is_control)
        && email.rsplit_once('@').is_some_and(|(local, domain)| {
            let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
            !local.is_empty()
                && !domain.is_empty()
                && !domain.chars().any(char::is_whitespace)
                && (quoted || !local.chars().any(char::is_whitespace))
        });
    if ok {
        Ok(email.to_string())
    } else {
        Err(TicketError::invalid(
            "email",
            format!("{email:?} is not an email address"),
        ))
    }
}

/// Space-joined ids for the `refs` column.
pub(crate) fn join_ids(ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| ids.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_paths_and_controls() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\x\\r\u{7}e.pdf"), "re.pdf");
        assert_eq!(clean_filename(".."), "attachment");
        assert_eq!(clean_filename("گزارش.pdf"), "گزارش.pdf");
    }

    #[test]
    fn html_only_bodies_get_text() {
        let b = Body {
            text: String::new(),
            html: Some("<p>Hello <b>there</b></p><script>x()</script>".into()),
        }
        .prepare(false);
        assert!(b.text.contains("Hello"), "{}", b.text);
        assert!(!b.html.unwrap().contains("script"));
    }

    #[test]
    fn emails_are_checked() {
        assert!(validate_email(" a@b.example ").is_ok());
        assert!(validate_email("no-at").is_err());
        assert!(validate_email("a b@c").is_err());
        assert!(validate_email("@c").is_err());
        assert!(validate_email("\"power quadrant system\"@example.com").is_ok());
        assert!(validate_email("a@b c").is_err());
    }
}
