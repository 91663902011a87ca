//! A reader of MATLAB v5/v7 MAT-files (docs/model.md §6): the variables asked for, from
//! the bytes of a file, with every size checked (the file is untrusted input). Numeric
//! variables are converted to `f64` ([`MatArray`]); [`load_mat_variables`] also reads
//! char, cell and struct arrays ([`MatValue`], in [`value`]).
//!
//! A MAT-file is a 128-byte header (text, version 0x0100 and the endian indicator `IM`)
//! followed by tagged elements: an 8-byte tag (data type, byte count; or the 4-byte
//! small-element form) and its data padded to 8 bytes. A variable is an `miMATRIX`
//! element (array flags, dimensions, name, then its data), stored plainly or inside an
//! `miCOMPRESSED` (zlib) element. A compressed variable may inflate to at most 256 MiB
//! and at most [`MAX_INFLATE_RATIO`] times its compressed size, and dimensions whose
//! product does not match the length of the data are refused before anything is
//! allocated. A MATLAB v7.3 file (HDF5) is refused with an error that says so.

use std::io::Read;

use flate2::read::ZlibDecoder;

mod header;
pub mod value;
pub mod write;

use header::{check_header, HEADER};

pub use value::{load_mat_variables, MatStruct, MatValue, MAX_ARRAYS, MAX_DEPTH};

/// A compressed `.mat` variable may inflate to at most this many times its compressed
/// size (deflate's own limit is about 1032:1).
pub const MAX_INFLATE_RATIO: usize = 1032;

/// A compressed `.mat` variable may inflate to at most this many bytes.
const MAX_INFLATED_BYTES: usize = 256 << 20;

pub(crate) const MI_INT8: u32 = 1;
pub(crate) const MI_UINT8: u32 = 2;
pub(crate) const MI_INT16: u32 = 3;
pub(crate) const MI_UINT16: u32 = 4;
pub(crate) const MI_INT32: u32 = 5;
pub(crate) const MI_UINT32: u32 = 6;
pub(crate) const MI_SINGLE: u32 = 7;
pub(crate) const MI_DOUBLE: u32 = 9;
pub(crate) const MI_INT64: u32 = 12;
pub(crate) const MI_UINT64: u32 = 13;
pub(crate) const MI_MATRIX: u32 = 14;
pub(crate) const MI_COMPRESSED: u32 = 15;
pub(crate) const MI_UTF8: u32 = 16;

const MX_SPARSE: u8 = 5;
const MX_OPAQUE: u8 = 17;

/// The name of a MATLAB array class, for errors.
fn class_name(class: u8) -> String {
    match class {
        1 => "cell".into(),
        2 => "struct".into(),
        3 => "object".into(),
        4 => "char".into(),
        5 => "sparse".into(),
        6 => "double".into(),
        7 => "single".into(),
        8 => "int8".into(),
        9 => "uint8".into(),
        10 => "int16".into(),
        11 => "uint16".into(),
        12 => "int32".into(),
        13 => "uint32".into(),
        14 => "int64".into(),
        15 => "uint64".into(),
        16 => "function handle".into(),
        17 => "opaque (MATLAB object)".into(),
        other => format!("unknown (class {other})"),
    }
}

/// A numeric variable converted to `f64`, column-major as MATLAB stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct MatArray {
    /// Dimensions.
    pub dims: Vec<usize>,
    /// The values, column-major.
    pub values: Vec<f64>,
}

/// An error inside a MAT-file: the variable, when known (else empty), and what is wrong.
#[derive(Debug)]
pub(crate) struct MatError {
    pub(crate) variable: String,
    pub(crate) message: String,
}

impl MatError {
    fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        MatError {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

pub(crate) fn u32_at(bytes: &[u8], pos: usize) -> Option<u32> {
    let b = bytes.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Walks the data elements of a byte slice; never reads past its end.
pub(crate) struct Elements<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Elements<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Elements { bytes, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The next element's data type and data. Elements are padded to 8 bytes, except
    /// `miCOMPRESSED` ones; small elements (≤ 4 bytes) sit in their 8-byte tag.
    pub(crate) fn next_element(&mut self) -> std::result::Result<(u32, &'a [u8]), String> {
        let rest = self.remaining();
        if rest < 8 {
            return Err(format!(
                "truncated: a data element needs an 8-byte tag, {rest} bytes remain"
            ));
        }
        let first = u32_at(self.bytes, self.pos).unwrap_or(0);
        if first >> 16 != 0 {
            let len = (first >> 16) as usize;
            if len > 4 {
                return Err(format!(
                    "a small data element claims {len} bytes, at most 4 fit in its tag"
                ));
            }
            let start = self.pos + 4;
            let data = self.bytes.get(start..start + len).unwrap_or(&[]);
            self.pos += 8;
            return Ok((first & 0xffff, data));
        }
        let len = u32_at(self.bytes, self.pos + 4).unwrap_or(0) as usize;
        if len > rest - 8 {
            return Err(format!(
                "truncated: a data element (type {first}) claims {len} bytes, {} remain",
                rest - 8
            ));
        }
        let start = self.pos + 8;
        let data = self.bytes.get(start..start + len).unwrap_or(&[]);
        let skip = if first == MI_COMPRESSED {
            len
        } else {
            len.next_multiple_of(8)
        };
        self.pos = start.saturating_add(skip).min(self.bytes.len());
        Ok((first, data))
    }
}

/// The start of a matrix element (after its tag): class, flags, dimensions, name.
struct MatrixHeader<'a> {
    class: u8,
    complex: bool,
    name: String,
    dims: Vec<usize>,
    rest: Elements<'a>,
}

/// Parses array flags, dimensions and name. `Ok(None)` for an opaque object, which
/// has no dimensions or name of the usual form (and is never a fly variable).
fn matrix_header(payload: &[u8]) -> std::result::Result<Option<MatrixHeader<'_>>, MatError> {
    let mut elements = Elements::new(payload);
    let plain = |m: String| MatError::new("", m);
    let (flags_type, flags) = elements.next_element().map_err(plain)?;
    if flags_type != MI_UINT32 || flags.len() != 8 {
        return Err(plain(format!(
            "expected array flags (miUINT32, 8 bytes), found data type {flags_type} with {} bytes",
            flags.len()
        )));
    }
    let word = u32_at(flags, 0).unwrap_or(0);
    let class = (word & 0xff) as u8;
    if class == MX_OPAQUE {
        return Ok(None);
    }
    let (dims_type, dims) = elements.next_element().map_err(plain)?;
    let (name_type, name) = elements.next_element().map_err(plain)?;
    let name = if name_type == MI_INT8 || name_type == MI_UTF8 {
        String::from_utf8_lossy(name)
            .trim_end_matches('\0')
            .to_string()
    } else {
        return Err(plain(format!(
            "expected an array name (miINT8), found data type {name_type}"
        )));
    };
    if dims_type != MI_INT32 || dims.len() % 4 != 0 || dims.len() < 8 {
        return Err(MatError::new(
            name,
            format!(
                "expected dimensions (miINT32, at least 2), found data type {dims_type} with {} bytes",
                dims.len()
            ),
        ));
    }
    let mut parsed = Vec::with_capacity(dims.len() / 4);
    for chunk in dims.chunks_exact(4) {
        let d = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        match usize::try_from(d) {
            Ok(d) => parsed.push(d),
            Err(_) => {
                return Err(MatError::new(name, format!("negative dimension {d}")));
            }
        }
    }
    Ok(Some(MatrixHeader {
        class,
        complex: word & 0x0800 != 0,
        name,
        dims: parsed,
        rest: elements,
    }))
}

/// The name of a (possibly truncated) matrix, if its header can be read; for errors.
fn partial_name(payload: &[u8]) -> String {
    match matrix_header(payload) {
        Ok(Some(header)) => header.name,
        _ => String::new(),
    }
}

/// The name of the variable of a top-level element cut short (plain or compressed),
/// if its header survived; for errors.
fn truncated_name(bytes: &[u8], offset: usize) -> String {
    let Some(rest) = bytes.get(offset.saturating_add(8)..) else {
        return String::new();
    };
    if u32_at(bytes, offset) == Some(MI_COMPRESSED) {
        match inflate(rest) {
            Ok(out) | Err((_, out)) => out.get(8..).map(partial_name).unwrap_or_default(),
        }
    } else {
        partial_name(rest)
    }
}

pub(crate) fn format_dims(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" × ")
}

/// The real values of a numeric matrix, whatever the storage type, checked against
/// its dimensions before anything is allocated.
fn numeric_values(header: MatrixHeader<'_>) -> std::result::Result<MatArray, MatError> {
    let MatrixHeader {
        class,
        complex,
        name,
        dims,
        mut rest,
    } = header;
    let fail = |m: String| MatError::new(name.as_str(), m);
    if !(6..=15).contains(&class) {
        let what = if class == MX_SPARSE {
            "a sparse matrix".to_string()
        } else {
            format!("a {} array", class_name(class))
        };
        return Err(fail(format!("expected a full numeric array, found {what}")));
    }
    if complex {
        return Err(fail("expected real values, found a complex array".into()));
    }
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| fail(format!("dimensions {} are too large", format_dims(&dims))))?;
    let (data_type, data) = if rest.remaining() == 0 && count == 0 {
        (MI_DOUBLE, &[][..])
    } else {
        rest.next_element().map_err(&fail)?
    };
    let size = match data_type {
        MI_INT8 | MI_UINT8 => 1,
        MI_INT16 | MI_UINT16 => 2,
        MI_INT32 | MI_UINT32 | MI_SINGLE => 4,
        MI_DOUBLE | MI_INT64 | MI_UINT64 => 8,
        other => {
            return Err(fail(format!(
                "unsupported storage type {other} for numeric values"
            )))
        }
    };
    if data.len() % size != 0 || data.len() / size != count {
        return Err(fail(format!(
            "dimensions {} need {count} values, but the data holds {} bytes of {size}-byte values",
            format_dims(&dims),
            data.len()
        )));
    }
    let values = data
        .chunks_exact(size)
        .map(|c| match data_type {
            MI_INT8 => f64::from(c[0] as i8),
            MI_UINT8 => f64::from(c[0]),
            MI_INT16 => f64::from(i16::from_le_bytes([c[0], c[1]])),
            MI_UINT16 => f64::from(u16::from_le_bytes([c[0], c[1]])),
            MI_INT32 => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            MI_UINT32 => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            MI_SINGLE => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            MI_INT64 => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64,
            MI_UINT64 => {
                u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64
            }
            _ => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Ok(MatArray { dims, values })
}

/// Inflates a `miCOMPRESSED` element, which holds one matrix element: returns that
/// element (tag included). The size its tag claims is checked against the caps before
/// anything is allocated. On failure, also returns what was inflated (for naming the
/// variable).
fn inflate(compressed: &[u8]) -> std::result::Result<Vec<u8>, (String, Vec<u8>)> {
    let cap = MAX_INFLATED_BYTES.min(
        compressed
            .len()
            .saturating_mul(MAX_INFLATE_RATIO)
            .saturating_add(1024),
    );
    let mut decoder = ZlibDecoder::new(compressed);
    let mut tag = [0u8; 8];
    if let Err(e) = decoder.read_exact(&mut tag) {
        return Err((
            format!("compressed data does not inflate to a data element: {e}"),
            Vec::new(),
        ));
    }
    let data_type = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
    let len = u32::from_le_bytes([tag[4], tag[5], tag[6], tag[7]]) as usize;
    if data_type != MI_MATRIX {
        return Err((
            format!("compressed data holds data type {data_type}, expected a matrix (14)"),
            Vec::new(),
        ));
    }
    let total = len.saturating_add(8);
    if total > cap {
        return Err((
            format!(
                "a compressed variable claims {total} bytes, more than the {cap} allowed for {} compressed bytes",
                compressed.len()
            ),
            Vec::new(),
        ));
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&tag);
    if let Err(e) = (&mut decoder).take(len as u64).read_to_end(&mut out) {
        return Err((format!("compressed data is corrupt: {e}"), out));
    }
    if out.len() < total {
        return Err((
            format!(
                "truncated: compressed data inflates to {} of the {total} bytes its variable claims",
                out.len()
            ),
            out,
        ));
    }
    // the end of the stream, which verifies its checksum (any padding is ignored)
    if let Err(e) = std::io::copy(&mut (&mut decoder).take(1 << 16), &mut std::io::sink()) {
        return Err((format!("compressed data is corrupt: {e}"), out));
    }
    Ok(out)
}

/// Walks the variables of a MAT-file's bytes and calls `take(slot, header)` for each
/// whose name is `wanted[slot]`; other variables are skipped (compressed ones are
/// inflated, within the caps, to read their names). A wanted variable that appears
/// twice is an error.
fn for_each_wanted(
    bytes: &[u8],
    wanted: &[&str],
    mut take: impl FnMut(usize, MatrixHeader<'_>) -> std::result::Result<(), MatError>,
) -> std::result::Result<(), MatError> {
    check_header(bytes)?;
    let mut seen = vec![false; wanted.len()];
    let mut elements = Elements { bytes, pos: HEADER };
    let mut index = 0usize;
    while elements.remaining() > 0 {
        let offset = elements.pos;
        if elements.remaining() < 8 && bytes[offset..].iter().all(|&b| b == 0) {
            break; // trailing padding
        }
        let at = move |m: &str| format!("element {index} at byte {offset}: {m}");
        let (data_type, data) = elements
            .next_element()
            .map_err(|m| MatError::new(truncated_name(bytes, offset), at(&m)))?;
        let inflated;
        let payload = match data_type {
            MI_MATRIX => data,
            MI_COMPRESSED => {
                inflated = inflate(data).map_err(|(m, partial)| {
                    let name = partial.get(8..).map(partial_name).unwrap_or_default();
                    MatError::new(name, at(&m))
                })?;
                &inflated[8..]
            }
            _ => &[][..], // not a variable: skipped
        };
        index += 1;
        if payload.is_empty() {
            continue;
        }
        let Some(header) = matrix_header(payload).map_err(|e| MatError {
            message: at(&e.message),
            ..e
        })?
        else {
            continue;
        };
        let Some(slot) = wanted.iter().position(|w| *w == header.name) else {
            continue;
        };
        if seen[slot] {
            return Err(MatError::new(
                header.name,
                "the variable appears twice in the file",
            ));
        }
        seen[slot] = true;
        take(slot, header)?;
    }
    Ok(())
}

/// Reads the numeric variables `wanted` from the bytes of a MAT-file; other variables
/// are skipped. A wanted variable that is absent is `None`; one that appears twice is
/// an error.
pub(crate) fn read_mat<const N: usize>(
    bytes: &[u8],
    wanted: [&str; N],
) -> std::result::Result<[Option<MatArray>; N], MatError> {
    let mut found: [Option<MatArray>; N] = std::array::from_fn(|_| None);
    for_each_wanted(bytes, &wanted, |slot, header| {
        found[slot] = Some(numeric_values(header)?);
        Ok(())
    })?;
    Ok(found)
}
