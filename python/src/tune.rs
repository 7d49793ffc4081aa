//! `backprop.tune`'s engine: one training run ([`backprop::run::Run`]) driven from Python,
//! with a callback after every evaluation that receives the metrics and the backprop
//! checkpoint just written (Ray Tune reports and persists it), resuming from such a
//! checkpoint; and the pieces of the book's §6.5 search
//! ([`backprop::experiments::trial_configs`], [`backprop::experiments::trial_spec`],
//! [`backprop::experiments::ranking`]) that `backprop experiment hyperparams` uses too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use backprop::experiments::{self, HyperparamsConfig, TrialConfig, TrialResult};
use backprop::io::checkpoint;
use backprop::run::{DataSpec, Hooks, Run, RunSpec};
use backprop::train::Event;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{Elem, to_py};

/// Lets the training closure cross `Python::detach`, which runs it on this same thread.
struct OnThisThread<T>(T);
// SAFETY: `detach` runs the closure synchronously on the calling thread; nothing is sent
// anywhere (the optimizer trait object is merely not declared `Send`).
unsafe impl<T> Send for OnThisThread<T> {}

/// One evaluation, as reported to the callback.
struct Metrics {
    epoch: usize,
    iter: usize,
    train_loss: f64,
    train_acc: f64,
    test_acc: f64,
    test_loss: Option<f64>,
}

/// What [`train_run`] returns besides the callbacks it made.
struct Outcome {
    spec: String,
    iters: usize,
    train_acc: f64,
    test_acc: f64,
    interrupted: bool,
    resumed_at: Option<usize>,
}

fn train_in<F: Elem>(
    py: Python<'_>,
    spec: &RunSpec,
    resume_from: Option<&Path>,
    checkpoint_dir: &Path,
    report: Option<&Bound<'_, PyAny>>,
    (accuracy_key, loss_key): (&str, &str),
    checkpoint_every: usize,
) -> PyResult<Outcome> {
    let mut run = match resume_from {
        Some(path) => Run::<F>::resume(path).map_err(to_py)?,
        None => Run::<F>::new(spec).map_err(to_py)?,
    };
    let resumed_at = run.resumed_at();
    let stop = AtomicBool::new(false);
    let mut failed: Option<PyErr> = None;
    let report = report.map(|r| r.clone().unbind());
    // The evaluation whose checkpoint is being written: reported once the file exists, at
    // the next step or when training ends.
    let mut pending: Option<Metrics> = None;
    let work = OnThisThread((&mut run, &stop, &mut failed, &mut pending));
    let result = py.detach(move || {
        let whole = work;
        let OnThisThread((run, stop, failed, pending)) = whole;
        let deliver = |m: Metrics, last: bool, failed: &mut Option<PyErr>| {
            Python::attach(|py| {
                let outcome = (|| -> PyResult<()> {
                    let Some(report) = &report else {
                        return Ok(());
                    };
                    let path = if last || m.epoch.is_multiple_of(checkpoint_every.max(1)) {
                        Some(checkpoint::latest(checkpoint_dir).map_err(to_py)?)
                    } else {
                        None
                    };
                    let d = PyDict::new(py);
                    d.set_item("epoch", m.epoch)?;
                    d.set_item("iter", m.iter)?;
                    d.set_item("train_loss", m.train_loss)?;
                    d.set_item("train_acc", m.train_acc)?;
                    d.set_item(accuracy_key, m.test_acc)?;
                    if let Some(loss) = m.test_loss {
                        d.set_item(loss_key, loss)?;
                    }
                    report.call1(py, (d, path))?;
                    Ok(())
                })();
                if let Err(e) = outcome.and_then(|()| py.check_signals()) {
                    *failed = Some(e);
                    stop.store(true, Ordering::SeqCst);
                }
            });
        };
        let mut on_event = |e: Event| match e {
            Event::Eval(r) => {
                *pending = Some(Metrics {
                    epoch: r.epoch,
                    iter: r.iter,
                    train_loss: r.loss,
                    train_acc: r.train_acc,
                    test_acc: r.test_acc,
                    test_loss: r.test_loss,
                });
            }
            Event::Step { .. } => {
                if let Some(m) = pending.take()
                    && failed.is_none()
                {
                    deliver(m, false, failed);
                }
            }
            Event::Start { .. } => {}
        };
        let summary = run.train(Hooks {
            on_event: Some(&mut on_event),
            stop: Some(stop),
            checkpoint_dir: Some(checkpoint_dir),
            ..Hooks::default()
        });
        if let (Ok(s), Some(m)) = (&summary, pending.take())
            && !s.interrupted
            && failed.is_none()
        {
            deliver(m, true, failed);
        }
        OnThisThread(summary)
    });
    let OnThisThread(summary) = result;
    if let Some(err) = failed {
        return Err(err);
    }
    let summary = summary.map_err(to_py)?;
    Ok(Outcome {
        spec: run.spec.to_json(),
        iters: summary.iters,
        train_acc: summary.train_acc,
        test_acc: summary.test_acc,
        interrupted: summary.interrupted,
        resumed_at,
    })
}

/// Trains the run `spec` (the JSON of a `RunSpec`), or continues the one saved in the
/// checkpoint file `resume_from`, with the GIL released, writing a checkpoint into
/// `checkpoint_dir` at every evaluation. After each evaluation, once its checkpoint is
/// written, calls `report(metrics, checkpoint_path)` with `epoch`, `iter`, `train_loss`
/// (mean training loss since the previous evaluation), `train_acc`, and with a validation
/// split `val_acc` and `val_loss` (the mean cross-entropy over the validation set from the
/// same forward passes, [`backprop::eval::accuracy_and_loss`]), else `test_acc`.
/// `checkpoint_path` is `None` except at every `checkpoint_every`-th evaluation (counted
/// over the whole run, so the same ones after a resume) and the last one, so that a caller
/// that persists checkpoints (Tune) does so less often; training and its results are the
/// same whatever `checkpoint_every` is. An exception raised by `report` (or Ctrl-C) stops
/// training after the step in progress and is raised again here. Returns the resolved spec
/// (JSON), the steps done, the final accuracies, whether it was interrupted, and the step it
/// resumed from.
#[pyfunction]
#[pyo3(signature = (spec, checkpoint_dir, resume_from=None, report=None, checkpoint_every=1))]
fn train_run<'py>(
    py: Python<'py>,
    spec: &str,
    checkpoint_dir: PathBuf,
    resume_from: Option<PathBuf>,
    report: Option<&Bound<'py, PyAny>>,
    checkpoint_every: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let spec = RunSpec::from_json(spec).map_err(to_py)?;
    let keys = if spec.data.validation.is_some() {
        ("val_acc", "val_loss")
    } else {
        ("test_acc", "test_loss")
    };
    let resume = resume_from.as_deref();
    let o = backprop::with_precision!(spec.precision, F => train_in::<F>(
        py,
        &spec,
        resume,
        &checkpoint_dir,
        report,
        keys,
        checkpoint_every,
    )?);
    let d = PyDict::new(py);
    d.set_item("spec", o.spec)?;
    d.set_item("iters", o.iters)?;
    d.set_item("train_acc", o.train_acc)?;
    d.set_item(keys.0, o.test_acc)?;
    d.set_item("interrupted", o.interrupted)?;
    d.set_item("resumed_at", o.resumed_at)?;
    Ok(d)
}

/// The §6.5 search's settings, from Python's arguments.
#[allow(clippy::too_many_arguments)]
fn search(
    dataset: Option<String>,
    data_dir: Option<PathBuf>,
    seed: u64,
    trials: usize,
    epochs: usize,
    samples: usize,
    validation: f64,
    batch_size: usize,
) -> (DataSpec, HyperparamsConfig) {
    let source = DataSpec {
        dataset,
        dir: data_dir,
        seed,
        validation: None,
    };
    let cfg = HyperparamsConfig {
        samples,
        validation,
        trials,
        epochs,
        batch_size,
        seed,
    };
    (source, cfg)
}

/// The trials of the book's §6.5 search as `backprop experiment hyperparams` draws them:
/// `(trial, lr, weight_decay, seed, spec_json)` per trial, in trial order.
#[pyfunction]
#[pyo3(signature = (dataset, data_dir, seed, trials, epochs, samples, validation, batch_size))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn hyperparams_trials(
    dataset: Option<String>,
    data_dir: Option<PathBuf>,
    seed: u64,
    trials: usize,
    epochs: usize,
    samples: usize,
    validation: f64,
    batch_size: usize,
) -> PyResult<Vec<(usize, f64, f64, u64, String)>> {
    let (source, cfg) = search(
        dataset, data_dir, seed, trials, epochs, samples, validation, batch_size,
    );
    let configs = experiments::trial_configs(&cfg).map_err(to_py)?;
    Ok(configs
        .iter()
        .map(|t| {
            let spec = experiments::trial_spec(&source, &cfg, t);
            (t.trial, t.lr, t.weight_decay, t.seed, spec.to_json())
        })
        .collect())
}

/// The lines `backprop experiment hyperparams` prints for finished trials: one per trial in
/// trial order, then the ranking; and the experiment's JSON. `results` holds
/// `(trial, val_accs, train_accs)` per trial (every trial of the search, each once); the
/// figure of the best trials is written to `plot` when given.
#[pyfunction]
#[pyo3(signature = (dataset, data_dir, seed, trials, epochs, samples, validation, batch_size, results, plot=None))]
#[allow(clippy::too_many_arguments)]
fn hyperparams_ranking(
    dataset: Option<String>,
    data_dir: Option<PathBuf>,
    seed: u64,
    trials: usize,
    epochs: usize,
    samples: usize,
    validation: f64,
    batch_size: usize,
    results: Vec<(usize, Vec<f64>, Vec<f64>)>,
    plot: Option<PathBuf>,
) -> PyResult<(Vec<String>, String)> {
    let (source, cfg) = search(
        dataset, data_dir, seed, trials, epochs, samples, validation, batch_size,
    );
    let configs: Vec<TrialConfig> = experiments::trial_configs(&cfg).map_err(to_py)?;
    let mut found: Vec<Option<TrialResult>> = vec![None; configs.len()];
    for (trial, val_acc, train_acc) in results {
        let Some(config) = configs.get(trial) else {
            return Err(PyValueError::new_err(format!(
                "trial {trial} is not one of the search's {} trials",
                configs.len()
            )));
        };
        found[trial] = Some(TrialResult {
            config: config.clone(),
            val_acc,
            train_acc,
        });
    }
    let mut done = Vec::with_capacity(found.len());
    for (k, r) in found.into_iter().enumerate() {
        done.push(r.ok_or_else(|| PyValueError::new_err(format!("trial {k} has no result")))?);
    }
    let data = experiments::trial_spec(&source, &cfg, &configs[0])
        .data
        .load()
        .map_err(to_py)?;
    let mut lines: Vec<String> = done.iter().map(experiments::trial_line).collect();
    let outcome = experiments::ranking(&done, &data, &cfg, &mut |l| lines.push(l.to_string()));
    if let Some(path) = plot {
        backprop::report::plot::save(&outcome.figure, &path).map_err(to_py)?;
    }
    Ok((lines, outcome.json.to_string()))
}

/// The data a run of `spec` (the JSON of a `RunSpec`) trains and evaluates on, as
/// `((x_train, t_train), (x_eval, t_eval))` like `load_mnist`: with a validation split, its
/// training part and held-out part (what `val_acc`/`val_loss` measure), else the training
/// and test sets. Images are scaled as the network takes them, flat or `(N, C, H, W)` by
/// the spec's architecture; labels are class numbers.
#[pyfunction]
fn run_data<'py>(py: Python<'py>, spec: &str) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
    let spec = RunSpec::from_json(spec).map_err(to_py)?;
    let split = py.detach(|| spec.data.load()).map_err(to_py)?;
    let flat = spec.arch.layout() == backprop::data::Layout::Flat;
    crate::data::split_out(py, &split, true, flat, false)
}

/// `backprop train`'s spec without flags (`RunSpec::default()`), as JSON.
#[pyfunction]
fn default_spec() -> String {
    RunSpec::default().to_json()
}

/// The book's settings of architecture `name` (`Arch::book`) as JSON: `two-layer`,
/// `multi-layer`, `simple-conv` or `deep-conv`.
#[pyfunction]
fn book_arch(name: &str) -> PyResult<String> {
    backprop::nets::Arch::book(name)
        .map(|a| a.to_json().to_string())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown architecture {name:?}; expected one of {}",
                backprop::nets::Arch::NAMES.join(", ")
            ))
        })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(train_run, m)?)?;
    m.add_function(wrap_pyfunction!(default_spec, m)?)?;
    m.add_function(wrap_pyfunction!(run_data, m)?)?;
    m.add_function(wrap_pyfunction!(book_arch, m)?)?;
    m.add_function(wrap_pyfunction!(hyperparams_trials, m)?)?;
    m.add_function(wrap_pyfunction!(hyperparams_ranking, m)?)?;
    Ok(())
}
