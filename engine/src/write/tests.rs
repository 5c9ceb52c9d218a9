//! The write loop against in-process APIs: every record delivered once in
//! batches, a refused batch rejected with its reason, a batch retried
//! after a 503, APIs answering at random, and a read job's records as the
//! input.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hydrant_bench::{Exchange, Seen};
use serde_json::{Value, json};

use crate::job::Job;
use crate::job::vars::Vars;
use crate::options::RunOptions;
use crate::summary::Stopped;

fn job(toml: &str, dir: &std::path::Path) -> Job {
    let path = dir.join("write.toml");
    std::fs::write(&path, toml).unwrap();
    Job::load(&path, &Vars::new([])).unwrap()
}

fn answer(seen: &Seen, status: u16) -> Exchange {
    Exchange {
        status,
        ..Exchange::json(&seen.target, r#"{"ok":true}"#)
    }
}

/// The records a request carried.
fn sent(seen: &Seen) -> Vec<Value> {
    serde_json::from_slice::<Value>(&seen.body).unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// `n` NDJSON records `{"id":i}`, the ids in `refused` carrying `"bad":true`.
fn input(dir: &std::path::Path, n: u64, refused: &[u64]) {
    let text: String = (0..n)
        .map(|i| {
            let record = if refused.contains(&i) {
                json!({ "id": i, "bad": true })
            } else {
                json!({ "id": i })
            };
            format!("{record}\n")
        })
        .collect();
    std::fs::write(dir.join("in.ndjson"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_delivered_once_or_rejected_with_its_reason() {
    // A batch holding a bad record is refused with a 422; a 503 comes once,
    // for the first request of all, and that batch is sent again.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), move |seen| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return answer(seen, 503);
        }
        let bad = sent(seen).iter().any(|r| r["bad"] == true);
        answer(seen, if bad { 422 } else { 201 })
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    input(dir.path(), 25, &[12]);
    let job = job(
        &format!(
            r#"[input]
path = "in.ndjson"
[write]
url = "{}/v1/items"
batch_size = 10
data_path = "items"
reject_path = "{}"
max_rejects = 10
[limits]
max_retries = 2
concurrency = 1
backoff = {{ initial = "1ms", max = "2ms" }}
"#,
            server.url(),
            dir.path().join("rejects.ndjson").display()
        ),
        dir.path(),
    );
    let summary = crate::write::run(&job, RunOptions::default())
        .await
        .unwrap();
    let write = summary.write.unwrap();
    assert_eq!(
        (write.delivered, write.rejected, write.batches),
        (15, 10, 3)
    );
    assert_eq!(write.retried, 10);
    assert_eq!(summary.stopped, Stopped::EndOfInput);
    // Delivered: each record of the 2xx batches, once.
    let mut delivered: Vec<u64> = server
        .requests()
        .iter()
        .filter(|seen| !sent(seen).iter().any(|r| r["bad"] == true))
        .skip(1) // the 503'd first attempt
        .flat_map(sent)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    delivered.sort_unstable();
    let expected: Vec<u64> = (0..10).chain(20..25).collect();
    assert_eq!(delivered, expected);
    // Rejected: the whole refused batch, each record with the reason.
    let rejects = std::fs::read_to_string(dir.path().join("rejects.ndjson")).unwrap();
    let rejects: Vec<Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejects.len(), 10);
    assert!(
        rejects[0]["reason"].as_str().unwrap().contains("422"),
        "{}",
        rejects[0]
    );
    let mut ids: Vec<u64> = rejects
        .iter()
        .map(|r| r["record"]["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (10..20).collect::<Vec<_>>());
}

/// Inputs of any length in batches of any size (or one record a request
/// to a URL of its own), up to four at once, by POST, PUT or PATCH, with
/// idempotency keys or not, to an API answering each request at random:
/// accepted, refused, failed in a way any request may be sent again after
/// (503, 429) or not (500). Every record is delivered once or rejected,
/// never both; a batch that may have been applied is sent again only
/// when that is safe, with the key it had; and the summary counts what
/// the API and the reject file hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_settles_once_whatever_the_api_answers() {
    let mut next = crate::json::xorshift(0x5851_f42d_4c95_7f2d);
    for round in 0..40 {
        let single = next().is_multiple_of(4);
        let answers = Arc::new(std::sync::Mutex::new((
            crate::json::xorshift(next()),
            Vec::<Answered>::new(),
        )));
        let kept = answers.clone();
        let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), move |seen| {
            let mut answers = kept.lock().unwrap();
            let status = [201, 201, 201, 422, 503, 429, 500][(answers.0() % 7) as usize];
            answers.1.push(Answered::of(seen, single, status));
            answer(seen, status)
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let n = next() % 40;
        let batch_size = if single { 1 } else { 1 + next() % 7 };
        input(dir.path(), n, &[]);
        let method = ["POST", "PUT", "PATCH"][(next() % 3) as usize];
        let keyed = next().is_multiple_of(2);
        let mut write = format!(
            "url = \"{}/v1/items{}\"\nmethod = \"{method}\"\n",
            server.url(),
            if single { "/{id}" } else { "" }
        );
        if single {
            write.push_str("mode = \"single\"\n");
        } else {
            write.push_str(&format!(
                "batch_size = {batch_size}\ndata_path = \"items\"\n"
            ));
        }
        if keyed {
            write.push_str("idempotency_header = \"Idempotency-Key\"\n");
        }
        let said = format!("round {round}: {n} records, {write}");
        let job = job(
            &format!(
                r#"[input]
path = "in.ndjson"
[write]
{write}reject_path = "{}"
max_rejects = 1000
[limits]
max_retries = {}
concurrency = {}
backoff = {{ initial = "1ms", max = "2ms" }}
"#,
                dir.path().join("rejects.ndjson").display(),
                next() % 4,
                1 + next() % 4,
            ),
            dir.path(),
        );
        let summary = crate::write::run(&job, RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{said}: {e}"));
        let answered = std::mem::take(&mut answers.lock().unwrap().1);
        assert!(answered.iter().all(|a| a.key.is_some() == keyed), "{said}");
        check_answered(&answered, method == "PUT" || keyed, &said);
        let mut delivered: Vec<u64> = answered
            .iter()
            .filter(|a| a.status == 201)
            .flat_map(|a| a.ids.iter().copied())
            .collect();
        delivered.sort_unstable();
        let rejects =
            std::fs::read_to_string(dir.path().join("rejects.ndjson")).unwrap_or_default();
        let mut rejected: Vec<u64> = rejects
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["record"]["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        rejected.sort_unstable();
        let write = summary.write.unwrap();
        assert_eq!(write.delivered, delivered.len() as u64, "{said}");
        assert_eq!(write.rejected, rejected.len() as u64, "{said}");
        assert_eq!(write.batches, n.div_ceil(batch_size), "{said}");
        let mut settled = [delivered, rejected].concat();
        settled.sort_unstable();
        assert_eq!(settled, (0..n).collect::<Vec<_>>(), "{said}");
    }
}

/// A request the random API answered: the ids it carried, its key and
/// the status.
#[derive(Debug)]
struct Answered {
    ids: Vec<u64>,
    key: Option<String>,
    status: u16,
}

impl Answered {
    fn of(seen: &Seen, single: bool, status: u16) -> Answered {
        let ids = if single {
            let record: Value = serde_json::from_slice(&seen.body).unwrap();
            let id = record["id"].as_u64().unwrap();
            assert_eq!(seen.target, format!("/v1/items/{id}"));
            vec![id]
        } else {
            sent(seen)
                .iter()
                .map(|r| r["id"].as_u64().unwrap())
                .collect()
        };
        let key = seen.header("idempotency-key").map(str::to_owned);
        Answered { ids, key, status }
    }
}

/// A batch answered 500 may have been applied: it goes again only when
/// that is safe. A batch keeps its idempotency key in every attempt, and
/// no two batches share one.
fn check_answered(answered: &[Answered], repeatable: bool, said: &str) {
    for (i, first) in answered.iter().enumerate() {
        for later in &answered[i + 1..] {
            let same = later.ids == first.ids;
            assert!(
                !(same && first.status == 500 && !repeatable),
                "{said}: {:?} sent again after a 500",
                first.ids
            );
            if first.key.is_some() {
                assert_eq!(same, later.key == first.key, "{said}: {first:?}, {later:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_rejects_than_allowed_fail_the_run() {
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), |seen| answer(seen, 400))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    input(dir.path(), 5, &[]);
    let job = job(
        &format!(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/v1/items\"\nbatch_size = 5\n",
            server.url()
        ),
        dir.path(),
    );
    let error = crate::write::run(&job, RunOptions::default())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("max_rejects"), "{message}");
    assert!(message.contains("400"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_job_feeds_a_write_job() {
    let server = hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), |seen| {
        if seen.method == "GET" {
            return Exchange::json(&seen.target, r#"{"data":[{"id":1},{"id":2},{"id":3}]}"#);
        }
        answer(seen, 200)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("read.toml"),
        format!(
            "[request]\nurl = \"{}/source\"\n[records]\npath = \"data\"\n",
            server.url()
        ),
    )
    .unwrap();
    let job = job(
        &format!(
            "[input]\njob = \"read.toml\"\n[write]\nurl = \"{}/sink\"\nmode = \"single\"\n",
            server.url()
        ),
        dir.path(),
    );
    let summary = crate::write::run(&job, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.write.unwrap().delivered, 3);
    let posted: Vec<Value> = server
        .requests()
        .iter()
        .filter(|seen| seen.method == "POST")
        .map(|seen| serde_json::from_slice(&seen.body).unwrap())
        .collect();
    assert_eq!(posted.len(), 3);
    let mut ids: Vec<u64> = posted.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);
}

/// A URL placeholder takes a member's text: a string unescaped, a number
/// or boolean as spelled, whatever the spaces around it; anything else
/// names the placeholder.
#[test]
fn url_values_are_the_members_text() {
    use super::batch::url_values;
    let names = ["id".to_owned(), "s".to_owned(), "ok".to_owned()];
    let scanner = &mut crate::json::scan::Scanner::default();
    let values = url_values(
        br#"{ "id" : 1.50e+3 , "s" : "a\u002fb" , "ok" : true , "id2": 1 }"#,
        &names,
        scanner,
    )
    .unwrap();
    assert_eq!(values["id"], "1.50e+3");
    assert_eq!(values["s"], "a/b");
    assert_eq!(values["ok"], "true");
    // The first of a repeated key, as everywhere else.
    let first = url_values(br#"{"id":1,"s":"a","ok":1,"id":2}"#, &names, scanner).unwrap();
    assert_eq!(first["id"], "1");
    for (record, said) in [
        (
            &br#"{"id":null,"s":"x","ok":1}"#[..],
            "`{id}` has no string or number",
        ),
        (br#"[1,2]"#, "`{id}` has no string or number"),
        (br#"{"id":"#, "the record is not JSON"),
        // Read as U+FFFD, it would name another resource.
        (
            br#"{"id":"a\ud800","s":"x","ok":1}"#,
            "`{id}` holds an escape of a lone surrogate",
        ),
    ] {
        let error = url_values(record, &names, scanner).unwrap_err();
        assert!(error.contains(said), "{error}");
    }
}
