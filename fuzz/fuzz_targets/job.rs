//! The job loader: any text as a TOML or JSON job file, or as a job file
//! of DataWorks, Data Factory or the YAML `rest_api` format where its text
//! looks like one. It may be refused, with an error, but never panic.
#![no_main]

use hydrant_engine::bench_support::load_dialect;
use hydrant_engine::{Job, JobFormat, Vars};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = Vars::isolated([("TOKEN".to_owned(), "t0k3n".to_owned())]);
    for format in [JobFormat::Toml, JobFormat::Json] {
        if let Ok(job) = Job::parse(text, format, "fuzz", &vars) {
            let _ = (job.is_followed(), job.planned_requests());
            let _ = hydrant_engine::explain(&job);
        }
    }
    // A path in no folder: a Data Factory pipeline finds no sibling
    // folders of datasets there.
    let path = std::path::Path::new("/nonexistent/fuzz/job.json");
    if let Some(Ok(job)) = load_dialect(text, path, &vars) {
        let _ = (job.is_followed(), job.planned_requests());
        let _ = hydrant_engine::explain(&job);
    }
});
