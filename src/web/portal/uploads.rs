//! Files chosen on the portal's forms: which inputs carry a file, checks
//! against the attachment settings, and reading them for the ticket domain
//! (which stores them like mail attachments).

use rocket::fs::TempFile;

use super::validate::{self, Limits, Problem};
use crate::tickets::NewAttachment;
use crate::web::WebError;

/// "10 MB", "1.5 MB", "512 KB", "100 B".
pub fn size_label(bytes: u64) -> String {
    let (n, unit) = if bytes >= 1 << 20 {
        (bytes as f64 / (1 << 20) as f64, "MB")
    } else if bytes >= 1 << 10 {
        (bytes as f64 / (1 << 10) as f64, "KB")
    } else {
        (bytes as f64, "B")
    };
    if n.fract() < 0.05 {
        format!("{n:.0} {unit}")
    } else {
        format!("{n:.1} {unit}")
    }
}

pub fn chosen_files<'a, 'r>(files: &'a [TempFile<'r>]) -> Vec<&'a TempFile<'r>> {
    files
        .iter()
        .filter(|f| {
            f.len() > 0
                || f.raw_name()
                    .is_some_and(|n| !n.dangerous_unsafe_unsanitized_raw().as_str().is_empty())
        })
        .collect()
}

pub fn raw_name(f: &TempFile<'_>) -> String {
    f.raw_name()
        .map(|n| n.dangerous_unsafe_unsanitized_raw().as_str().to_string())
        .unwrap_or_default()
}

pub fn mime_of(f: &TempFile<'_>) -> String {
    f.content_type()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// Check the uploads against the limits; the problem names the file.
pub fn check_files(files: &[&TempFile<'_>], limits: &Limits) -> Option<Problem> {
    if files.len() > limits.max_files {
        return Some(
            Problem::new("portal.err_too_many_files").with("max", limits.max_files.to_string()),
        );
    }
    for f in files {
        let name = validate::filename(&raw_name(f));
        if f.len() > limits.max_file_bytes {
            return Some(
                Problem::new("portal.err_file_too_large")
                    .with("file", name)
                    .with("max", size_label(limits.max_file_bytes)),
            );
        }
        if !limits.type_allowed(&name, &mime_of(f)) {
            return Some(Problem::new("portal.err_file_type").with("file", name));
        }
    }
    None
}

pub async fn read_files(files: &[&TempFile<'_>]) -> Result<Vec<NewAttachment>, WebError> {
    use rocket::tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    for f in files {
        let mut data = Vec::with_capacity(f.len() as usize);
        let mut reader = f
            .open()
            .await
            .map_err(|e| WebError::Internal(format!("reading an upload: {e}")))?;
        reader
            .read_to_end(&mut data)
            .await
            .map_err(|e| WebError::Internal(format!("reading an upload: {e}")))?;
        out.push(NewAttachment {
            filename: validate::filename(&raw_name(f)),
            mime_type: mime_of(f),
            data,
            inline: false,
            content_id: None,
        });
    }
    Ok(out)
}
