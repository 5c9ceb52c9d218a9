//! DataWorks (and Dataphin) job JSON, and DataX jobs: a `restapi` reader
//! with a `stream` or text-file writer is a read job; a `restapi` writer is
//! a write job. Keys mean what the DataWorks documentation says, with its
//! defaults (`dirtyData = "dirty"`, `batchSize = 512`).

use serde_json::{Map, Value, json};

use super::{Converted, DialectError, is_utf8, member, text, unknown_key, whole};

/// Whether a JSON document is a DataWorks or DataX job.
pub(super) fn is_dataworks(value: &Value) -> bool {
    let steps = member(value, "steps")
        .and_then(Value::as_array)
        .is_some_and(|steps| steps.iter().any(|s| member(s, "stepType").is_some()));
    let datax = member(value, "job")
        .and_then(|job| member(job, "content"))
        .is_some();
    steps || datax
}

/// One step of the job: its plugin, its parameters, and where it is in the
/// file (for messages).
struct Step<'v> {
    kind: String,
    parameter: &'v Map<String, Value>,
    at: String,
}

impl Step<'_> {
    fn key(&self, name: &str) -> String {
        format!("{}.parameter.{name}", self.at)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.parameter.get(name)
    }

    /// A string parameter; another type is an error naming it.
    fn string(&self, name: &str) -> Result<Option<String>, DialectError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => text(value)
                .map(Some)
                .ok_or_else(|| DialectError::new(self.key(name), "must be a string")),
        }
    }

    /// A whole-number parameter, written as a number or a string.
    fn number(&self, name: &str) -> Result<Option<i64>, DialectError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => whole(value)
                .map(Some)
                .ok_or_else(|| DialectError::new(self.key(name), "must be a whole number")),
        }
    }
}

/// Every key of the restapi reader and writer that hydrant reads.
const KNOWN_KEYS: [&str; 25] = [
    "url",
    "method",
    "dataMode",
    "dataPath",
    "column",
    "dirtyData",
    "requestTimes",
    "requestParam",
    "startIndex",
    "endIndex",
    "step",
    "parameters",
    "customHeader",
    "defaultHeader",
    "socketTimeout",
    "authType",
    "authUsername",
    "authPassword",
    "authToken",
    "accessKey",
    "accessSecret",
    "batchSize",
    "responseType",
    "datasource",
    "envType",
];

/// Refuses a key the restapi plugin does not have: a typo would otherwise
/// be a setting silently not applied.
fn known_keys(step: &Step<'_>) -> Result<(), DialectError> {
    match unknown_key(step.parameter, &KNOWN_KEYS) {
        Some(key) => Err(DialectError::new(
            step.key(key),
            "is not a key of the DataWorks restapi plugin",
        )),
        None => Ok(()),
    }
}

/// Keys of the restapi plugin that only matter on the platform.
const PLATFORM_KEYS: [(&str, &str); 3] = [
    (
        "datasource",
        "a DataWorks data source; hydrant takes `url` from the step",
    ),
    ("envType", "DataWorks' environment switch"),
    (
        "responseType",
        "only `json` responses are read, as DataWorks does",
    ),
];

pub(super) fn convert(value: &Value) -> Result<Converted, DialectError> {
    let (reader, writer, setting) = steps(value)?;
    let mut job = Converted::default();
    let writes = writer.kind == "restapi";
    match (reader.kind.as_str(), writer.kind.as_str()) {
        ("restapi", "stream") => {
            request(&mut job, &reader, "request")?;
            records(&mut job, &reader)?;
            job.set("output", "format", "ndjson");
            for key in writer.parameter.keys() {
                job.note(
                    "output",
                    writer.key(key),
                    "a stream writer prints NDJSON to stdout",
                );
            }
        }
        ("restapi", "txtfile") => {
            request(&mut job, &reader, "request")?;
            records(&mut job, &reader)?;
            text_file(&mut job, &writer)?;
        }
        ("stream", "restapi") => {
            stream_input(&mut job, &reader)?;
            request(&mut job, &writer, "write")?;
            write(&mut job, &writer)?;
            positional_columns(&mut job);
        }
        ("txtfile", "restapi") => {
            text_input(&mut job, &reader)?;
            request(&mut job, &writer, "write")?;
            write(&mut job, &writer)?;
        }
        (r, w) => {
            return Err(DialectError::new(
                format!("{}.stepType", if writes { &reader.at } else { &writer.at }),
                format!(
                    "a `{r}` reader with a `{w}` writer is not a REST job: hydrant runs a \
                     `restapi` reader with a `stream` or `txtfile` writer, or a `stream` or \
                     `txtfile` reader with a `restapi` writer"
                ),
            ));
        }
    }
    if let Some(setting) = setting {
        settings(&mut job, setting, writes)?;
    }
    if member(value, "order").is_some() {
        job.note(
            "",
            "order",
            "the order of steps is fixed: reader, then writer",
        );
    }
    Ok(job)
}

/// The reader, the writer and the settings of a DataWorks or DataX job.
fn steps(value: &Value) -> Result<(Step<'_>, Step<'_>, Option<&Value>), DialectError> {
    if let Some(steps) = member(value, "steps").and_then(Value::as_array) {
        let mut found = (None, None);
        for (i, step) in steps.iter().enumerate() {
            let at = format!("steps[{i}]");
            let kind = member(step, "stepType")
                .and_then(Value::as_str)
                .ok_or_else(|| DialectError::new(format!("{at}.stepType"), "is missing"))?;
            let category = member(step, "category").and_then(Value::as_str);
            let is_reader = match category {
                Some("reader") => true,
                Some("writer") => false,
                Some(other) => {
                    return Err(DialectError::new(
                        format!("{at}.category"),
                        format!("`{other}` is neither `reader` nor `writer`"),
                    ));
                }
                None => found.0.is_none(),
            };
            let step = make_step(kind, member(step, "parameter"), at)?;
            let slot = if is_reader {
                &mut found.0
            } else {
                &mut found.1
            };
            if slot.replace(step).is_some() {
                return Err(DialectError::new(
                    "steps",
                    "has more than one reader or writer: hydrant runs one of each",
                ));
            }
        }
        let (Some(reader), Some(writer)) = found else {
            return Err(DialectError::new("steps", "needs a reader and a writer"));
        };
        return Ok((reader, writer, member(value, "setting")));
    }
    let job = member(value, "job").expect("detected as a DataX job");
    let content = member(job, "content")
        .and_then(|c| c.as_array().map_or(Some(c), |a| a.first()))
        .ok_or_else(|| DialectError::new("job.content", "is empty"))?;
    let plugin = |side: &str| -> Result<Step<'_>, DialectError> {
        let at = format!("job.content[0].{side}");
        let step =
            member(content, side).ok_or_else(|| DialectError::new(at.clone(), "is missing"))?;
        let name = member(step, "name")
            .and_then(Value::as_str)
            .ok_or_else(|| DialectError::new(format!("{at}.name"), "is missing"))?;
        make_step(name, member(step, "parameter"), at)
    };
    Ok((plugin("reader")?, plugin("writer")?, member(job, "setting")))
}

/// A step with its plugin name normalised: `restapireader` and `RestAPI`
/// are both `restapi`, `txtfilewriter` is `txtfile`.
fn make_step<'v>(
    kind: &str,
    parameter: Option<&'v Value>,
    at: String,
) -> Result<Step<'v>, DialectError> {
    let lower = kind.to_ascii_lowercase();
    let kind = lower
        .strip_suffix("reader")
        .or_else(|| lower.strip_suffix("writer"))
        .unwrap_or(&lower)
        .to_owned();
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let parameter = match parameter {
        None => EMPTY.get_or_init(Map::new),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(DialectError::new(
                format!("{at}.parameter"),
                "must be an object",
            ));
        }
    };
    Ok(Step {
        kind,
        parameter,
        at,
    })
}

/// The request of a restapi step: into `[request]` for a reader, `[write]`
/// for a writer; with its headers, timeout and authentication.
fn request(job: &mut Converted, step: &Step<'_>, table: &str) -> Result<(), DialectError> {
    known_keys(step)?;
    let url = step
        .string("url")?
        .ok_or_else(|| DialectError::new(step.key("url"), "is missing"))?;
    job.set(table, "url", url);
    let method = step
        .string("method")?
        .unwrap_or_else(|| if table == "write" { "POST" } else { "GET" }.to_owned());
    let method = method.to_ascii_uppercase();
    let allowed: &[&str] = if table == "write" {
        &["POST", "PUT"]
    } else {
        &["GET", "POST"]
    };
    if !allowed.contains(&method.as_str()) {
        return Err(DialectError::new(
            step.key("method"),
            format!(
                "`{method}` is not one of {}",
                allowed.join(", ").to_ascii_lowercase()
            ),
        ));
    }
    job.set(table, "method", method.as_str());
    let mut headers = Map::new();
    for name in ["defaultHeader", "customHeader"] {
        match step.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (header, value) in map {
                    let value = text(value).ok_or_else(|| {
                        DialectError::new(
                            format!("{}.{header}", step.key(name)),
                            "must be a string",
                        )
                    })?;
                    headers.insert(header.clone(), Value::String(value));
                }
            }
            Some(_) => return Err(DialectError::new(step.key(name), "must be an object")),
        }
    }
    if !headers.is_empty() {
        job.set(table, "headers", Value::Object(headers));
    }
    if let Some(ms) = step.number("socketTimeout")? {
        if table == "write" {
            job.note(
                "write",
                step.key("socketTimeout"),
                "a write job's requests use the default timeout",
            );
        } else {
            job.set(table, "timeout", format!("{ms}ms"));
        }
    }
    auth(job, step)?;
    for (key, why) in PLATFORM_KEYS {
        match step.get(key) {
            Some(Value::String(kind))
                if key == "responseType" && !kind.eq_ignore_ascii_case("json") =>
            {
                return Err(DialectError::new(
                    step.key(key),
                    format!("`{kind}` responses cannot be read: hydrant reads JSON"),
                ));
            }
            Some(_) => job.note(
                if table == "write" { "write" } else { "request" },
                step.key(key),
                why,
            ),
            None => {}
        }
    }
    Ok(())
}

/// `authType` and its credentials.
fn auth(job: &mut Converted, step: &Step<'_>) -> Result<(), DialectError> {
    let Some(kind) = step.string("authType")? else {
        return Ok(());
    };
    let need = |name: &str| -> Result<String, DialectError> {
        step.string(name)?.ok_or_else(|| {
            DialectError::new(step.key(name), format!("is needed by authType `{kind}`"))
        })
    };
    let auth = match kind.to_ascii_lowercase().as_str() {
        "basic" => {
            json!({ "type": "basic", "username": need("authUsername")?, "password": need("authPassword")? })
        }
        // DataWorks' token authentication sends the token as it is.
        "token" => json!({ "type": "bearer", "token": need("authToken")?, "prefix": "" }),
        "ak" => json!({
            "type": "aliyun",
            "access_key_id": need("accessKey")?,
            "access_key_secret": need("accessSecret")?,
        }),
        "none" | "" => return Ok(()),
        other => {
            return Err(DialectError::new(
                step.key("authType"),
                format!("`{other}` is not one of Basic, Token, AK"),
            ));
        }
    };
    job.job.insert("auth".to_owned(), auth);
    Ok(())
}

/// What a restapi reader asks of the records: `parameters`, pages
/// (`requestTimes`), `dataMode`, `dataPath`, `column`, `dirtyData`.
fn records(job: &mut Converted, step: &Step<'_>) -> Result<(), DialectError> {
    let post = job.table("request").get("method") == Some(&Value::from("POST"));
    if let Some(parameters) = step.string("parameters")? {
        if post {
            let body: Value = serde_json::from_str(&parameters).map_err(|e| {
                DialectError::new(
                    step.key("parameters"),
                    format!("is not JSON, as a POST's must be: {e}"),
                )
            })?;
            job.set("request", "body", body);
        } else {
            let mut query = Map::new();
            for pair in parameters.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                query.insert(decode(name), Value::String(decode(value)));
            }
            job.set("request", "query", Value::Object(query));
        }
    }
    pages(job, step, post)?;
    match step.string("dataMode")?.as_deref() {
        None => {}
        Some("oneData") => job.set("records", "mode", "one"),
        Some("multiData") => job.set("records", "mode", "many"),
        Some(other) => {
            return Err(DialectError::new(
                step.key("dataMode"),
                format!("`{other}` is not `oneData` or `multiData`"),
            ));
        }
    }
    if let Some(path) = step.string("dataPath")?.filter(|p| !p.is_empty()) {
        job.set("records", "path", path);
    }
    let on_missing = match step.string("dirtyData")?.as_deref() {
        None | Some("dirty") => "dirty",
        Some("null") => "null",
        Some(other) => {
            return Err(DialectError::new(
                step.key("dirtyData"),
                format!("`{other}` is not `dirty` or `null`"),
            ));
        }
    };
    job.set("records", "on_missing", on_missing);
    if let Some(columns) = columns(step)? {
        job.job.insert("columns".to_owned(), columns);
    }
    Ok(())
}

/// `requestTimes = "multiple"`: a range of `requestParam` from
/// `startIndex` to `endIndex` by `step`.
fn pages(job: &mut Converted, step: &Step<'_>, post: bool) -> Result<(), DialectError> {
    match step.string("requestTimes")?.as_deref() {
        None | Some("single") => return Ok(()),
        Some("multiple") => {}
        Some(other) => {
            return Err(DialectError::new(
                step.key("requestTimes"),
                format!("`{other}` is not `single` or `multiple`"),
            ));
        }
    }
    let param = step.string("requestParam")?.ok_or_else(|| {
        DialectError::new(
            step.key("requestParam"),
            "is needed by requestTimes `multiple`",
        )
    })?;
    let start = step.number("startIndex")?.ok_or_else(|| {
        DialectError::new(
            step.key("startIndex"),
            "is needed by requestTimes `multiple`",
        )
    })?;
    let end = step.number("endIndex")?.ok_or_else(|| {
        DialectError::new(step.key("endIndex"), "is needed by requestTimes `multiple`")
    })?;
    let by = step.number("step")?.unwrap_or(1);
    job.job.insert(
        "paginate".to_owned(),
        json!({
            "type": "range",
            "param": param,
            "in": if post { "body" } else { "query" },
            "start": start,
            "end": end,
            "step": by,
        }),
    );
    Ok(())
}

/// `column` as `[[columns]]` (a reader: `name` is the path) or
/// `[[write.columns]]` (a writer: `name` is where in the sent JSON).
fn columns(step: &Step<'_>) -> Result<Option<Value>, DialectError> {
    let Some(list) = step.get("column") else {
        return Ok(None);
    };
    let list = list
        .as_array()
        .ok_or_else(|| DialectError::new(step.key("column"), "must be a list"))?;
    let mut columns = Vec::new();
    for (i, column) in list.iter().enumerate() {
        let at = format!("{}[{i}]", step.key("column"));
        let name = member(column, "name")
            .and_then(Value::as_str)
            .ok_or_else(|| DialectError::new(format!("{at}.name"), "is missing"))?;
        let mut native = Map::new();
        native.insert("name".to_owned(), Value::from(name));
        if let Some(kind) = member(column, "type") {
            let kind = kind
                .as_str()
                .ok_or_else(|| DialectError::new(format!("{at}.type"), "must be a string"))?;
            native.insert("type".to_owned(), Value::from(column_type(kind, &at)?));
        }
        if let Some(format) = member(column, "format").and_then(Value::as_str) {
            native.insert("format".to_owned(), Value::from(format));
        }
        columns.push(Value::Object(native));
    }
    Ok(Some(Value::Array(columns)))
}

/// A DataWorks column type, in any case, as a hydrant type.
fn column_type(kind: &str, at: &str) -> Result<&'static str, DialectError> {
    Ok(match kind.to_ascii_lowercase().as_str() {
        "string" => "string",
        "long" | "bigint" => "long",
        "int" | "integer" => "int",
        "double" => "double",
        "float" => "float",
        "boolean" | "bool" => "boolean",
        // DataX's `date` holds a date and a time.
        "date" | "datetime" | "timestamp" => "timestamp",
        "bytes" | "binary" => "binary",
        other => {
            return Err(DialectError::new(
                format!("{at}.type"),
                format!("`{other}` is not a DataWorks column type"),
            ));
        }
    })
}

/// A restapi writer's own keys: `dataMode`, `dataPath`, `column`,
/// `batchSize`.
fn write(job: &mut Converted, step: &Step<'_>) -> Result<(), DialectError> {
    let mode = match step.string("dataMode")?.as_deref() {
        Some("oneData") => "single",
        None | Some("multiData") => "batch",
        Some(other) => {
            return Err(DialectError::new(
                step.key("dataMode"),
                format!("`{other}` is not `oneData` or `multiData`"),
            ));
        }
    };
    job.set("write", "mode", mode);
    // oneData sends one record a request: batchSize does not apply.
    if mode == "batch" {
        job.set(
            "write",
            "batch_size",
            step.number("batchSize")?.unwrap_or(512),
        );
    } else if step.get("batchSize").is_some() {
        job.note(
            "write",
            step.key("batchSize"),
            "oneData sends one record a request",
        );
    }
    if let Some(path) = step.string("dataPath")?.filter(|p| !p.is_empty()) {
        job.set("write", "data_path", path);
    }
    if let Some(Value::Array(columns)) = columns(step)? {
        let columns: Vec<Value> = columns
            .into_iter()
            .map(|mut c| {
                let name = c["name"].clone();
                c["from"] = name;
                c
            })
            .collect();
        job.set("write", "columns", Value::Array(columns));
    }
    Ok(())
}

/// A text-file writer as `[output]`: CSV at `path/fileName`.
fn text_file(job: &mut Converted, step: &Step<'_>) -> Result<(), DialectError> {
    let file = file_path(step)?;
    job.set("output", "path", file);
    job.set("output", "format", "csv");
    let delimiter = step
        .string("fieldDelimiter")?
        .unwrap_or_else(|| ",".to_owned());
    let header = step.get("header").is_some();
    job.set(
        "output",
        "csv",
        json!({ "delimiter": delimiter, "header": header }),
    );
    text_file_settings(job, step)?;
    for key in step.parameter.keys() {
        if ![
            "path",
            "fileName",
            "fieldDelimiter",
            "header",
            "writeMode",
            "encoding",
            "compress",
            "nullFormat",
            "fileFormat",
        ]
        .contains(&key.as_str())
        {
            job.note(
                "output",
                step.key(key),
                "not a key hydrant's CSV output has",
            );
        }
    }
    Ok(())
}

/// A text-file writer's settings that change the file: honoured, refused
/// naming the key, or (DataX's defaults that hydrant's CSV does not share)
/// noted.
fn text_file_settings(job: &mut Converted, step: &Step<'_>) -> Result<(), DialectError> {
    match step.string("writeMode")?.as_deref() {
        None | Some("truncate") => {}
        Some(mode) => {
            return Err(DialectError::new(
                step.key("writeMode"),
                format!(
                    "`{mode}` is not honoured: hydrant replaces the file at path/fileName when \
                     the run succeeds, where DataX would keep what is there; set `truncate`"
                ),
            ));
        }
    }
    if let Some(encoding) = step.string("encoding")?
        && !is_utf8(&encoding)
    {
        return Err(DialectError::new(
            step.key("encoding"),
            format!("`{encoding}` is not written: hydrant writes UTF-8 files only"),
        ));
    }
    if let Some(codec) = step.string("compress")?.filter(|c| !c.is_empty()) {
        return Err(DialectError::new(
            step.key("compress"),
            format!("`{codec}` is not written: hydrant's CSV files are not compressed"),
        ));
    }
    match step.string("nullFormat")?.as_deref() {
        Some("") => {}
        None => job.note(
            "output",
            step.key("nullFormat"),
            "hydrant writes a null as an empty field, not as DataX's default `\\N`",
        ),
        Some(other) => {
            return Err(DialectError::new(
                step.key("nullFormat"),
                format!("`{other}` is not written: hydrant writes a null as an empty field"),
            ));
        }
    }
    match step.string("fileFormat")?.as_deref() {
        Some("csv") => {}
        None | Some("text") => job.note(
            "output",
            step.key("fileFormat"),
            "hydrant writes csv, quoting a value that holds the delimiter, a quote or a line \
             break, where DataX's default `text` writes it as it is",
        ),
        Some(other) => {
            return Err(DialectError::new(
                step.key("fileFormat"),
                format!("`{other}` is not written: csv or text"),
            ));
        }
    }
    Ok(())
}

/// A stream reader's constant columns, `sliceRecordCount` times, as
/// inline input records. Its columns have no names: they are `c0`, `c1`, …
/// in order, which the writer's columns take by position.
fn stream_input(job: &mut Converted, step: &Step<'_>) -> Result<(), DialectError> {
    let columns = step
        .get("column")
        .and_then(Value::as_array)
        .ok_or_else(|| DialectError::new(step.key("column"), "must list the constant columns"))?;
    let mut record = Map::new();
    for (i, column) in columns.iter().enumerate() {
        let at = format!("{}[{i}]", step.key("column"));
        let value = member(column, "value")
            .ok_or_else(|| DialectError::new(format!("{at}.value"), "is missing"))?;
        let kind = member(column, "type")
            .and_then(Value::as_str)
            .unwrap_or("string");
        let typed = match column_type(kind, &at)? {
            "long" | "int" => whole(value).map(Value::from),
            "double" | "float" => text(value)
                .and_then(|t| t.parse::<f64>().ok())
                .map(Value::from),
            "boolean" => text(value)
                .and_then(|t| t.parse::<bool>().ok())
                .map(Value::from),
            _ => text(value).map(Value::from),
        }
        .ok_or_else(|| DialectError::new(format!("{at}.value"), format!("is not a {kind}")))?;
        record.insert(format!("c{i}"), typed);
    }
    let count = step.number("sliceRecordCount")?.unwrap_or(1).max(0);
    job.set(
        "input",
        "records",
        Value::Array(vec![Value::Object(record)]),
    );
    job.set("input", "repeat", count);
    Ok(())
}

/// The writer's columns take the reader's by position.
fn positional_columns(job: &mut Converted) {
    if let Some(Value::Array(columns)) = job.table("write").get_mut("columns") {
        for (i, column) in columns.iter_mut().enumerate() {
            column["from"] = Value::from(format!("c{i}"));
        }
    }
}

/// A text-file reader as `[input]`.
fn text_input(job: &mut Converted, step: &Step<'_>) -> Result<(), DialectError> {
    let file = match step.get("path") {
        Some(Value::Array(paths)) if paths.len() == 1 => text(&paths[0]),
        Some(value) => text(value),
        None => None,
    }
    .ok_or_else(|| DialectError::new(step.key("path"), "must name one file"))?;
    job.set("input", "path", file);
    Ok(())
}

fn file_path(step: &Step<'_>) -> Result<String, DialectError> {
    let folder = step
        .string("path")?
        .ok_or_else(|| DialectError::new(step.key("path"), "is missing"))?;
    Ok(match step.string("fileName")? {
        Some(name) => format!("{}/{name}", folder.trim_end_matches('/')),
        None => folder,
    })
}

/// `setting`: `errorLimit.record`, `speed.concurrent`, `speed.mbps` with
/// `speed.throttle`.
fn settings(job: &mut Converted, setting: &Value, writes: bool) -> Result<(), DialectError> {
    if let Some(limit) = member(setting, "errorLimit").and_then(|e| member(e, "record")) {
        let limit = whole(limit).filter(|n| *n >= 0).ok_or_else(|| {
            DialectError::new("setting.errorLimit.record", "must be a whole number")
        })?;
        if writes {
            job.set("write", "max_rejects", limit);
        } else {
            job.set("records", "max_dirty", limit);
        }
    }
    if member(setting, "errorLimit")
        .and_then(|e| member(e, "percentage"))
        .is_some()
    {
        job.note(
            "",
            "setting.errorLimit.percentage",
            "limits are counts of records: set errorLimit.record",
        );
    }
    let Some(speed) = member(setting, "speed") else {
        return Ok(());
    };
    if let Some(concurrent) = member(speed, "concurrent") {
        let n = whole(concurrent).filter(|n| *n >= 1).ok_or_else(|| {
            DialectError::new(
                "setting.speed.concurrent",
                "must be a whole number of at least 1",
            )
        })?;
        job.set("limits", "concurrency", n);
    }
    let throttle =
        member(speed, "throttle").is_some_and(|t| t == &Value::Bool(true) || t == "true");
    if let Some(mbps) = member(speed, "mbps") {
        if throttle {
            let n = whole(mbps).filter(|n| *n >= 1).ok_or_else(|| {
                DialectError::new("setting.speed.mbps", "must be a whole number of MB/s")
            })?;
            job.set("limits", "bytes_per_second", format!("{n}MB"));
        } else {
            job.note(
                "limits",
                "setting.speed.mbps",
                "speed.throttle is not true, so DataWorks does not apply it either",
            );
        }
    }
    Ok(())
}
