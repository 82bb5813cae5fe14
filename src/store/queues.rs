//! Ticket queues for the staff UI: one page of rows, the navigation counts
//! (summed from `ticket_counts`, kept by triggers), scoped to the viewer.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, Row};
use serde::Serialize;

use super::{Context, StoreResult};
use crate::model::{DepartmentId, PriorityId, Source, StaffId, Status, TicketId};

/// Who is looking: agents see tickets of their departments, tickets
/// assigned to them and tickets assigned to their (active) teams; admins
/// see everything.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub staff: StaffId,
    pub admin: bool,
}

impl Scope {
    /// A SQL condition on the tickets alias `t`, with `?{n}` the viewer id
    /// (bind it even for admins).
    pub fn sql(&self, param: usize) -> String {
        if self.admin {
            format!("?{param} IS NOT NULL")
        } else {
            self.sql_hash().replace('#', &format!("?{param}"))
        }
    }

    /// The agent condition with `#` for the viewer id parameter.
    fn sql_hash(&self) -> String {
        format!(
            "(t.department_id IN (SELECT department_id FROM staff_departments WHERE staff_id = #) OR t.assignee_id = # OR t.team_id IN ({MY_TEAMS}))"
        )
    }
}

/// The active teams of the viewer `#`.
const MY_TEAMS: &str = "SELECT m.team_id FROM team_members m JOIN teams tm ON tm.id = m.team_id WHERE m.staff_id = # AND tm.active = 1";

// Predicates written exactly as the partial indexes in 0002 spell them.
const ACTIVE: &str = "t.status IN ('open', 'answered', 'pending') AND t.is_spam = 0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "department", rename_all = "lowercase")]
pub enum Queue {
    Open,
    Mine,
    Unassigned,
    Overdue,
    Answered,
    Closed,
    Department(DepartmentId),
    /// Active tickets assigned to the viewer's teams.
    Team,
}

impl Queue {
    pub fn parse(name: &str) -> Option<Queue> {
        Some(match name {
            "open" => Queue::Open,
            "mine" => Queue::Mine,
            "unassigned" => Queue::Unassigned,
            "overdue" => Queue::Overdue,
            "answered" => Queue::Answered,
            "closed" => Queue::Closed,
            "team" => Queue::Team,
            _ => return None,
        })
    }

    /// The index that reads this queue newest-updated first. The planner
    /// of a big database otherwise prefers (status, updated_at) with an IN
    /// list and sorts the whole queue.
    fn index(&self) -> Option<&'static str> {
        match self {
            Queue::Open | Queue::Answered | Queue::Unassigned => None,
            Queue::Mine => Some("tickets_assignee_active_updated"),
            Queue::Overdue => Some("tickets_overdue_updated"),
            Queue::Closed => Some("tickets_done_updated"),
            Queue::Department(_) => Some("tickets_department_active_updated"),
            // A team's tickets, sorted after: a small set, whatever the
            // size of the helpdesk.
            Queue::Team => Some("tickets_team_status"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Queue::Open => "open",
            Queue::Mine => "mine",
            Queue::Unassigned => "unassigned",
            Queue::Overdue => "overdue",
            Queue::Answered => "answered",
            Queue::Closed => "closed",
            Queue::Department(_) => "department",
            Queue::Team => "team",
        }
    }

    /// The queue's condition for queues without parameters.
    fn predicate(&self) -> String {
        match self {
            Queue::Open => "t.status = 'open' AND t.is_spam = 0".into(),
            Queue::Unassigned => {
                "t.assignee_id IS NULL AND t.status = 'open' AND t.is_spam = 0".into()
            }
            Queue::Overdue => format!("t.is_overdue = 1 AND {ACTIVE}"),
            Queue::Answered => "t.status = 'answered' AND t.is_spam = 0".into(),
            Queue::Closed => "t.status IN ('resolved', 'closed') AND t.is_spam = 0".into(),
            Queue::Mine | Queue::Department(_) | Queue::Team => ACTIVE.into(),
        }
    }
}

/// Narrowing a queue further.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Filters {
    pub status: Option<Status>,
    pub department: Option<DepartmentId>,
    pub priority: Option<PriorityId>,
    /// `Some(None)` is "unassigned".
    pub assignee: Option<Option<StaffId>>,
    pub source: Option<Source>,
    /// Only tickets carrying this tag (matched without regard to case).
    pub tag: Option<String>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.department.is_none()
            && self.priority.is_none()
            && self.assignee.is_none()
            && self.source.is_none()
            && self.tag.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    Updated,
    Created,
    Number,
    Priority,
    Due,
    LastMessage,
}

impl SortKey {
    pub fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "updated" => SortKey::Updated,
            "created" => SortKey::Created,
            "number" => SortKey::Number,
            "priority" => SortKey::Priority,
            "due" => SortKey::Due,
            "last_message" => SortKey::LastMessage,
            _ => return None,
        })
    }

    /// The key as links and `parse` spell it.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Updated => "updated",
            SortKey::Created => "created",
            SortKey::Number => "number",
            SortKey::Priority => "priority",
            SortKey::Due => "due",
            SortKey::LastMessage => "last_message",
        }
    }

    fn column(self) -> &'static str {
        match self {
            SortKey::Updated => "t.updated_at",
            SortKey::Created => "t.created_at",
            SortKey::Number => "t.id",
            SortKey::Priority => "(SELECT rank FROM priorities WHERE id = t.priority_id)",
            SortKey::Due => "COALESCE(t.due_at, 9223372036854775807)",
            SortKey::LastMessage => "COALESCE(t.last_message_at, 0)",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort {
            key: SortKey::Updated,
            descending: true,
        }
    }
}

/// One row of a queue page.
#[derive(Debug, Clone, Serialize)]
pub struct QueueRow {
    pub id: TicketId,
    pub number: String,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub priority_color: String,
    pub department: String,
    pub assignee: Option<String>,
    pub customer_name: String,
    pub customer_email: Option<String>,
    pub source: String,
    pub is_overdue: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_at: Option<i64>,
    pub due_at: Option<i64>,
    /// The custom status label the ticket shows, if any (see statuses).
    pub status_id: Option<i64>,
}

/// How many columns `ROW_COLS` has; a query's own columns follow them.
pub const ROW_COUNT: usize = 17;

/// The columns of `QueueRow`, over tickets `t`.
pub const ROW_COLS: &str = "t.id, t.number, t.subject, t.status,
    p.name, p.color, d.name, s.name, c.name,
    (SELECT email FROM customer_identities WHERE customer_id = t.customer_id ORDER BY id LIMIT 1),
    t.source, t.is_overdue, t.created_at, t.updated_at, t.last_message_at, t.due_at,
    t.status_id";

/// The joins `ROW_COLS` needs.
pub const ROW_JOINS: &str = "JOIN priorities p ON p.id = t.priority_id
    JOIN departments d ON d.id = t.department_id
    JOIN customers c ON c.id = t.customer_id
    LEFT JOIN staff s ON s.id = t.assignee_id";

pub fn queue_row(r: &Row<'_>) -> rusqlite::Result<QueueRow> {
    Ok(QueueRow {
        id: r.get(0)?,
        number: r.get(1)?,
        subject: r.get(2)?,
        status: r.get(3)?,
        priority: r.get(4)?,
        priority_color: r.get(5)?,
        department: r.get(6)?,
        assignee: r.get(7)?,
        customer_name: r.get(8)?,
        customer_email: r.get(9)?,
        source: r.get(10)?,
        is_overdue: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        last_message_at: r.get(14)?,
        due_at: r.get(15)?,
        status_id: r.get(16)?,
    })
}

/// Build the SQL of one queue page (exposed for EXPLAIN QUERY PLAN checks).
pub fn page_sql(
    scope: Scope,
    queue: Queue,
    filters: &Filters,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> (String, Vec<Value>) {
    let mut args: Vec<Value> = Vec::new();
    let mut conds: Vec<String> = Vec::new();
    // Each `#` in `cond` becomes the next numbered parameter, bound to `v`.
    let mut push = |cond: String, v: Option<Value>| {
        if let Some(v) = v {
            args.push(v);
            conds.push(cond.replace('#', &format!("?{}", args.len())));
        } else {
            conds.push(cond);
        }
    };
    let me = || Some(Value::Integer(scope.staff.0));
    match queue {
        Queue::Mine => push(format!("t.assignee_id = # AND {ACTIVE}"), me()),
        Queue::Department(d) => push(
            format!("t.department_id = # AND {ACTIVE}"),
            Some(Value::Integer(d.0)),
        ),
        Queue::Team => push(format!("t.team_id IN ({MY_TEAMS}) AND {ACTIVE}"), me()),
        other => push(other.predicate(), None),
    }
    if !scope.admin {
        push(scope.sql_hash(), me());
    }
    if let Some(st) = filters.status {
        push("t.status = #".into(), Some(Value::Text(st.as_str().into())));
    }
    if let Some(d) = filters.department {
        push("t.department_id = #".into(), Some(Value::Integer(d.0)));
    }
    if let Some(p) = filters.priority {
        push("t.priority_id = #".into(), Some(Value::Integer(p.0)));
    }
    match filters.assignee {
        Some(Some(s)) => push("t.assignee_id = #".into(), Some(Value::Integer(s.0))),
        Some(None) => push("t.assignee_id IS NULL".into(), None),
        None => {}
    }
    if let Some(src) = filters.source {
        push(
            "t.source = #".into(),
            Some(Value::Text(src.as_str().into())),
        );
    }
    if let Some(tag) = &filters.tag {
        push(
            "t.id IN (SELECT tt.ticket_id FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id
                      WHERE g.name_key = #)"
                .into(),
            Some(Value::Text(super::tags::key(tag.trim()))),
        );
    }
    let dir = if sort.descending { "DESC" } else { "ASC" };
    // Only the default order has an index to walk; filters that would pick
    // a better one (status, department) leave the choice to the planner.
    let hint = match queue.index() {
        Some(ix)
            if sort.key == SortKey::Updated
                && filters.status.is_none()
                && filters.department.is_none() =>
        {
            format!("INDEXED BY {ix}")
        }
        _ => String::new(),
    };
    let sql = format!(
        "SELECT {ROW_COLS} FROM tickets t {hint} {ROW_JOINS}
         WHERE {} ORDER BY {} {dir}, t.id {dir} LIMIT {limit} OFFSET {offset}",
        conds.join(" AND "),
        sort.key.column(),
    );
    (sql, args)
}

/// One page of a queue; fetches one row more than `limit` so the caller
/// knows whether a next page exists without counting.
pub fn page(
    conn: &Connection,
    scope: Scope,
    queue: Queue,
    filters: &Filters,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<QueueRow>> {
    let (sql, args) = page_sql(scope, queue, filters, sort, limit, offset);
    let what = || format!("listing the {} queue", queue.name());
    let mut stmt = conn.prepare_cached(&sql).ctx(what)?;
    let rows = stmt
        .query_map(params_from_iter(args), queue_row)
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

/// Counts shown in the navigation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub open: i64,
    pub mine: i64,
    pub unassigned: i64,
    pub overdue: i64,
    pub answered: i64,
    pub closed: i64,
    pub departments: Vec<DepartmentCount>,
    /// Active tickets of the viewer's teams; `in_teams` says whether the
    /// viewer belongs to any active team (the queue is shown only then).
    pub team: i64,
    pub in_teams: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentCount {
    pub id: DepartmentId,
    pub name: String,
    pub count: i64,
}

impl Counts {
    pub fn of(&self, queue: Queue) -> i64 {
        match queue {
            Queue::Open => self.open,
            Queue::Mine => self.mine,
            Queue::Unassigned => self.unassigned,
            Queue::Overdue => self.overdue,
            Queue::Answered => self.answered,
            Queue::Closed => self.closed,
            Queue::Department(d) => self
                .departments
                .iter()
                .find(|c| c.id == d)
                .map_or(0, |c| c.count),
            Queue::Team => self.team,
        }
    }
}

/// Sums over `ticket_counts` (a few rows per department × assignee ×
/// status), never over tickets.
pub fn counts(conn: &Connection, scope: Scope) -> StoreResult<Counts> {
    let scope_sql = if scope.admin {
        "1".to_string()
    } else {
        "(k.department_id IN (SELECT department_id FROM staff_departments WHERE staff_id = ?1) OR k.assignee_id = ?1)".to_string()
    };
    let active = "k.status IN ('open', 'answered', 'pending')";
    let sql = format!(
        "SELECT
            COALESCE(SUM(CASE WHEN k.status = 'open' THEN k.n END), 0),
            COALESCE(SUM(CASE WHEN k.assignee_id = ?1 AND {active} THEN k.n END), 0),
            COALESCE(SUM(CASE WHEN k.assignee_id = 0 AND k.status = 'open' THEN k.n END), 0),
            COALESCE(SUM(CASE WHEN k.is_overdue = 1 AND {active} THEN k.n END), 0),
            COALESCE(SUM(CASE WHEN k.status = 'answered' THEN k.n END), 0),
            COALESCE(SUM(CASE WHEN k.status IN ('resolved', 'closed') THEN k.n END), 0)
         FROM ticket_counts k WHERE k.is_spam = 0 AND k.n > 0 AND {scope_sql}"
    );
    let what = || "counting queue sizes".to_string();
    let mut out = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row([scope.staff], |r| {
                Ok(Counts {
                    open: r.get(0)?,
                    mine: r.get(1)?,
                    unassigned: r.get(2)?,
                    overdue: r.get(3)?,
                    answered: r.get(4)?,
                    closed: r.get(5)?,
                    departments: Vec::new(),
                    team: 0,
                    in_teams: false,
                })
            })
        })
        .ctx(what)?;
    // Departments the viewer belongs to (admins: all), with active counts.
    let dept_sql = format!(
        "SELECT d.id, d.name, COALESCE((SELECT SUM(k.n) FROM ticket_counts k
             WHERE k.department_id = d.id AND k.is_spam = 0 AND {active}), 0)
         FROM departments d
         WHERE ?2 OR d.id IN (SELECT department_id FROM staff_departments WHERE staff_id = ?1)
         ORDER BY d.name COLLATE NOCASE"
    );
    let mut stmt = conn.prepare_cached(&dept_sql).ctx(what)?;
    let rows = stmt
        .query_map(rusqlite::params![scope.staff, scope.admin], |r| {
            Ok(DepartmentCount {
                id: r.get(0)?,
                name: r.get(1)?,
                count: r.get(2)?,
            })
        })
        .ctx(what)?;
    out.departments = rows.collect::<Result<_, _>>().ctx(what)?;
    // Team tickets: a range of tickets_team_status per team, never a scan.
    // Those outside the agent's departments and not assigned to them are
    // not in ticket_counts' scope above: added to the active queues here.
    // INDEXED BY: while few tickets belong to teams, the statistics make
    // `team_id IN (…)` look useless and the planner walked every active
    // ticket instead (80 ms on every page at 1,000,000 tickets, even for
    // an agent in no team).
    let team_sql = format!(
        "SELECT EXISTS({mine}), COUNT(*), COALESCE(SUM(o AND status = 'open'), 0),
                COALESCE(SUM(o AND status = 'open' AND assignee_id IS NULL), 0),
                COALESCE(SUM(o AND is_overdue = 1), 0),
                COALESCE(SUM(o AND status = 'answered'), 0)
         FROM (SELECT t.status, t.assignee_id, t.is_overdue,
                      NOT ?2 AND t.assignee_id IS NOT ?1 AND t.department_id NOT IN
                          (SELECT department_id FROM staff_departments WHERE staff_id = ?1) AS o
               FROM tickets t INDEXED BY tickets_team_status
               WHERE t.team_id IN ({mine}) AND {ACTIVE})",
        mine = MY_TEAMS.replace('#', "?1")
    );
    let (in_teams, team, open, unassigned, overdue, answered): (bool, i64, i64, i64, i64, i64) =
        conn.prepare_cached(&team_sql)
            .and_then(|mut stmt| {
                stmt.query_row(rusqlite::params![scope.staff, scope.admin], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
            })
            .ctx(what)?;
    out.in_teams = in_teams;
    out.team = team;
    out.open += open;
    out.unassigned += unassigned;
    out.overdue += overdue;
    out.answered += answered;
    Ok(out)
}

/// Priorities for filters and the ticket form.
#[derive(Debug, Clone, Serialize)]
pub struct Priority {
    pub id: PriorityId,
    pub name: String,
    pub color: String,
}

pub fn priorities(conn: &Connection) -> StoreResult<Vec<Priority>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, name, color FROM priorities ORDER BY rank")
        .ctx(|| "listing priorities".into())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Priority {
                id: r.get(0)?,
                name: r.get(1)?,
                color: r.get(2)?,
            })
        })
        .ctx(|| "listing priorities".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing priorities".into())
}
