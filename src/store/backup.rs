//! Copies of the database: online backups (consistent while other processes
//! keep writing), verification of a backup, restoring one, and the automatic
//! copy taken before migrations change an existing database.
//!
//! Everything goes through SQLite's online backup API, never a file copy: a
//! plain copy of a WAL database taken while another process writes can miss
//! the pages still in the write-ahead log or tear a page mid-write.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::error::{StoreError, StoreResult};
use super::migrations;

/// What a finished backup holds.
#[derive(Debug, Clone)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub schema_version: u32,
    pub bytes: u64,
}

/// How long a backup or restore keeps retrying while another connection holds
/// a lock it needs.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Copy every page of `src` into `dst` in one step. A single step reads the
/// source inside one read transaction, so the copy is a consistent snapshot;
/// in WAL mode that read transaction does not hold writers back.
fn copy_pages(src: &Connection, dst: &mut Connection, what: &str) -> StoreResult<()> {
    let backup = Backup::new(src, dst).map_err(|e| StoreError::wrap(what.to_string(), e))?;
    let started = Instant::now();
    loop {
        match backup
            .step(-1)
            .map_err(|e| StoreError::wrap(what.to_string(), e))?
        {
            StepResult::Done => return Ok(()),
            StepResult::More => continue,
            _ if started.elapsed() < LOCK_WAIT => thread::sleep(Duration::from_millis(50)),
            _ => {
                return Err(StoreError::Temporary {
                    context: what.to_string(),
                    source: rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        Some("the database stayed locked".into()),
                    ),
                })
            }
        }
    }
}

/// A sibling path for a file being written, renamed into place when complete
/// so a crash never leaves a half-written backup under the final name.
fn temp_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

/// Write a consistent copy of the database `src` is connected to into the
/// file `dest` (replaced if it exists). The copy is a self-contained file in
/// rollback-journal mode, checked with `quick_check` before it is renamed
/// into place.
pub fn backup_to(src: &Connection, dest: &Path) -> StoreResult<BackupInfo> {
    let tmp = temp_sibling(dest);
    let result = (|| {
        let _ = std::fs::remove_file(&tmp);
        let mut dst = Connection::open(&tmp)
            .map_err(|e| StoreError::wrap(format!("creating {}", tmp.display()), e))?;
        copy_pages(src, &mut dst, "copying the database")?;
        dst.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
            .map_err(|e| StoreError::wrap("finishing the backup file", e))?;
        drop(dst);
        let version = verify(&tmp)?;
        std::fs::rename(&tmp, dest).map_err(|e| {
            StoreError::Invalid(format!(
                "cannot move the backup into place at {}: {e}",
                dest.display()
            ))
        })?;
        let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        Ok(BackupInfo {
            path: dest.to_path_buf(),
            schema_version: version,
            bytes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Check that `path` is an intact Oxidesk database this binary can use:
/// `quick_check` passes and its schema is not newer than this binary knows.
/// Returns its schema version.
pub fn verify(path: &Path) -> StoreResult<u32> {
    if !path.is_file() {
        return Err(StoreError::Invalid(format!(
            "{} does not exist or is not a file",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::wrap(format!("opening {}", path.display()), e))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| {
            StoreError::Invalid(format!(
                "{} is not a readable SQLite database: {e}",
                path.display()
            ))
        })?;
    if check != "ok" {
        return Err(StoreError::Invalid(format!(
            "{} is damaged (quick_check: {check})",
            path.display()
        )));
    }
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| StoreError::wrap("reading the backup's tables", e))?;
    if !has_table {
        return Err(StoreError::Invalid(format!(
            "{} is not an Oxidesk database (it has no schema_migrations table)",
            path.display()
        )));
    }
    let version: u32 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(|e| StoreError::wrap("reading the backup's schema version", e))?;
    let known = latest_version();
    if version > known {
        return Err(StoreError::Invalid(format!(
            "{} has schema version {version}, newer than this binary knows ({known}); use a newer oxidesk",
            path.display()
        )));
    }
    Ok(version)
}

/// The newest migration embedded in this binary.
pub fn latest_version() -> u32 {
    migrations::all().last().map(|m| m.version).unwrap_or(0)
}

/// Before migrations change an existing, non-empty database, keep a copy of
/// it beside the file as `NAME.pre-NNNN.bak` (NNNN = the first migration to
/// be applied). Returns the copy's path, or None when nothing was pending or
/// the database is new. An earlier copy under the same name is kept; the new
/// one then gets a timestamp in its name.
pub fn before_migrations(conn: &Connection, db_path: &Path) -> StoreResult<Option<PathBuf>> {
    if migrations::schema_version(conn)? == 0 {
        return Ok(None);
    }
    let pending = migrations::pending_migrations(conn)?;
    let Some(first) = pending.first() else {
        return Ok(None);
    };
    let info = copy_before(conn, db_path, first.version)?;
    tracing::info!(
        backup = %info.path.display(),
        from_version = info.schema_version,
        to_version = pending.last().map(|m| m.version).unwrap_or(0),
        "saved a copy of the database before migrating"
    );
    Ok(Some(info.path))
}

fn copy_before(conn: &Connection, db_path: &Path, first_pending: u32) -> StoreResult<BackupInfo> {
    let name = db_path.file_name().unwrap_or_default().to_string_lossy();
    let mut dest = db_path.with_file_name(format!("{name}.pre-{first_pending:04}.bak"));
    if dest.exists() {
        dest = db_path.with_file_name(format!(
            "{name}.pre-{first_pending:04}.{}.bak",
            super::now()
        ));
    }
    backup_to(conn, &dest)
}

/// Why the database at `path` looks in use by another process, if it does:
/// another process has the file (or its WAL) open, or a write-ahead log with
/// content is lying beside it.
pub fn in_use(path: &Path) -> Option<String> {
    if let Some(pid) = open_by_other_process(path) {
        return Some(format!("process {pid} has it open"));
    }
    let wal = sidecar(path, "-wal");
    match std::fs::metadata(&wal) {
        Ok(m) if m.len() > 0 => Some(format!(
            "its write-ahead log {} is not empty (the helpdesk is running or was not stopped cleanly)",
            wal.display()
        )),
        _ => None,
    }
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Scan /proc for another process holding the database, its WAL or its
/// shared-memory file open (Linux; elsewhere this finds nothing).
fn open_by_other_process(path: &Path) -> Option<u32> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let wanted = [
        canonical.clone(),
        sidecar(&canonical, "-wal"),
        sidecar(&canonical, "-shm"),
    ];
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if wanted.contains(&target) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

/// Replace the content of the database at `target` (created if missing) with
/// the backup at `source`, after verifying the backup. The pages are written
/// through SQLite's locks, so a process that still has the database open sees
/// either the old or the new content, never a mix.
pub fn restore_from(source: &Path, target: &Path, busy_timeout: Duration) -> StoreResult<u32> {
    let version = verify(source)?;
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::wrap(format!("opening {}", source.display()), e))?;
    let mut dst = Connection::open(target)
        .map_err(|e| StoreError::wrap(format!("opening {}", target.display()), e))?;
    dst.busy_timeout(busy_timeout)
        .map_err(|e| StoreError::wrap("configuring the connection", e))?;
    copy_pages(&src, &mut dst, "restoring the database")?;
    let check: String = dst
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| StoreError::wrap("checking the restored database", e))?;
    if check != "ok" {
        return Err(StoreError::Invalid(format!(
            "the restored database failed quick_check: {check}"
        )));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_before_migrating_keeps_earlier_copies() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("o.db");
        let conn = Connection::open(&db).unwrap();
        migrations::apply(&conn).unwrap();
        conn.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES ('a', 'first', 0)",
            [],
        )
        .unwrap();
        let first = copy_before(&conn, &db, 42).unwrap();
        assert_eq!(first.path, dir.path().join("o.db.pre-0042.bak"));
        assert_eq!(first.schema_version, latest_version());
        conn.execute("UPDATE settings SET value = 'second' WHERE key = 'a'", [])
            .unwrap();
        let second = copy_before(&conn, &db, 42).unwrap();
        assert_ne!(second.path, first.path, "an earlier copy is never replaced");
        let read = |p: &Path| -> String {
            Connection::open(p)
                .unwrap()
                .query_row("SELECT value FROM settings WHERE key = 'a'", [], |r| {
                    r.get(0)
                })
                .unwrap()
        };
        assert_eq!(read(&first.path), "first");
        assert_eq!(read(&second.path), "second");
        // Nothing pending on a current database: no copy.
        assert!(before_migrations(&conn, &db).unwrap().is_none());
    }

    #[test]
    fn new_database_is_not_copied() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("n.db");
        let conn = Connection::open(&db).unwrap();
        assert!(before_migrations(&conn, &db).unwrap().is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn in_use_sees_a_non_empty_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        std::fs::write(&db, b"").unwrap();
        assert!(in_use(&db).is_none());
        std::fs::write(dir.path().join("w.db-wal"), b"x").unwrap();
        assert!(in_use(&db).unwrap().contains("write-ahead log"));
    }
}
