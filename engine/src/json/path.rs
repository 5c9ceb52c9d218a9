//! Paths into JSON documents.
//!
//! A path that starts with `$` is RFC 9535 JSONPath; one without is a dotted
//! member path (`data.list`, `items[0].id`). Member names, indexes (negative
//! too) and `[*]` compile to [`Segment`]s that the engine's own walker follows
//! over any parsed form. Other JSONPath is read by `json::general`, which
//! evaluates it on any parsed form too. `serde_json_path` validates every
//! path first, and evaluates [`JsonPath::query`] on `serde_json` values.

use serde_json::Value;
use serde_json_path::JsonPath as General;
use simd_json::BorrowedValue;

/// A parsed path.
#[derive(Debug, Clone)]
pub struct JsonPath {
    text: String,
    walk: Walk,
    general: General,
}

/// How the engine follows a path.
#[derive(Debug, Clone)]
enum Walk {
    /// Names, indexes and `[*]`: walked a segment at a time.
    Segments(Vec<Segment>),
    /// Anything else RFC 9535 allows (see [`crate::json::general`]).
    General(crate::json::general::Query),
}

/// One step of a compiled path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A member of an object.
    Key(String),
    /// An element of an array; negative counts from the end.
    Index(i64),
    /// Every element of an array or member of an object.
    Wildcard,
}

impl JsonPath {
    /// Parses a JSONPath (`$...`) or a dotted path. The empty string and `$`
    /// are the root.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('$') {
            let general = General::parse(trimmed)
                .map_err(|e| format!("`{trimmed}` is not a valid JSONPath ({e})"))?;
            let walk = match compile_jsonpath(trimmed) {
                Some(segments) => Walk::Segments(segments),
                // Valid, so read unless the reader has a fault: said, not
                // evaluated otherwise.
                None => Walk::General(crate::json::general::parse(trimmed).ok_or_else(|| {
                    format!("`{trimmed}` is valid JSONPath that hydrant cannot read")
                })?),
            };
            Ok(JsonPath {
                text: trimmed.to_owned(),
                walk,
                general,
            })
        } else {
            let segments = parse_dotted(trimmed)?;
            Ok(JsonPath::from_segments(trimmed.to_owned(), segments))
        }
    }

    /// The path to one member of the root object, whatever its characters.
    pub fn member(name: &str) -> JsonPath {
        JsonPath::from_segments(name.to_owned(), vec![Segment::Key(name.to_owned())])
    }

    /// The path of these keys from the root, with a text that reads back
    /// as the same keys: dotted (`user.id`) when that does, JSONPath
    /// (`$['@odata.etag']`) when a key has a dot, a bracket or a leading
    /// `$`. Checkpoints, partitions and `hydrant schema` keep the text.
    pub fn of_keys(keys: &[String]) -> JsonPath {
        let segments: Vec<Segment> = keys.iter().cloned().map(Segment::Key).collect();
        let reads_back = |text: &str| {
            JsonPath::parse(text).is_ok_and(|read| read.segments() == Some(&segments[..]))
        };
        // Single quotes read best inside a TOML or JSON string; JSON's
        // double-quoted escapes cover any key.
        let bracketed = |quote: fn(&str) -> String| {
            let names: String = keys.iter().map(|k| format!("[{}]", quote(k))).collect();
            format!("${names}")
        };
        let single = |key: &str| format!("'{}'", key.replace('\\', "\\\\").replace('\'', "\\'"));
        let double = |key: &str| serde_json::to_string(key).expect("a string");
        let text = if keys.is_empty() {
            "$".to_owned()
        } else {
            [keys.join("."), bracketed(single), bracketed(double)]
                .into_iter()
                .find(|text| reads_back(text))
                .unwrap_or_else(|| bracketed(double))
        };
        JsonPath::from_segments(text, segments)
    }

    /// A path of the given segments.
    pub fn from_segments(text: String, segments: Vec<Segment>) -> JsonPath {
        let general = General::parse(&to_jsonpath(&segments))
            .expect("a path built from segments is valid JSONPath");
        JsonPath {
            text,
            walk: Walk::Segments(segments),
            general,
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The compiled segments, or `None` when the path needs the general
    /// JSONPath evaluator.
    pub fn segments(&self) -> Option<&[Segment]> {
        match &self.walk {
            Walk::Segments(segments) => Some(segments),
            Walk::General(_) => None,
        }
    }

    /// The engine's reading of a path that needs more than [`segments`].
    ///
    /// [`segments`]: JsonPath::segments
    pub(crate) fn general_query(&self) -> Option<&crate::json::general::Query> {
        match &self.walk {
            Walk::Segments(_) => None,
            Walk::General(query) => Some(query),
        }
    }

    /// For a path of keys that ends in filters, slices or indexes, the
    /// keys to the array it selects elements of (see
    /// [`crate::json::general::array_keys`]).
    pub(crate) fn array_keys(&self) -> Option<Vec<Segment>> {
        let keys = crate::json::general::array_keys(self.general_query()?)?;
        Some(keys.into_iter().map(Segment::Key).collect())
    }

    /// The keys of a path made of keys only, from the root down; `None`
    /// when it has an index, a wildcard or needs the general evaluator.
    pub(crate) fn keys(&self) -> Option<Vec<&str>> {
        self.segments()?
            .iter()
            .map(|segment| match segment {
                Segment::Key(key) => Some(key.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether what the path selects is one value or the elements of one
    /// array: no wildcard but, maybe, the last segment.
    pub fn is_one_array(&self) -> bool {
        match self.segments() {
            Some(segments) => !segments
                .iter()
                .rev()
                .skip(1)
                .any(|segment| *segment == Segment::Wildcard),
            None => false,
        }
    }

    /// Whether the path ends in a member's name (`results[*].items`), so
    /// that what it selects are values at names, not an array's elements
    /// (`data[*]`, `data[?@.ok]`). The root (`$`) is a value too.
    pub(crate) fn ends_in_name(&self) -> bool {
        match &self.walk {
            Walk::Segments(segments) => {
                !matches!(segments.last(), Some(Segment::Wildcard | Segment::Index(_)))
            }
            Walk::General(query) => crate::json::general::ends_in_name(query),
        }
    }

    /// The values the path selects under `page`, in document order, on
    /// any parsed form; on the index a number keeps its text.
    pub(crate) fn select<'v, N: crate::json::node::Node<'v>>(&self, page: N) -> Vec<N> {
        match &self.walk {
            Walk::Segments(segments) => {
                let mut found = Vec::new();
                crate::json::node::walk(page, segments, &mut found);
                found
            }
            Walk::General(query) => crate::json::general::select(query, page),
        }
    }

    /// Whether the path can select more than one value.
    pub fn is_multi(&self) -> bool {
        match self.segments() {
            Some(segments) => segments.contains(&Segment::Wildcard),
            None => true,
        }
    }

    /// Every value the path selects, in document order.
    ///
    /// A number past 64 bits is carried as a marked string, which a filter
    /// would compare as a string (`?@.v > 5` would miss it). The path then
    /// runs over a copy that holds it as a double, and what it selects is
    /// taken from `value` itself, digits and all.
    pub fn query<'v>(&self, value: &'v Value) -> Vec<&'v Value> {
        if !holds_big_number(value) {
            return self.general.query(value).all();
        }
        let numeric = big_numbers_as_doubles(value);
        (self.general.query_located(&numeric).locations())
            .filter_map(|at| value.pointer(&at.to_json_pointer()))
            .collect()
    }
}

/// Whether `value` holds a number past 64 bits, carried as a marked string.
fn holds_big_number(value: &Value) -> bool {
    match value {
        Value::String(s) => crate::json::big_number(s).is_some(),
        Value::Array(items) => items.iter().any(holds_big_number),
        Value::Object(map) => map.values().any(holds_big_number),
        _ => false,
    }
}

/// `value` with each number past 64 bits as the nearest double that keeps
/// its order: the largest double past them all, the smallest one short of
/// zero for a number too small (never zero itself), for a filter to
/// compare.
fn big_numbers_as_doubles(value: &Value) -> Value {
    match value {
        Value::String(s) => match crate::json::big_number(s) {
            Some(literal) => serde_json::Number::from_f64(crate::json::node::big_double(literal))
                .map_or(Value::Null, Value::Number),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(big_numbers_as_doubles).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), big_numbers_as_doubles(v)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Follows `segments` from `value`, pushing every value reached.
pub fn walk<'v, 'a>(
    value: &'v BorrowedValue<'a>,
    segments: &[Segment],
    out: &mut Vec<&'v BorrowedValue<'a>>,
) {
    crate::json::node::walk(value, segments, out);
}

/// The position an RFC 9535 index selects in an array of `len` elements.
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    if index >= 0 {
        usize::try_from(index).ok().filter(|&i| i < len)
    } else {
        let back = usize::try_from(index.unsigned_abs()).ok()?;
        len.checked_sub(back)
    }
}

fn parse_dotted(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    if text.is_empty() {
        return Ok(segments);
    }
    for part in text.split('.') {
        let (name, mut brackets) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if name.is_empty() && (segments.is_empty() && brackets.is_empty() || !segments.is_empty()) {
            return Err(format!(
                "`{text}` has an empty member name (names with dots need JSONPath: $['a.b'])"
            ));
        }
        if name.contains(']') {
            return Err(format!("`{text}`: unexpected `]` in `{part}`"));
        }
        if !name.is_empty() {
            segments.push(Segment::Key(name.to_owned()));
        }
        while !brackets.is_empty() {
            let close = brackets
                .find(']')
                .ok_or_else(|| format!("`{text}`: `[` without `]` in `{part}`"))?;
            let inner = &brackets[1..close];
            segments.push(if inner == "*" {
                Segment::Wildcard
            } else {
                Segment::Index(
                    parse_index(inner)
                        .ok_or_else(|| format!("`{text}`: `[{inner}]` is not an index or `[*]`"))?,
                )
            });
            brackets = &brackets[close + 1..];
            if !brackets.is_empty() && !brackets.starts_with('[') {
                return Err(format!("`{text}`: unexpected `{brackets}` in `{part}`"));
            }
        }
    }
    Ok(segments)
}

fn parse_index(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = digits == "0" && !text.starts_with('-')
        || (!digits.is_empty()
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()));
    if !canonical {
        return None;
    }
    text.parse().ok()
}

/// Compiles a valid JSONPath made only of name, index and wildcard
/// selectors; `None` for anything else.
fn compile_jsonpath(text: &str) -> Option<Vec<Segment>> {
    let mut rest = text.strip_prefix('$')?;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            if after.starts_with('.') {
                return None;
            }
            if let Some(tail) = after.strip_prefix('*') {
                segments.push(Segment::Wildcard);
                rest = tail;
                continue;
            }
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || !c.is_ascii()))
                .unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            segments.push(Segment::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let after = after.trim_start();
            let (segment, tail) = if let Some(tail) = after.strip_prefix('*') {
                (Segment::Wildcard, tail)
            } else if after.starts_with(['\'', '"']) {
                let (name, tail) = parse_quoted(after)?;
                (Segment::Key(name), tail)
            } else {
                let end = after.find(|c: char| !(c.is_ascii_digit() || c == '-'))?;
                (Segment::Index(parse_index(&after[..end])?), &after[end..])
            };
            rest = tail.trim_start().strip_prefix(']')?;
            segments.push(segment);
        } else {
            return None;
        }
    }
    Some(segments)
}

fn parse_quoted(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next()?;
    let mut out = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((out, &text[1 + i + 1..])),
            '\\' => {
                let (_, escaped) = chars.next()?;
                match escaped {
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    '/' | '\\' | '\'' | '"' => out.push(escaped),
                    'u' => {
                        let mut code = 0u32;
                        for _ in 0..4 {
                            code = code * 16 + chars.next()?.1.to_digit(16)?;
                        }
                        if (0xD800..0xDC00).contains(&code) {
                            if chars.next()?.1 != '\\' || chars.next()?.1 != 'u' {
                                return None;
                            }
                            let mut low = 0u32;
                            for _ in 0..4 {
                                low = low * 16 + chars.next()?.1.to_digit(16)?;
                            }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low.checked_sub(0xDC00)?);
                        }
                        out.push(char::from_u32(code)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// Writes segments as normalized JSONPath.
fn to_jsonpath(segments: &[Segment]) -> String {
    spell(segments, false)
}

/// JSONPath text of `segments` as a person reads it in a message:
/// `$.results[0].series`, a key that is not a plain name in brackets
/// (`$.q['2']`, `$['a b']`).
pub(crate) fn readable(segments: &[Segment]) -> String {
    spell(segments, true)
}

/// JSONPath text of `segments`, every key in brackets unless `dotted`
/// lets a plain name (`series`) follow a dot.
fn spell(segments: &[Segment], dotted: bool) -> String {
    let plain = |key: &str| {
        key.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    let mut out = String::from("$");
    for segment in segments {
        match segment {
            Segment::Key(key) if dotted && plain(key) => {
                out.push('.');
                out.push_str(key);
            }
            Segment::Key(key) => out.push_str(&format!("[{}]", single_quoted(key))),
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
            Segment::Wildcard => out.push_str("[*]"),
        }
    }
    out
}

/// `key` as a JSONPath name in single quotes, its quotes, backslashes
/// and control characters escaped.
fn single_quoted(key: &str) -> String {
    let mut out = String::from("'");
    for c in key.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_array_is_a_path_without_a_wildcard_but_the_last() {
        let one = |path: &str| JsonPath::parse(path).unwrap().is_one_array();
        assert!(one("data") && one("$.data[*]") && one("$.a.b") && one("$"));
        assert!(!one("$.orders[*].lines[*]") && !one("$.a[*].b"));
    }

    /// An inferred column's path is kept as text (checkpoints, partitions,
    /// `hydrant schema`) and read again: it must name the same keys.
    #[test]
    fn a_path_of_keys_reads_back_as_its_keys() {
        let text = |keys: &[&str]| {
            let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
            let path = JsonPath::of_keys(&keys);
            let read = JsonPath::parse(path.as_str()).unwrap();
            let read: Vec<String> = read
                .keys()
                .unwrap()
                .into_iter()
                .map(str::to_owned)
                .collect();
            assert_eq!(read, keys, "{}", path.as_str());
            path.as_str().to_owned()
        };
        assert_eq!(text(&["user", "geo", "lat"]), "user.geo.lat");
        assert_eq!(text(&["@odata.etag"]), "$['@odata.etag']");
        assert_eq!(text(&["x", "y.z"]), "$['x']['y.z']");
        assert_eq!(text(&["$type"]), "$['$type']");
        assert_eq!(text(&["a'b.c"]), r"$['a\'b.c']");
        assert_eq!(text(&["bell\u{7}."]), r#"$["bell\u0007."]"#);
        for key in [
            "k[0]", "*", "0", "-1", "a b", "quo\"te", "tab\t", "é✓", "", "'", "a..b",
        ] {
            text(&[key]);
            text(&["outer", key]);
        }
        assert_eq!(text(&[]), "$");
    }

    fn segments(text: &str) -> Option<Vec<Segment>> {
        JsonPath::parse(text)
            .unwrap()
            .segments()
            .map(<[Segment]>::to_vec)
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_owned())
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(segments("data.list"), Some(vec![key("data"), key("list")]));
        assert_eq!(
            segments("items[-1].id"),
            Some(vec![key("items"), Segment::Index(-1), key("id")])
        );
        assert_eq!(
            segments("items[*]"),
            Some(vec![key("items"), Segment::Wildcard])
        );
        assert_eq!(segments(""), Some(vec![]));
        assert!(JsonPath::parse("a..b").is_err());
        assert!(JsonPath::parse("a[x]").is_err());
    }

    #[test]
    fn simple_jsonpath_compiles() {
        assert_eq!(segments("$"), Some(vec![]));
        assert_eq!(
            segments("$['@odata.nextLink']"),
            Some(vec![key("@odata.nextLink")])
        );
        assert_eq!(
            segments("$.data[0][\"a b\"].*"),
            Some(vec![
                key("data"),
                Segment::Index(0),
                key("a b"),
                Segment::Wildcard
            ])
        );
        assert_eq!(segments("$['it\\'s']"), Some(vec![key("it's")]));
    }

    #[test]
    fn other_jsonpath_falls_back() {
        assert_eq!(segments("$..id"), None);
        assert_eq!(segments("$.items[?@.price > 10]"), None);
        assert_eq!(segments("$.items[0:2]"), None);
        assert!(JsonPath::parse("$.items[").is_err());
        assert!(JsonPath::parse("$[01]").is_err());
    }

    #[test]
    fn negative_index() {
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-3, 3), Some(0));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(3, 3), None);
    }
}

#[cfg(test)]
mod big_number_tests {
    use super::*;
    use crate::json::BIG;

    /// A filter compares a number past 64 bits as a number, and the value
    /// selected keeps its digits.
    #[test]
    fn a_filter_compares_a_number_past_64_bits_as_a_number() {
        let big = Value::String(format!("{BIG}12345678901234567890123"));
        let tree = serde_json::json!({"tags": [
            {"k": "a", "v": big.clone()},
            {"k": "b", "v": 2},
            {"k": "c", "v": Value::String(format!("{BIG}-1e400"))},
            {"k": "d", "v": Value::String(format!("{BIG}1e-400"))},
        ]});
        let select = |path: &str| JsonPath::parse(path).unwrap().query(&tree);
        assert_eq!(select("$.tags[?@.v > 5].v"), [&big]);
        assert_eq!(select("$.tags[?@.v < 5].k"), ["b", "c", "d"]);
        assert_eq!(select("$.tags[?@.v == 12345678901234567890123].k"), ["a"]);
        // Past the doubles, a number compares as the largest double.
        assert_eq!(select("$.tags[?@.v < -1e300].k"), ["c"]);
        assert!(select("$.tags[?@.v == null].k").is_empty());
        // Too small for a double, a number is still not zero.
        assert_eq!(select("$.tags[?@.v > 0 && @.v < 1e-300].k"), ["d"]);
        assert!(select("$.tags[?@.v == 0].k").is_empty());
        assert_eq!(select("$..v").len(), 4);
    }
}
