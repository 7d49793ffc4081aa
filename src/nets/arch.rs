//! Architectures by name: what `--model` selects, what a model file records, and how to
//! build the network from it.

use super::{Network, TwoLayerNet};
use crate::data::Layout;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::rng::Rng;

/// A network architecture, independent of the data it will be trained on.
#[derive(Clone, Debug, PartialEq)]
pub enum Arch {
    /// The book's TwoLayerNet (§5.7): Affine → ReLU → Affine.
    TwoLayer {
        /// Hidden units.
        hidden: usize,
        /// Standard deviation of the initial weights (the book's 0.01).
        weight_init_std: f64,
    },
}

impl Arch {
    /// The name `--model` uses (`two-layer`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Arch::TwoLayer { .. } => "two-layer",
        }
    }

    /// The architecture as JSON, for model files: `{"name": "two-layer", …}` with the
    /// variant's fields. [`Arch::from_json`] reads it back.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Arch::TwoLayer {
                hidden,
                weight_init_std,
            } => serde_json::json!({
                "name": self.name(),
                "hidden": hidden,
                "weight_init_std": weight_init_std,
            }),
        }
    }

    /// Reads an architecture written by [`Arch::to_json`].
    pub fn from_json(v: &serde_json::Value) -> Result<Arch> {
        let field = |key: &str| {
            v.get(key)
                .ok_or_else(|| Error::Invalid(format!("the architecture has no {key:?}: {v}")))
        };
        let usize_field = |key: &str| {
            field(key)?
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    Error::Invalid(format!("the architecture's {key:?} is not a count: {v}"))
                })
        };
        let f64_field = |key: &str| {
            field(key)?.as_f64().ok_or_else(|| {
                Error::Invalid(format!("the architecture's {key:?} is not a number: {v}"))
            })
        };
        match field("name")?.as_str() {
            Some("two-layer") => Ok(Arch::TwoLayer {
                hidden: usize_field("hidden")?,
                weight_init_std: f64_field("weight_init_std")?,
            }),
            Some(other) => Err(Error::Invalid(format!(
                "unknown architecture {other:?} (this build knows two-layer)"
            ))),
            None => Err(Error::Invalid(format!(
                "the architecture's name is not a string: {v}"
            ))),
        }
    }

    /// Whether the network takes flat vectors or images.
    pub fn layout(&self) -> Layout {
        match self {
            Arch::TwoLayer { .. } => Layout::Flat,
        }
    }

    /// The name and shape of every tensor (parameters, then buffers, in walk order) that
    /// [`Arch::build`] would create for `image_shape` and `classes`, computed without
    /// allocating them: model files are checked against this before a network is built, so
    /// a file cannot make the loader allocate more than the file holds.
    pub fn tensor_shapes(
        &self,
        image_shape: [usize; 3],
        classes: usize,
    ) -> Vec<(String, Vec<usize>)> {
        let input = image_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX);
        match self {
            Arch::TwoLayer { hidden, .. } => vec![
                ("W1".into(), vec![input, *hidden]),
                ("b1".into(), vec![*hidden]),
                ("W2".into(), vec![*hidden, classes]),
                ("b2".into(), vec![classes]),
            ],
        }
    }

    /// Builds a freshly initialised network for images of `image_shape` (`[C, H, W]`) and
    /// `classes` outputs, drawing initial weights from `rng`.
    pub fn build<F: Float>(
        &self,
        image_shape: [usize; 3],
        classes: usize,
        rng: &mut Rng,
    ) -> Result<Network<F>> {
        if classes < 2 {
            return Err(Error::Invalid(format!(
                "a classifier needs at least 2 classes, got {classes}"
            )));
        }
        let input: usize = image_shape.iter().product();
        Ok(match self {
            Arch::TwoLayer {
                hidden,
                weight_init_std,
            } => TwoLayerNet::new(input, *hidden, classes, *weight_init_std, rng).into_inner(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tensor_shapes` must list exactly what `build` creates, for every architecture.
    #[test]
    // Each new architecture joins the list.
    #[allow(clippy::single_element_loop)]
    fn tensor_shapes_match_the_built_network() {
        for arch in [Arch::TwoLayer {
            hidden: 7,
            weight_init_std: 0.01,
        }] {
            let mut net: Network<f32> = arch.build([1, 3, 4], 5, &mut Rng::new(0)).unwrap();
            assert_eq!(
                crate::io::tensor_shapes(&mut net),
                arch.tensor_shapes([1, 3, 4], 5),
                "{}",
                arch.name()
            );
        }
    }

    #[test]
    fn json_round_trips_and_rejects_unknown_names() {
        let a = Arch::TwoLayer {
            hidden: 50,
            weight_init_std: 0.01,
        };
        let j = a.to_json();
        assert_eq!(j["name"], "two-layer");
        assert_eq!(Arch::from_json(&j).unwrap(), a);
        let e = Arch::from_json(&serde_json::json!({"name": "three-layer"})).unwrap_err();
        assert!(e.to_string().contains("three-layer"), "{e}");
        let e =
            Arch::from_json(&serde_json::json!({"name": "two-layer", "hidden": -1})).unwrap_err();
        assert!(e.to_string().contains("hidden"), "{e}");
    }
}
