//! Stochastic gradient descent (§6.1.2).

use ndarray::Zip;

use super::{Optimizer, OptimizerState, for_each_value};
use crate::error::Result;
use crate::float::Float;
use crate::nets::NamedParam;

/// `W ← W − η ∂L/∂W`. The book's default learning rate η is 0.01.
#[derive(Clone, Debug)]
pub struct Sgd {
    /// The learning rate η.
    pub lr: f64,
}

impl Sgd {
    /// SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Sgd { lr }
    }
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd::new(0.01)
    }
}

impl<F: Float> Optimizer<F> for Sgd {
    fn name(&self) -> &'static str {
        "SGD"
    }

    fn update(&mut self, params: &mut [NamedParam<'_, F>]) {
        let lr = F::lit(self.lr);
        for p in params.iter_mut() {
            // Contiguous (as the nets' parameters are): the kernel, compiled per instruction
            // set; the same operations as below, so the same bits.
            if let (Some(w), Some(g)) = (p.value.as_slice_mut(), p.grad.as_slice_mut()) {
                crate::kernels::update::sgd(w, g, lr);
                continue;
            }
            for_each_value!(Zip::from(&mut p.value).and(&p.grad), |w, &g| *w -= lr * g);
        }
    }

    /// SGD has no state.
    fn state(&self) -> OptimizerState<F> {
        OptimizerState::default()
    }

    fn load_state(&mut self, _state: &OptimizerState<F>) -> Result<()> {
        Ok(())
    }
}
