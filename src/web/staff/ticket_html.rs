//! The ticket page's lists, written as HTML here rather than by template
//! loops: the thread, the customer panel and the history.
//!
//! These grow with the ticket and are on the page agents open most. A
//! template loop turns each entry into JSON first and then evaluates every
//! expression of every entry one by one; on a ticket of eight entries that
//! was most of the page's rendering time. Every value is escaped exactly
//! as the templates escape it (`escape_html_into`), and every label still
//! comes from the catalogues.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use super::labels::StatusLabels;
use crate::model::{EntryId, TicketId};
use crate::store::outbox::OutboxRow;
use crate::store::ticket_page::{AttachmentMeta, CustomerPanel, EventRow, ThreadEntry};
use crate::web::i18n::{lookup, t};
use crate::web::render::{escape_html_into as e, is_safe_inline_image, mail_html};
use crate::web::templates::{ago_text, filesize_text};

/// What the thread's markup depends on beyond the entries themselves.
pub struct ThreadView<'a> {
    pub ticket: TicketId,
    pub lang: &'a str,
    /// The viewer's form token, for the "retry delivery" buttons.
    pub csrf: &'a str,
    /// The viewer may reply (and so retry a failed delivery).
    pub can_reply: bool,
    /// The helpdesk's time zone name, after each entry's full date.
    pub zone: &'a str,
}

/// The whole thread: one `<article>` per entry, oldest first. Each reply
/// shows the state of its latest mail to the customer from `deliveries`.
pub fn thread(out: &mut String, entries: &[ThreadEntry], deliveries: &[OutboxRow], v: &ThreadView) {
    for entry in entries {
        let delivery = deliveries
            .iter()
            .rev()
            .find(|d| d.entry_id == Some(entry.id));
        article(out, entry, delivery, v);
    }
}

fn article(out: &mut String, en: &ThreadEntry, delivery: Option<&OutboxRow>, v: &ThreadView) {
    let lang = v.lang;
    out.push_str("<article class=\"entry kind-");
    e(out, &en.kind);
    let _ = write!(out, "\" id=\"entry-{}\">\n  <header>\n    ", en.id);
    let icon = match en.kind.as_str() {
        "note" => "i-lock",
        "response" => "i-reply",
        _ => "i-mail",
    };
    let _ = write!(
        out,
        "<span class=\"icon i {icon}\" aria-hidden=\"true\"></span>\n    <strong dir=\"auto\">"
    );
    // The author's name, or their address when the mail gave no name.
    let email = en.author_email.as_deref().filter(|m| !m.is_empty());
    match email {
        Some(m) if en.author_name.is_empty() => e(out, m),
        _ => e(out, &en.author_name),
    }
    out.push_str("</strong>");
    if let Some(m) = email.filter(|_| !en.author_name.is_empty()) {
        out.push_str(" <small dir=\"auto\">&lt;");
        e(out, m);
        out.push_str("&gt;</small>");
    }
    out.push_str("\n    <span class=\"kindlabel\">");
    e(out, lookup(lang, &format!("entry.{}", en.kind)));
    out.push_str("</span>");
    if en.is_auto_reply {
        out.push_str("<span class=\"badge\">");
        e(out, lookup(lang, "entry.auto_reply"));
        out.push_str("</span>");
    }
    let recipients = delivery.map(|d| d.recipients.join(", "));
    if let (Some(d), Some(to)) = (delivery, recipients.as_deref()) {
        let failed = d.state == "failed";
        out.push_str("<span class=\"badge delivery d-");
        e(out, &d.state);
        if failed {
            out.push_str(" danger");
        }
        out.push_str("\" title=\"");
        e(out, to);
        if let Some(sent) = d.sent_at {
            out.push_str(" · ");
            e(out, &crate::display::datetime(sent));
        }
        out.push_str("\">");
        e(out, lookup(lang, &format!("delivery.{}", d.state)));
        out.push_str("</span>");
    }
    let _ = write!(out, "\n    <time datetime=\"{}\" title=\"", en.created_at);
    e(out, &crate::display::datetime(en.created_at));
    out.push(' ');
    e(out, v.zone);
    out.push_str("\">");
    e(out, &ago_text(en.created_at, lang));
    out.push_str("</time>\n  </header>\n");
    if let (Some(d), Some(to)) = (delivery, recipients) {
        delivery_notice(out, d, to, v);
    }
    // Sanitised HTML when the message had any that survives sanitising.
    let html = en
        .body_html
        .as_deref()
        .map(|h| sanitised(en, h))
        .filter(|h| !h.is_empty());
    match html {
        Some(h) => {
            out.push_str("  <div class=\"body html\" dir=\"auto\">");
            out.push_str(&h);
        }
        None => {
            out.push_str("  <div class=\"body text\" dir=\"auto\">");
            e(out, &en.body_text);
        }
    }
    out.push_str("</div>\n");
    // Inline images the HTML shows are not listed again.
    let listed: Vec<&AttachmentMeta> = en
        .attachments
        .iter()
        .filter(|a| !(a.inline && en.body_html.is_some() && a.content_id.is_some()))
        .collect();
    if !listed.is_empty() {
        attachments(out, &listed);
    }
    out.push_str("</article>\n");
}

/// How many bytes of sanitised bodies `SANITISED` keeps.
const SANITISED_BUDGET: usize = 1 << 20;

/// Recently shown mail bodies, sanitised. Sanitising a message's HTML
/// parses and rebuilds the whole document, the largest single cost of a
/// ticket view with HTML mail, and agents open the same tickets again and
/// again. An entry's body never changes, but a deleted entry's id can be
/// given to a new one, so a kept body is used only while the source it was
/// made from (and the attachments its images point at) are the same.
struct Sanitised {
    bytes: usize,
    bodies: HashMap<EntryId, Kept>,
}

struct Kept {
    source: Box<str>,
    images: Vec<(crate::model::AttachmentId, Option<String>)>,
    html: Arc<str>,
}

static SANITISED: Mutex<Option<Sanitised>> = Mutex::new(None);

fn images_of(en: &ThreadEntry) -> Vec<(crate::model::AttachmentId, Option<String>)> {
    en.attachments
        .iter()
        .map(|a| (a.id, a.content_id.clone()))
        .collect()
}

/// `mail_html` of the entry's HTML `source`, from `SANITISED` when it
/// holds it.
fn sanitised(en: &ThreadEntry, source: &str) -> Arc<str> {
    let images = images_of(en);
    {
        let kept = SANITISED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = kept.as_ref().and_then(|s| s.bodies.get(&en.id)) {
            if &*k.source == source && k.images == images {
                return k.html.clone();
            }
        }
    }
    let html: Arc<str> = mail_html(source, &en.attachments).into();
    let size = source.len() + html.len();
    if size <= SANITISED_BUDGET / 8 {
        let mut kept = SANITISED.lock().unwrap_or_else(|e| e.into_inner());
        let s = kept.get_or_insert_with(|| Sanitised {
            bytes: 0,
            bodies: HashMap::new(),
        });
        if s.bytes + size > SANITISED_BUDGET {
            s.bodies.clear();
            s.bytes = 0;
        }
        let old = s.bodies.insert(
            en.id,
            Kept {
                source: source.into(),
                images,
                html: html.clone(),
            },
        );
        s.bytes += size;
        if let Some(old) = old {
            s.bytes = s.bytes.saturating_sub(old.source.len() + old.html.len());
        }
    }
    html
}

/// Drop the kept sanitised bodies (the server does while nobody uses it).
pub fn forget_sanitised() {
    *SANITISED.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Under a reply whose mail failed, or is waiting for another attempt.
fn delivery_notice(out: &mut String, d: &OutboxRow, to: String, v: &ThreadView) {
    let lang = v.lang;
    let answer = |out: &mut String| {
        if let Some(a) = d.last_answer.as_deref().filter(|a| !a.is_empty()) {
            out.push(' ');
            e(out, lookup(lang, "delivery.answer"));
            out.push_str(" <span dir=\"auto\">");
            e(out, a);
            out.push_str("</span>");
        }
    };
    if d.state == "failed" {
        out.push_str("  <div class=\"flash error delivery-failed\" role=\"status\">\n    ");
        e(out, &t(lang, "delivery.failed_to", &[("to", to)]));
        answer(out);
        if v.can_reply {
            let _ = write!(
                out,
                "\n    <form method=\"post\" action=\"/tickets/{}/deliveries/{}/retry\" \
                 class=\"inline\"><input type=\"hidden\" name=\"_csrf\" value=\"",
                v.ticket, d.id
            );
            e(out, v.csrf);
            out.push_str("\"><button type=\"submit\">");
            e(out, lookup(lang, "delivery.retry"));
            out.push_str("</button></form>");
        }
        out.push_str("\n  </div>\n");
    } else if d.state == "queued" && d.attempts > 0 {
        out.push_str("  <p class=\"muted delivery-waiting\">");
        e(
            out,
            &t(lang, "delivery.retrying", &[("n", d.attempts.to_string())]),
        );
        answer(out);
        out.push_str("</p>\n");
    }
}

/// The entry's attachment list, then thumbnails of the images among them.
fn attachments(out: &mut String, listed: &[&AttachmentMeta]) {
    out.push_str("  <ul class=\"attachments\">\n    ");
    for a in listed {
        let _ = write!(
            out,
            "<li><a href=\"/attachments/{}\" download><span class=\"i i-clip\" \
             aria-hidden=\"true\"></span> <span dir=\"auto\">",
            a.id
        );
        e(out, &a.filename);
        out.push_str("</span></a> <small>");
        e(out, &filesize_text(a.size as f64));
        out.push_str("</small></li>");
    }
    out.push_str("\n  </ul>\n");
    let mut images = listed
        .iter()
        .filter(|a| is_safe_inline_image(&a.mime_type))
        .peekable();
    if images.peek().is_some() {
        out.push_str("  <div class=\"thumbs\">");
        for a in images {
            let _ = write!(
                out,
                "<a href=\"/attachments/{id}?inline=true\" target=\"_blank\" rel=\"noopener\">\
                 <img src=\"/attachments/{id}?inline=true\" alt=\"",
                id = a.id
            );
            e(out, &a.filename);
            out.push_str("\" loading=\"lazy\"></a>");
        }
        out.push_str("</div>\n");
    }
}

/// The customer box: name, addresses, since when, how many tickets, and
/// the other tickets the viewer may open.
pub fn customer(out: &mut String, c: &CustomerPanel, statuses: &mut StatusLabels<'_>, lang: &str) {
    out.push_str("<section class=\"box customer\">\n    <h2>");
    e(out, lookup(lang, "ticket.customer"));
    out.push_str("</h2>\n    <p><strong dir=\"auto\">");
    if c.name.is_empty() {
        out.push('—');
    } else {
        e(out, &c.name);
    }
    out.push_str("</strong></p>\n    <ul class=\"plain\">");
    for m in &c.emails {
        out.push_str("<li dir=\"auto\">");
        e(out, m);
        out.push_str("</li>");
    }
    out.push_str("</ul>\n    <p class=\"muted\">");
    let since = crate::display::datetime(c.created_at);
    e(out, &t(lang, "ticket.customer_since", &[("date", since)]));
    out.push_str(" · ");
    e(
        out,
        &t(
            lang,
            "ticket.customer_tickets",
            &[("n", c.ticket_count.to_string())],
        ),
    );
    out.push_str("</p>\n");
    if !c.other_tickets.is_empty() {
        out.push_str("    <h3>");
        e(out, lookup(lang, "ticket.other_tickets"));
        out.push_str("</h3>\n    <ul class=\"plain others\">\n      ");
        for o in &c.other_tickets {
            let _ = write!(
                out,
                "<li><a href=\"/tickets/{}\"><span class=\"num\">#",
                o.id
            );
            e(out, &o.number);
            out.push_str("</span> <span dir=\"auto\">");
            e(out, &o.subject);
            out.push_str("</span></a> ");
            statuses.badge(out, &o.status, o.status_id);
            out.push_str("</li>");
        }
        out.push_str("\n    </ul>\n");
    }
    out.push_str("  </section>\n");
}

/// The history list's items, oldest first: who did what, when.
pub fn history(out: &mut String, events: &[EventRow], lang: &str) {
    if events.is_empty() {
        out.push_str("<li class=\"muted\">—</li>\n");
        return;
    }
    for ev in events {
        out.push_str("<li><span class=\"muted\">");
        e(out, &crate::display::datetime(ev.created_at));
        out.push_str("</span> <span dir=\"auto\">");
        e(out, &ev.actor);
        out.push_str("</span>: ");
        e(out, lookup(lang, &format!("event.{}", ev.kind)));
        let field = |name: &str| text_of(ev.data.get(name));
        match ev.kind.as_str() {
            "status_changed" => {
                out.push_str(" (");
                e(out, lookup(lang, &format!("status.{}", field("from"))));
                out.push_str(" → ");
                e(out, lookup(lang, &format!("status.{}", field("to"))));
                out.push(')');
            }
            "tags_changed" => {
                out.push_str(" <span dir=\"auto\">");
                for (sign, list) in [("+", "added"), ("−", "removed")] {
                    for tag in ev
                        .data
                        .get(list)
                        .and_then(|l| l.as_array())
                        .into_iter()
                        .flatten()
                    {
                        out.push_str(sign);
                        e(out, &text_of(Some(tag)));
                        out.push(' ');
                    }
                }
                out.push_str("</span>");
            }
            "mail_withdrawn" => {
                let n = ev
                    .data
                    .get("mails")
                    .and_then(|m| m.as_array())
                    .map_or(0, Vec::len);
                let _ = write!(out, " ({n})");
            }
            "status_label_changed" => {
                out.push_str(" (<span dir=\"auto\">");
                e(out, &field("from"));
                out.push_str("</span> → <span dir=\"auto\">");
                e(out, &field("to"));
                out.push_str("</span>)");
            }
            _ => {}
        }
        out.push_str("</li>\n");
    }
}

/// A value of an event's data as text: a string as it is, anything else
/// as JSON, nothing when it is missing.
fn text_of(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttachmentId, CustomerId, EntryId};
    use crate::store::ticket_page::OtherTicket;

    fn entry(kind: &str, name: &str, email: Option<&str>) -> ThreadEntry {
        ThreadEntry {
            id: EntryId(7),
            kind: kind.into(),
            staff_id: None,
            author_name: name.into(),
            author_email: email.map(Into::into),
            body_text: "<script>x</script> سلام".into(),
            body_html: None,
            is_auto_reply: false,
            created_at: 1_700_000_000,
            attachments: Vec::new(),
        }
    }

    fn view() -> ThreadView<'static> {
        ThreadView {
            ticket: TicketId(3),
            lang: "en",
            csrf: "tok\"en",
            can_reply: true,
            zone: "UTC",
        }
    }

    fn delivery(state: &str, attempts: i64) -> OutboxRow {
        OutboxRow {
            id: 11,
            kind: "reply".into(),
            ticket_id: Some(TicketId(3)),
            entry_id: Some(EntryId(7)),
            message_id: "<m@x>".into(),
            envelope_from: "desk@x".into(),
            recipients: vec!["a@x".into(), "b<@x".into()],
            subject: "s".into(),
            state: state.into(),
            attempts,
            next_attempt_at: 0,
            lease_until: None,
            last_answer: Some("550 <no>".into()),
            created_at: 0,
            sent_at: None,
            size: 0,
        }
    }

    #[test]
    fn an_entry_escapes_its_text_and_marks_its_kind() {
        let mut out = String::new();
        thread(
            &mut out,
            &[entry("note", "Ann <A>", Some("ann@x"))],
            &[],
            &view(),
        );
        assert!(out.contains("<article class=\"entry kind-note\" id=\"entry-7\">"));
        assert!(out.contains("i-lock"));
        assert!(out.contains(
            "<strong dir=\"auto\">Ann &lt;A&gt;</strong> <small dir=\"auto\">&lt;ann@x&gt;</small>"
        ));
        assert!(out.contains("&lt;script&gt;x&lt;&#x2F;script&gt; سلام"));
        assert!(!out.contains("<script>"));
        let label = format!(
            "<span class=\"kindlabel\">{}</span>",
            lookup("en", "entry.note")
        );
        assert!(out.contains(&label), "{out}");
    }

    #[test]
    fn a_nameless_author_shows_the_address_once() {
        let mut out = String::new();
        thread(&mut out, &[entry("message", "", Some("c@x"))], &[], &view());
        assert!(out.contains("<strong dir=\"auto\">c@x</strong>"));
        assert!(!out.contains("<small"));
        assert!(out.contains("i-mail"));
    }

    #[test]
    fn html_bodies_are_sanitised_and_empty_ones_fall_back_to_text() {
        let mut en = entry("message", "C", None);
        en.body_html = Some("<p onclick=\"x()\">Hi<script>bad()</script></p>".into());
        let mut out = String::new();
        thread(&mut out, &[en.clone()], &[], &view());
        assert!(out.contains("<div class=\"body html\" dir=\"auto\"><p>Hi</p></div>"));
        en.body_html = Some("<script>only()</script>".into());
        out.clear();
        thread(&mut out, &[en], &[], &view());
        assert!(out.contains("<div class=\"body text\""));
    }

    #[test]
    fn a_failed_delivery_offers_a_retry_with_the_token() {
        let mut out = String::new();
        let failed = delivery("failed", 3);
        thread(
            &mut out,
            &[entry("response", "Me", None)],
            &[failed],
            &view(),
        );
        assert!(out.contains("badge delivery d-failed danger"));
        assert!(out.contains("title=\"a@x, b&lt;@x\""));
        assert!(out.contains("action=\"/tickets/3/deliveries/11/retry\""));
        assert!(out.contains("value=\"tok&quot;en\""));
        assert!(out.contains("<span dir=\"auto\">550 &lt;no&gt;</span>"));
        let mut no_reply = view();
        no_reply.can_reply = false;
        out.clear();
        thread(
            &mut out,
            &[entry("response", "Me", None)],
            &[delivery("failed", 3)],
            &no_reply,
        );
        assert!(out.contains("delivery-failed"));
        assert!(!out.contains("/retry"));
        out.clear();
        thread(
            &mut out,
            &[entry("response", "Me", None)],
            &[delivery("queued", 2)],
            &view(),
        );
        assert!(out.contains("delivery-waiting"));
        out.clear();
        thread(
            &mut out,
            &[entry("response", "Me", None)],
            &[delivery("queued", 0)],
            &view(),
        );
        assert!(!out.contains("delivery-waiting"));
    }

    #[test]
    fn attachments_are_listed_and_images_shown() {
        let mut en = entry("message", "C", None);
        let meta = |id, name: &str, mime: &str, inline| AttachmentMeta {
            id: AttachmentId(id),
            entry_id: EntryId(7),
            filename: name.into(),
            mime_type: mime.into(),
            size: 2048,
            inline,
            content_id: inline.then(|| "cid1".to_string()),
        };
        en.attachments = vec![
            meta(1, "a\".pdf", "application/pdf", false),
            meta(2, "p.png", "image/png", false),
        ];
        let mut out = String::new();
        thread(&mut out, &[en], &[], &view());
        assert!(out.contains("<a href=\"/attachments/1\" download>"));
        assert!(out.contains("a&quot;.pdf"));
        assert!(out.contains("<small>2 KB</small>"));
        assert!(out.contains("<img src=\"/attachments/2?inline=true\" alt=\"p.png\""));
        assert!(!out.contains("<img src=\"/attachments/1"));
    }

    #[test]
    fn the_customer_box_lists_other_tickets() {
        let panel = CustomerPanel {
            id: CustomerId(1),
            name: String::new(),
            emails: vec!["x@y".into()],
            created_at: 1_700_000_000,
            ticket_count: 2,
            other_tickets: vec![OtherTicket {
                id: TicketId(9),
                number: "123".into(),
                subject: "<b>".into(),
                status: "closed".into(),
                status_id: None,
            }],
        };
        let mut out = String::new();
        customer(&mut out, &panel, &mut StatusLabels::new(&[], "en"), "en");
        assert!(out.contains("<strong dir=\"auto\">—</strong>"));
        assert!(out.contains("<li dir=\"auto\">x@y</li>"));
        assert!(out.contains("<a href=\"/tickets/9\"><span class=\"num\">#123</span> <span dir=\"auto\">&lt;b&gt;</span></a>"));
        assert!(out.contains("<span class=\"status s-closed\">Closed</span>"));
    }

    #[test]
    fn history_names_changes() {
        let ev = |kind: &str, data: serde_json::Value| EventRow {
            kind: kind.into(),
            actor: "Ann".into(),
            data,
            created_at: 1_700_000_000,
        };
        let mut out = String::new();
        history(
            &mut out,
            &[
                ev(
                    "status_changed",
                    serde_json::json!({"from": "open", "to": "closed"}),
                ),
                ev(
                    "tags_changed",
                    serde_json::json!({"added": ["vip"], "removed": ["<x>"]}),
                ),
                ev("mail_withdrawn", serde_json::json!({"mails": [1, 2]})),
                ev(
                    "status_label_changed",
                    serde_json::json!({"from": "A", "to": "B"}),
                ),
                ev("unknown_kind", serde_json::Value::Null),
            ],
            "en",
        );
        assert!(out.contains("(Open → Closed)"));
        assert!(out.contains("+vip −&lt;x&gt; "));
        assert!(out.contains(" (2)"));
        assert!(out.contains("(<span dir=\"auto\">A</span> → <span dir=\"auto\">B</span>)"));
        assert_eq!(out.matches("<li>").count(), 5);
        out.clear();
        history(&mut out, &[], "en");
        assert_eq!(out, "<li class=\"muted\">—</li>\n");
    }

    #[test]
    fn a_kept_body_is_used_only_for_the_same_source() {
        let mut en = entry("message", "C", None);
        en.id = EntryId(987_654_321);
        en.body_html = Some("<p>first</p>".into());
        let mut out = String::new();
        thread(&mut out, &[en.clone()], &[], &view());
        assert!(out.contains("<p>first</p>"));
        // The same id given to another entry after a deletion.
        en.body_html = Some("<p>second<script>x()</script></p>".into());
        out.clear();
        thread(&mut out, &[en.clone()], &[], &view());
        assert!(out.contains("<p>second</p>"), "{out}");
        assert!(!out.contains("first"));
        // Its image now points at another attachment.
        en.body_html = Some("<img src=\"cid:logo\">".into());
        let mut with = |id| {
            en.attachments = vec![AttachmentMeta {
                id: AttachmentId(id),
                entry_id: en.id,
                filename: "l.png".into(),
                mime_type: "image/png".into(),
                size: 1,
                inline: true,
                content_id: Some("<logo>".into()),
            }];
            let mut out = String::new();
            thread(&mut out, &[en.clone()], &[], &view());
            out
        };
        assert!(with(1).contains("/attachments/1?inline=true"));
        assert!(with(2).contains("/attachments/2?inline=true"));
        forget_sanitised();
        assert!(with(2).contains("/attachments/2?inline=true"));
    }
}
