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

pub use config::{Config, ConfigError, Kind, Placement, StopConfig, StopTest};

use serde_json::Value;

/// One change to the job's base request, made by a paginator.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// where the path is absent from the body.
    pub watched: &'a [Option<Value>],
}

/// Why pagination ended; the names are those of the run summary's `stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Send these requests next, in this order.
    Next(Vec<Plan>),
    /// Pagination is over.
    Done(Stop),
}

/// A pagination state machine for one job (or one fan-out value).
#[derive(Debug)]
pub struct Paginator {
    strategy: Strategy,
}

#[derive(Debug)]
enum Strategy {
    Single,
}

/// The paginator could not be built from a valid configuration.
#[derive(Debug, thiserror::Error)]
#[error("paginate.type `{kind}` is not supported by this version of hydrant")]
pub struct UnsupportedError {
    kind: &'static str,
}

impl Paginator {
    /// Builds the state machine for a validated configuration.
    pub fn new(config: &Config) -> Result<Paginator, UnsupportedError> {
        let strategy = match config.kind {
            Kind::None => Strategy::Single,
            other => {
                return Err(UnsupportedError {
                    kind: other.as_str(),
                });
            }
        };
        Ok(Paginator { strategy })
    }

    /// Body paths (JSONPath or dotted) whose values this paginator needs to
    /// see in [`Page::watched`].
    pub fn watched_paths(&self) -> &[String] {
        match self.strategy {
            Strategy::Single => &[],
        }
    }

    /// The first request.
    pub fn first(&mut self) -> Plan {
        match self.strategy {
            Strategy::Single => Plan::default(),
        }
    }

    /// Shown a response, answers what comes next.
    pub fn next(&mut self, page: &Page<'_>) -> Step {
        if page.status == 204 {
            return Step::Done(Stop::Status204);
        }
        match self.strategy {
            Strategy::Single => Step::Done(Stop::NoNext),
        }
    }
}
