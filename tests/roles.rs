//! Roles, permissions, teams and staff administration: the permission
//! matrix (each permission denied when the role lacks it, enough on its
//! own when granted), team visibility, disabling and resetting staff, the
//! admin pages for staff, roles and teams, and their audit events.

mod web_support;

#[path = "roles/admin.rs"]
mod admin;
#[path = "roles/permissions.rs"]
mod permissions;
#[path = "roles/teams.rs"]
mod teams;

use rocket::http::Status;
use rocket::local::blocking::Client;

use oxidesk::model::{DepartmentId, RoleId};
use oxidesk::store::roles;
use web_support::*;

pub const ALL: [&str; 11] = [
    "reply", "note", "assign", "transfer", "close", "delete", "merge", "edit", "ban", "canned",
    "reports",
];

/// Give Alice's Support membership a fresh role with exactly `perms`.
pub fn give_alice(d: &Desk, perms: &[&str]) -> RoleId {
    let conn = d.store.conn().unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM roles", [], |r| r.get(0))
        .unwrap();
    let role = roles::create(&conn, &format!("Test role {n}"), perms).unwrap();
    roles::set_memberships(&conn, d.alice, &[(DepartmentId(1), role)]).unwrap();
    role
}

pub fn all_but(p: &str) -> Vec<&'static str> {
    ALL.into_iter().filter(|x| *x != p).collect()
}

pub fn multipart_post(c: &Client, url: &str, fields: &[(&str, &str)]) -> Status {
    let (ct, data) = multipart(&csrf(c), fields, &[]);
    c.post(url.to_string())
        .header(ct)
        .body(data)
        .dispatch()
        .status()
}

pub fn number(d: &Desk, t: oxidesk::model::TicketId) -> String {
    q(d, &format!("SELECT number FROM tickets WHERE id = {t}"))
}
