//! The page parser: any bytes as a page body. The structural index (the
//! run's hot path) and the simd-json tree must agree on every body: both
//! refuse it, or both give the same rows and NDJSON, but for the spelling
//! of numbers (the index writes a double as the page spells it).
#![no_main]

use hydrant_engine::bench_support::{Encoding, PagePipeline, same_lines_but_numbers};
use libfuzzer_sys::fuzz_target;

const JOB: &str = r#"
[request]
url = "http://127.0.0.1/x"
[records]
path = "data"
on_missing = "null"
on_bad_type = "null"
[[columns]]
name = "id"
type = "long"
[[columns]]
name = "name"
path = "user.name"
[[columns]]
name = "score"
type = "double"
[[columns]]
name = "at"
type = "timestamp"
[[columns]]
name = "tags"
type = "json"
"#;

fuzz_target!(|body: &[u8]| {
    let mut index = PagePipeline::new(JOB).expect("the fuzz job is valid");
    let mut tree = PagePipeline::new(JOB)
        .expect("the fuzz job is valid")
        .tree_only();
    let by_index = index.encode(body, Encoding::Ndjson);
    let by_tree = tree.encode(body, Encoding::Ndjson);
    match (by_index, by_tree) {
        (Ok(a), Ok(b)) => assert!(
            same_lines_but_numbers(&a, &b),
            "the index and the tree disagree:\n{}\n{}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        ),
        (Err(_), Err(_)) => {}
        (a, b) => panic!(
            "one form refused the page: index {:?}, tree {:?}",
            a.map(|o| o.len()),
            b.map(|o| o.len())
        ),
    }
});
