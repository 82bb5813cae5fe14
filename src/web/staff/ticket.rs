//! The ticket page, attachment downloads, and the small JSON endpoints the
//! page script uses for reply locks and "the thread changed" checks.

use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};

use super::{render, ticket_html};
use crate::model::{AttachmentId, TicketId};
use crate::store::queues::{self as q, Scope};
use crate::store::ticket_page::{self as tp, TicketHead};
use crate::store::{canned, locks, staff, teams, Store};
use crate::tickets::permissions::{self, Permission, Permissions};
use crate::web::auth::StaffSession;
use crate::web::render::{options_html, Download};
use crate::web::templates::Templates;
use crate::web::{db, read, WebError};

/// How long a reply lock lives without renewal (the page renews it while
/// the agent types).
pub const LOCK_SECS: i64 = 120;

pub fn routes() -> Vec<Route> {
    routes![show, attachment, lock, unlock, state]
}

/// Load a ticket within the viewer's scope; anything else is a 404.
pub async fn scoped(store: &Store, scope: Scope, id: i64) -> Result<TicketHead, WebError> {
    read(store, move |c| tp::head(c, scope, TicketId(id)))
        .await?
        .ok_or(WebError::NotFound)
}

/// Load a ticket within the viewer's scope (404 otherwise) with what the
/// viewer may do on it.
pub async fn access(
    store: &Store,
    me: &StaffSession,
    id: i64,
) -> Result<(TicketHead, Permissions), WebError> {
    let scope = me.scope();
    let (head, perms) = read(store, move |c| {
        let head = tp::head(c, scope, TicketId(id))?;
        let perms = match &head {
            Some(h) => permissions::on_ticket(c, scope, h.row.id)?,
            None => None,
        };
        Ok((head, perms))
    })
    .await?;
    Ok((head.ok_or(WebError::NotFound)?, perms.unwrap_or_default()))
}

/// Load a ticket within the viewer's scope (404 otherwise) and check that
/// the viewer's role allows `needed` on it (403 with a sentence otherwise).
pub async fn permitted(
    store: &Store,
    me: &StaffSession,
    id: i64,
    needed: Permission,
) -> Result<TicketHead, WebError> {
    let (head, perms) = access(store, me, id).await?;
    require(me, perms, needed)?;
    Ok(head)
}

/// 403 with a sentence unless `perms` holds `needed`.
pub fn require(me: &StaffSession, perms: Permissions, needed: Permission) -> Result<(), WebError> {
    if perms.has(needed) {
        Ok(())
    } else {
        Err(denied(&me.lang, needed))
    }
}

/// The 403 sentence for a missing permission.
pub fn denied(lang: &str, needed: Permission) -> WebError {
    WebError::Denied(crate::web::i18n::t(
        lang,
        &format!("roles.denied_{}", needed.as_str()),
        &[],
    ))
}

/// What the ticket page reads from the database.
struct TicketData {
    head: TicketHead,
    statuses: Vec<crate::store::statuses::StatusRow>,
    status_id: Option<i64>,
    perms: Permissions,
    teams: Vec<teams::TeamChoice>,
    thread: Vec<tp::ThreadEntry>,
    events: Vec<tp::EventRow>,
    panel: Option<tp::CustomerPanel>,
    lock: Option<locks::Lock>,
    staff: Vec<staff::Staff>,
    departments: Vec<staff::Department>,
    priorities: Vec<q::Priority>,
    canned: Vec<canned::Canned>,
    deliveries: Vec<crate::store::outbox::OutboxRow>,
    sla: serde_json::Value,
    tags: Vec<String>,
    values: Vec<crate::store::forms::FieldValue>,
    shared: super::Shared,
}

#[get("/tickets/<id>")]
async fn show(
    store: &State<Store>,
    templates: &State<Templates>,
    plugins: crate::plugin::Plugins,
    me: StaffSession,
    id: i64,
) -> Result<RawHtml<String>, WebError> {
    let scope = me.scope();
    let (staff_id, lang) = (me.staff_id, me.lang.clone());
    // Everything the page reads, in one database round trip; a ticket
    // outside the viewer's scope is not found.
    let data = read(store, move |c| {
        let Some(head) = tp::head(c, scope, TicketId(id))? else {
            return Ok(None);
        };
        let tid = head.row.id;
        Ok(Some(TicketData {
            // Configuration lists come from the connection's memo until the
            // database changes.
            statuses: c.memo("statuses", crate::store::statuses::list)?,
            status_id: head.row.status_id,
            perms: permissions::on_ticket(c, scope, tid)?.unwrap_or_default(),
            teams: c.memo("team-choices", teams::choices)?,
            thread: tp::thread(c, tid)?,
            deliveries: crate::store::outbox::deliveries_of_ticket(c, tid)?,
            events: tp::events(c, tid)?,
            panel: tp::customer_panel(c, scope, head.customer_id, tid)?,
            lock: locks::current(c, tid)?,
            staff: c.memo("staff-active", staff::list_active)?,
            departments: c.memo("department-list", staff::list_departments)?,
            priorities: c.memo("priorities", q::priorities)?,
            canned: c.memo(&format!("canned:{staff_id}:{}", head.department_id), |c| {
                canned::list_for_ticket(c, staff_id, head.department_id)
            })?,
            sla: super::sla_box::load(c, tid, head.help_topic_id, &lang)?,
            tags: crate::store::tags::of_ticket(c, tid)?,
            values: crate::store::forms::values_for_ticket(c, tid)?,
            shared: super::shared(c, scope)?,
            head,
        }))
    })
    .await?
    .ok_or(WebError::NotFound)?;
    let TicketData {
        head,
        statuses,
        status_id,
        perms,
        teams: team_list,
        thread,
        events,
        panel,
        lock,
        staff: staff_list,
        departments,
        priorities,
        canned,
        deliveries,
        sla: sla_box,
        tags,
        values,
        shared,
    } = data;
    let (status_choices, status_current) =
        status_control(&me.lang, &head.row, &statuses, status_id);
    let last_entry = thread.last().map_or(0, |e| e.id.0);
    let zone = crate::display::zone_name();
    // About the bodies' size plus each entry's header and attachments.
    let size: usize = thread
        .iter()
        .map(|e| 1024 + e.body_html.as_ref().map_or(e.body_text.len(), String::len))
        .sum();
    let mut thread_html = String::with_capacity(size);
    ticket_html::thread(
        &mut thread_html,
        &thread,
        &deliveries,
        &ticket_html::ThreadView {
            ticket: head.row.id,
            lang: &me.lang,
            csrf: &me.csrf,
            can_reply: perms.has(Permission::Reply),
            zone: &zone,
        },
    );
    let mut history_html = String::with_capacity(128 * events.len() + 64);
    ticket_html::history(&mut history_html, &events, &me.lang);
    let mut customer_html = String::new();
    if let Some(p) = &panel {
        let mut labels = super::labels::StatusLabels::new(&statuses, &me.lang);
        ticket_html::customer(&mut customer_html, p, &mut labels, &me.lang);
    }
    // Canned responses with this ticket's variables filled in.
    let customer_name = panel
        .as_ref()
        .map(|p| p.name.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| head.row.customer_email.clone())
        .unwrap_or_default();
    let canned: Vec<serde_json::Value> = canned
        .into_iter()
        .map(|c| {
            let body = fill_variables(&c.body, &customer_name, &head.row.number, &me.name);
            serde_json::json!({"id": c.id, "title": c.title, "body": body, "shared": c.shared})
        })
        .collect();
    let plugin_panels = match (plugins.0, head.row.customer_email.clone()) {
        (Some(registry), Some(email)) => {
            let panel_ctx = crate::plugin::PanelContext {
                customer_email: email,
                customer_name: customer_name.clone(),
                ticket_number: Some(head.row.number.clone()),
                viewer: crate::plugin::Viewer::Staff,
            };
            // Plugins may call out (billing APIs): off the async workers,
            // each bounded by its deadline.
            rocket::tokio::task::spawn_blocking(move || registry.ticket_panels(&panel_ctx))
                .await
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let tags: Vec<serde_json::Value> = tags
        .into_iter()
        .map(|name| {
            let q =
                percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            serde_json::json!({ "name": name, "q": q })
        })
        .collect();
    let mut ctx = super::context(&me, "ticket", &shared);
    ctx.insert("tags", &tags);
    ctx.insert("plugin_panels", &plugin_panels);
    ctx.insert("t", &head);
    ctx.insert("thread_html", &thread_html);
    ctx.insert("history_html", &history_html);
    ctx.insert("customer_html", &customer_html);
    ctx.insert("lock", &lock.filter(|l| l.staff_id != me.staff_id));
    ctx.insert("last_entry", &last_entry);
    let assignee = head.assignee_id.map(|s| s.to_string());
    ctx.insert(
        "assignee_options",
        &options_html(
            staff_list.iter().map(|s| (s.id, s.name.as_str())),
            "",
            assignee.as_deref(),
        ),
    );
    let team = match (head.assignee_id, head.team_id) {
        (None, Some(t)) => Some(format!("team:{t}")),
        _ => None,
    };
    ctx.insert(
        "team_options",
        &options_html(
            team_list.iter().map(|t| (t.id, &t.name)),
            "team:",
            team.as_deref(),
        ),
    );
    let department = head.department_id.to_string();
    ctx.insert(
        "department_options",
        &options_html(
            departments.iter().map(|d| (d.id, &d.name)),
            "",
            Some(&department),
        ),
    );
    ctx.insert("priorities", &priorities);
    ctx.insert("statuses", &crate::model::Status::ALL);
    ctx.insert("status_choices", &status_choices);
    ctx.insert("status_current", &status_current);
    ctx.insert("canned", &canned);
    ctx.insert("lock_secs", &LOCK_SECS);
    ctx.insert("sla", &sla_box);
    ctx.insert("can", &perms.to_json());
    ctx.insert("teams", &team_list);
    // Custom fields the customer filled in on the portal.
    ctx.insert("details", &crate::web::portal::details(&values, &me.lang));
    render(templates, "staff/ticket.html", &ctx)
}

/// The custom statuses offered by the "change status" control, and the one
/// the ticket shows (id and name).
fn status_control(
    lang: &str,
    row: &q::QueueRow,
    all: &[crate::store::statuses::StatusRow],
    named: Option<i64>,
) -> (Vec<serde_json::Value>, serde_json::Value) {
    use crate::web::admin::statuses::{display_name, label_of};
    let choices = all
        .iter()
        .map(|s| serde_json::json!({ "id": s.id, "name": display_name(lang, s), "state": s.state }))
        .collect();
    let current = crate::model::Status::parse(&row.status)
        .and_then(|state| label_of(all, state, named))
        .map(|s| serde_json::json!({ "id": s.id, "name": display_name(lang, s) }))
        .unwrap_or(serde_json::Value::Null);
    (choices, current)
}

/// `{customer_name}`, `{ticket_number}`, `{agent_name}` in canned text.
pub fn fill_variables(body: &str, customer: &str, number: &str, agent: &str) -> String {
    body.replace("{customer_name}", customer)
        .replace("{ticket_number}", number)
        .replace("{agent_name}", agent)
}

#[get("/attachments/<id>?<inline>")]
async fn attachment(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    inline: Option<bool>,
) -> Result<Download, WebError> {
    let scope = me.scope();
    let (meta, data) = db(store, move |c| tp::attachment(c, scope, AttachmentId(id)))
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Download {
        meta,
        data,
        inline: inline.unwrap_or(false),
    })
}

#[derive(serde::Serialize)]
pub struct TicketState {
    /// Someone else holds the reply lock.
    locked_by: Option<String>,
    /// Whether this agent holds it now.
    mine: bool,
    last_entry: i64,
}

/// Take or renew the reply lock (the page calls this while composing).
#[post("/tickets/<id>/lock")]
async fn lock(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
) -> Result<Json<TicketState>, WebError> {
    // Only someone who may write to the thread announces "is replying".
    let (head, perms) = access(store, &me, id).await?;
    if !perms.has(Permission::Reply) {
        require(&me, perms, Permission::Note)?;
    }
    let (tid, sid) = (head.row.id, me.staff_id);
    let (holder, last_entry) = db(store, move |c| {
        Ok((
            locks::acquire(c, tid, sid, LOCK_SECS)?,
            tp::last_entry_id(c, tid)?,
        ))
    })
    .await?;
    let mine = holder.as_ref().is_some_and(|l| l.staff_id == sid);
    Ok(Json(TicketState {
        locked_by: holder.filter(|l| l.staff_id != sid).map(|l| l.staff_name),
        mine,
        last_entry,
    }))
}

#[post("/tickets/<id>/unlock")]
async fn unlock(store: &State<Store>, me: StaffSession, id: i64) -> Result<Status, WebError> {
    let head = scoped(store, me.scope(), id).await?;
    let (tid, sid) = (head.row.id, me.staff_id);
    db(store, move |c| locks::release(c, tid, sid)).await?;
    Ok(Status::NoContent)
}

/// The lock holder and newest entry, without taking the lock.
#[get("/tickets/<id>/state")]
async fn state(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
) -> Result<Json<TicketState>, WebError> {
    let head = scoped(store, me.scope(), id).await?;
    let (tid, sid) = (head.row.id, me.staff_id);
    let (holder, last_entry) = db(store, move |c| {
        Ok((locks::current(c, tid)?, tp::last_entry_id(c, tid)?))
    })
    .await?;
    Ok(Json(TicketState {
        mine: holder.as_ref().is_some_and(|l| l.staff_id == sid),
        locked_by: holder.filter(|l| l.staff_id != sid).map(|l| l.staff_name),
        last_entry,
    }))
}
