//! Job files of other systems, read as the native job they mean.
//!
//! A dialect turns its file into a native job document (the JSON form of a
//! job file) and notes for the keys it could not carry over. `Job::load`
//! parses that document like any native job, so that a file and its
//! `hydrant convert` output run the same; `convert` prints it as TOML with
//! the notes as comments.

mod adf;
mod dataworks;
mod yaml;

use serde_json::{Map, Value};

/// Which part of another system's job file to run, when it holds several:
/// `--activity`, `--input`, `--output-name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pick {
    /// The Copy activity of a Data Factory pipeline, by name.
    pub activity: Option<String>,
    /// The entry of a YAML file's `CONFIG.inputs`, by name.
    pub input: Option<String>,
    /// The entry of a YAML file's `CONFIG.outputs`, by name.
    pub output: Option<String>,
}

/// A job file format that is not hydrant's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Alibaba DataWorks (and Dataphin) job JSON, or a DataX job.
    DataWorks,
    /// An Azure Data Factory pipeline, or an ARM template holding one.
    DataFactory,
    /// The YAML ETL framework's `rest_api` format.
    RestApiYaml,
}

impl Dialect {
    /// The dialect of a job file, if it is not a native one.
    pub(crate) fn detect(text: &str) -> Option<Dialect> {
        // A native job is parsed again by `Job::parse`: the names each
        // dialect needs are looked for first, so that a native job is read
        // once, not three times.
        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') {
            return (text.contains("CONFIG") && yaml::is_yaml(text))
                .then_some(Dialect::RestApiYaml);
        }
        let names = ["\"steps\"", "\"job\"", "\"activities\"", "\"resources\""];
        if !names.iter().any(|name| text.contains(name)) {
            return None;
        }
        let value: Value = serde_json::from_str(trimmed).ok()?;
        if dataworks::is_dataworks(&value) {
            return Some(Dialect::DataWorks);
        }
        if adf::is_adf(&value) {
            return Some(Dialect::DataFactory);
        }
        None
    }

    /// The name users know the format by.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::DataWorks => "DataWorks",
            Dialect::DataFactory => "Data Factory",
            Dialect::RestApiYaml => "YAML rest_api",
        }
    }

    /// The native job document that `text`, read from `path`, means.
    pub(crate) fn convert(
        self,
        text: &str,
        path: &std::path::Path,
        pick: &Pick,
    ) -> Result<Converted, DialectError> {
        let json = || -> Result<Value, DialectError> {
            serde_json::from_str(text)
                .map_err(|e| DialectError::new("", format!("not valid JSON: {e}")))
        };
        match self {
            Dialect::DataWorks => dataworks::convert(&json()?),
            Dialect::DataFactory => adf::convert(&json()?, path, pick.activity.as_deref()),
            Dialect::RestApiYaml => yaml::convert(text, pick),
        }
    }
}

/// A job file of another system as a native job.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    /// The native job, as the JSON form of a job file.
    pub(crate) job: Map<String, Value>,
    /// Keys of the original that the native job does not carry.
    pub(crate) notes: Vec<Note>,
}

/// A key of the original that has no equivalent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    /// The native table it would belong to (`request`, `limits`, …), or
    /// `""` for the job as a whole.
    pub(crate) table: &'static str,
    /// The key as the original file spells it.
    pub(crate) key: String,
    pub(crate) why: String,
}

impl Note {
    /// The notice a run gives once.
    pub(crate) fn notice(&self) -> String {
        format!("`{}` is ignored: {}", self.key, self.why)
    }
}

/// A key of the original that hydrant cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{problem}", if key.is_empty() { String::new() } else { format!("`{key}`: ") })]
pub(crate) struct DialectError {
    key: String,
    problem: String,
}

impl DialectError {
    pub(crate) fn new(key: impl Into<String>, problem: impl Into<String>) -> DialectError {
        DialectError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl Converted {
    /// A table of the native job, made if missing.
    fn table(&mut self, name: &str) -> &mut Map<String, Value> {
        let entry = self
            .job
            .entry(name.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry.as_object_mut().expect("native tables are objects")
    }

    /// Sets `table.key`.
    fn set(&mut self, table: &str, key: &str, value: impl Into<Value>) {
        self.table(table).insert(key.to_owned(), value.into());
    }

    fn note(&mut self, table: &'static str, key: impl Into<String>, why: impl Into<String>) {
        self.notes.push(Note {
            table,
            key: key.into(),
            why: why.into(),
        });
    }

    /// The native job as TOML, each note a comment under the table it
    /// belongs to.
    pub(crate) fn to_toml(&self, dialect: Dialect) -> Result<String, DialectError> {
        let mut out = format!("# converted from a {} job file\n", dialect.name());
        for note in self.notes.iter().filter(|n| n.table.is_empty()) {
            out.push_str(&format!("# {}\n", note.notice()));
        }
        for (name, value) in &self.job {
            let mut one = toml::Table::new();
            let value = toml::Value::try_from(value)
                .map_err(|e| DialectError::new(name.as_str(), format!("has no TOML form: {e}")))?;
            one.insert(name.clone(), value);
            let text = toml::to_string(&one)
                .map_err(|e| DialectError::new(name.as_str(), format!("has no TOML form: {e}")))?;
            out.push('\n');
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            out.push_str(header);
            out.push('\n');
            for note in self.notes.iter().filter(|n| n.table == name) {
                out.push_str(&format!("# {}\n", note.notice()));
            }
            for line in lines {
                out.push_str(line);
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// The first key of `table` that is not one of `keys`: a dialect refuses
/// it, as a typo would otherwise be a setting silently not applied.
fn unknown_key<'m>(table: &'m Map<String, Value>, keys: &[&str]) -> Option<&'m str> {
    table.keys().map(String::as_str).find(|k| !keys.contains(k))
}

/// Whether an encoding's name is UTF-8's, the only one hydrant's files
/// are read and written in (`UTF-8`, `utf8`, …).
fn is_utf8(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
}

/// A member of a JSON object, by name.
fn member<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    object.as_object()?.get(name)
}

/// A value as text: strings as they are, numbers and booleans written.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number, written as a number or as a string of digits.
fn whole(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
