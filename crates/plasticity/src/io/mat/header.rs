//! The 128-byte header of a MAT-file: what is read (v5/v7, little-endian) and what is
//! refused with a message that says why (v7.3/HDF5, big-endian, other versions).

use super::MatError;

/// The byte where a MAT-file's data elements start, after its 128-byte header.
pub(super) const HEADER: usize = 128;

/// The signature of an HDF5 file, which a MATLAB v7.3 MAT-file is (at byte 512, after
/// its 512-byte user block that holds the MAT header text).
const HDF5_SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";

/// The message for a MATLAB v7.3 (HDF5) file.
const V73_MESSAGE: &str = "a MATLAB v7.3 MAT-file (HDF5) is not supported: save it again with \
`save(..., '-v7')` (or '-v6'), or with scipy.io.savemat";

/// Checks the 128-byte header: a little-endian v5/v7 MAT-file (version 0x0100, `IM`).
/// A v7.3 file (its header text says "MATLAB 7.3", its version is 0x0200, or it has
/// an HDF5 signature at byte 512) is refused with a message that says so.
pub(super) fn check_header(bytes: &[u8]) -> std::result::Result<(), MatError> {
    if bytes.is_empty() {
        return Err(MatError::new(
            "",
            "the file is empty, expected a MATLAB v5 MAT-file",
        ));
    }
    let text = &bytes[..bytes.len().min(116)];
    let hdf5 = bytes.get(512..520) == Some(HDF5_SIGNATURE) || bytes.starts_with(HDF5_SIGNATURE);
    let version = bytes
        .get(124..126)
        .map(|v| u16::from_le_bytes([v[0], v[1]]));
    if text.starts_with(b"MATLAB 7.3") || hdf5 || version == Some(0x0200) {
        return Err(MatError::new("", V73_MESSAGE));
    }
    if bytes.len() < HEADER {
        return Err(MatError::new(
            "",
            format!(
                "not a MATLAB v5 MAT-file: {} bytes, shorter than its 128-byte header",
                bytes.len()
            ),
        ));
    }
    match &bytes[126..128] {
        b"IM" => {}
        b"MI" => {
            return Err(MatError::new(
                "",
                "a big-endian MAT-file is not supported (only little-endian)",
            ))
        }
        _ => {
            return Err(MatError::new(
                "",
                "not a MATLAB v5 MAT-file (no 'IM' endian indicator at byte 126 of the header)",
            ))
        }
    }
    match version {
        Some(0x0100) => Ok(()),
        other => Err(MatError::new(
            "",
            format!(
                "unsupported MAT-file version 0x{:04x}, expected 0x0100 (v5/v7)",
                other.unwrap_or(0)
            ),
        )),
    }
}
