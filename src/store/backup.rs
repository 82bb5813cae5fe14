//! Copies of the database: online backups (consistent while other processes
//! keep writing), verification of a backup, restoring one, and the automatic
//! copy taken before migrations change an existing database.
//!
//! Everything goes through SQLite's online backup API, never a file copy: a
//! plain copy of a WAL database taken while another process writes can miss
//! the pages still in the write-ahead log or tear a page mid-write.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Whether `before_migrations` copies (`database.backup_before_migrations`;
/// set by `Store::open` from its options: a process opens one database).
static COPY_BEFORE_MIGRATIONS: AtomicBool = AtomicBool::new(true);

pub fn set_copy_before_migrations(on: bool) {
    COPY_BEFORE_MIGRATIONS.store(on, Ordering::Relaxed);
}

/// Before migrations change an existing, non-empty database, keep a copy of
/// it beside the file as `NAME.pre-NNNN.bak` (NNNN = the first migration to
/// be applied). Returns the copy's path, or None when nothing was pending or
/// the database is new: the copy is the safety net of an upgrade, so it is
/// taken whenever migrations are pending, and never otherwise. An earlier
/// copy under the same name is kept; the new one then gets a timestamp in
/// its name. When the disk beside the database has not room for the copy
/// (and the migrations after it), nothing is written and the error says
/// how much is needed.
pub fn before_migrations(conn: &Connection, db_path: &Path) -> StoreResult<Option<PathBuf>> {
    if migrations::schema_version(conn)? == 0 {
        return Ok(None);
    }
    let pending = migrations::pending_migrations(conn)?;
    let Some(first) = pending.first() else {
        return Ok(None);
    };
    if !COPY_BEFORE_MIGRATIONS.load(Ordering::Relaxed) {
        tracing::warn!(
            "migrating without a copy of the database first \
             (database.backup_before_migrations = false)"
        );
        return Ok(None);
    }
    let size = database_bytes(conn)?;
    let dir = match db_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Some(free) = free_bytes(&dir) {
        check_space(size, free, &dir)?;
    }
    tracing::info!(
        database = %db_path.display(),
        bytes = size,
        "migrations are pending: copying the database first"
    );
    let started = Instant::now();
    let info = copy_before(conn, db_path, first.version)?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        backup = %info.path.display(),
        bytes = info.bytes,
        seconds = format_args!("{seconds:.1}"),
        from_version = info.schema_version,
        to_version = pending.last().map(|m| m.version).unwrap_or(0),
        "saved a copy of the database before migrating to {} ({}, {seconds:.1} s)",
        info.path.display(),
        human_bytes(info.bytes),
    );
    Ok(Some(info.path))
}

/// The size of the copy to be made: every page of the database.
fn database_bytes(conn: &Connection) -> StoreResult<u64> {
    let (pages, page_size): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT page_count FROM pragma_page_count()),
                    (SELECT page_size FROM pragma_page_size())",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| StoreError::wrap("measuring the database", e))?;
    Ok((pages.max(0) as u64).saturating_mul(page_size.max(0) as u64))
}

/// Bytes an unprivileged process may still write on the file system of
/// `dir`; None when that cannot be told (the copy is then attempted, and a
/// full disk fails it cleanly: it is written beside and renamed at the end).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Room needed besides the copy itself: the migrations write too (new
/// tables and indexes, the write-ahead log), so a tenth of the database on
/// top, and never less than 32 MiB.
fn headroom(size: u64) -> u64 {
    (size / 10).max(32 * 1024 * 1024)
}

/// Refuse to start a copy that cannot fit.
fn check_space(size: u64, free: u64, dir: &Path) -> StoreResult<()> {
    let needed = size.saturating_add(headroom(size));
    if free >= needed {
        return Ok(());
    }
    Err(StoreError::Invalid(format!(
        "not enough free disk space to keep a copy of the database before migrating it: \
         the copy needs {} and the migrations some room after it ({} in all), but only {} \
         is free in {}. Free some space there and start again; the database was not changed \
         (to upgrade without the copy, take a backup elsewhere first and set \
         database.backup_before_migrations = false)",
        human_bytes(size),
        human_bytes(needed),
        human_bytes(free),
        dir.display()
    )))
}

/// "6.2 GB", "512.0 MB", "40 KB".
fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("GB", 1e9), ("MB", 1e6), ("KB", 1e3)];
    for (unit, size) in UNITS {
        if n as f64 >= size {
            return format!("{:.1} {unit}", n as f64 / size);
        }
    }
    format!("{n} bytes")
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
    fn a_copy_that_cannot_fit_is_refused_with_the_figures() {
        let dir = Path::new("/var/lib/oxidesk");
        let gb = 1_000_000_000;
        assert!(check_space(6 * gb, 7 * gb, dir).is_ok());
        let err = check_space(6 * gb, 6 * gb, dir).unwrap_err().to_string();
        assert!(err.contains("not enough free disk space"), "{err}");
        assert!(err.contains("6.0 GB is free in /var/lib/oxidesk"), "{err}");
        assert!(err.contains("6.6 GB in all"), "{err}");
        assert!(err.contains("database was not changed"), "{err}");
        // Small databases still need some room for the migrations.
        assert!(check_space(1000, 10 * 1024 * 1024, dir).is_err());
        assert_eq!(human_bytes(40_000), "40.0 KB");
        assert_eq!(human_bytes(12), "12 bytes");
    }

    #[test]
    fn free_space_is_measured() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
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
