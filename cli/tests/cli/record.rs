//! `hydrant record JOB --to DIR`: a run saved as a fixture set that
//! `--replay` serves back.

use hydrant_bench::Exchange;
use serde_json::Value;

use crate::util::{Dir, Run, TestServer, hydrant, ids, lines, path_str};

const SECRET: &str = "k-secret-9";

fn job(dir: &Dir, url: &str) -> std::path::PathBuf {
    dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{url}/r\"\nquery = {{ page = 1 }}\n\
             [paginate]\ntype = \"link_header\"\n\
             [auth]\ntype = \"api_key\"\nname = \"api_key\"\nvalue = \"${{KEY}}\"\nin = \"query\"\n"
        ),
    )
}

fn page(target: &str, body: String, link: Option<&str>) -> Exchange {
    let mut exchange = Exchange::json(&format!("{target}&api_key={SECRET}"), body);
    exchange
        .headers
        .push(("set-cookie".to_owned(), "session=s3ss10n".to_owned()));
    if let Some(link) = link {
        exchange.headers.push(("link".to_owned(), link.to_owned()));
    }
    exchange
}

fn two_pages() -> TestServer {
    TestServer::start(vec![
        page("/r?page=1", ids(0..2), Some("</r?page=2>; rel=\"next\"")),
        page("/r?page=2", ids(2..3), None),
    ])
}

#[test]
fn a_recorded_run_replays_offline_to_the_same_records_without_its_secrets() {
    let server = two_pages();
    let dir = Dir::new();
    let job = job(&dir, &server.url());
    let fixtures = dir.path("fixtures");
    let recorded = record_with_key(&job, &fixtures);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    assert_eq!(recorded.stdout, lines(0..3));
    assert!(
        recorded.stderr.contains("recorded 2 exchanges in"),
        "{}",
        recorded.stderr
    );

    let index: Value =
        serde_json::from_slice(&std::fs::read(fixtures.join("exchanges.json")).unwrap()).unwrap();
    let entries = index.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["method"], "GET");
    assert_eq!(entries[0]["target"], "/r?page=1");
    assert_eq!(entries[1]["target"], "/r?page=2");
    for entry in entries {
        assert_eq!(entry["status"], 200);
        assert_eq!(entry["secret_query"], serde_json::json!(["api_key"]));
        let names: Vec<&str> = entry["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[0].as_str().unwrap())
            .collect();
        assert!(names.contains(&"content-type"), "{names:?}");
        assert!(!names.contains(&"set-cookie"), "{names:?}");
        assert!(!names.contains(&"content-length"), "{names:?}");
    }
    assert_eq!(
        entries[0]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "link")
            .map(|h| h[1].clone()),
        Some(Value::from("</r?page=2>; rel=\"next\""))
    );
    let first_body = fixtures.join(entries[0]["body"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(first_body).unwrap(), ids(0..2));
    for file in std::fs::read_dir(&fixtures).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        assert!(
            !text.contains(SECRET) && !text.contains("s3ss10n"),
            "{text}"
        );
    }

    // Offline, with another key: the secret parameter is not compared.
    let before = server.requests().len();
    let replayed = replay_with_another_key(&job, &fixtures);
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_eq!(replayed.stdout, recorded.stdout);
    assert_eq!(server.requests().len(), before);
}

#[test]
fn a_failed_recording_leaves_no_fixture_set() {
    let server = TestServer::start(vec![page(
        "/r?page=1",
        ids(0..2),
        Some("</r?page=2>; rel=\"next\""),
    )]);
    let dir = Dir::new();
    let job = job(&dir, &server.url());
    let fixtures = dir.path("fixtures");
    let run = record_with_key(&job, &fixtures);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("/r?page=2"), "{}", run.stderr);
    let left: Vec<_> = std::fs::read_dir(&fixtures).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn record_refuses_an_existing_set_a_resume_and_a_write_job() {
    let server = two_pages();
    let dir = Dir::new();
    let job = job(&dir, &server.url());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let existing = std::path::PathBuf::from(format!("{root}/fixtures/issues"));
    let run = record_with_key(&job, &existing);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("already holds a fixture set"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("fixtures/issues"), "{}", run.stderr);

    let fresh = dir.path("fresh");
    let run = hydrant(&[
        "record",
        path_str(&job),
        "--to",
        path_str(&fresh),
        "--var",
        &format!("KEY={SECRET}"),
        "--resume",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--resume"), "{}", run.stderr);

    let input = dir.write("in.ndjson", "{\"id\":1}\n");
    let write_job = dir.write(
        "write.toml",
        &format!(
            "[input]\npath = \"{}\"\n[write]\nurl = \"{}/sink\"\n",
            path_str(&input),
            server.url()
        ),
    );
    let run = hydrant(&["record", path_str(&write_job), "--to", path_str(&fresh)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is a write job"), "{}", run.stderr);
    assert!(!fresh.exists());
    assert!(server.requests().is_empty());
}

#[test]
fn a_fanout_parent_is_recorded_with_its_children() {
    let server = TestServer::start(vec![
        Exchange::json("/parents", r#"[{"g":"a"},{"g":"b"}]"#),
        Exchange::json("/c?g=a", ids(0..1)),
        Exchange::json("/c?g=b", ids(1..3)),
    ]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{0}/c\"\n[fanout]\nparam = \"g\"\n[fanout.from]\npath = \"g\"\n[fanout.from.request]\nurl = \"{0}/parents\"\n",
            server.url()
        ),
    );
    let fixtures = dir.path("fixtures");
    let recorded = hydrant(&["record", path_str(&job), "--to", path_str(&fixtures)]);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let index: Value =
        serde_json::from_slice(&std::fs::read(fixtures.join("exchanges.json")).unwrap()).unwrap();
    let targets: Vec<&str> = index
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["/parents", "/c?g=a", "/c?g=b"]);
    let replayed = hydrant(&["run", path_str(&job), "--replay", path_str(&fixtures)]);
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_eq!(replayed.stdout, recorded.stdout);
    assert_eq!(replayed.stdout, lines(0..3));
}

/// `hydrant run JOB --replay FIXTURES` with a key other than the one
/// recorded: the secret parameter is not compared.
fn replay_with_another_key(job: &std::path::Path, fixtures: &std::path::Path) -> Run {
    hydrant(&[
        "run",
        path_str(job),
        "--replay",
        path_str(fixtures),
        "--var",
        "KEY=another",
    ])
}

/// `hydrant record JOB --to FIXTURES` with the API key as `--var`.
/// The fixture set's folder is the set's own: an output, a state file or
/// a summary in it would be written over a fixture (`00001.json`), or a
/// fixture over it (`exchanges.json`), so `record` refuses it first.
#[test]
fn record_writes_no_file_of_the_run_into_the_set() {
    let server = two_pages();
    let dir = Dir::new();
    let job = job(&dir, &server.url());
    let fixtures = dir.path("fixtures");
    let to = path_str(&fixtures);
    std::fs::create_dir(&fixtures).unwrap();
    std::fs::create_dir(dir.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink(&fixtures, dir.path("elsewhere/link")).unwrap();
    let inside = |name: &str| path_str(&fixtures.join(name)).to_owned();
    let through_link = path_str(&dir.path("elsewhere/link/out.ndjson")).to_owned();
    let cases = [
        ("-o", inside("exchanges.json"), "output.path (or --output)"),
        ("-o", inside("00001.json"), "output.path (or --output)"),
        ("-o", through_link, "output.path (or --output)"),
        ("--summary-json", inside("exchanges.json"), "--summary-json"),
    ];
    for (flag, path, names) in cases {
        let key = format!("KEY={SECRET}");
        let args = ["record", path_str(&job), "--to", to, "--var", &key];
        let run = hydrant(&[&args[..], &[flag, &path]].concat());
        assert_eq!(run.code, 2, "{flag} {path}: {}", run.stderr);
        let says = format!("--to: `{}` would hold {names}", fixtures.display());
        assert!(run.stderr.contains(&says), "{flag} {path}: {}", run.stderr);
    }
    let written = std::fs::read_dir(&fixtures).unwrap().count();
    assert_eq!(written, 0, "nothing was written into the set's folder");
    // A link, relative, to the folder record is yet to make.
    std::os::unix::fs::symlink("../new-set", dir.path("elsewhere/ahead")).unwrap();
    let out = path_str(&dir.path("elsewhere/ahead/out.ndjson")).to_owned();
    let new_set = path_str(&dir.path("new-set")).to_owned();
    let key = format!("KEY={SECRET}");
    let args = ["record", path_str(&job), "--to", &new_set, "--var", &key];
    let run = hydrant(&[&args[..], &["-o", &out]].concat());
    assert_eq!(run.code, 2, "{}", run.stderr);
    let says = format!("--to: `{new_set}` would hold output.path (or --output)");
    assert!(run.stderr.contains(&says), "{}", run.stderr);
    assert!(!dir.path("new-set").exists());
    assert!(server.requests().is_empty());
    // Beside the set, both are kept whole.
    let out = path_str(&dir.path("out.ndjson")).to_owned();
    let run = hydrant(&[
        "record",
        path_str(&job),
        "--to",
        to,
        "--var",
        &format!("KEY={SECRET}"),
        "-o",
        &out,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dir.read("out.ndjson"), lines(0..3));
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("exchanges.json")).unwrap())
            .unwrap();
    assert_eq!(index.as_array().map(Vec::len), Some(2));
}

fn record_with_key(job: &std::path::Path, fixtures: &std::path::Path) -> Run {
    hydrant(&[
        "record",
        path_str(job),
        "--to",
        path_str(fixtures),
        "--var",
        &format!("KEY={SECRET}"),
    ])
}

/// A server that puts the key it was sent into its next links, in the
/// body and in a header: the fixture set keeps neither, and still
/// replays with another key. The key goes in the query, or in the path
/// from a variable named as a credential.
#[test]
fn a_key_echoed_by_the_server_is_not_recorded() {
    // The link to each page, the key where the job puts it.
    let in_query = |page: u32| match page {
        1 => format!("/e?code={SECRET}"),
        _ => format!("/e?code={SECRET}&page={page}"),
    };
    let in_path = |page: u32| match page {
        1 => format!("/bot{SECRET}/e"),
        _ => format!("/bot{SECRET}/e?page={page}"),
    };
    type Link = fn(u32) -> String;
    let cases: [(&str, Link); 2] = [
        ("/e\"\nquery = { code = \"${KEY}\" }", in_query),
        ("/bot${KEY}/e\"", in_path),
    ];
    for (url, link) in cases {
        let server = TestServer::start_fn(move |seen| {
            let page: u32 = seen
                .target
                .rsplit_once("page=")
                .map_or(1, |(_, p)| p.parse().unwrap());
            let next = if page < 2 {
                Value::from(link(page + 1))
            } else {
                Value::Null
            };
            let body = serde_json::json!({"data": [{"id": page}], "next": next});
            let mut exchange = Exchange::json(&seen.target, body.to_string());
            exchange
                .headers
                .push(("x-echo".to_owned(), format!("code={SECRET}")));
            exchange
        });
        let dir = Dir::new();
        let job = dir.write(
            "job.toml",
            &format!(
                "[request]\nurl = \"{}{url}\n\
                 [paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[records]\npath = \"data\"\n",
                server.url()
            ),
        );
        let fixtures = dir.path("fixtures");
        let recorded = record_with_key(&job, &fixtures);
        assert_eq!(recorded.code, 0, "{url}: {}", recorded.stderr);
        assert_eq!(recorded.stdout, "{\"id\":1}\n{\"id\":2}\n");
        let sent: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
        assert_eq!(sent, [link(1), link(2)]);
        let mut files = 0;
        for file in std::fs::read_dir(&fixtures).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            assert!(!text.contains(SECRET), "{url}: {text}");
            files += 1;
        }
        assert_eq!(files, 3, "two bodies and the index");
        let replayed = replay_with_another_key(&job, &fixtures);
        assert_eq!(replayed.code, 0, "{url}: {}", replayed.stderr);
        assert_eq!(replayed.stdout, recorded.stdout);
    }
}

/// GraphQL, Notion's queries and Elasticsearch's `search_after` send every
/// page as a POST to one target, the cursor in the body. Each request is
/// recorded with its body, the secret in it masked, and the replay
/// answers each page by its body, with another key too. It had recorded
/// the first answer alone, and replayed it for every page.
#[test]
fn pages_posted_to_one_target_are_recorded_by_their_bodies() {
    let server = TestServer::start_fn(|seen| {
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        if body["key"] != SECRET {
            return crate::util::json(401, "{\"error\":\"bad key\"}");
        }
        let (records, next) = match body["variables"]["after"].as_str() {
            None => (ids(0..2), "\"c2\""),
            Some("c2") => (ids(2..4), "\"c4\""),
            Some(_) => (ids(4..5), "null"),
        };
        crate::util::json(200, format!("{{\"items\":{records},\"next\":{next}}}"))
    });
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/q\"\nmethod = \"POST\"\n\
             body = {{ query = \"{{ items }}\", key = \"${{KEY}}\" }}\n\
             [records]\npath = \"items\"\n\
             [paginate]\ntype = \"cursor\"\nfrom = \"next\"\nparam = \"variables.after\"\nin = \"body\"\n",
            server.url()
        ),
    );
    let fixtures = dir.path("fixtures");
    let recorded = record_with_key(&job, &fixtures);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    assert_eq!(recorded.stdout, lines(0..5));
    assert!(
        recorded.stderr.contains("recorded 3 exchanges in"),
        "{}",
        recorded.stderr
    );
    let text = std::fs::read_to_string(fixtures.join("exchanges.json")).unwrap();
    assert!(!text.contains(SECRET), "{text}");
    let index: Value = serde_json::from_str(&text).unwrap();
    let bodies: Vec<&Value> = (index.as_array().unwrap().iter())
        .map(|e| &e["request_body"])
        .collect();
    assert_eq!(
        bodies[1],
        &serde_json::json!({"query": "{ items }", "key": "***", "variables": {"after": "c2"}})
    );
    assert_eq!(bodies[2]["variables"]["after"], "c4");
    let replayed = replay_with_another_key(&job, &fixtures);
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_eq!(replayed.stdout, lines(0..5));
    // `check` names the method it sent.
    let checked = hydrant(&[
        "check",
        path_str(&job),
        "--replay",
        path_str(&fixtures),
        "--var",
        "KEY=k",
    ]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert!(
        checked.stdout.contains("request: POST http://"),
        "{}",
        checked.stdout
    );
}
