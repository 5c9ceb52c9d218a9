//! Extracts the quick-start job from its recorded fixture set as Arrow
//! record batches and prints their shapes.
//!
//! ```sh
//! cargo run -p hydrant-engine --features arrow --example arrow_batches
//! ```

use hydrant_engine::arrow::record_batches;
use hydrant_engine::{Job, RunOptions, Vars};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // The fixture set, served on loopback, stands in for the API.
    let runtime = tokio::runtime::Runtime::new()?;
    let fixtures = hydrant_bench::FixtureSet::load(format!("{root}/fixtures/issues").as_ref())?;
    let server = runtime.block_on(hydrant_bench::serve(fixtures, ([127, 0, 0, 1], 0).into()))?;

    let job = Job::load(format!("{root}/examples/quickstart.toml"), &Vars::new([]))?;
    let options = RunOptions {
        redirect_to: Some(server.url().parse()?),
        ..RunOptions::default()
    };
    let mut batches = record_batches(job, options)?;
    for batch in batches.by_ref() {
        let batch = batch?;
        println!(
            "batch: {} rows x {} columns",
            batch.num_rows(),
            batch.num_columns()
        );
        for field in batch.schema().fields() {
            println!("  {}: {}", field.name(), field.data_type());
        }
    }
    if let Some(summary) = batches.summary() {
        println!(
            "{} records from {} requests, stopped: {}",
            summary.records, summary.requests, summary.stopped
        );
    }
    Ok(())
}
