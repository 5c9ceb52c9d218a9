//! `--help`, completions and the man page: what a user reads before a run.

use crate::util::hydrant;

const COMMANDS: [&str; 11] = [
    "run",
    "check",
    "explain",
    "schema",
    "convert",
    "query",
    "bench",
    "record",
    "state",
    "replay",
    "completions",
];

#[test]
fn the_top_level_help_lists_exit_codes_and_environment() {
    let run = hydrant(&["--help"]);
    assert_eq!(run.code, 0);
    for said in [
        "Exit codes:",
        "0  every record was fetched",
        "2  usage or config error",
        "RUST_LOG",
        "NO_COLOR",
        "HTTPS_PROXY",
        "docs/reference/",
    ] {
        assert!(run.stdout.contains(said), "no `{said}` in:\n{}", run.stdout);
    }
    for command in COMMANDS {
        assert!(run.stdout.contains(&format!("  {command} ")), "{command}");
    }
    assert!(!run.stdout.contains("  man "), "the man command is hidden");
}

#[test]
fn every_command_shows_an_example_of_itself() {
    for command in COMMANDS {
        let run = hydrant(&[command, "--help"]);
        assert_eq!(run.code, 0, "{command}: {}", run.stderr);
        let example = run
            .stdout
            .split_once("Example:\n")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("{command} --help has no example:\n{}", run.stdout));
        assert!(
            example.contains(&format!("hydrant {command} ")),
            "{command}: {example}"
        );
    }
    let replay = hydrant(&["replay", "--help"]);
    assert!(
        replay.stdout.contains("[default: 127.0.0.1:0]"),
        "{}",
        replay.stdout
    );
}

/// `record --resume` was always refused; it is no longer offered.
#[test]
fn options_that_are_always_refused_are_not_offered() {
    let record = hydrant(&["record", "--help"]);
    assert!(!record.stdout.contains("--resume"), "{}", record.stdout);
    let run = hydrant(&["run", "--help"]);
    assert!(run.stdout.contains("--resume"), "{}", run.stdout);
    let refused = hydrant(&["record", "job.toml", "--to", "x", "--resume"]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("--resume"), "{}", refused.stderr);
}

#[test]
fn completions_for_each_shell_name_the_commands() {
    for (shell, mark) in [
        ("bash", "_hydrant()"),
        ("zsh", "#compdef hydrant"),
        ("fish", "complete -c hydrant"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = hydrant(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains(mark), "{shell}");
        for command in ["run", "explain", "replay"] {
            assert!(run.stdout.contains(command), "{shell}: {command}");
        }
    }
    assert!(run_contains(&["completions", "bash"], "--summary-json"));
    let unknown = hydrant(&["completions", "tcsh"]);
    assert_eq!(unknown.code, 2);
}

fn run_contains(args: &[&str], text: &str) -> bool {
    hydrant(args).stdout.contains(text)
}

#[test]
fn the_man_page_covers_every_command_and_the_exit_codes() {
    let run = hydrant(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(".ie"), "roff");
    assert!(run.stdout.contains(".TH hydrant 1"));
    for command in COMMANDS {
        assert!(
            run.stdout.contains(&format!("hydrant\\-{command}")),
            "{command}"
        );
    }
    assert!(run.stdout.contains("Exit codes:"));
}

/// Every long option of every command is in the command line reference,
/// in the command's section (or among the options most commands take).
#[test]
fn the_cli_reference_names_every_option() {
    let reference = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/reference/cli.md"
    ))
    .unwrap();
    let section = |heading: &str| {
        let start = reference
            .find(&format!("## {heading}\n"))
            .unwrap_or_else(|| panic!("no section {heading}"));
        let rest = &reference[start + 3..];
        rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
    };
    let common = section("Options most commands take");
    for command in COMMANDS {
        let own = section(&format!("`hydrant {command}`"));
        let help = hydrant(&[command, "--help"]).stdout;
        for option in help
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|word| word.starts_with("--") && word.len() > 2)
            .filter(|word| *word != "--help")
        {
            let option = option.trim_end_matches(|c: char| !c.is_alphanumeric());
            assert!(
                own.contains(&format!("`{option}")) || common.contains(&format!("`{option}")),
                "docs/reference/cli.md: `hydrant {command}` lacks {option}"
            );
        }
    }
}
