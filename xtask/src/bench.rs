//! `cargo xtask bench`: runs the criterion benches, then reads criterion's
//! `new/benchmark.json` and `new/estimates.json` files into one table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The function of each group that the others are compared with: a
/// plain pass over the same bytes, or (`parquet/*`) the encoding on one
/// thread.
const BASELINES: [&str; 3] = ["memchr", "memcpy", "encode"];

pub fn run(filter: &[String]) -> Result<()> {
    let mut args = vec!["bench", "-p", "hydrant-bench"];
    if !filter.is_empty() {
        args.push("--");
        args.extend(filter.iter().map(String::as_str));
    }
    super::cargo(&args)?;
    let criterion = super::root().join("target/criterion");
    let mut found = Vec::new();
    collect(&criterion, &mut found)?;
    found.sort();
    let mut results = Vec::new();
    for dir in found {
        let read = |name: &str| -> Result<Value> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
        };
        let benchmark = read("benchmark.json")?;
        let estimates = read("estimates.json")?;
        let nanos = estimates["mean"]["point_estimate"]
            .as_f64()
            .unwrap_or(f64::NAN);
        results.push(json!({
            "group": benchmark["group_id"],
            "function": benchmark["function_id"],
            "ns_per_iteration": nanos,
            "bytes": benchmark["throughput"]["Bytes"],
            "elements": benchmark["throughput"]["Elements"],
        }));
    }
    let machine = json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": cpu_name(),
    });
    let out = super::root().join("target/bench.json");
    let report = json!({"machine": machine, "results": results});
    std::fs::write(&out, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    print!("{}", table(&results));
    println!(
        "\n{} cores, {}; written to {}",
        machine["cores"],
        machine["cpu"].as_str().unwrap_or("unknown CPU"),
        out.display()
    );
    Ok(())
}

/// Every `new/` folder of criterion's output (not its `base/`).
fn collect(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "new") && path.join("benchmark.json").exists()
            {
                found.push(path);
            } else {
                collect(&path, found)?;
            }
        }
    }
    Ok(())
}

/// A Markdown table: time, throughput, and the ratio to the group's
/// baseline (how many times slower than it).
fn table(results: &[Value]) -> String {
    let mut out = String::from(
        "| bench | time | throughput | per record | vs baseline |\n|---|---:|---:|---:|---:|\n",
    );
    for result in results {
        let group = result["group"].as_str().unwrap_or_default();
        let function = result["function"].as_str().unwrap_or_default();
        let nanos = result["ns_per_iteration"].as_f64().unwrap_or(f64::NAN);
        let baseline = results
            .iter()
            .find(|r| {
                r["group"] == result["group"]
                    && BASELINES.contains(&r["function"].as_str().unwrap_or_default())
            })
            .and_then(|r| r["ns_per_iteration"].as_f64());
        let throughput = match (result["bytes"].as_f64(), result["elements"].as_f64()) {
            (Some(bytes), _) => format!("{:.0} MB/s", bytes / nanos * 1e3),
            (_, Some(elements)) => format!("{:.2} M records/s", elements / nanos * 1e3),
            _ => String::new(),
        };
        let per_record = result["elements"]
            .as_f64()
            .map(|e| format!("{:.0} ns", nanos / e))
            .unwrap_or_default();
        let ratio = match baseline {
            Some(base) if !BASELINES.contains(&function) => times(nanos / base),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {group}/{function} | {} | {throughput} | {per_record} | {ratio} |",
            duration(nanos)
        );
    }
    out
}

/// A ratio to a baseline: two decimals below ten, whole above.
fn times(ratio: f64) -> String {
    if ratio < 10.0 {
        format!("{ratio:.2}×")
    } else {
        format!("{ratio:.0}×")
    }
}

fn duration(nanos: f64) -> String {
    match nanos {
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.1} µs", n / 1e3),
        n => format!("{n:.0} ns"),
    }
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|name| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bench_is_compared_with_its_groups_baseline() {
        let result = |group: &str, function: &str, ns: f64| json!({"group": group, "function": function, "ns_per_iteration": ns, "elements": 1000.0});
        let table = table(&[
            result("page/flat", "memchr", 10_000.0),
            result("page/flat", "to_ndjson", 355_000.0),
            result("parquet/realistic", "encode", 60_000_000.0),
            result("parquet/realistic", "encode_2_threads", 42_000_000.0),
        ]);
        let rows: Vec<&str> = table.lines().skip(2).collect();
        assert!(rows[0].ends_with("|  |"), "{}", rows[0]);
        assert!(rows[1].ends_with("| 36× |"), "{}", rows[1]);
        assert!(rows[2].ends_with("|  |"), "{}", rows[2]);
        assert!(rows[3].ends_with("| 0.70× |"), "{}", rows[3]);
    }
}
