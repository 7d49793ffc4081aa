//! Would keeping activations in L2 speed up SimpleConvNet's convolution block? Its
//! convolution → ReLU → pooling, forward then backward, over a batch of 100 random 1×28×28
//! images: as the net runs it (the whole batch through each layer, 6.9 MB of activations
//! between layers), and in chunks of 10 and of 4 images (each chunk through all three
//! layers before the next, 690 KB and 276 KB, within the 1 MB L2 of a Zen 4 core).
//!
//! `cargo run --release --example conv_block_chunks [ROUNDS]` (default 200 per chunk size,
//! one thread, chunk sizes interleaved round by round so that a noisy neighbour disturbs all
//! alike). Prints the fastest and the mean time of a pass over the batch.

use std::time::Instant;

use backprop::init::gaussian;
use backprop::layers::{Convolution, Layer, Pooling, Relu};
use backprop::rng::Rng;
use ndarray::{Array1, Array4, ArrayD, s};

/// One chunk's convolution block, with its own layers (each keeps its chunk's state for the
/// backward pass).
struct Block {
    conv: Convolution<f32>,
    relu: Relu,
    pool: Pooling<f32>,
}

impl Block {
    fn forward(&mut self, x: ArrayD<f32>) -> ArrayD<f32> {
        let a = self.conv.forward(x, true);
        let a = Layer::<f32>::forward(&mut self.relu, a, true);
        self.pool.forward(a, true)
    }

    fn backward(&mut self, dout: ArrayD<f32>) {
        let d = self.pool.backward(dout);
        let d = Layer::<f32>::backward(&mut self.relu, d);
        self.conv.backward(d);
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    backprop::alloc::keep_freed_memory();
    let mut rng = Rng::new(0);
    let x = Array4::<f32>::from_shape_simple_fn((100, 1, 28, 28), || rng.uniform() as f32);
    let w = gaussian((30, 1, 5, 5), 0.01, &mut rng);
    let chunks = [100, 10, 4];
    let mut blocks: Vec<Vec<Block>> = chunks
        .iter()
        .map(|&chunk| {
            (0..100 / chunk)
                .map(|_| {
                    let mut conv = Convolution::new(w.clone(), Array1::zeros(30), 1, 0);
                    conv.set_input_grad(false);
                    Block {
                        conv,
                        relu: Relu::new(),
                        pool: Pooling::new(2, 2, 2),
                    }
                })
                .collect()
        })
        .collect();
    // The inputs of each chunk, cut once.
    let inputs: Vec<Vec<ArrayD<f32>>> = chunks
        .iter()
        .map(|&chunk| {
            (0..100 / chunk)
                .map(|i| {
                    x.slice(s![i * chunk..(i + 1) * chunk, .., .., ..])
                        .to_owned()
                        .into_dyn()
                })
                .collect()
        })
        .collect();
    let mut fastest = vec![f64::INFINITY; chunks.len()];
    let mut total = vec![0.0; chunks.len()];
    for round in 0..rounds + 5 {
        for (k, (blocks, inputs)) in blocks.iter_mut().zip(&inputs).enumerate() {
            let start = Instant::now();
            let outs: Vec<_> = blocks
                .iter_mut()
                .zip(inputs)
                .map(|(b, x)| b.forward(x.clone()))
                .collect();
            for (b, d) in blocks.iter_mut().zip(outs) {
                b.backward(d);
            }
            let t = start.elapsed().as_secs_f64();
            if round >= 5 {
                fastest[k] = fastest[k].min(t);
                total[k] += t;
            }
        }
    }
    println!("conv 30×5×5 → ReLU → pool 2×2, forward and backward, batch 100 (ms):");
    for (k, chunk) in chunks.iter().enumerate() {
        println!(
            "  chunks of {chunk:>3} images: fastest {:.3}, mean {:.3}",
            1e3 * fastest[k],
            1e3 * total[k] / rounds as f64
        );
    }
}
