//! The status badge every staff list writes (queue rows, search hits, the
//! customer panel's other tickets), named the same way everywhere: the
//! ticket's own custom status, else the first status of its state, in the
//! viewer's language.

use std::collections::HashMap;

use crate::model::Status;
use crate::store::statuses::StatusRow;
use crate::web::admin::statuses::{display_name, label_of};
use crate::web::i18n;
use crate::web::render::escape_html_into as e;

/// Status names for one page: a page has a handful of distinct
/// (state, status) pairs, so each is looked up once.
pub struct StatusLabels<'a> {
    all: &'a [StatusRow],
    lang: &'a str,
    memo: HashMap<(Status, Option<i64>), String>,
}

impl<'a> StatusLabels<'a> {
    pub fn new(all: &'a [StatusRow], lang: &'a str) -> Self {
        StatusLabels {
            all,
            lang,
            memo: HashMap::new(),
        }
    }

    /// The name a ticket in `state` (as stored) with custom status
    /// `status_id` shows. A state the model does not know (the schema's
    /// CHECK keeps them out) shows as stored.
    pub fn name<'s>(&'s mut self, state: &'s str, status_id: Option<i64>) -> &'s str {
        let Some(st) = Status::parse(state) else {
            return state;
        };
        let (all, lang) = (self.all, self.lang);
        self.memo.entry((st, status_id)).or_insert_with(|| {
            label_of(all, st, status_id)
                .map(|s| display_name(lang, s))
                .unwrap_or_else(|| i18n::lookup(lang, &format!("status.{state}")).to_string())
        })
    }

    /// `<span class="status s-STATE">Name</span>`, every value escaped.
    pub fn badge(&mut self, out: &mut String, state: &str, status_id: Option<i64>) {
        out.push_str("<span class=\"status s-");
        e(out, state);
        out.push_str("\">");
        e(out, self.name(state, status_id));
        out.push_str("</span>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, name: &str, state: Status) -> StatusRow {
        StatusRow {
            id,
            name: name.into(),
            state,
            sort: 0,
            tickets: None,
        }
    }

    #[test]
    fn a_ticket_shows_its_own_status_else_its_states_first() {
        let all = [
            row(3, "Pending", Status::Pending),
            row(7, "Waiting on <vendor>", Status::Pending),
        ];
        let mut labels = StatusLabels::new(&all, "en");
        let mut out = String::new();
        labels.badge(&mut out, "pending", Some(7));
        assert_eq!(
            out,
            "<span class=\"status s-pending\">Waiting on &lt;vendor&gt;</span>"
        );
        assert_eq!(labels.name("pending", None), "Pending");
        // A status of another state is not the ticket's.
        assert_eq!(labels.name("closed", Some(7)), "Closed");
        assert_eq!(labels.name("nonsense", None), "nonsense");
    }
}
