//! Parquet output read back with the `parquet` crate, value by value; and
//! Parquet as a write job's input.

use std::fs::File;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use hydrant_bench::Exchange;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;

use crate::util::{Dir, TestServer, hydrant, hydrant_with, path_str};
use crate::{TYPES_COLUMNS, TYPES_PAGE, job_text};

/// A server answering `/all` with one page: an array of `records`.
fn serve_all(records: &[String]) -> TestServer {
    TestServer::start(vec![Exchange::json(
        "/all",
        format!("[{}]", records.join(",")),
    )])
}

fn read(path: &std::path::Path) -> (RecordBatch, parquet::file::metadata::ParquetMetaData) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let metadata = builder.metadata().as_ref().clone();
    // One batch of every row: the reader fills batches across row groups.
    let mut batches: Vec<RecordBatch> = builder
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(batches.len(), 1);
    (batches.remove(0), metadata)
}

/// Where the same rows are left for `.ci/run` to read with pyarrow, an
/// independent reader.
fn leave_for_pyarrow(dir: &Dir, name: &str, job: &std::path::Path) {
    let check = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("parquet-check");
    std::fs::create_dir_all(&check).unwrap();
    std::fs::copy(
        dir.path(&format!("{name}.parquet")),
        check.join(format!("{name}.parquet")),
    )
    .unwrap();
    let ndjson = check.join(format!("{name}.ndjson"));
    let run = hydrant(&[
        "run",
        path_str(job),
        "--output",
        path_str(&ndjson),
        "--format",
        "ndjson",
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn every_type_round_trips_through_parquet() {
    let server = TestServer::start(vec![Exchange::json("/items", TYPES_PAGE)]);
    let dir = Dir::new();
    let job = dir.write("job.toml", &job_text(&server, "/items", TYPES_COLUMNS));
    let out = dir.path("types.parquet");
    let run = hydrant(&[
        "run",
        path_str(&job),
        "--output",
        path_str(&out),
        "--format",
        "parquet",
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!dir.path("types.parquet.partial").exists());
    let (batch, metadata) = read(&out);
    let types: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| {
            assert!(f.is_nullable(), "{f}");
            format!("{}:{}", f.name(), f.data_type())
        })
        .collect();
    assert_eq!(
        types,
        [
            "id:Int64",
            "i:Int32",
            "s:Utf8",
            "f:Float32",
            "d:Float64",
            "b:Boolean",
            "day:Date32",
            "ts:Timestamp(µs, \"UTC\")",
            "bin:Binary",
            "j:Utf8",
            "big:Utf8",
            "big_json:Utf8",
            "last_tag:Utf8",
            "tags:Utf8",
            "link:Utf8",
            "odata:Utf8",
            "source:Utf8",
        ]
    );
    assert_eq!(batch.num_rows(), 3);
    let column = |name: &str| batch.column_by_name(name).unwrap().clone();
    let long = column("id");
    assert_eq!(long.as_primitive::<Int64Type>().values(), &[1, 2, 3]);
    assert_eq!(
        column("i").as_primitive::<Int32Type>().values(),
        &[2147483647, -5, 0]
    );
    assert_eq!(
        column("f").as_primitive::<Float32Type>().values(),
        &[1.5, 2.5, 0.0]
    );
    assert_eq!(
        column("d").as_primitive::<Float64Type>().values(),
        &[0.1, 1000.0, -2.5e-300]
    );
    let b = column("b");
    let b = b.as_boolean();
    assert_eq!((b.value(0), b.value(1), b.value(2)), (true, false, false));
    assert_eq!(
        column("day").as_primitive::<Date32Type>().values(),
        &[19783, 19782, -1]
    );
    assert_eq!(
        column("ts")
            .as_primitive::<TimestampMicrosecondType>()
            .values(),
        &[
            1_709_294_400_250_000,
            1_709_294_400_000_000,
            1_709_294_400_000_000
        ]
    );
    let bin = column("bin");
    let bin = bin.as_binary::<i32>();
    assert_eq!(
        (bin.value(0), bin.is_null(1), bin.value(2)),
        (&b"hi"[..], true, &b""[..])
    );
    let text = |name: &str| -> Vec<Option<String>> {
        column(name)
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    };
    let some = |values: &[&str]| -> Vec<Option<String>> {
        values.iter().map(|v| Some((*v).to_owned())).collect()
    };
    assert_eq!(text("s"), some(&["plain", "42", "tab\there \"q\" é"]));
    assert_eq!(
        text("j"),
        some(&[r#"{"k":[1,null]}"#, r#""text""#, "[1,2]"])
    );
    assert_eq!(
        text("big_json"),
        some(&[
            "123456789012345678901234567890",
            "-9223372036854775809",
            "18446744073709551615"
        ])
    );
    assert_eq!(
        text("last_tag"),
        [Some("y".into()), None, Some("only".into())]
    );
    assert_eq!(text("source"), some(&["api", "api", "api"]));
    // zstd is the default codec.
    let chunk = metadata.row_group(0).column(0);
    assert!(
        matches!(chunk.compression(), Compression::ZSTD(_)),
        "{:?}",
        chunk.compression()
    );
    leave_for_pyarrow(&dir, "types", &job);
}

#[test]
fn row_groups_stream_with_inferred_columns_and_feed_a_write_job() {
    const RECORDS: u32 = 2500;
    let page: Vec<String> = (0..RECORDS)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"n{i}\",\"score\":{i}.25,\"ok\":{},\"lines\":[{{\"sku\":\"a\",\"n\":{i}}}]}}",
                i % 2 == 0
            )
        })
        .collect();
    let server = serve_all(&page);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &job_text(
            &server,
            "/all",
            "[output]\nformat = \"parquet\"\nparquet = { compression = \"snappy\", row_group_size = 1000 }\n",
        ),
    );
    let out = dir.path("rows.parquet");
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&out), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (batch, metadata) = read(&out);
    let groups: Vec<i64> = metadata.row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(groups, [1000, 1000, 500]);
    assert_eq!(
        metadata.row_group(0).column(0).compression(),
        Compression::SNAPPY
    );
    let fields: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{}:{}", f.name(), f.data_type()))
        .collect();
    assert_eq!(
        fields,
        [
            "id:Int64",
            "name:Utf8",
            "score:Float64",
            "ok:Boolean",
            "lines:Utf8"
        ]
    );
    // The `json` column is marked as JSON for readers to tell it from text.
    let lines = metadata.file_metadata().schema_descr().column(4);
    assert_eq!(
        lines.logical_type_ref(),
        Some(&parquet::basic::LogicalType::Json)
    );
    let ids = batch.column(0).as_primitive::<Int64Type>();
    assert_eq!(
        ids.values().to_vec(),
        (0..i64::from(RECORDS)).collect::<Vec<_>>()
    );
    assert_eq!(batch.column(2).as_primitive::<Float64Type>().value(7), 7.25);
    leave_for_pyarrow(&dir, "rows", &job);

    // The same file as a write job's input gives back the records.
    let sink = TestServer::start_fn(|seen| Exchange {
        status: 200,
        ..Exchange::json(&seen.target, "{}")
    });
    let write = dir.write(
        "write.toml",
        &format!(
            "[input]\npath = \"rows.parquet\"\n[write]\nurl = \"{}/in\"\nbatch_size = 1000\n[limits]\nconcurrency = 1\n",
            sink.url()
        ),
    );
    let run = hydrant(&["run", path_str(&write), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = sink.requests();
    assert_eq!(seen.len(), 3);
    let sent: Vec<serde_json::Value> = seen
        .iter()
        .flat_map(|s| serde_json::from_slice::<Vec<serde_json::Value>>(&s.body).unwrap())
        .collect();
    assert_eq!(sent.len(), RECORDS as usize);
    assert_eq!(
        sent[3],
        serde_json::json!({"id": 3, "name": "n3", "score": 3.25, "ok": false, "lines": [{"sku": "a", "n": 3}]})
    );
}

#[test]
fn the_zstd_level_trades_speed_for_size() {
    // Text that compresses: more effort finds more of its repeats.
    let page: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"word\":\"w{}\",\"n\":{}}}",
                i % 997,
                i * 7 % 1009
            )
        })
        .collect();
    let server = serve_all(&page);
    let dir = Dir::new();
    let sizes: Vec<u64> = ["-7", "19"]
        .iter()
        .map(|level| {
            let job = dir.write(
                &format!("job{level}.toml"),
                &job_text(
                    &server,
                    "/all",
                    &format!("[output]\nformat = \"parquet\"\nparquet = {{ compression_level = {level} }}\n"),
                ),
            );
            let out = dir.path(&format!("out{level}.parquet"));
            let run = hydrant(&["run", path_str(&job), "--output", path_str(&out), "--quiet"]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            let (batch, metadata) = read(&out);
            assert_eq!(batch.num_rows(), 20_000);
            assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(19_999), 19_999);
            assert!(matches!(
                metadata.row_group(0).column(0).compression(),
                Compression::ZSTD(_)
            ));
            std::fs::metadata(&out).unwrap().len()
        })
        .collect();
    assert!(
        sizes[1] < sizes[0],
        "level 19 gave {} bytes, -7 gave {}",
        sizes[1],
        sizes[0]
    );
}

/// The columns that get a dictionary, go without statistics or without
/// the codec are chosen by the first batch, and a debug event names them:
/// a status that interleaves gets a dictionary and no statistics, random
/// doubles are stored without zstd, ids in order keep everything.
#[test]
fn the_first_batch_chooses_each_columns_layout_and_a_debug_event_names_it() {
    let page: Vec<String> = (0u64..2000)
        .map(|i| {
            // The bits of a multiplicative hash: nothing for a codec to find.
            let random = f64::from_bits((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 2);
            format!(
                "{{\"id\":{i},\"status\":\"{}\",\"score\":{random:?}}}",
                ["open", "paid", "void"][(i % 3) as usize],
            )
        })
        .collect();
    let server = serve_all(&page);
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &job_text(&server, "/all", "[output]\nformat = \"parquet\"\n"),
    );
    let out = dir.path("out.parquet");
    let run = hydrant_with(
        &["run", path_str(&job), "--output", path_str(&out)],
        &[("RUST_LOG", "hydrant=debug")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let event = run
        .stderr
        .lines()
        .find(|line| line.contains("parquet columns chosen by the first batch"))
        .unwrap_or_else(|| panic!("no layout event in {}", run.stderr));
    assert!(
        event.contains("rows=2000 dictionary=status without_statistics=status without_codec=score"),
        "{event}"
    );
    let (batch, metadata) = read(&out);
    assert_eq!(batch.num_rows(), 2000);
    let column = |i: usize| metadata.row_group(0).column(i);
    assert!(column(0).statistics().is_some() && column(2).statistics().is_some());
    assert!(column(1).statistics().is_none());
    assert_eq!(column(2).compression(), Compression::UNCOMPRESSED);
    assert!(matches!(column(0).compression(), Compression::ZSTD(_)));
}

/// Row groups are encoded on a thread of their own; a run that fails after
/// some of them must still leave no Parquet file looking complete.
#[test]
fn a_failed_run_leaves_no_parquet_file() {
    let server = TestServer::start_fn(|seen| {
        let page: u32 = seen
            .target
            .split("page=")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        if page > 3 {
            return crate::util::json(500, r#"{"error":"down"}"#);
        }
        // Pages of 10 000 records: row groups go to the encoder before
        // the failure.
        let records: Vec<String> = (0..10_000)
            .map(|i| format!("{{\"id\":{},\"name\":\"n{i}\"}}", page * 100_000 + i))
            .collect();
        crate::util::json(200, format!("[{}]", records.join(",")))
    });
    let dir = Dir::new();
    let out = dir.path("out.parquet");
    let job = dir.write(
        "job.toml",
        &job_text(
            &server,
            "/items",
            "[paginate]\ntype = \"page\"\n[limits]\nmax_retries = 0\nconcurrency = 1\n",
        ),
    );
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&out)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("answered 500"), "{}", run.stderr);
    assert!(!out.exists(), "a failed run left a Parquet file");
    assert!(!dir.path("out.parquet.partial").exists());
}

/// With no record, inferred columns are none, and a Parquet file with no
/// column is one DuckDB refuses: the run says so. Declared columns give
/// the file its schema however many records come.
#[test]
fn a_parquet_file_with_no_record_to_infer_from_is_told() {
    let server = TestServer::start_fn(|_| crate::util::json(200, "[]"));
    let dir = Dir::new();
    let inferred = dir.write("inferred.toml", &job_text(&server, "/none", ""));
    let out = dir.path("inferred.parquet");
    let run = hydrant(&["run", path_str(&inferred), "--output", path_str(&out)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "WARN no record came to infer the columns from: the Parquet file `{}` has no column",
            out.display()
        )),
        "{}",
        run.stderr
    );
    let file = |path: &std::path::Path| {
        ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap()
    };
    let inferred = file(&out);
    assert_eq!(inferred.schema().fields().len(), 0);
    assert_eq!(inferred.metadata().file_metadata().num_rows(), 0);

    let declared = dir.write(
        "declared.toml",
        &job_text(
            &server,
            "/none",
            "[[columns]]\nname = \"id\"\ntype = \"long\"\n",
        ),
    );
    let out = dir.path("declared.parquet");
    let run = hydrant(&["run", path_str(&declared), "--output", path_str(&out)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let declared = file(&out);
    let fields: Vec<&str> = declared
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(fields, ["id"]);
    assert_eq!(declared.metadata().file_metadata().num_rows(), 0);
}

/// A column of `page_path` in Parquet: each row holds its page's value,
/// typed as declared.
#[test]
fn a_page_path_column_is_typed_in_parquet() {
    let server = TestServer::start_fn(|seen| {
        let page: i64 = (seen.target.split("page=").nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let items = if page > 2 {
            String::from("[]")
        } else {
            format!(r#"[{{"id": {}}}, {{"id": {}}}]"#, page * 2, page * 2 + 1)
        };
        let body = format!(
            r#"{{"generated": "2026-12-0{page}T00:00:00Z", "run": {page}, "items": {items}}}"#
        );
        crate::util::json(200, body)
    });
    let dir = Dir::new();
    let out = dir.path("out.parquet");
    let columns = "[records]\npath = \"items\"\n[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n\
        [[columns]]\nname = \"id\"\ntype = \"long\"\n\
        [[columns]]\nname = \"generated\"\npage_path = \"$.generated\"\ntype = \"timestamp\"\n\
        [[columns]]\nname = \"run\"\npage_path = \"$.run\"\ntype = \"int\"\n";
    let job = dir.write("job.toml", &job_text(&server, "/items", columns));
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&out)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (batch, _) = read(&out);
    let generated = batch.column(1).as_primitive::<TimestampMicrosecondType>();
    let day = 86_400_000_000;
    // 2026-12-01T00:00:00Z.
    let first = 1_796_083_200_000_000;
    assert_eq!(
        generated.values().to_vec(),
        vec![first, first, first + day, first + day]
    );
    let runs = batch.column(2).as_primitive::<Int32Type>();
    assert_eq!(runs.values().to_vec(), vec![1, 1, 2, 2]);
}

/// A column of `parent_path` in Parquet: each row holds its parent's
/// value, typed as declared, on pages made two at a time.
#[test]
fn a_parent_path_column_is_typed_in_parquet() {
    let server = TestServer::start_fn(|seen| {
        let page: i64 = (seen.target.split("page=").nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let orders = format!(
            r#"[{{"number": {page}, "placed": "2026-12-0{page}T00:00:00Z", "lines": [{{"sku": "a"}}, {{"sku": "b"}}]}}, {{"number": {}, "lines": [{{"sku": "c"}}]}}]"#,
            page + 10
        );
        let next = match page {
            1 => r#""/orders?page=2""#,
            _ => "null",
        };
        crate::util::json(200, format!(r#"{{"orders": {orders}, "next": {next}}}"#))
    });
    let dir = Dir::new();
    let out = dir.path("out.parquet");
    let columns = "[records]\npath = \"orders[*].lines[*]\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n\
        [[columns]]\nname = \"sku\"\n\
        [[columns]]\nname = \"number\"\nparent_path = \"number\"\ntype = \"int\"\n\
        [[columns]]\nname = \"placed\"\nparent_path = \"placed\"\ntype = \"timestamp\"\n";
    let job = dir.write("job.toml", &job_text(&server, "/orders", columns));
    let run = hydrant(&["run", path_str(&job), "--output", path_str(&out)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (batch, _) = read(&out);
    let numbers = batch.column(1).as_primitive::<Int32Type>();
    assert_eq!(numbers.values().to_vec(), vec![1, 1, 11, 2, 2, 12]);
    let placed = batch.column(2).as_primitive::<TimestampMicrosecondType>();
    let first = 1_796_083_200_000_000;
    let day = 86_400_000_000;
    let cells: Vec<Option<i64>> = placed.iter().collect();
    assert_eq!(
        cells,
        vec![
            Some(first),
            Some(first),
            None,
            Some(first + day),
            Some(first + day),
            None
        ]
    );
}
