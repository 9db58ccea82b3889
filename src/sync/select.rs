//! Which conversations a job works on: the one place that turns a
//! selection (a time range in search windows, an id list, a directory of
//! files, a hub's established list) into conversation ids.

use crate::http::HttpError;
use crate::platform::files::FileSet;
use crate::platform::hubster::{HubConversationInfo, HubsterClient};
use crate::platform::liveperson::{ConversationInfo, LivePersonClient, Search, windows_of};
use std::collections::{HashMap, HashSet};

/// A selection that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("conversations/search {from}..{to}: {source}")]
    Search {
        from: i64,
        to: i64,
        source: HttpError,
    },
    #[error("hub {hub_id}: established conversations: {source}")]
    Established { hub_id: String, source: HttpError },
    #[error("discovery: {0}")]
    Discover(HttpError),
    #[error("a time range needs the LivePerson API as source")]
    NoTimeRange,
}

/// The conversations of one search window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub ids: Vec<String>,
    /// Whether every one of them is closed (a window with OPEN ones may
    /// still gain records).
    pub all_closed: bool,
    /// Those of them the search listed as closed.
    pub closed: Vec<String>,
}

/// The windows covering `[since, until]`, at most `width` ms wide.
pub fn spans(since: i64, until: i64, width: i64) -> Vec<(i64, i64)> {
    windows_of(since, until, width)
}

/// The conversations LivePerson lists as started in `[from, to]`, open or
/// closed.
pub async fn window(lp: &LivePersonClient, from: i64, to: i64) -> Result<Window, SelectError> {
    let q = Search {
        start_from: from,
        start_to: to,
        status: vec!["OPEN".into(), "CLOSE".into()],
        latest_update_from: None,
    };
    let found = lp
        .search(&q)
        .await
        .map_err(|source| SelectError::Search { from, to, source })?;
    Ok(Window {
        all_closed: found.iter().all(ConversationInfo::is_closed),
        closed: found
            .iter()
            .filter(|c| c.is_closed())
            .map(|c| c.conversation_id.clone())
            .collect(),
        ids: found.into_iter().map(|c| c.conversation_id).collect(),
    })
}

/// Every conversation started in `[since, until]`, window by window, each
/// once, in the order found.
pub async fn range(
    lp: &LivePersonClient,
    since: i64,
    until: i64,
    width: i64,
) -> Result<Vec<String>, SelectError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (from, to) in spans(since, until, width) {
        let w = window(lp, from, to).await?;
        out.extend(w.ids.into_iter().filter(|id| seen.insert(id.clone())));
    }
    Ok(out)
}

/// The daemon's discovery: conversations started in `[since, until]` and
/// updated at or after `updated_since` (all of them without one), with
/// their status.
pub async fn updated(
    lp: &LivePersonClient,
    since: i64,
    until: i64,
    updated_since: Option<i64>,
) -> Result<Vec<ConversationInfo>, SelectError> {
    lp.discover(since, until, updated_since)
        .await
        .map_err(SelectError::Discover)
}

/// Every conversation of a files source.
pub fn files(set: &FileSet) -> Vec<String> {
    set.ids().to_vec()
}

/// A hub's conversations, each with the name a LivePerson export gives it:
/// the binding it was established with (for one that came from LivePerson,
/// the LivePerson conversation id), else its Hubster id.
///
/// `selected`: only these ids (named from the list where it knows them);
/// else every established one opened in `[since, until]` (either bound
/// optional; one whose opening the hub does not say is kept).
pub async fn hub(
    hub: &HubsterClient,
    hub_id: &str,
    selected: Option<Vec<String>>,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<Vec<(String, String)>, SelectError> {
    let list = hub
        .established(hub_id)
        .await
        .map_err(|source| SelectError::Established {
            hub_id: hub_id.to_owned(),
            source,
        })?;
    let name = |c: &HubConversationInfo| {
        c.binding
            .clone()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| c.conversation_id.clone())
    };
    if let Some(ids) = selected {
        let names: HashMap<&str, String> = list
            .iter()
            .map(|c| (c.conversation_id.as_str(), name(c)))
            .collect();
        return Ok(ids
            .iter()
            .map(|id| {
                let n = names
                    .get(id.as_str())
                    .cloned()
                    .unwrap_or_else(|| id.clone());
                (id.clone(), n)
            })
            .collect());
    }
    let mut seen = HashSet::new();
    Ok(list
        .iter()
        .filter(|c| match c.opened_ms {
            Some(t) => since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u),
            None => true,
        })
        .filter(|c| seen.insert(c.conversation_id.clone()))
        .map(|c| (c.conversation_id.clone(), name(c)))
        .collect())
}
