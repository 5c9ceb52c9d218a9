//! `cargo xtask e2e-bench [PAGES] [RECORDS] [SHAPE]`: `hydrant run` against
//! a local corpus API in each pagination style, to NDJSON and to Parquet
//! files, beside `curl` fetching the same pages to /dev/null and writing
//! them to a file, in the same run. `SHAPE+gzip` serves the pages
//! gzip-compressed (and curl gets `--compressed`).
//!
//! A file output is synced before it takes its name; curl's is not. So a
//! second table weighs that sync: hydrant writing NDJSON to stdout
//! redirected to a file (no sync, as curl), and curl's file synced after
//! curl ends (`fsync`, timed here).
//!
//! The server is hydrant-bench's `corpus-api` (hyper), in its own process.
//! Each measurement is run three times, all taking turns; the medians go
//! to a table on stdout, and every run to `target/e2e-bench.json`. Beside
//! the wall time, each client's CPU time is kept: on a shared host it
//! moves less from hour to hour than the wall time does.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{cargo, root};

const STYLES: [&str; 4] = ["offset", "next_link", "cursor", "link_header"];

/// Runs of each measurement; the median is reported, and every run is
/// kept in the JSON.
const RUNS: usize = 3;

/// One run of a client (hydrant or curl).
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    /// Wall time.
    seconds: f64,
    /// User and system time of the client and its threads.
    cpu_s: f64,
    /// Peak resident set, in kB.
    rss_kb: u64,
}

/// Kills the server when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let pages = args.first().map_or("1000", String::as_str);
    let records = args.get(1).map_or("1000", String::as_str);
    let shape = args.get(2).map_or("nested", String::as_str);
    let total: u64 = pages.parse::<u64>()? * records.parse::<u64>()?;
    if Command::new("curl").arg("--version").output().is_err() {
        bail!("curl is needed for the baseline: apt-get install curl");
    }
    cargo(&[
        "build",
        "--release",
        "-p",
        "hydrant-cli",
        "-p",
        "hydrant-bench",
        "--bin",
        "hydrant",
        "--bin",
        "corpus-api",
    ])?;
    let bin = root().join("target/release");
    let dir = root().join("target/e2e");
    std::fs::create_dir_all(&dir)?;

    let mut child = Command::new(bin.join("corpus-api"))
        .args([shape, pages, records, "50", "127.0.0.1:0"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start corpus-api")?;
    let stdout = child.stdout.take().context("corpus-api stdout")?;
    let server = Server(child);
    let mut url = String::new();
    BufReader::new(stdout).read_line(&mut url)?;
    if url.trim().is_empty() {
        bail!("corpus-api did not start");
    }
    eprintln!(
        "e2e-bench: {pages} pages × {records} {shape} records on {}",
        url.trim()
    );

    let gzip = shape.ends_with("+gzip");
    let mut results = Vec::new();
    for style in STYLES {
        let job = dir.join(format!("{style}.toml"));
        if !job.exists() {
            continue;
        }
        results.push(bench_style(&bin, &dir, style, total, gzip)?);
    }
    drop(server);

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let report = json!({ "pages": pages, "records_per_page": records, "shape": shape, "cores": cores, "runs_each": RUNS, "runs": results });
    let path = root().join("target/e2e-bench.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    print_table(&results, total);
    println!(
        "\n{cores} cores; the median of {RUNS} runs each, taking turns; results in {}",
        path.display()
    );
    Ok(())
}

/// What a style measures, each an index into its runs: hydrant to its
/// NDJSON file, to Parquet, to stdout and to a raw file; curl to
/// /dev/null, to a file, to a file then synced, and four at once to
/// /dev/null (offset only).
const NDJSON: usize = 0;
const PARQUET: usize = 1;
const STDOUT: usize = 2;
const CURL_NULL: usize = 3;
const CURL_FILE: usize = 4;
const CURL_SYNCED: usize = 5;
const CURL_4: usize = 6;
const RAW: usize = 7;
const MEASURED: usize = 8;

/// One style: hydrant to NDJSON, to Parquet, to stdout and to raw bodies,
/// and curl fetching the same pages to /dev/null and to a file, taking
/// turns.
fn bench_style(bin: &Path, dir: &Path, style: &str, total: u64, gzip: bool) -> Result<Value> {
    let job = dir.join(format!("{style}.toml"));
    let summary_path = dir.join(format!("{style}.summary.json"));
    let output = dir.join(format!("{style}.ndjson"));
    let parquet = dir.join(format!("{style}.parquet"));
    let curl_config = dir.join(format!("{style}.curl"));
    let curl_file = dir.join(format!("{style}.curl.out"));
    let stdout_file = dir.join(format!("{style}.stdout.ndjson"));
    let raw_file = dir.join(format!("{style}.raw"));
    let mut runs: [Vec<Run>; MEASURED] = Default::default();
    let mut summary = Value::Null;
    let (mut output_bytes, mut parquet_bytes) = (0, 0);
    // The line breaks in the bodies, which a raw output leaves out.
    let mut breaks = None;
    let hydrant = |to: To<'_>| -> Result<Run> {
        let mut command = Command::new(bin.join("hydrant"));
        command
            .arg("run")
            .arg(&job)
            .arg("--quiet")
            .arg("--summary-json")
            .arg(&summary_path);
        match to {
            To::JobOutput => {}
            To::File(format, path) => {
                command
                    .arg("--format")
                    .arg(format)
                    .arg("--output")
                    .arg(path);
            }
            To::Stdout(path) => {
                command
                    .arg("--output")
                    .arg("-")
                    .stdout(std::fs::File::create(path)?);
            }
        }
        measure(&mut command, "hydrant")
    };
    for _ in 0..RUNS {
        runs[NDJSON].push(hydrant(To::JobOutput)?);
        summary = serde_json::from_slice(&std::fs::read(&summary_path)?)?;
        if summary["records"].as_u64() != Some(total) {
            bail!(
                "{style}: hydrant wrote {} records, not {total}",
                summary["records"]
            );
        }
        output_bytes = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&output).ok();
        runs[PARQUET].push(hydrant(To::File("parquet", &parquet))?);
        parquet_bytes = std::fs::metadata(&parquet).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&parquet).ok();
        runs[CURL_NULL].push(curl(&curl_config, 1, None, gzip)?);
        let to_file = curl(&curl_config, 1, Some(&curl_file), gzip)?;
        if breaks.is_none() {
            breaks = Some(line_breaks(&curl_file)?);
        }
        runs[CURL_FILE].push(to_file);
        runs[CURL_SYNCED].push(synced(to_file, &curl_file)?);
        std::fs::remove_file(&curl_file).ok();
        runs[STDOUT].push(hydrant(To::Stdout(&stdout_file))?);
        if std::fs::metadata(&stdout_file)?.len() != output_bytes {
            bail!("{style}: hydrant's stdout and its file output differ in size");
        }
        std::fs::remove_file(&stdout_file).ok();
        runs[RAW].push(hydrant(To::File("raw", &raw_file))?);
        // Each body without its line breaks, and a line break after it.
        let raw_bytes = std::fs::metadata(&raw_file)?.len();
        let (bodies, requests) = (summary["bytes"].as_u64(), summary["requests"].as_u64());
        let lines = bodies
            .zip(requests)
            .map(|(b, r)| b + r - breaks.unwrap_or(0));
        if Some(raw_bytes) != lines {
            bail!("{style}: hydrant's raw output holds {raw_bytes} bytes, not the bodies'");
        }
        std::fs::remove_file(&raw_file).ok();
        if style == "offset" {
            runs[CURL_4].push(curl(&curl_config, 4, None, gzip)?);
        }
    }
    let sizes = Sizes {
        output: output_bytes,
        parquet: parquet_bytes,
    };
    Ok(style_row(style, total, &runs, &summary, sizes))
}

/// The line feeds and carriage returns in a file: bodies hold them where
/// the API pretty-prints its pages.
fn line_breaks(path: &Path) -> Result<u64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0; 1 << 20];
    let mut count = 0;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(count);
        }
        count += (buffer[..read].iter())
            .filter(|&&b| b == b'\n' || b == b'\r')
            .count() as u64;
    }
}

/// The bytes of hydrant's NDJSON and Parquet outputs.
#[derive(Clone, Copy)]
struct Sizes {
    output: u64,
    parquet: u64,
}

/// The row of `target/e2e-bench.json` for one style: medians, every
/// run's time, and the ratios the table prints.
fn style_row(
    style: &str,
    total: u64,
    runs: &[Vec<Run>; MEASURED],
    summary: &Value,
    sizes: Sizes,
) -> Value {
    // The median wall and CPU time of one measurement.
    let wall = |i: usize| median(&runs[i], |r| r.seconds);
    let cpu = |i: usize| median(&runs[i], |r| r.cpu_s);
    let (ndjson_s, file_s) = (wall(NDJSON), wall(CURL_FILE));
    let [rss_ndjson, rss_parquet] =
        [NDJSON, PARQUET].map(|i| runs[i].iter().map(|r| r.rss_kb).max().unwrap_or(0));
    let seconds = |i: usize| runs[i].iter().map(|r| r.seconds).collect::<Vec<_>>();
    let bytes = summary["bytes"].as_u64().unwrap_or(0);
    let mut row = json!({
        "style": style,
        "records": total,
        "requests": summary["requests"],
        "bytes": bytes,
        "output_bytes": sizes.output,
        "parquet_bytes": sizes.parquet,
        "hydrant_s": ndjson_s,
        "hydrant_runs_s": seconds(NDJSON),
        "hydrant_cpu_s": cpu(NDJSON),
        "gb_per_cpu_s": bytes as f64 / 1e9 / cpu(NDJSON),
        "records_per_s": total as f64 / ndjson_s,
        "mb_per_s": bytes as f64 / 1e6 / ndjson_s,
        "peak_rss_mb": rss_ndjson as f64 * 1024.0 / 1e6,
        "parquet_s": wall(PARQUET),
        "parquet_runs_s": seconds(PARQUET),
        "parquet_cpu_s": cpu(PARQUET),
        "parquet_peak_rss_mb": rss_parquet as f64 * 1024.0 / 1e6,
        "curl_s": wall(CURL_NULL),
        "curl_runs_s": seconds(CURL_NULL),
        "curl_file_s": file_s,
        "curl_file_runs_s": seconds(CURL_FILE),
        "curl_file_cpu_s": cpu(CURL_FILE),
        "curl_file_synced_s": wall(CURL_SYNCED),
        "curl_file_synced_runs_s": seconds(CURL_SYNCED),
        "hydrant_stdout_s": wall(STDOUT),
        "hydrant_stdout_runs_s": seconds(STDOUT),
        "ratio_to_curl": wall(CURL_NULL) / ndjson_s,
        "ratio_to_curl_file": file_s / ndjson_s,
        "parquet_to_ndjson": ndjson_s / wall(PARQUET),
        "ratio_to_curl_file_synced": wall(CURL_SYNCED) / ndjson_s,
        "stdout_ratio_to_curl_file": file_s / wall(STDOUT),
        "raw_s": wall(RAW),
        "raw_runs_s": seconds(RAW),
        "raw_cpu_s": cpu(RAW),
        "raw_ratio_to_curl_file": file_s / wall(RAW),
    });
    if style == "offset" {
        let parallel_s = wall(CURL_4);
        row["curl_parallel4_s"] = json!(parallel_s);
        row["ratio_to_curl_parallel4"] = json!(parallel_s / ndjson_s);
    }
    row
}

fn print_table(results: &[Value], total: u64) {
    println!(
        "| style | hydrant NDJSON | hydrant Parquet (size) | curl → /dev/null | curl → file | NDJSON ÷ curl → file | Parquet ÷ NDJSON | CPU-s NDJSON / Parquet / curl → file | peak RSS NDJSON / Parquet |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let per_s = |seconds: f64| total as f64 / seconds / 1e6;
    for row in results {
        let f = |key: &str| row[key].as_f64().unwrap_or(0.0);
        println!(
            "| {} | {:.2} M/s | {:.2} M/s ({:.0} MB) | {:.2} M/s | {:.2} M/s | {:.2}× | {:.2}× | {:.2} / {:.2} / {:.2} | {:.0} / {:.0} MB |",
            row["style"].as_str().unwrap_or(""),
            f("records_per_s") / 1e6,
            per_s(f("parquet_s")),
            f("parquet_bytes") / 1e6,
            per_s(f("curl_s")),
            per_s(f("curl_file_s")),
            f("ratio_to_curl_file"),
            f("parquet_to_ndjson"),
            f("hydrant_cpu_s"),
            f("parquet_cpu_s"),
            f("curl_file_cpu_s"),
            f("peak_rss_mb"),
            f("parquet_peak_rss_mb"),
        );
        if let Some(parallel) = row["ratio_to_curl_parallel4"].as_f64() {
            println!(
                "| {} (curl 4 at once → /dev/null) | | | {:.2} M/s | | NDJSON ÷ it {parallel:.2}× | | | |",
                row["style"].as_str().unwrap_or(""),
                per_s(f("curl_parallel4_s")),
            );
        }
    }
    println!(
        "\nThe sync of a file output (curl does not sync), and raw bodies:\n\n| style | hydrant NDJSON → file, synced | hydrant NDJSON → stdout → file | curl → file | curl → file, then synced | NDJSON ÷ curl → file, synced | stdout ÷ curl → file | raw → file ÷ curl → file (CPU-s) |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in results {
        let f = |key: &str| row[key].as_f64().unwrap_or(0.0);
        println!(
            "| {} | {:.2} M/s | {:.2} M/s | {:.2} M/s | {:.2} M/s | {:.2}× | {:.2}× | {:.2}× ({:.2}) |",
            row["style"].as_str().unwrap_or(""),
            f("records_per_s") / 1e6,
            per_s(f("hydrant_stdout_s")),
            per_s(f("curl_file_s")),
            per_s(f("curl_file_synced_s")),
            f("ratio_to_curl_file_synced"),
            f("stdout_ratio_to_curl_file"),
            f("raw_ratio_to_curl_file"),
            f("raw_cpu_s"),
        );
    }
}

/// Where a hydrant run writes: the job's own NDJSON file, a file in
/// another format (`parquet`, `raw`), or stdout redirected to a file.
#[derive(Clone, Copy)]
enum To<'a> {
    JobOutput,
    File(&'static str, &'a Path),
    Stdout(&'a Path),
}

/// `run` (curl writing `file`) with the time taken to sync `file` after
/// it: what curl's file would cost made as safe as hydrant's.
fn synced(run: Run, file: &Path) -> Result<Run> {
    let started = Instant::now();
    std::fs::File::open(file)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", file.display()))?;
    Ok(Run {
        seconds: run.seconds + started.elapsed().as_secs_f64(),
        ..run
    })
}

/// The median of one figure of `runs`.
fn median(runs: &[Run], figure: fn(&Run) -> f64) -> f64 {
    let mut sorted: Vec<f64> = runs.iter().map(figure).collect();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Runs `command` (`name`) to its end: its wall time, its CPU time and its
/// peak resident set (`VmHWM`, polled from `/proc` every 2 ms).
fn measure(command: &mut Command, name: &str) -> Result<Run> {
    let cpu_before = children_cpu_s()?;
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak = peak.max(vm_hwm(&status_file).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    };
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{name} failed with {status}");
    }
    Ok(Run {
        seconds,
        cpu_s: children_cpu_s()? - cpu_before,
        rss_kb: peak,
    })
}

/// The CPU time of this process's children that have been waited for:
/// `cutime` and `cstime` of `/proc/self/stat`. A child's own children and
/// threads count in it once it has been waited for; the server, waited
/// for at the end, does not count in the runs.
fn children_cpu_s() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("cannot read /proc/self/stat")?;
    children_cpu_in(&stat).context("/proc/self/stat has no cutime and cstime")
}

/// Clock ticks in a second of `/proc/*/stat` (`USER_HZ`): 100 on Linux
/// for every architecture.
const TICKS: f64 = 100.0;

/// `cutime` + `cstime` (fields 16 and 17) of a `/proc/PID/stat` line, in
/// seconds. The command name, field 2, may hold spaces and parentheses,
/// so fields are counted after its last `)`.
fn children_cpu_in(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(13);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / TICKS)
}

fn vm_hwm(status: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Fetches every page of a curl config on keep-alive connections,
/// `parallel` at once, the bodies to `to` (a file) or to /dev/null, decoded
/// when `gzip`.
fn curl(config: &Path, parallel: usize, to: Option<&Path>, gzip: bool) -> Result<Run> {
    let mut command = Command::new("curl");
    command
        .arg("--silent")
        .arg("--no-progress-meter")
        .arg("--fail")
        .arg("--config")
        .arg(config);
    if gzip {
        command.arg("--compressed");
    }
    match to {
        Some(path) => command.stdout(std::fs::File::create(path)?),
        None => command.stdout(Stdio::null()),
    };
    if parallel > 1 {
        command
            .arg("--parallel")
            .arg("--parallel-max")
            .arg(parallel.to_string());
    }
    measure(&mut command, "curl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_cpu_time_is_read_after_the_command_name() {
        // A name with spaces and a `)` of its own, then fields 3 to 17:
        // utime 7, stime 8, cutime 250, cstime 31.
        let stat = "4242 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 7 8 250 31 20 0 1 0";
        assert_eq!(children_cpu_in(stat), Some(2.81));
        assert_eq!(children_cpu_in("4242 (cut short) S 1 2"), None);
    }

    #[test]
    fn a_synced_run_adds_the_sync_to_the_wall_time_only() {
        let file = std::env::temp_dir().join(format!("e2e-synced-{}", std::process::id()));
        std::fs::write(&file, vec![b'x'; 1 << 20]).unwrap();
        let run = Run {
            seconds: 1.5,
            cpu_s: 0.25,
            rss_kb: 7,
        };
        let synced_run = synced(run, &file).unwrap();
        assert!(synced_run.seconds >= 1.5, "{synced_run:?}");
        assert_eq!((synced_run.cpu_s, synced_run.rss_kb), (0.25, 7));
        std::fs::remove_file(&file).unwrap();
        let missing = synced(run, &file).unwrap_err();
        assert!(missing.to_string().contains("cannot sync"), "{missing}");
    }

    #[test]
    fn a_child_that_works_is_measured_with_its_cpu_time() {
        let mut busy = Command::new("sh");
        busy.args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]);
        let run = measure(&mut busy, "sh").unwrap();
        assert!(run.cpu_s >= 0.01, "{run:?}");
        // One thread: no more CPU than wall time, give or take a tick.
        assert!(run.cpu_s <= run.seconds + 0.02, "{run:?}");
        assert!(run.rss_kb > 0, "{run:?}");

        let mut idle = Command::new("sleep");
        idle.arg("0.2");
        let run = measure(&mut idle, "sleep").unwrap();
        assert!(run.seconds >= 0.2 && run.cpu_s < 0.05, "{run:?}");
        let failed = measure(&mut Command::new("false"), "false").unwrap_err();
        assert!(failed.to_string().starts_with("false failed"), "{failed}");
    }
}
