//! `hydrant init URL --graphql QUERY`: a GraphQL API pages a Relay
//! connection (`pageInfo { hasNextPage endCursor }` beside its `nodes` or
//! `edges`) by the cursor the query passes as the connection's `after`.
//! The job posts the query, sends each page's `endCursor` back as that
//! variable, and stops where `hasNextPage` is false.

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{Paging, members, path_of, quoted};
use crate::commands::Usage;

/// The query `--graphql` gives: as written, or read from the file an
/// `@FILE` names.
pub(super) fn query_of(given: &str) -> Result<String> {
    let Some(file) = given.strip_prefix('@') else {
        return Ok(given.to_owned());
    };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("--graphql: cannot read the query from `{file}`"))?;
    Ok(text.trim_end().to_owned())
}

/// The `--variables` JSON object as a TOML inline table. TOML has no
/// null: such a variable is refused, naming it.
pub(super) fn variables_of(given: &str) -> Result<String> {
    let value = Value::Object(super::json_object("--variables", given)?);
    let table = toml::Value::try_from(&value).map_err(|e| Usage(format!("--variables: {e}")))?;
    Ok(table.to_string())
}

/// A connection found in a GraphQL answer.
#[derive(Debug, PartialEq)]
pub(super) struct Connection {
    /// Where it is, from the body down.
    keys: Vec<String>,
    /// Its records: `nodes`, or each edge's `node`.
    pub records: String,
    /// Whether its first page says more follow.
    more: bool,
}

impl Connection {
    /// Why the records are where they are, for the job's comment.
    pub fn why(&self) -> String {
        format!("the nodes of the connection at `{}`", self.at())
    }

    fn at(&self) -> String {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        path_of(&keys)
    }
}

/// The errors a GraphQL answer holds, which a job written from it would
/// fail on: init stops with them.
pub(super) fn refuse_errors(body: &Value) -> Result<()> {
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return Ok(());
    };
    if errors.is_empty() {
        return Ok(());
    }
    let said: Vec<&str> = (errors.iter())
        .filter_map(|e| e.get("message").and_then(Value::as_str))
        .collect();
    bail!(
        "the GraphQL API answered the query with errors: {}",
        if said.is_empty() {
            "(no message)".to_owned()
        } else {
            said.join("; ")
        }
    )
}

/// The shallowest connection in the answer: an object whose `pageInfo`
/// holds `endCursor` and `hasNextPage`, beside an array of `nodes` or
/// `edges`.
pub(super) fn connection(body: &Value) -> Option<Connection> {
    let mut found: Option<Connection> = None;
    for (keys, value) in members(body, 8) {
        let Some(info) = value
            .get("pageInfo")
            .filter(|i| i.get("endCursor").is_some())
        else {
            continue;
        };
        let Some(more) = info.get("hasNextPage").and_then(Value::as_bool) else {
            continue;
        };
        let at = path_of(&keys);
        let records = if value.get("nodes").is_some_and(Value::is_array) {
            format!("{at}.nodes")
        } else if value.get("edges").is_some_and(Value::is_array) {
            let root = if at.starts_with('$') {
                at
            } else {
                format!("$.{at}")
            };
            format!("{root}.edges[*].node")
        } else {
            continue;
        };
        if found.as_ref().is_none_or(|f| keys.len() < f.keys.len()) {
            let keys = keys.iter().map(|k| (*k).to_owned()).collect();
            found = Some(Connection {
                keys,
                records,
                more,
            });
        }
    }
    found
}

/// The pagination of `connection`: its `endCursor` sent back as the
/// variable `query` passes as `after`. `None` where the first page is
/// the last and the query passes none; an error where more pages follow
/// and no page after the first could be asked for.
pub(super) fn paging(connection: &Connection, query: &str) -> Result<Option<Paging>> {
    let Some(variable) = after_variable(query) else {
        if !connection.more {
            return Ok(None);
        }
        bail!(
            "the connection at `{}` has more pages, but the query passes no variable as its \
             `after`: declare one and pass it (`query($after: String) {{ … issues(first: 100, \
             after: $after) … }}`), so that each page can ask for the next",
            connection.at()
        );
    };
    let at = connection.at();
    let info = |member: &str| format!("{at}.pageInfo.{member}");
    Ok(Some(Paging {
        why: format!(
            "the connection at `{at}` names the next page's cursor in `pageInfo.endCursor`, \
             sent back as the query's `${variable}`; `hasNextPage = false` ends it"
        ),
        keys: vec![
            ("type", quoted("cursor")),
            ("from", quoted(&info("endCursor"))),
            ("param", quoted(&format!("variables.{variable}"))),
            ("in", quoted("body")),
        ],
        stops: vec![vec![
            ("path", quoted(&info("hasNextPage"))),
            ("equals", "false".to_owned()),
        ]],
        takes: Vec::new(),
    }))
}

/// The variable a query passes as a connection's `after` argument
/// (`after: $after`), the first if several do.
fn after_variable(query: &str) -> Option<&str> {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = query.as_bytes();
    let mut from = 0;
    while let Some(found) = query[from..].find("after") {
        let start = from + found;
        from = start + "after".len();
        if start > 0 && ident(bytes[start - 1]) {
            continue;
        }
        let rest = query[from..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('$') else {
            continue;
        };
        let end = rest.bytes().position(|b| !ident(b)).unwrap_or(rest.len());
        if end > 0 {
            return Some(&rest[..end]);
        }
    }
    None
}

/// The query as a TOML string: a multi-line literal where it reads back
/// as written, else a basic string with escapes.
pub(super) fn toml_query(query: &str) -> String {
    let literal = !query.contains("'''")
        && !query.starts_with('\n')
        && !query.ends_with('\'')
        && query
            .chars()
            .all(|c| c == '\n' || c == '\t' || !c.is_control());
    match literal {
        true => format!("'''{query}'''"),
        false => quoted(query),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_after_variable_is_read_from_the_query() {
        let query = "query($n: Int, $cursor: String) {\n  repo {\n    issues(first: $n, after:$cursor) { nodes { id } }\n  }\n}";
        assert_eq!(after_variable(query), Some("cursor"));
        assert_eq!(
            after_variable("{ issues(after: $after) { id } }"),
            Some("after")
        );
        // `createdAfter` is another argument; a literal is no variable.
        assert_eq!(
            after_variable("{ a(createdAfter: $d, after: \"x\") { id } }"),
            None
        );
        assert_eq!(after_variable("{ a { id } }"), None);
    }

    #[test]
    fn the_shallowest_connection_with_page_info_is_found() {
        let body: Value = serde_json::json!({"data": {"org": {"repos": {
            "pageInfo": {"hasNextPage": true, "endCursor": "c2"},
            "edges": [{"cursor": "c1", "node": {"id": 1, "issues": {
                "pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": []}}}]
        }}}});
        let found = connection(&body).unwrap();
        assert_eq!(found.records, "$.data.org.repos.edges[*].node");
        assert!(found.more);
        assert_eq!(
            found.why(),
            "the nodes of the connection at `data.org.repos`"
        );
        let none: Value = serde_json::json!({"data": {"repos": {"nodes": [{"id": 1}]}}});
        assert_eq!(connection(&none), None);
    }

    #[test]
    fn variables_become_an_inline_table() {
        let text =
            variables_of(r#"{"owner": "acme", "first": 100, "labels": ["a b"], "x": {"y": true}}"#)
                .unwrap();
        let read: toml::Value = toml::from_str(&format!("v = {text}")).unwrap();
        let back: Value = serde_json::to_value(&read["v"]).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"owner": "acme", "first": 100, "labels": ["a b"], "x": {"y": true}})
        );
        let refused = |given: &str| variables_of(given).unwrap_err().to_string();
        assert!(refused(r#"{"after": null}"#).contains("`after` holds a null"));
        assert!(refused("[1]").contains("expected a JSON object"));
        assert!(refused("{").contains("not JSON"));
    }

    #[test]
    fn a_query_is_written_as_it_reads_back() {
        for query in [
            "query {\n  a { id }\n}",
            "{ a(s: \"x'''y\") { id } }",
            "\n{ a }",
            "{ a }\r\n",
        ] {
            let text = format!("q = {}", toml_query(query));
            let read: toml::Value = toml::from_str(&text).unwrap();
            assert_eq!(read["q"].as_str(), Some(query), "{text}");
        }
        assert!(toml_query("query {\n  a\n}").starts_with("'''"));
    }
}
