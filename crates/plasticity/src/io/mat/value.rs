//! MAT-file variables of any class the fly data use: numeric arrays, char arrays, cell
//! arrays and struct arrays, nested to any depth up to [`MAX_DEPTH`] (MATLAB v5/v7,
//! plain or compressed; docs/flies.md, "The deposited raw data").
//!
//! A cell array's `miMATRIX` element is followed, after its name, by one `miMATRIX`
//! element per cell (column-major, with empty names). A struct array's is followed by
//! the length of a field name (`miINT32`), the field names (`miINT8`, each padded with
//! NULs to that length) and one `miMATRIX` element per element and field (element by
//! element, column-major, the fields in order). A char array holds its characters as
//! `miUTF8`, `miUINT8`/`miINT8`, `miUINT16`/`miINT16`/`miUTF16` or `miUTF32`/`miINT32`/
//! `miUINT32` values, column-major. An `miMATRIX` element of 0 bytes is an empty
//! double (as MATLAB writes `[]` in a struct field).
//!
//! The same guarantees as the numeric reader hold for this untrusted input: the number
//! of cells or struct fields a header claims is checked against the bytes that remain
//! (each needs at least an 8-byte tag) before anything is allocated, nesting is
//! limited to [`MAX_DEPTH`] levels and one variable to [`MAX_ARRAYS`] arrays, and
//! classes that are never read (sparse, complex, objects, function handles) are
//! recorded as [`MatValue::Unsupported`] and skipped, so that an error arises only
//! where such a value is used.

use std::path::Path;

use super::{
    class_name, for_each_wanted, matrix_header, numeric_values, u32_at, Elements, MatArray,
    MatError, MatrixHeader, MI_INT16, MI_INT32, MI_INT8, MI_MATRIX, MI_UINT16, MI_UINT32, MI_UINT8,
    MI_UTF8,
};
use crate::{Error, Result};

/// `miUTF16`.
const MI_UTF16: u32 = 17;
/// `miUTF32`.
const MI_UTF32: u32 = 18;

/// Arrays may nest (cells in structs in cells …) at most this deep.
pub const MAX_DEPTH: usize = 16;

/// One variable may hold at most this many arrays (cells, struct fields and the
/// arrays inside them, all levels together).
pub const MAX_ARRAYS: usize = 1 << 20;

/// The longest field name a struct array may declare (MATLAB's own limit is 63).
const MAX_FIELD_NAME: usize = 4096;

/// A MAT-file variable (or a cell or struct field inside one).
#[derive(Clone, Debug, PartialEq)]
pub enum MatValue {
    /// A real numeric or logical array, converted to `f64`.
    Numeric(MatArray),
    /// A char array: its characters, column-major.
    Char {
        /// Dimensions.
        dims: Vec<usize>,
        /// The characters, column-major (`text[3]` is MATLAB's `c(4)`).
        text: Vec<char>,
    },
    /// A cell array: its cells, column-major.
    Cell {
        /// Dimensions.
        dims: Vec<usize>,
        /// The cells, column-major.
        cells: Vec<MatValue>,
    },
    /// A struct array.
    Struct(MatStruct),
    /// A class this reader does not convert (sparse, complex, objects, function
    /// handles), named for errors.
    Unsupported {
        /// Dimensions, where the header could be read.
        dims: Vec<usize>,
        /// What it is ("sparse", "complex double", …).
        class: String,
    },
}

/// A struct array: field names and, for each element (column-major), one value per
/// field.
#[derive(Clone, Debug, PartialEq)]
pub struct MatStruct {
    /// Dimensions.
    pub dims: Vec<usize>,
    /// Field names, in the file's order.
    pub fields: Vec<String>,
    /// `values[e * fields.len() + f]`: field `f` of element `e`.
    pub values: Vec<MatValue>,
}

impl MatStruct {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.values
            .len()
            .checked_div(self.fields.len())
            .unwrap_or(0)
    }

    /// Whether the struct array has no element (or no field, so nothing to read).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the struct has the field `name`.
    pub fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f == name)
    }

    /// Field `name` of element `element` (0-based), if both exist.
    pub fn field(&self, element: usize, name: &str) -> Option<&MatValue> {
        let f = self.fields.iter().position(|n| n == name)?;
        self.values
            .get(element.checked_mul(self.fields.len())?.checked_add(f)?)
    }
}

impl MatValue {
    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        match self {
            MatValue::Numeric(a) => &a.dims,
            MatValue::Char { dims, .. }
            | MatValue::Cell { dims, .. }
            | MatValue::Unsupported { dims, .. } => dims,
            MatValue::Struct(s) => &s.dims,
        }
    }

    /// Whether the array has no element (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.dims().contains(&0)
    }

    /// MATLAB's name of the class ("double", "char", "cell", "struct", …), for errors.
    pub fn class(&self) -> String {
        match self {
            MatValue::Numeric(_) => "numeric".into(),
            MatValue::Char { .. } => "char".into(),
            MatValue::Cell { .. } => "cell".into(),
            MatValue::Struct(_) => "struct".into(),
            MatValue::Unsupported { class, .. } => class.clone(),
        }
    }
}

/// Counts the arrays of one variable against [`MAX_ARRAYS`].
struct Budget {
    left: usize,
}

impl Budget {
    fn spend(&mut self, n: usize) -> std::result::Result<(), String> {
        if n > self.left {
            return Err(format!(
                "more than {MAX_ARRAYS} arrays (cells and struct fields) in one variable"
            ));
        }
        self.left -= n;
        Ok(())
    }
}

/// The value of a matrix whose header has been read.
fn value(
    header: MatrixHeader<'_>,
    depth: usize,
    budget: &mut Budget,
) -> std::result::Result<MatValue, String> {
    match header.class {
        1 => cell(header, depth, budget),
        2 => structure(header, depth, budget),
        4 => chars(header),
        6..=15 if header.complex => Ok(MatValue::Unsupported {
            class: format!("complex {}", class_name(header.class)),
            dims: header.dims,
        }),
        6..=15 => numeric_values(header)
            .map(MatValue::Numeric)
            .map_err(|e| e.message),
        other => Ok(MatValue::Unsupported {
            dims: header.dims,
            class: class_name(other),
        }),
    }
}

/// The value of a nested `miMATRIX` element's data (a cell or a struct field).
fn nested(
    payload: &[u8],
    depth: usize,
    budget: &mut Budget,
) -> std::result::Result<MatValue, String> {
    if depth > MAX_DEPTH {
        return Err(format!("arrays nested more than {MAX_DEPTH} levels deep"));
    }
    if payload.is_empty() {
        // MATLAB writes `[]` in a struct field as an miMATRIX element of 0 bytes
        return Ok(MatValue::Numeric(MatArray {
            dims: vec![0, 0],
            values: Vec::new(),
        }));
    }
    match matrix_header(payload).map_err(|e| e.message)? {
        Some(header) => value(header, depth, budget),
        None => Ok(MatValue::Unsupported {
            dims: Vec::new(),
            class: class_name(17),
        }),
    }
}

/// The number of elements of `dims`, or an error if the product overflows.
fn element_count(dims: &[usize]) -> std::result::Result<usize, String> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("dimensions {} are too large", super::format_dims(dims)))
}

/// Reads `count` nested `miMATRIX` elements from `rest`, having checked that the bytes
/// that remain can hold them (8 bytes each at least) before allocating. `label(i)`
/// names the `i`-th for errors.
fn nested_elements(
    rest: &mut Elements<'_>,
    count: usize,
    depth: usize,
    budget: &mut Budget,
    label: impl Fn(usize) -> String,
) -> std::result::Result<Vec<MatValue>, String> {
    if count > rest.remaining() / 8 {
        return Err(format!(
            "{count} arrays claimed, but only {} bytes remain (each needs at least 8)",
            rest.remaining()
        ));
    }
    budget.spend(count)?;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (data_type, data) = rest
            .next_element()
            .map_err(|m| format!("{}: {m}", label(i)))?;
        if data_type != MI_MATRIX {
            return Err(format!(
                "{}: expected an array (miMATRIX), found data type {data_type}",
                label(i)
            ));
        }
        out.push(nested(data, depth + 1, budget).map_err(|m| format!("{}: {m}", label(i)))?);
    }
    Ok(out)
}

/// A cell array: one nested array per cell.
fn cell(
    header: MatrixHeader<'_>,
    depth: usize,
    budget: &mut Budget,
) -> std::result::Result<MatValue, String> {
    let MatrixHeader { dims, mut rest, .. } = header;
    let count = element_count(&dims)?;
    let cells = nested_elements(&mut rest, count, depth, budget, |i| {
        format!("cell {}", i + 1)
    })?;
    Ok(MatValue::Cell { dims, cells })
}

/// A struct array: field name length, field names, then each element's fields.
fn structure(
    header: MatrixHeader<'_>,
    depth: usize,
    budget: &mut Budget,
) -> std::result::Result<MatValue, String> {
    let MatrixHeader { dims, mut rest, .. } = header;
    let (len_type, len_data) = rest.next_element()?;
    let name_len = match (len_type, u32_at(len_data, 0)) {
        (MI_INT32, Some(n)) if len_data.len() == 4 => n as usize,
        _ => {
            return Err(format!(
                "expected a struct's field name length (miINT32, 4 bytes), found data type {len_type} with {} bytes",
                len_data.len()
            ))
        }
    };
    if name_len == 0 || name_len > MAX_FIELD_NAME {
        return Err(format!(
            "a struct's field names are {name_len} bytes long, expected 1 to {MAX_FIELD_NAME}"
        ));
    }
    let (names_type, names) = rest.next_element()?;
    if !matches!(names_type, MI_INT8 | MI_UINT8 | MI_UTF8) || names.len() % name_len != 0 {
        return Err(format!(
            "expected a struct's field names (miINT8, a multiple of {name_len} bytes), found data type {names_type} with {} bytes",
            names.len()
        ));
    }
    let fields: Vec<String> = names
        .chunks_exact(name_len)
        .map(|chunk| {
            let end = chunk.iter().position(|&b| b == 0).unwrap_or(chunk.len());
            String::from_utf8_lossy(&chunk[..end]).into_owned()
        })
        .collect();
    let count = element_count(&dims)?;
    let total = count
        .checked_mul(fields.len())
        .ok_or_else(|| format!("{count} elements of {} fields are too many", fields.len()))?;
    let n_fields = fields.len();
    let values = nested_elements(&mut rest, total, depth, budget, |i| {
        let field = fields.get(i % n_fields.max(1)).map_or("", String::as_str);
        format!("element {}, field '{field}'", i / n_fields.max(1) + 1)
    })?;
    Ok(MatValue::Struct(MatStruct {
        dims,
        fields,
        values,
    }))
}

/// A char array's characters, checked against its dimensions.
fn chars(header: MatrixHeader<'_>) -> std::result::Result<MatValue, String> {
    let MatrixHeader { dims, mut rest, .. } = header;
    let count = element_count(&dims)?;
    if rest.remaining() == 0 && count == 0 {
        return Ok(MatValue::Char {
            dims,
            text: Vec::new(),
        });
    }
    let (data_type, data) = rest.next_element()?;
    let wide = |size: usize| -> std::result::Result<(), String> {
        if data.len() % size != 0 || data.len() / size != count {
            return Err(format!(
                "dimensions {} need {count} characters, but the data holds {} bytes of {size}-byte characters",
                super::format_dims(&dims),
                data.len()
            ));
        }
        Ok(())
    };
    let text: Vec<char> = match data_type {
        MI_UTF8 | MI_UINT8 | MI_INT8 => match std::str::from_utf8(data) {
            Ok(s) if data_type == MI_UTF8 => s.chars().collect(),
            _ => data.iter().map(|&b| char::from(b)).collect(),
        },
        MI_UINT16 | MI_INT16 | MI_UTF16 => {
            wide(2)?;
            data.chunks_exact(2)
                .map(|c| {
                    char::from_u32(u32::from(u16::from_le_bytes([c[0], c[1]])))
                        .unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect()
        }
        MI_UTF32 | MI_UINT32 | MI_INT32 => {
            wide(4)?;
            data.chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect()
        }
        other => return Err(format!("unsupported storage type {other} for characters")),
    };
    if text.len() != count {
        return Err(format!(
            "dimensions {} need {count} characters, but the data holds {}",
            super::format_dims(&dims),
            text.len()
        ));
    }
    Ok(MatValue::Char { dims, text })
}

/// Reads the variables `wanted`, of any class, from the bytes of a MAT-file; other
/// variables are skipped. A wanted variable that is absent is `None`; one that appears
/// twice is an error.
pub(crate) fn read_mat_values(
    bytes: &[u8],
    wanted: &[&str],
) -> std::result::Result<Vec<Option<MatValue>>, MatError> {
    let mut found: Vec<Option<MatValue>> = vec![None; wanted.len()];
    for_each_wanted(bytes, wanted, |slot, header| {
        let name = header.name.clone();
        let mut budget = Budget { left: MAX_ARRAYS };
        let v = value(header, 0, &mut budget).map_err(|m| MatError::new(name, m))?;
        found[slot] = Some(v);
        Ok(())
    })?;
    Ok(found)
}

/// Reads the variables `wanted` (of any class: numeric, char, cell, struct) from the
/// MATLAB v5/v7 MAT-file at `path`, in the order asked; `None` for an absent one.
/// Errors name the file and the variable at fault (empty for the whole file); a v7.3
/// (HDF5) file is refused with an error that says so.
pub fn load_mat_variables(
    path: impl AsRef<Path>,
    wanted: &[&str],
) -> Result<Vec<Option<MatValue>>> {
    let path = path.as_ref();
    let bytes = crate::io::read_whole_file(path)?;
    read_mat_values(&bytes, wanted).map_err(|e| Error::data(path, e.variable, e.message))
}
