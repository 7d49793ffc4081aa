//! `Trainer`'s fast path: the whole training loop in the library ([`backprop::run::Run`]),
//! on the network the Python object holds, printing the book's lines, with the GIL released
//! and Ctrl-C (KeyboardInterrupt) stopping it after the step in progress.

use std::sync::atomic::{AtomicBool, Ordering};

use backprop::data::{Dataset, Split};
use backprop::nets::Network;
use backprop::optim::{Hyper, OptimizerKind};
use backprop::run::{Hooks, OptimizerSpec, Run, RunSpec};
use backprop::train::{Event, Length, Sampling, Summary};
use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::net::{Inner, Net};
use crate::{Elem, shape_str, to_py};

/// A finished training run: its history and, in Jupyter, its HTML report.
#[pyclass(module = "backprop._core", frozen)]
pub struct RunResult {
    #[pyo3(get)]
    train_acc: f64,
    #[pyo3(get)]
    test_acc: f64,
    #[pyo3(get)]
    iters: usize,
    #[pyo3(get)]
    seconds: f64,
    #[pyo3(get)]
    samples_per_sec: f64,
    #[pyo3(get)]
    interrupted: bool,
    /// The loss of every step.
    #[pyo3(get)]
    losses: Vec<f64>,
    /// `(epoch, iter, loss, train_acc, test_acc, seconds)` per evaluation.
    #[pyo3(get)]
    history: Vec<(usize, usize, f64, f64, f64, f64)>,
    report: String,
}

#[pymethods]
impl RunResult {
    /// The self-contained report `backprop train --report` writes (curves, confusion matrix,
    /// misclassified images, first-layer weights).
    fn _repr_html_(&self) -> String {
        self.report.clone()
    }
    /// The same report as text, to save: `open("run.html", "w").write(r.report_html())`.
    fn report_html(&self) -> String {
        self.report.clone()
    }
    fn __repr__(&self) -> String {
        format!(
            "<backprop run: {} steps, train acc {}, test acc {}, {:.0} samples/s{}>",
            self.iters,
            self.train_acc,
            self.test_acc,
            self.samples_per_sec,
            if self.interrupted {
                ", interrupted"
            } else {
                ""
            }
        )
    }
}

/// Lets the training closure cross `Python::detach`, which runs it on this same thread.
struct OnThisThread<T>(T);
// SAFETY: `detach` runs the closure synchronously on the calling thread; nothing is sent
// anywhere (the optimizer trait object is merely not declared `Send`).
unsafe impl<T> Send for OnThisThread<T> {}

fn dataset(
    name: &str,
    x: &PyReadonlyArrayDyn<'_, u8>,
    t: &PyReadonlyArrayDyn<'_, u8>,
    image_shape: [usize; 3],
    max_value: u8,
    classes: usize,
) -> PyResult<Dataset> {
    let n = x.shape()[0];
    let per: usize = x.shape()[1..].iter().product();
    if per != image_shape.iter().product::<usize>() || t.shape() != [n] {
        return Err(PyValueError::new_err(format!(
            "{name}: x has shape {} and t {}, but the network takes samples of {} values and \
             needs one label per sample",
            shape_str(x.shape()),
            shape_str(t.shape()),
            image_shape.iter().product::<usize>()
        )));
    }
    let labels: Vec<u8> = t.as_array().iter().copied().collect();
    if let Some(&bad) = labels.iter().find(|&&l| l as usize >= classes) {
        return Err(PyValueError::new_err(format!(
            "{name}: label {bad} is not a class index in 0..{classes}"
        )));
    }
    Ok(Dataset {
        name: "arrays".into(),
        images: x.as_array().iter().copied().collect(),
        labels,
        image_shape,
        max_value,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
    })
}

fn run_in<F: Elem>(
    py: Python<'_>,
    net: &mut Network<F>,
    spec: &RunSpec,
    data: Split,
    verbose: bool,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Summary, String)> {
    let progress = progress.map(|p| p.clone().unbind());
    let mut run = Run::<F>::new(spec).map_err(to_py)?;
    run.data = data;
    std::mem::swap(&mut run.net, net);
    let stop = AtomicBool::new(false);
    let mut interrupt: Option<PyErr> = None;
    let mut printed: Option<PyErr> = None;
    let work = OnThisThread((&mut run, &stop, &mut interrupt, &mut printed, progress));
    let result = py.detach(move || {
        // Bind the wrapper whole: destructuring it directly would capture its fields.
        let whole = work;
        let OnThisThread((run, stop, interrupt, printed, progress)) = whole;
        let mut on_event = |e: Event| {
            // The progress display (a Python object: `start(total)`, `step(iter, loss)`,
            // `eval(epoch, train_acc, test_acc)`), told of every event.
            let tell = |py: Python<'_>, p: &Py<PyAny>| match &e {
                Event::Start { total_iters } => p.call_method1(py, "start", (*total_iters,)),
                Event::Step { iter, loss } => p.call_method1(py, "step", (*iter, *loss)),
                Event::Eval(r) => p.call_method1(py, "eval", (r.epoch, r.train_acc, r.test_acc)),
            };
            let line = match e {
                Event::Step { loss, .. } => verbose.then(|| format!("train loss:{loss}")),
                Event::Eval(r) => verbose.then(|| {
                    format!(
                        "=== epoch:{}, train acc:{}, test acc:{} ===",
                        r.epoch, r.train_acc, r.test_acc
                    )
                }),
                Event::Start { .. } => None,
            };
            Python::attach(|py| {
                if let Some(line) = line
                    && printed.is_none()
                    && let Err(err) = py
                        .import("builtins")
                        .and_then(|b| b.getattr("print"))
                        .and_then(|p| p.call1((line,)))
                {
                    *printed = Some(err);
                }
                if let Some(p) = &progress
                    && printed.is_none()
                    && let Err(err) = tell(py, p)
                {
                    *printed = Some(err);
                    stop.store(true, Ordering::SeqCst);
                }
                // Ctrl-C: Python's handler has flagged it; stop after this step.
                if let Err(err) = py.check_signals() {
                    *interrupt = Some(err);
                    stop.store(true, Ordering::SeqCst);
                }
            });
        };
        let summary = run.train(Hooks {
            on_event: Some(&mut on_event),
            stop: Some(stop),
            ..Hooks::default()
        });
        let report = summary.as_ref().ok().map(|s| run.report(s));
        OnThisThread((summary, report))
    });
    std::mem::swap(&mut run.net, net);
    let OnThisThread((summary, report)) = result;
    if let Some(err) = interrupt {
        return Err(err);
    }
    if let Some(err) = printed {
        return Err(err);
    }
    let summary = summary.map_err(to_py)?;
    let report = report.expect("a summary").map_err(to_py)?;
    Ok((summary, report))
}

/// Trains this network in the library's loop on images given as `uint8` arrays (scaled
/// by `1 / max_value`) with `uint8` labels, as the book's `Trainer` does: `iters` steps of
/// `batch_size` samples drawn with replacement, an evaluation every `eval_every` steps on
/// the first `eval_samples` samples of each set.
#[pyfunction]
#[pyo3(signature = (net, x_train, t_train, x_test, t_test, max_value, iters, batch_size, eval_every, eval_samples, optimizer, hyper, seed, verbose, progress=None))]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    mut net: PyRefMut<'_, Net>,
    x_train: &Bound<'_, PyArrayDyn<u8>>,
    t_train: &Bound<'_, PyArrayDyn<u8>>,
    x_test: &Bound<'_, PyArrayDyn<u8>>,
    t_test: &Bound<'_, PyArrayDyn<u8>>,
    max_value: u8,
    iters: usize,
    batch_size: usize,
    eval_every: usize,
    eval_samples: Option<usize>,
    optimizer: &str,
    hyper: &Bound<'_, PyDict>,
    seed: Option<u64>,
    verbose: bool,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<RunResult> {
    if max_value == 0 || batch_size == 0 || eval_every == 0 {
        return Err(PyValueError::new_err(
            "max_value, batch_size and eval_every must be positive",
        ));
    }
    let this = &mut *net;
    this.generation += 1;
    let classes = this.classes;
    let train = dataset(
        "training set",
        &x_train.readonly(),
        &t_train.readonly(),
        this.image_shape,
        max_value,
        classes,
    )?;
    let test = dataset(
        "test set",
        &x_test.readonly(),
        &t_test.readonly(),
        this.image_shape,
        max_value,
        classes,
    )?;
    let get =
        |k: &str| -> PyResult<Option<f64>> { hyper.get_item(k)?.map(|v| v.extract()).transpose() };
    let kind: OptimizerKind = optimizer.parse().map_err(to_py)?;
    let defaults = RunSpec::default();
    let spec = RunSpec {
        arch: this.arch.clone(),
        data: backprop::run::DataSpec {
            seed: crate::layers::seed_or_numpy(py, seed)?,
            ..defaults.data.clone()
        },
        optimizer: OptimizerSpec {
            kind,
            hyper: Hyper {
                lr: get("lr")?,
                momentum: get("momentum")?,
                beta1: get("beta1")?,
                beta2: get("beta2")?,
                decay_rate: get("decay_rate")?,
            },
        },
        schedule: backprop::run::Schedule {
            length: Some(Length::Iters(iters)),
            batch_size,
            eval_every: Some(eval_every),
            eval_samples,
            sampling: Sampling::Replacement,
        },
        ..defaults
    };
    let data = Split { train, test };
    let (summary, report) = match &mut this.inner {
        Inner::F32(n) => run_in(py, n, &spec, data, verbose, progress)?,
        Inner::F64(n) => run_in(py, n, &spec, data, verbose, progress)?,
    };
    Ok(RunResult {
        train_acc: summary.train_acc,
        test_acc: summary.test_acc,
        iters: summary.iters,
        seconds: summary.seconds,
        samples_per_sec: summary.samples_per_sec,
        interrupted: summary.interrupted,
        losses: summary.losses.clone(),
        history: summary
            .history
            .iter()
            .map(|r| (r.epoch, r.iter, r.loss, r.train_acc, r.test_acc, r.seconds))
            .collect(),
        report,
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RunResult>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    Ok(())
}
