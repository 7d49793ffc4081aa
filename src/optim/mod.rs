//! Optimizers (`common/optimizer.py`): rules that update parameters from their gradients.
//!
//! Every rule follows the book's update exactly (`common/optimizer.py`, §6.1), including its
//! defaults, its `1e-7` guards, Adam's bias correction folded into the step size and
//! Nesterov's corrected order. Per-parameter state (velocities, squared-gradient sums) is
//! created lazily as zeros on the first [`Optimizer::update`] and kept by position in the
//! network's parameter walk.

mod adagrad;
mod adam;
mod momentum;
mod nesterov;
mod rmsprop;
mod sgd;

pub use adagrad::AdaGrad;
pub use adam::Adam;
pub use momentum::Momentum;
pub use nesterov::Nesterov;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use ndarray::ArrayD;

/// Runs an element-wise update `$f` over the `ndarray::Zip` `$zip` of a parameter: on the
/// threads that `--threads` allows when the parameter is long (see
/// [`crate::parallel::ELEMENTWISE_THRESHOLD`]), else on this one. Each value's update is the
/// same either way, so the result does not depend on the thread count.
macro_rules! for_each_value {
    ($zip:expr, $f:expr) => {{
        let zip = $zip;
        if crate::parallel::elementwise_parallel(zip.size()) {
            zip.par_for_each($f)
        } else {
            zip.for_each($f)
        }
    }};
}
pub(crate) use for_each_value;

use crate::error::{Error, Result};
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

    /// The rule's mutable state, for checkpoints: per-parameter arrays named
    /// `<slot><position>` (`v0`, `v1`, … for the parameters in walk order) and scalars such
    /// as Adam's step count `iter`. Empty before the first update.
    fn state(&self) -> OptimizerState<F>;

    /// Restores a state returned by [`Optimizer::state`] of the same rule.
    fn load_state(&mut self, state: &OptimizerState<F>) -> Result<()>;
}

/// The state of an optimizer: named arrays and named scalars.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState<F> {
    /// Per-parameter arrays, `(name, value)`.
    pub arrays: Vec<(String, ArrayD<F>)>,
    /// Scalars, `(name, value)`.
    pub scalars: Vec<(String, f64)>,
}

/// The rules `--optimizer` names, as the book's `Trainer` spells them (lower-cased; so
/// serialised).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// [`Sgd`].
    #[default]
    Sgd,
    /// [`Momentum`].
    Momentum,
    /// [`Nesterov`].
    Nesterov,
    /// [`AdaGrad`].
    AdaGrad,
    /// [`RmsProp`].
    RmsProp,
    /// [`Adam`].
    Adam,
}

impl OptimizerKind {
    /// Every rule, in the book's order.
    pub const ALL: [OptimizerKind; 6] = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::AdaGrad,
        OptimizerKind::RmsProp,
        OptimizerKind::Adam,
    ];

    /// The book's default learning rate: 0.001 for Adam, 0.01 for the others.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Adam => 0.001,
            _ => 0.01,
        }
    }

    /// How many arrays the size of each parameter the rule keeps: none for SGD, the velocity
    /// or the sum of squares for momentum, Nesterov, AdaGrad and RMSprop, `m` and `v` for Adam.
    pub fn arrays_per_param(self) -> usize {
        match self {
            OptimizerKind::Sgd => 0,
            OptimizerKind::Adam => 2,
            _ => 1,
        }
    }

    /// The lower-case name (`sgd`, `momentum`, …).
    pub fn key(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::AdaGrad => "adagrad",
            OptimizerKind::RmsProp => "rmsprop",
            OptimizerKind::Adam => "adam",
        }
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.key() == s.to_ascii_lowercase())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown optimizer {s:?}; expected one of sgd, momentum, nesterov, adagrad, \
                     rmsprop, adam"
                ))
            })
    }
}

/// Hyperparameters of an optimizer; `None` takes the book's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hyper {
    /// Learning rate (default [`OptimizerKind::default_lr`]).
    pub lr: Option<f64>,
    /// Momentum μ of Momentum and Nesterov (default 0.9).
    pub momentum: Option<f64>,
    /// Adam's β₁ (default 0.9).
    pub beta1: Option<f64>,
    /// Adam's β₂ (default 0.999).
    pub beta2: Option<f64>,
    /// RMSprop's decay rate (default 0.99).
    pub decay_rate: Option<f64>,
}

impl Hyper {
    /// Every value set: unset ones take the book's defaults for `kind`.
    pub fn resolved(&self, kind: OptimizerKind) -> Hyper {
        Hyper {
            lr: Some(self.lr.unwrap_or(kind.default_lr())),
            momentum: Some(self.momentum.unwrap_or(0.9)),
            beta1: Some(self.beta1.unwrap_or(0.9)),
            beta2: Some(self.beta2.unwrap_or(0.999)),
            decay_rate: Some(self.decay_rate.unwrap_or(0.99)),
        }
    }
}

/// Builds the rule `kind` with `hyper`, filling unset values with the book's defaults.
pub fn build<F: Float>(kind: OptimizerKind, hyper: &Hyper) -> Box<dyn Optimizer<F>> {
    let h = hyper.resolved(kind);
    let [lr, momentum, beta1, beta2, decay_rate] =
        [h.lr, h.momentum, h.beta1, h.beta2, h.decay_rate].map(|v| v.expect("resolved"));
    match kind {
        OptimizerKind::Sgd => Box::new(Sgd::new(lr)),
        OptimizerKind::Momentum => Box::new(Momentum::new(lr, momentum)),
        OptimizerKind::Nesterov => Box::new(Nesterov::new(lr, momentum)),
        OptimizerKind::AdaGrad => Box::new(AdaGrad::new(lr)),
        OptimizerKind::RmsProp => Box::new(RmsProp::new(lr, decay_rate)),
        OptimizerKind::Adam => Box::new(Adam::new(lr, beta1, beta2)),
    }
}

/// Per-parameter arrays kept by position, created as zeros on first use (the book's lazy
/// `zeros_like`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Slots<F> {
    pub(crate) arrays: Vec<ArrayD<F>>,
}

impl<F: Float> Slots<F> {
    /// Makes sure there is one zero array per parameter, shaped like it.
    pub(crate) fn ensure(&mut self, params: &[NamedParam<'_, F>]) {
        if self.arrays.is_empty() {
            self.arrays = params
                .iter()
                .map(|p| ArrayD::zeros(p.value.raw_dim()))
                .collect();
        }
        assert_eq!(
            self.arrays.len(),
            params.len(),
            "the optimizer was used with a different set of parameters"
        );
    }

    /// The arrays as `(slot<position>, value)` pairs.
    pub(crate) fn export(&self, slot: &str, out: &mut Vec<(String, ArrayD<F>)>) {
        out.extend(
            self.arrays
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("{slot}{i}"), a.clone())),
        );
    }

    /// Reads the arrays named `slot<position>` back from `state`.
    pub(crate) fn import(&mut self, slot: &str, state: &OptimizerState<F>) -> Result<()> {
        let mut arrays = Vec::new();
        loop {
            let name = format!("{slot}{}", arrays.len());
            match state.arrays.iter().find(|(n, _)| *n == name) {
                Some((_, a)) => arrays.push(a.clone()),
                None => break,
            }
        }
        let expected = state
            .arrays
            .iter()
            .filter(|(n, _)| {
                n.strip_prefix(slot)
                    .is_some_and(|r| r.chars().all(|c| c.is_ascii_digit()))
            })
            .count();
        if expected != arrays.len() {
            return Err(Error::Invalid(format!(
                "optimizer state: the {slot:?} arrays are not numbered 0..{expected}"
            )));
        }
        self.arrays = arrays;
        Ok(())
    }
}

/// Reads a scalar from `state`.
pub(crate) fn scalar<F>(state: &OptimizerState<F>, name: &str) -> Result<f64> {
    state
        .scalars
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| Error::Invalid(format!("optimizer state: missing scalar {name:?}")))
}

#[cfg(test)]
pub(crate) mod tests {
    //! The book's `optimizer_compare_naive.py` setting: f(x, y) = x²/20 + y² from (−7, 2),
    //! gradient evaluated before each update (§6.1.7). The golden positions were recomputed
    //! with the script's own NumPy rules, independently of this code.

    use super::*;
    use crate::layers::ParamKind;

    /// Runs `steps` updates of `opt` on f from the book's start (−7, 2).
    pub(crate) fn trajectory(opt: &mut dyn Optimizer<f64>, steps: usize) -> (f64, f64) {
        trajectory_from(opt, (-7.0, 2.0), steps)
    }

    fn check(kind: OptimizerKind, lr: f64, after1: (f64, f64), after30: (f64, f64)) {
        let hyper = Hyper {
            lr: Some(lr),
            ..Hyper::default()
        };
        for (steps, want) in [(1, after1), (30, after30)] {
            let got = trajectory(&mut *build::<f64>(kind, &hyper), steps);
            assert!(
                (got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12,
                "{kind:?} after {steps}: got {got:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn sgd_appendix_a() {
        check(
            OptimizerKind::Sgd,
            0.95,
            (-6.335, -1.7999999999999998),
            (-0.3503929957523197, 0.0847823165504322),
        );
    }

    #[test]
    fn momentum_appendix_a() {
        check(
            OptimizerKind::Momentum,
            0.1,
            (-6.93, 1.6),
            (0.896413858493733, 0.08808560171506971),
        );
    }

    #[test]
    fn adagrad_appendix_a() {
        check(
            OptimizerKind::AdaGrad,
            1.5,
            (-5.500000214285683, 0.5000000374999991),
            (-0.12016232231416045, 2.486389893984459e-17),
        );
    }

    #[test]
    fn adam_appendix_a() {
        check(
            OptimizerKind::Adam,
            0.3,
            (-6.700001355255732, 1.700000237170637),
            (0.13600685239498186, 0.31824537553721943),
        );
    }

    #[test]
    fn nesterov_appendix_a() {
        check(
            OptimizerKind::Nesterov,
            0.1,
            (-6.867, 1.24),
            (0.6896149016966209, -0.0006799058361171969),
        );
    }

    #[test]
    fn rmsprop_appendix_a() {
        check(
            OptimizerKind::RmsProp,
            0.1,
            (-6.000001428569388, 1.000000249999938),
            (-0.6974203096807907, 1.4834621508315574e-08),
        );
    }

    #[test]
    fn state_round_trip_resumes_the_same_trajectory() {
        // 30 straight steps must equal 12 steps, a save into a fresh optimizer, 18 more steps.
        for kind in OptimizerKind::ALL {
            let hyper = Hyper {
                lr: Some(0.1),
                ..Hyper::default()
            };
            let straight = trajectory(&mut *build::<f64>(kind, &hyper), 30);
            let mut first = build::<f64>(kind, &hyper);
            let mid = trajectory_from(&mut *first, (-7.0, 2.0), 12);
            let mut second = build::<f64>(kind, &hyper);
            second.load_state(&first.state()).unwrap();
            let resumed = trajectory_from(&mut *second, mid, 18);
            assert_eq!(straight, resumed, "{kind:?}");
        }
    }

    #[test]
    fn names_parse_and_defaults_follow_the_book() {
        assert_eq!(
            "Adam".parse::<OptimizerKind>().unwrap(),
            OptimizerKind::Adam
        );
        assert!("adamw".parse::<OptimizerKind>().is_err());
        assert_eq!(OptimizerKind::Adam.default_lr(), 0.001);
        assert_eq!(OptimizerKind::RmsProp.default_lr(), 0.01);
        let adam = build::<f64>(OptimizerKind::Adam, &Hyper::default());
        assert_eq!(adam.name(), "Adam");
    }

    #[test]
    fn load_state_rejects_a_missing_scalar() {
        let mut adam = Adam::new(0.1, 0.9, 0.999);
        let err = Optimizer::<f64>::load_state(&mut adam, &OptimizerState::default());
        assert!(err.is_err());
    }

    #[test]
    fn contiguous_parameters_get_the_bits_of_the_element_loop_on_every_level() {
        // Contiguous parameters take `kernels::update` where a rule has a kernel (SGD, Adam),
        // compiled per SIMD level; the same values stored column by column (not contiguous in
        // the standard order) take the element loop. 37 × 53 values: a remainder for every
        // vector width.
        use ndarray::{Array2, ShapeBuilder};
        let mut rng = crate::rng::Rng::new(5);
        let (r, c) = (37, 53);
        let w0 = Array2::from_shape_simple_fn((r, c), || rng.normal() as f32);
        let grads: Vec<Array2<f32>> = (0..3)
            .map(|_| Array2::from_shape_simple_fn((r, c), || (rng.normal() * 1e-2) as f32))
            .collect();
        let stored = |a: &Array2<f32>, contiguous: bool| {
            if contiguous {
                a.clone()
            } else {
                let mut t = Array2::zeros((r, c).f());
                t.assign(a);
                t
            }
        };
        for kind in OptimizerKind::ALL {
            let run = |contiguous: bool| {
                let mut opt = build::<f32>(kind, &Hyper::default());
                let mut w = stored(&w0, contiguous);
                assert_eq!(w.as_slice_mut().is_some(), contiguous);
                for g in &grads {
                    let mut g = stored(g, contiguous);
                    let mut params = [NamedParam {
                        name: "W1",
                        kind: ParamKind::Weight,
                        value: w.view_mut().into_dyn(),
                        grad: g.view_mut().into_dyn(),
                    }];
                    opt.update(&mut params);
                }
                w.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            let want = run(false);
            assert_ne!(want, w0.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            for simd in crate::cpu::testable() {
                let got = crate::cpu::with_simd(simd, || run(true));
                assert_eq!(got, want, "{kind:?} {simd}");
            }
        }
    }

    #[test]
    fn long_parameters_update_alike_on_two_threads() {
        // 300,000 values, above the element-wise threshold: on two threads the update is cut
        // in parts, and every value must still follow the scalar trajectory exactly.
        let n = 300_000;
        assert!(
            crate::linalg::with_threads(2, || crate::parallel::runs_elementwise(n, n).len()) == 2
        );
        let start = |i: usize| -7.0 + (i % 1000) as f64 * 0.014;
        for kind in OptimizerKind::ALL {
            let hyper = Hyper::default();
            let run = |threads| {
                crate::linalg::with_threads(threads, || {
                    let mut opt = build::<f64>(kind, &hyper);
                    let mut x = ndarray::Array1::from_shape_fn(n, start).into_dyn();
                    for _ in 0..3 {
                        let mut g = &x / 10.0;
                        let mut params = [NamedParam {
                            name: "x",
                            kind: ParamKind::Weight,
                            value: x.view_mut(),
                            grad: g.view_mut(),
                        }];
                        opt.update(&mut params);
                    }
                    x
                })
            };
            let (one, two) = (run(1), run(2));
            assert_eq!(one, two, "{kind:?}");
            for i in [0, 1, 999, n - 1] {
                let mut opt = build::<f64>(kind, &hyper);
                let want = trajectory_from(&mut *opt, (start(i), start(i)), 3).0;
                assert_eq!(two[i], want, "{kind:?} value {i}");
            }
        }
    }

    /// Runs `steps` updates of `opt` on f from `start` and returns (x, y): the last point of
    /// the path `experiment optimizer-paths` draws.
    fn trajectory_from(
        opt: &mut dyn Optimizer<f64>,
        start: (f64, f64),
        steps: usize,
    ) -> (f64, f64) {
        let points = crate::experiments::optimizer_paths::path(opt, start, steps);
        *points.last().expect("a path holds its start")
    }
}
