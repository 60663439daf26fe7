//! The examples every subcommand's `--help` ends with: two or three command
//! lines a user can copy. A test parses each one with the command line
//! itself, so an example never names a flag that does not exist.

use clap::Command;

/// Examples by subcommand path (`"index create"`), in the order shown.
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "init",
        &[
            "lake init",
            "lake init --store s3://my-bucket/lake",
            "lake init --catalog postgres://me@db.example:5432/lake --store s3://my-bucket/lake",
        ],
    ),
    (
        "ingest",
        &[
            "lake ingest sales.csv",
            "lake ingest sales-2024.csv --name sales --append",
            "curl -s https://example.com/data.json | lake ingest - --name events",
        ],
    ),
    (
        "sniff",
        &[
            "lake sniff sales.csv",
            "lake sniff data.txt --delimiter '|' --no-header",
        ],
    ),
    ("ls", &["lake ls", "lake ls --format json"]),
    (
        "show",
        &["lake show sales", "lake show sales --format json"],
    ),
    ("info", &["lake info", "lake info --format json"]),
    ("log", &["lake log", "lake log sales"]),
    (
        "sql",
        &[
            "lake sql \"SELECT count(*) FROM sales\"",
            "lake sql --at 3 \"SELECT * FROM sales LIMIT 10\"",
            "lake sql -f report.sql --format csv > report.csv",
        ],
    ),
    (
        "rm",
        &["lake rm sales", "lake rm sales && lake gc --keep 1"],
    ),
    (
        "gc",
        &[
            "lake gc --dry-run",
            "lake gc --keep 10",
            "lake gc --older-than 7d --grace 1h",
        ],
    ),
    ("doctor", &["lake doctor", "lake doctor --deep"]),
    (
        "compact",
        &[
            "lake compact events",
            "lake compact events --target-size 128MiB",
        ],
    ),
    (
        "restore",
        &[
            "lake restore sales --to 3",
            "lake restore sales --to 2026-11-20T10:00:00Z",
        ],
    ),
    (
        "index",
        &[
            "lake index create docs emb",
            "lake index ls",
            "lake index rm docs emb",
        ],
    ),
    (
        "index create",
        &[
            "lake index create docs emb",
            "lake index create docs emb --metric l2 --m 32 --ef-construction 400",
        ],
    ),
    ("index ls", &["lake index ls", "lake index ls docs"]),
    (
        "index rm",
        &[
            "lake index rm docs emb",
            "lake index rm docs emb && lake gc",
        ],
    ),
    (
        "catalog",
        &[
            "lake catalog migrate --to postgres://me@db.example:5432/lake",
            "lake catalog migrate --to sqlite:",
        ],
    ),
    (
        "catalog migrate",
        &[
            "lake catalog migrate --to postgres://me@db.example:5432/lake",
            "lake catalog migrate --to sqlite:/backups/catalog.sqlite",
        ],
    ),
    (
        "put",
        &[
            "lake put notes/hello.txt hello.txt",
            "echo hello | lake put notes/hello.txt",
        ],
    ),
    (
        "get",
        &[
            "lake get notes/hello.txt",
            "lake get notes/hello.txt -o hello.txt",
        ],
    ),
    (
        "serve",
        &[
            "lake serve",
            "lake serve --addr 0.0.0.0:3110 --token \"$LAKE_TOKEN\"",
            "lake serve --flight-addr 127.0.0.1:31337",
        ],
    ),
    ("mcp", &["lake mcp", "lake mcp --allow-writes"]),
    (
        "completions",
        &[
            "source <(lake completions bash)",
            "lake completions zsh > ~/.zfunc/_lake",
            "lake completions fish > ~/.config/fish/completions/lake.fish",
        ],
    ),
    (
        "man",
        &[
            "lake man | man -l -",
            "lake man --dir ~/.local/share/man/man1",
        ],
    ),
];

/// The command line with its examples after each subcommand's help.
pub fn with_examples(command: Command) -> Command {
    attach(command, "")
}

fn attach(mut command: Command, path: &str) -> Command {
    if let Some((_, lines)) = EXAMPLES.iter().find(|(p, _)| *p == path) {
        let mut text = String::from("Examples:\n");
        for line in *lines {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        command = command.after_help(text.trim_end().to_owned());
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        command = command.mut_subcommand(&name, |sub| attach(sub, &sub_path));
    }
    command
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    /// Every subcommand, as its path of names.
    fn paths(command: &Command, prefix: &str, out: &mut Vec<String>) {
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let path = if prefix.is_empty() {
                sub.get_name().to_owned()
            } else {
                format!("{prefix} {}", sub.get_name())
            };
            paths(sub, &path, out);
            out.push(path);
        }
    }

    /// Words of a shell line, quotes removed; the first `lake` command of a
    /// pipeline or `&&` chain, or of `<(...)`.
    fn lake_words(line: &str) -> Vec<String> {
        let start = line.find("lake ").expect("an example runs lake");
        let mut words = Vec::new();
        let mut word = String::new();
        let mut quote = None;
        for c in line[start..].chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '"' | '\'') => quote = Some(c),
                (None, ' ') => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                (None, '|' | '&' | '>' | ')') => break,
                (None, c) => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }

    #[test]
    fn every_subcommand_has_two_or_three_examples_that_parse() {
        let mut all = Vec::new();
        paths(&Cli::command(), "", &mut all);
        assert!(all.len() > 20, "{all:?}");
        for path in &all {
            let (_, lines) = EXAMPLES
                .iter()
                .find(|(p, _)| p == path)
                .unwrap_or_else(|| panic!("`lake {path}` has no examples"));
            assert!((2..=3).contains(&lines.len()), "lake {path}: {lines:?}");
            for line in *lines {
                let words = lake_words(line);
                if let Err(e) = Cli::command().try_get_matches_from(&words) {
                    panic!("example {line:?} of `lake {path}` does not parse: {e}");
                }
            }
        }
        for (path, _) in EXAMPLES {
            assert!(
                all.contains(&path.to_string()),
                "examples of no command: {path}"
            );
        }
    }

    #[test]
    fn help_ends_with_the_examples() {
        let mut command = with_examples(Cli::command());
        let help = command
            .find_subcommand_mut("index")
            .and_then(|c| c.find_subcommand_mut("create"))
            .expect("index create")
            .render_help()
            .to_string();
        assert!(
            help.trim_end()
                .ends_with("lake index create docs emb --metric l2 --m 32 --ef-construction 400"),
            "{help}"
        );
    }
}
