//! From the job file as written (`file.rs`) to the validated `Job`: each
//! table checked, with errors that name the key at fault.

use super::*;

/// The tables of a read job, which a write job (`[write]`) would leave
/// unread: its records come from `[input]` as they are, go out as
/// `[[write.columns]]` map them, and leave no output but the summary.
const READ_TABLES: [(&str, &str); 6] = [
    ("[paginate]", "it reads its `[input]` whole"),
    ("[fanout]", "it reads its `[input]` whole"),
    ("[incremental]", "it reads its `[input]` whole"),
    ("[records]", "its records are its `[input]`'s"),
    ("[[columns]]", "it maps records with `[[write.columns]]`"),
    (
        "[output]",
        "it writes no records (`write.reject_path` keeps those refused)",
    ),
];

/// A write job with a table only a read job reads: refused, naming it,
/// rather than run as if the table were not there.
pub(super) fn refuse_read_tables(tree: &Value) -> std::result::Result<(), String> {
    if tree.get("write").is_none() {
        return Ok(());
    }
    let given = |table: &str| tree.get(table.trim_matches(['[', ']'])).is_some();
    match READ_TABLES.iter().find(|(table, _)| given(table)) {
        Some((table, instead)) => Err(format!(
            "`{table}` belongs to a read job, and this is a write job (`[write]`): {instead}; a read job of its own can feed it (`input.job`)"
        )),
        None => Ok(()),
    }
}

pub(super) fn extraction_text(tree: &Value) -> Vec<u8> {
    let mut tree = tree.clone();
    if let Some(job) = tree.as_object_mut() {
        for key in ["limits", "auth", "state"] {
            job.shift_remove(key);
        }
        if let Some(request) = job.get_mut("request").and_then(Value::as_object_mut) {
            for key in [
                "timeout",
                "connect_timeout",
                "interval",
                "tls_verify",
                "ca_file",
            ] {
                request.shift_remove(key);
            }
        }
    }
    serde_json::to_vec(&tree).unwrap_or_default()
}

pub(super) fn output_path(path: &str) -> Option<PathBuf> {
    (path != "-").then(|| PathBuf::from(path))
}

/// What expanding a job's variables found out.
#[derive(Debug, Default)]
pub(super) struct FromVars {
    /// The keys of the values that took a variable; a URL's query
    /// parameter given by one is noted as `KEY?NAME`.
    pub keys: Vec<String>,
    /// The values of the variables named as credentials.
    pub credentials: Vec<String>,
}

/// Expands `${NAME}` in every string of the job; `key` tracks where we
/// are, so that an error can name it.
pub(super) fn interpolate(
    value: &mut Value,
    key: &mut String,
    vars: &Vars,
    from_vars: &mut FromVars,
) -> std::result::Result<(), String> {
    match value {
        Value::String(s) => {
            if s.contains("${") {
                from_vars.keys.push(key.clone());
                // A URL's query parameter given by a variable is a
                // credential, as one of `query` is.
                let in_url = key.ends_with("url").then(|| url_query(s));
                for (name, value) in in_url.unwrap_or_default() {
                    if value.contains("${") {
                        from_vars.keys.push(format!("{key}?{name}"));
                    }
                }
            }
            *s = (vars.expand_noting(s, &mut from_vars.credentials))
                .map_err(|e| format!("{key}: {e}"))?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = key.len();
                key.push_str(&format!("[{i}]"));
                interpolate(item, key, vars, from_vars)?;
                key.truncate(len);
            }
        }
        Value::Object(map) => {
            for (name, item) in map.iter_mut() {
                let len = key.len();
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
                interpolate(item, key, vars, from_vars)?;
                key.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// A timeout: a duration above zero. A zero timeout fails every request
/// before its answer can come, or wins a race with a fast server.
fn timeout(
    key: &str,
    value: Option<&str>,
    default: Duration,
) -> std::result::Result<Duration, String> {
    match duration(key, value, default)? {
        Duration::ZERO => Err(format!("{key}: must be more than 0")),
        timeout => Ok(timeout),
    }
}

pub(super) fn duration(
    key: &str,
    value: Option<&str>,
    default: Duration,
) -> std::result::Result<Duration, String> {
    match value {
        None => Ok(default),
        Some(text) => parse_duration(text).map_err(|e| format!("{key}: {e}")),
    }
}

pub(super) fn size(
    key: &str,
    value: Option<&str>,
    default: u64,
) -> std::result::Result<u64, String> {
    match value {
        None => Ok(default),
        Some(text) => parse_size(text).map_err(|e| format!("{key}: {e}")),
    }
}

pub(super) fn one_of<'a>(
    key: &str,
    value: Option<&'a str>,
    default: &'a str,
    allowed: &[&str],
) -> std::result::Result<&'a str, String> {
    let value = value.unwrap_or(default);
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{key}: `{value}` is not one of {}",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

pub(super) fn header_value(key: &str, name: &str, value: &str) -> std::result::Result<(), String> {
    if value.contains(['\r', '\n']) {
        return Err(format!(
            "{key}.{name}: a header value must not contain CR or LF"
        ));
    }
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{key}: `{name}` is not a valid header name"));
    }
    Ok(())
}

/// The query parameters written into a URL, placeholders and all: name
/// and value.
pub(super) fn url_query(url: &str) -> Vec<(String, String)> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

pub(super) fn check_url(key: &str, url: &str) -> std::result::Result<(), String> {
    // Checked before anything quotes the URL: the text holds a password.
    if hydrant_auth::has_user_info(url) {
        return Err(format!(
            "{key}: a user name or password in the URL is neither sent nor kept \
             secret; give them as [auth] type = \"basic\""
        ));
    }
    // Placeholders are filled per request; check the shape with a stand-in.
    let probe = fill_placeholders_for_check(url);
    let parsed =
        url::Url::parse(&probe).map_err(|e| format!("{key}: `{url}` is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{key}: `{url}` must start with http:// or https://"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{key}: `{url}` has no host"));
    }
    Ok(())
}

pub(super) fn fill_placeholders_for_check(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => {
                out.push('x');
                rest = &rest[open + close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of a string, number or boolean. A number past 64 bits, which
/// a page's parse carries as a marked string, is its digits.
pub(crate) fn scalar_text(key: &str, value: &Value) -> std::result::Result<String, String> {
    match value {
        Value::String(s) => Ok(crate::json::big_number(s).unwrap_or(s).to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("{key}: expected a string, number or boolean")),
    }
}

/// Whether a header, query parameter or variable of this name carries a
/// credential: `Authorization`, `Proxy-Authorization`, or a name holding
/// `token`, `key`, `secret`, `signature`, `password`, `passwd`, `pwd`,
/// `auth`, `hook`, `cookie`, `credential` or `private` (any case). Its
/// value goes only to the job's origin and is masked wherever shown.
pub fn is_credential_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "proxy-authorization")
        || CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
}

/// The words that make a name a credential's. A hook's URL is its secret
/// (`SLACK_HOOK`); `passwd` and `pwd` are how passwords are often named.
const CREDENTIAL_WORDS: [&str; 12] = [
    "token",
    "key",
    "secret",
    "signature",
    "password",
    "passwd",
    "pwd",
    "auth",
    "hook",
    "cookie",
    "credential",
    "private",
];

pub(super) fn validate_request(
    file: &RequestFile,
    key: &str,
) -> std::result::Result<Request, String> {
    check_url(&format!("{key}.url"), &file.url)?;
    let method = match one_of(
        &format!("{key}.method"),
        file.method.as_deref(),
        "GET",
        &["GET", "POST"],
    )? {
        "POST" => Method::Post,
        _ => Method::Get,
    };
    let mut headers = Vec::with_capacity(file.headers.len());
    for (name, value) in &file.headers {
        header_value(&format!("{key}.headers"), name, value)?;
        headers.push((
            name.to_ascii_lowercase(),
            value.clone(),
            is_credential_name(name),
        ));
    }
    let mut query = Vec::new();
    for (name, value) in &file.query {
        let item_key = format!("{key}.query.{name}");
        let secret = is_credential_name(name);
        match value {
            Value::Array(items) => {
                for item in items {
                    query.push((name.clone(), scalar_text(&item_key, item)?, secret));
                }
            }
            other => query.push((name.clone(), scalar_text(&item_key, other)?, secret)),
        }
    }
    let body = match (&file.body, &file.form) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{key}.form: give either `body` or `form`, not both"
            ));
        }
        (Some(Value::String(text)), None) => Some(Body::Text(text.clone())),
        (Some(json), None) => Some(Body::Json(json.clone())),
        (None, Some(form)) => {
            let mut fields = Vec::with_capacity(form.len());
            for (name, value) in form {
                fields.push((
                    name.clone(),
                    scalar_text(&format!("{key}.form.{name}"), value)?,
                ));
            }
            Some(Body::Form(fields))
        }
        (None, None) => None,
    };
    if body.is_some() && method == Method::Get {
        return Err(format!(
            "{key}.method: a request with a body or form must use `POST`"
        ));
    }
    let tls_verify = file.tls_verify.unwrap_or(true);
    let url_secrets = url_query(&file.url)
        .into_iter()
        .filter(|(name, _)| is_credential_name(name))
        .collect();
    Ok(Request {
        url: file.url.clone(),
        method,
        headers,
        query,
        url_secrets,
        var_secrets: Vec::new(),
        body,
        timeout: timeout(
            &format!("{key}.timeout"),
            file.timeout.as_deref(),
            Duration::from_secs(100),
        )?,
        connect_timeout: timeout(
            &format!("{key}.connect_timeout"),
            file.connect_timeout.as_deref(),
            Duration::from_secs(10),
        )?,
        interval: duration(
            &format!("{key}.interval"),
            file.interval.as_deref(),
            Duration::ZERO,
        )?,
        tls_verify,
        ca_file: file.ca_file.as_ref().map(PathBuf::from),
        allowed_hosts: file
            .allowed_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
    })
}

/// An NDJSON answer is read as the array of its lines: `path` is taken in
/// each line (Splunk's export wraps each row in `result`), so it becomes
/// `$[*]` and the path; a line without it holds no record. A JSONPath
/// that starts `$[` selects from the array of lines as it stands
/// ([`over_lines`]).
fn in_each_line(
    path: JsonPath,
    mode: RecordMode,
    key: &str,
) -> std::result::Result<Option<JsonPath>, String> {
    if over_lines(path.as_str()) {
        return Ok(Some(path));
    }
    let Some(segments) = path.segments() else {
        return Err(format!(
            "{key}.path: with `format = \"ndjson\"` the path is taken in each line, and must be \
             a path of names (`result`, `$.data.item`), or a JSONPath over the array of lines \
             that starts `$[` (`$[?@.preview == false].result`), not `{}`",
            path.as_str()
        ));
    };
    if mode == RecordMode::One {
        return Err(format!(
            "{key}.mode: with `format = \"ndjson\"` each line holds its records: leave \
             {key}.mode out, or set `many` where the path holds an array in each line"
        ));
    }
    if segments.is_empty() {
        return Ok(None);
    }
    let in_line =
        std::iter::once(crate::json::path::Segment::Wildcard).chain(segments.iter().cloned());
    Ok(Some(JsonPath::from_segments(
        path.as_str().to_owned(),
        in_line.collect(),
    )))
}

pub(super) fn validate_records(
    file: &file::RecordsFile,
    key: &str,
    paged: bool,
) -> std::result::Result<Records, String> {
    let path = file
        .path
        .as_deref()
        .map(|p| JsonPath::parse(p).map_err(|e| format!("{key}.path: {e}")))
        .transpose()?;
    let mode = match one_of(
        &format!("{key}.mode"),
        file.mode.as_deref(),
        "auto",
        &["auto", "many", "one"],
    )? {
        "many" => RecordMode::Many,
        "one" => RecordMode::One,
        _ => RecordMode::Auto,
    };
    let on_missing = one_of(
        &format!("{key}.on_missing"),
        file.on_missing.as_deref(),
        "null",
        &["null", "dirty"],
    )?;
    let on_bad_type = one_of(
        &format!("{key}.on_bad_type"),
        file.on_bad_type.as_deref(),
        "dirty",
        &["dirty", "null"],
    )?;
    let non_finite = one_of(
        &format!("{key}.non_finite"),
        file.non_finite.as_deref(),
        "error",
        &["error", "null"],
    )?;
    let lines = one_of(
        &format!("{key}.format"),
        file.format.as_deref(),
        "json",
        &["json", "ndjson"],
    )? == "ndjson";
    let path = match path {
        Some(path) if lines => in_each_line(path, mode, key)?,
        path => path,
    };
    let flatten = file.flatten.clone().unwrap_or_else(|| "_".to_owned());
    let infer_pages = match file.infer_pages {
        Some(0) => return Err(format!("{key}.infer_pages: must be at least 1")),
        pages => pages.unwrap_or(1),
    };
    Ok(Records {
        infer_pages,
        lines,
        path,
        mode,
        missing_is_dirty: on_missing == "dirty",
        bad_type_is_dirty: on_bad_type == "dirty",
        max_dirty: file.max_dirty.unwrap_or(0),
        dirty_path: file.dirty_path.as_ref().map(PathBuf::from),
        flatten,
        paged,
        non_finite_null: non_finite == "null",
        parent: None,
    })
}

pub(super) fn validate_columns(
    columns: &[file::ColumnFile],
) -> std::result::Result<Vec<ColumnSpec>, String> {
    let mut specs = Vec::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        let key = format!("columns[{i}] ({})", column.name);
        if column.name.is_empty() {
            return Err(format!("columns[{i}].name: must not be empty"));
        }
        if specs.iter().any(|s: &ColumnSpec| s.name == column.name) {
            return Err(format!("{key}.name: `{}` is declared twice", column.name));
        }
        let kind = match &column.kind {
            None => ColumnType::String,
            Some(name) => ColumnType::parse(name).ok_or_else(|| {
                format!(
                    "{key}.type: `{name}` is not one of string, int, long, float, double, boolean, date, timestamp, binary, json"
                )
            })?,
        };
        if column.format.is_some() && !matches!(kind, ColumnType::Date | ColumnType::Timestamp) {
            return Err(format!(
                "{key}.format: applies only to `date` and `timestamp` columns"
            ));
        }
        if column.value.is_some() && column.path.is_some() {
            return Err(format!(
                "{key}.value: give either `path` or `value`, not both"
            ));
        }
        let other = match (&column.path, &column.value) {
            (Some(_), _) => Some("path"),
            (None, Some(_)) => Some("value"),
            (None, None) => None,
        };
        if let Some(other) = other.filter(|_| column.page_path.is_some()) {
            return Err(format!(
                "{key}.page_path: give either `page_path` or `{other}`, not both"
            ));
        }
        let other = other.or(column.page_path.as_ref().map(|_| "page_path"));
        if let Some(other) = other.filter(|_| column.parent_path.is_some()) {
            return Err(format!(
                "{key}.parent_path: give either `parent_path` or `{other}`, not both"
            ));
        }
        let page_path = (column.page_path.as_deref())
            .map(|p| JsonPath::parse(p).map_err(|e| format!("{key}.page_path: {e}")))
            .transpose()?;
        let parent_path = (column.parent_path.as_deref())
            .map(|p| JsonPath::parse(p).map_err(|e| format!("{key}.parent_path: {e}")))
            .transpose()?;
        let path = match (&column.value, &column.path) {
            _ if page_path.is_some() || parent_path.is_some() => None,
            (Some(_), _) => None,
            (None, Some(p)) => Some(JsonPath::parse(p).map_err(|e| format!("{key}.path: {e}"))?),
            (None, None) => {
                Some(default_path(&column.name).map_err(|e| format!("{key}.name: {e}"))?)
            }
        };
        specs.push(ColumnSpec {
            name: column.name.clone(),
            path,
            page_path,
            parent_path,
            kind,
            format: column.format.clone(),
            value: column.value.clone(),
        });
    }
    Ok(specs)
}

/// A column without `path` or `value` reads its name as a dotted path:
/// `user.id` is the member `id` of `user`. A name that starts with `$` is
/// the key of that name (`$type`), not a JSONPath.
pub(super) fn default_path(name: &str) -> std::result::Result<JsonPath, String> {
    if name.starts_with('$') {
        return Ok(JsonPath::member(name));
    }
    JsonPath::parse(name).map_err(|e| {
        format!("{e}; without `path` the name is read as a dotted path (give `path`, e.g. `$['{name}']` for a key with dots)")
    })
}

/// Where the records' parents are, for a job with `parent_path` columns:
/// `records.path` split at the last `[*]` that more of the path follows.
fn parent_columns(
    columns: Option<&[ColumnSpec]>,
    records: &Records,
) -> std::result::Result<Option<Box<Parents>>, String> {
    let Some((i, column)) =
        (columns.iter().flat_map(|c| c.iter()).enumerate()).find(|(_, c)| c.parent_path.is_some())
    else {
        return Ok(None);
    };
    let key = format!("columns[{i}] ({}).parent_path", column.name);
    if records.lines {
        return Err(format!(
            "{key}: an NDJSON answer's records (`records.format = \"ndjson\"`) are read line by line, with no parent to read"
        ));
    }
    let path = records.path.as_ref();
    let shown = path.map_or("$", |p| p.as_str());
    let Some(segments) = path.map_or(Some(&[][..]), JsonPath::segments) else {
        return Err(format!(
            "{key}: `records.path` (`{shown}`) has a filter, a slice or `..`; a parent is read above a path of names, indexes and `[*]`"
        ));
    };
    let above = segments[..segments.len().saturating_sub(1)]
        .iter()
        .rposition(|s| *s == crate::json::path::Segment::Wildcard);
    let Some(at) = above else {
        return Err(format!(
            "{key}: `records.path` (`{shown}`) has no array above the records to read a parent in; name the records under each of its elements, as `runs[*].metrics[*]`"
        ));
    };
    Ok(Some(Box::new(Parents::split(segments, at))))
}

pub(super) fn validate(file: JobFile, name: &str) -> std::result::Result<Job, String> {
    let request = match (&file.request, &file.write) {
        (Some(_), Some(_)) => {
            return Err(
                "a job has either `[request]` (read) or `[write]` (write), not both".into(),
            );
        }
        (None, None) => {
            return Err("missing table `[request]` (or `[write]` for a write job)".into());
        }
        (Some(request), None) => validate_request(request, "request")?,
        (None, Some(write)) => write_request(write)?,
    };
    file.auth.validate().map_err(|e| e.to_string())?;
    for (header, value) in &file.auth.headers {
        use secrecy::ExposeSecret;
        header_value("auth.headers", header, value.expose_secret())?;
    }
    file.paginate.validate().map_err(|e| e.to_string())?;
    let paginator = check_paginator(&file.paginate, "")?;
    let records = validate_records(
        &file.records,
        "records",
        file.paginate.kind != hydrant_paginate::Kind::None,
    )?;
    let columns = file.columns.as_deref().map(validate_columns).transpose()?;
    let mut records = records;
    records.parent = parent_columns(columns.as_deref(), &records)?;
    check_counted_records(&paginator, &file.paginate, &records, &file.records, "")?;
    if records.lines {
        let by_page = (columns.iter().flatten().enumerate()).find(|(_, c)| c.page_path.is_some());
        if let Some((i, column)) = by_page {
            return Err(format!(
                "columns[{i}] ({}).page_path: an NDJSON answer (`records.format = \"ndjson\"`) has no page around its records",
                column.name
            ));
        }
    }
    let limits = validate_limits(&file.limits)?;
    let output = validate_output(&file.output)?;
    let write = match &file.write {
        Some(write) => Some(Box::new(validate_write(write, file.input.as_ref())?)),
        None if file.input.is_some() => {
            return Err("`[input]` belongs to a write job, which needs a `[write]` table".into());
        }
        None => None,
    };
    if output.format == OutputFormat::Parquet && file.state.is_some() {
        return Err(
            "state: a Parquet output cannot be checkpointed (its footer comes last); use ndjson or csv for a resumable run"
                .into(),
        );
    }
    let fanout = file
        .fanout
        .as_ref()
        .map(|f| validate_fanout(f, &file.auth, &limits))
        .transpose()?;
    let mut incremental = super::incremental::of_job(&file)?;
    if let Some(incremental) = &mut incremental {
        incremental.sends_upper |= request.mentions("{until}");
        if records.parent.is_some() {
            let named = |name: &str| {
                (columns.iter().flatten())
                    .find(|c| c.name == name)
                    .and_then(|c| c.parent_path.clone())
            };
            incremental.parent = Some(super::incremental::ParentReads::of(incremental, &named));
        }
    }
    check_request_body(&request, &file, incremental.as_ref(), fanout.as_ref())?;
    Ok(Job {
        name: name.to_owned(),
        file: None,
        notices: Vec::new(),
        request: Some(request),
        auth: file.auth,
        paginate: file.paginate,
        records,
        columns,
        limits,
        output,
        state: file.state.map(validate_state).transpose()?,
        fanout,
        incremental,
        write,
        fingerprint: [0; 32],
        state_read_only: false,
        seed_columns: None,
        seed_null_only: Vec::new(),
    })
}

/// `[limits]`, each key checked, with the defaults of the keys not given.
fn validate_limits(limits: &file::LimitsFile) -> std::result::Result<Limits, String> {
    if limits.concurrency == Some(0) {
        return Err("limits.concurrency: must be at least 1".into());
    }
    if let Some(rate) = limits.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err("limits.rate: must be a positive number of requests per second".into());
    }
    if limits.burst == Some(0) {
        return Err("limits.burst: must be at least 1".into());
    }
    let bytes_per_second = match &limits.bytes_per_second {
        Some(bps) => match size("limits.bytes_per_second", Some(bps), 0)? {
            0 => return Err("limits.bytes_per_second: must be more than 0".into()),
            bps => Some(bps),
        },
        None => None,
    };
    let backoff = limits.backoff.clone().unwrap_or_default();
    let initial = duration(
        "limits.backoff.initial",
        backoff.initial.as_deref(),
        Duration::from_millis(500),
    )?;
    let max = duration(
        "limits.backoff.max",
        backoff.max.as_deref(),
        Duration::from_secs(60),
    )?;
    if max < initial {
        return Err("limits.backoff.max: must not be less than limits.backoff.initial".into());
    }
    let max_retry_wait = duration(
        "limits.max_retry_wait",
        limits.max_retry_wait.as_deref(),
        Duration::from_secs(300),
    )?;
    for status in limits.retry_on.iter().flatten() {
        if !(100..=599).contains(status) {
            return Err(format!("limits.retry_on: `{status}` is not an HTTP status"));
        }
    }
    let max_response = size(
        "limits.max_response",
        limits.max_response.as_deref(),
        256 << 20,
    )?;
    Ok(Limits {
        concurrency: limits.concurrency.unwrap_or(4),
        max_response,
        rate: limits.rate.map(|rate| (rate, limits.burst.unwrap_or(1))),
        bytes_per_second,
        retry: RetryPolicy {
            retry_on: limits
                .retry_on
                .clone()
                .unwrap_or_else(|| vec![408, 429, 500, 502, 503, 504]),
            max_retries: limits.max_retries.unwrap_or(5),
            initial,
            max,
            max_retry_wait,
        },
    })
}

/// Refuses a request body that holds a member the job also sets from
/// elsewhere: the incremental bound, the paginator, a fan-out value or
/// the credentials.
fn check_request_body(
    request: &Request,
    file: &JobFile,
    incremental: Option<&super::incremental::Incremental>,
    fanout: Option<&Fanout>,
) -> std::result::Result<(), String> {
    check_body_members(
        request,
        "request",
        &[
            (
                "incremental.in",
                incremental.is_some_and(|i| {
                    i.placement == super::incremental::BoundIn::Body && i.param.is_some()
                }),
            ),
            ("paginate.in", file.paginate.sets_body()),
            (
                "fanout.in",
                fanout.is_some_and(|f| f.placement == FanoutIn::Body),
            ),
            ("auth.in", auth_sets_body(&file.auth)),
        ],
    )
}

fn validate_state(state: super::file::StateFile) -> std::result::Result<State, String> {
    Ok(State {
        path: PathBuf::from(state.path),
        every: duration(
            "state.every",
            state.every.as_deref(),
            Duration::from_secs(1),
        )?,
    })
}

/// Whether the auth puts a credential in the body (an API key `in = "body"`).
pub(super) fn auth_sets_body(auth: &hydrant_auth::Config) -> bool {
    auth.kind == hydrant_auth::Kind::ApiKey && auth.placement == Some(hydrant_auth::Placement::Body)
}

/// A value placed `in = "body"` needs a request with a body: a POST whose
/// body, if any, is a JSON object or a form. `placed` names the keys that
/// place one, and whether they do.
pub(super) fn check_body_members(
    request: &Request,
    key: &str,
    placed: &[(&str, bool)],
) -> std::result::Result<(), String> {
    let Some((placer, _)) = placed.iter().find(|(_, placed)| *placed) else {
        return Ok(());
    };
    if request.method == Method::Get {
        return Err(format!(
            "{placer}: `body` needs `{key}.method = \"POST\"`; a GET request has no body"
        ));
    }
    if let Some(Body::Text(text)) = &request.body
        && !matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)))
    {
        return Err(format!(
            "{placer}: `body` sets a member of `{key}.body`, which is a string but not a JSON object"
        ));
    }
    Ok(())
}

/// Refuses a records path through several arrays, or one that may
/// select some of a page's records, where a page's count of records may
/// end pagination: `$.orders[*].lines[*]` counts lines and
/// `$.orders[?@.open]` open orders, not the orders the API pages by, so
/// a page of orders with few of them would end the run with pages left.
fn check_counted_records(
    paginator: &hydrant_paginate::Paginator,
    config: &hydrant_paginate::Config,
    records: &Records,
    file: &file::RecordsFile,
    prefix: &str,
) -> std::result::Result<(), String> {
    // Where the records have parents, pages count the parents.
    let counted = match &records.parent {
        Some(parents) => Some(&parents.parents),
        None => records.path.as_ref(),
    };
    let Some(path) = counted.filter(|p| paginator.ends_on_records() && !p.is_one_array()) else {
        return Ok(());
    };
    // A path of names and `[*]` names several arrays; any other (a
    // filter, a slice, `..`) may select some of a page's records.
    let (takes, instead) = match path.segments() {
        Some(_) if records.lines => (
            "is taken in each line",
            "a line without it, or with an array there, does not count as the API counts; leave \
             the path out (each line a record, its members columns as `result.id`)",
        ),
        Some(_) => (
            "takes records from several arrays",
            "take the outer array as the records (its inner arrays are json columns), or give \
             the inner records a `parent_path` column (pages then count the outer array)",
        ),
        None => (
            "may select some of a page's records (a filter, a slice or `..`)",
            "take the whole array as the records and filter them afterwards",
        ),
    };
    Err(format!(
        "{prefix}records.path: `{}` {takes}, but paginate type `{}` ends on a count of a \
         page's records (a short or empty page, or records_below), and those are not the items \
         the API pages by; {instead}, or page by cursor or link",
        file.path.as_deref().unwrap_or_default(),
        config.kind.as_str()
    ))
}

/// Builds the paginator once, so that ADF rules and the paths it watches are
/// checked with the other keys, before any request.
pub(super) fn check_paginator(
    config: &hydrant_paginate::Config,
    prefix: &str,
) -> std::result::Result<hydrant_paginate::Paginator, String> {
    let paginator = hydrant_paginate::Paginator::new(config).map_err(|e| format!("{prefix}{e}"))?;
    for path in paginator.watched_paths() {
        JsonPath::parse(path).map_err(|e| format!("{prefix}paginate: {e}"))?;
    }
    Ok(paginator)
}

pub(super) fn validate_fanout(
    fanout: &file::FanoutFile,
    parent_auth: &hydrant_auth::Config,
    limits: &Limits,
) -> std::result::Result<Fanout, String> {
    let placement = match one_of(
        "fanout.in",
        fanout.placement.as_deref(),
        "query",
        &["query", "header", "body", "url"],
    )? {
        "header" => FanoutIn::Header,
        "body" => FanoutIn::Body,
        "url" => FanoutIn::Url,
        _ => FanoutIn::Query,
    };
    if fanout.param.is_none() && placement != FanoutIn::Url {
        return Err("fanout.param: is required when fanout.in is not `url`".to_owned());
    }
    let source = match (&fanout.values, &fanout.values_file, &fanout.from) {
        (Some(values), None, None) => FanoutSource::Values(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| scalar_text(&format!("fanout.values[{i}]"), v))
                .collect::<std::result::Result<_, _>>()?,
        ),
        (None, Some(file), None) => FanoutSource::File(PathBuf::from(file)),
        (None, None, Some(from)) => {
            let request = validate_request(&from.request, "fanout.from.request")?;
            let auth = from.auth.clone().unwrap_or_else(|| parent_auth.clone());
            auth.validate().map_err(|e| format!("fanout.from.{e}"))?;
            from.paginate
                .validate()
                .map_err(|e| format!("fanout.from.{e}"))?;
            check_body_members(
                &request,
                "fanout.from.request",
                &[
                    ("fanout.from.paginate.in", from.paginate.sets_body()),
                    ("fanout.from.auth.in", auth_sets_body(&auth)),
                ],
            )?;
            let records = validate_records(
                &from.records,
                "fanout.from.records",
                from.paginate.kind != hydrant_paginate::Kind::None,
            )?;
            let paginator = check_paginator(&from.paginate, "fanout.from.")?;
            check_counted_records(
                &paginator,
                &from.paginate,
                &records,
                &from.records,
                "fanout.from.",
            )?;
            let path = JsonPath::parse(&from.path).map_err(|e| format!("fanout.from.path: {e}"))?;
            let columns = vec![
                ColumnSpec {
                    name: "value".to_owned(),
                    path: Some(path),
                    page_path: None,
                    parent_path: None,
                    kind: ColumnType::String,
                    format: None,
                    value: None,
                },
                ColumnSpec {
                    name: "parent".to_owned(),
                    path: Some(JsonPath::from_segments("$".to_owned(), Vec::new())),
                    page_path: None,
                    parent_path: None,
                    kind: ColumnType::Json,
                    format: None,
                    value: None,
                },
            ];
            FanoutSource::From(Box::new(Job {
                notices: Vec::new(),
                name: "[fanout.from]".to_owned(),
                file: None,
                request: Some(request),
                auth,
                paginate: from.paginate.clone(),
                records,
                columns: Some(columns),
                limits: limits.clone(),
                output: Output {
                    format: OutputFormat::Ndjson,
                    format_given: true,
                    path: None,
                    compression: None,
                    compression_given: false,
                    csv_delimiter: b',',
                    csv_header: false,
                    parquet: super::ParquetOptions::default(),
                },
                state: None,
                fanout: None,
                incremental: None,
                write: None,
                fingerprint: [0; 32],
                state_read_only: false,
                seed_columns: None,
                seed_null_only: Vec::new(),
            }))
        }
        _ => {
            return Err(
                "fanout: needs exactly one of `values`, `values_file` or `[fanout.from]`".into(),
            );
        }
    };
    Ok(Fanout {
        param: fanout.param.clone(),
        placement,
        source,
    })
}

pub(super) fn validate_output(file: &file::OutputFile) -> std::result::Result<Output, String> {
    let format =
        OutputFormat::parse(file.format.as_deref().unwrap_or("ndjson")).ok_or_else(|| {
            format!(
                "output.format: `{}` is not one of `ndjson`, `csv`, `parquet`, `raw`",
                file.format.as_deref().unwrap_or_default()
            )
        })?;
    let csv = file.csv.clone().unwrap_or_default();
    let delimiter = csv.delimiter.as_deref().unwrap_or(",");
    if delimiter.len() != 1 || matches!(delimiter, "\"" | "\r" | "\n") {
        return Err(format!(
            "output.csv.delimiter: `{delimiter}` must be a single ASCII character other than a quote or line break"
        ));
    }
    let parquet = parquet_options(&file.parquet.clone().unwrap_or_default())?;
    let path = output_path(file.path.as_deref().unwrap_or("-"));
    let format = match (
        &file.format,
        path.as_deref().and_then(OutputFormat::from_extension),
    ) {
        (None, Some(named)) => named,
        _ => format,
    };
    let named = path.as_deref().and_then(Compression::named_by);
    let level = file.compression_level;
    let compression = match (file.compression.as_deref(), named) {
        (Some("none"), _) if level.is_some() => {
            return Err(
                "output.compression_level: only a gzip or zstd output takes a level".into(),
            );
        }
        (Some("none"), _) => None,
        (Some("gzip"), _) | (None, Some(Compression::Gzip(_))) => {
            Some(Compression::Gzip(gzip_level(level)?))
        }
        (Some("zstd"), _) | (None, Some(Compression::Zstd(_))) => {
            Some(Compression::Zstd(zstd_level(level)?))
        }
        // A level alone asks for gzip, the first compression hydrant wrote.
        (None, None) => level
            .map(|l| gzip_level(Some(l)))
            .transpose()?
            .map(Compression::Gzip),
        (Some(other), _) => {
            return Err(format!(
                "output.compression: `{other}` is not one of `gzip`, `zstd`, `none` (Parquet's \
                 codec is output.parquet.compression)"
            ));
        }
    };
    if let Some(why) = super::compression_refused(path.as_deref(), format, compression) {
        return Err(why);
    }
    Ok(Output {
        format,
        format_given: file.format.is_some(),
        compression,
        compression_given: file.compression.is_some() || file.compression_level.is_some(),
        path,
        csv_delimiter: delimiter.as_bytes()[0],
        csv_header: csv.header.unwrap_or(true),
        parquet,
    })
}

/// `output.compression_level` of a zstd output: zstd's fast modes down
/// to -7 and its levels up to 22; 1 where none is given, as for Parquet
/// (on realistic pages a third of level 3's time, and smaller).
fn zstd_level(level: Option<i64>) -> std::result::Result<i32, String> {
    match level {
        None => Ok(1),
        Some(level @ -7..=22) => Ok(level as i32),
        Some(level) => Err(format!(
            "output.compression_level: {level} is not a zstd level (-7 to 22)"
        )),
    }
}

/// `output.compression_level` of a gzip output: 1 (fastest) to 9
/// (smallest), gzip's 6 where none is given.
fn gzip_level(level: Option<i64>) -> std::result::Result<u32, String> {
    match level {
        None => Ok(6),
        Some(level @ 1..=9) => Ok(level as u32),
        Some(level) => Err(format!(
            "output.compression_level: {level} is not a gzip level (1 to 9)"
        )),
    }
}

/// `[output.parquet]`.
fn parquet_options(
    parquet: &file::ParquetFile,
) -> std::result::Result<super::ParquetOptions, String> {
    use super::ParquetStatistics;

    let defaults = super::ParquetOptions::default();
    let compression = one_of(
        "output.parquet.compression",
        parquet.compression.as_deref(),
        &defaults.compression,
        &crate::options::PARQUET_CODECS,
    )?;
    let level = parquet_level(compression, parquet.compression_level)?;
    let row_group_size = match parquet.row_group_size {
        Some(0) => return Err("output.parquet.row_group_size: must be at least 1".into()),
        Some(size) => {
            usize::try_from(size).map_err(|_| "output.parquet.row_group_size: too large")?
        }
        None => defaults.row_group_size,
    };
    let statistics = match one_of(
        "output.parquet.statistics",
        parquet.statistics.as_deref(),
        "auto",
        &["auto", "all", "none"],
    )? {
        "all" => ParquetStatistics::All,
        "none" => ParquetStatistics::None,
        _ => ParquetStatistics::Auto,
    };
    Ok(super::ParquetOptions {
        compression: compression.to_owned(),
        level,
        row_group_size,
        statistics,
    })
}

/// `output.parquet.compression_level`, checked against the codec's own
/// range: zstd's fast modes down to -7 and its levels up to 22, gzip's 0
/// to 9. The other codecs take none.
fn parquet_level(
    compression: &str,
    level: Option<i64>,
) -> std::result::Result<Option<i32>, String> {
    let Some(level) = level else {
        return Ok(None);
    };
    let range = match compression {
        "zstd" => -7..=22,
        "gzip" => 0..=9,
        other => {
            return Err(format!(
                "output.parquet.compression_level: `{other}` takes no level (zstd and gzip do)"
            ));
        }
    };
    match i32::try_from(level) {
        Ok(level) if range.contains(&level) => Ok(Some(level)),
        _ => Err(format!(
            "output.parquet.compression_level: {level} is not a level of {compression} ({} to {})",
            range.start(),
            range.end()
        )),
    }
}

/// The request part of `[write]`: URL, method, headers and timeouts, as
/// `[request]` would give them.
pub(super) fn write_request(write: &file::WriteFile) -> std::result::Result<Request, String> {
    let method = match one_of(
        "write.method",
        write.method.as_deref(),
        "POST",
        &["POST", "PUT", "PATCH"],
    )? {
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        _ => Method::Post,
    };
    let as_request = RequestFile {
        url: write.url.clone(),
        headers: write.headers.clone(),
        timeout: write.timeout.clone(),
        connect_timeout: write.connect_timeout.clone(),
        interval: write.interval.clone(),
        tls_verify: write.tls_verify,
        ca_file: write.ca_file.clone(),
        ..RequestFile::default()
    };
    let mut request = validate_request(&as_request, "write")?;
    request.method = method;
    Ok(request)
}

pub(super) fn validate_write(
    write: &file::WriteFile,
    input: Option<&file::InputFile>,
) -> std::result::Result<Write, String> {
    let single = one_of(
        "write.mode",
        write.mode.as_deref(),
        "batch",
        &["batch", "single"],
    )? == "single";
    let gzip = one_of(
        "write.compression",
        write.compression.as_deref(),
        "none",
        &["none", "gzip"],
    )? == "gzip";
    let batch_size = match write.batch_size {
        Some(0) => return Err("write.batch_size: must be at least 1".into()),
        Some(size) if single && size != 1 => {
            return Err("write.batch_size: `mode = \"single\"` sends one record per request; leave batch_size out".into());
        }
        Some(size) => usize::try_from(size).map_err(|_| "write.batch_size: too large")?,
        None if single => 1,
        None => 100,
    };
    if write.url.contains('{') && !single {
        return Err(
            "write.url: `{name}` placeholders are filled from each record, so they need `mode = \"single\"`"
                .into(),
        );
    }
    if let Some(path) = &write.data_path
        && (path.is_empty() || path.split('.').any(str::is_empty))
    {
        return Err(format!(
            "write.data_path: `{path}` is not a dotted member name"
        ));
    }
    if let Some(header) = &write.idempotency_header
        && http::HeaderName::from_bytes(header.as_bytes()).is_err()
    {
        return Err(format!(
            "write.idempotency_header: `{header}` is not a valid header name"
        ));
    }
    let columns = write
        .columns
        .as_ref()
        .map(|columns| {
            columns
                .iter()
                .enumerate()
                .map(|(i, column)| write_column(i, column))
                .collect::<std::result::Result<Vec<_>, String>>()
        })
        .transpose()?;
    if let Some(columns) = &columns {
        check_write_names(columns)?;
    }
    let input = validate_input(input)?;
    Ok(Write {
        input,
        batch_size,
        single,
        data_path: write.data_path.clone(),
        gzip,
        reject_path: write.reject_path.as_ref().map(PathBuf::from),
        max_rejects: write.max_rejects.unwrap_or(0),
        idempotency_header: write
            .idempotency_header
            .as_ref()
            .map(|h| h.to_ascii_lowercase()),
        check_answer: write.check_answer.unwrap_or(true),
        columns,
    })
}

/// `[input]` of a write job: a file, a read job, or records inline.
fn validate_input(input: Option<&file::InputFile>) -> std::result::Result<Input, String> {
    let input = input.ok_or("a write job needs an `[input]` table")?;
    if input.repeat.is_some() && input.records.is_none() {
        return Err("input.repeat: only used with `input.records`".into());
    }
    Ok(match (&input.path, &input.job) {
        (None, None) if input.records.is_some() => {
            let records = input.records.as_deref().unwrap_or_default();
            if records.iter().any(|r| !r.is_object()) {
                return Err("input.records: each record must be a table".into());
            }
            Input::Inline {
                records: records.iter().map(|r| r.to_string().into_bytes()).collect(),
                repeat: input.repeat.unwrap_or(1),
            }
        }
        _ if input.records.is_some() => {
            return Err("input: `records` is not used with `path` or `job`".into());
        }
        (Some(path), None) => {
            let format = input_format(path, input.format.as_deref())?;
            if format == InputFormat::Parquet && path == "-" {
                return Err("input.path: Parquet cannot be read from stdin; give a file".into());
            }
            Input::File {
                path: (path != "-").then(|| PathBuf::from(path)),
                format,
            }
        }
        (None, Some(job)) => {
            if input.format.is_some() {
                return Err("input.format: not used with `input.job`".into());
            }
            Input::JobFile(PathBuf::from(job))
        }
        _ => return Err("input: needs exactly one of `path`, `job` or `records`".into()),
    })
}

/// The format of an input file: `input.format`, else told by the
/// file's extension, NDJSON when it tells nothing.
fn input_format(path: &str, format: Option<&str>) -> std::result::Result<InputFormat, String> {
    // A compressed file's format is named before its `.gz` or `.zst`.
    let named = match Compression::named_by(FsPath::new(path)) {
        Some(_) => FsPath::new(path).file_stem().map(FsPath::new),
        None => Some(FsPath::new(path)),
    };
    let format = match format {
        Some(format) => format,
        None => match named.and_then(FsPath::extension).and_then(|e| e.to_str()) {
            Some("csv") => "csv",
            Some("parquet") => "parquet",
            _ => "ndjson",
        },
    };
    Ok(
        match one_of(
            "input.format",
            Some(format),
            "",
            &["ndjson", "csv", "parquet"],
        )? {
            "csv" => InputFormat::Csv,
            "parquet" => InputFormat::Parquet,
            _ => InputFormat::Ndjson,
        },
    )
}

/// A `[[write.columns]]` entry: `from` is an input column, or a path into
/// the record when it starts with `$`; without `type` the value passes
/// unchanged. Or `value`, the same text in every record (JSON:API's
/// `type`), a string unless `type` says another.
pub(super) fn write_column(
    i: usize,
    column: &file::WriteColumnFile,
) -> std::result::Result<ColumnSpec, String> {
    let key = format!("write.columns[{i}]");
    if column.name.is_empty() || column.name.split('.').any(str::is_empty) {
        return Err(format!(
            "{key}.name: `{}` is not a dotted member name",
            column.name
        ));
    }
    let path = match (&column.from, &column.value) {
        (Some(_), Some(_)) => {
            return Err(format!("{key}: give either `from` or `value`, not both"));
        }
        (None, None) => {
            return Err(format!(
                "{key}: give `from` (where the value is) or `value`"
            ));
        }
        (None, Some(value)) => {
            // Sent as written: `{id}` would be sent as such, where the
            // record's `id` was surely meant.
            if let Some(name) = placeholder_in(value) {
                return Err(format!(
                    "{key}.value: `{{{name}}}` is sent as written, not filled from the record: \
                     to send a record's value, give `from = \"{name}\"`"
                ));
            }
            None
        }
        (Some(from), None) if from.starts_with('$') => {
            Some(JsonPath::parse(from).map_err(|e| format!("{key}.from: {e}"))?)
        }
        (Some(from), None) => Some(JsonPath::from_segments(
            from.clone(),
            vec![crate::json::path::Segment::Key(from.clone())],
        )),
    };
    let kind = match &column.kind {
        None if column.value.is_some() => ColumnType::String,
        None => ColumnType::Json,
        Some(kind) => ColumnType::parse(kind)
            .ok_or_else(|| format!("{key}.type: `{kind}` is not a column type"))?,
    };
    Ok(ColumnSpec {
        name: column.name.clone(),
        path,
        page_path: None,
        parent_path: None,
        kind,
        format: None,
        value: column.value.clone(),
    })
}

/// The name of the first placeholder in `text` (see
/// [`pieces`](super::columns::pieces)).
fn placeholder_in(text: &str) -> Option<&str> {
    super::columns::pieces(text).find_map(|piece| match piece {
        super::columns::Piece::Placeholder(name) => Some(name),
        super::columns::Piece::Text(_) => None,
    })
}

/// Refuses two columns writing the same member, or one inside another's
/// value (`user` and `user.id`).
pub(super) fn check_write_names(columns: &[ColumnSpec]) -> std::result::Result<(), String> {
    for (i, a) in columns.iter().enumerate() {
        for b in &columns[i + 1..] {
            let nested = |outer: &str, inner: &str| {
                inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('.'))
            };
            if a.name == b.name || nested(&a.name, &b.name) || nested(&b.name, &a.name) {
                return Err(format!(
                    "write.columns: `{}` and `{}` write the same member",
                    a.name, b.name
                ));
            }
        }
    }
    Ok(())
}
