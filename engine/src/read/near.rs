//! What a misspelled `paginate.from` or `paginate.header` most likely
//! meant. A cursor or link that is absent ends pagination as a last page
//! does: a path or header name that matches nothing would end the run
//! after its first page without a word. When the first page has a member
//! or header named like it, holding a value, the run says so.

use hydrant_paginate::{Follows, Kind, Page, Paginator, Stop};

use crate::job::Job;
use crate::json::node::{Node, View};
use crate::json::path::JsonPath;

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
        Stop::NoNext => (paginator.next_from().into_iter())
            .find_map(|source| told(source, false))
            .or_else(|| rel_missed(job, page, shown)),
        Stop::EndCondition => told(paginator.stopped_by_absence(page)?, true),
        _ => None,
    }
}

/// What a `link_header` pass says that ended at its first page for want
/// of its `rel`, when the page's `Link` header names a next page by
/// another: `next`, or a rel like the job's (`next_page` for `next-page`).
/// A header of `first` and `last` alone is a single page's.
fn rel_missed(job: &Job, page: &Page<'_>, shown: &str) -> Option<String> {
    if job.paginate.kind != Kind::LinkHeader {
        return None;
    }
    let wanted = job.paginate.rel.as_deref().unwrap_or("next");
    let links = (page.headers.iter())
        .filter(|(name, _)| name.eq_ignore_ascii_case("link"))
        .map(|(_, value)| value.as_str());
    let rels = hydrant_paginate::rels(links);
    let found = (rels.iter()).find(|rel| *rel == "next" || alike(&folded(rel), &folded(wanted)))?;
    let all: Vec<String> = rels.iter().map(|rel| format!("`{rel}`")).collect();
    Some(format!(
        "paginate.rel `{wanted}` is not a rel of the Link header of the first page, from \
         {shown}, so pagination ends there; the header has {}: if `{found}` is the next page, \
         set paginate.rel to it",
        all.join(", ")
    ))
}

/// [`ended_at_first`] of one source, absent from the page.
fn told(
    job: &Job,
    source: Follows<'_>,
    by_rule: bool,
    (page, shown): (&Page<'_>, &str),
    near: &dyn Fn(usize) -> Option<String>,
) -> Option<String> {
    let (what, asked, lacks, has, found) = match source {
        Follows::Body { index, path } => {
            if page.watched.get(index).is_some_and(Option::is_some) {
                return None;
            }
            let default = !by_rule
                && job.paginate.from.is_none()
                && matches!(job.paginate.kind, Kind::Cursor | Kind::NextLink);
            let asked = match default {
                true => format!("`{path}` (the default)"),
                false => format!("`{path}`"),
            };
            let found = near(index)?;
            ("path", asked, "selects nothing on", "the page has", found)
        }
        Follows::Header(name) => {
            if page.headers.iter().any(|(n, _)| n == name) {
                return None;
            }
            let found = near_header(page.headers, name)?.to_owned();
            let (lacks, has) = ("is not a header of", "the response has");
            ("header", format!("`{name}`"), lacks, has, found)
        }
    };
    Some(match (by_rule, job.paginate.kind) {
        (true, _) => format!(
            "a [[paginate.stop]] rule ended pagination at the first page, from {shown}, as its \
             {what} {asked} {lacks} it; {has} `{found}`: if the rule means that, set its {what} \
             to it"
        ),
        (false, Kind::Rules) => format!(
            "the paginate.rules {what} {asked} {lacks} the first page, from {shown}, so \
             pagination ends there; {has} `{found}`: if that holds the next page's value, set \
             the rule to it"
        ),
        (false, _) => {
            let key = format!(
                "paginate.{}",
                if what == "path" { "from" } else { "header" }
            );
            format!(
                "{key} {asked} {lacks} the first page, from {shown}, so pagination ends \
                 there; {has} `{found}`: if that holds the next cursor or link, set {key} to it"
            )
        }
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
    let (key, point) = match paginator.follows() {
        Some(_) => ("paginate.from", "point paginate.from"),
        None => ("the paginate.rules path", "point the rule"),
    };
    let (what, inside) = match value {
        serde_json::Value::Object(members) => {
            let scalars: Vec<String> = (members.iter())
                .filter(|(_, v)| v.is_string() || v.is_number())
                .take(4)
                .filter_map(|(key, _)| Some(format!("`{}`", member_of(path, key)?)))
                .collect();
            let inside = match scalars.is_empty() {
                true => String::new(),
                false => format!(" ({})", scalars.join(", ")),
            };
            // Such an object may be the next request's parameters, as a
            // run without `param` would send them; one that holds a link
            // (HubSpot's `paging.next`) is not.
            let parameters = hydrant_paginate::holds_parameters(value)
                && (members.values()).all(|v| v.as_str().is_none_or(|text| !is_link(text)));
            let inside = match paginator.sends_one_value() && parameters {
                true => format!(
                    "{inside}, or leave out paginate.param to send each of its members as a \
                     parameter of its own (MediaWiki's `continue`)"
                ),
                false => inside,
            };
            ("an object", inside)
        }
        serde_json::Value::Array(_) => ("an array", String::new()),
        _ => return None,
    };
    Some(format!(
        "{key} `{path}` holds {what} on the page from {shown}, not a cursor or link: {point} \
         at the member that holds it{inside}"
    ))
}

/// What a `cursor` pass says when its cursor is a link (`http://` or
/// `https://`): Django REST Framework's `next`, and most APIs' `next`
/// members, hold the next page's URL. Sent as the cursor parameter, it is
/// refused (404 `Invalid cursor`) or ignored; `next_link` follows it.
pub(crate) fn link_as_cursor(
    job: &Job,
    paginator: &Paginator,
    watched: &[Option<serde_json::Value>],
    shown: &str,
) -> Option<String> {
    if job.paginate.kind != Kind::Cursor {
        return None;
    }
    let Some(Follows::Body { index, path }) = paginator.follows() else {
        return None;
    };
    let text = watched.get(index)?.as_ref()?.as_str()?;
    let scheme = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    if !scheme.starts_with("http://") && !scheme.starts_with("https://") {
        return None;
    }
    let param = job.paginate.param.as_deref().unwrap_or("cursor");
    Some(format!(
        "paginate.from `{path}` holds a link on the page from {shown}, which a `cursor` pass \
         sends as its `{param}` parameter: set paginate.type = \"next_link\" to follow it"
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
/// or a string that is not empty), found by [`near_top`]. `None` for a
/// path with indexes, wildcards or filters.
pub(crate) fn near_member<'v, N: Node<'v>>(root: N, path: &JsonPath) -> Option<String> {
    let wanted = folded(path.keys()?.last()?);
    let mut found = None;
    near_top(root, &[], |keys, value| {
        let here = keys.last().expect("a member has a key");
        if alike(&folded(here), &wanted) && holds_a_next(value.view()) {
            found = Some(spelled(keys));
        }
        found.is_some()
    });
    found
}

/// The largest array of objects, or of arrays (rows, as Datasette and
/// SQL APIs give them), among `page`'s members (see [`near_top`]), as
/// `check` names it beside a records path that matches nothing: `the page
/// has an array of 20 objects at `items``.
pub(crate) fn records_elsewhere<'v, N: Node<'v>>(page: N) -> Option<String> {
    let mut best: Option<(usize, &str, String)> = None;
    let (mut items, mut inside) = (Vec::new(), Vec::new());
    near_top(page, &[], |keys, value| {
        items.clear();
        inside.clear();
        let kind = value.elements(&mut items).and_then(|()| {
            let first = *items.first()?;
            match first.is_object() {
                true => Some("objects"),
                false => first.elements(&mut inside).map(|()| "arrays"),
            }
        });
        if let Some(kind) = kind
            && best.as_ref().is_none_or(|(n, _, _)| items.len() > *n)
        {
            best = Some((items.len(), kind, spelled(keys)));
        }
        false
    });
    let (count, kind, path) = best?;
    Some(format!(
        "the page has an array of {count} {kind} at `{path}`"
    ))
}

/// Shows `visit` the members of `root`'s objects, breadth first, with
/// the keys that lead to each, until it answers true: to [`DEPTH`]
/// levels, at most [`MEMBERS`] members, arrays (the records) not entered,
/// nor the member at the keys `skip` (records in an object).
pub(super) fn near_top<'v, N: Node<'v>>(
    root: N,
    skip: &[String],
    mut visit: impl FnMut(&[String], N) -> bool,
) {
    let mut level = vec![(root, Vec::<String>::new())];
    let mut seen = 0;
    for _ in 0..DEPTH {
        let mut deeper = Vec::new();
        for (node, at) in level {
            let mut done = false;
            node.members(&mut |key, value| {
                seen += 1;
                if done || seen > MEMBERS {
                    return;
                }
                let mut here = at.clone();
                here.push(key.to_owned());
                if here == skip {
                    return;
                }
                done = visit(&here, value);
                if value.is_object() {
                    deeper.push((value, here));
                }
            });
            if done {
                return;
            }
        }
        level = deeper;
    }
}

/// Whether `text` is a URL, a path, or a query alone (`?page=2`, which
/// a run resolves against the page's URL).
pub(super) fn is_link(text: &str) -> bool {
    ["http://", "https://", "/", "?"]
        .iter()
        .any(|p| text.starts_with(p))
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
pub(super) fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Two folded names alike: the same, one within the other where the
/// shorter has four letters or more (`nextLink` in `@odata.nextLink`),
/// or one typo apart where both have five or more (`next_cusror`).
fn alike(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short == long
        || (short.len() >= 4 && long.contains(short))
        || (short.chars().count() >= 5 && one_typo(short, long))
}

/// Whether `short` becomes `long` by one typo: a letter left out, added,
/// changed, or two beside each other swapped.
fn one_typo(short: &str, long: &str) -> bool {
    let (mut a, mut b): (Vec<char>, Vec<char>) = (short.chars().collect(), long.chars().collect());
    // Shorter in bytes may be longer in letters.
    if a.len() > b.len() {
        std::mem::swap(&mut a, &mut b);
    }
    let same = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // After the letters both start with, the rest must agree past the typo.
    match b.len() - a.len() {
        0 => {
            a[same + 1..] == b[same + 1..]
                || (a.get(same + 1) == b.get(same)
                    && a.get(same) == b.get(same + 1)
                    && a.get(same + 2..) == b.get(same + 2..))
        }
        1 => a[same..] == b[same + 1..],
        _ => false,
    }
}

fn holds_a_next(value: View<'_>) -> bool {
    match value {
        View::Str(text) => !text.trim().is_empty(),
        View::I64(_) | View::U64(_) | View::F64(_) | View::Big(_) => true,
        View::Null | View::Bool(_) | View::Compound => false,
    }
}

/// The path of `key` in the object at `path`, as a job writes it; `None`
/// for a path of more than names.
fn member_of(path: &str, key: &str) -> Option<String> {
    let parsed = JsonPath::parse(path).ok()?;
    let mut keys: Vec<String> = parsed.keys()?.into_iter().map(str::to_owned).collect();
    keys.push(key.to_owned());
    let member = spelled(&keys);
    // In the job's own style: `$.a.b` for a job that wrote `$.a`.
    Some(match path.starts_with('$') && !member.starts_with('$') {
        true => format!("$.{member}"),
        false => member,
    })
}

/// Keys as a job writes them (see [`JsonPath::of_keys`]).
pub(super) fn spelled(keys: &[String]) -> String {
    JsonPath::of_keys(keys).as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::path::Segment;

    fn near(page: &str, path: &str) -> Option<String> {
        let mut bytes = page.as_bytes().to_vec();
        let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
        near_member(&tree, &JsonPath::parse(path).unwrap())
    }

    /// An object at a cursor job's `from`: the error says to leave out
    /// `param` where the run would send its members (a null one left
    /// out), not where one is a link or an object.
    #[test]
    fn an_object_cursor_is_told_to_go_without_param_where_it_could() {
        let config: hydrant_paginate::Config = serde_json::from_value(serde_json::json!(
            {"type": "cursor", "from": "continue", "param": "continue"}
        ))
        .unwrap();
        let paginator = Paginator::new(&config).unwrap();
        let said = |value: serde_json::Value| {
            not_a_cursor(&paginator, &[Some(value)], "http://h/p").unwrap()
        };
        let spread = "leave out paginate.param";
        let mediawiki = serde_json::json!({"apcontinue": "B", "continue": "-||", "x": null});
        assert!(said(mediawiki).contains(spread));
        let hubspot = serde_json::json!({"after": "2", "link": "/c?after=2"});
        assert!(!said(hubspot).contains(spread));
        assert!(!said(serde_json::json!({"a": {"b": 1}})).contains(spread));
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
        let quoted = r#"{"it's": {"next": 2}, "a.b": {"next": 3}}"#;
        assert_eq!(near(quoted, "paging.next").as_deref(), Some("it's.next"));
        let dotted = r#"{"a.b": {"next": 3}}"#;
        assert_eq!(
            near(dotted, "paging.next").as_deref(),
            Some("$['a.b']['next']")
        );
        let deep = r#"{"a": {"b": {"c": {"next_page": 3}}}}"#;
        assert_eq!(near(deep, "next").as_deref(), Some("a.b.c.next_page"));
        // One typo: letters swapped, left out, added or changed.
        let typos = r#"{"meta": {"next_cursor": "abc"}, "links": {"next_url": "/p?2"}}"#;
        for (path, found) in [
            ("meta.next_cusror", "meta.next_cursor"),
            ("meta.nextCurso", "meta.next_cursor"),
            ("meta.next_cursorr", "meta.next_cursor"),
            ("meta.next_cursur", "meta.next_cursor"),
            ("links.nxt_url", "links.next_url"),
        ] {
            assert_eq!(near(typos, path).as_deref(), Some(found), "{path}");
        }
    }

    #[test]
    fn one_typo_is_told_from_two() {
        for (a, b, one) in [
            ("cursor", "cursro", true),
            ("cursor", "ucrsor", true),
            ("cursor", "cursors", true),
            ("cursor", "xcursor", true),
            ("cursor", "cursxr", true),
            ("cursor", "crusro", false),
            ("cursor", "cursorxx", false),
            ("cursor", "kursxr", false),
            ("après", "aprés", true),
            ("ééééé", "abcdef", false),
        ] {
            let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            assert_eq!(one_typo(short, long), one, "{a} {b}");
        }
    }

    #[test]
    fn nothing_is_named_where_no_next_page_is_held() {
        // A last page: the member is there, with nothing in it.
        for page in [
            r#"{"meta": {"next_cursor": null}}"#,
            r#"{"meta": {"next_cursor": ""}}"#,
            r#"{"meta": {"has_next": false}}"#,
            r#"{"meta": {"next": {"url": "x"}}}"#,
            // Names that share too little: a delta link is not a next link,
            // nor a course a cursor (two letters changed).
            r#"{"@odata.deltaLink": "https://h/d"}"#,
            r#"{"meta": {"next_course": "a"}}"#,
            // Inside the records.
            r#"{"data": [{"nextCursor": "a"}]}"#,
            // Deeper than four objects.
            r#"{"a": {"b": {"c": {"d": {"nextCursor": "a"}}}}}"#,
        ] {
            assert_eq!(near(page, "meta.nextCursor"), None, "{page}");
        }
        // A name of four letters is not taken for a typo of another.
        assert_eq!(near(r#"{"meta": {"text": "hello"}}"#, "meta.next"), None);
        // Paths of more than names are not guessed at.
        assert_eq!(near(r#"{"next": "a"}"#, "$.data[-1].id"), None);
    }

    #[test]
    fn a_member_inside_a_path_is_spelled_as_a_job_writes_it() {
        let member = |path: &str, key: &str| member_of(path, key).unwrap();
        assert_eq!(member("paging.next", "after"), "paging.next.after");
        assert_eq!(member("$.paging.next", "after"), "$.paging.next.after");
        // As `hydrant schema` writes a path: dotted where that reads back.
        assert_eq!(member("paging.next", "@link"), "paging.next.@link");
        assert_eq!(member("$['a.b']", "it's"), r"$['a.b']['it\'s']");
        // Each reads back as the keys it names.
        let read = JsonPath::parse(&member("$['a.b']", "it's")).unwrap();
        let keys = [Segment::Key("a.b".into()), Segment::Key("it's".into())];
        assert_eq!(read.segments(), Some(&keys[..]));
        assert_eq!(member_of("$.data[-1]", "id"), None);
    }

    #[test]
    fn the_largest_array_of_objects_is_named() {
        let elsewhere = |page: &str| {
            let mut bytes = page.as_bytes().to_vec();
            records_elsewhere(&simd_json::to_borrowed_value(&mut bytes).unwrap())
        };
        let page = r#"{"meta": {"tags": [{"a": 1}]}, "results": {"items": [{"id": 1}, {"id": 2}]},
            "ids": [1, 2, 3]}"#;
        assert_eq!(
            elsewhere(page).as_deref(),
            Some("the page has an array of 2 objects at `results.items`")
        );
        assert_eq!(elsewhere(r#"{"ids": [1, 2], "n": 2}"#), None);
        // Datasette's rows beside its few facets.
        let rows = r#"{"columns": ["id"], "rows": [[1], [2], [3]], "facets": [{"name": "id"}]}"#;
        assert_eq!(
            elsewhere(rows).as_deref(),
            Some("the page has an array of 3 arrays at `rows`")
        );
        assert_eq!(elsewhere("[1, 2]"), None);
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
