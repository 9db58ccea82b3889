//! `doctor`: a read-only check of a config against the real platforms,
//! before the first run on an account. It finds the msgHist domain, lists
//! one conversation, reads its transcript by each LivePerson route, gets a
//! Hubster token and reads one of the hub's conversations, and reads the
//! store file (never opening it to write): it writes nothing and posts
//! nothing. Each check says what to change when it fails.

use crate::clock::now_ms;
use crate::config::Config;
use crate::http::{HttpError, Metrics};
use crate::platform::liveperson::{LivePersonClient, TranscriptError, TranscriptRoute};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

mod hubster;
mod unfilled;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    /// Works, with something to know.
    Warn,
    /// The configured pipeline cannot run until this is changed.
    Fail,
    /// Not checked (not used, or nothing to check it on).
    Skip,
}

/// One check: what, how it came out, what was seen, and what to change.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: String,
    pub outcome: Outcome,
    pub detail: String,
    /// What to change (empty when nothing).
    pub fix: String,
}

/// Every check, and whether the configured pipeline can run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    pub can_run: bool,
}

/// How long one check may take (retries included).
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a check failed: what the platform answered (marked when it refused
/// the credentials), or no answer in time.
#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error("{}{e}", refused(e))]
    Http {
        #[from]
        e: HttpError,
    },
    #[error("{}{e}", match e { TranscriptError::Http(h) => refused(h), _ => "" })]
    Transcript {
        #[from]
        e: TranscriptError,
    },
    /// Reading `what` failed.
    #[error("{what}: {source}")]
    Reading { what: String, source: HttpError },
    #[error("no answer within {} s", .0.as_secs())]
    NoAnswer(Duration),
}

/// "refused: " when the server refused the credentials.
fn refused(e: &HttpError) -> &'static str {
    if e.is_refused() { "refused: " } else { "" }
}

impl CheckError {
    /// Whether the server refused the credentials.
    fn is_refused(&self) -> bool {
        match self {
            CheckError::Http { e }
            | CheckError::Transcript {
                e: TranscriptError::Http(e),
            } => e.is_refused(),
            _ => false,
        }
    }
}

async fn timed<T, E: Into<CheckError>>(
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, CheckError> {
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(CheckError::NoAnswer(CHECK_TIMEOUT)),
    }
}

struct Checks(Vec<Check>);

impl Checks {
    fn push(&mut self, check: &str, outcome: Outcome, detail: String, fix: &str) {
        self.0.push(Check {
            check: check.to_owned(),
            outcome,
            detail,
            fix: fix.to_owned(),
        });
    }
}

/// One failed check per key `upstream`'s config leaves to fill in, and a
/// skip for the platform, which is not asked until none is left; whether
/// none was.
fn unfilled(c: &mut Checks, upstream: &str, keys: Vec<unfilled::Unfilled>) -> bool {
    if keys.is_empty() {
        return true;
    }
    for k in keys {
        c.push(
            &format!("config: {}", k.key),
            Outcome::Fail,
            k.why,
            &format!("fill in {}", k.key),
        );
    }
    c.push(
        &format!("{upstream}: platform"),
        Outcome::Skip,
        "not asked until the keys above are filled in".into(),
        "",
    );
    false
}

/// Runs every check of `config`.
pub async fn doctor(config: &Config) -> Report {
    let mut c = Checks(Vec::new());
    liveperson(config, &mut c).await;
    hubster::hubster(config, &mut c).await;
    store(config, &mut c);
    let can_run = c.0.iter().all(|k| k.outcome != Outcome::Fail);
    Report {
        checks: c.0,
        can_run,
    }
}

async fn liveperson(config: &Config, c: &mut Checks) {
    let Some(cfg) = &config.liveperson else {
        c.push(
            "liveperson: config",
            Outcome::Fail,
            "no [liveperson] section".into(),
            "add [liveperson] with account, source and auth (docs/configuration.md)",
        );
        return;
    };
    if !unfilled(&mut *c, "liveperson", unfilled::liveperson(cfg)) {
        return;
    }
    let lp = match LivePersonClient::new(cfg, Arc::new(Metrics::default())) {
        Ok(lp) => lp,
        Err(e) => {
            c.push(
                "liveperson: credentials",
                Outcome::Fail,
                e.to_string(),
                "set the environment variable or systemd credential named in [liveperson.auth]",
            );
            return;
        }
    };
    // A verdict now: an address that cannot be reached is named at once.
    lp.upstream().fail_when_unreachable();
    match timed(lp.base()).await {
        Ok(base) => c.push(
            "liveperson: msgHist domain",
            Outcome::Ok,
            if cfg.domain.is_some() {
                format!("{base} (configured)")
            } else {
                format!("{base} (from CSDS {})", cfg.csds_url)
            },
            "",
        ),
        Err(e) => {
            c.push(
                "liveperson: msgHist domain",
                Outcome::Fail,
                e.to_string(),
                "check liveperson.account and liveperson.csds_url, or give liveperson.domain",
            );
            return;
        }
    }

    // One window (88 days: within three calendar months however they
    // fall, after rounding to 10 minutes), one result.
    let now = now_ms();
    let from = now - 88 * 24 * 3600 * 1000;
    let found = timed(lp.first_conversation(from, now)).await;
    let conversation = match found {
        Ok((n, first)) => {
            c.push(
                "liveperson: conversations/search",
                Outcome::Ok,
                format!("{n} conversation(s) started in the last 88 days"),
                "",
            );
            first.map(|f| f.conversation_id)
        }
        Err(e) => {
            let fix = if e.is_refused() {
                "liveperson.auth: a brand's app key (consumer_key, consumer_secret, token, token_secret) allowed to read Messaging Interactions"
            } else {
                "check the network path to the msgHist domain and liveperson.source"
            };
            c.push(
                "liveperson: conversations/search",
                Outcome::Fail,
                e.to_string(),
                fix,
            );
            return;
        }
    };
    let Some(id) = conversation else {
        c.push(
            "liveperson: transcripts",
            Outcome::Warn,
            "no conversation in the last 88 days to read a transcript of".into(),
            "run doctor again once the account has a conversation",
        );
        return;
    };

    let mode = cfg.transcripts;
    let app_key = lp.route_state().app_key;
    // Which routes the pipeline reads by: content search (explicitly, or
    // first under `auto` for a bearer), interactions (explicitly, under
    // `auto` for an app key, or when content search does not serve).
    let search_used = match mode {
        TranscriptRoute::ContentSearch => true,
        TranscriptRoute::Interactions => false,
        TranscriptRoute::Auto => !app_key,
    };
    let search = if mode == TranscriptRoute::Interactions {
        c.push(
            "liveperson: content search",
            Outcome::Skip,
            "not used (transcripts = \"interactions\")".into(),
            "",
        );
        None
    } else {
        let r = timed(lp.content(&id)).await;
        let not_used = "not used: a brand's app key reads Messaging Interactions under transcripts = \"auto\" (content search is documented for a consumer's JWT)";
        match r {
            Ok(records) if !search_used => {
                c.push(
                    "liveperson: content search",
                    Outcome::Skip,
                    format!("{not_used}; it answered {} record(s)", records.len()),
                    "",
                );
                Some(records.len())
            }
            Ok(records) if records.is_empty() => {
                let (outcome, fix) = if mode == TranscriptRoute::ContentSearch {
                    (
                        Outcome::Fail,
                        "set liveperson.transcripts = \"auto\" (or \"interactions\"): an empty answer for a listed conversation proves nothing, and convsync would hold every conversation open",
                    )
                } else {
                    (
                        Outcome::Warn,
                        "none: under \"auto\" each conversation content search answers empty is read by Messaging Interactions",
                    )
                };
                c.push(
                    "liveperson: content search",
                    outcome,
                    format!("no records for conversation {id}, which conversations/search lists: not a proof of an empty conversation"),
                    fix,
                );
                Some(0)
            }
            Ok(records) => {
                c.push(
                    "liveperson: content search",
                    Outcome::Ok,
                    format!("{} record(s) of conversation {id}", records.len()),
                    "",
                );
                Some(records.len())
            }
            Err(e) => {
                let (outcome, fix) = match mode {
                    _ if !search_used => (Outcome::Skip, ""),
                    TranscriptRoute::ContentSearch => (
                        Outcome::Fail,
                        "set liveperson.transcripts = \"auto\" (or \"interactions\"): content search is documented for a consumer's JWT",
                    ),
                    _ => (
                        Outcome::Warn,
                        "none: transcripts = \"auto\" reads Messaging Interactions instead",
                    ),
                };
                let detail = if search_used {
                    e.to_string()
                } else {
                    format!("{not_used}; it answered: {e}")
                };
                c.push("liveperson: content search", outcome, detail, fix);
                None
            }
        }
    };
    let interactions = if mode == TranscriptRoute::ContentSearch {
        // Not used; asked to compare the routes.
        let r = timed(lp.interactions_transcript(&id)).await;
        let (detail, n) = match r {
            Ok(f) if f.shown.is_whole() => (
                format!("it answered {} record(s)", f.records.len()),
                Some(f.records.len()),
            ),
            Ok(f) => (f.shown.describe().to_owned(), None),
            Err(e) => (format!("it answered: {e}"), None),
        };
        c.push(
            "liveperson: interactions transcript",
            Outcome::Skip,
            format!("not used (transcripts = \"content_search\"); {detail}"),
            "",
        );
        n
    } else {
        let r = timed(lp.interactions_transcript(&id)).await;
        match r {
            Ok(f) if f.shown.is_whole() => {
                c.push(
                    "liveperson: interactions transcript",
                    Outcome::Ok,
                    format!("{} record(s) of conversation {id}", f.records.len()),
                    "",
                );
                Some(f.records.len())
            }
            Ok(f) => {
                c.push(
                    "liveperson: interactions transcript",
                    Outcome::Warn,
                    format!(
                        "conversation {id}: {} ({} record(s)); such conversations are delivered as far as the answer goes, never sealed, and read again",
                        f.shown.describe(),
                        f.records.len()
                    ),
                    "run doctor again later; `convsync status` lists conversations held open",
                );
                None
            }
            Err(e) => {
                let outcome = if mode == TranscriptRoute::Auto
                    && search.is_some_and(|n| n > 0)
                    && search_used
                {
                    Outcome::Warn
                } else {
                    Outcome::Fail
                };
                let fix = if e.is_refused() {
                    "liveperson.auth: a brand's app key allowed to read Messaging Interactions"
                } else {
                    "see the error; `convsync fetch liveperson --conversation-id ID` shows the transcript"
                };
                c.push(
                    "liveperson: interactions transcript",
                    outcome,
                    e.to_string(),
                    fix,
                );
                None
            }
        }
    };
    // Both routes answered: a route the pipeline uses must not answer
    // fewer records than the other.
    if let (Some(s), Some(i)) = (search, interactions)
        && s != i
    {
        let (short, used) = if s < i {
            ("content search", search_used)
        } else {
            (
                "Messaging Interactions",
                mode != TranscriptRoute::ContentSearch,
            )
        };
        let (outcome, fix) = if used
            && !(short == "content search" && s == 0 && mode == TranscriptRoute::Auto)
        {
            (
                Outcome::Fail,
                if short == "content search" {
                    "set liveperson.transcripts = \"interactions\": content search does not give this credential every record"
                } else {
                    "set liveperson.transcripts = \"content_search\" (with a consumer's JWT), and report the difference"
                },
            )
        } else {
            (Outcome::Warn, "")
        };
        c.push(
            "liveperson: routes agree",
            outcome,
            format!("conversation {id}: content search answered {s} record(s), Messaging Interactions {i}: {short} answers fewer"),
            fix,
        );
    }
    let route = match (mode, search, interactions) {
        (TranscriptRoute::ContentSearch, Some(n), _) if n > 0 => Some("content search"),
        (TranscriptRoute::Auto, Some(n), _) if n > 0 && search_used => Some("content search"),
        (_, _, Some(_)) if mode != TranscriptRoute::ContentSearch => Some("Messaging Interactions"),
        _ => None,
    };
    match route {
        Some(r) => c.push(
            "liveperson: transcript route",
            Outcome::Ok,
            format!("transcripts will come by {r}"),
            "",
        ),
        None => c.push(
            "liveperson: transcript route",
            Outcome::Fail,
            "no configured route can read a transcript".into(),
            "fix the credentials above, or choose another liveperson.transcripts",
        ),
    }
}

/// The store file, read without changing it: whether it is convsync's and
/// whole, and whether it was found (or will be found) restored or
/// recreated.
fn store(config: &Config, c: &mut Checks) {
    use crate::store::{Store, StoreError};
    const CHECK: &str = "store";
    let path = config.sync.store_path();
    if !path.exists() {
        let marker = crate::store::marker_path(&path);
        if marker.exists() {
            c.push(
                CHECK,
                Outcome::Warn,
                format!(
                    "{} is missing while its marker {} says a store was there: the next run makes a new one, and reads the hub for each conversation it knew before sending",
                    path.display(),
                    marker.display()
                ),
                "put the store back if you have it (a copy from `convsync store backup`), else nothing: the hub is read",
            );
        } else {
            c.push(
                CHECK,
                Outcome::Skip,
                format!("{}: none yet (the first run makes it)", path.display()),
                "",
            );
        }
        return;
    }
    match Store::check(&path) {
        Ok(k) => {
            let conversations: u64 = k.pipelines.values().map(|p| p.0).sum();
            let detail = format!(
                "{}: schema {}, {conversations} conversation(s), {} pending intent(s), {} dead letter(s)",
                path.display(),
                k.schema,
                k.intents,
                k.dead_letters
            );
            let behind = crate::store::behind_its_marker(&k);
            if k.backup_of.is_some() || behind {
                c.push(
                    CHECK,
                    Outcome::Warn,
                    format!(
                        "{detail}; it is {}: the next run reads the hub for each conversation it holds a checkpoint of before sending",
                        if k.backup_of.is_some() {
                            "a backup copy"
                        } else {
                            "not the store its marker counts (an older copy, or another store)"
                        }
                    ),
                    "",
                );
            } else if let Some(f) = k.finding.filter(|f| now_ms() - f.at_ms < 7 * 86_400_000) {
                c.push(
                    CHECK,
                    Outcome::Warn,
                    format!("{detail}; {}", f.describe()),
                    "",
                );
            } else {
                c.push(CHECK, Outcome::Ok, detail, "");
            }
        }
        Err(StoreError::InUse(_)) => c.push(
            CHECK,
            Outcome::Skip,
            format!("{}: held by a running convsync", path.display()),
            "`convsync status` says what it holds",
        ),
        Err(e) => c.push(
            CHECK,
            Outcome::Fail,
            e.to_string(),
            "move the file aside, or put back a copy that `convsync store check` accepts",
        ),
    }
}
