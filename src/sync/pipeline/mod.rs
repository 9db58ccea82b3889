//! One LivePerson conversation, end to end: fetch its content, convert only
//! what is new, deliver it in order, commit the checkpoint.
//!
//! - [`plan`]: pure: from the checkpoint, the records and the mapping,
//!   what to send and what the checkpoint becomes.
//! - `execute`: carries a plan out (the store, the source, the sink).
//! - `readback`: reading the target back, the one place that waits for it
//!   or sends again.
//! - [`Source`], [`Sink`]: where records come from and activities go.
//! - [`LpWork`]: conversations as the runner works them, over a [`Route`].

mod error;
mod execute;
pub mod plan;
mod readback;
mod sink;
mod source;
mod work;

pub use error::{PipelineError, Unconvertible};
pub use execute::{Outcome, Reconciled, recover};
pub use plan::{convert_records, undelivered};
pub use readback::until_shown;
pub use sink::{Sink, is_foreign};
pub use source::Source;
pub use work::{LpWork, Route, account_refused, credential_to_check, refusal_message};

use crate::format::Mapping;
use crate::store::Store;
use std::sync::Arc;

/// Syncs one conversation from LivePerson to the sink (not sealing it: the
/// source did not say it is closed).
pub async fn sync_conversation(
    pipeline: &str,
    conversation_id: &str,
    source: &Source,
    sink: &Sink,
    store: &Arc<Store>,
    mapping: &Arc<Mapping>,
) -> Result<Outcome, PipelineError> {
    execute::Pass {
        at: execute::Target {
            pipeline,
            conversation_id,
            sink,
            store,
        },
        source,
        mapping,
        closed: false,
    }
    .run()
    .await
}
