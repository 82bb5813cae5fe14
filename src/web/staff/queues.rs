//! Queue pages (Open, My tickets, Unassigned, Overdue, Answered, Closed,
//! per department) and search.

use std::collections::HashMap;

use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, routes, Either, FromForm, Route, State};

use super::labels::StatusLabels;
use super::render;
use crate::model::{DepartmentId, PriorityId, Source, StaffId, Status};
use crate::store::queues::{self as q, Filters, Queue, Sort, SortKey};
use crate::store::{search, staff, ticket_page, Store};
use crate::web::auth::StaffSession;
use crate::web::i18n;
use crate::web::render::{highlight, options_html};
use crate::web::templates::{ago_text, AgoMemo, Templates};
use crate::web::{db, read, WebError};

pub const PAGE_SIZE: i64 = 50;
/// Deep pages are slow with OFFSET and never useful; filters narrow instead.
const MAX_PAGE: i64 = 200;

pub fn routes() -> Vec<Route> {
    routes![home, queue, department, search_page]
}

#[get("/")]
fn home(_me: StaffSession) -> Redirect {
    Redirect::to("/queues/open")
}

#[derive(Debug, Default, FromForm, serde::Serialize)]
pub struct QueueParams {
    status: Option<String>,
    dept: Option<i64>,
    priority: Option<i64>,
    /// A staff id, or "none" for unassigned.
    assignee: Option<String>,
    source: Option<String>,
    tag: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<i64>,
}

impl QueueParams {
    fn filters(&self) -> Filters {
        Filters {
            status: self.status.as_deref().and_then(Status::parse),
            department: self.dept.map(DepartmentId),
            priority: self.priority.map(PriorityId),
            assignee: match self.assignee.as_deref() {
                Some("none") => Some(None),
                Some(s) => s.parse().ok().map(|id| Some(StaffId(id))),
                None => None,
            },
            source: self.source.as_deref().and_then(Source::parse),
            tag: self
                .tag
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        }
    }

    fn sort(&self) -> Sort {
        let key = self
            .sort
            .as_deref()
            .and_then(SortKey::parse)
            .unwrap_or(SortKey::Updated);
        Sort {
            key,
            descending: self.dir.as_deref() != Some("asc"),
        }
    }

    /// The query string without `page`, for pagination and sort links.
    fn query_without(&self, skip: &[&str]) -> String {
        let mut parts = Vec::new();
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                if !skip.contains(&k) {
                    parts.push(format!(
                        "{k}={}",
                        percent_encoding::utf8_percent_encode(
                            &v,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    ));
                }
            }
        };
        add("status", self.status.clone());
        add("dept", self.dept.map(|d| d.to_string()));
        add("priority", self.priority.map(|d| d.to_string()));
        add("assignee", self.assignee.clone());
        add("source", self.source.clone());
        add("tag", self.tag.clone());
        add("sort", self.sort.clone());
        add("dir", self.dir.clone());
        parts.join("&")
    }
}

/// One queue row as HTML, every value escaped as Tera escapes it, written
/// straight into `out` (50 rows of ten cells: no string per cell).
fn row_html(
    out: &mut String,
    r: &q::QueueRow,
    statuses: &mut StatusLabels<'_>,
    priority_label: &str,
    ago: &mut AgoMemo<'_>,
) {
    use crate::web::render::escape_html_into as e;
    use std::fmt::Write as _;
    let overdue = if r.is_overdue { "overdue" } else { "" };
    let late = if r.is_overdue { "late" } else { "" };
    let id = r.id;
    let _ = write!(
        out,
        "<tr data-href=\"/tickets/{id}\" class=\"{overdue}\">\n  \
         <td class=\"check\"><input type=\"checkbox\" name=\"ids\" value=\"{id}\" aria-label=\""
    );
    e(out, &r.number);
    let _ = write!(
        out,
        "\"></td>\n  <td class=\"num\"><a href=\"/tickets/{id}\">"
    );
    e(out, &r.number);
    let _ = write!(
        out,
        "</a></td>\n  <td class=\"subject\"><a href=\"/tickets/{id}\" dir=\"auto\">"
    );
    e(out, &r.subject);
    out.push_str("</a></td>\n  <td class=\"customer\"><span dir=\"auto\">");
    e(out, &r.customer_name);
    out.push_str("</span>");
    if let Some(email) = r.customer_email.as_deref().filter(|m| !m.is_empty()) {
        if !r.customer_name.is_empty() {
            out.push_str("<small dir=\"auto\">");
            e(out, email);
            out.push_str("</small>");
        }
    }
    out.push_str("</td>\n  <td class=\"when\">");
    if let Some(ts) = r.last_message_at.filter(|t| *t != 0) {
        e(out, ago.text(ts));
    }
    out.push_str("</td>\n  <td><span class=\"prio\" style=\"--c: ");
    e(out, &r.priority_color);
    out.push_str("\">");
    e(out, priority_label);
    out.push_str("</span></td>\n  <td>");
    statuses.badge(out, &r.status, r.status_id);
    out.push_str("</td>\n  <td dir=\"auto\">");
    match r.assignee.as_deref() {
        Some(name) => e(out, name),
        None => out.push('—'),
    }
    let _ = write!(out, "</td>\n  <td class=\"when {late}\">");
    if let Some(ts) = r.due_at.filter(|t| *t != 0) {
        e(out, &crate::display::datetime(ts));
    }
    out.push_str("</td>\n  <td class=\"when\">");
    e(out, ago.text(r.updated_at));
    out.push_str("</td>\n</tr>\n");
}

/// A sortable column's header: a link sorting by `key`, newest (or
/// largest) first, flipped when the queue is already sorted by it, and
/// marked so.
fn sort_header(out: &mut String, key: SortKey, label: &str, base: &str, qs: &str, sort: Sort) {
    use crate::web::render::escape_html_into as e;
    use std::fmt::Write as _;
    let current = sort.key == key;
    out.push_str("<th><a href=\"");
    e(out, base);
    out.push('?');
    if !qs.is_empty() {
        e(out, qs);
        out.push_str("&amp;");
    }
    let dir = if current && sort.descending {
        "asc"
    } else {
        "desc"
    };
    let class = if current { "sorted" } else { "" };
    let _ = write!(
        out,
        "sort={}&amp;dir={dir}\" class=\"{class}\">",
        key.name()
    );
    e(out, label);
    if current {
        out.push_str(if sort.descending { " ↓" } else { " ↑" });
    }
    out.push_str("</a></th>");
}

/// One search hit, as `row_html` writes a queue row: every value escaped.
fn hit_html(out: &mut String, h: &search::Hit, statuses: &mut StatusLabels<'_>, lang: &str) {
    use crate::web::render::escape_html_into as e;
    use std::fmt::Write as _;
    let r = &h.row;
    let _ = write!(
        out,
        "<li>\n  <a href=\"/tickets/{}\"><span class=\"num\">",
        r.id
    );
    e(out, &r.number);
    out.push_str("</span> <span dir=\"auto\">");
    e(out, &r.subject);
    out.push_str("</span></a>\n  ");
    statuses.badge(out, &r.status, r.status_id);
    out.push_str("\n  <small dir=\"auto\">");
    // The customer's name, or their address when they gave none.
    match r.customer_email.as_deref() {
        Some(email) if r.customer_name.is_empty() => e(out, email),
        _ => e(out, &r.customer_name),
    }
    out.push_str(" · ");
    e(out, &ago_text(r.updated_at, lang));
    out.push_str(" · ");
    e(out, &i18n::t(lang, &format!("search.in_{}", h.field), &[]));
    out.push_str("</small>\n  <p class=\"snippet\" dir=\"auto\">");
    out.push_str(&highlight(&h.snippet));
    out.push_str("</p>\n</li>\n");
}

/// What a queue page reads from the database.
struct QueueData {
    can_any: crate::tickets::permissions::Permissions,
    teams: Vec<crate::store::teams::TeamChoice>,
    rows: Vec<q::QueueRow>,
    has_next: bool,
    staff: Vec<staff::Staff>,
    departments: Vec<staff::Department>,
    priorities: Vec<q::Priority>,
    tags_in_use: Vec<String>,
    statuses: Vec<crate::store::statuses::StatusRow>,
    shared: super::Shared,
}

async fn show(
    store: &Store,
    templates: &Templates,
    me: StaffSession,
    queue: Queue,
    params: QueueParams,
    base: String,
) -> Result<RawHtml<String>, WebError> {
    let filters = params.filters();
    let sort = params.sort();
    let page_no = params.page.unwrap_or(1).clamp(1, MAX_PAGE);
    let scope = me.scope();
    let f = filters.clone();
    // Everything the page reads, in one database round trip.
    let data = read(store, move |c| {
        let mut rows = q::page(
            c,
            scope,
            queue,
            &f,
            sort,
            PAGE_SIZE + 1,
            (page_no - 1) * PAGE_SIZE,
        )?;
        let has_next = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        // The choices beside the rows change only with the configuration;
        // they come from the connection's memo until the database changes.
        Ok(QueueData {
            can_any: c.memo(&format!("can-any:{}:{}", scope.staff, scope.admin), |c| {
                crate::tickets::permissions::anywhere(c, scope)
            })?,
            teams: c.memo("team-choices", crate::store::teams::choices)?,
            rows,
            has_next,
            staff: c.memo("staff-active", staff::list_active)?,
            departments: c.memo("department-list", staff::list_departments)?,
            priorities: c.memo("priorities", q::priorities)?,
            tags_in_use: c.memo("tags-in-use", |c| crate::store::tags::in_use(c, 200))?,
            statuses: c.memo("statuses", crate::store::statuses::list)?,
            shared: super::shared(c, scope)?,
        })
    })
    .await?;
    let QueueData {
        can_any,
        teams: team_list,
        rows,
        has_next,
        staff: staff_list,
        departments,
        priorities,
        tags_in_use,
        statuses: all_statuses,
        shared,
    } = data;
    // The rows are written here rather than by the template: Tera's
    // per-row variable lookups were most of the page's cost.
    let lang = me.lang.as_str();
    let mut rows_html = String::with_capacity(rows.len() * 1024);
    // A page has a handful of distinct labels: each is looked up once.
    let mut status_labels = StatusLabels::new(&all_statuses, lang);
    let mut priority_labels: HashMap<&str, String> = HashMap::new();
    let mut ago = AgoMemo::new(lang);
    for r in &rows {
        let priority_label = priority_labels
            .entry(r.priority.as_str())
            .or_insert_with(|| i18n::t(lang, &format!("priority.{}", r.priority), &[]));
        row_html(
            &mut rows_html,
            r,
            &mut status_labels,
            priority_label,
            &mut ago,
        );
    }
    let current = match queue {
        Queue::Department(d) => super::nav::Current::Department(d),
        _ => super::nav::Current::Queue(queue.name()),
    };
    let mut ctx = super::context_at(&me, current, &shared);
    if let Queue::Department(d) = queue {
        ctx.insert("department_name", &super::department_name(&shared, d));
    }
    ctx.insert("queue", queue.name());
    ctx.insert("can_any", &can_any.to_json());
    ctx.insert("teams", &team_list);
    ctx.insert("rows_html", &rows_html);
    ctx.insert("page", &page_no);
    ctx.insert("has_next", &has_next);
    ctx.insert("base", &base);
    ctx.insert("params", &params);
    ctx.insert("filters_active", &!filters.is_empty());
    ctx.insert("qs", &params.query_without(&["page"]));
    let qs_nosort = params.query_without(&["page", "sort", "dir"]);
    let headers: HashMap<&str, String> = [
        (SortKey::Number, "col.number"),
        (SortKey::LastMessage, "col.last_message"),
        (SortKey::Priority, "col.priority"),
        (SortKey::Due, "col.due"),
        (SortKey::Updated, "col.updated"),
    ]
    .into_iter()
    .map(|(key, label)| {
        let mut th = String::with_capacity(160);
        sort_header(
            &mut th,
            key,
            i18n::lookup(lang, label),
            &base,
            &qs_nosort,
            sort,
        );
        (key.name(), th)
    })
    .collect();
    ctx.insert("headers", &headers);
    let agents = || staff_list.iter().map(|s| (s.id, s.name.as_str()));
    ctx.insert(
        "assignee_options",
        &options_html(agents(), "", params.assignee.as_deref()),
    );
    ctx.insert("assign_options", &options_html(agents(), "", None));
    ctx.insert(
        "team_options",
        &options_html(team_list.iter().map(|t| (t.id, &t.name)), "team:", None),
    );
    let dept = params.dept.map(|d| d.to_string());
    ctx.insert(
        "department_options",
        &options_html(
            departments.iter().map(|d| (d.id, &d.name)),
            "",
            dept.as_deref(),
        ),
    );
    ctx.insert("priorities", &priorities);
    ctx.insert("statuses", &Status::ALL);
    ctx.insert("tags_in_use", &tags_in_use);
    render(templates, "staff/queue.html", &ctx)
}

#[get("/queues/<name>?<params..>")]
async fn queue(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
    name: &str,
    params: QueueParams,
) -> Result<RawHtml<String>, WebError> {
    let queue = Queue::parse(name).ok_or(WebError::NotFound)?;
    show(
        store,
        templates,
        me,
        queue,
        params,
        format!("/queues/{name}"),
    )
    .await
}

#[get("/departments/<id>?<params..>")]
async fn department(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
    id: i64,
    params: QueueParams,
) -> Result<RawHtml<String>, WebError> {
    let dept = DepartmentId(id);
    if !me.is_admin {
        let sid = me.staff_id;
        let mine = read(store, move |c| staff::departments_of(c, sid)).await?;
        if !mine.contains(&dept) {
            return Err(WebError::NotFound);
        }
    }
    show(
        store,
        templates,
        me,
        Queue::Department(dept),
        params,
        format!("/departments/{id}"),
    )
    .await
}

/// `all=true` (the "search all messages" link) lifts the CPU budget that
/// keeps an ordinary search fast on a big helpdesk.
#[get("/search?<q>&<all>")]
async fn search_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
    q: Option<&str>,
    all: Option<bool>,
) -> Result<Either<Redirect, RawHtml<String>>, WebError> {
    let query = q.unwrap_or("").trim().to_string();
    let scope = me.scope();
    let text = query.clone();
    let found = db(store, move |c| {
        // A ticket number jumps straight to the ticket.
        if let Some(id) = ticket_page::id_by_number(c, scope, text.trim_start_matches('#'))? {
            return Ok(Either::Left(id));
        }
        let budget = (!all.unwrap_or(false)).then_some(search::BUDGET);
        let found = search::search(c, scope, &text, PAGE_SIZE, budget)?;
        let statuses = c.memo("statuses", crate::store::statuses::list)?;
        Ok(Either::Right((found, statuses, super::shared(c, scope)?)))
    })
    .await?;
    let (found, statuses, shared) = match found {
        Either::Left(id) => return Ok(Either::Left(Redirect::to(format!("/tickets/{id}")))),
        Either::Right(found) => found,
    };
    // Written here rather than by the template, as the queue's rows are:
    // serialising each hit for Tera and looking its fields up again cost
    // more than the search's own SQL.
    let lang = me.lang.as_str();
    let mut hits_html = String::with_capacity(found.hits.len() * 768);
    let mut status_labels = StatusLabels::new(&statuses, lang);
    for h in &found.hits {
        hit_html(&mut hits_html, h, &mut status_labels, lang);
    }
    let mut ctx = super::context(&me, "search", &shared);
    ctx.insert("q", &query);
    ctx.insert("hits_html", &hits_html);
    ctx.insert("complete", &found.complete);
    if !found.complete {
        let q = percent_encoding::utf8_percent_encode(&query, percent_encoding::NON_ALPHANUMERIC);
        ctx.insert("all_href", &format!("/search?q={q}&all=true"));
    }
    render(templates, "staff/search.html", &ctx).map(Either::Right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TicketId;

    fn row() -> q::QueueRow {
        q::QueueRow {
            id: TicketId(7),
            number: "123456".into(),
            subject: "<script>alert(1)</script> & \"x\"".into(),
            status: "open".into(),
            priority: "high".into(),
            priority_color: "#c00\" onmouseover=\"x".into(),
            department: "Support".into(),
            assignee: None,
            customer_name: String::new(),
            customer_email: Some("a@example.com".into()),
            source: "email".into(),
            is_overdue: true,
            created_at: 0,
            updated_at: 0,
            last_message_at: None,
            due_at: None,
            status_id: None,
        }
    }

    #[test]
    fn rows_escape_every_value() {
        // An admin's status name is escaped as well.
        let statuses = [crate::store::statuses::StatusRow {
            id: 1,
            name: "Open <b>".into(),
            state: Status::Open,
            sort: 0,
            tickets: None,
        }];
        let mut out = String::new();
        row_html(
            &mut out,
            &row(),
            &mut StatusLabels::new(&statuses, "en"),
            "High",
            &mut AgoMemo::new("en"),
        );
        assert!(out.contains("<span class=\"status s-open\">Open &lt;b&gt;</span>"));
        assert!(!out.contains("<script>") && !out.contains("<b>"), "{out}");
        assert!(out.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt; &amp; &quot;x&quot;"));
        assert!(!out.contains("\" onmouseover"), "{out}");
        assert!(out.contains("data-href=\"/tickets/7\" class=\"overdue\""));
        assert!(out.contains("<td class=\"when late\">"));
        // No assignee: a dash; no customer name: the address is not repeated.
        assert!(out.contains("<td dir=\"auto\">—</td>"));
        assert!(!out.contains("<small"));
    }

    #[test]
    fn hits_escape_every_value_and_mark_the_words() {
        let hit = search::Hit {
            row: row(),
            field: "body".into(),
            snippet: format!(
                "a <b> {}word{} & more",
                search::MARK_START,
                search::MARK_END
            ),
        };
        let mut out = String::new();
        hit_html(&mut out, &hit, &mut StatusLabels::new(&[], "en"), "en");
        assert!(!out.contains("<script>") && !out.contains("<b>"), "{out}");
        assert!(out.contains("<mark>word</mark>"), "{out}");
        assert!(out.contains("href=\"/tickets/7\""));
        // No customer name: the address stands in for it.
        assert!(
            out.contains("<small dir=\"auto\">a@example.com · "),
            "{out}"
        );
        let mut named = hit;
        named.row.customer_name = "Maryam".into();
        let mut out = String::new();
        hit_html(&mut out, &named, &mut StatusLabels::new(&[], "en"), "en");
        assert!(out.contains("<small dir=\"auto\">Maryam · "), "{out}");
    }

    #[test]
    fn rows_show_the_address_under_a_name() {
        let mut r = row();
        r.customer_name = "Maryam".into();
        r.assignee = Some("Ana".into());
        let mut out = String::new();
        row_html(
            &mut out,
            &r,
            &mut StatusLabels::new(&[], "en"),
            "High",
            &mut AgoMemo::new("en"),
        );
        assert!(out
            .contains("<span dir=\"auto\">Maryam</span><small dir=\"auto\">a@example.com</small>"));
        assert!(out.contains("<td dir=\"auto\">Ana</td>"));
    }

    #[test]
    fn sort_headers_link_and_mark_the_current_sort() {
        let sort = Sort {
            key: SortKey::LastMessage,
            descending: true,
        };
        let mut out = String::new();
        sort_header(
            &mut out,
            SortKey::LastMessage,
            "Last <msg>",
            "/queues/open",
            "status=open&dept=2",
            sort,
        );
        assert_eq!(
            out,
            "<th><a href=\"&#x2F;queues&#x2F;open?status=open&amp;dept=2&amp;sort=last_message&amp;dir=asc\" \
             class=\"sorted\">Last &lt;msg&gt; ↓</a></th>"
        );
        out.clear();
        sort_header(&mut out, SortKey::Due, "Due", "/queues/open", "", sort);
        assert_eq!(
            out,
            "<th><a href=\"&#x2F;queues&#x2F;open?sort=due&amp;dir=desc\" class=\"\">Due</a></th>"
        );
        for key in [
            SortKey::Updated,
            SortKey::Created,
            SortKey::Number,
            SortKey::Priority,
            SortKey::Due,
            SortKey::LastMessage,
        ] {
            assert_eq!(SortKey::parse(key.name()), Some(key));
        }
    }
}
