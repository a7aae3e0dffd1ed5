//! [`Projector`]: follows the event feed into the read model.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iam_eventlog::{EventEnvelope, EventFeed};
use tokio::sync::watch;

use crate::error::ReadModelError;
use crate::postgres::PgReadModel;
use crate::sqlite::{Applied, SqliteReadModel};

/// A read model a [`Projector`] can follow the feed into: SQLite or PostgreSQL.
#[async_trait]
pub trait ReadModelSink: Clone + Send + Sync + 'static {
    /// The feed position projected so far.
    async fn checkpoint(&self) -> Result<u64, ReadModelError>;
    /// Applies a batch and its checkpoint in one transaction.
    async fn apply(&self, batch: &[(u64, EventEnvelope)]) -> Result<Applied, ReadModelError>;
}

#[async_trait]
impl ReadModelSink for SqliteReadModel {
    async fn checkpoint(&self) -> Result<u64, ReadModelError> {
        SqliteReadModel::checkpoint(self).await
    }
    async fn apply(&self, batch: &[(u64, EventEnvelope)]) -> Result<Applied, ReadModelError> {
        SqliteReadModel::apply(self, batch).await
    }
}

#[async_trait]
impl ReadModelSink for PgReadModel {
    async fn checkpoint(&self) -> Result<u64, ReadModelError> {
        PgReadModel::checkpoint(self).await
    }
    async fn apply(&self, batch: &[(u64, EventEnvelope)]) -> Result<Applied, ReadModelError> {
        PgReadModel::apply(self, batch).await
    }
}

/// How many events one transaction applies at most.
const BATCH: u32 = 500;
/// How long to wait for new events before polling again (appends by other processes are only
/// noticed on this tick).
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// Follows the feed from the read model's checkpoint, batch by batch.
#[derive(Clone)]
pub struct Projector<M = SqliteReadModel> {
    feed: Arc<dyn EventFeed>,
    model: M,
    checkpoint: Arc<watch::Sender<u64>>,
}

impl<M: ReadModelSink> Projector<M> {
    /// A projector from `feed` into `model`.
    ///
    /// # Errors
    /// A database failure reading the checkpoint.
    pub async fn new(feed: Arc<dyn EventFeed>, model: M) -> Result<Self, ReadModelError> {
        let start = model.checkpoint().await?;
        Ok(Projector {
            feed,
            model,
            checkpoint: Arc::new(watch::channel(start).0),
        })
    }

    /// The read model it writes.
    #[must_use]
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The checkpoint as it advances: wait on it to read the model at least as fresh as a
    /// position.
    #[must_use]
    pub fn checkpoints(&self) -> watch::Receiver<u64> {
        self.checkpoint.subscribe()
    }

    /// Applies everything the feed holds now; returns the checkpoint reached.
    ///
    /// # Errors
    /// A feed or database failure; what was committed before it stays committed.
    pub async fn catch_up(&self) -> Result<u64, ReadModelError> {
        let mut position = self.model.checkpoint().await?;
        loop {
            let batch = self.feed.read_from(position, BATCH).await?;
            if batch.is_empty() {
                return Ok(position);
            }
            let applied = self.model.apply(&batch).await?;
            position = applied.checkpoint;
            self.checkpoint.send_replace(position);
        }
    }

    /// Follows the feed until `shutdown` resolves. Failures are logged and retried with backoff:
    /// the checkpoint only moves with committed batches, so nothing is skipped.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            let step = async {
                let position = self.catch_up().await?;
                self.feed.wait_for(position, IDLE_WAIT).await?;
                Ok::<(), ReadModelError>(())
            };
            tokio::select! {
                () = &mut shutdown => return,
                result = step => match result {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(error) => {
                        tracing::warn!(%error, "read model projector failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                },
            }
        }
    }
}
