//! Loss curves of several networks trained side by side on the same batches: the book's
//! `optimizer_compare_mnist.py` (fig. 6-9) and `weight_init_compare.py` (fig. 6-15).

use serde_json::json;

use super::{Outcome, draw_batch, first, mlp, step};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::functions::Targets;
use crate::init::Init;
use crate::nets::Network;
use crate::optim::{self, Hyper, Optimizer, OptimizerKind};
use crate::pyfmt::py_repr;
use crate::report::plot::{Figure, Panel, Reference, Series, smooth_curve};
use crate::rng::Rng;

/// Sizes of a loss-curve comparison.
#[derive(Clone, Debug)]
pub struct CurvesConfig {
    /// Training steps (the book's 2000).
    pub iters: usize,
    /// Samples per step (the book's 128).
    pub batch_size: usize,
    /// Use only the first this many training samples (the book uses all).
    pub samples: Option<usize>,
    /// Seed of the initial weights and the batches.
    pub seed: u64,
}

impl Default for CurvesConfig {
    fn default() -> Self {
        CurvesConfig {
            iters: 2000,
            batch_size: 128,
            samples: None,
            seed: 42,
        }
    }
}

struct Contender {
    label: String,
    net: Network<f64>,
    opt: Box<dyn Optimizer<f64>>,
    losses: Vec<f64>,
}

/// Trains every contender on the same batches; after each update records the loss on the
/// batch (as the book does, after the update) and prints the book's block every 100 steps.
fn race(
    train: &Dataset,
    contenders: &mut [Contender],
    cfg: &CurvesConfig,
    out: &mut dyn FnMut(&str),
) -> Result<()> {
    if cfg.iters == 0 || cfg.batch_size == 0 {
        return Err(Error::Invalid(
            "iterations and batch size must be at least 1".into(),
        ));
    }
    let mut rng = Rng::stream(cfg.seed, "batches");
    let mut labels = Vec::new();
    for i in 0..cfg.iters {
        let x = draw_batch(train, cfg.batch_size, &mut rng, &mut labels);
        for c in contenders.iter_mut() {
            step(&mut c.net, &mut *c.opt, &x, &labels);
            let loss = c.net.loss(x.clone(), Targets::Labels(&labels), false);
            c.losses.push(loss);
        }
        if i % 100 == 0 {
            out(&format!("===========iteration:{i}==========="));
            for c in contenders.iter() {
                out(&format!(
                    "{}:{}",
                    c.label,
                    py_repr(*c.losses.last().unwrap_or(&f64::NAN))
                ));
            }
        }
    }
    Ok(())
}

/// The mean loss over the last tenth of the run, a steadier summary than the last value.
fn tail_mean(losses: &[f64]) -> f64 {
    let k = (losses.len() / 10).max(1);
    losses[losses.len() - k..].iter().sum::<f64>() / k as f64
}

/// The experiment's JSON and figure; `what` describes the nets for the title, which also
/// names the dataset and its size.
fn outcome(
    name: &str,
    train: &Dataset,
    contenders: &[Contender],
    y_max: f64,
    what: &str,
) -> Outcome {
    let mut final_loss = serde_json::Map::new();
    let mut curves = serde_json::Map::new();
    for c in contenders {
        final_loss.insert(c.label.clone(), json!(tail_mean(&c.losses)));
        curves.insert(c.label.clone(), json!(c.losses));
    }
    let series = contenders
        .iter()
        .map(|c| Series::from_values(c.label.clone(), &smooth_curve(&c.losses)))
        .collect();
    Outcome {
        json: json!({
            "experiment": name,
            "iters": contenders.first().map_or(0, |c| c.losses.len()),
            "tail_mean_loss": final_loss,
            "losses": curves,
        }),
        figure: Figure::single(Panel {
            title: format!(
                "{what} on {} ({} training samples)",
                train.name,
                train.len()
            ),
            x_label: "iterations".into(),
            y_label: "training loss (smoothed)".into(),
            y_range: Some((0.0, y_max)),
            references: vec![Reference::chance_loss(train.num_classes())],
            legend_title: "smoothed loss".into(),
            series,
            ..Panel::default()
        }),
    }
}

/// Fig. 6-9: SGD, Momentum, AdaGrad and Adam at the book's default learning rates on a
/// 4×100 ReLU net with He initialisation; prints `SGD:<loss>` … every 100 steps. JSON
/// `tail_mean_loss` holds each rule's mean loss over the last tenth of the run.
pub fn optimizer_compare(
    train: &Dataset,
    cfg: &CurvesConfig,
    out: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    let train = first(train, cfg.samples)?;
    let kinds = [
        ("SGD", OptimizerKind::Sgd),
        ("Momentum", OptimizerKind::Momentum),
        ("AdaGrad", OptimizerKind::AdaGrad),
        ("Adam", OptimizerKind::Adam),
    ];
    let mut contenders = Vec::new();
    for (label, kind) in kinds {
        let mut rng = Rng::stream(cfg.seed, "init");
        contenders.push(Contender {
            label: label.into(),
            net: mlp(&train, vec![100; 4], Init::He, false, None, 0.0, &mut rng)?,
            opt: optim::build(kind, &Hyper::default()),
            losses: Vec::new(),
        });
    }
    race(&train, &mut contenders, cfg, out)?;
    Ok(outcome(
        "optimizers",
        &train,
        &contenders,
        1.0,
        "optimizers, 4×100 ReLU, He init,",
    ))
}

/// Fig. 6-15: a 4×100 ReLU net initialised with std 0.01, Xavier and He, trained with
/// SGD(lr = 0.01); prints `std=0.01:<loss>`, `Xavier:<loss>`, `He:<loss>` every 100 steps.
pub fn init_compare(
    train: &Dataset,
    cfg: &CurvesConfig,
    out: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    let train = first(train, cfg.samples)?;
    let inits = [
        ("std=0.01", Init::Std(0.01)),
        ("Xavier", Init::Xavier),
        ("He", Init::He),
    ];
    let mut contenders = Vec::new();
    for (label, init) in inits {
        let mut rng = Rng::stream(cfg.seed, "init");
        contenders.push(Contender {
            label: label.into(),
            net: mlp(&train, vec![100; 4], init, false, None, 0.0, &mut rng)?,
            opt: optim::build(OptimizerKind::Sgd, &Hyper::default()),
            losses: Vec::new(),
        });
    }
    race(&train, &mut contenders, cfg, out)?;
    Ok(outcome(
        "init",
        &train,
        &contenders,
        2.5,
        "weight init, 4×100 ReLU, SGD lr 0.01,",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::digits::load_digits;

    fn digits_train() -> Dataset {
        load_digits()
            .unwrap()
            .split(0.8, &mut Rng::stream(42, "split"))
            .train
    }

    #[test]
    fn optimizers_sgd_is_slowest() {
        // Reduced: batch 32 instead of 128, 300 steps instead of 2000.
        let cfg = CurvesConfig {
            iters: 300,
            batch_size: 32,
            ..CurvesConfig::default()
        };
        let mut lines = Vec::new();
        let o =
            optimizer_compare(&digits_train(), &cfg, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(lines[0], "===========iteration:0===========");
        assert!(lines[1].starts_with("SGD:") && lines[4].starts_with("Adam:"));
        assert_eq!(lines.len(), 3 * 5);
        let tail = &o.json["tail_mean_loss"];
        let sgd = tail["SGD"].as_f64().unwrap();
        for other in ["Momentum", "AdaGrad", "Adam"] {
            let l = tail[other].as_f64().unwrap();
            assert!(l < 0.7 * sgd, "{other} {l} vs SGD {sgd}");
        }
    }

    #[test]
    fn init_std_001_does_not_learn_and_he_is_best() {
        // Reduced: batch 32 instead of 128, 600 steps instead of 2000.
        let cfg = CurvesConfig {
            iters: 600,
            batch_size: 32,
            ..CurvesConfig::default()
        };
        let o = init_compare(&digits_train(), &cfg, &mut |_| {}).unwrap();
        let tail = &o.json["tail_mean_loss"];
        let (small, xavier, he) = (
            tail["std=0.01"].as_f64().unwrap(),
            tail["Xavier"].as_f64().unwrap(),
            tail["He"].as_f64().unwrap(),
        );
        // ln 10 = 2.303 is the loss of uniform guessing over 10 classes.
        assert!(
            (small - 10f64.ln()).abs() < 0.01,
            "std=0.01 learnt: {small}"
        );
        assert!(
            xavier < small - 0.5 && he < xavier,
            "Xavier {xavier}, He {he}"
        );
    }
}
