//! The error type of every marketplace operation; the api maps each variant to
//! an HTTP status and an `{"error": ...}` body.

/// Convenience alias for results of marketplace operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the input is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing or unknown credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 402: not enough credits for the escrow.
    #[error("{0}")]
    PaymentRequired(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// 409: the state does not allow the transition.
    #[error("{0}")]
    Conflict(String),
    /// 408: the client did not send its request body in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 413: the body is larger than any valid request.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 431: the request's headers are larger than any valid request's.
    #[error("{0}")]
    HeadersTooLarge(String),
    /// 429: a limit or cooldown applies.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// 501: the feature is not configured on this deployment.
    #[error("{0}")]
    NotImplemented(String),
    /// 503: a dependency (database, broker) is unreachable.
    #[error("service temporarily unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; details are logged, not returned.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    /// The standard 404 for a task the caller may not see.
    pub fn task_not_found() -> Self {
        Self::NotFound("Task not found".into())
    }
    /// The standard 403 for acting on someone else's task.
    pub fn not_your_task() -> Self {
        Self::Forbidden("Not your task".into())
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::Unavailable("database unreachable".into())
            }
            sqlx::Error::Database(db) if is_connection_loss(db.code().as_deref()) => {
                Self::Unavailable("database unavailable".into())
            }
            _ => Self::Internal(err.into()),
        }
    }
}

/// SQLSTATE classes that mean the server went away or is shutting down.
fn is_connection_loss(code: Option<&str>) -> bool {
    matches!(code, Some(c) if c.starts_with("08") || c.starts_with("57P"))
}

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}
