//! Speed measurements of the book's workloads, shared by `backprop bench` and
//! `bench/compare.sh`: training steps per second of a network on batches like the book's, and
//! GEMM throughput.

use std::time::Instant;

use ndarray::Array2;

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
    /// Steps (or products) timed.
    pub reps: usize,
    /// Seconds timed.
    pub seconds: f64,
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
    let start = Instant::now();
    let mut reps = 0;
    while reps < 10 || start.elapsed().as_secs_f64() < min_seconds {
        step(net);
        reps += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(Measurement {
        per_sec: reps as f64 / seconds,
        gflops: flops_per_step * reps as f64 / seconds / 1e9,
        reps,
        seconds,
    })
}

/// Times `c = a · b` for square `n × n` matrices.
pub fn gemm_square<F: Float>(n: usize, min_seconds: f64) -> Measurement {
    let mut rng = Rng::new(0);
    let a = Array2::from_shape_simple_fn((n, n), || F::lit(rng.normal()));
    let b = Array2::from_shape_simple_fn((n, n), || F::lit(rng.normal()));
    let mut c = Array2::zeros((n, n));
    gemm(F::one(), a.view(), b.view(), F::zero(), &mut c);
    let start = Instant::now();
    let mut reps = 0;
    while reps < 3 || start.elapsed().as_secs_f64() < min_seconds {
        gemm(F::one(), a.view(), b.view(), F::zero(), &mut c);
        reps += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    Measurement {
        per_sec: reps as f64 / seconds,
        gflops: 2.0 * (n * n * n) as f64 * reps as f64 / seconds / 1e9,
        reps,
        seconds,
    }
}

/// A dataset of `len` random 28×28 images with random labels, for timing when MNIST is not
/// at hand (the speed of these nets does not depend on the pixel values).
pub fn random_mnist_like(len: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    Dataset {
        name: "random-28x28".into(),
        images: (0..len * 784).map(|_| rng.below(256) as u8).collect(),
        labels: (0..len).map(|_| rng.below(10) as u8).collect(),
        image_shape: [1, 28, 28],
        max_value: 255,
        class_names: (0..10).map(|d| d.to_string()).collect(),
    }
}
