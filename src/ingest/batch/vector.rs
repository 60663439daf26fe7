//! The builder of a `FLOAT[N]` column (an embedding): N finite 32-bit
//! floats in every value, from a JSON array of numbers or a text field
//! written as one (`[0.1, 0.2]`).

use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, NullBufferBuilder};

use crate::ingest::values;
use crate::schema::arrow::vector_field;
#[cfg(test)]
use crate::schema::arrow::vector_type;

/// A `FLOAT[N]` column being built.
pub struct VectorColumn {
    length: usize,
    values: Vec<f32>,
    validity: NullBufferBuilder,
}

impl VectorColumn {
    pub(crate) fn new(length: usize, rows: usize) -> VectorColumn {
        VectorColumn {
            length,
            values: Vec::with_capacity(length * rows.min(4096)),
            validity: NullBufferBuilder::new(rows),
        }
    }

    /// Appends a value from its numbers; `false` (and nothing appended)
    /// unless there are exactly N, each a finite FLOAT.
    pub(crate) fn append_numbers(&mut self, numbers: impl Iterator<Item = Option<f64>>) -> bool {
        let ok = values::push_vector(numbers, self.length, &mut self.values);
        if ok {
            self.validity.append_non_null();
        }
        ok
    }

    /// Appends a value written as text, `[0.1, 0.2, ...]`.
    pub(crate) fn append_text(&mut self, field: &str) -> bool {
        let ok = values::parse_vector(field, self.length, &mut self.values);
        if ok {
            self.validity.append_non_null();
        }
        ok
    }

    pub(crate) fn append_null(&mut self) {
        self.values.extend(std::iter::repeat_n(0.0, self.length));
        self.validity.append_null();
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        let values = Float32Array::from(std::mem::take(&mut self.values));
        Arc::new(FixedSizeListArray::new(
            vector_field(),
            self.length as i32,
            Arc::new(values),
            self.validity.finish(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    #[test]
    fn takes_exactly_n_finite_floats() {
        let mut v = VectorColumn::new(2, 4);
        assert!(v.append_text("[0.5, -1e3]"));
        assert!(!v.append_text("[1, 2, 3]"));
        assert!(!v.append_text("[1]"));
        assert!(!v.append_text("[1, nan]"));
        assert!(!v.append_text("[1, 1e39]"));
        assert!(!v.append_text("1, 2"));
        v.append_null();
        assert!(v.append_numbers([Some(1.0), Some(2.0)].into_iter()));
        assert!(!v.append_numbers([Some(1.0), None].into_iter()));
        let a = v.finish();
        assert_eq!(a.len(), 3);
        assert_eq!(a.null_count(), 1);
        assert_eq!(a.data_type(), &vector_type(2));
    }
}
