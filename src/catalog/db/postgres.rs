//! PostgreSQL's side of [`super::Db`]: connecting as libpq would (the
//! password from the URL, `PGPASSWORD` or the password file), statements
//! sent as text with their parameters written in as literals (so that
//! PostgreSQL types each from its place, as SQLite's untyped parameters
//! are: a `'1'` goes into a BIGINT or a BOOLEAN column alike), rows read
//! back as text.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, SimpleQueryMessage, SimpleQueryRow};

use super::{DbError, DbResult, Value, tls};

/// How long a connection may take before it fails, unless the URL says
/// (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits before trying again a connection that failed on the way to the
/// server (not one the server refused: a wrong password stays wrong).
const CONNECT_RETRIES: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(800)];

/// Begins a write transaction: lake's writers queue on one advisory lock
/// (the number spells "lake"); READ COMMITTED, so each statement after the
/// lock sees what the writer before committed.
pub(super) const BEGIN_WRITE: &str =
    "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(1818323813)";

/// Whether the table of lake's version is there (a new database has none).
pub(super) const HAS_VERSION: &str = "SELECT count(*) FROM pg_tables
     WHERE tablename = 'lake_version' AND schemaname = current_schema()";

/// The version of lake's tables.
pub(super) const READ_VERSION: &str = "SELECT version FROM lake_version";

/// Statements that record `version` as the version of lake's tables.
pub(super) fn write_version(version: i64) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS lake_version (version BIGINT NOT NULL);
         DELETE FROM lake_version; INSERT INTO lake_version VALUES ({version})"
    )
}

/// An error in one line: the server's message (with its detail) or what
/// failed on the way to it.
pub(super) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = db.message().to_owned();
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Whether another transaction's lock or a conflicting write stopped the
/// statement (trying again may succeed).
pub(super) fn is_busy(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(
            &SqlState::T_R_SERIALIZATION_FAILURE
                | &SqlState::T_R_DEADLOCK_DETECTED
                | &SqlState::LOCK_NOT_AVAILABLE
        )
    )
}

/// The connection string with its password (if any) replaced by `***`,
/// to print.
pub fn redacted(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        // postgres://user:password@host/db: the password ends at the last `@`
        // of the authority.
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            return format!(
                "{scheme}://{}:***{}{tail}",
                &authority[..colon],
                &authority[at..]
            );
        }
        return url.to_owned();
    }
    // key=value words: hide the value of `password`.
    url.split_whitespace()
        .map(|word| match word.split_once('=') {
            Some((key, _)) if key.trim() == "password" => format!("{key}=***"),
            _ => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The connection string as libpq's `key=value` words, without the
/// password (for DuckDB's ATTACH, whose libpq then finds it in
/// `PGPASSWORD` or the password file).
pub fn libpq_words(url: &str) -> String {
    let (url, wish) = tls::split_url(url);
    let Ok(config) = url.parse::<Config>() else {
        return redacted(&url);
    };
    let quote = |v: &str| {
        if !v.is_empty() && !v.contains([' ', '\'', '\\']) {
            v.to_owned()
        } else {
            format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
        }
    };
    let mut words = Vec::new();
    if let Some(db) = config.get_dbname() {
        words.push(format!("dbname={}", quote(db)));
    }
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    if !hosts.is_empty() {
        words.push(format!("host={}", quote(&hosts.join(","))));
    }
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    if !ports.is_empty() {
        words.push(format!("port={}", ports.join(",")));
    }
    if let Some(user) = config.get_user() {
        words.push(format!("user={}", quote(user)));
    }
    if wish.mode != "prefer" {
        words.push(format!("sslmode={}", quote(&wish.mode)));
    }
    if let Some(root) = &wish.root_cert {
        words.push(format!("sslrootcert={}", quote(root)));
    }
    words.join(" ")
}

/// Runs `f`, which blocks on the client's own runtime, from anywhere: on
/// a worker of `serve`'s runtime it first leaves the runtime (which moves
/// the worker's other tasks elsewhere), as a blocking call must.
fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A connection to the server. Closing one blocks on the client's own
/// runtime, which cannot run inside another (`serve` drops lakes on its
/// runtime's threads): there it is closed on a thread of its own.
pub(super) struct Connection(Option<Client>);

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl Connection {
    fn client(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("a connection is only emptied when dropped")
    }
}

/// Sends statements as one text query; the server's answer.
pub(super) fn simple_query(
    client: &RefCell<Connection>,
    sql: &str,
) -> DbResult<Vec<SimpleQueryMessage>> {
    Ok(off_runtime(|| {
        client.borrow_mut().client().simple_query(sql)
    })?)
}

/// Runs statements whose answers are not needed.
pub(super) fn batch_execute(client: &RefCell<Connection>, sql: &str) -> DbResult<()> {
    Ok(off_runtime(|| {
        client.borrow_mut().client().batch_execute(sql)
    })?)
}

/// Connects to the database `url` names.
pub(super) fn connect(url: &str) -> DbResult<Connection> {
    let (url, wish) = tls::split_url(url);
    let mut config: Config = url.parse()?;
    let (mode, tls) = tls::connector(&wish)?;
    config.ssl_mode(mode);
    if config.get_password().is_none()
        && let Some(password) = password(&config)
    {
        config.password(password);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let mut retries = CONNECT_RETRIES.iter();
    let mut client = loop {
        match off_runtime(|| config.connect(tls.clone())) {
            Ok(client) => break client,
            Err(e) if is_unreachable(&e) => match retries.next() {
                Some(wait) => std::thread::sleep(*wait),
                None => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
    };
    // Times come back in UTC, as lake writes them.
    off_runtime(|| {
        client.batch_execute(
            "SET standard_conforming_strings = on; SET client_encoding = 'UTF8';
             SET TimeZone = 'UTC'; SET lock_timeout = '60s'",
        )
    })?;
    Ok(Connection(Some(client)))
}

/// Whether the server could not be reached (trying again may help; a
/// wrong password or a missing database stays so).
fn is_unreachable(e: &postgres::Error) -> bool {
    e.as_db_error().is_none() && e.to_string().starts_with("error connecting to server")
}

/// The password libpq would use: `PGPASSWORD`, else the first line of the
/// password file (`PGPASSFILE`, else `~/.pgpass`) that matches the host,
/// port, database and user (`*` matches anything).
fn password(config: &Config) -> Option<Vec<u8>> {
    if let Some(p) = std::env::var_os("PGPASSWORD") {
        return Some(p.into_encoded_bytes());
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".pgpass")))?;
    let text = std::fs::read_to_string(file).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default().to_owned();
    let db = config.get_dbname().unwrap_or(&user).to_owned();
    pgpass_lookup(&text, [&host, &port, &db, &user])
}

/// The password of the first password-file line whose fields match.
fn pgpass_lookup(text: &str, wanted: [&str; 4]) -> Option<Vec<u8>> {
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        // Fields split at `:` not escaped by `\`; `\:` and `\\` unescape.
        let mut fields = vec![String::new()];
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => fields.last_mut()?.extend(chars.next()),
                ':' if fields.len() < 5 => fields.push(String::new()),
                c => fields.last_mut()?.push(c),
            }
        }
        if fields.len() == 5
            && fields[..4]
                .iter()
                .zip(wanted)
                .all(|(f, w)| f == "*" || f == w)
        {
            return fields.pop().map(String::into_bytes);
        }
    }
    None
}

/// `sql` with each `?N` (or `?`, the next one) replaced by the literal of
/// its value. Quoted strings, quoted names and comments are left alone.
pub(super) fn render(sql: &str, values: &[Value]) -> DbResult<String> {
    let mut out = String::with_capacity(sql.len() + 16 * values.len());
    let mut chars = sql.char_indices().peekable();
    let mut next = 0;
    while let Some((_, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek().is_some_and(|&(_, d)| d == '-') => {
                out.push(c);
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(&(_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
                    digits.push(d);
                    chars.next();
                }
                let index = if digits.is_empty() {
                    Some(next)
                } else {
                    digits.parse::<usize>().ok().and_then(|n| n.checked_sub(1))
                };
                let value = index.and_then(|i| values.get(i)).ok_or_else(|| {
                    DbError::Refused(format!(
                        "statement parameter ?{digits} has no value ({} given)",
                        values.len()
                    ))
                })?;
                next = index.map_or(next, |i| i + 1);
                literal(value, &mut out)?;
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Writes `value` as an SQL literal.
fn literal(value: &Value, out: &mut String) -> DbResult<()> {
    match value {
        Value::Null => out.push_str("NULL"),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        Value::Real(f) if f.is_nan() => out.push_str("'NaN'"),
        Value::Real(f) if f.is_infinite() => out.push_str(if *f > 0.0 {
            "'Infinity'"
        } else {
            "'-Infinity'"
        }),
        Value::Real(f) => out.push_str(&format!("{f:?}")),
        Value::Text(s) => {
            if s.contains('\0') {
                return Err(DbError::Refused(
                    "PostgreSQL cannot store text with a NUL character".into(),
                ));
            }
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
    }
    Ok(())
}

/// The number of rows the last statement changed.
pub(super) fn changed(messages: &[SimpleQueryMessage]) -> DbResult<usize> {
    Ok(messages
        .iter()
        .rev()
        .find_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n as usize),
            _ => None,
        })
        .unwrap_or(0))
}

/// The rows of a query's answer.
pub(super) fn rows(messages: Vec<SimpleQueryMessage>) -> Vec<SimpleQueryRow> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect()
}

/// For tests: a new, empty database on the test server
/// (`LAKE_TEST_POSTGRES`, a URL that `scripts/postgres.sh start` prints and
/// `.ci/run` sets), and its URL.
#[cfg(test)]
pub(crate) fn fresh_test_database() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let url = std::env::var("LAKE_TEST_POSTGRES").expect(
        "LAKE_TEST_POSTGRES names the test PostgreSQL server: run the tests with \
         `bash .ci/run`, or start one with scripts/postgres.sh and export its URL",
    );
    let name = format!(
        "lake_unit_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut client = connect(&url).expect("connecting to LAKE_TEST_POSTGRES");
    client
        .client()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("creating a test database");
    let mut config: Config = url.parse().expect("LAKE_TEST_POSTGRES is a URL");
    config.dbname(&name);
    let (host, port) = match (config.get_hosts().first(), config.get_ports().first()) {
        (Some(postgres::config::Host::Tcp(h)), Some(p)) => (h.clone(), *p),
        _ => panic!("LAKE_TEST_POSTGRES must name a TCP host and port"),
    };
    let user = config.get_user().unwrap_or("lake");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@{host}:{port}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_literals_outside_quotes_and_comments() {
        let values = [
            Value::Int(-7),
            Value::Text("it's".into()),
            Value::Null,
            Value::Bool(true),
            Value::Real(0.5),
        ];
        assert_eq!(
            render(
                "SELECT ?1, ?2, '?1', \"a?2\" -- ?3\n, ?3, ?4, ?5, ?1",
                &values
            )
            .unwrap(),
            "SELECT -7, 'it''s', '?1', \"a?2\" -- ?3\n, NULL, TRUE, 0.5, -7"
        );
        assert_eq!(
            render("VALUES (?, ?)", &values[..2]).unwrap(),
            "VALUES (-7, 'it''s')"
        );
        assert!(render("SELECT ?6", &values).is_err());
        assert!(render("SELECT ?0", &values).is_err());
        assert!(render("SELECT ?1", &[Value::Text("a\0b".into())]).is_err());
        assert_eq!(
            render("SELECT ?1", &[Value::Real(f64::NAN)]).unwrap(),
            "SELECT 'NaN'"
        );
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redacted("postgres://lake:s3cr@t@db.example:5432/lake?sslmode=require"),
            "postgres://lake:***@db.example:5432/lake?sslmode=require"
        );
        assert_eq!(
            redacted("postgresql://lake@db/lake"),
            "postgresql://lake@db/lake"
        );
        assert_eq!(
            redacted("host=db password=s3cret dbname=lake"),
            "host=db password=*** dbname=lake"
        );
    }

    #[test]
    fn urls_become_libpq_words_without_the_password() {
        assert_eq!(
            libpq_words("postgres://lake:pw@127.0.0.1:5433/my%20lake?sslmode=disable"),
            "dbname='my lake' host=127.0.0.1 port=5433 user=lake sslmode=disable"
        );
    }

    #[test]
    fn password_file_lines_match_field_by_field() {
        let file = "# comment\nother:5432:*:lake:no\nh\\:x:*:db:lake:p\\:w\n*:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(file, ["h:x", "5433", "db", "lake"]),
            Some(b"p:w".to_vec())
        );
        assert_eq!(
            pgpass_lookup(file, ["db1", "5432", "db", "lake"]),
            Some(b"fallback".to_vec())
        );
        assert_eq!(pgpass_lookup("a:b:c:d:e", ["x", "b", "c", "d"]), None);
    }
}
