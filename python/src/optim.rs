//! `common/optimizer.py`: the book's update rules over the library's optimizers, with the
//! book's `update(params, grads)` protocol on dicts of NumPy arrays changed in place.

use backprop::layers::ParamKind;
use backprop::nets::NamedParam;
use backprop::optim::{self, Hyper, Optimizer as ROptimizer, OptimizerKind};
use numpy::{PyArrayDyn, PyArrayMethods, PyReadwriteArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::{Elem, array_in, guard, shape_str, to_py};

/// An update rule (`sgd`, `momentum`, `nesterov`, `adagrad`, `rmsprop`, `adam`). Its state
/// (velocities, squared-gradient sums) is kept per parameter, by the order of
/// `params.keys()` at the first update.
#[pyclass(module = "backprop._core", unsendable)]
pub struct Optimizer {
    kind: OptimizerKind,
    hyper: Hyper,
    f64: Option<Box<dyn ROptimizer<f64>>>,
    f32: Option<Box<dyn ROptimizer<f32>>>,
    keys: Option<Vec<String>>,
}

fn update_in<'py, F: Elem>(
    opt: &mut Box<dyn ROptimizer<F>>,
    keys: &[String],
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let mut rws: Vec<PyReadwriteArrayDyn<'py, F>> = Vec::with_capacity(keys.len());
    let mut gs = Vec::with_capacity(keys.len());
    for k in keys {
        let p = params.get_item(k)?;
        let arr = p.cast::<PyArrayDyn<F>>().map_err(|_| {
            PyTypeError::new_err(format!(
                "params[{k:?}] must be a NumPy {} array (it is updated in place), got {}",
                F::NAME,
                p.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let g = array_in::<F>(&grads.get_item(k)?, &format!("grads[{k:?}]"))?;
        if g.shape() != arr.shape() {
            return Err(PyValueError::new_err(format!(
                "params[{k:?}] has shape {} but grads[{k:?}] has shape {}",
                shape_str(arr.shape()),
                shape_str(g.shape())
            )));
        }
        rws.push(
            arr.try_readwrite().map_err(|e| {
                PyValueError::new_err(format!("params[{k:?}] cannot be written: {e}"))
            })?,
        );
        gs.push(g);
    }
    let mut named: Vec<NamedParam<'_, F>> = rws
        .iter_mut()
        .zip(gs.iter_mut())
        .zip(keys)
        .map(|((rw, g), k)| NamedParam {
            name: k.as_str(),
            kind: if k.starts_with('W') {
                ParamKind::Weight
            } else {
                ParamKind::Bias
            },
            value: rw.as_array_mut(),
            grad: g.view_mut(),
        })
        .collect();
    guard("update", || opt.update(&mut named))
}

#[pymethods]
impl Optimizer {
    #[new]
    #[pyo3(signature = (kind, lr=None, momentum=None, beta1=None, beta2=None, decay_rate=None))]
    fn new(
        kind: &str,
        lr: Option<f64>,
        momentum: Option<f64>,
        beta1: Option<f64>,
        beta2: Option<f64>,
        decay_rate: Option<f64>,
    ) -> PyResult<Self> {
        let kind: OptimizerKind = kind.parse().map_err(to_py)?;
        for (name, v) in [
            ("lr", lr),
            ("momentum", momentum),
            ("beta1", beta1),
            ("beta2", beta2),
            ("decay_rate", decay_rate),
        ] {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(PyValueError::new_err(format!(
                    "{name} must be a finite number, got {v}"
                )));
            }
        }
        let hyper = Hyper {
            lr,
            momentum,
            beta1,
            beta2,
            decay_rate,
        }
        .resolved(kind);
        Ok(Optimizer {
            kind,
            hyper,
            f64: None,
            f32: None,
            keys: None,
        })
    }

    /// The rule's settings with the book's defaults filled in.
    #[getter]
    fn lr(&self) -> f64 {
        self.hyper.lr.unwrap_or_default()
    }
    #[getter]
    fn momentum(&self) -> f64 {
        self.hyper.momentum.unwrap_or_default()
    }
    #[getter]
    fn beta1(&self) -> f64 {
        self.hyper.beta1.unwrap_or_default()
    }
    #[getter]
    fn beta2(&self) -> f64 {
        self.hyper.beta2.unwrap_or_default()
    }
    #[getter]
    fn decay_rate(&self) -> f64 {
        self.hyper.decay_rate.unwrap_or_default()
    }
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.key()
    }

    /// The book's `update(params, grads)`: changes every `params[key]` in place.
    fn update(&mut self, params: &Bound<'_, PyAny>, grads: &Bound<'_, PyAny>) -> PyResult<()> {
        let keys: Vec<String> = params
            .call_method0("keys")?
            .try_iter()?
            .map(|k| k.and_then(|k| k.extract::<String>()))
            .collect::<PyResult<_>>()?;
        match &self.keys {
            Some(old) if *old != keys => {
                return Err(PyValueError::new_err(format!(
                    "this optimizer keeps state per parameter and was first used with keys \
                     {old:?}, now given {keys:?}: use one optimizer per network"
                )));
            }
            Some(_) => {}
            None => self.keys = Some(keys.clone()),
        }
        let first = params.get_item(&keys[0]).ok();
        let is_f32 = first
            .as_ref()
            .is_some_and(|a| a.cast::<PyArrayDyn<f32>>().is_ok());
        let (kind, hyper) = (self.kind, self.hyper);
        if is_f32 {
            let opt = self.f32.get_or_insert_with(|| optim::build(kind, &hyper));
            update_in(opt, &keys, params, grads)
        } else {
            let opt = self.f64.get_or_insert_with(|| optim::build(kind, &hyper));
            update_in(opt, &keys, params, grads)
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Optimizer>()?;
    Ok(())
}
