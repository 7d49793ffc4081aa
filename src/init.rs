//! Weight initialisation: Gaussian weights with the book's scales (§6.2).

use ndarray::{Array, Dimension, ShapeBuilder};

use crate::float::Float;
use crate::rng::Rng;

/// How the standard deviation of a layer's initial weights is chosen. Serialised as its
/// `--init` spelling (`"std:0.01"`, `"xavier"`, `"he"`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Init {
    /// A fixed standard deviation (the book's `weight_init_std=0.01`).
    Std(f64),
    /// `√(1/n)` for `n` inputs per unit, the book's one-sided "Xavier" (suited to sigmoid).
    Xavier,
    /// `√(2/n)` for `n` inputs per unit, He initialisation (suited to ReLU).
    He,
}

impl Init {
    /// The standard deviation for a layer with `fan_in` inputs per unit.
    pub fn std(self, fan_in: usize) -> f64 {
        match self {
            Init::Std(s) => s,
            Init::Xavier => (1.0 / fan_in as f64).sqrt(),
            Init::He => (2.0 / fan_in as f64).sqrt(),
        }
    }
}

impl std::str::FromStr for Init {
    type Err = crate::error::Error;

    /// Parses `std:0.01` (any positive number), `xavier` or `he`, as `--init` takes them.
    fn from_str(s: &str) -> crate::error::Result<Self> {
        let bad = || {
            crate::error::Error::Invalid(format!(
                "unknown initialisation {s:?}; expected std:<positive number>, xavier or he"
            ))
        };
        match s.to_ascii_lowercase().as_str() {
            "xavier" | "sigmoid" => Ok(Init::Xavier),
            "he" | "relu" => Ok(Init::He),
            other => {
                let v: f64 = other
                    .strip_prefix("std:")
                    .ok_or_else(bad)?
                    .parse()
                    .map_err(|_| bad())?;
                if v.is_finite() && v > 0.0 {
                    Ok(Init::Std(v))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl std::fmt::Display for Init {
    /// The `--init` spelling: `std:0.01`, `xavier`, `he`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Init::Std(s) => write!(f, "std:{s}"),
            Init::Xavier => f.write_str("xavier"),
            Init::He => f.write_str("he"),
        }
    }
}

impl From<Init> for String {
    fn from(init: Init) -> String {
        init.to_string()
    }
}

impl TryFrom<String> for Init {
    type Error = crate::error::Error;
    fn try_from(s: String) -> crate::error::Result<Init> {
        s.parse()
    }
}

/// An array of independent `N(0, std²)` samples, like `std * np.random.randn(*shape)`.
pub fn gaussian<F: Float, D: Dimension>(
    shape: impl ShapeBuilder<Dim = D>,
    std: f64,
    rng: &mut Rng,
) -> Array<F, D> {
    Array::from_shape_simple_fn(shape, || F::lit(std * rng.normal()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_scales() {
        assert!((Init::He.std(784) - 0.050508).abs() < 1e-6);
        assert!((Init::Xavier.std(784) - 0.035714).abs() < 1e-6);
        assert!((Init::He.std(100) - 0.141421).abs() < 1e-6);
        assert_eq!(Init::Xavier.std(100), 0.1);
        assert_eq!(Init::Std(0.01).std(784), 0.01);
    }

    #[test]
    fn parses_the_cli_spellings() {
        assert_eq!("std:0.01".parse::<Init>().unwrap(), Init::Std(0.01));
        assert_eq!("Xavier".parse::<Init>().unwrap(), Init::Xavier);
        assert_eq!("he".parse::<Init>().unwrap(), Init::He);
        assert_eq!("relu".parse::<Init>().unwrap(), Init::He); // the book's alias
        for bad in ["std:", "std:-1", "std:nan", "glorot", "0.01"] {
            assert!(bad.parse::<Init>().is_err(), "{bad}");
        }
        assert_eq!(
            Init::Std(0.01).to_string().parse::<Init>().unwrap(),
            Init::Std(0.01)
        );
    }

    #[test]
    fn gaussian_has_the_requested_spread() {
        let w: ndarray::Array2<f64> = gaussian((300, 300), 0.01, &mut Rng::new(0));
        let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        assert!((var.sqrt() - 0.01).abs() < 2e-4, "{}", var.sqrt());
    }
}
