//! The ticket domain: every change to a ticket goes through a function here,
//! whoever calls it (mail pipe, HTTP intake, portal, staff UI, plugins).
pub mod events;
pub mod spam;
