//! Selecting a page's records: the records path, and what its value
//! holds (one record, or many).

use super::*;

/// Chooses the records of a page: the values at `records.path`, an array
/// giving one record per element.
pub(crate) fn select_records<'v, N: Node<'v>>(
    page: N,
    records: &Records,
) -> Result<Vec<N>, String> {
    if let Some(parents) = &records.parent {
        return Ok(select_with_parents(page, parents, records.mode)?.records);
    }
    let (nodes, multi) = match &records.path {
        None => (vec![page], None),
        // Each value the path selects among the lines (in each line, or
        // over the array of them), taken as a page's is.
        Some(path) if records.lines => {
            let mut taken = Vec::new();
            for node in path.select(page) {
                taken.extend(expand_one(node, records.mode)?);
            }
            return Ok(taken);
        }
        Some(path) => (path.select(page), path.is_multi().then_some(path)),
    };
    expand(nodes, multi, records.mode)
}

/// A page's records, their parents, and the index of each record's
/// parent among them.
pub(crate) struct Nested<N> {
    pub records: Vec<N>,
    pub parents: Vec<N>,
    pub parent_of: Vec<u32>,
}

/// The records of a job with `parent_path` columns, as [`select_records`]
/// chooses them from the whole path, with their parents.
pub(crate) fn select_with_parents<'v, N: Node<'v>>(
    page: N,
    parents: &Parents,
    mode: RecordMode,
) -> Result<Nested<N>, String> {
    let above = parents.parents.select(page);
    let mut records = Vec::new();
    let mut of = Vec::new();
    // Taken as the whole path takes them, which selects many values.
    let whole = Some(&parents.under);
    for (at, &parent) in above.iter().enumerate() {
        let found = expand(parents.under.select(parent), whole, mode)?;
        of.extend(std::iter::repeat_n(at as u32, found.len()));
        records.extend(found);
    }
    Ok(Nested {
        records,
        parents: above,
        parent_of: of,
    })
}

/// How many of a page's items pagination counts: its records, or where
/// they are nested under parents (`parent_path` columns), the parents,
/// which are what the API pages by (`issues[*].fields.subtasks[*]`).
pub(crate) fn paged_count<'v, N: Node<'v>>(page: N, records: &Records, held: usize) -> usize {
    match &records.parent {
        Some(parents) => parents.parents.select(page).len(),
        None => held,
    }
}

/// Whether a page has a value where `records.path` points: an empty array
/// there counts, a missing member does not. Paths that need the general
/// evaluator (filters, slices) cannot tell the two apart and count as
/// found.
fn records_path_found<'v, N: Node<'v>>(page: N, records: &Records) -> bool {
    let Some(segments) = records.path.as_ref().and_then(|p| p.segments()) else {
        return true;
    };
    let end = segments
        .iter()
        .rposition(|s| *s != Segment::Wildcard)
        .map_or(0, |at| at + 1);
    let mut nodes = Vec::new();
    crate::json::node::walk(page, &segments[..end], &mut nodes);
    !nodes.is_empty()
}

/// The warning for a 2xx page without a value at `records.path`.
pub(crate) fn records_path_missing(records: &Records, shown: &str) -> String {
    format!(
        "records.path `{}` matches nothing in the response from {shown}: no records were taken from it (check the path with `hydrant check`)",
        records.path.as_ref().map_or("", |p| p.as_str())
    )
}

/// The warning of a declared column that none of `records` records has a
/// value for: most often a misspelled path, which fills the column with
/// nulls. A run's warning says where to look at the records; `hydrant
/// check`'s, which shows them, that they are the first page's.
pub(crate) fn column_absent(column: &ColumnSpec, records: u64, in_check: bool) -> String {
    let path = column.path_text();
    let (of, hint) = if in_check {
        (" of the first page", "")
    } else {
        ("", " `hydrant check` shows the records")
    };
    // A path of `[*]` gives the array of what it selects, `[]` for none.
    let written = match JsonPath::parse(path)
        .ok()
        .as_ref()
        .and_then(JsonPath::segments)
    {
        Some(segments) if segments.contains(&Segment::Wildcard) => "`[]`",
        _ => "null",
    };
    // A page column's value is the page's, not a record's.
    let said = match (
        column.page_path.is_some(),
        column.parent_path.is_some(),
        in_check,
    ) {
        (false, false, _) => format!("none of the {records} records{of} has a value"),
        (false, true, _) => format!("no parent of the {records} records{of} has a value"),
        (true, _, false) => format!("no page of the {records} records has a value"),
        (true, _, true) => format!("the first page, of {records} records, has no value"),
    };
    format!(
        "column `{}`: {said} at `{path}`, so the column is {written} in all of them \
         (a misspelled path?{hint})",
        column.name
    )
}

/// A hash of a page's records, their count and the text of the first and
/// the last: pages of different offsets never share it, and an API that
/// does not read the page parameter gives the same one again. `None` for
/// a page without records.
pub(crate) fn records_fingerprint<'v, N: Node<'v>>(records: &[N]) -> Option<u64> {
    let (first, last) = (records.first()?, records.last()?);
    let mut text = Vec::new();
    first.write_json(&mut text);
    text.push(b'\n');
    last.write_json(&mut text);
    Some(fingerprint_of(records.len(), &text))
}

/// [`records_fingerprint`] of `count` records whose first and last are written,
/// as JSON, in `text`, a line break between them.
pub(crate) fn fingerprint_of(count: usize, text: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (count, text).hash(&mut hasher);
    hasher.finish()
}

/// Whether a page without records has no value at `records.path`, for
/// the warning of [`records_path_missing`]. Such a page that says its
/// request failed is an error instead: many APIs answer a failure with a
/// 200 (Slack's `"ok": false`, GraphQL's `errors`), and it must not pass
/// for the end of the records.
pub(crate) fn records_missing<'v, N: Node<'v>>(
    page: N,
    records: &Records,
    count: usize,
    shown: &str,
) -> Result<bool, String> {
    if one_object_read(page, records)
        && let Some(said) = page_failure(page)
    {
        return Err(format!(
            "the response from {shown} is one object where the job reads its pages' records \
             from the page itself, and says the request failed: {said}"
        ));
    }
    if count > 0 || records_path_found(page, records) {
        return Ok(false);
    }
    match page_failure(page) {
        None => Ok(true),
        Some(said) => Err(format!(
            "the response from {shown} has nothing at records.path `{}` and says the request \
             failed: {said} (an API that ends its pages so takes a [[paginate.stop]] on it)",
            records.path.as_ref().map_or("", |p| p.as_str())
        )),
    }
}

/// Whether `page` is one object taken for a record
/// where a job that pages reads its records from the page itself: an
/// API of arrays answers a failure so (WeChat's `{"errcode": 45009,
/// …}`). A job without paging, or one that says each page is one
/// record (`mode = "one"`), may read an object whose own `status` is
/// `"failed"`.
fn one_object_read<'v, N: Node<'v>>(page: N, records: &Records) -> bool {
    records.paged
        && records.path.is_none()
        && !records.lines
        && records.mode != RecordMode::One
        && page.is_object()
}

/// What a page says of its request's failure ([`failure_said`], or the
/// page-level conventions of [`page_says_failed`]).
fn page_failure<'v, N: Node<'v>>(page: N) -> Option<String> {
    failure_said(page).or_else(|| page_says_failed(page).then(|| quoted(page)))
}

/// The start of an answer's text when it says its request failed (see
/// [`says_failed`]).
pub(crate) fn failure_said<'v, N: Node<'v>>(answer: N) -> Option<String> {
    says_failed(answer).then(|| quoted(answer))
}

/// The start of an answer's text, for an error.
fn quoted<'v, N: Node<'v>>(answer: N) -> String {
    let mut text = Vec::new();
    answer.write_json(&mut text);
    let text = String::from_utf8_lossy(&text);
    let mut quoted: String = text.chars().take(300).collect();
    if quoted.len() < text.len() {
        quoted.push('…');
    }
    quoted
}

/// Google's `status` words for a failed request (Maps, Places).
const GOOGLE_FAILED: [&str; 5] = [
    "INVALID_REQUEST",
    "OVER_DAILY_LIMIT",
    "OVER_QUERY_LIMIT",
    "REQUEST_DENIED",
    "UNKNOWN_ERROR",
];

/// Whether a page with nothing at the records path says its request
/// failed in the words of conventions that live at a page's top level:
/// JSend's and many PHP APIs' `"status": "error"` or `"fail"`, Flickr's
/// `"stat": "fail"`, Google's `status` words, an HTTP status echoed in
/// `code` or `status` (400 to 599), a nonzero `errcode` (WeChat,
/// DingTalk), `error_code` (Baidu) or `errorCode`. A record may
/// hold such members (a payment's `"status": "failed"`): a write's
/// answers, which echo records, are not read so.
fn page_says_failed<'v, N: Node<'v>>(page: N) -> bool {
    let mut failed = false;
    page.members_while(|key, value| {
        let view = value.view();
        let code = match view {
            View::I64(n) => Some(i128::from(n)),
            View::U64(n) => Some(i128::from(n)),
            _ => None,
        };
        failed = match (key, view) {
            (b"status" | b"stat", View::Str(word)) => {
                ["error", "fail", "failed", "failure"]
                    .iter()
                    .any(|w| word.eq_ignore_ascii_case(w))
                    || GOOGLE_FAILED.contains(&word)
            }
            (b"status" | b"code", _) => code.is_some_and(|n| (400..600).contains(&n)),
            (b"errcode" | b"error_code" | b"errorCode", _) => code.is_some_and(|n| n != 0),
            _ => false,
        };
        !failed
    });
    failed
}

/// Whether an object says its request failed: `"ok": false`, `"success":
/// false`, or an `error`, `errors` or `fault` member that holds something.
fn says_failed<'v, N: Node<'v>>(page: N) -> bool {
    let mut failed = false;
    page.members_while(|key, value| {
        failed = match key {
            b"ok" | b"success" => matches!(value.view(), View::Bool(false)),
            b"error" | b"errors" | b"fault" => holds_something(value),
            _ => false,
        };
        !failed
    });
    failed
}

/// Whether a value holds more than null, false, zero, `""`, `[]` or `{}`.
pub(crate) fn holds_something<'v, N: Node<'v>>(value: N) -> bool {
    match value.view() {
        View::Null | View::Bool(false) => false,
        View::Str(text) => !text.is_empty(),
        View::I64(n) => n != 0,
        View::U64(n) => n != 0,
        View::F64(n) => n != 0.0,
        View::Compound => {
            let mut children = Vec::new();
            value.children(&mut children);
            !children.is_empty()
        }
        View::Bool(true) | View::Big(_) => true,
    }
}

/// The records of the `nodes` a records path selected; `multi` is the
/// path where it can select several values.
fn expand<'v, N: Node<'v>>(
    nodes: Vec<N>,
    multi: Option<&JsonPath>,
    mode: RecordMode,
) -> Result<Vec<N>, String> {
    match multi {
        // Elements a `[*]`, an index, a slice or a filter picked are the
        // records as they are, one or many: a row that is an array stays
        // one record.
        Some(path) if !path.ends_in_name() => Ok(nodes
            .into_iter()
            .filter(|n| !matches!(n.view(), View::Null))
            .collect()),
        // Values at a name: an array gives its elements, whatever the
        // number of values (`results[*].items`: the items of every
        // result). Any other is a record, `{}` too: one of many values
        // is not an answer of no results.
        Some(_) => {
            let mut records = Vec::new();
            for node in nodes {
                match node.view() {
                    View::Null => {}
                    _ if mode == RecordMode::One => records.push(node),
                    _ => {
                        if node.elements(&mut records).is_none() {
                            records.push(node);
                        }
                    }
                }
            }
            Ok(records)
        }
        None => nodes
            .into_iter()
            .next()
            .map_or(Ok(Vec::new()), |node| expand_one(node, mode)),
    }
}

/// The records of the one value a records path selects: an array's
/// elements, else the value itself.
fn expand_one<'v, N: Node<'v>>(node: N, mode: RecordMode) -> Result<Vec<N>, String> {
    if matches!(node.view(), View::Null) {
        return Ok(Vec::new());
    }
    let mut items = Vec::new();
    if node.elements(&mut items).is_some() {
        return Ok(if mode == RecordMode::One {
            vec![node]
        } else {
            items
        });
    }
    // Some APIs send `{}` for no results: not a record of no members.
    if mode == RecordMode::Auto && node.is_object() && {
        let mut empty = true;
        node.members_while(|_, _| {
            empty = false;
            false
        });
        empty
    } {
        return Ok(Vec::new());
    }
    if mode == RecordMode::Many {
        let kind = match node.view() {
            _ if node.is_object() => "an object",
            View::Bool(_) => "a boolean",
            View::Str(_) => "a string",
            _ => "a number",
        };
        return Err(format!(
            "records.mode is `many` but the records path holds {kind}"
        ));
    }
    Ok(vec![node])
}
