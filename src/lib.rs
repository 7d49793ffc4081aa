//! # backprop
//!
//! The layer-based backpropagation of *Deep Learning from Scratch* (밑바닥부터 시작하는
//! 딥러닝), chapter 5 onward, in Rust: computation-graph nodes, array layers with `forward`
//! and `backward` side by side, the book's networks, numerical gradient checks and a trainer.
//!
//! Data flows one way: dataset → batch → [`nets::Network::gradient`] (forward, loss,
//! backward) → gradients → [`optim::Optimizer`] → parameters.
//!
//! ```
//! use backprop::{data::{digits, Layout}, nets::TwoLayerNet, optim::Sgd, rng::Rng, train};
//!
//! let data = digits::load_digits()?.split(0.8, &mut Rng::stream(42, "split"));
//! let mut net = TwoLayerNet::<f32>::new(64, 50, 10, 0.01, &mut Rng::stream(42, "init"));
//! let cfg = train::TrainConfig { length: train::Length::Epochs(40), batch_size: 50, ..Default::default() };
//! let summary = train::train(&mut net, &mut Sgd::new(0.5), &data, &cfg, &mut |_| {})?;
//! assert!(summary.test_acc > 0.93);
//! # Ok::<(), backprop::Error>(())
//! ```

#![warn(missing_docs)]

pub mod alloc;
pub mod bench;
#[cfg(feature = "cli")]
pub mod cli;
pub mod cpu;
pub mod data;
pub mod error;
pub mod eval;
pub mod experiments;
pub mod export;
pub mod float;
pub mod functions;
pub mod gradient;
pub mod graph;
pub mod init;
pub mod io;
mod kernels;
#[cfg(feature = "lab")]
pub mod lab;
pub mod layers;
pub mod linalg;
pub mod nets;
pub mod optim;
pub mod parallel;
pub mod predict;
pub mod pyfmt;
pub mod report;
pub mod rng;
pub mod run;
pub mod train;

pub use error::{Error, Fix, Result};
pub use float::Float;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
