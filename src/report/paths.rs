//! Fig. 6-8: optimizer paths over the contour lines of the function they minimise
//! (`ch06/optimizer_compare_naive.py`).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::Drawing;
use super::fonts;
use crate::experiments::optimizer_paths::Path;

/// The four paths of [`crate::experiments::optimizer_paths`] in a 2×2 grid, each over the
/// ellipses `x²/20 + y² = c` for `c = 1 … 7` (the levels matplotlib's `contour` picks for
/// the book's masked grid), a red line with a dot at every point, and `+` at the minimum.
#[derive(Clone, Debug)]
pub struct PathsFigure<'a> {
    /// The paths, one panel each.
    pub paths: &'a [Path],
}

const PANEL: (u32, u32) = (520, 480);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(150, 150, 150);

impl Drawing for PathsFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let rows = self.paths.len().div_ceil(2).max(1) as u32;
        (PANEL.0 * 2, PANEL.1 * rows)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let rows = self.paths.len().div_ceil(2).max(1);
        let areas = root.split_evenly((rows, 2));
        for (path, area) in self.paths.iter().zip(areas.iter()) {
            panel(area, path).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    path: &Path,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let title = format!("{} (lr={})", path.name, path.lr);
    let mut chart = ChartBuilder::on(area)
        .caption(&title, (fonts::family(&title), 20))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(40)
        .build_cartesian_2d(-10.0..10.0, -10.0..10.0)?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc("y")
        .label_style((fonts::LATIN, 14))
        .axis_desc_style((fonts::LATIN, 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for c in 1..=7 {
        let (a, b) = ((20.0 * c as f64).sqrt(), (c as f64).sqrt());
        let ellipse = (0..=200).map(|k| {
            let t = k as f64 / 200.0 * std::f64::consts::TAU;
            (a * t.cos(), b * t.sin())
        });
        chart.draw_series(LineSeries::new(ellipse, GREY.stroke_width(1)))?;
    }
    let inside = |&(x, y): &(f64, f64)| x.abs() <= 10.0 && y.abs() <= 10.0;
    chart.draw_series(LineSeries::new(
        path.points.iter().copied().filter(inside),
        RED.stroke_width(2),
    ))?;
    chart.draw_series(
        path.points
            .iter()
            .copied()
            .filter(inside)
            .map(|p| Circle::new(p, 3, RED.filled())),
    )?;
    chart.draw_series(std::iter::once(Cross::new(
        (0.0, 0.0),
        6,
        BLACK.stroke_width(2),
    )))?;
    Ok(())
}
