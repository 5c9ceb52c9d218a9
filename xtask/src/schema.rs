//! `cargo xtask schema`: writes the job file's JSON Schema to
//! `docs/hydrant.schema.json`.
//!
//! The schema's shape comes from the structs the engine reads a job file
//! into; each key's description comes from its row in the job file
//! reference (`docs/reference/job-file.md`), so that an editor shows what
//! the reference says. The tests keep the three in step: a key without a
//! row in the reference fails, and so does a stale schema file.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::root;

pub const SCHEMA: &str = "docs/hydrant.schema.json";
pub const REFERENCE: &str = "docs/reference/job-file.md";

pub fn run() -> Result<()> {
    let reference = std::fs::read_to_string(root().join(REFERENCE))
        .with_context(|| format!("cannot read {REFERENCE}"))?;
    let path = root().join(SCHEMA);
    std::fs::write(&path, text(&reference))
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {SCHEMA}");
    Ok(())
}

/// The schema as it is written to [`SCHEMA`], described from `reference`.
pub fn text(reference: &str) -> String {
    let mut schema = hydrant_engine::job_schema();
    for table in tables(&schema) {
        let rows = section(reference, &table.path)
            .map(rows)
            .unwrap_or_default();
        let node = match &table.def {
            Some(def) => &mut schema["$defs"][def],
            None => &mut schema,
        };
        if let Some(map) = node.as_object_mut() {
            // The structs' own doc comments speak to developers.
            map.remove("description");
        }
        for key in &table.keys {
            if let Some(description) = rows.get(key) {
                let property = &mut node["properties"][key];
                if !property.is_object() {
                    // `true`, any value: the same as `{}`.
                    *property = Value::Object(Default::default());
                }
                property["description"] = description.clone().into();
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
    text.push('\n');
    text
}

/// A table of the job file: `paginate.stop` for `[[paginate.stop]]`, ""
/// for the top level; the schema definition that describes it; its keys.
pub struct Table {
    pub path: String,
    pub def: Option<String>,
    pub keys: BTreeSet<String>,
}

/// Every table of the job file, top level first. A struct met again
/// under another table (`fanout.from.request`) is listed once, at its
/// first table.
pub fn tables(schema: &Value) -> Vec<Table> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([(String::new(), None)]);
    while let Some((path, def)) = queue.pop_front() {
        let node = match &def {
            Some(name) => &schema["$defs"][name],
            None => schema,
        };
        let Some(properties) = node.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (key, value) in properties {
            for name in refs(value) {
                if seen.insert(name.clone()) {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    queue.push_back((child, Some(name)));
                }
            }
        }
        let keys = properties.keys().cloned().collect();
        out.push(Table { path, def, keys });
    }
    out
}

/// The definitions a property's schema refers to.
fn refs(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.trim_start_matches("#/$defs/").to_owned());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

/// The reference's section for `table`: from its `## [table]` (or
/// `## [[table]]`, or `## The top level`) heading to the next heading.
pub fn section<'a>(reference: &'a str, table: &str) -> Option<&'a str> {
    let headings = if table.is_empty() {
        vec!["## The top level".to_owned()]
    } else {
        vec![format!("## `[{table}]`"), format!("## `[[{table}]]`")]
    };
    let start = headings
        .iter()
        .find_map(|heading| reference.find(&format!("{heading}\n")))?;
    let body = &reference[start + 1..];
    let end = body.find("\n## ").map_or(body.len(), |at| at);
    Some(&body[..end])
}

/// The key rows of a section's table: key → "meaning (default: …)".
pub fn rows(section: &str) -> BTreeMap<String, String> {
    let mut header: Vec<String> = Vec::new();
    let mut out = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_owned())
            .collect();
        if header.is_empty() {
            header = cells;
            continue;
        }
        let cell = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .and_then(|i| cells.get(i))
                .filter(|c| !c.is_empty() && *c != "—")
        };
        let Some(key) = cells[0].strip_prefix('`').and_then(|k| k.strip_suffix('`')) else {
            continue;
        };
        let mut description = cell("meaning").cloned().unwrap_or_default();
        if let Some(default) = cell("default") {
            if description.is_empty() {
                description = format!("default: {default}");
            } else {
                description = format!("{description} (default: {default})");
            }
        }
        out.insert(key.to_owned(), description.replace('`', ""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> String {
        std::fs::read_to_string(root().join(REFERENCE)).unwrap()
    }

    #[test]
    fn the_schema_file_is_current() {
        let found = std::fs::read_to_string(root().join(SCHEMA)).unwrap_or_default();
        assert!(
            found == text(&reference()),
            "{SCHEMA} is not the schema of the job file's structs and reference: run `cargo xtask schema`"
        );
    }

    /// Each table has a `## [table]` (or `## [[table]]`) section in the
    /// reference, and each of its keys a row starting with `` | `key` ``.
    #[test]
    fn every_key_is_in_the_reference() {
        let reference = reference();
        let mut missing = Vec::new();
        for table in tables(&hydrant_engine::job_schema()) {
            let Some(section) = section(&reference, &table.path) else {
                missing.push(format!("a section for [{}]", table.path));
                continue;
            };
            let rows = rows(section);
            for key in &table.keys {
                if !rows.contains_key(key) {
                    missing.push(format!("[{}] {key}", table.path));
                }
            }
        }
        assert!(missing.is_empty(), "{REFERENCE} lacks: {missing:#?}");
    }

    #[test]
    fn tables_are_found_through_references() {
        let tables = tables(&hydrant_engine::job_schema());
        let paths: Vec<&str> = tables.iter().map(|t| t.path.as_str()).collect();
        for table in [
            "",
            "request",
            "paginate",
            "paginate.stop",
            "auth.signature",
            "fanout.from",
        ] {
            assert!(paths.contains(&table), "{table} not in {paths:?}");
        }
        let paginate = tables.iter().find(|t| t.path == "paginate").unwrap();
        assert!(paginate.keys.contains("limit_param") && paginate.keys.contains("rel"));
    }

    #[test]
    fn a_row_gives_the_meaning_and_the_default() {
        let section = "## `[x]`\n\n| key | type | default | meaning |\n|---|---|---|---|\n\
                       | `a` | string | `\"b\"` | the `a` |\n| `c` | integer | — | |\n";
        let rows = rows(section);
        assert_eq!(rows["a"], "the a (default: \"b\")");
        assert_eq!(rows["c"], "");
    }
}
