//! Attachment names: made safe to store and serve, and the defaults and
//! MIME types used when a part names nothing.

/// A filename safe to store and offer for download: no path, no control
/// characters, at most 200 bytes (keeping the extension).
pub(crate) fn sanitise_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim().trim_start_matches('.').trim().to_string();
    if clean.len() <= 200 {
        return clean;
    }
    let (stem, ext) = match clean.rsplit_once('.') {
        Some((s, e)) if e.len() <= 10 => (s, format!(".{e}")),
        _ => (clean.as_str(), String::new()),
    };
    let mut cut = 200 - ext.len();
    while !stem.is_char_boundary(cut.min(stem.len())) {
        cut -= 1;
    }
    format!("{}{}", &stem[..cut.min(stem.len())], ext)
}

pub(crate) fn extension_for(mime: &str) -> &'static str {
    match mime {
        "text/plain" | "message/delivery-status" | "text/rfc822-headers" => ".txt",
        "text/html" => ".html",
        "text/calendar" => ".ics",
        "text/csv" => ".csv",
        "application/pdf" => ".pdf",
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/gif" => ".gif",
        "message/rfc822" => ".eml",
        _ => "",
    }
}

/// A MIME type for a file known only by name (inline uuencode).
pub(crate) fn mime_for_name(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_sanitised() {
        assert_eq!(sanitise_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_filename("C:\\x\\a\u{7}b.txt"), "a b.txt");
        let long = format!("{}.pdf", "ä".repeat(300));
        let s = sanitise_filename(&long);
        assert!(s.len() <= 200 && s.ends_with(".pdf"));
    }

    #[test]
    fn types_and_extensions() {
        assert_eq!(mime_for_name("Naz_Head.JPG"), "image/jpeg");
        assert_eq!(mime_for_name("noext"), "application/octet-stream");
        assert_eq!(extension_for("message/rfc822"), ".eml");
    }
}
