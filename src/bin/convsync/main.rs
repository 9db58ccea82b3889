//! The `convsync` binary: parses the command line, sets up logging and the
//! runtime, dispatches to [`commands`], and maps how each ended to the
//! documented exit codes ([`exit`], the one place that does).

mod cli;
mod commands;
mod exit;
mod progress;
mod sim_args;
mod status;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, ConvertArgs, GenerateArgs, LogFormat, Platform, ReportFormat};
use convsync::config::Config;
use convsync::ops::convert::{self, ConvertFailure, Direction, Options};
use exit::Exit;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The man pages: convsync's on stdout, or, with `dir`, convsync.1 and
/// convsync-<command>.1 for every command written there.
fn man(dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd).render(&mut std::io::stdout().lock())?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |name: &str, page: clap::Command| -> anyhow::Result<()> {
        let path = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))
    };
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("convsync-{}", sub.get_name());
        write(
            &name,
            sub.clone()
                .name(name.clone())
                .bin_name(name.replace('-', " ")),
        )?;
    }
    write("convsync", cmd)
}

/// `init`: the starting config to a new file, or to stdout.
fn init(args: cli::InitArgs) -> anyhow::Result<()> {
    let instance = args.instance.as_deref();
    if let Some(i) = instance
        && (i.is_empty()
            || !i
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        anyhow::bail!(
            "--instance {i:?}: an instance name is letters, digits, '-', '_' and '.' (it names files under /etc/convsync)"
        );
    }
    match &args.path {
        Some(path) => {
            convsync::ops::init::write(path, instance)?;
            eprintln!(
                "convsync: wrote {}: fill in each \"<fill in\" value, then run doctor",
                path.display()
            );
            Ok(())
        }
        None => {
            // An instance's metrics port: one no config in /etc/convsync takes.
            let text = convsync::ops::init::config_text_for(
                instance,
                std::path::Path::new("/etc/convsync"),
            );
            std::io::stdout().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

/// mimalloc: the daemon allocates and frees small buffers for every
/// record, request and checkpoint; glibc's allocator took about a quarter
/// of its steady-state CPU at 10,000 conversations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let config = match &cli.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("convsync: {e}");
                return Exit::Usage.into();
            }
        },
        None => Config::default(),
    };
    let result = match cli.command {
        Command::Convert(args) => run_convert(args, &config),
        Command::Generate(args) => run_generate(args).map(|()| Exit::Success),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "convsync", &mut std::io::stdout());
            Ok(Exit::Success)
        }
        Command::Man { dir } => man(dir.as_deref()).map(|()| Exit::Success),
        Command::Fetch(args) => block_on(commands::fetch(args, &config)),
        Command::Discover(args) => block_on(commands::discover(args, &config)),
        Command::Sim(args) => block_on(commands::sim(args)),
        Command::Run(args) => block_on(commands::run(args, &config)),
        Command::Demo(args) => block_on(commands::demo(args)),
        Command::Status(args) => block_on(status::status(args, &config)),
        Command::Prune(args) => block_on(commands::prune(args, &config)),
        Command::Store(args) => block_on(commands::store(args, &config)),
        Command::Verify(args) => block_on(commands::verify_daemon(args, &config)),
        Command::Doctor(args) => block_on(commands::doctor(args, &config)),
        Command::Init(args) => init(args).map(|()| Exit::Success),
        Command::Backfill(args) => block_on(commands::backfill(args, &config)),
        Command::Migrate(args) => block_on(commands::migrate(args, &config)),
        Command::DeadLetters(args) => block_on(commands::dead_letters(args, &config)),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            // An operation's error says all there is to say; others (I/O
            // on the terminal, the runtime) with their causes.
            match e.downcast_ref::<convsync::ops::Error>() {
                Some(op) => eprintln!("convsync: {op}"),
                None => eprintln!("convsync: {e:#}"),
            }
            Exit::of_error(&e).into()
        }
    }
}

/// Logs to stderr through tracing; the level comes from RUST_LOG (default
/// `warn`).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour only on a terminal, and never under NO_COLOR (no-color.org).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs an async command on a runtime with every core.
fn block_on(fut: impl std::future::Future<Output = anyhow::Result<Exit>>) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(fut)
}

fn open_output(path: &Option<PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout())),
    })
}

fn run_convert(args: ConvertArgs, config: &Config) -> anyhow::Result<Exit> {
    let to = args.to.unwrap_or(match args.from {
        Platform::Liveperson => Platform::Hubster,
        Platform::Hubster => Platform::Liveperson,
    });
    let direction = match (args.from, to) {
        (Platform::Liveperson, Platform::Hubster) => Direction::ToHubster,
        (Platform::Hubster, Platform::Liveperson) => Direction::ToLivePerson,
        _ => {
            eprintln!("convsync: --from and --to name the same platform; nothing to convert");
            return Ok(Exit::Usage);
        }
    };
    let input: Box<dyn BufRead + Send> = match &args.input {
        Some(p) if p.as_os_str() != "-" => Box::new(BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        _ => Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
    };
    let name = args
        .input
        .as_ref()
        .filter(|p| p.as_os_str() != "-")
        .map_or("<stdin>".into(), |p| p.display().to_string());
    let mut output = open_output(&args.output)?;
    // A content-search response names no conversation when its records
    // have no dialogId: the file's name then says which it is.
    let file_stem = args
        .input
        .as_ref()
        .filter(|p| p.as_os_str() != "-")
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned());
    let opts = Options {
        direction,
        conversation_id: args.conversation_id,
        file_stem,
        pretty: args.pretty,
        input_format: args.input_format.into(),
        threads: args.threads,
    };
    let stderr = std::io::stderr();
    let mut on_error = |e: &convert::LineError| {
        let _ = writeln!(stderr.lock(), "convsync: {name}: {e}");
    };
    let report = match convert::run(input, &mut output, &opts, &config.mapping, &mut on_error) {
        Ok(r) => r,
        Err(ConvertFailure::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(Exit::Success);
        }
        Err(e) => {
            eprintln!("convsync: {name}: {e}");
            return Ok(Exit::Failed);
        }
    };
    output.flush().context("cannot write the output")?;
    match args.report {
        ReportFormat::Text => eprint!("{report}"),
        ReportFormat::Json => eprintln!("{}", serde_json::to_string(&report)?),
        ReportFormat::None => {}
    }
    Ok(if report.failed > 0 {
        Exit::Partial
    } else {
        Exit::Success
    })
}

fn run_generate(args: GenerateArgs) -> anyhow::Result<()> {
    let mut out = open_output(&args.output)?;
    convsync::sim::generate::jsonl(args.seed, args.conversations, args.messages, &mut out)?;
    out.flush()?;
    Ok(())
}
