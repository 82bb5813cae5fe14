//! A first, simple parser built on mailparse: headers, sender, subject and the
//! first text part. The full decoder replaces it.

use super::{Address, AutoFlags, Inbound, ParseError};

pub(super) fn parse(raw: &[u8]) -> Result<Inbound, ParseError> {
    let mail = mailparse::parse_mail(raw).map_err(|e| ParseError::Malformed(e.to_string()))?;
    if mail.headers.is_empty() {
        return Err(ParseError::NoHeaders);
    }
    let header = |name: &str| {
        mail.headers
            .iter()
            .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
    };
    let from = header("From")
        .and_then(|v| mailparse::addrparse(&v).ok())
        .and_then(|list| {
            list.iter().find_map(|a| match a {
                mailparse::MailAddr::Single(s) => Some(Address {
                    name: s.display_name.clone().unwrap_or_default(),
                    email: s.addr.clone(),
                }),
                mailparse::MailAddr::Group(g) => g.addrs.first().map(|s| Address {
                    name: s.display_name.clone().unwrap_or_default(),
                    email: s.addr.clone(),
                }),
            })
        })
        .filter(|a| a.email.contains('@'))
        .ok_or(ParseError::NoSender)?;
    let ids = |v: Option<String>| -> Vec<String> {
        v.map(|v| {
            v.split_whitespace()
                .map(|s| s.trim_matches(|c| c == '<' || c == '>').to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
    };
    let text = first_text(&mail).unwrap_or_default();
    Ok(Inbound {
        message_id: ids(header("Message-ID")).into_iter().next(),
        in_reply_to: ids(header("In-Reply-To")),
        references: ids(header("References")),
        from,
        reply_to: None,
        to: Vec::new(),
        cc: Vec::new(),
        subject: header("Subject").unwrap_or_default().trim().to_string(),
        date: header("Date").and_then(|d| mailparse::dateparse(&d).ok()),
        text,
        html: None,
        attachments: Vec::new(),
        auto: AutoFlags::default(),
        headers: mail
            .headers
            .iter()
            .map(|h| (h.get_key(), h.get_value()))
            .collect(),
        warnings: Vec::new(),
    })
}

fn first_text(part: &mailparse::ParsedMail) -> Option<String> {
    if part.subparts.is_empty() {
        if part.ctype.mimetype.starts_with("text/") {
            return part.get_body().ok();
        }
        return None;
    }
    part.subparts.iter().find_map(first_text)
}
