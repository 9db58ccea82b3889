//! Reading the target back: after a post whose answer was lost, and for
//! the intents an earlier try left. The one place outside `http/` that
//! waits or sends again. Nothing documents how soon Hubster shows a posted
//! activity or how late a post whose client gave up may still complete:
//! the sink's read lag and settle time say, and an activity is sent again
//! only after a read made when it could no longer show.

use super::error::PipelineError;
use super::plan::settled_by;
use super::sink::{Seen, Sink};
use crate::clock::now_ms;
use crate::http::HttpError;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

/// Posts of one activity at the most (the first included) while their
/// answers are lost and the activity does not show.
const TRIES: usize = 5;

/// Delivers one activity exactly once. When the answer to a post is lost
/// after the post may have arrived, the activity is never sent blindly
/// again: the target is read (after its read lag, to the end) until the
/// activity shows, or until a read made when the post could no longer show
/// has not found it; only then is it sent again. The eventId the target
/// gave it, if it gives them.
pub(super) async fn deliver_once(
    sink: &Sink,
    conversation_id: &str,
    target: &str,
    activity: &Value,
) -> Result<Option<i64>, PipelineError> {
    let external_id = activity["externalId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let wanted: HashSet<String> = [external_id.clone()].into();
    let (lag, settle) = sink.read_lag_and_settle();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let posted = now_ms();
        let unsure = match sink.deliver(conversation_id, target, activity).await {
            Ok(event_id) => return Ok(event_id),
            Err(
                e @ PipelineError::Http {
                    source: HttpError::Unsure { .. },
                    ..
                },
            ) => e,
            Err(e) => return Err(e),
        };
        tokio::time::sleep(lag).await;
        let deadline = settled_by(Some(posted), None, lag, settle);
        let mut found = look(sink, conversation_id, Some(target), &wanted, deadline, true)
            .await?
            .found;
        if let Some(event_id) = found.remove(&external_id) {
            tracing::debug!(conversation = conversation_id, external_id, error = %unsure, "answer lost, but the activity arrived");
            return Ok(event_id);
        }
        if attempt >= TRIES {
            return Err(unsure);
        }
        tracing::debug!(conversation = conversation_id, external_id, error = %unsure, "answer lost and the activity did not arrive: sending again");
    }
}

/// Of `ids`, those the target conversation `target` holds, with the eventId
/// it gave each (none without a target). With `wait`, it reads again (each
/// read lag) until all show or a read begun at or after `deadline` (epoch
/// ms: when nothing posted can still show) is done; without, it reads once.
pub(super) async fn look(
    sink: &Sink,
    conversation_id: &str,
    target: Option<&str>,
    ids: &HashSet<String>,
    deadline: i64,
    wait: bool,
) -> Result<Seen, PipelineError> {
    let Some(target) = target else {
        return Ok(Seen::default());
    };
    let (lag, _) = sink.read_lag_and_settle();
    loop {
        let begun = now_ms();
        let seen = sink.delivered(conversation_id, target, ids).await?;
        if !wait || seen.found.len() >= ids.len() || begun >= deadline {
            return Ok(seen);
        }
        let left = Duration::from_millis((deadline - now_ms()).max(0) as u64);
        tokio::time::sleep(lag.min(left).max(Duration::from_millis(20))).await;
    }
}

/// Gives what a stopped run posted last its read lag, so that recovery's
/// reads can show it.
pub(super) async fn after_stop(sink: &Sink) {
    tokio::time::sleep(sink.read_lag_and_settle().0).await;
}

/// Waits out the read lag of a hub that was posted to just before, so that
/// what was posted shows (a comparison after a migration).
pub async fn until_shown(lag: Duration) {
    tokio::time::sleep(lag).await;
}
