//! Writing a figure drawn straight with plotters (contours, histograms, image grids) to PNG
//! or SVG, the same way [`super::plot::save`] writes line plots.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// A picture that can draw itself on any plotters backend.
pub trait Drawing {
    /// The picture's size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the picture on `root`, which is [`Drawing::size`] large.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>;
}

/// `drawing` as PNG bytes.
pub fn to_png(drawing: &impl Drawing) -> Result<Vec<u8>> {
    super::fonts::register()?;
    let (w, h) = drawing.size();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        drawing.draw(&root).map_err(failed)?;
        root.present().map_err(|e| failed(e.to_string()))?;
    }
    crate::io::image::encode_png(&rgb, w, h, png::ColorType::Rgb)
        .map_err(|e| Error::Invalid(format!("encoding the picture failed: {e}")))
}

/// `drawing` as an SVG document.
pub fn to_svg(drawing: &impl Drawing) -> Result<String> {
    super::fonts::register()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, drawing.size()).into_drawing_area();
        drawing.draw(&root).map_err(failed)?;
        root.present().map_err(|e| failed(e.to_string()))?;
    }
    Ok(svg)
}

fn failed(e: String) -> Error {
    Error::Invalid(format!("drawing the picture failed: {e}"))
}

/// Writes `drawing` to `path` atomically: PNG for `.png`, SVG for `.svg`.
pub fn save(drawing: &impl Drawing, path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match ext.as_deref() {
        Some("png") => to_png(drawing).map_err(|e| Error::format(path, e.to_string()))?,
        Some("svg") => to_svg(drawing)
            .map_err(|e| Error::format(path, e.to_string()))?
            .into_bytes(),
        _ => {
            return Err(Error::Invalid(format!(
                "{}: the picture file must end in .png or .svg",
                path.display()
            )));
        }
    };
    crate::io::write_atomic(path, &bytes)
}
