//! `verify`: the daemon's pipeline compared, as `migrate --verify`
//! compares a migration: for every conversation the daemon has synced,
//! what LivePerson holds, converted, against what the target holds, by
//! externalId and order. Duplicates a lost answer may still have caused
//! show here.

use super::Error;
use crate::config::migration::{Endpoint, Format, MigrationConfig};
use crate::config::{Config, SinkConfig};
use crate::sync::migrate::{ConversationCheck, Migration, VerifyReport};
use std::path::{Path, PathBuf};

/// Compares the daemon's pipeline (`sync.pipeline`, to `sync.sink`) and
/// writes the JSON report to `report_path` (or
/// `<state_dir>/<pipeline>.verify.json`).
pub async fn daemon(
    config: &Config,
    report_path: Option<&Path>,
    each: &mut dyn FnMut(&ConversationCheck),
) -> Result<(VerifyReport, PathBuf), Error> {
    let store = super::store::open(
        &config.sync,
        " (stop the daemon first: verify reads its store)",
    )?;
    let pipeline = config.sync.pipeline.clone();
    let p = pipeline.clone();
    let ids = crate::sync::deps::blocking(&store, move |s| s.conversation_ids(&p)).await?;
    let target = match &config.sync.sink {
        SinkConfig::Hubster => Endpoint::Hubster {},
        SinkConfig::Files(dir) => Endpoint::Files {
            dir: dir.clone(),
            format: Format::Hubster,
        },
    };
    let describe = MigrationConfig {
        name: pipeline.clone(),
        source: Endpoint::Liveperson {},
        target,
        since: None,
        until: None,
        conversation_ids: ids,
        conversation_ids_file: None,
        window_days: 90,
        pipeline: Some(pipeline.clone()),
        mapping: None,
    };
    let report = if describe.conversation_ids.is_empty() {
        VerifyReport {
            migration: pipeline,
            source: describe.source.describe(),
            target: describe.target.describe(),
            ..VerifyReport::default()
        }
    } else {
        // The daemon's pipeline, described as a migration of exactly its
        // conversations (first, so it is the one found by its name).
        let mut config = config.clone();
        config.migrations.insert(0, describe);
        let m =
            Migration::new(&config, &pipeline).map_err(|e| Error::MigrationConfig(Box::new(e)))?;
        m.verify(&store, each).await?
    };
    let path = super::migrate::write_report(&report, report_path, config, &config.sync.pipeline)?;
    Ok((report, path))
}
