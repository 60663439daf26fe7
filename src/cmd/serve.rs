//! `lake serve`: not built yet.

use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "lake serve is not available yet (would listen on {}); use the CLI commands",
        args.addr
    )
}
