//! The example jobs of `examples/paginate` and `examples/auth`, each run
//! offline against its fixture set in `fixtures/examples/NAME`, as their
//! comments say to run them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::util::{Dir, hydrant, path_str};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example jobs of a folder, by name.
fn examples(folder: &str) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(root().join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| (path.file_stem().unwrap().to_str().unwrap().to_owned(), path))
        .collect();
    found.sort();
    found
}

/// Runs each example with `--replay`, checks that it writes exactly the
/// records its fixture set serves, and returns the `type` of `table` in
/// each job.
fn run_all(folder: &str, table: &str) -> BTreeSet<String> {
    let mut types = BTreeSet::new();
    let dir = Dir::new();
    for (name, job) in examples(folder) {
        let fixtures = root().join("fixtures/examples").join(&name);
        let relative = format!("{folder}/{name}.toml");
        let text = std::fs::read_to_string(&job).unwrap();
        assert!(
            text.contains(&format!("--replay fixtures/examples/{name}")),
            "{relative}: its comment does not say how to run it offline"
        );
        let summary = dir.path(&format!("{name}.json"));
        let run = hydrant(&[
            "run",
            path_str(&job),
            "--replay",
            path_str(&fixtures),
            "--summary-json",
            path_str(&summary),
        ]);
        assert_eq!(run.code, 0, "{relative}: {}", run.stderr);
        let expected = std::fs::read_to_string(fixtures.join("expected.ndjson")).unwrap();
        assert_eq!(run.stdout, expected, "{relative}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(
            summary["records"].as_u64(),
            Some(expected.lines().count() as u64),
            "{relative}"
        );
        let job: toml::Value = toml::from_str(&text).unwrap();
        if let Some(kind) = job.get(table).and_then(|t| t.get("type")) {
            types.insert(kind.as_str().unwrap().to_owned());
        }
    }
    types
}

#[test]
fn every_pagination_type_has_an_example_that_runs_offline() {
    let types = run_all("examples/paginate", "paginate");
    let all = [
        "offset",
        "page",
        "cursor",
        "next_link",
        "link_header",
        "range",
        "rules",
    ];
    assert_eq!(types, all.iter().map(|t| t.to_string()).collect());
}

#[test]
fn every_auth_type_has_an_example_that_runs_offline() {
    let types = run_all("examples/auth", "auth");
    let all = [
        "basic",
        "bearer",
        "api_key",
        "oauth2",
        "signature",
        "aliyun",
        "aws_sigv4",
    ];
    assert_eq!(types, all.iter().map(|t| t.to_string()).collect());
}

/// The cookbook's styles: GitHub, Stripe, Microsoft Graph, OData,
/// Salesforce, Jira, ServiceNow, Slack, Notion, HubSpot, WordPress,
/// json-server, Datasette and GraphQL's connections.
#[test]
fn the_cookbook_styles_each_have_an_example() {
    let names: BTreeSet<String> = examples("examples/paginate")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for style in [
        "github",
        "stripe",
        "graph",
        "odata",
        "salesforce",
        "jira",
        "servicenow",
        "slack",
        "notion",
        "hubspot",
        "wordpress",
        "json-server",
        "datasette",
        "graphql",
    ] {
        assert!(names.contains(style), "no examples/paginate/{style}.toml");
    }
}
