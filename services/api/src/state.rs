//! The state every handler can reach.

use std::{ops::Deref, sync::Arc};

use pinchwork_common::{bus::Bus, market::Market};
use tokio_util::sync::CancellationToken;

/// What every handler can reach. Every layer and handler of every request
/// takes a clone, so the state is one shared allocation and a clone is one
/// reference count (cloning the parts would copy the NATS client's channels
/// and the cancellation token's handle each time).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`].
pub struct Shared {
    pub market: Market,
    /// NATS: `wait` subscribes to task events through it.
    pub bus: Bus,
    /// Cancelled at shutdown: `wait` long-polls then answer at once, so the
    /// graceful shutdown does not sit out their timeouts.
    pub shutdown: CancellationToken,
    /// Rate-limit hits this node leased from the shared counters.
    pub leases: crate::rate_limit::Leases,
}

impl AppState {
    /// The state of a node serving `market`, with no leased rate-limit hits.
    pub fn new(market: Market, bus: Bus, shutdown: CancellationToken) -> Self {
        Self(Arc::new(Shared {
            market,
            bus,
            shutdown,
            leases: Default::default(),
        }))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
