//! `hydrant`: pull records out of REST APIs as fast as the API allows.
//!
//! A thin shell over `hydrant-engine`: argument parsing, progress display,
//! logging and exit codes (0 success, 1 the run failed, 2 usage or config).

mod commands;
mod init;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Examples:
  hydrant run job.toml                      records to stdout (or output.path)
  hydrant run job.toml -o out.parquet       Parquet, whatever the job says
  hydrant explain job.toml                  the first requests, secrets masked
  hydrant run examples/quickstart.toml --replay fixtures/issues

Exit codes:
  0  every record was fetched and written (or sent)
  1  the run failed: HTTP, data, dirty or reject limit
  2  usage or config error: a bad argument or job file; nothing was sent
  130, 143  stopped by SIGINT or SIGTERM (with [state], --resume goes on)

Environment:
  RUST_LOG                  log filter, e.g. `hydrant=debug` (default: info)
  NO_COLOR, CLICOLOR_FORCE  no colours; colours even off a terminal
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY
                            proxies, as curl reads them
  ${NAME} in a job file     read from --var NAME=VALUE, else the environment

Docs: docs/guide/ (how-to), docs/reference/ (every key and option)";

#[derive(Parser)]
#[command(
    name = "hydrant",
    version,
    about = "Pull records out of REST APIs as fast as the API allows",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a job: fetch every page and write the records.
    #[command(
        after_help = "Example:\n  hydrant run job.toml --var TOKEN=abc -o issues.ndjson\n  hydrant run job.toml --resume          continue a run that was cut off\n  hydrant run job.toml --shard 2/4       the second of four partitions"
    )]
    Run(RunCommand),
    /// Validate a job, send its first request, show status, records and columns.
    #[command(after_help = "Example:\n  hydrant check job.toml")]
    Check(JobArgs),
    /// Show the first requests the job would send, secrets masked.
    #[command(after_help = "Example:\n  hydrant explain job.toml")]
    Explain(JobArgs),
    /// Infer `[[columns]]` from the first page and print them as TOML.
    #[command(after_help = "Example:\n  hydrant schema job.toml >> job.toml")]
    Schema(JobArgs),
    /// Print the native TOML job that a DataWorks, Data Factory or YAML job file means, with a
    /// comment for each key it does not carry over.
    #[command(
        after_help = "Example:\n  hydrant convert pipeline.json --activity CopyFromRest > job.toml"
    )]
    Convert {
        /// The job file of the other system.
        file: std::path::PathBuf,
        #[command(flatten)]
        pick: PickArgs,
    },
    /// Evaluate a path (JSONPath or dotted) on a JSON document; print a JSON array.
    #[command(
        after_help = "Example:\n  curl -s https://api.example.com/items | hydrant query '$.data[*].id'"
    )]
    Query {
        /// `$.data[*].id` or `data.items`.
        path: String,
        /// The document; standard input when absent.
        file: Option<PathBuf>,
    },
    /// Run a job for a throughput report beside the raw-fetch ceiling of
    /// the same requests; nothing is written.
    #[command(after_help = "Example:\n  hydrant bench job.toml --replay fixtures/issues")]
    Bench(BenchArgs),
    /// Run a job and save every exchange as a fixture set for `--replay`.
    #[command(after_help = "Example:\n  hydrant record job.toml --to fixtures/my-api")]
    Record(RecordArgs),
    /// Print an incremental job's bookmark(s) and the windows of a run
    /// under way, as JSON; `--reset` forgets them.
    #[command(after_help = "Example:\n  hydrant state job.toml\n  hydrant state job.toml --reset")]
    State {
        #[command(flatten)]
        job: JobArgs,
        /// Forget the bookmark(s) and any checkpoint: the next run starts
        /// again from incremental.start.
        #[arg(long)]
        reset: bool,
    },
    /// Serve a fixture set over HTTP.
    #[command(after_help = "Example:\n  hydrant replay fixtures/issues --addr 127.0.0.1:8080")]
    Replay {
        /// The fixture set's folder (made by `hydrant record`).
        dir: PathBuf,
        /// The address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
    },
    /// Probe an API's first page and write a job that fetches every page:
    /// records path, pagination and columns guessed, credentials as ${VAR}.
    #[command(
        after_help = "Example:\n  hydrant init 'https://api.example.com/v1/orders?limit=100' --bearer \"$TOKEN\" --out orders.toml"
    )]
    Init(init::InitArgs),
    /// Print a completion script for a shell.
    #[command(
        after_help = "Example:\n  hydrant completions bash > ~/.local/share/bash-completion/completions/hydrant"
    )]
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff); `cargo xtask man` writes it to a file.
    #[command(hide = true)]
    Man,
}

#[derive(Args)]
struct JobArgs {
    /// The job file (.toml or .json).
    job: PathBuf,
    /// A value for ${NAME} in the job file; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Run against a fixture set served in-process instead of the job's host.
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
    /// Show only errors.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    pick: PickArgs,
}

/// Which part of another system's job file to run, when it holds several.
#[derive(Args, Clone, Default)]
struct PickArgs {
    /// The Copy activity of a Data Factory pipeline.
    #[arg(long, value_name = "NAME")]
    activity: Option<String>,
    /// The entry of a YAML file's CONFIG.inputs.
    #[arg(long, value_name = "NAME")]
    input: Option<String>,
    /// The entry of a YAML file's CONFIG.outputs.
    #[arg(long = "output-name", value_name = "NAME")]
    output_name: Option<String>,
}

impl PickArgs {
    fn pick(&self) -> hydrant_engine::Pick {
        let mut pick = hydrant_engine::Pick::default();
        pick.activity.clone_from(&self.activity);
        pick.input.clone_from(&self.input);
        pick.output.clone_from(&self.output_name);
        pick
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    job: JobArgs,
    /// Output path, `-` for stdout (overrides output.path).
    #[arg(long, short)]
    output: Option<String>,
    /// ndjson, csv, parquet or raw (overrides output.format).
    #[arg(long)]
    format: Option<String>,
    /// Stop after this many requests.
    #[arg(long)]
    max_requests: Option<u64>,
    /// Write the run summary as JSON to this file.
    #[arg(long, value_name = "PATH")]
    summary_json: Option<PathBuf>,
}

#[derive(Args)]
struct RunCommand {
    #[command(flatten)]
    run: RunArgs,
    /// Continue a run that was cut off, from its `[state]` checkpoint.
    #[arg(long)]
    resume: bool,
    /// Backfill an incremental job from this cursor value (inclusive),
    /// without reading or moving its bookmark.
    #[arg(long, value_name = "T")]
    from: Option<String>,
    /// The end of a backfill (exclusive); needs --from.
    #[arg(long, value_name = "T", requires = "from")]
    to: Option<String>,
    /// Run the I-th (from 1) of N partitions of the job: its fan-out
    /// values, requests or windows. The output path gets `-I-of-N`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Exit 3 when the run gives a warning (fewer records than the API
    /// counts, a page that says it was cut short); the output is written.
    #[arg(long)]
    strict: bool,
}

#[derive(Args)]
struct RecordArgs {
    #[command(flatten)]
    run: RunArgs,
    /// The folder to save the fixture set in; created if missing.
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    job: JobArgs,
    /// ndjson, csv or raw: the encoding measured (overrides output.format).
    #[arg(long)]
    format: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The command line's definition, for completions and the man page.
fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let quiet = match &cli.command {
        Command::Run(args) => args.run.job.quiet,
        Command::Record(args) => args.run.job.quiet,
        Command::Bench(args) => args.job.quiet,
        Command::Check(args) | Command::Explain(args) | Command::Schema(args) => args.quiet,
        Command::State { job, .. } => job.quiet,
        _ => false,
    };
    commands::init_logging(quiet);
    match commands::dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // `hydrant run … | head`: the reader had what it wanted.
        Err(error) if commands::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hydrant: error: {error:#}");
            ExitCode::from(commands::exit_code(&error))
        }
    }
}

/// Keeps glibc from handing freed buffers' pages back to the kernel.
///
/// A run frees a body, its cells and its encoded rows every page (about
/// 1 MB for 1000 records). glibc's default, adaptive thresholds returned
/// those pages once they were free, and the next page took them back one
/// page fault at a time: 45–61 k faults over 1000 next_link pages, ~10% of
/// the run's time. With these thresholds a run takes ~5 k faults and its
/// peak RSS is unchanged, as a run holds a bounded number of pages. The
/// engine leaves the allocator to its embedder; the CLI is one.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // Buffers up to this size come from the heap rather than their own
    // mapping, which glibc unmaps on free.
    const MMAP_THRESHOLD: libc::c_int = 4 << 20;
    // Free memory at the top of a heap kept, rather than trimmed.
    const TRIM_THRESHOLD: libc::c_int = 8 << 20;
    // SAFETY: `mallopt` only sets the allocator's parameters, and runs
    // here before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
