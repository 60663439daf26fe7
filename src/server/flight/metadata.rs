//! What Flight SQL drivers ask of a server before any query, answered with
//! exactly the columns and types the Flight SQL spec gives (JDBC drivers
//! fail on any other): the server's facts (GetSqlInfo), its types
//! (GetXdbcTypeInfo), catalogs, schemas, tables (with their Arrow schemas)
//! and table types; keys answer empty. Datasets are DuckDB's temporary
//! views, in catalog `temp`, schema `main`, as in `lake sql`: a name a
//! driver qualifies with them runs as it is.

use std::ops::ControlFlow;
use std::sync::{Arc, LazyLock};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTableTypes, CommandGetTables, Nullable,
    Searchable, SqlInfo, SqlNullOrdering, SqlSupportedCaseSensitivity, SqlSupportedTransaction,
    XdbcDataType, XdbcDatetimeSubcode,
};
use futures::{StreamExt, TryStreamExt};
use tonic::{Response, Status};

use super::{DoGetStream, status};
use crate::schema::quote_ident;
use crate::server::AppState;
use crate::server::limits::try_permit;
use crate::server::queries::QueryRequest;
use crate::server::sql::on_connection;

/// The DuckDB catalog and schema the datasets are views in.
const CATALOG: &str = "temp";
const SCHEMA: &str = "main";
/// What a dataset is to a driver.
const TABLE_TYPE: &str = "TABLE";

/// One batch as a Flight answer.
pub(super) fn answer<E: std::fmt::Display>(
    batch: Result<RecordBatch, E>,
) -> Result<Response<DoGetStream>, Status> {
    let batch = batch.map_err(|e| Status::internal(e.to_string()))?;
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(batch.schema())
        .build(futures::stream::iter([Ok(batch)]))
        .map_err(Status::from)
        .boxed();
    Ok(Response::new(stream))
}

/// No rows, of `schema`.
pub(super) fn empty(schema: SchemaRef) -> Result<Response<DoGetStream>, Status> {
    answer(Ok::<_, Status>(RecordBatch::new_empty(schema)))
}

pub(super) fn catalogs(query: CommandGetCatalogs) -> Result<Response<DoGetStream>, Status> {
    let mut builder = query.into_builder();
    builder.append(CATALOG);
    answer(builder.build())
}

pub(super) fn schemas(query: CommandGetDbSchemas) -> Result<Response<DoGetStream>, Status> {
    let mut builder = query.into_builder();
    builder.append(CATALOG, SCHEMA);
    answer(builder.build())
}

pub(super) fn table_types(query: CommandGetTableTypes) -> Result<Response<DoGetStream>, Status> {
    let mut builder = query.into_builder();
    builder.append(TABLE_TYPE);
    answer(builder.build())
}

/// Every dataset at the snapshot `at` (or now), with its Arrow schema as
/// DuckDB reads it when the driver asks for schemas.
pub(super) async fn tables(
    state: &Arc<AppState>,
    query: CommandGetTables,
    at: Option<String>,
) -> Result<Response<DoGetStream>, Status> {
    let with_schemas = query.include_schema;
    let permit = try_permit(state).map_err(status)?;
    let request = QueryRequest {
        sql: String::new(),
        at,
        max_rows: 0,
        max_bytes: 0,
    };
    let current = super::statements::current(state, request.at.as_deref())?;
    let found = on_connection(state, permit, move |state, conn, lakes| {
        // The snapshot and its names; then the views of all of them.
        let snapshot = state.queries.ready(conn, &request, current, lakes)?;
        let mut names: Vec<String> = snapshot.1.values().cloned().collect();
        names.sort();
        if !with_schemas {
            return Ok(names.into_iter().map(|n| (n, Schema::empty())).collect());
        }
        let every = QueryRequest {
            sql: names
                .iter()
                .map(|n| quote_ident(n))
                .collect::<Vec<_>>()
                .join(" "),
            ..request
        };
        let _held = state.queries.ready(conn, &every, Some(snapshot), lakes)?;
        names
            .into_iter()
            .map(|name| {
                let sql = format!("SELECT * FROM {} LIMIT 0", quote_ident(&name));
                let schema = conn
                    .engine
                    .run_read_only(&sql, &mut |_, _| Ok(ControlFlow::Break(())))?;
                Ok((name, schema.as_ref().clone()))
            })
            .collect::<Result<Vec<_>, crate::lake::LakeError>>()
    })
    .await
    .map_err(status)?;
    let mut builder = query.into_builder();
    for (name, schema) in &found {
        builder
            .append(CATALOG, SCHEMA, name, TABLE_TYPE, schema)
            .map_err(|e| Status::internal(e.to_string()))?;
    }
    answer(builder.build())
}

/// The server's facts.
pub(super) fn sql_info() -> &'static SqlInfoData {
    static INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
        let mut b = SqlInfoDataBuilder::new();
        b.append(SqlInfo::FlightSqlServerName, "lake");
        b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        b.append(SqlInfo::FlightSqlServerReadOnly, true);
        b.append(SqlInfo::FlightSqlServerSql, true);
        b.append(SqlInfo::FlightSqlServerSubstrait, false);
        b.append(
            SqlInfo::FlightSqlServerTransaction,
            SqlSupportedTransaction::None as i32,
        );
        b.append(SqlInfo::FlightSqlServerCancel, false);
        b.append(SqlInfo::SqlDdlCatalog, false);
        b.append(SqlInfo::SqlDdlSchema, false);
        b.append(SqlInfo::SqlDdlTable, false);
        b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        let insensitive = SqlSupportedCaseSensitivity::SqlCaseSensitivityCaseInsensitive as i32;
        b.append(SqlInfo::SqlIdentifierCase, insensitive);
        b.append(SqlInfo::SqlQuotedIdentifierCase, insensitive);
        b.append(SqlInfo::SqlAllTablesAreSelectable, true);
        b.append(
            SqlInfo::SqlNullOrdering,
            SqlNullOrdering::SqlNullsSortedAtEnd as i32,
        );
        b.append(SqlInfo::SqlSupportsColumnAliasing, true);
        b.build().expect("the server's facts are well formed")
    });
    &INFO
}

/// The types lake's datasets hold.
pub(super) fn xdbc_types() -> &'static XdbcTypeInfoData {
    static TYPES: LazyLock<XdbcTypeInfoData> = LazyLock::new(|| {
        let mut b = XdbcTypeInfoDataBuilder::new();
        let types = [
            ("BOOLEAN", XdbcDataType::XdbcBit, None, None),
            ("BIGINT", XdbcDataType::XdbcBigint, Some(64), None),
            ("DOUBLE", XdbcDataType::XdbcDouble, Some(53), None),
            ("VARCHAR", XdbcDataType::XdbcVarchar, None, None),
            (
                "DATE",
                XdbcDataType::XdbcDate,
                None,
                // ODBC's SQL_CODE_DATE (1), which the proto names Year.
                Some(XdbcDatetimeSubcode::XdbcSubcodeYear),
            ),
            (
                "TIME",
                XdbcDataType::XdbcTime,
                None,
                Some(XdbcDatetimeSubcode::XdbcSubcodeTime),
            ),
            (
                "TIMESTAMP",
                XdbcDataType::XdbcTimestamp,
                None,
                Some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp),
            ),
            (
                "TIMESTAMP WITH TIME ZONE",
                XdbcDataType::XdbcTimestamp,
                None,
                Some(XdbcDatetimeSubcode::XdbcSubcodeTimestampWithTimezone),
            ),
        ];
        for (name, data_type, size, subcode) in types {
            let (prefix, suffix) = match data_type {
                XdbcDataType::XdbcVarchar
                | XdbcDataType::XdbcDate
                | XdbcDataType::XdbcTime
                | XdbcDataType::XdbcTimestamp => (Some("'".to_owned()), Some("'".to_owned())),
                _ => (None, None),
            };
            b.append(XdbcTypeInfo {
                type_name: name.to_owned(),
                data_type,
                column_size: size,
                literal_prefix: prefix,
                literal_suffix: suffix,
                create_params: None,
                nullable: Nullable::NullabilityNullable,
                case_sensitive: data_type == XdbcDataType::XdbcVarchar,
                searchable: Searchable::Full,
                unsigned_attribute: size.map(|_| false),
                fixed_prec_scale: false,
                auto_increment: size.map(|_| false),
                local_type_name: Some(name.to_owned()),
                minimum_scale: None,
                maximum_scale: None,
                sql_data_type: data_type,
                datetime_subcode: subcode,
                num_prec_radix: size.map(|_| 2),
                interval_precision: None,
            });
        }
        b.build().expect("the server's types are well formed")
    });
    &TYPES
}

/// GetPrimaryKeys' columns, as the Flight SQL spec gives them.
pub(super) fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// GetExportedKeys', GetImportedKeys' and GetCrossReference's columns.
pub(super) fn foreign_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("pk_catalog_name", DataType::Utf8, true),
        Field::new("pk_db_schema_name", DataType::Utf8, true),
        Field::new("pk_table_name", DataType::Utf8, false),
        Field::new("pk_column_name", DataType::Utf8, false),
        Field::new("fk_catalog_name", DataType::Utf8, true),
        Field::new("fk_db_schema_name", DataType::Utf8, true),
        Field::new("fk_table_name", DataType::Utf8, false),
        Field::new("fk_column_name", DataType::Utf8, false),
        Field::new("key_sequence", DataType::Int32, false),
        Field::new("fk_key_name", DataType::Utf8, true),
        Field::new("pk_key_name", DataType::Utf8, true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
}
