//! The job model: a job file parsed, interpolated and validated once.

pub(crate) mod columns;
mod file;
pub(crate) mod incremental;
pub(crate) mod units;
mod validate;
pub(crate) mod vars;

pub use crate::dialect::Pick;
pub use columns::{ColumnSpec, ColumnType};
pub use validate::is_credential_name;
pub(crate) use validate::scalar_text;
use validate::*;

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::job::units::{parse_duration, parse_size};
use crate::job::vars::Vars;
use crate::json::path::JsonPath;
use file::{JobFile, RequestFile};

/// A JSON Schema (draft 2020-12) of the native TOML job file, made from
/// the same structs the job file is read into, so it cannot drift from
/// what `hydrant` accepts. Editors use it for completion and validation.
#[cfg(feature = "schema")]
pub fn job_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(JobFile);
    // TOML has no null: an optional key is one left out.
    without_null(schema.as_object_mut().expect("a schema is an object"));
    schema.insert("title".into(), "hydrant job file".into());
    schema.insert(
        "description".into(),
        "A hydrant job: what to fetch and where to write it. Reference: docs/reference/job-file.md"
            .into(),
    );
    schema.to_value()
}

/// Removes the `null` that schemars allows for an `Option`: `anyOf: [X,
/// null]` becomes X, and `type: [T, "null"]` becomes T.
#[cfg(feature = "schema")]
fn without_null(node: &mut serde_json::Map<String, Value>) {
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    if let Some(Value::Array(any)) = node.get("anyOf")
        && any.len() == 2
        && let Some(at) = any.iter().position(is_null)
    {
        let Some(Value::Object(other)) = any.get(1 - at).cloned() else {
            return;
        };
        node.remove("anyOf");
        node.extend(other);
    }
    if let Some(Value::Array(types)) = node.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            node.insert("type".into(), only);
        }
    }
    for value in node.values_mut() {
        match value {
            Value::Object(child) => without_null(child),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(child) = item {
                        without_null(child);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The first value and the step of a counted plan: range values, offsets
/// (by `limit`) or page numbers.
pub(crate) fn counted(paginate: &hydrant_paginate::Config) -> Option<(i64, i64)> {
    match paginate.kind {
        hydrant_paginate::Kind::Range => {
            Some((paginate.start.unwrap_or(0), paginate.step.unwrap_or(1)))
        }
        hydrant_paginate::Kind::Offset => Some((
            paginate.start.unwrap_or(0),
            i64::try_from(paginate.limit.unwrap_or(100)).ok()?,
        )),
        hydrant_paginate::Kind::Page => Some((paginate.start.unwrap_or(1), 1)),
        _ => None,
    }
}

/// The number of requests of a counted plan with a known end.
pub(crate) fn known_requests(paginate: &hydrant_paginate::Config) -> Option<u64> {
    let (start, step) = counted(paginate)?;
    match (paginate.kind, paginate.end, paginate.max_requests) {
        (hydrant_paginate::Kind::Range, Some(end), cap) if step > 0 && end >= start => {
            let all = u64::try_from((end - start) / step + 1).ok()?;
            Some(cap.map_or(all, |cap| all.min(cap)))
        }
        (hydrant_paginate::Kind::Offset | hydrant_paginate::Kind::Page, _, Some(cap)) => Some(cap),
        _ => None,
    }
}

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
    /// The job file it was loaded from, which a run must not write over.
    pub(crate) file: Option<PathBuf>,
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
    /// `[incremental]`: the bookmark kept in the state file.
    pub(crate) incremental: Option<incremental::Incremental>,
    /// `[write]` and `[input]` of a write job; `request` then holds the
    /// write URL, method, headers and timeouts.
    pub(crate) write: Option<Box<Write>>,
    /// SHA-256 of what the job extracts (see [`extraction_text`]), so that a
    /// checkpoint is only taken up by the job that made it.
    pub(crate) fingerprint: [u8; 32],
    /// Read `[state]` but never write it: a partition runs beside others
    /// of its job, so it keeps no checkpoint and moves no bookmark.
    pub(crate) state_read_only: bool,
    /// The inferred columns a partition starts from: the whole job's, so
    /// that every part has them rather than those of its own first page.
    pub(crate) seed_columns: Option<Vec<ColumnSpec>>,
    /// Those of [`Job::seed_columns`] that had held only nulls and empty
    /// objects: places an object's fields may take, as in the whole job.
    pub(crate) seed_null_only: Vec<String>,
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
    /// Query parameters written into `url` itself whose values are
    /// credentials (by their name, or given by a variable): name and value.
    pub url_secrets: Vec<(String, String)>,
    /// Values of the variables named as credentials (`${API_TOKEN}`),
    /// wherever the job puts them (a URL's path, a body): redacted by
    /// value in all that is shown.
    pub var_secrets: Vec<String>,
    pub body: Option<Body>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub interval: Duration,
    pub tls_verify: bool,
    pub ca_file: Option<PathBuf>,
    pub allowed_hosts: Vec<String>,
}

impl Request {
    /// Whether `text` (a placeholder) is in the URL, a header's or a
    /// query parameter's value, or the body.
    pub(crate) fn mentions(&self, text: &str) -> bool {
        let body = match &self.body {
            None => false,
            Some(Body::Text(body)) => body.contains(text),
            Some(Body::Json(body)) => body.to_string().contains(text),
            Some(Body::Form(fields)) => fields.iter().any(|(_, value)| value.contains(text)),
        };
        self.url.contains(text)
            || body
            || (self.headers.iter()).any(|(_, value, _)| value.contains(text))
            || (self.query.iter()).any(|(_, value, _)| value.contains(text))
    }

    /// The names of the query parameters that carry the job's own
    /// credentials: of `query`, and of `url` itself.
    pub(crate) fn credential_params(&self) -> impl Iterator<Item = &str> {
        let table = self.query.iter().filter(|(_, _, secret)| *secret);
        (table.map(|(name, _, _)| name.as_str()))
            .chain(self.url_secrets.iter().map(|(name, _)| name.as_str()))
    }
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
    /// Whether a 2xx answer's JSON is read for failures (`"ok": false`,
    /// `errors`, a result a record); an HTML page is refused either way.
    pub check_answer: bool,
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
    /// The values of one partition, each with its placeholders
    /// (`{value}`, `{parent.FIELD}`), taken when the partitions were made.
    Given(std::sync::Arc<Vec<std::collections::BTreeMap<String, String>>>),
}

/// `[records]`, validated.
#[derive(Debug, Clone)]
pub(crate) struct Records {
    /// Whether a response body is NDJSON, a record a line
    /// (`format = "ndjson"`), read as the array of its lines.
    pub lines: bool,
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
    /// Whether the job pages: a page that is one object where its
    /// records are the page itself is then no record when it says its
    /// request failed.
    pub paged: bool,
    /// `non_finite = "null"`: an answer's `NaN` and `Infinity`, which are
    /// not JSON, are read as null.
    pub non_finite_null: bool,
    /// Where the records' parents are, for `parent_path` columns.
    pub parent: Option<Box<Parents>>,
}

/// `records.path` split at the array above the records: each element of
/// `parents` is the parent of the records `under` selects in it.
#[derive(Debug, Clone)]
pub(crate) struct Parents {
    pub parents: JsonPath,
    pub under: JsonPath,
}

impl Parents {
    /// The path of `segments` split after the wildcard at `at`.
    pub(crate) fn split(segments: &[crate::json::path::Segment], at: usize) -> Parents {
        let part = |segments: &[crate::json::path::Segment]| {
            let segments = segments.to_vec();
            JsonPath::from_segments(crate::json::path::readable(&segments), segments)
        };
        Parents {
            parents: part(&segments[..=at]),
            under: part(&segments[at + 1..]),
        }
    }
}

/// Whether a records path of an NDJSON answer selects from the array of
/// its lines (`$[?@.preview == false].result`) rather than in each line.
pub(crate) fn over_lines(path: &str) -> bool {
    path.trim_start().starts_with("$[")
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
    /// How the output is compressed (`compression`, or a path ending
    /// `.gz` or `.zst`); `None` writes it as it is.
    pub compression: Option<Compression>,
    /// Whether `compression` was written out, rather than taken from the
    /// path.
    pub compression_given: bool,
    pub csv_delimiter: u8,
    pub csv_header: bool,
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub parquet: ParquetOptions,
}

/// `[output.parquet]`, validated.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "parquet"), allow(dead_code))]
pub(crate) struct ParquetOptions {
    /// One of [`crate::options::PARQUET_CODECS`].
    pub compression: String,
    /// `compression_level`; `None` is the codec's default.
    pub level: Option<i32>,
    pub row_group_size: usize,
    pub statistics: ParquetStatistics,
}

/// `output.parquet.statistics`: the columns whose chunks and pages carry
/// their smallest and largest value and their count of nulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParquetStatistics {
    /// Every column but those whose statistics would prune nothing (see
    /// the Parquet sink).
    Auto,
    All,
    None,
}

impl Default for ParquetOptions {
    fn default() -> ParquetOptions {
        ParquetOptions {
            compression: "zstd".to_owned(),
            level: None,
            row_group_size: 65536,
            statistics: ParquetStatistics::Auto,
        }
    }
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

    /// The format an output path's extension names, if it names one; a
    /// compressed file's is the one before `.gz` or `.zst`
    /// (`orders.csv.gz`).
    pub fn from_extension(path: &FsPath) -> Option<OutputFormat> {
        let path = match Compression::named_by(path) {
            Some(_) => FsPath::new(path.file_stem()?),
            None => path,
        };
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

/// How a text output is compressed (`output.compression`): its codec and
/// level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// gzip, 1 to 9.
    Gzip(u32),
    /// zstd, -7 to 22.
    Zstd(i32),
}

impl Compression {
    /// The compression a path's extension names (`.gz`; `.zst` or
    /// `.zstd`), at its codec's own level.
    pub(crate) fn named_by(path: &FsPath) -> Option<Compression> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "gz" => Some(Compression::Gzip(6)),
            "zst" | "zstd" => Some(Compression::Zstd(1)),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::Gzip(_) => "gzip",
            Compression::Zstd(_) => "zstd",
        }
    }

    fn level(self) -> i64 {
        match self {
            Compression::Gzip(level) => i64::from(level),
            Compression::Zstd(level) => i64::from(level),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} level {}", self.name(), self.level())
    }
}

/// Extensions of compressed files hydrant does not write.
const OTHER_COMPRESSIONS: [&str; 8] = ["bz2", "xz", "lzma", "lz4", "br", "zip", "7z", "snappy"];

/// Why an output at `path`, of `format`, written with `compression`,
/// cannot be written as its name says: a compression hydrant does not
/// write, a codec other than the one the name says, or Parquet in a
/// compressed file (Parquet compresses its columns).
pub(crate) fn compression_refused(
    path: Option<&FsPath>,
    format: OutputFormat,
    compression: Option<Compression>,
) -> Option<String> {
    let named = path.and_then(|p| p.extension()).and_then(|e| e.to_str());
    if let Some(other) =
        named.filter(|e| OTHER_COMPRESSIONS.contains(&e.to_ascii_lowercase().as_str()))
    {
        return Some(format!(
            "output.path: `.{other}` names a compression hydrant does not write; it writes \
             gzip (a path ending `.gz`) and zstd (`.zst`), or pipe its output through the \
             compressor"
        ));
    }
    let by_name = path.and_then(Compression::named_by);
    if let (Some(by_name), Some(given)) = (by_name, compression)
        && by_name.name() != given.name()
    {
        return Some(format!(
            "output.compression: `{}`, but output.path `{}` names {}",
            given.name(),
            path.map_or_else(String::new, |p| p.display().to_string()),
            by_name.name()
        ));
    }
    let compressed = compression.filter(|_| format == OutputFormat::Parquet)?;
    Some(format!(
        "output.compression: Parquet compresses its own columns \
         (output.parquet.compression); a {} Parquet file is read by no Parquet reader",
        compressed.name()
    ))
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
        let text = read_job_text(path)?;
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
        job.file = Some(path.to_owned());
        job.load_input_job(vars)?;
        Ok(job)
    }

    /// A job file of another system (see `dialect`), as the native job it
    /// means; what it could not carry over becomes the job's notices.
    pub(crate) fn from_dialect(
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
        let text = read_job_text(path)?;
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
                plain_types(problem.trim_end())
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
        let mut from_vars = FromVars::default();
        interpolate(&mut tree, &mut String::new(), vars, &mut from_vars)
            .map_err(|e| Error::config(format!("job file `{name}`: {e}")))?;
        refuse_read_tables(&tree).map_err(|e| Error::config(format!("job file `{name}`: {e}")))?;
        let fingerprint = sha2::Sha256::digest(extraction_text(&tree)).into();
        let file: JobFile = serde_json::from_value(tree).map_err(|e| {
            Error::config(format!(
                "job file `{name}`: {}",
                plain_types(&e.to_string())
            ))
        })?;
        let mut job =
            validate(file, name).map_err(|e| Error::config(format!("job file `{name}`: {e}")))?;
        job.fingerprint = fingerprint;
        job.mask_from_vars(&from_vars);
        Ok(job)
    }

    /// Headers and query parameters whose values came from `${VAR}` are
    /// treated as credentials: masked where shown, kept to the job's origin.
    /// So is the value of a variable named as a credential, wherever it is.
    fn mask_from_vars(&mut self, from_vars: &FromVars) {
        let (from_vars, credentials) = (&from_vars.keys, &from_vars.credentials);
        let mask = |request: &mut Request, prefix: &str| {
            request.var_secrets.extend(credentials.iter().cloned());
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
            for (name, value) in validate::url_query(&request.url) {
                let from_var = from_vars.iter().any(|k| {
                    k.strip_prefix(prefix)
                        .and_then(|k| k.strip_prefix("url?"))
                        .is_some_and(|k| k == name)
                });
                if from_var && !request.url_secrets.iter().any(|(n, _)| *n == name) {
                    request.url_secrets.push((name, value));
                }
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
        match &mut self.fanout {
            Some(Fanout {
                source: FanoutSource::File(file),
                ..
            }) => fix(file),
            Some(Fanout {
                source: FanoutSource::From(parent),
                ..
            }) => parent.resolve_relative_to(dir),
            _ => {}
        }
        // Files written are found beside the job file too, so a job runs
        // the same from any working directory.
        if let Some(path) = &mut self.output.path {
            fix(path);
        }
        if let Some(state) = &mut self.state {
            fix(&mut state.path);
        }
        if let Some(dirty) = &mut self.records.dirty_path {
            fix(dirty);
        }
        if let Some(write) = &mut self.write {
            match &mut write.input {
                Input::File {
                    path: Some(path), ..
                }
                | Input::JobFile(path) => fix(path),
                _ => {}
            }
            if let Some(rejects) = &mut write.reject_path {
                fix(rejects);
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
    /// (`.csv`, `.parquet`; NDJSON otherwise), and unless a compression
    /// was given, a path ending `.gz` or `.zst` is written compressed.
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
        if !self.output.compression_given {
            self.output.compression = self.output.path.as_deref().and_then(Compression::named_by);
        }
    }

    /// Refuses an output whose name or keys ask for a compression it
    /// cannot be written in (see [`compression_refused`]).
    pub(crate) fn check_compression(&self) -> Result<()> {
        let output = &self.output;
        match compression_refused(output.path.as_deref(), output.format, output.compression) {
            Some(why) => Err(Error::config(why)),
            None => Ok(()),
        }
    }

    /// Names the files a run writes for shard `i` of `n` (from 1):
    /// `out/orders.ndjson` becomes `out/orders-2-of-8.ndjson`, and so does
    /// `records.dirty_path`. Shards that run side by side, or one after
    /// the other into one folder, then write over none of each other's.
    /// With `output` false the output path is left as it is (one the
    /// user gave for this shard).
    pub fn name_for_shard(&mut self, i: u32, n: u32, output: bool) {
        if output && let Some(path) = &self.output.path {
            self.output.path = Some(shard_path(path, i, n));
        }
        if let Some(path) = &self.records.dirty_path {
            self.records.dirty_path = Some(shard_path(path, i, n));
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
        let files = self.files_written();
        for (i, (key, path)) in files.iter().enumerate() {
            if let Some((other, _)) = files[..i].iter().find(|(_, p)| same_file(p, path)) {
                return Err(Error::config(format!(
                    "{key} and {other} are the same file `{}`: one would overwrite the other",
                    path.display()
                )));
            }
        }
        let read = self.files_read();
        for (key, path) in &files {
            if let Some((other, _)) = read.iter().find(|(_, p)| same_file(p, path)) {
                return Err(Error::config(format!(
                    "{key} `{}` is {other}: the run would overwrite it",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Checks a file that the caller writes beside a run, such as a
    /// summary, before the run: it may not be a folder, nor any file the
    /// run reads or writes. `key` names it in the error.
    pub fn check_file_beside(&self, key: &str, path: &FsPath) -> Result<()> {
        if path.is_dir() {
            return Err(Error::config(format!(
                "{key}: `{}` is a folder; name a file in it",
                path.display()
            )));
        }
        let path = absolute(path);
        let mut files = self.files_written();
        files.extend(self.files_read());
        match files.iter().find(|(_, file)| same_file(file, &path)) {
            Some((other, _)) => Err(Error::config(format!(
                "{key} `{}` is {other}: one would overwrite the other",
                path.display()
            ))),
            None => Ok(()),
        }
    }

    /// Checks a folder that the caller fills beside a run, such as a
    /// fixture set, before the run: none of the files the run writes, nor
    /// the caller's own `also`, may be in it. `key` names it in the error.
    pub fn check_folder_beside(
        &self,
        key: &str,
        folder: &FsPath,
        also: &[(&'static str, &FsPath)],
    ) -> Result<()> {
        let folder = resolved(folder);
        let also = also.iter().map(|(name, path)| (*name, absolute(path)));
        let mut files = self.files_written();
        files.extend(also);
        match files
            .iter()
            .find(|(_, file)| resolved(file).starts_with(&folder))
        {
            Some((other, file)) => Err(Error::config(format!(
                "{key}: `{}` would hold {other} `{}`; name a folder apart from the run's files",
                folder.display(),
                file.display()
            ))),
            None => Ok(()),
        }
    }

    /// The files a run writes, each with the key that names it.
    fn files_written(&self) -> Vec<(&'static str, PathBuf)> {
        let mut files = Vec::new();
        if let Some(path) = self.output.path.as_deref() {
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
        files
    }

    /// The files a run reads, which none of its own files may replace.
    fn files_read(&self) -> Vec<(&'static str, PathBuf)> {
        let mut read = Vec::new();
        if let Some(file) = &self.file {
            read.push(("the job file", absolute(file)));
        }
        if let Some(ca) = self.request.as_ref().and_then(|r| r.ca_file.as_ref()) {
            read.push(("request.ca_file", absolute(ca)));
        }
        if let Some(Fanout {
            source: FanoutSource::File(file),
            ..
        }) = &self.fanout
        {
            read.push(("fanout.values_file", absolute(file)));
        }
        match self.write.as_ref().map(|w| &w.input) {
            Some(Input::File {
                path: Some(path), ..
            }) => read.push(("input.path", absolute(path))),
            Some(Input::Job(job)) => read.extend(
                job.files_read()
                    .into_iter()
                    .map(|(_, path)| ("a file of input.job", path)),
            ),
            _ => {}
        }
        read
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

    /// What a raw output, which writes each body as it came, says of the
    /// keys that act on records: `Err` for those that would drop records
    /// the bodies still hold, a warning for `[[columns]]`, which it does
    /// not use. `Ok(None)` for any other output.
    pub(crate) fn raw_output_check(&self) -> Result<Option<String>> {
        if self.output.format != OutputFormat::Raw {
            return Ok(None);
        }
        // Boundary dedupe by the whole record, the default, is left out
        // quietly, as lookback's duplicates are: one asked for by key is not.
        let dropping = match &self.incremental {
            Some(incremental) if incremental.filter => {
                Some("incremental.filter = true drops records outside the bounds")
            }
            Some(incremental) if !incremental.key.is_empty() => {
                Some("incremental.key drops records already written at the bookmark")
            }
            _ => None,
        };
        if let Some(dropping) = dropping {
            return Err(Error::config(format!(
                "job file `{}`: {dropping}, but output.format `raw` writes each body whole, \
                 with every record in it; use another format, or let the API filter \
                 (incremental.param)",
                self.name
            )));
        }
        Ok(self.columns.is_some().then(|| {
            format!(
                "job file `{}`: [[columns]] are not used: output.format `raw` writes each body \
                 as it came",
                self.name
            )
        }))
    }

    /// Caps the number of requests (`paginate.max_requests`).
    pub fn set_max_requests(&mut self, max: u64) {
        self.paginate.max_requests = Some(max);
    }

    /// The declared `[[columns]]`; `None` when they are inferred.
    pub fn columns(&self) -> Option<&[ColumnSpec]> {
        self.columns.as_deref()
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

    /// The requests a read job sends, when that is known before it runs:
    /// a `range` with an `end`, or fan-out values each asked once. For a
    /// progress bar's total; `None` when pages decide.
    pub fn planned_requests(&self) -> Option<u64> {
        if self.write.is_some() || self.incremental.is_some() {
            return None;
        }
        let exact = self.paginate.kind == hydrant_paginate::Kind::Range;
        match &self.fanout {
            None if exact => known_requests(&self.paginate),
            Some(Fanout {
                source: FanoutSource::Values(values),
                ..
            }) if self.paginate.kind == hydrant_paginate::Kind::None => {
                let all = values.len() as u64;
                Some(self.paginate.max_requests.map_or(all, |cap| all.min(cap)))
            }
            _ => None,
        }
    }

    /// Whether this is a write job (it has a `[write]` table).
    pub fn is_write(&self) -> bool {
        self.write.is_some()
    }

    /// Whether the job keeps a bookmark from run to run (`[incremental]`).
    pub fn is_incremental(&self) -> bool {
        self.incremental.is_some()
    }
}

/// A path made absolute without touching the file system (the file may
/// not exist yet). For comparing paths, see [`resolved`].
fn absolute(path: &FsPath) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// A path made absolute with each link on the way followed, as opening it
/// would: also a link to a folder that does not exist yet (one a run makes),
/// which `canonicalize` cannot follow. `..` is taken after the links before
/// it, as the file system takes it.
fn resolved(path: &FsPath) -> PathBuf {
    use std::path::Component;
    // Linux gives up after 40 links; so does this, and a loop of links
    // resolves to where it stopped.
    const MAX_LINKS: u32 = 40;
    let parts = |path: &FsPath| -> Vec<PathBuf> {
        path.components()
            .rev()
            .map(|part| PathBuf::from(part.as_os_str()))
            .collect()
    };
    let mut pending = parts(&absolute(path));
    let mut out = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::Normal(name)) => {
                out.push(name);
                let is_link =
                    std::fs::symlink_metadata(&out).is_ok_and(|meta| meta.file_type().is_symlink());
                if is_link
                    && links < MAX_LINKS
                    && let Ok(target) = std::fs::read_link(&out)
                {
                    links += 1;
                    out.pop();
                    // An absolute target starts again from its root.
                    pending.extend(parts(&target));
                }
            }
            Some(Component::CurDir) | None => {}
            Some(root) => out.push(root.as_os_str()),
        }
    }
    out
}

/// Whether two paths name one file, links followed, whether or not it
/// exists yet.
fn same_file(a: &FsPath, b: &FsPath) -> bool {
    a == b || resolved(a) == resolved(b)
}

fn partial_of(path: &FsPath) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    PathBuf::from(partial)
}

/// `out/orders.ndjson` → `out/orders-2-of-8.ndjson`.
fn shard_path(path: &FsPath, i: u32, n: u32) -> PathBuf {
    // A compressed file's name keeps its format's extension beside `.gz`.
    let compressed = path
        .extension()
        .filter(|_| Compression::named_by(path).is_some());
    let (named, gz) = match compressed {
        Some(extension) => (
            path.file_stem().map_or(path, FsPath::new),
            format!(".{}", extension.to_string_lossy()),
        ),
        None => (path, String::new()),
    };
    let stem = named
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match named.extension() {
        Some(ext) => format!("{stem}-{i}-of-{n}.{}{gz}", ext.to_string_lossy()),
        None => format!("{stem}-{i}-of-{n}{gz}"),
    };
    path.with_file_name(name)
}

/// A job file's text, without the byte order mark that Windows tools put
/// at its head: JSON parsers refuse it, and it would hide a dialect.
fn read_job_text(path: &FsPath) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("cannot read job file `{}`: {e}", path.display())))?;
    Ok(crate::json::without_bom(&text).to_owned())
}

/// A parse error with the job file's own words for its types: a key
/// given a scalar where a table goes reads "expected a table", not the
/// name of the struct that reads it ("expected struct BackoffFile"), and
/// where an array goes "expected an array", not "a sequence".
fn plain_types(problem: &str) -> String {
    let mut out = String::with_capacity(problem.len());
    let mut rest = problem;
    while let Some(at) = rest.find("expected struct ") {
        out.push_str(&rest[..at]);
        out.push_str("expected a table");
        rest = &rest[at + "expected struct ".len()..];
        rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    }
    out.push_str(rest);
    out.replace("expected a sequence", "expected an array")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_path_is_resolved_through_links_that_lead_nowhere_yet() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("a")).unwrap();
        // `ahead` leads to a folder not made yet, `up/..` to `a`'s parent.
        symlink("a/new", root.join("ahead")).unwrap();
        symlink(root.join("a/b"), root.join("up")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        assert_eq!(resolved(&root.join("ahead/x")), root.join("a/new/x"));
        assert_eq!(resolved(&root.join("up/../x")), root.join("a/x"));
        assert_eq!(resolved(&root.join("./a/./x")), root.join("a/x"));
        assert!(same_file(&root.join("ahead/x"), &root.join("a/new/x")));
        assert!(!same_file(&root.join("ahead/x"), &root.join("a/x")));
        // A loop of links ends; where it ends is not a file anyway.
        assert!(resolved(&root.join("loop1/x")).ends_with("x"));
    }

    fn parse(text: &str) -> Result<Job> {
        Job::parse(
            text,
            JobFormat::Toml,
            "job.toml",
            &Vars::isolated([("TOKEN".to_owned(), "t0k".to_owned())]),
        )
    }

    #[test]
    fn planned_requests_are_known_only_when_pages_do_not_decide() {
        let planned = |rest: &str| {
            parse(&format!(
                "[request]\nurl = \"https://a.example/{{page}}\"\n{rest}"
            ))
            .unwrap()
            .planned_requests()
        };
        let range =
            "[paginate]\ntype = \"range\"\nparam = \"page\"\nin = \"url\"\nstart = 2\nstep = 2\n";
        assert_eq!(planned(&format!("{range}end = 10\n")), Some(5));
        assert_eq!(
            planned(&format!("{range}end = 10\nmax_requests = 3\n")),
            Some(3)
        );
        assert_eq!(planned(range), None, "a range without an end");
        assert_eq!(planned("[paginate]\ntype = \"offset\"\n"), None);
        let values = "[fanout]\nparam = \"page\"\nin = \"url\"\nvalues = [1, 2, 3, 4]\n";
        assert_eq!(planned(values), Some(4));
        assert_eq!(
            planned(&format!("{values}[paginate]\nmax_requests = 2\n")),
            Some(2)
        );
    }

    #[test]
    fn a_page_path_column_is_refused_beside_a_path_or_a_value_or_lines() {
        let refused = |rest: &str| {
            let text = format!("[request]\nurl = \"https://a.example/x\"\n{rest}");
            let err = parse(&text).unwrap_err();
            assert!(err.is_config(), "{err}");
            err.to_string()
        };
        let column = "[[columns]]\nname = \"n\"\npage_path = \"$.meta.n\"\n";
        assert!(
            parse(&format!(
                "[request]\nurl = \"https://a.example/x\"\n{column}"
            ))
            .is_ok()
        );
        for (other, key) in [
            ("path = \"n\"\n", "path"),
            ("value = \"{page}\"\n", "value"),
        ] {
            let text = refused(&format!("{column}{other}"));
            assert!(
                text.contains(&format!(
                    "columns[0] (n).page_path: give either `page_path` or `{key}`, not both"
                )),
                "{text}"
            );
        }
        let text = refused("[[columns]]\nname = \"n\"\npage_path = \"$.[\"\n");
        assert!(text.contains("columns[0] (n).page_path: "), "{text}");
        let text = refused(&format!("[records]\nformat = \"ndjson\"\n{column}"));
        assert!(
            text.contains("columns[0] (n).page_path: an NDJSON answer (`records.format = \"ndjson\"`) has no page around its records"),
            "{text}"
        );
    }

    #[test]
    fn a_parent_path_column_needs_an_array_above_the_records() {
        let job = |records: &str, rest: &str| {
            format!(
                "[request]\nurl = \"https://a.example/x\"\n[records]\n{records}\n{rest}\
                 [[columns]]\nname = \"n\"\nparent_path = \"info.n\"\n"
            )
        };
        let refused = |text: String| {
            let err = parse(&text).unwrap_err();
            assert!(err.is_config(), "{err}");
            err.to_string()
        };
        let job_of = parse(&job("path = \"runs[*].data.metrics[*]\"", "")).unwrap();
        let parents = job_of.records.parent.as_deref().unwrap();
        assert_eq!(parents.parents.as_str(), "$.runs[*]");
        assert_eq!(parents.under.as_str(), "$.data.metrics[*]");
        let parents = parse(&job("path = \"$.a[*][*].b\"", ""))
            .unwrap()
            .records
            .parent
            .unwrap();
        assert_eq!(
            (parents.parents.as_str(), parents.under.as_str()),
            ("$.a[*][*]", "$.b")
        );
        for path in ["items", "items[*]", "$"] {
            let text = refused(job(&format!("path = \"{path}\""), ""));
            assert!(
                text.contains("columns[0] (n).parent_path: `records.path` (`")
                    && text.contains("has no array above the records"),
                "{text}"
            );
        }
        let text = refused(job("path = \"$.runs[?@.ok][*]\"", ""));
        assert!(text.contains("has a filter, a slice or `..`"), "{text}");
        let text = refused(job("path = \"runs[*].m[*]\"\nformat = \"ndjson\"", ""));
        assert!(
            text.contains("columns[0] (n).parent_path: an NDJSON answer's records"),
            "{text}"
        );
        // `[incremental]` reads a cursor or key that names such a column
        // in the parent, the rest in the record.
        let incremental = "[state]\npath = \"s.json\"\n[incremental]\ncursor = \"n\"\nkey = [\"id\", \"n\"]\nstart = \"2026-01-01T00:00:00Z\"\nparam = \"since\"\n";
        let job_of = parse(&job("path = \"runs[*].m[*]\"", incremental)).unwrap();
        let reads = job_of.incremental.unwrap().parent.unwrap();
        let shown = |path: &Option<JsonPath>| path.as_ref().map(|p| p.as_str().to_owned());
        assert_eq!(shown(&reads.cursor).as_deref(), Some("info.n"));
        let keys: Vec<_> = reads.key.iter().map(shown).collect();
        assert_eq!(keys, [None, Some("info.n".to_owned())]);
        for (other, key) in [
            ("path = \"n\"\n", "path"),
            ("value = \"{page}\"\n", "value"),
            ("page_path = \"$.n\"\n", "page_path"),
        ] {
            let text = refused(format!("{}{other}", job("path = \"runs[*].m[*]\"", "")));
            assert!(
                text.contains(&format!(
                    "columns[0] (n).parent_path: give either `parent_path` or `{key}`, not both"
                )),
                "{text}"
            );
        }
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
    fn a_scalar_where_a_table_goes_says_a_table() {
        let err = parse("[request]\nurl = \"https://a.example/x\"\n[limits]\nbackoff = \"10ms\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 4")
                && err.contains("invalid type: string \"10ms\", expected a table"),
            "{err}"
        );
        assert!(!err.contains("struct"), "{err}");
        assert_eq!(
            plain_types("expected struct OutputFile, or"),
            "expected a table, or"
        );
        let err = parse("columns = \"id\"\n[request]\nurl = \"https://a.example/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected an array"), "{err}");
    }

    #[test]
    fn a_shards_files_are_named_beside_the_format_extension() {
        let named = |path: &str| shard_path(FsPath::new(path), 2, 8);
        assert_eq!(
            named("out/orders.ndjson"),
            FsPath::new("out/orders-2-of-8.ndjson")
        );
        assert_eq!(named("orders.csv.gz"), FsPath::new("orders-2-of-8.csv.gz"));
        assert_eq!(named("orders.gz"), FsPath::new("orders-2-of-8.gz"));
        assert_eq!(named("orders"), FsPath::new("orders-2-of-8"));
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
    fn a_zero_timeout_is_refused() {
        for (table, key) in [
            ("request", "timeout"),
            ("request", "connect_timeout"),
            ("write", "timeout"),
            ("write", "connect_timeout"),
        ] {
            let text = match table {
                "request" => format!("[request]\nurl = \"https://a.example/x\"\n{key} = \"0s\"\n"),
                _ => format!(
                    "[input]\npath = \"in.ndjson\"\n[write]\nurl = \"https://a.example/x\"\n{key} = \"0ms\"\n"
                ),
            };
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains(&format!("{table}.{key}: must be more than 0")),
                "{err}"
            );
        }
        assert!(parse("[request]\nurl = \"https://a.example/x\"\ntimeout = \"1ms\"\n").is_ok());
    }

    /// The `[output.parquet]` of a job whose `parquet` table holds
    /// `parquet`, or the job's error.
    fn parquet_options(parquet: &str) -> std::result::Result<ParquetOptions, String> {
        parse(&format!(
            "[request]\nurl = \"https://a.example/x\"\n[output]\nparquet = {{ {parquet} }}\n"
        ))
        .map(|job| job.output.parquet)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_parquet_level_is_checked_against_its_codec() {
        let level = |parquet: &str| parquet_options(parquet).map(|options| options.level);
        assert_eq!(level("compression_level = -7"), Ok(Some(-7)));
        assert_eq!(
            level("compression = \"zstd\", compression_level = 22"),
            Ok(Some(22))
        );
        assert_eq!(
            level("compression = \"gzip\", compression_level = 9"),
            Ok(Some(9))
        );
        assert_eq!(level("compression = \"gzip\""), Ok(None));
        for (parquet, says) in [
            (
                "compression_level = 23",
                "23 is not a level of zstd (-7 to 22)",
            ),
            (
                "compression_level = -8",
                "-8 is not a level of zstd (-7 to 22)",
            ),
            (
                "compression = \"gzip\", compression_level = 10",
                "10 is not a level of gzip (0 to 9)",
            ),
            (
                "compression = \"gzip\", compression_level = -1",
                "-1 is not a level of gzip (0 to 9)",
            ),
            (
                "compression = \"snappy\", compression_level = 1",
                "`snappy` takes no level",
            ),
            (
                "compression = \"none\", compression_level = 1",
                "`none` takes no level",
            ),
        ] {
            let err = level(parquet).unwrap_err();
            assert!(
                err.contains("output.parquet.compression_level") && err.contains(says),
                "{parquet}: {err}"
            );
        }
    }

    #[test]
    fn parquet_statistics_are_auto_all_or_none() {
        let statistics = |parquet: &str| parquet_options(parquet).map(|options| options.statistics);
        assert_eq!(statistics(""), Ok(ParquetStatistics::Auto));
        assert_eq!(
            statistics("statistics = \"all\""),
            Ok(ParquetStatistics::All)
        );
        assert_eq!(
            statistics("statistics = \"none\""),
            Ok(ParquetStatistics::None)
        );
        let err = statistics("statistics = \"page\"").unwrap_err();
        assert!(
            err.contains("output.parquet.statistics: `page` is not one of `auto`, `all`, `none`"),
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
