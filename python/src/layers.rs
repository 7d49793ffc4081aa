//! The book's layers (`common/layers.py`, ch05 `layer_naive.py`) as Python classes over the
//! library's layers, in float64 like the book's NumPy arrays.
//!
//! Each class keeps the shapes of its last forward pass, so a `backward` whose `dout` does not
//! have the output's shape, or that comes before any forward pass, is a `ValueError` naming
//! both shapes instead of reaching the library's assertions. Parameters (`W`, `b`, `gamma`,
//! `beta`, …) are NumPy views of the layer's own buffers: `layer.W -= lr * layer.dW` changes
//! the layer, and assigning an array copies it in after checking its shape.

use backprop::functions::Targets;
use backprop::graph::{AddLayer as RAddLayer, MulLayer as RMulLayer};
use backprop::layers::{
    Affine as RAffine, BatchNormalization as RBatchNorm, Convolution as RConvolution,
    Dropout as RDropout, Layer, Pooling as RPooling, Relu as RRelu, Sigmoid as RSigmoid,
    SoftmaxWithLoss as RSoftmaxWithLoss,
};
use backprop::rng::Rng;
use ndarray::{Array1, Array2, Array4, ArrayD, Ix2};
use numpy::{PyArray, PyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::{Elem, array_in, array_out, guard, is_one_hot, labels_in, shape_str};

/// What a layer remembers of its last forward pass, to check `backward`'s argument.
#[derive(Default)]
struct Shapes {
    out: Option<Vec<usize>>,
}

impl Shapes {
    fn check_dout(&self, name: &str, dout: &ArrayD<f64>) -> PyResult<()> {
        match &self.out {
            None => Err(PyValueError::new_err(format!(
                "{name}.backward needs a training forward pass first"
            ))),
            Some(s) if s.as_slice() != dout.shape() => Err(PyValueError::new_err(format!(
                "{name}.backward: dout has shape {} but the last forward pass gave {}",
                shape_str(dout.shape()),
                shape_str(s)
            ))),
            Some(_) => Ok(()),
        }
    }
}

/// Runs a layer forward, remembering the output's shape when `train` (backward needs it).
fn forward<L: Layer<f64>>(
    layer: &mut L,
    shapes: &mut Shapes,
    name: &str,
    x: ArrayD<f64>,
    train: bool,
) -> PyResult<ArrayD<f64>> {
    let out = guard(name, || layer.forward(x, train))?;
    shapes.out = train.then(|| out.shape().to_vec());
    Ok(out)
}

fn backward<L: Layer<f64>>(
    layer: &mut L,
    shapes: &Shapes,
    name: &str,
    dout: ArrayD<f64>,
) -> PyResult<ArrayD<f64>> {
    shapes.check_dout(name, &dout)?;
    guard(name, || layer.backward(dout))
}

/// A view of `a` owned by the Python object `owner`.
///
/// SAFETY (for the callers): `a` must be a field of `owner`'s Rust value that is never
/// reallocated (only written in place) while `owner` lives; the layers and networks here
/// only ever assign into their parameters.
pub(crate) unsafe fn view_of<'py, F: Elem, D: ndarray::Dimension>(
    a: &ndarray::Array<F, D>,
    owner: &Bound<'py, PyAny>,
) -> Bound<'py, PyArrayDyn<F>> {
    let v = a.view().into_dyn();
    unsafe { PyArray::borrow_from_array(&v, owner.clone()) }
}

/// Copies `value` into `dst` when the shapes agree; else `ValueError` naming both.
pub(crate) fn assign<F: Elem, D: ndarray::Dimension>(
    dst: &mut ndarray::Array<F, D>,
    value: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<()> {
    let v = array_in::<F>(value, what)?;
    if v.shape() != dst.shape() {
        return Err(PyValueError::new_err(format!(
            "{what} has shape {}; cannot assign an array of shape {}",
            shape_str(dst.shape()),
            shape_str(v.shape())
        )));
    }
    dst.assign(&v.into_dimensionality::<D>().expect("same shape"));
    Ok(())
}

fn dims<D: ndarray::Dimension>(
    a: ArrayD<f64>,
    what: &str,
    want: &str,
) -> PyResult<ndarray::Array<f64, D>> {
    let shape = a.shape().to_vec();
    a.into_dimensionality::<D>().map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be {want}, got shape {}",
            shape_str(&shape)
        ))
    })
}

/// A seed for a layer's generator: `seed` if given, else drawn from NumPy's global generator,
/// so `np.random.seed(…)` makes a script repeatable as in the book.
pub(crate) fn seed_or_numpy(py: Python<'_>, seed: Option<u64>) -> PyResult<u64> {
    match seed {
        Some(s) => Ok(s),
        None => py
            .import("numpy")?
            .getattr("random")?
            .call_method1("randint", (0i64, i64::MAX))?
            .extract::<i64>()
            .map(|v| v as u64),
    }
}

/// Multiplication node of a computational graph (§5.4.1): `forward(x, y) = x·y`,
/// `backward(dout) = (dout·y, dout·x)`.
#[pyclass(module = "backprop.layers")]
pub struct MulLayer {
    inner: RMulLayer,
    #[pyo3(get)]
    x: Option<f64>,
    #[pyo3(get)]
    y: Option<f64>,
}

#[pymethods]
impl MulLayer {
    #[new]
    fn new() -> Self {
        MulLayer {
            inner: RMulLayer::new(),
            x: None,
            y: None,
        }
    }
    fn forward(&mut self, x: f64, y: f64) -> f64 {
        self.x = Some(x);
        self.y = Some(y);
        self.inner.forward(x, y)
    }
    fn backward(&self, dout: f64) -> (f64, f64) {
        self.inner.backward(dout)
    }
}

/// Addition node of a computational graph (§5.4.2): `forward(x, y) = x + y`,
/// `backward(dout) = (dout, dout)`.
#[pyclass(module = "backprop.layers")]
pub struct AddLayer {
    inner: RAddLayer,
}

#[pymethods]
impl AddLayer {
    #[new]
    fn new() -> Self {
        AddLayer {
            inner: RAddLayer::new(),
        }
    }
    fn forward(&mut self, x: f64, y: f64) -> f64 {
        self.inner.forward(x, y)
    }
    fn backward(&self, dout: f64) -> (f64, f64) {
        self.inner.backward(dout)
    }
}

/// ReLU (§5.5.1): `mask` is `True` where the last input was `<= 0`.
#[pyclass(module = "backprop.layers")]
pub struct Relu {
    inner: RRelu,
    shapes: Shapes,
}

#[pymethods]
impl Relu {
    #[new]
    fn new() -> Self {
        Relu {
            inner: RRelu::new(),
            shapes: Shapes::default(),
        }
    }
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = array_in::<f64>(x, "x")?;
        Ok(array_out(
            py,
            forward(&mut self.inner, &mut self.shapes, "Relu", x, true)?,
        ))
    }
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let dout = array_in::<f64>(dout, "dout")?;
        Ok(array_out(
            py,
            backward(&mut self.inner, &self.shapes, "Relu", dout)?,
        ))
    }
    #[getter]
    fn mask<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArrayDyn<bool>>> {
        self.shapes.out.as_ref()?;
        Some(PyArray::from_owned_array(py, self.inner.mask().clone()))
    }
}

/// Sigmoid (§5.5.2): `backward(dout) = dout · y · (1 − y)`.
#[pyclass(module = "backprop.layers")]
pub struct Sigmoid {
    inner: RSigmoid<f64>,
    shapes: Shapes,
}

#[pymethods]
impl Sigmoid {
    #[new]
    fn new() -> Self {
        Sigmoid {
            inner: RSigmoid::new(),
            shapes: Shapes::default(),
        }
    }
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = array_in::<f64>(x, "x")?;
        Ok(array_out(
            py,
            forward(&mut self.inner, &mut self.shapes, "Sigmoid", x, true)?,
        ))
    }
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let dout = array_in::<f64>(dout, "dout")?;
        Ok(array_out(
            py,
            backward(&mut self.inner, &self.shapes, "Sigmoid", dout)?,
        ))
    }
}

/// Affine (§5.6): `out = x·W + b`; `dW`, `db` hold the last backward pass's gradients.
#[pyclass(module = "backprop.layers")]
pub struct Affine {
    inner: RAffine<f64>,
    shapes: Shapes,
}

#[pymethods]
impl Affine {
    #[new]
    #[allow(non_snake_case)]
    fn new(W: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Self> {
        let w: Array2<f64> = dims(array_in(W, "W")?, "W", "2-D (in, out)")?;
        let b: Array1<f64> = dims(array_in(b, "b")?, "b", "1-D (out,)")?;
        if w.ncols() != b.len() {
            return Err(PyValueError::new_err(format!(
                "Affine: W has shape {} but b has shape {}: b needs W's {} columns",
                shape_str(w.shape()),
                shape_str(b.shape()),
                w.ncols()
            )));
        }
        Ok(Affine {
            inner: RAffine::new(w, b),
            shapes: Shapes::default(),
        })
    }
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = array_in::<f64>(x, "x")?;
        let features: usize = x.shape().iter().skip(1).product();
        if x.ndim() < 2 || features != self.inner.w.nrows() {
            return Err(PyValueError::new_err(format!(
                "Affine: x has shape {} but W has shape {}: x needs (N, {}) values",
                shape_str(x.shape()),
                shape_str(self.inner.w.shape()),
                self.inner.w.nrows()
            )));
        }
        Ok(array_out(
            py,
            forward(&mut self.inner, &mut self.shapes, "Affine", x, true)?,
        ))
    }
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let dout = array_in::<f64>(dout, "dout")?;
        let dx = backward(&mut self.inner, &self.shapes, "Affine", dout)?;
        // The output's storage went back into the layer: a second backward needs a forward.
        self.shapes.out = None;
        Ok(array_out(py, dx))
    }
    #[getter(W)]
    fn w<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyArrayDyn<f64>> {
        // SAFETY: `w` is only ever assigned in place.
        unsafe { view_of(&slf.borrow().inner.w, slf.as_any()) }
    }
    #[setter(W)]
    fn set_w(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        assign(&mut self.inner.w, v, "W")
    }
    #[getter]
    fn b<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyArrayDyn<f64>> {
        // SAFETY: as for `W`.
        unsafe { view_of(&slf.borrow().inner.b, slf.as_any()) }
    }
    #[setter]
    fn set_b(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        assign(&mut self.inner.b, v, "b")
    }
    #[getter(dW)]
    fn dw<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        array_out(py, self.inner.dw.clone())
    }
    #[getter]
    fn db<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        array_out(py, self.inner.db.clone())
    }
}

/// Softmax-with-Loss (§5.6.3): `forward(x, t)` returns the cross-entropy loss of
/// `softmax(x)`; `backward(dout=1)` returns `dout · (y − t) / N`.
#[pyclass(module = "backprop.layers")]
pub struct SoftmaxWithLoss {
    inner: RSoftmaxWithLoss<f64>,
    rows: Option<(usize, usize)>,
}

#[pymethods]
impl SoftmaxWithLoss {
    #[new]
    fn new() -> Self {
        SoftmaxWithLoss {
            inner: RSoftmaxWithLoss::new(),
            rows: None,
        }
    }
    fn forward(&mut self, x: &Bound<'_, PyAny>, t: &Bound<'_, PyAny>) -> PyResult<f64> {
        let x = array_in::<f64>(x, "x")?;
        let x: Array2<f64> = dims(x, "SoftmaxWithLoss: x", "2-D (N, classes)")?;
        let (n, c) = x.dim();
        let loss = if is_one_hot(t)? {
            let t = array_in::<f64>(t, "t")?;
            if t.shape() != x.shape() {
                return Err(PyValueError::new_err(format!(
                    "SoftmaxWithLoss: x has shape {} but t has shape {}",
                    shape_str(x.shape()),
                    shape_str(t.shape())
                )));
            }
            let t = t.into_dimensionality::<Ix2>().expect("2-D");
            guard("SoftmaxWithLoss", || {
                self.inner.forward(x, Targets::OneHot(t.view()))
            })?
        } else {
            let labels = labels_in(t, n, c)?;
            guard("SoftmaxWithLoss", || {
                self.inner.forward(x, Targets::Labels(&labels))
            })?
        };
        self.rows = Some((n, c));
        Ok(loss)
    }
    #[pyo3(signature = (dout=1.0))]
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: f64,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        if self.rows.take().is_none() {
            return Err(PyValueError::new_err(
                "SoftmaxWithLoss.backward needs a forward pass first",
            ));
        }
        Ok(array_out(
            py,
            guard("SoftmaxWithLoss", || self.inner.backward(dout))?,
        ))
    }
    #[getter]
    fn loss(&self) -> Option<f64> {
        self.rows.map(|_| self.inner.loss)
    }
    #[getter]
    fn y<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArrayDyn<f64>>> {
        self.rows?;
        Some(array_out(py, self.inner.y().to_owned()))
    }
}

/// Dropout (§6.4.3), the book's unscaled kind: training drops each unit with probability
/// `dropout_ratio`; test mode multiplies by `1 − dropout_ratio`.
#[pyclass(module = "backprop.layers")]
pub struct Dropout {
    inner: RDropout,
    shapes: Shapes,
}

#[pymethods]
impl Dropout {
    #[new]
    #[pyo3(signature = (dropout_ratio=0.5, *, seed=None))]
    fn new(py: Python<'_>, dropout_ratio: f64, seed: Option<u64>) -> PyResult<Self> {
        if !(0.0..1.0).contains(&dropout_ratio) {
            return Err(PyValueError::new_err(format!(
                "dropout_ratio must be in [0, 1), got {dropout_ratio}"
            )));
        }
        let rng = Rng::new(seed_or_numpy(py, seed)?);
        Ok(Dropout {
            inner: RDropout::new(dropout_ratio, rng),
            shapes: Shapes::default(),
        })
    }
    #[pyo3(signature = (x, train_flg=true))]
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        train_flg: bool,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = array_in::<f64>(x, "x")?;
        Ok(array_out(
            py,
            forward(&mut self.inner, &mut self.shapes, "Dropout", x, train_flg)?,
        ))
    }
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let dout = array_in::<f64>(dout, "dout")?;
        Ok(array_out(
            py,
            backward(&mut self.inner, &self.shapes, "Dropout", dout)?,
        ))
    }
    #[getter]
    fn dropout_ratio(&self) -> f64 {
        self.inner.dropout_ratio
    }
    #[getter]
    fn mask<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArrayDyn<bool>>> {
        self.shapes.out.as_ref()?;
        Some(PyArray::from_owned_array(py, self.inner.mask().clone()))
    }
}

/// Batch normalization (§6.3) over each activation, ε = 1e-6 (the book's `10e-7`).
#[pyclass(module = "backprop.layers")]
pub struct BatchNormalization {
    inner: RBatchNorm<f64>,
    shapes: Shapes,
}

#[pymethods]
impl BatchNormalization {
    #[new]
    #[pyo3(signature = (gamma, beta, momentum=0.9, running_mean=None, running_var=None))]
    fn new(
        gamma: &Bound<'_, PyAny>,
        beta: &Bound<'_, PyAny>,
        momentum: f64,
        running_mean: Option<&Bound<'_, PyAny>>,
        running_var: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let g: Array1<f64> = dims(array_in(gamma, "gamma")?, "gamma", "1-D")?;
        let b: Array1<f64> = dims(array_in(beta, "beta")?, "beta", "1-D")?;
        if g.len() != b.len() {
            return Err(PyValueError::new_err(format!(
                "BatchNormalization: gamma has shape {} but beta has shape {}",
                shape_str(g.shape()),
                shape_str(b.shape())
            )));
        }
        let mut inner = RBatchNorm::new(g, b, momentum);
        if let Some(m) = running_mean {
            assign(&mut inner.running_mean, m, "running_mean")?;
        }
        if let Some(v) = running_var {
            assign(&mut inner.running_var, v, "running_var")?;
        }
        Ok(BatchNormalization {
            inner,
            shapes: Shapes::default(),
        })
    }
    #[pyo3(signature = (x, train_flg=true))]
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        train_flg: bool,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = array_in::<f64>(x, "x")?;
        let d = self.inner.gamma.len();
        let features: usize = x.shape().iter().skip(1).product();
        if x.ndim() < 2 || features != d {
            return Err(PyValueError::new_err(format!(
                "BatchNormalization: x has shape {} but gamma has shape ({d},): x needs (N, {d}) values",
                shape_str(x.shape())
            )));
        }
        Ok(array_out(
            py,
            forward(
                &mut self.inner,
                &mut self.shapes,
                "BatchNormalization",
                x,
                train_flg,
            )?,
        ))
    }
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let dout = array_in::<f64>(dout, "dout")?;
        Ok(array_out(
            py,
            backward(&mut self.inner, &self.shapes, "BatchNormalization", dout)?,
        ))
    }
    #[getter]
    fn gamma<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyArrayDyn<f64>> {
        // SAFETY: only ever assigned in place.
        unsafe { view_of(&slf.borrow().inner.gamma, slf.as_any()) }
    }
    #[setter]
    fn set_gamma(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        assign(&mut self.inner.gamma, v, "gamma")
    }
    #[getter]
    fn beta<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyArrayDyn<f64>> {
        // SAFETY: only ever assigned in place.
        unsafe { view_of(&slf.borrow().inner.beta, slf.as_any()) }
    }
    #[setter]
    fn set_beta(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        assign(&mut self.inner.beta, v, "beta")
    }
    #[getter]
    fn running_mean<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        array_out(py, self.inner.running_mean.clone())
    }
    #[getter]
    fn running_var<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        array_out(py, self.inner.running_var.clone())
    }
    #[getter]
    fn momentum(&self) -> f64 {
        self.inner.momentum
    }
    #[getter]
    fn dgamma<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        array_out(py, self.inner.dgamma.clone())
    }
    #[getter]
    fn dbeta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        array_out(py, self.inner.dbeta.clone())
    }
}

/// Convolution (§7.4) through `im2col`: `W` is `(FN, C, FH, FW)`, `b` `(FN,)`.
#[pyclass(module = "backprop.layers")]
pub struct Convolution {
    inner: RConvolution<f64>,
    shapes: Shapes,
}

#[pymethods]
impl Convolution {
    #[new]
    #[pyo3(signature = (W, b, stride=1, pad=0))]
    #[allow(non_snake_case)]
    fn new(
        W: &Bound<'_, PyAny>,
        b: &Bound<'_, PyAny>,
        stride: usize,
        pad: usize,
    ) -> PyResult<Self> {
        let w: Array4<f64> = dims(array_in(W, "W")?, "W", "4-D (FN, C, FH, FW)")?;
        let b: Array1<f64> = dims(array_in(b, "b")?, "b", "1-D (FN,)")?;
        if w.dim().0 != b.len() || stride == 0 {
            return Err(PyValueError::new_err(format!(
                "Convolution: W has shape {} and b has shape {} (b needs one value per filter), \
                 stride {stride} (at least 1)",
                shape_str(w.shape()),
                shape_str(b.shape())
            )));
        }
        Ok(Convolution {
            inner: RConvolution::new(w, b, stride, pad),
            shapes: Shapes::default(),
        })
    }
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = array_in::<f64>(x, "x")?;
        let fits = x.ndim() == 4
            && self
                .inner
                .geometry([x.shape()[1], x.shape()[2], x.shape()[3]])
                .is_some();
        if !fits {
            return Err(PyValueError::new_err(format!(
                "Convolution: x has shape {} but W has shape {} (stride {}, pad {}): x must be \
                 (N, {}, H, W) with the filters fitting H×W",
                shape_str(x.shape()),
                shape_str(self.inner.w.shape()),
                self.inner.stride,
                self.inner.pad,
                self.inner.w.dim().1
            )));
        }
        Ok(array_out(
            py,
            forward(&mut self.inner, &mut self.shapes, "Convolution", x, true)?,
        ))
    }
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let dout = array_in::<f64>(dout, "dout")?;
        let dx = backward(&mut self.inner, &self.shapes, "Convolution", dout)?;
        self.shapes.out = None;
        Ok(array_out(py, dx))
    }
    #[getter(W)]
    fn w<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyArrayDyn<f64>> {
        // SAFETY: only ever assigned in place.
        unsafe { view_of(&slf.borrow().inner.w, slf.as_any()) }
    }
    #[setter(W)]
    fn set_w(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        assign(&mut self.inner.w, v, "W")
    }
    #[getter]
    fn b<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyArrayDyn<f64>> {
        // SAFETY: only ever assigned in place.
        unsafe { view_of(&slf.borrow().inner.b, slf.as_any()) }
    }
    #[setter]
    fn set_b(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        assign(&mut self.inner.b, v, "b")
    }
    #[getter(dW)]
    fn dw<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        array_out(py, self.inner.dw.clone())
    }
    #[getter]
    fn db<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        array_out(py, self.inner.db.clone())
    }
    #[getter]
    fn stride(&self) -> usize {
        self.inner.stride
    }
    #[getter]
    fn pad(&self) -> usize {
        self.inner.pad
    }
}

/// Max pooling (§7.4.4). The book's `pad` is accepted only as 0, the value every script uses.
#[pyclass(module = "backprop.layers")]
pub struct Pooling {
    inner: backprop::layers::Pooling<f64>,
    shapes: Shapes,
}

#[pymethods]
impl Pooling {
    #[new]
    #[pyo3(signature = (pool_h, pool_w, stride=1, pad=0))]
    fn new(pool_h: usize, pool_w: usize, stride: usize, pad: usize) -> PyResult<Self> {
        if pad != 0 || pool_h == 0 || pool_w == 0 || stride == 0 {
            return Err(PyValueError::new_err(format!(
                "Pooling: window {pool_h}×{pool_w} and stride {stride} must be at least 1 and \
                 pad must be 0, got pad {pad}"
            )));
        }
        Ok(Pooling {
            inner: RPooling::new(pool_h, pool_w, stride),
            shapes: Shapes::default(),
        })
    }
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = array_in::<f64>(x, "x")?;
        let fits = x.ndim() == 4
            && self
                .inner
                .geometry([x.shape()[1], x.shape()[2], x.shape()[3]])
                .is_some();
        if !fits {
            return Err(PyValueError::new_err(format!(
                "Pooling: x has shape {} but must be (N, C, H, W) with H, W at least the {}×{} window",
                shape_str(x.shape()),
                self.inner.pool_h,
                self.inner.pool_w
            )));
        }
        Ok(array_out(
            py,
            forward(&mut self.inner, &mut self.shapes, "Pooling", x, true)?,
        ))
    }
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let dout = array_in::<f64>(dout, "dout")?;
        let dx = backward(&mut self.inner, &self.shapes, "Pooling", dout)?;
        self.shapes.out = None;
        Ok(array_out(py, dx))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MulLayer>()?;
    m.add_class::<AddLayer>()?;
    m.add_class::<Relu>()?;
    m.add_class::<Sigmoid>()?;
    m.add_class::<Affine>()?;
    m.add_class::<SoftmaxWithLoss>()?;
    m.add_class::<Dropout>()?;
    m.add_class::<BatchNormalization>()?;
    m.add_class::<Convolution>()?;
    m.add_class::<Pooling>()?;
    Ok(())
}
