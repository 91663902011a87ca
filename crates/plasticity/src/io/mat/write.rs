//! A writer of MATLAB v5 MAT-files holding real double matrices (what
//! `plasticity convert-fly` writes: a fly's `X`, `Y` and `R`), readable by MATLAB,
//! scipy.io.loadmat and this crate's reader. Uncompressed, little-endian.

use std::io::{self, Write};

use super::{MI_DOUBLE, MI_INT32, MI_INT8, MI_MATRIX, MI_UINT32};

/// `mxDOUBLE_CLASS`.
const MX_DOUBLE: u32 = 6;

/// A double matrix to write: name, rows, columns and column-major values
/// (`values.len() == rows * cols`).
pub struct DoubleMatrix<'a> {
    /// The variable's name (ASCII, at most 63 characters for MATLAB).
    pub name: &'a str,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Column-major values.
    pub values: &'a [f64],
}

/// One data element: tag, data, padding to 8 bytes.
fn element(out: &mut Vec<u8>, data_type: u32, data: &[u8]) -> io::Result<()> {
    let len = u32::try_from(data.len())
        .map_err(|_| io::Error::other("a MAT-file element over 4 GiB cannot be written"))?;
    out.extend_from_slice(&data_type.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(8), 0);
    Ok(())
}

/// Writes a MAT-file (header and one `miMATRIX` element per matrix) to `w`. Fails
/// (an `InvalidInput` error) if a matrix's values do not match its dimensions or a
/// dimension exceeds MATLAB's `int32`.
pub fn write_double_matrices(w: &mut impl Write, matrices: &[DoubleMatrix<'_>]) -> io::Result<()> {
    let mut header = b"MATLAB 5.0 MAT-file, written by plasticity (Rust)".to_vec();
    header.resize(116, b' ');
    header.extend_from_slice(&[0u8; 8]); // no subsystem data
    header.extend_from_slice(&0x0100u16.to_le_bytes());
    header.extend_from_slice(b"IM");
    w.write_all(&header)?;
    for m in matrices {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        if m.rows.checked_mul(m.cols) != Some(m.values.len()) {
            return Err(bad(format!(
                "matrix '{}': {} values for {} × {}",
                m.name,
                m.values.len(),
                m.rows,
                m.cols
            )));
        }
        let dim = |d: usize| {
            i32::try_from(d)
                .map_err(|_| bad(format!("matrix '{}': dimension {d} too large", m.name)))
        };
        let mut body = Vec::new();
        element(
            &mut body,
            MI_UINT32,
            &[MX_DOUBLE as u8, 0, 0, 0, 0, 0, 0, 0],
        )?;
        let mut dims = dim(m.rows)?.to_le_bytes().to_vec();
        dims.extend_from_slice(&dim(m.cols)?.to_le_bytes());
        element(&mut body, MI_INT32, &dims)?;
        element(&mut body, MI_INT8, m.name.as_bytes())?;
        let data: Vec<u8> = m.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        element(&mut body, MI_DOUBLE, &data)?;
        let mut out = Vec::with_capacity(body.len() + 8);
        element(&mut out, MI_MATRIX, &body)?;
        w.write_all(&out)?;
    }
    Ok(())
}
