//! The ceiling for bf16 products on this core, beside f32's: multiply-adds per second of
//! AVX512_BF16's `vdpbf16ps` (two bf16 products added to each f32 lane) against `vfmadd`
//! on f32 lanes, each with twelve independent accumulators and no memory traffic, as
//! `backprop bench peak` measures f32.
//!
//! `cargo run --release --example bf16_peak` (one thread). It bounds what `--precision bf16`
//! could gain: products in bf16 run at most this ratio faster, and only the products.

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// `iters` rounds of twelve `vdpbf16ps`, returning the sum (so that nothing is skipped).
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BF16.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn bf16_dots(iters: usize) -> f32 {
        // 1 and 2⁻⁷ in bf16: the sums grow without overflow.
        let one = _mm512_set1_ps(1.0);
        let (a, b) = (
            _mm512_cvtne2ps_pbh(one, one),
            _mm512_cvtne2ps_pbh(_mm512_set1_ps(1.0 / 128.0), _mm512_set1_ps(1.0 / 128.0)),
        );
        let mut acc = [_mm512_setzero_ps(); 12];
        for _ in 0..iters {
            for c in acc.iter_mut() {
                *c = _mm512_dpbf16_ps(*c, a, b);
            }
        }
        let sum = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &c| _mm512_add_ps(s, c));
        _mm512_reduce_add_ps(sum)
    }

    /// `iters` rounds of twelve f32 `vfmadd`, returning the sum.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and FMA.
    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn f32_fmas(iters: usize) -> f32 {
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_setzero_ps(); 12];
        for _ in 0..iters {
            for c in acc.iter_mut() {
                *c = _mm512_fmadd_ps(*c, a, b);
            }
        }
        let sum = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &c| _mm512_add_ps(s, c));
        _mm512_reduce_add_ps(sum)
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    {
        if !(is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bf16")
            && is_x86_feature_detected!("fma"))
        {
            println!("this CPU has no AVX512_BF16");
            return;
        }
        let iters = 20_000_000;
        let gflops = |flops_per_round: f64, run: &dyn Fn() -> f32| {
            let start = std::time::Instant::now();
            std::hint::black_box(run());
            iters as f64 * flops_per_round / start.elapsed().as_secs_f64() / 1e9
        };
        for _ in 0..3 {
            // Each instruction: 16 lanes × 2 products × 2 flops for bf16, 16 × 2 for f32.
            // SAFETY: the features were detected above.
            let bf16 = gflops(12.0 * 64.0, &|| unsafe {
                x86::bf16_dots(std::hint::black_box(iters))
            });
            let f32 = gflops(12.0 * 32.0, &|| unsafe {
                x86::f32_fmas(std::hint::black_box(iters))
            });
            println!(
                "bf16 dot products {bf16:.1} GFLOP/s, f32 FMAs {f32:.1} GFLOP/s: {:.2}×",
                bf16 / f32
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    println!("x86-64 only");
}
