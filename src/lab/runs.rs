//! Live training runs: each on a thread of its own, training with [`crate::train`], its
//! progress kept as a log of JSON events that any number of pages read (and re-read after a
//! reload) as server-sent events.
//!
//! A run belongs to the server, not to a page: closing the tab does not stop it, a new tab
//! finds it in the list, and only the Stop button (or the end) stops it. A run that panics is
//! caught on its thread and ends with an `error` event; the server and the other runs go on.
//!
//! Events, in order: `start` (the run's settings and step count), `step` (loss of each
//! step), `eval` (an evaluation point: loss and accuracies), `snapshot` (at each evaluation
//! point: the first layer's weights as a picture, histograms of every activation layer's
//! output on a fixed probe batch and of every weight gradient, and health signals in words),
//! then `summary` or `error`, and always `done` last.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ndarray::{Array4, ArrayD, Axis};
use serde_json::{Value, json};

use crate::data::datasets;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nets::{Arch, Network};
use crate::report::filters::FilterGrid;
use crate::report::html::base64;
use crate::run::Hooks;
use crate::run::{Run as LibRun, RunSpec};
use crate::train::{Event, Length};

/// The datasets a page may train on, with whether each is installed.
pub fn datasets() -> Vec<(String, bool)> {
    let mut v = vec![("digits".to_string(), true)];
    for known in [datasets::Known::Mnist, datasets::Known::FashionMnist] {
        v.push((
            known.name().to_string(),
            datasets::locate(known, None).is_ok(),
        ));
    }
    v
}

/// What a page asked to train: a [`RunSpec`], checked for what a page may ask.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The run, in the library's vocabulary.
    pub spec: RunSpec,
}

/// At most this many epochs (or 1000 times as many steps) from a page.
pub const MAX_EPOCHS: usize = 1000;

impl Plan {
    /// Reads a [`RunSpec`] in its JSON form and refuses what a page may not ask: a data
    /// directory (the lab trains on installed datasets, by name), a dataset it does not
    /// know, more than [`MAX_EPOCHS`] epochs, batches over 10,000, a dropout ratio outside
    /// [0, 1).
    pub fn from_json(v: &Value) -> Result<Plan> {
        let spec = RunSpec::from_json(&v.to_string())?;
        if spec.data.dir.is_some() {
            return Err(Error::Invalid(
                "the lab trains on installed datasets by name; a data directory is not accepted"
                    .into(),
            ));
        }
        if let Some(name) = &spec.data.dataset
            && !datasets().iter().any(|(n, _)| n == name)
        {
            return Err(Error::Invalid(format!("unknown dataset {name:?}")));
        }
        match spec.schedule.length {
            Some(Length::Epochs(e)) if !(1..=MAX_EPOCHS).contains(&e) => {
                return Err(Error::Invalid(format!(
                    "the run's epochs must be a whole number from 1 to {MAX_EPOCHS}"
                )));
            }
            Some(Length::Iters(n)) if !(1..=MAX_EPOCHS * 1000).contains(&n) => {
                return Err(Error::Invalid(format!(
                    "the run's steps must be a whole number from 1 to {}",
                    MAX_EPOCHS * 1000
                )));
            }
            _ => {}
        }
        if spec.schedule.batch_size > 10_000 {
            return Err(Error::Invalid("batches of at most 10,000 samples".into()));
        }
        if let Arch::MultiLayer {
            dropout: Some(d), ..
        } = &spec.arch
            && !(0.0..1.0).contains(d)
        {
            return Err(Error::Invalid(format!(
                "a dropout ratio of {d} is not in [0, 1)"
            )));
        }
        if let Some(lr) = spec.optimizer.hyper.lr
            && !(lr.is_finite() && lr > 0.0)
        {
            return Err(Error::Invalid(format!(
                "a learning rate of {lr} is not a positive number"
            )));
        }
        Ok(Plan { spec })
    }

    fn title(&self) -> String {
        let s = &self.spec;
        let arch = match &s.arch {
            Arch::MultiLayer {
                hidden,
                activation,
                batch_norm,
                dropout,
                ..
            } => format!(
                "multi-layer {:?} {}{}{}",
                hidden,
                activation.key(),
                if *batch_norm { " +BN" } else { "" },
                dropout.map_or(String::new(), |d| format!(" dropout {d}"))
            ),
            a => a.name().to_string(),
        };
        let kind = s.optimizer.kind;
        format!(
            "{arch}, {} lr {}, {}",
            kind.key(),
            s.optimizer.hyper.lr.unwrap_or(crate::run::default_lr(kind)),
            s.data.dataset.as_deref().unwrap_or("digits")
        )
    }
}

/// Saves a finished run's network to a path.
type Saver = Box<dyn FnMut(&Path) -> Result<()> + Send>;

/// One training run and its event log.
pub struct Run {
    /// Its number, from 1.
    pub id: usize,
    /// A one-line description.
    pub title: String,
    log: Mutex<Vec<Arc<str>>>,
    stop: AtomicBool,
    done: AtomicBool,
    saver: Mutex<Option<Saver>>,
    report: Mutex<Option<String>>,
}

/// Locks `m` even if a panicking run poisoned it: the data is a log and a network, each
/// written whole.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Run {
    fn push(&self, event: Value) {
        lock(&self.log).push(Arc::from(event.to_string()));
    }

    /// The events from number `from` on, and whether the run has ended (no more will come).
    pub fn events_from(&self, from: usize) -> (Vec<Arc<str>>, bool) {
        // Read `done` first: a run that is done has pushed its last event before.
        let done = self.done.load(Ordering::Acquire);
        let log = lock(&self.log);
        (log.get(from..).map(<[_]>::to_vec).unwrap_or_default(), done)
    }

    /// Asks the run to stop after its current step.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the run has ended.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// The HTML report of the finished run, as `train --report` writes it.
    pub fn report(&self) -> Option<String> {
        lock(&self.report).clone()
    }

    /// Saves the trained network as a model file at `path`, which must not exist yet.
    /// Returns the path written, made absolute.
    pub fn save(&self, path: &Path) -> Result<PathBuf> {
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io(".", e))?
                .join(path)
        };
        if path.exists() {
            return Err(Error::Invalid(format!(
                "{} exists already; the lab does not replace files",
                path.display()
            )));
        }
        crate::io::Paths::new()
            .output("path", Some(&path))
            .check()?;
        let mut saver = lock(&self.saver);
        let save = saver.as_mut().ok_or_else(|| {
            Error::Invalid("the run has no trained network yet: save it once it has ended".into())
        })?;
        save(&path)?;
        Ok(path)
    }
}

/// Every run the server has started.
#[derive(Default)]
pub struct Runs {
    list: Mutex<Vec<Arc<Run>>>,
    next: AtomicUsize,
}

impl Runs {
    /// The run with this id.
    pub fn get(&self, id: usize) -> Option<Arc<Run>> {
        lock(&self.list).iter().find(|r| r.id == id).cloned()
    }

    /// `[{id, title, done}]` for every run.
    pub fn list(&self) -> Value {
        lock(&self.list)
            .iter()
            .map(|r| json!({"id": r.id, "title": r.title, "done": r.is_done()}))
            .collect()
    }

    /// Starts training `plan` on a new thread and returns its run.
    pub fn start(&self, plan: Plan) -> Result<Arc<Run>> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let run = Arc::new(Run {
            id,
            title: plan.title(),
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            done: AtomicBool::new(false),
            saver: Mutex::new(None),
            report: Mutex::new(None),
        });
        let r = Arc::clone(&run);
        std::thread::Builder::new()
            .name(format!("lab-run-{id}"))
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(
                    || crate::with_precision!(plan.spec.precision, F => train_run::<F>(&r, &plan)),
                ));
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => r.push(json!({"type": "error", "message": e.to_string()})),
                    Err(panic) => {
                        let msg = panic
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| panic.downcast_ref::<&str>().copied())
                            .unwrap_or("unknown panic");
                        r.push(
                            json!({"type": "error", "message": format!("the run crashed: {msg}")}),
                        );
                    }
                }
                r.push(json!({"type": "done"}));
                r.done.store(true, Ordering::Release);
            })
            .map_err(|e| Error::io("a thread for the run", e))?;
        lock(&self.list).push(Arc::clone(&run));
        Ok(run)
    }
}

/// Samples in the fixed batch whose activations the histograms show.
const PROBE: usize = 200;
/// Evaluate at least every this many steps, so that a long epoch still updates the page.
const EVAL_STEPS: usize = 50;

/// Builds the run with [`crate::run::Run::new`] and trains it with [`crate::run::Run::train`],
/// whose network hook ([`Hooks::on_network`]) hands the network to a [`Probe`] at every
/// evaluation point.
fn train_run<F: Float>(run: &Run, plan: &Plan) -> Result<()> {
    let mut spec = plan.spec.clone();
    let mut r = LibRun::<F>::new(&spec)?;
    // Long epochs (MNIST: 600 steps) are evaluated every 50 steps on 1000 samples, so that
    // the page moves; the final accuracies use the whole sets.
    if r.steps_per_epoch() > EVAL_STEPS && spec.schedule.eval_every.is_none() {
        spec.schedule.eval_every = Some(EVAL_STEPS);
        spec.schedule.eval_samples = Some(1000);
        r.spec.schedule.eval_every = Some(EVAL_STEPS);
        r.spec.schedule.eval_samples = Some(1000);
    }
    let layout = r.spec.arch.layout();
    let n = r.data.test.len().min(PROBE);
    let mut labels = Vec::new();
    let probe_x = r
        .data
        .test
        .batch::<f32>(&(0..n).collect::<Vec<_>>(), layout, &mut labels);
    let mut probe = Probe {
        run,
        x: probe_x,
        image_shape: r.data.train.image_shape,
        prev: Vec::new(),
        prev_iter: 0,
        last: None,
    };
    run.push(json!({
        "type": "start",
        "spec": r.spec.to_value(),
        "title": plan.title(),
        "train_samples": r.data.train.len(),
        "test_samples": r.data.test.len(),
        "steps_per_epoch": r.steps_per_epoch(),
    }));
    // The first snapshot: the network as initialised.
    probe.snapshot(&mut r.net, 0);
    let mut on_event = |ev: Event| match ev {
        Event::Start { total_iters } => {
            run.push(json!({"type": "total", "total_iters": total_iters}))
        }
        Event::Step { iter, loss } => run.push(json!({"type": "step", "iter": iter, "loss": loss})),
        Event::Eval(e) => run.push(json!({
            "type": "eval", "epoch": e.epoch, "iter": e.iter, "loss": e.loss,
            "train_acc": e.train_acc, "test_acc": e.test_acc, "seconds": e.seconds,
        })),
    };
    let mut on_network = |net: &mut Network<F>, iter: usize| probe.at_evaluation(net, iter);
    let summary = r.train(Hooks {
        on_event: Some(&mut on_event),
        on_network: Some(&mut on_network),
        stop: Some(&run.stop),
        checkpoint_dir: None,
    })?;
    if probe.prev_iter != summary.iters || summary.iters == 0 {
        probe.snapshot(&mut r.net, summary.iters);
    }
    run.push(json!({
        "type": "summary",
        "train_acc": summary.train_acc,
        "test_acc": summary.test_acc,
        "iters": summary.iters,
        "seconds": summary.seconds,
        "samples_per_sec": summary.samples_per_sec,
        "interrupted": summary.interrupted,
    }));
    // The report `train --report` writes, from the same library function.
    *lock(&run.report) = Some(r.report(&summary)?);
    run.push(json!({"type": "report", "url": format!("/api/runs/{}/report", run.id)}));
    let info = r.model_info();
    let LibRun { mut net, .. } = r;
    *lock(&run.saver) = Some(Box::new(move |path: &Path| {
        crate::io::safetensors::save(path, &mut net, &info)
    }));
    Ok(())
}

/// Takes a snapshot at every evaluation point (through the run's network hook).
struct Probe<'a> {
    run: &'a Run,
    x: ArrayD<f32>,
    image_shape: [usize; 3],
    /// Weights at the previous snapshot, for the update-to-weight ratio.
    prev: Vec<ArrayD<f32>>,
    prev_iter: usize,
    /// When the previous snapshot was taken.
    last: Option<Instant>,
}

/// At most one snapshot per this interval (and one at the end): a snapshot runs the probe
/// batch through the network and draws a picture, which on the 8×8 digits (15 steps an
/// epoch) would otherwise cost more than the training.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(200);

impl Probe<'_> {
    /// A snapshot after `iter` steps, unless the previous one is more recent than
    /// [`SNAPSHOT_EVERY`].
    fn at_evaluation<F: Float>(&mut self, net: &mut Network<F>, iter: usize) {
        if self.last.is_none_or(|t| t.elapsed() >= SNAPSHOT_EVERY) {
            self.snapshot(net, iter);
        }
    }
}

/// Bins of every histogram.
pub const BINS: usize = 30;

/// Counts of `values` in `BINS` equal bins over `[lo, hi]` (values outside go to the end
/// bins).
pub fn histogram(values: impl Iterator<Item = f64>, lo: f64, hi: f64) -> Vec<usize> {
    let mut counts = vec![0; BINS];
    let width = (hi - lo).max(f64::MIN_POSITIVE);
    for v in values.filter(|v| v.is_finite()) {
        let b = (((v - lo) / width) * BINS as f64).floor();
        counts[(b.max(0.0) as usize).min(BINS - 1)] += 1;
    }
    counts
}

fn norm<F: Float>(a: &ArrayD<F>) -> f64 {
    a.iter()
        .map(|v| {
            let v = v.to_f64_lossy();
            v * v
        })
        .sum::<f64>()
        .sqrt()
}

impl Probe<'_> {
    fn snapshot<F: Float>(&mut self, net: &mut Network<F>, iter: usize) {
        let mut health: Vec<Value> = Vec::new();
        let mut warn = |text: String| health.push(json!({"level": "warn", "text": text}));
        let x = self.x.mapv(|v| F::lit(f64::from(v)));
        let outs = net.layer_outputs(x, false);
        let mut activations = Vec::new();
        let mut k = 0;
        for (name, out) in &outs {
            if !matches!(*name, "Relu" | "Sigmoid") {
                continue;
            }
            k += 1;
            let values: Vec<f64> = out.iter().map(|v| v.to_f64_lossy()).collect();
            let n = values.len().max(1) as f64;
            let mean = values.iter().sum::<f64>() / n;
            let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
            let (lo, hi) = if *name == "Sigmoid" {
                (0.0, 1.0)
            } else {
                (0.0, values.iter().copied().fold(0.0, f64::max).max(1e-12))
            };
            let mut entry = json!({
                "name": format!("layer {k} ({name})"),
                "bins": histogram(values.iter().copied(), lo, hi),
                "lo": lo, "hi": hi, "mean": mean, "std": std,
            });
            if *name == "Sigmoid" {
                let sat = values
                    .iter()
                    .filter(|&&v| !(0.02..=0.98).contains(&v))
                    .count() as f64
                    / n;
                entry["saturated"] = json!(sat);
                if sat > 0.5 {
                    warn(format!(
                        "layer {k}: {:.0}% of the sigmoid outputs are saturated (below 0.02 or \
                         above 0.98), where its derivative y(1 − y) is nearly 0: gradients vanish",
                        sat * 100.0
                    ));
                } else if std < 0.05 {
                    warn(format!(
                        "layer {k}: the sigmoid outputs hardly differ (std {std:.3}): the units \
                         all say the same thing"
                    ));
                }
            } else {
                let dead = dead_fraction(out);
                entry["dead"] = json!(dead);
                if dead > 0.3 {
                    warn(format!(
                        "layer {k}: {:.0}% of the ReLU units are dead (0 for every probe \
                         image): no gradient flows through them",
                        dead * 100.0
                    ));
                }
            }
            activations.push(entry);
        }

        let mut gradients = Vec::new();
        let mut weights: Vec<ArrayD<f32>> = Vec::new();
        let mut norms = Vec::new();
        let steps = iter.saturating_sub(self.prev_iter).max(1) as f64;
        for (i, p) in net
            .params()
            .into_iter()
            .filter(|p| p.name.starts_with('W'))
            .enumerate()
        {
            let g: ArrayD<F> = p.grad.to_owned();
            let w: ArrayD<f32> = p.value.mapv(|v| v.to_f64_lossy() as f32);
            let gnorm = norm(&g);
            let m = g
                .iter()
                .map(|v| v.to_f64_lossy().abs())
                .fold(0.0, f64::max)
                .max(1e-12);
            let ratio = self
                .prev
                .get(i)
                .filter(|_| iter > self.prev_iter)
                .map(|prev| {
                    let diff = (&w - prev).mapv(|v| v * v).sum().sqrt() as f64;
                    diff / norm(prev).max(1e-12) / steps
                });
            if iter > 0 {
                if !gnorm.is_finite() || gnorm > 1e3 {
                    warn(format!(
                        "{}: the gradient norm is {gnorm:.3e}: exploding gradients",
                        p.name
                    ));
                }
                if let Some(r) = ratio
                    && !(1e-5..=1e-1).contains(&r)
                {
                    warn(format!(
                        "{}: each step changes the weights by {r:.1e} of their size, far from \
                         the ~1e-3 that usually trains well: {} the learning rate?",
                        p.name,
                        if r < 1e-5 { "raise" } else { "lower" }
                    ));
                }
            }
            norms.push(gnorm);
            gradients.push(json!({
                "name": format!("∂L/∂{}", p.name),
                "bins": histogram(g.iter().map(|v| v.to_f64_lossy()), -m, m),
                "lo": -m, "hi": m, "norm": gnorm, "update_ratio": ratio,
            }));
            weights.push(w);
        }
        if iter > 0
            && norms.len() >= 2
            && let (Some(&first), Some(&last)) = (norms.first(), norms.last())
            && last > 0.0
            && first / last < 1e-3
        {
            warn(format!(
                "the first layer's gradient is {:.1e} times the last one's: vanishing gradients",
                first / last
            ));
        }
        if health.is_empty() {
            health.push(json!({"level": "ok", "text": if iter == 0 {
                "initialised: no saturated or dead units".to_string()
            } else {
                "healthy: no saturated or dead units, gradient norms and update sizes in range"
                    .to_string()
            }}));
        }
        let picture = weights.first().and_then(|w| self.weights_png(w));
        self.prev = weights;
        self.prev_iter = iter;
        self.last = Some(Instant::now());
        self.run.push(json!({
            "type": "snapshot",
            "iter": iter,
            "weights_png": picture,
            "activations": activations,
            "gradients": gradients,
            "health": health,
        }));
    }

    /// The first layer's weights as pictures: a convolution's filters, or each hidden unit's
    /// incoming weights laid out as an input image (channel 0), at most 32, drawn by
    /// [`FilterGrid`] as the book draws filters.
    fn weights_png(&self, w: &ArrayD<f32>) -> Option<String> {
        let [c, h, wd] = self.image_shape;
        let filters: Array4<f32> = match w.ndim() {
            4 => w
                .slice_axis(Axis(0), (0..w.shape()[0].min(32)).into())
                .to_owned()
                .into_dimensionality()
                .ok()?,
            2 if w.shape()[0] == c * h * wd => {
                let units = w.shape()[1].min(32);
                Array4::from_shape_fn((units, 1, h, wd), |(u, _, y, x)| w[[y * wd + x, u]])
            }
            _ => return None,
        };
        let png = FilterGrid {
            scale: 4,
            spacing: 2,
        }
        .png(filters.view())
        .ok()?;
        Some(format!("data:image/png;base64,{}", base64(&png)))
    }
}

/// The fraction of units (columns of a 2-D output, channels of a 4-D one) that are 0 for
/// every sample.
fn dead_fraction<F: Float>(out: &ArrayD<F>) -> f64 {
    if out.ndim() < 2 || out.shape()[1] == 0 {
        return 0.0;
    }
    let units = out.shape()[1];
    let mut alive = vec![false; units];
    for lane in out.axis_iter(Axis(0)) {
        for (u, unit) in lane.axis_iter(Axis(0)).enumerate() {
            if unit.iter().any(|v| *v != F::zero()) {
                alive[u] = true;
            }
        }
    }
    alive.iter().filter(|a| !**a).count() as f64 / units as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_by_hand() {
        let h = histogram([0.0, 0.01, 0.5, 1.0, 2.0, f64::NAN].into_iter(), 0.0, 1.0);
        assert_eq!(h.iter().sum::<usize>(), 5);
        assert_eq!((h[0], h[15], h[29]), (2, 1, 2));
    }

    #[test]
    fn dead_units_are_zero_for_every_sample() {
        let out = ndarray::arr2(&[[0.0_f32, 1.0, 0.0], [0.0, 0.0, 2.0]]).into_dyn();
        assert_eq!(dead_fraction(&out), 1.0 / 3.0);
    }

    #[test]
    fn a_short_run_streams_its_events_and_a_bad_plan_is_refused() {
        let plan = Plan::from_json(&json!({
            "data": {"dataset": "digits", "seed": 42},
            "arch": {"name": "multi-layer", "hidden": [20], "activation": "sigmoid",
                     "init": "xavier", "batch_norm": false, "dropout": null, "weight_decay": 0.0},
            "optimizer": {"name": "sgd", "lr": 0.5},
            "schedule": {"epochs": 3, "batch_size": 100, "sampling": "shuffle"},
            "precision": "F32",
        }))
        .unwrap();
        let runs = Runs::default();
        let run = runs.start(plan).unwrap();
        while !run.is_done() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (events, done) = run.events_from(0);
        assert!(done);
        let kinds: Vec<String> = events
            .iter()
            .map(|e| {
                serde_json::from_str::<Value>(e).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .into()
            })
            .collect();
        // 1437 training digits in batches of 100: 15 steps per epoch.
        assert_eq!(kinds.iter().filter(|k| *k == "step").count(), 45);
        assert_eq!(kinds.iter().filter(|k| *k == "eval").count(), 3);
        // Snapshots: the initial network, at most one per SNAPSHOT_EVERY, the final one.
        let snapshots: Vec<u64> = events
            .iter()
            .map(|e| serde_json::from_str::<Value>(e).unwrap())
            .filter(|v| v["type"] == "snapshot")
            .map(|v| v["iter"].as_u64().unwrap())
            .collect();
        assert_eq!(
            (snapshots[0], *snapshots.last().unwrap()),
            (0, 45),
            "{snapshots:?}"
        );
        assert_eq!(kinds.last().unwrap(), "done");
        assert!(kinds.contains(&"summary".to_string()), "{kinds:?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        assert_eq!(run.save(&path).unwrap(), path);
        assert!(
            run.save(&path)
                .unwrap_err()
                .to_string()
                .contains("exists already")
        );

        assert!(run.report().unwrap().contains("<html"));
        let bad = |change: &dyn Fn(&mut Value)| {
            let mut v = RunSpec::default().to_value();
            change(&mut v);
            Plan::from_json(&v).is_err()
        };
        assert!(!bad(&|_| {}));
        assert!(bad(&|v| v["schedule"]["epochs"] = json!(0)));
        assert!(bad(&|v| v["schedule"]["epochs"] = json!(MAX_EPOCHS + 1)));
        assert!(bad(&|v| v["data"]["dataset"] = json!("../x")));
        assert!(bad(&|v| v["data"]["dir"] = json!("/etc")));
        assert!(bad(&|v| v["optimizer"]["lr"] = json!(-1)));
        assert!(bad(
            &|v| v["arch"] = json!({"name": "multi-layer", "hidden": [5],
            "activation": "relu", "init": "he", "batch_norm": false, "dropout": 1.0,
            "weight_decay": 0.0})
        ));
    }
}
