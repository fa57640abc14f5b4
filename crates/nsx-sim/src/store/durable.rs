//! The redb mirror of the in-memory tables: one redb table of `(table, key) -> JSON bytes`.
//! Commits use redb's default `Durability::Immediate`, so a commit that returned is on disk.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;

use super::StoreError;

const DOCUMENTS: TableDefinition<'static, (&str, &str), &[u8]> = TableDefinition::new("documents");

pub(super) struct DurableStore {
    db: Database,
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(e.into())
}

impl DurableStore {
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(db_err)?;
        // Make sure the table exists so that the first read of an empty database works.
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(DOCUMENTS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    pub(super) fn load_all(&self) -> Result<Vec<(String, String, Value)>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(DOCUMENTS).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(db_err)? {
            let (key, value) = entry.map_err(db_err)?;
            let (t, k) = key.value();
            let doc =
                serde_json::from_slice(value.value()).map_err(|source| StoreError::Decode {
                    table: t.to_owned(),
                    key: k.to_owned(),
                    source,
                })?;
            out.push((t.to_owned(), k.to_owned(), doc));
        }
        Ok(out)
    }

    /// Writes every change in one durable transaction: `Some` stores, `None` removes.
    pub(super) fn commit(
        &self,
        changes: &[(&str, &str, Option<&Value>)],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(DOCUMENTS).map_err(db_err)?;
            for (t, k, value) in changes {
                match value {
                    Some(doc) => {
                        let bytes =
                            serde_json::to_vec(doc).map_err(|source| StoreError::Decode {
                                table: (*t).to_owned(),
                                key: (*k).to_owned(),
                                source,
                            })?;
                        table.insert((*t, *k), bytes.as_slice()).map_err(db_err)?;
                    }
                    None => {
                        table.remove((*t, *k)).map_err(db_err)?;
                    }
                }
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(())
    }
}
