//! Helpers: an in-process HTTP server on its own thread, job files in a
//! temporary folder, and the `hydrant` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hydrant_bench::{Exchange, Fault, FaultServer, FixtureSet, Seen, Server};

/// A replay server running on a background runtime.
pub struct TestServer {
    server: Option<Server>,
    runtime: tokio::runtime::Runtime,
}

impl TestServer {
    pub fn start(exchanges: Vec<Exchange>) -> TestServer {
        let runtime = runtime();
        let server = runtime
            .block_on(hydrant_bench::serve(
                FixtureSet::new(exchanges),
                ([127, 0, 0, 1], 0).into(),
            ))
            .unwrap();
        TestServer {
            server: Some(server),
            runtime,
        }
    }

    /// A server that answers whatever `handler` says: for checks of what
    /// it receives (tokens, signatures).
    pub fn start_fn(handler: impl Fn(&Seen) -> Exchange + Send + Sync + 'static) -> TestServer {
        let runtime = runtime();
        let server = runtime
            .block_on(hydrant_bench::serve_fn(([127, 0, 0, 1], 0).into(), handler))
            .unwrap();
        TestServer {
            server: Some(server),
            runtime,
        }
    }

    /// The same over TLS, with a certificate for `localhost`.
    pub fn start_tls(exchanges: Vec<Exchange>, tls: &TestCa) -> TestServer {
        let runtime = runtime();
        let server = runtime
            .block_on(hydrant_bench::serve_tls(
                FixtureSet::new(exchanges),
                ([127, 0, 0, 1], 0).into(),
                &tls.server_cert,
                &tls.server_key,
            ))
            .unwrap();
        TestServer {
            server: Some(server),
            runtime,
        }
    }

    pub fn port(&self) -> u16 {
        self.server.as_ref().unwrap().addr().port()
    }

    pub fn url(&self) -> String {
        self.server.as_ref().unwrap().url()
    }

    pub fn max_in_flight(&self) -> usize {
        self.server.as_ref().unwrap().max_in_flight()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.server.as_ref().unwrap().requests()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A fault-injecting server running on a background runtime.
pub struct TestFaults {
    server: Option<FaultServer>,
    runtime: tokio::runtime::Runtime,
}

impl TestFaults {
    pub fn start(scripts: Vec<(&str, Vec<Fault>)>) -> TestFaults {
        let runtime = runtime();
        let scripts = scripts
            .into_iter()
            .map(|(target, script)| (target.to_owned(), script))
            .collect();
        let server = runtime
            .block_on(hydrant_bench::serve_faults(
                ([127, 0, 0, 1], 0).into(),
                scripts,
            ))
            .unwrap();
        TestFaults {
            server: Some(server),
            runtime,
        }
    }

    pub fn url(&self) -> String {
        self.server.as_ref().unwrap().url()
    }

    /// When each request arrived, and its target.
    pub fn requests(&self) -> Vec<(std::time::Instant, String)> {
        self.server.as_ref().unwrap().requests()
    }
}

impl Drop for TestFaults {
    fn drop(&mut self) {
        // The server's task must go before its runtime.
        let _guard = self.runtime.enter();
        self.server.take();
    }
}

/// A certificate authority made for one test, and a server certificate for
/// `localhost` it signed.
pub struct TestCa {
    pub ca_cert: String,
    pub server_cert: String,
    pub server_key: String,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        TestCa {
            ca_cert: ca_cert.pem(),
            server_cert: server_cert.pem(),
            server_key: server_key.serialize_pem(),
        }
    }
}

impl TestCa {
    /// A self-signed certificate for `localhost` that is its own CA, as
    /// `openssl req -x509` makes: the server's certificate and the one a
    /// user gives in `ca_file`.
    pub fn self_signed() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            ca_cert: cert.pem(),
            server_cert: cert.pem(),
            server_key: key.serialize_pem(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
        self.server.take();
    }
}

/// A temporary folder holding a job file.
pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

/// The result of one `hydrant` invocation.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn hydrant(args: &[&str]) -> Run {
    hydrant_with(args, &[])
}

pub fn hydrant_with(args: &[&str], env: &[(&str, &str)]) -> Run {
    output(command(args, env))
}

/// `hydrant` run in the folder `cwd`.
pub fn hydrant_in(cwd: &Path, args: &[&str]) -> Run {
    hydrant_in_with(cwd, args, &[])
}

/// [`hydrant_in`] with more environment variables.
pub fn hydrant_in_with(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = command(args, env);
    command.current_dir(cwd);
    output(command)
}

fn output(mut command: Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// `hydrant` started in the background, its output discarded: for runs
/// that are killed.
pub fn spawn_hydrant(args: &[&str]) -> std::process::Child {
    spawn_hydrant_with(args, &[])
}

/// [`spawn_hydrant`] with more environment variables.
pub fn spawn_hydrant_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    command(args, env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the state file at `path` holds a checkpoint that passes
/// `test`, while `run` goes on. The file is replaced by rename, so a read
/// sees a whole one.
pub fn wait_for_state(
    path: &Path,
    run: &mut std::process::Child,
    test: impl Fn(&serde_json::Value) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let state = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
        if state.as_ref().is_some_and(&test) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint came as awaited: {state:?}"
        );
        assert!(run.try_wait().unwrap().is_none(), "the run ended first");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// `hydrant` started with its standard output and error piped to the test.
pub fn spawn_hydrant_piped(args: &[&str]) -> std::process::Child {
    command(args, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hydrant"));
    command.args(args).env_remove("RUST_LOG");
    // Tests talk to loopback servers; a proxy of the machine's must not interfere.
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ] {
        command.env_remove(proxy);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs a job whose `[request]` url is `url` + `target`, with `rest` after
/// it, and returns the run and its `--summary-json` (null if none was
/// written).
pub fn run_job(
    url: &str,
    target: &str,
    rest: &str,
    env: &[(&str, &str)],
) -> (Run, serde_json::Value) {
    run_job_with(url, target, rest, &[], env)
}

/// [`run_job`] with more arguments for `hydrant run`.
pub fn run_job_with(
    url: &str,
    target: &str,
    rest: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Run, serde_json::Value) {
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{url}{target}\"\n{rest}"),
    );
    let summary = dir.path("summary.json");
    let mut all = vec!["run", path_str(&job), "--summary-json", path_str(&summary)];
    all.extend_from_slice(args);
    let run = hydrant_with(&all, env);
    let summary = std::fs::read_to_string(&summary)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    (run, summary)
}

/// What `hydrant check` prints of a job, once it exits 0.
pub fn checked(url: &str, target: &str, rest: &str) -> String {
    printed("check", url, target, rest)
}

/// What `hydrant explain` prints of a job, once it exits 0.
pub fn explained(url: &str, target: &str, rest: &str) -> String {
    printed("explain", url, target, rest)
}

/// What `hydrant COMMAND` prints of a job, once it exits 0.
fn printed(command: &str, url: &str, target: &str, rest: &str) -> String {
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{url}{target}\"\n{rest}"),
    );
    let shown = hydrant(&[command, path_str(&job)]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    shown.stdout
}

/// Runs a job into a file and gives its summary, once it exits 0.
pub fn run_to_file(url: &str, target: &str, rest: &str) -> serde_json::Value {
    let dir = Dir::new();
    let out = dir.path("out");
    let (run, summary) = run_job_with(url, target, rest, &["-o", path_str(&out)], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    summary
}

/// Runs a job (`rest` after its request) with its columns inferred (the
/// first page read on the run loop) and with an `id` column declared
/// (pages made off it), into NDJSON and Parquet; each run exits 0 with
/// `records` records and these `warnings`.
pub fn each_output_says(url: &str, target: &str, rest: &str, records: u32, warnings: &[&String]) {
    let declared = "[[columns]]\nname = \"id\"\ntype = \"long\"\n";
    for (columns, format) in [("", "ndjson"), (declared, "ndjson"), (declared, "parquet")] {
        let rest = format!("{rest}[output]\nformat = \"{format}\"\n{columns}");
        let summary = run_to_file(url, target, &rest);
        assert_eq!(summary["records"], records, "{target} {rest}");
        assert_eq!(
            summary["warnings"],
            serde_json::json!(warnings),
            "{target} {rest}"
        );
    }
}

/// A JSON array of `{"id": i}` records.
pub fn ids(range: std::ops::Range<u32>) -> String {
    let items: Vec<String> = range.map(|i| format!("{{\"id\":{i}}}")).collect();
    format!("[{}]", items.join(","))
}

/// The NDJSON output of the records of [`ids`].
pub fn lines(range: std::ops::Range<u32>) -> String {
    range.map(|i| format!("{{\"id\":{i}}}\n")).collect()
}

/// A JSON answer with `status`, for the servers of [`TestServer::start_fn`].
pub fn json(status: u16, body: impl Into<String>) -> Exchange {
    Exchange {
        status,
        ..Exchange::json("", body.into())
    }
}

/// A xorshift generator of the numbers below its argument, for tests
/// that try many cases: the same `seed`, the same cases.
pub fn below(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |below| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below as u64) as usize
    }
}

/// What `gzip -dc` reads of a file.
pub fn gunzipped(path: &std::path::Path) -> String {
    decoded_by("gzip", path)
}

/// What `zstd -dc` reads of a file: every frame.
pub fn unzstd(path: &std::path::Path) -> String {
    decoded_by("zstd", path)
}

/// What `program -dcq` (`gzip`, `zstd`) reads of a file.
pub fn decoded_by(program: &str, path: &std::path::Path) -> String {
    let decoded = std::process::Command::new(program)
        .arg("-dcq")
        .arg(path)
        .output()
        .expect("the decompressor runs");
    assert!(
        decoded.status.success(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    String::from_utf8(decoded.stdout).unwrap()
}

/// The value of the query parameter `key` of a request's `target`
/// (path and query), decoded.
pub fn query_param(target: &str, key: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://h{target}")).unwrap();
    let (_, value) = url.query_pairs().find(|(k, _)| k == key)?;
    Some(value.into_owned())
}
