//! Changing a ticket from its page: reply, note, assign, transfer, status,
//! priority, due date, merge, spam. Each handler loads the ticket within the
//! viewer's scope first (404 otherwise), then calls the ticket domain.

use rocket::form::Form;
use rocket::fs::TempFile;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Either, FromForm, Route, State};

use super::ticket::{access, permitted, require};
use super::{page, render};
use crate::model::{DepartmentId, PriorityId, StaffId, Status as TicketStatus, TeamId, TicketId};
use crate::store::{queues as q, staff, ticket_page as tp, Store};
use crate::tickets::permissions::Permission;
use crate::tickets::{self, Body, NewAttachment, NewTicket, Note, Reply};
use crate::web::auth::StaffSession;
use crate::web::templates::Templates;
use crate::web::{db, domain, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![
        reply, note, assign, transfer, status, priority, due, subject, merge, spam, new_page,
        create
    ]
}

fn back(id: impl std::fmt::Display) -> Redirect {
    Redirect::to(format!("/tickets/{id}"))
}

/// Read uploaded files into memory for the domain (which stores them
/// deduplicated in the database). Empty file inputs are skipped.
pub async fn read_uploads(files: &mut [TempFile<'_>]) -> Result<Vec<NewAttachment>, WebError> {
    use rocket::tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    for f in files.iter_mut() {
        let name = f
            .raw_name()
            .map(|n| n.dangerous_unsafe_unsanitized_raw().as_str().to_string())
            .unwrap_or_default();
        if f.len() == 0 && name.is_empty() {
            continue;
        }
        let mime_type = f
            .content_type()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut data = Vec::with_capacity(f.len() as usize);
        let mut reader = f
            .open()
            .await
            .map_err(|e| WebError::Internal(format!("reading an upload: {e}")))?;
        reader
            .read_to_end(&mut data)
            .await
            .map_err(|e| WebError::Internal(format!("reading an upload: {e}")))?;
        // Browsers send the bare name; keep only its last path component.
        let filename = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        out.push(NewAttachment {
            filename: if filename.is_empty() {
                "attachment".into()
            } else {
                filename
            },
            mime_type,
            data,
            inline: false,
            content_id: None,
        });
    }
    Ok(out)
}

#[derive(FromForm)]
pub struct ReplyForm<'r> {
    body: String,
    /// Status after the reply (default: answered).
    status: Option<&'r str>,
    /// The newest entry id when the page was loaded.
    seen: Option<i64>,
    /// Post even though the thread changed.
    confirm_changed: Option<bool>,
    attachments: Vec<TempFile<'r>>,
}

/// The thread gained entries since `seen`: show the page again with the
/// draft kept and a warning, instead of posting.
async fn changed_since(
    store: &Store,
    ticket: TicketId,
    seen: Option<i64>,
) -> Result<bool, WebError> {
    let Some(seen) = seen else {
        return Ok(false);
    };
    let last = db(store, move |c| tp::last_entry_id(c, ticket)).await?;
    Ok(last > seen)
}

async fn conflict_page(
    store: &Store,
    templates: &Templates,
    me: &StaffSession,
    id: TicketId,
    kind: &str,
    draft: &str,
) -> Result<(Status, RawHtml<String>), WebError> {
    let mut ctx = page(store, me, "ticket").await?;
    ctx.insert("ticket_id", &id);
    ctx.insert("kind", kind);
    ctx.insert("draft", draft);
    let html = render(templates, "staff/changed.html", &ctx)?;
    Ok((Status::Conflict, html))
}

#[post("/tickets/<id>/reply", data = "<form>")]
async fn reply(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
    id: i64,
    mut form: Form<ReplyForm<'_>>,
) -> Result<Either<Redirect, (Status, RawHtml<String>)>, WebError> {
    let (head, perms) = access(store, &me, id).await?;
    require(&me, perms, Permission::Reply)?;
    let tid = head.row.id;
    if form.confirm_changed != Some(true) && changed_since(store, tid, form.seen).await? {
        let page = conflict_page(store, templates, &me, tid, "reply", &form.body).await?;
        return Ok(Either::Right(page));
    }
    let status = match form.status.filter(|s| !s.is_empty()) {
        Some(s) => Some(
            TicketStatus::parse(s)
                .ok_or_else(|| WebError::BadRequest(format!("unknown status {s:?}")))?,
        ),
        None => None,
    };
    // Answering is part of replying; any other status after the reply
    // needs what changing to it needs.
    if let Some(s) = status.filter(|s| *s != TicketStatus::Answered) {
        require(&me, perms, Permission::for_status(s))?;
    }
    let attachments = read_uploads(&mut form.attachments).await?;
    let r = Reply {
        body: Body::text(form.body.clone()),
        attachments,
        status,
    };
    let (actor, sid) = (me.actor(), me.staff_id);
    domain(store, move |s| {
        tickets::add_response(s, &actor, tid, r)?;
        let conn = s.conn()?;
        crate::store::locks::release(&conn, tid, sid)?;
        Ok(())
    })
    .await?;
    Ok(Either::Left(back(tid)))
}

#[derive(FromForm)]
pub struct NoteForm<'r> {
    body: String,
    attachments: Vec<TempFile<'r>>,
}

#[post("/tickets/<id>/note", data = "<form>")]
async fn note(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    mut form: Form<NoteForm<'_>>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Note).await?;
    let tid = head.row.id;
    let attachments = read_uploads(&mut form.attachments).await?;
    let n = Note {
        body: Body::text(form.body.clone()),
        attachments,
    };
    let actor = me.actor();
    domain(store, move |s| tickets::add_note(s, &actor, tid, n)).await?;
    Ok(back(tid))
}

#[derive(FromForm)]
pub struct AssignForm<'r> {
    /// A staff id, or empty to unassign; `team:ID` for a team, `team:` to
    /// take the ticket from its team.
    assignee: &'r str,
}

/// Who an "assign" form names: an agent (or nobody) or a team (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignTarget {
    Agent(Option<StaffId>),
    Team(Option<TeamId>),
}

pub fn parse_target(v: &str) -> Result<AssignTarget, WebError> {
    match v.trim().strip_prefix("team:") {
        Some("") => Ok(AssignTarget::Team(None)),
        Some(n) => n
            .parse()
            .map(|n| AssignTarget::Team(Some(TeamId(n))))
            .map_err(|_| WebError::BadRequest(format!("{n:?} is not a team"))),
        None => parse_assignee(v).map(AssignTarget::Agent),
    }
}

/// Apply an assignment through the domain.
pub fn apply_target(
    s: &Store,
    actor: &tickets::events::Actor,
    ticket: TicketId,
    to: AssignTarget,
) -> Result<(), tickets::TicketError> {
    match to {
        AssignTarget::Agent(a) => tickets::assign(s, actor, ticket, a),
        AssignTarget::Team(t) => tickets::assign_team(s, actor, ticket, t),
    }
}

pub fn parse_assignee(v: &str) -> Result<Option<StaffId>, WebError> {
    match v.trim() {
        "" | "none" => Ok(None),
        s => s
            .parse()
            .map(|n| Some(StaffId(n)))
            .map_err(|_| WebError::BadRequest(format!("{s:?} is not a staff member"))),
    }
}

#[post("/tickets/<id>/assign", data = "<form>")]
async fn assign(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<AssignForm<'_>>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Assign).await?;
    let to = parse_target(form.assignee)?;
    let (tid, actor) = (head.row.id, me.actor());
    domain(store, move |s| apply_target(s, &actor, tid, to)).await?;
    Ok(back(tid))
}

#[derive(FromForm)]
pub struct TransferForm {
    department: i64,
}

#[post("/tickets/<id>/transfer", data = "<form>")]
async fn transfer(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<TransferForm>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Transfer).await?;
    let (tid, actor, to) = (head.row.id, me.actor(), DepartmentId(form.department));
    domain(store, move |s| tickets::transfer(s, &actor, tid, to)).await?;
    // The ticket may now be outside the agent's departments.
    let scope = me.scope();
    let still = db(store, move |c| tp::head(c, scope, tid)).await?.is_some();
    Ok(if still {
        back(tid)
    } else {
        Redirect::to("/queues/open")
    })
}

#[derive(FromForm)]
pub struct StatusForm<'r> {
    status: &'r str,
}

#[post("/tickets/<id>/status", data = "<form>")]
async fn status(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<StatusForm<'_>>,
) -> Result<Redirect, WebError> {
    // A custom status (admin/statuses) by id, or one of the five states.
    if let Ok(label) = form.status.trim().parse::<i64>() {
        let target = db(store, move |c| crate::store::statuses::get(c, label))
            .await?
            .ok_or_else(|| WebError::BadRequest(format!("unknown status {label}")))?;
        let head = permitted(store, &me, id, Permission::for_status(target.state)).await?;
        let (tid, actor) = (head.row.id, me.actor());
        domain(store, move |s| {
            tickets::set_status_label(s, &actor, tid, label)
        })
        .await?;
        return Ok(back(tid));
    }
    let to = TicketStatus::parse(form.status)
        .ok_or_else(|| WebError::BadRequest(format!("unknown status {:?}", form.status)))?;
    let head = permitted(store, &me, id, Permission::for_status(to)).await?;
    let (tid, actor) = (head.row.id, me.actor());
    domain(store, move |s| tickets::set_status(s, &actor, tid, to)).await?;
    Ok(back(tid))
}

#[derive(FromForm)]
pub struct PriorityForm {
    priority: i64,
}

#[post("/tickets/<id>/priority", data = "<form>")]
async fn priority(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<PriorityForm>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Edit).await?;
    let (tid, actor, to) = (head.row.id, me.actor(), PriorityId(form.priority));
    domain(store, move |s| tickets::set_priority(s, &actor, tid, to)).await?;
    Ok(back(tid))
}

#[derive(FromForm)]
pub struct DueForm<'r> {
    /// `YYYY-MM-DDTHH:MM` (UTC) from a datetime-local input; empty clears.
    due: &'r str,
}

pub fn parse_due(v: &str) -> Result<Option<i64>, WebError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let parsed = chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(17, 0, 0).unwrap_or_default())
        })
        .map_err(|_| WebError::BadRequest(format!("{v:?} is not a date and time")))?;
    Ok(Some(crate::display::from_local(parsed)))
}

#[post("/tickets/<id>/due", data = "<form>")]
async fn due(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<DueForm<'_>>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Edit).await?;
    let to = parse_due(form.due)?;
    let (tid, actor) = (head.row.id, me.actor());
    domain(store, move |s| tickets::set_due(s, &actor, tid, to)).await?;
    Ok(back(tid))
}

#[derive(FromForm)]
pub struct SubjectForm<'r> {
    subject: &'r str,
}

#[post("/tickets/<id>/subject", data = "<form>")]
async fn subject(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<SubjectForm<'_>>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Edit).await?;
    let (tid, actor, to) = (head.row.id, me.actor(), form.subject.to_string());
    domain(store, move |s| tickets::set_subject(s, &actor, tid, &to)).await?;
    Ok(back(tid))
}

#[derive(FromForm)]
pub struct MergeForm<'r> {
    /// The number of the ticket to merge into.
    into: &'r str,
}

#[post("/tickets/<id>/merge", data = "<form>")]
async fn merge(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<MergeForm<'_>>,
) -> Result<Redirect, WebError> {
    let scope = me.scope();
    let head = permitted(store, &me, id, Permission::Merge).await?;
    let number = form.into.trim().trim_start_matches('#').to_string();
    let n2 = number.clone();
    let into = db(store, move |c| tp::id_by_number(c, scope, &n2))
        .await?
        .ok_or_else(|| {
            WebError::BadRequest(i18n::t(&me.lang, "merge.not_found", &[("number", number)]))
        })?;
    // The surviving ticket changes too: merging needs the right on both.
    permitted(store, &me, into.0, Permission::Merge).await?;
    let (tid, actor) = (head.row.id, me.actor());
    domain(store, move |s| tickets::merge(s, &actor, tid, into)).await?;
    Ok(back(into))
}

#[derive(FromForm)]
pub struct SpamForm {
    ban: Option<bool>,
}

#[post("/tickets/<id>/spam", data = "<form>")]
async fn spam(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<SpamForm>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Ban).await?;
    let (tid, actor, ban) = (head.row.id, me.actor(), form.ban == Some(true));
    domain(store, move |s| {
        if ban {
            tickets::removal::mark_spam_and_ban(s, &actor, tid).map(|_| ())
        } else {
            tickets::mark_spam(s, &actor, tid)
        }
    })
    .await?;
    Ok(Redirect::to("/queues/open"))
}

/// Departments the agent may open tickets in (admins: all).
async fn my_departments(
    store: &Store,
    me: &StaffSession,
) -> Result<Vec<crate::store::staff::Department>, WebError> {
    let (sid, admin) = (me.staff_id, me.is_admin);
    db(store, move |c| {
        let all = staff::list_departments(c)?;
        if admin {
            return Ok(all);
        }
        let mine = staff::departments_of(c, sid)?;
        Ok(all.into_iter().filter(|d| mine.contains(&d.id)).collect())
    })
    .await
}

#[get("/tickets/new")]
async fn new_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
) -> Result<RawHtml<String>, WebError> {
    let departments = my_departments(store, &me).await?;
    let priorities = db(store, |c| q::priorities(c)).await?;
    let mut ctx = page(store, &me, "new").await?;
    ctx.insert("departments", &departments);
    ctx.insert("priorities", &priorities);
    render(templates, "staff/new.html", &ctx)
}

#[derive(FromForm)]
pub struct NewTicketForm<'r> {
    email: &'r str,
    name: &'r str,
    subject: &'r str,
    body: String,
    department: i64,
    priority: Option<i64>,
    attachments: Vec<TempFile<'r>>,
}

/// Open a ticket on behalf of a customer who called (source = phone).
#[post("/tickets/new", data = "<form>")]
async fn create(
    store: &State<Store>,
    me: StaffSession,
    mut form: Form<NewTicketForm<'_>>,
) -> Result<Redirect, WebError> {
    let dept = DepartmentId(form.department);
    if !my_departments(store, &me)
        .await?
        .iter()
        .any(|d| d.id == dept)
    {
        return Err(WebError::NotFound);
    }
    let email = form.email.trim();
    if !email.contains('@') || email.len() > 254 {
        return Err(WebError::BadRequest(i18n::t(
            &me.lang,
            "new.bad_email",
            &[],
        )));
    }
    let mut new = NewTicket::new(
        crate::model::Source::Phone,
        email,
        form.name.trim(),
        form.subject.trim(),
        Body::text(form.body.clone()),
    );
    new.department = Some(dept);
    new.priority = form.priority.map(PriorityId);
    new.attachments = read_uploads(&mut form.attachments).await?;
    let actor = me.actor();
    let opened = domain(store, move |s| tickets::open(s, &actor, new)).await?;
    Ok(back(opened.ticket))
}
