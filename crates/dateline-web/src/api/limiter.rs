//! Login attempts, limited per account and per client address, so that a password cannot be
//! guessed faster than a few times an hour, nor many accounts tried from one address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins counted over this window.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures an account may have in the window before its logins are refused.
const PER_ACCOUNT: usize = 5;
/// Failures one address may have in the window.
const PER_ADDRESS: usize = 20;
/// The most keys held; the oldest go first, so that a flood of names cannot fill memory.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// `Err(seconds)` to wait when the account or the address has failed too often lately.
    pub fn check(&self, username: &str, addr: Option<IpAddr>) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut wait = None;
        for (key, limit) in keys(username, addr) {
            if let Some(times) = map.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let until = times
                        .front()
                        .map_or(WINDOW, |t| WINDOW.saturating_sub(now.duration_since(*t)));
                    wait = Some(wait.unwrap_or(0).max(until.as_secs().max(1)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    /// Counts an attempt as failed, before the password is checked: many attempts at once
    /// cannot slip past the count while their checks run. [`LoginLimiter::succeeded`] takes it
    /// back.
    pub fn attempt(&self, username: &str, addr: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_KEYS {
            let now = Instant::now();
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) <= WINDOW)
            });
            // Still full of live counts: forget the quietest half, never the busy ones.
            if map.len() >= MAX_KEYS {
                let mut by_last: Vec<(Instant, String)> = map
                    .iter()
                    .filter_map(|(k, t)| t.back().map(|last| (*last, k.clone())))
                    .collect();
                by_last.sort();
                for (_, key) in by_last.into_iter().take(MAX_KEYS / 2) {
                    map.remove(&key);
                }
            }
        }
        for (key, _) in keys(username, addr) {
            map.entry(key).or_default().push_back(Instant::now());
        }
    }

    /// Takes back the attempt of a login that succeeded, and forgets the account's failures.
    pub fn succeeded(&self, username: &str, addr: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("account:{username}"));
        if let Some(addr) = addr {
            if let Some(times) = map.get_mut(&format!("address:{addr}")) {
                times.pop_back();
            }
        }
    }
}

fn keys(username: &str, addr: Option<IpAddr>) -> Vec<(String, usize)> {
    let mut keys = vec![(format!("account:{username}"), PER_ACCOUNT)];
    if let Some(addr) = addr {
        keys.push((format!("address:{addr}"), PER_ADDRESS));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_addresses_are_held_to_their_limits() {
        let limiter = LoginLimiter::default();
        let here: IpAddr = "127.0.0.9".parse().unwrap_or(IpAddr::from([127, 0, 0, 9]));
        for _ in 0..PER_ACCOUNT {
            assert!(limiter.check("mara", Some(here)).is_ok());
            limiter.attempt("mara", Some(here));
        }
        assert!(limiter.check("mara", None).is_err());
        assert!(limiter.check("li", None).is_ok());
        for i in 0..PER_ADDRESS {
            limiter.attempt(&format!("guess{i}"), Some(here));
        }
        assert!(
            limiter.check("li", Some(here)).is_err(),
            "the address is held"
        );
        assert!(limiter.check("li", None).is_ok());
    }
}
