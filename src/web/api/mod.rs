//! The HTTP API, mounted at `/api/v1`. Each resource in its own file; this
//! module lists their routes.

pub mod auth;
pub mod mail;

/// Every API route, for `rocket.mount("/api/v1", web::api::routes())`.
pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![mail::receive]
}
