//! Arguments shared by several commands, and their validation.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::data::datasets::{self, Known};
use crate::error::{Error, Result};
use crate::optim::{Hyper, OptimizerKind};
use crate::run::DataSpec;

/// A flag whose values name library values: `choices` holds each value's name, its help
/// (listed by `--help`) and the value, so the flag needs no enum of its own.
pub fn named<T: Clone + Send + Sync + 'static>(
    choices: &'static [(&'static str, &'static str, T)],
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(
        choices
            .iter()
            .map(|(name, help, _)| clap::builder::PossibleValue::new(*name).help(*help)),
    )
    .map(move |s| {
        choices
            .iter()
            .find(|(name, _, _)| *name == s)
            .map(|(_, _, v)| v.clone())
            .expect("clap accepts only the listed names")
    })
}

/// The datasets `--dataset` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatasetName {
    /// The embedded UCI handwritten digits (8×8, 1797 samples), split 80/20 by the seed.
    Digits,
    /// MNIST handwritten digits (28×28, 60,000 + 10,000), from `--data`, $BACKPROP_DATA or
    /// the cache (`backprop data fetch mnist`).
    Mnist,
    /// Zalando's Fashion-MNIST (28×28, 60,000 + 10,000), found like MNIST or in
    /// /usr/share/datasets/fashion-mnist/ (Debian package dataset-fashion-mnist).
    FashionMnist,
}

impl DatasetName {
    /// The IDX set this name stands for; `None` for the embedded digits.
    pub fn known(self) -> Option<Known> {
        match self {
            DatasetName::Digits => None,
            DatasetName::Mnist => Some(Known::Mnist),
            DatasetName::FashionMnist => Some(Known::FashionMnist),
        }
    }
}

/// Where the data comes from, and the seed that every random choice flows from.
#[derive(Clone, Debug, Args)]
pub struct DataArgs {
    /// Dataset to use [default: digits, or what --data holds].
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetName>,
    /// A directory holding the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
    /// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; each raw or .gz).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Seed for the data split, the initial weights and the batch order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl DataArgs {
    /// The files `--data DIR` may be read from (each IDX file raw and gzipped), which no output
    /// may replace; none without `--data`.
    pub fn files(&self) -> Vec<PathBuf> {
        self.data
            .iter()
            .flat_map(|dir| {
                datasets::FILE_NAMES
                    .iter()
                    .flat_map(move |name| [dir.join(name), dir.join(format!("{name}.gz"))])
            })
            .collect()
    }

    /// The data source the flags name; `--data` with `--dataset digits` is a usage error.
    pub fn spec(&self) -> Result<DataSpec> {
        if let (Some(DatasetName::Digits), Some(dir)) = (self.dataset, &self.data) {
            return Err(Error::Invalid(format!(
                "--data {} reads IDX files, which conflicts with --dataset digits (the embedded \
                 set); drop one of them",
                dir.display()
            )));
        }
        Ok(self.source())
    }

    /// The data source the flags name, before [`DataArgs::spec`]'s check that they agree.
    pub fn source(&self) -> DataSpec {
        DataSpec {
            dataset: self.dataset.map(|d| match d.known() {
                Some(known) => known.name().to_string(),
                None => "digits".to_string(),
            }),
            dir: self.data.clone(),
            seed: self.seed,
            validation: None,
        }
    }
}

/// Parses a number that must be finite and greater than zero.
pub fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("must be a positive number, got {s}"))
    }
}

/// Parses an integer that must be at least 1.
pub fn positive_usize(s: &str) -> std::result::Result<usize, String> {
    let v: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if v >= 1 {
        Ok(v)
    } else {
        Err(format!("must be at least 1, got {s}"))
    }
}

/// Parses a thread count: at least 1, at most [`crate::parallel::max_threads`].
pub fn thread_count(s: &str) -> std::result::Result<usize, String> {
    let n = positive_usize(s)?;
    let max = crate::parallel::max_threads();
    if n <= max {
        Ok(n)
    } else {
        Err(format!(
            "at most {max} (4 per core of this machine), got {s}"
        ))
    }
}

/// Layer sizes given as one comma-separated value (a newtype so clap keeps it one value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes(pub Vec<usize>);

/// Parses a comma-separated list of layer sizes, each at least 1 (`100,100,100`).
pub fn hidden_sizes(s: &str) -> std::result::Result<Sizes, String> {
    s.split(',')
        .map(|p| positive_usize(p.trim()))
        .collect::<std::result::Result<_, _>>()
        .map(Sizes)
}

/// Parses a probability in `[0, 1)` (a dropout ratio).
pub fn ratio(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be in [0, 1), got {s}"))
    }
}

/// Parses a decay rate in `[0, 1)` (momentum, β₁, β₂, RMSprop's ρ).
pub fn decay(s: &str) -> std::result::Result<f64, String> {
    ratio(s)
}

/// Parses a value the library spells (`--init`, `--optimizer`, …) with its `FromStr`,
/// whose error becomes clap's.
pub fn parsed<T: std::str::FromStr<Err = Error>>(s: &str) -> std::result::Result<T, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// The update rule and its hyperparameters (book defaults when not given).
#[derive(Clone, Debug, Args)]
pub struct OptimizerArgs {
    /// Update rule: sgd, momentum, nesterov, adagrad, rmsprop or adam.
    #[arg(long, default_value = "sgd", value_parser = parsed::<OptimizerKind>)]
    pub optimizer: OptimizerKind,
    /// Learning rate [default: the optimizer's book default: 0.01, Adam 0.001; train's
    /// SGD 0.1 as in the book's chapter-5 run].
    #[arg(long, value_parser = positive_f64)]
    pub lr: Option<f64>,
    /// Momentum μ of momentum and nesterov [default: 0.9].
    #[arg(long, value_parser = decay)]
    pub momentum: Option<f64>,
    /// Adam's β₁ [default: 0.9].
    #[arg(long, value_parser = decay)]
    pub beta1: Option<f64>,
    /// Adam's β₂ [default: 0.999].
    #[arg(long, value_parser = decay)]
    pub beta2: Option<f64>,
    /// RMSprop's decay rate ρ [default: 0.99].
    #[arg(long, value_parser = decay)]
    pub decay_rate: Option<f64>,
}

impl OptimizerArgs {
    /// The hyperparameters as given (unset ones stay `None`).
    pub fn hyper(&self) -> Hyper {
        Hyper {
            lr: self.lr,
            momentum: self.momentum,
            beta1: self.beta1,
            beta2: self.beta2,
            decay_rate: self.decay_rate,
        }
    }
}

/// Where to draw a figure.
#[derive(Clone, Debug, Args)]
pub struct PlotArgs {
    /// Draw the figure into this file (.png or .svg).
    #[arg(long, value_name = "FILE.png|.svg", value_parser = plot_path)]
    pub plot: Option<PathBuf>,
}

/// Accepts a path ending in `.png` or `.svg`, checked before any training starts.
pub fn plot_path(s: &str) -> std::result::Result<PathBuf, String> {
    let p = PathBuf::from(s);
    match p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if e == "png" || e == "svg" => Ok(p),
        _ => Err(format!("{s}: the plot file must end in .png or .svg")),
    }
}
