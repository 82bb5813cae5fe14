//! The side navigation every staff page shows: the queues and the
//! agent's departments, each with its count.
//!
//! Written here rather than by the base template: it is on every page, and
//! through Tera each of its dozen links cost a computed label, a bracketed
//! lookup into the counts and a comparison with the current page.

use std::fmt::Write as _;

use crate::model::DepartmentId;
use crate::store::queues::Counts;
use crate::web::i18n::lookup;
use crate::web::render::escape_html_into as e;

/// The queues every agent has, in the order the navigation lists them.
const QUEUES: [&str; 6] = [
    "open",
    "mine",
    "unassigned",
    "overdue",
    "answered",
    "closed",
];

/// Which link is the current page: a queue by name ("open", "team"…), or
/// a department's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Current<'a> {
    Queue(&'a str),
    Department(DepartmentId),
}

/// The navigation's lists, for `{{ nav_html | safe }}` in the base template.
pub fn html(counts: &Counts, current: Current<'_>, lang: &str) -> String {
    let mut out = String::with_capacity(1024 + 128 * counts.departments.len());
    out.push_str("<ul>\n");
    let team = counts.in_teams.then_some(("team", counts.team));
    let queues = QUEUES.iter().map(|q| (*q, count_of(counts, q))).chain(team);
    for (name, count) in queues {
        let class = if current == Current::Queue(name) {
            "current"
        } else {
            ""
        };
        let _ = write!(out, "    <li><a href=\"/queues/{name}\" class=\"{class}\">");
        e(&mut out, lookup(lang, &format!("queue.{name}")));
        let _ = writeln!(out, " <span class=\"count\">{count}</span></a></li>");
    }
    out.push_str("  </ul>\n");
    if !counts.departments.is_empty() {
        out.push_str("  <h3>");
        e(&mut out, lookup(lang, "nav.departments"));
        out.push_str("</h3>\n  <ul>\n");
        for d in &counts.departments {
            let class = if current == Current::Department(d.id) {
                "current"
            } else {
                ""
            };
            let _ = write!(
                out,
                "    <li><a href=\"/departments/{}\" class=\"{class}\" dir=\"auto\">",
                d.id
            );
            e(&mut out, &d.name);
            let _ = writeln!(out, " <span class=\"count\">{}</span></a></li>", d.count);
        }
        out.push_str("  </ul>\n");
    }
    out
}

fn count_of(c: &Counts, queue: &str) -> i64 {
    match queue {
        "open" => c.open,
        "mine" => c.mine,
        "unassigned" => c.unassigned,
        "overdue" => c.overdue,
        "answered" => c.answered,
        "closed" => c.closed,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::queues::DepartmentCount;

    fn counts(in_teams: bool) -> Counts {
        Counts {
            open: 12,
            mine: 3,
            unassigned: 4,
            overdue: 1,
            answered: 2,
            closed: 900,
            departments: vec![
                DepartmentCount {
                    id: DepartmentId(5),
                    name: "پشتیبانی <fa>".into(),
                    count: 7,
                },
                DepartmentCount {
                    id: DepartmentId(6),
                    name: "Billing".into(),
                    count: 0,
                },
            ],
            team: 8,
            in_teams,
        }
    }

    #[test]
    fn lists_queues_and_departments_with_counts_and_marks_the_current() {
        let out = html(&counts(false), Current::Queue("mine"), "en");
        assert!(out.contains("<li><a href=\"/queues/open\" class=\"\">"));
        assert!(out.contains(&format!(
            "<li><a href=\"/queues/mine\" class=\"current\">{} <span class=\"count\">3</span></a></li>",
            lookup("en", "queue.mine")
        )));
        assert!(out.contains("<span class=\"count\">900</span>"));
        assert!(!out.contains("/queues/team"), "not in a team");
        assert!(out.contains(
            "<a href=\"/departments/5\" class=\"\" dir=\"auto\">پشتیبانی &lt;fa&gt; <span class=\"count\">7</span>"
        ));
        let out = html(&counts(true), Current::Department(DepartmentId(6)), "en");
        assert!(out.contains("<a href=\"/queues/team\" class=\"\">"));
        assert!(out.contains("<span class=\"count\">8</span>"));
        assert!(out.contains("<a href=\"/departments/6\" class=\"current\""));
        assert!(out.contains("<a href=\"/queues/open\" class=\"\">"));
    }

    #[test]
    fn no_department_heading_without_departments() {
        let mut c = counts(false);
        c.departments.clear();
        let out = html(&c, Current::Queue("open"), "en");
        assert!(!out.contains("<h3>"));
        assert!(out.contains("<a href=\"/queues/open\" class=\"current\">"));
    }
}
