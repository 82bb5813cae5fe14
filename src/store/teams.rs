//! Teams: groups of agents across departments, with a lead. A ticket may be
//! assigned to a team (`tickets.team_id`); its members then see it.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::mail_facts::StaffContact;
use super::{Context, StoreError, StoreResult};
use crate::model::{StaffId, TeamId, TicketId};

#[derive(Debug, Clone, Serialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub lead_id: Option<StaffId>,
    pub lead: Option<String>,
    pub active: bool,
    pub members: Vec<StaffId>,
    pub member_names: Vec<String>,
    /// Open, answered or pending tickets assigned to the team.
    pub active_tickets: i64,
}

pub fn list(conn: &Connection) -> StoreResult<Vec<Team>> {
    let what = || "listing teams".to_string();
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.id, t.name, t.lead_id, s.name, t.active,
                    (SELECT COUNT(*) FROM tickets k
                     WHERE k.team_id = t.id AND k.status IN ('open', 'answered', 'pending'))
             FROM teams t LEFT JOIN staff s ON s.id = t.lead_id
             ORDER BY t.name COLLATE NOCASE",
        )
        .ctx(what)?;
    let mut teams: Vec<Team> = stmt
        .query_map([], |r| {
            Ok(Team {
                id: r.get(0)?,
                name: r.get(1)?,
                lead_id: r.get(2)?,
                lead: r.get(3)?,
                active: r.get(4)?,
                members: Vec::new(),
                member_names: Vec::new(),
                active_tickets: r.get(5)?,
            })
        })
        .ctx(what)?
        .collect::<Result<_, _>>()
        .ctx(what)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.team_id, s.id, s.name FROM team_members m JOIN staff s ON s.id = m.staff_id
             ORDER BY s.name COLLATE NOCASE",
        )
        .ctx(what)?;
    let members = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, TeamId>(0)?,
                r.get::<_, StaffId>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .ctx(what)?
        .collect::<Result<Vec<_>, _>>()
        .ctx(what)?;
    for (team, id, name) in members {
        if let Some(t) = teams.iter_mut().find(|t| t.id == team) {
            t.members.push(id);
            t.member_names.push(name);
        }
    }
    Ok(teams)
}

pub fn get(conn: &Connection, id: TeamId) -> StoreResult<Option<Team>> {
    Ok(list(conn)?.into_iter().find(|t| t.id == id))
}

/// Active teams, for "assign to" lists.
pub fn list_active(conn: &Connection) -> StoreResult<Vec<Team>> {
    Ok(list(conn)?.into_iter().filter(|t| t.active).collect())
}

fn name_taken(conn: &Connection, name: &str, except: Option<TeamId>) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM teams WHERE name = ?1 AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up team {name}"))
}

fn write_members(conn: &Connection, id: TeamId, members: &[StaffId]) -> StoreResult<()> {
    let what = || format!("saving the members of team {id}");
    conn.execute("DELETE FROM team_members WHERE team_id = ?1", [id])
        .ctx(what)?;
    let mut stmt = conn
        .prepare_cached("INSERT OR IGNORE INTO team_members (team_id, staff_id) VALUES (?1, ?2)")
        .ctx(what)?;
    for s in members {
        stmt.execute(params![id, s]).ctx(what)?;
    }
    Ok(())
}

/// What an admin saves about a team.
#[derive(Debug, Clone, Serialize)]
pub struct TeamFields {
    pub name: String,
    pub lead_id: Option<StaffId>,
    pub active: bool,
    pub members: Vec<StaffId>,
}

pub fn create(conn: &Connection, f: &TeamFields) -> StoreResult<TeamId> {
    if name_taken(conn, &f.name, None)? {
        return Err(StoreError::Invalid(format!(
            "a team named {} already exists",
            f.name
        )));
    }
    let now = super::now();
    conn.execute(
        "INSERT INTO teams (name, lead_id, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![f.name, f.lead_id, f.active, now],
    )
    .ctx(|| format!("creating team {}", f.name))?;
    let id = TeamId(conn.last_insert_rowid());
    write_members(conn, id, &f.members)?;
    Ok(id)
}

pub fn update(conn: &Connection, id: TeamId, f: &TeamFields) -> StoreResult<()> {
    if name_taken(conn, &f.name, Some(id))? {
        return Err(StoreError::Invalid(format!(
            "a team named {} already exists",
            f.name
        )));
    }
    let n = conn
        .execute(
            "UPDATE teams SET name = ?2, lead_id = ?3, active = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, f.name, f.lead_id, f.active, super::now()],
        )
        .ctx(|| format!("updating team {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("team {id}")));
    }
    write_members(conn, id, &f.members)
}

/// Delete a team; its tickets keep their department and assignee and lose
/// the team (ON DELETE SET NULL).
pub fn delete(conn: &Connection, id: TeamId) -> StoreResult<()> {
    let n = conn
        .execute("DELETE FROM teams WHERE id = ?1", [id])
        .ctx(|| format!("deleting team {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("team {id}")));
    }
    Ok(())
}

/// Whether a team exists and is active (assignable).
pub fn is_active(conn: &Connection, id: TeamId) -> StoreResult<bool> {
    conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM teams WHERE id = ?1 AND active = 1)")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .ctx(|| format!("checking team {id}"))
}

/// The active teams an agent belongs to.
pub fn teams_of(conn: &Connection, staff: StaffId) -> StoreResult<Vec<(TeamId, String)>> {
    let what = || format!("listing the teams of staff {staff}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.id, t.name FROM team_members m JOIN teams t ON t.id = m.team_id
             WHERE m.staff_id = ?1 AND t.active = 1 ORDER BY t.name COLLATE NOCASE",
        )
        .ctx(what)?;
    let rows = stmt
        .query_map([staff], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

/// The team a ticket is assigned to.
pub fn ticket_team(conn: &Connection, ticket: TicketId) -> StoreResult<Option<TeamId>> {
    conn.prepare_cached("SELECT team_id FROM tickets WHERE id = ?1")
        .and_then(|mut s| s.query_row([ticket], |r| r.get(0)).optional())
        .ctx(|| format!("loading the team of ticket id {ticket}"))?
        .ok_or_else(|| StoreError::NotFound(format!("ticket id {ticket}")))
}

pub fn set_ticket_team(
    conn: &Connection,
    ticket: TicketId,
    team: Option<TeamId>,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached("UPDATE tickets SET team_id = ?2, updated_at = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![ticket, team, now]))
        .ctx(|| format!("assigning ticket id {ticket} to a team"))?;
    Ok(())
}

/// Active members of a team who are not away, for alerts.
pub fn alert_members(conn: &Connection, team: TeamId) -> StoreResult<Vec<StaffContact>> {
    let what = || format!("listing the members of team {team}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT s.id, s.name, s.email, s.locale FROM team_members m
             JOIN staff s ON s.id = m.staff_id
             WHERE m.team_id = ?1 AND s.active = 1 AND s.away = 0 ORDER BY s.id",
        )
        .ctx(what)?;
    let rows = stmt
        .query_map([team], |r| {
            Ok(StaffContact {
                id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                locale: r.get(3)?,
            })
        })
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

/// An active team as "assign to" lists show it.
#[derive(Debug, Clone, Serialize)]
pub struct TeamChoice {
    pub id: TeamId,
    pub name: String,
}

/// Active teams by name, without counts (every ticket page reads this).
pub fn choices(conn: &Connection) -> StoreResult<Vec<TeamChoice>> {
    let what = || "listing active teams".to_string();
    let mut stmt = conn
        .prepare_cached("SELECT id, name FROM teams WHERE active = 1 ORDER BY name COLLATE NOCASE")
        .ctx(what)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(TeamChoice {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}
