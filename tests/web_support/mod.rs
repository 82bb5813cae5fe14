//! Shared setup for the staff UI route tests: a helpdesk on a temp-dir
//! SQLite file, signed-in local clients and form helpers.
#![allow(dead_code)]

use rocket::http::{ContentType, Status};
use rocket::local::blocking::{Client, LocalResponse};

use oxidesk::config::Config;
use oxidesk::model::{DepartmentId, Source, StaffId, TicketId};
use oxidesk::store::{staff, Store, StoreOptions};
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::{self, Body, NewAttachment, NewTicket};
use oxidesk::web::auth;

pub const PW: &str = "correct horse battery";

pub struct Desk {
    pub _dir: tempfile::TempDir,
    pub store: Store,
    pub admin: StaffId,
    pub alice: StaffId,
    pub bob: StaffId,
    pub sales: DepartmentId,
    pub ticket: TicketId,
    pub other: TicketId,
    pub attachment: i64,
}

pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A helpdesk with an admin, Alice (Support), Bob (Sales only) and two
/// Support tickets from one customer, the first with an image attachment.
pub fn desk() -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreOptions::new(dir.path().join("desk.db"))).unwrap();
    let hash = auth::hash_password(PW).unwrap();
    let conn = store.conn().unwrap();
    let admin = staff::create(&conn, "admin@desk.test", "Ada Admin", &hash, true, false).unwrap();
    let alice = staff::create(&conn, "alice@desk.test", "Alice", &hash, false, false).unwrap();
    let bob = staff::create(&conn, "bob@desk.test", "Bob", &hash, false, false).unwrap();
    let sales = staff::create_department(&conn, "Sales").unwrap();
    staff::set_membership(&conn, alice, DepartmentId(1), true).unwrap();
    staff::set_membership(&conn, bob, sales, true).unwrap();
    drop(conn);
    let mut new = NewTicket::new(
        Source::Email,
        "customer@example.com",
        "Kamran Customer",
        "Printer on fire",
        Body::text("The printer is on fire. سلام"),
    );
    new.attachments.push(NewAttachment {
        filename: "photo.png".into(),
        mime_type: "image/png".into(),
        data: b"\x89PNG\r\n\x1a\nfake".to_vec(),
        inline: false,
        content_id: None,
    });
    let ticket = tickets::open(&store, &Actor::System, new).unwrap().ticket;
    let other = tickets::open(
        &store,
        &Actor::System,
        NewTicket::new(
            Source::Email,
            "customer@example.com",
            "Kamran Customer",
            "Second question",
            Body::text("Another thing about invoices"),
        ),
    )
    .unwrap()
    .ticket;
    let conn = store.conn().unwrap();
    let attachment: i64 = conn
        .query_row(
            "SELECT a.id FROM attachments a JOIN entries e ON e.id = a.entry_id WHERE e.ticket_id = ?1",
            [ticket.0],
            |r| r.get(0),
        )
        .unwrap();
    Desk {
        _dir: dir,
        store,
        admin,
        alice,
        bob,
        sales,
        ticket,
        other,
        attachment,
    }
}

pub fn client(d: &Desk) -> Client {
    let rocket = oxidesk::web::build(d.store.clone(), Config::default()).unwrap();
    Client::tracked(rocket).unwrap()
}

pub fn pre_csrf(c: &Client) -> String {
    c.get("/login").dispatch();
    let pre = c
        .cookies()
        .get(auth::PRE_COOKIE)
        .unwrap()
        .value()
        .to_string();
    auth::csrf_for(&pre)
}

pub fn try_login<'c>(c: &'c Client, email: &str, password: &str) -> LocalResponse<'c> {
    let csrf = pre_csrf(c);
    c.post("/login")
        .header(ContentType::Form)
        .body(format!(
            "_csrf={csrf}&email={}&password={}",
            enc(email),
            enc(password)
        ))
        .dispatch()
}

pub fn login(d: &Desk, email: &str) -> Client {
    let c = client(d);
    let r = try_login(&c, email, PW);
    assert_eq!(r.status(), Status::SeeOther, "login of {email}");
    drop(r);
    c
}

pub fn csrf(c: &Client) -> String {
    auth::csrf_for(c.cookies().get(auth::SESSION_COOKIE).unwrap().value())
}

pub fn post_form<'c>(c: &'c Client, url: &str, body: &str) -> LocalResponse<'c> {
    let token = csrf(c);
    let body = if body.is_empty() {
        format!("_csrf={token}")
    } else {
        format!("_csrf={token}&{body}")
    };
    c.post(url.to_string())
        .header(ContentType::Form)
        .body(body)
        .dispatch()
}

/// A multipart body: `_csrf` first, then fields, then files.
pub fn multipart(
    token: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> (ContentType, Vec<u8>) {
    let b = "XoXoBoundary7";
    let mut out = Vec::new();
    let mut field = |name: &str, value: &str| {
        out.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    };
    field("_csrf", token);
    for (n, v) in fields {
        field(n, v);
    }
    for (name, filename, data) in files {
        out.extend_from_slice(
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    (
        ContentType::new("multipart", "form-data").with_params(("boundary", b)),
        out,
    )
}

/// Reply to `ticket` as the signed-in `c`, having read the thread up to its
/// last entry (so no "changed since" warning), with `files` attached.
pub fn reply<'c>(
    d: &Desk,
    c: &'c Client,
    ticket: impl std::fmt::Display,
    text: &str,
    files: &[(&str, &str, &[u8])],
) -> LocalResponse<'c> {
    let seen: i64 = q(
        d,
        &format!("SELECT MAX(id) FROM entries WHERE ticket_id = {ticket}"),
    );
    let (ct, data) = multipart(
        &csrf(c),
        &[("body", text), ("seen", &seen.to_string())],
        files,
    );
    c.post(format!("/tickets/{ticket}/reply"))
        .header(ct)
        .body(data)
        .dispatch()
}

pub fn body(r: LocalResponse<'_>) -> String {
    r.into_string().unwrap_or_default()
}

pub fn q<T: rusqlite::types::FromSql>(d: &Desk, sql: &str) -> T {
    d.store
        .conn()
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}
