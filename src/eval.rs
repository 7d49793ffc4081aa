//! Evaluating a network on a dataset: accuracy ([`accuracy`], the one the training loop, the
//! experiments, the lab and the Python package report), per-class accuracy, the confusion
//! matrix, and the first misclassified samples (the book's `misclassified_mnist.py`). Every
//! one of them is a count of [`predictions`], made `batch` samples per forward pass so that
//! memory never holds more than one batch's activations.

use crate::data::{Dataset, Layout};
use crate::float::Float;
use crate::io::safetensors::TensorDtype;
use crate::nets::Network;

/// Samples per forward pass when measuring accuracy. Larger batches do not make the products
/// faster, but they make every activation larger: with 1000, SimpleConvNet's convolution
/// output alone is 69 MB, freshly mapped (and zeroed) by the system for each batch, and the
/// final evaluation over MNIST's 70,000 images took 5.3 s instead of 1.7 s (peak memory 201
/// against 89 MB); the MLP measured the same either way.
pub const EVAL_BATCH: usize = 100;

/// Cuts the first `limit` samples of `ds` (all of them if it has fewer) into batches of
/// `batch` in order, and calls `each(indices, labels, x)` with each batch's input as the
/// network takes it (every value rounded to `inputs` first when given).
fn for_each_batch<F: Float>(
    ds: &Dataset,
    layout: Layout,
    batch: usize,
    limit: usize,
    inputs: Option<TensorDtype>,
    mut each: impl FnMut(&[usize], &[usize], ndarray::ArrayD<F>),
) {
    let n = ds.len().min(limit);
    let mut labels = Vec::new();
    let mut indices = Vec::new();
    let mut start = 0;
    while start < n {
        let end = start.saturating_add(batch.max(1)).min(n);
        indices.clear();
        indices.extend(start..end);
        let mut x = ds.batch::<F>(&indices, layout, &mut labels);
        if let Some(dtype) = inputs {
            x.map_inplace(|v| *v = F::lit(dtype.round(v.to_f64_lossy())));
        }
        each(&indices, &labels, x);
        start = end;
    }
}

/// Runs `net` in test mode over the first `limit` samples of `ds` (all of them if it has
/// fewer), `batch` samples per forward pass, and calls `each(index, label, prediction)` for
/// every sample in order, the prediction being the class of the highest score
/// ([`Network::classify`]). With `inputs`, every input value is rounded to that type first
/// (the book's `x_test.astype(np.float16)`); the computation stays in `F`.
pub fn predictions<F: Float>(
    net: &mut Network<F>,
    ds: &Dataset,
    layout: Layout,
    batch: usize,
    limit: usize,
    inputs: Option<TensorDtype>,
    mut each: impl FnMut(usize, usize, usize),
) {
    for_each_batch::<F>(ds, layout, batch, limit, inputs, |indices, labels, x| {
        for ((&i, &label), pred) in indices.iter().zip(labels).zip(net.classify(x)) {
            each(i, label, pred);
        }
    });
}

/// Accuracy of `net` on the first `limit` samples of `ds` (all of them when `None` or when it
/// has fewer): correct predictions counted in whole samples, divided by the samples seen
/// (0 for none). The training loop's evaluations, `backprop eval`, the experiments and the
/// lab all measure with it.
pub fn accuracy<F: Float>(
    net: &mut Network<F>,
    ds: &Dataset,
    layout: Layout,
    batch: usize,
    limit: Option<usize>,
) -> f64 {
    let n = ds.len().min(limit.unwrap_or(usize::MAX));
    let mut correct = 0usize;
    predictions(net, ds, layout, batch, n, None, |_, label, pred| {
        correct += usize::from(label == pred);
    });
    if n == 0 {
        0.0
    } else {
        correct as f64 / n as f64
    }
}

/// Accuracy and loss of a network on a dataset, measured in one test-mode pass
/// ([`accuracy_and_loss`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AccuracyAndLoss {
    /// Correct predictions divided by the samples seen, as [`accuracy`] counts them.
    pub accuracy: f64,
    /// Mean cross-entropy of the softmax of the scores, `−Σ log(y[i, t_i] + 1e-7) / N`: the
    /// book's `SoftmaxWithLoss` over the whole set, without the weight-decay term (see
    /// [`accuracy_and_loss`]).
    pub loss: f64,
}

/// [`accuracy`] and the mean softmax cross-entropy of `net` on the first `limit` samples of
/// `ds` (all of them when `None` or when it has fewer), from the same forward passes, `batch`
/// samples each. The loss is the book's `SoftmaxWithLoss`: the library's softmax of each
/// sample's test-mode scores, `−log(y[label] + 1e-7)` (the book's guard), averaged over the
/// samples in `f64`, so it does not depend on `batch` beyond `F`'s rounding of each term. A
/// label the net has no output for counts as probability 0.
///
/// The weight-decay term `½ λ Σ W²` that the book's `loss()` adds is left out on purpose: it
/// measures the weights, not the predictions, so a validation loss that included it would
/// rank two trials of a search that differ in `λ` by their regularisers rather than by how
/// well they predict the held-out samples. Callers that need only the accuracy use
/// [`accuracy`], which skips the softmax.
pub fn accuracy_and_loss<F: Float>(
    net: &mut Network<F>,
    ds: &Dataset,
    layout: Layout,
    batch: usize,
    limit: Option<usize>,
) -> AccuracyAndLoss {
    let n = ds.len().min(limit.unwrap_or(usize::MAX));
    let delta = F::lit(crate::functions::CROSS_ENTROPY_DELTA);
    let (mut correct, mut sum) = (0usize, 0.0f64);
    for_each_batch::<F>(ds, layout, batch, n, None, |_, labels, x| {
        let mut y = net.predict(x, false);
        for (row, &label) in y.rows().into_iter().zip(labels) {
            correct += usize::from(crate::functions::argmax(row.iter().copied()) == label);
        }
        crate::functions::softmax_inplace(&mut y);
        for (row, &label) in y.rows().into_iter().zip(labels) {
            let p = row.get(label).copied().unwrap_or_else(F::zero);
            sum -= (p + delta).ln().to_f64_lossy();
        }
    });
    if n == 0 {
        return AccuracyAndLoss {
            accuracy: 0.0,
            loss: 0.0,
        };
    }
    AccuracyAndLoss {
        accuracy: correct as f64 / n as f64,
        loss: sum / n as f64,
    }
}

/// What [`evaluate`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// `confusion[label][prediction]`: how many samples of class `label` were predicted as
    /// `prediction`.
    pub confusion: Vec<Vec<usize>>,
    /// The first misclassified samples in dataset order, as `(index, label, prediction)`.
    pub misclassified: Vec<(usize, usize, usize)>,
}

impl Evaluation {
    /// Samples evaluated.
    pub fn total(&self) -> usize {
        self.confusion.iter().flatten().sum()
    }

    /// Samples predicted correctly (the diagonal of the confusion matrix).
    pub fn correct(&self) -> usize {
        (0..self.confusion.len())
            .map(|c| self.confusion[c][c])
            .sum()
    }

    /// `correct / total` (0 for an empty dataset).
    pub fn accuracy(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            n => self.correct() as f64 / n as f64,
        }
    }

    /// Whether these predictions say that training failed ([`Failure`]): accuracy within
    /// 1.5 × of what always guessing the most common label gets, or 80 % or more of the
    /// predictions one class that holds less than half as large a share of the labels.
    /// `None` for a net that learnt something, and for fewer than two classes or samples.
    pub fn failure(&self) -> Option<Failure> {
        let total = self.total();
        let classes = self.confusion.len();
        if classes < 2 || total < 2 {
            return None;
        }
        let label_share = |c: usize| self.confusion[c].iter().sum::<usize>() as f64 / total as f64;
        let chance = (0..classes)
            .map(label_share)
            .fold(1.0 / classes as f64, f64::max);
        let accuracy = self.accuracy();
        let near_chance = accuracy <= 1.5 * chance;
        let predicted = |c: usize| self.confusion.iter().map(|row| row[c]).sum::<usize>();
        let (top, count) = (0..classes)
            .map(|c| (c, predicted(c)))
            .max_by_key(|&(c, n)| (n, std::cmp::Reverse(c)))
            .unwrap_or((0, 0));
        let share = count as f64 / total as f64;
        let collapsed = (share >= 0.8 && share >= 2.0 * label_share(top)).then_some((top, share));
        (near_chance || collapsed.is_some()).then_some(Failure {
            accuracy,
            chance,
            near_chance,
            collapsed,
        })
    }

    /// Per class: `(correct, samples)`.
    pub fn per_class(&self) -> Vec<(usize, usize)> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| (row[c], row.iter().sum()))
            .collect()
    }
}

/// How a classifier's predictions show that training failed: accuracy near what guessing
/// gets, or nearly every prediction the same class (see [`Evaluation::failure`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The accuracy measured.
    pub accuracy: f64,
    /// What guessing gets: always answering the most common label (at least `1 / classes`).
    pub chance: f64,
    /// Whether the accuracy is within 1.5 × of `chance`.
    pub near_chance: bool,
    /// The class that received most predictions and its share of them, when that share is
    /// 80 % or more and at least twice the class's share of the labels.
    pub collapsed: Option<(usize, f64)>,
}

impl Failure {
    /// What to try, for a message or a report (the command line names the flags instead).
    pub const SUGGESTIONS: &'static str = "try a smaller learning rate (too large a rate \
         throws the weights out of the valley), more epochs, the Adam optimizer, He \
         initialisation or batch normalization";

    /// One plain sentence saying what went wrong, naming the class with `class_names`.
    pub fn describe(&self, class_names: &[String]) -> String {
        let mut parts = Vec::new();
        if self.near_chance {
            parts.push(format!(
                "accuracy {:.4} is near chance ({:.4}, what always guessing the most common class gets)",
                self.accuracy, self.chance
            ));
        }
        if let Some((c, share)) = self.collapsed {
            let name = class_names
                .get(c)
                .map_or_else(|| c.to_string(), String::clone);
            parts.push(format!(
                "{:.0} % of the samples are predicted as \"{name}\"",
                100.0 * share
            ));
        }
        format!("training failed: {}", parts.join("; "))
    }
}

/// Runs `net` in test mode over all of `ds`, `batch` samples per forward pass, and tallies
/// its predictions (the class of the highest score), keeping the first `max_misclassified`
/// mistakes.
pub fn evaluate<F: Float>(
    net: &mut Network<F>,
    ds: &Dataset,
    layout: Layout,
    batch: usize,
    max_misclassified: usize,
) -> Evaluation {
    evaluate_rounded(net, ds, layout, batch, max_misclassified, None)
}

/// Rounds every parameter and buffer of `net` to `dtype` and back, in place: the book's
/// `half_float_network.py` (`params[key] = params[key].astype(np.float16)`), with batch
/// norm's running statistics rounded too since they are stored with the model.
pub fn round_params<F: Float>(net: &mut Network<F>, dtype: TensorDtype) {
    let round = |v: &mut F| *v = F::lit(dtype.round(v.to_f64_lossy()));
    for mut p in net.params() {
        p.value.map_inplace(round);
    }
    for (_, mut b) in net.buffers() {
        b.map_inplace(round);
    }
}

/// [`evaluate`] with every input value rounded to `inputs` first when given (the book's
/// `x_test.astype(np.float16)`); the computation stays in `F`.
pub fn evaluate_rounded<F: Float>(
    net: &mut Network<F>,
    ds: &Dataset,
    layout: Layout,
    batch: usize,
    max_misclassified: usize,
    inputs: Option<TensorDtype>,
) -> Evaluation {
    let classes = ds.num_classes();
    let mut confusion = vec![vec![0; classes]; classes];
    let mut misclassified = Vec::new();
    predictions(
        net,
        ds,
        layout,
        batch,
        ds.len(),
        inputs,
        |i, label, pred| {
            // A net with more outputs than the dataset has classes counts as wrong there.
            if pred < classes {
                confusion[label][pred] += 1;
            }
            if pred != label && misclassified.len() < max_misclassified {
                misclassified.push((i, label, pred));
            }
        },
    );
    Evaluation {
        confusion,
        misclassified,
    }
}

/// The test-mode scores (the book's `predict`, before softmax) of every sample of `ds` in
/// dataset order, `batch` samples per forward pass: what [`evaluate`] ranks, and what an
/// exported model ([`crate::export`]) must reproduce.
pub fn scores<F: Float>(
    net: &mut Network<F>,
    ds: &Dataset,
    layout: Layout,
    batch: usize,
) -> ndarray::Array2<F> {
    let indices: Vec<usize> = (0..ds.len()).collect();
    let mut labels = Vec::new();
    let rows: Vec<ndarray::Array2<F>> = indices
        .chunks(batch.max(1))
        .map(|chunk| net.predict(ds.batch::<F>(chunk, layout, &mut labels), false))
        .collect();
    let views: Vec<_> = rows.iter().map(|r| r.view()).collect();
    if views.is_empty() {
        return ndarray::Array2::zeros((0, 0));
    }
    ndarray::concatenate(ndarray::Axis(0), &views).expect("every batch has the same columns")
}

/// Writes, atomically as a safetensors file at `path`, what `eval --scores` gives to check
/// another runtime against backprop: `images` (every sample of `ds` as the network takes
/// it), `labels` (int64) and `scores` ([`scores`]), in the network's precision.
pub fn save_scores<F: Float>(
    path: &std::path::Path,
    net: &mut Network<F>,
    ds: &Dataset,
    layout: Layout,
    batch: usize,
) -> crate::Result<()> {
    use safetensors::{Dtype, tensor::TensorView};
    let scores = scores(net, ds, layout, batch);
    let mut labels = Vec::new();
    let all: Vec<usize> = (0..ds.len()).collect();
    let images = ds.batch::<F>(&all, layout, &mut labels);
    let dtype = TensorDtype::of::<F>();
    let floats = |a: ndarray::ArrayViewD<'_, F>| {
        let mut bytes = Vec::with_capacity(a.len() * size_of::<F>());
        for &x in a.iter() {
            dtype.extend_le(&mut bytes, x.to_f64_lossy());
        }
        bytes
    };
    let tensors = [
        (
            "images",
            dtype.dtype(),
            images.shape().to_vec(),
            floats(images.view()),
        ),
        (
            "labels",
            Dtype::I64,
            vec![labels.len()],
            labels
                .iter()
                .flat_map(|&l| (l as i64).to_le_bytes())
                .collect(),
        ),
        (
            "scores",
            dtype.dtype(),
            scores.shape().to_vec(),
            floats(scores.view().into_dyn()),
        ),
    ];
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (*name, v))
                .map_err(|e| crate::Error::Invalid(format!("tensor {name}: {e}")))
        })
        .collect::<crate::Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| crate::Error::Invalid(format!("cannot serialise the scores: {e}")))?;
    crate::io::write_atomic(path, &bytes)
}

/// A saved model evaluated on a test set: what `backprop eval` prints.
pub struct ModelEvaluation {
    /// The test set it was evaluated on.
    pub test: Dataset,
    /// Its evaluation in the model's precision.
    pub evaluation: Evaluation,
    /// Its evaluation with every weight and input rounded to f16, when asked.
    pub half: Option<Evaluation>,
}

/// Evaluates `model` (read from `path`) on the test part of `data` ([`DataSpec::of_model`]
/// gives the model's own): [`evaluate`] in batches of at most `batch_size` (fewer when one
/// batch's forward pass would hold more than [`MAX_FORWARD_VALUES`](crate::nets::MAX_FORWARD_VALUES)),
/// keeping the first `misclassified` mistakes; with `half`, again with every weight and input
/// rounded to f16 (the book's `half_float_network.py`; the model's weights stay rounded);
/// with `scores`, the test-mode scores written there first ([`save_scores`]). A test set
/// without samples, or whose images the network does not take, is an error.
///
/// [`DataSpec::of_model`]: crate::run::DataSpec::of_model
pub fn evaluate_model<F: Float>(
    model: &mut crate::io::safetensors::LoadedModel<F>,
    path: &std::path::Path,
    data: &crate::run::DataSpec,
    batch_size: usize,
    misclassified: usize,
    half: bool,
    scores: Option<&std::path::Path>,
) -> crate::Result<ModelEvaluation> {
    let test = data.load()?.test;
    test.require_samples("test")?;
    let layout = model.info.arch.layout();
    let mut shape = vec![1];
    shape.extend(test.input_shape(layout));
    model.net.check_input(&shape).map_err(|e| {
        crate::Error::Invalid(format!(
            "{} does not fit the {} dataset ({:?} images): {e}",
            path.display(),
            test.name,
            test.image_shape
        ))
    })?;
    // Whole batches within the bound on a forward pass (checked when the model was loaded).
    let per_image = model
        .info
        .arch
        .check_sizes(model.info.image_shape, model.info.class_names.len())?;
    let batch = batch_size.min((crate::nets::MAX_FORWARD_VALUES / per_image).max(1));
    let evaluation = evaluate(&mut model.net, &test, layout, batch, misclassified);
    if let Some(path) = scores {
        save_scores(path, &mut model.net, &test, layout, batch)?;
    }
    let half = half.then(|| {
        round_params(&mut model.net, TensorDtype::F16);
        let f16 = Some(TensorDtype::F16);
        evaluate_rounded(&mut model.net, &test, layout, batch, 0, f16)
    });
    Ok(ModelEvaluation {
        test,
        evaluation,
        half,
    })
}

/// One class's line of an [`EvaluationRecord`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClassRecord {
    /// Samples of the class predicted correctly.
    pub correct: usize,
    /// Samples of the class.
    pub samples: usize,
    /// `correct / samples`, `None` (JSON `null`) for a class without samples.
    pub accuracy: Option<f64>,
}

/// A misclassified sample of an [`EvaluationRecord`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MistakeRecord {
    /// Its index in the test set.
    pub index: usize,
    /// Its label.
    pub label: usize,
    /// What the network predicted.
    pub prediction: usize,
}

/// The accuracy of the f16-rounded evaluation in an [`EvaluationRecord`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct HalfRecord {
    /// Samples evaluated.
    pub samples: usize,
    /// Samples predicted correctly.
    pub correct: usize,
    /// `correct / samples`.
    pub accuracy: f64,
}

/// A saved model's evaluation as one serialisable record (`backprop eval --json` prints its
/// JSON form; its fields are in that order).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EvaluationRecord {
    /// The model file, as given.
    pub model: String,
    /// Its architecture ([`Arch::to_json`](crate::nets::Arch::to_json)).
    pub arch: serde_json::Value,
    /// The dtype of its tensors in the file.
    pub dtype: String,
    /// The test set's name.
    pub dataset: String,
    /// The seed of the train/test split.
    pub seed: u64,
    /// Samples evaluated.
    pub samples: usize,
    /// Samples predicted correctly.
    pub correct: usize,
    /// `correct / samples`.
    pub accuracy: f64,
    /// Per class, in class order.
    pub per_class: Vec<ClassRecord>,
    /// `confusion[label][prediction]`.
    pub confusion: Vec<Vec<usize>>,
    /// The first misclassified samples.
    pub misclassified: Vec<MistakeRecord>,
    /// The evaluation with weights and inputs rounded to f16, when asked.
    pub half: Option<HalfRecord>,
    /// [`Failure::describe`] when the predictions say training failed.
    pub failure: Option<String>,
    /// The warnings of loading the model.
    pub warnings: Vec<String>,
}

impl ModelEvaluation {
    /// This evaluation of `model` (read from `path`, its test set split by `seed`) as a record.
    pub fn record<F: Float>(
        &self,
        path: &std::path::Path,
        model: &crate::io::safetensors::LoadedModel<F>,
        seed: u64,
    ) -> EvaluationRecord {
        let e = &self.evaluation;
        EvaluationRecord {
            model: path.display().to_string(),
            arch: model.info.arch.to_json(),
            dtype: model.dtype.clone(),
            dataset: self.test.name.clone(),
            seed,
            samples: e.total(),
            correct: e.correct(),
            accuracy: e.accuracy(),
            per_class: e
                .per_class()
                .into_iter()
                .map(|(correct, samples)| ClassRecord {
                    correct,
                    samples,
                    accuracy: (samples != 0).then(|| correct as f64 / samples as f64),
                })
                .collect(),
            confusion: e.confusion.clone(),
            misclassified: e
                .misclassified
                .iter()
                .map(|&(index, label, prediction)| MistakeRecord {
                    index,
                    label,
                    prediction,
                })
                .collect(),
            half: self.half.as_ref().map(|h| HalfRecord {
                samples: h.total(),
                correct: h.correct(),
                accuracy: h.accuracy(),
            }),
            failure: e.failure().map(|f| f.describe(&model.info.class_names)),
            warnings: model.warnings.clone(),
        }
    }
}

impl Evaluation {
    /// The per-class accuracies, the confusion matrix and the misclassified samples as text
    /// (what `backprop eval` prints after the accuracy), the last in the book's
    /// `misclassified_mnist.py` form, `{index: (label, prediction)}`, headed by `first`, the
    /// number of mistakes asked for.
    pub fn text(&self, first: usize) -> String {
        use std::fmt::Write;
        let mut out = String::from("per-class accuracy:\n");
        for (c, (ok, n)) in self.per_class().into_iter().enumerate() {
            let acc = if n == 0 {
                "   -  ".to_string()
            } else {
                format!("{:.4}", ok as f64 / n as f64)
            };
            let _ = writeln!(out, "  {c:>3}  {acc}  ({ok}/{n})");
        }
        out.push_str("confusion matrix (rows: label, columns: prediction):\n");
        let width = self
            .confusion
            .iter()
            .flatten()
            .map(|n| n.to_string().len())
            .max()
            .unwrap_or(1)
            .max(self.confusion.len().to_string().len());
        let _ = write!(out, "  {:>3} ", "");
        for c in 0..self.confusion.len() {
            let _ = write!(out, " {c:>width$}");
        }
        out.push('\n');
        for (c, row) in self.confusion.iter().enumerate() {
            let _ = write!(out, "  {c:>3} ");
            for n in row {
                let _ = write!(out, " {n:>width$}");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "======= misclassified result (first {first}: {{index: (label, prediction)}}) ======="
        );
        let items: Vec<String> = self
            .misclassified
            .iter()
            .map(|&(i, l, p)| format!("{i}: ({l}, {p})"))
            .collect();
        let _ = writeln!(out, "{{{}}}", items.join(", "));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Affine, Layer};
    use ndarray::{Array1, Array2};

    /// A one-layer net that predicts class = the brightest of three pixels, except that
    /// pixel 2 is weighted down so class 2 is mistaken for class 0 when pixel 0 is lit too.
    #[test]
    fn confusion_matrix_and_mistakes_are_tallied_by_hand() {
        let w = Array2::from_shape_vec((3, 3), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.5])
            .unwrap();
        let layers: Vec<Box<dyn Layer<f64>>> = vec![Box::new(Affine::new(w, Array1::zeros(3)))];
        let mut net = Network::new(layers, vec![3]);
        // Samples: (pixels, label).
        let samples = [
            ([1, 0, 0], 0), // → 0 right
            ([0, 1, 0], 1), // → 1 right
            ([0, 0, 1], 2), // → 2 right
            ([1, 0, 1], 2), // → 0 (1 vs 0.5) wrong
            ([0, 1, 0], 0), // → 1 wrong
            ([1, 0, 1], 2), // → 0 wrong
        ];
        let ds = Dataset {
            name: "toy".into(),
            images: samples.iter().flat_map(|(p, _)| p.to_vec()).collect(),
            labels: samples.iter().map(|&(_, l)| l).collect(),
            image_shape: [1, 1, 3],
            max_value: 1,
            class_names: vec!["a".into(), "b".into(), "c".into()],
        };
        for batch in [1, 4, 100] {
            let e = evaluate(&mut net, &ds, Layout::Flat, batch, 2);
            assert_eq!(
                e.confusion,
                vec![vec![1, 1, 0], vec![0, 1, 0], vec![2, 0, 1]]
            );
            assert_eq!(e.misclassified, vec![(3, 2, 0), (4, 0, 1)]);
            assert_eq!((e.correct(), e.total()), (3, 6));
            assert_eq!(e.accuracy(), 0.5);
            assert_eq!(e.per_class(), vec![(1, 2), (1, 1), (1, 3)]);
        }
    }

    /// The text `backprop eval` prints, written out by hand for a 3-class evaluation with a
    /// class that has no samples and a two-digit count.
    #[test]
    fn text_lays_out_per_class_confusion_and_mistakes() {
        let e = Evaluation {
            confusion: vec![vec![12, 1, 0], vec![0, 0, 0], vec![2, 0, 3]],
            misclassified: vec![(3, 2, 0), (4, 0, 1)],
        };
        let expected = "per-class accuracy:
    0  0.9231  (12/13)
    1     -    (0/0)
    2  0.6000  (3/5)
confusion matrix (rows: label, columns: prediction):
        0  1  2
    0  12  1  0
    1   0  0  0
    2   2  0  3
======= misclassified result (first 20: {index: (label, prediction)}) =======
{3: (2, 0), 4: (0, 1)}
";
        assert_eq!(e.text(20), expected);
    }

    /// 101 one-pixel-hot samples over two classes, predicted by an identity net: the first
    /// 14 and the 101st right. Counted in whole samples the accuracy is exactly 15 / 101 for
    /// every batch size; averaging per-batch fractions (14/100 · 100 + 1/1 · 1) / 101, as the
    /// training loop's evaluation did, gives 0.14851485148514854, one unit in the last place
    /// off.
    #[test]
    fn accuracy_counts_whole_samples_across_batches() {
        let w = Array2::from_shape_vec((2, 2), vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let layers: Vec<Box<dyn Layer<f64>>> = vec![Box::new(Affine::new(w, Array1::zeros(2)))];
        let mut net = Network::new(layers, vec![2]);
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for i in 0..101 {
            // Pixel 1 lit → predicted 1.
            images.extend(if (14..100).contains(&i) {
                [0, 1]
            } else {
                [1, 0]
            });
            labels.push(0u8); // wrong exactly where pixel 1 is lit
        }
        let ds = Dataset {
            name: "toy".into(),
            images,
            labels,
            image_shape: [1, 1, 2],
            max_value: 1,
            class_names: vec!["a".into(), "b".into()],
        };
        for batch in [1, 7, 100, 101, 1000] {
            let acc = accuracy(&mut net, &ds, Layout::Flat, batch, None);
            assert_eq!(acc, 15.0 / 101.0, "batch {batch}");
            assert_eq!(
                evaluate(&mut net, &ds, Layout::Flat, batch, 0).accuracy(),
                acc
            );
        }
        // The first 20: 14 right.
        assert_eq!(accuracy(&mut net, &ds, Layout::Flat, 3, Some(20)), 0.7);
        assert_eq!(accuracy(&mut net, &ds, Layout::Flat, 3, Some(0)), 0.0);
    }

    /// The confusion test's net and samples: scores are the pixels weighted 1, 1, 0.5, so
    /// each sample's loss is `−log(e^{s_t} / Σ e^{s} + 1e-7)` written out from its scores by
    /// hand; the mean of the six is what [`accuracy_and_loss`] must give for every batch size.
    #[test]
    fn loss_is_the_mean_softmax_cross_entropy_by_hand() {
        let w = Array2::from_shape_vec((3, 3), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.5])
            .unwrap();
        let layers: Vec<Box<dyn Layer<f64>>> = vec![Box::new(Affine::new(w, Array1::zeros(3)))];
        let mut net = Network::new(layers, vec![3]).with_weight_decay(0.1);
        let samples = [
            ([1, 0, 0], 0u8, [1.0, 0.0, 0.0]),
            ([0, 1, 0], 1, [0.0, 1.0, 0.0]),
            ([0, 0, 1], 2, [0.0, 0.0, 0.5]),
            ([1, 0, 1], 2, [1.0, 0.0, 0.5]),
            ([0, 1, 0], 0, [0.0, 1.0, 0.0]),
            ([1, 0, 1], 2, [1.0, 0.0, 0.5]),
        ];
        let term = |s: [f64; 3], t: u8| {
            let z: f64 = s.iter().map(|v| v.exp()).sum();
            -(s[usize::from(t)].exp() / z + 1e-7).ln()
        };
        // Sample 0 by hand: −ln(e / (e + 2)) = ln(1 + 2/e) = 0.5514…
        assert!((term(samples[0].2, 0) - (1.0 + 2.0 / 1f64.exp()).ln()).abs() < 1e-6);
        let want: f64 = samples.iter().map(|&(_, t, s)| term(s, t)).sum::<f64>() / 6.0;
        let ds = Dataset {
            name: "toy".into(),
            images: samples.iter().flat_map(|(p, _, _)| p.to_vec()).collect(),
            labels: samples.iter().map(|&(_, l, _)| l).collect(),
            image_shape: [1, 1, 3],
            max_value: 1,
            class_names: vec!["a".into(), "b".into(), "c".into()],
        };
        for batch in [1, 4, 100] {
            let m = accuracy_and_loss(&mut net, &ds, Layout::Flat, batch, None);
            // The weight-decay term (0.05 · 2.25 here) is not part of it.
            assert!(
                (m.loss - want).abs() < 1e-12,
                "batch {batch}: {} vs {want}",
                m.loss
            );
            assert_eq!(m.accuracy, 0.5);
            assert_eq!(
                m.accuracy,
                accuracy(&mut net, &ds, Layout::Flat, batch, None)
            );
        }
        // The first two samples only; none at all.
        let two = accuracy_and_loss(&mut net, &ds, Layout::Flat, 3, Some(2));
        let want2 = (term(samples[0].2, 0) + term(samples[1].2, 1)) / 2.0;
        assert!((two.loss - want2).abs() < 1e-12 && two.accuracy == 1.0);
        let none = accuracy_and_loss(&mut net, &ds, Layout::Flat, 3, Some(0));
        assert_eq!((none.accuracy, none.loss), (0.0, 0.0));
    }

    fn eval_of(confusion: Vec<Vec<usize>>) -> Evaluation {
        Evaluation {
            confusion,
            misclassified: Vec::new(),
        }
    }

    #[test]
    fn failure_at_chance_and_on_collapse() {
        // The run: ten balanced classes (10 samples each), every sample predicted
        // "4": accuracy 0.1, chance 0.1, 100 % one class.
        let mut c = vec![vec![0; 10]; 10];
        for row in c.iter_mut() {
            row[4] = 10;
        }
        let f = eval_of(c).failure().expect("a failed run");
        assert_eq!((f.accuracy, f.chance), (0.1, 0.1));
        assert!(f.near_chance);
        assert_eq!(f.collapsed, Some((4, 1.0)));
        let names: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let text = f.describe(&names);
        assert!(
            text.starts_with("training failed: accuracy 0.1000 is near chance"),
            "{text}"
        );
        assert!(
            text.contains("100 % of the samples are predicted as \"4\""),
            "{text}"
        );

        // Spread over the classes but no better than guessing: near chance, not collapsed.
        let c: Vec<Vec<usize>> = (0..10)
            .map(|l| {
                (0..10)
                    .map(|p| usize::from(p == (l + 1) % 10) * 9 + usize::from(p == l))
                    .collect()
            })
            .collect();
        let f = eval_of(c).failure().expect("at chance");
        assert!(f.near_chance && f.collapsed.is_none());
        assert!((f.accuracy - 0.1).abs() < 1e-12);

        // A good net: no failure.
        let good: Vec<Vec<usize>> = (0..10)
            .map(|l| {
                (0..10)
                    .map(|p| {
                        if p == l {
                            9
                        } else {
                            usize::from(p == (l + 1) % 10)
                        }
                    })
                    .collect()
            })
            .collect();
        assert_eq!(eval_of(good).failure(), None);

        // Collapsed but above chance on a set where that class is rare: still a failure.
        // Class 0 holds 10 of 100 labels and receives 85 % of the predictions.
        let mut c = vec![vec![0; 2]; 2];
        c[0][0] = 10;
        c[1][0] = 75;
        c[1][1] = 15;
        let f = eval_of(c).failure().expect("collapsed");
        assert_eq!(f.collapsed, Some((0, 0.85)));
        // Predicting the majority class of a 90/10 set is chance, not a collapse.
        let c = vec![vec![0, 10], vec![0, 90]];
        let f = eval_of(c).failure().expect("chance");
        assert!(f.near_chance && f.collapsed.is_none() && f.chance == 0.9);
    }
}
