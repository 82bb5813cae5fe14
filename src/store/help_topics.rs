//! Help topics as the admin area manages them: nesting, visibility,
//! routing (department, priority, SLA plan, auto-assignment) and the
//! auto-response override.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{DepartmentId, HelpTopicId, PriorityId, SlaPlanId, StaffId, TeamId};

/// The editable fields of a help topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicFields {
    pub name: String,
    pub parent_id: Option<HelpTopicId>,
    pub department_id: Option<DepartmentId>,
    pub priority_id: Option<PriorityId>,
    pub sla_plan_id: Option<SlaPlanId>,
    pub public: bool,
    pub active: bool,
    pub sort: i64,
    pub auto_assign_staff_id: Option<StaffId>,
    pub auto_assign_team_id: Option<TeamId>,
    /// None: as the department says.
    pub auto_response: Option<bool>,
}

/// A help topic in the admin list.
#[derive(Debug, Clone, Serialize)]
pub struct TopicRow {
    pub id: HelpTopicId,
    #[serde(flatten)]
    pub fields: TopicFields,
    /// "Parent / Child", for lists and menus.
    pub full_name: String,
    pub department: Option<String>,
    pub priority: Option<String>,
    pub sla_plan: Option<String>,
    pub assign_staff: Option<String>,
    pub assign_team: Option<String>,
    pub tickets: i64,
}

const COLS: &str = "h.id, h.name, h.parent_id, h.department_id, h.priority_id, h.sla_plan_id,
    h.public, h.active, h.sort, h.auto_assign_staff_id, h.auto_assign_team_id, h.auto_response,
    d.name, p.name, sp.name, s.name, tm.name,
    (SELECT COUNT(*) FROM tickets t WHERE t.help_topic_id = h.id)";

const JOINS: &str = "LEFT JOIN departments d ON d.id = h.department_id
    LEFT JOIN priorities p ON p.id = h.priority_id
    LEFT JOIN sla_plans sp ON sp.id = h.sla_plan_id
    LEFT JOIN staff s ON s.id = h.auto_assign_staff_id
    LEFT JOIN teams tm ON tm.id = h.auto_assign_team_id";

fn row(r: &Row<'_>) -> rusqlite::Result<TopicRow> {
    let name: String = r.get(1)?;
    Ok(TopicRow {
        id: r.get(0)?,
        full_name: name.clone(),
        fields: TopicFields {
            name,
            parent_id: r.get(2)?,
            department_id: r.get(3)?,
            priority_id: r.get(4)?,
            sla_plan_id: r.get(5)?,
            public: r.get(6)?,
            active: r.get(7)?,
            sort: r.get(8)?,
            auto_assign_staff_id: r.get(9)?,
            auto_assign_team_id: r.get(10)?,
            auto_response: r.get(11)?,
        },
        department: r.get(12)?,
        priority: r.get(13)?,
        sla_plan: r.get(14)?,
        assign_staff: r.get(15)?,
        assign_team: r.get(16)?,
        tickets: r.get(17)?,
    })
}

/// Every topic, parents before their children, siblings by sort then name.
pub fn list(conn: &Connection) -> StoreResult<Vec<TopicRow>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLS} FROM help_topics h {JOINS} ORDER BY h.sort, h.name COLLATE NOCASE"
        ))
        .ctx(|| "listing help topics".into())?;
    let rows: Vec<TopicRow> = stmt
        .query_map([], row)
        .ctx(|| "listing help topics".into())?
        .collect::<Result<_, _>>()
        .ctx(|| "listing help topics".into())?;
    Ok(as_tree(rows))
}

/// Order topics as a tree (depth first) and fill in their full names. A
/// topic whose parent is missing is a root; cycles cannot be saved.
fn as_tree(rows: Vec<TopicRow>) -> Vec<TopicRow> {
    let ids: std::collections::HashSet<HelpTopicId> = rows.iter().map(|r| r.id).collect();
    let mut out = Vec::with_capacity(rows.len());
    let mut placed = std::collections::HashSet::new();
    fn walk(
        rows: &[TopicRow],
        ids: &std::collections::HashSet<HelpTopicId>,
        parent: Option<HelpTopicId>,
        prefix: &str,
        out: &mut Vec<TopicRow>,
        placed: &mut std::collections::HashSet<HelpTopicId>,
        depth: usize,
    ) {
        if depth > 16 {
            return;
        }
        for r in rows {
            let p = r.fields.parent_id.filter(|p| ids.contains(p) && *p != r.id);
            if p == parent && placed.insert(r.id) {
                let mut r = r.clone();
                if !prefix.is_empty() {
                    r.full_name = format!("{prefix} / {}", r.fields.name);
                }
                let name = r.full_name.clone();
                let id = r.id;
                out.push(r);
                walk(rows, ids, Some(id), &name, out, placed, depth + 1);
            }
        }
    }
    walk(&rows, &ids, None, "", &mut out, &mut placed, 0);
    // Anything left (a cycle written outside the admin page) is still listed.
    for r in rows {
        if placed.insert(r.id) {
            out.push(r);
        }
    }
    out
}

pub fn get(conn: &Connection, id: HelpTopicId) -> StoreResult<Option<TopicRow>> {
    let row = conn
        .query_row(
            &format!("SELECT {COLS} FROM help_topics h {JOINS} WHERE h.id = ?1"),
            [id],
            row,
        )
        .optional()
        .ctx(|| format!("loading help topic {id}"))?;
    Ok(match row {
        Some(r) => list(conn)?.into_iter().find(|t| t.id == r.id).or(Some(r)),
        None => None,
    })
}

/// True when making `parent` the parent of `id` would close a loop.
pub fn would_cycle(conn: &Connection, id: HelpTopicId, parent: HelpTopicId) -> StoreResult<bool> {
    conn.query_row(
        "WITH RECURSIVE up(id, depth) AS (
             SELECT ?2, 0
             UNION SELECT h.parent_id, up.depth + 1 FROM help_topics h JOIN up ON h.id = up.id
             WHERE h.parent_id IS NOT NULL AND up.depth < 64)
         SELECT EXISTS(SELECT 1 FROM up WHERE id = ?1)",
        params![id, parent],
        |r| r.get(0),
    )
    .ctx(|| format!("checking the parents of help topic {parent}"))
}

pub fn exists(conn: &Connection, id: HelpTopicId) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM help_topics WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up help topic {id}"))
}

pub fn create(conn: &Connection, f: &TopicFields) -> StoreResult<HelpTopicId> {
    conn.execute(
        "INSERT INTO help_topics (name, parent_id, department_id, priority_id, sla_plan_id,
             public, active, sort, auto_assign_staff_id, auto_assign_team_id, auto_response,
             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            f.name,
            f.parent_id,
            f.department_id,
            f.priority_id,
            f.sla_plan_id,
            f.public,
            f.active,
            f.sort,
            f.auto_assign_staff_id,
            f.auto_assign_team_id,
            f.auto_response,
            super::now()
        ],
    )
    .ctx(|| format!("creating help topic {}", f.name))?;
    Ok(HelpTopicId(conn.last_insert_rowid()))
}

pub fn update(conn: &Connection, id: HelpTopicId, f: &TopicFields) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE help_topics SET name = ?2, parent_id = ?3, department_id = ?4,
                 priority_id = ?5, sla_plan_id = ?6, public = ?7, active = ?8, sort = ?9,
                 auto_assign_staff_id = ?10, auto_assign_team_id = ?11, auto_response = ?12
             WHERE id = ?1",
            params![
                id,
                f.name,
                f.parent_id,
                f.department_id,
                f.priority_id,
                f.sla_plan_id,
                f.public,
                f.active,
                f.sort,
                f.auto_assign_staff_id,
                f.auto_assign_team_id,
                f.auto_response
            ],
        )
        .ctx(|| format!("saving help topic {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("help topic {id}")));
    }
    Ok(())
}

/// Delete a topic; its children become top-level topics.
pub fn delete(conn: &Connection, id: HelpTopicId) -> StoreResult<()> {
    let n = conn
        .execute("DELETE FROM help_topics WHERE id = ?1", [id])
        .ctx(|| format!("deleting help topic {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("help topic {id}")));
    }
    Ok(())
}

/// (id, name) pairs for a select list.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub id: i64,
    pub name: String,
}

fn choices(conn: &Connection, sql: &str, what: &str) -> StoreResult<Vec<Choice>> {
    let mut stmt = conn.prepare(sql).ctx(|| format!("listing {what}"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Choice {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })
        .ctx(|| format!("listing {what}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("listing {what}"))
}

/// Teams a topic may assign to.
pub fn team_choices(conn: &Connection) -> StoreResult<Vec<Choice>> {
    choices(
        conn,
        "SELECT id, name FROM teams WHERE active = 1 ORDER BY name COLLATE NOCASE",
        "teams",
    )
}

/// SLA plans a topic may use.
pub fn sla_plan_choices(conn: &Connection) -> StoreResult<Vec<Choice>> {
    choices(
        conn,
        "SELECT id, name FROM sla_plans ORDER BY name COLLATE NOCASE",
        "SLA plans",
    )
}

pub fn team_exists(conn: &Connection, id: TeamId) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM teams WHERE id = ?1 AND active = 1)",
        [id],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up team {id}"))
}

pub fn sla_plan_exists(conn: &Connection, id: SlaPlanId) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sla_plans WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up SLA plan {id}"))
}
