//! Streaming reads of one float64 array member, in C order, chunk by chunk: what
//! forward-mode gradients over long recordings read, so that a recording never has to
//! fit in memory. Stored and deflated members both stream; the data are decoded as
//! they are read and never held whole.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use zip::CompressionMethod;

use super::read::bytes8;
use super::{NpzFile, CHUNK};
use crate::{Error, Result};

/// The data of one float64 member of an `.npz` file, read in order.
pub struct F64Stream {
    reader: Box<dyn Read + Send>,
    remaining: u64,
    shape: Vec<usize>,
    path: PathBuf,
    key: String,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for F64Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("F64Stream")
            .field("path", &self.path)
            .field("key", &self.key)
            .field("shape", &self.shape)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl NpzFile {
    /// A stream over the float64 array `key` with exactly `ndim` dimensions, which must
    /// be stored in C order. The archive's own reader is not used: the stream opens the
    /// file again at the member's data, so several members can stream side by side.
    pub fn f64_stream(&self, key: &str, ndim: usize) -> Result<F64Stream> {
        let (index, info) = self.array_info(key)?;
        self.expect_descr(key, info, "<f8", "float64 (<f8)")?;
        self.expect_ndim(key, info, ndim)?;
        if info.fortran_order {
            return Err(self.error(
                key,
                "streaming needs C order, and this array is stored in Fortran order \
                 (save it with numpy's default order, or without --gradient forward)",
            ));
        }
        let (data_start, method, compressed) = {
            let mut archive = self.archive.lock().unwrap_or_else(|e| e.into_inner());
            let member = archive
                .by_index_raw(index)
                .map_err(|e| self.error(key, format!("cannot read the member: {e}")))?;
            (
                member.data_start(),
                member.compression(),
                member.compressed_size(),
            )
        };
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(data_start))
            .map_err(|e| Error::io(&self.path, e))?;
        let raw = BufReader::with_capacity(CHUNK, file).take(compressed);
        let mut reader: Box<dyn Read + Send> = match method {
            CompressionMethod::Stored => Box::new(raw),
            CompressionMethod::Deflated => Box::new(flate2::read::DeflateDecoder::new(raw)),
            other => {
                return Err(self.error(
                    key,
                    format!("cannot stream a member compressed with {other:?}"),
                ))
            }
        };
        let skipped = io::copy(&mut (&mut reader).take(info.header_bytes), &mut io::sink())
            .map_err(|e| Error::io(&self.path, e))?;
        if skipped != info.header_bytes {
            return Err(self.error(key, "the data ends early (is the file truncated?)"));
        }
        Ok(F64Stream {
            reader,
            remaining: info.data_bytes / 8,
            shape: info.shape.clone(),
            path: self.path.clone(),
            key: key.to_string(),
            buffer: vec![0; CHUNK],
        })
    }
}

impl F64Stream {
    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Values not yet read.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::data(&self.path, self.key.as_str(), message)
    }

    /// Fills `out` with the next `out.len()` values; an error if fewer remain or the
    /// file ends early.
    pub fn read(&mut self, out: &mut [f64]) -> Result<()> {
        if out.len() as u64 > self.remaining {
            return Err(self.error(format!(
                "asked for {} more values, but only {} remain",
                out.len(),
                self.remaining
            )));
        }
        for chunk in out.chunks_mut(CHUNK / 8) {
            let bytes = &mut self.buffer[..chunk.len() * 8];
            self.reader.read_exact(bytes).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => Error::data(
                    &self.path,
                    self.key.as_str(),
                    "the data ends early (is the file truncated?)",
                ),
                _ => Error::data(
                    &self.path,
                    self.key.as_str(),
                    format!("cannot read the member's data: {e}"),
                ),
            })?;
            for (value, raw) in chunk.iter_mut().zip(bytes.chunks_exact(8)) {
                *value = f64::from_le_bytes(bytes8(raw));
            }
        }
        self.remaining -= out.len() as u64;
        Ok(())
    }

    /// Skips the next `count` values.
    pub fn skip(&mut self, count: u64) -> Result<()> {
        let mut scratch = [0.0; 512];
        let mut left = count;
        while left > 0 {
            let n = left.min(scratch.len() as u64) as usize;
            self.read(&mut scratch[..n])?;
            left -= n as u64;
        }
        Ok(())
    }
}
