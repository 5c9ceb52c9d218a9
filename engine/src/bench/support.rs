//! The CPU path of one page, without the network, for benchmarks: response
//! bytes in, typed cells and output bytes out, through the engine's own
//! parser, extractor and sinks.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::extract::{
    Batch, ColumnSpec, Covering, Extractor, Inference, Mixed, Placeholders, Policy, Shape,
    select_records,
};
use crate::job::vars::Vars;
use crate::job::{Job, JobFormat, OutputFormat};
use crate::json::node::Node;
use crate::json::scan::Scanner;
use crate::json::{Parser, Scratch};
use crate::read::shaped::{Learned, Lines, Rows, Shaped, ShapedReader};
use crate::sink::{
    Counted, Destination, Made, NdjsonEncoder, PageEncoder, PageOut, Sink, TextEncoder, TextSink,
};

/// The output a bench encodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// NDJSON lines.
    Ndjson,
    /// CSV rows.
    Csv,
}

/// How a pipeline parses a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The run's hot path: a checked structural index, walked in place.
    Index,
    /// simd-json's tape, walked by the same extractor: the measured
    /// alternative to the index.
    Tape,
    /// A simd-json tree, as a run builds before its columns are known.
    Tree,
}

/// The rows, NDJSON lines and nulls the page path makes of a page.
type PagePath = (usize, Vec<u8>, Vec<crate::extract::Tolerated>);

/// Parses a page and extracts the job's columns from it.
#[derive(Debug)]
pub struct PagePipeline {
    job: Job,
    parser: Parser,
    scanner: Scanner,
    scratch: Scratch,
    extractor: Option<Extractor>,
    /// Columns inferred from the first page, which later pages are
    /// checked against as a run checks them.
    inferred: Option<(Inference, Option<Shape>)>,
    tape: Option<simd_json::Tape<'static>>,
    form: Form,
    /// The reader of pages of one shape, and the encoder of its lines,
    /// once the columns are known.
    shaped: Option<(ShapedReader, NdjsonEncoder, Learned)>,
}

impl PagePipeline {
    /// A pipeline for a job given as TOML text.
    pub fn new(job_toml: &str) -> Result<PagePipeline> {
        let job = Job::parse(job_toml, JobFormat::Toml, "bench job", &Vars::isolated([]))?;
        let extractor = job
            .columns
            .clone()
            .map(|c| Extractor::new(c, &job.records).noting_absent());
        Ok(PagePipeline {
            job,
            parser: Parser::default(),
            scanner: Scanner::default(),
            scratch: Scratch::default(),
            extractor,
            inferred: None,
            tape: None,
            form: Form::Index,
            shaped: None,
        })
    }

    /// The same pipeline building a simd-json tree for every page instead
    /// of walking its structural index: the slower form, kept for
    /// comparison.
    pub fn tree_only(mut self) -> PagePipeline {
        self.form = Form::Tree;
        self
    }

    /// The same pipeline walking simd-json's tape of every page instead of
    /// the structural index: the alternative the index was chosen over.
    pub fn simd_json_tape(mut self) -> PagePipeline {
        self.form = Form::Tape;
        self
    }

    /// Parses `body` and extracts its records; returns how many rows came out.
    pub fn run(&mut self, body: &[u8]) -> Result<usize> {
        self.with_batch(body, |_, batch| Ok(batch.rows))
    }

    /// Parses, extracts and encodes `body`: the whole page pipeline, the
    /// text made as a run's page makers make it (a buffer of its own, no
    /// CSV header). Returns the rows and the output bytes.
    pub fn run_to_output(&mut self, body: &[u8], encoding: Encoding) -> Result<(usize, u64)> {
        let mut output = self.job.output.clone();
        output.format = match encoding {
            Encoding::Ndjson => OutputFormat::Ndjson,
            Encoding::Csv => OutputFormat::Csv,
        };
        if encoding == Encoding::Ndjson
            && let Some(shaped) = self.read_shaped(body, false)
        {
            let text = shaped.made.into_text().expect("NDJSON rows are text");
            return Ok((shaped.rows, text.len() as u64));
        }
        self.with_batch(body, |columns, batch| {
            let encoder = PageEncoder::for_output(&output, columns)
                .expect("NDJSON and CSV have page encoders");
            match encoder.make(body, batch, columns.len()) {
                Some(Made::Text(text)) => Ok((batch.rows, text.len() as u64)),
                _ => unreachable!("a text encoder makes text"),
            }
        })
    }

    /// The page's NDJSON as a run reads a page whose records all share
    /// one shape, if this one is such a page and its columns are known.
    fn read_shaped(&mut self, body: &[u8], arrow: bool) -> Option<Shaped> {
        let extractor = self
            .extractor
            .as_ref()
            .filter(|_| self.form == Form::Index)?;
        let (shaped, encoder, learned) = match &mut self.shaped {
            Some(shaped) => shaped,
            shaped => shaped.insert((
                ShapedReader::new(&self.job.records, extractor)?,
                NdjsonEncoder::new(extractor.columns()),
                Learned::default(),
            )),
        };
        let shape = self.inferred.as_ref().and_then(|(_, shape)| shape.as_ref());
        let rows = match arrow {
            #[cfg(feature = "parquet")]
            true => Rows::Arrow,
            _ => Rows::Ndjson(encoder),
        };
        let lines = Lines {
            extractor,
            shape,
            rows,
        };
        shaped.read(body, lines, learned)
    }

    /// Reads `body` as a run's page makers read a page whose records share
    /// a few shapes, and checks what the reader made against the page
    /// path, for the fuzz target of the reader. `Ok(false)`: the reader
    /// declines the page, or the text around its records is not JSON (a
    /// run reads such a page by the page path). `Ok(true)`: it took the
    /// page and made the page path's rows, lines, nulls, fingerprint and
    /// (with `parquet`) Arrow batch. `Err` says how they differ. The
    /// templates learned stay for the next page, as in a run; the columns
    /// must be known (declared, or a page went through [`Self::run`]).
    pub fn check_shaped(&mut self, body: &[u8]) -> std::result::Result<bool, String> {
        if self.extractor.is_none() || self.form != Form::Index {
            return Err("the columns are not known yet".to_owned());
        }
        let Some(shaped) = self.read_shaped(body, false) else {
            return Ok(false);
        };
        if Scanner::default().scan(&shaped.around(body), None).is_err() {
            return Ok(false);
        }
        let (rows, lines, tolerated) = self.page_path(body)?;
        let mut whole = Scanner::default();
        let page_fingerprint = (|| {
            let doc = whole.scan(body, None).ok()?;
            let records = select_records(doc.root(), &self.job.records).ok()?;
            crate::extract::records_fingerprint(&records)
        })();
        if let Some(fingerprint) = shaped.fingerprint(body, &mut Scanner::default())
            && Some(fingerprint) != page_fingerprint
        {
            return Err("the reader's fingerprint of the page is not the page path's".to_owned());
        }
        let made = shaped.made.into_text().expect("NDJSON rows are text");
        if (shaped.rows, &made, &shaped.tolerated) != (rows, &lines, &tolerated) {
            return Err(format!(
                "the reader made {} rows, the page path {rows}:\n{}\nagainst\n{}\nnulls {:?} against {tolerated:?}",
                shaped.rows,
                String::from_utf8_lossy(&made),
                String::from_utf8_lossy(&lines),
                shaped.tolerated,
            ));
        }
        #[cfg(feature = "parquet")]
        self.check_shaped_batch(body)?;
        Ok(true)
    }

    /// The page path's rows, NDJSON lines and nulls of a page the reader
    /// took; `Err` if the page path would not write its records as they
    /// stand (a page it refuses, new fields, a dirty record).
    fn page_path(&mut self, body: &[u8]) -> std::result::Result<PagePath, String> {
        let taken =
            |why: String| format!("the reader took a page the page path makes otherwise: {why}");
        let made = self.with_batch(body, |columns, batch| {
            let encoder = TextEncoder::Ndjson(NdjsonEncoder::new(columns));
            let mut lines = Vec::new();
            encoder.encode(batch, columns.len(), &mut lines);
            Ok((
                batch.rows,
                lines,
                batch.tolerated.clone(),
                batch.dirty.len(),
            ))
        });
        match made.map_err(|e| taken(e.to_string()))? {
            (rows, lines, tolerated, 0) => Ok((rows, lines, tolerated)),
            (.., dirty) => Err(taken(format!("{dirty} dirty records"))),
        }
    }

    /// The reader's Arrow batch of a page it took, against the page
    /// makers' batch for a Parquet output.
    #[cfg(feature = "parquet")]
    fn check_shaped_batch(&mut self, body: &[u8]) -> std::result::Result<(), String> {
        let Some(Made::Batch(read)) = self.read_shaped(body, true).map(|s| s.made) else {
            return Err("the reader took the page as lines but not as a batch".to_owned());
        };
        let made = self
            .with_batch(body, |columns, batch| {
                Ok(crate::sink::arrow::Builders::page_batch(&PageOut {
                    body,
                    columns,
                    batch,
                }))
            })
            .map_err(|e| e.to_string())?;
        match read == made {
            true => Ok(()),
            false => Err(format!(
                "the reader's batch is not the page path's:\n{read:?}\nagainst\n{made:?}"
            )),
        }
    }

    /// The job's columns: declared, or inferred from the first page; `None`
    /// before a page went through.
    pub fn columns(&self) -> Option<&[ColumnSpec]> {
        Some(self.extractor.as_ref()?.columns())
    }

    /// Parses and extracts `body`: the cells written as null for a problem
    /// the job tolerates, as the run counts them.
    pub fn tolerated(&mut self, body: &[u8]) -> Result<Vec<crate::extract::Tolerated>> {
        self.with_batch(body, |_, batch| Ok(batch.tolerated.clone()))
    }

    /// Parses, extracts and encodes `body`, returning the output.
    pub fn encode(&mut self, body: &[u8], encoding: Encoding) -> Result<Vec<u8>> {
        let out = Shared::default();
        self.encode_into(body, encoding, out.clone())?;
        Ok(std::mem::take(
            &mut *out.0.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }

    fn encode_into(
        &mut self,
        body: &[u8],
        encoding: Encoding,
        out: impl std::io::Write + Send + 'static,
    ) -> Result<usize> {
        self.with_batch(body, |columns, batch| {
            let mut sink = sink(encoding, columns, out);
            let page = PageOut {
                body,
                columns,
                batch,
            };
            sink.page(&page)
                .map_err(|e| Error::io("cannot encode the page", e))?;
            sink.finish()
                .map_err(|e| Error::io("cannot encode the page", e))?;
            Ok(batch.rows)
        })
    }

    /// Parses and extracts `body` once, then encodes it `iterations` times:
    /// the time spent encoding alone.
    pub fn time_encoding(
        &mut self,
        body: &[u8],
        encoding: Encoding,
        iterations: u64,
    ) -> Result<Duration> {
        self.with_batch(body, |columns, batch| {
            let mut sink = sink(encoding, columns, Counted::default());
            let page = PageOut {
                body,
                columns,
                batch,
            };
            let started = Instant::now();
            for _ in 0..iterations {
                sink.page(&page)
                    .map_err(|e| Error::io("cannot encode the page", e))?;
            }
            sink.finish()
                .map_err(|e| Error::io("cannot encode the page", e))?;
            Ok(started.elapsed())
        })
    }

    fn with_batch<R>(
        &mut self,
        body: &[u8],
        then: impl FnOnce(&[ColumnSpec], &Batch<'_>) -> Result<R>,
    ) -> Result<R> {
        let on_index = self.extractor.is_some();
        if on_index && self.form == Form::Index {
            let extractor = self.extractor.as_ref().expect("on_index needs the columns");
            let doc = self
                .scanner
                .scan(body, extractor.plan())
                .map_err(|e| Error::data(e.to_string()))?;
            let records = select_records(doc.root(), &self.job.records).map_err(Error::data)?;
            return extract_then(extractor, &records, covering(&self.inferred).as_ref(), then);
        }
        if on_index && self.form == Form::Tape {
            let extractor = self.extractor.as_ref().expect("on_index needs the columns");
            let mut tape = self
                .tape
                .take()
                .unwrap_or_else(simd_json::Tape::null)
                .reset();
            super::tape::parse(&mut self.parser, body, &mut self.scratch, &mut tape)
                .map_err(Error::data)?;
            let records =
                select_records(tape.as_value(), &self.job.records).map_err(Error::data)?;
            let result = extract_then(extractor, &records, None, then);
            drop(records);
            self.tape = Some(tape.reset());
            return result;
        }
        let page = self
            .parser
            .parse(body, &mut self.scratch)
            .map_err(Error::data)?;
        let records = select_records(&page, &self.job.records).map_err(Error::data)?;
        if self.extractor.is_none() {
            // As an NDJSON run infers its columns from its first page.
            let mut inference = Inference::new(&self.job.records.flatten, Mixed::Json);
            inference.feed(&records, Policy::Grow);
            let extractor = Extractor::inferred(inference.columns(), &self.job.records);
            let shape = inference.shape(extractor.columns());
            self.extractor = Some(extractor);
            self.inferred = Some((inference, shape));
            if self.form == Form::Index {
                // As a run reads its first page's cells: from the index,
                // which keeps a number's text, as on every later page.
                drop(records);
                drop(page);
                return self.with_batch(body, then);
            }
        }
        let extractor = self.extractor.as_ref().expect("the columns are known");
        extract_then(extractor, &records, None, then)
    }
}

/// What a run checks the records of later pages against, when the columns
/// were inferred.
fn covering(inferred: &Option<(Inference, Option<Shape>)>) -> Option<Covering<'_>> {
    let (inference, shape) = inferred.as_ref()?;
    Some(Covering {
        inference,
        shape: shape.as_ref(),
    })
}

/// Extracts `records` and hands the batch to `then`, whichever form the
/// page was parsed into.
///
/// With `covering`, a record holding anything new is an error: a run
/// would infer the columns again.
fn extract_then<'v, N: Node<'v>, R>(
    extractor: &Extractor,
    records: &[N],
    covering: Option<&Covering<'_>>,
    then: impl FnOnce(&[ColumnSpec], &Batch<'_>) -> Result<R>,
) -> Result<R> {
    let mut batch = Batch::default();
    let placeholders = Placeholders::new();
    if !extractor.extract_covered(records, &placeholders, &mut batch, covering) {
        return Err(Error::data(
            "a record holds fields outside the columns inferred from the first page",
        ));
    }
    then(extractor.columns(), &batch)
}

/// Whether two NDJSON outputs hold the same lines but for the spelling
/// of numbers. The index writes a `double` column's number, and a number
/// in a `json` or `string` column, as the page spells it (`0.50`,
/// `0e-600`); a simd-json tree writes its double's shortest text (`0.5`,
/// `0.0`), and the members of a large object in an order of its own. A
/// line that is not JSON differs from any other.
pub fn same_lines_but_numbers(a: &[u8], b: &[u8]) -> bool {
    use serde_json::Value;
    fn same(a: &Value, b: &Value) -> bool {
        let number = |v: &Value| match v {
            Value::String(s) => s.parse::<f64>().ok(),
            other => other.as_f64(),
        };
        match (a, b) {
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
            }
            // A tree keeps a large object's members in its own order.
            (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, a)| b.get(k).is_some_and(|b| same(a, b)))
            }
            (Value::String(x), Value::String(y)) if x != y => {
                number(a).is_some() && number(a) == number(b)
            }
            (Value::Number(_), Value::Number(_)) => number(a) == number(b),
            _ => a == b,
        }
    }
    let parsed = |line: &[u8]| serde_json::from_slice::<Value>(line).ok();
    let a_lines: Vec<&[u8]> = a.split(|&b| b == b'\n').collect();
    let b_lines: Vec<&[u8]> = b.split(|&b| b == b'\n').collect();
    a == b
        || a_lines.len() == b_lines.len()
            && a_lines.iter().zip(&b_lines).all(|(x, y)| {
                x == y
                    || match (parsed(x), parsed(y)) {
                        (Some(x), Some(y)) => same(&x, &y),
                        // A number past a double (`1e6400`), which both
                        // write as spelled.
                        _ => numbers_as_doubles(x) == numbers_as_doubles(y),
                    }
            })
}

/// A line of JSON with each number outside its strings written as its
/// double (`2.50` and `2.5` as `2.5e0`); one past a double as it stands.
fn numbers_as_doubles(line: &[u8]) -> Vec<u8> {
    let is_number = |b: u8| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E');
    let (mut out, mut at, mut in_string) = (Vec::with_capacity(line.len()), 0, false);
    while at < line.len() {
        let byte = line[at];
        if in_string || !(byte.is_ascii_digit() || byte == b'-') {
            match byte {
                b'\\' if in_string => {
                    out.extend_from_slice(&line[at..(at + 2).min(line.len())]);
                    at += 2;
                    continue;
                }
                b'"' => in_string = !in_string,
                _ => {}
            }
            out.push(byte);
            at += 1;
            continue;
        }
        let end = (at..line.len())
            .find(|&i| !is_number(line[i]))
            .unwrap_or(line.len());
        let text = &line[at..end];
        match std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
        {
            Some(double) if double.is_finite() => out.extend(format!("{double:e}").bytes()),
            _ => out.extend_from_slice(text),
        }
        at = end;
    }
    out
}

/// A writer into a buffer the caller keeps.
#[derive(Debug, Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "arrow")]
impl PagePipeline {
    /// Parses and extracts `body` into an Arrow batch of the job's columns,
    /// as the page makers build it for a Parquet output.
    pub fn arrow_batch(&mut self, body: &[u8]) -> Result<arrow_array::RecordBatch> {
        #[cfg(feature = "parquet")]
        if let Some(Made::Batch(batch)) = self.read_shaped(body, true).map(|s| s.made) {
            return Ok(batch);
        }
        self.with_batch(body, |columns, batch| {
            Ok(crate::sink::arrow::Builders::page_batch(&PageOut {
                body,
                columns,
                batch,
            }))
        })
    }

    /// The schema of a Parquet file of the job's columns, as a run writes
    /// it (`json` columns marked as JSON). The columns are known once a
    /// page went through.
    #[cfg(feature = "parquet")]
    pub fn parquet_schema(&self) -> Option<arrow_schema::SchemaRef> {
        let columns = self.extractor.as_ref()?.columns();
        Some(crate::sink::parquet::ParquetSink::schema(columns))
    }
}

/// Writes `batches` to a Parquet file of `schema` (see
/// [`PagePipeline::parquet_schema`]) at `path` as a run's encoder thread
/// does (zstd, row groups of 65536 rows), the columns encoded on `threads`
/// threads (1: all on the calling thread, as on two cores). Returns the
/// file's size.
#[cfg(feature = "parquet")]
pub fn write_parquet(
    batches: &[arrow_array::RecordBatch],
    schema: arrow_schema::SchemaRef,
    path: &std::path::Path,
    threads: usize,
) -> Result<u64> {
    use crate::sink::parquet::InPlace;

    let failed = |e| Error::io(format!("cannot write `{}`", path.display()), e);
    if batches.is_empty() {
        return Ok(0);
    }
    let out = Destination::open(Some(path)).map_err(failed)?;
    let options = crate::job::ParquetOptions::default();
    let encoder = InPlace::new(out, schema, &options).map_err(failed)?;
    let running = std::sync::atomic::AtomicBool::new(false);
    crate::read::encoder::encode(encoder, batches.iter().cloned(), threads, &running)
        .map_err(failed)?;
    std::fs::metadata(path).map(|m| m.len()).map_err(failed)
}

/// The JSON records a write job sends for a Parquet file at `path`, as
/// `[input] path` reads them: one text a row.
#[cfg(feature = "parquet")]
pub fn parquet_input_records(path: &std::path::Path) -> Result<Vec<Vec<u8>>> {
    crate::write::parquet::read(path)?
        .map(input_record)
        .collect()
}

/// The JSON records a write job sends for a CSV input holding `text`, as
/// `[input] path` reads it.
pub fn csv_input_records(text: &[u8]) -> Result<Vec<Vec<u8>>> {
    let reader = Box::new(std::io::Cursor::new(text.to_vec()));
    crate::write::input::csv(reader, "the CSV".to_owned())
        .map(input_record)
        .collect()
}

fn input_record(record: Result<crate::write::input::InputRecord>) -> Result<Vec<u8>> {
    match record? {
        crate::write::input::InputRecord::Record(text) => Ok(text),
        crate::write::input::InputRecord::Unreadable { reason, .. } => Err(Error::data(reason)),
    }
}

/// What a run reads of a page's watched members (paths of keys, such as
/// a next link's) before it parses the page, and what the parse reads:
/// for the fuzz target that holds them to agree.
#[derive(Debug)]
pub struct EdgeReads {
    /// The first path's value read from the head of the whole body (a
    /// top-level key), where it tells.
    pub head: Option<serde_json::Value>,
    /// Whether each start of the body tells that value or nothing yet.
    pub heads_agree: bool,
    /// Each path's value read backwards from the end of the body (each
    /// path alone), where it tells.
    pub tail: Vec<Option<serde_json::Value>>,
    /// The values the page's parse reads; `None` where it does not parse.
    pub parsed: Option<Vec<Option<serde_json::Value>>>,
    /// Whether a string of the body spells a watched key with an escape:
    /// a tail read then may differ from the parse, which fails the run.
    pub escaped_key: bool,
}

/// [`EdgeReads`] of `body` for `paths`, each a list of keys from the top
/// level; the head is read for the first path, which must be one key.
pub fn edge_reads(body: &[u8], paths: &[&[&str]]) -> EdgeReads {
    let first = [paths[0][0]];
    let head = match crate::json::leading_members(body, &first) {
        crate::json::Leading::Found(mut values) => values.pop(),
        _ => None,
    };
    let heads_agree =
        (0..body.len()).all(
            |cut| match crate::json::leading_members(&body[..cut], &first) {
                crate::json::Leading::Cut => true,
                crate::json::Leading::Found(values) => head.as_ref() == values.first(),
                crate::json::Leading::Absent => head.is_none(),
            },
        );
    let owned: Vec<Vec<&str>> = paths.iter().map(|path| path.to_vec()).collect();
    let tail = (owned.iter())
        .map(|path| crate::json::trailing_members(body, std::slice::from_ref(path))?.pop())
        .collect();
    let mut scanner = Scanner::default();
    let parsed = scanner.scan(body, None).ok().map(|doc| {
        let watched = owned.iter().map(|keys| {
            let text = keys
                .iter()
                .map(|key| format!("['{key}']"))
                .collect::<String>();
            let path = crate::json::path::JsonPath::parse(&format!("${text}"));
            path.ok()
                .and_then(|path| crate::read::watched_node(doc.root(), &path))
        });
        watched.collect()
    });
    let keys: Vec<&str> = paths.iter().flat_map(|path| path.iter().copied()).collect();
    EdgeReads {
        head,
        heads_agree,
        tail,
        parsed,
        escaped_key: spells_with_an_escape(body, &keys),
    }
}

/// Whether a string of `body` holds an escape and reads as one of `keys`.
fn spells_with_an_escape(body: &[u8], keys: &[&str]) -> bool {
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'"', &body[at..]) {
        let start = at + found;
        let mut end = start + 1;
        while end < body.len() && body[end] != b'"' {
            end += 1 + usize::from(body[end] == b'\\');
        }
        let Some(quoted) = body.get(start..=end) else {
            return false;
        };
        let spelled = quoted.contains(&b'\\')
            && serde_json::from_slice::<String>(quoted).is_ok_and(|text| keys.contains(&&*text));
        if spelled {
            return true;
        }
        at = end + 1;
    }
    false
}

/// A job file of another system (DataWorks, Data Factory, the YAML
/// `rest_api` format), told by its text as `Job::load` tells it, read as
/// from `path`: `None` where the text is none of them. For the fuzz
/// target of job files, which needs no file.
pub fn load_dialect(
    text: &str,
    path: &std::path::Path,
    vars: &crate::job::vars::Vars,
) -> Option<Result<Job>> {
    let dialect = crate::dialect::Dialect::detect(text)?;
    let pick = crate::dialect::Pick::default();
    Some(Job::from_dialect(dialect, text, path, vars, &pick))
}

/// A response body decoded as a run decodes it, for the fuzz target of
/// hostile bodies: the `Content-Encoding` and `Content-Type` the server
/// sent, the body in `pieces` as they arrive, at most `cap` bytes decoded.
/// With `look`, the body so far is read after each piece, as a run reads
/// it for an early next link; those reads come back beside the body.
pub fn decode_body(
    content_encoding: Option<&str>,
    content_type: Option<&str>,
    pieces: &[&[u8]],
    look: bool,
    cap: u64,
) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut headers = http::HeaderMap::new();
    let named = [
        (http::header::CONTENT_ENCODING, content_encoding),
        (http::header::CONTENT_TYPE, content_type),
    ];
    for (name, value) in named {
        if let Some(value) = value {
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| Error::config(format!("`{value}` is no header value")))?;
            headers.insert(name, value);
        }
    }
    crate::net::client::decode_pieces(&headers, pieces, look, cap)
}

fn sink(
    encoding: Encoding,
    columns: &[crate::extract::ColumnSpec],
    out: impl std::io::Write + Send + 'static,
) -> Box<dyn Sink> {
    let out = Destination::writer(Box::new(out));
    match encoding {
        Encoding::Ndjson => Box::new(TextSink::ndjson(out, columns)),
        Encoding::Csv => Box::new(TextSink::csv(out, columns, b',', true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines are the same but for how their numbers are spelled, and for
    /// the order of an object's members; strings and values are not.
    #[test]
    fn lines_differ_only_by_the_spelling_of_their_numbers() {
        let same = |a: &str, b: &str| same_lines_but_numbers(a.as_bytes(), b.as_bytes());
        assert!(same(
            "{\"a\":0e-600,\"b\":2.50}\n",
            "{\"a\":0.0,\"b\":2.5}\n"
        ));
        assert!(same(r#"{"o":{"x":1,"y":2}}"#, r#"{"o":{"y":2,"x":1.0}}"#));
        assert!(same(r#"{"a":1e999,"b":1.0}"#, r#"{"a":1e999,"b":1}"#));
        assert!(!same(r#"{"a":"x"}"#, r#"{"a":"y"}"#));
        assert!(!same(r#"{"a":1e999,"b":1}"#, r#"{"a":1e999,"b":2}"#));
        assert!(!same(
            r#"{"a":1e999,"b":"x\"1"}"#,
            r#"{"a":1e999,"b":"x\"2"}"#
        ));
        assert!(!same("{\"a\":1}\n", "{\"a\":1}\n{\"a\":1}\n"));
    }

    #[test]
    fn the_output_counted_is_the_text_a_page_maker_makes() {
        let job = "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = \"data\"\n";
        let page = br#"{"data":[{"id":1,"name":"a\u0007"},{"id":2,"name":"b"}]}"#;
        let ndjson = PagePipeline::new(job)
            .unwrap()
            .encode(page, Encoding::Ndjson)
            .unwrap();
        assert_eq!(
            ndjson,
            b"{\"id\":1,\"name\":\"a\\u0007\"}\n{\"id\":2,\"name\":\"b\"}\n"
        );
        let mut pipeline = PagePipeline::new(job).unwrap();
        for _ in 0..2 {
            assert_eq!(
                pipeline.run_to_output(page, Encoding::Ndjson).unwrap(),
                (2, ndjson.len() as u64)
            );
        }
        // CSV rows, without the header a file starts with.
        let csv = PagePipeline::new(job)
            .unwrap()
            .encode(page, Encoding::Csv)
            .unwrap();
        assert!(
            csv.starts_with(b"id,name\n"),
            "{}",
            String::from_utf8_lossy(&csv)
        );
        let rows = csv.len() - b"id,name\n".len();
        assert_eq!(
            PagePipeline::new(job)
                .unwrap()
                .run_to_output(page, Encoding::Csv)
                .unwrap(),
            (2, rows as u64)
        );
    }

    #[test]
    fn later_pages_are_checked_against_the_inferred_columns_as_a_run_checks_them() {
        let job = "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = \"data\"\n";
        let mut pipeline = PagePipeline::new(job).unwrap();
        let first = br#"{"data":[{"id":1,"at":"2024-03-01T12:00:00Z"}]}"#;
        assert_eq!(pipeline.run(first).unwrap(), 1);
        let same = br#"{"data":[{"id":2,"at":"2024-03-01T13:00:00.5Z"},{"id":3,"at":null}]}"#;
        assert_eq!(pipeline.run(same).unwrap(), 2);
        // A run would infer its columns again for either page.
        for new in [
            &br#"{"data":[{"id":4,"at":"2024-03-01T12:00:00Z","more":1}]}"#[..],
            br#"{"data":[{"id":4.5,"at":"2024-03-01T12:00:00Z"}]}"#,
        ] {
            let refused = pipeline.run(new).unwrap_err().to_string();
            assert!(
                refused.contains("outside the columns inferred"),
                "{refused}"
            );
        }
    }
}
