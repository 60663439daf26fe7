//! `lake man`: the manual pages (roff), from the same command line the
//! parser uses, examples included.

use anyhow::Context;

use crate::cli::ManArgs;

pub fn run(args: ManArgs) -> anyhow::Result<()> {
    let command = crate::cli::command();
    match args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command).render(&mut out)?;
            std::io::Write::flush(&mut out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("writing manual pages to {}", dir.display()))?;
        }
    }
    Ok(())
}
