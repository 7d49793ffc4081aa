//! The chapter-6 experiments by name, with the book's sizes for what the caller leaves open:
//! what `backprop experiment <name>` runs, for any caller.

use super::activations::{self, ActivationsConfig, LayerStats, Squash};
use super::optimizer_paths::{self, Path as OptimizerPath};
use super::{
    BatchNormConfig, CurvesConfig, HyperparamsConfig, OverfitConfig, Regulariser, batch_norm,
    hyperparams, init_compare, optimizer_compare, overfit,
};
use crate::error::{Error, Fix, Result};
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
/// experiment takes: [`Experiment::takes`], and [`Experiment::check`] refuses the others.
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

/// A setting an experiment may be given: a field of [`Settings`], or the data source (a
/// [`DataSpec`]'s set or directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// [`Settings::iters`].
    Iters,
    /// [`Settings::epochs`].
    Epochs,
    /// [`Settings::trials`].
    Trials,
    /// [`Settings::activation`].
    Activation,
    /// [`Settings::init`].
    Init,
    /// [`Settings::samples`].
    Samples,
    /// The set to load, [`DataSpec::dataset`].
    Dataset,
    /// The directory to load from, [`DataSpec::dir`].
    Data,
}

impl Setting {
    /// Every setting, in the order [`Experiment::check`] looks at them.
    pub const ALL: [Setting; 8] = [
        Setting::Iters,
        Setting::Epochs,
        Setting::Trials,
        Setting::Activation,
        Setting::Init,
        Setting::Samples,
        Setting::Dataset,
        Setting::Data,
    ];

    /// The setting's name: its field of [`Settings`], or `dataset` and `data` (the
    /// directory) as [`RunSpec::setting`](crate::run::RunSpec::setting) names them.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Iters => "iters",
            Setting::Epochs => "epochs",
            Setting::Trials => "trials",
            Setting::Activation => "activation",
            Setting::Init => "init",
            Setting::Samples => "samples",
            Setting::Dataset => "dataset",
            Setting::Data => "data",
        }
    }
}

/// An experiment was given a setting it does not take ([`Experiment::check`]; an
/// [`Error::Needs`] with [`Fix::NotTaken`]: a usage error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotTaken {
    /// The experiment.
    pub experiment: Experiment,
    /// The setting it was given.
    pub setting: Setting,
}

impl std::fmt::Display for NotTaken {
    /// What happened, in settings (not flags).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the setting {} does not apply to this experiment",
            self.setting.name()
        )
    }
}

impl From<NotTaken> for Error {
    fn from(n: NotTaken) -> Error {
        Error::needs(n.to_string(), Fix::NotTaken(n))
    }
}

impl Experiment {
    /// Whether the experiment trains on a dataset (`optimizer-paths` and `activations` run on
    /// a formula and on random numbers).
    pub fn reads_data(self) -> bool {
        !matches!(self, Experiment::OptimizerPaths | Experiment::Activations)
    }

    /// Whether the experiment takes `setting`.
    pub fn takes(self, setting: Setting) -> bool {
        use Experiment::*;
        match setting {
            Setting::Iters => matches!(self, Optimizers | Init),
            Setting::Epochs => matches!(self, BatchNorm | WeightDecay | Dropout | Hyperparams),
            Setting::Samples | Setting::Dataset | Setting::Data => self.reads_data(),
            Setting::Trials => self == Hyperparams,
            Setting::Activation | Setting::Init => self == Activations,
        }
    }

    /// Refuses ([`NotTaken`]) the first setting, in the order of [`Setting::ALL`], that is
    /// given in `settings` or `data` (its set or its directory; the seed seeds every
    /// experiment) and that the experiment does not take.
    pub fn check(self, settings: &Settings, data: &DataSpec) -> Result<()> {
        for setting in Setting::ALL {
            let given = match setting {
                Setting::Iters => settings.iters.is_some(),
                Setting::Epochs => settings.epochs.is_some(),
                Setting::Trials => settings.trials.is_some(),
                Setting::Activation => settings.activation.is_some(),
                Setting::Init => settings.init.is_some(),
                Setting::Samples => settings.samples.is_some(),
                Setting::Dataset => data.dataset.is_some(),
                Setting::Data => data.dir.is_some(),
            };
            if given && !self.takes(setting) {
                return Err(NotTaken {
                    experiment: self,
                    setting,
                }
                .into());
            }
        }
        Ok(())
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
/// experiments without data), passing the book's lines to `out` as they come. Settings the
/// experiment does not take are refused first ([`Experiment::check`]).
pub fn run(
    experiment: Experiment,
    settings: &Settings,
    data: &DataSpec,
    out: &mut dyn FnMut(&str),
) -> Result<Finished> {
    use Experiment::*;
    experiment.check(settings, data)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn not_taken(r: Result<()>) -> NotTaken {
        match r {
            Err(Error::Needs {
                fix: Fix::NotTaken(n),
                ..
            }) => n,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// Each experiment takes the sizes its script has: steps for the curves of figs. 6-9 and
    /// 6-15, epochs for the trainings of §6.3–6.5, trials for the search, the activation
    /// and the weights for the histograms, and data for everything but the formula of fig.
    /// 6-8 and the random numbers of figs. 6-10–6-14.
    #[test]
    fn each_experiment_takes_the_settings_of_its_script() {
        use Experiment::*;
        use Setting::*;
        let table: [(Experiment, &[Setting]); 8] = [
            (Optimizers, &[Iters, Samples, Dataset, Data]),
            (Experiment::Init, &[Iters, Samples, Dataset, Data]),
            (BatchNorm, &[Epochs, Samples, Dataset, Data]),
            (WeightDecay, &[Epochs, Samples, Dataset, Data]),
            (Dropout, &[Epochs, Samples, Dataset, Data]),
            (Hyperparams, &[Epochs, Trials, Samples, Dataset, Data]),
            (OptimizerPaths, &[]),
            (Activations, &[Activation, Setting::Init]),
        ];
        for (experiment, takes) in table {
            for setting in Setting::ALL {
                assert_eq!(
                    experiment.takes(setting),
                    takes.contains(&setting),
                    "{experiment:?} {setting:?}"
                );
            }
        }
    }

    /// The first setting given that the experiment does not take is refused, naming the
    /// setting (not a flag); the data source counts, its seed does not.
    #[test]
    fn check_refuses_the_first_setting_not_taken() {
        let data = DataSpec::default();
        let s = Settings {
            trials: Some(3),
            init: Some(Init::He),
            iters: Some(10),
            ..Settings::default()
        };
        let n = not_taken(Experiment::BatchNorm.check(&s, &data));
        assert_eq!(
            n,
            NotTaken {
                experiment: Experiment::BatchNorm,
                setting: Setting::Iters
            }
        );
        let e = Error::from(n);
        assert_eq!(
            e.to_string(),
            "the setting iters does not apply to this experiment"
        );
        assert!(matches!(e, Error::Needs { ref fix, .. } if fix.is_usage()));
        let s = Settings {
            iters: Some(10),
            samples: Some(100),
            ..Settings::default()
        };
        assert!(Experiment::Optimizers.check(&s, &data).is_ok());
        let seeded = DataSpec {
            seed: 7,
            ..DataSpec::default()
        };
        assert!(
            Experiment::OptimizerPaths
                .check(&Settings::default(), &seeded)
                .is_ok()
        );
        let dir = DataSpec {
            dir: Some("/data/mnist".into()),
            ..DataSpec::default()
        };
        assert_eq!(
            not_taken(Experiment::Activations.check(&Settings::default(), &dir)).setting,
            Setting::Data
        );
        // `run` refuses before any work.
        let s = Settings {
            trials: Some(2),
            ..Settings::default()
        };
        let r = run(Experiment::OptimizerPaths, &s, &data, &mut |_| {}).map(|_| ());
        assert_eq!(not_taken(r).setting, Setting::Trials);
    }
}
