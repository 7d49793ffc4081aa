//! The book's networks, built from [`crate::layers`].

mod network;
mod two_layer;

pub use network::{NamedParam, Network};
pub use two_layer::TwoLayerNet;
