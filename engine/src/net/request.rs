//! From the job's `[request]`, a paginator's [`Plan`] and the credentials
//! to one concrete request, which can be sent or shown with secrets masked.

use std::borrow::Cow;

use bytes::Bytes;
use http_body_util::Full;
use hydrant_auth::{Credentials, ExposeSecret};
use hydrant_paginate::{Override, Plan};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use url::Url;

use crate::error::{Error, Result};
use crate::extract::Placeholders;
use crate::job::{Body, Method, Request};
use crate::json::{mark_big_numbers, write_serde};

const MASK: &str = "***";

/// Characters kept as they are in a URL path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A request ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub method: Method,
    pub url: Url,
    /// Header name (lower case), value, and whether the value is secret.
    pub headers: Vec<(String, String, bool)>,
    pub body: Option<(Vec<u8>, &'static str)>,
    /// Query parameter names whose values are secret.
    secret_query: Vec<String>,
    /// Query parameter names that carry credentials: stripped from any URL
    /// this request is redirected to off the job's origin.
    credential_params: Vec<String>,
    /// Body text with secrets masked, when the body holds a secret.
    masked_body: Option<Vec<u8>>,
    /// The job's secrets that may stand anywhere in the URL (see
    /// [`Request::var_secrets`]), in the forms a URL may hold them.
    url_values: Vec<String>,
    /// The origin of the job's URL: the only one credentials go to.
    job_origin: Origin,
}

type Origin = (String, String, Option<u16>);

/// The scheme, host and port of a URL.
pub(crate) fn origin(url: &Url) -> Origin {
    (
        url.scheme().to_owned(),
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default(),
    )
}

/// Builds the request for `plan`. Credentials are added only when the
/// request goes to the origin of the job's URL.
pub(crate) fn prepare(
    request: &Request,
    plan: &Plan,
    placeholders: &Placeholders,
    credentials: &Credentials,
) -> Result<Prepared> {
    let unmarked;
    let plan = match literal_texts(plan) {
        Some(plan) => {
            unmarked = plan;
            &unmarked
        }
        None => plan,
    };
    // A plan's own placeholders ({offset}, {cursor}, …) come before the pass's.
    let vars = |name: &str| -> Option<&str> {
        plan.overrides
            .iter()
            .rev()
            .find_map(|o| match o {
                Override::Var { name: n, value } if n == name => Some(value.as_str()),
                _ => None,
            })
            .or_else(|| placeholders.get(name).map(String::as_str))
    };
    let (job_url, mut url, followed) = target(request, plan, &vars)?;
    let job_origin = origin(&job_url);
    let same_origin = origin(&url) == job_origin;
    let parts = Parts {
        request,
        plan,
        credentials,
        same_origin,
    };
    // The names of the credentials a URL must not carry off the origin.
    let credential_params: Vec<String> = credentials
        .param_names
        .iter()
        .cloned()
        .chain(request.credential_params().map(str::to_owned))
        .collect();
    if !same_origin {
        strip_params(&mut url, &credential_params);
    }
    let secret_query = parts.query(&mut url, followed, &vars)?;
    let mut headers = parts.headers(&vars)?;
    let body_secrets: &[(String, hydrant_auth::SecretString)] =
        if same_origin { &credentials.body } else { &[] };
    let (body, masked_body) = prepare_body(request, plan, body_secrets, &vars)?;
    if let Some((_, content_type)) = &body
        && !headers.iter().any(|(n, _, _)| n == "content-type")
    {
        headers.push(("content-type".to_owned(), (*content_type).to_owned(), false));
    }
    Ok(Prepared {
        method: request.method,
        url,
        headers,
        body,
        secret_query,
        credential_params,
        masked_body,
        url_values: redaction_forms(&request.var_secrets),
        job_origin,
    })
}

/// `plan` with each text taken from a number past 64 bits (a cursor of
/// `12345678901234567890123`, which the page's parse carries as a marked
/// string) as the number's literal; `None` when no text is one.
fn literal_texts(plan: &Plan) -> Option<Plan> {
    let literal = |text: &str| crate::json::big_number(text).map(str::to_owned);
    let marked = |o: &Override| match o {
        Override::Query { value, .. }
        | Override::Header { value, .. }
        | Override::Var { value, .. } => literal(value).is_some(),
        _ => false,
    };
    if !plan.overrides.iter().any(marked) {
        return None;
    }
    let overrides = plan
        .overrides
        .iter()
        .cloned()
        .map(|mut o| {
            if let Override::Query { value, .. }
            | Override::Header { value, .. }
            | Override::Var { value, .. } = &mut o
                && let Some(digits) = literal(value)
            {
                *value = digits;
            }
            o
        })
        .collect();
    Some(Plan { overrides })
}

/// The job's URL with its placeholders filled, and the URL to request: the
/// plan's link resolved against it, if the plan follows one (then `true`).
fn target<'v>(
    request: &Request,
    plan: &Plan,
    vars: &impl Fn(&str) -> Option<&'v str>,
) -> Result<(Url, Url, bool)> {
    let job_url = fill(&request.url, vars, true, "request.url")?;
    let job_url = Url::parse(&job_url)
        .map_err(|e| Error::config(format!("request.url: `{job_url}` is not a URL ({e})")))?;
    let link = plan.overrides.iter().find_map(|o| match o {
        Override::Link(link) => Some(link),
        _ => None,
    });
    let url = match link {
        Some(link) => {
            let mut url = job_url
                .join(link)
                .map_err(|e| Error::data(format!("pagination link `{link}` is not a URL ({e})")))?;
            upgrade_to_job_origin(&mut url, &job_url);
            url
        }
        None => job_url.clone(),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::data(format!(
            "pagination link `{url}` is not http or https"
        )));
    }
    let job_origin = origin(&job_url);
    if origin(&url) != job_origin {
        check_host(
            &url,
            &job_origin,
            &request.allowed_hosts,
            "a pagination link",
        )?;
    }
    Ok((job_url, url, link.is_some()))
}

/// Turns a link to the job's host over plain `http` into one to the job's
/// `https` origin. An API behind a proxy that ends TLS writes its links
/// with the scheme it sees: Django REST Framework, Laravel and Spring do,
/// unless told of the proxy. Followed as written, the request would go
/// in the clear, and without credentials (another origin), to be refused
/// or sent back to `https` by a redirect that no longer carries them.
/// The link's port must be the job's, or `http`'s default.
fn upgrade_to_job_origin(url: &mut Url, job_url: &Url) {
    let same_port = url.port().is_none() || url.port() == job_url.port();
    if url.scheme() == "http"
        && job_url.scheme() == "https"
        && url.host_str() == job_url.host_str()
        && same_port
        && url.set_scheme("https").is_ok()
        && url.set_port(job_url.port()).is_ok()
    {
        tracing::debug!(link = %strip_query(url), "an http link on the job's host, followed over https");
    }
}

/// What the query and the headers of a request are made from.
struct Parts<'a> {
    request: &'a Request,
    plan: &'a Plan,
    credentials: &'a Credentials,
    /// Whether the request goes to the job's origin: only then does it
    /// carry credentials.
    same_origin: bool,
}

impl Parts<'_> {
    /// Sets the query of `url`: the job's (unless a link is followed), the
    /// plan's, and the credentials'. Answers the names whose values are
    /// secret.
    fn query<'v>(
        &self,
        url: &mut Url,
        followed: bool,
        vars: &impl Fn(&str) -> Option<&'v str>,
    ) -> Result<Vec<String>> {
        // A followed link is requested as given: the job's query is not added again.
        let mut query: Vec<(String, String)> = Vec::new();
        // The job's credentials are masked by name, also in a followed
        // link, which may carry them back.
        let mut secret_query: Vec<String> = self
            .request
            .credential_params()
            .map(str::to_owned)
            .collect();
        if !followed {
            for (name, value, _) in &self.request.query {
                let key = format!("request.query.{name}");
                query.push((name.clone(), fill(value, vars, false, &key)?));
            }
        } else if self.same_origin {
            self.unmask(url, vars)?;
        }
        for o in &self.plan.overrides {
            if let Override::Query { name, value } = o {
                query.retain(|(n, _)| n != name);
                url_remove_query(url, name);
                query.push((name.clone(), value.clone()));
            }
        }
        if self.same_origin {
            for (name, value) in &self.credentials.query {
                query.retain(|(n, _)| n != name);
                url_remove_query(url, name);
                query.push((name.clone(), value.expose_secret().to_owned()));
                secret_query.push(name.clone());
            }
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &query {
                pairs.append_pair(name, value);
            }
        }
        Ok(secret_query)
    }

    /// A link kept in a checkpoint has the job's secrets masked by value:
    /// a segment of the job's own path that holds one (`/bot***/updates`)
    /// gets the job's segment back.
    fn unmask_path(&self, url: &mut Url) {
        if !url.path().contains(MASK) {
            return;
        }
        let Ok(job_url) = Url::parse(&self.request.url) else {
            return;
        };
        let forms = redaction_forms(&self.request.var_secrets);
        let known: Vec<(String, &str)> = (job_url.path_segments().into_iter().flatten())
            .map(|segment| (mask_values(segment, &forms), segment))
            .filter(|(masked, segment)| masked != segment)
            .collect();
        let Some(segments) = url.path_segments() else {
            return;
        };
        let path: Vec<&str> = segments
            .map(
                |segment| match known.iter().find(|(masked, _)| masked == segment) {
                    Some((_, real)) => real,
                    None => segment,
                },
            )
            .collect();
        url.set_path(&path.join("/"));
    }

    /// A link kept in a checkpoint has the job's credentials masked, as
    /// a state file holds no secret. Followed again on the job's origin,
    /// each `NAME=***` of a credential the job wrote into its query or
    /// URL gets the value back; the rest of the link stays as given.
    fn unmask<'v>(&self, url: &mut Url, vars: &impl Fn(&str) -> Option<&'v str>) -> Result<()> {
        self.unmask_path(url);
        let Some(query) = url.query().filter(|q| q.contains(MASK)) else {
            return Ok(());
        };
        let mut known: Vec<(&str, String)> = Vec::new();
        for (name, value, secret) in &self.request.query {
            if *secret {
                let key = format!("request.query.{name}");
                known.push((name, fill(value, vars, false, &key)?));
            }
        }
        known.extend(
            self.request
                .url_secrets
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone())),
        );
        let pieces: Vec<String> = query
            .split('&')
            .map(|piece| {
                let (name, value) = query_pair(piece);
                match known.iter().find(|(n, _)| *n == name) {
                    Some((_, secret)) if value == MASK => {
                        url::form_urlencoded::Serializer::new(String::new())
                            .append_pair(&name, secret)
                            .finish()
                    }
                    _ => piece.to_owned(),
                }
            })
            .collect();
        url.set_query(Some(&pieces.join("&")));
        Ok(())
    }

    /// The headers: hydrant's own, the job's, the plan's and the
    /// credentials', a later one replacing an earlier of the same name.
    fn headers<'v>(
        &self,
        vars: &impl Fn(&str) -> Option<&'v str>,
    ) -> Result<Vec<(String, String, bool)>> {
        let mut headers: Vec<(String, String, bool)> = Vec::new();
        let mut set = |name: &str, value: String, secret: bool| {
            headers.retain(|(n, _, _)| n != name);
            headers.push((name.to_owned(), value, secret));
        };
        set("accept", "application/json".to_owned(), false);
        set(
            "accept-encoding",
            "gzip, deflate, br, zstd".to_owned(),
            false,
        );
        set(
            "user-agent",
            concat!("hydrant/", env!("CARGO_PKG_VERSION")).to_owned(),
            false,
        );
        for (name, value, secret) in &self.request.headers {
            // A credential the job wrote into its headers goes where the
            // auth's own do: only to the job's origin.
            if *secret && !self.same_origin {
                continue;
            }
            let key = format!("request.headers.{name}");
            set(name, fill(value, vars, false, &key)?, *secret);
        }
        for o in &self.plan.overrides {
            if let Override::Header { name, value } = o {
                set(&name.to_ascii_lowercase(), value.clone(), false);
            }
        }
        if self.same_origin {
            for (name, value) in &self.credentials.headers {
                set(name, value.expose_secret().to_owned(), true);
            }
        }
        for (name, value, _) in &headers {
            if value.contains(['\r', '\n']) {
                return Err(Error::config(format!(
                    "header `{name}` would contain CR or LF after filling placeholders"
                )));
            }
        }
        Ok(headers)
    }
}

/// The name and value of one `name=value` piece of a query, decoded.
fn query_pair(piece: &str) -> (Cow<'_, str>, Cow<'_, str>) {
    url::form_urlencoded::parse(piece.as_bytes())
        .next()
        .unwrap_or_default()
}

/// Removes the query parameters named in `names` from a URL that leaves
/// the job's origin: the one way credentials are kept off other hosts,
/// for links, redirects and rules alike.
fn strip_params(url: &mut Url, names: &[String]) {
    for name in names {
        url_remove_query(url, name);
    }
}

/// A body and its content type, and the body with secrets masked when it
/// holds any.
type PreparedBody = (Option<(Vec<u8>, &'static str)>, Option<Vec<u8>>);

/// The body with the plan's members set and the body credentials added,
/// and the same with those credentials masked when there are any.
///
/// A JSON string body takes the plan's members as a JSON object would; a
/// form takes them as fields; a request without a body gets an object of
/// them alone.
fn prepare_body<'v>(
    request: &Request,
    plan: &Plan,
    secrets: &[(String, hydrant_auth::SecretString)],
    vars: &impl Fn(&str) -> Option<&'v str>,
) -> Result<PreparedBody> {
    let members: Vec<(&str, &Value)> = plan
        .overrides
        .iter()
        .filter_map(|o| match o {
            Override::Body { path, value } => Some((path.as_str(), value)),
            _ => None,
        })
        .collect();
    let json = match &request.body {
        Some(Body::Form(fields)) => return Ok(form_body(fields, &members, secrets)),
        Some(Body::Text(text)) if members.is_empty() && secrets.is_empty() => {
            let text = fill_text(text, vars);
            let content_type = if serde_json::from_str::<Value>(&text).is_ok() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            return Ok((Some((text.into_bytes(), content_type)), None));
        }
        // Numbers past 64 bits are read as marked strings and written back
        // as they were, not rounded to doubles.
        Some(Body::Text(text)) => match serde_json::from_slice::<Value>(&mark_big_numbers(
            fill_text(text, vars).as_bytes(),
        )) {
            Ok(json @ Value::Object(_)) => json,
            _ => {
                return Err(Error::config(
                    "request.body: a value placed `in = \"body\"` needs a JSON object body or a form, and the body is not a JSON object",
                ));
            }
        },
        Some(Body::Json(json)) => {
            let mut json = json.clone();
            fill_strings(&mut json, vars);
            json
        }
        None if members.is_empty() && secrets.is_empty() => return Ok((None, None)),
        None => Value::Object(serde_json::Map::new()),
    };
    let mut json = json;
    for (path, value) in members {
        set_member(&mut json, path, value.clone());
    }
    let mut masked = None;
    if !secrets.is_empty() {
        let mut shown = json.clone();
        for (name, value) in secrets {
            set_member(
                &mut json,
                name,
                Value::String(value.expose_secret().to_owned()),
            );
            set_member(&mut shown, name, Value::String(MASK.to_owned()));
        }
        let mut text = Vec::new();
        write_serde(&shown, &mut text);
        masked = Some(text);
    }
    let mut body = Vec::new();
    write_serde(&json, &mut body);
    Ok((Some((body, "application/json")), masked))
}

/// A form body: the job's fields, the plan's members as fields (replacing
/// a field of the same name) and the body credentials.
fn form_body(
    fields: &[(String, String)],
    members: &[(&str, &Value)],
    secrets: &[(String, hydrant_auth::SecretString)],
) -> PreparedBody {
    let member_text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let encode = |secret_value: &dyn Fn(&str) -> String| {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            if !members.iter().any(|(path, _)| path == name) {
                form.append_pair(name, value);
            }
        }
        for (path, value) in members {
            form.append_pair(path, &member_text(value));
        }
        for (name, value) in secrets {
            form.append_pair(name, &secret_value(value.expose_secret()));
        }
        form.finish().into_bytes()
    };
    let body = encode(&|v| v.to_owned());
    let masked = (!secrets.is_empty()).then(|| encode(&|_| MASK.to_owned()));
    (Some((body, "application/x-www-form-urlencoded")), masked)
}

/// A URL off the job's origin must at least be on the job's host or an
/// allowed one.
fn check_host(url: &Url, job_origin: &Origin, allowed: &[String], what: &str) -> Result<()> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host == job_origin.1 || allowed.contains(&host) {
        return Ok(());
    }
    Err(Error::data(format!(
        "refusing to follow {what} to host `{host}` ({}): it is not the job's host and not in request.allowed_hosts",
        strip_query(url)
    )))
}

/// A URL without its query, which may hold a credential.
fn strip_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// Takes the members named `name` out of the URL's query. The others keep
/// their text: a member without a value (`?all`) stays one, not `all=`.
fn url_remove_query(url: &mut Url, name: &str) {
    let Some(query) = url.query() else {
        return;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|part| {
            !part.is_empty() && url::form_urlencoded::parse(part.as_bytes()).all(|(n, _)| n != name)
        })
        .collect();
    let kept = kept.join("&");
    url.set_query((!kept.is_empty()).then_some(kept.as_str()));
}

/// Sets a dotted member of a JSON object, creating objects on the way.
pub(crate) fn set_member(json: &mut Value, path: &str, value: Value) {
    let mut node = json;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = Value::Object(serde_json::Map::new());
        }
        let map = node.as_object_mut().expect("made an object above");
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        node = map
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

/// Fills the `{name}` placeholders of a body that have a value and leaves
/// any other brace as it is: a body's braces are mostly JSON's own. In a
/// GraphQL document (`graphql`) a brace that opens a selection set is
/// not a placeholder, though a field in it is named like one
/// (`edges{cursor}`).
fn fill_known<'v>(
    template: &str,
    vars: &impl Fn(&str) -> Option<&'v str>,
    graphql: bool,
) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let filled = rest[open + 1..]
            .find(['}', '{'])
            .filter(|&close| rest.as_bytes()[open + 1 + close] == b'}')
            .filter(|_| !(graphql && opens_selection(&out)))
            .and_then(|close| {
                let name = &rest[open + 1..open + 1 + close];
                vars(name).map(|value| (value, open + close + 2))
            });
        match filled {
            Some((value, end)) => {
                out.push_str(value);
                rest = &rest[end..];
            }
            None => {
                out.push('{');
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether a body's string at member `key` is a GraphQL document: the
/// `query` of a GraphQL request.
fn is_graphql(key: &str, text: &str) -> bool {
    let text = text.trim_start();
    key == "query"
        && (text.starts_with('{')
            || ["query", "mutation", "subscription", "fragment"]
                .iter()
                .any(|word| text.starts_with(word)))
}

/// In a GraphQL document whose text up to a brace is `before`, whether
/// the brace opens a selection set: it begins the document, or follows a
/// name (a field, a type, a directive) or arguments (`)`). A placeholder
/// follows a `:`, a `"` or a space after them (`after: "{cursor}"`).
fn opens_selection(before: &str) -> bool {
    before
        .trim_end()
        .bytes()
        .last()
        .is_none_or(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b')')
}

/// [`fill_known`] on a string body. In JSON text a value that stands
/// inside a string is escaped as JSON; one outside (`"id": {id}`) goes in
/// as it is. A string that is the GraphQL document of member `query`
/// keeps its selection sets.
fn fill_text<'v>(text: &str, vars: &impl Fn(&str) -> Option<&'v str>) -> String {
    let json_like = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
    if !text.contains('{') || !json_like {
        return fill_known(text, vars, false);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(text.len());
    let (mut at, mut in_string) = (0, false);
    // The last string closed (a key, where a `:` follows), and where the
    // string being read began, in `out`, if it is a GraphQL document.
    let (mut last, mut after_query, mut graphql) = ((0, 0), false, None);
    while at < bytes.len() {
        let byte = bytes[at];
        if in_string && byte == b'\\' {
            out.extend_from_slice(&bytes[at..(at + 2).min(bytes.len())]);
            at += 2;
            continue;
        }
        if byte == b'"' {
            if in_string {
                last = (last.0, at);
                graphql = None;
            } else {
                last = (at + 1, at + 1);
                graphql =
                    (after_query && is_graphql("query", &text[at + 1..])).then_some(out.len() + 1);
                after_query = false;
            }
            in_string = !in_string;
        } else if !in_string && byte == b':' {
            after_query = &text[last.0..last.1] == "query";
        } else if byte == b'{'
            && let Some(close) = text[at + 1..].find(['{', '}'])
            && bytes[at + 1 + close] == b'}'
            && !graphql.is_some_and(|from| opens_selection(&String::from_utf8_lossy(&out[from..])))
            && let Some(value) = vars(&text[at + 1..at + 1 + close])
        {
            if in_string {
                let quoted = Value::String(value.to_owned()).to_string();
                out.extend_from_slice(&quoted.as_bytes()[1..quoted.len() - 1]);
            } else {
                out.extend_from_slice(value.as_bytes());
            }
            at += close + 2;
            continue;
        }
        out.push(byte);
        at += 1;
    }
    String::from_utf8(out).expect("UTF-8 text with UTF-8 values put in")
}

/// [`fill_known`] on every string of a JSON body; the GraphQL document at
/// member `query` keeps its selection sets.
fn fill_strings<'v>(json: &mut Value, vars: &impl Fn(&str) -> Option<&'v str>) {
    fill_member(json, "", vars);
}

fn fill_member<'v>(json: &mut Value, key: &str, vars: &impl Fn(&str) -> Option<&'v str>) {
    match json {
        Value::String(text) if text.contains('{') => {
            *text = fill_known(text, vars, is_graphql(key, text));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill_member(v, "", vars)),
        Value::Object(members) => (members.iter_mut()).for_each(|(k, v)| fill_member(v, k, vars)),
        _ => {}
    }
}

/// Fills `{name}` placeholders; in a URL the values are percent-encoded.
fn fill<'v>(
    template: &str,
    vars: impl Fn(&str) -> Option<&'v str>,
    in_url: bool,
    key: &str,
) -> Result<String> {
    if !template.contains('{') {
        return Ok(template.to_owned());
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let name = &rest[open + 1..open + close];
        let value = vars(name).ok_or_else(|| match name.strip_prefix("parent.") {
            // Known only once a parent record is read: that record lacks it.
            Some(field) => Error::data(format!(
                "{key}: placeholder `{{{name}}}` has no value: the parent record of this pass \
                 has no field `{field}` (check the name against the parent job's records)"
            )),
            None => Error::config(format!(
                "{key}: placeholder `{{{name}}}` has no value (nothing in the job fills it)"
            )),
        })?;
        if in_url {
            // A whole path segment of `.` or `..` is not sent as given:
            // URL parsers resolve it (`/items/../x` is `/x`), encoded or not.
            let whole = out.ends_with('/')
                && matches!(
                    rest.as_bytes().get(open + close + 1),
                    None | Some(b'/' | b'?' | b'#')
                );
            if whole && matches!(value, "." | "..") {
                return Err(Error::data(format!(
                    "{key}: placeholder `{{{name}}}` is `{value}`, which as a segment of the \
                     URL's path would step to another path; such a value cannot go there"
                )));
            }
            out.extend(utf8_percent_encode(value, SEGMENT));
        } else {
            out.push_str(value);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Prepared {
    /// Whether the request goes to the job's origin, the only one that
    /// gets credentials.
    pub(crate) fn to_job_origin(&self) -> bool {
        origin(&self.url) == self.job_origin
    }

    /// Sets a header, replacing any of that (lower-case) name.
    pub(crate) fn set_header(&mut self, name: &str, value: String, secret: bool) {
        self.headers.retain(|(n, _, _)| n != name);
        self.headers.push((name.to_owned(), value, secret));
    }

    /// Adds a query parameter, replacing any of that name.
    pub(crate) fn add_query(&mut self, name: String, value: String, secret: bool) {
        url_remove_query(&mut self.url, &name);
        self.url.query_pairs_mut().append_pair(&name, &value);
        if secret {
            self.secret_query.push(name);
        }
    }

    /// The request a redirect answered with `status` asks for. Off the
    /// job's origin it carries no credential: secret headers and query
    /// parameters are dropped, and a body holding one is not sent again.
    pub(crate) fn redirected(
        &self,
        status: u16,
        location: &str,
        allowed: &[String],
    ) -> Result<Prepared> {
        let url = self.url.join(location).map_err(|e| {
            Error::data(format!(
                "redirect from {} to `{location}` is not a URL ({e})",
                self.shown_url()
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::data(format!(
                "redirect from {} to `{}` is not http or https",
                self.shown_url(),
                strip_query(&url)
            )));
        }
        // A 301 or 302 answering a request with a body (a write, a POST
        // read) is not followed. Browsers send it on as a GET, which drops
        // the body: a write's records were counted delivered when the GET
        // answered 200. Sent again as it was, it could apply a write twice:
        // many servers answer a POST they took with a 302.
        if matches!(status, 301 | 302) && self.method != Method::Get {
            return Err(Error::http(format!(
                "{} {} answered {status}, to {}: a {} is not sent on after a {status} (as a \
                 GET it would lose its body, and sent again it could be applied twice); if the \
                 API moved, set the job's url to the new address",
                self.method.as_str(),
                self.shown_url(),
                strip_query(&url),
                self.method.as_str(),
            ))
            .with_status(status));
        }
        let mut next = self.clone();
        next.url = url;
        // A 303 asks for the answer with a GET: the request was taken.
        if status == 303 {
            next.method = Method::Get;
            next.body = None;
            next.masked_body = None;
            next.headers.retain(|(n, _, _)| n != "content-type");
        }
        if !next.to_job_origin() {
            check_host(&next.url, &self.job_origin, allowed, "a redirect")?;
            next.headers.retain(|(_, _, secret)| !secret);
            let secret_query = std::mem::take(&mut next.secret_query);
            strip_params(&mut next.url, &secret_query);
            strip_params(&mut next.url, &self.credential_params);
            if next.masked_body.is_some() {
                return Err(Error::data(format!(
                    "refusing to follow a redirect from {} to another origin ({}): the body holds a credential",
                    self.shown_url(),
                    strip_query(&next.url)
                )));
            }
        }
        Ok(next)
    }

    /// Names of the query parameters whose values are secret.
    pub(crate) fn secret_query(&self) -> &[String] {
        &self.secret_query
    }

    /// Path and query, without the query parameters whose values are
    /// secret: what may be kept of the request.
    pub(crate) fn target_without_secrets(&self) -> String {
        let mut target = mask_values(self.url.path(), &self.url_values);
        let Some(query) = self.url.query() else {
            return target;
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|piece| {
                let (name, _) = query_pair(piece);
                !self.secret_query.iter().any(|secret| *secret == name)
            })
            .collect();
        if !kept.is_empty() {
            target.push('?');
            target.push_str(&mask_values(&kept.join("&"), &self.url_values));
        }
        target
    }

    /// The URL with secret query values masked, for messages.
    pub(crate) fn shown_url(&self) -> String {
        if self.secret_query.is_empty() {
            return mask_values(self.url.as_str(), &self.url_values);
        }
        let mut url = self.url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(n, v)| {
                let masked = self.secret_query.iter().any(|s| *s == n);
                (
                    n.into_owned(),
                    if masked {
                        MASK.to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        mask_values(
            &url.to_string().replace("%2A%2A%2A", MASK),
            &self.url_values,
        )
    }

    /// The body as sent, secrets masked; empty without one.
    pub(crate) fn shown_body(&self) -> &[u8] {
        match &self.body {
            Some((body, _)) => self.masked_body.as_ref().unwrap_or(body),
            None => &[],
        }
    }

    /// The request as text, secrets masked: what `hydrant explain` shows.
    pub(crate) fn describe(&self) -> String {
        let mut out = format!("{} {}\n", self.method.as_str(), self.shown_url());
        for (name, value, secret) in &self.headers {
            out.push_str(&format!("{name}: {}\n", if *secret { MASK } else { value }));
        }
        if self.body.is_some() {
            out.push('\n');
            out.push_str(&String::from_utf8_lossy(self.shown_body()));
            out.push('\n');
        }
        out
    }

    /// The hyper request.
    pub(crate) fn to_http(&self) -> Result<http::Request<Full<Bytes>>> {
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(self.url.as_str());
        for (name, value, _) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = self
            .body
            .as_ref()
            .map(|(b, _)| Bytes::from(b.clone()))
            .unwrap_or_default();
        builder.body(Full::new(body)).map_err(|e| {
            Error::config(format!(
                "cannot build the request to {}: {e}",
                self.shown_url()
            ))
        })
    }

    /// What identifies this request for loop detection: a hash of its
    /// method, URL, headers and body, so a long run keeps 8 bytes per request, not the request.
    pub(crate) fn identity(&self) -> u64 {
        use sha2::Digest;
        // SHA-256 rather than std's hasher: identities are saved in
        // checkpoints and must agree across processes and versions. Secret
        // query values are masked first: a checkpoint holds nothing of them.
        // The method and every header count: pagination or fan-out may vary
        // only a header. A secret header is left out: its value is a
        // credential, the same for every request of a pass.
        let mut hasher = sha2::Sha256::new();
        hasher.update(self.method.as_str());
        hasher.update([0]);
        hasher.update(self.shown_url());
        for (name, value, secret) in &self.headers {
            if !secret {
                hasher.update([0]);
                hasher.update(name);
                hasher.update([b':']);
                hasher.update(value);
            }
        }
        if let Some((body, _)) = &self.body {
            hasher.update([0]);
            hasher.update(body);
        }
        let digest = hasher.finalize();
        u64::from_le_bytes(
            digest[..8]
                .try_into()
                .expect("a SHA-256 digest has 32 bytes"),
        )
    }
}

/// Remembers a secret as written and as percent-encoded in a URL or form.
pub(crate) fn add_secret(secrets: &mut Vec<String>, value: &str) {
    // Text is redacted by value only for secrets of 4 bytes or more: a
    // shorter one would garble every message (`s` in each word) and could
    // be read back from the gaps. Short secrets are masked where they are
    // placed instead (headers, query and body credentials are shown as
    // `***` by name, never by value).
    if value.len() < MIN_REDACTED {
        return;
    }
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let percent = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    for text in [value.to_owned(), form, percent] {
        if !secrets.contains(&text) {
            secrets.push(text);
        }
    }
    // Longest first, so a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// The shortest secret redacted by its value.
const MIN_REDACTED: usize = 4;

/// The forms in which `values` are redacted (see [`add_secret`]).
fn redaction_forms(values: &[String]) -> Vec<String> {
    let mut forms = Vec::new();
    for value in values {
        add_secret(&mut forms, value);
    }
    forms
}

/// `bytes` with each of `secrets` (as [`add_secret`] lists them) replaced
/// by `***`; borrowed when it holds none.
pub(crate) fn redact_with<'b>(bytes: &'b [u8], secrets: &[String]) -> Cow<'b, [u8]> {
    let mut kept = Cow::Borrowed(bytes);
    for secret in secrets {
        let finder = memchr::memmem::Finder::new(secret.as_bytes());
        if finder.find(&kept).is_none() {
            continue;
        }
        let mut redacted = Vec::with_capacity(kept.len());
        let mut rest: &[u8] = &kept;
        while let Some(at) = finder.find(rest) {
            redacted.extend_from_slice(&rest[..at]);
            redacted.extend_from_slice(MASK.as_bytes());
            rest = &rest[at + secret.len()..];
        }
        redacted.extend_from_slice(rest);
        kept = Cow::Owned(redacted);
    }
    kept
}

/// `text` with each of `values` replaced by `***` (see [`redact_with`]).
fn mask_values(text: &str, values: &[String]) -> String {
    // Secrets are text, so a replaced one ends where a character does.
    String::from_utf8_lossy(&redact_with(text.as_bytes(), values)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_taken_out_of_a_query_leaves_the_others_as_spelled() {
        let removed = |url: &str, name: &str| {
            let mut url = Url::parse(url).unwrap();
            url_remove_query(&mut url, name);
            url.to_string()
        };
        assert_eq!(
            removed("http://h/a?all&cursor=c2&q=a%20b&cursor=c3", "cursor"),
            "http://h/a?all&q=a%20b"
        );
        assert_eq!(removed("http://h/a?cursor=c2", "cursor"), "http://h/a");
        assert_eq!(removed("http://h/a?all", "cursor"), "http://h/a?all");
        assert_eq!(removed("http://h/a?all", "all"), "http://h/a");
    }

    #[test]
    fn an_http_link_on_the_job_host_is_followed_over_https() {
        let upgraded = |link: &str, job: &str| {
            let mut url = Url::parse(link).unwrap();
            upgrade_to_job_origin(&mut url, &Url::parse(job).unwrap());
            url.to_string()
        };
        let job = "https://api.example.com/v1/items";
        assert_eq!(
            upgraded("http://api.example.com/v1/items?page=2", job),
            "https://api.example.com/v1/items?page=2"
        );
        assert_eq!(
            upgraded("http://127.0.0.1:8443/p?c=1", "https://127.0.0.1:8443/p"),
            "https://127.0.0.1:8443/p?c=1"
        );
        assert_eq!(
            upgraded("http://localhost/p2", "https://localhost:8443/p"),
            "https://localhost:8443/p2"
        );
        // Another host, another port, or a job over http: as written.
        for (link, job) in [
            ("http://cdn.example.com/v1/items?page=2", job),
            ("http://api.example.com:8080/v1/items", job),
            (
                "http://api.example.com/v1/items",
                "http://api.example.com/v1",
            ),
        ] {
            assert_eq!(upgraded(link, job), link);
        }
    }

    #[test]
    fn a_dot_segment_from_a_placeholder_is_refused() {
        let fill_with = |template: &str, value: &'static str| {
            fill(template, |_| Some(value), true, "request.url")
        };
        for template in ["/items/{value}/x", "/items/{value}", "/items/{value}?q=1"] {
            for value in [".", ".."] {
                let error = fill_with(template, value).unwrap_err().to_string();
                assert!(
                    error.contains(&format!("placeholder `{{value}}` is `{value}`")),
                    "{error}"
                );
            }
        }
        // Within a segment, in the query, or any other value: as given.
        assert_eq!(
            fill_with("/items/v{value}/x", "..").unwrap(),
            "/items/v../x"
        );
        assert_eq!(fill_with("/items?q={value}", "..").unwrap(), "/items?q=..");
        assert_eq!(
            fill_with("/items/{value}/x", "a/..").unwrap(),
            "/items/a%2F../x"
        );
    }

    #[test]
    fn body_placeholders_are_filled_where_they_have_a_value() {
        let vars = |name: &str| match name {
            "id" => Some("7"),
            "q" => Some("say \"hi\""),
            _ => None,
        };
        // JSON's own braces, and names nothing fills, stay as they are.
        assert_eq!(
            fill_text(r#"{"id": {id}, "q": "{q}", "o": {"k": "{none}"}}"#, &vars),
            r#"{"id": 7, "q": "say \"hi\"", "o": {"k": "{none}"}}"#
        );
        assert_eq!(fill_text("page={id}&q={q}", &vars), "page=7&q=say \"hi\"");
        let mut json = serde_json::json!({"a": ["{id}", {"b": "x{q}"}], "n": 1});
        fill_strings(&mut json, &vars);
        assert_eq!(
            json,
            serde_json::json!({"a": ["7", {"b": "xsay \"hi\""}], "n": 1})
        );
    }

    /// A GraphQL query's selection sets are not placeholders, though a
    /// field is named like one (`edges{cursor}`); a placeholder in its
    /// strings or after a `:` is, and so is one in another member.
    #[test]
    fn a_graphql_query_keeps_its_selection_sets() {
        let vars = |name: &str| match name {
            "cursor" => Some("C1"),
            "value" => Some("rocket"),
            _ => None,
        };
        let query = r#"query { repo(name: "{value}", first: {cursor}) { edges{cursor} pageInfo {cursor} } }"#;
        let filled =
            r#"query { repo(name: "rocket", first: C1) { edges{cursor} pageInfo {cursor} } }"#;
        let mut json = serde_json::json!({"query": query, "note": "x{cursor}"});
        fill_strings(&mut json, &vars);
        assert_eq!(json, serde_json::json!({"query": filled, "note": "xC1"}));
        let text = serde_json::json!({"query": query, "note": "x{cursor}"}).to_string();
        let expected = serde_json::json!({"query": filled, "note": "xC1"}).to_string();
        assert_eq!(fill_text(&text, &vars), expected);
        // A document that begins with a selection set, and a `query` that
        // is not GraphQL.
        let mut json = serde_json::json!({"query": "{cursor}", "q": "{cursor}"});
        fill_strings(&mut json, &vars);
        assert_eq!(json, serde_json::json!({"query": "{cursor}", "q": "C1"}));
        let mut json = serde_json::json!({"query": "select x{cursor}"});
        fill_strings(&mut json, &vars);
        assert_eq!(json, serde_json::json!({"query": "select xC1"}));
    }

    #[test]
    fn secret_parameters_are_left_out_of_the_kept_target() {
        let prepared = |url: &str, secret: &[&str]| {
            let url = Url::parse(url).expect("url");
            Prepared {
                method: Method::Get,
                job_origin: origin(&url),
                url,
                headers: Vec::new(),
                body: None,
                secret_query: secret.iter().map(|s| (*s).to_owned()).collect(),
                credential_params: Vec::new(),
                masked_body: None,
                url_values: redaction_forms(&["tok-of-a-bot".to_owned()]),
            }
        };
        let url = "https://api.example.com/v1/items?page=2&api_key=s3cr%65t&q=a%20b";
        assert_eq!(
            prepared(url, &["api_key"]).target_without_secrets(),
            "/v1/items?page=2&q=a%20b"
        );
        // A secret of the job's variables, in the path or a value.
        let bot = "https://api.example.com/bottok-of-a-bot/x?q=tok-of-a-bot";
        assert_eq!(
            prepared(bot, &[]).target_without_secrets(),
            "/bot***/x?q=***"
        );
        assert_eq!(
            prepared(bot, &[]).shown_url(),
            "https://api.example.com/bot***/x?q=***"
        );
        assert_eq!(
            prepared(url, &[]).target_without_secrets(),
            "/v1/items?page=2&api_key=s3cr%65t&q=a%20b"
        );
        assert_eq!(
            prepared("https://api.example.com/x?api_key=k", &["api_key"]).target_without_secrets(),
            "/x"
        );
    }
}
