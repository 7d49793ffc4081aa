//! Optimizers (`common/optimizer.py`): rules that update parameters from their gradients.

mod sgd;

pub use sgd::Sgd;

use crate::float::Float;
use crate::nets::NamedParam;

/// An update rule. `update` is called once per training step with every parameter of the
/// network, always in the same order, so per-parameter state (velocities, squared-gradient
/// sums) can be kept by position.
pub trait Optimizer<F: Float> {
    /// The book's name of the rule (`SGD`, `Momentum`, …).
    fn name(&self) -> &'static str;

    /// Updates each `value` in place from its `grad`.
    fn update(&mut self, params: &mut [NamedParam<'_, F>]);
}
