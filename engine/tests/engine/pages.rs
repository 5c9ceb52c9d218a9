//! A run reads each page through its structural index, with shortcuts: a
//! record whose keys match the last one walked is noted from that walk,
//! values already of their column's type are cells as they stand, and
//! later pages are checked against the columns inferred from the first.
//! The simd-json tree reads a page without any of them. On pages of API
//! records with values, keys and order changed at random, both must write
//! the same rows, or both refuse the page.

use hydrant_engine::bench_support::{Encoding, PagePipeline, same_lines_but_numbers};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The members of a record, in the order an API sends them.
const KEYS: [&str; 14] = [
    "id",
    "account_id",
    "amount",
    "score",
    "status",
    "currency",
    "uuid",
    "created_at",
    "day",
    "active",
    "deleted_at",
    "user",
    "note",
    "tags",
];

/// A record's usual value for `key`.
fn usual(key: &str, id: usize, rng: &mut StdRng) -> String {
    let pick = |rng: &mut StdRng, of: &[&str]| of[rng.random_range(0..of.len())].to_owned();
    match key {
        "id" => id.to_string(),
        "account_id" => rng.random_range(0..100_000).to_string(),
        "amount" => format!(
            "{}.{:02}",
            rng.random_range(0..10_000),
            rng.random_range(0..100)
        ),
        "score" => format!("{:.17}", rng.random_range(0.1..1.0f64)),
        "status" => pick(rng, &[r#""paid""#, r#""open""#, r#""void""#]),
        "currency" => pick(rng, &[r#""EUR""#, r#""USD""#, r#""JPY""#]),
        "uuid" => format!("\"{:016x}\"", rng.random::<u64>()),
        "created_at" => format!(
            "\"2023-11-{:02}T{:02}:{:02}:{:02}.{:03}Z\"",
            rng.random_range(1..29),
            rng.random_range(0..24),
            rng.random_range(0..60),
            rng.random_range(0..60),
            rng.random_range(0..1000)
        ),
        "day" => format!("\"2023-11-{:02}\"", rng.random_range(1..29)),
        "active" => rng.random::<bool>().to_string(),
        "user" => format!(
            r#"{{"id":{},"name":{}}}"#,
            rng.random_range(0..1_000_000),
            pick(rng, &[r#""amber""#, r#""caf\u00e9""#])
        ),
        "note" => pick(
            rng,
            &[
                r#""ring \u0007 bell, \"quotes\"""#,
                r#""café – naïve""#,
                r#""a\\b\nc""#,
            ],
        ),
        "tags" => pick(rng, &["[1,2]", "[]", r#"["a"]"#]),
        _ => "null".to_owned(),
    }
}

/// Another value of the same JSON type as `key`'s usual one, in a
/// spelling that takes another branch of the reader: exponents, digits
/// past 2^53, escapes, surrogates, offsets, leap seconds.
fn variant(key: &str, rng: &mut StdRng) -> String {
    let of: &[&str] = match key {
        "id" | "account_id" => &[
            "-0",
            "-5",
            "9007199254740993",
            "9223372036854775807",
            "-9223372036854775808",
            "1e3",
            "1.0",
            "12345678901234567",
        ],
        "amount" | "score" => &[
            "1E+2",
            "-1.5e-7",
            "1.7976931348623157e308",
            "5e-324",
            "2213.890",
            "0.30000000000000004",
            "4503599627370496.5",
            "123.456e2",
            "-0.0",
            "9007199254740993",
            "123456789012345678901",
            "0.1000000000000000055511151231257827",
            "1e21",
            "123456.7890123456",
        ],
        "status" | "currency" | "uuid" | "note" => &[
            r#""""#,
            r#""\u00e9\n\"q\"""#,
            r#""\/slash""#,
            r#""tab\there""#,
            r#""\u0000""#,
            r#""a\\b""#,
            r#""\ud800""#,
            r#""\ud83d\ude00""#,
            r#""日本""#,
            r#""\b\f\r""#,
        ],
        "created_at" => &[
            r#""2023-11-14T22:13:45+05:30""#,
            r#""2023-11-14T22:13:45.123456789Z""#,
            r#""2023-11-14 22:13:45Z""#,
            r#""2016-12-31T23:59:60Z""#,
            r#""2023-11-14t22:13:45z""#,
            r#""2023-11-14T22:13:45.1Z""#,
            r#""2023-11-14T22:13:45-00:00""#,
            r#""2023-02-30T22:13:45Z""#,
            r#""0001-01-01T00:00:00Z""#,
            r#""9999-12-31T23:59:59.999999Z""#,
            r#""2023-11-14T24:00:00Z""#,
            "1709294400",
            "1709294400250",
            "1709294400250001",
            "9007199254740993",
        ],
        "day" => &[
            r#""2024-02-29""#,
            r#""2023-02-29""#,
            r#""0000-01-01""#,
            r#""2023-1-5""#,
        ],
        "user" => &[
            r#"{"id":1}"#,
            r#"{"name":"x","id":2}"#,
            r#"{"id":null,"name":null}"#,
            r#"{ "id" : 3 , "name" : "y" }"#,
            r#"{"id":4,"id":5}"#,
            r#"{"name":"a","\u006eame":"b","id":6}"#,
        ],
        "tags" => &[
            "[null]",
            r#"[{"a":1}]"#,
            "[1.5,-0]",
            r#"[{"a":1,"b":[{"a":2,"a":3}],"a":4}]"#,
        ],
        _ => &["true", "false"],
    };
    if rng.random_bool(0.1) {
        "null".to_owned()
    } else {
        of[rng.random_range(0..of.len())].to_owned()
    }
}

/// A value of any type, for a member that changes its type.
fn any_value(rng: &mut StdRng) -> String {
    let keys = [
        "id",
        "amount",
        "note",
        "created_at",
        "user",
        "tags",
        "active",
    ];
    variant(keys[rng.random_range(0..keys.len())], rng)
}

/// One record; `odds` is the chance of each change.
fn record(id: usize, odds: f64, rng: &mut StdRng, out: &mut String) {
    let mut members: Vec<(String, String)> = KEYS
        .iter()
        .map(|key| (format!("\"{key}\""), usual(key, id, rng)))
        .collect();
    for (member, key) in members.iter_mut().zip(KEYS) {
        if rng.random_bool(odds) {
            member.1 = variant(key, rng);
        }
        if rng.random_bool(odds / 8.0) {
            member.1 = any_value(rng);
        }
    }
    for i in 1..members.len() {
        if rng.random_bool(odds / 3.0) {
            members.swap(i - 1, i);
        }
    }
    if rng.random_bool(odds) {
        let (a, b) = (
            rng.random_range(0..members.len()),
            rng.random_range(0..members.len()),
        );
        members.swap(a, b);
    }
    if rng.random_bool(odds) {
        // Another key of the same length: `status` as `statuz`.
        let member = rng.random_range(0..members.len());
        let key = &mut members[member].0;
        key.replace_range(key.len() - 2..key.len() - 1, "z");
    }
    if rng.random_bool(odds) {
        members.remove(rng.random_range(0..members.len()));
    }
    if rng.random_bool(odds / 4.0) {
        let again = members[rng.random_range(0..members.len())].clone();
        members.push(again);
    }
    if rng.random_bool(odds / 4.0) {
        members.push((r#""extra""#.to_owned(), any_value(rng)));
    }
    if rng.random_bool(odds / 2.0) {
        // A key spelled with an escape reads as the same key.
        let spelled = [
            ("\"status\"", r#""st\u0061tus""#),
            ("\"id\"", r#""\u0069d""#),
        ];
        for member in &mut members {
            if let Some((_, escaped)) = spelled.iter().find(|(plain, _)| member.0 == *plain) {
                member.0 = (*escaped).to_owned();
            }
        }
    }
    let gap = if rng.random_bool(odds) { " " } else { "" };
    out.push('{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push_str(&format!("{gap},{gap}"));
        }
        out.push_str(&format!("{key}{gap}:{gap}{value}"));
    }
    out.push('}');
}

/// A page of up to 40 records under `data`, the next link after them
/// half the time.
fn page(odds: f64, rng: &mut StdRng) -> Vec<u8> {
    let mut out = String::from(r#"{"data":["#);
    for id in 0..rng.random_range(1..40) {
        if id > 0 {
            out.push(',');
        }
        if rng.random_bool(odds / 8.0) {
            let odd = ["{}", r#"{"id":null}"#, "null"];
            out.push_str(odd[rng.random_range(0..odd.len())]);
        } else {
            record(id, odds, rng, &mut out);
        }
    }
    out.push(']');
    if rng.random_bool(0.5) {
        out.push_str(r#","next":"https://api.example.com/x?p=2""#);
    }
    out.push('}');
    out.into_bytes()
}

fn odds(rng: &mut StdRng) -> f64 {
    if rng.random_bool(0.5) {
        rng.random_range(0.0..0.02)
    } else {
        rng.random_range(0.0..0.12)
    }
}

/// How the two readers answered a page.
#[derive(Debug, Default)]
struct Tally {
    same_rows: usize,
    both_refused: usize,
    /// Pages whose records the index found outside the inferred columns:
    /// a run infers its columns again from such a page's tree.
    new_fields: usize,
    /// Values written as null for their type (`on_bad_type = "null"`).
    nulled: usize,
    /// Cells of records without a value there (`on_missing = "null"`).
    absent: usize,
}

impl Tally {
    fn compare(&mut self, index: &mut PagePipeline, tree: &mut PagePipeline, page: &[u8]) {
        let encoding = Encoding::Ndjson;
        match (index.encode(page, encoding), tree.encode(page, encoding)) {
            (Ok(by_index), Ok(by_tree)) => {
                assert!(
                    same_lines_but_numbers(&by_index, &by_tree),
                    "page {}\nindex: {}\ntree: {}",
                    String::from_utf8_lossy(page),
                    String::from_utf8_lossy(&by_index),
                    String::from_utf8_lossy(&by_tree),
                );
                let tolerated = index.tolerated(page).unwrap();
                assert_eq!(
                    tolerated,
                    tree.tolerated(page).unwrap(),
                    "cells written as null for a tolerated problem, page {}",
                    String::from_utf8_lossy(page)
                );
                self.nulled += tolerated.iter().filter(|t| !t.missing).count();
                self.absent += tolerated.iter().filter(|t| t.missing).count();
                self.same_rows += 1;
            }
            (Err(e), Ok(_)) if e.to_string().contains("outside the columns inferred") => {
                self.new_fields += 1;
            }
            (Err(_), Err(_)) => self.both_refused += 1,
            (by_index, by_tree) => panic!(
                "index {:?}, tree {:?}, page {}",
                by_index.map(|o| o.len()),
                by_tree.map(|o| o.len()),
                String::from_utf8_lossy(page)
            ),
        }
    }
}

const JOB: &str = "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = \"data\"\n";

/// Columns of every type, some at nested paths: name, path, type.
const TYPED: [(&str, &str, &str); 14] = [
    ("id", "id", "long"),
    ("amount", "amount", "double"),
    ("score", "score", "float"),
    ("at", "created_at", "timestamp"),
    ("day", "day", "date"),
    ("name", "user.name", "string"),
    ("uid", "user.id", "long"),
    ("active", "active", "boolean"),
    ("tags", "tags", "json"),
    ("tag", "tags[0]", "string"),
    ("account", "account_id", "string"),
    ("status", "status", "string"),
    ("deleted", "deleted_at", "timestamp"),
    // A path read by two columns, as a time and its text.
    ("at_text", "created_at", "string"),
];

/// A job of some of [`TYPED`]'s columns, under one of the policies for a
/// missing member or a value of another type.
fn typed_job(rng: &mut StdRng) -> String {
    let policy = [
        "",
        "on_missing = \"null\"\non_bad_type = \"null\"\n",
        "on_missing = \"dirty\"\n",
    ][rng.random_range(0..3)];
    let mut job = format!("{JOB}{policy}");
    for (name, path, kind) in TYPED {
        if rng.random_bool(0.6) {
            job +=
                &format!("[[columns]]\nname = \"{name}\"\npath = \"{path}\"\ntype = \"{kind}\"\n");
        }
    }
    if !job.contains("[[columns]]") {
        job += "[[columns]]\nname = \"id\"\n";
    }
    job
}

/// A job of inferred or of typed columns, at even odds.
fn any_job(rng: &mut StdRng) -> String {
    if rng.random_bool(0.5) {
        typed_job(rng)
    } else {
        JOB.to_owned()
    }
}

/// The odds of a change to a value of page `page_number`: none on the
/// first, whose records the columns are inferred from.
fn page_odds(page_number: usize, rng: &mut StdRng) -> f64 {
    if page_number == 0 { 0.0 } else { odds(rng) }
}

#[test]
fn inferred_columns_read_changed_records_alike_by_index_and_tree() {
    let mut rng = StdRng::seed_from_u64(0xa9ee);
    let mut tally = Tally::default();
    for _ in 0..250 {
        let mut index = PagePipeline::new(JOB).unwrap();
        let mut tree = PagePipeline::new(JOB).unwrap().tree_only();
        // The first page infers the columns; the later ones are checked
        // against them.
        let first_odds = if rng.random_bool(0.3) {
            odds(&mut rng)
        } else {
            0.0
        };
        tally.compare(&mut index, &mut tree, &page(first_odds, &mut rng));
        for _ in 0..4 {
            let odds = odds(&mut rng);
            tally.compare(&mut index, &mut tree, &page(odds, &mut rng));
        }
    }
    // Most pages take the index's shortcuts, and the check turns some
    // away: neither path is left untried.
    assert!(tally.same_rows > 500, "{tally:?}");
    assert!(tally.new_fields > 100, "{tally:?}");
}

/// Pages whose records share a few shapes are read against them, not
/// through the index (`read/shaped.rs`). Wherever that reader takes one
/// of these changed pages, it makes the page path's rows, lines, nulls
/// and Arrow batch; it declines the rest, which a run reads by the page
/// path.
#[test]
fn the_shaped_reader_makes_what_the_page_path_makes_on_changed_records() {
    let mut rng = StdRng::seed_from_u64(0x5a9e);
    let (mut taken, mut declined) = (0, 0);
    for _ in 0..250 {
        let job = any_job(&mut rng);
        let mut pipeline = PagePipeline::new(&job).unwrap();
        // Inferred columns come from a first page of plain records.
        if pipeline.run(&page(0.0, &mut rng)).is_err() {
            continue;
        }
        for _ in 0..4 {
            let page = page(odds(&mut rng), &mut rng);
            match pipeline.check_shaped(&page) {
                Ok(true) => taken += 1,
                Ok(false) => declined += 1,
                Err(differs) => panic!("{differs}\n{job}\n{}", String::from_utf8_lossy(&page)),
            }
        }
    }
    assert!(
        taken > 150 && declined > 150,
        "{taken} taken, {declined} declined"
    );
}

/// Typed columns, some at nested paths, under each policy for a missing
/// member or a value of another type.
#[test]
fn typed_columns_read_changed_records_alike_by_index_and_tree() {
    let mut rng = StdRng::seed_from_u64(0x7e9d);
    let mut tally = Tally::default();
    for _ in 0..150 {
        let job = typed_job(&mut rng);
        let mut index = PagePipeline::new(&job).unwrap();
        let mut tree = PagePipeline::new(&job).unwrap().tree_only();
        for _ in 0..4 {
            let odds = odds(&mut rng);
            tally.compare(&mut index, &mut tree, &page(odds, &mut rng));
        }
    }
    assert!(
        tally.same_rows > 500 && tally.nulled > 100 && tally.absent > 100,
        "{tally:?}"
    );
    assert_eq!(
        tally.new_fields, 0,
        "typed columns are never inferred again"
    );
}

/// A CSV output, read back as a write job's CSV input reads it, gives
/// each field as NDJSON wrote it: a null as null, a string as itself, any
/// other value, and any value of a `json` column, as its JSON text. A
/// REST-to-REST copy through CSV keeps every string, empty ones and nulls
/// apart.
#[test]
fn csv_reads_back_as_ndjson_wrote_on_changed_records() {
    use std::collections::BTreeMap;

    use serde_json::value::RawValue;

    let mut rng = StdRng::seed_from_u64(0xc5f);
    let (mut fields, mut empty) = (0, 0);
    for _ in 0..60 {
        let job = any_job(&mut rng);
        let mut pipeline = PagePipeline::new(&job).unwrap();
        for page_number in 0..5 {
            let odds = page_odds(page_number, &mut rng);
            let body = page(odds, &mut rng);
            let (Ok(ndjson), Ok(csv)) = (
                pipeline.encode(&body, Encoding::Ndjson),
                pipeline.encode(&body, Encoding::Csv),
            ) else {
                continue;
            };
            let read = hydrant_engine::bench_support::csv_input_records(&csv).unwrap();
            let lines: Vec<&[u8]> = ndjson
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(read.len(), lines.len(), "rows read back");
            for (line, read) in lines.iter().zip(&read) {
                let line: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(line).unwrap();
                let read: BTreeMap<String, Option<String>> = serde_json::from_slice(read).unwrap();
                assert_eq!(line.len(), read.len());
                for (key, written) in &line {
                    let written = written.get();
                    let json = pipeline
                        .columns()
                        .unwrap()
                        .iter()
                        .any(|c| c.name == *key && c.kind == hydrant_engine::ColumnType::Json);
                    let expected = match written {
                        "null" => None,
                        _ if written.starts_with('"') && !json => {
                            serde_json::from_str(written).unwrap()
                        }
                        _ => Some(written.to_owned()),
                    };
                    empty += usize::from(expected.as_deref() == Some(""));
                    fields += 1;
                    assert_eq!(
                        read[key],
                        expected,
                        "column {key}: NDJSON {written}\nCSV {}",
                        String::from_utf8_lossy(&csv)
                    );
                }
            }
        }
    }
    assert!(
        fields > 30_000 && empty > 0,
        "{fields} fields, {empty} empty strings"
    );
}

/// A Parquet output holds the values an NDJSON output writes, and its
/// file reads back as the batches the page makers built. A write job that
/// takes the file as its input sends each row as its NDJSON line: a
/// REST-to-REST copy through Parquet changes nothing.
#[cfg(feature = "parquet")]
#[test]
fn parquet_holds_what_ndjson_writes_on_changed_records() {
    let mut rng = StdRng::seed_from_u64(0x9a7e);
    let (mut rows, mut files) = (0, 0);
    for _ in 0..40 {
        let job = any_job(&mut rng);
        let mut text = PagePipeline::new(&job).unwrap();
        let mut arrow = PagePipeline::new(&job).unwrap();
        let (mut batches, mut ndjson_lines) = (Vec::new(), Vec::new());
        for page_number in 0..6 {
            let odds = page_odds(page_number, &mut rng);
            let body = page(odds, &mut rng);
            let (Ok(ndjson), Ok(batch)) = (
                text.encode(&body, Encoding::Ndjson),
                arrow.arrow_batch(&body),
            ) else {
                continue;
            };
            let lines: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&ndjson)
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(lines.len(), batch.num_rows());
            for (row, line) in lines.iter().enumerate() {
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    let written = &line[field.name()];
                    assert!(
                        same_value(column.as_ref(), row, written),
                        "column {} row {row}: NDJSON {written} in {}, Arrow {:?}\npage {}",
                        field.name(),
                        String::from_utf8_lossy(&ndjson).lines().nth(row).unwrap(),
                        column.slice(row, 1),
                        String::from_utf8_lossy(&body)
                    );
                }
            }
            rows += batch.num_rows();
            batches.push(batch);
            ndjson_lines.extend(
                ndjson
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        let schema = arrow
            .parquet_schema()
            .unwrap_or_else(|| batches[0].schema());
        hydrant_engine::bench_support::write_parquet(&batches, schema, &path, 1).unwrap();
        let read: Vec<_> = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            std::fs::File::open(&path).unwrap(),
            1 << 20,
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
        let read: Vec<_> = read
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(move |row| b.slice(row, 1)))
            .collect();
        let written: Vec<_> = batches
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(move |row| b.slice(row, 1)))
            .collect();
        assert_eq!(read.len(), written.len(), "rows read back");
        for (read, written) in read.iter().zip(&written) {
            assert_eq!(read.columns(), written.columns(), "a row read back");
        }
        if !written.is_empty() {
            let sent = hydrant_engine::bench_support::parquet_input_records(&path).unwrap();
            assert_eq!(sent.len(), ndjson_lines.len(), "records a write job sends");
            // As values: NDJSON writes a double as its page spells it,
            // a Parquet row as its shortest text.
            for (sent, line) in sent.iter().zip(&ndjson_lines) {
                let value =
                    |text: &[u8]| serde_json::from_slice::<serde_json::Value>(text).unwrap();
                assert_eq!(
                    value(sent),
                    value(line),
                    "a Parquet row sent, against its NDJSON line: {}",
                    String::from_utf8_lossy(line)
                );
            }
        }
        files += usize::from(!written.is_empty());
    }
    assert!(rows > 2000 && files > 20, "{rows} rows, {files} files");
}

/// Whether row `row` of `column` holds the value NDJSON wrote as `written`.
#[cfg(feature = "parquet")]
fn same_value(
    column: &dyn hydrant_engine::arrow::arrow_array::Array,
    row: usize,
    written: &serde_json::Value,
) -> bool {
    use hydrant_engine::arrow::arrow_array::cast::AsArray;
    use hydrant_engine::arrow::arrow_array::types::{
        Date32Type, Float32Type, Float64Type, Int64Type, TimestampMicrosecondType,
    };
    use hydrant_engine::arrow::arrow_schema::DataType;
    use serde_json::Value;
    if column.is_null(row) {
        return written.is_null();
    }
    let text = written.as_str();
    match column.data_type() {
        DataType::Int64 => written.as_i64() == Some(column.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => {
            let value = column.as_primitive::<Float64Type>().value(row);
            written.as_f64().map(f64::to_bits) == Some(value.to_bits())
        }
        DataType::Float32 => {
            let value = column.as_primitive::<Float32Type>().value(row);
            // NDJSON writes a float's shortest digits, which read back as
            // the float, not as the double it widens to.
            written.to_string().parse::<f32>().ok() == Some(value)
        }
        DataType::Boolean => written.as_bool() == Some(column.as_boolean().value(row)),
        DataType::Utf8 => {
            let value = column.as_string::<i32>().value(row);
            // A `json` column holds the value's JSON text.
            text == Some(value)
                || serde_json::from_str::<Value>(value).ok().as_ref() == Some(written)
        }
        DataType::Date32 => {
            let days = column.as_primitive::<Date32Type>().value(row);
            let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                + chrono::TimeDelta::days(i64::from(days));
            text == Some(date.format("%Y-%m-%d").to_string().as_str())
        }
        DataType::Timestamp(..) => {
            let micros = column.as_primitive::<TimestampMicrosecondType>().value(row);
            text.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t.timestamp_micros() == micros)
        }
        other => panic!("no comparison for {other}"),
    }
}

/// Records paths of filters and slices, which are evaluated on a copy of
/// the page: the index takes its own records at the places found, the
/// tree a reparse of what the copy selects.
#[test]
fn general_records_paths_read_changed_records_alike_by_index_and_tree() {
    let mut rng = StdRng::seed_from_u64(0x51ce);
    let mut tally = Tally::default();
    for path in ["$.data[?@.id >= 3]", "$.data[1:30:2]", "$..data[-5:]"] {
        let job = JOB.replace("path = \"data\"", &format!("path = \"{path}\""));
        for _ in 0..40 {
            let mut index = PagePipeline::new(&job).unwrap();
            let mut tree = PagePipeline::new(&job).unwrap().tree_only();
            tally.compare(&mut index, &mut tree, &page(0.0, &mut rng));
            for _ in 0..3 {
                let odds = odds(&mut rng);
                tally.compare(&mut index, &mut tree, &page(odds, &mut rng));
            }
        }
    }
    assert!(tally.same_rows > 300, "{tally:?}");
}
