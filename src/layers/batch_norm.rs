//! Batch normalization (§6.3), with the book's per-activation statistics.

use ndarray::{Array1, Array2, ArrayD, ArrayViewMutD, Axis, IxDyn, Zip};

use super::buffers::flatten_2d;
use super::{Layer, Param, ParamKind};
use crate::float::Float;

/// Normalises each activation over the mini-batch, then scales and shifts it:
/// `out = γ · x̂ + β` with `x̂ = (x − μ) / √(σ² + ε)`.
///
/// * Training: `μ`, `σ²` are the batch mean and (biased) variance of each activation, and the
///   running averages are updated as `running ← momentum · running + (1 − momentum) · batch`
///   (momentum 0.9).
/// * Test: `x̂ = (x − running_mean) / √(running_var + ε)`.
///
/// `ε = 1e-6` (the book writes `10e-7`). Like the book, an input of more than two axes, such
/// as `(N, C, H, W)`, is flattened to `(N, C·H·W)`: every activation gets its own statistics
/// (**per-activation**, not the per-channel spatial batch norm of CNN libraries). The running
/// statistics start at zero, so a test-mode pass before any training divides by `√ε`, as in
/// the book.
///
/// Backward, the book's computational-graph form, with `xc = x − μ`, `std = √(σ² + ε)` and
/// `N` the batch size, all sums over the batch:
///
/// * `∂L/∂β = Σ dout`, `∂L/∂γ = Σ x̂ · dout`;
/// * `dx̂ = γ · dout`; `dxc = dx̂ / std`; `dstd = −Σ dx̂ · xc / std²`; `dvar = ½ · dstd / std`;
/// * `dxc += (2/N) · xc · dvar`; `dμ = Σ dxc`; `dx = dxc − dμ / N`, reshaped to the input.
#[derive(Debug)]
pub struct BatchNormalization<F> {
    /// The scale γ (book init: ones).
    pub gamma: Array1<F>,
    /// The shift β (book init: zeros).
    pub beta: Array1<F>,
    /// `∂L/∂γ` of the last backward pass.
    pub dgamma: Array1<F>,
    /// `∂L/∂β` of the last backward pass.
    pub dbeta: Array1<F>,
    /// Weight of the old value in the running averages (0.9).
    pub momentum: f64,
    /// Running mean of each activation, used at test time.
    pub running_mean: Array1<F>,
    /// Running variance of each activation, used at test time.
    pub running_var: Array1<F>,
    input_shape: Vec<usize>,
    xc: Array2<F>,
    xn: Array2<F>,
    std: Array1<F>,
}

/// The book's ε, written `10e-7` in its code.
pub const EPS: f64 = 1e-6;

impl<F: Float> BatchNormalization<F> {
    /// The prefixes of its buffers, in [`Layer::buffers`] order: a network names them after
    /// the weighted layer before (`running_mean1`, `running_var1`).
    pub const BUFFERS: [&'static str; 2] = ["running_mean", "running_var"];

    /// A batch-norm layer with the given γ and β (one per activation) and running-average
    /// momentum; the running statistics start at zero.
    pub fn new(gamma: Array1<F>, beta: Array1<F>, momentum: f64) -> Self {
        assert_eq!(
            gamma.len(),
            beta.len(),
            "BatchNormalization: γ and β lengths"
        );
        let d = gamma.len();
        BatchNormalization {
            dgamma: Array1::zeros(d),
            dbeta: Array1::zeros(d),
            gamma,
            beta,
            momentum,
            running_mean: Array1::zeros(d),
            running_var: Array1::zeros(d),
            input_shape: Vec::new(),
            xc: Array2::zeros((0, d)),
            xn: Array2::zeros((0, d)),
            std: Array1::zeros(d),
        }
    }

    /// The book's initial layer for `d` activations: γ = 1, β = 0, momentum 0.9.
    pub fn with_size(d: usize) -> Self {
        BatchNormalization::new(Array1::ones(d), Array1::zeros(d), 0.9)
    }
}

impl<F: Float> Layer<F> for BatchNormalization<F> {
    fn name(&self) -> &'static str {
        "BatchNormalization"
    }

    fn op(&self) -> super::Op {
        super::Op::BatchNorm { eps: EPS }
    }

    fn forward(&mut self, x: ArrayD<F>, train: bool) -> ArrayD<F> {
        self.input_shape.clear();
        self.input_shape.extend_from_slice(x.shape());
        let x = flatten_2d(x);
        assert_eq!(
            x.ncols(),
            self.gamma.len(),
            "BatchNormalization: input has {} activations but γ has {}",
            x.ncols(),
            self.gamma.len()
        );
        let eps = F::lit(EPS);
        let xn = if train {
            let n = F::from_usize(x.nrows()).expect("batch size fits the float");
            let mu = x.sum_axis(Axis(0)) / n;
            let xc = &x - &mu;
            let var = xc.mapv(|v| v * v).sum_axis(Axis(0)) / n;
            let std = var.mapv(|v| (v + eps).sqrt());
            let xn = &xc / &std;
            let (m, m1) = (F::lit(self.momentum), F::lit(1.0 - self.momentum));
            Zip::from(&mut self.running_mean)
                .and(&mu)
                .for_each(|r, &b| *r = m * *r + m1 * b);
            Zip::from(&mut self.running_var)
                .and(&var)
                .for_each(|r, &b| *r = m * *r + m1 * b);
            self.xc = xc;
            self.std = std;
            self.xn = xn.clone();
            xn
        } else {
            let std = self.running_var.mapv(|v| (v + eps).sqrt());
            (&x - &self.running_mean) / &std
        };
        let out = &xn * &self.gamma + &self.beta;
        out.into_shape_with_order(IxDyn(&self.input_shape))
            .expect("out has the input's size")
    }

    fn backward(&mut self, dout: ArrayD<F>) -> ArrayD<F> {
        let dout = flatten_2d(dout);
        let n = F::from_usize(dout.nrows()).expect("batch size fits the float");
        self.dbeta = dout.sum_axis(Axis(0));
        self.dgamma = (&self.xn * &dout).sum_axis(Axis(0));
        let dxn = &dout * &self.gamma;
        let mut dxc = &dxn / &self.std;
        let dstd = -((&dxn * &self.xc) / (&self.std * &self.std)).sum_axis(Axis(0));
        let dvar = dstd * F::lit(0.5) / &self.std;
        let two_over_n = F::lit(2.0) / n;
        dxc = dxc + &(&self.xc * &dvar) * two_over_n;
        let dmu = dxc.sum_axis(Axis(0));
        let dx = dxc - &(dmu / n);
        dx.into_shape_with_order(IxDyn(&self.input_shape))
            .expect("dx has the input's size")
    }

    fn params(&mut self) -> Vec<Param<'_, F>> {
        vec![
            Param {
                kind: ParamKind::Gamma,
                value: self.gamma.view_mut().into_dyn(),
                grad: self.dgamma.view_mut().into_dyn(),
            },
            Param {
                kind: ParamKind::Beta,
                value: self.beta.view_mut().into_dyn(),
                grad: self.dbeta.view_mut().into_dyn(),
            },
        ]
    }

    /// `running_mean` and `running_var`.
    fn buffers(&mut self) -> Vec<(&'static str, ArrayViewMutD<'_, F>)> {
        vec![
            (Self::BUFFERS[0], self.running_mean.view_mut().into_dyn()),
            (Self::BUFFERS[1], self.running_var.view_mut().into_dyn()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradient::check_layer;
    use crate::rng::Rng;
    use ndarray::array;

    fn random_bn(d: usize, seed: u64) -> BatchNormalization<f64> {
        let mut rng = Rng::new(seed);
        let gamma = Array1::from_shape_simple_fn(d, || 1.0 + 0.5 * rng.normal());
        let beta = Array1::from_shape_simple_fn(d, || rng.normal());
        BatchNormalization::new(gamma, beta, 0.9)
    }

    #[test]
    fn hand_computed_train_and_test_forward() {
        let mut bn = BatchNormalization::<f64>::with_size(2);
        // column 0: mean 2, biased var 1; column 1: mean 0, var 4
        let x = array![[1.0, -2.0], [3.0, 2.0]].into_dyn();
        let out = bn.forward(x.clone(), true);
        let (s0, s1) = ((1.0 + EPS).sqrt(), (4.0 + EPS).sqrt());
        let want = array![[-1.0 / s0, -2.0 / s1], [1.0 / s0, 2.0 / s1]].into_dyn();
        assert!((&out - &want).iter().all(|d| d.abs() < 1e-15));
        assert!(
            (&bn.running_mean - &array![0.2, 0.0])
                .iter()
                .all(|d| d.abs() < 1e-15)
        );
        assert!(
            (&bn.running_var - &array![0.1, 0.4])
                .iter()
                .all(|d| d.abs() < 1e-15)
        );
        // test mode uses the running statistics
        let test = bn.forward(array![[0.2, 1.0]].into_dyn(), false);
        let want = array![[0.0, 1.0 / (0.4 + EPS).sqrt()]].into_dyn();
        assert!((&test - &want).iter().all(|d| d.abs() < 1e-12), "{test}");
    }

    #[test]
    fn gradient_matches_numerical() {
        // Batch ≥ 2: with one sample every activation normalises to exactly β, which makes
        // the book's ch06/batch_norm_gradient_check.py (one sample) degenerate.
        check_layer(&mut random_bn(5, 1), &[4, 5], 2);
        check_layer(&mut random_bn(3, 3), &[2, 3], 4);
    }

    #[test]
    fn normalises_4d_input_per_activation() {
        // (N, C, H, W) = (3, 2, 2, 2): 8 activations, each with its own statistics.
        let mut bn = random_bn(8, 5);
        check_layer(&mut bn, &[3, 2, 2, 2], 6);
        let mut plain = BatchNormalization::<f64>::with_size(8);
        let mut rng = Rng::new(7);
        let x = ArrayD::from_shape_simple_fn(vec![3, 2, 2, 2], || rng.normal());
        let out = flatten_2d(plain.forward(x, true));
        for col in out.columns() {
            assert!(col.sum().abs() < 1e-12);
        }
    }

    #[test]
    fn exposes_running_statistics_as_buffers() {
        let mut bn = BatchNormalization::<f64>::with_size(3);
        let names: Vec<_> = bn.buffers().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["running_mean", "running_var"]);
        let kinds: Vec<_> = bn.params().iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [ParamKind::Gamma, ParamKind::Beta]);
    }
}
