//! Offsets and page numbers an answer echoes, where the URL names none:
//! in the body beside its records, DummyJSON's and Feathers' `{"total",
//! "skip", "limit"}`, FastAPI's and Flask's `{"page", "size"}` or
//! `{"page", "per_page"}`, Spring's `{"number", "size"}`, Strapi's
//! `meta.pagination`; in a header, flask-smorest's and ASP.NET APIs'
//! `X-Pagination`. Such members do not always name the parameters, and
//! an API may take an unknown parameter for a filter, so each guess is
//! sent as the second page, and kept only where the answer echoes what
//! was sent: a request or two more. Where nothing is echoed but the
//! first page counts more records than it holds, the second page asked
//! for must hold records the first did not; so must the page asked for
//! with a cursor the first page names, where no known style says its
//! parameter.

use anyhow::Result;
use hydrant_engine::{NextPage, Probe, RunOptions, Vars};
use serde_json::Value;

use super::{Draft, Paging, at, cursor, members, named_at, probe_again, quoted};

/// Offsets: `skip` or `offset` beside `limit`, sent as those names, then
/// with a `$` (Feathers reads `$skip` and `$limit`).
pub(super) async fn echoed_offsets(
    draft: &Draft,
    vars: &Vars,
    body: &Value,
    again: &RunOptions,
) -> Result<Option<Paging>> {
    let number = |name: &str| body.get(name).and_then(Value::as_u64);
    let Some((member, limit)) = ["skip", "offset"]
        .into_iter()
        .find(|name| number(name).is_some())
        .zip(number("limit").filter(|&l| l > 0))
    else {
        return Ok(None);
    };
    for prefix in ["", "$"] {
        let (param, limit_param) = (format!("{prefix}{member}"), format!("{prefix}limit"));
        let sent = [(&param, limit), (&limit_param, limit)];
        if echoes(draft, vars, again, &sent, (Echo::Body, &[member]), limit).await {
            let why = format!(
                "`{member}` and `limit` in the body, echoed for `{param}` and `{limit_param}`"
            );
            return Ok(Some(offsets(why, (param, limit_param), limit)));
        }
    }
    Ok(None)
}

/// Offsets sent as `param`, `limit` records a page sent as
/// `limit_param`, guessed for `why`.
fn offsets(why: String, (param, limit_param): (String, String), limit: u64) -> Paging {
    Paging {
        why: format!("{why}: offsets"),
        keys: vec![
            ("type", quoted("offset")),
            ("param", quoted(&param)),
            ("limit_param", quoted(&limit_param)),
            ("limit", limit.to_string()),
        ],
        takes: vec![param, limit_param],
        ..Paging::default()
    }
}

/// The members that echo a page's number, and the parameters each may
/// be sent back as, tried in turn: Spring's zero-based `number` is read
/// as `page`, Laravel's `current_page` as `page` and Litestar's as
/// `current_page`, ASP.NET APIs' `CurrentPage` as `pageNumber` or
/// `page`.
const PAGE_MEMBERS: [(&str, &[&str]); 6] = [
    ("page", &["page"]),
    ("number", &["page"]),
    ("current_page", &["page", "current_page"]),
    ("CurrentPage", &["pageNumber", "page"]),
    ("pageNumber", &["pageNumber"]),
    ("page_number", &["page_number"]),
];

/// The members that echo a page's size, and the parameter each is sent
/// back as: its own name, or for ASP.NET's `PageSize`, `pageSize`.
const SIZE_MEMBERS: [(&str, &str); 7] = [
    ("size", "size"),
    ("per_page", "per_page"),
    ("page_size", "page_size"),
    ("pageSize", "pageSize"),
    ("PageSize", "pageSize"),
    ("perPage", "perPage"),
    ("limit", "limit"),
];

/// Where a page echoes its number: in its body, or in the JSON object of
/// its `X-Pagination` header (flask-smorest, ASP.NET APIs), where the
/// body is the records alone.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Echo {
    Body,
    Header,
}

impl Echo {
    /// The JSON the numbers are read from in an answer.
    fn read(self, probe: &Probe) -> Option<Value> {
        match self {
            Echo::Body => serde_json::from_slice(&probe.body).ok(),
            Echo::Header => header_object(&probe.headers),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Echo::Body => "the body",
            Echo::Header => "the `X-Pagination` header",
        }
    }
}

/// The JSON object of an `X-Pagination` header, if the answer has one.
pub(super) fn header_object(headers: &[(String, String)]) -> Option<Value> {
    let (_, value) = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-pagination"))?;
    serde_json::from_str::<Value>(value)
        .ok()
        .filter(Value::is_object)
}

/// Page numbers: a page member beside a size member, in `object` (the
/// body or the header `echo` names) or up to two objects down (`meta`,
/// Strapi's `meta.pagination`), the next number sent with the size: by
/// the members' names, then, for members of an object, in brackets
/// under its name (Strapi reads `pagination[page]` and
/// `pagination[pageSize]`). A header's page member is enough alone
/// (flask-smorest's names no size): the API's own size is kept.
pub(super) async fn echoed_pages(
    draft: &Draft,
    vars: &Vars,
    (object, echo): (&Value, Echo),
    again: &RunOptions,
) -> Result<Option<Paging>> {
    for (keys, value) in members(object, 3) {
        let Some((&key, parent)) = keys.split_last() else {
            continue;
        };
        let Some((_, params)) = PAGE_MEMBERS.iter().find(|(member, _)| *member == key) else {
            continue;
        };
        let Some(first) = value.as_u64().filter(|&n| n <= 1) else {
            continue;
        };
        let sibling = |name: &str| at(object, parent)?.get(name)?.as_u64().filter(|&n| n > 0);
        let size = SIZE_MEMBERS
            .iter()
            .find_map(|(name, param)| Some((*name, *param, sibling(name)?)));
        if size.is_none() && echo == Echo::Body {
            continue;
        }
        let mut spellings: Vec<(String, Option<String>)> = params
            .iter()
            .map(|param| {
                (
                    (*param).to_owned(),
                    size.map(|(_, param, _)| param.to_owned()),
                )
            })
            .collect();
        if let Some(object) = parent.last() {
            spellings.push((
                format!("{object}[{key}]"),
                size.map(|(name, _, _)| format!("{object}[{name}]")),
            ));
        }
        for (param, size_param) in spellings {
            let mut sent = vec![(&param, first + 1)];
            if let (Some(size_param), Some((.., size))) = (&size_param, size) {
                sent.push((size_param, size));
            }
            if echoes(draft, vars, again, &sent, (echo, &keys), first + 1).await {
                let size = size_param.zip(size.map(|(.., size)| size));
                return Ok(Some(numbered((echo, &keys), first, param, size)));
            }
        }
    }
    Ok(None)
}

/// The page numbers of a page member at `keys` of what `echo` names,
/// echoed for `param`, starting at `first`, with a size sent as its
/// parameter where one was echoed.
fn numbered(
    (echo, keys): (Echo, &[&str]),
    first: u64,
    param: String,
    size: Option<(String, u64)>,
) -> Paging {
    let why = format!(
        "`{}` in {}, echoed for `{param}`",
        keys.join("."),
        echo.name()
    );
    pages(why, param, first, size)
}

/// Page numbers sent as `param` from `first`, with `size` records a page
/// sent as its parameter (none: the API's own size), guessed for `why`.
fn pages(why: String, param: String, first: u64, size: Option<(String, u64)>) -> Paging {
    let mut keys = vec![("type", quoted("page")), ("param", quoted(&param))];
    if first != 1 {
        keys.push(("start", first.to_string()));
    }
    let mut takes = vec![param];
    let why = match size {
        Some((size_param, size)) => {
            keys.push(("size_param", quoted(&size_param)));
            keys.push(("size", size.to_string()));
            let why = format!("{why} with `{size_param}`: page numbers");
            takes.push(size_param);
            why
        }
        None => format!(
            "{why}: page numbers, of the API's own size (`size_param` and `size` ask another)"
        ),
    };
    Paging {
        why,
        keys,
        takes,
        ..Paging::default()
    }
}

/// Why a first page that names nothing more may have more after it.
pub(super) enum More {
    /// The API counts this many records.
    Counted(u64),
    /// The page holds a page size APIs stop at, and no count
    /// ([`Probe::full_page`]).
    Full,
}

/// Offsets, then page numbers, where the first page counts more records
/// than it holds and names neither its next page nor its numbers
/// (django-ninja's `{"items", "count"}`, Elasticsearch's `hits`), or
/// holds a round number of them and no count (Directus, PostgREST). The
/// second page is asked for with `offset` and `limit`, then `skip` and
/// `limit`, `start` and `rows`, `from` and `size`, then as `page` 1
/// (pages from 0) and 2, and a guess is kept
/// where its answer holds records, none of them the first page's. An
/// API that reads none of these answers the first page again.
/// `records` is the records' keys in the body (none where the body is
/// the records).
pub(super) async fn counted_pages(
    draft: &Draft,
    vars: &Vars,
    (body, records): (&Value, &[&str]),
    more: More,
    again: &RunOptions,
) -> Result<Option<Paging>> {
    let Some(first) = at(body, records).and_then(Value::as_array) else {
        return Ok(None);
    };
    let held = first.len() as u64;
    let why = match more {
        More::Counted(count) if held > 0 && count > held => {
            format!("the first page counts {count} records and holds {held}")
        }
        More::Full => format!("the first page holds exactly {held} records, a page size"),
        More::Counted(_) => return Ok(None),
    };
    let new = |probe: &Probe| {
        let page = serde_json::from_slice::<Value>(&probe.body).ok();
        let second = page.as_ref().and_then(|page| at(page, records)?.as_array());
        second.is_some_and(|second| {
            !second.is_empty() && second.iter().all(|record| !first.contains(record))
        })
    };
    // Sails reads `skip`; Solr (and CKAN) `start` and `rows`;
    // Elasticsearch and OpenSearch `from` and `size`.
    let names = [
        ("offset", "limit"),
        ("skip", "limit"),
        ("start", "rows"),
        ("from", "size"),
    ];
    for (offset, limit) in names {
        let (offset, limit) = (offset.to_owned(), limit.to_owned());
        let sent = [(&offset, held), (&limit, held)];
        if asked(draft, vars, again, &sent)
            .await
            .is_some_and(|p| new(&p))
        {
            let why = format!("{why}; `{offset}` and `{limit}` gave others");
            return Ok(Some(offsets(why, (offset, limit), held)));
        }
    }
    // Page 1 is the second page where pages count from 0.
    let page = "page".to_owned();
    for (asked_for, start) in [(1, 0), (2, 1)] {
        if asked(draft, vars, again, &[(&page, asked_for)])
            .await
            .is_some_and(|p| new(&p))
        {
            let why = format!("{why}; `page` {asked_for} gave others");
            return Ok(Some(pages(why, page, start, None)));
        }
    }
    Ok(None)
}

/// A cursor the first page names at a path of names (`named`, as a run
/// reads it) under a name no known style gives a parameter for: Zoom's
/// `next_page_token`, Twitter's `meta.next_token`, Box's `next_marker`.
/// The first page is asked for again with the cursor under the names an
/// API reads it by ([`cursor_params`]), and a name is kept where its
/// answer holds records, none of them the first page's: an API takes an
/// unknown parameter for nothing and answers its first page again.
/// `records` is the records' keys in the body (none where the body is
/// the records).
pub(super) async fn probed_cursor(
    draft: &Draft,
    vars: &Vars,
    (body, records, named): (&Value, &[&str], Option<&NextPage>),
    again: &RunOptions,
) -> Result<Option<Paging>> {
    let Some(NextPage::Cursor(from)) = named else {
        return Ok(None);
    };
    let Some((value, name)) = named_at(body, from) else {
        return Ok(None);
    };
    let value = match value {
        Value::String(text) if !text.trim().is_empty() => value.clone(),
        Value::Number(_) => value.clone(),
        _ => return Ok(None),
    };
    let Some(first) = at(body, records).and_then(Value::as_array) else {
        return Ok(None);
    };
    for param in cursor_params(&name) {
        let Some(probe) = asked(draft, vars, again, &[(&param, value.clone())]).await else {
            continue;
        };
        let page = serde_json::from_slice::<Value>(&probe.body).ok();
        let second = page.as_ref().and_then(|page| at(page, records)?.as_array());
        if second.is_some_and(|second| {
            !second.is_empty() && second.iter().all(|record| !first.contains(record))
        }) {
            let why =
                format!("`{from}` holds the next page's cursor; sent as `{param}`, it gave others");
            return Ok(Some(cursor(&why, from, &param)));
        }
    }
    Ok(None)
}

/// The names an API may read a cursor named `name` back by, in the order
/// they are tried: its own (Zoom's `next_page_token`), without its `next`
/// (Box's `next_marker` as `marker`, AWS's `NextToken` as `Token`, then in
/// lower case), and the names APIs give cursors (Twitter's
/// `pagination_token`, Google's `pageToken`).
fn cursor_params(name: &str) -> Vec<String> {
    let mut names = vec![name.to_owned()];
    let bare = ["next_", "next-", "next.", "Next", "next"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix).filter(|rest| !rest.is_empty()));
    if let Some(bare) = bare {
        names.push(bare.to_owned());
        let mut chars = bare.chars();
        if let Some(first) = chars.next() {
            names.push(first.to_lowercase().chain(chars).collect());
        }
    }
    let common = [
        "cursor",
        "page_token",
        "pageToken",
        "pagination_token",
        "token",
        "marker",
        "after",
        "starting_after",
        "continuation_token",
        "continuationToken",
    ];
    names.extend(common.map(str::to_owned));
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

/// Whether the first page asked again with `sent` in its query (in place
/// of any parameters of those names) answers with `expected` at `keys`
/// of what `echo` names.
async fn echoes(
    draft: &Draft,
    vars: &Vars,
    again: &RunOptions,
    sent: &[(&String, u64)],
    (echo, keys): (Echo, &[&str]),
    expected: u64,
) -> bool {
    asked(draft, vars, again, sent)
        .await
        .and_then(|probe| echo.read(&probe))
        .and_then(|page| at(&page, keys)?.as_u64())
        == Some(expected)
}

/// The first page asked again with `sent` in its query, in place of any
/// parameters of those names, or in the body it posts where the query
/// does not have them; none where the request failed.
async fn asked<V: Clone + Into<Value>>(
    draft: &Draft,
    vars: &Vars,
    again: &RunOptions,
    sent: &[(&String, V)],
) -> Option<Probe> {
    let mut second = Draft {
        url: draft.url.clone(),
        query: draft.query.clone(),
        headers: draft.headers.clone(),
        auth: draft.auth.clone(),
        body: draft.body.clone(),
        ..Draft::default()
    };
    for (param, value) in sent {
        let in_query = second.query.iter().any(|(name, _)| name == *param);
        match &mut second.body {
            Some(body) if !in_query => {
                body.insert((*param).clone(), value.clone().into());
            }
            // A parameter already in the URL (`?limit=100`) is sent
            // once, as the job will send it: a name twice is no job.
            _ => {
                let text = match value.clone().into() {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                second.query.retain(|(name, _)| name != *param);
                second.query.push(((*param).clone(), text));
            }
        }
    }
    probe_again(&second, vars, again).await.ok()
}
