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
