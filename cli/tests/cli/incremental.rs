//! `[incremental]`: runs against an API whose records change between them
//! (inserts, updates, late writes, several records at the boundary), and
//! windows killed with SIGKILL and resumed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hydrant_bench::Seen;
use serde_json::{Value, json};

use crate::util::{
    Dir, TestServer, hydrant, hydrant_with, json as answer, path_str, spawn_hydrant_with,
    wait_for_state,
};

/// 2024-03-01T12:00:00Z, the boundary of the first run.
const T: i64 = 1_709_294_400;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// One version of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Row {
    id: u32,
    version: u32,
    updated_at: i64,
}

/// `YYYY-MM-DDTHH:MM:SSZ` of unix seconds (after 1970).
fn rfc3339(seconds: i64) -> String {
    hydrant_bench::corpus::timestamp(u64::try_from(seconds).expect("after 1970"))
}

fn parse_rfc3339(text: &str) -> i64 {
    let n = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (year, month, day) = (n(0..4), n(5..7), n(8..10));
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * DAY + n(11..13) * HOUR + n(14..16) * 60 + n(17..19)
}

fn query(seen: &Seen) -> HashMap<String, String> {
    url::Url::parse(&format!("http://api{}", seen.target))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// An orders API: `updated_since` (inclusive) and `updated_before`
/// (exclusive) filter by `updated_at`, unless it ignores them; `page` and
/// `per_page` page through the records in `updated_at`, `id` order.
struct Api {
    server: TestServer,
    rows: Arc<Mutex<Vec<Row>>>,
}

impl Api {
    fn start(ignores_filter: bool, delay: Duration) -> Api {
        Api::serving(ignores_filter, false, delay)
    }

    /// [`Api::start`], `updated_before` inclusive where `inclusive`:
    /// netdata's `before` and Prometheus's `end` are.
    fn serving(ignores_filter: bool, inclusive: bool, delay: Duration) -> Api {
        let rows: Arc<Mutex<Vec<Row>>> = Arc::default();
        let held = rows.clone();
        let server = TestServer::start_fn(move |seen| {
            let query = query(seen);
            let bound = |name: &str| query.get(name).map(|t| parse_rfc3339(t));
            let (since, before) = (bound("updated_since"), bound("updated_before"));
            if seen.header("authorization") != Some("Bearer t0ken-f0r-orders") {
                return answer(401, r#"{"error":"unauthorized"}"#);
            }
            let mut rows: Vec<Row> = held
                .lock()
                .unwrap()
                .iter()
                .copied()
                .filter(|r| {
                    ignores_filter
                        || (since.is_none_or(|s| r.updated_at >= s)
                            && before.is_none_or(|b| {
                                r.updated_at < b || (inclusive && r.updated_at == b)
                            }))
                })
                .collect();
            rows.sort_by_key(|r| (r.updated_at, r.id));
            let page: usize = query["page"].parse().unwrap();
            let per_page: usize = query["per_page"].parse().unwrap();
            let data: Vec<Value> = rows
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|r| json!({"id": r.id, "version": r.version, "updated_at": rfc3339(r.updated_at)}))
                .collect();
            let mut exchange = answer(200, json!({"data": data}).to_string());
            exchange.delay = delay;
            exchange
        });
        Api { server, rows }
    }

    /// Inserts a record, or replaces the version of one.
    fn put(&self, id: u32, version: u32, updated_at: i64) {
        let mut rows = self.rows.lock().unwrap();
        rows.retain(|r| r.id != id);
        rows.push(Row {
            id,
            version,
            updated_at,
        });
    }

    fn sent(&self, name: &str) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .filter_map(|seen| query(seen).get(name).cloned())
            .collect()
    }
}

fn job(api: &Api, dir: &Dir, incremental: &str) -> String {
    job_of_pages(api, dir, 2, incremental)
}

/// [`job`] with pages of `size` records.
fn job_of_pages(api: &Api, dir: &Dir, size: usize, incremental: &str) -> String {
    let text = format!(
        "[request]\nurl = \"{}/orders\"\nheaders = {{ Authorization = \"Bearer ${{TOKEN}}\" }}\n\
         [paginate]\ntype = \"page\"\nsize_param = \"per_page\"\nsize = {size}\n\
         [records]\npath = \"data\"\n\
         [state]\npath = \"{}\"\nevery = \"0s\"\n\
         [output]\npath = \"{}\"\n\
         [incremental]\ncursor = \"updated_at\"\nkey = [\"id\"]\n{incremental}",
        api.server.url(),
        path_str(&dir.path("state/orders.json")),
        path_str(&dir.path("out.ndjson")),
    );
    path_str(&dir.write("job.toml", &text)).to_owned()
}

const START: &str = "start = \"2024-01-01T00:00:00Z\"\n";

const TOKEN: (&str, &str) = ("TOKEN", "t0ken-f0r-orders");

/// Runs the job once, to `out-N.ndjson`; its records and summary.
fn run(dir: &Dir, job: &str, n: u32, extra: &[&str]) -> (Vec<Row>, Value) {
    let out = dir.path(&format!("out-{n}.ndjson"));
    let summary = dir.path(&format!("summary-{n}.json"));
    let mut args = vec![
        "run",
        job,
        "--output",
        path_str(&out),
        "--summary-json",
        path_str(&summary),
    ];
    args.extend_from_slice(extra);
    let run = hydrant_with(&args, &[TOKEN]);
    assert_eq!(run.code, 0, "run {n}: {}", run.stderr);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    (rows_of(&std::fs::read_to_string(out).unwrap()), summary)
}

fn rows_of(ndjson: &str) -> Vec<Row> {
    ndjson
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            Row {
                id: record["id"].as_u64().unwrap() as u32,
                version: record["version"].as_u64().unwrap() as u32,
                updated_at: parse_rfc3339(record["updated_at"].as_str().unwrap()),
            }
        })
        .collect()
}

/// Three runs of an API that changes between them. Together they emit
/// every version of every record exactly once: late writes within the
/// lookback are caught, records sharing the boundary timestamp are not
/// emitted twice, a new record at the boundary is not missed.
fn three_runs_emit_every_version_once(ignores_filter: bool) {
    let api = Api::start(ignores_filter, Duration::ZERO);
    let dir = Dir::new();
    let filter = if ignores_filter {
        "filter = true\n"
    } else {
        ""
    };
    let job = job(
        &api,
        &dir,
        &format!("{START}param = \"updated_since\"\nlookback = \"1h\"\norder = \"asc\"\n{filter}"),
    );
    let mut every_version = Vec::new();
    let mut put = |id, version, at| {
        api.put(id, version, at);
        every_version.push(Row {
            id,
            version,
            updated_at: at,
        });
    };
    put(1, 1, T - 5 * HOUR);
    put(2, 1, T - 3 * HOUR);
    put(3, 1, T);
    put(4, 1, T);
    let (first, summary) = run(&dir, &job, 1, &[]);
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(
        summary["incremental"]["bookmark_after"],
        "2024-03-01T12:00:00Z"
    );
    assert_eq!(summary["incremental"]["bookmark_before"], Value::Null);
    let state = hydrant_with(&["state", &job], &[TOKEN]);
    assert_eq!(state.code, 0, "{}", state.stderr);
    let state: Value = serde_json::from_str(&state.stdout).unwrap();
    assert_eq!(state["bookmark"], "2024-03-01T12:00:00Z");
    assert_eq!(state["boundary_keys"], json!(["3", "4"]));
    assert_eq!(state["windows"], Value::Null);

    put(5, 1, T + HOUR); // inserted
    put(2, 2, T + 2 * HOUR); // updated
    put(6, 1, T - HOUR / 2); // written late, within the lookback
    put(7, 1, T); // new, at the boundary timestamp
    let (second, summary) = run(&dir, &job, 2, &[]);
    let incremental = &summary["incremental"];
    assert_eq!(incremental["from"], "2024-03-01T11:00:00Z");
    assert_eq!(incremental["bookmark_before"], "2024-03-01T12:00:00Z");
    assert_eq!(incremental["bookmark_after"], "2024-03-01T14:00:00Z");
    assert_eq!(incremental["deduplicated"], 2, "records 3 and 4");
    if ignores_filter {
        assert_eq!(incremental["filtered"], 1, "record 1 is below the bound");
    }

    put(5, 2, T + 3 * HOUR); // updated again
    put(8, 1, T + 2 * HOUR); // new, at the second boundary
    let (third, summary) = run(&dir, &job, 3, &[]);
    assert_eq!(
        summary["incremental"]["bookmark_after"],
        "2024-03-01T15:00:00Z"
    );

    let mut emitted: Vec<Row> = [first, second, third].concat();
    emitted.sort();
    every_version.sort();
    assert_eq!(emitted, every_version);
    let sent = api.sent("updated_since");
    assert_eq!(sent[0], "2024-01-01T00:00:00Z");
    assert!(
        sent.contains(&"2024-03-01T11:00:00Z".to_owned()),
        "{sent:?}"
    );
    assert!(
        sent.contains(&"2024-03-01T13:00:00Z".to_owned()),
        "{sent:?}"
    );
    // The bookmark holds no secret.
    let state = dir.read("state/orders.json");
    assert!(!state.contains(TOKEN.1), "{state}");
}

#[test]
fn three_runs_emit_every_record_version_exactly_once() {
    three_runs_emit_every_version_once(false);
}

#[test]
fn an_api_that_ignores_the_filter_is_filtered_on_the_client() {
    three_runs_emit_every_version_once(true);
}

/// Histories of any shape: inserts and updates between runs, often at
/// the greatest timestamp so far (a tie with the bookmark), pages of one
/// to three records, windows whose bounds fall on the records or not,
/// APIs that filter or not. Every version that was current when a run
/// asked is emitted by exactly one run.
/// An API whose filter lets records outside the bounds through (Redmine's
/// `updated_on=>=T` answers the second before `T` as well) makes a run
/// write records another run writes too: they are counted and told.
/// Past the upper bound, only where the request sent it; where it did
/// not, what lies past it is the next run's, or no run's for a backfill.
#[test]
fn records_the_api_lets_through_outside_the_bounds_are_told() {
    let api = Api::start(true, Duration::ZERO);
    let dir = Dir::new();
    let asc = format!("{START}param = \"updated_since\"\norder = \"asc\"\n");
    let job_file = job(&api, &dir, &asc);
    api.put(1, 1, T - 5 * HOUR);
    api.put(2, 1, T);
    let warnings = |summary: &Value| summary["warnings"].as_array().unwrap().clone();
    let (first, summary) = run(&dir, &job_file, 1, &[]);
    assert_eq!(first.len(), 2);
    assert_eq!(summary["incremental"]["outside"], 0, "{summary}");
    assert!(warnings(&summary).is_empty(), "{summary}");
    api.put(3, 1, T + HOUR);
    let (second, summary) = run(&dir, &job_file, 2, &[]);
    let ids: Vec<u32> = second.iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 3], "record 2 is at the bookmark, written before");
    let incremental = &summary["incremental"];
    assert_eq!(
        (&incremental["outside"], &incremental["deduplicated"]),
        (&json!(1), &json!(1))
    );
    let told = "1 records had incremental.cursor `updated_at` outside the bounds the run asked \
                for, and were written: the API's filter let them through, and another run may \
                write them too; incremental.filter = true leaves them out";
    assert_eq!(warnings(&summary), [json!(told)], "{summary}");

    // A backfill from T up to T + 30m: record 1 lies below it, 3 past it.
    let backfill = [
        "--from",
        "2024-03-01T12:00:00Z",
        "--to",
        "2024-03-01T12:30:00Z",
    ];
    // Without `end_param` or `{until}` the API was not told the upper
    // bound: record 3 is not the backfill's, and is left out as `ahead`.
    for (end_param, rows, outside, ahead) in [
        ("", 2, 1, 1),
        ("end_param = \"updated_before\"\n", 3, 2, 0),
        ("[request.query]\nupdated_before = \"{until}\"\n", 3, 2, 0),
    ] {
        let dir = Dir::new();
        let job_file = job(&api, &dir, &format!("{asc}{end_param}"));
        let (written, summary) = run(&dir, &job_file, 3, &backfill);
        assert_eq!(written.len(), rows, "{summary}");
        let incremental = &summary["incremental"];
        assert_eq!(
            (&incremental["outside"], &incremental["ahead"]),
            (&json!(outside), &json!(ahead)),
            "{end_param}: {summary}"
        );
    }
}

/// An API whose upper bound is inclusive answers a record on a window's
/// bound in that window and in the next, whose lower bound it is, and
/// on the run's bound in the next run: each is emitted once, and none is
/// counted as outside the bounds.
#[test]
fn a_record_on_a_window_s_bound_is_emitted_once() {
    let api = Api::serving(false, true, Duration::ZERO);
    let dir = Dir::new();
    // Windows of 30 days from `start`: 2024-03-01T00:00:00Z is the bound
    // of the third.
    let bound = T - 12 * HOUR;
    let incremental = format!(
        "{START}param = \"updated_since\"\nend_param = \"updated_before\"\nstep = \"30d\"\n"
    );
    let job_file = job(&api, &dir, &incremental);
    api.put(1, 1, bound - HOUR);
    api.put(2, 1, bound);
    api.put(3, 1, bound + HOUR);
    let (first, summary) = run(&dir, &job_file, 1, &[]);
    let ids: Vec<u32> = first.iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 2, 3], "{summary}");
    let incremental = &summary["incremental"];
    assert_eq!(
        (&incremental["outside"], &incremental["deduplicated"]),
        (&json!(0), &json!(1)),
        "{summary}"
    );
    assert_eq!(summary["warnings"], json!([]), "{summary}");
    // The run's own upper bound: a record on it, then the next run.
    let to = "2024-04-01T00:00:00Z";
    let backfill = ["--from", "2024-03-01T00:00:00Z", "--to", to];
    api.put(4, 1, parse_rfc3339(to));
    let dir = Dir::new();
    let job_file = job(
        &api,
        &dir,
        &format!("{START}param = \"updated_since\"\nend_param = \"updated_before\"\n"),
    );
    let (rows, summary) = run(&dir, &job_file, 1, &backfill);
    let ids: Vec<u32> = rows.iter().map(|r| r.id).collect();
    assert_eq!(ids, [2, 3, 4], "{summary}");
    assert_eq!(summary["incremental"]["outside"], 0, "{summary}");
}

#[test]
fn every_version_current_at_some_run_is_emitted_once() {
    let mut below = crate::util::below(0x9e37_79b9_7f4a_7c15);
    let mut next = move |n: i64| below(n as usize) as i64;
    for round in 0..16 {
        let ignores_filter = next(3) == 0;
        let inclusive = next(2) == 0;
        let api = Api::serving(ignores_filter, inclusive, Duration::ZERO);
        let dir = Dir::new();
        let mut incremental = format!(
            "{START}param = \"updated_since\"\norder = \"{}\"\n",
            ["asc", "unsorted"][next(2) as usize]
        );
        if ignores_filter {
            incremental.push_str("filter = true\n");
        }
        // Windows of 30 days from `start` (2024-03-01T00:00:00Z is the
        // bound of the third), their upper bounds sent or not: without,
        // the API answers each window all it has from its lower bound on.
        match round % 3 {
            0 => {}
            1 => incremental.push_str("step = \"30d\"\nend_param = \"updated_before\"\n"),
            _ => incremental.push_str("step = \"30d\"\n"),
        }
        let size = 1 + next(3) as usize;
        let job = job_of_pages(&api, &dir, size, &incremental);
        let said = format!("round {round}: {size} a page, inclusive {inclusive}, {incremental}");
        // The greatest timestamp so far: on a window's bound or not.
        let mut latest = T - [0, 12 * HOUR][next(2) as usize];
        let mut current: HashMap<u32, Row> = HashMap::new();
        let mut asked = Vec::new();
        let mut emitted = Vec::new();
        for run_index in 0..2 + next(3) as u32 {
            for _ in 0..next(5) + u32::from(run_index == 0) as i64 {
                let id = match next(3) {
                    0 if !current.is_empty() => 1 + next(current.len() as i64) as u32,
                    _ => current.len() as u32 + 1,
                };
                let old = current.get(&id).copied();
                // An update moves its record's timestamp on; the new one may
                // tie with the latest of any record.
                let tie = old.is_none_or(|old| old.updated_at < latest);
                let at =
                    latest + [0, 1, HOUR * (1 + next(5))][next(3) as usize].max(i64::from(!tie));
                latest = at;
                let version = old.map_or(1, |old| old.version + 1);
                api.put(id, version, at);
                current.insert(
                    id,
                    Row {
                        id,
                        version,
                        updated_at: at,
                    },
                );
            }
            asked.extend(current.values().copied());
            let (rows, summary) = run(&dir, &job, run_index, &[]);
            emitted.extend(rows);
            assert_eq!(summary["incremental"]["no_cursor"], 0, "{said}");
        }
        asked.sort();
        asked.dedup();
        emitted.sort();
        assert_eq!(emitted, asked, "{said}");
    }
}

/// A record written within `safety_margin` of a run's start (or stamped
/// ahead of the run's clock) lies past the run's upper bound, which the
/// request did not send: the run leaves it to the next (counted as
/// `ahead`), which writes it once. It had been written by both.
#[test]
fn a_record_past_the_run_s_upper_bound_is_the_next_run_s() {
    let api = Api::start(false, Duration::ZERO);
    let dir = Dir::new();
    let margin = format!("{START}param = \"updated_since\"\nsafety_margin = \"1s\"\n");
    let job_file = job(&api, &dir, &margin);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    api.put(1, 1, T);
    let ahead = now() + 1;
    api.put(2, 1, ahead);
    let (first, summary) = run(&dir, &job_file, 1, &[]);
    let ids: Vec<u32> = first.iter().map(|r| r.id).collect();
    assert_eq!(ids, [1], "{summary}");
    let incremental = &summary["incremental"];
    assert_eq!(
        (
            &incremental["ahead"],
            &incremental["outside"],
            &incremental["bookmark_after"]
        ),
        (&json!(1), &json!(0), &json!(rfc3339(T))),
        "{summary}"
    );
    assert_eq!(summary["warnings"], json!([]), "{summary}");
    // Once the record is a second older than the run, it is the run's.
    while now() <= ahead + 1 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (second, summary) = run(&dir, &job_file, 2, &[]);
    let ids: Vec<u32> = second.iter().map(|r| r.id).collect();
    assert_eq!(ids, [2], "{summary}");
    assert_eq!(summary["incremental"]["ahead"], 0, "{summary}");
    let (third, summary) = run(&dir, &job_file, 3, &[]);
    assert!(third.is_empty(), "{summary}");
}

/// Windows of one day from `start`, each checkpointed: a run killed in
/// the middle resumes at the window and page it was in, and the output
/// then holds every record exactly once.
#[test]
fn a_windowed_run_killed_mid_way_resumes_at_its_window() {
    // `updated_before` inclusive: a record at midnight comes in the day
    // before it too, and is left out of its own day by its key, also
    // after the resume.
    let api = Api::serving(false, true, Duration::from_millis(40));
    let dir = Dir::new();
    // Five whole days before today, six records a day.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now / DAY - 5) * DAY;
    let mut expected = Vec::new();
    for day in 0..5 {
        for n in 0..6 {
            let id = (day * 10 + n) as u32;
            let at = start + day * DAY + n * 4 * HOUR;
            api.put(id, 1, at);
            expected.push(Row {
                id,
                version: 1,
                updated_at: at,
            });
        }
    }
    let job = job(
        &api,
        &dir,
        &format!(
            "start = \"{}\"\nparam = \"updated_since\"\nend_param = \"updated_before\"\nstep = \"1d\"\norder = \"asc\"\n",
            rfc3339(start)
        ),
    );
    let out = dir.path("out.ndjson");
    let mut child = spawn_hydrant_with(
        &["run", &job, "--output", path_str(&out), "--quiet"],
        &[TOKEN],
    );
    // Kill once two windows (of three pages each) are in the checkpoint.
    wait_for_state(&dir.path("state/orders.json"), &mut child, |state| {
        state["run"]["incremental"]["windows_done"]
            .as_u64()
            .is_some_and(|done| done >= 2)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_after = api.server.requests().len();
    assert!(
        !out.exists(),
        "a killed run left its output looking complete"
    );
    let shown = hydrant_with(&["state", &job], &[TOKEN]);
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert!(shown["windows"]["done"].as_u64().unwrap() >= 2, "{shown}");
    assert_eq!(
        shown["bookmark"],
        Value::Null,
        "the bookmark waits for success"
    );

    let summary = dir.path("summary.json");
    let resumed = hydrant_with(
        &[
            "run",
            &job,
            "--output",
            path_str(&out),
            "--resume",
            "--summary-json",
            path_str(&summary),
        ],
        &[TOKEN],
    );
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(rows_of(&dir.read("out.ndjson")), expected);
    // The resumed run did not start over: the two windows in the
    // checkpoint were not asked for again.
    let asked_again: Vec<String> = api.server.requests()[killed_after..]
        .iter()
        .filter_map(|seen| query(seen).get("updated_since").cloned())
        .filter(|since| *since == rfc3339(start) || *since == rfc3339(start + DAY))
        .collect();
    assert_eq!(asked_again, Vec::<String>::new());
    let summary: Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(summary["records"], 30);
    assert_eq!(
        summary["incremental"]["bookmark_after"],
        rfc3339(start + 4 * DAY + 20 * HOUR)
    );
    // Each window asked for one day, the last up to the run's start less
    // the safety margin.
    let before = api.sent("updated_before");
    assert!(before.contains(&rfc3339(start + DAY)), "{before:?}");
}

/// `--from`/`--to` read a range again without reading or moving the
/// stored bookmark.
/// Six orders a day apart before `T`, newest first (as `sort=-updated_at`
/// gives), two a page; `updated_since` honoured.
fn newest_first() -> TestServer {
    TestServer::start_fn(|seen| {
        let query = query(seen);
        let since = query.get("updated_since").map(|t| parse_rfc3339(t));
        let page: usize = query["page"].parse().unwrap();
        let data: Vec<Value> = (1..=6u32)
            .rev()
            .map(|id| (id, T - i64::from(7 - id) * DAY))
            .filter(|(_, at)| since.is_none_or(|s| *at >= s))
            .skip((page - 1) * 2)
            .take(2)
            .map(|(id, at)| json!({"id": id, "version": 1, "updated_at": rfc3339(at)}))
            .collect();
        answer(200, json!({"data": data}).to_string())
    })
}

#[test]
fn a_run_cut_at_max_requests_keeps_the_bookmark_unless_sorted_by_it() {
    // The pages a cut run leaves hold older records: moved to the newest
    // one read, the bookmark would skip them in every later run.
    let server = newest_first();
    let dir = Dir::new();
    let job = |order: &str| {
        let text = format!(
            "[request]\nurl = \"{}/orders\"\n\
             [paginate]\ntype = \"page\"\nsize_param = \"per_page\"\nsize = 2\n\
             [records]\npath = \"data\"\n\
             [state]\npath = \"{}\"\n\
             [incremental]\ncursor = \"updated_at\"\nkey = [\"id\"]\n{START}param = \"updated_since\"\n{order}",
            server.url(),
            path_str(&dir.path("orders.state")),
        );
        path_str(&dir.write("job.toml", &text)).to_owned()
    };
    let ids = |rows: Vec<Row>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let unsorted = job("");
    let (rows, summary) = run(&dir, &unsorted, 1, &["--max-requests", "1"]);
    assert_eq!(ids(rows), [6, 5]);
    assert_eq!(summary["stopped"], "max_requests");
    assert_eq!(summary["incremental"]["bookmark_after"], Value::Null);
    let warnings = summary["warnings"].to_string();
    assert!(warnings.contains("the bookmark stays"), "{warnings}");
    let (rows, _) = run(&dir, &unsorted, 2, &[]);
    assert_eq!(ids(rows), [6, 5, 4, 3, 2, 1]);

    // Sorted by the cursor (as the job says), the run's newest is safe.
    std::fs::remove_file(dir.path("orders.state")).unwrap();
    let sorted = job("order = \"desc\"\n");
    let (_, summary) = run(&dir, &sorted, 3, &["--max-requests", "1"]);
    assert_eq!(summary["incremental"]["bookmark_after"], Value::Null);
    let sorted = job("order = \"asc\"\n");
    let (_, summary) = run(&dir, &sorted, 4, &["--max-requests", "1"]);
    assert_eq!(summary["incremental"]["bookmark_after"], rfc3339(T - DAY));
    assert!(
        summary["warnings"].as_array().unwrap().is_empty(),
        "{summary}"
    );
}

#[test]
fn a_run_ended_by_a_pagination_loop_keeps_the_bookmark() {
    // The second page names its own cursor again: what lay past it is
    // unknown, and may be older than what was read.
    let server = TestServer::start_fn(|seen| {
        let after = query(seen).get("after").cloned();
        let (id, day) = if after.is_some() { (2, 2) } else { (1, 3) };
        let record = json!({"id": id, "version": 1, "updated_at": rfc3339(T - day * DAY)});
        answer(200, json!({"data": [record], "next": "c1"}).to_string())
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/orders\"\n\
         [paginate]\ntype = \"cursor\"\nparam = \"after\"\nfrom = \"next\"\n\
         [records]\npath = \"data\"\n\
         [state]\npath = \"{}\"\n\
         [incremental]\ncursor = \"updated_at\"\n{START}",
        server.url(),
        path_str(&dir.path("orders.state")),
    );
    let job = path_str(&dir.write("job.toml", &text)).to_owned();
    let (rows, summary) = run(&dir, &job, 1, &[]);
    assert_eq!(rows.len(), 2);
    assert_eq!(summary["incremental"]["bookmark_after"], Value::Null);
    let warnings = summary["warnings"].to_string();
    assert!(
        warnings
            .contains("the run ended before its last page (a pagination loop): the bookmark stays"),
        "{warnings}"
    );
}

#[test]
fn a_backfill_leaves_the_bookmark_alone() {
    let api = Api::start(false, Duration::ZERO);
    let dir = Dir::new();
    let job = job(
        &api,
        &dir,
        &format!("{START}param = \"updated_since\"\nend_param = \"updated_before\"\n"),
    );
    api.put(1, 1, T - DAY);
    api.put(2, 1, T);
    let (_, summary) = run(&dir, &job, 1, &[]);
    assert_eq!(
        summary["incremental"]["bookmark_after"],
        "2024-03-01T12:00:00Z"
    );
    api.put(3, 1, T - 2 * DAY);
    let (rows, summary) = run(
        &dir,
        &job,
        2,
        &[
            "--from",
            "2024-02-27T00:00:00Z",
            "--to",
            "2024-03-01T12:00:00Z",
        ],
    );
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 1]);
    let incremental = &summary["incremental"];
    assert_eq!(incremental["from"], "2024-02-27T00:00:00Z");
    assert_eq!(incremental["to"], "2024-03-01T12:00:00Z");
    assert_eq!(incremental["bookmark_before"], "2024-03-01T12:00:00Z");
    assert_eq!(incremental["bookmark_after"], "2024-03-01T12:00:00Z");
    let state = hydrant_with(&["state", &job], &[TOKEN]);
    let state: Value = serde_json::from_str(&state.stdout).unwrap();
    assert_eq!(state["bookmark"], "2024-03-01T12:00:00Z");
    // A range that holds nothing (the bounds swapped, or equal: `--to` is
    // exclusive) is refused before any request, not run into an empty
    // output.
    let asked = api.server.requests().len();
    for (from, to) in [
        ("2024-03-01T12:00:00Z", "2024-02-27T00:00:00Z"),
        ("2024-03-01T12:00:00Z", "2024-03-01T12:00:00Z"),
    ] {
        let out = dir.path("swapped.ndjson");
        let run = hydrant_with(
            &[
                "run",
                &job,
                "-o",
                path_str(&out),
                "--from",
                from,
                "--to",
                to,
            ],
            &[TOKEN],
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "--to `{to}` is not after --from `{from}`: the range holds nothing"
            )),
            "{}",
            run.stderr
        );
        assert!(!out.exists());
    }
    assert_eq!(api.server.requests().len(), asked);
    // --reset forgets it: the next run starts again from `start`.
    let reset = hydrant_with(&["state", &job, "--reset"], &[TOKEN]);
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    let (rows, _) = run(&dir, &job, 3, &[]);
    assert_eq!(rows.len(), 3);
}

/// With `[fanout]`, each value keeps its own bookmark.
#[test]
fn each_fanout_value_keeps_its_own_bookmark() {
    let server = TestServer::start_fn(|seen| {
        let query = query(seen);
        let since = parse_rfc3339(&query["since"]);
        let shop = query["shop"].parse::<i64>().unwrap();
        // Shop n has records at T + n hours and T + 2n hours.
        let data: Vec<Value> = [shop, 2 * shop]
            .iter()
            .map(|h| T + h * HOUR)
            .filter(|at| *at >= since)
            .map(|at| json!({"shop": shop, "at": rfc3339(at)}))
            .collect();
        answer(200, json!(data).to_string())
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/sales\"\n[fanout]\nparam = \"shop\"\nvalues = [\"1\", \"2\", \"3\"]\n\
         [state]\npath = \"{}\"\n[incremental]\ncursor = \"at\"\nstart = \"2024-03-01T00:00:00Z\"\nparam = \"since\"\n",
        server.url(),
        path_str(&dir.path("state.json")),
    );
    let job = dir.write("job.toml", &text);
    let out = dir.path("sales.ndjson");
    let first = hydrant(&["run", path_str(&job), "--output", path_str(&out)]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(dir.read("sales.ndjson").lines().count(), 6);
    let state = hydrant(&["state", path_str(&job)]);
    let state: Value = serde_json::from_str(&state.stdout).unwrap();
    assert_eq!(
        state["bookmarks"],
        json!({"1": "2024-03-01T14:00:00Z", "2": "2024-03-01T16:00:00Z", "3": "2024-03-01T18:00:00Z"})
    );
    let second = hydrant(&["run", path_str(&job), "--output", path_str(&out)]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    // Every value's boundary record is already out.
    assert_eq!(dir.read("sales.ndjson"), "");
    let mut since: Vec<String> = server
        .requests()
        .iter()
        .skip(3)
        .map(|seen| query(seen)["since"].clone())
        .collect();
    since.sort();
    assert_eq!(
        since,
        [
            "2024-03-01T14:00:00Z",
            "2024-03-01T16:00:00Z",
            "2024-03-01T18:00:00Z"
        ]
    );
}

#[test]
fn incremental_without_state_is_a_config_error_naming_the_key() {
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        "[request]\nurl = \"https://api.example.com/x\"\n[incremental]\ncursor = \"t\"\nstart = \"2024-01-01\"\n",
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("incremental: needs a [state] path"),
        "{}",
        run.stderr
    );
}

/// Runs an example of `examples/incremental/` twice from `dir`, against
/// `api`, with the records changed in between by `between`; the records
/// of both runs by `id_path`.
fn example_twice(
    name: &str,
    api: &str,
    env: &[(&str, &str)],
    between: impl FnOnce(),
    id_path: &str,
) -> (Vec<String>, Vec<String>) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/incremental/");
    let dir = Dir::new();
    let job = dir.write(
        name,
        &std::fs::read_to_string(format!("{root}{name}")).unwrap(),
    );
    let run = |n: u32| {
        let out = format!("run-{n}.ndjson");
        let vars = ["--var", api, "--var", "owner=acme", "--var", "repo=shop"];
        let args = [&["run", path_str(&job), "--output", &out][..], &vars].concat();
        let run = crate::util::hydrant_in_with(dir.path("").as_path(), &args, env);
        assert_eq!(run.code, 0, "{name} run {n}: {}", run.stderr);
        dir.read(&out)
            .lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line).unwrap();
                record[id_path].to_string()
            })
            .collect::<Vec<String>>()
    };
    let first = run(1);
    between();
    (first, run(2))
}

/// Rows of an example API: id and time (unix seconds), shared with the
/// test that changes them.
type Rows = Arc<Mutex<Vec<(u32, i64)>>>;

fn rows(initial: &[(u32, i64)]) -> Rows {
    Arc::new(Mutex::new(initial.to_vec()))
}

#[test]
fn the_github_example_asks_since_its_bookmark() {
    let data = rows(&[(1, T - HOUR), (2, T), (3, T)]);
    let held = data.clone();
    let server = TestServer::start_fn(move |seen| {
        let query = query(seen);
        if seen.header("authorization") != Some("Bearer ghp_example")
            || query.get("sort").map(String::as_str) != Some("updated")
        {
            return answer(400, "{}");
        }
        let since = parse_rfc3339(&query["since"]);
        let page: usize = query.get("page").map_or(1, |p| p.parse().unwrap());
        let mut rows: Vec<(u32, i64)> = held.lock().unwrap().clone();
        rows.retain(|(_, at)| *at >= since);
        rows.sort_by_key(|(id, at)| (*at, *id));
        let data: Vec<Value> = rows
            .iter()
            .skip((page - 1) * 2)
            .take(2)
            .map(|(id, at)| json!({"id": id, "number": id + 100, "title": format!("issue {id}"), "state": "open", "updated_at": rfc3339(*at)}))
            .collect();
        let mut exchange = answer(200, json!(data).to_string());
        if rows.len() > page * 2 {
            let next =
                seen.target.replace(&format!("&page={page}"), "") + &format!("&page={}", page + 1);
            exchange
                .headers
                .push(("link".to_owned(), format!("<{next}>; rel=\"next\"")));
        }
        exchange
    });
    let api = format!("api={}", server.url());
    let (first, second) = example_twice(
        "github-issues.toml",
        &api,
        &[("GITHUB_TOKEN", "ghp_example")],
        || {
            data.lock()
                .unwrap()
                .extend([(4, T + HOUR), (5, T - 2 * 60)])
        },
        "id",
    );
    assert_eq!(first, ["1", "2", "3"]);
    // 5 was written late, within the 5 minutes of lookback.
    assert_eq!(second, ["5", "4"]);
    let since: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|seen| query(seen).get("since").cloned())
        .collect();
    assert!(
        since.contains(&"2024-03-01T11:55:00Z".to_owned()),
        "{since:?}"
    );
}

#[test]
fn the_stripe_example_asks_created_gte_in_unix_seconds() {
    let data = rows(&[(1, T - HOUR), (2, T), (3, T + 60)]);
    let held = data.clone();
    let server = TestServer::start_fn(move |seen| {
        let query = query(seen);
        let Some(gte) = query.get("created[gte]") else {
            return answer(400, r#"{"error": "created[gte] missing"}"#);
        };
        let gte: i64 = gte.parse().unwrap();
        let mut rows: Vec<(u32, i64)> = held.lock().unwrap().clone();
        rows.retain(|(_, at)| *at >= gte);
        // Newest first, as Stripe lists.
        rows.sort_by_key(|(id, at)| std::cmp::Reverse((*at, *id)));
        if let Some(after) = query.get("starting_after") {
            let at = rows
                .iter()
                .position(|(id, _)| format!("ch_{id}") == *after)
                .unwrap();
            rows.drain(..=at);
        }
        let page: Vec<Value> = rows
            .iter()
            .take(2)
            .map(|(id, at)| json!({"id": format!("ch_{id}"), "amount": 100 * id, "currency": "eur", "created": at}))
            .collect();
        answer(
            200,
            json!({"object": "list", "data": page, "has_more": rows.len() > 2}).to_string(),
        )
    });
    let api = format!("api={}", server.url());
    let (first, second) = example_twice(
        "stripe-charges.toml",
        &api,
        &[("STRIPE_KEY", "sk_test_example")],
        || data.lock().unwrap().extend([(4, T + 120), (5, T + 60)]),
        "id",
    );
    assert_eq!(first, ["\"ch_3\"", "\"ch_2\"", "\"ch_1\""]);
    // ch_5 shares the bookmark's second with ch_3, which is not sent again.
    assert_eq!(second, ["\"ch_4\"", "\"ch_5\""]);
    let gte: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|seen| query(seen).get("created[gte]").cloned())
        .collect();
    assert_eq!(gte.first().map(String::as_str), Some("1704067200"));
    assert_eq!(gte.last().map(String::as_str), Some(&*(T + 60).to_string()));
}

#[test]
fn the_odata_example_puts_since_in_its_filter() {
    let data = rows(&[(1, T - HOUR), (2, T)]);
    let held = data.clone();
    let server = TestServer::start_fn(move |seen| {
        let query = query(seen);
        let filter = &query["$filter"];
        let Some(since) = filter.strip_prefix("ModifiedDate ge ") else {
            return answer(400, r#"{"error": "bad $filter"}"#);
        };
        let since = parse_rfc3339(since);
        let skip: usize = query.get("$skiptoken").map_or(0, |s| s.parse().unwrap());
        let mut rows: Vec<(u32, i64)> = held.lock().unwrap().clone();
        rows.retain(|(_, at)| *at >= since);
        rows.sort_by_key(|(id, at)| (*at, *id));
        let value: Vec<Value> = rows
            .iter()
            .skip(skip)
            .take(2)
            .map(|(id, at)| json!({"ID": id, "Name": format!("p{id}"), "ModifiedDate": rfc3339(*at)}))
            .collect();
        let mut page = json!({"value": value});
        if rows.len() > skip + 2 {
            page["@odata.nextLink"] = json!(format!("{}&$skiptoken={}", seen.target, skip + 2));
        }
        answer(200, page.to_string())
    });
    let api = format!("api={}", server.url());
    let (first, second) = example_twice(
        "odata-products.toml",
        &api,
        &[],
        || {
            data.lock()
                .unwrap()
                .extend([(3, T + HOUR), (4, T), (5, T + 2 * HOUR)])
        },
        "ID",
    );
    assert_eq!(first, ["1", "2"]);
    assert_eq!(second, ["4", "3", "5"]);
    let filters: Vec<String> = server
        .requests()
        .iter()
        .map(|seen| query(seen)["$filter"].clone())
        .collect();
    assert_eq!(filters[0], "ModifiedDate ge 2024-01-01T00:00:00Z");
    assert_eq!(
        filters.last().unwrap(),
        "ModifiedDate ge 2024-03-01T12:00:00Z"
    );
}

#[test]
fn explain_shows_the_first_window_with_its_bounds_filled() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/incremental/");
    let job = format!("{root}odata-products.toml");
    let run = hydrant(&["explain", &job, "--var", "api=https://example.com/odata"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "GET https://example.com/odata/Products?%24filter=ModifiedDate+ge+2024-01-01T00%3A00%3A00Z&"
        ),
        "{}",
        run.stdout
    );
}

/// Past 10 000 fan-out values one global bookmark is kept, the least of
/// the values' own, so that the state file stays small and no value
/// misses a record.
#[test]
fn past_ten_thousand_values_one_global_bookmark_is_kept() {
    let server = TestServer::start_fn(|seen| {
        let shop: i64 = query(seen)["shop"].parse().unwrap();
        answer(
            200,
            json!([{"shop": shop, "at": rfc3339(T + shop)}]).to_string(),
        )
    });
    let dir = Dir::new();
    let values: String = (0..10_001).map(|v| format!("{v}\n")).collect();
    let values = dir.write("shops.txt", &values);
    let text = format!(
        "[request]\nurl = \"{}/sales\"\n[fanout]\nparam = \"shop\"\nvalues_file = \"{}\"\n\
         [state]\npath = \"{}\"\n[incremental]\ncursor = \"at\"\nstart = \"2024-03-01T00:00:00Z\"\nparam = \"since\"\n",
        server.url(),
        path_str(&values),
        path_str(&dir.path("state.json")),
    );
    let job = dir.write("job.toml", &text);
    let out = dir.path("sales.ndjson");
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&out)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dir.read("sales.ndjson").lines().count(), 10_001);
    let state = dir.read("state.json");
    assert!(state.len() < 400, "{} bytes: {state}", state.len());
    let state: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["bookmark"], "2024-03-01T12:00:00Z", "shop 0's");
    assert_eq!(state.get("bookmarks"), None);
}

#[test]
fn a_run_that_replaces_the_last_runs_records_says_so() {
    // Each run writes only what changed since the last: with one output
    // file for all, the second run's file takes the place of the first's.
    let server = newest_first();
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/orders\"\n[records]\npath = \"data\"\n\
         [paginate]\ntype = \"page\"\nsize_param = \"per_page\"\nsize = 2\n\
         [state]\npath = \"orders.state\"\n[output]\npath = \"orders.ndjson\"\n\
         [incremental]\ncursor = \"updated_at\"\nkey = [\"id\"]\n{START}param = \"updated_since\"\n",
        server.url(),
    );
    let job = dir.write("job.toml", &text);
    let warnings = |extra: &[&str]| {
        let summary = dir.path("summary.json");
        let mut args = vec!["run", path_str(&job), "--summary-json", path_str(&summary)];
        args.extend_from_slice(extra);
        let run = hydrant(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let summary: Value = serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap();
        summary["warnings"].to_string()
    };
    assert_eq!(warnings(&[]), "[]", "the first run replaces nothing");
    let second = warnings(&[]);
    assert!(
        second.contains(
            "/orders.ndjson` holds an earlier run's records, and this incremental run replaces it"
        ),
        "{second}"
    );
    let own = dir.path("orders-2.ndjson");
    assert_eq!(
        warnings(&["--output", path_str(&own)]),
        "[]",
        "a file of its own"
    );
}

#[test]
fn a_raw_output_writes_every_record_of_its_bodies_and_moves_the_bookmark() {
    // Raw bodies hold every record the API gave: the records at the
    // bookmark that the first run wrote are written, and counted, again.
    let api = Api::start(false, Duration::ZERO);
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/orders\"\nheaders = {{ Authorization = \"Bearer ${{TOKEN}}\" }}\n\
         [paginate]\ntype = \"page\"\nsize_param = \"per_page\"\nsize = 2\n\
         [records]\npath = \"data\"\n\
         [state]\npath = \"{}\"\n\
         [output]\nformat = \"raw\"\n\
         [incremental]\ncursor = \"updated_at\"\n{START}param = \"updated_since\"\norder = \"asc\"\n",
        api.server.url(),
        path_str(&dir.path("state.json")),
    );
    let job = dir.write("job.toml", &text);
    let raw_run = |n: u32| {
        let out = dir.path(&format!("out-{n}.raw"));
        let summary = dir.path(&format!("summary-{n}.json"));
        let run = hydrant_with(
            &[
                "run",
                path_str(&job),
                "--output",
                path_str(&out),
                "--summary-json",
                path_str(&summary),
            ],
            &[TOKEN],
        );
        assert_eq!(run.code, 0, "run {n}: {}", run.stderr);
        let ids: Vec<u64> = (std::fs::read_to_string(out).unwrap().lines())
            .flat_map(|body| {
                let page: Value = serde_json::from_str(body).unwrap();
                let data = page["data"].as_array().unwrap().clone();
                data.into_iter().map(|r| r["id"].as_u64().unwrap())
            })
            .collect();
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
        (ids, summary)
    };
    api.put(1, 1, T - HOUR);
    api.put(2, 1, T);
    api.put(3, 1, T);
    let (first, summary) = raw_run(1);
    assert_eq!(first, [1, 2, 3]);
    assert_eq!(summary["records"], 3);
    assert_eq!(
        summary["incremental"]["bookmark_after"],
        "2024-03-01T12:00:00Z"
    );
    api.put(4, 1, T + HOUR);
    let (second, summary) = raw_run(2);
    assert_eq!(second, [2, 3, 4], "the API's answer, whole");
    assert_eq!(summary["records"], 3, "{summary}");
    assert_eq!(summary["incremental"]["deduplicated"], 0, "{summary}");
    assert_eq!(
        summary["incremental"]["bookmark_after"],
        "2024-03-01T13:00:00Z"
    );
}

/// A run of an MLflow-like search: its start time, and its metrics.
type Run = (&'static str, i64, Vec<(&'static str, f64)>);

/// Runs found by `since` (inclusive) on their start time, each with its
/// metrics nested under it.
fn runs_api(runs: Arc<Mutex<Vec<Run>>>) -> TestServer {
    TestServer::start_fn(move |seen| {
        let since = query(seen).get("since").map(|t| parse_rfc3339(t));
        let found: Vec<Value> = (runs.lock().unwrap().iter())
            .filter(|(_, start, _)| since.is_none_or(|s| *start >= s))
            .map(|(id, start, metrics)| {
                let metrics: Vec<Value> = (metrics.iter())
                    .map(|(key, value)| json!({"key": key, "value": value}))
                    .collect();
                json!({"info": {"run_id": id, "start_time": rfc3339(*start)}, "metrics": metrics})
            })
            .collect();
        answer(200, json!({ "runs": found }).to_string())
    })
}

/// Records nested under the items the API filters by (MLflow's metrics
/// under runs): the cursor is the parent's, named by a `parent_path`
/// column. Each metric is written once, beside its own run, also where
/// a new run at the bookmark holds a metric alike to an old run's.
#[test]
fn records_under_parents_follow_the_parent_s_cursor() {
    // A whole record and its parent identify it, or a key read in both.
    for key in ["", "key = [\"run_id\", \"key\"]\n"] {
        records_under_parents_are_read_incrementally(key);
    }
}

fn records_under_parents_are_read_incrementally(key: &str) {
    let runs: Arc<Mutex<Vec<Run>>> = Arc::new(Mutex::new(vec![
        ("r1", T, vec![("loss", 0.5), ("acc", 0.7)]),
        ("r2", T + HOUR, vec![("loss", 0.9)]),
    ]));
    let api = runs_api(runs.clone());
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/runs\"\n\
         [records]\npath = \"runs[*].metrics[*]\"\n\
         [[columns]]\nname = \"run_id\"\nparent_path = \"info.run_id\"\n\
         [[columns]]\nname = \"started\"\nparent_path = \"info.start_time\"\n\
         [[columns]]\nname = \"key\"\n\
         [[columns]]\nname = \"value\"\ntype = \"double\"\n\
         [state]\npath = \"{}\"\nevery = \"0s\"\n\
         [output]\npath = \"{}\"\n\
         [incremental]\ncursor = \"started\"\n{START}param = \"since\"\n{key}",
        api.url(),
        path_str(&dir.path("state/runs.json")),
        path_str(&dir.path("out.ndjson")),
    );
    let job = path_str(&dir.write("job.toml", &text)).to_owned();
    let rows = |n: u32| -> (Vec<(String, String, f64)>, Value) {
        let (out, summary) = (format!("out-{n}.ndjson"), format!("summary-{n}.json"));
        let (out_path, summary_path) = (dir.path(&out), dir.path(&summary));
        let run = hydrant(&[
            "run",
            &job,
            "-o",
            path_str(&out_path),
            "--summary-json",
            path_str(&summary_path),
        ]);
        assert_eq!(run.code, 0, "run {n}: {}", run.stderr);
        let rows = (dir.read(&out).lines())
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .map(|r| {
                (
                    r["run_id"].as_str().unwrap().to_owned(),
                    r["key"].as_str().unwrap().to_owned(),
                    r["value"].as_f64().unwrap(),
                )
            })
            .collect();
        (rows, serde_json::from_str(&dir.read(&summary)).unwrap())
    };
    let row = |run: &str, key: &str, value: f64| (run.to_owned(), key.to_owned(), value);

    let (first, summary) = rows(1);
    assert_eq!(
        first,
        [
            row("r1", "loss", 0.5),
            row("r1", "acc", 0.7),
            row("r2", "loss", 0.9)
        ],
        "{summary}"
    );
    assert_eq!(
        summary["incremental"]["bookmark_after"],
        rfc3339(T + HOUR),
        "{summary}"
    );
    assert_eq!(summary["warnings"], json!([]), "{summary}");

    // A run started at the bookmark, its metric alike to r2's, and a later one.
    runs.lock()
        .unwrap()
        .push(("r3", T + HOUR, vec![("loss", 0.9)]));
    runs.lock()
        .unwrap()
        .push(("r4", T + 2 * HOUR, vec![("acc", 1.0)]));
    let (second, summary) = rows(2);
    assert_eq!(
        second,
        [row("r3", "loss", 0.9), row("r4", "acc", 1.0)],
        "{summary}"
    );
    let incremental = &summary["incremental"];
    assert_eq!(
        (
            &incremental["deduplicated"],
            &incremental["no_cursor"],
            &incremental["bookmark_after"]
        ),
        (&json!(1), &json!(0), &json!(rfc3339(T + 2 * HOUR))),
        "{summary}"
    );
    assert_eq!(
        api.requests().last().map(|s| query(s)["since"].clone()),
        Some(rfc3339(T + HOUR))
    );

    let (third, summary) = rows(3);
    assert_eq!(third, [], "{summary}");
}
