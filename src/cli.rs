//! The command line: global flags and one subcommand each. Doc comments are
//! the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::OutputFormat;
use crate::settings;

mod examples;

/// Parses the process's arguments, with each subcommand's examples in its
/// help.
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The whole command line as clap sees it, examples included: for parsing,
/// completion scripts and manual pages.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    examples::with_examples(Cli::command())
}

/// A whole lakehouse in one binary: CSV to content-addressed Parquet, a SQLite
/// catalog, and SQL over every dataset with DuckDB.
#[derive(Debug, Parser)]
#[command(name = "lake", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The lake home: catalog and (by default) objects. Default: the data
    /// directory of this platform, then `lake`.
    #[arg(long, global = true, env = settings::LAKE_HOME, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// How results are printed. Default: table on a terminal, else csv.
    #[arg(long, global = true, env = settings::LAKE_FORMAT, value_enum)]
    pub format: Option<OutputFormat>,
    /// The catalog, for a team's lake: a PostgreSQL URL like
    /// `postgres://user@host:5432/db` (password from the URL, PGPASSWORD or
    /// ~/.pgpass). A new home records it; default: `<home>/catalog.sqlite`.
    #[arg(long, global = true, env = settings::LAKE_CATALOG, hide_env_values = true, value_name = "URL")]
    pub catalog: Option<String>,
    /// The most the local cache of an S3 store's objects may hold, like
    /// `500MiB` or `4GiB` (default 2GiB); least recently used goes first.
    #[arg(long, global = true, env = settings::LAKE_CACHE_MAX, value_name = "SIZE", value_parser = crate::store::cache::parse_size)]
    pub cache_max: Option<u64>,
    /// No progress bars or messages on standard error.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// How log lines on standard error are written: human or json (one
    /// object a line).
    #[arg(long, global = true, env = settings::LAKE_LOG_FORMAT, value_enum, default_value = "human")]
    pub log_format: crate::logging::LogFormat,
    /// Log more: -v debug, -vv trace (`LAKE_LOG=...`, as `RUST_LOG`, wins).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a lake home, choosing where its objects live.
    Init(InitArgs),
    /// Turn a file (CSV, JSON or Parquet) into a new version of a dataset.
    Ingest(IngestArgs),
    /// Print how a file would be read (its format; for CSV its dialect) and
    /// the schema an ingest would make; writes nothing.
    Sniff(SniffArgs),
    /// List the datasets.
    Ls,
    /// Show one dataset: schema, identity, versions and objects.
    Show(ShowArgs),
    /// Describe the lake home: catalog, store, snapshots, sizes, and the
    /// statement that attaches it in DuckDB.
    Info,
    /// List snapshots, newest first: id, time, dataset, change, rows after.
    Log(LogArgs),
    /// Run SQL over every dataset.
    Sql(SqlArgs),
    /// Remove a dataset from the present (earlier snapshots keep it).
    Rm(RmArgs),
    /// Expire old snapshots, then delete the objects no kept snapshot names
    /// (by default: keep every snapshot, remove only orphans).
    Gc(GcArgs),
    /// Check the lake: every object the catalog names is in the store at
    /// its size (with --deep: its bytes and footer too), DuckLake's
    /// invariants hold; count what gc would remove. Exit 1 when something is
    /// wrong.
    Doctor(DoctorArgs),
    /// Merge a dataset's objects into as few as a target size allows (the
    /// same rows, one snapshot); the old ones become garbage for gc.
    Compact(CompactArgs),
    /// Make a dataset's data what it was at an earlier snapshot (a new
    /// snapshot naming the same objects: nothing is copied).
    Restore(RestoreArgs),
    /// Vector indexes (HNSW) of a dataset's FLOAT[N] column, searched with
    /// `vector_search(...)` in SQL.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Work on the catalog itself.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Store a raw object.
    Put(PutArgs),
    /// Fetch a raw object.
    Get(GetArgs),
    /// Serve the lake over HTTP: the same operations as JSON routes.
    Serve(ServeArgs),
    /// Serve the lake to an AI agent over the Model Context Protocol, on
    /// standard input and output: its datasets as resources, and tools to
    /// list, describe, query and (with --allow-writes) ingest.
    Mcp(McpArgs),
    /// Print the completion script of a shell (bash, zsh, fish, powershell)
    /// to standard output.
    Completions(CompletionsArgs),
    /// Write the manual pages: lake(1) to standard output, or with --dir one
    /// page per subcommand into a directory.
    Man(ManArgs),
}

impl Command {
    /// The subcommand's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Init(_) => "init",
            Command::Ingest(_) => "ingest",
            Command::Sniff(_) => "sniff",
            Command::Ls => "ls",
            Command::Show(_) => "show",
            Command::Info => "info",
            Command::Log(_) => "log",
            Command::Sql(_) => "sql",
            Command::Rm(_) => "rm",
            Command::Gc(_) => "gc",
            Command::Doctor(_) => "doctor",
            Command::Compact(_) => "compact",
            Command::Restore(_) => "restore",
            Command::Index(_) => "index",
            Command::Catalog(_) => "catalog",
            Command::Put(_) => "put",
            Command::Get(_) => "get",
            Command::Serve(_) => "serve",
            Command::Mcp(_) => "mcp",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write lake.1 and lake-SUBCOMMAND.1 here (created if missing) instead
    /// of printing lake.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// What `lake index` does.
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Build an HNSW index of a FLOAT[N] column: one index object per data
    /// object, on every core. Later ingests, appends and compactions index
    /// their new objects themselves.
    Create(IndexCreateArgs),
    /// List the indexes: dataset, column, metric, parameters, objects
    /// indexed.
    Ls(IndexLsArgs),
    /// Remove an index (gc deletes its objects).
    Rm(IndexRmArgs),
}

#[derive(Debug, Args)]
pub struct IndexCreateArgs {
    /// The dataset.
    pub name: String,
    /// Its FLOAT[N] column.
    pub column: String,
    /// The distance: cosine (`array_cosine_distance`), l2
    /// (`array_distance`) or ip (`array_negative_inner_product`).
    #[arg(long, default_value = "cosine")]
    pub metric: crate::vector::Metric,
    /// Neighbours per node (twice as many on the bottom level): more finds
    /// more of the true neighbours, in a bigger index built more slowly.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(2..=128))]
    pub m: u16,
    /// Candidates weighed for each insertion: more builds a better graph,
    /// more slowly.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub ef_construction: u32,
}

#[derive(Debug, Args)]
pub struct IndexLsArgs {
    /// Only this dataset's indexes.
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct IndexRmArgs {
    /// The dataset.
    pub name: String,
    /// The indexed column.
    pub column: String,
}

/// What `lake catalog` does.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Copy the catalog, every snapshot, into a new one and make this home
    /// use it; the objects stay where they are, the old catalog as it was.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The new catalog: `postgres://user@host:5432/db` (an empty database)
    /// or `sqlite:PATH` (`sqlite:` alone: the home's own file).
    #[arg(long, value_name = "URL")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where objects live: `s3://bucket/prefix` or a local directory.
    /// Default: `<home>/store`.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The file, or `-` for standard input: CSV, JSON Lines, a JSON array of
    /// objects or Parquet (told by the content), plain, gzip or zstd.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// The dataset name. Default: the file's stem, lower-cased, other
    /// characters turned into `_`.
    #[arg(long)]
    pub name: Option<String>,
    /// Add the file to the current data instead of replacing it.
    #[arg(long, conflicts_with = "replace")]
    pub append: bool,
    /// Replace the data even if the schema changed.
    #[arg(long)]
    pub replace: bool,
    /// Accept a changed schema without rewriting old objects: added columns
    /// (earlier rows read NULL), removed columns, and widened types (BIGINT
    /// to DOUBLE, anything to VARCHAR). With or without --append.
    #[arg(long, conflicts_with = "replace")]
    pub evolve: bool,
    #[command(flatten)]
    pub dialect: DialectArgs,
    /// Print the dialect and the schema the ingest would make, and write
    /// nothing (as `lake sniff`).
    #[arg(long)]
    pub dry_run: bool,
    /// Column types instead of inferred ones: `col:TYPE,col:TYPE`.
    #[arg(long, value_name = "COLUMNS")]
    pub schema: Option<String>,
}

/// How a CSV file is read; what is not given is sniffed from the file.
#[derive(Debug, Clone, Args)]
pub struct DialectArgs {
    /// The first row is data, not column names. Default: as DuckDB's
    /// sniffer finds it.
    #[arg(long, conflicts_with = "header")]
    pub no_header: bool,
    /// The first row names the columns.
    #[arg(long)]
    pub header: bool,
    /// The field delimiter (one byte; `\t` for tab). Default: sniffed from
    /// the file (tab for `.tsv` if it cannot be, else `,`).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// The quote character. Default: sniffed, else `"`.
    #[arg(long, value_name = "CHAR")]
    pub quote: Option<String>,
    /// The escape character inside quotes (besides a doubled quote), like
    /// `\`. Default: sniffed.
    #[arg(long, value_name = "CHAR")]
    pub escape: Option<String>,
    /// Lines starting with this character are skipped. Default: sniffed.
    #[arg(long, value_name = "CHAR")]
    pub comment: Option<String>,
    /// Lines to skip before the header. Default: sniffed.
    #[arg(long, value_name = "N")]
    pub skip: Option<u64>,
    /// Rows with too few fields read NULL for the missing ones (else they
    /// are refused).
    #[arg(long)]
    pub null_padding: bool,
    /// Rows that cannot be read (wrong field count, invalid UTF-8, a NUL, a
    /// value not of its `--schema` type) are set aside in the dataset
    /// `<name>_rejects` (line, text, reason) instead of refusing the file.
    #[arg(long)]
    pub rejects: bool,
    /// A field equal to STR is NULL (the empty field always is); repeatable.
    #[arg(long = "null", value_name = "STR")]
    pub nulls: Vec<String>,
    /// The format of dates that are not `YYYY-MM-DD`, in strftime codes
    /// like `%m/%d/%Y` or `%d.%m.%Y`. Default: sniffed.
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// The format of timestamps that are not ISO 8601, like
    /// `%d.%m.%Y %H:%M:%S`. Default: sniffed.
    #[arg(long, value_name = "FORMAT")]
    pub timestamp_format: Option<String>,
    /// What the file holds, when its content would be taken for something
    /// else (a CSV starting with `{"`). Default: told by the content.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,
}

/// What an input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    Csv,
    Json,
    Parquet,
}

impl From<InputFormat> for crate::ingest::source::Content {
    fn from(f: InputFormat) -> Self {
        match f {
            InputFormat::Csv => crate::ingest::source::Content::Csv,
            InputFormat::Json => crate::ingest::source::Content::Json,
            InputFormat::Parquet => crate::ingest::source::Content::Parquet,
        }
    }
}

#[derive(Debug, Args)]
pub struct SniffArgs {
    /// The file (CSV, JSON or Parquet; plain, gzip or zstd), or `-` for
    /// standard input.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    #[command(flatten)]
    pub dialect: DialectArgs,
    /// Column types instead of inferred ones: `col:TYPE,col:TYPE`.
    #[arg(long, value_name = "COLUMNS")]
    pub schema: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The dataset.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only the snapshots that changed this dataset.
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The dataset.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Keep only the newest N snapshots.
    #[arg(long, value_name = "N", conflicts_with = "older_than")]
    pub keep: Option<u64>,
    /// Expire the snapshots older than this (`7d`, `12h`); the newest is
    /// always kept.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Keep unreferenced objects younger than this: an ingest may not have
    /// committed its object yet.
    #[arg(long, value_name = "AGE", default_value = "1h")]
    pub grace: String,
    /// Say what would go; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The dataset.
    pub name: String,
    /// The size of an object to aim for.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = crate::store::cache::parse_size)]
    pub target_size: u64,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also read every object: its hash against its key, its Parquet footer.
    #[arg(long)]
    pub deep: bool,
    /// Unreferenced objects younger than this are not counted as orphans
    /// (gc's grace).
    #[arg(long, value_name = "AGE", default_value = "1h")]
    pub grace: String,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The dataset.
    pub name: String,
    /// The snapshot (id or time) whose data to bring back.
    #[arg(long, value_name = "SNAPSHOT")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The statement, or `-` to read it from standard input.
    #[arg(
        value_name = "SQL",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub sql: Option<String>,
    /// Read the statement from a file.
    #[arg(long, short, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Query every dataset as of this snapshot: an id (see `lake log`) or a
    /// time like `2026-11-20T10:00:00Z`.
    #[arg(long, value_name = "SNAPSHOT|TIME")]
    pub at: Option<String>,
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// The object key.
    pub key: String,
    /// The file to store, or `-` (the default) for standard input.
    #[arg(value_name = "FILE|-")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The object key.
    pub key: String,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:3110")]
    pub addr: std::net::SocketAddr,
    /// Require `Authorization: Bearer TOKEN` (needed off loopback).
    #[arg(long, env = settings::LAKE_TOKEN, hide_env_values = true)]
    pub token: Option<String>,
    /// The largest request body.
    #[arg(long, default_value = "256MiB", value_parser = crate::store::cache::parse_size)]
    pub max_body: u64,
    /// Requests handled at once; more get 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub max_concurrency: usize,
    #[command(flatten)]
    pub limits: QueryLimitArgs,
    /// Memory for answers kept for repeated queries (0: none).
    #[arg(long, default_value = "64MiB", value_parser = crate::store::cache::parse_size)]
    pub result_cache: u64,
    /// Seconds a client may take to send a request head or the next part of
    /// a body; idle connections are closed after it.
    #[arg(long, default_value_t = 10)]
    pub client_timeout: u64,
    /// Offer MCP's `ingest` tool at /mcp (by default agents only read).
    #[arg(long)]
    pub mcp_allow_writes: bool,
    /// Serve /metrics without the token (for a scraper on a private
    /// network).
    #[arg(long)]
    pub metrics_public: bool,
    /// No /metrics and no request counting.
    #[arg(long, conflicts_with = "metrics_public")]
    pub no_metrics: bool,
    /// Also speak Arrow Flight SQL (gRPC: ADBC, JDBC, BI tools) on this
    /// address, with the same token, sandbox and limits; off unless given.
    #[arg(long, env = settings::LAKE_FLIGHT_ADDR)]
    pub flight_addr: Option<std::net::SocketAddr>,
    /// Flight SQL over TLS: the server's certificate chain (PEM).
    #[arg(long, requires_all = ["flight_tls_key", "flight_addr"])]
    pub flight_tls_cert: Option<std::path::PathBuf>,
    /// Flight SQL over TLS: the certificate's private key (PEM).
    #[arg(long, requires = "flight_tls_cert")]
    pub flight_tls_key: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Offer the `ingest` tool (by default the lake is read-only to agents).
    #[arg(long)]
    pub allow_writes: bool,
    #[command(flatten)]
    pub limits: QueryLimitArgs,
}

/// The bounds of a query run for someone else (`serve`, `mcp`).
#[derive(Debug, Args, Clone)]
pub struct QueryLimitArgs {
    /// Seconds a query may run.
    #[arg(long, default_value_t = 30)]
    pub query_timeout: u64,
    /// Rows a query returns at most ("truncated": true beyond).
    #[arg(long, default_value_t = 100_000)]
    pub max_rows: usize,
    /// Bytes of rows a query answer holds at most ("truncated": true beyond).
    #[arg(long, default_value = "256MiB", value_parser = crate::store::cache::parse_size)]
    pub max_result_bytes: u64,
}
