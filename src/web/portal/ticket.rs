//! The customer's ticket page: landing from an access link, the thread
//! without internal notes, attachment downloads, reply and "close my
//! ticket". Every handler loads the ticket within the visitor's `Access`
//! (signed-in customer or a grant for exactly that ticket); anything else is
//! a 404.

use rocket::form::Form;
use rocket::fs::TempFile;
use rocket::http::{CookieJar, Status};
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Either, FromForm, Route, State};

use super::customer::{self, Access};
use super::validate::{self, Limits};
use super::{portal_page, render, Visitor};
use crate::accounts::{self, LinkProblem};
use crate::config::Config;
use crate::model::{AttachmentId, Status as TicketStatus};
use crate::store::portal_tickets::{self as pt, PortalTicket};
use crate::store::ticket_page::AttachmentMeta;
use crate::store::{settings, Store};
use crate::tickets::{self, events::Actor, Body, NewMessage};
use crate::web::render::{mail_html, Download};
use crate::web::staff::actions::read_uploads;
use crate::web::templates::Templates;
use crate::web::{db, domain, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![show, attachment, reply, close]
}

type Page = (Status, RawHtml<String>);

pub fn ticket_url(number: &str) -> String {
    format!(
        "/portal/tickets/{}",
        percent_encoding::utf8_percent_encode(number, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// The ticket if the visitor may see it.
async fn scoped(store: &Store, access: &Access, number: &str) -> Result<PortalTicket, WebError> {
    let (scope, number) = (access.scope(), number.to_string());
    db(store, move |c| pt::head(c, &scope, &number))
        .await?
        .ok_or(WebError::NotFound)
}

/// How far along the ticket is, for the stage bar: received, being
/// handled, answered, done.
fn stage(t: &PortalTicket) -> usize {
    match TicketStatus::parse(&t.status) {
        Some(TicketStatus::Resolved | TicketStatus::Closed) => 3,
        Some(TicketStatus::Answered) => 2,
        Some(TicketStatus::Pending) => 1,
        _ if t.assignee.is_some() => 1,
        _ => 0,
    }
}

/// What a form post left behind, shown on the page again.
#[derive(Default)]
struct Draft {
    error: Option<String>,
    body: String,
    flash: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)]
async fn page(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    access: &Access,
    plugins: &crate::plugin::Plugins,
    t: PortalTicket,
    draft: Draft,
) -> Result<RawHtml<String>, WebError> {
    let (scope, tid) = (access.scope(), t.id);
    let panels = customer_panels(store, plugins, &t).await?;
    let thread = db(store, move |c| pt::thread(c, &scope, tid)).await?;
    let entries: Vec<serde_json::Value> = thread
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            if let Some(h) = &e.body_html {
                v["html"] = serde_json::Value::String(portal_html(h, &e.attachments));
            }
            let listed: Vec<&AttachmentMeta> = e
                .attachments
                .iter()
                .filter(|a| !(a.inline && e.body_html.is_some() && a.content_id.is_some()))
                .collect();
            v["listed"] = serde_json::to_value(&listed).unwrap_or_default();
            v
        })
        .collect();
    let lang = visitor.lang.clone();
    let status_label = i18n::t(&lang, &format!("account.status.{}", t.status), &[]);
    let handler = match &t.assignee {
        Some(name) => i18n::t(&lang, "account.handled_by", &[("name", name.clone())]),
        None => i18n::t(
            &lang,
            "account.handled_by_team",
            &[("department", t.department.clone())],
        ),
    };
    let done = TicketStatus::parse(&t.status).is_some_and(|s| s.is_done());
    let mut ctx = portal_page(store, visitor, jar, "ticket").await?;
    ctx.insert("stage", &stage(&t));
    ctx.insert("done", &done);
    ctx.insert("status_label", &status_label);
    ctx.insert("handler", &handler);
    ctx.insert("url", &ticket_url(&t.number));
    ctx.insert("t", &t);
    ctx.insert("entries", &entries);
    ctx.insert("error", &draft.error);
    ctx.insert("body", &draft.body);
    ctx.insert("flash", &draft.flash);
    ctx.insert("signed_in", &access.customer.is_some());
    ctx.insert("plugin_panels", &panels);
    render(templates, "portal/ticket.html", &ctx)
}

/// Blocks plugins show the customer beside their ticket (the hosting
/// account, when its `show_to_customers` is on). Each plugin may call out
/// (a billing API): off the async workers, bounded by the registry's
/// deadline; a failing plugin shows nothing or its own note.
async fn customer_panels(
    store: &Store,
    plugins: &crate::plugin::Plugins,
    t: &PortalTicket,
) -> Result<Vec<crate::plugin::Panel>, WebError> {
    let Some(registry) = plugins.0.clone() else {
        return Ok(Vec::new());
    };
    let customer = t.customer_id;
    let email = db(store, move |c| {
        Ok(crate::store::customers::get(c, customer)?
            .emails
            .into_iter()
            .next())
    })
    .await?;
    let Some(email) = email else {
        return Ok(Vec::new());
    };
    let ctx = crate::plugin::PanelContext {
        customer_email: email,
        customer_name: t.customer_name.clone(),
        ticket_number: Some(t.number.clone()),
        viewer: crate::plugin::Viewer::Customer,
    };
    Ok(
        rocket::tokio::task::spawn_blocking(move || registry.ticket_panels(&ctx))
            .await
            .unwrap_or_default(),
    )
}

/// Sanitised mail HTML with inline images pointing at portal downloads.
fn portal_html(html: &str, attachments: &[AttachmentMeta]) -> String {
    let mut html = html.to_string();
    for a in attachments {
        if let Some(cid) = &a.content_id {
            let cid = cid.trim().trim_start_matches('<').trim_end_matches('>');
            if !cid.is_empty() {
                html = html.replace(
                    &format!("cid:{cid}"),
                    &format!("/portal/attachments/{}?inline=true", a.id),
                );
            }
        }
    }
    // No attachment list: mail_html would point cid: at the staff URLs.
    mail_html(&html, &[])
}

/// The page a broken or expired access link leads to, offering a new link.
async fn link_problem(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    number: &str,
    expired: bool,
) -> Result<Page, WebError> {
    let mut ctx = portal_page(store, visitor, jar, "status").await?;
    ctx.insert("number", number);
    ctx.insert("email", "");
    ctx.insert("errors", &serde_json::json!({}));
    ctx.insert("expired", &expired);
    ctx.insert("link_problem", &true);
    let status = if expired {
        Status::Gone
    } else {
        Status::Forbidden
    };
    Ok((status, render(templates, "portal/status.html", &ctx)?))
}

/// A ticket the visitor may not see: 404, with the ways in.
async fn not_found(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    number: &str,
) -> Result<Page, WebError> {
    let mut ctx = portal_page(store, visitor, jar, "status").await?;
    ctx.insert(
        "status_url",
        &format!(
            "/portal/status?number={}",
            percent_encoding::utf8_percent_encode(number, percent_encoding::NON_ALPHANUMERIC)
        ),
    );
    Ok((
        Status::NotFound,
        render(templates, "portal/no_access.html", &ctx)?,
    ))
}

#[allow(clippy::too_many_arguments)]
#[get("/tickets/<number>?<t>&<sent>&<closed>")]
async fn show(
    store: &State<Store>,
    config: &State<Config>,
    templates: &State<Templates>,
    visitor: Visitor,
    access: Access,
    plugins: crate::plugin::Plugins,
    jar: &CookieJar<'_>,
    number: &str,
    t: Option<&str>,
    sent: Option<bool>,
    closed: Option<bool>,
) -> Result<Either<Redirect, Page>, WebError> {
    if let Some(token) = t.filter(|t| !t.is_empty()) {
        let (n, tok, cfg) = (
            number.to_string(),
            token.to_string(),
            config.inner().clone(),
        );
        let checked = db(store, move |c| {
            let r = accounts::check_link(c, &n, &tok);
            let secret = crate::tickets::links::secret(c, &cfg.server.secret)?;
            Ok((r, secret))
        })
        .await?;
        return match checked {
            (Ok(_), secret) => {
                customer::add_grant(jar, &secret, token, visitor.client.https);
                Ok(Either::Left(Redirect::to(ticket_url(number))))
            }
            (Err(LinkProblem::Store(e)), _) => Err(e.into()),
            (Err(p), _) => Ok(Either::Right(
                link_problem(
                    store,
                    templates,
                    &visitor,
                    jar,
                    number,
                    matches!(p, LinkProblem::Expired),
                )
                .await?,
            )),
        };
    }
    let found = {
        let (scope, n) = (access.scope(), number.to_string());
        db(store, move |c| pt::head(c, &scope, &n)).await?
    };
    let Some(ticket) = found else {
        return Ok(Either::Right(
            not_found(store, templates, &visitor, jar, number).await?,
        ));
    };
    let flash = if sent == Some(true) {
        Some("account.reply_sent")
    } else if closed == Some(true) {
        Some("account.closed_done")
    } else {
        None
    };
    let draft = Draft {
        flash,
        ..Draft::default()
    };
    let html = page(
        store, templates, &visitor, jar, &access, &plugins, ticket, draft,
    )
    .await?;
    Ok(Either::Right((Status::Ok, html)))
}

/// An attachment of a message or response on a ticket the visitor may see
/// (never one of an internal note).
#[get("/attachments/<id>?<inline>")]
async fn attachment(
    store: &State<Store>,
    access: Access,
    id: i64,
    inline: Option<bool>,
) -> Result<Download, WebError> {
    let scope = access.scope();
    let (meta, data) = db(store, move |c| pt::attachment(c, &scope, AttachmentId(id)))
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Download {
        meta,
        data,
        inline: inline.unwrap_or(false),
    })
}

#[derive(FromForm)]
struct ReplyForm<'r> {
    body: String,
    attachments: Vec<TempFile<'r>>,
}

/// Who the customer is in the events and the thread.
fn actor(access: &Access, t: &PortalTicket) -> Actor {
    let name = access
        .customer
        .as_ref()
        .filter(|c| c.customer_id == t.customer_id)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| t.customer_name.clone());
    Actor::Customer {
        id: t.customer_id,
        name,
    }
}

/// The portal's upload rules (`attachments.max_files`, `max_file_bytes`,
/// `allowed_types`, as for the new-ticket form): file names are made safe,
/// and what is wrong comes back as a sentence in the visitor's language.
async fn check_uploads(
    store: &Store,
    lang: &str,
    files: &mut [tickets::NewAttachment],
) -> Result<Option<String>, WebError> {
    let limits = db(store, |c| {
        Ok(Limits {
            max_files: settings::get_i64(c, "attachments.max_files", 5)?.max(0) as usize,
            max_file_bytes: settings::get_i64(c, "attachments.max_file_bytes", 10 * 1024 * 1024)?
                .max(0) as u64,
            allowed: Limits::parse_allowed(&settings::get_or(c, "attachments.allowed_types", "")?),
        })
    })
    .await?;
    if files.len() > limits.max_files {
        let n = limits.max_files.to_string();
        return Ok(Some(i18n::t(
            lang,
            "account.error.too_many_files",
            &[("n", n)],
        )));
    }
    for f in files.iter_mut() {
        f.filename = validate::filename(&f.filename);
        let name = f.filename.clone();
        if f.data.len() as u64 > limits.max_file_bytes {
            return Ok(Some(i18n::t(
                lang,
                "account.error.file_too_big",
                &[("name", name)],
            )));
        }
        if !limits.type_allowed(&f.filename, &f.mime_type) {
            return Ok(Some(i18n::t(
                lang,
                "account.error.file_type",
                &[("name", name)],
            )));
        }
    }
    Ok(None)
}

#[post("/tickets/<number>/reply", data = "<form>")]
#[allow(clippy::too_many_arguments)]
async fn reply(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    access: Access,
    plugins: crate::plugin::Plugins,
    jar: &CookieJar<'_>,
    number: &str,
    mut form: Form<ReplyForm<'_>>,
) -> Result<Either<Redirect, Page>, WebError> {
    let t = scoped(store, &access, number).await?;
    let mut files = read_uploads(&mut form.attachments).await?;
    let lang = visitor.lang.clone();
    let mut error = check_uploads(store, &lang, &mut files).await?;
    if error.is_none() && form.body.trim().is_empty() {
        error = Some(i18n::t(&lang, "account.error.reply_empty", &[]));
    }
    if error.is_none() {
        let msg = NewMessage {
            author_email: None,
            author_name: match actor(&access, &t) {
                Actor::Customer { name, .. } => name,
                _ => String::new(),
            },
            body: Body::text(form.body.clone()),
            attachments: files,
            mail: None,
        };
        let (who, tid) = (actor(&access, &t), t.id);
        match domain(store, move |s| tickets::append_message(s, &who, tid, msg)).await {
            Ok(_) => {
                return Ok(Either::Left(Redirect::to(format!(
                    "{}?sent=true",
                    ticket_url(&t.number)
                ))))
            }
            Err(WebError::BadRequest(msg)) => error = Some(msg),
            Err(e) => return Err(e),
        }
    }
    let draft = Draft {
        error,
        body: form.body.clone(),
        flash: None,
    };
    let html = page(store, templates, &visitor, jar, &access, &plugins, t, draft).await?;
    Ok(Either::Right((Status::UnprocessableEntity, html)))
}

/// "Close my ticket": the customer says it is done.
#[post("/tickets/<number>/close")]
async fn close(store: &State<Store>, access: Access, number: &str) -> Result<Redirect, WebError> {
    let t = scoped(store, &access, number).await?;
    let (who, tid) = (actor(&access, &t), t.id);
    domain(store, move |s| {
        tickets::set_status(s, &who, tid, TicketStatus::Closed)
    })
    .await?;
    Ok(Redirect::to(format!(
        "{}?closed=true",
        ticket_url(&t.number)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntryId;

    #[test]
    fn inline_images_point_at_portal_downloads() {
        let atts = vec![AttachmentMeta {
            id: AttachmentId(9),
            entry_id: EntryId(1),
            filename: "logo.png".into(),
            mime_type: "image/png".into(),
            size: 1,
            inline: true,
            content_id: Some("<logo@x>".into()),
        }];
        let out = portal_html(
            "<p>Hi<img src=\"cid:logo@x\"><script>x()</script></p>",
            &atts,
        );
        assert!(out.contains("/portal/attachments/9?inline=true"), "{out}");
        assert!(
            !out.contains("script") && !out.contains("\"/attachments/"),
            "{out}"
        );
    }
}
