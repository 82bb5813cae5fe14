//! SLA plans, due dates, the overdue task, auto-assignment and the admin
//! pages behind them. Real SQLite files in temp dirs; the clock of the
//! overdue task is passed in, never slept for.

#[allow(dead_code)] // each test file uses some of the shared helpers
mod common;
mod web_support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use rocket::http::Status as HttpStatus;
use rusqlite::{params, Connection};
use serde_json::Value;

use oxidesk::model::{
    DepartmentId, HelpTopicId, PriorityId, SlaPlanId, Source, StaffId, Status, TicketId,
};
use oxidesk::store::queues::{self, Filters, Queue, Scope, Sort};
use oxidesk::store::sla::{self as sla_store, AssignStrategy, Interval, PlanFields};
use oxidesk::store::{self, staff, Store, StoreOptions};
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::sla::{self, overdue};
use oxidesk::tickets::{self, Body, NewMessage, NewTicket, Reply};
use web_support::{body, login, post_form, q};

const BIN: &str = env!("CARGO_BIN_EXE_oxidesk");

fn open_store(path: &Path) -> Store {
    Store::open(&StoreOptions::new(path)).unwrap()
}

fn staff_member(c: &Connection, email: &str, name: &str, dept: Option<DepartmentId>) -> StaffId {
    let id = staff::create(c, email, name, "x", false, false).unwrap();
    if let Some(d) = dept {
        staff::set_membership(c, id, d, true).unwrap();
    }
    id
}

/// Saturday to Wednesday 08:00–16:00 in Tehran, Thursday 08:00–12:00.
fn tehran_schedule(c: &Connection) -> i64 {
    let mut hours = Vec::new();
    for weekday in [5u8, 6, 0, 1, 2] {
        hours.push(Interval {
            weekday,
            start_min: 8 * 60,
            end_min: 16 * 60,
        });
    }
    hours.push(Interval {
        weekday: 3,
        start_min: 8 * 60,
        end_min: 12 * 60,
    });
    sla_store::create_schedule(c, "Tehran office", "Asia/Tehran", &hours).unwrap()
}

fn plan(c: &Connection, name: &str, grace_minutes: i64, schedule_id: i64) -> SlaPlanId {
    sla_store::create_plan(
        c,
        &PlanFields {
            name,
            grace_minutes,
            schedule_id,
            active: true,
            escalate_priority: false,
            escalate_to: None,
            overdue_alerts: true,
        },
    )
    .unwrap()
}

/// An independent reference: walk second by second from `start`, counting
/// the seconds the Tehran office is open, until `grace` seconds are counted.
fn tehran_due_by_walking(start: i64, grace: i64) -> i64 {
    let tz: Tz = "Asia/Tehran".parse().unwrap();
    let mut counted = 0;
    let mut t = start;
    while counted < grace {
        let local = tz.timestamp_opt(t, 0).unwrap();
        let minute = local.hour() * 60 + local.minute();
        let open = match local.weekday().num_days_from_monday() {
            5 | 6 | 0 | 1 | 2 => (480..960).contains(&minute),
            3 => (480..720).contains(&minute),
            _ => false,
        };
        if open {
            counted += 1;
        }
        t += 1;
    }
    t
}

fn pipe(db: &Path, raw: &str) -> String {
    let mut child = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .arg("pipe")
        .env("OXIDESK_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "pipe failed: {err}");
    common::ticket_number(err.lines().last().unwrap_or_default())
}

fn run(db: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env("OXIDESK_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn show(db: &Path, number: &str) -> Value {
    let (code, out, err) = run(db, &["ticket", "show", number, "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn mail(from: &str, id: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: hosting@desk.example\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Mon, 23 Nov 2026 03:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nسرور ما از کار افتاده است.\r\n"
    )
}

#[test]
fn a_piped_ticket_gets_its_departments_plan_and_a_business_hours_due_date() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.db");
    let store = open_store(&db);
    let conn = store.conn().unwrap();
    let schedule = tehran_schedule(&conn);
    let hosting_plan = plan(&conn, "Hosting 4h", 4 * 60, schedule);
    let hosting = staff::create_department(&conn, "Hosting").unwrap();
    sla_store::set_department_defaults(&conn, hosting, Some(hosting_plan), AssignStrategy::None)
        .unwrap();
    store::settings::set(
        &conn,
        "tickets.default_department_id",
        &hosting.0.to_string(),
    )
    .unwrap();
    drop(conn);

    let number = pipe(&db, &mail("sara@example.ir", "a1@example.ir", "سرور"));
    let v = show(&db, &number);
    let created = v["created_at"].as_i64().unwrap();
    assert_eq!(v["department"], "Hosting");
    assert_eq!(v["sla"]["plan"], "Hosting 4h");
    assert_eq!(v["sla"]["plan_explicit"], false);
    assert_eq!(v["sla"]["started_at"].as_i64(), Some(created));
    assert_eq!(v["is_overdue"], false);
    assert_eq!(v["resolved_at"], Value::Null);
    assert_eq!(
        v["due_at"].as_i64(),
        Some(tehran_due_by_walking(created, 4 * 3600)),
        "4 business hours of the Tehran office from {created}"
    );
}

#[test]
fn the_plan_comes_from_the_rule_then_topic_then_department_then_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("desk.db"));
    let conn = store.conn().unwrap();
    let (p_topic, p_dept, p_rule) = (
        plan(&conn, "Topic", 60, 1),
        plan(&conn, "Department", 120, 1),
        plan(&conn, "Rule", 180, 1),
    );
    let dept = staff::create_department(&conn, "Billing").unwrap();
    sla_store::set_department_defaults(&conn, dept, Some(p_dept), AssignStrategy::None).unwrap();
    conn.execute(
        "INSERT INTO help_topics (id, name, department_id, created_at) VALUES (7, 'Invoices', ?1, 0)",
        [dept],
    )
    .unwrap();
    sla_store::set_help_topic_plan(&conn, HelpTopicId(7), Some(p_topic)).unwrap();
    drop(conn);
    let open = |topic: Option<i64>, dept: Option<DepartmentId>, plan: Option<SlaPlanId>| {
        let mut n = NewTicket::new(
            Source::Api,
            "c@example.com",
            "C",
            "Question",
            Body::text("Hello"),
        );
        n.help_topic = topic.map(HelpTopicId);
        n.department = dept;
        n.sla_plan = plan;
        let t = tickets::open(&store, &Actor::System, n).unwrap().ticket;
        let s = store::sla_tickets::get(&store.conn().unwrap(), t)
            .unwrap()
            .unwrap();
        (
            s.sla_plan_id,
            s.sla_plan_explicit,
            s.due_at.map(|d| d - s.created_at),
        )
    };
    assert_eq!(
        open(Some(7), None, Some(p_rule)),
        (Some(p_rule), true, Some(180 * 60))
    );
    assert_eq!(
        open(Some(7), None, None),
        (Some(p_topic), false, Some(3600))
    );
    assert_eq!(
        open(None, Some(dept), None),
        (Some(p_dept), false, Some(7200))
    );
    // Support has no plan: the seeded default (18 h, 24/7).
    assert_eq!(
        open(None, Some(DepartmentId(1)), None),
        (Some(SlaPlanId(1)), false, Some(18 * 3600))
    );
    // An inactive plan is skipped: the department's applies.
    store
        .conn()
        .unwrap()
        .execute("UPDATE sla_plans SET active = 0 WHERE id = ?1", [p_topic])
        .unwrap();
    assert_eq!(open(Some(7), None, None), (Some(p_dept), false, Some(7200)));
    // No default: no plan, no due date.
    store::settings::set(&store.conn().unwrap(), "tickets.default_sla_plan_id", "").unwrap();
    assert_eq!(open(None, Some(DepartmentId(1)), None), (None, false, None));
    // A plan that does not exist is refused.
    let mut n = NewTicket::new(Source::Api, "c@example.com", "C", "Q", Body::text("x"));
    n.sla_plan = Some(SlaPlanId(999));
    assert!(tickets::open(&store, &Actor::System, n).is_err());
}

fn outbox_count(c: &Connection, kind: &str, ticket: TicketId) -> i64 {
    c.query_row(
        "SELECT COUNT(*) FROM outbox WHERE kind = ?1 AND ticket_id = ?2",
        params![kind, ticket],
        |r| r.get(0),
    )
    .unwrap()
}

fn event_kinds(c: &Connection, ticket: TicketId) -> Vec<String> {
    let mut s = c
        .prepare("SELECT kind FROM events WHERE ticket_id = ?1 ORDER BY id")
        .unwrap();
    s.query_map([ticket], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_overdue_task_marks_alerts_once_escalates_and_starts_over_after_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("desk.db"));
    let conn = store.conn().unwrap();
    let alice = staff_member(&conn, "alice@desk.test", "Alice", Some(DepartmentId(1)));
    let bob = staff_member(&conn, "bob@desk.test", "Bob", Some(DepartmentId(1)));
    let urgent = sla_store::create_plan(
        &conn,
        &PlanFields {
            name: "Urgent",
            grace_minutes: 60,
            schedule_id: 1,
            active: true,
            escalate_priority: true,
            escalate_to: Some(bob),
            overdue_alerts: true,
        },
    )
    .unwrap();
    let escalations = staff::create_department(&conn, "Escalations").unwrap();
    drop(conn);
    let mut n = NewTicket::new(
        Source::Api,
        "dana@example.org",
        "Dana",
        "Site down",
        Body::text("Everything is down"),
    );
    n.sla_plan = Some(urgent);
    n.assignee = Some(alice);
    let t = tickets::open(&store, &Actor::System, n).unwrap().ticket;
    let conn = store.conn().unwrap();
    let ticket = |c: &Connection| store::tickets::get(c, t).unwrap();
    let due = ticket(&conn).due_at.unwrap();
    assert_eq!(due, ticket(&conn).created_at + 3600);

    // Not yet due: nothing happens.
    assert_eq!(overdue::run(&store, due - 1).unwrap().marked, 0);
    assert!(!ticket(&conn).is_overdue);

    // Due: marked, alerted (to the assignee), escalated.
    let s = overdue::run(&store, due + 1).unwrap();
    assert_eq!((s.marked, s.priority_raised, s.reassigned), (1, 1, 1));
    let after = ticket(&conn);
    assert!(after.is_overdue);
    assert_eq!(after.priority_id, PriorityId(3), "normal → high");
    assert_eq!(after.assignee_id, Some(bob));
    let kinds = event_kinds(&conn, t);
    let tail: Vec<&str> = kinds
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(tail, ["overdue", "priority_changed", "assigned"]);
    assert_eq!(outbox_count(&conn, "alert_overdue", t), 1);
    let to: String = conn
        .query_row(
            "SELECT recipients FROM outbox WHERE kind = 'alert_overdue' AND ticket_id = ?1",
            [t],
            |r| r.get(0),
        )
        .unwrap();
    assert!(to.contains("alice@desk.test"), "{to}");
    assert_eq!(
        outbox_count(&conn, "alert_assigned", t),
        1,
        "Bob hears of it"
    );

    // The Overdue queue and its count show it.
    let admin = Scope {
        staff: alice,
        admin: true,
    };
    assert_eq!(queues::counts(&conn, admin).unwrap().overdue, 1);
    let rows = queues::page(
        &conn,
        admin,
        Queue::Overdue,
        &Filters::default(),
        Sort::default(),
        50,
        0,
    )
    .unwrap();
    assert_eq!(rows.len(), 1);

    // Running again in the same episode: no second alert, no second step up.
    assert_eq!(overdue::run(&store, due + 600).unwrap().marked, 0);
    assert_eq!(outbox_count(&conn, "alert_overdue", t), 1);
    assert_eq!(ticket(&conn).priority_id, PriorityId(3));

    // An answer ends the wait: no due date, no marker, first response kept.
    let bob_actor = Actor::Staff {
        id: bob,
        name: "Bob".into(),
    };
    tickets::add_response(
        &store,
        &bob_actor,
        t,
        Reply {
            body: Body::text("Looking into it"),
            ..Reply::default()
        },
    )
    .unwrap();
    let answered = ticket(&conn);
    assert_eq!(answered.status, Status::Answered);
    assert_eq!((answered.due_at, answered.is_overdue), (None, false));
    assert!(answered.first_response_at.is_some());
    assert_eq!(queues::counts(&conn, admin).unwrap().overdue, 0);

    // The customer writes again: the clock restarts from that message.
    tickets::append_message(
        &store,
        &Actor::System,
        t,
        NewMessage {
            body: Body::text("Still down"),
            ..NewMessage::default()
        },
    )
    .unwrap();
    let again = ticket(&conn);
    let s = store::sla_tickets::get(&conn, t).unwrap().unwrap();
    assert_eq!(again.status, Status::Open);
    assert_eq!(s.sla_started_at, again.last_message_at);
    assert_eq!(again.due_at, again.last_message_at.map(|m| m + 3600));
    // A second message while waiting does not push the deadline back.
    tickets::append_message(
        &store,
        &Actor::System,
        t,
        NewMessage {
            body: Body::text("Hello?"),
            ..NewMessage::default()
        },
    )
    .unwrap();
    assert_eq!(ticket(&conn).due_at, again.due_at);

    // Past due again: a new episode, a new alert (now to Bob).
    let due2 = again.due_at.unwrap();
    assert_eq!(overdue::run(&store, due2 + 1).unwrap().marked, 1);
    assert_eq!(outbox_count(&conn, "alert_overdue", t), 2);
    assert_eq!(ticket(&conn).priority_id, PriorityId(4), "high → emergency");
    // At the top rank there is nothing to raise.
    tickets::set_due(&store, &bob_actor, t, Some(due2 + 10)).unwrap();
    let s = overdue::run(&store, due2 + 11).unwrap();
    assert_eq!((s.marked, s.priority_raised, s.reassigned), (1, 0, 0));
    // A due date set by hand is a promise: an answer does not clear it.
    tickets::add_response(
        &store,
        &bob_actor,
        t,
        Reply {
            body: Body::text("Fixed, please check"),
            ..Reply::default()
        },
    )
    .unwrap();
    assert_eq!(ticket(&conn).due_at, Some(due2 + 10));
    tickets::transfer(&store, &bob_actor, t, escalations).unwrap();
    assert_eq!(ticket(&conn).due_at, Some(due2 + 10));

    // Resolving ends it and records the resolution time.
    tickets::set_status(&store, &bob_actor, t, Status::Resolved).unwrap();
    let done = store::sla_tickets::get(&conn, t).unwrap().unwrap();
    assert_eq!((done.due_at, done.is_overdue), (None, false));
    assert!(done.resolved_at.is_some());
    let (first, resolution) = sla::response_times(&done);
    assert!(first.is_some_and(|s| s >= 0) && resolution.is_some_and(|s| s >= 0));
    // Reopening clears the resolution and starts a new wait.
    tickets::set_status(&store, &bob_actor, t, Status::Open).unwrap();
    let reopened = store::sla_tickets::get(&conn, t).unwrap().unwrap();
    assert_eq!(reopened.resolved_at, None);
    assert!(reopened.due_at.is_some());
}

#[test]
fn a_plan_without_overdue_alerts_marks_silently() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("desk.db"));
    let conn = store.conn().unwrap();
    let alice = staff_member(&conn, "alice@desk.test", "Alice", Some(DepartmentId(1)));
    let quiet = sla_store::create_plan(
        &conn,
        &PlanFields {
            name: "Quiet",
            grace_minutes: 30,
            schedule_id: 1,
            active: true,
            escalate_priority: false,
            escalate_to: None,
            overdue_alerts: false,
        },
    )
    .unwrap();
    drop(conn);
    let mut n = NewTicket::new(Source::Web, "e@example.org", "E", "Q", Body::text("x"));
    n.sla_plan = Some(quiet);
    n.assignee = Some(alice);
    let t = tickets::open(&store, &Actor::System, n).unwrap().ticket;
    let conn = store.conn().unwrap();
    let due = store::tickets::get(&conn, t).unwrap().due_at.unwrap();
    assert_eq!(
        overdue::run(&store, due).unwrap().marked,
        1,
        "due at `now` is overdue"
    );
    assert!(store::tickets::get(&conn, t).unwrap().is_overdue);
    assert_eq!(outbox_count(&conn, "alert_overdue", t), 0);
    assert_eq!(
        event_kinds(&conn, t).last().map(String::as_str),
        Some("overdue")
    );
}

#[test]
fn transfer_and_help_topic_change_rederive_an_inherited_plan() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("desk.db"));
    let conn = store.conn().unwrap();
    let (one, ten, topic_plan) = (
        plan(&conn, "One", 60, 1),
        plan(&conn, "Ten", 600, 1),
        plan(&conn, "Five", 300, 1),
    );
    let a = staff::create_department(&conn, "A").unwrap();
    let b = staff::create_department(&conn, "B").unwrap();
    sla_store::set_department_defaults(&conn, a, Some(one), AssignStrategy::None).unwrap();
    sla_store::set_department_defaults(&conn, b, Some(ten), AssignStrategy::None).unwrap();
    conn.execute(
        "INSERT INTO help_topics (id, name, created_at) VALUES (3, 'Domains', 0)",
        [],
    )
    .unwrap();
    sla_store::set_help_topic_plan(&conn, HelpTopicId(3), Some(topic_plan)).unwrap();
    drop(conn);
    let open = |explicit: Option<SlaPlanId>| {
        let mut n = NewTicket::new(Source::Api, "f@example.org", "F", "Q", Body::text("x"));
        n.department = Some(a);
        n.sla_plan = explicit;
        tickets::open(&store, &Actor::System, n).unwrap().ticket
    };
    let state = |t: TicketId| {
        let s = store::sla_tickets::get(&store.conn().unwrap(), t)
            .unwrap()
            .unwrap();
        (
            s.sla_plan_id,
            s.due_at.map(|d| d - s.sla_started_at.unwrap()),
        )
    };
    let inherited = open(None);
    assert_eq!(state(inherited), (Some(one), Some(3600)));
    tickets::transfer(&store, &Actor::System, inherited, b).unwrap();
    assert_eq!(
        state(inherited),
        (Some(ten), Some(36_000)),
        "B's plan, from the same start"
    );
    tickets::set_help_topic(&store, &Actor::System, inherited, Some(HelpTopicId(3))).unwrap();
    assert_eq!(state(inherited), (Some(topic_plan), Some(18_000)));
    let kinds = event_kinds(&store.conn().unwrap(), inherited);
    assert_eq!(kinds.last().map(String::as_str), Some("help_topic_changed"));
    assert!(
        tickets::set_help_topic(&store, &Actor::System, inherited, Some(HelpTopicId(99))).is_err()
    );

    // A plan named for the ticket stays through a transfer.
    let named = open(Some(one));
    tickets::transfer(&store, &Actor::System, named, b).unwrap();
    assert_eq!(state(named), (Some(one), Some(3600)));
    // An agent can put it under another plan by hand.
    sla::set_plan(&store, &Actor::System, named, Some(ten)).unwrap();
    assert_eq!(state(named), (Some(ten), Some(36_000)));
}

#[test]
fn round_robin_and_least_open_assign_available_members_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("desk.db"));
    let conn = store.conn().unwrap();
    let d = staff::create_department(&conn, "Servers").unwrap();
    let alice = staff_member(&conn, "alice@desk.test", "Alice", Some(d));
    let carol = staff_member(&conn, "carol@desk.test", "Carol", Some(d));
    let dave = staff_member(&conn, "dave@desk.test", "Dave", Some(d));
    let erin = staff_member(&conn, "erin@desk.test", "Erin", Some(d));
    let _bob = staff_member(&conn, "bob@desk.test", "Bob", None);
    store::sla_tickets::set_away(&conn, dave, true).unwrap();
    conn.execute("UPDATE staff SET active = 0 WHERE id = ?1", [erin])
        .unwrap();
    sla_store::set_department_defaults(&conn, d, None, AssignStrategy::RoundRobin).unwrap();
    drop(conn);
    let open = |assignee: Option<StaffId>| {
        let mut n = NewTicket::new(Source::Api, "g@example.org", "G", "Q", Body::text("x"));
        n.department = Some(d);
        n.assignee = assignee;
        let t = tickets::open(&store, &Actor::System, n).unwrap().ticket;
        (
            t,
            store::tickets::get(&store.conn().unwrap(), t)
                .unwrap()
                .assignee_id,
        )
    };
    let picks: Vec<Option<StaffId>> = (0..4).map(|_| open(None).1).collect();
    assert_eq!(picks, [Some(alice), Some(carol), Some(alice), Some(carol)]);
    let (t, _) = open(None);
    let conn = store.conn().unwrap();
    assert_eq!(event_kinds(&conn, t), ["created", "assigned"]);
    assert_eq!(outbox_count(&conn, "alert_assigned", t), 1);
    // Named on opening: no auto-assignment.
    let (t, who) = open(Some(dave));
    assert_eq!(who, Some(dave));
    assert_eq!(event_kinds(&conn, t), ["created"]);

    // Dave is back: least-open gives him the next tickets until he catches up.
    store::sla_tickets::set_away(&conn, dave, false).unwrap();
    sla_store::set_department_defaults(&conn, d, None, AssignStrategy::LeastOpen).unwrap();
    // Open tickets now: Alice 3, Carol 2, Dave 1.
    let picks: Vec<Option<StaffId>> = (0..4).map(|_| open(None).1).collect();
    assert_eq!(picks, [Some(dave), Some(carol), Some(dave), Some(alice)]);
    // Resolved tickets do not count as load.
    let dave_tickets: Vec<i64> = {
        let mut s = conn
            .prepare("SELECT id FROM tickets WHERE assignee_id = ?1")
            .unwrap();
        s.query_map([dave], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for id in dave_tickets {
        tickets::set_status(&store, &Actor::System, TicketId(id), Status::Resolved).unwrap();
    }
    assert_eq!(open(None).1, Some(dave));
    // A member whose role cannot reply ("View only") is never picked.
    for s in [alice, carol] {
        store::sla_tickets::set_away(&conn, s, true).unwrap();
    }
    conn.execute(
        "UPDATE staff_departments SET role_id = (SELECT id FROM roles WHERE name = 'View only')
         WHERE staff_id = ?1",
        [dave],
    )
    .unwrap();
    assert_eq!(open(None).1, None);
    // Nobody available: the ticket stays unassigned.
    conn.execute(
        "UPDATE staff_departments SET role_id = (SELECT id FROM roles WHERE name = 'Expanded access')
         WHERE staff_id = ?1",
        [dave],
    )
    .unwrap();
    assert_eq!(open(None).1, Some(dave));
    store::sla_tickets::set_away(&conn, dave, true).unwrap();
    assert_eq!(open(None).1, None);
}

#[test]
fn sla_run_from_cron_marks_what_is_past_due() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.db");
    let store = open_store(&db);
    let t = tickets::open(
        &store,
        &Actor::System,
        NewTicket::new(Source::Email, "h@example.org", "H", "Q", Body::text("x")),
    )
    .unwrap()
    .ticket;
    store
        .conn()
        .unwrap()
        .execute("UPDATE tickets SET due_at = 1000000000 WHERE id = ?1", [t])
        .unwrap();
    drop(store);
    let (code, out, err) = run(&db, &["sla", "run", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["marked"], 1);
    let (_, out, _) = run(&db, &["sla", "run"]);
    assert!(out.starts_with("0 ticket(s) marked overdue"), "{out}");
    let (_, out, _) = run(&db, &["sla", "plans"]);
    assert!(
        out.contains("Default SLA (default)") && out.contains("24/7"),
        "{out}"
    );
}

// --- admin pages ------------------------------------------------------------

fn audit(d: &web_support::Desk, kind: &str) -> Vec<Value> {
    let c = d.store.conn().unwrap();
    let mut s = c
        .prepare("SELECT data, ticket_id IS NULL, staff_id FROM events WHERE kind = ?1 ORDER BY id")
        .unwrap();
    s.query_map([kind], |r| {
        let data: String = r.get(0)?;
        let no_ticket: bool = r.get(1)?;
        let staff: Option<i64> = r.get(2)?;
        assert!(no_ticket, "audit rows have no ticket");
        let mut v: Value = serde_json::from_str(&data).unwrap();
        v["_staff"] = serde_json::json!(staff);
        Ok(v)
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn admins_manage_plans_with_errors_beside_fields_and_an_audit_trail() {
    let d = web_support::desk();
    let agent = login(&d, "alice@desk.test");
    assert_ne!(agent.get("/admin/sla").dispatch().status(), HttpStatus::Ok);
    let before = q::<i64>(&d, "SELECT COUNT(*) FROM sla_plans");
    let r = post_form(
        &agent,
        "/admin/sla/plans",
        "name=Sneaky&grace_hours=1&schedule=1",
    );
    assert_ne!(r.status(), HttpStatus::SeeOther);
    drop(r);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM sla_plans"), before);

    let admin = login(&d, "admin@desk.test");
    let page = body(admin.get("/admin/sla").dispatch());
    assert!(page.contains("Default SLA"), "{page}");
    assert!(body(admin.get("/admin/sla/plans/new").dispatch()).contains("name=\"grace_hours\""));

    // Bad grace and unknown schedule: 400, messages beside the fields, input kept.
    let r = post_form(
        &admin,
        "/admin/sla/plans",
        "name=%D9%BE%D9%84%D8%A7%D9%86+%D8%B7%D9%84%D8%A7%DB%8C%DB%8C&grace_hours=soon&schedule=99&active=true",
    );
    assert_eq!(r.status(), HttpStatus::BadRequest);
    let html = body(r);
    assert!(html.contains("id=\"err-grace\""), "{html}");
    assert!(html.contains("Enter the grace period in hours"));
    assert!(html.contains("id=\"err-schedule\""));
    assert!(html.contains("value=\"پلان طلایی\""), "typed name kept");

    let bob = d.bob.0;
    let r = post_form(
        &admin,
        "/admin/sla/plans",
        &format!(
            "name=Gold&grace_hours=2:30&schedule=2&active=true&escalate_priority=true&escalate_to={bob}&overdue_alerts=true"
        ),
    );
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    let gold: i64 = q(&d, "SELECT id FROM sla_plans WHERE name = 'Gold'");
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT grace_minutes FROM sla_plans WHERE id = {gold}")
        ),
        150
    );
    let created = audit(&d, "config.sla_plan_created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["name"], "Gold");
    assert_eq!(created[0]["escalate_to_staff_id"], bob);
    assert_eq!(created[0]["_staff"], d.admin.0);

    // A name in use is refused beside the name.
    let r = post_form(
        &admin,
        "/admin/sla/plans",
        "name=gold&grace_hours=1&schedule=1",
    );
    assert_eq!(r.status(), HttpStatus::BadRequest);
    assert!(body(r).contains("id=\"err-name\""));

    // Edit: the form shows the stored values; the audit has before and after.
    let form = body(admin.get(format!("/admin/sla/plans/{gold}")).dispatch());
    assert!(form.contains("value=\"2:30\""), "{form}");
    let r = post_form(
        &admin,
        &format!("/admin/sla/plans/{gold}"),
        "name=Gold&grace_hours=4&schedule=1&active=true&overdue_alerts=true",
    );
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    let updated = audit(&d, "config.sla_plan_updated");
    assert_eq!(updated[0]["before"]["grace_hours"], "2:30");
    assert_eq!(updated[0]["after"]["grace_minutes"], 240);
    assert_eq!(updated[0]["after"]["escalate_to_staff_id"], Value::Null);

    // The default plan.
    let r = post_form(&admin, "/admin/sla/default", &format!("plan={gold}"));
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    assert_eq!(
        q::<String>(
            &d,
            "SELECT value FROM settings WHERE key = 'tickets.default_sla_plan_id'"
        ),
        gold.to_string()
    );
    assert_eq!(audit(&d, "config.settings_updated")[0]["before"], "1");

    // Removing the default plan leaves no default.
    let r = post_form(&admin, &format!("/admin/sla/plans/{gold}/delete"), "");
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM sla_plans WHERE name = 'Gold'"),
        0
    );
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM settings WHERE key = 'tickets.default_sla_plan_id'"
        ),
        0
    );
    assert_eq!(audit(&d, "config.sla_plan_deleted")[0]["name"], "Gold");
}

/// Page text with Tera's escaped slashes put back.
fn text(r: rocket::local::blocking::LocalResponse<'_>) -> String {
    body(r).replace("&#x2F;", "/")
}

#[test]
fn admins_edit_schedules_holidays_and_department_defaults() {
    let d = web_support::desk();
    let admin = login(&d, "admin@desk.test");
    assert!(text(admin.get("/admin/schedules").dispatch()).contains("24/7"));
    let new = text(admin.get("/admin/schedules/new").dispatch());
    assert!(new.contains("value=\"09:00-17:00\"") && new.contains("Asia/Tehran"));

    let r = post_form(
        &admin,
        "/admin/schedules",
        "name=Tehran&timezone=Asia%2FTehran&sat=08%3A00-16%3A00&sun=9-5&mon=13%3A00-18%3A00%2C+08%3A00-12%3A00&tue=&wed=&thu=&fri=",
    );
    assert_eq!(r.status(), HttpStatus::BadRequest);
    let html = text(r);
    assert!(html.contains("id=\"err-sun\""), "9-5 ends before it starts");
    assert!(html.contains("Each interval must end after it starts."));
    assert!(
        html.contains("value=\"13:00-18:00, 08:00-12:00\""),
        "typed hours kept"
    );

    let r = post_form(
        &admin,
        "/admin/schedules",
        "name=Tehran&timezone=Mars%2FOlympus&sat=08%3A00-16%3A00",
    );
    assert_eq!(r.status(), HttpStatus::BadRequest);
    assert!(text(r).contains("id=\"err-tz\""));

    let r = post_form(
        &admin,
        "/admin/schedules",
        "name=Tehran&timezone=Asia%2FTehran&sat=08%3A00-16%3A00&sun=08%3A00-16%3A00&mon=08%3A00-12%3A00%2C13%3A00-17%3A00",
    );
    assert_eq!(r.status(), HttpStatus::SeeOther);
    let to = r.headers().get_one("Location").unwrap().to_string();
    drop(r);
    let id: i64 = q(&d, "SELECT id FROM schedules WHERE name = 'Tehran'");
    assert_eq!(to, format!("/admin/schedules/{id}"));
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT COUNT(*) FROM schedule_hours WHERE schedule_id = {id}")
        ),
        4
    );
    assert_eq!(
        audit(&d, "config.schedule_created")[0]["timezone"],
        "Asia/Tehran"
    );
    let page = text(admin.get(&to).dispatch());
    assert!(
        page.contains("value=\"08:00-12:00, 13:00-17:00\""),
        "{page}"
    );

    // Holidays: a bad date beside the field, then a good one, then removed.
    let r = post_form(&admin, &format!("{to}/holidays"), "day=31%2F12&name=x");
    assert_eq!(r.status(), HttpStatus::BadRequest);
    assert!(text(r).contains("id=\"err-hday\""));
    let r = post_form(
        &admin,
        &format!("{to}/holidays"),
        "day=2027-03-21&name=%D9%86%D9%88%D8%B1%D9%88%D8%B2",
    );
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    let r = post_form(
        &admin,
        &format!("{to}/holidays"),
        "day=2027-03-21&name=again",
    );
    assert_eq!(r.status(), HttpStatus::BadRequest);
    assert!(text(r).contains("already a holiday"));
    assert!(text(admin.get(&to).dispatch()).contains("نوروز"));
    let hid: i64 = q(
        &d,
        "SELECT id FROM schedule_holidays WHERE day = '2027-03-21'",
    );
    let r = post_form(&admin, &format!("{to}/holidays/{hid}/delete"), "");
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    assert_eq!(
        audit(&d, "config.schedule_holiday_added")[0]["name"],
        "نوروز"
    );
    assert_eq!(
        audit(&d, "config.schedule_holiday_removed")[0]["day"],
        "2027-03-21"
    );

    // A schedule in use, and the built-in one, stay.
    d.store
        .conn()
        .unwrap()
        .execute(
            "INSERT INTO sla_plans (name, grace_minutes, schedule_id, created_at, updated_at)
             VALUES ('Tehran 8h', 480, ?1, 0, 0)",
            [id],
        )
        .unwrap();
    let r = post_form(&admin, &format!("{to}/delete"), "");
    assert_eq!(r.status(), HttpStatus::BadRequest);
    assert!(text(r).contains("use this schedule"));
    let r = post_form(&admin, "/admin/schedules/1/delete", "");
    assert_eq!(r.status(), HttpStatus::BadRequest);
    drop(r);
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM schedules WHERE id = 1"),
        1
    );

    // Department defaults.
    let page = text(admin.get("/admin/sla/departments").dispatch());
    assert!(page.contains("Sales") && page.contains("Round robin"));
    let plan: i64 = q(&d, "SELECT id FROM sla_plans WHERE name = 'Tehran 8h'");
    let sales = d.sales.0;
    let r = post_form(
        &admin,
        &format!("/admin/sla/departments/{sales}"),
        &format!("sla_plan={plan}&assign_strategy=least_open"),
    );
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    assert_eq!(
        q::<String>(
            &d,
            &format!("SELECT assign_strategy FROM departments WHERE id = {sales}")
        ),
        "least_open"
    );
    let a = audit(&d, "config.department_sla_updated");
    assert_eq!(a[0]["after"]["assign_strategy"], "least_open");
    assert_eq!(a[0]["after"]["sla_plan_id"], plan);
    assert_eq!(a[0]["before"]["assign_strategy"], "none");
    let r = post_form(
        &admin,
        &format!("/admin/sla/departments/{sales}"),
        "sla_plan=&assign_strategy=whoever",
    );
    assert_eq!(r.status(), HttpStatus::BadRequest);
}

#[test]
fn agents_set_themselves_away_on_their_account_page() {
    let d = web_support::desk();
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get("/account/password").dispatch());
    assert!(page.contains("You are available"), "{page}");
    let r = post_form(&alice, "/account/away", "away=true");
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    let a = d.alice.0;
    assert!(q::<bool>(
        &d,
        &format!("SELECT away FROM staff WHERE id = {a}")
    ));
    assert!(body(alice.get("/account/password").dispatch()).contains("You are away"));
    let r = post_form(&alice, "/account/away", "away=false");
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    assert!(!q::<bool>(
        &d,
        &format!("SELECT away FROM staff WHERE id = {a}")
    ));
}

#[test]
fn the_ticket_page_shows_the_plan_and_agents_with_edit_change_plan_and_topic() {
    let d = web_support::desk();
    let c = d.store.conn().unwrap();
    let rush = plan(&c, "Rush", 30, 1);
    c.execute(
        "INSERT INTO help_topics (id, name, created_at) VALUES (5, 'Billing', 0)",
        [],
    )
    .unwrap();
    let five = plan(&c, "Five hours", 300, 1);
    sla_store::set_help_topic_plan(&c, HelpTopicId(5), Some(five)).unwrap();
    drop(c);
    let t = d.ticket.0;
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(
        page.contains("Service levels") && page.contains("First response"),
        "{page}"
    );
    assert!(page.contains(
        "action=\"/tickets/{t}/sla\""
            .replace("{t}", &t.to_string())
            .as_str()
    ));

    // A help topic with its own plan: the inherited plan follows it.
    let r = post_form(&alice, &format!("/tickets/{t}/topic"), "help_topic=5");
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    let s = store::sla_tickets::get(&d.store.conn().unwrap(), d.ticket)
        .unwrap()
        .unwrap();
    assert_eq!((s.sla_plan_id, s.sla_plan_explicit), (Some(five), false));
    assert_eq!(s.due_at, s.sla_started_at.map(|x| x + 300 * 60));

    // Naming a plan by hand.
    let r = post_form(
        &alice,
        &format!("/tickets/{t}/sla"),
        &format!("plan={rush}"),
    );
    assert_eq!(r.status(), HttpStatus::SeeOther);
    drop(r);
    let s = store::sla_tickets::get(&d.store.conn().unwrap(), d.ticket)
        .unwrap()
        .unwrap();
    assert_eq!((s.sla_plan_id, s.sla_plan_explicit), (Some(rush), true));
    assert_eq!(s.due_at, s.sla_started_at.map(|x| x + 30 * 60));
    let r = post_form(&alice, &format!("/tickets/{t}/sla"), "plan=banana");
    assert_eq!(r.status(), HttpStatus::BadRequest);
    drop(r);
    let r = post_form(&alice, &format!("/tickets/{t}/topic"), "help_topic=404");
    assert_eq!(r.status(), HttpStatus::BadRequest);
    drop(r);

    // Without the edit permission: read-only, and the changes are refused.
    let conn = d.store.conn().unwrap();
    let all: Vec<&str> = oxidesk::tickets::permissions::Permission::ALL
        .iter()
        .map(|p| p.as_str())
        .filter(|p| *p != "edit")
        .collect();
    let role = store::roles::create(&conn, "No edit", &all).unwrap();
    store::roles::set_memberships(&conn, d.alice, &[(DepartmentId(1), role)]).unwrap();
    drop(conn);
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("Rush") && !page.contains(&format!("/tickets/{t}/sla\"")));
    let r = post_form(&alice, &format!("/tickets/{t}/sla"), "plan=");
    assert_eq!(r.status(), HttpStatus::Forbidden);
    drop(r);
    let r = post_form(&alice, &format!("/tickets/{t}/topic"), "help_topic=");
    assert_eq!(r.status(), HttpStatus::Forbidden);
    drop(r);
    // Bob (Sales) does not see the Support ticket at all.
    let bob = login(&d, "bob@desk.test");
    let r = post_form(&bob, &format!("/tickets/{t}/sla"), "plan=");
    assert_eq!(r.status(), HttpStatus::NotFound);
}

#[test]
fn the_task_serve_starts_marks_within_its_interval_and_stops_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("desk.db"));
    staff::create(
        &store.conn().unwrap(),
        "root@desk.test",
        "Root",
        "x",
        true,
        false,
    )
    .unwrap();
    let t = tickets::open(
        &store,
        &Actor::System,
        NewTicket::new(Source::Web, "i@example.org", "I", "Q", Body::text("x")),
    )
    .unwrap()
    .ticket;
    store
        .conn()
        .unwrap()
        .execute("UPDATE tickets SET due_at = 1000000000 WHERE id = ?1", [t])
        .unwrap();
    let task = overdue::spawn(store.clone(), std::time::Duration::from_millis(20));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !store::tickets::get(&store.conn().unwrap(), t)
        .unwrap()
        .is_overdue
    {
        assert!(std::time::Instant::now() < deadline, "the task never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(task);
    // No assignee, no manager, no members: the administrators hear of it.
    assert_eq!(
        store::tickets::get(&store.conn().unwrap(), t)
            .unwrap()
            .assignee_id,
        None
    );
    let to: String = store
        .conn()
        .unwrap()
        .query_row(
            "SELECT group_concat(recipients, ' ') FROM outbox WHERE kind = 'alert_overdue' AND ticket_id = ?1",
            [t],
            |r| r.get(0),
        )
        .unwrap();
    assert!(to.contains("root@desk.test"), "{to}");
    assert_eq!(
        event_kinds(&store.conn().unwrap(), t)
            .last()
            .map(String::as_str),
        Some("overdue")
    );
}
