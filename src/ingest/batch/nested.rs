//! Builders of nested columns (STRUCT, LIST) for record batches: the
//! fields or elements of each row go into child builders of their own,
//! which may be nested again.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{ArrayRef, LargeListArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{FieldRef, Fields};

use super::Builder;
use crate::ingest::values::Formats;
use crate::schema::arrow::{list_field, struct_fields};
use crate::schema::{Column, ColumnType};

/// A STRUCT column: one child builder per field.
pub struct StructColumn {
    fields: Fields,
    /// The field of each name.
    index: HashMap<String, usize>,
    /// The names in order.
    names: Vec<String>,
    children: Vec<Builder>,
    /// Which fields the row being appended has given.
    present: Vec<bool>,
    validity: NullBufferBuilder,
}

impl StructColumn {
    pub(crate) fn new(fields: &[Column], formats: &Formats, rows: usize) -> StructColumn {
        StructColumn {
            fields: struct_fields(fields),
            index: fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name.clone(), i))
                .collect(),
            names: fields.iter().map(|f| f.name.clone()).collect(),
            children: fields
                .iter()
                .map(|f| Builder::new(&f.column_type, formats, rows))
                .collect(),
            present: vec![false; fields.len()],
            validity: NullBufferBuilder::new(rows),
        }
    }

    /// The builder of the field named `name`, the `position`th its object
    /// gives (mostly the field of that number: tried first), unless the
    /// row has given it already; `Err` when the struct has no such field.
    pub(crate) fn field(
        &mut self,
        name: &str,
        position: usize,
    ) -> Result<Option<&mut Builder>, ()> {
        let i = match self.names.get(position) {
            Some(n) if n == name => position,
            _ => *self.index.get(name).ok_or(())?,
        };
        if std::mem::replace(&mut self.present[i], true) {
            return Ok(None);
        }
        Ok(Some(&mut self.children[i]))
    }

    /// Ends a row whose fields were given through [`StructColumn::field`]:
    /// the fields it lacks are NULL.
    pub(crate) fn end_row(&mut self) {
        for (present, child) in self.present.iter_mut().zip(&mut self.children) {
            if !std::mem::take(present) {
                child.append_null();
            }
        }
        self.validity.append_non_null();
    }

    /// Appends a NULL row.
    pub(crate) fn append_null(&mut self) {
        self.children.iter_mut().for_each(Builder::append_null);
        self.validity.append_null();
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        let children = self.children.iter_mut().map(Builder::finish).collect();
        Arc::new(StructArray::new(
            self.fields.clone(),
            children,
            self.validity.finish(),
        ))
    }
}

/// A LIST column: the elements of every row in one child builder.
pub struct ListColumn {
    field: FieldRef,
    element: Box<Builder>,
    /// Where each row's elements end, after a leading 0.
    offsets: Vec<i64>,
    /// Elements appended in all.
    elements: i64,
    validity: NullBufferBuilder,
}

impl ListColumn {
    pub(crate) fn new(element: &ColumnType, formats: &Formats, rows: usize) -> ListColumn {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        ListColumn {
            field: list_field(element),
            element: Box::new(Builder::new(element, formats, rows)),
            offsets,
            elements: 0,
            validity: NullBufferBuilder::new(rows),
        }
    }

    /// The builder of the elements: append one at a time, each counted with
    /// [`ListColumn::element_done`], then end the row.
    pub(crate) fn element(&mut self) -> &mut Builder {
        &mut self.element
    }

    pub(crate) fn element_done(&mut self) {
        self.elements += 1;
    }

    /// Ends a row (not NULL) of the elements appended since the last.
    pub(crate) fn end_row(&mut self) {
        self.offsets.push(self.elements);
        self.validity.append_non_null();
    }

    /// Appends a NULL row.
    pub(crate) fn append_null(&mut self) {
        self.offsets.push(self.elements);
        self.validity.append_null();
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        self.elements = 0;
        Arc::new(LargeListArray::new(
            self.field.clone(),
            // Pushed in order from 0: never decreasing.
            OffsetBuffer::new(offsets.into()),
            self.element.finish(),
            self.validity.finish(),
        ))
    }
}
