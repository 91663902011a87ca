//! NumPy `.npz` archives: a zip file of `.npy` arrays, one member `key.npy` per variable.
//!
//! The reader is our own and is meant for untrusted files: it never panics, and it never
//! allocates more than the file justifies. [`NpzFile::open`] reads the zip directory and
//! every member's `.npy` header, and checks that each member's declared size matches its
//! shape and dtype; the data of a member is read (and decompressed, and its CRC checked)
//! only when it is asked for, through a reader that cannot go past the declared size.
//!
//! Supported dtypes: `<f8` (float64), `<i8` (int64) and 0-d unicode strings `<U{n}`
//! (what `np.savez(metadata=np.array(json_text))` writes). Arrays may be stored in C or
//! Fortran order; they are always returned in C (standard) order.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Mutex;

use zip::ZipArchive;

mod header;
mod headers;
mod read;
mod stream;
#[cfg(test)]
mod tests;
mod types;
mod write;

pub use stream::F64Stream;
pub use write::{write_npz, NpzValue};

use types::ArrayInfo;

/// The largest file [`NpzFile::open`] accepts: 64 GiB.
pub const MAX_FILE_BYTES: u64 = 64 << 30;
/// The largest declared uncompressed size of one member: 8 GiB.
pub const MAX_MEMBER_BYTES: u64 = 8 << 30;

/// The largest `.npy` header accepted (numpy's own reader refuses more than 10 000 bytes).
const MAX_HEADER_BYTES: u64 = 1 << 16;
/// The deepest bracket nesting accepted in a header (the parser recurses).
const MAX_HEADER_NESTING: usize = 32;
/// Deflate cannot expand data by more than about 1032:1; used to bound capacity hints.
const MAX_EXPANSION: u64 = 1032;
/// The variable named in errors about the whole file.
const FILE_VARIABLE: &str = "(file)";
/// `.npy` magic string.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Data in files we write starts at a multiple of this many bytes, as numpy does.
const ALIGN: usize = 64;
/// Chunk size for reading and writing data (a multiple of every item size used).
const CHUNK: usize = 1 << 16;

/// An opened .npz file: all members read and validated lazily or eagerly (your choice), with the path kept for error messages.
///
/// Here the zip directory and every member's `.npy` header are read and validated by
/// [`NpzFile::open`]; member data is read when requested. The file stays open for the
/// lifetime of the value.
pub struct NpzFile {
    path: PathBuf,
    members: BTreeMap<String, Member>,
    archive: Mutex<ZipArchive<BufReader<File>>>,
}

/// One member of the archive.
struct Member {
    /// Index in the zip directory.
    index: usize,
    /// `None` for a member whose name does not end in `.npy` (not an array).
    array: Option<ArrayInfo>,
}

impl fmt::Debug for NpzFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NpzFile")
            .field("path", &self.path)
            .field("keys", &self.keys())
            .finish()
    }
}
