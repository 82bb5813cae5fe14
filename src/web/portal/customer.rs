//! What a portal visitor may see: a signed-in customer (own cookie, apart
//! from staff sessions) and/or the holder of access grants for single
//! tickets (signed access links, kept in an HttpOnly cookie after the link
//! was opened). The scope they make goes into every portal query.

use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::request::{FromRequest, Outcome};
use rocket::Request;

use crate::config::Config;
use crate::model::{CustomerId, TicketId};
use crate::store::portal_tickets::PortalScope;
use crate::store::Store;
use crate::tickets::links;

/// The signed-in customer's session token.
pub const CUSTOMER_COOKIE: &str = "oxd_customer";
/// Access links opened in this browser, `|`-separated; each grants one
/// ticket until it expires.
pub const GRANT_COOKIE: &str = "oxd_grants";
/// Grants kept per browser (the newest).
const MAX_GRANTS: usize = 8;

/// A signed-in, verified customer.
#[derive(Debug, Clone)]
pub struct CustomerSession {
    pub session_id: i64,
    pub customer_id: CustomerId,
    pub name: String,
    pub email: String,
    pub locale: Option<String>,
}

async fn load_customer(req: &Request<'_>) -> Option<CustomerSession> {
    let token = req.cookies().get(CUSTOMER_COOKIE)?.value().to_string();
    let store = req.rocket().state::<Store>()?.clone();
    let found =
        rocket::tokio::task::spawn_blocking(move || crate::accounts::session(&store, &token)).await;
    match found {
        Ok(Ok(Some(s))) => Some(CustomerSession {
            session_id: s.session_id,
            customer_id: s.customer_id,
            name: s.name,
            email: s.email,
            locale: s.locale,
        }),
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "loading a portal session failed");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "a portal session task failed");
            None
        }
    }
}

/// Handlers take `Option<CustomerSession>`: a missing session is not an
/// error on the portal, the page says what to do instead.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for CustomerSession {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let cached = req
            .local_cache_async(async { load_customer(req).await })
            .await;
        match cached {
            Some(s) => Outcome::Success(s.clone()),
            None => Outcome::Forward(rocket::http::Status::Unauthorized),
        }
    }
}

/// What a portal visitor may see: maybe a signed-in customer's tickets,
/// maybe single tickets granted by access links.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub customer: Option<CustomerSession>,
    /// Tickets granted by valid (signed, unexpired) access links.
    pub grants: Vec<TicketId>,
}

impl Access {
    pub fn scope(&self) -> PortalScope {
        PortalScope {
            customer: self.customer.as_ref().map(|c| c.customer_id),
            granted: self.grants.clone(),
        }
    }
}

/// The grant tokens in the cookie, as stored.
fn grant_tokens(jar: &CookieJar<'_>) -> Vec<String> {
    jar.get(GRANT_COOKIE)
        .map(|c| {
            c.value()
                .split('|')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The signing secret (configuration or settings).
pub fn secret(store: &Store, config: &Config) -> Result<Vec<u8>, crate::store::StoreError> {
    let conn = store.conn()?;
    links::secret(&conn, &config.server.secret)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Access {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let customer = match CustomerSession::from_request(req).await {
            Outcome::Success(c) => Some(c),
            _ => None,
        };
        let tokens = grant_tokens(req.cookies());
        let mut grants = Vec::new();
        if !tokens.is_empty() {
            if let (Some(store), Some(config)) = (
                req.rocket().state::<Store>(),
                req.rocket().state::<Config>(),
            ) {
                let (store, config) = (store.clone(), config.clone());
                let secret =
                    rocket::tokio::task::spawn_blocking(move || secret(&store, &config)).await;
                if let Ok(Ok(secret)) = secret {
                    let now = crate::store::now();
                    grants = tokens
                        .iter()
                        .filter_map(|t| links::verify(&secret, t, now).ok())
                        .map(|c| c.ticket)
                        .collect();
                }
            }
        }
        Outcome::Success(Access { customer, grants })
    }
}

/// Keep `token` (a checked access link) in the grant cookie, newest first,
/// dropping expired or surplus grants.
pub fn add_grant(jar: &CookieJar<'_>, secret: &[u8], token: &str, https: bool) {
    let now = crate::store::now();
    let mut kept = vec![token.to_string()];
    for t in grant_tokens(jar) {
        if kept.len() >= MAX_GRANTS {
            break;
        }
        if t != token && links::verify(secret, &t, now).is_ok() {
            kept.push(t);
        }
    }
    jar.add(
        Cookie::build((GRANT_COOKIE, kept.join("|")))
            .path("/portal")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(https)
            .max_age(rocket::time::Duration::days(30))
            .build(),
    );
}

pub fn customer_cookie(token: String, https: bool) -> Cookie<'static> {
    Cookie::build((CUSTOMER_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(rocket::time::Duration::seconds(
            crate::accounts::SESSION_LIFETIME,
        ))
        .build()
}
