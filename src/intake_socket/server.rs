//! The `serve` side: accept messages on the socket and file them.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{reply_line, GREETING};
use crate::cli::sysexits::EX_TEMPFAIL;
use crate::store::Store;
use crate::tickets::intake::{
    self, IntakeError, IntakeOptions, IntakeOutcome, IntakeSource, Prepared,
};

/// Messages in hand at once (read, parsed, waiting for or in a commit).
/// They are parsed side by side; one thread writes them, several to a
/// transaction (`intake::file_batch`), so concurrent pipes share commits
/// instead of queueing for SQLite's one writer. Also bounds the memory a
/// burst of large messages takes.
const AT_ONCE: usize = 4;

/// Connections kept waiting for a turn; more are told to retry later (the
/// MTA keeps the message queued).
const MAX_WAITING: usize = 64;

/// How long a client may take to send its message.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The listening socket; closing it (drop) stops taking messages and
/// removes the socket file. Messages being filed finish on their threads.
pub struct Server {
    path: PathBuf,
    /// Device and inode of the socket file we created, so that drop never
    /// removes a file some later server put there.
    file_id: (u64, u64),
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    filer: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

/// How long closing the socket waits for messages being filed.
const FINISH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the database {0} does not exist")]
    NoDatabase(PathBuf),
    #[error("another server already takes mail on {0}")]
    InUse(PathBuf),
    #[error("{0} exists and is not a socket; leaving it alone")]
    NotASocket(PathBuf),
    #[error("cannot listen on {0}: {1}")]
    Io(PathBuf, io::Error),
}

impl Server {
    /// Listen on the socket of the database at `db` and file what arrives
    /// in `store` with `opts`.
    pub fn start(store: Store, opts: IntakeOptions, db: &Path) -> Result<Server, StartError> {
        let path = super::path_for(db).ok_or_else(|| StartError::NoDatabase(db.to_path_buf()))?;
        let io_err = |e| StartError::Io(path.clone(), e);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(StartError::NotASocket(path));
            }
            Ok(_) => {
                if UnixStream::connect(&path).is_ok() {
                    return Err(StartError::InUse(path));
                }
                // Left behind by a server that did not stop cleanly.
                std::fs::remove_file(&path).map_err(io_err)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        let listener = UnixListener::bind(&path).map_err(io_err)?;
        // Who may write the database may hand it mail; nobody else.
        let db_mode = std::fs::metadata(db).map_err(io_err)?.permissions().mode();
        let mode = (db_mode & 0o660) | 0o600;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io_err)?;
        let meta = std::fs::symlink_metadata(&path).map_err(io_err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            store,
            opts,
            turns: Turns::default(),
            queue: Mutex::new(VecDeque::new()),
            queued: Condvar::new(),
            stopping: AtomicBool::new(false),
        });
        let filer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("oxidesk-intake-filer".into())
                .spawn(move || file_loop(&shared))
                .map_err(io_err)?
        };
        let accept = {
            let stop = Arc::clone(&stop);
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("oxidesk-intake".into())
                .spawn(move || accept_loop(listener, shared, stop))
                .map_err(io_err)?
        };
        Ok(Server {
            path,
            file_id: (meta.dev(), meta.ino()),
            stop,
            accept: Some(accept),
            filer: Some(filer),
            shared,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag. Should that fail (the
        // socket file was removed by hand), the loop stays blocked in
        // accept: leave it to end with the process rather than wait.
        let woken = UnixStream::connect(&self.path).is_ok();
        if let Some(t) = self.accept.take() {
            if woken {
                let _ = t.join();
            }
        }
        // Let the messages being filed commit and get their answers.
        self.shared.turns.drain(FINISH_TIMEOUT);
        self.shared.stopping.store(true, Ordering::SeqCst);
        {
            let _queue = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            self.shared.queued.notify_all();
        }
        if let Some(t) = self.filer.take() {
            let _ = t.join();
        }
        let ours = std::fs::symlink_metadata(&self.path)
            .map(|m| (m.dev(), m.ino()) == self.file_id)
            .unwrap_or(false);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

struct Shared {
    store: Store,
    opts: IntakeOptions,
    turns: Turns,
    /// Messages parsed and waiting for the filer, with where to answer.
    queue: Mutex<VecDeque<Job>>,
    queued: Condvar,
    stopping: AtomicBool,
}

type Filed = Result<IntakeOutcome, IntakeError>;

struct Job {
    prepared: Prepared<'static>,
    answer: mpsc::Sender<Filed>,
}

/// The one writer: take what is queued (up to `intake::MAX_BATCH`), file it
/// in one transaction, answer each.
fn file_loop(shared: &Shared) {
    loop {
        let jobs: Vec<Job> = {
            let mut queue = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            while queue.is_empty() {
                if shared.stopping.load(Ordering::SeqCst) {
                    return;
                }
                queue = shared
                    .queued
                    .wait_timeout(queue, Duration::from_secs(1))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let n = queue.len().min(intake::MAX_BATCH);
            queue.drain(..n).collect()
        };
        let (prepared, answers): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.prepared, j.answer)).unzip();
        let n = prepared.len();
        // A panic while filing must not stop the one writer: every later
        // message would wait for it. The batch is rolled back (its
        // transaction dropped) and each of its messages told to retry.
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            intake::file_batch(&shared.store, prepared)
        }))
        .unwrap_or_else(|_| {
            tracing::error!(
                messages = n,
                "filing a batch of mail panicked; each will be retried"
            );
            (0..n)
                .map(|_| {
                    Err(IntakeError::Failed(crate::store::StoreError::Invalid(
                        "filing the message failed unexpectedly".into(),
                    )))
                })
                .collect()
        });
        for (answer, result) in answers.into_iter().zip(results) {
            // A handler that gave up no longer listens; its client files
            // the message itself and finds this delivery.
            let _ = answer.send(result);
        }
    }
}

/// Queue a prepared message for the filer and wait for its result.
fn file(shared: &Shared, prepared: Prepared<'static>) -> Filed {
    let (answer, result) = mpsc::channel();
    {
        let mut queue = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.push_back(Job { prepared, answer });
        shared.queued.notify_one();
    }
    result.recv().unwrap_or_else(|_| {
        Err(IntakeError::Failed(crate::store::StoreError::Invalid(
            "the intake filer stopped".into(),
        )))
    })
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "intake socket: accepting a connection failed");
                // Out of descriptors and the like: do not spin.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("oxidesk-intake".into())
            .spawn(move || handle(stream, &shared));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "intake socket: cannot start a thread for a message");
        }
    }
}

/// One client: read its message when its turn comes, file it, answer.
fn handle(mut stream: UnixStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let Some(_turn) = shared.turns.wait() else {
        let _ = stream.write_all(
            reply_line(
                EX_TEMPFAIL,
                "the helpdesk is busy filing other mail, try again later",
            )
            .as_bytes(),
        );
        return;
    };
    let raw = match read_message(&mut stream, shared.opts.max_message_bytes) {
        Ok(Ok(raw)) => raw,
        Ok(Err(too_large)) => {
            let (code, text) = crate::cli::pipe::verdict(&Err(too_large));
            let _ = stream.write_all(reply_line(code, &text).as_bytes());
            return;
        }
        Err(e) => {
            // The client files the message itself when it gets no answer.
            tracing::debug!(error = %e, "intake socket: a client sent no complete message");
            return;
        }
    };
    let result = intake::prepare(
        &shared.store,
        Cow::Owned(raw),
        IntakeSource::Pipe,
        &shared.opts,
    )
    .and_then(|prepared| file(shared, prepared));
    // Mail is activity too: the idle trimmer waits for a quiet spell after
    // it before closing the connections filing it used.
    crate::web::idle::touch();
    let (code, text) = crate::cli::pipe::verdict(&result);
    match &result {
        Ok(_) => tracing::info!(outcome = %text, "mail received on the intake socket"),
        Err(IntakeError::TooLarge { .. }) => {
            tracing::info!(outcome = %text, "intake socket: message refused")
        }
        Err(e) => tracing::warn!(error = %e, "intake socket: the message was not stored"),
    }
    if let Err(e) = stream.write_all(reply_line(code, &text).as_bytes()) {
        // The client gave up waiting and files it itself: it will find
        // this delivery and call itself a duplicate.
        tracing::warn!(error = %e, "intake socket: the client left before the answer");
    }
}

/// The message a client sends, or the refusal when it is over `limit`.
fn read_message(stream: &mut UnixStream, limit: u64) -> io::Result<Result<Vec<u8>, IntakeError>> {
    let mut greeting = [0u8; GREETING.len()];
    stream.read_exact(&mut greeting)?;
    if greeting != GREETING {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not an intake request",
        ));
    }
    let mut len = [0u8; 8];
    stream.read_exact(&mut len)?;
    let size = u64::from_be_bytes(len);
    if size > limit {
        return Ok(Err(IntakeError::TooLarge { size, limit }));
    }
    let mut raw = Vec::with_capacity(size as usize);
    stream.take(size).read_to_end(&mut raw)?;
    if raw.len() as u64 != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the message was cut off",
        ));
    }
    Ok(Ok(raw))
}

/// A counting gate: `AT_ONCE` holders, `MAX_WAITING` waiters.
#[derive(Default)]
struct Turns {
    state: Mutex<(usize, usize)>,
    freed: Condvar,
}

struct Turn<'a>(&'a Turns);

impl Turns {
    /// Wait for a turn; None when too many already wait.
    fn wait(&self) -> Option<Turn<'_>> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 >= AT_ONCE && s.1 >= MAX_WAITING {
            return None;
        }
        s.1 += 1;
        while s.0 >= AT_ONCE {
            s = self.freed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.1 -= 1;
        s.0 += 1;
        Some(Turn(self))
    }
}

impl Turns {
    /// Wait until no turn is held (or `timeout` passes).
    fn drain(&self, timeout: Duration) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .freed
            .wait_timeout_while(s, timeout, |s| s.0 > 0 || s.1 > 0);
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 -= 1;
        // Waiters for a turn and a draining server both listen.
        self.0.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    #[test]
    fn stopping_does_not_hang_when_the_socket_file_was_removed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("d.db");
        let store = Store::open(&StoreOptions::new(&db)).unwrap();
        let opts = IntakeOptions {
            max_message_bytes: 1000,
            plugins: None,
        };
        let server = Server::start(store, opts, &db).unwrap();
        std::fs::remove_file(server.path()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(server);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the server stops without its socket file");
    }

    #[test]
    fn turns_admit_a_few_at_once_and_queue_the_rest() {
        let turns = Arc::new(Turns::default());
        let mut held: Vec<Turn<'_>> = (0..AT_ONCE).map(|_| turns.wait().unwrap()).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = {
            let turns = Arc::clone(&turns);
            std::thread::spawn(move || {
                let _c = turns.wait().unwrap();
                tx.send(()).unwrap();
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "one more waits while all turns are held"
        );
        held.pop();
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the waiter gets the freed turn");
        t.join().unwrap();
        drop(held);
        assert_eq!(*turns.state.lock().unwrap(), (0, 0));
    }
}
