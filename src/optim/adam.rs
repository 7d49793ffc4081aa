//! Adam (§6.1.6), with the book's folded bias correction.

use ndarray::Zip;

use super::{Optimizer, OptimizerState, Slots, for_each_value, scalar};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nets::NamedParam;

/// Adam as the book's code computes it. Once per call: `t ← t + 1`,
/// `η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ)`; then per element, with `g = ∂L/∂W`:
///
/// `m ← m + (1 − β₁)(g − m);  v ← v + (1 − β₂)(g² − v);  W ← W − η_t m / (√v + 1e-7)`.
///
/// The bias correction is folded into the step size and the 1e-7 is added to the
/// *uncorrected* `√v`, so this is Kingma & Ba's Algorithm 1 with ε̂ = 1e-7·√(1 − β₂ᵗ).
/// Book defaults η = 0.001, β₁ = 0.9, β₂ = 0.999.
#[derive(Clone, Debug)]
pub struct Adam<F = f64> {
    /// The learning rate η.
    pub lr: f64,
    /// β₁, the decay of the first-moment average.
    pub beta1: f64,
    /// β₂, the decay of the second-moment average.
    pub beta2: f64,
    iter: u64,
    m: Slots<F>,
    v: Slots<F>,
}

impl<F: Float> Adam<F> {
    /// Adam with learning rate `lr` and decay rates `beta1`, `beta2`.
    pub fn new(lr: f64, beta1: f64, beta2: f64) -> Self {
        Adam {
            lr,
            beta1,
            beta2,
            iter: 0,
            m: Slots::default(),
            v: Slots::default(),
        }
    }
}

impl<F: Float> Optimizer<F> for Adam<F> {
    fn name(&self) -> &'static str {
        "Adam"
    }

    fn update(&mut self, params: &mut [NamedParam<'_, F>]) {
        self.m.ensure(params);
        self.v.ensure(params);
        self.iter += 1;
        let t = self.iter as i32;
        let lr_t = self.lr * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t));
        let (lr_t, eps) = (F::lit(lr_t), F::lit(1e-7));
        let (b1, b2) = (F::lit(1.0 - self.beta1), F::lit(1.0 - self.beta2));
        for ((p, m), v) in params
            .iter_mut()
            .zip(&mut self.m.arrays)
            .zip(&mut self.v.arrays)
        {
            // Contiguous (as the nets' parameters are): the kernel, compiled per instruction
            // set; the same operations as below, so the same bits.
            if let (Some(w), Some(m), Some(v), Some(g)) = (
                p.value.as_slice_mut(),
                m.as_slice_mut(),
                v.as_slice_mut(),
                p.grad.as_slice(),
            ) {
                let k = crate::kernels::update::AdamStep { lr_t, eps, b1, b2 };
                crate::kernels::update::adam(w, m, v, g, k);
                continue;
            }
            for_each_value!(
                Zip::from(&mut p.value).and(m).and(v).and(&p.grad),
                |w, m, v, &g| {
                    *m += b1 * (g - *m);
                    *v += b2 * (g * g - *v);
                    *w -= lr_t * *m / (v.sqrt() + eps);
                }
            );
        }
    }

    /// The moments `m0, m1, …`, `v0, v1, …` and the step count `iter`.
    fn state(&self) -> OptimizerState<F> {
        let mut s = OptimizerState::default();
        self.m.export("m", &mut s.arrays);
        self.v.export("v", &mut s.arrays);
        s.scalars.push(("iter".into(), self.iter as f64));
        s
    }

    fn load_state(&mut self, state: &OptimizerState<F>) -> Result<()> {
        let iter = scalar(state, "iter")?;
        if !(iter >= 0.0 && iter.fract() == 0.0) {
            return Err(Error::Invalid(format!(
                "optimizer state: Adam's iter must be a whole number, got {iter}"
            )));
        }
        self.m.import("m", state)?;
        self.v.import("v", state)?;
        self.iter = iter as u64;
        Ok(())
    }
}
