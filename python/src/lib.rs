//! `backprop._core`: the Python extension module behind the `backprop` package.
//!
//! Every class and function here is a thin shell over the Rust library: arrays are checked
//! (dtype, shape) and converted, the library does the work, and its errors become Python
//! exceptions. The Python modules in `python/backprop/` give them the book's module layout.

use std::panic::{AssertUnwindSafe, catch_unwind};

use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyMemoryError, PyOSError, PyRuntimeError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;

mod data;
mod fit;
mod funcs;
mod graph;
mod layers;
mod net;
mod net_layers;
mod optim;
mod tune;

/// The library's errors as Python exceptions: a missing file is `FileNotFoundError`, other
/// I/O errors `OSError`, corrupt files and bad shapes or values `ValueError`, a stopped run
/// `KeyboardInterrupt`, a diverged one `RuntimeError`, sizes that cannot fit in memory
/// `MemoryError`.
pub(crate) fn to_py(e: backprop::Error) -> PyErr {
    use backprop::Error;
    let msg = e.to_string();
    match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        Error::Io { .. } => PyOSError::new_err(msg),
        Error::Format { .. } | Error::Shape(_) | Error::Invalid(_) => PyValueError::new_err(msg),
        Error::Diverged(_) => PyRuntimeError::new_err(msg),
        Error::TooLarge(_) => PyMemoryError::new_err(msg),
        Error::Interrupted(_) => PyKeyboardInterrupt::new_err(msg),
        Error::Needs {
            fix: backprop::Fix::OtherCheckpointDir,
            ..
        } => PyOSError::new_err(msg),
        Error::Needs { .. } => PyValueError::new_err(msg),
    }
}

/// Runs `f`, turning a Rust panic into a Python `RuntimeError` instead of letting it unwind
/// into the interpreter. The arguments are checked before the library is called, so a panic
/// here is a bug; it is still reported as an exception, never an abort.
pub(crate) fn guard<T>(what: &str, f: impl FnOnce() -> T) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let detail = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        PyRuntimeError::new_err(format!("{what}: internal error: {detail}"))
    })
}

/// A float type the bindings compute in: `f64` (the book's NumPy default) or `f32`.
pub(crate) trait Elem: backprop::Float + numpy::Element {
    /// NumPy's name for it.
    const NAME: &'static str;
}
impl Elem for f64 {
    const NAME: &'static str = "float64";
}
impl Elem for f32 {
    const NAME: &'static str = "float32";
}

/// The shape of an array as Python prints it: `(2, 3)`, `(5,)`.
pub(crate) fn shape_str(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Reads `obj` as an owned array of `F`. NumPy arrays of any real dtype (floats, integers,
/// unsigned integers) are converted, as NumPy's arithmetic would; anything else (lists are
/// accepted through `numpy.asarray`) that is not numeric is a `TypeError` naming the dtype.
pub(crate) fn array_in<F: Elem>(
    obj: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<ndarray::ArrayD<F>> {
    if let Ok(a) = obj.cast::<PyArrayDyn<F>>() {
        // One copy straight from NumPy's buffer (a `memcpy` when C-contiguous).
        return Ok(a.readonly().as_array().to_owned());
    }
    // The other float width (the book's float32 images into a float64 network): converted
    // in one pass, without the temporary array `astype` would make first.
    if let Ok(a) = obj.cast::<PyArrayDyn<f32>>() {
        return Ok(a.readonly().as_array().mapv(|v| F::lit(f64::from(v))));
    }
    if let Ok(a) = obj.cast::<PyArrayDyn<f64>>() {
        return Ok(a.readonly().as_array().mapv(F::lit));
    }
    let py = obj.py();
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "f" | "i" | "u") {
        let dtype: String = arr.getattr("dtype")?.str()?.extract()?;
        return Err(PyTypeError::new_err(format!(
            "{what} must be an array of real numbers, got dtype {dtype}"
        )));
    }
    let conv = arr.call_method1("astype", (F::NAME,))?;
    let a = conv.cast::<PyArrayDyn<F>>()?;
    Ok(a.readonly().as_array().to_owned())
}

/// An owned array handed to Python without copying.
pub(crate) fn array_out<'py, F: Elem, D: ndarray::Dimension>(
    py: Python<'py>,
    a: ndarray::Array<F, D>,
) -> Bound<'py, PyArrayDyn<F>> {
    numpy::PyArray::from_owned_array(py, a.into_dyn())
}

/// Class labels from `t`: a 1-D array of integers (or integral floats), each below
/// `classes`; or `None` when `t` is 2-D (one-hot rows, read by the caller).
pub(crate) fn labels_in(t: &Bound<'_, PyAny>, n: usize, classes: usize) -> PyResult<Vec<usize>> {
    // Integer arrays (what `load_mnist` gives) are read in place, without a float copy.
    macro_rules! ints {
        ($($ty:ty),*) => {$(
            if let Ok(a) = t.cast::<PyArrayDyn<$ty>>() {
                let a = a.readonly();
                let a = a.as_array();
                check_labels_shape(a.shape(), n, classes)?;
                return a
                    .iter()
                    .map(|&v| label(v as f64, classes))
                    .collect();
            }
        )*};
    }
    ints!(u8, i64, i32, u16, i16, i8, u32, u64);
    let a = array_in::<f64>(t, "t")?;
    check_labels_shape(a.shape(), n, classes)?;
    a.iter().map(|&v| label(v, classes)).collect()
}

fn check_labels_shape(shape: &[usize], n: usize, classes: usize) -> PyResult<()> {
    // `(N,)`, or `(N, 1)` as ch07's gradient check writes its labels.
    let column = shape.len() == 2 && shape[1] == 1;
    let len: usize = shape.iter().product();
    if !(shape.len() == 1 || column) || len != n {
        return Err(PyValueError::new_err(format!(
            "t has shape {} but x has {n} samples: expected labels of shape ({n},) or one-hot \
             rows of shape ({n}, {classes})",
            shape_str(shape)
        )));
    }
    Ok(())
}

fn label(v: f64, classes: usize) -> PyResult<usize> {
    if v.fract() == 0.0 && v >= 0.0 && (v as usize) < classes {
        Ok(v as usize)
    } else {
        Err(PyValueError::new_err(format!(
            "label {v} is not a class index in 0..{classes}"
        )))
    }
}

/// Whether `t` is one-hot rows (2-D, more than one column) rather than labels (1-D, or
/// the `(N, 1)` column the book's ch07 gradient check uses).
pub(crate) fn is_one_hot(t: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let Ok(a) = t.cast::<numpy::PyUntypedArray>() {
        let shape = a.shape();
        return Ok(shape.len() == 2 && shape[1] != 1);
    }
    let np = t.py().import("numpy")?;
    let shape: Vec<usize> = np.call_method1("shape", (t,))?.extract()?;
    Ok(shape.len() == 2 && shape[1] != 1)
}

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SIMD", backprop::cpu::active().name())?;
    layers::register(m)?;
    funcs::register(m)?;
    graph::register(m)?;
    net::register(m)?;
    net_layers::register(m)?;
    optim::register(m)?;
    data::register(m)?;
    fit::register(m)?;
    tune::register(m)?;
    Ok(())
}
