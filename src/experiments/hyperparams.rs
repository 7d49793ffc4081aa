//! Random search of the learning rate and the weight decay, the book's
//! `hyperparameter_optimization.py` (fig. 6-24).
//!
//! The search is split into the pieces every runner shares, so that `backprop experiment
//! hyperparams` and the Python package's `backprop.tune` (trials on Ray Tune) compute the
//! same trials: [`trial_configs`] draws the configurations of a search, [`trial_spec`] turns
//! one into a [`RunSpec`] (a whole training run, trained by [`crate::run::Run`] wherever it
//! runs), [`trial_line`] and [`ranking`] print the book's lines. A trial's result depends only
//! on its spec: on its sampled values and its seed, never on which trials ran before it or
//! where.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Outcome;
use crate::data::Split;
use crate::error::{Error, Result};
use crate::init::Init;
use crate::nets::{Activation, Arch};
use crate::optim::{Hyper, OptimizerKind};
use crate::pyfmt::py_repr;
use crate::report::plot::{Figure, Panel, Series};
use crate::rng::Rng;
use crate::run::{DataSpec, OptimizerSpec, Precision, Run, RunSpec, Schedule, Validation};
use crate::train::{Event, Length, Sampling};

/// Sizes of the search.
#[derive(Clone, Debug)]
pub struct HyperparamsConfig {
    /// Samples taken from the training set (500), shuffled, of which `validation` are held
    /// out.
    pub samples: usize,
    /// Fraction held out for validation (0.2).
    pub validation: f64,
    /// Random trials (100).
    pub trials: usize,
    /// Epochs per trial (50).
    pub epochs: usize,
    /// Samples per step (100).
    pub batch_size: usize,
    /// Seed of the shuffle, the trials, the weights and the batches.
    pub seed: u64,
}

impl Default for HyperparamsConfig {
    fn default() -> Self {
        HyperparamsConfig {
            samples: 500,
            validation: 0.2,
            trials: 100,
            epochs: 50,
            batch_size: 100,
            seed: 42,
        }
    }
}

/// One configuration of a search: what the book draws per trial, and the seed of the
/// trial's weights and batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialConfig {
    /// The trial's number in its search, from 0.
    pub trial: usize,
    /// Learning rate, `10^U(−6, −2)`.
    pub lr: f64,
    /// Weight decay λ, `10^U(−8, −4)`.
    pub weight_decay: f64,
    /// Seed of the trial's initial weights and batches.
    pub seed: u64,
}

/// What a trial measured: validation and training accuracy at each evaluation (after the
/// first step, then after every epoch's worth of steps, as the book's `Trainer` records).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// The configuration trained.
    pub config: TrialConfig,
    /// Validation accuracy per evaluation.
    pub val_acc: Vec<f64>,
    /// Training accuracy per evaluation.
    pub train_acc: Vec<f64>,
}

impl TrialResult {
    /// The last validation accuracy, by which trials are ranked (0 before any evaluation).
    pub fn final_val_acc(&self) -> f64 {
        self.val_acc.last().copied().unwrap_or(0.0)
    }
}

fn check(cfg: &HyperparamsConfig) -> Result<()> {
    if cfg.trials == 0 || cfg.epochs == 0 || cfg.batch_size == 0 {
        return Err(Error::Invalid(
            "trials, epochs and batch size must be at least 1".into(),
        ));
    }
    if !(cfg.validation > 0.0 && cfg.validation < 1.0) {
        return Err(Error::Invalid(format!(
            "the validation share must lie between 0 and 1, not {}",
            cfg.validation
        )));
    }
    Ok(())
}

/// The configurations of a search, in trial order: trial `k` takes the `k`-th pair of draws
/// `weight_decay = 10^U(−8, −4)`, `lr = 10^U(−6, −2)` from the search seed's stream (the
/// book's order) and the `k`-th seed from another stream, so the first `k` trials are the same
/// whatever the number of trials.
pub fn trial_configs(cfg: &HyperparamsConfig) -> Result<Vec<TrialConfig>> {
    check(cfg)?;
    let mut draw = Rng::stream(cfg.seed, "hyperparams-trials");
    let mut seeds = Rng::stream(cfg.seed, "hyperparams-seeds");
    Ok((0..cfg.trials)
        .map(|trial| {
            let weight_decay = 10f64.powf(-8.0 + 4.0 * draw.uniform());
            let lr = 10f64.powf(-6.0 + 4.0 * draw.uniform());
            TrialConfig {
                trial,
                lr,
                weight_decay,
                seed: seeds.next_u64(),
            }
        })
        .collect())
}

/// The training run of one trial on `source` (a dataset; its seed and validation are
/// replaced): the book's 6 × 100 ReLU network with He weights and the trial's weight decay,
/// SGD with the trial's learning rate, in `f64` as NumPy; the first `samples` training samples
/// shuffled by the search seed, `validation` of them held out ([`Validation`]); batches of
/// `batch_size` drawn with replacement, `max(N / batch, 1)` steps per epoch, an evaluation
/// after the first step and then every epoch, `epochs` evaluations in all.
pub fn trial_spec(source: &DataSpec, cfg: &HyperparamsConfig, trial: &TrialConfig) -> RunSpec {
    let held = (cfg.samples as f64 * cfg.validation) as usize;
    let train = cfg.samples.saturating_sub(held);
    let per_epoch = (train / cfg.batch_size.max(1)).max(1);
    RunSpec {
        data: DataSpec {
            seed: trial.seed,
            validation: Some(Validation {
                samples: Some(cfg.samples),
                fraction: cfg.validation,
                seed: cfg.seed,
            }),
            ..source.clone()
        },
        arch: Arch::MultiLayer {
            hidden: vec![100; 6],
            activation: Activation::Relu,
            init: Init::He,
            batch_norm: false,
            dropout: None,
            weight_decay: trial.weight_decay,
        },
        optimizer: OptimizerSpec {
            kind: OptimizerKind::Sgd,
            hyper: Hyper {
                lr: Some(trial.lr),
                ..Hyper::default()
            },
        },
        schedule: Schedule {
            length: Some(Length::Iters(1 + (cfg.epochs.max(1) - 1) * per_epoch)),
            batch_size: cfg.batch_size,
            eval_every: Some(per_epoch),
            eval_samples: None,
            sampling: Sampling::Replacement,
        },
        precision: Precision::F64,
    }
}

/// Trains one trial's run (see [`trial_spec`]) on `data`, what its spec loads.
pub fn run_trial(spec: &RunSpec, trial: &TrialConfig, data: Split) -> Result<TrialResult> {
    let mut run = Run::<f64>::with_data(spec, data)?;
    let (mut val_acc, mut train_acc) = (Vec::new(), Vec::new());
    run.train(crate::run::Hooks {
        on_event: Some(&mut |e| {
            if let Event::Eval(r) = e {
                val_acc.push(r.test_acc);
                train_acc.push(r.train_acc);
            }
        }),
        ..Default::default()
    })?;
    Ok(TrialResult {
        config: trial.clone(),
        val_acc,
        train_acc,
    })
}

/// The book's line for a finished trial: `val acc:<a> | lr:<lr>, weight decay:<wd>`.
pub fn trial_line(r: &TrialResult) -> String {
    format!(
        "val acc:{} | lr:{}, weight decay:{}",
        py_repr(r.final_val_acc()),
        py_repr(r.config.lr),
        py_repr(r.config.weight_decay)
    )
}

/// Each trial draws `weight_decay = 10^U(−8, −4)` and `lr = 10^U(−6, −2)` ([`trial_configs`]),
/// trains a 6×100 ReLU net with SGD ([`trial_spec`]) and records validation and training
/// accuracy each epoch. Prints [`trial_line`] per trial, then the [`ranking`]. `source` is
/// the dataset (its seed and validation are the search's).
pub fn hyperparams(
    source: &DataSpec,
    cfg: &HyperparamsConfig,
    out: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    let configs = trial_configs(cfg)?;
    let specs: Vec<RunSpec> = configs.iter().map(|t| trial_spec(source, cfg, t)).collect();
    // Every trial holds out the same samples: load them once.
    let data = specs[0].data.load()?;
    let mut results = Vec::with_capacity(configs.len());
    for (spec, trial) in specs.iter().zip(&configs) {
        let r = run_trial(spec, trial, data.clone())?;
        out(&trial_line(&r));
        results.push(r);
    }
    Ok(ranking(&results, &data, cfg, out))
}

/// The search's result: trials ranked by final validation accuracy (best first; ties keep
/// trial order), printed as the book's `Best-k(val acc:<a>) | lr:…, weight decay:…` lines
/// (the top 20) after its header line, with the learning curves of the top 20 as a figure.
/// `data` is the trials' training and validation sets, for the figure's title.
pub fn ranking(
    results: &[TrialResult],
    data: &Split,
    cfg: &HyperparamsConfig,
    out: &mut dyn FnMut(&str),
) -> Outcome {
    let mut trials: Vec<&TrialResult> = results.iter().collect();
    trials.sort_by(|a, b| b.final_val_acc().total_cmp(&a.final_val_acc()));
    out("=========== Hyper-Parameter Optimization Result ===========");
    let mut panels = Vec::new();
    let mut best = Vec::new();
    for (k, t) in trials.iter().take(20).enumerate() {
        let v = t.final_val_acc();
        let (lr, wd) = (t.config.lr, t.config.weight_decay);
        out(&format!(
            "Best-{}(val acc:{}) | lr:{}, weight decay:{}",
            k + 1,
            py_repr(v),
            py_repr(lr),
            py_repr(wd)
        ));
        best.push(
            json!({"val_acc": v, "train_acc": t.train_acc.last(), "lr": lr,
                         "weight_decay": wd, "trial": t.config.trial, "seed": t.config.seed}),
        );
        panels.push(Panel {
            title: format!("Best-{}: lr {:.1e}, wd {:.1e}", k + 1, lr, wd),
            x_label: "epochs".into(),
            y_label: "accuracy".into(),
            y_range: Some((0.0, 1.0)),
            x_integer: true,
            series: vec![
                Series::from_values("train", &t.train_acc).train(),
                Series::from_values("validation", &t.val_acc).test(),
            ],
            ..Panel::default()
        });
    }
    let all: Vec<_> = results
        .iter()
        .map(|t| {
            json!({"val_acc": t.val_acc.last(), "lr": t.config.lr,
                   "weight_decay": t.config.weight_decay, "trial": t.config.trial,
                   "seed": t.config.seed})
        })
        .collect();
    let (part, val) = (&data.train, &data.test);
    Outcome {
        json: json!({"experiment": "hyperparams", "train": part.len(), "validation": val.len(),
                     "epochs": cfg.epochs, "best": best, "trials": all}),
        figure: Figure {
            title: format!(
                "random search on {}: the {} best of {} trials ({} training / {} validation samples)",
                part.name,
                panels.len(),
                trials.len(),
                part.len(),
                val.len()
            ),
            panels,
            columns: 4,
            panel_size: (400, 290),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_trials_have_large_learning_rates() {
        // The book's 50 epochs (at 20, the one trial with a good rate is still near chance).
        let cfg = HyperparamsConfig {
            trials: 12,
            ..HyperparamsConfig::default()
        };
        let mut lines = Vec::new();
        let o = hyperparams(&DataSpec::default(), &cfg, &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert_eq!(lines.len(), 12 + 1 + 12);
        assert!(lines[13].starts_with("Best-1(val acc:"), "{}", lines[13]);
        assert_eq!(
            (o.json["train"].as_u64(), o.json["validation"].as_u64()),
            (Some(400), Some(100))
        );
        let best = o.json["best"].as_array().unwrap();
        let lr = |i: usize| best[i]["lr"].as_f64().unwrap();
        let acc = |i: usize| best[i]["val_acc"].as_f64().unwrap();
        // The book's conclusion: good rates lie around 1e-3 … 1e-2, tiny ones do not learn.
        assert!(lr(0) > 1e-3, "best lr {}", lr(0));
        assert!(acc(0) > acc(11) + 0.3, "{} vs {}", acc(0), acc(11));
        let worst_lr = best
            .iter()
            .skip(6)
            .map(|t| t["lr"].as_f64().unwrap())
            .fold(0.0, f64::max);
        assert!(
            worst_lr < lr(0),
            "a bottom-half trial had a larger lr than the best"
        );
    }

    /// Trial k is the same whatever the number of trials, its values lie in the book's
    /// ranges, and its run alone (as a Ray worker trains it, from its spec only) gives the
    /// line the whole search printed for it.
    #[test]
    fn a_trial_depends_only_on_its_configuration() {
        let small = HyperparamsConfig {
            trials: 3,
            epochs: 4,
            ..HyperparamsConfig::default()
        };
        let many = HyperparamsConfig {
            trials: 50,
            ..small.clone()
        };
        let (a, b) = (
            trial_configs(&small).unwrap(),
            trial_configs(&many).unwrap(),
        );
        assert_eq!(a[..], b[..3]);
        for t in &b {
            assert!((1e-6..1e-2).contains(&t.lr), "{t:?}");
            assert!((1e-8..1e-4).contains(&t.weight_decay), "{t:?}");
        }
        let seeds: std::collections::BTreeSet<u64> = b.iter().map(|t| t.seed).collect();
        assert_eq!(seeds.len(), 50);

        let mut lines = Vec::new();
        hyperparams(&DataSpec::default(), &small, &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let spec = trial_spec(&DataSpec::default(), &small, &a[2]);
        // Through JSON and Run::new, as a worker that received the spec trains it.
        let spec = RunSpec::from_json(&spec.to_json()).unwrap();
        let mut run = Run::<f64>::new(&spec).unwrap();
        assert_eq!((run.data.train.len(), run.data.test.len()), (400, 100));
        let summary = run.train(crate::run::Hooks::default()).unwrap();
        // 4 evaluations: after steps 1, 5, 9 and 13 (4 steps per epoch of 400 samples).
        let iters: Vec<usize> = summary.history.iter().map(|r| r.iter).collect();
        assert_eq!(iters, [1, 5, 9, 13]);
        let alone = TrialResult {
            config: a[2].clone(),
            val_acc: summary.history.iter().map(|r| r.test_acc).collect(),
            train_acc: summary.history.iter().map(|r| r.train_acc).collect(),
        };
        assert_eq!(trial_line(&alone), lines[2]);
    }

    #[test]
    fn bad_sizes_are_refused() {
        for cfg in [
            HyperparamsConfig {
                trials: 0,
                ..HyperparamsConfig::default()
            },
            HyperparamsConfig {
                validation: 1.0,
                ..HyperparamsConfig::default()
            },
            HyperparamsConfig {
                validation: 0.0,
                ..HyperparamsConfig::default()
            },
        ] {
            let e = trial_configs(&cfg).unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{e}");
        }
    }
}
