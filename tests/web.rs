//! Route tests for the staff UI: Rocket's local client on the same builder
//! `oxidesk serve` uses, over a real SQLite file in a temp dir.

use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::{Client, LocalResponse};

use oxidesk::config::Config;
use oxidesk::model::{DepartmentId, Source, StaffId, TicketId};
use oxidesk::store::{self, staff, Store, StoreOptions};
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::{self, Body, NewAttachment, NewTicket};
use oxidesk::web::auth;

const PW: &str = "correct horse battery";

struct Desk {
    _dir: tempfile::TempDir,
    store: Store,
    admin: StaffId,
    alice: StaffId,
    bob: StaffId,
    sales: DepartmentId,
    ticket: TicketId,
    other: TicketId,
    attachment: i64,
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A helpdesk with an admin, Alice (Support), Bob (Sales only) and two
/// Support tickets from one customer, the first with an image attachment.
fn desk() -> Desk {
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

fn client(d: &Desk) -> Client {
    let rocket = oxidesk::web::build(d.store.clone(), Config::default()).unwrap();
    Client::tracked(rocket).unwrap()
}

fn pre_csrf(c: &Client) -> String {
    c.get("/login").dispatch();
    let pre = c
        .cookies()
        .get(auth::PRE_COOKIE)
        .unwrap()
        .value()
        .to_string();
    auth::csrf_for(&pre)
}

fn try_login<'c>(c: &'c Client, email: &str, password: &str) -> LocalResponse<'c> {
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

fn login(d: &Desk, email: &str) -> Client {
    let c = client(d);
    let r = try_login(&c, email, PW);
    assert_eq!(r.status(), Status::SeeOther, "login of {email}");
    drop(r);
    c
}

fn csrf(c: &Client) -> String {
    auth::csrf_for(c.cookies().get(auth::SESSION_COOKIE).unwrap().value())
}

fn post_form<'c>(c: &'c Client, url: &str, body: &str) -> LocalResponse<'c> {
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
fn multipart(
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

fn body(r: LocalResponse<'_>) -> String {
    r.into_string().unwrap_or_default()
}

fn q<T: rusqlite::types::FromSql>(d: &Desk, sql: &str) -> T {
    d.store
        .conn()
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn healthz_reports_the_schema() {
    let d = desk();
    let c = client(&d);
    let r = c.get("/healthz").dispatch();
    assert_eq!(r.status(), Status::Ok);
    let v: serde_json::Value = serde_json::from_str(&body(r)).unwrap();
    assert_eq!(v["database"], "ok");
    assert_eq!(v["migrations_current"], true);
    assert!(v["schema_version"].as_u64().unwrap() >= 2);
    assert_eq!(v["outbox_depth"], 0);
}

#[test]
fn signed_out_requests_go_to_login() {
    let d = desk();
    let c = client(&d);
    for url in [
        "/".to_string(),
        "/queues/open".into(),
        format!("/tickets/{}", d.ticket),
        format!("/attachments/{}", d.attachment),
        "/search?q=printer".into(),
        "/admin/".into(),
        "/canned".into(),
    ] {
        let r = c.get(url.clone()).dispatch();
        assert_eq!(r.status(), Status::SeeOther, "{url}");
        let loc = r.headers().get_one("Location").unwrap();
        assert!(loc.starts_with("/login"), "{url} → {loc}");
    }
    // A signed-out POST with a valid pre-session token still gets nowhere.
    let token = pre_csrf(&c);
    let r = c
        .post(format!("/tickets/{}/note", d.ticket))
        .header(ContentType::Form)
        .body(format!("_csrf={token}&body=x"))
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM entries WHERE kind = 'note'"),
        0
    );
}

#[test]
fn login_sets_a_strict_cookie_and_logout_ends_the_session() {
    let d = desk();
    let c = client(&d);
    let r = try_login(&c, "alice@desk.test", PW);
    assert_eq!(r.status(), Status::SeeOther);
    let set = r
        .headers()
        .get("Set-Cookie")
        .find(|v| v.starts_with(auth::SESSION_COOKIE))
        .unwrap()
        .to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(!set.contains("Secure"), "plain http: {set}");
    drop(r);
    // Only the token's hash is stored.
    let token = c
        .cookies()
        .get(auth::SESSION_COOKIE)
        .unwrap()
        .value()
        .to_string();
    let stored: String = q(&d, "SELECT token_hash FROM staff_sessions");
    assert_eq!(stored, auth::sha256_hex(&token));
    assert_eq!(c.get("/queues/open").dispatch().status(), Status::Ok);
    assert_eq!(post_form(&c, "/logout", "").status(), Status::SeeOther);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM staff_sessions"), 0);
    assert_eq!(c.get("/queues/open").dispatch().status(), Status::SeeOther);
}

#[test]
fn secure_cookie_behind_a_trusted_https_proxy() {
    let d = desk();
    let mut config = Config::default();
    config.server.trusted_proxies = vec!["127.0.0.1".into()];
    let c = Client::tracked(oxidesk::web::build(d.store.clone(), config).unwrap()).unwrap();
    let token = pre_csrf(&c);
    let r = c
        .post("/login")
        .header(ContentType::Form)
        .header(Header::new("X-Forwarded-Proto", "https"))
        .remote("127.0.0.1:5000".parse().unwrap())
        .body(format!(
            "_csrf={token}&email=alice%40desk.test&password={}",
            enc(PW)
        ))
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let set = r.headers().get("Set-Cookie").collect::<Vec<_>>().join("\n");
    assert!(set.contains("Secure"), "{set}");
}

#[test]
fn wrong_passwords_are_throttled_per_account() {
    let d = desk();
    let c = client(&d);
    for _ in 0..5 {
        let r = try_login(&c, "alice@desk.test", "wrong password!");
        assert_eq!(r.status(), Status::Unauthorized);
    }
    // Now even the right password waits.
    let r = try_login(&c, "alice@desk.test", PW);
    assert_eq!(r.status(), Status::TooManyRequests);
    assert!(body(r).contains("Too many failed attempts"));
    // Another account from the same address is not locked yet.
    let r = try_login(&c, "bob@desk.test", PW);
    assert_eq!(r.status(), Status::SeeOther);
}

#[test]
fn wrong_passwords_are_throttled_per_address() {
    let d = desk();
    let c = client(&d);
    for i in 0..20 {
        let r = try_login(&c, &format!("nobody{i}@desk.test"), "wrong password!");
        assert_eq!(r.status(), Status::Unauthorized);
    }
    let r = try_login(&c, "alice@desk.test", PW);
    assert_eq!(r.status(), Status::TooManyRequests);
}

#[test]
fn posts_without_a_valid_csrf_token_are_rejected() {
    let d = desk();
    let c = login(&d, "alice@desk.test");
    let url = format!("/tickets/{}/note", d.ticket);
    // Missing.
    let r = c
        .post(url.clone())
        .header(ContentType::Form)
        .body("body=hi")
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // Wrong.
    let r = c
        .post(url.clone())
        .header(ContentType::Form)
        .body(format!("_csrf={}&body=hi", "0".repeat(64)))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // Another browser's token.
    let other = login(&d, "admin@desk.test");
    let r = c
        .post(url.clone())
        .header(ContentType::Form)
        .body(format!("_csrf={}&body=hi", csrf(&other)))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // Multipart without the token, and JSON endpoints without the header.
    let (ct, data) = multipart("bogus", &[("body", "hi")], &[]);
    let r = c
        .post(format!("/tickets/{}/reply", d.ticket))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    let r = c.post(format!("/tickets/{}/lock", d.ticket)).dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // Sign-in itself needs the pre-session token.
    let fresh = client(&d);
    let r = fresh
        .post("/login")
        .header(ContentType::Form)
        .body(format!("email=alice%40desk.test&password={}", enc(PW)))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM entries WHERE kind = 'note'"),
        0
    );
    // The right token works, in the body or as a header.
    assert_eq!(post_form(&c, &url, "body=hi").status(), Status::SeeOther);
    let r = c
        .post(format!("/tickets/{}/lock", d.ticket))
        .header(Header::new("X-CSRF-Token", csrf(&c)))
        .dispatch();
    assert_eq!(r.status(), Status::Ok);
}

#[test]
fn agents_outside_the_department_get_404_everywhere() {
    let d = desk();
    let bob = login(&d, "bob@desk.test");
    let t = d.ticket;
    for url in [
        format!("/tickets/{t}"),
        format!("/attachments/{}", d.attachment),
        format!("/attachments/{}?inline=true", d.attachment),
        format!("/tickets/{t}/state"),
        "/departments/1".to_string(),
    ] {
        assert_eq!(
            bob.get(url.clone()).dispatch().status(),
            Status::NotFound,
            "GET {url}"
        );
    }
    let actions = [
        ("note", "body=sneaky".to_string()),
        ("assign", format!("assignee={}", d.bob)),
        ("transfer", format!("department={}", d.sales)),
        ("status", "status=closed".into()),
        ("priority", "priority=4".into()),
        ("due", "due=2030-01-01T10:00".into()),
        ("merge", "into=000000".into()),
        ("spam", "ban=true".into()),
        ("lock", String::new()),
        ("unlock", String::new()),
    ];
    for (action, form) in actions {
        let r = post_form(&bob, &format!("/tickets/{t}/{action}"), &form);
        assert_eq!(r.status(), Status::NotFound, "POST {action}");
    }
    let (ct, data) = multipart(&csrf(&bob), &[("body", "sneaky")], &[]);
    let r = bob
        .post(format!("/tickets/{t}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::NotFound);
    let r = post_form(
        &bob,
        "/queues/bulk",
        &format!("ids={t}&action=status&value=closed"),
    );
    assert_eq!(r.status(), Status::NotFound);
    // Nothing changed.
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM entries WHERE kind != 'message'"),
        0
    );
    let status: String = q(&d, &format!("SELECT status FROM tickets WHERE id = {t}"));
    assert_eq!(status, "open");
    // Queues, counts and search do not show it either.
    let page = body(bob.get("/queues/open").dispatch());
    assert!(!page.contains("Printer on fire"));
    let page = body(bob.get("/search?q=printer").dispatch());
    assert!(!page.contains("Printer on fire"));
    // A ticket number Bob cannot see does not jump to it.
    let number: String = q(&d, &format!("SELECT number FROM tickets WHERE id = {t}"));
    let r = bob.get(format!("/search?q={number}")).dispatch();
    assert_eq!(r.status(), Status::Ok);
    // Alice (Support) and the admin see it.
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("Printer on fire") && page.contains("photo.png"));
    let admin = login(&d, "admin@desk.test");
    assert_eq!(
        admin.get(format!("/tickets/{t}")).dispatch().status(),
        Status::Ok
    );
    // Assigned to Bob, the ticket is his to see even outside Sales.
    tickets::assign(&d.store, &Actor::System, t, Some(d.bob)).unwrap();
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::Ok
    );
    assert_eq!(
        bob.get(format!("/attachments/{}", d.attachment))
            .dispatch()
            .status(),
        Status::Ok
    );
}

#[test]
fn admin_pages_are_for_admins() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    assert_eq!(alice.get("/admin/").dispatch().status(), Status::Forbidden);
    let r = post_form(&alice, "/admin/departments", "name=Hackers");
    assert_eq!(r.status(), Status::Forbidden);
    let admin = login(&d, "admin@desk.test");
    let r = post_form(&admin, "/admin/departments", "name=Billing");
    assert_eq!(r.status(), Status::SeeOther);
    let billing: i64 = q(&d, "SELECT id FROM departments WHERE name = 'Billing'");
    let r = post_form(
        &admin,
        "/admin/membership",
        &format!("staff={}&department={billing}&member=true", d.alice),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(
            &d,
            &format!(
                "SELECT COUNT(*) FROM staff_departments WHERE staff_id = {}",
                d.alice
            )
        ),
        2
    );
    let r = post_form(&admin, "/admin/staff", "email=carol%40desk.test&name=Carol");
    assert_eq!(r.status(), Status::Ok);
    let page = body(r);
    let start = page.find("data-one-time-password>").unwrap() + "data-one-time-password>".len();
    let password = &page[start..start + 20];
    // Carol must choose a password first.
    let carol = client(&d);
    assert_eq!(
        try_login(&carol, "carol@desk.test", password).status(),
        Status::SeeOther
    );
    let r = carol.get("/queues/open").dispatch();
    assert_eq!(r.headers().get_one("Location"), Some("/account/password"));
    let r = post_form(
        &carol,
        "/account/password",
        &format!("current={password}&new=carols+own+secret&confirm=carols+own+secret"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(carol.get("/queues/open").dispatch().status(), Status::Ok);
}

#[test]
fn first_run_creates_an_admin_who_must_change_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreOptions::new(dir.path().join("new.db"))).unwrap();
    let (email, password) = oxidesk::cli::serve::first_run_admin(&store)
        .unwrap()
        .unwrap();
    assert_eq!(email, "admin@localhost");
    assert!(oxidesk::cli::serve::first_run_admin(&store)
        .unwrap()
        .is_none());
    let c = Client::tracked(oxidesk::web::build(store, Config::default()).unwrap()).unwrap();
    assert_eq!(try_login(&c, &email, &password).status(), Status::SeeOther);
    let r = c.get("/queues/open").dispatch();
    assert_eq!(r.headers().get_one("Location"), Some("/account/password"));
}

#[test]
fn password_change_and_other_sessions() {
    let d = desk();
    let a1 = login(&d, "alice@desk.test");
    let a2 = login(&d, "alice@desk.test");
    let page = body(a1.get("/account/sessions").dispatch());
    assert_eq!(page.matches("<tr><td").count(), 2, "{page}");
    assert_eq!(
        post_form(&a1, "/account/sessions/logout-others", "").status(),
        Status::SeeOther
    );
    assert_eq!(a2.get("/queues/open").dispatch().status(), Status::SeeOther);
    assert_eq!(a1.get("/queues/open").dispatch().status(), Status::Ok);
    // Wrong current password, mismatch, too short.
    for form in [
        "current=nope+nope+nope&new=another+long+one&confirm=another+long+one",
        "current=correct+horse+battery&new=another+long+one&confirm=different+long+one",
        "current=correct+horse+battery&new=short&confirm=short",
    ] {
        assert_eq!(
            post_form(&a1, "/account/password", form).status(),
            Status::BadRequest
        );
    }
    let r = post_form(
        &a1,
        "/account/password",
        "current=correct+horse+battery&new=another+long+one&confirm=another+long+one",
    );
    assert_eq!(r.status(), Status::SeeOther);
    let fresh = client(&d);
    assert_eq!(
        try_login(&fresh, "alice@desk.test", "another long one").status(),
        Status::SeeOther
    );
}

#[test]
fn queues_counts_filters_and_search() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get("/queues/open").dispatch());
    assert!(page.contains("Printer on fire") && page.contains("Second question"));
    assert!(page.contains("lang=\"en\"") && page.contains("dir=\"ltr\""));
    assert!(page.contains("dir=\"auto\""));
    // Navigation counts: two open, both unassigned.
    let counts = oxidesk::store::queues::counts(
        &d.store.conn().unwrap(),
        oxidesk::store::queues::Scope {
            staff: d.alice,
            admin: false,
        },
    )
    .unwrap();
    assert_eq!((counts.open, counts.unassigned, counts.mine), (2, 2, 0));
    tickets::assign(&d.store, &Actor::System, d.ticket, Some(d.alice)).unwrap();
    let page = body(alice.get("/queues/mine").dispatch());
    assert!(page.contains("Printer on fire") && !page.contains("Second question"));
    let page = body(alice.get("/queues/unassigned").dispatch());
    assert!(!page.contains("Printer on fire") && page.contains("Second question"));
    // Filters and sorting.
    let page = body(
        alice
            .get(format!(
                "/queues/open?assignee={}&sort=number&dir=asc",
                d.alice
            ))
            .dispatch(),
    );
    assert!(page.contains("Printer on fire") && !page.contains("Second question"));
    let page = body(alice.get("/queues/open?priority=4").dispatch());
    assert!(!page.contains("Printer on fire"));
    let page = body(alice.get("/queues/open?source=phone").dispatch());
    assert!(!page.contains("Printer on fire"));
    assert_eq!(
        alice.get("/queues/nonsense").dispatch().status(),
        Status::NotFound
    );
    // Search highlights words in subjects, bodies and addresses.
    let page = body(alice.get("/search?q=invoices").dispatch());
    assert!(page.contains("<mark>invoices</mark>"), "{page}");
    let page = body(alice.get("/search?q=%22%3Cscript%3E").dispatch());
    assert!(!page.contains("<script>"));
    // A ticket number goes straight to the ticket.
    let number: String = q(
        &d,
        &format!("SELECT number FROM tickets WHERE id = {}", d.ticket),
    );
    let r = alice.get(format!("/search?q={number}")).dispatch();
    assert_eq!(
        r.headers().get_one("Location"),
        Some(format!("/tickets/{}", d.ticket).as_str())
    );
}

#[test]
fn reply_with_attachment_note_and_property_changes() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let t = d.ticket;
    let seen: i64 = q(
        &d,
        &format!("SELECT MAX(id) FROM entries WHERE ticket_id = {t}"),
    );
    let (ct, data) = multipart(
        &csrf(&alice),
        &[
            ("body", "We are sending a fire extinguisher."),
            ("seen", &seen.to_string()),
        ],
        &[("attachments", "manual.txt", b"pull the pin")],
    );
    let r = alice
        .post(format!("/tickets/{t}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let (kind, status): (String, String) = {
        let conn = d.store.conn().unwrap();
        conn.query_row(
            &format!("SELECT e.kind, t.status FROM entries e JOIN tickets t ON t.id = e.ticket_id WHERE t.id = {t} ORDER BY e.id DESC LIMIT 1"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!((kind.as_str(), status.as_str()), ("response", "answered"));
    let att: String = q(
        &d,
        "SELECT filename FROM attachments WHERE filename = 'manual.txt'",
    );
    assert_eq!(att, "manual.txt");
    // The new attachment downloads as an attachment, never sniffed.
    let att_id: i64 = q(
        &d,
        "SELECT id FROM attachments WHERE filename = 'manual.txt'",
    );
    let r = alice
        .get(format!("/attachments/{att_id}?inline=true"))
        .dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert!(r
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(
        r.headers().get_one("X-Content-Type-Options"),
        Some("nosniff")
    );
    assert_eq!(body(r), "pull the pin");
    // Safe images may show inline.
    let r = alice
        .get(format!("/attachments/{}?inline=true", d.attachment))
        .dispatch();
    assert!(r
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .starts_with("inline;"));
    assert_eq!(r.content_type(), Some(ContentType::PNG));

    // A reply based on a stale page is held back with the draft kept.
    let (ct, data) = multipart(
        &csrf(&alice),
        &[("body", "Stale draft"), ("seen", &seen.to_string())],
        &[],
    );
    let r = alice
        .post(format!("/tickets/{t}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::Conflict);
    assert!(body(r).contains("Stale draft"));

    assert_eq!(
        post_form(
            &alice,
            &format!("/tickets/{t}/note"),
            "body=Internal+only%3A+the+customer+is+grumpy"
        )
        .status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(
            &alice,
            &format!("/tickets/{t}/assign"),
            &format!("assignee={}", d.alice)
        )
        .status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/priority"), "priority=3").status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/due"), "due=2030-01-02T09:30").status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/status"), "status=pending").status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/status"), "status=bogus").status(),
        Status::BadRequest
    );
    let row: (i64, i64, i64, String) = d
        .store
        .conn()
        .unwrap()
        .query_row(
            &format!("SELECT assignee_id, priority_id, due_at, status FROM tickets WHERE id = {t}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(row, (d.alice.0, 3, 1893576600, "pending".to_string()));
    // The page shows the thread with the note marked, and the history.
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("kind-note") && page.contains("Internal only: the customer is grumpy"));
    assert!(page.contains("kind-response") && page.contains("manual.txt"));
    assert!(page.contains("changed the priority") && page.contains("assigned"));
    assert!(
        page.contains("Second question"),
        "customer panel lists the other ticket"
    );
    // Transfer to Sales takes it out of Alice's reach (she stays assignee,
    // so she still sees it).
    assert_eq!(
        post_form(
            &alice,
            &format!("/tickets/{t}/transfer"),
            &format!("department={}", d.sales)
        )
        .status(),
        Status::SeeOther
    );
    let dept: i64 = q(
        &d,
        &format!("SELECT department_id FROM tickets WHERE id = {t}"),
    );
    assert_eq!(dept, d.sales.0);
}

#[test]
fn internal_notes_are_never_customer_visible() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let t = d.ticket;
    post_form(
        &alice,
        &format!("/tickets/{t}/note"),
        "body=SECRET+NOTE+TEXT",
    );
    let (ct, data) = multipart(&csrf(&alice), &[("body", "Public answer")], &[]);
    alice
        .post(format!("/tickets/{t}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    let conn = d.store.conn().unwrap();
    // The note is stored as a note, and only the response produced the
    // event outbound mail sends to the customer.
    let kind: String = conn
        .query_row(
            "SELECT kind FROM entries WHERE body_text LIKE '%SECRET NOTE%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kind, "note");
    let responses: Vec<String> = {
        let mut s = conn
            .prepare("SELECT data FROM events WHERE kind = 'response_added'")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(responses.len(), 1);
    let response_entry: i64 = conn
        .query_row("SELECT id FROM entries WHERE kind = 'response'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(responses[0].contains(&format!("\"entry\":{response_entry}")));
    let public: Vec<String> = {
        let mut s = conn
            .prepare("SELECT body_text FROM entries WHERE ticket_id = ?1 AND kind != 'note'")
            .unwrap();
        s.query_map([t.0], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(public.iter().all(|b| !b.contains("SECRET")));
    // Anything already queued for the customer never carries the note.
    let outbox: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE name = 'outbox')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if outbox {
        let leaked: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE CAST(raw AS TEXT) LIKE '%SECRET NOTE%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(leaked, 0);
    }
}

#[test]
fn merge_spam_ban_and_phone_tickets() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let into_number: String = q(
        &d,
        &format!("SELECT number FROM tickets WHERE id = {}", d.other),
    );
    let r = post_form(
        &alice,
        &format!("/tickets/{}/merge", d.ticket),
        &format!("into={into_number}"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let merged: i64 = q(
        &d,
        &format!("SELECT merged_into_id FROM tickets WHERE id = {}", d.ticket),
    );
    assert_eq!(merged, d.other.0);
    let r = post_form(
        &alice,
        &format!("/tickets/{}/merge", d.other),
        "into=999999",
    );
    assert_eq!(r.status(), Status::BadRequest);

    let r = post_form(&alice, &format!("/tickets/{}/spam", d.other), "ban=true");
    assert_eq!(r.status(), Status::SeeOther);
    assert!(q::<bool>(
        &d,
        &format!("SELECT is_spam FROM tickets WHERE id = {}", d.other)
    ));
    assert!(store::bans::is_banned(&d.store.conn().unwrap(), "Customer@Example.com").unwrap());
    let page = body(alice.get("/queues/open").dispatch());
    assert!(!page.contains("Second question"), "spam leaves the queues");

    // Phone intake, in a department Alice belongs to.
    let (ct, data) = multipart(
        &csrf(&alice),
        &[
            ("email", "caller@example.org"),
            ("name", "Caller"),
            ("subject", "Called about DNS"),
            ("body", "Customer called: DNS is down."),
            ("department", "1"),
            ("priority", "3"),
        ],
        &[],
    );
    let r = alice.post("/tickets/new").header(ct).body(data).dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let source: String = q(
        &d,
        "SELECT source FROM tickets WHERE subject = 'Called about DNS'",
    );
    assert_eq!(source, "phone");
    // Not in a department she does not belong to.
    let (ct, data) = multipart(
        &csrf(&alice),
        &[
            ("email", "x@example.org"),
            ("name", "X"),
            ("subject", "Nope"),
            ("body", "x"),
            ("department", &d.sales.0.to_string()),
        ],
        &[],
    );
    assert_eq!(
        alice
            .post("/tickets/new")
            .header(ct)
            .body(data)
            .dispatch()
            .status(),
        Status::NotFound
    );
}

#[test]
fn bulk_actions_and_confirmed_delete() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let ids = format!("ids={}&ids={}", d.ticket, d.other);
    let r = post_form(
        &alice,
        "/queues/bulk",
        &format!("{ids}&action=status&value=resolved&back=%2Fqueues%2Fopen"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(r.headers().get_one("Location"), Some("/queues/open"));
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM tickets WHERE status = 'resolved'"),
        2
    );
    let r = post_form(
        &alice,
        "/queues/bulk",
        &format!("{ids}&action=assign&value={}", d.alice),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let r = post_form(
        &alice,
        "/queues/bulk",
        &format!("{ids}&action=priority&value=1"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(
            &d,
            &format!(
                "SELECT COUNT(*) FROM tickets WHERE assignee_id = {} AND priority_id = 1",
                d.alice
            )
        ),
        2
    );
    // Agents may not delete; admins confirm first.
    assert_eq!(
        post_form(&alice, "/queues/bulk", &format!("{ids}&action=delete")).status(),
        Status::Forbidden
    );
    let admin = login(&d, "admin@desk.test");
    let r = post_form(&admin, "/queues/bulk", &format!("{ids}&action=delete"));
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("Delete for good"));
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM tickets"), 2);
    let r = post_form(
        &admin,
        "/queues/bulk",
        &format!("{ids}&action=delete&confirm=true"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM tickets"), 0);
    // The counts table followed every change.
    let left: i64 = q(&d, "SELECT COALESCE(SUM(n), 0) FROM ticket_counts");
    assert_eq!(left, 0);
    let _ = d.admin;
}

#[test]
fn reply_locks_and_canned_responses() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let admin = login(&d, "admin@desk.test");
    let t = d.ticket;
    let lock = |c: &Client| {
        let r = c
            .post(format!("/tickets/{t}/lock"))
            .header(Header::new("X-CSRF-Token", csrf(c)))
            .dispatch();
        serde_json::from_str::<serde_json::Value>(&body(r)).unwrap()
    };
    let a = lock(&alice);
    assert_eq!(a["mine"], true);
    let b = lock(&admin);
    assert_eq!(b["mine"], false);
    assert_eq!(b["locked_by"], "Alice");
    assert!(body(admin.get(format!("/tickets/{t}")).dispatch()).contains("Alice is replying"));
    // Released: the admin may take it.
    alice
        .post(format!("/tickets/{t}/unlock"))
        .header(Header::new("X-CSRF-Token", csrf(&alice)))
        .dispatch();
    assert_eq!(lock(&admin)["mine"], true);

    // Canned responses: personal and shared, with variables filled in.
    let r = post_form(&alice, "/canned", "title=Greeting&body=Hello+%7Bcustomer_name%7D%2C+about+%23%7Bticket_number%7D.+%E2%80%94+%7Bagent_name%7D");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        post_form(&alice, "/canned", "title=Shared&body=x&shared=true").status(),
        Status::Forbidden
    );
    assert_eq!(
        post_form(
            &admin,
            "/canned",
            "title=Everyone&body=Thanks+from+%7Bagent_name%7D&shared=true"
        )
        .status(),
        Status::SeeOther
    );
    let number: String = q(&d, &format!("SELECT number FROM tickets WHERE id = {t}"));
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(
        page.contains(&format!("Hello Kamran Customer, about #{number}. — Alice")),
        "{page}"
    );
    assert!(page.contains("Thanks from Alice"));
    // The admin does not see Alice's personal one.
    let page = body(admin.get("/canned").dispatch());
    assert!(page.contains("Everyone") && !page.contains("Greeting"));
    let id: i64 = q(
        &d,
        "SELECT id FROM canned_responses WHERE title = 'Greeting'",
    );
    assert_eq!(
        post_form(&admin, &format!("/canned/{id}/delete"), "").status(),
        Status::NotFound
    );
    assert_eq!(
        post_form(&alice, &format!("/canned/{id}/delete"), "").status(),
        Status::SeeOther
    );
}

#[test]
fn static_assets_are_embedded_and_cached() {
    let d = desk();
    let c = client(&d);
    let url = oxidesk::web::assets::asset_url("app.css");
    let r = c.get(url).dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(r.content_type(), Some(ContentType::CSS));
    assert!(r
        .headers()
        .get_one("Cache-Control")
        .unwrap()
        .contains("immutable"));
    let r = c.get(oxidesk::web::assets::asset_url("app.js")).dispatch();
    assert_eq!(r.content_type(), Some(ContentType::JavaScript));
    assert_eq!(
        c.get("/static/x/../Cargo.toml").dispatch().status(),
        Status::NotFound
    );
}
