//! Admins' versions of the mail templates (the defaults are embedded in the
//! binary, see `mail::send::templates`).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Context, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredTemplate {
    pub name: String,
    /// '' for the version used by every language without its own.
    pub lang: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub updated_at: i64,
}

/// The override for `name` in `lang`, falling back to the one for every
/// language ('').
pub fn find(conn: &Connection, name: &str, lang: &str) -> StoreResult<Option<StoredTemplate>> {
    conn.query_row(
        "SELECT name, lang, subject, body_text, body_html, updated_at FROM mail_templates
         WHERE name = ?1 AND lang IN (?2, '')
         ORDER BY lang = '' LIMIT 1",
        params![name, lang],
        |r| {
            Ok(StoredTemplate {
                name: r.get(0)?,
                lang: r.get(1)?,
                subject: r.get(2)?,
                body_text: r.get(3)?,
                body_html: r.get(4)?,
                updated_at: r.get(5)?,
            })
        },
    )
    .optional()
    .ctx(|| format!("loading mail template {name} ({lang})"))
}

pub fn list(conn: &Connection) -> StoreResult<Vec<StoredTemplate>> {
    let mut stmt = conn
        .prepare(
            "SELECT name, lang, subject, body_text, body_html, updated_at FROM mail_templates
             ORDER BY name, lang",
        )
        .ctx(|| "listing mail templates".into())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(StoredTemplate {
                name: r.get(0)?,
                lang: r.get(1)?,
                subject: r.get(2)?,
                body_text: r.get(3)?,
                body_html: r.get(4)?,
                updated_at: r.get(5)?,
            })
        })
        .ctx(|| "listing mail templates".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing mail templates".into())
}

pub fn save(
    conn: &Connection,
    name: &str,
    lang: &str,
    subject: &str,
    body_text: &str,
    body_html: &str,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO mail_templates (name, lang, subject, body_text, body_html, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(name, lang) DO UPDATE SET subject = excluded.subject,
             body_text = excluded.body_text, body_html = excluded.body_html,
             updated_at = excluded.updated_at",
        params![name, lang, subject, body_text, body_html, super::now()],
    )
    .ctx(|| format!("saving mail template {name} ({lang})"))?;
    Ok(())
}

/// Back to the embedded default.
pub fn delete(conn: &Connection, name: &str, lang: &str) -> StoreResult<bool> {
    let n = conn
        .execute(
            "DELETE FROM mail_templates WHERE name = ?1 AND lang = ?2",
            params![name, lang],
        )
        .ctx(|| format!("deleting mail template {name} ({lang})"))?;
    Ok(n > 0)
}
