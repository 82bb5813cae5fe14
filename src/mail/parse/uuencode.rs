//! uuencode: the `x-uuencode` transfer encoding and `begin 644 name` blocks
//! pasted into plain-text bodies by pre-MIME clients (Lotus Notes, cron).

/// A decoded `begin … end` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub filename: String,
    pub data: Vec<u8>,
}

/// `begin 644 name` → name.
fn begin_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("begin ")?;
    let (mode, name) = rest.split_once(' ')?;
    if !(3..=4).contains(&mode.len()) || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let name = name.trim();
    (!name.is_empty()).then_some(name)
}

/// Decodes one uuencoded data line, appending to `out`. False when the
/// line is not uuencoded data.
fn data_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(&first) = line.first() else {
        return false;
    };
    if !(32..=96).contains(&first) {
        return false;
    }
    let n = usize::from((first - 32) & 63);
    let chars = &line[1..];
    if chars.iter().any(|&c| !(32..=96).contains(&c)) {
        return false;
    }
    // Groups of four characters give three bytes; lines may be trimmed of
    // trailing spaces, so missing characters count as zero.
    if n > 0 && chars.len() + 2 < n.div_ceil(3) * 4 {
        return false;
    }
    let val = |i: usize| chars.get(i).map_or(0, |&c| (c.wrapping_sub(32)) & 63);
    let mut written = 0;
    let mut i = 0;
    while written < n {
        let (a, b, c, d) = (val(i), val(i + 1), val(i + 2), val(i + 3));
        let bytes = [a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d];
        for &byte in bytes.iter().take(n - written) {
            out.push(byte);
        }
        written += 3.min(n - written);
        i += 4;
    }
    true
}

/// Decodes the first `begin … end` block in `body` (the x-uuencode CTE).
/// When there is no `begin` line, every line is read as data.
pub(crate) fn decode(body: &[u8]) -> (Option<String>, Vec<u8>) {
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut name = None;
    let mut inside = false;
    let text = String::from_utf8_lossy(body);
    let has_begin = text.lines().any(|l| begin_line(l.trim_end()).is_some());
    if !has_begin {
        inside = true;
    }
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if !inside {
            if let Some(n) = begin_line(line.trim_end()) {
                name = Some(n.to_string());
                inside = true;
            }
            continue;
        }
        if line.trim_end() == "end" {
            break;
        }
        data_line(line.as_bytes(), &mut out);
    }
    (name, out)
}

/// Takes inline `begin … end` blocks out of a plain-text body: returns the
/// text without them and the decoded files. A block without a valid data
/// line or an `end` line is left in the text.
pub(crate) fn extract(text: &str) -> (String, Vec<Block>) {
    if !text.contains("begin ") {
        return (text.to_string(), Vec::new());
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    let mut blocks = Vec::new();
    let mut i = 0;
    'outer: while i < lines.len() {
        let line = lines[i].trim_end_matches('\r');
        if let Some(name) = begin_line(line.trim_end()) {
            let mut data = Vec::new();
            let mut j = i + 1;
            let mut lines_ok = 0;
            while j < lines.len() {
                let l = lines[j].trim_end_matches('\r');
                if l.trim_end() == "end" {
                    if lines_ok > 0 {
                        blocks.push(Block {
                            filename: name.to_string(),
                            data,
                        });
                        i = j + 1;
                        continue 'outer;
                    }
                    break;
                }
                if !data_line(l.as_bytes(), &mut data) {
                    break;
                }
                lines_ok += 1;
                j += 1;
            }
        }
        kept.push(lines[i]);
        i += 1;
    }
    (kept.join("\n"), blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAT: &str = "begin 644 cat.txt\n#0V%T\n`\nend\n";

    #[test]
    fn decodes_a_block() {
        assert_eq!(
            decode(CAT.as_bytes()),
            (Some("cat.txt".into()), b"Cat".to_vec())
        );
        assert_eq!(decode(b"#0V%T\r\n`\r\n").1, b"Cat");
    }

    #[test]
    fn extracts_inline_blocks() {
        let text = format!("Hello\n\n{CAT}\nBye");
        let (rest, blocks) = extract(&text);
        assert_eq!(rest, "Hello\n\n\nBye");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].filename, "cat.txt");
        assert_eq!(blocks[0].data, b"Cat");
    }

    #[test]
    fn leaves_non_blocks_alone() {
        let text = "begin 644 x\nnot uuencoded at all\nend\n";
        assert_eq!(extract(text).0, text);
        assert!(extract("we begin tomorrow").1.is_empty());
        // Never panics on junk.
        let _ = decode(b"begin 644 x\n\xff\xfe~~\n");
        let _ = decode(b"M");
    }
}
