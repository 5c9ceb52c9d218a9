//! `hydrant bench`: the run measured beside a raw fetch of the same requests.

use std::time::Duration;

use hydrant_bench::Exchange;

use crate::util::{Dir, TestServer, hydrant, ids, path_str};

const DELAY: Duration = Duration::from_millis(15);

/// Five full pages of 10 records and a short one of 3; every answer waits
/// [`DELAY`], so latencies have a floor the report must show.
fn paged_api() -> TestServer {
    let mut exchanges: Vec<Exchange> = (0..6u32)
        .map(|page| {
            let end = if page == 5 { 53 } else { page * 10 + 10 };
            let mut exchange = Exchange::json(
                &format!("/items?offset={}&limit=10", page * 10),
                ids(page * 10..end),
            );
            exchange.delay = DELAY;
            exchange
        })
        .collect();
    // Fetched ahead by the concurrent run, then dropped.
    exchanges.push(Exchange::json("/items?offset=60&limit=10", "[]"));
    exchanges.push(Exchange::json("/items?offset=70&limit=10", "[]"));
    exchanges.push(Exchange::json("/items?offset=80&limit=10", "[]"));
    TestServer::start(exchanges)
}

fn job(dir: &Dir, server: &TestServer) -> std::path::PathBuf {
    dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/items\"\n[paginate]\ntype = \"offset\"\nlimit = 10\n\
             [limits]\nconcurrency = 2\n[output]\npath = \"{}\"\n[state]\npath = \"{}\"\n",
            server.url(),
            path_str(&dir.path("out.ndjson")),
            path_str(&dir.path("state.json")),
        ),
    )
}

#[test]
fn bench_reports_the_run_beside_a_raw_fetch_of_the_same_requests() {
    let server = paged_api();
    let dir = Dir::new();
    let job = job(&dir, &server);
    let run = hydrant(&["bench", path_str(&job), "--json", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();

    assert_eq!(report["records"], 53);
    assert_eq!(report["stopped"], "short_page");
    // What `hydrant run` would have written: 53 lines of {"id":n}.
    let ndjson: usize = (0..53).map(|i| format!("{{\"id\":{i}}}\n").len()).sum();
    assert_eq!(report["output_bytes"], ndjson as u64);
    let body: usize = (0..6u32)
        .map(|p| ids(p * 10..if p == 5 { 53 } else { p * 10 + 10 }).len())
        .sum();
    for phase in ["run", "raw"] {
        let figures = &report[phase];
        assert_eq!(figures["requests"], 6, "{phase}");
        assert_eq!(figures["bytes"], body as u64, "{phase}");
        let f = |key: &str| figures[key].as_f64().unwrap();
        let elapsed = f("elapsed_s");
        assert!((f("records_per_s") - 53.0 / elapsed).abs() < 1e-6 * f("records_per_s"));
        assert!((f("requests_per_s") - 6.0 / elapsed).abs() < 1e-6 * f("requests_per_s"));
        assert!((f("mb_per_s") - body as f64 / 1e6 / elapsed).abs() < 1e-6 * f("mb_per_s"));
        let floor = DELAY.as_secs_f64() * 1e3;
        assert!(f("latency_p50_ms") >= floor, "{phase}: {figures}");
        assert!(
            f("latency_p99_ms") >= f("latency_p50_ms"),
            "{phase}: {figures}"
        );
        assert!(
            f("cpu_s") >= 0.0 && f("cpu_s_per_gb") >= 0.0,
            "{phase}: {figures}"
        );
    }
    let ratio = report["ratio"].as_f64().unwrap();
    let elapsed = |phase: &str| report[phase]["elapsed_s"].as_f64().unwrap();
    assert!(
        (ratio - elapsed("raw") / elapsed("run")).abs() < 1e-9,
        "{report}"
    );
    assert!(report["peak_rss_mb"].as_f64().unwrap() > 1.0);

    // The raw fetch sent the six pages the run took, again.
    let targets: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
    let pages: Vec<String> = (0..6)
        .map(|p| format!("/items?offset={}&limit=10", p * 10))
        .collect();
    let mut raw = targets[targets.len() - 6..].to_vec();
    raw.sort();
    let mut expected = pages.clone();
    expected.sort();
    assert_eq!(raw, expected, "{targets:?}");
    // The run's six, at most 2 × concurrency - 1 fetched past the end, and
    // the raw fetch's six.
    assert!(targets.len() <= 6 + 3 + 6, "{targets:?}");

    // Nothing is written: no output, partial or state file.
    for name in ["out.ndjson", "out.ndjson.partial", "state.json"] {
        assert!(!dir.path(name).exists(), "{name}");
    }
}

#[test]
fn bench_prints_a_table_and_measures_the_chosen_encoding() {
    let server = paged_api();
    let dir = Dir::new();
    let job = job(&dir, &server);
    let run = hydrant(&["bench", path_str(&job), "--format", "csv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Nothing is written, so the output's `.ndjson` is no mismatch.
    assert!(!run.stderr.contains("extension says"), "{}", run.stderr);
    let csv: usize = 3 + (0..53).map(|i| format!("{i}\n").len()).sum::<usize>();
    let body: usize = (0..6u32)
        .map(|p| ids(p * 10..if p == 5 { 53 } else { p * 10 + 10 }).len())
        .sum();
    assert!(
        run.stdout.starts_with(&format!(
            "job {}: 53 records, 6 requests, {body} B received, {csv} B encoded; stopped: short_page\n",
            path_str(&job)
        )),
        "{}",
        run.stdout
    );
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert!(
        rows[1].contains("requests/s") && rows[1].contains("CPU s/GB"),
        "{}",
        run.stdout
    );
    assert!(rows[2].starts_with("run "), "{}", run.stdout);
    assert!(rows[3].starts_with("raw fetch "), "{}", run.stdout);
    assert!(rows[4].starts_with("run / raw fetch: "), "{}", run.stdout);

    // Raw bodies: each body and its line break.
    let raw = hydrant(&["bench", path_str(&job), "--format", "raw", "--json"]);
    assert_eq!(raw.code, 0, "{}", raw.stderr);
    let report: serde_json::Value = serde_json::from_str(&raw.stdout).unwrap();
    assert_eq!(report["records"], 53, "{report}");
    assert_eq!(report["output_bytes"], (body + 6) as u64, "{report}");

    let bad = hydrant(&["bench", path_str(&job), "--format", "xml"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--format `xml`"), "{}", bad.stderr);
}

/// The jobs of `cargo xtask e2e-bench` extract every record of the corpus
/// API once, in order, in each pagination style.
#[test]
fn corpus_api_jobs_extract_every_record_in_every_style() {
    use hydrant_bench::api::{CorpusApi, Style};
    use hydrant_bench::corpus::Shape;

    let api = CorpusApi::new(Shape::Nested, 5, 30, 5);
    let served = api.clone();
    let server = TestServer::start_fn(move |seen| served.answer(&seen.target));
    for style in Style::ALL {
        let dir = Dir::new();
        let out = dir.path("out.ndjson");
        let job = dir.write(
            "job.toml",
            &api.job(style, &server.url(), path_str(&out), 4),
        );
        let run = hydrant(&["run", path_str(&job), "--quiet"]);
        assert_eq!(run.code, 0, "{}: {}", style.name(), run.stderr);
        let numbers: Vec<u64> = dir
            .read("out.ndjson")
            .lines()
            .map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(record.as_object().unwrap().len(), 5, "{line}");
                record["number"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(numbers, (0..150).collect::<Vec<u64>>(), "{}", style.name());
    }
}
