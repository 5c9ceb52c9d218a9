//! Against json-server 0.17 (npm), a REST API users point hydrant at
//! first: its paging (`_page`, `_start`, `_limit`, a `Link` header), its
//! `X-Total-Count`, its filters, and records written to it and read back.
//!
//! CI installs it from `.ci/json-server` and names its script in
//! `HYDRANT_JSON_SERVER`. Without that variable the tests pass with a
//! note on stderr, unless `CI` is set: there they fail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{Dir, hydrant, path_str};

/// A json-server serving a copy of a database, stopped when dropped.
struct JsonServer {
    child: Child,
    url: String,
    dir: Dir,
}

impl JsonServer {
    /// Starts json-server on `db`; `None` where it is not installed and
    /// CI does not ask for it.
    fn start(db: &Value) -> Option<JsonServer> {
        let Some(script) = std::env::var_os("HYDRANT_JSON_SERVER") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "HYDRANT_JSON_SERVER is not set: .ci/run installs json-server and sets it"
            );
            eprintln!("json-server tests skipped: HYDRANT_JSON_SERVER is not set");
            return None;
        };
        let dir = Dir::new();
        let db_path = dir.write("db.json", &db.to_string());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(PathBuf::from(script))
            .args(["--quiet", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg(&db_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("json-server starts");
        let server = JsonServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        server.wait_ready(port);
        Some(server)
    }

    /// Waits until the server answers `GET /db`.
    fn wait_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                let asked = stream.write_all(b"GET /db HTTP/1.0\r\n\r\n");
                let mut answer = String::new();
                if asked.is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.1 200")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("json-server did not answer on port {port} within 30 s");
    }

    /// Runs a job of `text` (its `{url}` the server's), with its summary.
    fn run(&self, name: &str, text: &str, args: &[&str]) -> (crate::util::Run, Value) {
        let job = self.dir.write(name, &text.replace("{url}", &self.url));
        let summary = self.dir.path("summary.json");
        let mut all = vec!["run", path_str(&job), "--summary-json", path_str(&summary)];
        all.extend_from_slice(args);
        let run = hydrant(&all);
        let summary = serde_json::from_str(&self.dir.read("summary.json")).unwrap();
        (run, summary)
    }

    /// A run into `out` that exits 0, with its summary and output.
    fn read(&self, text: &str, out: &str) -> (Value, String) {
        let out_path = self.dir.path(out);
        let (run, summary) = self.run("read.toml", text, &["-o", path_str(&out_path)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let output = std::fs::read_to_string(&out_path).unwrap_or_default();
        (summary, output)
    }
}

impl Drop for JsonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 95 posts, each with a nested author and an array of tags.
fn posts() -> Value {
    let posts: Vec<Value> = (1..=95)
        .map(|i| {
            let tags = ["a", "b"][..i % 3].to_vec();
            json!({
                "id": i,
                "title": format!("post {i}"),
                "views": i * 7 % 101,
                "tags": tags,
                "author": {"id": i % 5, "name": format!("n{}", i % 5)},
            })
        })
        .collect();
    json!({"posts": posts, "comments": []})
}

fn ids(ndjson: &str) -> Vec<u64> {
    let id = |line: &str| serde_json::from_str::<Value>(line).unwrap()["id"].as_u64();
    ndjson.lines().map(|line| id(line).unwrap()).collect()
}

#[test]
fn every_post_is_read_by_each_paging_json_server_serves() {
    let Some(server) = JsonServer::start(&posts()) else {
        return;
    };
    let url = "[request]\nurl = \"{url}/posts\"\n";
    let page =
        "[paginate]\ntype = \"page\"\nparam = \"_page\"\nsize_param = \"_limit\"\nsize = 10\n";
    let jobs = [
        (page.to_owned(), "short_page", 10),
        (
            "[request.query]\n_page = 1\n_limit = 10\n[paginate]\ntype = \"link_header\"\n"
                .to_owned(),
            "no_next",
            10,
        ),
        (
            "[paginate]\ntype = \"offset\"\nparam = \"_start\"\nlimit_param = \"_limit\"\n\
             limit = 20\n[limits]\nconcurrency = 4\n"
                .to_owned(),
            "short_page",
            5,
        ),
    ];
    for (paginate, stopped, requests) in jobs {
        let (summary, out) = server.read(&format!("{url}{paginate}"), "posts.ndjson");
        assert_eq!(ids(&out), (1..=95).collect::<Vec<_>>(), "{paginate}");
        assert_eq!(summary["records"], 95, "{paginate}");
        assert_eq!(summary["requests"], requests, "{paginate}");
        assert_eq!(summary["stopped"], stopped, "{paginate}");
        assert_eq!(summary["warnings"], json!([]), "{paginate}");
        // Columns inferred: the author flattened, the tags kept as JSON.
        assert_eq!(
            out.lines().nth(1).unwrap(),
            r#"{"id":2,"title":"post 2","views":14,"tags":["a","b"],"author_id":2,"author_name":"n2"}"#
        );
    }
    let (summary, _) = server.read(&format!("{url}{page}"), "posts.parquet");
    assert_eq!(summary["records"], 95);
    let job = server.dir.write(
        "check.toml",
        &format!("{url}{page}").replace("{url}", &server.url),
    );
    let check = hydrant(&["check", path_str(&job)]);
    assert!(
        check.stdout.contains(
            "records: 10 on the first page; the API counts 95 (the `X-Total-Count` header)\n"
        ),
        "{}",
        check.stdout
    );
}

/// `hydrant init` from a first URL as json-server's docs write it: the
/// job it writes reads every post.
#[test]
fn a_job_init_writes_from_json_server_reads_every_post() {
    let Some(server) = JsonServer::start(&posts()) else {
        return;
    };
    for (query, paginate) in [
        ("_page=1&_limit=10", "link_header"),
        ("_start=0&_limit=10", "offset"),
    ] {
        let job = server.dir.path(&format!("{paginate}.toml"));
        let url = format!("{}/posts?{query}", server.url);
        let init = hydrant(&["init", &url, "--out", path_str(&job)]);
        assert_eq!(init.code, 0, "{}", init.stderr);
        let text = std::fs::read_to_string(&job).unwrap();
        assert!(text.contains(&format!("type = \"{paginate}\"\n")), "{text}");
        let (summary, out) = server.read(&text, "init.ndjson");
        assert_eq!(ids(&out), (1..=95).collect::<Vec<_>>(), "{text}");
        assert_eq!(summary["warnings"], json!([]), "{text}");
    }
}

/// A job without `[paginate]` reads one page of json-server's: told by
/// its `Link` header, or, with `_start`, which json-server links not, by
/// its `X-Total-Count`.
#[test]
fn a_job_that_reads_one_page_of_json_server_is_told() {
    let Some(server) = JsonServer::start(&posts()) else {
        return;
    };
    let url = &server.url;
    for (query, says) in [
        (
            "_page = 1\n_limit = 10",
            format!(
                "the page from {url}/posts?_limit=10&_page=1 has a Link header to a next page, \
                 but the job has no [paginate], so no page after it is read: set [paginate] to \
                 `type = \"link_header\"`"
            ),
        ),
        (
            "_start = 0\n_limit = 10",
            format!(
                "the first page, from {url}/posts?_limit=10&_start=0, counts 95 records in its \
                 `X-Total-Count` header, but the job has no [paginate] and its one request gave \
                 10: set [paginate] to how the API pages; if `X-Total-Count` counts something \
                 else, or is an estimate, this can be ignored"
            ),
        ),
    ] {
        let job = format!("[request]\nurl = \"{{url}}/posts\"\n[request.query]\n{query}\n");
        let (summary, out) = server.read(&job, "one.ndjson");
        assert_eq!(ids(&out), (1..=10).collect::<Vec<_>>());
        assert_eq!(summary["warnings"], json!([says]));
    }
}

/// Comments written to json-server (POST, then PATCH) come back as
/// written; an incremental run reads those changed since the last; a
/// comment json-server refuses (an id it holds) is counted, not lost.
#[test]
fn comments_written_to_json_server_come_back_and_an_incremental_run_reads_the_new() {
    let Some(server) = JsonServer::start(&posts()) else {
        return;
    };
    let comment = |id: u64| {
        json!({"id": id, "postId": id % 3 + 1, "body": format!("comment {id}"),
               "updated_at": format!("2024-03-{id:02}T10:00:00Z")})
    };
    let lines = |ids: std::ops::RangeInclusive<u64>| -> String {
        ids.map(|id| format!("{}\n", comment(id))).collect()
    };
    let write = |lines: &str, method: &str, url: &str, rest: &str| {
        server.dir.write("in.ndjson", lines);
        let job = format!(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{{url}}{url}\"\nmethod = \"{method}\"\n\
             mode = \"single\"\n{rest}[limits]\nconcurrency = 4\n"
        );
        server.run("write.toml", &job, &["--quiet"])
    };
    let (run, summary) = write(&lines(1..=5), "POST", "/comments", "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summary["write"],
        json!({"delivered": 5, "rejected": 0, "retried": 0, "batches": 5})
    );
    let read = "[request]\nurl = \"{url}/comments\"\n[request.query]\n_sort = \"id\"\n";
    let (_, out) = server.read(read, "comments.ndjson");
    let back: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, (1..=5).map(comment).collect::<Vec<_>>());

    // Read those changed since the last run: json-server's `_gte` filter.
    let incremental = "[request]\nurl = \"{url}/comments\"\n[request.query]\n\
         _sort = \"updated_at\"\n[state]\npath = \"state.json\"\n[incremental]\n\
         cursor = \"updated_at\"\nparam = \"updated_at_gte\"\nstart = \"2024-01-01T00:00:00Z\"\n\
         key = \"id\"\n";
    let (summary, out) = server.read(incremental, "changed.ndjson");
    assert_eq!(ids(&out), [1, 2, 3, 4, 5]);
    assert_eq!(summary["records"], 5);
    let (run, _) = write(&lines(6..=7), "POST", "/comments", "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (summary, out) = server.read(incremental, "changed.ndjson");
    assert_eq!(ids(&out), [6, 7], "{summary}");
    assert_eq!(summary["incremental"]["deduplicated"], 1, "{summary}");

    // PATCH one comment by its id: the fields sent change, the others stay.
    let patch = "{\"id\": 3, \"body\": \"edited\"}\n";
    let (run, _) = write(patch, "PATCH", "/comments/{id}", "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (_, out) = server.read(read, "comments.ndjson");
    let third: Value = serde_json::from_str(out.lines().nth(2).unwrap()).unwrap();
    let mut edited = comment(3);
    edited["body"] = json!("edited");
    assert_eq!(third, edited);

    // A comment whose id json-server holds: refused with a 500.
    let (run, summary) = write(
        &lines(7..=8),
        "POST",
        "/comments",
        "reject_path = \"rejects.ndjson\"\n",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(summary["dirty"], 1, "{summary}");
    assert!(
        run.stderr.contains(&format!(
            "hydrant: error: 1 records rejected (the last: POST {}/comments answered 500 \
             Internal Server Error: Error: Insert failed, duplicate id at",
            server.url
        )),
        "{}",
        run.stderr
    );
    let rejected: Value = serde_json::from_str(&server.dir.read("rejects.ndjson")).unwrap();
    assert_eq!(rejected["record"], comment(7));
    let (_, out) = server.read(read, "comments.ndjson");
    assert_eq!(ids(&out), (1..=8).collect::<Vec<_>>());
}
