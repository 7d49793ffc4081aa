//! `backprop experiment <name>`: the chapter-6 experiments, printing the book's lines,
//! optionally drawing the book's figure (`--plot`) or printing the numbers as JSON (`--json`).

use clap::{Args, ValueEnum};

use super::args::{DataArgs, PlotArgs, positive_usize};
use crate::error::{Error, Result};
use crate::experiments::activations::{ActivationsConfig, Squash};
use crate::experiments::optimizer_paths;
use crate::experiments::{
    self, BatchNormConfig, CurvesConfig, HyperparamsConfig, OverfitConfig, Regulariser,
};
use crate::init::Init;
use crate::report::{canvas, histograms, paths, plot};

fn parse_squash(s: &str) -> std::result::Result<Squash, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_init(s: &str) -> std::result::Result<Init, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Name {
    /// Fig. 6-9: SGD, Momentum, AdaGrad, Adam on a 4×100 ReLU net (2000 iterations).
    Optimizers,
    /// Fig. 6-15: initial weights std 0.01, Xavier, He (2000 iterations).
    Init,
    /// Fig. 6-18: with and without batch norm over 16 weight scales (1000 samples, 20 epochs).
    BatchNorm,
    /// Fig. 6-21: overfitting 300 samples, without and with weight decay λ = 0.1 (201 epochs).
    WeightDecay,
    /// Fig. 6-23: overfitting 300 samples, without and with dropout 0.2 (301 epochs).
    Dropout,
    /// Fig. 6-24: random search of lr and weight decay (500 samples, 100 trials, 50 epochs).
    Hyperparams,
    /// Fig. 6-8: SGD, Momentum, AdaGrad, Adam minimising x²/20 + y² from (−7, 2), 30 steps.
    OptimizerPaths,
    /// Figs. 6-10 to 6-14: activation histograms of 5 layers of 100 units (--activation, --init).
    Activations,
}

/// The data is [`DataArgs`]' default, as for `train`: the embedded digits, which every
/// machine has (the book ran these on MNIST: `--dataset mnist`).
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// Which experiment.
    #[arg(value_enum)]
    name: Name,
    #[command(flatten)]
    data: DataArgs,
    /// Training steps (optimizers, init) [default: 2000].
    #[arg(long, value_parser = positive_usize)]
    iters: Option<usize>,
    /// Epochs (batch-norm, weight-decay, dropout, hyperparams) [default: the book's].
    #[arg(long, value_parser = positive_usize)]
    epochs: Option<usize>,
    /// Training samples to use, the first of the set [default: the book's; all for
    /// optimizers and init].
    #[arg(long, value_parser = positive_usize)]
    samples: Option<usize>,
    /// Random trials (hyperparams) [default: 100].
    #[arg(long, value_parser = positive_usize)]
    trials: Option<usize>,
    /// The activation of `activations`: sigmoid, relu or tanh [default: sigmoid].
    #[arg(long, value_parser = parse_squash)]
    activation: Option<Squash>,
    /// The weight scale of `activations`: std:1, std:0.01, xavier or he [default: std:1].
    #[arg(long, value_parser = parse_init)]
    init: Option<Init>,
    /// Print the numbers as one JSON object instead of the book's lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    plot: PlotArgs,
}

pub fn run(args: ExperimentArgs) -> Result<()> {
    let given = |flag: &str, set: bool, allowed: &[Name]| {
        if set && !allowed.contains(&args.name) {
            Err(Error::Invalid(format!(
                "{flag} does not apply to this experiment"
            )))
        } else {
            Ok(())
        }
    };
    use Name::*;
    given("--iters", args.iters.is_some(), &[Optimizers, Init])?;
    given(
        "--epochs",
        args.epochs.is_some(),
        &[BatchNorm, WeightDecay, Dropout, Hyperparams],
    )?;
    given("--trials", args.trials.is_some(), &[Hyperparams])?;
    given("--activation", args.activation.is_some(), &[Activations])?;
    given("--init", args.init.is_some(), &[Activations])?;
    if matches!(args.name, OptimizerPaths | Activations) {
        // Neither reads data: they run on a formula and on random numbers.
        given("--samples", args.samples.is_some(), &[])?;
        given("--dataset", args.data.dataset.is_some(), &[])?;
        given("--data", args.data.data.is_some(), &[])?;
        return run_without_data(&args);
    }

    let data_files = args.data.files();
    crate::io::Paths::new()
        .inputs("--data", data_files.iter().map(std::path::PathBuf::as_path))
        .output("--plot", args.plot.plot.as_deref())
        .check()?;
    let data = args.data.load()?;
    let seed = args.data.seed;
    let json = args.json;
    let mut out = |line: &str| {
        if !json {
            println!("{line}");
        }
    };
    let outcome = match args.name {
        Optimizers | Init => {
            let cfg = CurvesConfig {
                iters: args.iters.unwrap_or(2000),
                samples: args.samples,
                seed,
                ..CurvesConfig::default()
            };
            if args.name == Optimizers {
                experiments::optimizer_compare(&data.train, &cfg, &mut out)?
            } else {
                experiments::init_compare(&data.train, &cfg, &mut out)?
            }
        }
        BatchNorm => {
            let d = BatchNormConfig::default();
            let cfg = BatchNormConfig {
                samples: args.samples.unwrap_or(d.samples),
                epochs: args.epochs.unwrap_or(d.epochs),
                seed,
                ..d
            };
            experiments::batch_norm(&data.train, &cfg, &mut out)?
        }
        WeightDecay | Dropout => {
            let reg = if args.name == WeightDecay {
                Regulariser::WeightDecay(0.1)
            } else {
                Regulariser::Dropout(0.2)
            };
            let d = OverfitConfig::book(reg);
            let cfg = OverfitConfig {
                samples: args.samples.unwrap_or(d.samples),
                epochs: args.epochs.unwrap_or(d.epochs),
                seed,
                ..d
            };
            experiments::overfit(&data.train, &data.test, reg, &cfg, &mut out)?
        }
        Hyperparams => {
            let d = HyperparamsConfig::default();
            let cfg = HyperparamsConfig {
                samples: args.samples.unwrap_or(d.samples),
                trials: args.trials.unwrap_or(d.trials),
                epochs: args.epochs.unwrap_or(d.epochs),
                seed,
                ..d
            };
            experiments::hyperparams(&args.data.spec()?, &cfg, &mut out)?
        }
        OptimizerPaths | Activations => unreachable!("run without data above"),
    };
    if json {
        let mut value = outcome.json;
        value["dataset"] = data.train.name.clone().into();
        value["seed"] = seed.into();
        println!("{value}");
    }
    if let Some(path) = &args.plot.plot {
        plot::save(&outcome.figure, path)?;
        if !json {
            println!("plot written to {}", path.display());
        }
    }
    Ok(())
}

/// `optimizer-paths` and `activations`, which need no dataset.
fn run_without_data(args: &ExperimentArgs) -> Result<()> {
    crate::io::Paths::new()
        .output("--plot", args.plot.plot.as_deref())
        .check()?;
    if args.name == Name::OptimizerPaths {
        let paths = optimizer_paths::optimizer_paths();
        if args.json {
            println!("{}", optimizer_paths::to_json(&paths));
        } else {
            for p in &paths {
                let (x, y) = p.points[p.points.len() - 1];
                println!(
                    "{}(lr={}): ({}, {}) after {} steps, f = {}",
                    p.name,
                    p.lr,
                    crate::pyfmt::py_repr(x),
                    crate::pyfmt::py_repr(y),
                    p.points.len() - 1,
                    crate::pyfmt::py_repr(optimizer_paths::f(x, y))
                );
            }
        }
        if let Some(path) = &args.plot.plot {
            canvas::save(&paths::PathsFigure { paths: &paths }, path)?;
            if !args.json {
                println!("plot written to {}", path.display());
            }
        }
        return Ok(());
    }
    let cfg = ActivationsConfig {
        activation: args.activation.unwrap_or(Squash::Sigmoid),
        init: args.init.unwrap_or(Init::Std(1.0)),
        seed: args.data.seed,
        ..ActivationsConfig::default()
    };
    let layers = crate::experiments::activations::activations(&cfg)?;
    if args.json {
        println!(
            "{}",
            crate::experiments::activations::to_json(&cfg, &layers)
        );
    } else {
        let (lo, hi) = cfg.activation.range();
        println!(
            "{} activations, weights {}, {} samples × {} units, {} bins over [{lo}, {hi}]",
            cfg.activation.key(),
            cfg.init,
            cfg.samples,
            cfg.nodes,
            cfg.bins
        );
        for (i, l) in layers.iter().enumerate() {
            println!(
                "{}-layer: mean {:.4}, std {:.4}, first bin {:.1} %, last bin {:.1} %, in range {:.1} %",
                i + 1,
                l.mean,
                l.std,
                100.0 * l.share(0),
                100.0 * l.share(cfg.bins - 1),
                100.0 * l.in_range as f64 / l.total as f64
            );
        }
    }
    if let Some(path) = &args.plot.plot {
        canvas::save(
            &histograms::HistogramsFigure {
                config: &cfg,
                layers: &layers,
            },
            path,
        )?;
        if !args.json {
            println!("plot written to {}", path.display());
        }
    }
    Ok(())
}
