//! The book's `ch05/gradient_check.py`: backprop against numerical gradients on three
//! samples, printed as the mean absolute difference per parameter.

use backprop::data::{Layout, digits};
use backprop::functions::Targets;
use backprop::gradient::{H, mean_abs_diff};
use backprop::nets::TwoLayerNet;
use backprop::pyfmt::py_repr;
use backprop::rng::Rng;

fn main() -> backprop::Result<()> {
    let data = digits::load_digits()?.split(0.8, &mut Rng::stream(42, "split"));
    let mut network = TwoLayerNet::<f64>::new(64, 50, 10, 0.01, &mut Rng::stream(42, "init"));

    let mut t_batch = Vec::new();
    let x_batch = data
        .train
        .batch::<f64>(&[0, 1, 2], Layout::Flat, &mut t_batch);
    let t = Targets::Labels(&t_batch);

    let grad_numerical = network.numerical_gradient(&x_batch, t, H);
    network.gradient(x_batch, t);
    for (param, (key, numerical)) in network.params().iter().zip(&grad_numerical) {
        let diff = mean_abs_diff(&param.grad.to_owned(), numerical);
        println!("{key}:{}", py_repr(diff));
    }
    Ok(())
}
