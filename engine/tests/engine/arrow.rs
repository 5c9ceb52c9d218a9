//! `hydrant_engine::arrow`: a job's records as Arrow record batches.

use hydrant_engine::arrow::arrow_array::cast::AsArray;
use hydrant_engine::arrow::arrow_array::types::{Float64Type, Int64Type};
use hydrant_engine::arrow::record_batches;
use std::time::{Duration, Instant};

use hydrant_bench::Exchange;
use hydrant_engine::{Interrupt, Job, JobFormat, RunOptions, Vars};

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
    // Declared columns are known before the first page.
    assert_eq!(stream.known_columns().map(<[_]>::len), Some(9));
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

/// An embedder that waits in steps can stop a stream whose next page is
/// slow: the stream ends with the pages it had, then the interruption.
#[test]
fn an_interrupted_stream_ends_without_waiting_for_a_slow_page() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(hydrant_bench::serve_fn(
            ([127, 0, 0, 1], 0).into(),
            |seen| {
                let page: u32 = seen.target.rsplit('=').next().unwrap().parse().unwrap();
                if page == 2 {
                    std::thread::sleep(Duration::from_secs(30));
                }
                let body = format!(r#"{{"data":[{{"id":{page}}}],"next":"/p?n={}"}}"#, page + 1);
                Exchange::json(&seen.target, body)
            },
        ))
        .unwrap();
    let job = Job::parse(
        &format!(
            "[request]\nurl = \"{}/p?n=0\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[records]\npath = \"data\"\n",
            server.url()
        ),
        JobFormat::Toml,
        "slow.toml",
        &Vars::new([]),
    )
    .unwrap();
    let interrupt = Interrupt::new();
    let options = RunOptions {
        interrupt: Some(interrupt.clone()),
        ..RunOptions::default()
    };
    let mut stream = record_batches(job, options).unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        assert!(stream.ready_within(Duration::from_secs(20)));
        let batch = stream.next().unwrap().unwrap();
        ids.push(batch.column(0).as_primitive::<Int64Type>().value(0));
    }
    assert_eq!(ids, [0, 1]);
    assert!(
        !stream.ready_within(Duration::from_millis(300)),
        "page 2 is slow"
    );
    let asked = Instant::now();
    interrupt.trigger();
    let rest: Vec<_> = stream.by_ref().collect();
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "waited for the page"
    );
    assert_eq!(rest.len(), 1, "{rest:?}");
    let error = rest[0].as_ref().unwrap_err();
    assert!(error.is_interrupted(), "{error}");
    assert!(stream.ready_within(Duration::ZERO) && stream.next().is_none());
    runtime.shutdown_background();
}
