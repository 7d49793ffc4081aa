//! Pictures of runs and networks: figures like the book's, filter grids and the HTML report.

pub mod filters;
pub mod html;
pub mod plot;
pub mod run;
pub mod style;
