//! GFLOP/s of every walk the f32 planner chooses between (`linalg::plan::candidates`: tile
//! shape × packed or not) and of `matrixmultiply`, on the products of the book's nets and a
//! square one; best of ROUNDS interleaved rounds of on-CPU time, one thread. The planned walk
//! for each shape is printed last.
//!
//! `cargo run --release --example gemm_walks [ROUNDS]` (default 5; x86-64 with AVX-512, Linux).

use backprop::linalg::avx512::Walk;
use backprop::linalg::{Kernel, direct_walk, gemm, gemm_with, plan};
use backprop::rng::Rng;
use ndarray::{Array2, ArrayView2};

/// This thread's CPU time in seconds.
fn cpu_now() -> f64 {
    backprop::bench::thread_cpu_seconds().expect("64-bit Linux")
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    // (name, m, k, n, A transposed)
    let shapes = [
        ("in L1: 12×384×64", 12, 384, 64, false),
        ("in L2: 96×384×320", 96, 384, 320, false),
        ("mlp x·W1", 100, 784, 50, false),
        ("mlp dW1 xᵀ·dout", 784, 100, 50, true),
        ("aff x·W", 100, 4320, 100, false),
        ("aff dW xᵀ·dout", 4320, 100, 100, true),
        ("square 512", 512, 512, 512, false),
        ("square 1024", 1024, 1024, 1024, false),
    ];
    let walks: Vec<Walk> = plan::candidates();
    let mut rng = Rng::new(0);
    let data: Vec<_> = shapes
        .iter()
        .map(|&(_, m, k, n, ta)| {
            let mut r =
                |rows, cols| Array2::from_shape_simple_fn((rows, cols), || rng.normal() as f32);
            let a = if ta { r(k, m) } else { r(m, k) };
            (a, r(k, n), Array2::<f32>::zeros((m, n)))
        })
        .collect();
    let mut best = vec![vec![f64::INFINITY; walks.len() + 1]; shapes.len()];
    for _ in 0..rounds {
        for (i, (&(_, m, k, n, ta), (a, b, c))) in shapes.iter().zip(&data).enumerate() {
            let reps = ((3e8 / (2.0 * (m * k * n) as f64)) as usize).max(2);
            let av: ArrayView2<f32> = if ta { a.t() } else { a.view() };
            let mut c = c.clone();
            for (j, best) in best[i].iter_mut().enumerate() {
                let t0 = cpu_now();
                for _ in 0..reps {
                    match walks.get(j) {
                        Some(&w) => direct_walk(w, 1.0, av, b.view(), 0.0, c.view_mut()),
                        None => {
                            gemm_with(Kernel::MatrixMultiply, 1.0, av, b.view(), 0.0, c.view_mut())
                        }
                    }
                }
                *best = best.min((cpu_now() - t0) / reps as f64);
            }
        }
    }
    print!("{:<22}", "product (GFLOP/s)");
    for w in &walks {
        print!(" {:>13}", plan::walk_name(*w));
    }
    println!(" {:>14}  planned", "matrixmultiply");
    for ((&(name, m, k, n, ta), times), (a, b, _)) in shapes.iter().zip(&best).zip(&data) {
        let flops = 2.0 * (m * k * n) as f64;
        print!("{name:<22}");
        for t in times {
            print!(" {:>13.1}", flops / t / 1e9);
        }
        let av: ArrayView2<f32> = if ta { a.t() } else { a.view() };
        let mut c = Array2::<f32>::zeros((m, n));
        gemm(1.0, av, b.view(), 0.0, &mut c);
        let planned = plan::chosen()
            .into_iter()
            .find(|(key, _)| (key.m, key.k, key.n) == (m, k, n))
            .map_or("(unplanned)".to_string(), |(_, w)| plan::walk_name(w));
        println!("  {planned}");
    }
}
