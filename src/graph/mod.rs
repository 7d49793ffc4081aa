//! The scalar computation graph of chapter 5: nodes with `forward` and `backward`.
//!
//! Each node computes its output from its inputs going forward and, going backward,
//! multiplies the incoming derivative by its local derivatives (the chain rule), one node at
//! a time, right to left.

//!
//! [`Graph`] is the same idea for any expression ([`expr`]): a list of scalar nodes, each
//! with its forward rule and local derivative side by side, drawn by [`render`] the way the
//! book draws figs. 5-15 to 5-17.

mod add_layer;
pub mod expr;
mod mul_layer;
mod node;
pub mod render;
pub mod shopping;

pub use add_layer::AddLayer;
pub use mul_layer::MulLayer;
pub use node::{Graph, GraphRecord, InputRecord, Node, NodeId, Op, short};
