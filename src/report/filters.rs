//! The first convolution layer's filters as a picture (the book's fig. 7-24,
//! `ch07/visualize_filter.py`).

use std::path::Path;

use ndarray::ArrayView4;

use super::style::{self, text};
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
    /// 12× upscaling with 6 pixels between filters (a 5×5 filter is 60 pixels wide, so a
    /// grid of 30 is 534 pixels wide).
    fn default() -> Self {
        FilterGrid {
            scale: 12,
            spacing: 6,
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
                let grey = style::weight_grey(level);
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

/// Where [`figure_png`] put each grid, in pixels of the picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FigureLayout {
    /// The picture's `(width, height)`.
    pub size: (usize, usize),
    /// Each grid's top-left corner and `(width, height)`.
    pub grids: Vec<((usize, usize), (usize, usize))>,
}

/// Margin around the picture and between grids.
const MARGIN: usize = 24;

/// Filter grids side by side in one titled picture, as the book's fig. 7-24 shows the
/// filters before and after training: `title` on top, each grid under its heading, and
/// under them a grey-scale key (white: a filter's smallest weight, black: its largest).
/// Returns RGB pixels and where the grids went.
pub fn figure<F: Float>(
    grid: &FilterGrid,
    title: &str,
    panels: &[(&str, ArrayView4<F>)],
) -> Result<(Vec<u8>, FigureLayout)> {
    let rendered: Vec<(Vec<u8>, usize, usize)> =
        panels.iter().map(|(_, w)| grid.render(w.view())).collect();
    let title_h = (text::FIGURE_TITLE * 2.4) as usize;
    let head_h = (text::PANEL_TITLE * 2.0) as usize;
    let key_h = (text::TICK * 4.0) as usize;
    let grids_w: usize =
        rendered.iter().map(|r| r.1).sum::<usize>() + MARGIN * rendered.len().saturating_sub(1);
    let key_w = 240;
    let width = (grids_w.max(key_w) + 2 * MARGIN).max(title.chars().count() * 12 + 2 * MARGIN);
    let grid_h = rendered.iter().map(|r| r.2).max().unwrap_or(0);
    let height = title_h + head_h + grid_h + key_h + MARGIN / 2;
    if width.checked_mul(height).is_none_or(|n| n > 1 << 26) {
        return Err(Error::Invalid(format!(
            "a filter picture of {width}×{height} pixels is too large"
        )));
    }
    let mut rgb = vec![255u8; width * height * 3];
    let mut layout = FigureLayout {
        size: (width, height),
        grids: Vec::new(),
    };
    let mut x = (width - grids_w) / 2;
    let y = title_h + head_h;
    for (pixels, w, h) in &rendered {
        for row in 0..*h {
            for col in 0..*w {
                let v = pixels[row * w + col];
                let i = ((y + row) * width + x + col) * 3;
                rgb[i..i + 3].fill(v);
            }
        }
        layout.grids.push(((x, y), (*w, *h)));
        x += w + MARGIN;
    }
    // The key: a bar from white to black.
    let (bar_x, bar_y, bar_w, bar_h) = ((width - key_w) / 2, y + grid_h + 12, key_w, 14);
    for col in 0..bar_w {
        let v = style::weight_grey(col as f64 / (bar_w - 1) as f64);
        for row in 0..bar_h {
            let i = ((bar_y + row) * width + bar_x + col) * 3;
            rgb[i..i + 3].fill(v);
        }
    }
    let mut texts = vec![super::plot::Label {
        text: title.to_string(),
        size: text::FIGURE_TITLE,
        at: (width as f64 / 2.0, title_h as f64 / 2.0),
        anchor: super::plot::Anchor::Centre,
    }];
    for ((heading, _), ((gx, _), (gw, _))) in panels.iter().zip(&layout.grids) {
        texts.push(super::plot::Label {
            text: heading.to_string(),
            size: text::PANEL_TITLE,
            at: ((gx + gw / 2) as f64, (title_h + head_h / 2) as f64),
            anchor: super::plot::Anchor::Centre,
        });
    }
    // Beside the bar: "smallest weight" ends 8 px left of it (about 8.5 px per character).
    let key_y = (bar_y + bar_h / 2) as f64;
    texts.push(super::plot::Label {
        text: "smallest weight".into(),
        size: text::TICK,
        at: (bar_x as f64 - 8.0 - 15.0 * 8.5, key_y),
        anchor: super::plot::Anchor::Left,
    });
    texts.push(super::plot::Label {
        text: "largest weight".into(),
        size: text::TICK,
        at: ((bar_x + bar_w) as f64 + 8.0, key_y),
        anchor: super::plot::Anchor::Left,
    });
    super::plot::draw_labels(&mut rgb, width as u32, height as u32, &texts)?;
    Ok((rgb, layout))
}

/// [`figure`] as a PNG file's bytes.
pub fn figure_png<F: Float>(
    grid: &FilterGrid,
    title: &str,
    panels: &[(&str, ArrayView4<F>)],
) -> Result<Vec<u8>> {
    let (rgb, layout) = figure(grid, title, panels)?;
    let (w, h) = layout.size;
    crate::io::image::encode_png(&rgb, w as u32, h as u32, png::ColorType::Rgb)
        .map_err(|e| Error::Invalid(format!("encoding the filter image: {e}")))
}

/// The first layer's filters of `net` (its first parameter, `W1`, when it is 4-D), or an
/// error naming `what` (the model) when the network has no convolution first.
pub fn first_filters<F: Float>(
    net: &mut crate::nets::Network<F>,
    what: &str,
) -> Result<ndarray::Array4<F>> {
    let params = net.params();
    params
        .first()
        .and_then(|p| p.value.view().into_dimensionality::<ndarray::Ix4>().ok())
        .map(|w| w.to_owned())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{what} has no convolution layer: its W1 is not 4-D"
            ))
        })
}

/// A freshly initialised network of the architecture `info` records (weights drawn from
/// `seed`'s `init` stream, as training starts): the "before training" network.
pub fn fresh_network<F: Float>(
    info: &crate::io::safetensors::ModelInfo,
    seed: u64,
) -> Result<crate::nets::Network<F>> {
    info.arch.build(
        info.image_shape,
        info.class_names.len(),
        &mut crate::rng::Rng::stream(seed, "init"),
    )
}

/// The book's fig. 7-24 for a loaded model: its first-layer filters (channel 1) as a titled
/// PNG grid headed "after training", and with `fresh = Some(seed)` beside them those of a
/// [`fresh_network`] headed "before training (seed …)". `name` names the model in errors,
/// `file_name` in the title. Returns the PNG's bytes and the number of filters.
pub fn model_filters_png(
    model: &mut crate::io::safetensors::LoadedModel<f32>,
    name: &str,
    file_name: &str,
    fresh: Option<u64>,
) -> Result<(Vec<u8>, usize)> {
    let trained = first_filters(&mut model.net, name)?;
    let (count, _, fh, fw) = trained.dim();
    let title = format!("first-layer filters (W1: {count} of {fh}×{fw}, channel 1) of {file_name}");
    let grid = FilterGrid::default();
    let png = match fresh {
        Some(seed) => {
            let mut net = fresh_network::<f32>(&model.info, seed)?;
            let before = first_filters(&mut net, "a fresh initialisation")?;
            figure_png(
                &grid,
                &title,
                &[
                    (&format!("before training (seed {seed})"), before.view()),
                    ("after training", trained.view()),
                ],
            )?
        }
        None => figure_png(&grid, &title, &[("after training", trained.view())])?,
    };
    Ok((png, count))
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

    /// SimpleConvNet's W1 is its first layer's 30 filters of 1×5×5, the same for the same
    /// seed; a two-layer net has no filters, and the error names the model.
    #[test]
    fn first_filters_are_w1_of_a_conv_net_only() {
        let info = |arch: &str| crate::io::safetensors::ModelInfo {
            arch: crate::nets::Arch::book(arch).unwrap(),
            image_shape: [1, 8, 8],
            class_names: (0..10).map(|c| c.to_string()).collect(),
            dataset: "digits".into(),
            train_config: serde_json::Value::Null,
        };
        let conv = info("simple-conv");
        let w = first_filters(&mut fresh_network::<f32>(&conv, 7).unwrap(), "m").unwrap();
        assert_eq!(w.dim(), (30, 1, 5, 5));
        let again = first_filters(&mut fresh_network::<f32>(&conv, 7).unwrap(), "m").unwrap();
        assert_eq!(w, again);
        let other = first_filters(&mut fresh_network::<f32>(&conv, 8).unwrap(), "m").unwrap();
        assert_ne!(w, other);
        let mut mlp = fresh_network::<f32>(&info("two-layer"), 7).unwrap();
        let e = first_filters(&mut mlp, "m.safetensors")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.safetensors has no convolution layer"), "{e}");
    }

    #[test]
    fn thirty_5x5_filters_make_an_8_by_4_grid() {
        // Filter i holds i + (row·5 + col)/100, so within each filter the top-left pixel is
        // the minimum (white) and the bottom-right the maximum (black).
        let w = Array4::from_shape_fn((30, 1, 5, 5), |(i, _, y, x)| {
            i as f64 + (y * 5 + x) as f64 / 100.0
        });
        let grid = FilterGrid {
            scale: 8,
            spacing: 4,
        };
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
        FilterGrid {
            scale: 8,
            spacing: 4,
        }
        .write_png(w.view(), &path)
        .unwrap();
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

    #[test]
    fn before_and_after_share_one_titled_picture() {
        let before = Array4::from_shape_fn((30, 1, 5, 5), |(i, _, y, x)| {
            ((i * 7 + y * 3 + x) % 11) as f64
        });
        let after = Array4::from_shape_fn((30, 1, 5, 5), |(i, _, y, x)| {
            i as f64 + (y * 5 + x) as f64 / 100.0
        });
        let grid = FilterGrid::default();
        let (rgb, layout) = figure(
            &grid,
            "filters",
            &[
                ("before training", before.view()),
                ("after training", after.view()),
            ],
        )
        .unwrap();
        let (w, h) = layout.size;
        assert_eq!(rgb.len(), w * h * 3);
        assert_eq!(layout.grids.len(), 2);
        // Side by side, the "after" grid right of the "before" grid, both 534 × 270.
        let (((x0, y0), s0), ((x1, y1), s1)) = (layout.grids[0], layout.grids[1]);
        assert_eq!((s0, s1), ((534, 270), (534, 270)));
        assert_eq!(y0, y1);
        assert!(x1 >= x0 + s0.0 + MARGIN);
        // Each holds exactly the grid of its filters (grey, R = G = B).
        for (k, wts) in [before.view(), after.view()].into_iter().enumerate() {
            let (pixels, gw, gh) = grid.render(wts);
            let ((gx, gy), _) = layout.grids[k];
            for row in (0..gh).step_by(7) {
                for col in (0..gw).step_by(5) {
                    let i = ((gy + row) * w + gx + col) * 3;
                    assert_eq!(
                        &rgb[i..i + 3],
                        &[pixels[row * gw + col]; 3],
                        "{k} {row} {col}"
                    );
                }
            }
        }
        // Text above the grids: the title and headings put dark pixels there.
        let dark_above = (0..y0 * w).filter(|&p| rgb[p * 3] < 100).count();
        assert!(dark_above > 200, "{dark_above}");
        // The key under them runs from white to black.
        let bar_y = y0 + s0.1 + 12 + 7;
        let row = |x: usize| rgb[(bar_y * w + x) * 3];
        assert_eq!(row((w - 240) / 2), 255);
        assert_eq!(row((w - 240) / 2 + 239), 0);
    }
}
