//! `common/functions.py`, `common/gradient.py` and `common/util.py` over the library.

use backprop::functions::{ConvGeometry, Targets};
use ndarray::{ArrayD, Ix2, Ix4};
use numpy::{PyArrayDyn, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::{Elem, array_in, array_out, guard, is_one_hot, labels_in, shape_str};

/// `y` as rows: a 1-D array is one sample, as in the book.
fn rows(y: ArrayD<f64>) -> (ndarray::Array2<f64>, bool) {
    if y.ndim() == 1 {
        let n = y.len();
        (y.into_shape_with_order((1, n)).expect("1-D"), true)
    } else {
        let n = y.shape()[0];
        let rest = y.len().checked_div(n).unwrap_or(0);
        let y = y.as_standard_layout().into_owned();
        (
            y.into_shape_with_order((n, rest)).expect("standard layout"),
            false,
        )
    }
}

/// `softmax(x)` along the last axis of a 1-D or 2-D array, shifted by the maximum for
/// stability.
#[pyfunction]
fn softmax<'py>(py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let x = array_in::<f64>(x, "x")?;
    if x.ndim() == 0 || x.ndim() > 2 {
        return Err(PyValueError::new_err(format!(
            "softmax takes a 1-D or 2-D array, got shape {}",
            shape_str(x.shape())
        )));
    }
    let shape = x.shape().to_vec();
    let (x2, _) = rows(x);
    let y = guard("softmax", || backprop::functions::softmax(x2.view()))?;
    Ok(array_out(
        py,
        y.into_shape_with_order(shape).expect("same size"),
    ))
}

/// Targets for `n` rows of `classes` scores: one-hot rows of `y`'s shape or labels.
fn with_targets<R>(
    t: &Bound<'_, PyAny>,
    y: &ndarray::Array2<f64>,
    squeeze: bool,
    f: impl FnOnce(Targets<'_, f64>) -> R,
) -> PyResult<R> {
    let (n, c) = y.dim();
    let t_arr = array_in::<f64>(t, "t")?;
    if t_arr.len() == y.len() && (is_one_hot(t)? || (squeeze && t_arr.ndim() == 1 && c > 1)) {
        let t2 = t_arr.into_shape_with_order((n, c)).expect("same size");
        return Ok(f(Targets::OneHot(t2.view())));
    }
    let labels = if squeeze && t_arr.ndim() == 0 {
        labels_in(
            &t.py().import("numpy")?.call_method1("atleast_1d", (t,))?,
            n,
            c,
        )?
    } else {
        labels_in(t, n, c)?
    };
    Ok(f(Targets::Labels(&labels)))
}

/// The book's `cross_entropy_error(y, t)`: `−Σ log(y[t] + 1e-7) / N`, with `t` labels or
/// one-hot rows.
#[pyfunction]
fn cross_entropy_error(y: &Bound<'_, PyAny>, t: &Bound<'_, PyAny>) -> PyResult<f64> {
    let (y2, squeeze) = rows(array_in::<f64>(y, "y")?);
    with_targets(t, &y2, squeeze, |t| {
        guard("cross_entropy_error", || {
            backprop::functions::cross_entropy_error(y2.view(), t)
        })
    })?
}

/// The book's `sum_squared_error(y, t) = ½ Σ (y − t)²`.
#[pyfunction]
fn sum_squared_error(y: &Bound<'_, PyAny>, t: &Bound<'_, PyAny>) -> PyResult<f64> {
    let y = array_in::<f64>(y, "y")?;
    let t = array_in::<f64>(t, "t")?;
    if y.shape() != t.shape() {
        return Err(PyValueError::new_err(format!(
            "sum_squared_error: y has shape {} but t has shape {}",
            shape_str(y.shape()),
            shape_str(t.shape())
        )));
    }
    let (y2, _) = rows(y);
    let (t2, _) = rows(t);
    guard("sum_squared_error", || {
        backprop::functions::sum_squared_error(y2.view(), t2.view())
    })
}

/// The logistic function, element-wise.
#[pyfunction]
fn sigmoid<'py>(py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let x = array_in::<f64>(x, "x")?;
    use backprop::layers::Layer;
    let mut layer = backprop::layers::Sigmoid::<f64>::new();
    Ok(array_out(py, guard("sigmoid", || layer.forward(x, false))?))
}

fn geometry(
    shape: &[usize],
    fh: usize,
    fw: usize,
    stride: usize,
    pad: usize,
    what: &str,
) -> PyResult<ConvGeometry> {
    let g = (shape.len() == 4)
        .then(|| ConvGeometry::new([shape[1], shape[2], shape[3]], fh, fw, stride, pad))
        .flatten();
    g.ok_or_else(|| {
        PyValueError::new_err(format!(
            "{what}: a {fh}×{fw} filter with stride {stride}, pad {pad} does not fit input \
             shape {} (expected (N, C, H, W))",
            shape_str(shape)
        ))
    })
}

/// The book's `im2col(input_data, filter_h, filter_w, stride=1, pad=0)`: `(N, C, H, W)` →
/// `(N·OH·OW, C·FH·FW)`.
#[pyfunction]
#[pyo3(signature = (input_data, filter_h, filter_w, stride=1, pad=0))]
fn im2col<'py>(
    py: Python<'py>,
    input_data: &Bound<'py, PyAny>,
    filter_h: usize,
    filter_w: usize,
    stride: usize,
    pad: usize,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let x = array_in::<f64>(input_data, "input_data")?;
    geometry(x.shape(), filter_h, filter_w, stride, pad, "im2col")?;
    let x = x.into_dimensionality::<Ix4>().expect("4-D");
    let col = guard("im2col", || {
        backprop::functions::im2col(x.view(), filter_h, filter_w, stride, pad)
    })?;
    Ok(array_out(py, col))
}

/// The book's `col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0)`, the adjoint
/// of `im2col`.
#[pyfunction]
#[pyo3(signature = (col, input_shape, filter_h, filter_w, stride=1, pad=0))]
fn col2im<'py>(
    py: Python<'py>,
    col: &Bound<'py, PyAny>,
    input_shape: Vec<usize>,
    filter_h: usize,
    filter_w: usize,
    stride: usize,
    pad: usize,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let col = array_in::<f64>(col, "col")?;
    let g = geometry(&input_shape, filter_h, filter_w, stride, pad, "col2im")?;
    let want = [input_shape[0] * g.positions(), g.patch_len()];
    if col.shape() != want {
        return Err(PyValueError::new_err(format!(
            "col2im: col has shape {} but input_shape {} needs {}",
            shape_str(col.shape()),
            shape_str(&input_shape),
            shape_str(&want)
        )));
    }
    let col = col.into_dimensionality::<Ix2>().expect("2-D");
    let shape = [
        input_shape[0],
        input_shape[1],
        input_shape[2],
        input_shape[3],
    ];
    let img = guard("col2im", || {
        backprop::functions::col2im(col.view(), shape, filter_h, filter_w, stride, pad)
    })?;
    Ok(array_out(py, img))
}

fn numerical_gradient_in<'py, F: Elem>(
    py: Python<'py>,
    f: &Bound<'py, PyAny>,
    x: &Bound<'py, PyArrayDyn<F>>,
) -> PyResult<Bound<'py, PyArrayDyn<F>>> {
    let mut work = x.readonly().as_array().to_owned();
    let mut err = None;
    let grad = backprop::gradient::numerical_gradient(
        |w| {
            if err.is_some() {
                return F::zero();
            }
            // The book's `f` reads `x` itself (`lambda W: net.loss(x, t)`), so the nudged
            // values are written back into the caller's array before each call.
            let r = (|| -> PyResult<F> {
                x.try_readwrite()?.as_array_mut().assign(w);
                let v: f64 = f.call1((x,))?.extract()?;
                Ok(F::lit(v))
            })();
            r.unwrap_or_else(|e| {
                err = Some(e);
                F::zero()
            })
        },
        &mut work,
        backprop::gradient::H,
    );
    x.try_readwrite()?.as_array_mut().assign(&work);
    match err {
        Some(e) => Err(e),
        None => Ok(array_out(py, grad)),
    }
}

/// The book's `numerical_gradient(f, x)`: central differences with `h = 1e-4`, nudging each
/// element of `x` in place (so `f` may ignore its argument and read `x`, as the book's
/// `lambda W: net.loss(x, t)` does) and restoring it.
#[pyfunction]
fn numerical_gradient<'py>(
    py: Python<'py>,
    f: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(a) = x.cast::<PyArrayDyn<f64>>() {
        return Ok(numerical_gradient_in(py, f, a)?.into_any());
    }
    if let Ok(a) = x.cast::<PyArrayDyn<f32>>() {
        return Ok(numerical_gradient_in(py, f, a)?.into_any());
    }
    Err(PyTypeError::new_err(
        "numerical_gradient: x must be a float64 or float32 NumPy array (it is changed in place)",
    ))
}

/// The book's `smooth_curve`: an 11-point Kaiser-window moving average (mirror-padded), used
/// to plot noisy losses.
#[pyfunction]
fn smooth_curve<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let x = array_in::<f64>(x, "x")?;
    if x.ndim() != 1 {
        return Err(PyValueError::new_err(format!(
            "smooth_curve takes a 1-D array, got shape {}",
            shape_str(x.shape())
        )));
    }
    let v: Vec<f64> = x.iter().copied().collect();
    let s = backprop::report::plot::smooth_curve(&v);
    Ok(array_out(py, ndarray::Array1::from(s)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(softmax, m)?)?;
    m.add_function(wrap_pyfunction!(cross_entropy_error, m)?)?;
    m.add_function(wrap_pyfunction!(sum_squared_error, m)?)?;
    m.add_function(wrap_pyfunction!(sigmoid, m)?)?;
    m.add_function(wrap_pyfunction!(im2col, m)?)?;
    m.add_function(wrap_pyfunction!(col2im, m)?)?;
    m.add_function(wrap_pyfunction!(numerical_gradient, m)?)?;
    m.add_function(wrap_pyfunction!(smooth_curve, m)?)?;
    Ok(())
}
