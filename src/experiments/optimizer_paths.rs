//! The book's `ch06/optimizer_compare_naive.py` (§6.1.7, fig. 6-8): four update rules
//! minimising `f(x, y) = x²/20 + y²` from (−7, 2) in 30 steps.
//!
//! The path is made by the library's own optimizers ([`crate::optim`]), given the two
//! coordinates as two parameters named `x` and `y` (the book's `params['x']`,
//! `params['y']`) and the exact gradient `(x/10, 2y)`, evaluated before each update as the
//! script does. So the experiment checks the optimizers themselves on a problem whose every
//! step can be recomputed by hand.

use ndarray::{ArrayD, IxDyn};

use crate::layers::ParamKind;
use crate::nets::NamedParam;
use crate::optim::{AdaGrad, Adam, Momentum, Optimizer, Sgd};

/// The starting point of the book's figure.
pub const START: (f64, f64) = (-7.0, 2.0);

/// The number of updates of the book's figure.
pub const STEPS: usize = 30;

/// The function the book minimises, `f(x, y) = x²/20 + y²`: an elongated bowl whose
/// gradient points mostly along `y`, which is what makes SGD zig-zag.
pub fn f(x: f64, y: f64) -> f64 {
    x * x / 20.0 + y * y
}

/// The gradient of [`f`], `(x/10, 2y)`.
pub fn df(x: f64, y: f64) -> (f64, f64) {
    (x / 10.0, 2.0 * y)
}

/// One rule's path: its name as the book's figure titles it, its learning rate and the
/// `STEPS + 1` points from the start.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// `SGD`, `Momentum`, `AdaGrad` or `Adam`.
    pub name: &'static str,
    /// The learning rate the book gives the rule.
    pub lr: f64,
    /// The start, then the position after each update.
    pub points: Vec<(f64, f64)>,
}

/// The book's four rules with its learning rates: `SGD(lr=0.95)`, `Momentum(lr=0.1)`,
/// `AdaGrad(lr=1.5)`, `Adam(lr=0.3)` (other hyperparameters at the book's defaults).
pub fn book_optimizers() -> Vec<(Box<dyn Optimizer<f64>>, f64)> {
    vec![
        (Box::new(Sgd::new(0.95)), 0.95),
        (Box::new(Momentum::new(0.1, 0.9)), 0.1),
        (Box::new(AdaGrad::new(1.5)), 1.5),
        (Box::new(Adam::new(0.3, 0.9, 0.999)), 0.3),
    ]
}

/// The path of `opt` over `steps` updates from `start`.
pub fn path(opt: &mut dyn Optimizer<f64>, start: (f64, f64), steps: usize) -> Vec<(f64, f64)> {
    let scalar = |v: f64| ArrayD::from_elem(IxDyn(&[]), v);
    let (mut x, mut y) = (scalar(start.0), scalar(start.1));
    let (mut gx, mut gy) = (scalar(0.0), scalar(0.0));
    let mut points = Vec::with_capacity(steps + 1);
    points.push(start);
    for _ in 0..steps {
        let (dx, dy) = df(x[[]], y[[]]);
        gx[[]] = dx;
        gy[[]] = dy;
        let mut params = [
            NamedParam {
                name: "x",
                kind: ParamKind::Weight,
                value: x.view_mut(),
                grad: gx.view_mut(),
            },
            NamedParam {
                name: "y",
                kind: ParamKind::Weight,
                value: y.view_mut(),
                grad: gy.view_mut(),
            },
        ];
        opt.update(&mut params);
        points.push((x[[]], y[[]]));
    }
    points
}

/// The four paths of fig. 6-8, in the book's order.
pub fn optimizer_paths() -> Vec<Path> {
    book_optimizers()
        .into_iter()
        .map(|(mut opt, lr)| Path {
            name: opt.name(),
            lr,
            points: path(opt.as_mut(), START, STEPS),
        })
        .collect()
}

/// The paths as JSON: `{"function", "start", "steps", "paths": [{"name", "lr", "points":
/// [[x, y], …]}]}`.
pub fn to_json(paths: &[Path]) -> serde_json::Value {
    serde_json::json!({
        "function": "x^2/20 + y^2",
        "start": [START.0, START.1],
        "steps": STEPS,
        "paths": paths.iter().map(|p| serde_json::json!({
            "name": p.name,
            "lr": p.lr,
            "points": p.points.iter().map(|&(x, y)| [x, y]).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SGD on this quadratic has a closed form: each coordinate is multiplied by
    /// `1 − η·∂²f` per step, `(1 − 0.95/10)ᵏ` for x and `(1 − 0.95·2)ᵏ` for y.
    #[test]
    fn sgd_path_is_the_closed_form() {
        let mut sgd = Sgd::new(0.95);
        let p = path(&mut sgd, START, STEPS);
        for (k, &(x, y)) in p.iter().enumerate() {
            let (ax, ay) = (
                0.905_f64.powi(k as i32) * -7.0,
                (-0.9_f64).powi(k as i32) * 2.0,
            );
            assert!(
                (x - ax).abs() < 1e-12 && (y - ay).abs() < 1e-12,
                "{k}: {x} {y}"
            );
        }
    }

    /// Momentum on a quadratic is a linear recurrence per coordinate,
    /// `[p, v] ← [[1 − ηc, μ], [−ηc, μ]] [p, v]` with `c` the curvature; its matrix power
    /// gives every point.
    #[test]
    fn momentum_path_is_the_matrix_power() {
        let mut m = Momentum::new(0.1, 0.9);
        let p = path(&mut m, START, STEPS);
        for (coord, c, p0) in [(0, 0.1, -7.0), (1, 2.0, 2.0)] {
            let (mut pos, mut vel) = (p0, 0.0_f64);
            for (k, point) in p.iter().enumerate() {
                let got = if coord == 0 { point.0 } else { point.1 };
                assert!(
                    (got - pos).abs() < 1e-12,
                    "{coord} step {k}: {got} vs {pos}"
                );
                // v ← μv − ηcp; p ← p + v, written as the matrix acting on (p, v).
                let nv = 0.9 * vel - 0.1 * c * pos;
                (pos, vel) = (pos + nv, nv);
            }
        }
    }
}
