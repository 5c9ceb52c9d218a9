//! The job model: a job file parsed, interpolated and validated once.

pub(crate) mod columns;
mod file;
pub(crate) mod units;
pub(crate) mod vars;

pub use crate::dialect::Pick;
pub use columns::{ColumnSpec, ColumnType};

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::job::units::{parse_duration, parse_size};
use crate::job::vars::Vars;
use crate::json::path::JsonPath;
use file::{JobFile, RequestFile};

/// The syntax of a job file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobFormat {
    /// A TOML job file.
    Toml,
    /// The same keys as JSON.
    Json,
}

/// A validated job.
///
/// Built by [`Job::load`] or [`Job::parse`]: every key is checked once, with
/// errors that name the file and the key at fault.
#[derive(Debug, Clone)]
pub struct Job {
    pub(crate) name: String,
    /// Keys of another system's job file that were not carried over, told
    /// once when the job runs.
    pub(crate) notices: Vec<String>,
    pub(crate) request: Option<Request>,
    pub(crate) auth: hydrant_auth::Config,
    pub(crate) paginate: hydrant_paginate::Config,
    pub(crate) records: Records,
    pub(crate) columns: Option<Vec<ColumnSpec>>,
    pub(crate) limits: Limits,
    pub(crate) output: Output,
    pub(crate) state: Option<State>,
    pub(crate) fanout: Option<Fanout>,
    /// `[write]` and `[input]` of a write job; `request` then holds the
    /// write URL, method, headers and timeouts.
    pub(crate) write: Option<Box<Write>>,
    /// SHA-256 of what the job extracts (see [`extraction_text`]), so that a
    /// checkpoint is only taken up by the job that made it.
    pub(crate) fingerprint: [u8; 32],
}

/// `[state]`, validated.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub path: PathBuf,
    /// The least time between two checkpoints.
    pub every: Duration,
}

/// `[request]`, validated.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub url: String,
    pub method: Method,
    /// Name (lower case), value, and whether the value is a credential
    /// (see [`is_credential_name`], or interpolated from a variable).
    pub headers: Vec<(String, String, bool)>,
    /// Name, value, and whether the value is a credential.
    pub query: Vec<(String, String, bool)>,
    pub body: Option<Body>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub interval: Duration,
    pub tls_verify: bool,
    pub ca_file: Option<PathBuf>,
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// `[write]` and `[input]`, validated.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    pub input: Input,
    /// Records per request: 1 in `single` mode.
    pub batch_size: usize,
    /// `single` mode: each request's body is one record, not an array.
    pub single: bool,
    /// The dotted member the batch is wrapped in.
    pub data_path: Option<String>,
    pub gzip: bool,
    pub reject_path: Option<PathBuf>,
    pub max_rejects: u64,
    pub idempotency_header: Option<String>,
    /// `[[write.columns]]`: `name` is the dotted member written, `path`
    /// the input column read.
    pub columns: Option<Vec<ColumnSpec>>,
}

/// Where a write job's records come from.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    /// `None` is stdin.
    File {
        path: Option<PathBuf>,
        format: InputFormat,
    },
    /// `job = "read.toml"` as written; loaded with the write job.
    JobFile(PathBuf),
    Job(Box<Job>),
    /// `records = [...]`, sent `repeat` times: the JSON text of each.
    Inline {
        records: Vec<Vec<u8>>,
        repeat: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputFormat {
    Ndjson,
    Csv,
    Parquet,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Text(String),
    Json(Value),
    Form(Vec<(String, String)>),
}

/// `[fanout]`, validated: one pass of the job per value.
#[derive(Debug, Clone)]
pub(crate) struct Fanout {
    pub param: Option<String>,
    pub placement: FanoutIn,
    pub source: FanoutSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FanoutIn {
    Query,
    Header,
    Body,
    Url,
}

#[derive(Debug, Clone)]
pub(crate) enum FanoutSource {
    Values(Vec<String>),
    /// One value a line; read as the run goes.
    File(PathBuf),
    /// A nested read job whose records give the values; its columns are
    /// `value` (the `path`) and `parent` (the whole record).
    From(Box<Job>),
}

/// `[records]`, validated.
#[derive(Debug, Clone)]
pub(crate) struct Records {
    pub path: Option<JsonPath>,
    pub mode: RecordMode,
    pub missing_is_dirty: bool,
    pub bad_type_is_dirty: bool,
    pub max_dirty: u64,
    pub dirty_path: Option<PathBuf>,
    pub flatten: String,
    /// Pages sampled before inferred columns are fixed, for an output that
    /// cannot take new columns later (CSV, Parquet).
    pub infer_pages: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordMode {
    Auto,
    Many,
    One,
}

/// `[limits]`, validated.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub concurrency: u32,
    pub max_response: u64,
    /// Requests per second across the whole job, and the burst allowed.
    pub rate: Option<(f64, u32)>,
    pub bytes_per_second: Option<u64>,
    pub retry: RetryPolicy,
}

/// When and how a failed request is sent again.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub retry_on: Vec<u16>,
    pub max_retries: u32,
    pub initial: Duration,
    pub max: Duration,
    pub max_retry_wait: Duration,
}

/// `[output]`, validated.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub format: OutputFormat,
    /// Whether `format` was written out (job file or `--format`), rather
    /// than taken from the path's extension.
    pub format_given: bool,
    /// `None` is stdout.
    pub path: Option<PathBuf>,
    pub csv_delimiter: u8,
    pub csv_header: bool,
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub parquet_compression: String,
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub row_group_size: usize,
}

/// `output.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputFormat {
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values (RFC 4180), with a header line by default.
    Csv,
    /// Apache Parquet (cargo feature `parquet`).
    Parquet,
    /// Each response body as it came, one per line.
    Raw,
}

impl OutputFormat {
    /// Parses a format name as written in a job file or on the command line.
    pub fn parse(name: &str) -> Option<OutputFormat> {
        Some(match name {
            "ndjson" => OutputFormat::Ndjson,
            "csv" => OutputFormat::Csv,
            "parquet" => OutputFormat::Parquet,
            "raw" => OutputFormat::Raw,
            _ => return None,
        })
    }

    /// The format an output path's extension names, if it names one.
    pub fn from_extension(path: &FsPath) -> Option<OutputFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match extension.as_str() {
            "ndjson" | "jsonl" | "json" => OutputFormat::Ndjson,
            "csv" => OutputFormat::Csv,
            "parquet" => OutputFormat::Parquet,
            _ => return None,
        })
    }

    /// The format's name, as a job file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Ndjson => "ndjson",
            OutputFormat::Csv => "csv",
            OutputFormat::Parquet => "parquet",
            OutputFormat::Raw => "raw",
        }
    }
}

impl Job {
    /// Whether fan-out values go out concurrently: without pagination, each
    /// value is one request that depends on no other.
    pub(crate) fn values_concurrently(&self) -> bool {
        self.fanout.is_some() && self.paginate.kind == hydrant_paginate::Kind::None
    }

    /// Reads a job file: a `.toml` or `.json` hydrant job, or a job file of
    /// DataWorks, Data Factory or the YAML `rest_api` format.
    pub fn load(path: impl AsRef<FsPath>, vars: &Vars) -> Result<Job> {
        Job::load_picking(path, vars, &Pick::default())
    }

    /// [`Job::load`], with the part of another system's file to run when
    /// it holds several.
    pub fn load_picking(path: impl AsRef<FsPath>, vars: &Vars, pick: &Pick) -> Result<Job> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("cannot read job file `{}`: {e}", path.display()))
        })?;
        let name = path.display().to_string();
        let mut job = match crate::dialect::Dialect::detect(&text) {
            Some(dialect) => Job::from_dialect(dialect, &text, path, vars, pick)?,
            None => {
                let format = match path.extension().and_then(|e| e.to_str()) {
                    Some("json") => JobFormat::Json,
                    _ => JobFormat::Toml,
                };
                Job::parse(&text, format, &name, vars)?
            }
        };
        if let Some(dir) = path.parent() {
            job.resolve_relative_to(dir);
        }
        job.load_input_job(vars)?;
        Ok(job)
    }

    /// A job file of another system (see `dialect`), as the native job it
    /// means; what it could not carry over becomes the job's notices.
    fn from_dialect(
        dialect: crate::dialect::Dialect,
        text: &str,
        path: &FsPath,
        vars: &Vars,
        pick: &Pick,
    ) -> Result<Job> {
        let kind = dialect.name();
        let name = &path.display().to_string();
        let converted = dialect
            .convert(text, path, pick)
            .map_err(|e| Error::config(format!("{kind} job file `{name}`: {e}")))?;
        let native = serde_json::to_string(&converted.job)
            .map_err(|e| Error::config(format!("{kind} job file `{name}`: {e}")))?;
        let mut job = Job::parse(&native, JobFormat::Json, name, vars)
            .map_err(|e| e.prefixed(&format!("as converted from {kind}: ")))?;
        job.notices = converted
            .notes
            .iter()
            .map(|note| format!("{kind} job file `{name}`: {}", note.notice()))
            .collect();
        Ok(job)
    }

    /// The native TOML job that a job file of another system means, with a
    /// comment for each key it does not carry over.
    pub fn convert(path: impl AsRef<FsPath>, pick: &Pick) -> Result<String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("cannot read job file `{}`: {e}", path.display()))
        })?;
        let Some(dialect) = crate::dialect::Dialect::detect(&text) else {
            return Err(Error::config(format!(
                "job file `{}` is a hydrant job already: there is nothing to convert",
                path.display()
            )));
        };
        let kind = dialect.name();
        let failed = |e| Error::config(format!("{kind} job file `{}`: {e}", path.display()));
        dialect
            .convert(&text, path, pick)
            .and_then(|c| c.to_toml(dialect))
            .map_err(failed)
    }

    /// Parses job text. `name` is used in error messages.
    pub fn parse(text: &str, format: JobFormat, name: &str, vars: &Vars) -> Result<Job> {
        // First pass on the text as written, so that structural errors carry
        // the line; second pass on the interpolated values.
        let structural: std::result::Result<JobFile, String> = match format {
            JobFormat::Toml => toml::from_str(text).map_err(|e| e.to_string()),
            JobFormat::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        };
        if let Err(problem) = structural {
            return Err(Error::config(format!(
                "job file `{name}`: {}",
                problem.trim_end()
            )));
        }
        let mut tree: Value = match format {
            JobFormat::Toml => {
                let table: toml::Table = toml::from_str(text).map_err(|e| {
                    Error::config(format!("job file `{name}`: {}", e.to_string().trim_end()))
                })?;
                serde_json::to_value(table)
                    .map_err(|e| Error::config(format!("job file `{name}`: {e}")))?
            }
            JobFormat::Json => serde_json::from_str(text)
                .map_err(|e| Error::config(format!("job file `{name}`: {e}")))?,
        };
        let mut from_vars = Vec::new();
        interpolate(&mut tree, &mut String::new(), vars, &mut from_vars)
            .map_err(|e| Error::config(format!("job file `{name}`: {e}")))?;
        let fingerprint = sha2::Sha256::digest(extraction_text(&tree)).into();
        let file: JobFile = serde_json::from_value(tree)
            .map_err(|e| Error::config(format!("job file `{name}`: {e}")))?;
        let mut job =
            validate(file, name).map_err(|e| Error::config(format!("job file `{name}`: {e}")))?;
        job.fingerprint = fingerprint;
        job.mask_from_vars(&from_vars);
        Ok(job)
    }

    /// Headers and query parameters whose values came from `${VAR}` are
    /// treated as credentials: masked where shown, kept to the job's origin.
    fn mask_from_vars(&mut self, from_vars: &[String]) {
        let mask = |request: &mut Request, prefix: &str| {
            for (name, _, secret) in &mut request.headers {
                *secret |= from_vars
                    .iter()
                    .filter_map(|k| k.strip_prefix(prefix)?.strip_prefix("headers."))
                    .any(|k| k.eq_ignore_ascii_case(name));
            }
            for (name, _, secret) in &mut request.query {
                *secret |= from_vars.iter().any(|k| {
                    k.strip_prefix(prefix)
                        .and_then(|k| k.strip_prefix("query."))
                        .is_some_and(|k| k == name || k.starts_with(&format!("{name}[")))
                });
            }
        };
        if let Some(request) = &mut self.request {
            let prefix = if self.write.is_some() {
                "write."
            } else {
                "request."
            };
            mask(request, prefix);
        }
        if let Some(Fanout {
            source: FanoutSource::From(parent),
            ..
        }) = &mut self.fanout
            && let Some(request) = &mut parent.request
        {
            mask(request, "fanout.from.request.");
        }
    }

    /// Whether each request of the job waits on the answer before it: a
    /// read job whose paginator follows what a page names (a next link, a
    /// cursor, a `Link` header, rules that read the answer), unless fan-out
    /// values go out at once. Such a job is bound by the latency of its
    /// chain of requests rather than by how many are in flight; the CLI
    /// runs it on a current-thread runtime, and an embedder may too.
    pub fn is_followed(&self) -> bool {
        self.write.is_none()
            && !self.values_concurrently()
            && hydrant_paginate::Paginator::new(&self.paginate)
                .is_ok_and(|paginator| !paginator.is_counted())
    }

    /// Makes file paths of the job relative to the job file's folder.
    fn resolve_relative_to(&mut self, dir: &FsPath) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() && !dir.as_os_str().is_empty() {
                *p = dir.join(&*p);
            }
        };
        if let Some(request) = &mut self.request
            && let Some(ca) = &mut request.ca_file
        {
            fix(ca);
        }
        if let Some(Fanout {
            source: FanoutSource::File(file),
            ..
        }) = &mut self.fanout
        {
            fix(file);
        }
        // Files read are found beside the job file; files written
        // (output, dirty and reject files, state) go where the user runs it.
        if let Some(write) = &mut self.write {
            match &mut write.input {
                Input::File {
                    path: Some(path), ..
                }
                | Input::JobFile(path) => fix(path),
                _ => {}
            }
        }
    }

    /// Loads the read job named by `input.job`, with the same variables.
    fn load_input_job(&mut self, vars: &Vars) -> Result<()> {
        if let Some(write) = &mut self.write
            && let Input::JobFile(path) = &write.input
        {
            let job = Job::load(path, vars).map_err(|e| e.prefixed("input.job: "))?;
            if job.write.is_some() {
                return Err(Error::config(format!(
                    "job file `{}`: input.job: `{}` is a write job; it must be a read job",
                    self.name,
                    path.display()
                )));
            }
            write.input = Input::Job(Box::new(job));
        }
        Ok(())
    }

    /// Replaces `output.path` (`-` is stdout).
    ///
    /// Unless a format was given, the path's extension chooses it
    /// (`.csv`, `.parquet`; NDJSON otherwise).
    pub fn set_output_path(&mut self, path: &str) {
        self.output.path = output_path(path);
        if !self.output.format_given {
            self.output.format = self
                .output
                .path
                .as_deref()
                .and_then(OutputFormat::from_extension)
                .unwrap_or(OutputFormat::Ndjson);
        }
    }

    /// Replaces `output.format`.
    pub fn set_output_format(&mut self, format: OutputFormat) {
        self.output.format = format;
        self.output.format_given = true;
    }

    /// Checks that the files a run writes are distinct and the output is
    /// not a folder, before any request: a state file written over the
    /// output, or dirty records over it, would lose data.
    pub(crate) fn check_paths(&self) -> Result<()> {
        let output = self.output.path.as_deref();
        if let Some(path) = output
            && path.is_dir()
        {
            return Err(Error::config(format!(
                "output.path (or --output): `{}` is a folder; name a file in it",
                path.display()
            )));
        }
        let mut files: Vec<(&str, PathBuf)> = Vec::new();
        if let Some(path) = output {
            files.push(("output.path (or --output)", absolute(path)));
            files.push(("the output's .partial file", absolute(&partial_of(path))));
        }
        if let Some(state) = &self.state {
            files.push(("state.path", absolute(&state.path)));
        }
        if let Some(path) = &self.records.dirty_path {
            files.push(("records.dirty_path", absolute(path)));
        }
        if let Some(path) = self.write.as_ref().and_then(|w| w.reject_path.as_ref()) {
            files.push(("write.reject_path", absolute(path)));
        }
        for (i, (key, path)) in files.iter().enumerate() {
            if let Some((other, _)) = files[..i].iter().find(|(_, p)| p == path) {
                return Err(Error::config(format!(
                    "{key} and {other} are the same file `{}`: one would overwrite the other",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// A warning when the output's format was given and its path's
    /// extension names another one.
    pub fn output_format_mismatch(&self) -> Option<String> {
        let path = self.output.path.as_deref()?;
        let named = OutputFormat::from_extension(path)?;
        (self.output.format_given && named != self.output.format).then(|| {
            format!(
                "the output `{}` is written as {}, though its extension says {}",
                path.display(),
                self.output.format.as_str(),
                named.as_str()
            )
        })
    }

    /// Caps the number of requests (`paginate.max_requests`).
    pub fn set_max_requests(&mut self, max: u64) {
        self.paginate.max_requests = Some(max);
    }

    /// The name the job was loaded under (its file path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The output path, `None` for stdout.
    pub fn output_path(&self) -> Option<&FsPath> {
        self.output.path.as_deref()
    }

    /// The job's `[request] url`, placeholders unfilled.
    pub fn url(&self) -> Option<&str> {
        self.request.as_ref().map(|r| r.url.as_str())
    }

    /// Whether this is a write job (it has a `[write]` table).
    pub fn is_write(&self) -> bool {
        self.write.is_some()
    }
}

/// The job as JSON without what may change between a run and its resume
/// without changing the records: how fast and how patiently requests go,
/// how they are authenticated, where the checkpoint is.
/// A path made absolute without touching the file system (the file may
/// not exist yet), `.` and `..` folded.
fn absolute(path: &FsPath) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut folded = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                folded.pop();
            }
            std::path::Component::CurDir => {}
            other => folded.push(other),
        }
    }
    folded
}

fn partial_of(path: &FsPath) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    PathBuf::from(partial)
}

fn extraction_text(tree: &Value) -> Vec<u8> {
    let mut tree = tree.clone();
    if let Some(job) = tree.as_object_mut() {
        for key in ["limits", "auth", "state"] {
            job.shift_remove(key);
        }
        if let Some(request) = job.get_mut("request").and_then(Value::as_object_mut) {
            for key in [
                "timeout",
                "connect_timeout",
                "interval",
                "tls_verify",
                "ca_file",
            ] {
                request.shift_remove(key);
            }
        }
    }
    serde_json::to_vec(&tree).unwrap_or_default()
}

fn output_path(path: &str) -> Option<PathBuf> {
    (path != "-").then(|| PathBuf::from(path))
}

/// Replaces `${...}` in every string of the tree; `key` tracks where we are
/// so the error can name it.
/// Expands `${NAME}` in every string of the job; `from_vars` gets the
/// keys of the values that took a variable.
fn interpolate(
    value: &mut Value,
    key: &mut String,
    vars: &Vars,
    from_vars: &mut Vec<String>,
) -> std::result::Result<(), String> {
    match value {
        Value::String(s) => {
            if s.contains("${") {
                from_vars.push(key.clone());
            }
            *s = vars.expand(s).map_err(|e| format!("{key}: {e}"))?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = key.len();
                key.push_str(&format!("[{i}]"));
                interpolate(item, key, vars, from_vars)?;
                key.truncate(len);
            }
        }
        Value::Object(map) => {
            for (name, item) in map.iter_mut() {
                let len = key.len();
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
                interpolate(item, key, vars, from_vars)?;
                key.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn duration(
    key: &str,
    value: Option<&str>,
    default: Duration,
) -> std::result::Result<Duration, String> {
    match value {
        None => Ok(default),
        Some(text) => parse_duration(text).map_err(|e| format!("{key}: {e}")),
    }
}

fn size(key: &str, value: Option<&str>, default: u64) -> std::result::Result<u64, String> {
    match value {
        None => Ok(default),
        Some(text) => parse_size(text).map_err(|e| format!("{key}: {e}")),
    }
}

fn one_of<'a>(
    key: &str,
    value: Option<&'a str>,
    default: &'a str,
    allowed: &[&str],
) -> std::result::Result<&'a str, String> {
    let value = value.unwrap_or(default);
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{key}: `{value}` is not one of {}",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn header_value(key: &str, name: &str, value: &str) -> std::result::Result<(), String> {
    if value.contains(['\r', '\n']) {
        return Err(format!(
            "{key}.{name}: a header value must not contain CR or LF"
        ));
    }
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{key}: `{name}` is not a valid header name"));
    }
    Ok(())
}

fn check_url(key: &str, url: &str) -> std::result::Result<(), String> {
    // Placeholders are filled per request; check the shape with a stand-in.
    let probe = fill_placeholders_for_check(url);
    let parsed =
        url::Url::parse(&probe).map_err(|e| format!("{key}: `{url}` is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{key}: `{url}` must start with http:// or https://"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{key}: `{url}` has no host"));
    }
    Ok(())
}

fn fill_placeholders_for_check(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => {
                out.push('x');
                rest = &rest[open + close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

pub(crate) fn scalar_text(key: &str, value: &Value) -> std::result::Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("{key}: expected a string, number or boolean")),
    }
}

/// Whether a header or query parameter of this name carries a credential:
/// `Authorization`, `Proxy-Authorization`, `Cookie`, or a name holding
/// `token`, `key`, `secret`, `signature`, `password` or `auth` (any case).
/// Its value goes only to the job's origin and is masked wherever shown.
pub(crate) fn is_credential_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie"
    ) || ["token", "key", "secret", "signature", "password", "auth"]
        .iter()
        .any(|word| name.contains(word))
}

fn validate_request(file: &RequestFile, key: &str) -> std::result::Result<Request, String> {
    check_url(&format!("{key}.url"), &file.url)?;
    let method = match one_of(
        &format!("{key}.method"),
        file.method.as_deref(),
        "GET",
        &["GET", "POST"],
    )? {
        "POST" => Method::Post,
        _ => Method::Get,
    };
    let mut headers = Vec::with_capacity(file.headers.len());
    for (name, value) in &file.headers {
        header_value(&format!("{key}.headers"), name, value)?;
        headers.push((
            name.to_ascii_lowercase(),
            value.clone(),
            is_credential_name(name),
        ));
    }
    let mut query = Vec::new();
    for (name, value) in &file.query {
        let item_key = format!("{key}.query.{name}");
        let secret = is_credential_name(name);
        match value {
            Value::Array(items) => {
                for item in items {
                    query.push((name.clone(), scalar_text(&item_key, item)?, secret));
                }
            }
            other => query.push((name.clone(), scalar_text(&item_key, other)?, secret)),
        }
    }
    let body = match (&file.body, &file.form) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{key}.form: give either `body` or `form`, not both"
            ));
        }
        (Some(Value::String(text)), None) => Some(Body::Text(text.clone())),
        (Some(json), None) => Some(Body::Json(json.clone())),
        (None, Some(form)) => {
            let mut fields = Vec::with_capacity(form.len());
            for (name, value) in form {
                fields.push((
                    name.clone(),
                    scalar_text(&format!("{key}.form.{name}"), value)?,
                ));
            }
            Some(Body::Form(fields))
        }
        (None, None) => None,
    };
    if body.is_some() && method == Method::Get {
        return Err(format!(
            "{key}.method: a request with a body or form must use `POST`"
        ));
    }
    let tls_verify = file.tls_verify.unwrap_or(true);
    Ok(Request {
        url: file.url.clone(),
        method,
        headers,
        query,
        body,
        timeout: duration(
            &format!("{key}.timeout"),
            file.timeout.as_deref(),
            Duration::from_secs(100),
        )?,
        connect_timeout: duration(
            &format!("{key}.connect_timeout"),
            file.connect_timeout.as_deref(),
            Duration::from_secs(10),
        )?,
        interval: duration(
            &format!("{key}.interval"),
            file.interval.as_deref(),
            Duration::ZERO,
        )?,
        tls_verify,
        ca_file: file.ca_file.as_ref().map(PathBuf::from),
        allowed_hosts: file
            .allowed_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
    })
}

fn validate_records(file: &file::RecordsFile, key: &str) -> std::result::Result<Records, String> {
    let path = file
        .path
        .as_deref()
        .map(|p| JsonPath::parse(p).map_err(|e| format!("{key}.path: {e}")))
        .transpose()?;
    let mode = match one_of(
        &format!("{key}.mode"),
        file.mode.as_deref(),
        "auto",
        &["auto", "many", "one"],
    )? {
        "many" => RecordMode::Many,
        "one" => RecordMode::One,
        _ => RecordMode::Auto,
    };
    let on_missing = one_of(
        &format!("{key}.on_missing"),
        file.on_missing.as_deref(),
        "null",
        &["null", "dirty"],
    )?;
    let on_bad_type = one_of(
        &format!("{key}.on_bad_type"),
        file.on_bad_type.as_deref(),
        "dirty",
        &["dirty", "null"],
    )?;
    let flatten = file.flatten.clone().unwrap_or_else(|| "_".to_owned());
    let infer_pages = match file.infer_pages {
        Some(0) => return Err(format!("{key}.infer_pages: must be at least 1")),
        pages => pages.unwrap_or(1),
    };
    Ok(Records {
        infer_pages,
        path,
        mode,
        missing_is_dirty: on_missing == "dirty",
        bad_type_is_dirty: on_bad_type == "dirty",
        max_dirty: file.max_dirty.unwrap_or(0),
        dirty_path: file.dirty_path.as_ref().map(PathBuf::from),
        flatten,
    })
}

fn validate_columns(columns: &[file::ColumnFile]) -> std::result::Result<Vec<ColumnSpec>, String> {
    let mut specs = Vec::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        let key = format!("columns[{i}] ({})", column.name);
        if column.name.is_empty() {
            return Err(format!("columns[{i}].name: must not be empty"));
        }
        if specs.iter().any(|s: &ColumnSpec| s.name == column.name) {
            return Err(format!("{key}.name: `{}` is declared twice", column.name));
        }
        let kind = match &column.kind {
            None => ColumnType::String,
            Some(name) => ColumnType::parse(name).ok_or_else(|| {
                format!(
                    "{key}.type: `{name}` is not one of string, int, long, float, double, boolean, date, timestamp, binary, json"
                )
            })?,
        };
        if column.format.is_some() && !matches!(kind, ColumnType::Date | ColumnType::Timestamp) {
            return Err(format!(
                "{key}.format: applies only to `date` and `timestamp` columns"
            ));
        }
        if column.value.is_some() && column.path.is_some() {
            return Err(format!(
                "{key}.value: give either `path` or `value`, not both"
            ));
        }
        let path = match (&column.value, &column.path) {
            (Some(_), _) => None,
            (None, Some(p)) => Some(JsonPath::parse(p).map_err(|e| format!("{key}.path: {e}"))?),
            (None, None) => {
                Some(default_path(&column.name).map_err(|e| format!("{key}.name: {e}"))?)
            }
        };
        specs.push(ColumnSpec {
            name: column.name.clone(),
            path,
            kind,
            format: column.format.clone(),
            value: column.value.clone(),
        });
    }
    Ok(specs)
}

/// A column without `path` or `value` reads its name as a dotted path:
/// `user.id` is the member `id` of `user`. A name that starts with `$` is
/// the key of that name (`$type`), not a JSONPath.
fn default_path(name: &str) -> std::result::Result<JsonPath, String> {
    if name.starts_with('$') {
        return Ok(JsonPath::member(name));
    }
    JsonPath::parse(name).map_err(|e| {
        format!("{e}; without `path` the name is read as a dotted path (give `path`, e.g. `$['{name}']` for a key with dots)")
    })
}

fn validate(file: JobFile, name: &str) -> std::result::Result<Job, String> {
    let request = match (&file.request, &file.write) {
        (Some(_), Some(_)) => {
            return Err(
                "a job has either `[request]` (read) or `[write]` (write), not both".into(),
            );
        }
        (None, None) => {
            return Err("missing table `[request]` (or `[write]` for a write job)".into());
        }
        (Some(request), None) => validate_request(request, "request")?,
        (None, Some(write)) => write_request(write)?,
    };
    file.auth.validate().map_err(|e| e.to_string())?;
    for (header, value) in &file.auth.headers {
        use secrecy::ExposeSecret;
        header_value("auth.headers", header, value.expose_secret())?;
    }
    file.paginate.validate().map_err(|e| e.to_string())?;
    check_paginator(&file.paginate, "")?;
    let records = validate_records(&file.records, "records")?;
    let columns = file.columns.as_deref().map(validate_columns).transpose()?;
    let limits = &file.limits;
    if limits.concurrency == Some(0) {
        return Err("limits.concurrency: must be at least 1".into());
    }
    if let Some(rate) = limits.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err("limits.rate: must be a positive number of requests per second".into());
    }
    if limits.burst == Some(0) {
        return Err("limits.burst: must be at least 1".into());
    }
    let bytes_per_second = match &limits.bytes_per_second {
        Some(bps) => match size("limits.bytes_per_second", Some(bps), 0)? {
            0 => return Err("limits.bytes_per_second: must be more than 0".into()),
            bps => Some(bps),
        },
        None => None,
    };
    let backoff = limits.backoff.clone().unwrap_or_default();
    let initial = duration(
        "limits.backoff.initial",
        backoff.initial.as_deref(),
        Duration::from_millis(500),
    )?;
    let max = duration(
        "limits.backoff.max",
        backoff.max.as_deref(),
        Duration::from_secs(60),
    )?;
    if max < initial {
        return Err("limits.backoff.max: must not be less than limits.backoff.initial".into());
    }
    let max_retry_wait = duration(
        "limits.max_retry_wait",
        limits.max_retry_wait.as_deref(),
        Duration::from_secs(300),
    )?;
    for status in limits.retry_on.iter().flatten() {
        if !(100..=599).contains(status) {
            return Err(format!("limits.retry_on: `{status}` is not an HTTP status"));
        }
    }
    let max_response = size(
        "limits.max_response",
        limits.max_response.as_deref(),
        256 << 20,
    )?;
    let output = validate_output(&file.output)?;
    let write = match &file.write {
        Some(write) => Some(Box::new(validate_write(write, file.input.as_ref())?)),
        None if file.input.is_some() => {
            return Err("`[input]` belongs to a write job, which needs a `[write]` table".into());
        }
        None => None,
    };
    if output.format == OutputFormat::Parquet && file.state.is_some() {
        return Err(
            "state: a Parquet output cannot be checkpointed (its footer comes last); use ndjson or csv for a resumable run"
                .into(),
        );
    }
    let limits = Limits {
        concurrency: limits.concurrency.unwrap_or(4),
        max_response,
        rate: limits.rate.map(|rate| (rate, limits.burst.unwrap_or(1))),
        bytes_per_second,
        retry: RetryPolicy {
            retry_on: limits
                .retry_on
                .clone()
                .unwrap_or_else(|| vec![408, 429, 500, 502, 503, 504]),
            max_retries: limits.max_retries.unwrap_or(5),
            initial,
            max,
            max_retry_wait,
        },
    };
    let fanout = file
        .fanout
        .as_ref()
        .map(|f| validate_fanout(f, &file.auth, &limits))
        .transpose()?;
    check_body_members(
        &request,
        "request",
        &[
            ("paginate.in", file.paginate.sets_body()),
            (
                "fanout.in",
                fanout
                    .as_ref()
                    .is_some_and(|f| f.placement == FanoutIn::Body),
            ),
            ("auth.in", auth_sets_body(&file.auth)),
        ],
    )?;
    Ok(Job {
        name: name.to_owned(),
        notices: Vec::new(),
        request: Some(request),
        auth: file.auth,
        paginate: file.paginate,
        records,
        columns,
        limits,
        output,
        state: file
            .state
            .map(|s| -> std::result::Result<State, String> {
                Ok(State {
                    path: PathBuf::from(s.path),
                    every: duration("state.every", s.every.as_deref(), Duration::from_secs(1))?,
                })
            })
            .transpose()?,
        fanout,
        write,
        fingerprint: [0; 32],
    })
}

/// Whether the auth puts a credential in the body (an API key `in = "body"`).
fn auth_sets_body(auth: &hydrant_auth::Config) -> bool {
    auth.kind == hydrant_auth::Kind::ApiKey && auth.placement == Some(hydrant_auth::Placement::Body)
}

/// A value placed `in = "body"` needs a request with a body: a POST whose
/// body, if any, is a JSON object or a form. `placed` names the keys that
/// place one, and whether they do.
fn check_body_members(
    request: &Request,
    key: &str,
    placed: &[(&str, bool)],
) -> std::result::Result<(), String> {
    let Some((placer, _)) = placed.iter().find(|(_, placed)| *placed) else {
        return Ok(());
    };
    if request.method == Method::Get {
        return Err(format!(
            "{placer}: `body` needs `{key}.method = \"POST\"`; a GET request has no body"
        ));
    }
    if let Some(Body::Text(text)) = &request.body
        && !matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)))
    {
        return Err(format!(
            "{placer}: `body` sets a member of `{key}.body`, which is a string but not a JSON object"
        ));
    }
    Ok(())
}

/// Builds the paginator once, so that ADF rules and the paths it watches are
/// checked with the other keys, before any request.
fn check_paginator(
    config: &hydrant_paginate::Config,
    prefix: &str,
) -> std::result::Result<(), String> {
    let paginator = hydrant_paginate::Paginator::new(config).map_err(|e| format!("{prefix}{e}"))?;
    for path in paginator.watched_paths() {
        JsonPath::parse(path).map_err(|e| format!("{prefix}paginate: {e}"))?;
    }
    Ok(())
}

fn validate_fanout(
    fanout: &file::FanoutFile,
    parent_auth: &hydrant_auth::Config,
    limits: &Limits,
) -> std::result::Result<Fanout, String> {
    let placement = match one_of(
        "fanout.in",
        fanout.placement.as_deref(),
        "query",
        &["query", "header", "body", "url"],
    )? {
        "header" => FanoutIn::Header,
        "body" => FanoutIn::Body,
        "url" => FanoutIn::Url,
        _ => FanoutIn::Query,
    };
    if fanout.param.is_none() && placement != FanoutIn::Url {
        return Err("fanout.param: is required when fanout.in is not `url`".to_owned());
    }
    let source = match (&fanout.values, &fanout.values_file, &fanout.from) {
        (Some(values), None, None) => FanoutSource::Values(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| scalar_text(&format!("fanout.values[{i}]"), v))
                .collect::<std::result::Result<_, _>>()?,
        ),
        (None, Some(file), None) => FanoutSource::File(PathBuf::from(file)),
        (None, None, Some(from)) => {
            let request = validate_request(&from.request, "fanout.from.request")?;
            let auth = from.auth.clone().unwrap_or_else(|| parent_auth.clone());
            auth.validate().map_err(|e| format!("fanout.from.{e}"))?;
            from.paginate
                .validate()
                .map_err(|e| format!("fanout.from.{e}"))?;
            check_body_members(
                &request,
                "fanout.from.request",
                &[
                    ("fanout.from.paginate.in", from.paginate.sets_body()),
                    ("fanout.from.auth.in", auth_sets_body(&auth)),
                ],
            )?;
            let records = validate_records(&from.records, "fanout.from.records")?;
            let path = JsonPath::parse(&from.path).map_err(|e| format!("fanout.from.path: {e}"))?;
            let columns = vec![
                ColumnSpec {
                    name: "value".to_owned(),
                    path: Some(path),
                    kind: ColumnType::String,
                    format: None,
                    value: None,
                },
                ColumnSpec {
                    name: "parent".to_owned(),
                    path: Some(JsonPath::from_segments("$".to_owned(), Vec::new())),
                    kind: ColumnType::Json,
                    format: None,
                    value: None,
                },
            ];
            FanoutSource::From(Box::new(Job {
                notices: Vec::new(),
                name: "[fanout.from]".to_owned(),
                request: Some(request),
                auth,
                paginate: from.paginate.clone(),
                records,
                columns: Some(columns),
                limits: limits.clone(),
                output: Output {
                    format: OutputFormat::Ndjson,
                    format_given: true,
                    path: None,
                    csv_delimiter: b',',
                    csv_header: false,
                    parquet_compression: String::new(),
                    row_group_size: 1,
                },
                state: None,
                fanout: None,
                write: None,
                fingerprint: [0; 32],
            }))
        }
        _ => {
            return Err(
                "fanout: needs exactly one of `values`, `values_file` or `[fanout.from]`".into(),
            );
        }
    };
    Ok(Fanout {
        param: fanout.param.clone(),
        placement,
        source,
    })
}

fn validate_output(file: &file::OutputFile) -> std::result::Result<Output, String> {
    let format =
        OutputFormat::parse(file.format.as_deref().unwrap_or("ndjson")).ok_or_else(|| {
            format!(
                "output.format: `{}` is not one of `ndjson`, `csv`, `parquet`, `raw`",
                file.format.as_deref().unwrap_or_default()
            )
        })?;
    let csv = file.csv.clone().unwrap_or_default();
    let delimiter = csv.delimiter.as_deref().unwrap_or(",");
    if delimiter.len() != 1 || matches!(delimiter, "\"" | "\r" | "\n") {
        return Err(format!(
            "output.csv.delimiter: `{delimiter}` must be a single ASCII character other than a quote or line break"
        ));
    }
    let parquet = file.parquet.clone().unwrap_or_default();
    let compression = one_of(
        "output.parquet.compression",
        parquet.compression.as_deref(),
        "zstd",
        &["zstd", "snappy", "gzip", "lz4", "none"],
    )?;
    let row_group_size = match parquet.row_group_size {
        Some(0) => return Err("output.parquet.row_group_size: must be at least 1".into()),
        Some(size) => {
            usize::try_from(size).map_err(|_| "output.parquet.row_group_size: too large")?
        }
        None => 65536,
    };
    let path = output_path(file.path.as_deref().unwrap_or("-"));
    let format = match (
        &file.format,
        path.as_deref().and_then(OutputFormat::from_extension),
    ) {
        (None, Some(named)) => named,
        _ => format,
    };
    Ok(Output {
        format,
        format_given: file.format.is_some(),
        path,
        csv_delimiter: delimiter.as_bytes()[0],
        csv_header: csv.header.unwrap_or(true),
        parquet_compression: compression.to_owned(),
        row_group_size,
    })
}

/// The request part of `[write]`: URL, method, headers and timeouts, as
/// `[request]` would give them.
fn write_request(write: &file::WriteFile) -> std::result::Result<Request, String> {
    let method = match one_of(
        "write.method",
        write.method.as_deref(),
        "POST",
        &["POST", "PUT", "PATCH"],
    )? {
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        _ => Method::Post,
    };
    let as_request = RequestFile {
        url: write.url.clone(),
        headers: write.headers.clone(),
        timeout: write.timeout.clone(),
        connect_timeout: write.connect_timeout.clone(),
        interval: write.interval.clone(),
        tls_verify: write.tls_verify,
        ca_file: write.ca_file.clone(),
        ..RequestFile::default()
    };
    let mut request = validate_request(&as_request, "write")?;
    request.method = method;
    Ok(request)
}

fn validate_write(
    write: &file::WriteFile,
    input: Option<&file::InputFile>,
) -> std::result::Result<Write, String> {
    let single = one_of(
        "write.mode",
        write.mode.as_deref(),
        "batch",
        &["batch", "single"],
    )? == "single";
    let gzip = one_of(
        "write.compression",
        write.compression.as_deref(),
        "none",
        &["none", "gzip"],
    )? == "gzip";
    let batch_size = match write.batch_size {
        Some(0) => return Err("write.batch_size: must be at least 1".into()),
        Some(size) if single && size != 1 => {
            return Err("write.batch_size: `mode = \"single\"` sends one record per request; leave batch_size out".into());
        }
        Some(size) => usize::try_from(size).map_err(|_| "write.batch_size: too large")?,
        None if single => 1,
        None => 100,
    };
    if write.url.contains('{') && !single {
        return Err(
            "write.url: `{name}` placeholders are filled from each record, so they need `mode = \"single\"`"
                .into(),
        );
    }
    if let Some(path) = &write.data_path
        && (path.is_empty() || path.split('.').any(str::is_empty))
    {
        return Err(format!(
            "write.data_path: `{path}` is not a dotted member name"
        ));
    }
    if let Some(header) = &write.idempotency_header
        && http::HeaderName::from_bytes(header.as_bytes()).is_err()
    {
        return Err(format!(
            "write.idempotency_header: `{header}` is not a valid header name"
        ));
    }
    let columns = write
        .columns
        .as_ref()
        .map(|columns| {
            columns
                .iter()
                .enumerate()
                .map(|(i, column)| write_column(i, column))
                .collect::<std::result::Result<Vec<_>, String>>()
        })
        .transpose()?;
    if let Some(columns) = &columns {
        check_write_names(columns)?;
    }
    let input = input.ok_or("a write job needs an `[input]` table")?;
    if input.repeat.is_some() && input.records.is_none() {
        return Err("input.repeat: only used with `input.records`".into());
    }
    let input = match (&input.path, &input.job) {
        (None, None) if input.records.is_some() => {
            let records = input.records.as_deref().unwrap_or_default();
            if records.iter().any(|r| !r.is_object()) {
                return Err("input.records: each record must be a table".into());
            }
            Input::Inline {
                records: records.iter().map(|r| r.to_string().into_bytes()).collect(),
                repeat: input.repeat.unwrap_or(1),
            }
        }
        _ if input.records.is_some() => {
            return Err("input: `records` is not used with `path` or `job`".into());
        }
        (Some(path), None) => {
            let format = match input.format.as_deref() {
                Some(format) => format,
                None => match FsPath::new(path).extension().and_then(|e| e.to_str()) {
                    Some("csv") => "csv",
                    Some("parquet") => "parquet",
                    _ => "ndjson",
                },
            };
            let format = match one_of(
                "input.format",
                Some(format),
                "",
                &["ndjson", "csv", "parquet"],
            )? {
                "csv" => InputFormat::Csv,
                "parquet" => InputFormat::Parquet,
                _ => InputFormat::Ndjson,
            };
            if format == InputFormat::Parquet && path == "-" {
                return Err("input.path: Parquet cannot be read from stdin; give a file".into());
            }
            Input::File {
                path: (path != "-").then(|| PathBuf::from(path)),
                format,
            }
        }
        (None, Some(job)) => {
            if input.format.is_some() {
                return Err("input.format: not used with `input.job`".into());
            }
            Input::JobFile(PathBuf::from(job))
        }
        _ => return Err("input: needs exactly one of `path`, `job` or `records`".into()),
    };
    Ok(Write {
        input,
        batch_size,
        single,
        data_path: write.data_path.clone(),
        gzip,
        reject_path: write.reject_path.as_ref().map(PathBuf::from),
        max_rejects: write.max_rejects.unwrap_or(0),
        idempotency_header: write
            .idempotency_header
            .as_ref()
            .map(|h| h.to_ascii_lowercase()),
        columns,
    })
}

/// A `[[write.columns]]` entry: `from` is an input column, or a path into
/// the record when it starts with `$`; without `type` the value passes
/// unchanged.
fn write_column(
    i: usize,
    column: &file::WriteColumnFile,
) -> std::result::Result<ColumnSpec, String> {
    let key = format!("write.columns[{i}]");
    if column.name.is_empty() || column.name.split('.').any(str::is_empty) {
        return Err(format!(
            "{key}.name: `{}` is not a dotted member name",
            column.name
        ));
    }
    let path = if column.from.starts_with('$') {
        JsonPath::parse(&column.from).map_err(|e| format!("{key}.from: {e}"))?
    } else {
        JsonPath::from_segments(
            column.from.clone(),
            vec![crate::json::path::Segment::Key(column.from.clone())],
        )
    };
    let kind = match &column.kind {
        None => ColumnType::Json,
        Some(kind) => ColumnType::parse(kind)
            .ok_or_else(|| format!("{key}.type: `{kind}` is not a column type"))?,
    };
    Ok(ColumnSpec {
        name: column.name.clone(),
        path: Some(path),
        kind,
        format: None,
        value: None,
    })
}

/// Refuses two columns writing the same member, or one inside another's
/// value (`user` and `user.id`).
fn check_write_names(columns: &[ColumnSpec]) -> std::result::Result<(), String> {
    for (i, a) in columns.iter().enumerate() {
        for b in &columns[i + 1..] {
            let nested = |outer: &str, inner: &str| {
                inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('.'))
            };
            if a.name == b.name || nested(&a.name, &b.name) || nested(&b.name, &a.name) {
                return Err(format!(
                    "write.columns: `{}` and `{}` write the same member",
                    a.name, b.name
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Job> {
        Job::parse(
            text,
            JobFormat::Toml,
            "job.toml",
            &Vars::isolated([("TOKEN".to_owned(), "t0k".to_owned())]),
        )
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        let err = parse("[request]\nurl = \"https://a.example/x\"\nurll = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(err.is_config());
        assert!(text.contains("job.toml"), "{text}");
        assert!(text.contains("unknown field `urll`"), "{text}");
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn wrong_type_and_missing_key() {
        let err =
            parse("[request]\nurl = \"https://a.example/x\"\n[limits]\nconcurrency = \"four\"\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("line 4") && err.contains("concurrency"),
            "{err}"
        );
        let err = parse("[request]\nmethod = \"GET\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `url`"), "{err}");
    }

    #[test]
    fn variables_are_interpolated_and_unset_ones_named() {
        let job =
            parse("[request]\nurl = \"https://a.example/x\"\nheaders = { t = \"${TOKEN}\" }\n")
                .unwrap();
        // A value from a variable is treated as a credential.
        assert_eq!(
            job.request.unwrap().headers,
            vec![("t".to_owned(), "t0k".to_owned(), true)]
        );
        let err = parse("[request]\nurl = \"https://${HOST}/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("request.url") && err.contains("`HOST` is not set"),
            "{err}"
        );
    }

    #[test]
    fn header_with_line_break_is_refused() {
        let err = parse(
            "[request]\nurl = \"https://a.example/x\"\nheaders = { x = \"a\\r\\nInjected: 1\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("request.headers.x") && err.contains("CR or LF"),
            "{err}"
        );
    }

    #[test]
    fn defaults_follow_the_spec() {
        let job = parse("[request]\nurl = \"https://a.example/x\"\n").unwrap();
        let request = job.request.unwrap();
        assert_eq!(request.timeout, Duration::from_secs(100));
        assert_eq!(request.connect_timeout, Duration::from_secs(10));
        assert!(request.tls_verify);
        assert_eq!(job.limits.max_response, 256 << 20);
        assert_eq!(job.output.format, OutputFormat::Ndjson);
        assert!(job.output.path.is_none());
        assert_eq!(job.records.max_dirty, 0);
        assert!(job.records.bad_type_is_dirty && !job.records.missing_is_dirty);
    }

    #[test]
    fn every_table_of_the_spec_parses() {
        let text = r#"
[request]
url = "https://api.example.com/v1/{value}/items"
method = "POST"
headers = { "X-Trace" = "1" }
query = { tag = ["a", "b"], n = 5, flag = true }
body = { filter = { active = true } }
timeout = "30s"
connect_timeout = "2s"
interval = "250ms"
tls_verify = true
allowed_hosts = ["cdn.example.com"]
[auth]
type = "oauth2"
token_url = "https://login.example.com/token"
client_id = "id"
client_secret = "${TOKEN}"
scope = "read"
params = { audience = "x" }
params_in = "body"
[auth.headers]
X-Secret = "s"
[paginate]
type = "offset"
limit = 50
max_requests = 10
[[paginate.stop]]
path = "$.data"
is = "empty"
[fanout]
param = "city"
in = "url"
values = ["oslo", "rome"]
[records]
path = "data.items"
on_missing = "dirty"
max_dirty = 3
[[columns]]
name = "id"
type = "long"
[[columns]]
name = "city"
value = "{value}"
[limits]
concurrency = 8
rate = 2.5
burst = 2
bytes_per_second = "10MB"
retry_on = [429, 503]
max_retries = 3
backoff = { initial = "100ms", max = "10s" }
max_retry_wait = "1m"
max_response = "64MiB"
[output]
format = "csv"
path = "out.csv"
csv = { delimiter = ";", header = false }
parquet = { compression = "snappy", row_group_size = 1000 }
[state]
path = "state/job.json"
"#;
        let job = parse(text).unwrap();
        let request = job.request.unwrap();
        assert_eq!(request.query.len(), 4);
        assert_eq!(job.output.csv_delimiter, b';');
        assert!(job.fanout.is_some());
    }

    #[test]
    fn jobs_whose_requests_wait_on_the_answer_before_are_followed() {
        let read = |paginate: &str, fanout: &str| {
            parse(&format!(
                "[request]\nurl = \"https://a.example/x\"\n{paginate}\n{fanout}\n\
                 [[columns]]\nname = \"id\"\n"
            ))
            .unwrap()
            .is_followed()
        };
        let fanout = "[fanout]\nparam = \"city\"\nvalues = [\"oslo\", \"rome\"]";
        for followed in [
            "type = \"next_link\"\nfrom = \"$.next\"",
            "type = \"cursor\"\nfrom = \"$.cursor\"\nparam = \"cursor\"",
            "type = \"link_header\"",
        ] {
            let paginate = format!("[paginate]\n{followed}");
            assert!(read(&paginate, ""), "{followed}");
            assert!(read(&paginate, fanout), "{followed} with fan-out");
        }
        for counted in ["type = \"offset\"", "type = \"page\""] {
            assert!(!read(&format!("[paginate]\n{counted}"), ""), "{counted}");
        }
        // Without pagination, fan-out values go out at once.
        assert!(!read("", fanout));
        let write = parse(
            "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"https://a.example/x\"\n\
             [[write.columns]]\nname = \"id\"\nfrom = \"id\"\n",
        )
        .unwrap();
        assert!(!write.is_followed());
    }

    #[test]
    fn write_job_parses() {
        let text = r#"
[input]
path = "customers.ndjson"
[write]
url = "https://api.example.com/v1/customers"
method = "PUT"
mode = "batch"
batch_size = 10
data_path = "data"
compression = "gzip"
reject_path = "rejects.ndjson"
max_rejects = 2
[[write.columns]]
name = "user.id"
from = "user_id"
type = "long"
"#;
        let job = parse(text).unwrap();
        assert!(job.is_write());
        let request = job.request.as_ref().unwrap();
        assert_eq!(request.method, Method::Put);
        let write = job.write.as_deref().unwrap();
        assert_eq!(
            (
                write.batch_size,
                write.single,
                write.gzip,
                write.max_rejects
            ),
            (10, false, true, 2)
        );
        assert!(matches!(
            &write.input,
            Input::File { path: Some(p), format: InputFormat::Ndjson } if p.ends_with("customers.ndjson")
        ));
        let column = &write.columns.as_ref().unwrap()[0];
        assert_eq!(
            (column.name.as_str(), column.kind),
            ("user.id", ColumnType::Long)
        );
        let err = parse(
            "[write]\nurl = \"https://a.example/x\"\nmethod = \"DELETE\"\n[input]\npath = \"-\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("write.method"), "{err}");
    }

    #[test]
    fn json_job_files_are_accepted() {
        let job = Job::parse(
            r#"{"request": {"url": "https://a.example/x"}, "output": {"format": "csv"}}"#,
            JobFormat::Json,
            "job.json",
            &Vars::isolated([]),
        )
        .unwrap();
        assert_eq!(job.output.format, OutputFormat::Csv);
        let err = Job::parse(
            r#"{"request": {"url": "https://a.example/x", "x": 1}}"#,
            JobFormat::Json,
            "job.json",
            &Vars::isolated([]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("unknown field `x`") && err.contains("line 1"),
            "{err}"
        );
    }
}
