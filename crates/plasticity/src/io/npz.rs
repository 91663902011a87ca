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
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use py_literal::Value;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::{Error, Result};

mod headers;
mod stream;
pub use stream::F64Stream;

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

/// What a member's `.npy` header says, validated against its declared size.
struct ArrayInfo {
    descr: Descr,
    shape: Vec<usize>,
    fortran_order: bool,
    /// Bytes before the data (magic, version, header length, header).
    header_bytes: u64,
    /// Bytes of data after the header (declared size minus `header_bytes`).
    data_bytes: u64,
    /// Compressed size, used only to bound capacity hints.
    compressed_bytes: u64,
}

/// A `.npy` dtype descriptor.
#[derive(Debug, Clone, PartialEq)]
enum Descr {
    /// A type string such as `<f8`.
    Simple(String),
    /// Anything else (a structured dtype's list), formatted for messages.
    Other(String),
}

/// A type string split into its parts: `<f8` is `('<', 'f', Some(8))`.
struct TypeString {
    byte_order: char,
    kind: char,
    /// The number after the kind (bytes, or characters for `U`).
    size: Option<u64>,
}

impl TypeString {
    fn parse(s: &str) -> Option<TypeString> {
        let mut chars = s.chars();
        let first = chars.next()?;
        let (byte_order, kind) = if "<>|=".contains(first) {
            (first, chars.next()?)
        } else {
            ('|', first)
        };
        if !kind.is_ascii_alphabetic() {
            return None;
        }
        let rest = chars.as_str();
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, tail) = rest.split_at(digits_end);
        if !(tail.is_empty() || tail.starts_with('[')) {
            return None;
        }
        let size = if digits.is_empty() {
            None
        } else {
            Some(digits.parse().ok()?)
        };
        Some(TypeString {
            byte_order,
            kind,
            size,
        })
    }

    /// Bytes per element, where known.
    fn item_bytes(&self) -> Option<u64> {
        match self.kind {
            'U' => self.size?.checked_mul(4),
            'O' => None,
            _ => self.size,
        }
    }
}

impl Descr {
    /// Bytes per element, where known.
    fn item_bytes(&self) -> Option<u64> {
        match self {
            Descr::Simple(s) => TypeString::parse(s)?.item_bytes(),
            Descr::Other(_) => None,
        }
    }

    /// The number of characters of a little-endian unicode type `<U{n}`.
    fn unicode_chars(&self) -> Option<u64> {
        match self {
            Descr::Simple(s) => {
                let t = TypeString::parse(s)?;
                (t.byte_order == '<' && t.kind == 'U').then_some(t.size?)
            }
            Descr::Other(_) => None,
        }
    }
}

/// A readable description of a dtype, e.g. "int32 (<i4)".
impl fmt::Display for Descr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Descr::Other(s) => return write!(f, "a structured dtype ({s})"),
            Descr::Simple(s) => s,
        };
        let Some(t) = TypeString::parse(s) else {
            return write!(f, "an unknown dtype ({s})");
        };
        let bits = t.size.map(|n| n.saturating_mul(8)).unwrap_or(0);
        let size = t.size.unwrap_or(0);
        let name = match t.kind {
            'f' => format!("float{bits}"),
            'i' => format!("int{bits}"),
            'u' => format!("uint{bits}"),
            'c' => format!("complex{bits}"),
            'b' => "bool".to_string(),
            'U' => format!("unicode string of {size} characters"),
            'S' => format!("byte string of {size} bytes"),
            'O' => "Python object".to_string(),
            'M' => "datetime64".to_string(),
            'm' => "timedelta64".to_string(),
            'V' => format!("raw data of {size} bytes"),
            _ => "unknown dtype".to_string(),
        };
        let big = t.byte_order == '>' && (t.kind == 'U' || size > 1);
        if big {
            write!(f, "big-endian {name} ({s})")
        } else {
            write!(f, "{name} ({s})")
        }
    }
}

/// A `.npy` header as parsed.
struct NpyHeader {
    descr: Descr,
    shape: Vec<usize>,
    fortran_order: bool,
    /// Bytes before the data.
    total_bytes: u64,
}

impl fmt::Debug for NpzFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NpzFile")
            .field("path", &self.path)
            .field("keys", &self.keys())
            .finish()
    }
}

impl NpzFile {
    /// Open `path`, read its zip directory and validate every `.npy` member's header
    /// against the member's declared size.
    ///
    /// Errors: a missing or unreadable file ([`Error::Io`]); an empty file, a file that is
    /// not a zip archive, a file over 64 GiB, or a member that is corrupt, over
    /// [`MAX_MEMBER_BYTES`], or whose size disagrees with its shape ([`Error::Data`],
    /// naming the member's key); arrays that together exceed the memory limit
    /// ([`crate::limits`], [`Error::TooLarge`]). Members with a dtype this reader does
    /// not decode are accepted here and refused when asked for.
    pub fn open(path: impl AsRef<Path>) -> Result<NpzFile> {
        let file = Self::open_for_streaming(path)?;
        file.check_memory_limit()?;
        Ok(file)
    }

    /// [`NpzFile::open`] without the memory limit on the arrays' total size, for
    /// readers that never hold the arrays whole ([`NpzFile::f64_stream`]); every
    /// other check is the same.
    pub fn open_for_streaming(path: impl AsRef<Path>) -> Result<NpzFile> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            return Err(Error::io(
                &path,
                io::Error::new(io::ErrorKind::InvalidInput, "is a directory, not a file"),
            ));
        }
        let file_error = |message: String| Error::data(&path, FILE_VARIABLE, message);
        if meta.len() == 0 {
            return Err(file_error(
                "not a valid .npz (zip) archive: the file is empty".to_string(),
            ));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(file_error(format!(
                "the file is {} bytes, more than the limit of {MAX_FILE_BYTES} bytes (64 GiB)",
                meta.len()
            )));
        }
        let mut archive = ZipArchive::new(BufReader::new(file))
            .map_err(|e| file_error(format!("not a valid .npz (zip) archive: {e}")))?;

        let mut members = BTreeMap::new();
        for index in 0..archive.len() {
            let name = archive
                .name_for_index(index)
                .map(str::to_string)
                .unwrap_or_default();
            if name.ends_with('/') {
                continue; // a directory entry
            }
            let (key, is_npy) = match name.strip_suffix(".npy") {
                Some(key) => (key.to_string(), true),
                None => (name.clone(), false),
            };
            let member_error = |message: String| Error::data(&path, key.as_str(), message);
            if members.contains_key(&key) {
                return Err(member_error(format!(
                    "the archive has more than one member for this key (member '{name}')"
                )));
            }
            let array = if is_npy {
                let mut member = archive
                    .by_index(index)
                    .map_err(|e| member_error(format!("cannot read member '{name}': {e}")))?;
                let declared = member.size();
                if declared > MAX_MEMBER_BYTES {
                    return Err(member_error(format!(
                        "member '{name}' declares {declared} bytes, more than the limit of \
                         {MAX_MEMBER_BYTES} bytes (8 GiB)"
                    )));
                }
                let compressed_bytes = member.compressed_size();
                let mut limited = (&mut member).take(declared);
                let header = read_npy_header(&mut limited, declared).map_err(|e| match e {
                    HeaderError::Data(m) => member_error(format!("member '{name}': {m}")),
                    HeaderError::Io(e) => Error::io(&path, e),
                })?;
                let data_bytes = declared - header.total_bytes;
                if let Some(item) = header.descr.item_bytes() {
                    check_data_size(&header.shape, item, data_bytes, &header.descr)
                        .map_err(member_error)?;
                }
                Some(ArrayInfo {
                    descr: header.descr,
                    shape: header.shape,
                    fortran_order: header.fortran_order,
                    header_bytes: header.total_bytes,
                    data_bytes,
                    compressed_bytes,
                })
            } else {
                None
            };
            members.insert(key, Member { index, array });
        }
        Ok(NpzFile {
            path,
            members,
            archive: Mutex::new(archive),
        })
    }

    /// Bytes of all the arrays' data together (`None` past `u64`).
    fn total_data_bytes(&self) -> Option<u64> {
        self.members
            .values()
            .filter_map(|m| m.array.as_ref())
            .try_fold(0u64, |acc, a| acc.checked_add(a.data_bytes))
    }

    /// The file's path, as given to [`NpzFile::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keys (member names without `.npy`), sorted.
    pub fn keys(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    /// Whether the file has a member for `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.members.contains_key(key)
    }

    /// f64 array with exactly `ndim` dimensions; error if missing (message lists the keys present), wrong dtype, wrong ndim.
    pub fn f64_array(&self, key: &str, ndim: usize) -> Result<ArrayD<f64>> {
        let (index, info) = self.array_info(key)?;
        self.expect_descr(key, info, "<f8", "float64 (<f8)")?;
        self.expect_ndim(key, info, ndim)?;
        let data = self.read_items(key, index, info, 8, |b| f64::from_le_bytes(bytes8(b)))?;
        self.build_array(key, info, data)
    }

    /// i64 array with exactly `ndim` dimensions; error if missing (message lists the keys
    /// present), wrong dtype, wrong ndim.
    pub fn i64_array(&self, key: &str, ndim: usize) -> Result<ArrayD<i64>> {
        let (index, info) = self.array_info(key)?;
        self.expect_descr(key, info, "<i8", "int64 (<i8)")?;
        self.expect_ndim(key, info, ndim)?;
        let data = self.read_items(key, index, info, 8, |b| i64::from_le_bytes(bytes8(b)))?;
        self.build_array(key, info, data)
    }

    /// a 0-d unicode string array (what `np.savez(metadata=np.array(json_text))` writes)
    ///
    /// Trailing NUL characters are removed, as numpy does.
    pub fn string(&self, key: &str) -> Result<String> {
        let (index, info) = self.array_info(key)?;
        if info.descr.unicode_chars().is_none() {
            return Err(self.error(
                key,
                format!("expected a unicode string (<U…), found {}", info.descr),
            ));
        }
        if !info.shape.is_empty() {
            return Err(self.error(
                key,
                format!(
                    "expected a single string (a 0-d array), found an array of shape {:?}",
                    info.shape
                ),
            ));
        }
        let code_points =
            self.read_items(key, index, info, 4, |b| u32::from_le_bytes(bytes4(b)))?;
        let mut text = String::with_capacity(code_points.len());
        for c in code_points {
            match char::from_u32(c) {
                Some(c) => text.push(c),
                None => {
                    return Err(self.error(
                        key,
                        format!("the string holds an invalid code point 0x{c:X}"),
                    ))
                }
            }
        }
        let kept = text.trim_end_matches('\0').len();
        text.truncate(kept);
        Ok(text)
    }

    fn error(&self, key: &str, message: impl Into<String>) -> Error {
        Error::data(&self.path, key, message)
    }

    /// The member for `key`, which must be a `.npy` array.
    fn array_info(&self, key: &str) -> Result<(usize, &ArrayInfo)> {
        let Some(member) = self.members.get(key) else {
            let message = if self.members.is_empty() {
                "missing; the file has no keys".to_string()
            } else {
                let keys: Vec<&str> = self.members.keys().map(String::as_str).collect();
                format!("missing; the file has keys: {}", keys.join(", "))
            };
            return Err(self.error(key, message));
        };
        match &member.array {
            Some(info) => Ok((member.index, info)),
            None => Err(self.error(
                key,
                "the member is not a .npy array (its name does not end in .npy)",
            )),
        }
    }

    fn expect_descr(&self, key: &str, info: &ArrayInfo, descr: &str, name: &str) -> Result<()> {
        if info.descr == Descr::Simple(descr.to_string()) {
            Ok(())
        } else {
            Err(self.error(key, format!("expected {name}, found {}", info.descr)))
        }
    }

    fn expect_ndim(&self, key: &str, info: &ArrayInfo, ndim: usize) -> Result<()> {
        if info.shape.len() == ndim {
            Ok(())
        } else {
            Err(self.error(
                key,
                format!(
                    "expected {}, found {} (shape {:?})",
                    dimensions(ndim),
                    info.shape.len(),
                    info.shape
                ),
            ))
        }
    }

    /// Read the member's data as items of `item` bytes (4 or 8), decoded by `decode`.
    ///
    /// The header was validated by `open`: `data_bytes` is a multiple of `item`.
    fn read_items<T>(
        &self,
        key: &str,
        index: usize,
        info: &ArrayInfo,
        item: usize,
        decode: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>> {
        let read_error = |e: io::Error| match e.kind() {
            io::ErrorKind::UnexpectedEof => self.error(
                key,
                format!(
                    "the data ends early: expected {} bytes (is the file truncated?)",
                    info.data_bytes
                ),
            ),
            // An error from the operating system is about the file; any other comes
            // from the zip or deflate decoder and is about the content (a corrupt
            // deflate stream is reported as `InvalidInput`).
            _ if is_content_error(&e) => {
                self.error(key, format!("cannot read the member's data: {e}"))
            }
            _ => Error::io(&self.path, e),
        };
        let mut archive = self.archive.lock().unwrap_or_else(|e| e.into_inner());
        let mut member = archive
            .by_index(index)
            .map_err(|e| self.error(key, format!("cannot read the member: {e}")))?;
        let declared = info.header_bytes + info.data_bytes;
        if member.size() != declared {
            return Err(self.error(key, "the member changed since the file was opened"));
        }
        // One byte more than declared, to notice a member that inflates past its size.
        let mut reader = (&mut member).take(declared.saturating_add(1));
        let skipped = io::copy(&mut (&mut reader).take(info.header_bytes), &mut io::sink())
            .map_err(read_error)?;
        if skipped != info.header_bytes {
            return Err(read_error(io::ErrorKind::UnexpectedEof.into()));
        }

        let items = usize::try_from(info.data_bytes / item as u64)
            .map_err(|_| self.error(key, "the array is too large for this platform"))?;
        // Refused before allocating where the member alone exceeds the memory limit;
        // where the system refuses the memory anyway, an error rather than an abort.
        let what = || format!("reading variable '{key}' of {}", self.path.display());
        crate::limits::check_dataset_bytes(&what(), Some(info.data_bytes))?;
        // Allocate no more than the compressed data could expand to.
        let justified = info.compressed_bytes.saturating_mul(MAX_EXPANSION) / item as u64;
        let capacity = items.min(usize::try_from(justified).unwrap_or(usize::MAX));
        let mut out = crate::limits::try_vec(what, capacity)?;
        let mut buf = vec![0u8; CHUNK.min(items.saturating_mul(item)).max(1)];
        let mut remaining = info.data_bytes;
        while remaining > 0 {
            let len = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
            reader.read_exact(&mut buf[..len]).map_err(read_error)?;
            if out.capacity() - out.len() < len / item {
                // doubling, as `Vec` grows, but never past the declared size
                let more = (len / item).max(out.len().min(items - out.len()));
                crate::limits::try_reserve(&mut out, more, what)?;
            }
            out.extend(buf[..len].chunks_exact(item).map(&decode));
            remaining -= len as u64;
        }
        // Reading on to the end checks the CRC and that nothing follows the data.
        let mut extra = [0u8; 1];
        loop {
            match reader.read(&mut extra) {
                Ok(0) => break,
                Ok(_) => {
                    return Err(self.error(
                        key,
                        format!(
                            "the member holds more data than its declared size of {declared} bytes"
                        ),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(out)
    }

    fn build_array<T: Clone>(
        &self,
        key: &str,
        info: &ArrayInfo,
        data: Vec<T>,
    ) -> Result<ArrayD<T>> {
        let shape = IxDyn(&info.shape).set_f(info.fortran_order);
        let array = ArrayD::from_shape_vec(shape, data).map_err(|e| {
            self.error(
                key,
                format!("shape {:?} does not fit the data: {e}", info.shape),
            )
        })?;
        if info.fortran_order {
            // the C-order copy, allocated fallibly
            let what = || format!("reading variable '{key}' of {}", self.path.display());
            let mut data = crate::limits::try_vec(what, array.len())?;
            data.extend(array.iter().cloned());
            ArrayD::from_shape_vec(IxDyn(&info.shape), data)
                .map_err(|e| self.error(key, format!("shape {:?}: {e}", info.shape)))
        } else {
            Ok(array)
        }
    }
}

fn bytes8(b: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    a
}

fn bytes4(b: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    a
}

fn dimensions(n: usize) -> String {
    if n == 1 {
        "1 dimension".to_string()
    } else {
        format!("{n} dimensions")
    }
}

/// Check, with checked arithmetic, that product(shape) × item equals the data length.
fn check_data_size(
    shape: &[usize],
    item: u64,
    data_bytes: u64,
    descr: &Descr,
) -> std::result::Result<(), String> {
    let needed = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|n| n.checked_mul(item));
    match needed {
        Some(needed) if needed == data_bytes => Ok(()),
        Some(needed) => Err(format!(
            "the data is {data_bytes} bytes but shape {shape:?} of {descr} needs {needed} bytes"
        )),
        None => Err(format!(
            "shape {shape:?} of {descr} is impossibly large (the data is {data_bytes} bytes)"
        )),
    }
}

enum HeaderError {
    /// The content is wrong.
    Data(String),
    /// Reading failed for a reason other than the content.
    Io(io::Error),
}

impl From<String> for HeaderError {
    fn from(m: String) -> Self {
        HeaderError::Data(m)
    }
}

/// Whether a read error is about the archive's content rather than the file system:
/// the operating system's errors carry an error code, the decoders' do not.
fn is_content_error(e: &io::Error) -> bool {
    e.raw_os_error().is_none() && e.kind() != io::ErrorKind::Interrupted
}

/// Read a `.npy` header from `r`, a member of `declared` bytes.
fn read_npy_header(
    r: &mut impl Read,
    declared: u64,
) -> std::result::Result<NpyHeader, HeaderError> {
    let short = |what: &str| {
        HeaderError::Data(format!(
            "not a .npy array: the member ({declared} bytes) is too short for its {what}"
        ))
    };
    let read_exact = |r: &mut dyn Read, buf: &mut [u8], what: &str| {
        r.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => short(what),
            _ if is_content_error(&e) => {
                HeaderError::Data(format!("cannot read the .npy header: {e}"))
            }
            _ => HeaderError::Io(e),
        })
    };
    let mut prefix = [0u8; 8];
    read_exact(r, &mut prefix, "magic string")?;
    if &prefix[..6] != MAGIC {
        return Err(format!(
            "not a .npy array: it starts with {} instead of the magic string \\x93NUMPY",
            escape_bytes(&prefix[..6])
        )
        .into());
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let (len_bytes, utf8) = match (major, minor) {
        (1, 0) => (2usize, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => {
            return Err(format!(
                "unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)"
            )
            .into())
        }
    };
    let mut len_buf = [0u8; 4];
    read_exact(r, &mut len_buf[..len_bytes], "header length")?;
    let header_len = u64::from(u32::from_le_bytes(len_buf));
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "the .npy header claims {header_len} bytes, more than the limit of {MAX_HEADER_BYTES}"
        )
        .into());
    }
    let total_bytes = 8 + len_bytes as u64 + header_len;
    if total_bytes > declared {
        return Err(short("header"));
    }
    // header_len ≤ MAX_HEADER_BYTES, so this allocation is small.
    let mut raw = vec![0u8; header_len as usize];
    read_exact(r, &mut raw, "header")?;
    let text: String = if utf8 {
        String::from_utf8(raw).map_err(|_| "the .npy header is not valid UTF-8".to_string())?
    } else {
        raw.iter().map(|&b| char::from(b)).collect() // latin-1
    };
    let (descr, shape, fortran_order) = parse_header_dict(&text)?;
    Ok(NpyHeader {
        descr,
        shape,
        fortran_order,
        total_bytes,
    })
}

fn escape_bytes(b: &[u8]) -> String {
    let escaped: String = b
        .iter()
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect();
    format!("\"{escaped}\"")
}

/// Shorten `text` for an error message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}…", &text[..i]),
        None => format!("{text:?}"),
    }
}

/// Parse the header's Python dict into (descr, shape, fortran_order).
fn parse_header_dict(text: &str) -> std::result::Result<(Descr, Vec<usize>, bool), String> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
    let mut depth = 0usize;
    for c in trimmed.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_HEADER_NESTING {
                    return Err(format!(
                        "the .npy header nests brackets more than {MAX_HEADER_NESTING} deep"
                    ));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let bad = |why: &str| format!("invalid .npy header {}: {why}", excerpt(trimmed));
    let value =
        Value::from_str(trimmed).map_err(|e| bad(&format!("not a Python literal ({e})")))?;
    let Value::Dict(items) = value else {
        return Err(bad("not a dict"));
    };
    let (mut descr, mut shape, mut fortran) = (None, None, None);
    for (k, v) in items {
        let Value::String(k) = k else {
            return Err(bad("a key is not a string"));
        };
        let slot_taken = match k.as_str() {
            "descr" => descr.replace(v).is_some(),
            "shape" => shape.replace(v).is_some(),
            "fortran_order" => fortran.replace(v).is_some(),
            other => return Err(bad(&format!("unexpected key '{other}'"))),
        };
        if slot_taken {
            return Err(bad(&format!("key '{k}' appears twice")));
        }
    }
    let descr = match descr.ok_or_else(|| bad("no 'descr' key"))? {
        Value::String(s) => Descr::Simple(s),
        other => Descr::Other(excerpt(&other.to_string())),
    };
    let fortran_order = match fortran.ok_or_else(|| bad("no 'fortran_order' key"))? {
        Value::Boolean(b) => b,
        _ => return Err(bad("'fortran_order' is not True or False")),
    };
    let dims = match shape.ok_or_else(|| bad("no 'shape' key"))? {
        Value::Tuple(d) | Value::List(d) => d,
        _ => return Err(bad("'shape' is not a tuple")),
    };
    let shape = dims
        .iter()
        .map(|d| match d {
            Value::Integer(n) => n
                .to_string()
                .parse::<usize>()
                .map_err(|_| bad(&format!("dimension {n} is not a valid size"))),
            _ => Err(bad("a dimension of 'shape' is not an integer")),
        })
        .collect::<std::result::Result<Vec<usize>, String>>()?;
    Ok((descr, shape, fortran_order))
}

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
    super::write_atomically(path, |w| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array3, ArrayD};

    /// A version 1.0 `.npy` member with header dict `dict` and raw `data`.
    fn npy_bytes(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.as_bytes().to_vec();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out
    }

    fn f64_bytes(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// A zip of `members` (full names) with `method`.
    fn write_zip(path: &Path, members: &[(&str, Vec<u8>)], method: CompressionMethod) {
        let mut zip = ZipWriter::new(File::create(path).expect("test fixture"));
        for (name, bytes) in members {
            let options = SimpleFileOptions::default().compression_method(method);
            zip.start_file(*name, options).expect("test fixture");
            zip.write_all(bytes).expect("test fixture");
        }
        zip.finish().expect("test fixture");
    }

    fn sample() -> (Array3<f64>, Array1<i64>) {
        let a = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| {
            i as f64 * 100.0 + j as f64 * 10.0 + k as f64 + 0.25
        });
        let mut a = a;
        a[[1, 2, 3]] = f64::NAN;
        a[[0, 0, 1]] = -0.0;
        a[[0, 1, 1]] = f64::INFINITY;
        let b = Array1::from(vec![i64::MIN, -1, 0, 7, i64::MAX]);
        (a, b)
    }

    /// Write a valid sample file and return its path.
    fn sample_file(dir: &Path) -> PathBuf {
        let (a, b) = sample();
        let path = dir.join("sample.npz");
        write_npz(
            &path,
            &[
                ("weights", NpzValue::F64(a.view().into_dyn())),
                ("labels", NpzValue::I64(b.view().into_dyn())),
                ("metadata", NpzValue::Str("σ = 0.5 µ")),
            ],
        )
        .expect("test fixture");
        path
    }

    /// The error's display text; also checks that it is a data error naming `variable`.
    fn data_error(err: Error, variable: &str) -> String {
        let text = err.to_string();
        match &err {
            Error::Data { variable: v, .. } => assert_eq!(v, variable, "{text}"),
            other => panic!("expected a data error, got {other:?}"),
        }
        assert!(text.contains(&format!("'{variable}'")), "{text}");
        text
    }

    fn same_bits(x: &ArrayD<f64>, y: &ArrayD<f64>) -> bool {
        x.shape() == y.shape() && x.iter().zip(y).all(|(a, b)| a.to_bits() == b.to_bits())
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = sample_file(dir.path());
        let (a, b) = sample();
        let f = NpzFile::open(&path).expect("test fixture");
        assert_eq!(f.path(), path);
        assert_eq!(f.keys(), vec!["labels", "metadata", "weights"]);
        assert!(f.contains("weights") && !f.contains("weights.npy"));
        let got = f.f64_array("weights", 3).expect("test fixture");
        assert!(same_bits(&got, &a.clone().into_dyn()));
        assert_eq!(
            f.i64_array("labels", 1).expect("test fixture"),
            b.into_dyn()
        );
        assert_eq!(f.string("metadata").expect("test fixture"), "σ = 0.5 µ");
        // Reading twice works (the archive is re-read).
        assert!(same_bits(
            &f.f64_array("weights", 3).expect("test fixture"),
            &a.into_dyn()
        ));
    }

    #[test]
    fn written_layout_matches_numpy() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("x.npz");
        let t = ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]);
        // A transposed (non-contiguous in C order) view is written in logical order.
        write_npz(
            &path,
            &[
                ("t", NpzValue::F64(t.t().into_dyn())),
                ("empty", NpzValue::Str("")),
                ("zero", NpzValue::F64(ndarray::arr0(2.5).into_dyn().view())),
            ],
        )
        .expect("test fixture");
        let mut zip =
            ZipArchive::new(File::open(&path).expect("test fixture")).expect("test fixture");
        let names: Vec<&str> = zip.file_names().collect();
        assert_eq!(names.len(), 3);
        let expect = [
            (
                "t.npy",
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
            ),
            (
                "empty.npy",
                "{'descr': '<U1', 'fortran_order': False, 'shape': (), }",
            ),
            (
                "zero.npy",
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            ),
        ];
        for (name, dict) in expect {
            let mut m = zip.by_name(name).expect("test fixture");
            assert_eq!(m.compression(), CompressionMethod::Stored);
            let mut bytes = Vec::new();
            m.read_to_end(&mut bytes).expect("test fixture");
            assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
            let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!((10 + hlen) % 64, 0, "{name}");
            let header = std::str::from_utf8(&bytes[10..10 + hlen]).expect("test fixture");
            assert!(header.starts_with(dict), "{header:?}");
            assert!(header.ends_with(" \n"));
        }
        drop(zip);
        let f = NpzFile::open(&path).expect("test fixture");
        assert_eq!(f.keys(), vec!["empty", "t", "zero"]);
        assert_eq!(
            f.f64_array("t", 2).expect("test fixture"),
            ndarray::arr2(&[[1.0, 3.0], [2.0, 4.0]]).into_dyn()
        );
        assert_eq!(f.string("empty").expect("test fixture"), "");
        assert_eq!(
            f.f64_array("zero", 0).expect("test fixture"),
            ndarray::arr0(2.5).into_dyn()
        );
    }

    #[test]
    fn fortran_order_is_converted() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("f.npz");
        // [[0, 1, 2], [10, 11, 12]] stored column by column.
        let data = f64_bytes(&[0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
        let ints: Vec<u8> = [1i64, 4, 2, 5, 3, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        write_zip(
            &path,
            &[
                (
                    "a.npy",
                    npy_bytes(
                        "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                        &data,
                    ),
                ),
                (
                    "b.npy",
                    npy_bytes(
                        "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }",
                        &ints,
                    ),
                ),
            ],
            CompressionMethod::Stored,
        );
        let f = NpzFile::open(&path).expect("test fixture");
        let a = f.f64_array("a", 2).expect("test fixture");
        assert_eq!(
            a,
            ndarray::arr2(&[[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]).into_dyn()
        );
        assert!(a.is_standard_layout());
        let b = f.i64_array("b", 2).expect("test fixture");
        assert_eq!(b, ndarray::arr2(&[[1, 2, 3], [4, 5, 6]]).into_dyn());
        assert!(b.is_standard_layout());
    }

    #[test]
    fn deflated_members_and_other_versions() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("d.npz");
        let values: Vec<f64> = (0..5000).map(|i| (i % 7) as f64).collect();
        let text = "{\"a\": 1}";
        let utf32: Vec<u8> = text
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        // A version 3.0 header (4-byte length, UTF-8).
        let mut v3 = MAGIC.to_vec();
        let dict = b"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n";
        v3.extend_from_slice(&[3, 0]);
        v3.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        v3.extend_from_slice(dict);
        v3.extend_from_slice(
            &[9i64, -9]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>(),
        );
        write_zip(
            &path,
            &[
                (
                    "x.npy",
                    npy_bytes(
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (50, 100), }",
                        &f64_bytes(&values),
                    ),
                ),
                (
                    "metadata.npy",
                    npy_bytes(
                        &format!(
                            "{{'descr': '<U{}', 'fortran_order': False, 'shape': (), }}",
                            text.len()
                        ),
                        &utf32,
                    ),
                ),
                ("v3.npy", v3),
            ],
            CompressionMethod::Deflated,
        );
        // The members really are compressed.
        assert!(std::fs::metadata(&path).expect("test fixture").len() < 10_000);
        let f = NpzFile::open(&path).expect("test fixture");
        let x = f.f64_array("x", 2).expect("test fixture");
        assert_eq!(x.shape(), &[50, 100]);
        assert_eq!(x.iter().copied().collect::<Vec<_>>(), values);
        assert_eq!(f.string("metadata").expect("test fixture"), text);
        assert_eq!(
            f.i64_array("v3", 1)
                .expect("test fixture")
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![9, -9]
        );
    }

    #[test]
    fn missing_key_lists_keys() {
        let dir = tempfile::tempdir().expect("test fixture");
        let f = NpzFile::open(sample_file(dir.path())).expect("test fixture");
        let text = data_error(f.f64_array("inputs", 2).unwrap_err(), "inputs");
        assert!(
            text.contains("missing; the file has keys: labels, metadata, weights"),
            "{text}"
        );
        assert!(text.contains("sample.npz"), "{text}");
        data_error(f.string("nothing").unwrap_err(), "nothing");
    }

    #[test]
    fn wrong_dtype() {
        let dir = tempfile::tempdir().expect("test fixture");
        let f = NpzFile::open(sample_file(dir.path())).expect("test fixture");
        let text = data_error(f.f64_array("labels", 1).unwrap_err(), "labels");
        assert!(
            text.contains("expected float64 (<f8), found int64 (<i8)"),
            "{text}"
        );
        let text = data_error(f.i64_array("weights", 3).unwrap_err(), "weights");
        assert!(
            text.contains("expected int64 (<i8), found float64 (<f8)"),
            "{text}"
        );
        let text = data_error(f.string("weights").unwrap_err(), "weights");
        assert!(text.contains("expected a unicode string"), "{text}");
        let text = data_error(f.f64_array("metadata", 0).unwrap_err(), "metadata");
        assert!(
            text.contains("found unicode string of 9 characters (<U9)"),
            "{text}"
        );

        let path = dir.path().join("i4.npz");
        write_zip(
            &path,
            &[(
                "counts.npy",
                npy_bytes(
                    "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                    &[0; 8],
                ),
            )],
            CompressionMethod::Stored,
        );
        let f = NpzFile::open(&path).expect("test fixture");
        let text = data_error(f.f64_array("counts", 1).unwrap_err(), "counts");
        assert!(
            text.contains("expected float64 (<f8), found int32 (<i4)"),
            "{text}"
        );
    }

    #[test]
    fn big_endian_is_refused() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("be.npz");
        let data: Vec<u8> = [1.5f64, 2.5].iter().flat_map(|v| v.to_be_bytes()).collect();
        write_zip(
            &path,
            &[(
                "rates.npy",
                npy_bytes(
                    "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }",
                    &data,
                ),
            )],
            CompressionMethod::Stored,
        );
        let f = NpzFile::open(&path).expect("test fixture");
        let text = data_error(f.f64_array("rates", 1).unwrap_err(), "rates");
        assert!(
            text.contains("expected float64 (<f8), found big-endian float64 (>f8)"),
            "{text}"
        );
    }

    #[test]
    fn wrong_ndim() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("n.npz");
        let a = ArrayD::<f64>::zeros(IxDyn(&[4, 5]));
        write_npz(&path, &[("inputs", NpzValue::F64(a.view()))]).expect("test fixture");
        let f = NpzFile::open(&path).expect("test fixture");
        let text = data_error(f.f64_array("inputs", 3).unwrap_err(), "inputs");
        assert!(
            text.contains("expected 3 dimensions, found 2 (shape [4, 5])"),
            "{text}"
        );
        let text = data_error(f.f64_array("inputs", 1).unwrap_err(), "inputs");
        assert!(text.contains("expected 1 dimension, found 2"), "{text}");
        assert_eq!(f.f64_array("inputs", 2).expect("test fixture"), a);

        // A string must be 0-d.
        let path = dir.path().join("u.npz");
        write_zip(
            &path,
            &[(
                "names.npy",
                npy_bytes(
                    "{'descr': '<U1', 'fortran_order': False, 'shape': (2,), }",
                    &[65, 0, 0, 0, 66, 0, 0, 0],
                ),
            )],
            CompressionMethod::Stored,
        );
        let f = NpzFile::open(&path).expect("test fixture");
        let text = data_error(f.string("names").unwrap_err(), "names");
        assert!(text.contains("shape [2]"), "{text}");
    }

    #[test]
    fn missing_empty_non_zip_and_truncated_files() {
        let dir = tempfile::tempdir().expect("test fixture");
        let err = NpzFile::open(dir.path().join("absent.npz")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(err.to_string().contains("absent.npz"), "{err}");

        let empty = dir.path().join("empty.npz");
        std::fs::write(&empty, b"").expect("test fixture");
        let text = data_error(NpzFile::open(&empty).unwrap_err(), FILE_VARIABLE);
        assert!(text.contains("not a valid .npz (zip) archive"), "{text}");
        assert!(text.contains("empty.npz"), "{text}");

        let text_file = dir.path().join("text.npz");
        std::fs::write(&text_file, "time,rate\n0,1.5\n1,2.5\n".repeat(20)).expect("test fixture");
        let text = data_error(NpzFile::open(&text_file).unwrap_err(), FILE_VARIABLE);
        assert!(text.contains("not a valid .npz (zip) archive"), "{text}");

        let full = std::fs::read(sample_file(dir.path())).expect("test fixture");
        let cut = dir.path().join("cut.npz");
        std::fs::write(&cut, &full[..full.len() / 2]).expect("test fixture");
        let text = data_error(NpzFile::open(&cut).unwrap_err(), FILE_VARIABLE);
        assert!(text.contains("not a valid .npz (zip) archive"), "{text}");
    }

    #[test]
    fn bad_magic_and_bad_headers() {
        let dir = tempfile::tempdir().expect("test fixture");
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "magic",
                b"\x93NUMPZ\x01\x00"
                    .iter()
                    .copied()
                    .chain([0u8; 100])
                    .collect(),
                "magic string",
            ),
            ("short", b"\x93NU".to_vec(), "too short"),
            (
                "version",
                b"\x93NUMPY\x04\x00\x10\x00".to_vec(),
                "version 4.0",
            ),
            (
                "longheader",
                b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec(),
                "more than the limit",
            ),
            (
                "pastend",
                b"\x93NUMPY\x01\x00\x00\x10{}".to_vec(),
                "too short for its header",
            ),
            ("notdict", npy_bytes("[1, 2]", &[]), "not a dict"),
            (
                "syntax",
                npy_bytes("{'descr': '<f8', 'shape': (1,", &[]),
                "not a Python literal",
            ),
            (
                "nokey",
                npy_bytes("{'descr': '<f8', 'shape': (1,), }", &[0; 8]),
                "fortran_order",
            ),
            (
                "extrakey",
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'x': 1}",
                    &[0; 8],
                ),
                "unexpected key 'x'",
            ),
            (
                "negative",
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
                    &[],
                ),
                "not a valid size",
            ),
            (
                "nested",
                npy_bytes(
                    &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
                    &[],
                ),
                "nests brackets",
            ),
        ];
        for (key, bytes, expected) in cases {
            let path = dir.path().join(format!("{key}.npz"));
            write_zip(
                &path,
                &[(&format!("{key}.npy"), bytes)],
                CompressionMethod::Stored,
            );
            let text = data_error(NpzFile::open(&path).unwrap_err(), key);
            assert!(text.contains(expected), "{key}: {text}");
        }
    }

    #[test]
    fn huge_shape_and_size_mismatch_are_refused() {
        let dir = tempfile::tempdir().expect("test fixture");
        let cases: Vec<(&str, &str, usize, &str)> = vec![
            (
                "huge",
                "(1000000, 1000000)",
                16,
                "needs 8000000000000 bytes",
            ),
            (
                "overflow",
                "(4294967296, 4294967296, 4294967296)",
                16,
                "impossibly large",
            ),
            (
                "short",
                "(3, 4)",
                95,
                "the data is 95 bytes but shape [3, 4] of float64 (<f8) needs 96 bytes",
            ),
            ("long", "(3, 4)", 97, "needs 96 bytes"),
        ];
        for (key, shape, len, expected) in cases {
            for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
                let path = dir.path().join(format!("{key}.npz"));
                let dict =
                    format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
                write_zip(
                    &path,
                    &[(&format!("{key}.npy"), npy_bytes(&dict, &vec![0; len]))],
                    method,
                );
                let text = data_error(NpzFile::open(&path).unwrap_err(), key);
                assert!(text.contains(expected), "{key}: {text}");
            }
        }
    }

    /// Positions of `u32` size fields to patch: (local header, central directory) offsets
    /// of the uncompressed size of the first member.
    fn uncompressed_size_fields(zip: &[u8]) -> (usize, usize) {
        let find = |sig: &[u8]| zip.windows(4).position(|w| w == sig).expect("test fixture");
        (find(b"PK\x03\x04") + 22, find(b"PK\x01\x02") + 24)
    }

    #[test]
    fn member_inflating_past_its_declared_size_is_refused() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("lie.npz");
        // The header says 2 elements and the member will declare exactly that, but the
        // deflate stream holds 3.
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        let member = npy_bytes(dict, &f64_bytes(&[1.0, 2.0, 3.0]));
        let honest = (member.len() - 8) as u32;
        write_zip(&path, &[("lie.npy", member)], CompressionMethod::Deflated);
        let mut bytes = std::fs::read(&path).expect("test fixture");
        let (local, central) = uncompressed_size_fields(&bytes);
        bytes[local..local + 4].copy_from_slice(&honest.to_le_bytes());
        bytes[central..central + 4].copy_from_slice(&honest.to_le_bytes());
        std::fs::write(&path, &bytes).expect("test fixture");
        let f = NpzFile::open(&path).expect("test fixture");
        let text = data_error(f.f64_array("lie", 1).unwrap_err(), "lie");
        assert!(text.contains("more data than its declared size"), "{text}");
    }

    #[test]
    fn member_over_the_cap_is_refused() {
        let dir = tempfile::tempdir().expect("test fixture");
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        let member = npy_bytes(dict, &f64_bytes(&[1.0, 2.0]));
        let size = member.len() as u64;

        // Declaring 4 GiB (below the cap) for 16 bytes of data: refused by the shape check.
        let path = dir.path().join("big.npz");
        write_zip(
            &path,
            &[("big.npy", member.clone())],
            CompressionMethod::Deflated,
        );
        let mut bytes = std::fs::read(&path).expect("test fixture");
        let (local, central) = uncompressed_size_fields(&bytes);
        for at in [local, central] {
            bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        std::fs::write(&path, &bytes).expect("test fixture");
        let text = data_error(NpzFile::open(&path).unwrap_err(), "big");
        assert!(text.contains("needs 16 bytes"), "{text}");

        // Declaring 9 GiB in the zip64 extra fields: refused by the cap, before reading.
        let path = dir.path().join("huge.npz");
        let mut zip = ZipWriter::new(File::create(&path).expect("test fixture"));
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("huge.npy", options).expect("test fixture");
        zip.write_all(&member).expect("test fixture");
        zip.finish().expect("test fixture");
        let mut bytes = std::fs::read(&path).expect("test fixture");
        let mut pattern = b"\x01\x00\x10\x00".to_vec();
        pattern.extend_from_slice(&size.to_le_bytes());
        let spots: Vec<usize> = (0..bytes.len() - pattern.len())
            .filter(|&i| bytes[i..i + pattern.len()] == pattern[..])
            .collect();
        assert_eq!(spots.len(), 2, "zip64 extra fields not found");
        for at in spots {
            bytes[at + 4..at + 12].copy_from_slice(&(9u64 << 30).to_le_bytes());
        }
        std::fs::write(&path, &bytes).expect("test fixture");
        let text = data_error(NpzFile::open(&path).unwrap_err(), "huge");
        assert!(
            text.contains("declares 9663676416 bytes, more than the limit"),
            "{text}"
        );
    }

    #[test]
    fn corrupted_data_is_detected_when_read() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = sample_file(dir.path());
        let mut bytes = std::fs::read(&path).expect("test fixture");
        // Flip a byte in the data of the first member ("weights", stored, header of 128 bytes).
        let at = bytes
            .windows(4)
            .position(|w| w == b"PK\x03\x04")
            .expect("test fixture")
            + 30
            + "weights.npy".len()
            + 128
            + 3;
        bytes[at] ^= 0x40;
        std::fs::write(&path, &bytes).expect("test fixture");
        let f = NpzFile::open(&path).expect("test fixture");
        let text = data_error(f.f64_array("weights", 3).unwrap_err(), "weights");
        assert!(text.to_lowercase().contains("checksum"), "{text}");
        // The other members are unaffected.
        assert_eq!(f.string("metadata").expect("test fixture"), "σ = 0.5 µ");
    }

    /// Every truncation and many single-byte corruptions of valid files: errors, no panics.
    #[test]
    fn corrupt_files_never_panic() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stored = std::fs::read(sample_file(dir.path())).expect("test fixture");
        let deflated_path = dir.path().join("deflated.npz");
        let dict = "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }";
        write_zip(
            &deflated_path,
            &[
                (
                    "x.npy",
                    npy_bytes(dict, &f64_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
                ),
                (
                    "s.npy",
                    npy_bytes(
                        "{'descr': '<U2', 'fortran_order': False, 'shape': (), }",
                        &[104, 0, 0, 0, 105, 0, 0, 0],
                    ),
                ),
            ],
            CompressionMethod::Deflated,
        );
        let deflated = std::fs::read(&deflated_path).expect("test fixture");
        let path = dir.path().join("corrupt.npz");
        let exercise = |bytes: &[u8]| {
            std::fs::write(&path, bytes).expect("test fixture");
            if let Ok(f) = NpzFile::open(&path) {
                for key in f.keys() {
                    for ndim in 0..4 {
                        let _ = f.f64_array(&key, ndim);
                        let _ = f.i64_array(&key, ndim);
                    }
                    let _ = f.string(&key);
                }
            }
        };
        let mut opened = 0;
        for original in [&stored, &deflated] {
            for len in 0..original.len() {
                exercise(&original[..len]);
            }
            for at in 0..original.len() {
                for mask in [0x01u8, 0x80, 0xff] {
                    let mut bytes = original.clone();
                    bytes[at] ^= mask;
                    exercise(&bytes);
                    opened += usize::from(NpzFile::open(&path).is_ok());
                }
            }
        }
        // Corruptions inside member data pass `open` and must be caught on reading.
        assert!(opened > 0);
    }
}
