//! Object key rules, shared by `put`, `get`, `delete` and the HTTP routes.

use thiserror::Error;

/// The longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The prefix that belongs to the catalog: raw writes may not touch it.
pub const DATASETS_PREFIX: &str = "datasets/";

/// Why a key was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("invalid key: empty")]
    Empty,
    #[error("invalid key: {len} bytes is over the limit of {MAX_KEY_BYTES}")]
    TooLong { len: usize },
    #[error("invalid key {key:?}: contains {what}")]
    BadCharacter { key: String, what: &'static str },
    #[error("invalid key {key:?}: starts with '/'")]
    Absolute { key: String },
    #[error("invalid key {key:?}: has a '..' or empty path component")]
    BadComponent { key: String },
    #[error("invalid key {key:?}: keys under '{DATASETS_PREFIX}' belong to the catalog")]
    Reserved { key: String },
}

/// Checks a key against the rules of the spec: not empty, at most 1024 bytes,
/// no NUL, CR, LF or tab, no leading `/`, no `..` component.
pub fn validate(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong { len: key.len() });
    }
    for (c, what) in [
        ('\0', "a NUL byte"),
        ('\r', "a carriage return"),
        ('\n', "a line feed"),
        ('\t', "a tab"),
    ] {
        if key.contains(c) {
            return Err(KeyError::BadCharacter {
                key: key.to_owned(),
                what,
            });
        }
    }
    if key.starts_with('/') {
        return Err(KeyError::Absolute {
            key: key.to_owned(),
        });
    }
    // `..` escapes the store; `.` and empty components (`a//b`, `a/`) would
    // alias another key, or a directory, on a local file system.
    if key
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(KeyError::BadComponent {
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// Checks a key that a raw write (`put`, delete) wants to change: the key
/// rules, and not under `datasets/`.
pub fn validate_writable(key: &str) -> Result<(), KeyError> {
    validate(key)?;
    if key.starts_with(DATASETS_PREFIX) || key == "datasets" {
        return Err(KeyError::Reserved {
            key: key.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in ["a", "a/b/c.txt", "dir/file name.bin", "x..y", "d/.hidden"] {
            assert_eq!(validate(key), Ok(()), "{key}");
        }
    }

    fn variant(e: &KeyError) -> &'static str {
        match e {
            KeyError::Empty => "empty",
            KeyError::TooLong { .. } => "long",
            KeyError::BadCharacter { .. } => "char",
            KeyError::Absolute { .. } => "absolute",
            KeyError::BadComponent { .. } => "component",
            KeyError::Reserved { .. } => "reserved",
        }
    }

    #[test]
    fn refuses_bad_keys() {
        let long = "a".repeat(MAX_KEY_BYTES + 1);
        let cases = [
            ("", "empty"),
            (long.as_str(), "long"),
            ("a\0b", "char"),
            ("a\rb", "char"),
            ("a\nb", "char"),
            ("a\tb", "char"),
            ("/etc/passwd", "absolute"),
            ("..", "component"),
            ("a/../../b", "component"),
            ("a/..", "component"),
            ("a//b", "component"),
            ("./a", "component"),
            ("a/", "component"),
        ];
        for (key, expected) in cases {
            let err = validate(key).expect_err(key);
            assert_eq!(variant(&err), expected, "{key:?} gave {err:?}");
        }
    }

    #[test]
    fn exactly_the_limit_is_fine() {
        assert_eq!(validate(&"k".repeat(MAX_KEY_BYTES)), Ok(()));
    }

    #[test]
    fn datasets_prefix_is_read_only() {
        assert!(validate("datasets/people/x.parquet").is_ok());
        assert!(matches!(
            validate_writable("datasets/people/x.parquet"),
            Err(KeyError::Reserved { .. })
        ));
        assert!(validate_writable("datasetsx/y").is_ok());
    }
}
