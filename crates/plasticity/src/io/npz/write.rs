//! Writing an uncompressed `.npz` (npy format 1.0, data aligned to 64 bytes, as numpy
//! writes it), atomically.

use std::io::{self, Write};
use std::path::Path;

use ndarray::ArrayViewD;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::{Error, Result};

use super::{ALIGN, CHUNK, MAGIC};

/// One value to write.
#[derive(Debug, Clone)]
pub enum NpzValue<'a> {
    /// A float64 array, written as `<f8`.
    F64(ArrayViewD<'a, f64>),
    /// An int64 array, written as `<i8`.
    I64(ArrayViewD<'a, i64>),
    /// A string, written as a 0-d `<U{n}` array (trailing NUL characters are lost on
    /// reading, as with numpy).
    Str(&'a str),
}

/// Write an uncompressed .npz (zip STORED members `key.npy`, npy format version 1.0, header padded so data starts at a multiple of 64 bytes, as numpy does), atomically: write to a temporary file in the same directory, flush + sync, then rename over `path`. Entries are written in the given order. Strings are written as 0-d `<U{n}` with n = number of chars (n ≥ 1; an empty string uses `<U1` with a NUL).
///
/// A key given twice is an error, and nothing is written.
pub fn write_npz(path: impl AsRef<Path>, entries: &[(&str, NpzValue<'_>)]) -> Result<()> {
    let path = path.as_ref();
    for (i, (key, _)) in entries.iter().enumerate() {
        if entries[..i].iter().any(|(k, _)| k == key) {
            return Err(Error::data(path, *key, "the key is given twice"));
        }
    }
    crate::io::write_atomically(path, |w| {
        let mut zip = ZipWriter::new(w);
        for (key, value) in entries {
            let (descr, shape, items, item_bytes) = match value {
                NpzValue::F64(a) => ("<f8".to_string(), a.shape().to_vec(), a.len(), 8),
                NpzValue::I64(a) => ("<i8".to_string(), a.shape().to_vec(), a.len(), 8),
                NpzValue::Str(s) => {
                    let n = s.chars().count().max(1);
                    (format!("<U{n}"), Vec::new(), n, 4)
                }
            };
            let header = npy_header(&descr, &shape);
            let size = (items as u64)
                .checked_mul(item_bytes)
                .and_then(|d| d.checked_add(header.len() as u64))
                .ok_or_else(|| io::Error::other(format!("'{key}' is too large")))?;
            let options = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Stored)
                .large_file(size >= u64::from(u32::MAX));
            zip.start_file(format!("{key}.npy"), options)?;
            zip.write_all(&header)?;
            match value {
                NpzValue::F64(a) => write_items(&mut zip, a, |x| x.to_le_bytes())?,
                NpzValue::I64(a) => write_items(&mut zip, a, |x| x.to_le_bytes())?,
                NpzValue::Str(s) => {
                    let mut data = Vec::with_capacity(items * 4);
                    for c in s.chars() {
                        data.extend_from_slice(&u32::from(c).to_le_bytes());
                    }
                    data.resize(items * 4, 0);
                    zip.write_all(&data)?;
                }
            }
        }
        zip.finish()?;
        Ok(())
    })
}

/// Write the elements of `a` in C order, little-endian, in chunks.
fn write_items<T: Copy>(
    w: &mut impl Write,
    a: &ArrayViewD<'_, T>,
    to_le: impl Fn(T) -> [u8; 8],
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(CHUNK);
    let mut push = |x: T, buf: &mut Vec<u8>| -> io::Result<()> {
        buf.extend_from_slice(&to_le(x));
        if buf.len() >= CHUNK {
            w.write_all(buf)?;
            buf.clear();
        }
        Ok(())
    };
    match a.as_slice() {
        Some(s) => s.iter().try_for_each(|&x| push(x, &mut buf))?,
        None => a.iter().try_for_each(|&x| push(x, &mut buf))?,
    }
    w.write_all(&buf)
}

/// A version 1.0 `.npy` header (version 2.0 if it is too long for 1.0), padded with
/// spaces and a newline so that the data starts at a multiple of [`ALIGN`] bytes.
fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        dims => {
            let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // As numpy: pad = ALIGN - (prefix + len(dict) + 1) % ALIGN spaces, then '\n'.
    let padded_len = |prefix: usize| {
        let unpadded = prefix + dict.len() + 1;
        dict.len() + (ALIGN - unpadded % ALIGN) + 1
    };
    let (version, len_field) = match u16::try_from(padded_len(10)) {
        Ok(n) => (1u8, n.to_le_bytes().to_vec()),
        Err(_) => (2u8, (padded_len(12) as u32).to_le_bytes().to_vec()),
    };
    let padded = if version == 1 {
        padded_len(10)
    } else {
        padded_len(12)
    };
    let mut out = Vec::with_capacity(12 + padded);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    out.extend_from_slice(&len_field);
    out.extend_from_slice(dict.as_bytes());
    let spaces = padded - dict.len() - 1;
    out.extend(std::iter::repeat_n(b' ', spaces));
    out.push(b'\n');
    out
}
