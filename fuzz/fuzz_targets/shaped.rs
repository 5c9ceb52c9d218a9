//! The reader of pages whose records share a few shapes, the run's hot
//! path on real pages: any bytes as the page after a first page of corpus
//! records. Wherever the reader takes a page, it must make what the page
//! path makes (`PagePipeline::check_shaped`). The first byte chooses the
//! first page and the columns: inferred from one of five corpus pages, or
//! declared over the realistic records (one path read by two columns,
//! nulls for values that are absent or do not convert; or an object read
//! whole, a record that leaves out a column dirty).
#![no_main]

use hydrant_engine::bench_support::PagePipeline;
use libfuzzer_sys::fuzz_target;

const INFERRED: &str = r#"
[request]
url = "http://127.0.0.1/x"
[records]
path = "data"
"#;

const DECLARED: &str = r#"
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
name = "amount"
type = "double"
[[columns]]
name = "score"
type = "float"
[[columns]]
name = "created_at"
type = "timestamp"
[[columns]]
name = "created_text"
path = "created_at"
[[columns]]
name = "active"
type = "boolean"
[[columns]]
name = "user_name"
path = "user.name"
[[columns]]
name = "note"
[[columns]]
name = "deleted_at"
type = "json"
"#;

/// Declared columns of an object read whole, where a record that leaves
/// out a column is dirty.
const DECLARED_JSON: &str = r#"
[request]
url = "http://127.0.0.1/x"
[records]
path = "data"
on_missing = "dirty"
[[columns]]
name = "user"
type = "json"
[[columns]]
name = "id"
type = "long"
[[columns]]
name = "uuid"
[[columns]]
name = "deleted_at"
type = "timestamp"
[[columns]]
name = "amount"
type = "double"
"#;

const FIRST_PAGES: [&[u8]; 5] = [
    include_bytes!("../../fixtures/corpus/realistic.json"),
    include_bytes!("../../fixtures/corpus/optional.json"),
    include_bytes!("../../fixtures/corpus/sparse.json"),
    include_bytes!("../../fixtures/corpus/pretty.json"),
    include_bytes!("../../fixtures/corpus/nested.json"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let choice = usize::from(choice) % (FIRST_PAGES.len() + 2);
    let (job, first) = match FIRST_PAGES.get(choice) {
        Some(first) => (INFERRED, *first),
        None if choice == FIRST_PAGES.len() => (DECLARED, FIRST_PAGES[0]),
        None => (DECLARED_JSON, FIRST_PAGES[0]),
    };
    let mut pipeline = PagePipeline::new(job).expect("the fuzz job is valid");
    pipeline.run(first).expect("the first page is read");
    // The first page teaches the reader its templates, as in a run.
    assert_eq!(pipeline.check_shaped(first), Ok(true));
    if let Err(differs) = pipeline.check_shaped(body) {
        panic!("{differs}\npage: {}", String::from_utf8_lossy(body));
    }
});
