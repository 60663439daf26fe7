//! The SQL of a dataset's view: its live Parquet files, each read with its
//! own columns mapped to the table's (by name for lake's files, by field id
//! for DuckDB's), rows a deletion file names left out.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::schema::{quote_ident, quote_literal};

/// A column of the table, as the view shows it.
#[derive(Debug, Clone)]
pub struct ViewColumn {
    /// DuckLake's column id (the field id of DuckDB's files).
    pub column_id: i64,
    pub name: String,
    /// DuckDB's SQL type.
    pub sql_type: String,
    /// What a file without the column reads (NULL if none).
    pub default: Option<String>,
}

/// How a file's columns are found.
#[derive(Debug, Clone)]
pub enum FileColumns {
    /// Column id -> name in the file, under a mapping that only files of
    /// one physical schema share.
    ByName {
        mapping: i64,
        names: HashMap<i64, String>,
    },
    /// The file carries field ids: they are looked up in its schema.
    ByFieldId,
}

/// A live data file of the table.
#[derive(Debug, Clone)]
pub struct ViewFile {
    pub path: PathBuf,
    pub columns: FileColumns,
    /// Deletion files (Parquet, `file_path` and `pos`) of this file.
    pub deletes: Vec<PathBuf>,
}

/// The SELECT list reading a file whose columns are named by `names`
/// (column id -> name in the file).
pub(crate) fn projection(columns: &[ViewColumn], names: &HashMap<i64, String>) -> String {
    columns
        .iter()
        .map(|c| {
            let value = match names.get(&c.column_id) {
                Some(source) => quote_ident(source),
                None => c
                    .default
                    .as_deref()
                    .map_or_else(|| "NULL".to_owned(), quote_literal),
            };
            format!(
                "CAST({value} AS {}) AS {}",
                c.sql_type,
                quote_ident(&c.name)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn path_list(paths: &[&PathBuf]) -> String {
    let list = paths
        .iter()
        .map(|p| quote_literal(&p.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(", ");
    format!("[{list}]")
}

/// Column id -> column name in one file.
pub type FileNames = HashMap<i64, String>;

/// The view's query. `field_names` gives, for each file read by field id,
/// its column id -> name map (from the file's own schema).
pub fn view_query(
    columns: &[ViewColumn],
    files: &[ViewFile],
    field_names: &dyn Fn(&PathBuf) -> Result<FileNames, String>,
) -> Result<String, String> {
    // Files of one shape, read the same way, share one read_parquet.
    let mut groups: BTreeMap<(String, Option<i64>), Vec<&PathBuf>> = BTreeMap::new();
    let mut parts = Vec::new();
    for f in files {
        let (names, mapping) = match &f.columns {
            FileColumns::ByName { mapping, names } => (names.clone(), Some(*mapping)),
            FileColumns::ByFieldId => (field_names(&f.path)?, None),
        };
        let select = projection(columns, &names);
        if f.deletes.is_empty() {
            groups.entry((select, mapping)).or_default().push(&f.path);
        } else {
            let deletes: Vec<&PathBuf> = f.deletes.iter().collect();
            parts.push(format!(
                "SELECT {select} FROM read_parquet({}, file_row_number = true) \
                 WHERE file_row_number NOT IN (SELECT pos FROM read_parquet({}))",
                quote_literal(&f.path.to_string_lossy()),
                path_list(&deletes)
            ));
        }
    }
    for ((select, mapping), paths) in groups {
        // DuckDB's files may differ in their other columns and in types.
        let options = if mapping.is_none() && paths.len() > 1 {
            ", union_by_name = true"
        } else {
            ""
        };
        parts.insert(
            0,
            format!(
                "SELECT {select} FROM read_parquet({}{options})",
                path_list(&paths)
            ),
        );
    }
    if parts.is_empty() {
        parts.push(format!(
            "SELECT {} WHERE false",
            projection(columns, &HashMap::new())
        ));
    }
    Ok(parts.join(" UNION ALL "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(id: i64, name: &str) -> ViewColumn {
        ViewColumn {
            column_id: id,
            name: name.into(),
            sql_type: "BIGINT".into(),
            default: None,
        }
    }

    #[test]
    fn files_of_one_shape_share_a_scan_and_missing_columns_read_null() {
        let names: HashMap<i64, String> = [(1, "a".to_owned())].into();
        let file = |p: &str| ViewFile {
            path: p.into(),
            columns: FileColumns::ByName {
                mapping: 7,
                names: names.clone(),
            },
            deletes: vec![],
        };
        let sql = view_query(
            &[col(1, "a"), col(2, "b")],
            &[file("x"), file("y")],
            &|_| Err("no".into()),
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT CAST(\"a\" AS BIGINT) AS \"a\", CAST(NULL AS BIGINT) AS \"b\" FROM read_parquet(['x', 'y'])"
        );
    }

    #[test]
    fn deleted_rows_are_left_out_and_an_empty_table_has_its_columns() {
        let f = ViewFile {
            path: "x".into(),
            columns: FileColumns::ByFieldId,
            deletes: vec!["d".into()],
        };
        let sql = view_query(
            &[col(1, "a")],
            &[f],
            &|_| Ok([(1, "old".to_owned())].into()),
        )
        .unwrap();
        assert!(sql.contains("CAST(\"old\" AS BIGINT) AS \"a\""), "{sql}");
        assert!(
            sql.contains("NOT IN (SELECT pos FROM read_parquet(['d']))"),
            "{sql}"
        );
        let empty = view_query(&[col(1, "a")], &[], &|_| Err("no".into())).unwrap();
        assert_eq!(empty, "SELECT CAST(NULL AS BIGINT) AS \"a\" WHERE false");
    }
}
