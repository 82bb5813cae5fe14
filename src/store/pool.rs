use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2::{CustomizeConnection, Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use super::error::{StoreError, StoreResult};
use super::migrations;

pub type Conn = PooledConnection<SqliteConnectionManager>;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub path: PathBuf,
    /// How long a connection waits for another writer before giving up.
    pub busy_timeout: Duration,
    pub max_connections: u32,
    /// Apply pending migrations on open (true everywhere but `check`).
    pub migrate: bool,
}

impl StoreOptions {
    pub fn new(path: impl Into<PathBuf>) -> StoreOptions {
        StoreOptions {
            path: path.into(),
            busy_timeout: Duration::from_secs(5),
            max_connections: 8,
            migrate: true,
        }
    }
}

/// The handle every layer shares: a pool of connections to one SQLite file.
#[derive(Clone)]
pub struct Store {
    pool: Pool<SqliteConnectionManager>,
    path: PathBuf,
    /// The connection that set the file up, held open (see `open`).
    _setup: std::sync::Arc<std::sync::Mutex<Connection>>,
}

#[derive(Debug)]
struct Pragmas {
    busy_timeout: Duration,
}

impl CustomizeConnection<Connection, rusqlite::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        configure(conn, self.busy_timeout)
    }
}

/// Per-connection settings. WAL lets readers run beside the one writer;
/// synchronous=NORMAL is durable across application crashes in WAL mode.
fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8000;",
    )?;
    Ok(())
}

impl Store {
    /// Open (creating if needed) the database file, switch it to WAL and
    /// apply pending migrations.
    pub fn open(opts: &StoreOptions) -> StoreResult<Store> {
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
        let manager = SqliteConnectionManager::file(&opts.path);
        let pool = Pool::builder()
            .max_size(opts.max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(opts.busy_timeout + Duration::from_secs(5))
            .connection_customizer(Box::new(Pragmas {
                busy_timeout: opts.busy_timeout,
            }))
            .build_unchecked(manager);
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
            configure(&conn, opts.busy_timeout)
                .map_err(|e| StoreError::wrap("configuring the connection", e))?;
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(|e| StoreError::wrap("switching the database to WAL", e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(mode, "the database is not in WAL mode");
            }
            if opts.migrate {
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
        Ok(Store {
            pool,
            path: opts.path.clone(),
            _setup: std::sync::Arc::new(std::sync::Mutex::new(setup)),
        })
    }

    /// A pooled connection.
    pub fn conn(&self) -> StoreResult<Conn> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
