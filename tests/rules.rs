//! Ticket filters and the ban list: the engine on real tickets from every
//! source, mail intake (in process and through the real `oxidesk pipe`),
//! and the admin pages (/admin/filters, the test form, /admin/bans).

mod web_support;

#[path = "rules/admin.rs"]
mod admin;
#[path = "rules/engine.rs"]
mod engine;

use oxidesk::model::{Source, StaffId, TicketId};
use oxidesk::store::filters::{self as sf, ActionRow, ConditionRow, FilterSpec};
use oxidesk::store::{self, Store, StoreOptions};
use oxidesk::tickets::intake::IntakeOptions;
use oxidesk::tickets::{Body, NewTicket};

pub fn cond(field: &str, header: &str, op: &str, value: &str) -> ConditionRow {
    ConditionRow {
        field: field.into(),
        header: header.into(),
        op: op.into(),
        value: value.into(),
    }
}

pub fn act(kind: &str, value: &str) -> ActionRow {
    ActionRow {
        kind: kind.into(),
        value: value.into(),
    }
}

pub fn spec(name: &str, conditions: Vec<ConditionRow>, actions: Vec<ActionRow>) -> FilterSpec {
    FilterSpec {
        name: name.into(),
        active: true,
        match_all: true,
        stop_processing: false,
        sources: String::new(),
        notes: String::new(),
        conditions,
        actions,
    }
}

pub fn add_filter(store: &Store, s: FilterSpec) -> i64 {
    sf::create(&store.conn().unwrap(), &s).unwrap()
}

pub fn one<T: rusqlite::types::FromSql>(store: &Store, sql: &str, p: impl rusqlite::Params) -> T {
    store
        .conn()
        .unwrap()
        .query_row(sql, p, |r| r.get(0))
        .unwrap()
}

pub fn web(email: &str, subject: &str, body: &str) -> NewTicket {
    NewTicket::new(Source::Web, email, "Customer", subject, Body::text(body))
}

pub fn ticket_row(store: &Store, id: TicketId) -> oxidesk::model::Ticket {
    store::tickets::get(&store.conn().unwrap(), id).unwrap()
}

pub fn event_kinds(store: &Store, id: TicketId) -> Vec<String> {
    let conn = store.conn().unwrap();
    let mut st = conn
        .prepare("SELECT kind FROM events WHERE ticket_id = ?1 ORDER BY id")
        .unwrap();
    let rows = st.query_map([id], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

pub fn opts() -> IntakeOptions {
    IntakeOptions {
        max_message_bytes: 10 * 1024 * 1024,
        plugins: None,
    }
}

/// A desk with a Billing department and an agent, Bea.
pub struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    db: std::path::PathBuf,
    billing: i64,
    bea: StaffId,
}

pub fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.db");
    let store = Store::open(&StoreOptions::new(&db)).unwrap();
    let conn = store.conn().unwrap();
    let billing = store::staff::create_department(&conn, "Billing").unwrap().0;
    let bea = store::staff::create(&conn, "bea@desk.test", "Bea", "x", false, false).unwrap();
    drop(conn);
    Setup {
        _dir: dir,
        store,
        db,
        billing,
        bea,
    }
}

pub const MAIL: &str = "From: Carol Customer <carol@customer.example>\r\n\
To: Support <support@helpdesk.example>\r\n\
Delivered-To: billing@helpdesk.example\r\n\
X-Customer-Tier: gold\r\n\
Subject: =?UTF-8?B?2LXZiNix2KrYrdiz2KfYqA==?= invoice\r\n\
Message-ID: <m1@customer.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Please check my invoice.\r\n";
