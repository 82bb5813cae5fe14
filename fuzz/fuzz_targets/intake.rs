//! Any bytes handed to the real intake (`tickets::intake::receive`, what
//! `oxidesk pipe` and `POST /api/v1/mail` call) against a real SQLite file:
//! the message is stored, quarantined, recognised as a duplicate or
//! rejected, never a panic, and a database error is never the answer to
//! bad input.
//!
//! One database per fuzz process, in a temporary folder, started afresh
//! every `ROTATE` inputs so a long run does not fill the disk. Commits skip
//! the fsync (synchronous=OFF): durability is not what is fuzzed here.
//! How to run: fuzz/README.md.

#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use oxidesk::store::{Store, StoreOptions};
use oxidesk::tickets::intake::{self, IntakeOptions, IntakeOutcome, IntakeSource};

/// Inputs per database before a fresh one is made.
const ROTATE: u32 = 2000;

struct Desk {
    _dir: tempfile::TempDir,
    store: Store,
    used: u32,
}

fn open_desk() -> Desk {
    let dir = tempfile::Builder::new()
        .prefix("oxidesk-fuzz-intake")
        .tempdir()
        .expect("a temporary folder for the fuzz database");
    let mut opts = StoreOptions::new(dir.path().join("fuzz.db"));
    opts.single_connection = true;
    opts.max_connections = 1;
    let store = Store::open(&opts).expect("opening the fuzz database");
    store
        .conn()
        .expect("the fuzz database connection")
        .execute_batch("PRAGMA synchronous = OFF;")
        .expect("PRAGMA synchronous");
    Desk {
        _dir: dir,
        store,
        used: 0,
    }
}

static DESK: Mutex<Option<Desk>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut guard = DESK.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_none_or(|d| d.used >= ROTATE) {
        *guard = None; // drop (and delete) the old one first
        *guard = Some(open_desk());
    }
    let desk = guard.as_mut().expect("just opened");
    desk.used += 1;
    let opts = IntakeOptions {
        max_message_bytes: 25 * 1024 * 1024,
        plugins: None,
    };
    let first = intake::receive(&desk.store, data, IntakeSource::Pipe, &opts);
    let outcome = match first {
        Ok(o) => o,
        Err(e) => panic!("intake failed on input: {e}"),
    };
    match &outcome {
        IntakeOutcome::NewTicket { number, .. } | IntakeOutcome::Appended { number, .. } => {
            assert!(!number.is_empty())
        }
        IntakeOutcome::Duplicate { .. }
        | IntakeOutcome::Quarantined { .. }
        | IntakeOutcome::Rejected { .. } => {}
    }
    // Whatever became of it, the raw message comes back byte for byte
    // (a filed one without the attachment text it points at instead).
    if !matches!(outcome, IntakeOutcome::Duplicate { .. }) {
        let conn = desk.store.conn().expect("a connection");
        let id: i64 = conn
            .query_row(
                "SELECT id FROM raw_messages WHERE dedupe_key = ?1",
                [oxidesk::mail::parse::dedupe_key(data)],
                |r| r.get(0),
            )
            .expect("the raw message is stored");
        let back = oxidesk::tickets::raw_mail::original(&conn, oxidesk::model::RawMessageId(id))
            .expect("reading the raw message")
            .expect("the raw message exists");
        assert!(
            back == data,
            "the raw message changed on the way through the store"
        );
    }
    // A redelivery of the same bytes (an MTA retry) is always a duplicate.
    match intake::receive(&desk.store, data, IntakeSource::Pipe, &opts) {
        Ok(IntakeOutcome::Duplicate { .. }) => {}
        Ok(other) => panic!("a redelivery was filed again: {}", other.log_line()),
        Err(e) => panic!("intake failed on a redelivery: {e}"),
    }
});
