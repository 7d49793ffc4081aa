//! `dataset/mnist.py`'s `load_mnist` from backprop's verified cache, and the embedded digits.

use backprop::data::datasets::{Known, load_known};
use backprop::data::{Dataset, Layout, Split, digits};
use backprop::rng::Rng;
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use numpy::PyArray;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::to_py;

fn arrays<'py>(
    py: Python<'py>,
    ds: &Dataset,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let layout = if flatten { Layout::Flat } else { Layout::Image };
    let n = ds.len();
    let mut shape = vec![n];
    shape.extend(ds.input_shape(layout));
    let x: Bound<'py, PyAny> = if normalize {
        let all: Vec<usize> = (0..n).collect();
        let mut labels = Vec::new();
        let x = py.detach(|| ds.batch::<f32>(&all, layout, &mut labels));
        PyArray::from_owned_array(py, x).into_any()
    } else {
        let x = ArrayD::from_shape_vec(IxDyn(&shape), ds.images.clone())
            .expect("images match their shape");
        PyArray::from_owned_array(py, x).into_any()
    };
    let t: Bound<'py, PyAny> = if one_hot_label {
        let c = ds.num_classes();
        let mut t = Array2::<f32>::zeros((n, c));
        for (i, &l) in ds.labels.iter().enumerate() {
            t[[i, l as usize]] = 1.0;
        }
        PyArray::from_owned_array(py, t).into_any()
    } else {
        PyArray::from_owned_array(py, Array1::from(ds.labels.clone())).into_any()
    };
    PyTuple::new(py, [x, t])
}

pub(crate) fn split_out<'py>(
    py: Python<'py>,
    s: &Split,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let train = arrays(py, &s.train, normalize, flatten, one_hot_label)?;
    let test = arrays(py, &s.test, normalize, flatten, one_hot_label)?;
    PyTuple::new(py, [train, test])
}

/// Loads a named IDX set (`mnist`, `fashion-mnist`) as the CLI finds it (`$BACKPROP_DATA`,
/// the user cache, …), verified by sha256 when it was placed there.
#[pyfunction]
#[pyo3(signature = (name, normalize=true, flatten=true, one_hot_label=false))]
fn load_idx_set<'py>(
    py: Python<'py>,
    name: &str,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let known = Known::from_name(name).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "unknown dataset {name:?}; expected mnist or fashion-mnist"
        ))
    })?;
    let split = py.detach(|| load_known(known, None)).map_err(|e| {
        let not_found = matches!(&e, backprop::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
        let msg = format!(
            "{e} (fetch it with `backprop data fetch {name}` or `backprop data import {name} DIR`)"
        );
        if not_found {
            pyo3::exceptions::PyFileNotFoundError::new_err(msg)
        } else {
            to_py(e)
        }
    })?;
    split_out(py, &split, normalize, flatten, one_hot_label)
}

/// The embedded UCI digits (8×8, 1797 samples) split 80/20 by `seed` as `backprop train`
/// splits them.
#[pyfunction]
#[pyo3(signature = (normalize=true, flatten=true, one_hot_label=false, seed=42))]
fn load_digits<'py>(
    py: Python<'py>,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
    seed: u64,
) -> PyResult<Bound<'py, PyTuple>> {
    let split = digits::load_digits()
        .map_err(to_py)?
        .split(0.8, &mut Rng::stream(seed, "split"));
    split_out(py, &split, normalize, flatten, one_hot_label)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load_idx_set, m)?)?;
    m.add_function(wrap_pyfunction!(load_digits, m)?)?;
    Ok(())
}
