//! SLA plans, business-hours schedules and holidays, and the per-department
//! defaults (SLA plan, auto-assignment strategy). The arithmetic on them
//! lives in `tickets::sla`; the ticket-side columns in `store::sla_tickets`.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{DepartmentId, HelpTopicId, SlaPlanId, StaffId};

/// The built-in 24/7 schedule: always there, never removed.
pub const ALWAYS_OPEN_SCHEDULE: i64 = 1;

/// Opening hours on one weekday (0 = Monday), minutes from local midnight,
/// end exclusive (1440 = midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub weekday: u8,
    pub start_min: u16,
    pub end_min: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    pub id: i64,
    /// Local date, YYYY-MM-DD.
    pub day: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub always_open: bool,
    pub hours: Vec<Interval>,
    pub holidays: Vec<Holiday>,
}

/// A schedule as lists show it.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleSummary {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub always_open: bool,
    pub plans: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlaPlan {
    pub id: SlaPlanId,
    pub name: String,
    pub grace_minutes: i64,
    pub schedule_id: i64,
    pub schedule_name: String,
    pub active: bool,
    pub escalate_priority: bool,
    pub escalate_to: Option<StaffId>,
    pub overdue_alerts: bool,
}

/// What an admin edits on a plan.
#[derive(Debug, Clone)]
pub struct PlanFields<'a> {
    pub name: &'a str,
    pub grace_minutes: i64,
    pub schedule_id: i64,
    pub active: bool,
    pub escalate_priority: bool,
    pub escalate_to: Option<StaffId>,
    pub overdue_alerts: bool,
}

const PLAN_COLS: &str = "p.id, p.name, p.grace_minutes, p.schedule_id, s.name, p.active,
    p.escalate_priority, p.escalate_to_staff_id, p.overdue_alerts";

fn plan_row(r: &Row<'_>) -> rusqlite::Result<SlaPlan> {
    Ok(SlaPlan {
        id: r.get(0)?,
        name: r.get(1)?,
        grace_minutes: r.get(2)?,
        schedule_id: r.get(3)?,
        schedule_name: r.get(4)?,
        active: r.get(5)?,
        escalate_priority: r.get(6)?,
        escalate_to: r.get(7)?,
        overdue_alerts: r.get(8)?,
    })
}

/// Every plan, by name (inactive ones too: the admin page lists them).
pub fn list_plans(conn: &Connection) -> StoreResult<Vec<SlaPlan>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {PLAN_COLS} FROM sla_plans p JOIN schedules s ON s.id = p.schedule_id
             ORDER BY p.name COLLATE NOCASE"
        ))
        .ctx(|| "listing SLA plans".into())?;
    let rows = stmt
        .query_map([], plan_row)
        .ctx(|| "listing SLA plans".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing SLA plans".into())
}

/// Active plans, for the choices in forms (help topics, rules, departments).
pub fn list_active_plans(conn: &Connection) -> StoreResult<Vec<SlaPlan>> {
    Ok(list_plans(conn)?.into_iter().filter(|p| p.active).collect())
}

pub fn get_plan(conn: &Connection, id: SlaPlanId) -> StoreResult<Option<SlaPlan>> {
    conn.prepare_cached(&format!(
        "SELECT {PLAN_COLS} FROM sla_plans p JOIN schedules s ON s.id = p.schedule_id
         WHERE p.id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], plan_row).optional())
    .ctx(|| format!("loading SLA plan {id}"))
}

fn plan_name_taken(conn: &Connection, name: &str, except: Option<SlaPlanId>) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sla_plans WHERE name = ?1 COLLATE NOCASE
                       AND (?2 IS NULL OR id <> ?2))",
        params![name, except],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up SLA plan {name}"))
}

/// Create a plan; a name in use is `Invalid`.
pub fn create_plan(conn: &Connection, f: &PlanFields<'_>) -> StoreResult<SlaPlanId> {
    if plan_name_taken(conn, f.name, None)? {
        return Err(StoreError::Invalid(format!(
            "an SLA plan named {} already exists",
            f.name
        )));
    }
    let now = super::now();
    conn.execute(
        "INSERT INTO sla_plans (name, grace_minutes, schedule_id, active, escalate_priority,
             escalate_to_staff_id, overdue_alerts, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            f.name,
            f.grace_minutes,
            f.schedule_id,
            f.active,
            f.escalate_priority,
            f.escalate_to,
            f.overdue_alerts,
            now
        ],
    )
    .ctx(|| format!("creating SLA plan {}", f.name))?;
    Ok(SlaPlanId(conn.last_insert_rowid()))
}

pub fn update_plan(conn: &Connection, id: SlaPlanId, f: &PlanFields<'_>) -> StoreResult<()> {
    if plan_name_taken(conn, f.name, Some(id))? {
        return Err(StoreError::Invalid(format!(
            "an SLA plan named {} already exists",
            f.name
        )));
    }
    let n = conn
        .execute(
            "UPDATE sla_plans SET name = ?2, grace_minutes = ?3, schedule_id = ?4, active = ?5,
                 escalate_priority = ?6, escalate_to_staff_id = ?7, overdue_alerts = ?8,
                 updated_at = ?9
             WHERE id = ?1",
            params![
                id,
                f.name,
                f.grace_minutes,
                f.schedule_id,
                f.active,
                f.escalate_priority,
                f.escalate_to,
                f.overdue_alerts,
                super::now()
            ],
        )
        .ctx(|| format!("saving SLA plan {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("SLA plan {id}")));
    }
    Ok(())
}

/// Remove a plan. Tickets, help topics and departments using it lose it
/// (their due dates stay); when it was the default there is no default.
pub fn delete_plan(conn: &Connection, id: SlaPlanId) -> StoreResult<()> {
    let n = conn
        .execute("DELETE FROM sla_plans WHERE id = ?1", [id])
        .ctx(|| format!("removing SLA plan {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("SLA plan {id}")));
    }
    conn.execute(
        "DELETE FROM settings WHERE key = 'tickets.default_sla_plan_id' AND value = ?1",
        [id.0.to_string()],
    )
    .ctx(|| format!("clearing the default SLA plan {id}"))?;
    Ok(())
}

/// The plan whose id the setting names, when it exists.
pub fn default_plan(conn: &Connection) -> StoreResult<Option<SlaPlanId>> {
    let id = super::settings::get_i64(conn, "tickets.default_sla_plan_id", 0)?;
    if id <= 0 {
        return Ok(None);
    }
    Ok(get_plan(conn, SlaPlanId(id))?.map(|p| p.id))
}

// --- schedules ---------------------------------------------------------

pub fn list_schedules(conn: &Connection) -> StoreResult<Vec<ScheduleSummary>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT s.id, s.name, s.timezone, s.always_open,
                 (SELECT COUNT(*) FROM sla_plans p WHERE p.schedule_id = s.id)
             FROM schedules s ORDER BY s.id <> 1, s.name COLLATE NOCASE",
        )
        .ctx(|| "listing schedules".into())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ScheduleSummary {
                id: r.get(0)?,
                name: r.get(1)?,
                timezone: r.get(2)?,
                always_open: r.get(3)?,
                plans: r.get(4)?,
            })
        })
        .ctx(|| "listing schedules".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing schedules".into())
}

/// A schedule with its hours (by weekday, then start) and holidays (by date).
pub fn get_schedule(conn: &Connection, id: i64) -> StoreResult<Option<Schedule>> {
    let head = conn
        .prepare_cached("SELECT id, name, timezone, always_open FROM schedules WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .ctx(|| format!("loading schedule {id}"))?;
    let Some((id, name, timezone, always_open)) = head else {
        return Ok(None);
    };
    let hours = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT weekday, start_min, end_min FROM schedule_hours WHERE schedule_id = ?1
                 ORDER BY weekday, start_min",
            )
            .ctx(|| format!("loading the hours of schedule {id}"))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(Interval {
                    weekday: r.get(0)?,
                    start_min: r.get(1)?,
                    end_min: r.get(2)?,
                })
            })
            .ctx(|| format!("loading the hours of schedule {id}"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .ctx(|| format!("loading the hours of schedule {id}"))?
    };
    let holidays = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, day, name FROM schedule_holidays WHERE schedule_id = ?1 ORDER BY day",
            )
            .ctx(|| format!("loading the holidays of schedule {id}"))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(Holiday {
                    id: r.get(0)?,
                    day: r.get(1)?,
                    name: r.get(2)?,
                })
            })
            .ctx(|| format!("loading the holidays of schedule {id}"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .ctx(|| format!("loading the holidays of schedule {id}"))?
    };
    Ok(Some(Schedule {
        id,
        name,
        timezone,
        always_open,
        hours,
        holidays,
    }))
}

fn schedule_name_taken(conn: &Connection, name: &str, except: Option<i64>) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM schedules WHERE name = ?1 COLLATE NOCASE
                       AND (?2 IS NULL OR id <> ?2))",
        params![name, except],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up schedule {name}"))
}

/// Create a schedule with its weekly hours.
pub fn create_schedule(
    conn: &Connection,
    name: &str,
    timezone: &str,
    hours: &[Interval],
) -> StoreResult<i64> {
    if schedule_name_taken(conn, name, None)? {
        return Err(StoreError::Invalid(format!(
            "a schedule named {name} already exists"
        )));
    }
    let now = super::now();
    conn.execute(
        "INSERT INTO schedules (name, timezone, always_open, created_at, updated_at)
         VALUES (?1, ?2, 0, ?3, ?3)",
        params![name, timezone, now],
    )
    .ctx(|| format!("creating schedule {name}"))?;
    let id = conn.last_insert_rowid();
    replace_hours(conn, id, hours)?;
    Ok(id)
}

/// Rename a schedule, change its time zone and replace its weekly hours.
/// The built-in 24/7 schedule keeps no hours (it is always open).
pub fn update_schedule(
    conn: &Connection,
    id: i64,
    name: &str,
    timezone: &str,
    hours: &[Interval],
) -> StoreResult<()> {
    if schedule_name_taken(conn, name, Some(id))? {
        return Err(StoreError::Invalid(format!(
            "a schedule named {name} already exists"
        )));
    }
    let n = conn
        .execute(
            "UPDATE schedules SET name = ?2, timezone = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, name, timezone, super::now()],
        )
        .ctx(|| format!("saving schedule {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("schedule {id}")));
    }
    if id != ALWAYS_OPEN_SCHEDULE {
        replace_hours(conn, id, hours)?;
    }
    Ok(())
}

fn replace_hours(conn: &Connection, id: i64, hours: &[Interval]) -> StoreResult<()> {
    conn.execute("DELETE FROM schedule_hours WHERE schedule_id = ?1", [id])
        .ctx(|| format!("clearing the hours of schedule {id}"))?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO schedule_hours (schedule_id, weekday, start_min, end_min)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .ctx(|| format!("saving the hours of schedule {id}"))?;
    for h in hours {
        stmt.execute(params![id, h.weekday, h.start_min, h.end_min])
            .ctx(|| format!("saving the hours of schedule {id}"))?;
    }
    Ok(())
}

/// Remove a schedule no plan uses; the built-in 24/7 one stays.
pub fn delete_schedule(conn: &Connection, id: i64) -> StoreResult<()> {
    if id == ALWAYS_OPEN_SCHEDULE {
        return Err(StoreError::Invalid(
            "the built-in 24/7 schedule cannot be removed".into(),
        ));
    }
    let used: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sla_plans WHERE schedule_id = ?1",
            [id],
            |r| r.get(0),
        )
        .ctx(|| format!("checking whether schedule {id} is in use"))?;
    if used > 0 {
        return Err(StoreError::Invalid(format!(
            "{used} SLA plan(s) use this schedule: choose another schedule for them first"
        )));
    }
    let n = conn
        .execute("DELETE FROM schedules WHERE id = ?1", [id])
        .ctx(|| format!("removing schedule {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("schedule {id}")));
    }
    Ok(())
}

/// Add a holiday (a local date, YYYY-MM-DD, checked by the caller); the
/// same date twice is `Invalid`.
pub fn add_holiday(conn: &Connection, schedule: i64, day: &str, name: &str) -> StoreResult<i64> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM schedule_holidays WHERE schedule_id = ?1 AND day = ?2)",
            params![schedule, day],
            |r| r.get(0),
        )
        .ctx(|| format!("looking up holiday {day}"))?;
    if exists {
        return Err(StoreError::Invalid(format!("{day} is already a holiday")));
    }
    conn.execute(
        "INSERT INTO schedule_holidays (schedule_id, day, name) VALUES (?1, ?2, ?3)",
        params![schedule, day, name],
    )
    .ctx(|| format!("adding holiday {day} to schedule {schedule}"))?;
    Ok(conn.last_insert_rowid())
}

/// Remove a holiday; returns its date when it existed.
pub fn delete_holiday(conn: &Connection, schedule: i64, id: i64) -> StoreResult<Option<String>> {
    let day: Option<String> = conn
        .query_row(
            "DELETE FROM schedule_holidays WHERE schedule_id = ?1 AND id = ?2 RETURNING day",
            params![schedule, id],
            |r| r.get(0),
        )
        .optional()
        .ctx(|| format!("removing holiday {id} of schedule {schedule}"))?;
    Ok(day)
}

// --- departments and help topics ------------------------------------

/// How new tickets nobody was named for are assigned in a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignStrategy {
    None,
    RoundRobin,
    LeastOpen,
}

impl AssignStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignStrategy::None => "none",
            AssignStrategy::RoundRobin => "round_robin",
            AssignStrategy::LeastOpen => "least_open",
        }
    }

    pub fn parse(s: &str) -> Option<AssignStrategy> {
        Some(match s {
            "none" => AssignStrategy::None,
            "round_robin" => AssignStrategy::RoundRobin,
            "least_open" => AssignStrategy::LeastOpen,
            _ => return None,
        })
    }
}

/// A department's SLA and assignment defaults.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentSla {
    pub id: DepartmentId,
    pub name: String,
    pub sla_plan_id: Option<SlaPlanId>,
    pub assign_strategy: AssignStrategy,
}

fn department_row(r: &Row<'_>) -> rusqlite::Result<DepartmentSla> {
    let s: String = r.get(3)?;
    Ok(DepartmentSla {
        id: r.get(0)?,
        name: r.get(1)?,
        sla_plan_id: r.get(2)?,
        assign_strategy: AssignStrategy::parse(&s).unwrap_or(AssignStrategy::None),
    })
}

pub fn list_department_defaults(conn: &Connection) -> StoreResult<Vec<DepartmentSla>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, name, sla_plan_id, assign_strategy FROM departments
             ORDER BY name COLLATE NOCASE",
        )
        .ctx(|| "listing department defaults".into())?;
    let rows = stmt
        .query_map([], department_row)
        .ctx(|| "listing department defaults".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing department defaults".into())
}

pub fn department_defaults(
    conn: &Connection,
    id: DepartmentId,
) -> StoreResult<Option<DepartmentSla>> {
    conn.prepare_cached(
        "SELECT id, name, sla_plan_id, assign_strategy FROM departments WHERE id = ?1",
    )
    .and_then(|mut s| s.query_row([id], department_row).optional())
    .ctx(|| format!("loading the defaults of department {id}"))
}

pub fn set_department_defaults(
    conn: &Connection,
    id: DepartmentId,
    plan: Option<SlaPlanId>,
    strategy: AssignStrategy,
) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE departments SET sla_plan_id = ?2, assign_strategy = ?3 WHERE id = ?1",
            params![id, plan, strategy.as_str()],
        )
        .ctx(|| format!("saving the defaults of department {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("department {id}")));
    }
    Ok(())
}

/// A help topic's SLA plan (the help-topic admin form sets it).
pub fn help_topic_plan(conn: &Connection, id: HelpTopicId) -> StoreResult<Option<SlaPlanId>> {
    Ok(conn
        .prepare_cached("SELECT sla_plan_id FROM help_topics WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("loading the SLA plan of help topic {id}"))?
        .flatten())
}

pub fn set_help_topic_plan(
    conn: &Connection,
    id: HelpTopicId,
    plan: Option<SlaPlanId>,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE help_topics SET sla_plan_id = ?2 WHERE id = ?1",
        params![id, plan],
    )
    .ctx(|| format!("setting the SLA plan of help topic {id}"))?;
    Ok(())
}

/// A department's SLA plan.
pub fn department_plan(conn: &Connection, id: DepartmentId) -> StoreResult<Option<SlaPlanId>> {
    Ok(conn
        .prepare_cached("SELECT sla_plan_id FROM departments WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("loading the SLA plan of department {id}"))?
        .flatten())
}

/// Active help topics as (id, name), for the ticket page's topic choice;
/// a sub-topic shows as "Parent / Child".
pub fn help_topic_choices(conn: &Connection) -> StoreResult<Vec<(HelpTopicId, String)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT h.id, CASE WHEN p.name IS NULL THEN h.name ELSE p.name || ' / ' || h.name END
             FROM help_topics h LEFT JOIN help_topics p ON p.id = h.parent_id
             WHERE h.active = 1 ORDER BY 2 COLLATE NOCASE",
        )
        .ctx(|| "listing help topics".into())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx(|| "listing help topics".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing help topics".into())
}
