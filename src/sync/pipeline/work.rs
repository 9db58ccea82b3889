//! LivePerson conversations as the [runner](crate::sync::runner) works
//! them: a route from a source to a sink, and what a failure means.

use super::error::PipelineError;
use super::execute::{Pass, Target};
use super::sink::Sink;
use super::source::Source;
use crate::format::{self, Mapping};
use crate::http::Refusal;
use crate::store::{Store, StoreError};
use crate::sync::deps::{Deps, Settings, blocking};
use crate::sync::runner::{Blocked, Synced, Verdict, Work};
use std::collections::HashSet;
use std::sync::Arc;

/// Where a LivePerson -> Hubster run reads and writes.
#[derive(Clone)]
pub struct Route {
    pub source: Arc<Source>,
    pub sink: Arc<Sink>,
}

impl Route {
    /// The upstream a call failed on.
    pub fn upstream_of(&self, e: &crate::http::HttpError) -> Option<&crate::http::Upstream> {
        let name = e.upstream()?;
        self.upstreams().into_iter().find(|u| u.name() == name)
    }

    /// What to say of each upstream paused for a refused credential.
    pub fn refusals(&self) -> Vec<String> {
        self.upstreams()
            .into_iter()
            .filter_map(|u| {
                let (kind, why) = u.refusal()?;
                Some(refusal_message(u.name(), kind, &why))
            })
            .collect()
    }

    /// The remote APIs it talks to.
    pub fn upstreams(&self) -> Vec<&crate::http::Upstream> {
        let mut u = Vec::new();
        if let Some(lp) = self.source.liveperson() {
            u.push(lp.upstream());
        }
        if let Sink::Hubster(h) = self.sink.as_ref() {
            u.push(h.upstream());
        }
        u
    }
}

/// What to say of an upstream that refuses the credential: what to check,
/// and that nothing was set aside for it.
pub fn refusal_message(upstream: &str, kind: Refusal, why: &str) -> String {
    match kind {
        Refusal::Credential => format!(
            "{upstream} refuses the credential ({why}): check {}; no conversation is set aside for it",
            credential_to_check(upstream)
        ),
        Refusal::NoRoute => format!(
            "{upstream} has nobody to route a customer's message to ({why}): give the hub an agent or bot integration (for replayed history, the Direct integration mapping.integrations.agent names, which nobody answers from), or set hubster.hub_id to a hub that has one; no conversation is set aside for it"
        ),
    }
}

/// A refusal of what serves the whole account (its listing, a token
/// grant): `upstream` pauses at once; what to say of it.
pub fn account_refused(upstream: &crate::http::Upstream, e: &crate::http::HttpError) -> String {
    upstream.refused_outright(e);
    refusal_message(upstream.name(), Refusal::Credential, &e.to_string())
}

/// The config keys behind an upstream's credential.
pub fn credential_to_check(upstream: &str) -> &'static str {
    match upstream {
        "hubster" => "[hubster] client_id and client_secret, and what the client may do on the hub",
        _ => "[liveperson.auth] (the app key, and its permissions to read Messaging Interactions)",
    }
}

/// Syncing conversations from a [`Route`]'s source to its sink, as the
/// runner works them: a failure counts against the conversation's
/// checkpoint, and one that cannot be converted, or is out of its retry
/// budget, becomes a dead letter.
pub struct LpWork {
    settings: Settings,
    route: Route,
    store: Arc<Store>,
    mapping: Arc<Mapping>,
    counters: Arc<crate::telemetry::Counters>,
    /// The conversations the source listed as closed: once all of one is
    /// delivered, its checkpoint is sealed.
    /// (Digests of their ids: a cycle may list a great many.)
    closed: std::sync::Mutex<HashSet<u128>>,
}

impl LpWork {
    pub fn new(deps: &Deps, route: &Route) -> Arc<LpWork> {
        Arc::new(LpWork {
            settings: deps.settings.clone(),
            route: route.clone(),
            store: Arc::clone(&deps.store),
            mapping: Arc::clone(&deps.mapping),
            counters: Arc::clone(&deps.counters),
            closed: Default::default(),
        })
    }

    /// What a search said: these conversations are closed.
    pub fn closed(&self, ids: impl IntoIterator<Item = String>) {
        self.closed
            .lock()
            .expect("closed lock")
            .extend(ids.into_iter().map(|id| format::KeyDigests::digest(&id)));
    }
}

impl Work for LpWork {
    type Error = PipelineError;

    async fn sync(&self, id: &str) -> Result<Synced, PipelineError> {
        let closed = self
            .closed
            .lock()
            .expect("closed lock")
            .contains(&format::KeyDigests::digest(id));
        let pass = Pass {
            at: Target {
                pipeline: &self.settings.pipeline,
                conversation_id: id,
                sink: &self.route.sink,
                store: &self.store,
            },
            source: &self.route.source,
            mapping: &self.mapping,
            closed,
        };
        let outcome = pass.run().await?;
        if let Some(r) = &outcome.reconciled {
            self.counters.reconciled(id, r.looked_for, r.found);
        }
        if let Some(h) = &outcome.held {
            self.counters.held(id, h);
        }
        self.counters.foreign(id, outcome.foreign);
        for &(at, acked) in &outcome.acked {
            self.counters.fresh(at, acked);
        }
        self.counters.mapping_degraded(id, &outcome.degraded);
        Ok(Synced {
            written: outcome.delivered,
            held: outcome.held.is_some(),
        })
    }

    fn plan(&self, ids: &[String]) {
        self.route.source.hint(ids);
    }

    fn blocked(&self) -> Blocked {
        let refused: Vec<_> = self
            .route
            .upstreams()
            .into_iter()
            .filter(|u| u.refusal().is_some())
            .collect();
        if refused.is_empty() {
            Blocked::No
        } else if refused.iter().any(|u| u.paused()) {
            Blocked::Paused
        } else {
            Blocked::Probe
        }
    }

    async fn failed(&self, id: &str, e: &PipelineError) -> Result<Verdict, StoreError> {
        // A refused credential is the upstream's trouble, not the
        // conversation's: it is tried again, never set aside for it, and
        // several in a row pause the upstream.
        if let PipelineError::Http { source, .. } = e
            && source.refusal().is_some()
        {
            // (A call not sent for the pause is no answer: the row stands.)
            if let Some(u) = self.route.upstream_of(source)
                && !matches!(source, crate::http::HttpError::Paused { .. })
            {
                u.refused(source);
            }
            self.counters.refused(id, source);
            return Ok(Verdict::Refused);
        }
        let (p, id, message) = (self.settings.pipeline.clone(), id.to_owned(), e.to_string());
        let (retryable, budget) = (e.is_retryable(), self.settings.retry_budget);
        blocking(&self.store, move |store| {
            let mut st = store.conversation(&p, &id)?.unwrap_or_default();
            st.attempts += 1;
            st.last_error = Some(message);
            let dead = !retryable || st.attempts >= budget;
            store.checkpoint(&p, &id, &st, &[])?;
            Ok(if dead { Verdict::Dead } else { Verdict::Retry })
        })
        .await
    }
}
