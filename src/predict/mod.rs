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

/// Where a classified image came from: an image file (prepared: its original size and
/// whether it was inverted) or one image of an IDX file (its index and, when a labels file
/// was given, its label).
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// An image file, prepared as MNIST was.
    Image {
        /// The file.
        file: std::path::PathBuf,
        /// Its size before preparation, `(width, height)`.
        original_size: (u32, u32),
        /// Whether its light background was inverted.
        inverted: bool,
    },
    /// One image of an IDX file, as it is.
    Idx {
        /// The IDX images file.
        file: std::path::PathBuf,
        /// The image's index in it.
        index: usize,
        /// Its label, when a labels file was given.
        label: Option<usize>,
    },
}

impl Source {
    /// The image file or the IDX file.
    pub fn file(&self) -> &Path {
        match self {
            Source::Image { file, .. } | Source::Idx { file, .. } => file,
        }
    }
}

/// One of the `top` classes of a [`PredictionRecord`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClassProbability {
    /// The class index.
    pub class: usize,
    /// Its name.
    pub name: String,
    /// Its probability.
    pub probability: f64,
}

/// A classified image as one serialisable record (`backprop predict --json` prints its JSON
/// form, one line per image; fields in that order, `index` and `label` only for an IDX image,
/// `inverted` and `original_size` only for an image file).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PredictionRecord {
    /// The image file or the IDX file.
    pub file: String,
    /// The most probable class's name.
    pub prediction: String,
    /// The most probable class.
    pub class: usize,
    /// The most probable classes, most probable first.
    pub top: Vec<ClassProbability>,
    /// The test-mode scores.
    pub logits: Vec<f64>,
    /// The image's index in an IDX file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Its label (`null` when no labels file was given), for an IDX image only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Option<usize>>,
    /// Whether an image file's light background was inverted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inverted: Option<bool>,
    /// An image file's size before preparation, `[width, height]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_size: Option<[u32; 2]>,
}

impl PredictionRecord {
    /// The record of prediction `p` of the image from `source`, with its `top` classes named
    /// by `class_names` (a class without a name is named by its number).
    pub fn new(source: &Source, p: &Prediction, top: usize, class_names: &[String]) -> Self {
        let name = |c: usize| class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
        let top = p.top(top);
        let (index, label, inverted, original_size) = match *source {
            Source::Idx { index, label, .. } => (Some(index), Some(label), None, None),
            Source::Image {
                original_size: (w, h),
                inverted,
                ..
            } => (None, None, Some(inverted), Some([w, h])),
        };
        PredictionRecord {
            file: source.file().display().to_string(),
            prediction: name(top[0].0),
            class: top[0].0,
            top: top
                .iter()
                .map(|&(class, probability)| ClassProbability {
                    class,
                    name: name(class),
                    probability,
                })
                .collect(),
            logits: p.logits.clone(),
            index,
            label,
            inverted,
            original_size,
        }
    }
}

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

    /// The JSON line of `predict --json`, written out by hand: an IDX image carries its
    /// index and label (null without a labels file), an image file its size and inversion.
    #[test]
    fn prediction_records_carry_their_sources_fields_only() {
        let p = Prediction {
            logits: vec![1.0, 2.5, -1.0],
            probabilities: vec![0.25, 0.5, 0.25],
        };
        let names: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let idx = Source::Idx {
            file: "t10k".into(),
            index: 3,
            label: None,
        };
        assert_eq!(
            serde_json::to_string(&PredictionRecord::new(&idx, &p, 2, &names)).unwrap(),
            r#"{"file":"t10k","prediction":"b","class":1,"top":[{"class":1,"name":"b","probability":0.5},{"class":0,"name":"a","probability":0.25}],"logits":[1.0,2.5,-1.0],"index":3,"label":null}"#
        );
        let image = Source::Image {
            file: "x.png".into(),
            original_size: (6, 4),
            inverted: true,
        };
        assert_eq!(
            serde_json::to_string(&PredictionRecord::new(&image, &p, 1, &names)).unwrap(),
            r#"{"file":"x.png","prediction":"b","class":1,"top":[{"class":1,"name":"b","probability":0.5}],"logits":[1.0,2.5,-1.0],"inverted":true,"original_size":[6,4]}"#
        );
    }

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
