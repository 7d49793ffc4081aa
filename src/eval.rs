//! Evaluating a trained network on a dataset: accuracy, per-class accuracy, the confusion
//! matrix, and the first misclassified samples (the book's `misclassified_mnist.py`).

use crate::data::{Dataset, Layout};
use crate::float::Float;
use crate::functions::argmax;
use crate::io::safetensors::TensorDtype;
use crate::nets::Network;

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

    /// Per class: `(correct, samples)`.
    pub fn per_class(&self) -> Vec<(usize, usize)> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| (row[c], row.iter().sum()))
            .collect()
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
    let mut labels = Vec::new();
    let indices: Vec<usize> = (0..ds.len()).collect();
    for chunk in indices.chunks(batch.max(1)) {
        let mut x = ds.batch::<F>(chunk, layout, &mut labels);
        if let Some(dtype) = inputs {
            x.map_inplace(|v| *v = F::lit(dtype.round(v.to_f64_lossy())));
        }
        let y = net.predict(x, false);
        for (row, (&i, &label)) in chunk.iter().zip(&labels).enumerate() {
            // A net with more outputs than the dataset has classes counts as wrong there.
            let pred = argmax(y.row(row).iter().copied());
            if pred < classes {
                confusion[label][pred] += 1;
            }
            if pred != label && misclassified.len() < max_misclassified {
                misclassified.push((i, label, pred));
            }
        }
    }
    Evaluation {
        confusion,
        misclassified,
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
}
