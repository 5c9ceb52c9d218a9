//! Offsets and page numbers a body echoes beside its records, where the
//! URL names none: DummyJSON's and Feathers' `{"total", "skip", "limit"}`,
//! FastAPI's and Flask's `{"page", "size"}` or `{"page", "per_page"}`,
//! Spring's `{"number", "size"}`, Strapi's `meta.pagination`. Such
//! members do not always name the parameters, and an API may take an
//! unknown parameter for a filter, so each guess is sent as the second
//! page, and kept only where the answer echoes what was sent: a request
//! or two more.

use anyhow::Result;
use hydrant_engine::{RunOptions, Vars};
use serde_json::Value;

use super::{Draft, Paging, at, members, probe_again, quoted};

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
        if echoes(draft, vars, again, &sent, &[member], limit).await {
            return Ok(Some(Paging {
                why: format!(
                    "`{member}` and `limit` in the body, echoed for `{param}` and `{limit_param}`: offsets"
                ),
                keys: vec![
                    ("type", quoted("offset")),
                    ("param", quoted(&param)),
                    ("limit_param", quoted(&limit_param)),
                    ("limit", limit.to_string()),
                ],
                takes: vec![param, limit_param],
                ..Paging::default()
            }));
        }
    }
    Ok(None)
}

/// The members that echo a page's number, and the parameter each is
/// sent back as: Spring's zero-based `number` and Laravel's
/// `current_page` are read as `page`.
const PAGE_MEMBERS: [(&str, &str); 5] = [
    ("page", "page"),
    ("number", "page"),
    ("current_page", "page"),
    ("pageNumber", "pageNumber"),
    ("page_number", "page_number"),
];

/// The members that echo a page's size, each sent back by its name.
const SIZE_MEMBERS: [&str; 6] = [
    "size",
    "per_page",
    "page_size",
    "pageSize",
    "perPage",
    "limit",
];

/// Page numbers: a page member beside a size member, in the body or up
/// to two objects down (`meta`, Strapi's `meta.pagination`), the next
/// number sent with the size: by the members' names, then, for members
/// of an object, in brackets under its name (Strapi reads
/// `pagination[page]` and `pagination[pageSize]`).
pub(super) async fn echoed_pages(
    draft: &Draft,
    vars: &Vars,
    body: &Value,
    again: &RunOptions,
) -> Result<Option<Paging>> {
    for (keys, value) in members(body, 3) {
        let Some((&key, parent)) = keys.split_last() else {
            continue;
        };
        let Some((_, param)) = PAGE_MEMBERS.iter().find(|(member, _)| *member == key) else {
            continue;
        };
        let Some(first) = value.as_u64().filter(|&n| n <= 1) else {
            continue;
        };
        let sibling = |name: &str| at(body, parent)?.get(name)?.as_u64().filter(|&n| n > 0);
        let Some((size_member, size)) = SIZE_MEMBERS
            .iter()
            .find_map(|name| Some((*name, sibling(name)?)))
        else {
            continue;
        };
        let mut spellings = vec![((*param).to_owned(), size_member.to_owned())];
        if let Some(object) = parent.last() {
            spellings.push((
                format!("{object}[{key}]"),
                format!("{object}[{size_member}]"),
            ));
        }
        for (param, size_param) in spellings {
            let sent = [(&param, first + 1), (&size_param, size)];
            if echoes(draft, vars, again, &sent, &keys, first + 1).await {
                return Ok(Some(numbered(&keys, first, (param, size_param), size)));
            }
        }
    }
    Ok(None)
}

/// The page numbers of a page member at `keys` echoed for `param`,
/// starting at `first`, with `size` records a page sent as `size_param`.
fn numbered(keys: &[&str], first: u64, (param, size_param): (String, String), size: u64) -> Paging {
    let member = keys.join(".");
    let mut pairs = vec![("type", quoted("page")), ("param", quoted(&param))];
    if first != 1 {
        pairs.push(("start", first.to_string()));
    }
    pairs.push(("size_param", quoted(&size_param)));
    pairs.push(("size", size.to_string()));
    Paging {
        why: format!(
            "`{member}` in the body, echoed for `{param}` with `{size_param}`: page numbers"
        ),
        keys: pairs,
        takes: vec![param, size_param],
        ..Paging::default()
    }
}

/// Whether the first page asked again with `sent` in its query (in place
/// of any parameters of those names) answers with `expected` at `echo`.
async fn echoes(
    draft: &Draft,
    vars: &Vars,
    again: &RunOptions,
    sent: &[(&String, u64)],
    echo: &[&str],
    expected: u64,
) -> bool {
    let mut second = Draft {
        url: draft.url.clone(),
        query: draft.query.clone(),
        headers: draft.headers.clone(),
        auth: draft.auth.clone(),
        ..Draft::default()
    };
    // A parameter already in the URL (`?limit=100`) is sent once, as the
    // job will send it: a name twice is no job.
    second
        .query
        .retain(|(name, _)| sent.iter().all(|(param, _)| *param != name));
    for (param, value) in sent {
        second.query.push(((*param).clone(), value.to_string()));
    }
    let Ok(probe) = probe_again(&second, vars, again).await else {
        return false;
    };
    serde_json::from_slice::<Value>(&probe.body)
        .ok()
        .and_then(|page| at(&page, echo)?.as_u64())
        == Some(expected)
}
