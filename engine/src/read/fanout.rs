//! `[fanout]`: the values a job is run once for, read as the run goes so
//! that memory does not grow with their number.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

use hydrant_paginate::Override;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::extract::Placeholders;
use crate::job::{Fanout, FanoutIn, FanoutSource, Job};
use crate::json::node::Node;
use crate::json::scan::Scanner;
use crate::json::write_serde;
use crate::options::{Progress, RunOptions};
use crate::read::{Hooks, OutputHook, run_hooked};

/// The first value of a job: what `check`, `schema` and `explain` show.
/// `[fanout.from]` runs one request of the parent job for it.
pub(crate) async fn first_value(job: &Job, options: &RunOptions) -> Result<FanValue> {
    let mut job = job.clone();
    if let Some(Fanout {
        source: FanoutSource::From(parent),
        ..
    }) = &mut job.fanout
    {
        parent.paginate.max_requests = Some(1);
    }
    let mut feed = Feed::open(&job, options, &mut Progress::default(), &mut Vec::new()).await?;
    if job.incremental.is_some() {
        // The first window, from the stored bookmark.
        let mut tracker = crate::read::incremental::Tracker::stored(&job)?;
        return tracker.next_pass(|| feed.next_value())?.ok_or_else(|| {
            Error::data(format!(
                "job file `{}`: nothing to fetch: the bookmark is at the upper bound of a run",
                job.name
            ))
        });
    }
    feed.next_value()?
        .ok_or_else(|| Error::data(format!("job file `{}`: [fanout] gives no value", job.name)))
}

/// One fan-out value: its placeholders (`{value}`, `{parent.FIELD}`) and
/// where it goes in each request.
#[derive(Debug, Default, Clone)]
pub(crate) struct FanValue {
    pub placeholders: Placeholders,
    pub overrides: Vec<Override>,
}

/// The values of a job, one at a time.
pub(crate) struct Feed {
    fanout: Option<Fanout>,
    source: Source,
    /// Parent records that had no value at `fanout.from.path`.
    skipped: u64,
    /// Fan-out values given so far.
    given: u64,
}

enum Source {
    /// No `[fanout]`: one pass.
    Once(bool),
    Values(std::vec::IntoIter<String>),
    Lines {
        reader: BufReader<File>,
        path: PathBuf,
    },
    /// The parent job's records, in a file without a name, read as pages
    /// are read.
    Parents {
        reader: BufReader<File>,
        scanner: Box<Scanner>,
    },
    /// A partition's values, with their placeholders.
    Given(std::vec::IntoIter<std::collections::BTreeMap<String, String>>),
}

impl Feed {
    /// Opens values that need no network: none, `values`, `values_file`.
    /// `None` for `[fanout.from]`.
    pub(crate) fn open_static(job: &Job) -> Result<Option<Feed>> {
        let Some(fanout) = &job.fanout else {
            return Ok(Some(Feed {
                fanout: None,
                source: Source::Once(false),
                skipped: 0,
                given: 0,
            }));
        };
        let source = match &fanout.source {
            FanoutSource::Values(values) => Source::Values(values.clone().into_iter()),
            FanoutSource::File(path) => {
                let failed = |e| {
                    Error::io(
                        format!("cannot read fanout.values_file `{}`", path.display()),
                        e,
                    )
                };
                let mut reader = BufReader::new(File::open(path).map_err(failed)?);
                // A byte order mark is not part of the first value: sent,
                // it would ask for another.
                if reader
                    .fill_buf()
                    .map_err(failed)?
                    .starts_with(crate::json::BOM)
                {
                    reader.consume(crate::json::BOM.len());
                }
                Source::Lines {
                    reader,
                    path: path.clone(),
                }
            }
            FanoutSource::Given(values) => {
                Source::Given(values.iter().cloned().collect::<Vec<_>>().into_iter())
            }
            FanoutSource::From(_) => return Ok(None),
        };
        Ok(Some(Feed {
            fanout: Some(fanout.clone()),
            source,
            skipped: 0,
            given: 0,
        }))
    }

    /// Opens the values; for `[fanout.from]` this runs the parent job first,
    /// spilling its records to a temporary file.
    pub(crate) async fn open(
        job: &Job,
        options: &RunOptions,
        progress: &mut Progress,
        warnings: &mut Vec<String>,
    ) -> Result<Feed> {
        if let Some(feed) = Feed::open_static(job)? {
            return Ok(feed);
        }
        let Some(fanout) = &job.fanout else {
            unreachable!("open_static handles a job without [fanout]");
        };
        let source = match &fanout.source {
            FanoutSource::Values(_) | FanoutSource::File(_) | FanoutSource::Given(_) => {
                unreachable!("opened by open_static")
            }
            FanoutSource::From(parent) => {
                // The parent records may hold anything the API answered: they
                // go to a file only this process can read, without a name
                // (created unlinked, in TMPDIR), so that nothing is left
                // behind whatever ends the run.
                let spill = tempfile::tempfile().map_err(|e| {
                    Error::io("cannot create a temporary file for the fan-out values", e)
                })?;
                let writer = spill.try_clone().map_err(|e| {
                    Error::io("cannot write the temporary file of the fan-out values", e)
                })?;
                let parent_options = RunOptions {
                    redirect_to: options.redirect_to.clone(),
                    on_progress: None,
                    resume: false,
                    on_exchange: options.on_exchange.clone(),
                    interrupt: options.interrupt.clone(),
                    backfill: None,
                    partition: None,
                };
                let mut hooks = Hooks {
                    output: Some(OutputHook::Writer(Box::new(writer))),
                    ..Hooks::default()
                };
                let summary = Box::pin(run_hooked(parent, parent_options, &mut hooks))
                    .await
                    .map_err(|e| e.prefixed("[fanout.from]: "))?;
                progress.requests += summary.requests;
                progress.bytes += summary.bytes;
                warnings.extend(
                    summary
                        .warnings
                        .into_iter()
                        .map(|w| format!("[fanout.from]: {w}")),
                );
                let mut file = spill;
                file.seek(SeekFrom::Start(0)).map_err(|e| {
                    Error::io("cannot read the temporary file of the fan-out values", e)
                })?;
                Source::Parents {
                    reader: BufReader::new(file),
                    scanner: Box::default(),
                }
            }
        };
        Ok(Feed {
            fanout: Some(fanout.clone()),
            source,
            skipped: 0,
            given: 0,
        })
    }

    /// Parent records that gave no value, so no pass.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Where the values of a `[fanout]` that gave none came from, for a
    /// warning: an empty `values_file` from a failed export, or a parent
    /// job that found nothing, would otherwise pass for a quiet day.
    /// `None` when a value was given, or there is no `[fanout]` to give
    /// one (a partition is given its values).
    pub(crate) fn gave_none(&self) -> Option<String> {
        if self.given > 0 {
            return None;
        }
        match &self.source {
            Source::Lines { path, .. } => Some(format!(
                "fanout.values_file `{}` holds no value",
                path.display()
            )),
            Source::Values(_) => Some("fanout.values is empty".to_owned()),
            Source::Parents { .. } => Some("the [fanout.from] job gave no value".to_owned()),
            Source::Once(_) | Source::Given(_) => None,
        }
    }

    /// The next value, `None` when all are done.
    pub(crate) fn next_value(&mut self) -> Result<Option<FanValue>> {
        let value = self.next_of_source()?;
        if value.is_some() && self.fanout.is_some() {
            self.given += 1;
        }
        Ok(value)
    }

    fn next_of_source(&mut self) -> Result<Option<FanValue>> {
        let (value, parent) = match &mut self.source {
            Source::Once(done) => {
                if *done {
                    return Ok(None);
                }
                *done = true;
                return Ok(Some(FanValue::default()));
            }
            Source::Values(values) => match values.next() {
                Some(value) => (value, None),
                None => return Ok(None),
            },
            Source::Given(values) => {
                let Some(given) = values.next() else {
                    return Ok(None);
                };
                let fanout = self.fanout.as_ref().expect("values come with a fanout");
                let value = given.get("value").cloned().unwrap_or_default();
                return Ok(Some(place(fanout, value, given.into_iter().collect())));
            }
            Source::Lines { reader, path } => loop {
                let mut line = String::new();
                let read = reader.read_line(&mut line).map_err(|e| {
                    Error::io(
                        format!("cannot read fanout.values_file `{}`", path.display()),
                        e,
                    )
                })?;
                if read == 0 {
                    return Ok(None);
                }
                let value = line.trim_end_matches(['\n', '\r']);
                if !value.trim().is_empty() {
                    break (value.to_owned(), None);
                }
            },
            Source::Parents { reader, scanner } => loop {
                let mut line = String::new();
                let read = reader
                    .read_line(&mut line)
                    .map_err(|e| Error::io("cannot read the fan-out values".to_owned(), e))?;
                if read == 0 {
                    return Ok(None);
                }
                let record = parent_record(line.as_bytes(), scanner)?;
                match record.get("value").and_then(scalar_text) {
                    Some(value) => break (value, record.get("parent").cloned()),
                    None => self.skipped += 1,
                }
            },
        };
        let fanout = self.fanout.as_ref().expect("values come with a fanout");
        let mut placeholders = Placeholders::new();
        placeholders.insert("value".to_owned(), value.clone());
        if let Some(parent) = &parent {
            flatten("parent", parent, &mut placeholders);
        }
        Ok(Some(place(fanout, value, placeholders)))
    }
}

/// A fan-out value with its placeholders, and where `[fanout]` puts it.
fn place(fanout: &Fanout, value: String, mut placeholders: Placeholders) -> FanValue {
    let overrides = match (&fanout.param, fanout.placement) {
        (Some(param), FanoutIn::Query) => vec![Override::Query {
            name: param.clone(),
            value,
        }],
        (Some(param), FanoutIn::Header) => vec![Override::Header {
            name: param.clone(),
            value,
        }],
        (Some(param), FanoutIn::Body) => vec![Override::Body {
            path: param.clone(),
            value: Value::String(value),
        }],
        (Some(param), FanoutIn::Url) => {
            placeholders.insert(param.clone(), value);
            Vec::new()
        }
        (None, _) => Vec::new(),
    };
    FanValue {
        placeholders,
        overrides,
    }
}

/// The text of a string, number or boolean.
fn scalar_text(value: &Value) -> Option<String> {
    crate::job::scalar_text("", value).ok()
}

/// A spilled parent record, read as a page is read: a repeated key gives
/// its first value, as `path` took it, and a number past 64 bits, or a
/// double whose shortest text is not its own (`10.10`), is a marked
/// string, so that `{parent.FIELD}` gives its digits as the API wrote
/// them.
fn parent_record(line: &[u8], scanner: &mut Scanner) -> Result<Value> {
    let doc = scanner
        .scan(line, None)
        .map_err(|e| Error::data(format!("a spilled parent record is not JSON: {e}")))?;
    Ok(doc.root().to_serde_spelled())
}

/// A value's JSON text, numbers past 64 bits as their digits.
fn json_text(value: &Value) -> String {
    let mut text = Vec::new();
    write_serde(value, &mut text);
    String::from_utf8(text).unwrap_or_default()
}

/// `parent.a`, `parent.a.b`, … for every member of the parent record.
fn flatten(prefix: &str, value: &Value, out: &mut Placeholders) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                flatten(&format!("{prefix}.{key}"), item, out);
            }
            out.insert(prefix.to_owned(), json_text(value));
        }
        Value::Null => {
            out.insert(prefix.to_owned(), String::new());
        }
        other => {
            out.insert(
                prefix.to_owned(),
                scalar_text(other).unwrap_or_else(|| json_text(other)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobFormat;
    use crate::job::vars::Vars;

    #[test]
    fn a_parent_record_keeps_the_first_of_a_key_and_every_digit() {
        let mut scanner = Scanner::default();
        let value = parent_record(
            br#"{"a": 1, "b": [{"c": "x", "c": "y"}, 0.18955093852823746], "a": 2, "n": 12345678901234567890123, "p": [10.10, 2.5]}"#,
            &mut scanner,
        )
        .unwrap();
        assert_eq!(value["a"], serde_json::json!(1));
        assert_eq!(
            value["b"],
            serde_json::json!([{"c": "x"}, 0.18955093852823746])
        );
        assert_eq!(
            value["n"].as_str().and_then(crate::json::big_number),
            Some("12345678901234567890123")
        );
        // A double as the API spelled it, where its shortest text differs.
        assert_eq!(scalar_text(&value["p"][0]).as_deref(), Some("10.10"));
        assert_eq!(value["p"][1], serde_json::json!(2.5));
        assert!(parent_record(br#"{"a": 1} x"#, &mut scanner).is_err());
    }

    #[test]
    fn a_million_values_stream_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let values = dir.path().join("ids.txt");
        let text: String = (0..1_000_000).map(|i| format!("id-{i}\n")).collect();
        std::fs::write(&values, text).unwrap();
        let job = format!(
            "[request]\nurl = \"https://api.example.com/items/{{value}}\"\n[fanout]\nin = \"url\"\nvalues_file = {:?}\n",
            values.display().to_string()
        );
        let job = Job::parse(&job, JobFormat::Toml, "job.toml", &Vars::isolated([])).unwrap();
        let mut feed = Feed::open_static(&job).unwrap().unwrap();
        let mut count = 0u64;
        let mut last = String::new();
        while let Some(value) = feed.next_value().unwrap() {
            count += 1;
            last = value.placeholders["value"].clone();
        }
        assert_eq!((count, last.as_str()), (1_000_000, "id-999999"));
    }
}
