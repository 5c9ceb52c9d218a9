//! What a misspelled `paginate.from` or `paginate.header` most likely
//! meant. A cursor or link that is absent ends pagination as a last page
//! does: a path or header name that matches nothing would end the run
//! after its first page without a word. When the first page has a member
//! or header named like it, holding a value, the run says so.

use hydrant_paginate::{Follows, Kind, Page, Paginator, Stop};

use crate::job::Job;
use crate::json::node::{Node, View};
use crate::json::path::{JsonPath, Segment};

/// What a pass that ended at its first page says, when the page has a
/// member or header named like the one that ended it, holding a value:
/// the cursor or link that is absent (`stop` is `no_next`), or the value
/// a `[[paginate.stop]]` rule found absent (`end_condition`). The job
/// most likely misspelled it, and the records of the pages after the
/// first would be left out.
pub(crate) fn ended_at_first(
    job: &Job,
    paginator: &Paginator,
    stop: Stop,
    (page, shown): (&Page<'_>, &str),
    near: &dyn Fn(usize) -> Option<String>,
) -> Option<String> {
    let told = |source, by_rule| told(job, source, by_rule, (page, shown), near);
    match stop {
        Stop::NoNext => (paginator.next_from().into_iter()).find_map(|source| told(source, false)),
        Stop::EndCondition => told(paginator.stopped_by_absence(page)?, true),
        _ => None,
    }
}

/// [`ended_at_first`] of one source, absent from the page.
fn told(
    job: &Job,
    source: Follows<'_>,
    by_rule: bool,
    (page, shown): (&Page<'_>, &str),
    near: &dyn Fn(usize) -> Option<String>,
) -> Option<String> {
    let (key, asked, found) = match source {
        Follows::Body { index, path } => {
            if page.watched.get(index).is_some_and(Option::is_some) {
                return None;
            }
            let asked = match (by_rule, &job.paginate.from, job.paginate.kind) {
                (false, None, Kind::Cursor | Kind::NextLink) => format!("`{path}` (the default)"),
                _ => format!("`{path}`"),
            };
            ("path", asked, near(index)?)
        }
        Follows::Header(name) => {
            if page.headers.iter().any(|(n, _)| n == name) {
                return None;
            }
            let found = near_header(page.headers, name)?.to_owned();
            ("header", format!("`{name}`"), found)
        }
    };
    let (lacks, has) = match key {
        "path" => ("selects nothing on", "the page has"),
        _ => ("is not a header of", "the response has"),
    };
    Some(match (by_rule, job.paginate.kind) {
        (false, Kind::Rules) => format!(
            "the paginate.rules {key} {asked} {lacks} the first page, from {shown}, so \
             pagination ends there; {has} `{found}`: if that holds the next page's value, set \
             the rule to it"
        ),
        (false, _) => {
            let key = if key == "path" {
                "paginate.from"
            } else {
                "paginate.header"
            };
            format!(
                "{key} {asked} {lacks} the first page, from {shown}, so pagination ends \
                 there; {has} `{found}`: if that holds the next cursor or link, set {key} to it"
            )
        }
        (true, _) => format!(
            "a [[paginate.stop]] rule ended pagination at the first page, from {shown}, as its \
             {key} {asked} {lacks} it; {has} `{found}`: if the rule means that, set its {key} \
             to it"
        ),
    })
}

/// What a pass says when the value at its cursor's or link's path is an
/// object or an array: no request can be made of it, and pagination
/// would end there as if the page were the last. The job most likely
/// points at the object that holds the cursor (HubSpot's `paging.next`,
/// whose cursor is `paging.next.after`).
pub(crate) fn not_a_cursor(
    paginator: &Paginator,
    watched: &[Option<serde_json::Value>],
    shown: &str,
) -> Option<String> {
    let (path, value) = (paginator.next_from().into_iter()).find_map(|source| match source {
        Follows::Body { index, path } => {
            let value = watched.get(index)?.as_ref()?;
            (value.is_object() || value.is_array()).then_some((path, value))
        }
        Follows::Header(_) => None,
    })?;
    let key = match paginator.follows() {
        Some(_) => "paginate.from",
        None => "the paginate.rules path",
    };
    let (what, inside) = match value {
        serde_json::Value::Object(members) => {
            let scalars: Vec<String> = (members.iter())
                .filter(|(_, v)| v.is_string() || v.is_number())
                .take(4)
                .map(|(key, _)| format!("`{}`", member_of(path, key)))
                .collect();
            let inside = match scalars.is_empty() {
                true => String::new(),
                false => format!(" ({})", scalars.join(", ")),
            };
            ("an object", inside)
        }
        serde_json::Value::Array(_) => ("an array", String::new()),
        _ => return None,
    };
    let point = match paginator.follows() {
        Some(_) => "point paginate.from",
        None => "point the rule",
    };
    Some(format!(
        "{key} `{path}` holds {what} on the page from {shown}, not a cursor or link: {point} \
         at the member that holds it{inside}"
    ))
}

/// How deep into the page's objects a member is looked for: pagination
/// members sit near the top (`meta.paging.next.after` is four deep).
const DEPTH: usize = 4;

/// How many members are looked at, at most: a page that is one large
/// object is not walked whole.
const MEMBERS: usize = 256;

/// The path, as a job writes it, of a member of `root` named like the
/// last key of `path` that holds what a cursor or link can be (a number,
/// or a string that is not empty). Objects are searched breadth first to
/// [`DEPTH`] levels; arrays (the records) are not entered. `None` for a
/// path with indexes, wildcards or filters.
pub(crate) fn near_member<'v, N: Node<'v>>(root: N, path: &JsonPath) -> Option<String> {
    let segments = path.segments()?;
    let mut keys = Vec::with_capacity(segments.len());
    for segment in segments {
        let Segment::Key(key) = segment else {
            return None;
        };
        keys.push(key.as_str());
    }
    let wanted = folded(keys.last()?);
    let mut level = vec![(root, Vec::<String>::new())];
    let mut seen = 0;
    for _ in 0..DEPTH {
        let mut deeper = Vec::new();
        for (node, at) in level {
            let mut found = None;
            node.members(&mut |key, value| {
                seen += 1;
                if found.is_some() || seen > MEMBERS {
                    return;
                }
                let mut here = at.clone();
                here.push(key.to_owned());
                if value.is_object() {
                    deeper.push((value, here));
                } else if alike(&folded(key), &wanted) && holds_a_next(value.view()) {
                    found = Some(here);
                }
            });
            if let Some(found) = found {
                return Some(spelled(&found));
            }
        }
        level = deeper;
    }
    None
}

/// The largest array of objects in a page's objects, to [`DEPTH`] levels,
/// as `check` names it beside a records path that matches nothing: `(the
/// page has an array of 20 objects at `items`)`.
pub(crate) fn records_elsewhere(body: &[u8]) -> Option<String> {
    let page: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut level = vec![(&page, Vec::<String>::new())];
    let mut best: Option<(usize, Vec<String>)> = None;
    for _ in 0..DEPTH {
        let mut deeper = Vec::new();
        for (node, at) in level {
            for (key, value) in node.as_object().into_iter().flatten() {
                let mut here = at.clone();
                here.push(key.clone());
                match value {
                    serde_json::Value::Object(_) => deeper.push((value, here)),
                    serde_json::Value::Array(items)
                        if items.first().is_some_and(serde_json::Value::is_object)
                            && best.as_ref().is_none_or(|(n, _)| items.len() > *n) =>
                    {
                        best = Some((items.len(), here));
                    }
                    _ => {}
                }
            }
        }
        level = deeper;
    }
    let (count, keys) = best?;
    Some(format!(
        "the page has an array of {count} objects at `{}`",
        spelled(&keys)
    ))
}

/// A response header named like `name` (lower case) that holds a value.
pub(crate) fn near_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    let wanted = folded(name);
    headers
        .iter()
        .find(|(n, v)| alike(&folded(n), &wanted) && !v.trim().is_empty())
        .map(|(n, _)| n.as_str())
}

/// A name with case and punctuation set aside: `next_cursor`,
/// `nextCursor` and `Next-Cursor` fold alike.
fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Two folded names alike: the same, or one within the other where the
/// shorter has four letters or more (`nextLink` in `@odata.nextLink`).
fn alike(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short == long || (short.len() >= 4 && long.contains(short))
}

fn holds_a_next(value: View<'_>) -> bool {
    match value {
        View::Str(text) => !text.trim().is_empty(),
        View::I64(_) | View::U64(_) | View::F64(_) | View::Big(_) => true,
        View::Null | View::Bool(_) | View::Compound => false,
    }
}

/// The path of `key` in the object at `path`, as a job writes it.
fn member_of(path: &str, key: &str) -> String {
    if is_plain(key) {
        return format!("{path}.{key}");
    }
    let path = match path.starts_with('$') {
        true => path.to_owned(),
        false => format!("$.{path}"),
    };
    format!("{path}{}", &spelled(&[key.to_owned()])[1..])
}

fn is_plain(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Keys as a dotted path where each is a plain name, else as JSONPath.
fn spelled(keys: &[String]) -> String {
    if keys.iter().all(|k| is_plain(k)) {
        return keys.join(".");
    }
    let mut out = String::from("$");
    for key in keys {
        out.push_str("['");
        for c in key.chars() {
            if matches!(c, '\'' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push_str("']");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(page: &str, path: &str) -> Option<String> {
        let mut bytes = page.as_bytes().to_vec();
        let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
        near_member(&tree, &JsonPath::parse(path).unwrap())
    }

    #[test]
    fn a_member_named_like_the_path_is_found_where_it_lies() {
        let page = r#"{"data": [{"next_cursor": "in a record"}],
            "meta": {"next_cursor": "abc", "count": 1}}"#;
        assert_eq!(
            near(page, "meta.nextCursor").as_deref(),
            Some("meta.next_cursor")
        );
        // Nested elsewhere than the path says, and a default's name.
        assert_eq!(
            near(page, "$.next_cursor").as_deref(),
            Some("meta.next_cursor")
        );
        let odata = r#"{"value": [], "@odata.nextLink": "https://h/x?$skip=2"}"#;
        assert_eq!(
            near(odata, "nextLink").as_deref(),
            Some("$['@odata.nextLink']")
        );
        let quoted = r#"{"it's": {"next": 2}}"#;
        assert_eq!(
            near(quoted, "paging.next").as_deref(),
            Some(r"$['it\'s']['next']")
        );
        let deep = r#"{"a": {"b": {"c": {"next_page": 3}}}}"#;
        assert_eq!(near(deep, "next").as_deref(), Some("a.b.c.next_page"));
    }

    #[test]
    fn nothing_is_named_where_no_next_page_is_held() {
        // A last page: the member is there, with nothing in it.
        for page in [
            r#"{"meta": {"next_cursor": null}}"#,
            r#"{"meta": {"next_cursor": ""}}"#,
            r#"{"meta": {"has_next": false}}"#,
            r#"{"meta": {"next": {"url": "x"}}}"#,
            // Names that share too little: a delta link is not a next link.
            r#"{"@odata.deltaLink": "https://h/d"}"#,
            // Inside the records.
            r#"{"data": [{"nextCursor": "a"}]}"#,
            // Deeper than four objects.
            r#"{"a": {"b": {"c": {"d": {"nextCursor": "a"}}}}}"#,
        ] {
            assert_eq!(near(page, "meta.nextCursor"), None, "{page}");
        }
        // Paths of more than names are not guessed at.
        assert_eq!(near(r#"{"next": "a"}"#, "$.data[-1].id"), None);
    }

    #[test]
    fn a_member_inside_a_path_is_spelled_as_a_job_writes_it() {
        assert_eq!(member_of("paging.next", "after"), "paging.next.after");
        assert_eq!(member_of("$.paging.next", "after"), "$.paging.next.after");
        assert_eq!(member_of("paging.next", "@link"), "$.paging.next['@link']");
        assert_eq!(member_of("$['a.b']", "it's"), r"$['a.b']['it\'s']");
    }

    #[test]
    fn the_largest_array_of_objects_is_named() {
        let page = br#"{"meta": {"tags": [{"a": 1}]}, "results": {"items": [{"id": 1}, {"id": 2}]},
            "ids": [1, 2, 3]}"#;
        assert_eq!(
            records_elsewhere(page).as_deref(),
            Some("the page has an array of 2 objects at `results.items`")
        );
        assert_eq!(records_elsewhere(br#"{"ids": [1, 2], "n": 2}"#), None);
        assert_eq!(records_elsewhere(b"[1, 2]"), None);
    }

    #[test]
    fn a_header_named_like_the_one_asked_for_is_found() {
        let headers = [
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-next-cursor".to_owned(), "abc".to_owned()),
        ];
        assert_eq!(near_header(&headers, "x-nextcursor"), Some("x-next-cursor"));
        assert_eq!(near_header(&headers, "next-cursor"), Some("x-next-cursor"));
        assert_eq!(near_header(&headers, "x-page"), None);
        let empty = [("x-next-cursor".to_owned(), " ".to_owned())];
        assert_eq!(near_header(&empty, "x-next"), None);
    }
}
