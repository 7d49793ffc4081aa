//! `backprop bench`: the speed of the book's workloads on this machine. The work is
//! [`crate::bench::run`].

use clap::Args;

use super::args::named;
use crate::bench::Workload;
use crate::error::Result;

/// The workloads by name (help lines as `--help` lists them).
const WORKLOADS: &[(&str, &str, Workload)] = &[
    (
        "mlp",
        "TwoLayerNet 784-50-10, batch 100, SGD: training steps per second",
        Workload::Mlp,
    ),
    (
        "conv",
        "SimpleConvNet (conv 30×5×5, pool 2×2, Affine 4320×100, Affine 100×10) on 1×28×28, \
         batch 100, Adam (lr 0.001), as the book trains it: training steps per second",
        Workload::Conv,
    ),
    (
        "deep",
        "DeepConvNet (§8.1.1: six 3×3 convolutions, three poolings, Affine 1024×50 and 50×10 \
         with dropout) on 1×28×28, batch 100, Adam (lr 0.001), as the book trains it: training \
         steps per second",
        Workload::Deep,
    ),
    (
        "mlp-products",
        "Only the matrix products of a TwoLayerNet step (`mlp`), at its shapes and through the \
         same kernels, one after another: how fast the step could be if it were nothing else",
        Workload::MlpProducts,
    ),
    (
        "conv-products",
        "Only the matrix products of a SimpleConvNet step (`conv`), at its shapes and through \
         the same kernels, one after another: how fast the step could be if it were nothing else",
        Workload::ConvProducts,
    ),
    (
        "gemm",
        "f32 matrix product 1024×1024×1024: GFLOP/s",
        Workload::Gemm,
    ),
    (
        "peak",
        "f32 fused multiply-add throughput with no memory traffic, on `--threads` cores at \
         once: the machine's ceiling for every GFLOP/s figure above",
        Workload::Peak,
    ),
];

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_parser = named(WORKLOADS))]
    workload: Workload,
    /// Seconds to time (after a warm-up).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let record = crate::bench::run(args.workload, args.seconds)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&record).expect("a record serialises")
        );
    } else {
        println!("{}", record.text());
    }
    Ok(())
}
