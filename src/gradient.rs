//! Numerical gradients by central differences (`common/gradient.py`) and the checks that
//! compare them with backpropagation.

use ndarray::ArrayD;

use crate::float::Float;
use crate::layers::Layer;
use crate::rng::Rng;

/// The book's step for central differences, `h = 1e-4`.
pub const H: f64 = 1e-4;

/// `∂f/∂x` by central differences, `(f(x + h) − f(x − h)) / 2h` for each element in turn.
///
/// Like the book's `numerical_gradient`, each element of `x` is nudged in place and restored,
/// so `f` may read `x` through the argument it is given.
///
/// ```
/// use backprop::gradient::numerical_gradient;
/// let mut x = ndarray::arr1(&[3.0_f64, 4.0]).into_dyn();
/// let g = numerical_gradient(|x| x[0] * x[0] + x[1] * x[1], &mut x, 1e-4);
/// assert!((g[0] - 6.0).abs() < 1e-6 && (g[1] - 8.0).abs() < 1e-6);
/// ```
pub fn numerical_gradient<F: Float>(
    mut f: impl FnMut(&ArrayD<F>) -> F,
    x: &mut ArrayD<F>,
    h: f64,
) -> ArrayD<F> {
    let h = F::lit(h);
    let mut grad = ArrayD::zeros(x.raw_dim());
    for i in 0..x.len() {
        let tmp = get_nth(x, i);
        set_nth(x, i, tmp + h);
        let fxh1 = f(x);
        set_nth(x, i, tmp - h);
        let fxh2 = f(x);
        set_nth(x, i, tmp);
        set_nth(&mut grad, i, (fxh1 - fxh2) / (h + h));
    }
    grad
}

fn get_nth<F: Float>(x: &ArrayD<F>, i: usize) -> F {
    match x.as_slice_memory_order() {
        Some(s) => s[i],
        None => *x.iter().nth(i).expect("index in range"),
    }
}

fn set_nth<F: Float>(x: &mut ArrayD<F>, i: usize, v: F) {
    match x.as_slice_memory_order_mut() {
        Some(s) => s[i] = v,
        None => *x.iter_mut().nth(i).expect("index in range") = v,
    }
}

/// The mean absolute difference between two gradients, as the book's `gradient_check.py`
/// prints it.
pub fn mean_abs_diff<F: Float>(a: &ArrayD<F>, b: &ArrayD<F>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    if a.is_empty() {
        return 0.0;
    }
    let sum: f64 = a
        .iter()
        .zip(b.iter())
        .map(|(&x, &y)| (x - y).abs().to_f64_lossy())
        .sum();
    sum / a.len() as f64
}

/// `‖a − b‖ / (‖a‖ + ‖b‖)`, the usual relative error between two gradients (0 when both are
/// zero).
pub fn relative_error(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let norm = |it: &mut dyn Iterator<Item = f64>| it.map(|v| v * v).sum::<f64>().sqrt();
    let diff = norm(&mut a.iter().zip(b.iter()).map(|(x, y)| x - y));
    let scale = norm(&mut a.iter().copied()) + norm(&mut b.iter().copied());
    if scale == 0.0 { 0.0 } else { diff / scale }
}

/// Checks a layer's backward pass against numerical gradients in `f64`.
///
/// The layer is turned into a scalar function `L = Σ g ⊙ layer(x)` with a fixed random `g`
/// (so `∂L/∂out = g`); backprop gives `∂L/∂x = layer.backward(g)` and the parameter
/// gradients, and each is compared with central differences (h = 1e-5) on a random input of
/// `input_shape`. Layers with their own generator (dropout) replay the same random draws on
/// every pass. Panics with the offending quantity when a relative error reaches 1e-6.
/// Returns the largest relative error seen.
pub fn check_layer(layer: &mut dyn Layer<f64>, input_shape: &[usize], seed: u64) -> f64 {
    const STEP: f64 = 1e-5;
    let mut rng = Rng::new(seed);
    let mut x = ArrayD::from_shape_simple_fn(input_shape, || rng.normal());
    // A layer that draws random numbers (dropout) replays the same draws on every forward
    // pass, so that the function being differentiated is fixed.
    let replay = layer.rng().map(|r| r.state());
    let out = layer.forward(x.clone(), true);
    let g = ArrayD::from_shape_simple_fn(out.raw_dim(), || rng.normal());
    let dx = layer.backward(g.clone());
    let param_grads: Vec<ArrayD<f64>> = layer.params().iter().map(|p| p.grad.to_owned()).collect();

    let objective = |layer: &mut dyn Layer<f64>, x: &ArrayD<f64>| {
        if let (Some(state), Some(r)) = (replay, layer.rng()) {
            *r = Rng::from_state(state);
        }
        let out = layer.forward(x.clone(), true);
        (&out * &g).sum()
    };
    let mut worst = 0.0_f64;
    let num_dx = numerical_gradient(|x| objective(layer, x), &mut x, STEP);
    let e = relative_error(&dx, &num_dx);
    assert!(e < 1e-6, "{}: dx relative error {e:e}", layer.name());
    worst = worst.max(e);

    for (k, analytic) in param_grads.iter().enumerate() {
        let mut numeric = ArrayD::zeros(analytic.raw_dim());
        for i in 0..analytic.len() {
            let set = |layer: &mut dyn Layer<f64>, v: Option<f64>| {
                let mut params = layer.params();
                let slot = &mut params[k]
                    .value
                    .as_slice_memory_order_mut()
                    .expect("contiguous")[i];
                let old = *slot;
                if let Some(v) = v {
                    *slot = v;
                }
                old
            };
            let tmp = set(layer, None);
            set(layer, Some(tmp + STEP));
            let f1 = objective(layer, &x);
            set(layer, Some(tmp - STEP));
            let f2 = objective(layer, &x);
            set(layer, Some(tmp));
            numeric.as_slice_memory_order_mut().expect("contiguous")[i] = (f1 - f2) / (2.0 * STEP);
        }
        let e = relative_error(analytic, &numeric);
        let kind = layer.params()[k].kind;
        assert!(
            e < 1e-6,
            "{}: d{} relative error {e:e}",
            layer.name(),
            kind.prefix()
        );
        worst = worst.max(e);
    }
    worst
}

/// The book's gradient check of a whole network (`ch05/gradient_check.py`,
/// `ch06/batch_norm_gradient_check.py`, `ch07/gradient_check.py`): for every parameter, the
/// mean absolute difference between its backprop gradient and its central-difference
/// gradient (step `h`, training mode), named and ordered as [`Network::params`](crate::nets::Network::params) walks them.
///
/// As in the book the numerical gradient comes first, then one backprop pass. A network that
/// draws random numbers (dropout) replays the same draws for every loss it computes, so both
/// differentiate the same function. Batch norm's running statistics move with each training
/// pass, as in the book; they do not enter a training-mode loss.
pub fn check_network(
    net: &mut crate::nets::Network<f64>,
    x: &ArrayD<f64>,
    t: crate::functions::Targets<f64>,
    h: f64,
) -> Vec<(String, f64)> {
    let states: Vec<[u64; 4]> = net.rngs().iter().map(|r| r.state()).collect();
    let replay = |net: &mut crate::nets::Network<f64>| {
        for (r, s) in net.rngs().into_iter().zip(&states) {
            *r = Rng::from_state(*s);
        }
    };
    let names = net.param_names().to_vec();
    let mut numerical = Vec::with_capacity(names.len());
    for k in 0..names.len() {
        let mut value = net.params()[k].value.to_owned();
        let grad = numerical_gradient(
            |w| {
                net.params()[k].value.assign(w);
                replay(net);
                net.loss(x.clone(), t, true)
            },
            &mut value,
            h,
        );
        net.params()[k].value.assign(&value);
        numerical.push(grad);
    }
    replay(net);
    net.gradient(x.clone(), t);
    net.params()
        .iter()
        .zip(names)
        .zip(&numerical)
        .map(|((p, name), num)| (name, mean_abs_diff(&p.grad.to_owned(), num)))
        .collect()
}

/// A network's gradient check ([`check_arch`]): each parameter's mean absolute difference
/// between backprop and central differences ([`check_network`]), and what was checked.
///
/// Serialises (serde) as one JSON object of the differences by parameter name, in the order
/// of the network's walk over its parameters (`{"W1":3.1e-10,"b1":2.2e-9,…}`; a non-finite
/// difference is `null`).
///
/// ```
/// use backprop::gradient::NetworkCheck;
/// let check = NetworkCheck {
///     diffs: vec![("W1".into(), 0.5), ("b1".into(), 2e-7)],
///     samples: 3,
///     batch_norm: false,
/// };
/// assert_eq!(serde_json::to_string(&check).unwrap(), r#"{"W1":0.5,"b1":2e-7}"#);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkCheck {
    /// `(name, mean |backprop − numerical|)` per parameter, in the walk's order.
    pub diffs: Vec<(String, f64)>,
    /// Samples in the checked batch.
    pub samples: usize,
    /// Whether the network normalises its batches (multi-layer with batch norm).
    pub batch_norm: bool,
}

impl serde::Serialize for NetworkCheck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.diffs.iter().map(|(name, diff)| (name, diff)))
    }
}

impl NetworkCheck {
    /// Whether this is the book's one-sample check of batch norm
    /// (`ch06/batch_norm_gradient_check.py` runs on `x_train[:1]`), whose differences say
    /// little: [`one_sample_batch_norm`] says why.
    pub fn is_one_sample_batch_norm(&self) -> bool {
        self.samples == 1 && self.batch_norm
    }
}

/// Why a gradient check of a network with batch norm on one sample says little
/// ([`NetworkCheck::is_one_sample_batch_norm`]), in lines of at most 95 characters, ending by
/// asking for 2 samples or more; `samples` is the setting `samples` as the caller names it
/// (a command line's flag, a binding's argument).
///
/// ```
/// let note = backprop::gradient::one_sample_batch_norm("samples");
/// assert!(note.ends_with("Run\nwith samples 2 or more for a check that means something."));
/// ```
pub fn one_sample_batch_norm(samples: &str) -> String {
    format!(
        "\
with one sample, batch norm's mean is the sample itself, so every normalised value is 0
and each BatchNorm outputs exactly its beta. Nothing before the last BatchNorm reaches the
loss (W1…b2, gamma1, beta1, gamma2: both gradients exactly 0), and the ReLU after it sits on
its kink at 0: backprop uses the slope 0 there, while the central difference sees 0 on one
side and the loss's slope on the other and reports half of it, hence beta2's difference. The
rest (W3, b3) is the ordinary check, b3 off by the 1e-7 inside the loss's logarithm. Run
with {samples} 2 or more for a check that means something."
    )
}

/// The book's gradient-check scripts for an architecture: [`check_network`] (step [`H`]) on
/// a network of `arch` built from `seed`'s `init` stream, over `samples` samples (when
/// `None`, 3 for two-layer and 2 for deep-conv as the book's scripts take, else 1): the first
/// of the training part of `data`, or, without `data`, images of `1×10×10` drawn uniform in
/// `[0, 1)` with labels `(i + 1) mod 10` of 10 classes (`ch07/gradient_check.py`'s
/// `np.random.rand(1, 1, 10, 10)`, `T = [1]`). Sizes whose check cannot fit in memory are
/// refused before anything is built.
pub fn check_arch(
    arch: &crate::nets::Arch,
    data: Option<&crate::run::DataSpec>,
    samples: Option<usize>,
    seed: u64,
) -> crate::Result<NetworkCheck> {
    use crate::nets::Arch;
    let (x, labels, image_shape, classes) = match data {
        None => {
            let n = samples.unwrap_or(1);
            let mut rng = Rng::stream(seed, "gradcheck-input");
            let x = ArrayD::from_shape_simple_fn(vec![n, 1, 10, 10], || rng.uniform());
            let labels: Vec<usize> = (0..n).map(|i| (i + 1) % 10).collect();
            (x, labels, [1, 10, 10], 10)
        }
        Some(spec) => {
            let train = spec.load()?.train;
            train.require_samples("training")?;
            let book = match arch {
                Arch::TwoLayer { .. } => 3,
                Arch::DeepConv { .. } => 2,
                _ => 1,
            };
            let n = samples.unwrap_or(book).min(train.len());
            let mut labels = Vec::new();
            let all: Vec<usize> = (0..n).collect();
            let x = train.batch::<f64>(&all, arch.layout(), &mut labels);
            (x, labels, train.image_shape, train.num_classes())
        }
    };
    let n = labels.len();
    // The numerical gradient keeps one copy of each parameter besides its gradient.
    arch.check_training_fits(image_shape, classes, n, 8, 1)?;
    let mut net = arch.build::<f64>(image_shape, classes, &mut Rng::stream(seed, "init"))?;
    let diffs = check_network(&mut net, &x, crate::functions::Targets::Labels(&labels), H);
    Ok(NetworkCheck {
        diffs,
        samples: n,
        batch_norm: matches!(
            arch,
            Arch::MultiLayer {
                batch_norm: true,
                ..
            }
        ),
    })
}

#[cfg(test)]
mod check_network_tests {
    use super::*;
    use crate::functions::Targets;
    use crate::init::Init;
    use crate::nets::{Activation, MultiLayerConfig, MultiLayerNet};

    /// The record keeps the walk's order (not the names' alphabetical one) and writes a
    /// non-finite difference as `null`, as the command line's JSON always has.
    #[test]
    fn a_check_serialises_as_one_object_in_walk_order() {
        let check = NetworkCheck {
            diffs: vec![
                ("W1".into(), 1.5e-10),
                ("b1".into(), 0.25),
                ("gamma1".into(), f64::NAN),
                ("W2".into(), 0.0),
            ],
            samples: 1,
            batch_norm: true,
        };
        assert_eq!(
            serde_json::to_string(&check).unwrap(),
            r#"{"W1":1.5e-10,"b1":0.25,"gamma1":null,"W2":0.0}"#
        );
    }

    /// Only a one-sample check of a net with batch norm gets the note, and the note names
    /// the setting as the caller spells it.
    #[test]
    fn the_note_is_for_one_sample_checks_of_batch_norm() {
        let arch = |batch_norm| crate::nets::Arch::MultiLayer {
            hidden: vec![5, 4],
            activation: Activation::Relu,
            init: Init::He,
            batch_norm,
            dropout: None,
            weight_decay: 0.0,
        };
        for (batch_norm, samples, noted) in [(true, 1, true), (true, 2, false), (false, 1, false)] {
            let check = check_arch(&arch(batch_norm), None, Some(samples), 42).unwrap();
            assert_eq!(check.samples, samples);
            assert_eq!(check.batch_norm, batch_norm);
            assert_eq!(
                check.is_one_sample_batch_norm(),
                noted,
                "{batch_norm} {samples}"
            );
        }
        let note = one_sample_batch_norm("--samples");
        assert!(
            note.starts_with("with one sample, batch norm's mean"),
            "{note}"
        );
        assert!(note.ends_with("with --samples 2 or more for a check that means something."));
        assert!(note.lines().all(|l| l.chars().count() <= 95), "{note}");
    }

    /// Dropout draws new masks on every training pass; the check replays the same draws, so
    /// a net with dropout checks as cleanly as one without (without the replay each loss
    /// would see other masks and the differences would be of the order of the gradients).
    #[test]
    fn a_net_with_dropout_and_batch_norm_checks_cleanly() {
        let cfg = MultiLayerConfig {
            input_size: 6,
            hidden_sizes: vec![5, 4],
            output_size: 3,
            activation: Activation::Sigmoid,
            init: Init::Xavier,
            batch_norm: true,
            dropout: Some(0.5),
            weight_decay: 0.1,
        };
        let mut rng = Rng::new(7);
        let mut net = MultiLayerNet::<f64>::new(&cfg, &mut rng)
            .unwrap()
            .into_inner();
        let x = ArrayD::from_shape_simple_fn(vec![4, 6], || rng.normal());
        let diffs = check_network(&mut net, &x, Targets::Labels(&[0, 2, 1, 2]), H);
        let names: Vec<&str> = diffs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"
            ]
        );
        for (name, d) in diffs {
            assert!(d < 1e-6, "{name}: {d}");
        }
    }
}
