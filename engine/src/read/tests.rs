//! The read loop against in-process APIs: pages taken in request order
//! whatever order they are answered in, a loop cut, inferred columns that
//! grow, an interrupt, and a failed page that leaves a checkpoint.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hydrant_bench::{Exchange, Seen};
use serde_json::{Value, json};

use crate::job::vars::Vars;
use crate::job::{Job, JobFormat};
use crate::options::{Interrupt, RunOptions};
use crate::read::{Hooks, OutputHook, run_hooked};
use crate::summary::{Stopped, Summary};

/// Output written into memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The NDJSON lines written, parsed.
    fn records(&self) -> Vec<Value> {
        let text = self.0.lock().unwrap().clone();
        String::from_utf8(text)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn job(toml: &str) -> Job {
    Job::parse(toml, JobFormat::Toml, "test.toml", &Vars::new([])).unwrap()
}

/// Runs `job` with its output captured.
async fn read(job: &Job, options: RunOptions) -> (crate::error::Result<Summary>, Captured) {
    let captured = Captured::default();
    let mut hooks = Hooks {
        output: Some(OutputHook::Writer(Box::new(captured.clone()))),
        ..Hooks::default()
    };
    (run_hooked(job, options, &mut hooks).await, captured)
}

/// The value of query parameter `name` in a request target.
fn param(seen: &Seen, name: &str) -> Option<u64> {
    let query = seen.target.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
}

/// A page of `ids` as `{"data":[{"id":…},…]}`.
fn page(ids: impl Iterator<Item = u64>) -> String {
    let records: Vec<Value> = ids.map(|id| json!({ "id": id })).collect();
    json!({ "data": records }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counted_pages_are_written_in_request_order_however_they_are_answered() {
    // 7 pages of 10 and a short one; the earlier a page, the slower its
    // answer, so that later pages come in first.
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), |seen| {
        let offset = param(seen, "offset").unwrap_or(0);
        let end = (offset + 10).min(75);
        Exchange {
            delay: Duration::from_millis(40u64.saturating_sub(offset / 2)),
            ..Exchange::json(&seen.target, page(offset..end))
        }
    })
    .await
    .unwrap();
    let job = job(&format!(
        r#"[request]
url = "{}/items"
[paginate]
type = "offset"
limit = 10
[records]
path = "data"
[limits]
concurrency = 4
"#,
        server.url()
    ));
    let (summary, out) = read(&job, RunOptions::default()).await;
    let summary = summary.unwrap();
    let ids: Vec<u64> = out
        .records()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (0..75).collect::<Vec<_>>());
    assert_eq!(summary.records, 75);
    assert_eq!(summary.stopped, Stopped::ShortPage);
    // Requests past the short page may have gone out; only the answered
    // pages up to it are counted.
    assert_eq!(summary.requests, 8);
    assert!(server.max_in_flight() > 1, "counted requests overlap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followed_pages_go_one_at_a_time_and_a_loop_is_cut_with_a_warning() {
    // Page k links to page k+1; page 3 links back to page 1.
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), |seen| {
        let k = param(seen, "page").unwrap_or(0);
        let next = if k == 3 { 1 } else { k + 1 };
        let body = json!({
            "data": [{ "id": k * 2 }, { "id": k * 2 + 1 }],
            "next": format!("/items?page={next}"),
        });
        Exchange::json(&seen.target, body.to_string())
    })
    .await
    .unwrap();
    let job = job(&format!(
        r#"[request]
url = "{}/items?page=0"
[paginate]
type = "next_link"
from = "next"
[records]
path = "data"
"#,
        server.url()
    ));
    let (summary, out) = read(&job, RunOptions::default()).await;
    let summary = summary.unwrap();
    let ids: Vec<u64> = out
        .records()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (0..8).collect::<Vec<_>>());
    assert_eq!(summary.requests, 4);
    assert_eq!(summary.stopped, Stopped::Loop);
    assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
    assert!(summary.warnings[0].starts_with("pagination loop:"));
    assert_eq!(server.max_in_flight(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inferred_ndjson_columns_take_a_field_first_seen_on_a_later_page() {
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), |seen| {
        let body = match param(seen, "page").unwrap_or(1) {
            1 => r#"{"data":[{"id":1,"name":"a"}]}"#,
            2 => r#"{"data":[{"id":2,"name":"b","email":"b@x"}]}"#,
            _ => r#"{"data":[]}"#,
        };
        Exchange::json(&seen.target, body)
    })
    .await
    .unwrap();
    let job = job(&format!(
        r#"[request]
url = "{}/users"
[paginate]
type = "page"
[records]
path = "data"
"#,
        server.url()
    ));
    let (summary, out) = read(&job, RunOptions::default()).await;
    let summary = summary.unwrap();
    assert_eq!(
        out.records(),
        [
            json!({"id": 1, "name": "a"}),
            json!({"id": 2, "name": "b", "email": "b@x"})
        ]
    );
    assert_eq!(summary.stopped, Stopped::EmptyPage);
    assert!(summary.unseen_fields.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_sends_nothing_and_says_so() {
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), |seen| {
        Exchange::json(&seen.target, page(0..3))
    })
    .await
    .unwrap();
    let job = job(&format!(
        "[request]\nurl = \"{}/items\"\n[records]\npath = \"data\"\n",
        server.url()
    ));
    let interrupt = Interrupt::new();
    interrupt.trigger();
    let options = RunOptions {
        interrupt: Some(interrupt),
        ..RunOptions::default()
    };
    let (summary, out) = read(&job, options).await;
    let error = summary.unwrap_err();
    assert!(error.is_interrupted(), "{error}");
    assert_eq!(error.to_string(), "interrupted: 0 records written");
    assert!(out.records().is_empty());
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_is_not_json_fails_the_run_after_the_pages_before_it() {
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), |seen| {
        match param(seen, "page").unwrap_or(1) {
            3 => Exchange::json(&seen.target, "<html>busy</html>"),
            k => Exchange::json(&seen.target, page(k * 10..k * 10 + 2)),
        }
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.ndjson");
    let state = dir.path().join("state.json");
    let job = job(&format!(
        r#"[request]
url = "{}/items"
[paginate]
type = "page"
[records]
path = "data"
[output]
path = "{}"
[state]
path = "{}"
every = "0s"
"#,
        server.url(),
        output.display(),
        state.display()
    ));
    let error = run_hooked(&job, RunOptions::default(), &mut Hooks::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("page=3"), "{error}");
    // The two pages before it are kept with a checkpoint that says so.
    let partial = std::fs::read_to_string(dir.path().join("out.ndjson.partial")).unwrap();
    assert_eq!(partial.lines().count(), 4);
    let checkpoint: Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(checkpoint["progress"]["records"], 4);
    assert_eq!(checkpoint["progress"]["requests"], 2);
    assert_eq!(checkpoint["output_bytes"], partial.len());
    assert!(!output.exists());
}

#[test]
fn a_failed_run_says_what_it_kept_for_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (output, state) = (dir.path().join("out.ndjson"), dir.path().join("job.state"));
    let job = job(&format!(
        "[request]\nurl = \"http://127.0.0.1:9/x\"\n[output]\npath = {:?}\n[state]\npath = {:?}\n",
        output.display().to_string(),
        state.display().to_string()
    ));
    assert_eq!(
        crate::read::page::kept_on_failure(&job),
        None,
        "no partial file"
    );
    let partial = dir.path().join("out.ndjson.partial");
    std::fs::write(&partial, "{\"id\":1}\n").unwrap();
    let kept = crate::read::page::kept_on_failure(&job).unwrap();
    assert_eq!(
        kept,
        format!(
            "the output so far stays in `{}`, before any checkpoint: a run with --resume starts from the beginning",
            partial.display()
        )
    );
    // With a checkpoint, `a_failed_run_keeps_its_partial_output_and_state_for_resume`
    // (the CLI's tests) reads the message.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_between_followed_pages_is_not_a_finished_run() {
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), |seen| {
        let k = param(seen, "page").unwrap_or(0);
        let body = json!({ "data": [{ "id": k }], "next": format!("/items?page={}", k + 1) });
        Exchange::json(&seen.target, body.to_string())
    })
    .await
    .unwrap();
    let job = job(&format!(
        "[request]\nurl = \"{}/items?page=0\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[records]\npath = \"data\"\n",
        server.url()
    ));
    // The first page is written, then the run is asked to stop: no
    // request is in flight at that moment.
    let interrupt = Interrupt::new();
    let on_page = interrupt.clone();
    let options = RunOptions {
        interrupt: Some(interrupt),
        on_progress: Some(Box::new(move |_| on_page.trigger())),
        ..RunOptions::default()
    };
    let (summary, out) = read(&job, options).await;
    let error = summary.unwrap_err();
    assert!(error.is_interrupted(), "{error}");
    assert_eq!(error.to_string(), "interrupted: 1 records written");
    assert_eq!(out.records(), [json!({"id": 0})]);
    assert_eq!(server.requests().len(), 1);
}

/// A records path of filters and slices selects, on the index, the
/// records a tree's copy selects: the same values, in the same order.
#[test]
fn a_general_records_path_selects_on_the_index_what_the_tree_selects() {
    let page = r#"{"data": [{"id": 1, "v": 1.50, "t": ["a"]}, {"id": 2, "v": 123456789012345678901234567890},
        {"id": 3, "v": -2, "id": 9}, [7], {"id": 4, "v": 1e-400, "in": {"data": [{"id": 5}]}}],
        "more": {"data": [{"id": 6, "v": 0.5}]}}"#;
    for path in [
        "$.data[?@.id > 1]",
        "$.data[1:4]",
        "$.data[-1:]",
        "$..data[?@.v]",
        "$..data[*]",
        "$.data[?@.v > 100]",
        "$.data[?@.id == 9]",
        "$.data[?@.t[0] == 'a']",
        "$.nothing[?@.id]",
    ] {
        let job = job(&format!(
            "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = \"{path}\"\n"
        ));
        let records = &job.records;
        let mut scanner = crate::json::scan::Scanner::default();
        let doc = scanner.scan(page.as_bytes(), None).unwrap();
        let by_index: Vec<Value> = crate::extract::select_records(doc.root(), records)
            .unwrap()
            .into_iter()
            .map(crate::json::node::Node::to_serde)
            .collect();
        let mut parser = crate::json::Parser::default();
        let mut scratch = Default::default();
        let tree = parser.parse(page.as_bytes(), &mut scratch).unwrap();
        let by_tree: Vec<Value> = crate::extract::select_records(&tree, records)
            .unwrap()
            .into_iter()
            .map(crate::json::node::Node::to_serde)
            .collect();
        assert_eq!(by_index, by_tree, "{path}");
    }
}
