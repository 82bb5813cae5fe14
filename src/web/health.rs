//! `GET /healthz`: is the database reachable and the schema current.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;

use crate::store::{self, Store};

#[rocket::get("/healthz")]
pub async fn healthz(store: &State<Store>) -> (Status, Json<serde_json::Value>) {
    match super::read(store, |c| store::healthz::check(c)).await {
        Ok(h) => (
            Status::Ok,
            Json(serde_json::to_value(h).unwrap_or(serde_json::Value::Null)),
        ),
        Err(e) => {
            tracing::error!(error = ?e, "health check failed");
            (
                Status::ServiceUnavailable,
                Json(serde_json::json!({ "database": "unreachable" })),
            )
        }
    }
}
