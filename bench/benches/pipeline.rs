//! The CPU path of a page for every corpus shape, each beside its baseline:
//!
//! - `page/<shape>`: `memchr` (a plain pass over the bytes, the floor),
//!   `parse_extract` (the structural index + the column walk, as a run
//!   does once the columns are known), `parse_extract_tree` (the same through a
//!   simd-json `BorrowedValue` tree, for comparison), and `to_ndjson` (the
//!   whole page pipeline: response bytes in, output bytes out), in bytes/s;
//!   for `realistic`, also `to_ndjson_filter`, `to_ndjson_slice` and
//!   `to_ndjson_function`, whose records path needs the general JSONPath
//!   evaluator (`$.data[?@.active == true]`, half the records;
//!   `$.data[0:1000]`; `$.data[?length(@.plan) > 3]`, two thirds of the
//!   records), and three paths to each record's `user` object:
//!   `to_ndjson_user` (`$.data[*].user`, a plain path, their baseline),
//!   `to_ndjson_filter_user` (`$.data[?@.active == true].user`, records
//!   deeper than the filter) and `to_ndjson_descendant_user` (`$..user`);
//! - `encode/<shape>`: NDJSON and CSV encoding of extracted rows, in
//!   records/s;
//! - `gzip`: decoding a gzip response body as the engine does (flate2);
//! - `parquet/realistic`: 66 pages' Arrow batches encoded into a Parquet
//!   file, on one thread (`encode`, the baseline) and with the columns
//!   on two (`encode_2_threads`), in records/s; `parquet/realistic_column`:
//!   each column of those batches alone, as a run would encode it.

use std::io::Write;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hydrant_bench::corpus::Shape;
use hydrant_engine::bench_support::{Encoding, PagePipeline, write_parquet};

/// Records a page: 1000, as in the pages APIs commonly allow.
const RECORDS: usize = 1000;

fn job(shape: Shape) -> String {
    job_with(shape, "data")
}

fn job_with(shape: Shape, records: &str) -> String {
    format!(
        "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = \"{records}\"\n{}",
        shape.columns()
    )
}

fn page(c: &mut Criterion) {
    for shape in Shape::ALL {
        let body = shape.page(0, RECORDS);
        let mut pipeline = PagePipeline::new(&job(shape)).expect("bench job");
        assert_eq!(pipeline.run(&body).expect("page"), RECORDS);
        let mut group = c.benchmark_group(format!("page/{}", shape.name()));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("memchr", |b| {
            b.iter(|| memchr::memchr_iter(b'"', std::hint::black_box(&body)).count())
        });
        group.bench_function("parse_extract", |b| {
            b.iter(|| pipeline.run(&body).expect("page"))
        });
        let mut tree = PagePipeline::new(&job(shape))
            .expect("bench job")
            .tree_only();
        group.bench_function("parse_extract_tree", |b| {
            b.iter(|| tree.run(&body).expect("page"))
        });
        group.bench_function("to_ndjson", |b| {
            b.iter(|| {
                pipeline
                    .run_to_output(&body, Encoding::Ndjson)
                    .expect("page")
            })
        });
        if shape == Shape::Realistic {
            for (name, path, rows) in [
                ("to_ndjson_filter", "$.data[?@.active == true]", 507),
                ("to_ndjson_slice", "$.data[0:1000]", RECORDS),
                ("to_ndjson_function", "$.data[?length(@.plan) > 3]", 673),
                ("to_ndjson_user", "$.data[*].user", RECORDS),
                (
                    "to_ndjson_filter_user",
                    "$.data[?@.active == true].user",
                    507,
                ),
                ("to_ndjson_descendant_user", "$..user", RECORDS),
            ] {
                let mut general = PagePipeline::new(&job_with(shape, path)).expect("bench job");
                let run = |p: &mut PagePipeline| p.run_to_output(&body, Encoding::Ndjson);
                assert_eq!(run(&mut general).expect("page").0, rows, "{path}");
                group.bench_function(name, |b| b.iter(|| run(&mut general).expect("page")));
            }
        }
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    for shape in Shape::ALL {
        let body = shape.page(0, RECORDS);
        let mut pipeline = PagePipeline::new(&job(shape)).expect("bench job");
        let mut group = c.benchmark_group(format!("encode/{}", shape.name()));
        group.throughput(Throughput::Elements(RECORDS as u64));
        for (name, encoding) in [("ndjson", Encoding::Ndjson), ("csv", Encoding::Csv)] {
            group.bench_function(name, |b| {
                b.iter_custom(|iterations| {
                    pipeline
                        .time_encoding(&body, encoding, iterations)
                        .expect("page")
                })
            });
        }
        group.finish();
    }
}

/// gzip decoding of a page: flate2 (zlib-rs), the decoder the engine
/// uses as a body streams in, beside libdeflate, which decodes only a
/// whole body into a buffer sized from the gzip trailer.
fn gzip(c: &mut Criterion) {
    for shape in [Shape::Nested, Shape::Realistic] {
        let body = shape.page(0, RECORDS);
        let mut compressed =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        compressed.write_all(&body).expect("gzip");
        let compressed = compressed.finish().expect("gzip");
        let name = match shape {
            Shape::Nested => "gzip".to_owned(),
            _ => format!("gzip/{}", shape.name()),
        };
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("decode", |b| {
            let mut out = Vec::with_capacity(body.len());
            b.iter(|| {
                out.clear();
                let mut decoder = flate2::write::GzDecoder::new(&mut out);
                decoder.write_all(&compressed).expect("gunzip");
                decoder.finish().expect("gunzip");
            })
        });
        group.bench_function("libdeflate", |b| {
            let mut decompressor = libdeflater::Decompressor::new();
            let size = trailer_size(&compressed);
            let mut out = vec![0; size];
            b.iter(|| {
                let n = decompressor
                    .gzip_decompress(&compressed, &mut out)
                    .expect("gunzip");
                assert_eq!(n, body.len());
            })
        });
        group.bench_function("memcpy", |b| {
            let mut out = Vec::with_capacity(body.len());
            b.iter(|| {
                out.clear();
                out.extend_from_slice(std::hint::black_box(&body));
            })
        });
        group.finish();
    }
}

fn parquet(c: &mut Criterion) {
    // A row group of 65536 rows and the start of the next, as a run's
    // encoder gets them: a batch a page.
    let shape = Shape::Realistic;
    let mut pipeline = PagePipeline::new(&job(shape)).expect("bench job");
    let batches: Vec<_> = (0..66)
        .map(|i| {
            let body = shape.page(i, RECORDS);
            pipeline.arrow_batch(&body).expect("page")
        })
        .collect();
    let schema = pipeline.parquet_schema().expect("columns known");
    let dir = std::env::temp_dir().join(format!("hydrant-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join("out.parquet");
    let mut group = c.benchmark_group("parquet/realistic");
    group.throughput(Throughput::Elements((batches.len() * RECORDS) as u64));
    for (name, threads) in [("encode", 1), ("encode_2_threads", 2)] {
        group.bench_function(name, |b| {
            b.iter(|| write_parquet(&batches, schema.clone(), &path, threads).expect("parquet"))
        });
    }
    group.finish();
    // Each column alone, written as a run writes it (its dictionary,
    // statistics and codec chosen from its first batch): where the
    // encoder's time goes.
    let mut group = c.benchmark_group("parquet/realistic_column");
    group.throughput(Throughput::Elements((batches.len() * RECORDS) as u64));
    for (i, field) in schema.fields().iter().enumerate() {
        let alone: Vec<_> = batches
            .iter()
            .map(|batch| batch.project(&[i]).expect("a column of the batch"))
            .collect();
        let schema = alone[0].schema();
        group.bench_function(field.name().as_str(), |b| {
            b.iter(|| write_parquet(&alone, schema.clone(), &path, 1).expect("parquet"))
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The size a gzip member says it decodes to (ISIZE, its last four
/// bytes: the size modulo 2^32).
fn trailer_size(gz: &[u8]) -> usize {
    let tail: [u8; 4] = gz[gz.len() - 4..].try_into().expect("a gzip trailer");
    u32::from_le_bytes(tail) as usize
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = page, encode, gzip, parquet
}
criterion_main!(benches);
