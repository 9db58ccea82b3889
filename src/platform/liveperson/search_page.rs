//! What conversations/search and conversation/search answer: pages of
//! `conversationHistoryRecords` entries, each read for its `info` first.

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(super) struct Meta {
    pub count: Option<usize>,
    pub next: Option<Link>,
}

#[derive(Deserialize)]
pub(super) struct Link {
    pub href: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct SearchPage {
    #[serde(rename = "_metadata")]
    pub metadata: Option<Meta>,
    /// Kept as text: most entries are wanted for their `info` alone (an
    /// OPEN conversation's transcript is read again before its turn), and
    /// reading a whole transcript into values costs more than the request.
    #[serde(rename = "conversationHistoryRecords", default)]
    records: Vec<Box<serde_json::value::RawValue>>,
}

/// One `conversationHistoryRecords` entry: its conversation id and `info`
/// read, the rest read when a transcript is wanted.
pub(super) struct Entry {
    pub id: String,
    pub info: Value,
    raw: Box<serde_json::value::RawValue>,
}

impl Entry {
    /// The whole entry.
    pub fn whole(&self) -> Value {
        serde_json::from_str(self.raw.get()).unwrap_or(Value::Null)
    }
}

impl SearchPage {
    /// Each entry with its conversation id (entries without one dropped).
    pub fn entries(self) -> Vec<Entry> {
        #[derive(Deserialize)]
        struct Head {
            #[serde(default)]
            info: Value,
        }
        self.records
            .into_iter()
            .filter_map(|raw| {
                let info = serde_json::from_str::<Head>(raw.get()).ok()?.info;
                let id = crate::format::interactions::conversation_id(&info)?.to_owned();
                Some(Entry { id, info, raw })
            })
            .collect()
    }
}
