//! The getters of the classes that wrap a library value (`inner`): its arrays as NumPy
//! copies and its counts, written once for every class by [`py_methods!`].

use ndarray::{Array, Array1, Dimension};
use numpy::{Element, IntoPyArray, PyArray, PyArray1};
use pyo3::prelude::*;

/// A field as the NumPy array its getter returns: a copy (counts as `int64`).
pub(crate) trait NumpyCopy {
    /// The NumPy array type.
    type Array;
    /// The copy.
    fn numpy<'py>(&self, py: Python<'py>) -> Bound<'py, Self::Array>;
}

impl<A: Element + Clone, D: Dimension> NumpyCopy for Array<A, D> {
    type Array = PyArray<A, D>;
    fn numpy<'py>(&self, py: Python<'py>) -> Bound<'py, Self::Array> {
        self.clone().into_pyarray(py)
    }
}

impl NumpyCopy for Vec<i64> {
    type Array = PyArray1<i64>;
    fn numpy<'py>(&self, py: Python<'py>) -> Bound<'py, Self::Array> {
        self.clone().into_pyarray(py)
    }
}

impl NumpyCopy for Vec<f64> {
    type Array = PyArray1<f64>;
    fn numpy<'py>(&self, py: Python<'py>) -> Bound<'py, Self::Array> {
        self.clone().into_pyarray(py)
    }
}

impl NumpyCopy for Vec<usize> {
    type Array = PyArray1<i64>;
    fn numpy<'py>(&self, py: Python<'py>) -> Bound<'py, Self::Array> {
        self.iter()
            .map(|&v| v as i64)
            .collect::<Array1<i64>>()
            .into_pyarray(py)
    }
}

/// The `#[pymethods]` of a class whose library value is its field `inner`: a getter per
/// array named in `arrays` (a [`NumpyCopy`] of the field of that name, of the NumPy type
/// given), a getter per count named in `counts` (the value's method of that name), and
/// the methods that follow. Each getter's doc comment is its Python docstring.
macro_rules! py_methods {
    (
        $class:ident {
            arrays { $($(#[doc = $array_doc:tt])* $array:ident: $array_type:ty),* $(,)? }
            counts { $($(#[doc = $count_doc:tt])* $count:ident),* $(,)? }
            $($methods:tt)*
        }
    ) => {
        #[pymethods]
        impl $class {
            $(
                $(#[doc = $array_doc])*
                #[getter]
                fn $array<'py>(&self, py: Python<'py>) -> Bound<'py, $array_type> {
                    $crate::getters::NumpyCopy::numpy(&self.inner.$array, py)
                }
            )*
            $(
                $(#[doc = $count_doc])*
                #[getter]
                fn $count(&self) -> usize {
                    self.inner.$count()
                }
            )*
            $($methods)*
        }
    };
}

pub(crate) use py_methods;
