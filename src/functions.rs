//! The book's functions (`common/functions.py`): softmax and the loss functions.

use ndarray::{Array2, ArrayView2, Axis};

use crate::float::Float;

/// What a loss compares the network's output with: class indices, or one-hot rows.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, F> {
    /// One class index per sample.
    Labels(&'a [usize]),
    /// One row per sample; as in the book, the row's argmax is the class.
    OneHot(ArrayView2<'a, F>),
}

impl<F: Float> Targets<'_, F> {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Labels(t) => t.len(),
            Targets::OneHot(t) => t.nrows(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class of sample `i` (for one-hot rows, the first maximum, like `argmax`).
    pub fn class(&self, i: usize) -> usize {
        match self {
            Targets::Labels(t) => t[i],
            Targets::OneHot(t) => argmax(t.row(i).iter().copied()),
        }
    }
}

/// Index of the first maximum, like `np.argmax`.
pub fn argmax<F: Float>(xs: impl Iterator<Item = F>) -> usize {
    let mut best = 0;
    let mut best_v = F::neg_infinity();
    for (i, v) in xs.enumerate() {
        if v > best_v || i == 0 {
            best = i;
            best_v = v;
        }
    }
    best
}

/// Row-wise softmax, `exp(x − max) / Σ exp(x − max)`; subtracting each row's maximum keeps
/// `exp` from overflowing without changing the result.
///
/// ```
/// use ndarray::array;
/// let y = backprop::functions::softmax(array![[0.3, 2.9, 4.0]].view());
/// assert!((y[[0, 2]] - 0.7365969137693786_f64).abs() < 1e-15);
/// ```
pub fn softmax<F: Float>(x: ArrayView2<F>) -> Array2<F> {
    let mut y = x.to_owned();
    softmax_inplace(&mut y);
    y
}

/// [`softmax`] in place, one row at a time.
pub fn softmax_inplace<F: Float>(x: &mut Array2<F>) {
    for mut row in x.axis_iter_mut(Axis(0)) {
        let max = row.iter().copied().fold(F::neg_infinity(), F::max);
        let mut sum = F::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        row.mapv_inplace(|v| v / sum);
    }
}

/// The book's guard inside the logarithm of the cross-entropy error.
pub const CROSS_ENTROPY_DELTA: f64 = 1e-7;

/// Mean cross-entropy error over the batch, `−Σ log(y[i, t_i] + 1e-7) / N`.
///
/// The 1e-7 guard keeps `log(0)` finite, as in the book's code. One-hot targets are reduced to
/// their argmax first, as the book does.
pub fn cross_entropy_error<F: Float>(y: ArrayView2<F>, t: Targets<F>) -> F {
    let n = y.nrows();
    assert_eq!(
        n,
        t.len(),
        "cross_entropy_error: {} outputs but {} targets",
        n,
        t.len()
    );
    let delta = F::lit(CROSS_ENTROPY_DELTA);
    let mut sum = F::zero();
    for i in 0..n {
        sum += (y[[i, t.class(i)]] + delta).ln();
    }
    -sum / F::from_usize(n).unwrap()
}

/// The sum of squared errors, `½ Σ (y − t)²`, summed over the whole batch as in the book.
pub fn sum_squared_error<F: Float>(y: ArrayView2<F>, t: ArrayView2<F>) -> F {
    let half = F::lit(0.5);
    half * y
        .iter()
        .zip(t.iter())
        .map(|(&a, &b)| (a - b) * (a - b))
        .sum::<F>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    #[test]
    fn softmax_appendix_a() {
        let y = softmax(array![[0.3_f64, 2.9, 4.0]].view());
        let want = [0.01821127329554753, 0.24519181293507392, 0.7365969137693786];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
    }

    #[test]
    fn softmax_does_not_overflow() {
        let y = softmax(array![[1000.0_f32, 1000.0, -1000.0]].view());
        assert!((y[[0, 0]] - 0.5).abs() < 1e-6 && y[[0, 2]] == 0.0);
    }

    fn book_y() -> (Array2<f64>, Array2<f64>) {
        let y = array![[0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]];
        let y2 = array![[0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]];
        (y, y2)
    }

    #[test]
    fn cross_entropy_appendix_a() {
        let (y, y2) = book_y();
        let mut t = Array2::<f64>::zeros((1, 10));
        t[[0, 2]] = 1.0;
        let cee = cross_entropy_error(y.view(), Targets::OneHot(t.view()));
        assert!((cee - 0.510825457099338).abs() < 1e-15, "{cee}");
        let cee2 = cross_entropy_error(y2.view(), Targets::Labels(&[2]));
        assert!((cee2 - 2.302584092994546).abs() < 1e-15, "{cee2}");
    }

    #[test]
    fn sum_squared_appendix_a() {
        let (y, y2) = book_y();
        let mut t = Array2::<f64>::zeros((1, 10));
        t[[0, 2]] = 1.0;
        assert!((sum_squared_error(y.view(), t.view()) - 0.09750000000000003).abs() < 1e-16);
        assert!((sum_squared_error(y2.view(), t.view()) - 0.5975).abs() < 1e-15);
    }

    #[test]
    fn argmax_first_maximum_wins() {
        assert_eq!(argmax([1.0, 3.0, 3.0, 2.0].into_iter()), 1);
    }
}
