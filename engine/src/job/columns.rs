//! Output columns as a job declares them, and the values that fill their
//! placeholders.

use std::collections::HashMap;

use crate::json::path::JsonPath;

/// The type of an output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Long,
    /// 32-bit float.
    Float,
    /// 64-bit float.
    Double,
    /// `true` or `false`.
    Boolean,
    /// A calendar day.
    Date,
    /// An instant, to the microsecond, in UTC.
    Timestamp,
    /// Bytes, base64 in JSON.
    Binary,
    /// The value's JSON text.
    Json,
}

impl ColumnType {
    /// Parses a type name of a job file.
    pub fn parse(name: &str) -> Option<ColumnType> {
        Some(match name {
            "string" => ColumnType::String,
            "int" => ColumnType::Int,
            "long" => ColumnType::Long,
            "float" => ColumnType::Float,
            "double" => ColumnType::Double,
            "boolean" => ColumnType::Boolean,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            "binary" => ColumnType::Binary,
            "json" => ColumnType::Json,
            _ => return None,
        })
    }

    /// The name of the type in a job file.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int => "int",
            ColumnType::Long => "long",
            ColumnType::Float => "float",
            ColumnType::Double => "double",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Binary => "binary",
            ColumnType::Json => "json",
        }
    }
}

/// A declared (or inferred) output column.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    /// The column's name in the output.
    pub name: String,
    /// Where in the record; `None` when `value`, `page_path` or
    /// `parent_path` is given.
    pub path: Option<JsonPath>,
    /// Where in the page, outside the records: one value a page, the
    /// same in each of its rows (a Data Factory mapping's `$` path beside
    /// a `collectionReference`).
    pub page_path: Option<JsonPath>,
    /// Where in the record's parent, the element of the array above the
    /// records in `records.path` (a run of `runs[*].metrics[*]`): the same
    /// in each record under it.
    pub parent_path: Option<JsonPath>,
    /// The column's type.
    pub kind: ColumnType,
    /// strftime format for `date` and `timestamp` strings.
    pub format: Option<String>,
    /// A constant or placeholder template instead of `path`.
    pub value: Option<String>,
}

impl ColumnSpec {
    /// Where the column reads its value, as the job gives it: its `path`
    /// (a write column's `from`), `page_path` or `parent_path`, else its
    /// name, read as a dotted path.
    pub(crate) fn path_text(&self) -> &str {
        (self.path.as_ref())
            .or(self.page_path.as_ref())
            .or(self.parent_path.as_ref())
            .map_or(self.name.as_str(), |p| p.as_str())
    }
}

#[cfg(test)]
impl ColumnSpec {
    /// A column of `kind` named `name`, for the tests of what writes
    /// cells, which read no path.
    pub(crate) fn named(name: &str, kind: ColumnType) -> ColumnSpec {
        ColumnSpec {
            name: name.to_owned(),
            path: None,
            page_path: None,
            parent_path: None,
            kind,
            format: None,
            value: None,
        }
    }
}

/// Values that fill `{name}` placeholders of constant columns.
pub(crate) type Placeholders = HashMap<String, String>;

/// Whether the text between a pair of braces in a column's `value` names
/// a placeholder. JSON's braces (`{"a": 1}`) hold quotes, colons or
/// spaces, and stand as written.
fn is_placeholder(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(|c: char| c.is_whitespace() || matches!(c, '"' | ':' | ',' | '{'))
}

/// A piece of a column's `value`: text as written, or a placeholder's
/// name (`{name}`).
#[derive(Debug, PartialEq)]
pub(crate) enum Piece<'t> {
    Text(&'t str),
    Placeholder(&'t str),
}

/// The pieces of a column's `value`, in order: the one reading of its
/// braces, for filling it and for checking it.
pub(crate) fn pieces(value: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = value;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut from = 0;
        while let Some(open) = rest[from..].find('{').map(|at| at + from) {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + close];
            if !is_placeholder(name) {
                from = open + 1;
                continue;
            }
            if open > 0 {
                let text = &rest[..open];
                rest = &rest[open..];
                return Some(Piece::Text(text));
            }
            rest = &rest[close + 1..];
            return Some(Piece::Placeholder(name));
        }
        Some(Piece::Text(std::mem::take(&mut rest)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_cut_at_its_placeholders_alone() {
        fn cut(value: &str) -> Vec<Piece<'_>> {
            pieces(value).collect()
        }
        use Piece::{Placeholder, Text};
        assert_eq!(
            cut("a{x}b{y}"),
            [Text("a"), Placeholder("x"), Text("b"), Placeholder("y")]
        );
        assert_eq!(cut("{x}"), [Placeholder("x")]);
        assert_eq!(cut(""), []);
        // JSON's braces, a brace left open, and spaces stand as written.
        assert_eq!(
            cut(r#"{"a": {x}, "b": {}}"#),
            [Text(r#"{"a": "#), Placeholder("x"), Text(r#", "b": {}}"#)]
        );
        assert_eq!(cut("{x"), [Text("{x")]);
        assert_eq!(cut("{ x }{a{b}"), [Text("{ x }{a"), Placeholder("b")]);
    }
}
