//! Queue pages (Open, My tickets, Unassigned, Overdue, Answered, Closed,
//! per department) and search.

use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, routes, Either, FromForm, Route, State};

use super::{page, render};
use crate::model::{DepartmentId, PriorityId, Source, StaffId, Status};
use crate::store::queues::{self as q, Filters, Queue, Sort, SortKey};
use crate::store::{search, staff, ticket_page, Store};
use crate::web::auth::StaffSession;
use crate::web::render::highlight;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

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
        add("sort", self.sort.clone());
        add("dir", self.dir.clone());
        parts.join("&")
    }
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
    let (can_any, team_list) = db(store, move |c| {
        Ok((
            crate::tickets::permissions::anywhere(c, scope)?,
            crate::store::teams::choices(c)?,
        ))
    })
    .await?;
    let (mut rows, staff_list, departments, priorities) = db(store, move |c| {
        Ok((
            q::page(
                c,
                scope,
                queue,
                &f,
                sort,
                PAGE_SIZE + 1,
                (page_no - 1) * PAGE_SIZE,
            )?,
            staff::list_active(c)?,
            staff::list_departments(c)?,
            q::priorities(c)?,
        ))
    })
    .await?;
    let has_next = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let status_labels = crate::web::admin::statuses::labels_for(
        store,
        &me.lang,
        rows.iter()
            .filter_map(|r| Status::parse(&r.status).map(|s| (r.id, s)))
            .collect(),
    )
    .await?;
    let mut ctx = page(store, &me, queue.name()).await?;
    if let Queue::Department(d) = queue {
        ctx.insert("active_department", &d);
        ctx.insert("active", "department");
    }
    ctx.insert("queue", queue.name());
    ctx.insert("can_any", &can_any.to_json());
    ctx.insert("teams", &team_list);
    ctx.insert("rows", &rows);
    ctx.insert("page", &page_no);
    ctx.insert("has_next", &has_next);
    ctx.insert("base", &base);
    ctx.insert("params", &params);
    ctx.insert("filters_active", &!filters.is_empty());
    ctx.insert("sort_key", &sort.key);
    ctx.insert("sort_desc", &sort.descending);
    ctx.insert("qs", &params.query_without(&["page"]));
    ctx.insert("qs_nosort", &params.query_without(&["page", "sort", "dir"]));
    ctx.insert("staff", &staff_list);
    ctx.insert("departments", &departments);
    ctx.insert("priorities", &priorities);
    ctx.insert("statuses", &Status::ALL);
    ctx.insert("status_labels", &status_labels);
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
        let mine = db(store, move |c| staff::departments_of(c, sid)).await?;
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

#[get("/search?<q>")]
async fn search_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
    q: Option<&str>,
) -> Result<Either<Redirect, RawHtml<String>>, WebError> {
    let query = q.unwrap_or("").trim().to_string();
    let scope = me.scope();
    let text = query.clone();
    let (exact, hits) = db(store, move |c| {
        // A ticket number jumps straight to the ticket.
        let exact = ticket_page::id_by_number(c, scope, text.trim_start_matches('#'))?;
        let hits = match exact {
            Some(_) => Vec::new(),
            None => search::search(c, scope, &text, PAGE_SIZE)?,
        };
        Ok((exact, hits))
    })
    .await?;
    if let Some(id) = exact {
        return Ok(Either::Left(Redirect::to(format!("/tickets/{id}"))));
    }
    let hits: Vec<serde_json::Value> = hits
        .into_iter()
        .map(|h| {
            let mut v = serde_json::to_value(&h).unwrap_or_default();
            v["snippet_html"] = serde_json::Value::String(highlight(&h.snippet));
            v
        })
        .collect();
    let mut ctx = page(store, &me, "search").await?;
    ctx.insert("q", &query);
    ctx.insert("hits", &hits);
    render(templates, "staff/search.html", &ctx).map(Either::Right)
}
