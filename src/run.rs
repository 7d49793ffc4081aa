//! A whole training run as a value: what `backprop train` does, for any caller.
//!
//! A [`RunSpec`] says what to train — the data and the seed, the architecture, the optimizer
//! and its parameters, the schedule, the precision — and serialises (serde) to the JSON that
//! model files and checkpoints record. [`Run::new`] loads the data and builds the network and
//! optimizer from a spec; [`Run::resume`] reads them back from a checkpoint.
//! [`Run::train`] trains, calling back with progress ([`Event`]s), stopping when asked,
//! writing checkpoints if told where, and returns the history ([`Summary`]); the trained
//! network stays in [`Run::net`], ready for [`Run::save`], [`Run::report`] or
//! [`Run::learning_curves`].
//!
//! `backprop train` in a few lines:
//!
//! ```
//! use backprop::run::{Hooks, Run, RunSpec};
//! use backprop::train::{Event, Length};
//!
//! let mut spec = RunSpec::default(); // TwoLayerNet 64-50-10 on the embedded digits, SGD 0.1
//! spec.schedule.length = Some(Length::Epochs(40));
//! let mut run = Run::<f32>::new(&spec)?;
//! let mut evaluations = 0;
//! let summary = run.train(Hooks {
//!     on_event: Some(&mut |e: Event| {
//!         if let Event::Eval(r) = e {
//!             evaluations += 1;
//!             println!("epoch {} test acc {:.4}", r.epoch, r.test_acc);
//!         }
//!     }),
//!     ..Hooks::default()
//! })?;
//! assert_eq!((evaluations, summary.history.len()), (40, 40));
//! assert!(summary.test_acc > 0.9);
//! // The spec as recorded, with every default filled in: the same JSON gives the same run.
//! let json = run.spec.to_json();
//! assert_eq!(RunSpec::from_json(&json)?, run.spec);
//! let svg = backprop::report::plot::to_svg(&run.learning_curves(&summary))?;
//! assert!(svg.starts_with("<svg"));
//! # Ok::<(), backprop::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::data::{Split, datasets, digits};
use crate::error::{Error, Result};
use crate::float::Float;
pub use crate::float::Precision;
use crate::io::checkpoint::{self, CheckpointDir};
use crate::io::safetensors::ModelInfo;
use crate::nets::{Arch, Network};
use crate::optim::{Hyper, Optimizer, OptimizerKind};
use crate::report;
use crate::rng::Rng;
use crate::train::{
    Checkpoint, Control, EVAL_BATCH, Event, Length, Progress, Sampling, Summary, TrainConfig,
};

/// Everything that decides a training run. Serialised as
/// `{"data": …, "arch": …, "optimizer": …, "schedule": …, "precision": "F32"}`; unset values
/// (`None`) take the defaults [`Run::new`] fills in and records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Where the data comes from, and the seed of every random choice.
    pub data: DataSpec,
    /// The network.
    pub arch: Arch,
    /// The update rule and its parameters.
    pub optimizer: OptimizerSpec,
    /// How long, in what batches, evaluated how often.
    pub schedule: Schedule,
    /// The float type the run computes in.
    pub precision: Precision,
}

impl Default for RunSpec {
    /// `backprop train` without flags: the book's TwoLayerNet (50 hidden units, weights
    /// N(0, 0.01²)) on the embedded digits, SGD with lr 0.1, batches of 100, seed 42.
    fn default() -> Self {
        RunSpec {
            data: DataSpec::default(),
            arch: Arch::TwoLayer {
                hidden: 50,
                weight_init_std: 0.01,
            },
            optimizer: OptimizerSpec::default(),
            schedule: Schedule::default(),
            precision: Precision::F32,
        }
    }
}

impl RunSpec {
    /// The spec as JSON text (its serde form).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a run spec serialises")
    }

    /// The spec as a JSON value (its serde form).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a run spec serialises")
    }

    /// The setting called `name` (one of [`RunSpec::SETTINGS`], a command line's flag names
    /// with `_`), spelled as a command line gives its value: `"100,100"` for hidden sizes,
    /// `"adam"`, `"0.01"`, `"std:0.01"`, `"f32"`, and `"none"` for what is unset. Optimizer
    /// hyperparameters are the ones the optimizer uses (its defaults filled in). `None` for
    /// a name that is no setting. A caller resuming a run compares what it was asked with it.
    pub fn setting(&self, name: &str) -> Option<String> {
        use crate::init::Init;
        use crate::nets::Activation;
        let (hidden, activation, init, batch_norm, dropout, weight_decay) = match &self.arch {
            Arch::TwoLayer {
                hidden,
                weight_init_std,
            }
            | Arch::SimpleConv {
                hidden,
                weight_init_std,
                ..
            } => (
                vec![*hidden],
                Activation::Relu,
                Init::Std(*weight_init_std),
                false,
                None,
                0.0,
            ),
            Arch::DeepConv { hidden } => {
                (vec![*hidden], Activation::Relu, Init::He, false, None, 0.0)
            }
            Arch::MultiLayer {
                hidden,
                activation,
                init,
                batch_norm,
                dropout,
                weight_decay,
            } => (
                hidden.clone(),
                *activation,
                *init,
                *batch_norm,
                *dropout,
                *weight_decay,
            ),
        };
        let kind = self.optimizer.kind;
        let hyper = self.optimizer.hyper.resolved(kind);
        let number = |v: Option<f64>| v.map_or("none".to_string(), |v| v.to_string());
        let count = |v: Option<usize>| v.map_or("none".to_string(), |v| v.to_string());
        let s = &self.schedule;
        Some(match name {
            "model" => self.arch.name().to_string(),
            "hidden" => sizes(&hidden),
            "activation" => activation.key().to_string(),
            "init" => init.to_string(),
            "batch_norm" => batch_norm.to_string(),
            "dropout" => number(dropout),
            "weight_decay" => weight_decay.to_string(),
            "optimizer" => kind.key().to_string(),
            "lr" => number(hyper.lr),
            "momentum" => number(hyper.momentum),
            "beta1" => number(hyper.beta1),
            "beta2" => number(hyper.beta2),
            "decay_rate" => number(hyper.decay_rate),
            "batch_size" => s.batch_size.to_string(),
            "eval_every" => count(s.eval_every),
            "eval_samples" => count(s.eval_samples),
            "sampling" => s.sampling.key().to_string(),
            "precision" => self.precision.key().to_string(),
            "dataset" => self.data.dataset.clone().unwrap_or("none".to_string()),
            "data" => match &self.data.dir {
                Some(dir) => same_path(dir),
                None => "none".to_string(),
            },
            "seed" => self.data.seed.to_string(),
            _ => return None,
        })
    }

    /// The names [`RunSpec::setting`] knows.
    pub const SETTINGS: [&'static str; 21] = [
        "model",
        "hidden",
        "activation",
        "init",
        "batch_norm",
        "dropout",
        "weight_decay",
        "optimizer",
        "lr",
        "momentum",
        "beta1",
        "beta2",
        "decay_rate",
        "batch_size",
        "eval_every",
        "eval_samples",
        "sampling",
        "precision",
        "dataset",
        "data",
        "seed",
    ];

    /// What a resumed run may be given besides its checkpoint, as names like
    /// [`RunSpec::SETTINGS`]': how long it goes on (`epochs` or `iters`, in the unit its
    /// run is counted in), the threads and the outputs. Anything else must repeat the
    /// checkpoint's value.
    pub const RESUME_MAY_CHANGE: [&'static str; 9] = [
        "threads",
        "json",
        "save",
        "save_precision",
        "plot",
        "report",
        "checkpoint_dir",
        "epochs",
        "iters",
    ];

    /// The first of the `given` settings (name, value spelled as [`RunSpec::setting`]
    /// spells it; `None` for a value that cannot be compared) that a run resumed from this
    /// spec cannot take, with its index in `given`: a setting not in
    /// [`RunSpec::RESUME_MAY_CHANGE`] whose value differs from the recorded one or is not a
    /// setting, or a length in the other unit than the run's.
    pub fn contradiction(
        &self,
        given: &[(&str, Option<String>)],
    ) -> Option<(usize, Contradiction)> {
        given.iter().enumerate().find_map(|(i, (name, wanted))| {
            let found = |c| Some((i, c));
            match *name {
                "epochs" | "iters" => {
                    // (A recorded run has a length; one without is counted in neither.)
                    let counted = match (self.schedule.length, *name) {
                        (Some(Length::Epochs(_)), _) | (None, "iters") => "epochs",
                        (Some(Length::Iters(_)), _) | (None, _) => "iters",
                    };
                    return (*name != counted).then_some((i, Contradiction::Unit { counted }));
                }
                name if Self::RESUME_MAY_CHANGE.contains(&name) => return None,
                _ => {}
            }
            let (Some(wanted), Some(recorded)) = (wanted, self.setting(name)) else {
                return found(Contradiction::NotResumable);
            };
            (*wanted != recorded).then(|| {
                (
                    i,
                    Contradiction::Differs {
                        wanted: wanted.clone(),
                        recorded,
                    },
                )
            })
        })
    }

    /// Reads a spec written by [`RunSpec::to_json`].
    pub fn from_json(text: &str) -> Result<RunSpec> {
        serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("not a valid run specification: {e}")))
    }
}

/// A finished run in one record ([`Run::record`]), serialised (serde) in this field order:
/// `{"final": true, "model": …, "dataset": …, "params": …, "iters": …, "train_acc": …,
/// "test_acc": …, "seconds": …, "samples_per_sec": …, "train_seconds": …,
/// "session_steps": …, "failure": …, "interrupted": …}`, after the run's
/// [`EpochRecord`](crate::train::EpochRecord)s.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRecord {
    /// Always `true`: tells this record from the evaluations before it.
    pub r#final: bool,
    /// The architecture's name ([`Arch::name`]).
    pub model: &'static str,
    /// The training set's name.
    pub dataset: String,
    /// Parameters of the network.
    pub params: usize,
    /// Steps done.
    pub iters: usize,
    /// Final accuracy on the training set.
    pub train_acc: f64,
    /// Final accuracy on the test set.
    pub test_acc: f64,
    /// Wall time of the whole run, evaluations included.
    pub seconds: f64,
    /// Training samples per second of training steps.
    pub samples_per_sec: f64,
    /// Seconds this session spent in training steps.
    pub train_seconds: f64,
    /// Steps done by this session.
    pub session_steps: usize,
    /// What went wrong, if the run failed to learn ([`crate::eval::Failure::describe`]).
    pub failure: Option<String>,
    /// Whether a signal stopped the run before its end.
    pub interrupted: bool,
}

/// How a setting given to a resumed run contradicts its checkpoint
/// ([`RunSpec::contradiction`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contradiction {
    /// A length in epochs for a run counted in steps, or the other way round; the run is
    /// counted in `counted` (`"epochs"` or `"iters"`).
    Unit {
        /// The unit of the recorded run.
        counted: &'static str,
    },
    /// The setting is not one a resumed run takes.
    NotResumable,
    /// The setting differs from the recorded one.
    Differs {
        /// The value given.
        wanted: String,
        /// The checkpoint's value.
        recorded: String,
    },
}

/// Layer sizes as a command line takes them: `100,100`.
pub fn sizes(hidden: &[usize]) -> String {
    hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A directory spelled so that two spellings of one directory compare equal (when it exists).
pub fn same_path(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Where the data comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// `digits`, `mnist` or `fashion-mnist`; `None` for the embedded digits, or for what
    /// `dir` holds. A run records here the name of the set it loaded.
    pub dataset: Option<String>,
    /// A directory holding the four IDX files.
    pub dir: Option<PathBuf>,
    /// The seed of the digits' split, the initial weights, the batch order and dropout
    /// (with [`DataSpec::validation`], that of the weights, the batches and dropout only).
    pub seed: u64,
    /// Hold out part of the training set and evaluate on it instead of the test set, as the
    /// book's §6.5 does; absent from the JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            dataset: None,
            dir: None,
            seed: 42,
            validation: None,
        }
    }
}

/// A validation set cut from the training set, as the book's `hyperparameter_optimization.py`
/// does: the first `samples` training samples, shuffled, of which the first `fraction` are held
/// out. The run trains on the rest and evaluates on the held-out part (its "test" set).
/// Serialised as `{"samples": 500, "fraction": 0.2, "seed": 42}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Use only the first this-many training samples (`x_train[:500]`); `None` uses all.
    pub samples: Option<usize>,
    /// The share held out for validation (0.2).
    pub fraction: f64,
    /// The seed of the data: the embedded digits' 80/20 split and the shuffle before the
    /// hold-out. Runs that differ only in [`DataSpec::seed`] (the trials of a search) thus
    /// see the same training and validation samples.
    pub seed: u64,
}

impl Validation {
    /// Cuts the validation set from `train`: `(rest, held out)`. Refuses a split that leaves
    /// either part empty.
    pub fn hold_out(&self, train: &crate::data::Dataset) -> Result<Split> {
        let n = self.samples.unwrap_or(train.len()).min(train.len());
        let pool = train.subset(&(0..n).collect::<Vec<_>>());
        let perm = Rng::stream(self.seed, "validation").permutation(n);
        let held = (n as f64 * self.fraction) as usize;
        if !(0.0..1.0).contains(&self.fraction) || held == 0 || held >= n {
            return Err(Error::Invalid(format!(
                "a validation share of {} of {n} training samples leaves nothing to train or \
                 to validate on",
                self.fraction
            )));
        }
        Ok(Split {
            train: pool.subset(&perm[held..]),
            test: pool.subset(&perm[..held]),
        })
    }
}

impl DataSpec {
    /// Loads the training and test parts: the embedded digits split 80/20 by the seed, or an
    /// IDX set with its own split (a named set from `dir` or where
    /// [`datasets::load_known`] looks for it; any set from `dir`). With a
    /// [`DataSpec::validation`], the parts are the training set's rest and held-out part.
    pub fn load(&self) -> Result<Split> {
        match &self.validation {
            None => self.load_source(self.seed),
            Some(v) => v.hold_out(&self.load_source(v.seed)?.train),
        }
    }

    /// The dataset's own training and test parts, the digits split by `seed`.
    fn load_source(&self, seed: u64) -> Result<Split> {
        match (self.dataset.as_deref(), &self.dir) {
            (Some("digits"), Some(dir)) => Err(Error::Invalid(format!(
                "{} holds IDX files, which conflicts with the embedded digits dataset",
                dir.display()
            ))),
            (None | Some("digits"), None) => {
                Ok(digits::load_digits()?.split(0.8, &mut Rng::stream(seed, "split")))
            }
            (Some(name), dir) => match (datasets::Known::from_name(name), dir) {
                (Some(known), dir) => datasets::load_known(known, dir.as_deref()),
                (None, Some(dir)) => Ok(datasets::load_dir(dir, None)?.0),
                (None, None) => Err(Error::Invalid(format!(
                    "unknown dataset {name:?}; expected digits, mnist or fashion-mnist"
                ))),
            },
            (None, Some(dir)) => Ok(datasets::load_dir(dir, None)?.0),
        }
    }
}

impl DataSpec {
    /// The data that a model file says its network was trained on (the `data` of its
    /// `train_config`, or an older record's `seed`), with the caller's choices over it: a
    /// `dataset` name or a `dir` replaces the recorded source (a directory alone names its own
    /// set), a `seed` the recorded seed (42 when none is recorded). `backprop eval` evaluates
    /// on its test part.
    pub fn of_model(
        info: &ModelInfo,
        dataset: Option<&str>,
        dir: Option<&Path>,
        seed: Option<u64>,
    ) -> DataSpec {
        let record = &info.train_config["data"];
        let recorded_dir = record["dir"].as_str().map(PathBuf::from);
        let name = info.dataset.to_ascii_lowercase();
        let recorded = ["digits", "mnist", "fashion-mnist"]
            .contains(&name.as_str())
            .then_some(name);
        DataSpec {
            dataset: dataset
                .map(str::to_string)
                .or(if dir.is_some() || recorded_dir.is_some() {
                    None
                } else {
                    recorded
                }),
            dir: dir.map(Path::to_path_buf).or(if dataset.is_some() {
                None
            } else {
                recorded_dir
            }),
            seed: seed
                .or_else(|| record["seed"].as_u64())
                .or_else(|| info.train_config.get("seed").and_then(|s| s.as_u64()))
                .unwrap_or(42),
            // The test part, even for a model whose run validated on a held-out share.
            validation: None,
        }
    }
}

/// The update rule and its hyperparameters. Serialised flat:
/// `{"name": "adam", "lr": 0.001, "momentum": null, …}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSpec {
    /// The rule.
    #[serde(rename = "name")]
    pub kind: OptimizerKind,
    /// Its hyperparameters; unset ones take the book's defaults, and an unset learning rate
    /// [`default_lr`].
    #[serde(flatten)]
    pub hyper: Hyper,
}

impl OptimizerSpec {
    /// The optimizer, in precision `F`.
    pub fn build<F: Float>(&self) -> Box<dyn Optimizer<F>> {
        crate::optim::build::<F>(self.kind, &self.hyper)
    }
}

/// `train`'s default learning rate: 0.1 for SGD (the book's chapter-5 run), the book's
/// optimizer defaults otherwise.
pub fn default_lr(kind: OptimizerKind) -> f64 {
    match kind {
        OptimizerKind::Sgd => 0.1,
        other => other.default_lr(),
    }
}

/// The default length of a run on `train_len` samples: about 10,000 steps of 100 on MNIST
/// (the book's run, 17 epochs), 200 short epochs on small sets.
pub fn default_epochs(train_len: usize) -> usize {
    if train_len >= 10_000 { 17 } else { 200 }
}

/// How long to train, in what batches, evaluated how often. Serialised as
/// `{"epochs", "iters", "batch_size", "eval_every", "eval_samples", "sampling"}`, one of
/// `epochs` and `iters` set (neither: [`default_epochs`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "ScheduleRecord", try_from = "ScheduleRecord")]
pub struct Schedule {
    /// Epochs or steps; `None` is [`default_epochs`] for the data.
    pub length: Option<Length>,
    /// Samples per step.
    pub batch_size: usize,
    /// Evaluate every this many steps instead of after every epoch.
    pub eval_every: Option<usize>,
    /// Per-evaluation accuracies on only the first this-many samples of each set.
    pub eval_samples: Option<usize>,
    /// How batches are drawn.
    pub sampling: Sampling,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            length: None,
            batch_size: 100,
            eval_every: None,
            eval_samples: None,
            sampling: Sampling::Shuffle,
        }
    }
}

/// [`Schedule`] as it is written.
#[derive(Clone, Serialize, Deserialize)]
struct ScheduleRecord {
    epochs: Option<usize>,
    iters: Option<usize>,
    batch_size: usize,
    eval_every: Option<usize>,
    eval_samples: Option<usize>,
    sampling: Sampling,
}

impl From<Schedule> for ScheduleRecord {
    fn from(s: Schedule) -> Self {
        ScheduleRecord {
            epochs: match s.length {
                Some(Length::Epochs(e)) => Some(e),
                _ => None,
            },
            iters: match s.length {
                Some(Length::Iters(n)) => Some(n),
                _ => None,
            },
            batch_size: s.batch_size,
            eval_every: s.eval_every,
            eval_samples: s.eval_samples,
            sampling: s.sampling,
        }
    }
}

impl TryFrom<ScheduleRecord> for Schedule {
    type Error = String;
    fn try_from(r: ScheduleRecord) -> std::result::Result<Self, String> {
        let length = match (r.epochs, r.iters) {
            (Some(_), Some(_)) => return Err("a schedule has epochs or iters, not both".into()),
            (Some(e), None) => Some(Length::Epochs(e)),
            (None, Some(n)) => Some(Length::Iters(n)),
            (None, None) => None,
        };
        if r.batch_size == 0 {
            return Err("the batch size must be at least 1".into());
        }
        Ok(Schedule {
            length,
            batch_size: r.batch_size,
            eval_every: r.eval_every,
            eval_samples: r.eval_samples,
            sampling: r.sampling,
        })
    }
}

/// [`Hooks::on_network`]: called with the network and the steps done.
pub type OnNetwork<'a, F> = &'a mut dyn FnMut(&mut Network<F>, usize);

/// The callbacks and controls of [`Run::train`]; all optional.
pub struct Hooks<'a, F: Float> {
    /// Called at the start, after every step and after every evaluation.
    pub on_event: Option<&'a mut dyn FnMut(Event)>,
    /// Called with the network and the steps done at every evaluation point (after the
    /// evaluation and the checkpoint, if any), and when a stop request ends the run after a
    /// step: for looking at the weights while they train (the lab draws them). Only called
    /// with finite weights.
    pub on_network: Option<OnNetwork<'a, F>>,
    /// When it becomes `true` (a signal handler, a button), training stops after the current
    /// step; the summary says `interrupted`, and a checkpoint is written first if
    /// `checkpoint_dir` is set.
    pub stop: Option<&'a AtomicBool>,
    /// Write a checkpoint into this directory at every evaluation (the two newest are
    /// kept); [`Run::resume`] continues from it. The directory is locked while the run
    /// trains.
    pub checkpoint_dir: Option<&'a Path>,
}

impl<F: Float> Default for Hooks<'_, F> {
    fn default() -> Self {
        Hooks {
            on_event: None,
            on_network: None,
            stop: None,
            checkpoint_dir: None,
        }
    }
}

/// What the training loop calls at every evaluation point: the checkpoint directory, then
/// [`Hooks::on_network`].
struct AtEvaluation<'a, F: Float> {
    checkpoints: Option<CheckpointDir>,
    on_network: Option<OnNetwork<'a, F>>,
}

impl<F: Float> Checkpoint<F> for AtEvaluation<'_, F> {
    fn save(
        &mut self,
        net: &mut Network<F>,
        opt: &dyn Optimizer<F>,
        progress: &Progress,
    ) -> Result<()> {
        if let Some(c) = self.checkpoints.as_mut() {
            c.save(net, opt, progress)?;
        }
        if let Some(f) = self.on_network.as_mut() {
            f(net, progress.iter);
        }
        Ok(())
    }
}

/// A training run: its spec with every default filled in, the data, the network and the
/// optimizer (and, when resumed, where it stands).
pub struct Run<F: Float> {
    /// What the run is, as it will be recorded.
    pub spec: RunSpec,
    /// The training and test sets.
    pub data: Split,
    /// The network: freshly initialised, restored, or — after [`Run::train`] — trained.
    pub net: Network<F>,
    /// The optimizer, with its state.
    pub optimizer: Box<dyn Optimizer<F>>,
    progress: Option<Progress>,
}

impl<F: Float> Run<F> {
    /// Loads the data and builds the network and optimizer that `spec` describes, computing
    /// in `F` (recorded as [`RunSpec::precision`]). Refuses data without training or test
    /// samples, and sizes that would not fit in memory.
    pub fn new(spec: &RunSpec) -> Result<Self> {
        Self::with_data(spec, spec.data.load()?)
    }

    /// [`Run::new`] on data already loaded, which must be what `spec.data` loads (the caller
    /// vouches for it: a checkpoint records only the spec): many runs on one dataset, such as
    /// the trials of a search, read it once.
    pub fn with_data(spec: &RunSpec, data: Split) -> Result<Self> {
        data.train.require_samples("training")?;
        data.test.require_samples("test")?;
        let mut spec = spec.clone();
        spec.precision = Precision::of::<F>();
        spec.data.dataset = Some(data.train.name.clone());
        let kind = spec.optimizer.kind;
        let hyper = &mut spec.optimizer.hyper;
        hyper.lr = Some(hyper.lr.unwrap_or(default_lr(kind)));
        let s = &mut spec.schedule;
        s.length = Some(
            s.length
                .unwrap_or(Length::Epochs(default_epochs(data.train.len()))),
        );
        // Each step holds one batch (the whole set at most when drawing without
        // replacement), each evaluation one of EVAL_BATCH.
        let batch = match s.sampling {
            Sampling::Shuffle => s.batch_size.min(data.train.len()),
            Sampling::Replacement => s.batch_size,
        };
        spec.arch.check_training_fits(
            data.train.image_shape,
            data.train.num_classes(),
            batch.max(EVAL_BATCH),
            size_of::<F>(),
            kind.arrays_per_param(),
        )?;
        let net = spec.arch.build(
            data.train.image_shape,
            data.train.num_classes(),
            &mut Rng::stream(spec.data.seed, "init"),
        )?;
        Ok(Run {
            optimizer: spec.optimizer.build(),
            spec,
            data,
            net,
            progress: None,
        })
    }

    /// The run saved in the checkpoint file `path` (see [`checkpoint::latest`] for a
    /// directory's newest): the same data, network, optimizer state, batch order and
    /// schedule, continuing from the step it reached. Change [`Schedule::length`] in
    /// [`Run::spec`] to train longer.
    pub fn resume(path: &Path) -> Result<Self> {
        let restored = checkpoint::load::<F>(path)?;
        let mut spec = recorded_spec(&restored.run, &restored.model.info, path)?;
        spec.precision = Precision::of::<F>();
        // A directory names its own dataset (any IDX set, whose name is then the
        // directory's); otherwise the dataset is one of ours, by name.
        let mut source = spec.data.clone();
        if source.dir.is_some() {
            source.dataset = None;
        }
        let data = source.load()?;
        let mut optimizer = spec.optimizer.build::<F>();
        optimizer
            .load_state(&restored.optimizer)
            .map_err(|e| Error::format(path, e.to_string()))?;
        Ok(Run {
            spec,
            data,
            net: restored.model.net,
            optimizer,
            progress: Some(restored.progress),
        })
    }

    /// The step a resumed run continues from (`None` for a new run).
    pub fn resumed_at(&self) -> Option<usize> {
        self.progress.as_ref().map(|p| p.iter)
    }

    /// Makes a resumed run go on until `wanted` (`None`: the length its checkpoint recorded),
    /// which later checkpoints record. Refused ([`Fix::Longer`](crate::error::Fix::Longer))
    /// when `wanted` ends before the step the run has reached, and ([`Error::Invalid`]) when
    /// it counts epochs where the run counts steps or the other way round.
    pub fn extend_to(&mut self, wanted: Option<Length>) -> Result<()> {
        let Some(recorded) = self.spec.schedule.length else {
            return Err(Error::Invalid("the checkpoint's run has no length".into()));
        };
        let wanted = wanted.unwrap_or(recorded);
        let per_epoch = self.steps_per_epoch();
        let done = self.resumed_at().unwrap_or(0);
        let said = |l: Length| match l {
            Length::Epochs(e) => format!("{e} epochs"),
            Length::Iters(n) => format!("{n} steps"),
        };
        let steps = match (wanted, recorded) {
            (Length::Epochs(e), Length::Epochs(_)) => e.saturating_mul(per_epoch),
            (Length::Iters(n), Length::Iters(_)) => n,
            _ => {
                return Err(Error::Invalid(format!(
                    "the run is {}, not {}: it goes on as it is counted",
                    said(recorded),
                    said(wanted)
                )));
            }
        };
        if steps < done {
            return Err(Error::needs(
                format!(
                    "{} end before step {done}, which the run has reached",
                    said(wanted)
                ),
                crate::error::Fix::Longer {
                    wanted,
                    done,
                    per_epoch,
                },
            ));
        }
        self.spec.schedule.length = Some(wanted);
        Ok(())
    }

    /// Steps per epoch on this run's data: `ceil(N / batch_size)`.
    pub fn steps_per_epoch(&self) -> usize {
        crate::train::iters_per_epoch(self.data.train.len(), self.spec.schedule.batch_size)
    }

    /// The training loop's settings.
    pub fn config(&self) -> TrainConfig {
        let s = &self.spec.schedule;
        TrainConfig {
            length: s
                .length
                .unwrap_or(Length::Epochs(default_epochs(self.data.train.len()))),
            batch_size: s.batch_size,
            seed: self.spec.data.seed,
            eval_every: s.eval_every,
            sampling: s.sampling,
            layout: self.spec.arch.layout(),
            eval_batch: EVAL_BATCH,
            eval_samples: s.eval_samples,
            // A held-out validation set is what a search ranks trials by: measure its loss.
            eval_loss: self.spec.data.validation.is_some(),
        }
    }

    /// What a model file records about this run's network besides its tensors.
    pub fn model_info(&self) -> ModelInfo {
        ModelInfo {
            arch: self.spec.arch.clone(),
            image_shape: self.data.train.image_shape,
            class_names: self.data.train.class_names.clone(),
            dataset: self.data.train.name.clone(),
            train_config: self.spec.to_value(),
        }
    }

    /// Trains the network (from where a resumed run stood), reporting through `hooks`.
    ///
    /// Stops with [`Error::Diverged`] at the first step whose loss or weights are not
    /// finite; a run stopped through [`Hooks::stop`] returns its summary with `interrupted`.
    pub fn train(&mut self, hooks: Hooks<'_, F>) -> Result<Summary> {
        let checkpoints = match hooks.checkpoint_dir {
            Some(dir) => Some(CheckpointDir::new(
                dir,
                self.model_info(),
                self.spec.to_value(),
            )?),
            None => None,
        };
        let mut at_evaluation = AtEvaluation {
            checkpoints,
            on_network: hooks.on_network,
        };
        let watched = at_evaluation.checkpoints.is_some() || at_evaluation.on_network.is_some();
        let control = Control {
            resume: self.progress.take(),
            checkpoint: watched.then_some(&mut at_evaluation as &mut dyn Checkpoint<F>),
            stop: hooks.stop,
        };
        let mut ignore = |_: Event| {};
        let on_event = match hooks.on_event {
            Some(f) => f,
            None => &mut ignore,
        };
        let cfg = self.config();
        crate::train::train_with(
            &mut self.net,
            &mut *self.optimizer,
            &self.data,
            &cfg,
            control,
            on_event,
        )
    }

    /// Writes the network and [`Run::model_info`] to a model file, atomically.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let info = self.model_info();
        crate::io::safetensors::save(path, &mut self.net, &info)
    }

    /// [`Run::save`] with every tensor stored as `dtype` (`train --save-precision`).
    pub fn save_as(
        &mut self,
        path: &Path,
        dtype: crate::io::safetensors::TensorDtype,
    ) -> Result<()> {
        let info = self.model_info();
        crate::io::safetensors::save_as(path, &mut self.net, &info, dtype)
    }

    /// The learning curves of a finished run: loss per step, accuracies per evaluation.
    pub fn learning_curves(&self, summary: &Summary) -> report::plot::Figure {
        report::run::learning_curves(summary, self.spec.arch.name(), &self.data)
    }

    /// Whether the finished run failed ([`crate::eval::Failure`]: test accuracy near chance or
    /// predictions collapsed onto one class). A test accuracy above 0.7 and above 1.5 × the
    /// largest class's share rules both out without another pass over the test set (a
    /// collapse caps the accuracy at 0.5 + 0.2); otherwise the test set is evaluated again.
    pub fn failure(&mut self, summary: &Summary) -> Option<crate::eval::Failure> {
        let test = &self.data.test;
        let largest =
            test.class_counts().into_iter().max().unwrap_or(0) as f64 / test.len().max(1) as f64;
        if summary.test_acc > 0.7 && summary.test_acc > 1.5 * largest {
            return None;
        }
        let layout = self.spec.arch.layout();
        crate::eval::evaluate(&mut self.net, &self.data.test, layout, 100, 0).failure()
    }

    /// The record of a finished run, as `backprop train --json` ends with it: what was
    /// trained on what, the final accuracies and rates of `summary`, and the failure
    /// ([`Run::failure`]) described with the test set's class names.
    pub fn record(&mut self, summary: &Summary) -> RunRecord {
        let failure = self
            .failure(summary)
            .map(|f| f.describe(&self.data.test.class_names));
        RunRecord {
            r#final: true,
            model: self.spec.arch.name(),
            dataset: self.data.train.name.clone(),
            params: self.net.param_count(),
            iters: summary.iters,
            train_acc: summary.train_acc,
            test_acc: summary.test_acc,
            seconds: summary.seconds,
            samples_per_sec: summary.samples_per_sec,
            train_seconds: summary.train_seconds,
            session_steps: summary.session_steps,
            failure,
            interrupted: summary.interrupted,
        }
    }

    /// The self-contained HTML report of a finished run (see [`report::run::report`]).
    pub fn report(&mut self, summary: &Summary) -> Result<String> {
        let info = self.model_info();
        let r = report::run::report(&mut self.net, &self.data, summary, &info)?;
        Ok(report::html::render(&r))
    }
}

/// The spec a checkpoint recorded (`run`), with the architecture of its model (`info`) when
/// the record predates specs holding one.
fn recorded_spec(run: &serde_json::Value, info: &ModelInfo, path: &Path) -> Result<RunSpec> {
    let mut run = run.clone();
    if let Some(map) = run.as_object_mut() {
        map.entry("arch").or_insert_with(|| info.arch.to_json());
    }
    let spec: RunSpec = serde_json::from_value(run)
        .map_err(|e| Error::format(path, format!("the checkpoint's run is invalid: {e}")))?;
    if spec.arch != info.arch {
        return Err(Error::format(
            path,
            "the checkpoint's run and its model have different architectures",
        ));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Init;
    use crate::nets::Activation;

    #[test]
    fn a_resumed_run_takes_longer_lengths_outputs_and_its_own_settings_only() {
        let mut spec = RunSpec::default();
        spec.schedule.length = Some(Length::Epochs(40));
        spec.optimizer.hyper.lr = Some(0.1);
        let given = |g: &[(&'static str, Option<&str>)]| -> Vec<(&'static str, Option<String>)> {
            g.iter().map(|(n, v)| (*n, v.map(str::to_string))).collect()
        };
        // The recorded values, the length in the run's unit, the outputs and the threads.
        let fine = given(&[
            ("epochs", None),
            ("threads", None),
            ("save", None),
            ("report", None),
            ("model", Some("two-layer")),
            ("hidden", Some("50")),
            ("init", Some("std:0.01")),
            ("lr", Some("0.1")),
            ("seed", Some("42")),
        ]);
        assert_eq!(spec.contradiction(&fine), None);
        // Steps for a run counted in epochs.
        let steps = given(&[("save", None), ("iters", Some("500"))]);
        assert_eq!(
            spec.contradiction(&steps),
            Some((1, Contradiction::Unit { counted: "epochs" }))
        );
        spec.schedule.length = Some(Length::Iters(500));
        assert_eq!(
            spec.contradiction(&given(&[("epochs", None)])),
            Some((0, Contradiction::Unit { counted: "iters" }))
        );
        // Another value than the recorded one, named in the book's spelling.
        let other = given(&[("lr", Some("0.1")), ("hidden", Some("100"))]);
        assert_eq!(
            spec.contradiction(&other),
            Some((
                1,
                Contradiction::Differs {
                    wanted: "100".into(),
                    recorded: "50".into()
                }
            ))
        );
        // A name that is no setting, or a value that cannot be compared.
        for g in [[("verbose", Some("1"))], [("lr", None)]] {
            assert_eq!(
                spec.contradiction(&given(&g)),
                Some((0, Contradiction::NotResumable))
            );
        }
    }

    #[test]
    fn a_models_data_is_its_record_under_the_callers_choices() {
        let info = |dataset: &str, config: serde_json::Value| ModelInfo {
            arch: RunSpec::default().arch,
            image_shape: [1, 8, 8],
            class_names: (0..10).map(|i| i.to_string()).collect(),
            dataset: dataset.into(),
            train_config: config,
        };
        let spec = |d: Option<&str>, dir: Option<&str>, seed| DataSpec {
            dataset: d.map(str::to_string),
            dir: dir.map(PathBuf::from),
            seed,
            validation: None,
        };
        let digits = info(
            "digits",
            serde_json::json!({"data": {"dataset": "digits", "dir": null, "seed": 7}}),
        );
        assert_eq!(
            DataSpec::of_model(&digits, None, None, None),
            spec(Some("digits"), None, 7)
        );
        // A directory alone names its own set; a seed replaces the recorded one.
        assert_eq!(
            DataSpec::of_model(&digits, None, Some(Path::new("/d")), Some(3)),
            spec(None, Some("/d"), 3)
        );
        // A model trained on a directory: the directory, unless a dataset is named.
        let from_dir = info(
            "my-set",
            serde_json::json!({"data": {"dataset": "my-set", "dir": "/idx", "seed": 1}}),
        );
        assert_eq!(
            DataSpec::of_model(&from_dir, None, None, None),
            spec(None, Some("/idx"), 1)
        );
        assert_eq!(
            DataSpec::of_model(&from_dir, Some("mnist"), None, None),
            spec(Some("mnist"), None, 1)
        );
        // An older record keeps its seed at the top; an unknown one falls back to 42.
        let old = info("MNIST", serde_json::json!({"seed": 5}));
        assert_eq!(
            DataSpec::of_model(&old, None, None, None),
            spec(Some("mnist"), None, 5)
        );
        let bare = info("imported", serde_json::json!({}));
        assert_eq!(
            DataSpec::of_model(&bare, None, None, None),
            spec(None, None, 42)
        );
    }

    #[test]
    fn a_spec_round_trips_through_json_in_the_recorded_shape() {
        let spec = RunSpec {
            data: DataSpec {
                dataset: Some("digits".into()),
                dir: None,
                seed: 7,
                validation: None,
            },
            arch: Arch::MultiLayer {
                hidden: vec![10, 20],
                activation: Activation::Sigmoid,
                init: Init::Std(0.05),
                batch_norm: true,
                dropout: Some(0.25),
                weight_decay: 0.001,
            },
            optimizer: OptimizerSpec {
                kind: OptimizerKind::Adam,
                hyper: Hyper {
                    lr: Some(0.002),
                    beta1: Some(0.8),
                    ..Hyper::default()
                },
            },
            schedule: Schedule {
                length: Some(Length::Iters(300)),
                batch_size: 32,
                eval_every: Some(50),
                eval_samples: None,
                sampling: Sampling::Replacement,
            },
            precision: Precision::F64,
        };
        let v: serde_json::Value = serde_json::from_str(&spec.to_json()).unwrap();
        // The shape `train` wrote before specs existed, which checkpoints and `eval` read.
        assert_eq!(
            v,
            serde_json::json!({
                "data": {"dataset": "digits", "dir": null, "seed": 7},
                "arch": {"name": "multi-layer", "hidden": [10, 20], "activation": "sigmoid",
                         "init": "std:0.05", "batch_norm": true, "dropout": 0.25,
                         "weight_decay": 0.001},
                "optimizer": {"name": "adam", "lr": 0.002, "momentum": null, "beta1": 0.8,
                              "beta2": null, "decay_rate": null},
                "schedule": {"epochs": null, "iters": 300, "batch_size": 32, "eval_every": 50,
                             "eval_samples": null, "sampling": "replacement"},
                "precision": "F64",
            })
        );
        assert_eq!(RunSpec::from_json(&spec.to_json()).unwrap(), spec);
        // Both lengths at once, or a zero batch, is no schedule.
        let mut both = v.clone();
        both["schedule"]["epochs"] = serde_json::json!(3);
        let e = RunSpec::from_json(&both.to_string()).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
        let mut zero = v;
        zero["schedule"]["batch_size"] = serde_json::json!(0);
        assert!(RunSpec::from_json(&zero.to_string()).is_err());
    }

    /// The book's split: of the first 500 training digits, 100 held out after a shuffle, the
    /// other 400 trained on; the same samples whatever the run's own seed.
    #[test]
    fn a_validation_split_holds_out_part_of_the_first_samples() {
        let mut spec = DataSpec {
            validation: Some(Validation {
                samples: Some(500),
                fraction: 0.2,
                seed: 42,
            }),
            ..DataSpec::default()
        };
        let split = spec.load().unwrap();
        assert_eq!((split.train.len(), split.test.len()), (400, 100));
        let whole = DataSpec::default().load().unwrap().train;
        let key = |ds: &crate::data::Dataset, i: usize| (ds.image(i).to_vec(), ds.labels[i]);
        let mut first: Vec<_> = (0..500).map(|i| key(&whole, i)).collect();
        let mut parts: Vec<_> = (0..400)
            .map(|i| key(&split.train, i))
            .chain((0..100).map(|i| key(&split.test, i)))
            .collect();
        first.sort();
        parts.sort();
        assert_eq!(first, parts);
        // Not simply the last 100: shuffled first.
        let last: Vec<_> = (400..500).map(|i| key(&whole, i)).collect();
        assert_ne!(
            (0..100).map(|i| key(&split.test, i)).collect::<Vec<_>>(),
            last
        );
        spec.seed = 7;
        let again = spec.load().unwrap();
        assert_eq!(again.test.labels, split.test.labels);
        assert_eq!(again.train.images, split.train.images);
        // A share leaving nothing on one side is refused.
        spec.validation.as_mut().unwrap().fraction = 0.001;
        let e = spec.load().unwrap_err();
        assert!(e.to_string().contains("leaves nothing"), "{e}");
    }

    /// A spec read back from JSON (a checkpoint's, or one sent to another process) holds
    /// the very same floats: a learning rate off by one unit in the last place would train
    /// differently from the run it resumes or repeats.
    #[test]
    fn floats_survive_the_json_round_trip_bit_for_bit() {
        let mut rng = Rng::new(3);
        let mut spec = RunSpec::default();
        for _ in 0..20_000 {
            let lr = 10f64.powf(-6.0 + 4.0 * rng.uniform());
            spec.optimizer.hyper.lr = Some(lr);
            let back = RunSpec::from_json(&spec.to_json()).unwrap();
            assert_eq!(
                back.optimizer.hyper.lr.unwrap().to_bits(),
                lr.to_bits(),
                "{lr:e}"
            );
        }
    }

    #[test]
    fn new_fills_in_the_defaults_it_used() {
        let mut run = Run::<f64>::new(&RunSpec::default()).unwrap();
        let s = &run.spec;
        assert_eq!(s.precision, Precision::F64);
        assert_eq!(s.data.dataset.as_deref(), Some("digits"));
        assert_eq!(s.optimizer.hyper.lr, Some(0.1));
        // 1438 training digits (80 % of 1797): the short-set default.
        assert_eq!(run.data.train.len(), 1438);
        assert_eq!(s.schedule.length, Some(Length::Epochs(200)));
        assert_eq!(run.steps_per_epoch(), 15);
        assert_eq!(run.net.param_count(), 64 * 50 + 50 + 50 * 10 + 10);
    }

    /// A stop request ends the run after the step in progress; the checkpoint it leaves
    /// resumes into the same weights as an uninterrupted run of the same spec.
    #[test]
    fn a_run_stopped_and_resumed_equals_a_whole_run() {
        let dir = std::env::temp_dir().join(format!("backprop-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut spec = RunSpec {
            arch: Arch::TwoLayer {
                hidden: 8,
                weight_init_std: 0.01,
            },
            ..RunSpec::default()
        };
        spec.schedule.length = Some(Length::Iters(30));
        spec.schedule.eval_every = Some(10);
        spec.optimizer.kind = OptimizerKind::Adam;

        let mut whole = Run::<f32>::new(&spec).unwrap();
        let full = whole.train(Hooks::default()).unwrap();

        let stop = AtomicBool::new(false);
        let mut first = Run::<f32>::new(&spec).unwrap();
        let mut steps = 0;
        let weights = |net: &mut Network<f32>| -> Vec<Vec<f32>> {
            net.params()
                .iter()
                .map(|p| p.value.iter().copied().collect())
                .collect()
        };
        // The network hook sees the net at each evaluation (after steps 1 and 11: every
        // 10 steps from step 0) and at the stop, as the checkpoints save it.
        let mut seen = Vec::new();
        let part = first
            .train(Hooks {
                on_event: Some(&mut |e| {
                    if let Event::Step { .. } = e {
                        steps += 1;
                        if steps == 17 {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }),
                on_network: Some(&mut |net, iter| seen.push((iter, weights(net)))),
                stop: Some(&stop),
                checkpoint_dir: Some(&dir),
            })
            .unwrap();
        assert!(part.interrupted);
        assert_eq!(part.iters, 17);
        let iters: Vec<usize> = seen.iter().map(|s| s.0).collect();
        assert_eq!(iters, [1, 11, 17]);

        let mut rest = Run::<f32>::resume(&checkpoint::latest(&dir).unwrap()).unwrap();
        assert_eq!(rest.resumed_at(), Some(17));
        assert_eq!(seen[2].1, weights(&mut rest.net));
        assert_eq!(rest.spec, whole.spec);
        let end = rest.train(Hooks::default()).unwrap();
        assert_eq!(end.iters, 30);
        assert_eq!(end.losses, full.losses);
        assert_eq!(weights(&mut rest.net), weights(&mut whole.net));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A resumed run goes on as long as asked but never ends before the step it reached,
    /// and stays counted as it was; its settings read as a command line spells them.
    #[test]
    fn a_resumed_run_is_extended_not_shortened() {
        let dir = std::env::temp_dir().join(format!("backprop-extend-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut spec = RunSpec::default();
        spec.schedule.length = Some(Length::Iters(11));
        spec.schedule.eval_every = Some(5);
        spec.optimizer.kind = OptimizerKind::Adam;
        let mut run = Run::<f32>::new(&spec).unwrap();
        let hooks = Hooks {
            checkpoint_dir: Some(&dir),
            ..Hooks::default()
        };
        run.train(hooks).unwrap();
        let mut rest = Run::<f32>::resume(&checkpoint::latest(&dir).unwrap()).unwrap();
        assert_eq!(rest.resumed_at(), Some(11));
        // The book's Adam rate and TwoLayerNet size, as `--lr 0.001 --hidden 50` give them.
        let setting = |name: &str| rest.spec.setting(name);
        assert_eq!(setting("optimizer").as_deref(), Some("adam"));
        assert_eq!(setting("lr").as_deref(), Some("0.001"));
        assert_eq!(setting("hidden").as_deref(), Some("50"));
        assert_eq!(setting("eval_every").as_deref(), Some("5"));
        assert_eq!(setting("eval_samples").as_deref(), Some("none"));
        assert_eq!(setting("sampling").as_deref(), Some("shuffle"));
        assert_eq!(setting("no_such_setting"), None);
        for name in RunSpec::SETTINGS {
            assert!(setting(name).is_some(), "{name}");
        }
        // Ending before step 11: refused, saying what was asked and what was done.
        let e = rest.extend_to(Some(Length::Iters(10))).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Needs {
                    fix: crate::error::Fix::Longer {
                        wanted: Length::Iters(10),
                        done: 11,
                        ..
                    },
                    ..
                }
            ),
            "{e}"
        );
        // Epochs for a run counted in steps: refused.
        let e = rest.extend_to(Some(Length::Epochs(5))).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e}");
        assert_eq!(rest.spec.schedule.length, Some(Length::Iters(11)));
        // Nothing asked keeps the recorded length; the step reached is a length; more is more.
        rest.extend_to(None).unwrap();
        rest.extend_to(Some(Length::Iters(11))).unwrap();
        assert_eq!(rest.spec.schedule.length, Some(Length::Iters(11)));
        rest.extend_to(Some(Length::Iters(20))).unwrap();
        assert_eq!(rest.train(Hooks::default()).unwrap().iters, 20);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
