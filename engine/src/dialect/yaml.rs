//! The YAML ETL framework's `rest_api` format: `CONFIG.inputs` and
//! `CONFIG.outputs`. A `rest_api` input with a file output (or none: then
//! stdout) is a read job; a file input with a `rest_api` output is a write
//! job. `{{ env.X }}` and `{{ x | default('d') }}` become hydrant
//! variables; any other template is an error naming it.

use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlLoader};

use super::{Converted, DialectError, Pick, member, text, unknown_key, whole};

/// Whether `text` is a YAML file with `CONFIG.inputs` or `CONFIG.outputs`.
pub(super) fn is_yaml(text: &str) -> bool {
    let Ok(docs) = YamlLoader::load_from_str(text) else {
        return false;
    };
    docs.first().is_some_and(|doc| {
        let config = &doc["CONFIG"];
        !config["inputs"].is_badvalue() || !config["outputs"].is_badvalue()
    })
}

/// The document as JSON, every template turned into a hydrant variable.
fn to_json(yaml: &Yaml, at: &str) -> Result<Value, DialectError> {
    Ok(match yaml {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(templates(s, at)?),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| to_json(v, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (k, v) in hash {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    _ => return Err(DialectError::new(at, "has a key that is not text")),
                };
                let here = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                let value = to_json(v, &here)?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Yaml::Null => Value::Null,
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(DialectError::new(
                at,
                "uses a YAML alias, which is not read",
            ));
        }
    })
}

/// `{{ env.X }}` → `${X}`, `{{ x | default('d') }}` → `${x:-d}`; a `$`
/// of the text is kept as it is.
fn templates(text: &str, at: &str) -> Result<String, DialectError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open].replace('$', "$$"));
        let close = rest[open..].find("}}").ok_or_else(|| {
            DialectError::new(at, format!("`{text}` opens a template it does not close"))
        })?;
        let inner = rest[open + 2..open + close].trim();
        out.push_str(&variable(inner).ok_or_else(|| {
            DialectError::new(
                at,
                format!("`{{{{ {inner} }}}}` is not a template hydrant reads: only `{{{{ env.NAME }}}}` and `{{{{ name | default('value') }}}}`"),
            )
        })?);
        rest = &rest[open + close + 2..];
    }
    out.push_str(&rest.replace('$', "$$"));
    Ok(out)
}

/// The hydrant variable of one template's inside.
fn variable(inner: &str) -> Option<String> {
    let is_name =
        |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if let Some(name) = inner.strip_prefix("env.") {
        return is_name(name).then(|| format!("${{{name}}}"));
    }
    let (name, filter) = inner.split_once('|')?;
    let name = name.trim();
    let default = filter
        .trim()
        .strip_prefix("default(")?
        .strip_suffix(')')?
        .trim();
    let quoted = default
        .strip_prefix('\'')
        .and_then(|d| d.strip_suffix('\''))
        .or_else(|| default.strip_prefix('"').and_then(|d| d.strip_suffix('"')))?;
    is_name(name).then(|| format!("${{{name}:-{}}}", quoted.replace('$', "$$")))
}

/// The entries of `CONFIG.inputs` or `CONFIG.outputs`: a list of tables
/// with a `name`, or a table by name.
fn entries(config: &Value, side: &str) -> Vec<(String, Value)> {
    match member(config, side) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let name = member(item, "name")
                    .and_then(text)
                    .unwrap_or_else(|| i.to_string());
                (name, item.clone())
            })
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    }
}

/// The entry of a side named by `wanted` (`--input`, `--output-name`), or
/// the only one (or none, for outputs); several are an error.
fn one(
    config: &Value,
    side: &str,
    wanted: Option<&str>,
) -> Result<Option<(String, Value)>, DialectError> {
    let mut all = entries(config, side);
    let flag = if side == "inputs" {
        "--input"
    } else {
        "--output-name"
    };
    if let Some(wanted) = wanted {
        let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
        return match all.into_iter().find(|(n, _)| n == wanted) {
            Some(found) => Ok(Some(found)),
            None => Err(DialectError::new(
                flag,
                format!(
                    "CONFIG.{side} has no entry `{wanted}` (there are: {})",
                    names.join(", ")
                ),
            )),
        };
    }
    match all.len() {
        0 | 1 => Ok(all.pop()),
        _ => {
            let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
            Err(DialectError::new(
                format!("CONFIG.{side}"),
                format!(
                    "has several entries ({}): pick one with {flag} NAME",
                    names.join(", ")
                ),
            ))
        }
    }
}

pub(super) fn convert(text: &str, pick: &Pick) -> Result<Converted, DialectError> {
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| DialectError::new("", format!("not valid YAML: {e}")))?;
    let doc = to_json(&docs[0], "")?;
    let config = member(&doc, "CONFIG").cloned().unwrap_or_default();
    let (in_name, input) = one(&config, "inputs", pick.input.as_deref())?
        .ok_or_else(|| DialectError::new("CONFIG.inputs", "is missing"))?;
    let output = one(&config, "outputs", pick.output.as_deref())?;
    let kind = |v: &Value| {
        member(v, "type")
            .and_then(Value::as_str)
            .unwrap_or("rest_api")
            .to_owned()
    };
    let mut job = Converted::default();
    known(&config, "CONFIG", &["inputs", "outputs"])?;
    let in_at = format!("CONFIG.inputs.{in_name}");
    let keys = |entry: &Value, own: &[&'static str]| match kind(entry).as_str() {
        "rest_api" => [&REQUEST_KEYS[..], own].concat(),
        _ => FILE_KEYS.to_vec(),
    };
    known(&input, &in_at, &keys(&input, &INPUT_KEYS))?;
    if let Some((name, output)) = &output {
        let at = format!("CONFIG.outputs.{name}");
        known(output, &at, &keys(output, &OUTPUT_KEYS))?;
    }
    match (kind(&input).as_str(), output.as_ref().map(|(_, o)| kind(o))) {
        ("rest_api", None) => read(&mut job, &input, &in_at)?,
        ("rest_api", Some(out)) if out == "file" || out == "stdout" => {
            read(&mut job, &input, &in_at)?;
            let (name, output) = output.as_ref().expect("matched");
            file(
                &mut job,
                output,
                "output",
                &format!("CONFIG.outputs.{name}"),
            )?;
        }
        ("file", Some(out)) if out == "rest_api" => {
            file(&mut job, &input, "input", &in_at)?;
            let (name, output) = output.as_ref().expect("matched");
            write(&mut job, output, &format!("CONFIG.outputs.{name}"))?;
        }
        (i, o) => {
            return Err(DialectError::new(
                format!("{in_at}.type"),
                format!(
                    "a `{i}` input with a `{}` output is not a REST job: hydrant runs a rest_api input with a file output, or a file input with a rest_api output",
                    o.unwrap_or_default()
                ),
            ));
        }
    }
    Ok(job)
}

/// The keys of a rest_api input or output (its request's, and its own),
/// and of a file or stdout entry: any other is refused, as a native job
/// refuses an unknown key.
const REQUEST_KEYS: [&str; 8] = [
    "name",
    "type",
    "url",
    "method",
    "headers",
    "params",
    "auth",
    "rate_limit",
];
const INPUT_KEYS: [&str; 3] = ["response", "pagination", "schema"];
const OUTPUT_KEYS: [&str; 1] = ["batch_size"];
const FILE_KEYS: [&str; 4] = ["name", "type", "path", "format"];

/// Refuses a key of the table `value` at `at` that is not one of `keys`:
/// hydrant would not read it, and a setting left out changes the run.
fn known(value: &Value, at: &str, keys: &[&str]) -> Result<(), DialectError> {
    let unknown = value.as_object().and_then(|table| unknown_key(table, keys));
    match unknown {
        Some(key) => Err(DialectError::new(
            format!("{at}.{key}"),
            format!(
                "is not a key hydrant reads here (it reads {})",
                keys.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The request side shared by inputs and outputs: url, method, headers,
/// params, auth, rate_limit.
fn request(job: &mut Converted, entry: &Value, table: &str, at: &str) -> Result<(), DialectError> {
    let key = |k: &str| format!("{at}.{k}");
    let url = member(entry, "url")
        .and_then(text)
        .ok_or_else(|| DialectError::new(key("url"), "is missing"))?;
    job.set(table, "url", url);
    if let Some(method) = member(entry, "method").and_then(text) {
        job.set(table, "method", method.to_ascii_uppercase());
    }
    if let Some(headers) = member(entry, "headers") {
        let headers = headers
            .as_object()
            .ok_or_else(|| DialectError::new(key("headers"), "must be a table"))?;
        let strings: Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(text(v).unwrap_or_default())))
            .collect();
        job.set(table, "headers", Value::Object(strings));
    }
    if let Some(params) = member(entry, "params") {
        if table == "write" {
            return Err(DialectError::new(
                key("params"),
                "a rest_api output sends no query parameters in hydrant",
            ));
        }
        job.set(table, "query", params.clone());
    }
    if let Some(auth) = member(entry, "auth") {
        job.job
            .insert("auth".to_owned(), auth_of(auth, &key("auth"))?);
    }
    if let Some(limit) = member(entry, "rate_limit") {
        known(
            limit,
            &key("rate_limit"),
            &["requests_per_second", "retry_on", "max_retries"],
        )?;
        if let Some(rate) = member(limit, "requests_per_second") {
            job.set("limits", "rate", rate.clone());
        }
        if let Some(codes) = member(limit, "retry_on") {
            job.set("limits", "retry_on", codes.clone());
        }
        if let Some(n) = member(limit, "max_retries") {
            job.set("limits", "max_retries", n.clone());
        }
    }
    Ok(())
}

/// `auth`: bearer, api_key (header or param), basic.
fn auth_of(auth: &Value, at: &str) -> Result<Value, DialectError> {
    let need = |k: &str| {
        member(auth, k)
            .and_then(text)
            .ok_or_else(|| DialectError::new(format!("{at}.{k}"), "is missing"))
    };
    Ok(
        match member(auth, "type")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "bearer" => {
                known(auth, at, &["type", "token"])?;
                json!({ "type": "bearer", "token": need("token")? })
            }
            "basic" => {
                known(auth, at, &["type", "username", "password"])?;
                json!({ "type": "basic", "username": need("username")?, "password": need("password")? })
            }
            "api_key" => {
                known(
                    auth,
                    at,
                    &["type", "name", "key", "value", "in", "location"],
                )?;
                let place = member(auth, "in")
                    .or_else(|| member(auth, "location"))
                    .and_then(Value::as_str)
                    .unwrap_or("header");
                let place = match place {
                    "header" => "header",
                    "param" | "query" => "query",
                    other => {
                        return Err(DialectError::new(
                            format!("{at}.in"),
                            format!("`{other}` is not header or param"),
                        ));
                    }
                };
                let name = member(auth, "name")
                    .or_else(|| member(auth, "key"))
                    .and_then(text)
                    .ok_or_else(|| DialectError::new(format!("{at}.name"), "is missing"))?;
                json!({ "type": "api_key", "name": name, "value": need("value")?, "in": place })
            }
            other => {
                return Err(DialectError::new(
                    format!("{at}.type"),
                    format!("`{other}` is not bearer, api_key or basic"),
                ));
            }
        },
    )
}

/// A rest_api input: its request, pagination, records and schema.
fn read(job: &mut Converted, input: &Value, at: &str) -> Result<(), DialectError> {
    request(job, input, "request", at)?;
    if let Some(response) = member(input, "response") {
        known(response, &format!("{at}.response"), &["root_key"])?;
    }
    if let Some(root) = member(input, "response")
        .and_then(|r| member(r, "root_key"))
        .and_then(text)
    {
        job.set("records", "path", root);
    }
    if let Some(pagination) = member(input, "pagination") {
        job.job.insert(
            "paginate".to_owned(),
            paginate(pagination, &format!("{at}.pagination"))?,
        );
    }
    if let Some(schema) = member(input, "schema") {
        job.job.insert(
            "columns".to_owned(),
            columns(schema, &format!("{at}.schema"))?,
        );
    }
    Ok(())
}

/// `pagination`: offset (`offset`/`limit` by default), cursor (`cursor`),
/// next_link; `page_size`, `max_pages`.
fn paginate(p: &Value, at: &str) -> Result<Value, DialectError> {
    let get = |k: &str| member(p, k).cloned();
    let size = get("page_size").as_ref().and_then(whole);
    let mut out = match member(p, "type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "offset" => {
            known(
                p,
                at,
                &[
                    "type",
                    "page_size",
                    "offset_param",
                    "limit_param",
                    "max_pages",
                ],
            )?;
            json!({
            "type": "offset",
            "param": get("offset_param").unwrap_or_else(|| Value::from("offset")),
            "limit_param": get("limit_param").unwrap_or_else(|| Value::from("limit")),
            "limit": size.unwrap_or(100),
            })
        }
        "cursor" => {
            known(
                p,
                at,
                &[
                    "type",
                    "cursor_field",
                    "cursor_param",
                    "page_size",
                    "page_size_param",
                    "max_pages",
                ],
            )?;
            let field = member(p, "cursor_field").and_then(text).ok_or_else(|| {
                DialectError::new(
                    format!("{at}.cursor_field"),
                    "is needed by cursor pagination",
                )
            })?;
            let mut c = json!({
                "type": "cursor",
                "param": get("cursor_param").unwrap_or_else(|| Value::from("cursor")),
                "from": field,
            });
            if let Some(size) = size {
                c["size_param"] = get("page_size_param").unwrap_or_else(|| Value::from("limit"));
                c["size"] = Value::from(size);
            }
            c
        }
        "next_link" => {
            known(p, at, &["type", "link_field", "max_pages"])?;
            let field = member(p, "link_field").and_then(text).ok_or_else(|| {
                DialectError::new(
                    format!("{at}.link_field"),
                    "is needed by next_link pagination",
                )
            })?;
            json!({ "type": "next_link", "from": field })
        }
        other => {
            return Err(DialectError::new(
                format!("{at}.type"),
                format!("`{other}` is not offset, cursor or next_link"),
            ));
        }
    };
    if let Some(pages) = get("max_pages").as_ref().and_then(whole) {
        out["max_requests"] = Value::from(pages);
    }
    Ok(out)
}

/// `schema`: a list of `{name, type}` (with an optional `path`), or a table
/// of name → type.
fn columns(schema: &Value, at: &str) -> Result<Value, DialectError> {
    let pairs: Vec<(String, Value)> = match schema {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, c)| {
                known(c, &format!("{at}[{i}]"), &["name", "type", "path"])?;
                let name = member(c, "name")
                    .and_then(text)
                    .ok_or_else(|| DialectError::new(format!("{at}[{i}].name"), "is missing"))?;
                Ok((name, c.clone()))
            })
            .collect::<Result<_, DialectError>>()?,
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), json!({ "type": v })))
            .collect(),
        _ => return Err(DialectError::new(at, "must be a list or a table")),
    };
    let mut out = Vec::new();
    for (name, column) in pairs {
        let mut native = json!({ "name": name });
        if let Some(path) = member(&column, "path").and_then(text) {
            native["path"] = Value::from(path);
        }
        if let Some(kind) = member(&column, "type").and_then(Value::as_str) {
            let native_kind = match kind {
                "integer" => "int",
                "long" | "float" | "double" | "string" | "boolean" | "timestamp" | "date"
                | "binary" => kind,
                other => {
                    return Err(DialectError::new(
                        format!("{at}.{name}.type"),
                        format!("`{other}` is not a schema type"),
                    ));
                }
            };
            native["type"] = Value::from(native_kind);
        }
        out.push(native);
    }
    Ok(Value::Array(out))
}

/// A file input or output: `path` and `format` (jsonl/json, csv,
/// parquet); `stdout` is the standard output.
fn file(job: &mut Converted, entry: &Value, table: &str, at: &str) -> Result<(), DialectError> {
    if member(entry, "type").and_then(Value::as_str) == Some("stdout") {
        return Ok(());
    }
    let path = member(entry, "path")
        .and_then(text)
        .ok_or_else(|| DialectError::new(format!("{at}.path"), "is missing"))?;
    job.set(table, "path", path);
    if let Some(format) = member(entry, "format").and_then(Value::as_str) {
        let native = match format {
            "json" | "jsonl" | "ndjson" => "ndjson",
            "csv" => "csv",
            "parquet" => "parquet",
            other => {
                return Err(DialectError::new(
                    format!("{at}.format"),
                    format!("`{other}` is not jsonl, csv or parquet"),
                ));
            }
        };
        job.set(table, "format", native);
    }
    Ok(())
}

/// A rest_api output: its request and `batch_size`.
fn write(job: &mut Converted, output: &Value, at: &str) -> Result<(), DialectError> {
    request(job, output, "write", at)?;
    if let Some(method) = member(output, "method").and_then(text) {
        job.set("write", "method", method.to_ascii_uppercase());
    } else {
        job.set("write", "method", "POST");
    }
    let size = member(output, "batch_size").and_then(whole);
    match size {
        Some(1) => job.set("write", "mode", "single"),
        Some(n) => {
            job.set("write", "mode", "batch");
            job.set("write", "batch_size", n);
        }
        None => job.set("write", "mode", "batch"),
    }
    Ok(())
}
