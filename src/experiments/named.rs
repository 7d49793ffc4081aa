//! The chapter-6 experiments by name, with the book's sizes for what the caller leaves open:
//! what `backprop experiment <name>` runs, for any caller.

use super::activations::{self, ActivationsConfig, LayerStats, Squash};
use super::optimizer_paths::{self, Path as OptimizerPath};
use super::{
    BatchNormConfig, CurvesConfig, HyperparamsConfig, OverfitConfig, Regulariser, batch_norm,
    hyperparams, init_compare, optimizer_compare, overfit,
};
use crate::error::Result;
use crate::init::Init;
use crate::report::{canvas, histograms, paths, plot};
use crate::run::DataSpec;

/// An experiment of chapter 6. With the `cli` feature it is also the command line's list of
/// experiment names (`backprop experiment NAME`), each variant's line its help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Experiment {
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

/// What an experiment may be told; `None` takes the book's value. Which settings an
/// experiment takes: [`Experiment::takes`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// Training steps (optimizers, init) (default 2000).
    pub iters: Option<usize>,
    /// Epochs (batch-norm, weight-decay, dropout, hyperparams).
    pub epochs: Option<usize>,
    /// Training samples, the first of the set.
    pub samples: Option<usize>,
    /// Random trials (hyperparams) (default 100).
    pub trials: Option<usize>,
    /// The activation of `activations` (default sigmoid).
    pub activation: Option<Squash>,
    /// The weight scale of `activations` (default std:1).
    pub init: Option<Init>,
}

impl Experiment {
    /// Whether the experiment trains on a dataset (`optimizer-paths` and `activations` run on
    /// a formula and on random numbers).
    pub fn reads_data(self) -> bool {
        !matches!(self, Experiment::OptimizerPaths | Experiment::Activations)
    }

    /// Whether the experiment takes the [`Settings`] field called `setting` (`iters`,
    /// `epochs`, `samples`, `trials`, `activation`, `init`).
    pub fn takes(self, setting: &str) -> bool {
        use Experiment::*;
        match setting {
            "iters" => matches!(self, Optimizers | Init),
            "epochs" => matches!(self, BatchNorm | WeightDecay | Dropout | Hyperparams),
            "samples" => self.reads_data(),
            "trials" => self == Hyperparams,
            "activation" | "init" => self == Activations,
            _ => false,
        }
    }
}

/// The picture an experiment draws, like the book's figure.
pub enum Picture {
    /// Curves (accuracies, losses).
    Plot(plot::Figure),
    /// The optimizers' paths over the contour lines of `f`.
    Paths(Vec<OptimizerPath>),
    /// Histograms of each layer's activations.
    Histograms(ActivationsConfig, Vec<LayerStats>),
}

impl Picture {
    /// Writes the picture to `path` (`.png` or `.svg`, atomically).
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        match self {
            Picture::Plot(figure) => plot::save(figure, path),
            Picture::Paths(p) => canvas::save(&paths::PathsFigure { paths: p }, path),
            Picture::Histograms(config, layers) => {
                canvas::save(&histograms::HistogramsFigure { config, layers }, path)
            }
        }
    }
}

/// What an experiment gives besides its lines: its numbers as JSON (with `dataset` and
/// `seed` for the experiments that read data) and its picture.
pub struct Finished {
    /// The numbers.
    pub json: serde_json::Value,
    /// The figure.
    pub picture: Picture,
}

/// Runs `experiment` with `settings` on the data of `data` (its seed also seeds the
/// experiments without data), passing the book's lines to `out` as they come.
pub fn run(
    experiment: Experiment,
    settings: &Settings,
    data: &DataSpec,
    out: &mut dyn FnMut(&str),
) -> Result<Finished> {
    use Experiment::*;
    let seed = data.seed;
    match experiment {
        OptimizerPaths => return Ok(run_paths(out)),
        Activations => return run_activations(settings, seed, out),
        _ => {}
    }
    let split = data.load()?;
    let outcome = match experiment {
        Optimizers | Init => {
            let cfg = CurvesConfig {
                iters: settings.iters.unwrap_or(2000),
                samples: settings.samples,
                seed,
                ..CurvesConfig::default()
            };
            if experiment == Optimizers {
                optimizer_compare(&split.train, &cfg, out)?
            } else {
                init_compare(&split.train, &cfg, out)?
            }
        }
        BatchNorm => {
            let d = BatchNormConfig::default();
            let cfg = BatchNormConfig {
                samples: settings.samples.unwrap_or(d.samples),
                epochs: settings.epochs.unwrap_or(d.epochs),
                seed,
                ..d
            };
            batch_norm(&split.train, &cfg, out)?
        }
        WeightDecay | Dropout => {
            let reg = if experiment == WeightDecay {
                Regulariser::WeightDecay(0.1)
            } else {
                Regulariser::Dropout(0.2)
            };
            let d = OverfitConfig::book(reg);
            let cfg = OverfitConfig {
                samples: settings.samples.unwrap_or(d.samples),
                epochs: settings.epochs.unwrap_or(d.epochs),
                seed,
                ..d
            };
            overfit(&split.train, &split.test, reg, &cfg, out)?
        }
        Hyperparams => {
            let d = HyperparamsConfig::default();
            let cfg = HyperparamsConfig {
                samples: settings.samples.unwrap_or(d.samples),
                trials: settings.trials.unwrap_or(d.trials),
                epochs: settings.epochs.unwrap_or(d.epochs),
                seed,
                ..d
            };
            hyperparams(data, &cfg, out)?
        }
        OptimizerPaths | Activations => unreachable!("returned above"),
    };
    let mut json = outcome.json;
    json["dataset"] = split.train.name.clone().into();
    json["seed"] = seed.into();
    Ok(Finished {
        json,
        picture: Picture::Plot(outcome.figure),
    })
}

/// `optimizer-paths`: each optimizer's end point, in Python's float spelling.
fn run_paths(out: &mut dyn FnMut(&str)) -> Finished {
    let paths = optimizer_paths::optimizer_paths();
    for p in &paths {
        let (x, y) = p.points[p.points.len() - 1];
        out(&format!(
            "{}(lr={}): ({}, {}) after {} steps, f = {}",
            p.name,
            p.lr,
            crate::pyfmt::py_repr(x),
            crate::pyfmt::py_repr(y),
            p.points.len() - 1,
            crate::pyfmt::py_repr(optimizer_paths::f(x, y))
        ));
    }
    Finished {
        json: optimizer_paths::to_json(&paths),
        picture: Picture::Paths(paths),
    }
}

/// `activations`: a line on the settings, then each layer's statistics.
fn run_activations(settings: &Settings, seed: u64, out: &mut dyn FnMut(&str)) -> Result<Finished> {
    let cfg = ActivationsConfig {
        activation: settings.activation.unwrap_or(Squash::Sigmoid),
        init: settings.init.unwrap_or(Init::Std(1.0)),
        seed,
        ..ActivationsConfig::default()
    };
    let layers = activations::activations(&cfg)?;
    let (lo, hi) = cfg.activation.range();
    out(&format!(
        "{} activations, weights {}, {} samples × {} units, {} bins over [{lo}, {hi}]",
        cfg.activation.key(),
        cfg.init,
        cfg.samples,
        cfg.nodes,
        cfg.bins
    ));
    for (i, l) in layers.iter().enumerate() {
        out(&format!(
            "{}-layer: mean {:.4}, std {:.4}, first bin {:.1} %, last bin {:.1} %, in range {:.1} %",
            i + 1,
            l.mean,
            l.std,
            100.0 * l.share(0),
            100.0 * l.share(cfg.bins - 1),
            100.0 * l.in_range as f64 / l.total as f64
        ));
    }
    Ok(Finished {
        json: activations::to_json(&cfg, &layers),
        picture: Picture::Histograms(cfg, layers),
    })
}
