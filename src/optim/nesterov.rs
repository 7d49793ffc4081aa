//! Nesterov's accelerated gradient (arXiv 1212.0901), as the book's corrected code has it.

use ndarray::Zip;

use super::{Optimizer, OptimizerState, Slots, for_each_value};
use crate::error::Result;
use crate::float::Float;
use crate::nets::NamedParam;

/// With the **old** velocity `v`: `W ← W + μ²v − (1 + μ)η ∂L/∂W`, then `v ← μv − η ∂L/∂W`.
///
/// This is the order of the book's `common/optimizer.py` since its 2021 fix (commit 89eadd0
/// of oreilly-japan/deep-learning-from-scratch, matching arXiv:1212.0901); the Korean
/// edition's repository still updates `v` first. Book defaults η = 0.01, μ = 0.9.
#[derive(Clone, Debug)]
pub struct Nesterov<F = f64> {
    /// The learning rate η.
    pub lr: f64,
    /// The momentum μ.
    pub momentum: f64,
    v: Slots<F>,
}

impl<F: Float> Nesterov<F> {
    /// Nesterov with learning rate `lr` and momentum `momentum`.
    pub fn new(lr: f64, momentum: f64) -> Self {
        Nesterov {
            lr,
            momentum,
            v: Slots::default(),
        }
    }
}

impl<F: Float> Optimizer<F> for Nesterov<F> {
    fn name(&self) -> &'static str {
        "Nesterov"
    }

    fn update(&mut self, params: &mut [NamedParam<'_, F>]) {
        self.v.ensure(params);
        let (lr, mu) = (F::lit(self.lr), F::lit(self.momentum));
        for (p, v) in params.iter_mut().zip(&mut self.v.arrays) {
            for_each_value!(Zip::from(&mut p.value).and(v).and(&p.grad), |w, v, &g| {
                *w += mu * mu * *v;
                *w -= (F::one() + mu) * lr * g;
                *v = mu * *v - lr * g;
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
