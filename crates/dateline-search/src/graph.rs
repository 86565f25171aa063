//! The nearest-neighbour graph: each article's neighbour list, kept on disk beside the index
//! (`neighbours.redb`), so that ranking an article's related stories reads some thirty lists
//! instead of running a more-like-this query for each. Like the index, it is derived from the
//! articles and can be rebuilt at any time; a list that is missing is read from the index and
//! kept.
//!
//! Lists are written without waiting for the disk, and made durable with the index's next
//! commit: after a crash the graph is as it was at a commit, and what it lost is read again.

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTableMetadata, TableDefinition};

use crate::SearchError;

/// Article id to when its list was read (unix seconds, little-endian i64), then its neighbours:
/// (id, score) pairs, best first, as little-endian i64 and f32.
const LISTS: TableDefinition<i64, &[u8]> = TableDefinition::new("neighbours.v2");
/// The bytes one neighbour takes.
const ENTRY: usize = 12;
/// The memory the graph's database keeps of its pages (redb would keep up to a gigabyte): a
/// list not in it is read from the file, which the system's page cache holds.
const CACHE: usize = 32 << 20;

pub(crate) struct Graph {
    db: Database,
}

impl From<redb::Error> for SearchError {
    fn from(e: redb::Error) -> SearchError {
        SearchError::Graph(e.to_string())
    }
}

macro_rules! graph_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for SearchError {
            fn from(e: $t) -> SearchError {
                SearchError::Graph(e.to_string())
            }
        }
    )*};
}
graph_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// A kept list: when it was read (unix seconds), and the list.
pub(crate) type Kept = (i64, Vec<(i64, f32)>);

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn encode(list: &[(i64, f32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + list.len() * ENTRY);
    out.extend_from_slice(&now_secs().to_le_bytes());
    for (id, score) in list {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&score.to_le_bytes());
    }
    out
}

fn decode(bytes: &[u8]) -> Kept {
    let (at, bytes) = bytes.split_at(8.min(bytes.len()));
    let mut when = [0u8; 8];
    when[..at.len()].copy_from_slice(at);
    let list = bytes
        .chunks_exact(ENTRY)
        .map(|c| {
            let mut id = [0u8; 8];
            let mut score = [0u8; 4];
            id.copy_from_slice(&c[..8]);
            score.copy_from_slice(&c[8..]);
            (i64::from_le_bytes(id), f32::from_le_bytes(score))
        })
        .collect();
    (i64::from_le_bytes(when), list)
}

impl Graph {
    /// Opens the graph in `dir`, making it if it is not there.
    pub(crate) fn open(dir: &Path) -> Result<Graph, SearchError> {
        let path = dir.join("neighbours.redb");
        let create = |path: &Path| Database::builder().set_cache_size(CACHE).create(path);
        let db = match create(&path) {
            Ok(db) => db,
            Err(e @ redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(SearchError::Graph(format!("{}: {e}", path.display())))
            }
            // A graph that cannot be read is derived data: it is made again.
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the neighbour graph cannot be read: it is made again");
                std::fs::remove_file(&path)?;
                create(&path).map_err(|e| SearchError::Graph(format!("{}: {e}", path.display())))?
            }
        };
        Graph::with(db)
    }

    pub(crate) fn in_memory() -> Result<Graph, SearchError> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Graph::with(db)
    }

    fn with(db: Database) -> Result<Graph, SearchError> {
        let tx = db.begin_write()?;
        tx.open_table(LISTS)?;
        tx.commit()?;
        Ok(Graph { db })
    }

    /// The list kept for `id`, with when it was read, if there is one.
    pub(crate) fn get(&self, id: i64) -> Result<Option<Kept>, SearchError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(LISTS)?;
        Ok(table.get(id)?.map(|v| decode(v.value())))
    }

    /// Which of these ids have a list.
    pub(crate) fn has(&self, ids: &[i64]) -> Result<Vec<bool>, SearchError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(LISTS)?;
        ids.iter().map(|id| Ok(table.get(*id)?.is_some())).collect()
    }

    /// Keeps these lists, replacing what was kept for each, in one transaction.
    pub(crate) fn put(&self, lists: &[(i64, Vec<(i64, f32)>)]) -> Result<(), SearchError> {
        if lists.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::None)?;
        {
            let mut table = tx.open_table(LISTS)?;
            for (id, list) in lists {
                table.insert(*id, encode(list).as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets the lists of these articles, in one transaction.
    pub(crate) fn remove(&self, ids: &[i64]) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::None)?;
        {
            let mut table = tx.open_table(LISTS)?;
            for id in ids {
                table.remove(*id)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets every list.
    pub(crate) fn clear(&self) -> Result<(), SearchError> {
        let tx = self.db.begin_write()?;
        tx.delete_table(LISTS)?;
        tx.open_table(LISTS)?;
        tx.commit()?;
        Ok(())
    }

    /// Makes every list written so far durable.
    pub(crate) fn sync(&self) -> Result<(), SearchError> {
        let tx = self.db.begin_write()?;
        tx.commit()?;
        Ok(())
    }

    /// The ids after `after` (in order, at most `limit`) whose lists were read before `older`
    /// (unix seconds), the last id looked at (to go on from), and when the oldest of the other
    /// lists looked at was read (`i64::MAX` for none).
    pub(crate) fn older(
        &self,
        after: i64,
        older: i64,
        limit: usize,
    ) -> Result<(Vec<i64>, Option<i64>, i64), SearchError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(LISTS)?;
        let mut out = Vec::new();
        let mut last = None;
        let mut oldest = i64::MAX;
        for entry in table.range((after.saturating_add(1))..)?.take(limit) {
            let (k, v) = entry?;
            let id = k.value();
            last = Some(id);
            let bytes = v.value();
            if bytes.len() >= 8 {
                let mut when = [0u8; 8];
                when.copy_from_slice(&bytes[..8]);
                let when = i64::from_le_bytes(when);
                if when < older {
                    out.push(id);
                } else {
                    oldest = oldest.min(when);
                }
            }
        }
        Ok((out, last, oldest))
    }

    /// How many lists are kept.
    pub(crate) fn len(&self) -> Result<u64, SearchError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(LISTS)?.len()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_outlive_the_process_and_are_forgotten_on_request() {
        let dir = tempfile::tempdir().unwrap();
        {
            let g = Graph::open(dir.path()).unwrap();
            g.put(&[(1, vec![(2, 3.5), (3, 1.25)]), (2, vec![(1, 2.0)])])
                .unwrap();
            g.remove(&[2]).unwrap();
            g.sync().unwrap();
        }
        let g = Graph::open(dir.path()).unwrap();
        assert_eq!(
            g.get(1).unwrap().map(|k| k.1),
            Some(vec![(2, 3.5), (3, 1.25)])
        );
        let read = g.get(1).unwrap().map(|k| k.0);
        assert_eq!(
            g.older(0, i64::MAX, 10).unwrap(),
            (vec![1], Some(1), i64::MAX)
        );
        assert_eq!(
            Some(g.older(0, 0, 10).unwrap()),
            read.map(|when| (vec![], Some(1), when))
        );
        assert_eq!(g.get(2).unwrap(), None);
        assert_eq!(g.has(&[1, 2]).unwrap(), vec![true, false]);
        g.clear().unwrap();
        assert_eq!(g.len().unwrap(), 0);
    }
}
