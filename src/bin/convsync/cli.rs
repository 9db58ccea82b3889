//! Command-line definitions only; `main.rs` dispatches them. The clap
//! types live here, never in the library: the few library enums a flag
//! names have a mirror here.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Moves contact-center conversation history between LivePerson (Messaging
/// History API) and Hubster (engine Activities), in both directions.
#[derive(Debug, Parser)]
#[command(name = "convsync", version, about, long_about = None)]
pub struct Cli {
    /// Config file (TOML). Without one, built-in defaults apply (see
    /// docs/configuration.md).
    #[arg(long, global = true, env = "CONVSYNC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format on stderr (level from RUST_LOG, e.g. RUST_LOG=debug).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert conversations between the two formats, file to file.
    ///
    /// LivePerson input: a content-search response ({"messageEventRecords":
    /// [...]}), a bare array of records, or JSONL with one
    /// {"conversationId": .., "messageEventRecords": [..]} per line.
    /// Hubster input: an array of activities, or JSONL with one
    /// {"conversationId": .., "activities": [..]} per line.
    /// The output mirrors the input: JSON in, JSON out; JSONL in, JSONL out.
    ///
    /// A JSONL line that cannot be converted is reported on stderr with its
    /// line number and skipped; the rest is converted.
    ///
    /// Exit codes: 0 all converted; 1 failed (unreadable or malformed
    /// input, I/O error); 2 bad usage or config; 3 some lines failed, the
    /// rest converted.
    ///
    /// Examples:
    ///   convsync convert --from liveperson conversation.json --pretty
    ///   convsync convert --from liveperson history.jsonl -o activities.jsonl
    ///   convsync convert --from hubster --conversation-id C1 activities.json
    #[command(verbatim_doc_comment)]
    Convert(ConvertArgs),

    /// Print a deterministic LivePerson test corpus as JSONL.
    ///
    /// Print deterministic LivePerson conversations as JSONL (for rehearsals
    /// and benchmarks): every content type, bots, receipts, unicode,
    /// records out of order.
    Generate(GenerateArgs),

    /// Print a shell completion script.
    ///
    /// Print the shell completion script for SHELL (bash, zsh, fish,
    /// elvish, powershell).
    ///
    /// Examples:
    ///   convsync completions bash > /usr/share/bash-completion/completions/convsync
    ///   convsync completions zsh > /usr/local/share/zsh/site-functions/_convsync
    ///   convsync completions fish > ~/.config/fish/completions/convsync.fish
    #[command(verbatim_doc_comment)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print convsync's man page (roff), or write one page per command.
    ///
    /// Examples:
    ///   convsync man > /usr/local/share/man/man1/convsync.1
    ///   convsync man --dir /usr/local/share/man/man1     # convsync.1, convsync-run.1, ...
    #[command(verbatim_doc_comment)]
    Man {
        /// Write convsync.1 and convsync-<command>.1 into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },

    /// Print one conversation as a platform returns it.
    ///
    /// Print one conversation as a platform returns it (to check a config
    /// against a real account).
    ///
    /// Examples:
    ///   convsync --config config.toml fetch liveperson --conversation-id 4f3c...
    ///   convsync --config config.toml fetch hubster --conversation-id 9a1b... --leid 0
    #[command(verbatim_doc_comment)]
    Fetch(FetchArgs),

    /// List LivePerson conversations of a time range.
    ///
    /// List LivePerson conversations started in a time range, one JSON
    /// object per line (conversationId, status, start, latest update).
    ///
    /// Dates: YYYY-MM-DD, RFC 3339 (2026-01-31T12:00:00Z) or epoch ms.
    /// The range is asked in windows of at most 3 months; conversations
    /// LivePerson reports as partial are fetched again by id.
    ///
    /// Example:
    ///   convsync --config config.toml discover --since 2026-01-01 --until 2026-02-01
    #[command(verbatim_doc_comment)]
    Discover(DiscoverArgs),

    /// Run the sync daemon: keep the target in step with LivePerson.
    ///
    /// Each cycle finds conversations updated since the last (less a
    /// lookback), syncs them with bounded concurrency, and waits
    /// poll_interval. SIGTERM or Ctrl-C: no new work, in-flight
    /// conversations finish (up to shutdown_timeout), exit 0; a second
    /// signal exits at once (the next start recovers).
    ///
    /// Exit codes: 0 stopped cleanly (--until-idle: everything caught up);
    /// 1 failed, or (--until-idle) a credential refused or a hub with
    /// nobody to route to, named with what to check; 2 bad config;
    /// 4 another convsync is using the store; with --until-idle also
    /// 5 some conversations went to dead letters (convsync dead-letters
    /// list), 7 some held back: LivePerson's answers did not prove them
    /// whole (convsync status lists them; a later run reads them again).
    #[command(verbatim_doc_comment)]
    Run(RunArgs),

    /// Sync a range of LivePerson history once.
    ///
    /// Sync a range of history once, through the daemon's pipeline and
    /// checkpoints (nothing the daemon delivered is sent again, and the
    /// other way round). The range goes in windows of at most 3 months;
    /// finished windows are recorded, so a backfill stopped or killed and
    /// started again with the same arguments goes on where it stopped.
    /// Windows with OPEN conversations (and the last, when the range ends
    /// now) are read again by the next run: only what is new is sent.
    /// With the daemon running, the backfill is handed to it (over its
    /// control socket) and runs beside live sync; Ctrl-C cancels it.
    ///
    /// Exit codes: 0 all done; 1 failed (or conversations still failing:
    /// run it again); 2 bad config; 4 another convsync is using the store;
    /// 5 done, but some conversations went to dead letters;
    /// 7 done, but some held back: LivePerson's answers did not prove
    /// them whole (a later run reads them again);
    /// 130 stopped by a signal (run it again to go on).
    ///
    /// Example:
    ///   convsync --config config.toml backfill --since 2025-01-01 --until 2026-01-01
    #[command(verbatim_doc_comment)]
    Backfill(BackfillArgs),

    /// Run a migration the config describes.
    ///
    /// Run a migration the config describes ([[migration]]): from the
    /// LivePerson API, the Hubster engine or a directory of files, to the
    /// Hubster engine, a directory (activities JSONL or LivePerson JSON,
    /// one file per conversation) or stdout.
    ///
    /// Resumable and idempotent: it keeps checkpoints in the store, so a
    /// stopped or killed migration run again goes on where it stopped, and
    /// a finished one run again writes nothing new. With the daemon
    /// running, a run is handed to it (over its control socket) and runs
    /// beside live sync; Ctrl-C cancels it.
    ///
    /// --dry-run reads and converts everything and prints, per
    /// conversation, what would be written (counts and warnings), writing
    /// nothing. --verify, after the migration (or alone with --dry-run),
    /// compares source and target per conversation (counts, externalIds or
    /// sequences, order), writes a JSON report and prints a summary.
    ///
    /// Exit codes: 0 done (and, with --verify, 0 differences); 1 failed
    /// (or conversations still failing: run it again); 2 bad config or
    /// usage; 4 another convsync is using the store; 5 done, but some
    /// conversations went to dead letters; 6 --verify found differences;
    /// 130 stopped by a signal (run it again to go on).
    ///
    /// Examples:
    ///   convsync --config sim.toml migrate --list
    ///   convsync --config sim.toml migrate liveperson-to-hubster --dry-run
    ///   convsync --config sim.toml migrate liveperson-to-hubster --verify
    ///   convsync --config sim.toml migrate hubster-to-liveperson-files
    #[command(verbatim_doc_comment)]
    Migrate(MigrateArgs),

    /// Compare the daemon's pipeline with the hub.
    ///
    /// Compare the daemon's pipeline with its target: for every
    /// conversation the daemon has synced, what LivePerson holds, converted,
    /// against what the hub (or the sink's files) holds, by externalId and
    /// order; missing, unexpected, duplicated and out-of-order activities
    /// are listed. The same report as `migrate --verify`. Reads the store:
    /// stop the daemon first.
    ///
    /// Exit codes: 0 no differences; 1 failed; 2 bad config; 4 another
    /// convsync is using the store; 6 differences found.
    ///
    /// Example:
    ///   convsync --config config.toml verify --report verify.json
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),

    /// Check a config against the real platforms (read-only).
    ///
    /// Check a config against the real platforms before the first run, and
    /// say what to change. Read-only: it writes nothing, posts nothing and
    /// opens no store.
    ///
    /// It finds the msgHist domain (CSDS), lists one conversation of the
    /// last 88 days, reads its transcript by content search and by
    /// Messaging Interactions (as liveperson.transcripts uses them), gets a
    /// Hubster token and reads one conversation of hubster.hub_id. Prints a
    /// table: check, result (ok, warn, FAIL, skip), what it saw, what to
    /// change.
    ///
    /// Exit codes: 0 the configured pipeline can run; 1 a check failed;
    /// 2 bad config.
    ///
    /// Example:
    ///   convsync --config /etc/convsync/config.toml doctor
    #[command(verbatim_doc_comment)]
    Doctor(DoctorArgs),

    /// Write a commented starting config for a real account.
    ///
    /// The brand's app key and the Hubster client secret are systemd
    /// credentials; what only you know (the account id, the Hubster client
    /// id, the hub's integration ids) is a "<fill in: ...>" placeholder,
    /// which `doctor` names until it is filled in. Without PATH the config
    /// goes to stdout; a PATH that exists is never overwritten.
    ///
    /// Examples:
    ///   convsync init /etc/convsync/config.toml
    ///   convsync init --instance brand-a /etc/convsync/brand-a.toml   # for convsync@brand-a
    ///   convsync init | convsync --config /dev/stdin doctor
    Init(InitArgs),

    /// What the daemon has done, running or not.
    ///
    /// What the daemon has done: conversations, activities delivered,
    /// watermark and lag, dead letters, pending intents. Works while the
    /// daemon runs (asking its endpoint) and while it does not (reading
    /// the store).
    Status(StatusArgs),

    /// Apply retention to the store now.
    ///
    /// Apply retention now, as the daemon does at start and every hour:
    /// conversations last updated more than sync.retention_days ago (426:
    /// LivePerson's 13 months and a month) leave the store of the
    /// pipelines that read the LivePerson API, their ids kept as 16-byte
    /// digests so that one the source still returns is not sent again;
    /// their dead letters and finished backfill windows go too. After a
    /// prune that removed a tenth of a pipeline or more, the file is
    /// compacted. Prints what it removed, as JSON. Needs the store: with
    /// the daemon running, leave it to the daemon.
    ///
    /// --as-of DATE prunes as if it were DATE (to rehearse a retention).
    ///
    /// Exit codes: 0 done; 1 failed; 2 bad config; 4 another convsync is
    /// using the store.
    #[command(verbatim_doc_comment)]
    Prune(PruneArgs),

    /// Back up the store, or check a store file before putting it in place.
    ///
    /// `backup PATH` writes a consistent copy of the store (what was
    /// committed when it began), through the running daemon when it holds
    /// the store. A store put back from such a copy, an older copy of any
    /// kind, or a lost one made anew is noticed when it is opened: each
    /// conversation it holds a checkpoint of is read back from the hub
    /// before anything more is sent, so nothing is delivered twice.
    ///
    /// Examples:
    ///   convsync --config c.toml store backup /var/backups/convsync-$(date +%F).redb
    ///   convsync store check /var/backups/convsync-2026-12-01.redb
    ///
    /// Exit codes: 0 done; 1 failed (or the file is no convsync store);
    /// 2 bad usage; 4 another convsync holds the store and offers no
    /// control socket.
    #[command(verbatim_doc_comment)]
    Store(StoreArgs),

    /// List, retry or drop conversations set aside.
    ///
    /// Conversations set aside after their retry budget: list them, retry
    /// them now, or drop them. With the daemon running, retry and drop are
    /// handed to it (over its control socket).
    ///
    /// The daemon's and backfills' are under sync.pipeline; a migration's
    /// under its name (or its `pipeline`):
    ///   convsync --config c.toml dead-letters --pipeline hubster-to-liveperson-files list
    #[command(verbatim_doc_comment)]
    DeadLetters(DeadLettersArgs),

    /// Sync the built-in simulator and check the result.
    ///
    /// Show the whole product working, with no account and no network:
    /// start the simulator, run the daemon until every conversation is
    /// caught up, check the simulated hub holds exactly what LivePerson
    /// had, once each and in order, and print a summary (exit 0 only if so).
    Demo(DemoArgs),

    /// Run the simulator of both platforms on loopback.
    ///
    /// Serves LivePerson (CSDS, content search, conversations/search,
    /// conversation/search) and Hubster (token, establish, inbound
    /// activities, get activities, the hub's established conversations) from
    /// seeded data, with faults on demand. --strict makes both platforms as
    /// strict as their documentation (content search only for a consumer's
    /// JWT, which it prints; an app-key config from --write-config).
    /// When ready it prints one JSON line with its URLs, account and
    /// credentials; --write-config writes a convsync config pointing at it.
    /// GET /sim/stats, /sim/ledger and /sim/conversations show what it saw.
    ///
    /// Example:
    ///   convsync sim --conversations 200 --fault-429 0.3 --retry-after mixed --write-config sim.toml
    #[command(verbatim_doc_comment)]
    Sim(SimArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// End after the first cycle with nothing to do (a one-shot catch-up; its exit codes: see --help).
    #[arg(long)]
    pub until_idle: bool,
}

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// Conversations started at or after this (YYYY-MM-DD, RFC 3339, epoch ms).
    #[arg(long, value_name = "DATE")]
    pub since: String,
    /// ... and at or before this (default: now).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Keep checkpoints under this name (default: sync.pipeline, shared
    /// with the daemon).
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,
    /// Only these conversations: a file with one id per line.
    #[arg(long, value_name = "FILE")]
    pub conversation_ids: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The migration's name (`name` in its [[migration]]).
    #[arg(required_unless_present = "list", value_name = "NAME")]
    pub name: Option<String>,
    /// List the configured migrations and their state instead.
    #[arg(long, conflicts_with_all = ["name", "dry_run", "verify"])]
    pub list: bool,
    /// Read and convert, print what would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Compare source and target afterwards (with --dry-run: only compare).
    #[arg(long)]
    pub verify: bool,
    /// Where --verify writes its JSON report (default:
    /// <sync.state_dir>/<NAME>.verify.json).
    #[arg(long, value_name = "FILE", requires = "verify")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Where the JSON report goes (default:
    /// <sync.state_dir>/<sync.pipeline>.verify.json).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub action: StoreAction,
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Write a consistent copy of the store to PATH (which must not exist).
    Backup {
        #[arg(value_name = "PATH")]
        path: std::path::PathBuf,
    },
    /// Read a store file without changing it: that it is convsync's and
    /// whole, its schema, and what it holds (default: sync.state_dir's).
    Check {
        #[arg(value_name = "PATH")]
        path: Option<std::path::PathBuf>,
        /// Print what it found as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct DeadLettersArgs {
    /// Whose dead letters: a pipeline or migration name (default:
    /// sync.pipeline, the daemon's).
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,
    #[command(subcommand)]
    pub action: DeadLettersAction,
}

#[derive(Debug, Subcommand)]
pub enum DeadLettersAction {
    /// List them (conversation, error class, attempts, message).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Sync these conversations now; those that succeed leave the list.
    Retry {
        #[arg(required = true, value_name = "CONVERSATION_ID")]
        conversation_ids: Vec<String>,
    },
    /// Forget these dead letters.
    Drop {
        #[arg(required = true, value_name = "CONVERSATION_ID")]
        conversation_ids: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Conversations the simulator serves.
    #[arg(long, default_value_t = 50)]
    pub conversations: usize,
    /// Share of requests the simulator answers 429, to show them honoured.
    #[arg(long, default_value_t = 0.005)]
    pub fault_429: f64,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Which platform to read from.
    #[arg(value_enum)]
    pub platform: Platform,
    /// LivePerson: the conversation id. Hubster: the Hubster conversation id.
    #[arg(long, value_name = "ID")]
    pub conversation_id: String,
    /// Hubster: activities from this eventId on.
    #[arg(long, default_value_t = 0)]
    pub leid: i64,
    /// Indent the JSON.
    #[arg(long)]
    pub pretty: bool,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write it (default: stdout); refused if it exists.
    pub path: Option<PathBuf>,
    /// The account's instance of convsync@.service: its credentials are
    /// then read from /etc/convsync/credentials/INSTANCE/.
    #[arg(long, value_name = "INSTANCE")]
    pub instance: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print the checks as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// Conversations started at or after this.
    #[arg(long, value_name = "DATE")]
    pub since: String,
    /// ... and at or before this (default: now).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only conversations updated at or after this.
    #[arg(long, value_name = "DATE")]
    pub updated_since: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Prune as if it were this date (YYYY-MM-DD, RFC 3339 or epoch ms).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Platform {
    Liveperson,
    Hubster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A readable summary on stderr.
    Text,
    /// One JSON object on stderr.
    Json,
    /// No report.
    None,
}

#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// The format of the input.
    #[arg(long, value_enum)]
    pub from: Platform,
    /// The format to write (defaults to the other one).
    #[arg(long, value_enum)]
    pub to: Option<Platform>,
    /// Conversation id for a single JSON document. LivePerson: defaults to
    /// the one dialogId the records share. Hubster: required.
    #[arg(long, value_name = "ID")]
    pub conversation_id: Option<String>,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Pretty-print a single JSON document (JSONL stays one line each).
    #[arg(long)]
    pub pretty: bool,
    /// How the input is laid out.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub input_format: InputFormat,
    /// The per-run report on stderr.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// Worker threads for JSONL (0 = one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Input file; `-` or nothing reads stdin.
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// How many conversations.
    #[arg(long, default_value_t = 100)]
    pub conversations: u64,
    /// Average content records per conversation.
    #[arg(long, default_value_t = 20)]
    pub messages: usize,
    /// Seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// How the input is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// JSONL when the first line is a whole object and more follow (or it
    /// names a conversationId); one JSON document otherwise.
    Auto,
    /// One JSON document.
    Json,
    /// One conversation per line.
    Jsonl,
}

impl From<InputFormat> for convsync::ops::convert::InputFormat {
    fn from(f: InputFormat) -> Self {
        match f {
            InputFormat::Auto => Self::Auto,
            InputFormat::Json => Self::Json,
            InputFormat::Jsonl => Self::Jsonl,
        }
    }
}

pub use crate::sim_args::{OnOff, SimArgs};
