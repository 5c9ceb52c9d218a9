//! What a finished run reports: the `--summary-json` contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a finished run did: the `--summary-json` contract.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Records written.
    pub records: u64,
    pub requests: u64,
    /// Response body bytes received, decoded.
    pub bytes: u64,
    /// Records left out of the output.
    pub dirty: u64,
    /// Requests sent again: after a 401, with a fresh OAuth2 token.
    pub retries: u64,
    pub elapsed_s: f64,
    /// Why pagination ended.
    pub stopped: String,
    /// The output path, `-` for stdout.
    pub output: String,
    /// Things the user should know, such as a pagination loop.
    pub warnings: Vec<String>,
    /// Dirty records counted by their reason without its value, such as
    /// ``column `id`: bad type (long)``.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dirty_reasons: BTreeMap<String, u64>,
    /// Fields outside inferred columns that were fixed (CSV, Parquet), by
    /// flattened name, with how many records had them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unseen_fields: BTreeMap<String, u64>,
    /// A write job's counts; `records` is then the records delivered,
    /// `dirty` those rejected and `bytes` the request bodies sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<WriteSummary>,
}

/// What a write job did with its input records.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
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
