//! The book's networks, built from [`crate::layers`].

mod arch;
mod deep_conv;
mod multi_layer;
mod network;
mod plan;
mod settings;
mod simple_conv;
mod two_layer;

pub use arch::{Arch, MAX_FORWARD_VALUES};
pub use deep_conv::{DEEP_CONV_MIN_SIDE, DeepConvNet};
pub use multi_layer::{Activation, MultiLayerConfig, MultiLayerNet};
pub use network::{NamedParam, Network};
pub use plan::{LayerKind, LayerPlan};
pub(crate) use plan::{param_name, tensor_name};
pub use settings::{ArchSettings, Defaults, Refusal, Setting};
pub use simple_conv::{ConvParam, SimpleConvNet};
pub use two_layer::TwoLayerNet;
