//! "Check ticket status" and access links: same answers, rate limit,
//! expired, forged and other-ticket links, one grant per ticket.

use rocket::http::{ContentType, Status};

use oxidesk::store;
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::{self, links, Body, Reply};

use super::helpers::*;
use super::web_support::*;

#[test]
fn status_form_answers_the_same_and_mails_only_the_real_pair() {
    let d = desk();
    let n = number_of(&d, d.ticket);
    let c = client(&d);
    let before = mails(&d, "access_link");
    let real = ppost(
        &c,
        "/portal/status",
        &format!("email=Customer%40Example.com&number={n}"),
    );
    assert_eq!(real.status(), Status::Ok);
    let real = body(real);
    let wrong_email = body(ppost(
        &c,
        "/portal/status",
        &format!("email=someone%40else.example&number={n}"),
    ));
    let missing = body(ppost(
        &c,
        "/portal/status",
        "email=customer%40example.com&number=999999999",
    ));
    // Same page apart from the echoed address.
    assert_eq!(
        real.replace("Customer@Example.com", "X"),
        wrong_email.replace("someone@else.example", "X")
    );
    assert_eq!(
        real.replace("Customer@Example.com", "X"),
        missing.replace("customer@example.com", "X")
    );
    assert!(real.contains("id=\"status-sent\""));
    assert_eq!(mails(&d, "access_link"), before + 1);
    // The mailed link opens exactly that ticket.
    let text = last_mail(&d, "access_link", "customer@example.com").unwrap();
    let path = path_in(&text, "/portal/tickets/");
    let guest = client(&d);
    let r = guest.get(path).dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let page = body(guest.get(format!("/portal/tickets/{n}")).dispatch());
    assert!(page.contains("Printer on fire"), "{page}");
}

#[test]
fn status_form_validates_and_is_rate_limited_per_address() {
    let d = desk();
    let c = client(&d);
    let r = ppost(&c, "/portal/status", "email=not-an-address&number=12");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let html = body(r);
    assert!(html.contains("Enter a valid email address"));
    assert!(html.contains("value=\"not-an-address\"") && html.contains("value=\"12\""));
    let r = ppost(&c, "/portal/status", "email=a%40b.example&number=");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("Enter the ticket number"));
    for _ in 0..oxidesk::accounts::STATUS_PER_IP_HOUR {
        let r = ppost(&c, "/portal/status", "email=a%40b.example&number=1");
        assert_eq!(r.status(), Status::Ok);
    }
    let r = ppost(&c, "/portal/status", "email=a%40b.example&number=1");
    assert_eq!(r.status(), Status::TooManyRequests);
    assert!(body(r).contains("Too many attempts"));
    // Without the CSRF token nothing happens.
    let r = c
        .post("/portal/status")
        .header(ContentType::Form)
        .body("email=a%40b.example&number=1")
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
}

#[test]
fn expired_forged_and_other_ticket_links_are_refused() {
    let d = desk();
    let c = client(&d);
    let n = number_of(&d, d.ticket);
    // Expired: a clear page offering a new link, prefilled.
    let r = c
        .get(link_for(
            &d,
            d.ticket,
            "customer@example.com",
            store::now() - 5,
        ))
        .dispatch();
    assert_eq!(r.status(), Status::Gone);
    let html = body(r);
    assert!(html.contains("This access link has expired"));
    assert!(html.contains("action=\"/portal/status\"") && html.contains(&format!("value=\"{n}\"")));
    // Forged: signed with another secret, or altered.
    let token = links::sign(
        b"not our secret",
        d.ticket,
        "customer@example.com",
        store::now() + 99,
    );
    let r = c.get(format!("/portal/tickets/{n}?t={token}")).dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    assert!(body(r).contains("This access link is not valid"));
    let r = c.get(format!("/portal/tickets/{n}?t=garbage")).dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // A link for ticket A does not open ticket B, even under B's number.
    let (b, _) = ticket_of_b(&d);
    let good_a = link_for(&d, d.ticket, "customer@example.com", store::now() + 99);
    let token = good_a.split("?t=").nth(1).unwrap();
    let r = c
        .get(format!("/portal/tickets/{}?t={token}", number_of(&d, b)))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // A link whose address does not own the ticket is refused.
    let r = c
        .get(link_for(&d, b, "customer@example.com", store::now() + 99))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // None of that left a grant behind.
    let r = c.get(format!("/portal/tickets/{n}")).dispatch();
    assert_eq!(r.status(), Status::NotFound);
    assert!(body(r).contains("Ticket not found"));
}

#[test]
fn a_link_grants_exactly_one_ticket() {
    let d = desk();
    let (b, b_att) = ticket_of_b(&d);
    let c = with_link(&d, d.ticket);
    let grant = c.cookies().get("oxd_grants").unwrap().clone();
    assert!(grant.http_only().unwrap_or(false));
    assert_eq!(grant.same_site(), Some(rocket::http::SameSite::Lax));
    let html = body(
        c.get(format!("/portal/tickets/{}", number_of(&d, d.ticket)))
            .dispatch(),
    );
    assert!(html.contains("Printer on fire") && html.contains("photo.png"));
    // The same customer's other ticket needs its own link.
    let r = c
        .get(format!("/portal/tickets/{}", number_of(&d, d.other)))
        .dispatch();
    assert_eq!(r.status(), Status::NotFound);
    // B's ticket, attachment, reply and close are out of reach.
    let nb = number_of(&d, b);
    let r = c.get(format!("/portal/tickets/{nb}")).dispatch();
    assert_eq!(r.status(), Status::NotFound);
    assert!(!body(r).contains("private matter"));
    assert_eq!(
        c.get(format!("/portal/attachments/{b_att}"))
            .dispatch()
            .status(),
        Status::NotFound
    );
    let token = pcsrf(&c);
    let (ct, data) = multipart(&token, &[("body", "hijack")], &[]);
    let r = c
        .post(format!("/portal/tickets/{nb}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::NotFound);
    let r = ppost(&c, &format!("/portal/tickets/{nb}/close"), "x=1");
    assert_eq!(r.status(), Status::NotFound);
    let entries: i64 = q(
        &d,
        &format!("SELECT COUNT(*) FROM entries WHERE ticket_id = {}", b.0),
    );
    assert_eq!(entries, 1);
    let status: String = q(
        &d,
        &format!("SELECT status FROM tickets WHERE id = {}", b.0),
    );
    assert_eq!(status, "open");
    // A's own attachment downloads, as an attachment or a safe inline image.
    let r = c
        .get(format!("/portal/attachments/{}", d.attachment))
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
    let r = c
        .get(format!("/portal/attachments/{}?inline=true", d.attachment))
        .dispatch();
    assert!(r
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .starts_with("inline;"));
    assert_eq!(r.content_type(), Some(ContentType::PNG));
}

#[test]
fn mailed_notification_links_give_direct_access() {
    let d = desk();
    // The auto-response of the desk's first ticket carries a link.
    let raw = queued_mail(&d, "auto_response", d.ticket);
    let text = mail_text(&raw);
    let path = path_in(&text, "/portal/tickets/");
    let c = client(&d);
    assert_eq!(c.get(path).dispatch().status(), Status::SeeOther);
    // A staff response's link too.
    tickets::add_response(
        &d.store,
        &Actor::Staff {
            id: d.alice,
            name: "Alice".into(),
        },
        d.other,
        Reply {
            body: Body::text("Invoices are in your client area."),
            ..Reply::default()
        },
    )
    .unwrap();
    let text = last_mail(&d, "response", "customer@example.com").unwrap();
    let path = path_in(&text, "/portal/tickets/");
    assert_eq!(c.get(path).dispatch().status(), Status::SeeOther);
    let html = body(
        c.get(format!("/portal/tickets/{}", number_of(&d, d.other)))
            .dispatch(),
    );
    assert!(html.contains("Invoices are in your client area."));
    assert!(html.contains("Answered, waiting for you"));
    assert!(html.contains("The Support team is handling your ticket"));
    // Both grants are kept.
    let html = body(
        c.get(format!("/portal/tickets/{}", number_of(&d, d.ticket)))
            .dispatch(),
    );
    assert!(html.contains("Printer on fire"));
}
