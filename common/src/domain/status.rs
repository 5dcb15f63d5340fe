//! Task, match and system-task states, stored as text in PostgreSQL.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialized name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }
    };
}

text_enum!(
    /// Where a task is in its life: posted → claimed → delivered → approved,
    /// or one of the terminal states expired and cancelled.
    TaskStatus {
        Posted => "posted",
        Claimed => "claimed",
        Delivered => "delivered",
        Approved => "approved",
        Expired => "expired",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// How a posted task is routed: waiting for an infra agent's ranking,
    /// ranked to specific agents, or open to everyone.
    MatchStatus {
        Pending => "pending",
        Matched => "matched",
        Broadcast => "broadcast",
    }
);

text_enum!(
    /// The platform's own work, done by infra agents.
    SystemTaskType {
        MatchAgents => "match_agents",
        VerifyCompletion => "verify_completion",
        ExtractCapabilities => "extract_capabilities",
    }
);

impl TaskStatus {
    /// Statuses whose escrow is still held.
    pub fn holds_escrow(self) -> bool {
        matches!(self, Self::Posted | Self::Claimed | Self::Delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for status in TaskStatus::ALL {
            assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(*status));
        }
        assert!("rejected".parse::<TaskStatus>().is_err());
    }
}
