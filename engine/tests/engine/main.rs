//! Integration tests of hydrant-engine's public API.

#[cfg(feature = "arrow")]
mod arrow;
mod jsonpath;
mod pages;
mod util;

use hydrant_engine::{Job, JobFormat, JsonPath, OutputFormat, RunOptions, Vars, run};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The compiled walker and serde_json_path select the same values, in the
/// same order, for every path the walker accepts.
#[test]
fn compiled_walker_agrees_with_serde_json_path() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut compared = 0;
    for _ in 0..400 {
        let doc = util::document(&mut rng, 4);
        let text = serde_json::to_string(&doc).unwrap();
        for _ in 0..25 {
            let segments = util::segments(&mut rng);
            let written = util::jsonpath_text(&mut rng, &segments);
            let path = JsonPath::parse(&written).unwrap();
            assert_eq!(
                path.segments(),
                Some(segments.as_slice()),
                "{written} should compile"
            );
            let walked = hydrant_engine::query(&written, text.as_bytes()).unwrap();
            let walked: Vec<serde_json::Value> = serde_json::from_slice(&walked).unwrap();
            let general = serde_json_path::JsonPath::parse(&written).unwrap();
            let expected: Vec<&serde_json::Value> = general.query(&doc).all();
            // Both sides as serde_json reads them back from text: its
            // float parser may be an ulp off, the same way for both.
            let expected: Vec<serde_json::Value> =
                serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
            assert_eq!(walked, expected, "path {written} on {text}");
            compared += 1;
        }
    }
    assert_eq!(compared, 10_000);
}

fn job_for(url: &str, columns: &str, format: OutputFormat, output: &std::path::Path) -> Job {
    let text = format!("[request]\nurl = \"{url}/page\"\n{columns}");
    let mut job = Job::parse(&text, JobFormat::Toml, "test.toml", &Vars::isolated([])).unwrap();
    job.set_output_format(format);
    job.set_output_path(output.to_str().unwrap());
    job
}

/// Every double written to NDJSON or CSV parses back to the same bits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doubles_keep_their_bits() {
    let mut rng = StdRng::seed_from_u64(42);
    let mut values = vec![
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        5e-324,
        0.1,
        1.0 / 3.0,
        1e21,
        123456789.125,
    ];
    while values.len() < 20_000 {
        let candidate = f64::from_bits(rng.random());
        if candidate.is_finite() {
            values.push(candidate);
        }
    }
    let mut page = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            page.push(',');
        }
        // Debug is the shortest text that reads back to the same value.
        page.push_str(&format!("{{\"d\":{v:?}}}"));
    }
    page.push(']');
    let server = util::serve_page(page).await;
    let dir = tempfile::tempdir().unwrap();
    let columns = "[[columns]]\nname = \"d\"\ntype = \"double\"\n";
    for format in [OutputFormat::Ndjson, OutputFormat::Csv] {
        let out = dir.path().join("out");
        let job = job_for(&server.url(), columns, format, &out);
        let summary = run(&job, RunOptions::default()).await.unwrap();
        assert_eq!(summary.records, values.len() as u64);
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        if format == OutputFormat::Csv {
            assert_eq!(lines.next(), Some("d"));
        }
        for (line, expected) in lines.zip(&values) {
            let field = line
                .strip_prefix("{\"d\":")
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or(line);
            let back: f64 = field.parse().unwrap();
            assert_eq!(back.to_bits(), expected.to_bits(), "{line}");
        }
    }
}

/// Integer columns never pass through a float.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_columns_keep_exact_integers() {
    let values = [
        i64::MAX,
        i64::MIN,
        9_007_199_254_740_993,
        -9_007_199_254_740_993,
        0,
        1,
    ];
    let page = format!(
        "[{}]",
        values
            .iter()
            .map(|v| format!("{{\"n\":{v},\"s\":\"{v}\"}}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let server = util::serve_page(page).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let columns =
        "[[columns]]\nname = \"n\"\ntype = \"long\"\n[[columns]]\nname = \"s\"\ntype = \"long\"\n";
    let job = job_for(&server.url(), columns, OutputFormat::Ndjson, &out);
    run(&job, RunOptions::default()).await.unwrap();
    let expected: String = values
        .iter()
        .map(|v| format!("{{\"n\":{v},\"s\":{v}}}\n"))
        .collect();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
}

/// Many columns from one object are found in one pass over its members:
/// in any member order, with keys alike in length and first bytes, and a
/// repeated key keeping its first value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_columns_of_one_object_are_found_in_any_member_order() {
    let names: Vec<String> = (0..10)
        .map(|i| format!("key_ab{i}"))
        .chain(["key_abcX".to_owned(), "key_abcY".to_owned()])
        .collect();
    let columns: String = names
        .iter()
        .map(|n| format!("[[columns]]\nname = \"{n}\"\n"))
        .collect();
    let members = |order: &[usize], extra: &str| {
        let listed: Vec<String> = order
            .iter()
            .map(|&i| format!("\"{}\":\"{}-v\"", names[i], names[i]))
            .collect();
        format!("{{{}{extra}}}", listed.join(","))
    };
    let in_order: Vec<usize> = (0..12).collect();
    let reversed: Vec<usize> = (0..12).rev().collect();
    let shuffled = [5, 11, 0, 7, 10, 2, 9, 1, 8, 3, 6];
    let page = format!(
        "[{},{},{}]",
        members(&in_order, ""),
        members(&reversed, ",\"key_ab3\":\"again\""),
        members(&shuffled, "")
    );
    let server = util::serve_page(page).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let job = job_for(&server.url(), &columns, OutputFormat::Ndjson, &out);
    let summary = run(&job, RunOptions::default()).await.unwrap();
    assert_eq!(summary.records, 3);
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (row, missing) in rows.iter().zip([None, None, Some("key_ab4")]) {
        for name in &names {
            let expected = if Some(name.as_str()) == missing {
                serde_json::Value::Null
            } else {
                serde_json::Value::String(format!("{name}-v"))
            };
            assert_eq!(row[name], expected, "{name} in {row}");
        }
    }
}
