//! The book's `ch06/weight_init_activation_histogram.py` (§6.2.2, figs. 6-10 to 6-14): 1000
//! random samples of 100 values pass through 5 layers of 100 units, and the histogram of
//! each layer's activations shows what the initial weight scale does to them.
//!
//! The book's pictures: with sigmoid and std 1 the activations pile up at 0 and 1 (saturation:
//! vanishing gradients); with std 0.01 they collapse onto 0.5 (every unit says the same);
//! with Xavier's `√(1/n)` they stay spread over the range. With ReLU, std 0.01 and Xavier
//! shrink layer after layer towards 0, while He's `√(2/n)` keeps every layer alike.
//!
//! Only forward passes happen here, so the activation is a plain function, and tanh (which no
//! network of the book uses) is one of them.

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::init::{Init, gaussian};
use crate::rng::Rng;

/// The activation applied after each layer's product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Squash {
    /// `1 / (1 + e^(−a))`.
    Sigmoid,
    /// `max(0, a)`.
    Relu,
    /// `tanh(a)`.
    Tanh,
}

impl Squash {
    /// `sigmoid`, `relu` or `tanh`.
    pub fn key(self) -> &'static str {
        match self {
            Squash::Sigmoid => "sigmoid",
            Squash::Relu => "relu",
            Squash::Tanh => "tanh",
        }
    }

    fn apply(self, a: f64) -> f64 {
        match self {
            Squash::Sigmoid => 1.0 / (1.0 + (-a).exp()),
            Squash::Relu => a.max(0.0),
            Squash::Tanh => a.tanh(),
        }
    }

    /// The histogram range: the book's `range=(0, 1)` for sigmoid and ReLU (ReLU values
    /// above 1 fall outside, as in the book's picture), `(−1, 1)` for tanh, whose outputs
    /// are symmetric about 0 (the book's fixed (0, 1) would drop half of them).
    pub fn range(self) -> (f64, f64) {
        match self {
            Squash::Tanh => (-1.0, 1.0),
            _ => (0.0, 1.0),
        }
    }
}

impl std::str::FromStr for Squash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sigmoid" => Ok(Squash::Sigmoid),
            "relu" => Ok(Squash::Relu),
            "tanh" => Ok(Squash::Tanh),
            _ => Err(Error::Invalid(format!(
                "unknown activation {s:?}; expected sigmoid, relu or tanh"
            ))),
        }
    }
}

/// The sizes of the experiment (the book's: 1000 samples, 100 units, 5 layers, 30 bins).
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationsConfig {
    /// The activation.
    pub activation: Squash,
    /// The weight scale.
    pub init: Init,
    /// Input samples.
    pub samples: usize,
    /// Units per layer (and input values per sample).
    pub nodes: usize,
    /// Layers.
    pub layers: usize,
    /// Histogram bins.
    pub bins: usize,
    /// Seed of the inputs and weights.
    pub seed: u64,
}

impl Default for ActivationsConfig {
    fn default() -> Self {
        ActivationsConfig {
            activation: Squash::Sigmoid,
            init: Init::Std(1.0),
            samples: 1000,
            nodes: 100,
            layers: 5,
            bins: 30,
            seed: 42,
        }
    }
}

/// One layer's activations, summarised.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerStats {
    /// Mean of all activations of the layer.
    pub mean: f64,
    /// Standard deviation (population, like NumPy's `std`).
    pub std: f64,
    /// Counts in `bins` equal bins over the range, the last bin closed as in `np.histogram`.
    pub counts: Vec<usize>,
    /// Activations inside the range (counted in some bin).
    pub in_range: usize,
    /// All activations of the layer.
    pub total: usize,
}

impl LayerStats {
    /// The share of all activations that fell in bin `i`.
    pub fn share(&self, i: usize) -> f64 {
        self.counts[i] as f64 / self.total as f64
    }
}

/// Runs the experiment: the activations of each layer, summarised.
pub fn activations(cfg: &ActivationsConfig) -> Result<Vec<LayerStats>> {
    if cfg.samples == 0 || cfg.nodes == 0 || cfg.layers == 0 || cfg.bins == 0 {
        return Err(Error::Invalid(
            "samples, nodes, layers and bins must be positive".into(),
        ));
    }
    let mut x: Array2<f64> = gaussian(
        (cfg.samples, cfg.nodes),
        1.0,
        &mut Rng::stream(cfg.seed, "input"),
    );
    let mut rng = Rng::stream(cfg.seed, "init");
    let std = cfg.init.std(cfg.nodes);
    let (lo, hi) = cfg.activation.range();
    let mut out = Vec::with_capacity(cfg.layers);
    for _ in 0..cfg.layers {
        let w: Array2<f64> = gaussian((cfg.nodes, cfg.nodes), std, &mut rng);
        let a = x.dot(&w);
        x = a.mapv(|v| cfg.activation.apply(v));
        let n = x.len() as f64;
        let mean = x.sum() / n;
        let std = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let mut counts = vec![0; cfg.bins];
        let width = (hi - lo) / cfg.bins as f64;
        for &v in &x {
            if (lo..=hi).contains(&v) {
                let i = (((v - lo) / width) as usize).min(cfg.bins - 1);
                counts[i] += 1;
            }
        }
        out.push(LayerStats {
            mean,
            std,
            in_range: counts.iter().sum(),
            counts,
            total: x.len(),
        });
    }
    Ok(out)
}

/// The summaries as JSON: `{"activation", "init", "range", "layers": [{"layer", "mean",
/// "std", "counts", "in_range", "total"}]}`.
pub fn to_json(cfg: &ActivationsConfig, layers: &[LayerStats]) -> serde_json::Value {
    let (lo, hi) = cfg.activation.range();
    serde_json::json!({
        "activation": cfg.activation.key(),
        "init": cfg.init.to_string(),
        "samples": cfg.samples,
        "nodes": cfg.nodes,
        "range": [lo, hi],
        "bins": cfg.bins,
        "layers": layers.iter().enumerate().map(|(i, l)| serde_json::json!({
            "layer": i + 1,
            "mean": l.mean,
            "std": l.std,
            "counts": l.counts,
            "in_range": l.in_range,
            "total": l.total,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(activation: Squash, init: Init) -> Vec<LayerStats> {
        activations(&ActivationsConfig {
            activation,
            init,
            ..ActivationsConfig::default()
        })
        .unwrap()
    }

    /// Fig. 6-10: sigmoid with std 1 saturates — in every layer most activations sit in the
    /// outermost bins, next to 0 and 1, and the middle is nearly empty.
    #[test]
    fn sigmoid_std_1_saturates_at_0_and_1() {
        for (i, l) in run(Squash::Sigmoid, Init::Std(1.0)).iter().enumerate() {
            let edges = l.share(0) + l.share(29);
            let middle: f64 = (10..20).map(|b| l.share(b)).sum();
            assert!(edges > 0.5, "layer {}: edges {edges}", i + 1);
            assert!(middle < 0.15, "layer {}: middle {middle}", i + 1);
            assert!(l.std > 0.4, "layer {}: std {}", i + 1, l.std);
        }
    }

    /// Fig. 6-11: with std 0.01 everything collapses onto 0.5: the pre-activations have std
    /// 0.01·√100 = 0.1 at most, and sigmoid's slope there is ¼, so the spread is about 0.025
    /// in the first layer and half that after it; all but a few in 10⁴ fall between 0.4 and 0.6.
    #[test]
    fn sigmoid_std_001_collapses_to_one_half() {
        let layers = run(Squash::Sigmoid, Init::Std(0.01));
        for l in &layers {
            assert!((l.mean - 0.5).abs() < 0.01 && l.std < 0.03, "{l:?}");
            let middle: usize = l.counts[12..18].iter().sum();
            assert!(middle as f64 > 0.999 * l.total as f64, "{middle}");
        }
        // From layer 2 on the inputs are all ≈ 0.5, so a = Σ 0.5·w has std 0.5·0.01·√100.
        for l in &layers[1..] {
            assert!(l.std < 0.015, "{l:?}");
        }
    }

    /// Fig. 6-13: Xavier keeps the activations spread: neither at the edges nor at 0.5.
    #[test]
    fn sigmoid_xavier_stays_spread() {
        for l in run(Squash::Sigmoid, Init::Xavier) {
            let edges = l.share(0) + l.share(29);
            assert!(edges < 0.01, "{edges}");
            assert!(l.std > 0.05 && l.std < 0.3, "std {}", l.std);
            let nonempty = l.counts.iter().filter(|&&c| c > 0).count();
            assert!(nonempty >= 10, "{nonempty} bins used");
        }
    }

    /// Fig. 6-14: ReLU with He keeps each layer's spread alike; with std 0.01 and Xavier it
    /// shrinks layer after layer.
    #[test]
    fn relu_he_stays_even_others_shrink() {
        let std = |v: &[LayerStats]| v.iter().map(|l| l.std).collect::<Vec<_>>();
        let he = std(&run(Squash::Relu, Init::He));
        let (max, min) = he
            .iter()
            .fold((0.0_f64, f64::MAX), |(a, b), &s| (a.max(s), b.min(s)));
        assert!(max / min < 1.5, "He: {he:?}");
        for init in [Init::Std(0.01), Init::Xavier] {
            let s = std(&run(Squash::Relu, init));
            assert!(s.windows(2).all(|w| w[1] < w[0]), "{init}: {s:?}");
            assert!(s[4] < s[0] * 0.5, "{init}: {s:?}");
        }
        let tiny = std(&run(Squash::Relu, Init::Std(0.01)));
        assert!(tiny[4] < 1e-5, "{tiny:?}");
    }

    /// tanh is odd: its activations centre on 0, and with Xavier they stay spread.
    #[test]
    fn tanh_is_centred_on_zero() {
        for l in run(Squash::Tanh, Init::Xavier) {
            assert!(l.mean.abs() < 0.02, "{}", l.mean);
            assert!(l.std > 0.1, "{}", l.std);
            assert_eq!(l.in_range, l.total);
        }
    }

    #[test]
    fn histogram_counts_follow_numpy_binning() {
        // Every value is in [lo, hi] for sigmoid, so the bins hold all of them.
        for l in run(Squash::Sigmoid, Init::Xavier) {
            assert_eq!(l.in_range, l.total);
            assert_eq!(l.counts.iter().sum::<usize>(), 100_000);
        }
        assert!(
            activations(&ActivationsConfig {
                layers: 0,
                ..ActivationsConfig::default()
            })
            .is_err()
        );
    }
}
