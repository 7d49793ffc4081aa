//! Classifying single images with a trained network: an image file prepared the way MNIST
//! was ([`prepare`]), or one image of an IDX file as it is.
//!
//! The class probabilities are the softmax of the test-mode scores `y` (dropout scaled, batch
//! norm on its running statistics): `pᵢ = exp(yᵢ − max y) / Σⱼ exp(yⱼ − max y)`.

use std::path::Path;

use ndarray::ArrayD;

use crate::data::{Layout, idx};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::safetensors::ModelInfo;
use crate::nets::Network;

pub mod prepare;

/// What the network says about one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The test-mode scores, one per class.
    pub logits: Vec<f64>,
    /// Their softmax.
    pub probabilities: Vec<f64>,
}

impl Prediction {
    /// The `k` most probable classes as `(class, probability)`, most probable first (on a tie
    /// the lower class first, like `argmax`).
    pub fn top(&self, k: usize) -> Vec<(usize, f64)> {
        let mut order: Vec<usize> = (0..self.probabilities.len()).collect();
        order.sort_by(|&a, &b| {
            self.probabilities[b]
                .total_cmp(&self.probabilities[a])
                .then(a.cmp(&b))
        });
        order
            .into_iter()
            .take(k)
            .map(|c| (c, self.probabilities[c]))
            .collect()
    }

    /// The predicted class: the highest score.
    pub fn class(&self) -> usize {
        self.top(1)[0].0
    }
}

/// The softmax of one row of scores `y` ([`crate::functions::softmax`]).
pub fn softmax(y: &[f64]) -> Vec<f64> {
    let mut row = ndarray::Array2::from_shape_vec((1, y.len()), y.to_vec()).expect("one row");
    crate::functions::softmax_inplace(&mut row);
    row.into_raw_vec_and_offset().0
}

/// The `(height, width)` of the grey images a model takes, or an error naming `model` when
/// its images have other than one channel (image files are read as grey).
pub fn grey_input(info: &ModelInfo, model: &Path) -> Result<(usize, usize)> {
    match info.image_shape {
        [1, h, w] => Ok((h, w)),
        [c, h, w] => Err(Error::format(
            model,
            format!(
                "the model takes {c}-channel {h}×{w} images; predict reads images as grey \
                 (1 channel)"
            ),
        )),
    }
}

/// Runs `net` in test mode on one image of `pixels` (`H·W` values in `[0, 1]`, row-major) in
/// the layout of `info`'s architecture.
pub fn classify<F: Float>(net: &mut Network<F>, info: &ModelInfo, pixels: &[f32]) -> Prediction {
    let [c, h, w] = info.image_shape;
    assert_eq!(pixels.len(), c * h * w, "classify: pixel count");
    let shape = match info.arch.layout() {
        Layout::Flat => vec![1, c * h * w],
        Layout::Image => vec![1, c, h, w],
    };
    let x = ArrayD::from_shape_vec(shape, pixels.iter().map(|&p| F::lit(p as f64)).collect())
        .expect("shape matches the pixel count");
    let y = net.predict(x, false);
    let logits: Vec<f64> = y.row(0).iter().map(|v| v.to_f64_lossy()).collect();
    Prediction {
        probabilities: softmax(&logits),
        logits,
    }
}

/// Image `index` of the IDX images file `path`, scaled from bytes to `[0, 1]` by `/255` as
/// `--data DIR` datasets are, after checking that the file's images are `height × width`.
pub fn idx_image(path: &Path, index: usize, height: usize, width: usize) -> Result<Vec<f32>> {
    let images = idx::read_images(path)?;
    let &[n, rows, cols] = &images.dims[..] else {
        return Err(Error::format(path, "not an N × rows × cols image file"));
    };
    if index >= n {
        return Err(Error::format(
            path,
            format!(
                "index {index} is out of range: the file holds {n} images (0 to {})",
                n.saturating_sub(1)
            ),
        ));
    }
    if (rows, cols) != (height, width) {
        return Err(Error::format(
            path,
            format!("its images are {rows}×{cols}, the model takes {height}×{width}"),
        ));
    }
    let size = rows * cols;
    Ok(images.data[index * size..(index + 1) * size]
        .iter()
        .map(|&v| v as f32 / 255.0)
        .collect())
}

/// Label `index` of the IDX labels file `path` that goes with the images file `images`
/// (same count, checked), for a model of `classes` classes.
pub fn idx_label(path: &Path, images: &Path, index: usize, classes: usize) -> Result<usize> {
    let labels = idx::read_labels(path, classes)?;
    let x = idx::read_images(images)?;
    idx::check_pair(&x, &labels, path)?;
    Ok(labels.data[index] as usize)
}

/// How much of the frame a digit fills in the data a model was trained on: the embedded
/// digits (UCI) were size-normalised to their whole 8×8 frame, MNIST-like sets to 20/28.
pub fn box_fraction(info: &ModelInfo) -> f32 {
    if info.dataset == "digits" {
        1.0
    } else {
        prepare::MNIST_BOX
    }
}

/// Reads image file `path` and prepares it for a model of `info` (see
/// [`prepare::load_for_model`]), filling [`box_fraction`] of the frame.
pub fn prepare_image(path: &Path, info: &ModelInfo, model: &Path) -> Result<prepare::Prepared> {
    let (h, w) = grey_input(info, model)?;
    prepare::load_for_model_fit(path, h, w, box_fraction(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_top_by_hand() {
        // softmax([0, ln 3, 0]) = [1/5, 3/5, 1/5].
        let p = softmax(&[0.0, 3f64.ln(), 0.0]);
        for (a, b) in p.iter().zip([0.2, 0.6, 0.2]) {
            assert!((a - b).abs() < 1e-15, "{p:?}");
        }
        // Large scores do not overflow.
        assert_eq!(softmax(&[1000.0, 1000.0]), vec![0.5, 0.5]);
        let pr = Prediction {
            logits: vec![],
            probabilities: p,
        };
        let top: Vec<usize> = pr.top(2).iter().map(|&(c, _)| c).collect();
        // 0 and 2 tie: the lower class first.
        assert_eq!(top, [1, 0]);
        assert_eq!(pr.top(9).len(), 3);
        assert_eq!(pr.class(), 1);
    }

    #[test]
    fn colour_models_are_refused_by_name() {
        let info = ModelInfo {
            arch: crate::nets::Arch::DeepConv { hidden: 5 },
            image_shape: [3, 8, 8],
            class_names: vec!["a".into(), "b".into()],
            dataset: String::new(),
            train_config: serde_json::json!({}),
        };
        let e = grey_input(&info, Path::new("rgb.safetensors"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "rgb.safetensors: the model takes 3-channel 8×8 images; predict reads images as \
             grey (1 channel)"
        );
        let grey = ModelInfo {
            image_shape: [1, 28, 20],
            ..info
        };
        assert_eq!(grey_input(&grey, Path::new("m")).unwrap(), (28, 20));
        assert_eq!(box_fraction(&grey), 20.0 / 28.0);
    }
}
