//! A write job's records in: NDJSON, CSV or Parquet files, stdin, or the
//! records of a read job (`input.job`), each as the JSON text of one record.
//!
//! Everything here blocks: it runs on its own thread and hands records on
//! as they are read, so an input of any size is never held whole.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path as FsPath;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use http::Uri;

use crate::error::{Error, Result};
use crate::job::{Input, InputFormat, Job, OutputFormat};
use crate::json::scan::Scanner;
use crate::json::write_str;
use crate::options::RunOptions;
use crate::read::{Hooks, OutputHook};

/// One input record.
#[derive(Debug)]
pub(crate) enum InputRecord {
    /// The record's JSON text.
    Record(Vec<u8>),
    /// Input that is not a record (a line that is not JSON, a CSV row of
    /// the wrong width): rejected, never dropped.
    Unreadable { text: Vec<u8>, reason: String },
}

pub(crate) type InputRecords = Box<dyn Iterator<Item = Result<InputRecord>> + Send>;

/// The first bytes of a zstd frame (RFC 8878 §3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// `reader`, decoded where it starts as gzip or zstd does (a `.gz` or
/// `.zst` file, or one piped in): its members or frames are read as one
/// text, as `zcat` and `zstd -d` read them.
fn decompressed(reader: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::new(reader);
    let head = io::BufRead::fill_buf(&mut reader)?;
    Ok(if head.starts_with(&crate::net::client::GZIP_MAGIC) {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else if head.starts_with(&ZSTD_MAGIC) {
        Box::new(zstd::stream::read::Decoder::with_buffer(reader)?)
    } else {
        Box::new(reader)
    })
}

/// Opens the input. `redirect_to` (`--replay`) applies to a read job's
/// requests too.
pub(crate) fn open(input: &Input, redirect_to: Option<Uri>) -> Result<InputRecords> {
    match input {
        Input::File { path, format } => {
            let shown = path
                .as_deref()
                .map_or_else(|| "stdin".to_owned(), |p| format!("`{}`", p.display()));
            if *format == InputFormat::Parquet {
                let path = path
                    .as_deref()
                    .expect("validated: Parquet is read from a file");
                return parquet(path);
            }
            let reader: Box<dyn Read + Send> = match path {
                Some(path) => Box::new(std::fs::File::open(path).map_err(|e| {
                    Error::io(format!("cannot open input.path `{}`", path.display()), e)
                })?),
                None => Box::new(io::stdin()),
            };
            let reader = decompressed(reader)
                .map_err(|e| Error::io(format!("cannot read the input {shown}"), e))?;
            Ok(match format {
                InputFormat::Csv => csv(reader, shown),
                _ => Box::new(NdjsonItems::new(Box::new(BufReader::new(reader)), shown)),
            })
        }
        Input::JobFile(path) => {
            let job = Job::load(path, &crate::job::vars::Vars::new([]))
                .map_err(|e| e.prefixed("input.job: "))?;
            from_job(job, redirect_to)
        }
        Input::Job(job) => from_job((**job).clone(), redirect_to),
        Input::Inline { records, repeat } => {
            let records = records.clone();
            let times = usize::try_from(*repeat).unwrap_or(usize::MAX);
            Ok(Box::new(
                std::iter::repeat_n(records, times)
                    .flatten()
                    .map(|r| Ok(InputRecord::Record(r))),
            ))
        }
    }
}

/// The input's size in bytes, when it is a file: a checkpoint is only
/// taken up with the same input.
pub(crate) fn size(input: &Input) -> Option<u64> {
    match input {
        Input::File {
            path: Some(path), ..
        } => std::fs::metadata(path).ok().map(|m| m.len()),
        _ => None,
    }
}

/// Lines of NDJSON; blank lines are skipped.
struct NdjsonItems {
    reader: Box<dyn BufRead + Send>,
    shown: String,
    line: u64,
    scanner: Scanner,
    /// Called once the lines end: a read job's outcome.
    at_end: Option<Box<dyn FnOnce() -> Result<()> + Send>>,
}

impl NdjsonItems {
    fn new(reader: Box<dyn BufRead + Send>, shown: String) -> NdjsonItems {
        NdjsonItems {
            reader,
            shown,
            line: 0,
            scanner: Scanner::default(),
            at_end: None,
        }
    }
}

impl Iterator for NdjsonItems {
    type Item = Result<InputRecord>;

    fn next(&mut self) -> Option<Result<InputRecord>> {
        loop {
            let mut text = Vec::new();
            match self.reader.read_until(b'\n', &mut text) {
                Ok(0) => return self.at_end.take().and_then(|end| end().err()).map(Err),
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(Error::io(
                        format!("cannot read the input {}", self.shown),
                        e,
                    )));
                }
            }
            self.line += 1;
            // A byte order mark is not part of the first record.
            if self.line == 1 && text.starts_with(crate::json::BOM) {
                text.drain(..crate::json::BOM.len());
            }
            let end = text
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            text.truncate(end);
            if text.is_empty() {
                continue;
            }
            // Checked as a page is: what a read job takes, a line may hold.
            let checked = self.scanner.scan(&text, None).map(|_| ());
            return Some(Ok(match checked {
                Ok(()) => InputRecord::Record(text),
                Err(malformed) => InputRecord::Unreadable {
                    reason: format!(
                        "line {} of {} is not JSON: {malformed}",
                        self.line, self.shown
                    ),
                    text,
                },
            }));
        }
    }
}

/// The records of a CSV input read from `reader`, `shown` naming it.
pub(crate) fn csv(reader: Box<dyn Read + Send>, shown: String) -> InputRecords {
    Box::new(CsvItems::new(reader, shown))
}

/// CSV with a header row: each row an object of strings, empty fields
/// null and quoted empty fields (`""`) empty strings, as hydrant's CSV
/// output and database exports (PostgreSQL's `COPY … CSV`) write them.
struct CsvItems {
    reader: csv::Reader<Kept>,
    headers: Option<Vec<Vec<u8>>>,
    shown: String,
    row: csv::StringRecord,
}

impl CsvItems {
    fn new(reader: Box<dyn Read + Send>, shown: String) -> CsvItems {
        CsvItems {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(Kept::new(reader)),
            headers: None,
            shown,
            row: csv::StringRecord::new(),
        }
    }
}

impl Iterator for CsvItems {
    type Item = Result<InputRecord>;

    fn next(&mut self) -> Option<Result<InputRecord>> {
        let line = self.reader.position().line();
        match self.reader.read_record(&mut self.row) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) if e.is_io_error() => {
                let csv::ErrorKind::Io(e) = e.into_kind() else {
                    unreachable!("checked by is_io_error")
                };
                return Some(Err(Error::io(
                    format!("cannot read the input {}", self.shown),
                    e,
                )));
            }
            Err(e) => {
                return Some(Ok(InputRecord::Unreadable {
                    text: Vec::new(),
                    reason: format!("line {line} of {}: {e}", self.shown),
                }));
            }
        }
        let quoted = quoted_empty(&mut self.reader, &self.row);
        let Some(headers) = &self.headers else {
            // Sent twice in one object, a key is ambiguous: APIs keep the
            // first or the last.
            if let Some(name) = repeated(&self.row) {
                return Some(Err(Error::data(format!(
                    "the header of {} names column `{name}` twice: each record would send it twice",
                    self.shown
                ))));
            }
            let mut keys = Vec::with_capacity(self.row.len());
            for (i, name) in self.row.iter().enumerate() {
                let mut key = vec![if i == 0 { b'{' } else { b',' }];
                write_str(name, &mut key);
                key.push(b':');
                keys.push(key);
            }
            self.headers = Some(keys);
            return self.next();
        };
        if self.row.len() != headers.len() {
            let fields: Vec<&str> = self.row.iter().collect();
            return Some(Ok(InputRecord::Unreadable {
                reason: format!(
                    "line {line} of {} has {} fields, the header {}",
                    self.shown,
                    self.row.len(),
                    headers.len()
                ),
                text: serde_json::to_vec(&fields).unwrap_or_default(),
            }));
        }
        let mut text = Vec::with_capacity(self.row.as_slice().len() + 16 * self.row.len());
        for (i, (key, field)) in headers.iter().zip(&self.row).enumerate() {
            text.extend_from_slice(key);
            if field.is_empty() && !quoted.contains(&i) {
                text.extend_from_slice(b"null");
            } else {
                write_str(field, &mut text);
            }
        }
        if headers.is_empty() {
            text.push(b'{');
        }
        text.push(b'}');
        Some(Ok(InputRecord::Record(text)))
    }
}

/// The fields of `row`, just read, that are a quoted empty string: the
/// csv crate gives them as empty, as it does an empty field.
fn quoted_empty(reader: &mut csv::Reader<Kept>, row: &csv::StringRecord) -> Vec<usize> {
    let end = reader.position().byte();
    let kept = reader.get_mut();
    let quoted = match row.position() {
        Some(start) if row.iter().any(str::is_empty) => raw_fields(kept.between(start.byte(), end))
            .enumerate()
            .filter(|(_, raw)| *raw == b"\"\"")
            .map(|(i, _)| i)
            .collect(),
        _ => Vec::new(),
    };
    kept.forget_before(end);
    quoted
}

/// The raw text of each field of a CSV record, quotes kept: a quote
/// opens or closes a quoted run (a doubled quote does both), and only a
/// comma or line end outside one ends a field.
fn raw_fields(record: &[u8]) -> impl Iterator<Item = &[u8]> {
    let record = record.trim_ascii_start();
    let mut quoted = false;
    let end = record
        .iter()
        .position(|&b| {
            quoted ^= b == b'"';
            !quoted && (b == b'\n' || b == b'\r')
        })
        .unwrap_or(record.len());
    let mut quoted = false;
    record[..end].split(move |&b| {
        quoted ^= b == b'"';
        !quoted && b == b','
    })
}

/// A CSV input's reader that keeps the bytes read since the row being
/// looked at, by their offset in the input.
struct Kept {
    inner: Box<dyn Read + Send>,
    bytes: Vec<u8>,
    /// The offset of `bytes[0]`.
    from: u64,
}

impl Kept {
    fn new(inner: Box<dyn Read + Send>) -> Kept {
        Kept {
            inner,
            bytes: Vec::new(),
            from: 0,
        }
    }

    /// The bytes at offsets `start..end`, as far as they are kept.
    fn between(&self, start: u64, end: u64) -> &[u8] {
        let at = |offset: u64| {
            usize::try_from(offset.saturating_sub(self.from))
                .unwrap_or(usize::MAX)
                .min(self.bytes.len())
        };
        &self.bytes[at(start)..at(end)]
    }

    /// Lets go of the bytes before `offset`, a few at a time.
    fn forget_before(&mut self, offset: u64) {
        let upto = usize::try_from(offset.saturating_sub(self.from)).unwrap_or(usize::MAX);
        if upto >= KEPT_SLACK {
            let upto = upto.min(self.bytes.len());
            self.bytes.drain(..upto);
            self.from += upto as u64;
        }
    }
}

/// How many bytes before the row looked at [`Kept`] may hold before it
/// lets go of them: a row's bytes are moved once per this many.
const KEPT_SLACK: usize = 1 << 16;

impl Read for Kept {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.bytes.extend_from_slice(&buf[..read]);
        Ok(read)
    }
}

/// The first name a CSV header holds twice.
fn repeated(names: &csv::StringRecord) -> Option<&str> {
    names
        .iter()
        .enumerate()
        .find(|&(at, name)| names.iter().take(at).any(|earlier| earlier == name))
        .map(|(_, name)| name)
}

/// A read job run on its own thread, its NDJSON output piped in.
fn from_job(mut job: Job, redirect_to: Option<Uri>) -> Result<InputRecords> {
    job.output.format = OutputFormat::Ndjson;
    job.output.path = None;
    // The write job's checkpoint counts the batches; the read job runs whole.
    job.state = None;
    let shown = format!("of input.job `{}`", job.name);
    let (sender, receiver) = sync_channel(4);
    let runner = std::thread::Builder::new()
        .name("hydrant-input-job".into())
        .spawn(move || -> Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io("cannot start the input job's runtime", e))?;
            let options = RunOptions {
                redirect_to,
                ..RunOptions::default()
            };
            let mut hooks = Hooks {
                output: Some(OutputHook::Writer(Box::new(PipeWriter(sender)))),
                ..Hooks::default()
            };
            runtime
                .block_on(crate::read::run_hooked(&job, options, &mut hooks))
                .map(drop)
                .map_err(|e| e.prefixed(&format!("input.job `{}`: ", job.name)))
        })
        .map_err(|e| Error::io("cannot start the input job's thread", e))?;
    let mut items = NdjsonItems::new(Box::new(PipeReader::new(receiver)), shown);
    items.at_end = Some(Box::new(move || {
        runner
            .join()
            .unwrap_or_else(|_| Err(Error::data("the input job's thread panicked")))
    }));
    Ok(Box::new(items))
}

/// The read job's side of the pipe: a full pipe makes it wait, so the read
/// job goes no faster than the writes.
struct PipeWriter(SyncSender<Vec<u8>>);

impl io::Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the write job stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct PipeReader {
    receiver: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl PipeReader {
    fn new(receiver: Receiver<Vec<u8>>) -> PipeReader {
        PipeReader {
            receiver,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for PipeReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at == self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                // The read job is done (or failed: its outcome says which).
                Err(_) => return Ok(&[]),
            }
        }
        Ok(&self.chunk[self.at..])
    }

    fn consume(&mut self, amount: usize) {
        self.at += amount;
    }
}

#[cfg(not(feature = "parquet"))]
fn parquet(path: &FsPath) -> Result<InputRecords> {
    Err(Error::config(format!(
        "input.path `{}`: this hydrant was built without Parquet (cargo feature `parquet`)",
        path.display()
    )))
}

#[cfg(feature = "parquet")]
fn parquet(path: &FsPath) -> Result<InputRecords> {
    crate::write::parquet::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records a CSV input gives, as text.
    fn csv_records(text: &[u8]) -> Vec<String> {
        let reader: Box<dyn Read + Send> = Box::new(io::Cursor::new(text.to_vec()));
        CsvItems::new(reader, "in.csv".to_owned())
            .map(|item| match item.unwrap() {
                InputRecord::Record(text) => String::from_utf8(text).unwrap(),
                InputRecord::Unreadable { reason, .. } => panic!("{reason}"),
            })
            .collect()
    }

    #[test]
    fn a_quoted_empty_field_is_an_empty_string_and_an_empty_one_null() {
        let text =
            "\u{feff}a,b,c\r\n\"\",,\"\"\"\"\r\n\r\n,\"\",\"x\n\"\"\"\"\n\"\n\" \",\"\"\"\",\n";
        assert_eq!(
            csv_records(text.as_bytes()),
            [
                r#"{"a":"","b":null,"c":"\""}"#,
                r#"{"a":null,"b":"","c":"x\n\"\"\n"}"#,
                r#"{"a":" ","b":"\"","c":null}"#,
            ]
        );
    }

    #[test]
    fn quoted_empty_fields_are_told_far_into_an_input() {
        // Past the bytes kept before they are let go of, and rows whose
        // quotes span the reader's buffer.
        let mut text = String::from("id,note,tag\n");
        let mut expected = Vec::new();
        for i in 0..20_000 {
            let (note, sent) = match i % 3 {
                0 => ("\"\"".to_owned(), "\"\"".to_owned()),
                1 => (String::new(), "null".to_owned()),
                _ => (format!("\"n,{i}\"\"\""), format!("\"n,{i}\\\"\"")),
            };
            text.push_str(&format!("{i},{note},\"\"\n"));
            expected.push(format!(r#"{{"id":"{i}","note":{sent},"tag":""}}"#));
        }
        assert_eq!(csv_records(text.as_bytes()), expected);
    }
}
