//! Arguments shared by several commands, and their validation.

use clap::{Args, ValueEnum};

use crate::data::{Split, digits};
use crate::error::Result;
use crate::rng::Rng;

/// The datasets `--dataset` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatasetName {
    /// The embedded UCI handwritten digits (8×8, 1797 samples), split 80/20 by the seed.
    Digits,
}

/// Where the data comes from, and the seed that every random choice flows from.
#[derive(Clone, Debug, Args)]
pub struct DataArgs {
    /// Dataset to use.
    #[arg(long, value_enum, default_value_t = DatasetName::Digits)]
    pub dataset: DatasetName,
    /// Seed for the data split, the initial weights and the batch order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl DataArgs {
    /// Loads the dataset's training and test parts.
    pub fn load(&self) -> Result<Split> {
        match self.dataset {
            DatasetName::Digits => {
                Ok(digits::load_digits()?.split(0.8, &mut Rng::stream(self.seed, "split")))
            }
        }
    }

    /// The dataset's name as the user typed it.
    pub fn name(&self) -> String {
        self.dataset
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
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
