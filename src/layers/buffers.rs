//! Storage the layers recycle between steps (a training step allocates nothing it allocated
//! the step before), and the reshape every layer that takes images to rows needs.

use ndarray::{Array2, ArrayD, IxDyn};

use crate::float::Float;

/// Turns a finished-with array into plain storage for reuse; its values are garbage.
pub(crate) fn recycle<F>(a: ArrayD<F>) -> Vec<F> {
    a.into_raw_vec_and_offset().0
}

/// Takes `buf` as the storage of a `shape` array. The values are whatever the buffer held
/// (zeros where it grew): the caller overwrites all of them.
pub(crate) fn reuse<F: Float>(buf: &mut Vec<F>, shape: &[usize]) -> ArrayD<F> {
    let mut v = std::mem::take(buf);
    v.resize(shape.iter().product(), F::zero());
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("length matches shape")
}

/// The values of `x` as a contiguous `(N, C, H, W)` slice source.
pub(crate) fn standard<F: Float>(x: ArrayD<F>) -> ArrayD<F> {
    if x.is_standard_layout() {
        x
    } else {
        x.as_standard_layout().into_owned()
    }
}

/// Reshapes an owned array to `(N, rest)` without copying when it is already contiguous.
pub(crate) fn flatten_2d<F: Float>(x: ArrayD<F>) -> Array2<F> {
    let n = x.shape().first().copied().unwrap_or(1);
    let rest = x.len().checked_div(n).unwrap_or(0);
    let x = if x.is_standard_layout() {
        x
    } else {
        x.as_standard_layout().into_owned()
    };
    x.into_shape_with_order((n, rest))
        .expect("a standard-layout array reshapes")
}
