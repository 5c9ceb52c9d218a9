//! `cargo xtask e2e-bench [PAGES] [RECORDS] [SHAPE]`: `hydrant run` against
//! a local corpus API in each pagination style, to NDJSON and to Parquet
//! files, beside `curl` fetching the same pages to /dev/null and writing
//! them to a file, in the same run. `SHAPE+gzip` serves the pages
//! gzip-compressed (and curl gets `--compressed`).
//!
//! The server is hydrant-bench's `corpus-api` (hyper), in its own process.
//! Each measurement is run three times, all taking turns; the medians go
//! to a table on stdout, and every run to `target/e2e-bench.json`.

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

/// One style: hydrant to NDJSON and to Parquet, and curl fetching the same
/// pages to /dev/null and to a file, taking turns.
fn bench_style(bin: &Path, dir: &Path, style: &str, total: u64, gzip: bool) -> Result<Value> {
    let job = dir.join(format!("{style}.toml"));
    let summary_path = dir.join(format!("{style}.summary.json"));
    let output = dir.join(format!("{style}.ndjson"));
    let parquet = dir.join(format!("{style}.parquet"));
    let curl_config = dir.join(format!("{style}.curl"));
    let curl_file = dir.join(format!("{style}.curl.out"));
    let mut runs: [Vec<f64>; 5] = Default::default();
    let (mut rss_ndjson, mut rss_parquet, mut summary) = (0, 0, Value::Null);
    let (mut output_bytes, mut parquet_bytes) = (0, 0);
    let hydrant = |extra: &[&Path]| -> Result<(f64, u64)> {
        let mut command = Command::new(bin.join("hydrant"));
        command
            .arg("run")
            .arg(&job)
            .arg("--quiet")
            .arg("--summary-json")
            .arg(&summary_path);
        if let [path] = extra {
            command
                .arg("--format")
                .arg("parquet")
                .arg("--output")
                .arg(path);
        }
        measure(&mut command)
    };
    for _ in 0..RUNS {
        let (seconds, rss) = hydrant(&[])?;
        runs[0].push(seconds);
        rss_ndjson = rss_ndjson.max(rss);
        summary = serde_json::from_slice(&std::fs::read(&summary_path)?)?;
        if summary["records"].as_u64() != Some(total) {
            bail!(
                "{style}: hydrant wrote {} records, not {total}",
                summary["records"]
            );
        }
        output_bytes = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&output).ok();
        let (seconds, rss) = hydrant(&[&parquet])?;
        runs[1].push(seconds);
        rss_parquet = rss_parquet.max(rss);
        parquet_bytes = std::fs::metadata(&parquet).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&parquet).ok();
        runs[2].push(curl(&curl_config, 1, None, gzip)?);
        runs[3].push(curl(&curl_config, 1, Some(&curl_file), gzip)?);
        std::fs::remove_file(&curl_file).ok();
        if style == "offset" {
            runs[4].push(curl(&curl_config, 4, None, gzip)?);
        }
    }
    let [ndjson_s, parquet_s, null_s, file_s] = [0, 1, 2, 3].map(|i| median(&runs[i]));
    let bytes = summary["bytes"].as_u64().unwrap_or(0);
    let mut row = json!({
        "style": style,
        "records": total,
        "requests": summary["requests"],
        "bytes": bytes,
        "output_bytes": output_bytes,
        "parquet_bytes": parquet_bytes,
        "hydrant_s": ndjson_s,
        "hydrant_runs_s": runs[0],
        "records_per_s": total as f64 / ndjson_s,
        "mb_per_s": bytes as f64 / 1e6 / ndjson_s,
        "peak_rss_mb": rss_ndjson as f64 * 1024.0 / 1e6,
        "parquet_s": parquet_s,
        "parquet_runs_s": runs[1],
        "parquet_peak_rss_mb": rss_parquet as f64 * 1024.0 / 1e6,
        "curl_s": null_s,
        "curl_runs_s": runs[2],
        "curl_file_s": file_s,
        "curl_file_runs_s": runs[3],
        "ratio_to_curl": null_s / ndjson_s,
        "ratio_to_curl_file": file_s / ndjson_s,
        "parquet_to_ndjson": ndjson_s / parquet_s,
    });
    if style == "offset" {
        let parallel_s = median(&runs[4]);
        row["curl_parallel4_s"] = json!(parallel_s);
        row["ratio_to_curl_parallel4"] = json!(parallel_s / ndjson_s);
    }
    Ok(row)
}

fn print_table(results: &[Value], total: u64) {
    println!(
        "| style | hydrant NDJSON | hydrant Parquet (size) | curl → /dev/null | curl → file | NDJSON ÷ curl → file | Parquet ÷ NDJSON | peak RSS NDJSON / Parquet |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    let per_s = |seconds: f64| total as f64 / seconds / 1e6;
    for row in results {
        let f = |key: &str| row[key].as_f64().unwrap_or(0.0);
        println!(
            "| {} | {:.2} M/s | {:.2} M/s ({:.0} MB) | {:.2} M/s | {:.2} M/s | {:.2}× | {:.2}× | {:.0} / {:.0} MB |",
            row["style"].as_str().unwrap_or(""),
            f("records_per_s") / 1e6,
            per_s(f("parquet_s")),
            f("parquet_bytes") / 1e6,
            per_s(f("curl_s")),
            per_s(f("curl_file_s")),
            f("ratio_to_curl_file"),
            f("parquet_to_ndjson"),
            f("peak_rss_mb"),
            f("parquet_peak_rss_mb"),
        );
        if let Some(parallel) = row["ratio_to_curl_parallel4"].as_f64() {
            println!(
                "| {} (curl 4 at once → /dev/null) | | | {:.2} M/s | | NDJSON ÷ it {parallel:.2}× | | |",
                row["style"].as_str().unwrap_or(""),
                per_s(f("curl_parallel4_s")),
            );
        }
    }
}

fn median(runs: &[f64]) -> f64 {
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Runs `command` to its end; returns the wall time and the peak resident
/// set (`VmHWM`, polled from `/proc` every 2 ms) in kB.
fn measure(command: &mut Command) -> Result<(f64, u64)> {
    let started = Instant::now();
    let mut child = command.spawn().context("cannot start hydrant")?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak = peak.max(vm_hwm(&status_file).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("hydrant failed with {status}");
    }
    Ok((elapsed, peak))
}

fn vm_hwm(status: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Fetches every page of a curl config on keep-alive connections,
/// `parallel` at once, the bodies to `to` (a file) or to /dev/null, decoded
/// when `gzip`; returns the wall time.
fn curl(config: &Path, parallel: usize, to: Option<&Path>, gzip: bool) -> Result<f64> {
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
    let started = Instant::now();
    let status = command.status().context("cannot run curl")?;
    let elapsed = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("curl failed with {status}");
    }
    Ok(elapsed)
}
