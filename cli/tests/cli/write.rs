//! Write jobs against in-process sinks that record what they receive.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hydrant_bench::{Exchange, Fault, Seen};
use serde_json::{Value, json};

use crate::util::{
    Dir, TestFaults, TestServer, hydrant, hydrant_with, path_str, spawn_hydrant, wait_for_state,
};

/// A sink answering 201 to everything.
fn accepting() -> TestServer {
    TestServer::start_fn(|seen| answer(seen, 201))
}

fn answer(seen: &Seen, status: u16) -> Exchange {
    Exchange {
        status,
        ..Exchange::json(&seen.target, r#"{"ok":true}"#)
    }
}

/// The JSON a request carried, gunzipped when it says so.
fn body(seen: &Seen) -> Value {
    let mut text = Vec::new();
    if seen.header("content-encoding") == Some("gzip") {
        flate2::read::GzDecoder::new(&seen.body[..])
            .read_to_end(&mut text)
            .unwrap();
    } else {
        text = seen.body.clone();
    }
    serde_json::from_slice(&text).unwrap()
}

/// The lines of the reject file `rejects.ndjson`.
fn rejects(dir: &Dir) -> Vec<Value> {
    (dir.read("rejects.ndjson").lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(dir: &Dir) -> Value {
    serde_json::from_str(&dir.read("summary.json")).unwrap()
}

fn run_write(dir: &Dir, job: &str, args: &[&str]) -> crate::util::Run {
    let job = dir.write("write.toml", job);
    let summary = dir.path("summary.json");
    let mut all = vec![
        "run",
        path_str(&job),
        "--summary-json",
        path_str(&summary),
        "--quiet",
    ];
    all.extend_from_slice(args);
    hydrant(&all)
}

/// `n` customer records as NDJSON.
fn customers(n: u32) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"user_id\":\"{i}\",\"name\":\"name {i}\",\"amount\":{i}.5,\"tags\":[\"t{i}\",null],\"extra\":true}}\n"
            )
        })
        .collect()
}

#[test]
fn batches_are_mapped_nested_wrapped_gzipped_and_authorized() {
    let server = accepting();
    let dir = Dir::new();
    dir.write("customers.ndjson", &customers(250));
    let job = format!(
        r#"[input]
path = "customers.ndjson"

[write]
url = "{}/v1/customers"
batch_size = 100
data_path = "payload.items"
compression = "gzip"

[[write.columns]]
name = "user.id"
from = "user_id"
type = "long"
[[write.columns]]
name = "user.name"
from = "name"
[[write.columns]]
name = "total"
from = "amount"
type = "double"
[[write.columns]]
name = "labels"
from = "tags"

[auth]
type = "bearer"
token = "tok-123"
"#,
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    let mut sizes = Vec::new();
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/v1/customers");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("content-encoding"), Some("gzip"));
        assert_eq!(request.header("authorization"), Some("Bearer tok-123"));
        let items = body(request)["payload"]["items"]
            .as_array()
            .unwrap()
            .clone();
        sizes.push(items.len());
    }
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 100, 100]);
    let all: Vec<Value> = seen
        .iter()
        .flat_map(|r| body(r)["payload"]["items"].as_array().unwrap().clone())
        .collect();
    let first = all.iter().find(|r| r["user"]["id"] == 7).unwrap();
    // Members in column order, `user` built once from both dotted names.
    assert_eq!(
        serde_json::to_string(first).unwrap(),
        r#"{"user":{"id":7,"name":"name 7"},"total":7.5,"labels":["t7",null]}"#
    );
    let mut ids: Vec<i64> = all
        .iter()
        .map(|r| r["user"]["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..250).collect::<Vec<_>>());
    let summary = summary(&dir);
    assert_eq!(summary["records"], 250);
    assert_eq!(summary["requests"], 3);
    assert_eq!(
        summary["write"],
        json!({"delivered": 250, "rejected": 0, "retried": 0, "batches": 3})
    );
    assert_eq!(summary["stopped"], "end_of_input");
}

/// A JSON:API server takes one resource a request, as
/// `{"data": {"type": "items", "attributes": {…}}}`, sent as
/// `application/vnd.api+json` (django-rest-framework-json-api answers
/// `application/json` with 415): the job's own `Content-Type` is sent,
/// and a column's `value` is the same in every record, a string unless
/// its `type` says another.
#[test]
fn a_write_sends_the_jobs_content_type_and_constant_values() {
    let server = accepting();
    let dir = Dir::new();
    dir.write("customers.ndjson", &customers(3));
    let job = format!(
        r#"[input]
path = "customers.ndjson"

[write]
url = "{}/items/"
mode = "single"
data_path = "data"
headers = {{ Content-Type = "application/vnd.api+json", Accept = "application/vnd.api+json" }}

[[write.columns]]
name = "type"
value = "items"
[[write.columns]]
name = "attributes.name"
from = "name"
[[write.columns]]
name = "attributes.version"
value = "2"
type = "long"
[[write.columns]]
name = "meta"
value = '{{"source": "hydrant"}}'
type = "json"
"#,
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    let mut sent = Vec::new();
    for request in &seen {
        assert_eq!(
            request.header("content-type"),
            Some("application/vnd.api+json")
        );
        assert_eq!(request.header("accept"), Some("application/vnd.api+json"));
        sent.push(String::from_utf8(request.body.clone()).unwrap());
    }
    sent.sort();
    let expected: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "{{\"data\":{{\"type\":\"items\",\"attributes\":{{\"name\":\"name {i}\",\
                 \"version\":2}},\"meta\":{{\"source\": \"hydrant\"}}}}}}"
            )
        })
        .collect();
    assert_eq!(sent, expected);
}

#[test]
fn records_without_columns_go_unchanged_and_single_mode_fills_the_url() {
    let server = accepting();
    let dir = Dir::new();
    dir.write(
        "in.csv",
        "id,name,note\n1,Ann,\n2,\"Bob, Jr.\",\"said \"\"hi\"\"\"\n\n3,Cé,x\n",
    );
    let job = format!(
        "[input]\npath = \"in.csv\"\n[write]\nurl = \"{}/users/{{id}}\"\nmethod = \"PUT\"\nmode = \"single\"\n[limits]\nconcurrency = 1\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = server.requests();
    let sent: Vec<(String, String, String)> = seen
        .iter()
        .map(|s| {
            (
                s.method.clone(),
                s.target.clone(),
                String::from_utf8(s.body.clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            (
                "PUT".into(),
                "/users/1".into(),
                r#"{"id":"1","name":"Ann","note":null}"#.into()
            ),
            (
                "PUT".into(),
                "/users/2".into(),
                r#"{"id":"2","name":"Bob, Jr.","note":"said \"hi\""}"#.into()
            ),
            (
                "PUT".into(),
                "/users/3".into(),
                r#"{"id":"3","name":"Cé","note":"x"}"#.into()
            ),
        ]
    );

    // NDJSON records keep nested objects and nulls exactly. A line is
    // JSON as a response page is: a lone surrogate escape (text cut inside
    // an emoji), numbers beyond a double's range or 64 bits go as written.
    let server = accepting();
    let line = r#"{"a":{"b":[1,2.5,null],"c":null},"d":"é\n"}"#;
    let odd = r#"{"t":"cut \ud83d","n":1e-400,"big":123456789012345678901234567890}"#;
    dir.write("in.ndjson", &format!("{line}\n\n{line}\n{odd}\n"));
    let job = format!(
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/bulk\"\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        String::from_utf8(seen[0].body.clone()).unwrap(),
        format!("[{line},{line},{odd}]")
    );
}

/// A record whose value would be a `..` segment of the URL is rejected
/// with the reason, not sent to the path it resolves to.
#[test]
fn a_record_whose_value_cannot_go_in_the_url_is_rejected() {
    let server = accepting();
    let dir = Dir::new();
    dir.write(
        "in.ndjson",
        "{\"id\":\"1\"}\n{\"id\":\"..\"}\n{\"id\":\"3\"}\n",
    );
    let rejects = dir.path("rejects.ndjson");
    let job = format!(
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/users/{{id}}/tags\"\nmethod = \"PUT\"\nmode = \"single\"\nreject_path = \"{}\"\nmax_rejects = 1\n[limits]\nconcurrency = 1\n",
        server.url(),
        path_str(&rejects)
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
    assert_eq!(sent, ["/users/1/tags", "/users/3/tags"]);
    let reject: Value = serde_json::from_str(dir.read("rejects.ndjson").trim()).unwrap();
    assert_eq!(reject["record"], json!({"id": ".."}));
    assert!(
        reject["reason"]
            .as_str()
            .unwrap()
            .contains("placeholder `{id}` is `..`, which as a segment of the URL's path"),
        "{reject}"
    );
    assert_eq!(
        summary(&dir)["write"],
        json!({"delivered": 2, "rejected": 1, "retried": 0, "batches": 3})
    );
}

/// A number goes into the URL as the record spells it: an id past 64
/// bits keeps its digits, a decimal its trailing zero, a long double its
/// last digit.
#[test]
fn a_records_number_goes_into_the_url_as_written() {
    let server = accepting();
    let dir = Dir::new();
    dir.write(
        "in.ndjson",
        "{\"id\":12345678901234567890123}\n{\"id\":10.10}\n{\"id\":0.18955093852823746}\n{\"id\":-7}\n",
    );
    let job = format!(
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/users/{{id}}\"\nmethod = \"PUT\"\nmode = \"single\"\n[limits]\nconcurrency = 1\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
    assert_eq!(
        sent,
        [
            "/users/12345678901234567890123",
            "/users/10.10",
            "/users/0.18955093852823746",
            "/users/-7"
        ]
    );
    // The bodies are the records as they came.
    let bodies: Vec<String> = server
        .requests()
        .into_iter()
        .map(|s| String::from_utf8(s.body).unwrap())
        .collect();
    assert_eq!(bodies[0], "{\"id\":12345678901234567890123}");
    assert_eq!(bodies[1], "{\"id\":10.10}");
}

/// `[[write.columns]]` reads a record as a read job reads a page: a
/// number past 64 bits, a lone surrogate or a repeated member does not
/// make it "not JSON", and a `double` goes as the record spells it.
#[test]
fn mapped_records_are_read_as_pages_are() {
    let server = accepting();
    let dir = Dir::new();
    dir.write(
        "in.ndjson",
        concat!(
            "{\"id\":12345678901234567890123,\"name\":\"a\",\"price\":10.10}\n",
            "{\"id\":2,\"name\":\"b\\ud800\",\"price\":2.50E1}\n",
            "{\"id\":3,\"name\":\"c\",\"name\":\"d\",\"price\":5}\n",
        ),
    );
    let job = format!(
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/users\"\nmode = \"single\"\n[limits]\nconcurrency = 1\n[[write.columns]]\nname = \"user.key\"\nfrom = \"$.id\"\n[[write.columns]]\nname = \"user.name\"\nfrom = \"$.name\"\n[[write.columns]]\nname = \"user.price\"\nfrom = \"price\"\ntype = \"double\"\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bodies: Vec<String> = server
        .requests()
        .into_iter()
        .map(|s| String::from_utf8(s.body).unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            r#"{"user":{"key":12345678901234567890123,"name":"a","price":10.10}}"#,
            "{\"user\":{\"key\":2,\"name\":\"b\u{fffd}\",\"price\":2.50E1}}",
            r#"{"user":{"key":3,"name":"c","price":5.0}}"#,
        ]
    );
    // The replaced surrogate is told, as a read job tells it.
    let warnings = summary(&dir)["warnings"].to_string();
    assert!(
        warnings.contains("1 records held escapes of a lone UTF-16 surrogate")
            && warnings.contains("sent each as U+FFFD"),
        "{warnings}"
    );
}

/// A webhook's URL is its secret: given whole by a variable named so, it
/// is never shown.
#[test]
fn a_webhook_url_from_a_variable_is_not_shown() {
    let server = TestServer::start_fn(|seen| Exchange {
        status: 404,
        ..Exchange::json(&seen.target, r#"{"error":"no such hook"}"#)
    });
    let dir = Dir::new();
    dir.write("in.ndjson", "{\"text\":\"hi\"}\n");
    let job = dir.write(
        "write.toml",
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"${SLACK_WEBHOOK_URL}\"\n",
    );
    let hook = format!("{}/services/T0/B0/h00k-s3cret", server.url());
    let env = [("SLACK_WEBHOOK_URL", hook.as_str())];
    let explain = hydrant_with(&["explain", path_str(&job)], &env);
    let run = hydrant_with(&["run", path_str(&job)], &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("POST *** answered 404"),
        "{}",
        run.stderr
    );
    for text in [explain.stdout + &explain.stderr, run.stdout + &run.stderr] {
        assert!(!text.contains("h00k-s3cret"), "{text}");
    }
    assert_eq!(server.requests()[0].target, "/services/T0/B0/h00k-s3cret");
}

/// Past `write.max_rejects` no batch is sent, but those in flight are
/// still answered: the error counts their rejects too, as the summary
/// and the reject file do, says how many were delivered and that the
/// rest of the input was not sent. The server's error page, a stack
/// trace of many lines (json-server's), is quoted on one.
#[test]
fn a_write_past_its_rejects_counts_every_batch_answered() {
    let server = TestServer::start_fn(|seen| Exchange {
        status: 500,
        headers: vec![("content-type".into(), "text/html".into())],
        delay: Duration::from_millis(200),
        ..Exchange::json(
            &seen.target,
            "Error: Insert failed, duplicate id\n    at Function.insert (index.js:49:18)\n",
        )
    });
    let dir = Dir::new();
    let input: String = (0..12).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    dir.write("in.ndjson", &input);
    let job = format!(
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/w\"\nmode = \"single\"\n\
         reject_path = \"rejects.ndjson\"\n[limits]\nconcurrency = 4\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let sent = server.requests().len();
    assert!((2..12).contains(&sent), "{sent} requests");
    assert_eq!(rejects(&dir).len(), sent);
    assert_eq!(summary(&dir)["dirty"], sent);
    let said = format!(
        "hydrant: error: {sent} records rejected (the last: POST {}/w answered 500 Internal \
         Server Error: Error: Insert failed, duplicate id at Function.insert (index.js:49:18)), \
         more than write.max_rejects (0); 0 delivered, the rest of the input not sent; they \
         are in `{}`\n",
        server.url(),
        dir.path("rejects.ndjson").display()
    );
    assert!(run.stderr.ends_with(&said), "{}", run.stderr);
}

/// Django REST Framework's create takes one record a request and refuses
/// an array whole with 400. A batch write that delivered nothing so says
/// how to send one record a request; a run that delivered some, or
/// failed on another status, does not. A single write that delivered
/// nothing, refused for an array (Litestar's "Expected `array`, got
/// `object`"), says how to send arrays; one refused for another reason
/// does not.
#[test]
fn a_write_refused_whole_names_single_mode() {
    let server = TestServer::start_fn(|seen| {
        let (status, body) = match (seen.body.first(), seen.target.as_str()) {
            (_, "/down") => (503, "{\"detail\":\"down\"}"),
            (_, "/none/" | "/lists/") => (400, "{\"name\":[\"This field is required.\"]}"),
            // Litestar's refusal of a record where it takes an array.
            (Some(b'{'), "/arrays/") => (
                400,
                "{\"status_code\":400,\"detail\":\"Validation failed for POST /arrays/\",\
                 \"extra\":[{\"message\":\"Expected `array`, got `object`\"}]}",
            ),
            (Some(b'['), "/items/") => (
                400,
                "{\"non_field_errors\":[\"Invalid data. Expected a dictionary, but got list.\"]}",
            ),
            _ if String::from_utf8_lossy(&seen.body).contains("\"x\"") => {
                (400, "{\"price\":[\"A valid number is required.\"]}")
            }
            _ => (201, "{\"id\":1}"),
        };
        Exchange {
            status,
            ..Exchange::json(&seen.target, body)
        }
    });
    let hint = "if the API takes one record a request, set write.mode = \"single\"";
    let batch = "if the API takes an array of records, set write.mode = \"batch\"";
    let dir = Dir::new();
    dir.write(
        "in.ndjson",
        "{\"name\":\"a\",\"price\":\"1.50\"}\n{\"name\":\"c\",\"price\":\"x\"}\n",
    );
    for (target, mode, told, delivered) in [
        ("/items/", "mode = \"single\"", None, 1),
        ("/items/", "mode = \"batch\"", Some(hint), 0),
        ("/none/", "mode = \"single\"", None, 0),
        // A URL that names lists says nothing of the answer.
        ("/lists/", "mode = \"single\"", None, 0),
        ("/arrays/", "mode = \"single\"", Some(batch), 0),
        // An API of arrays that refused the second batch of one record.
        ("/bulk/", "batch_size = 1", None, 1),
        ("/down", "mode = \"batch\"", None, 0),
    ] {
        let job = format!(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}{target}\"\n{mode}\n\
             [limits]\nmax_retries = 0\nconcurrency = 1\n",
            server.url()
        );
        let run = run_write(&dir, &job, &[]);
        assert_eq!(run.code, 1, "{target} {mode}: {}", run.stderr);
        let hints = [hint, batch].map(|h| run.stderr.contains(h));
        let expected = [hint, batch].map(|h| told == Some(h));
        assert_eq!(hints, expected, "{target} {mode}: {}", run.stderr);
        let counted = format!("; {delivered} delivered");
        assert!(run.stderr.contains(&counted), "{}", run.stderr);
    }
}

/// nginx refuses a body over its `client_max_body_size` (1 MB unless
/// set) with 413, which the server did not process: a batch so refused
/// goes again as two halves, and each half refused so again, down to one
/// record, which is rejected if it is refused too. Every other record is
/// delivered once, each half with an idempotency key of its own.
#[test]
fn a_batch_refused_as_too_large_goes_again_in_halves() {
    let server = TestServer::start_fn(|seen| {
        let sent = body(seen);
        let records = sent["items"].as_array().unwrap();
        let big = records.iter().any(|r| r["big"] == json!(true));
        answer(seen, if records.len() > 3 || big { 413 } else { 201 })
    });
    let dir = Dir::new();
    let input: String = (0..10)
        .map(|n| match n {
            7 => format!("{{\"n\":{n},\"big\":true}}\n"),
            n => format!("{{\"n\":{n}}}\n"),
        })
        .collect();
    dir.write("in.ndjson", &input);
    let job = format!(
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/w\"\nbatch_size = 10\n\
         data_path = \"items\"\nidempotency_header = \"Idempotency-Key\"\n\
         reject_path = \"rejects.ndjson\"\nmax_rejects = 1\ncompression = \"gzip\"\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = server.requests();
    // The halves the server took: three records or fewer, none big.
    let taken = |items: &Vec<Value>| items.len() <= 3 && items.iter().all(|r| r["big"].is_null());
    let delivered: Vec<u64> = (seen.iter())
        .map(|s| body(s)["items"].as_array().unwrap().clone())
        .filter(taken)
        .flatten()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(delivered, [0, 1, 2, 3, 4, 5, 6, 8, 9]);
    let keys: std::collections::BTreeSet<&str> = (seen.iter())
        .map(|s| s.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(keys.len(), seen.len(), "a key a half: {keys:?}");
    let summary = summary(&dir);
    let counts = &summary["write"];
    assert_eq!(counts["delivered"], 9, "{summary}");
    assert_eq!(counts["rejected"], 1, "{summary}");
    assert_eq!(summary["requests"], seen.len(), "{summary}");
    let rejected = rejects(&dir);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["record"], json!({"n": 7, "big": true}));
    assert_eq!(rejected[0]["status"], 413);
}

/// A sink whose answers are scripted per request number (1-based), 201
/// after the script.
fn scripted(script: Vec<(u16, Option<&'static str>)>) -> TestServer {
    let count = AtomicUsize::new(0);
    TestServer::start_fn(move |seen| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        match script.get(n) {
            Some((status, retry_after)) => {
                let mut exchange = answer(seen, *status);
                if *status >= 300 {
                    exchange.body = format!("{{\"error\":\"status {status}\"}}").into();
                }
                if let Some(wait) = retry_after {
                    exchange
                        .headers
                        .push(("retry-after".into(), (*wait).to_owned()));
                }
                exchange
            }
            None => answer(seen, 201),
        }
    })
}

fn retry_job(url: &str, reject: &std::path::Path, rest: &str) -> String {
    let reject = path_str(reject);
    format!(
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{url}/w\"\nbatch_size = 2\nreject_path = \"{reject}\"\nmax_rejects = 10\n{rest}\n[limits]\nconcurrency = 1\nbackoff = {{ initial = \"10ms\", max = \"20ms\" }}\n"
    )
}

#[test]
fn a_post_is_retried_only_when_that_is_safe() {
    let dir = Dir::new();
    dir.write("in.ndjson", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
    // 503, 408 and 429 say the request was not processed (RFC 9110), so
    // they are retried, Retry-After or not; a 500 may have been acted on,
    // so the batch is rejected.
    let server = scripted(vec![
        (503, None),
        (408, None),
        (429, Some("0")),
        (201, None),
        (500, None),
    ]);
    let run = run_write(
        &dir,
        &retry_job(&server.url(), &dir.path("rejects.ndjson"), ""),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.requests().len(), 5);
    let rejects = rejects(&dir);
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["record"], json!({"n": 3}));
    assert_eq!(rejects[1]["record"], json!({"n": 4}));
    assert_eq!(rejects[0]["status"], 500);
    assert_eq!(rejects[0]["batch"], 1);
    assert_eq!(rejects[0]["response"], r#"{"error":"status 500"}"#);
    let reason = rejects[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "POST {}/w answered 500 Internal Server Error",
            server.url()
        )),
        "{reason}"
    );
    let first = summary(&dir);
    assert_eq!(
        first["write"],
        json!({"delivered": 2, "rejected": 2, "retried": 2, "batches": 2})
    );
    assert_eq!(first["requests"], 5);

    // With an idempotency key every retry_on status is retried, the key
    // the same on each attempt and different per batch.
    let server = scripted(vec![(500, None), (503, None), (502, None)]);
    let job = retry_job(
        &server.url(),
        &dir.path("rejects.ndjson"),
        "idempotency_header = \"Idempotency-Key\"",
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let keys: Vec<String> = server
        .requests()
        .iter()
        .map(|s| s.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 5);
    assert!(keys[..4].iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_ne!(keys[4], keys[0]);
    assert!(!dir.path("rejects.ndjson").exists());
    assert_eq!(summary(&dir)["write"]["delivered"], 4);
}

#[test]
fn poison_records_are_rejected_with_reasons_under_max_rejects() {
    let dir = Dir::new();
    dir.write(
        "in.ndjson",
        "{\"id\":\"1\"}\n{\"id\":\"x\"}\nnot json\n{\"id\":\"4\",\"poison\":true}\n{\"id\":\"5\"}\n",
    );
    let server = TestServer::start_fn(|seen| {
        let poisoned = String::from_utf8_lossy(&seen.body).contains("\"id\":4");
        answer(seen, if poisoned { 422 } else { 200 })
    });
    let rejects_path = dir.path("rejects.ndjson");
    let job = |max: u32| {
        format!(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/one\"\nmode = \"single\"\nreject_path = \"{}\"\nmax_rejects = {max}\n[[write.columns]]\nname = \"id\"\nfrom = \"id\"\ntype = \"long\"\n",
            server.url(),
            path_str(&rejects_path)
        )
    };
    let run = run_write(&dir, &job(3), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut rejects: Vec<Value> = dir
        .read("rejects.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    rejects.sort_by_key(|r| r["batch"].as_u64());
    assert_eq!(rejects.len(), 3);
    assert_eq!(rejects[0]["record"], json!({"id": "x"}));
    assert_eq!(
        rejects[0]["reason"],
        "column `id` (long): \"x\" is not an integer"
    );
    assert_eq!(rejects[0]["status"], Value::Null);
    assert_eq!(rejects[1]["text"], "not json");
    let reason = rejects[1]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("line 3 of `")
            && reason.ends_with("in.ndjson` is not JSON: invalid literal `not json` at byte 0"),
        "{reason}"
    );
    assert_eq!(rejects[2]["record"], json!({"id": 4}));
    assert_eq!(rejects[2]["status"], 422);
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|s| String::from_utf8(s.body.clone()).unwrap())
        .collect();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(
        summary(&dir)["write"],
        json!({"delivered": 2, "rejected": 3, "retried": 0, "batches": 5})
    );

    let run = run_write(&dir, &job(2), &[]);
    assert_eq!(run.code, 1);
    // The error says why the last record was rejected.
    assert!(
        run.stderr.contains("3 records rejected (the last: "),
        "{}",
        run.stderr
    );
    // Those delivered before the run stopped depend on which batches
    // were in flight.
    let (_, after) = run
        .stderr
        .split_once("), more than write.max_rejects (2); ")
        .unwrap();
    assert!(
        after.contains(" delivered") && after.contains("; they are in `"),
        "{after}"
    );
}

#[test]
fn a_killed_write_job_resumes_without_sending_a_batch_twice() {
    const RECORDS: u32 = 40;
    let delivered = Arc::new(Mutex::new(Vec::<u64>::new()));
    let hold_after = Arc::new(AtomicUsize::new(3));
    let received = Arc::new(AtomicUsize::new(0));
    let (kept, hold, count) = (delivered.clone(), hold_after.clone(), received.clone());
    let server = TestServer::start_fn(move |seen| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        let mut exchange = answer(seen, 200);
        if n >= hold.load(Ordering::SeqCst) {
            // Never answered in time: the run is killed while it waits.
            exchange.delay = Duration::from_secs(120);
        } else {
            let first = body(seen)[0]["n"].as_u64().unwrap();
            kept.lock().unwrap().push(first);
        }
        exchange
    });
    let dir = Dir::new();
    let input: String = (0..RECORDS).map(|n| format!("{{\"n\":{n}}}\n")).collect();
    dir.write("in.ndjson", &input);
    let job = dir.write(
        "write.toml",
        &format!(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/w\"\nbatch_size = 4\n[state]\npath = \"{}\"\n[limits]\nconcurrency = 1\n",
            server.url(),
            path_str(&dir.path("state.json"))
        ),
    );
    let mut child = spawn_hydrant(&["run", path_str(&job)]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while received.load(Ordering::SeqCst) < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not get going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killed once the three batches answered are checkpointed.
    wait_for_state(&dir.path("state.json"), &mut child, |state| {
        state["settled_below"] == json!(3)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(*delivered.lock().unwrap(), [0, 4, 8]);

    hold_after.store(usize::MAX, Ordering::SeqCst);
    let summary_path = dir.path("summary.json");
    let run = hydrant(&[
        "run",
        path_str(&job),
        "--resume",
        "--quiet",
        "--summary-json",
        path_str(&summary_path),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let delivered = delivered.lock().unwrap().clone();
    assert_eq!(
        delivered,
        (0..RECORDS as u64).step_by(4).collect::<Vec<_>>(),
        "every batch delivered once, in order"
    );
    // The held batch was sent again: it had not been answered.
    assert_eq!(server.requests().len(), 11);
    assert_eq!(
        summary(&dir)["write"],
        json!({"delivered": RECORDS, "rejected": 0, "retried": 0, "batches": 10})
    );
    assert!(!dir.path("state.json").exists());
}

#[test]
fn a_read_job_streams_into_a_write_job() {
    let pages: Vec<Exchange> = (0..5)
        .map(|page| {
            let records: Vec<String> = (page * 30..(page + 1) * 30)
                .map(|i| format!("{{\"id\":{i},\"v\":\"r{i}\"}}"))
                .collect();
            Exchange::json(
                &format!("/items?offset={}&limit=30", page * 30),
                format!("[{}]", records.join(",")),
            )
        })
        .chain([Exchange::json("/items?offset=150&limit=30", "[]")])
        .collect();
    let source = TestServer::start(pages);
    let sink = accepting();
    let dir = Dir::new();
    dir.write(
        "read.toml",
        &format!(
            "[request]\nurl = \"{}/items\"\n[paginate]\ntype = \"offset\"\nlimit = 30\n[limits]\nconcurrency = 1\n[[columns]]\nname = \"id\"\ntype = \"long\"\n[[columns]]\nname = \"v\"\n",
            source.url()
        ),
    );
    let job = format!(
        "[input]\njob = \"read.toml\"\n[write]\nurl = \"{}/copy\"\nmethod = \"PATCH\"\nbatch_size = 64\n[limits]\nconcurrency = 1\n",
        sink.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = sink.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.method == "PATCH"));
    let ids: Vec<u64> = seen
        .iter()
        .flat_map(|s| body(s).as_array().unwrap().clone())
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (0..150).collect::<Vec<_>>());
    assert_eq!(summary(&dir)["write"]["delivered"], 150);
}

#[test]
fn a_read_job_with_inferred_columns_sends_each_value_as_it_came() {
    // A custom field: text on the first page, a list and a number on
    // the next. The target API gets each as the source gave it.
    let source = TestServer::start(vec![
        Exchange::json(
            "/items?offset=0&limit=1",
            r#"[{"id": 1, "tags": "b", "amount": "n/a", "meta": "system"}]"#,
        ),
        Exchange::json(
            "/items?offset=1&limit=1",
            r#"[{"id": 2, "tags": ["a"], "amount": 5, "meta": {"by": "ann"}}]"#,
        ),
        Exchange::json("/items?offset=2&limit=1", "[]"),
    ]);
    let sink = accepting();
    let dir = Dir::new();
    dir.write(
        "read.toml",
        &format!(
            "[request]\nurl = \"{}/items\"\n[paginate]\ntype = \"offset\"\nlimit = 1\n[limits]\nconcurrency = 1\n",
            source.url()
        ),
    );
    let job = format!(
        "[input]\njob = \"read.toml\"\n[write]\nurl = \"{}/copy\"\n[limits]\nconcurrency = 1\n",
        sink.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent: Vec<serde_json::Value> = sink
        .requests()
        .iter()
        .flat_map(|s| body(s).as_array().unwrap().clone())
        .collect();
    assert_eq!(
        sent,
        [
            json!({"id": 1, "tags": "b", "amount": "n/a", "meta": "system"}),
            json!({"id": 2, "tags": ["a"], "amount": 5, "meta": {"by": "ann"}}),
        ]
    );
}

#[test]
fn broken_write_jobs_are_usage_errors_naming_the_key() {
    let dir = Dir::new();
    for (job, key) in [
        (
            "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://x.example/{id}\"\n",
            "write.url",
        ),
        (
            "[input]\npath = \"a.ndjson\"\njob = \"r.toml\"\n[write]\nurl = \"http://x.example/\"\n",
            "input: needs exactly one of `path`, `job` or `records`",
        ),
        (
            "[input]\npath = \"a.ndjson\"\nrecords = [{ id = 1 }]\n[write]\nurl = \"http://x.example/\"\n",
            "input: `records` is not used with `path` or `job`",
        ),
        (
            "[input]\nrecords = [1]\n[write]\nurl = \"http://x.example/\"\n",
            "input.records: each record must be a table",
        ),
        (
            "[input]\npath = \"a.ndjson\"\nrepeat = 2\n[write]\nurl = \"http://x.example/\"\n",
            "input.repeat: only used with `input.records`",
        ),
        (
            "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://x.example/\"\nmode = \"single\"\nbatch_size = 5\n",
            "write.batch_size",
        ),
        (
            "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://x.example/\"\n[[write.columns]]\nname = \"a\"\nfrom = \"x\"\n[[write.columns]]\nname = \"a.b\"\nfrom = \"y\"\n",
            "write.columns: `a` and `a.b` write the same member",
        ),
        (
            "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://x.example/\"\ncompression = \"zip\"\n",
            "write.compression",
        ),
        (
            "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://x.example/\"\n[[write.columns]]\nname = \"a\"\nfrom = \"x\"\nvalue = \"y\"\n",
            "write.columns[0]: give either `from` or `value`, not both",
        ),
        (
            "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://x.example/\"\n[[write.columns]]\nname = \"a\"\n",
            "write.columns[0]: give `from` (where the value is) or `value`",
        ),
        (
            "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://x.example/\"\n[[write.columns]]\nname = \"a\"\nvalue = \"{id}\"\n",
            "write.columns[0].value: `{id}` is sent as written, not filled from the record: to send a record's value, give `from = \"id\"`",
        ),
        (
            "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://x.example/\"\n[auth]\ntype = \"api_key\"\nname = \"key\"\nvalue = \"k\"\nin = \"body\"\n",
            "auth: a write job's body is its records, so credentials cannot go in it",
        ),
    ] {
        let run = run_write(&dir, job, &[]);
        assert_eq!(run.code, 2, "{job}: {}", run.stderr);
        assert!(run.stderr.contains(key), "{key}: {}", run.stderr);
    }
    // A read job's tables, which a write job would leave unread: a
    // `[[columns]]` meant as `[[write.columns]]` sent records unmapped.
    let write = "[input]\npath = \"a.ndjson\"\n[write]\nurl = \"http://127.0.0.1:9/\"\n";
    for (table, instead) in [
        (
            "[[columns]]\nname = \"a\"\n",
            "`[[columns]]` belongs to a read job, and this is a write job (`[write]`): it maps records with `[[write.columns]]`; a read job of its own can feed it (`input.job`)",
        ),
        (
            "[paginate]\ntype = \"page\"\n",
            "`[paginate]` belongs to a read job",
        ),
        (
            "[records]\npath = \"data\"\n",
            "`[records]` belongs to a read job",
        ),
        (
            "[output]\npath = \"answers.ndjson\"\n",
            "`[output]` belongs to a read job, and this is a write job (`[write]`): it writes no records (`write.reject_path` keeps those refused)",
        ),
        (
            "[incremental]\ncursor = \"t\"\n",
            "`[incremental]` belongs to a read job",
        ),
        (
            "[fanout]\nparam = \"p\"\nvalues = [1]\n",
            "`[fanout]` belongs to a read job",
        ),
    ] {
        let run = run_write(&dir, &format!("{write}{table}"), &[]);
        assert_eq!(run.code, 2, "{table}: {}", run.stderr);
        assert!(run.stderr.contains(instead), "{table}: {}", run.stderr);
    }
    let job = "[input]\npath = \"missing.ndjson\"\n[write]\nurl = \"http://127.0.0.1:9/\"\n";
    let run = run_write(&dir, job, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot open input.path `"),
        "{}",
        run.stderr
    );
}

/// `hydrant run JOB --quiet`, given `input` on stdin.
fn run_with_stdin(job: &std::path::Path, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hydrant"))
        .args(["run", path_str(job), "--quiet"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// `text` gzip-compressed by the `gzip` program.
fn gzip(text: &str) -> Vec<u8> {
    compressed_by("gzip", text)
}

/// `text` compressed by `program` (`gzip`, `zstd`).
fn compressed_by(program: &str, text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new(program)
        .arg("-cq")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the compressor runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().stdout
}

/// A gzip (zstd) input, as `gzip` (`zstd`) writes it, is read as `zcat`
/// (`zstd -dc`) reads it: a `.ndjson.gz` of two members (files joined
/// with `cat`), a `.csv.gz` (its format named before the `.gz`), a
/// `.ndjson.zst` of two frames, and a gzip stream on stdin.
#[test]
fn a_gzip_input_is_read_as_zcat_reads_it() {
    let server = TestServer::start_fn(|seen| answer(seen, 200));
    let dir = Dir::new();
    let two = [gzip("{\"n\":0}\n{\"n\":1}\n"), gzip("{\"n\":2}\n")].concat();
    std::fs::write(dir.path("in.ndjson.gz"), two).unwrap();
    std::fs::write(dir.path("in.csv.gz"), gzip("n,name\n3,c\n4,d\n")).unwrap();
    let zstd = |text| compressed_by("zstd", text);
    let frames = [zstd("{\"n\":6}\n"), zstd("{\"n\":7}\n{\"n\":8}\n")].concat();
    std::fs::write(dir.path("in.ndjson.zst"), frames).unwrap();
    std::fs::write(dir.path("in.csv.zst"), zstd("n,name\n9,e\n")).unwrap();
    let write = format!("[write]\nurl = \"{}/w\"\n", server.url());
    for input in ["in.ndjson.gz", "in.csv.gz", "in.ndjson.zst", "in.csv.zst"] {
        let job = format!(
            "[input]\npath = \"{}\"\n{write}",
            path_str(&dir.path(input))
        );
        let run = run_write(&dir, &job, &[]);
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
    }
    let job = dir.write("stdin.toml", &format!("[input]\npath = \"-\"\n{write}"));
    let output = run_with_stdin(&job, &gzip("{\"n\":5}\n"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent: Vec<Value> = (server.requests().iter())
        .flat_map(|seen| body(seen).as_array().unwrap().clone())
        .collect();
    assert_eq!(
        sent,
        [
            json!({"n": 0}),
            json!({"n": 1}),
            json!({"n": 2}),
            json!({"n": "3", "name": "c"}),
            json!({"n": "4", "name": "d"}),
            json!({"n": 6}),
            json!({"n": 7}),
            json!({"n": 8}),
            json!({"n": "9", "name": "e"}),
            json!({"n": 5}),
        ]
    );
}

#[test]
fn writes_keep_to_concurrency_and_interval_and_read_stdin() {
    let server = TestServer::start_fn(|seen| Exchange {
        delay: Duration::from_millis(250),
        ..answer(seen, 200)
    });
    let dir = Dir::new();
    let input: String = (0..12).map(|n| format!("{{\"n\":{n}}}\n")).collect();
    let job = dir.write(
        "write.toml",
        &format!(
            "[input]\npath = \"-\"\n[write]\nurl = \"{}/w\"\nbatch_size = 2\ninterval = \"100ms\"\n[limits]\nconcurrency = 2\n",
            server.url()
        ),
    );
    let output = run_with_stdin(&job, input.as_bytes());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 6);
    assert_eq!(server.max_in_flight(), 2);
    let mut starts: Vec<_> = seen.iter().map(|s| s.received).collect();
    starts.sort();
    // The interval holds where requests leave; where they arrive, the
    // scheduling of a busy machine can move one of them by a few ms.
    for pair in starts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(75),
            "requests started {:?} apart",
            pair[1] - pair[0]
        );
    }
    let mut sent: Vec<u64> = seen
        .iter()
        .flat_map(|s| body(s).as_array().unwrap().clone())
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    sent.sort_unstable();
    assert_eq!(sent, (0..12).collect::<Vec<_>>());
}

#[test]
fn a_failing_write_job_does_not_wait_for_stdin_to_end() {
    let server = TestServer::start_fn(|seen| answer(seen, 400));
    let dir = Dir::new();
    let job = dir.write(
        "write.toml",
        &format!(
            "[input]\npath = \"-\"\n[write]\nurl = \"{}/w\"\nbatch_size = 1\n",
            server.url()
        ),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hydrant"))
        .args(["run", path_str(&job)])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    // Kept open: the input never ends.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"{\"n\":1}\n{\"n\":2}\n").unwrap();
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run hung on its input"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains(
            "more than write.max_rejects (0); 0 delivered, the rest of the input not sent; \
             set write.reject_path to keep them"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("answered 400 Bad Request"), "{stderr}");
    drop(stdin);
}

#[test]
fn an_empty_string_and_a_null_come_back_from_hydrants_csv_apart() {
    // An API's records to CSV, then the CSV to another API: CSV writes an
    // empty string `""` and a null as nothing, and reads them back so.
    let api = TestServer::start(vec![Exchange::json(
        "/r",
        r#"[{"id": 1, "note": ""}, {"id": 2, "note": null}, {"id": 3, "note": "a,\"\"\nb"}, {"id": 4, "note": "\"\""}]"#,
    )]);
    let dir = Dir::new();
    let read = dir.write(
        "read.toml",
        &format!(
            "[request]\nurl = \"{}/r\"\n[output]\npath = \"out.csv\"\n",
            api.url()
        ),
    );
    let run = hydrant(&["run", path_str(&read), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let server = accepting();
    let job = format!(
        "[input]\npath = \"out.csv\"\n[write]\nurl = \"{}/w\"\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        body(&server.requests()[0]),
        json!([
            {"id": "1", "note": ""},
            {"id": "2", "note": null},
            {"id": "3", "note": "a,\"\"\nb"},
            {"id": "4", "note": "\"\""},
        ])
    );
}

#[test]
fn a_csv_row_of_the_wrong_width_is_rejected_with_its_fields() {
    let server = accepting();
    let dir = Dir::new();
    dir.write("in.csv", "id,name\n1,a\n2,b,extra\n3,c\n");
    let rejects = dir.path("rejects.ndjson");
    let job = format!(
        "[input]\npath = \"in.csv\"\n[write]\nurl = \"{}/w\"\nreject_path = \"{}\"\nmax_rejects = 1\n",
        server.url(),
        path_str(&rejects)
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        String::from_utf8(server.requests()[0].body.clone()).unwrap(),
        r#"[{"id":"1","name":"a"},{"id":"3","name":"c"}]"#
    );
    let reject: Value = serde_json::from_str(dir.read("rejects.ndjson").trim()).unwrap();
    assert_eq!(reject["text"], r#"["2","b","extra"]"#);
    let reason = reject["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("line 3 of `") && reason.ends_with("has 3 fields, the header 2"),
        "{reason}"
    );
}

#[test]
fn a_csv_header_that_names_a_column_twice_is_refused_before_sending() {
    // Each record would hold `id` twice: APIs keep the first or the last.
    let server = accepting();
    let dir = Dir::new();
    dir.write("in.csv", "id,name,id\n1,a,2\n");
    let job = format!(
        "[input]\npath = \"in.csv\"\n[write]\nurl = \"{}/w\"\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("in.csv` names column `id` twice"),
        "{}",
        run.stderr
    );
    assert!(server.requests().is_empty());
}

#[test]
fn a_batch_answered_2xx_is_delivered_even_when_its_answer_is_unreadable() {
    let dir = Dir::new();
    dir.write("in.ndjson", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
    let server = TestFaults::start(vec![(
        "/w",
        vec![
            Fault::CutBody {
                body: b"{\"ok\":".to_vec(),
                declared: 100,
                reset: false,
            },
            Fault::json(format!("{{\"echo\":\"{}\"}}", "x".repeat(200))),
        ],
    )]);
    let job = retry_job(
        &server.url(),
        &dir.path("rejects.ndjson"),
        "[limits]\nmax_response = \"64B\"",
    )
    .replace("\n[limits]\nconcurrency", "\nconcurrency");
    let job = dir.write("write.toml", &job);
    let summary_path = dir.path("summary.json");
    let run = hydrant(&[
        "run",
        path_str(&job),
        "--summary-json",
        path_str(&summary_path),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        server.requests().len(),
        2,
        "a delivered batch was sent again"
    );
    assert!(!dir.path("rejects.ndjson").exists());
    assert_eq!(
        summary(&dir)["write"],
        json!({"delivered": 4, "rejected": 0, "retried": 0, "batches": 2})
    );
    assert_eq!(
        run.stderr
            .matches("batch delivered, but its answer could not be read")
            .count(),
        2,
        "{}",
        run.stderr
    );
}

/// Six records in `in.ndjson`, and a server that answers each batch
/// with the content type and body `answer` gives for its first record's
/// `n`.
fn six_records_answered(
    answer: impl Fn(i64) -> (&'static str, &'static str) + Send + Sync + 'static,
) -> (Dir, TestServer) {
    let dir = Dir::new();
    dir.write(
        "in.ndjson",
        "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n{\"n\":6}\n",
    );
    let server = TestServer::start_fn(move |seen| {
        let (content_type, said) = answer(body(seen)[0]["n"].as_i64().unwrap());
        Exchange {
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            ..Exchange::json(&seen.target, said)
        }
    });
    (dir, server)
}

/// Runs the six records in batches of two: the first is delivered, the
/// others rejected. The reason of each rejected record.
fn first_batch_delivered(dir: &Dir, server: &TestServer) -> Vec<String> {
    let rejects = dir.path("rejects.ndjson");
    let run = run_write(dir, &retry_job(&server.url(), &rejects, ""), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summary(dir)["write"],
        json!({"delivered": 2, "rejected": 4, "retried": 0, "batches": 3})
    );
    reject_reasons(dir)
}

/// The `reason` of each record in `rejects.ndjson`.
fn reject_reasons(dir: &Dir) -> Vec<String> {
    dir.read("rejects.ndjson")
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Many APIs answer a failure with a 200: Slack's `"ok": false`,
/// Elasticsearch's bulk `"errors": true`. Such a batch is rejected with
/// the answer's words, not counted delivered.
#[test]
fn a_2xx_that_says_the_batch_failed_rejects_it() {
    let (dir, server) = six_records_answered(|first| {
        let said = match first {
            1 => r#"{"ok":true,"errors":[]}"#,
            3 => r#"{"ok":false,"error":"channel_not_found"}"#,
            _ => r#"{"took":3,"errors":true,"items":[{"index":{"status":400}}]}"#,
        };
        ("application/json", said)
    });
    let reasons = first_batch_delivered(&dir, &server);
    let answered = format!(
        "POST {}/w answered 200 OK but says the request failed: ",
        server.url()
    );
    assert_eq!(
        reasons,
        [
            format!(r#"{answered}{{"ok":false,"error":"channel_not_found"}}"#),
            format!(r#"{answered}{{"ok":false,"error":"channel_not_found"}}"#),
            format!(
                r#"{answered}{{"took":3,"errors":true,"items":[{{"index":{{"status":400}}}}]}}"#
            ),
            format!(
                r#"{answered}{{"took":3,"errors":true,"items":[{{"index":{{"status":400}}}}]}}"#
            ),
        ]
    );
}

/// An API whose successful answers carry `errors` that are warnings
/// would have every batch rejected: `check_answer = false` delivers each
/// batch answered 2xx, whatever its JSON says. An HTML page at 200 is a
/// proxy's or a sign-in page, never the API's answer: it is still
/// rejected.
#[test]
fn check_answer_false_takes_the_status_alone() {
    let (dir, server) = six_records_answered(|first| match first {
        5 => ("text/html", "<html><title>Sign in</title></html>"),
        _ => (
            "application/json",
            r#"{"ok":false,"errors":["field `fax` is deprecated"]}"#,
        ),
    });
    let rejects = dir.path("rejects.ndjson");
    let run = run_write(
        &dir,
        &retry_job(&server.url(), &rejects, "check_answer = false"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summary(&dir)["write"],
        json!({"delivered": 4, "rejected": 2, "retried": 0, "batches": 3})
    );
    let reason = format!(
        "POST {}/w answered 200 OK with an HTML page (`Sign in`), not the API's answer: a proxy or a sign-in page?",
        server.url()
    );
    assert_eq!(reject_reasons(&dir), vec![reason; 2]);
}

/// HubSpot answers a batch some of whose records failed with 207
/// Multi-Status: the objects written under `results`, the failures under
/// `errors`, nothing that ties an error to its record. The batch is
/// rejected whole, and each reason says how many of it were written, as
/// sending the rejects again would write those twice.
#[test]
fn a_207_with_results_and_errors_says_part_of_the_batch_was_written() {
    let dir = Dir::new();
    dir.write(
        "in.ndjson",
        "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n{\"n\":6}\n",
    );
    let server = TestServer::start_fn(move |seen| {
        if body(seen)[0]["n"] == 1 {
            return Exchange::json(
                &seen.target,
                r#"{"status":"COMPLETE","results":[{"id":"1"},{"id":"2"}]}"#,
            );
        }
        Exchange {
            status: 207,
            ..Exchange::json(
                &seen.target,
                r#"{"status":"COMPLETE","results":[{"id":"9"}],"numErrors":1,"errors":[{"status":"error","category":"VALIDATION_ERROR"}]}"#,
            )
        }
    });
    let reasons = first_batch_delivered(&dir, &server);
    let reason = format!(
        "POST {}/w answered 207 Multi-Status but says the request failed: its `results` list 1 of \
         the 2 records as written, not which failed: the whole batch is rejected, and 1 of its \
         records would be written twice if it were sent again: {{\"status\":\"COMPLETE\",\"results\":[{{\"id\":\"9\"}}],\"numErrors\":1,\"errors\":[{{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\"}}]}}",
        server.url()
    );
    assert_eq!(reasons, vec![reason; 4]);
}

/// An answer with a result for each record says which records failed:
/// Salesforce's collections answer 200 with an array of results,
/// Elasticsearch's bulk API with `items`. Only those records are
/// rejected; the others are delivered. Results that are not one a
/// record cannot say which: the batch is rejected.
#[test]
fn a_2xx_with_a_result_for_each_record_rejects_those_that_failed() {
    let (dir, server) = six_records_answered(|first| {
        let said = match first {
            1 => {
                r#"[{"id":"a1","success":true,"errors":[]},{"id":null,"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING"}]}]"#
            }
            3 => {
                r#"{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":400,"error":{"type":"mapper_parsing_exception"}}}]}"#
            }
            _ => r#"[{"success":true},{"success":true},{"success":false}]"#,
        };
        ("application/json", said)
    });
    let rejects = dir.path("rejects.ndjson");
    let run = run_write(&dir, &retry_job(&server.url(), &rejects, ""), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summary(&dir)["write"],
        json!({"delivered": 2, "rejected": 4, "retried": 0, "batches": 3})
    );
    let rejected: Vec<(i64, String)> = dir
        .read("rejects.ndjson")
        .lines()
        .map(|line| {
            let line: Value = serde_json::from_str(line).unwrap();
            let n = line["record"]["n"].as_i64().unwrap();
            (n, line["reason"].as_str().unwrap().to_owned())
        })
        .collect();
    let answered = format!("POST {}/w answered 200 OK", server.url());
    assert_eq!(
        rejected,
        [
            (
                2,
                format!(
                    r#"{answered} but says record 2 of the batch failed: {{"id":null,"success":false,"errors":[{{"statusCode":"REQUIRED_FIELD_MISSING"}}]}}"#
                )
            ),
            (
                4,
                format!(
                    r#"{answered} but says record 2 of the batch failed: {{"status":400,"error":{{"type":"mapper_parsing_exception"}}}}"#
                )
            ),
            (
                5,
                format!(
                    r#"{answered} but says the request failed: 1 of its results, not one for each of the 2 records, say they failed: {{"success":false}}"#
                )
            ),
            (
                6,
                format!(
                    r#"{answered} but says the request failed: 1 of its results, not one for each of the 2 records, say they failed: {{"success":false}}"#
                )
            ),
        ]
    );
}

/// A proxy's or a sign-in page answers 200 with HTML where the API was
/// never reached: such a batch is rejected, not counted delivered.
#[test]
fn a_2xx_answered_by_an_html_page_rejects_the_batch() {
    let (dir, server) = six_records_answered(|first| {
        match first {
            // JSON sent as text/html (PHP's default) is the API's answer.
            1 => ("text/html", "{}"),
            3 => (
                "text/html; charset=utf-8",
                "<html><head><title>Sign in\n to Contoso</title></head><body>…</body></html>",
            ),
            // Sent as text, but a page all the same.
            _ => (
                "text/plain",
                "  <!DOCTYPE html><html><body>Access denied</body></html>",
            ),
        }
    });
    let reasons = first_batch_delivered(&dir, &server);
    let answered = format!("POST {}/w answered 200 OK with an HTML page", server.url());
    let page = "not the API's answer: a proxy or a sign-in page?";
    let titled = format!("{answered} (`Sign in to Contoso`), {page}");
    let started = format!(
        "{answered} (starting `<!DOCTYPE html><html><body>Access denied</body></html>`), {page}"
    );
    assert_eq!(reasons, [titled.clone(), titled, started.clone(), started]);
}

#[test]
fn a_retry_after_too_long_to_hold_rejects_the_batch() {
    let dir = Dir::new();
    dir.write("in.ndjson", "{\"n\":1}\n{\"n\":2}\n");
    let server = scripted(vec![(503, Some("18446744073709551616"))]);
    let run = run_write(
        &dir,
        &retry_job(&server.url(), &dir.path("rejects.ndjson"), ""),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rejects = rejects(&dir);
    assert_eq!(rejects.len(), 2);
    let reason = rejects[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("more than limits.max_retry_wait"),
        "{reason}"
    );
    assert_eq!(
        summary(&dir)["write"],
        json!({"delivered": 0, "rejected": 2, "retried": 0, "batches": 1})
    );
}

/// `explain` and `check` of a write job build its first batch's request
/// from the input and show it, secrets masked; nothing is sent.
#[test]
fn explain_and_check_show_the_first_batch_and_send_nothing() {
    let server = accepting();
    let dir = Dir::new();
    let mut input = customers(150);
    input.insert_str(0, "not json\n");
    dir.write("customers.ndjson", &input);
    let job = dir.write(
        "write.toml",
        &format!(
            r#"[input]
path = "customers.ndjson"

[write]
url = "{}/v1/customers"
batch_size = 100
data_path = "payload.items"
compression = "gzip"
idempotency_header = "Idempotency-Key"

[[write.columns]]
name = "user.id"
from = "user_id"
type = "long"

[auth]
type = "bearer"
token = "${{TOKEN}}"
"#,
            server.url()
        ),
    );
    let env = [("TOKEN", "tok-very-secret")];
    let explain = crate::util::hydrant_with(&["explain", path_str(&job)], &env);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    let shown = &explain.stdout;
    for said in [
        "(a write job)",
        "# the first batch: 99 records, 1 rejected before sending",
        &format!("POST {}/v1/customers", server.url()),
        "authorization: ***",
        "content-encoding: gzip",
        "idempotency-key: ",
        r#"{"payload":{"items":[{"user":{"id":0}},{"user":{"id":1}},"#,
        "(sent gzip-compressed)",
    ] {
        assert!(shown.contains(said), "no `{said}` in:\n{shown}");
    }
    assert!(!shown.contains("tok-very-secret"), "{shown}");

    let check = crate::util::hydrant_with(&["check", path_str(&job)], &env);
    assert_eq!(check.code, 0, "{}", check.stderr);
    for said in [
        "a write job, nothing sent",
        "records: 99 in the first batch",
        "rejected before sending:",
        "not JSON",
        "authorization: ***",
    ] {
        assert!(
            check.stdout.contains(said),
            "no `{said}` in:\n{}",
            check.stdout
        );
    }
    assert!(!check.stdout.contains("tok-very-secret"));

    // Without the secret set, explain shows the request anyway.
    let unset = hydrant(&["explain", path_str(&job)]);
    assert_eq!(unset.code, 0, "{}", unset.stderr);
    assert!(
        unset.stdout.starts_with("# not set, shown as ***: TOKEN\n"),
        "{}",
        unset.stdout
    );
    assert!(unset.stdout.contains("authorization: ***"));
    assert!(server.requests().is_empty());
}

#[test]
fn an_ndjson_input_from_windows_tools_is_read_whole() {
    // A byte order mark, CRLF line ends, blank lines and no newline at the
    // end: as PowerShell and Notepad write files.
    let server = accepting();
    let dir = Dir::new();
    std::fs::write(
        dir.path("in.ndjson"),
        b"\xEF\xBB\xBF{\"id\":1}\r\n\r\n{\"id\":2}\r\n   \n{\"id\":3}",
    )
    .unwrap();
    let job = format!(
        "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/in\"\n",
        server.url()
    );
    let run = run_write(&dir, &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent: Vec<Value> = server.requests().iter().map(body).collect();
    assert_eq!(sent, [serde_json::json!([{"id": 1}, {"id": 2}, {"id": 3}])]);
    assert_eq!(summary(&dir)["write"]["delivered"], 3);
}

/// A mapped column whose `from` names no field of the input would go as
/// null in every record. A CSV or Parquet input, whose fields are fixed,
/// is refused before anything is sent; an NDJSON one, whose records may
/// leave a field out, is told of at the end, and by `check`.
#[test]
fn a_mapped_column_from_no_field_of_the_input_is_told() {
    let server = accepting();
    let dir = Dir::new();
    dir.write("in.csv", "id,name\n1,a\n2,b\n");
    dir.write("in.ndjson", "{\"id\":1,\"name\":\"a\"}\n{\"name\":\"b\"}\n");
    let source = TestServer::start(vec![Exchange::json(
        "/rows",
        r#"[{"id":1,"name":"a"},{"id":2,"name":"b"}]"#,
    )]);
    let read = dir.write(
        "read.toml",
        &format!("[request]\nurl = \"{}/rows\"\n", source.url()),
    );
    let parquet = dir.path("in.parquet");
    let run = hydrant(&["run", path_str(&read), "-o", path_str(&parquet), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let job = |input: &str, from: &str| {
        format!(
            "[input]\npath = \"{input}\"\n[write]\nurl = \"{}/w\"\n\
             [[write.columns]]\nname = \"id\"\nfrom = \"{from}\"\ntype = \"long\"\n\
             [[write.columns]]\nname = \"n\"\nfrom = \"name\"\n",
            server.url()
        )
    };
    for input in ["in.csv", "in.parquet"] {
        let says = format!(
            "write.columns `id`: from `idd` names no field of the input `{}` (its fields: \
             `id`, `name`), so every record would send `id` as null; nothing was sent",
            dir.path(input).display()
        );
        let run = run_write(&dir, &job(input, "idd"), &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(&says), "{}", run.stderr);
        let check = hydrant(&["check", path_str(&dir.path("write.toml"))]);
        assert_eq!(check.code, 2, "{}", check.stderr);
        assert!(check.stderr.contains(&says), "{}", check.stderr);
    }
    assert!(server.requests().is_empty());

    let run = run_write(&dir, &job("in.ndjson", "idd"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent: Vec<Value> = server.requests().iter().map(body).collect();
    assert_eq!(
        sent,
        [json!([{"id": null, "n": "a"}, {"id": null, "n": "b"}])]
    );
    assert_eq!(
        summary(&dir)["warnings"],
        json!([
            "write.columns `id`: none of the 2 records sent has a value at `idd`, so `id` \
             went as null in all of them (a misspelled `from`?)"
        ])
    );
    let check = hydrant(&["check", path_str(&dir.path("write.toml"))]);
    assert!(
        check.stdout.contains(
            "warning: write.columns `id`: none of the 2 records of the first batch has a \
             value at `idd`, so `id` would go as null in all of them (a misspelled `from`?)\n"
        ),
        "{}",
        check.stdout
    );

    // A field one record has is no cause; nor is the right name in CSV.
    for input in ["in.ndjson", "in.csv", "in.parquet"] {
        let run = run_write(&dir, &job(input, "id"), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(summary(&dir)["warnings"], json!([]), "{input}");
    }
}

/// A write answered 301 or 302 is rejected, naming where it was sent:
/// followed as a GET it lost its records, which were counted delivered
/// when the GET answered 200. A 307 or 308 is sent on whole, and a 303
/// (the records taken, the answer elsewhere) is delivered.
#[test]
fn a_write_redirected_by_301_or_302_is_rejected_not_sent_on_as_a_get() {
    let server = TestServer::start_fn(|seen| {
        let moved = |status: u16| Exchange {
            status,
            headers: vec![("location".to_owned(), "/new".to_owned())],
            ..Exchange::json(&seen.target, "")
        };
        match seen.target.as_str() {
            "/new" => answer(seen, 200),
            target => moved(target[1..].parse().unwrap()),
        }
    });
    let dir = Dir::new();
    dir.write("in.ndjson", "{\"id\":1}\n{\"id\":2}\n");
    let job = |status: u16| {
        format!(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/{status}\"\nreject_path = \"{}\"\n",
            server.url(),
            path_str(&dir.path("rejects.ndjson"))
        )
    };
    for status in [301, 302] {
        let run = run_write(&dir, &job(status), &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let rejects = rejects(&dir);
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[1]["status"], status);
        assert_eq!(rejects[1]["record"], json!({"id": 2}));
        let reason = rejects[0]["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(&format!(
                "POST {}/{status} answered {status}, to {}/new: a POST is not sent on",
                server.url(),
                server.url()
            )),
            "{reason}"
        );
    }
    for status in [303, 307, 308] {
        let run = run_write(&dir, &job(status), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(summary(&dir)["write"]["delivered"], 2, "{status}");
    }
    // What reached the new address: nothing after a 301 or 302, a GET
    // after the 303, the records after the 307 and the 308.
    let arrived: Vec<(String, String)> = server
        .requests()
        .iter()
        .filter(|seen| seen.target == "/new")
        .map(|seen| {
            (
                seen.method.clone(),
                String::from_utf8_lossy(&seen.body).into_owned(),
            )
        })
        .collect();
    let records = r#"[{"id":1},{"id":2}]"#.to_owned();
    assert_eq!(
        arrived,
        [
            ("GET".to_owned(), String::new()),
            ("POST".to_owned(), records.clone()),
            ("POST".to_owned(), records),
        ]
    );
}
