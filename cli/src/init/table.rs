//! Records as rows of arrays, named by an array beside them: Datasette's
//! `rows` and `columns`, Elasticsearch SQL's `rows` and `columns[].name`,
//! Trino's `data` and `columns[].name`, ClickHouse's `data` and
//! `meta[].name`. Each column reads its place in the row (`$[0]`).

use anyhow::Result;
use hydrant_engine::{Job, JobFormat, JsonPath, Probe, Segment, Vars};
use serde_json::Value;

use super::{members, path_of};

/// Rows of a first page and the names of their places.
pub(super) struct Table<'b> {
    keys: Vec<&'b str>,
    pub(super) rows: &'b [Value],
    names: Vec<String>,
    /// The member that names the places.
    named_by: String,
}

impl Table<'_> {
    /// The records path.
    pub(super) fn path(&self) -> String {
        path_of(&self.keys)
    }

    /// Why the records are these rows, as the job's comment says it.
    pub(super) fn why(&self) -> String {
        format!("rows as arrays, named by `{}`", self.named_by)
    }
}

/// The longest array of arrays in the body whose width an array beside it
/// names, each name once: strings, or objects with a string `name`.
pub(super) fn table(body: &Value) -> Option<Table<'_>> {
    let mut best: Option<Table<'_>> = None;
    for (keys, child) in members(body, 4) {
        let Some(rows) = child.as_array().filter(|rows| !rows.is_empty()) else {
            continue;
        };
        let Some(width) = rows[0].as_array().map(Vec::len) else {
            continue;
        };
        if !rows.iter().all(Value::is_array)
            || best.as_ref().is_some_and(|b| b.rows.len() >= rows.len())
        {
            continue;
        }
        let (last, parent_keys) = keys.split_last().expect("a member has a key");
        let parent = super::at(body, parent_keys)?.as_object()?;
        let named = parent
            .iter()
            .filter(|(key, _)| key.as_str() != *last)
            .find_map(|(key, value)| Some((key, names_of(value, width)?)));
        if let Some((key, names)) = named {
            let mut by = parent_keys.to_vec();
            by.push(key.as_str());
            best = Some(Table {
                keys,
                rows,
                names,
                named_by: path_of(&by),
            });
        }
    }
    best
}

/// `width` names, each once: an array of strings, or of objects with a
/// string `name`.
fn names_of(value: &Value, width: usize) -> Option<Vec<String>> {
    let items = value.as_array().filter(|items| items.len() == width)?;
    let names: Vec<String> = items
        .iter()
        .map(|item| match item {
            Value::String(name) => Some(name.clone()),
            _ => Some(item.get("name")?.as_str()?.to_owned()),
        })
        .collect::<Option<_>>()?;
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    (sorted.len() == width && width > 0).then_some(names)
}

/// The `[[columns]]` of the rows, as `hydrant schema` infers them from the
/// rows made objects by their names, each path read from the row's place.
pub(super) fn columns(table: &Table<'_>, url: &str, vars: &Vars, probe: &Probe) -> Result<String> {
    let objects: Vec<Value> = table
        .rows
        .iter()
        .map(|row| {
            let cells = row.as_array().into_iter().flatten().cloned();
            Value::Object(table.names.iter().cloned().zip(cells).collect())
        })
        .collect();
    let job = Job::parse(
        &format!("[request]\nurl = {}\n", super::toml_string(url)),
        JobFormat::Toml,
        "hydrant init",
        vars,
    )?;
    let mut rows = probe.clone();
    rows.body = serde_json::to_vec(&objects)?;
    let inferred = hydrant_engine::schema_of(&job, &rows)?;
    let mut out = String::new();
    let mut name = String::new();
    for line in inferred.lines() {
        if let Some(quoted) = line.strip_prefix("name = ") {
            name = toml::from_str::<toml::Table>(&format!("n = {quoted}"))?["n"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            out.push_str(line);
            out.push('\n');
        } else if let Some(quoted) = line.strip_prefix("path = ") {
            let path: String = toml::from_str::<toml::Table>(&format!("p = {quoted}"))?["p"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            out.push_str(&format!(
                "path = {}\n",
                super::toml_string(&placed(table, &path))
            ));
            name.clear();
        } else if line.starts_with("type = ") {
            if !name.is_empty() {
                out.push_str(&format!(
                    "path = {}\n",
                    super::toml_string(&placed(table, &name))
                ));
            }
            out.push_str(line);
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// A path into a row made an object, read from the row's place instead:
/// `author.id` is `$[3].id` where `author` is the fourth name.
fn placed(table: &Table<'_>, path: &str) -> String {
    let segments = JsonPath::parse(path)
        .ok()
        .and_then(|p| p.segments().map(<[_]>::to_vec));
    let Some((Segment::Key(first), rest)) = segments.as_deref().and_then(<[_]>::split_first) else {
        return path.to_owned();
    };
    let Some(place) = table.names.iter().position(|n| n == first) else {
        return path.to_owned();
    };
    let mut out = format!("$[{place}]");
    for segment in rest {
        match segment {
            Segment::Key(key) if is_name(key) => out.push_str(&format!(".{key}")),
            Segment::Key(key) => {
                let quoted = key.replace('\\', "\\\\").replace('\'', "\\'");
                out.push_str(&format!("['{quoted}']"));
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
            Segment::Wildcard => out.push_str("[*]"),
        }
    }
    out
}

/// A key a dotted path writes bare.
fn is_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn found(body: &Value) -> Option<(String, Vec<String>, String)> {
        table(body).map(|t| (t.path(), t.names.clone(), t.named_by.clone()))
    }

    #[test]
    fn rows_are_named_by_the_array_beside_them() {
        let named = |path: &str, names: &[&str], by: &str| {
            let names = names.iter().map(|n| (*n).to_owned()).collect();
            Some((path.to_owned(), names, by.to_owned()))
        };
        let datasette = json!({"columns": ["id", "title"], "rows": [[1, "a"], [2, "b"]],
            "suggested_facets": [{"name": "title"}]});
        assert_eq!(
            found(&datasette),
            named("rows", &["id", "title"], "columns")
        );
        let trino = json!({"id": "q1", "columns": [{"name": "id", "type": "bigint"},
            {"name": "v", "type": "varchar"}], "data": [[1, "x"]]});
        assert_eq!(found(&trino), named("data", &["id", "v"], "columns"));
        let clickhouse = json!({"meta": [{"name": "n", "type": "UInt64"}], "data": [[7], [8]],
            "rows": 2});
        assert_eq!(found(&clickhouse), named("data", &["n"], "meta"));
        let nested = json!({"result": {"cols": ["a", "b"], "rows": [[1, 2]]}});
        assert_eq!(
            found(&nested),
            named("result.rows", &["a", "b"], "result.cols")
        );
        for body in [
            // Names of another width, or twice the same.
            json!({"columns": ["id"], "rows": [[1, "a"]]}),
            json!({"columns": ["id", "id"], "rows": [[1, "a"]]}),
            // Nothing names them, or the rows are not arrays.
            json!({"rows": [[1, "a"]], "count": 1}),
            json!({"columns": ["id", "t"], "rows": [{"id": 1, "t": "a"}]}),
            json!({"columns": ["id", "t"], "rows": []}),
        ] {
            assert!(table(&body).is_none(), "{body}");
        }
    }

    #[test]
    fn a_path_into_a_row_reads_its_place() {
        let body = json!({"columns": ["id", "author", "a b"], "rows": [[1, {"id": 2}, 3]]});
        let table = table(&body).unwrap();
        assert_eq!(placed(&table, "id"), "$[0]");
        assert_eq!(placed(&table, "author.id"), "$[1].id");
        assert_eq!(placed(&table, "$['a b']"), "$[2]");
        // Keys as the inferred columns spell them.
        let keys = ["author".to_owned(), "x y".to_owned()];
        assert_eq!(
            placed(&table, JsonPath::of_keys(&keys).as_str()),
            "$[1]['x y']"
        );
    }
}
