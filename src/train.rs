//! The training loop: dataset → batch → forward → loss → backward → optimizer, repeated, with
//! an evaluation of train and test accuracy after every epoch (or every `eval_every` steps).

use std::time::Instant;

use crate::data::{Dataset, Layout, Split};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::functions::Targets;
use crate::nets::Network;
use crate::optim::Optimizer;
use crate::rng::Rng;

/// How mini-batches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// A fresh permutation of the training set each epoch, cut into consecutive batches:
    /// every sample is seen once per epoch.
    Shuffle,
    /// Each batch drawn independently with replacement, like the book's
    /// `np.random.choice(train_size, batch_size)`.
    Replacement,
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
            eval_batch: 1000,
        }
    }
}

/// One evaluation point of a run.
#[derive(Clone, Debug, PartialEq)]
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
    /// Seconds since the start of training.
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
    /// Training samples processed per second of training steps (evaluations excluded).
    pub samples_per_sec: f64,
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

/// Steps per epoch: `ceil(N / batch_size)`.
pub fn iters_per_epoch(train_len: usize, batch_size: usize) -> usize {
    train_len.div_ceil(batch_size).max(1)
}

/// Accuracy of `net` on all of `ds`, evaluated `batch` samples at a time so that memory
/// never exceeds one batch's activations.
pub fn evaluate<F: Float>(net: &mut Network<F>, ds: &Dataset, layout: Layout, batch: usize) -> f64 {
    if ds.is_empty() {
        return 0.0;
    }
    let mut correct = 0.0;
    let mut labels = Vec::new();
    let indices: Vec<usize> = (0..ds.len()).collect();
    for chunk in indices.chunks(batch.max(1)) {
        let x = ds.batch::<F>(chunk, layout, &mut labels);
        correct += net.accuracy(x, Targets::Labels(&labels)) * chunk.len() as f64;
    }
    correct / ds.len() as f64
}

/// Trains `net` on `data.train` with `opt`, reporting progress through `on_event`.
///
/// Stops with [`Error::Diverged`] at the first step whose loss is not finite.
pub fn train<F: Float>(
    net: &mut Network<F>,
    opt: &mut dyn Optimizer<F>,
    data: &Split,
    cfg: &TrainConfig,
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
        Length::Epochs(e) => e * per_epoch,
        Length::Iters(n) => n,
    };
    on_event(Event::Start { total_iters: total });

    let mut rng = Rng::stream(cfg.seed, "batches");
    let mut order: Vec<usize> = Vec::new();
    let mut indices = Vec::with_capacity(cfg.batch_size);
    let mut labels = Vec::with_capacity(cfg.batch_size);
    let mut history = Vec::new();
    let mut losses = Vec::with_capacity(total);
    let mut since_eval = (0.0, 0usize);
    let start = Instant::now();
    let mut eval_time = 0.0;
    let mut last_finite = None;

    for i in 0..total {
        indices.clear();
        match cfg.sampling {
            Sampling::Replacement => {
                indices.extend((0..cfg.batch_size).map(|_| rng.below(train_set.len())));
            }
            Sampling::Shuffle => {
                let pos = (i % per_epoch) * cfg.batch_size;
                if pos == 0 {
                    order = rng.permutation(train_set.len());
                }
                let end = (pos + cfg.batch_size).min(order.len());
                indices.extend_from_slice(&order[pos..end]);
            }
        }
        let x = train_set.batch::<F>(&indices, cfg.layout, &mut labels);
        let loss = net.gradient(x, Targets::Labels(&labels)).to_f64_lossy();
        if !loss.is_finite() {
            let last = last_finite.map_or("none".to_string(), |l: f64| format!("{l:.6}"));
            return Err(Error::Diverged(format!(
                "training diverged at step {}: the loss is {loss} (last finite loss: {last}); \
                 try a lower --lr or --batch-norm",
                i + 1
            )));
        }
        last_finite = Some(loss);
        opt.update(&mut net.params());
        losses.push(loss);
        since_eval.0 += loss;
        since_eval.1 += 1;
        on_event(Event::Step { iter: i + 1, loss });

        let eval_now = match cfg.eval_every {
            Some(n) => i % n.max(1) == 0,
            None => (i + 1) % per_epoch == 0,
        };
        if eval_now {
            let t0 = Instant::now();
            let record = EpochRecord {
                epoch: history.len() + 1,
                iter: i + 1,
                loss: since_eval.0 / since_eval.1 as f64,
                train_acc: evaluate(net, train_set, cfg.layout, cfg.eval_batch),
                test_acc: evaluate(net, &data.test, cfg.layout, cfg.eval_batch),
                seconds: start.elapsed().as_secs_f64(),
            };
            eval_time += t0.elapsed().as_secs_f64();
            since_eval = (0.0, 0);
            on_event(Event::Eval(&record));
            history.push(record);
        }
    }

    let (train_acc, test_acc) = match history.last() {
        Some(r) if r.iter == total => (r.train_acc, r.test_acc),
        _ => (
            evaluate(net, train_set, cfg.layout, cfg.eval_batch),
            evaluate(net, &data.test, cfg.layout, cfg.eval_batch),
        ),
    };
    let seconds = start.elapsed().as_secs_f64();
    let train_seconds = (seconds - eval_time).max(1e-9);
    Ok(Summary {
        history,
        samples_per_sec: (losses.len() * cfg.batch_size) as f64 / train_seconds,
        losses,
        train_acc,
        test_acc,
        iters: total,
        seconds,
    })
}
