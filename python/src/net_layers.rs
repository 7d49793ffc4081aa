//! The layers of a network as the book's `network.layers[...]` and `network.lastLayer`:
//! objects whose `forward`/`backward` run the network's own layers, so the book's
//! `predict` (`for layer in self.layers.values(): x = layer.forward(x)`) and its `gradient`
//! (`lastLayer.backward(1)`, then each layer's `backward` in reverse) work on our networks
//! and give the numbers the network's own methods give.
//!
//! Each object remembers the shape of its layer's last training-mode output and the network's
//! `generation` at that time: a `backward` whose `dout` has another shape, or that comes after
//! a whole-network call (`predict`, `loss`, `gradient`, training) ran the layers again, is a
//! `ValueError` instead of a computation on stale state.

use std::any::Any;

use backprop::Float;
use backprop::layers::{
    Affine, BatchNormalization, Convolution, Dropout, Layer, Pooling, Relu, SoftmaxWithLoss,
};
use ndarray::{ArrayD, Ix2};
use numpy::PyArray;
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;

use crate::layers::{assign, view_of};
use crate::net::{Inner, Net, T, with_net};
use crate::{Elem, array_in, array_out, guard, shape_str};

/// Runs `$body` with `$l` bound to layer `$k` of the network behind `$net` (a `Bound<Net>`)
/// and `$n` to that network, whatever its precision.
macro_rules! on_layer {
    ($net:expr, $k:expr, $n:ident, $l:ident => $body:expr) => {{
        let mut this = $net.borrow_mut();
        match &mut this.inner {
            Inner::F32($n) => {
                let $l = $n.layer_mut($k).expect("index checked at construction");
                $body
            }
            Inner::F64($n) => {
                let $l = $n.layer_mut($k).expect("index checked at construction");
                $body
            }
        }
    }};
}

/// The shape `forward` accepts, checked before the library's assertions would fire.
fn check_input<F: Elem>(l: &dyn Layer<F>, kind: &str, shape: &[usize]) -> PyResult<()> {
    let any = l as &dyn Any;
    let features: usize = shape.iter().skip(1).product();
    let chw = || (shape.len() == 4).then(|| [shape[1], shape[2], shape[3]]);
    let problem = if let Some(a) = any.downcast_ref::<Affine<F>>() {
        (shape.len() < 2 || features != a.w.nrows()).then(|| {
            format!(
                "W has shape {}: x needs (N, {}) values",
                shape_str(a.w.shape()),
                a.w.nrows()
            )
        })
    } else if let Some(c) = any.downcast_ref::<Convolution<F>>() {
        chw().and_then(|d| c.geometry(d)).is_none().then(|| {
            format!(
                "W has shape {} (stride {}, pad {}): x must be (N, {}, H, W) with the filters \
                 fitting H×W",
                shape_str(c.w.shape()),
                c.stride,
                c.pad,
                c.w.dim().1
            )
        })
    } else if let Some(p) = any.downcast_ref::<Pooling<F>>() {
        chw().and_then(|d| p.geometry(d)).is_none().then(|| {
            format!(
                "x must be (N, C, H, W) with H, W at least the {}×{} window",
                p.pool_h, p.pool_w
            )
        })
    } else if let Some(b) = any.downcast_ref::<BatchNormalization<F>>() {
        (shape.len() < 2 || features != b.gamma.len()).then(|| {
            format!(
                "gamma has shape ({},): x needs (N, {}) values",
                b.gamma.len(),
                b.gamma.len()
            )
        })
    } else {
        None
    };
    match problem {
        Some(p) => Err(PyValueError::new_err(format!(
            "{kind}: x has shape {} but {p}",
            shape_str(shape)
        ))),
        None => Ok(()),
    }
}

fn forward_in<'py, F: Elem>(
    py: Python<'py>,
    l: &mut dyn Layer<F>,
    kind: &str,
    x: &Bound<'py, PyAny>,
    train: bool,
) -> PyResult<(Bound<'py, PyAny>, Vec<usize>)> {
    let x = array_in::<F>(x, "x")?;
    check_input(l, kind, x.shape())?;
    let out = py.detach(|| guard(kind, || l.forward(x, train)))?;
    let shape = out.shape().to_vec();
    Ok((array_out(py, out).into_any(), shape))
}

fn backward_in<'py, F: Elem>(
    py: Python<'py>,
    l: &mut dyn Layer<F>,
    first: bool,
    kind: &str,
    dout: ArrayD<F>,
) -> PyResult<Bound<'py, PyAny>> {
    // The network's first layer skips `dx` (nothing consumes it); the book's returns it.
    if first {
        l.set_input_grad(true);
    }
    let dx = py.detach(|| guard(kind, || l.backward(dout)));
    if first {
        l.set_input_grad(false);
    }
    Ok(array_out(py, dx?).into_any())
}

/// A view of `a` (a buffer of the network that is only ever written in place) with the
/// network object as its base.
fn view<'py, F: Elem, D: ndarray::Dimension>(
    a: &ndarray::Array<F, D>,
    owner: &Bound<'py, PyAny>,
) -> Bound<'py, PyAny> {
    // SAFETY: layer parameters are only ever assigned in place (optimizers, loading, the
    // setters here), never reallocated, and `owner` (the network) is the view's base.
    unsafe { view_of(a, owner) }.into_any()
}

/// What attribute `name` of a layer is, read from its concrete type: a view (`W`, `b`,
/// `gamma`, `beta`), a copy (`dW`, `db`, `dgamma`, `dbeta`, `mask`, `running_mean`,
/// `running_var`), a number, or `None` when this kind of layer has no such attribute.
fn attr_in<'py, F: Elem>(
    py: Python<'py>,
    l: &mut dyn Layer<F>,
    name: &str,
    owner: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let any = l as &mut dyn Any;
    let out = |a: ArrayD<F>| Some(array_out(py, a).into_any());
    let num = |v: f64| v.into_pyobject(py).ok().map(|f| f.into_any());
    let int = |v: usize| v.into_pyobject(py).ok().map(|f| f.into_any());
    Ok(if let Some(a) = any.downcast_ref::<Affine<F>>() {
        match name {
            "W" => Some(view(&a.w, owner)),
            "b" => Some(view(&a.b, owner)),
            "dW" => out(a.dw.clone().into_dyn()),
            "db" => out(a.db.clone().into_dyn()),
            _ => None,
        }
    } else if let Some(c) = any.downcast_ref::<Convolution<F>>() {
        match name {
            "W" => Some(view(&c.w, owner)),
            "b" => Some(view(&c.b, owner)),
            "dW" => out(c.dw.clone().into_dyn()),
            "db" => out(c.db.clone().into_dyn()),
            "stride" => int(c.stride),
            "pad" => int(c.pad),
            _ => None,
        }
    } else if let Some(b) = any.downcast_ref::<BatchNormalization<F>>() {
        match name {
            "gamma" => Some(view(&b.gamma, owner)),
            "beta" => Some(view(&b.beta, owner)),
            "dgamma" => out(b.dgamma.clone().into_dyn()),
            "dbeta" => out(b.dbeta.clone().into_dyn()),
            "running_mean" => out(b.running_mean.clone().into_dyn()),
            "running_var" => out(b.running_var.clone().into_dyn()),
            "momentum" => num(b.momentum),
            _ => None,
        }
    } else if let Some(r) = any.downcast_ref::<Relu>() {
        match name {
            "mask" => Some(PyArray::from_owned_array(py, r.mask().clone()).into_any()),
            _ => None,
        }
    } else if let Some(d) = any.downcast_ref::<Dropout>() {
        match name {
            "mask" => Some(PyArray::from_owned_array(py, d.mask().clone()).into_any()),
            "dropout_ratio" => num(d.dropout_ratio),
            _ => None,
        }
    } else if let Some(p) = any.downcast_ref::<Pooling<F>>() {
        match name {
            "pool_h" => int(p.pool_h),
            "pool_w" => int(p.pool_w),
            "stride" => int(p.stride),
            "pad" => int(0),
            _ => None,
        }
    } else {
        None
    })
}

/// Copies `value` into parameter `name` (`W`, `b`, `gamma`, `beta`) of a layer; `false`
/// when this kind of layer has no such parameter.
fn set_attr_in<F: Elem>(
    l: &mut dyn Layer<F>,
    name: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    let any = l as &mut dyn Any;
    if let Some(a) = any.downcast_mut::<Affine<F>>() {
        match name {
            "W" => assign(&mut a.w, value, "W")?,
            "b" => assign(&mut a.b, value, "b")?,
            _ => return Ok(false),
        }
    } else if let Some(c) = any.downcast_mut::<Convolution<F>>() {
        match name {
            "W" => assign(&mut c.w, value, "W")?,
            "b" => assign(&mut c.b, value, "b")?,
            _ => return Ok(false),
        }
    } else if let Some(b) = any.downcast_mut::<BatchNormalization<F>>() {
        match name {
            "gamma" => assign(&mut b.gamma, value, "gamma")?,
            "beta" => assign(&mut b.beta, value, "beta")?,
            _ => return Ok(false),
        }
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// One layer of a network (`network.layers['Affine1']`): `forward`/`backward` run the
/// network's own layer; `W`, `b` (`gamma`, `beta`) are views of its parameters, `dW`, `db`,
/// `mask`, `running_mean`, … copies of what the layer holds.
#[pyclass(module = "backprop._core", unsendable)]
pub struct NetLayer {
    net: Py<Net>,
    k: usize,
    kind: &'static str,
    /// The network's generation and the output shape of the last training forward pass.
    seen: Option<(u64, Vec<usize>)>,
}

impl NetLayer {
    pub(crate) fn new(net: &Bound<'_, Net>, k: usize) -> PyResult<Self> {
        let kind = {
            let this = net.borrow();
            let layers = with_net!(&this.inner, n => n.layers().iter().map(|l| l.name()).collect::<Vec<_>>());
            *layers.get(k).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "layer {k} does not exist: the network has {} layers",
                    layers.len()
                ))
            })?
        };
        Ok(NetLayer {
            net: net.clone().unbind(),
            k,
            kind,
            seen: None,
        })
    }
}

#[pymethods]
impl NetLayer {
    /// The layer's output for `x`; `train_flg` selects dropout's and batch norm's training
    /// behaviour (the book's default, `True`; the other layers ignore it).
    #[pyo3(signature = (x, train_flg=true))]
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        train_flg: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let net = self.net.bind(py).clone();
        let kind = self.kind;
        let (out, shape) = on_layer!(net, self.k, _n, l => forward_in(py, l, kind, x, train_flg))?;
        let generation = net.borrow().generation;
        self.seen = train_flg.then_some((generation, shape));
        Ok(out)
    }

    /// `∂L/∂x` for `dout = ∂L/∂out`; the layer's parameter gradients are left in it (and in
    /// the network's gradients). Needs this layer's training forward pass first.
    fn backward<'py>(
        &mut self,
        py: Python<'py>,
        dout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let net = self.net.bind(py).clone();
        let generation = net.borrow().generation;
        let kind = self.kind;
        let want = match &self.seen {
            Some((g, s)) if *g == generation => s.clone(),
            Some(_) => {
                return Err(PyValueError::new_err(format!(
                    "{kind}.backward: the network ran its layers since this layer's forward \
                     pass (predict, loss, gradient or training); call forward again first"
                )));
            }
            None => {
                return Err(PyValueError::new_err(format!(
                    "{kind}.backward needs a training forward pass of this layer first"
                )));
            }
        };
        let first = self.k == 0;
        let dx = on_layer!(net, self.k, _n, l => {
            let dout = array_in(dout, "dout")?;
            if dout.shape() != want.as_slice() {
                return Err(PyValueError::new_err(format!(
                    "{kind}.backward: dout has shape {} but the last forward pass gave {}",
                    shape_str(dout.shape()),
                    shape_str(&want)
                )));
            }
            backward_in(py, l, first, kind, dout)
        })?;
        if matches!(kind, "Affine" | "Convolution" | "Pooling") {
            // The output's storage went back into the layer: a second backward needs a forward.
            self.seen = None;
        }
        Ok(dx)
    }

    /// The book's class name (`Affine`, `Relu`, …).
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let net = self.net.bind(py).clone();
        let owner = net.clone().into_any();
        let found = on_layer!(net, self.k, _n, l => attr_in(py, l, name, &owner))?;
        found.ok_or_else(|| {
            PyAttributeError::new_err(format!("{} layer has no attribute '{name}'", self.kind))
        })
    }

    fn __setattr__(
        &mut self,
        py: Python<'_>,
        name: &str,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let net = self.net.bind(py).clone();
        if on_layer!(net, self.k, _n, l => set_attr_in(l, name, value))? {
            Ok(())
        } else {
            Err(PyAttributeError::new_err(format!(
                "{} layer has no parameter '{name}' to assign",
                self.kind
            )))
        }
    }

    fn __repr__(&self) -> String {
        format!("<{} layer {} of a backprop network>", self.kind, self.k)
    }
}

/// The network's Softmax-with-Loss (`network.lastLayer`): `forward(x, t)` is the loss of
/// scores `x` (without weight decay, as the book's layer), `backward(dout=1)` is
/// `dout · (y − t) / N`.
#[pyclass(module = "backprop._core", unsendable)]
pub struct NetLastLayer {
    net: Py<Net>,
    seen: Option<(u64, Vec<usize>)>,
}

impl NetLastLayer {
    pub(crate) fn new(net: &Bound<'_, Net>) -> Self {
        NetLastLayer {
            net: net.clone().unbind(),
            seen: None,
        }
    }
}

fn last_forward<F: Elem>(
    l: &mut SoftmaxWithLoss<F>,
    classes: usize,
    x: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
) -> PyResult<(f64, Vec<usize>)> {
    let x = array_in::<F>(x, "x")?;
    if x.ndim() != 2 || x.shape()[1] != classes {
        return Err(PyValueError::new_err(format!(
            "SoftmaxWithLoss: x has shape {} but the network has {classes} classes: expected (N, {classes})",
            shape_str(x.shape())
        )));
    }
    let shape = x.shape().to_vec();
    let x = x.into_dimensionality::<Ix2>().expect("2-D");
    let t = T::<F>::read(t, shape[0], classes)?;
    let loss = guard("SoftmaxWithLoss", || l.forward(x, t.get()).to_f64_lossy())?;
    Ok((loss, shape))
}

#[pymethods]
impl NetLastLayer {
    /// The cross-entropy loss of `softmax(x)` against `t` (labels or one-hot rows).
    fn forward(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        t: &Bound<'_, PyAny>,
    ) -> PyResult<f64> {
        let net = self.net.bind(py).clone();
        let mut this = net.borrow_mut();
        let classes = this.classes;
        let generation = this.generation;
        let (loss, shape) =
            with_net!(&mut this.inner, n => last_forward(n.last_layer_mut(), classes, x, t))?;
        self.seen = Some((generation, shape));
        Ok(loss)
    }

    /// `dout · (y − t) / N`, the gradient of the loss with respect to the scores.
    #[pyo3(signature = (dout=1.0))]
    fn backward<'py>(&mut self, py: Python<'py>, dout: f64) -> PyResult<Bound<'py, PyAny>> {
        let net = self.net.bind(py).clone();
        let mut this = net.borrow_mut();
        match &self.seen {
            Some((g, _)) if *g == this.generation => {}
            _ => {
                return Err(PyValueError::new_err(
                    "SoftmaxWithLoss.backward needs this layer's forward pass first (and no \
                     predict, loss, gradient or training since)",
                ));
            }
        }
        with_net!(&mut this.inner, n => {
            let l = n.last_layer_mut();
            let d = guard("SoftmaxWithLoss", || l.backward(Float::lit(dout)))?;
            Ok(array_out(py, d).into_any())
        })
    }

    /// The loss of the last forward pass.
    #[getter]
    fn loss(&self, py: Python<'_>) -> Option<f64> {
        self.seen.as_ref()?;
        let mut this = self.net.bind(py).borrow_mut();
        Some(with_net!(&mut this.inner, n => n.last_layer_mut().loss.to_f64_lossy()))
    }

    /// The softmax of the last forward pass's scores.
    #[getter]
    fn y<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.seen.as_ref()?;
        let mut this = self.net.bind(py).borrow_mut();
        Some(
            with_net!(&mut this.inner, n => array_out(py, n.last_layer_mut().y().to_owned()).into_any()),
        )
    }

    fn __repr__(&self) -> String {
        "<SoftmaxWithLoss layer of a backprop network>".into()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NetLayer>()?;
    m.add_class::<NetLastLayer>()?;
    Ok(())
}
