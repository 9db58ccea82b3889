//! Converting a migration's conversations without writing anything: dry
//! runs (counts and warnings) and stdout targets (everything, printed).

use super::{Direction, MigrateError, Migration};
use crate::format::{self, HubsterResume, Report};
use crate::store::Store;
use crate::sync::deps::blocking;
use crate::sync::export::{ActivitySource, ExportError};
use crate::sync::pipeline::{self, Source};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// One conversation converted without writing.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub conversation_id: String,
    /// Records or activities read.
    pub read: u64,
    /// What would be written: activities or records (only what is new
    /// since the last run, for a dry run).
    pub items: Vec<Value>,
    pub report: Report,
}

impl Migration {
    /// Converts every selected conversation without writing anything.
    /// `store`: a dry run's resume points (what is new since the last run);
    /// `None` converts everything. `each` gets every conversation, or the
    /// error that stopped it (the others go on).
    pub async fn preview(
        &self,
        store: Option<Arc<Store>>,
        each: &mut dyn FnMut(Result<Preview, MigrateError>),
    ) -> Result<(), MigrateError> {
        use futures_util::stream::{self, StreamExt};
        let (ids, names) = self.selection().await?;
        let pipeline = self.cfg.pipeline();
        let to_lp = self.cfg.direction() == Direction::ToLivePerson;
        let names = &names;
        let records = (!to_lp).then(|| self.record_source());
        if let Some(r) = &records {
            r.hint(&ids);
        }
        let activities = to_lp.then(|| self.activity_source());
        let store = store.as_ref();
        // Several conversations in flight, reported in order.
        let mut results = stream::iter(ids)
            .map(|id| {
                let (records, activities) = (&records, &activities);
                async move {
                    match (records, activities) {
                        (Some(r), _) => self.preview_lp(store, pipeline, r, &id).await,
                        (_, Some(a)) => {
                            let name = names.get(&id).map_or(id.as_str(), String::as_str);
                            self.preview_hub(store, pipeline, a, &id, name).await
                        }
                        (None, None) => unreachable!("one direction or the other"),
                    }
                }
            })
            .buffered(self.sync.concurrency.get());
        while let Some(r) = results.next().await {
            each(r);
        }
        Ok(())
    }

    async fn preview_lp(
        &self,
        store: Option<&Arc<Store>>,
        pipeline: &str,
        source: &Source,
        id: &str,
    ) -> Result<Preview, MigrateError> {
        let state = match store {
            Some(s) => {
                let (p, i) = (pipeline.to_owned(), id.to_owned());
                blocking(s, move |s| s.conversation(&p, &i))
                    .await?
                    .unwrap_or_default()
            }
            None => Default::default(),
        };
        let records = source.content(id).await?.records;
        let (items, _, report, _) = pipeline::undelivered(id, &records, &self.mapping, &state)?;
        Ok(Preview {
            conversation_id: id.to_owned(),
            read: records.len() as u64,
            items,
            report,
        })
    }

    async fn preview_hub(
        &self,
        store: Option<&Arc<Store>>,
        pipeline: &str,
        source: &ActivitySource,
        id: &str,
        name: &str,
    ) -> Result<Preview, MigrateError> {
        let resume: HubsterResume = match store {
            Some(s) => {
                let k = crate::store::progress_key::export(pipeline, id);
                blocking(s, move |s| s.progress(&k))
                    .await?
                    .unwrap_or_default()
            }
            None => HubsterResume::default(),
        };
        let acts = source
            .activities(id, resume.last_event_id.unwrap_or(0))
            .await?;
        let out = format::to_liveperson(name, &acts, &self.mapping, &resume).map_err(|e| {
            MigrateError::Export(ExportError::Convert {
                conversation_id: id.to_owned(),
                source: e,
            })
        })?;
        Ok(Preview {
            conversation_id: id.to_owned(),
            read: acts.len() as u64,
            items: out.records,
            report: out.report,
        })
    }
}
