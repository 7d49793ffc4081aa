//! The first convolution layer's filters as a picture (the book's fig. 7-24,
//! `ch07/visualize_filter.py`).

use std::path::Path;

use ndarray::ArrayView4;

use crate::error::{Error, Result};
use crate::float::Float;

/// Filters per row of the grid, as in the book's `filter_show(filters, nx=8)`.
pub const COLUMNS: usize = 8;

/// How the filter grid is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterGrid {
    /// Each filter pixel becomes a `scale × scale` block.
    pub scale: usize,
    /// White pixels between neighbouring filters and around the grid.
    pub spacing: usize,
}

impl Default for FilterGrid {
    /// 8× upscaling with 4 pixels between filters.
    fn default() -> Self {
        FilterGrid {
            scale: 8,
            spacing: 4,
        }
    }
}

impl FilterGrid {
    /// The picture's `(width, height)` for `count` filters of `fh × fw`.
    pub fn size(&self, count: usize, fh: usize, fw: usize) -> (usize, usize) {
        let cols = count.clamp(1, COLUMNS);
        let rows = count.div_ceil(COLUMNS).max(1);
        let side = |n: usize, f: usize| n * f * self.scale + (n + 1) * self.spacing;
        (side(cols, fw), side(rows, fh))
    }

    /// Renders the filters `w` `(FN, C, FH, FW)` as an 8-bit grey image, row-major, and its
    /// `(width, height)`.
    ///
    /// Filter `i` sits in row `i / 8`, column `i % 8`. Only channel 0 is drawn, as in the
    /// book. Each filter is min-max normalised on its own and drawn with the book's
    /// `gray_r` colour map: its smallest value white, its largest black (a constant filter
    /// is mid-grey). The background is white.
    pub fn render<F: Float>(&self, w: ArrayView4<F>) -> (Vec<u8>, usize, usize) {
        let (count, _, fh, fw) = w.dim();
        let (width, height) = self.size(count, fh, fw);
        let mut pixels = vec![255u8; width * height];
        if w.dim().1 == 0 {
            return (pixels, width, height);
        }
        for i in 0..count {
            let filter = w.slice(ndarray::s![i, 0, .., ..]);
            let (lo, hi) = filter
                .iter()
                .fold((F::infinity(), F::neg_infinity()), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            let (x0, y0) = (
                self.spacing + (i % COLUMNS) * (fw * self.scale + self.spacing),
                self.spacing + (i / COLUMNS) * (fh * self.scale + self.spacing),
            );
            for ((fy, fx), &v) in filter.indexed_iter() {
                let level = if hi > lo {
                    ((v - lo) / (hi - lo)).to_f64_lossy()
                } else {
                    0.5
                };
                // gray_r: 0 → white, 1 → black.
                let grey = (255.0 * (1.0 - level)).round().clamp(0.0, 255.0) as u8;
                for dy in 0..self.scale {
                    let row = (y0 + fy * self.scale + dy) * width;
                    let start = row + x0 + fx * self.scale;
                    pixels[start..start + self.scale].fill(grey);
                }
            }
        }
        (pixels, width, height)
    }

    /// The filter grid of [`FilterGrid::render`] encoded as a PNG file's bytes.
    pub fn png<F: Float>(&self, w: ArrayView4<F>) -> Result<Vec<u8>> {
        let (pixels, width, height) = self.render(w);
        let too_big = || Error::Invalid(format!("filter image {width}×{height} is too large"));
        crate::io::image::encode_png(
            &pixels,
            u32::try_from(width).map_err(|_| too_big())?,
            u32::try_from(height).map_err(|_| too_big())?,
            png::ColorType::Grayscale,
        )
        .map_err(|e| Error::Invalid(format!("encoding the filter image: {e}")))
    }

    /// Writes the PNG of [`FilterGrid::png`] to `path` atomically (a temporary file beside
    /// it, then a rename).
    pub fn write_png<F: Float>(&self, w: ArrayView4<F>, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.png(w)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn thirty_5x5_filters_make_an_8_by_4_grid() {
        // Filter i holds i + (row·5 + col)/100, so within each filter the top-left pixel is
        // the minimum (white) and the bottom-right the maximum (black).
        let w = Array4::from_shape_fn((30, 1, 5, 5), |(i, _, y, x)| {
            i as f64 + (y * 5 + x) as f64 / 100.0
        });
        let grid = FilterGrid::default();
        let (info, pixels) = decode(&grid.png(w.view()).unwrap());
        // 8 columns of 5·8 pixels with 9 gaps of 4; 4 rows likewise.
        assert_eq!((info.width, info.height), (8 * 40 + 9 * 4, 4 * 40 + 5 * 4));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let at = |x: usize, y: usize| pixels[y * info.width as usize + x];
        assert_eq!(at(0, 0), 255, "spacing is white");
        // Filter 9 is row 1, column 1: its top-left block starts at (4 + 44, 4 + 44).
        assert_eq!(at(48, 48), 255);
        assert_eq!(at(48 + 39, 48 + 39), 0);
        // Its pixel (row 2, col 1) has level 11/24.
        assert_eq!(
            at(48 + 8 + 3, 48 + 16 + 7),
            (255.0_f64 * (1.0 - 11.0 / 24.0)).round() as u8
        );
        // The grid's last row holds filters 24..29; the rest of it stays white.
        assert_eq!(at(4 + 6 * 44 + 10, 4 + 3 * 44 + 10), 255);
    }

    #[test]
    fn writes_a_file_atomically() {
        let dir = std::env::temp_dir().join(format!("backprop-filters-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("filters.png");
        let w = Array4::<f32>::from_elem((3, 2, 3, 3), 1.0);
        FilterGrid::default().write_png(w.view(), &path).unwrap();
        let (info, pixels) = decode(&std::fs::read(&path).unwrap());
        assert_eq!((info.width, info.height), (3 * 24 + 4 * 4, 24 + 2 * 4));
        assert_eq!(
            pixels[4 * info.width as usize + 4],
            128,
            "a constant filter is mid-grey"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
