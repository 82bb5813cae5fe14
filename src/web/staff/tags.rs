//! Tagging a ticket from its page: add one or more tags (comma-separated)
//! or remove one. The change goes through the ticket domain, which records
//! a `tags_changed` event.

use rocket::form::Form;
use rocket::response::Redirect;
use rocket::{post, routes, FromForm, Route, State};

use super::ticket::permitted;
use crate::store::Store;
use crate::tickets::permissions::Permission;
use crate::tickets::tags;
use crate::web::auth::StaffSession;
use crate::web::{domain, WebError};

pub fn routes() -> Vec<Route> {
    routes![change]
}

#[derive(FromForm)]
pub struct TagForm {
    /// Tags to add, separated by commas.
    add: Option<String>,
    /// One tag to remove.
    remove: Option<String>,
}

/// Split the "add" field into tags: commas (Latin, Arabic and ideographic)
/// separate them.
pub fn split_tags(text: &str) -> Vec<String> {
    text.split([',', '،', '、', '，'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[post("/tickets/<id>/tags", data = "<form>")]
async fn change(
    store: &State<Store>,
    me: StaffSession,
    id: i64,
    form: Form<TagForm>,
) -> Result<Redirect, WebError> {
    let head = permitted(store, &me, id, Permission::Edit).await?;
    let (tid, actor) = (head.row.id, me.actor());
    let add = form.add.as_deref().map(split_tags).unwrap_or_default();
    let remove: Vec<String> = form.remove.iter().cloned().collect();
    domain(store, move |s| {
        tags::change_tags(s, &actor, tid, &add, &remove)
    })
    .await?;
    Ok(Redirect::to(format!("/tickets/{}#tags", tid.0)))
}

#[cfg(test)]
mod tests {
    use super::split_tags;

    #[test]
    fn tags_split_on_latin_and_arabic_commas() {
        assert_eq!(split_tags("billing, vip ,,"), vec!["billing", "vip"]);
        assert_eq!(split_tags("صورتحساب، فوری"), vec!["صورتحساب", "فوری"]);
    }
}
