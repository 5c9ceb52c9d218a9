//! `[state]` checkpoints and `--resume`: runs killed with SIGKILL at chosen
//! points (by requests the server got) and at arbitrary moments, resumed,
//! and compared record by record with what the API holds, or byte by byte
//! with a run left alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hydrant_bench::Exchange;
use serde_json::{Value, json};

use crate::util::{
    Dir, TestServer, gunzipped, hydrant, hydrant_with, path_str, spawn_hydrant, unzstd,
    wait_for_state,
};

const PER_PAGE: u32 = 5;
/// Records of the paginated endpoints: 8 full pages.
const TOTAL: u32 = 40;
/// Pages of each fan-out value's cursor pagination.
const GROUP_PAGES: u32 = 3;

/// An API serving the same records in every pagination shape. It counts
/// the requests it gets and holds (never answers in time) those after the
/// first `hold_after`, so that a run can be killed at a known point.
struct Api {
    server: TestServer,
    hold_after: Arc<AtomicUsize>,
    /// Requests after this many get a 500.
    fail_after: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
}

impl Api {
    fn start(delay: Duration) -> Api {
        let hold_after = Arc::new(AtomicUsize::new(usize::MAX));
        let fail_after = Arc::new(AtomicUsize::new(usize::MAX));
        let received = Arc::new(AtomicUsize::new(0));
        let (hold, fail, count) = (hold_after.clone(), fail_after.clone(), received.clone());
        let server = TestServer::start_fn(move |seen| {
            let number = count.fetch_add(1, Ordering::SeqCst) + 1;
            let mut exchange = answer(&seen.target);
            if number > fail.load(Ordering::SeqCst) {
                exchange.status = 500;
            }
            exchange.delay = if number > hold.load(Ordering::SeqCst) {
                Duration::from_secs(120)
            } else {
                delay
            };
            exchange
        });
        Api {
            server,
            hold_after,
            fail_after,
            received,
        }
    }

    fn targets(&self) -> Vec<String> {
        self.server
            .requests()
            .into_iter()
            .map(|seen| seen.target)
            .collect()
    }
}

fn answer(target: &str) -> Exchange {
    let url = url::Url::parse(&format!("http://api{target}")).unwrap();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let number = |name: &str| query.get(name).and_then(|v| v.parse::<u32>().ok());
    let pad = "x".repeat(number("pad").unwrap_or(0) as usize);
    let page_of = |first: u32, end: u32| -> Vec<Value> {
        (first..(first + PER_PAGE).min(end))
            .map(|id| match pad.is_empty() {
                true => json!({"id": id}),
                false => json!({"id": id, "pad": pad}),
            })
            .collect()
    };
    let cursor = query
        .get("cursor")
        .and_then(|c| c.strip_prefix('c'))
        .map_or(0, |c| c.parse::<u32>().unwrap());
    let mut headers = Vec::new();
    let body = match url.path() {
        "/offset" => json!(page_of(number("offset").unwrap(), TOTAL)),
        "/page" => json!(page_of((number("page").unwrap() - 1) * PER_PAGE, TOTAL)),
        "/range" => json!(page_of(number("n").unwrap() * PER_PAGE, TOTAL)),
        "/cursor" => {
            let next = (cursor + 1 < TOTAL / PER_PAGE).then(|| format!("c{}", cursor + 1));
            json!({"data": page_of(cursor * PER_PAGE, TOTAL), "next_cursor": next})
        }
        "/link" => {
            let page = number("page").unwrap_or(0);
            let next = (page + 1 < TOTAL / PER_PAGE).then(|| format!("/link?page={}", page + 1));
            json!({"data": page_of(page * PER_PAGE, TOTAL), "paging": {"next": next}})
        }
        "/header" => {
            let page = number("page").unwrap_or(0);
            if page + 1 < TOTAL / PER_PAGE {
                headers.push((
                    "link".to_owned(),
                    format!("</header?page={}>; rel=\"next\"", page + 1),
                ));
            }
            json!({"data": page_of(page * PER_PAGE, TOTAL)})
        }
        "/group" => {
            let base = number("g").unwrap() * 100;
            let next = (cursor + 1 < GROUP_PAGES).then(|| format!("c{}", cursor + 1));
            json!({"data": page_of(base + cursor * PER_PAGE, base + 100), "next_cursor": next})
        }
        "/one" => json!(page_of(number("g").unwrap() * 100, u32::MAX)),
        "/parents" => json!((1..=6).map(|g| json!({"g": g})).collect::<Vec<_>>()),
        other => panic!("no route {other}"),
    };
    let mut exchange = Exchange::json(target, body.to_string());
    exchange.headers.extend(headers);
    exchange
}

/// A job shape and the records it must end with, in order.
struct Scenario {
    job: String,
    expected: Vec<u32>,
    /// Whether it sends one request at a time, each after the previous page
    /// is written: then a killed run's checkpoint is exactly known.
    followed: bool,
    /// `state.every`.
    every: &'static str,
    /// The output's file name: `out.ndjson`, or `out.ndjson.gz`.
    output: &'static str,
}

fn scenario(api: &Api, path: &str, rest: &str) -> Scenario {
    let mut expected: Vec<u32> = (0..TOTAL).collect();
    let followed = !["offset", "page", "range", "one"]
        .iter()
        .any(|p| path.starts_with(&format!("/{p}")));
    if path.starts_with("/group") || path.starts_with("/one") {
        let per_value = if path.starts_with("/group") {
            GROUP_PAGES * PER_PAGE
        } else {
            PER_PAGE
        };
        expected = (1..=6).flat_map(|g| g * 100..g * 100 + per_value).collect();
    }
    Scenario {
        job: format!("[request]\nurl = \"{}{path}\"\n{rest}", api.server.url()),
        expected,
        followed,
        every: "0s",
        output: "out.ndjson",
    }
}

/// The NDJSON an output holds: a gzip file's decoded by `gzip -dc`, which
/// reads its members as one text.
fn read_output(dir: &Dir, name: &str) -> String {
    match name.rsplit('.').next() {
        Some("gz") => gunzipped(&dir.path(name)),
        Some("zst") => unzstd(&dir.path(name)),
        _ => dir.read(name),
    }
}

const CURSOR: &str = "[records]\npath = \"$.data\"\n[paginate]\ntype = \"cursor\"\n";
const FANOUT_VALUES: &str =
    "[fanout]\nparam = \"g\"\nvalues = [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\"]\n";

/// When to kill a run.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// When request n + 1 arrives, which the server holds, after a while.
    Holding(usize, Duration),
    /// When request n + 1 arrives, which the server holds, and the state
    /// file then holds a checkpoint that passes the test.
    Checkpointed(usize, fn(&Value) -> bool),
    /// This long after the first request arrives; nothing is held.
    After(Duration),
}

/// Runs the job, kills it with SIGKILL at `kill`, and resumes it. Answers
/// the resumed run's summary and the requests it sent.
fn kill_and_resume(api: &Api, scenario: &Scenario, kill: Kill) -> (Value, Vec<String>) {
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!(
            "{}\n[output]\npath = \"{}\"\n[state]\npath = \"{}\"\nevery = \"{}\"\n",
            scenario.job,
            path_str(&dir.path(scenario.output)),
            path_str(&dir.path("state/job.json")),
            scenario.every,
        ),
    );
    let (wait_for, settle) = match kill {
        Kill::Holding(n, settle) => {
            api.hold_after.store(n, Ordering::SeqCst);
            (n + 1, settle)
        }
        Kill::Checkpointed(n, _) => {
            api.hold_after.store(n, Ordering::SeqCst);
            (n + 1, Duration::ZERO)
        }
        Kill::After(settle) => (1, settle),
    };
    api.received.store(0, Ordering::SeqCst);
    let mut child = spawn_hydrant(&["run", path_str(&job), "--quiet"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.received.load(Ordering::SeqCst) < wait_for {
        assert!(
            Instant::now() < deadline,
            "the run never sent request {wait_for}"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(settle);
    if let Kill::Checkpointed(_, test) = kill {
        wait_for_state(&dir.path("state/job.json"), &mut child, test);
    }
    // Without a held request, a quick run may be done before the kill.
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
        let status = child.wait().unwrap();
        // The run may have finished between the check and the kill, or
        // been killed after its output was complete but before it exited:
        // an output under its final name must then be whole.
        if std::os::unix::process::ExitStatusExt::signal(&status).is_some()
            && dir.path(scenario.output).exists()
        {
            assert_eq!(
                output_ids(&read_output(&dir, scenario.output)),
                scenario.expected,
                "a killed run left its output looking complete"
            );
        }
    }
    api.hold_after.store(usize::MAX, Ordering::SeqCst);
    let first_run = api.targets().len();
    let summary = dir.path("summary.json");
    let run = hydrant(&[
        "run",
        path_str(&job),
        "--resume",
        "--summary-json",
        path_str(&summary),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        output_ids(&read_output(&dir, scenario.output)),
        scenario.expected,
        "killed at {kill:?}"
    );
    assert!(
        !dir.path("state/job.json").exists(),
        "a finished run keeps no state"
    );
    let targets = api.targets();
    let summary: Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    (summary, targets[first_run..].to_vec())
}

/// The `id` of each line of an NDJSON output, in order.
fn output_ids(output: &str) -> Vec<u32> {
    output
        .lines()
        .map(|line| {
            let id = serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_u64()
                .unwrap();
            u32::try_from(id).unwrap()
        })
        .collect()
}

/// Where a resumed run starts among the first run's requests `all[..
/// first_run]`, the last of them held when it was killed: at the held one,
/// or at one of the pages before it that were stepped on while their rows
/// were still being made, and so not yet checkpointed (a followed request
/// goes out while up to four such pages wait). Answers how many requests
/// before the held one it starts.
fn resumed_before_held(all: &[String], first_run: usize, first: &str) -> usize {
    let held = first_run - 1;
    (0..=4.min(held))
        .find(|&back| all[held - back] == first)
        .unwrap_or_else(|| panic!("resumed at an unexpected request {first}"))
}

/// Kills a followed run when request `kill_after + 1` arrives: the resumed
/// run starts with it or one of the few before, and sends no earlier one
/// again.
fn resumes_where_it_stopped(api: &Api, scenario: &Scenario, kill_after: usize) {
    let (summary, resumed) =
        kill_and_resume(api, scenario, Kill::Holding(kill_after, Duration::ZERO));
    let all = api.targets();
    let first_run = all.len() - resumed.len();
    let answered_before = kill_after - resumed_before_held(&all, first_run, &resumed[0]);
    assert_eq!(summary["records"], json!(scenario.expected.len()));
    assert_eq!(
        summary["requests"],
        json!(answered_before + resumed.len()),
        "killed after {kill_after} requests"
    );
}

#[test]
fn a_killed_cursor_run_resumes_at_the_next_cursor() {
    let api = Api::start(Duration::ZERO);
    let scenario = scenario(&api, "/cursor", CURSOR);
    assert!(scenario.followed);
    for kill_after in [1, 3, 7] {
        resumes_where_it_stopped(&api, &scenario, kill_after);
    }
}

#[test]
fn a_killed_next_link_or_link_header_run_resumes_at_the_next_link() {
    let api = Api::start(Duration::ZERO);
    let links = scenario(
        &api,
        "/link",
        "[records]\npath = \"$.data\"\n[paginate]\ntype = \"next_link\"\n",
    );
    for kill_after in [2, 6] {
        resumes_where_it_stopped(&api, &links, kill_after);
    }
    let headers = scenario(
        &api,
        "/header",
        "[records]\npath = \"$.data\"\n[paginate]\ntype = \"link_header\"\n",
    );
    resumes_where_it_stopped(&api, &headers, 4);
}

#[test]
fn killed_data_factory_rules_runs_resume() {
    let api = Api::start(Duration::ZERO);
    let absolute_url = scenario(
        &api,
        "/link",
        "[records]\npath = \"$.data\"\n[paginate]\ntype = \"rules\"\n\
         rules = { AbsoluteUrl = \"$.paging.next\" }\n",
    );
    assert!(absolute_url.followed);
    resumes_where_it_stopped(&api, &absolute_url, 3);
    let ranges = scenario(
        &api,
        "/range",
        "[paginate]\ntype = \"rules\"\nrules = { \"QueryParameters.n\" = \"RANGE:0:7:1\" }\n\
         [limits]\nconcurrency = 2\n",
    );
    for kill_after in [2, 5] {
        let kill = Kill::Holding(kill_after, Duration::from_millis(100));
        let (summary, _) = kill_and_resume(&api, &ranges, kill);
        assert_eq!(summary["records"], json!(TOTAL));
    }
}

#[test]
fn a_killed_fanout_run_resumes_within_and_between_values() {
    let api = Api::start(Duration::ZERO);
    let scenario = scenario(&api, "/group", &format!("{CURSOR}{FANOUT_VALUES}"));
    // 3 requests a value: killed inside the first value, at the boundary
    // of two values, and inside the fifth value.
    for kill_after in [2, 6, 13] {
        resumes_where_it_stopped(&api, &scenario, kill_after);
    }
}

#[test]
fn a_killed_run_fanning_out_from_a_parent_job_resumes_within_a_value() {
    let api = Api::start(Duration::ZERO);
    let parent = format!(
        "[fanout]\nparam = \"g\"\n[fanout.from]\npath = \"g\"\n[fanout.from.request]\nurl = \"{}/parents\"\n",
        api.server.url()
    );
    let scenario = scenario(&api, "/group", &format!("{CURSOR}{parent}"));
    // Request 1 is the parent job; 9 is the second page of the third
    // value. It is held, and the run killed once the first page of that
    // value is checkpointed.
    let within_the_third_value: fn(&Value) -> bool =
        |state| state["values_done"] == json!(2) && state["pass"]["value"] == json!("3");
    let kill = Kill::Checkpointed(8, within_the_third_value);
    let (summary, resumed) = kill_and_resume(&api, &scenario, kill);
    assert_eq!(resumed[0], "/parents", "the parent job runs again");
    // Then the pass goes on at the held page, within the value.
    assert_eq!(resumed[1], "/group?g=3&cursor=c1");
    assert_eq!(summary["records"], json!(scenario.expected.len()));
}

#[test]
fn killed_concurrent_runs_resume_with_every_record_once() {
    let api = Api::start(Duration::ZERO);
    let shapes = [
        scenario(
            &api,
            "/offset",
            "[paginate]\ntype = \"offset\"\nlimit = 5\n[limits]\nconcurrency = 3\n",
        ),
        scenario(&api, "/page", "[paginate]\ntype = \"page\"\nsize = 5\n"),
        scenario(
            &api,
            "/range",
            "[paginate]\ntype = \"range\"\nparam = \"n\"\nstart = 0\nend = 7\n",
        ),
        scenario(
            &api,
            "/one",
            &format!("{FANOUT_VALUES}[limits]\nconcurrency = 3\n"),
        ),
    ];
    for scenario in &shapes {
        for (kill_after, settle) in [(1, 0), (3, 150), (5, 0)] {
            let kill = Kill::Holding(kill_after, Duration::from_millis(settle));
            let (summary, resumed) = kill_and_resume(&api, scenario, kill);
            assert_eq!(summary["records"], json!(scenario.expected.len()));
            assert!(!resumed.is_empty());
        }
    }
}

#[test]
fn runs_killed_at_arbitrary_moments_resume_with_every_record_once() {
    // Every answer takes a little while, and the run is killed after a
    // time rather than at a request: the kill lands while pages are being
    // received, written or checkpointed.
    let api = Api::start(Duration::from_millis(4));
    let shapes = [
        scenario(
            &api,
            "/offset",
            "[paginate]\ntype = \"offset\"\nlimit = 5\n[limits]\nconcurrency = 4\n",
        ),
        scenario(&api, "/cursor", CURSOR),
    ];
    for scenario in &shapes {
        for settle in [0, 7, 15, 25, 40] {
            kill_and_resume(&api, scenario, Kill::After(Duration::from_millis(settle)));
        }
    }
}

/// A gzip (zstd) output is written as members (frames) that end at each
/// checkpoint: a run killed at any moment resumes after the last whole
/// member, and `gzip -dc` (`zstd -dc`) reads every record once.
#[test]
fn a_killed_gzip_run_resumes_with_every_record_once() {
    let api = Api::start(Duration::from_millis(4));
    let offset = "[paginate]\ntype = \"offset\"\nlimit = 5\n[limits]\nconcurrency = 4\n";
    for (mut scenario, output) in [
        (scenario(&api, "/offset", offset), "out.ndjson.gz"),
        (scenario(&api, "/cursor", CURSOR), "out.ndjson.gz"),
        (scenario(&api, "/offset", offset), "out.ndjson.zst"),
        (scenario(&api, "/cursor", CURSOR), "out.ndjson.zst"),
    ] {
        scenario.output = output;
        for settle in [0, 15, 40] {
            kill_and_resume(&api, &scenario, Kill::After(Duration::from_millis(settle)));
        }
        kill_and_resume(
            &api,
            &scenario,
            Kill::Holding(6, Duration::from_millis(100)),
        );
    }
}

#[test]
fn output_written_after_the_last_checkpoint_is_cut_off_on_resume() {
    // One checkpoint an hour: only the first page is checkpointed, and the
    // 100 kB pages after it overflow the write buffer into the file before
    // the kill. The resumed run must drop them and fetch them again.
    let api = Api::start(Duration::ZERO);
    let mut scenario = scenario(&api, "/cursor?pad=20000", CURSOR);
    scenario.every = "1h";
    let (summary, resumed) = kill_and_resume(
        &api,
        &scenario,
        Kill::Holding(6, Duration::from_millis(200)),
    );
    assert_eq!(resumed.len(), 7, "pages 2 to 8 again: {resumed:?}");
    assert_eq!(summary["records"], json!(TOTAL));
}

/// A job that checkpoints every page into `dir`, with `rest` after its
/// `[request]` url.
fn checkpointed_job(dir: &Dir, url: &str, rest: &str, output: &str) -> std::path::PathBuf {
    dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{url}\"\n{rest}\n[output]\npath = \"{}\"\nformat = \"{}\"\n\
             [state]\npath = \"{}\"\nevery = \"0s\"\n",
            path_str(&dir.path(output)),
            output.rsplit('.').next().unwrap(),
            path_str(&dir.path("job.state")),
        ),
    )
}

#[test]
fn a_failed_run_keeps_its_partial_output_and_state_for_resume() {
    // Records 3 and 4 of each page are dirty (an id that is not a long
    // under a declared column); the CSV header and the dirty file must come
    // out once and whole after the resume.
    let server = TestServer::start_fn({
        let calls = Arc::new(AtomicUsize::new(0));
        move |seen| {
            let page: u32 = seen.target.rsplit('=').next().unwrap().parse().unwrap();
            let call = calls.fetch_add(1, Ordering::SeqCst);
            let mut exchange = Exchange::json(&seen.target, dirty_page(page));
            if page == 3 && call == 2 {
                exchange.status = 503;
            }
            exchange
        }
    });
    let dir = Dir::new();
    let job = checkpointed_job(
        &dir,
        &format!("{}/items", server.url()),
        &format!(
            "[paginate]\ntype = \"page\"\nsize = 5\n[limits]\nconcurrency = 1\nmax_retries = 0\n\
             [records]\ndirty_path = \"{}\"\nmax_dirty = 100\n[[columns]]\nname = \"id\"\ntype = \"long\"\n",
            path_str(&dir.path("dirty.ndjson"))
        ),
        "out.csv",
    );
    let failed = hydrant(&["run", path_str(&job)]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("503"), "{}", failed.stderr);
    let kept = format!(
        "the output so far stays in `{}` with a checkpoint: resume with --resume",
        dir.path("out.csv.partial").display()
    );
    assert!(failed.stderr.contains(&kept), "{}", failed.stderr);
    assert!(!dir.path("out.csv").exists());
    assert_eq!(
        dir.read("out.csv.partial"),
        "id\n0\n1\n2\n5\n6\n7\n",
        "pages 1 and 2 are kept"
    );
    let state: Value = serde_json::from_str(&dir.read("job.state")).unwrap();
    assert_eq!(
        (&state["progress"]["records"], &state["progress"]["dirty"]),
        (&json!(6), &json!(4))
    );

    let summary = dir.path("summary.json");
    let resumed = hydrant(&[
        "run",
        path_str(&job),
        "--resume",
        "--summary-json",
        path_str(&summary),
    ]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let expected: String = (0..4)
        .flat_map(|p| (p * 5..p * 5 + 3).map(|id| format!("{id}\n")))
        .collect();
    assert_eq!(dir.read("out.csv"), format!("id\n{expected}"));
    let dirty: Vec<u64> = dir
        .read("dirty.ndjson")
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["record"]["page_row"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(dirty, [3, 4, 8, 9, 13, 14, 18, 19]);
    let summary: Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(
        (
            &summary["records"],
            &summary["dirty"],
            &summary["requests"],
            &summary["stopped"]
        ),
        (&json!(12), &json!(8), &json!(5), &json!("short_page"))
    );
    assert!(!dir.path("job.state").exists());
    assert!(!dir.path("out.csv.partial").exists());
}

/// Page `page` of 4 (and an empty fifth): 5 records, the last two dirty.
fn dirty_page(page: u32) -> String {
    if page > 4 {
        return "[]".to_owned();
    }
    let first = (page - 1) * 5;
    let records: Vec<Value> = (first..first + 5)
        .map(|n| match n % 5 < 3 {
            true => json!({"id": n, "page_row": n}),
            false => json!({"id": format!("bad{n}"), "page_row": n}),
        })
        .collect();
    json!(records).to_string()
}

/// Leaves the state and partial output of a run that failed at page 3.
fn failed_run(api: &Api, dir: &Dir, rest: &str) -> std::path::PathBuf {
    let job = checkpointed_job(
        dir,
        &format!("{}/cursor", api.server.url()),
        rest,
        "out.ndjson",
    );
    api.received.store(0, Ordering::SeqCst);
    api.fail_after.store(2, Ordering::SeqCst);
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    api.fail_after.store(usize::MAX, Ordering::SeqCst);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(dir.path("job.state").exists());
    job
}

#[test]
fn a_checkpoint_whose_output_was_renamed_into_place_resumes() {
    // As a run stopped between renaming its output and removing its
    // state leaves them: the output under its final name, no partial
    // file. A retry loop that always passes --resume must still end.
    let api = Api::start(Duration::ZERO);
    let dir = Dir::new();
    let job = failed_run(&api, &dir, &format!("{CURSOR}[limits]\nmax_retries = 0\n"));
    std::fs::rename(dir.path("out.ndjson.partial"), dir.path("out.ndjson")).unwrap();
    let run = hydrant(&["run", path_str(&job), "--resume"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        output_ids(&dir.read("out.ndjson")),
        (0..TOTAL).collect::<Vec<_>>()
    );
    assert!(!dir.path("out.ndjson.partial").exists());
    assert!(!dir.path("job.state").exists());
}

#[test]
fn a_renamed_output_that_is_not_the_checkpoints_is_refused_and_kept() {
    let api = Api::start(Duration::ZERO);
    let dir = Dir::new();
    let job = failed_run(&api, &dir, &format!("{CURSOR}[limits]\nmax_retries = 0\n"));
    std::fs::remove_file(dir.path("out.ndjson.partial")).unwrap();
    dir.write("out.ndjson", "{\"id\":999}\n");
    let run = hydrant(&["run", path_str(&job), "--resume"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let (out, partial) = (dir.path("out.ndjson"), dir.path("out.ndjson.partial"));
    assert!(
        run.stderr.contains(&format!(
            "cannot resume the output `{}`: `{}` is missing and `{}` does not hold what the cut-off run wrote; run without --resume to start over",
            out.display(),
            partial.display(),
            out.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(dir.read("out.ndjson"), "{\"id\":999}\n", "left as it was");
    assert!(dir.path("job.state").exists());
}

#[test]
fn a_state_file_of_another_job_is_refused() {
    let api = Api::start(Duration::ZERO);
    let dir = Dir::new();
    let rest = format!("{CURSOR}[limits]\nmax_retries = 0\n");
    let job = failed_run(&api, &dir, &rest);
    let state_before = dir.read("job.state");

    // Limits may change between a run and its resume; the records may not.
    let other = rest.replace("$.data", "$.data[*]");
    checkpointed_job(
        &dir,
        &format!("{}/cursor", api.server.url()),
        &other,
        "out.ndjson",
    );
    let refused = hydrant(&["run", path_str(&job), "--resume"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "state file `{}` belongs to a different job",
            path_str(&dir.path("job.state"))
        )),
        "{}",
        refused.stderr
    );
    assert_eq!(
        dir.read("job.state"),
        state_before,
        "a refused resume changes nothing"
    );
    assert!(dir.path("out.ndjson.partial").exists());

    let patient = rest.replace("max_retries = 0", "max_retries = 3\nconcurrency = 1");
    checkpointed_job(
        &dir,
        &format!("{}/cursor", api.server.url()),
        &patient,
        "out.ndjson",
    );
    let resumed = hydrant(&["run", path_str(&job), "--resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(dir.read("out.ndjson").lines().count(), TOTAL as usize);
}

#[test]
fn resume_needs_state_and_a_file_output() {
    let dir = Dir::new();
    let plain = dir.write("plain.toml", "[request]\nurl = \"http://127.0.0.1:9/x\"\n");
    let run = hydrant(&["run", path_str(&plain), "--resume"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--resume needs checkpoints"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("has no [state] path"), "{}", run.stderr);

    let stdout = dir.write(
        "stdout.toml",
        "[request]\nurl = \"http://127.0.0.1:9/x\"\n[state]\npath = \"s.json\"\n",
    );
    let run = hydrant(&["run", path_str(&stdout)]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("[state] needs output.path"),
        "{}",
        run.stderr
    );
}

#[test]
fn resume_without_a_checkpoint_runs_from_the_beginning() {
    let api = Api::start(Duration::ZERO);
    let dir = Dir::new();
    let job = checkpointed_job(
        &dir,
        &format!("{}/cursor", api.server.url()),
        CURSOR,
        "out.ndjson",
    );
    let run = hydrant(&["run", path_str(&job), "--resume"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("no checkpoint at"), "{}", run.stderr);
    assert_eq!(dir.read("out.ndjson").lines().count(), TOTAL as usize);
}

#[test]
fn a_run_without_resume_starts_over_and_drops_the_old_checkpoint() {
    let api = Api::start(Duration::ZERO);
    let dir = Dir::new();
    let job = failed_run(&api, &dir, &format!("{CURSOR}[limits]\nmax_retries = 0\n"));
    let before = api.targets().len();
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(api.targets().len() - before, 8, "all 8 pages again");
    assert_eq!(dir.read("out.ndjson").lines().count(), TOTAL as usize);
    assert!(!dir.path("job.state").exists());
}

/// Records of each page of [`lookahead_page`].
const BIG_PAGE: u64 = 3000;
/// Pages of the look-ahead scenario.
const BIG_PAGES: u64 = 6;

/// Page `page` (from 1) of `BIG_PAGES`: `next` leads, so the next request
/// leaves before the page is parsed, and the pages are big enough that
/// the next answer is in before this page's rows are made.
fn lookahead_page(page: u64) -> String {
    let first = (page - 1) * BIG_PAGE;
    let records: Vec<Value> = (first..first + BIG_PAGE)
        .map(|n| json!({"id": n, "name": format!("record {n} of page {page}")}))
        .collect();
    let next = (page < BIG_PAGES).then(|| format!("/big?page={}", page + 1));
    // Written by hand: `json!` would sort `data` first.
    format!("{{\"next\":{},\"data\":{}}}", json!(next), json!(records))
}

#[test]
fn checkpoints_taken_while_later_pages_are_stepped_on_name_the_unwritten_page() {
    // Each request the server gets is a moment to look at the checkpoint:
    // the output it counts must hold whole pages, and its next request must
    // be the page right after them, whichever later pages were already
    // stepped on. The last page fails once, so the pages stepped on before
    // it must be written before the run gives up.
    let dir = Arc::new(Dir::new());
    let mismatches = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ahead = Arc::new(AtomicUsize::new(0));
    let failed_once = Arc::new(AtomicUsize::new(0));
    let pages: Vec<String> = (1..=BIG_PAGES).map(lookahead_page).collect();
    let server = TestServer::start_fn({
        let (dir, mismatches, ahead) = (dir.clone(), mismatches.clone(), ahead.clone());
        move |seen| {
            let page: u64 = seen.target.rsplit('=').next().unwrap().parse().unwrap_or(1);
            if let Ok(text) = std::fs::read_to_string(dir.path("job.state")) {
                let state: Value = serde_json::from_str(&text).unwrap();
                let output = std::fs::read(dir.path("out.ndjson.partial")).unwrap_or_default();
                let counted = state["output_bytes"].as_u64().unwrap() as usize;
                // Records are written in id order: the last one counted
                // tells how many are.
                let counted = &output[..counted.min(output.len())];
                let lines = match counted.strip_suffix(b"\n") {
                    Some(head) => {
                        let last =
                            &head[head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)..];
                        serde_json::from_slice::<Value>(last).unwrap()["id"]
                            .as_u64()
                            .unwrap()
                            + 1
                    }
                    None => 0,
                };
                let written = lines / BIG_PAGE;
                let next = format!("page={}\"", written + 1);
                let consistent = lines % BIG_PAGE == 0
                    && state["progress"]["records"] == json!(lines)
                    && state["progress"]["requests"] == json!(written)
                    && state["launched"] == json!(written)
                    && state["pass"]["next"].to_string().contains(&next);
                if !consistent {
                    mismatches.lock().unwrap().push(format!(
                        "at the request for page {page}: {lines} lines counted, state {state}"
                    ));
                }
                if written + 2 < page {
                    ahead.fetch_add(1, Ordering::SeqCst);
                }
            }
            let mut exchange = Exchange::json(&seen.target, pages[page as usize - 1].clone());
            if page == BIG_PAGES && failed_once.fetch_add(1, Ordering::SeqCst) == 0 {
                exchange.status = 503;
            }
            exchange
        }
    });
    let job = checkpointed_job(
        &dir,
        &format!("{}/big?page=1", server.url()),
        "[paginate]\ntype = \"next_link\"\nfrom = \"$.next\"\n[limits]\nmax_retries = 0\n\
         [records]\npath = \"$.data\"\n[[columns]]\nname = \"id\"\ntype = \"long\"\n\
         [[columns]]\nname = \"name\"\ntype = \"string\"\n",
        "out.ndjson",
    );
    let failed = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let partial = dir.read("out.ndjson.partial");
    assert_eq!(
        partial.lines().count() as u64,
        (BIG_PAGES - 1) * BIG_PAGE,
        "every page answered before the failure is written"
    );
    let resumed = hydrant(&["run", path_str(&job), "--resume", "--quiet"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(
        output_ids(&dir.read("out.ndjson")),
        (0..(BIG_PAGES * BIG_PAGE) as u32).collect::<Vec<_>>()
    );
    assert_eq!(mismatches.lock().unwrap().as_slice(), &[] as &[String]);
    eprintln!(
        "requests sent with two pages unwritten: {}",
        ahead.load(Ordering::SeqCst)
    );
}

/// Many APIs put the key they were sent back into their next link. The
/// checkpoint keeps that link with the key masked, and a resumed run must
/// send the key again, not the mask: in the query, or in the path
/// (`https://api.telegram.org/bot<token>/…`, from a variable named as a
/// credential).
#[test]
fn a_resumed_link_carries_the_credential_its_checkpoint_masked() {
    const KEY: &str = "k3y-of-the-job";
    let in_query = |page: u32| match page {
        1 => format!("/data?code={KEY}"),
        _ => format!("/data?code={KEY}&page={page}"),
    };
    let in_path = |page: u32| match page {
        1 => format!("/bot{KEY}/data"),
        _ => format!("/bot{KEY}/data?page={page}"),
    };
    // The job's URL and more of `[request]`, the link to each page, and
    // what the checkpoint keeps of the link to page 2.
    type Link = fn(u32) -> String;
    let cases: [(&str, &str, Link, &str); 3] = [
        ("/data?code=${KEY}", "", in_query, "code=***&page=2"),
        (
            "/data",
            "query = { code = \"${KEY}\" }\n",
            in_query,
            "code=***&page=2",
        ),
        ("/bot${KEY}/data", "", in_path, "/bot***/data?page=2"),
    ];
    for (url, rest, link, masked) in cases {
        let failed_once = Arc::new(AtomicUsize::new(0));
        let server = TestServer::start_fn({
            let failed_once = failed_once.clone();
            move |seen| {
                let page: u32 =
                    (seen.target.rsplit_once("page=")).map_or(1, |(_, page)| page.parse().unwrap());
                if seen.target != link(page) {
                    return Exchange {
                        status: 401,
                        ..Exchange::json(&seen.target, "{\"error\":\"bad code\"}")
                    };
                }
                if page == 2 && failed_once.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Exchange {
                        status: 400,
                        ..Exchange::json(&seen.target, "{}")
                    };
                }
                let next = if page < 3 {
                    json!(link(page + 1))
                } else {
                    Value::Null
                };
                let body = json!({"data": [{"id": page}], "next": next});
                Exchange::json(&seen.target, body.to_string())
            }
        });
        let dir = Dir::new();
        let job = checkpointed_job(
            &dir,
            &format!("{}{url}", server.url()),
            &format!(
                "{rest}[paginate]\ntype = \"next_link\"\nfrom = \"$.next\"\n\
                 [limits]\nmax_retries = 0\n[records]\npath = \"data\"\n"
            ),
            "out.ndjson",
        );
        let env = [("KEY", KEY)];
        let failed = hydrant_with(&["run", path_str(&job), "--quiet"], &env);
        assert_eq!(failed.code, 1, "{url}: {}", failed.stderr);
        assert!(!failed.stderr.contains(KEY), "{url}: {}", failed.stderr);
        let state = dir.read("job.state");
        assert!(!state.contains(KEY), "{url}: {state}");
        assert!(state.contains(masked), "{url}: {state}");
        let resumed = hydrant_with(&["run", path_str(&job), "--resume", "--quiet"], &env);
        assert_eq!(resumed.code, 0, "{url}: {}", resumed.stderr);
        assert_eq!(output_ids(&dir.read("out.ndjson")), vec![1, 2, 3], "{url}");
        let sent: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
        assert_eq!(sent, [link(1), link(2), link(2), link(3)], "{url}");
    }
}

/// Cursor pages of records whose columns are inferred from the first
/// page and then change: `n`, whole at first, takes decimals from page 4;
/// `late` comes from page 2; `maybe` and `deep.x`, null or empty at
/// first, hold objects later; `mixed` turns from numbers to text, `when`
/// from timestamps to a word, `big` from a fraction to a whole number past
/// 2^53; `map` gains keys until they are data. `s` holds text that CSV
/// quotes. Each answer takes 4 ms, so that a kill lands anywhere in a run.
fn shifting_api() -> TestServer {
    TestServer::start_fn(|seen| {
        let page: u32 = seen
            .target
            .split_once("cursor=")
            .map_or(0, |(_, c)| c.parse().unwrap());
        let records: Vec<Value> = (page * PER_PAGE..(page + 1) * PER_PAGE)
            .map(|i| {
                let mut record = json!({"id": i, "n": i, "s": format!("a,\"b\" {i}")});
                if page >= 4 {
                    record["n"] = json!(f64::from(i) + 0.5);
                }
                if page >= 2 {
                    record["late"] = json!(i);
                }
                record["maybe"] = if page >= 3 {
                    json!({"a": i})
                } else {
                    Value::Null
                };
                record["mixed"] = if page >= 5 {
                    json!(format!("t{i}"))
                } else {
                    json!(i)
                };
                record["when"] = if page == 6 {
                    json!("soon")
                } else {
                    json!(format!("2024-01-0{}T00:00:00Z", 1 + page % 9))
                };
                record["list"] = json!([i, i + 1]);
                record["deep"] = if page >= 4 {
                    json!({"x": {"y": i}})
                } else {
                    json!({"x": {}})
                };
                record["big"] = if page >= 5 {
                    json!(9007199254740993u64)
                } else {
                    json!(0.5)
                };
                let mut map = serde_json::Map::new();
                for k in 0..(if page >= 4 { 3 } else { 1 }) {
                    map.insert(format!("k{}", i * 3 + k), json!(k));
                }
                record["map"] = Value::Object(map);
                record
            })
            .collect();
        let next = (page + 1 < TOTAL / PER_PAGE).then(|| (page + 1).to_string());
        let mut exchange = Exchange::json(
            &seen.target,
            json!({"data": records, "next_cursor": next}).to_string(),
        );
        exchange.delay = Duration::from_millis(4);
        exchange
    })
}

/// Runs killed at any moment and resumed write the very bytes of a run
/// left alone, in each text format, with columns inferred from the first
/// page and types that widen after it.
#[test]
fn a_resumed_run_writes_the_bytes_of_a_run_left_alone() {
    let api = shifting_api();
    for format in ["ndjson", "csv"] {
        let dir = Dir::new();
        let job = checkpointed_job(
            &dir,
            &format!("{}/items", api.url()),
            CURSOR,
            &format!("out.{format}"),
        );
        let whole = hydrant(&["run", path_str(&job)]);
        assert_eq!(whole.code, 0, "{}", whole.stderr);
        let whole = dir.read(&format!("out.{format}"));
        for settle in [0, 5, 12, 20, 30, 45] {
            std::fs::remove_file(dir.path(&format!("out.{format}"))).unwrap();
            let asked = api.requests().len();
            let mut child = spawn_hydrant(&["run", path_str(&job), "--quiet"]);
            while api.requests().len() == asked && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(settle));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                child.wait().unwrap();
            }
            let resumed = hydrant(&["run", path_str(&job), "--resume"]);
            assert_eq!(resumed.code, 0, "{format}, {settle} ms: {}", resumed.stderr);
            assert_eq!(
                dir.read(&format!("out.{format}")),
                whole,
                "{format}, killed {settle} ms after its first request"
            );
        }
    }
}
