//! `cargo test -p xtask`: checks of the engine's shape that the compiler
//! does not make.
//!
//! - Imports run one way, down the pipeline: a module of the engine uses
//!   only the modules of the layers below its own (see [`LAYERS`]).
//! - Only `read/`, `write/` and `bench/` start tasks or threads.
//! - No function of any crate's `src/` is longer than [`MAX_FN_LINES`]
//!   lines.
//!
//! The checks read the source as text, as rust-analyzer's tidy test does:
//! a `crate::name` anywhere outside a comment counts as an import of
//! `name`.

use std::path::{Path, PathBuf};

/// The engine's top-level modules, bottom first. A module may use the
/// modules of the layers before its own, and its own folder.
pub const LAYERS: &[&[&str]] = &[
    &["error", "exchange"],
    &["options", "summary"],
    &["json"],
    &["dialect"],
    &["job"],
    &["extract"],
    &["net", "sink", "state"],
    &["read"],
    &["write"],
    &["run"],
    &["bench"],
];

/// The modules that may start tasks and threads.
const SPAWNERS: &[&str] = &["read", "write", "bench"];

/// Two screens: a longer function is a struct with methods waiting to
/// be named. Integration tests (`tests/`) are not held to it.
pub const MAX_FN_LINES: usize = 120;

/// The folders whose functions [`MAX_FN_LINES`] bounds.
const SOURCES: &[&str] = &[
    "engine/src",
    "auth/src",
    "paginate/src",
    "cli/src",
    "bench/src",
    "bench/examples",
    "python/src",
    "xtask/src",
];

/// The layer of a top-level module, if it has one.
fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a file of `engine/src` belongs to: `read` for
/// `read/run.rs`, `error` for `error.rs`, `None` for `lib.rs`.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The text of a line before any `//` comment.
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// Every `crate::name` a file uses, with its line number.
fn crate_uses(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = code(line);
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            // `$crate::` in a macro, or `hydrant_crate::`, is not this.
            if before.is_some_and(|c| c == '$' || c == '_' || c.is_alphanumeric()) {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((n + 1, name));
            }
        }
    }
    found
}

/// Imports of `module`'s file that run up the pipeline or sideways.
pub fn wrong_imports(module: &str, file: &str, text: &str) -> Vec<String> {
    let Some(own) = layer(module) else {
        return vec![format!(
            "{file}: module `{module}` is in no layer of LAYERS"
        )];
    };
    crate_uses(text)
        .into_iter()
        .filter(|(_, used)| used != module)
        .filter_map(|(line, used)| match layer(&used) {
            Some(theirs) if theirs < own => None,
            Some(_) => Some(format!(
                "{file}:{line}: `{module}` uses `crate::{used}`, which is not below it"
            )),
            None => Some(format!(
                "{file}:{line}: `crate::{used}` is in no layer of LAYERS"
            )),
        })
        .collect()
}

/// Tasks or threads started outside the modules that own them.
pub fn wrong_spawns(module: &str, file: &str, text: &str) -> Vec<String> {
    if SPAWNERS.contains(&module) {
        return Vec::new();
    }
    // Tests may start threads, to play a reader or a server.
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = code(line);
            [
                "tokio::spawn",
                "thread::spawn",
                "thread::Builder",
                "spawn_blocking",
            ]
            .iter()
            .any(|s| line.contains(s))
        })
        .map(|(n, _)| format!("{file}:{}: `{module}` starts a task or thread", n + 1))
        .collect()
}

/// Functions longer than `max` lines: from the `fn` line to the closing
/// brace at its indentation.
pub fn long_functions(file: &str, text: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        let indent = line.len() - line.trim_start().len();
        // A declaration without a body (`fn f();` in a trait) ends at once.
        if line.trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        let end = lines[start..]
            .iter()
            .position(|l| l.trim_end() == close)
            .map_or(lines.len(), |at| start + at);
        let length = end - start + 1;
        if length > max {
            found.push(format!(
                "{file}:{}: fn {name} is {length} lines (at most {max})",
                start + 1
            ));
        }
    }
    found
}

/// The name of the function a line opens, if it opens one.
fn fn_name(line: &str) -> Option<&str> {
    let mut rest = code(line).trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// The `.rs` files under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source is readable") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every finding of the checks: the length of every crate's functions,
/// and the engine's imports and spawns.
pub fn check_sources(root: &Path) -> Vec<String> {
    let mut findings = Vec::new();
    for folder in SOURCES {
        for path in rust_files(&root.join(folder)) {
            let file = path.strip_prefix(root).expect("under the root");
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            findings.extend(long_functions(
                &file.display().to_string(),
                &text,
                MAX_FN_LINES,
            ));
        }
    }
    let src = root.join("engine/src");
    for path in rust_files(&src) {
        let relative = path.strip_prefix(&src).expect("under engine/src");
        let file = format!("engine/src/{}", relative.display());
        let text = std::fs::read_to_string(&path).expect("a readable source file");
        if let Some(module) = module_of(relative) {
            findings.extend(wrong_imports(&module, &file, &text));
            findings.extend(wrong_spawns(&module, &file, &text));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sources_are_tidy() {
        let findings = check_sources(&crate::root());
        assert!(findings.is_empty(), "\n{}\n", findings.join("\n"));
    }

    #[test]
    fn an_import_up_the_pipeline_is_found() {
        let text = "use crate::error::Result;\nuse crate::read::Hooks; // the loop\n";
        assert_eq!(
            wrong_imports("sink", "engine/src/sink/mod.rs", text),
            ["engine/src/sink/mod.rs:2: `sink` uses `crate::read`, which is not below it"]
        );
        // Sideways, within one layer, is wrong too; a comment is not code.
        let text = "// see crate::read\nfn f() { crate::net::client::get(); }\n";
        assert_eq!(
            wrong_imports("sink", "s.rs", text),
            ["s.rs:2: `sink` uses `crate::net`, which is not below it"]
        );
        assert!(
            wrong_imports(
                "read",
                "r.rs",
                "use crate::sink::Sink;\nuse crate::read::x;"
            )
            .is_empty()
        );
        assert!(wrong_imports("json", "j.rs", "$crate::json::path::f()").is_empty());
        assert_eq!(
            wrong_imports("nowhere", "n.rs", ""),
            ["n.rs: module `nowhere` is in no layer of LAYERS"]
        );
    }

    #[test]
    fn a_spawn_outside_read_write_and_bench_is_found() {
        let text = "fn f() {\n    tokio::spawn(async {});\n}\n#[cfg(test)]\nmod tests { fn t() { std::thread::spawn(|| ()); } }\n";
        assert_eq!(
            wrong_spawns("net", "n.rs", text),
            ["n.rs:2: `net` starts a task or thread"]
        );
        assert!(wrong_spawns("read", "r.rs", text).is_empty());
    }

    #[test]
    fn a_long_function_is_found_and_a_short_one_is_not() {
        let body = "    let x = 1;\n".repeat(4);
        let text = format!(
            "pub(crate) async fn long() {{\n{body}}}\n\nimpl A {{\n    fn short() {{\n    }}\n    fn decl();\n}}\n"
        );
        assert_eq!(
            long_functions("f.rs", &text, 5),
            ["f.rs:1: fn long is 6 lines (at most 5)"]
        );
        assert!(long_functions("f.rs", &text, 6).is_empty());
    }
}
