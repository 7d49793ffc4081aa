//! Arguments shared by several commands, and their validation.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::data::datasets::{self, Known};
use crate::data::{Split, digits};
use crate::error::{Error, Result};
use crate::rng::Rng;

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
    /// Loads the dataset's training and test parts.
    ///
    /// The embedded digits are split 80/20 by the seed; IDX sets come with their own split.
    pub fn load(&self) -> Result<Split> {
        match (self.dataset, &self.data) {
            (Some(DatasetName::Digits), Some(dir)) => Err(Error::Invalid(format!(
                "--data {} reads IDX files, which conflicts with --dataset digits (the embedded \
                 set); drop one of them",
                dir.display()
            ))),
            (None | Some(DatasetName::Digits), None) => {
                Ok(digits::load_digits()?.split(0.8, &mut Rng::stream(self.seed, "split")))
            }
            (Some(name), dir) => {
                let known = name.known().expect("not digits");
                datasets::load_known(known, dir.as_deref())
            }
            (None, Some(dir)) => Ok(datasets::load_dir(dir, None)?.0),
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
