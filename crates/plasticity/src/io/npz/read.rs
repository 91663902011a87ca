//! Reading: opening an archive (its zip directory and every member's `.npy` header,
//! checked against the member's declared size) and reading a member's data as an
//! array or a string, never past its declared size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Mutex;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use zip::ZipArchive;

use crate::{Error, Result};

use super::header::{is_content_error, read_npy_header, HeaderError};
use super::types::{check_data_size, ArrayInfo, Descr};
use super::{
    Member, NpzFile, CHUNK, FILE_VARIABLE, MAX_EXPANSION, MAX_FILE_BYTES, MAX_MEMBER_BYTES,
};

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
    pub(super) fn total_data_bytes(&self) -> Option<u64> {
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

    pub(super) fn error(&self, key: &str, message: impl Into<String>) -> Error {
        Error::data(&self.path, key, message)
    }

    /// The member for `key`, which must be a `.npy` array.
    pub(super) fn array_info(&self, key: &str) -> Result<(usize, &ArrayInfo)> {
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

    pub(super) fn expect_descr(
        &self,
        key: &str,
        info: &ArrayInfo,
        descr: &str,
        name: &str,
    ) -> Result<()> {
        if info.descr == Descr::Simple(descr.to_string()) {
            Ok(())
        } else {
            Err(self.error(key, format!("expected {name}, found {}", info.descr)))
        }
    }

    pub(super) fn expect_ndim(&self, key: &str, info: &ArrayInfo, ndim: usize) -> Result<()> {
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

pub(super) fn bytes8(b: &[u8]) -> [u8; 8] {
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
