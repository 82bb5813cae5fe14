//! The `pipe` side: hand one message to the running server.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{parse_reply, GREETING, MAX_REPLY};

/// The server's verdict on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The exit code `pipe` returns (sysexits.h).
    pub code: u8,
    /// The log line `pipe` prints.
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HandOffError {
    /// No server takes messages there: no socket, a stale one left by a
    /// server that died, or no permission to connect. The caller files the
    /// message itself.
    #[error("no server listens on {0}: {1}")]
    Unavailable(PathBuf, io::Error),
    /// Connected, but no verdict came back (the server stopped or timed
    /// out). The server may or may not have stored the message; filing it
    /// again is safe because redelivery is idempotent.
    #[error("the server gave no answer: {0}")]
    NoAnswer(io::Error),
}

/// Send `raw` to the server listening on `path` and wait up to `timeout`
/// (for each read or write) for its verdict.
pub fn hand_off(path: &Path, raw: &[u8], timeout: Duration) -> Result<Reply, HandOffError> {
    let mut stream =
        UnixStream::connect(path).map_err(|e| HandOffError::Unavailable(path.to_path_buf(), e))?;
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|()| stream.set_read_timeout(Some(timeout)))
        .map_err(HandOffError::NoAnswer)?;
    let sent = (|| {
        stream.write_all(GREETING)?;
        stream.write_all(&(raw.len() as u64).to_be_bytes())?;
        stream.write_all(raw)?;
        stream.flush()
    })();
    // A server that refuses the message (too large) answers without
    // reading it all and closes: our write then fails, but its verdict is
    // waiting to be read.
    let mut line = String::new();
    let read = BufReader::new((&stream).take(MAX_REPLY)).read_line(&mut line);
    match (parse_reply(&line), sent, read) {
        (Some(reply), _, _) => Ok(reply),
        (None, Err(e), _) | (None, Ok(()), Err(e)) => Err(HandOffError::NoAnswer(e)),
        (None, Ok(()), Ok(_)) => Err(HandOffError::NoAnswer(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an unreadable answer: {line:?}"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn nobody_listening_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sock");
        let e = hand_off(&path, b"m", Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, HandOffError::Unavailable(..)), "{e}");
        // A socket file whose server is gone refuses the connection.
        drop(UnixListener::bind(&path).unwrap());
        let e = hand_off(&path, b"m", Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, HandOffError::Unavailable(..)), "{e}");
    }

    #[test]
    fn a_server_that_hangs_up_gives_no_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 8];
            let _ = s.read(&mut buf);
            // Hang up without a verdict.
        });
        let e = hand_off(&path, b"message", Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, HandOffError::NoAnswer(_)), "{e}");
        t.join().unwrap();
    }
}
