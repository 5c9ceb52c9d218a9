//! What a finished run reports: the `--summary-json` contract.

use std::collections::BTreeMap;

use hydrant_paginate::Stop;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a finished run did: the `--summary-json` contract.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Records written.
    pub records: u64,
    /// Requests answered.
    pub requests: u64,
    /// Response body bytes received, decoded.
    pub bytes: u64,
    /// Records left out of the output.
    pub dirty: u64,
    /// Requests sent again: after a 401, with a fresh OAuth2 token.
    pub retries: u64,
    /// Wall-clock seconds, over every resumed run of the job.
    pub elapsed_s: f64,
    /// Why the run ended.
    pub stopped: Stopped,
    /// The output path, `-` for stdout.
    pub output: String,
    /// Things the user should know, such as a pagination loop.
    pub warnings: Vec<String>,
    /// Dirty records counted by their reason without its value, such as
    /// ``column `id`: bad type (long)``.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dirty_reasons: BTreeMap<String, u64>,
    /// Values that did not convert to their column's type and were
    /// written as null (`records.on_bad_type = "null"`), by column.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub nulled: BTreeMap<String, u64>,
    /// Fields outside inferred columns that were fixed (CSV, Parquet), by
    /// flattened name, with how many records had them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unseen_fields: BTreeMap<String, u64>,
    /// A write job's counts; `records` is then the records delivered,
    /// `dirty` those rejected and `bytes` the request bodies sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<WriteSummary>,
    /// An incremental run's bounds and bookmark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalSummary>,
}

/// What the summary tells of an incremental run.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct IncrementalSummary {
    /// The lowest lower bound asked for, in the cursor's spelling.
    pub from: Value,
    /// The upper bound (exclusive), if the run had one.
    pub to: Value,
    /// The stored bookmark before the run: with `[fanout]`, by value.
    pub bookmark_before: Value,
    /// The bookmark the run leaves.
    pub bookmark_after: Value,
    /// Windows (passes of a value over a stretch of cursor values) read.
    pub windows: u64,
    /// Records outside their window, left out (`filter = true`).
    pub filtered: u64,
    /// Records written whose cursor lay outside their window, which the
    /// API's filter let through (`filter = false`).
    pub outside: u64,
    /// Records at the bookmark emitted by an earlier run, left out.
    pub deduplicated: u64,
    /// Records past the upper bound of their window, which the request
    /// did not send: left out, for the window or the run whose bounds
    /// hold them.
    pub ahead: u64,
    /// Records with no readable cursor value (emitted; they cannot move
    /// the bookmark).
    pub no_cursor: u64,
}

/// What a write job did with its input records.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WriteSummary {
    /// Records in batches the API answered with a 2xx.
    pub delivered: u64,
    /// Records sent to `write.reject_path` (or counted, without one).
    pub rejected: u64,
    /// Records in batches that were sent more than once.
    pub retried: u64,
    /// Batches settled: delivered, or rejected after retries.
    pub batches: u64,
}

/// Why a run ended, as the summary names it (`no_next`, `max_requests`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stopped {
    /// The last page named no next request.
    NoNext,
    /// A page had no records.
    EmptyPage,
    /// A page had fewer records than asked for.
    ShortPage,
    /// `paginate.stop_when` held on a page.
    EndCondition,
    /// `paginate.max_requests` were sent and more was left.
    MaxRequests,
    /// The next request was one already sent.
    Loop,
    /// The API answered 204 No Content.
    #[serde(rename = "status_204")]
    Status204,
    /// The range of a range pagination was covered.
    EndOfRange,
    /// A write job sent every record of its input.
    EndOfInput,
}

impl Stopped {
    /// The name in the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Stopped::EndOfInput => "end_of_input",
            Stopped::NoNext => Stop::NoNext.as_str(),
            Stopped::EmptyPage => Stop::EmptyPage.as_str(),
            Stopped::ShortPage => Stop::ShortPage.as_str(),
            Stopped::EndCondition => Stop::EndCondition.as_str(),
            Stopped::MaxRequests => Stop::MaxRequests.as_str(),
            Stopped::Loop => Stop::Loop.as_str(),
            Stopped::Status204 => Stop::Status204.as_str(),
            Stopped::EndOfRange => Stop::EndOfRange.as_str(),
        }
    }
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Stop> for Stopped {
    fn from(stop: Stop) -> Stopped {
        match stop {
            Stop::NoNext => Stopped::NoNext,
            Stop::EmptyPage => Stopped::EmptyPage,
            Stop::ShortPage => Stopped::ShortPage,
            Stop::EndCondition => Stopped::EndCondition,
            Stop::MaxRequests => Stopped::MaxRequests,
            Stop::Loop => Stopped::Loop,
            Stop::Status204 => Stopped::Status204,
            Stop::EndOfRange => Stopped::EndOfRange,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary's names are a contract: serde and `as_str` agree.
    #[test]
    fn stopped_serialises_as_its_summary_name() {
        let all = [
            Stop::NoNext,
            Stop::EmptyPage,
            Stop::ShortPage,
            Stop::EndCondition,
            Stop::MaxRequests,
            Stop::Loop,
            Stop::Status204,
            Stop::EndOfRange,
        ];
        for stop in all {
            let stopped = Stopped::from(stop);
            assert_eq!(stopped.as_str(), stop.as_str());
            let json = serde_json::to_string(&stopped).unwrap();
            assert_eq!(json, format!("\"{}\"", stop.as_str()));
        }
        let json = serde_json::to_string(&Stopped::EndOfInput).unwrap();
        assert_eq!(json, "\"end_of_input\"");
    }
}
