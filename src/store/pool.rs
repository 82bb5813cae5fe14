use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use r2d2::{ManageConnection, Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use super::error::{StoreError, StoreResult};
use super::migrations;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub path: PathBuf,
    /// How long a connection waits for another writer before giving up.
    pub busy_timeout: Duration,
    pub max_connections: u32,
    /// Apply pending migrations on open (true everywhere but `check`).
    pub migrate: bool,
    /// One connection, no pool: for one-shot processes such as `pipe`,
    /// which would otherwise start the pool's threads and wait for one of
    /// them to open the file.
    pub single_connection: bool,
    /// SQLite page cache per connection, in KiB.
    pub cache_kib: u32,
    /// Copy an existing database beside itself before applying migrations.
    pub backup_before_migrations: bool,
}

impl StoreOptions {
    pub fn new(path: impl Into<PathBuf>) -> StoreOptions {
        StoreOptions {
            path: path.into(),
            busy_timeout: Duration::from_secs(5),
            max_connections: 4,
            migrate: true,
            single_connection: false,
            cache_kib: 4096,
            backup_before_migrations: true,
        }
    }
}

/// The handle every layer shares: connections to one SQLite file, from a
/// pool or, for one-shot processes, a single connection.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    path: PathBuf,
}

#[derive(Clone)]
enum Backend {
    Pool {
        pool: Pool<Manager>,
        /// The connection that set the file up, held open (see `open`)
        /// and closed last (see `LastClose`).
        _setup: Arc<LastClose>,
    },
    Single {
        slot: Arc<Slot>,
        wait: Duration,
    },
}

/// The one connection of a single-connection store, lent out by `conn()`
/// and put back when the borrower drops it.
struct Slot {
    conn: Mutex<Option<Connection>>,
    returned: Condvar,
}

/// A connection from the store; derefs to `rusqlite::Connection`.
pub struct Conn {
    inner: Option<ConnInner>,
}

enum ConnInner {
    Pooled(PooledConnection<Manager>),
    Single(Connection, Arc<Slot>),
}

impl Deref for Conn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self.inner.as_ref() {
            Some(ConnInner::Pooled(c)) => &c.conn,
            Some(ConnInner::Single(c, _)) => c,
            None => unreachable!("a connection is only taken out on drop"),
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Connection {
        match self.inner.as_mut() {
            Some(ConnInner::Pooled(c)) => &mut c.conn,
            Some(ConnInner::Single(c, _)) => c,
            None => unreachable!("a connection is only taken out on drop"),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(ConnInner::Single(conn, slot)) = self.inner.take() {
            if !conn.is_autocommit() {
                // Left inside a transaction (a panic mid-read): end it
                // before the next borrower gets the connection.
                let _ = conn.execute_batch("ROLLBACK");
            }
            let mut guard = slot.conn.lock().unwrap_or_else(|p| p.into_inner());
            *guard = Some(conn);
            slot.returned.notify_one();
        }
    }
}

/// Opens the pool's connections with our settings and counts how many are
/// open, so that the store can close its setup connection after them.
#[derive(Debug)]
struct Manager {
    inner: SqliteConnectionManager,
    busy_timeout: Duration,
    cache_kib: u32,
    open: Arc<AtomicUsize>,
}

/// A pooled connection. Fields drop in order: SQLite closes `conn`, then
/// `_open` counts it as closed.
struct Counted {
    conn: Connection,
    /// Results of reads kept until the database changes (see `Conn::memo`).
    memo: RefCell<Memo>,
    /// Close it when it comes back instead of keeping it idle (see
    /// `release_idle_memory`).
    retire: bool,
    _open: OpenGuard,
}

struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What `Conn::memo` keeps on one pooled connection: values computed from
/// the database as this connection last saw it.
#[derive(Default)]
struct Memo {
    /// `PRAGMA data_version` (moves when another connection commits) and
    /// `total_changes` (moves when this one writes) at the time of the values.
    seen: Option<(i64, u64)>,
    values: HashMap<String, Box<dyn Any + Send>>,
}

/// Values kept per connection; beyond this the memo starts over.
const MEMO_ENTRIES: usize = 64;

impl Conn {
    /// Run the reads in `f` in one read transaction.
    ///
    /// Every statement then sees the same snapshot of the database (a page
    /// never shows a count from before a change beside rows from after
    /// it), and SQLite takes its locks on the database and the WAL index
    /// once instead of once per statement, a few `fcntl` calls each time:
    /// 5% of a ticket view's time went to them. Inside a transaction
    /// already, `f` simply runs in it.
    pub fn snapshot<T>(&mut self, f: impl FnOnce(&mut Conn) -> StoreResult<T>) -> StoreResult<T> {
        if !self.is_autocommit() {
            return f(self);
        }
        // Cached statements: execute_batch would parse them on every read.
        self.prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .map_err(|e| StoreError::wrap("starting a read", e))?;
        let out = f(self);
        // Nothing was written: either ends the transaction the same way.
        let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self
            .prepare_cached(end)
            .and_then(|mut s| s.execute([]))
            .map_err(|e| StoreError::wrap("ending a read", e));
        let value = out?;
        ended?;
        Ok(value)
    }

    /// The value of a read that depends on nothing but the database's
    /// content and `key`: computed once, then given back from memory until
    /// any connection (in this process or another) commits a change, or
    /// this one writes. Checking costs one `PRAGMA data_version`. Meant for
    /// small reads every page repeats, such as the navigation's queue
    /// counts; connections outside a pool compute every time.
    pub fn memo<T, F>(&self, key: &str, compute: F) -> StoreResult<T>
    where
        T: Clone + Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        let Some(ConnInner::Pooled(c)) = self.inner.as_ref() else {
            return compute(self);
        };
        // Read before computing: a change committed in between makes the
        // next call compute again, never serve an older value.
        let seen = (
            c.conn
                .prepare_cached("PRAGMA data_version")
                .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
                .map_err(|e| StoreError::wrap("reading the database's change counter", e))?,
            c.conn.total_changes(),
        );
        {
            let mut memo = c.memo.borrow_mut();
            if memo.seen != Some(seen) {
                memo.values.clear();
                memo.seen = Some(seen);
            }
            if let Some(v) = memo.values.get(key).and_then(|v| v.downcast_ref::<T>()) {
                return Ok(v.clone());
            }
        }
        let value = compute(&c.conn)?;
        let mut memo = c.memo.borrow_mut();
        if memo.values.len() >= MEMO_ENTRIES {
            memo.values.clear();
        }
        memo.values.insert(key.to_owned(), Box::new(value.clone()));
        Ok(value)
    }
}

impl ManageConnection for Manager {
    type Connection = Counted;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Counted, rusqlite::Error> {
        let conn = self.inner.connect()?;
        configure(&conn, self.busy_timeout, self.cache_kib)?;
        self.open.fetch_add(1, Ordering::AcqRel);
        Ok(Counted {
            conn,
            retire: false,
            memo: RefCell::new(Memo::default()),
            _open: OpenGuard(self.open.clone()),
        })
    }

    fn is_valid(&self, conn: &mut Counted) -> Result<(), rusqlite::Error> {
        self.inner.is_valid(&mut conn.conn)
    }

    fn has_broken(&self, conn: &mut Counted) -> bool {
        // r2d2 drops a connection it is told is broken rather than putting
        // it back; the pool opens a new one when it needs one.
        // One left inside a transaction (a panic mid-read) is closed, which
        // rolls the transaction back, rather than lent out again.
        conn.retire || !conn.conn.is_autocommit() || self.inner.has_broken(&mut conn.conn)
    }
}

/// The setup connection of a pooled store, closed when the last handle to
/// the store goes, after the pool's own connections.
///
/// Whichever connection closes last checkpoints the WAL and deletes the
/// `-wal` and `-shm` files. The pool opens connections on its own thread,
/// which may still hold the pool for a moment after handing one over; a
/// short command could then return (and the process exit) with that
/// connection never closed, leaving the WAL behind. Waiting for the count
/// to reach zero closes the file cleanly every time.
struct LastClose {
    conn: Mutex<Option<Connection>>,
    open: Arc<AtomicUsize>,
}

impl Drop for LastClose {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.open.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(self.conn.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

/// How long `wait_when_busy` keeps trying, in ms (the store's busy timeout;
/// a process opens one store, or stores with the same timeout).
static BUSY_TIMEOUT_MS: AtomicU32 = AtomicU32::new(5000);

/// Busy handler: try again every millisecond until the busy timeout. SQLite's
/// own handler sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries, so a writer
/// waiting behind a 10 ms transaction (another piped mail) often slept 20–50
/// ms: concurrent pipes took turns with long gaps between them.
fn wait_when_busy(tries: i32) -> bool {
    let waited_ms = u64::try_from(tries).unwrap_or(0) * 11 / 10;
    if waited_ms >= u64::from(BUSY_TIMEOUT_MS.load(Ordering::Relaxed)) {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

/// Prepared statements kept per connection (see `configure`).
const STATEMENT_CACHE: usize = 256;

/// Per-connection settings. WAL lets readers run beside the one writer.
/// synchronous=FULL syncs the WAL at every commit: when we tell the MTA (or
/// an agent) that something is stored, it survives a power cut too, which
/// matters more here than the fsync it costs.
fn configure(conn: &Connection, busy_timeout: Duration, cache_kib: u32) -> rusqlite::Result<()> {
    BUSY_TIMEOUT_MS.store(
        busy_timeout.as_millis().clamp(1, u32::MAX as u128) as u32,
        Ordering::Relaxed,
    );
    conn.busy_handler(Some(wait_when_busy))?;
    // rusqlite keeps 16 prepared statements per connection by default; one
    // staff page runs more distinct statements than that, so each request
    // evicted and prepared most of them again.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Checkpoints in the commit, or on the server's checkpointer thread.
    conn.wal_hook(Some(super::checkpoint::on_commit));
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = FULL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{};",
        cache_kib.max(256)
    ))?;
    Ok(())
}

impl Store {
    /// Open (creating if needed) the database file, switch it to WAL and
    /// apply pending migrations.
    pub fn open(opts: &StoreOptions) -> StoreResult<Store> {
        super::backup::set_copy_before_migrations(opts.backup_before_migrations);
        if let Some(dir) = opts.path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot create the database folder {}: {e}",
                        dir.display()
                    ))
                })?;
            }
        }
        let setup;
        {
            // WAL is a property of the file: set it once, on a plain
            // connection, before the pool opens more.
            let conn = Connection::open_with_flags(
                &opts.path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| StoreError::wrap(format!("opening {}", opts.path.display()), e))?;
            configure(&conn, opts.busy_timeout, opts.cache_kib)
                .map_err(|e| StoreError::wrap("configuring the connection", e))?;
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(|e| StoreError::wrap("switching the database to WAL", e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(mode, "the database is not in WAL mode");
            }
            if opts.migrate && !migrations::up_to_date(&conn) {
                super::backup::before_migrations(&conn, &opts.path)?;
                migrations::apply(&conn)?;
            }
            // Keep this connection open as long as the store: closing the
            // last connection to a WAL file checkpoints it and deletes the
            // WAL, which the pool's first connection would then recreate
            // (with a directory sync). A piped mail is one short process, so
            // that would happen once per message for nothing.
            setup = conn;
        }
        let backend = if opts.single_connection {
            Backend::Single {
                slot: Arc::new(Slot {
                    conn: Mutex::new(Some(setup)),
                    returned: Condvar::new(),
                }),
                wait: opts.busy_timeout + Duration::from_secs(5),
            }
        } else {
            let open = Arc::new(AtomicUsize::new(0));
            let manager = Manager {
                inner: SqliteConnectionManager::file(&opts.path),
                busy_timeout: opts.busy_timeout,
                cache_kib: opts.cache_kib,
                open: open.clone(),
            };
            let pool = Pool::builder()
                .max_size(opts.max_connections.max(1))
                .min_idle(Some(0))
                // r2d2 would run a query on every checkout to see that the
                // connection still works: a server's habit that costs here
                // (two checkouts a page, 2% of its time each) and finds
                // nothing, since a SQLite connection is a file handle that
                // does not time out. A connection that broke is dropped
                // when it comes back (`has_broken`).
                .test_on_check_out(false)
                .connection_timeout(opts.busy_timeout + Duration::from_secs(5))
                .build_unchecked(manager);
            Backend::Pool {
                pool,
                _setup: Arc::new(LastClose {
                    conn: Mutex::new(Some(setup)),
                    open,
                }),
            }
        };
        Ok(Store {
            backend,
            path: opts.path.clone(),
        })
    }

    /// Close the pool's idle connections, and with them everything they
    /// hold for speed: the pages in their caches, their prepared statements
    /// and their copy of the schema. The next request opens a connection
    /// again (about a millisecond, most of it reading the schema) and reads
    /// its pages from the kernel's cache, as a rule. The store's setup connection stays open,
    /// so the WAL is not checkpointed and deleted; connections in use are
    /// left alone. Returns how many connections were closed.
    pub fn release_idle_memory(&self) -> usize {
        let Backend::Pool { pool, .. } = &self.backend else {
            return 0;
        };
        // Hold each one until all are taken, so none is taken twice.
        let mut idle = Vec::new();
        while let Some(mut c) = pool.try_get() {
            c.retire = true;
            idle.push(c);
        }
        idle.len()
    }

    /// A connection: from the pool, or the single connection once its
    /// current borrower has dropped it.
    pub fn conn(&self) -> StoreResult<Conn> {
        let inner = match &self.backend {
            Backend::Pool { pool, .. } => {
                ConnInner::Pooled(pool.get().map_err(|e| StoreError::Pool(e.to_string()))?)
            }
            Backend::Single { slot, wait } => {
                let deadline = Instant::now() + *wait;
                let mut guard = slot.conn.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if let Some(conn) = guard.take() {
                        break ConnInner::Single(conn, slot.clone());
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(StoreError::Pool(
                            "the database connection stayed in use too long".into(),
                        ));
                    }
                    guard = slot
                        .returned
                        .wait_timeout(guard, left)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
            }
        };
        Ok(Conn { inner: Some(inner) })
    }

    /// A connection only if one is free right now: an idle pooled one, or
    /// the single connection when nobody holds it. Never waits and never
    /// opens a connection.
    pub fn try_conn(&self) -> Option<Conn> {
        let inner = match &self.backend {
            Backend::Pool { pool, .. } => ConnInner::Pooled(pool.try_get()?),
            Backend::Single { slot, .. } => {
                let mut guard = slot.conn.try_lock().ok()?;
                ConnInner::Single(guard.take()?, slot.clone())
            }
        };
        Some(Conn { inner: Some(inner) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn count(c: &Connection) -> StoreResult<i64> {
        c.query_row("SELECT count(*) FROM departments", [], |r| r.get(0))
            .map_err(|e| StoreError::wrap("counting", e))
    }

    #[test]
    fn memo_serves_a_value_until_the_database_changes() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions::new(dir.path().join("memo.db"));
        let store = Store::open(&opts).unwrap();
        let computed = Cell::new(0);
        let read = |conn: &Conn| {
            conn.memo("departments", |c| {
                computed.set(computed.get() + 1);
                count(c)
            })
            .unwrap()
        };
        let conn = store.conn().unwrap();
        let first = read(&conn);
        assert_eq!(read(&conn), first);
        assert_eq!(computed.get(), 1, "nothing changed: served from memory");

        // A write on this connection.
        conn.execute(
            "INSERT INTO departments (name, created_at) VALUES ('Memo one', 0)",
            [],
        )
        .unwrap();
        assert_eq!(read(&conn), first + 1);
        assert_eq!(computed.get(), 2);

        // A commit by another process's connection.
        let other = Connection::open(&opts.path).unwrap();
        other
            .execute(
                "INSERT INTO departments (name, created_at) VALUES ('Memo two', 0)",
                [],
            )
            .unwrap();
        assert_eq!(read(&conn), first + 2);
        assert_eq!(read(&conn), first + 2);
        assert_eq!(computed.get(), 3);

        // Keys are separate.
        conn.memo("other", count).unwrap();
        assert_eq!(read(&conn), first + 2);
        assert_eq!(computed.get(), 3);
    }

    #[test]
    fn memo_computes_every_time_without_a_pool() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = StoreOptions::new(dir.path().join("single.db"));
        opts.single_connection = true;
        let store = Store::open(&opts).unwrap();
        let conn = store.conn().unwrap();
        let computed = Cell::new(0);
        for _ in 0..2 {
            conn.memo("departments", |c| {
                computed.set(computed.get() + 1);
                count(c)
            })
            .unwrap();
        }
        assert_eq!(computed.get(), 2);
    }

    #[test]
    fn a_snapshot_reads_one_state_of_the_database_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions::new(dir.path().join("snap.db"));
        let store = Store::open(&opts).unwrap();
        let mut conn = store.conn().unwrap();
        let (before, after) = conn
            .snapshot(|c| {
                let before = count(c)?;
                // Another process commits in the middle of the read.
                Connection::open(&opts.path)
                    .unwrap()
                    .execute(
                        "INSERT INTO departments (name, created_at) VALUES ('Snap', 0)",
                        [],
                    )
                    .unwrap();
                Ok((before, count(c)?))
            })
            .unwrap();
        assert_eq!(before, after, "one snapshot for the whole read");
        assert!(conn.is_autocommit(), "the transaction ended");
        assert_eq!(
            count(&conn).unwrap(),
            before + 1,
            "the next read sees the change"
        );

        let failed: StoreResult<()> = conn.snapshot(|c| {
            count(c)?;
            Err(StoreError::wrap(
                "failing on purpose",
                rusqlite::Error::InvalidQuery,
            ))
        });
        assert!(failed.is_err());
        assert!(conn.is_autocommit(), "ended after an error too");

        // A connection given back inside a transaction is not lent again.
        conn.execute_batch("BEGIN; SELECT 1 FROM departments;")
            .unwrap();
        drop(conn);
        let again = store.conn().unwrap();
        assert!(again.is_autocommit());
    }

    #[test]
    fn try_conn_takes_only_a_free_connection() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = StoreOptions::new(dir.path().join("try.db"));
        opts.max_connections = 1;
        let store = Store::open(&opts).unwrap();
        assert!(store.try_conn().is_none(), "the pool opens none on its own");
        let held = store.conn().unwrap();
        assert!(store.try_conn().is_none(), "the only one is in use");
        drop(held);
        let free = store.try_conn().expect("the returned one is idle");
        assert!(count(&free).unwrap() > 0);

        opts.path = dir.path().join("try-single.db");
        opts.single_connection = true;
        let single = Store::open(&opts).unwrap();
        let held = single.try_conn().expect("nobody holds it");
        assert!(single.try_conn().is_none());
        drop(held);
        assert!(single.try_conn().is_some(), "given back on drop");
    }

    /// `.cargo/config.toml` builds SQLite without its global page-cache
    /// lock; a build that lost the setting would still work, only slower,
    /// so nothing else would notice.
    #[test]
    fn sqlite_is_built_with_a_page_cache_per_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreOptions::new(dir.path().join("opts.db"))).unwrap();
        let conn = store.conn().unwrap();
        let mut stmt = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(options.iter().any(|o| o == "ENABLE_FTS5"), "{options:?}");
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }
}
