//! Teams: visibility of team tickets, assignment, the team queue.

use rocket::http::Status;

use oxidesk::model::TeamId;
use oxidesk::store::teams;
use oxidesk::store::teams::TeamFields;

use super::*;

#[test]
fn team_tickets_are_visible_to_the_team_only() {
    let d = desk();
    let t = d.ticket;
    // Bob is in Sales only: the Support ticket is not found.
    let bob = login(&d, "bob@desk.test");
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::NotFound
    );
    let conn = d.store.conn().unwrap();
    let team = teams::create(
        &conn,
        &TeamFields {
            name: "Night shift".into(),
            lead_id: Some(d.bob),
            active: true,
            members: vec![d.bob],
        },
    )
    .unwrap();
    drop(conn);
    // Admin assigns the ticket to the team from the assign dropdown.
    let admin = login(&d, "admin@desk.test");
    let page = body(admin.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains(&format!("value=\"team:{team}\"")), "{page}");
    let r = post_form(
        &admin,
        &format!("/tickets/{t}/assign"),
        &format!("assignee=team%3A{team}"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<Option<i64>>(&d, &format!("SELECT team_id FROM tickets WHERE id = {t}")),
        Some(team.0)
    );
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM events WHERE kind = 'team_assigned'"
        ),
        1
    );
    // Its members are alerted.
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'alert_team_assigned' AND recipients LIKE '%bob@desk.test%'"
        ),
        1
    );
    // A customer message on the unassigned team ticket alerts the team,
    // not the whole department.
    oxidesk::tickets::append_message(
        &d.store,
        &oxidesk::tickets::events::Actor::System,
        t,
        oxidesk::tickets::NewMessage {
            author_name: "Kamran Customer".into(),
            body: oxidesk::tickets::Body::text("Any news?"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'alert_new_message' AND recipients LIKE '%bob@desk.test%'"
        ),
        1
    );
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'alert_new_message' AND recipients LIKE '%alice@desk.test%'"
        ),
        0
    );
    // Bob now sees it, in the team queue too, and may work it with the
    // default role.
    let page = body(bob.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("Printer on fire") && page.contains("Night shift"));
    let queue = body(bob.get("/queues/team").dispatch());
    assert!(queue.contains("Printer on fire"), "{queue}");
    assert!(queue.contains("My teams&#x27; tickets") || queue.contains("My teams' tickets"));
    assert_eq!(
        multipart_post(&bob, &format!("/tickets/{t}/note"), &[("body", "on it")]),
        Status::SeeOther
    );
    let counts = oxidesk::store::queues::counts(
        &d.store.conn().unwrap(),
        oxidesk::store::queues::Scope {
            staff: d.bob,
            admin: false,
        },
    )
    .unwrap();
    assert!(counts.in_teams);
    // In the team queue, and in Open and Unassigned too: Bob sees it there.
    assert_eq!((counts.team, counts.open, counts.unassigned), (1, 1, 1));
    // The other Support ticket stays hidden.
    assert_eq!(
        bob.get(format!("/tickets/{}", d.other)).dispatch().status(),
        Status::NotFound
    );
    // A disabled team no longer opens the door.
    let conn = d.store.conn().unwrap();
    teams::update(
        &conn,
        team,
        &TeamFields {
            name: "Night shift".into(),
            lead_id: None,
            active: false,
            members: vec![d.bob],
        },
    )
    .unwrap();
    drop(conn);
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::NotFound
    );
    // Nor does taking the ticket from the team.
    let conn = d.store.conn().unwrap();
    conn.execute("UPDATE teams SET active = 1", []).unwrap();
    drop(conn);
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::Ok
    );
    post_form(&admin, &format!("/tickets/{t}/assign"), "assignee=team%3A");
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::NotFound
    );
}

#[test]
fn a_ticket_opened_for_a_team_is_stored_with_it() {
    let d = desk();
    let conn = d.store.conn().unwrap();
    let team = teams::create(
        &conn,
        &TeamFields {
            name: "Billing".into(),
            lead_id: None,
            active: true,
            members: vec![d.bob],
        },
    )
    .unwrap();
    drop(conn);
    let mut new = oxidesk::tickets::NewTicket::new(
        oxidesk::model::Source::Web,
        "payer@example.com",
        "Payer",
        "Invoice",
        oxidesk::tickets::Body::text("Where is my invoice?"),
    );
    new.team = Some(team);
    let opened =
        oxidesk::tickets::open(&d.store, &oxidesk::tickets::events::Actor::System, new).unwrap();
    assert_eq!(
        q::<Option<i64>>(
            &d,
            &format!("SELECT team_id FROM tickets WHERE id = {}", opened.ticket)
        ),
        Some(team.0)
    );
    let mut bad = oxidesk::tickets::NewTicket::new(
        oxidesk::model::Source::Web,
        "payer@example.com",
        "Payer",
        "Invoice",
        oxidesk::tickets::Body::text("again"),
    );
    bad.team = Some(TeamId(999));
    assert!(
        oxidesk::tickets::open(&d.store, &oxidesk::tickets::events::Actor::System, bad).is_err()
    );
}

/// The team queue and the team counts read tickets_team_status: a range
/// per team, whatever the size of the helpdesk.
#[test]
fn team_queue_and_counts_read_the_team_index() {
    use oxidesk::store::queues::{page_sql, Filters, Queue, Scope, Sort};
    let d = desk();
    let conn = d.store.conn().unwrap();
    teams::create(
        &conn,
        &TeamFields {
            name: "Night shift".into(),
            lead_id: None,
            active: true,
            members: vec![d.bob],
        },
    )
    .unwrap();
    let plan = |sql: &str, args: Vec<rusqlite::types::Value>| -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.join(" | ")
    };
    for admin in [false, true] {
        let scope = Scope {
            staff: d.bob,
            admin,
        };
        let (sql, args) = page_sql(
            scope,
            Queue::Team,
            &Filters::default(),
            Sort::default(),
            51,
            0,
        );
        let text = plan(&sql, args);
        assert!(text.contains("tickets_team_status"), "{text}");
        assert!(
            !text.contains("SCAN t |") && !text.ends_with("SCAN t"),
            "{text}"
        );
    }
    // Agents' other queues keep their own indexes with the team clause in
    // the scope.
    let scope = Scope {
        staff: d.bob,
        admin: false,
    };
    let (sql, args) = page_sql(
        scope,
        Queue::Open,
        &Filters::default(),
        Sort::default(),
        51,
        0,
    );
    let text = plan(&sql, args);
    assert!(!text.contains("TEMP B-TREE"), "{text}");
    // The counts run and include the team's tickets for a member.
    let counts = oxidesk::store::queues::counts(&conn, scope).unwrap();
    assert!(counts.in_teams);
    assert_eq!((counts.team, counts.open), (0, 0));
}
