//! RMSprop (§6.1.5, the book's note on AdaGrad's ever-shrinking steps).

use ndarray::Zip;

use super::{Optimizer, OptimizerState, Slots, for_each_value};
use crate::error::Result;
use crate::float::Float;
use crate::nets::NamedParam;

/// `h ← ρh + (1 − ρ)(∂L/∂W)²;  W ← W − η ∂L/∂W / (√h + 1e-7)`: AdaGrad with an exponentially
/// decaying average instead of a sum. Book defaults η = 0.01, ρ (`decay_rate`) = 0.99.
#[derive(Clone, Debug)]
pub struct RmsProp<F = f64> {
    /// The learning rate η.
    pub lr: f64,
    /// The decay rate ρ.
    pub decay_rate: f64,
    h: Slots<F>,
}

impl<F: Float> RmsProp<F> {
    /// RMSprop with learning rate `lr` and decay rate `decay_rate`.
    pub fn new(lr: f64, decay_rate: f64) -> Self {
        RmsProp {
            lr,
            decay_rate,
            h: Slots::default(),
        }
    }
}

impl<F: Float> Optimizer<F> for RmsProp<F> {
    fn name(&self) -> &'static str {
        "RMSprop"
    }

    fn update(&mut self, params: &mut [NamedParam<'_, F>]) {
        self.h.ensure(params);
        let (lr, rho, eps) = (F::lit(self.lr), F::lit(self.decay_rate), F::lit(1e-7));
        let one_minus_rho = F::lit(1.0 - self.decay_rate);
        for (p, h) in params.iter_mut().zip(&mut self.h.arrays) {
            for_each_value!(Zip::from(&mut p.value).and(h).and(&p.grad), |w, h, &g| {
                *h *= rho;
                *h += one_minus_rho * g * g;
                *w -= lr * g / (h.sqrt() + eps);
            });
        }
    }

    /// The averaged squared gradients `h0, h1, …`.
    fn state(&self) -> OptimizerState<F> {
        let mut s = OptimizerState::default();
        self.h.export("h", &mut s.arrays);
        s
    }

    fn load_state(&mut self, state: &OptimizerState<F>) -> Result<()> {
        self.h.import("h", state)
    }
}
