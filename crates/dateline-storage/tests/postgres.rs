//! The storage contract against PostgreSQL, each test on a database of its own in the cluster
//! that `DATELINE_TEST_POSTGRES` names (`scripts/test` starts one).
#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod contract;

use std::sync::Arc;

use dateline_storage::{PgStore, Store};

async fn postgres() -> (Arc<dyn Store>, ()) {
    let url = dateline_storage::fresh_postgres_database().await.unwrap();
    (Arc::new(PgStore::connect(&url).await.unwrap()), ())
}

contract_tests!(postgres);
