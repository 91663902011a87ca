//! File formats (docs/model.md §6): NumPy `.npz` archives ([`npz`], the datasets'
//! format) and MATLAB v5 MAT-files ([`mat`], the fly recordings), both read as
//! untrusted input; and atomic writing of any output file.

pub mod mat;
pub mod npz;

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The bytes of the file at `path`, read whole: its size is checked against the memory
/// limit ([`crate::limits`]) and the buffer allocated fallibly before anything is read,
/// so that a file too large for memory is an error naming it, not an abort.
pub(crate) fn read_whole_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let what = || format!("reading {}", path.display());
    crate::limits::check_dataset_bytes(&what(), Some(len))?;
    let len = usize::try_from(len).map_err(|_| Error::data(path, "", "too large a file"))?;
    // one byte more, so that reading to the end needs no second allocation
    let mut bytes = crate::limits::try_vec(what, len.saturating_add(1))?;
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// The text of the file at `path` (read as [`read_whole_file`] reads it): bytes that
/// are not UTF-8 are a data error naming the file (`variable`, empty for the whole
/// file) and the offset of the first invalid byte, not an I/O error.
pub(crate) fn read_text(path: &Path, variable: &str) -> Result<String> {
    String::from_utf8(read_whole_file(path)?).map_err(|e| {
        Error::data(
            path,
            variable,
            format!(
                "not UTF-8 text: invalid byte at offset {}",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Write `path` atomically: `write` fills a temporary file in the same directory, which is then renamed over `path`; on error the temporary file is removed and `path` is untouched.
///
/// The temporary file is named `.{file_name}.tmp-{pid}`; it is flushed and synced to disk
/// before the rename. Errors are reported against `path`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<()> {
    let tmp = temporary_path(path).map_err(|e| Error::io(path, e))?;
    let file = File::create(&tmp).map_err(|e| Error::io(path, e))?;
    let result = (|| -> io::Result<()> {
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_parent_directory(&tmp);
    Ok(())
}

/// `.{file_name}.tmp-{pid}` next to `path`.
fn temporary_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    Ok(match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(tmp_name),
        _ => PathBuf::from(tmp_name),
    })
}

/// Make the rename durable where the platform allows it (best effort).
fn sync_parent_directory(tmp: &Path) {
    #[cfg(unix)]
    {
        let dir = match tmp.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = tmp;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("out.txt");
        fs::write(&path, b"old").expect("test fixture");

        // A failing writer leaves the target untouched and no temporary file behind.
        let err = write_atomically(&path, |w| {
            use std::io::Write;
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.txt"), "{err}");
        assert!(err.to_string().contains("boom"), "{err}");
        assert_eq!(fs::read(&path).expect("test fixture"), b"old");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("test fixture")
            .map(|e| e.expect("test fixture").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);

        // A successful writer replaces the content.
        write_atomically(&path, |w| {
            use std::io::Write;
            w.write_all(b"new")
        })
        .expect("test fixture");
        assert_eq!(fs::read(&path).expect("test fixture"), b"new");
        assert_eq!(fs::read_dir(dir.path()).expect("test fixture").count(), 1);
    }

    #[test]
    fn atomic_write_to_missing_directory_fails() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("no/such/dir/out.txt");
        let err = write_atomically(&path, |_| Ok(())).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(!path.exists());
    }
}

/// Serde helpers for a value stored as CBOR in a hexadecimal string inside a JSON
/// file: CBOR keeps every `f64` bit for bit, NaN and ±∞ included, which JSON cannot.
pub mod cbor_hex {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `value` (`None` is never written: skip it) as hexadecimal CBOR.
    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        ciborium::into_writer(value, &mut bytes).map_err(S::Error::custom)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        serializer.serialize_str(&hex)
    }

    /// Reads what [`serialize`] wrote.
    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        let hex = String::deserialize(deserializer)?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return Err(D::Error::custom("expected hexadecimal CBOR"));
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(D::Error::custom)?;
        ciborium::from_reader(bytes.as_slice()).map_err(D::Error::custom)
    }
}
