//! The helpdesk settings an admin may change (the admin settings page and
//! `oxidesk settings`): every key, its default and how a value is checked.
//! Values live in `store::settings`; both editors validate through here, so
//! a value the web page refuses is refused by the CLI too.

use std::str::FromStr;

use rusqlite::Connection;

use crate::store::{self, StoreResult};

/// How a setting's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text up to this many characters; `required` refuses empty.
    Text { max: usize, required: bool },
    /// true/false.
    Bool,
    /// A whole number in a range.
    Int { min: i64, max: i64 },
    /// An http(s) URL, or empty.
    Url,
    /// A ticket number pattern (`#` = a digit).
    NumberFormat,
    /// An IANA time zone name.
    TimeZone,
    /// A strftime pattern.
    DateFormat,
    /// An existing department id.
    Department,
    /// An existing priority id.
    Priority,
    /// An existing SLA plan id, or empty for none.
    SlaPlan,
    /// One of a list of words.
    Choice(&'static [&'static str]),
    /// A CSS hex colour (#rgb, #rrggbb), or empty.
    Color,
    /// File extensions and MIME types separated by commas or spaces, or
    /// empty (stored comma-separated, lower case, without leading dots).
    FileTypes,
    /// A blob id set by uploading (not typed).
    Blob,
}

#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
}

const fn key(name: &'static str, kind: Kind, default: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
    }
}

/// Default date format: ISO-like, unambiguous in every language.
pub const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%d %H:%M";

/// Every setting the admin area edits, in the order the page shows them.
pub const KEYS: &[Key] = &[
    key(
        "helpdesk.name",
        Kind::Text {
            max: 100,
            required: true,
        },
        "Oxidesk",
    ),
    key("helpdesk.url", Kind::Url, ""),
    key("helpdesk.timezone", Kind::TimeZone, "UTC"),
    key(
        "helpdesk.date_format",
        Kind::DateFormat,
        DEFAULT_DATE_FORMAT,
    ),
    key("tickets.number_format", Kind::NumberFormat, "######"),
    key("tickets.default_department_id", Kind::Department, "1"),
    key("tickets.default_priority_id", Kind::Priority, "2"),
    key("tickets.default_sla_plan_id", Kind::SlaPlan, "1"),
    key("tickets.reopen_on_reply", Kind::Bool, "true"),
    key("attachments.max_files", Kind::Int { min: 0, max: 50 }, "5"),
    key(
        "attachments.max_file_bytes",
        Kind::Int {
            min: 1024,
            max: crate::web::MAX_UPLOAD as i64,
        },
        "10485760",
    ),
    key("attachments.allowed_types", Kind::FileTypes, ""),
    key("mail.auto_response", Kind::Bool, "true"),
    key(
        "mail.auto_response_per_hour",
        Kind::Int { min: 0, max: 1000 },
        "5",
    ),
    key("mail.send_responses", Kind::Bool, "true"),
    key("mail.alert_new_ticket", Kind::Bool, "true"),
    key("mail.alert_new_message", Kind::Bool, "true"),
    key("mail.alert_assigned", Kind::Bool, "true"),
    key("mail.alert_transferred", Kind::Bool, "true"),
    key("mail.alert_overdue", Kind::Bool, "true"),
    key(
        "portal.accounts",
        Kind::Choice(&["off", "optional", "required"]),
        "optional",
    ),
    key("portal.accent_color", Kind::Color, ""),
    key(
        "portal.footer",
        Kind::Text {
            max: 2000,
            required: false,
        },
        "",
    ),
    key(
        "portal.rate_limit_per_hour",
        Kind::Int { min: 0, max: 10000 },
        "10",
    ),
    key("portal.logo_blob", Kind::Blob, ""),
];

pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// A value that cannot be saved, with the sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(msg: impl Into<String>) -> Result<Result<T, Invalid>, store::StoreError> {
    Ok(Err(Invalid(msg.into())))
}

/// The current value of every key (stored, else the default).
pub fn current(conn: &Connection) -> StoreResult<Vec<(&'static Key, String)>> {
    let stored: std::collections::HashMap<String, String> =
        store::settings::all(conn)?.into_iter().collect();
    Ok(KEYS
        .iter()
        .map(|k| {
            let v = stored
                .get(k.name)
                .cloned()
                .unwrap_or_else(|| k.default.to_string());
            (k, v)
        })
        .collect())
}

/// Check `value` for `key`; the outer error is the database failing, the
/// inner one a value to refuse. Returns the value to store (trimmed,
/// normalised: "on" becomes "true", colours lower case).
pub fn validate(conn: &Connection, key: &Key, value: &str) -> StoreResult<Result<String, Invalid>> {
    let v = value.trim();
    match key.kind {
        Kind::Text { max, required } => {
            if required && v.is_empty() {
                return bad("is required");
            }
            if v.chars().count() > max {
                return bad(format!("is longer than {max} characters"));
            }
            if v.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return bad("contains control characters");
            }
            Ok(Ok(v.replace("\r\n", "\n")))
        }
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Ok("true".into())),
            "false" | "0" | "no" | "off" => Ok(Ok("false".into())),
            _ => bad("must be true or false"),
        },
        Kind::Int { min, max } => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Ok(n.to_string())),
            _ => bad(format!("must be a whole number from {min} to {max}")),
        },
        Kind::Url => {
            if v.is_empty() {
                return Ok(Ok(String::new()));
            }
            let rest = v
                .strip_prefix("https://")
                .or_else(|| v.strip_prefix("http://"));
            match rest {
                Some(host)
                    if !host.is_empty()
                        && !host.starts_with('/')
                        && v.len() <= 500
                        && !v.chars().any(|c| c.is_whitespace() || c.is_control()) =>
                {
                    Ok(Ok(v.trim_end_matches('/').to_string()))
                }
                _ => bad("must be a web address starting with https:// or http://"),
            }
        }
        Kind::NumberFormat => match crate::tickets::numbers::validate_format(v) {
            Ok(()) => Ok(Ok(v.to_string())),
            Err(m) => bad(m),
        },
        Kind::TimeZone => match chrono_tz::Tz::from_str(v) {
            Ok(tz) => Ok(Ok(tz.name().to_string())),
            Err(_) => bad(format!(
                "{v:?} is not a time zone name like Europe/Berlin or Asia/Tehran"
            )),
        },
        Kind::DateFormat => {
            use chrono::format::{Item, StrftimeItems};
            if v.is_empty() || v.chars().count() > 64 {
                return bad("must be 1 to 64 characters");
            }
            if StrftimeItems::new(v).any(|i| matches!(i, Item::Error)) {
                return bad(format!(
                    "{v:?} is not a valid date format (use %Y-%m-%d %H:%M and the like)"
                ));
            }
            if !v.contains('%') {
                return bad("must contain at least one % field like %Y or %d");
            }
            Ok(Ok(v.to_string()))
        }
        Kind::Department => match v.parse::<i64>() {
            Ok(id)
                if store::ticket_refs::department_exists(conn, crate::model::DepartmentId(id))? =>
            {
                Ok(Ok(id.to_string()))
            }
            _ => bad(format!("there is no department {v:?}")),
        },
        Kind::Priority => match v.parse::<i64>() {
            Ok(id) if store::ticket_refs::priority_exists(conn, crate::model::PriorityId(id))? => {
                Ok(Ok(id.to_string()))
            }
            _ => bad(format!("there is no priority {v:?}")),
        },
        Kind::SlaPlan => {
            if v.is_empty() {
                return Ok(Ok(String::new()));
            }
            match v.parse::<i64>() {
                Ok(id)
                    if store::help_topics::sla_plan_exists(conn, crate::model::SlaPlanId(id))? =>
                {
                    Ok(Ok(id.to_string()))
                }
                _ => bad(format!("there is no SLA plan {v:?}")),
            }
        }
        Kind::Choice(words) => match words.iter().find(|w| w.eq_ignore_ascii_case(v)) {
            Some(w) => Ok(Ok(w.to_string())),
            None => bad(format!("must be one of: {}", words.join(", "))),
        },
        Kind::Color => {
            if v.is_empty() {
                return Ok(Ok(String::new()));
            }
            let ok = v.strip_prefix('#').is_some_and(|h| {
                matches!(h.len(), 3 | 6) && h.bytes().all(|b| b.is_ascii_hexdigit())
            });
            if ok {
                Ok(Ok(v.to_ascii_lowercase()))
            } else {
                bad("must be a colour like #1d4ed8")
            }
        }
        Kind::FileTypes => {
            let mut out = Vec::new();
            for item in v
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let item = item.to_ascii_lowercase();
                let ok = item.len() <= 100
                    && if let Some((top, sub)) = item.split_once('/') {
                        !top.is_empty()
                            && !sub.is_empty()
                            && item
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "/.+-*_".contains(c))
                    } else {
                        let ext = item.trim_start_matches('.');
                        !ext.is_empty()
                            && ext.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    };
                if !ok {
                    return bad(format!(
                        "{item:?} is neither a file extension (pdf) nor a MIME type (image/png)"
                    ));
                }
                let item = if item.contains('/') {
                    item
                } else {
                    item.trim_start_matches('.').to_string()
                };
                if !out.contains(&item) {
                    out.push(item);
                }
            }
            Ok(Ok(out.join(", ")))
        }
        Kind::Blob => {
            if v.is_empty() {
                return Ok(Ok(String::new()));
            }
            let exists = match v.parse::<i64>() {
                Ok(id) => conn
                    .query_row(
                        "SELECT EXISTS(SELECT 1 FROM blobs WHERE id = ?1)",
                        [id],
                        |r| r.get::<_, bool>(0),
                    )
                    .map_err(|e| store::StoreError::wrap("looking up a stored file", e))?,
                Err(_) => false,
            };
            if exists {
                Ok(Ok(v.to_string()))
            } else {
                bad("must be the id of an uploaded file (upload the logo on the settings page)")
            }
        }
    }
}

/// Validate and save one setting, writing an audit event with the old and
/// new value when it changed. Returns the stored value.
pub fn set(
    conn: &Connection,
    actor: &crate::tickets::events::Actor,
    name: &str,
    value: &str,
) -> StoreResult<Result<String, Invalid>> {
    let Some(key) = find(name) else {
        return bad(format!("there is no setting called {name:?}"));
    };
    let value = match validate(conn, key, value)? {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let before = store::settings::get(conn, name)?;
    if before.as_deref() == Some(value.as_str()) {
        return Ok(Ok(value));
    }
    store::settings::set(conn, name, &value)?;
    store::audit::record(
        conn,
        actor,
        "config.setting_updated",
        &serde_json::json!({
            "key": name,
            "before": before.unwrap_or_else(|| key.default.to_string()),
            "after": value,
        }),
    )?;
    Ok(Ok(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, value: &str) -> Result<String, Invalid> {
        let dir = tempfile::tempdir().unwrap();
        let store = store::Store::open(&store::StoreOptions::new(dir.path().join("s.db"))).unwrap();
        let conn = store.conn().unwrap();
        validate(&conn, find(key).unwrap(), value).unwrap()
    }

    #[test]
    fn values_are_checked_and_normalised() {
        assert_eq!(
            check("helpdesk.timezone", " Asia/Tehran ").unwrap(),
            "Asia/Tehran"
        );
        assert!(check("helpdesk.timezone", "Asia/Nowhere").is_err());
        assert_eq!(check("tickets.reopen_on_reply", "ON").unwrap(), "true");
        assert!(check("tickets.reopen_on_reply", "maybe").is_err());
        assert!(check("attachments.max_files", "51").is_err());
        assert_eq!(check("portal.accounts", "Required").unwrap(), "required");
        assert!(check("portal.accounts", "sometimes").is_err());
        assert_eq!(check("portal.accent_color", "#1D4ED8").unwrap(), "#1d4ed8");
        assert!(check("portal.accent_color", "blue").is_err());
        assert_eq!(
            check("attachments.allowed_types", ".PDF, image/png jpg").unwrap(),
            "pdf, image/png, jpg"
        );
        assert!(check("attachments.allowed_types", "p*f").is_err());
        assert!(check("helpdesk.url", "javascript:alert(1)").is_err());
        assert_eq!(
            check("helpdesk.url", "https://help.example.com/").unwrap(),
            "https://help.example.com"
        );
        assert!(check("helpdesk.date_format", "%Q").is_err());
        assert!(check("helpdesk.date_format", "%d.%m.%Y").is_ok());
        assert!(check("tickets.number_format", "##").is_err());
        assert!(check("tickets.default_department_id", "1").is_ok());
        assert!(check("tickets.default_department_id", "42").is_err());
        assert!(check("tickets.default_sla_plan_id", "").is_ok());
        assert!(check("helpdesk.name", "").is_err());
        assert!(check("portal.logo_blob", "7").is_err());
    }
}
