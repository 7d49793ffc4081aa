//! Training speed of the book's SimpleConvNet in `f32`: steps per second at batch 100 on
//! random 1×28×28 input (MNIST's shape), and where the time of a step goes, layer by layer.
//!
//! `cargo run --release --example simple_conv_speed [STEPS] [deep]` (default 100 steps;
//! `deep` also times a few steps of DeepConvNet on the same input; `THREADS=2` in the
//! environment allows two threads, as `--threads 2` does). Times are the
//! thread's on-CPU time (`bench::thread_cpu_seconds`) where Linux provides it (so that
//! other processes on a busy machine do not count), wall time elsewhere; both are printed for
//! the whole-step figure.

use std::time::Instant;

/// Seconds this thread has spent on a CPU, or wall time since the first call where the
/// kernel does not say.
fn cpu_now() -> f64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    backprop::bench::thread_cpu_seconds()
        .unwrap_or_else(|| START.get_or_init(Instant::now).elapsed().as_secs_f64())
}

use backprop::functions::Targets;
use backprop::init::gaussian;
use backprop::layers::{Affine, Convolution, Layer, Pooling, Relu, SoftmaxWithLoss};
use backprop::nets::{ConvParam, DeepConvNet, SimpleConvNet};
use backprop::optim::{Optimizer, Sgd};
use backprop::rng::Rng;
use ndarray::{Array1, Array4};

const BATCH: usize = 100;

fn main() -> backprop::Result<()> {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    // Threads as `--threads` would allow them (default 1).
    let threads: usize = std::env::var("THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    backprop::parallel::use_threads(threads);
    // As the `backprop` command does: freed buffers stay in the process.
    backprop::alloc::keep_freed_memory();
    let mut rng = Rng::new(0);
    let x =
        Array4::<f32>::from_shape_simple_fn((BATCH, 1, 28, 28), || rng.uniform() as f32).into_dyn();
    let t: Vec<usize> = (0..BATCH).map(|_| rng.below(10)).collect();

    // The whole step, as training runs it: forward, loss, backward, SGD update.
    let mut net =
        SimpleConvNet::<f32>::new([1, 28, 28], ConvParam::default(), 100, 10, 0.01, &mut rng)?;
    let mut opt = Sgd::new(0.01);
    for _ in 0..5 {
        net.gradient(x.clone(), Targets::Labels(&t));
        opt.update(&mut net.params());
    }
    let (start, cpu0) = (Instant::now(), cpu_now());
    for _ in 0..steps {
        net.gradient(x.clone(), Targets::Labels(&t));
        opt.update(&mut net.params());
    }
    let (wall, cpu) = (start.elapsed().as_secs_f64(), cpu_now() - cpu0);
    println!(
        "SimpleConvNet f32, batch {BATCH}, 1×28×28, {steps} steps: {:.1} steps/s on-CPU \
         ({cpu:.3} s), {:.1} steps/s wall ({wall:.3} s)",
        steps as f64 / cpu,
        steps as f64 / wall
    );

    // The same layers one by one, to see where a step's time goes.
    let mut layers: Vec<(&str, Box<dyn Layer<f32>>)> = vec![
        ("conv 30×5×5", {
            let mut c = Convolution::new(
                gaussian((30, 1, 5, 5), 0.01, &mut rng),
                Array1::zeros(30),
                1,
                0,
            );
            c.set_input_grad(false);
            Box::new(c)
        }),
        ("relu", Box::new(Relu::new())),
        ("pool 2×2", Box::new(Pooling::new(2, 2, 2))),
        (
            "affine 4320×100",
            Box::new(Affine::new(
                gaussian((4320, 100), 0.01, &mut rng),
                Array1::zeros(100),
            )),
        ),
        ("relu", Box::new(Relu::new())),
        (
            "affine 100×10",
            Box::new(Affine::new(
                gaussian((100, 10), 0.01, &mut rng),
                Array1::zeros(10),
            )),
        ),
    ];
    let mut last = SoftmaxWithLoss::<f32>::new();
    // The fastest of the steps for each layer (on a shared machine, the run least disturbed
    // by other processes) and the mean (what a step pays: the passes over memory suffer most
    // from other processes' use of the shared caches).
    let mut fwd = vec![f64::INFINITY; layers.len()];
    let mut bwd = vec![f64::INFINITY; layers.len()];
    let (mut fwd_sum, mut bwd_sum) = (vec![0.0; layers.len()], vec![0.0; layers.len()]);
    let mut head = f64::INFINITY;
    for step in 0..steps + 5 {
        let measure = step >= 5;
        let mut a = x.clone();
        for (k, (_, layer)) in layers.iter_mut().enumerate() {
            let t0 = Instant::now();
            a = layer.forward(a, true);
            if measure {
                let t = t0.elapsed().as_secs_f64();
                fwd[k] = fwd[k].min(t);
                fwd_sum[k] += t;
            }
        }
        let t0 = Instant::now();
        let n = a.shape()[0];
        let y = a.into_shape_with_order((n, 10)).expect("scores");
        last.forward(y, Targets::Labels(&t));
        let mut d = last.backward(1.0).into_dyn();
        if measure {
            head = head.min(t0.elapsed().as_secs_f64());
        }
        for (k, (_, layer)) in layers.iter_mut().enumerate().rev() {
            let t0 = Instant::now();
            d = layer.backward(d);
            if measure {
                let t = t0.elapsed().as_secs_f64();
                bwd[k] = bwd[k].min(t);
                bwd_sum[k] += t;
            }
        }
    }
    let total: f64 = fwd.iter().sum::<f64>() + bwd.iter().sum::<f64>() + head;
    println!(
        "per step (ms, fastest and mean of {steps} wall-clock runs), layers alone, no optimizer:"
    );
    println!(
        "  {:<16} {:>8} {:>8}   {:>8} {:>8}",
        "layer", "forward", "backward", "mean fwd", "mean bwd"
    );
    let ms = |s: f64| 1000.0 * s;
    let mean = |sum: f64| ms(sum / steps.max(1) as f64);
    for (k, (name, _)) in layers.iter().enumerate() {
        println!(
            "  {name:<16} {:>8.3} {:>8.3}   {:>8.3} {:>8.3}",
            ms(fwd[k]),
            ms(bwd[k]),
            mean(fwd_sum[k]),
            mean(bwd_sum[k])
        );
    }
    println!("  {:<16} {:>8.3}", "softmax+loss", ms(head));
    println!(
        "  {:<16} {:>8.3}  ({:.1} steps/s)   mean of the layers {:.3}",
        "total",
        ms(total),
        1.0 / total,
        mean(fwd_sum.iter().sum::<f64>() + bwd_sum.iter().sum::<f64>())
    );
    if std::env::args().nth(2).as_deref() == Some("deep") {
        let mut deep = DeepConvNet::<f32>::new([1, 28, 28], 50, 10, &mut rng)?;
        deep.gradient(x.clone(), Targets::Labels(&t));
        let (deep_steps, cpu0) = (10, cpu_now());
        for _ in 0..deep_steps {
            deep.gradient(x.clone(), Targets::Labels(&t));
            opt.update(&mut deep.params());
        }
        let cpu = cpu_now() - cpu0;
        println!(
            "DeepConvNet f32, batch {BATCH}, 1×28×28, {deep_steps} steps: {:.2} steps/s on-CPU",
            deep_steps as f64 / cpu
        );
    }
    Ok(())
}
