//! A staff reply's mail to the customer: the ticket view shows whether it
//! is queued, sent or not delivered (with the mail server's answer), and an
//! agent who may reply sends a failed one again from there.

use rocket::response::Redirect;
use rocket::{post, routes, Route, State};

use super::ticket::permitted;
use crate::store::{self, Store};
use crate::tickets::permissions::Permission;
use crate::web::auth::StaffSession;
use crate::web::{db, WebError};

pub fn routes() -> Vec<Route> {
    routes![send_again]
}

/// Queue a reply's failed mail again, due now; the outbox worker sends it
/// at its next look. Mail already sent (or being sent) is never sent twice.
#[post("/tickets/<id>/deliveries/<mail>/retry")]
async fn send_again(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    mail: i64,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Reply).await?;
    let tid = head.row.id;
    let entry = db(store, move |c| {
        // Only this ticket's reply mails: another ticket's mail is not
        // found here, whatever the viewer may see elsewhere.
        let Some(row) = store::outbox::get(c, mail)? else {
            return Ok(None);
        };
        if row.ticket_id != Some(tid) || row.kind != "response" {
            return Ok(None);
        }
        store::outbox::retry(c, mail)?;
        Ok(row.entry_id)
    })
    .await?
    .ok_or(WebError::NotFound)?;
    Ok(Redirect::to(format!("/tickets/{id}#entry-{entry}")))
}
