//! From settings to an architecture: a model's name and the settings a caller gives (a
//! command line's flags, a binding's arguments), with the book's values for the rest, in one
//! place, so that every front end builds the same [`Arch`] from the same settings and
//! refuses the same combinations.

use super::{Activation, Arch, ConvParam};
use crate::error::{Error, Fix, Result};
use crate::init::Init;

/// A setting of an architecture, as [`ArchSettings`] takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Hidden layer sizes.
    Hidden,
    /// Hidden activation (multi-layer).
    Activation,
    /// Initial weights.
    Init,
    /// Batch norm after each hidden Affine (multi-layer).
    BatchNorm,
    /// Dropout ratio (multi-layer).
    Dropout,
    /// L2 weight decay (multi-layer).
    WeightDecay,
    /// Filters of the convolution (simple-conv).
    Filters,
    /// Filter side (simple-conv).
    FilterSize,
}

impl Setting {
    /// The setting's name in words (`batch norm`, `filter size`).
    pub fn words(self) -> &'static str {
        match self {
            Setting::Hidden => "hidden sizes",
            Setting::Activation => "activation",
            Setting::Init => "initialisation",
            Setting::BatchNorm => "batch norm",
            Setting::Dropout => "dropout",
            Setting::WeightDecay => "weight decay",
            Setting::Filters => "filter count",
            Setting::FilterSize => "filter size",
        }
    }
}

/// Which of the book's values fill the settings left open, and how strictly settings that a
/// model lacks are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defaults {
    /// The book's training settings ([`Arch::book`]): TwoLayerNet 50 hidden units with
    /// N(0, 0.01²) weights, MultiLayerNet 100×4 with ReLU and He weights, SimpleConvNet 30
    /// 5×5 filters and 100 hidden units, DeepConvNet 50 hidden units with He weights. Only
    /// multi-layer has a choice of activation (the others have ReLU), so an activation given
    /// to another model is refused; a fixed standard deviation (`std:σ`) sets two-layer's and
    /// simple-conv's weights.
    Training,
    /// The book's gradient checks (`ch05/gradient_check.py`,
    /// `ch06/batch_norm_gradient_check.py`, `ch07/gradient_check.py`): TwoLayerNet 50
    /// hidden units, MultiLayerNet 100×2, SimpleConvNet 10 3×3 filters and 10 hidden units,
    /// DeepConvNet 50. Batch norm, activation and initialisation are multi-layer's alone,
    /// the filters simple-conv's, and any of them given to another model is refused.
    GradientCheck,
}

/// Why [`ArchSettings::arch`] refused its settings (an [`Error::Needs`] with
/// [`Fix::Setting`]: a usage error).
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// Batch norm, dropout and weight decay belong to multi-layer; `model` was given one.
    MultiLayerOnly {
        /// The model.
        model: &'static str,
    },
    /// `setting` does not apply to `model` (the activation of a model other than
    /// multi-layer; with [`Defaults::GradientCheck`] also the others in [`Setting`]).
    NotForModel {
        /// The setting given.
        setting: Setting,
        /// The model.
        model: &'static str,
    },
    /// `model` has one hidden layer, and `hidden` sizes were given.
    OneHidden {
        /// The model.
        model: &'static str,
        /// The sizes given.
        hidden: Vec<usize>,
        /// Which defaults were asked for (the two are worded differently).
        defaults: Defaults,
    },
    /// The model's weights have a fixed standard deviation, and `init` was given.
    StdOnly {
        /// The initialisation given.
        init: Init,
    },
    /// deep-conv is always He-initialised.
    AlwaysHe,
}

impl std::fmt::Display for Refusal {
    /// What happened, in settings (not flags).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::MultiLayerOnly { model } => write!(
                f,
                "batch norm, dropout and weight decay need the multi-layer model, not {model}"
            ),
            Refusal::NotForModel { setting, model } => {
                write!(f, "the {} does not apply to {model}", setting.words())
            }
            Refusal::OneHidden { model, hidden, .. } => write!(
                f,
                "{model} has one hidden layer, got the hidden sizes {}",
                crate::run::sizes(hidden)
            ),
            Refusal::StdOnly { init } => write!(
                f,
                "this model's initial weights have a fixed standard deviation (std:<σ>), got \
                 {init}"
            ),
            Refusal::AlwaysHe => f.write_str("deep-conv is always He-initialised, as in the book"),
        }
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        Error::needs(r.to_string(), Fix::Setting(r))
    }
}

/// A model's name and the settings given for it; [`ArchSettings::arch`] fills the rest with
/// the book's values ([`Defaults`]) and refuses settings the model does not have.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchSettings<'a> {
    /// The model, one of [`Arch::NAMES`].
    pub model: &'a str,
    /// Hidden sizes: one for every model but multi-layer.
    pub hidden: Option<Vec<usize>>,
    /// Hidden activation of multi-layer [default: ReLU].
    pub activation: Option<Activation>,
    /// Initial weights.
    pub init: Option<Init>,
    /// Batch norm after each hidden Affine (multi-layer).
    pub batch_norm: bool,
    /// Dropout ratio after each hidden activation (multi-layer).
    pub dropout: Option<f64>,
    /// L2 weight decay λ (multi-layer; 0 is none).
    pub weight_decay: f64,
    /// Filters of simple-conv's convolution.
    pub filters: Option<usize>,
    /// Filter side of simple-conv's convolution.
    pub filter_size: Option<usize>,
    /// Which of the book's values fill the rest.
    pub defaults: Defaults,
}

impl<'a> ArchSettings<'a> {
    /// `model` with nothing else given: the book's architecture for `defaults`.
    pub fn new(model: &'a str, defaults: Defaults) -> Self {
        ArchSettings {
            model,
            hidden: None,
            activation: None,
            init: None,
            batch_norm: false,
            dropout: None,
            weight_decay: 0.0,
            filters: None,
            filter_size: None,
            defaults,
        }
    }

    /// The architecture: the given settings, the book's values for the rest. Settings the
    /// model does not have are refused ([`Refusal`]); an unknown model is
    /// [`Error::Invalid`].
    pub fn arch(&self) -> Result<Arch> {
        let Some(book) = Arch::book(self.model) else {
            return Err(Error::Invalid(format!(
                "unknown model {:?}; expected one of {}",
                self.model,
                Arch::NAMES.join(", ")
            )));
        };
        match self.defaults {
            Defaults::Training => self.training(book),
            Defaults::GradientCheck => self.gradient_check(book),
        }
    }

    /// The one hidden size of a model that has one, `default` if none was given.
    fn one_hidden(&self, model: &'static str, default: usize) -> Result<usize> {
        match self.hidden.as_deref() {
            None => Ok(default),
            Some(&[h]) => Ok(h),
            Some(more) => Err(Refusal::OneHidden {
                model,
                hidden: more.to_vec(),
                defaults: self.defaults,
            }
            .into()),
        }
    }

    /// The convolution: the given filters over `book`'s.
    fn conv(&self, book: ConvParam) -> ConvParam {
        ConvParam {
            filter_num: self.filters.unwrap_or(book.filter_num),
            filter_size: self.filter_size.unwrap_or(book.filter_size),
            ..book
        }
    }

    /// [`Defaults::Training`].
    fn training(&self, book: Arch) -> Result<Arch> {
        let model = book.name();
        let multi_only = self.batch_norm || self.dropout.is_some() || self.weight_decay != 0.0;
        let multi = matches!(book, Arch::MultiLayer { .. });
        if !multi && multi_only {
            return Err(Refusal::MultiLayerOnly { model }.into());
        }
        // The other nets have ReLU and nothing else: a sigmoid asked for must not quietly
        // train a ReLU net.
        if !multi && self.activation.is_some() {
            return Err(Refusal::NotForModel {
                setting: Setting::Activation,
                model,
            }
            .into());
        }
        // A fixed standard deviation (the book's `weight_init_std`).
        let std_init = |default: f64| match self.init {
            None => Ok(default),
            Some(Init::Std(s)) => Ok(s),
            Some(init) => Err(Error::from(Refusal::StdOnly { init })),
        };
        Ok(match book {
            Arch::TwoLayer {
                hidden,
                weight_init_std,
            } => Arch::TwoLayer {
                hidden: self.one_hidden(model, hidden)?,
                weight_init_std: std_init(weight_init_std)?,
            },
            Arch::SimpleConv {
                conv,
                hidden,
                weight_init_std,
            } => Arch::SimpleConv {
                conv: self.conv(conv),
                hidden: self.one_hidden(model, hidden)?,
                weight_init_std: std_init(weight_init_std)?,
            },
            Arch::DeepConv { hidden } => {
                if self.init.is_some_and(|i| i != Init::He) {
                    return Err(Refusal::AlwaysHe.into());
                }
                Arch::DeepConv {
                    hidden: self.one_hidden(model, hidden)?,
                }
            }
            // The book's MultiLayerNet defaults to weight_init_std='relu' (He).
            Arch::MultiLayer {
                hidden,
                activation,
                init,
                ..
            } => Arch::MultiLayer {
                hidden: self.hidden.clone().unwrap_or(hidden),
                activation: self.activation.unwrap_or(activation),
                init: self.init.unwrap_or(init),
                batch_norm: self.batch_norm,
                dropout: self.dropout,
                weight_decay: self.weight_decay,
            },
        })
    }

    /// [`Defaults::GradientCheck`].
    fn gradient_check(&self, book: Arch) -> Result<Arch> {
        let model = book.name();
        let multi = matches!(book, Arch::MultiLayer { .. });
        let conv = matches!(book, Arch::SimpleConv { .. });
        for (setting, given, applies) in [
            (Setting::BatchNorm, self.batch_norm, multi),
            (Setting::Init, self.init.is_some(), multi),
            (Setting::Activation, self.activation.is_some(), multi),
            (Setting::Dropout, self.dropout.is_some(), multi),
            (Setting::WeightDecay, self.weight_decay != 0.0, multi),
            (Setting::Filters, self.filters.is_some(), conv),
            (Setting::FilterSize, self.filter_size.is_some(), conv),
        ] {
            if given && !applies {
                return Err(Refusal::NotForModel { setting, model }.into());
            }
        }
        Ok(match book {
            Arch::TwoLayer {
                weight_init_std, ..
            } => Arch::TwoLayer {
                hidden: self.one_hidden(model, 50)?,
                weight_init_std,
            },
            Arch::SimpleConv {
                weight_init_std, ..
            } => Arch::SimpleConv {
                conv: self.conv(ConvParam {
                    filter_num: 10,
                    filter_size: 3,
                    pad: 0,
                    stride: 1,
                }),
                hidden: self.one_hidden(model, 10)?,
                weight_init_std,
            },
            Arch::DeepConv { hidden } => Arch::DeepConv {
                hidden: self.one_hidden(model, hidden)?,
            },
            Arch::MultiLayer { .. } => Arch::MultiLayer {
                hidden: self.hidden.clone().unwrap_or(vec![100, 100]),
                activation: self.activation.unwrap_or(Activation::Relu),
                init: self.init.unwrap_or(Init::He),
                batch_norm: self.batch_norm,
                dropout: self.dropout,
                weight_decay: self.weight_decay,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn training(model: &str) -> ArchSettings<'_> {
        ArchSettings::new(model, Defaults::Training)
    }

    fn check(model: &str) -> ArchSettings<'_> {
        ArchSettings::new(model, Defaults::GradientCheck)
    }

    fn refusal(r: Result<Arch>) -> Refusal {
        match r {
            Err(Error::Needs {
                fix: Fix::Setting(r),
                ..
            }) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn training_defaults_are_the_books() {
        assert_eq!(
            training("two-layer").arch().unwrap(),
            Arch::TwoLayer {
                hidden: 50,
                weight_init_std: 0.01
            }
        );
        assert_eq!(
            training("multi-layer").arch().unwrap(),
            Arch::MultiLayer {
                hidden: vec![100, 100, 100, 100],
                activation: Activation::Relu,
                init: Init::He,
                batch_norm: false,
                dropout: None,
                weight_decay: 0.0,
            }
        );
        assert_eq!(
            training("simple-conv").arch().unwrap(),
            Arch::SimpleConv {
                conv: ConvParam {
                    filter_num: 30,
                    filter_size: 5,
                    pad: 0,
                    stride: 1
                },
                hidden: 100,
                weight_init_std: 0.01
            }
        );
        assert_eq!(
            training("deep-conv").arch().unwrap(),
            Arch::DeepConv { hidden: 50 }
        );
    }

    #[test]
    fn training_settings_reach_the_architecture() {
        let s = ArchSettings {
            hidden: Some(vec![7]),
            init: Some(Init::Std(0.1)),
            ..training("two-layer")
        };
        assert_eq!(
            s.arch().unwrap(),
            Arch::TwoLayer {
                hidden: 7,
                weight_init_std: 0.1
            }
        );
        let s = ArchSettings {
            hidden: Some(vec![3, 4]),
            activation: Some(Activation::Sigmoid),
            init: Some(Init::Xavier),
            batch_norm: true,
            dropout: Some(0.5),
            weight_decay: 0.1,
            ..training("multi-layer")
        };
        assert_eq!(
            s.arch().unwrap(),
            Arch::MultiLayer {
                hidden: vec![3, 4],
                activation: Activation::Sigmoid,
                init: Init::Xavier,
                batch_norm: true,
                dropout: Some(0.5),
                weight_decay: 0.1,
            }
        );
        // He is deep-conv's own.
        let s = ArchSettings {
            init: Some(Init::He),
            ..training("deep-conv")
        };
        assert_eq!(s.arch().unwrap(), Arch::DeepConv { hidden: 50 });
    }

    #[test]
    fn training_refuses_what_the_model_lacks() {
        for model in ["two-layer", "simple-conv", "deep-conv"] {
            for s in [
                ArchSettings {
                    batch_norm: true,
                    ..training(model)
                },
                ArchSettings {
                    dropout: Some(0.5),
                    ..training(model)
                },
                ArchSettings {
                    weight_decay: 0.1,
                    ..training(model)
                },
            ] {
                assert!(matches!(
                    refusal(s.arch()),
                    Refusal::MultiLayerOnly { model: m } if m == model
                ));
            }
            // These nets have ReLU and no other: an activation, even ReLU, is refused
            // rather than ignored (a sigmoid asked for once trained a ReLU net).
            for activation in [Activation::Sigmoid, Activation::Relu] {
                let s = ArchSettings {
                    activation: Some(activation),
                    ..training(model)
                };
                assert_eq!(
                    refusal(s.arch()),
                    Refusal::NotForModel {
                        setting: Setting::Activation,
                        model: Arch::book(model).unwrap().name(),
                    }
                );
            }
            let s = ArchSettings {
                hidden: Some(vec![10, 10]),
                ..training(model)
            };
            assert_eq!(
                refusal(s.arch()),
                Refusal::OneHidden {
                    model: Arch::book(model).unwrap().name(),
                    hidden: vec![10, 10],
                    defaults: Defaults::Training
                }
            );
        }
        for model in ["two-layer", "simple-conv"] {
            let s = ArchSettings {
                init: Some(Init::He),
                ..training(model)
            };
            assert_eq!(refusal(s.arch()), Refusal::StdOnly { init: Init::He });
        }
        let s = ArchSettings {
            init: Some(Init::Xavier),
            ..training("deep-conv")
        };
        assert_eq!(refusal(s.arch()), Refusal::AlwaysHe);
        assert!(matches!(
            training("lenet").arch(),
            Err(Error::Invalid(m)) if m.contains("lenet")
        ));
    }

    #[test]
    fn gradient_check_defaults_are_the_books_scripts() {
        assert_eq!(
            check("two-layer").arch().unwrap(),
            Arch::TwoLayer {
                hidden: 50,
                weight_init_std: 0.01
            }
        );
        assert_eq!(
            check("multi-layer").arch().unwrap(),
            Arch::MultiLayer {
                hidden: vec![100, 100],
                activation: Activation::Relu,
                init: Init::He,
                batch_norm: false,
                dropout: None,
                weight_decay: 0.0,
            }
        );
        assert_eq!(
            check("simple-conv").arch().unwrap(),
            Arch::SimpleConv {
                conv: ConvParam {
                    filter_num: 10,
                    filter_size: 3,
                    pad: 0,
                    stride: 1
                },
                hidden: 10,
                weight_init_std: 0.01
            }
        );
        assert_eq!(
            check("deep-conv").arch().unwrap(),
            Arch::DeepConv { hidden: 50 }
        );
        let s = ArchSettings {
            filters: Some(4),
            filter_size: Some(5),
            hidden: Some(vec![7]),
            ..check("simple-conv")
        };
        assert!(matches!(
            s.arch().unwrap(),
            Arch::SimpleConv { conv, hidden: 7, .. } if conv.filter_num == 4 && conv.filter_size == 5
        ));
    }

    #[test]
    fn gradient_check_refuses_each_setting_a_model_lacks() {
        let cases = [
            (
                Setting::BatchNorm,
                ArchSettings {
                    batch_norm: true,
                    ..check("simple-conv")
                },
            ),
            (
                Setting::Init,
                ArchSettings {
                    init: Some(Init::He),
                    ..check("two-layer")
                },
            ),
            (
                Setting::Activation,
                ArchSettings {
                    activation: Some(Activation::Relu),
                    ..check("deep-conv")
                },
            ),
            (
                Setting::Filters,
                ArchSettings {
                    filters: Some(4),
                    ..check("two-layer")
                },
            ),
            (
                Setting::FilterSize,
                ArchSettings {
                    filter_size: Some(4),
                    ..check("multi-layer")
                },
            ),
        ];
        for (setting, s) in cases {
            assert!(matches!(
                refusal(s.arch()),
                Refusal::NotForModel { setting: got, .. } if got == setting
            ));
        }
        let s = ArchSettings {
            hidden: Some(vec![10, 10]),
            ..check("two-layer")
        };
        assert_eq!(
            refusal(s.arch()),
            Refusal::OneHidden {
                model: "two-layer",
                hidden: vec![10, 10],
                defaults: Defaults::GradientCheck
            }
        );
    }

    #[test]
    fn a_refusal_names_settings_not_flags() {
        let e = Error::from(Refusal::MultiLayerOnly { model: "two-layer" });
        assert!(!e.to_string().contains("--"), "{e}");
        assert!(e.to_string().contains("batch norm"), "{e}");
    }
}
