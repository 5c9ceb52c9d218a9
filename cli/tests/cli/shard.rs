//! `hydrant run JOB --shard I/N`: the partitions of a job, each run on
//! its own, together give every record of a whole run exactly once.

use serde_json::json;

use crate::util::{Dir, TestServer, hydrant, json as answer, path_str};

/// Runs every shard of N and returns the records of each, in shard order.
fn shards(dir: &Dir, job: &str, n: u32) -> Vec<Vec<String>> {
    (1..=n)
        .map(|i| {
            let shard = format!("{i}/{n}");
            let run = hydrant(&["run", job, "--shard", &shard, "--quiet"]);
            assert_eq!(run.code, 0, "shard {shard}: {}", run.stderr);
            let out = dir.path(&format!("out-{i}-of-{n}.ndjson"));
            std::fs::read_to_string(out)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn whole(dir: &Dir, job: &str) -> Vec<String> {
    let out = dir.path("whole.ndjson");
    let run = hydrant(&["run", job, "--output", path_str(&out), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    dir.read("whole.ndjson")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn fanout_values_are_split_between_shards() {
    let server = TestServer::start_fn(|seen| {
        let city = seen
            .target
            .split("city=")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        answer(
            200,
            json!([{"city": city, "n": 1}, {"city": city, "n": 2}]).to_string(),
        )
    });
    let dir = Dir::new();
    let values: Vec<String> = (0..10).map(|i| format!("\"c{i}\"")).collect();
    let text = format!(
        "[request]\nurl = \"{}/weather\"\n[fanout]\nparam = \"city\"\nvalues = [{}]\n[output]\npath = \"{}\"\n",
        server.url(),
        values.join(", "),
        path_str(&dir.path("out.ndjson")),
    );
    let job = dir.write("job.toml", &text);
    let job = path_str(&job);
    let parts = shards(&dir, job, 3);
    assert_eq!(
        parts.iter().map(Vec::len).collect::<Vec<_>>(),
        [6, 6, 8],
        "values 0-2, 3-5 and 6-9"
    );
    assert_eq!(parts.concat(), whole(&dir, job));
}

#[test]
fn a_range_with_an_end_is_split_into_its_requests() {
    let server = TestServer::start_fn(|seen| {
        let n: u32 = seen.target.split("n=").nth(1).unwrap().parse().unwrap();
        answer(200, json!([{"id": n * 10}, {"id": n * 10 + 1}]).to_string())
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/items\"\n[paginate]\ntype = \"range\"\nparam = \"n\"\nstart = 1\nend = 7\n[output]\npath = \"{}\"\n",
        server.url(),
        path_str(&dir.path("out.ndjson")),
    );
    let job = dir.write("job.toml", &text);
    let job = path_str(&job);
    let parts = shards(&dir, job, 4);
    assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [2, 4, 4, 4]);
    assert_eq!(parts.concat(), whole(&dir, job));
}

#[test]
fn a_followed_cursor_is_one_shard_and_says_why() {
    let server = TestServer::start_fn(|seen| {
        let next = if seen.target.contains("cursor=") {
            "null"
        } else {
            "\"c2\""
        };
        answer(
            200,
            format!("{{\"data\": [{{\"id\": 1}}], \"next\": {next}}}"),
        )
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/c\"\n[records]\npath = \"data\"\n[paginate]\ntype = \"cursor\"\nfrom = \"next\"\n[output]\npath = \"{}\"\n",
        server.url(),
        path_str(&dir.path("out.ndjson")),
    );
    let job = dir.write("job.toml", &text);
    let first = hydrant(&["run", path_str(&job), "--shard", "1/2"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains("the job is one partition: each request is named by the answer before it"),
        "{}",
        first.stderr
    );
    assert_eq!(dir.read("out-1-of-2.ndjson").lines().count(), 2);
    let second = hydrant(&["run", path_str(&job), "--shard", "2/2"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("shard 2/2 has nothing to do"),
        "{}",
        second.stderr
    );
    assert!(!dir.path("out-2-of-2.ndjson").exists());
    let bad = hydrant(&["run", path_str(&job), "--shard", "3/2"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--shard `3/2`"), "{}", bad.stderr);
}

#[test]
fn incremental_windows_are_split_between_shards() {
    // Records every six hours of 2024-03-01 to 03-05; the API filters
    // by `since` (inclusive) and `until` (exclusive).
    let times: Vec<String> = (1..=5)
        .flat_map(|day| (0..4).map(move |q| format!("2024-03-0{day}T{:02}:00:00Z", q * 6)))
        .collect();
    let server = TestServer::start_fn(move |seen| {
        let query: std::collections::HashMap<String, String> =
            url::Url::parse(&format!("http://api{}", seen.target))
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect();
        let (since, until) = (&query["since"], &query["until"]);
        let data: Vec<_> = times
            .iter()
            .filter(|t| *t >= since && *t < until)
            .map(|t| json!({"at": t}))
            .collect();
        answer(200, json!(data).to_string())
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/events\"\n[state]\npath = \"{}\"\n[output]\npath = \"{}\"\n\
         [incremental]\ncursor = \"at\"\nstart = \"2024-03-01T00:00:00Z\"\nparam = \"since\"\nend_param = \"until\"\nstep = \"1d\"\n",
        server.url(),
        path_str(&dir.path("state.json")),
        path_str(&dir.path("out.ndjson")),
    );
    let job = dir.write("job.toml", &text);
    let job = path_str(&job);
    let backfill = [
        "--from",
        "2024-03-01T00:00:00Z",
        "--to",
        "2024-03-06T00:00:00Z",
    ];
    // Shards cut the windows from the bookmark (or start) to now; the
    // records all lie in the first five.
    let parts = shards(&dir, job, 3);
    assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 20);
    let out = dir.path("whole.ndjson");
    let whole = hydrant(
        &[
            &["run", job, "--output", path_str(&out), "--quiet"][..],
            &backfill,
        ]
        .concat(),
    );
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let whole: Vec<String> = dir
        .read("whole.ndjson")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(parts.concat(), whole);
    // Shards read their windows as backfills: the bookmark is not set.
    assert!(!dir.path("state.json").exists() || !dir.read("state.json").contains("bookmark\": \""));
}

/// Shards of an incremental fan-out job read from each value's stored
/// bookmark, and move none.
#[test]
fn incremental_shards_start_at_the_stored_bookmarks() {
    let server = TestServer::start_fn(|seen| {
        let query: std::collections::HashMap<String, String> =
            url::Url::parse(&format!("http://api{}", seen.target))
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect();
        let shop: u32 = query["shop"].parse().unwrap();
        let at = format!("2024-03-01T1{shop}:00:00Z");
        let data = if at.as_str() >= query["since"].as_str() {
            json!([{"shop": shop, "at": at}])
        } else {
            json!([])
        };
        answer(200, data.to_string())
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/sales\"\n[fanout]\nparam = \"shop\"\nvalues = [\"1\", \"2\", \"3\"]\n\
         [state]\npath = \"{}\"\n[output]\npath = \"{}\"\n\
         [incremental]\ncursor = \"at\"\nstart = \"2024-03-01T00:00:00Z\"\nparam = \"since\"\n",
        server.url(),
        path_str(&dir.path("state.json")),
        path_str(&dir.path("out.ndjson")),
    );
    let job = dir.write("job.toml", &text);
    let job = path_str(&job);
    let first = whole(&dir, job);
    assert_eq!(first.len(), 3);
    let stored = dir.read("state.json");
    // Each shard asks from its values' bookmarks; the record at each is
    // already out.
    let parts = shards(&dir, job, 3);
    assert_eq!(parts.concat(), Vec::<String>::new());
    assert_eq!(dir.read("state.json"), stored, "shards move no bookmark");
    // And a shard says so: run day after day, it would read the same
    // stretch again.
    let run = hydrant(&["run", job, "--shard", "2/3"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "warning: shard 2/3 reads from the stored bookmark and moves none; a run of the whole job moves it"
        ),
        "{}",
        run.stderr
    );
}

/// Every shard writes the whole job's inferred columns, though one
/// value's records list their members in another order and have one more:
/// CSV shards of one job share one header.
#[test]
fn shards_write_the_inferred_columns_of_the_whole_job() {
    let server = TestServer::start_fn(|seen| {
        let body = if seen.target.ends_with("v=a") {
            json!([{"id": 1, "name": "x"}])
        } else {
            json!([{"name": "y", "id": 2, "extra": true}])
        };
        answer(200, body.to_string())
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/shapes\"\n[fanout]\nparam = \"v\"\nvalues = [\"a\", \"b\"]\n[output]\npath = \"{}\"\nformat = \"csv\"\n",
        server.url(),
        path_str(&dir.path("out.csv")),
    );
    let job = dir.write("job.toml", &text);
    let job = path_str(&job);
    let mut rows = Vec::new();
    for i in 1..=2 {
        let shard = format!("{i}/2");
        let run = hydrant(&["run", job, "--shard", &shard]);
        assert_eq!(run.code, 0, "shard {shard}: {}", run.stderr);
        let out = dir.read(&format!("out-{i}-of-2.csv"));
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("id,name"), "shard {shard}");
        rows.extend(lines.map(str::to_owned));
        if i == 2 {
            assert!(
                run.stderr.contains("outside the inferred columns (extra)"),
                "{}",
                run.stderr
            );
        }
    }
    assert_eq!(rows, ["1,x", "2,y"]);
}

/// Each shard keeps its dirty records in a file of its own: shards run
/// one after the other into one folder keep them all.
#[test]
fn each_shard_writes_its_own_dirty_records() {
    let server = TestServer::start_fn(|seen| {
        let v = seen
            .target
            .rsplit('=')
            .next()
            .unwrap_or_default()
            .to_owned();
        answer(
            200,
            json!([{"id": 1, "v": v}, {"id": "one", "v": v}]).to_string(),
        )
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/d\"\n[fanout]\nparam = \"v\"\nvalues = [\"a\", \"b\"]\n\
         [records]\nmax_dirty = 5\ndirty_path = \"{}\"\n\
         [[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"v\"\n\
         [output]\npath = \"{}\"\n",
        server.url(),
        path_str(&dir.path("dirty.ndjson")),
        path_str(&dir.path("out.ndjson")),
    );
    let job = dir.write("job.toml", &text);
    let parts = shards(&dir, path_str(&job), 2);
    assert_eq!(parts, [[r#"{"id":1,"v":"a"}"#], [r#"{"id":1,"v":"b"}"#]]);
    for (i, v) in [(1, "a"), (2, "b")] {
        let dirty = dir.read(&format!("dirty-{i}-of-2.ndjson"));
        assert_eq!(dirty.lines().count(), 1, "{dirty}");
        assert!(dirty.contains(&format!(r#""v":"{v}""#)), "{dirty}");
    }
    assert!(!dir.path("dirty.ndjson").exists());
}

/// A shard keeps no checkpoint: `--resume` says so rather than blaming
/// the output.
#[test]
fn a_shard_has_nothing_to_resume() {
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"http://127.0.0.1:9/x\"\n[fanout]\nparam = \"v\"\nvalues = [\"a\", \"b\"]\n\
         [state]\npath = \"{}\"\n[output]\npath = \"{}\"\n[[columns]]\nname = \"id\"\n",
        path_str(&dir.path("state.json")),
        path_str(&dir.path("out.ndjson")),
    );
    let job = dir.write("job.toml", &text);
    let run = hydrant(&["run", path_str(&job), "--shard", "1/2", "--resume"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("a partition (--shard) keeps no checkpoint, so there is nothing to resume"),
        "{}",
        run.stderr
    );
}

/// A `[fanout.from]` parent job runs once to cut the shards: the columns
/// they carry are sampled over the values it gave.
#[test]
fn the_parent_job_runs_once_to_cut_the_shards() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let parents = Arc::new(AtomicUsize::new(0));
    let counted = parents.clone();
    let server = TestServer::start_fn(move |seen| {
        if seen.target.starts_with("/parents") {
            counted.fetch_add(1, Ordering::SeqCst);
            return answer(200, json!([{"g": "a"}, {"g": "b"}]).to_string());
        }
        let g = seen
            .target
            .rsplit('=')
            .next()
            .unwrap_or_default()
            .to_owned();
        answer(200, json!([{"id": 1, "g": g}]).to_string())
    });
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{0}/c\"\n[fanout]\nparam = \"g\"\n[fanout.from]\npath = \"g\"\n\
         [fanout.from.request]\nurl = \"{0}/parents\"\n[output]\npath = \"{1}\"\n",
        server.url(),
        path_str(&dir.path("out.ndjson")),
    );
    let job = dir.write("job.toml", &text);
    let parts = shards(&dir, path_str(&job), 2);
    assert_eq!(parts, [[r#"{"id":1,"g":"a"}"#], [r#"{"id":1,"g":"b"}"#]]);
    assert_eq!(parents.load(Ordering::SeqCst), 2, "once a shard");
}

/// The records of page `n` of a range whose records change shape from
/// page to page, each change at the page `at` gives it: a field comes
/// late, a null-only field turns to objects, numbers widen to doubles
/// and to text, an empty object gains fields, an object gains keys.
fn shifting_page(n: usize, at: &[usize; 6]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = (0..2)
        .map(|k| {
            let i = n * 2 + k;
            let mut record = json!({"id": i, "n": i, "deep": {"x": {}}, "map": {"k0": 0}});
            if n >= at[0] {
                record["late"] = json!(i);
            }
            record["maybe"] = if n >= at[1] {
                json!({"a": i})
            } else {
                json!(null)
            };
            if n >= at[2] {
                record["n"] = json!(i as f64 + 0.5);
            }
            record["mixed"] = if n >= at[3] {
                json!(format!("t{i}"))
            } else {
                json!(i)
            };
            if n >= at[4] {
                record["deep"] = json!({"x": {"y": i}});
            }
            if n >= at[5] {
                record["map"] = json!({"k0": 0, "k1": i, "k2": [i]});
            }
            record
        })
        .collect();
    json!(records)
}

/// A record's members, a null member as one missing: a shard's NDJSON
/// has no column for a field its own pages never held.
fn members_not_null(line: &str) -> serde_json::Map<String, serde_json::Value> {
    let record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
    record.into_iter().filter(|(_, v)| !v.is_null()).collect()
}

/// Shards of jobs over records that change shape after the first page
/// write what a run of the whole job writes: in NDJSON the same members
/// (a column a shard's pages never held is missing, not null), in CSV
/// the same rows under one header.
#[test]
fn shards_together_write_what_the_whole_job_writes() {
    let mut next = crate::util::below(0xbb67_ae85_84ca_a73b);
    for round in 0..24 {
        let pages = 2 + next(6);
        let at: [usize; 6] = std::array::from_fn(|_| next(pages + 1));
        let server = TestServer::start_fn(move |seen| {
            let n: usize = seen.target.split("n=").nth(1).unwrap().parse().unwrap();
            answer(200, shifting_page(n, &at).to_string())
        });
        let n = 2 + next(3) as u32;
        for format in ["ndjson", "csv"] {
            let dir = Dir::new();
            let text = format!(
                "[request]\nurl = \"{}/items\"\n[paginate]\ntype = \"range\"\nparam = \"n\"\nstart = 0\nend = {pages}\n[output]\npath = \"{}\"\n",
                server.url(),
                path_str(&dir.path(&format!("out.{format}"))),
            );
            let job = dir.write("job.toml", &text);
            let job = path_str(&job);
            let whole = hydrant(&["run", job, "--quiet"]);
            assert_eq!(whole.code, 0, "{}", whole.stderr);
            let whole = dir.read(&format!("out.{format}"));
            let mut parts = String::new();
            for i in 1..=n {
                let shard = format!("{i}/{n}");
                let run = hydrant(&["run", job, "--shard", &shard, "--quiet"]);
                assert_eq!(run.code, 0, "shard {shard}: {}", run.stderr);
                let out = std::fs::read_to_string(dir.path(&format!("out-{i}-of-{n}.{format}")))
                    .unwrap_or_default();
                let header = whole.lines().next().unwrap_or_default();
                let body = match format {
                    "csv" => out.strip_prefix(&format!("{header}\n")).unwrap_or(&out),
                    _ => &out,
                };
                if format == "csv" && i == 1 {
                    parts.push_str(&format!("{header}\n"));
                }
                parts.push_str(body);
            }
            let told =
                format!("round {round}, {format}, {pages} pages, changes at {at:?}, {n} shards");
            match format {
                "csv" => assert_eq!(parts, whole, "{told}"),
                _ => {
                    let lines = |text: &str| text.lines().map(members_not_null).collect::<Vec<_>>();
                    assert_eq!(lines(&parts), lines(&whole), "{told}");
                }
            }
        }
    }
}
