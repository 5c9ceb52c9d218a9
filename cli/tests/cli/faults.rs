//! Hostile and flaky servers: every fault ends in the exact output (no
//! record lost, none twice) or the exact error and exit code.

use std::time::Duration;

use hydrant_bench::{Exchange, Fault, Seen};

use crate::util::{
    Dir, TestFaults, TestServer, explained, hydrant, hydrant_in, ids, lines, path_str, run_job,
};

/// Retries come fast in these tests.
const FAST: &str = "[limits]\nbackoff = { initial = \"10ms\", max = \"20ms\" }\n";

#[test]
fn a_429_with_retry_after_seconds_is_waited_out() {
    let server = TestFaults::start(vec![(
        "/items",
        vec![
            Fault::status(429, &[("retry-after", "1")]),
            Fault::json(ids(0..3)),
        ],
    )]);
    let (run, summary) = run_job(&server.url(), "/items", FAST, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..3));
    assert_eq!(summary["retries"], 1, "{summary}");
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].0 - seen[0].0;
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
}

#[test]
fn a_429_with_a_past_http_date_is_retried_at_once() {
    let server = TestFaults::start(vec![(
        "/items",
        vec![
            Fault::status(429, &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
            Fault::status(503, &[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")]),
            Fault::json(ids(0..2)),
        ],
    )]);
    let (run, summary) = run_job(&server.url(), "/items", FAST, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..2));
    assert_eq!(summary["retries"], 2, "{summary}");
}

#[test]
fn a_retry_after_beyond_max_retry_wait_fails_the_run() {
    let server = TestFaults::start(vec![(
        "/items",
        vec![Fault::status(503, &[("retry-after", "3600")])],
    )]);
    let (run, _) = run_job(
        &server.url(),
        "/items",
        "[limits]\nmax_retry_wait = \"1m\"\n",
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "GET {}/items answered 503 Service Unavailable",
            server.url()
        )) && run
            .stderr
            .contains("its Retry-After asks for 3600.0s, more than limits.max_retry_wait (60s)"),
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), 1);
}

/// GitHub's REST API spends a window of requests: the last answer of
/// the window says `X-RateLimit-Remaining: 0`, and a request past it is
/// answered 403 until `X-RateLimit-Reset` (a Unix time). The run failed
/// there, exit 1, with pages left. It waits for the reset: before the
/// next request where a success says so, and before sending a 403 again.
/// GitLab and the IETF draft spell them `RateLimit-Remaining` and
/// `RateLimit-Reset` (seconds from now). GitHub's secondary limit is a 403
/// with a `Retry-After`.
#[test]
fn a_spent_rate_limit_is_waited_out_until_its_reset() {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = (unix + 1).to_string();
    let far = (unix + 3600).to_string();
    let spent = |reset: &str| {
        vec![
            ("x-ratelimit-limit".to_owned(), "60".to_owned()),
            ("x-ratelimit-remaining".to_owned(), "0".to_owned()),
            ("x-ratelimit-reset".to_owned(), reset.to_owned()),
        ]
    };
    let page = |from: u32, next: &str| {
        format!("{{\"data\":{},\"next\":\"{next}\"}}", ids(from..from + 2)).into_bytes()
    };
    // The IETF draft's spelling: seconds from now.
    let last_of_window = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("ratelimit-remaining".to_owned(), "0".to_owned()),
        ("ratelimit-reset".to_owned(), "1".to_owned()),
    ];
    let server = TestFaults::start(vec![
        (
            "/items",
            vec![Fault::Reply {
                status: 200,
                headers: last_of_window,
                body: page(0, "/items?page=2"),
            }],
        ),
        (
            "/items?page=2",
            vec![Fault::json(format!("{{\"data\":{}}}", ids(2..4)))],
        ),
        (
            "/limited",
            vec![
                Fault::Reply {
                    status: 403,
                    headers: spent(&reset),
                    body: br#"{"message":"API rate limit exceeded"}"#.to_vec(),
                },
                Fault::json(format!("{{\"data\":{}}}", ids(0..2))),
            ],
        ),
        // GitHub's secondary limit: a 403 with a Retry-After.
        (
            "/secondary",
            vec![
                Fault::status(403, &[("retry-after", "1")]),
                Fault::json(format!("{{\"data\":{}}}", ids(0..2))),
            ],
        ),
        (
            "/far",
            vec![Fault::Reply {
                status: 403,
                headers: spent(&far),
                body: br#"{"message":"API rate limit exceeded"}"#.to_vec(),
            }],
        ),
    ]);
    let paged = "[records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    // First, while GitHub's reset is ahead.
    let data = "[records]\npath = \"data\"\n";
    let (run, summary) = run_job(&server.url(), "/limited", data, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..2));
    assert_eq!(summary["retries"], 1, "{summary}");
    let (run, summary) = run_job(&server.url(), "/items", paged, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..4));
    assert_eq!(summary["retries"], 0, "{summary}");
    let said = format!(
        "{}/items says the API's rate limit is spent (`ratelimit-remaining: 0`): the next \
         request waits 1s for its reset",
        server.url()
    );
    assert!(run.stderr.contains(&said), "{}", run.stderr);
    let seen = server.requests();
    let at = |target: &str| seen.iter().find(|(_, t)| t == target).unwrap().0;
    let waited = at("/items?page=2") - at("/items");
    assert!(
        waited >= Duration::from_secs(1),
        "the next page asked after {waited:?}"
    );
    let limited: Vec<_> = seen.iter().filter(|(_, t)| t == "/limited").collect();
    let waited = limited[1].0 - limited[0].0;
    assert!(
        waited >= Duration::from_secs(1),
        "the 403 sent again after {waited:?}"
    );
    let (run, summary) = run_job(&server.url(), "/secondary", data, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..2));
    assert_eq!(summary["retries"], 1, "{summary}");
    // A reset past limits.max_retry_wait fails at once, naming both.
    let (run, _) = run_job(
        &server.url(),
        "/far",
        "[limits]\nmax_retry_wait = \"1m\"\n",
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains(&format!("GET {}/far answered 403 Forbidden", server.url()))
            && run
                .stderr
                .contains("its rate limit is spent (`x-ratelimit-remaining: 0`) and resets in 3")
            && run.stderr.contains("more than limits.max_retry_wait (60s)"),
        "{}",
        run.stderr
    );
}

/// GitHub's statistics answer 202 Accepted with `{}` while they are
/// computed, and ask to be asked again. The run took `{}` for a page of
/// no records: 0 records, exit 0. It asks again on the backoff (or the
/// `Retry-After`), and fails, naming the 202, once its retries are spent.
#[test]
fn a_202_accepted_is_asked_again_until_the_answer_is_ready() {
    let accepted = || Fault::Reply {
        status: 202,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: b"{}".to_vec(),
    };
    let server = TestFaults::start(vec![
        (
            "/stats",
            vec![accepted(), accepted(), Fault::json(ids(0..3))],
        ),
        // Watched as it arrives (a followed job): the 202's body is no
        // page, and its `next` is not followed.
        (
            "/paged",
            vec![
                Fault::Reply {
                    status: 202,
                    headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                    body: br#"{"next":"/elsewhere","message":"computing"}"#.to_vec(),
                },
                Fault::json(format!("{{\"next\":null,\"data\":{}}}", ids(0..3))),
            ],
        ),
        ("/never", vec![accepted()]),
    ]);
    let paged = format!(
        "{FAST}[records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n\
         [[columns]]\nname = \"id\"\ntype = \"long\"\n"
    );
    for (target, rest) in [("/stats", FAST.to_owned()), ("/paged", paged)] {
        let (run, summary) = run_job(&server.url(), target, &rest, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, lines(0..3), "{rest}");
        assert!(summary["retries"].as_u64().unwrap() >= 1, "{summary}");
        assert!(
            run.stderr
                .contains("answered 202 Accepted: the answer is still being prepared")
        );
    }
    let (run, _) = run_job(&server.url(), "/never", FAST, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let says = format!(
        "GET {}/never answered 202 Accepted: the API has not finished preparing the answer \
         (after 5 retries); raise limits.max_retries or limits.backoff, or run again later",
        server.url()
    );
    assert!(run.stderr.contains(&says), "{}", run.stderr);
}

#[test]
fn bursts_of_5xx_lose_and_repeat_nothing_even_concurrently() {
    let page = |p: u32| {
        (
            format!("/items?page={p}"),
            if p == 6 {
                vec![Fault::json("[]")]
            } else {
                vec![
                    Fault::status(503, &[]),
                    Fault::status(502, &[]),
                    Fault::status(500, &[]),
                    Fault::json(ids(p * 10..p * 10 + 3)),
                ]
            },
        )
    };
    let scripts: Vec<(String, Vec<Fault>)> = (1..=7).map(page).collect();
    let server = TestFaults::start(
        scripts
            .iter()
            .map(|(t, s)| (t.as_str(), s.clone()))
            .collect(),
    );
    let rest = format!("[paginate]\ntype = \"page\"\n{FAST}concurrency = 3\n");
    let (run, summary) = run_job(&server.url(), "/items", &rest, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: String = (1..=5).map(|p| lines(p * 10..p * 10 + 3)).collect();
    assert_eq!(run.stdout, expected);
    assert_eq!(summary["records"], 15, "{summary}");
    assert!(summary["retries"].as_u64().unwrap() >= 15, "{summary}");
}

#[test]
fn retries_give_up_after_max_retries_naming_the_status() {
    let server = TestFaults::start(vec![("/items", vec![Fault::status(502, &[])])]);
    let (run, _) = run_job(
        &server.url(),
        "/items",
        &format!("{FAST}max_retries = 2\n"),
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "GET {}/items answered 502 Bad Gateway: {{\"error\":502}} (after 2 retries)",
            server.url()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_status_outside_retry_on_is_not_retried() {
    let server = TestFaults::start(vec![("/items", vec![Fault::status(503, &[])])]);
    let (run, _) = run_job(&server.url(), "/items", "[limits]\nretry_on = [429]\n", &[]);
    assert_eq!(run.code, 1);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn bodies_cut_short_or_reset_are_fetched_again_whole() {
    let body = ids(0..50).into_bytes();
    for reset in [false, true] {
        let server = TestFaults::start(vec![(
            "/items",
            vec![
                Fault::CutBody {
                    body: body[..body.len() / 2].to_vec(),
                    declared: body.len(),
                    reset,
                },
                Fault::json(body.clone()),
            ],
        )]);
        let (run, summary) = run_job(&server.url(), "/items", FAST, &[]);
        assert_eq!(run.code, 0, "reset={reset}: {}", run.stderr);
        assert_eq!(run.stdout, lines(0..50), "reset={reset}");
        assert_eq!(summary["retries"], 1, "{summary}");
    }
}

#[test]
fn a_server_that_drips_bytes_times_out() {
    let server = TestFaults::start(vec![(
        "/items",
        vec![Fault::Drip {
            headers: Vec::new(),
            body: ids(0..20).into_bytes(),
            every: Duration::from_millis(50),
        }],
    )]);
    let rest = "timeout = \"400ms\"\n[limits]\nmax_retries = 0\n";
    let (run, _) = run_job(&server.url(), "/items", rest, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "request to {}/items timed out after 400ms (request.timeout)",
            server.url()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_flood_of_headers_is_refused() {
    let server = TestFaults::start(vec![(
        "/items",
        vec![Fault::ManyHeaders {
            count: 500,
            body: b"[]".to_vec(),
        }],
    )]);
    let (run, _) = run_job(&server.url(), "/items", "[limits]\nmax_retries = 0\n", &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains(&format!("request to {}/items failed", server.url())),
        "{}",
        run.stderr
    );
}

/// A gzip file served as it is, with no Content-Encoding: an export's
/// `orders.json.gz` as `application/gzip`, as static file servers and
/// object stores serve it. No JSON starts with its magic bytes, so it is
/// read decoded (two members joined, as `cat` joins them), an NDJSON one
/// too, and one a server compressed again; a bomb stops at the cap.
#[test]
fn a_gzip_file_served_as_it_is_is_read_decoded() {
    use std::io::Write;
    let gzip_bytes = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    };
    let gzip = |text: &str| gzip_bytes(text.as_bytes());
    let file = |target: &str, body: Vec<u8>| Exchange {
        headers: vec![("content-type".into(), "application/gzip".into())],
        ..Exchange::json(target, body)
    };
    let joined = [gzip("{\"data\": [{\"id\": 0}, "), gzip("{\"id\": 1}]}")].concat();
    let bomb = gzip(&" ".repeat(2 << 20));
    // A server that compresses what it serves, a gzip file too.
    let twice = Exchange {
        headers: vec![
            ("content-type".into(), "application/gzip".into()),
            ("content-encoding".into(), "gzip".into()),
        ],
        ..Exchange::json("/twice.json.gz", gzip_bytes(&joined))
    };
    let server = TestServer::start(vec![
        twice,
        file("/orders.json.gz", joined),
        file("/orders.ndjson.gz", gzip("{\"id\": 0}\n{\"id\": 1}\n")),
        file("/bomb.json.gz", bomb),
    ]);
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for columns in ["", declared] {
        for (target, records) in [
            ("/orders.json.gz", "[records]\npath = \"data\"\n"),
            ("/twice.json.gz", "[records]\npath = \"data\"\n"),
            ("/orders.ndjson.gz", "[records]\nformat = \"ndjson\"\n"),
        ] {
            let (run, _) = run_job(&server.url(), target, &format!("{records}{columns}"), &[]);
            assert_eq!(run.code, 0, "{target}: {}", run.stderr);
            assert_eq!(run.stdout, lines(0..2), "{target}");
        }
    }
    let capped = "[limits]\nmax_response = \"1MiB\"\n";
    let (run, _) = run_job(&server.url(), "/bomb.json.gz", capped, &[]);
    assert_eq!(run.code, 1);
    let says = format!(
        "response from {}/bomb.json.gz exceeds limits.max_response (1048576 bytes decoded)",
        server.url()
    );
    assert!(run.stderr.contains(&says), "{}", run.stderr);
}

/// Python's `json.dumps` writes a float NaN or infinity as `NaN`,
/// `Infinity` or `-Infinity`, which are not JSON: Flask and pandas-backed
/// APIs answer so. The run fails naming the value and the key that reads
/// it; with `records.non_finite = "null"` each is read as null, on every
/// page path and output, a string that spells one kept as it is.
#[test]
fn nan_and_infinity_fail_the_run_or_are_read_as_null() {
    let page = r#"{"data": [{"id": 1, "score": NaN, "note": "NaN"},
        {"id": 2, "score": Infinity, "note": "x"}, {"id": 3, "score": -Infinity, "note": "y"}],
        "next": "/p2"}"#;
    let server = TestServer::start(vec![
        Exchange::json("/p1", page),
        Exchange::json("/p2", r#"{"data": [{"id": 4, "score": 0.5, "note": "z"}]}"#),
    ]);
    let paged = "[records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let (run, _) = run_job(&server.url(), "/p1", paged, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let says = format!(
        "response from {}/p1 is not JSON: it holds `NaN` at byte 29, a number JSON has no word \
         for (Python's json.dumps writes NaN and Infinity so); set records.non_finite = \"null\" \
         to read such values as null",
        server.url()
    );
    assert!(run.stderr.contains(&says), "{}", run.stderr);
    let nulled = paged.replace("[paginate]", "non_finite = \"null\"\n[paginate]");
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"score\"\n\
                    type = \"double\"\n[[columns]]\nname = \"note\"\n";
    for columns in ["", declared] {
        let (run, summary) = run_job(&server.url(), "/p1", &format!("{nulled}{columns}"), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stdout,
            "{\"id\":1,\"score\":null,\"note\":\"NaN\"}\n{\"id\":2,\"score\":null,\"note\":\"x\"}\n\
             {\"id\":3,\"score\":null,\"note\":\"y\"}\n{\"id\":4,\"score\":0.5,\"note\":\"z\"}\n"
        );
        assert_eq!(summary["records"], 4);
    }
}

#[test]
fn a_gzip_bomb_stops_at_the_cap() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..32 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 512 << 10, "{} bytes", bomb.len());
    let mut exchange = Exchange::json("/bomb", bomb);
    exchange
        .headers
        .push(("content-encoding".to_owned(), "gzip".to_owned()));
    let server = TestServer::start(vec![exchange]);
    let (run, _) = run_job(
        &server.url(),
        "/bomb",
        "[limits]\nmax_response = \"1MiB\"\n",
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "response from {}/bomb exceeds limits.max_response (1048576 bytes decoded)",
            server.url()
        )),
        "{}",
        run.stderr
    );
}

/// RFC 1952: a gzip body may be several members, read one after another
/// (`gzip -d` does; curl keeps the first and drops the rest). Bytes after
/// the last member, or after a deflate stream, are refused by name.
#[test]
fn every_gzip_member_is_read_and_trailing_bytes_are_refused() {
    use std::io::Write;
    let compress = |text: &[u8], gzip: bool| -> Vec<u8> {
        if gzip {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
            encoder.write_all(text).unwrap();
            encoder.finish().unwrap()
        } else {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), Default::default());
            encoder.write_all(text).unwrap();
            encoder.finish().unwrap()
        }
    };
    let encoded = |target: &str, body: Vec<u8>, encoding: &str| {
        let mut exchange = Exchange::json(target, body);
        exchange
            .headers
            .push(("content-encoding".to_owned(), encoding.to_owned()));
        exchange
    };
    let members = [
        compress(b"[{\"id\":1},", true),
        compress(b"{\"id\":2}]", true),
    ]
    .concat();
    let trailing = [compress(b"[{\"id\":1}]", true), b"junk".to_vec()].concat();
    let deflated = [compress(b"[{\"id\":1}]", false), b"junk".to_vec()].concat();
    let server = TestServer::start(vec![
        encoded("/members", members, "gzip"),
        encoded("/trailing", trailing, "gzip"),
        encoded("/deflated", deflated, "deflate"),
    ]);
    let (run, _) = run_job(&server.url(), "/members", "", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n{\"id\":2}\n");
    for (target, says) in [
        ("/trailing", "bytes follow the end of the compressed stream"),
        ("/deflated", "bytes follow the end of the compressed stream"),
    ] {
        let (run, _) = run_job(&server.url(), target, "", &[]);
        assert_eq!(run.code, 1, "{target}: {}", run.stderr);
        let error = format!(
            "response from {}{target} could not be decoded: {says}",
            server.url()
        );
        assert!(run.stderr.contains(&error), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{target}: {}", run.stdout);
    }
}

/// A body that arrives a byte at a time is decoded whole in every
/// encoding: zlib-wrapped deflate is told from raw by its first two
/// bytes, which come apart.
#[test]
fn a_compressed_body_arriving_a_byte_at_a_time_is_decoded() {
    use std::io::Write;
    let text = ids(0..6);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), Default::default());
    zlib.write_all(text.as_bytes()).unwrap();
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), Default::default());
    raw.write_all(text.as_bytes()).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    gzip.write_all(text.as_bytes()).unwrap();
    let bodies = [
        ("/zlib", "deflate", zlib.finish().unwrap()),
        ("/raw", "deflate", raw.finish().unwrap()),
        ("/gzip", "gzip", gzip.finish().unwrap()),
    ];
    let server = TestFaults::start(
        bodies
            .iter()
            .map(|(target, encoding, body)| {
                let drip = Fault::Drip {
                    headers: vec![("content-encoding".to_owned(), (*encoding).to_owned())],
                    body: body.clone(),
                    every: Duration::from_millis(2),
                };
                (*target, vec![drip])
            })
            .collect(),
    );
    for (target, ..) in bodies {
        let (run, _) = run_job(&server.url(), target, "[limits]\nmax_retries = 0\n", &[]);
        assert_eq!(run.code, 0, "{target}: {}", run.stderr);
        assert_eq!(run.stdout, lines(0..6), "{target}");
    }
}

#[test]
fn stacked_encodings_are_refused() {
    let mut exchange = Exchange::json("/x", "[]");
    exchange
        .headers
        .push(("content-encoding".to_owned(), "gzip, br".to_owned()));
    let server = TestServer::start(vec![exchange]);
    let (run, _) = run_job(&server.url(), "/x", "", &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("stacked content-encodings `gzip, br`"),
        "{}",
        run.stderr
    );
}

#[test]
fn deep_nesting_invalid_utf8_and_malformed_json_fail_naming_the_url() {
    let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let server = TestServer::start(vec![
        Exchange::json("/deep", deep),
        Exchange::json("/utf8", b"[{\"s\": \"caf\xe9\"}]".to_vec()),
        Exchange::json("/broken", "[{\"id\": 1},"),
        Exchange::json("/trailing", "[{\"id\": 1}] [{\"id\": 2}]"),
    ]);
    // The fault in plain words, with the byte where it is.
    for (target, why) in [
        ("/deep", "nesting deeper than 1024 at byte 1024"),
        ("/utf8", "invalid UTF-8 at byte 11"),
        ("/broken", "expected a value at byte 11"),
        ("/trailing", "expected the end of the text at byte 12"),
    ] {
        let dir = Dir::new();
        let out = dir.path("out.ndjson");
        let rest = format!("[output]\npath = \"{}\"\n", path_str(&out));
        let (run, _) = run_job(&server.url(), target, &rest, &[]);
        assert_eq!(run.code, 1, "{target}");
        assert!(
            run.stderr.contains(&format!(
                "response from {}{target} is not valid JSON: {why};",
                server.url()
            )),
            "{target}: {}",
            run.stderr
        );
        assert!(
            !out.exists(),
            "{target}: no output is left looking complete"
        );
    }
}

/// Text cut inside a surrogate pair leaves `\ud83d` alone: valid JSON
/// (RFC 8259, 8.2) that UTF-8 cannot hold. The record is written with
/// U+FFFD there, and the run says so once; every way a page is read.
#[test]
fn a_lone_surrogate_is_written_as_the_replacement_character_with_a_warning() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/s",
            r#"{"data":[{"id":1,"t":"cut \ud83d"},{"id":2,"t":"\ud83d\ude00"}],"next":"/s2"}"#,
        ),
        Exchange::json("/s2", r#"{"data":[{"id":3,"t":"\udc00 x"}],"next":null}"#),
        // Only a later page has one: made off the loop with declared columns.
        Exchange::json("/c", r#"{"data":[{"id":1,"t":"a"}],"next":"/c2"}"#),
        Exchange::json(
            "/c2",
            r#"{"data":[{"id":2,"t":"\udc00\udc00"}],"next":null}"#,
        ),
    ]);
    let paged = "[records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"t\"\n";
    for rest in [paged.to_owned(), format!("{paged}{declared}")] {
        let (run, summary) = run_job(&server.url(), "/s", &rest, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stdout,
            "{\"id\":1,\"t\":\"cut \u{fffd}\"}\n{\"id\":2,\"t\":\"\u{1f600}\"}\n{\"id\":3,\"t\":\"\u{fffd} x\"}\n"
        );
        let warnings = summary["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1, "{summary}");
        assert!(
            warnings[0].as_str().unwrap().contains(&format!(
                "the page from {}/s holds 1 escapes of a lone UTF-16 surrogate",
                server.url()
            )),
            "{summary}"
        );
        let (run, summary) = run_job(&server.url(), "/c", &rest, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout
                .ends_with("{\"id\":2,\"t\":\"\u{fffd}\u{fffd}\"}\n")
        );
        assert!(
            summary["warnings"][0].as_str().unwrap().contains(&format!(
                "the page from {}/c2 holds 2 escapes",
                server.url()
            )),
            "{summary}"
        );
    }
}

#[test]
fn duplicate_keys_take_the_first_value_everywhere() {
    let server = TestServer::start(vec![Exchange::json(
        "/dup",
        r#"[{"a": 1, "b": {"c": "x", "c": "y"}, "a": 2}]"#,
    )]);
    let columns = "[[columns]]\nname = \"a\"\ntype = \"long\"\n[[columns]]\nname = \"c\"\npath = \"b.c\"\n[[columns]]\nname = \"c_filter\"\npath = \"$.b[?@ == 'x' || @ == 'y']\"\ntype = \"json\"\n[[columns]]\nname = \"b\"\ntype = \"json\"\n";
    let (run, _) = run_job(&server.url(), "/dup", columns, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A `json` cell holds the first member of a repeated key alone: most
    // readers of its text would take the last.
    assert_eq!(
        run.stdout,
        "{\"a\":1,\"c\":\"x\",\"c_filter\":[\"x\"],\"b\":{\"c\":\"x\"}}\n"
    );
}

/// A wide object (past 32 members) that repeats a key, in an array of a
/// `json` column, on a first page read for the columns and on the pages after
/// it: each cell holds the first member of the key alone, as the columns
/// read it.
#[test]
fn a_json_cell_of_a_wide_object_keeps_a_repeated_key_s_first_member_on_every_page() {
    let wide = |n: usize| {
        let members: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{}", i * n)).collect();
        format!("{{{},\"k3\":\"again\",\"k{n}\":true}}", members.join(","))
    };
    let pages: Vec<Exchange> = (1..=3)
        .map(|n| {
            let next = match n {
                3 => String::new(),
                _ => format!(",\"next\":\"/w?page={}\"", n + 1),
            };
            let target = match n {
                1 => "/w".to_owned(),
                _ => format!("/w?page={n}"),
            };
            let page = format!("{{\"data\":[{{\"id\":{n},\"meta\":[{}]}}]{next}}}", wide(n));
            Exchange::json(&target, page)
        })
        .collect();
    let server = TestServer::start(pages);
    let rest = "[records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let (run, _) = run_job(&server.url(), "/w", rest, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = (run.stdout.lines())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for (n, line) in (1..).zip(&lines) {
        let meta = line["meta"][0]
            .as_object()
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(meta.len(), 40, "page {n}: {line}");
        assert_eq!(meta["k3"], 3 * n, "page {n}: {line}");
        assert_eq!(meta[&format!("k{n}")], n * n, "page {n}: {line}");
    }
}

#[test]
fn rate_and_interval_space_the_requests_the_server_sees() {
    let server = TestServer::start_fn(|seen: &Seen| {
        let page: u32 = seen
            .target
            .rsplit('=')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let body = if page <= 6 {
            ids(page..page + 1)
        } else {
            "[]".into()
        };
        Exchange::json(&seen.target, body)
    });
    // rate = 10/s with no burst: at least 100 ms between starts, even with
    // four requests allowed in flight.
    let (run, _) = run_job(
        &server.url(),
        "/p",
        "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 4\nrate = 10.0\n",
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(1..7));
    let times: Vec<_> = server.requests().iter().map(|s| s.received).collect();
    assert!(times.len() >= 7);
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        // A tolerance for the server's own scheduling.
        assert!(gap >= Duration::from_millis(75), "gap {gap:?} in {times:?}");
    }

    let server = TestServer::start(vec![
        Exchange::json("/i?page=1", ids(0..1)),
        Exchange::json("/i?page=2", ids(1..2)),
        Exchange::json("/i?page=3", "[]"),
    ]);
    let (run, _) = run_job(
        &server.url(),
        "/i",
        "interval = \"200ms\"\n[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 4\n",
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let times: Vec<_> = server.requests().iter().map(|s| s.received).collect();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(170), "gap {gap:?}");
    }
}

#[test]
fn bytes_per_second_throttles_downloads() {
    let body = format!(
        "[{}]",
        vec!["\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\""; 500].join(",")
    );
    let size = body.len();
    let server = TestServer::start(vec![Exchange::json("/big", body)]);
    let started = std::time::Instant::now();
    let (run, _) = run_job(
        &server.url(),
        "/big",
        &format!("[limits]\nbytes_per_second = \"{}\"\n", size * 2),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 500);
    // The body takes half a second at that rate (the first chunk is free).
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_page_parsed_beside_its_fetch_fails_naming_its_url_after_the_pages_before_it() {
    // Declared columns and NDJSON output: pages are parsed by the task that
    // fetched them, four at once, and still fail in request order.
    let server = TestServer::start(vec![
        Exchange::json("/p?page=1", ids(0..2)),
        Exchange::json("/p?page=2", "[{\"id\": 2},"),
        Exchange::json("/p?page=3", ids(3..4)),
    ]);
    let dir = Dir::new();
    let out = dir.path("out.ndjson");
    let rest = format!(
        "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 4\n\
         [[columns]]\nname = \"id\"\ntype = \"long\"\n[output]\npath = \"{}\"\n",
        path_str(&out)
    );
    fails_at_broken_page_2(&server, &rest, &out);
}

#[test]
fn a_next_link_read_from_the_head_of_a_broken_page_still_fails_the_run_there() {
    // The next request leaves on the link at the head of page 2, before the
    // page is parsed; the parse then fails, and the run fails naming it.
    let server = TestServer::start(vec![
        Exchange::json("/p", r#"{"next": "/p?page=2", "data": [{"id": 0}]}"#),
        Exchange::json("/p?page=2", r#"{"next": "/p?page=3", "data": [{"id": 1},"#),
        Exchange::json("/p?page=3", r#"{"data": [{"id": 2}]}"#),
    ]);
    let dir = Dir::new();
    let out = dir.path("out.ndjson");
    let rest = format!(
        "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[records]\npath = \"data\"\n\
         [[columns]]\nname = \"id\"\ntype = \"long\"\n[output]\npath = \"{}\"\n",
        path_str(&out)
    );
    fails_at_broken_page_2(&server, &rest, &out);
}

/// A page whose link key is spelled two ways, the first with an escape
/// (`ne\u0078t` is `next`), and the pages each spelling names.
fn spelled_two_ways(first: String) -> TestServer {
    TestServer::start(vec![
        Exchange::json("/p", first),
        Exchange::json("/p?page=2", r#"{"data": [{"id": 2}]}"#),
        Exchange::json("/p?page=9", r#"{"data": [{"id": 9}]}"#),
    ])
}

const FOLLOW_NEXT: &str = "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n\
    [records]\npath = \"data\"\n[[columns]]\nname = \"id\"\ntype = \"long\"\n";

#[test]
fn a_link_read_at_the_head_is_the_first_of_a_key_spelled_two_ways() {
    // The first of two keys wins, however it is spelled, as in the parse.
    // The records are too long to be stepped over from the tail.
    let server = spelled_two_ways(format!(
        r#"{{"ne\u0078t": "/p?page=2", "next": "/p?page=9", "data": [{{"id": 0, "pad": "{}"}}]}}"#,
        "x".repeat(70_000)
    ));
    let (run, _) = run_job(&server.url(), "/p", FOLLOW_NEXT, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":0}\n{\"id\":2}\n");
}

#[test]
fn a_link_read_at_the_tail_that_the_parse_reads_otherwise_fails_the_run() {
    // Read backwards, the last `next` is found, and the next request goes
    // out on it before the parse, which takes the first. The run fails
    // naming the page, rather than go on from a link the page does not
    // give.
    let server = spelled_two_ways(
        r#"{"data": [{"id": 0}], "ne\u0078t": "/p?page=2", "next": "/p?page=9"}"#.to_owned(),
    );
    let dir = Dir::new();
    let out = dir.path("out.ndjson");
    let rest = format!("{FOLLOW_NEXT}[output]\npath = \"{}\"\n", path_str(&out));
    let said = format!(
        "response from {}/p: `next` is \"/p?page=2\" by the parse of the page, \
         but the next request went out for \"/p?page=9\"",
        server.url()
    );
    fails_saying(&server, &rest, &out, &said);
}

/// Runs `/p` with `rest` and checks that the run fails naming page 2 as
/// not valid JSON, leaving no output at `out`.
fn fails_at_broken_page_2(server: &TestServer, rest: &str, out: &std::path::Path) {
    let said = format!("response from {}/p?page=2 is not valid JSON", server.url());
    fails_saying(server, rest, out, &said);
}

/// Runs `/p` with `rest` and checks that the run fails saying `said`,
/// leaving no output at `out`.
fn fails_saying(server: &TestServer, rest: &str, out: &std::path::Path, said: &str) {
    let (run, _) = run_job(&server.url(), "/p", rest, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(said), "{}", run.stderr);
    assert!(
        !out.exists(),
        "a failed run left its output looking complete"
    );
}

#[test]
fn a_failed_run_still_writes_its_summary_with_the_error() {
    let server = TestServer::start(vec![
        Exchange::json("/s?page=1", ids(0..2)),
        Exchange {
            status: 404,
            ..Exchange::json("/s?page=2", "{\"error\":\"gone\"}")
        },
    ]);
    let rest = "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n";
    let (run, summary) = run_job(&server.url(), "/s", rest, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(summary["error"]["exit_code"], 1, "{summary}");
    let message = summary["error"]["message"].as_str().unwrap();
    assert!(message.contains("/s?page=2"), "{message}");
    assert!(message.contains("404"), "{message}");
    assert_eq!(summary["requests"], 1, "{summary}");

    // A job file error is exit 2, in the summary too.
    let (run, summary) = run_job(&server.url(), "/s", "[limits]\nconcurrency = 0\n", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(summary["error"]["exit_code"], 2, "{summary}");
    assert!(
        summary["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limits.concurrency")
    );
}

#[test]
fn summary_json_dash_goes_to_stderr() {
    let server = TestServer::start(vec![Exchange::json("/d", ids(0..3))]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/d\"\n", server.url()),
    );
    let run = hydrant_in(
        dir.dir.path(),
        &["run", path_str(&job), "--summary-json", "-", "--quiet"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..3));
    let summary: serde_json::Value = serde_json::from_str(&run.stderr).unwrap();
    assert_eq!(summary["records"], 3);
    assert!(!dir.path("-").exists(), "a file named `-` was written");
}

/// JSON served in another encoding, as older APIs serve it: the
/// `charset=ISO-8859-1` of a Latin-1 body (read as windows-1252, as
/// browsers read it), the same label on a UTF-8 body (a Java servlet's
/// default: kept), UTF-16 told by its byte order mark, and by its label,
/// and GBK.
/// Each page is read as its answer says, on a run that follows each
/// page's next link; a Latin-1 body with no label stays an error (above).
/// The first page's link, `Ã©` in Latin-1, is also `é` in UTF-8: it is
/// read once the page is whole, not from its head as it arrives.
#[test]
fn a_body_in_another_encoding_is_read_as_its_charset_says() {
    let page = |target: &str, charset: Option<&str>, body: Vec<u8>| {
        let content_type = match charset {
            Some(charset) => format!("application/json; charset={charset}"),
            None => "application/json".to_owned(),
        };
        Exchange {
            headers: vec![("content-type".into(), content_type)],
            ..Exchange::json(target, body)
        }
    };
    let utf16 = |text: &str, mark: &[u8], big: bool| {
        let units = text.encode_utf16();
        let bytes = units.flat_map(|u| {
            if big {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        });
        [mark.to_vec(), bytes.collect()].concat()
    };
    let server = TestServer::start(vec![
        page(
            "/p1",
            Some("ISO-8859-1"),
            b"{\"next\": \"/p2?q=\xc3\xa9\", \"data\": [{\"id\": 1, \"name\": \"caf\xe9 \x93\x80\x94\"}]}"
                .to_vec(),
        ),
        page(
            "/p2?q=Ã©",
            Some("ISO-8859-1"),
            "{\"data\": [{\"id\": 2, \"name\": \"Müller\"}], \"next\": \"/p3\"}".into(),
        ),
        page(
            "/p3",
            None,
            utf16(
                "{\"data\": [{\"id\": 3, \"name\": \"naïve 🦀\"}], \"next\": \"/p4\"}",
                b"\xFF\xFE",
                false,
            ),
        ),
        page(
            "/p4",
            Some("UTF-16BE"),
            utf16(
                "{\"data\": [{\"id\": 4, \"name\": \"façade\"}], \"next\": \"/p5\"}",
                b"",
                true,
            ),
        ),
        // GBK, as Chinese enterprise APIs label it: 中文 is D6 D0 CE C4.
        page(
            "/p5",
            Some("GBK"),
            [&b"{\"data\": [{\"id\": 5, \"name\": \""[..], &[0xD6, 0xD0, 0xCE, 0xC4], b"\"}]}"].concat(),
        ),
    ]);
    let paged = "[records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n\
                    [[columns]]\nname = \"name\"\ntype = \"string\"\n";
    for columns in ["", declared] {
        let (run, summary) = run_job(&server.url(), "/p1", &format!("{paged}{columns}"), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stdout,
            "{\"id\":1,\"name\":\"café “€”\"}\n{\"id\":2,\"name\":\"Müller\"}\n\
             {\"id\":3,\"name\":\"naïve 🦀\"}\n{\"id\":4,\"name\":\"façade\"}\n\
             {\"id\":5,\"name\":\"中文\"}\n"
        );
        assert_eq!(summary["stopped"], "no_next");
        assert_eq!(summary["requests"], 5);
    }
}

#[test]
fn a_byte_order_mark_is_skipped_and_non_json_answers_are_named() {
    let bom = |body: &str| [&b"\xEF\xBB\xBF"[..], body.as_bytes()].concat();
    let html = Exchange {
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        ..Exchange::json("/html", "<!DOCTYPE html><html><body>Sign in</body></html>")
    };
    let ndjson = Exchange {
        headers: vec![("content-type".into(), "application/x-ndjson".into())],
        ..Exchange::json("/nd", "{\"id\":1}\n{\"id\":2}\n")
    };
    let server = TestServer::start(vec![Exchange::json("/bom", bom(&ids(0..2))), html, ndjson]);
    let (run, summary) = run_job(&server.url(), "/bom", "", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..2));
    assert_eq!(summary["records"], 2);
    // With declared columns the page goes through the structural index.
    let (run, _) = run_job(
        &server.url(),
        "/bom",
        "[[columns]]\nname = \"id\"\ntype = \"long\"\n",
        &[],
    );
    assert_eq!(run.stdout, lines(0..2), "{}", run.stderr);

    for (target, says) in [
        (
            "/html",
            "/html is not JSON: the answer is HTML or XML; content-type text/html; charset=utf-8; it starts `<!DOCTYPE html>",
        ),
        (
            "/nd",
            "/nd is not JSON: the answer is NDJSON (one JSON value a line), not one document (set records.format = \"ndjson\" to read each line as a record); content-type application/x-ndjson",
        ),
    ] {
        let (run, _) = run_job(&server.url(), target, "", &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
}

/// `records.format = "ndjson"` reads a body of a JSON value a line
/// (Datasette's `_nl=on`, the JSON Lines of export APIs) as that many
/// records: a byte order mark, blank lines and CRLF line ends aside, on
/// every page path, paged by a `Link` header or by offsets.
#[test]
fn ndjson_answers_are_read_a_record_a_line() {
    let lines_of = |range: std::ops::Range<u32>, end: &str| -> String {
        range
            .map(|i| format!("{{\"id\":{i},\"s\":\"a\\nb\"}}{end}"))
            .collect()
    };
    let mut first = Exchange {
        headers: vec![("content-type".into(), "text/plain".into())],
        ..Exchange::json(
            "/l",
            [&b"\xEF\xBB\xBF"[..], lines_of(0..3, "\r\n").as_bytes()].concat(),
        )
    };
    (first.headers).push(("link".into(), "</l?p=2>; rel=\"next\"".into()));
    let server = TestServer::start(vec![
        first,
        Exchange::json("/l?p=2", format!("\n{}\n\n", lines_of(3..5, "\n"))),
        Exchange::json("/o?offset=0&limit=3", lines_of(0..3, "\n")),
        Exchange::json("/o?offset=3&limit=3", lines_of(3..5, "\n")),
    ]);
    let expected = lines_of(0..5, "\n");
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"s\"\n";
    for (target, paginate) in [
        ("/l", "[paginate]\ntype = \"link_header\"\n"),
        (
            "/o",
            "[paginate]\ntype = \"offset\"\nlimit = 3\n[limits]\nconcurrency = 2\n",
        ),
    ] {
        for columns in ["", declared] {
            let rest = format!("[records]\nformat = \"ndjson\"\n{paginate}{columns}");
            let (run, summary) = run_job(&server.url(), target, &rest, &[]);
            assert_eq!(run.code, 0, "{rest}: {}", run.stderr);
            assert_eq!(run.stdout, expected, "{rest}");
            assert_eq!(summary["records"], 5, "{rest}");
            assert_eq!(summary["warnings"], serde_json::json!([]), "{rest}");
        }
    }
    let explained = explained(&server.url(), "/o", "[records]\nformat = \"ndjson\"\n");
    assert!(
        explained
            .contains("\n# records: an answer is NDJSON, a JSON value a line, each a record\n"),
        "{explained}"
    );
}

/// Splunk's export serves a row a line, each wrapped in `result`, among
/// lines of messages; other streams wrap a line's records in an array.
/// A path into the lines was refused. It is taken in each line: a line
/// without it holds no record.
#[test]
fn an_ndjson_answers_records_path_is_taken_in_each_line() {
    let row = |i: u32| {
        format!(
            "{{\"preview\":false,\"offset\":{i},\"result\":{{\"id\":{i},\"host\":\"h{i}\"}}}}\n"
        )
    };
    let splunk = |range: std::ops::Range<u32>| -> String { range.map(row).collect() };
    let message = "{\"preview\":false,\"messages\":[{\"type\":\"INFO\",\"text\":\"done\"}]}\n";
    let batch = |range: std::ops::Range<u32>| {
        let items: Vec<String> = range
            .map(|i| format!("{{\"id\":{i},\"host\":\"h{i}\"}}"))
            .collect();
        format!("{{\"data\":[{}]}}\n", items.join(","))
    };
    let mut first = Exchange::json("/export", splunk(0..3));
    (first.headers).push(("link".into(), "</export?p=2>; rel=\"next\"".into()));
    let server = TestServer::start(vec![
        first,
        Exchange::json("/export?p=2", format!("{}{message}", splunk(3..5))),
        Exchange::json(
            "/batches",
            format!("{}{}{}", batch(0..3), batch(3..3), batch(3..5)),
        ),
        // A search that reports streams preview rows before the final ones.
        Exchange::json(
            "/previews",
            format!(
                "{}{}{message}",
                splunk(0..2).replace("\"preview\":false", "\"preview\":true"),
                splunk(0..5)
            ),
        ),
    ]);
    let expected: String = (0..5)
        .map(|i| format!("{{\"id\":{i},\"host\":\"h{i}\"}}\n"))
        .collect();
    let linked = "[paginate]\ntype = \"link_header\"\n";
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"host\"\n";
    for (target, records, paginate) in [
        ("/export", "path = \"result\"\n", linked),
        ("/export", "path = \"$.result\"\nmode = \"auto\"\n", linked),
        ("/batches", "path = \"data\"\nmode = \"many\"\n", ""),
        // A JSONPath that starts `$[` selects from the array of lines.
        (
            "/previews",
            "path = \"$[?@.preview == false].result\"\n",
            "",
        ),
    ] {
        for columns in ["", declared] {
            let rest = format!("[records]\nformat = \"ndjson\"\n{records}{paginate}{columns}");
            let (run, summary) = run_job(&server.url(), target, &rest, &[]);
            assert_eq!(run.code, 0, "{rest}: {}", run.stderr);
            assert_eq!(run.stdout, expected, "{rest}");
            assert_eq!(summary["records"], 5, "{rest}");
            assert_eq!(summary["warnings"], serde_json::json!([]), "{rest}");
        }
    }
    for (records, says) in [
        (
            "path = \"result\"\n[paginate]\ntype = \"offset\"\nlimit = 3\n",
            "records.path: `result` is taken in each line, but paginate type `offset` ends on a \
             count of a page's records",
        ),
        (
            "path = \"$..result\"\n",
            "records.path: with `format = \"ndjson\"` the path is taken in each line, and must \
             be a path of names (`result`, `$.data.item`), or a JSONPath over the array of lines \
             that starts `$[` (`$[?@.preview == false].result`), not `$..result`",
        ),
        (
            "path = \"result\"\nmode = \"one\"\n",
            "records.mode: with `format = \"ndjson\"` each line holds its records: leave \
             records.mode out, or set `many` where the path holds an array in each line",
        ),
    ] {
        let rest = format!("[records]\nformat = \"ndjson\"\n{records}");
        let (run, _) = run_job(&server.url(), "/batches", &rest, &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    let each = "[records]\nformat = \"ndjson\"\npath = \"result\"\n";
    let said = explained(&server.url(), "/export", each);
    assert!(
        said.contains(
            "\n# records: an answer is NDJSON, a JSON value a line, its records at `result` in each line\n"
        ),
        "{said}"
    );
    let over = "[records]\nformat = \"ndjson\"\npath = \"$[?@.preview == false].result\"\n";
    let said = explained(&server.url(), "/previews", over);
    assert!(
        said.contains(
            "\n# records: an answer is NDJSON, a JSON value a line, its records at \
             `$[?@.preview == false].result` in the array of its lines\n"
        ),
        "{said}"
    );
    // `many` where a line's value is no array names the line's value.
    let rest = "[records]\nformat = \"ndjson\"\npath = \"result\"\nmode = \"many\"\n";
    let (run, _) = run_job(&server.url(), "/export", rest, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("records.mode is `many` but the records path holds an object"),
        "{}",
        run.stderr
    );
}

/// Failures answered with a 200 in the words of conventions that live at
/// a page's top level: JSend's `"status": "error"`, Flickr's `"stat":
/// "fail"`, Google's `status` words, an HTTP status echoed in `code`, and
/// WeChat's nonzero `errcode` where a job reads arrays of records from the
/// page itself (the object was written as a record, exit 0). A zero
/// `errcode`, and one object whose own `status` is `"failed"` read by a
/// job that does not page or that says each page is one record, are no
/// failure.
#[test]
fn a_200_in_an_apis_own_failure_words_fails_the_run() {
    let second = |target: &str, body: &str| {
        let first = format!("{{\"data\":[{{\"id\":1}}],\"next\":\"{target}\"}}");
        [
            Exchange::json(&format!("{target}-1"), first),
            Exchange::json(target, body.to_owned()),
        ]
    };
    let quota = r#"{"errcode":45009,"errmsg":"reach max api daily quota limit"}"#;
    let mut exchanges = vec![
        Exchange::json("/w?offset=0&limit=2", ids(0..2)),
        Exchange::json("/w?offset=2&limit=2", quota),
        Exchange::json("/payment", r#"{"id":7,"status":"failed"}"#),
    ];
    let failed = [
        (
            "/jsend",
            r#"{"status":"error","message":"Too many requests"}"#,
        ),
        (
            "/flickr",
            r#"{"stat":"fail","code":98,"message":"Invalid auth token"}"#,
        ),
        ("/google", r#"{"status":"OVER_QUERY_LIMIT"}"#),
        ("/echoed", r#"{"code":429,"msg":"too many requests"}"#),
        (
            "/baidu",
            r#"{"error_code":18,"error_msg":"Open api qps request limit reached"}"#,
        ),
    ];
    for (target, body) in failed
        .iter()
        .chain([&("/zero", r#"{"errcode":0,"errmsg":"ok"}"#)])
    {
        exchanges.extend(second(target, body));
    }
    let server = TestServer::start(exchanges);
    let url = server.url();
    let paged = "[records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for columns in ["", declared] {
        for (target, body) in failed {
            let (run, _) = run_job(
                &url,
                &format!("{target}-1"),
                &format!("{paged}{columns}"),
                &[],
            );
            assert_eq!(run.code, 1, "{target}: {}", run.stderr);
            let says = format!(
                "the response from {url}{target} has nothing at records.path `data` and says the \
                 request failed: {body} (an API that ends its pages so takes a \
                 [[paginate.stop]] on it)"
            );
            assert!(run.stderr.contains(&says), "{target}: {}", run.stderr);
        }
        let offset = format!("[paginate]\ntype = \"offset\"\nlimit = 2\n{columns}");
        let (run, _) = run_job(&url, "/w", &offset, &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let says = format!(
            "the response from {url}/w?offset=2&limit=2 is one object where the job reads its \
             pages' records from the page itself, and says the request failed: {quota}"
        );
        assert!(run.stderr.contains(&says), "{}", run.stderr);
        // No failure: the end of the records, with the warning of a page
        // without them.
        let (run, summary) = run_job(&url, "/zero-1", &format!("{paged}{columns}"), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, "{\"id\":1}\n");
        assert_eq!(
            summary["warnings"].as_array().unwrap().len(),
            1,
            "{summary}"
        );
    }
    let (run, _) = run_job(&url, "/payment", "", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":7,\"status\":\"failed\"}\n");
    // Nor is one of a job that pages and says each page is one record.
    let one = "[records]\nmode = \"one\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let (run, _) = run_job(&url, "/payment", one, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":7,\"status\":\"failed\"}\n");
}

/// An answer with nothing at the records path, in words hydrant does not
/// know as a failure (`{"message": "Too many requests"}` with a 200),
/// ended an offset run as a short page: where the next page holds
/// records, the run fails rather than lose them, whether that page was
/// fetched ahead (concurrency 4) or is asked for to tell (concurrency
/// 1). Such an answer before an empty page is the end, with the warning
/// of a page without records.
#[test]
fn an_answer_without_records_before_more_records_fails_the_run() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let offset: u32 = (url.query_pairs())
            .find(|(k, _)| k == "offset")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let last = if url.path() == "/more" { 60 } else { 20 };
        let body = match offset {
            20 => r#"{"message": "Too many requests, slow down"}"#.to_owned(),
            o if o < last => format!("{{\"data\":{}}}", ids(o..o + 10)),
            _ => "{\"data\": []}".to_owned(),
        };
        Exchange::json(&seen.target, body)
    });
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for (concurrency, columns) in [(1, ""), (4, ""), (1, declared), (4, declared)] {
        let rest = format!(
            "[records]\npath = \"data\"\n[paginate]\ntype = \"offset\"\nlimit = 10\n\
             [limits]\nconcurrency = {concurrency}\n{columns}"
        );
        let (run, _) = run_job(&server.url(), "/more", &rest, &[]);
        assert_eq!(run.code, 1, "{concurrency}: {}", run.stderr);
        let says = format!(
            "the answer from {url}/more?offset=20&limit=10 had nothing at records.path, which \
             ended pagination; but the next page, {url}/more?offset=30&limit=10, holds 10 \
             records: the answer was likely a failure the API sent with a 200, not the end of \
             the records; ending here would lose records",
            url = server.url()
        );
        assert!(run.stderr.contains(&says), "{concurrency}: {}", run.stderr);
        let (run, summary) = run_job(&server.url(), "/end", &rest, &[]);
        assert_eq!(run.code, 0, "{concurrency}: {}", run.stderr);
        assert_eq!(summary["records"], 20);
        assert_eq!(
            summary["warnings"].as_array().unwrap().len(),
            1,
            "{summary}"
        );
    }
}

/// Many APIs answer a failure with a 200: Slack's `"ok": false`, GraphQL's
/// `errors`. A page that has nothing at the records path and says so ends
/// the run with an error quoting it, not as the end of the records.
#[test]
fn a_200_that_says_the_request_failed_fails_the_run() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/s",
            r#"{"ok":true,"members":[{"id":1}],"meta":{"next":"c2"}}"#,
        ),
        Exchange::json("/s?cursor=c2", r#"{"ok":false,"error":"ratelimited"}"#),
        Exchange::json("/g", r#"{"data":{"nodes":[{"id":1}]},"next":"/g2"}"#),
        Exchange::json(
            "/g2",
            r#"{"data":null,"errors":[{"message":"API rate limit exceeded"}]}"#,
        ),
        // Nothing there, and no failure said: the end, with a warning.
        Exchange::json("/e", r#"{"ok":true,"errors":[],"error":null,"meta":{}}"#),
    ]);
    let slack = "[records]\npath = \"members\"\n                 [paginate]\ntype = \"cursor\"\nfrom = \"meta.next\"\nparam = \"cursor\"\n";
    let graph = "[records]\npath = \"data.nodes\"\n                 [paginate]\ntype = \"next_link\"\nfrom = \"next\"\n";
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for (target, rest, page, said) in [
        (
            "/s",
            slack.to_owned(),
            "/s?cursor=c2",
            r#"{"ok":false,"error":"ratelimited"}"#,
        ),
        (
            "/s",
            format!("{slack}{declared}"),
            "/s?cursor=c2",
            r#"{"ok":false,"#,
        ),
        (
            "/g",
            graph.to_owned(),
            "/g2",
            r#"{"data":null,"errors":[{"message":"API rate limit exceeded"}]}"#,
        ),
        ("/g", format!("{graph}{declared}"), "/g2", r#""errors":[{"#),
        (
            "/s?cursor=c2",
            slack.to_owned(),
            "/s?cursor=c2",
            r#"{"ok":false,"#,
        ),
    ] {
        let dir = Dir::new();
        let out = dir.path("out.ndjson");
        let rest = format!("{rest}[output]\npath = \"{}\"\n", path_str(&out));
        let (run, summary) = run_job(&server.url(), target, &rest, &[]);
        assert_eq!(run.code, 1, "{target} {rest}: {}", run.stderr);
        let says = format!(
            "the response from {}{page} has nothing at records.path `",
            server.url()
        );
        assert!(run.stderr.contains(&says), "{}", run.stderr);
        assert!(run.stderr.contains(said), "{}", run.stderr);
        assert_eq!(summary["error"]["exit_code"], 1, "{summary}");
        assert!(!out.exists(), "no output is committed");
    }
    let (run, summary) = run_job(&server.url(), "/e", "[records]\npath = \"data\"\n", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(summary["records"], 0);
    assert_eq!(
        summary["warnings"].as_array().unwrap().len(),
        1,
        "{summary}"
    );
    // A job whose API ends its pages that way says so with a stop rule;
    // the page is then the end, with the warning of an empty one.
    for declared in ["", declared] {
        let rest = format!(
            "{slack}{declared}[[paginate.stop]]\npath = \"error\"\nequals = \"ratelimited\"\n"
        );
        let (run, summary) = run_job(&server.url(), "/s", &rest, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, "{\"id\":1}\n");
        assert_eq!(summary["stopped"], "end_condition", "{summary}");
        assert_eq!(
            summary["warnings"].as_array().unwrap().len(),
            1,
            "{summary}"
        );
    }
    // `check` of the first page says it too.
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/s?cursor=c2\"\n[records]\npath = \"members\"\n",
            server.url()
        ),
    );
    let check = hydrant(&["check", path_str(&job)]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check
            .stderr
            .contains(r#"says the request failed: {"ok":false,"error":"ratelimited"}"#),
        "{}",
        check.stderr
    );
    // With the stop rule, `check` takes it for the end, as a run does.
    let stop = "[paginate]\ntype = \"cursor\"\nfrom = \"meta.next\"\nparam = \"cursor\"\n\
                [[paginate.stop]]\npath = \"error\"\nequals = \"ratelimited\"\n";
    let job = dir.write(
        "job.toml",
        &format!("{}{stop}", std::fs::read_to_string(&job).unwrap()),
    );
    let check = hydrant(&["check", path_str(&job)]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains("records.path `members` matches nothing"),
        "{}",
        check.stdout
    );
}

/// A page quoted in an error (one that is not JSON, one that says its
/// request failed) has the job's credentials redacted, as the server
/// may echo them anywhere.
#[test]
fn a_quoted_page_has_the_credentials_redacted() {
    const KEY: &str = "k3y-in-the-page";
    // Answers by path, whatever the query holds.
    let server = TestServer::start_fn(|seen: &Seen| {
        if seen.target.starts_with("/h") {
            Exchange {
                headers: vec![("content-type".into(), "text/html".into())],
                ..Exchange::json(
                    &seen.target,
                    format!("<html><form action=\"/login?key={KEY}\">"),
                )
            }
        } else {
            Exchange::json(
                &seen.target,
                format!(r#"{{"ok":false,"error":"bad key {KEY}"}}"#),
            )
        }
    });
    let auth = "[auth]\ntype = \"api_key\"\nname = \"key\"\nvalue = \"${KEY}\"\nin = \"query\"\n                [records]\npath = \"data\"\n";
    for (target, says) in [
        ("/h", "is not JSON: the answer is HTML or XML"),
        (
            "/f",
            r#"says the request failed: {"ok":false,"error":"bad key ***"}"#,
        ),
    ] {
        let (run, _) = run_job(&server.url(), target, auth, &[("KEY", KEY)]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(!run.stderr.contains(KEY), "{}", run.stderr);
    }
}

#[test]
fn a_host_that_cannot_answer_fails_at_once() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for (url, says) in [
        (
            format!("http://127.0.0.1:{port}"),
            "the connection was refused (nothing listens there)",
        ),
        (
            "http://no-such-host.invalid".to_owned(),
            "the host name does not resolve",
        ),
    ] {
        let (run, _) = run_job(&url, "/x", FAST, &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(!run.stderr.contains("retrying"), "{}", run.stderr);
    }
}

#[test]
fn a_server_that_restarts_mid_run_is_waited_for() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Answers one request on each listener, then closes it.
    let answer = |listener: std::net::TcpListener, body: String| {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    };
    let server = std::thread::spawn(move || {
        answer(listener, ids(0..2));
        // Down for a while, then back on the same port.
        std::thread::sleep(Duration::from_millis(300));
        answer(std::net::TcpListener::bind(addr).unwrap(), ids(2..3));
    });
    let rest = "[paginate]\ntype = \"page\"\nsize = 2\n[limits]\nconcurrency = 1\nbackoff = { initial = \"200ms\", max = \"400ms\" }\n";
    let (run, summary) = run_job(&format!("http://{addr}"), "/p", rest, &[]);
    server.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, lines(0..3));
    assert!(run.stderr.contains("retrying"), "{}", run.stderr);
    assert_eq!(summary["records"], 3);
}

/// Messages on stderr carry no colour codes when stderr is not a
/// terminal, unless `CLICOLOR_FORCE` asks for them.
#[test]
fn messages_carry_no_colour_codes_off_a_terminal() {
    let server = TestServer::start(vec![Exchange::json("/x", r#"{"other": 1}"#)]);
    let rest = "[records]\npath = \"data\"\n";
    let (plain, _) = run_job(&server.url(), "/x", rest, &[]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(plain.stderr.contains("WARN"), "{}", plain.stderr);
    assert!(!plain.stderr.contains('\u{1b}'), "{:?}", plain.stderr);
    let (forced, _) = run_job(&server.url(), "/x", rest, &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.stderr.contains("\u{1b}["), "{:?}", forced.stderr);
}

/// A read sent as a POST (a query in its body) and answered 302 fails,
/// naming where it was sent: followed as a GET it would have read
/// another resource, without the query.
#[test]
fn a_post_read_redirected_by_302_fails_rather_than_read_without_its_body() {
    let server = TestServer::start_fn(|seen| match seen.target.as_str() {
        "/search" => Exchange {
            status: 302,
            headers: vec![("location".to_owned(), "/all".to_owned())],
            ..Exchange::json(&seen.target, "")
        },
        _ => Exchange::json(&seen.target, r#"{"data":[{"id":1}]}"#),
    });
    let rest = "method = \"POST\"\nbody = { q = \"open\" }\n[records]\npath = \"data\"\n";
    let (run, _) = run_job(&server.url(), "/search", rest, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "POST {}/search answered 302, to {}/all: a POST is not sent on after a 302",
            server.url(),
            server.url()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    assert_eq!(server.requests().len(), 1);
}
