//! What can go wrong in a command, and the exit code each failure maps to.

use std::process::ExitCode;

/// A failure the CLI reports as `error: <message>` with a distinct exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or the local set-up is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// No API key could be resolved (exit 3).
    #[error("{0}")]
    NoKey(String),
    /// The API answered with an error status.
    #[error("{message} (HTTP {status})")]
    Api {
        /// HTTP status code.
        status: u16,
        /// The `error` field of the body, or a description of the body.
        message: String,
    },
    /// The API could not be reached or the connection broke (exit 6).
    #[error("cannot reach {url}: {reason}")]
    Network {
        /// Base URL of the API.
        url: String,
        /// What failed.
        reason: String,
    },
    /// A local file could not be read or written (exit 1).
    #[error("{0}")]
    Local(String),
}

impl CliError {
    /// The process exit code: 2 usage, 3 auth, 4 not found, 5 other client
    /// errors (conflict, insufficient credits, rate limit …), 6 server or network.
    pub fn exit_code(&self) -> ExitCode {
        let code = match self {
            Self::Usage(_) => 2,
            Self::NoKey(_) => 3,
            Self::Api { status, .. } => match status {
                401 | 403 => 3,
                404 => 4,
                400..=499 => 5,
                _ => 6,
            },
            Self::Network { .. } => 6,
            Self::Local(_) => 1,
        };
        ExitCode::from(code)
    }
}
