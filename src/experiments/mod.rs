//! The experiments of chapter 6, each reproducing one of the book's scripts and figures:
//! the same networks, hyperparameters, sampling and printouts, on any dataset.
//!
//! Every experiment prints the book's lines through a callback (so a command can stream them
//! or stay quiet for `--json`) and returns an [`Outcome`]: its numbers as JSON and a
//! [`Figure`] like the book's. Sizes (`iters`, `epochs`, `samples`, `trials`) default to the
//! book's and can be reduced for quick runs.
//!
//! Like the book's scripts, batches are drawn with replacement (`np.random.choice`) and
//! several networks trained side by side see the same batches. Departures: each network of a
//! comparison starts from weights drawn from the same seed stream (the book draws each
//! network's weights independently), and the computation is in `f64` as in NumPy.

pub mod activations;
mod batch_norm;
mod hyperparams;
mod named;
pub mod optimizer_paths;
mod overfit;
mod training;

pub use batch_norm::{BatchNormConfig, batch_norm, weight_scales};
pub use hyperparams::{
    HyperparamsConfig, TrialConfig, TrialResult, hyperparams, ranking, run_trial, trial_configs,
    trial_line, trial_spec,
};
pub use named::{Experiment, Finished, NotTaken, Picture, Setting, Settings, run};
pub use overfit::{OverfitConfig, Regulariser, overfit};
pub use training::{CurvesConfig, init_compare, optimizer_compare};

use ndarray::ArrayD;

use crate::data::{Dataset, Layout};
use crate::error::{Error, Result};
use crate::functions::Targets;
use crate::init::Init;
use crate::nets::{Activation, MultiLayerConfig, MultiLayerNet, Network};
use crate::report::plot::Figure;
use crate::rng::Rng;

/// What an experiment returns besides the lines it printed.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The experiment's numbers.
    pub json: serde_json::Value,
    /// A figure like the book's.
    pub figure: Figure,
}

/// The first `n` samples of `ds` (all of them when `n` is `None` or larger), as the book's
/// `x_train[:n]`.
pub fn first(ds: &Dataset, n: Option<usize>) -> Result<Dataset> {
    let n = n.unwrap_or(ds.len()).min(ds.len());
    if n == 0 {
        return Err(Error::Invalid("the training set is empty".into()));
    }
    Ok(ds.subset(&(0..n).collect::<Vec<_>>()))
}

/// A batch of `size` samples drawn with replacement, like `np.random.choice(N, size)`.
pub(crate) fn draw_batch(
    ds: &Dataset,
    size: usize,
    rng: &mut Rng,
    labels: &mut Vec<usize>,
) -> ArrayD<f64> {
    let idx: Vec<usize> = (0..size).map(|_| rng.below(ds.len())).collect();
    ds.batch::<f64>(&idx, Layout::Flat, labels)
}

/// The book's `MultiLayerNet(Extend)` for `ds`: `hidden` layers, ReLU.
pub(crate) fn mlp(
    ds: &Dataset,
    hidden: Vec<usize>,
    init: Init,
    batch_norm: bool,
    dropout: Option<f64>,
    weight_decay: f64,
    rng: &mut Rng,
) -> Result<Network<f64>> {
    let cfg = MultiLayerConfig {
        input_size: ds.sample_size(),
        hidden_sizes: hidden,
        output_size: ds.num_classes(),
        activation: Activation::Relu,
        init,
        batch_norm,
        dropout,
        weight_decay,
    };
    Ok(MultiLayerNet::new(&cfg, rng)?.into_inner())
}

/// Accuracy on all of `ds` (test mode): the library's [`crate::eval::accuracy`].
pub(crate) fn accuracy(net: &mut Network<f64>, ds: &Dataset) -> f64 {
    crate::eval::accuracy(net, ds, Layout::Flat, crate::eval::EVAL_BATCH, None)
}

/// One training step of the book's scripts: the library's [`crate::train::step`] on the
/// batch's labels (the loss is not looked at, as in the book).
pub(crate) fn step(
    net: &mut Network<f64>,
    opt: &mut dyn crate::optim::Optimizer<f64>,
    x: &ArrayD<f64>,
    labels: &[usize],
) {
    crate::train::step(net, opt, x.clone(), Targets::Labels(labels));
}

/// Iterations per epoch as the book's scripts compute it:
/// [`crate::train::book_iters_per_epoch`].
pub(crate) fn iter_per_epoch(n: usize, batch: usize) -> usize {
    crate::train::book_iters_per_epoch(n, batch)
}
