//! SIGINT and SIGTERM: what was received is written, what can be resumed
//! is kept, and the exit code says which signal stopped the run.

use std::time::{Duration, Instant};

use hydrant_bench::Exchange;

use crate::util::{Dir, TestServer, hydrant, ids, path_str, spawn_hydrant_with};

/// Five pages of two records; every page after the first takes a while.
fn slow_pages() -> TestServer {
    let mut exchanges: Vec<Exchange> = (1..=5)
        .map(|page| Exchange {
            delay: Duration::from_millis(if page == 1 { 0 } else { 700 }),
            ..Exchange::json(&format!("/p?page={page}"), ids(page * 10..page * 10 + 2))
        })
        .collect();
    exchanges.push(Exchange::json("/p?page=6", "[]"));
    TestServer::start(exchanges)
}

fn job(dir: &Dir, server: &TestServer, state: bool) -> std::path::PathBuf {
    let state = if state {
        format!(
            "[state]\npath = \"{}\"\n",
            path_str(&dir.path("state.json"))
        )
    } else {
        String::new()
    };
    dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/p\"\n[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n[output]\npath = \"{}\"\n{state}",
            server.url(),
            path_str(&dir.path("out.ndjson"))
        ),
    )
}

/// Starts the job, waits for its second request, sends `signal`, and
/// returns the exit code and stderr.
fn interrupt(job: &std::path::Path, server: &TestServer, signal: &str) -> (i32, String) {
    let stderr = job.with_extension("err");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_hydrant"))
        .args(["run", path_str(job)])
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.requests().len() < 2 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait_with_output().unwrap().status;
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(stderr).unwrap(),
    )
}

#[test]
fn sigint_keeps_what_was_received_and_the_run_resumes() {
    let server = slow_pages();
    let dir = Dir::new();
    let job = job(&dir, &server, true);
    let (code, stderr) = interrupt(&job, &server, "-INT");
    assert_eq!(code, 130, "{stderr}");
    assert!(
        stderr.contains("interrupted: 2 records written; the output stays in")
            && stderr.contains("resume with --resume"),
        "{stderr}"
    );
    assert_eq!(dir.read("out.ndjson.partial"), "{\"id\":10}\n{\"id\":11}\n");
    let run = hydrant(&["run", path_str(&job), "--resume", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let all: String = (1..=5)
        .map(|p| format!("{{\"id\":{}}}\n{{\"id\":{}}}\n", p * 10, p * 10 + 1))
        .collect();
    assert_eq!(dir.read("out.ndjson"), all);
}

#[test]
fn sigterm_without_state_removes_the_partial_output() {
    let server = slow_pages();
    let dir = Dir::new();
    let job = job(&dir, &server, false);
    let (code, stderr) = interrupt(&job, &server, "-TERM");
    assert_eq!(code, 143, "{stderr}");
    assert!(
        stderr.contains("interrupted: 2 records had been written"),
        "{stderr}"
    );
    assert!(!dir.path("out.ndjson.partial").exists());
    assert!(!dir.path("out.ndjson").exists());
    // A device is written in place: there was no partial file to remove.
    let server = slow_pages();
    let text = std::fs::read_to_string(self::job(&dir, &server, false)).unwrap();
    let job = dir.write(
        "job.toml",
        &text.replace(path_str(&dir.path("out.ndjson")), "/dev/null"),
    );
    let (code, stderr) = interrupt(&job, &server, "-TERM");
    assert_eq!(code, 143, "{stderr}");
    assert!(
        stderr.contains("interrupted: 2 records had been written to `/dev/null`")
            && !stderr.contains("partial"),
        "{stderr}"
    );
}

#[test]
fn a_second_signal_ends_the_run_at_once() {
    // A write job whose batch is never answered: after the first signal
    // it waits for that batch to settle; the second ends the process.
    let server = TestServer::start_fn(|seen| {
        std::thread::sleep(Duration::from_secs(5));
        Exchange::json(&seen.target, "{}")
    });
    let dir = Dir::new();
    dir.write("in.ndjson", "{\"n\":1}\n{\"n\":2}\n");
    let job = dir.write(
        "write.toml",
        &format!(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/w\"\nbatch_size = 1\n[limits]\nconcurrency = 1\n",
            server.url()
        ),
    );
    let mut child = spawn_hydrant_with(&["run", path_str(&job)], &[]);
    let started = Instant::now();
    while server.requests().is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    let kill = || {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status();
        assert!(sent.unwrap().success());
    };
    kill();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the batch in flight was not waited for"
    );
    kill();
    let at = Instant::now();
    let status = child.wait().unwrap();
    assert!(at.elapsed() < Duration::from_secs(2));
    assert_eq!(status.code(), Some(130));
}
