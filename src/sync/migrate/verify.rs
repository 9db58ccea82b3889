//! `--verify`: what the source converts to, against what the target
//! holds, conversation by conversation, by identity and order.

use super::report::{ConversationCheck, LIST_LIMIT, State, VerifyReport};
use super::{Direction, Endpoint, MigrateError, Migration};
use crate::format::hubster::IntegrationType;
use crate::format::{self, HubsterResume, LpResume, identity};
use crate::platform::files::{file_name, read_activities, read_records};
use crate::store::Store;
use crate::sync::deps::blocking;
use crate::sync::export::ExportError;
use crate::sync::pipeline::{self, PipelineError};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

impl Migration {
    /// Compares source and target, conversation by conversation: what the
    /// source converts to (all of it) against what the target holds, by
    /// identity (externalId; dialogId and sequence) and order.
    pub async fn verify(
        &self,
        store: &Arc<Store>,
        each: &mut dyn FnMut(&ConversationCheck),
    ) -> Result<VerifyReport, MigrateError> {
        let (ids, names) = self.selection().await?;
        let names = &names;
        // What was posted just before shows in the hub's reads only after
        // its read lag.
        if let (Endpoint::Hubster {}, Some(hub)) = (&self.cfg.target, &self.hub) {
            crate::sync::pipeline::until_shown(hub.read_lag()).await;
        }
        if self.cfg.direction() == Direction::ToHubster {
            // Interactions transcripts come 100 a call in this order.
            self.record_source().hint(&ids);
        }
        let pipeline = self.cfg.pipeline().to_owned();
        let mut report = VerifyReport {
            migration: self.cfg.name.clone(),
            source: self.cfg.source.describe(),
            target: self.cfg.target.describe(),
            ..VerifyReport::default()
        };
        use futures_util::stream::{self, StreamExt};
        let mut checks = stream::iter(ids)
            .map(|id| {
                let pipeline = &pipeline;
                async move {
                    let name = names.get(&id).map_or(id.as_str(), String::as_str);
                    let r = self.compare_one(store, pipeline, &id, name).await;
                    (id, r)
                }
            })
            .buffered(self.sync.concurrency.get());
        while let Some((id, r)) = checks.next().await {
            let check = match r {
                Ok(c) => c,
                Err(MigrateError::Store(e)) => return Err(e.into()),
                Err(e) => ConversationCheck {
                    conversation_id: id.clone(),
                    error: Some(e.to_string()),
                    ..ConversationCheck::default()
                },
            };
            report.add(&check);
            each(&check);
            if check.differences() > 0 {
                report.conversations_differing_list.push(check);
            }
        }
        Ok(report)
    }

    async fn compare_one(
        &self,
        store: &Arc<Store>,
        pipeline: &str,
        id: &str,
        name: &str,
    ) -> Result<ConversationCheck, MigrateError> {
        // An item the target lacks is pending, not a difference, when the
        // checkpoint does not count it delivered and it reached the source
        // after the migration last read there: it is for the next run.
        let k = State::key(&self.cfg.name);
        let last_run = blocking(store, move |s| s.progress::<State>(&k))
            .await?
            .and_then(|s| s.last_started_ms)
            .unwrap_or(i64::MIN);
        let mut foreign: Vec<String> = Vec::new();
        let (expected, got, pending): (Vec<String>, Option<Vec<String>>, HashSet<String>) =
            match self.cfg.direction() {
                Direction::ToHubster => {
                    let records = self.record_source().content(id).await?.records;
                    let (acts, _, _) = pipeline::convert_records(
                        id,
                        &records,
                        &self.mapping,
                        &LpResume::default(),
                    )?;
                    let expected: Vec<String> = acts.iter().map(external_id).collect();
                    let (p, i) = (pipeline.to_owned(), id.to_owned());
                    let state = blocking(store, move |s| s.conversation(&p, &i)).await?;
                    // LivePerson's data lags up to a minute behind its clock.
                    let lag = match self.cfg.source {
                        Endpoint::Liveperson {} => 60_000,
                        _ => 0,
                    };
                    let read_at = state
                        .as_ref()
                        .and_then(|c| c.last_polled_ms)
                        .unwrap_or(last_run)
                        .saturating_sub(lag);
                    let (new, _, _, _) = pipeline::undelivered(
                        id,
                        &records,
                        &self.mapping,
                        &state.clone().unwrap_or_default(),
                    )?;
                    let pending = new
                        .iter()
                        .filter(|a| a["eventId"].as_i64().is_some_and(|e| e > read_at))
                        .map(external_id)
                        .collect();
                    let target = state.and_then(|c| c.target_conversation_id);
                    let got = match (&self.cfg.target, target) {
                        (_, None) => None,
                        (Endpoint::Hubster {}, Some(t)) => {
                            let hub = self.hub.as_ref().expect("checked");
                            let acts = hub
                                .activities(&t, &IntegrationType::SENDERS, 0)
                                .await
                                .map_err(|source| {
                                    MigrateError::Pipeline(PipelineError::Http {
                                        conversation_id: id.to_owned(),
                                        source,
                                    })
                                })?;
                            // convsync's: of its form, or one the source
                            // converts to (a hub's own activity, restored).
                            let converted: HashSet<&str> =
                                expected.iter().map(String::as_str).collect();
                            let (ours, theirs): (Vec<&Value>, Vec<&Value>) =
                                acts.iter().partition(|a| {
                                    !pipeline::is_foreign(a)
                                        || converted.contains(external_id(a).as_str())
                                });
                            foreign = theirs.iter().map(|a| describe_foreign(a)).collect();
                            Some(ours.into_iter().map(external_id).collect())
                        }
                        (Endpoint::Files { dir, .. }, Some(t)) => Some(
                            read_activities(dir, &t)
                                .map_err(ExportError::from)?
                                .iter()
                                .map(external_id)
                                .collect(),
                        ),
                        _ => None,
                    };
                    (expected, got, pending)
                }
                Direction::ToLivePerson => {
                    let acts = self.activity_source().activities(id, 0).await?;
                    let convert = |acts: &[Value], resume: &HubsterResume| {
                        format::to_liveperson(name, acts, &self.mapping, resume).map_err(|e| {
                            MigrateError::Export(ExportError::Convert {
                                conversation_id: id.to_owned(),
                                source: e,
                            })
                        })
                    };
                    let out = convert(&acts, &HubsterResume::default())?;
                    let expected = out
                        .records
                        .iter()
                        .map(|r| identity::record_identity(name, r))
                        .collect();
                    let k = crate::store::progress_key::export(pipeline, id);
                    let resume: HubsterResume = blocking(store, move |s| s.progress(&k))
                        .await?
                        .unwrap_or_default();
                    let after = resume.last_event_id.unwrap_or(i64::MIN);
                    let late: Vec<Value> = acts
                        .iter()
                        .filter(|a| {
                            a["eventId"]
                                .as_i64()
                                .is_some_and(|e| e > last_run && e >= after)
                        })
                        .cloned()
                        .collect();
                    let pending = convert(&late, &resume)?
                        .records
                        .iter()
                        .map(|r| identity::record_identity(name, r))
                        .collect();
                    let got = match &self.cfg.target {
                        Endpoint::Files { dir, .. } => {
                            let path = dir.join(format!("{}.json", file_name(name)));
                            path.exists()
                                .then(|| read_records(&path))
                                .transpose()
                                .map_err(|source| {
                                    MigrateError::Export(ExportError::Source {
                                        conversation_id: id.to_owned(),
                                        source,
                                    })
                                })?
                                .map(|r| {
                                    r.iter()
                                        .map(|r| identity::record_identity(name, r))
                                        .collect()
                                })
                        }
                        _ => None,
                    };
                    (expected, got, pending)
                }
            };
        let mut c = compare(id, &expected, got.as_deref(), &pending);
        c.foreign = foreign.len();
        c.foreign_examples = foreign.into_iter().take(LIST_LIMIT).collect();
        Ok(c)
    }
}

/// One line for an activity convsync did not post: its eventId, sender
/// and the start of what it says.
fn describe_foreign(a: &Value) -> String {
    let text: String = a["message"]["text"]
        .as_str()
        .map(|t| t.chars().take(60).collect())
        .unwrap_or_else(|| a["type"].as_str().unwrap_or("?").to_owned());
    format!(
        "eventId {} from {} {}: {text:?}",
        a["eventId"],
        a["sender"]["integrationType"].as_str().unwrap_or("?"),
        a["sender"]["integrationId"].as_str().unwrap_or("?"),
    )
}

fn external_id(a: &Value) -> String {
    a["externalId"].as_str().unwrap_or("").to_owned()
}

/// Compares expected identities (in order) with those the target holds.
/// `pending`: items the migration has not read yet (see
/// [`ConversationCheck::pending`]).
pub fn compare(
    id: &str,
    expected: &[String],
    got: Option<&[String]>,
    pending: &HashSet<String>,
) -> ConversationCheck {
    let mut c = ConversationCheck {
        conversation_id: id.to_owned(),
        source: expected.len(),
        ..ConversationCheck::default()
    };
    let Some(got) = got else {
        c.pending = expected.iter().filter(|e| pending.contains(*e)).count();
        c.missing = expected.len() - c.pending;
        c.target_missing = c.missing > 0;
        return c;
    };
    c.target = got.len();
    let want: HashSet<&str> = expected.iter().map(String::as_str).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for g in got {
        *counts.entry(g.as_str()).or_default() += 1;
    }
    for e in expected {
        if pending.contains(e) && !counts.contains_key(e.as_str()) {
            c.pending += 1;
        } else if !counts.contains_key(e.as_str()) {
            c.missing += 1;
            if c.examples.len() < LIST_LIMIT {
                c.examples.push(format!("missing {e}"));
            }
        }
    }
    for g in got {
        if !want.contains(g.as_str()) {
            c.unexpected += 1;
            if c.examples.len() < LIST_LIMIT {
                c.examples.push(format!("unexpected {g}"));
            }
        }
    }
    for (g, n) in &counts {
        if *n > 1 && want.contains(g) {
            c.duplicated += n - 1;
            if c.examples.len() < LIST_LIMIT {
                c.examples.push(format!("duplicated {g} ({n} times)"));
            }
        }
    }
    // Order: the target's first copies of expected items, in the target's
    // order, against the source's order of the items the target has.
    let mut seen = HashSet::new();
    let got_order: Vec<&str> = got
        .iter()
        .map(String::as_str)
        .filter(|g| want.contains(g) && seen.insert(*g))
        .collect();
    let want_order: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|e| counts.contains_key(e))
        .collect();
    c.order_differs_at = got_order.iter().zip(&want_order).position(|(a, b)| a != b);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn compare_finds_each_kind_of_difference() {
        let none = HashSet::new();
        let want = ids("a b c d");
        let same = compare("c", &want, Some(&want), &none);
        assert_eq!(same.differences(), 0);
        let c = compare("c", &want, Some(&ids("a c d x")), &none);
        assert_eq!((c.missing, c.unexpected, c.differences()), (1, 1, 2));
        let c = compare("c", &want, Some(&ids("a b b c d")), &none);
        assert_eq!((c.duplicated, c.differences()), (1, 1));
        let c = compare("c", &want, Some(&ids("a c b d")), &none);
        assert_eq!(c.order_differs_at, Some(1));
        // Missing items alone do not count as disorder.
        let c = compare("c", &want, Some(&ids("a d")), &none);
        assert_eq!((c.missing, c.order_differs_at), (2, None));
        let c = compare("c", &want, None, &none);
        assert!(c.target_missing);
        assert_eq!(c.missing, 4);
        assert_eq!(compare("c", &[], None, &none).differences(), 0);
    }

    #[test]
    fn items_newer_than_the_last_read_are_pending_not_missing() {
        let pending: HashSet<String> = ids("d").into_iter().collect();
        let c = compare("c", &ids("a b c d"), Some(&ids("a b c")), &pending);
        assert_eq!((c.missing, c.pending, c.differences()), (0, 1, 0));
        // Pending only excuses what is absent: the rest still counts.
        let c = compare("c", &ids("a b c d"), Some(&ids("a c")), &pending);
        assert_eq!((c.missing, c.pending), (1, 1));
        let c = compare("c", &ids("d"), None, &pending);
        assert_eq!((c.target_missing, c.differences()), (false, 0));
    }
}
