//! The one float trait bound that layers and nets are generic over.
//!
//! Training runs in `f32` for speed; gradient checks and exact comparisons with the book run
//! in `f64`. Everything numeric in the crate is written once against [`Float`].

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use crate::cpu;

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

    /// Appends `src[i] · scale` to `dst` (no zero-filling first), compiled for AVX-512 or
    /// AVX2 where [`cpu::active`] allows: converting a batch of pixels was ≈ 12 % of the MLP
    /// step.
    fn extend_from_pixels(src: &[u8], scale: Self, dst: &mut Vec<Self>) {
        extend_from_pixels(cpu::active(), src, scale, dst)
    }
}

crate::cpu::dispatch! {
    [avx512, avx2]
    /// [`Float::extend_from_pixels`] at the level `simd`.
    fn extend_from_pixels<F>(src: &[u8], scale: F, dst: &mut Vec<F>) {
        dst.extend(src.iter().map(|&p| F::from_u8(p).expect("u8 fits") * scale));
    }
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
}

/// The float type of a run or a model file. Serialised as `"F32"`, `"F64"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    /// 32-bit floats (fast).
    #[default]
    F32,
    /// 64-bit floats, as the book's NumPy code computes.
    F64,
}

impl Precision {
    /// `f32` or `f64`, as a command line spells it.
    pub fn key(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    /// The precision of `F`.
    pub fn of<F: Float>() -> Precision {
        if F::DTYPE == "F32" {
            Precision::F32
        } else {
            Precision::F64
        }
    }
}

/// Evaluates `$body` with the type name `$F` standing for `f32` or `f64`, as the
/// [`Precision`] `$precision` says: the one place where a run-time precision becomes a type,
/// for the command line, the lab and the bindings alike.
///
/// ```
/// use backprop::float::{Float, Precision};
/// use backprop::with_precision;
///
/// fn bytes<F: Float>() -> usize {
///     size_of::<F>()
/// }
/// assert_eq!(with_precision!(Precision::F32, F => bytes::<F>()), 4);
/// assert_eq!(with_precision!(Precision::F64, F => bytes::<F>()), 8);
/// ```
#[macro_export]
macro_rules! with_precision {
    ($precision:expr, $F:ident => $body:expr) => {
        match $precision {
            $crate::float::Precision::F32 => {
                type $F = f32;
                $body
            }
            $crate::float::Precision::F64 => {
                type $F = f64;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_append_scaled_values_at_every_level() {
        // 300 pixels: whole vectors and a tail, after values already in the vector.
        let src: Vec<u8> = (0..300).map(|i| (i * 37 % 256) as u8).collect();
        for simd in cpu::testable() {
            let (mut f32s, mut f64s) = (vec![-1.0f32], vec![-1.0f64]);
            cpu::with_simd(simd, || {
                f32::extend_from_pixels(&src, 1.0 / 255.0, &mut f32s);
                f64::extend_from_pixels(&src, 0.5, &mut f64s);
            });
            assert_eq!(
                (f32s.len(), f64s.len(), f32s[0], f64s[0]),
                (301, 301, -1.0, -1.0),
                "{simd}"
            );
            for (i, &p) in src.iter().enumerate() {
                assert!(
                    (f32s[i + 1] as f64 - p as f64 / 255.0).abs() <= 1e-7,
                    "{simd} {i}"
                );
                assert_eq!(f64s[i + 1], p as f64 * 0.5, "{simd} {i}");
            }
            assert_eq!(f32s[1 + 83], 1.0, "{simd}"); // 83 · 37 mod 256 = 255
        }
    }
}
