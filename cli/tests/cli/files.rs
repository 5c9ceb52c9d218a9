//! The files a run writes: collisions, locks, devices.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hydrant_bench::Exchange;

use crate::util::{
    Dir, TestServer, decoded_by, hydrant, hydrant_in, ids, json, path_str, spawn_hydrant,
    spawn_hydrant_with,
};

#[test]
fn files_that_would_overwrite_each_other_are_refused_before_any_request() {
    let server = TestServer::start(vec![Exchange::json("/x", ids(0..2))]);
    let dir = Dir::new();
    let out = path_str(&dir.path("out.ndjson")).to_owned();
    let cases = [
        (
            format!("[output]\npath = \"{out}\"\n[state]\npath = \"{out}\"\n"),
            "state.path and output.path (or --output) are the same file",
        ),
        (
            format!("[output]\npath = \"{out}\"\n[state]\npath = \"{out}.partial\"\n"),
            "state.path and the output's .partial file are the same file",
        ),
        (
            format!("[output]\npath = \"{out}\"\n[records]\ndirty_path = \"{out}\"\n"),
            "records.dirty_path and output.path (or --output) are the same file",
        ),
        // Through a link to the folder the run is yet to make.
        (
            format!(
                "[output]\npath = \"{}\"\n[records]\ndirty_path = \"{}\"\n",
                path_str(&dir.path("made/out.ndjson")),
                path_str(&dir.path("ahead/out.ndjson"))
            ),
            "records.dirty_path and output.path (or --output) are the same file",
        ),
        (
            format!("[output]\npath = \"{}\"\n", path_str(dir.dir.path())),
            "is a folder; name a file in it",
        ),
        (
            "[output]\npath = \"job.toml\"\n".to_owned(),
            "job.toml` is the job file: the run would overwrite it",
        ),
        (
            "[records]\ndirty_path = \"./job.toml\"\n".to_owned(),
            "job.toml` is the job file: the run would overwrite it",
        ),
        (
            format!(
                "[fanout]\nparam = \"v\"\nvalues_file = \"values.txt\"\n\
                 [output]\npath = \"{}\"\n",
                path_str(&dir.path("values.txt"))
            ),
            "values.txt` is fanout.values_file: the run would overwrite it",
        ),
    ];
    dir.write("values.txt", "a\nb\n");
    std::os::unix::fs::symlink("made", dir.path("ahead")).unwrap();
    for (rest, says) in cases {
        let job = dir.write(
            "job.toml",
            &format!("[request]\nurl = \"{}/x\"\n{rest}", server.url()),
        );
        let run = hydrant(&["run", path_str(&job)]);
        assert_eq!(run.code, 2, "{rest}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    assert!(server.requests().is_empty());
    assert!(!dir.path("out.ndjson").exists());
    assert!(!dir.path("made").exists());
    assert_eq!(dir.read("values.txt"), "a\nb\n");
}

/// A slip on the command line, or a path copied from one key to another,
/// must not replace the file the run reads.
#[test]
fn files_a_run_reads_are_never_its_output() {
    let server = TestServer::start(vec![Exchange::json("/x", ids(0..2))]);
    let dir = Dir::new();
    let text = format!("[request]\nurl = \"{}/x\"\n", server.url());
    let job = dir.write("job.toml", &text);
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&job)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("job.toml` is the job file: the run would overwrite it"),
        "{}",
        run.stderr
    );
    assert_eq!(dir.read("job.toml"), text);
    // A link to the job file is the job file.
    std::os::unix::fs::symlink(&job, dir.path("link.ndjson")).unwrap();
    let run = hydrant(&[
        "run",
        path_str(&job),
        "--output",
        path_str(&dir.path("link.ndjson")),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is the job file"), "{}", run.stderr);
    assert_eq!(dir.read("job.toml"), text);
    // A write job's rejects written over its input, or over the read job
    // that gives its records.
    let records = dir.write("records.ndjson", "{\"id\":1}\n");
    for (input, rejects, says) in [
        (
            "path = \"records.ndjson\"",
            "records.ndjson",
            "records.ndjson` is input.path",
        ),
        (
            "job = \"job.toml\"",
            "job.toml",
            "job.toml` is a file of input.job",
        ),
    ] {
        let write = dir.write(
            "write.toml",
            &format!(
                "[input]\n{input}\n[write]\nurl = \"{}/w\"\nreject_path = \"{rejects}\"\n",
                server.url()
            ),
        );
        let run = hydrant(&["run", path_str(&write)]);
        assert_eq!(run.code, 2, "{input}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{input}: {}", run.stderr);
    }
    assert_eq!(std::fs::read_to_string(&records).unwrap(), "{\"id\":1}\n");
    assert_eq!(dir.read("job.toml"), text);
    assert!(server.requests().is_empty());
}

/// `--summary-json` names one more file the run writes: a slip that
/// points it at the output, the state file or the job file must not
/// replace that file with a summary, on success or on failure.
#[test]
fn the_summary_is_written_over_none_of_the_files_of_the_run() {
    let server = TestServer::start(vec![Exchange::json("/x", ids(0..2))]);
    let dir = Dir::new();
    let text = format!(
        "[request]\nurl = \"{}/x\"\n[output]\npath = \"out.ndjson\"\n\
         [state]\npath = \"state.json\"\n",
        server.url()
    );
    let job = dir.write("job.toml", &text);
    let run = hydrant(&["run", path_str(&job), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records = dir.read("out.ndjson");
    assert_eq!(records.lines().count(), 2, "{records}");
    let sent = server.requests().len();
    std::fs::create_dir(dir.path("folder")).unwrap();
    for (summary, extra, says) in [
        (
            "out.ndjson",
            None,
            "out.ndjson` is output.path (or --output)",
        ),
        ("state.json", None, "state.json` is state.path"),
        ("job.toml", None, "job.toml` is the job file"),
        ("folder", None, "folder` is a folder; name a file in it"),
        (
            "out-1-of-2.ndjson",
            Some("--shard=1/2"),
            "out-1-of-2.ndjson` is output.path (or --output)",
        ),
    ] {
        let summary = path_str(&dir.path(summary)).to_owned();
        let mut args = vec!["run", path_str(&job), "--summary-json", &summary];
        args.extend(extra);
        let run = hydrant(&args);
        assert_eq!(run.code, 2, "{summary}: {}", run.stderr);
        assert!(run.stderr.contains("--summary-json"), "{}", run.stderr);
        assert!(run.stderr.contains(says), "{summary}: {}", run.stderr);
    }
    assert_eq!(server.requests().len(), sent, "no request was sent");
    assert_eq!(dir.read("out.ndjson"), records);
    assert_eq!(dir.read("job.toml"), text);
    assert!(!dir.path("out-1-of-2.ndjson").exists());
    // A summary elsewhere is written, its missing folders made as an
    // output's are.
    let report = dir.path("reports/daily/run.json");
    let run = hydrant(&["run", path_str(&job), "--summary-json", path_str(&report)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&dir.read("reports/daily/run.json")).unwrap();
    assert_eq!(summary["records"], 2);
    // `record` writes the same summary.
    let fixtures = path_str(&dir.path("fixtures")).to_owned();
    let args = ["record", path_str(&job), "--to", &fixtures];
    let run = hydrant(&[&args[..], &["--summary-json", path_str(&job)]].concat());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("job.toml` is the job file"),
        "{}",
        run.stderr
    );
    assert_eq!(dir.read("job.toml"), text);
    // A job file that does not load keeps its text too: the failed run's
    // summary goes nowhere rather than over it.
    let broken = dir.write("broken.toml", "[request\n");
    let run = hydrant(&[
        "run",
        path_str(&broken),
        "--summary-json",
        path_str(&broken),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("broken.toml` is the job file"),
        "{}",
        run.stderr
    );
    assert_eq!(dir.read("broken.toml"), "[request\n");
    // A failed run's summary that cannot be written leaves the run's own
    // error to tell.
    let run = hydrant(&[
        "run",
        path_str(&broken),
        "--summary-json",
        path_str(&dir.path("folder")),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("TOML parse error"), "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: cannot write --summary-json"),
        "{}",
        run.stderr
    );
}

/// Every file a run writes gets its missing folders, as the output
/// does: the dirty and reject files are opened on their first record,
/// deep into a run (a write job's records already sent), where a missing
/// folder would fail it.
#[test]
fn the_files_of_a_run_get_their_missing_folders() {
    let server = TestServer::start_fn(|seen| match seen.target.as_str() {
        "/x" => Exchange::json("/x", r#"[{"id":1},{"id":"a"}]"#),
        _ => Exchange::json(&seen.target, r#"{"ok":true}"#),
    });
    let dir = Dir::new();
    let read = dir.write(
        "read.toml",
        &format!(
            "[request]\nurl = \"{}/x\"\n[[columns]]\nname = \"id\"\ntype = \"long\"\n\
             [records]\ndirty_path = \"dirty/today/dirty.ndjson\"\nmax_dirty = 1\n\
             [output]\npath = \"out/today/out.ndjson\"\n",
            server.url()
        ),
    );
    let run = hydrant(&["run", path_str(&read)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dir.read("out/today/out.ndjson"), "{\"id\":1}\n");
    let parse = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();
    let dirty = parse(dir.read("dirty/today/dirty.ndjson"));
    assert_eq!(dirty["record"], serde_json::json!({"id": "a"}));

    dir.write("in.ndjson", "{\"id\":\"1\"}\n{\"id\":\"x\"}\n");
    let write = dir.write(
        "write.toml",
        &format!(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"{}/w\"\nmode = \"single\"\n\
             reject_path = \"rejects/today/rejects.ndjson\"\nmax_rejects = 1\n\
             [[write.columns]]\nname = \"id\"\nfrom = \"id\"\ntype = \"long\"\n",
            server.url()
        ),
    );
    let run = hydrant(&["run", path_str(&write)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reject = parse(dir.read("rejects/today/rejects.ndjson"));
    assert_eq!(reject["record"], serde_json::json!({"id": "x"}));
}

/// Paths in a job file are found beside the job file, whatever the
/// working directory; a path on the command line is the working
/// directory's.
#[test]
fn paths_in_a_job_file_are_relative_to_the_job_file() {
    let server = TestServer::start(vec![Exchange::json(
        "/x?since=0",
        r#"[{"id":1,"n":"5"},{"id":2,"n":"x"}]"#,
    )]);
    let jobs = Dir::new();
    std::fs::create_dir(jobs.path("jobs")).unwrap();
    let job = jobs.write(
        "jobs/job.toml",
        &format!(
            "[request]\nurl = \"{}/x\"\n\
             [[columns]]\nname = \"id\"\ntype = \"long\"\n\
             [[columns]]\nname = \"n\"\ntype = \"long\"\n\
             [records]\nmax_dirty = 1\ndirty_path = \"out/dirty.ndjson\"\n\
             [output]\npath = \"out/records.ndjson\"\n\
             [state]\npath = \"out/state.json\"\n\
             [incremental]\ncursor = \"id\"\ntype = \"long\"\nstart = 0\nparam = \"since\"\n",
            server.url()
        ),
    );
    let elsewhere = Dir::new();
    let run = hydrant_in(elsewhere.dir.path(), &["run", path_str(&job)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(jobs.read("jobs/out/records.ndjson"), "{\"id\":1,\"n\":5}\n");
    assert!(jobs.read("jobs/out/dirty.ndjson").contains("\"x\""));
    assert!(jobs.path("jobs/out/state.json").exists());
    assert!(!elsewhere.path("out").exists());

    let run = hydrant_in(
        elsewhere.dir.path(),
        &[
            "run",
            path_str(&job),
            "--output",
            "here.ndjson",
            "--from",
            "0",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(elsewhere.read("here.ndjson"), "{\"id\":1,\"n\":5}\n");
}

#[test]
fn a_second_run_of_a_job_with_state_is_refused_at_once() {
    let slow = Exchange {
        delay: Duration::from_secs(3),
        ..Exchange::json("/slow", ids(0..3))
    };
    let server = TestServer::start(vec![slow]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/slow\"\n[output]\npath = \"{}\"\n[state]\npath = \"{}\"\n",
            server.url(),
            path_str(&dir.path("out.ndjson")),
            path_str(&dir.path("state.json")),
        ),
    );
    let mut first = spawn_hydrant(&["run", path_str(&job)]);
    // Wait for the first run to hold the state.
    let started = Instant::now();
    while server.requests().is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let at = Instant::now();
    let second = hydrant(&["run", path_str(&job)]);
    assert!(
        at.elapsed() < Duration::from_secs(2),
        "the second run waited"
    );
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!(
            "another run of this job (process {}) holds its state",
            first.id()
        )),
        "{}",
        second.stderr
    );
    assert!(first.wait().unwrap().success());
    assert!(
        !dir.path("state.json.lock").exists(),
        "the lock file stayed"
    );
    assert_eq!(
        dir.read("out.ndjson"),
        "{\"id\":0}\n{\"id\":1}\n{\"id\":2}\n"
    );
}

#[test]
fn an_output_that_is_a_device_is_written_in_place() {
    let server = TestServer::start(vec![Exchange::json("/x", ids(0..2))]);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/x\"\n", server.url()),
    );
    let run = hydrant(&["run", path_str(&job), "-o", "/dev/null"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let null = std::fs::metadata("/dev/null").unwrap();
    assert!(!null.is_file(), "/dev/null was replaced by a file");
    assert!(!std::path::Path::new("/dev/null.partial").exists());
    // A link to a device counts as the device.
    let link = dir.path("sink");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let run = hydrant(&["run", path_str(&job), "-o", path_str(&link)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
}

#[test]
fn the_parent_records_of_a_fanout_leave_no_file_behind() {
    let parents = Exchange::json("/parents", "[{\"g\":\"a\"},{\"g\":\"b\"}]");
    let slow = |g: &str| Exchange {
        delay: Duration::from_secs(2),
        ..Exchange::json(&format!("/c?g={g}"), ids(0..1))
    };
    let server = TestServer::start(vec![parents, slow("a"), slow("b")]);
    let dir = Dir::new();
    let tmp = dir.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{0}/c\"\n[fanout]\nparam = \"g\"\n[fanout.from]\npath = \"g\"\n[fanout.from.request]\nurl = \"{0}/parents\"\n",
            server.url()
        ),
    );
    let mut run = spawn_hydrant_with(&["run", path_str(&job)], &[("TMPDIR", path_str(&tmp))]);
    let started = Instant::now();
    while server.requests().len() < 2 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The parents were spilled, and the child requests are waiting.
    assert!(server.requests().len() >= 2);
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "a spill file has a name"
    );
    run.kill().unwrap();
    run.wait().unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn resume_refuses_a_partial_output_that_was_changed() {
    let broken = Arc::new(AtomicBool::new(true));
    let failing = broken.clone();
    let server = TestServer::start_fn(move |seen| {
        let page: u32 = seen.target.rsplit('=').next().unwrap().parse().unwrap();
        match page {
            3 if failing.load(Ordering::SeqCst) => json(404, "{}"),
            1..=3 => json(200, ids(page * 10..page * 10 + 2)),
            _ => json(200, "[]"),
        }
    });
    let dir = Dir::new();
    let out = dir.path("out.ndjson");
    let job = dir.write(
        "job.toml",
        &format!(
            "[request]\nurl = \"{}/p\"\n[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n[output]\npath = \"{}\"\n[state]\npath = \"{}\"\nevery = \"0ms\"\n",
            server.url(),
            path_str(&out),
            path_str(&dir.path("state.json")),
        ),
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let partial = dir.path("out.ndjson.partial");
    let kept = std::fs::read(&partial).unwrap();
    assert_eq!(
        kept,
        b"{\"id\":10}\n{\"id\":11}\n{\"id\":20}\n{\"id\":21}\n"
    );
    // The same length, other bytes.
    std::fs::write(&partial, String::from_utf8_lossy(&kept).replace("11", "99")).unwrap();
    broken.store(false, Ordering::SeqCst);
    let run = hydrant(&["run", path_str(&job), "--resume"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("does not hold what the cut-off run wrote"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("out.ndjson.partial"), "{}", run.stderr);
    // The file the run wrote resumes.
    std::fs::write(&partial, &kept).unwrap();
    let run = hydrant(&["run", path_str(&job), "--resume"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        dir.read("out.ndjson"),
        "{\"id\":10}\n{\"id\":11}\n{\"id\":20}\n{\"id\":21}\n{\"id\":30}\n{\"id\":31}\n"
    );
}

/// `hydrant run JOB | head`: when the reader stops, the run ends quietly
/// with exit 0, as other command-line tools do.
#[test]
fn a_reader_that_stops_reading_ends_the_run_quietly() {
    use std::io::{BufRead, Read};
    let records: Vec<String> = (0..200_000)
        .map(|i| format!("{{\"id\":{i},\"pad\":\"{}\"}}", "x".repeat(40)))
        .collect();
    let server = TestServer::start(vec![Exchange::json(
        "/many",
        format!("[{}]", records.join(",")),
    )]);
    let dir = Dir::new();
    let job = dir.write("job.toml", &crate::job_text(&server, "/many", ""));
    let mut child = crate::util::spawn_hydrant_piped(&["run", path_str(&job)]);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first.trim_end(), records[0]);
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

/// An output path ending `.gz` (`.zst`) is written gzip-compressed
/// (zstd-compressed) in the format the name before it says (`-o` or
/// `output.path`), as is one of `output.compression = "gzip"` (`"zstd"`);
/// `compression = "none"` writes a `.gz` path as it is. A compression
/// hydrant does not write, one the path's name contradicts, a compressed
/// Parquet file and a level out of range are refused before any request.
#[test]
fn an_output_ending_gz_is_written_gzip_compressed() {
    let server = TestServer::start(vec![Exchange::json("/x", ids(0..3))]);
    let url = format!("{}/x", server.url());
    let dir = Dir::new();
    let job = |rest: &str| dir.write("job.toml", &format!("[request]\nurl = \"{url}\"\n{rest}"));
    let ndjson = "{\"id\":0}\n{\"id\":1}\n{\"id\":2}\n";
    let out = |name: &str| path_str(&dir.path(name)).to_owned();
    let (gzip, zstd) = (
        ("gzip", &[0x1f, 0x8b][..]),
        ("zstd", &[0x28, 0xb5, 0x2f, 0xfd][..]),
    );
    for (rest, args, name, text, (program, magic)) in [
        (
            "",
            vec!["-o", &out("a.ndjson.gz")],
            "a.ndjson.gz",
            ndjson,
            gzip,
        ),
        (
            "",
            vec!["-o", &out("a.csv.gz")],
            "a.csv.gz",
            "id\n0\n1\n2\n",
            gzip,
        ),
        (
            &format!("[output]\npath = \"{}\"\n", out("b.jsonl.gz")),
            vec![],
            "b.jsonl.gz",
            ndjson,
            gzip,
        ),
        (
            &format!(
                "[output]\npath = \"{}\"\ncompression = \"gzip\"\ncompression_level = 1\n",
                out("c.ndjson")
            ),
            vec![],
            "c.ndjson",
            ndjson,
            gzip,
        ),
        (
            &format!("[output]\nformat = \"raw\"\npath = \"{}\"\n", out("d.gz")),
            vec![],
            "d.gz",
            "[{\"id\":0},{\"id\":1},{\"id\":2}]\n",
            gzip,
        ),
        (
            "",
            vec!["-o", &out("z.ndjson.zst")],
            "z.ndjson.zst",
            ndjson,
            zstd,
        ),
        (
            "",
            vec!["-o", &out("z.csv.zstd")],
            "z.csv.zstd",
            "id\n0\n1\n2\n",
            zstd,
        ),
        (
            &format!(
                "[output]\npath = \"{}\"\ncompression = \"zstd\"\ncompression_level = -3\n",
                out("y.ndjson")
            ),
            vec![],
            "y.ndjson",
            ndjson,
            zstd,
        ),
    ] {
        let file = job(rest);
        let mut all = vec!["run", path_str(&file)];
        all.extend(args.iter().copied());
        let run = hydrant(&all);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let bytes = std::fs::read(dir.path(name)).unwrap();
        assert!(bytes.starts_with(magic), "{name} is {program}");
        assert_eq!(decoded_by(program, &dir.path(name)), text, "{name}");
    }
    let zst = format!("[output]\npath = \"{}\"\n", out("g.ndjson.zst"));
    let explained = hydrant(&["explain", path_str(&job(&zst))]);
    assert!(
        (explained.stdout).contains("output: ndjson, zstd level 1, to "),
        "{}",
        explained.stdout
    );
    let gz = format!("[output]\npath = \"{}\"\n", out("g.csv.gz"));
    let explained = hydrant(&["explain", path_str(&job(&gz))]);
    let says = format!(
        "# pagination: none; output: csv, gzip level 6, to {}\n",
        out("g.csv.gz")
    );
    assert!(explained.stdout.contains(&says), "{}", explained.stdout);
    let plain = format!(
        "[output]\npath = \"{}\"\ncompression = \"none\"\n",
        out("e.ndjson.gz")
    );
    let run = hydrant(&["run", path_str(&job(&plain))]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dir.read("e.ndjson.gz"), ndjson);
    for (rest, args, says) in [
        (
            "",
            vec!["-o", &out("f.parquet.gz")],
            "output.compression: Parquet compresses its own columns",
        ),
        (
            "",
            vec!["-o", &out("f.parquet.zst")],
            "output.compression: Parquet compresses its own columns",
        ),
        (
            "",
            vec!["-o", &out("f.ndjson.bz2")],
            "output.path: `.bz2` names a compression hydrant does not write",
        ),
        (
            "[output]\ncompression = \"brotli\"\n",
            vec![],
            "output.compression: `brotli` is not one of `gzip`, `zstd`, `none`",
        ),
        (
            "[output]\ncompression = \"zstd\"\n",
            vec!["-o", &out("f.ndjson.gz")],
            "output.compression: `zstd`, but output.path",
        ),
        (
            "[output]\ncompression = \"zstd\"\ncompression_level = 23\n",
            vec![],
            "output.compression_level: 23 is not a zstd level (-7 to 22)",
        ),
        (
            "[output]\ncompression_level = 12\n",
            vec![],
            "output.compression_level: 12 is not a gzip level (1 to 9)",
        ),
        (
            "[output]\ncompression = \"none\"\ncompression_level = 3\n",
            vec![],
            "output.compression_level: only a gzip or zstd output takes a level",
        ),
    ] {
        let file = job(rest);
        let mut all = vec!["run", path_str(&file)];
        all.extend(args.iter().copied());
        let run = hydrant(&all);
        assert_eq!(run.code, 2, "{says}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    assert_eq!(server.requests().len(), 9, "no request for a refused job");
}
