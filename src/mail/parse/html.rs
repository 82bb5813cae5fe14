//! Mail HTML: sanitised for display with ammonia (an allow-list sanitiser,
//! not hand-written filtering) and turned into text with html2text.
//!
//! The allow-list keeps ordinary formatting, tables, lists, links (with
//! `rel="noopener noreferrer"`), `dir`/`lang` (right-to-left mail), a short
//! list of harmless inline style properties, and images only when they
//! point at a part of the message (`cid:`). Remote images are never
//! fetched by default: their `src` is removed (tracking pixels, privacy);
//! the `alt` text stays. `data:` URLs are not allowed.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

fn builder() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.add_tags(["font", "center"])
            .add_clean_content_tags(["title", "xml"])
            .add_generic_attributes(["dir", "align", "style"])
            .add_tag_attributes("font", ["color", "size", "face"])
            .add_tag_attributes(
                "table",
                ["border", "cellpadding", "cellspacing", "width", "bgcolor"],
            )
            .add_tag_attributes("td", ["width", "valign", "bgcolor", "nowrap"])
            .add_tag_attributes("th", ["width", "valign", "bgcolor", "nowrap"])
            .add_tag_attributes("tr", ["valign", "bgcolor"])
            .add_tag_attributes("img", ["width", "height", "border"])
            .url_schemes(HashSet::from(["http", "https", "mailto", "tel", "cid"]))
            .link_rel(Some("noopener noreferrer"))
            .filter_style_properties(HashSet::from([
                "color",
                "background-color",
                "font-weight",
                "font-style",
                "text-decoration",
                "text-align",
                "direction",
                "unicode-bidi",
                "font-family",
                "font-size",
                "margin-left",
                "padding-left",
                "border-left",
                "white-space",
            ]))
            .attribute_filter(filter_attribute);
        b
    })
}

/// Images only from `cid:`; links never to `cid:`.
fn filter_attribute<'a>(element: &str, attribute: &str, value: &'a str) -> Option<Cow<'a, str>> {
    let v = value.trim_start();
    let is_cid = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("cid:"));
    match (element, attribute) {
        ("img", "src") => is_cid.then_some(Cow::Borrowed(value)),
        (_, "href") if is_cid => None,
        // Allowed properties never fetch anything; refuse the whole
        // attribute when it tries to anyway.
        (_, "style") if value.contains("expression(") => None,
        _ => Some(Cow::Borrowed(value)),
    }
}

/// Deeper nesting than any real mail has. HTML parsing (html5ever's scope
/// checks) and rendering (html2text) both cost time quadratic in the
/// nesting depth, so a hostile message of 100,000 nested `<div>` would
/// stall the pipe for minutes; such HTML is reduced to its text instead.
const MAX_DEPTH: usize = 400;

/// Elements that never nest (void) or close themselves when a sibling
/// starts, so they do not deepen the tree.
const FLAT: [&str; 22] = [
    "br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "param", "source",
    "track", "wbr", "p", "li", "td", "th", "tr", "option", "dt", "dd",
];

/// Upper estimate of the element nesting depth, from the tags alone.
pub(crate) fn nesting_depth(html: &str) -> usize {
    let b = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        i += off + 1;
        match b.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(c) if c.is_ascii_alphabetic() => {
                let end = b[i..]
                    .iter()
                    .position(|c| !c.is_ascii_alphanumeric())
                    .map_or(b.len(), |p| i + p);
                let name = html.get(i..end).unwrap_or("").to_ascii_lowercase();
                let self_closing = b[end..]
                    .iter()
                    .position(|&c| c == b'>')
                    .is_some_and(|p| p > 0 && b[end + p - 1] == b'/');
                if !self_closing && !FLAT.contains(&name.as_str()) {
                    depth += 1;
                    max = max.max(depth);
                }
            }
            _ => {}
        }
    }
    max
}

/// The text of HTML with every tag removed and the common entities
/// decoded; for HTML too degenerate to parse safely.
pub(crate) fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Whether `html` may be parsed (see [`MAX_DEPTH`]).
pub(crate) fn parseable(html: &str) -> bool {
    nesting_depth(html) <= MAX_DEPTH
}

/// Sanitises mail HTML for display.
pub(crate) fn sanitise(html: &str) -> String {
    builder().clean(html).to_string()
}

/// Plain text of (sanitised) HTML: no wrapping, tables flattened, link
/// targets kept as numbered footnotes.
pub(crate) fn to_text(html: &str) -> String {
    let cfg = html2text::config::plain_no_decorate()
        .link_footnotes(true)
        .raw_mode(true)
        .allow_width_overflow();
    match cfg.string_from_read(html.as_bytes(), 100_000) {
        Ok(t) => tidy_text(&t),
        Err(_) => tidy_text(&ammonia::Builder::empty().clean(html).to_string()),
    }
}

/// Trailing blanks off each line, at most one empty line in a row, no
/// leading or trailing empty lines.
pub(crate) fn tidy_text(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut blank_run = 0;
    for line in t.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run > 0 {
                out.push('\n');
            }
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

/// Plain text as HTML (for a text part shown among HTML parts).
pub(crate) fn from_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    out.push_str("<div dir=\"auto\">");
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        for c in line.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_formatting_and_rtl() {
        let out = sanitise(
            "<div dir=\"rtl\"><b>سلام</b><table><tr><td colspan=2>x</td></tr></table></div>",
        );
        assert!(out.contains("dir=\"rtl\""), "{out}");
        assert!(out.contains("<b>سلام</b>"), "{out}");
        assert!(out.contains("colspan=\"2\""), "{out}");
    }

    #[test]
    fn removes_scripts_remote_images_and_bad_styles() {
        let out = sanitise(
            "<script>alert(1)</script><img src=\"https://t.example/p.gif\" alt=\"logo\">\
             <img src=\"cid:part1@x\"><img src=\"data:image/png;base64,AAAA\">\
             <p style=\"color: red; position: fixed; background: url(x)\">t</p>\
             <a href=\"javascript:alert(1)\">j</a><a href=\"https://ok.example/\">ok</a>",
        );
        assert!(!out.contains("script") && !out.contains("alert"), "{out}");
        assert!(!out.contains("t.example"), "{out}");
        assert!(out.contains("alt=\"logo\""), "{out}");
        assert!(out.contains("src=\"cid:part1@x\""), "{out}");
        assert!(!out.contains("data:"), "{out}");
        assert!(
            out.contains("color: red") || out.contains("color:red"),
            "{out}"
        );
        assert!(!out.contains("position") && !out.contains("url("), "{out}");
        assert!(out.contains("rel=\"noopener noreferrer\""), "{out}");
    }

    #[test]
    fn non_ascii_attribute_values_are_safe() {
        let out = sanitise("<font face=\"黑体\">x</font><img src=\"黑体\">");
        assert!(out.contains("黑体"), "{out}");
    }

    #[test]
    fn strips_head_and_style_content() {
        let out = sanitise(
            "<html><head><title>T</title><style>p{color:red}</style></head><body><p>Hi</p></body></html>",
        );
        assert_eq!(out.trim(), "<p>Hi</p>");
    }

    #[test]
    fn html_to_text() {
        let t = to_text(
            "<p>Hello <b>you</b></p><p>Line<br>two</p><table><tr><td>a</td><td>b</td></tr></table>",
        );
        assert!(t.starts_with("Hello you\n\nLine\ntwo"), "{t:?}");
        assert!(t.contains('a') && t.contains('b'));
        let t = to_text("<p>See <a href=\"https://x.example/\">here</a></p>");
        assert!(t.contains("https://x.example/"), "{t:?}");
    }

    #[test]
    fn nesting_estimate() {
        assert_eq!(
            nesting_depth("<div><p>a<p>b<br><img src=x/></div><div></div>"),
            1
        );
        assert_eq!(nesting_depth("<b><i><u>x</u></i></b>"), 3);
        assert!(!parseable(&"<div>".repeat(100_000)));
        assert!(parseable("<table><tr><td>x</td></tr></table>"));
        assert_eq!(strip_tags("<b>a&amp;b</b> <i>c</i>"), "a&b c");
    }

    #[test]
    fn text_to_html_escapes() {
        assert_eq!(
            from_text("a<b>\nc"),
            "<div dir=\"auto\">a&lt;b&gt;<br>c</div>"
        );
    }
}
