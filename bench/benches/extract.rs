//! Parse + extract over the recorded issues page, repeated to a realistic
//! page size: the CPU path from response bytes to typed cells.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hydrant_engine::bench_support::PagePipeline;

fn page() -> (Vec<u8>, usize) {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/issues/issues-page-1.json"
    );
    let one = std::fs::read(dir).expect("the issues fixture page");
    let text = String::from_utf8(one).expect("utf-8 fixture");
    let inner = text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim();
    let copies = 170; // ~6 records each: a page of about 1000 records
    let mut page = String::from("[");
    for i in 0..copies {
        if i > 0 {
            page.push(',');
        }
        page.push_str(inner);
    }
    page.push(']');
    let records = copies * inner.matches("\"number\"").count();
    (page.into_bytes(), records)
}

fn parse_extract(c: &mut Criterion) {
    let (body, records) = page();
    let job = r#"
[request]
url = "https://api.example.com/issues"
[[columns]]
name = "number"
type = "long"
[[columns]]
name = "title"
[[columns]]
name = "author"
path = "user.login"
[[columns]]
name = "score"
type = "double"
[[columns]]
name = "created_at"
type = "timestamp"
"#;
    let mut pipeline = PagePipeline::new(job).expect("bench job");
    assert_eq!(pipeline.run(&body).expect("page"), records);
    let mut group = c.benchmark_group("parse_extract_issues");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("bytes", |b| b.iter(|| pipeline.run(&body).expect("page")));
    group.throughput(Throughput::Elements(records as u64));
    group.bench_function("records", |b| b.iter(|| pipeline.run(&body).expect("page")));
    group.finish();
}

criterion_group!(benches, parse_extract);
criterion_main!(benches);
