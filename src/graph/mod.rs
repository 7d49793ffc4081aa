//! The scalar computation graph of chapter 5: nodes with `forward` and `backward`.
//!
//! Each node computes its output from its inputs going forward and, going backward,
//! multiplies the incoming derivative by its local derivatives (the chain rule), one node at
//! a time, right to left.

mod add_layer;
mod mul_layer;
pub mod shopping;

pub use add_layer::AddLayer;
pub use mul_layer::MulLayer;
