//! Softmax-with-Loss, the output layer (§5.6.3).

use ndarray::{Array2, ArrayView2};

use crate::float::Float;
use crate::functions::{Targets, cross_entropy_error, softmax_inplace};

/// Softmax followed by the cross-entropy error: `y = softmax(x)`,
/// `L = −Σₙ log(y[n, tₙ] + 1e-7) / N`.
///
/// Backward: the two layers' derivatives cancel into the famously simple
/// `∂L/∂x = (y − t) / N` (with `t` one-hot), scaled by `dout` (1 for the loss itself).
/// The book's layer ignores `dout`; multiplying by it keeps the chain rule true when the loss
/// is scaled.
///
/// The 1e-7 guard is in the loss only, not in the gradient, exactly as in the book's code;
/// this is why a gradient check shows differences near 1e-7 for `b2` (the book's
/// `ch05/gradient_check.py`, §5.7.3, run with today's `common/functions.py`).
#[derive(Debug)]
pub struct SoftmaxWithLoss<F> {
    y: Array2<F>,
    t: Vec<usize>,
    t_one_hot: Option<Array2<F>>,
    /// The loss of the last forward pass.
    pub loss: F,
}

impl<F: Float> Default for SoftmaxWithLoss<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float> SoftmaxWithLoss<F> {
    /// A softmax-with-loss layer.
    pub fn new() -> Self {
        SoftmaxWithLoss {
            y: Array2::zeros((0, 0)),
            t: Vec::new(),
            t_one_hot: None,
            loss: F::zero(),
        }
    }

    /// The softmax output of the last forward pass.
    pub fn y(&self) -> ArrayView2<'_, F> {
        self.y.view()
    }

    /// Computes the softmax of the scores `x` (one row per sample) and returns the loss
    /// against `t`.
    pub fn forward(&mut self, mut x: Array2<F>, t: Targets<F>) -> F {
        assert_eq!(
            x.nrows(),
            t.len(),
            "SoftmaxWithLoss: {} rows, {} targets",
            x.nrows(),
            t.len()
        );
        softmax_inplace(&mut x);
        self.loss = cross_entropy_error(x.view(), t);
        self.y = x;
        match t {
            Targets::Labels(labels) => {
                self.t.clear();
                self.t.extend_from_slice(labels);
                self.t_one_hot = None;
            }
            Targets::OneHot(rows) => self.t_one_hot = Some(rows.to_owned()),
        }
        self.loss
    }

    /// Returns `dout · (y − t) / N`.
    pub fn backward(&mut self, dout: F) -> Array2<F> {
        let n = self.y.nrows();
        let scale = dout / F::from_usize(n.max(1)).unwrap();
        let mut dx = std::mem::replace(&mut self.y, Array2::zeros((0, 0)));
        match &self.t_one_hot {
            Some(t) => dx -= t,
            None => {
                for (i, &c) in self.t.iter().enumerate() {
                    dx[[i, c]] -= F::one();
                }
            }
        }
        dx *= scale;
        dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use ndarray::Array2;

    /// The cross-entropy of softmax without the 1e-7 guard, written independently as
    /// `log Σ exp(x) − x[t]` (log-sum-exp): the function whose exact gradient is `(y − t)/N`.
    fn loss_at(x: &Array2<f64>, t: &[usize]) -> f64 {
        let n = x.nrows() as f64;
        let mut sum = 0.0;
        for (row, &c) in x.outer_iter().zip(t) {
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            sum += lse - row[c];
        }
        sum / n
    }

    #[test]
    fn gradient_matches_numerical_for_labels_and_one_hot() {
        let mut rng = Rng::new(5);
        let x = Array2::from_shape_simple_fn((4, 5), || 3.0 * rng.normal());
        let t = [0, 3, 4, 3];
        let mut layer = SoftmaxWithLoss::new();
        layer.forward(x.clone(), Targets::Labels(&t));
        let loss = layer.loss;
        let dx = layer.backward(1.0);
        // The forward loss carries the book's guard: −mean log(softmax(x)[t] + 1e-7).
        let guarded: f64 = x
            .outer_iter()
            .zip(&t)
            .map(|(row, &c)| {
                let e: Vec<f64> = row.iter().map(|v| v.exp()).collect();
                -(e[c] / e.iter().sum::<f64>() + 1e-7).ln()
            })
            .sum::<f64>()
            / 4.0;
        assert!((loss - guarded).abs() < 1e-12, "{loss} vs {guarded}");

        let mut one_hot = Array2::zeros((4, 5));
        for (i, &c) in t.iter().enumerate() {
            one_hot[[i, c]] = 1.0;
        }
        layer.forward(x.clone(), Targets::OneHot(one_hot.view()));
        let dx_one_hot = layer.backward(1.0);
        assert!((&dx - &dx_one_hot).iter().all(|d| d.abs() < 1e-15));

        let h = 1e-5;
        for idx in [(0, 0), (1, 3), (2, 1), (3, 4), (3, 3)] {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[idx] += h;
            xm[idx] -= h;
            let num = (loss_at(&xp, &t) - loss_at(&xm, &t)) / (2.0 * h);
            let rel = (num - dx[idx]).abs() / (num.abs() + dx[idx].abs()).max(1e-8);
            assert!(
                rel < 1e-6,
                "{idx:?}: numerical {num} vs backprop {}",
                dx[idx]
            );
        }
    }

    #[test]
    fn large_scores_give_finite_loss() {
        let x = ndarray::array![[1000.0_f32, 0.0], [0.0, 1000.0]];
        let loss = SoftmaxWithLoss::new().forward(x, Targets::Labels(&[1, 1]));
        // sample 0 puts all mass on the wrong class: −log(0 + 1e-7) / 2.
        assert!((loss - (-(1e-7_f32).ln() / 2.0)).abs() < 1e-3, "{loss}");
    }
}
