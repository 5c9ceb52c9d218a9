//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `bench`: the criterion benches of hydrant-bench; the results are
//!   written to `target/bench.json` and printed as a table, each figure
//!   beside the baseline of its group.
//! - `e2e-bench [PAGES] [RECORDS] [SHAPE]`: `hydrant run` against a local
//!   corpus API in four pagination styles beside `curl`; results in
//!   `target/e2e-bench.json`.
//! - `instructions [SHAPE ...] [ndjson|csv|arrow]`: the instructions the
//!   page path takes a page, counted by cachegrind (valgrind), which do
//!   not move with the host's speed; results in `target/instructions.json`.
//! - `fixtures`: regenerates the corpus samples in `fixtures/corpus/`.
//! - `schema`: writes the job file's JSON Schema to
//!   `docs/hydrant.schema.json`.
//! - `man`: writes the man page to `target/man/hydrant.1`
//!   (`man -l target/man/hydrant.1`).
//! - `fuzz [SECONDS] [TARGET]`: the fuzz targets of `fuzz/` (page parser,
//!   job loader), a bounded time each; not run by CI.
//!
//! `cargo test -p xtask` runs the tidy test (`tidy.rs`): the engine's
//! imports run down the pipeline, only `read`, `write` and `bench` start
//! tasks, and no function of a crate's `src/` is longer than 120 lines.
//! It also checks that the job file's schema and reference name every key
//! the engine reads.

mod bench;
mod e2e;
mod fuzz;
mod instructions;
mod schema;
#[cfg(test)]
mod tidy;

use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let task = std::env::args().nth(1);
    let rest: Vec<String> = std::env::args().skip(2).collect();
    match task.as_deref() {
        Some("bench") => bench::run(&rest),
        Some("e2e-bench") => e2e::run(&rest),
        Some("instructions") => instructions::run(&rest),
        Some("fixtures") => fixtures(),
        Some("schema") => schema::run(),
        Some("man") => man(),
        Some("fuzz") => fuzz::run(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask bench [FILTER] | e2e-bench [PAGES] [RECORDS] [SHAPE] | instructions [SHAPE ...] [ndjson|csv|arrow] | fixtures | schema | man | fuzz [SECONDS] [TARGET]"
            );
            bail!("unknown or missing task");
        }
    }
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed with {status}", args.join(" "));
    }
    Ok(())
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// The man page, rendered by the CLI from its own definition.
fn man() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(&cargo)
        .args(["run", "--quiet", "-p", "hydrant-cli", "--", "man"])
        .current_dir(root())
        .output()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !out.status.success() {
        bail!(
            "hydrant man failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = root().join("target/man");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("hydrant.1"), &out.stdout)?;
    eprintln!("wrote target/man/hydrant.1");
    Ok(())
}

fn fixtures() -> Result<()> {
    cargo(&[
        "run",
        "--quiet",
        "-p",
        "hydrant-bench",
        "--bin",
        "corpus",
        "--",
        "fixtures/corpus",
        "20",
    ])
}
