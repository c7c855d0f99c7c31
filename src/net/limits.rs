//! Per-host limits on outbound requests (CIMD-12): a cap on concurrent requests and a
//! request rate, so one slow or hostile host can neither tie up the server nor be
//! hammered by it.
//!
//! Both maps are keyed by host name as the URL gives it (lower-cased by `url`) and
//! stay bounded: idle semaphores are dropped as their last permit is released, and
//! rate-limiter state of hosts not seen lately is pruned.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Above this many tracked hosts, rate-limiter state of quiet hosts is pruned.
const PRUNE_ABOVE_HOSTS: usize = 10_000;

/// Concurrency and rate limits shared by every request of one `OutboundClient`.
pub(crate) struct HostLimits {
    per_host: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    rate: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for HostLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostLimits")
            .field("per_host", &self.per_host)
            .finish_non_exhaustive()
    }
}

/// A held concurrency slot for one host; released on drop.
pub(crate) struct HostPermit<'a> {
    limits: &'a HostLimits,
    host: String,
    semaphore: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl HostLimits {
    /// `per_host` concurrent requests and `per_minute` requests a minute (as a burst,
    /// refilled evenly) for each host.
    pub(crate) fn new(per_host: NonZeroU32, per_minute: NonZeroU32) -> Self {
        Self {
            per_host: usize::try_from(per_host.get()).unwrap_or(usize::MAX),
            slots: Mutex::new(HashMap::new()),
            rate: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// Counts one request to `host`; false when the host's rate is used up.
    pub(crate) fn allow_request(&self, host: &str) -> bool {
        if self.rate.len() > PRUNE_ABOVE_HOSTS {
            self.rate.retain_recent();
        }
        self.rate.check_key(&host.to_owned()).is_ok()
    }

    /// Waits for a free slot for `host`.
    pub(crate) async fn acquire(&self, host: &str) -> HostPermit<'_> {
        let semaphore = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                slots
                    .entry(host.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
            )
        };
        // The semaphore is never closed, so acquiring fails never; hold no slot if it did.
        let permit = Arc::clone(&semaphore).acquire_owned().await.ok();
        HostPermit {
            limits: self,
            host: host.to_owned(),
            semaphore,
            permit,
        }
    }
}

impl Drop for HostPermit<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut slots = self
            .limits
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Clones are taken under this lock, so two owners (the map and this permit)
        // means nobody holds or waits for the host: forget it.
        if Arc::strong_count(&self.semaphore) == 2 {
            slots.remove(&self.host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_host: u32, per_minute: u32) -> HostLimits {
        HostLimits::new(
            NonZeroU32::new(per_host).unwrap(),
            NonZeroU32::new(per_minute).unwrap(),
        )
    }

    #[test]
    fn cimd_12_rate_is_per_host() {
        let limits = limits(4, 2);
        assert!(limits.allow_request("a.example"));
        assert!(limits.allow_request("a.example"));
        assert!(!limits.allow_request("a.example"));
        assert!(limits.allow_request("b.example"));
    }

    #[tokio::test]
    async fn cimd_12_concurrency_is_per_host_and_idle_hosts_are_forgotten() {
        let limits = limits(2, 100);
        let first = limits.acquire("a.example").await;
        let second = limits.acquire("a.example").await;
        let other = limits.acquire("b.example").await;
        let third = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            limits.acquire("a.example"),
        )
        .await;
        assert!(third.is_err(), "a third slot for a.example must wait");
        drop(first);
        let third = limits.acquire("a.example").await;
        drop((second, third, other));
        assert!(limits.slots.lock().unwrap().is_empty());
    }
}
