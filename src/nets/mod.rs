//! The book's networks, built from [`crate::layers`].

mod arch;
mod network;
mod two_layer;

pub use arch::Arch;
pub use network::{NamedParam, Network};
pub use two_layer::TwoLayerNet;
