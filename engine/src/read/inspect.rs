//! The commands built on a job's first request: `explain` (no network),
//! `check` and `schema` (its first page), and `query` (a path on a
//! document).

use hydrant_paginate::{Follows, NUMBER_TEXT, Paginator, Step, Stop};
use serde::Serialize;
use simd_json::BorrowedValue;

use crate::error::{Error, Result};
use crate::extract::{
    Batch, ColumnSpec, Extractor, Placeholders, column_absent, infer_columns, other_records,
    records_missing, records_path_missing,
};
use crate::job::{Fanout, FanoutSource, Job, OutputFormat};
use crate::json::node::Node;
use crate::json::path::JsonPath;
use crate::json::{Parser, Scratch};
use crate::net::session::{Fetched, Session};
use crate::options::RunOptions;
use crate::read::columns::run_policy;
use crate::read::count::{
    ApiCount, CutCheck, NextPage, api_count, capped_page, count_checked, cut_said, full_page,
    header_count, holds_page_size, next_in_headers, next_named, records_keys, short_of_count,
    unpaged, unpaged_checked,
};
use crate::read::fanout::Feed;
use crate::read::near::{
    ended_at_first, link_as_cursor, near_member, not_a_cursor, records_elsewhere,
};
use crate::read::page::unless_stopped;
use crate::read::pass::{Context, Pass};
use crate::read::worker::{content_type, not_json};

/// The first request the job would send, as text with secrets masked.
/// Needs no network: the first request of every pagination type is static.
pub(crate) fn explain(job: &Job) -> Result<String> {
    let context = Context::new(job, None)?;
    let gzip = match job.output.compression {
        Some(compression) => format!(", {compression},"),
        None => String::new(),
    };
    let mut out = format!(
        "# job {}\n# pagination: {}; output: {}{gzip} to {}\n",
        job.name,
        job.paginate.kind.as_str(),
        job.output.format.as_str(),
        job.output
            .path
            .as_ref()
            .map_or_else(|| "stdout".to_owned(), |p| p.display().to_string())
    );
    match (&job.records.path, job.records.lines) {
        (None, true) => {
            out.push_str("# records: an answer is NDJSON, a JSON value a line, each a record\n")
        }
        (Some(path), true) => out.push_str(&format!(
            "# records: an answer is NDJSON, a JSON value a line, its records at `{}` {}\n",
            path.as_str(),
            match crate::job::over_lines(path.as_str()) {
                true => "in the array of its lines",
                false => "in each line",
            }
        )),
        _ => {}
    }
    let value = match Feed::open_static(job)? {
        Some(mut feed) if job.incremental.is_some() => {
            let mut tracker = crate::read::incremental::Tracker::stored(job)?;
            let Some(first) = tracker.next_pass(|| feed.next_value())? else {
                out.push_str(
                    "# [incremental]: nothing to fetch: the bookmark is at the upper bound\n",
                );
                return Ok(out);
            };
            out.push_str("# [incremental]: the first window, from the stored bookmark\n");
            first
        }
        Some(mut feed) => feed.next_value()?.unwrap_or_default(),
        None => {
            let Some(Fanout {
                source: FanoutSource::From(parent),
                ..
            }) = &job.fanout
            else {
                unreachable!("only [fanout.from] needs the network for its values");
            };
            out.push_str(
                "# [fanout.from]: the values come from the records of this request's job:\n\n",
            );
            out.push_str(&explain(parent)?);
            return Ok(out);
        }
    };
    if job.fanout.is_some() {
        out.push_str(&format!(
            "# [fanout]: one pass per value; the first value is {:?}\n",
            value.placeholders.get("value").map_or("", String::as_str)
        ));
    }
    out.push('\n');
    let mut pass = Pass::new(&context, value, 0)?;
    let (plan, _) = pass.next_plan().expect("a new pass has a first request");
    let prepared = context.prepare_with(&plan, &pass.placeholders)?;
    out.push_str(&context.session.describe(&prepared));
    Ok(out)
}

/// What `hydrant check` shows of the first response.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// The method of the request sent (`GET`, `POST`).
    pub method: String,
    /// The URL requested, secrets masked.
    pub url: String,
    /// The response status code.
    pub status: u16,
    /// Records on the first page.
    pub records: usize,
    /// The columns, declared or inferred, and their types.
    pub columns: Vec<(String, String)>,
    /// The first records, as NDJSON lines of the output columns.
    pub sample: Vec<String>,
    /// Why records of the first page would be dirty.
    pub dirty: Vec<String>,
    /// Says so when the page has no value at `records.path`.
    pub records_missing: Option<String>,
    /// The output's format. A `raw` output has no columns and no dirty
    /// records: its sample is the first records as they came.
    #[serde(serialize_with = "format_name")]
    pub format: OutputFormat,
    /// What the run would warn of: keys it does not use (`[[columns]]`
    /// with a `raw` output), declared columns no record of the page has,
    /// a cursor or link under another name than the job's.
    pub warnings: Vec<String>,
    /// For a paginator that follows a cursor or link (`cursor`,
    /// `next_link`): the one read from the first page and where, or why
    /// there is none and a run would end after the page.
    pub next: Option<String>,
    /// The number of records the page says the query matches, and where
    /// (``6 (`total_count`)``), where a run would hold its records
    /// against it.
    pub api_count: Option<String>,
}

fn format_name<S: serde::Serializer>(format: &OutputFormat, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(format.as_str())
}

/// The job's first request and its answer.
struct First {
    /// The pass it began: its placeholders and paginator.
    pass: Pass,
    fetched: Fetched,
    /// The request as errors name it, secrets masked.
    shown: String,
    /// Redacts what quotes the answer.
    session: Session,
}

/// Sends the job's first request.
async fn first_fetch(job: &Job, options: RunOptions) -> Result<First> {
    let value = crate::read::fanout::first_value(job, &options).await?;
    let context = Context::new(job, options.redirect_to)?;
    let mut pass = Pass::new(&context, value, 0)?;
    let (plan, _) = pass.next_plan().expect("a new pass has a first request");
    let prepared = context.prepare_with(&plan, &pass.placeholders)?;
    let fetched = context.session.fetch(prepared).await?;
    let shown = context.session.shown(&fetched.prepared);
    Ok(First {
        pass,
        fetched,
        shown,
        session: context.session,
    })
}

/// Sends the job's first request and shows `inspect` the response and the
/// records of its page (none for a 204).
async fn first_page<R>(
    job: &Job,
    options: RunOptions,
    inspect: impl FnOnce(&FirstPage<'_, '_>) -> R,
) -> Result<R> {
    let First {
        mut pass,
        fetched,
        shown,
        session,
    } = first_fetch(job, options).await?;
    let status = fetched.response.status.as_u16();
    let answer = Answer {
        status,
        content_type: content_type(&fetched.response.headers),
        body: &fetched.response.body,
        shown: &shown,
    };
    let headers = crate::read::run::header_list(&fetched);
    // A `[[paginate.stop]]` rule may make a page that says it failed the
    // end of the records, as it does in a run.
    let ends_here = |page: &BorrowedValue<'_>, records: usize| {
        let watched: Vec<Option<serde_json::Value>> = (pass.watched.iter())
            .map(|path| crate::read::watched_node(page, path))
            .collect();
        let view = hydrant_paginate::Page {
            status,
            headers: &headers,
            records,
            watched: &watched,
        };
        let step = pass.paginator.next(&view);
        let near = |i: usize| near_member(page, pass.watched.get(i)?);
        let unpaged_told = || {
            let keys = unpaged_checked(job)?;
            unpaged(&headers, next_named(page, &keys), &shown)
        };
        let told = match step {
            Step::Done(stop) => not_a_cursor(&pass.paginator, &watched, &shown)
                .filter(|_| stop == Stop::NoNext)
                .or_else(|| ended_at_first(job, &pass.paginator, stop, (&view, &shown), &near))
                .or_else(unpaged_told),
            Step::Next(_) => link_as_cursor(job, &pass.paginator, &watched, &shown),
            Step::Continue => None,
        };
        AfterFirst {
            by_rule: step == Step::Done(Stop::EndCondition),
            counted: count_checked(job).and_then(|_| header_count(&headers, &shown)),
            next: next_line(&pass.paginator, &step, &watched, &headers)
                .map(|line| session.redact(&line)),
            told,
        }
    };
    let placeholders = pass.placeholders.clone();
    on_page(job, &placeholders, &answer, ends_here, inspect)
        .map_err(|e| e.redacted(|t| session.redact(t)))
}

/// An answer to the first request, as a page is read from it.
struct Answer<'a> {
    status: u16,
    content_type: Option<String>,
    body: &'a [u8],
    shown: &'a str,
}

/// Parses the page of `answer` and shows `inspect` its records.
/// `ends_here` says what the paginator makes of the page and its count.
fn on_page<R>(
    job: &Job,
    placeholders: &Placeholders,
    answer: &Answer<'_>,
    ends_here: impl FnOnce(&BorrowedValue<'_>, usize) -> AfterFirst,
    inspect: impl FnOnce(&FirstPage<'_, '_>) -> R,
) -> Result<R> {
    let shown = answer.shown;
    if answer.status == 204 {
        return Ok(inspect(&FirstPage {
            placeholders,
            status: answer.status,
            shown,
            records: &[],
            page: None,
            body: &[],
            path_found: true,
            records_elsewhere: None,
            count: None,
            cut: None,
            after: AfterFirst::default(),
        }));
    }
    let mut parser = Parser::default();
    let mut scratch = Scratch::default();
    let page = parser
        .parse(answer.body, &mut scratch)
        .map_err(|e| not_json(shown, answer.content_type.as_deref(), answer.body, e))?;
    let records = crate::extract::select_records(&page, &job.records)
        .map_err(|e| Error::data(format!("response from {shown}: {e}")))?;
    let mut after = ends_here(
        &page,
        crate::extract::paged_count(&page, &job.records, records.len()),
    );
    let path_found = !unless_stopped(
        records_missing(&page, &job.records, records.len(), shown),
        after.by_rule,
    )?;
    Ok(inspect(&FirstPage {
        placeholders,
        status: answer.status,
        shown,
        records: &records,
        page: Some(&page),
        body: answer.body,
        path_found,
        records_elsewhere: (!path_found || records.is_empty())
            .then(|| records_elsewhere(&page))
            .flatten(),
        count: count_checked(job)
            .and_then(|keys| api_count(&page, &keys, shown))
            .or_else(|| after.counted.take()),
        cut: CutCheck::of(job).find(&page),
        after,
    }))
}

/// What `check` and `schema` are shown of the first page.
struct FirstPage<'p, 'v> {
    placeholders: &'p Placeholders,
    status: u16,
    /// The URL requested, secrets masked.
    shown: &'p str,
    records: &'p [&'v BorrowedValue<'v>],
    /// The page the records come from; `None` for a 204.
    page: Option<&'p BorrowedValue<'v>>,
    /// The page as it came, for its structural index.
    body: &'p [u8],
    /// Whether the page had a value at `records.path`.
    path_found: bool,
    /// Where the records may be when `records.path` matched nothing.
    records_elsewhere: Option<String>,
    /// The count of records the page gives (see [`api_count`]).
    count: Option<ApiCount>,
    /// Where the page says the API cut its answer short (see
    /// [`CutCheck`]).
    cut: Option<String>,
    after: AfterFirst,
}

/// What the paginator makes of the first page.
#[derive(Debug, Default)]
struct AfterFirst {
    /// A `[[paginate.stop]]` rule holds on it.
    by_rule: bool,
    /// The count of records its headers give (see [`header_count`]).
    counted: Option<ApiCount>,
    /// See [`CheckReport::next`].
    next: Option<String>,
    /// See [`ended_at_first`].
    told: Option<String>,
}

/// [`CheckReport::next`]: the cursor or link read from the first page,
/// or why there is none.
fn next_line(
    paginator: &Paginator,
    step: &Step,
    watched: &[Option<serde_json::Value>],
    headers: &[(String, String)],
) -> Option<String> {
    let (value, at, absent) = match paginator.follows()? {
        Follows::Body { index, path } => (
            watched.get(index).cloned().flatten(),
            format!("paginate.from `{path}`"),
            "selects nothing on the page",
        ),
        Follows::Header(name) => (
            (headers.iter())
                .find(|(n, _)| n == name)
                .map(|(_, v)| serde_json::Value::String(v.clone())),
            format!("paginate.header `{name}`"),
            "is not a header of the response",
        ),
    };
    let shown = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => match text.strip_prefix(NUMBER_TEXT) {
            Some(number) => number.to_owned(),
            None => serde_json::Value::String(text.clone()).to_string(),
        },
        other => other.to_string(),
    };
    Some(match (step, value) {
        (Step::Next(_), Some(value)) => format!("{} (at {at})", shown(&value)),
        (Step::Done(stop), None) => {
            format!("none ({stop}): {at} {absent}; a run would end after it")
        }
        (Step::Done(stop), Some(value)) => format!(
            "none ({stop}): {at} holds {}; a run would end after this page",
            shown(&value)
        ),
        (Step::Next(_) | Step::Continue, _) => return None,
    })
}

/// Sends the first request and reports what came back: status, records,
/// columns and a sample.
pub async fn check(job: &Job, options: RunOptions, sample_size: usize) -> Result<CheckReport> {
    // A raw run refuses some keys, and warns of others, before its first
    // request: so does its check.
    let mut warnings: Vec<String> = job.raw_output_check()?.into_iter().collect();
    first_page(job, options, |first| {
        warnings.extend(first.after.told.clone());
        warnings.extend((first.cut.as_deref()).map(|at| cut_said(at, first.shown)));
        if first.path_found
            && first.records.is_empty()
            && let Some(elsewhere) = &first.records_elsewhere
        {
            let path = job.records.path.as_ref().map_or("$", |p| p.as_str());
            warnings.push(format!(
                "records.path `{path}` holds no records on the first page, but {elsewhere}: if \
                 the records are there, set records.path to it"
            ));
        }
        if let Some(counted) = &first.count {
            let held = first.records.len() as u64;
            warnings.extend(capped_page(job, counted, held, first.shown));
        }
        // A job without pagination reads the first page alone (said
        // above where the page names the next).
        if job.paginate.kind == hydrant_paginate::Kind::None
            && first.after.told.is_none()
            && let Some(counted) = &first.count
        {
            let read = first.records.len() as u64;
            warnings.extend(short_of_count(job, counted, read, Stop::NoNext));
        }
        let held = first.records.len() as u64;
        if holds_page_size(job, held) && first.after.told.is_none() && first.count.is_none() {
            warnings.push(full_page(job, held, first.shown));
        }
        let report = CheckReport {
            method: (job.request.as_ref())
                .map_or("GET", |r| r.method.as_str())
                .to_owned(),
            url: first.shown.to_owned(),
            status: first.status,
            records: first.records.len(),
            columns: Vec::new(),
            sample: Vec::new(),
            dirty: Vec::new(),
            records_missing: (!first.path_found).then(|| {
                let missing = records_path_missing(&job.records, first.shown);
                match &first.records_elsewhere {
                    Some(elsewhere) => format!("{missing}; {elsewhere}"),
                    None => missing,
                }
            }),
            format: job.output.format,
            warnings,
            next: first.after.next.clone(),
            api_count: first.count.as_ref().map(ApiCount::said),
        };
        if job.output.format == OutputFormat::Raw {
            let sample = first.records.iter().take(sample_size).map(|record| {
                let mut text = Vec::new();
                record.write_json(&mut text);
                String::from_utf8_lossy(&text).into_owned()
            });
            return CheckReport {
                sample: sample.collect(),
                ..report
            };
        }
        with_columns(job, first, sample_size, report)
    })
    .await
}

/// `report` with the job's columns, declared or inferred from the first
/// page, and the first records as the output holds them.
fn with_columns(
    job: &Job,
    first: &FirstPage<'_, '_>,
    sample_size: usize,
    report: CheckReport,
) -> CheckReport {
    let records = first.records;
    let declared = job.columns.is_some();
    let extractor = match &job.columns {
        Some(columns) => Extractor::new(columns.clone(), &job.records).noting_absent(),
        None => Extractor::inferred(
            infer_columns(records, &job.records.flatten, run_policy(job)),
            &job.records,
        ),
    };
    // The whole page, for the columns no record has; the sample and the
    // dirty records are those of its first `sample_size` records.
    let mut batch = Batch::default();
    let mut scanner = crate::json::scan::Scanner::default();
    // The cells from the page's index where a run reads them so (a
    // number's text as the API wrote it), else from the tree.
    let indexed = scanner.scan(first.body, extractor.plan()).ok();
    match indexed.as_ref().and_then(|doc| {
        crate::read::worker::index_records(doc, &job.records, &[], first.shown).ok()
    }) {
        Some((on_index, _)) if on_index.len() == records.len() => {
            let doc = indexed.as_ref().expect("the records are on it");
            extractor.read_page(doc.root(), &mut batch);
            extractor.extract(&on_index, first.placeholders, &mut batch)
        }
        _ => {
            if let Some(page) = first.page {
                extractor.read_page(page, &mut batch);
            }
            extractor.extract(records, first.placeholders, &mut batch)
        }
    }
    let sampled = records.len().min(sample_size);
    let dirty: Vec<String> = batch
        .dirty
        .iter()
        .filter(|d| d.ordinal < sampled)
        .map(|d| d.reason.clone())
        .collect();
    let encoder = crate::sink::NdjsonEncoder::new(extractor.columns());
    let width = extractor.columns().len();
    let mut hours = crate::sink::Hours::default();
    let sample = (0..sampled - dirty.len())
        .map(|row| {
            let mut line = Vec::new();
            encoder.encode(batch.row(row, width), &mut hours, &mut line);
            String::from_utf8_lossy(&line).trim_end().to_owned()
        })
        .collect();
    let mut warnings = report.warnings.clone();
    if declared {
        warnings.extend(absent_columns(extractor.columns(), &batch));
    }
    CheckReport {
        columns: extractor
            .columns()
            .iter()
            .map(|c| (c.name.clone(), c.kind.as_str().to_owned()))
            .collect(),
        sample,
        dirty,
        warnings,
        ..report
    }
}

/// The warnings of the columns that no row of `batch` has a value for, as
/// a run warns of them at its end.
fn absent_columns(columns: &[ColumnSpec], batch: &Batch<'_>) -> Vec<String> {
    let rows = batch.rows;
    if rows == 0 {
        return Vec::new();
    }
    let by_column = crate::extract::tolerated_by_column(&batch.tolerated, columns.len());
    columns
        .iter()
        .zip(by_column)
        .filter(|(_, [_, absent])| *absent == rows as u64)
        .map(|(column, _)| column_absent(column, rows as u64, true))
        .collect()
}

/// A job's first response as received: what `hydrant init` reads to
/// guess a job's records path and pagination.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Probe {
    /// The URL requested, secrets masked.
    pub url: String,
    /// The response status code.
    pub status: u16,
    /// The response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, decoded.
    pub body: Vec<u8>,
}

impl Probe {
    /// The member of the body, outside `job`'s records, or else the
    /// header, that names the next page: what a run of the job without `[paginate]` warns of.
    /// `hydrant init` writes its pagination from it.
    pub fn next_page(&self, job: &Job) -> Option<NextPage> {
        let keys = records_keys(job)?;
        self.with_tree(|tree| next_named(tree?, &keys))
            .or_else(|| next_in_headers(&self.headers))
    }

    /// The number of records on the page, where a run of `job` without
    /// `[paginate]` warns that it is a page size APIs stop at: a round
    /// number (20, 25, 30, 50 … 5000), with no next page named and no count
    /// given. `hydrant init` asks for a second page then.
    pub fn full_page(&self, job: &Job) -> Option<u64> {
        let keys = count_checked(job)?;
        self.with_tree(|tree| {
            let tree = tree?;
            let records = keys.iter().try_fold(tree, |node, key| node.get(key))?;
            let mut elements = Vec::new();
            records.elements(&mut elements)?;
            let held = elements.len() as u64;
            let named = unpaged(&self.headers, next_named(tree, &keys), &self.url);
            let silent = named.is_none() && self.counted(Some(tree), &keys).is_none();
            (silent && holds_page_size(job, held)).then_some(held)
        })
    }

    /// The number of records the API says `job`'s query matches, where
    /// the body (outside the records) or a header gives it, as a run
    /// reads it to hold its records against. `hydrant init` asks for a
    /// second page where it is more than the first page holds.
    pub fn count(&self, job: &Job) -> Option<u64> {
        let keys = count_checked(job)?;
        self.with_tree(|tree| self.counted(tree, &keys))
    }

    /// The count in the body (`tree`, if it is JSON) or the headers.
    fn counted(&self, tree: Option<&BorrowedValue<'_>>, keys: &[String]) -> Option<u64> {
        let counted = tree.and_then(|tree| api_count(tree, keys, &self.url));
        counted
            .or_else(|| header_count(&self.headers, &self.url))
            .map(|counted| counted.count())
    }

    /// `read` of the body parsed, if it is JSON.
    fn with_tree<R>(
        &self,
        read: impl FnOnce(Option<&BorrowedValue<'_>>) -> Option<R>,
    ) -> Option<R> {
        let mut body = self.body.clone();
        let tree = simd_json::to_borrowed_value(&mut body).ok();
        read(tree.as_ref())
    }
}

/// Sends the job's first request and returns its response.
pub async fn probe(job: &Job, options: RunOptions) -> Result<Probe> {
    let First {
        fetched,
        shown: url,
        ..
    } = first_fetch(job, options).await?;
    let headers = fetched
        .response
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    Ok(Probe {
        url,
        status: fetched.response.status.as_u16(),
        headers,
        body: fetched.response.body,
    })
}

/// Infers `[[columns]]` from a first response already fetched, as
/// [`schema`] does from its own request.
pub fn schema_of(job: &Job, probe: &Probe) -> Result<String> {
    let content_type = probe
        .headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.clone());
    let answer = Answer {
        status: probe.status,
        content_type,
        body: &probe.body,
        shown: &probe.url,
    };
    on_page(
        job,
        &Placeholders::default(),
        &answer,
        |_, _| AfterFirst::default(),
        |first| schema_text(job, first),
    )
}

/// Infers `[[columns]]` from the first page and writes them as TOML.
pub async fn schema(job: &Job, options: RunOptions) -> Result<String> {
    first_page(job, options, |first| schema_text(job, first)).await
}

/// The inferred `[[columns]]` of a first page, as TOML.
fn schema_text(job: &Job, &FirstPage { shown, records, .. }: &FirstPage<'_, '_>) -> String {
    let mut out = format!(
        "# inferred from the first page of {} ({} records)\n",
        shown,
        records.len()
    );
    let columns = infer_columns(records, &job.records.flatten, run_policy(job));
    let other_records = other_records(&columns);
    for (index, column) in columns.iter().enumerate() {
        // An inferred path's text reads back as its keys (`JsonPath::of_keys`).
        let path = column.path.as_ref().map_or("", |p| p.as_str());
        if other_records == Some(index) {
            out.push_str(
                "\n# the records that are not objects; declared, `$` holds every record whole",
            );
        }
        out.push_str("\n[[columns]]\n");
        out.push_str(&format!("name = {}\n", toml_string(&column.name)));
        if path != column.name {
            out.push_str(&format!("path = {}\n", toml_string(path)));
        }
        out.push_str(&format!("type = \"{}\"", column.kind.as_str()));
        if only_zeros(records, column) {
            out.push_str(" # 0 in each record of the first page: a fraction later is a dirty record, where `double` keeps it");
        }
        out.push('\n');
    }
    out
}

/// Whether an inferred whole-number column holds 0 in each record of the
/// first page that has it: a metric in a quiet hour as much as a count.
fn only_zeros<'v>(records: &[&'v BorrowedValue<'v>], column: &ColumnSpec) -> bool {
    use crate::json::node::View;
    let (Some(path), crate::job::ColumnType::Long | crate::job::ColumnType::Int) =
        (&column.path, column.kind)
    else {
        return false;
    };
    let mut values = records.iter().flat_map(|&record| path.select(record));
    let zero = |value: &'v BorrowedValue<'v>| matches!(value.view(), View::I64(0) | View::U64(0));
    values.next().is_some_and(zero) && values.all(zero)
}

/// The columns of the job's output: declared, or inferred as a stream of
/// the job (Arrow, Parquet) infers them, from its first
/// `records.infer_pages` pages with records.
pub async fn columns(job: &Job, options: RunOptions) -> Result<Vec<ColumnSpec>> {
    if let Some(columns) = &job.columns {
        return Ok(columns.clone());
    }
    Ok(sampled_columns(job, options).await?.columns)
}

/// Columns inferred from a sample of a job's pages.
#[derive(Debug, Default)]
pub(crate) struct Sampled {
    pub(crate) columns: Vec<ColumnSpec>,
    /// Those that held only nulls and empty objects in the sample.
    pub(crate) null_only: Vec<String>,
}

/// The inferred columns, from a run of the job that stops when they are
/// fixed: pages without records (a fan-out value with nothing) are passed
/// over as a run passes them. The run writes nothing; it sends what the
/// job's `limits.concurrency` lets it, so that a long stretch without
/// records goes as fast as the job (a few requests may be in flight when
/// it stops).
#[cfg(feature = "arrow")]
pub(crate) async fn sampled_columns(job: &Job, options: RunOptions) -> Result<Sampled> {
    use std::sync::{Arc, Mutex, PoisonError};

    let mut sample = job.clone();
    sample.state_read_only = true;
    sample.records.dirty_path = None;
    sample.records.max_dirty = u64::MAX;
    let fixed: Arc<Mutex<Option<Sampled>>> = Arc::default();
    let seen = fixed.clone();
    let mut hooks = crate::read::Hooks {
        output: Some(crate::read::OutputHook::Sink(Box::new(
            move |columns: &[ColumnSpec], null_only: &[String]| {
                *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(Sampled {
                    columns: columns.to_vec(),
                    null_only: null_only.to_vec(),
                });
                Box::new(crate::sink::arrow::Enough) as Box<dyn crate::sink::Sink>
            },
        ))),
        ..crate::read::Hooks::default()
    };
    let ran = crate::read::run_hooked(&sample, options, &mut hooks).await;
    let columns = fixed.lock().unwrap_or_else(PoisonError::into_inner).take();
    match (columns, ran) {
        (Some(columns), _) => Ok(columns),
        (None, Err(e)) => Err(e),
        (None, Ok(_)) => Ok(Sampled::default()),
    }
}

/// Without the `arrow` feature: the columns of the first page.
#[cfg(not(feature = "arrow"))]
pub(crate) async fn sampled_columns(job: &Job, options: RunOptions) -> Result<Sampled> {
    first_page(job, options, |&FirstPage { records, .. }| {
        // As an Arrow reader gets them.
        let mut inference =
            crate::extract::Inference::new(&job.records.flatten, crate::extract::Mixed::Text);
        inference.feed(records, crate::extract::Policy::Grow);
        inference.fix();
        Sampled {
            columns: inference.columns(),
            null_only: inference.null_only(),
        }
    })
    .await
}

fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Evaluates a path on a JSON document: the selected values as a JSON array.
///
/// The path is taken exactly as given: RFC 9535 allows no white space
/// before or after it (a job file's paths are trimmed).
pub fn query(path: &str, document: &[u8]) -> Result<Vec<u8>> {
    if path.trim() != path {
        return Err(Error::config(format!(
            "invalid path: `{path}` has white space before or after it"
        )));
    }
    let path = JsonPath::parse(path).map_err(|e| Error::config(format!("invalid path: {e}")))?;
    let mut scanner = crate::json::scan::Scanner::default();
    let doc = scanner
        .scan(document, None)
        .map_err(|e| Error::data(format!("the document is not valid JSON: {e}")))?;
    // On the document's index, so that a number is printed as written.
    let found = path.select(doc.root());
    Ok(crate::extract::json_array(&found))
}
