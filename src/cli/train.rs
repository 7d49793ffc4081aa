//! `backprop train`: mini-batch training with per-epoch accuracy, a progress bar on a
//! terminal, and JSON Lines with `--json`.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::args::{
    DataArgs, OptimizerArgs, PlotArgs, Sizes, hidden_sizes, positive_f64, positive_usize, ratio,
};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::init::Init;
use crate::nets::{Activation, Arch, Network};
use crate::optim::OptimizerKind;
use crate::report::plot;
use crate::rng::Rng;
use crate::train::{Event, Length, Sampling, Summary, TrainConfig, train};

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
    save: Option<std::path::PathBuf>,
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

pub fn run(args: TrainArgs) -> Result<()> {
    match args.precision {
        Precision::F32 => run_as::<f32>(args),
        Precision::F64 => run_as::<f64>(args),
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

fn run_as<F: Float>(args: TrainArgs) -> Result<()> {
    let data = args.data.load()?;
    if data.train.is_empty() || data.test.is_empty() {
        return Err(Error::Invalid(
            "the dataset has no training or no test samples".into(),
        ));
    }
    let arch = arch(&args)?;
    let kind = args.opt.optimizer;
    let mut hyper = args.opt.hyper();
    hyper.lr = Some(hyper.lr.unwrap_or(default_lr(kind)));
    let mut opt = crate::optim::build::<F>(kind, &hyper);
    let mut net: Network<F> = arch.build(
        data.train.image_shape,
        data.train.num_classes(),
        &mut Rng::stream(args.data.seed, "init"),
    )?;
    let params = net.param_count();
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
        eval_batch: 1000,
        eval_samples: args.eval_samples,
    };
    let model = args
        .model
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let dataset = data.train.name.clone();
    if !args.json {
        println!(
            "training {model} ({params} parameters) on {dataset}: {} train / {} test samples, \
             batch {}, {} lr {}",
            data.train.len(),
            data.test.len(),
            args.batch_size,
            opt.name(),
            hyper.lr.unwrap_or_default()
        );
    }

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps {per_sec} eta {eta} loss {msg}")
            .expect("valid template"),
    );
    let json = args.json;
    let mut on_event = |event: Event| match event {
        Event::Start { total_iters } => bar.set_length(total_iters as u64),
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
    let summary = train(&mut net, &mut *opt, &data, &cfg, &mut on_event);
    bar.finish_and_clear();
    let summary = summary?;
    if let Some(path) = &args.plot.plot {
        plot::save(&learning_curves(&summary, &model, &dataset), path)?;
        if !json {
            println!("plot written to {}", path.display());
        }
    }
    if let Some(path) = &args.save {
        let train_config = json!({
            "seed": args.data.seed, "optimizer": format!("{kind:?}").to_lowercase(), "hyper": format!("{hyper:?}"),
            "batch_size": args.batch_size, "iters": summary.iters,
            "sampling": format!("{:?}", args.sampling).to_lowercase(), "precision": F::DTYPE,
        });
        save_model(path, &mut net, &arch, &data, train_config)?;
    }
    if json {
        println!(
            "{}",
            json!({"final": true, "model": model, "dataset": dataset, "params": params,
                   "iters": summary.iters, "train_acc": summary.train_acc,
                   "test_acc": summary.test_acc, "seconds": summary.seconds,
                   "samples_per_sec": summary.samples_per_sec})
        );
    } else {
        println!(
            "done: {} steps in {:.2} s ({:.0} samples/s); train acc {:.4}, test acc {:.4}",
            summary.iters,
            summary.seconds,
            summary.samples_per_sec,
            summary.train_acc,
            summary.test_acc
        );
    }
    Ok(())
}

/// The run's learning curves: the smoothed loss per step and the accuracies per evaluation.
fn learning_curves(summary: &Summary, model: &str, dataset: &str) -> plot::Figure {
    let loss = plot::Series::from_values("loss (smoothed)", &plot::smooth_curve(&summary.losses));
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
                series: vec![loss],
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

/// Writes the trained network and what rebuilds it (architecture, image shape, classes,
/// dataset, training settings) to `path`.
fn save_model<F: Float>(
    path: &std::path::Path,
    net: &mut Network<F>,
    arch: &Arch,
    data: &crate::data::Split,
    train_config: serde_json::Value,
) -> Result<()> {
    let info = crate::io::safetensors::ModelInfo {
        arch: arch.clone(),
        image_shape: data.train.image_shape,
        class_names: data.train.class_names.clone(),
        dataset: data.train.name.clone(),
        train_config,
    };
    crate::io::safetensors::save(path, net, &info)?;
    eprintln!("saved the model to {}", path.display());
    Ok(())
}
