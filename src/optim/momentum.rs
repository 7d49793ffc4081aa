//! Momentum (§6.1.4).

use ndarray::Zip;

use super::{Optimizer, OptimizerState, Slots, for_each_value};
use crate::error::Result;
use crate::float::Float;
use crate::nets::NamedParam;

/// `v ← μv − η ∂L/∂W;  W ← W + v`: the gradient accelerates a velocity `v` (zeros at first)
/// that friction `μ` slows down. Book defaults η = 0.01, μ = 0.9.
#[derive(Clone, Debug)]
pub struct Momentum<F = f64> {
    /// The learning rate η.
    pub lr: f64,
    /// The momentum μ.
    pub momentum: f64,
    v: Slots<F>,
}

impl<F: Float> Momentum<F> {
    /// Momentum with learning rate `lr` and momentum `momentum`.
    pub fn new(lr: f64, momentum: f64) -> Self {
        Momentum {
            lr,
            momentum,
            v: Slots::default(),
        }
    }
}

impl<F: Float> Optimizer<F> for Momentum<F> {
    fn name(&self) -> &'static str {
        "Momentum"
    }

    fn update(&mut self, params: &mut [NamedParam<'_, F>]) {
        self.v.ensure(params);
        let (lr, mu) = (F::lit(self.lr), F::lit(self.momentum));
        for (p, v) in params.iter_mut().zip(&mut self.v.arrays) {
            for_each_value!(Zip::from(&mut p.value).and(v).and(&p.grad), |w, v, &g| {
                *v = mu * *v - lr * g;
                *w += *v;
            });
        }
    }

    /// The velocities `v0, v1, …`.
    fn state(&self) -> OptimizerState<F> {
        let mut s = OptimizerState::default();
        self.v.export("v", &mut s.arrays);
        s
    }

    fn load_state(&mut self, state: &OptimizerState<F>) -> Result<()> {
        self.v.import("v", state)
    }
}
