//! One output format for every command that prints data, and the writers
//! for it: rows stream to standard output as they come.

use std::io::{self, Write};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// An aligned table, for people.
    Table,
    /// CSV with a header row; NULL is an empty field.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// Streams rows with named columns in one format.
pub struct RowWriter<W: Write> {
    format: OutputFormat,
    out: Sink<W>,
    columns: Vec<String>,
    table: Option<Table>,
    rows: u64,
}

/// CSV goes through the csv crate's writer; the rest straight out.
enum Sink<W: Write> {
    Plain(W),
    Csv(Box<csv::Writer<W>>),
}

/// The I/O error inside a CSV error (a closed pipe stays a closed pipe).
fn csv_io(err: csv::Error) -> io::Error {
    match err.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// A table for a terminal.
fn new_table(header: &[String]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header);
    table
}

fn text(cell: &Value, null: &str) -> String {
    match cell {
        Value::Null => null.to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<W: Write> RowWriter<W> {
    /// Starts a result; the header is written even if no row follows.
    pub fn new(format: OutputFormat, out: W, columns: Vec<String>) -> io::Result<Self> {
        let mut out = match format {
            OutputFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
            _ => Sink::Plain(out),
        };
        let mut table = None;
        match &mut out {
            Sink::Csv(csv) => csv.write_record(&columns).map_err(csv_io)?,
            Sink::Plain(w) => match format {
                OutputFormat::Table => table = Some(new_table(&columns)),
                OutputFormat::Json => w.write_all(b"[")?,
                _ => {}
            },
        }
        Ok(RowWriter {
            format,
            out,
            columns,
            table,
            rows: 0,
        })
    }

    fn json_object(&self, cells: &[Value]) -> String {
        let mut s = String::from("{");
        for (i, (name, cell)) in self.columns.iter().zip(cells).enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&Value::String(name.clone()).to_string());
            s.push(':');
            s.push_str(&cell.to_string());
        }
        s.push('}');
        s
    }

    /// Writes one row.
    pub fn row(&mut self, cells: &[Value]) -> io::Result<()> {
        let first = self.rows == 0;
        self.rows += 1;
        if let Some(t) = &mut self.table {
            t.add_row(cells.iter().map(|c| text(c, "NULL")));
            return Ok(());
        }
        let obj = match self.format {
            OutputFormat::Json | OutputFormat::Ndjson => self.json_object(cells),
            _ => String::new(),
        };
        match &mut self.out {
            Sink::Csv(csv) => csv
                .write_record(cells.iter().map(|c| text(c, "")))
                .map_err(csv_io),
            Sink::Plain(w) if self.format == OutputFormat::Json => {
                write!(w, "{}{obj}", if first { "\n" } else { ",\n" })
            }
            Sink::Plain(w) => writeln!(w, "{obj}"),
        }
    }

    /// Writes every row of an Arrow batch.
    /// The writer the rows go to.
    pub fn get_ref(&self) -> &W {
        match &self.out {
            Sink::Plain(w) => w,
            Sink::Csv(csv) => csv.get_ref(),
        }
    }

    pub fn batch(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let columns = batch.columns();
        let opts = FormatOptions::default();
        for row in 0..batch.num_rows() {
            let cells: Vec<Value> = columns
                .iter()
                .map(|c| arrow_cell(c.as_ref(), row, &opts))
                .collect();
            self.row(&cells)?;
        }
        Ok(())
    }

    /// Ends the result and hands back the output.
    pub fn finish(self) -> io::Result<W> {
        match self.out {
            Sink::Csv(csv) => csv.into_inner().map_err(|e| e.into_error()),
            Sink::Plain(mut w) => {
                if let Some(t) = self.table {
                    writeln!(w, "{t}")?;
                } else if self.format == OutputFormat::Json {
                    w.write_all(if self.rows == 0 { b"]\n" } else { b"\n]\n" })?;
                }
                w.flush()?;
                Ok(w)
            }
        }
    }
}

/// Writes one record (field, value) in a format: a vertical table, a CSV
/// header and row, a JSON object.
pub fn write_record(
    format: OutputFormat,
    out: &mut dyn Write,
    fields: &[(&str, Value)],
) -> io::Result<()> {
    match format {
        OutputFormat::Table => {
            let mut table = new_table(&["field".to_owned(), "value".to_owned()]);
            for (name, value) in fields {
                table.add_row(vec![(*name).to_owned(), text(value, "NULL")]);
            }
            writeln!(out, "{table}")?;
        }
        OutputFormat::Csv | OutputFormat::Ndjson => {
            let columns = fields.iter().map(|(n, _)| (*n).to_owned()).collect();
            let mut w = RowWriter::new(format, &mut *out, columns)?;
            w.row(&fields.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>())?;
            w.finish()?;
        }
        OutputFormat::Json => {
            let map: serde_json::Map<String, Value> = fields
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &map)?;
            writeln!(out)?;
        }
    }
    out.flush()
}

/// One Arrow value as JSON: numbers and booleans as such, NULL as null,
/// everything else as its text.
pub fn arrow_cell(array: &dyn Array, row: usize, opts: &FormatOptions) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    macro_rules! int {
        ($t:ty) => {
            Value::from(array.as_primitive::<$t>().value(row))
        };
    }
    match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float32 => float(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(row).to_owned()),
        DataType::Utf8View => Value::String(array.as_string_view().value(row).to_owned()),
        // As DuckDB prints them; an instant in UTC (the zone's name may be
        // one arrow cannot look up without a zone database).
        DataType::Timestamp(unit, zone) => {
            let micros = timestamp_micros(array, *unit, row);
            let suffix = if zone.is_some() { "+00" } else { "" };
            chrono::DateTime::from_timestamp_micros(micros).map_or(Value::Null, |t| {
                Value::String(format!("{}{suffix}", t.format("%Y-%m-%d %H:%M:%S%.f")))
            })
        }
        // Nested values are JSON values too, as DuckDB's own JSON gives them.
        DataType::List(_) => list(&array.as_list::<i32>().value(row), opts),
        DataType::LargeList(_) => list(&array.as_list::<i64>().value(row), opts),
        DataType::FixedSizeList(_, _) => list(&array.as_fixed_size_list().value(row), opts),
        DataType::Struct(fields) => {
            let columns = array.as_struct().columns();
            Value::Object(
                fields
                    .iter()
                    .zip(columns)
                    .map(|(f, c)| (f.name().clone(), arrow_cell(c.as_ref(), row, opts)))
                    .collect(),
            )
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            Value::Object(
                (0..entries.len())
                    .map(|i| {
                        let key = match arrow_cell(keys.as_ref(), i, opts) {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, arrow_cell(values.as_ref(), i, opts))
                    })
                    .collect(),
            )
        }
        _ => match ArrayFormatter::try_new(array, opts) {
            Ok(f) => Value::String(f.value(row).to_string()),
            Err(_) => Value::String(format!("<{}>", array.data_type())),
        },
    }
}

/// A timestamp value in microseconds since 1970-01-01.
fn timestamp_micros(array: &dyn Array, unit: TimeUnit, row: usize) -> i64 {
    match unit {
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .value(row)
            .saturating_mul(1_000_000),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .value(row)
            .saturating_mul(1_000),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row) / 1_000,
    }
}

/// The values of one list as a JSON array.
fn list(values: &dyn Array, opts: &FormatOptions) -> Value {
    Value::Array(
        (0..values.len())
            .map(|i| arrow_cell(values, i, opts))
            .collect(),
    )
}

/// A float as a JSON number; NaN and the infinities, which JSON has no
/// number for, as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
fn float(v: f64) -> Value {
    match serde_json::Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".to_owned()),
        None if v > 0.0 => Value::String("Infinity".to_owned()),
        None => Value::String("-Infinity".to_owned()),
    }
}

/// The SQL name of an Arrow type as DuckDB spells it.
pub fn sql_type_name(dt: &DataType) -> String {
    match dt {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "UTINYINT".into(),
        DataType::UInt16 => "USMALLINT".into(),
        DataType::UInt32 => "UINTEGER".into(),
        DataType::UInt64 => "UBIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BLOB".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Interval(_) => "INTERVAL".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("DECIMAL({p},{s})"),
        DataType::List(f) | DataType::LargeList(f) => format!("{}[]", sql_type_name(f.data_type())),
        DataType::FixedSizeList(f, n) => format!("{}[{n}]", sql_type_name(f.data_type())),
        DataType::Struct(fields) => format!(
            "STRUCT({})",
            fields
                .iter()
                .map(|f| format!("{} {}", f.name(), sql_type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP({}, {})",
                sql_type_name(kv[0].data_type()),
                sql_type_name(kv[1].data_type())
            ),
            _ => "MAP".into(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(format: OutputFormat, rows: &[Vec<Value>]) -> String {
        let mut out = Vec::new();
        let mut w = RowWriter::new(format, &mut out, vec!["a".into(), "b".into()]).unwrap();
        for r in rows {
            w.row(r).unwrap();
        }
        w.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_format_writes_rows_and_an_empty_header() {
        let rows = vec![vec![json!(1), json!("x,y")], vec![Value::Null, json!(true)]];
        assert_eq!(render(OutputFormat::Csv, &rows), "a,b\n1,\"x,y\"\n,true\n");
        assert_eq!(render(OutputFormat::Csv, &[]), "a,b\n");
        assert_eq!(
            render(OutputFormat::Ndjson, &rows),
            "{\"a\":1,\"b\":\"x,y\"}\n{\"a\":null,\"b\":true}\n"
        );
        assert_eq!(render(OutputFormat::Json, &[]), "[]\n");
        let parsed: Value = serde_json::from_str(&render(OutputFormat::Json, &rows)).unwrap();
        assert_eq!(parsed, json!([{"a":1,"b":"x,y"},{"a":null,"b":true}]));
        let table = render(OutputFormat::Table, &rows);
        assert!(table.contains("NULL") && table.contains("x,y"), "{table}");
    }
}
