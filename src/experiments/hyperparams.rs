//! Random search of the learning rate and the weight decay, the book's
//! `hyperparameter_optimization.py` (fig. 6-24).

use serde_json::json;

use super::{Outcome, accuracy, draw_batch, first, iter_per_epoch, mlp, step};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::init::Init;
use crate::optim::Sgd;
use crate::pyfmt::py_repr;
use crate::report::plot::{Figure, Panel, Series};
use crate::rng::Rng;

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

struct Trial {
    lr: f64,
    weight_decay: f64,
    val: Vec<f64>,
    train: Vec<f64>,
}

/// Each trial draws `weight_decay = 10^U(−8, −4)` and `lr = 10^U(−6, −2)`, trains a 6×100
/// ReLU net with SGD and records validation and training accuracy each epoch. Prints
/// `val acc:<a> | lr:<lr>, weight decay:<wd>` per trial, then the ranking as
/// `Best-k(val acc:<a>) | lr:…, weight decay:…` (top 20, as the book's code).
pub fn hyperparams(
    train: &Dataset,
    cfg: &HyperparamsConfig,
    out: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    if cfg.trials == 0 || cfg.epochs == 0 || cfg.batch_size == 0 {
        return Err(Error::Invalid(
            "trials, epochs and batch size must be at least 1".into(),
        ));
    }
    let pool = first(train, Some(cfg.samples))?;
    let perm = Rng::stream(cfg.seed, "hyperparams-shuffle").permutation(pool.len());
    let n_val = (pool.len() as f64 * cfg.validation) as usize;
    if n_val == 0 || n_val >= pool.len() {
        return Err(Error::Invalid(format!(
            "a validation split of {} of {} samples leaves nothing to train or to validate on",
            cfg.validation,
            pool.len()
        )));
    }
    let val = pool.subset(&perm[..n_val]);
    let part = pool.subset(&perm[n_val..]);
    let per_epoch = iter_per_epoch(part.len(), cfg.batch_size);
    let mut draw = Rng::stream(cfg.seed, "hyperparams-trials");
    let mut trials = Vec::new();
    for t in 0..cfg.trials {
        let weight_decay = 10f64.powf(-8.0 + 4.0 * draw.uniform());
        let lr = 10f64.powf(-6.0 + 4.0 * draw.uniform());
        let mut net = mlp(
            &part,
            vec![100; 6],
            Init::He,
            false,
            None,
            weight_decay,
            &mut Rng::stream(cfg.seed ^ t as u64, "hyperparams-init"),
        )?;
        let mut opt = Sgd::new(lr);
        let mut rng = Rng::stream(cfg.seed ^ t as u64, "hyperparams-batches");
        let mut labels = Vec::new();
        let (mut val_acc, mut train_acc) = (Vec::new(), Vec::new());
        let mut it = 0;
        while val_acc.len() < cfg.epochs {
            let x = draw_batch(&part, cfg.batch_size, &mut rng, &mut labels);
            step(&mut net, &mut opt, &x, &labels);
            if it % per_epoch == 0 {
                train_acc.push(accuracy(&mut net, &part));
                val_acc.push(accuracy(&mut net, &val));
            }
            it += 1;
        }
        out(&format!(
            "val acc:{} | lr:{}, weight decay:{}",
            py_repr(*val_acc.last().unwrap()),
            py_repr(lr),
            py_repr(weight_decay)
        ));
        trials.push(Trial {
            lr,
            weight_decay,
            val: val_acc,
            train: train_acc,
        });
    }
    // Best first by final validation accuracy; the sort is stable so ties keep trial order.
    trials.sort_by(|a, b| b.val.last().unwrap().total_cmp(a.val.last().unwrap()));
    out("=========== Hyper-Parameter Optimization Result ===========");
    let mut panels = Vec::new();
    let mut ranking = Vec::new();
    for (k, t) in trials.iter().take(20).enumerate() {
        let v = *t.val.last().unwrap();
        out(&format!(
            "Best-{}(val acc:{}) | lr:{}, weight decay:{}",
            k + 1,
            py_repr(v),
            py_repr(t.lr),
            py_repr(t.weight_decay)
        ));
        ranking.push(json!({"val_acc": v, "train_acc": t.train.last(), "lr": t.lr, "weight_decay": t.weight_decay}));
        panels.push(Panel {
            title: format!("Best-{}: lr {:.1e}, wd {:.1e}", k + 1, t.lr, t.weight_decay),
            x_label: "epochs".into(),
            y_label: "accuracy".into(),
            y_range: Some((0.0, 1.0)),
            x_integer: true,
            series: vec![
                Series::from_values("train", &t.train).train(),
                Series::from_values("validation", &t.val).test(),
            ],
            ..Panel::default()
        });
    }
    let all: Vec<_> = trials
        .iter()
        .map(|t| json!({"val_acc": t.val.last(), "lr": t.lr, "weight_decay": t.weight_decay}))
        .collect();
    Ok(Outcome {
        json: json!({"experiment": "hyperparams", "train": part.len(), "validation": val.len(),
                     "epochs": cfg.epochs, "best": ranking, "trials": all}),
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::digits::load_digits;

    #[test]
    fn the_best_trials_have_large_learning_rates() {
        let train = load_digits()
            .unwrap()
            .split(0.8, &mut Rng::stream(42, "split"))
            .train;
        let cfg = HyperparamsConfig {
            trials: 12,
            epochs: 20,
            ..HyperparamsConfig::default()
        };
        let mut lines = Vec::new();
        let o = hyperparams(&train, &cfg, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(lines.len(), 12 + 1 + 12);
        assert!(lines[13].starts_with("Best-1(val acc:"), "{}", lines[13]);
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
}
