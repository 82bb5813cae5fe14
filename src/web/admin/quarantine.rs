//! /admin/quarantine: mail that could not be filed (and mail the ban list
//! or a filter refused), kept raw. Admins see each message's sender,
//! subject and reason, read or download it byte for byte, and file it again
//! once the cause is fixed. The same as `oxidesk quarantine`, for admins
//! without a shell.

use rocket::http::ContentType;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Route, State};
use serde::Serialize;
use serde_json::json;

use super::{actor, admin_page, Submitted};
use crate::mail::parse::{summary, Summary};
use crate::model::{RawMessageId, RawMessageInfo, RawStatus};
use crate::store::{self, Store};
use crate::tickets::intake::{self, IntakeError, IntakeOutcome};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![list, show, raw, retry, delete]
}

/// Messages per page of the list.
const PER_PAGE: u32 = 50;

/// Bytes of a message shown on its page; the download has all of it.
const PREVIEW_BYTES: usize = 256 * 1024;

#[derive(Serialize)]
struct Item {
    #[serde(flatten)]
    info: RawMessageInfo,
    #[serde(flatten)]
    summary: Summary,
}

/// Which list: the quarantine, or the messages refused on purpose.
fn status_of(rejected: Option<bool>) -> RawStatus {
    if rejected.unwrap_or(false) {
        RawStatus::Rejected
    } else {
        RawStatus::Quarantined
    }
}

#[get("/quarantine?<rejected>&<page>&<done>")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    rejected: Option<bool>,
    page: Option<u32>,
    done: Option<&str>,
) -> Result<RawHtml<String>, WebError> {
    let status = status_of(rejected);
    let page = page.unwrap_or(1).clamp(1, 100_000);
    let offset = (page - 1) * PER_PAGE;
    let (rows, quarantined, refused) = db(store, move |c| {
        // One more than a page tells whether there is a next one.
        let rows = store::raw_messages::list_with_heads(c, status, PER_PAGE + 1, offset)?;
        let quarantined = store::raw_messages::count_by_status(c, RawStatus::Quarantined)?;
        let refused = store::raw_messages::count_by_status(c, RawStatus::Rejected)?;
        Ok((rows, quarantined, refused))
    })
    .await?;
    let more = rows.len() > PER_PAGE as usize;
    let items: Vec<Item> = rows
        .into_iter()
        .take(PER_PAGE as usize)
        .map(|(info, head)| Item {
            info,
            summary: summary(&head),
        })
        .collect();
    let mut ctx = admin_page(store, &me, "quarantine").await?;
    ctx.insert("items", &items);
    ctx.insert("rejected", &(status == RawStatus::Rejected));
    ctx.insert("count_quarantined", &quarantined);
    ctx.insert("count_rejected", &refused);
    ctx.insert("page", &page);
    ctx.insert("more", &more);
    ctx.insert("done", &done.filter(|d| *d == "deleted"));
    render(templates, "admin/quarantine.html", &ctx)
}

/// The page of one message, with a flash (`done`) or an error.
async fn message_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: RawMessageId,
    done: Option<&str>,
    error: Option<String>,
) -> Result<RawHtml<String>, WebError> {
    let found = db(store, move |c| {
        let Some(info) = store::raw_messages::get_info(c, id)? else {
            return Ok(None);
        };
        let data = crate::tickets::raw_mail::original(c, id)?.unwrap_or_default();
        let number = match info.ticket_id {
            Some(t) => store::tickets::number_of(c, t)?,
            None => None,
        };
        Ok(Some((info, data, number)))
    })
    .await?;
    let Some((info, data, number)) = found else {
        return Err(WebError::NotFound);
    };
    let cut = data.len() > PREVIEW_BYTES;
    let shown = String::from_utf8_lossy(&data[..data.len().min(PREVIEW_BYTES)]).into_owned();
    let mut ctx = admin_page(store, me, "quarantine").await?;
    let head = &data[..data.len().min(store::raw_messages::HEAD_BYTES as usize)];
    ctx.insert("summary", &summary(head));
    ctx.insert("m", &info);
    ctx.insert("status", info.status.as_str());
    ctx.insert("number", &number);
    ctx.insert("text", &shown);
    ctx.insert("cut", &cut);
    ctx.insert("done", &done);
    ctx.insert("error", &error);
    render(templates, "admin/quarantine_message.html", &ctx)
}

#[get("/quarantine/<id>?<done>")]
async fn show(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    done: Option<&str>,
) -> Result<RawHtml<String>, WebError> {
    let done = done.filter(|d| matches!(*d, "filed" | "rejected"));
    message_page(store, templates, &me, RawMessageId(id), done, None).await
}

/// The message as it came, to save and open in a mail program.
struct RawDownload {
    id: RawMessageId,
    data: Vec<u8>,
}

impl<'r> rocket::response::Responder<'r, 'static> for RawDownload {
    fn respond_to(self, _: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        Ok(crate::web::render::file_response(
            ContentType::new("message", "rfc822"),
            crate::web::render::content_disposition(
                "attachment",
                &format!("message-{}.eml", self.id),
            ),
            "private, no-store",
            self.data,
        ))
    }
}

#[get("/quarantine/<id>/raw")]
async fn raw(store: &State<Store>, _me: AdminSession, id: i64) -> Result<RawDownload, WebError> {
    let id = RawMessageId(id);
    let data = db(store, move |c| crate::tickets::raw_mail::original(c, id))
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(RawDownload { id, data })
}

/// Parse the message again and file it. It opens or joins a ticket, is
/// refused by a filter, or stays quarantined with the reason shown.
#[post("/quarantine/<id>/retry")]
async fn retry(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<Submitted, WebError> {
    let id = RawMessageId(id);
    let filer = store.inner().clone();
    let outcome = rocket::tokio::task::spawn_blocking(move || intake::retry(&filer, id))
        .await
        .map_err(|e| WebError::Internal(format!("a database task failed: {e}")))?;
    let outcome = match outcome {
        Ok(o) => o,
        Err(IntakeError::Failed(e) | IntakeError::Temporary(e)) => return Err(WebError::from(e)),
        // Only a new message is checked against the size limit.
        Err(e @ IntakeError::TooLarge { .. }) => return Err(WebError::BadRequest(e.to_string())),
    };
    let who = actor(&me);
    let record =
        json!({ "raw_message": id.0, "outcome": outcome.kind(), "number": outcome.number() });
    super::in_tx(store, move |tx| {
        store::audit::record(tx, &who, "config.quarantine_retried", &record).map(|_| ())
    })
    .await?;
    let lang = me.0.lang.clone();
    match outcome {
        IntakeOutcome::NewTicket { .. } | IntakeOutcome::Appended { .. } => {
            Ok(Submitted::to(format!("/admin/quarantine/{id}?done=filed")))
        }
        IntakeOutcome::Rejected { .. } => Ok(Submitted::to(format!(
            "/admin/quarantine/{id}?done=rejected"
        ))),
        // Filed before (by another admin, or the CLI): its page says where.
        IntakeOutcome::Duplicate { .. } => Ok(Submitted::Done(Box::new(Redirect::to(format!(
            "/admin/quarantine/{id}"
        ))))),
        IntakeOutcome::Quarantined { reason, .. } => {
            let error = i18n::t(&lang, "quarantine.still", &[("reason", reason)]);
            let html = message_page(store, templates, &me, id, None, Some(error)).await?;
            Ok(Submitted::Invalid(html))
        }
    }
}

/// Delete a quarantined or refused message (junk that will never be a
/// ticket). Filed messages cannot be deleted here.
#[post("/quarantine/<id>/delete")]
async fn delete(store: &State<Store>, me: AdminSession, id: i64) -> Result<Redirect, WebError> {
    let id = RawMessageId(id);
    let who = actor(&me);
    let deleted = super::in_tx(store, move |tx| {
        let Some(info) = store::raw_messages::delete_unfiled(tx, id)? else {
            return Ok(None);
        };
        let record = json!({
            "raw_message": id.0,
            "status": info.status.as_str(),
            "message_id": info.message_id,
            "reason": info.error,
            "size": info.size,
        });
        store::audit::record(tx, &who, "config.quarantine_deleted", &record)?;
        Ok(Some(info.status))
    })
    .await?;
    match deleted {
        None => Err(WebError::NotFound),
        Some(RawStatus::Rejected) => {
            Ok(Redirect::to("/admin/quarantine?rejected=true&done=deleted"))
        }
        Some(_) => Ok(Redirect::to("/admin/quarantine?done=deleted")),
    }
}
