//! Runs the shared event-store and event-feed conformance suites against the in-memory adapter.

use std::sync::Arc;

use iam_eventlog::conformance::{FeedUnderTest, StoreUnderTest};
use iam_eventlog::MemoryEventStore;

async fn memory_store() -> StoreUnderTest {
    StoreUnderTest::new(Arc::new(MemoryEventStore::new()))
}

async fn memory_feed() -> FeedUnderTest {
    FeedUnderTest::shared(Arc::new(MemoryEventStore::new()))
}

iam_eventlog::event_store_conformance_tests!(memory_store);
iam_eventlog::event_feed_conformance_tests!(memory_feed, exactly_once);
