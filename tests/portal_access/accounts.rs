//! Customer accounts: register, verify, sign in and out, reset, throttling,
//! isolation between customers, settings and Persian.

use rocket::http::{ContentType, Header, Status};

use oxidesk::store::settings;
use oxidesk::web::auth;

use super::helpers::*;
use super::web_support::*;

#[test]
fn register_verify_login_logout() {
    let d = desk();
    let c = client(&d);
    // Every field error shows beside its field, typed values kept.
    let r = register(&c, "", "kamran@x.example", PASSWORD, PASSWORD);
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("Enter your name."));
    let r = register(&c, "Kamran", "nope", PASSWORD, PASSWORD);
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let html = body(r);
    assert!(html.contains("Enter a valid email address") && html.contains("value=\"Kamran\""));
    let r = register(&c, "Kamran", "customer@example.com", "short", "short");
    assert!(body(r).contains("at least 10 characters"));
    let r = register(
        &c,
        "Kamran",
        "customer@example.com",
        PASSWORD,
        "other password!",
    );
    assert!(body(r).contains("The two passwords are not the same."));
    // Registering: a verification mail, and no sign-in before it is used.
    let r = register(&c, "Kamran", "customer@example.com", PASSWORD, PASSWORD);
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("Check your email"));
    assert_eq!(mails(&d, "account_verify"), 1);
    let r = login_portal(&c, "customer@example.com", PASSWORD);
    assert_eq!(r.status(), Status::Forbidden);
    assert!(body(r).contains("confirm your email address first"));
    assert_eq!(mails(&d, "account_verify"), 2, "a fresh link on sign-in");
    assert_eq!(
        c.get("/portal/tickets").dispatch().status(),
        Status::SeeOther,
        "no session"
    );
    // A bad token is refused; the mailed one works once.
    let r = c.get("/portal/verify?token=deadbeef").dispatch();
    assert_eq!(r.status(), Status::Gone);
    let text = last_mail(&d, "account_verify", "customer@example.com").unwrap();
    let verify = path_in(&text, "/portal/verify");
    assert_eq!(c.get(verify.clone()).dispatch().status(), Status::Ok);
    assert_eq!(c.get(verify).dispatch().status(), Status::Gone);
    // Wrong password, then the right one.
    let r = login_portal(&c, "customer@example.com", "wrong password!!");
    assert_eq!(r.status(), Status::Unauthorized);
    assert!(body(r).contains("The email address or password is not right."));
    let r = login_portal(&c, "Customer@Example.com", PASSWORD);
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(r.headers().get_one("Location"), Some("/portal/tickets"));
    let cookie = c.cookies().get("oxd_customer").unwrap().clone();
    assert!(cookie.http_only().unwrap_or(false));
    assert!(
        c.cookies().get(auth::SESSION_COOKIE).is_none(),
        "not a staff session"
    );
    // My tickets: both of the customer's tickets, with status.
    let html = body(c.get("/portal/tickets").dispatch());
    assert!(html.contains("Printer on fire") && html.contains("Second question"));
    assert!(html.contains("Waiting for our answer"));
    // The session opens the customer's tickets without links; forms carry
    // a CSRF token that validates.
    let n = number_of(&d, d.other);
    let html = body(c.get(format!("/portal/tickets/{n}")).dispatch());
    assert!(html.contains("Another thing about invoices"));
    let first = html.find("<form").unwrap();
    assert!(html[first..].contains("name=\"_csrf\""));
    let token = pcsrf(&c);
    let (ct, data) = multipart(&token, &[("body", "from my account")], &[]);
    let r = c
        .post(format!("/portal/tickets/{n}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    // Staff pages stay closed to a customer session.
    let r = c.get(format!("/tickets/{}", d.other.0)).dispatch();
    assert_ne!(r.status(), Status::Ok);
    // Sign out ends the session.
    let r = ppost(&c, "/portal/logout", "x=1");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        c.get("/portal/tickets").dispatch().status(),
        Status::SeeOther
    );
    let sessions: i64 = q(&d, "SELECT COUNT(*) FROM customer_sessions");
    assert_eq!(sessions, 0);
}

#[test]
fn registering_an_existing_account_tells_nothing() {
    let d = desk();
    let _a = signed_in(&d, "Kamran", "customer@example.com");
    let c = client(&d);
    let again = body(register(
        &c,
        "Mallory",
        "customer@example.com",
        PASSWORD,
        PASSWORD,
    ));
    let fresh = body(register(
        &c,
        "Newcomer",
        "new@x.example",
        PASSWORD,
        PASSWORD,
    ));
    assert_eq!(again, fresh);
    // The owner gets a reset mail instead, and the password is unchanged.
    assert!(last_mail(&d, "password_reset", "customer@example.com").is_some());
    assert_eq!(
        login_portal(&c, "customer@example.com", PASSWORD).status(),
        Status::SeeOther
    );
}

#[test]
fn password_reset_is_single_use_and_tells_nothing() {
    let d = desk();
    let _a = signed_in(&d, "Kamran", "customer@example.com");
    let c = client(&d);
    let r = ppost(&c, "/portal/reset", "email=nobody%40x.example");
    assert_eq!(r.status(), Status::Ok);
    let unknown = body(r);
    assert_eq!(mails(&d, "password_reset"), 0);
    let known = body(ppost(&c, "/portal/reset", "email=customer%40example.com"));
    assert_eq!(unknown, known);
    let r = ppost(&c, "/portal/reset", "email=bad");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let text = last_mail(&d, "password_reset", "customer@example.com").unwrap();
    let link = path_in(&text, "/portal/reset?token=");
    let token = link.split("token=").nth(1).unwrap().to_string();
    let r = c.get(link.clone()).dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("Choose a new password"));
    // Errors beside the field, then success, then the link is spent.
    let r = ppost(
        &c,
        "/portal/reset/new",
        &format!("token={token}&password=short&password2=short"),
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let newpw = "another long secret";
    let r = ppost(
        &c,
        "/portal/reset/new",
        &format!(
            "token={token}&password={}&password2={}",
            enc(newpw),
            enc(newpw)
        ),
    );
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("Password changed"));
    assert_eq!(c.get(link).dispatch().status(), Status::Gone);
    let r = ppost(
        &c,
        "/portal/reset/new",
        &format!(
            "token={token}&password={}&password2={}",
            enc(newpw),
            enc(newpw)
        ),
    );
    assert_eq!(r.status(), Status::Gone);
    // Existing sessions ended; the old password no longer works.
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM customer_sessions"), 0);
    assert_eq!(
        login_portal(&c, "customer@example.com", PASSWORD).status(),
        Status::Unauthorized
    );
    assert_eq!(
        login_portal(&c, "customer@example.com", newpw).status(),
        Status::SeeOther
    );
}

#[test]
fn sign_in_is_throttled() {
    let d = desk();
    let _a = signed_in(&d, "Kamran", "customer@example.com");
    let c = client(&d);
    for _ in 0..oxidesk::accounts::MAX_FAILURES_PER_ACCOUNT {
        assert_eq!(
            login_portal(&c, "customer@example.com", "wrong password!!").status(),
            Status::Unauthorized
        );
    }
    let r = login_portal(&c, "customer@example.com", PASSWORD);
    assert_eq!(r.status(), Status::TooManyRequests);
}

#[test]
fn sessions_are_isolated_between_customers() {
    let d = desk();
    let (b, b_att) = ticket_of_b(&d);
    let a = signed_in(&d, "Kamran", "customer@example.com");
    let nb = number_of(&d, b);
    let html = body(a.get("/portal/tickets").dispatch());
    assert!(!html.contains("private matter"));
    assert_eq!(
        a.get(format!("/portal/tickets/{nb}")).dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        a.get(format!("/portal/attachments/{b_att}"))
            .dispatch()
            .status(),
        Status::NotFound
    );
    let token = pcsrf(&a);
    let (ct, data) = multipart(&token, &[("body", "hijack")], &[]);
    let r = a
        .post(format!("/portal/tickets/{nb}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::NotFound);
    assert_eq!(
        ppost(&a, &format!("/portal/tickets/{nb}/close"), "x=1").status(),
        Status::NotFound
    );
    // B sees B's own.
    let bc = signed_in(&d, "Bahar", "bahar@other.example");
    let html = body(bc.get("/portal/tickets").dispatch());
    assert!(html.contains("private matter") && !html.contains("Printer on fire"));
    let r = bc.get(format!("/portal/attachments/{b_att}")).dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(r.content_type(), Some(ContentType::Binary));
}

#[test]
fn accounts_can_be_switched_off_and_pages_speak_persian() {
    let d = desk();
    let c = client(&d);
    let html = body(c.get("/portal/status?lang=fa").dispatch());
    assert!(html.contains("dir=\"rtl\"") && html.contains("پیوند دسترسی را برایم ایمیل کن"));
    assert!(html.contains("href=\"/portal/login\""));
    let html = body(c.get("/portal/register").dispatch());
    assert!(html.contains("ساخت حساب کاربری"));
    let c = client(&d);
    let html = body(
        c.get("/portal/login")
            .header(Header::new("Accept-Language", "en"))
            .dispatch(),
    );
    assert!(html.contains("Sign in to see your tickets"));
    settings::set(&d.store.conn().unwrap(), "portal.accounts", "off").unwrap();
    for path in [
        "/portal/login",
        "/portal/register",
        "/portal/reset",
        "/portal/tickets",
    ] {
        assert_eq!(c.get(path).dispatch().status(), Status::NotFound, "{path}");
    }
    let html = body(c.get("/portal/status").dispatch());
    assert!(!html.contains("href=\"/portal/login\""));
    // Access links still work without accounts.
    let c = with_link(&d, d.ticket);
    let r = c
        .get(format!("/portal/tickets/{}", number_of(&d, d.ticket)))
        .dispatch();
    assert_eq!(r.status(), Status::Ok);
}

#[test]
fn required_accounts_ask_to_sign_in_before_opening_a_ticket() {
    let d = desk();
    let c = client(&d);
    assert_eq!(c.get("/portal/open").dispatch().status(), Status::Ok);
    settings::set(&d.store.conn().unwrap(), "portal.accounts", "required").unwrap();
    let r = c.get("/portal/open?topic=1").dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let to = r.headers().get_one("Location").unwrap().to_string();
    assert_eq!(to, "/portal/login?next=%2Fportal%2Fopen&why=required");
    let html = body(c.get(to).dispatch());
    assert!(html.contains("Please sign in or create an account to open a ticket."));
    assert!(html.contains("name=\"next\" value=\"&#x2F;portal&#x2F;open\""));
    // A post without a session is turned away too, and opens nothing.
    let tickets: i64 = q(&d, "SELECT COUNT(*) FROM tickets");
    let r = ppost(
        &c,
        "/portal/open",
        "email=x%40y.example&subject=s&message=m",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM tickets"), tickets);
    // Signed in, the form is there.
    let a = signed_in(&d, "Kamran", "customer@example.com");
    assert_eq!(a.get("/portal/open").dispatch().status(), Status::Ok);
}

#[test]
fn a_persian_registration_gets_persian_mail() {
    let d = desk();
    let c = client(&d);
    c.get("/portal/register?lang=fa").dispatch();
    let r = register(&c, "مریم", "maryam@example.ir", PASSWORD, PASSWORD);
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("ایمیل خود را ببینید"));
    let text = last_mail(&d, "account_verify", "maryam@example.ir").unwrap();
    assert!(text.contains("نشانی ایمیل خود را تأیید کنید"), "{text}");
    let locale: String = q(
        &d,
        "SELECT c.locale FROM customers c JOIN customer_identities i ON i.customer_id = c.id
         WHERE i.email = 'maryam@example.ir'",
    );
    assert_eq!(locale, "fa");
}
