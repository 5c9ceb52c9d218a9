//! `cargo xtask fuzz [SECONDS] [TARGET]`: runs the fuzz targets of `fuzz/`
//! (the page parser, the reader of pages of one shape, the response
//! decoder, the reads of a next link before the parse, and the job
//! loader) with `cargo fuzz`, for a bounded time each. Needs `cargo
//! install cargo-fuzz`. New inputs go to `target/fuzz-corpus/`, seeded
//! from `fuzz/corpus/`; crashes land in `fuzz/artifacts/`, to be kept
//! as regression inputs.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::root;

const TARGETS: [&str; 5] = ["page", "shaped", "decode", "members", "job"];

pub fn run(args: &[String]) -> Result<()> {
    let seconds: u64 = match args.first() {
        Some(text) => text
            .parse()
            .with_context(|| format!("SECONDS `{text}` is not a whole number"))?,
        None => 60,
    };
    let targets: Vec<&str> = match args.get(1) {
        Some(target) if TARGETS.contains(&target.as_str()) => vec![target.as_str()],
        Some(target) => bail!("unknown fuzz target `{target}`: {}", TARGETS.join(", ")),
        None => TARGETS.to_vec(),
    };
    let root = root();
    for target in targets {
        let found = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&found)
            .with_context(|| format!("cannot create `{}`", found.display()))?;
        let seeds = root.join("fuzz/corpus").join(target);
        eprintln!("fuzzing `{target}` for {seconds} s");
        // No sanitizer: the stable toolchain has none to offer, and the
        // engine forbids unsafe code; libFuzzer still finds panics.
        let status = Command::new("cargo")
            .args(["fuzz", "run", "--sanitizer", "none", target])
            .arg(&found)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .current_dir(&root)
            .env("RUSTC_BOOTSTRAP", "1")
            .status()
            .context("cannot run cargo fuzz (cargo install cargo-fuzz)")?;
        if !status.success() {
            bail!(
                "cargo fuzz failed on `{target}`: a failure it found is in fuzz/artifacts/{target}/ (or the build failed, above)"
            );
        }
    }
    Ok(())
}
