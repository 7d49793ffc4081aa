//! AdaGrad (§6.1.5).

use ndarray::Zip;

use super::{Optimizer, OptimizerState, Slots, for_each_value};
use crate::error::Result;
use crate::float::Float;
use crate::nets::NamedParam;

/// `h ← h + (∂L/∂W)²;  W ← W − η ∂L/∂W / (√h + 1e-7)`: each element's step shrinks with the
/// sum of its squared gradients so far. Book default η = 0.01.
#[derive(Clone, Debug)]
pub struct AdaGrad<F = f64> {
    /// The learning rate η.
    pub lr: f64,
    h: Slots<F>,
}

impl<F: Float> AdaGrad<F> {
    /// AdaGrad with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdaGrad {
            lr,
            h: Slots::default(),
        }
    }
}

impl<F: Float> Optimizer<F> for AdaGrad<F> {
    fn name(&self) -> &'static str {
        "AdaGrad"
    }

    fn update(&mut self, params: &mut [NamedParam<'_, F>]) {
        self.h.ensure(params);
        let (lr, eps) = (F::lit(self.lr), F::lit(1e-7));
        for (p, h) in params.iter_mut().zip(&mut self.h.arrays) {
            for_each_value!(Zip::from(&mut p.value).and(h).and(&p.grad), |w, h, &g| {
                *h += g * g;
                *w -= lr * g / (h.sqrt() + eps);
            });
        }
    }

    /// The squared-gradient sums `h0, h1, …`.
    fn state(&self) -> OptimizerState<F> {
        let mut s = OptimizerState::default();
        self.h.export("h", &mut s.arrays);
        s
    }

    fn load_state(&mut self, state: &OptimizerState<F>) -> Result<()> {
        self.h.import("h", state)
    }
}
