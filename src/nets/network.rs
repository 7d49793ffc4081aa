//! A network as the book builds one: an ordered list of layers walked forward, then
//! backward in reverse, ending in a [`SoftmaxWithLoss`].

use ndarray::{Array2, ArrayD, ArrayViewMutD, Zip};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::functions::{Targets, argmax};
use crate::gradient::numerical_gradient;
use crate::layers::buffers::flatten_2d;
use crate::layers::{Layer, ParamKind, SoftmaxWithLoss};
use crate::rng::Rng;

/// One named parameter of a network: `W1`, `b1`, `gamma1`, …, its value and its gradient.
#[derive(Debug)]
pub struct NamedParam<'a, F> {
    /// The book's name.
    pub name: &'a str,
    /// What kind of parameter it is.
    pub kind: ParamKind,
    /// The value; optimizers update it in place.
    pub value: ArrayViewMutD<'a, F>,
    /// `∂L/∂value` from the last [`Network::gradient`] (weight decay included).
    pub grad: ArrayViewMutD<'a, F>,
}

/// A feed-forward network of [`Layer`]s with a softmax-with-loss output.
///
/// Its parameters are exposed once, by [`Network::params`], as named (name, value, gradient)
/// triples in a stable order; optimizers, gradient checks and model files all use that walk.
/// Names follow the book: the k-th layer with weights (Affine or Convolution) owns `Wk` and
/// `bk`, and a batch-norm layer after it owns `gammak` and `betak`.
pub struct Network<F: Float> {
    layers: Vec<Box<dyn Layer<F>>>,
    last_layer: SoftmaxWithLoss<F>,
    weight_decay_lambda: f64,
    input_shape: Vec<usize>,
    names: Vec<String>,
    buffer_names: Vec<String>,
}

impl<F: Float> std::fmt::Debug for Network<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layers: Vec<&str> = self.layers.iter().map(|l| l.name()).collect();
        f.debug_struct("Network")
            .field("layers", &layers)
            .field("input_shape", &self.input_shape)
            .field("params", &self.names)
            .finish()
    }
}

impl<F: Float> Network<F> {
    /// A network of `layers` for samples of `input_shape` (e.g. `[784]` or `[1, 28, 28]`).
    pub fn new(mut layers: Vec<Box<dyn Layer<F>>>, input_shape: Vec<usize>) -> Self {
        if let Some(first) = layers.first_mut() {
            first.set_input_grad(false);
        }
        let (mut names, mut buffer_names) = (Vec::new(), Vec::new());
        let mut k = 0;
        for layer in layers.iter_mut() {
            for p in layer.params() {
                if p.kind == ParamKind::Weight {
                    k += 1;
                }
                names.push(super::param_name(p.kind, k));
            }
            for (prefix, _) in layer.buffers() {
                buffer_names.push(super::tensor_name(prefix, k));
            }
        }
        Network {
            layers,
            last_layer: SoftmaxWithLoss::new(),
            weight_decay_lambda: 0.0,
            input_shape,
            names,
            buffer_names,
        }
    }

    /// Sets the L2 weight decay λ: the loss gains `½ λ Σ ‖Wₖ‖²` (weights only, not biases)
    /// and each weight gradient gains `λ Wₖ`.
    pub fn with_weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay_lambda = lambda;
        self
    }

    /// The layers, in forward order.
    pub fn layers(&self) -> &[Box<dyn Layer<F>>] {
        &self.layers
    }

    /// Layer `k` (forward order), to run its `forward`/`backward` one at a time as the
    /// book's `network.layers[...]` does. Calls through it change the network's state: the
    /// parameters and what the layer remembers for its backward pass.
    pub fn layer_mut(&mut self, k: usize) -> Option<&mut dyn Layer<F>> {
        self.layers.get_mut(k).map(|l| l.as_mut())
    }

    /// The output layer, the book's `lastLayer`.
    pub fn last_layer_mut(&mut self) -> &mut SoftmaxWithLoss<F> {
        &mut self.last_layer
    }

    /// The shape of one input sample.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The parameter names in walk order.
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// Checks that a batch has the shape this network takes, `(N, …input_shape)`.
    pub fn check_input(&self, shape: &[usize]) -> Result<()> {
        if shape.len() == self.input_shape.len() + 1 && shape[1..] == self.input_shape[..] {
            Ok(())
        } else {
            Err(Error::Shape(format!(
                "the network takes batches of shape (N, {}) but got {:?}",
                self.input_shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                shape
            )))
        }
    }

    /// The scores (logits) for a batch: the layers' forward passes in order, without softmax.
    pub fn predict(&mut self, x: ArrayD<F>, train: bool) -> Array2<F> {
        let mut x = x;
        for layer in self.layers.iter_mut() {
            x = layer.forward(x, train);
        }
        flatten_2d(x)
    }

    /// Every layer's output for a batch, in forward order, with the layer's name: what the
    /// book's activation histograms (figs. 6-10 to 6-14) plot when taken after each
    /// activation layer. `train` selects dropout's and batch norm's training behaviour.
    pub fn layer_outputs(&mut self, x: ArrayD<F>, train: bool) -> Vec<(&'static str, ArrayD<F>)> {
        let mut x = x;
        let mut outs = Vec::with_capacity(self.layers.len());
        for layer in self.layers.iter_mut() {
            x = layer.forward(x, train);
            outs.push((layer.name(), x.clone()));
        }
        outs
    }

    /// The loss of a batch: softmax cross-entropy plus the weight-decay term.
    pub fn loss(&mut self, x: ArrayD<F>, t: Targets<F>, train: bool) -> F {
        let y = self.predict(x, train);
        self.last_layer.forward(y, t) + self.weight_decay_term()
    }

    fn weight_decay_term(&mut self) -> F {
        if self.weight_decay_lambda == 0.0 {
            return F::zero();
        }
        let mut sum = F::zero();
        for p in self.params() {
            if p.kind == ParamKind::Weight {
                sum += p.value.iter().map(|&w| w * w).sum::<F>();
            }
        }
        F::lit(0.5 * self.weight_decay_lambda) * sum
    }

    /// The class each sample of the batch `x` is predicted as: the index of its highest score
    /// (test mode). Every accuracy of the library counts these ([`Network::accuracy`] for one
    /// batch, [`crate::eval::accuracy`] and [`crate::eval::evaluate`] over a dataset).
    pub fn classify(&mut self, x: ArrayD<F>) -> Vec<usize> {
        let y = self.predict(x, false);
        y.rows()
            .into_iter()
            .map(|row| argmax(row.iter().copied()))
            .collect()
    }

    /// The fraction of samples whose highest score is their class (test mode): the book's
    /// `accuracy(x, t)`, counted in whole samples.
    pub fn accuracy(&mut self, x: ArrayD<F>, t: Targets<F>) -> f64 {
        let classes = self.classify(x);
        if classes.is_empty() {
            return 0.0;
        }
        let correct = classes
            .iter()
            .enumerate()
            .filter(|&(i, &c)| c == t.class(i))
            .count();
        correct as f64 / classes.len() as f64
    }

    /// Backpropagation: a training-mode forward pass, then every layer's backward pass in
    /// reverse order, starting from `dL/dL = 1`. Leaves each parameter's gradient in the
    /// layers (read them through [`Network::params`]) and returns the loss.
    pub fn gradient(&mut self, x: ArrayD<F>, t: Targets<F>) -> F {
        let loss = self.loss(x, t, true);
        let mut dout = self.last_layer.backward(F::one()).into_dyn();
        for layer in self.layers.iter_mut().rev() {
            dout = layer.backward(dout);
        }
        if self.weight_decay_lambda != 0.0 {
            let lambda = F::lit(self.weight_decay_lambda);
            for mut p in self.params() {
                if p.kind == ParamKind::Weight {
                    Zip::from(&mut p.grad)
                        .and(&p.value)
                        .for_each(|g, &w| *g += lambda * w);
                }
            }
        }
        loss
    }

    /// Every parameter, named as in the book, in a stable order.
    pub fn params(&mut self) -> Vec<NamedParam<'_, F>> {
        let mut out = Vec::with_capacity(self.names.len());
        let mut names = self.names.iter();
        for layer in self.layers.iter_mut() {
            for p in layer.params() {
                let name = names
                    .next()
                    .expect("parameter names are fixed at construction");
                out.push(NamedParam {
                    name,
                    kind: p.kind,
                    value: p.value,
                    grad: p.grad,
                });
            }
        }
        out
    }

    /// Non-trained state that a model file keeps (batch norm's running statistics), named
    /// like the parameters: the buffers of a layer after the k-th weighted layer end in `k`
    /// (`running_mean1`, `running_var1`).
    pub fn buffers(&mut self) -> Vec<(String, ArrayViewMutD<'_, F>)> {
        let mut names = self.buffer_names.iter();
        let mut out = Vec::with_capacity(self.buffer_names.len());
        for layer in self.layers.iter_mut() {
            for (_, value) in layer.buffers() {
                let name = names
                    .next()
                    .expect("buffer names are fixed at construction");
                out.push((name.clone(), value));
            }
        }
        out
    }

    /// The generators of the layers that draw random numbers (dropout), in layer order.
    pub fn rngs(&mut self) -> Vec<&mut Rng> {
        self.layers.iter_mut().filter_map(|l| l.rng()).collect()
    }

    /// The number of scalar parameters.
    pub fn param_count(&mut self) -> usize {
        self.params().iter().map(|p| p.value.len()).sum()
    }

    /// The gradient of the loss with respect to every parameter by central differences
    /// (`h = 1e-4`, training mode), in the order of [`Network::params`]. Slow: two forward
    /// passes per scalar parameter; use it to check [`Network::gradient`].
    pub fn numerical_gradient(
        &mut self,
        x: &ArrayD<F>,
        t: Targets<F>,
        h: f64,
    ) -> Vec<(String, ArrayD<F>)> {
        let mut out = Vec::new();
        for k in 0..self.names.len() {
            let mut value = self.params()[k].value.to_owned();
            let grad = numerical_gradient(
                |w| {
                    self.params()[k].value.assign(w);
                    self.loss(x.clone(), t, true)
                },
                &mut value,
                h,
            );
            self.params()[k].value.assign(&value);
            out.push((self.names[k].clone(), grad));
        }
        out
    }
}
