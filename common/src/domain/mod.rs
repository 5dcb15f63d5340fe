//! Types and rules that need no I/O: statuses, events, fee and trust math,
//! input limits.

pub mod events;
pub mod money;
pub mod status;
pub mod trust;
pub mod validate;

pub use events::EventType;
pub use money::Credits;
pub use status::{MatchStatus, SystemTaskType, TaskStatus};
