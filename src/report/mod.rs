//! Pictures of a run and of a network: plots, filter grids and the HTML report.

pub mod filters;
pub mod html;
