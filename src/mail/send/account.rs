//! Mail about a customer's portal account: the address verification link.
//! (Password resets use `notify::queue_password_reset`.)

use rusqlite::Connection;
use serde_json::json;

use super::queue::{queue, OutgoingMail, QueueError};
use super::templates::{self, TemplateError};
use crate::store::settings;

/// Mail a verification `link` (built by the caller) to a customer who
/// registered, in their language.
pub fn queue_account_verify(
    tx: &Connection,
    name: &str,
    email: &str,
    locale: Option<&str>,
    link: &str,
) -> Result<super::QueuedMail, QueueError> {
    let mut ctx = tera::Context::new();
    ctx.insert(
        "helpdesk",
        &json!({ "name": settings::get_or(tx, "helpdesk.name", "Oxidesk")? }),
    );
    ctx.insert("recipient", &json!({ "name": name, "email": email }));
    ctx.insert("link", link);
    let lang = templates::language(locale);
    let r = templates::render(tx, "account_verify", &lang, &ctx).map_err(|e| match e {
        TemplateError::Store(s) => QueueError::Store(s),
        other => QueueError::Build(other.to_string()),
    })?;
    queue(
        tx,
        OutgoingMail {
            kind: "account_verify".into(),
            to: vec![(name.to_string(), email.to_string())],
            subject: r.subject,
            text: r.text,
            html: r.html,
            auto_submitted: Some("auto-generated"),
            ..OutgoingMail::default()
        },
    )
}
