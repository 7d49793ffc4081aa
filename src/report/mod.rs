//! Pictures of a run: plots and the HTML report.

pub mod html;
