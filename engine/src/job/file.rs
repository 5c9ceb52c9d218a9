//! The job file as written: every table and key of the job-file reference
//! (`docs/reference/job-file.md`).
//!
//! These structs only say what is allowed where (unknown keys are refused);
//! [`super::Job`] is the validated form everything downstream takes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Job"))]
pub(crate) struct JobFile {
    pub request: Option<RequestFile>,
    #[serde(default)]
    pub auth: hydrant_auth::Config,
    #[serde(default)]
    pub paginate: hydrant_paginate::Config,
    pub fanout: Option<FanoutFile>,
    pub incremental: Option<super::incremental::IncrementalFile>,
    #[serde(default)]
    pub records: RecordsFile,
    pub columns: Option<Vec<ColumnFile>>,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub output: OutputFile,
    pub state: Option<StateFile>,
    pub input: Option<InputFile>,
    pub write: Option<WriteFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Request"))]
pub(crate) struct RequestFile {
    pub url: String,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    pub body: Option<Value>,
    pub form: Option<BTreeMap<String, Value>>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub interval: Option<String>,
    pub tls_verify: Option<bool>,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Fanout"))]
pub(crate) struct FanoutFile {
    pub param: Option<String>,
    #[serde(rename = "in")]
    pub placement: Option<String>,
    pub values: Option<Vec<Value>>,
    pub values_file: Option<String>,
    pub from: Option<Box<FanoutFromFile>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "FanoutFrom"))]
pub(crate) struct FanoutFromFile {
    pub request: RequestFile,
    pub auth: Option<hydrant_auth::Config>,
    #[serde(default)]
    pub paginate: hydrant_paginate::Config,
    #[serde(default)]
    pub records: RecordsFile,
    pub path: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Records"))]
pub(crate) struct RecordsFile {
    pub format: Option<String>,
    pub path: Option<String>,
    pub mode: Option<String>,
    pub on_missing: Option<String>,
    pub on_bad_type: Option<String>,
    pub max_dirty: Option<u64>,
    pub dirty_path: Option<String>,
    pub flatten: Option<String>,
    pub infer_pages: Option<u64>,
    pub non_finite: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Column"))]
pub(crate) struct ColumnFile {
    pub name: String,
    pub path: Option<String>,
    pub page_path: Option<String>,
    pub parent_path: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub format: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Limits"))]
pub(crate) struct LimitsFile {
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    pub burst: Option<u32>,
    pub bytes_per_second: Option<String>,
    pub retry_on: Option<Vec<u16>>,
    pub max_retries: Option<u32>,
    pub backoff: Option<BackoffFile>,
    pub max_retry_wait: Option<String>,
    pub max_response: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Backoff"))]
pub(crate) struct BackoffFile {
    pub initial: Option<String>,
    pub max: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Output"))]
pub(crate) struct OutputFile {
    pub format: Option<String>,
    pub path: Option<String>,
    pub compression: Option<String>,
    pub compression_level: Option<i64>,
    pub csv: Option<CsvFile>,
    pub parquet: Option<ParquetFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Csv"))]
pub(crate) struct CsvFile {
    pub delimiter: Option<String>,
    pub header: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Parquet"))]
pub(crate) struct ParquetFile {
    pub compression: Option<String>,
    pub compression_level: Option<i64>,
    pub row_group_size: Option<u64>,
    pub statistics: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "State"))]
pub(crate) struct StateFile {
    pub path: String,
    pub every: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Input"))]
pub(crate) struct InputFile {
    pub path: Option<String>,
    pub format: Option<String>,
    pub job: Option<String>,
    /// Records written in the job file itself.
    pub records: Option<Vec<Value>>,
    /// How many times `records` are sent, in order.
    pub repeat: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Write"))]
pub(crate) struct WriteFile {
    pub url: String,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub interval: Option<String>,
    pub tls_verify: Option<bool>,
    pub ca_file: Option<String>,
    pub mode: Option<String>,
    pub batch_size: Option<u64>,
    pub data_path: Option<String>,
    pub compression: Option<String>,
    pub reject_path: Option<String>,
    pub max_rejects: Option<u64>,
    pub idempotency_header: Option<String>,
    pub check_answer: Option<bool>,
    pub columns: Option<Vec<WriteColumnFile>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "WriteColumn"))]
pub(crate) struct WriteColumnFile {
    pub name: String,
    pub from: Option<String>,
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}
