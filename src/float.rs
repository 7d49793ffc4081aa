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

    /// Appends `src[i] · scale` to `dst` (no zero-filling first), compiled for AVX-512 or
    /// AVX2 where the CPU has them: converting a batch of pixels was ≈ 12 % of the MLP step.
    fn extend_from_pixels(src: &[u8], scale: Self, dst: &mut Vec<Self>) {
        #[inline(always)]
        fn any<F: Float>(src: &[u8], scale: F, dst: &mut Vec<F>) {
            dst.extend(src.iter().map(|&p| F::from_u8(p).expect("u8 fits") * scale));
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512bw")]
        unsafe fn avx512<F: Float>(src: &[u8], scale: F, dst: &mut Vec<F>) {
            any(src, scale, dst)
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<F: Float>(src: &[u8], scale: F, dst: &mut Vec<F>) {
            any(src, scale, dst)
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
            {
                // SAFETY: the CPU supports AVX-512F and BW, checked just above.
                return unsafe { avx512(src, scale, dst) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { avx2(src, scale, dst) };
            }
        }
        any(src, scale, dst)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_append_scaled_values() {
        // 300 pixels: whole vectors and a tail, after values already in the vector.
        let src: Vec<u8> = (0..300).map(|i| (i * 37 % 256) as u8).collect();
        let mut f32s = vec![-1.0f32];
        f32::extend_from_pixels(&src, 1.0 / 255.0, &mut f32s);
        let mut f64s = vec![-1.0f64];
        f64::extend_from_pixels(&src, 0.5, &mut f64s);
        assert_eq!(
            (f32s.len(), f64s.len(), f32s[0], f64s[0]),
            (301, 301, -1.0, -1.0)
        );
        for (i, &p) in src.iter().enumerate() {
            assert!((f32s[i + 1] as f64 - p as f64 / 255.0).abs() <= 1e-7, "{i}");
            assert_eq!(f64s[i + 1], p as f64 * 0.5);
        }
        assert_eq!(f32s[1 + 83], 1.0); // 83 · 37 mod 256 = 255
    }
}
