//! The layer bench's data: one small example through one layer of [`crate::layers`], with
//! the gradients its `backward` returns beside the numerical ones of [`crate::gradient`].
//!
//! The layer becomes the scalar function `L = Σ dout ⊙ layer(x)` for a fixed random upstream
//! gradient `dout`, so that `∂L/∂out = dout`; backprop gives `dx = backward(dout)` and each
//! parameter's gradient, and [`numerical_gradient`] gives the same by central differences
//! with the book's `h = 1e-4`. Everything is `f64`, drawn from one seed.

use ndarray::{Array1, Array2, Array4, ArrayD, IxDyn};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::functions::Targets;
use crate::gradient::{H, numerical_gradient, relative_error};
use crate::layers::{
    Affine, BatchNormalization, Convolution, Dropout, Layer, Pooling, Relu, Sigmoid,
    SoftmaxWithLoss,
};
use crate::rng::Rng;

/// The layers on the bench, by the name the page uses, with the backward rule in words.
pub const LAYERS: [(&str, &str); 8] = [
    (
        "Relu",
        "dx = dout where x > 0 and 0 elsewhere: the forward pass's mask",
    ),
    ("Sigmoid", "dx = dout · y(1 − y), y the forward output"),
    (
        "Affine",
        "dx = dout · Wᵀ, dW = xᵀ · dout, db = dout summed over the batch",
    ),
    (
        "SoftmaxWithLoss",
        "dx = (y − t) / N: the softmax output minus the one-hot label, per sample",
    ),
    (
        "BatchNormalization",
        "dβ = Σ dout, dγ = Σ dout · x̂, and dx back through the normalisation (§6.3.1)",
    ),
    (
        "Dropout",
        "dx = dout where the unit was kept and 0 where it was dropped (the same mask)",
    ),
    (
        "Convolution",
        "im2col, then as Affine: dW = colᵀ · dout, db = Σ dout, dx = col2im(dout · Wᵀ)",
    ),
    (
        "Pooling",
        "dx gets dout at the position of each window's maximum and 0 elsewhere",
    ),
];

fn tensor(a: &ArrayD<f64>) -> Value {
    json!({"shape": a.shape(), "data": a.iter().copied().collect::<Vec<f64>>()})
}

fn normal(shape: &[usize], rng: &mut Rng) -> ArrayD<f64> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.normal())
}

/// Runs the example for `layer` (a name of [`LAYERS`]) with random numbers from `seed`.
///
/// ```
/// let d = backprop::lab::bench::run("Affine", 1).unwrap();
/// for g in d["grads"].as_array().unwrap() {
///     assert!(g["relative_error"].as_f64().unwrap() < 1e-7, "{}", g["name"]);
/// }
/// ```
pub fn run(layer: &str, seed: u64) -> Result<Value> {
    let rule = LAYERS
        .iter()
        .find(|(n, _)| *n == layer)
        .map(|(_, r)| *r)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "unknown layer {layer:?}; the bench has {}",
                LAYERS.map(|(n, _)| n).join(", ")
            ))
        })?;
    let mut rng = Rng::stream(seed, "lab-bench");
    let mut d = match layer {
        "SoftmaxWithLoss" => softmax_with_loss(&mut rng),
        _ => {
            let (mut l, x): (Box<dyn Layer<f64>>, ArrayD<f64>) = match layer {
                "Relu" => (Box::new(Relu::new()), normal(&[2, 4], &mut rng)),
                "Sigmoid" => (Box::new(Sigmoid::new()), normal(&[2, 4], &mut rng)),
                "Affine" => {
                    let w = Array2::from_shape_simple_fn((4, 3), || rng.normal());
                    let b = Array1::from_shape_simple_fn(3, || rng.normal());
                    (Box::new(Affine::new(w, b)), normal(&[2, 4], &mut rng))
                }
                "BatchNormalization" => {
                    let g = Array1::from_shape_simple_fn(3, || 1.0 + 0.1 * rng.normal());
                    let b = Array1::from_shape_simple_fn(3, || 0.1 * rng.normal());
                    (
                        Box::new(BatchNormalization::new(g, b, 0.9)),
                        normal(&[4, 3], &mut rng),
                    )
                }
                "Dropout" => (
                    Box::new(Dropout::new(0.5, Rng::stream(seed, "lab-dropout"))),
                    normal(&[2, 4], &mut rng),
                ),
                "Convolution" => {
                    let w = Array4::from_shape_simple_fn((2, 1, 3, 3), || rng.normal());
                    let b = Array1::from_shape_simple_fn(2, || rng.normal());
                    (
                        Box::new(Convolution::new(w, b, 1, 0)),
                        normal(&[1, 1, 4, 4], &mut rng),
                    )
                }
                "Pooling" => (
                    Box::new(Pooling::new(2, 2, 2)),
                    normal(&[1, 1, 4, 4], &mut rng),
                ),
                _ => unreachable!("listed in LAYERS"),
            };
            layer_example(l.as_mut(), x, &mut rng)
        }
    };
    d["layer"] = json!(layer);
    d["rule"] = json!(rule);
    Ok(d)
}

/// Forward, backward and the numerical gradients of `L = Σ dout ⊙ layer(x)` for `x` and
/// every parameter.
fn layer_example(layer: &mut dyn Layer<f64>, x: ArrayD<f64>, rng: &mut Rng) -> Value {
    // A layer that draws random numbers (dropout) replays the same draws on every pass, so
    // that the function being differentiated is fixed.
    let replay = layer.rng().map(|r| r.state());
    let out = layer.forward(x.clone(), true);
    let dout = normal(out.shape(), rng);
    let dx = layer.backward(dout.clone());
    let params: Vec<(String, ArrayD<f64>, ArrayD<f64>)> = layer
        .params()
        .iter()
        .map(|p| {
            (
                format!("d{}", p.kind.prefix()),
                p.value.to_owned(),
                p.grad.to_owned(),
            )
        })
        .collect();
    let objective = |layer: &mut dyn Layer<f64>, x: &ArrayD<f64>| {
        if let (Some(state), Some(r)) = (replay, layer.rng()) {
            *r = Rng::from_state(state);
        }
        (&layer.forward(x.clone(), true) * &dout).sum()
    };
    let mut grads = Vec::new();
    let num_dx = numerical_gradient(|x| objective(&mut *layer, x), &mut x.clone(), H);
    grads.push(grad_json("dx", &dx, &num_dx));
    for (k, (name, value, analytic)) in params.iter().enumerate() {
        let mut p = value.clone();
        let numeric = numerical_gradient(
            |p| {
                layer.params()[k].value.assign(p);
                objective(&mut *layer, &x)
            },
            &mut p,
            H,
        );
        layer.params()[k].value.assign(value);
        grads.push(grad_json(name, analytic, &numeric));
    }
    let mut params_json = serde_json::Map::new();
    for (name, value, _) in &params {
        params_json.insert(name[1..].to_string(), tensor(value));
    }
    json!({
        "input": tensor(&x),
        "params": params_json,
        "output": tensor(&out),
        "dout": tensor(&dout),
        "grads": grads,
    })
}

fn grad_json(name: &str, backprop: &ArrayD<f64>, numerical: &ArrayD<f64>) -> Value {
    json!({
        "name": name,
        "backprop": tensor(backprop),
        "numerical": tensor(numerical),
        "relative_error": relative_error(backprop, numerical),
    })
}

/// Softmax-with-loss takes labels and returns a scalar: `L` is the loss itself, `dout = 1`.
fn softmax_with_loss(rng: &mut Rng) -> Value {
    let x = Array2::from_shape_simple_fn((2, 3), || rng.normal());
    let labels = [rng.below(3), rng.below(3)];
    let mut layer = SoftmaxWithLoss::<f64>::new();
    let loss = layer.forward(x.clone(), Targets::Labels(&labels));
    let y = layer.y().to_owned().into_dyn();
    let dx = layer.backward(1.0).into_dyn();
    let mut xd = x.into_dyn();
    let num = numerical_gradient(
        |x| {
            let x2 = x.clone().into_dimensionality().expect("2-D");
            SoftmaxWithLoss::new().forward(x2, Targets::Labels(&labels))
        },
        &mut xd,
        H,
    );
    json!({
        "input": tensor(&xd),
        "labels": labels,
        "params": {},
        "output": tensor(&y),
        "loss": loss,
        "dout": {"shape": [], "data": [1.0]},
        "grads": [grad_json("dx", &dx, &num)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_agrees_with_its_numerical_gradient() {
        for (name, _) in LAYERS {
            let d = run(name, 7).unwrap();
            let grads = d["grads"].as_array().unwrap();
            let expected = match name {
                "Affine" | "Convolution" => 3,
                "BatchNormalization" => 3,
                _ => 1,
            };
            assert_eq!(grads.len(), expected, "{name}");
            for g in grads {
                let e = g["relative_error"].as_f64().unwrap();
                assert!(e < 1e-6, "{name} {}: {e}", g["name"]);
                let b = &g["backprop"]["data"];
                assert!(
                    b.as_array()
                        .unwrap()
                        .iter()
                        .any(|v| v.as_f64() != Some(0.0)),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn relu_passes_dout_where_x_is_positive() {
        // Checked against the rule itself, element by element: dx = dout · [x > 0].
        let d = run("Relu", 3).unwrap();
        let x = d["input"]["data"].as_array().unwrap();
        let dout = d["dout"]["data"].as_array().unwrap();
        let dx = d["grads"][0]["backprop"]["data"].as_array().unwrap();
        for i in 0..x.len() {
            let want = if x[i].as_f64().unwrap() > 0.0 {
                dout[i].as_f64().unwrap()
            } else {
                0.0
            };
            assert_eq!(dx[i].as_f64().unwrap(), want);
        }
        assert!(run("Nope", 1).is_err());
    }
}
