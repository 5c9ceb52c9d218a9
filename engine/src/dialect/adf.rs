//! Azure Data Factory: a pipeline's Copy activity with a `RestSource` (a
//! read job) or a `RestSink` (a write job), its datasets and linked
//! services found in an ARM template export (a `resources` array) or in the
//! sibling folders of an ADF Git repository (`dataset/`, `linkedService/`).
//! ADF's defaults apply: RFC 5988 paging without `paginationRules`,
//! `requestInterval` 1 s, `writeBatchSize` 10000.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Converted, DialectError, is_utf8, member, text, unknown_key, whole};

/// Whether a JSON document is an ADF pipeline or an ARM template holding
/// one.
pub(super) fn is_adf(value: &Value) -> bool {
    let pipeline = member(value, "properties")
        .and_then(|p| member(p, "activities"))
        .is_some_and(Value::is_array);
    let arm = member(value, "resources")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|r| resource_kind(r) == Some("pipelines")));
    pipeline || arm
}

/// `pipelines`, `datasets` or `linkedServices` for a factory resource.
fn resource_kind(resource: &Value) -> Option<&str> {
    let kind = member(resource, "type")?.as_str()?;
    kind.strip_prefix("Microsoft.DataFactory/factories/")
}

/// Where the pipeline's datasets and linked services are.
enum Factory<'v> {
    /// An ARM template: its resources, and its parameters' defaults.
    Arm {
        resources: &'v [Value],
        parameters: Option<&'v Value>,
    },
    /// A Git repository: the folder holding `pipeline/`.
    Git(std::path::PathBuf),
}

impl Factory<'_> {
    /// The named dataset or linked service, ARM expressions evaluated.
    fn find(&self, kind: &str, name: &str, key: &str) -> Result<Value, DialectError> {
        match self {
            Factory::Arm {
                resources,
                parameters,
            } => {
                for resource in *resources {
                    if resource_kind(resource) == Some(kind) && arm_name(resource)? == name {
                        return evaluate_resource(resource, *parameters, kind);
                    }
                }
                Err(DialectError::new(
                    key,
                    format!("names `{name}`, which is not among the template's {kind}"),
                ))
            }
            Factory::Git(root) => {
                let folder = root.join(if kind == "datasets" {
                    "dataset"
                } else {
                    "linkedService"
                });
                let path = folder.join(format!("{name}.json"));
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    DialectError::new(
                        key,
                        format!(
                            "names `{name}`, but `{}` cannot be read: {e}",
                            path.display()
                        ),
                    )
                })?;
                serde_json::from_str(crate::json::without_bom(&text)).map_err(|e| {
                    DialectError::new(key, format!("`{}` is not JSON: {e}", path.display()))
                })
            }
        }
    }
}

/// The factory-relative name of an ARM resource: `RestLS` for
/// `[concat(parameters('factoryName'), '/RestLS')]`.
fn arm_name(resource: &Value) -> Result<String, DialectError> {
    let name = member(resource, "name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let last = name.rsplit('\'').nth(1).unwrap_or(name);
    Ok(last.rsplit('/').next().unwrap_or(last).to_owned())
}

/// A resource's `properties`, evaluated: its `name` is an ARM expression
/// of its own (`[concat(…)]`), read by [`arm_name`] alone.
fn evaluate_resource(
    resource: &Value,
    parameters: Option<&Value>,
    at: &str,
) -> Result<Value, DialectError> {
    let properties = member(resource, "properties").cloned().unwrap_or_default();
    Ok(json!({ "properties": evaluate(&properties, parameters, &format!("{at}.properties"))? }))
}

/// A resource with its `[parameters('X')]` values as `${X:-default}`
/// (hydrant variables, so that `--var X=…` overrides them). Any other ARM
/// function is an error naming the key.
fn evaluate(value: &Value, parameters: Option<&Value>, at: &str) -> Result<Value, DialectError> {
    Ok(match value {
        Value::String(s) if s.starts_with('[') && !s.starts_with("[[") => {
            let inner = s.trim_start_matches('[').trim_end_matches(']');
            let Some(name) = inner
                .strip_prefix("parameters('")
                .and_then(|rest| rest.strip_suffix("')"))
            else {
                return Err(DialectError::new(
                    at,
                    format!("`{s}`: only [parameters('NAME')] is evaluated"),
                ));
            };
            let default = parameters
                .and_then(|p| member(p, name))
                .and_then(|p| member(p, "defaultValue"))
                .and_then(Value::as_str);
            Value::String(match default {
                Some(default) => format!("${{{name}:-{}}}", default.replace('$', "$$")),
                None => format!("${{{name}}}"),
            })
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| evaluate(v, parameters, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), evaluate(v, parameters, &format!("{at}.{k}"))?)))
                .collect::<Result<_, DialectError>>()?,
        ),
        other => other.clone(),
    })
}

/// A string value; a pipeline expression (`@…`, or `{"type":
/// "Expression"}`) is an error naming the key.
fn string(value: Option<&Value>, key: &str) -> Result<Option<String>, DialectError> {
    let value = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("Expression") => {
            return Err(DialectError::new(
                key,
                "is a pipeline expression, which hydrant does not evaluate",
            ));
        }
        // A secure string, or a Key Vault reference.
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("SecureString") => o.get("value").cloned().unwrap_or_default(),
            Some("AzureKeyVaultSecret") => {
                return Err(DialectError::new(
                    key,
                    "is a Key Vault reference: give the secret with --var instead",
                ));
            }
            _ => return Err(DialectError::new(key, "must be a string")),
        },
        Some(v) => v.clone(),
    };
    match value {
        Value::String(s) if s.starts_with('@') && !s.starts_with("@@") => Err(DialectError::new(
            key,
            format!("`{s}` is a pipeline expression, which hydrant does not evaluate"),
        )),
        Value::String(s) => Ok(Some(s.trim_start_matches('@').to_owned())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err(DialectError::new(key, "must be a string")),
    }
}

/// A TimeSpan (`00:01:40`, `1.00:00:00`) as a hydrant duration.
fn timespan(text: &str, key: &str) -> Result<String, DialectError> {
    let bad = || DialectError::new(key, format!("`{text}` is not a TimeSpan such as 00:01:40"));
    let (days, rest) = match text.split_once('.') {
        Some((d, rest)) if rest.contains(':') => (d.parse::<u64>().map_err(|_| bad())?, rest),
        _ => (0, text),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let [h, m, s] = parts[..] else {
        return Err(bad());
    };
    let (s, fraction) = s.split_once('.').unwrap_or((s, ""));
    let n = |t: &str| t.parse::<u64>().map_err(|_| bad());
    let ms = ((days * 24 + n(h)?) * 60 + n(m)?) * 60_000 + n(s)? * 1000;
    let ms = ms + format!("{fraction:0<3}")[..3].parse::<u64>().unwrap_or(0);
    Ok(format!("{ms}ms"))
}

pub(super) fn convert(
    value: &Value,
    path: &Path,
    activity: Option<&str>,
) -> Result<Converted, DialectError> {
    let (pipeline, factory) = match member(value, "resources").and_then(Value::as_array) {
        Some(resources) => {
            let parameters = member(value, "parameters");
            let pipeline = resources
                .iter()
                .find(|r| resource_kind(r) == Some("pipelines"))
                .expect("detected by its pipeline");
            (
                evaluate_resource(pipeline, parameters, "pipeline")?,
                Factory::Arm {
                    resources,
                    parameters,
                },
            )
        }
        None => {
            let root = path
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."))
                .to_owned();
            (value.clone(), Factory::Git(root))
        }
    };
    let copy = copy_activity(&pipeline, activity)?;
    let name = member(&copy, "name")
        .and_then(Value::as_str)
        .unwrap_or("Copy")
        .to_owned();
    let at = format!("activities[{name}]");
    let properties = member(&copy, "typeProperties").cloned().unwrap_or_default();
    let source = member(&properties, "source").cloned().unwrap_or_default();
    let sink = member(&properties, "sink").cloned().unwrap_or_default();
    let dataset = |side: &str| -> Result<Value, DialectError> {
        let key = format!("{at}.{side}[0].referenceName");
        let reference = member(&copy, side)
            .and_then(|s| s.get(0))
            .and_then(|s| member(s, "referenceName"))
            .and_then(Value::as_str)
            .ok_or_else(|| DialectError::new(key.clone(), "is missing"))?;
        factory.find("datasets", reference, &key)
    };
    let mut job = Converted::default();
    let source_kind = member(&source, "type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sink_kind = member(&sink, "type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match (source_kind, sink_kind) {
        ("RestSource", _) => {
            let input = dataset("inputs")?;
            rest_dataset(&mut job, &input, &factory, "request")?;
            rest_source(
                &mut job,
                &source,
                &input,
                &format!("{at}.typeProperties.source"),
            )?;
            translator(
                &mut job,
                &properties,
                &format!("{at}.typeProperties.translator"),
            )?;
            file_dataset(
                &mut job,
                &dataset("outputs")?,
                &factory,
                "output",
                &sink,
                &at,
            )?;
        }
        (_, "RestSink") => {
            let output = dataset("outputs")?;
            rest_dataset(&mut job, &output, &factory, "write")?;
            rest_sink(&mut job, &sink, &format!("{at}.typeProperties.sink"))?;
            file_dataset(
                &mut job,
                &dataset("inputs")?,
                &factory,
                "input",
                &source,
                &at,
            )?;
        }
        (s, k) => {
            return Err(DialectError::new(
                format!("{at}.typeProperties"),
                format!(
                    "a `{s}` source with a `{k}` sink is not a REST copy: hydrant runs a RestSource or a RestSink"
                ),
            ));
        }
    }
    Ok(job)
}

fn name_of(activity: &Value) -> Option<&str> {
    member(activity, "name").and_then(Value::as_str)
}

/// The pipeline's Copy activity: the one named by `--activity`, or the
/// only one.
fn copy_activity(pipeline: &Value, activity: Option<&str>) -> Result<Value, DialectError> {
    let activities = member(pipeline, "properties")
        .and_then(|p| member(p, "activities"))
        .and_then(Value::as_array)
        .ok_or_else(|| DialectError::new("properties.activities", "is missing"))?;
    let copies: Vec<&Value> = activities
        .iter()
        .filter(|a| member(a, "type").and_then(Value::as_str) == Some("Copy"))
        .collect();
    if let Some(wanted) = activity {
        return copies
            .iter()
            .find(|c| name_of(c) == Some(wanted))
            .map(|c| (*c).clone())
            .ok_or_else(|| {
                let names: Vec<&str> = copies.iter().filter_map(|c| name_of(c)).collect();
                DialectError::new(
                    "--activity",
                    format!(
                        "no Copy activity is named `{wanted}` (there are: {})",
                        names.join(", ")
                    ),
                )
            });
    }
    match copies[..] {
        [one] => Ok(one.clone()),
        [] => Err(DialectError::new(
            "properties.activities",
            "has no Copy activity",
        )),
        _ => {
            let names: Vec<&str> = copies
                .iter()
                .filter_map(|c| member(c, "name").and_then(Value::as_str))
                .collect();
            Err(DialectError::new(
                "properties.activities",
                format!(
                    "has several Copy activities ({}): pick one with --activity NAME",
                    names.join(", ")
                ),
            ))
        }
    }
}

/// A `RestResource` dataset and its `RestService` linked service: the URL
/// (base and `relativeUrl` joined with one slash), authentication, TLS.
fn rest_dataset(
    job: &mut Converted,
    dataset: &Value,
    factory: &Factory<'_>,
    table: &str,
) -> Result<(), DialectError> {
    let props = member(dataset, "properties").cloned().unwrap_or_default();
    if member(&props, "type").and_then(Value::as_str) != Some("RestResource") {
        return Err(DialectError::new(
            "dataset.properties.type",
            "must be RestResource for a REST side",
        ));
    }
    let ls = linked_service(&props, factory, "RestService", "must be RestService")?;
    if member(&ls, "connectVia").is_some() {
        job.note(
            "",
            "linkedService.properties.connectVia",
            "the integration runtime is Data Factory's",
        );
    }
    let tp = member(&ls, "typeProperties").cloned().unwrap_or_default();
    let base = string(member(&tp, "url"), "linkedService.typeProperties.url")?
        .ok_or_else(|| DialectError::new("linkedService.typeProperties.url", "is missing"))?;
    let ds_tp = member(&props, "typeProperties")
        .cloned()
        .unwrap_or_default();
    let url = match string(
        member(&ds_tp, "relativeUrl"),
        "dataset.typeProperties.relativeUrl",
    )? {
        Some(relative) if !relative.is_empty() => {
            format!(
                "{}/{}",
                base.trim_end_matches('/'),
                relative.trim_start_matches('/')
            )
        }
        _ => base,
    };
    job.set(table, "url", url);
    if member(&tp, "enableServerCertificateValidation") == Some(&Value::Bool(false)) {
        job.set(table, "tls_verify", false);
    }
    auth(job, &tp)?;
    Ok(())
}

/// The properties of a dataset's linked service, which must be of `kind`.
fn linked_service(
    dataset_props: &Value,
    factory: &Factory<'_>,
    kind: &str,
    otherwise: &str,
) -> Result<Value, DialectError> {
    let key = "dataset.properties.linkedServiceName";
    let reference = member(dataset_props, "linkedServiceName")
        .and_then(|l| member(l, "referenceName"))
        .and_then(Value::as_str)
        .ok_or_else(|| DialectError::new(key, "is missing"))?;
    let linked = factory.find("linkedServices", reference, key)?;
    let ls = member(&linked, "properties").cloned().unwrap_or_default();
    if member(&ls, "type").and_then(Value::as_str) != Some(kind) {
        return Err(DialectError::new(
            "linkedService.properties.type",
            otherwise,
        ));
    }
    Ok(ls)
}

/// `authenticationType` and its credentials, and `authHeaders`.
fn auth(job: &mut Converted, tp: &Value) -> Result<(), DialectError> {
    let key = |k: &str| format!("linkedService.typeProperties.{k}");
    let need = |k: &str| -> Result<String, DialectError> {
        string(member(tp, k), &key(k))?.ok_or_else(|| DialectError::new(key(k), "is missing"))
    };
    let kind = string(member(tp, "authenticationType"), &key("authenticationType"))?
        .unwrap_or_else(|| "Anonymous".to_owned());
    let mut auth = match kind.as_str() {
        "Anonymous" => json!({ "type": "none" }),
        "Basic" => {
            json!({ "type": "basic", "username": need("userName")?, "password": need("password")? })
        }
        "OAuth2ClientCredential" => {
            let mut a = json!({
                "type": "oauth2",
                "token_url": need("tokenEndpoint")?,
                "client_id": need("clientId")?,
                "client_secret": need("clientSecret")?,
            });
            for (from, to) in [("scope", "scope"), ("resource", "resource")] {
                if let Some(v) = string(member(tp, from), &key(from))? {
                    a[to] = Value::String(v);
                }
            }
            a
        }
        "AadServicePrincipal" => {
            if member(tp, "servicePrincipalCredentialType").and_then(Value::as_str)
                == Some("ServicePrincipalCert")
            {
                return Err(DialectError::new(
                    key("servicePrincipalCredentialType"),
                    "certificate credentials are not supported: use a key",
                ));
            }
            let tenant = need("tenant")?;
            let host =
                match string(member(tp, "azureCloudType"), &key("azureCloudType"))?.as_deref() {
                    None | Some("AzurePublic") => "login.microsoftonline.com",
                    Some("AzureChina") => "login.chinacloudapi.cn",
                    Some("AzureUsGovernment") => "login.microsoftonline.us",
                    Some(other) => {
                        return Err(DialectError::new(
                            key("azureCloudType"),
                            format!("`{other}` is not a known Azure cloud"),
                        ));
                    }
                };
            json!({
                "type": "oauth2",
                "token_url": format!("https://{host}/{tenant}/oauth2/token"),
                "client_id": need("servicePrincipalId")?,
                "client_secret": need("servicePrincipalKey")?,
                "client_auth": "body",
                "resource": need("aadResourceId")?,
            })
        }
        other => {
            return Err(DialectError::new(
                key("authenticationType"),
                format!(
                    "`{other}` is not supported: hydrant takes Anonymous, Basic, OAuth2ClientCredential and AadServicePrincipal with a key"
                ),
            ));
        }
    };
    if let Some(headers) = member(tp, "authHeaders").and_then(Value::as_object) {
        let mut secret = Map::new();
        for (name, value) in headers {
            let v =
                string(Some(value), &format!("{}.{name}", key("authHeaders")))?.unwrap_or_default();
            secret.insert(name.clone(), Value::String(v));
        }
        auth["headers"] = Value::Object(secret);
    }
    job.job.insert("auth".to_owned(), auth);
    Ok(())
}

/// The copy source's request (and the dataset's legacy keys): method,
/// headers, body, paging, timeout, interval.
fn rest_source(
    job: &mut Converted,
    source: &Value,
    dataset: &Value,
    at: &str,
) -> Result<(), DialectError> {
    let legacy = member(dataset, "properties")
        .and_then(|p| member(p, "typeProperties"))
        .cloned()
        .unwrap_or_default();
    copy_settings(
        job,
        source,
        at,
        &[
            "requestMethod",
            "requestBody",
            "additionalHeaders",
            "paginationRules",
            "httpRequestTimeout",
            "requestInterval",
        ],
    )?;
    let get = |k: &str| member(source, k).or_else(|| member(&legacy, k));
    let method = string(get("requestMethod"), &format!("{at}.requestMethod"))?
        .unwrap_or_else(|| "GET".to_owned());
    job.set("request", "method", method.to_ascii_uppercase());
    headers(
        job,
        get("additionalHeaders"),
        "request",
        &format!("{at}.additionalHeaders"),
    )?;
    if let Some(body) = string(get("requestBody"), &format!("{at}.requestBody"))? {
        job.set("request", "body", body);
    }
    match get("paginationRules") {
        Some(rules) => {
            job.job.insert(
                "paginate".to_owned(),
                json!({ "type": "rules", "rules": rules }),
            );
        }
        // ADF pages by the RFC 5988 Link header when no rule is given.
        None => {
            job.job
                .insert("paginate".to_owned(), json!({ "type": "link_header" }));
        }
    }
    if let Some(timeout) = string(
        get("httpRequestTimeout"),
        &format!("{at}.httpRequestTimeout"),
    )? {
        job.set(
            "request",
            "timeout",
            timespan(&timeout, &format!("{at}.httpRequestTimeout"))?,
        );
    }
    let interval = string(get("requestInterval"), &format!("{at}.requestInterval"))?
        .unwrap_or_else(|| "00:00:01".to_owned());
    job.set(
        "request",
        "interval",
        timespan(&interval, &format!("{at}.requestInterval"))?,
    );
    Ok(())
}

/// A `TabularTranslator`: `collectionReference` is the records path, each
/// mapping a column (`source.path` relative to a record, `sink.name`,
/// `sink.type`).
fn translator(job: &mut Converted, properties: &Value, at: &str) -> Result<(), DialectError> {
    let Some(translator) = member(properties, "translator") else {
        return Ok(());
    };
    for name in translator.as_object().into_iter().flatten().map(|(k, _)| k) {
        let key = format!("{at}.{name}");
        match name.as_str() {
            "type" | "collectionReference" | "mappings" => {}
            // hydrant writes an object or array read into a string column
            // as its JSON text: what `true` asks for, and where `false`
            // would fail the copy.
            "mapComplexValuesToString" => {}
            "typeConversion" | "typeConversionSettings" => job.note(
                "columns",
                key,
                "values convert by hydrant's own rules (docs/guide/behaviour.md)",
            ),
            _ => {
                return Err(DialectError::new(
                    key,
                    "is not a setting of a TabularTranslator that hydrant honours",
                ));
            }
        }
    }
    let collection = string(
        member(translator, "collectionReference"),
        &format!("{at}.collectionReference"),
    )?;
    if let Some(path) = &collection {
        job.set("records", "path", path.clone());
    }
    let Some(mappings) = member(translator, "mappings").and_then(Value::as_array) else {
        return Ok(());
    };
    let mut columns = Vec::new();
    for (i, mapping) in mappings.iter().enumerate() {
        let key = format!("{at}.mappings[{i}]");
        let path = string(
            member(mapping, "source").and_then(|s| member(s, "path")),
            &format!("{key}.source.path"),
        )?
        .ok_or_else(|| DialectError::new(format!("{key}.source.path"), "is missing"))?;
        let sink = member(mapping, "sink");
        let name = string(
            sink.and_then(|s| member(s, "name")),
            &format!("{key}.sink.name"),
        )?
        .ok_or_else(|| DialectError::new(format!("{key}.sink.name"), "is missing"))?;
        // Beside a collectionReference, a path from the root (`$['number']`)
        // is the document's, the same in each row of its array (Data
        // Factory's cross-apply), and one without `$` is an element's.
        let mut column = if collection.is_some() && path.starts_with('$') {
            json!({ "name": name, "page_path": path })
        } else if path.starts_with('[') {
            json!({ "name": name, "path": format!("${path}") })
        } else {
            json!({ "name": name, "path": path })
        };
        if let Some(kind) = string(
            sink.and_then(|s| member(s, "type")),
            &format!("{key}.sink.type"),
        )? {
            let native = match kind.as_str() {
                "String" | "Guid" => "string",
                "Int16" | "Int32" => "int",
                "Int64" => "long",
                "Single" => "float",
                "Double" | "Decimal" => "double",
                "Boolean" => "boolean",
                "DateTime" | "DateTimeOffset" => "timestamp",
                "Byte[]" => "binary",
                other => {
                    return Err(DialectError::new(
                        format!("{key}.sink.type"),
                        format!("`{other}` is not an interim data type hydrant maps"),
                    ));
                }
            };
            column["type"] = Value::from(native);
        }
        columns.push(column);
    }
    job.job.insert("columns".to_owned(), Value::Array(columns));
    Ok(())
}

/// The copy sink's request: method, headers, compression, batch size,
/// interval (in milliseconds).
fn rest_sink(job: &mut Converted, sink: &Value, at: &str) -> Result<(), DialectError> {
    copy_settings(
        job,
        sink,
        at,
        &[
            "requestMethod",
            "additionalHeaders",
            "httpCompressionType",
            "writeBatchSize",
            "requestInterval",
            "httpRequestTimeout",
        ],
    )?;
    if let Some(timeout) = string(
        member(sink, "httpRequestTimeout"),
        &format!("{at}.httpRequestTimeout"),
    )? {
        job.set(
            "write",
            "timeout",
            timespan(&timeout, &format!("{at}.httpRequestTimeout"))?,
        );
    }
    let method = string(
        member(sink, "requestMethod"),
        &format!("{at}.requestMethod"),
    )?
    .unwrap_or_else(|| "POST".to_owned());
    job.set("write", "method", method.to_ascii_uppercase());
    headers(
        job,
        member(sink, "additionalHeaders"),
        "write",
        &format!("{at}.additionalHeaders"),
    )?;
    match string(
        member(sink, "httpCompressionType"),
        &format!("{at}.httpCompressionType"),
    )?
    .as_deref()
    {
        None | Some("none") => {}
        Some("gzip") => job.set("write", "compression", "gzip"),
        Some(other) => {
            return Err(DialectError::new(
                format!("{at}.httpCompressionType"),
                format!("`{other}` is not none or gzip"),
            ));
        }
    }
    let batch = string(
        member(sink, "writeBatchSize"),
        &format!("{at}.writeBatchSize"),
    )?
    .unwrap_or_else(|| "10000".to_owned());
    let batch: u64 = batch
        .parse()
        .map_err(|_| DialectError::new(format!("{at}.writeBatchSize"), "must be a whole number"))?;
    job.set("write", "batch_size", batch);
    job.set("write", "mode", "batch");
    if let Some(ms) = string(
        member(sink, "requestInterval"),
        &format!("{at}.requestInterval"),
    )? {
        job.set("write", "interval", format!("{ms}ms"));
    }
    Ok(())
}

/// The settings of a RestSource or RestSink besides `type` and `read` (the
/// ones the caller reads): the copy's shared ones set or noted, any other
/// refused naming it, as Data Factory keys hydrant cannot honour are.
fn copy_settings(
    job: &mut Converted,
    side: &Value,
    at: &str,
    read: &[&str],
) -> Result<(), DialectError> {
    let Some(settings) = side.as_object() else {
        return Ok(());
    };
    for (name, value) in settings {
        let key = format!("{at}.{name}");
        match name.as_str() {
            "type" => {}
            name if read.contains(&name) => {}
            "maxConcurrentConnections" => {
                let n = whole(value)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| DialectError::new(&key, "must be a whole number above 0"))?;
                job.set("limits", "concurrency", n);
            }
            "sourceRetryCount" | "sinkRetryCount" => {
                let n = whole(value)
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| DialectError::new(&key, "must be a whole number"))?;
                job.set("limits", "max_retries", n);
            }
            "sourceRetryWait" | "sinkRetryWait" => {
                job.note(
                    "limits",
                    key,
                    "hydrant waits between retries with its backoff",
                );
            }
            "writeBatchTimeout" => {
                job.note("write", key, "a batch waits as long as httpRequestTimeout");
            }
            "disableMetricsCollection" => {
                job.note("", key, "the metrics are Data Factory's");
            }
            _ => {
                return Err(DialectError::new(
                    key,
                    "is not a setting of a REST copy that hydrant honours",
                ));
            }
        }
    }
    Ok(())
}

/// `additionalHeaders` as headers of `table`.
fn headers(
    job: &mut Converted,
    headers: Option<&Value>,
    table: &str,
    key: &str,
) -> Result<(), DialectError> {
    let Some(headers) = headers else {
        return Ok(());
    };
    let headers = headers
        .as_object()
        .ok_or_else(|| DialectError::new(key, "must be an object"))?;
    let mut out = Map::new();
    for (name, value) in headers {
        let v = string(Some(value), &format!("{key}.{name}"))?.unwrap_or_default();
        out.insert(name.clone(), Value::String(v));
    }
    job.set(table, "headers", Value::Object(out));
    Ok(())
}

/// A file dataset on a `FileServer` linked service (its `host` a local
/// folder) as `[output]` or `[input]`.
fn file_dataset(
    job: &mut Converted,
    dataset: &Value,
    factory: &Factory<'_>,
    table: &str,
    side: &Value,
    at: &str,
) -> Result<(), DialectError> {
    let props = member(dataset, "properties").cloned().unwrap_or_default();
    let kind = member(&props, "type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let ls = linked_service(
        &props,
        factory,
        "FileServer",
        "a file dataset must be on a FileServer linked service (a local folder)",
    )?;
    let host = string(
        member(&ls, "typeProperties").and_then(|t| member(t, "host")),
        "linkedService.typeProperties.host",
    )?
    .ok_or_else(|| DialectError::new("linkedService.typeProperties.host", "is missing"))?;
    let tp = member(&props, "typeProperties")
        .cloned()
        .unwrap_or_default();
    let location = member(&tp, "location").cloned().unwrap_or_default();
    let folder = string(
        member(&location, "folderPath"),
        "dataset.typeProperties.location.folderPath",
    )?
    .unwrap_or_default();
    let file = string(
        member(&location, "fileName"),
        "dataset.typeProperties.location.fileName",
    )?
    .ok_or_else(|| DialectError::new("dataset.typeProperties.location.fileName", "is missing"))?;
    let path = [host.as_str(), folder.as_str(), file.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.trim_end_matches(['/', '\\']))
        .collect::<Vec<_>>()
        .join("/");
    job.set(table, "path", path);
    let format = file_format(job, &kind, &tp, side, table, at)?;
    job.set(table, "format", format);
    Ok(())
}

/// The native format of a file dataset of type `kind`, its settings
/// (`tp`, the dataset's `typeProperties`) set or checked. A setting hydrant
/// cannot honour is an error; one whose Data Factory default hydrant does
/// not share is noted.
fn file_format(
    job: &mut Converted,
    kind: &str,
    tp: &Value,
    side: &Value,
    table: &str,
    at: &str,
) -> Result<&'static str, DialectError> {
    let key = dataset_key;
    let known: &[&str] = match kind {
        "Json" => &["location", "encodingName", "compression"],
        "DelimitedText" => &[
            "location",
            "columnDelimiter",
            "firstRowAsHeader",
            "rowDelimiter",
            "quoteChar",
            "escapeChar",
            "nullValue",
            "encodingName",
            "compressionCodec",
            "compressionLevel",
            "skipLineCount",
        ],
        "Parquet" => &["location", "compressionCodec"],
        other => {
            return Err(DialectError::new(
                "dataset.properties.type",
                format!(
                    "`{other}` is not a file format hydrant reads or writes: Json, DelimitedText or Parquet"
                ),
            ));
        }
    };
    if let Some(unknown) = tp.as_object().and_then(|tp| unknown_key(tp, known)) {
        return Err(DialectError::new(
            key(unknown),
            format!("is not a setting of a {kind} dataset that hydrant knows"),
        ));
    }
    let encoding = string(member(tp, "encodingName"), &key("encodingName"))?;
    if encoding.is_some_and(|e| !is_utf8(&e)) {
        return Err(DialectError::new(
            key("encodingName"),
            "hydrant reads and writes UTF-8 files only",
        ));
    }
    match kind {
        "Json" => {
            let codec = member(tp, "compression").and_then(|c| member(c, "type"));
            uncompressed(
                string(codec, &key("compression.type"))?,
                &key("compression.type"),
            )?;
            let pattern = member(side, "formatSettings")
                .and_then(|f| member(f, "filePattern"))
                .and_then(Value::as_str);
            if pattern == Some("arrayOfObjects") {
                return Err(DialectError::new(
                    format!("{at}.formatSettings.filePattern"),
                    "arrayOfObjects is not written: use setOfObjects (JSON lines)",
                ));
            }
            Ok("ndjson")
        }
        "DelimitedText" => {
            delimited_text(job, tp, table)?;
            Ok("csv")
        }
        _ => {
            let codec = string(member(tp, "compressionCodec"), &key("compressionCodec"))?;
            if table == "output" {
                // Data Factory writes Parquet with snappy unless told.
                let codec = codec
                    .unwrap_or_else(|| "snappy".to_owned())
                    .to_ascii_lowercase();
                if !crate::options::PARQUET_CODECS.contains(&codec.as_str()) {
                    return Err(DialectError::new(
                        key("compressionCodec"),
                        format!(
                            "`{codec}` is not written: {}",
                            crate::options::PARQUET_CODECS.join(", ")
                        ),
                    ));
                }
                job.set("output", "parquet", json!({ "compression": codec }));
            }
            Ok("parquet")
        }
    }
}

/// Where a setting of a dataset is named in errors and notes.
fn dataset_key(name: &str) -> String {
    format!("dataset.typeProperties.{name}")
}

/// A DelimitedText dataset's settings: the delimiter and header set, the
/// others checked against what hydrant's CSV is (RFC 4180: `"` quotes,
/// doubled inside a value; a null as an empty field; no compression).
fn delimited_text(job: &mut Converted, tp: &Value, table: &str) -> Result<(), DialectError> {
    let key = dataset_key;
    let delimiter = string(member(tp, "columnDelimiter"), &key("columnDelimiter"))?
        .unwrap_or_else(|| ",".to_owned());
    let header = member(tp, "firstRowAsHeader") == Some(&Value::Bool(true));
    if table == "output" {
        job.set(
            "output",
            "csv",
            json!({ "delimiter": delimiter, "header": header }),
        );
    }
    uncompressed(
        string(member(tp, "compressionCodec"), &key("compressionCodec"))?,
        &key("compressionCodec"),
    )?;
    for (name, honoured, what) in [
        ("quoteChar", "\"", "hydrant's CSV quotes values with `\"`"),
        (
            "nullValue",
            "",
            "hydrant's CSV has a null as an empty field",
        ),
        ("skipLineCount", "0", "hydrant's CSV skips no line"),
    ] {
        if let Some(value) = member(tp, name).and_then(text)
            && value != honoured
        {
            return Err(DialectError::new(
                key(name),
                format!("`{value}` is not read or written: {what}"),
            ));
        }
    }
    // Data Factory's defaults that hydrant's CSV does not share.
    let escape = string(member(tp, "escapeChar"), &key("escapeChar"))?;
    match escape.as_deref() {
        Some("\"") => {}
        None | Some("\\") => job.note(
            "",
            key("escapeChar"),
            "hydrant reads and writes a quote inside a quoted value doubled (RFC 4180), not escaped with `\\` as Data Factory does unless escapeChar is `\"`",
        ),
        Some(other) => {
            return Err(DialectError::new(
                key("escapeChar"),
                format!("`{other}` is not read or written: hydrant doubles a quote inside a quoted value"),
            ));
        }
    }
    let rows = string(member(tp, "rowDelimiter"), &key("rowDelimiter"))?;
    match rows.as_deref() {
        Some("\n") => {}
        None | Some("\r\n") if table == "output" => job.note(
            "",
            key("rowDelimiter"),
            "hydrant ends each CSV line with \\n, not \\r\\n as Data Factory's copy does unless rowDelimiter is \\n",
        ),
        None | Some("\r\n" | "\r") => {}
        Some(other) => {
            return Err(DialectError::new(
                key("rowDelimiter"),
                format!("{other:?} is not read or written: lines end with \\n (or \\r\\n when read)"),
            ));
        }
    }
    Ok(())
}

/// A codec that must be none: hydrant reads and writes plain JSON and CSV
/// files.
fn uncompressed(codec: Option<String>, key: &str) -> Result<(), DialectError> {
    match codec {
        Some(codec) if !codec.eq_ignore_ascii_case("none") => Err(DialectError::new(
            key,
            format!(
                "`{codec}` is not read or written: hydrant's JSON and CSV files are not compressed"
            ),
        )),
        _ => Ok(()),
    }
}
