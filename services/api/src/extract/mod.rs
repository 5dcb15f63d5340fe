//! Request extractors: who is calling, and query strings with 400s instead of 422s.

mod auth;
mod query;

pub use auth::{Admin, Authenticated, CurrentAgent};
pub use query::{Page, Query};
