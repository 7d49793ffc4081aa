//! Pictures of runs and networks: figures like the book's, filter grids and the HTML report.

pub mod canvas;
pub mod feature_maps;
pub mod filters;
pub mod fonts;
pub mod histograms;
pub mod html;
pub mod mistakes;
pub mod paths;
pub mod plot;
pub mod run;
pub mod style;
