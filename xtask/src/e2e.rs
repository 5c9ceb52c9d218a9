//! `cargo xtask e2e-bench [PAGES] [RECORDS] [SHAPE]`: `hydrant run` against
//! a local corpus API in each pagination style, NDJSON into a file, beside
//! `curl` fetching the same pages in the same run.
//!
//! The server is hydrant-bench's `corpus-api` (hyper), in its own process.
//! Each style is run three times, taking turns with curl; the medians go
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

    let mut results = Vec::new();
    for style in STYLES {
        let job = dir.join(format!("{style}.toml"));
        let summary_path = dir.join(format!("{style}.summary.json"));
        let output = dir.join(format!("{style}.ndjson"));
        let curl_config = dir.join(format!("{style}.curl"));
        // hydrant and curl take turns, so that both see the machine's
        // slow and fast moments alike.
        let (mut hydrant_runs, mut curl_runs, mut parallel_runs) =
            (Vec::new(), Vec::new(), Vec::new());
        let (mut peak_rss_kb, mut summary, mut output_bytes) = (0, Value::Null, 0);
        for _ in 0..RUNS {
            let (seconds, rss_kb) = measure(
                Command::new(bin.join("hydrant"))
                    .arg("run")
                    .arg(&job)
                    .arg("--quiet")
                    .arg("--summary-json")
                    .arg(&summary_path),
            )?;
            hydrant_runs.push(seconds);
            peak_rss_kb = peak_rss_kb.max(rss_kb);
            summary = serde_json::from_slice(&std::fs::read(&summary_path)?)?;
            if summary["records"].as_u64() != Some(total) {
                bail!(
                    "{style}: hydrant wrote {} records, not {total}",
                    summary["records"]
                );
            }
            output_bytes = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&output).ok();
            curl_runs.push(curl(&curl_config, 1)?);
            if style == "offset" {
                parallel_runs.push(curl(&curl_config, 4)?);
            }
        }
        let (hydrant_s, curl_s) = (median(&hydrant_runs), median(&curl_runs));
        let bytes = summary["bytes"].as_u64().unwrap_or(0);
        let mut row = json!({
            "style": style,
            "records": total,
            "requests": summary["requests"],
            "bytes": bytes,
            "output_bytes": output_bytes,
            "hydrant_s": hydrant_s,
            "hydrant_runs_s": hydrant_runs,
            "records_per_s": total as f64 / hydrant_s,
            "mb_per_s": bytes as f64 / 1e6 / hydrant_s,
            "peak_rss_mb": peak_rss_kb as f64 * 1024.0 / 1e6,
            "curl_s": curl_s,
            "curl_runs_s": curl_runs,
            "curl_records_per_s": total as f64 / curl_s,
            "ratio_to_curl": curl_s / hydrant_s,
        });
        if style == "offset" {
            let parallel_s = median(&parallel_runs);
            row["curl_parallel4_s"] = json!(parallel_s);
            row["ratio_to_curl_parallel4"] = json!(parallel_s / hydrant_s);
        }
        results.push(row);
    }
    drop(server);

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let report = json!({ "pages": pages, "records_per_page": records, "shape": shape, "cores": cores, "runs_each": RUNS, "runs": results });
    let path = root().join("target/e2e-bench.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    println!(
        "| style | hydrant records/s | MB/s | peak RSS | curl records/s | hydrant ÷ curl |\n|---|---:|---:|---:|---:|---:|"
    );
    for row in &results {
        let f = |key: &str| row[key].as_f64().unwrap_or(0.0);
        println!(
            "| {} | {:.2} M | {:.0} | {:.1} MB | {:.2} M | {:.2}× |",
            row["style"].as_str().unwrap_or(""),
            f("records_per_s") / 1e6,
            f("mb_per_s"),
            f("peak_rss_mb"),
            f("curl_records_per_s") / 1e6,
            f("ratio_to_curl"),
        );
        if let Some(parallel) = row["ratio_to_curl_parallel4"].as_f64() {
            println!(
                "| {} (curl 4 at once) | | | | {:.2} M | {parallel:.2}× |",
                row["style"].as_str().unwrap_or(""),
                total as f64 / f("curl_parallel4_s") / 1e6,
            );
        }
    }
    println!(
        "\n{cores} cores; the median of {RUNS} runs each; results in {}",
        path.display()
    );
    Ok(())
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

/// Fetches every page of a curl config to `/dev/null` on keep-alive
/// connections, `parallel` at once; returns the wall time.
fn curl(config: &Path, parallel: usize) -> Result<f64> {
    let mut command = Command::new("curl");
    command
        .arg("--silent")
        .arg("--no-progress-meter")
        .arg("--fail")
        .arg("--config")
        .arg(config);
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
