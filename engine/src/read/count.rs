//! What a page says of the records besides its own. A first page's
//! count of the records a query matches (GitHub's `total_count`, or a
//! header such as `X-Total-Count`) is held against the records a run
//! read: some APIs stop paging before the end (GitHub's search at 1000
//! results), and both that and a job without `[paginate]` end with fewer
//! records than the API counts, as a last page would. A job without
//! `[paginate]` is also told when its page names a next page or says more
//! follow, and any run when a page says the API cut its answer short.

use std::collections::BTreeMap;

use hydrant_paginate::{DEFAULT_LIMIT, Kind, Stop};

use crate::extract::holds_something;
use crate::job::{Body, Job, RecordMode};
use crate::json::node::{Node, View};
use crate::json::path::{Segment, readable};
use crate::read::near::{folded, is_link, near_top, spelled};

/// Names an API gives the number of records a query matches, folded
/// (see [`folded`]): GitHub's `total_count`, Jira's and HubSpot's
/// `total`, Salesforce's `totalSize`, OData's `@odata.count`, Spring's
/// `totalElements`, Django REST framework's `count`, Algolia's `nbHits`,
/// mongoose-paginate's `totalDocs` (Payload CMS and many Node APIs),
/// Solr's `numFound` (and CKAN's searches, which Solr answers).
/// A `count` of the page's own records never exceeds what a run reads.
const COUNT_NAMES: [&str; 15] = [
    "total",
    "totaldocs",
    "numfound",
    "totalcount",
    "totalresults",
    "totalitems",
    "totalelements",
    "totalsize",
    "totalrecords",
    "totalentries",
    "totalrows",
    "totalhits",
    "count",
    "odatacount",
    "nbhits",
];

/// Headers that give the number of records a query matches:
/// json-server's and many others' `X-Total-Count`, GitLab's `X-Total`,
/// the `api-pagination` gem's `Total`, pagy's `Total-Count` (Rails),
/// WordPress's `X-WP-Total`, Yii's `X-Pagination-Total-Count`.
/// PostgREST's is `Content-Range`'s total.
const COUNT_HEADERS: [&str; 9] = [
    "X-Total-Count",
    "X-Total",
    "Total",
    "Total-Count",
    "X-WP-Total",
    "X-Pagination-Total-Count",
    "X-Total-Results",
    "X-Total-Items",
    "X-Total-Records",
];

/// The number of records the API says its query matches, where the
/// first page says it, and that page.
#[derive(Debug, Clone)]
pub(crate) struct ApiCount {
    count: u64,
    at: String,
    /// Whether `at` is a header's name, not a member's path.
    header: bool,
    shown: String,
}

impl ApiCount {
    /// The records the API counts.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The count and where, as `check` shows it: ``6 (`total_count`)``,
    /// ``95 (the `X-Total-Count` header)``.
    pub(crate) fn said(&self) -> String {
        match self.header {
            true => format!("{} (the `{}` header)", self.count, self.at),
            false => format!("{} (`{}`)", self.count, self.at),
        }
    }

    /// Where the count is, as a warning says it.
    fn where_said(&self) -> String {
        match self.header {
            true => format!("in its `{}` header", self.at),
            false => format!("at `{}`", self.at),
        }
    }
}

/// The first whole number named like a count (see [`COUNT_NAMES`]) among
/// `page`'s members outside the records, found by [`near_top`]. `records`
/// is the records path's keys, whose member is not looked into (none
/// where the records are the page); `shown` names the page.
pub(crate) fn api_count<'v, N: Node<'v>>(
    page: N,
    records: &[String],
    shown: &str,
) -> Option<ApiCount> {
    // A count beside the records, or beside a member on the way to them,
    // comes first: Elasticsearch's `hits.total` counts `hits.hits`, where
    // `_shards.total`, nearer the top, counts shards.
    let beside = |keys: &[String]| {
        let parent = &keys[..keys.len() - 1];
        records.len() > parent.len() && records[..parent.len()] == *parent
    };
    counted_where(page, records, shown, beside)
        .or_else(|| counted_where(page, records, shown, |_| true))
}

/// The first count among `page`'s members outside the records at keys
/// that `take` takes; never one of Elasticsearch's shard statistics.
fn counted_where<'v, N: Node<'v>>(
    page: N,
    records: &[String],
    shown: &str,
    take: impl Fn(&[String]) -> bool,
) -> Option<ApiCount> {
    outside(page, records, |keys, value| {
        if !COUNT_NAMES.contains(&named(keys).as_str())
            || solr_bound(page, keys)
            || keys.first().is_some_and(|k| k == SHARDS)
            || !take(keys)
        {
            return None;
        }
        let (count, at) = match exact_total(value) {
            Some(count) => (count, format!("{}.value", spelled(keys))),
            None => (
                whole(value).or_else(|| verbose_count(keys, value))?,
                spelled(keys),
            ),
        };
        Some(ApiCount {
            count,
            at,
            header: false,
            shown: shown.to_owned(),
        })
    })
}

fn whole<'v, N: Node<'v>>(value: N) -> Option<u64> {
    match value.view() {
        View::U64(n) => Some(n),
        View::I64(n) => u64::try_from(n).ok(),
        _ => None,
    }
}

/// OData version 2's `__count` (SAP's APIs), which its verbose JSON
/// writes as a string of digits: `{"d": {"results": [], "__count": "57"}}`.
fn verbose_count<'v, N: Node<'v>>(keys: &[String], value: N) -> Option<u64> {
    let View::Str(digits) = value.view() else {
        return None;
    };
    let odata = keys.last().is_some_and(|key| key == "__count");
    digits.parse().ok().filter(|_| odata)
}

/// Whether the member at `keys` of `page` is Solr's `numFound` beside a
/// `numFoundExact` that is false: a bound, not a count (Solr 8.6 and
/// later, where `minExactCount` lets it stop counting).
fn solr_bound<'v, N: Node<'v>>(page: N, keys: &[String]) -> bool {
    let Some((_, parent)) = keys.split_last().filter(|_| named(keys) == "numfound") else {
        return false;
    };
    let exact = (parent.iter())
        .try_fold(page, |node, key| node.get(key))
        .and_then(|object| object.get("numFoundExact"));
    exact.is_some_and(|exact| matches!(exact.view(), View::Bool(false)))
}

/// Elasticsearch's and OpenSearch's `hits.total`, `{"value": 57,
/// "relation": "eq"}`: a count where the relation says it is exact. With
/// `"gte"` it is a bound (10,000 unless `track_total_hits` asks more).
fn exact_total<'v, N: Node<'v>>(total: N) -> Option<u64> {
    let exact = matches!(total.get("relation")?.view(), View::Str("eq"));
    whole(total.get("value")?).filter(|_| exact)
}

/// The first of `page`'s members outside the records (`records`, their
/// path's keys; none where they are the page, whose members are a
/// record's) that `pick` takes, found by [`near_top`].
fn outside<'v, N: Node<'v>, T>(
    page: N,
    records: &[String],
    mut pick: impl FnMut(&[String], N) -> Option<T>,
) -> Option<T> {
    if records.is_empty() {
        return None;
    }
    let mut found = None;
    near_top(page, records, |keys, value| {
        found = pick(keys, value);
        found.is_some()
    });
    found
}

/// The last key of a member, folded (see [`folded`]).
fn named(keys: &[String]) -> String {
    folded(keys.last().expect("a member has a key"))
}

/// The count of records a page's headers give ([`COUNT_HEADERS`]):
/// the first whole number among them, the total after `/` in a
/// `Content-Range` (`0-24/319`; PostgREST's with `Prefer: count=exact`),
/// or a member named like a count ([`COUNT_NAMES`]) of the JSON object in
/// an `X-Pagination` header (flask-smorest's `total`, ASP.NET APIs'
/// `TotalCount`).
pub(crate) fn header_count(headers: &[(String, String)], shown: &str) -> Option<ApiCount> {
    let counted = |(name, value): &(String, String)| {
        let value = value.trim();
        let member;
        let (at, count) = if name.eq_ignore_ascii_case("content-range") {
            ("Content-Range", value.rsplit_once('/')?.1)
        } else if name.eq_ignore_ascii_case("x-pagination") {
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(value).ok()?;
            member = object
                .iter()
                .find(|(key, _)| COUNT_NAMES.contains(&folded(key).as_str()))?
                .1
                .as_u64()?
                .to_string();
            ("X-Pagination", member.as_str())
        } else {
            let at = COUNT_HEADERS
                .iter()
                .find(|h| h.eq_ignore_ascii_case(name))?;
            (*at, value)
        };
        Some(ApiCount {
            count: count.parse().ok()?,
            at: at.to_owned(),
            header: true,
            shown: shown.to_owned(),
        })
    };
    headers.iter().find_map(counted)
}

/// Names of a member that says, when true, that the API cut its answer
/// short, folded (see [`folded`]): Datasette's `truncated` (a query stops
/// at 1000 rows), GitHub's search `incomplete_results` (it timed out),
/// Elasticsearch's `timed_out` and `is_partial`, Solr's
/// `responseHeader.partialResults` (`timeAllowed` ran out, or a shard
/// failed under `shards.tolerant`).
const CUT_NAMES: [&str; 5] = [
    "truncated",
    "incompleteresults",
    "timedout",
    "ispartial",
    "partialresults",
];

/// Elasticsearch's and OpenSearch's statistics of the shards that
/// answered a search: never a count of records.
const SHARDS: &str = "_shards";

/// Their count of the shards that failed to answer: above 0, their
/// records are missing from a 200.
const FAILED_SHARDS: [&str; 2] = [SHARDS, "failed"];

/// The path of a member of `page` outside the records (their path's
/// keys, `records`; none where they are the page), found by
/// [`near_top`], that says the API cut its answer short: one of
/// [`CUT_NAMES`] that is true, or a top-level `errors` that holds
/// something. GraphQL answers with the data it could resolve and an error
/// for each part it could not (a field the token may not read, a
/// timeout), the values or records of those parts left null or out. An
/// answer of `errors` alone, its records null or absent, is a failure,
/// which the run reports as one, not a page cut short.
pub(crate) fn cut_short<'v, N: Node<'v>>(page: N, records: &[String]) -> Option<String> {
    let held = (records.iter())
        .try_fold(page, |node, key| node.get(key))
        .is_some_and(|at| !matches!(at.view(), View::Null));
    outside(page, records, |keys, value| {
        let cut = match value.view() {
            View::Bool(true) => CUT_NAMES.contains(&named(keys).as_str()),
            View::Compound => keys == [PARTIAL] && held && holds_something(value),
            _ if keys == FAILED_SHARDS => whole(value).is_some_and(|failed| failed > 0),
            _ => false,
        };
        cut.then(|| spelled(keys))
    })
}

/// The member beside the records of a GraphQL answer that lists what
/// failed (see [`cut_short`]).
const PARTIAL: &str = "errors";

/// What a run reads of each page for a member that says the API cut its
/// answer short. Unlike a count, such a member says records are missing
/// from any run, whatever the pagination.
#[derive(Debug, Clone, Default)]
pub(crate) struct CutCheck {
    /// The records path's keys, where the records are at a path of names:
    /// members near the top ([`cut_short`]).
    keys: Option<Vec<String>>,
    /// The records path's names and indexes, where it has no others: the
    /// objects on the way to the records ([`cut_on_the_way`]).
    steps: Option<Vec<Segment>>,
}

impl CutCheck {
    pub(crate) fn of(job: &Job) -> CutCheck {
        let steps = (job.records.path.as_ref())
            .and_then(|path| path.segments())
            .filter(|steps| (steps.iter()).all(|s| !matches!(s, Segment::Wildcard)))
            .map(<[Segment]>::to_vec);
        CutCheck {
            keys: records_keys(job),
            steps,
        }
    }

    /// Whether a page is read at all.
    pub(crate) fn reads(&self) -> bool {
        self.keys.is_some() || self.steps.is_some()
    }

    /// Where `page` says the API cut its answer short, if it does.
    pub(crate) fn find<'v, N: Node<'v>>(&self, page: N) -> Option<String> {
        (self.keys.as_deref())
            .and_then(|keys| cut_short(page, keys))
            .or_else(|| cut_on_the_way(page, self.steps.as_deref()?))
    }
}

/// A member that says the API cut its answer short in an object on the
/// way to the records (`steps`, from the page down): one of
/// [`CUT_NAMES`], or `partial`, that is true. InfluxDB 1.x stops a query
/// at its `max-row-limit` and sets `partial` beside the series' `values`
/// (`$.results[0].series[0].values`), which [`cut_short`] does not reach
/// past an array. InfluxDB's chunked answers, NDJSON, set it on each
/// line but the last: such a body is an array of its lines, in which the
/// walk finds no `results`.
fn cut_on_the_way<'v, N: Node<'v>>(page: N, steps: &[Segment]) -> Option<String> {
    let mut node = page;
    for (depth, step) in steps.iter().enumerate() {
        let mut flag = None;
        node.members(&mut |key, value| {
            let name = folded(key);
            let cut = name == "partial" || CUT_NAMES.contains(&name.as_str());
            if flag.is_none() && cut && matches!(value.view(), View::Bool(true)) {
                flag = Some(key.to_owned());
            }
        });
        if let Some(key) = flag {
            let mut at = steps[..depth].to_vec();
            at.push(Segment::Key(key));
            return Some(readable(&at));
        }
        node = match step {
            Segment::Key(key) => node.get(key)?,
            Segment::Index(index) => node.at(*index)?,
            Segment::Wildcard => return None,
        };
    }
    None
}

/// What a run says of a page, from `shown`, whose member `at` says the
/// API cut its answer short.
pub(crate) fn cut_said(at: &str, shown: &str) -> String {
    if at == FAILED_SHARDS.join(".") {
        return format!(
            "the page from {shown} says `{at}` is above 0: shards of the index failed to \
             answer, and their records are missing from the run"
        );
    }
    if at == PARTIAL {
        return format!(
            "the page from {shown} holds records beside a non-empty `errors`: the API says part \
             of its answer failed (a GraphQL field it could not resolve), and values or records \
             are missing from the run"
        );
    }
    let (_, name) = at.rsplit_once('.').unwrap_or(("", at));
    let example = match name {
        "partial" => {
            "InfluxDB stops a query at its `max-row-limit`: ask with `chunked=true`, and read \
             the answer as `records.format = \"ndjson\"`"
        }
        _ => {
            "Datasette stops a query at 1000 rows, GitHub's search sets `incomplete_results` \
             when it times out"
        }
    };
    format!(
        "the page from {shown} says `{at}` is true: the API cut its answer short, and records \
         are missing from the run ({example})"
    )
}

/// The keys of the records path, where a run's records can be held
/// against the count its first page gives ([`api_count`], or its headers'
/// [`header_count`]): records in one array or object at a path of names
/// (none where the records are the page), passes that each ask for all of
/// theirs (no `start` past the first record, no bounds of `range` or
/// rules). Each fan-out value's pass is held to its own count, those sent
/// at once (without pagination) too.
pub(crate) fn count_checked(job: &Job) -> Option<Vec<String>> {
    let paginate = &job.paginate;
    let whole = match paginate.kind {
        Kind::None | Kind::Cursor | Kind::NextLink | Kind::LinkHeader => true,
        Kind::Offset => matches!(paginate.start, None | Some(0)),
        Kind::Page => matches!(paginate.start, None | Some(0 | 1)),
        Kind::Range | Kind::Rules => false,
    };
    records_keys(job).filter(|_| whole)
}

/// What a run that ended of itself says when its pages held fewer
/// records (`read`) than its first page counted: the API stopped paging
/// before the end (GitHub's search gives 1000 results at most), or the
/// job's pagination missed pages. `None` when they held as many.
pub(crate) fn short_of_count(
    job: &Job,
    counted: &ApiCount,
    read: u64,
    stop: Stop,
) -> Option<String> {
    let ApiCount {
        count, at, shown, ..
    } = counted;
    if read >= *count || !matches!(stop, Stop::NoNext | Stop::ShortPage | Stop::EmptyPage) {
        return None;
    }
    let head = format!(
        "the first page, from {shown}, counts {count} records {}",
        counted.where_said()
    );
    let ignore = format!("if `{at}` counts something else, or is an estimate, this can be ignored");
    if job.paginate.kind == Kind::None {
        return Some(format!(
            "{head}, but the job has no [paginate] and its one request gave {read}: set \
             [paginate] to how the API pages; {ignore}"
        ));
    }
    let end = match stop {
        Stop::ShortPage => "a page shorter than the others",
        Stop::EmptyPage => "a page without records",
        _ => "a page that names no next page",
    };
    Some(format!(
        "{head}, but the pages gave {read}, pagination ending at {end}: the API may stop \
         paging at a limit (GitHub's search stops at 1000 results), or the job's pagination \
         misses pages; {ignore}"
    ))
}

/// What `check` says of a first page of `offset` or `page` that held
/// fewer records (`held`) than a page asks for, while the API counts more:
/// the API caps its pages below the size asked, and a run fails at the
/// page after it. `None` otherwise, or where a page asks for no size.
pub(crate) fn capped_page(job: &Job, counted: &ApiCount, held: u64, shown: &str) -> Option<String> {
    let paginate = &job.paginate;
    let (asked, key) = match paginate.kind {
        Kind::Offset => (paginate.limit.unwrap_or(DEFAULT_LIMIT), "paginate.limit"),
        Kind::Page => (paginate.size?, "paginate.size"),
        _ => return None,
    };
    (held < asked && held < counted.count).then(|| {
        format!(
            "the first page, from {shown}, held {held} records, fewer than the {asked} asked \
             ({key}), while the API counts {} {}: the API may give at most {held} records a \
             page, and a run would fail at the page after this one (set {key} to {held} or less)",
            counted.count,
            counted.where_said()
        )
    })
}

/// Names of a member that names the next page, folded (see [`folded`]):
/// a link (`next`, `nextLink`, `@odata.nextLink`, `next_page_url`,
/// Salesforce's `nextRecordsUrl`, Twilio's `next_page_uri`), a cursor
/// (`next_cursor`), a token (Google's `nextPageToken`, AWS Lambda's
/// `NextMarker`, Solr's `nextCursorMark`).
const NEXT_NAMES: [&str; 16] = [
    "next",
    "nextlink",
    "odatanextlink",
    "nexturl",
    "nexturi",
    "nextpage",
    "nextpageurl",
    "nextpageuri",
    "nextrecordsurl",
    "nextcursor",
    "nextpagetoken",
    "nexttoken",
    "nextmarker",
    "nextcursormark",
    "continuationtoken",
    "continue",
];

/// Names of a member that says, when true, that more pages follow
/// (Stripe's and Notion's `has_more`, GraphQL's `hasNextPage`, AWS IAM's
/// `IsTruncated`, Pipedrive's `more_items_in_collection`, Zoho CRM's
/// `more_records`, Marketo's `moreResult`, PagerDuty's and etcd's `more`).
const MORE_NAMES: [&str; 10] = [
    "hasmore",
    "hasnextpage",
    "hasnext",
    "moreitems",
    "istruncated",
    "moreitemsincollection",
    "morerecords",
    "moreresult",
    "moreresults",
    "more",
];

/// Names of a member that says, when false, that more pages follow
/// (Jira's `isLast`, Spring's `last`, ClickUp's `last_page`).
const LAST_NAMES: [&str; 4] = ["islast", "islastpage", "last", "lastpage"];

/// The records path's keys, where the records lie in an array or an
/// object at a path of names (none at the page itself), taken whole or
/// each of its members (`$.query.pages.*`): the members outside them are
/// the page's own, not a record's.
pub(crate) fn records_keys(job: &Job) -> Option<Vec<String>> {
    if job.records.mode == RecordMode::One {
        return None;
    }
    let Some(path) = &job.records.path else {
        return Some(Vec::new());
    };
    let segments = path.segments()?;
    let keys = match segments.split_last() {
        Some((Segment::Wildcard, keys)) => keys,
        _ => segments,
    };
    (keys.iter())
        .map(|segment| match segment {
            Segment::Key(key) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// For a job without `[paginate]`, which reads one page: the records
/// path's keys (see [`records_keys`]), empty where its members are not
/// looked at. `None` for a job that pages.
pub(crate) fn unpaged_checked(job: &Job) -> Option<Vec<String>> {
    (job.paginate.kind == Kind::None).then(|| records_keys(job).unwrap_or_default())
}

/// What a member of a page, or a header, says of the next page (see
/// [`Probe::next_page`](crate::Probe::next_page)): the path of the member,
/// as a job's `paginate.from` would name it, or the header's name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextPage {
    /// Its address, at this path.
    Link(String),
    /// A cursor or token that asks for it.
    Cursor(String),
    /// That more pages follow (`has_more` is true).
    More(String),
    /// That this page is not the last (`isLast` is false).
    Last(String),
    /// That more pages follow by number: the page's number, at `page`,
    /// below the count of pages, at `pages` (Litestar's `current_page`
    /// and `total_pages`).
    Numbered {
        /// The path of the page's number.
        page: String,
        /// The path of the count of pages.
        pages: String,
    },
    /// Its address, in the response header of this name (Kinto's
    /// `Next-Page`).
    HeaderLink(String),
    /// Its number, in the response header of this name (GitLab's
    /// `X-Next-Page`).
    HeaderNumber(String),
    /// A token that asks for it, in the response header of this name
    /// (Azure DevOps's `x-ms-continuationtoken`).
    HeaderCursor(String),
    /// The parameters that ask for it: the members of the object at
    /// this path (MediaWiki's `continue`).
    Parameters(String),
}

/// Response headers that name the next page, as APIs spell them: Kinto's
/// `Next-Page` (a link), GitLab's `X-Next-Page` (a number, empty on the
/// last page), Azure DevOps's `x-ms-continuationtoken` and Cosmos DB's
/// `x-ms-continuation` (tokens), and the `X-Next` and `X-Next-Cursor` of
/// the reference's examples.
const NEXT_HEADERS: [&str; 6] = [
    "Next-Page",
    "X-Next-Page",
    "x-ms-continuationtoken",
    "x-ms-continuation",
    "X-Next",
    "X-Next-Cursor",
];

/// The first header among `headers` that names a next page
/// ([`NEXT_HEADERS`]), by what it holds: a link, a page's number (in a
/// header named for a page) or a token. An empty one names none.
pub(crate) fn next_in_headers(headers: &[(String, String)]) -> Option<NextPage> {
    headers.iter().find_map(|(name, value)| {
        let name = NEXT_HEADERS.iter().find(|h| h.eq_ignore_ascii_case(name))?;
        let value = value.trim();
        let name = (*name).to_owned();
        if value.is_empty() {
            None
        } else if is_link(value) {
            Some(NextPage::HeaderLink(name))
        } else if name.ends_with("Page") && value.bytes().all(|b| b.is_ascii_digit()) {
            Some(NextPage::HeaderNumber(name))
        } else {
            Some(NextPage::HeaderCursor(name))
        }
    })
}

/// The records each pass's pages held, held against the count its own
/// first page gave: a fan-out value's or a window's count is its own, and
/// one pass that stops short (GitHub's search stops at 1000 results) is
/// lost among the records of the others. A pass is held to its count
/// once it has ended and no page of it waits to be written: pages are
/// made out of order, and a pass ends before its last rows are written.
#[derive(Debug, Default)]
pub(crate) struct PassCounts {
    open: BTreeMap<u64, PassCount>,
    /// Passes of a job without `[paginate]` whose one page held a page
    /// size ([`full_page`]) and gave no count.
    full: u64,
    /// The first of them: its page's address and records.
    first_full: Option<(String, u64)>,
    /// Passes that ended of themselves short of their count.
    short: u64,
    /// The warning of the first of them.
    first_short: Option<String>,
}

#[derive(Debug, Default)]
struct PassCount {
    count: Option<ApiCount>,
    /// The address of the pass's first page.
    shown: Option<String>,
    records: u64,
    stop: Option<Stop>,
}

/// Whether a pass's pages held records, as many as its count or more.
fn reached(open: &PassCount) -> bool {
    (open.count.as_ref()).is_some_and(|count| open.records > 0 && open.records >= count.count)
}

impl PassCounts {
    /// Whether pass `pass`'s first page gave a count.
    pub(crate) fn has_count(&self, pass: u64) -> bool {
        self.open.get(&pass).is_some_and(|p| p.count.is_some())
    }

    /// Notes the count of pass `pass`'s first page, if it has none yet.
    /// `shown` is the page's address.
    pub(crate) fn counted(&mut self, pass: u64, count: Option<&ApiCount>, shown: &str) {
        let open = self.open.entry(pass).or_default();
        open.shown.get_or_insert_with(|| shown.to_owned());
        if open.count.is_none() {
            open.count = count.cloned();
        }
    }

    /// Adds a page's records (all it held) to pass `pass`'s.
    pub(crate) fn read(&mut self, pass: u64, records: usize) {
        self.open.entry(pass).or_default().records += records as u64;
    }

    /// Notes why pass `pass` ended.
    pub(crate) fn ended(&mut self, pass: u64, stop: Stop) {
        self.open.entry(pass).or_default().stop = Some(stop);
    }

    /// Pass `pass`'s count and the records its pages held so far.
    pub(crate) fn of(&self, pass: u64) -> Option<(&ApiCount, u64)> {
        let open = self.open.get(&pass)?;
        Some((open.count.as_ref()?, open.records))
    }

    /// Holds each ended pass whose pages are all written (`written`) to
    /// its count, and forgets it.
    pub(crate) fn close(&mut self, job: &Job, written: impl Fn(u64) -> bool) {
        let done: Vec<u64> = (self.open.iter())
            .filter(|(pass, open)| open.stop.is_some() && written(**pass))
            .map(|(pass, _)| *pass)
            .collect();
        for pass in done {
            let open = self.open.remove(&pass).expect("listed above");
            self.hold(job, open);
        }
    }

    /// Whether pass `pass`'s pages held at least one record and as many
    /// as its first page counted. `None`: the last pass, where the run
    /// has ended it (a pass is held to its count after its last page is
    /// written).
    pub(crate) fn all_read(&self, pass: Option<u64>) -> bool {
        let open = match pass {
            Some(pass) => self.open.get(&pass),
            None => self.open.values().next_back(),
        };
        open.is_some_and(reached)
    }

    /// Holds an ended pass to its count, where its first page gave one;
    /// where it gave none, notes a job's one page that held a page size.
    fn hold(&mut self, job: &Job, open: PassCount) {
        let Some(stop) = open.stop else {
            return;
        };
        let Some(count) = open.count else {
            if holds_page_size(job, open.records) {
                self.full += 1;
                let shown = open.shown.unwrap_or_default();
                self.first_full.get_or_insert((shown, open.records));
            }
            return;
        };
        if let Some(warning) = short_of_count(job, &count, open.records, stop) {
            self.short += 1;
            self.first_short.get_or_insert(warning);
        }
    }

    /// Holds every ended pass left to its count, once the run has written
    /// all, and says what a run of `passes` passes says of those that
    /// came short, and of a job's one pages that held a page size: one
    /// pass's warning as it stands, several counted.
    pub(crate) fn finish(mut self, job: &Job, passes: u64) -> Vec<String> {
        for open in std::mem::take(&mut self.open).into_values() {
            self.hold(job, open);
        }
        let short = self.first_short.map(|first| match passes <= 1 {
            true => first,
            false => format!(
                "{} of {passes} passes (fan-out values or windows) read fewer records than their \
                 first page counts; the first: {first}",
                self.short
            ),
        });
        let full = self.first_full.map(|(shown, held)| {
            let first = full_page(job, held, &shown);
            match passes <= 1 {
                true => first,
                false => format!(
                    "{} of {passes} passes (fan-out values) read one page that held a page size \
                     and named nothing more; the first: {first}",
                    self.full
                ),
            }
        });
        short.into_iter().chain(full).collect()
    }
}

/// Keys of a link inside a member named like the next page: HAL's
/// `_links.next.href`, JSON:API's link objects, Asana's `next_page.uri`.
const LINK_KEYS: [&str; 4] = ["href", "uri", "url", "link"];

/// Keys of a cursor inside a member named like the next page, folded:
/// Intercom's `pages.next.starting_after`, HubSpot's `paging.next.after`.
/// A link beside it comes first.
const CURSOR_KEYS: [&str; 3] = ["startingafter", "after", "cursor"];

/// A member of `page` outside the records (`records`, their path's
/// keys) that names a next page (a link, or a cursor: a non-empty string
/// or a number), or says more follow (`true`), found by [`near_top`].
/// A link may be an object's (`_links.next.href`) or the `href` beside
/// `rel: "next"` in an array of links (PayPal's `links`). Failing those,
/// a bare `cursor` (Algolia's browse, the AT Protocol) or an `offset`
/// that is not a number (Airtable's `itr…/rec…`) names a cursor: such
/// names also echo the page asked for, so any other name comes first.
pub(crate) fn next_named<'v, N: Node<'v>>(page: N, records: &[String]) -> Option<NextPage> {
    let (mut weak, mut nested_cursor) = (None, None);
    let mut elements = Vec::new();
    let mut numbered = (!records.is_empty())
        .then(|| page_of_pages(page, &[]))
        .flatten();
    let strong = outside(page, records, |keys, value| {
        let name = named(keys);
        let at = || spelled(keys);
        let parent = keys.len().checked_sub(2).map(|i| folded(&keys[i]));
        let under_next = parent.is_some_and(|p| NEXT_NAMES.contains(&p.as_str()));
        let nested = under_next && LINK_KEYS.contains(&name.as_str());
        match value.view() {
            View::Str(text) if NEXT_NAMES.contains(&name.as_str()) || nested => {
                let text = text.trim();
                match (text.is_empty(), is_link(text)) {
                    (true, _) => None,
                    (false, true) => Some(NextPage::Link(at())),
                    // An object's `url` that is no link names nothing.
                    (false, false) if nested => None,
                    (false, false) => Some(NextPage::Cursor(at())),
                }
            }
            View::I64(_) | View::U64(_) if NEXT_NAMES.contains(&name.as_str()) => {
                Some(NextPage::Cursor(at()))
            }
            View::Bool(true) if MORE_NAMES.contains(&name.as_str()) => Some(NextPage::More(at())),
            View::Bool(false) if LAST_NAMES.contains(&name.as_str()) => Some(NextPage::Last(at())),
            View::Compound if name == "continue" && parameters(value) => {
                Some(NextPage::Parameters(at()))
            }
            View::Compound if rel_next(value, &mut elements) => Some(NextPage::Link(format!(
                "{}[?@.rel == 'next'].href",
                rooted(&at())
            ))),
            View::Compound if numbered.is_none() => {
                numbered = page_of_pages(value, keys);
                None
            }
            View::Str(text)
                if nested_cursor.is_none()
                    && under_next
                    && CURSOR_KEYS.contains(&name.as_str())
                    && !text.trim().is_empty() =>
            {
                nested_cursor = Some(NextPage::Cursor(at()));
                None
            }
            View::Str(text) if weak.is_none() && is_weak_cursor(&name, text.trim()) => {
                weak = Some(NextPage::Cursor(at()));
                None
            }
            View::I64(_) | View::U64(_) if weak.is_none() && name == "cursor" => {
                weak = Some(NextPage::Cursor(at()));
                None
            }
            _ => None,
        }
    });
    strong
        .or(nested_cursor)
        .or(numbered)
        .or_else(|| changes_pending(page))
        .or(weak)
}

/// Whether `object` is made of a next request's parameters: a value
/// each, strings or numbers (MediaWiki's `continue`).
fn parameters<'v, N: Node<'v>>(object: N) -> bool {
    let (mut scalars, mut others) = (0, 0);
    object.members(&mut |_, value| match value.view() {
        View::Str(_) | View::I64(_) | View::U64(_) | View::F64(_) => scalars += 1,
        _ => others += 1,
    });
    scalars > 0 && others == 0
}

/// CouchDB's `_changes` asked with a `limit`: `pending` counts the
/// changes left, and `last_seq` is the sequence to ask for them `since`.
fn changes_pending<'v, N: Node<'v>>(page: N) -> Option<NextPage> {
    let pending = page.get("pending").and_then(whole)?;
    (pending > 0 && page.get("last_seq").is_some()).then(|| NextPage::Cursor("last_seq".to_owned()))
}

/// Names of a member that gives a page's number, folded (see
/// [`folded`]), and the number of the first page: Spring's `number`
/// counts from 0.
const PAGE_NAMES: [(&str, u64); 5] = [
    ("page", 1),
    ("currentpage", 1),
    ("pagenumber", 1),
    ("pageno", 1),
    ("number", 0),
];

/// Names of a member that counts the pages, folded.
const PAGES_NAMES: [&str; 5] = ["totalpages", "pagecount", "pages", "lastpage", "numpages"];

/// Whether `object` (at `keys`) gives its page's number below its count
/// of pages: `{"current_page": 1, "total_pages": 13}`. A page numbered 0
/// counts from 0.
fn page_of_pages<'v, N: Node<'v>>(object: N, keys: &[String]) -> Option<NextPage> {
    let (mut page, mut pages) = (None, None);
    object.members(&mut |key, value| {
        let Some(n) = whole(value) else { return };
        let name = folded(key);
        if let Some((_, first)) = PAGE_NAMES.iter().find(|(page, _)| *page == name) {
            let first = if n == 0 { 0 } else { *first };
            page.get_or_insert_with(|| (key.to_owned(), n, first));
        } else if PAGES_NAMES.contains(&name.as_str()) {
            pages.get_or_insert_with(|| (key.to_owned(), n));
        }
    });
    let ((page, n, first), (pages, of)) = (page?, pages?);
    let at = |key: String| {
        let mut keys = keys.to_vec();
        keys.push(key);
        spelled(&keys)
    };
    (n + 1 - first < of).then(|| NextPage::Numbered {
        page: at(page),
        pages: at(pages),
    })
}

/// A non-empty `cursor`, or an `offset` that is not a number.
fn is_weak_cursor(name: &str, text: &str) -> bool {
    match name {
        "cursor" => !text.is_empty(),
        "offset" => !text.is_empty() && !text.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// Whether an array holds a link object `{"rel": "next", "href": …}`.
fn rel_next<'v, N: Node<'v>>(array: N, elements: &mut Vec<N>) -> bool {
    elements.clear();
    array.elements(elements);
    elements.iter().any(|link| {
        let text = |key| match link.get(key).map(Node::view) {
            Some(View::Str(text)) => Some(text),
            _ => None,
        };
        text("rel") == Some("next") && text("href").is_some_and(|href| is_link(href.trim()))
    })
}

/// A path as JSONPath from the root: `links` → `$.links`.
fn rooted(path: &str) -> String {
    match path.starts_with('$') {
        true => path.to_owned(),
        false => format!("$.{path}"),
    }
}

/// Page sizes APIs stop at where a request asks for none, or for more:
/// Strapi's 25, Sails's 30, Directus's and Contentful's 100, PostgREST's
/// `max-rows` (often 1000). Ten is left out: many small lists hold ten.
const ROUND_SIZES: [u64; 11] = [20, 25, 30, 50, 100, 200, 250, 500, 1000, 2000, 5000];

/// Names of a request parameter that asks for a page's size, folded
/// (see [`folded`]): `limit`, `per_page`, `page_size`, Solr's `rows`,
/// OData's `$top`, Google's `maxResults`, Bitbucket's `pagelen`,
/// Elasticsearch's and Spring's `size`. In brackets, the name inside
/// (`page[size]`, `pagination[pageSize]`).
const SIZE_PARAMS: [&str; 10] = [
    "limit",
    "perpage",
    "pagesize",
    "pagelimit",
    "size",
    "rows",
    "top",
    "maxresults",
    "pagelen",
    "maxitems",
];

/// The page size `job`'s request asks for, as `name=N`: a whole number
/// above 0 under a name of [`SIZE_PARAMS`], in its `query`, its URL's
/// query, or its JSON body's top level (CouchDB's `_find`,
/// Elasticsearch's search). A page that holds that many is full: the
/// API may have more.
fn asked_size(job: &Job) -> Option<(String, u64)> {
    let request = job.request.as_ref()?;
    let sized = |name: &str| {
        let inner = name.rsplit('[').next().unwrap_or(name);
        SIZE_PARAMS.contains(&folded(inner).as_str())
    };
    let number = |value: &str| value.trim().parse::<u64>().ok().filter(|&n| n > 0);
    // A credential is never quoted, whatever its name.
    let table = (request.query.iter())
        .filter(|(_, _, secret)| !secret)
        .map(|(name, value, _)| (name.clone(), value.clone()));
    let in_url = url::Url::parse(&request.url)
        .ok()
        .into_iter()
        .flat_map(|url| {
            let pairs = url
                .query_pairs()
                .map(|(name, value)| (name.into_owned(), value.into_owned()));
            pairs.collect::<Vec<_>>()
        });
    let from_query = table.chain(in_url).find_map(|(name, value)| {
        let n = number(&value).filter(|_| sized(&name))?;
        Some((format!("{name}={value}"), n))
    });
    from_query.or_else(|| match &request.body {
        Some(Body::Json(serde_json::Value::Object(members))) => {
            members.iter().find_map(|(name, value)| {
                let n = value.as_u64().filter(|&n| n > 0 && sized(name))?;
                Some((format!("\"{name}\": {n}"), n))
            })
        }
        _ => None,
    })
}

/// Whether a pass of `job` whose one page held `held` records, and named
/// neither a next page nor a count, may have stopped at a page size: the
/// job has no `[paginate]`, its records are where a count is held against
/// them ([`count_checked`]), and `held` is one of [`ROUND_SIZES`] or the
/// size the request asks for ([`asked_size`]). Directus and PostgREST
/// serve their first page so, with no sign of the rest; so does a URL
/// copied with its `limit`. The run, `check` and `hydrant init` ask it
/// alike.
pub(crate) fn holds_page_size(job: &Job, held: u64) -> bool {
    job.paginate.kind == Kind::None
        && count_checked(job).is_some()
        && (ROUND_SIZES.contains(&held) || asked_size(job).is_some_and(|(_, n)| n == held))
}

/// What is said of such a page ([`holds_page_size`]) of `job`, from
/// `shown`.
pub(crate) fn full_page(job: &Job, held: u64, shown: &str) -> String {
    let why = match asked_size(job) {
        Some((asked, n)) if n == held => format!("the page size its request asks for (`{asked}`)"),
        _ => "a page size APIs stop at (Directus and PostgREST give no other sign)".to_owned(),
    };
    format!(
        "the page from {shown} holds exactly {held} records, {why}, and names no next page and \
         no count: the job has no [paginate], so records past these were not read if the API \
         has more; set [paginate] to the API's paging, or if {held} is all, this can be ignored"
    )
}

/// The `[paginate]` a job without it is told to set where a page names
/// its next page's number.
const PAGED: &str =
    "`type = \"page\"` and the parameter the API reads the page's number from (`param`)";

/// What a job without `[paginate]` says when a page, from `shown`,
/// names a next page: by a `Link` header (`headers`), by a member
/// ([`next_named`]), or by another header ([`next_in_headers`]). No page
/// after it is read.
pub(crate) fn unpaged(
    headers: &[(String, String)],
    named: Option<NextPage>,
    shown: &str,
) -> Option<String> {
    let links = (headers.iter())
        .filter(|(name, _)| name.eq_ignore_ascii_case("link"))
        .map(|(_, value)| value.as_str());
    let named = named.or_else(|| next_in_headers(headers));
    let (says, set) = match (hydrant_paginate::find_rel(links, "next"), named) {
        (Some(_), _) => (
            "has a Link header to a next page".to_owned(),
            "`type = \"link_header\"`".to_owned(),
        ),
        (None, Some(NextPage::Link(at))) => (
            format!("names a next page at `{at}`"),
            format!("`type = \"next_link\"`, `from = \"{at}\"`"),
        ),
        (None, Some(NextPage::Cursor(at))) => (
            format!("names a next page's cursor at `{at}`"),
            format!(
                "`type = \"cursor\"`, `from = \"{at}\"` and the parameter the API reads it \
                 from (`param`)"
            ),
        ),
        (None, Some(NextPage::More(at))) => (
            format!("says more pages follow (`{at}` is true)"),
            "the API's paging".to_owned(),
        ),
        (None, Some(NextPage::Last(at))) => (
            format!("says more pages follow (`{at}` is false)"),
            "the API's paging".to_owned(),
        ),
        (None, Some(NextPage::Numbered { page, pages })) => (
            format!("says more pages follow (`{page}` is below `{pages}`)"),
            PAGED.to_owned(),
        ),
        (None, Some(NextPage::HeaderLink(name))) => (
            format!("names a next page's URL in the {name} header"),
            format!("`type = \"next_link\"`, `header = \"{name}\"`"),
        ),
        (None, Some(NextPage::HeaderNumber(name))) => (
            format!("names its next page's number in the {name} header"),
            PAGED.to_owned(),
        ),
        (None, Some(NextPage::Parameters(at))) => (
            format!("names the next page's parameters in `{at}`"),
            format!(
                "`type = \"cursor\"`, `from = \"{at}\"` and no `param`, so that each of \
                 its members is sent"
            ),
        ),
        (None, Some(NextPage::HeaderCursor(name))) => (
            format!("names a next page's token in the {name} header"),
            format!(
                "`type = \"cursor\"`, `header = \"{name}\"` and where the API reads it \
                 back (`param`, `in`)"
            ),
        ),
        (None, None) => return None,
    };
    Some(format!(
        "the page from {shown} {says}, but the job has no [paginate], so no page after it is \
         read: set [paginate] to {set}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Solr counts its results in `response.numFound` (a bound where
    /// `numFoundExact` is false) and names its deep paging's next page
    /// in `nextCursorMark`.
    #[test]
    fn solr_answers_give_their_count_and_next_cursor() {
        let read = |page: &str| {
            let mut bytes = page.as_bytes().to_vec();
            let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
            let keys = ["response".to_owned(), "docs".to_owned()];
            let count = api_count(&tree, &keys, "p").map(|c| (c.at, c.count));
            (count, next_named(&tree, &keys))
        };
        let solr = r#"{"responseHeader": {"status": 0}, "response": {"numFound": 123,
            "start": 0, "numFoundExact": true, "docs": []}, "nextCursorMark": "AoE/"}"#;
        let counted = Some(("response.numFound".to_owned(), 123));
        let cursor = Some(NextPage::Cursor("nextCursorMark".to_owned()));
        assert_eq!(read(solr), (counted.clone(), cursor));
        let bound = solr.replace("\"numFoundExact\": true", "\"numFoundExact\": false");
        assert_eq!(read(&bound).0, None);
        let older = solr.replace(", \"numFoundExact\": true", "");
        assert_eq!(read(&older).0, counted);
    }

    #[test]
    fn a_next_page_is_read_from_the_headers_apis_name_it_in() {
        let next = |name: &str, value: &str| {
            next_in_headers(&[
                ("content-type".to_owned(), "application/json".to_owned()),
                (name.to_owned(), value.to_owned()),
            ])
        };
        let link = |name: &str| Some(NextPage::HeaderLink(name.to_owned()));
        let number = |name: &str| Some(NextPage::HeaderNumber(name.to_owned()));
        let token = |name: &str| Some(NextPage::HeaderCursor(name.to_owned()));
        let kinto = "http://h/v1/buckets/b/collections/c/records?_limit=10&_token=eyJsYXN0";
        assert_eq!(next("next-page", kinto), link("Next-Page"));
        assert_eq!(next("Next-Page", "/records?_token=2"), link("Next-Page"));
        assert_eq!(next("x-next-page", "2"), number("X-Next-Page"));
        assert_eq!(next("x-next-page", " "), None);
        assert_eq!(next("x-next", "https://h/items?after=9"), link("X-Next"));
        // A token of digits is a token where the header names no page.
        assert_eq!(
            next("x-ms-continuationtoken", "12"),
            token("x-ms-continuationtoken")
        );
        assert_eq!(
            next("x-ms-continuation", "+RID:~abc#RT:1"),
            token("x-ms-continuation")
        );
        assert_eq!(next("x-next-cursor", "c2"), token("X-Next-Cursor"));
        assert_eq!(next("x-page", "2"), None);
        assert_eq!(next("x-next-page-size", "2"), None);
    }

    /// What `page` names of the next, its records at `records`.
    fn next_beside(page: &str, records: &str) -> Option<NextPage> {
        let mut bytes = page.as_bytes().to_vec();
        let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
        next_named(&tree, &[records.to_owned()])
    }

    /// CouchDB's `_changes` asked with a `limit` counts the changes
    /// still `pending` after its `last_seq`; PouchDB's, and one caught
    /// up, name no next page.
    #[test]
    fn couchdb_changes_name_their_last_seq_while_changes_are_pending() {
        let next = |page: &str| next_beside(page, "results");
        let changes = r#"{"results": [], "last_seq": "10-g1AAAAFT", "pending": 113}"#;
        assert_eq!(next(changes), Some(NextPage::Cursor("last_seq".to_owned())));
        let caught_up = r#"{"results": [], "last_seq": "123-g1AAAAFT", "pending": 0}"#;
        assert_eq!(next(caught_up), None);
        assert_eq!(next(r#"{"results": [], "last_seq": 10}"#), None);
    }

    /// MediaWiki's `continue`, an object of parameters, and Kubernetes'
    /// `metadata.continue`, a token, neither on the last page; a cursor
    /// in a `next` object (Intercom's; HubSpot's link beside it comes
    /// first); PagerDuty's `more`.
    #[test]
    fn a_next_page_is_read_in_continue_in_next_objects_and_in_more() {
        let next = |page: &str| next_beside(page, "data");
        let cursor = |at: &str| Some(NextPage::Cursor(at.to_owned()));
        let intercom = r#"{"data": [], "pages": {"type": "pages", "page": 1, "total_pages": 3,
            "next": {"page": 2, "starting_after": "WzE3MDk"}}}"#;
        assert_eq!(next(intercom), cursor("pages.next.starting_after"));
        let hubspot = r#"{"data": [], "paging": {"next": {"after": "2", "link": "/c?after=2"}}}"#;
        assert_eq!(
            next(hubspot),
            Some(NextPage::Link("paging.next.link".to_owned()))
        );
        let pagerduty = r#"{"data": [], "limit": 25, "offset": 0, "total": null, "more": true}"#;
        assert_eq!(next(pagerduty), Some(NextPage::More("more".to_owned())));
        let mediawiki = r#"{"continue": {"apcontinue": "B", "continue": "-||"}, "data": []}"#;
        assert_eq!(
            next(mediawiki),
            Some(NextPage::Parameters("continue".to_owned()))
        );
        assert_eq!(next(r#"{"batchcomplete": "", "data": []}"#), None);
        assert_eq!(next(r#"{"data": [], "continue": {"a": {"b": 1}}}"#), None);
        let kubernetes =
            r#"{"metadata": {"resourceVersion": "9", "continue": "eyJ2Ijo"}, "data": []}"#;
        assert_eq!(next(kubernetes), cursor("metadata.continue"));
        assert_eq!(
            next(r#"{"metadata": {"resourceVersion": "9"}, "data": []}"#),
            None
        );
    }

    #[test]
    fn a_next_page_is_read_where_apis_name_it() {
        let next = |page: &str| next_beside(page, "data");
        let link = |at: &str| Some(NextPage::Link(at.to_owned()));
        let cursor = |at: &str| Some(NextPage::Cursor(at.to_owned()));
        assert_eq!(
            next(r#"{"data": [], "links": {"next": "https://h/p?2"}}"#),
            link("links.next")
        );
        assert_eq!(
            next(r#"{"data": [], "nextRecordsUrl": "/q/01g-2000"}"#),
            link("nextRecordsUrl")
        );
        assert_eq!(next(r#"{"data": [], "next": "?page=2"}"#), link("next"));
        assert_eq!(
            next(r#"{"data": [], "@odata.nextLink": "https://h/x?$skip=2"}"#),
            link("$['@odata.nextLink']")
        );
        assert_eq!(
            next(r#"{"data": [], "nextPageToken": "CAoQAA"}"#),
            cursor("nextPageToken")
        );
        assert_eq!(
            next(r#"{"data": [], "meta": {"next_page": 2}}"#),
            cursor("meta.next_page")
        );
        assert_eq!(
            next(r#"{"data": [], "has_more": true}"#),
            Some(NextPage::More("has_more".to_owned()))
        );
        assert_eq!(
            next(r#"{"data": [], "next_page_uri": "/2010-04-01/M.json?Page=1&PageToken=PA"}"#),
            link("next_page_uri")
        );
        assert_eq!(
            next(r#"{"data": [], "NextMarker": "f-2"}"#),
            cursor("NextMarker")
        );
        assert_eq!(
            next(r#"{"data": [], "IsTruncated": true, "Marker": "m"}"#),
            Some(NextPage::More("IsTruncated".to_owned()))
        );
        assert_eq!(
            next(r#"{"data": [], "startAt": 0, "total": 9, "isLast": false}"#),
            Some(NextPage::Last("isLast".to_owned()))
        );
        // Pipedrive's, Zoho CRM's, Marketo's; ClickUp's `last_page`.
        let pipedrive = r#"{"data": [], "additional_data": {"pagination": {"start": 0,
            "limit": 100, "more_items_in_collection": true, "next_start": 100}}}"#;
        assert_eq!(
            next(pipedrive),
            Some(NextPage::More(
                "additional_data.pagination.more_items_in_collection".to_owned()
            ))
        );
        assert_eq!(
            next(r#"{"data": [], "info": {"per_page": 200, "more_records": true}}"#),
            Some(NextPage::More("info.more_records".to_owned()))
        );
        assert_eq!(
            next(r#"{"data": [], "moreResult": true}"#),
            Some(NextPage::More("moreResult".to_owned()))
        );
        assert_eq!(
            next(r#"{"data": [], "last_page": false}"#),
            Some(NextPage::Last("last_page".to_owned()))
        );
        let numbered = |page: &str, pages: &str| {
            Some(NextPage::Numbered {
                page: page.to_owned(),
                pages: pages.to_owned(),
            })
        };
        // Litestar's classic pages, Spring's from 0, Laravel's in `meta`.
        assert_eq!(
            next(r#"{"data": [], "page_size": 10, "current_page": 1, "total_pages": 13}"#),
            numbered("current_page", "total_pages")
        );
        assert_eq!(
            next(r#"{"data": [], "number": 0, "size": 20, "totalPages": 2}"#),
            numbered("number", "totalPages")
        );
        assert_eq!(
            next(r#"{"data": [], "meta": {"current_page": 2, "last_page": 3}}"#),
            numbered("meta.current_page", "meta.last_page")
        );
        // A link comes first.
        assert_eq!(
            next(r#"{"data": [], "page": 1, "pages": 2, "next": "/p?page=2"}"#),
            link("next")
        );
        for page in [
            // A last page, numbered from 1 or from 0.
            r#"{"data": [], "current_page": 13, "total_pages": 13}"#,
            r#"{"data": [], "number": 1, "totalPages": 2}"#,
            r#"{"data": [], "page": 0, "pages": 1}"#,
            // A page number without a count of pages, or no number.
            r#"{"data": [], "page": 1, "total": 40}"#,
            r#"{"data": [], "page": "1", "total_pages": 4}"#,
            // A page of records numbered so: its members are a record's.
            r#"{"data": [{"page": 1, "pages": 9}]}"#,
            // A last page.
            r#"{"data": [], "next": null, "has_more": false}"#,
            r#"{"data": [], "isLast": true, "IsTruncated": false}"#,
            r#"{"data": [], "info": {"more_records": false}, "last_page": true}"#,
            r#"{"data": [], "next": "", "nextPageToken": " "}"#,
            // In the records, in an object of records too.
            r#"{"data": [{"next": "https://h/p?2"}]}"#,
            r#"{"data": {"a": {"has_more": true}}}"#,
            // Names that say something else.
            r#"{"data": [], "previous": "https://h/p?1", "self": "https://h/p?2"}"#,
        ] {
            assert_eq!(next(page), None, "{page}");
        }
    }

    #[test]
    fn the_count_of_records_is_read_where_apis_give_it() {
        let count = |page: &str, records: &[&str]| {
            let mut bytes = page.as_bytes().to_vec();
            let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
            let keys: Vec<String> = records.iter().map(|k| (*k).to_owned()).collect();
            api_count(&tree, &keys, "p").map(|c| (c.at, c.count))
        };
        let at = |path: &str, n| Some((path.to_owned(), n));
        let github = r#"{"total_count": 1234, "incomplete_results": false, "items": []}"#;
        assert_eq!(count(github, &["items"]), at("total_count", 1234));
        let odata = r#"{"@odata.count": 7, "value": []}"#;
        assert_eq!(count(odata, &["value"]), at("$['@odata.count']", 7));
        let spring = r#"{"content": [], "page": {"size": 20, "totalElements": 45}}"#;
        assert_eq!(count(spring, &["content"]), at("page.totalElements", 45));
        let strapi = r#"{"data": [], "meta": {"pagination": {"page": 1, "total": 9}}}"#;
        assert_eq!(count(strapi, &["data"]), at("meta.pagination.total", 9));
        let sap =
            r#"{"d": {"results": [], "__count": "57", "__next": "https://h/E?$skiptoken=9"}}"#;
        assert_eq!(count(sap, &["d", "results"]), at("d.__count", 57));
        let mongoose = r#"{"docs": [], "totalDocs": 57, "limit": 10, "totalPages": 6}"#;
        assert_eq!(count(mongoose, &["docs"]), at("totalDocs", 57));
        let elastic = r#"{"took": 3, "hits": {"total": {"value": 57, "relation": "eq"},
            "max_score": 1.0, "hits": []}}"#;
        assert_eq!(
            count(elastic, &["hits", "hits"]),
            at("hits.total.value", 57)
        );
        // Beside the records first: Elasticsearch's `_shards` comes first.
        let shards = r#"{"took": 3, "_shards": {"total": 5, "successful": 5, "failed": 0},
            "hits": {"total": {"value": 57, "relation": "eq"}, "hits": []}}"#;
        assert_eq!(count(shards, &["hits", "hits"]), at("hits.total.value", 57));
        let both = r#"{"meta": {"count": 3}, "total": 5, "data": []}"#;
        assert_eq!(count(both, &["data"]), at("total", 5));
        let nested = r#"{"stats": {"total": 9}, "result": {"total": 57, "items": []}}"#;
        assert_eq!(count(nested, &["result", "items"]), at("result.total", 57));
        let elsewhere = r#"{"meta": {"count": 3}, "data": []}"#;
        assert_eq!(count(elsewhere, &["data"]), at("meta.count", 3));
        for page in [
            // Not a whole number of records.
            r#"{"total": 12.5, "data": []}"#,
            r#"{"total": -1, "data": []}"#,
            r#"{"total": "40", "data": []}"#,
            r#"{"__count": "4x", "data": []}"#,
            // Elasticsearch's total where it is a bound, not a count; its
            // shards' count.
            r#"{"hits": {"total": {"value": 10000, "relation": "gte"}, "hits": []}}"#,
            r#"{"_shards": {"total": 5, "failed": 0}, "hits": {"hits": []}}"#,
            r#"{"hits": {"total": {"value": 10000}, "hits": []}}"#,
            // Names that count something else.
            r#"{"total_pages": 4, "total_amount": 100, "data": []}"#,
            // Inside the records, in an object of records too, or the
            // record that is the page.
            r#"{"total": 3, "id": 1}"#,
            r#"{"data": {"a": {"total": 3}}}"#,
            r#"{"data": [{"total": 3}]}"#,
        ] {
            let records = match page {
                _ if page.contains("hits") => ["hits", "hits"].as_slice(),
                _ if page.contains("\"id\"") => [].as_slice(),
                _ => ["data"].as_slice(),
            };
            assert_eq!(count(page, records), None, "{page}");
        }
    }

    #[test]
    fn the_count_of_records_is_read_from_the_headers_apis_give_it_in() {
        let count = |name: &str, value: &str| {
            let headers = [
                ("content-type".to_owned(), "application/json".to_owned()),
                (name.to_owned(), value.to_owned()),
            ];
            header_count(&headers, "p").map(|c| c.said())
        };
        let said = |n, at: &str| Some(format!("{n} (the `{at}` header)"));
        assert_eq!(count("x-total-count", "95"), said(95, "X-Total-Count"));
        assert_eq!(count("X-Total", " 3 "), said(3, "X-Total"));
        assert_eq!(count("x-wp-total", "14"), said(14, "X-WP-Total"));
        assert_eq!(count("total-count", "251"), said(251, "Total-Count"));
        assert_eq!(
            count("content-range", "0-24/319"),
            said(319, "Content-Range")
        );
        assert_eq!(
            count("Content-Range", "items 0-9/95"),
            said(95, "Content-Range")
        );
        let smorest = r#"{"total": 1000, "total_pages": 100, "page": 1, "next_page": 2}"#;
        assert_eq!(count("X-Pagination", smorest), said(1000, "X-Pagination"));
        let dotnet = r#"{"CurrentPage":1,"PageSize":10,"TotalCount":42,"TotalPages":5}"#;
        assert_eq!(count("x-pagination", dotnet), said(42, "X-Pagination"));
        for (name, value) in [
            // A total not known, or not a whole number.
            ("content-range", "0-24/*"),
            ("x-total-count", "-1"),
            ("x-total-count", "many"),
            // Headers that count something else.
            ("x-total-pages", "4"),
            ("x-wp-totalpages", "4"),
            ("x-ratelimit-remaining", "59"),
            ("x-pagination", r#"{"page": 1, "total_pages": 4}"#),
            ("x-pagination", "total=4"),
        ] {
            assert_eq!(count(name, value), None, "{name}: {value}");
        }
    }

    #[test]
    fn a_page_that_says_it_was_cut_short_is_told() {
        let cut = |page: &str| {
            let mut bytes = page.as_bytes().to_vec();
            let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
            cut_short(&tree, &["rows".to_owned()])
        };
        let datasette = r#"{"ok": true, "rows": [], "truncated": true, "error": null}"#;
        assert_eq!(cut(datasette).as_deref(), Some("truncated"));
        let github = r#"{"total_count": 9, "incomplete_results": true, "rows": []}"#;
        assert_eq!(cut(github).as_deref(), Some("incomplete_results"));
        let elastic = r#"{"took": 5, "timed_out": true, "rows": []}"#;
        assert_eq!(cut(elastic).as_deref(), Some("timed_out"));
        let shards = r#"{"timed_out": false, "_shards": {"total": 5, "successful": 3, "skipped": 0, "failed": 2}, "rows": []}"#;
        assert_eq!(cut(shards).as_deref(), Some("_shards.failed"));
        let solr = r#"{"responseHeader": {"status": 0, "partialResults": true}, "rows": []}"#;
        assert_eq!(cut(solr).as_deref(), Some("responseHeader.partialResults"));
        let graphql = r#"{"rows": [{"id": 1}], "errors": [{"message": "denied"}]}"#;
        assert_eq!(cut(graphql).as_deref(), Some("errors"));
        // Records all left out: the list may seem to end there.
        let none_left = r#"{"rows": [], "errors": [{"message": "denied"}]}"#;
        assert_eq!(cut(none_left).as_deref(), Some("errors"));
        for page in [
            // `errors` alone: the request failed.
            r#"{"rows": null, "errors": [{"message": "Syntax Error"}]}"#,
            r#"{"errors": [{"message": "Syntax Error"}]}"#,
            r#"{"rows": [], "truncated": false, "incomplete_results": false}"#,
            r#"{"rows": [], "errors": []}"#,
            r#"{"rows": [], "errors": null}"#,
            // Only the page's own `errors`, not one deeper.
            r#"{"rows": [], "meta": {"errors": [{"message": "x"}]}}"#,
            r#"{"rows": [], "truncated": "yes"}"#,
            r#"{"rows": [], "_shards": {"total": 5, "successful": 5, "failed": 0}}"#,
            r#"{"rows": [], "stats": {"failed": 3}}"#,
            // A record's own member.
            r#"{"rows": [{"truncated": true}]}"#,
        ] {
            assert_eq!(cut(page), None, "{page}");
        }
    }

    /// InfluxDB's `partial` beside a series' `values`, past arrays: found
    /// on the way to the records, not in them, and named as a path.
    #[test]
    fn a_cut_on_the_way_to_the_records_is_found_past_arrays() {
        let cut = |page: &str, path: &str| {
            let mut bytes = page.as_bytes().to_vec();
            let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
            let path = crate::json::path::JsonPath::parse(path).unwrap();
            cut_on_the_way(&tree, path.segments().unwrap())
        };
        let influx = r#"{"results": [{"statement_id": 0, "series": [{"name": "cpu",
            "columns": ["time"], "values": [["t"]], "partial": true}]}]}"#;
        let values = "$.results[0].series[0].values";
        assert_eq!(
            cut(influx, values).as_deref(),
            Some("$.results[0].series[0].partial")
        );
        let pages = r#"{"q": {"2": {"truncated": true, "rows": []}}}"#;
        assert_eq!(
            cut(pages, "q.2.rows").as_deref(),
            Some("$.q['2'].truncated")
        );
        let named = r#"{"a b": [{"it's": {"timed_out": true, "rows": []}}]}"#;
        assert_eq!(
            cut(named, "$['a b'][0][\"it's\"].rows").as_deref(),
            Some("$['a b'][0]['it\\'s'].timed_out")
        );
        for page in [
            r#"{"results": [{"series": [{"values": [], "partial": false}]}]}"#,
            r#"{"results": [{"series": [{"values": [{"partial": true}]}]}]}"#,
            r#"{"results": [{"series": [{"values": []}, {"partial": true}]}]}"#,
        ] {
            assert_eq!(cut(page, values), None, "{page}");
        }
    }

    #[test]
    fn a_run_is_held_against_a_count_only_where_it_asks_for_every_record() {
        let checked = |rest: &str| {
            let text = format!("[request]\nurl = \"http://h/x\"\n{rest}");
            let vars = crate::job::vars::Vars::isolated([]);
            let job = Job::parse(&text, crate::job::JobFormat::Toml, "job.toml", &vars).unwrap();
            count_checked(&job)
        };
        let keys = |keys: &[&str]| Some(keys.iter().map(|k| (*k).to_owned()).collect());
        assert_eq!(checked("[records]\npath = \"data\""), keys(&["data"]));
        assert_eq!(
            checked("[records]\npath = \"$.result.items\"\n[paginate]\ntype = \"offset\""),
            keys(&["result", "items"])
        );
        assert_eq!(
            checked("[records]\npath = \"data\"\n[paginate]\ntype = \"page\"\nstart = 0"),
            keys(&["data"])
        );
        // Each fan-out value's pass against its own count.
        assert_eq!(
            checked("[records]\npath = \"data\"\n[fanout]\nparam = \"c\"\nvalues = [\"a\"]"),
            keys(&["data"])
        );
        // The records are the page: counted by a header alone.
        assert_eq!(checked(""), keys(&[]));
        assert_eq!(checked("[records]\npath = \"$\""), keys(&[]));
        for rest in [
            // Some of an array's records.
            "[records]\npath = \"$.data[?@.active]\"",
            "[records]\npath = \"$.orders[*].lines\"",
            "[records]\npath = \"data\"\nmode = \"one\"",
            // Records past the first asked for, or a range of them.
            "[records]\npath = \"data\"\n[paginate]\ntype = \"offset\"\nstart = 200",
            "[records]\npath = \"data\"\n[paginate]\ntype = \"page\"\nstart = 3",
            "[records]\npath = \"data\"\n[paginate]\ntype = \"range\"\nparam = \"p\"\nend = 9",
        ] {
            assert_eq!(checked(rest), None, "{rest}");
        }
    }
}
