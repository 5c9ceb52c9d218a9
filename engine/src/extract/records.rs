//! Selecting a page's records: the records path, and what its value
//! holds (one record, or many).

use super::*;

/// Chooses the records of a page: the values at `records.path`, an array
/// giving one record per element.
pub(crate) fn select_records<'v, N: Node<'v>>(
    page: N,
    records: &Records,
) -> Result<Vec<N>, String> {
    let (nodes, multi) = match &records.path {
        None => (vec![page], false),
        Some(path) => {
            let segments = path
                .segments()
                .ok_or("records.path needs the general JSONPath evaluator")?;
            let mut nodes = Vec::new();
            crate::json::node::walk(page, segments, &mut nodes);
            (nodes, path.is_multi())
        }
    };
    expand(nodes, multi, records.mode)
}

/// Whether a page has a value where `records.path` points: an empty array
/// there counts, a missing member does not. Paths that need the general
/// evaluator (filters, slices) cannot tell the two apart and count as
/// found.
pub(crate) fn records_path_found<'v, N: Node<'v>>(page: N, records: &Records) -> bool {
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

/// `nodes` selected by a records path; `multi` when the path can select
/// several (each node is then a record).
pub(crate) fn expand<'v, N: Node<'v>>(
    nodes: Vec<N>,
    multi: bool,
    mode: RecordMode,
) -> Result<Vec<N>, String> {
    if multi && nodes.len() != 1 {
        return Ok(nodes
            .into_iter()
            .filter(|n| !matches!(n.view(), View::Null))
            .collect());
    }
    let Some(node) = nodes.into_iter().next() else {
        return Ok(Vec::new());
    };
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
