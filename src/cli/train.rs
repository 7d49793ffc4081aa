//! `backprop train`: mini-batch training with per-epoch accuracy, a progress bar on a
//! terminal, and JSON Lines with `--json`.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::args::{DataArgs, positive_f64, positive_usize};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nets::{Arch, Network};
use crate::optim::Sgd;
use crate::rng::Rng;
use crate::train::{Event, Length, Sampling, TrainConfig, train};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Model {
    /// The book's TwoLayerNet: Affine → ReLU → Affine (§5.7).
    TwoLayer,
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
    /// Hidden layer size.
    #[arg(long, default_value = "50", value_parser = positive_usize)]
    hidden: usize,
    /// Learning rate.
    #[arg(long, default_value = "0.1", value_parser = positive_f64)]
    lr: f64,
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
    /// How batches are drawn.
    #[arg(long, value_enum, default_value_t = SamplingArg::Shuffle)]
    sampling: SamplingArg,
    /// Standard deviation of the initial Gaussian weights (the book's weight_init_std).
    #[arg(long, default_value = "0.01", value_parser = positive_f64)]
    init_std: f64,
    /// Floating-point precision of the computation.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// Write JSON Lines on stdout: one object per evaluation, then a summary.
    #[arg(long)]
    json: bool,
    /// Save the trained model to this .safetensors file (written atomically).
    #[arg(long)]
    save: Option<std::path::PathBuf>,
}

pub fn run(args: TrainArgs) -> Result<()> {
    match args.precision {
        Precision::F32 => run_as::<f32>(args),
        Precision::F64 => run_as::<f64>(args),
    }
}

fn arch(args: &TrainArgs) -> Arch {
    match args.model {
        Model::TwoLayer => Arch::TwoLayer {
            hidden: args.hidden,
            weight_init_std: args.init_std,
        },
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
    let arch = arch(&args);
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
    };
    let model = args
        .model
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let dataset = args.data.name();
    if !args.json {
        println!(
            "training {model} ({params} parameters) on {dataset}: {} train / {} test samples, \
             batch {}, SGD lr {}",
            data.train.len(),
            data.test.len(),
            args.batch_size,
            args.lr
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
    let summary = train(&mut net, &mut Sgd::new(args.lr), &data, &cfg, &mut on_event);
    bar.finish_and_clear();
    let summary = summary?;
    if let Some(path) = &args.save {
        save_model(path, &mut net, &arch, &data, &args, summary.iters)?;
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

/// Writes the trained network and what rebuilds it (architecture, image shape, classes,
/// dataset, training settings) to `path`.
fn save_model<F: Float>(
    path: &std::path::Path,
    net: &mut Network<F>,
    arch: &Arch,
    data: &crate::data::Split,
    args: &TrainArgs,
    iters: usize,
) -> Result<()> {
    let info = crate::io::safetensors::ModelInfo {
        arch: arch.clone(),
        image_shape: data.train.image_shape,
        class_names: data.train.class_names.clone(),
        dataset: args.data.name(),
        train_config: json!({
            "seed": args.data.seed, "optimizer": "sgd", "lr": args.lr,
            "batch_size": args.batch_size, "iters": iters, "epochs": args.epochs,
            "sampling": format!("{:?}", args.sampling).to_lowercase(),
            "init_std": args.init_std, "precision": F::DTYPE,
        }),
    };
    crate::io::safetensors::save(path, net, &info)?;
    eprintln!("saved the model to {}", path.display());
    Ok(())
}
