//! A value to its column type, or the reason the record is dirty.

use super::*;
use crate::job::columns::Piece;

#[derive(Debug, Clone)]
pub(super) enum Problem {
    Missing,
    BadType(String),
    Template(String),
}

impl Problem {
    /// The problem without its value: what dirty records are counted by.
    pub(super) fn kind(&self, column: &ColumnSpec) -> String {
        match self {
            Problem::Missing => format!("column `{}`: missing", column.name),
            Problem::BadType(_) => {
                format!(
                    "column `{}`: bad type ({})",
                    column.name,
                    column.kind.as_str()
                )
            }
            Problem::Template(_) => format!("column `{}`: template", column.name),
        }
    }

    pub(super) fn describe(self, column: &ColumnSpec) -> String {
        match self {
            Problem::Missing => match (&column.page_path, &column.parent_path) {
                (Some(path), _) => format!(
                    "column `{}`: no value at `{}` in the page",
                    column.name,
                    path.as_str()
                ),
                (_, Some(path)) => format!(
                    "column `{}`: no value at `{}` in the record's parent",
                    column.name,
                    path.as_str()
                ),
                (None, None) => format!(
                    "column `{}`: no value at `{}`",
                    column.name,
                    column.path.as_ref().map_or("", |p| p.as_str())
                ),
            },
            Problem::BadType(why) => {
                format!("column `{}` ({}): {why}", column.name, column.kind.as_str())
            }
            Problem::Template(why) => format!("column `{}`: {why}", column.name),
        }
    }
}

pub(super) fn fill(template: &str, placeholders: &Placeholders) -> Result<String, Problem> {
    let mut out = String::with_capacity(template.len());
    for piece in crate::job::columns::pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(name) => out.push_str(placeholders.get(name).ok_or_else(|| {
                Problem::Template(format!("placeholder `{{{name}}}` has no value here"))
            })?),
        }
    }
    Ok(out)
}

/// Converts a multi-valued (array) result: only `json` and `string` take it.
pub(super) fn convert_compound(
    column: &ColumnSpec,
    text: Vec<u8>,
) -> Result<Cell<'static>, Problem> {
    match column.kind {
        ColumnType::Json => Ok(Cell::Json(text)),
        ColumnType::String => Ok(Cell::Str(Cow::Owned(
            String::from_utf8(text).unwrap_or_default(),
        ))),
        _ => Err(Problem::BadType(
            "the path selects several values; use type `json` or `string`".to_owned(),
        )),
    }
}

/// A string value for a message: quoted, cut at 60 characters.
pub(crate) fn shown(text: &str) -> String {
    format!("{:?}", truncated(text))
}

pub(super) fn truncated(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Writes `value` as a cell of `column` into `cell`, which holds a null
/// and is left so for a null value and on a problem. `text` is a
/// number's text as its page spells it, where the page is at hand.
#[inline(always)]
pub(super) fn convert<'v>(
    value: View<'v>,
    text: Option<&'v str>,
    column: &ColumnSpec,
    json_text: &mut dyn FnMut() -> Vec<u8>,
    cell: &mut Cell<'v>,
) -> Result<(), Problem> {
    let bad = |what: String| Err(Problem::BadType(what));
    if let View::Null = value {
        return Ok(());
    }
    *cell = match column.kind {
        ColumnType::Json => Cell::Json(match value {
            View::Big(literal) => literal.as_bytes().to_vec(),
            _ => json_text(),
        }),
        ColumnType::String => Cell::Str(match value {
            View::Str(s) => Cow::Borrowed(s),
            View::Big(literal) => Cow::Borrowed(literal),
            View::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            View::I64(i) => Cow::Owned(itoa::Buffer::new().format(i).to_owned()),
            View::U64(u) => Cow::Owned(itoa::Buffer::new().format(u).to_owned()),
            // As the API wrote it where the page's index keeps the text.
            View::F64(_) | View::Null | View::Compound => {
                Cow::Owned(String::from_utf8(json_text()).unwrap_or_default())
            }
        }),
        ColumnType::Int | ColumnType::Long => {
            let wide = match value {
                View::I64(i) => Some(i128::from(i)),
                View::U64(u) => Some(i128::from(u)),
                View::F64(f) if f.fract() == 0.0 && f.abs() < 1e19 => Some(f as i128),
                View::Str(s) => s.parse::<i128>().ok(),
                _ => None,
            };
            let (min, max) = if column.kind == ColumnType::Int {
                (i128::from(i32::MIN), i128::from(i32::MAX))
            } else {
                (i128::from(i64::MIN), i128::from(i64::MAX))
            };
            match wide {
                Some(n) if (min..=max).contains(&n) => Cell::Int(n as i64),
                Some(_) => return bad(format!("{} is out of range", describe(value, json_text))),
                None => {
                    let why = match value {
                        View::Big(_) => "is out of range",
                        // A number column typed by the values seen first
                        // (all whole, or all 0) meets its first fraction.
                        View::F64(_) => "is not an integer (a `double` column keeps fractions)",
                        _ => "is not an integer",
                    };
                    return bad(format!("{} {why}", describe(value, json_text)));
                }
            }
        }
        ColumnType::Float | ColumnType::Double => {
            let number = match value {
                View::I64(_) | View::U64(_) if !exact_in_double(value) => {
                    return bad(format!(
                        "{} cannot be held exactly in a {}",
                        describe(value, json_text),
                        column.kind.as_str()
                    ));
                }
                View::I64(i) => Some(i as f64),
                View::U64(u) => Some(u as f64),
                View::F64(f) => Some(f),
                View::Str(s) if looks_decimal(s) => match s.parse::<f64>() {
                    Ok(f) if f.is_finite() && !crate::json::underflows(s.as_bytes(), f) => Some(f),
                    _ => return bad(format!("{} is out of range", describe(value, json_text))),
                },
                View::Big(_) => {
                    return bad(format!("{} is out of range", describe(value, json_text)));
                }
                _ => None,
            };
            match (number, column.kind) {
                (Some(f), ColumnType::Double) if matches!(value, View::F64(_)) => {
                    double_cell(f, text)
                }
                (Some(f), ColumnType::Double) => Cell::Double(f),
                // A float that is not zero must not become one, nor infinite.
                (Some(f), _) if f.abs() <= f64::from(f32::MAX) && (f == 0.0 || f as f32 != 0.0) => {
                    Cell::Float(f as f32)
                }
                (Some(_), _) => {
                    return bad(format!("{} is out of range", describe(value, json_text)));
                }
                (None, _) => return bad(format!("{} is not a number", describe(value, json_text))),
            }
        }
        ColumnType::Boolean => match value {
            View::Bool(b) => Cell::Bool(b),
            View::Str(s) if s.eq_ignore_ascii_case("true") => Cell::Bool(true),
            View::Str(s) if s.eq_ignore_ascii_case("false") => Cell::Bool(false),
            _ => return bad(format!("{} is not a boolean", describe(value, json_text))),
        },
        ColumnType::Timestamp => match to_micros(value, column.format.as_deref()) {
            Some(micros) => Cell::Timestamp(micros),
            None => return bad(format!("{} is not a timestamp", describe(value, json_text))),
        },
        ColumnType::Date => match to_date(value, column.format.as_deref()) {
            Some(days) => Cell::Date(days),
            None => return bad(format!("{} is not a date", describe(value, json_text))),
        },
        ColumnType::Binary => match value {
            View::Str(s) => match decode_base64(s) {
                Some(bytes) => Cell::Binary(bytes),
                None => return bad(format!("{} is not base64", shown(s))),
            },
            _ => {
                return bad(format!(
                    "{} is not a base64 string",
                    describe(value, json_text)
                ));
            }
        },
    };
    Ok(())
}

pub(super) fn describe(value: View<'_>, json_text: &mut dyn FnMut() -> Vec<u8>) -> String {
    match value {
        View::Str(s) => shown(s),
        View::Big(literal) => literal.to_owned(),
        _ => truncated(&String::from_utf8(json_text()).unwrap_or_default()),
    }
}

/// Whether `view` is no whole number, or one a double holds exactly (past
/// 2^53 most do not): what a `double` column takes, and what inference
/// keeps from becoming one.
#[inline(always)]
pub(super) fn exact_in_double(view: View<'_>) -> bool {
    match view {
        View::I64(i) => (i as f64) as i128 == i128::from(i),
        View::U64(u) => (u as f64) as i128 == i128::from(u),
        _ => true,
    }
}

/// Rust's float parser also takes `inf`, `nan` and `+1`: JSON-style
/// decimals only.
pub(super) fn looks_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    s.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}

pub(super) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .ok()
}

/// The cell of a double read from a number with a fraction or an
/// exponent: with `text`, the number as its page spells it, which text
/// outputs write as it stands (it reads back as the same double, and
/// writing it spares finding the double's shortest text).
#[inline(always)]
pub(super) fn double_cell(value: f64, text: Option<&str>) -> Cell<'_> {
    match text {
        Some(text) => Cell::DoubleText(value, text),
        None => Cell::Double(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column's `value` fills its placeholders; JSON's braces, which
    /// hold quotes or colons, stand as written.
    #[test]
    fn a_value_fills_placeholders_and_keeps_json_braces() {
        let placeholders = Placeholders::from([("page".to_owned(), "2".to_owned())]);
        let filled = |template: &str| fill(template, &placeholders).map_err(|_| ());
        assert_eq!(filled("p{page}"), Ok("p2".to_owned()));
        let json = r#"{"at": {"page": {page}}, "empty": {}}"#;
        assert_eq!(
            filled(json),
            Ok(r#"{"at": {"page": 2}, "empty": {}}"#.to_owned())
        );
        assert_eq!(filled("{parent.id}"), Err(()));
        assert_eq!(filled("{ page }"), Ok("{ page }".to_owned()));
    }
}
