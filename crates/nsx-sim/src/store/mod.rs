//! The simulator's state: named tables of JSON documents, kept in memory and, when the simulator
//! has a data directory, mirrored into an embedded transactional database (redb).
//!
//! Every area of the simulator (policy intent, identities, and later inventory, registrations and
//! realized state) keeps its objects here, each in its own table (`&str` name) keyed by a string
//! (for the policy tree: the object's policy path). The layer knows nothing about NSX.
//!
//! Reads run against the in-memory tables under a shared lock. A write transaction takes the
//! exclusive lock, applies its changes to the in-memory tables while keeping an undo log, and on
//! success writes every changed key to redb in one durable commit *before* the caller gets its
//! answer. If the closure fails, panics, or the durable commit fails, the undo log restores the
//! tables, so a transaction is all-or-nothing and nothing acknowledged can be lost.

mod durable;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

use durable::DurableStore;

/// Errors of the storage layer itself (not of the NSX API).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database failed.
    #[error("embedded database error: {0}")]
    Database(#[from] redb::Error),
    /// A stored document could not be decoded.
    #[error("stored document {table}/{key} is not valid JSON: {source}")]
    Decode {
        /// Table of the broken document.
        table: String,
        /// Key of the broken document.
        key: String,
        /// Decoder error.
        source: serde_json::Error,
    },
    /// The blocking task running the transaction failed.
    #[error("store task failed: {0}")]
    Task(String),
}

type Table = BTreeMap<String, Value>;

/// All tables, by name.
#[derive(Debug, Default)]
pub struct Tables {
    tables: BTreeMap<String, Table>,
}

impl Tables {
    /// The document at `key` in `table`.
    pub fn get(&self, table: &str, key: &str) -> Option<&Value> {
        self.tables.get(table)?.get(key)
    }

    /// Whether `table` holds `key`.
    pub fn contains(&self, table: &str, key: &str) -> bool {
        self.get(table, key).is_some()
    }

    /// Every `(key, document)` of `table` whose key starts with `prefix`, in key order.
    pub fn scan_prefix<'a>(
        &'a self,
        table: &str,
        prefix: &str,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
        self.scan_from(table, prefix, Bound::Included(prefix.to_owned()))
    }

    /// Every `(key, document)` of `table` whose key starts with `prefix` and is greater than
    /// `after`, in key order.
    pub fn scan_prefix_after<'a>(
        &'a self,
        table: &str,
        prefix: &str,
        after: &str,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
        let lower = if after >= prefix {
            Bound::Excluded(after.to_owned())
        } else {
            Bound::Included(prefix.to_owned())
        };
        self.scan_from(table, prefix, lower)
    }

    fn scan_from<'a>(
        &'a self,
        table: &str,
        prefix: &str,
        lower: Bound<String>,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
        let prefix = prefix.to_owned();
        self.tables.get(table).into_iter().flat_map(move |t| {
            let prefix = prefix.clone();
            t.range::<String, _>((lower.clone(), Bound::Unbounded))
                .take_while(move |(k, _)| k.starts_with(prefix.as_str()))
        })
    }

    /// Every `(key, document)` of `table`.
    pub fn iter<'a>(
        &'a self,
        table: &str,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
        self.tables.get(table).into_iter().flat_map(|t| t.iter())
    }

    /// Number of documents in `table`.
    pub fn len(&self, table: &str) -> usize {
        self.tables.get(table).map_or(0, BTreeMap::len)
    }

    fn set(&mut self, table: &str, key: &str, value: Option<Value>) -> Option<Value> {
        match value {
            Some(v) => self
                .tables
                .entry(table.to_owned())
                .or_default()
                .insert(key.to_owned(), v),
            None => self.tables.get_mut(table)?.remove(key),
        }
    }
}

/// One change made by a transaction: `(table, key)` and the document before it.
type UndoEntry = (String, String, Option<Value>);

/// A write transaction over the tables: reads see its own writes.
pub struct WriteTxn<'a> {
    tables: &'a mut Tables,
    undo: Vec<UndoEntry>,
    touched: BTreeSet<(String, String)>,
}

impl WriteTxn<'_> {
    /// Read access to the tables as the transaction sees them.
    pub fn tables(&self) -> &Tables {
        self.tables
    }

    /// The document at `key` in `table`.
    pub fn get(&self, table: &str, key: &str) -> Option<&Value> {
        self.tables.get(table, key)
    }

    /// Creates or replaces a document.
    pub fn put(&mut self, table: &str, key: &str, value: Value) {
        let old = self.tables.set(table, key, Some(value));
        self.record(table, key, old);
    }

    /// Removes a document; returns it.
    pub fn delete(&mut self, table: &str, key: &str) -> Option<Value> {
        let old = self.tables.set(table, key, None);
        if old.is_some() {
            self.record(table, key, old.clone());
        }
        old
    }

    /// The `(table, key)` pairs this transaction changed so far.
    pub fn touched(&self) -> impl Iterator<Item = (&str, &str)> {
        self.touched.iter().map(|(t, k)| (t.as_str(), k.as_str()))
    }

    /// The document at `(table, key)` as it was before this transaction.
    pub fn original(&self, table: &str, key: &str) -> Option<&Value> {
        match self.undo.iter().find(|(t, k, _)| t == table && k == key) {
            Some((_, _, before)) => before.as_ref(),
            None => self.tables.get(table, key),
        }
    }

    fn record(&mut self, table: &str, key: &str, old: Option<Value>) {
        self.undo.push((table.to_owned(), key.to_owned(), old));
        self.touched.insert((table.to_owned(), key.to_owned()));
    }

    fn rollback(&mut self) {
        while let Some((table, key, old)) = self.undo.pop() {
            self.tables.set(&table, &key, old);
        }
        self.touched.clear();
    }
}

/// Rolls a transaction back unless it was committed (also when the closure panics).
struct RollbackGuard<'a, 'b> {
    txn: &'b mut WriteTxn<'a>,
    committed: bool,
}

impl Drop for RollbackGuard<'_, '_> {
    fn drop(&mut self) {
        if !self.committed {
            self.txn.rollback();
        }
    }
}

struct StoreInner {
    tables: RwLock<Tables>,
    durable: Option<DurableStore>,
    subscribers: parking_lot::Mutex<Vec<tokio::sync::mpsc::UnboundedSender<Arc<CommitNotice>>>>,
}

/// What one committed write transaction changed: every `(table, key)` it touched, in order.
/// Subscribers ([`Store::subscribe`]) receive one notice per commit, in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitNotice {
    /// The `(table, key)` pairs the transaction created, replaced or deleted.
    pub touched: Vec<(String, String)>,
}

/// The state store. Cheap to clone; all clones share the same state.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

/// Tells when every holder of a [`Store`] has let go of it (and so the database file is
/// closed), without keeping it open itself.
pub struct StoreRelease(std::sync::Weak<StoreInner>);

impl StoreRelease {
    /// Whether the store (and its database) has been dropped by every holder.
    pub fn is_released(&self) -> bool {
        self.0.strong_count() == 0
    }
}

impl Store {
    /// A watch on this store's release; see [`StoreRelease`].
    pub fn release_watch(&self) -> StoreRelease {
        StoreRelease(Arc::downgrade(&self.inner))
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("durable", &self.inner.durable.is_some())
            .finish()
    }
}

/// Outcome of a write transaction: the closure's error, or a storage failure.
#[derive(Debug)]
pub enum TxnError<E> {
    /// The closure refused the change; nothing was written.
    Aborted(E),
    /// The change could not be made durable; nothing was written.
    Store(StoreError),
}

impl Store {
    /// A store that lives only in memory.
    pub fn in_memory() -> Self {
        Self {
            inner: Arc::new(StoreInner {
                tables: RwLock::new(Tables::default()),
                durable: None,
                subscribers: parking_lot::Mutex::default(),
            }),
        }
    }

    /// A store backed by the database file `path` (created if missing); loads everything in it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let durable = DurableStore::open(path)?;
        let mut tables = Tables::default();
        for (table, key, value) in durable.load_all()? {
            tables.set(&table, &key, Some(value));
        }
        Ok(Self {
            inner: Arc::new(StoreInner {
                tables: RwLock::new(tables),
                durable: Some(durable),
                subscribers: parking_lot::Mutex::default(),
            }),
        })
    }

    /// Whether writes are persisted.
    pub fn is_durable(&self) -> bool {
        self.inner.durable.is_some()
    }

    /// Runs `f` with shared read access to the tables.
    pub fn read<R>(&self, f: impl FnOnce(&Tables) -> R) -> R {
        f(&self.inner.tables.read())
    }

    /// Runs `f` as one all-or-nothing write transaction; the change is durable when this
    /// returns `Ok`. Blocking: call it from a blocking context (see [`Store::write`]).
    pub fn write_blocking<R, E>(
        &self,
        f: impl FnOnce(&mut WriteTxn<'_>) -> Result<R, E>,
    ) -> Result<R, TxnError<E>> {
        let mut tables = self.inner.tables.write();
        let mut txn = WriteTxn {
            tables: &mut tables,
            undo: Vec::new(),
            touched: BTreeSet::new(),
        };
        let mut guard = RollbackGuard {
            txn: &mut txn,
            committed: false,
        };
        let result = f(guard.txn).map_err(TxnError::Aborted)?;
        if let Some(durable) = &self.inner.durable {
            let changes: Vec<(&str, &str, Option<&Value>)> = guard
                .txn
                .touched
                .iter()
                .map(|(t, k)| (t.as_str(), k.as_str(), guard.txn.tables.get(t, k)))
                .collect();
            durable.commit(&changes).map_err(TxnError::Store)?;
        }
        guard.committed = true;
        self.notify(&guard.txn.touched);
        Ok(result)
    }

    /// Receives a [`CommitNotice`] for every write transaction committed from now on, in
    /// commit order (sent while the write lock is still held, so the order is the commit
    /// order). Dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> tokio::sync::mpsc::UnboundedReceiver<Arc<CommitNotice>> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        self.inner.subscribers.lock().push(sender);
        receiver
    }

    fn notify(&self, touched: &BTreeSet<(String, String)>) {
        let mut subscribers = self.inner.subscribers.lock();
        if subscribers.is_empty() || touched.is_empty() {
            return;
        }
        let notice = Arc::new(CommitNotice {
            touched: touched.iter().cloned().collect(),
        });
        subscribers.retain(|subscriber| subscriber.send(notice.clone()).is_ok());
    }

    /// Runs `f` as one all-or-nothing write transaction on a blocking thread, so that the
    /// durable commit (an fsync) does not stall the async runtime.
    pub async fn write<R, E>(
        &self,
        f: impl FnOnce(&mut WriteTxn<'_>) -> Result<R, E> + Send + 'static,
    ) -> Result<R, TxnError<E>>
    where
        R: Send + 'static,
        E: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f))
            .await
            .map_err(|e| TxnError::Store(StoreError::Task(e.to_string())))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failed_transaction_leaves_no_trace() {
        let store = Store::in_memory();
        store
            .write_blocking(|tx| {
                tx.put("t", "a", json!(1));
                Ok::<_, ()>(())
            })
            .unwrap();
        let r = store.write_blocking(|tx| {
            tx.put("t", "a", json!(2));
            tx.put("t", "b", json!(3));
            tx.delete("t", "a");
            Err::<(), _>("refused")
        });
        assert!(matches!(r, Err(TxnError::Aborted("refused"))));
        store.read(|t| {
            assert_eq!(t.get("t", "a"), Some(&json!(1)));
            assert_eq!(t.get("t", "b"), None);
        });
    }

    #[test]
    fn panicking_transaction_is_rolled_back() {
        let store = Store::in_memory();
        let s2 = store.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _ = s2.write_blocking(|tx| {
                tx.put("t", "x", json!(true));
                if tx.get("t", "x").is_some() {
                    panic!("boom");
                }
                Ok::<_, ()>(())
            });
        }));
        assert!(r.is_err());
        store.read(|t| assert!(!t.contains("t", "x")));
    }

    #[test]
    fn prefix_scans_stay_inside_the_prefix() {
        let store = Store::in_memory();
        store
            .write_blocking(|tx| {
                for k in ["/a/1", "/a/2", "/a/3", "/ab", "/b/1"] {
                    tx.put("t", k, json!(k));
                }
                Ok::<_, ()>(())
            })
            .unwrap();
        store.read(|t| {
            let keys: Vec<_> = t.scan_prefix("t", "/a/").map(|(k, _)| k.clone()).collect();
            assert_eq!(keys, ["/a/1", "/a/2", "/a/3"]);
            let keys: Vec<_> = t
                .scan_prefix_after("t", "/a/", "/a/1")
                .map(|(k, _)| k.clone())
                .collect();
            assert_eq!(keys, ["/a/2", "/a/3"]);
        });
    }

    #[test]
    fn subscribers_see_each_commit_once_in_order() {
        let store = Store::in_memory();
        let mut commits = store.subscribe();
        store
            .write_blocking(|tx| {
                tx.put("t", "a", json!(1));
                tx.put("u", "b", json!(2));
                Ok::<_, ()>(())
            })
            .unwrap();
        store
            .write_blocking(|tx| {
                tx.put("t", "c", json!(3));
                Err::<(), _>(())
            })
            .unwrap_err();
        store
            .write_blocking(|tx| {
                tx.delete("t", "a");
                Ok::<_, ()>(())
            })
            .unwrap();
        let first = commits.try_recv().unwrap();
        assert_eq!(
            first.touched,
            [("t".into(), "a".into()), ("u".into(), "b".into())]
        );
        let second = commits.try_recv().unwrap();
        assert_eq!(second.touched, [("t".to_owned(), "a".to_owned())]);
        assert!(
            commits.try_recv().is_err(),
            "an aborted write is not notified"
        );
    }

    #[test]
    fn durable_store_survives_reopen_and_keeps_only_committed_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = Store::open(&path).unwrap();
            store
                .write_blocking(|tx| {
                    tx.put("policy", "/infra/x", json!({"id": "x"}));
                    tx.put("meta", "counter", json!(7));
                    Ok::<_, ()>(())
                })
                .unwrap();
            store
                .write_blocking(|tx| {
                    tx.delete("meta", "counter");
                    tx.put("policy", "/infra/y", json!({"id": "y"}));
                    Err::<(), _>(())
                })
                .unwrap_err();
        }
        let store = Store::open(&path).unwrap();
        store.read(|t| {
            assert_eq!(t.get("policy", "/infra/x"), Some(&json!({"id": "x"})));
            assert_eq!(t.get("meta", "counter"), Some(&json!(7)));
            assert!(!t.contains("policy", "/infra/y"));
        });
    }
}
