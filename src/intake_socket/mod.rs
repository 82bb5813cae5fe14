//! The local intake socket: `oxidesk serve` listens on a Unix socket beside
//! the database, and `oxidesk pipe` hands the message it read to the running
//! server instead of opening the database itself (as Request Tracker's
//! `rt-mailgate` posts to its web server).
//!
//! Why: an MTA starts one `pipe` process per message. On its own, each
//! process opens SQLite, reads the whole schema, prepares every statement
//! it runs and checkpoints the WAL when it closes: about two thirds of a
//! small message's time. The server has all of that warm. Writers also stop
//! queueing for the database's write lock against the server.
//!
//! Nothing is lost on the way: `pipe` exits 0 only after the server says
//! the message is committed. When no server listens (none running, a stale
//! socket file, no permission to connect) or the exchange breaks off, `pipe`
//! files the message itself; redelivery is idempotent, so a message the
//! server did commit before the break is recognised as a duplicate.
//!
//! The socket grants no more than the database file does: it is created
//! with the file's owner and group permissions, so only those who may write
//! the database may connect.
//!
//! The exchange (version 1): the client sends `OXIDESK-PIPE 1\n`, the
//! message's length as eight bytes (big-endian) and the message; the server
//! answers one line, `CODE TEXT\n`, where CODE is the exit code `pipe`
//! should return (sysexits.h) and TEXT its log line.

use std::path::{Path, PathBuf};

mod client;
mod server;

pub use client::{hand_off, HandOffError, Reply};
pub use server::{Server, StartError};

/// First line of a request.
const GREETING: &[u8] = b"OXIDESK-PIPE 1\n";

/// The longest answer line a client reads.
const MAX_REPLY: u64 = 4096;

/// The socket that serves the database at `db`: `<db>-intake.sock` beside it,
/// by the database's canonical path, so that `serve` and `pipe` agree
/// whatever their working directories. None when the database does not
/// exist yet (no server can be serving it).
pub fn path_for(db: &Path) -> Option<PathBuf> {
    let db = std::fs::canonicalize(db).ok()?;
    let mut name = db.file_name()?.to_os_string();
    name.push("-intake.sock");
    Some(db.with_file_name(name))
}

/// The answer line for an exit code and a log line (kept on one line).
fn reply_line(code: u8, text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!("{code} {text}\n")
}

/// Parse an answer line.
fn parse_reply(line: &str) -> Option<Reply> {
    let line = line.strip_suffix('\n')?;
    let (code, text) = line.split_once(' ')?;
    Some(Reply {
        code: code.parse().ok()?,
        text: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_on_one_line() {
        let line = reply_line(75, "the database is busy,\ntry again later");
        assert_eq!(line, "75 the database is busy, try again later\n");
        let r = parse_reply(&line).unwrap();
        assert_eq!(r.code, 75);
        assert_eq!(r.text, "the database is busy, try again later");
        assert!(parse_reply("no code\n").is_none());
        assert!(parse_reply("0 cut off").is_none(), "an unfinished line");
    }

    #[test]
    fn the_socket_sits_beside_the_canonical_database() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(path_for(&dir.path().join("none.db")), None);
        let db = dir.path().join("desk.db");
        std::fs::write(&db, b"").unwrap();
        let sock = path_for(&db).unwrap();
        let canonical = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(sock, canonical.join("desk.db-intake.sock"));
        // A relative spelling of the same file gives the same socket.
        let here = std::env::current_dir().unwrap();
        if let Ok(rel) = canonical.join("desk.db").strip_prefix(&here) {
            assert_eq!(path_for(rel).unwrap(), sock);
        }
    }
}
