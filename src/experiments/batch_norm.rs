//! Fig. 6-18, the book's `batch_norm_test.py`: training accuracy with and without batch norm
//! over 16 initial weight scales.

use serde_json::json;

use super::{Outcome, accuracy, draw_batch, first, iter_per_epoch, mlp, step};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::init::Init;
use crate::optim::Sgd;
use crate::pyfmt::py_repr;
use crate::report::plot::{Figure, Panel, Series};
use crate::rng::Rng;

/// Sizes of the batch-norm experiment.
#[derive(Clone, Debug)]
pub struct BatchNormConfig {
    /// Training samples, the first of the set (the book's 1000).
    pub samples: usize,
    /// Evaluations, one per epoch (the book's 20).
    pub epochs: usize,
    /// Samples per step (100).
    pub batch_size: usize,
    /// SGD learning rate (0.01).
    pub lr: f64,
    /// Seed of the initial weights and the batches.
    pub seed: u64,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig {
            samples: 1000,
            epochs: 20,
            batch_size: 100,
            lr: 0.01,
            seed: 42,
        }
    }
}

/// `np.logspace(0, -4, num=16)`: `10^(−4k/15)` for `k = 0 … 15`.
pub fn weight_scales() -> Vec<f64> {
    (0..16)
        .map(|k| 10f64.powf(-4.0 * k as f64 / 15.0))
        .collect()
}

/// For each weight scale, trains a 5×100 ReLU net without and with batch norm (same initial
/// weights, same batches) and records the training accuracy at the start of every epoch, as
/// the book's `__train` does. Prints a header naming the columns, then for each scale
/// `============== i/16 ==============` and `epoch:E | <normal> - <batch norm>` lines.
/// JSON `final` holds the last accuracies.
pub fn batch_norm(
    train: &Dataset,
    cfg: &BatchNormConfig,
    out: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    if cfg.epochs == 0 || cfg.batch_size == 0 {
        return Err(Error::Invalid(
            "epochs and batch size must be at least 1".into(),
        ));
    }
    let train = first(train, Some(cfg.samples))?;
    let per_epoch = iter_per_epoch(train.len(), cfg.batch_size);
    let scales = weight_scales();
    let mut panels = Vec::new();
    let mut finals = Vec::new();
    // The book's lines do not say which accuracy is which: one header first.
    out("training accuracy per epoch, as epoch:E | without batch norm - with batch norm");
    for (i, &w) in scales.iter().enumerate() {
        out(&format!("============== {}/16 ==============", i + 1));
        let mut bn = mlp(
            &train,
            vec![100; 5],
            Init::Std(w),
            true,
            None,
            0.0,
            &mut Rng::stream(cfg.seed, "init"),
        )?;
        let mut normal = mlp(
            &train,
            vec![100; 5],
            Init::Std(w),
            false,
            None,
            0.0,
            &mut Rng::stream(cfg.seed, "init"),
        )?;
        let (mut opt_bn, mut opt_normal) = (Sgd::new(cfg.lr), Sgd::new(cfg.lr));
        let mut rng = Rng::stream(cfg.seed, "batches");
        let mut labels = Vec::new();
        let (mut acc_bn, mut acc_normal) = (Vec::new(), Vec::new());
        let mut it = 0;
        while acc_bn.len() < cfg.epochs {
            let x = draw_batch(&train, cfg.batch_size, &mut rng, &mut labels);
            step(&mut bn, &mut opt_bn, &x, &labels);
            step(&mut normal, &mut opt_normal, &x, &labels);
            if it % per_epoch == 0 {
                acc_bn.push(accuracy(&mut bn, &train));
                acc_normal.push(accuracy(&mut normal, &train));
                out(&format!(
                    "epoch:{} | {} - {}",
                    acc_bn.len() - 1,
                    py_repr(*acc_normal.last().unwrap()),
                    py_repr(*acc_bn.last().unwrap())
                ));
            }
            it += 1;
        }
        finals.push(
            json!({"weight_scale": w, "normal": acc_normal.last(), "batch_norm": acc_bn.last()}),
        );
        panels.push(Panel {
            title: format!("W: {}", scale_label(w)),
            x_label: "epochs".into(),
            y_label: "training accuracy".into(),
            y_range: Some((0.0, 1.0)),
            x_integer: true,
            series: vec![
                Series::from_values("Batch Normalization", &acc_bn),
                Series::from_values("Normal (without BN)", &acc_normal),
            ],
            ..Panel::default()
        });
    }
    Ok(Outcome {
        json: json!({"experiment": "batch-norm", "samples": train.len(), "epochs": cfg.epochs, "final": finals}),
        figure: Figure {
            title: format!(
                "batch norm on {} ({} training samples): training accuracy by initial weight scale W",
                train.name,
                train.len()
            ),
            panels,
            columns: 4,
            panel_size: (400, 300),
        },
    })
}

/// A weight scale as a panel title shows it: three decimals down to 0.01, then `1.2e-3`.
fn scale_label(w: f64) -> String {
    if w >= 0.01 {
        format!("{w:.3}")
    } else {
        format!("{w:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::digits::load_digits;

    #[test]
    fn scales_are_numpy_logspace() {
        // np.logspace(0, -4, num=16), the scales of ch06/batch_norm_test.py (§6.3.2)
        let want = [
            1.0,
            0.5411695265464637,
            0.2928644564625237,
            0.15848931924611134,
            0.08576958985908942,
            0.046415888336127795,
            0.025118864315095794,
            0.013593563908785255,
            0.007356422544596414,
            0.003981071705534973,
            0.0021544346900318843,
            0.0011659144011798323,
            0.000630957344480193,
            0.0003414548873833601,
            0.00018478497974222906,
            0.0001,
        ];
        for (g, w) in weight_scales().iter().zip(want) {
            assert!((g - w).abs() <= 1e-15 * w, "{g} vs {w}");
        }
    }

    #[test]
    fn batch_norm_learns_at_more_scales() {
        let train = load_digits()
            .unwrap()
            .split(0.8, &mut Rng::stream(42, "split"))
            .train;
        // Reduced: 500 samples and 8 epochs instead of 1000 and 20.
        let cfg = BatchNormConfig {
            samples: 500,
            epochs: 8,
            ..BatchNormConfig::default()
        };
        let mut lines = Vec::new();
        let o = batch_norm(&train, &cfg, &mut |l| lines.push(l.to_string())).unwrap();
        // A header naming the columns (issue 20), then the book's blocks.
        assert_eq!(lines.len(), 1 + 16 * 9);
        assert!(
            lines[0].contains("without batch norm - with batch norm"),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1], "============== 1/16 ==============");
        assert!(lines[2].starts_with("epoch:0 | "));
        let finals = o.json["final"].as_array().unwrap();
        let acc = |i: usize, k: &str| finals[i][k].as_f64().unwrap();
        let bn_wins = (0..16)
            .filter(|&i| acc(i, "batch_norm") > acc(i, "normal"))
            .count();
        let bn_learns = (0..16).filter(|&i| acc(i, "batch_norm") > 0.5).count();
        let normal_learns = (0..16).filter(|&i| acc(i, "normal") > 0.5).count();
        assert!(bn_wins >= 12, "BN better at only {bn_wins} of 16 scales");
        assert!(
            bn_learns > 2 * normal_learns.max(1),
            "{bn_learns} vs {normal_learns}"
        );
    }
}
