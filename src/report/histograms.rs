//! Figs. 6-10 to 6-14: the histogram of each layer's activations
//! (`ch06/weight_init_activation_histogram.py`).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::Drawing;
use super::fonts;
use crate::experiments::activations::{ActivationsConfig, LayerStats};

/// One panel per layer, side by side, titled `1-layer`, `2-layer`, … as in the book, each a
/// histogram of the layer's activations over the range, on a shared vertical scale.
#[derive(Clone, Debug)]
pub struct HistogramsFigure<'a> {
    /// The run's settings (range, bins, what to put in the title).
    pub config: &'a ActivationsConfig,
    /// The layers.
    pub layers: &'a [LayerStats],
}

const PANEL: (u32, u32) = (260, 300);
const BLUE: RGBColor = RGBColor(31, 119, 180);

impl Drawing for HistogramsFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (PANEL.0 * self.layers.len().max(1) as u32, PANEL.1 + 40)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let title = format!(
            "{} activations, weights {}",
            self.config.activation.key(),
            self.config.init
        );
        let root = root
            .titled(&title, (fonts::family(&title), 20))
            .map_err(|e| e.to_string())?;
        let areas = root.split_evenly((1, self.layers.len().max(1)));
        let top = self
            .layers
            .iter()
            .flat_map(|l| l.counts.iter())
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64
            * 1.05;
        for (i, (layer, area)) in self.layers.iter().zip(areas.iter()).enumerate() {
            self.panel(area, i, layer, top).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl HistogramsFigure<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        i: usize,
        layer: &LayerStats,
        top: f64,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (lo, hi) = self.config.activation.range();
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{}-layer", i + 1), (fonts::LATIN, 16))
            .margin(6)
            .x_label_area_size(26)
            .y_label_area_size(if i == 0 { 52 } else { 8 })
            .build_cartesian_2d(lo..hi, 0.0..top)?;
        chart
            .configure_mesh()
            .label_style((fonts::LATIN, 12))
            .light_line_style(WHITE.mix(0.0))
            .x_labels(3)
            .y_labels(if i == 0 { 5 } else { 0 })
            .y_label_formatter(&|v| format!("{}", *v as i64))
            .draw()?;
        let width = (hi - lo) / layer.counts.len() as f64;
        chart.draw_series(layer.counts.iter().enumerate().map(|(b, &c)| {
            let x0 = lo + b as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], BLUE.filled())
        }))?;
        Ok(())
    }
}
