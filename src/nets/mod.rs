//! The book's networks, built from [`crate::layers`].

mod arch;
mod multi_layer;
mod network;
mod two_layer;

pub use arch::Arch;
pub use multi_layer::{Activation, MultiLayerConfig, MultiLayerNet};
pub use network::{NamedParam, Network};
pub use two_layer::TwoLayerNet;
