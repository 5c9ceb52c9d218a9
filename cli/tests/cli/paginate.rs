//! Every pagination type end to end, and concurrent fetching.

use std::time::Duration;

use hydrant_bench::{Exchange, Seen};
use serde_json::Value;

use crate::util::{
    Dir, TestServer, checked, each_output_says, hydrant, ids, json, lines, path_str, query_param,
    run_job, run_job_with, run_to_file,
};

/// Runs a job against `server` that must succeed; returns stdout, the
/// summary and stderr.
fn run(server: &TestServer, target: &str, rest: &str, args: &[&str]) -> (String, Value, String) {
    let (run, summary) = run_job_with(&server.url(), target, rest, args, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (run.stdout, summary, run.stderr)
}

fn assert_summary(summary: &Value, requests: u64, stopped: &str) {
    assert_eq!(summary["requests"], requests, "{summary}");
    assert_eq!(summary["stopped"], stopped, "{summary}");
}

#[test]
fn offset_ends_on_a_short_page_and_discards_fetched_ahead_pages() {
    let server = TestServer::start(vec![
        Exchange::json("/items?offset=0&limit=2", ids(0..2)),
        Exchange::json("/items?offset=2&limit=2", ids(2..4)),
        Exchange::json("/items?offset=4&limit=2", ids(4..5)),
        Exchange::json("/items?offset=6&limit=2", ids(90..92)),
    ]);
    let (out, summary, _) = run(
        &server,
        "/items",
        "[paginate]\ntype = \"offset\"\nlimit = 2\n[limits]\nconcurrency = 4\n",
        &[],
    );
    assert_eq!(out, lines(0..5));
    assert_summary(&summary, 3, "short_page");
    assert_eq!(summary["records"], 5);
    let sent = server.requests().len();
    assert!((3..=3 + 2 * 4).contains(&sent), "{sent} requests sent");
    // The page after the end held records: not written, but told.
    let warnings = summary["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{summary}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains("/items?offset=4&limit=2 held 1 records")
            && warning.contains("/items?offset=6&limit=2, fetched ahead, holds 2"),
        "{warning}"
    );
}

/// An API that caps its pages below the job's size answers the first
/// page short: ending there would lose all the rest.
#[test]
fn a_first_page_short_of_a_capped_size_fails_the_run() {
    let capped = |target: &str, from: u32| Exchange::json(target, ids(from..from + 3));
    let server = TestServer::start(vec![
        capped("/items?offset=0&limit=10", 0),
        capped("/items?offset=10&limit=10", 10),
        capped("/items?offset=20&limit=10", 20),
        capped("/items?offset=30&limit=10", 30),
        capped("/p?page=1&per_page=10", 0),
        capped("/p?page=2&per_page=10", 3),
        capped("/p?page=3&per_page=10", 6),
        capped("/p?page=4&per_page=10", 9),
    ]);
    for (target, paginate, next) in [
        (
            "/items",
            "type = \"offset\"\nlimit = 10",
            "/items?offset=10&limit=10",
        ),
        (
            "/p",
            "type = \"page\"\nsize_param = \"per_page\"\nsize = 10",
            "/p?page=2&per_page=10",
        ),
        // Declared columns: the pages are made off the loop, and the
        // check reads what the worker found on the next one.
        (
            "/items",
            "type = \"offset\"\nlimit = 10\n[[columns]]\nname = \"id\"\ntype = \"long\"",
            "/items?offset=10&limit=10",
        ),
    ] {
        let dir = Dir::new();
        let out = dir.path("out.ndjson");
        let rest = format!(
            "[paginate]\n{paginate}\n[output]\npath = \"{}\"\n",
            path_str(&out)
        );
        let (run, summary) = run_job(&server.url(), target, &rest, &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let says = format!(
            "held 3 records, fewer than asked, which ends pagination; but the next page, {}{next}, \
             holds 3: the API may give at most 3 records a page (set paginate.limit or \
             paginate.size to 3 or less) or may not read the page parameter (check \
             paginate.param); ending here could lose records",
            server.url()
        );
        assert!(run.stderr.contains(&says), "{}", run.stderr);
        assert_eq!(summary["error"]["exit_code"], 1, "{summary}");
        assert!(!out.exists() && !dir.path("out.ndjson.partial").exists());
        // No checkpoint says the pass ended: a retry with --resume fails
        // the same way rather than finish with the first page alone.
        let state = dir.path("job.state");
        let rest = format!("{rest}[state]\npath = \"{}\"\n", path_str(&state));
        for args in [&[][..], &["--resume"]] {
            let (run, _) = run_job_with(&server.url(), target, &rest, args, &[]);
            assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains(&says), "{}", run.stderr);
            assert!(!state.exists() && !out.exists(), "{args:?}");
        }
    }
}

/// Mailman's REST API leaves `entries` out of a page past its last
/// (`{"start": 150, "total_size": 137}`): where the pages before held
/// every record the API counts, that page is its end, and nothing is
/// said. Where they held fewer, it is told.
#[test]
fn a_page_past_the_count_without_the_records_member_is_the_end() {
    let page = |total: u32, start: u32, entries: &str| {
        format!("{{\"start\": {start}, \"total_size\": {total}{entries}}}")
    };
    let server = TestServer::start(vec![
        Exchange::json(
            "/all?page=1&count=3",
            page(3, 0, &format!(", \"entries\": {}", ids(0..3))),
        ),
        Exchange::json("/all?page=2&count=3", page(3, 3, "")),
        Exchange::json("/all?page=3&count=3", page(3, 6, "")),
        Exchange::json(
            "/more?page=1&count=3",
            page(5, 0, &format!(", \"entries\": {}", ids(0..3))),
        ),
        Exchange::json("/more?page=2&count=3", page(5, 3, "")),
        Exchange::json("/more?page=3&count=3", page(5, 6, "")),
    ]);
    let paged = "[records]\npath = \"entries\"\n[paginate]\ntype = \"page\"\n\
                 size_param = \"count\"\nsize = 3\n";
    for columns in ["", "[[columns]]\nname = \"id\"\ntype = \"long\"\n"] {
        let (run, summary) = run_job(&server.url(), "/all", &format!("{paged}{columns}"), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, lines(0..3));
        assert_eq!(
            summary["warnings"],
            serde_json::json!([]),
            "{columns}: {summary}"
        );
        let (run, summary) = run_job(&server.url(), "/more", &format!("{paged}{columns}"), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let warnings = summary["warnings"].as_array().unwrap();
        let missing = format!(
            "records.path `entries` matches nothing in the response from {}/more?page=2&count=3",
            server.url()
        );
        let told = |w: &Value| w.as_str().unwrap().starts_with(&missing);
        assert_eq!(
            warnings.iter().filter(|w| told(w)).count(),
            1,
            "{columns}: {summary}"
        );
    }
}

/// Redmine gives at most 100 issues a page, whatever `limit` asks, and
/// says so only in its body's `limit`. With fewer issues than the job's
/// limit, the page fetched ahead, a whole limit on, is empty: the run
/// read the first 100 of 237 issues, exit 0, with a warning of the count.
/// The request right after the short page's records tells.
#[test]
fn an_api_capped_below_the_limit_with_fewer_records_than_it_fails_the_run() {
    let redmine = |records: std::ops::Range<u32>, offset: u32| {
        format!(
            "{{\"issues\": {}, \"total_count\": 50, \"offset\": {offset}, \"limit\": 20}}",
            ids(records)
        )
    };
    let mut exchanges = vec![
        Exchange::json("/issues?offset=0&limit=100", redmine(0..20, 0)),
        Exchange::json("/issues?offset=20&limit=100", redmine(20..40, 20)),
        // A whole API of 20 records: the request right after is empty.
        Exchange::json("/twenty?offset=0&limit=100", ids(0..20)),
        Exchange::json("/twenty?offset=20&limit=100", "[]"),
    ];
    for offset in (100..=800).step_by(100) {
        let at = |api: &str| format!("/{api}?offset={offset}&limit=100");
        exchanges.push(Exchange::json(&at("issues"), redmine(0..0, offset)));
        exchanges.push(Exchange::json(&at("twenty"), "[]"));
    }
    let server = TestServer::start(exchanges);
    let dir = Dir::new();
    let out = dir.path("out.ndjson");
    let rest = format!(
        "[records]\npath = \"issues\"\n[paginate]\ntype = \"offset\"\nlimit = 100\n\
         [output]\npath = \"{}\"\n",
        path_str(&out)
    );
    let (capped, summary) = run_job(&server.url(), "/issues", &rest, &[]);
    assert_eq!(capped.code, 1, "{}", capped.stderr);
    let says = format!(
        "held 20 records, fewer than asked, which ends pagination; but the next page, \
         {}/issues?offset=20&limit=100, holds 20: the API may give at most 20 records a page",
        server.url()
    );
    assert!(capped.stderr.contains(&says), "{}", capped.stderr);
    assert_eq!(summary["error"]["exit_code"], 1, "{summary}");
    assert!(!out.exists());
    let (out, summary, stderr) = run(
        &server,
        "/twenty",
        "[paginate]\ntype = \"offset\"\nlimit = 100\n",
        &[],
    );
    assert_eq!(out, lines(0..20));
    assert_summary(&summary, 1, "short_page");
    assert!(
        summary["warnings"].as_array().unwrap().is_empty(),
        "{stderr}"
    );
    let asked = |api: &str| {
        let sent = server.requests().into_iter();
        sent.filter(|s| s.target == format!("/{api}?offset=20&limit=100"))
            .count()
    };
    assert_eq!((asked("issues"), asked("twenty")), (1, 1));
}

/// With one request at a time nothing is in flight after a short first
/// page. When its count is round, as caps are, the next page is asked for
/// to tell; an odd count is taken for the end without another request.
#[test]
fn one_at_a_time_a_round_short_first_page_is_checked() {
    let server = TestServer::start(vec![
        Exchange::json("/capped?offset=0&limit=100", ids(0..20)),
        Exchange::json("/capped?offset=20&limit=100", ids(20..40)),
        Exchange::json("/ends?offset=0&limit=100", ids(0..20)),
        Exchange::json("/ends?offset=20&limit=100", "[]"),
        Exchange::json("/few?offset=0&limit=100", ids(0..7)),
        Exchange::json("/quarter?offset=0&limit=100", ids(0..25)),
        Exchange::json("/quarter?offset=25&limit=100", ids(25..50)),
    ]);
    let one = "[paginate]\ntype = \"offset\"\nlimit = 100\n[limits]\nconcurrency = 1\n";
    let (capped, _) = run_job(&server.url(), "/capped", one, &[]);
    assert_eq!(capped.code, 1, "{}", capped.stderr);
    assert!(
        capped.stderr.contains(
            "/capped?offset=20&limit=100, holds 20: the API may give at most 20 records a page"
        ),
        "{}",
        capped.stderr
    );
    let (out, summary, _) = run(&server, "/ends", one, &[]);
    assert_eq!(out, lines(0..20));
    // The summary counts the pages taken, as with requests sent ahead.
    assert_summary(&summary, 1, "short_page");
    let (out, _, _) = run(&server, "/few", one, &[]);
    assert_eq!(out, lines(0..7));
    let (capped, _) = run_job(&server.url(), "/quarter", one, &[]);
    assert_eq!(capped.code, 1, "{}", capped.stderr);
    assert!(
        capped.stderr.contains(
            "/quarter?offset=25&limit=100, holds 25: the API may give at most 25 records a page"
        ),
        "{}",
        capped.stderr
    );
    let sent: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
    assert_eq!(
        sent,
        [
            "/capped?offset=0&limit=100",
            "/capped?offset=20&limit=100",
            "/ends?offset=0&limit=100",
            "/ends?offset=20&limit=100",
            "/few?offset=0&limit=100",
            "/quarter?offset=0&limit=100",
            "/quarter?offset=25&limit=100",
        ]
    );
}

/// An API that does not read the job's page parameter (`pg` where it
/// reads `page`) gives its first page to every request: without a check
/// the run would write it again and again, without end.
#[test]
fn a_page_that_repeats_the_one_before_fails_the_run() {
    let server = TestServer::start_fn(|seen: &Seen| {
        // Past a while the test ends, as a run without the check would not.
        let far = (seen.target.split(['=', '&']))
            .filter_map(|part| part.parse::<u32>().ok())
            .any(|n| n > 30);
        Exchange::json(&seen.target, if far { "[]".to_owned() } else { ids(0..3) })
    });
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for (paginate, columns, second) in [
        ("type = \"page\"\nparam = \"pg\"", "", "/p?pg=2"),
        ("type = \"page\"\nparam = \"pg\"", declared, "/p?pg=2"),
        (
            "type = \"offset\"\nlimit = 3\nparam = \"from\"",
            declared,
            "/p?from=3&limit=3",
        ),
    ] {
        let dir = Dir::new();
        let out = dir.path("out.ndjson");
        let rest = format!(
            "[paginate]\n{paginate}\n[limits]\nconcurrency = 4\n{columns}[output]\npath = \"{}\"\n",
            path_str(&out)
        );
        let (run, _) = run_job(&server.url(), "/p", &rest, &[]);
        assert_eq!(run.code, 1, "{paginate}: {}", run.stderr);
        let says = format!(
            "the page from {}{second} holds the same records as the page before it: the API \
             may not read the page parameter (check paginate.param)",
            server.url()
        );
        assert!(run.stderr.contains(&says), "{}", run.stderr);
        assert!(!out.exists());
    }
}

/// Some APIs answer a page past the last with the last page again
/// (json-server 1.0, Magento). Where the pages before differed, the API
/// reads the page parameter: a repeat is that last page, left out with a
/// warning, and the run ends there. After a short last page, the page
/// fetched ahead holds it again: nothing is said. A short or full first
/// page given again is told from an API that ignores the parameter by
/// nothing on the page: the run fails, naming both.
#[test]
fn a_last_page_given_again_past_the_end_ends_the_run() {
    // `n` records, pages of `size`: a page past the last is the last.
    let clamping = |n: u32, size: u32| {
        TestServer::start_fn(move |seen: &Seen| {
            let number = |key: &str| {
                let (_, rest) = seen.target.split_once(&format!("{key}="))?;
                rest.split('&').next()?.parse::<u32>().ok()
            };
            let start = match number("page") {
                Some(page) => (page - 1) * size,
                None => number("offset").unwrap_or(0),
            };
            let last = (n - 1) / size * size;
            let start = start.min(last);
            Exchange::json(&seen.target, ids(start..(start + size).min(n)))
        })
    };
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    let page = "[paginate]\ntype = \"page\"\nsize_param = \"per_page\"\nsize = 2\n";
    let offset = "[paginate]\ntype = \"offset\"\nlimit = 2\n";
    for (n, paginate, again) in [
        (6, page, Some("/p?page=4&per_page=2")),
        (6, offset, Some("/p?offset=6&limit=2")),
        (5, page, None),
        (5, offset, None),
    ] {
        let server = clamping(n, 2);
        let url = server.url();
        for (columns, format, concurrency) in [
            ("", "ndjson", 4),
            (declared, "ndjson", 4),
            (declared, "parquet", 4),
            ("", "ndjson", 1),
        ] {
            let rest = format!(
                "{paginate}[limits]\nconcurrency = {concurrency}\n[output]\nformat = \"{format}\"\n\
                 {columns}"
            );
            let dir = Dir::new();
            let out = dir.path("out");
            let (run, summary) = run_job_with(&url, "/p", &rest, &["-o", path_str(&out)], &[]);
            assert_eq!(run.code, 0, "{rest}: {}", run.stderr);
            assert_eq!(summary["records"], n, "{rest}");
            if format == "ndjson" {
                assert_eq!(std::fs::read_to_string(&out).unwrap(), lines(0..n));
            }
            let warnings = match again {
                Some(again) => serde_json::json!([format!(
                    "the page from {url}{again} holds the 2 records of the page before it \
                     again: taken for the last page given again, and not written twice"
                )]),
                None => serde_json::json!([]),
            };
            assert_eq!(summary["warnings"], warnings, "{rest}");
        }
    }
    // One page of records: its second is the first again.
    let past = "the API may not read the page parameter (check paginate.param), or it gives \
         its last page again when asked past the end (json-server 1.0 and Magento do: a \
         [[paginate.stop]] rule on what its pages say of the last ends there)";
    for (n, size, says) in [
        (
            3,
            4,
            format!(
                "the first page, from URL/p?page=1&per_page=4, held 3 records, fewer than asked, \
                 which ends pagination; but the next page, URL/p?page=2&per_page=4, holds the \
                 same records: {past}; ending here could lose records"
            ),
        ),
        (
            2,
            2,
            format!(
                "the page from URL/p?page=2&per_page=2 holds the same records as the page \
                 before it: {past}; stopping rather than write them again"
            ),
        ),
    ] {
        let server = clamping(n, size);
        let rest = format!(
            "[paginate]\ntype = \"page\"\nsize_param = \"per_page\"\nsize = {size}\n\
             [limits]\nconcurrency = 4\n"
        );
        let (run, _) = run_job(&server.url(), "/p", &rest, &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let says = says.replace("URL", &server.url());
        assert!(run.stderr.contains(&says), "{}", run.stderr);
    }
}

#[test]
fn an_offset_page_longer_than_its_limit_fails_the_run() {
    // The API gives pages of three whatever `limit` says: stepping the
    // offset by two would write every third record twice.
    let server = TestServer::start_fn(|seen: &Seen| {
        let offset: u32 = seen
            .target
            .split(['=', '&'])
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let orders: Vec<String> = (offset..(offset + 3).min(7))
            .map(|id| format!(r#"{{"id":{id},"lines":[{{"order":{id}}},{{"order":{id}}}]}}"#))
            .collect();
        Exchange::json(
            &seen.target,
            format!(r#"{{"orders":[{}]}}"#, orders.join(",")),
        )
    });
    let dir = Dir::new();
    let out = dir.path("out.ndjson");
    let rest = format!(
        "[paginate]\ntype = \"offset\"\nlimit = 2\n[records]\npath = \"orders\"\n\
         [output]\npath = \"{}\"\n",
        path_str(&out)
    );
    let (failed, _) = run_job(&server.url(), "/o", &rest, &[]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let says = format!(
        "the page from {}/o?offset=0&limit=2 holds 3 records, more than paginate.limit (2): the \
         API does not read `limit` or gives pages of its own size, and the next offset would \
         read 1 of them again",
        server.url()
    );
    assert!(failed.stderr.contains(&says), "{}", failed.stderr);
    assert!(!out.exists());
}

#[test]
fn counted_pages_of_records_from_several_arrays_are_refused() {
    // Lines of orders, paged by orders: a page of three orders with two
    // lines would read as short and end the run with pages left.
    let server = TestServer::start(vec![]);
    for paginate in [
        "type = \"offset\"\nlimit = 3",
        "type = \"page\"\nsize = 3",
        "type = \"page\"",
        "type = \"range\"\nparam = \"p\"\nstart = 0",
        "type = \"cursor\"\n[[paginate.stop]]\nrecords_below = 3",
    ] {
        let rest = format!("[paginate]\n{paginate}\n[records]\npath = \"$.orders[*].lines[*]\"\n");
        let (refused, _) = run_job(&server.url(), "/o", &rest, &[]);
        assert_eq!(refused.code, 2, "{paginate}: {}", refused.stderr);
        assert!(
            refused.stderr.contains(
                "records.path: `$.orders[*].lines[*]` takes records from several arrays, but \
                 paginate type"
            ),
            "{}",
            refused.stderr
        );
        // A filter: a page of three orders, one of them open, would read
        // as short too.
        let rest = format!("[paginate]\n{paginate}\n[records]\npath = '$.orders[?@.open]'\n");
        let (refused, _) = run_job(&server.url(), "/o", &rest, &[]);
        assert_eq!(refused.code, 2, "{paginate}: {}", refused.stderr);
        assert!(
            refused.stderr.contains(
                "records.path: `$.orders[?@.open]` may select some of a page's records (a \
                 filter, a slice or `..`), but paginate type"
            ) && refused
                .stderr
                .contains("take the whole array as the records and filter them"),
            "{}",
            refused.stderr
        );
    }
    assert!(server.requests().is_empty());
    // Pages that are not counted are taken as before.
    let server = TestServer::start(vec![Exchange::json(
        "/o",
        r#"{"orders":[{"lines":[{"n":1},{"n":2}]}]}"#,
    )]);
    let rest = "[records]\npath = \"$.orders[*].lines[*]\"\n";
    let (stdout, _, _) = run(&server, "/o", rest, &[]);
    assert_eq!(stdout, "{\"n\":1}\n{\"n\":2}\n");
    // Nor is a range with an end, which ends by its values.
    let server = TestServer::start(vec![Exchange::json(
        "/o?p=0",
        r#"{"orders":[{"lines":[{"n":1}]}]}"#,
    )]);
    let rest = "[paginate]\ntype = \"range\"\nparam = \"p\"\nstart = 0\nend = 0\n\
                [records]\npath = \"$.orders[*].lines[*]\"\n";
    let (stdout, _, _) = run(&server, "/o", rest, &[]);
    assert_eq!(stdout, "{\"n\":1}\n");
}

#[test]
fn page_without_size_runs_to_an_empty_page() {
    let server = TestServer::start(vec![
        Exchange::json("/p?page=1", ids(0..3)),
        Exchange::json("/p?page=2", ids(3..4)),
        Exchange::json("/p?page=3", "[]"),
    ]);
    let (out, summary, _) = run(
        &server,
        "/p",
        "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n",
        &[],
    );
    assert_eq!(out, lines(0..4));
    assert_summary(&summary, 3, "empty_page");
}

#[test]
fn cursor_from_the_body_into_the_query() {
    let server = TestServer::start(vec![
        Exchange::json("/c", format!("{{\"data\":{},\"next\":\"b c\"}}", ids(0..2))),
        Exchange::json(
            "/c?after=b%20c",
            format!("{{\"data\":{},\"next\":\"d\"}}", ids(2..4)),
        ),
        Exchange::json(
            "/c?after=d",
            format!("{{\"data\":{},\"next\":null}}", ids(4..5)),
        ),
    ]);
    let rest = "[paginate]\ntype = \"cursor\"\nfrom = \"$.next\"\nparam = \"after\"\n[records]\npath = \"data\"\n";
    let (out, summary, _) = run(&server, "/c", rest, &[]);
    assert_eq!(out, lines(0..5));
    assert_summary(&summary, 3, "no_next");
}

#[test]
fn cursor_into_a_json_body_keeps_its_type() {
    let post = |target: &str, body: String| Exchange {
        method: "POST".to_owned(),
        ..Exchange::json(target, body)
    };
    // The second page, asked for with the cursor, holds no records and
    // names the same cursor again: the end.
    let server = TestServer::start_fn(move |seen| {
        let records = match seen.body.windows(6).any(|w| w == b"\"page\"") {
            true => ids(0..0),
            false => ids(0..1),
        };
        post("/search", format!("{{\"items\":{records},\"token\":7}}"))
    });
    let rest = "method = \"POST\"\nbody = { query = \"x\" }\n[paginate]\ntype = \"cursor\"\nfrom = \"token\"\nparam = \"page.token\"\nin = \"body\"\n[records]\npath = \"items\"\n";
    let (out, summary, _) = run(&server, "/search", rest, &[]);
    assert_eq!(out, lines(0..1));
    assert_summary(&summary, 2, "no_next");
    assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");
    let bodies: Vec<String> = server
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        bodies,
        [r#"{"query":"x"}"#, r#"{"query":"x","page":{"token":7}}"#]
    );
}

#[test]
fn next_link_relative_and_absolute_without_the_query_again() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/v1/items?per_page=2",
            format!(
                "{{\"items\":{},\"paging\":{{\"next\":\"items?per_page=2&page=2\"}}}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/v1/items?per_page=2&page=2",
            format!(
                "{{\"items\":{},\"paging\":{{\"next\":\"/v1/items?page=3&per_page=2\"}}}}",
                ids(2..4)
            ),
        ),
        Exchange::json(
            "/v1/items?page=3&per_page=2",
            format!("{{\"items\":{},\"paging\":{{}}}}", ids(4..5)),
        ),
    ]);
    let rest =
        "query = { per_page = 2 }\n[paginate]\ntype = \"next_link\"\n[records]\npath = \"items\"\n";
    let (out, summary, _) = run(&server, "/v1/items", rest, &[]);
    assert_eq!(out, lines(0..5));
    assert_summary(&summary, 3, "no_next");
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/v1/items?per_page=2",
            "/v1/items?per_page=2&page=2",
            "/v1/items?page=3&per_page=2"
        ]
    );
}

#[test]
fn a_next_link_to_the_same_url_is_a_loop() {
    let server = TestServer::start(vec![Exchange::json(
        "/same",
        format!("{{\"items\":{},\"next\":\"/same\"}}", ids(0..2)),
    )]);
    let rest = "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[records]\npath = \"items\"\n";
    let (out, summary, stderr) = run(&server, "/same", rest, &[]);
    assert_eq!(out, lines(0..2));
    assert_summary(&summary, 1, "loop");
    assert!(stderr.contains("pagination loop"), "{stderr}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn link_header_with_relative_targets() {
    let with_link = |target: &str, body: String, link: &str| {
        let mut e = Exchange::json(target, body);
        e.headers.push(("link".to_owned(), link.to_owned()));
        e
    };
    let server = TestServer::start(vec![
        with_link(
            "/r?page=1",
            ids(0..2),
            "</r?page=2>; rel=\"next\", </r?page=9>; rel=\"last\"",
        ),
        with_link("/r?page=2", ids(2..3), "</r?page=1>; rel=\"prev first\""),
    ]);
    let (out, summary, _) = run(
        &server,
        "/r",
        "query = { page = 1 }\n[paginate]\ntype = \"link_header\"\n",
        &[],
    );
    assert_eq!(out, lines(0..3));
    assert_summary(&summary, 2, "no_next");
}

#[test]
fn range_in_the_url_makes_exactly_its_requests() {
    let server = TestServer::start(vec![
        Exchange::json("/days/1", ids(0..2)),
        Exchange::json("/days/2", "[]"),
        Exchange::json("/days/3", ids(2..3)),
    ]);
    let rest = "[paginate]\ntype = \"range\"\nparam = \"day\"\nin = \"url\"\nstart = 1\nend = 3\n";
    let (out, summary, _) = run(&server, "/days/{day}", rest, &[]);
    assert_eq!(out, lines(0..3));
    assert_summary(&summary, 3, "end_of_range");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn adf_rules_follow_odata_next_links() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/odata/People",
            format!(
                "{{\"value\":{},\"@odata.nextLink\":\"/odata/People?$skiptoken=2\"}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/odata/People?$skiptoken=2",
            format!("{{\"value\":{}}}", ids(2..3)),
        ),
    ]);
    let rest = "[paginate]\ntype = \"rules\"\nrules = { AbsoluteUrl = \"$['@odata.nextLink']\" }\n[records]\npath = \"value\"\n";
    let (out, summary, _) = run(&server, "/odata/People", rest, &[]);
    assert_eq!(out, lines(0..3));
    assert_summary(&summary, 2, "no_next");
}

#[test]
fn adf_rules_range_and_end_condition() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/q?offset=0",
            format!("{{\"rows\":{},\"more\":true}}", ids(0..2)),
        ),
        Exchange::json(
            "/q?offset=2",
            format!("{{\"rows\":{},\"more\":false}}", ids(2..4)),
        ),
        Exchange::json(
            "/q?offset=4",
            format!("{{\"rows\":{},\"more\":false}}", ids(80..81)),
        ),
    ]);
    let rest = "[paginate]\ntype = \"rules\"\nrules = { \"QueryParameters.offset\" = \"RANGE:0::2\", \"EndCondition:$.more\" = \"Const:false\" }\n[records]\npath = \"rows\"\n";
    let (out, summary, _) = run(&server, "/q", rest, &[]);
    assert_eq!(out, lines(0..4));
    assert_summary(&summary, 2, "end_condition");
}

#[test]
fn stop_condition_and_max_requests() {
    let page = |n: u32, last: bool| {
        Exchange::json(
            &format!("/s?page={n}"),
            format!("{{\"data\":{},\"last\":{last}}}", ids(n * 10..n * 10 + 1)),
        )
    };
    let server = TestServer::start(vec![page(1, false), page(2, true), page(3, false)]);
    let rest = "[paginate]\ntype = \"page\"\n[[paginate.stop]]\npath = \"$.last\"\nequals = true\n[records]\npath = \"data\"\n[limits]\nconcurrency = 2\n";
    let (out, summary, _) = run(&server, "/s", rest, &[]);
    assert_eq!(out, "{\"id\":10}\n{\"id\":20}\n");
    assert_summary(&summary, 2, "end_condition");
    let (out, summary, _) = run(
        &server,
        "/s",
        "[paginate]\ntype = \"page\"\n[records]\npath = \"data\"\n",
        &["--max-requests", "1"],
    );
    assert_eq!(out, "{\"id\":10}\n");
    assert_summary(&summary, 1, "max_requests");
}

#[test]
fn status_204_ends_pagination() {
    let mut no_content = Exchange::json("/e?page=2", "");
    no_content.status = 204;
    let server = TestServer::start(vec![Exchange::json("/e?page=1", ids(0..1)), no_content]);
    let (out, summary, _) = run(
        &server,
        "/e",
        "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n",
        &[],
    );
    assert_eq!(out, lines(0..1));
    assert_summary(&summary, 2, "status_204");
}

#[test]
fn concurrent_pages_overlap_and_keep_request_order() {
    // Later pages answer faster, so arrival order differs from request order.
    let pages: Vec<Exchange> = (0..8u32)
        .map(|k| {
            let mut e = Exchange::json(
                &format!("/slow?offset={}&limit=3", k * 3),
                ids(k * 3..k * 3 + 3),
            );
            e.delay = Duration::from_millis(u64::from(8 - k) * 25);
            e
        })
        .chain(std::iter::once(Exchange::json(
            "/slow?offset=24&limit=3",
            "[]",
        )))
        .collect();
    let server = TestServer::start(pages);
    let rest = "[paginate]\ntype = \"offset\"\nlimit = 3\n[limits]\nconcurrency = 4\n";
    let (out, summary, _) = run(&server, "/slow", rest, &[]);
    assert_eq!(out, lines(0..24));
    assert_summary(&summary, 9, "short_page");
    assert!(
        server.max_in_flight() > 1,
        "max in flight: {}",
        server.max_in_flight()
    );
    assert!(
        server.max_in_flight() <= 4,
        "max in flight: {}",
        server.max_in_flight()
    );
}

#[test]
fn a_slow_page_holds_its_slot_but_not_the_requests_after_it() {
    const SLOW: Duration = Duration::from_millis(600);
    let pages: Vec<Exchange> = (0..6u32)
        .map(|k| {
            let mut e = Exchange::json(
                &format!("/s?offset={}&limit=3", k * 3),
                ids(k * 3..k * 3 + 3),
            );
            if k == 0 {
                e.delay = SLOW;
            }
            e
        })
        .chain((6..10u32).map(|k| Exchange::json(&format!("/s?offset={}&limit=3", k * 3), "[]")))
        .collect();
    let server = TestServer::start(pages);
    let rest = "[paginate]\ntype = \"offset\"\nlimit = 3\n[limits]\nconcurrency = 2\n";
    let (out, summary, _) = run(&server, "/s", rest, &[]);
    assert_eq!(out, lines(0..18));
    assert_summary(&summary, 7, "short_page");
    let seen = server.requests();
    let first = seen.iter().map(|s| s.received).min().expect("requests");
    let mut while_slow: Vec<&str> = seen
        .iter()
        .filter(|s| s.received < first + SLOW / 2)
        .map(|s| s.target.as_str())
        .collect();
    while_slow.sort();
    // The first page's slot stays taken, the other carries pages 2 to 4
    // one after another: with two requests in flight, four pages are
    // asked for while the first is still being answered.
    assert_eq!(
        while_slow,
        [
            "/s?offset=0&limit=3",
            "/s?offset=3&limit=3",
            "/s?offset=6&limit=3",
            "/s?offset=9&limit=3"
        ],
    );
    assert!(
        server.max_in_flight() <= 2,
        "max in flight: {}",
        server.max_in_flight()
    );
}

#[test]
fn fanout_values_into_the_query_with_a_value_column() {
    // Every answer takes a while, so requests sent together overlap
    // whatever order the runtime starts them in.
    let slow = |target: &str, body: &str| Exchange {
        delay: Duration::from_millis(150),
        ..Exchange::json(target, body.to_owned())
    };
    let server = TestServer::start(vec![
        slow("/weather?city=Oslo", "[{\"t\": -3}]"),
        slow("/weather?city=Rome", "[{\"t\": 18}]"),
        slow("/weather?city=S%C3%A3o+Paulo", "[{\"t\": 25}]"),
    ]);
    let rest = "[fanout]\nparam = \"city\"\nvalues = [\"Oslo\", \"Rome\", \"São Paulo\"]\n[[columns]]\nname = \"city\"\nvalue = \"{value}\"\n[[columns]]\nname = \"t\"\ntype = \"long\"\n";
    let (out, summary, _) = run(&server, "/weather", rest, &[]);
    assert_eq!(
        out,
        "{\"city\":\"Oslo\",\"t\":-3}\n{\"city\":\"Rome\",\"t\":18}\n{\"city\":\"São Paulo\",\"t\":25}\n"
    );
    assert_summary(&summary, 3, "no_next");
    assert!(
        server.max_in_flight() > 1,
        "fan-out values go out concurrently"
    );
}

#[test]
fn fanout_values_file_into_the_url_each_paginated() {
    let server = TestServer::start(vec![
        Exchange::json("/acct/a-1/tx?page=1", ids(0..2)),
        Exchange::json("/acct/a-1/tx?page=2", "[]"),
        Exchange::json("/acct/b%202/tx?page=1", ids(10..11)),
        Exchange::json("/acct/b%202/tx?page=2", "[]"),
    ]);
    let dir = Dir::new();
    // As Windows tools write it: a byte order mark, CRLF, a blank line.
    dir.write("accounts.txt", "\u{feff}a-1\r\n\r\nb 2\r\n");
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/acct/{{account}}/tx\"\n[fanout]\nparam = \"account\"\nin = \"url\"\nvalues_file = \"accounts.txt\"\n[paginate]\ntype = \"page\"\n[[columns]]\nname = \"account\"\nvalue = \"{{value}}\"\n[[columns]]\nname = \"id\"\ntype = \"long\"\n",
            server.url()
        ),
    );
    let summary = dir.path("s.json");
    let run = hydrant(&["run", path_str(&job), "--summary-json", path_str(&summary)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"account\":\"a-1\",\"id\":0}\n{\"account\":\"a-1\",\"id\":1}\n{\"account\":\"b 2\",\"id\":10}\n"
    );
    let summary: Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    assert_summary(&summary, 4, "empty_page");
}

#[test]
fn fanout_from_a_paginated_parent_endpoint() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/users",
            r#"{"users": [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bo"}], "next": "/users?page=2"}"#,
        ),
        Exchange::json(
            "/users?page=2",
            r#"{"users": [{"id": 3, "name": "Cy"}, {"name": "no id"}]}"#,
        ),
        Exchange::json("/users/1/posts", r#"[{"title": "a"}]"#),
        Exchange::json("/users/2/posts", r#"[]"#),
        Exchange::json("/users/3/posts", r#"[{"title": "b"}, {"title": "c"}]"#),
    ]);
    let rest = format!(
        "[fanout]\nin = \"url\"\n[fanout.from]\npath = \"id\"\n[fanout.from.request]\nurl = \"{}/users\"\n[fanout.from.paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[fanout.from.records]\npath = \"users\"\n[[columns]]\nname = \"user\"\nvalue = \"{{parent.name}}\"\n[[columns]]\nname = \"title\"\n",
        server.url()
    );
    let (out, summary, _) = run(&server, "/users/{value}/posts", &rest, &[]);
    assert_eq!(
        out,
        "{\"user\":\"Ann\",\"title\":\"a\"}\n{\"user\":\"Cy\",\"title\":\"b\"}\n{\"user\":\"Cy\",\"title\":\"c\"}\n"
    );
    assert_eq!(summary["requests"], 5, "{summary}");
    assert_eq!(summary["records"], 3);
    assert!(
        summary["warnings"][0]
            .as_str()
            .unwrap()
            .contains("1 parent records had no value at fanout.from.path"),
        "{summary}"
    );
}

/// A `{parent.FIELD}` in the URL that the parent record lacks fails the
/// run, naming the field: the job is not wrong until a record says so.
#[test]
fn a_parent_field_the_parent_record_lacks_is_named() {
    let server = TestServer::start(vec![
        Exchange::json("/users", r#"{"users": [{"id": 1, "name": "Ann"}]}"#),
        Exchange::json("/users/1/Ann", r#"[{"title": "a"}]"#),
    ]);
    let rest = format!(
        "[fanout]\nin = \"url\"\n[fanout.from]\npath = \"id\"\n[fanout.from.request]\n\
         url = \"{}/users\"\n[fanout.from.records]\npath = \"users\"\n",
        server.url()
    );
    let (out, _, _) = run(&server, "/users/{value}/{parent.name}", &rest, &[]);
    assert_eq!(out, "{\"title\":\"a\"}\n");
    let (failed, _) = run_job(&server.url(), "/users/{value}/{parent.nmae}", &rest, &[]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(
            "request.url: placeholder `{parent.nmae}` has no value: the parent record of this \
             pass has no field `nmae` (check the name against the parent job's records)"
        ),
        "{}",
        failed.stderr
    );
}

/// A fan-out that gives no value (an empty `values_file` from a failed
/// export, a parent job that found nothing) makes no request: the run
/// says so, rather than pass for a quiet day.
#[test]
fn a_fanout_without_values_says_so() {
    let server = TestServer::start(vec![Exchange::json("/users", r#"{"users": []}"#)]);
    let dir = Dir::new();
    dir.write("accounts.txt", "\n  \n");
    let from = format!(
        "[fanout.from]\npath = \"id\"\n[fanout.from.request]\nurl = \"{}/users\"\n[fanout.from.records]\npath = \"users\"\n",
        server.url()
    );
    for (fanout, said) in [
        (
            format!(
                "values_file = \"{}\"\n",
                path_str(&dir.path("accounts.txt"))
            ),
            format!(
                "fanout.values_file `{}` holds no value",
                path_str(&dir.path("accounts.txt"))
            ),
        ),
        (
            "values = []\n".to_owned(),
            "fanout.values is empty".to_owned(),
        ),
        (from, "the [fanout.from] job gave no value".to_owned()),
    ] {
        let rest = format!("[fanout]\nin = \"url\"\n{fanout}");
        let (run, summary) = run_job(&server.url(), "/acct/{value}/tx", &rest, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(summary["records"], 0);
        let warning = format!("{said}: the run made no request");
        assert_eq!(
            summary["warnings"],
            serde_json::json!([warning]),
            "{summary}"
        );
        assert!(run.stderr.contains(&warning), "{}", run.stderr);
    }
    // Only the parent job asked anything.
    assert!(server.requests().iter().all(|s| s.target == "/users"));
}

/// A parent record's value of `..` in a path segment would send the
/// request, with the job's credentials, to another path of the API.
#[test]
fn a_dot_segment_value_is_refused_rather_than_resolved() {
    let server = TestServer::start(vec![
        Exchange::json("/users", r#"[{"id": 1}, {"id": ".."}, {"id": 3}]"#),
        Exchange::json("/users/1/posts", r#"[{"title": "a"}]"#),
        Exchange::json("/posts", r#"[{"title": "everyone's"}]"#),
        Exchange::json("/users/3/posts", r#"[{"title": "b"}]"#),
    ]);
    let rest = format!(
        "[fanout]\nin = \"url\"\n[fanout.from]\npath = \"id\"\n[fanout.from.request]\nurl = \"{}/users\"\n[limits]\nconcurrency = 1\n",
        server.url()
    );
    let (run, _) = run_job(&server.url(), "/users/{value}/posts", &rest, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "request.url: placeholder `{value}` is `..`, which as a segment of the URL's path \
             would step to another path"
        ),
        "{}",
        run.stderr
    );
    let sent: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
    assert!(!sent.contains(&"/posts".to_owned()), "{sent:?}");
}

#[test]
fn max_requests_caps_the_whole_fanout() {
    let server = TestServer::start(vec![
        Exchange::json("/v?k=a", ids(1..2)),
        Exchange::json("/v?k=b", ids(2..3)),
        Exchange::json("/v?k=c", ids(3..4)),
    ]);
    let rest =
        "[fanout]\nparam = \"k\"\nvalues = [\"a\", \"b\", \"c\"]\n[limits]\nconcurrency = 1\n";
    let (out, summary, _) = run(&server, "/v", rest, &["--max-requests", "2"]);
    assert_eq!(out, lines(1..3));
    assert_summary(&summary, 2, "max_requests");
    assert_eq!(server.requests().len(), 2);
    // A cap that cuts nothing off is not the reason the run ended.
    let (out, summary, _) = run(&server, "/v", rest, &["--max-requests", "3"]);
    assert_eq!(out, lines(1..4));
    assert_summary(&summary, 3, "no_next");
}

#[test]
fn an_unknown_adf_rule_is_a_config_error_before_any_request() {
    let server = TestServer::start(vec![Exchange::json("/x", "[]")]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/x\"\n[paginate]\ntype = \"rules\"\nrules = {{ NextPage = \"$.next\" }}\n", server.url()),
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("paginate.rules.NextPage: is not a rule ADF knows"),
        "{}",
        run.stderr
    );
    assert!(server.requests().is_empty());
}

#[test]
fn next_links_at_the_head_of_pages_follow_the_first_occurrence_of_the_key() {
    // Declared columns: pages are parsed beside their fetch, and the next
    // request leaves on the link at the head of the page. A repeated key
    // keeps its first value, as the full parse reads it.
    let server = TestServer::start(vec![
        Exchange::json(
            "/p",
            r#"{"next": "/p?page=2", "next": "/p?page=9", "data": [{"id": 0}]}"#,
        ),
        Exchange::json("/p?page=2", r#"{"data": [{"id": 1}], "next": "/p?page=3"}"#),
        Exchange::json("/p?page=3", r#"{"next": null, "data": [{"id": 2}]}"#),
        Exchange::json("/p?page=9", r#"{"data": [{"id": 9}]}"#),
    ]);
    let (out, summary, _) = run(
        &server,
        "/p",
        "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[records]\npath = \"data\"\n\
         [[columns]]\nname = \"id\"\ntype = \"long\"\n",
        &[],
    );
    assert_eq!(out, lines(0..3));
    assert_summary(&summary, 3, "no_next");
}

#[test]
fn next_links_at_the_tail_of_pages_are_followed_before_the_page_is_parsed() {
    // The link is the page's last member, after the records: it is read
    // backwards from the complete body. Where the key could also appear
    // earlier (page 2 repeats it; page 3 has it in a record), the page's
    // parse decides, and the first occurrence wins.
    let server = TestServer::start(vec![
        Exchange::json(
            "/p",
            r#"{"data": [{"id": 0}], "paging": {"prev": null, "next": "/p?page=2"}}"#,
        ),
        Exchange::json(
            "/p?page=2",
            r#"{"paging": {"next": "/p?page=3"}, "data": [{"id": 1}], "paging": {"next": "/p?page=9"}}"#,
        ),
        Exchange::json(
            "/p?page=3",
            r#"{"data": [{"id": 2, "paging": {"next": "/p?page=9"}}], "paging": {"next": "/p?page=4"}}"#,
        ),
        Exchange::json(
            "/p?page=4",
            r#"{"data": [{"id": 3}], "paging": {"next": null}}"#,
        ),
        Exchange::json("/p?page=9", r#"{"data": [{"id": 9}]}"#),
    ]);
    let (run, summary) = crate::util::run_job_with(
        &server.url(),
        "/p",
        "[paginate]\ntype = \"next_link\"\nfrom = \"paging.next\"\n[records]\npath = \"data\"\n\
         [[columns]]\nname = \"id\"\ntype = \"long\"\n",
        &[],
        &[("RUST_LOG", "hydrant_engine=debug")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..4));
    assert_summary(&summary, 4, "no_next");
    // Pages 1 and 4 were read from their tails; 2 and 3 were left to
    // their parse.
    let early = run
        .stderr
        .lines()
        .filter(|l| l.contains("read before the page is parsed") && l.contains("complete=true"))
        .count();
    assert_eq!(early, 2, "{}", run.stderr);
}

/// Serves a next_link page whose head names the next page and whose rest
/// is held back until that next page is asked for (10 s at most), on its
/// own connection, gzipped (the head sync-flushed) if `gzip`; returns the
/// address and whether the next page was asked for while the first was
/// still arriving.
fn serve_head_first(
    head: &'static str,
    rest: &'static str,
    next: &'static str,
    gzip: bool,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Condvar, Mutex};

    let (first, body, encoding) = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(head.as_bytes()).unwrap();
        encoder.flush().unwrap();
        let first = encoder.get_ref().len();
        encoder.write_all(rest.as_bytes()).unwrap();
        (
            first,
            encoder.finish().unwrap(),
            "content-encoding: gzip\r\n",
        )
    } else {
        (head.len(), format!("{head}{rest}").into_bytes(), "")
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new((Mutex::new(false), Condvar::new()));
    let overlapped = Arc::new(AtomicBool::new(false));
    let seen = overlapped.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let (asked, seen, body) = (asked.clone(), seen.clone(), body.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut header = String::new();
                    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                        header.clear();
                    }
                    let target = request_line.split(' ').nth(1).unwrap_or_default();
                    let ok = |length: usize, encoding: &str| {
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{encoding}content-length: {length}\r\n\r\n"
                        )
                    };
                    if target.contains("page=2") {
                        *asked.0.lock().unwrap() = true;
                        asked.1.notify_all();
                        let _ = write!(stream, "{}{next}", ok(next.len(), ""));
                        continue;
                    }
                    let _ = stream.write_all(ok(body.len(), encoding).as_bytes());
                    let _ = stream.write_all(&body[..first]);
                    let _ = stream.flush();
                    let (flag, _) = asked
                        .1
                        .wait_timeout_while(asked.0.lock().unwrap(), Duration::from_secs(10), |a| {
                            !*a
                        })
                        .unwrap();
                    seen.store(*flag, Ordering::SeqCst);
                    drop(flag);
                    let _ = stream.write_all(&body[first..]);
                }
            });
        }
    });
    (url, overlapped)
}

#[test]
fn a_next_link_at_the_head_of_a_page_is_followed_before_the_page_ends() {
    let head = "{\"next\":\"/items?page=2\",\"data\":[{\"id\":0},";
    let rest = "{\"id\":1}]}";
    let next = "{\"next\":null,\"data\":[{\"id\":2}]}";
    for gzip in [false, true] {
        let (url, overlapped) = serve_head_first(head, rest, next, gzip);
        let job = "[paginate]\ntype = \"next_link\"\nfrom = \"$.next\"\n[records]\npath = \"data\"\n\
                   [limits]\nconcurrency = 2\n[[columns]]\nname = \"id\"\ntype = \"long\"\n";
        let (run, summary) = run_job_with(&url, "/items", job, &[], &[]);
        assert_eq!(run.code, 0, "gzip {gzip}: {}", run.stderr);
        assert_eq!(
            run.stdout, "{\"id\":0}\n{\"id\":1}\n{\"id\":2}\n",
            "gzip {gzip}"
        );
        assert!(
            overlapped.load(std::sync::atomic::Ordering::SeqCst),
            "gzip {gzip}: page 2 was asked for only after page 1 had all arrived"
        );
        assert_summary(&summary, 2, "no_next");
        assert_eq!(summary["records"], 3, "{summary}");
        // Decoded bytes, counted once page 1's rows are in.
        assert_eq!(
            summary["bytes"],
            head.len() + rest.len() + next.len(),
            "gzip {gzip}: {summary}"
        );
    }
}

/// A server that pages by the header `x-page` (1, 2, 3; then an empty page).
fn header_paged() -> TestServer {
    TestServer::start_fn(|seen: &Seen| {
        let page: u32 = seen
            .header("x-page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        match page {
            1..=3 => json(200, ids(page * 10..page * 10 + 2)),
            _ => json(200, "[]"),
        }
    })
}

#[test]
fn pagination_that_varies_only_a_header_is_not_a_loop() {
    let expected: String = [1, 2, 3].map(|p| lines(p * 10..p * 10 + 2)).concat();
    let server = header_paged();
    let rest =
        "[paginate]\ntype = \"range\"\nparam = \"X-Page\"\nin = \"header\"\nstart = 1\nend = 3\n";
    let (out, summary, _) = run(&server, "/h", rest, &[]);
    assert_eq!(out, expected);
    assert_summary(&summary, 3, "end_of_range");

    let server = header_paged();
    let rest = "[paginate]\ntype = \"page\"\nparam = \"X-Page\"\nin = \"header\"\n[limits]\nconcurrency = 1\n";
    let (out, summary, _) = run(&server, "/h", rest, &[]);
    assert_eq!(out, expected);
    assert_summary(&summary, 4, "empty_page");

    // An ADF rule whose variable is a header, the token coming from the body.
    let server = TestServer::start_fn(|seen: &Seen| {
        let (data, next) = match seen.header("x-page-token") {
            None => (ids(0..2), "\"t1\""),
            Some("t1") => (ids(2..4), "\"t2\""),
            Some(_) => (ids(4..5), "null"),
        };
        json(200, format!("{{\"data\":{data},\"token\":{next}}}"))
    });
    let rest = "[paginate]\ntype = \"rules\"\nrules = { \"Headers.X-Page-Token\" = \"$.token\", \"EndCondition:$.token\" = \"NonExist\" }\n[records]\npath = \"data\"\n";
    let (run_, summary) = run_job(&server.url(), "/r", rest, &[]);
    assert_eq!(run_.code, 0, "{}", run_.stderr);
    assert_eq!(run_.stdout, lines(0..5));
    assert_eq!(summary["requests"], 3, "{summary}");
}

/// A server that answers the body's `page.n` (or `page`, or form field
/// `page`) and records what it was sent.
fn body_paged() -> TestServer {
    TestServer::start_fn(|seen: &Seen| {
        let body = String::from_utf8_lossy(&seen.body).into_owned();
        let page = match serde_json::from_str::<Value>(&body) {
            Ok(json) => json
                .pointer("/page/n")
                .or_else(|| json.get("page"))
                .and_then(Value::as_u64)
                .unwrap_or(0) as u32,
            Err(_) => url::form_urlencoded::parse(body.as_bytes())
                .find(|(n, _)| n == "page")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0),
        };
        json(200, ids(page * 10..page * 10 + 1))
    })
}

#[test]
fn body_pagination_sets_the_member_of_a_string_body_a_form_or_no_body() {
    let paginate = "[paginate]\ntype = \"range\"\nin = \"body\"\nstart = 1\nend = 2\n";
    let expected = format!("{}{}", lines(10..11), lines(20..21));
    let cases = [
        (
            "method = \"POST\"\nbody = '{\"q\": \"x\", \"page\": {\"size\": 5}}'\n",
            "page.n",
            vec![
                "{\"q\":\"x\",\"page\":{\"size\":5,\"n\":1}}",
                "{\"q\":\"x\",\"page\":{\"size\":5,\"n\":2}}",
            ],
            "application/json",
        ),
        (
            "method = \"POST\"\nform = { q = \"x\", page = \"0\" }\n",
            "page",
            vec!["q=x&page=1", "q=x&page=2"],
            "application/x-www-form-urlencoded",
        ),
        (
            "method = \"POST\"\n",
            "page",
            vec!["{\"page\":1}", "{\"page\":2}"],
            "application/json",
        ),
    ];
    for (request, param, bodies, content_type) in cases {
        let server = body_paged();
        let rest = format!("{request}{paginate}param = \"{param}\"\n");
        let (out, summary, _) = run(&server, "/b", &rest, &[]);
        assert_eq!(out, expected, "{request}");
        assert_summary(&summary, 2, "end_of_range");
        let seen = server.requests();
        // Range requests go out concurrently: their order of arrival varies.
        let mut sent: Vec<String> = seen
            .iter()
            .map(|s| String::from_utf8_lossy(&s.body).into_owned())
            .collect();
        sent.sort();
        assert_eq!(sent, bodies, "{request}");
        assert!(
            seen.iter()
                .all(|s| s.header("content-type") == Some(content_type))
        );
    }
}

#[test]
fn body_pagination_on_a_get_or_a_text_body_is_a_config_error() {
    for (request, message) in [
        (
            "",
            "paginate.in: `body` needs `request.method = \"POST\"`; a GET request has no body",
        ),
        (
            "method = \"POST\"\nbody = \"page=1\"\n",
            "paginate.in: `body` sets a member of `request.body`, which is a string but not a JSON object",
        ),
    ] {
        let rest = format!("{request}[paginate]\ntype = \"page\"\nin = \"body\"\n");
        let (run, _) = run_job("http://127.0.0.1:9", "/b", &rest, &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(message), "{}", run.stderr);
    }
}

/// Runs an ADF `rules` job against `server` and returns the targets sent
/// (sorted: range requests go out concurrently), stdout and the summary.
fn run_rules(
    server: &TestServer,
    target: &str,
    rules: &str,
    more: &str,
) -> (Vec<String>, String, Value) {
    let rest = format!(
        "{more}[paginate]\ntype = \"rules\"\nrules = {{ {rules} }}\n[records]\npath = \"data\"\n"
    );
    let (run, summary) = run_job(&server.url(), target, &rest, &[]);
    assert_eq!(run.code, 0, "{rules}: {}", run.stderr);
    let mut sent: Vec<String> = server.requests().iter().map(|s| s.target.clone()).collect();
    sent.sort();
    (sent, run.stdout, summary)
}

/// `{"data": [{"id": n}]}`, or `{"data": []}` for `None`.
fn data(id: Option<u32>) -> Exchange {
    json(
        200,
        format!(
            "{{\"data\":{}}}",
            id.map_or("[]".to_owned(), |i| ids(i..i + 1))
        ),
    )
}

#[test]
fn adf_examples_1_to_3_fill_a_placeholder_where_it_stands() {
    // Example 1: the variable in the query, as the URL writes it.
    let server = TestServer::start_fn(|seen: &Seen| {
        let offset = seen.target.rsplit('=').next().unwrap().parse().unwrap();
        data(Some(offset))
    });
    let (sent, out, summary) = run_rules(
        &server,
        "/incident?sysparm_limit=2&sysparm_offset={offset}",
        "\"QueryParameters.{offset}\" = \"RANGE:0:4:2\"",
        "",
    );
    assert_eq!(
        sent,
        [
            "/incident?sysparm_limit=2&sysparm_offset=0",
            "/incident?sysparm_limit=2&sysparm_offset=2",
            "/incident?sysparm_limit=2&sysparm_offset=4"
        ]
    );
    assert_eq!(
        out,
        format!("{}{}{}", lines(0..1), lines(2..3), lines(4..5))
    );
    assert_eq!(summary["stopped"], "end_of_range");

    // Example 2: the variable in the URL's path.
    let server = TestServer::start_fn(|seen: &Seen| {
        data(
            seen.target
                .strip_prefix("/api/")
                .and_then(|n| n.parse().ok()),
        )
    });
    let (sent, out, _) = run_rules(
        &server,
        "/api/{id}",
        "\"AbsoluteUrl.{id}\" = \"RANGE:1:3:1\"",
        "",
    );
    assert_eq!(sent, ["/api/1", "/api/2", "/api/3"]);
    assert_eq!(out, lines(1..4));

    // Example 3: the variable in a header the job sets.
    let server =
        TestServer::start_fn(|seen: &Seen| data(seen.header("id").and_then(|n| n.parse().ok())));
    let (_, out, summary) = run_rules(
        &server,
        "/h",
        "\"Headers.{id}\" = \"RANGE:0:20:10\"",
        "headers = { id = \"{id}\" }\n",
    );
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    assert_eq!(got, ["{\"id\":0}", "{\"id\":10}", "{\"id\":20}"]);
    assert_eq!(summary["requests"], 3);
}

#[test]
fn adf_examples_4_to_7_end_on_the_response() {
    // Example 4: an open range that ends when the data is empty.
    let server = TestServer::start_fn(|seen: &Seen| {
        let n: u32 = seen.target.strip_prefix("/api/").unwrap().parse().unwrap();
        data((n <= 2).then_some(n))
    });
    let rules = "\"AbsoluteUrl.{id}\" = \"RANGE:1::1\", \"EndCondition:$.data\" = \"Empty\"";
    let (_, out, summary) = run_rules(&server, "/api/{id}", rules, "[limits]\nconcurrency = 1\n");
    assert_eq!(out, lines(1..3));
    assert_eq!(summary["stopped"], "end_condition");

    // Example 5: until the data member no longer exists.
    let server = TestServer::start_fn(|seen: &Seen| {
        let page: u32 = seen.target.rsplit('=').next().unwrap().parse().unwrap();
        match page {
            1 | 2 => data(Some(page)),
            _ => json(200, "{\"done\":true}"),
        }
    });
    let rules = "\"QueryParameters.page\" = \"RANGE:1::1\", \"EndCondition:$.data\" = \"NonExist\"";
    let (_, out, summary) = run_rules(&server, "/p", rules, "[limits]\nconcurrency = 1\n");
    assert_eq!(out, lines(1..3));
    assert_eq!(summary["requests"], 3);

    // Example 6: until a member holds a constant.
    let server = TestServer::start_fn(|seen: &Seen| {
        let page: u32 = seen.target.rsplit('=').next().unwrap().parse().unwrap();
        json(
            200,
            format!(
                "{{\"data\":{},\"meta\":{{\"completed\":{}}}}}",
                ids(page..page + 1),
                page == 2
            ),
        )
    });
    let rules = "\"QueryParameters.page\" = \"RANGE:1::1\", \"EndCondition:$.meta.completed\" = \"Const:true\"";
    let (_, out, _) = run_rules(&server, "/p", rules, "[limits]\nconcurrency = 1\n");
    assert_eq!(out, lines(1..3));

    // Example 7: until a response header exists.
    let server = TestServer::start_fn(|seen: &Seen| {
        let page: u32 = seen.target.rsplit('=').next().unwrap().parse().unwrap();
        let mut answer = data(Some(page));
        if page == 3 {
            answer.headers.push(("complete".into(), "1".into()));
        }
        answer
    });
    let rules =
        "\"QueryParameters.page\" = \"RANGE:1::1\", \"EndCondition:Headers.Complete\" = \"Exist\"";
    let (_, out, _) = run_rules(&server, "/p", rules, "[limits]\nconcurrency = 1\n");
    assert_eq!(out, lines(1..4));
}

#[test]
fn adf_example_8_and_data_flow_spellings() {
    // Example 8: the next URL from the body, as a data flow spells it.
    let server = TestServer::start_fn(|seen: &Seen| match seen.target.as_str() {
        "/odata" => json(
            200,
            format!(
                "{{\"data\":{},\"@odata.nextLink\":\"/odata?skip=1\"}}",
                ids(0..1)
            ),
        ),
        _ => data(Some(1)),
    });
    let (sent, out, summary) = run_rules(
        &server,
        "/odata",
        "AbsoluteUrl = \"body.{@odata.nextLink}\"",
        "",
    );
    assert_eq!(sent, ["/odata", "/odata?skip=1"]);
    assert_eq!(out, lines(0..2));
    assert_eq!(summary["stopped"], "no_next");

    // `header.X` for a response header, and `Body.x` for the request body.
    let server = TestServer::start_fn(|seen: &Seen| {
        let body: Value = serde_json::from_slice(&seen.body).unwrap();
        // The first page's number comes from the job, the others from a
        // header, as text.
        let n = &body["page"]["n"];
        let page = n.as_u64().or_else(|| n.as_str()?.parse().ok()).unwrap() as u32;
        let mut answer = data(Some(page));
        if page < 3 {
            answer
                .headers
                .push(("x-next".into(), (page + 1).to_string()));
        }
        answer
    });
    let (_, out, _) = run_rules(
        &server,
        "/b",
        "\"Body.page.n\" = \"header.X-Next\"",
        "method = \"POST\"\nbody = '{\"page\": {\"n\": 1}}'\n",
    );
    assert_eq!(out, lines(1..4));
    let bodies: Vec<String> = server
        .requests()
        .iter()
        .map(|s| String::from_utf8_lossy(&s.body).into_owned())
        .collect();
    assert_eq!(bodies[1], "{\"page\":{\"n\":\"2\"}}");

    // SupportRFC5988 = false as the only rule: one request, no loop.
    let server = TestServer::start_fn(|_: &Seen| data(Some(7)));
    let (sent, out, summary) = run_rules(&server, "/one", "SupportRFC5988 = \"false\"", "");
    assert_eq!((sent.len(), out), (1, lines(7..8)));
    assert_eq!(summary["stopped"], "no_next");
    assert!(
        summary["warnings"].as_array().unwrap().is_empty(),
        "{summary}"
    );
}

/// A parent's number goes into the child's URL as the parent wrote it:
/// a number past 64 bits is not rounded to a double, in the value or in
/// another field, a double whose last digit a quick reading gets wrong
/// keeps its digits, and so does one whose shortest text differs.
#[test]
fn fanout_from_keeps_the_digits_of_a_parents_numbers() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/users",
            r#"{"users": [{"id": 12345678901234567890123, "w": 0.18955093852823746, "p": 10.10}, {"id": 7, "w": 98765432109876543210987, "p": 2.50E1}]}"#,
        ),
        Exchange::json(
            "/users/12345678901234567890123/posts?w=0.18955093852823746&p=10.10",
            r#"[{"title": "a"}]"#,
        ),
        Exchange::json(
            "/users/7/posts?w=98765432109876543210987&p=2.50E1",
            r#"[{"title": "b"}]"#,
        ),
    ]);
    let rest = format!(
        "[fanout]\nin = \"url\"\n[fanout.from]\npath = \"id\"\n[fanout.from.request]\nurl = \"{}/users\"\n[fanout.from.records]\npath = \"users\"\n[[columns]]\nname = \"title\"\n",
        server.url()
    );
    let (out, summary, _) = run(
        &server,
        "/users/{value}/posts?w={parent.w}&p={parent.p}",
        &rest,
        &[],
    );
    let mut targets: Vec<String> = server.requests().iter().map(|s| s.target.clone()).collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "/users",
            "/users/12345678901234567890123/posts?w=0.18955093852823746&p=10.10",
            "/users/7/posts?w=98765432109876543210987&p=2.50E1"
        ],
        "{summary}"
    );
    assert_eq!(out, "{\"title\":\"a\"}\n{\"title\":\"b\"}\n");
}

/// A parent record that repeats a key gives `{parent.FIELD}` the first
/// value, as `path` and every other reading of a record take it.
#[test]
fn fanout_from_takes_the_first_of_a_parents_repeated_key() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/users",
            r#"{"users": [{"id": 1, "org": "a", "id": 2, "org": "b", "meta": {"t": "x", "t": "y"}}]}"#,
        ),
        Exchange::json("/users/1/posts?org=a&t=x", r#"[{"title": "first"}]"#),
    ]);
    let rest = format!(
        "[fanout]\nin = \"url\"\n[fanout.from]\npath = \"id\"\n[fanout.from.request]\nurl = \"{}/users\"\n[fanout.from.records]\npath = \"users\"\n[[columns]]\nname = \"title\"\n",
        server.url()
    );
    let (out, summary, _) = run(
        &server,
        "/users/{value}/posts?org={parent.org}&t={parent.meta.t}",
        &rest,
        &[],
    );
    let targets: Vec<String> = server.requests().iter().map(|s| s.target.clone()).collect();
    assert_eq!(targets, ["/users", "/users/1/posts?org=a&t=x"], "{summary}");
    assert_eq!(out, "{\"title\":\"first\"}\n");
}

/// A cursor past 64 bits goes out as its digits, in the query and in a
/// JSON body, and the body's own numbers past 64 bits stay as written.
#[test]
fn a_cursor_past_64_bits_goes_out_as_its_digits() {
    let page = format!(
        "{{\"items\":{},\"token\":12345678901234567890123}}",
        ids(0..1)
    );
    let last = "{\"items\":[],\"token\":12345678901234567890123}".to_owned();
    let server = TestServer::start_fn(move |seen| {
        let asked_with_cursor =
            seen.target.contains("after=") || seen.body.windows(7).any(|w| w == b"\"token\"");
        let body = if asked_with_cursor { &last } else { &page };
        Exchange {
            method: seen.method.clone(),
            ..Exchange::json(&seen.target, body.clone())
        }
    });
    // The second page names the same cursor again, with no records: the
    // end of each run, after its second request.
    let cursor = |param: &str| {
        format!(
            "[paginate]\ntype = \"cursor\"\nfrom = \"token\"\n{param}[records]\npath = \"items\"\n"
        )
    };
    run(&server, "/items", &cursor("param = \"after\"\n"), &[]);
    let body = "method = \"POST\"\nbody = '{\"query\": \"x\", \"min\": 98765432109876543210987}'\n";
    let in_body = cursor("param = \"page.token\"\nin = \"body\"\n");
    run(&server, "/search", &format!("{body}{in_body}"), &[]);
    let sent: Vec<(String, String)> = server
        .requests()
        .iter()
        .map(|r| {
            (
                r.target.clone(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("/items".to_owned(), String::new()),
            ("/items?after=12345678901234567890123".to_owned(), String::new()),
            (
                "/search".to_owned(),
                r#"{"query": "x", "min": 98765432109876543210987}"#.to_owned()
            ),
            (
                "/search".to_owned(),
                r#"{"query":"x","min":98765432109876543210987,"page":{"token":12345678901234567890123}}"#
                    .to_owned()
            ),
        ]
    );
}

/// A cursor that is a number goes out as the API spelled it: a trailing
/// zero, digits past a double's 17 and an exponent are kept, on the first
/// page (read as a tree while columns are inferred) and on later ones
/// (read from the index). An API that keeps its cursors as text knows
/// each again.
#[test]
fn a_numeric_cursor_goes_out_as_the_api_spelled_it() {
    let chain = [
        ("", "1.50"),
        ("1.50", "0.1000000000000000055511151231257827"),
        ("0.1000000000000000055511151231257827", "1e2"),
        ("1e2", "2.5"),
        ("2.5", "null"),
    ];
    let server = TestServer::start_fn(move |seen: &Seen| {
        let cursor = seen.target.split_once("cursor=").map_or("", |(_, c)| c);
        match chain.iter().position(|(at, _)| *at == cursor) {
            Some(page) => Exchange::json(
                &seen.target,
                format!(
                    r#"{{"data": [{{"id": {page}}}], "next": {}}}"#,
                    chain[page].1
                ),
            ),
            None => json(400, format!(r#"{{"error": "no cursor {cursor}"}}"#)),
        }
    });
    // A path of keys, and one the general JSONPath evaluator reads; and
    // CSV, whose first two pages are held while its columns are sampled.
    let csv = "id\n0\n1\n2\n3\n4\n".to_owned();
    let cases = [
        ("next", "", "", lines(0..5)),
        (
            "next",
            "",
            "[[columns]]\nname = \"id\"\ntype = \"long\"\n",
            lines(0..5),
        ),
        ("$['next','none']", "", "", lines(0..5)),
        (
            "next",
            "infer_pages = 2\n",
            "[output]\nformat = \"csv\"\n",
            csv,
        ),
    ];
    for (from, records, more, expected) in cases {
        let rest = format!(
            "[paginate]\ntype = \"cursor\"\nfrom = \"{from}\"\n[records]\npath = \"data\"\n\
             {records}[limits]\nmax_retries = 0\n{more}"
        );
        let (run, summary) = run_job(&server.url(), "/c", &rest, &[]);
        assert_eq!(run.code, 0, "{rest}: {}", run.stderr);
        assert_eq!(run.stdout, expected, "{rest}");
        assert_eq!(summary["requests"], 5, "{summary}");
    }
}

/// How [`every_record_comes_once_from_apis_of_any_size`] pages its API.
#[derive(Debug, Clone, Copy)]
enum Paged {
    Offset {
        limit: usize,
        concurrency: usize,
    },
    Page {
        size: usize,
        concurrency: usize,
    },
    Cursor {
        size: usize,
    },
    /// The link at the head of the body or at its tail.
    NextLink {
        size: usize,
        at_tail: bool,
    },
    LinkHeader {
        size: usize,
    },
    /// No pagination: every record on one page.
    Single {
        concurrency: usize,
    },
}

impl Paged {
    /// The kind of paging `kind` (0 to 6) tells, with pages of `size`
    /// and `concurrency` requests at once where the kind allows.
    fn of_kind(kind: usize, size: usize, concurrency: usize) -> Paged {
        match kind {
            0 => Paged::Offset {
                limit: size,
                concurrency,
            },
            1 => Paged::Page { size, concurrency },
            2 => Paged::Cursor { size },
            3 => Paged::NextLink {
                size,
                at_tail: false,
            },
            4 => Paged::NextLink {
                size,
                at_tail: true,
            },
            5 => Paged::LinkHeader { size },
            _ => Paged::Single { concurrency },
        }
    }

    /// The path of the first request.
    fn path(self) -> &'static str {
        match self {
            Paged::Offset { .. } => "/o",
            Paged::Page { .. } => "/p",
            Paged::Cursor { .. } => "/c",
            _ => "/l",
        }
    }

    fn job(self) -> String {
        let records = "[records]\npath = \"data\"\n";
        match self {
            Paged::Offset { limit, concurrency } => format!(
                "[paginate]\ntype = \"offset\"\nlimit = {limit}\n{records}[limits]\nconcurrency = {concurrency}\n"
            ),
            Paged::Page { size, concurrency } => format!(
                "[paginate]\ntype = \"page\"\nsize = {size}\nsize_param = \"size\"\n{records}[limits]\nconcurrency = {concurrency}\n"
            ),
            Paged::Cursor { .. } => {
                format!("[paginate]\ntype = \"cursor\"\nfrom = \"paging.after\"\n{records}")
            }
            Paged::NextLink { .. } => {
                format!("[paginate]\ntype = \"next_link\"\nfrom = \"paging.next\"\n{records}")
            }
            Paged::LinkHeader { .. } => format!("[paginate]\ntype = \"link_header\"\n{records}"),
            Paged::Single { concurrency } => {
                format!("{records}[limits]\nconcurrency = {concurrency}\n")
            }
        }
    }

    /// The records `[from, to)` of the request `target`, and the next
    /// page's start when there is one.
    fn span(self, target: &str, n: usize) -> (usize, usize, Option<usize>) {
        let query = |name: &str| -> Option<usize> {
            let (_, query) = target.split_once('?')?;
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
        };
        let (from, size) = match self {
            Paged::Offset { limit, .. } => (query("offset").unwrap_or(0), limit),
            Paged::Page { size, .. } => ((query("page").unwrap_or(1) - 1) * size, size),
            Paged::Cursor { size } => (query("cursor").unwrap_or(0), size),
            Paged::NextLink { size, .. } | Paged::LinkHeader { size } => {
                (query("from").unwrap_or(0), size)
            }
            Paged::Single { .. } => (0, n),
        };
        let to = (from + size).min(n).max(from);
        (from, to, (to < n).then_some(to))
    }
}

/// One record of the simulated API: strings with escapes and a `next`
/// member of its own, as records may hold, before the page's link.
fn sim_record(id: usize) -> String {
    format!(r#"{{"id": {id}, "s": "a\"b\\c\u00e9 {id}", "next": "/not/{id}"}}"#)
}

/// An API of `n` records, paged as `paged` says.
fn sim_api(n: usize, paged: Paged) -> TestServer {
    sim_api_of(move |_| n, paged, false)
}

/// [`sim_api`] under any number of path prefixes: `/v3/l?from=2` is a
/// page of the records of `/v3`, `n_of("/v3")` of them. The links name
/// the prefix; `/l?from=2` has the prefix "". `delayed`: each answer
/// waits 0-3 ms, told by its target, so that answers overtake each other.
fn sim_api_of(
    n_of: impl Fn(&str) -> usize + Send + Sync + 'static,
    paged: Paged,
    delayed: bool,
) -> TestServer {
    TestServer::start_fn(move |seen: &Seen| sim_answer(&n_of, paged, delayed, &seen.target))
}

/// The answer of [`sim_api_of`] to `target`.
fn sim_answer(
    n_of: &impl Fn(&str) -> usize,
    paged: Paged,
    delayed: bool,
    target: &str,
) -> Exchange {
    let path_end = target.find('?').unwrap_or(target.len());
    let prefix = &target[..target[..path_end].rfind('/').unwrap_or(0)];
    let (from, to, next) = paged.span(target, n_of(prefix));
    let data: Vec<String> = (from..to).map(sim_record).collect();
    let data = data.join(", ");
    let (body, link) = match (paged, next) {
        (Paged::Cursor { .. }, Some(next)) => (
            format!(r#"{{"data": [{data}], "paging": {{"after": "{next}"}}}}"#),
            None,
        ),
        (Paged::NextLink { at_tail: false, .. }, Some(next)) => (
            format!(r#"{{"paging": {{"next": "{prefix}/l?from={next}"}}, "data": [{data}]}}"#),
            None,
        ),
        (Paged::NextLink { at_tail: true, .. }, Some(next)) => (
            format!(r#"{{"data": [{data}], "paging": {{"next": "{prefix}/l?from={next}"}}}}"#),
            None,
        ),
        (Paged::LinkHeader { .. }, Some(next)) => (
            format!(r#"{{"data": [{data}]}}"#),
            Some(format!(
                r#"<{prefix}/l?from={next}>; rel="next", <{prefix}/l>; rel="first""#
            )),
        ),
        _ => (format!(r#"{{"data": [{data}]}}"#), None),
    };
    let mut exchange = Exchange::json(target, body);
    if let Some(link) = link {
        exchange.headers.push(("link".to_owned(), link));
    }
    if delayed {
        let wait = target.bytes().map(u64::from).sum::<u64>() % 4;
        exchange.delay = std::time::Duration::from_millis(wait);
    }
    exchange
}

/// APIs of every pagination type, with any number of records (none, one
/// page's worth exactly, a record past it), pages of any size and
/// requests in flight: every record comes out once, in order.
#[test]
fn every_record_comes_once_from_apis_of_any_size() {
    let mut next = crate::util::below(0x2545_f491_4f6c_dd1d);
    for round in 0..40 {
        let size = 1 + next(7);
        let paged = Paged::of_kind(round % 6, size, 1 + next(4));
        // Around whole pages: none, one short of, at and one past.
        let n = match next(4) {
            0 => next(3 * size),
            1 => size * next(4),
            2 => size * (1 + next(3)) - 1,
            _ => size * next(4) + 1,
        };
        let server = sim_api(n, paged);
        let (run, summary) = run_job(&server.url(), paged.path(), &paged.job(), &[]);
        assert_eq!(run.code, 0, "{paged:?}, {n} records: {}", run.stderr);
        assert_eq!(
            ids_of(&run.stdout),
            (0..n as u64).collect::<Vec<_>>(),
            "{paged:?}, {n} records: {summary}"
        );
    }
}

/// Fan-out over one to five values, each with its own number of records
/// (none, a page's worth, more), paged by every type or not paged (the
/// values then go out at once): every record of every value comes once,
/// values in order, each with its value.
#[test]
fn every_record_of_every_fanout_value_comes_once() {
    let mut next = crate::util::below(0x6a09_e667_f3bc_c908);
    for round in 0..24 {
        let size = 1 + next(5);
        let paged = Paged::of_kind(round % 7, size, 1 + next(4));
        let counts: Vec<usize> = (0..1 + next(5)).map(|_| next(3 * size + 1)).collect();
        let served = counts.clone();
        let server = sim_api_of(
            move |prefix| served[prefix.trim_start_matches("/v").parse::<usize>().unwrap()],
            paged,
            round % 2 == 1,
        );
        let values: Vec<String> = (0..counts.len()).map(|v| format!("\"{v}\"")).collect();
        let rest = format!(
            "{}[fanout]\nparam = \"v\"\nin = \"url\"\nvalues = [{}]\n\
             [[columns]]\nname = \"id\"\ntype = \"long\"\n\
             [[columns]]\nname = \"v\"\nvalue = \"{{value}}\"\n",
            paged.job(),
            values.join(", ")
        );
        let target = format!("/v{{v}}{}", paged.path());
        let (run, summary) = run_job(&server.url(), &target, &rest, &[]);
        let said = format!("{paged:?}, records {counts:?}: {summary}");
        assert_eq!(run.code, 0, "{said}: {}", run.stderr);
        let rows: Vec<(String, u64)> = run
            .stdout
            .lines()
            .map(|line| {
                let row: Value = serde_json::from_str(line).unwrap();
                (
                    row["v"].as_str().unwrap().to_owned(),
                    row["id"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, u64)> = counts
            .iter()
            .enumerate()
            .flat_map(|(v, &n)| (0..n as u64).map(move |id| (v.to_string(), id)))
            .collect();
        assert_eq!(rows, expected, "{said}");
    }
}

/// The `id` of each line of an NDJSON output.
fn ids_of(ndjson: &str) -> Vec<u64> {
    let id = |line: &str| serde_json::from_str::<Value>(line).unwrap()["id"].as_u64();
    ndjson.lines().map(|line| id(line).unwrap()).collect()
}

/// The paging of `round` (each kind in turn) with pages of one to five
/// records, and a number of records up to four pages' worth.
fn any_paged(round: usize, next: &mut impl FnMut(usize) -> usize) -> (Paged, usize) {
    let size = 1 + next(5);
    let paged = Paged::of_kind(round % 7, size, 1 + next(4));
    (paged, next(4 * size))
}

/// A run of every paging type, recorded and then replayed offline, writes
/// the same records: the fixture set keeps every page, link and header a
/// run follows.
#[test]
fn every_paging_type_replays_what_it_recorded() {
    let mut next = crate::util::below(0x510e_527f_ade6_82d1);
    for round in 0..14 {
        let (paged, n) = any_paged(round, &mut next);
        let server = sim_api(n, paged);
        let dir = Dir::new();
        let job = dir.write(
            "job.toml",
            &format!(
                "[request]\nurl = \"{}{}\"\n{}",
                server.url(),
                paged.path(),
                paged.job()
            ),
        );
        let fixtures = dir.path("fixtures");
        let recorded = hydrant(&["record", path_str(&job), "--to", path_str(&fixtures)]);
        let said = format!("{paged:?}, {n} records");
        assert_eq!(recorded.code, 0, "{said}: {}", recorded.stderr);
        assert_eq!(recorded.stdout.lines().count(), n, "{said}");
        let asked = server.requests().len();
        let replayed = hydrant(&["run", path_str(&job), "--replay", path_str(&fixtures)]);
        assert_eq!(replayed.code, 0, "{said}: {}", replayed.stderr);
        assert_eq!(replayed.stdout, recorded.stdout, "{said}");
        assert_eq!(
            server.requests().len(),
            asked,
            "{said}: the replay went to the API"
        );
    }
}

/// What [`faulty_api`] has answered each target: failures, then whether
/// it gave the page.
type Served = std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, (usize, bool)>>>;

/// [`sim_api`] whose every target fails `faults(target)` times before it
/// answers: 429 with `Retry-After: 0`, 500, 502, 503 or 504, told by the
/// target.
fn faulty_api(
    n: usize,
    paged: Paged,
    faults: impl Fn(&str) -> usize + Send + Sync + 'static,
) -> (TestServer, Served) {
    let served = Served::default();
    let seen_by = served.clone();
    let server = TestServer::start_fn(move |seen: &Seen| {
        let mut served = seen_by.lock().unwrap();
        let entry = served.entry(seen.target.clone()).or_default();
        if entry.0 < faults(&seen.target) {
            entry.0 += 1;
            let status = [429, 500, 502, 503, 504][(seen.target.len() + entry.0) % 5];
            let mut answer = crate::util::json(status, "{\"error\": \"try again\"}");
            answer
                .headers
                .push(("retry-after".to_owned(), "0".to_owned()));
            return answer;
        }
        entry.1 = true;
        sim_answer(&|_: &str| n, paged, true, &seen.target)
    });
    (server, served)
}

/// APIs of every pagination type whose answers fail with retryable
/// statuses before they answer. Where no request fails more often than
/// `max_retries` allows, the run succeeds with every record once, and
/// counts every retry; otherwise it fails naming a request that did, and
/// leaves no output that looks complete.
#[test]
fn every_record_comes_once_through_answers_that_fail_and_are_retried() {
    let mut next = crate::util::below(0x9b05_688c_2b3e_6c1f);
    for round in 0..120 {
        let (paged, n) = any_paged(round, &mut next);
        let max_retries = 1 + next(3);
        let salt = next(1000);
        // Most targets answer at once; some fail up to four times.
        let faults = move |target: &str| {
            let hash = target
                .bytes()
                .fold(salt, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
            [0, 0, 0, 1, 1, 2, 3, 4][hash % 8]
        };
        let (server, served) = faulty_api(n, paged, faults);
        let dir = Dir::new();
        let out = dir.path("out.ndjson");
        let rest = format!(
            "{}max_retries = {max_retries}\nbackoff = {{ initial = \"1ms\", max = \"2ms\" }}\n",
            match paged.job() {
                // `[limits]` is the last table where there is one.
                job if job.contains("[limits]") => job,
                job => job + "[limits]\n",
            }
        );
        let (run, summary) = crate::util::run_job_with(
            &server.url(),
            paged.path(),
            &rest,
            &["-o", path_str(&out)],
            &[],
        );
        let served = served.lock().unwrap().clone();
        let told = format!(
            "round {round}: {paged:?}, {n} records, max_retries {max_retries}: {served:?}\n{}",
            run.stderr
        );
        let exhausted: Vec<&String> = served
            .iter()
            .filter(|(_, (failed, _))| *failed > max_retries)
            .map(|(target, _)| target)
            .collect();
        if run.code == 0 {
            let ids = ids_of(&std::fs::read_to_string(&out).unwrap());
            assert_eq!(ids, (0..n as u64).collect::<Vec<_>>(), "{told}");
            let failed: usize = served.values().map(|&(failed, _)| failed).sum();
            let retries = summary["retries"].as_u64().unwrap() as usize;
            // Requests past the end may be dropped while they wait to
            // go again, once the end is known.
            assert!(retries <= failed, "{told}\n{summary}");
            if exhausted.is_empty()
                && matches!(
                    paged,
                    Paged::Cursor { .. } | Paged::NextLink { .. } | Paged::LinkHeader { .. }
                )
            {
                assert_eq!(retries, failed, "{told}\n{summary}");
            }
        } else {
            assert_eq!(run.code, 1, "{told}");
            assert!(
                !exhausted.is_empty(),
                "a run failed though no request ran out of retries: {told}"
            );
            assert!(
                exhausted.iter().any(|target| run
                    .stderr
                    .contains(&format!("{}{target} answered", server.url()))
                    && run.stderr.contains(&format!(
                        "(after {max_retries} {})",
                        if max_retries == 1 { "retry" } else { "retries" }
                    ))),
                "{told}"
            );
            assert!(!out.exists(), "{told}");
        }
    }
}

/// A cursor, link or header the job misspells ends the run after its
/// first page, as a last page would. When the page holds one under a name
/// like the job's, the run says so, naming both.
#[test]
fn a_first_page_with_the_next_cursor_under_another_name_is_told() {
    let page = |next: &str| {
        format!(
            "{{\"data\":{},\"meta\":{{\"next_cursor\":{next}}}}}",
            ids(0..2)
        )
    };
    let mut header = Exchange::json("/h", format!("{{\"data\":{}}}", ids(0..2)));
    header
        .headers
        .push(("x-next-cursor".to_owned(), "b".to_owned()));
    let server = TestServer::start(vec![
        Exchange::json("/c", page("\"b\"")),
        Exchange::json("/c?after=b", page("null")),
        Exchange::json("/end", page("null")),
        Exchange::json(
            "/l",
            format!("{{\"data\":{},\"paging\":{{\"next\":\"/c\"}}}}", ids(0..2)),
        ),
        header,
        Exchange::json(
            "/o?offset=0&limit=2",
            format!(
                "{{\"data\":{},\"links\":{{\"next\":\"/o?offset=2\"}}}}",
                ids(0..2)
            ),
        ),
    ]);
    let columns = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    let told = |from: &str, found: &str, target: &str| {
        format!(
            "{from} selects nothing on the first page, from {}{target}, so pagination ends \
             there; the page has `{found}`: if that holds the next cursor or \
             link, set paginate.from to it",
            server.url()
        )
    };
    for (target, paginate, says) in [
        // Columns inferred from the first page, and declared (the pages
        // made off the loop, into Parquet too).
        (
            "/c",
            "type = \"cursor\"\nfrom = \"meta.nextCursor\"\nparam = \"after\"\n".to_owned(),
            told("paginate.from `meta.nextCursor`", "meta.next_cursor", "/c"),
        ),
        (
            "/c",
            format!("type = \"cursor\"\nfrom = \"nextCursor\"\nparam = \"after\"\n{columns}"),
            told("paginate.from `nextCursor`", "meta.next_cursor", "/c"),
        ),
        // A typo.
        (
            "/c",
            format!("type = \"cursor\"\nfrom = \"meta.next_cusror\"\nparam = \"after\"\n{columns}"),
            told("paginate.from `meta.next_cusror`", "meta.next_cursor", "/c"),
        ),
        (
            "/c",
            format!(
                "type = \"cursor\"\nparam = \"after\"\n[output]\nformat = \"parquet\"\n{columns}"
            ),
            told(
                "paginate.from `$.next_cursor` (the default)",
                "meta.next_cursor",
                "/c",
            ),
        ),
        // The link at the tail of the page.
        (
            "/l",
            format!("type = \"next_link\"\nfrom = \"paging.next_link\"\n{columns}"),
            told("paginate.from `paging.next_link`", "paging.next", "/l"),
        ),
        (
            "/h",
            "type = \"cursor\"\nheader = \"X-Next\"\nparam = \"after\"\n".to_owned(),
            format!(
                "paginate.header `x-next` is not a header of the first page, from {}/h, so \
                 pagination ends there; the response has `x-next-cursor`: if that holds the \
                 next cursor or link, set paginate.header to it",
                server.url()
            ),
        ),
    ] {
        let dir = Dir::new();
        let rest = format!("[records]\npath = \"data\"\n[paginate]\n{paginate}\n",);
        let out = dir.path("out");
        let (run, summary) =
            run_job_with(&server.url(), target, &rest, &["-o", path_str(&out)], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(summary["records"], 2, "{summary}");
        assert_eq!(summary["warnings"], serde_json::json!([says]), "{paginate}");
        assert!(run.stderr.contains(&says), "{}", run.stderr);
        // `check` says it too, under what it read for the next request.
        let check = checked(&server.url(), target, &rest);
        assert!(check.contains(&format!("warning: {says}\n")), "{check}");
        assert!(
            check.contains("\nnext:    none (no_next): paginate."),
            "{check}"
        );
    }
    let rest = "[records]\npath = \"data\"\n[paginate]\ntype = \"cursor\"\nfrom = \"meta.next_cursor\"\nparam = \"after\"\n";
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/c\"\n{rest}", server.url()),
    );
    let check = hydrant(&["check", path_str(&job)]);
    assert!(
        check
            .stdout
            .contains("\nnext:    \"b\" (at paginate.from `meta.next_cursor`)\n"),
        "{}",
        check.stdout
    );
    assert!(!check.stdout.contains("warning"), "{}", check.stdout);
    // A stop rule that holds for want of its value, misspelled: on a page
    // read for the inferred columns, and on one made off the loop.
    let says = format!(
        "a [[paginate.stop]] rule ended pagination at the first page, from {}/o?offset=0&limit=2, \
         as its path `links.nextLink` selects nothing on it; the page has `links.next`: if the \
         rule means that, set its path to it",
        server.url()
    );
    for columns in ["", columns] {
        let rest = format!(
            "[records]\npath = \"data\"\n[paginate]\ntype = \"offset\"\nlimit = 2\n\
             [[paginate.stop]]\npath = \"links.nextLink\"\nis = \"missing\"\n{columns}"
        );
        let (out, summary, _) = run(&server, "/o", &rest, &[]);
        assert_eq!(out, lines(0..2));
        assert_eq!(summary["warnings"], serde_json::json!([says]), "{summary}");
    }
    // Nothing is said where the page holds no next page under any name,
    // nor where the job's path read a cursor before the last page.
    for (target, from) in [("/end", "nextCursor"), ("/c", "meta.next_cursor")] {
        let rest = format!(
            "[records]\npath = \"data\"\n[paginate]\ntype = \"cursor\"\nfrom = \"{from}\"\nparam = \"after\"\n"
        );
        let (out, summary, _) = run(&server, target, &rest, &[]);
        assert_eq!(
            out.lines().count(),
            if target == "/c" { 4 } else { 2 },
            "{out}"
        );
        assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");
    }
}

/// An API that does not read the cursor's parameter gives its first page
/// to every request, naming the same cursor: the second page is the
/// first again. So does one whose next link it does not page by. Written,
/// the first page came twice and the rest never, with exit 0 and a
/// warning of a loop; the run fails instead, naming why.
#[test]
fn a_page_that_is_the_one_before_it_again_fails_the_run() {
    let first = format!(
        "{{\"data\":{},\"next_cursor\":\"c1\",\"links\":{{\"next\":\"/items?page=2\"}}}}",
        ids(0..3)
    );
    let server = TestServer::start_fn(move |seen| Exchange::json(&seen.target, first.clone()));
    let columns = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for (paginate, why) in [
        (
            "type = \"cursor\"\nfrom = \"next_cursor\"\nparam = \"starting_after\"\n",
            "names, as the next cursor, the one it was requested with: the API may not read \
             paginate.param `starting_after`",
        ),
        (
            "type = \"next_link\"\nfrom = \"links.next\"\n",
            "names its own address as the next link: the API may not page by it, or the job \
             reads the page's own link (a `self` link) rather than the next",
        ),
    ] {
        for columns in ["", columns] {
            let dir = Dir::new();
            let out = dir.path("out.ndjson");
            let rest = format!("[records]\npath = \"data\"\n[paginate]\n{paginate}{columns}");
            let (run, _) =
                run_job_with(&server.url(), "/items", &rest, &["-o", path_str(&out)], &[]);
            assert_eq!(run.code, 1, "{}", run.stderr);
            let second = match paginate.contains("cursor") {
                true => "/items?starting_after=c1",
                false => "/items?page=2",
            };
            let says = format!(
                "the page from {}{second} holds the 3 records of the page before it and {why}; \
                 stopping rather than write them again",
                server.url()
            );
            assert!(run.stderr.contains(&says), "{}", run.stderr);
            assert!(!out.exists(), "{paginate}{columns}");
        }
    }
}

/// An API that, asked past its last page, gives that page again naming
/// the same cursor or link: the page was written twice (with a loop
/// warning). It is left out, and the run says why.
#[test]
fn a_last_page_given_again_for_its_own_cursor_is_not_written_twice() {
    let page = |n: u32, next: &str| {
        format!(
            "{{\"data\":{},\"next_cursor\":\"{next}\",\"links\":{{\"next\":\"/p?page={next}\"}}}}",
            ids(n * 3..n * 3 + 3)
        )
    };
    let tail = |n: u32, next: &str| {
        format!(
            "{{\"data\":{},\"next_cursor\":\"{next}\"}}",
            ids(n * 3..n * 3 + 3)
        )
    };
    let linked = |target: &str, n: u32, next: &str| {
        let mut e = Exchange::json(target, format!("{{\"data\":{}}}", ids(n * 3..n * 3 + 3)));
        e.headers
            .push(("link".to_owned(), format!("<{next}>; rel=\"next\"")));
        e
    };
    let server = TestServer::start(vec![
        Exchange::json("/c", page(0, "c1")),
        Exchange::json("/c?after=c1", page(1, "c2")),
        Exchange::json("/c?after=c2", page(2, "c3")),
        Exchange::json("/c?after=c3", page(2, "c3")),
        Exchange::json("/p", page(0, "2")),
        Exchange::json("/p?page=2", page(1, "3")),
        Exchange::json("/p?page=3", page(1, "3")),
        // The cursor last in the body, read before the page is parsed.
        Exchange::json("/t", tail(0, "t1")),
        Exchange::json("/t?after=t1", tail(1, "t2")),
        Exchange::json("/t?after=t2", tail(1, "t2")),
        // In a `Link` header, read before the page is parsed.
        linked("/h", 0, "/h?p=2"),
        linked("/h?p=2", 1, "/h?p=3"),
        linked("/h?p=3", 1, "/h?p=3"),
    ]);
    let url = server.url();
    let columns = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    let cursor = "type = \"cursor\"\nfrom = \"next_cursor\"\nparam = \"after\"\n";
    let link = "type = \"next_link\"\nfrom = \"links.next\"\n";
    for (target, paginate, last, pages, named) in [
        (
            "/h",
            "type = \"link_header\"\n",
            "/h?p=3",
            2,
            "names its own address as the next link",
        ),
        (
            "/t",
            cursor,
            "/t?after=t2",
            2,
            "names, as the next cursor, the one it was requested with",
        ),
        (
            "/c",
            cursor,
            "/c?after=c3",
            3,
            "names, as the next cursor, the one it was requested with",
        ),
        (
            "/p",
            link,
            "/p?page=3",
            2,
            "names its own address as the next link",
        ),
    ] {
        // Columns inferred and declared: pages made on the loop and off it,
        // into NDJSON and Parquet.
        for (columns, format) in [("", "ndjson"), (columns, "ndjson"), (columns, "parquet")] {
            let dir = Dir::new();
            let out = dir.path("out");
            let rest = format!(
                "[records]\npath = \"data\"\n[output]\nformat = \"{format}\"\n[paginate]\n{paginate}{columns}"
            );
            let (run, summary) = run_job_with(&url, target, &rest, &["-o", path_str(&out)], &[]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert_eq!(summary["records"], pages * 3, "{rest}");
            assert_eq!(summary["stopped"], "loop", "{rest}");
            let says = format!(
                "the page from {url}{last} holds the 3 records of the page before it again and \
                 {named}: taken for the last page given again, and not written twice"
            );
            let warnings = summary["warnings"].as_array().unwrap();
            assert!(warnings.contains(&Value::from(says)), "{summary}");
            if format == "ndjson" {
                assert_eq!(std::fs::read_to_string(&out).unwrap(), lines(0..pages * 3));
            }
        }
    }
}

/// Solr ends `cursorMark` paging with an empty page that names the mark
/// it was asked with; an API may end a next link or a `Link` header so.
/// The run read every record, then ended at a loop with a warning (where
/// the mark or link, read from the body's tail or the headers, was
/// followed before the page was parsed). It ends quietly there.
#[test]
fn an_empty_page_that_names_its_own_cursor_or_link_ends_the_run() {
    let solr = |n: u32, docs: u32, mark: &str| {
        let found = if mark == "*" { 0 } else { 9 };
        let docs = ids(n * 3..n * 3 + docs);
        format!(
            "{{\"responseHeader\":{{\"status\":0}},\"response\":{{\"numFound\":{found},\"docs\":{docs}}},\"nextCursorMark\":\"{mark}\"}}"
        )
    };
    let link = |n: u32, docs: u32, next: &str| {
        format!(
            "{{\"data\":{},\"next\":\"{next}\"}}",
            ids(n * 3..n * 3 + docs)
        )
    };
    let linked = |target: &str, body: String, next: &str| {
        let mut e = Exchange::json(target, body);
        e.headers
            .push(("link".to_owned(), format!("<{next}>; rel=\"next\"")));
        e
    };
    let server = TestServer::start(vec![
        Exchange::json("/s?cursorMark=*", solr(0, 3, "m1")),
        Exchange::json("/s?cursorMark=m1", solr(1, 3, "m2")),
        Exchange::json("/s?cursorMark=m2", solr(2, 3, "m3")),
        Exchange::json("/s?cursorMark=m3", solr(3, 0, "m3")),
        Exchange::json("/e?cursorMark=*", solr(0, 0, "*")),
        Exchange::json("/l", link(0, 3, "/l?p=2")),
        Exchange::json("/l?p=2", link(1, 3, "/l?p=3")),
        Exchange::json("/l?p=3", link(2, 3, "/l?p=4")),
        Exchange::json("/l?p=4", link(3, 0, "/l?p=4")),
        linked("/h", ids(0..3), "/h?p=2"),
        linked("/h?p=2", ids(3..6), "/h?p=3"),
        linked("/h?p=3", ids(6..9), "/h?p=4"),
        linked("/h?p=4", ids(0..0), "/h?p=4"),
    ]);
    let cursor = "[records]\npath = \"response.docs\"\n[paginate]\ntype = \"cursor\"\n\
                  from = \"nextCursorMark\"\nparam = \"cursorMark\"\ninitial = \"*\"\n";
    let next_link =
        "[records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let link_header = "[paginate]\ntype = \"link_header\"\n";
    let columns = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for (target, paginate, records) in [
        ("/s", cursor, 9),
        ("/e", cursor, 0),
        ("/l", next_link, 9),
        ("/h", link_header, 9),
    ] {
        // Columns inferred and declared: pages made on the loop and off it.
        for (columns, format) in [("", "ndjson"), (columns, "ndjson"), (columns, "parquet")] {
            let dir = Dir::new();
            let out = dir.path("out");
            let rest = format!("[output]\nformat = \"{format}\"\n{paginate}{columns}");
            let (run, summary) =
                run_job_with(&server.url(), target, &rest, &["-o", path_str(&out)], &[]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            let requests = if records == 0 { 1 } else { 4 };
            assert_eq!(summary["records"], records, "{target} {rest}");
            assert_eq!(summary["requests"], requests, "{target} {rest}");
            assert_eq!(summary["stopped"], "no_next", "{target} {rest}");
            assert_eq!(
                summary["warnings"],
                serde_json::json!([]),
                "{target} {rest}"
            );
            if format == "ndjson" {
                assert_eq!(std::fs::read_to_string(&out).unwrap(), lines(0..records));
            }
        }
    }
}

/// A cursor's path that holds an object (HubSpot's `paging.next`, whose
/// cursor is `paging.next.after`) ended the run after its first page, as
/// a last page does, with exit 0. It fails, naming the members inside.
#[test]
fn a_cursor_path_that_holds_an_object_fails_naming_its_members() {
    let page = format!(
        "{{\"results\":{},\"paging\":{{\"next\":{{\"after\":\"2\",\"link\":\"/c?after=2\"}}}}}}",
        ids(0..2)
    );
    let server = TestServer::start(vec![Exchange::json("/c", page)]);
    let dir = Dir::new();
    let rest = "[records]\npath = \"results\"\n[paginate]\ntype = \"cursor\"\nfrom = \"paging.next\"\nparam = \"after\"\n";
    let says = format!(
        "paginate.from `paging.next` holds an object on the page from {}/c, not a cursor or \
         link: point paginate.from at the member that holds it (`paging.next.after`, \
         `paging.next.link`)",
        server.url()
    );
    let out = dir.path("out.ndjson");
    // Columns inferred, and declared: the page made off the loop.
    for columns in ["", "[[columns]]\nname = \"id\"\ntype = \"long\"\n"] {
        let rest = format!("{rest}{columns}");
        let (run, _) = run_job_with(&server.url(), "/c", &rest, &["-o", path_str(&out)], &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(&says), "{}", run.stderr);
        // Its members are no parameters: one is a link.
        assert!(!run.stderr.contains("leave out"), "{}", run.stderr);
        assert!(!out.exists());
    }
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/c\"\n{rest}", server.url()),
    );
    let check = hydrant(&["check", path_str(&job)]);
    assert!(
        check.stdout.contains(&format!("warning: {says}\n")),
        "{}",
        check.stdout
    );
}

/// Data Factory rules read the next page's value from the response too:
/// a path that holds an object fails the run, and one that selects
/// nothing while the page holds the value under a name like it is told.
#[test]
fn a_data_factory_rule_that_reads_no_value_is_told() {
    let page = format!(
        "{{\"results\":{},\"paging\":{{\"next\":{{\"after\":\"2\"}}}}}}",
        ids(0..2)
    );
    let server = TestServer::start(vec![Exchange::json("/c", page)]);
    let rest = |rule: &str| {
        format!(
            "[records]\npath = \"results\"\n[paginate]\ntype = \"rules\"\nrules = {{ {rule} }}\n"
        )
    };
    let (failed, _) = run_job(
        &server.url(),
        "/c",
        &rest("AbsoluteUrl = \"$.paging.next\""),
        &[],
    );
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(&format!(
            "the paginate.rules path `$.paging.next` holds an object on the page from {}/c, not \
             a cursor or link: point the rule at the member that holds it \
             (`$.paging.next.after`)",
            server.url()
        )),
        "{}",
        failed.stderr
    );
    let rule = "\"QueryParameters.after\" = \"$.paging.next.afterCursor\"";
    let (out, summary, _) = run(&server, "/c", &rest(rule), &[]);
    assert_eq!(out, lines(0..2));
    assert_eq!(
        summary["warnings"],
        serde_json::json!([format!(
            "the paginate.rules path `$.paging.next.afterCursor` selects nothing on the first \
             page, from {}/c, so pagination ends there; the page has `paging.next.after`: if \
             that holds the next page's value, set the rule to it",
            server.url()
        )])
    );
}

#[test]
fn a_run_that_reads_fewer_records_than_the_api_counts_is_told() {
    let page = |range: std::ops::Range<u32>, rest: &str| {
        format!("{{\"total_count\":6,\"items\":{}{rest}}}", ids(range))
    };
    let mut first = Exchange::json("/s", page(0..2, ""));
    first
        .headers
        .push(("link".to_owned(), "</s?page=2>; rel=\"next\"".to_owned()));
    let strapi = |range, next: &str| {
        format!(
            "{{\"data\":{},\"meta\":{{\"pagination\":{{\"total\":6}}}}{next}}}",
            ids(range)
        )
    };
    let server = TestServer::start(vec![
        // GitHub's search: the Link header ends before the count.
        first,
        Exchange::json("/s?page=2", page(2..4, "")),
        // No [paginate] at all.
        Exchange::json("/n", strapi(0..2, "")),
        // A link at the tail, the count three objects down.
        Exchange::json("/t", strapi(0..2, ",\"next\":\"/t2\"")),
        Exchange::json("/t2", strapi(2..4, "")),
        // Every record read: Django REST framework's `count`, and a
        // `count` of the page's own records, say nothing.
        Exchange::json(
            "/o?offset=0&limit=2",
            format!("{{\"count\":5,\"results\":{}}}", ids(0..2)),
        ),
        Exchange::json(
            "/o?offset=2&limit=2",
            format!("{{\"count\":5,\"results\":{}}}", ids(2..4)),
        ),
        Exchange::json(
            "/o?offset=4&limit=2",
            format!("{{\"count\":5,\"results\":{}}}", ids(4..5)),
        ),
        Exchange::json("/p", format!("{{\"count\":2,\"results\":{}}}", ids(0..2))),
        // An API that does not filter by the bound: an incremental run
        // leaves out the record it wrote last time, and counts it read.
        Exchange::json("/i", format!("{{\"total\":3,\"data\":{}}}", changed(3))),
        Exchange::json("/i4", format!("{{\"total\":4,\"data\":{}}}", changed(3))),
    ]);
    let url = server.url();
    let paged = format!(
        "the first page, from {url}/s, counts 6 records at `total_count`, but the pages gave 4, \
         pagination ending at a page that names no next page: the API may stop paging at a \
         limit (GitHub's search stops at 1000 results), or the job's pagination misses pages; \
         if `total_count` counts something else, or is an estimate, this can be ignored"
    );
    let tail = format!(
        "the first page, from {url}/t, counts 6 records at `meta.pagination.total`, but the \
         pages gave 4, pagination ending at a page that names no next page: the API may stop \
         paging at a limit (GitHub's search stops at 1000 results), or the job's pagination \
         misses pages; if `meta.pagination.total` counts something else, or is an estimate, \
         this can be ignored"
    );
    let single = format!(
        "the first page, from {url}/n, counts 6 records at `meta.pagination.total`, but the job \
         has no [paginate] and its one request gave 2: set [paginate] to how the API pages; if \
         `meta.pagination.total` counts something else, or is an estimate, this can be ignored"
    );
    let offset = "[paginate]\ntype = \"offset\"\nlimit = 2\n[limits]\nconcurrency = 3\n";
    let cases = [
        (
            "/s",
            "items",
            "[paginate]\ntype = \"link_header\"\n",
            Some(&paged),
            4,
        ),
        ("/n", "data", "", Some(&single), 2),
        (
            "/t",
            "data",
            "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n",
            Some(&tail),
            4,
        ),
        ("/o", "results", offset, None, 5),
        ("/p", "results", "", None, 2),
    ];
    // Columns inferred (the first page read on the loop) and declared
    // (pages made off it: read against their shape into NDJSON and
    // Parquet, from the index into CSV).
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    let outputs = [
        ("", "ndjson"),
        (declared, "ndjson"),
        (declared, "parquet"),
        (declared, "csv"),
    ];
    for (target, records, paginate, says, count) in cases {
        for (columns, format) in outputs {
            let rest = format!(
                "[records]\npath = \"{records}\"\n[output]\nformat = \"{format}\"\n{paginate}{columns}"
            );
            let summary = run_to_file(&url, target, &rest);
            assert_eq!(summary["records"], count, "{rest}");
            let warnings = serde_json::json!(says.into_iter().collect::<Vec<_>>());
            assert_eq!(summary["warnings"], warnings, "{target} {rest}");
        }
    }
    // `check` reads one page: it tells a job without [paginate].
    let link = "[paginate]\ntype = \"link_header\"\n";
    for (target, rest, says) in [
        ("/n", "data\"\n", Some(&single)),
        ("/s", &format!("items\"\n{link}"), None),
    ] {
        let check = checked(&url, target, &format!("[records]\npath = \"{rest}"));
        let counted = match target {
            "/n" => "records: 2 on the first page; the API counts 6 (`meta.pagination.total`)\n",
            _ => "records: 2 on the first page; the API counts 6 (`total_count`)\n",
        };
        assert!(check.contains(counted), "{}", check);
        match says {
            Some(says) => assert!(check.contains(&format!("warning: {says}\n")), "{}", check),
            None => assert!(!check.contains("warning"), "{}", check),
        }
    }
    // Pages read on the run loop, with the columns known (an incremental
    // run's).
    let dir = Dir::new();
    for (target, runs) in [("/i", 2), ("/i4", 1)] {
        let job = dir.write(
            "inc.toml",
            &format!(
                "[request]\nurl = \"{url}{target}\"\n[records]\npath = \"data\"\n\
                 [state]\npath = \"state{runs}.json\"\n[incremental]\ncursor = \"at\"\n\
                 start = \"2024-01-01T00:00:00Z\"\nkey = [\"id\"]\n{declared}"
            ),
        );
        for run in 0..runs {
            let summary = dir.path("summary.json");
            let out = dir.path(&format!("out{run}.ndjson"));
            let args = [
                "run",
                path_str(&job),
                "-o",
                path_str(&out),
                "--summary-json",
                path_str(&summary),
            ];
            let ran = hydrant(&args);
            assert_eq!(ran.code, 0, "{}", ran.stderr);
            let summary: Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
            assert_eq!(summary["records"], 3 - run, "{summary}");
            assert_eq!(summary["incremental"]["deduplicated"], run, "{summary}");
            let warnings = summary["warnings"].as_array().unwrap();
            match target {
                // The job sends no bound: the second run gets the records
                // below its bookmark again, and is told.
                "/i" => {
                    let told = "2 records had incremental.cursor `at` outside the bounds";
                    let told = warnings
                        .iter()
                        .filter(|w| w.as_str().unwrap().starts_with(told));
                    assert_eq!(
                        (told.count(), warnings.len()),
                        (run as usize, run as usize),
                        "{summary}"
                    );
                }
                _ => assert!(
                    warnings[0].as_str().unwrap().starts_with(&format!(
                        "the first page, from {url}/i4, counts 4 records at `total`, but the \
                         job has no [paginate] and its one request gave 3"
                    )),
                    "{summary}"
                ),
            }
        }
    }
}

/// A page that says the API cut its answer short: Datasette's
/// `truncated` (a query stops at 1000 rows), GitHub's search
/// `incomplete_results`, Elasticsearch's failed shards, Solr's
/// `partialResults`. The run writes what came and says records are
/// missing; `check` says so too.
#[test]
fn a_page_that_says_it_was_cut_short_is_told() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/sql",
            format!("{{\"ok\":true,\"rows\":{},\"truncated\":true}}", ids(0..3)),
        ),
        Exchange::json(
            "/all",
            format!("{{\"ok\":true,\"rows\":{},\"truncated\":false}}", ids(0..3)),
        ),
        Exchange::json(
            "/search",
            format!("{{\"incomplete_results\":true,\"items\":{}}}", ids(0..2)),
        ),
        // A later page says it.
        Exchange::json(
            "/later",
            format!(
                "{{\"incomplete_results\":false,\"items\":{},\"next\":\"/later2\"}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/later2",
            format!("{{\"incomplete_results\":true,\"items\":{}}}", ids(2..3)),
        ),
        // GraphQL's partial data: an error for each part not resolved.
        Exchange::json(
            "/gql",
            format!(
                "{{\"data\":{{\"items\":{}}},\"errors\":[{{\"message\":\"not allowed\"}}]}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/gql-ok",
            format!("{{\"data\":{{\"items\":{}}},\"errors\":[]}}", ids(0..2)),
        ),
        // Elasticsearch's failed shards; Solr's partial results.
        Exchange::json(
            "/es",
            format!(
                "{{\"timed_out\":false,\"_shards\":{{\"total\":5,\"successful\":3,\
                 \"skipped\":0,\"failed\":2}},\"hits\":{{\"hits\":{}}}}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/solr",
            format!(
                "{{\"responseHeader\":{{\"status\":0,\"partialResults\":true}},\
                 \"response\":{{\"docs\":{}}}}}",
                ids(0..2)
            ),
        ),
        // A pass of a fan-out, which holds no count: told all the same.
        Exchange::json(
            "/fan?q=b",
            format!("{{\"truncated\":true,\"rows\":{}}}", ids(0..2)),
        ),
    ]);
    let url = server.url();
    let said = |target: &str, at: &str| {
        format!(
            "the page from {url}{target} says `{at}` is true: the API cut its answer short, and \
             records are missing from the run (Datasette stops a query at 1000 rows, GitHub's \
             search sets `incomplete_results` when it times out)"
        )
    };
    for (target, records, says, count) in [
        ("/sql", "rows", Some(said("/sql", "truncated")), 3),
        ("/all", "rows", None, 3),
        (
            "/search",
            "items",
            Some(said("/search", "incomplete_results")),
            2,
        ),
        (
            "/gql",
            "data.items",
            Some(format!(
                "the page from {url}/gql holds records beside a non-empty `errors`: the API says \
                 part of its answer failed (a GraphQL field it could not resolve), and values or \
                 records are missing from the run"
            )),
            2,
        ),
        ("/gql-ok", "data.items", None, 2),
        (
            "/es",
            "hits.hits",
            Some(format!(
                "the page from {url}/es says `_shards.failed` is above 0: shards of the index \
                 failed to answer, and their records are missing from the run"
            )),
            2,
        ),
        (
            "/solr",
            "response.docs",
            Some(said("/solr", "responseHeader.partialResults")),
            2,
        ),
    ] {
        let rest = format!("[records]\npath = \"{records}\"\n");
        each_output_says(&url, target, &rest, count, &says.iter().collect::<Vec<_>>());
        let check = checked(&url, target, &format!("[records]\npath = \"{records}\"\n"));
        match &says {
            Some(says) => assert!(check.contains(&format!("warning: {says}\n")), "{check}"),
            None => assert!(!check.contains("warning"), "{check}"),
        }
        // `--strict` exits 3 after a warning, its output and summary
        // written whole.
        let dir = Dir::new();
        let out = dir.path("out.ndjson");
        let rest = format!("[records]\npath = \"{records}\"\n");
        let (run, summary) = run_job_with(
            &url,
            target,
            &rest,
            &["--strict", "-o", path_str(&out)],
            &[],
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), lines(0..count));
        assert_eq!(summary["records"], count, "{summary}");
        match &says {
            Some(says) => {
                assert_eq!(run.code, 3, "{}", run.stderr);
                assert_eq!(summary["warnings"], serde_json::json!([says]));
                assert!(
                    run.stderr.ends_with(
                        "hydrant: error: --strict: the run gave 1 warning (above, and in the \
                         summary); its output is written\n"
                    ),
                    "{}",
                    run.stderr
                );
            }
            None => assert_eq!(run.code, 0, "{}", run.stderr),
        }
    }
    let later = said("/later2", "incomplete_results");
    let rest = "[records]\npath = \"items\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    each_output_says(&url, "/later", rest, 3, &[&later]);
    let fan = said("/fan?q=b", "truncated");
    let rest = "[records]\npath = \"rows\"\n[fanout]\nparam = \"q\"\nvalues = [\"b\"]\n";
    let summary = run_to_file(&url, "/fan", rest);
    assert_eq!(summary["records"], 2, "{summary}");
    assert_eq!(summary["warnings"], serde_json::json!([fan]), "{summary}");
}

/// A `link_header` job whose `rel` is not the one the API names its next
/// page by reads the first page alone: told, naming the header's rels,
/// where the header has `next` or a rel like the job's. A header of
/// `first` and `last` alone is a single page's: nothing is said.
#[test]
fn a_link_header_rel_the_api_does_not_use_is_told() {
    let linked = |target: &str, links: &str| {
        let mut exchange = Exchange::json(target, ids(0..2));
        (exchange.headers).push(("link".to_owned(), links.to_owned()));
        (exchange.headers).push(("x-total-count".to_owned(), "4".to_owned()));
        exchange
    };
    let server = TestServer::start(vec![
        linked("/g", "</g?page=2>; rel=\"next\", </g?page=2>; rel=\"last\""),
        linked("/n", "</n?page=2>; rel=\"next-page\""),
        linked("/one", "</one>; rel=\"first\", </one>; rel=\"last\""),
    ]);
    let url = server.url();
    let told = |rel: &str, target: &str, rels: &str, found: &str| {
        format!(
            "paginate.rel `{rel}` is not a rel of the Link header of the first page, from \
             {url}{target}, so pagination ends there; the header has {rels}: if `{found}` is \
             the next page, set paginate.rel to it"
        )
    };
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for (target, rel, says) in [
        (
            "/g",
            "nxt",
            Some(told("nxt", "/g", "`next`, `last`", "next")),
        ),
        (
            "/n",
            "next_page",
            Some(told("next_page", "/n", "`next-page`", "next-page")),
        ),
        ("/one", "next", None),
    ] {
        for columns in ["", declared] {
            let rest = format!("[paginate]\ntype = \"link_header\"\nrel = \"{rel}\"\n{columns}");
            let summary = run_to_file(&url, target, &rest);
            assert_eq!(summary["records"], 2, "{rest}");
            let warnings = match &says {
                Some(says) => serde_json::json!([says]),
                // The API's count still says records were left.
                None => serde_json::json!([format!(
                    "the first page, from {url}/one, counts 4 records in its `X-Total-Count` \
                     header, but the pages gave 2, pagination ending at a page that names no \
                     next page: the API may stop paging at a limit (GitHub's search stops at \
                     1000 results), or the job's pagination misses pages; if `X-Total-Count` \
                     counts something else, or is an estimate, this can be ignored"
                )]),
            };
            assert_eq!(summary["warnings"], warnings, "{target} {rest}");
            if let Some(says) = &says {
                let check = checked(&url, target, &rest);
                assert!(check.contains(&format!("warning: {says}\n")), "{check}");
            }
        }
    }
}

/// The count may come in a header instead: json-server's and many
/// others' `X-Total-Count`, GitLab's `X-Total`, WordPress's `X-WP-Total`,
/// PostgREST's `Content-Range`. Those APIs serve their records as the
/// body's array, where no member could hold a count.
/// Each fan-out value's pass is held to the count its own first page
/// gives: one that stops short (GitHub's search stops at 1000 results a
/// query, which is why a job fans one query out by dates) was lost among
/// the records of the others, which together read more than any count.
/// Followed (cursor) and counted (offset, pages made off the loop) passes,
/// and values sent at once, a page each.
#[test]
fn each_pass_of_a_fan_out_is_held_to_its_own_count() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let query = |key: &str| {
            let (_, value) = url.query_pairs().find(|(k, _)| k == key)?;
            Some(value.into_owned())
        };
        let value = query("v").unwrap();
        // Each value's count, and the records the API gives of it.
        let (count, given) = match (url.path(), value.as_str()) {
            ("/one", "a") => (2, 2),
            ("/one", "b") => (5, 3),
            ("/refuse", "b") => (4, 4),
            ("/refuse", _) => (1, 1),
            (_, "a") => (4, 4),
            ("/short", "b") => (5, 3),
            (_, "b") => (5, 5),
            _ => (1, 1),
        };
        let start: u32 = query("offset")
            .or_else(|| query("cursor"))
            .map_or(0, |n| n.parse().unwrap());
        if url.path() == "/refuse" && start >= given {
            return json(404, "{\"detail\":\"Invalid page.\"}");
        }
        if url.path() == "/one" {
            // One page a value, no pagination named.
            return json(
                200,
                format!("{{\"count\":{count},\"results\":{}}}", ids(0..given)),
            );
        }
        let end = (start + 2).min(given);
        let next = match end < given {
            true => format!("\"{end}\""),
            false => "null".to_owned(),
        };
        json(
            200,
            format!(
                "{{\"count\":{count},\"results\":{},\"next\":{next}}}",
                ids(start.min(end)..end)
            ),
        )
    });
    let url = server.url();
    let fanout = "[fanout]\nvalues = [\"a\", \"b\", \"c\"]\nparam = \"v\"\n";
    let cursor = format!(
        "[records]\npath = \"results\"\n[paginate]\ntype = \"cursor\"\nfrom = \"next\"\n\
         param = \"cursor\"\n{fanout}"
    );
    let offset = format!(
        "[records]\npath = \"results\"\n[paginate]\ntype = \"offset\"\nlimit = 2\n\
         [limits]\nconcurrency = 3\n{fanout}"
    );
    for (rest, first, end) in [
        (&cursor, "/short?v=b", "a page that names no next page"),
        (
            &offset,
            "/short?v=b&offset=0&limit=2",
            "a page shorter than the others",
        ),
    ] {
        let told = format!(
            "1 of 3 passes (fan-out values or windows) read fewer records than their first page \
             counts; the first: the first page, from {url}{first}, counts 5 records at `count`, \
             but the pages gave 3, pagination ending at {end}: the API may stop paging at a \
             limit (GitHub's search stops at 1000 results), or the job's pagination misses \
             pages; if `count` counts something else, or is an estimate, this can be ignored"
        );
        each_output_says(&url, "/short", rest, 8, &[&told]);
        // Every value read whole: nothing to tell, though the first
        // value's count is below the run's records.
        each_output_says(&url, "/whole", rest, 10, &[]);
    }
    // A page past the second value's count refused (Django REST
    // Framework's 404) ends that pass, as it ends the first.
    each_output_says(&url, "/refuse", &offset, 6, &[]);
    // Values sent at once, a page each, without [paginate].
    let told = format!(
        "1 of 3 passes (fan-out values or windows) read fewer records than their first page \
         counts; the first: the first page, from {url}/one?v=b, counts 5 records at `count`, \
         but the job has no [paginate] and its one request gave 3: set [paginate] to how the \
         API pages; if `count` counts something else, or is an estimate, this can be ignored"
    );
    let unpaged = format!("[records]\npath = \"results\"\n{fanout}");
    each_output_says(&url, "/one", &unpaged, 6, &[&told]);
}

#[test]
fn a_run_that_reads_fewer_records_than_the_headers_count_is_told() {
    let counted = |target: &str, body: String, header: &str, value: &str| {
        let mut exchange = Exchange::json(target, body);
        (exchange.headers).push((header.to_owned(), value.to_owned()));
        exchange
    };
    let server = TestServer::start(vec![
        // An API that stops paging after two pages of six records.
        counted("/j?_page=1&_limit=2", ids(0..2), "X-Total-Count", "6"),
        counted("/j?_page=2&_limit=2", ids(2..4), "X-Total-Count", "6"),
        counted("/j?_page=3&_limit=2", ids(0..0), "X-Total-Count", "6"),
        // Every record read.
        counted("/g?page=1&per_page=2", ids(0..2), "X-Total", "3"),
        counted("/g?page=2&per_page=2", ids(2..3), "X-Total", "3"),
        counted("/r?offset=0&limit=2", ids(0..2), "Content-Range", "0-1/3"),
        counted("/r?offset=2&limit=2", ids(2..3), "Content-Range", "2-2/3"),
        // A total PostgREST does not know.
        counted("/u", ids(0..2), "Content-Range", "0-1/*"),
        // No [paginate].
        counted("/w", ids(0..2), "X-WP-Total", "14"),
        // flask-smorest's JSON header.
        counted(
            "/s",
            ids(0..2),
            "X-Pagination",
            r#"{"total": 5, "total_pages": 3, "page": 1, "next_page": 2}"#,
        ),
    ]);
    let url = server.url();
    let paged = format!(
        "the first page, from {url}/j?_page=1&_limit=2, counts 6 records in its \
         `X-Total-Count` header, but the pages gave 4, pagination ending at a page shorter \
         than the others: the API may stop paging at a limit (GitHub's search stops at 1000 \
         results), or the job's pagination misses pages; if `X-Total-Count` counts something \
         else, or is an estimate, this can be ignored"
    );
    let single = format!(
        "the first page, from {url}/w, counts 14 records in its `X-WP-Total` header, but the \
         job has no [paginate] and its one request gave 2: set [paginate] to how the API \
         pages; if `X-WP-Total` counts something else, or is an estimate, this can be ignored"
    );
    let smorest = format!(
        "the first page, from {url}/s, counts 5 records in its `X-Pagination` header, but the \
         job has no [paginate] and its one request gave 2: set [paginate] to how the API \
         pages; if `X-Pagination` counts something else, or is an estimate, this can be ignored"
    );
    let page = |param: &str, size: &str| {
        format!(
            "[paginate]\ntype = \"page\"\nparam = \"{param}\"\nsize_param = \"{size}\"\nsize = 2\n"
        )
    };
    let offset = "[paginate]\ntype = \"offset\"\nlimit = 2\n[limits]\nconcurrency = 2\n";
    let cases = [
        ("/j", page("_page", "_limit"), Some(&paged), 4),
        ("/g", page("page", "per_page"), None, 3),
        ("/r", offset.to_owned(), None, 3),
        ("/u", String::new(), None, 2),
        ("/w", String::new(), Some(&single), 2),
        ("/s", String::new(), Some(&smorest), 2),
    ];
    for (target, paginate, says, count) in cases {
        each_output_says(
            &url,
            target,
            &paginate,
            count,
            &says.into_iter().collect::<Vec<_>>(),
        );
    }
    let check = checked(&url, "/w", "");
    assert!(
        check.contains(
            "records: 2 on the first page; the API counts 14 (the `X-WP-Total` header)\n"
        ),
        "{check}"
    );
    assert!(check.contains(&format!("warning: {single}\n")), "{check}");
}

/// `n` records of `{"id", "at"}`, each changed a day after the one before.
fn changed(n: u32) -> String {
    let records: Vec<String> = (0..n)
        .map(|i| format!("{{\"id\":{i},\"at\":\"2024-03-0{}T00:00:00Z\"}}", i + 1))
        .collect();
    format!("[{}]", records.join(","))
}

/// WordPress refuses a page past the last with a 400: a page job whose
/// records fill the last page is refused there. With the count of
/// `X-WP-Total` read, that is the end; without a count, the error says
/// how to end at the last page.
#[test]
fn a_page_past_the_last_refused_names_the_stop_rule_that_ends_it() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixtures = root.join("fixtures/examples/wordpress");
    let example = std::fs::read_to_string(root.join("examples/paginate/wordpress.toml")).unwrap();
    let without_stop = example.split("[[paginate.stop]]").next().unwrap();
    let dir = Dir::new();
    let job = dir.write("job.toml", without_stop);
    let run = hydrant(&["run", path_str(&job), "--replay", path_str(&fixtures)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = std::fs::read_to_string(fixtures.join("expected.ndjson")).unwrap();
    assert_eq!(run.stdout, expected);
    assert!(
        run.stderr.contains("6 records (0 dirty) from 3 requests"),
        "{}",
        run.stderr
    );
    // After one full page, said so.
    let server = TestServer::start(vec![
        Exchange::json("/w?page=1&per_page=2", ids(0..2)),
        Exchange {
            status: 400,
            ..Exchange::json(
                "/w?page=2&per_page=2",
                "{\"code\":\"rest_post_invalid_page_number\"}",
            )
        },
    ]);
    let rest = "[paginate]\ntype = \"page\"\nsize_param = \"per_page\"\nsize = 2\n\
                [limits]\nconcurrency = 1\n";
    let (run, _) = run_job(&server.url(), "/w", rest, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("; it asked for the page after the first page, which was full: "),
        "{}",
        run.stderr
    );
    // A first page refused is no page past the last.
    let first = dir.write(
        "first.toml",
        &without_stop.replace("size = 2", "size = 2\nstart = 4"),
    );
    let run = hydrant(&["run", path_str(&first), "--replay", path_str(&fixtures)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("answered 400"), "{}", run.stderr);
    assert!(!run.stderr.contains("full pages"), "{}", run.stderr);
}

/// Django REST Framework answers 404 for the page past its last, and
/// WordPress 400: a page job whose records fill the last page was
/// refused there. Once the records read reach the count the first page
/// gives, that refusal ends the run, whatever else was in flight; short
/// of the count, or with no count, it still fails.
#[test]
fn a_page_past_the_count_refused_ends_the_run() {
    let page = |n: u32, count: u32, records: std::ops::Range<u32>| {
        let body = format!(
            "{{\"count\":{count},\"next\":null,\"results\":{}}}",
            ids(records)
        );
        Exchange::json(&format!("/drf?page={n}&page_size=2"), body)
    };
    let refused = Exchange {
        status: 404,
        ..Exchange::json("/drf?page=3&page_size=2", "{\"detail\":\"Invalid page.\"}")
    };
    let server = TestServer::start(vec![page(1, 4, 0..2), page(2, 4, 2..4), refused.clone()]);
    let job = |concurrency: u32| {
        format!(
            "[records]\npath = \"results\"\n[paginate]\ntype = \"page\"\n\
             size_param = \"page_size\"\nsize = 2\n[limits]\nconcurrency = {concurrency}\n"
        )
    };
    for concurrency in [1, 4] {
        let (run, summary) = run_job(&server.url(), "/drf", &job(concurrency), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, lines(0..4));
        assert_eq!(summary["stopped"], "no_next");
        assert_eq!(summary["warnings"], serde_json::json!([]));
        // Pages made off the run loop, and Parquet's.
        each_output_says(&server.url(), "/drf", &job(concurrency), 4, &[]);
    }
    // A window's count is its own: the second's refusal is an error,
    // though the run has read as many records as the first counts.
    let windows = TestServer::start_fn(|seen| {
        let second = seen.target.contains("since=2024-03-02");
        let (count, first) = if second { (10, 2) } else { (2, 0) };
        match seen.target.contains("page=1&") {
            true => json(
                200,
                format!(
                    "{{\"count\":{count},\"results\":{}}}",
                    ids(first..first + 2)
                ),
            ),
            false => json(404, "{\"detail\":\"Invalid page.\"}"),
        }
    });
    let windowed = format!(
        "{}[incremental]\ncursor = \"id\"\nparam = \"since\"\nend_param = \"until\"\n\
         step = \"1d\"\nstart = \"2024-03-01T00:00:00Z\"\n[state]\npath = \"state.json\"\n\
         [output]\npath = \"out.ndjson\"\n",
        job(1)
    );
    let to = [
        "--from",
        "2024-03-01T00:00:00Z",
        "--to",
        "2024-03-03T00:00:00Z",
    ];
    let (run, _) = run_job_with(&windows.url(), "/drf", &windowed, &to, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("answered 404 Not Found"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("since=2024-03-02"), "{}", run.stderr);
    // The error gives the window's own records and count.
    assert!(
        run.stderr
            .contains("2 records, where the first page counts 10 (`count`)"),
        "{}",
        run.stderr
    );
    // Short of the count, the refusal is an error.
    let short = TestServer::start(vec![page(1, 5, 0..2), page(2, 5, 2..4), refused]);
    let (run, _) = run_job(&short.url(), "/drf", &job(1), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "page=3&page_size=2 answered 404 Not Found: {\"detail\":\"Invalid page.\"}; it \
             asked for the page after 2 full pages, 4 records, where the first page counts 5 \
             (`count`): an API that refuses"
        ),
        "{}",
        run.stderr
    );
}

/// Django REST Framework gives at most `max_page_size` records a page
/// (500 here), whatever `limit` asks. `check` tells from the first page,
/// where the API counts more records than it held; a run would fail at
/// the page after it.
#[test]
fn check_tells_of_a_first_page_shorter_than_asked_of_more_counted() {
    let page = |target: &str, count: u32, records: std::ops::Range<u32>| {
        let body = format!("{{\"count\":{count},\"results\":{}}}", ids(records));
        Exchange::json(target, body)
    };
    let server = TestServer::start(vec![
        page("/o?offset=0&limit=5", 7, 0..3),
        page("/p?page=1&page_size=5", 7, 0..3),
        page("/d?offset=0&limit=100", 7, 0..3),
        page("/all?offset=0&limit=5", 3, 0..3),
        page("/n?page=1", 7, 0..3),
    ]);
    let records = "[records]\npath = \"results\"\n";
    let offset = format!("{records}[paginate]\ntype = \"offset\"\nlimit = 5\n");
    let shown = checked(&server.url(), "/o", &offset);
    let said = |target: &str, asked: u32, key: &str| {
        format!(
            "the first page, from {}{target}, held 3 records, fewer than the {asked} asked \
             ({key}), while the API counts 7 at `count`: the API may give at most 3 records a \
             page, and a run would fail at the page after this one (set {key} to 3 or less)",
            server.url()
        )
    };
    assert!(
        shown.contains(&said("/o?offset=0&limit=5", 5, "paginate.limit")),
        "{shown}"
    );
    let page_job =
        format!("{records}[paginate]\ntype = \"page\"\nsize_param = \"page_size\"\nsize = 5\n");
    let shown = checked(&server.url(), "/p", &page_job);
    assert!(
        shown.contains(&said("/p?page=1&page_size=5", 5, "paginate.size")),
        "{shown}"
    );
    // The default limit of an offset page is asked for too.
    let default = format!("{records}[paginate]\ntype = \"offset\"\n");
    let shown = checked(&server.url(), "/d", &default);
    assert!(
        shown.contains(&said("/d?offset=0&limit=100", 100, "paginate.limit")),
        "{shown}"
    );
    // A short page of every record counted, or a page of no size asked,
    // says nothing.
    for (target, rest) in [
        ("/all", offset.clone()),
        ("/n", format!("{records}[paginate]\ntype = \"page\"\n")),
    ] {
        let shown = checked(&server.url(), target, &rest);
        assert!(!shown.contains("fewer than"), "{shown}");
    }
}

/// Django REST Framework's `next`, as most APIs' `next`, is the next
/// page's URL. A `cursor` job sends it as its parameter, and the API
/// refuses it (404 `Invalid cursor`): the run and `check` say to follow it
/// with `next_link`. A cursor that is a token, or a `next_link` job, says
/// nothing.
#[test]
fn a_link_read_as_a_cursor_is_told() {
    let server = TestServer::start_fn(|seen| {
        let base = format!("http://{}", seen.header("host").unwrap_or_default());
        match seen.target.split_once("cursor=") {
            None => json(
                200,
                format!(
                    "{{\"next\":\"{base}/c?cursor=cD0y\",\"token\":\"cD0y\",\"results\":{}}}",
                    ids(0..2)
                ),
            ),
            Some((_, "cD0y")) => json(200, format!("{{\"next\":null,\"results\":{}}}", ids(2..3))),
            Some(_) => json(404, "{\"detail\":\"Invalid cursor\"}"),
        }
    });
    let job = |kind: &str, from: &str| {
        format!("[records]\npath = \"results\"\n[paginate]\ntype = \"{kind}\"\nfrom = \"{from}\"\n")
    };
    let said = format!(
        "paginate.from `next` holds a link on the page from {}/c, which a `cursor` pass sends as \
         its `cursor` parameter: set paginate.type = \"next_link\" to follow it",
        server.url()
    );
    let (run, _) = run_job(&server.url(), "/c", &job("cursor", "next"), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&said), "{}", run.stderr);
    assert!(
        run.stderr.contains("answered 404 Not Found"),
        "{}",
        run.stderr
    );
    let shown = checked(&server.url(), "/c", &job("cursor", "next"));
    assert!(shown.contains(&said), "{shown}");
    // Told once a run, not once a fan-out value, where the API takes
    // such a cursor.
    let lenient = TestServer::start_fn(|seen| {
        let next = match seen.target.contains("cursor=") {
            true => "null".to_owned(),
            false => format!("\"http://{}/c\"", seen.header("host").unwrap_or_default()),
        };
        json(
            200,
            format!("{{\"next\":{next},\"results\":{}}}", ids(0..1)),
        )
    });
    let fanout = format!(
        "{}[fanout]\nvalues = [\"a\", \"b\", \"c\"]\nparam = \"v\"\n",
        job("cursor", "next")
    );
    let (run, summary) = run_job(&lenient.url(), "/c", &fanout, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(summary["records"], 6);
    let warnings = summary["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].as_str().unwrap().contains("holds a link"),
        "{warnings:?}"
    );
    for rest in [job("cursor", "token"), job("next_link", "next")] {
        let (run, summary) = run_job(&server.url(), "/c", &rest, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, lines(0..3));
        assert_eq!(summary["warnings"], serde_json::json!([]));
        assert!(!checked(&server.url(), "/c", &rest).contains("warning"));
    }
}

/// A job without [paginate] against an API that pages read its first
/// page alone, with exit 0 and no word. A page that names the next one
/// (a Link header, a next link or cursor, `has_more`) is told.
#[test]
fn a_job_without_paginate_whose_page_names_a_next_page_is_told() {
    let mut github = Exchange::json("/gh", format!("{{\"items\":{}}}", ids(0..2)));
    github
        .headers
        .push(("link".to_owned(), "</gh?page=2>; rel=\"next\"".to_owned()));
    // Kinto names its next page in a `Next-Page` header, GitLab its
    // number in `X-Next-Page` (empty on the last page), Azure DevOps its
    // token in `x-ms-continuationtoken`.
    let with_header = |target: &str, name: &str, value: &str| {
        let mut exchange = Exchange::json(target, format!("{{\"data\":{}}}", ids(0..2)));
        (exchange.headers).push((name.to_owned(), value.to_owned()));
        exchange
    };
    let server = TestServer::start(vec![
        github,
        with_header("/kinto", "next-page", "http://h/kinto?_token=a2"),
        with_header("/gitlab", "x-next-page", "2"),
        with_header("/gitlab-last", "x-next-page", ""),
        with_header("/devops", "x-ms-continuationtoken", "2"),
        Exchange::json(
            "/drf",
            format!(
                "{{\"count\":9,\"next\":\"/drf?page=2\",\"results\":{}}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/slack",
            format!(
                "{{\"ok\":true,\"members\":{},\"response_metadata\":{{\"next_cursor\":\"dXNlcjpVMEc5\"}}}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/stripe",
            format!("{{\"data\":{},\"has_more\":true}}", ids(0..2)),
        ),
        Exchange::json(
            "/last",
            format!(
                "{{\"data\":{},\"has_more\":false,\"next\":null,\"response_metadata\":{{\"next_cursor\":\"\"}}}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/hal",
            format!(
                "{{\"_embedded\":{{\"items\":{}}},\"_links\":{{\"self\":{{\"href\":\"/hal\"}},\
                 \"next\":{{\"href\":\"/hal?page=1\"}}}}}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/paypal",
            format!(
                "{{\"items\":{},\"links\":[{{\"href\":\"/paypal\",\"rel\":\"self\"}},\
                 {{\"href\":\"/paypal?page=2\",\"rel\":\"next\"}}]}}",
                ids(0..2)
            ),
        ),
        // Airtable's `offset` is a cursor; a bare `cursor` too, after any
        // other name (`next_page` here).
        Exchange::json(
            "/airtable",
            format!("{{\"records\":{},\"offset\":\"itr2/rec2\"}}", ids(0..2)),
        ),
        Exchange::json(
            "/cursor",
            format!(
                "{{\"cursor\":\"c1\",\"hits\":{},\"meta\":{{\"next_page\":\"c2\"}}}}",
                ids(0..2)
            ),
        ),
        Exchange::json(
            "/algolia",
            format!("{{\"hits\":{},\"cursor\":\"AkxpZ2h0\"}}", ids(0..2)),
        ),
        Exchange::json(
            "/jira",
            format!(
                "{{\"startAt\":0,\"maxResults\":2,\"isLast\":false,\"values\":{}}}",
                ids(0..2)
            ),
        ),
        // Litestar's classic pages: a page's number below the pages'.
        Exchange::json(
            "/litestar",
            format!(
                "{{\"items\":{},\"page_size\":2,\"current_page\":1,\"total_pages\":5}}",
                ids(0..2)
            ),
        ),
        // A number at `offset` is the page's own offset; a link object
        // whose `href` is no link, and `rel: "next"` without one, name
        // nothing.
        Exchange::json(
            "/echo",
            format!(
                "{{\"offset\":\"0\",\"limit\":2,\"data\":{},\"_links\":{{\"next\":{{\"href\":\"#\"}}}},\
                 \"links\":[{{\"rel\":\"next\"}}]}}",
                ids(0..2)
            ),
        ),
    ]);
    let url = server.url();
    let told = |target: &str, says: &str, set: &str| {
        format!(
            "the page from {url}{target} {says}, but the job has no [paginate], so no page after \
             it is read: set [paginate] to {set}"
        )
    };
    let cases = [
        (
            "/gh",
            "items",
            Some(told(
                "/gh",
                "has a Link header to a next page",
                "`type = \"link_header\"`",
            )),
        ),
        (
            "/kinto",
            "data",
            Some(told(
                "/kinto",
                "names a next page's URL in the Next-Page header",
                "`type = \"next_link\"`, `header = \"Next-Page\"`",
            )),
        ),
        (
            "/gitlab",
            "data",
            Some(told(
                "/gitlab",
                "names its next page's number in the X-Next-Page header",
                "`type = \"page\"` and the parameter the API reads the page's number from \
                 (`param`)",
            )),
        ),
        ("/gitlab-last", "data", None),
        (
            "/devops",
            "data",
            Some(told(
                "/devops",
                "names a next page's token in the x-ms-continuationtoken header",
                "`type = \"cursor\"`, `header = \"x-ms-continuationtoken\"` and where the API \
                 reads it back (`param`, `in`)",
            )),
        ),
        (
            "/drf",
            "results",
            Some(told(
                "/drf",
                "names a next page at `next`",
                "`type = \"next_link\"`, `from = \"next\"`",
            )),
        ),
        (
            "/slack",
            "members",
            Some(told(
                "/slack",
                "names a next page's cursor at `response_metadata.next_cursor`",
                "`type = \"cursor\"`, `from = \"response_metadata.next_cursor\"` and the parameter \
                 the API reads it from (`param`)",
            )),
        ),
        (
            "/stripe",
            "data",
            Some(told(
                "/stripe",
                "says more pages follow (`has_more` is true)",
                "the API's paging",
            )),
        ),
        ("/last", "data", None),
        (
            "/hal",
            "_embedded.items",
            Some(told(
                "/hal",
                "names a next page at `_links.next.href`",
                "`type = \"next_link\"`, `from = \"_links.next.href\"`",
            )),
        ),
        (
            "/paypal",
            "items",
            Some(told(
                "/paypal",
                "names a next page at `$.links[?@.rel == 'next'].href`",
                "`type = \"next_link\"`, `from = \"$.links[?@.rel == 'next'].href\"`",
            )),
        ),
        (
            "/airtable",
            "records",
            Some(told(
                "/airtable",
                "names a next page's cursor at `offset`",
                "`type = \"cursor\"`, `from = \"offset\"` and the parameter the API reads it \
                 from (`param`)",
            )),
        ),
        (
            "/cursor",
            "hits",
            Some(told(
                "/cursor",
                "names a next page's cursor at `meta.next_page`",
                "`type = \"cursor\"`, `from = \"meta.next_page\"` and the parameter the API \
                 reads it from (`param`)",
            )),
        ),
        (
            "/algolia",
            "hits",
            Some(told(
                "/algolia",
                "names a next page's cursor at `cursor`",
                "`type = \"cursor\"`, `from = \"cursor\"` and the parameter the API reads it \
                 from (`param`)",
            )),
        ),
        (
            "/jira",
            "values",
            Some(told(
                "/jira",
                "says more pages follow (`isLast` is false)",
                "the API's paging",
            )),
        ),
        (
            "/litestar",
            "items",
            Some(told(
                "/litestar",
                "says more pages follow (`current_page` is below `total_pages`)",
                "`type = \"page\"` and the parameter the API reads the page's number from \
                 (`param`)",
            )),
        ),
        ("/echo", "data", None),
    ];
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for (target, records, says) in &cases {
        for (columns, format) in [("", "ndjson"), (declared, "ndjson"), (declared, "csv")] {
            let rest = format!(
                "[records]\npath = \"{records}\"\n[output]\nformat = \"{format}\"\n{columns}"
            );
            let summary = run_to_file(&url, target, &rest);
            assert_eq!(summary["records"], 2, "{rest}");
            let warnings = serde_json::json!(says.iter().collect::<Vec<_>>());
            assert_eq!(summary["warnings"], warnings, "{target} {rest}");
        }
        let check = checked(&url, target, &format!("[records]\npath = \"{records}\"\n"));
        let warnings: Vec<&str> = (check.lines())
            .filter_map(|line| line.strip_prefix("warning: "))
            .collect();
        assert_eq!(
            warnings,
            says.iter().map(String::as_str).collect::<Vec<_>>(),
            "{target}"
        );
    }
}

/// Directus serves 100 records a request unless asked for more, Sails
/// 30, and PostgREST stops at its `max-rows`, each with no next page and no
/// count: a job without `[paginate]` reads the first page with exit 0.
/// A page of a round number of records that names nothing more is told
/// of, by the run (every path and output) and by `check`; so are a
/// fan-out's values' pages, counted. A count, a number that is no page
/// size, or a job that pages says nothing.
#[test]
fn a_job_without_paginate_whose_page_holds_a_page_size_is_told() {
    let server = TestServer::start(vec![
        Exchange::json("/directus", format!("{{\"data\":{}}}", ids(0..100))),
        Exchange::json("/postgrest", ids(0..20)),
        Exchange::json("/sails", ids(0..30)),
        Exchange::json(
            "/counted",
            format!("{{\"data\":{},\"total\":100}}", ids(0..100)),
        ),
        Exchange::json("/odd", format!("{{\"data\":{}}}", ids(0..99))),
        Exchange::json("/changes?limit=10", ids(0..10)),
        Exchange::json("/changes?limit=12", ids(0..10)),
        Exchange::json("/seven?per_page=7", format!("{{\"data\":{}}}", ids(0..7))),
        Exchange::json(
            "/seven?pagination[pageSize]=7",
            format!("{{\"data\":{}}}", ids(0..7)),
        ),
        Exchange {
            method: "POST".to_owned(),
            ..Exchange::json("/find", format!("{{\"data\":{}}}", ids(0..7)))
        },
        Exchange::json("/fan?c=a", format!("{{\"data\":{}}}", ids(0..50))),
        Exchange::json("/fan?c=b", format!("{{\"data\":{}}}", ids(0..7))),
        Exchange::json("/fan?c=c", format!("{{\"data\":{}}}", ids(0..50))),
    ]);
    let url = server.url();
    let said = |target: &str, held: u32, why: &str| {
        format!(
            "the page from {url}{target} holds exactly {held} records, {why}, and names no \
             next page and no count: the job has no [paginate], so records past these were \
             not read if the API has more; set [paginate] to the API's paging, or if {held} \
             is all, this can be ignored"
        )
    };
    let round = "a page size APIs stop at (Directus and PostgREST give no other sign)";
    let told = |target: &str, held: u32| said(target, held, round);
    let asked = |target: &str, held: u32, asked: &str| {
        let why = format!("the page size its request asks for (`{asked}`)");
        Some(said(target, held, &why))
    };
    let data = "[records]\npath = \"data\"\n";
    let table = format!("{data}[request.query]\nper_page = \"7\"\n");
    // CouchDB's `_find` asks for its page size in the body.
    let find = format!("method = \"POST\"\nbody = {{ limit = 7 }}\n{data}");
    for (target, rest, held, says) in [
        ("/directus", data, 100, Some(told("/directus", 100))),
        ("/postgrest", "", 20, Some(told("/postgrest", 20))),
        ("/sails", "", 30, Some(told("/sails", 30))),
        ("/counted", data, 100, None),
        ("/odd", data, 99, None),
        // A URL copied with the size it asks for, which no rule knows.
        (
            "/changes?limit=10",
            "",
            10,
            asked("/changes?limit=10", 10, "limit=10"),
        ),
        ("/changes?limit=12", "", 10, None),
        (
            "/seven",
            &table,
            7,
            asked("/seven?per_page=7", 7, "per_page=7"),
        ),
        (
            "/seven?pagination[pageSize]=7",
            data,
            7,
            asked("/seven?pagination[pageSize]=7", 7, "pagination[pageSize]=7"),
        ),
        ("/find", &find, 7, asked("/find", 7, "\"limit\": 7")),
    ] {
        each_output_says(&url, target, rest, held, &says.iter().collect::<Vec<_>>());
        let check = checked(&url, target, rest);
        let warnings: Vec<&str> = (check.lines())
            .filter_map(|line| line.strip_prefix("warning: "))
            .collect();
        assert_eq!(
            warnings,
            says.iter().map(String::as_str).collect::<Vec<_>>()
        );
    }
    // A fan-out without [paginate]: a request a value, told once.
    let fan = format!(
        "{data}[fanout]\nparam = \"c\"\nvalues = [\"a\", \"b\", \"c\"]\n[limits]\n\
         concurrency = 1\n"
    );
    let said = format!(
        "2 of 3 passes (fan-out values) read one page that held a page size and named nothing \
         more; the first: {}",
        told("/fan?c=a", 50)
    );
    each_output_says(&url, "/fan", &fan, 107, &[&said]);
    // A job that pages ends at the page of 100 that names no next.
    let paged = format!("{data}[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n");
    let summary = run_to_file(&url, "/directus", &paged);
    assert_eq!(summary["records"], 100);
    let warnings = summary["warnings"].to_string();
    assert!(!warnings.contains("a page size APIs stop at"), "{warnings}");
}

/// Sentry names a previous and a next page in its `Link` header on every
/// page, its last too, each with `results` saying whether that page holds
/// anything. A `link_header` job stops where the next holds nothing,
/// without asking for it; a job without `[paginate]` whose one page is
/// all is not told of a next page.
#[test]
fn a_next_link_that_says_it_holds_no_results_is_not_followed() {
    let server = TestServer::start_fn(|seen| {
        let cursor = seen
            .target
            .rsplit_once("cursor=0:")
            .map_or(0, |(_, n)| n.parse().unwrap());
        let (total, path) = match seen.target.starts_with("/one") {
            true => (2, "/one"),
            false => (5, "/issues"),
        };
        // Past the last page, the next names itself: a run that follows
        // it ends at a loop.
        let next = if cursor < total { cursor + 2 } else { cursor };
        let link = format!(
            "<{path}?&cursor=0:{}:1>; rel=\"previous\"; results=\"{}\"; cursor=\"0:{}:1\", \
             <{path}?&cursor=0:{next}>; rel=\"next\"; results=\"{}\"; cursor=\"0:{next}:0\"",
            cursor.max(2) - 2,
            cursor > 0,
            cursor.max(2) - 2,
            next < total
        );
        let mut exchange = Exchange::json(&seen.target, ids(cursor..next.min(total)));
        exchange.headers.push(("link".to_owned(), link));
        exchange
    });
    let url = server.url();
    let paged = "[paginate]\ntype = \"link_header\"\n";
    let summary = run_to_file(&url, "/issues", paged);
    assert_eq!(summary["records"], 5);
    assert_eq!(summary["requests"], 3);
    assert_eq!(summary["stopped"], "no_next");
    assert_eq!(summary["warnings"], serde_json::json!([]));
    each_output_says(&url, "/one", "", 2, &[]);
    // `hydrant init` reads the header as a run does.
    for (target, paged) in [("/issues", true), ("/one", false)] {
        let init = hydrant(&["init", &format!("{url}{target}")]);
        assert_eq!(init.code, 0, "{}", init.stderr);
        let link = init.stdout.contains("type = \"link_header\"");
        assert_eq!(link, paged, "{}", init.stdout);
    }
}

/// MediaWiki's API continues with an object of parameters, all to be
/// sent back: `{"plcontinue": "2|1", "continue": "||"}` while a page's
/// links go on, then `{"gapcontinue": "3", "continue": "gapcontinue||"}`
/// for the next pages. A job without `param` sends each member, and a
/// member of the last object that this one lacks is not sent: the server
/// refuses a request whose parameters do not match the last answer.
#[test]
fn an_object_cursor_without_a_param_sends_each_of_its_members() {
    // Five wiki pages, page `p` linking to `p` others; two pages a batch,
    // two links an answer.
    let server = TestServer::start_fn(|seen| {
        let param = |name: &str| query_param(&seen.target, name);
        let gap = param("gapcontinue").map(|g| g.parse::<u32>().unwrap());
        let continued = match gap {
            Some(_) => "gapcontinue||",
            None => "||",
        };
        let (start, links_from) = match (gap, param("plcontinue")) {
            (None, None) => (1, (1, 0)),
            (Some(g), None) if param("continue").as_deref() == Some(continued) => (g, (g, 0)),
            (g, Some(pl)) if param("continue").as_deref() == Some(continued) => {
                let (page, at) = pl.split_once('|').unwrap();
                (g.unwrap_or(1), (page.parse().unwrap(), at.parse().unwrap()))
            }
            _ => (0, (0, 0)),
        };
        // A `plcontinue` left from another batch, or a `continue` that does
        // not match, is refused.
        if start == 0 || links_from.0 < start || links_from.0 >= start + 2 {
            return json(400, r#"{"error":{"code":"badcontinue"}}"#);
        }
        let batch: Vec<u32> = (start..(start + 2).min(6)).collect();
        let all: Vec<(u32, u32)> = (batch.iter())
            .flat_map(|&p| (0..p).map(move |i| (p, i)))
            .collect();
        let first = all
            .iter()
            .position(|&l| l >= links_from)
            .unwrap_or(all.len());
        let shown = &all[first..(first + 2).min(all.len())];
        let pages: Vec<String> = (batch.iter())
            .map(|&p| {
                let links: Vec<String> = (shown.iter())
                    .filter(|(page, _)| *page == p)
                    .map(|(_, i)| format!("{{\"title\":\"L{p}.{i}\"}}"))
                    .collect();
                format!("{{\"pageid\":{p},\"links\":[{}]}}", links.join(","))
            })
            .collect();
        let more = match all.get(first + 2) {
            Some((p, i)) if start == 1 => {
                format!(",\"continue\":{{\"plcontinue\":\"{p}|{i}\",\"continue\":\"||\"}}")
            }
            Some((p, i)) => format!(
                ",\"continue\":{{\"plcontinue\":\"{p}|{i}\",\"gapcontinue\":\"{start}\",\
                 \"continue\":\"gapcontinue||\"}}"
            ),
            None if start + 2 <= 5 => format!(
                ",\"continue\":{{\"gapcontinue\":\"{}\",\"continue\":\"gapcontinue||\"}}",
                start + 2
            ),
            None => String::new(),
        };
        Exchange::json(
            &seen.target,
            format!(
                "{{\"batchcomplete\":true{more},\"query\":{{\"pages\":[{}]}}}}",
                pages.join(",")
            ),
        )
    });
    let rest = "query = { action = \"query\", generator = \"allpages\", prop = \"links\" }\n\
                [records]\npath = \"query.pages\"\n[paginate]\ntype = \"cursor\"\nfrom = \"continue\"\n";
    let (out, summary, _) = run(&server, "/api.php", rest, &[]);
    let mut links = Vec::new();
    for line in out.lines() {
        let page: Value = serde_json::from_str(line).unwrap();
        for link in page["links"].as_array().unwrap() {
            links.push(link["title"].as_str().unwrap().to_owned());
        }
    }
    let every: Vec<String> = (1..=5u32)
        .flat_map(|p| (0..p).map(move |i| format!("L{p}.{i}")))
        .collect();
    assert_eq!(links, every);
    assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");
    assert_summary(&summary, 9, "no_next");
    let targets: Vec<String> = (server.requests().iter())
        .map(|r| r.target.clone())
        .collect();
    assert!(
        targets[1].ends_with("&plcontinue=2%7C1&continue=%7C%7C"),
        "{targets:?}"
    );
    assert!(
        targets[2].ends_with("&gapcontinue=3&continue=gapcontinue%7C%7C"),
        "{targets:?}"
    );
    assert!(
        targets[3].ends_with("&plcontinue=3%7C2&gapcontinue=3&continue=gapcontinue%7C%7C"),
        "{targets:?}"
    );
    // A job that names a `param` sends one value, which an object is not:
    // the run fails and says how to send its members.
    let (run, _) = run_job_with(
        &server.url(),
        "/api.php",
        &format!("{rest}param = \"continue\"\n"),
        &[],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "(`continue.plcontinue`, `continue.continue`), or leave out paginate.param to send \
             each of its members as a parameter of its own (MediaWiki's `continue`)"
        ),
        "{}",
        run.stderr
    );
}

/// Elasticsearch's `search_after` (an array, the last hit's `sort`) and
/// DynamoDB's `ExclusiveStartKey` (an object, the answer's
/// `LastEvaluatedKey`) are set in the body as they were read.
#[test]
fn a_cursor_set_in_the_body_keeps_an_array_or_an_object() {
    let server = TestServer::start_fn(|seen| {
        let body: Value = serde_json::from_slice(&seen.body).unwrap();
        let post = |body: String| Exchange {
            method: "POST".to_owned(),
            ..Exchange::json(&seen.target, body)
        };
        if seen.target == "/orders/_search" {
            let after = body["search_after"][0].as_u64().map_or(0, |s| s / 10 + 1);
            let hits: Vec<String> = (after..(after + 3).min(7))
                .map(|i| {
                    format!(
                        "{{\"_source\":{{\"id\":{i}}},\"sort\":[{},\"o{i}\"]}}",
                        i * 10
                    )
                })
                .collect();
            return post(format!("{{\"hits\":{{\"hits\":[{}]}}}}", hits.join(",")));
        }
        let after = body["ExclusiveStartKey"]["pk"]["N"]
            .as_str()
            .map_or(0, |n| n.parse::<u32>().unwrap() + 1);
        let items = ids(after..(after + 3).min(7));
        let last = match after + 3 < 7 {
            true => format!(
                ",\"LastEvaluatedKey\":{{\"pk\":{{\"N\":\"{}\"}}}}",
                after + 2
            ),
            false => String::new(),
        };
        post(format!("{{\"Items\":{items}{last}}}"))
    });
    let search = "method = \"POST\"\nbody = { size = 3, sort = [\"at\", \"id\"] }\n\
                  [records]\npath = \"$.hits.hits[*]._source\"\n[paginate]\ntype = \"cursor\"\n\
                  from = \"$.hits.hits[-1].sort\"\nparam = \"search_after\"\nin = \"body\"\n";
    let (out, summary, _) = run(&server, "/orders/_search", search, &[]);
    assert_eq!(out, lines(0..7));
    assert_summary(&summary, 4, "no_next");
    let dynamo = "method = \"POST\"\nbody = { TableName = \"orders\", Limit = 3 }\n\
                  [records]\npath = \"Items\"\n[paginate]\ntype = \"cursor\"\n\
                  from = \"LastEvaluatedKey\"\nparam = \"ExclusiveStartKey\"\nin = \"body\"\n";
    let (out, summary, _) = run(&server, "/", dynamo, &[]);
    assert_eq!(out, lines(0..7));
    assert_summary(&summary, 3, "no_next");
    let bodies: Vec<String> = (server.requests().iter())
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        bodies[1],
        r#"{"size":3,"sort":["at","id"],"search_after":[20,"o2"]}"#
    );
    assert_eq!(
        bodies[5],
        r#"{"Limit":3,"TableName":"orders","ExclusiveStartKey":{"pk":{"N":"2"}}}"#
    );
}

/// InfluxDB 1.x stops a query at its `max-row-limit` and says so in the
/// series beside its `values`, past the arrays `results` and `series`:
/// `"partial": true`. The run read 1000 of 2500 rows with exit 0 and no
/// word; it says records are missing, and how to read them all. Asked
/// with `chunked=true`, InfluxDB answers every row as NDJSON, each line
/// but the last `partial`: nothing is said.
#[test]
fn an_influxdb_answer_cut_at_its_row_limit_is_told() {
    // As InfluxDB 1.6 answers: cut, the series says `partial`; chunked, its
    // result too.
    let series = |from: u32, to: u32, (partial, chunk): (bool, bool)| {
        let values: Vec<String> = (from..to)
            .map(|i| format!("[\"2023-11-14T22:13:{:02}Z\",{i}]", i % 60))
            .collect();
        let flag = |on: bool| if on { ",\"partial\":true" } else { "" };
        let (partial, chunk) = (flag(partial), flag(chunk));
        format!(
            "{{\"results\":[{{\"statement_id\":0,\"series\":[{{\"name\":\"cpu\",\
             \"columns\":[\"time\",\"id\"],\"values\":[{}]{partial}}}]{chunk}}}]}}",
            values.join(",")
        )
    };
    let chunked = [
        series(0, 2, (true, true)),
        series(2, 4, (true, true)),
        series(4, 5, (false, false)),
    ]
    .join("\n");
    let server = TestServer::start(vec![
        Exchange::json("/query?q=cut", series(0, 3, (true, false))),
        Exchange::json("/query?q=whole", series(0, 3, (false, false))),
        Exchange::json("/query?q=chunked", format!("{chunked}\n")),
    ]);
    let url = server.url();
    let columns = "[[columns]]\nname = \"id\"\npath = \"$[1]\"\ntype = \"long\"\n";
    let rest = format!("[records]\npath = \"$.results[0].series[0].values\"\n{columns}");
    let says = format!(
        "the page from {url}/query?q=cut says `$.results[0].series[0].partial` is true: the API \
         cut its answer short, and records are missing from the run (InfluxDB stops a query at \
         its `max-row-limit`: ask with `chunked=true`, and read the answer as `records.format = \
         \"ndjson\"`)"
    );
    // Columns by place (pages made off the loop) into NDJSON and Parquet,
    // and inferred (a row a `value`).
    let inferred = "[records]\npath = \"$.results[0].series[0].values\"\n";
    for (target, warnings) in [
        ("/query?q=cut", vec![says.clone()]),
        ("/query?q=whole", vec![]),
    ] {
        for (rest, format) in [
            (&rest[..], "ndjson"),
            (&rest, "parquet"),
            (inferred, "ndjson"),
        ] {
            let rest = format!("{rest}[output]\nformat = \"{format}\"\n");
            let summary = run_to_file(&url, target, &rest);
            assert_eq!(summary["records"], 3, "{summary}");
            assert_eq!(
                summary["warnings"],
                serde_json::json!(warnings),
                "{summary}"
            );
        }
    }
    let check = checked(&url, "/query?q=cut", &rest);
    assert!(check.contains(&format!("warning: {says}\n")), "{check}");
    let rest = format!(
        "[records]\nformat = \"ndjson\"\npath = \"$.results[0].series[0].values\"\n{columns}"
    );
    let (out, summary, _) = run(&server, "/query?q=chunked", &rest, &[]);
    assert_eq!(out, lines(0..5));
    assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");
    let check = checked(&url, "/query?q=chunked", &rest);
    assert!(!check.contains("warning"), "{check}");
}
