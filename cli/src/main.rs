//! `hydrant`: pull records out of REST APIs as fast as the API allows.
//!
//! A thin shell over `hydrant-engine`: argument parsing, progress display,
//! logging and exit codes (0 success, 1 the run failed, 2 usage or config).

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "hydrant",
    version,
    about = "Pull records out of REST APIs as fast as the API allows"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a job: fetch every page and write the records.
    Run(RunCommand),
    /// Validate a job, send its first request, show status, records and columns.
    Check(JobArgs),
    /// Show the first requests the job would send, secrets masked.
    Explain(JobArgs),
    /// Infer [[columns]] from the first page and print them as TOML.
    Schema(JobArgs),
    /// Print the native TOML job that a DataWorks, Data Factory or YAML job file means, with a
    /// comment for each key it does not carry over.
    Convert {
        /// The job file of the other system.
        file: std::path::PathBuf,
        #[command(flatten)]
        pick: PickArgs,
    },
    /// Evaluate a path (JSONPath or dotted) on a JSON document; print a JSON array.
    Query {
        /// `$.data[*].id` or `data.items`.
        path: String,
        /// The document; standard input when absent.
        file: Option<PathBuf>,
    },
    /// Run a job for a throughput report beside the raw-fetch ceiling of
    /// the same requests; nothing is written.
    Bench(BenchArgs),
    /// Run a job and save every exchange as a fixture set for `--replay`.
    Record(RecordArgs),
    /// Print an incremental job's bookmark(s) and the windows of a run
    /// under way, as JSON; `--reset` forgets them.
    State {
        #[command(flatten)]
        job: JobArgs,
        /// Forget the bookmark(s) and any checkpoint: the next run starts
        /// again from incremental.start.
        #[arg(long)]
        reset: bool,
    },
    /// Serve a fixture set over HTTP.
    Replay {
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
    },
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
    /// Continue a run that was cut off, from [state].
    #[arg(long)]
    resume: bool,
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
