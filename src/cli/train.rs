//! `backprop train`: mini-batch training with per-epoch accuracy, a progress bar on a
//! terminal, and JSON Lines with `--json`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::{
    DataArgs, OptimizerArgs, PlotArgs, Sizes, hidden_sizes, named, parsed, positive_f64,
    positive_usize, ratio,
};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::init::Init;
use crate::io::checkpoint;
use crate::nets::{Activation, Arch, ArchSettings, Defaults};
use crate::report::plot;
use crate::run::{
    Contradiction, Hooks, OptimizerSpec, Precision, Run, RunSpec, Schedule, same_path, sizes,
};
use crate::train::{Event, Length, Sampling};

/// `--model`: the architectures by name ([`Arch::NAMES`], built by [`Arch::book`]).
pub(super) const MODELS: &[(&str, &str, &str)] = &[
    (
        "two-layer",
        "The book's TwoLayerNet: Affine → ReLU → Affine (§5.7)",
        "two-layer",
    ),
    (
        "simple-conv",
        "The book's SimpleConvNet: conv 30×5×5 → ReLU → pool → Affine → ReLU → Affine (§7.5)",
        "simple-conv",
    ),
    (
        "deep-conv",
        "The book's DeepConvNet: six 3×3 convs, three pools, Affine, dropout (§8.1.1)",
        "deep-conv",
    ),
    (
        "multi-layer",
        "The book's MultiLayerNet(Extend): any hidden sizes, optional batch norm, dropout and \
         weight decay (§6)",
        "multi-layer",
    ),
];

/// `--activation`.
pub(super) const ACTIVATIONS: &[(&str, &str, Activation)] = &[
    ("relu", "ReLU", Activation::Relu),
    ("sigmoid", "Sigmoid", Activation::Sigmoid),
];

/// `--sampling`.
const SAMPLINGS: &[(&str, &str, Sampling)] = &[
    (
        "shuffle",
        "A shuffled pass over the training set per epoch",
        Sampling::Shuffle,
    ),
    (
        "replacement",
        "Independent batches with replacement, like the book's np.random.choice",
        Sampling::Replacement,
    ),
];

/// `--precision`.
const PRECISIONS: &[(&str, &str, Precision)] = &[
    ("f32", "32-bit floats (fast)", Precision::F32),
    (
        "f64",
        "64-bit floats, as the book's NumPy code computes",
        Precision::F64,
    ),
];

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Network architecture.
    #[arg(long, default_value = "two-layer", value_parser = named(MODELS))]
    model: &'static str,
    /// Hidden layer sizes, comma-separated (`100,100,100,100`); two-layer takes one
    /// [default: 50 for two-layer, 100,100,100,100 for multi-layer].
    #[arg(long, value_parser = hidden_sizes)]
    hidden: Option<Sizes>,
    /// Hidden activation of multi-layer [default: relu].
    #[arg(long, value_parser = named(ACTIVATIONS))]
    activation: Option<Activation>,
    /// Initial weights: std:<σ>, xavier (√(1/n)) or he (√(2/n))
    /// [default: std:0.01 for two-layer, he for multi-layer].
    #[arg(long, value_parser = parsed::<Init>, conflicts_with = "init_std")]
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
    #[arg(long, default_value = "shuffle", value_parser = named(SAMPLINGS))]
    sampling: Sampling,
    /// Standard deviation of the initial Gaussian weights (the book's weight_init_std); the
    /// same as --init std:<σ>.
    #[arg(long, value_parser = positive_f64)]
    init_std: Option<f64>,
    /// Floating-point precision of the computation.
    #[arg(long, default_value = "f32", value_parser = named(PRECISIONS))]
    precision: Precision,
    /// Write JSON Lines on stdout: one object per evaluation, then a summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    plot: PlotArgs,
    /// Save the trained model to this .safetensors file (written atomically).
    #[arg(long)]
    save: Option<PathBuf>,
    /// Store the saved model's tensors as f16, bf16, f32 or f64 [default: --precision]; any
    /// of them loads into either precision.
    #[arg(long, value_parser = parsed::<crate::io::safetensors::TensorDtype>, requires = "save")]
    save_precision: Option<crate::io::safetensors::TensorDtype>,
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
        let precision = crate::io::model_file::precision(&path)?;
        return crate::with_precision!(precision, F => execute(resumed::<F>(&path, &args, given)?, &args));
    }
    let spec = spec(&args)?;
    crate::with_precision!(spec.precision, F => execute(Run::<F>::new(&spec)?, &args))
}

/// The run the flags describe (defaults left to [`Run::new`]).
fn spec(args: &TrainArgs) -> Result<RunSpec> {
    Ok(RunSpec {
        data: args.data.spec()?,
        arch: arch(args)?,
        optimizer: OptimizerSpec {
            kind: args.opt.optimizer,
            hyper: args.opt.hyper(),
        },
        schedule: Schedule {
            length: match (args.iters, args.epochs) {
                (Some(n), _) => Some(Length::Iters(n)),
                (None, e) => e.map(Length::Epochs),
            },
            batch_size: args.batch_size,
            eval_every: args.eval_every,
            eval_samples: args.eval_samples,
            sampling: args.sampling,
        },
        precision: args.precision,
    })
}

/// The architecture the flags describe (flags that the model does not have are refused by
/// [`ArchSettings::arch`]).
fn arch(args: &TrainArgs) -> Result<Arch> {
    ArchSettings {
        hidden: args.hidden.clone().map(|h| h.0),
        activation: args.activation,
        init: args.init.or(args.init_std.map(Init::Std)),
        batch_norm: args.batch_norm,
        dropout: args.dropout,
        weight_decay: args.weight_decay,
        ..ArchSettings::new(args.model, Defaults::Training)
    }
    .arch()
}

/// A run read back from a checkpoint, continuing for as long as `args` say (more
/// `--epochs` or `--iters`). The other flags in `given` must repeat the checkpoint's settings.
fn resumed<F: Float>(path: &Path, args: &TrainArgs, given: &[String]) -> Result<Run<F>> {
    let mut run = Run::<F>::resume(path)?;
    check_resume_flags(args, given, &run.spec, path)?;
    run.extend_to(
        args.iters
            .map(Length::Iters)
            .or(args.epochs.map(Length::Epochs)),
    )?;
    Ok(run)
}

/// Refuses (a usage error naming the flag) every flag in `given` that contradicts the run
/// recorded in the checkpoint at `path` ([`RunSpec::contradiction`]).
fn check_resume_flags(
    args: &TrainArgs,
    given: &[String],
    spec: &RunSpec,
    path: &Path,
) -> Result<()> {
    let allowed = "with --resume only --epochs or --iters (to train longer), --threads and the \
                   outputs (--save, --plot, --report, --json, --checkpoint-dir) may be given";
    // `--resume` itself is the checkpoint; `--init-std` gives the setting `init`.
    let flags: Vec<&String> = given.iter().filter(|id| *id != "resume").collect();
    let settings: Vec<(&str, Option<String>)> = flags
        .iter()
        .map(|id| {
            let setting = if *id == "init_std" { "init" } else { id };
            (setting, given_setting(id, args))
        })
        .collect();
    let Some((i, contradiction)) = spec.contradiction(&settings) else {
        return Ok(());
    };
    let flag = format!("--{}", flags[i].replace('_', "-"));
    let checkpoint = path.display();
    Err(Error::Invalid(match contradiction {
        Contradiction::Unit { counted } => format!(
            "{flag} contradicts the checkpoint {checkpoint}, whose run is counted in \
             {counted}; give --{counted} to train longer"
        ),
        Contradiction::NotResumable => format!("{flag} cannot be given with --resume: {allowed}"),
        Contradiction::Differs { wanted, recorded } => format!(
            "{flag} {wanted} contradicts the checkpoint {checkpoint}, whose run has {flag} \
             {recorded}; {allowed}"
        ),
    }))
}

/// The setting that the flag `id` gives, spelled as [`RunSpec::setting`] spells it.
fn given_setting(id: &str, args: &TrainArgs) -> Option<String> {
    let name = |v: &dyn Fn() -> Option<clap::builder::PossibleValue>| {
        v().map(|p| p.get_name().to_string())
    };
    let number = |v: Option<f64>| v.map(|v| v.to_string());
    Some(match id {
        "model" => args.model.to_string(),
        "hidden" => sizes(&args.hidden.as_ref()?.0),
        "activation" => args.activation?.key().to_string(),
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
        "sampling" => args.sampling.key().to_string(),
        "precision" => args.precision.key().to_string(),
        "dataset" => name(&|| args.data.dataset?.to_possible_value())?,
        "data" => same_path(args.data.data.as_ref()?),
        "seed" => args.data.seed.to_string(),
        _ => return None,
    })
}

/// Set by SIGINT/SIGTERM: training stops after the current step.
static STOP: AtomicBool = AtomicBool::new(false);

/// Trains `run`, reporting as the flags ask, and writes the requested files.
fn execute<F: Float>(mut run: Run<F>, args: &TrainArgs) -> Result<()> {
    let params = run.net.param_count();
    let model = run.spec.arch.name();
    let dataset = run.data.train.name.clone();
    let json = args.json;
    let resumed_at = run.resumed_at();
    if !json {
        println!(
            "training {model} ({params} parameters) on {dataset}: {} train / {} test samples, \
             batch {}, {} {}",
            run.data.train.len(),
            run.data.test.len(),
            run.spec.schedule.batch_size,
            run.optimizer.name(),
            run.spec
                .optimizer
                .hyper
                .lr
                .map_or(String::new(), |lr| format!("lr {lr}")),
        );
        if let Some(step) = resumed_at {
            println!("resuming from step {step}");
        }
    }

    // Resuming keeps writing checkpoints where it found them.
    let checkpoint_dir = args.checkpoint_dir.as_ref().or(args.resume.as_ref());
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
                println!("{}", serde_json::to_string(r).expect("a record serialises"));
            } else {
                println!(
                    "epoch {:>3}  iter {:>6}  loss {:.4}  train acc {:.4}  test acc {:.4}  {:.2}s",
                    r.epoch, r.iter, r.loss, r.train_acc, r.test_acc, r.seconds
                );
            }
        }),
    };
    let summary = run.train(Hooks {
        on_event: Some(&mut on_event),
        stop: Some(&STOP),
        checkpoint_dir: checkpoint_dir.map(PathBuf::as_path),
        ..Hooks::default()
    });
    bar.finish_and_clear();
    let summary = summary?;

    if let Some(path) = &args.plot.plot {
        plot::save(&run.learning_curves(&summary), path)?;
        if !json {
            println!("plot written to {}", path.display());
        }
    }
    if let Some(path) = &args.save {
        match args.save_precision {
            Some(dtype) => run.save_as(path, dtype)?,
            None => run.save(path)?,
        }
        if !json {
            println!("model saved to {}", path.display());
        }
    }
    if let Some(path) = &args.report {
        crate::io::write_atomic(path, run.report(&summary)?.as_bytes())?;
        if !json {
            println!("report written to {}", path.display());
        }
    }
    let record = run.record(&summary);
    let failure = &record.failure;
    if json {
        println!(
            "{}",
            serde_json::to_string(&record).expect("a record serialises")
        );
    } else {
        // The rate is samples of this session's steps per second of those steps, so it is
        // said with the numbers it comes from (evaluations take the rest of the time).
        println!(
            "{}: {} steps in {:.2} s; {} steps × {} samples in {:.2} s of training steps = {:.0} samples/s; train acc {:.4}, test acc {:.4}",
            if summary.interrupted {
                "interrupted"
            } else {
                "done"
            },
            summary.iters,
            summary.seconds,
            summary.session_steps,
            run.spec.schedule.batch_size,
            summary.train_seconds,
            summary.samples_per_sec,
            summary.train_acc,
            summary.test_acc
        );
        if let Some(f) = failure {
            println!("warning: {}", super::printable(f));
            println!("  {}", super::FAILURE_ADVICE);
        }
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
