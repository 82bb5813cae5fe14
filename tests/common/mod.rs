//! Helpers shared by the integration tests.

pub mod zammad;

/// The ticket number in a `pipe` log line ("new ticket #123456 ...").
pub fn ticket_number(line: &str) -> String {
    let i = line
        .find('#')
        .unwrap_or_else(|| panic!("no ticket number in {line:?}"));
    line[i + 1..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}
