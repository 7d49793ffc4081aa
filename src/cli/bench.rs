//! `backprop bench`: the speed of the book's workloads on this machine.

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::bench::{
    DEEP_CONV_POSITIONS, TWO_LAYER_PRODUCTS, conv_step_flops, fma_peak, gemm_square,
    peak_rss_bytes, products, random_mnist_like, simple_conv_step_flops, step_flops, train_steps,
};
use crate::error::Result;
use crate::nets::{Arch, ConvParam, Network};
use crate::optim::{Adam, Sgd};
use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// TwoLayerNet 784-50-10, batch 100, SGD: training steps per second.
    Mlp,
    /// SimpleConvNet (conv 30×5×5, pool 2×2, Affine 4320×100, Affine 100×10) on 1×28×28,
    /// batch 100, Adam (lr 0.001), as the book trains it: training steps per second.
    Conv,
    /// DeepConvNet (§8.1.1: six 3×3 convolutions, three poolings, Affine 1024×50 and 50×10
    /// with dropout) on 1×28×28, batch 100, Adam (lr 0.001), as the book trains it: training
    /// steps per second.
    Deep,
    /// Only the matrix products of a TwoLayerNet step (`mlp`), at its shapes and through the
    /// same kernels, one after another: how fast the step could be if it were nothing else.
    MlpProducts,
    /// f32 matrix product 1024×1024×1024: GFLOP/s.
    Gemm,
    /// f32 fused multiply-add throughput with no memory traffic, on `--threads` cores at
    /// once: the machine's ceiling for every GFLOP/s figure above.
    Peak,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    workload: Workload,
    /// Seconds to time (after a warm-up).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let (name, m) = match args.workload {
        Workload::Mlp => {
            let data = random_mnist_like(60_000, 1);
            let arch = Arch::TwoLayer {
                hidden: 50,
                weight_init_std: 0.01,
            };
            let mut net: Network<f32> = arch.build(data.image_shape, 10, &mut Rng::new(0))?;
            let flops = step_flops(&mut net, 100);
            let m = train_steps(
                &mut net,
                &mut Sgd::new(0.1),
                &data,
                arch.layout(),
                100,
                args.seconds,
                flops,
            )?;
            ("mlp", m)
        }
        Workload::Conv => {
            let data = random_mnist_like(60_000, 1);
            let arch = Arch::SimpleConv {
                conv: ConvParam::default(),
                hidden: 100,
                weight_init_std: 0.01,
            };
            let mut net: Network<f32> = arch.build(data.image_shape, 10, &mut Rng::new(0))?;
            let flops = simple_conv_step_flops(&mut net, 100, 24 * 24);
            let m = train_steps(
                &mut net,
                &mut Adam::new(0.001, 0.9, 0.999),
                &data,
                arch.layout(),
                100,
                args.seconds,
                flops,
            )?;
            ("conv", m)
        }
        Workload::Deep => {
            let data = random_mnist_like(60_000, 1);
            let arch = Arch::DeepConv { hidden: 50 };
            let mut net: Network<f32> = arch.build(data.image_shape, 10, &mut Rng::new(0))?;
            let flops = conv_step_flops(&mut net, 100, &DEEP_CONV_POSITIONS);
            let m = train_steps(
                &mut net,
                &mut Adam::new(0.001, 0.9, 0.999),
                &data,
                arch.layout(),
                100,
                args.seconds,
                flops,
            )?;
            ("deep", m)
        }
        Workload::MlpProducts => (
            "mlp-products",
            products::<f32>(&TWO_LAYER_PRODUCTS, args.seconds),
        ),
        Workload::Gemm => ("gemm", gemm_square::<f32>(1024, args.seconds)),
        Workload::Peak => ("peak", fma_peak(crate::linalg::threads(), args.seconds)),
    };
    let flops = m.flops_per_rep;
    let rss = peak_rss_bytes().map(|b| b as f64 / 1e6);
    // The f32 walks the kernel planner chose for this run's products (m×k×n: walk).
    #[cfg(target_arch = "x86_64")]
    let kernels: Vec<String> = crate::linalg::plan::chosen()
        .into_iter()
        .map(|(key, walk)| {
            let t = if key.a_transposed { "ᵀ" } else { "" };
            let name = crate::linalg::plan::walk_name(walk);
            format!("{}{t}×{}×{}: {name}", key.m, key.k, key.n)
        })
        .collect();
    #[cfg(not(target_arch = "x86_64"))]
    let kernels: Vec<String> = Vec::new();
    if args.json {
        println!(
            "{}",
            json!({"runner": "backprop", "workload": name, "per_sec": m.per_sec,
                   "gflops": m.gflops, "flops_per_rep": flops, "reps": m.reps,
                   "seconds": m.seconds, "cpu_seconds": m.cpu_seconds,
                   "cpu_per_sec": m.cpu_per_sec(), "peak_rss_mb": rss, "kernels": kernels})
        );
    } else {
        let cpu = m.cpu_seconds.map_or(String::new(), |c| {
            format!(
                "; on-CPU {:.1}/s, {:.1} GFLOP/s ({c:.2} CPU s)",
                m.reps as f64 / c,
                flops * m.reps as f64 / c / 1e9
            )
        });
        if !kernels.is_empty() {
            println!("planned kernels: {}", kernels.join(", "));
        }
        println!(
            "{name}: {:.1}/s, {:.1} GFLOP/s ({} reps in {:.2} s){cpu}, peak RSS {}",
            m.per_sec,
            m.gflops,
            m.reps,
            m.seconds,
            rss.map_or("unknown".into(), |r| format!("{r:.0} MB"))
        );
    }
    Ok(())
}
