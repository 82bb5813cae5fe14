//! Plugin bookkeeping: each plugin's cursor into the event log and its last
//! run, and the durable job queue (which is also the delivery log).

use oxidesk_plugin::{Job, TicketEvent};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::{Context, StoreResult};

/// One plugin's row, for the admin page and `oxidesk plugins`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PluginState {
    pub plugin: String,
    pub cursor_event_id: i64,
    pub last_run_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub pending_jobs: i64,
    pub failed_jobs: i64,
    pub done_jobs: i64,
}

/// One queued job (a delivery), as stored.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: i64,
    pub plugin: String,
    pub event_id: Option<i64>,
    pub event_kind: String,
    pub target: String,
    #[serde(skip)]
    pub body: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a job's try ended.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub state: &'static str,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// Make sure `plugin` has a state row. A new one starts at the end of the
/// event log: enabling a plugin does not replay the helpdesk's history.
pub fn ensure_state(conn: &Connection, plugin: &str, now: i64) -> StoreResult<()> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM plugin_state WHERE plugin = ?1)",
            [plugin],
            |r| r.get(0),
        )
        .ctx(|| format!("looking up the state of plugin {plugin}"))?;
    if !exists {
        conn.execute(
            "INSERT OR IGNORE INTO plugin_state (plugin, cursor_event_id, created_at)
             VALUES (?1, (SELECT COALESCE(MAX(id), 0) FROM events), ?2)",
            params![plugin, now],
        )
        .ctx(|| format!("creating the state of plugin {plugin}"))?;
    }
    Ok(())
}

pub fn cursor(conn: &Connection, plugin: &str) -> StoreResult<i64> {
    conn.query_row(
        "SELECT cursor_event_id FROM plugin_state WHERE plugin = ?1",
        [plugin],
        |r| r.get(0),
    )
    .optional()
    .ctx(|| format!("reading the event cursor of plugin {plugin}"))
    .map(|c| c.unwrap_or(0))
}

/// Ticket events after `after`, as plugins see them, oldest first. Subject,
/// status and customer are the ticket's current ones.
pub fn events_after(conn: &Connection, after: i64, limit: i64) -> StoreResult<Vec<TicketEvent>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT e.id, e.kind, e.actor, e.created_at, e.data,
                    t.number, t.subject, t.status, t.is_spam, d.name, c.name,
                    (SELECT ci.email FROM customer_identities ci
                      WHERE ci.customer_id = t.customer_id ORDER BY ci.id LIMIT 1),
                    (SELECT substr(en.body_text, 1, 500) FROM entries en
                      WHERE en.id = json_extract(e.data, '$.entry') AND en.ticket_id = t.id)
             FROM events e
             JOIN tickets t ON t.id = e.ticket_id
             JOIN departments d ON d.id = t.department_id
             JOIN customers c ON c.id = t.customer_id
             WHERE e.id > ?1
             ORDER BY e.id
             LIMIT ?2",
        )
        .ctx(|| "preparing the plugin event feed".into())?;
    let rows = stmt
        .query_map(params![after, limit], |r| {
            let data: String = r.get(4)?;
            let mut details: serde_json::Value =
                serde_json::from_str(&data).unwrap_or(serde_json::Value::Null);
            if let Some(map) = details.as_object_mut() {
                map.remove("kind");
                map.remove("ticket");
            }
            Ok(TicketEvent {
                id: r.get(0)?,
                kind: r.get(1)?,
                actor: r.get(2)?,
                timestamp: r.get(3)?,
                details,
                ticket_number: r.get(5)?,
                subject: r.get(6)?,
                status: r.get(7)?,
                is_spam: r.get(8)?,
                department: r.get(9)?,
                customer_name: r.get(10)?,
                customer_email: r.get(11)?,
                excerpt: r.get(12)?,
            })
        })
        .ctx(|| format!("reading events after {after} for plugins"))?;
    rows.collect::<Result<Vec<_>, _>>()
        .ctx(|| format!("reading events after {after} for plugins"))
}

/// Move `plugin`'s cursor from `from` to `to` and queue `jobs`, in one
/// transaction. Returns false (and changes nothing) when the cursor is no
/// longer at `from`: another dispatcher handled these events.
pub fn advance(
    conn: &mut Connection,
    plugin: &str,
    from: i64,
    to: i64,
    jobs: &[(i64, String, Job)],
    now: i64,
) -> StoreResult<bool> {
    let what = || format!("queueing work for plugin {plugin}");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(what)?;
    let moved = tx
        .execute(
            "UPDATE plugin_state SET cursor_event_id = ?3
             WHERE plugin = ?1 AND cursor_event_id = ?2",
            params![plugin, from, to],
        )
        .ctx(what)?;
    if moved == 0 {
        return Ok(false);
    }
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO plugin_jobs (plugin, event_id, event_kind, target, body,
                                          next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
            )
            .ctx(what)?;
        for (event_id, kind, job) in jobs {
            insert
                .execute(params![plugin, event_id, kind, job.target, job.body, now])
                .ctx(what)?;
        }
    }
    tx.commit().ctx(what)?;
    Ok(true)
}

/// Pending jobs of the given plugins that are due at `now`, oldest first.
pub fn due_jobs(
    conn: &Connection,
    plugins: &[&str],
    now: i64,
    limit: i64,
) -> StoreResult<Vec<JobRow>> {
    if plugins.is_empty() {
        return Ok(Vec::new());
    }
    let names = serde_json::to_string(plugins).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM plugin_jobs
             WHERE state = 'pending' AND next_attempt_at <= ?1
               AND plugin IN (SELECT value FROM json_each(?2))
             ORDER BY next_attempt_at, id
             LIMIT ?3"
        ))
        .ctx(|| "preparing the due plugin jobs query".into())?;
    let rows = stmt
        .query_map(params![now, names, limit], job_row)
        .ctx(|| "reading due plugin jobs".into())?;
    rows.collect::<Result<Vec<_>, _>>()
        .ctx(|| "reading due plugin jobs".into())
}

/// Take a job for `lease_until`. False when another dispatcher took it.
pub fn claim_job(
    conn: &Connection,
    id: i64,
    seen_next_attempt_at: i64,
    lease_until: i64,
) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE plugin_jobs SET next_attempt_at = ?3
             WHERE id = ?1 AND state = 'pending' AND next_attempt_at = ?2",
            params![id, seen_next_attempt_at, lease_until],
        )
        .ctx(|| format!("claiming plugin job {id}"))?;
    Ok(n == 1)
}

pub fn finish_job(conn: &Connection, id: i64, result: &JobResult, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE plugin_jobs
         SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_status = ?5,
             last_error = ?6, updated_at = ?7
         WHERE id = ?1",
        params![
            id,
            result.state,
            result.attempts,
            result.next_attempt_at,
            result.last_status,
            result.last_error,
            now
        ],
    )
    .ctx(|| format!("recording the result of plugin job {id}"))?;
    Ok(())
}

/// Put a failed job back in the queue, due now.
pub fn retry_job(conn: &Connection, id: i64, now: i64) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE plugin_jobs SET state = 'pending', next_attempt_at = ?2, updated_at = ?2
             WHERE id = ?1 AND state = 'failed'",
            params![id, now],
        )
        .ctx(|| format!("requeueing plugin job {id}"))?;
    Ok(n == 1)
}

/// The delivery log, newest first.
pub fn list_jobs(
    conn: &Connection,
    plugin: Option<&str>,
    state: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<JobRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM plugin_jobs
             WHERE (?1 IS NULL OR plugin = ?1) AND (?2 IS NULL OR state = ?2)
             ORDER BY id DESC LIMIT ?3"
        ))
        .ctx(|| "preparing the plugin job log query".into())?;
    let rows = stmt
        .query_map(params![plugin, state, limit], job_row)
        .ctx(|| "reading the plugin job log".into())?;
    rows.collect::<Result<Vec<_>, _>>()
        .ctx(|| "reading the plugin job log".into())
}

/// Forget finished jobs last touched before `before`.
pub fn prune_jobs(conn: &Connection, before: i64) -> StoreResult<usize> {
    conn.execute(
        "DELETE FROM plugin_jobs WHERE state = 'done' AND updated_at < ?1",
        [before],
    )
    .ctx(|| "pruning old plugin deliveries".into())
}

/// Note a call into `plugin`: a success, or an error to show admins.
pub fn record_run(
    conn: &Connection,
    plugin: &str,
    error: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    ensure_state(conn, plugin, now)?;
    match error {
        None => conn.execute(
            "UPDATE plugin_state SET last_run_at = ?2, last_ok_at = ?2 WHERE plugin = ?1",
            params![plugin, now],
        ),
        Some(e) => conn.execute(
            "UPDATE plugin_state SET last_run_at = ?2, last_error = ?3, last_error_at = ?2
             WHERE plugin = ?1",
            params![plugin, now, e],
        ),
    }
    .ctx(|| format!("recording a run of plugin {plugin}"))?;
    Ok(())
}

/// Every plugin that has a state row, with its job counts.
pub fn states(conn: &Connection) -> StoreResult<Vec<PluginState>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT s.plugin, s.cursor_event_id, s.last_run_at, s.last_ok_at,
                    s.last_error, s.last_error_at,
                    (SELECT COUNT(*) FROM plugin_jobs j WHERE j.plugin = s.plugin AND j.state = 'pending'),
                    (SELECT COUNT(*) FROM plugin_jobs j WHERE j.plugin = s.plugin AND j.state = 'failed'),
                    (SELECT COUNT(*) FROM plugin_jobs j WHERE j.plugin = s.plugin AND j.state = 'done')
             FROM plugin_state s ORDER BY s.plugin",
        )
        .ctx(|| "preparing the plugin state query".into())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(PluginState {
                plugin: r.get(0)?,
                cursor_event_id: r.get(1)?,
                last_run_at: r.get(2)?,
                last_ok_at: r.get(3)?,
                last_error: r.get(4)?,
                last_error_at: r.get(5)?,
                pending_jobs: r.get(6)?,
                failed_jobs: r.get(7)?,
                done_jobs: r.get(8)?,
            })
        })
        .ctx(|| "reading plugin states".into())?;
    rows.collect::<Result<Vec<_>, _>>()
        .ctx(|| "reading plugin states".into())
}

const JOB_COLUMNS: &str = "id, plugin, event_id, event_kind, target, body, state, attempts,
     next_attempt_at, last_status, last_error, created_at, updated_at";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        plugin: r.get(1)?,
        event_id: r.get(2)?,
        event_kind: r.get(3)?,
        target: r.get(4)?,
        body: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_at: r.get(8)?,
        last_status: r.get(9)?,
        last_error: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// The department an inbound filter reroutes to, by name (case-insensitive).
pub fn department_by_name(
    conn: &Connection,
    name: &str,
) -> StoreResult<Option<crate::model::DepartmentId>> {
    conn.query_row(
        "SELECT id FROM departments WHERE name = ?1 COLLATE NOCASE",
        [name.trim()],
        |r| r.get(0),
    )
    .optional()
    .ctx(|| format!("looking up department {name:?}"))
}
