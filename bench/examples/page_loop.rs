//! The page path in a loop, for profilers: parses, extracts and encodes a
//! generated page again and again, as a run's page makers do, and prints
//! the records and output bytes. `arrow` builds the page's Arrow batch, as
//! the page makers of a Parquet output do, and counts the batch's bytes.
//!
//! ```sh
//! cargo build --profile bench -p hydrant-bench --example page_loop
//! perf record target/release/examples/page_loop realistic 2000
//! valgrind --tool=cachegrind target/release/examples/page_loop realistic 50
//! ```
//!
//! `page_loop [SHAPE] [PAGES] [ndjson|csv|arrow] [RECORDS_PATH] [inferred]`:
//! `realistic`, 2000 pages, NDJSON and the records at `data` unless
//! told. A page holds 1000 records; the columns are the shape's bench
//! columns (inferred for `realistic`, from the first page), or with
//! `inferred` every shape's, as `nested`'s arrays of objects become
//! `json` cells.

use std::process::ExitCode;

use hydrant_bench::corpus::Shape;
use hydrant_engine::bench_support::{Encoding, PagePipeline};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shape = match args.first() {
        None => Shape::Realistic,
        Some(name) => match Shape::parse(name) {
            Some(shape) => shape,
            None => return usage(&format!("no shape `{name}`")),
        },
    };
    let pages: usize = match args.get(1).map(|a| a.parse()) {
        None => 2000,
        Some(Ok(pages)) => pages,
        Some(Err(_)) => return usage("PAGES is a whole number"),
    };
    let encoding = match args.get(2).map(String::as_str) {
        None | Some("ndjson") => Some(Encoding::Ndjson),
        Some("csv") => Some(Encoding::Csv),
        Some("arrow") => None,
        Some(other) => return usage(&format!("no encoding `{other}`")),
    };
    let records_path = args.get(3).map_or("data", String::as_str);
    if records_path.contains('\'') {
        return usage("RECORDS_PATH holds no `'`");
    }
    let columns = match args.get(4).map(String::as_str) {
        None => shape.columns(),
        Some("inferred") => String::new(),
        Some(other) => return usage(&format!("`{other}` is not `inferred`")),
    };
    let job = format!(
        "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = '{records_path}'\n{columns}"
    );
    let body = shape.page(0, 1000);
    let mut pipeline = match PagePipeline::new(&job) {
        Ok(pipeline) => pipeline,
        Err(e) => return fail(&e.to_string()),
    };
    let (mut records, mut bytes) = (0, 0);
    for _ in 0..pages {
        let made = match encoding {
            Some(encoding) => pipeline.run_to_output(&body, encoding),
            None => pipeline
                .arrow_batch(&body)
                .map(|batch| (batch.num_rows(), batch.get_array_memory_size() as u64)),
        };
        match made {
            Ok((rows, out)) => {
                records += rows;
                bytes += out;
            }
            Err(e) => return fail(&e.to_string()),
        }
    }
    println!("{records} records, {bytes} bytes out");
    ExitCode::SUCCESS
}

fn usage(why: &str) -> ExitCode {
    eprintln!(
        "page_loop: {why}\nusage: page_loop [SHAPE] [PAGES] [ndjson|csv|arrow] [RECORDS_PATH] [inferred]"
    );
    ExitCode::from(2)
}

fn fail(why: &str) -> ExitCode {
    eprintln!("page_loop: {why}");
    ExitCode::FAILURE
}
