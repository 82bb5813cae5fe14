//! Bulk inserts for synthetic data (`oxidesk dev seed`): departments, staff,
//! customers, tickets with their threads, attachments and events, written
//! through one dedicated connection in large transactions with prepared
//! statements.
//!
//! The seeding connection trades durability for speed (no journal, no
//! fsync, exclusive lock): a crash mid-seed leaves a file to throw away,
//! which is fine for generated data and never used for real data. The full-
//! text indexes are filled by a rebuild at the end instead of row by row
//! (their triggers are dropped during the load and put back exactly as they
//! were), and `ANALYZE` runs last so the planner sees realistic statistics (kept in
//! sqlite_stat1 only, see `finish`).
//! Every other trigger (added by later migrations) fires on these inserts as
//! usual.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags};

use super::{Context, StoreError, StoreResult};

/// A department to create.
pub struct NewDepartment<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// A staff member to create. `password_hash` may be a value that matches no
/// password (seeded staff are not meant to log in).
pub struct NewStaff<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
    pub created_at: i64,
}

pub struct NewTicket<'a> {
    pub number: &'a str,
    pub subject: &'a str,
    pub status: &'a str,
    pub priority_id: i64,
    pub department_id: i64,
    pub help_topic_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub customer_id: i64,
    pub source: &'a str,
    pub is_overdue: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_at: Option<i64>,
    pub last_response_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub due_at: Option<i64>,
    pub closed_at: Option<i64>,
}

pub struct NewEntry<'a> {
    pub ticket_id: i64,
    pub kind: &'a str,
    pub staff_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub author_name: &'a str,
    pub author_email: Option<&'a str>,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub created_at: i64,
}

pub struct NewAttachment<'a> {
    pub entry_id: i64,
    pub blob_id: i64,
    pub filename: &'a str,
    pub mime_type: &'a str,
    pub size: i64,
    pub created_at: i64,
}

/// A trigger dropped for the load, recreated from its original SQL.
struct SavedTrigger {
    name: String,
    sql: String,
}

/// The seeding connection and its prepared statements.
pub struct Seeder {
    conn: Connection,
    fts_triggers: Vec<SavedTrigger>,
    in_tx: bool,
}

const STMT_TICKET: &str =
    "INSERT INTO tickets (number, subject, status, priority_id, department_id,
        help_topic_id, assignee_id, customer_id, source, is_spam, is_overdue, created_at,
        updated_at, last_message_at, last_response_at, first_response_at, due_at, closed_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
const STMT_ENTRY: &str = "INSERT INTO entries (ticket_id, kind, staff_id, customer_id, author_name,
        author_email, body_text, body_html, message_id, in_reply_to, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
const STMT_ATTACHMENT: &str = "INSERT INTO attachments (entry_id, blob_id, filename, mime_type,
        size, inline, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)";
const STMT_EVENT: &str = "INSERT INTO events (ticket_id, staff_id, customer_id, actor, kind, data,
        created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const STMT_CUSTOMER: &str = "INSERT INTO customers (name, created_at) VALUES (?1, ?2)";
const STMT_IDENTITY: &str = "INSERT INTO customer_identities (customer_id, email, verified,
        created_at) VALUES (?1, ?2, ?3, ?4)";

/// Full-text tables filled by a rebuild after the load.
const FTS_TABLES: [&str; 3] = ["tickets_fts", "entries_fts", "identities_fts"];

impl Seeder {
    /// Open `path` (already migrated by `Store::open`) for bulk loading.
    /// Refuses a database that already holds tickets: seeded numbers and ids
    /// assume an empty helpdesk.
    pub fn open(path: &Path) -> StoreResult<Seeder> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::wrap(format!("opening {}", path.display()), e))?;
        let tickets: i64 = conn
            .query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0))
            .ctx(|| "counting existing tickets".into())?;
        if tickets > 0 {
            return Err(StoreError::Invalid(format!(
                "the database already holds {tickets} tickets; seed into a new file"
            )));
        }
        // Leave WAL for a journal-less exclusive load; `finish` switches back.
        let _: String = conn
            .query_row("PRAGMA journal_mode = OFF", [], |r| r.get(0))
            .ctx(|| "switching off the journal for the load".into())?;
        conn.execute_batch(
            "PRAGMA synchronous = OFF;
             PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA foreign_keys = OFF;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -262144;",
        )
        .ctx(|| "setting up the seeding connection".into())?;
        let mut fts_triggers = Vec::new();
        {
            let mut stmt = conn
                .prepare(
                    "SELECT name, sql FROM sqlite_master
                     WHERE type = 'trigger' AND sql LIKE '%\\_fts%' ESCAPE '\\'
                       AND tbl_name IN ('tickets', 'entries', 'customer_identities')
                     ORDER BY name",
                )
                .ctx(|| "listing full-text triggers".into())?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(SavedTrigger {
                        name: r.get(0)?,
                        sql: r.get(1)?,
                    })
                })
                .ctx(|| "listing full-text triggers".into())?;
            for t in rows {
                fts_triggers.push(t.ctx(|| "reading a trigger".into())?);
            }
        }
        for t in &fts_triggers {
            conn.execute_batch(&format!("DROP TRIGGER \"{}\"", t.name.replace('"', "\"\"")))
                .ctx(|| format!("dropping trigger {} for the load", t.name))?;
        }
        Ok(Seeder {
            conn,
            fts_triggers,
            in_tx: false,
        })
    }

    pub fn begin(&mut self) -> StoreResult<()> {
        if !self.in_tx {
            self.conn
                .execute_batch("BEGIN")
                .ctx(|| "starting a seeding batch".into())?;
            self.in_tx = true;
        }
        Ok(())
    }

    pub fn commit(&mut self) -> StoreResult<()> {
        if self.in_tx {
            self.conn
                .execute_batch("COMMIT")
                .ctx(|| "committing a seeding batch".into())?;
            self.in_tx = false;
        }
        Ok(())
    }

    fn stmt(&self, sql: &str) -> StoreResult<rusqlite::CachedStatement<'_>> {
        self.conn
            .prepare_cached(sql)
            .ctx(|| "preparing a seeding statement".into())
    }

    pub fn department(&mut self, d: &NewDepartment<'_>, created_at: i64) -> StoreResult<i64> {
        // The default "Support" department from the first migration is reused.
        let existing: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM departments WHERE name = ?1",
                [d.name],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .ctx(|| format!("looking up department {}", d.name))?;
        if let Some(id) = existing {
            return Ok(id);
        }
        self.conn
            .execute(
                "INSERT INTO departments (name, email, email_name, public, auto_response, created_at)
                 VALUES (?1, ?2, ?1, 1, 1, ?3)",
                params![d.name, d.email, created_at],
            )
            .ctx(|| format!("inserting department {}", d.name))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn help_topic(
        &mut self,
        name: &str,
        department_id: i64,
        created_at: i64,
    ) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO help_topics (name, department_id, public, active, sort, created_at)
                 VALUES (?1, ?2, 1, 1, 0, ?3)",
                params![name, department_id, created_at],
            )
            .ctx(|| format!("inserting help topic {name}"))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn staff(&mut self, s: &NewStaff<'_>) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO staff (email, name, password_hash, is_admin, active, created_at)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![s.email, s.name, s.password_hash, s.is_admin, s.created_at],
            )
            .ctx(|| format!("inserting staff {}", s.email))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn staff_department(
        &mut self,
        staff_id: i64,
        department_id: i64,
        role: &str,
    ) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO staff_departments (staff_id, department_id, role)
                 VALUES (?1, ?2, ?3)",
                params![staff_id, department_id, role],
            )
            .ctx(|| format!("adding staff {staff_id} to department {department_id}"))?;
        Ok(())
    }

    /// A blob by content; returns the existing row when the hash is known.
    pub fn blob(&mut self, sha256: &str, data: &[u8]) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?1, ?2, ?3)",
                params![sha256, data.len() as i64, data],
            )
            .ctx(|| format!("inserting blob {sha256}"))?;
        self.conn
            .query_row("SELECT id FROM blobs WHERE sha256 = ?1", [sha256], |r| {
                r.get(0)
            })
            .ctx(|| format!("looking up blob {sha256}"))
    }

    pub fn customer(&mut self, name: &str, created_at: i64) -> StoreResult<i64> {
        self.stmt(STMT_CUSTOMER)?
            .execute(params![name, created_at])
            .ctx(|| format!("inserting customer {name}"))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn identity(
        &mut self,
        customer_id: i64,
        email: &str,
        verified: bool,
        created_at: i64,
    ) -> StoreResult<i64> {
        self.stmt(STMT_IDENTITY)?
            .execute(params![customer_id, email, verified, created_at])
            .ctx(|| format!("inserting identity {email}"))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn ticket(&mut self, t: &NewTicket<'_>) -> StoreResult<i64> {
        self.stmt(STMT_TICKET)?
            .execute(params![
                t.number,
                t.subject,
                t.status,
                t.priority_id,
                t.department_id,
                t.help_topic_id,
                t.assignee_id,
                t.customer_id,
                t.source,
                t.is_overdue,
                t.created_at,
                t.updated_at,
                t.last_message_at,
                t.last_response_at,
                t.first_response_at,
                t.due_at,
                t.closed_at,
            ])
            .ctx(|| format!("inserting ticket {}", t.number))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn entry(&mut self, e: &NewEntry<'_>) -> StoreResult<i64> {
        self.stmt(STMT_ENTRY)?
            .execute(params![
                e.ticket_id,
                e.kind,
                e.staff_id,
                e.customer_id,
                e.author_name,
                e.author_email,
                e.body_text,
                e.body_html,
                e.message_id,
                e.in_reply_to,
                e.created_at,
            ])
            .ctx(|| format!("inserting an entry of ticket {}", e.ticket_id))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn attachment(&mut self, a: &NewAttachment<'_>) -> StoreResult<i64> {
        self.stmt(STMT_ATTACHMENT)?
            .execute(params![
                a.entry_id,
                a.blob_id,
                a.filename,
                a.mime_type,
                a.size,
                a.created_at
            ])
            .ctx(|| format!("inserting attachment {}", a.filename))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// An event row; `data` is the JSON the domain's `TicketEvent` serialises to.
    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &mut self,
        ticket_id: i64,
        staff_id: Option<i64>,
        customer_id: Option<i64>,
        actor: &str,
        kind: &str,
        data: &str,
        created_at: i64,
    ) -> StoreResult<()> {
        self.stmt(STMT_EVENT)?
            .execute(params![
                ticket_id,
                staff_id,
                customer_id,
                actor,
                kind,
                data,
                created_at
            ])
            .ctx(|| format!("inserting a {kind} event for ticket {ticket_id}"))?;
        Ok(())
    }

    /// Rebuild the full-text indexes, put their triggers back, refresh the
    /// planner statistics and return the file to WAL mode.
    pub fn finish(mut self, mut progress: impl FnMut(&str)) -> StoreResult<()> {
        self.commit()?;
        self.begin()?;
        for table in FTS_TABLES {
            progress(&format!("rebuilding {table}"));
            self.conn
                .execute_batch(&format!("INSERT INTO {table}({table}) VALUES('rebuild')"))
                .ctx(|| format!("rebuilding {table}"))?;
        }
        for t in &self.fts_triggers {
            self.conn
                .execute_batch(&t.sql)
                .ctx(|| format!("restoring trigger {}", t.name))?;
        }
        self.commit()?;
        for table in FTS_TABLES {
            progress(&format!("optimising {table}"));
            self.conn
                .execute_batch(&format!("INSERT INTO {table}({table}) VALUES('optimize')"))
                .ctx(|| format!("optimising {table}"))?;
        }
        progress("analysing");
        // sqlite_stat1 only: every new connection loads (and sorts) all of
        // sqlite_stat4's samples when it reads the schema, which was a fifth
        // of a piped mail's instructions; our queries are index lookups that
        // sqlite_stat1's figures serve.
        self.conn
            .execute_batch("ANALYZE; DELETE FROM sqlite_stat4;")
            .ctx(|| "analysing the seeded database".into())?;
        self.conn
            .execute_batch("PRAGMA locking_mode = NORMAL")
            .ctx(|| "releasing the exclusive lock".into())?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .ctx(|| "switching the database back to WAL".into())?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!(
                "the seeded database stayed in {mode} journal mode"
            )));
        }
        Ok(())
    }
}

/// Number of rows in `table` (one of the seeded tables), for the summary.
pub fn count(conn: &Connection, table: &str) -> StoreResult<i64> {
    const ALLOWED: [&str; 8] = [
        "tickets",
        "entries",
        "customers",
        "customer_identities",
        "staff",
        "departments",
        "attachments",
        "events",
    ];
    if !ALLOWED.contains(&table) {
        return Err(StoreError::Invalid(format!("no row count for {table}")));
    }
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .ctx(|| format!("counting {table}"))
}
