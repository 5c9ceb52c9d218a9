//! `cargo xtask instructions [SHAPE ...] [ndjson|csv|arrow]`: the
//! instructions the page path takes a page, counted by cachegrind. The
//! host's speed moves from hour to hour; these counts do not, so a small
//! change shows in them where times are noise.
//!
//! Each shape's `page_loop` runs over a few pages and over many; the
//! difference over the pages between leaves out what a run does once
//! (making the page, inferring the columns).

use std::fmt::Write as _;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The corpus shapes of `hydrant-bench`, measured when none is named.
const SHAPES: [&str; 9] = [
    "flat",
    "nested",
    "escapes",
    "numbers",
    "wide",
    "realistic",
    "pretty",
    "sparse",
    "optional",
];

/// The outputs `page_loop` makes.
const OUTPUTS: [&str; 3] = ["ndjson", "csv", "arrow"];

/// Pages of the two runs whose difference is counted.
const FEW: u64 = 10;
const MANY: u64 = 50;

pub fn run(args: &[String]) -> Result<()> {
    let (shapes, output) = parse(args)?;
    Command::new("valgrind")
        .arg("--version")
        .output()
        .context("cannot run valgrind, which counts the instructions (apt-get install valgrind)")?;
    super::cargo(&[
        "build",
        "--profile",
        "bench",
        "-p",
        "hydrant-bench",
        "--example",
        "page_loop",
    ])?;
    let mut results = Vec::new();
    for shape in &shapes {
        let few = count(shape, FEW, output)?;
        let many = count(shape, MANY, output)?;
        let per_page = per_page(few, many)
            .with_context(|| format!("{shape}: {MANY} pages took fewer instructions than {FEW}"))?;
        eprintln!(
            "{shape}: {:.3} M instructions a page",
            per_page as f64 / 1e6
        );
        results.push(json!({"shape": shape, "output": output, "instructions_per_page": per_page}));
    }
    let out = super::root().join("target/instructions.json");
    std::fs::write(
        &out,
        serde_json::to_vec_pretty(&json!({"results": results}))?,
    )
    .with_context(|| format!("cannot write {}", out.display()))?;
    print!("{}", table(&results));
    println!("\nwritten to {}", out.display());
    Ok(())
}

/// The shapes named (all when none is) and the output (NDJSON unless
/// named).
fn parse(args: &[String]) -> Result<(Vec<&'static str>, &'static str)> {
    let mut shapes = Vec::new();
    let mut output = "ndjson";
    for arg in args {
        if let Some(known) = OUTPUTS.iter().find(|o| *o == arg) {
            output = known;
        } else if let Some(known) = SHAPES.iter().find(|s| *s == arg) {
            shapes.push(*known);
        } else {
            bail!(
                "no shape or output `{arg}`: shapes are {}, outputs {}",
                SHAPES.join(", "),
                OUTPUTS.join(", ")
            );
        }
    }
    if shapes.is_empty() {
        shapes = SHAPES.to_vec();
    }
    Ok((shapes, output))
}

/// The instructions of `page_loop SHAPE PAGES OUTPUT`, all of them.
fn count(shape: &str, pages: u64, output: &str) -> Result<u64> {
    let page_loop = super::root().join("target/release/examples/page_loop");
    let run = Command::new("valgrind")
        .args(["--tool=cachegrind", "--cache-sim=no"])
        .arg("--cachegrind-out-file=/dev/null")
        .arg(&page_loop)
        .args([shape, &pages.to_string(), output])
        .output()
        .with_context(|| format!("cannot run valgrind on {}", page_loop.display()))?;
    let report = String::from_utf8_lossy(&run.stderr);
    if !run.status.success() {
        bail!(
            "page_loop {shape} {pages} {output} failed: {}",
            report.trim()
        );
    }
    total(&report).with_context(|| {
        format!("no instruction count in cachegrind's report of {shape}: {report}")
    })
}

/// The total of cachegrind's summary line, `==1== I   refs:   622,393,201`.
fn total(report: &str) -> Option<u64> {
    let line = report.lines().find(|l| l.contains("I   refs:"))?;
    line.split_whitespace()
        .last()?
        .replace(',', "")
        .parse()
        .ok()
}

/// Instructions a page: the many pages' count less the few pages', over
/// the pages between. `None` when the many took fewer.
fn per_page(few: u64, many: u64) -> Option<u64> {
    Some(many.checked_sub(few)? / (MANY - FEW))
}

fn table(results: &[Value]) -> String {
    let mut out = String::from("| shape | output | M instructions a page |\n|---|---|---:|\n");
    for r in results {
        let count = r["instructions_per_page"].as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} |",
            r["shape"].as_str().unwrap_or("?"),
            r["output"].as_str().unwrap_or("?"),
            count as f64 / 1e6
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_cachegrinds_summary() {
        let report = "==23627== Cachegrind, a high-precision tracing profiler\n\
                      ==23627== Command: page_loop realistic 50\n\
                      1000 records\n\
                      ==23627== \n\
                      ==23627== I   refs:      622,393,201\n";
        assert_eq!(total(report), Some(622_393_201));
        assert_eq!(total("==1== no summary\n"), None);
    }

    #[test]
    fn a_page_is_the_difference_over_the_pages_between() {
        // The counts of the realistic page at e365756.
        assert_eq!(per_page(168_191_231, 610_374_172), Some(11_054_573));
        assert_eq!(per_page(610_374_172, 168_191_231), None);
    }

    #[test]
    fn shapes_and_output_are_read_in_any_order() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (shapes, output) = parse(&args(&[])).unwrap();
        assert_eq!((shapes, output), (SHAPES.to_vec(), "ndjson"));
        let named = args(&["arrow", "wide", "flat"]);
        assert_eq!(parse(&named).unwrap(), (vec!["wide", "flat"], "arrow"));
        let wrong = parse(&args(&["tall"])).unwrap_err().to_string();
        assert!(wrong.contains("no shape or output `tall`"), "{wrong}");
    }

    /// The shapes are the corpus's, kept here by hand: `hydrant-bench`
    /// checks that each of its shapes has its sample in `fixtures/corpus`.
    #[test]
    fn the_shapes_are_those_of_the_corpus_samples() {
        let dir = crate::root().join("fixtures/corpus");
        let mut samples: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
            .collect();
        samples.sort();
        let mut shapes = SHAPES.map(str::to_owned).to_vec();
        shapes.sort();
        assert_eq!(shapes, samples);
    }

    #[test]
    fn the_table_gives_millions_a_page() {
        let results =
            [json!({"shape": "flat", "output": "csv", "instructions_per_page": 5_099_000})];
        assert_eq!(
            table(&results),
            "| shape | output | M instructions a page |\n|---|---|---:|\n| flat | csv | 5.099 |\n"
        );
    }
}
