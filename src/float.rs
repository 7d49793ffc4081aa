//! The one float trait bound that layers and nets are generic over.
//!
//! Training runs in `f32` for speed; gradient checks and exact comparisons with the book run
//! in `f64`. Everything numeric in the crate is written once against [`Float`].

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// A floating-point element type usable in arrays, matrix products and reductions.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + Debug
    + Display
    + Default
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Send
    + Sync
    + 'static
{
    /// The type's name as the safetensors and numpy worlds spell it (`F32`, `F64`).
    const DTYPE: &'static str;

    /// Converts an `f64` constant (a learning rate, the 1e-7 guard) into this type.
    fn lit(x: f64) -> Self;

    /// Converts to `f64` for reporting.
    fn to_f64_lossy(self) -> f64;

    /// `dst[i] = src[i] · scale`: pixels to floats, written per type so that it vectorises.
    fn from_pixels(src: &[u8], scale: Self, dst: &mut [Self]);
}

impl Float for f32 {
    const DTYPE: &'static str = "F32";
    #[inline]
    fn lit(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64_lossy(self) -> f64 {
        self as f64
    }
    fn from_pixels(src: &[u8], scale: Self, dst: &mut [Self]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s as f32 * scale;
        }
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "F64";
    #[inline]
    fn lit(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64_lossy(self) -> f64 {
        self
    }
    fn from_pixels(src: &[u8], scale: Self, dst: &mut [Self]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s as f64 * scale;
        }
    }
}
