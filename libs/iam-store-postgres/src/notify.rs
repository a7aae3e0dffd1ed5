//! Append notifications: each append runs `pg_notify(<channel>, <its last position>)` in its
//! transaction, so PostgreSQL delivers it at commit to every listening connection, in any
//! process. A store starts one listener connection the first time `wait_for` is called and
//! publishes the highest position it heard of in a watch channel.
//!
//! Notifications are hints, never trusted as the truth: PostgreSQL drops those sent while a
//! listener is reconnecting, so `wait_for` re-reads the position from the database when woken
//! and when its timeout ends (see `store.rs`).

use std::sync::Arc;
use std::time::Duration;

use iam_eventlog::StoreError;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::errors::backend;

/// The channel appends notify on: one per schema, so logs sharing a database do not wake each
/// other's followers.
pub(crate) fn channel(schema: Option<&str>) -> String {
    match schema {
        Some(schema) => format!("gatehouse_events.{schema}"),
        None => "gatehouse_events".to_owned(),
    }
}

/// The listening task; stopped when the store's last handle drops it.
#[derive(Debug)]
pub(crate) struct Listener {
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Connects, starts listening on `channel` and only then returns, so that no commit after
    /// this returns goes unheard. `heard` is raised to every notified position; a lost and
    /// re-established connection marks it changed without a new value, so that waiters look at
    /// the database again.
    pub(crate) async fn start(
        options: PgConnectOptions,
        channel: &str,
        heard: Arc<watch::Sender<u64>>,
    ) -> Result<Self, StoreError> {
        // A pool of one, outside the store's pool: the listener holds its connection for good,
        // and the pool re-establishes it after a failure.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options);
        let mut listener = PgListener::connect_with(&pool)
            .await
            .map_err(|e| backend("connecting the notification listener", &e))?;
        listener.ignore_pool_close_event(true);
        listener
            .listen(channel)
            .await
            .map_err(|e| backend("listening for appends", &e))?;
        let task = tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        let Ok(position) = notification.payload().parse::<u64>() else {
                            tracing::warn!(
                                payload = notification.payload(),
                                "ignoring a malformed append notification"
                            );
                            continue;
                        };
                        heard.send_if_modified(|latest| {
                            let newer = position > *latest;
                            if newer {
                                *latest = position;
                            }
                            newer
                        });
                    }
                    // The connection was lost and re-established (it listens again):
                    // notifications in between are gone, so wake every waiter to look.
                    Ok(None) => {
                        tracing::warn!("the append notification listener reconnected");
                        heard.send_modify(|_| {});
                    }
                    Err(error) => {
                        // Cannot reconnect now: waiters fall back to their timeouts.
                        tracing::warn!(%error, "the append notification listener failed; retrying");
                        heard.send_modify(|_| {});
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Self { task })
    }
}
