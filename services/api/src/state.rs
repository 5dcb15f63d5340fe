//! The state every handler can reach.

use pinchwork_common::{bus::Bus, market::Market};
use tokio_util::sync::CancellationToken;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub market: Market,
    /// NATS: `wait` subscribes to task events through it.
    pub bus: Bus,
    /// Cancelled at shutdown: `wait` long-polls then answer at once, so the
    /// graceful shutdown does not sit out their timeouts.
    pub shutdown: CancellationToken,
    /// Rate-limit hits this node leased from the shared counters.
    pub leases: std::sync::Arc<crate::rate_limit::Leases>,
}
