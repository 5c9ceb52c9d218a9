//! `hydrant bench`: the job run as usual with its output encoded and
//! dropped, then the same requests fetched again without parsing — the
//! ceiling the run is measured against.

pub mod support;
mod tape;

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::job::Job;
use crate::net::client::HttpClient;
use crate::net::request::Prepared;
use crate::net::session::Session;
use crate::options::RunOptions;
use crate::read::{Hooks, OutputHook, request_window, run_hooked};
use crate::sink::Counted;
use crate::summary::Stopped;

/// What `hydrant bench` measured: the `--json` contract.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BenchReport {
    /// The job's name.
    pub job: String,
    /// Why pagination ended.
    pub stopped: Stopped,
    /// Records extracted and encoded.
    pub records: u64,
    /// Output bytes encoded (and dropped) in the job's format.
    pub output_bytes: u64,
    /// The job: fetch, parse, extract, encode.
    pub run: Phase,
    /// The same requests again, bodies read and dropped.
    pub raw: Phase,
    /// The run's throughput as a share of the raw fetch's (raw elapsed ÷
    /// run elapsed): 1.0 means parsing costs nothing visible.
    pub ratio: f64,
    /// The process's peak resident set, in MB (Linux only).
    pub peak_rss_mb: Option<f64>,
    /// CPUs this process may use.
    pub cores: usize,
}

/// One pass over the requests.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Phase {
    /// Requests answered.
    pub requests: u64,
    /// Response body bytes, decoded.
    pub bytes: u64,
    /// Wall-clock seconds from the first request to the last page written.
    pub elapsed_s: f64,
    /// Requests answered per second.
    pub requests_per_s: f64,
    /// Records of the run per second of this phase; for the raw fetch, the
    /// ceiling a run of these requests could reach.
    pub records_per_s: f64,
    /// Body bytes per second, in MB (10⁶ bytes).
    pub mb_per_s: f64,
    /// From a request going out to its body read, in milliseconds.
    /// Median time from sending a request to its last body byte.
    pub latency_p50_ms: f64,
    /// 99th percentile of the same.
    pub latency_p99_ms: f64,
    /// CPU time of the whole process (user + system) over the phase; with
    /// `--replay` it includes the in-process server.
    pub cpu_s: Option<f64>,
    /// CPU seconds per GB of response bodies.
    pub cpu_s_per_gb: Option<f64>,
}

impl Phase {
    /// `latencies` are those of the requests fetched again, which leave
    /// out a `[fanout.from]` parent's; `requests` counts them all.
    fn new(
        requests: u64,
        records: u64,
        bytes: u64,
        elapsed: Duration,
        latencies: &mut [Duration],
        cpu_s: Option<f64>,
    ) -> Phase {
        let elapsed_s = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        latencies.sort_unstable();
        Phase {
            requests,
            bytes,
            elapsed_s,
            requests_per_s: requests as f64 / elapsed_s,
            records_per_s: records as f64 / elapsed_s,
            mb_per_s: bytes as f64 / 1e6 / elapsed_s,
            latency_p50_ms: percentile(latencies, 0.50),
            latency_p99_ms: percentile(latencies, 0.99),
            cpu_s,
            cpu_s_per_gb: cpu_s
                .filter(|_| bytes > 0)
                .map(|s| s / (bytes as f64 / 1e9)),
        }
    }
}

/// Runs `job` for a throughput report. Nothing is written: the output is
/// encoded in the job's format and counted, `[state]` is ignored. The
/// raw fetch sends the run's requests again through a fresh session (same
/// pool settings, limits and auth), as many at once as the run had in
/// flight. The requests of a `[fanout.from]` parent job are part of the
/// run's time but are not fetched again.
pub async fn bench(job: &Job, options: RunOptions) -> Result<BenchReport> {
    let mut job = job.clone();
    job.state = None;
    let redirect_to = options.redirect_to.clone();
    let counted = Counted::default();
    let mut hooks = Hooks {
        recorder: Some(Vec::new()),
        output: Some(OutputHook::Writer(Box::new(counted.clone()))),
        first_sent: None,
    };

    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let summary = run_hooked(&job, options, &mut hooks).await?;
    let run_elapsed = hooks.first_sent.unwrap_or(started).elapsed();
    let run_cpu = cpu_since(cpu_before);

    let (requests, mut run_latencies): (Vec<Prepared>, Vec<Duration>) =
        hooks.recorder.unwrap_or_default().into_iter().unzip();
    let run = Phase::new(
        summary.requests,
        summary.records,
        summary.bytes,
        run_elapsed,
        &mut run_latencies,
        run_cpu,
    );

    let request = job.request.as_ref().expect("a read job has a request");
    let client = HttpClient::new(request, &job.limits, redirect_to)?;
    let session = Session::new(client, job.auth.authenticator(), &job);
    let counted_plan = hydrant_paginate::Paginator::new(&job.paginate)
        .map(|p| p.is_counted())
        .unwrap_or(false);
    let window = request_window(&job, counted_plan);
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let (raw_bytes, mut raw_latencies) = fetch_raw(&session, requests, window).await?;
    let raw_elapsed = started.elapsed();
    let raw = Phase::new(
        raw_latencies.len() as u64,
        summary.records,
        raw_bytes,
        raw_elapsed,
        &mut raw_latencies,
        cpu_since(cpu_before),
    );

    Ok(BenchReport {
        job: job.name.clone(),
        stopped: summary.stopped,
        records: summary.records,
        output_bytes: counted.0.load(std::sync::atomic::Ordering::Relaxed),
        ratio: raw.elapsed_s / run.elapsed_s,
        run,
        raw,
        peak_rss_mb: peak_rss_mb(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

/// Fetches `requests`, `window` at a time; returns the body bytes and the
/// latency of each.
async fn fetch_raw(
    session: &Session,
    requests: Vec<Prepared>,
    window: usize,
) -> Result<(u64, Vec<Duration>)> {
    let mut latencies = Vec::with_capacity(requests.len());
    let mut bytes = 0;
    let mut pending = requests.into_iter();
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.len() < window.max(1) {
            let Some(prepared) = pending.next() else {
                break;
            };
            let session = session.clone();
            in_flight.spawn(async move {
                let fetched = session.fetch(prepared).await?;
                Ok::<_, Error>((fetched.response.body.len() as u64, fetched.latency))
            });
        }
        let Some(done) = in_flight.join_next().await else {
            break;
        };
        let (body, latency) =
            done.map_err(|e| Error::http(format!("a request task failed: {e}")))??;
        bytes += body;
        latencies.push(latency);
    }
    Ok((bytes, latencies))
}

/// The nearest-rank percentile of sorted latencies, in milliseconds.
fn percentile(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

fn cpu_since(before: Option<f64>) -> Option<f64> {
    Some(process_cpu_seconds()? - before?)
}

/// User + system CPU time of this process, all threads, from
/// `/proc/self/stat` (Linux reports it in ticks of 1/100 s).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it are plain.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// `VmHWM` of `/proc/self/status`, in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 0.50), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[ms(7)], 0.99), 7.0);
        assert_eq!(percentile(&[ms(1), ms(9)], 0.50), 1.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn process_figures_on_linux() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let before = process_cpu_seconds().expect("cpu time");
        let wall = Instant::now();
        let mut spent = 0.0;
        while spent < 0.05 && wall.elapsed() < Duration::from_secs(10) {
            std::hint::black_box((0..10_000u64).sum::<u64>());
            spent = process_cpu_seconds().expect("cpu time") - before;
        }
        assert!(spent >= 0.05, "cpu time did not advance: {spent}");
        assert!(peak_rss_mb().expect("peak rss") > 1.0);
    }
}
