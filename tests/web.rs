//! Route tests for the staff UI, access side: sign-in, sessions, CSRF,
//! throttling, the department scope (404 outside it), admin rights, the
//! staff commands and serve itself. Rocket's local client runs on the same
//! builder `oxidesk serve` uses, over a real SQLite file in a temp dir.

mod web_support;

use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::Client;

use oxidesk::config::Config;
use oxidesk::store::{Store, StoreOptions};
use oxidesk::tickets;
use oxidesk::tickets::events::Actor;
use oxidesk::web::auth;
use web_support::*;

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
    // The fixture's ticket queues mail (auto-response, alerts): the depth
    // reported is what the outbox holds undelivered.
    let waiting: i64 = q(
        &d,
        "SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'sending')",
    );
    assert!(waiting > 0);
    assert_eq!(v["outbox_depth"], waiting);
}

#[test]
fn signed_out_requests_go_to_login() {
    let d = desk();
    let c = client(&d);
    // (`/` itself shows visitors the customer portal: tests/portal.rs.)
    for url in [
        "/queues/open".to_string(),
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
    // Nor does the search without a budget.
    let page = body(bob.get("/search?q=printer&all=true").dispatch());
    assert!(!page.contains("Printer on fire"));
    // A ticket number Bob cannot see does not jump to it.
    let number: String = q(&d, &format!("SELECT number FROM tickets WHERE id = {t}"));
    let r = bob.get(format!("/search?q={number}")).dispatch();
    assert_eq!(r.status(), Status::Ok);
    // Alice (Support) and the admin see it.
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("Printer on fire") && page.contains("photo.png"));
    // Her search finds it, within the budget and without it; a small desk's
    // search always reads every message, so no "search all" notice.
    for path in ["/search?q=printer", "/search?q=printer&all=true"] {
        let page = body(alice.get(path).dispatch());
        assert!(page.contains("Printer on fire"), "{path}");
        assert!(!page.contains("all=true"), "{path}: {page}");
    }
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
        &format!("/admin/staff/{}/departments", d.alice),
        &format!("roles[1]=2&roles[{billing}]=2"),
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
    let r = post_form(
        &admin,
        "/admin/staff/new",
        "email=carol%40desk.test&name=Carol",
    );
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

/// `oxidesk staff add|list|passwd` through the real binary.
#[test]
fn staff_commands() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let run = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oxidesk"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(
        &[
            "staff",
            "add",
            "dina@desk.test",
            "--name",
            "Dina",
            "--admin",
            "--password-stdin",
        ],
        "dinas long password\n",
    );
    assert!(ok, "{out}");
    let (ok, out) = run(
        &[
            "staff",
            "add",
            "dina@desk.test",
            "--name",
            "Dina",
            "--password-stdin",
        ],
        "dinas long password\n",
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = run(
        &[
            "staff",
            "add",
            "eve@desk.test",
            "--name",
            "Eve",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!ok && out.contains("at least"), "{out}");
    let (ok, out) = run(&["staff", "list"], "");
    assert!(
        ok && out.contains("dina@desk.test") && out.contains("admin"),
        "{out}"
    );
    let (ok, out) = run(
        &["staff", "passwd", "dina@desk.test", "--password-stdin"],
        "a brand new password\n",
    );
    assert!(ok, "{out}");
    let store = Store::open(&StoreOptions::new(&db)).unwrap();
    let conn = store.conn().unwrap();
    let hash: String = conn
        .query_row(
            "SELECT password_hash FROM staff WHERE email = 'dina@desk.test'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(auth::verify_password("a brand new password", &hash));
    let (ok, out) = run(
        &["staff", "passwd", "nobody@desk.test", "--password-stdin"],
        "a brand new password\n",
    );
    assert!(!ok && out.contains("no staff account"), "{out}");
}

/// `oxidesk serve` from an empty directory: first-run admin on stdout,
/// healthy on the port it was given, and a clean exit on SIGTERM.
#[test]
fn serve_first_run_and_graceful_shutdown() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .current_dir(dir.path())
        .env("OXIDESK_LISTEN", format!("127.0.0.1:{port}"))
        .env("OXIDESK_ADMIN_EMAIL", "boss@desk.test")
        .env_remove("OXIDESK_DB")
        .env_remove("OXIDESK_CONFIG")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("listening") {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        printed.push_str(&line);
    }
    assert!(
        printed.contains("boss@desk.test") && printed.contains("/login"),
        "{printed}"
    );
    assert!(dir.path().join("oxidesk.db").exists());
    // /healthz over a real socket.
    let mut body = String::new();
    for _ in 0..50 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            s.read_to_string(&mut body).unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        body.starts_with("HTTP/1.1 200") && body.contains("\"database\":\"ok\""),
        "{body}"
    );
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "serve exited with {exit:?} on SIGTERM");
}
