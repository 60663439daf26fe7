//! `lake completions SHELL`: the shell's completion script, from the same
//! command line the parser uses.

use crate::cli::CompletionsArgs;

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = crate::cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "lake", &mut out);
    std::io::Write::flush(&mut out)?;
    Ok(())
}
