//! The Arrow types lake's column types are written and read as (the
//! Parquet writer's, and what a search hands DuckDB).

use std::sync::Arc;

use arrow::datatypes::{
    DataType, Field, FieldRef, Fields, Schema as ArrowSchema, SchemaRef, TimeUnit,
};

use super::{Column, ColumnType, LIST_ELEMENT, Schema};

/// The zone instants are stored in.
pub const UTC: &str = "UTC";

/// The Arrow schema a lake schema is written as.
pub fn arrow_schema(schema: &Schema) -> SchemaRef {
    Arc::new(ArrowSchema::new(
        schema
            .columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(&c.column_type), true))
            .collect::<Vec<_>>(),
    ))
}

/// The Arrow type a lake type is written as.
pub fn arrow_type(t: &ColumnType) -> DataType {
    match t {
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Bigint => DataType::Int64,
        ColumnType::Double => DataType::Float64,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        ColumnType::Time => DataType::Time64(TimeUnit::Microsecond),
        ColumnType::Varchar => DataType::Utf8,
        ColumnType::Struct(fields) => DataType::Struct(struct_fields(fields)),
        ColumnType::List(element) => DataType::LargeList(list_field(element)),
        ColumnType::Vector(n) => vector_type(*n),
    }
}

/// The Arrow fields of a STRUCT's fields.
pub fn struct_fields(fields: &[Column]) -> Fields {
    fields
        .iter()
        .map(|f| Field::new(&f.name, arrow_type(&f.column_type), true))
        .collect()
}

/// The Arrow field of a list's elements.
pub fn list_field(element: &ColumnType) -> FieldRef {
    Arc::new(Field::new(LIST_ELEMENT, arrow_type(element), true))
}

/// The Arrow field of a `FLOAT[N]`'s elements.
pub fn vector_field() -> FieldRef {
    Arc::new(Field::new(LIST_ELEMENT, DataType::Float32, true))
}

/// The Arrow type of a `FLOAT[N]`.
pub fn vector_type(length: usize) -> DataType {
    DataType::FixedSizeList(vector_field(), length as i32)
}
