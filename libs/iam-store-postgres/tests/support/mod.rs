//! Shared by the integration tests: the database URL (without it a test fails, it does not
//! skip) and a fresh schema per test, dropped when the test ends, so tests run in parallel
//! against one database.
#![allow(dead_code, reason = "each test binary uses a different part")]

use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions, DATABASE_URL_ENV};
use sqlx::{Connection, PgConnection};

/// The URL from the environment; panics (fails the test) if it is unset.
pub fn database_url() -> String {
    match std::env::var(DATABASE_URL_ENV) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{DATABASE_URL_ENV} is not set: this test needs PostgreSQL. Run scripts/distributed-test.sh, \
             or `export {DATABASE_URL_ENV}=\"$(infra/postgres/start.sh | tail -n1)\"` first"
        ),
    }
}

/// A schema of its own for one test; dropped (with everything in it) when this is dropped.
#[derive(Debug)]
pub struct TestSchema {
    pub name: String,
    url: String,
}

impl TestSchema {
    /// Creates `gh_test_<uuid>` in the database of [`database_url`].
    pub async fn create() -> Self {
        let url = database_url();
        let name = format!("gh_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {DATABASE_URL_ENV}: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .expect("create the test schema");
        conn.close().await.expect("close");
        Self { name, url }
    }

    /// Options that put the log in this schema.
    pub fn options(&self) -> PostgresStoreOptions {
        let mut options = PostgresStoreOptions::default();
        options.schema = Some(self.name.clone());
        options
    }

    /// A store (one "replica") on this schema; each call connects a new one.
    pub async fn store(&self) -> PostgresEventStore {
        self.store_with(self.options()).await
    }

    /// A store on this schema with other options (the schema is set here).
    pub async fn store_with(&self, mut options: PostgresStoreOptions) -> PostgresEventStore {
        options.schema = Some(self.name.clone());
        PostgresEventStore::connect(&self.url, options)
            .await
            .expect("connect the store")
    }

    /// A plain connection whose `search_path` is this schema, for looking at the tables.
    pub async fn connection(&self) -> PgConnection {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        sqlx::query(&format!("SET search_path TO {}", self.name))
            .execute(&mut conn)
            .await
            .expect("set search_path");
        conn
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot block on a future: a thread with a
        // runtime of its own does the dropping.
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&url).await.map_err(|e| e.to_string())?;
                sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("warning: could not drop test schema {}: {error}", self.name),
            Err(_) => eprintln!("warning: dropping test schema {} panicked", self.name),
        }
    }
}
