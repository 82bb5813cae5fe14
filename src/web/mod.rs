//! The web server (Rocket): staff UI, portal, admin area and API.
//!
//! Handlers reach shared state through Rocket's managed state:
//! `&State<crate::store::Store>` and `&State<crate::config::Config>`.

pub mod api;
