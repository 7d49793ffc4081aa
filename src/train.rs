//! The training loop: dataset → batch → forward → loss → backward → optimizer, repeated, with
//! an evaluation of train and test accuracy after every epoch (or every `eval_every` steps).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::data::{Layout, Split};
use crate::error::{Error, Result};
use crate::eval::{accuracy, accuracy_and_loss};
use crate::float::Float;
use crate::functions::Targets;
use crate::nets::Network;
use crate::optim::Optimizer;
use crate::rng::Rng;

/// How mini-batches are drawn (serialised as `"shuffle"`, `"replacement"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// A fresh permutation of the training set each epoch, cut into consecutive batches:
    /// every sample is seen once per epoch.
    Shuffle,
    /// Each batch drawn independently with replacement, like the book's
    /// `np.random.choice(train_size, batch_size)`.
    Replacement,
}

impl Sampling {
    /// `shuffle` or `replacement` (its serde name).
    pub fn key(self) -> &'static str {
        match self {
            Sampling::Shuffle => "shuffle",
            Sampling::Replacement => "replacement",
        }
    }
}

/// How long to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// This many passes over the training set (`ceil(N / batch)` steps each).
    Epochs(usize),
    /// This many steps.
    Iters(usize),
}

/// Everything the loop needs besides the net, the optimizer and the data.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// How long to train.
    pub length: Length,
    /// Samples per step.
    pub batch_size: usize,
    /// Seed of the batch-order stream.
    pub seed: u64,
    /// Evaluate after step `i` (counting from 0) whenever `i % n == 0`, as the book's
    /// `train_neuralnet.py` does with 600; `None` evaluates after each epoch's last step.
    pub eval_every: Option<usize>,
    /// How batches are drawn.
    pub sampling: Sampling,
    /// Flat or image batches, as the network takes them.
    pub layout: Layout,
    /// Samples per forward pass when measuring accuracy.
    pub eval_batch: usize,
    /// Measure the per-epoch accuracies on only the first this-many samples of each set, as
    /// the book's Trainer does with `evaluate_sample_num_per_epoch` (the final accuracies
    /// always use the whole sets).
    pub eval_samples: Option<usize>,
    /// Also measure the mean cross-entropy on the test set (a validation set when the run
    /// holds one out) at every evaluation, in the same forward passes as its accuracy
    /// ([`crate::eval::accuracy_and_loss`]; recorded as [`EpochRecord::test_loss`]).
    pub eval_loss: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            length: Length::Epochs(1),
            batch_size: 100,
            seed: 0,
            eval_every: None,
            sampling: Sampling::Shuffle,
            layout: Layout::Flat,
            eval_batch: EVAL_BATCH,
            eval_samples: None,
            eval_loss: false,
        }
    }
}

/// One evaluation point of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Evaluation number, from 1.
    pub epoch: usize,
    /// Steps done so far.
    pub iter: usize,
    /// Mean training loss of the steps since the previous evaluation.
    pub loss: f64,
    /// Accuracy on the whole training set.
    pub train_acc: f64,
    /// Accuracy on the whole test set.
    pub test_acc: f64,
    /// Mean cross-entropy on the test set, without the weight-decay term
    /// ([`crate::eval::accuracy_and_loss`]), when [`TrainConfig::eval_loss`] asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_loss: Option<f64>,
    /// Seconds since the start of training (0 when read from a checkpoint, which records
    /// no wall-clock times).
    #[serde(default)]
    pub seconds: f64,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Every evaluation, in order.
    pub history: Vec<EpochRecord>,
    /// The loss of every step.
    pub losses: Vec<f64>,
    /// Final accuracy on the training set.
    pub train_acc: f64,
    /// Final accuracy on the test set.
    pub test_acc: f64,
    /// Steps done.
    pub iters: usize,
    /// Wall time of the whole run, evaluations included.
    pub seconds: f64,
    /// Training samples processed per second of training steps (evaluations excluded):
    /// `session_steps × batch size / train_seconds`.
    pub samples_per_sec: f64,
    /// Steps done by this session (all of them, unless it resumed a checkpoint).
    pub session_steps: usize,
    /// Seconds this session spent in training steps (its evaluations excluded).
    pub train_seconds: f64,
    /// Whether the run was stopped before its end (see [`Control::stop`]).
    pub interrupted: bool,
}

/// Progress reported while training.
#[derive(Debug)]
pub enum Event<'a> {
    /// Training starts; this many steps will run.
    Start {
        /// Total steps.
        total_iters: usize,
    },
    /// A step finished with this loss.
    Step {
        /// Steps done so far.
        iter: usize,
        /// The step's loss.
        loss: f64,
    },
    /// An evaluation finished.
    Eval(&'a EpochRecord),
}

pub use crate::eval::EVAL_BATCH;

/// Steps per epoch: `ceil(N / batch_size)`, so that every sample is seen once an epoch.
pub fn iters_per_epoch(train_len: usize, batch_size: usize) -> usize {
    train_len.div_ceil(batch_size.max(1)).max(1)
}

/// Steps per epoch as the book's scripts count them, `max(N / batch, 1)` rounded down: the
/// chapter-6 experiments evaluate whenever `i % iter_per_epoch == 0`, as the book does. The
/// book keeps the quotient as a float (`train_size / batch_size`); for its sizes (300, 1000,
/// 400 samples of 100) it is whole, and this is the same number. [`iters_per_epoch`] rounds
/// up instead, so that an epoch of `train` sees every sample.
pub fn book_iters_per_epoch(train_len: usize, batch_size: usize) -> usize {
    (train_len / batch_size.max(1)).max(1)
}

/// One training step, as the book's scripts write it: the gradient of the loss on the batch
/// (`network.gradient(x_batch, t_batch)`: a forward pass in training mode, then backward),
/// then the optimizer's update of every parameter (`optimizer.update(params, grads)`).
/// Returns the batch's loss before the update (weight decay included).
///
/// A non-finite loss leaves the weights as they were: its gradient would carry the NaN or
/// infinity into every weight, and a caller that stops there (as [`train_with`] does, with
/// [`Error::Diverged`]) keeps the last weights that gave a finite loss. The experiments keep
/// stepping as the book's scripts do; their loss stays non-finite either way.
pub fn step<F: Float>(
    net: &mut Network<F>,
    opt: &mut dyn Optimizer<F>,
    x: ArrayD<F>,
    t: Targets<F>,
) -> F {
    let loss = net.gradient(x, t);
    if loss.is_finite() {
        opt.update(&mut net.params());
    }
    loss
}

/// Where a run stands: enough to continue it exactly where it stopped. Serialised into
/// checkpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Steps done.
    pub iter: usize,
    /// State of the batch generator (sampling with replacement).
    pub rng: [u64; 4],
    /// Evaluations so far.
    pub history: Vec<EpochRecord>,
    /// The loss of every step so far.
    pub losses: Vec<f64>,
    /// Wall time spent before this session, in seconds. Checkpoints do not record it (nor
    /// the history's times), so that the same run writes the same bytes: a resumed run counts
    /// time from its own start.
    #[serde(default)]
    pub seconds: f64,
}

/// Something that saves the run at each evaluation point (a checkpoint directory).
pub trait Checkpoint<F: Float> {
    /// Saves the network, the optimizer and the progress. Called only with finite weights.
    fn save(
        &mut self,
        net: &mut Network<F>,
        opt: &dyn Optimizer<F>,
        progress: &Progress,
    ) -> Result<()>;
}

/// Optional controls of a run: resuming, checkpointing, stopping early.
pub struct Control<'a, F: Float> {
    /// Continue from this progress instead of starting afresh (the network and optimizer
    /// must already hold the matching state).
    pub resume: Option<Progress>,
    /// Called at every evaluation point.
    pub checkpoint: Option<&'a mut dyn Checkpoint<F>>,
    /// When set (by a signal handler), training stops after the current step, saving a
    /// checkpoint first when [`Control::checkpoint`] is set.
    pub stop: Option<&'a AtomicBool>,
}

impl<F: Float> Default for Control<'_, F> {
    fn default() -> Self {
        Control {
            resume: None,
            checkpoint: None,
            stop: None,
        }
    }
}

/// Trains `net` on `data.train` with `opt`, reporting progress through `on_event`.
///
/// Stops with [`Error::Diverged`] at the first step whose loss or weights are not finite.
pub fn train<F: Float>(
    net: &mut Network<F>,
    opt: &mut dyn Optimizer<F>,
    data: &Split,
    cfg: &TrainConfig,
    on_event: &mut dyn FnMut(Event),
) -> Result<Summary> {
    train_with(net, opt, data, cfg, Control::default(), on_event)
}

/// The permutation of the training set for epoch `epoch` (from 0): a function of the seed
/// and the epoch alone, so that a resumed run replays the same batches.
fn epoch_order(seed: u64, epoch: usize, len: usize) -> Vec<usize> {
    Rng::stream(
        seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        "shuffle",
    )
    .permutation(len)
}

fn diverged(step: usize, last_finite: Option<f64>, what: &str) -> Error {
    let last = last_finite.map_or("none".to_string(), |l| format!("{l:.6}"));
    Error::Diverged(format!(
        "training diverged at step {step}: {what} (last finite loss: {last})"
    ))
}

fn weights_finite<F: Float>(net: &mut Network<F>) -> bool {
    // v · 0 is 0 for finite v and NaN otherwise, so the sum is finite iff every value is.
    net.params().iter().all(|p| {
        p.value
            .iter()
            .fold(F::zero(), |s, &v| s + v * F::zero())
            .is_finite()
    })
}

/// [`train`] with [`Control`]s: resume from a [`Progress`], save checkpoints, stop on request.
pub fn train_with<F: Float>(
    net: &mut Network<F>,
    opt: &mut dyn Optimizer<F>,
    data: &Split,
    cfg: &TrainConfig,
    mut control: Control<'_, F>,
    on_event: &mut dyn FnMut(Event),
) -> Result<Summary> {
    let train_set = &data.train;
    if train_set.is_empty() {
        return Err(Error::Invalid("the training set is empty".into()));
    }
    if cfg.batch_size == 0 {
        return Err(Error::Invalid("the batch size must be at least 1".into()));
    }
    net.check_input(&{
        let mut s = vec![1];
        s.extend(train_set.input_shape(cfg.layout));
        s
    })?;
    let per_epoch = iters_per_epoch(train_set.len(), cfg.batch_size);
    let total = match cfg.length {
        Length::Epochs(e) => e.checked_mul(per_epoch).ok_or_else(|| {
            Error::Invalid(format!(
                "{e} epochs of {per_epoch} steps are too large a number of steps"
            ))
        })?,
        Length::Iters(n) => n,
    };
    on_event(Event::Start { total_iters: total });

    let mut progress = control.resume.take().unwrap_or_else(|| Progress {
        rng: Rng::stream(cfg.seed, "batches").state(),
        ..Progress::default()
    });
    let mut rng = Rng::from_state(progress.rng);
    let mut order: Vec<usize> = Vec::new();
    // Capacities only: a batch larger than the set (drawn without replacement) is the set, and
    // a very long run's losses grow as it goes rather than being allocated up front.
    let mut indices = Vec::with_capacity(cfg.batch_size.min(train_set.len()));
    let mut labels = Vec::with_capacity(cfg.batch_size.min(train_set.len()));
    progress
        .losses
        .reserve(total.saturating_sub(progress.iter).min(1 << 20));
    let mut since_eval = (0.0, 0usize);
    let start = Instant::now();
    let mut eval_time = 0.0;
    let mut last_finite = progress.losses.last().copied();
    let mut interrupted = false;
    let first_iter = progress.iter;

    for i in progress.iter..total {
        if control.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            interrupted = true;
            // Keep what was done since the last evaluation point.
            if let Some(cp) = control.checkpoint.as_deref_mut()
                && progress.iter > first_iter
            {
                progress.rng = rng.state();
                let mut saved = progress.clone();
                saved.seconds += start.elapsed().as_secs_f64();
                cp.save(net, opt, &saved)?;
            }
            break;
        }
        indices.clear();
        match cfg.sampling {
            Sampling::Replacement => {
                indices.extend((0..cfg.batch_size).map(|_| rng.below(train_set.len())));
            }
            Sampling::Shuffle => {
                let pos = (i % per_epoch) * cfg.batch_size;
                if pos == 0 || order.is_empty() {
                    order = epoch_order(cfg.seed, i / per_epoch, train_set.len());
                }
                let end = (pos + cfg.batch_size).min(order.len());
                indices.extend_from_slice(&order[pos..end]);
            }
        }
        let x = train_set.batch::<F>(&indices, cfg.layout, &mut labels);
        let loss = step(net, opt, x, Targets::Labels(&labels)).to_f64_lossy();
        if !loss.is_finite() {
            return Err(diverged(i + 1, last_finite, &format!("the loss is {loss}")));
        }
        last_finite = Some(loss);
        progress.losses.push(loss);
        progress.iter = i + 1;
        since_eval.0 += loss;
        since_eval.1 += 1;
        on_event(Event::Step { iter: i + 1, loss });

        let eval_now = match cfg.eval_every {
            Some(n) => i % n.max(1) == 0,
            None => (i + 1) % per_epoch == 0,
        };
        if eval_now {
            // A non-finite weight shows in the next step's loss anyway; checking all weights
            // every step would cost as much as a small layer, so it is done here, before any
            // checkpoint is written.
            if !weights_finite(net) {
                return Err(diverged(i + 1, last_finite, "a weight became non-finite"));
            }
            let t0 = Instant::now();
            let train_acc = accuracy(net, train_set, cfg.layout, cfg.eval_batch, cfg.eval_samples);
            let (test_acc, test_loss) = if cfg.eval_loss {
                let m = accuracy_and_loss(
                    net,
                    &data.test,
                    cfg.layout,
                    cfg.eval_batch,
                    cfg.eval_samples,
                );
                (m.accuracy, Some(m.loss))
            } else {
                let acc = accuracy(
                    net,
                    &data.test,
                    cfg.layout,
                    cfg.eval_batch,
                    cfg.eval_samples,
                );
                (acc, None)
            };
            let record = EpochRecord {
                epoch: progress.history.len() + 1,
                iter: i + 1,
                loss: since_eval.0 / since_eval.1 as f64,
                train_acc,
                test_acc,
                test_loss,
                seconds: progress.seconds + start.elapsed().as_secs_f64(),
            };
            eval_time += t0.elapsed().as_secs_f64();
            since_eval = (0.0, 0);
            on_event(Event::Eval(&record));
            progress.history.push(record);
            if let Some(cp) = control.checkpoint.as_deref_mut() {
                progress.rng = rng.state();
                let mut saved = progress.clone();
                saved.seconds += start.elapsed().as_secs_f64();
                cp.save(net, opt, &saved)?;
            }
        }
    }

    let (train_acc, test_acc) = match progress.history.last() {
        Some(r) if r.iter == progress.iter && cfg.eval_samples.is_none() => {
            (r.train_acc, r.test_acc)
        }
        _ => (
            accuracy(net, train_set, cfg.layout, cfg.eval_batch, None),
            accuracy(net, &data.test, cfg.layout, cfg.eval_batch, None),
        ),
    };
    let session = start.elapsed().as_secs_f64();
    let train_seconds = (session - eval_time).max(1e-9);
    let steps_this_session = progress.iter - first_iter;
    Ok(Summary {
        samples_per_sec: (steps_this_session * cfg.batch_size) as f64 / train_seconds,
        session_steps: steps_this_session,
        train_seconds,
        history: progress.history,
        losses: progress.losses,
        train_acc,
        test_acc,
        iters: progress.iter,
        seconds: progress.seconds + session,
        interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::digits::load_digits;
    use crate::nets::TwoLayerNet;
    use crate::optim::Sgd;
    use ndarray::ArrayD;

    fn data() -> Split {
        load_digits().unwrap().split(0.8, &mut Rng::new(0))
    }

    fn net() -> Network<f64> {
        TwoLayerNet::new(64, 20, 10, 0.1, &mut Rng::new(1)).into_inner()
    }

    fn weights(net: &mut Network<f64>) -> Vec<ArrayD<f64>> {
        net.params().iter().map(|p| p.value.to_owned()).collect()
    }

    #[derive(Default)]
    struct Memory {
        saved: Vec<(Vec<ArrayD<f64>>, Progress)>,
    }

    impl Checkpoint<f64> for Memory {
        fn save(
            &mut self,
            net: &mut Network<f64>,
            _: &dyn Optimizer<f64>,
            p: &Progress,
        ) -> Result<()> {
            self.saved.push((weights(net), p.clone()));
            Ok(())
        }
    }

    #[test]
    fn a_resumed_run_ends_with_the_same_weights() {
        let data = data();
        for sampling in [Sampling::Shuffle, Sampling::Replacement] {
            let cfg = TrainConfig {
                length: Length::Epochs(4),
                sampling,
                batch_size: 64,
                ..TrainConfig::default()
            };
            let mut whole = net();
            let mut memory = Memory::default();
            let control = Control {
                checkpoint: Some(&mut memory),
                ..Control::default()
            };
            let full = train_with(
                &mut whole,
                &mut Sgd::new(0.1),
                &data,
                &cfg,
                control,
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(memory.saved.len(), 4);

            // Restart from the checkpoint after epoch 2 in a fresh net.
            let (w, progress) = memory.saved[1].clone();
            let mut resumed = net();
            for (mut p, v) in resumed.params().into_iter().zip(&w) {
                p.value.assign(v);
            }
            let control = Control {
                resume: Some(progress),
                ..Control::default()
            };
            let rest = train_with(
                &mut resumed,
                &mut Sgd::new(0.1),
                &data,
                &cfg,
                control,
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(weights(&mut whole), weights(&mut resumed), "{sampling:?}");
            assert_eq!(full.losses, rest.losses);
            assert_eq!(full.history.len(), rest.history.len());
        }
    }

    #[test]
    fn a_stop_request_ends_after_the_current_step() {
        let stop = AtomicBool::new(false);
        let cfg = TrainConfig::default();
        let mut steps = 0;
        let control = Control {
            stop: Some(&stop),
            ..Control::default()
        };
        let summary = train_with(
            &mut net(),
            &mut Sgd::new(0.1),
            &data(),
            &cfg,
            control,
            &mut |e| {
                if let Event::Step { .. } = e {
                    steps += 1;
                    if steps == 3 {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            },
        )
        .unwrap();
        assert!(summary.interrupted);
        assert_eq!(summary.iters, 3);
        assert_eq!(summary.losses.len(), 3);
    }

    #[test]
    fn a_step_with_a_non_finite_loss_leaves_the_weights_alone() {
        let mut net = net();
        let before = weights(&mut net);
        let mut x = ndarray::Array2::<f64>::zeros((2, 64));
        x[[0, 3]] = f64::NAN;
        let loss = step(
            &mut net,
            &mut Sgd::new(0.1),
            x.into_dyn(),
            Targets::Labels(&[1, 2]),
        );
        assert!(loss.is_nan(), "{loss}");
        assert_eq!(weights(&mut net), before);
        // A finite batch still moves them.
        let loss = step(
            &mut net,
            &mut Sgd::new(0.1),
            ndarray::Array2::<f64>::ones((2, 64)).into_dyn(),
            Targets::Labels(&[1, 2]),
        );
        assert!(loss.is_finite());
        assert_ne!(weights(&mut net), before);
    }

    #[test]
    fn divergence_names_the_step_and_the_last_finite_loss() {
        let cfg = TrainConfig {
            length: Length::Epochs(5),
            ..TrainConfig::default()
        };
        // A huge learning rate overflows f32 weights within a few steps.
        let mut big = TwoLayerNet::<f32>::new(64, 20, 10, 0.1, &mut Rng::new(1)).into_inner();
        let Err(err) = train(&mut big, &mut Sgd::new(1e30), &data(), &cfg, &mut |_| {}) else {
            panic!("training with lr 1e30 did not diverge");
        };
        let msg = err.to_string();
        assert!(matches!(err, Error::Diverged(_)), "{msg}");
        assert!(
            msg.contains("at step ") && msg.contains("last finite loss: "),
            "{msg}"
        );
        // The library says what happened; which flag to change is the command line's advice
        // (tests/cli.rs).
        assert!(!msg.contains("--"), "{msg}");
        assert!(!msg.contains("last finite loss: none"), "{msg}");

        // A NaN weight shows at the very first step.
        let mut poisoned = net();
        poisoned.params()[0].value[[0, 0]] = f64::NAN;
        let Err(err) = train(
            &mut poisoned,
            &mut Sgd::new(0.1),
            &data(),
            &cfg,
            &mut |_| {},
        ) else {
            panic!("a NaN weight did not stop training");
        };
        assert!(
            err.to_string()
                .contains("at step 1: the loss is NaN (last finite loss: none)"),
            "{err}"
        );
    }

    #[test]
    fn shuffled_epochs_visit_every_sample_once() {
        let order = epoch_order(5, 3, 100);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(order, epoch_order(5, 4, 100));
    }
}
