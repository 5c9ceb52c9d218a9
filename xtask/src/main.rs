//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `bench`: the criterion benches of hydrant-bench (parse + extract over
//!   the recorded fixture pages).

use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("bench") => bench(),
        _ => {
            eprintln!("usage: cargo xtask bench");
            bail!("unknown or missing task");
        }
    }
}

fn bench() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["bench", "-p", "hydrant-bench", "--bench", "extract"])
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("cargo bench failed with {status}");
    }
    Ok(())
}
