//! Any bytes piped in: the decoder returns a message or an error, never
//! panics, and what it returns keeps its promises.
//!
//! The decoder's source is compiled in directly under its real path
//! (`oxidesk::mail::parse`), so the code under test is exactly
//! `src/mail/parse`; see fuzz/Cargo.toml for why the crate is not a
//! dependency. How to run: fuzz/README.md.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/mail/parse/mod.rs"]
pub mod parse;

mod oxidesk {
    pub mod mail {
        pub use crate::parse;
    }
}

fuzz_target!(|data: &[u8]| {
    let key = oxidesk::mail::parse::dedupe_key(data);
    assert_eq!(key.len(), 64);
    if let Ok(m) = oxidesk::mail::parse::parse(data) {
        assert!(m.from.email.contains('@'));
        assert!(!m.from.email.contains(['\r', '\n']));
        assert!(!m.subject.contains(['\r', '\n']));
        if let Some(id) = &m.message_id {
            assert!(!id.is_empty());
        }
        for a in &m.attachments {
            assert!(!a.filename.is_empty());
            assert!(!a.filename.contains(['/', '\\']));
            // A noted source is exactly the file's text: the raw copy
            // leaves it out and writes it back from the file.
            if let Some(s) = a.source {
                let mut text = Vec::new();
                s.lines.write(&a.data, &mut text);
                assert_eq!(data.get(s.start..s.start + s.len), Some(&text[..]));
            }
        }
    }
});
