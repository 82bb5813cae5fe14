//! Helpers shared by the portal access tests: CSRF tokens for signed-out
//! browsers, access links, queued mail, a second customer, accounts.
#![allow(dead_code)]

use rocket::http::{ContentType, Status};
use rocket::local::blocking::Client;

use oxidesk::model::{Source, TicketId};
use oxidesk::store;
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::{self, links, Body, NewAttachment, NewTicket};
use oxidesk::web::auth;

use super::web_support::*;

pub const PASSWORD: &str = "a long enough secret";

/// The CSRF token of a signed-out browser (after it saw a portal page).
pub fn pcsrf(c: &Client) -> String {
    c.get("/portal/status").dispatch();
    let pre = c
        .cookies()
        .get(auth::PRE_COOKIE)
        .expect("a pre-session cookie")
        .value()
        .to_string();
    auth::csrf_for(&pre)
}

pub fn ppost<'c>(
    c: &'c Client,
    url: &str,
    body: &str,
) -> rocket::local::blocking::LocalResponse<'c> {
    let token = pcsrf(c);
    c.post(url.to_string())
        .header(ContentType::Form)
        .body(format!("_csrf={token}&{body}"))
        .dispatch()
}

pub fn number_of(d: &Desk, t: TicketId) -> String {
    q(d, &format!("SELECT number FROM tickets WHERE id = {}", t.0))
}

pub fn link_for(d: &Desk, t: TicketId, email: &str, expires: i64) -> String {
    let conn = d.store.conn().unwrap();
    let secret = links::secret(&conn, "").unwrap();
    let token = links::sign(&secret, t, email, expires);
    format!("/portal/tickets/{}?t={token}", number_of(d, t))
}

/// Open the portal with an access link; returns the client holding the
/// grant.
pub fn with_link(d: &Desk, t: TicketId) -> Client {
    let c = client(d);
    let r = c
        .get(link_for(d, t, "customer@example.com", store::now() + 3600))
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        r.headers().get_one("Location").unwrap(),
        format!("/portal/tickets/{}", number_of(d, t))
    );
    drop(r);
    c
}

/// The text parts of a queued mail, decoded.
pub fn mail_text(raw: &[u8]) -> String {
    fn walk(p: &mailparse::ParsedMail<'_>, out: &mut String) {
        if p.subparts.is_empty() {
            if p.ctype.mimetype == "text/plain" {
                out.push_str(&p.get_body().unwrap_or_default());
            }
        } else {
            for s in &p.subparts {
                walk(s, out);
            }
        }
    }
    let parsed = mailparse::parse_mail(raw).unwrap();
    let mut out = String::new();
    walk(&parsed, &mut out);
    out
}

/// The newest queued mail of `kind` to `to`: its decoded text.
pub fn last_mail(d: &Desk, kind: &str, to: &str) -> Option<String> {
    let conn = d.store.conn().unwrap();
    conn.query_row(
        "SELECT raw FROM outbox WHERE kind = ?1 AND recipients = ?2 ORDER BY id DESC LIMIT 1",
        [kind, to],
        |r| r.get::<_, Vec<u8>>(0),
    )
    .ok()
    .map(|raw| mail_text(&raw))
}

/// The bytes of the mail of `kind` queued about `ticket`; a mail the outbox
/// worker renders when it sends it is rendered here the same way.
pub fn queued_mail(d: &Desk, kind: &str, ticket: TicketId) -> Vec<u8> {
    let conn = d.store.conn().unwrap();
    let mail = conn
        .query_row(
            "SELECT id, envelope_from, raw, kind, entry_id, message_id, render FROM outbox
             WHERE kind = ?1 AND ticket_id = ?2 ORDER BY id LIMIT 1",
            rusqlite::params![kind, ticket.0],
            |r| {
                Ok(store::outbox::ClaimedMail {
                    id: r.get(0)?,
                    claim: String::new(),
                    envelope_from: r.get(1)?,
                    recipients: Vec::new(),
                    raw: r.get(2)?,
                    attempts: 0,
                    queued_at: 0,
                    kind: r.get(3)?,
                    ticket: Some(ticket),
                    entry: r.get(4)?,
                    message_id: r.get(5)?,
                    render: r.get(6)?,
                })
            },
        )
        .unwrap_or_else(|e| panic!("no {kind} mail queued about ticket {ticket}: {e}"));
    match mail.render {
        Some(_) => {
            oxidesk::mail::send::deferred::render(&conn, &mail)
                .unwrap()
                .built
                .raw
        }
        None => mail.raw,
    }
}

pub fn mails(d: &Desk, kind: &str) -> i64 {
    q(
        d,
        &format!("SELECT COUNT(*) FROM outbox WHERE kind = '{kind}'"),
    )
}

/// The first URL in `text` containing `part`, as a local path.
pub fn path_in(text: &str, part: &str) -> String {
    let url = text
        .split_whitespace()
        .find(|w| w.contains(part))
        .unwrap_or_else(|| panic!("no {part} link in {text}"));
    let at = url.find("/portal/").unwrap();
    url[at..].to_string()
}

/// A second customer with a ticket carrying an attachment.
pub fn ticket_of_b(d: &Desk) -> (TicketId, i64) {
    let mut new = NewTicket::new(
        Source::Email,
        "bahar@other.example",
        "Bahar Other",
        "B's private matter",
        Body::text("Only B may read this."),
    );
    new.attachments.push(NewAttachment {
        filename: "contract-b.pdf".into(),
        mime_type: "application/pdf".into(),
        data: b"%PDF-1.4 B".to_vec(),
        inline: false,
        content_id: None,
    });
    let t = tickets::open(&d.store, &Actor::System, new).unwrap().ticket;
    let att: i64 = q(
        d,
        &format!(
            "SELECT a.id FROM attachments a JOIN entries e ON e.id = a.entry_id WHERE e.ticket_id = {}",
            t.0
        ),
    );
    (t, att)
}

pub fn register<'c>(
    c: &'c Client,
    name: &str,
    email: &str,
    pw: &str,
    pw2: &str,
) -> rocket::local::blocking::LocalResponse<'c> {
    ppost(
        c,
        "/portal/register",
        &format!(
            "name={}&email={}&password={}&password2={}",
            enc(name),
            enc(email),
            enc(pw),
            enc(pw2)
        ),
    )
}

pub fn login_portal<'c>(
    c: &'c Client,
    email: &str,
    pw: &str,
) -> rocket::local::blocking::LocalResponse<'c> {
    ppost(
        c,
        "/portal/login",
        &format!(
            "email={}&password={}&next=%2Fportal%2Ftickets",
            enc(email),
            enc(pw)
        ),
    )
}

/// Register, verify through the mailed link and sign in.
pub fn signed_in(d: &Desk, name: &str, email: &str) -> Client {
    let c = client(d);
    assert_eq!(
        register(&c, name, email, PASSWORD, PASSWORD).status(),
        Status::Ok
    );
    let text = last_mail(d, "account_verify", email).expect("a verification mail");
    let r = c.get(path_in(&text, "/portal/verify")).dispatch();
    assert_eq!(r.status(), Status::Ok);
    drop(r);
    let r = login_portal(&c, email, PASSWORD);
    let status = r.status();
    let page = body(r);
    assert_eq!(status, Status::SeeOther, "{page}");
    c
}
