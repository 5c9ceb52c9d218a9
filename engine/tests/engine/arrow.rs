//! `hydrant_engine::arrow`: a job's records as Arrow record batches.

use hydrant_engine::arrow::arrow_array::cast::AsArray;
use hydrant_engine::arrow::arrow_array::types::{Float64Type, Int64Type};
use hydrant_engine::arrow::record_batches;
use hydrant_engine::{Job, JobFormat, RunOptions, Vars};

fn replay(root: &str) -> (tokio::runtime::Runtime, hydrant_bench::Server) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fixtures =
        hydrant_bench::FixtureSet::load(format!("{root}/fixtures/issues").as_ref()).unwrap();
    let server = runtime
        .block_on(hydrant_bench::serve(fixtures, ([127, 0, 0, 1], 0).into()))
        .unwrap();
    (runtime, server)
}

#[test]
fn a_job_streams_typed_record_batches() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let (_runtime, server) = replay(root);
    let job = Job::load(format!("{root}/examples/quickstart.toml"), &Vars::new([])).unwrap();
    let options = RunOptions {
        redirect_to: Some(server.url().parse().unwrap()),
        ..RunOptions::default()
    };
    let mut stream = record_batches(job, options).unwrap();
    let batches: Vec<_> = stream.by_ref().map(Result::unwrap).collect();
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!((batch.num_rows(), batch.num_columns()), (6, 9));
    let numbers = batch
        .column_by_name("number")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(numbers.value(3), 1343);
    let score = batch
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(score.value(3), 0.1);
    assert_eq!(
        batch
            .schema()
            .field_with_name("created_at")
            .unwrap()
            .data_type()
            .to_string(),
        "Timestamp(µs, \"UTC\")"
    );
    let summary = stream.summary().unwrap();
    assert_eq!((summary.records, summary.requests), (6, 1));
}

#[test]
fn a_failing_job_ends_the_stream_with_its_error() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let (_runtime, server) = replay(root);
    let job = Job::parse(
        &format!("[request]\nurl = \"{}/missing\"\n", server.url()),
        JobFormat::Toml,
        "missing.toml",
        &Vars::new([]),
    )
    .unwrap();
    let outcomes: Vec<_> = record_batches(job, RunOptions::default())
        .unwrap()
        .collect();
    assert_eq!(outcomes.len(), 1);
    let error = outcomes[0].as_ref().unwrap_err();
    assert!(error.is_http(), "{error}");
    assert!(error.to_string().contains("answered 404"), "{error}");
}
