//! From input records to the body of each request: the columns' mapping
//! into nested members, batches, the `data_path` wrap and gzip.

use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::job::InputFormat;
use crate::json::node::{self, Node as _, View};

/// Maps records through `[[write.columns]]` and builds request bodies.
#[derive(Debug)]
pub(super) struct Encoder {
    pub(super) batch_size: usize,
    pub(super) single: bool,
    pub(super) gzip: bool,
    /// `{"a":{"b":` … `}}` around the batch for `data_path = "a.b"`.
    pub(super) wrap: (Vec<u8>, Vec<u8>),
    pub(super) mapping: Option<Mapping>,
    /// Placeholder names of `write.url` (single mode).
    pub(super) url_names: Vec<String>,
    /// The input as messages name it, when its records all have the same
    /// fields (CSV, Parquet): see [`Encoder::check_fields`].
    fixed_fields: Option<String>,
}

#[derive(Debug)]
pub(super) struct Mapping {
    pub(super) extractor: Extractor,
    pub(super) layout: Vec<(Vec<u8>, Member)>,
    /// The index a read job reads its cells from, so that a record is
    /// read as a page is: a number's spelling, numbers past 64 bits, lone
    /// surrogates, repeated keys.
    scanner: std::sync::Mutex<crate::json::scan::Scanner>,
    /// Records read with an escape of a lone surrogate, sent as U+FFFD.
    lone_surrogates: std::sync::atomic::AtomicU64,
    /// Records mapped, and by column those without a value at its
    /// `from`: a column none had is told at the end of the run.
    mapped: AtomicU64,
    absent: Vec<AtomicU64>,
}

/// Where a column lands in the JSON sent.
#[derive(Debug)]
pub(super) enum Member {
    Column(usize),
    Object(Vec<(Vec<u8>, Member)>),
}

impl Encoder {
    pub(super) fn new(write: &Write, url: &str) -> Encoder {
        let mut wrap = (Vec::new(), Vec::new());
        for part in write.data_path.iter().flat_map(|p| p.split('.')) {
            wrap.0.push(b'{');
            write_str(part, &mut wrap.0);
            wrap.0.push(b':');
            wrap.1.push(b'}');
        }
        Encoder {
            batch_size: write.batch_size,
            single: write.single,
            gzip: write.gzip,
            wrap,
            mapping: write.columns.as_ref().map(|columns| Mapping::new(columns)),
            url_names: url_names(url),
            fixed_fields: match &write.input {
                Input::File {
                    path: Some(path),
                    format: InputFormat::Csv | InputFormat::Parquet,
                } => Some(format!("`{}`", path.display())),
                Input::File {
                    path: None,
                    format: InputFormat::Csv,
                } => Some("stdin".to_owned()),
                _ => None,
            },
        }
    }

    pub(super) fn batch(&self, index: u64, items: Vec<InputRecord>) -> Outgoing {
        let mut records = Vec::with_capacity(items.len());
        let mut early = Vec::new();
        let mut placeholders = HashMap::new();
        for item in items {
            let text = match item {
                InputRecord::Record(text) => text,
                InputRecord::Unreadable { text, reason } => {
                    early.push(Rejected {
                        is_json: false,
                        ..Rejected::before_sending(text, reason)
                    });
                    continue;
                }
            };
            if self.single && !self.url_names.is_empty() {
                match url_values(&text, &self.url_names, &mut Scanner::default()) {
                    Ok(values) => placeholders = values,
                    Err(reason) => {
                        early.push(Rejected::before_sending(text, reason));
                        continue;
                    }
                }
            }
            match &self.mapping {
                None => records.push(text),
                Some(mapping) => match mapping.map(&text) {
                    Ok(mapped) => records.push(mapped),
                    Err(reason) => early.push(Rejected::before_sending(text, reason)),
                },
            }
        }
        let body = if records.is_empty() {
            Vec::new()
        } else {
            self.body(&records)
        };
        Outgoing {
            index,
            records,
            body,
            placeholders,
            early,
        }
    }

    /// The request body of `records`: their JSON, gzipped when the job
    /// says so.
    pub(super) fn body(&self, records: &[Vec<u8>]) -> Vec<u8> {
        let body = self.json(records);
        if !self.gzip {
            return body;
        }
        let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
        encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .expect("writing to memory does not fail")
    }

    /// The JSON of a batch: an array of `records` (one record in single
    /// mode), wrapped in `data_path`.
    pub(super) fn json(&self, records: &[Vec<u8>]) -> Vec<u8> {
        let size: usize = records.iter().map(|r| r.len() + 1).sum();
        let mut body = Vec::with_capacity(size + self.wrap.0.len() + self.wrap.1.len() + 2);
        body.extend_from_slice(&self.wrap.0);
        if self.single {
            body.extend_from_slice(&records[0]);
        } else {
            body.push(b'[');
            for (i, record) in records.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(record);
            }
            body.push(b']');
        }
        body.extend_from_slice(&self.wrap.1);
        body
    }
}

impl Encoder {
    /// The warning of the records the mapping sent with U+FFFD for a lone
    /// surrogate, if any were.
    /// A warning for each mapped column that none of the records mapped
    /// had a value for: most often a misspelled `from`, which sent the
    /// column as null in every record.
    /// `hydrant check` says it of the first batch, which it does not send.
    pub(super) fn absent_said(&self, in_check: bool) -> Vec<String> {
        let Some(mapping) = &self.mapping else {
            return Vec::new();
        };
        let mapped = mapping.mapped.load(Ordering::Relaxed);
        let columns = mapping.extractor.columns();
        (columns.iter().zip(&mapping.absent))
            .filter(|(_, absent)| mapped > 0 && absent.load(Ordering::Relaxed) == mapped)
            .map(|(column, _)| {
                let (records, went) = match in_check {
                    false => ("records sent", "went"),
                    true => ("records of the first batch", "would go"),
                };
                format!(
                    "write.columns `{}`: none of the {mapped} {records} has a value at `{}`, \
                     so `{}` {went} as null in all of them (a misspelled `from`?)",
                    column.name,
                    column.path_text(),
                    column.name
                )
            })
            .collect()
    }

    /// Fails before anything is sent when the input's fields are fixed (a
    /// CSV header, a Parquet schema) and a mapped column's `from` names
    /// none of them: every record would send that column as null.
    pub(super) fn check_fields(&self, first: &InputRecord) -> Result<()> {
        let (Some(mapping), Some(input), InputRecord::Record(text)) =
            (&self.mapping, &self.fixed_fields, first)
        else {
            return Ok(());
        };
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(text) else {
            return Ok(());
        };
        for column in mapping.extractor.columns() {
            let first_key = match column.path.as_ref().and_then(|p| p.segments()) {
                Some([crate::json::path::Segment::Key(key), ..]) => key,
                _ => continue,
            };
            if !fields.contains_key(first_key) {
                let names: Vec<String> = fields.keys().map(|k| format!("`{k}`")).collect();
                return Err(Error::config(format!(
                    "write.columns `{}`: from `{}` names no field of the input {input} (its \
                     fields: {}), so every record would send `{}` as null; nothing was sent",
                    column.name,
                    column.path_text(),
                    names.join(", "),
                    column.name
                )));
            }
        }
        Ok(())
    }

    pub(super) fn lone_surrogates_said(&self) -> Option<String> {
        let records = self
            .mapping
            .as_ref()?
            .lone_surrogates
            .load(std::sync::atomic::Ordering::Relaxed);
        (records > 0).then(|| {
            format!(
                "{records} records held escapes of a lone UTF-16 surrogate (such as \\ud800 \
                 without its pair), which UTF-8 text cannot hold: [[write.columns]] sent each \
                 as U+FFFD"
            )
        })
    }
}

impl Mapping {
    pub(super) fn new(columns: &[ColumnSpec]) -> Mapping {
        let mut layout: Vec<(Vec<u8>, Member)> = Vec::new();
        for (index, column) in columns.iter().enumerate() {
            let parts: Vec<&str> = column.name.split('.').collect();
            place(&mut layout, &parts, index);
        }
        let records = Records {
            lines: false,
            path: None,
            mode: RecordMode::One,
            missing_is_dirty: false,
            bad_type_is_dirty: true,
            max_dirty: 0,
            dirty_path: None,
            flatten: ".".to_owned(),
            infer_pages: 1,
            paged: false,
            non_finite_null: false,
            parent: None,
        };
        Mapping {
            extractor: Extractor::new(columns.to_vec(), &records).noting_absent(),
            layout,
            scanner: std::sync::Mutex::default(),
            lone_surrogates: std::sync::atomic::AtomicU64::new(0),
            mapped: AtomicU64::new(0),
            absent: columns.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The record as the columns say, or why it cannot be.
    pub(super) fn map(&self, text: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let mut scanner = self
            .scanner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let doc = scanner
            .scan(text, None)
            .map_err(|e| format!("the record is not JSON: {e}"))?;
        if doc.lone_surrogates() > 0 {
            self.lone_surrogates
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let value = doc.root();
        if !value.is_object() {
            return Err("the record is not a JSON object, so write.columns cannot read it".into());
        }
        let mut batch = Batch::default();
        self.extractor
            .extract(&[value], &HashMap::new(), &mut batch);
        if let Some(dirty) = batch.dirty.pop() {
            return Err(dirty.reason);
        }
        self.mapped.fetch_add(1, Ordering::Relaxed);
        for cell in batch.tolerated.iter().filter(|t| t.missing) {
            self.absent[cell.column].fetch_add(1, Ordering::Relaxed);
        }
        let mut out = Vec::with_capacity(text.len());
        write_members(&self.layout, &batch.cells, &mut out);
        Ok(out)
    }
}

/// Puts column `index` at the dotted `parts` of the layout.
pub(super) fn place(level: &mut Vec<(Vec<u8>, Member)>, parts: &[&str], index: usize) {
    let mut key = Vec::new();
    write_str(parts[0], &mut key);
    let found = level.iter().position(|(k, _)| *k == key);
    let at = found.unwrap_or_else(|| {
        let member = if parts.len() == 1 {
            Member::Column(index)
        } else {
            Member::Object(Vec::new())
        };
        level.push((key, member));
        level.len() - 1
    });
    // Validation refuses a column inside another's value, so a leaf is
    // never descended into.
    if let (Member::Object(children), [_, rest @ ..]) = (&mut level[at].1, parts)
        && !rest.is_empty()
    {
        place(children, rest, index);
    }
}

pub(super) fn write_members(members: &[(Vec<u8>, Member)], cells: &[Cell<'_>], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, member)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key);
        out.push(b':');
        match member {
            Member::Column(column) => write_json_cell(&cells[*column], out),
            Member::Object(children) => write_members(children, cells, out),
        }
    }
    out.push(b'}');
}

/// The `{name}` placeholders of `write.url`.
pub(super) fn url_names(url: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        names.push(rest[open + 1..open + close].to_owned());
        rest = &rest[open + close + 1..];
    }
    names
}

/// The values of `names` in a record's top-level members, read as a page
/// is read (the first of a repeated key): a string's text, a number or
/// boolean as the record spells it (an id past 64 bits keeps its digits,
/// `10.10` its zero).
pub(super) fn url_values(
    text: &[u8],
    names: &[String],
    scanner: &mut Scanner,
) -> std::result::Result<HashMap<String, String>, String> {
    let doc = scanner
        .scan(text, None)
        .map_err(|e| format!("the record is not JSON: {e}"))?;
    // `Node`'s methods by name: simd-json's values here have their own.
    let root = doc.root();
    names
        .iter()
        .map(|name| {
            let value = node::Node::get(root, name);
            let text = match value.map(|v| (v, node::Node::view(v))) {
                // A lone surrogate's escape is read as U+FFFD, which would
                // name another resource.
                Some((_, View::Str(s))) if doc.lone_surrogates() > 0 && s.contains('\u{fffd}') => {
                    return Err(format!(
                        "write.url: placeholder `{{{name}}}` holds an escape of a lone surrogate"
                    ));
                }
                Some((_, View::Str(s))) => s.to_owned(),
                Some((_, View::Bool(b))) => b.to_string(),
                Some((v, View::I64(_) | View::U64(_) | View::F64(_) | View::Big(_))) => {
                    node::Node::number_text(v).unwrap_or_default().to_owned()
                }
                _ => {
                    return Err(format!(
                        "write.url: placeholder `{{{name}}}` has no string or number in this record"
                    ));
                }
            };
            Ok((name.clone(), text))
        })
        .collect()
}
