//! `MultiLayerNet` / `MultiLayerNetExtend` (§6.1–6.4): any number of fully connected hidden
//! layers, with optional batch norm, dropout and weight decay.

use std::ops::{Deref, DerefMut};

use super::{Arch, Network};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::init::Init;
use crate::rng::Rng;

/// The activation function of the hidden layers (serialised as `"relu"`, `"sigmoid"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// ReLU (the book's default).
    Relu,
    /// The logistic sigmoid.
    Sigmoid,
}

impl std::str::FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            _ => Err(Error::Invalid(format!(
                "unknown activation {s:?}; expected relu or sigmoid"
            ))),
        }
    }
}

impl Activation {
    /// The initial weights the book's MultiLayerNet pairs with it: He for ReLU, Xavier for
    /// the sigmoid.
    pub fn book_init(self) -> crate::init::Init {
        match self {
            Activation::Relu => crate::init::Init::He,
            Activation::Sigmoid => crate::init::Init::Xavier,
        }
    }

    /// `relu` or `sigmoid`.
    pub fn key(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
        }
    }
}

/// How a [`MultiLayerNet`] is put together.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiLayerConfig {
    /// Inputs per sample.
    pub input_size: usize,
    /// Units of each hidden layer (`[100, 100, 100, 100]`).
    pub hidden_sizes: Vec<usize>,
    /// Outputs (classes).
    pub output_size: usize,
    /// Hidden activation.
    pub activation: Activation,
    /// Initial weight scale; the fan-in of each weight matrix is its number of rows.
    pub init: Init,
    /// Insert a [`BatchNormalization`](crate::layers::BatchNormalization) after each hidden Affine.
    pub batch_norm: bool,
    /// Insert a [`Dropout`](crate::layers::Dropout) with this ratio after each hidden activation.
    pub dropout: Option<f64>,
    /// L2 weight decay λ (weights only).
    pub weight_decay: f64,
}

/// The book's `MultiLayerNetExtend` (which is `MultiLayerNet` when batch norm and dropout are
/// off). Per hidden layer `k`: `Affine k → [BatchNorm k] → activation → [Dropout]`, then a
/// last Affine into Softmax-with-Loss. Parameters `W1, b1, gamma1, beta1, W2, …`: weights
/// `N(0, init.std(fan_in)²)`, biases 0, γ 1, β 0. With weight decay the loss gains
/// `½ λ Σ ‖Wₖ‖²` and each `∂L/∂Wₖ` gains `λ Wₖ`. Derefs to [`Network`].
///
/// ```
/// use backprop::{init::Init, nets::{Activation, MultiLayerConfig, MultiLayerNet}, rng::Rng};
/// let cfg = MultiLayerConfig {
///     input_size: 4, hidden_sizes: vec![3, 3], output_size: 2,
///     activation: Activation::Relu, init: Init::He, batch_norm: true,
///     dropout: None, weight_decay: 0.0,
/// };
/// let net = MultiLayerNet::<f64>::new(&cfg, &mut Rng::new(0)).unwrap();
/// assert_eq!(net.param_names(), ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]);
/// ```
pub struct MultiLayerNet<F: Float>(Network<F>);

impl<F: Float> MultiLayerNet<F> {
    /// A fresh net; weights are drawn from `rng`, and each dropout layer gets its own
    /// generator seeded from `rng` too.
    pub fn new(cfg: &MultiLayerConfig, rng: &mut Rng) -> Result<Self> {
        if cfg.hidden_sizes.contains(&0) || cfg.input_size == 0 || cfg.output_size == 0 {
            return Err(Error::Invalid(format!(
                "every layer needs at least one unit, got {} → {:?} → {}",
                cfg.input_size, cfg.hidden_sizes, cfg.output_size
            )));
        }
        if let Some(r) = cfg.dropout
            && !(0.0..1.0).contains(&r)
        {
            return Err(Error::Invalid(format!(
                "the dropout ratio must be in [0, 1), got {r}"
            )));
        }
        if !(cfg.weight_decay.is_finite() && cfg.weight_decay >= 0.0) {
            return Err(Error::Invalid(format!(
                "the weight decay must be a non-negative number, got {}",
                cfg.weight_decay
            )));
        }
        let arch = Arch::MultiLayer {
            hidden: cfg.hidden_sizes.clone(),
            activation: cfg.activation,
            init: cfg.init,
            batch_norm: cfg.batch_norm,
            dropout: cfg.dropout,
            weight_decay: cfg.weight_decay,
        };
        let plan = arch.plan([1, 1, cfg.input_size], cfg.output_size);
        Ok(MultiLayerNet(arch.assemble(&plan, rng)))
    }

    /// The underlying [`Network`].
    pub fn into_inner(self) -> Network<F> {
        self.0
    }
}

impl<F: Float> Deref for MultiLayerNet<F> {
    type Target = Network<F>;
    fn deref(&self) -> &Network<F> {
        &self.0
    }
}

impl<F: Float> DerefMut for MultiLayerNet<F> {
    fn deref_mut(&mut self) -> &mut Network<F> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::Targets;
    use crate::gradient::relative_error;
    use ndarray::{Array2, ArrayD};

    fn cfg(batch_norm: bool, dropout: Option<f64>, weight_decay: f64) -> MultiLayerConfig {
        MultiLayerConfig {
            input_size: 5,
            hidden_sizes: vec![6, 4],
            output_size: 3,
            activation: Activation::Relu,
            init: Init::Std(0.5),
            batch_norm,
            dropout,
            weight_decay,
        }
    }

    /// Backprop vs. central differences on every parameter, in f64. Dropout layers replay
    /// their generator before every loss evaluation so the masks stay fixed.
    fn check(cfg: &MultiLayerConfig, activation: Activation) {
        let cfg = MultiLayerConfig {
            activation,
            ..cfg.clone()
        };
        let mut rng = Rng::new(21);
        let mut net = MultiLayerNet::<f64>::new(&cfg, &mut rng).unwrap();
        let x: ArrayD<f64> = Array2::from_shape_simple_fn((4, 5), || rng.normal()).into_dyn();
        let t = [0, 2, 1, 2];
        let states: Vec<_> = net.rngs().iter().map(|r| r.state()).collect();
        let replay = |net: &mut Network<f64>| {
            for (r, s) in net.rngs().into_iter().zip(&states) {
                *r = Rng::from_state(*s);
            }
        };
        replay(&mut net);
        net.gradient(x.clone(), Targets::Labels(&t));
        let backprop: Vec<_> = net.params().iter().map(|p| p.grad.to_owned()).collect();
        for (k, analytic) in backprop.iter().enumerate() {
            let name = net.param_names()[k].clone();
            let mut value = net.params()[k].value.to_owned();
            let numeric = crate::gradient::numerical_gradient(
                |w| {
                    net.params()[k].value.assign(w);
                    replay(&mut net);
                    net.loss(x.clone(), Targets::Labels(&t), true)
                },
                &mut value,
                1e-5,
            );
            // numerical_gradient restores `value` but the last call left the net perturbed.
            net.params()[k].value.assign(&value);
            // A bias right before batch norm has no effect on the loss (BN subtracts the batch
            // mean), so its true gradient is 0 and both estimates are round-off: compare those
            // absolutely.
            let scale = analytic
                .iter()
                .chain(numeric.iter())
                .fold(0.0f64, |m, v| m.max(v.abs()));
            if scale < 1e-9 {
                assert!(
                    cfg.batch_norm && name.starts_with('b'),
                    "{name}: gradient is 0"
                );
                continue;
            }
            let e = relative_error(analytic, &numeric);
            // 1e-5, not 1e-6: the loss carries the book's 1e-7 guard inside the log and the
            // gradient does not (`common/functions.py`'s cross_entropy_error, §4.2.2), which
            // shifts gradients by ~1e-7 absolute.
            assert!(e < 1e-5, "{name}: relative error {e:e}");
        }
    }

    #[test]
    fn gradient_with_batch_norm_and_weight_decay() {
        check(&cfg(true, None, 0.1), Activation::Relu);
        check(&cfg(true, None, 0.1), Activation::Sigmoid);
    }

    #[test]
    fn gradient_with_dropout_batch_norm_and_weight_decay() {
        check(&cfg(true, Some(0.3), 0.05), Activation::Relu);
    }

    #[test]
    fn layer_order_and_names_follow_multi_layer_net_extend() {
        let mut net =
            MultiLayerNet::<f32>::new(&cfg(true, Some(0.5), 0.0), &mut Rng::new(0)).unwrap();
        let layers: Vec<_> = net.layers().iter().map(|l| l.name()).collect();
        assert_eq!(
            layers,
            [
                "Affine",
                "BatchNormalization",
                "Relu",
                "Dropout",
                "Affine",
                "BatchNormalization",
                "Relu",
                "Dropout",
                "Affine"
            ]
        );
        let buffers: Vec<_> = net.buffers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            buffers,
            [
                "running_mean1",
                "running_var1",
                "running_mean2",
                "running_var2"
            ]
        );
        assert_eq!(net.rngs().len(), 2);
    }

    #[test]
    fn he_init_has_the_book_scale() {
        let c = MultiLayerConfig {
            input_size: 400,
            hidden_sizes: vec![300],
            output_size: 10,
            init: Init::He,
            ..cfg(false, None, 0.0)
        };
        let mut net = MultiLayerNet::<f64>::new(&c, &mut Rng::new(3)).unwrap();
        let w1 = net.params()[0].value.to_owned();
        let sd = (w1.iter().map(|v| v * v).sum::<f64>() / w1.len() as f64).sqrt();
        assert!((sd - (2.0f64 / 400.0).sqrt()).abs() < 1e-3, "{sd}");
    }

    #[test]
    fn rejects_bad_configurations() {
        let mut rng = Rng::new(0);
        assert!(MultiLayerNet::<f32>::new(&cfg(false, Some(1.0), 0.0), &mut rng).is_err());
        assert!(MultiLayerNet::<f32>::new(&cfg(false, None, -1.0), &mut rng).is_err());
        let zero = MultiLayerConfig {
            hidden_sizes: vec![3, 0],
            ..cfg(false, None, 0.0)
        };
        assert!(MultiLayerNet::<f32>::new(&zero, &mut rng).is_err());
    }
}
