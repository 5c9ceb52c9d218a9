//! Pagination for hydrant, as sans-I/O state machines.
//!
//! A [`Paginator`] never touches the network. The engine asks it for the
//! first [`Plan`], performs that request, and shows it the response as a
//! [`Page`] (status, headers, record count and the values of the paths the
//! paginator asked to watch). The paginator answers with the next plans or
//! with the reason pagination is over.
//!
//! ```
//! use hydrant_paginate::{Config, Page, Paginator, Step, Stop};
//!
//! let config: Config = serde_json::from_str(r#"{"type": "none"}"#).unwrap();
//! let mut paginator = Paginator::new(&config).unwrap();
//! let first = paginator.first();
//! assert!(first.overrides.is_empty());
//! let page = Page { status: 200, headers: &[], records: 10, watched: &[] };
//! assert_eq!(paginator.next(&page), Step::Done(Stop::NoNext));
//! ```

mod config;
mod link;
mod rules;

pub use config::{Config, ConfigError, Kind, Placement, StopConfig, StopTest};
pub use link::{find_rel, rels};

use std::borrow::Cow;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use rules::Rules;

/// One change to the job's base request, made by a paginator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Override {
    /// Set (replace) a query parameter.
    Query { name: String, value: String },
    /// Set (replace) a request header.
    Header { name: String, value: String },
    /// Set a member of the JSON body, dotted path, keeping the JSON type.
    Body { path: String, value: Value },
    /// Fill a `{name}` placeholder of the URL, query values and headers.
    Var { name: String, value: String },
    /// Request this URL exactly as given (resolved against the current URL
    /// when relative) instead of the job's URL and query.
    Link(String),
}

/// What the engine should send next: the job's base request with these
/// overrides applied in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Plan {
    pub overrides: Vec<Override>,
}

/// What a paginator is shown of a response.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    pub status: u16,
    /// Response headers, names in lower case.
    pub headers: &'a [(String, String)],
    /// Records extracted from this page.
    pub records: usize,
    /// The values of [`Paginator::watched_paths`], in that order; `None`
    /// where the path is absent from the body. A number a `f64` or a
    /// 64-bit integer would not give back as written comes as a string of
    /// [`NUMBER_TEXT`] and its literal.
    pub watched: &'a [Option<Value>],
}

/// Where a followed strategy reads its next value ([`Paginator::follows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follows<'a> {
    /// A body path (`paginate.from`, or its default): its value is
    /// [`Page::watched`]`[index]`.
    Body { index: usize, path: &'a str },
    /// A response header (`paginate.header`), its name in lower case.
    Header(&'a str),
}

/// The prefix of a watched string that holds a number as its page wrote
/// it (`12345678901234567890123`, `1.50`): a cursor made of it goes out
/// as that text, and conditions compare it as the number. It starts with
/// U+0001, which JSON text can only hold escaped.
pub const NUMBER_TEXT: &str = "\u{1}N:";

/// The literal of a number handed over as [`NUMBER_TEXT`].
fn number_text(value: &Value) -> Option<&str> {
    value.as_str()?.strip_prefix(NUMBER_TEXT)
}

/// The records an `offset` page asks for without `paginate.limit`.
pub const DEFAULT_LIMIT: u64 = 100;

/// Why pagination ended; the names are those of the run summary's `stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    NoNext,
    EmptyPage,
    ShortPage,
    EndCondition,
    MaxRequests,
    Loop,
    Status204,
    EndOfRange,
}

impl Stop {
    /// The summary name of this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::NoNext => "no_next",
            Stop::EmptyPage => "empty_page",
            Stop::ShortPage => "short_page",
            Stop::EndCondition => "end_condition",
            Stop::MaxRequests => "max_requests",
            Stop::Loop => "loop",
            Stop::Status204 => "status_204",
            Stop::EndOfRange => "end_of_range",
        }
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The paginator's answer to a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this request next (followed strategies).
    Next(Plan),
    /// Go on with the planned requests, [`Paginator::ahead`] (counted
    /// strategies).
    Continue,
    /// Pagination is over.
    Done(Stop),
}

/// What a paginator has learnt from the pages shown so far, enough to
/// rebuild it in another process ([`Paginator::restore`]) after a crash.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Pages shown.
    pub pages: u64,
    /// Parameters set on the request of the next page.
    pub sent: Vec<(String, Value)>,
    /// Hashes of the cursors and links already followed.
    pub seen: Vec<u64>,
    /// The hash of the cursor or link the next page is requested with,
    /// so that an empty page naming it ends pagination after a resume too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<u64>,
}

/// A pagination state machine for one job (or one fan-out value).
#[derive(Debug)]
pub struct Paginator {
    strategy: Strategy,
    stops: Vec<StopRule>,
    max_requests: Option<u64>,
    watched: Vec<String>,
    /// Pages shown so far.
    pages: u64,
    /// Parameters this paginator set on the request just sent.
    sent: Vec<(String, Value)>,
    /// Hashes of the cursors and links followed, to catch a loop.
    followed: HashSet<u64>,
    /// The hash of the cursor or link the last request was made with.
    last_followed: Option<u64>,
    /// See [`Paginator::named_its_own`].
    named_own: bool,
}

#[derive(Debug, Clone)]
enum Source {
    /// Index into the watched paths.
    Body(usize),
    Header(String),
}

/// The cursor or link a request was made with ([`Paginator::last_followed`]).
#[derive(Debug, Clone)]
pub struct LastFollowed {
    from: NextFrom<'static>,
    hash: u64,
}

impl LastFollowed {
    /// Whether `page` names this cursor or link as its next; `records` is
    /// not read.
    pub fn named_by(&self, page: &Page<'_>) -> bool {
        self.from
            .text(page)
            .is_some_and(|(text, _)| stable_hash(&text) == self.hash)
    }

    /// Whether it is read from a response's headers, not its body: a page
    /// shown to [`LastFollowed::named_by`] needs its headers only then.
    pub fn reads_headers(&self) -> bool {
        match &self.from {
            NextFrom::Rel(_) => true,
            NextFrom::Source(source, _) => matches!(source.as_ref(), Source::Header(_)),
        }
    }
}

/// Where a followed strategy reads the next cursor or link: borrowed from
/// the strategy for each page, owned by a [`LastFollowed`].
#[derive(Debug, Clone)]
enum NextFrom<'s> {
    /// A body path or a header, and the values it may hold.
    Source(Cow<'s, Source>, Takes),
    /// A `Link` header's relation.
    Rel(Cow<'s, str>),
}

impl NextFrom<'_> {
    fn into_owned(self) -> NextFrom<'static> {
        match self {
            NextFrom::Source(source, takes) => {
                NextFrom::Source(Cow::Owned(source.into_owned()), takes)
            }
            NextFrom::Rel(rel) => NextFrom::Rel(Cow::Owned(rel.into_owned())),
        }
    }

    /// The cursor or link `page` names: its text, and the value as
    /// received.
    fn text(&self, page: &Page<'_>) -> Option<(String, Value)> {
        match self {
            NextFrom::Source(source, takes) => text_of(source, *takes, page),
            NextFrom::Rel(rel) => {
                let values = page
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("link"))
                    .map(|(_, v)| v.as_str());
                let link = link::find_rel(values, rel)?;
                Some((link.clone(), Value::String(link)))
            }
        }
    }
}

#[derive(Debug)]
enum Strategy {
    Single,
    Counter(Counter),
    Cursor {
        source: Source,
        param: String,
        placement: Placement,
        initial: Option<Value>,
        /// The job names no `param`: an object cursor's members are
        /// parameters of their own (MediaWiki's `continue`).
        spread: bool,
    },
    NextLink {
        source: Source,
    },
    LinkHeader {
        rel: String,
    },
    Rules(Rules),
}

impl Strategy {
    /// Where a followed strategy reads its next cursor or link.
    fn next_from(&self) -> Option<NextFrom<'_>> {
        match self {
            Strategy::Cursor {
                source,
                placement,
                spread,
                ..
            } => {
                let takes = match (spread, placement) {
                    (true, _) => Takes::Object,
                    (false, Placement::Body) => Takes::Any,
                    (false, _) => Takes::Scalar,
                };
                Some(NextFrom::Source(Cow::Borrowed(source), takes))
            }
            Strategy::NextLink { source } => {
                Some(NextFrom::Source(Cow::Borrowed(source), Takes::Scalar))
            }
            Strategy::LinkHeader { rel } => Some(NextFrom::Rel(Cow::Borrowed(rel))),
            Strategy::Single | Strategy::Counter(_) | Strategy::Rules(_) => None,
        }
    }

    /// The cursor or link a followed strategy's page names.
    fn named_next(&self, page: &Page<'_>) -> Option<(String, Value)> {
        self.next_from()?.text(page)
    }

    /// The request that follows `text` (`value` as received).
    fn plan(&self, text: String, value: &Value) -> Plan {
        match self {
            Strategy::Cursor {
                param,
                placement,
                spread,
                ..
            } => cursor_request((param, *placement, *spread), value, text),
            _ => Plan {
                overrides: vec![Override::Link(text)],
            },
        }
    }
}

/// Offset, page and range: request k is known without any response.
#[derive(Debug)]
struct Counter {
    end: CounterEnd,
    param: String,
    placement: Placement,
    start: i64,
    step: i64,
    /// The placeholder filled with the value: `offset`, `page`, or the
    /// range's parameter name.
    var: String,
    /// Fixed parameters sent with every request (`limit`, `size`).
    fixed: Vec<(String, i64)>,
    /// `offset`: the value steps by the records asked for a page (the
    /// first fixed parameter), so a longer page overlaps the next.
    steps_by_limit: bool,
}

#[derive(Debug)]
enum CounterEnd {
    /// Fewer records than this ends it (offset, page with size).
    Short(u64),
    /// A page with no records ends it (page without size, range without end).
    Empty,
    /// Values past this end it (range with end).
    Last(i64),
}

#[derive(Debug)]
struct StopRule {
    source: StopSource,
    test: StopCheck,
}

#[derive(Debug)]
enum StopSource {
    Value(Source),
    RecordsBelow(u64),
}

#[derive(Debug)]
enum StopCheck {
    Is(StopTest),
    Equals(Value),
    EqualsPath(usize),
    EqualsParam(String),
    None,
}

/// The paginator could not be built from a valid configuration.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct BuildError {
    key: String,
    problem: String,
}

impl BuildError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> BuildError {
        BuildError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// The body paths a paginator reads, each once: a path's index is where
/// its value lies in [`Page::watched`].
#[derive(Default)]
struct Watched(Vec<String>);

impl Watched {
    fn watch(&mut self, path: &str) -> usize {
        if let Some(i) = self.0.iter().position(|w| w == path) {
            return i;
        }
        self.0.push(path.to_owned());
        self.0.len() - 1
    }

    /// A value read from `header` when given, else from the body at
    /// `from` (or `default`).
    fn source(&mut self, from: &Option<String>, header: &Option<String>, default: &str) -> Source {
        match header {
            Some(h) => Source::Header(h.to_ascii_lowercase()),
            None => Source::Body(self.watch(from.as_deref().unwrap_or(default))),
        }
    }
}

/// How the requests after the first are made, for a validated `config`.
fn strategy(config: &Config, watched: &mut Watched) -> Result<Strategy, BuildError> {
    let placement = config.placement.unwrap_or(Placement::Query);
    Ok(match config.kind {
        Kind::None => Strategy::Single,
        Kind::Offset => {
            let limit = config.limit.unwrap_or(DEFAULT_LIMIT);
            Strategy::Counter(Counter {
                end: CounterEnd::Short(limit),
                param: config.param.clone().unwrap_or_else(|| "offset".to_owned()),
                placement,
                start: config.start.unwrap_or(0),
                step: i64::try_from(limit)
                    .map_err(|_| BuildError::new("paginate.limit", "is too large"))?,
                var: "offset".to_owned(),
                fixed: vec![(
                    config
                        .limit_param
                        .clone()
                        .unwrap_or_else(|| "limit".to_owned()),
                    limit as i64,
                )],
                steps_by_limit: true,
            })
        }
        Kind::Page => Strategy::Counter(Counter {
            end: config.size.map_or(CounterEnd::Empty, CounterEnd::Short),
            param: config.param.clone().unwrap_or_else(|| "page".to_owned()),
            placement,
            start: config.start.unwrap_or(1),
            step: 1,
            var: "page".to_owned(),
            fixed: match (&config.size_param, config.size) {
                (Some(name), Some(size)) => vec![(name.clone(), size as i64)],
                _ => Vec::new(),
            },
            steps_by_limit: false,
        }),
        Kind::Range => {
            let param = config.param.clone().unwrap_or_default();
            Strategy::Counter(Counter {
                end: config.end.map_or(CounterEnd::Empty, CounterEnd::Last),
                var: param.clone(),
                param,
                placement,
                start: config.start.unwrap_or(0),
                step: config.step.unwrap_or(1),
                fixed: Vec::new(),
                steps_by_limit: false,
            })
        }
        Kind::Cursor => Strategy::Cursor {
            source: watched.source(&config.from, &config.header, "$.next_cursor"),
            param: config.param.clone().unwrap_or_else(|| "cursor".to_owned()),
            placement,
            initial: config.initial.clone(),
            spread: config.param.is_none(),
        },
        Kind::NextLink => Strategy::NextLink {
            source: watched.source(&config.from, &config.header, "$.paging.next"),
        },
        Kind::LinkHeader => Strategy::LinkHeader {
            rel: config.rel.clone().unwrap_or_else(|| "next".to_owned()),
        },
        Kind::Rules => {
            let rules = Rules::parse(
                config.rules.as_ref().expect("validated: rules present"),
                &mut |path| watched.watch(path),
            )?;
            Strategy::Rules(rules)
        }
    })
}

/// A validated `[[paginate.stop]]`: where its value comes from and what
/// it is compared with.
fn stop_rule(stop: &StopConfig, watched: &mut Watched) -> StopRule {
    let source = match (&stop.path, &stop.header, stop.records_below) {
        (Some(path), _, _) => StopSource::Value(Source::Body(watched.watch(path))),
        (_, Some(header), _) => StopSource::Value(Source::Header(header.to_ascii_lowercase())),
        (_, _, Some(below)) => StopSource::RecordsBelow(below),
        _ => unreachable!("validated: one source"),
    };
    let test = if let Some(is) = stop.is {
        StopCheck::Is(is)
    } else if let Some(value) = &stop.equals {
        StopCheck::Equals(value.clone())
    } else if let Some(path) = &stop.equals_path {
        StopCheck::EqualsPath(watched.watch(path))
    } else if let Some(param) = &stop.equals_param {
        StopCheck::EqualsParam(param.clone())
    } else {
        StopCheck::None
    };
    StopRule { source, test }
}

impl Paginator {
    /// Builds the state machine for a validated configuration.
    pub fn new(config: &Config) -> Result<Paginator, BuildError> {
        let mut watched = Watched::default();
        let strategy = strategy(config, &mut watched)?;
        let mut max_requests = config.max_requests;
        if let Strategy::Rules(Rules {
            max_requests: Some(max),
            ..
        }) = &strategy
        {
            max_requests = Some(max_requests.map_or(*max, |m| m.min(*max)));
        }
        let stops = config
            .stop
            .iter()
            .map(|stop| stop_rule(stop, &mut watched))
            .collect();
        Ok(Paginator {
            strategy,
            stops,
            max_requests,
            watched: watched.0,
            pages: 0,
            sent: Vec::new(),
            followed: HashSet::new(),
            last_followed: None,
            named_own: false,
        })
    }

    /// Body paths (JSONPath or dotted) whose values this paginator needs to
    /// see in [`Page::watched`].
    pub fn watched_paths(&self) -> &[String] {
        &self.watched
    }

    /// Where each value that makes the next request is read: the cursor
    /// or link of `cursor` and `next_link`, and the response values of
    /// Data Factory `rules` (`AbsoluteUrl`, parameters set from the
    /// body or a header). Empty for the other strategies and for rules
    /// made only of ranges.
    pub fn next_from(&self) -> Vec<Follows<'_>> {
        match &self.strategy {
            Strategy::Rules(rules) if !rules.is_counted() => {
                rules.next_from().map(|source| self.named(source)).collect()
            }
            _ => self.follows().into_iter().collect(),
        }
    }

    /// Where `cursor` and `next_link` read the next cursor or link: `None`
    /// for the other strategies.
    pub fn follows(&self) -> Option<Follows<'_>> {
        let (Strategy::Cursor { source, .. } | Strategy::NextLink { source }) = &self.strategy
        else {
            return None;
        };
        Some(self.named(source))
    }

    /// The source of the first `[[paginate.stop]]` rule that holds on
    /// `page` because its value is absent (`is = "missing"` or `"empty"`):
    /// a misspelled path or header ends pagination there too.
    pub fn stopped_by_absence(&self, page: &Page<'_>) -> Option<Follows<'_>> {
        let mut sources = self.stops_on_absence();
        let absent = sources.find(|source| value_of(source, page).is_none())?;
        Some(self.named(absent))
    }

    /// The indexes of the watched paths whose absence ends pagination:
    /// those of [`Paginator::next_from`], and those of `is = "missing"`
    /// and `"empty"` stop rules.
    pub fn ends_when_absent(&self) -> Vec<usize> {
        let rules = self.stops_on_absence().map(|source| self.named(source));
        let mut indexes: Vec<usize> = (self.next_from().into_iter().chain(rules))
            .filter_map(|source| match source {
                Follows::Body { index, .. } => Some(index),
                Follows::Header(_) => None,
            })
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    /// The sources of the stop rules that hold when their value is absent.
    fn stops_on_absence(&self) -> impl Iterator<Item = &Source> {
        self.stops
            .iter()
            .filter_map(|rule| match (&rule.source, &rule.test) {
                (StopSource::Value(source), StopCheck::Is(StopTest::Missing | StopTest::Empty)) => {
                    Some(source)
                }
                _ => None,
            })
    }

    fn named<'a>(&'a self, source: &'a Source) -> Follows<'a> {
        match source {
            Source::Body(index) => Follows::Body {
                index: *index,
                path: &self.watched[*index],
            },
            Source::Header(name) => Follows::Header(name),
        }
    }

    /// Whether the last page ended pagination as a loop by naming the very
    /// cursor or link its own request was made with: an API that does not
    /// read the cursor's parameter gives its first page again, naming the
    /// same cursor; so does a page whose `self` link is read as the next.
    pub fn named_its_own(&self) -> bool {
        self.named_own
    }

    /// The cursor or link the next request is made with, where it
    /// follows one: [`LastFollowed::named_by`] tells a page that names it
    /// again. Such a page ends pagination by its records (see
    /// [`Paginator::next`]), so a reader that steps on pages before they
    /// are parsed must parse it first.
    pub fn last_followed(&self) -> Option<LastFollowed> {
        Some(LastFollowed {
            from: self.strategy.next_from()?.into_owned(),
            hash: self.last_followed?,
        })
    }

    /// The pages stepped on so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// `offset`: the parameter that asks for a page's size, and the size.
    /// The next offset is that far on, so a page that holds more records
    /// overlaps the next one.
    pub fn offset_limit(&self) -> Option<(&str, u64)> {
        match &self.strategy {
            Strategy::Counter(counter) if counter.steps_by_limit => {
                let (name, limit) = counter.fixed.first()?;
                Some((name, u64::try_from(*limit).ok()?))
            }
            _ => None,
        }
    }

    /// Whether request k is known without any response, so that requests
    /// can go out concurrently through [`Paginator::ahead`].
    pub fn is_counted(&self) -> bool {
        match &self.strategy {
            Strategy::Counter(_) => true,
            Strategy::Rules(rules) => rules.is_counted(),
            _ => false,
        }
    }

    /// Whether this is a `cursor` whose job names a `param`. It sends one
    /// value, so an object is no cursor to it; without `param`, an
    /// object's members are sent.
    pub fn sends_one_value(&self) -> bool {
        matches!(self.strategy, Strategy::Cursor { spread: false, .. })
    }

    /// Whether [`Paginator::next`] reads [`Page::records`]: counters, rules
    /// and `records_below` stops do. When it does not, a page can be
    /// stepped on as soon as its headers and watched values are known.
    pub fn reads_records(&self) -> bool {
        matches!(self.strategy, Strategy::Counter(_) | Strategy::Rules(_))
            || self.stops_on_records_below()
    }

    /// Whether a page's count of records may end pagination: a short page
    /// (offset, page with a size), an empty one (page without a size, an
    /// open range, Data Factory's open range), or a `records_below` stop.
    pub fn ends_on_records(&self) -> bool {
        let by_strategy = match &self.strategy {
            Strategy::Counter(counter) => !matches!(counter.end, CounterEnd::Last(_)),
            Strategy::Rules(rules) => rules.has_open_range(),
            _ => false,
        };
        by_strategy || self.stops_on_records_below()
    }

    /// Whether a `records_below` stop rule counts each page's records.
    fn stops_on_records_below(&self) -> bool {
        self.stops
            .iter()
            .any(|rule| matches!(rule.source, StopSource::RecordsBelow(_)))
    }

    /// The first request.
    pub fn first(&mut self) -> Plan {
        let plan = match &mut self.strategy {
            Strategy::Single | Strategy::NextLink { .. } | Strategy::LinkHeader { .. } => {
                Plan::default()
            }
            Strategy::Counter(counter) => counter.plan(0),
            Strategy::Cursor {
                param,
                placement,
                initial,
                spread,
                ..
            } => match initial {
                Some(value) => {
                    // A first page that names the initial cursor names its
                    // own: Solr's `*` for an empty result.
                    let text = scalar_text(value).unwrap_or_else(|| value.to_string());
                    let hash = stable_hash(&text);
                    self.followed.insert(hash);
                    self.last_followed = Some(hash);
                    cursor_request((param, *placement, *spread), value, text)
                }
                None => Plan::default(),
            },
            Strategy::Rules(rules) => rules.first(),
        };
        self.remember(&plan);
        plan
    }

    /// The plan of request `index` (0 is the first), for counted
    /// strategies; `None` past a known end or `max_requests`.
    pub fn ahead(&self, index: u64) -> Option<Plan> {
        if self.max_requests.is_some_and(|max| index >= max) {
            return None;
        }
        match &self.strategy {
            Strategy::Counter(counter) => counter.value(index).map(|_| counter.plan(index)),
            Strategy::Rules(rules) if rules.is_counted() => rules.ahead(index),
            _ => None,
        }
    }

    /// `offset`: the plan of the request that starts right after the
    /// `records` of request `index`, where [`Paginator::ahead`]'s next one
    /// starts a whole `limit` on. An API that caps its pages below the
    /// limit and holds fewer records than the limit answers that one
    /// empty, and this one with the records the cap left out. `None` for
    /// other strategies, whose next request asks for the next page
    /// whatever its size.
    pub fn right_after(&self, index: u64, records: u64) -> Option<Plan> {
        match &self.strategy {
            Strategy::Counter(counter) if counter.steps_by_limit => {
                let value = counter
                    .value(index)?
                    .checked_add(i64::try_from(records).ok()?)?;
                Some(counter.plan_at(value))
            }
            _ => None,
        }
    }

    /// Shown each response in request order, answers what comes next.
    pub fn next(&mut self, page: &Page<'_>) -> Step {
        let index = self.pages;
        self.pages += 1;
        if page.status == 204 {
            return Step::Done(Stop::Status204);
        }
        if self.stops.iter().any(|rule| self.stop_holds(rule, page)) {
            return Step::Done(Stop::EndCondition);
        }
        self.named_own = false;
        let (followed, last, named_own) = (
            &mut self.followed,
            &mut self.last_followed,
            &mut self.named_own,
        );
        // Notes a cursor or link about to be followed: false for one
        // followed before, a loop.
        let mut first_time = |text: &str| {
            let hash = stable_hash(text);
            let new = followed.insert(hash);
            *named_own = !new && *last == Some(hash);
            if new {
                *last = Some(hash);
            }
            new
        };
        let step = match &mut self.strategy {
            Strategy::Single => Step::Done(Stop::NoNext),
            Strategy::Counter(counter) => counter.after(index, page.records),
            Strategy::Rules(rules) => rules.after(index, page),
            followed => match followed.named_next(page) {
                None => Step::Done(Stop::NoNext),
                Some((text, _)) if !first_time(text.as_str()) => Step::Done(Stop::Loop),
                Some((text, value)) => Step::Next(followed.plan(text, &value)),
            },
        };
        // An empty page that names the cursor or link it was requested
        // with is the last: Solr ends `cursorMark` paging so. With records
        // it is a page given again, which the engine judges.
        if step == Step::Done(Stop::Loop) && self.named_own && page.records == 0 {
            self.named_own = false;
            return Step::Done(Stop::NoNext);
        }
        match step {
            Step::Done(stop) => Step::Done(stop),
            _ if self.max_requests.is_some_and(|max| index + 1 >= max) => {
                Step::Done(Stop::MaxRequests)
            }
            Step::Next(plan) => {
                self.remember(&plan);
                Step::Next(plan)
            }
            Step::Continue => {
                if let Some(plan) = self.ahead(index + 1) {
                    self.remember(&plan);
                }
                Step::Continue
            }
        }
    }

    /// The state to save after the page just shown, to go on from the next
    /// page with [`Paginator::restore`].
    pub fn checkpoint(&self) -> Checkpoint {
        let mut seen: Vec<u64> = self.followed.iter().copied().collect();
        // Sorted so that the same state always saves the same text.
        seen.sort_unstable();
        Checkpoint {
            pages: self.pages,
            sent: self.sent.clone(),
            seen,
            last: self.last_followed,
        }
    }

    /// Takes up the state of a [`Paginator::checkpoint`] made by a
    /// paginator of the same configuration.
    pub fn restore(&mut self, checkpoint: Checkpoint) {
        self.pages = checkpoint.pages;
        self.sent = checkpoint.sent;
        self.followed.extend(checkpoint.seen);
        self.last_followed = checkpoint.last;
    }

    fn remember(&mut self, plan: &Plan) {
        self.sent.clear();
        for o in &plan.overrides {
            match o {
                Override::Query { name, value }
                | Override::Header { name, value }
                | Override::Var { name, value } => {
                    self.sent.push((name.clone(), Value::String(value.clone())))
                }
                Override::Body { path, value } => self.sent.push((path.clone(), value.clone())),
                Override::Link(_) => {}
            }
        }
    }

    fn stop_holds(&self, rule: &StopRule, page: &Page<'_>) -> bool {
        let source = match &rule.source {
            StopSource::RecordsBelow(below) => return (page.records as u64) < *below,
            StopSource::Value(source) => source,
        };
        let value = value_of(source, page);
        match &rule.test {
            StopCheck::Is(StopTest::Missing) => value.is_none(),
            StopCheck::Is(StopTest::Present) => value.is_some(),
            StopCheck::Is(StopTest::Null) => value.as_ref().is_some_and(Value::is_null),
            StopCheck::Is(StopTest::Empty) => value.as_ref().is_none_or(is_empty),
            StopCheck::Equals(expected) => {
                value.is_some_and(|v| same(&v, expected, matches!(source, Source::Header(_))))
            }
            StopCheck::EqualsPath(other) => {
                match (value, page.watched.get(*other).cloned().flatten()) {
                    (Some(a), Some(b)) => same(&a, &b, false),
                    _ => false,
                }
            }
            StopCheck::EqualsParam(param) => {
                match (value, self.sent.iter().find(|(n, _)| n == param)) {
                    (Some(a), Some((_, b))) => same(&a, b, true),
                    _ => false,
                }
            }
            StopCheck::None => false,
        }
    }
}

/// FNV-1a: the same in every process and every version, as loop detection
/// must survive a resume.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Equality of two values; `loose` compares scalars by their text, as a
/// header or a request parameter holds only text.
fn same(a: &Value, b: &Value, loose: bool) -> bool {
    if a == b {
        return true;
    }
    // Whole numbers past 64 bits are the same when their digits are: as
    // doubles, neighbours would be.
    let whole = |text: &str| !text.contains(['.', 'e', 'E']);
    if let (Some(x), Some(y)) = (number_text(a), number_text(b))
        && whole(x)
        && whole(y)
    {
        return x == y;
    }
    let number = |v: &Value| match number_text(v) {
        Some(text) => text.parse::<f64>().ok(),
        None => v.as_f64().filter(|_| v.is_number()),
    };
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x == y;
    }
    loose && scalar_text(a).is_some() && scalar_text(a) == scalar_text(b)
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.strip_prefix(NUMBER_TEXT).unwrap_or(s).to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn value_of(source: &Source, page: &Page<'_>) -> Option<Value> {
    match source {
        Source::Body(index) => page.watched.get(*index).cloned().flatten(),
        Source::Header(name) => page
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| Value::String(v.clone())),
    }
}

/// The values a followed strategy can make a request of, beside a
/// string, a number or a boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// Those alone: a link, or a cursor sent as a query parameter or a
    /// header.
    Scalar,
    /// An object of them too, whose members are parameters of their own:
    /// a cursor whose job names no `param` (MediaWiki's `continue`).
    Object,
    /// Any value: a cursor set as a member of the body keeps its JSON
    /// type (DynamoDB's `LastEvaluatedKey`, Elasticsearch's
    /// `search_after` array).
    Any,
}

impl Takes {
    /// Whether a non-empty object or array can make the next request.
    fn compound(self, value: &Value) -> bool {
        match (self, value) {
            (Takes::Any, Value::Object(_) | Value::Array(_)) => !is_empty(value),
            (Takes::Object, Value::Object(_)) => holds_parameters(value),
            _ => false,
        }
    }
}

/// Whether `value` is an object a `cursor` without `param` sends as the
/// next request's parameters, a member each: not empty, and each member
/// a string, a number, a boolean or null (left out).
pub fn holds_parameters(value: &Value) -> bool {
    value.as_object().is_some_and(|members| {
        !members.is_empty() && (members.values()).all(|v| v.is_null() || scalar_text(v).is_some())
    })
}

/// A usable token: its text, and the value as received. Missing, null and
/// `""` are none; an object or an array is one where `takes` says so,
/// its text its JSON.
fn text_of(source: &Source, takes: Takes, page: &Page<'_>) -> Option<(String, Value)> {
    let value = value_of(source, page)?;
    if takes.compound(&value) {
        return Some((value.to_string(), value));
    }
    let text = scalar_text(&value)?;
    (!text.is_empty()).then_some((text, value))
}

/// The request a cursor makes (`value`, read as `text`): each member of
/// an object set as a parameter of its own where the job names no
/// `param` (`spread`), else the value set as `param`.
fn cursor_request(
    (param, placement, spread): (&str, Placement, bool),
    value: &Value,
    text: String,
) -> Plan {
    match value {
        Value::Object(members) if spread => spread_plan(members, placement, text),
        _ => cursor_plan(param, placement, value),
    }
}

/// Each member of an object cursor set as a parameter of its own, a null
/// one left out; `{cursor}` is the object's JSON.
fn spread_plan(
    members: &serde_json::Map<String, Value>,
    placement: Placement,
    text: String,
) -> Plan {
    let mut overrides = vec![Override::Var {
        name: "cursor".to_owned(),
        value: text,
    }];
    for (name, value) in members.iter().filter(|(_, v)| !v.is_null()) {
        let text = scalar_text(value).unwrap_or_default();
        overrides.push(placed(name, placement, text, value.clone()));
    }
    Plan { overrides }
}

fn cursor_plan(param: &str, placement: Placement, value: &Value) -> Plan {
    let text = scalar_text(value).unwrap_or_else(|| value.to_string());
    let mut overrides = vec![Override::Var {
        name: "cursor".to_owned(),
        value: text.clone(),
    }];
    overrides.push(placed(param, placement, text, value.clone()));
    Plan { overrides }
}

fn placed(param: &str, placement: Placement, text: String, value: Value) -> Override {
    match placement {
        Placement::Query => Override::Query {
            name: param.to_owned(),
            value: text,
        },
        Placement::Header => Override::Header {
            name: param.to_owned(),
            value: text,
        },
        Placement::Body => Override::Body {
            path: param.to_owned(),
            value,
        },
        Placement::Url => Override::Var {
            name: param.to_owned(),
            value: text,
        },
    }
}

impl Counter {
    fn value(&self, index: u64) -> Option<i64> {
        let value = i64::try_from(index)
            .ok()?
            .checked_mul(self.step)?
            .checked_add(self.start)?;
        match self.end {
            CounterEnd::Last(last)
                if (self.step > 0 && value > last) || (self.step < 0 && value < last) =>
            {
                None
            }
            _ => Some(value),
        }
    }

    fn plan(&self, index: u64) -> Plan {
        self.plan_at(self.value(index).unwrap_or(self.start))
    }

    fn plan_at(&self, value: i64) -> Plan {
        let mut overrides = vec![Override::Var {
            name: self.var.clone(),
            value: value.to_string(),
        }];
        if self.placement != Placement::Url || self.var != self.param {
            overrides.push(placed(
                &self.param,
                self.placement,
                value.to_string(),
                Value::from(value),
            ));
        }
        for (name, fixed) in &self.fixed {
            overrides.push(placed(
                name,
                self.placement,
                fixed.to_string(),
                Value::from(*fixed),
            ));
        }
        Plan { overrides }
    }

    fn after(&self, index: u64, records: usize) -> Step {
        match self.end {
            CounterEnd::Short(expected) if (records as u64) < expected => {
                Step::Done(Stop::ShortPage)
            }
            CounterEnd::Empty if records == 0 => Step::Done(Stop::EmptyPage),
            CounterEnd::Last(_) if self.value(index + 1).is_none() => Step::Done(Stop::EndOfRange),
            _ => Step::Continue,
        }
    }
}

#[cfg(test)]
mod tests;
