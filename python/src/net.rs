//! The book's networks (TwoLayerNet, MultiLayerNet(Extend), SimpleConvNet, DeepConvNet) over
//! the library's [`Network`], built from one [`Arch`] as the CLI builds them.
//!
//! `param(name)` is a NumPy view of the network's own buffer, so the book's in-place updates
//! (`params[key] -= lr * grads[key]`, the optimizers' `-=`) change the Rust network; the
//! buffers are only ever written in place, never reallocated, which keeps the views valid.

use std::path::PathBuf;

use backprop::functions::Targets;
use backprop::init::Init;
use backprop::io::safetensors::ModelInfo;
use backprop::nets::{Activation, Arch, ConvParam, Network};
use backprop::rng::Rng;
use ndarray::ArrayD;
use numpy::{PyArray, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{Elem, array_in, array_out, guard, is_one_hot, labels_in, shape_str, to_py};

pub(crate) enum Inner {
    F32(Network<f32>),
    F64(Network<f64>),
}

/// Runs `$body` with `$n` bound to the network, whatever its precision.
macro_rules! with_net {
    ($inner:expr, $n:ident => $body:expr) => {
        match $inner {
            Inner::F32($n) => $body,
            Inner::F64($n) => $body,
        }
    };
}
pub(crate) use with_net;

/// A network of the library: the object behind `backprop.two_layer_net.TwoLayerNet` and
/// the other network classes.
#[pyclass(module = "backprop._core", unsendable)]
pub struct Net {
    pub(crate) inner: Inner,
    pub(crate) arch: Arch,
    pub(crate) image_shape: [usize; 3],
    pub(crate) classes: usize,
    class_names: Vec<String>,
    dataset: String,
    last_loss: Option<f64>,
    /// The arrays `gradient` returns, reused from call to call.
    grads_out: Vec<Py<PyAny>>,
    /// Counts the calls that run the whole network (predict, loss, gradient, training), so
    /// that a layer of `network.layers` knows whether its last forward pass is still the
    /// one its layer remembers.
    pub(crate) generation: u64,
}

fn parse_dtype(py: Python<'_>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    let Some(d) = dtype else { return Ok(false) };
    let name: String = py
        .import("numpy")?
        .call_method1("dtype", (d,))?
        .getattr("name")?
        .extract()?;
    match name.as_str() {
        "float64" => Ok(false),
        "float32" => Ok(true),
        other => Err(PyTypeError::new_err(format!(
            "dtype must be float64 (the book's) or float32, got {other}"
        ))),
    }
}

impl Net {
    fn build(
        py: Python<'_>,
        arch: Arch,
        image_shape: [usize; 3],
        classes: usize,
        seed: Option<u64>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Net> {
        let f32_ = parse_dtype(py, dtype)?;
        let seed = crate::layers::seed_or_numpy(py, seed)?;
        let mut rng = Rng::stream(seed, "init");
        let inner = if f32_ {
            Inner::F32(arch.build(image_shape, classes, &mut rng).map_err(to_py)?)
        } else {
            Inner::F64(arch.build(image_shape, classes, &mut rng).map_err(to_py)?)
        };
        Ok(Net {
            inner,
            arch,
            image_shape,
            classes,
            class_names: (0..classes).map(|c| c.to_string()).collect(),
            dataset: String::new(),
            last_loss: None,
            grads_out: Vec::new(),
            generation: 0,
        })
    }

    /// What a model file records about this network.
    fn info(&self) -> ModelInfo {
        ModelInfo {
            arch: self.arch.clone(),
            image_shape: self.image_shape,
            class_names: self.class_names.clone(),
            dataset: self.dataset.clone(),
            train_config: serde_json::json!({}),
        }
    }

    fn index(&self, name: &str) -> PyResult<usize> {
        let names = with_net!(&self.inner, n => n.param_names());
        names.iter().position(|n| n == name).ok_or_else(|| {
            PyKeyError::new_err(format!(
                "{name:?} is not a parameter of this network ({})",
                names.join(", ")
            ))
        })
    }
}

/// The batch `x` for `net`, checked against its input shape.
fn batch<F: Elem>(net: &Network<F>, x: &Bound<'_, PyAny>) -> PyResult<ArrayD<F>> {
    let x = array_in::<F>(x, "x")?;
    net.check_input(x.shape()).map_err(|_| {
        PyValueError::new_err(format!(
            "x has shape {} but the network takes (N, {})",
            shape_str(x.shape()),
            net.input_shape()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok(x)
}

/// Targets: labels `(N,)` or one-hot rows `(N, classes)`.
pub(crate) enum T<F> {
    Labels(Vec<usize>),
    OneHot(ndarray::Array2<F>),
}

impl<F: Elem> T<F> {
    pub(crate) fn read(t: &Bound<'_, PyAny>, n: usize, classes: usize) -> PyResult<Self> {
        if is_one_hot(t)? {
            let a = array_in::<F>(t, "t")?;
            if a.shape() != [n, classes] {
                return Err(PyValueError::new_err(format!(
                    "t has shape {} but x has {n} samples and the network {classes} classes: \
                     expected ({n}, {classes}) or labels ({n},)",
                    shape_str(a.shape())
                )));
            }
            Ok(T::OneHot(a.into_dimensionality().expect("2-D")))
        } else {
            Ok(T::Labels(labels_in(t, n, classes)?))
        }
    }
    pub(crate) fn get(&self) -> Targets<'_, F> {
        match self {
            T::Labels(l) => Targets::Labels(l),
            T::OneHot(a) => Targets::OneHot(a.view()),
        }
    }
}

fn predict_in<'py, F: Elem>(
    py: Python<'py>,
    net: &mut Network<F>,
    x: &Bound<'py, PyAny>,
    train: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let x = batch(net, x)?;
    let y = py.detach(|| guard("predict", || net.predict(x, train)))?;
    Ok(array_out(py, y).into_any())
}

fn loss_in<F: Elem>(
    py: Python<'_>,
    net: &mut Network<F>,
    classes: usize,
    x: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    train: bool,
) -> PyResult<f64> {
    let x = batch(net, x)?;
    let t = T::<F>::read(t, x.shape()[0], classes)?;
    py.detach(|| guard("loss", || net.loss(x, t.get(), train).to_f64_lossy()))
}

fn accuracy_in<F: Elem>(
    py: Python<'_>,
    net: &mut Network<F>,
    classes: usize,
    x: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    let x = batch(net, x)?;
    let t = T::<F>::read(t, x.shape()[0], classes)?;
    py.detach(|| guard("accuracy", || net.accuracy(x, t.get())))
}

fn gradient_in<'py, F: Elem>(
    py: Python<'py>,
    net: &mut Network<F>,
    classes: usize,
    out: &mut Vec<Py<PyAny>>,
    x: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyDict>, f64)> {
    let x = batch(net, x)?;
    let t = T::<F>::read(t, x.shape()[0], classes)?;
    let loss = py.detach(|| guard("gradient", || net.gradient(x, t.get()).to_f64_lossy()))?;
    let d = PyDict::new(py);
    let params = net.params();
    if out.len() != params.len() {
        out.clear();
    }
    for (k, p) in params.iter().enumerate() {
        // The same arrays every call, overwritten in place: no allocation, no page faults.
        let reuse = out
            .get(k)
            .and_then(|a| a.bind(py).cast::<PyArrayDyn<F>>().ok().cloned())
            .filter(|a| a.shape() == p.grad.shape())
            .and_then(|a| {
                a.try_readwrite().ok()?.as_array_mut().assign(&p.grad);
                Some(a)
            });
        let a = match reuse {
            Some(a) => a,
            None => {
                // First call, or the caller made the array read-only: a new one.
                let a = PyArray::from_array(py, &p.grad);
                if k < out.len() {
                    out[k] = a.clone().into_any().unbind();
                } else {
                    out.push(a.clone().into_any().unbind());
                }
                a
            }
        };
        d.set_item(p.name, a)?;
    }
    Ok((d, loss))
}

fn numerical_in<'py, F: Elem>(
    py: Python<'py>,
    net: &mut Network<F>,
    classes: usize,
    x: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let x = batch(net, x)?;
    let t = T::<F>::read(t, x.shape()[0], classes)?;
    let grads = py.detach(|| {
        guard("numerical_gradient", || {
            net.numerical_gradient(&x, t.get(), backprop::gradient::H)
        })
    })?;
    let d = PyDict::new(py);
    for (k, g) in grads {
        d.set_item(k, array_out(py, g))?;
    }
    Ok(d)
}

fn view_in<'py, F: Elem>(
    net: &mut Network<F>,
    k: usize,
    owner: &Bound<'py, PyAny>,
) -> Bound<'py, PyAny> {
    let params = net.params();
    let v = params[k].value.view();
    // SAFETY: the network's parameters are only ever assigned in place (optimizers, loading,
    // gradient checks restore values with `assign`), never reallocated, and `owner` (the
    // network) is the view's base, so the buffer outlives the view.
    unsafe { PyArray::borrow_from_array(&v, owner.clone()).into_any() }
}

fn set_in<F: Elem>(net: &mut Network<F>, k: usize, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let mut params = net.params();
    let p = &mut params[k];
    if let Ok(a) = value.cast::<PyArrayDyn<F>>()
        && std::ptr::eq(a.data(), p.value.as_ptr())
        && a.shape() == p.value.shape()
        && a.strides()
            .iter()
            .zip(p.value.strides())
            .all(|(&s, &t)| s == t * std::mem::size_of::<F>() as isize)
    {
        // `params[k] -= …` hands back the view it changed in place: nothing to copy.
        return Ok(());
    }
    let v = array_in::<F>(value, p.name)?;
    if v.shape() != p.value.shape() {
        return Err(PyValueError::new_err(format!(
            "{} has shape {}; cannot assign an array of shape {}",
            p.name,
            shape_str(p.value.shape()),
            shape_str(v.shape())
        )));
    }
    p.value.assign(&v);
    Ok(())
}

/// Copies `tensors` into `net`'s parameters by name, after checking every name and shape.
fn load_into<F: Elem>(
    net: &mut Network<F>,
    tensors: &[(String, ArrayD<f64>)],
    path: &str,
) -> PyResult<()> {
    let mut problems = Vec::new();
    for p in net.params() {
        match tensors.iter().find(|(n, _)| n == p.name) {
            None => problems.push(format!("{} is missing", p.name)),
            Some((_, a)) if a.shape() != p.value.shape() => problems.push(format!(
                "{} has shape {} in the file but {} in the network",
                p.name,
                shape_str(a.shape()),
                shape_str(p.value.shape())
            )),
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(PyValueError::new_err(format!(
            "{path}: does not fit this network: {}",
            problems.join("; ")
        )));
    }
    for mut p in net.params() {
        let (_, a) = tensors.iter().find(|(n, _)| n == p.name).expect("checked");
        p.value.zip_mut_with(a, |d, &s| *d = F::lit(s));
    }
    for (name, mut b) in net.buffers() {
        if let Some((_, a)) = tensors.iter().find(|(n, _)| *n == name)
            && a.shape() == b.shape()
        {
            b.zip_mut_with(a, |d, &s| *d = F::lit(s));
        }
    }
    Ok(())
}

fn tensors_of<F: Elem>(net: &mut Network<F>) -> Vec<(String, ArrayD<f64>)> {
    let mut out: Vec<(String, ArrayD<f64>)> = net
        .params()
        .into_iter()
        .map(|p| (p.name.to_string(), p.value.mapv(|v| v.to_f64_lossy())))
        .collect();
    out.extend(
        net.buffers()
            .into_iter()
            .map(|(n, b)| (n, b.mapv(|v| v.to_f64_lossy()))),
    );
    out
}

fn init_of(py: Python<'_>, weight_init_std: &Bound<'_, PyAny>) -> PyResult<Init> {
    let _ = py;
    if let Ok(s) = weight_init_std.extract::<String>() {
        return match s.to_ascii_lowercase().as_str() {
            "relu" | "he" => Ok(Init::He),
            "sigmoid" | "xavier" => Ok(Init::Xavier),
            _ => Err(PyValueError::new_err(format!(
                "weight_init_std must be a number, 'relu'/'he' or 'sigmoid'/'xavier', got {s:?}"
            ))),
        };
    }
    let v: f64 = weight_init_std.extract()?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "weight_init_std must be a non-negative number, got {v}"
        )));
    }
    Ok(Init::Std(v))
}

#[pymethods]
impl Net {
    /// The book's TwoLayerNet `input_size → hidden_size → output_size`.
    #[staticmethod]
    #[pyo3(signature = (input_size, hidden_size, output_size, weight_init_std=0.01, seed=None, dtype=None))]
    fn two_layer(
        py: Python<'_>,
        input_size: usize,
        hidden_size: usize,
        output_size: usize,
        weight_init_std: f64,
        seed: Option<u64>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Net> {
        let arch = Arch::TwoLayer {
            hidden: hidden_size,
            weight_init_std,
        };
        Net::build(py, arch, [1, 1, input_size], output_size, seed, dtype)
    }

    /// The book's MultiLayerNetExtend (MultiLayerNet without batch norm and dropout).
    #[staticmethod]
    #[pyo3(signature = (input_size, hidden_size_list, output_size, activation="relu", weight_init_std=None, weight_decay_lambda=0.0, use_dropout=false, dropout_ration=0.5, use_batchnorm=false, seed=None, dtype=None))]
    #[allow(clippy::too_many_arguments)]
    fn multi_layer(
        py: Python<'_>,
        input_size: usize,
        hidden_size_list: Vec<usize>,
        output_size: usize,
        activation: &str,
        weight_init_std: Option<&Bound<'_, PyAny>>,
        weight_decay_lambda: f64,
        use_dropout: bool,
        dropout_ration: f64,
        use_batchnorm: bool,
        seed: Option<u64>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Net> {
        let activation: Activation = activation.parse().map_err(to_py)?;
        let init = match weight_init_std {
            Some(w) => init_of(py, w)?,
            None => Init::He,
        };
        let arch = Arch::MultiLayer {
            hidden: hidden_size_list,
            activation,
            init,
            batch_norm: use_batchnorm,
            dropout: use_dropout.then_some(dropout_ration),
            weight_decay: weight_decay_lambda,
        };
        Net::build(py, arch, [1, 1, input_size], output_size, seed, dtype)
    }

    /// The book's SimpleConvNet for images `input_dim = (C, H, W)`.
    #[staticmethod]
    #[pyo3(signature = (input_dim, filter_num, filter_size, pad, stride, hidden_size, output_size, weight_init_std=0.01, seed=None, dtype=None))]
    #[allow(clippy::too_many_arguments)]
    fn simple_conv(
        py: Python<'_>,
        input_dim: (usize, usize, usize),
        filter_num: usize,
        filter_size: usize,
        pad: usize,
        stride: usize,
        hidden_size: usize,
        output_size: usize,
        weight_init_std: f64,
        seed: Option<u64>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Net> {
        let conv = ConvParam {
            filter_num,
            filter_size,
            pad,
            stride,
        };
        let arch = Arch::SimpleConv {
            conv,
            hidden: hidden_size,
            weight_init_std,
        };
        let (c, h, w) = input_dim;
        Net::build(py, arch, [c, h, w], output_size, seed, dtype)
    }

    /// The book's DeepConvNet for images `input_dim = (C, H, W)`.
    #[staticmethod]
    #[pyo3(signature = (input_dim, hidden_size, output_size, seed=None, dtype=None))]
    fn deep_conv(
        py: Python<'_>,
        input_dim: (usize, usize, usize),
        hidden_size: usize,
        output_size: usize,
        seed: Option<u64>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Net> {
        let (c, h, w) = input_dim;
        Net::build(
            py,
            Arch::DeepConv {
                hidden: hidden_size,
            },
            [c, h, w],
            output_size,
            seed,
            dtype,
        )
    }

    /// A network read from a model file: our `.safetensors`, or a book pickle with `arch`
    /// (`two-layer`, `multi-layer:H1,H2,…[:sigmoid|relu]`, `simple-conv`, `deep-conv`).
    #[staticmethod]
    #[pyo3(signature = (path, arch=None, dtype=None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        arch: Option<&str>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Net> {
        let spec: Option<Arch> = arch.map(|a| a.parse()).transpose().map_err(to_py)?;
        let f32_ = parse_dtype(py, dtype)?;
        let (inner, info) = if f32_ {
            let m =
                backprop::io::model_file::load::<f32>(&path, spec.as_ref(), None).map_err(to_py)?;
            (Inner::F32(m.net), m.info)
        } else {
            let m =
                backprop::io::model_file::load::<f64>(&path, spec.as_ref(), None).map_err(to_py)?;
            (Inner::F64(m.net), m.info)
        };
        Ok(Net {
            inner,
            arch: info.arch,
            image_shape: info.image_shape,
            classes: info.class_names.len(),
            class_names: info.class_names,
            dataset: info.dataset,
            last_loss: None,
            grads_out: Vec::new(),
            generation: 0,
        })
    }

    /// `float32` or `float64`.
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.inner {
            Inner::F32(_) => "float32",
            Inner::F64(_) => "float64",
        }
    }

    /// The shape of one input sample.
    #[getter]
    fn input_shape(&self) -> Vec<usize> {
        with_net!(&self.inner, n => n.input_shape().to_vec())
    }

    /// The number of classes.
    #[getter]
    fn classes(&self) -> usize {
        self.classes
    }

    /// The loss of the last `gradient` call.
    #[getter]
    fn last_loss(&self) -> Option<f64> {
        self.last_loss
    }

    /// The architecture as the model files record it (JSON).
    #[getter]
    fn arch_json(&self) -> String {
        self.arch.to_json().to_string()
    }

    /// Parameter names in the book's order (`W1`, `b1`, …).
    fn param_names(&self) -> Vec<String> {
        with_net!(&self.inner, n => n.param_names().to_vec())
    }

    /// The layers' class names in forward order (`Affine`, `Relu`, …).
    fn layer_kinds(&self) -> Vec<&'static str> {
        with_net!(&self.inner, n => n.layers().iter().map(|l| l.name()).collect())
    }

    /// Layer `k` (forward order) of this network, as the book's `network.layers[...]`:
    /// its `forward`/`backward` run on the network's own layer.
    fn layer(slf: &Bound<'_, Self>, k: usize) -> PyResult<crate::net_layers::NetLayer> {
        crate::net_layers::NetLayer::new(slf, k)
    }

    /// The output layer (the book's `lastLayer`), acting on the network's own.
    fn last_layer(slf: &Bound<'_, Self>) -> crate::net_layers::NetLastLayer {
        crate::net_layers::NetLastLayer::new(slf)
    }

    /// A NumPy view of parameter `name`: writing into it changes the network.
    fn param<'py>(slf: &Bound<'py, Self>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let mut this = slf.borrow_mut();
        let k = this.index(name)?;
        Ok(with_net!(&mut this.inner, n => view_in(n, k, slf.as_any())))
    }

    /// Copies `value` into parameter `name` after checking its shape.
    fn set_param(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let k = self.index(name)?;
        with_net!(&mut self.inner, n => set_in(n, k, value))
    }

    /// The scores for `x` (no softmax).
    #[pyo3(signature = (x, train_flg=false))]
    fn predict<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        train_flg: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.generation += 1;
        with_net!(&mut self.inner, n => predict_in(py, n, x, train_flg))
    }

    /// The loss for `x` and `t` (labels or one-hot rows), weight decay included.
    #[pyo3(signature = (x, t, train_flg=false))]
    fn loss(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        t: &Bound<'_, PyAny>,
        train_flg: bool,
    ) -> PyResult<f64> {
        let c = self.classes;
        self.generation += 1;
        with_net!(&mut self.inner, n => loss_in(py, n, c, x, t, train_flg))
    }

    /// The fraction of `x` classified as `t` says (test mode).
    fn accuracy(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        t: &Bound<'_, PyAny>,
    ) -> PyResult<f64> {
        let c = self.classes;
        self.generation += 1;
        with_net!(&mut self.inner, n => accuracy_in(py, n, c, x, t))
    }

    /// Forward, loss and backward on `x`, `t`: `{name: gradient}`. The arrays are the
    /// network's own output arrays, overwritten by the next `gradient` call (the book's loop
    /// uses each dict once; copy an array to keep it).
    fn gradient<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        t: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let c = self.classes;
        self.generation += 1;
        let out = &mut self.grads_out;
        let (d, loss) = with_net!(&mut self.inner, n => gradient_in(py, n, c, out, x, t))?;
        self.last_loss = Some(loss);
        Ok(d)
    }

    /// Central-difference gradients (h = 1e-4) of the training-mode loss.
    fn numerical_gradient<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        t: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let c = self.classes;
        self.generation += 1;
        with_net!(&mut self.inner, n => numerical_in(py, n, c, x, t))
    }

    /// Loads parameters (and batch-norm statistics when present) from a book pickle or one
    /// of our model files into this network, checking every name and shape first.
    fn load_params(&mut self, path: PathBuf) -> PyResult<()> {
        let tensors: Vec<(String, ArrayD<f64>)> = {
            let bytes = std::fs::read(&path).map_err(|e| to_py(backprop::Error::io(&path, e)))?;
            match backprop::io::model_file::kind(&bytes, &path).map_err(to_py)? {
                backprop::io::model_file::Kind::Pickle => backprop::io::pickle::load_pickle(&path)
                    .map_err(to_py)?
                    .into_iter()
                    .collect(),
                backprop::io::model_file::Kind::Safetensors => {
                    let mut m =
                        backprop::io::model_file::load::<f64>(&path, None, None).map_err(to_py)?;
                    tensors_of(&mut m.net)
                }
            }
        };
        let shown = path.display().to_string();
        with_net!(&mut self.inner, n => load_into(n, &tensors, &shown))
    }

    /// Writes the network as a `.safetensors` model file (atomically).
    fn save_model(&mut self, path: PathBuf) -> PyResult<()> {
        let info = self.info();
        with_net!(&mut self.inner, n => backprop::io::safetensors::save(&path, n, &info))
            .map_err(to_py)
    }

    /// Writes the network as an ONNX model (atomically): input `image`, outputs `logits`
    /// and `probabilities` (backprop::export::onnx).
    fn export_onnx(&mut self, path: PathBuf) -> PyResult<()> {
        let info = self.info();
        with_net!(&mut self.inner, n => backprop::export::onnx::save(&path, n, &info))
            .map_err(to_py)
    }

    /// Writes `model.safetensors` (a PyTorch state_dict) and `model.py` (its `nn.Module`)
    /// into `directory` (backprop::export::torch).
    fn export_torch(&mut self, directory: PathBuf) -> PyResult<()> {
        let info = self.info();
        with_net!(&mut self.inner, n => backprop::export::torch::save(&directory, n, &info))
            .map(drop)
            .map_err(to_py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<backprop {} network, {}, input {:?}, {} classes>",
            self.arch.name(),
            self.dtype(),
            self.input_shape(),
            self.classes
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Net>()?;
    Ok(())
}
