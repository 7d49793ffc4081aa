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
use crate::nets::{Arch, ConvParam, Network};
use crate::optim::{Adam, Optimizer, Sgd};
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

/// Seconds that all threads of this process have spent on a CPU
/// (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`, exact to the nanosecond); `None` off 64-bit
/// Linux. Wall-clock time on a machine shared with other jobs counts their time too; this
/// does not.
///
/// Not `/proc/self/task/*/schedstat`, which this used to read: the kernel brings a running
/// thread's figure there up to date only at a scheduler tick or a switch, so a stretch of
/// work shorter than a tick (`bench --seconds 0`: ten steps, 2 ms) could count as 0 s.
pub fn cpu_seconds() -> Option<f64> {
    cpu_clock(2) // CLOCK_PROCESS_CPUTIME_ID
}

/// Seconds that the calling thread has spent on a CPU
/// (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`), for timing one thread's work on a busy machine
/// (`examples/gemm_shapes.rs`); `None` off 64-bit Linux.
pub fn thread_cpu_seconds() -> Option<f64> {
    cpu_clock(3) // CLOCK_THREAD_CPUTIME_ID
}

/// `clock_gettime(clock)` in seconds, on 64-bit Linux.
fn cpu_clock(clock: i32) -> Option<f64> {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        unsafe extern "C" {
            fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
        }
        let mut t = Timespec { sec: 0, nsec: 0 };
        // SAFETY: `t` is a timespec with the 64-bit Linux layout, for the call to fill in.
        let rc = unsafe { clock_gettime(clock, &mut t) };
        (rc == 0).then_some(t.sec as f64 + t.nsec as f64 * 1e-9)
    }
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    {
        let _ = clock;
        None
    }
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
    Ok(timed(10, min_seconds, flops_per_step, || step(net)))
}

/// Calls `rep` at least `min_reps` times and for at least `min_seconds`, and measures the
/// calls (wall and on-CPU time), each credited with `flops_per_rep`. Warming up is the
/// caller's.
fn timed(
    min_reps: usize,
    min_seconds: f64,
    flops_per_rep: f64,
    mut rep: impl FnMut(),
) -> Measurement {
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let mut reps = 0;
    while reps < min_reps || start.elapsed().as_secs_f64() < min_seconds {
        rep();
        reps += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    Measurement::new(reps, seconds, cpu, flops_per_rep)
}

/// Times `c = a · b` for square `n × n` matrices.
pub fn gemm_square<F: Float>(n: usize, min_seconds: f64) -> Measurement {
    let mut rng = Rng::new(0);
    let a = Array2::from_shape_simple_fn((n, n), || F::lit(rng.normal()));
    let b = Array2::from_shape_simple_fn((n, n), || F::lit(rng.normal()));
    let mut c = Array2::zeros((n, n));
    let mut product = || gemm(F::one(), a.view(), b.view(), F::zero(), &mut c);
    product();
    timed(3, min_seconds, 2.0 * (n * n * n) as f64, product)
}

/// What `backprop bench` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// TwoLayerNet 784-50-10, batch 100, SGD: training steps per second.
    Mlp,
    /// SimpleConvNet (conv 30×5×5, pool 2×2, Affine 4320×100, Affine 100×10) on 1×28×28,
    /// batch 100, Adam (lr 0.001), as the book trains it: training steps per second.
    Conv,
    /// DeepConvNet (§8.1.1: six 3×3 convolutions, three poolings, Affine 1024×50 and 50×10
    /// with dropout) on 1×28×28, batch 100, Adam (lr 0.001), as the book trains it: training
    /// steps per second.
    Deep,
    /// Only the matrix products of a TwoLayerNet step ([`TWO_LAYER_PRODUCTS`]), at its shapes
    /// and through the same kernels, one after another: how fast the step could be if it were
    /// nothing else.
    MlpProducts,
    /// Only the matrix products of a SimpleConvNet step ([`simple_conv_products`]), at its
    /// shapes and through the same kernels: the ceiling of the `conv` figure.
    ConvProducts,
    /// f32 matrix product 1024×1024×1024: GFLOP/s.
    Gemm,
    /// f32 fused multiply-add throughput with no memory traffic, on [`linalg::threads`]
    /// cores at once: the machine's ceiling for every GFLOP/s figure above ([`fma_peak`]).
    ///
    /// [`linalg::threads`]: crate::linalg::threads
    Peak,
}

impl Workload {
    /// The workload's name, as `backprop bench` and its JSON spell it.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Mlp => "mlp",
            Workload::Conv => "conv",
            Workload::Deep => "deep",
            Workload::MlpProducts => "mlp-products",
            Workload::ConvProducts => "conv-products",
            Workload::Gemm => "gemm",
            Workload::Peak => "peak",
        }
    }
}

/// One measurement of a [`Workload`] as `backprop bench --json` prints it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Record {
    /// Who ran it: `"backprop"` (`bench/compare.sh` adds the thread count).
    pub runner: &'static str,
    /// [`Workload::name`].
    pub workload: &'static str,
    /// [`Measurement::per_sec`].
    pub per_sec: f64,
    /// [`Measurement::gflops`].
    pub gflops: f64,
    /// [`Measurement::flops_per_rep`].
    pub flops_per_rep: f64,
    /// [`Measurement::reps`].
    pub reps: usize,
    /// [`Measurement::seconds`].
    pub seconds: f64,
    /// [`Measurement::cpu_seconds`].
    pub cpu_seconds: Option<f64>,
    /// [`Measurement::cpu_per_sec`].
    pub cpu_per_sec: Option<f64>,
    /// The process's peak resident memory so far, in MB ([`peak_rss_bytes`]).
    pub peak_rss_mb: Option<f64>,
    /// The f32 walks the kernel planner chose for this process's products, `m×k×n: walk`
    /// (`ᵀ` after `m` when `A` is read transposed); empty off x86-64.
    pub kernels: Vec<String>,
}

impl Record {
    /// The measurement as one line of text, after a line naming the planned kernels if any.
    pub fn text(&self) -> String {
        let cpu = self.cpu_seconds.map_or(String::new(), |c| {
            format!(
                "; on-CPU {:.1}/s, {:.1} GFLOP/s ({c:.2} CPU s)",
                self.reps as f64 / c,
                self.flops_per_rep * self.reps as f64 / c / 1e9
            )
        });
        let planned = if self.kernels.is_empty() {
            String::new()
        } else {
            format!("planned kernels: {}\n", self.kernels.join(", "))
        };
        format!(
            "{planned}{}: {:.1}/s, {:.1} GFLOP/s ({} reps in {:.2} s){cpu}, peak RSS {}",
            self.workload,
            self.per_sec,
            self.gflops,
            self.reps,
            self.seconds,
            self.peak_rss_mb
                .map_or("unknown".into(), |r| format!("{r:.0} MB"))
        )
    }
}

/// Measures `workload` for at least `seconds` (after a warm-up) on the threads
/// [`crate::linalg::threads`] allows: the training workloads on random MNIST-sized data
/// ([`random_mnist_like`]), seeded, so that two runs do the same work.
pub fn run(workload: Workload, seconds: f64) -> Result<Record> {
    let m = match workload {
        Workload::Mlp => {
            let arch = Arch::TwoLayer {
                hidden: 50,
                weight_init_std: 0.01,
            };
            net_steps(&arch, &mut Sgd::new(0.1), seconds, |net| {
                step_flops(net, 100)
            })?
        }
        Workload::Conv => {
            let arch = Arch::SimpleConv {
                conv: ConvParam::default(),
                hidden: 100,
                weight_init_std: 0.01,
            };
            net_steps(&arch, &mut Adam::new(0.001, 0.9, 0.999), seconds, |net| {
                simple_conv_step_flops(net, 100, 24 * 24)
            })?
        }
        Workload::Deep => net_steps(
            &Arch::DeepConv { hidden: 50 },
            &mut Adam::new(0.001, 0.9, 0.999),
            seconds,
            |net| conv_step_flops(net, 100, &DEEP_CONV_POSITIONS),
        )?,
        Workload::MlpProducts => products::<f32>(&TWO_LAYER_PRODUCTS, seconds),
        Workload::ConvProducts => simple_conv_products(seconds),
        Workload::Gemm => gemm_square::<f32>(1024, seconds),
        Workload::Peak => fma_peak(crate::linalg::threads(), seconds),
    };
    #[cfg(target_arch = "x86_64")]
    let kernels: Vec<String> = crate::linalg::plan::chosen()
        .into_iter()
        .map(|(key, walk)| {
            let t = if key.a_transposed { "ᵀ" } else { "" };
            let bt = if key.b_transposed { "ᵀ" } else { "" };
            let name = crate::linalg::plan::walk_name(walk);
            format!("{}{t}×{}×{}{bt}: {name}", key.m, key.k, key.n)
        })
        .collect();
    #[cfg(not(target_arch = "x86_64"))]
    let kernels: Vec<String> = Vec::new();
    Ok(Record {
        runner: "backprop",
        workload: workload.name(),
        per_sec: m.per_sec,
        gflops: m.gflops,
        flops_per_rep: m.flops_per_rep,
        reps: m.reps,
        seconds: m.seconds,
        cpu_seconds: m.cpu_seconds,
        cpu_per_sec: m.cpu_per_sec(),
        peak_rss_mb: peak_rss_bytes().map(|b| b as f64 / 1e6),
        kernels,
    })
}

/// Training steps of `arch` (f32, batch 100, 60,000 random MNIST-sized samples), credited
/// with `flops(net)` each.
fn net_steps(
    arch: &Arch,
    opt: &mut dyn Optimizer<f32>,
    seconds: f64,
    flops: impl FnOnce(&mut Network<f32>) -> f64,
) -> Result<Measurement> {
    let data = random_mnist_like(60_000, 1);
    let mut net: Network<f32> = arch.build(data.image_shape, 10, &mut Rng::new(0))?;
    let flops = flops(&mut net);
    train_steps(&mut net, opt, &data, arch.layout(), 100, seconds, flops)
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

/// Times `products` one after another through [`gemm`] (the kernels the layers get), one rep
/// being all of them: with [`TWO_LAYER_PRODUCTS`], what a TwoLayerNet step would cost if it
/// were nothing but its products. The operands stay the same from rep to rep, so they are in
/// cache as a step's are (a step's are the batch and the weights it has just touched).
pub fn products<F: Float>(products: &[Product], min_seconds: f64) -> Measurement {
    let mut operands = operands::<F>(products, &mut Rng::new(0));
    let mut rep = || multiply(products, &mut operands);
    for _ in 0..5 {
        rep();
    }
    let flops = products.iter().map(Product::flops).sum();
    timed(10, min_seconds, flops, rep)
}

/// Random `A`, `B` and a zero `C` for each of `products`, stored as the layers store them.
fn operands<F: Float>(
    products: &[Product],
    rng: &mut Rng,
) -> Vec<(Array2<F>, Array2<F>, Array2<F>)> {
    let mut random =
        |rows, cols| Array2::from_shape_simple_fn((rows, cols), || F::lit(rng.normal()));
    products
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
        .collect()
}

/// `C = A · B` for each of `products` through [`gemm`], one after another.
fn multiply<F: Float>(products: &[Product], operands: &mut [(Array2<F>, Array2<F>, Array2<F>)]) {
    for (p, (a, b, c)) in products.iter().zip(operands) {
        let a = if p.a_transposed { a.t() } else { a.view() };
        let b = if p.b_transposed { b.t() } else { b.view() };
        gemm(F::one(), a, b, F::zero(), c);
    }
}

/// The Affine products of one SimpleConvNet step (batch 100: the pooled 30×12×12 = 4,320
/// values → 100 → 10), as [`TWO_LAYER_PRODUCTS`] lists a TwoLayerNet's, with `dx` for both
/// layers (the first Affine passes its `dx` back to the pooling).
pub const SIMPLE_CONV_AFFINE_PRODUCTS: [Product; 6] = [
    Product::new("x·W2", 100, 4320, 100, false, false),
    Product::new("h·W3", 100, 100, 10, false, false),
    Product::new("hᵀ·dout (dW3)", 100, 100, 10, true, false),
    Product::new("dout·W3ᵀ (dx3)", 100, 10, 100, false, true),
    Product::new("xᵀ·dout (dW2)", 4320, 100, 100, true, false),
    Product::new("dout·W2ᵀ (dx2)", 100, 100, 4320, false, true),
];

/// The matrix products of one SimpleConvNet step (conv 30×5×5 on 1×28×28, then
/// [`SIMPLE_CONV_AFFINE_PRODUCTS`]; batch 100) through the kernels its layers call, one rep
/// being all of them: the convolution's `W · colₙᵀ + b` for each image
/// ([`crate::linalg::gemm_row_bias`], 30×25 · 25×576) and `dW = Σₙ doutₙ · colₙ`
/// ([`crate::linalg::sum_of_products_abt_made`], over the 100 images' 6.9 MB of `dout`), then
/// the Affine products ([`gemm`]). What the step would cost if it were nothing but its
/// products: the columns are made once, not per image (no `im2col`), and the forward writes
/// every image's output into one buffer. Its flops are [`simple_conv_step_flops`]'s.
pub fn simple_conv_products(min_seconds: f64) -> Measurement {
    use crate::linalg::{gemm_row_bias, sum_of_products_abt_made};
    const BATCH: usize = 100;
    let (filters, patch, positions) = (30, 25, 24 * 24);
    let mut rng = Rng::new(0);
    let mut random = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.normal() as f32).collect() };
    let (w, b) = (random(filters * patch), random(filters));
    let col_t = random(patch * positions);
    let dout = random(BATCH * filters * positions);
    let mut out = vec![0f32; filters * positions];
    let (mut scratch, mut dw) = (Vec::new(), vec![0f32; filters * patch]);
    let mut affine = operands::<f32>(&SIMPLE_CONV_AFFINE_PRODUCTS, &mut rng);
    let w_mat = ndarray::ArrayView2::from_shape((filters, patch), &w[..]).expect("W");
    let col_view = ndarray::ArrayView2::from_shape((patch, positions), &col_t[..]).expect("colᵀ");
    let mut rep = |first: bool| {
        for _ in 0..BATCH {
            let mut out = ndarray::ArrayViewMut2::from_shape((filters, positions), &mut out[..])
                .expect("out");
            gemm_row_bias(w_mat, col_view, &b, &mut out);
        }
        dw.fill(0.0);
        // Every image's colₙ is the same matrix: written into `scratch` by the first rep, and
        // still there for the others.
        let make = |_: usize, buf: &mut [f32]| {
            if first {
                buf.copy_from_slice(&col_t)
            }
        };
        sum_of_products_abt_made(
            filters,
            patch,
            positions,
            &dout,
            &mut scratch,
            make,
            &mut dw,
        );
        multiply(&SIMPLE_CONV_AFFINE_PRODUCTS, &mut affine);
    };
    rep(true);
    for _ in 0..4 {
        rep(false);
    }
    let conv = 2.0 * 2.0 * (BATCH * positions * filters * patch) as f64;
    let flops = conv
        + SIMPLE_CONV_AFFINE_PRODUCTS
            .iter()
            .map(Product::flops)
            .sum::<f64>();
    timed(10, min_seconds, flops, || rep(false))
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

    #[test]
    fn simple_conv_products_are_the_steps_products() {
        let arch = Arch::SimpleConv {
            conv: ConvParam::default(),
            hidden: 100,
            weight_init_std: 0.01,
        };
        let mut net: Network<f32> = arch.build([1, 28, 28], 10, &mut Rng::new(0)).unwrap();
        // Hand-counted: the convolution 2·100·576·(30·25) forward and again for dW (the first
        // layer makes no dx); each Affine 2·100·in·out three times.
        let conv = 2.0 * 2.0 * 100.0 * 576.0 * 750.0;
        let affine = 3.0 * 2.0 * 100.0 * (4320.0 * 100.0 + 100.0 * 10.0);
        assert_eq!(simple_conv_step_flops(&mut net, 100, 576), conv + affine);
        let listed: f64 = SIMPLE_CONV_AFFINE_PRODUCTS.iter().map(Product::flops).sum();
        assert_eq!(listed, affine);
        let measured = simple_conv_products(0.0);
        assert_eq!(measured.flops_per_rep, conv + affine);
        assert!(measured.reps >= 10 && measured.gflops > 0.0);
        // The Affine forward products multiply a batch by the net's Affine weights.
        let shapes: Vec<Vec<usize>> = net
            .params()
            .iter()
            .filter(|p| p.kind == crate::layers::ParamKind::Weight && p.value.ndim() == 2)
            .map(|p| p.value.shape().to_vec())
            .collect();
        assert_eq!(shapes, [vec![4320, 100], vec![100, 10]]);
        for (p, w) in SIMPLE_CONV_AFFINE_PRODUCTS[..2].iter().zip(&shapes) {
            assert_eq!((p.m, p.k, p.n), (100, w[0], w[1]), "{}", p.name);
        }
    }

    /// The on-CPU time of a short stretch of work is seen, however short: `bench --seconds 0`
    /// times ten steps, a few milliseconds, and its `cpu_per_sec` must still be a rate.
    #[test]
    fn cpu_seconds_sees_a_millisecond_of_work() {
        if !cfg!(all(target_os = "linux", target_pointer_width = "64")) {
            return;
        }
        for _ in 0..20 {
            let (start, cpu0) = (Instant::now(), cpu_seconds().unwrap());
            let mut x = 0u64;
            while start.elapsed().as_secs_f64() < 1e-3 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            // (The test harness runs other tests' threads in this process, so the time may
            // exceed the wall time: only its absence is an error.)
            let spent = cpu_seconds().unwrap() - cpu0;
            assert!(
                spent > 0.0,
                "no CPU time seen in {:?} of work",
                start.elapsed()
            );
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
