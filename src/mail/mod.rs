//! Mail in both directions. `parse` turns raw bytes into an [`parse::Inbound`]
//! and knows nothing of tickets or SQL; `send` owns outbound delivery.

pub mod parse;
pub mod quote;
pub mod send;
