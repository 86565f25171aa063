//! The scheduler: publishes each scheduled article at its second, with no reader needed, and at
//! start-up those whose time passed while the server was down. Firing is one conditional update
//! in storage, so an article is published once however many nodes race for it.

use std::sync::Arc;
use std::time::Duration;

use dateline_storage::Store;
use jiff::Timestamp;
use tokio::sync::Notify;

/// How often storage is asked anyway, for schedules another node set.
const POLL: Duration = Duration::from_secs(1);

/// Runs until the task is dropped.
pub async fn run(store: Arc<dyn Store>, wake: Arc<Notify>) {
    loop {
        // Reading the next time costs no write lock; only a due schedule takes one.
        let wait = match store.next_schedule().await {
            Ok(Some(next)) if next <= Timestamp::now() => {
                if let Err(e) = store.fire_schedules(Timestamp::now()).await {
                    tracing::warn!(error = %e, "could not publish what was scheduled; trying again");
                }
                Duration::from_millis(50)
            }
            Ok(Some(next)) => {
                let until = next.duration_since(Timestamp::now());
                // Never a busy loop: a schedule due this instant is fired on the next turn.
                Duration::try_from(until)
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(50), POLL)
            }
            Ok(None) => POLL,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the next schedule");
                POLL
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
