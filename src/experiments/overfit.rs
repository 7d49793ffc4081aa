//! Overfitting and its cures, the book's `overfit_weight_decay.py` (fig. 6-20/6-21) and
//! `overfit_dropout.py` (fig. 6-23): a 6×100 net on 300 samples, without and with a
//! regulariser.

use serde_json::json;

use super::{Outcome, accuracy, draw_batch, first, iter_per_epoch, mlp, step};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::init::Init;
use crate::optim::Sgd;
use crate::pyfmt::py_repr;
use crate::report::plot::{Figure, Panel, Series};
use crate::rng::Rng;

/// What is added to the plain net.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regulariser {
    /// L2 weight decay with this λ (the book's 0.1).
    WeightDecay(f64),
    /// Dropout with this ratio after every hidden activation (the book's 0.2).
    Dropout(f64),
}

/// Sizes of an overfitting experiment.
#[derive(Clone, Debug)]
pub struct OverfitConfig {
    /// Training samples, the first of the set (300).
    pub samples: usize,
    /// Evaluations, one per epoch (201 for weight decay, 301 for dropout).
    pub epochs: usize,
    /// Samples per step (100).
    pub batch_size: usize,
    /// SGD learning rate (0.01).
    pub lr: f64,
    /// Seed of the initial weights, the dropout masks and the batches.
    pub seed: u64,
}

impl OverfitConfig {
    /// The book's sizes for `reg`.
    pub fn book(reg: Regulariser) -> Self {
        OverfitConfig {
            samples: 300,
            epochs: match reg {
                Regulariser::WeightDecay(_) => 201,
                Regulariser::Dropout(_) => 301,
            },
            batch_size: 100,
            lr: 0.01,
            seed: 42,
        }
    }
}

/// Trains the plain 6×100 ReLU (He) net and the regularised one on the same batches and
/// initial weights, evaluating train and test accuracy at the start of every epoch as the
/// book's loops do; prints `epoch:E, train acc:A, test acc:B` for each. JSON `final` holds
/// each net's last accuracies and their gap.
pub fn overfit(
    train: &Dataset,
    test: &Dataset,
    reg: Regulariser,
    cfg: &OverfitConfig,
    out: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    if cfg.epochs == 0 || cfg.batch_size == 0 {
        return Err(Error::Invalid(
            "epochs and batch size must be at least 1".into(),
        ));
    }
    let train = first(train, Some(cfg.samples))?;
    let per_epoch = iter_per_epoch(train.len(), cfg.batch_size);
    let (name, label, decay, dropout) = match reg {
        Regulariser::WeightDecay(l) => ("weight-decay", format!("weight decay λ={l}"), l, None),
        Regulariser::Dropout(r) => ("dropout", format!("dropout ratio {r}"), 0.0, Some(r)),
    };
    let mut runs = Vec::new();
    let mut panels = Vec::new();
    for (title, decay, dropout) in [
        ("without regularisation".to_string(), 0.0, None),
        (label, decay, dropout),
    ] {
        out(&format!("=== {title} ==="));
        let mut net = mlp(
            &train,
            vec![100; 6],
            Init::He,
            false,
            dropout,
            decay,
            &mut Rng::stream(cfg.seed, "init"),
        )?;
        let mut opt = Sgd::new(cfg.lr);
        let mut rng = Rng::stream(cfg.seed, "batches");
        let mut labels = Vec::new();
        let (mut train_acc, mut test_acc) = (Vec::new(), Vec::new());
        let mut it = 0;
        while train_acc.len() < cfg.epochs {
            let x = draw_batch(&train, cfg.batch_size, &mut rng, &mut labels);
            step(&mut net, &mut opt, &x, &labels);
            if it % per_epoch == 0 {
                train_acc.push(accuracy(&mut net, &train));
                test_acc.push(accuracy(&mut net, test));
                out(&format!(
                    "epoch:{}, train acc:{}, test acc:{}",
                    train_acc.len() - 1,
                    py_repr(*train_acc.last().unwrap()),
                    py_repr(*test_acc.last().unwrap())
                ));
            }
            it += 1;
        }
        let (tr, te) = (*train_acc.last().unwrap(), *test_acc.last().unwrap());
        runs.push(json!({"run": title, "train_acc": tr, "test_acc": te, "gap": tr - te}));
        panels.push(Panel {
            title: title.clone(),
            x_label: "epochs".into(),
            y_label: "accuracy".into(),
            y_range: Some((0.0, 1.0)),
            x_integer: true,
            series: vec![
                Series::from_values("train", &train_acc).train(),
                Series::from_values("test", &test_acc).test(),
            ],
            ..Panel::default()
        });
    }
    Ok(Outcome {
        json: json!({"experiment": name, "samples": train.len(), "epochs": cfg.epochs, "final": runs}),
        figure: Figure {
            title: format!(
                "{} on {}: {} training samples, {} test samples, 6×100 ReLU",
                name.replace('-', " "),
                train.name,
                train.len(),
                test.len()
            ),
            panels,
            columns: 2,
            panel_size: (640, 480),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::digits::load_digits;

    fn gap_shrinks(reg: Regulariser, epochs: usize) {
        let data = load_digits()
            .unwrap()
            .split(0.8, &mut Rng::stream(42, "split"));
        let cfg = OverfitConfig {
            epochs,
            ..OverfitConfig::book(reg)
        };
        let mut lines = Vec::new();
        let o = overfit(&data.train, &data.test, reg, &cfg, &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert!(lines[1].starts_with("epoch:0, train acc:"), "{}", lines[1]);
        let runs = o.json["final"].as_array().unwrap();
        let (plain, cured) = (&runs[0], &runs[1]);
        let f = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap();
        assert!(
            f(plain, "train_acc") > 0.97,
            "the plain net should fit its samples: {plain}"
        );
        assert!(f(cured, "gap") < f(plain, "gap"), "{plain} vs {cured}");
        assert!(
            f(cured, "train_acc") < f(plain, "train_acc"),
            "{plain} vs {cured}"
        );
    }

    #[test]
    fn weight_decay_shrinks_the_gap() {
        gap_shrinks(Regulariser::WeightDecay(0.1), 150);
    }

    #[test]
    fn dropout_shrinks_the_gap() {
        gap_shrinks(Regulariser::Dropout(0.2), 150);
    }
}
