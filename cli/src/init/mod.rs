//! `hydrant init URL`: probe an API's first page and write a job that
//! fetches every page of it.
//!
//! The guesses are plain rules over the first response: the `Link` header,
//! the members of the body (a next link, a cursor, a known style such as
//! Stripe's `has_more`), and the query of the URL (offset or page
//! numbers). Offsets or page numbers the body or a header echoes, and
//! where the first page counts more records than it holds, offsets or
//! page numbers sent blind, are tried on the second page: the guesses
//! that ask the API. Each guess is a comment in the job, so a user can
//! check it.
//! Credentials go into the job as `${VAR}` references, never in clear.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use hydrant_engine::{Job, JobFormat, NextPage, Vars};
use serde_json::Value;

use crate::commands::Usage;

mod echo;
mod graphql;
mod table;

/// The arguments of `hydrant init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The URL of the first page, with its query. A `user:password@` in
    /// it becomes basic auth, read from variables as with --basic.
    url: String,
    /// Write the job here instead of stdout; an existing file is refused.
    #[arg(long, short, value_name = "PATH")]
    out: Option<PathBuf>,
    /// A request header, `NAME: VALUE`; repeatable. The job reads its
    /// value from the variable NAME (upper case, `-` as `_`).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A bearer token; the job reads it from ${HYDRANT_TOKEN}.
    #[arg(long, value_name = "TOKEN")]
    bearer: Option<String>,
    /// HTTP Basic credentials; the job reads ${HYDRANT_USER} and
    /// ${HYDRANT_PASSWORD}.
    #[arg(long, value_name = "USER:PASS")]
    basic: Option<String>,
    /// Probe a fixture set served in-process instead of the URL's host.
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
    /// A GraphQL query, POSTed as `{"query": …}`, or `@FILE` to read it
    /// from a file: the job pages the Relay connection it answers by the
    /// variable the query passes as `after`.
    #[arg(long, value_name = "QUERY")]
    graphql: Option<String>,
    /// The GraphQL query's variables, a JSON object, sent beside it.
    #[arg(long, value_name = "JSON", requires = "graphql")]
    variables: Option<String>,
    /// A JSON object to POST, as a search API takes its query (`-d` as
    /// curl spells it): a cursor, an offset or a page number the job
    /// pages by goes back in it.
    #[arg(long, short = 'd', value_name = "JSON", conflicts_with = "graphql")]
    body: Option<String>,
}

/// The job being written: its tables as TOML lines, with comments.
#[derive(Debug, Default)]
struct Draft {
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    auth: Vec<String>,
    records: Option<String>,
    /// Why the records are at `records`, when not the longest array of
    /// objects.
    records_why: Option<String>,
    /// Whether an answer is NDJSON, a record a line.
    lines: bool,
    /// Whether the answer holds `NaN` or `Infinity`, which are not JSON,
    /// read as null (`records.non_finite`).
    non_finite: bool,
    paging: Option<Paging>,
    /// Why the job sets its `Accept` header, where init set it.
    accept_why: Option<String>,
    /// The GraphQL query the job posts.
    graphql: Option<String>,
    /// Its variables, as a TOML inline table.
    variables: Option<String>,
    /// The JSON object the job posts (`--body`).
    body: Option<serde_json::Map<String, Value>>,
}

/// A guessed pagination: the `[paginate]` keys, the stop conditions, the
/// query parameters it takes over, and why it was guessed.
#[derive(Debug, Default, PartialEq)]
struct Paging {
    why: String,
    keys: Vec<(&'static str, String)>,
    stops: Vec<Vec<(&'static str, String)>>,
    takes: Vec<String>,
}

pub async fn init(args: InitArgs) -> Result<()> {
    if let Some(out) = args.out.as_ref().filter(|out| out.exists()) {
        return Err(Usage(format!(
            "--out: `{}` exists; name a new file",
            out.display()
        ))
        .into());
    }
    let mut url = url::Url::parse(&args.url)
        .map_err(|e| Usage(format!("`{}` is not a URL: {e}", args.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Usage(format!("`{}`: only http:// and https:// URLs", args.url)).into());
    }
    let (query, flags) = split_query(url.query().unwrap_or_default());
    url.set_query((!flags.is_empty()).then_some(flags.as_str()));
    let in_url = user_info(&mut url)?;
    let (mut draft, mut vars) = credentials(&args, in_url)?;
    draft.url = url.to_string();
    draft.query = query_variables(query, &mut vars);
    draft.graphql = args.graphql.as_deref().map(graphql::query_of).transpose()?;
    draft.variables = args
        .variables
        .as_deref()
        .map(graphql::variables_of)
        .transpose()?;
    draft.body = (args.body.as_deref())
        .map(|given| json_object("--body", given))
        .transpose()?;

    let (options, _server) = crate::commands::replay_options(args.replay.as_deref()).await?;
    let names: Vec<String> = vars.iter().map(|(name, _)| name.clone()).collect();
    let vars = Vars::new(vars);
    // How probes after the first are sent (to the fixture set, with --replay).
    let again = hydrant_engine::RunOptions {
        redirect_to: options.redirect_to.clone(),
        ..hydrant_engine::RunOptions::default()
    };
    let mut probe = first_probe(&mut draft, &vars, options, &again).await?;
    if serde_json::from_slice::<Value>(&probe.body).is_err() && is_ndjson(&probe.body) {
        // Asked again as the job will ask, to read its lines as records.
        draft.lines = true;
        probe = probe_again(&draft, &vars, &again).await?;
    }
    if serde_json::from_slice::<Value>(&probe.body).is_err() {
        // Python's json.dumps writes NaN and Infinity: asked again reading
        // them as null, kept where that made the answer JSON.
        draft.non_finite = true;
        let nulled = probe_again(&draft, &vars, &again).await?;
        match serde_json::from_slice::<Value>(&nulled.body).is_ok() && nulled.body != probe.body {
            true => probe = nulled,
            false => draft.non_finite = false,
        }
    }
    let body: Value = serde_json::from_slice(&probe.body)
        .with_context(|| format!("the first page of {} is not JSON", probe.url))?;
    // Rows as arrays are the records where they are as many as the longest
    // array of objects (Datasette's `suggested_facets` beside its `rows`).
    let table = table::table(&body)
        .filter(|t| longest_objects(&body).is_none_or(|(objects, _)| t.rows.len() >= objects));
    let keyed = keyed_records(&body).filter(|_| table.is_none());
    draft.records = (table.as_ref().map(table::Table::path))
        .or_else(|| keyed.as_ref().map(|(_, keys)| each_member(keys)))
        .or_else(|| records_path(&body));
    draft.records_why = (table.as_ref().map(table::Table::why)).or_else(|| {
        let (_, keys) = keyed.as_ref()?;
        Some(format!(
            "the members of `{}`, records keyed by their ids",
            path_of(keys)
        ))
    });
    if draft.graphql.is_some() {
        graphql::refuse_errors(&body)?;
    }
    let connection =
        (draft.graphql.as_ref()).and_then(|query| Some((graphql::connection(&body)?, query)));
    draft.paging = match connection {
        Some((connection, query)) => {
            draft.records = Some(connection.records.clone());
            draft.records_why = Some(connection.why());
            graphql::paging(&connection, query)?
        }
        None => guess_paging(&draft, &vars, (&probe, &body), table.is_some(), &again).await?,
    };
    draft.hand_to_paging();

    // The columns come from the same first page: one request in all.
    let job = Job::parse(&draft.text(), JobFormat::Toml, "hydrant init", &vars)?;
    let columns = match &table {
        Some(table) => table::columns(table, &draft.url, &vars, &probe)?,
        None => hydrant_engine::schema_of(&job, &probe)?,
    };
    let mut text = format!("{}\n{columns}", draft.text());
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match &args.out {
        Some(out) => {
            crate::commands::make_folders(out, "--out")?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(out)
                .with_context(|| format!("cannot create `{}`", out.display()))?;
            std::io::Write::write_all(&mut file, text.as_bytes())?;
            eprintln!("hydrant: wrote {}", out.display());
        }
        None => print!("{text}"),
    }
    if !names.is_empty() {
        eprintln!(
            "hydrant: the job reads its credentials from: {}",
            names.join(", ")
        );
        eprintln!("hydrant: set them (or pass --var NAME=VALUE) before `hydrant run`");
    }
    Ok(())
}

/// The pagination of the first response, by the first of init's rules
/// that holds (the reference lists them): those read from the response
/// first, then those that ask the API for a second page. `table` says
/// whether the records are rows of arrays.
async fn guess_paging(
    draft: &Draft,
    vars: &Vars,
    (probe, body): (&hydrant_engine::Probe, &Value),
    table: bool,
    again: &hydrant_engine::RunOptions,
) -> Result<Option<Paging>> {
    // The next page as a run of this job without [paginate] reads it.
    let unpaged = Job::parse(&draft.text(), JobFormat::Toml, "hydrant init", vars)?;
    let named = probe.next_page(&unpaged);
    let read = paging(
        &probe.headers,
        body,
        (&draft.parameters(), draft.sent_in()),
        (draft.records.as_deref(), named.as_ref()),
    );
    if read.is_some() {
        return Ok(read);
    }
    if let Some(paging) = echo::echoed_offsets(draft, vars, body, again).await? {
        return Ok(Some(paging));
    }
    let echoed = (body, echo::Echo::Body);
    if let Some(paging) = echo::echoed_pages(draft, vars, echoed, again).await? {
        return Ok(Some(paging));
    }
    if let Some(header) = echo::header_object(&probe.headers) {
        let echoed = (&header, echo::Echo::Header);
        if let Some(paging) = echo::echoed_pages(draft, vars, echoed, again).await? {
            return Ok(Some(paging));
        }
    }
    if let Some(paging) = bare_cursor(named.as_ref()) {
        return Ok(Some(paging));
    }
    let records = match body.is_array() {
        true => Some(Vec::new()),
        false => longest_objects(body).map(|(_, keys)| keys),
    };
    if let Some(records) = records.as_deref().filter(|_| !table && !draft.lines) {
        let named = (body, records, named.as_ref());
        if let Some(paging) = echo::probed_cursor(draft, vars, named, again).await? {
            return Ok(Some(paging));
        }
    }
    let counted = probe.count(&unpaged).map(echo::More::Counted);
    let more = counted.or_else(|| probe.full_page(&unpaged).map(|_| echo::More::Full));
    let Some(more) = more.filter(|_| !table && !draft.lines) else {
        return Ok(None);
    };
    let keys = match body.is_array() {
        true => Some(Vec::new()),
        false => longest_objects(body).map(|(_, keys)| keys),
    };
    match keys {
        Some(keys) => echo::counted_pages(draft, vars, (body, &keys), more, again).await,
        None => Ok(None),
    }
}

/// The first page of `draft`'s job, sent as `options` say. An API that
/// serves a type of its own (JSON:API's `application/vnd.api+json`)
/// answers 406 to the `Accept: application/json` a run sends: init asks
/// again accepting any type (sent as `again` says), and the job asks for
/// the type the API served.
async fn first_probe(
    draft: &mut Draft,
    vars: &Vars,
    options: hydrant_engine::RunOptions,
    again: &hydrant_engine::RunOptions,
) -> Result<hydrant_engine::Probe> {
    let job = Job::parse(&draft.text(), JobFormat::Toml, "hydrant init", vars)?;
    let refused = match hydrant_engine::probe(&job, options).await {
        Err(e) if e.status() == Some(406) => e,
        Err(e) if e.status() == Some(405) && draft.body.is_none() && draft.graphql.is_none() => {
            return Err(anyhow::anyhow!(
                "{e}\nhint: an API that takes its query as a POSTed JSON body: give it with --body"
            ));
        }
        probed => return Ok(probed?),
    };
    if draft
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("accept"))
    {
        return Err(refused.into());
    }
    draft.headers.push(("Accept".to_owned(), "*/*".to_owned()));
    let probe = probe_again(draft, vars, again).await?;
    let served = (probe.headers.iter())
        .find(|(name, _)| name == "content-type")
        .and_then(|(_, value)| value.split(';').next())
        .map(str::trim)
        .filter(|served| !served.is_empty() && *served != "*/*");
    if let Some(served) = served {
        draft.headers.retain(|(name, _)| name != "Accept");
        draft.headers.push(("Accept".to_owned(), served.to_owned()));
        draft.accept_why = Some(format!(
            "the API refused `Accept: application/json` (406) and serves {served}"
        ));
    }
    Ok(probe)
}

/// The first page of `draft`'s job, asked for again, sent as `again`
/// says.
async fn probe_again(
    draft: &Draft,
    vars: &Vars,
    again: &hydrant_engine::RunOptions,
) -> Result<hydrant_engine::Probe> {
    let job = Job::parse(&draft.text(), JobFormat::Toml, "hydrant init", vars)?;
    let options = hydrant_engine::RunOptions {
        redirect_to: again.redirect_to.clone(),
        ..hydrant_engine::RunOptions::default()
    };
    Ok(hydrant_engine::probe(&job, options).await?)
}

/// Whether a body is NDJSON: its first two lines each a JSON value.
fn is_ndjson(body: &[u8]) -> bool {
    let mut lines = (body.split(|&b| b == b'\n'))
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty())
        .take(2);
    let json =
        |line: Option<&[u8]>| line.is_some_and(|l| serde_json::from_slice::<Value>(l).is_ok());
    json(lines.next()) && json(lines.next())
}

/// Takes `user:password@` out of the URL, decoded: the engine sends no
/// credentials from a URL, and init writes them as basic auth instead.
/// The error names neither.
fn user_info(url: &mut url::Url) -> Result<Option<(String, String)>> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(None);
    }
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user = decode(url.username());
    let password = decode(url.password().unwrap_or_default());
    // Neither can fail on an http(s) URL, which has a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(Some((user, password)))
}

/// The auth and headers of the job, as `${VAR}` references, and the
/// variables' values for the probe. `in_url` is the URL's own
/// `user:password@`, which is basic auth too.
fn credentials(
    args: &InitArgs,
    in_url: Option<(String, String)>,
) -> Result<(Draft, Vec<(String, String)>)> {
    let mut draft = Draft::default();
    let mut vars = Vec::new();
    if args.bearer.is_some() && args.basic.is_some() {
        return Err(Usage("--bearer and --basic: give one".to_owned()).into());
    }
    if in_url.is_some() && (args.bearer.is_some() || args.basic.is_some()) {
        let given = if args.bearer.is_some() {
            "--bearer"
        } else {
            "--basic"
        };
        return Err(Usage(format!("{given} and a user name in the URL: give one")).into());
    }
    let basic = args.basic.as_deref().map(|basic| {
        basic
            .split_once(':')
            .map(|(user, password)| (user.to_owned(), password.to_owned()))
            .ok_or_else(|| Usage("--basic: expected USER:PASS".to_owned()))
    });
    let basic = basic.transpose()?.or(in_url);
    if let Some(token) = &args.bearer {
        draft.auth = vec![
            "type = \"bearer\"".into(),
            "token = \"${HYDRANT_TOKEN}\"".into(),
        ];
        vars.push(("HYDRANT_TOKEN".to_owned(), token.clone()));
    }
    if let Some((user, password)) = basic {
        draft.auth = vec![
            "type = \"basic\"".into(),
            "username = \"${HYDRANT_USER}\"".into(),
            "password = \"${HYDRANT_PASSWORD}\"".into(),
        ];
        vars.push(("HYDRANT_USER".to_owned(), user));
        vars.push(("HYDRANT_PASSWORD".to_owned(), password));
    }
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!(Usage(format!(
                "--header `{header}`: expected `NAME: VALUE`"
            )));
        };
        let (name, value) = (name.trim(), value.trim());
        if says_how_to_ask(name, value) {
            draft.headers.push((name.to_owned(), value.to_owned()));
            continue;
        }
        let var = header_variable(name);
        draft.headers.push((name.to_owned(), format!("${{{var}}}")));
        vars.push((var, value.to_owned()));
    }
    Ok((draft, vars))
}

/// Whether a `-H` header says how to ask rather than who asks, so that
/// the job keeps its value as given: the types asked for and sent, the
/// client's name, an API's version or operation (`Notion-Version`,
/// DynamoDB's `X-Amz-Target`). Any other value may be a key, and goes
/// to a variable; so does one a job would read as a `${VAR}` or a
/// `{placeholder}`.
fn says_how_to_ask(name: &str, value: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let plain = matches!(
        name.as_str(),
        "accept"
            | "accept-language"
            | "content-type"
            | "user-agent"
            | "prefer"
            | "cache-control"
            | "x-requested-with"
            | "x-amz-target"
    ) || name.ends_with("-version");
    plain && !hydrant_engine::is_credential_name(&name) && !value.contains(['$', '{', '}'])
}

/// The URL's query, each parameter named as a credential (`api_key`,
/// `access_token`, `signature`…) turned into a `${VAR}` reference: a job file
/// is shared and committed, and its secrets belong in the environment.
/// A URL's query as the job's `query` and the members without a value
/// (`?all`), as the URL spells them. A job's `query` would send `all=`,
/// which an API may read as another value, so they stay in the job's URL.
fn split_query(query: &str) -> (Vec<(String, String)>, String) {
    let (pairs, flags): (Vec<&str>, Vec<&str>) = query
        .split('&')
        .filter(|part| !part.is_empty())
        .partition(|part| part.contains('='));
    let pairs = pairs
        .iter()
        .flat_map(|pair| url::form_urlencoded::parse(pair.as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (pairs, flags.join("&"))
}

fn query_variables(
    query: Vec<(String, String)>,
    vars: &mut Vec<(String, String)>,
) -> Vec<(String, String)> {
    query
        .into_iter()
        .map(|(name, value)| {
            if !hydrant_engine::is_credential_name(&name) {
                return (name, value);
            }
            let mut var = header_variable(&name);
            while vars.iter().any(|(taken, _)| *taken == var) {
                var.push_str("_QUERY");
            }
            vars.push((var.clone(), value));
            (name, format!("${{{var}}}"))
        })
        .collect()
}

/// `X-Api-Key` → `X_API_KEY`.
fn header_variable(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl Draft {
    fn text(&self) -> String {
        let mut out = String::from(
            "# Written by `hydrant init`. Check each guess, then: hydrant run THIS_FILE\n\n[request]\n",
        );
        out.push_str(&format!("url = {}\n", toml_string(&self.url)));
        if !self.query.is_empty() {
            out.push_str(&format!("query = {}\n", inline(&self.query)));
        }
        if let Some(body) = &self.body {
            out.push_str("method = \"POST\"\n");
            let table = toml::Value::try_from(Value::Object(body.clone()))
                .expect("a body without nulls is a TOML table");
            out.push_str(&format!("body = {table}\n"));
        }
        if let Some(query) = &self.graphql {
            out.push_str("method = \"POST\"\n");
            let variables = (self.variables.as_deref())
                .map(|v| format!(", variables = {v}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "body = {{ query = {}{variables} }}\n",
                graphql::toml_query(query)
            ));
        }
        if let Some(why) = &self.accept_why {
            out.push_str(&format!("# {why}\n"));
        }
        if !self.headers.is_empty() {
            out.push_str(&format!("headers = {}\n", inline(&self.headers)));
        }
        if !self.auth.is_empty() {
            out.push_str("\n[auth]\n");
            for line in &self.auth {
                out.push_str(line);
                out.push('\n');
            }
        }
        match &self.records {
            _ if self.lines => {
                out.push_str(
                    "\n[records]\n# a JSON value a line, each a record\nformat = \"ndjson\"\n",
                );
            }
            Some(path) => out.push_str(&format!(
                "\n[records]\n# {}\npath = {}\n",
                self.records_why
                    .as_deref()
                    .unwrap_or("the longest array of objects in the first page"),
                toml_string(path)
            )),
            None if self.non_finite => {
                out.push_str("\n# the records are the body itself (no [records] path)\n[records]\n")
            }
            None => out.push_str("\n# the records are the body itself (no [records] path)\n"),
        }
        if self.non_finite {
            out.push_str(
                "# the API sends NaN or Infinity, which are not JSON (Python's json.dumps \
                 writes them): read as null\nnon_finite = \"null\"\n",
            );
        }
        match &self.paging {
            Some(paging) => {
                out.push_str(&format!("\n[paginate]\n# {}\n", paging.why));
                for (key, value) in &paging.keys {
                    out.push_str(&format!("{key} = {value}\n"));
                }
                for stop in &paging.stops {
                    out.push_str("\n[[paginate.stop]]\n");
                    for (key, value) in stop {
                        out.push_str(&format!("{key} = {value}\n"));
                    }
                }
            }
            None => out.push_str(
                "\n# no pagination found in the first page: one request\n# (see docs/guide/pagination.md)\n",
            ),
        }
        out
    }
}

impl Draft {
    /// Takes the parameters the paging sets out of the query or the
    /// body. Where the query had none of them and the job posts a body,
    /// the paging sets them in the body.
    fn hand_to_paging(&mut self) {
        let Some(paging) = &mut self.paging else {
            return;
        };
        let in_query = |name: &String| self.query.iter().any(|(n, _)| n == name);
        // What the paging sets: the parameters it takes over, and the one
        // it sends back (a next page's number stays in the query).
        let param = (paging.keys.iter()).find(|(key, _)| *key == "param");
        let from_query = paging.takes.iter().any(in_query)
            || param.is_some_and(|(_, p)| self.query.iter().any(|(n, _)| quoted(n) == *p));
        self.query.retain(|(name, _)| !paging.takes.contains(name));
        if let Some(body) = &mut self.body {
            body.retain(|name, _| !paging.takes.contains(name));
            if !from_query {
                paging.in_body();
            }
        }
    }

    /// Where the rules' parameters are sent, as their reasons say it.
    fn sent_in(&self) -> &'static str {
        match self.body {
            Some(_) => "the request",
            None => "the URL",
        }
    }

    /// What the rules read as the request's parameters: the query's, and
    /// a body's members of one value, as text.
    fn parameters(&self) -> Vec<(String, String)> {
        let mut all = self.query.clone();
        for (name, value) in self.body.iter().flatten() {
            match value {
                Value::String(text) => all.push((name.clone(), text.clone())),
                Value::Number(number) => all.push((name.clone(), number.to_string())),
                _ => {}
            }
        }
        all
    }
}

impl Paging {
    /// Sends what the paging sets in the body, for a job that posts one:
    /// a cursor, an offset, a page number, and their sizes.
    fn in_body(&mut self) {
        let sets = self.keys.iter().any(|(key, _)| *key == "param");
        if sets && self.keys.iter().all(|(key, _)| *key != "in") {
            self.keys.push(("in", quoted("body")));
        }
    }
}

/// The JSON object an option (`--variables`, `--body`) gives, without
/// nulls, which a job file cannot hold: a null is refused, naming it.
fn json_object(option: &str, given: &str) -> Result<serde_json::Map<String, Value>> {
    let value: Value =
        serde_json::from_str(given).map_err(|e| Usage(format!("{option}: not JSON ({e})")))?;
    let Value::Object(map) = value else {
        return Err(Usage(format!("{option}: expected a JSON object")).into());
    };
    if let Some((name, _)) = map.iter().find(|(_, v)| holds_null(v)) {
        return Err(Usage(format!(
            "{option}: `{name}` holds a null, which a job file cannot: leave it out"
        ))
        .into());
    }
    Ok(map)
}

fn holds_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(holds_null),
        Value::Object(map) => map.values().any(holds_null),
        _ => false,
    }
}

fn inline(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{} = {}", toml_key(k), toml_string(v)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// A path to a member, dotted where every key allows it, else JSONPath:
/// the engine's text for inferred columns, which reads back as its keys.
fn path_of(keys: &[&str]) -> String {
    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    hydrant_engine::JsonPath::of_keys(&keys).as_str().to_owned()
}

/// Every member of the body's objects with its keys from the body down,
/// objects entered down to `depth` keys, in the order a walk meets them:
/// what the guesses below look for.
fn members(body: &Value, depth: usize) -> Vec<(Vec<&str>, &Value)> {
    let mut found = Vec::new();
    let mut stack: Vec<(&Value, Vec<&str>)> = vec![(body, Vec::new())];
    while let Some((value, keys)) = stack.pop() {
        let Value::Object(map) = value else { continue };
        for (key, child) in map {
            let mut path = keys.clone();
            path.push(key.as_str());
            if child.is_object() && path.len() < depth {
                stack.push((child, path.clone()));
            }
            found.push((path, child));
        }
    }
    found
}

/// The longest array of objects in the body, outside other arrays
/// (ties: the shallowest); `None` when the body is itself an array, or
/// holds none.
fn records_path(body: &Value) -> Option<String> {
    longest_objects(body).map(|(_, path)| path_of(&path))
}

/// An object whose members are records keyed by their ids, its count and
/// keys, where no longer array of objects lies outside it: MediaWiki's
/// `query.pages` (`{"2": {"pageid": 2, …}}`). Each member is an object
/// that holds its key as a value, or every key is a number. Its records
/// are its members, whose keys change from page to page: a column of
/// `query.pages.2.title` would be null on every page after the first.
fn keyed_records(body: &Value) -> Option<(usize, Vec<&str>)> {
    let keyed = |object: &serde_json::Map<String, Value>| {
        let own_id = |(key, value): (&String, &Value)| {
            let Value::Object(record) = value else {
                return false;
            };
            (record.values()).any(|v| match v {
                Value::String(text) => text == key,
                Value::Number(n) => n.as_u64().is_some_and(|n| key.parse() == Ok(n)),
                _ => false,
            })
        };
        let numbers = object.len() >= 2
            && (object.keys()).all(|k| {
                (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit())) || generated_id(k)
            })
            && object.values().all(Value::is_object);
        !object.is_empty() && (numbers || object.iter().all(own_id))
    };
    // The body itself too: netdata's `allmetrics` keys each chart by its
    // name at the top.
    let found: Vec<(usize, Vec<&str>)> = std::iter::once((Vec::new(), body))
        .chain(members(body, 4))
        .filter_map(|(keys, value)| Some((value.as_object().filter(|o| keyed(o))?.len(), keys)))
        .collect();
    // One inside the records of another is a record's own (a chart's
    // dimensions, keyed by their names too).
    let outer = |keys: &Vec<&str>| {
        !(found.iter()).any(|(_, other)| other.len() < keys.len() && keys.starts_with(other))
    };
    let (count, keys) = (found.iter())
        .filter(|(_, keys)| outer(keys))
        .max_by_key(|(count, keys)| (*count, std::cmp::Reverse(keys.len())))
        .cloned()?;
    // A longer array of objects elsewhere holds the records; one inside
    // these records is a record's own.
    let longer =
        longest_objects(body).is_some_and(|(len, array)| len > count && !array.starts_with(&keys));
    (!longer).then_some((count, keys))
}

/// Whether a key is an id a store made, which no record needs to hold:
/// Firebase's push ids (`-NxAbCdEfGhIjKlMnOpQ`, the Realtime Database's
/// lists), UUIDs and MongoDB's ObjectIds.
fn generated_id(key: &str) -> bool {
    let hex = |part: &str| part.bytes().all(|b| b.is_ascii_hexdigit());
    let push = key.len() == 20
        && key.starts_with('-')
        && (key.bytes()).all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let uuid = key.len() == 36
        && (key.split('-').map(str::len)).eq([8, 4, 4, 4, 12])
        && key.split('-').all(hex);
    push || uuid || (key.len() == 24 && hex(key))
}

/// The path of each member of the object at `keys`: `$.query.pages.*`.
fn each_member(keys: &[&str]) -> String {
    let path = path_of(keys);
    match path.starts_with('$') {
        true => format!("{path}.*"),
        false => format!("$.{path}.*"),
    }
}

/// The length and keys of [`records_path`]'s array.
fn longest_objects(body: &Value) -> Option<(usize, Vec<&str>)> {
    let mut best: Option<(usize, Vec<&str>)> = None;
    for (path, child) in members(body, 4) {
        let Value::Array(items) = child else { continue };
        if !items.first().is_none_or(Value::is_object) {
            continue;
        }
        let better = match &best {
            None => true,
            Some((len, keys)) => {
                items.len() > *len || (items.len() == *len && path.len() < keys.len())
            }
        };
        if better && !(items.is_empty() && best.is_some()) {
            best = Some((items.len(), path));
        }
    }
    best
}

/// A value of the body at a path of keys.
fn at<'v>(body: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter().try_fold(body, |value, key| value.get(key))
}

/// The value at `path`, a path as the engine spells what a page names
/// (`meta.next_token`, `$['meta']['next.token']`), and the path's last
/// key.
fn named_at<'v>(body: &'v Value, path: &str) -> Option<(&'v Value, String)> {
    let path = hydrant_engine::JsonPath::parse(path).ok()?;
    let Some(hydrant_engine::Segment::Key(name)) = path.segments()?.last() else {
        return None;
    };
    Some((path.query(body).into_iter().next()?, name.clone()))
}

fn quoted(text: &str) -> String {
    toml_string(text)
}

/// The pagination of the first response, by the first rule that holds.
/// `named` is what the page names of the next one, as the engine reads it.
fn paging(
    headers: &[(String, String)],
    body: &Value,
    (query, sent_in): (&[(String, String)], &str),
    (records, named): (Option<&str>, Option<&NextPage>),
) -> Option<Paging> {
    link_header(headers)
        .or_else(|| known_cursor(body, records))
        .or_else(|| parameters(named, body))
        .or_else(|| next_link(named))
        .or_else(|| header_cursor(named))
        .or_else(|| numbered_next(query, body))
        .or_else(|| counted(query, body, sent_in))
}

/// A bare `cursor` (Algolia's browse, the AT Protocol's lists), or an
/// `offset` that is not a number (Airtable's `itr…/rec…`), each sent
/// back under its own name. Such names also echo the page asked for, so
/// every other rule comes first, the probes of the second page too.
fn bare_cursor(named: Option<&NextPage>) -> Option<Paging> {
    let Some(NextPage::Cursor(name)) = named else {
        return None;
    };
    let name = ["cursor", "offset"].into_iter().find(|bare| name == bare)?;
    Some(cursor(
        &format!("`{name}` holds the cursor of the next page"),
        name,
        name,
    ))
}

/// A cursor read at `from` and sent back as `param`, guessed for `why`.
fn cursor(why: &str, from: &str, param: &str) -> Paging {
    Paging {
        why: why.to_owned(),
        keys: vec![
            ("type", quoted("cursor")),
            ("from", quoted(from)),
            ("param", quoted(param)),
        ],
        takes: vec![param.to_owned()],
        ..Paging::default()
    }
}

/// A `Link` header's next page, as a run reads it: not one that says it
/// holds no results (Sentry's last page).
fn link_header(headers: &[(String, String)]) -> Option<Paging> {
    let links = (headers.iter())
        .filter(|(name, _)| name == "link")
        .map(|(_, value)| value.as_str());
    hydrant_paginate::find_rel(links, "next").map(|_| Paging {
        why: "the response's Link header has rel=\"next\"".to_owned(),
        keys: vec![("type", quoted("link_header"))],
        ..Paging::default()
    })
}

/// Cursors of well-known shapes: Stripe's `has_more`, HubSpot's
/// `paging.next.after`, Slack's `response_metadata.next_cursor`,
/// Notion's `next_cursor`, fastapi-pagination's
/// `next_page`, Solr's `nextCursorMark`, CouchDB's `last_seq`.
fn known_cursor(body: &Value, records: Option<&str>) -> Option<Paging> {
    if body.get("has_more").is_some_and(Value::is_boolean)
        && records == Some("data")
        && at(body, &["data"])?
            .get(0)
            .is_none_or(|r| r.get("id").is_some())
        && body.get("next_cursor").is_none()
    {
        let mut paging = cursor(
            "`has_more` and `data` (Stripe style): the next page starts after the last id",
            "$.data[-1].id",
            "starting_after",
        );
        paging.stops = vec![vec![
            ("path", quoted("has_more")),
            ("equals", "false".to_owned()),
        ]];
        return Some(paging);
    }
    // fastapi-pagination's cursor pages: `next_page` a token beside
    // `previous_page`, read back as `cursor`. Zendesk's `next_page` is a
    // link, which `next_link` takes.
    if body
        .get("next_page")
        .and_then(Value::as_str)
        .is_some_and(|text| !text.contains('/'))
        && body.get("previous_page").is_some()
    {
        return Some(cursor(
            "`next_page` holds the cursor of the next page, beside `previous_page`",
            "next_page",
            "cursor",
        ));
    }
    // Solr's deep paging: `cursorMark=*` first, then each page's
    // `nextCursorMark`. The last page, empty, names the one it was asked
    // with, which a run takes for the end.
    if at(body, &["nextCursorMark"]).is_some_and(Value::is_string) {
        let mut paging = cursor(
            "`nextCursorMark` holds the cursor of the next page (Solr)",
            "nextCursorMark",
            "cursorMark",
        );
        paging.keys.push(("initial", quoted("*")));
        return Some(paging);
    }
    // CouchDB's `_changes`: the `last_seq` to ask for the changes
    // `since`. The last page, empty, names the one it was asked with.
    if records == Some("results")
        && (body.get("last_seq")).is_some_and(|seq| seq.is_string() || seq.is_number())
    {
        return Some(cursor(
            "`last_seq` holds the sequence the next changes follow (CouchDB's `_changes`)",
            "last_seq",
            "since",
        ));
    }
    let styles: [(&[&str], &str, &str); 3] = [
        (&["paging", "next", "after"], "paging.next.after", "after"),
        (
            &["response_metadata", "next_cursor"],
            "response_metadata.next_cursor",
            "cursor",
        ),
        (&["next_cursor"], "next_cursor", "cursor"),
    ];
    for (keys, from, param) in styles {
        if at(body, keys).is_some_and(|v| v.is_string() || v.is_number()) {
            // Notion's list endpoints take it back as `start_cursor`.
            let param = if from == "next_cursor" && body.get("has_more").is_some() {
                "start_cursor"
            } else {
                param
            };
            return Some(cursor(
                &format!("`{from}` holds the cursor of the next page"),
                from,
                param,
            ));
        }
    }
    None
}

/// An object of the next request's parameters the page names, as a run
/// reads it (MediaWiki's `continue`: `apcontinue`, and `continue`
/// itself), each sent back: a cursor job without `param`.
fn parameters(named: Option<&NextPage>, body: &Value) -> Option<Paging> {
    let Some(NextPage::Parameters(from)) = named else {
        return None;
    };
    let members = named_at(body, from)?.0.as_object()?;
    Some(Paging {
        why: format!("`{from}` holds the parameters of the next request"),
        keys: vec![("type", quoted("cursor")), ("from", quoted(from))],
        takes: members.keys().cloned().collect(),
        ..Paging::default()
    })
}

/// The next page's link the page names (see
/// [`hydrant_engine::Probe::next_page`]): a member named like `next`
/// holding a URL or a path, an `href`, `uri`, `url` or `link` under one
/// (HAL's `_links.next.href`, Asana's `next_page.uri`), or the `href`
/// beside `rel: "next"` in an array of links (PayPal's `links`).
/// Or a header that holds it (Kinto's `Next-Page`).
fn next_link(named: Option<&NextPage>) -> Option<Paging> {
    let (why, key) = match named? {
        NextPage::Link(from) => (
            format!("`{from}` holds the next page's URL"),
            ("from", from),
        ),
        NextPage::HeaderLink(name) => (
            format!("the response's {name} header holds the next page's URL"),
            ("header", name),
        ),
        _ => return None,
    };
    Some(Paging {
        why,
        keys: vec![("type", quoted("next_link")), (key.0, quoted(key.1))],
        ..Paging::default()
    })
}

/// A token in a header that Azure's APIs take back: Azure DevOps's as
/// the `continuationToken` parameter, Cosmos DB's in the same header.
fn header_cursor(named: Option<&NextPage>) -> Option<Paging> {
    let Some(NextPage::HeaderCursor(name)) = named else {
        return None;
    };
    let (param, place) = match name.as_str() {
        "x-ms-continuationtoken" => ("continuationToken", "query"),
        "x-ms-continuation" => ("x-ms-continuation", "header"),
        _ => return None,
    };
    Some(Paging {
        why: format!("the response's {name} header holds the next page's token"),
        keys: vec![
            ("type", quoted("cursor")),
            ("header", quoted(name)),
            ("param", quoted(param)),
            ("in", quoted(place)),
        ],
        takes: (place == "query")
            .then(|| param.to_owned())
            .into_iter()
            .collect(),
        ..Paging::default()
    })
}

/// A member named like the next page (`next`, `next_page`, `nextPage`)
/// that holds one past a number of the URL's query (json-server 1.0's
/// `"next": 2` for `_page=1`): a cursor of page numbers, sent back as that
/// parameter. The last page names none, which ends the run, where a page
/// past it may be answered as the last again. The parameter stays in the
/// query, for the first page.
fn numbered_next(query: &[(String, String)], body: &Value) -> Option<Paging> {
    let (path, after) = members(body, 3).into_iter().find_map(|(path, child)| {
        let key = path.last()?.to_ascii_lowercase().replace(['_', '-'], "");
        let next = child.as_u64()?;
        matches!(key.as_str(), "next" | "nextpage" | "nextpagenumber").then_some((path, next))
    })?;
    // A page's parameter before another of the same number (a size of 1).
    let before = |(_, value): &&(String, String)| value.parse::<u64>().ok() == after.checked_sub(1);
    let paged = |(name, _): &&(String, String)| {
        let name = name.trim_start_matches('_').to_ascii_lowercase();
        name.contains("page") && !name.contains("size") && !name.contains("per")
    };
    let (param, _) =
        (query.iter().filter(before).find(paged)).or_else(|| query.iter().find(before))?;
    let from = path_of(&path);
    Some(Paging {
        why: format!("`{from}` holds the next page's number, sent as `{param}`"),
        keys: vec![
            ("type", quoted("cursor")),
            ("from", quoted(&from)),
            ("param", quoted(param)),
        ],
        ..Paging::default()
    })
}

const OFFSETS: [&str; 7] = [
    "offset",
    "skip",
    "$skip",
    "start",
    "startAt",
    "sysparm_offset",
    "from",
];
const PAGES: [&str; 4] = ["page", "pageNumber", "page_number", "pageNo"];
const SIZES: [&str; 11] = [
    "limit",
    "$top",
    "top",
    "maxResults",
    "max_results",
    "per_page",
    "page_size",
    "pageSize",
    "size",
    "sysparm_limit",
    "count",
];

/// A query parameter's name as the lists of offsets, pages and sizes
/// spell it: a leading `_` or `$` set aside (json-server's `_start`,
/// `_page` and `_limit`, Feathers' `$skip` and `$limit`, OData's `$top`),
/// and of a name in brackets the part inside (Strapi's `pagination[page]`
/// and `pagination[pageSize]`, JSON:API's `page[offset]`, `page[limit]`
/// and `page[size]`), but the part before for `page[number]`.
fn bare_name(name: &str) -> &str {
    if let Some((before, inside)) = name.strip_suffix(']').and_then(|n| n.rsplit_once('[')) {
        return if inside.eq_ignore_ascii_case("number") {
            before
        } else {
            inside
        };
    }
    name.strip_prefix(['_', '$']).unwrap_or(name)
}

/// Offsets or page numbers in the URL's query (or, for offsets, echoed
/// in the body as Jira does), their names as [`bare_name`] reads them.
fn counted(query: &[(String, String)], body: &Value, sent_in: &str) -> Option<Paging> {
    let find = |names: &[&str]| {
        let named = |name: &str| {
            let bare = bare_name(name);
            names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(bare) || n.eq_ignore_ascii_case(name))
        };
        query.iter().find(|(name, _)| named(name)).cloned()
    };
    let size = find(&SIZES);
    let number = |text: &str| text.parse::<i64>().ok();
    if let Some((param, start)) = find(&OFFSETS) {
        let (limit_param, limit) = size.clone()?;
        let mut paging = Paging {
            why: format!("`{param}` and `{limit_param}` in {sent_in}: offsets"),
            keys: vec![
                ("type", quoted("offset")),
                ("param", quoted(&param)),
                ("limit_param", quoted(&limit_param)),
                ("limit", number(&limit)?.to_string()),
            ],
            takes: vec![param.clone(), limit_param],
            ..Paging::default()
        };
        if number(&start)? != 0 {
            paging.keys.push(("start", start));
        }
        return Some(paging);
    }
    if let Some((param, start)) = find(&PAGES) {
        let mut paging = Paging {
            why: format!("`{param}` in {sent_in}: page numbers"),
            keys: vec![("type", quoted("page")), ("param", quoted(&param))],
            takes: vec![param.clone()],
            ..Paging::default()
        };
        if number(&start)? != 1 {
            paging.keys.push(("start", start));
        }
        if let Some((size_param, size)) = size {
            paging.keys.push(("size_param", quoted(&size_param)));
            paging.keys.push(("size", number(&size)?.to_string()));
            paging.takes.push(size_param);
        }
        return Some(paging);
    }
    // Jira echoes its offset in the body.
    let (Some(_), Some(limit)) = (
        body.get("startAt"),
        body.get("maxResults").and_then(Value::as_u64),
    ) else {
        return None;
    };
    Some(Paging {
        why: "`startAt` and `maxResults` in the body: offsets".to_owned(),
        keys: vec![
            ("type", quoted("offset")),
            ("param", quoted("startAt")),
            ("limit_param", quoted("maxResults")),
            ("limit", limit.to_string()),
        ],
        takes: vec!["startAt".to_owned(), "maxResults".to_owned()],
        ..Paging::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_a_store_makes_are_told_from_names() {
        for id in [
            "-NxAbCdEfGhIjKlMnOpQ",
            "123e4567-e89b-12d3-a456-426614174000",
            "507f1f77bcf86cd799439011",
        ] {
            assert!(generated_id(id), "{id}");
        }
        for name in [
            "billing",
            "-NxAbCdEfGhIjKlMnOp",
            "123e4567e89b12d3a456426614174000",
            "507f1f77bcf86cd79943901g",
            "-NxAbCdEfGhIjKlM.OpQ",
        ] {
            assert!(!generated_id(name), "{name}");
        }
    }
    use serde_json::json;

    #[test]
    fn a_query_name_is_read_without_its_prefix_or_brackets() {
        for (name, bare) in [
            ("_page", "page"),
            ("$skip", "skip"),
            ("pagination[page]", "page"),
            ("pagination[pageSize]", "pageSize"),
            ("page[number]", "page"),
            ("page[size]", "size"),
            ("page[offset]", "offset"),
            ("page", "page"),
            ("filter[x", "filter[x"),
        ] {
            assert_eq!(bare_name(name), bare, "{name}");
        }
    }

    #[test]
    fn the_records_are_the_longest_array_of_objects() {
        assert_eq!(records_path(&json!([{"id": 1}])), None);
        assert_eq!(
            records_path(&json!({"meta": {"tags": [{"a": 1}]}, "data": [{"id": 1}, {"id": 2}]})),
            Some("data".to_owned())
        );
        assert_eq!(
            records_path(&json!({"response": {"items": [{"id": 1}]}, "ids": [1, 2, 3]})),
            Some("response.items".to_owned())
        );
        assert_eq!(
            records_path(&json!({"@odata.context": "x", "value": [{"id": 1}]})),
            Some("value".to_owned())
        );
        assert_eq!(path_of(&["@odata.nextLink"]), "$['@odata.nextLink']");
    }

    #[test]
    fn a_query_credential_gets_a_variable_of_its_own() {
        let mut vars = vec![("X_API_KEY".to_owned(), "from-header".to_owned())];
        let query = vec![
            ("limit".to_owned(), "10".to_owned()),
            ("x_api_key".to_owned(), "q1".to_owned()),
            ("access_token".to_owned(), "q2".to_owned()),
        ];
        let query = query_variables(query, &mut vars);
        let shown: Vec<(&str, &str)> = query
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("limit", "10"),
                ("x_api_key", "${X_API_KEY_QUERY}"),
                ("access_token", "${ACCESS_TOKEN}")
            ]
        );
        assert_eq!(vars[1], ("X_API_KEY_QUERY".to_owned(), "q1".to_owned()));
        assert_eq!(vars[2], ("ACCESS_TOKEN".to_owned(), "q2".to_owned()));
    }

    #[test]
    fn credentials_become_variables_never_clear_text() {
        let args = InitArgs {
            url: "https://a.example/x".into(),
            out: None,
            headers: vec![
                "X-Api-Key: k3y".into(),
                "Authorization: Token abc".into(),
                "X-Amz-Target: DynamoDB_20120810.Scan".into(),
                "Notion-Version: 2022-06-28".into(),
                "X-Key-Version: v3rsioned-k3y".into(),
                "Accept: ${ACCEPT}".into(),
            ],
            bearer: None,
            basic: Some("ada:s3cret".into()),
            replay: None,
            graphql: None,
            variables: None,
            body: None,
        };
        let (draft, vars) = credentials(&args, None).unwrap();
        let text = draft.text();
        for secret in ["k3y", "abc", "ada", "s3cret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // What says how to ask stays as given.
        let kept = r#"X-Amz-Target = "DynamoDB_20120810.Scan", Notion-Version = "2022-06-28""#;
        assert!(text.contains(kept), "{text}");
        assert!(
            text.contains(r#"X-Key-Version = "${X_KEY_VERSION}", Accept = "${ACCEPT}""#),
            "{text}"
        );
        assert!(text.contains("X-Api-Key = \"${X_API_KEY}\""), "{text}");
        assert!(
            text.contains("Authorization = \"${AUTHORIZATION}\""),
            "{text}"
        );
        assert!(
            text.contains("password = \"${HYDRANT_PASSWORD}\""),
            "{text}"
        );
        assert_eq!(vars[0], ("HYDRANT_USER".to_owned(), "ada".to_owned()));
        let names: Vec<&str> = vars.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "HYDRANT_USER",
                "HYDRANT_PASSWORD",
                "X_API_KEY",
                "AUTHORIZATION",
                "X_KEY_VERSION",
                "ACCEPT"
            ]
        );
    }
}
