//! The keys of the progress table, all in one place: what each job keeps
//! there and under which name.

/// A Hubster conversation's export cursor (its `leid`) in a pipeline.
pub fn export(pipeline: &str, hub_conversation_id: &str) -> String {
    format!("export:{pipeline}:{hub_conversation_id}")
}

/// A migration's state (runs, totals, its pinned `since`).
pub fn migration(name: &str) -> String {
    format!("migration:{name}")
}

/// A daemon's backoff after failed cycles (failures, until, why).
pub fn backoff(pipeline: &str) -> String {
    format!("backoff:{pipeline}")
}

/// The last prune of a pipeline.
pub fn pruned(pipeline: &str) -> String {
    format!("pruned:{pipeline}")
}

/// A job handed to the running daemon (kept until it ends, so that a
/// daemon killed during it resumes it).
pub fn job(id: &str) -> String {
    format!("job:{id}")
}

/// The rate and concurrency an upstream learned (`"auto"`).
pub fn pace(upstream: &str) -> String {
    format!("pace:{upstream}")
}

/// What `liveperson.transcripts = "auto"` learned for an account.
pub fn transcript_route(account: &str) -> String {
    format!("liveperson:transcripts:{account}")
}

/// A backfill's finished windows: one per pipeline, range and id list
/// (`until`: epoch ms, or "now"; `ids`: a digest of the list, or "all").
pub fn backfill(pipeline: &str, since_ms: i64, until: &str, ids: &str) -> String {
    format!("backfill:{pipeline}:{since_ms}:{until}:{ids}")
}

/// A conversation held open (its source's answer proved it not whole).
pub fn held(pipeline: &str, conversation_id: &str) -> String {
    format!("{}{conversation_id}", held_under(pipeline))
}

/// Where a pipeline's held conversations are kept.
pub fn held_under(pipeline: &str) -> String {
    format!("held\u{1f}{pipeline}\u{1f}")
}
