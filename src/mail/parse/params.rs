//! Parameterised header values (Content-Type, Content-Disposition):
//! quoted values, RFC 2231 continuations and charsets
//! (`filename*=utf-8''Erkl%C3%A4rung.txt`), and the RFC 2047 words that
//! clients put in plain values anyway.

use super::charset;
use super::headers::decode_words;

/// A parameterised header value (Content-Type, Content-Disposition).
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    /// The value before the first `;`, lowercased and trimmed.
    pub value: String,
    /// Parameters, names lowercased, RFC 2231 continuations joined and
    /// charsets decoded, RFC 2047 words in plain values decoded.
    pub params: Vec<(String, String)>,
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `s` at `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.trim_matches('"').to_string()
    }
}

/// Parses `type/sub; a=b; name*0*=utf-8''%C3%A4; name*1=x.txt`.
pub(crate) fn params(s: &str) -> Params {
    let mut parts = split_unquoted(s, ';').into_iter();
    let value = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    // (base name, section index, extended?, raw value)
    let mut sections: Vec<(String, u32, bool, String)> = Vec::new();
    let mut plain: Vec<(String, String)> = Vec::new();
    for part in parts {
        let Some(eq) = part.find('=') else { continue };
        let key = part[..eq].trim().to_ascii_lowercase();
        let raw_val = &part[eq + 1..];
        if key.is_empty() {
            continue;
        }
        let (base, ext) = match key.strip_suffix('*') {
            Some(b) => (b, true),
            None => (key.as_str(), false),
        };
        let (base, index) = match base.rsplit_once('*') {
            Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
                (b, n.parse::<u32>().ok())
            }
            _ => (base, None),
        };
        if ext || index.is_some() {
            sections.push((
                base.to_string(),
                index.unwrap_or(0),
                ext,
                if ext {
                    raw_val.trim().trim_matches('"').to_string()
                } else {
                    unquote(raw_val)
                },
            ));
        } else {
            plain.push((key.clone(), unquote(raw_val)));
        }
    }
    let mut out: Vec<(String, String)> = Vec::new();
    // RFC 2231 values first: they win over a plain value of the same name.
    sections.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut idx = 0;
    while idx < sections.len() {
        let base = sections[idx].0.clone();
        let mut bytes: Vec<u8> = Vec::new();
        let mut cs = String::new();
        let mut first = true;
        while idx < sections.len() && sections[idx].0 == base {
            let (_, _, ext, ref v) = sections[idx];
            if ext {
                let mut v = v.as_str();
                if first {
                    // charset'language'value
                    let mut it = v.splitn(3, '\'');
                    if let (Some(c), Some(_), Some(rest)) = (it.next(), it.next(), it.next()) {
                        cs = c.to_string();
                        v = rest;
                    }
                }
                bytes.extend(percent_encoding::percent_decode_str(v));
            } else {
                bytes.extend_from_slice(v.as_bytes());
            }
            first = false;
            idx += 1;
        }
        let (text, _) = charset::decode(&bytes, &cs);
        let (text, _) = decode_words(&text);
        out.push((base, text));
    }
    for (k, v) in plain {
        if !out.iter().any(|(ok, _)| *ok == k) {
            let (v, _) = decode_words(&v);
            out.push((k, v));
        }
    }
    Params { value, params: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2231_parameters() {
        let p =
            params("attachment; filename*=utf-8''Erkl%C3%A4rung.txt; filename=\"=?utf-8?Q?x?=\"");
        assert_eq!(p.value, "attachment");
        assert_eq!(p.get("filename"), Some("Erklärung.txt"));
        let p = params(
            "application/pdf; name*0*=iso-8859-1''%E4bc; name*1=\" d;e.pdf\"; charset=\"UTF-8\"",
        );
        assert_eq!(p.value, "application/pdf");
        assert_eq!(p.get("name"), Some("äbc d;e.pdf"));
        assert_eq!(p.get("charset"), Some("UTF-8"));
        let p = params("text/plain; name=\"=?UTF-8?B?w6QudHh0?=\"");
        assert_eq!(p.get("name"), Some("ä.txt"));
        let p = params("multipart/mixed; boundary=\"a;b\"");
        assert_eq!(p.get("boundary"), Some("a;b"));
    }
}
