//! The number type the simulations are generic over.
//!
//! Forward simulations are written once, generic over [`Scalar`], and run with `f64`
//! (fitting), `f32` (speed) and forward-mode dual numbers (the gradient tests' oracle).

use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real number, or a dual number carrying derivatives along with its value.
pub trait Scalar:
    Copy
    + Send
    + Sync
    + PartialEq
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + 'static
{
    /// Converts a constant.
    fn from_f64(value: f64) -> Self;
    /// The real part, used for branches (leaky ReLU) and reports.
    fn re(self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// `tanh(self)`.
    fn tanh(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Zero.
    #[inline(always)]
    fn zero() -> Self {
        Self::from_f64(0.0)
    }
    /// One.
    #[inline(always)]
    fn one() -> Self {
        Self::from_f64(1.0)
    }
    /// `σ(self) = 1 / (1 + e^{−self})`.
    #[inline(always)]
    fn sigmoid(self) -> Self {
        Self::one() / (Self::one() + (-self).exp())
    }
    /// `softplus(self) = ln(1 + e^self)`, computed without overflow:
    /// `max(z, 0) + ln(1 + e^{−|z|})`.
    #[inline(always)]
    fn softplus(self) -> Self {
        if self.re() > 0.0 {
            self + (Self::one() + (-self).exp()).ln()
        } else {
            (Self::one() + self.exp()).ln()
        }
    }
}

impl Scalar for f64 {
    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value
    }
    #[inline(always)]
    fn re(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        f64::ln(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
}

impl Scalar for f32 {
    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    #[inline(always)]
    fn re(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f32::exp(self)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        f32::tanh(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        f32::ln(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
}

impl Scalar for num_dual::Dual64 {
    fn from_f64(value: f64) -> Self {
        num_dual::Dual64::from_re(value)
    }
    fn re(self) -> f64 {
        self.re
    }
    fn exp(self) -> Self {
        num_dual::DualNum::exp(&self)
    }
    fn tanh(self) -> Self {
        num_dual::DualNum::tanh(&self)
    }
    fn ln(self) -> Self {
        num_dual::DualNum::ln(&self)
    }
    fn sqrt(self) -> Self {
        num_dual::DualNum::sqrt(&self)
    }
}

/// Forward-mode dual numbers carrying `N` directional derivatives at once (the
/// gradient with latent populations, [`crate::gradient::spiking::mean_field`]).
impl<const N: usize> Scalar for num_dual::DualSVec64<N> {
    #[inline]
    fn from_f64(value: f64) -> Self {
        num_dual::DualSVec64::from_re(value)
    }
    #[inline]
    fn re(self) -> f64 {
        self.re
    }
    #[inline]
    fn exp(self) -> Self {
        num_dual::DualNum::exp(&self)
    }
    #[inline]
    fn tanh(self) -> Self {
        num_dual::DualNum::tanh(&self)
    }
    #[inline]
    fn ln(self) -> Self {
        num_dual::DualNum::ln(&self)
    }
    #[inline]
    fn sqrt(self) -> Self {
        num_dual::DualNum::sqrt(&self)
    }
}
