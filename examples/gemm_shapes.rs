//! GFLOP/s of every matrix product in a training step of TwoLayerNet and SimpleConvNet (batch
//! 100, f32, one thread), with each of the kernels `linalg::gemm` chooses between (the `gemm`
//! crate and `matrixmultiply`), in the operand layouts the layers use.
//!
//! `cargo run --release --example gemm_shapes [ROUNDS]` (default 5). Each figure is the best
//! of ROUNDS interleaved rounds of on-CPU time (`bench::thread_cpu_seconds`), so that other
//! processes on a shared machine count as little as possible (64-bit Linux only).

use backprop::linalg::{Kernel, gemm_with};
use backprop::rng::Rng;
use ndarray::{Array2, ArrayView2};

/// This thread's CPU time in seconds.
fn cpu_now() -> f64 {
    backprop::bench::thread_cpu_seconds().expect("64-bit Linux")
}

/// One product `c = a · b`: `a` is `(m, k)`, transposed in storage when `ta`; likewise `b`.
struct Shape {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
}

fn view(x: &Array2<f32>, t: bool) -> ArrayView2<'_, f32> {
    if t { x.t() } else { x.view() }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let s = |name, m, k, n, ta, tb| Shape {
        name,
        m,
        k,
        n,
        ta,
        tb,
    };
    let shapes = [
        s("mlp fwd1  x·W1", 100, 784, 50, false, false),
        s("mlp dW1   xᵀ·dout", 784, 100, 50, true, false),
        // the same products with other operand layouts, and transposed (Cᵀ = Bᵀ·Aᵀ)
        s("  fwd1 x·(W1ᵀ)ᵀ", 100, 784, 50, false, true),
        s("  fwd1ᵀ W1ᵀ·xᵀ", 50, 784, 100, true, true),
        s("  fwd1ᵀ (W1ᵀ)·xᵀ", 50, 784, 100, false, true),
        s("  dW1 (xᵀ)·dout", 784, 100, 50, false, false),
        s("  dW1ᵀ doutᵀ·x", 50, 100, 784, true, false),
        s("mlp fwd2  h·W2", 100, 50, 10, false, false),
        s("mlp dW2   hᵀ·dout", 50, 100, 10, true, false),
        s("mlp dx2   dout·W2ᵀ", 100, 10, 50, false, true),
        s("conv fwd/img W·colᵀ", 30, 25, 576, false, true),
        s("  fwd/img W·(colᵀ)", 30, 25, 576, false, false),
        s("conv fwd all col·Wᵀ", 57600, 25, 30, false, true),
        s("conv fwd all W·colᵀ", 30, 25, 57600, false, true),
        s("conv dW/img dout·col", 30, 576, 25, false, false),
        s("  dW/img dout·(colᵀ)ᵀ", 30, 576, 25, false, true),
        s("conv dW all (30,NP)·col", 30, 57600, 25, false, false),
        s("conv dW all colᵀ·doutᵀ", 25, 57600, 30, true, true),
        s("aff fwd   x·W", 100, 4320, 100, false, false),
        s("aff dW    xᵀ·dout", 4320, 100, 100, true, false),
        s("aff dx    dout·Wᵀ", 100, 100, 4320, false, true),
        s("square 1024", 1024, 1024, 1024, false, false),
    ];
    let mut rng = Rng::new(0);
    let data: Vec<_> = shapes
        .iter()
        .map(|sh| {
            let mut r =
                |rows, cols| Array2::from_shape_simple_fn((rows, cols), || rng.normal() as f32);
            let a = if sh.ta { r(sh.k, sh.m) } else { r(sh.m, sh.k) };
            let b = if sh.tb { r(sh.n, sh.k) } else { r(sh.k, sh.n) };
            (a, b, Array2::<f32>::zeros((sh.m, sh.n)))
        })
        .collect();
    let mut best = vec![[f64::INFINITY; 3]; shapes.len()];
    for _ in 0..rounds {
        for (i, (sh, (a, b, c))) in shapes.iter().zip(&data).enumerate() {
            let flops = 2.0 * (sh.m * sh.k * sh.n) as f64;
            let reps = ((2e8 / flops) as usize).max(2);
            let mut c = c.clone();
            for (j, kernel) in [Kernel::GemmCrate, Kernel::MatrixMultiply, Kernel::Direct]
                .into_iter()
                .enumerate()
            {
                let (av, bv) = (view(a, sh.ta), view(b, sh.tb));
                let t0 = cpu_now();
                for _ in 0..reps {
                    gemm_with(kernel, 1.0, av, bv, 0.0, c.view_mut());
                }
                best[i][j] = best[i][j].min((cpu_now() - t0) / reps as f64);
            }
        }
    }
    println!(
        "{:<26} {:>8} {:>9} {:>15} {:>9}",
        "product (m×k×n)", "µs", "gemm", "matrixmultiply", "direct"
    );
    for (sh, [g, m, d]) in shapes.iter().zip(&best) {
        let flops = 2.0 * (sh.m * sh.k * sh.n) as f64;
        println!(
            "{:<26} {:>8.1} {:>6.1} GF {:>12.1} GF {:>6.1} GF   {}×{}×{}",
            sh.name,
            g * 1e6,
            flops / g / 1e9,
            flops / m / 1e9,
            flops / d / 1e9,
            sh.m,
            sh.k,
            sh.n
        );
    }
}
