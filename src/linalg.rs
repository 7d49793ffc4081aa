//! The matrix products every layer goes through, kept behind one small interface so that the
//! GEMM kernel can be chosen by measurement without touching the layers.

use ndarray::{Array2, ArrayBase, ArrayView2, Data, DataMut, Ix2};

use crate::float::Float;

/// `c ← α · a · b + β · c`.
pub fn gemm<F: Float, S: DataMut<Elem = F>>(
    alpha: F,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    beta: F,
    c: &mut ArrayBase<S, Ix2>,
) {
    ndarray::linalg::general_mat_mul(alpha, &a, &b, beta, c);
}

/// `a · b` into a new array.
pub fn matmul<F: Float, S1: Data<Elem = F>, S2: Data<Elem = F>>(
    a: &ArrayBase<S1, Ix2>,
    b: &ArrayBase<S2, Ix2>,
) -> Array2<F> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(F::one(), a.view(), b.view(), F::zero(), &mut c);
    c
}
