//! The progress table (what long jobs keep) and the discovery watermarks.

use super::*;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

impl Store {
    /// Progress of a long job (a backfill, a migration), by its key.
    pub fn progress<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
        let found = t.get(key).map_err(|e| self.err(e))?;
        found.map(|v| self.decode(v.value())).transpose()
    }

    pub fn set_progress<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let (_db, tx) = self.begin_write()?;
        {
            let mut t = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
            let bytes = serde_json::to_vec(value).expect("progress serializes");
            t.insert(key, bytes.as_slice()).map_err(|e| self.err(e))?;
        }
        self.commit(tx)
    }

    /// Every progress entry whose key starts with `prefix`, by key.
    pub fn progress_under<T: for<'de> Deserialize<'de>>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in t.range(prefix..).map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_owned(), self.decode(v.value())?));
        }
        Ok(out)
    }

    /// Forgets a progress entry; whether there was one.
    pub fn remove_progress(&self, key: &str) -> Result<bool, StoreError> {
        let (_db, tx) = self.begin_write()?;
        let was = {
            let mut t = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
            t.remove(key).map_err(|e| self.err(e))?.is_some()
        };
        self.commit(tx)?;
        Ok(was)
    }

    pub fn watermark(&self, pipeline: &str) -> Result<Option<i64>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(WATERMARKS).map_err(|e| self.err(e))?;
        Ok(t.get(pipeline).map_err(|e| self.err(e))?.map(|v| v.value()))
    }

    /// Moves the discovery watermark (never backwards).
    pub fn set_watermark(&self, pipeline: &str, ms: i64) -> Result<(), StoreError> {
        let (_db, tx) = self.begin_write()?;
        {
            let mut t = tx.open_table(WATERMARKS).map_err(|e| self.err(e))?;
            let cur = t.get(pipeline).map_err(|e| self.err(e))?.map(|v| v.value());
            if cur.is_none_or(|c| c < ms) {
                t.insert(pipeline, ms).map_err(|e| self.err(e))?;
            }
        }
        self.commit(tx)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use std::collections::BTreeSet;

    #[test]
    fn progress_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("c.redb")).unwrap();
        let mut set: BTreeSet<(i64, i64)> = BTreeSet::new();
        set.insert((1, 2));
        s.set_progress("k", &set).unwrap();
        let back: Option<BTreeSet<(i64, i64)>> = s.progress("k").unwrap();
        assert_eq!(back, Some(set));
    }
}
