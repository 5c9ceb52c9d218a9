//! End-to-end tests through the `hydrant` binary against in-process servers.

mod auth;
mod bench;
mod columns;
mod dialects;
mod examples;
mod faults;
mod files;
mod help;
mod incremental;
mod init;
mod json_server;
mod paginate;
mod parquet;
mod record;
mod resume;
mod shard;
mod signals;
mod util;
mod write;

use hydrant_bench::{Exchange, Seen};
use util::{Dir, TestServer, hydrant, hydrant_with, ids, lines, path_str, run_job};

pub(crate) const TYPES_PAGE: &str = r#"{"data": {"items": [
 {"id": 1, "i": 2147483647, "s": "plain", "f": 1.5, "d": 0.1, "b": true, "day": "2024-03-01", "ts": "2024-03-01T12:00:00.250Z", "bin": "aGk=", "j": {"k": [1, null]}, "big": 123456789012345678901234567890, "u": {"tags": ["x", "y"], "odata": "z"}, "@odata.nextLink": "n1"},
 {"id": "2", "i": -5, "s": 42, "f": "2.5", "d": "1e3", "b": "false", "day": "2024-02-29T00:00:00Z", "ts": 1709294400, "bin": null, "j": "text", "big": -9223372036854775809, "u": {"tags": [], "odata": "w"}, "@odata.nextLink": "n2"},
 {"id": 3, "i": 0, "s": "tab\there \"q\" é", "f": 0, "d": -2.5e-300, "b": false, "day": "1969-12-31", "ts": "2024-03-01 12:00:00", "bin": "", "j": [1, 2], "big": 18446744073709551615, "u": {"tags": ["only"], "odata": "v"}, "@odata.nextLink": "n3"}
]}}"#;

pub(crate) const TYPES_COLUMNS: &str = r#"
[records]
path = "data.items"

[[columns]]
name = "id"
type = "long"
[[columns]]
name = "i"
type = "int"
[[columns]]
name = "s"
[[columns]]
name = "f"
type = "float"
[[columns]]
name = "d"
type = "double"
[[columns]]
name = "b"
type = "boolean"
[[columns]]
name = "day"
type = "date"
[[columns]]
name = "ts"
type = "timestamp"
[[columns]]
name = "bin"
type = "binary"
[[columns]]
name = "j"
type = "json"
[[columns]]
name = "big"
[[columns]]
name = "big_json"
path = "big"
type = "json"
[[columns]]
name = "last_tag"
path = "u.tags[-1]"
[[columns]]
name = "tags"
path = "$.u.tags[*]"
type = "json"
[[columns]]
name = "link"
path = "$['@odata.nextLink']"
[[columns]]
name = "odata"
path = "u.odata"
[[columns]]
name = "source"
value = "api"
"#;

pub(crate) fn job_text(server: &TestServer, target: &str, rest: &str) -> String {
    format!("[request]\nurl = \"{}{target}\"\n{rest}", server.url())
}

#[test]
fn every_type_converts_to_exact_ndjson() {
    let server = TestServer::start(vec![Exchange::json("/items", TYPES_PAGE)]);
    let dir = Dir::new();
    let job = dir.write("job.toml", &job_text(&server, "/items", TYPES_COLUMNS));
    let out = dir.path("out.ndjson");
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&out), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = concat!(
        r#"{"id":1,"i":2147483647,"s":"plain","f":1.5,"d":0.1,"b":true,"day":"2024-03-01","ts":"2024-03-01T12:00:00.250Z","bin":"aGk=","j":{"k":[1,null]},"big":"123456789012345678901234567890","big_json":123456789012345678901234567890,"last_tag":"y","tags":["x","y"],"link":"n1","odata":"z","source":"api"}"#,
        "\n",
        r#"{"id":2,"i":-5,"s":"42","f":2.5,"d":1000.0,"b":false,"day":"2024-02-29","ts":"2024-03-01T12:00:00Z","bin":null,"j":"text","big":"-9223372036854775809","big_json":-9223372036854775809,"last_tag":null,"tags":[],"link":"n2","odata":"w","source":"api"}"#,
        "\n",
        r#"{"id":3,"i":0,"s":"tab\there \"q\" é","f":0.0,"d":-2.5e-300,"b":false,"day":"1969-12-31","ts":"2024-03-01T12:00:00Z","bin":"","j":[1,2],"big":"18446744073709551615","big_json":18446744073709551615,"last_tag":"only","tags":["only"],"link":"n3","odata":"v","source":"api"}"#,
        "\n",
    );
    assert_eq!(dir.read("out.ndjson"), expected);
    assert!(!dir.path("out.ndjson.partial").exists());
}

#[test]
fn every_type_writes_exact_csv() {
    let server = TestServer::start(vec![Exchange::json("/items", TYPES_PAGE)]);
    let dir = Dir::new();
    let job = dir.write("job.toml", &job_text(&server, "/items", TYPES_COLUMNS));
    let out = dir.path("out.csv");
    let run = hydrant(&[
        "run",
        path_str(&job),
        "--output",
        path_str(&out),
        "--format",
        "csv",
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = concat!(
        "id,i,s,f,d,b,day,ts,bin,j,big,big_json,last_tag,tags,link,odata,source\n",
        "1,2147483647,plain,1.5,0.1,true,2024-03-01,2024-03-01T12:00:00.250Z,aGk=,\"{\"\"k\"\":[1,null]}\",123456789012345678901234567890,123456789012345678901234567890,y,\"[\"\"x\"\",\"\"y\"\"]\",n1,z,api\n",
        "2,-5,42,2.5,1000.0,false,2024-02-29,2024-03-01T12:00:00Z,,\"\"\"text\"\"\",-9223372036854775809,-9223372036854775809,,[],n2,w,api\n",
        "3,0,\"tab\there \"\"q\"\" é\",0.0,-2.5e-300,false,1969-12-31,2024-03-01T12:00:00Z,\"\",\"[1,2]\",18446744073709551615,18446744073709551615,only,\"[\"\"only\"\"]\",n3,v,api\n",
    );
    assert_eq!(dir.read("out.csv"), expected);
}

#[test]
fn bad_types_and_missing_values_are_dirty_with_reasons() {
    let page = r#"[
 {"id": 1, "n": 1.5},
 {"id": 2, "n": 9223372036854775808},
 {"id": 3},
 {"id": 4, "n": "abc"},
 {"id": 5, "n": 7}
]"#;
    let server = TestServer::start(vec![Exchange::json("/p", page)]);
    let dir = Dir::new();
    let dirty = dir.path("dirty.ndjson");
    let rest = format!(
        "[records]\non_missing = \"dirty\"\nmax_dirty = 4\ndirty_path = \"{}\"\n[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"n\"\ntype = \"long\"\n",
        path_str(&dirty)
    );
    let job = dir.write("job.toml", &job_text(&server, "/p", &rest));
    let summary = dir.path("summary.json");
    let run = hydrant(&["run", path_str(&job), "--summary-json", path_str(&summary)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":5,\"n\":7}\n");
    let reasons: Vec<serde_json::Value> = dir
        .read("dirty.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reason = |i: usize| reasons[i]["reason"].as_str().unwrap().to_owned();
    assert_eq!(reasons.len(), 4);
    assert_eq!(
        reason(0),
        "column `n` (long): 1.5 is not an integer (a `double` column keeps fractions)"
    );
    assert_eq!(
        reason(1),
        "column `n` (long): 9223372036854775808 is out of range"
    );
    assert_eq!(reason(2), "column `n`: no value at `n`");
    assert_eq!(reason(3), "column `n` (long): \"abc\" is not an integer");
    assert_eq!(
        reasons[1]["record"],
        serde_json::json!({"id": 2, "n": 9223372036854775808u64})
    );
    assert!(reasons[0]["url"].as_str().unwrap().ends_with("/p"));
    let summary: serde_json::Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(summary["records"], 1);
    assert_eq!(summary["dirty"], 4);
    assert_eq!(summary["requests"], 1);
    assert_eq!(summary["stopped"], "no_next");
}

#[test]
fn null_policies_keep_records() {
    let page = r#"[{"id": 1, "n": "x"}, {"id": 2}]"#;
    let server = TestServer::start(vec![Exchange::json("/p", page)]);
    let dir = Dir::new();
    let rest = "[records]\non_bad_type = \"null\"\n[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"n\"\ntype = \"double\"\n";
    let job = dir.write("job.toml", &job_text(&server, "/p", rest));
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1,\"n\":null}\n{\"id\":2,\"n\":null}\n");
}

#[test]
fn values_written_as_null_for_their_type_are_counted() {
    // Two pages, made by the page makers or, with a JSONPath column,
    // read as trees. With `on_missing = "dirty"` the record without `t`
    // is left out, and its bad value before it is not counted.
    let server = TestServer::start(vec![
        Exchange::json(
            "/p?page=1",
            r#"[{"id": 1, "n": "x", "t": "noon"}, {"id": 2, "n": 2.5, "t": 0}, {"id": 9, "n": "y"}]"#,
        ),
        Exchange::json("/p?page=2", r#"[{"id": 3, "n": "z", "t": 0}]"#),
        Exchange::json("/p?page=3", "[]"),
    ]);
    let columns = "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 2\n\
        [records]\non_bad_type = \"null\"\nmax_dirty = 1\n\
        [[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"n\"\ntype = \"double\"\n\
        [[columns]]\nname = \"t\"\ntype = \"timestamp\"\n";
    let tree = "[[columns]]\nname = \"f\"\npath = \"$..n\"\ntype = \"json\"\n";
    let dirty = "on_missing = \"dirty\"\n";
    for (extra, missing, rows, bad_n) in [("", "", 4, 3), ("", dirty, 3, 2), (tree, dirty, 3, 2)] {
        let rest = format!("{columns}{extra}").replace("max_dirty", &format!("{missing}max_dirty"));
        let (run, summary) = run_job(&server.url(), "/p", &rest, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout.lines().count(), rows, "{}", run.stdout);
        assert_eq!(
            summary["nulled"],
            serde_json::json!({"n": bad_n, "t": 1}),
            "{extra}{missing}: {summary}"
        );
        let warned = format!(
            "{bad_n} value(s) of column `n` did not convert to double and were written as null"
        );
        assert!(run.stderr.contains(&warned), "{}", run.stderr);
        let warnings = summary["warnings"].as_array().unwrap();
        assert!(
            warnings
                .iter()
                .any(|w| w.as_str().unwrap().starts_with("1 value(s) of column `t`")),
            "{summary}"
        );
    }
}

/// `records.on_missing = "dirty"` is of declared columns: with inferred
/// ones, a record without a field others have was set aside as dirty.
#[test]
fn inferred_columns_are_not_held_to_on_missing() {
    // The second page is made off the run loop, against the columns the
    // first fixed.
    let server = TestServer::start(vec![
        Exchange::json("/x?page=1", r#"[{"id": 1, "a": "x"}, {"id": 2}]"#),
        Exchange::json("/x?page=2", r#"[{"id": 3}, {"id": 4, "a": "y"}]"#),
        Exchange::json("/x?page=3", "[]"),
    ]);
    let dirty = "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n\
                 [records]\non_missing = \"dirty\"\nmax_dirty = 5\n";
    let (run, summary) = run_job(&server.url(), "/x", dirty, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"id\":1,\"a\":\"x\"}\n{\"id\":2,\"a\":null}\n{\"id\":3,\"a\":null}\n{\"id\":4,\"a\":\"y\"}\n"
    );
    assert_eq!(summary["dirty"], 0, "{summary}");
    // Declared, the record without `a` is dirty, as the job asks.
    let declared =
        format!("{dirty}[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"a\"\n");
    let (run, summary) = run_job(&server.url(), "/x", &declared, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(summary["dirty"], 2, "{summary}");
}

/// Paged by number, with `user.nmae` misspelled.
const MISSPELLED_COLUMNS: &str = "[paginate]\ntype = \"page\"\n\
    [[columns]]\nname = \"id\"\ntype = \"long\"\n\
    [[columns]]\nname = \"name\"\npath = \"user.nmae\"\n\
    [[columns]]\nname = \"deleted\"\ntype = \"boolean\"\n";

/// Compact records of plain keys are read against their shapes, some
/// leaving out members: a column none of them has is warned of all the
/// same, and one some have is not.
#[test]
fn a_declared_column_that_no_sparse_record_has_is_warned_of() {
    let records = |ids: [u32; 3]| {
        let record = |id: u32| match id % 3 {
            0 => format!(r#"{{"id":{id},"user":{{"name":"a"}},"deleted":true}}"#),
            1 => format!(r#"{{"id":{id},"user":{{"name":"b"}}}}"#),
            _ => format!(r#"{{"id":{id}}}"#),
        };
        format!("[{}]", ids.map(record).join(","))
    };
    let server = TestServer::start(vec![
        Exchange::json("/p?page=1", records([1, 2, 3])),
        Exchange::json("/p?page=2", records([4, 5, 6])),
        Exchange::json("/p?page=3", "[]"),
    ]);
    let (run, summary) = run_job(&server.url(), "/p", MISSPELLED_COLUMNS, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summary["warnings"],
        serde_json::json!([
            "column `name`: none of the 6 records has a value at `user.nmae`, so the column is \
             null in all of them (a misspelled path? `hydrant check` shows the records)"
        ]),
        "{summary}"
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[2], r#"{"id":3,"name":null,"deleted":true}"#);
    assert_eq!(lines[3], r#"{"id":4,"name":null,"deleted":null}"#);
}

#[test]
fn a_declared_column_that_no_record_has_is_warned_of() {
    // `user.nmae` is misspelled: its column would be null in every record
    // without a word, and `tagz[*].name`'s `[]`. `deleted` is in one
    // record, `gone` null in all of them, which a record does hold, and
    // `labels[*].name` selects a name in one record: none of these is
    // warned of.
    let server = TestServer::start(vec![
        Exchange::json(
            "/p?page=1",
            r#"[{"id": 1, "user": {"name": "a"}, "gone": null, "labels": []}]"#,
        ),
        Exchange::json(
            "/p?page=2",
            r#"[{"id": 2, "user": {"name": "b"}, "gone": null, "deleted": true,
                 "labels": [{"name": "x"}]}]"#,
        ),
        Exchange::json("/p?page=3", "[]"),
    ]);
    let rest = format!(
        "{MISSPELLED_COLUMNS}\
         [[columns]]\nname = \"gone\"\n\
         [[columns]]\nname = \"labels\"\npath = \"labels[*].name\"\n\
         [[columns]]\nname = \"tags\"\npath = \"tagz[*].name\"\n"
    );
    let (run, summary) = run_job(&server.url(), "/p", &rest, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summary["warnings"],
        serde_json::json!([
            "column `name`: none of the 2 records has a value at `user.nmae`, so the column is \
             null in all of them (a misspelled path? `hydrant check` shows the records)",
            "column `tags`: none of the 2 records has a value at `tagz[*].name`, so the column \
             is `[]` in all of them (a misspelled path? `hydrant check` shows the records)"
        ]),
        "{summary}"
    );
    // `check` says it of the first page, where `deleted` and `labels`
    // are absent too.
    let dir = Dir::new();
    let job = dir.write("job.toml", &job_text(&server, "/p", &rest));
    let check = hydrant(&["check", path_str(&job)]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.contains(
            "warning: column `name`: none of the 1 records of the first page has a value at \
             `user.nmae`, so the column is null in all of them (a misspelled path?)\n"
        ) && check.stdout.contains(
            "warning: column `tags`: none of the 1 records of the first page has a value at \
             `tagz[*].name`, so the column is `[]` in all of them (a misspelled path?)\n"
        ) && ["deleted", "labels"].iter().all(|name| {
            (check.stdout).contains(&format!("warning: column `{name}`: none of the 1 records"))
        }) && check.stdout.matches("warning:").count() == 4,
        "{}",
        check.stdout
    );
    // Inferred columns come from the records: none is warned of.
    let (run, summary) = run_job(&server.url(), "/p", "[paginate]\ntype = \"page\"\n", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");
}

#[test]
fn too_many_dirty_records_fail_the_run_naming_the_count() {
    let page = r#"[{"n": "a"}, {"n": "b"}, {"n": "c"}]"#;
    let server = TestServer::start(vec![Exchange::json("/p", page)]);
    let dir = Dir::new();
    let out = dir.path("out.ndjson");
    let rest = "[records]\nmax_dirty = 2\n[[columns]]\nname = \"n\"\ntype = \"long\"\n";
    let job = dir.write("job.toml", &job_text(&server, "/p", rest));
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&out)]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("3 dirty records exceed records.max_dirty = 2"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
    assert!(!dir.path("out.ndjson.partial").exists());
}

#[test]
fn records_path_to_an_object_gives_one_record() {
    let page = r#"{"result": {"user": {"id": 7, "name": "Ann"}}}"#;
    let server = TestServer::start(vec![Exchange::json("/me", page)]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &job_text(&server, "/me", "[records]\npath = \"$.result.user\"\n"),
    );
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":7,\"name\":\"Ann\"}\n");
}

/// What a path of many values selects is taken alike on every page,
/// whatever their number: a value at a name (`results[*].items`) gives
/// its elements, with one result on a page as with two; an element a
/// `[*]` picks is a record, a row that is an array too, where the last
/// page holds one (its cells had been taken for records).
#[test]
fn a_path_of_many_values_takes_them_alike_however_many_a_page_has() {
    let server = TestServer::start_fn(|seen| {
        let page = (seen.target.split("p=").nth(1)).map_or(1, |p| p.parse().unwrap());
        if seen.target.starts_with("/attributes") {
            let body = r#"{"data":[{"attributes":{"a":1}},{"attributes":{}},{"attributes":null}]}"#;
            return crate::util::json(200, body);
        }
        let body = match (seen.target.starts_with("/rows"), page) {
            (false, 1) => {
                r#"{"results":[{"items":[{"a":1},{"a":2}]},{"items":[{"a":3}]}],"next":"/items?p=2"}"#
            }
            (false, _) => r#"{"results":[{"items":[{"a":4},{"a":5}]}],"next":null}"#,
            (true, 1) => r#"{"rows":[[1700000000,"1"],[1700000015,"2"]],"next":"/rows?p=2"}"#,
            (true, _) => r#"{"rows":[[1700000030,"3"]],"next":null}"#,
        };
        crate::util::json(200, body)
    });
    let paged = "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let items = format!("[records]\npath = \"results[*].items\"\n{paged}");
    let expected = "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n{\"a\":5}\n";
    for columns in ["", "[[columns]]\nname = \"a\"\ntype = \"long\"\n"] {
        let (run, _) = run_job(&server.url(), "/items", &format!("{items}{columns}"), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, expected, "{columns}");
    }
    let rows = format!("[records]\npath = \"rows[*]\"\n{paged}");
    let (run, _) = run_job(&server.url(), "/rows", &rows, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"value\":[1700000000,\"1\"]}\n{\"value\":[1700000015,\"2\"]}\n{\"value\":[1700000030,\"3\"]}\n"
    );
    // An empty object among many values is a record, not an answer of
    // no results; a null is none.
    let attributes =
        "[records]\npath = \"data[*].attributes\"\n[[columns]]\nname = \"a\"\ntype = \"long\"\n";
    let (run, summary) = run_job(&server.url(), "/attributes", attributes, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"a\":1}\n{\"a\":null}\n", "{summary}");
}

#[test]
fn absent_records_path_gives_no_records() {
    let server = TestServer::start(vec![Exchange::json("/x", r#"{"other": 1}"#)]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &job_text(&server, "/x", "[records]\npath = \"data\"\n"),
    );
    let summary = dir.path("s.json");
    let run = hydrant(&[
        "run",
        path_str(&job),
        "--quiet",
        "--summary-json",
        path_str(&summary),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(dir.read("s.json").contains("\"records\": 0"));
}

#[test]
fn general_jsonpath_records_fall_back() {
    let page = r#"{"groups": [{"items": [{"id": 1}, {"id": 2}]}, {"items": [{"id": 3}]}]}"#;
    let server = TestServer::start(vec![Exchange::json("/g", page)]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &job_text(&server, "/g", "[records]\npath = \"$..items[?@.id > 1]\"\n"),
    );
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":2}\n{\"id\":3}\n");
}

#[test]
fn inferred_columns_flatten_and_widen() {
    let page = r#"[
 {"id": 1, "user": {"id": 10, "name": "a", "geo": {"lat": 1}}, "tags": ["x"], "score": 1, "note": null},
 {"id": 2, "user": {"id": 11, "name": "b", "geo": {"lat": 2.5}}, "tags": [], "score": "high", "note": "n"}
]"#;
    let server = TestServer::start(vec![Exchange::json("/p", page)]);
    let dir = Dir::new();
    let job = dir.write("job.toml", &job_text(&server, "/p", ""));
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        concat!(
            r#"{"id":1,"user_id":10,"user_name":"a","user_geo_lat":1.0,"tags":["x"],"score":1,"note":null}"#,
            "\n",
            r#"{"id":2,"user_id":11,"user_name":"b","user_geo_lat":2.5,"tags":[],"score":"high","note":"n"}"#,
            "\n"
        )
    );
    let schema = hydrant(&["schema", path_str(&job)]);
    assert_eq!(schema.code, 0, "{}", schema.stderr);
    assert!(
        schema.stdout.contains(
            "[[columns]]\nname = \"user_geo_lat\"\npath = \"user.geo.lat\"\ntype = \"double\"\n"
        ),
        "{}",
        schema.stdout
    );
}

#[test]
fn malformed_json_fails_naming_the_url_and_leaves_no_output() {
    let server = TestServer::start(vec![Exchange::json(
        "/bad?page=1",
        r#"[{"id": 1}, {"id": 2"#,
    )]);
    let dir = Dir::new();
    let out = dir.path("out.ndjson");
    let job = dir.write(
        "job.toml",
        &job_text(&server, "/bad", "query = { page = 1 }\n"),
    );
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&out)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "response from {}/bad?page=1 is not valid JSON",
            server.url()
        )),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
    assert!(!dir.path("out.ndjson.partial").exists());
}

#[test]
fn http_error_status_fails_naming_the_url() {
    let server = TestServer::start(vec![]);
    let dir = Dir::new();
    let job = dir.write("job.toml", &job_text(&server, "/missing", ""));
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "GET {}/missing answered 404 Not Found",
            server.url()
        )),
        "{}",
        run.stderr
    );
}

/// An API that serves a type of its own (JSON:API's
/// `application/vnd.api+json`) answers 406 to the `Accept:
/// application/json` a run sends unless the job sets another: the error
/// says which header to set. A job that asks for another type is not
/// told to.
#[test]
fn a_406_to_the_json_a_run_accepts_names_the_header_to_set() {
    let server = TestServer::start_fn(|seen| {
        let status = if seen.target == "/missing" { 404 } else { 406 };
        let mut refused = Exchange::json(
            &seen.target,
            format!("{{\"errors\":[{{\"status\":\"{status}\"}}]}}"),
        );
        refused.status = status;
        refused
    });
    let dir = Dir::new();
    let hint = "; the API does not serve the `Accept: application/json` sent: set \
                `Accept` in the job's `headers` to the type it serves (JSON:API's \
                \"application/vnd.api+json\")";
    let cases = [
        ("/items", "", Some(hint)),
        ("/items", "headers = { Accept = \"text/csv\" }\n", None),
        ("/missing", "", None),
    ];
    for (target, headers, told) in cases {
        let job = dir.write("job.toml", &job_text(&server, target, headers));
        let run = hydrant(&[
            "run",
            path_str(&job),
            "--output",
            path_str(&dir.path("o.ndjson")),
        ]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let status = match target {
            "/missing" => "404 Not Found",
            _ => "406 Not Acceptable",
        };
        let error = format!(
            "GET {}{target} answered {status}: {{\"errors\":[{{\"status\":\"{}\"}}]}}{}",
            server.url(),
            &status[..3],
            told.unwrap_or_default()
        );
        assert_eq!(
            run.stderr.trim_end(),
            format!("hydrant: error: {error}"),
            "{headers}"
        );
    }
}

#[test]
fn unknown_key_is_a_usage_error_naming_it() {
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        "[request]\nurl = \"https://api.example.com/x\"\n\n[records]\npth = \"data\"\n",
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown field `pth`"), "{}", run.stderr);
    assert!(run.stderr.contains("line 5"), "{}", run.stderr);
    assert!(run.stderr.contains("job.toml"), "{}", run.stderr);
}

#[test]
fn secrets_never_show_in_explain_errors_or_summary() {
    let canary = "canary-5ecret-7d1f";
    let server = TestServer::start(vec![Exchange::json(
        "/ok?key=canary-5ecret-7d1f",
        "[{\"a\": 1}]",
    )]);
    let dir = Dir::new();
    let rest = "[auth]\ntype = \"api_key\"\nname = \"key\"\nvalue = \"${API_KEY}\"\nin = \"query\"\n[auth.headers]\nX-Secret = \"${API_KEY}\"\n";
    let job = dir.write("job.toml", &job_text(&server, "/ok", rest));
    let failing = dir.write("fail.toml", &job_text(&server, "/nope", rest));
    let summary = dir.path("summary.json");
    let env = [("API_KEY", canary)];
    let explain = hydrant_with(&["explain", path_str(&job)], &env);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert!(
        explain.stdout.contains("key=***") && explain.stdout.contains("x-secret: ***"),
        "{}",
        explain.stdout
    );
    let ok = hydrant_with(
        &["run", path_str(&job), "--summary-json", path_str(&summary)],
        &env,
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, "{\"a\":1}\n");
    let failed = hydrant_with(
        &["run", path_str(&failing)],
        &[("API_KEY", canary), ("RUST_LOG", "trace")],
    );
    assert_eq!(failed.code, 1);
    assert!(failed.stderr.contains("key=***"), "{}", failed.stderr);
    for text in [
        &explain.stdout,
        &explain.stderr,
        &ok.stderr,
        &failed.stdout,
        &failed.stderr,
        &dir.read("summary.json"),
    ] {
        assert!(!text.contains(canary), "secret leaked: {text}");
    }
    let seen = server.requests();
    assert_eq!(seen[0].header("x-secret"), Some(canary));
}

#[test]
fn requests_carry_accept_headers_query_and_body() {
    let server = TestServer::start(vec![Exchange {
        method: "POST".to_owned(),
        ..Exchange::json("/search?tag=a&tag=b&n=5&on=true", "[]")
    }]);
    let dir = Dir::new();
    let rest = "method = \"POST\"\nquery = { tag = [\"a\", \"b\"], n = 5, on = true }\nbody = { filter = { city = \"Zürich\" } }\n";
    let job = dir.write("job.toml", &job_text(&server, "/search", rest));
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = &server.requests()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(
        seen.header("accept-encoding"),
        Some("gzip, deflate, br, zstd")
    );
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&seen.body),
        r#"{"filter":{"city":"Zürich"}}"#
    );
}

#[test]
fn form_bodies_are_url_encoded() {
    let server = TestServer::start(vec![Exchange {
        method: "POST".to_owned(),
        ..Exchange::json("/f", "[]")
    }]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &job_text(
            &server,
            "/f",
            "method = \"POST\"\nform = { q = \"a b&c\", n = 2 }\n",
        ),
    );
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = &server.requests()[0];
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(String::from_utf8_lossy(&seen.body), "n=2&q=a+b%26c");
}

#[test]
fn gzip_responses_are_decoded_and_capped() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let page = format!(
        "[{}]",
        vec!["{\"v\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}"; 2000].join(",")
    );
    encoder.write_all(page.as_bytes()).unwrap();
    let gz = encoder.finish().unwrap();
    let zst = zstd::encode_all(page.as_bytes(), 3).unwrap();
    let mut exchanges = Vec::new();
    for (target, body, encoding) in [("/gz", gz, "gzip"), ("/zst", zst, "zstd")] {
        let mut exchange = Exchange::json(target, body);
        (exchange.headers).push(("content-encoding".to_owned(), encoding.to_owned()));
        exchanges.push(exchange);
    }
    let server = TestServer::start(exchanges);
    let dir = Dir::new();
    for target in ["/gz", "/zst"] {
        let job = dir.write("job.toml", &job_text(&server, target, ""));
        let run = hydrant(&["run", path_str(&job), "--quiet"]);
        assert_eq!(run.code, 0, "{target}: {}", run.stderr);
        assert_eq!(run.stdout.lines().count(), 2000, "{target}");
        let capped = dir.write(
            "capped.toml",
            &job_text(&server, target, "[limits]\nmax_response = \"10KiB\"\n"),
        );
        let run = hydrant(&["run", path_str(&capped)]);
        assert_eq!(run.code, 1, "{target}");
        assert!(
            run.stderr
                .contains("exceeds limits.max_response (10240 bytes decoded)"),
            "{target}: {}",
            run.stderr
        );
    }
}

#[test]
fn raw_format_writes_each_body_on_one_line() {
    let server = TestServer::start(vec![Exchange::json("/r", "{\n  \"a\": [1,\n 2]\n}\n")]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &job_text(&server, "/r", "[output]\nformat = \"raw\"\n"),
    );
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{  \"a\": [1, 2]}\n");
}

/// Page `n` of a pretty-printed API, `[[columns]]`-breaking values among
/// its records: for the raw tests.
fn pretty_page(n: u32, next: Option<String>) -> String {
    let records: Vec<String> = (0..3)
        .map(|i| {
            let id = if n == 2 && i == 1 {
                "\"abc\"".to_owned()
            } else {
                (n * 3 + i).to_string()
            };
            format!("{{\r\n    \"id\": {id},\r\n    \"note\": \"line\\nbreak\"\r\n  }}")
        })
        .collect();
    let next = next.map_or("null".to_owned(), |url| format!("\"{url}\""));
    format!(
        "{{\r\n  \"data\": [\r\n  {}\r\n  ],\r\n  \"next\": {next}\r\n}}\r\n",
        records.join(",\r\n  ")
    )
}

#[test]
fn raw_format_writes_every_body_whole_whatever_the_columns_say() {
    // Followed pages are made on the maker threads, counted ones in the
    // tasks that fetch them: both write each body whole, in order, and a
    // value that does not fit a declared column is no dirty record, as
    // the body holds it.
    let server = TestServer::start_fn(|seen: &Seen| {
        let query = seen.target.split_once('?').map_or("", |(_, q)| q);
        let number = |key: &str| {
            (query.split('&'))
                .find_map(|kv| kv.strip_prefix(key)?.parse::<u32>().ok())
                .unwrap_or(0)
        };
        let n = if seen.target.starts_with("/offset") {
            number("from=") / 3
        } else {
            number("page=")
        };
        let next = (n < 5).then(|| format!("/next?page={}", n + 1));
        if n > 5 {
            return Exchange::json(&seen.target, "{\"data\": [], \"next\": null}");
        }
        Exchange::json(&seen.target, pretty_page(n, next))
    });
    let bodies: String = (0..6)
        .map(|n| {
            let next = (n < 5).then(|| format!("/next?page={}", n + 1));
            pretty_page(n, next).replace(['\r', '\n'], "") + "\n"
        })
        .collect();
    let columns = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    let jobs = [
        ("/next", "type = \"next_link\"\nfrom = \"$.next\""),
        ("/offset", "type = \"offset\"\nlimit = 3\nparam = \"from\""),
    ];
    for (target, paginate) in jobs {
        let rest = format!(
            "[paginate]\n{paginate}\n[records]\npath = \"data\"\n{columns}[output]\nformat = \"raw\"\n"
        );
        let (run, summary) = run_job(&server.url(), target, &rest, &[]);
        assert_eq!(run.code, 0, "{target}: {}", run.stderr);
        let written = if target == "/offset" {
            // The offset pass reads one page past the last full one.
            bodies.clone() + "{\"data\": [], \"next\": null}\n"
        } else {
            bodies.clone()
        };
        assert_eq!(run.stdout, written, "{target}");
        assert_eq!(summary["records"], 18, "{target}: {summary}");
        assert_eq!(summary["dirty"], 0, "{target}: {summary}");
        assert!(
            run.stderr.contains(
                "[[columns]] are not used: output.format `raw` writes each body as it came"
            ),
            "{target}: {}",
            run.stderr
        );
    }
}

#[test]
fn check_of_a_raw_job_shows_its_records_as_they_came() {
    // What the run would write: no columns, no dirty record.
    let page = r#"{"data": [{"id": "abc", "user": {"name": "ann"}}, {"id": 2}]}"#;
    let server = TestServer::start(vec![Exchange::json("/r", page)]);
    let dir = Dir::new();
    let columns = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    let job = dir.write(
        "job.toml",
        &job_text(
            &server,
            "/r",
            &format!("[records]\npath = \"data\"\n{columns}[output]\nformat = \"raw\"\n"),
        ),
    );
    let check = hydrant(&["check", path_str(&job)]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.contains("records: 2 on the first page"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("output:  raw: each body as it came, no columns"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains(
            "first records:\n  {\"id\":\"abc\",\"user\":{\"name\":\"ann\"}}\n  {\"id\":2}\n"
        ),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("warning: job file"),
        "{}",
        check.stdout
    );
    assert!(!check.stdout.contains("dirty"), "{}", check.stdout);
    assert!(!check.stdout.contains("columns:"), "{}", check.stdout);
}

#[test]
fn raw_format_refuses_incremental_keys_that_drop_records() {
    let server = TestServer::start(vec![Exchange::json("/r", "[]")]);
    for (extra, key) in [
        ("filter = true\n", "incremental.filter = true drops records"),
        ("key = \"id\"\n", "incremental.key drops records"),
    ] {
        let dir = Dir::new();
        let state = dir.path("state.json");
        let job = dir.write(
            "job.toml",
            &job_text(
                &server,
                "/r",
                &format!(
                    "[incremental]\ncursor = \"u\"\ntype = \"long\"\nstart = \"0\"\nparam = \"since\"\n{extra}\
                     [state]\npath = \"{}\"\n",
                    path_str(&state)
                ),
            ),
        );
        let run = hydrant(&["run", path_str(&job), "--format", "raw"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(key), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("output.format `raw` writes each body whole"),
            "{}",
            run.stderr
        );
        // So does its check, for a job file that says raw.
        let text = std::fs::read_to_string(&job).unwrap() + "[output]\nformat = \"raw\"\n";
        let raw_job = dir.write("raw.toml", &text);
        let check = hydrant(&["check", path_str(&raw_job)]);
        assert_eq!(check.code, 2, "{}", check.stderr);
        assert!(check.stderr.contains(key), "{}", check.stderr);
        assert!(server.requests().is_empty(), "no request goes out");
        assert!(!state.exists(), "no state is written");
    }
}

#[test]
fn quickstart_runs_offline_with_replay() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let run = hydrant(&[
        "run",
        &format!("{root}/examples/quickstart.toml"),
        "--replay",
        &format!("{root}/fixtures/issues"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[3],
        r#"{"number":1343,"title":"Unicode titles: naïve café ☕ 🚀","state":"closed","author":"yukihiro","author_name":"まつもと ゆきひろ","labels":[],"score":0.1,"created_at":"2024-03-04T12:03:00Z","closed_at":"2024-03-13T08:30:00.250Z"}"#
    );
    assert!(
        run.stderr.contains("6 records (0 dirty) from 1 requests"),
        "{}",
        run.stderr
    );
}

#[test]
fn query_prints_a_json_array_and_refuses_bad_paths() {
    let dir = Dir::new();
    let doc = dir.write(
        "doc.json",
        r#"{"a": [{"id": 1}, {"id": 2}], "@odata.nextLink": "n"}"#,
    );
    let run = hydrant(&["query", "$.a[*].id", path_str(&doc)]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "[1,2]\n"));
    let run = hydrant(&["query", "a[-1]", path_str(&doc)]);
    assert_eq!(run.stdout, "[{\"id\":2}]\n");
    let run = hydrant(&["query", "$['@odata.nextLink']", path_str(&doc)]);
    assert_eq!(run.stdout, "[\"n\"]\n");
    let run = hydrant(&["query", "$.a[", path_str(&doc)]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("invalid path"), "{}", run.stderr);
    // Numbers as the document writes them, by a path of keys or a filter.
    let numbers = dir.write(
        "numbers.json",
        r#"{"n": [1.50, 123456789012345678901234567890.5, {"e": 1E+2}, 2]}"#,
    );
    let run = hydrant(&["query", "$.n", path_str(&numbers)]);
    assert_eq!(
        run.stdout,
        "[[1.50,123456789012345678901234567890.5,{\"e\":1E+2},2]]\n"
    );
    let run = hydrant(&["query", "$.n[?@ > 1.5]", path_str(&numbers)]);
    assert_eq!(run.stdout, "[123456789012345678901234567890.5,2]\n");
}

#[test]
fn check_shows_status_records_and_columns() {
    let server = TestServer::start(vec![Exchange::json(
        "/c",
        r#"[{"id": 1, "u": {"n": "a"}}]"#,
    )]);
    let dir = Dir::new();
    let job = dir.write("job.toml", &job_text(&server, "/c", ""));
    let run = hydrant(&["check", path_str(&job)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("-> 200"), "{}", run.stdout);
    assert!(
        run.stdout.contains("records: 1 on the first page"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  id: long\n  u_n: string\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  {\"id\":1,\"u_n\":\"a\"}"),
        "{}",
        run.stdout
    );
}

#[test]
fn unset_variable_is_a_usage_error_naming_it() {
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        "[request]\nurl = \"https://api.example.com/${TENANT}/x\"\n",
    );
    let run = hydrant(&["check", path_str(&job)]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("request.url: variable `TENANT` is not set"),
        "{}",
        run.stderr
    );
    // explain shows the requests before the variables are set.
    let run = hydrant(&["explain", path_str(&job)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("# not set, shown as ***: TENANT\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("GET https://api.example.com/***/x"));
    let run = hydrant(&["explain", path_str(&job), "--var", "TENANT=acme"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("not set"), "{}", run.stdout);
    assert!(
        run.stdout.contains("GET https://api.example.com/acme/x"),
        "{}",
        run.stdout
    );
}

#[test]
fn unreachable_host_fails_naming_the_url() {
    let dir = Dir::new();
    // Port 9 on loopback: nothing listens there.
    let job = dir.write(
        "job.toml",
        "[request]\nurl = \"http://127.0.0.1:9/x\"\nconnect_timeout = \"2s\"\n[limits]\nmax_retries = 2\nbackoff = { initial = \"10ms\", max = \"20ms\" }\n",
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 1);
    // A host that never answered this job is not retried: it fails at once.
    assert!(
        run.stderr.contains(
            "request to http://127.0.0.1:9/x failed: the connection was refused (nothing listens there)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("retrying in").count(),
        0,
        "{}",
        run.stderr
    );
}

#[test]
fn tls_is_verified_against_ca_file_and_negotiates_http2() {
    let ca = util::TestCa::new();
    let server = TestServer::start_tls(vec![Exchange::json("/secure", "[{\"ok\": true}]")], &ca);
    let dir = Dir::new();
    dir.write("ca.pem", &ca.ca_cert);
    let url = format!("https://localhost:{}/secure", server.port());
    // ca_file is relative to the job file.
    let trusted = dir.write(
        "trusted.toml",
        &format!("[request]\nurl = \"{url}\"\nca_file = \"ca.pem\"\n"),
    );
    let run = hydrant(&["run", path_str(&trusted), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"ok\":true}\n");
    assert_eq!(server.requests()[0].version, "HTTP/2.0");

    let untrusted = dir.write("untrusted.toml", &format!("[request]\nurl = \"{url}\"\n"));
    let run = hydrant(&["run", path_str(&untrusted)]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!("request to {url} failed")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);
    assert_eq!(server.requests().len(), 1);

    let unverified = dir.write(
        "unverified.toml",
        &format!("[request]\nurl = \"{url}\"\ntls_verify = false\n"),
    );
    let run = hydrant(&["run", path_str(&unverified)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("tls_verify = false"), "{}", run.stderr);
    assert_eq!(run.stdout, "{\"ok\":true}\n");
}

/// Django REST Framework behind a proxy that ends TLS writes its next
/// links with `http://`. The link on the job's host is followed over
/// the job's `https`, with its credentials: sent as written it went in
/// the clear without them, to the TLS port, and failed.
#[test]
fn an_http_next_link_on_the_job_host_is_followed_over_https() {
    let ca = util::TestCa::new();
    let server = TestServer::start_tls(
        vec![
            Exchange::json(
                "/items",
                format!(
                    "{{\"next\":\"http://localhost/items?page=2\",\"results\":{}}}",
                    ids(0..2)
                ),
            ),
            Exchange::json(
                "/items?page=2",
                format!("{{\"next\":null,\"results\":{}}}", ids(2..3)),
            ),
        ],
        &ca,
    );
    let dir = Dir::new();
    dir.write("ca.pem", &ca.ca_cert);
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"https://localhost:{}/items\"\nca_file = \"ca.pem\"\n\
             [auth]\ntype = \"bearer\"\ntoken = \"t0ken\"\n\
             [records]\npath = \"results\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n",
            server.port()
        ),
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..3));
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].target, "/items?page=2");
    assert_eq!(seen[1].header("authorization"), Some("Bearer t0ken"));
}

#[test]
fn a_self_signed_certificate_in_ca_file_is_trusted_as_curl_trusts_it() {
    let tls = util::TestCa::self_signed();
    let server = TestServer::start_tls(vec![Exchange::json("/s", "[{\"ok\": 1}]")], &tls);
    let dir = Dir::new();
    dir.write("self.pem", &tls.ca_cert);
    let url = format!("https://localhost:{}/s", server.port());
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{url}\"\nca_file = \"self.pem\"\n"),
    );
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"ok\":1}\n");
    // Another name than the certificate's is still refused.
    let job = dir.write(
        "other.toml",
        &format!(
            "[request]\nurl = \"https://127.0.0.1:{}/s\"\nca_file = \"self.pem\"\n",
            server.port()
        ),
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // Without ca_file, the error says how to fix it.
    let job = dir.write("plain.toml", &format!("[request]\nurl = \"{url}\"\n"));
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "give its certificate in request.ca_file (or set request.tls_verify = false)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_ca_file_fails_the_job_before_any_request() {
    // Checked when the job starts, though the roots load at the first
    // certificate to check: also for a job over plain HTTP.
    let server = TestServer::start(vec![Exchange::json("/r", "[]")]);
    let dir = Dir::new();
    dir.write("empty.pem", "not a certificate\n");
    for (file, said) in [
        ("missing.pem", "request.ca_file `"),
        ("empty.pem", "no PEM certificate in it"),
    ] {
        let job = dir.write(
            "job.toml",
            &job_text(&server, "/r", &format!("ca_file = \"{file}\"\n")),
        );
        let run = hydrant(&["run", path_str(&job)]);
        assert_eq!(run.code, 2, "{file}: {}", run.stderr);
        assert!(run.stderr.contains("request.ca_file"), "{}", run.stderr);
        assert!(run.stderr.contains(said), "{}", run.stderr);
    }
    assert!(server.requests().is_empty());
}

#[test]
fn plain_http_goes_through_the_environment_proxy() {
    // The replay server stands in for the proxy: it answers the absolute-form
    // request for an unresolvable host.
    let proxy = TestServer::start(vec![Exchange::json("/via-proxy", "[{\"p\": 1}]")]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        "[request]\nurl = \"http://api.invalid/via-proxy\"\nconnect_timeout = \"2s\"\n[limits]\nmax_retries = 0\n",
    );
    let run = hydrant_with(
        &["run", path_str(&job), "--quiet"],
        &[("HTTP_PROXY", &proxy.url())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"p\":1}\n");
    assert_eq!(proxy.requests()[0].header("host"), Some("api.invalid"));
    let run = hydrant_with(
        &["run", path_str(&job)],
        &[("HTTP_PROXY", &proxy.url()), ("NO_PROXY", "api.invalid")],
    );
    assert_eq!(
        run.code, 1,
        "NO_PROXY must bypass the proxy: {}",
        run.stdout
    );
    assert_eq!(proxy.requests().len(), 1);
}

/// A proxy that cannot be reached is named as the fault, without its
/// password, rather than the API ("nothing listens there").
#[test]
fn an_unreachable_proxy_is_named_as_the_fault() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        "[request]\nurl = \"http://api.invalid/x\"\n[limits]\nmax_retries = 0\n",
    );
    let proxy = format!("http://user:pr0xy-pass@127.0.0.1:{port}");
    let run = hydrant_with(&["run", path_str(&job)], &[("HTTP_PROXY", &proxy)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let says = format!(
        "request to http://api.invalid/x failed through the proxy http://127.0.0.1:{port} \
         (set by HTTP_PROXY, HTTPS_PROXY or ALL_PROXY; NO_PROXY names hosts reached directly): \
         the proxy refused the connection"
    );
    assert!(run.stderr.contains(&says), "{}", run.stderr);
    assert!(!run.stderr.contains("pr0xy-pass"), "{}", run.stderr);
}

#[test]
fn a_server_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(std::time::Duration::from_secs(3));
        drop(stream);
    });
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"http://127.0.0.1:{port}/slow\"\ntimeout = \"300ms\"\n[limits]\nmax_retries = 1\nbackoff = {{ initial = \"10ms\", max = \"10ms\" }}\n"
        ),
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "request to http://127.0.0.1:{port}/slow timed out after 300ms (request.timeout) (after 1 retry)"
        )),
        "{}",
        run.stderr
    );
    holder.join().unwrap();
}
