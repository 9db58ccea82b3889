//! `fetch` and `discover`: one read of a platform, as it answers.

use super::Error;
use crate::config::Config;
use crate::format::hubster::IntegrationType;
use crate::http::Metrics;
use crate::platform::hubster::HubsterClient;
use crate::platform::liveperson::{ConversationInfo, LivePersonClient};
use serde_json::Value;
use std::sync::Arc;

fn liveperson(config: &Config) -> Result<LivePersonClient, Error> {
    Ok(LivePersonClient::new(
        config.liveperson()?,
        Arc::new(Metrics::default()),
    )?)
}

/// One LivePerson conversation's records, by the configured transcript
/// route (`auto`: content search, else Messaging Interactions), in content
/// search's shape.
pub async fn fetch_liveperson(config: &Config, conversation_id: &str) -> Result<Vec<Value>, Error> {
    Ok(liveperson(config)?
        .transcript(conversation_id)
        .await?
        .records)
}

/// One Hubster conversation's activities from eventId `leid` on.
pub async fn fetch_hubster(
    config: &Config,
    conversation_id: &str,
    leid: i64,
) -> Result<Vec<Value>, Error> {
    let client = HubsterClient::new(config.hubster()?, Arc::new(Metrics::default()))?;
    Ok(client
        .activities(conversation_id, &IntegrationType::SENDERS, leid)
        .await?)
}

/// The LivePerson conversations started in `[since, until]` (updated since
/// `updated_since`, when given).
pub async fn discover(
    config: &Config,
    since: i64,
    until: i64,
    updated_since: Option<i64>,
) -> Result<Vec<ConversationInfo>, Error> {
    Ok(liveperson(config)?
        .discover(since, until, updated_since)
        .await?)
}
