//! What a member's `.npy` header says, without reading its data: readers check every
//! member's dtype and shape, and the shapes' agreement, before reading any array
//! ([`NpzFile::f64_shape`], [`NpzFile::i64_shape`]), then the arrays' total size
//! against the memory limit ([`NpzFile::check_memory_limit`]).

use super::NpzFile;
use crate::Result;

impl NpzFile {
    /// The shape of the float64 member `key`, from its header alone; the same errors as
    /// [`NpzFile::f64_array`] for a missing member, another dtype or another number of
    /// dimensions.
    pub fn f64_shape(&self, key: &str, ndim: usize) -> Result<Vec<usize>> {
        let (_, info) = self.array_info(key)?;
        self.expect_descr(key, info, "<f8", "float64 (<f8)")?;
        self.expect_ndim(key, info, ndim)?;
        Ok(info.shape.clone())
    }

    /// The shape of the int64 member `key`, from its header alone; the same errors as
    /// [`NpzFile::i64_array`].
    pub fn i64_shape(&self, key: &str, ndim: usize) -> Result<Vec<usize>> {
        let (_, info) = self.array_info(key)?;
        self.expect_descr(key, info, "<i8", "int64 (<i8)")?;
        self.expect_ndim(key, info, ndim)?;
        Ok(info.shape.clone())
    }

    /// Refuses, with [`crate::Error::TooLarge`] naming the file, a file whose arrays
    /// together (every `.npy` member's data, as declared) exceed the memory limit
    /// ([`crate::limits::memory_limit`]). [`NpzFile::open`] does this on opening.
    pub fn check_memory_limit(&self) -> Result<()> {
        crate::limits::check_dataset_bytes(
            &format!("loading the arrays of {}", self.path.display()),
            self.total_data_bytes(),
        )
    }
}
