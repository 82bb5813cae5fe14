//! Turning stored content into safe HTML for staff pages.
//!
//! Mail HTML was sanitised at intake; it is cleaned again here with
//! ammonia's strict defaults (no scripts, styles or event handlers), so a
//! row written by any other path can never inject markup. Inline `cid:`
//! images point at the attachment URLs; remote images are blocked by the
//! page's Content-Security-Policy.

use crate::store::search::{MARK_END, MARK_START};
use crate::store::ticket_page::AttachmentMeta;

/// Escape text for HTML exactly as Tera's default escaper does (`&`, `<`,
/// `>`, `"`, `'` and `/`), appending to `out`.
///
/// Tera's own `escape_html` pushes the input one `char` at a time into a
/// string it sized at twice the input and then shrinks (a reallocation).
/// Every `{{ }}` of every page and every cell of a queue row goes through
/// it: on the Open queue it was 9% of the server's time. This copies the
/// runs between special characters at once; those are all ASCII, so every
/// cut is on a character boundary.
pub fn escape_html_into(out: &mut String, s: &str) {
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            b'/' => "&#x2F;",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        out.push_str(entity);
        from = i + 1;
    }
    out.push_str(&s[from..]);
}

/// [`escape_html_into`] a new string; the escaper the templates use.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8 + 8);
    escape_html_into(&mut out, s);
    out
}

/// `<option>` elements for a select of `(value, label)` pairs, the one whose
/// value is `selected` marked so, labels escaped and set to `dir="auto"`.
///
/// For the lists that grow with the desk (its agents, departments, teams)
/// on the pages staff load all day. A template loop evaluates each entry's
/// expressions one by one; on the Open queue, with 21 agents listed twice,
/// that was a third of Tera's time.
pub fn options_html<V, L>(
    items: impl IntoIterator<Item = (V, L)>,
    prefix: &str,
    selected: Option<&str>,
) -> String
where
    V: std::fmt::Display,
    L: AsRef<str>,
{
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut value = String::new();
    for (v, label) in items {
        value.clear();
        let _ = write!(value, "{prefix}{v}");
        out.push_str("<option value=\"");
        escape_html_into(&mut out, &value);
        out.push('"');
        if selected == Some(value.as_str()) {
            out.push_str(" selected");
        }
        out.push_str(" dir=\"auto\">");
        escape_html_into(&mut out, label.as_ref());
        out.push_str("</option>");
    }
    out
}

/// The attachment URL for staff.
pub fn attachment_url(id: crate::model::AttachmentId) -> String {
    format!("/attachments/{id}")
}

/// Sanitised HTML of a mail body, with `cid:` references rewritten.
pub fn mail_html(html: &str, attachments: &[AttachmentMeta]) -> String {
    let mut html = html.to_string();
    for a in attachments {
        if let Some(cid) = &a.content_id {
            let cid = cid.trim().trim_start_matches('<').trim_end_matches('>');
            if !cid.is_empty() {
                html = html.replace(
                    &format!("cid:{cid}"),
                    &format!("{}?inline=true", attachment_url(a.id)),
                );
            }
        }
    }
    cleaner().clean(&html).to_string()
}

/// The display-time sanitiser, built once: a new ammonia `Builder` fills a
/// dozen sets of tag and attribute names, which cost as much as cleaning a
/// short message.
fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: std::sync::OnceLock<ammonia::Builder<'static>> = std::sync::OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.link_rel(Some("noopener noreferrer nofollow"))
            .url_relative(ammonia::UrlRelative::PassThrough);
        b
    })
}

/// A search snippet with its match marks turned into `<mark>`, everything
/// else escaped.
pub fn highlight(snippet: &str) -> String {
    escape_html(snippet)
        .replace(MARK_START, "<mark>")
        .replace(MARK_END, "</mark>")
}

/// Image types a browser may show inline without risk (no SVG: it can
/// carry script).
pub fn is_safe_inline_image(mime: &str) -> bool {
    matches!(
        mime.to_ascii_lowercase().as_str(),
        "image/png" | "image/jpeg" | "image/jpg" | "image/gif" | "image/webp" | "image/bmp"
    )
}

/// A file name safe for a Content-Disposition header (RFC 6266 with an
/// ASCII fallback and the UTF-8 name percent-encoded).
pub fn content_disposition(kind: &str, filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._-()[]".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ascii = if ascii.trim().is_empty() {
        "attachment".to_string()
    } else {
        ascii
    };
    let encoded =
        percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// An attachment as a response, for staff and portal downloads alike (the
/// handlers check who may see it). Inline only when asked and a safe raster
/// image; everything else downloads as an opaque file, with nosniff and a
/// sandboxing content policy.
pub struct Download {
    pub meta: AttachmentMeta,
    pub data: Vec<u8>,
    pub inline: bool,
}

impl<'r> rocket::response::Responder<'r, 'static> for Download {
    fn respond_to(self, _: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        use rocket::http::ContentType;
        let (kind, ctype) = if self.inline && is_safe_inline_image(&self.meta.mime_type) {
            (
                "inline",
                ContentType::parse_flexible(&self.meta.mime_type).unwrap_or(ContentType::Binary),
            )
        } else {
            ("attachment", ContentType::Binary)
        };
        Ok(file_response(
            ctype,
            content_disposition(kind, &self.meta.filename),
            "private, max-age=3600",
            self.data,
        ))
    }
}

/// A file as a response, with what every download carries: the type and
/// disposition given, nosniff, a sandboxing content policy (should the
/// browser show it anyway) and `cache`.
pub fn file_response(
    ctype: rocket::http::ContentType,
    disposition: String,
    cache: &'static str,
    data: Vec<u8>,
) -> rocket::Response<'static> {
    use rocket::http::Header;
    rocket::Response::build()
        .header(ctype)
        .header(Header::new("Content-Disposition", disposition))
        .header(Header::new("X-Content-Type-Options", "nosniff"))
        .header(Header::new("Cache-Control", cache))
        .header(Header::new(
            "Content-Security-Policy",
            "default-src 'none'; sandbox",
        ))
        .sized_body(data.len(), std::io::Cursor::new(data))
        .finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_mark_the_selected_one_and_escape_labels() {
        let html = options_html([(1, "Ann <admin>"), (12, "علی رضایی")], "", Some("12"));
        assert_eq!(
            html,
            "<option value=\"1\" dir=\"auto\">Ann &lt;admin&gt;</option>\
             <option value=\"12\" selected dir=\"auto\">علی رضایی</option>"
        );
        let teams = options_html([(3, "Night")], "team:", Some("team:3"));
        assert_eq!(
            teams,
            "<option value=\"team:3\" selected dir=\"auto\">Night</option>"
        );
        assert_eq!(
            options_html([(1, "x")], "", Some("11")),
            "<option value=\"1\" dir=\"auto\">x</option>"
        );
        assert_eq!(options_html(Vec::<(i64, &str)>::new(), "", None), "");
    }

    #[test]
    fn escape_html_writes_what_tera_writes() {
        let samples = [
            "",
            "plain",
            "<script>alert('x')</script> & \"quoted\" a/b",
            "&&&<<>>//''\"\"",
            "سلام <b>دنیا</b> & «نقل‌قول»",
            "ሰላም / ዓለም & <i>",
            "emoji 🎉 & 🚀 </end>",
            "trailing &",
            "/leading",
        ];
        for s in samples {
            assert_eq!(escape_html(s), tera::escape_html(s), "{s:?}");
        }
        // Every pair of characters from a mixed alphabet, in every position.
        let alphabet = ['a', '&', '<', '>', '"', '\'', '/', 'ش', '🎉', ' '];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let s: String = [a, b, c].iter().collect();
                    assert_eq!(escape_html(&s), tera::escape_html(&s), "{s:?}");
                }
            }
        }
        let mut out = String::from("kept ");
        escape_html_into(&mut out, "<x>");
        assert_eq!(out, "kept &lt;x&gt;");
    }

    #[test]
    fn mail_html_is_cleaned_and_cids_rewritten() {
        let atts = vec![AttachmentMeta {
            id: crate::model::AttachmentId(7),
            entry_id: crate::model::EntryId(1),
            filename: "a.png".into(),
            mime_type: "image/png".into(),
            size: 1,
            inline: true,
            content_id: Some("<img1@x>".into()),
        }];
        let out = mail_html(
            "<p onclick=\"x()\">Hi<script>alert(1)</script><img src=\"cid:img1@x\"></p>",
            &atts,
        );
        assert!(!out.contains("script") && !out.contains("onclick"), "{out}");
        assert!(out.contains("/attachments/7?inline=true"), "{out}");
    }

    #[test]
    fn snippets_escape_everything_but_marks() {
        assert_eq!(
            highlight("a <b> \u{2}word\u{3}"),
            "a &lt;b&gt; <mark>word</mark>"
        );
    }

    #[test]
    fn disposition_is_header_safe() {
        let d = content_disposition("attachment", "фото \"x\".png\r\n");
        assert!(!d.contains('\r') && !d.contains('\n'));
        assert!(d.starts_with("attachment; filename=\""));
    }
}
