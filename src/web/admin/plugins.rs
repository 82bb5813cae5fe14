//! The admin page listing plugins with their state, last error and queue,
//! and the latest deliveries.

use rocket::response::content::RawHtml;
use rocket::{get, routes, Route, State};

use crate::config::Config;
use crate::plugin::{self, Registry};
use crate::store::{self, Store};
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, WebError};

pub fn routes() -> Vec<Route> {
    routes![index]
}

#[get("/plugins")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    config: &State<Config>,
    plugins: plugin::Plugins,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let (states, jobs) = db(store, |c| {
        Ok((
            store::plugins::states(c)?,
            store::plugins::list_jobs(c, None, None, 50)?,
        ))
    })
    .await?;
    let rows = match &plugins.0 {
        Some(registry) => plugin::overview_of(registry, &states),
        // A server built without the running registry: list what the
        // configuration asks for, as `oxidesk plugins` does.
        None => plugin::overview_of(&Registry::from_config(config, None), &states),
    };
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("plugins", &rows);
    ctx.insert("jobs", &jobs);
    render(templates, "admin/plugins.html", &ctx)
}
