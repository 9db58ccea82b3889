//! Command-line definitions only; `main.rs` dispatches them.

use crate::convert::InputFormat;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Moves contact-center conversation history between LivePerson (Messaging
/// History API) and Hubster (engine Activities), in both directions.
#[derive(Debug, Parser)]
#[command(name = "convsync", version, about, long_about = None)]
pub struct Cli {
    /// Config file (TOML). Without one, built-in defaults apply (see
    /// README, "Configuration").
    #[arg(long, global = true, env = "CONVSYNC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
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

    /// Print deterministic LivePerson conversations as JSONL (for rehearsals
    /// and benchmarks): every content type, bots, receipts, unicode,
    /// records out of order.
    Generate(GenerateArgs),
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
