//! Who may do what to a ticket, decided in one place.
//!
//! An agent's permissions on a ticket are those of the role of their
//! membership in the ticket's department; on a ticket they see only because
//! it is assigned to them or to one of their teams, those of the default
//! role. Administrators may do everything. Whether the ticket is visible at
//! all is the viewer's `Scope` (a ticket outside it is not found); this
//! module answers the next question: may they act on it.

use rusqlite::Connection;
use serde::Serialize;

use crate::model::{DepartmentId, Status, TicketId};
use crate::store::queues::Scope;
use crate::store::{roles, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Respond to the customer.
    Reply,
    /// Add internal notes.
    Note,
    /// Assign to an agent or a team.
    Assign,
    /// Move to another department.
    Transfer,
    /// Resolve or close.
    Close,
    /// Delete tickets.
    Delete,
    /// Merge into another ticket.
    Merge,
    /// Change subject, priority, due date and the other fields.
    Edit,
    /// Mark as spam and ban the sender.
    Ban,
    /// Manage shared canned responses.
    Canned,
    /// See reports.
    Reports,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::Reply,
        Permission::Note,
        Permission::Assign,
        Permission::Transfer,
        Permission::Close,
        Permission::Delete,
        Permission::Merge,
        Permission::Edit,
        Permission::Ban,
        Permission::Canned,
        Permission::Reports,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Reply => "reply",
            Permission::Note => "note",
            Permission::Assign => "assign",
            Permission::Transfer => "transfer",
            Permission::Close => "close",
            Permission::Delete => "delete",
            Permission::Merge => "merge",
            Permission::Edit => "edit",
            Permission::Ban => "ban",
            Permission::Canned => "canned",
            Permission::Reports => "reports",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The permission a status change needs: resolving or closing needs
    /// `Close`; any other move (reopening, pending) is an edit.
    pub fn for_status(to: Status) -> Permission {
        if to.is_done() {
            Permission::Close
        } else {
            Permission::Edit
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions(u16);

impl Permissions {
    pub fn all() -> Permissions {
        Permission::ALL.into_iter().collect()
    }

    pub fn none() -> Permissions {
        Permissions(0)
    }

    pub fn has(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
    }

    /// From stored names; unknown names (a permission since removed) are
    /// ignored.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Permissions {
        names
            .iter()
            .filter_map(|n| Permission::parse(n.as_ref()))
            .collect()
    }

    pub fn names(self) -> Vec<&'static str> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.has(*p))
            .map(Permission::as_str)
            .collect()
    }

    /// `{"reply": true, "delete": false, …}` for templates.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::Value::Object(
            Permission::ALL
                .into_iter()
                .map(|p| (p.as_str().to_string(), serde_json::Value::Bool(self.has(p))))
                .collect(),
        )
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Permissions {
        let mut out = Permissions::none();
        for p in iter {
            out.insert(p);
        }
        out
    }
}

/// What the viewer may do on a ticket they can see (see the module
/// comment). None when the ticket does not exist.
pub fn on_ticket(
    conn: &Connection,
    viewer: Scope,
    ticket: TicketId,
) -> StoreResult<Option<Permissions>> {
    if viewer.admin {
        return Ok(crate::store::tickets::number_of(conn, ticket)?.map(|_| Permissions::all()));
    }
    Ok(roles::ticket_permissions(conn, viewer.staff, ticket)?
        .map(|names| Permissions::from_names(&names)))
}

/// What the viewer may do in a department (nothing when not a member).
pub fn in_department(
    conn: &Connection,
    viewer: Scope,
    department: DepartmentId,
) -> StoreResult<Permissions> {
    if viewer.admin {
        return Ok(Permissions::all());
    }
    Ok(
        roles::department_permissions(conn, viewer.staff, department)?
            .map(|names| Permissions::from_names(&names))
            .unwrap_or_default(),
    )
}

/// Permissions not tied to one ticket (shared canned responses, reports):
/// granted when any of the viewer's roles grants them.
pub fn anywhere(conn: &Connection, viewer: Scope) -> StoreResult<Permissions> {
    if viewer.admin {
        return Ok(Permissions::all());
    }
    Ok(Permissions::from_names(&roles::any_permissions(
        conn,
        viewer.staff,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_what_was_put_in() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        let set = Permissions::from_names(&["reply", "close", "no-such-thing"]);
        assert!(set.has(Permission::Reply) && set.has(Permission::Close));
        assert!(!set.has(Permission::Delete) && !set.has(Permission::Note));
        assert_eq!(set.names(), vec!["reply", "close"]);
        assert_eq!(Permissions::all().names().len(), Permission::ALL.len());
        assert_eq!(Permissions::none().names(), Vec::<&str>::new());
        assert_eq!(set.to_json()["close"], true);
        assert_eq!(set.to_json()["merge"], false);
    }

    #[test]
    fn closing_needs_close_and_other_moves_need_edit() {
        assert_eq!(Permission::for_status(Status::Closed), Permission::Close);
        assert_eq!(Permission::for_status(Status::Resolved), Permission::Close);
        assert_eq!(Permission::for_status(Status::Open), Permission::Edit);
        assert_eq!(Permission::for_status(Status::Pending), Permission::Edit);
    }
}
