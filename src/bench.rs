//! Speed measurements of the book's workloads, shared by `backprop bench` and
//! `bench/compare.sh`: training steps per second of a network on batches like the book's, and
//! GEMM throughput.

use std::time::Instant;

use ndarray::Array2;
use rayon::prelude::*;

use crate::cpu::{self, Simd};
use crate::data::{Dataset, Layout};
use crate::error::Result;
use crate::float::Float;
use crate::functions::Targets;
use crate::linalg::gemm;
use crate::nets::Network;
use crate::optim::Optimizer;
use crate::rng::Rng;

/// What one measurement found.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Training steps (or products) per second.
    pub per_sec: f64,
    /// Floating-point operations per second, in billions.
    pub gflops: f64,
    /// Floating-point operations in one rep, as counted (not derived from the rate, so it
    /// stays exact).
    pub flops_per_rep: f64,
    /// Steps (or products) timed.
    pub reps: usize,
    /// Seconds timed.
    pub seconds: f64,
    /// On-CPU seconds of all the process's threads over the same reps, if the OS says
    /// ([`cpu_seconds`]); on a loaded machine `reps / cpu_seconds` is the figure that means
    /// something for one thread.
    pub cpu_seconds: Option<f64>,
}

impl Measurement {
    fn new(reps: usize, seconds: f64, cpu_seconds: Option<f64>, flops_per_rep: f64) -> Self {
        Measurement {
            per_sec: reps as f64 / seconds,
            gflops: flops_per_rep * reps as f64 / seconds / 1e9,
            flops_per_rep,
            reps,
            seconds,
            cpu_seconds,
        }
    }

    /// Reps per on-CPU second (all threads), if known.
    pub fn cpu_per_sec(&self) -> Option<f64> {
        self.cpu_seconds.map(|c| self.reps as f64 / c)
    }
}

/// Seconds that all threads of this process have spent on a CPU, from Linux's
/// `/proc/self/task/*/schedstat` (nanoseconds, unlike the 10 ms ticks of `getrusage` on some
/// kernels); `None` elsewhere. Wall-clock time on a machine shared with other jobs counts
/// their time too; this does not.
pub fn cpu_seconds() -> Option<f64> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// Peak resident memory of this process so far, in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Floating-point operations of one training step's matrix products: forward `2·N·in·out`
/// per Affine, backward the same again for `dW` and, except for the first layer, for `dx`.
pub fn step_flops<F: Float>(net: &mut Network<F>, batch: usize) -> f64 {
    let mut flops = 0.0;
    let mut first = true;
    for p in net.params() {
        if p.kind == crate::layers::ParamKind::Weight && p.value.ndim() == 2 {
            let per = 2.0 * batch as f64 * p.value.len() as f64;
            flops += if first { 2.0 * per } else { 3.0 * per };
            first = false;
        }
    }
    flops
}

/// [`step_flops`] for a SimpleConvNet whose convolution has `positions` output positions per
/// image (24·24 for 5×5 filters on 28×28): [`conv_step_flops`] with one convolution.
pub fn simple_conv_step_flops<F: Float>(
    net: &mut Network<F>,
    batch: usize,
    positions: usize,
) -> f64 {
    conv_step_flops(net, batch, &[positions])
}

/// The output positions per image of DeepConvNet's six convolutions on 28×28 images: 28·28
/// twice, 14·14, 16·16 (the pad-2 layer), 8·8 twice.
pub const DEEP_CONV_POSITIONS: [usize; 6] = [784, 784, 196, 256, 64, 64];

/// [`step_flops`] for a network that starts with a convolution, whose convolutions (in order)
/// have `positions[i]` output positions per image: each filter bank `(FN, C, FH, FW)` costs
/// `2·N·positions·FN·C·FH·FW` forward, the same for `dW` and, except for the first layer
/// (which computes no `dx`), for `dcol`; each Affine `2·N·in·out` three times (none is
/// first).
///
/// # Panics
/// If the network has a different number of convolutions than `positions`.
pub fn conv_step_flops<F: Float>(net: &mut Network<F>, batch: usize, positions: &[usize]) -> f64 {
    let weights: Vec<(usize, usize)> = net
        .params()
        .iter()
        .filter(|p| p.kind == crate::layers::ParamKind::Weight)
        .map(|p| (p.value.ndim(), p.value.len()))
        .collect();
    let convs: Vec<usize> = weights
        .iter()
        .filter(|(d, _)| *d == 4)
        .map(|(_, l)| *l)
        .collect();
    assert_eq!(
        convs.len(),
        positions.len(),
        "one position count per convolution"
    );
    let conv: f64 = convs
        .iter()
        .zip(positions)
        .enumerate()
        .map(|(i, (&len, &p))| {
            let products = if i == 0 { 2.0 } else { 3.0 };
            products * 2.0 * (batch * p * len) as f64
        })
        .sum();
    let affine: f64 = weights
        .iter()
        .filter(|(d, _)| *d == 2)
        .map(|(_, len)| 3.0 * 2.0 * (batch * len) as f64)
        .sum();
    conv + affine
}

/// Times training steps of `net` on batches of `batch` drawn with replacement from `data`
/// (the book's `np.random.choice`), for at least `min_seconds` after a short warm-up.
pub fn train_steps<F: Float>(
    net: &mut Network<F>,
    opt: &mut dyn Optimizer<F>,
    data: &Dataset,
    layout: Layout,
    batch: usize,
    min_seconds: f64,
    flops_per_step: f64,
) -> Result<Measurement> {
    let mut rng = Rng::stream(0, "bench");
    let mut labels = Vec::with_capacity(batch);
    let mut indices = Vec::with_capacity(batch);
    let mut step = |net: &mut Network<F>| {
        indices.clear();
        indices.extend((0..batch).map(|_| rng.below(data.len())));
        let x = data.batch::<F>(&indices, layout, &mut labels);
        net.gradient(x, Targets::Labels(&labels));
        opt.update(&mut net.params());
    };
    for _ in 0..5 {
        step(net);
    }
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let mut reps = 0;
    while reps < 10 || start.elapsed().as_secs_f64() < min_seconds {
        step(net);
        reps += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    Ok(Measurement::new(reps, seconds, cpu, flops_per_step))
}

/// Times `c = a · b` for square `n × n` matrices.
pub fn gemm_square<F: Float>(n: usize, min_seconds: f64) -> Measurement {
    let mut rng = Rng::new(0);
    let a = Array2::from_shape_simple_fn((n, n), || F::lit(rng.normal()));
    let b = Array2::from_shape_simple_fn((n, n), || F::lit(rng.normal()));
    let mut c = Array2::zeros((n, n));
    gemm(F::one(), a.view(), b.view(), F::zero(), &mut c);
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let mut reps = 0;
    while reps < 3 || start.elapsed().as_secs_f64() < min_seconds {
        gemm(F::one(), a.view(), b.view(), F::zero(), &mut c);
        reps += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    Measurement::new(reps, seconds, cpu, 2.0 * (n * n * n) as f64)
}

/// One matrix product of a training step, `C (m×n) = A (m×k) · B (k×n)`, with `A` or `B`
/// read transposed from storage where the layer reads it so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    /// What the product computes, in the layer's terms (`x·W1`, `xᵀ·dout`).
    pub name: &'static str,
    /// Rows of `C`.
    pub m: usize,
    /// The summed dimension.
    pub k: usize,
    /// Columns of `C`.
    pub n: usize,
    /// `A` is stored `k × m` and read transposed.
    pub a_transposed: bool,
    /// `B` is stored `n × k` and read transposed.
    pub b_transposed: bool,
}

impl Product {
    /// `2·m·k·n`.
    pub fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }
}

/// The matrix products of one TwoLayerNet step (784-50-10, batch 100), as its two Affine
/// layers make them ([`crate::layers::Affine`]): forward `x·W`, backward `xᵀ·dout` for `dW`,
/// and `dout·Wᵀ` for `dx` of the second layer only (the first needs no `dx`). Their flops are
/// [`step_flops`] of that net.
pub const TWO_LAYER_PRODUCTS: [Product; 5] = [
    Product::new("x·W1", 100, 784, 50, false, false),
    Product::new("h·W2", 100, 50, 10, false, false),
    Product::new("hᵀ·dout (dW2)", 50, 100, 10, true, false),
    Product::new("dout·W2ᵀ (dx2)", 100, 10, 50, false, true),
    Product::new("xᵀ·dout (dW1)", 784, 100, 50, true, false),
];

impl Product {
    const fn new(
        name: &'static str,
        m: usize,
        k: usize,
        n: usize,
        a_transposed: bool,
        b_transposed: bool,
    ) -> Self {
        Product {
            name,
            m,
            k,
            n,
            a_transposed,
            b_transposed,
        }
    }
}

/// Times `products` one after another through [`gemm`] (the kernels the layers get), one rep
/// being all of them: with [`TWO_LAYER_PRODUCTS`], what a TwoLayerNet step would cost if it
/// were nothing but its products. The operands stay the same from rep to rep, so they are in
/// cache as a step's are (a step's are the batch and the weights it has just touched).
pub fn products<F: Float>(products: &[Product], min_seconds: f64) -> Measurement {
    let mut rng = Rng::new(0);
    let mut random =
        |rows, cols| Array2::from_shape_simple_fn((rows, cols), || F::lit(rng.normal()));
    let mut operands: Vec<_> = products
        .iter()
        .map(|p| {
            let a = if p.a_transposed {
                random(p.k, p.m)
            } else {
                random(p.m, p.k)
            };
            let b = if p.b_transposed {
                random(p.n, p.k)
            } else {
                random(p.k, p.n)
            };
            (a, b, Array2::<F>::zeros((p.m, p.n)))
        })
        .collect();
    let mut rep = || {
        for (p, (a, b, c)) in products.iter().zip(&mut operands) {
            let a = if p.a_transposed { a.t() } else { a.view() };
            let b = if p.b_transposed { b.t() } else { b.view() };
            gemm(F::one(), a, b, F::zero(), c);
        }
    };
    for _ in 0..5 {
        rep();
    }
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let mut reps = 0;
    while reps < 10 || start.elapsed().as_secs_f64() < min_seconds {
        rep();
        reps += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let flops = products.iter().map(Product::flops).sum();
    Measurement::new(reps, seconds, cpu, flops)
}

/// Rounds of multiply-adds per call of [`fma_block`].
const FMA_ROUNDS: usize = 1 << 16;

/// One block of independent f32 multiply-adds at the widest width `simd` allows
/// ([`cpu::active`]); returns the flops done. Written with intrinsics: there is nothing to
/// compute, only instructions to issue, and the accumulators must stay in registers.
fn fma_block(simd: Simd) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        /// 16 chains of 16 lanes: 16 of the 32 AVX-512 registers.
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512() -> f64 {
            let (a, b) = std::hint::black_box((_mm512_set1_ps(0.999_999_9), _mm512_set1_ps(1e-7)));
            let mut acc = [_mm512_set1_ps(1.0); 16];
            for _ in 0..std::hint::black_box(FMA_ROUNDS) {
                for v in acc.iter_mut() {
                    *v = _mm512_fmadd_ps(*v, a, b);
                }
            }
            let sum = acc
                .iter()
                .fold(_mm512_setzero_ps(), |s, &v| _mm512_add_ps(s, v));
            std::hint::black_box(_mm512_reduce_add_ps(sum));
            (FMA_ROUNDS * 16 * 16 * 2) as f64
        }
        /// 12 chains of 8 lanes: with the two operands, 14 of AVX2's 16 registers.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2() -> f64 {
            let (a, b) = std::hint::black_box((_mm256_set1_ps(0.999_999_9), _mm256_set1_ps(1e-7)));
            let mut acc = [_mm256_set1_ps(1.0); 12];
            for _ in 0..std::hint::black_box(FMA_ROUNDS) {
                for v in acc.iter_mut() {
                    *v = _mm256_fmadd_ps(*v, a, b);
                }
            }
            let sum = acc
                .iter()
                .fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
            let mut lanes = [0f32; 8];
            // SAFETY: `lanes` holds the 8 values stored.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
            std::hint::black_box(lanes);
            (FMA_ROUNDS * 12 * 8 * 2) as f64
        }
        // SAFETY (both): `simd` comes from `cpu::active`, a level the CPU supports.
        if simd >= Simd::Avx512 {
            return unsafe { avx512() };
        }
        if simd >= Simd::Avx2 {
            return unsafe { avx2() };
        }
    }
    // Elsewhere: multiply-add chains the compiler may vectorise for the baseline target.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = simd;
    let (a, b) = (
        std::hint::black_box(0.999_999_9f32),
        std::hint::black_box(1e-7f32),
    );
    let mut acc = [1.0f32; 32];
    for _ in 0..std::hint::black_box(FMA_ROUNDS) {
        for v in acc.iter_mut() {
            *v = *v * a + b;
        }
    }
    std::hint::black_box(acc.iter().sum::<f32>());
    (FMA_ROUNDS * 32 * 2) as f64
}

/// The f32 multiply-add peak of this machine on `threads` threads at once (GFLOP/s): the
/// ceiling for every GFLOP/s figure of the other workloads. Each thread runs independent
/// fused multiply-adds at the CPU's widest vector width, with no memory traffic.
pub fn fma_peak(threads: usize, min_seconds: f64) -> Measurement {
    let simd = cpu::active();
    fma_block(simd);
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let mut reps = 0;
    let mut flops_per_rep = 0.0;
    while reps < 3 || start.elapsed().as_secs_f64() < min_seconds {
        flops_per_rep = (0..threads.max(1))
            .into_par_iter()
            .map(|_| fma_block(simd))
            .sum();
        reps += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    Measurement::new(reps, seconds, cpu, flops_per_rep)
}

/// A dataset of `len` random 28×28 images with random labels, for timing when MNIST is not
/// at hand (the speed of these nets does not depend on the pixel values).
pub fn random_mnist_like(len: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let ds = Dataset {
        name: "random-28x28".into(),
        images: (0..len * 784).map(|_| rng.below(256) as u8).collect(),
        labels: (0..len).map(|_| rng.below(10) as u8).collect(),
        image_shape: [1, 28, 28],
        max_value: 255,
        class_names: (0..10).map(|d| d.to_string()).collect(),
    };
    crate::alloc::prefer_huge_pages(&ds.images);
    ds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::Arch;

    /// The products timed for TwoLayerNet are the step's: the same flops as the step is
    /// credited with, and the shapes of its weights.
    #[test]
    fn two_layer_products_are_the_steps_products() {
        let arch = Arch::TwoLayer {
            hidden: 50,
            weight_init_std: 0.01,
        };
        let mut net: Network<f32> = arch.build([1, 28, 28], 10, &mut Rng::new(0)).unwrap();
        let listed: f64 = TWO_LAYER_PRODUCTS.iter().map(Product::flops).sum();
        // Hand-counted: forward 100·784·50 and 100·50·10, dW the same, dx of the second only.
        let by_hand = 2.0 * (2.0 * 100.0 * 784.0 * 50.0 + 3.0 * 100.0 * 50.0 * 10.0);
        assert_eq!(listed, by_hand);
        assert_eq!(step_flops(&mut net, 100), by_hand);
        // Each forward product multiplies a batch by a weight matrix of the net.
        let shapes: Vec<Vec<usize>> = net
            .params()
            .iter()
            .filter(|p| p.kind == crate::layers::ParamKind::Weight)
            .map(|p| p.value.shape().to_vec())
            .collect();
        assert_eq!(shapes, [vec![784, 50], vec![50, 10]]);
        for (p, w) in TWO_LAYER_PRODUCTS[..2].iter().zip(&shapes) {
            assert_eq!((p.m, p.k, p.n), (100, w[0], w[1]), "{}", p.name);
        }
    }

    /// A products measurement counts every listed product's flops once per rep.
    #[test]
    fn a_products_rep_is_every_product_once() {
        let m = products::<f32>(&TWO_LAYER_PRODUCTS[1..3], 0.0);
        assert!(m.reps >= 10);
        assert_eq!(m.flops_per_rep, 2.0 * (100.0 * 50.0 * 10.0 * 2.0));
    }
}
