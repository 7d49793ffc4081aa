//! Pictures and reports of trained networks.

pub mod filters;
