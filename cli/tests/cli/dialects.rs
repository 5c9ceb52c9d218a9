//! Job files of other systems (`fixtures/dialects/`), run as they are and
//! from their `hydrant convert` output, against servers that check what
//! the documented API would.

use hydrant_bench::{Exchange, Seen};
use serde_json::{Value, json};

use crate::util::{Dir, TestServer, hydrant, path_str};

fn fixture(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/dialects/");
    std::fs::read_to_string(format!("{root}{path}")).unwrap()
}

/// The value of query parameter `name`.
fn param<'s>(seen: &'s Seen, name: &str) -> Option<&'s str> {
    let query = seen.target.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Writes the original and its conversion side by side in `dir`.
fn original_and_converted(dir: &Dir, name: &str, text: &str) -> (String, String) {
    let original = dir.write(name, text);
    let converted = hydrant(&["convert", path_str(&original)]);
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    let toml = dir.write("converted.toml", &converted.stdout);
    (path_str(&original).to_owned(), path_str(&toml).to_owned())
}

/// The DataWorks reader demo: Basic auth, both header maps, `parameters`
/// as the query, pages 1 to 3 of `pageNumber`, `dataPath`, typed columns,
/// `dirtyData = "null"`.
#[test]
fn dataworks_reader_runs_as_written_and_as_converted() {
    let server = TestServer::start_fn(|seen| {
        let authorized = seen.header("authorization") == Some("Basic cmVhZGVyOnMzY3JldA==");
        let headers = seen.header("x-tenant") == Some("acme")
            && seen.header("x-request-source") == Some("dataworks");
        let query = param(seen, "status") == Some("open")
            && matches!(param(seen, "region"), Some("cn%20east" | "cn+east"));
        if !(authorized && headers && query && seen.target.starts_with("/api/orders?")) {
            return Exchange {
                status: 400,
                ..Exchange::json(&seen.target, r#"{"error":"unexpected request"}"#)
            };
        }
        let page: u64 = param(seen, "pageNumber").unwrap().parse().unwrap();
        let list: Vec<Value> = (0..2)
            .map(|i| {
                let id = page * 10 + i;
                let mut record = json!({"id": id, "customer": {"name": format!("c{id}")}, "amount": id as f64 / 4.0});
                // A record without `paid` keeps a null there (dirtyData = null).
                if id != 21 {
                    record["paid"] = json!(id.is_multiple_of(2));
                }
                record
            })
            .collect();
        Exchange::json(&seen.target, json!({"data": {"list": list}}).to_string())
    });
    let dir = Dir::new();
    let (original, converted) =
        original_and_converted(&dir, "reader.json", &fixture("dataworks/reader.json"));
    let base = format!("base={}", server.url());
    let vars = ["--var", &base, "--var", "password=s3cret"];
    let first = hydrant(&[&["run", &original][..], &vars].concat());
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains("`order` is ignored"),
        "{}",
        first.stderr
    );
    let lines: Vec<Value> = first
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[0],
        json!({"id": 10, "customer.name": "c10", "amount": 2.5, "paid": true})
    );
    assert_eq!(
        lines[3],
        json!({"id": 21, "customer.name": "c21", "amount": 5.25, "paid": null})
    );
    assert_eq!(server.requests().len(), 3);
    let second = hydrant(&[&["run", &converted][..], &vars].concat());
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout, first.stdout);
}

/// A DataX job: a text-file reader into a restapi writer, PUT in batches
/// of 2 wrapped in `data`, with Token auth (the bare token).
#[test]
fn datax_writer_sends_the_same_batches_as_written_and_as_converted() {
    let server = TestServer::start_fn(|seen| {
        let ok = seen.method == "PUT"
            && seen.target == "/api/customers"
            && seen.header("authorization") == Some("t0ken")
            && seen.header("x-source") == Some("datax");
        Exchange {
            status: if ok { 200 } else { 400 },
            ..Exchange::json(&seen.target, r#"{"ok":true}"#)
        }
    });
    let dir = Dir::new();
    dir.write(
        "customers.ndjson",
        "{\"id\":\"1\",\"name\":\"a\",\"extra\":1}\n{\"id\":2,\"name\":\"b\"}\n{\"id\":3,\"name\":\"c\"}\n",
    );
    let (original, converted) =
        original_and_converted(&dir, "writer.json", &fixture("dataworks/writer.json"));
    let base = format!("base={}", server.url());
    let vars = ["--var", &base, "--var", "token=t0ken"];
    for job in [&original, &converted] {
        let run = hydrant(&[&["run", job.as_str()][..], &vars].concat());
        assert_eq!(run.code, 0, "{job}: {}", run.stderr);
    }
    let bodies: Vec<Value> = server
        .requests()
        .iter()
        .map(|seen| serde_json::from_slice(&seen.body).unwrap())
        .collect();
    let batch = |ids: &[(i64, &str)]| {
        let data: Vec<Value> = ids
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect();
        json!({ "data": data })
    };
    let expected = [batch(&[(1, "a"), (2, "b")]), batch(&[(3, "c")])];
    assert_eq!(bodies, [&expected[..], &expected[..]].concat());
}

#[test]
fn a_dataworks_file_hydrant_cannot_run_is_refused_naming_the_key() {
    let dir = Dir::new();
    let cases = [
        (
            fixture("dataworks/reader.json")
                .replace("\"stepType\": \"stream\"", "\"stepType\": \"mysql\""),
            "`steps[1].stepType`: a `restapi` reader with a `mysql` writer is not a REST job",
        ),
        (
            fixture("dataworks/reader.json").replace("\"dataPath\"", "\"dataPth\""),
            "`steps[0].parameter.dataPth`: is not a key of the DataWorks restapi plugin",
        ),
        (
            fixture("dataworks/reader.json").replace("\"Basic\"", "\"Kerberos\""),
            "`steps[0].parameter.authType`: `kerberos` is not one of Basic, Token, AK",
        ),
    ];
    for (text, message) in cases {
        let job = dir.write("bad.json", &text);
        let run = hydrant(&["run", path_str(&job), "--var", "base=http://127.0.0.1:9"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("DataWorks job file `"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(message), "{}", run.stderr);
        let convert = hydrant(&["convert", path_str(&job)]);
        assert_eq!(convert.code, 2);
        assert!(convert.stderr.contains(message), "{}", convert.stderr);
    }
}
