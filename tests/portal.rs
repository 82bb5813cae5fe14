//! Customer portal route tests: the frame (branding, language, direction),
//! the new-ticket form with its validation and anti-spam checks, and the
//! admin page for custom fields.

#[path = "web_support/mod.rs"]
mod web_support;

use rocket::http::{Header, Status};
use web_support::*;

#[test]
fn root_sends_visitors_to_the_portal_and_staff_to_the_queues() {
    let d = desk();
    let c = client(&d);
    let r = c.get("/").dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(r.headers().get_one("Location"), Some("/portal"));
    // Deeper staff pages still go to sign-in.
    let r = c.get("/queues/open").dispatch();
    assert!(r
        .headers()
        .get_one("Location")
        .unwrap_or("")
        .starts_with("/login"));
    let staff = login(&d, "alice@desk.test");
    let r = staff.get("/").dispatch();
    assert_eq!(r.headers().get_one("Location"), Some("/queues/open"));
}

#[test]
fn home_is_branded_and_links_both_ways_in() {
    let d = desk();
    {
        let conn = d.store.conn().unwrap();
        oxidesk::store::settings::set(&conn, "helpdesk.name", "Pars Hosting").unwrap();
        oxidesk::store::settings::set(&conn, "portal.accent_color", "#0a7d5c").unwrap();
        oxidesk::store::settings::set(&conn, "portal.footer", "Pars Hosting · Tehran").unwrap();
    }
    let c = client(&d);
    let r = c.get("/portal").dispatch();
    assert_eq!(r.status(), Status::Ok);
    let html = body(r);
    assert!(html.contains("Pars Hosting · Tehran"));
    assert!(html.contains("--p-accent: #0a7d5c"));
    assert!(html.contains("href=\"/portal/open\""));
    assert!(html.contains("href=\"/portal/status\""));
    assert!(
        html.contains("href=\"/login\""),
        "staff sign-in link in the footer"
    );
    assert!(html.contains("dir=\"ltr\""));
    // A colour that is not a colour never reaches the style element.
    {
        let conn = d.store.conn().unwrap();
        oxidesk::store::settings::set(&conn, "portal.accent_color", "red;}</style><script>")
            .unwrap();
    }
    let html = body(c.get("/portal/").dispatch());
    assert!(!html.contains("<script>") && !html.contains("--p-accent:"));
}

#[test]
fn persian_portal_is_right_to_left() {
    let d = desk();
    let c = client(&d);
    // By Accept-Language…
    let html = body(
        c.get("/portal")
            .header(Header::new("Accept-Language", "fa-IR,fa;q=0.9,en;q=0.5"))
            .dispatch(),
    );
    assert!(html.contains("<html lang=\"fa\" dir=\"rtl\">"), "{html}");
    assert!(html.contains("باز کردن تیکت تازه"));
    assert!(html.contains("پیگیری وضعیت تیکت"));
    // …and by the switcher, which is remembered in a cookie.
    let c = client(&d);
    let html = body(c.get("/portal?lang=fa").dispatch());
    assert!(html.contains("dir=\"rtl\""));
    let html = body(c.get("/portal").dispatch());
    assert!(html.contains("dir=\"rtl\"") && html.contains("ورود کارکنان"));
    let html = body(c.get("/portal?lang=en").dispatch());
    assert!(html.contains("dir=\"ltr\"") && html.contains("Staff sign in"));
    // Unknown languages fall back to English.
    let html = body(c.get("/portal?lang=zz").dispatch());
    assert!(html.contains("lang=\"en\""));
}

// ---------------------------------------------------------------------------
// The new-ticket form.

use oxidesk::store::forms::{self, FieldSpec};
use oxidesk::web::portal::antispam;

struct Topics {
    billing: i64,
    refund: i64,
    internal: i64,
    /// Fields of "Billing / Refund": number (required), date, choice
    /// (required), multi-choice, checkbox (required), text, long text.
    number: i64,
    date: i64,
    choice: i64,
    multi: i64,
    checkbox: i64,
    text: i64,
    long: i64,
}

fn topic(d: &Desk, name: &str, parent: Option<i64>, public: bool) -> i64 {
    let conn = d.store.conn().unwrap();
    conn.execute(
        "INSERT INTO help_topics (parent_id, name, department_id, public, active, sort, created_at)
         VALUES (?1, ?2, 1, ?3, 1, 0, 0)",
        rusqlite::params![parent, name, public],
    )
    .unwrap();
    conn.last_insert_rowid()
}

fn field(d: &Desk, topic: i64, label: &str, kind: &str, required: bool, options: &[&str]) -> i64 {
    let conn = d.store.conn().unwrap();
    forms::create_field(
        &conn,
        &FieldSpec {
            help_topic_id: oxidesk::model::HelpTopicId(topic),
            label: label.into(),
            kind: kind.into(),
            required,
            help: format!("help for {label}"),
            options: options.iter().map(|s| s.to_string()).collect(),
        },
        0,
    )
    .unwrap()
}

fn topics(d: &Desk) -> Topics {
    let billing = topic(d, "Billing", None, true);
    let refund = topic(d, "Refund", Some(billing), true);
    let internal = topic(d, "Internal audit", None, false);
    field(d, internal, "Secret", "text", true, &[]);
    Topics {
        billing,
        refund,
        internal,
        number: field(d, refund, "Invoice number", "number", true, &[]),
        date: field(d, refund, "Invoice date", "date", false, &[]),
        choice: field(d, refund, "Plan", "choice", true, &["Basic", "Pro"]),
        multi: field(
            d,
            refund,
            "Services",
            "multi_choice",
            false,
            &["Mail", "Web", "DNS"],
        ),
        checkbox: field(
            d,
            refund,
            "I accept the refund terms",
            "checkbox",
            true,
            &[],
        ),
        text: field(d, refund, "Domain", "text", false, &[]),
        long: field(d, refund, "Notes", "long_text", false, &[]),
    }
}

fn portal_csrf(c: &rocket::local::blocking::Client) -> String {
    if let Some(s) = c.cookies().get(oxidesk::web::auth::SESSION_COOKIE) {
        return oxidesk::web::auth::csrf_for(s.value());
    }
    c.get("/portal").dispatch();
    let pre = c
        .cookies()
        .get(oxidesk::web::auth::PRE_COOKIE)
        .unwrap()
        .value()
        .to_string();
    oxidesk::web::auth::csrf_for(&pre)
}

/// A time token issued `age` seconds ago.
fn aged_token(d: &Desk, age: i64) -> String {
    let conn = d.store.conn().unwrap();
    let secret = oxidesk::tickets::links::secret(&conn, "").unwrap();
    antispam::issue(&secret, oxidesk::store::now() - age)
}

/// A complete, valid submission for the Refund topic.
fn good(d: &Desk, t: &Topics) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![
        ("ts".into(), aged_token(d, 30)),
        ("email".into(), "reza@example.ir".into()),
        ("name".into(), "رضا".into()),
        ("topic".into(), t.refund.to_string()),
        ("shown_topic".into(), t.refund.to_string()),
        ("subject".into(), "بازپرداخت فاکتور".into()),
        ("message".into(), "Please refund invoice 1234.\nسپاس".into()),
        ("website".into(), String::new()),
    ];
    for (k, val) in [
        (format!("f[{}]", t.number), "۱۲۳۴"),
        (format!("f[{}]", t.date), "2026-11-20"),
        (format!("f[{}]", t.choice), "Pro"),
        (format!("f[{}_0]", t.multi), "Mail"),
        (format!("f[{}_2]", t.multi), "DNS"),
        (format!("f[{}]", t.checkbox), "1"),
        (format!("f[{}]", t.text), "example.ir"),
    ] {
        v.push((k, val.into()));
    }
    v
}

fn set(v: &mut Vec<(String, String)>, k: &str, val: &str) {
    v.retain(|(n, _)| n != k);
    v.push((k.into(), val.into()));
}

fn unset(v: &mut Vec<(String, String)>, k: &str) {
    v.retain(|(n, _)| n != k);
}

fn send<'c>(
    c: &'c rocket::local::blocking::Client,
    fields: &[(String, String)],
    files: &[(&str, &str, &[u8])],
) -> rocket::local::blocking::LocalResponse<'c> {
    let token = portal_csrf(c);
    let f: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (ct, body) = multipart(&token, &f, files);
    c.post("/portal/open").header(ct).body(body).dispatch()
}

fn tickets_count(d: &Desk) -> i64 {
    q(d, "SELECT COUNT(*) FROM tickets")
}

#[test]
fn form_offers_public_topics_nested_and_their_fields() {
    let d = desk();
    let t = topics(&d);
    let c = client(&d);
    let html = body(c.get("/portal/open").dispatch());
    assert!(
        html.contains(&format!(
            "<option value=\"{}\" dir=\"auto\" >Billing &#x2F; Refund</option>",
            t.refund
        )),
        "{html}"
    );
    assert!(html.contains(">Billing</option>"));
    assert!(
        !html.contains("Internal audit"),
        "non-public topics are not offered"
    );
    assert!(!html.contains("Secret"));
    // The refund fields are in the page, disabled until the topic is chosen.
    assert!(html.contains(&format!("data-topic=\"{}\" hidden disabled", t.refund)));
    assert!(html.contains("Invoice number") && html.contains("help for Plan"));
    assert!(html.contains("name=\"website\""), "honeypot");
    assert!(html.contains("name=\"ts\" value=\""), "time token");
    // ?topic= preselects and enables that topic's fields.
    let html = body(c.get(format!("/portal/open?topic={}", t.refund)).dispatch());
    assert!(
        html.contains(&format!("data-topic=\"{}\" >", t.refund)),
        "{html}"
    );
    let _ = (t.billing, t.internal);
}

#[test]
fn a_good_submission_opens_a_web_ticket_with_fields_and_files() {
    let d = desk();
    let t = topics(&d);
    let c = client(&d);
    let before = tickets_count(&d);
    let form = good(&d, &t);
    let r = send(
        &c,
        &form,
        &[
            ("attachments", "../../etc/رسید\u{202E}fdp.txt", b"receipt"),
            ("attachments", "C:\\Users\\me\\notes.txt", b"notes"),
        ],
    );
    assert_eq!(r.status(), Status::Ok);
    let html = body(r);
    let number: String = q(&d, "SELECT number FROM tickets ORDER BY id DESC LIMIT 1");
    assert!(html.contains(&format!("#{number}")), "{html}");
    assert!(html.contains("reza@example.ir"));
    assert_eq!(tickets_count(&d), before + 1);
    let (source, topic, subject): (String, i64, String) = d
        .store
        .conn()
        .unwrap()
        .query_row(
            "SELECT source, help_topic_id, subject FROM tickets ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (source.as_str(), topic, subject.as_str()),
        ("web", t.refund, "بازپرداخت فاکتور")
    );
    let tid: i64 = q(&d, "SELECT id FROM tickets ORDER BY id DESC LIMIT 1");
    let conn = d.store.conn().unwrap();
    let values = forms::values_for_ticket(&conn, oxidesk::model::TicketId(tid)).unwrap();
    let got: Vec<(&str, &str)> = values
        .iter()
        .map(|v| (v.label.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("Invoice number", "1234"),
            ("Invoice date", "2026-11-20"),
            ("Plan", "Pro"),
            ("Services", "[\"Mail\",\"DNS\"]"),
            ("I accept the refund terms", "1"),
            ("Domain", "example.ir"),
        ]
    );
    let mut names: Vec<String> = conn
        .prepare("SELECT a.filename FROM attachments a JOIN entries e ON e.id = a.entry_id WHERE e.ticket_id = ?1 ORDER BY a.filename")
        .unwrap()
        .query_map([tid], |r| r.get(0))
        .unwrap()
        .map(|x| x.unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["notes.txt", "رسیدfdp.txt"]);
    // The customer is mailed (the auto-response carries the access link)
    // and keeps the language used on the portal.
    let mails: i64 = q(&d, &format!("SELECT COUNT(*) FROM outbox WHERE ticket_id = {tid} AND kind IN ('auto_response', 'access_link')"));
    assert_eq!(mails, 1);
    // Staff see the values in the ticket's Details block.
    let staff = login(&d, "admin@desk.test");
    let page = body(staff.get(format!("/tickets/{tid}")).dispatch());
    assert!(
        page.contains("<dt dir=\"auto\">Invoice number</dt><dd dir=\"auto\">1234</dd>"),
        "{page}"
    );
    assert!(page.contains(">Mail, DNS</dd>") && page.contains(">Yes</dd>"));
    // …and scripts in `ticket show --json`.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .arg("--db")
        .arg(d._dir.path().join("desk.db"))
        .args(["ticket", "show", &number, "--json"])
        .env("OXIDESK_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["source"], "web");
    assert_eq!(json["fields"][0]["label"], "Invoice number");
    assert_eq!(
        json["fields"][3]["value"],
        serde_json::json!(["Mail", "DNS"])
    );
    assert_eq!(json["fields"][4]["value"], true);
    // Sending the same form again (reload) shows the same ticket.
    let again = body(send(&c, &form, &[]));
    assert_eq!(tickets_count(&d), before + 1);
    assert!(again.contains(&format!("#{number}")));
}

#[test]
fn without_auto_response_the_access_link_is_mailed() {
    let d = desk();
    let t = topics(&d);
    {
        let conn = d.store.conn().unwrap();
        oxidesk::store::settings::set(&conn, "mail.auto_response", "false").unwrap();
    }
    let c = client(&d);
    let r = send(&c, &good(&d, &t), &[]);
    assert_eq!(r.status(), Status::Ok);
    let tid: i64 = q(&d, "SELECT id FROM tickets ORDER BY id DESC LIMIT 1");
    let kinds: String = q(&d, &format!("SELECT group_concat(kind) FROM outbox WHERE ticket_id = {tid} AND kind IN ('auto_response', 'access_link')"));
    assert_eq!(kinds, "access_link");
}

/// Sends `fields` and expects the form back with `needle` in it, every
/// typed value kept and no ticket opened.
fn refused(
    d: &Desk,
    c: &rocket::local::blocking::Client,
    fields: &[(String, String)],
    files: &[(&str, &str, &[u8])],
    status: Status,
    needle: &str,
) -> String {
    let before = tickets_count(d);
    let r = send(c, fields, files);
    assert_eq!(r.status(), status, "expecting {needle}");
    let html = body(r);
    assert!(html.contains(needle), "missing {needle:?} in {html}");
    assert_eq!(
        tickets_count(d),
        before,
        "no ticket for a refused form ({needle})"
    );
    html
}

#[test]
fn every_visible_field_is_checked_and_typed_values_are_kept() {
    let d = desk();
    let t = topics(&d);
    let c = client(&d);
    let u = Status::UnprocessableEntity;
    let mut v = good(&d, &t);
    set(&mut v, "email", "");
    let html = refused(&d, &c, &v, &[], u, "id=\"err-email\"");
    assert!(html.contains("This field is required."));
    assert!(html.contains("value=\"بازپرداخت فاکتور\""), "subject kept");
    assert!(
        html.contains("Please refund invoice 1234.\nسپاس"),
        "message kept"
    );
    assert!(
        html.contains("value=\"۱۲۳۴\""),
        "custom number kept as typed"
    );
    assert!(html.contains(&format!("name=\"f[{}_2]\" value=\"DNS\" checked", t.multi)));
    assert!(html.contains("<option value=\"Pro\" dir=\"auto\" selected>"));

    let mut v = good(&d, &t);
    set(&mut v, "email", "reza at example");
    let html = refused(&d, &c, &v, &[], u, "does not look like an email address");
    assert!(html.contains("value=\"reza at example\""));

    let mut v = good(&d, &t);
    set(&mut v, "subject", "   ");
    refused(&d, &c, &v, &[], u, "id=\"err-subject\"");
    let mut v = good(&d, &t);
    set(&mut v, "subject", &"x".repeat(300));
    refused(&d, &c, &v, &[], u, "at most 255 characters");
    let mut v = good(&d, &t);
    unset(&mut v, "message");
    refused(&d, &c, &v, &[], u, "id=\"err-message\"");
    let mut v = good(&d, &t);
    set(&mut v, "name", "");
    refused(&d, &c, &v, &[], u, "id=\"err-name\"");
    let mut v = good(&d, &t);
    set(&mut v, "topic", "");
    refused(&d, &c, &v, &[], u, "id=\"err-topic\"");
    let mut v = good(&d, &t);
    set(&mut v, "topic", &t.internal.to_string());
    refused(&d, &c, &v, &[], u, "id=\"err-topic\"");
}

#[test]
fn every_custom_field_kind_is_checked() {
    let d = desk();
    let t = topics(&d);
    let c = client(&d);
    let u = Status::UnprocessableEntity;
    let cases: Vec<(String, Option<&str>, &str)> = vec![
        (format!("f[{}]", t.number), None, "This field is required."),
        (
            format!("f[{}]", t.number),
            Some("twelve"),
            "Please enter a number.",
        ),
        (
            format!("f[{}]", t.date),
            Some("20/11/2026"),
            "Please enter a date like",
        ),
        (
            format!("f[{}]", t.date),
            Some("2026-02-30"),
            "Please enter a date like",
        ),
        (format!("f[{}]", t.choice), None, "This field is required."),
        (
            format!("f[{}]", t.choice),
            Some("Enterprise"),
            "Please choose one of the options",
        ),
        (
            format!("f[{}_9]", t.multi),
            Some("Forged"),
            "Please choose one of the options",
        ),
        (format!("f[{}]", t.checkbox), None, "Please tick this box"),
        (
            format!("f[{}]", t.text),
            Some(&*Box::leak("x".repeat(501).into_boxed_str())),
            "at most 500 characters",
        ),
        (
            format!("f[{}]", t.long),
            Some(&*Box::leak("y".repeat(10_001).into_boxed_str())),
            "at most 10000 characters",
        ),
    ];
    for (key, value, msg) in cases {
        let mut v = good(&d, &t);
        match value {
            Some(x) => set(&mut v, &key, x),
            None => unset(&mut v, &key),
        }
        let id = key
            .trim_start_matches("f[")
            .trim_end_matches(']')
            .split('_')
            .next()
            .unwrap()
            .to_string();
        let html = refused(&d, &c, &v, &[], u, msg);
        assert!(
            html.contains(&format!("id=\"err-f{id}\"")),
            "{key}: error beside the field"
        );
    }
    // Optional fields may stay empty.
    let mut v = good(&d, &t);
    for k in [t.date, t.text, t.long] {
        unset(&mut v, &format!("f[{k}]"));
    }
    unset(&mut v, &format!("f[{}_0]", t.multi));
    unset(&mut v, &format!("f[{}_2]", t.multi));
    assert_eq!(send(&c, &v, &[]).status(), Status::Ok);
}

#[test]
fn changing_the_topic_without_script_shows_its_fields_first() {
    let d = desk();
    let t = topics(&d);
    let c = client(&d);
    let mut v = good(&d, &t);
    set(&mut v, "shown_topic", &t.billing.to_string());
    for k in [t.number, t.date, t.choice, t.checkbox, t.text] {
        unset(&mut v, &format!("f[{k}]"));
    }
    let html = refused(&d, &c, &v, &[], Status::Ok, "You chose another help topic");
    assert!(html.contains(&format!("data-topic=\"{}\" >", t.refund)));
    assert!(
        !html.contains("id=\"err-f"),
        "no errors for fields not yet shown"
    );
    // A topic without fields is sent straight away.
    let mut v = good(&d, &t);
    set(&mut v, "topic", &t.billing.to_string());
    set(&mut v, "shown_topic", "");
    assert_eq!(send(&c, &v, &[]).status(), Status::Ok);
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT help_topic_id FROM tickets ORDER BY id DESC LIMIT 1"
        ),
        t.billing
    );
}

#[test]
fn uploads_respect_the_attachment_settings() {
    let d = desk();
    let t = topics(&d);
    {
        let conn = d.store.conn().unwrap();
        oxidesk::store::settings::set(&conn, "attachments.max_files", "2").unwrap();
        oxidesk::store::settings::set(&conn, "attachments.max_file_bytes", "1024").unwrap();
    }
    let c = client(&d);
    let u = Status::UnprocessableEntity;
    let big = vec![b'x'; 2000];
    let html = refused(
        &d,
        &c,
        &good(&d, &t),
        &[
            ("attachments", "a.txt", b"a"),
            ("attachments", "b.txt", b"b"),
            ("attachments", "c.txt", b"c"),
        ],
        u,
        "at most 2 may be attached",
    );
    assert!(html.contains("choose your files again"));
    refused(
        &d,
        &c,
        &good(&d, &t),
        &[("attachments", "huge.log", &big)],
        u,
        "huge.log is too large: files may be at most 1 KB",
    );
    refused(
        &d,
        &c,
        &good(&d, &t),
        &[("attachments", "setup.EXE", b"MZ")],
        u,
        "setup.EXE: files of this type are not accepted",
    );
    {
        let conn = d.store.conn().unwrap();
        oxidesk::store::settings::set(&conn, "attachments.allowed_types", "pdf, image/*").unwrap();
    }
    refused(
        &d,
        &c,
        &good(&d, &t),
        &[("attachments", "notes.txt", b"n")],
        u,
        "notes.txt: files of this type",
    );
    assert_eq!(
        send(&c, &good(&d, &t), &[("attachments", "scan.PDF", b"%PDF")]).status(),
        Status::Ok
    );
}

#[test]
fn anti_spam_honeypot_time_token_and_rate_limit() {
    let d = desk();
    let t = topics(&d);
    let c = client(&d);
    let u = Status::UnprocessableEntity;
    let mut v = good(&d, &t);
    set(&mut v, "website", "http://spam.example");
    let html = refused(&d, &c, &v, &[], u, "could not be accepted");
    assert!(
        html.contains("value=\"بازپرداخت فاکتور\""),
        "the form is kept"
    );

    let mut v = good(&d, &t);
    set(&mut v, "ts", &aged_token(&d, 0));
    let html = refused(&d, &c, &v, &[], u, "That was very fast");
    assert!(html.contains("Please refund invoice 1234."));
    let mut v = good(&d, &t);
    set(&mut v, "ts", &aged_token(&d, 25 * 3600));
    refused(&d, &c, &v, &[], u, "open for more than a day");
    let mut v = good(&d, &t);
    let forged = format!("{}.{}", oxidesk::store::now() - 60, "ab".repeat(32));
    set(&mut v, "ts", &forged);
    refused(&d, &c, &v, &[], u, "could not be verified");
    let mut v = good(&d, &t);
    unset(&mut v, "ts");
    refused(&d, &c, &v, &[], u, "could not be verified");

    // The hourly limit per address.
    {
        let conn = d.store.conn().unwrap();
        oxidesk::store::settings::set(&conn, "portal.rate_limit_per_hour", "2").unwrap();
    }
    for _ in 0..2 {
        // Each form carries its own token (a reused one shows the first ticket).
        assert_eq!(send(&c, &good(&d, &t), &[]).status(), Status::Ok);
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    refused(
        &d,
        &c,
        &good(&d, &t),
        &[],
        Status::TooManyRequests,
        "Too many tickets were sent from your network",
    );
}

#[test]
fn the_form_needs_its_csrf_token() {
    let d = desk();
    let t = topics(&d);
    let c = client(&d);
    let before = tickets_count(&d);
    let f: Vec<(&str, &str)> = good(&d, &t)
        .iter()
        .map(|(a, b)| {
            (
                Box::leak(a.clone().into_boxed_str()) as &str,
                Box::leak(b.clone().into_boxed_str()) as &str,
            )
        })
        .collect();
    let (ct, body_bytes) = multipart("not-the-token", &f, &[]);
    c.get("/portal").dispatch();
    let r = c
        .post("/portal/open")
        .header(ct)
        .body(body_bytes)
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    assert_eq!(tickets_count(&d), before);
}

#[test]
fn persian_form_is_right_to_left_with_persian_errors() {
    let d = desk();
    let t = topics(&d);
    let c = client(&d);
    let html = body(c.get("/portal/open?lang=fa").dispatch());
    assert!(html.contains("<html lang=\"fa\" dir=\"rtl\">"));
    assert!(html.contains("زمینهٔ درخواست") && html.contains("نشانی ایمیل"));
    let mut v = good(&d, &t);
    set(&mut v, "email", "");
    let html = refused(
        &d,
        &c,
        &v,
        &[],
        Status::UnprocessableEntity,
        "پر کردن این فیلد الزامی است.",
    );
    assert!(html.contains("dir=\"rtl\""));
    // A new customer keeps the language used on the portal, for mail.
    let html = body(send(&c, &good(&d, &t), &[]));
    assert!(html.contains("سپاسگزاریم"));
    let locale: String = q(&d, "SELECT c.locale FROM customers c JOIN customer_identities i ON i.customer_id = c.id WHERE i.email = 'reza@example.ir'");
    assert_eq!(locale, "fa");
}

// ---------------------------------------------------------------------------
// The admin page for custom fields.

fn audit_kinds(d: &Desk) -> Vec<(String, String, Option<i64>, Option<i64>)> {
    let conn = d.store.conn().unwrap();
    let mut s = conn
        .prepare("SELECT kind, data, ticket_id, staff_id FROM events WHERE kind LIKE 'config.field_%' ORDER BY id")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|x| x.unwrap())
        .collect()
}

#[test]
fn field_admin_needs_an_administrator() {
    let d = desk();
    let t = topic(&d, "Hosting", None, true);
    let c = client(&d);
    let r = c.get("/admin/fields").dispatch();
    assert!(r
        .headers()
        .get_one("Location")
        .unwrap_or("")
        .starts_with("/login"));
    let alice = login(&d, "alice@desk.test");
    assert_eq!(
        alice.get("/admin/fields").dispatch().status(),
        Status::Forbidden
    );
    let r = post_form(
        &alice,
        "/admin/fields",
        &format!("topic={t}&label=Domain&kind=text"),
    );
    assert_eq!(r.status(), Status::Forbidden);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM form_fields"), 0);
    assert!(audit_kinds(&d).is_empty());
}

#[test]
fn field_admin_defines_edits_reorders_and_deactivates_with_audit() {
    let d = desk();
    let t = topic(&d, "Hosting", None, true);
    let admin = login(&d, "admin@desk.test");
    let html = body(admin.get("/admin/fields").dispatch());
    assert!(html.contains("Hosting") && html.contains("Multiple choice"));

    // Bad input comes back beside its field, typed values kept.
    let r = post_form(
        &admin,
        "/admin/fields",
        &format!("topic={t}&label=Plan&kind=choice&help=Which+plan"),
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let html = body(r);
    assert!(html.contains("id=\"err-options\"") && html.contains("value=\"Which plan\""));
    let r = post_form(
        &admin,
        "/admin/fields",
        &format!("topic={t}&label=&kind=text"),
    );
    assert!(body(r).contains("id=\"err-label\""));
    let r = post_form(&admin, "/admin/fields", "topic=999&label=X&kind=text");
    assert!(body(r).contains("id=\"err-topic\""));
    let r = post_form(
        &admin,
        "/admin/fields",
        &format!("topic={t}&label=X&kind=colour"),
    );
    assert!(body(r).contains("id=\"err-kind\""));
    assert!(audit_kinds(&d).is_empty());

    // Create two fields.
    let r = post_form(
        &admin,
        "/admin/fields",
        &format!(
            "topic={t}&label={}&kind=text&required=true&help=example.com",
            enc("دامنه")
        ),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let r = post_form(
        &admin,
        "/admin/fields",
        &format!(
            "topic={t}&label=Plan&kind=choice&options={}",
            enc("Basic\nPro\n\nPro")
        ),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let conn = d.store.conn().unwrap();
    let list = forms::fields_for_topic(&conn, oxidesk::model::HelpTopicId(t), true).unwrap();
    assert_eq!(
        list.iter().map(|f| f.label.as_str()).collect::<Vec<_>>(),
        ["دامنه", "Plan"]
    );
    assert_eq!(list[1].options, ["Basic", "Pro"]);
    assert!(list[0].required && list[0].help == "example.com");
    let (domain, plan) = (list[0].id, list[1].id);

    // Edit: rename and make optional.
    let html = body(admin.get(format!("/admin/fields?edit={plan}")).dispatch());
    assert!(html.contains(&format!("action=\"/admin/fields/{plan}\"")));
    let r = post_form(
        &admin,
        &format!("/admin/fields/{plan}"),
        &format!(
            "topic={t}&label=Hosting+plan&kind=choice&options={}",
            enc("Basic\nPro\nReseller")
        ),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let f = forms::get_field(&conn, plan).unwrap();
    assert_eq!((f.label.as_str(), f.options.len()), ("Hosting plan", 3));

    // Reorder: Plan moves up.
    let r = post_form(
        &admin,
        &format!("/admin/fields/{plan}/move"),
        "direction=up",
    );
    assert_eq!(r.status(), Status::SeeOther);
    let list = forms::fields_for_topic(&conn, oxidesk::model::HelpTopicId(t), true).unwrap();
    assert_eq!(list[0].id, plan);

    // Deactivate: the portal form stops asking.
    let c = client(&d);
    assert!(body(c.get("/portal/open").dispatch()).contains("example.com"));
    let r = post_form(
        &admin,
        &format!("/admin/fields/{domain}/active"),
        "active=false",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert!(!body(c.get("/portal/open").dispatch()).contains("example.com"));
    assert!(!forms::get_field(&conn, domain).unwrap().active);

    let audit = audit_kinds(&d);
    let kinds: Vec<&str> = audit.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "config.field_created",
            "config.field_created",
            "config.field_updated",
            "config.field_moved",
            "config.field_deactivated"
        ]
    );
    for (_, data, ticket, staff) in &audit {
        assert_eq!(*ticket, None);
        assert_eq!(*staff, Some(d.admin.0));
        assert!(data.contains("\"field_id\":"), "{data}");
    }
    let updated: serde_json::Value = serde_json::from_str(&audit[2].1).unwrap();
    assert_eq!(updated["changed"]["label"]["from"], "Plan");
    assert_eq!(updated["changed"]["label"]["to"], "Hosting plan");
    assert!(
        updated["changed"].get("kind").is_none(),
        "only what changed"
    );
}

#[test]
fn a_signed_in_customer_opens_tickets_under_their_own_address() {
    let d = desk();
    let t = topics(&d);
    oxidesk::accounts::register(
        &d.store,
        "Shirin",
        "shirin@example.ir",
        "long enough password",
        "fa",
        "10.0.0.1",
    )
    .unwrap();
    {
        let conn = d.store.conn().unwrap();
        let id = oxidesk::store::customers::find_by_email(&conn, "shirin@example.ir")
            .unwrap()
            .unwrap();
        oxidesk::store::customer_accounts::mark_verified(&conn, id, "shirin@example.ir", 0)
            .unwrap();
    }
    let c = client(&d);
    let token = portal_csrf(&c);
    let r = c
        .post("/portal/login")
        .header(rocket::http::ContentType::Form)
        .body(format!(
            "_csrf={token}&email=shirin%40example.ir&password=long+enough+password&next=%2Fportal%2Fopen"
        ))
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let html = body(c.get("/portal/open").dispatch());
    assert!(
        html.contains("value=\"shirin@example.ir\"") && html.contains("readonly"),
        "{html}"
    );
    // A different address in the form is ignored: the account's is used.
    let mut v = good(&d, &t);
    set(&mut v, "email", "someone.else@example.com");
    let r = send(&c, &v, &[]);
    assert_eq!(r.status(), Status::Ok);
    let html = body(r);
    let number: String = q(&d, "SELECT number FROM tickets ORDER BY id DESC LIMIT 1");
    assert!(
        html.contains(&format!("href=\"/portal/tickets/{number}\"")),
        "{html}"
    );
    let owner: String = q(&d, "SELECT i.email FROM tickets t JOIN customer_identities i ON i.customer_id = t.customer_id ORDER BY t.id DESC LIMIT 1");
    assert_eq!(owner, "shirin@example.ir");
}

#[test]
fn the_logo_is_served_only_when_it_is_an_image() {
    let d = desk();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let id = {
        let conn = d.store.conn().unwrap();
        let (id, _) = oxidesk::store::attachments::put_blob(&conn, &png).unwrap();
        oxidesk::store::settings::set(&conn, "portal.logo_blob", &id.0.to_string()).unwrap();
        id.0
    };
    let c = client(&d);
    let html = body(c.get("/portal").dispatch());
    assert!(
        html.contains(&format!("src=\"&#x2F;portal&#x2F;logo?v={id}\"")),
        "{html}"
    );
    let r = c.get(format!("/portal/logo?v={id}")).dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(r.content_type(), Some(rocket::http::ContentType::PNG));
    assert_eq!(
        r.headers().get_one("X-Content-Type-Options"),
        Some("nosniff")
    );
    // HTML (or SVG) stored as the logo is never served.
    {
        let conn = d.store.conn().unwrap();
        let (id, _) =
            oxidesk::store::attachments::put_blob(&conn, b"<svg onload=alert(1)>").unwrap();
        oxidesk::store::settings::set(&conn, "portal.logo_blob", &id.0.to_string()).unwrap();
    }
    assert_eq!(c.get("/portal/logo").dispatch().status(), Status::NotFound);
}

#[test]
fn an_unreadable_form_comes_back_with_a_sentence() {
    let d = desk();
    let c = client(&d);
    let token = portal_csrf(&c);
    // A multipart body cut short (as when an upload is aborted).
    let b = "XoXoBoundary7";
    let body_bytes = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{token}\r\n--{b}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"a.txt\"\r\n\r\nabc"
    );
    let r = c
        .post("/portal/open")
        .header(
            rocket::http::ContentType::new("multipart", "form-data").with_params(("boundary", b)),
        )
        .body(body_bytes)
        .dispatch();
    assert_eq!(r.status(), Status::BadRequest);
    let html = body(r);
    assert!(
        html.contains("The form could not be read") && html.contains("10 MB"),
        "{html}"
    );
}
