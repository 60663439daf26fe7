//! The terminal's conventions: completion scripts a shell really loads,
//! manual pages `man` really renders, examples at the end of `--help`.

use std::process::Command;

use crate::TestContext;

#[test]
fn bash_loads_the_completions_and_completes_subcommands_and_flags() {
    let ctx = TestContext::new();
    let script = ctx.write("lake.bash", ctx.lake(&["completions", "bash"]).ok());
    // What bash's completion machinery does on `lake ing<TAB>` and
    // `lake ingest --ev<TAB>`: call the function `complete -p` names.
    let probe = format!(
        r#"source {script}
complete -p lake
fn=$(complete -p lake | sed -E 's/.* -F ([^ ]+) .*/\1/')
COMP_WORDS=(lake ing); COMP_CWORD=1; COMP_LINE="lake ing"; COMP_POINT=${{#COMP_LINE}}
"$fn" lake ing lake; echo "first: ${{COMPREPLY[*]}}"
COMP_WORDS=(lake ingest --ev); COMP_CWORD=2; COMP_LINE="lake ingest --ev"; COMP_POINT=${{#COMP_LINE}}
"$fn" lake --ev ingest; echo "flag: ${{COMPREPLY[*]}}""#,
        script = script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("complete -o bashdefault"), "{stdout}");
    assert!(stdout.contains(" lake\n"), "{stdout}");
    assert!(stdout.contains("first: ingest\n"), "{stdout}");
    assert!(stdout.contains("flag: --evolve\n"), "{stdout}");
}

#[test]
fn every_shell_gets_a_script_naming_the_subcommands() {
    let ctx = TestContext::new();
    for shell in ["zsh", "fish", "powershell"] {
        let script = ctx.lake(&["completions", shell]).ok().to_owned();
        for word in ["ingest", "restore", "completions", "evolve"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let run = ctx.lake(&["completions", "tcsh"]);
    assert!(
        run.fails(2).contains("invalid value 'tcsh'"),
        "{}",
        run.stderr
    );
}

/// `man -l` renders a page as a user would see it, at a fixed width.
fn render(page: &std::path::Path) -> String {
    let out = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(page)
        .env("MANWIDTH", "100")
        .output()
        .expect("run man");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn man_renders_the_pages_with_their_examples() {
    let ctx = TestContext::new();
    let page = ctx.write("lake.1", ctx.lake(&["man"]).ok());
    let text = render(&page);
    assert!(text.contains("NAME"), "{text}");
    assert!(text.contains("A whole lakehouse in one binary"), "{text}");
    assert!(text.contains("lake-ingest(1)"), "{text}");

    let dir = ctx.work.path().join("man1");
    ctx.lake(&["man", "--dir", dir.to_str().unwrap()]).ok();
    let ingest = render(&dir.join("lake-ingest.1"));
    assert!(ingest.contains("--evolve"), "{ingest}");
    assert!(
        ingest.contains("lake ingest sales-2024.csv --name sales --append"),
        "{ingest}"
    );
    for page in ["lake-index-create.1", "lake-serve.1", "lake-man.1"] {
        assert!(dir.join(page).exists(), "{page}");
    }
}

#[test]
fn help_of_a_subcommand_ends_with_examples() {
    let ctx = TestContext::new();
    for (args, last) in [
        (
            ["sql", "--help"],
            "lake sql -f report.sql --format csv > report.csv",
        ),
        (["gc", "-h"], "lake gc --older-than 7d --grace 1h"),
    ] {
        let help = ctx.lake(&args).ok().to_owned();
        let tail: Vec<&str> = help.trim_end().lines().rev().take(4).collect();
        assert!(tail.contains(&"Examples:"), "{help}");
        assert_eq!(tail[0].trim(), last, "{help}");
    }
}
