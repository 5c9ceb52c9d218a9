use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use hydrant_bench::{FixtureSet, FixtureWriter, Recorded, Server};
use hydrant_engine::{BenchReport, Interrupt, Job, OutputFormat, RunOptions, Summary, Vars};

use crate::{BenchArgs, Command, JobArgs, RecordArgs, RunArgs};

/// The command line is wrong: exit code 2, like a config error.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A run under `--strict` that gave warnings: its output is written, and
/// the exit code (3) asks for a look.
#[derive(Debug)]
pub(crate) struct Warned(usize);

impl std::fmt::Display for Warned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = if self.0 == 1 { "" } else { "s" };
        write!(
            f,
            "--strict: the run gave {} warning{s} (above, and in the summary); its output is written",
            self.0
        )
    }
}

impl std::error::Error for Warned {}

/// Whether the run ended because its standard output was closed.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<hydrant_engine::Error>()
            .is_some_and(hydrant_engine::Error::is_broken_pipe)
            || cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<Usage>().is_some() {
        return 2;
    }
    if error.downcast_ref::<Warned>().is_some() {
        return 3;
    }
    match error.downcast_ref::<hydrant_engine::Error>() {
        Some(e) if e.is_config() => 2,
        // 128 + the signal, as a shell reports a process it stopped.
        Some(e) if e.is_interrupted() => 128 + SIGNAL.load(Ordering::SeqCst).max(2),
        _ => 1,
    }
}

/// The signal that stopped the run: 2 (SIGINT) or 15 (SIGTERM); 0 while
/// none came.
static SIGNAL: AtomicU8 = AtomicU8::new(0);

/// Turns the first SIGINT or SIGTERM into an interrupt of the run, which
/// then writes what it has and ends; a second one ends the process at once.
#[cfg(unix)]
fn watch_signals(interrupt: Interrupt) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("cannot watch for SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    tokio::spawn(async move {
        loop {
            let number: u8 = tokio::select! {
                _ = int.recv() => 2,
                _ = term.recv() => 15,
            };
            if SIGNAL.swap(number, Ordering::SeqCst) != 0 {
                std::process::exit(128 + i32::from(number));
            }
            interrupt.trigger();
        }
    });
    Ok(())
}

/// Ctrl-C alone, where there are no Unix signals.
#[cfg(not(unix))]
fn watch_signals(interrupt: Interrupt) -> Result<()> {
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if SIGNAL.swap(2, Ordering::SeqCst) != 0 {
                std::process::exit(130);
            }
            interrupt.trigger();
        }
    });
    Ok(())
}

/// Whether messages on stderr get colours: on a terminal, unless
/// `NO_COLOR` is set; anywhere when `CLICOLOR_FORCE` is set (not `0`).
fn colours(terminal: bool, var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    if var("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    terminal && var("NO_COLOR").is_none()
}

pub fn init_logging(quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::progress::LogWriter)
        .with_target(false)
        .with_ansi(colours(std::io::stderr().is_terminal(), |name| {
            std::env::var_os(name).filter(|v| !v.is_empty())
        }))
        .init();
}

pub fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Query { path, file } => query(&path, file.as_deref()),
        Command::Convert { file, pick } => {
            print!("{}", hydrant_engine::Job::convert(&file, &pick.pick())?);
            Ok(())
        }
        Command::State { job, reset } => {
            let job = load(&job)?;
            if reset {
                hydrant_engine::reset_state(&job)?;
                eprintln!("hydrant: the bookmark of `{}` is forgotten", job.name());
            } else {
                let state = hydrant_engine::state(&job)?;
                println!("{}", serde_json::to_string_pretty(&state)?);
            }
            Ok(())
        }
        Command::Explain(args) => {
            // Secrets may not be set where a job is written: they show as
            // *** whatever their value, so an unset one reads as *** too.
            let vars = vars(&args)?.masking_unset();
            let job = Job::load_picking(&args.job, &vars, &args.pick.pick())?;
            let text = hydrant_engine::explain(&job)?;
            let unset = vars.unset();
            if !unset.is_empty() {
                println!("# not set, shown as ***: {}", unset.join(", "));
            }
            print!("{text}");
            Ok(())
        }
        Command::Run(command) => {
            let args = command.run;
            let shard = command.shard.as_deref().map(parse_shard).transpose()?;
            let part = Part {
                resume: command.resume,
                backfill: command.from.map(|from| hydrant_engine::Backfill {
                    from,
                    to: command.to,
                }),
                shard,
                strict: command.strict,
            };
            let mut summary_to = summary_path(&args)?;
            let seen = Seen::default();
            let result = run_job(&args, None).and_then(|mut job| {
                if let Some((i, n)) = shard {
                    job.name_for_shard(i, n, args.output.is_none());
                }
                check_files_beside(&job, None, &mut summary_to)?;
                let runtime = runtime_for(&job, &args.job)?;
                runtime.block_on(run(args, job, None, seen.clone(), part))
            });
            failed_summary(&result, summary_to.as_deref(), &seen);
            result
        }
        Command::Record(args) => {
            let mut summary_to = summary_path(&args.run)?;
            let seen = Seen::default();
            let result = run_job(&args.run, Some(&args.to)).and_then(|job| {
                check_files_beside(&job, Some(&args.to), &mut summary_to)?;
                runtime_for(&job, &args.run.job)?.block_on(record(args, job, seen.clone()))
            });
            failed_summary(&result, summary_to.as_deref(), &seen);
            result
        }
        Command::Bench(args) => {
            let job = bench_job(&args)?;
            runtime_for(&job, &args.job)?.block_on(bench(args, job))
        }
        Command::Check(args) => runtime()?.block_on(check(args)),
        Command::Schema(args) => runtime()?.block_on(schema(args)),
        Command::Replay { dir, addr } => runtime()?.block_on(replay(&dir, &addr)),
        Command::Init(args) => runtime()?.block_on(crate::init::init(args)),
        Command::Completions { shell } => {
            let mut command = crate::command();
            clap_complete::generate(shell, &mut command, "hydrant", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            clap_mangen::Man::new(crate::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
    }
}

/// The runtime for `job`. A followed job (each request waits on the
/// answer before it) is bound by the latency of its chain of requests: on
/// a current-thread runtime no step of that chain waits for another thread
/// to wake, and its pages are made on the engine's own maker threads
/// anyway. Concurrent requests, and a `--replay` server in the process,
/// get a worker per core.
fn runtime_for(job: &Job, args: &JobArgs) -> Result<tokio::runtime::Runtime> {
    if job.is_followed() && args.replay.is_none() {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime");
    }
    runtime()
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load(args: &JobArgs) -> Result<Job> {
    Ok(Job::load_picking(
        &args.job,
        &vars(args)?,
        &args.pick.pick(),
    )?)
}

/// The `--var NAME=VALUE` of the command line, over the environment.
fn vars(args: &JobArgs) -> Result<Vars> {
    let mut vars = Vec::with_capacity(args.vars.len());
    for item in &args.vars {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| Usage(format!("--var `{item}`: expected NAME=VALUE")))?;
        vars.push((name.to_owned(), value.to_owned()));
    }
    Ok(Vars::new(vars))
}

/// Starts the replay server for `--replay DIR`; keep it alive for the run.
async fn options(args: &JobArgs) -> Result<(RunOptions, Option<Server>)> {
    replay_options(args.replay.as_deref()).await
}

/// The options of a run against the fixture set in `dir`, if any, with
/// its server; keep the server alive for the run.
pub(crate) async fn replay_options(
    dir: Option<&std::path::Path>,
) -> Result<(RunOptions, Option<Server>)> {
    let Some(dir) = dir else {
        return Ok((RunOptions::default(), None));
    };
    let set = FixtureSet::load(dir).map_err(|e| Usage(format!("--replay: {e}")))?;
    let server = hydrant_bench::serve(set, ([127, 0, 0, 1], 0).into())
        .await
        .context("cannot start the replay server")?;
    let options = RunOptions {
        redirect_to: Some(server.url().parse().context("replay server address")?),
        ..RunOptions::default()
    };
    Ok((options, Some(server)))
}

/// `record`: a run whose exchanges are saved in `--to DIR`.
async fn record(args: RecordArgs, job: Job, seen: Seen) -> Result<()> {
    run(args.run, job, Some(&args.to), seen, Part::default()).await
}

/// The job of `run` or `record`, with the command line's overrides.
fn run_job(args: &RunArgs, record_to: Option<&std::path::Path>) -> Result<Job> {
    let mut job = load(&args.job)?;
    if record_to.is_some() && job.is_write() {
        return Err(Usage(format!(
            "`{}` is a write job: only the exchanges of read jobs are recorded",
            args.job.job.display()
        ))
        .into());
    }
    if let Some(path) = &args.output {
        job.set_output_path(path);
    }
    if let Some(format) = &args.format {
        job.set_output_format(parse_format(format)?);
    }
    if let Some(max) = args.max_requests {
        if max == 0 {
            return Err(Usage("--max-requests must be at least 1".to_owned()).into());
        }
        job.set_max_requests(max);
    }
    Ok(job)
}

/// What part of a job `run` runs: a backfill, one shard of N.
#[derive(Default)]
struct Part {
    /// `--resume`: `run` only, as a recording must see every exchange.
    resume: bool,
    backfill: Option<hydrant_engine::Backfill>,
    shard: Option<(u32, u32)>,
    /// `--strict`: a run that gives a warning fails with [`Warned`].
    strict: bool,
}

/// `I/N`, with 1 ≤ I ≤ N.
fn parse_shard(text: &str) -> Result<(u32, u32)> {
    let bad = || {
        Usage(format!(
            "--shard `{text}`: expected I/N with 1 <= I <= N, such as 2/8"
        ))
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || i > n {
        return Err(bad().into());
    }
    Ok((i, n))
}

/// The progress a run had made when it last said, for the summary of a
/// run that fails.
type Seen = Arc<Mutex<Option<hydrant_engine::Progress>>>;

async fn run(
    args: RunArgs,
    job: Job,
    record_to: Option<&std::path::Path>,
    seen: Seen,
    part: Part,
) -> Result<()> {
    let (mut options, _server) = options(&args.job).await?;
    options.resume = part.resume;
    options.backfill = part.backfill;
    if let Some((i, n)) = part.shard {
        let parts = hydrant_engine::partitions(&job, n, &options).await?;
        let Some(partition) = parts.into_iter().nth(i as usize - 1) else {
            eprintln!(
                "hydrant: shard {i}/{n} has nothing to do: the job makes fewer than {i} partitions"
            );
            return Ok(());
        };
        if let (Some(reason), false) = (&partition.reason, args.job.quiet) {
            eprintln!("hydrant: the job is one partition: {reason}");
        }
        if job.is_incremental() && !args.job.quiet {
            // A shard run day after day would read the same stretch again.
            eprintln!(
                "hydrant: warning: shard {i}/{n} reads from the stored bookmark and moves none; a run of the whole job moves it"
            );
        }
        options.partition = Some(partition);
    }
    let interrupt = Interrupt::new();
    watch_signals(interrupt.clone())?;
    options.interrupt = Some(interrupt);
    let recorder = record_to
        .map(|dir| {
            let writer = FixtureWriter::create(dir).map_err(|e| Usage(format!("--to: {e}")))?;
            Ok::<_, Usage>(Arc::new(Mutex::new(writer)))
        })
        .transpose()?;
    if let Some(writer) = &recorder {
        let writer = writer.clone();
        options.on_exchange = Some(Arc::new(move |taken| {
            let mut writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
            let request = Recorded {
                method: taken.method,
                target: &taken.target,
                secret_query: taken.secret_query,
                body: taken.request_body,
            };
            writer.add(request, taken.status, taken.headers, taken.body)?;
            Ok(())
        }));
    }
    let line =
        crate::progress::Line::start(args.job.quiet, job.output_path(), job.planned_requests())
            .map(Arc::new);
    let shown = line.clone();
    options.on_progress = Some(Box::new(move |p| {
        *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(*p);
        if let Some(line) = &shown {
            line.update(p);
        }
    }));
    let result = hydrant_engine::run(&job, options).await;
    drop(line);
    let mut recorder = recorder
        .as_ref()
        .map(|writer| writer.lock().unwrap_or_else(PoisonError::into_inner));
    let summary = match (result, recorder.as_deref_mut()) {
        (Ok(summary), Some(recorder)) => {
            let exchanges = recorder.finish()?;
            if let Some(dir) = record_to.filter(|_| !args.job.quiet) {
                eprintln!(
                    "hydrant: recorded {exchanges} exchanges in {}",
                    dir.display()
                );
            }
            summary
        }
        (Err(error), Some(recorder)) => {
            recorder.discard();
            return Err(error.into());
        }
        (result, None) => result?,
    };
    if let Some(path) = &args.summary_json {
        let text = serde_json::to_vec_pretty(&summary).context("cannot encode the summary")?;
        write_summary(path, &text)?;
    }
    if !args.job.quiet {
        eprintln!("{}", describe(&summary));
    }
    if part.strict && !summary.warnings.is_empty() {
        return Err(Warned(summary.warnings.len()).into());
    }
    Ok(())
}

/// `--summary-json`'s file, refused when it is the job file. Checked
/// before the job is read, so that the summary of a job file that does
/// not load does not replace it; the rest of the run's files are checked
/// once it is ([`check_files_beside`]).
fn summary_path(args: &RunArgs) -> Result<Option<PathBuf>> {
    let path = args.summary_json.clone();
    let job = args.job.job.canonicalize().ok();
    if let Some(path) = path.as_deref()
        && job.is_some()
        && path.canonicalize().ok() == job
    {
        return Err(Usage(format!(
            "--summary-json `{}` is the job file: one would overwrite the other",
            path.display()
        ))
        .into());
    }
    Ok(path)
}

/// Checks `--summary-json`'s file, and `record`'s folder `to`, against
/// the files the run reads and writes. On a clash no summary is written:
/// it may be the file at fault.
fn check_files_beside(
    job: &Job,
    to: Option<&Path>,
    summary_to: &mut Option<PathBuf>,
) -> Result<()> {
    let summary = summary_to.as_deref().filter(|path| path.as_os_str() != "-");
    let also: Vec<_> = summary
        .map(|path| ("--summary-json", path))
        .into_iter()
        .collect();
    let checked = also
        .iter()
        .try_for_each(|(key, path)| job.check_file_beside(key, path))
        .and_then(|()| to.map_or(Ok(()), |to| job.check_folder_beside("--to", to, &also)));
    if let Err(error) = checked {
        *summary_to = None;
        return Err(error.into());
    }
    Ok(())
}

/// Makes the missing folders on the way to `path`, as a run does for its
/// output; `what` names the file in the error.
pub(crate) fn make_folders(path: &Path, what: &str) -> Result<()> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot make the folder of {what} `{}`", path.display()))?;
    }
    Ok(())
}

/// Writes `--summary-json`: to a file, or to stderr for `-`.
fn write_summary(path: &std::path::Path, text: &[u8]) -> Result<()> {
    if path.as_os_str() == "-" {
        let mut stderr = std::io::stderr().lock();
        stderr.write_all(text)?;
        stderr.write_all(b"\n")?;
        return Ok(());
    }
    // A run that wrote every record should not fail for want of its
    // report's folder.
    make_folders(path, "--summary-json")?;
    std::fs::write(path, text)
        .with_context(|| format!("cannot write --summary-json `{}`", path.display()))
}

/// The `--summary-json` of a run that failed: what it had done when it
/// last said, and the error with its exit code.
/// One that cannot be written is warned of: the run's own error is the
/// one its exit code and message tell.
fn failed_summary(result: &Result<()>, path: Option<&std::path::Path>, seen: &Seen) {
    let (Err(error), Some(path)) = (result, path) else {
        return;
    };
    // Its summary, whole, is written already.
    if error.downcast_ref::<Warned>().is_some() {
        return;
    }
    let progress = seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .unwrap_or_default();
    let summary = serde_json::json!({
        "records": progress.records,
        "requests": progress.requests,
        "bytes": progress.bytes,
        "dirty": progress.dirty,
        "error": {
            "message": format!("{error:#}"),
            "exit_code": exit_code(error),
        },
    });
    let text = serde_json::to_vec_pretty(&summary).expect("a summary is plain data");
    if let Err(e) = write_summary(path, &text) {
        eprintln!("hydrant: warning: {e:#}");
    }
}

fn parse_format(format: &str) -> Result<OutputFormat> {
    Ok(OutputFormat::parse(format).ok_or_else(|| {
        Usage(format!(
            "--format `{format}`: expected ndjson, csv, parquet or raw"
        ))
    })?)
}

fn bench_job(args: &BenchArgs) -> Result<Job> {
    let mut job = load(&args.job)?;
    if let Some(format) = &args.format {
        job.set_output_format(parse_format(format)?);
    }
    Ok(job)
}

async fn bench(args: BenchArgs, job: Job) -> Result<()> {
    let (options, _server) = options(&args.job).await?;
    let line = crate::progress::Line::message(
        args.job.quiet,
        "running the job, then fetching its requests again",
    );
    let result = hydrant_engine::bench(&job, options).await;
    drop(line);
    let report = result?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).context("cannot encode the report")?;
        writeln!(out)?;
    } else {
        write!(out, "{}", bench_table(&report))?;
    }
    Ok(())
}

fn bench_table(report: &BenchReport) -> String {
    let mut text = format!(
        "job {}: {} records, {} requests, {} received, {} encoded; stopped: {}\n",
        report.job,
        report.records,
        report.run.requests,
        human_bytes(report.run.bytes),
        human_bytes(report.output_bytes),
        report.stopped
    );
    text.push_str(&format!(
        "{:<10} {:>12} {:>12} {:>9} {:>8} {:>8} {:>9}\n",
        "", "requests/s", "records/s", "MB/s", "p50 ms", "p99 ms", "CPU s/GB"
    ));
    for (name, phase) in [("run", &report.run), ("raw fetch", &report.raw)] {
        let cpu = phase
            .cpu_s_per_gb
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}"));
        text.push_str(&format!(
            "{name:<10} {:>12.0} {:>12.0} {:>9.1} {:>8.2} {:>8.2} {cpu:>9}\n",
            phase.requests_per_s,
            phase.records_per_s,
            phase.mb_per_s,
            phase.latency_p50_ms,
            phase.latency_p99_ms,
        ));
    }
    text.push_str(&format!(
        "run / raw fetch: {:.2}x; {} cores",
        report.ratio, report.cores
    ));
    if let Some(rss) = report.peak_rss_mb {
        text.push_str(&format!("; peak RSS {rss:.1} MB"));
    }
    text.push('\n');
    text
}

fn describe(summary: &Summary) -> String {
    let mut text = match &summary.write {
        Some(write) => format!(
            "hydrant: {} records delivered, {} rejected, {} retried, in {} batches; {} requests, {} sent in {:.2}s to {}",
            write.delivered,
            write.rejected,
            write.retried,
            write.batches,
            summary.requests,
            human_bytes(summary.bytes),
            summary.elapsed_s,
            summary.output
        ),
        None => describe_read(summary),
    };
    // A warning logged as it happened is not said again.
    for warning in summary
        .warnings
        .iter()
        .filter(|w| !crate::progress::logged(w))
    {
        text.push_str(&format!("\nhydrant: warning: {warning}"));
    }
    text
}

fn describe_read(summary: &Summary) -> String {
    format!(
        "hydrant: {} records ({} dirty) from {} requests, {} in {:.2}s; stopped: {}; output: {}",
        summary.records,
        summary.dirty,
        summary.requests,
        human_bytes(summary.bytes),
        summary.elapsed_s,
        summary.stopped,
        summary.output
    )
}

pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

async fn check(args: JobArgs) -> Result<()> {
    let job = load(&args)?;
    if job.is_write() {
        return check_write(&job);
    }
    let (options, _server) = options(&args).await?;
    let report = hydrant_engine::check(&job, options, 5).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "job:     {} (valid)", job.name())?;
    let (method, url) = (&report.method, &report.url);
    writeln!(out, "request: {method} {url} -> {}", report.status)?;
    match &report.api_count {
        Some(counted) => writeln!(
            out,
            "records: {} on the first page; the API counts {counted}",
            report.records
        )?,
        None => writeln!(out, "records: {} on the first page", report.records)?,
    }
    if let Some(next) = &report.next {
        writeln!(out, "next:    {next}")?;
    }
    if let Some(missing) = &report.records_missing {
        writeln!(out, "warning: {missing}")?;
    }
    for warning in &report.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    if report.format == OutputFormat::Raw {
        writeln!(out, "output:  raw: each body as it came, no columns")?;
    } else {
        writeln!(out, "columns:")?;
        for (name, kind) in &report.columns {
            writeln!(out, "  {name}: {kind}")?;
        }
    }
    writeln!(out, "first records:")?;
    for line in &report.sample {
        writeln!(out, "  {line}")?;
    }
    if !report.dirty.is_empty() {
        writeln!(out, "dirty on the first page:")?;
        for reason in &report.dirty {
            writeln!(out, "  {reason}")?;
        }
    }
    Ok(())
}

/// `check` of a write job: its first batch and request; nothing is sent.
fn check_write(job: &Job) -> Result<()> {
    let report = hydrant_engine::check_write(job)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "job:     {} (valid; a write job, nothing sent)",
        job.name()
    )?;
    writeln!(out, "input:   {}", report.input)?;
    writeln!(out, "records: {} in the first batch", report.records)?;
    for warning in &report.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    if !report.rejected.is_empty() {
        writeln!(out, "rejected before sending:")?;
        for reason in &report.rejected {
            writeln!(out, "  {reason}")?;
        }
    }
    writeln!(out, "request:")?;
    for line in report.request.lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

async fn schema(args: JobArgs) -> Result<()> {
    let job = load(&args)?;
    let (options, _server) = options(&args).await?;
    print!("{}", hydrant_engine::schema(&job, options).await?);
    Ok(())
}

fn query(path: &str, file: Option<&std::path::Path>) -> Result<()> {
    let document = match file {
        Some(file) => {
            std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?
        }
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read standard input")?;
            buf
        }
    };
    let mut out = hydrant_engine::query(path, &document)?;
    out.push(b'\n');
    std::io::stdout().write_all(&out)?;
    Ok(())
}

async fn replay(dir: &std::path::Path, addr: &str) -> Result<()> {
    let addr = addr
        .parse()
        .map_err(|e| Usage(format!("--addr `{addr}`: {e}")))?;
    let set = FixtureSet::load(dir).map_err(|e| Usage(e.to_string()))?;
    let count = set.exchanges().len();
    let server = hydrant_bench::serve(set, addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    println!("{}", server.url());
    std::io::stdout().flush()?;
    eprintln!(
        "hydrant: replaying {count} exchanges from {} on {} (ctrl-c to stop)",
        dir.display(),
        server.url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for ctrl-c")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::colours;

    #[test]
    fn colours_only_on_a_terminal_unless_forced() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        assert!(colours(true, env(&[])));
        assert!(!colours(false, env(&[])));
        assert!(!colours(true, env(&[("NO_COLOR", "1")])));
        assert!(colours(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!colours(false, env(&[("CLICOLOR_FORCE", "0")])));
    }
}
