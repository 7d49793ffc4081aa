//! `backprop train`: mini-batch training with per-epoch accuracy, a progress bar on a
//! terminal, and JSON Lines with `--json`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use super::args::{
    DataArgs, DatasetName, OptimizerArgs, PlotArgs, Sizes, hidden_sizes, positive_f64,
    positive_usize, ratio, require_samples,
};
use crate::data::Split;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::init::Init;
use crate::io::checkpoint::{self, CheckpointDir};
use crate::io::safetensors::ModelInfo;
use crate::nets::{Activation, Arch, Network};
use crate::optim::{Hyper, Optimizer, OptimizerKind};
use crate::report::{html, plot};
use crate::rng::Rng;
use crate::train::{
    Checkpoint, Control, Event, Length, Progress, Sampling, Summary, TrainConfig, train_with,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Model {
    /// The book's TwoLayerNet: Affine → ReLU → Affine (§5.7).
    TwoLayer,
    /// The book's SimpleConvNet: conv 30×5×5 → ReLU → pool → Affine → ReLU → Affine (§7.5).
    SimpleConv,
    /// The book's DeepConvNet: six 3×3 convs, three pools, Affine, dropout (§8.1.1).
    DeepConv,
    /// The book's MultiLayerNet(Extend): any hidden sizes, optional batch norm, dropout and
    /// weight decay (§6).
    MultiLayer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ActivationArg {
    /// ReLU.
    Relu,
    /// Sigmoid.
    Sigmoid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SamplingArg {
    /// A shuffled pass over the training set per epoch.
    Shuffle,
    /// Independent batches with replacement, like the book's np.random.choice.
    Replacement,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Precision {
    /// 32-bit floats (fast).
    F32,
    /// 64-bit floats, as the book's NumPy code computes.
    F64,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Network architecture.
    #[arg(long, value_enum, default_value_t = Model::TwoLayer)]
    model: Model,
    /// Hidden layer sizes, comma-separated (`100,100,100,100`); two-layer takes one
    /// [default: 50 for two-layer, 100,100,100,100 for multi-layer].
    #[arg(long, value_parser = hidden_sizes)]
    hidden: Option<Sizes>,
    /// Hidden activation of multi-layer.
    #[arg(long, value_enum, default_value_t = ActivationArg::Relu)]
    activation: ActivationArg,
    /// Initial weights: std:<σ>, xavier (√(1/n)) or he (√(2/n))
    /// [default: std:0.01 for two-layer, he for multi-layer].
    #[arg(long, value_parser = parse_init, conflicts_with = "init_std")]
    init: Option<Init>,
    /// Insert batch normalization after each hidden Affine (multi-layer).
    #[arg(long)]
    batch_norm: bool,
    /// Dropout after each hidden activation with this ratio, in [0, 1) (multi-layer).
    #[arg(long, value_parser = ratio)]
    dropout: Option<f64>,
    /// L2 weight decay λ on the weights (multi-layer).
    #[arg(long, default_value = "0", value_parser = non_negative_f64)]
    weight_decay: f64,
    #[command(flatten)]
    opt: OptimizerArgs,
    /// Samples per training step.
    #[arg(long, default_value = "100", value_parser = positive_usize)]
    batch_size: usize,
    /// Passes over the training set [default: 200 on digits, 17 on MNIST-sized sets].
    #[arg(long, value_parser = positive_usize, conflicts_with = "iters")]
    epochs: Option<usize>,
    /// Train for this many steps instead of whole epochs.
    #[arg(long, value_parser = positive_usize)]
    iters: Option<usize>,
    /// Evaluate every N steps (the book's train_neuralnet.py uses 600) instead of every epoch.
    #[arg(long, value_parser = positive_usize)]
    eval_every: Option<usize>,
    /// Per-epoch accuracies on only the first N train and test samples, like the book's
    /// Trainer (`evaluate_sample_num_per_epoch`); the final accuracies use the whole sets.
    #[arg(long, value_parser = positive_usize)]
    eval_samples: Option<usize>,
    /// How batches are drawn.
    #[arg(long, value_enum, default_value_t = SamplingArg::Shuffle)]
    sampling: SamplingArg,
    /// Standard deviation of the initial Gaussian weights (the book's weight_init_std); the
    /// same as --init std:<σ>.
    #[arg(long, value_parser = positive_f64)]
    init_std: Option<f64>,
    /// Floating-point precision of the computation.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// Write JSON Lines on stdout: one object per evaluation, then a summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    plot: PlotArgs,
    /// Save the trained model to this .safetensors file (written atomically).
    #[arg(long)]
    save: Option<PathBuf>,
    /// Write a checkpoint into this directory at every evaluation (and when interrupted);
    /// the two newest are kept. One run at a time may write into a directory.
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Continue the run saved in this checkpoint directory: every setting comes from it. Only
    /// --epochs or --iters (more, to train longer), --threads and the outputs (--save, --plot,
    /// --report, --json, --checkpoint-dir) may change; any other flag must repeat the
    /// checkpoint's value.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Write a self-contained HTML report of the run to this file.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
}

fn parse_init(s: &str) -> std::result::Result<Init, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn non_negative_f64(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("must be a non-negative number, got {s}"))
    }
}

/// Runs `train`; `given` holds the ids of the flags given on the command line.
pub fn run(args: TrainArgs, given: &[String]) -> Result<()> {
    // A typo in an output path should not cost a whole training run: check the outputs now;
    // the files themselves are still written atomically at the end.
    // The data files are inputs: no output may replace one.
    let data_files = args.data.files();
    crate::io::Paths::new()
        .inputs("--data", data_files.iter().map(PathBuf::as_path))
        .output("--save", args.save.as_deref())
        .output("--plot", args.plot.plot.as_deref())
        .output("--report", args.report.as_deref())
        .output_dir(
            "--checkpoint-dir",
            args.checkpoint_dir.as_deref(),
            checkpoint::is_checkpoint_name,
        )
        .output_dir(
            "--resume",
            args.resume.as_deref(),
            checkpoint::is_checkpoint_name,
        )
        .check()?;
    if let Some(dir) = &args.resume {
        let path = checkpoint::latest(dir)?;
        return if crate::io::model_file::is_f32(&path)? {
            execute(resumed::<f32>(&path, &args, given)?, &args)
        } else {
            execute(resumed::<f64>(&path, &args, given)?, &args)
        };
    }
    match args.precision {
        Precision::F32 => execute(fresh::<f32>(&args)?, &args),
        Precision::F64 => execute(fresh::<f64>(&args)?, &args),
    }
}

/// The architecture the flags describe; flags that the model does not have are usage errors.
fn arch(args: &TrainArgs) -> Result<Arch> {
    let init = args.init.or(args.init_std.map(Init::Std));
    match args.model {
        Model::TwoLayer => Ok(Arch::TwoLayer {
            hidden: one_hidden_size(args, 50)?,
            weight_init_std: std_init(init, 0.01)?,
        }),
        Model::SimpleConv => Ok(Arch::SimpleConv {
            conv: crate::nets::ConvParam::default(),
            hidden: one_hidden_size(args, 100)?,
            weight_init_std: std_init(init, 0.01)?,
        }),
        Model::DeepConv => {
            if init.is_some_and(|i| i != Init::He) {
                return Err(Error::Invalid(
                    "deep-conv is always He-initialised, as in the book".into(),
                ));
            }
            Ok(Arch::DeepConv {
                hidden: one_hidden_size(args, 50)?,
            })
        }
        Model::MultiLayer => Ok(Arch::MultiLayer {
            hidden: args.hidden.clone().map_or(vec![100; 4], |h| h.0),
            activation: match args.activation {
                ActivationArg::Relu => Activation::Relu,
                ActivationArg::Sigmoid => Activation::Sigmoid,
            },
            // The book's MultiLayerNet defaults to weight_init_std='relu' (He).
            init: init.unwrap_or(Init::He),
            batch_norm: args.batch_norm,
            dropout: args.dropout,
            weight_decay: args.weight_decay,
        }),
    }
}

/// The one hidden size of the nets that have one (the model's book default if not given);
/// those nets take no batch norm, dropout or weight decay flags.
fn one_hidden_size(args: &TrainArgs, default: usize) -> Result<usize> {
    let model = args.model.to_possible_value().expect("no skipped values");
    if args.batch_norm || args.dropout.is_some() || args.weight_decay != 0.0 {
        return Err(Error::Invalid(format!(
            "--batch-norm, --dropout and --weight-decay need --model multi-layer, not {}",
            model.get_name()
        )));
    }
    match args.hidden.as_ref().map(|h| h.0.as_slice()) {
        None => Ok(default),
        Some(&[h]) => Ok(h),
        Some(more) => Err(Error::Invalid(format!(
            "{} takes one hidden size, got {more:?}; use --model multi-layer",
            model.get_name()
        ))),
    }
}

/// A fixed initial standard deviation (the book's `weight_init_std`), from `--init std:σ`.
fn std_init(init: Option<Init>, default: f64) -> Result<f64> {
    match init {
        None => Ok(default),
        Some(Init::Std(s)) => Ok(s),
        Some(other) => Err(Error::Invalid(format!(
            "this model takes --init std:<σ>, got {other}"
        ))),
    }
}

/// `train`'s default learning rate: 0.1 for SGD (the book's chapter-5 run), the book's
/// optimizer defaults otherwise.
fn default_lr(kind: OptimizerKind) -> f64 {
    match kind {
        OptimizerKind::Sgd => 0.1,
        other => other.default_lr(),
    }
}

/// About 10,000 steps of 100 on MNIST (the book's run); many short epochs on small sets.
fn default_epochs(train_len: usize) -> usize {
    if train_len >= 10_000 { 17 } else { 200 }
}

/// Everything a training run needs, built from the flags or read back from a checkpoint.
struct Run<F: Float> {
    data: Split,
    arch: Arch,
    net: Network<F>,
    opt: Box<dyn Optimizer<F>>,
    cfg: TrainConfig,
    /// How to rebuild this run (data source, optimizer, schedule), kept in checkpoints.
    description: Value,
    progress: Option<Progress>,
}

/// A new run from the command-line flags.
fn fresh<F: Float>(args: &TrainArgs) -> Result<Run<F>> {
    let data = args.data.load()?;
    require_samples(&data.train, "training")?;
    require_samples(&data.test, "test")?;
    let arch = arch(args)?;
    let kind = args.opt.optimizer;
    let mut hyper = args.opt.hyper();
    hyper.lr = Some(hyper.lr.unwrap_or(default_lr(kind)));
    // Each step holds one batch (the whole set at most when drawing without replacement),
    // each evaluation one of EVAL_BATCH.
    let batch = match args.sampling {
        SamplingArg::Shuffle => args.batch_size.min(data.train.len()),
        SamplingArg::Replacement => args.batch_size,
    };
    arch.check_training_fits(
        data.train.image_shape,
        data.train.num_classes(),
        batch.max(crate::train::EVAL_BATCH),
        std::mem::size_of::<F>(),
        kind.arrays_per_param(),
    )?;
    let net: Network<F> = arch.build(
        data.train.image_shape,
        data.train.num_classes(),
        &mut Rng::stream(args.data.seed, "init"),
    )?;
    let cfg = TrainConfig {
        length: match args.iters {
            Some(n) => Length::Iters(n),
            None => Length::Epochs(args.epochs.unwrap_or(default_epochs(data.train.len()))),
        },
        batch_size: args.batch_size,
        seed: args.data.seed,
        eval_every: args.eval_every,
        sampling: match args.sampling {
            SamplingArg::Shuffle => Sampling::Shuffle,
            SamplingArg::Replacement => Sampling::Replacement,
        },
        layout: arch.layout(),
        eval_batch: crate::train::EVAL_BATCH,
        eval_samples: args.eval_samples,
    };
    let description = json!({
        "data": {
            "dataset": data.train.name,
            "dir": args.data.data.as_ref().map(|d| d.display().to_string()),
            "seed": args.data.seed,
        },
        "optimizer": {
            "name": kind.key(), "lr": hyper.lr, "momentum": hyper.momentum,
            "beta1": hyper.beta1, "beta2": hyper.beta2, "decay_rate": hyper.decay_rate,
        },
        "schedule": {
            "epochs": match cfg.length { Length::Epochs(e) => Some(e), Length::Iters(_) => None },
            "iters": match cfg.length { Length::Iters(n) => Some(n), Length::Epochs(_) => None },
            "batch_size": cfg.batch_size,
            "eval_every": cfg.eval_every,
            "eval_samples": cfg.eval_samples,
            "sampling": match cfg.sampling { Sampling::Shuffle => "shuffle", Sampling::Replacement => "replacement" },
        },
        "precision": F::DTYPE,
    });
    Ok(Run {
        opt: crate::optim::build::<F>(kind, &hyper),
        data,
        arch,
        net,
        cfg,
        description,
        progress: None,
    })
}

/// A run read back from a checkpoint: the same data, network, optimizer state, batch order
/// and schedule, continuing from the step it reached, for as long as `args` say (more
/// `--epochs` or `--iters`). The other flags in `given` must repeat the checkpoint's settings.
fn resumed<F: Float>(path: &Path, args: &TrainArgs, given: &[String]) -> Result<Run<F>> {
    let mut restored = checkpoint::load::<F>(path)?;
    check_resume_flags(args, given, &restored.model.info.arch, &restored.run, path)?;
    let d = &restored.run;
    let bad = |what: &str| Error::format(path, format!("the checkpoint's run has a bad {what}"));
    let opt_f64 = |v: &Value| v.as_f64();
    let opt_usize = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    let data_args = DataArgs {
        // A directory given at the start names its own dataset (any IDX set, whose name is
        // then the directory's); otherwise the dataset is one of ours, by name.
        dataset: match d["data"]["dir"] {
            Value::String(_) => None,
            _ => Some(
                d["data"]["dataset"]
                    .as_str()
                    .and_then(|n| DatasetName::from_str(n, true).ok())
                    .ok_or_else(|| bad("dataset"))?,
            ),
        },
        data: d["data"]["dir"].as_str().map(PathBuf::from),
        seed: d["data"]["seed"].as_u64().ok_or_else(|| bad("seed"))?,
    };
    let data = data_args.load()?;
    let kind: OptimizerKind = d["optimizer"]["name"]
        .as_str()
        .ok_or_else(|| bad("optimizer"))?
        .parse()?;
    let hyper = Hyper {
        lr: opt_f64(&d["optimizer"]["lr"]),
        momentum: opt_f64(&d["optimizer"]["momentum"]),
        beta1: opt_f64(&d["optimizer"]["beta1"]),
        beta2: opt_f64(&d["optimizer"]["beta2"]),
        decay_rate: opt_f64(&d["optimizer"]["decay_rate"]),
    };
    let mut opt = crate::optim::build::<F>(kind, &hyper);
    opt.load_state(&restored.optimizer)
        .map_err(|e| Error::format(path, e.to_string()))?;
    let s = &d["schedule"];
    let batch_size = opt_usize(&s["batch_size"]).ok_or_else(|| bad("batch size"))?;
    let per_epoch = crate::train::iters_per_epoch(data.train.len(), batch_size);
    let done = restored.progress.iter;
    let length = match (opt_usize(&s["epochs"]), opt_usize(&s["iters"])) {
        (Some(e), None) => Length::Epochs(longer("epochs", e, args.epochs, per_epoch, done)?),
        (None, Some(n)) => Length::Iters(longer("iters", n, args.iters, 1, done)?),
        _ => return Err(bad("schedule")),
    };
    let arch = restored.model.info.arch.clone();
    let cfg = TrainConfig {
        length,
        batch_size,
        seed: data_args.seed,
        eval_every: opt_usize(&s["eval_every"]),
        sampling: match s["sampling"].as_str() {
            Some("shuffle") => Sampling::Shuffle,
            Some("replacement") => Sampling::Replacement,
            _ => return Err(bad("sampling")),
        },
        layout: arch.layout(),
        eval_batch: crate::train::EVAL_BATCH,
        eval_samples: opt_usize(&s["eval_samples"]),
    };
    // Later checkpoints record the new length.
    let (epochs, iters) = match length {
        Length::Epochs(e) => (Some(e), None),
        Length::Iters(n) => (None, Some(n)),
    };
    restored.run["schedule"]["epochs"] = json!(epochs);
    restored.run["schedule"]["iters"] = json!(iters);
    Ok(Run {
        data,
        arch,
        net: restored.model.net,
        opt,
        cfg,
        description: restored.run,
        progress: Some(restored.progress),
    })
}

/// The flags `--resume` takes besides the checkpoint directory: they change the outputs,
/// the threads or how long the run goes on, not the run itself.
const RESUME_MAY_CHANGE: &[&str] = &[
    "resume",
    "threads",
    "json",
    "save",
    "plot",
    "report",
    "checkpoint_dir",
    "epochs",
    "iters",
];

/// The length of a resumed run counted in `unit` (`epochs` or `iters`): the checkpoint's
/// `recorded`, or `wanted` if given, which must not end before the `done` steps already
/// taken (`per_unit` steps per unit).
fn longer(
    unit: &str,
    recorded: usize,
    wanted: Option<usize>,
    per_unit: usize,
    done: usize,
) -> Result<usize> {
    match wanted {
        None => Ok(recorded),
        Some(n) if n.saturating_mul(per_unit) >= done => Ok(n),
        Some(n) => {
            let per = if per_unit > 1 {
                format!(" ({per_unit} steps per epoch)")
            } else {
                String::new()
            };
            Err(Error::Invalid(format!(
                "--{unit} {n} ends before the checkpoint's step {done}{per}: give at least \
                 --{unit} {}",
                done.div_ceil(per_unit)
            )))
        }
    }
}

/// Refuses (a usage error naming the flag) every flag in `given` that sets something other
/// than what the checkpoint at `path` recorded (`arch`, and its run `d`), or that switches
/// its length from epochs to steps or back.
fn check_resume_flags(
    args: &TrainArgs,
    given: &[String],
    arch: &Arch,
    d: &Value,
    path: &Path,
) -> Result<()> {
    let allowed = "with --resume only --epochs or --iters (to train longer), --threads and the \
                   outputs (--save, --plot, --report, --json, --checkpoint-dir) may be given";
    let counted = |unit: &str| d["schedule"][unit].is_u64();
    for id in given {
        let flag = format!("--{}", id.replace('_', "-"));
        match id.as_str() {
            "epochs" | "iters" if counted(id) => continue,
            "epochs" | "iters" => {
                let other = if id == "epochs" { "iters" } else { "epochs" };
                return Err(Error::Invalid(format!(
                    "{flag} contradicts the checkpoint {}, whose run is counted in {other}; \
                     give --{other} to train longer",
                    path.display()
                )));
            }
            id if RESUME_MAY_CHANGE.contains(&id) => continue,
            _ => {}
        }
        let (Some(wanted), Some(recorded)) = (
            given_setting(id, args),
            recorded_setting(id, arch, d, path)?,
        ) else {
            return Err(Error::Invalid(format!(
                "{flag} cannot be given with --resume: {allowed}"
            )));
        };
        if wanted != recorded {
            return Err(Error::Invalid(format!(
                "{flag} {wanted} contradicts the checkpoint {}, whose run has {flag} \
                 {recorded}; {allowed}",
                path.display()
            )));
        }
    }
    Ok(())
}

/// The setting that the flag `id` gives, spelled as [`recorded_setting`] spells it.
fn given_setting(id: &str, args: &TrainArgs) -> Option<String> {
    let name = |v: &dyn Fn() -> Option<clap::builder::PossibleValue>| {
        v().map(|p| p.get_name().to_string())
    };
    let number = |v: Option<f64>| v.map(|v| v.to_string());
    Some(match id {
        "model" => name(&|| args.model.to_possible_value())?,
        "hidden" => sizes(&args.hidden.as_ref()?.0),
        "activation" => name(&|| args.activation.to_possible_value())?,
        "init" => args.init?.to_string(),
        "init_std" => Init::Std(args.init_std?).to_string(),
        "batch_norm" => args.batch_norm.to_string(),
        "dropout" => number(args.dropout)?,
        "weight_decay" => args.weight_decay.to_string(),
        "optimizer" => args.opt.optimizer.key().to_string(),
        "lr" => number(args.opt.lr)?,
        "momentum" => number(args.opt.momentum)?,
        "beta1" => number(args.opt.beta1)?,
        "beta2" => number(args.opt.beta2)?,
        "decay_rate" => number(args.opt.decay_rate)?,
        "batch_size" => args.batch_size.to_string(),
        "eval_every" => args.eval_every?.to_string(),
        "eval_samples" => args.eval_samples?.to_string(),
        "sampling" => name(&|| args.sampling.to_possible_value())?,
        "precision" => name(&|| args.precision.to_possible_value())?,
        "dataset" => name(&|| args.data.dataset?.to_possible_value())?,
        "data" => same_path(args.data.data.as_ref()?),
        "seed" => args.data.seed.to_string(),
        _ => return None,
    })
}

/// The setting that the flag `id` stands for in a checkpoint's run (`arch`, and the run's
/// description `d`), spelled as the flag's value; `None` for flags that set nothing there.
fn recorded_setting(id: &str, arch: &Arch, d: &Value, path: &Path) -> Result<Option<String>> {
    let text = |v: &Value| match v {
        Value::Null => "none".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (hidden, activation, init, batch_norm, dropout, weight_decay) = match arch {
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
        Arch::DeepConv { hidden } => (vec![*hidden], Activation::Relu, Init::He, false, None, 0.0),
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
    let o = &d["optimizer"];
    let kind: OptimizerKind = o["name"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| Error::format(path, "the checkpoint's run has a bad optimizer"))?;
    let hyper = Hyper {
        lr: o["lr"].as_f64(),
        momentum: o["momentum"].as_f64(),
        beta1: o["beta1"].as_f64(),
        beta2: o["beta2"].as_f64(),
        decay_rate: o["decay_rate"].as_f64(),
    }
    .resolved(kind);
    let number = |v: Option<f64>| v.map_or("none".to_string(), |v| v.to_string());
    let s = &d["schedule"];
    Ok(Some(match id {
        "model" => arch.name().to_string(),
        "hidden" => sizes(&hidden),
        "activation" => activation.key().to_string(),
        "init" | "init_std" => init.to_string(),
        "batch_norm" => batch_norm.to_string(),
        "dropout" => number(dropout),
        "weight_decay" => weight_decay.to_string(),
        "optimizer" => kind.key().to_string(),
        "lr" => number(hyper.lr),
        "momentum" => number(hyper.momentum),
        "beta1" => number(hyper.beta1),
        "beta2" => number(hyper.beta2),
        "decay_rate" => number(hyper.decay_rate),
        "batch_size" | "eval_every" | "eval_samples" | "sampling" => text(&s[id]),
        "precision" => text(&d["precision"]).to_lowercase(),
        "dataset" => text(&d["data"]["dataset"]),
        "data" => match d["data"]["dir"].as_str() {
            Some(dir) => same_path(Path::new(dir)),
            None => "none".to_string(),
        },
        "seed" => text(&d["data"]["seed"]),
        _ => return Ok(None),
    }))
}

/// Layer sizes as `--hidden` takes them: `100,100`.
fn sizes(hidden: &[usize]) -> String {
    hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A directory spelled so that two spellings of one directory compare equal (when it exists).
fn same_path(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Set by SIGINT/SIGTERM: training stops after the current step.
static STOP: AtomicBool = AtomicBool::new(false);

/// Trains `run`, reporting as the flags ask, and writes the requested files.
fn execute<F: Float>(run: Run<F>, args: &TrainArgs) -> Result<()> {
    let Run {
        data,
        arch,
        mut net,
        mut opt,
        cfg,
        description,
        progress,
    } = run;
    let params = net.param_count();
    let model = arch.name();
    let dataset = data.train.name.clone();
    let json = args.json;
    let resumed_at = progress.as_ref().map(|p| p.iter);
    if !json {
        println!(
            "training {model} ({params} parameters) on {dataset}: {} train / {} test samples, \
             batch {}, {} {}",
            data.train.len(),
            data.test.len(),
            cfg.batch_size,
            opt.name(),
            description["optimizer"]["lr"]
                .as_f64()
                .map_or(String::new(), |lr| format!("lr {lr}")),
        );
        if let Some(step) = resumed_at {
            println!("resuming from step {step}");
        }
    }

    let info = ModelInfo {
        arch: arch.clone(),
        image_shape: data.train.image_shape,
        class_names: data.train.class_names.clone(),
        dataset: dataset.clone(),
        train_config: description.clone(),
    };
    // Resuming keeps writing checkpoints where it found them.
    let checkpoint_dir = args.checkpoint_dir.as_ref().or(args.resume.as_ref());
    let mut checkpoints = match checkpoint_dir {
        Some(dir) => Some(CheckpointDir::new(dir, info.clone(), description.clone())?),
        None => None,
    };
    // A second signal while stopping falls back to the default (immediate exit) behaviour
    // only after the handler is gone; one signal finishes the step cleanly.
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps {per_sec} eta {eta} loss {msg}")
            .expect("valid template"),
    );
    let mut on_event = |event: Event| match event {
        Event::Start { total_iters } => {
            bar.set_length(total_iters as u64);
            bar.set_position(resumed_at.unwrap_or(0) as u64);
        }
        Event::Step { iter, loss } => {
            bar.set_position(iter as u64);
            if iter % 10 == 0 {
                bar.set_message(format!("{loss:.4}"));
            }
        }
        Event::Eval(r) => bar.suspend(|| {
            if json {
                println!(
                    "{}",
                    json!({"epoch": r.epoch, "iter": r.iter, "loss": r.loss,
                           "train_acc": r.train_acc, "test_acc": r.test_acc, "seconds": r.seconds})
                );
            } else {
                println!(
                    "epoch {:>3}  iter {:>6}  loss {:.4}  train acc {:.4}  test acc {:.4}  {:.2}s",
                    r.epoch, r.iter, r.loss, r.train_acc, r.test_acc, r.seconds
                );
            }
        }),
    };
    let control = Control {
        resume: progress,
        checkpoint: checkpoints.as_mut().map(|c| c as &mut dyn Checkpoint<F>),
        stop: Some(&STOP),
    };
    let summary = train_with(&mut net, &mut *opt, &data, &cfg, control, &mut on_event);
    bar.finish_and_clear();
    let summary = summary?;

    if let Some(path) = &args.plot.plot {
        plot::save(&learning_curves(&summary, model, &dataset), path)?;
        if !json {
            println!("plot written to {}", path.display());
        }
    }
    if let Some(path) = &args.save {
        crate::io::safetensors::save(path, &mut net, &info)?;
        if !json {
            println!("model saved to {}", path.display());
        }
    }
    if let Some(path) = &args.report {
        let report = build_report(&mut net, &arch, &data, &summary, &info)?;
        crate::io::write_atomic(path, html::render(&report).as_bytes())?;
        if !json {
            println!("report written to {}", path.display());
        }
    }
    if json {
        println!(
            "{}",
            json!({"final": true, "model": model, "dataset": dataset, "params": params,
                   "iters": summary.iters, "train_acc": summary.train_acc,
                   "test_acc": summary.test_acc, "seconds": summary.seconds,
                   "samples_per_sec": summary.samples_per_sec,
                   "interrupted": summary.interrupted})
        );
    } else {
        println!(
            "{}: {} steps in {:.2} s ({:.0} samples/s); train acc {:.4}, test acc {:.4}",
            if summary.interrupted {
                "interrupted"
            } else {
                "done"
            },
            summary.iters,
            summary.seconds,
            summary.samples_per_sec,
            summary.train_acc,
            summary.test_acc
        );
    }
    if summary.interrupted {
        let hint = match checkpoint_dir {
            Some(dir) => format!("continue with: backprop train --resume {}", dir.display()),
            None => "no --checkpoint-dir was set, so nothing was saved".to_string(),
        };
        return Err(Error::Interrupted(format!(
            "stopped after step {} by a signal; {hint}",
            summary.iters
        )));
    }
    Ok(())
}

/// The run's learning curves: the smoothed loss per step and the accuracies per evaluation.
fn learning_curves(summary: &Summary, model: &str, dataset: &str) -> plot::Figure {
    let loss = plot::Series::from_values("loss (raw)", &summary.losses);
    let smooth = plot::Series::from_values("loss (smoothed)", &plot::smooth_curve(&summary.losses));
    let epochs = |f: fn(&crate::train::EpochRecord) -> f64| -> Vec<(f64, f64)> {
        summary
            .history
            .iter()
            .map(|r| (r.epoch as f64, f(r)))
            .collect()
    };
    plot::Figure {
        panels: vec![
            plot::Panel {
                title: format!("{model} on {dataset}: training loss"),
                x_label: "iterations".into(),
                y_label: "loss".into(),
                y_range: None,
                legend_lower_right: false,
                series: vec![loss, smooth],
            },
            plot::Panel {
                title: "accuracy".into(),
                x_label: "epochs".into(),
                y_label: "accuracy".into(),
                y_range: Some((0.0, 1.0)),
                legend_lower_right: true,
                series: vec![
                    plot::Series {
                        label: "train".into(),
                        points: epochs(|r| r.train_acc),
                        dashed: false,
                    },
                    plot::Series {
                        label: "test".into(),
                        points: epochs(|r| r.test_acc),
                        dashed: true,
                    },
                ],
            },
        ],
        columns: 2,
        panel_size: (640, 480),
    }
}

/// The HTML report's content: configuration, curves, confusion matrix, misclassified test
/// images and the first layer's weights.
fn build_report<F: Float>(
    net: &mut Network<F>,
    arch: &Arch,
    data: &Split,
    summary: &Summary,
    info: &ModelInfo,
) -> Result<html::Report> {
    let test = &data.test;
    let evaluation = crate::eval::evaluate(net, test, arch.layout(), 100, 24);
    let [_, h, w] = test.image_shape;
    let misclassified = evaluation
        .misclassified
        .iter()
        .map(|&(i, label, pred)| html::Tile {
            values: test.image(i).iter().map(|&p| p as f32).collect(),
            width: w,
            height: h,
            caption: format!(
                "#{i}: {} → {}",
                test.class_names[label], test.class_names[pred]
            ),
        })
        .collect();
    // The first layer's weights: conv filters (channel 0), or Affine columns as images.
    let mut first_layer = Vec::new();
    if let Some(p) = net.params().first() {
        let shape = p.value.shape().to_vec();
        let values: Vec<f32> = p.value.iter().map(|v| v.to_f64_lossy() as f32).collect();
        match shape.as_slice() {
            [fnum, c, fh, fw] => {
                let (fnum, c, fh, fw) = (*fnum, *c, *fh, *fw);
                for f in 0..fnum.min(64) {
                    let start = f * c * fh * fw;
                    first_layer.push(html::Tile {
                        values: values[start..start + fh * fw].to_vec(),
                        width: fw,
                        height: fh,
                        caption: format!("filter {}", f + 1),
                    });
                }
            }
            [inputs, units] if *inputs == h * w * test.image_shape[0] => {
                let units = *units;
                for u in 0..units.min(64) {
                    first_layer.push(html::Tile {
                        values: (0..h * w).map(|i| values[i * units + u]).collect(),
                        width: w,
                        height: h,
                        caption: format!("unit {}", u + 1),
                    });
                }
            }
            _ => {}
        }
    }
    let curves = learning_curves(summary, arch.name(), &info.dataset);
    let mut charts = Vec::new();
    for panel in curves.panels {
        let title = panel.title.clone();
        let figure = plot::Figure::single(panel);
        charts.push((title, plot::to_svg(&figure)?));
    }
    let mut config = vec![
        ("model".to_string(), arch.to_json().to_string()),
        (
            "dataset".to_string(),
            format!(
                "{} ({} train / {} test)",
                info.dataset,
                data.train.len(),
                test.len()
            ),
        ),
        ("run".to_string(), info.train_config.to_string()),
        ("steps".to_string(), summary.iters.to_string()),
        (
            "final train accuracy".to_string(),
            format!("{:.4}", summary.train_acc),
        ),
        (
            "final test accuracy".to_string(),
            format!("{:.4}", summary.test_acc),
        ),
    ];
    if summary.interrupted {
        config.push(("note".to_string(), "interrupted before the end".to_string()));
    }
    Ok(html::Report {
        title: format!("backprop: {} on {}", arch.name(), info.dataset),
        config,
        charts,
        history: summary.history.clone(),
        class_names: test.class_names.clone(),
        confusion: evaluation.confusion,
        misclassified,
        first_layer,
    })
}
