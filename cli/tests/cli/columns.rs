//! Columns, inferred and declared, and the output's format.

use hydrant_bench::Exchange;

use crate::job_text;
use crate::util::{
    Dir, TestServer, checked, each_output_says, hydrant, path_str, run_job, run_job_with,
    run_to_file,
};

#[test]
fn a_column_name_without_path_is_a_dotted_path() {
    let server = TestServer::start(vec![Exchange::json(
        "/u",
        r#"[{"user": {"id": 7}, "a.b": "dotted key"}]"#,
    )]);
    let rest = "[[columns]]\nname = \"user.id\"\ntype = \"long\"\n[[columns]]\nname = \"a.b\"\npath = \"$['a.b']\"\n";
    let (run, summary) = run_job(&server.url(), "/u", rest, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"user.id\":7,\"a.b\":\"dotted key\"}\n");
    assert_eq!(summary["dirty"], 0);
}

#[test]
fn the_output_extension_chooses_the_format_unless_one_is_given() {
    let server = TestServer::start(vec![Exchange::json("/x", r#"[{"id": 1, "s": "a"}]"#)]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/x\"\n", server.url()),
    );
    let job = path_str(&job);
    for (name, check) in [
        ("out.csv", "id,s\n1,a\n"),
        ("out.jsonl", "{\"id\":1,\"s\":\"a\"}\n"),
        ("out.txt", "{\"id\":1,\"s\":\"a\"}\n"),
    ] {
        let out = dir.path(name);
        let run = hydrant(&["run", job, "-o", path_str(&out), "--quiet"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(dir.read(name), check, "{name}");
    }
    let out = dir.path("out.parquet");
    let run = hydrant(&["run", job, "-o", path_str(&out), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        (&bytes[..4], &bytes[bytes.len() - 4..]),
        (&b"PAR1"[..], &b"PAR1"[..])
    );

    // An explicit format wins, with a warning.
    let out = dir.path("given.csv");
    let run = hydrant(&["run", job, "-o", path_str(&out), "--format", "ndjson"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dir.read("given.csv"), "{\"id\":1,\"s\":\"a\"}\n");
    assert!(
        run.stderr
            .contains("is written as ndjson, though its extension says csv"),
        "{}",
        run.stderr
    );

    // So does the job file's, and its own path's extension counts too.
    let job = dir.write(
        "job2.toml",
        &format!(
            "[request]\nurl = \"{}/x\"\n[output]\npath = \"{}\"\n",
            server.url(),
            path_str(&dir.path("from-job.csv"))
        ),
    );
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dir.read("from-job.csv"), "id,s\n1,a\n");
}

#[test]
fn dirty_records_are_logged_and_counted_by_reason() {
    let page = |from: u32| {
        let records: Vec<String> = (from..from + 4)
            .map(|i| format!("{{\"id\":{i},\"n\":\"x{i}\"}}"))
            .collect();
        format!("[{},{{\"n\":1}}]", records.join(","))
    };
    let server = TestServer::start(vec![
        Exchange::json("/d?page=1", page(0)),
        Exchange::json("/d?page=2", page(4)),
        Exchange::json("/d?page=3", "[]"),
    ]);
    let rest = "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n[records]\non_missing = \"dirty\"\nmax_dirty = 20\n[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"n\"\ntype = \"long\"\n";
    let (run, summary) = run_job(&server.url(), "/d", rest, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(summary["dirty"], 10, "{summary}");
    assert_eq!(
        summary["dirty_reasons"],
        serde_json::json!({"column `id`: missing": 2, "column `n`: bad type (long)": 8})
    );
    let logged: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("dirty record "))
        .collect();
    assert_eq!(logged.len(), 5, "{}", run.stderr);
    assert!(
        logged[0].contains(&format!(
            "dirty record 0 of the page from {}/d?page=1 left out: column `n` (long)",
            server.url()
        )),
        "{}",
        logged[0]
    );
    assert!(
        logged[4].contains("dirty record 4 of the page from"),
        "{}",
        logged[4]
    );
    assert!(
        logged[4].contains("/d?page=1 left out: column `id`: no value"),
        "{}",
        logged[4]
    );
    assert!(
        run.stderr
            .contains("further dirty records are counted in the summary")
    );
}

#[test]
fn a_number_too_small_for_a_double_is_never_read_as_zero() {
    let page = r#"[{"d": 1e-400, "s": -2.5E-999, "j": 1e-400, "ok": 2.5e-3, "day": "2024-03-01T12:00:00Z"}]"#;
    let server = TestServer::start(vec![Exchange::json("/n", page)]);
    let columns = "[records]\non_bad_type = \"null\"\n[[columns]]\nname = \"d\"\ntype = \"double\"\n[[columns]]\nname = \"s\"\n[[columns]]\nname = \"j\"\ntype = \"json\"\n[[columns]]\nname = \"ok\"\ntype = \"double\"\n[[columns]]\nname = \"day\"\ntype = \"date\"\n";
    // A double is written as the API spelled it.
    let expected = "{\"d\":null,\"s\":\"-2.5E-999\",\"j\":1e-400,\"ok\":2.5e-3,\"day\":null}\n";
    // Plain paths walk the structural index; a JSONPath filter column
    // makes the page a tree.
    let tree =
        format!("{columns}[[columns]]\nname = \"f\"\npath = \"$[?@ == 0]\"\ntype = \"json\"\n");
    for (rest, expected) in [
        (columns.to_owned(), expected.to_owned()),
        (tree, expected.replace('}', ",\"f\":null}")),
    ] {
        let (run, _) = run_job(&server.url(), "/n", &rest, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, expected);
    }
    // As a double it is a bad type, named.
    let (run, summary) = run_job(
        &server.url(),
        "/n",
        "[[columns]]\nname = \"d\"\ntype = \"double\"\n",
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("column `d` (double): 1e-400 is out of range"),
        "{}",
        run.stderr
    );
    assert!(summary.is_object());
    // Inferred columns keep it as it came in NDJSON, and its text in CSV.
    let (run, _) = run_job(&server.url(), "/n", "", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"d\":1e-400,"), "{}", run.stdout);
    let (run, _) = run_job_with(&server.url(), "/n", "", &["--format", "csv"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("d,s,j,ok,day\n1e-400,"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_records_path_that_matches_nothing_is_warned_about_once_and_counted() {
    let server = TestServer::start(vec![
        Exchange::json("/p?page=1", r#"{"items": [{"id": 1}]}"#),
        Exchange::json("/p?page=2", r#"{"items": []}"#),
    ]);
    let paged = "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n";
    for (path, warned) in [("data", true), ("items", false)] {
        let rest = format!("{paged}[records]\npath = \"{path}\"\n");
        for columns in ["", "[[columns]]\nname = \"id\"\ntype = \"long\"\n"] {
            let (run, summary) = run_job(&server.url(), "/p", &format!("{rest}{columns}"), &[]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            let says = format!(
                "records.path `data` matches nothing in the response from {}/p?page=1",
                server.url()
            );
            // Logged once, and not said again under the summary.
            let told = run.stderr.matches(&says).count();
            assert_eq!(told, usize::from(warned), "{}", run.stderr);
            let warnings = summary["warnings"].as_array().unwrap();
            assert_eq!(warnings.len(), usize::from(warned), "{summary}");
        }
    }
    // Followed pages are made on worker threads.
    let followed = TestServer::start(vec![
        Exchange::json("/n", r#"{"items": [{"id": 1}], "next": "/n2"}"#),
        Exchange::json("/n2", r#"{"next": null}"#),
    ]);
    let rest = "[paginate]\ntype = \"next_link\"\nfrom = \"$.next\"\n[records]\npath = \"items\"\n[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    let (run, summary) = run_job(&followed.url(), "/n", rest, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n");
    assert_eq!(
        summary["warnings"].as_array().unwrap().len(),
        1,
        "{summary}"
    );
    assert!(
        summary["warnings"][0].as_str().unwrap().contains("/n2"),
        "{summary}"
    );
    // Each response misses a wrong path: the first is named, and the end
    // of the run counts them all.
    let wrong = rest.replace("path = \"items\"", "path = \"data\"");
    let (run, summary) = run_job(&followed.url(), "/n", &wrong, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let warnings = summary["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{summary}");
    assert!(warnings[0].as_str().unwrap().contains("/n:"), "{summary}");
    assert_eq!(
        warnings[1],
        "records.path `data` matched nothing in 2 responses in all, the first named above: \
         no records were taken from any of them",
        "{summary}"
    );

    // `check` says it too.
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/p?page=1\"\n[records]\npath = \"data\"\n",
            server.url()
        ),
    );
    let run = hydrant(&["check", path_str(&job)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("records: 0 on the first page\nwarning: records.path `data` matches nothing"),
        "{}",
        run.stdout
    );
}

/// Pages of `{"data": [...]}` at `/i?page=N`, then an empty one.
fn paged(pages: &[&str]) -> TestServer {
    let mut exchanges: Vec<Exchange> = pages
        .iter()
        .enumerate()
        .map(|(i, records)| {
            Exchange::json(
                &format!("/i?page={}", i + 1),
                format!("{{\"data\":{records}}}"),
            )
        })
        .collect();
    exchanges.push(Exchange::json(
        &format!("/i?page={}", pages.len() + 1),
        "{\"data\":[]}",
    ));
    TestServer::start(exchanges)
}

const PAGED: &str =
    "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n[records]\npath = \"data\"\n";

/// A double is written as the API spelled it, on the first page and the
/// next, in NDJSON and CSV, declared or inferred: its digits past the
/// shortest that read back, its trailing zeros, its exponent. A whole
/// number in a `double` column is written as one, a numeric string as
/// its double's shortest text.
#[test]
fn a_double_is_written_as_the_api_spelled_it() {
    let page = |first: u32| {
        format!(
            r#"[{{"id": {first}, "score": 0.25256176265814412, "amount": 2213.80, "big": 1.5E300, "whole": 5.5, "text": "7"}}, {{"id": {}, "score": -0.0, "amount": 0.10, "big": 2e-5, "whole": 5, "text": "2.50"}}]"#,
            first + 1
        )
    };
    let server = paged(&[&page(1), &page(3)]);
    let columns: String = ["id", "score", "amount", "big", "whole", "text"]
        .iter()
        .map(|name| {
            let kind = if *name == "id" { "long" } else { "double" };
            format!("[[columns]]\nname = \"{name}\"\ntype = \"{kind}\"\n")
        })
        .collect();
    let declared = format!("{PAGED}{columns}");
    let ndjson = |first: u32| {
        format!(
            "{{\"id\":{first},\"score\":0.25256176265814412,\"amount\":2213.80,\"big\":1.5E300,\"whole\":5.5,\"text\":7.0}}\n\
             {{\"id\":{},\"score\":-0.0,\"amount\":0.10,\"big\":2e-5,\"whole\":5.0,\"text\":2.5}}\n",
            first + 1
        )
    };
    let (run, _) = run_job(&server.url(), "/i", &declared, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, ndjson(1) + &ndjson(3));
    let (run, _) = run_job_with(&server.url(), "/i", &declared, &["--format", "csv"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "id,score,amount,big,whole,text\n\
         1,0.25256176265814412,2213.80,1.5E300,5.5,7.0\n\
         2,-0.0,0.10,2e-5,5.0,2.5\n\
         3,0.25256176265814412,2213.80,1.5E300,5.5,7.0\n\
         4,-0.0,0.10,2e-5,5.0,2.5\n"
    );
    // Inferred: `whole` is a double, `text` a string.
    let (run, _) = run_job(&server.url(), "/i", PAGED, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let inferred = |first| {
        ndjson(first)
            .replace("\"text\":7.0", "\"text\":\"7\"")
            .replace("\"text\":2.5", "\"text\":\"2.50\"")
    };
    assert_eq!(run.stdout, inferred(1) + &inferred(3));
}

/// Two columns may read one path (a time and its text, DataWorks
/// columns naming one field twice): each gets the value, in every
/// format, on pages read by the shaped reader as on the first.
#[test]
fn a_path_read_by_two_columns_fills_both() {
    let page = |first: u32| {
        let records: Vec<String> = (first..first + 3)
            .map(|id| format!(r#"{{"id":{id},"at":"2024-03-0{id}T12:00:00Z","n":{id}}}"#))
            .collect();
        format!("[{}]", records.join(","))
    };
    let server = paged(&[&page(1), &page(4)]);
    let columns = "[[columns]]\nname = \"at\"\ntype = \"timestamp\"\n\
                   [[columns]]\nname = \"at_text\"\npath = \"at\"\n\
                   [[columns]]\nname = \"id\"\ntype = \"long\"\n\
                   [[columns]]\nname = \"id_again\"\npath = \"id\"\ntype = \"long\"\n";
    let job = format!("{PAGED}{columns}");
    let line = |id: u32| {
        format!(
            "{{\"at\":\"2024-03-0{id}T12:00:00Z\",\"at_text\":\"2024-03-0{id}T12:00:00Z\",\"id\":{id},\"id_again\":{id}}}\n"
        )
    };
    let (run, summary) = run_job(&server.url(), "/i", &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, (1..=6).map(line).collect::<String>());
    assert!(!run.stderr.contains("none of the"), "{}", run.stderr);
    assert_eq!(summary["records"], 6);
    let (run, _) = run_job_with(&server.url(), "/i", &job, &["--format", "csv"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let csv: String = (1..=6)
        .map(|id| format!("2024-03-0{id}T12:00:00Z,2024-03-0{id}T12:00:00Z,{id},{id}\n"))
        .collect();
    assert_eq!(run.stdout, format!("at,at_text,id,id_again\n{csv}"));
}

#[test]
fn an_object_that_is_null_is_its_fields_not_a_column_of_its_own() {
    // As GitHub's issues give `assignee`: null, or an object; and as
    // PHP's json_encode gives an empty one: `[]`.
    let server = paged(&[
        r#"[{"number": 1, "assignee": null}, {"number": 2, "assignee": {"login": "ann", "id": 7}}]"#,
        r#"[{"number": 3, "assignee": {}}, {"number": 4, "assignee": {"login": "bo", "id": 8}}]"#,
        r#"[{"number": 5, "assignee": []}]"#,
    ]);
    let (run, summary) = run_job_with(&server.url(), "/i", PAGED, &["--format", "csv"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "number,assignee_login,assignee_id\n1,,\n2,ann,7\n3,,\n4,bo,8\n5,,\n"
    );
    assert!(summary.get("unseen_fields").is_none(), "{summary}");
    // NDJSON, whose columns grow page by page, the same.
    let (run, _) = run_job(&server.url(), "/i", PAGED, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        concat!(
            "{\"number\":1,\"assignee_login\":null,\"assignee_id\":null}\n",
            "{\"number\":2,\"assignee_login\":\"ann\",\"assignee_id\":7}\n",
            "{\"number\":3,\"assignee_login\":null,\"assignee_id\":null}\n",
            "{\"number\":4,\"assignee_login\":\"bo\",\"assignee_id\":8}\n",
            "{\"number\":5,\"assignee_login\":null,\"assignee_id\":null}\n",
        )
    );
}

#[test]
fn an_object_keyed_by_data_is_one_json_column() {
    // Views by day: the keys are dates, three a record, none shared. As
    // columns they would grow without end, each record a null in all
    // but three.
    let day = |k: usize| format!("2024-{:02}-{:02}", k / 28 + 1, k % 28 + 1);
    let page = |records: std::ops::Range<usize>| {
        let records: Vec<String> = records
            .map(|r| {
                let views: Vec<String> = (0..3)
                    .map(|n| format!("\"{}\": {n}", day(r * 3 + n)))
                    .collect();
                format!("{{\"id\": {r}, \"views\": {{{}}}}}", views.join(", "))
            })
            .collect();
        format!("[{}]", records.join(", "))
    };
    let pages = [page(0..40), page(40..45)];
    let server = paged(&[&pages[0], &pages[1]]);
    let views = |r: usize| {
        (0..3)
            .map(|n| format!("\"{}\":{n}", day(r * 3 + n)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (run, summary) = run_job(&server.url(), "/i", PAGED, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: String = (0..45)
        .map(|r| format!("{{\"id\":{r},\"views\":{{{}}}}}\n", views(r)))
        .collect();
    assert_eq!(run.stdout, expected);
    assert!(summary.get("unseen_fields").is_none(), "{summary}");
    // CSV fixes its columns on the first page: later keys are not lost.
    let (run, summary) = run_job_with(&server.url(), "/i", PAGED, &["--format", "csv"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 46);
    assert_eq!(lines[0], "id,views");
    assert_eq!(
        lines[45],
        format!("44,\"{{{}}}\"", views(44).replace('"', "\"\""))
    );
    assert!(summary.get("unseen_fields").is_none(), "{summary}");
}

#[test]
fn inferred_ndjson_columns_grow_with_every_page() {
    let server = paged(&[
        r#"[{"id": 1, "n": null}]"#,
        r#"[{"id": 2, "n": 7, "extra": {"deep": "x"}}]"#,
        r#"[{"id": 2.5, "at": "2024-03-01T12:00:00+01:00"}]"#,
    ]);
    let (run, summary) = run_job(&server.url(), "/i", PAGED, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        concat!(
            "{\"id\":1,\"n\":null}\n",
            "{\"id\":2,\"n\":7,\"extra_deep\":\"x\"}\n",
            "{\"id\":2.5,\"n\":null,\"extra_deep\":null,\"at\":\"2024-03-01T11:00:00Z\"}\n",
        )
    );
    assert_eq!(summary["records"], 3);
    assert_eq!(summary["dirty"], 0);
    assert!(summary.get("unseen_fields").is_none(), "{summary}");
}

#[test]
fn records_that_mix_objects_and_values_write_each_once() {
    // An array of records where some are objects and some are not: the
    // objects' fields have columns, the other records go to `value`.
    let server = paged(&[
        r#"[{"id": 1, "tag": "x"}, 5, "s", {"id": 2, "tag": "y"}, [1, 2], {}]"#,
        r#"[{"id": 3, "tag": "z", "extra": true}, 7]"#,
    ]);
    let (run, summary) = run_job(&server.url(), "/i", PAGED, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        concat!(
            "{\"id\":1,\"tag\":\"x\",\"value\":null}\n",
            "{\"id\":null,\"tag\":null,\"value\":5}\n",
            "{\"id\":null,\"tag\":null,\"value\":\"s\"}\n",
            "{\"id\":2,\"tag\":\"y\",\"value\":null}\n",
            "{\"id\":null,\"tag\":null,\"value\":[1,2]}\n",
            "{\"id\":null,\"tag\":null,\"value\":null}\n",
            "{\"id\":3,\"tag\":\"z\",\"value\":null,\"extra\":true}\n",
            "{\"id\":null,\"tag\":null,\"value\":7,\"extra\":null}\n",
        )
    );
    assert_eq!(summary["records"], 8);
    // CSV fixes the columns on the first page: a later object's new field
    // is counted as unseen, not written whole in `value` beside its
    // other fields.
    let (run, summary) = run_job_with(&server.url(), "/i", PAGED, &["--format", "csv"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "id,tag,value\n1,x,\n,,5\n,,s\n2,y,\n,,\"[1,2]\"\n,,\n3,z,\n,,7\n"
    );
    assert_eq!(summary["unseen_fields"], serde_json::json!({"extra": 1}));
    // `hydrant schema` says what its `$` column holds, which declared
    // would be every record.
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &job_text(&server, "/i?page=1", "[records]\npath = \"data\"\n"),
    );
    let schema = hydrant(&["schema", path_str(&job)]);
    assert_eq!(schema.code, 0, "{}", schema.stderr);
    assert!(
        schema.stdout.ends_with(
            "# the records that are not objects; declared, `$` holds every record whole\n\
             [[columns]]\nname = \"value\"\npath = \"$\"\ntype = \"json\"\n"
        ),
        "{}",
        schema.stdout
    );
    // Records that are all values, then an object: no field has a column,
    // so the object is written whole.
    let server = paged(&[r#"[5, "s"]"#, r#"[{"id": 3}]"#]);
    let (run, summary) = run_job_with(&server.url(), "/i", PAGED, &["--format", "csv"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "value\n5\ns\n\"{\"\"id\"\":3}\"\n");
    assert!(summary.get("unseen_fields").is_none(), "{summary}");
}

#[test]
fn inferred_ndjson_keeps_each_value_of_a_mixed_field_as_it_came() {
    // As custom fields come from Jira or HubSpot: a value that is a
    // string, a list, a number or a flag, by field and by record.
    let server = paged(&[
        r#"[{"id": 1, "value": "red", "meta": {"by": "ann"}, "code": 12345}]"#,
        r#"[{"id": 2, "value": ["red", "blue"], "meta": "system", "code": "A-7"},
            {"id": 3, "value": 5, "meta": null, "code": 12345678901234567890}]"#,
        r#"[{"id": 4, "value": true, "meta": {"by": "cy"}, "code": 8}]"#,
    ]);
    let expected = concat!(
        "{\"id\":1,\"value\":\"red\",\"meta_by\":\"ann\",\"code\":12345}\n",
        "{\"id\":2,\"value\":[\"red\",\"blue\"],\"meta\":\"system\",\"code\":\"A-7\"}\n",
        "{\"id\":3,\"value\":5,\"meta\":null,\"code\":12345678901234567890}\n",
        "{\"id\":4,\"value\":true,\"meta\":{\"by\":\"cy\"},\"code\":8}\n",
    );
    let (run, summary) = run_job(&server.url(), "/i", PAGED, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, expected);
    assert_eq!(summary["records"], 4);
    assert_eq!(summary["dirty"], 0);
    // Pages made at once, from the columns of the first, are told from
    // the values that do not fit them, and made again.
    let at_once = PAGED.replace("concurrency = 1", "concurrency = 4");
    let (run, _) = run_job(&server.url(), "/i", &at_once, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, expected);
}

#[test]
fn whole_numbers_past_2_53_beside_fractions_keep_every_digit() {
    // Twitter-sized ids and amounts in one field: a double would round
    // 9007199254740993 to ...992, so the run failed on a dirty record.
    let server = paged(&[
        r#"[{"id": 1, "n": 1}]"#,
        r#"[{"id": 2, "n": 9007199254740993}]"#,
        r#"[{"id": 3, "n": 2.5}, {"id": 4, "n": -9007199254740995}]"#,
        r#"[{"id": 5, "n": 0.125}]"#,
    ]);
    let ndjson = concat!(
        "{\"id\":1,\"n\":1}\n",
        "{\"id\":2,\"n\":9007199254740993}\n",
        "{\"id\":3,\"n\":2.5}\n",
        "{\"id\":4,\"n\":-9007199254740995}\n",
        "{\"id\":5,\"n\":0.125}\n",
    );
    let csv = "id,n\n1,1\n2,9007199254740993\n3,2.5\n4,-9007199254740995\n5,0.125\n";
    for concurrency in ["concurrency = 1", "concurrency = 4"] {
        let rest = PAGED.replace("concurrency = 1", concurrency);
        for (format, expected) in [("ndjson", ndjson), ("csv", csv)] {
            let (run, summary) =
                run_job_with(&server.url(), "/i", &rest, &["--format", format], &[]);
            assert_eq!(run.code, 0, "{format}, {concurrency}: {}", run.stderr);
            assert_eq!(run.stdout, expected, "{format}, {concurrency}");
            assert_eq!(summary["dirty"], 0, "{format}: {summary}");
        }
    }
}

#[test]
fn csv_writes_an_object_whole_where_its_column_holds_values() {
    let server = paged(&[
        r#"[{"id": 1, "n": 1, "s": "a"}]"#,
        r#"[{"id": 2, "n": {"k": 2}, "s": {"t": [3]}}]"#,
    ]);
    let (run, summary) = run_job_with(&server.url(), "/i", PAGED, &["--format", "csv"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "id,n,s\n1,1,a\n2,\"{\"\"k\"\":2}\",\"{\"\"t\"\":[3]}\"\n"
    );
    assert!(summary.get("unseen_fields").is_none(), "{summary}");
    assert!(!run.stderr.contains("left out"), "{}", run.stderr);
}

#[test]
fn inferred_csv_and_parquet_columns_are_sampled_then_fixed() {
    let pages = [
        r#"[{"id": 1}]"#,
        r#"[{"id": 2, "b": true}]"#,
        r#"[{"id": 3, "c": 1}, {"id": 4, "c": 2, "d": null}]"#,
        r#"[{"id": "x"}]"#,
    ];
    let server = paged(&pages);
    let dir = Dir::new();
    let out = dir.path("out.csv");
    let rest = format!("{PAGED}infer_pages = 2\n");
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/i\"\n{rest}", server.url()),
    );
    let summary_path = dir.path("summary.json");
    let run = hydrant(&[
        "run",
        path_str(&job),
        "-o",
        path_str(&out),
        "--summary-json",
        path_str(&summary_path),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // `b` came on page 2, within the sample; `id` widens to text in CSV.
    assert_eq!(dir.read("out.csv"), "id,b\n1,\n2,true\n3,\n4,\nx,\n");
    let summary: serde_json::Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(
        summary["unseen_fields"],
        serde_json::json!({"c": 2, "d": 1})
    );
    assert_eq!(
        summary["warnings"].as_array().unwrap().len(),
        1,
        "{summary}"
    );
    assert_eq!(
        run.stderr
            .matches("fields outside the inferred columns (c, d)")
            .count(),
        1,
        "logged once, and not said again under the summary: {}",
        run.stderr
    );

    // Parquet cannot widen: the record is dirty, with its reason.
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/i\"\n{rest}max_dirty = 1\n",
            server.url()
        ),
    );
    let run = hydrant(&[
        "run",
        path_str(&job),
        "-o",
        path_str(&dir.path("out.parquet")),
        "--summary-json",
        path_str(&summary_path),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary: serde_json::Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(summary["records"], 4, "{summary}");
    assert_eq!(
        summary["dirty_reasons"],
        serde_json::json!({"column `id`: bad type (long)": 1})
    );
    // Without room for it, the run fails and says how to pin the type.
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/i\"\n{rest}", server.url()),
    );
    let run = hydrant(&[
        "run",
        path_str(&job),
        "-o",
        path_str(&dir.path("out.parquet")),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "column `id` (long): \"x\" is not an integer); the columns were inferred from the first 2 \
             page(s): pin them with the types the values need (`hydrant schema` prints them) or raise \
             records.infer_pages"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn schema_recognises_timestamps_and_dates() {
    let server = TestServer::start(vec![Exchange::json(
        "/s",
        r#"[{"at": "2024-03-01T12:00:00.250Z", "day": "2024-03-01", "text": "2024-03-01 noon", "n": null}]"#,
    )]);
    let dir = Dir::new();
    // A field seen only as null is what the run makes it: `json` in
    // NDJSON, which writes later values as they come, `string` in CSV,
    // whose columns are fixed.
    for (output, null_only) in [("", "json"), ("[output]\nformat = \"csv\"\n", "string")] {
        let job = dir.write(
            "job.toml",
            &format!("[request]\nurl = \"{}/s\"\n{output}", server.url()),
        );
        let run = hydrant(&["schema", path_str(&job)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let types: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("type"))
            .collect();
        let null_only = format!("type = \"{null_only}\"");
        assert_eq!(
            types,
            [
                "type = \"timestamp\"",
                "type = \"date\"",
                "type = \"string\"",
                null_only.as_str()
            ],
            "{}",
            run.stdout
        );
    }
}

/// The columns `hydrant schema` prints, pasted into the job, read what
/// the inferred run read: keys with dots (OData's `@odata.etag`) get a
/// JSONPath that names the key, not a dotted path through it.
#[test]
fn schema_columns_read_what_inference_read() {
    // With fields of mixed kinds, which NDJSON writes as they came.
    let server = TestServer::start(vec![Exchange::json(
        "/g",
        r#"{"value": [{"@odata.etag": "W/1", "id": "u1", "a.b": 5, "a": {"b": 6}, "x": {"y.z": 7}, "m": 5, "o": 1},
                      {"m": "x", "o": {"k": [2]}}]}"#,
    )]);
    let dir = Dir::new();
    let base = format!(
        "[request]\nurl = \"{}/g\"\n[records]\npath = \"value\"\n",
        server.url()
    );
    let job = dir.write("job.toml", &base);
    let inferred = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(inferred.code, 0, "{}", inferred.stderr);
    assert_eq!(
        inferred.stdout,
        concat!(
            r#"{"@odata.etag":"W/1","id":"u1","a.b":5,"a_b":6,"x_y.z":7,"m":5,"o":1}"#,
            "\n",
            r#"{"@odata.etag":null,"id":null,"a.b":null,"a_b":null,"x_y.z":null,"m":"x","o":{"k":[2]}}"#,
            "\n",
        )
    );
    let schema = hydrant(&["schema", path_str(&job)]);
    assert_eq!(schema.code, 0, "{}", schema.stderr);
    assert!(
        schema.stdout.contains(r#"path = "$['@odata.etag']""#),
        "{}",
        schema.stdout
    );
    let declared = dir.write("declared.toml", &format!("{base}{}", schema.stdout));
    let run = hydrant(&["run", path_str(&declared), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, inferred.stdout);
}

/// A first page without records (a fan-out value with nothing) shows no
/// columns: CSV and Parquet sample on until a page has records, rather
/// than fixing no columns and leaving every later field out.
#[test]
fn pages_without_records_do_not_fix_the_columns() {
    let server = TestServer::start_fn(|seen| {
        let body = match seen.target.rsplit('=').next().unwrap_or_default() {
            "a" => "{\"data\": []}".to_owned(),
            v => format!("{{\"data\": [{{\"id\": 1, \"v\": \"{v}\"}}]}}"),
        };
        crate::util::json(200, body)
    });
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/f\"\n[records]\npath = \"data\"\n\
             [fanout]\nparam = \"v\"\nvalues = [\"a\", \"b\", \"c\"]\n",
            server.url()
        ),
    );
    let csv = hydrant(&["run", path_str(&job), "--format", "csv", "--quiet"]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    assert_eq!(csv.stdout, "id,v\n1,b\n1,c\n");
    let out = dir.path("out.parquet");
    let parquet = hydrant(&["run", path_str(&job), "-o", path_str(&out), "--quiet"]);
    assert_eq!(parquet.code, 0, "{}", parquet.stderr);
    let file = std::fs::File::open(&out).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    let metadata = reader.metadata();
    assert_eq!(metadata.file_metadata().num_rows(), 2);
    let names: Vec<&str> = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(names, ["id", "v"]);
}

/// Random records of every JSON kind, nested and mixed field by field,
/// from a fixed seed: xorshift, so the cases are the same on every run.
struct Records(u64);

impl Records {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn scalar(&mut self) -> serde_json::Value {
        use serde_json::json;
        match self.below(10) {
            0 | 1 => json!(self.below(2001) as i64 - 1000),
            2 => {
                [json!(1.5), json!(-2.25), json!(1e20), json!(0.1)][self.below(4) as usize].clone()
            }
            3 | 4 => json!(["x", "yy", "5", "true", "", "é✓"][self.below(6) as usize]),
            5 => json!(self.below(2) == 0),
            6 => serde_json::Value::Null,
            7 => [json!([]), json!([1, "a"]), json!([{"k": 1}])][self.below(3) as usize].clone(),
            8 => json!({}),
            _ => json!(10_000_000_000_000_000_000u64 + self.below(1 << 40)),
        }
    }

    fn value(&mut self, depth: u32) -> serde_json::Value {
        if depth < 3 && self.below(10) < 4 {
            self.object(depth + 1, 3)
        } else {
            self.scalar()
        }
    }

    /// Up to six pages of up to eight records, as the server sends them,
    /// and the records they hold.
    fn pages(&mut self) -> (Vec<String>, Vec<serde_json::Value>) {
        let mut sent = Vec::new();
        let pages = (0..1 + self.below(6))
            .map(|_| {
                let page: Vec<serde_json::Value> =
                    (0..1 + self.below(8)).map(|_| self.object(0, 5)).collect();
                let text = serde_json::to_string(&page).unwrap();
                sent.extend(page);
                text
            })
            .collect();
        (pages, sent)
    }

    fn object(&mut self, depth: u32, keys: u64) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        for key in ["a", "b", "c", "d", "e"].iter().take(keys as usize) {
            if self.below(3) > 0 {
                object.insert(key.to_string(), self.value(depth));
            }
        }
        serde_json::Value::Object(object)
    }
}

/// Every value of `record` that is not null, with the keys to it
/// (objects with members are walked, all else is a value).
fn values<'r>(
    record: &'r serde_json::Value,
    keys: &mut Vec<&'r str>,
    out: &mut Vec<(Vec<&'r str>, &'r serde_json::Value)>,
) {
    match record {
        serde_json::Value::Object(members) if !members.is_empty() => {
            for (key, value) in members {
                keys.push(key);
                values(value, keys, out);
                keys.pop();
            }
        }
        // A record with no member has every column null.
        _ if keys.is_empty() => {}
        serde_json::Value::Null => {}
        value => out.push((keys.clone(), value)),
    }
}

/// Whether two values are equal, a whole number in a `double` column
/// (`-312.0`) equal to its value (`-312`).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) if x.is_f64() || y.is_f64() => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[test]
fn inferred_ndjson_holds_each_value_of_random_records_once() {
    for seed in 1..=40u64 {
        let (pages, sent) = Records(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).pages();
        let server = paged(&pages.iter().map(String::as_str).collect::<Vec<_>>());
        for concurrency in ["1", "4"] {
            let job = PAGED.replace("concurrency = 1", &format!("concurrency = {concurrency}"));
            let (run, summary) = run_job(&server.url(), "/i", &job, &[]);
            assert_eq!(run.code, 0, "seed {seed}: {}", run.stderr);
            assert_eq!(summary["dirty"], 0, "seed {seed}");
            let lines: Vec<serde_json::Value> = run
                .stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len(), sent.len(), "seed {seed}");
            for (record, line) in sent.iter().zip(&lines) {
                let mut found = Vec::new();
                values(record, &mut Vec::new(), &mut found);
                for (keys, value) in found {
                    // The value is in the column of its keys flattened,
                    // or within the column of some keys above it, once.
                    let held: Vec<&serde_json::Value> = (1..=keys.len())
                        .filter_map(|n| {
                            let column = line.get(keys[..n].join("_"))?;
                            keys[n..].iter().try_fold(column, |v, k| v.get(k))
                        })
                        .filter(|v| !v.is_null())
                        .collect();
                    let empty = value == &serde_json::json!([]) || value == &serde_json::json!({});
                    let fields = format!("{}_", keys.join("_"));
                    if empty && held.is_empty() {
                        // `[]` or `{}` where objects have members: an
                        // object whose fields are missing.
                        let columns = line.as_object().unwrap().keys();
                        assert!(
                            columns.into_iter().any(|c| c.starts_with(&fields)),
                            "seed {seed}: {keys:?} {value} in {record} gave {line}"
                        );
                        continue;
                    }
                    assert!(
                        held.len() == 1 && same(held[0], value),
                        "seed {seed}, {concurrency} at once: {keys:?} in {record} gave {line}"
                    );
                }
            }
        }
    }
}

/// Whether `value`, at `keys` in a record, is in the row: in the column
/// of its keys flattened (`cell` gives a column's cell where not null,
/// `holds` tells whether it holds the value), or within the JSON text of
/// a column above it. Or whether it is accounted for: `[]` or `{}` where
/// the object's fields are columns, or a field counted unseen.
fn written_or_counted<'c>(
    keys: &[&str],
    value: &serde_json::Value,
    header: &[String],
    unseen: &serde_json::Map<String, serde_json::Value>,
    cell: impl Fn(&str) -> Option<&'c str>,
    holds: fn(&str, &serde_json::Value) -> bool,
) -> bool {
    let written = (1..=keys.len()).any(|n| {
        let Some(text) = cell(&keys[..n].join("_")) else {
            return false;
        };
        if n == keys.len() {
            return holds(text, value);
        }
        // A Parquet cell names its type after its text.
        let text = text.strip_suffix(" Utf8").unwrap_or(text);
        let column: serde_json::Value =
            serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
        keys[n..]
            .iter()
            .try_fold(&column, |v, k| v.get(k))
            .is_some_and(|v| same(v, value))
    });
    let fields = format!("{}_", keys.join("_"));
    let missing_object = (value == &serde_json::json!([]) || value == &serde_json::json!({}))
        && header.iter().any(|h| h.starts_with(&fields));
    let counted = (1..=keys.len()).any(|n| unseen.contains_key(&keys[..n].join("_")));
    written || missing_object || counted
}

/// Whether a CSV cell holds `value`: as its text, or as its JSON text in
/// a `json` column (a string with its quotes, an array, an object).
fn cell_holds(cell: &str, value: &serde_json::Value) -> bool {
    let as_json = || serde_json::from_str::<serde_json::Value>(cell).is_ok_and(|v| same(&v, value));
    match value {
        serde_json::Value::Bool(b) => cell == b.to_string(),
        serde_json::Value::Number(n) => cell == n.to_string() || as_json(),
        serde_json::Value::String(s) => cell == s || as_json(),
        _ => as_json(),
    }
}

#[test]
fn inferred_csv_writes_each_value_of_random_records_or_counts_it() {
    for seed in 1..=30u64 {
        let (pages, sent) = Records(seed.wrapping_mul(0xD1B5_4A32_D192_ED03)).pages();
        let server = paged(&pages.iter().map(String::as_str).collect::<Vec<_>>());
        let job = PAGED.replace("concurrency = 1", "concurrency = 4");
        let (run, summary) = run_job_with(&server.url(), "/i", &job, &["--format", "csv"], &[]);
        assert_eq!(run.code, 0, "seed {seed}: {}", run.stderr);
        // CSV widens a column for a value that no longer fits: no record
        // is dirty.
        assert_eq!(summary["dirty"], 0, "seed {seed}");
        let unseen = summary["unseen_fields"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut reader = csv::Reader::from_reader(run.stdout.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), sent.len(), "seed {seed}");
        for (record, row) in sent.iter().zip(&rows) {
            let cell = |name: &str| {
                let at = header.iter().position(|h| h == name)?;
                Some(&row[at]).filter(|c| !c.is_empty())
            };
            let mut found = Vec::new();
            values(record, &mut Vec::new(), &mut found);
            for (keys, value) in found {
                // CSV writes `""` as it writes null.
                let blank = value == &serde_json::json!("");
                let accounted =
                    written_or_counted(&keys, value, &header, &unseen, cell, cell_holds);
                assert!(
                    blank || accounted,
                    "seed {seed}: {keys:?} {value} in {record} is in no column and not counted: {header:?} {row:?} {unseen:?}"
                );
            }
        }
    }
}

/// `value` as JSON text; with `next`, spelled another way that means the
/// same: characters escaped as `\u` or not, `/` as `\/`, white space
/// between tokens, an object's keys in another order.
fn spell(value: &serde_json::Value, next: &mut Option<&mut dyn FnMut(usize) -> usize>) -> String {
    use serde_json::Value;
    let Some(next) = next.as_mut() else {
        // A number as spelled (see [`LITERAL`]) goes out bare.
        let text = serde_json::to_string(value).unwrap();
        // `serde_json` escapes the mark as `\u0001`.
        let mut parts = text.split("\"\\u0001");
        let mut out = parts.next().unwrap_or_default().to_owned();
        for part in parts {
            let (literal, rest) = part.split_once('"').unwrap();
            out.push_str(literal);
            out.push_str(rest);
        }
        return out;
    };
    let space = |next: &mut dyn FnMut(usize) -> usize| ["", " ", "\n", "\t ", "\r\n"][next(5)];
    match value {
        Value::String(text) => match text.strip_prefix(LITERAL) {
            Some(literal) => literal.to_owned(),
            None => respell(text, *next),
        },
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| format!("{}{}", space(*next), spell(item, &mut Some(*next))))
                .collect();
            format!("[{}{}]", items.join(","), space(*next))
        }
        Value::Object(members) => {
            let mut members: Vec<(&String, &Value)> = members.iter().collect();
            for i in (1..members.len()).rev() {
                members.swap(i, next(i + 1));
            }
            let members: Vec<String> = members
                .into_iter()
                .map(|(key, value)| {
                    let key = respell(key, *next);
                    let value = spell(value, &mut Some(*next));
                    format!(
                        "{}{key}{}:{}{value}",
                        space(*next),
                        space(*next),
                        space(*next)
                    )
                })
                .collect();
            format!("{{{}{}}}", members.join(","), space(*next))
        }
        scalar => serde_json::to_string(scalar).unwrap(),
    }
}

/// A JSON string of `text`, each character escaped as `\u` (a surrogate
/// pair past the first plane) or not, at random.
fn respell(text: &str, next: &mut dyn FnMut(usize) -> usize) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        let must = matches!(c, '"' | '\\') || c < ' ';
        if must || next(3) == 0 {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04X}"));
            }
        } else if c == '/' && next(2) == 0 {
            out.push_str("\\/");
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// A cell's text, an object or array in it with its keys sorted: `json`
/// cells hold each value as it came, keys in the order sent.
fn cell_text(text: &str) -> String {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(members) => {
                let mut members: Vec<_> = members.into_iter().collect();
                members.sort_by(|a, b| a.0.cmp(&b.0));
                members.into_iter().map(|(k, v)| (k, sorted(v))).collect()
            }
            serde_json::Value::Array(items) => items.into_iter().map(sorted).collect(),
            other => other,
        }
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
            sorted(value).to_string()
        }
        _ => text.to_owned(),
    }
}

/// Each output's rows, every cell after `id` as [`cell_text`]; Parquet's
/// cells other than text as their Arrow data.
fn rows_after_id(dir: &Dir, format: &str) -> Vec<Vec<String>> {
    let path = dir.path(&format!("out.{format}"));
    match format {
        "ndjson" => dir
            .read("out.ndjson")
            .lines()
            .map(|line| {
                let record: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(line).unwrap();
                let texts = record.values().skip(1).map(|v| cell_text(&v.to_string()));
                record
                    .keys()
                    .skip(1)
                    .cloned()
                    .zip(texts)
                    .map(|(k, v)| k + "=" + &v)
                    .collect()
            })
            .collect(),
        "csv" => {
            let mut reader = csv::Reader::from_path(&path).unwrap();
            reader
                .records()
                .map(|row| row.unwrap().iter().skip(1).map(cell_text).collect())
                .collect()
        }
        _ => {
            use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
            let file = std::fs::File::open(&path).unwrap();
            let batches = ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap();
            let mut rows = Vec::new();
            for batch in batches {
                let batch = batch.unwrap();
                for row in 0..batch.num_rows() {
                    let cells = batch.columns()[1..]
                        .iter()
                        .map(|column| arrow_cell(column, row));
                    rows.push(cells.collect());
                }
            }
            rows
        }
    }
}

/// A Parquet cell as text: its value and type.
fn arrow_cell(column: &arrow_array::ArrayRef, row: usize) -> String {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
    let kind = column.data_type();
    if column.is_null(row) {
        return format!("null {kind}");
    }
    let value = if let Some(text) = column.as_string_opt::<i32>() {
        cell_text(text.value(row))
    } else if let Some(b) = column.as_boolean_opt() {
        b.value(row).to_string()
    } else if let Some(n) = column.as_primitive_opt::<Int64Type>() {
        n.value(row).to_string()
    } else if let Some(n) = column.as_primitive_opt::<Float64Type>() {
        n.value(row).to_string()
    } else if let Some(n) = column.as_primitive_opt::<Date32Type>() {
        n.value(row).to_string()
    } else if let Some(n) = column.as_primitive_opt::<TimestampMicrosecondType>() {
        n.value(row).to_string()
    } else {
        panic!("no reading of a {kind} column")
    };
    format!("{value} {kind}")
}

/// Marks a string in [`any_value`] that is a number literal to send as
/// it is spelled (`1.50`), which a `serde_json` value cannot hold.
const LITERAL: char = '\u{1}';

/// A value of any kind a page holds: the scalars of [`Records`] and
/// timestamps, dates, escapes, 17-digit doubles, numbers at the edges of
/// their types, nested objects and arrays.
fn any_value(next: &mut dyn FnMut(usize) -> usize, depth: u32) -> serde_json::Value {
    use serde_json::json;
    const TEXT: [&str; 16] = [
        "2024-03-01T14:00:00.250+02:00",
        "2024-03-01 12:00:00",
        "2024-03-01T12:00:00Z",
        "1969-12-31T23:59:59.999999Z",
        "2024-02-29",
        "\u{7}\u{1f} tab\t \"q\" back\\ /",
        "line\nbreak\u{2028}",
        "café – naïve façade ✓ 😀",
        "12",
        "-3.5",
        "true",
        "",
        "x",
        "null",
        "2024-13-01",
        "1e3",
    ];
    match next(12) {
        0 | 1 => json!(TEXT[next(TEXT.len())]),
        2 => [
            json!(0.30000000000000004),
            json!(1.7976931348623157e308),
            json!(5e-324),
            json!(-0.0),
            json!(123456.78901234567),
            json!(2.5),
        ][next(6)]
        .clone(),
        3 => [
            json!(9007199254740993u64),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(-1),
            json!(0),
        ][next(5)]
        .clone(),
        4 => json!(next(3) == 0),
        5 => serde_json::Value::Null,
        9 => {
            const SPELLED: [&str; 6] = [
                "1.50",
                "1E+2",
                "-0.0",
                "0.1000000000000000055511151231257827",
                "123456789012345678901234567890.5",
                "2.5e-3",
            ];
            json!(format!("{LITERAL}{}", SPELLED[next(SPELLED.len())]))
        }
        6 => [json!({}), json!([]), json!([1, "a", null, {"k": [2.5]}])][next(3)].clone(),
        7 | 8 if depth < 3 => any_object(next, depth + 1),
        _ => json!(next(2001) as i64 - 1000),
    }
}

/// An object of up to five members of [`any_value`].
fn any_object(next: &mut dyn FnMut(usize) -> usize, depth: u32) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for key in ["a", "b", "c", "d", "e"] {
        if next(3) > 0 {
            object.insert(key.to_owned(), any_value(next, depth));
        }
    }
    serde_json::Value::Object(object)
}

/// The same records sent twice, on the first page and on the second,
/// spelled another way there (escapes, white space, the keys' order):
/// the first page's are read as a tree to infer the columns, the
/// second's by the page scanner. Every format writes each record alike
/// both times, and leaves none dirty or unseen.
#[test]
fn a_record_is_written_alike_on_the_first_page_and_after_it() {
    let mut next = crate::util::below(0x3c6e_f372_fe94_f82b);
    let mut met = std::collections::BTreeSet::new();
    for round in 0..200u64 {
        let sent: Vec<serde_json::Value> = (0..1 + next(6))
            .map(|_| {
                if round % 2 == 0 {
                    Records(round.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1).object(0, 5)
                } else {
                    any_object(&mut next, 0)
                }
            })
            .collect();
        let n = sent.len();
        let page = |start: usize, next: &mut Option<&mut dyn FnMut(usize) -> usize>| {
            let texts: Vec<String> = sent
                .iter()
                .enumerate()
                .map(|(i, record)| {
                    let rest = spell(record, next);
                    let rest = rest[1..].trim_start();
                    let comma = if rest.starts_with('}') { "" } else { "," };
                    format!("{{\"id\":{}{comma}{rest}", start + i)
                })
                .collect();
            texts.join(",")
        };
        let first = page(0, &mut None);
        let mut alt = |below: usize| next(below);
        let second = page(n, &mut Some(&mut alt));
        let server = TestServer::start(vec![
            Exchange::json(
                "/i?page=1",
                format!("{{\"data\":[{first}],\"next\":\"/i?page=2\"}}"),
            ),
            Exchange::json(
                "/i?page=2",
                format!("{{\"data\":[{second}],\"next\":null}}"),
            ),
        ]);
        for format in ["ndjson", "csv", "parquet"] {
            let dir = Dir::new();
            let out = dir.path(&format!("out.{format}"));
            let job =
                "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[records]\npath = \"data\"\n";
            let (run, summary) = run_job_with(
                &server.url(),
                "/i?page=1",
                job,
                &["-o", path_str(&out)],
                &[],
            );
            assert_eq!(run.code, 0, "round {round}, {format}: {}", run.stderr);
            let told = format!("round {round}, {format}: {first}\n{second}\n{summary}");
            assert_eq!(summary["records"], 2 * n, "{told}");
            assert!(summary.get("unseen_fields").is_none(), "{told}");
            let rows = rows_after_id(&dir, format);
            assert_eq!(rows.len(), 2 * n, "{told}");
            for i in 0..n {
                assert_eq!(rows[i], rows[n + i], "record {i}, {told}");
            }
            if format == "parquet" {
                for cell in rows.iter().flatten() {
                    met.insert(cell.rsplit(' ').next().unwrap().to_owned());
                }
            }
        }
    }
    // The rounds wrote a cell of every type inference gives.
    let types = ["\"UTC\")", "Boolean", "Date32", "Float64", "Int64", "Utf8"];
    assert_eq!(met.into_iter().collect::<Vec<_>>(), types);
}

/// Whether a Parquet cell (as [`arrow_cell`] gives it) holds `value`:
/// text as a CSV cell would; a number, or a string of one, in a number
/// column; a boolean, or `"true"` and `"false"`, in a boolean column.
fn parquet_holds(cell: &str, value: &serde_json::Value) -> bool {
    let (text, kind) = cell.rsplit_once(' ').unwrap();
    let number = match value {
        serde_json::Value::String(s) => s.parse::<f64>().ok(),
        other => other.as_f64(),
    };
    match kind {
        "Utf8" => cell_holds(text, value),
        "Int64" => {
            value.as_i64().map(|v| v.to_string()).as_deref() == Some(text)
                || value.as_str() == Some(text)
        }
        "Float64" => number.is_some_and(|n| Some(n) == text.parse().ok()),
        "Boolean" => match value {
            serde_json::Value::Bool(b) => text == b.to_string(),
            serde_json::Value::String(s) => s == text,
            _ => false,
        },
        _ => false,
    }
}

#[test]
fn inferred_parquet_writes_each_value_of_random_records_or_counts_it() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    for seed in 1..=30u64 {
        let (pages, sent) = Records(seed.wrapping_mul(0xA24B_AED4_963E_E407)).pages();
        let server = paged(&pages.iter().map(String::as_str).collect::<Vec<_>>());
        let dir = Dir::new();
        let out = dir.path("out.parquet");
        let dirty = dir.path("dirty.ndjson");
        let job = PAGED.replace("concurrency = 1", "concurrency = 4")
            + &format!("max_dirty = 1000\ndirty_path = \"{}\"\n", path_str(&dirty));
        let (run, summary) = run_job_with(&server.url(), "/i", &job, &["-o", path_str(&out)], &[]);
        assert_eq!(run.code, 0, "seed {seed}: {}", run.stderr);
        let unseen = summary["unseen_fields"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let dirty: Vec<serde_json::Value> = std::fs::read_to_string(&dirty)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["record"].clone())
            .collect();
        assert_eq!(summary["dirty"], dirty.len(), "seed {seed}");
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap()).unwrap();
        let header: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut rows = Vec::new();
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            for row in 0..batch.num_rows() {
                let cells = batch.columns().iter().map(|c| arrow_cell(c, row));
                rows.push(cells.collect::<Vec<_>>());
            }
        }
        // Each record is a row or dirty, in the order sent.
        let mut rows = rows.iter();
        let mut dirty = dirty.iter().peekable();
        for record in &sent {
            if dirty.peek() == Some(&record) {
                dirty.next();
                continue;
            }
            let row = rows
                .next()
                .unwrap_or_else(|| panic!("seed {seed}: {record} is missing"));
            let cell = |name: &str| {
                let at = header.iter().position(|h| h == name)?;
                Some(row[at].as_str()).filter(|c| !c.starts_with("null "))
            };
            let mut found = Vec::new();
            values(record, &mut Vec::new(), &mut found);
            for (keys, value) in found {
                let accounted =
                    written_or_counted(&keys, value, &header, &unseen, cell, parquet_holds);
                assert!(
                    accounted,
                    "seed {seed}: {keys:?} {value} in {record} is in no column and not counted: {header:?} {row:?} {unseen:?}"
                );
            }
        }
        assert!(
            rows.next().is_none() && dirty.next().is_none(),
            "seed {seed}"
        );
    }
}

/// A number in a column of text (a `json` column of values of mixed
/// kinds, a `string` column) is written as the API spelled it, on the
/// first page as on the others: a double's shortest text would drop
/// `1.50`'s zero and digits past 17.
#[test]
fn a_number_in_a_text_column_keeps_the_apis_text() {
    const SPELLED: [&str; 5] = [
        "1.50",
        "1E+2",
        "0.1000000000000000055511151231257827",
        "123456789012345678901234567890.5",
        "-0.0",
    ];
    let records = |from: usize| -> String {
        let mut records = vec![format!(r#"{{"id":{from},"m":"text","s":"a"}}"#)];
        records.extend(
            (SPELLED.iter().enumerate())
                .map(|(i, n)| format!(r#"{{"id":{},"m":{n},"s":{n}}}"#, from + 1 + i)),
        );
        records.join(",")
    };
    let server = paged(&[&format!("[{}]", records(0)), &format!("[{}]", records(10))]);
    let expected = |format: &str| -> Vec<String> {
        let row = |id: usize, n: &str| match format {
            "ndjson" => format!(r#"{{"id":{id},"m":{n},"s":{n}}}"#),
            _ => format!("{id},{n},{n}"),
        };
        let text = |id: usize| match format {
            "ndjson" => format!(r#"{{"id":{id},"m":"text","s":"a"}}"#),
            _ => format!("{id},text,a"),
        };
        [0, 10]
            .iter()
            .flat_map(|&from| {
                std::iter::once(text(from)).chain(
                    SPELLED
                        .iter()
                        .enumerate()
                        .map(move |(i, n)| row(from + 1 + i, n)),
                )
            })
            .collect()
    };
    // An `[incremental]` job's pages are read alike.
    let state = Dir::new();
    let incremental = format!(
        "{PAGED}[state]\npath = \"{}\"\n[incremental]\ncursor = \"id\"\nstart = 0\n",
        path_str(&state.path("state.json"))
    );
    for (format, job) in [("ndjson", PAGED), ("csv", PAGED), ("ndjson", &incremental)] {
        let out = state.path(&format!("out.{format}"));
        let args = ["-o", path_str(&out)];
        let (run, _) = run_job_with(&server.url(), "/i", job, &args, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let lines: Vec<String> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("id,"))
            .map(str::to_owned)
            .collect();
        assert_eq!(lines, expected(format), "{format}: {job}");
    }
    // So are the records a filter selects, on the index's values at the
    // places the filter finds.
    let filtered = "[records]\npath = \"$.data[?@.id >= 0]\"\n";
    let (run, _) = run_job(&server.url(), "/i?page=1", filtered, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        expected("ndjson")[..6]
    );
    // And what a column's path of several names selects.
    let picked = format!(
        "{PAGED}[[columns]]\nname = \"id\"\ntype = \"long\"\n\
         [[columns]]\nname = \"picked\"\npath = \"$['m','s']\"\ntype = \"json\"\n"
    );
    let (run, _) = run_job(&server.url(), "/i", &picked, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(r#"{"id":1,"picked":[1.50,1.50]}"#)
            && run.stdout.contains(r#"{"id":11,"picked":[1.50,1.50]}"#),
        "{}",
        run.stdout
    );
    // Parquet: the column of mixed kinds is text.
    let dir = Dir::new();
    let out = dir.path("out.parquet");
    let (run, _) = run_job_with(&server.url(), "/i", PAGED, &["-o", path_str(&out)], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = rows_after_id(&dir, "parquet");
    let cells: Vec<String> = rows.iter().map(|row| row[0].clone()).collect();
    let mut want = Vec::new();
    for _ in 0..2 {
        want.push("text Utf8".to_owned());
        want.extend(SPELLED.iter().map(|n| format!("{n} Utf8")));
    }
    assert_eq!(cells, want);
    // A declared `string` column, and what `check` shows of the first page.
    let declared = format!("{PAGED}[[columns]]\nname = \"s\"\ntype = \"string\"\n");
    let (run, _) = run_job(&server.url(), "/i", &declared, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(r#"{"s":"1.50"}"#), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(r#"{"s":"123456789012345678901234567890.5"}"#),
        "{}",
        run.stdout
    );
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/i\"\n{PAGED}", server.url()),
    );
    let check = hydrant(&["check", path_str(&job)]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.contains(r#""m":1.50,"s":1.50"#),
        "{}",
        check.stdout
    );
}

/// A warning is said once: as it happens, in the log, and not again
/// under the summary; there when the log leaves it out.
#[test]
fn a_warning_is_said_once() {
    let server = paged(&[r#"[{"id": 1}]"#, r#"[{"id": 2, "extra": true}]"#]);
    let said = "have fields outside the inferred columns (extra)";
    for (log, prefix) in [(None, " WARN "), (Some("error"), "hydrant: warning: ")] {
        let env: Vec<(&str, &str)> = log.map(|l| ("RUST_LOG", l)).into_iter().collect();
        let (run, summary) = run_job_with(&server.url(), "/i", PAGED, &["--format", "csv"], &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stderr.matches(said).count(),
            1,
            "{log:?}: {}",
            run.stderr
        );
        let line = run.stderr.lines().find(|l| l.contains(said)).unwrap();
        assert!(line.contains(prefix), "{log:?}: {line}");
        assert_eq!(
            summary["warnings"].as_array().unwrap().len(),
            1,
            "{summary}"
        );
    }
}

/// `hydrant check` shows the first records of random first pages as the
/// run writes them.
#[test]
fn check_shows_the_first_records_as_the_run_writes_them() {
    let mut next = crate::util::below(0x1f83_d9ab_fb41_bd6b);
    for round in 0..60 {
        let records: Vec<String> = (0..1 + next(8))
            .map(|_| spell(&any_object(&mut next, 0), &mut None))
            .collect();
        let page = format!("{{\"data\":[{}]}}", records.join(","));
        let server = TestServer::start(vec![Exchange::json("/i", page.clone())]);
        let dir = Dir::new();
        let job = dir.write(
            "job.toml",
            &format!(
                "[request]\nurl = \"{}/i\"\n[records]\npath = \"data\"\n",
                server.url()
            ),
        );
        let run = hydrant(&["run", path_str(&job)]);
        assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
        let check = hydrant(&["check", path_str(&job)]);
        assert_eq!(check.code, 0, "round {round}: {}", check.stderr);
        let shown: Vec<&str> = check
            .stdout
            .lines()
            .skip_while(|l| *l != "first records:")
            .skip(1)
            .map_while(|l| l.strip_prefix("  "))
            .collect();
        let written: Vec<&str> = run.stdout.lines().take(shown.len()).collect();
        assert_eq!(
            shown.len(),
            records.len().min(5),
            "round {round}: {}",
            check.stdout
        );
        assert_eq!(shown, written, "round {round}: {page}");
    }
}

/// A records path that holds an empty array (a field an API left in
/// place, `data.items`) while the records are beside it: a run that
/// reads no record says where they are, and so does `check`. A run that
/// reads records, or a page without any elsewhere, says nothing.
#[test]
fn a_run_that_reads_no_record_names_the_array_beside_its_path() {
    let page = |items: &str, results: &str| {
        format!("{{\"data\":{{\"items\":{items},\"results\":{results}}}}}")
    };
    let results = r#"[{"id":1},{"id":2},{"id":3}]"#;
    let server = TestServer::start(vec![
        Exchange::json("/e", page("[]", results)),
        Exchange::json("/n", page("[]", "[]")),
        // Records on the second page.
        Exchange::json(
            "/r",
            page("[]", results).replacen('{', "{\"next\":\"/r2\",", 1),
        ),
        Exchange::json("/r2", page(r#"[{"id":9}]"#, "[]")),
    ]);
    let url = server.url();
    let says = format!(
        "no records were read: records.path `data.items` held none on the page from {url}/e, \
         but the page has an array of 3 objects at `data.results`: if the records are there, \
         set records.path to it"
    );
    let next = "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    for (target, paginate, told, count) in [
        ("/e", "", Some(&says), 0),
        ("/n", "", None, 0),
        ("/r", next, None, 1),
    ] {
        let rest = format!("[records]\npath = \"data.items\"\n{paginate}");
        each_output_says(
            &url,
            target,
            &rest,
            count,
            &told.into_iter().collect::<Vec<_>>(),
        );
    }
    let check = checked(&url, "/e", "[records]\npath = \"data.items\"\n");
    assert!(
        check.contains(
            "warning: records.path `data.items` holds no records on the first page, but the \
             page has an array of 3 objects at `data.results`: if the records are there, set \
             records.path to it\n"
        ),
        "{check}"
    );
    assert!(!checked(&url, "/n", "[records]\npath = \"data.items\"\n").contains("warning"));
}

/// `hydrant check` of a records path that matches nothing names the
/// largest array of objects the page holds: most often the records, at
/// a path the job misspelled.
#[test]
fn check_names_the_array_a_records_path_missed() {
    let server = TestServer::start(vec![Exchange::json(
        "/p",
        r#"{"meta": {"links": [{"rel": "self"}]}, "result": {"items": [{"id": 1}, {"id": 2}]}}"#,
    )]);
    let dir = Dir::new();
    let rest = "[records]\npath = \"result.itmes\"\n";
    let says = format!(
        "records.path `result.itmes` matches nothing in the response from {}/p: no records were \
         taken from it (check the path with `hydrant check`); the page has an array of 2 objects \
         at `result.items`",
        server.url()
    );
    let check = checked(&server.url(), "/p", rest);
    assert!(check.contains(&format!("warning: {says}\n")), "{check}");
    // A run says it too: the page read on the loop for inferred columns
    // (and on its index for an incremental run's declared ones), and
    // made off it for declared ones.
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    let incremental = format!(
        "{declared}[state]\npath = \"{}\"\n[incremental]\ncursor = \"id\"\ntype = \"long\"\nstart = 0\n",
        path_str(&dir.path("state.json"))
    );
    for (columns, format) in [
        ("", "ndjson"),
        (declared, "ndjson"),
        (declared, "csv"),
        (&incremental, "ndjson"),
    ] {
        let rest = format!(
            "[records]\npath = \"result.itmes\"\n[output]\nformat = \"{format}\"\n{columns}"
        );
        let summary = run_to_file(&server.url(), "/p", &rest);
        assert_eq!(summary["records"], 0, "{summary}");
        assert_eq!(summary["warnings"], serde_json::json!([says]), "{rest}");
    }
}

/// A column of `page_path` reads the page around the records: each row
/// of a page gets its page's value (Data Factory's cross-apply). Pages
/// made off the run loop (offset, two at a time) and on it (`check`),
/// into NDJSON and CSV; a path no page has is null and warned of.
#[test]
fn a_page_path_column_gives_each_row_its_page_s_value() {
    let server = TestServer::start_fn(|seen| {
        let offset: u64 = (seen.target.split("offset=").nth(1))
            .and_then(|rest| rest.split('&').next()?.parse().ok())
            .unwrap_or(0);
        let items: Vec<serde_json::Value> = (offset..5.min(offset + 2))
            .map(|id| serde_json::json!({"id": id}))
            .collect();
        let body = serde_json::json!({
            "meta": {"batch": format!("b{offset}"), "at": format!("2026-12-0{}T08:00:00Z", offset + 1), "tags": ["x", offset]},
            "items": items,
        });
        Exchange::json(&seen.target, body.to_string())
    });
    let columns = "[records]\npath = \"items\"\n[paginate]\ntype = \"offset\"\nlimit = 2\n\
        [limits]\nconcurrency = 2\n\
        [[columns]]\nname = \"id\"\ntype = \"long\"\n\
        [[columns]]\nname = \"batch\"\npage_path = \"$.meta.batch\"\n\
        [[columns]]\nname = \"at\"\npage_path = \"meta.at\"\ntype = \"timestamp\"\n\
        [[columns]]\nname = \"tags\"\npage_path = \"$.meta.tags[*]\"\ntype = \"json\"\n\
        [[columns]]\nname = \"gone\"\npage_path = \"$.meta.nope\"\n\
        [[columns]]\nname = \"none\"\npage_path = \"$.meta.tagz[*]\"\ntype = \"json\"\n";
    let (run, summary) = run_job(&server.url(), "/o", columns, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = |id: u64, page: u64| {
        format!(
            "{{\"id\":{id},\"batch\":\"b{page}\",\"at\":\"2026-12-0{}T08:00:00Z\",\"tags\":[\"x\",{page}],\"gone\":null,\"none\":[]}}\n",
            page + 1
        )
    };
    let expected: String = [row(0, 0), row(1, 0), row(2, 2), row(3, 2), row(4, 4)].concat();
    assert_eq!(run.stdout, expected);
    assert_eq!(summary["records"], 5);
    assert_eq!(
        summary["warnings"],
        serde_json::json!([
            "column `gone`: no page of the 5 records has a value at `$.meta.nope`, so the column \
             is null in all of them (a misspelled path? `hydrant check` shows the records)",
            "column `none`: no page of the 5 records has a value at `$.meta.tagz[*]`, so the \
             column is `[]` in all of them (a misspelled path? `hydrant check` shows the records)"
        ])
    );
    let csv = format!("{columns}[output]\nformat = \"csv\"\n");
    let (run, _) = run_job(&server.url(), "/o", &csv, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.lines().nth(4),
        Some("3,b2,2026-12-03T08:00:00Z,\"[\"\"x\"\",2]\",,[]")
    );
    // Pages read on the run loop: a run that records its exchanges.
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/o\"\n{columns}", server.url()),
    );
    let fixtures = dir.path("fixtures");
    let recorded = hydrant(&["record", path_str(&job), "--to", path_str(&fixtures)]);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    assert_eq!(recorded.stdout, expected);
    let check = checked(&server.url(), "/o", columns);
    assert!(
        check.contains(
            "column `gone`: the first page, of 2 records, has no value at `$.meta.nope`, so the \
             column is null in all of them (a misspelled path?)"
        ),
        "{check}"
    );
    assert!(
        check.contains("{\"id\":1,\"batch\":\"b0\",\"at\":\"2026-12-01T08:00:00Z\""),
        "{check}"
    );
}

/// A whole-number column whose every value on the first page is 0 (a
/// metric in a quiet hour) is inferred `long`, which a later fraction
/// would not fit: `hydrant schema` (and so `init`) says so beside it,
/// and the dirty record's reason names the type that keeps it.
#[test]
fn a_column_of_zeros_is_told_to_be_double_where_fractions_may_come() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/m",
            r#"[{"t": 1, "wait": 0, "n": 3}, {"t": 2, "wait": 0}]"#,
        ),
        Exchange::json("/later", r#"[{"t": 3, "wait": 0.5, "n": 1}]"#),
    ]);
    let dir = Dir::new();
    let job = dir.write("job.toml", &job_text(&server, "/m", ""));
    let schema = hydrant(&["schema", path_str(&job)]);
    assert_eq!(schema.code, 0, "{}", schema.stderr);
    let told = "type = \"long\" # 0 in each record of the first page: a fraction later is a dirty record, where `double` keeps it\n";
    assert_eq!(schema.stdout.matches(told).count(), 1, "{}", schema.stdout);
    assert!(
        schema.stdout.contains(&format!("name = \"wait\"\n{told}")),
        "{}",
        schema.stdout
    );
    let declared = "[[columns]]\nname = \"t\"\ntype = \"long\"\n[[columns]]\nname = \"wait\"\ntype = \"long\"\n";
    let (run, summary) = run_job(&server.url(), "/later", declared, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "column `wait` (long): 0.5 is not an integer (a `double` column keeps fractions)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(summary["error"]["exit_code"], 1, "{summary}");
}

/// The runs an API like MLflow's `runs/search` answers, each with its
/// metrics in an array: a records path of `runs[*].data.metrics[*]`
/// makes each metric a row, and `parent_path` gives it its run's fields,
/// read in the run above it. A POST pages by the token in its body.
#[test]
fn a_parent_path_column_gives_each_row_its_parent_s_value() {
    let server = TestServer::start_fn(|seen| {
        let asked: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let metric = |key: &str, value: f64, step: u32| serde_json::json!({"key": key, "value": value, "timestamp": 1_796_672_437_646_u64, "step": step});
        let run = |id: &str, status: Option<&str>, metrics: Vec<serde_json::Value>| {
            let mut info = serde_json::json!({"run_id": id, "experiment_id": "3", "start_time": 1_796_672_370_834_u64});
            if let Some(status) = status {
                info["status"] = status.into();
            }
            serde_json::json!({"info": info, "data": {"metrics": metrics, "tags": [{"key": "team", "value": "a"}]}})
        };
        let body = match asked["page_token"].as_str() {
            None => serde_json::json!({
                "runs": [
                    run("r1", Some("FINISHED"), vec![metric("loss", 0.25, 0), metric("loss", 0.125, 1)]),
                    run("r2", Some("FAILED"), vec![]),
                    run("r3", None, vec![metric("auc", 0.5, 0)]),
                ],
                "next_page_token": "t2",
            }),
            Some("t2") => serde_json::json!({
                "runs": [run("r4", Some("FINISHED"), vec![metric("auc", 0.75, 0)])],
            }),
            Some(_) => {
                return crate::util::json(400, r#"{"error_code":"INVALID_PARAMETER_VALUE"}"#);
            }
        };
        Exchange::json(&seen.target, body.to_string())
    });
    let job = "method = \"POST\"\nbody = { experiment_ids = [\"3\"], max_results = 3 }\n\
        [records]\npath = \"runs[*].data.metrics[*]\"\n\
        [paginate]\ntype = \"cursor\"\nfrom = \"next_page_token\"\nparam = \"page_token\"\nin = \"body\"\n\
        [[columns]]\nname = \"run_id\"\nparent_path = \"info.run_id\"\n\
        [[columns]]\nname = \"status\"\nparent_path = \"info.status\"\n\
        [[columns]]\nname = \"started\"\nparent_path = \"$.info.start_time\"\ntype = \"long\"\n\
        [[columns]]\nname = \"tags\"\nparent_path = \"data.tags[*].value\"\ntype = \"json\"\n\
        [[columns]]\nname = \"key\"\n\
        [[columns]]\nname = \"value\"\ntype = \"double\"\n\
        [[columns]]\nname = \"step\"\ntype = \"long\"\n";
    let (run, summary) = run_job(&server.url(), "/api/2.0/mlflow/runs/search", job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = |run: &str, status: &str, key: &str, value: &str, step: u32| {
        format!(
            "{{\"run_id\":\"{run}\",\"status\":{status},\"started\":1796672370834,\"tags\":[\"a\"],\"key\":\"{key}\",\"value\":{value},\"step\":{step}}}\n"
        )
    };
    let expected = [
        row("r1", "\"FINISHED\"", "loss", "0.25", 0),
        row("r1", "\"FINISHED\"", "loss", "0.125", 1),
        row("r3", "null", "auc", "0.5", 0),
        row("r4", "\"FINISHED\"", "auc", "0.75", 0),
    ]
    .concat();
    assert_eq!(run.stdout, expected);
    assert_eq!(summary["records"], 4);
    assert_eq!(summary["warnings"], serde_json::json!([]));

    // A parent without the value follows `records.on_missing`.
    let dirty = job.replace(
        "[records]\n",
        "[records]\non_missing = \"dirty\"\nmax_dirty = 1\n",
    );
    let (run, summary) = run_job(&server.url(), "/api/2.0/mlflow/runs/search", &dirty, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(summary["dirty"], 1, "{summary}");
    assert!(!run.stdout.contains("\"r3\""), "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 3);

    // Misspelled, it is warned of as a record's path is.
    let (run, summary) = run_job(
        &server.url(),
        "/api/2.0/mlflow/runs/search",
        &job.replace("info.run_id", "info.run_idd"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summary["warnings"],
        serde_json::json!([
            "column `run_id`: no parent of the 4 records has a value at `info.run_idd`, so the \
             column is null in all of them (a misspelled path? `hydrant check` shows the records)"
        ])
    );

    let csv = format!("{job}[output]\nformat = \"csv\"\n");
    let (run, _) = run_job(&server.url(), "/api/2.0/mlflow/runs/search", &csv, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.lines().nth(3),
        Some("r3,,1796672370834,\"[\"\"a\"\"]\",auc,0.5,0")
    );
    // Pages read on the run loop: a run that records its exchanges.
    let dir = Dir::new();
    let url = format!("{}/api/2.0/mlflow/runs/search", server.url());
    let recording = dir.write("job.toml", &format!("[request]\nurl = \"{url}\"\n{job}"));
    let fixtures = dir.path("fixtures");
    let recorded = hydrant(&["record", path_str(&recording), "--to", path_str(&fixtures)]);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    assert_eq!(recorded.stdout, expected);
    let check = checked(&server.url(), "/api/2.0/mlflow/runs/search", job);
    assert!(
        check.contains("{\"run_id\":\"r1\",\"status\":\"FINISHED\",\"started\":1796672370834"),
        "{check}"
    );
}

/// Records nested under the items an API pages by (Jira's issues, each
/// with its subtasks): with a `parent_path` column, an `offset` job
/// counts the issues on a page, not the subtasks. Counting subtasks, a
/// page of two issues with one subtask between them looked short, and
/// the run ended with issues left.
#[test]
fn pages_of_nested_records_count_their_parents() {
    let subtasks = [2, 0, 1, 3, 0];
    let server = TestServer::start_fn(move |seen| {
        let number = |key: &str, or: usize| {
            (seen.target.split(&format!("{key}=")).nth(1))
                .and_then(|rest| rest.split('&').next()?.parse().ok())
                .unwrap_or(or)
        };
        let (at, max) = (number("startAt", 0), number("maxResults", 50));
        let issues: Vec<serde_json::Value> = (at..subtasks.len().min(at + max))
            .map(|i| {
                let tasks: Vec<_> = (0..subtasks[i])
                    .map(|t| serde_json::json!({"key": format!("T-{i}{t}")}))
                    .collect();
                serde_json::json!({"key": format!("P-{i}"), "fields": {"subtasks": tasks}})
            })
            .collect();
        let body =
            serde_json::json!({"startAt": at, "maxResults": max, "total": 5, "issues": issues});
        Exchange::json(&seen.target, body.to_string())
    });
    let job = |concurrency: u32| {
        format!(
            "[records]\npath = \"issues[*].fields.subtasks[*]\"\n\
             [paginate]\ntype = \"offset\"\nparam = \"startAt\"\nlimit_param = \"maxResults\"\nlimit = 2\n\
             [limits]\nconcurrency = {concurrency}\n\
             [[columns]]\nname = \"issue\"\nparent_path = \"key\"\n\
             [[columns]]\nname = \"key\"\n"
        )
    };
    let expected: String = [(0, 0), (0, 1), (2, 0), (3, 0), (3, 1), (3, 2)]
        .iter()
        .map(|(i, t)| format!("{{\"issue\":\"P-{i}\",\"key\":\"T-{i}{t}\"}}\n"))
        .collect();
    for concurrency in [1, 4] {
        let (run, summary) = run_job(&server.url(), "/rest/api/2/search", &job(concurrency), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, expected, "concurrency {concurrency}");
        assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");
    }
    let check = checked(&server.url(), "/rest/api/2/search", &job(1));
    assert!(
        check.contains("{\"issue\":\"P-0\",\"key\":\"T-00\"}"),
        "{check}"
    );
}

/// Records of more than 32 fields (Prefect's flow runs hold 60): the
/// inferred columns follow the API's order, as `hydrant schema` writes
/// them and as a run's NDJSON and CSV hold them. They had come in a hash
/// map's order.
#[test]
fn the_columns_of_wide_records_keep_the_api_s_order() {
    let names: Vec<String> = (0..40).rev().map(|i| format!("f{i:02}")).collect();
    let record = |n: usize| {
        let members: Vec<String> = (names.iter().enumerate())
            .map(|(i, name)| format!("\"{name}\":{}", n * 100 + i))
            .collect();
        format!("{{{}}}", members.join(","))
    };
    let body = format!("[{},{}]", record(0), record(1));
    let server = TestServer::start(vec![Exchange::json("/wide", body)]);
    let (run, _) = run_job(&server.url(), "/wide", "", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first.keys().cloned().collect::<Vec<_>>(), names);
    let (run, _) = run_job(&server.url(), "/wide", "[output]\nformat = \"csv\"\n", &[]);
    assert_eq!(run.stdout.lines().next(), Some(names.join(",").as_str()));
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/wide\"\n", server.url()),
    );
    let schema = hydrant(&["schema", path_str(&job)]);
    let declared: Vec<&str> = (schema.stdout.lines())
        .filter_map(|line| line.strip_prefix("name = \"")?.strip_suffix('"'))
        .collect();
    assert_eq!(declared, names);
}
