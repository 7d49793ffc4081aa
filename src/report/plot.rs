//! Line plots like the book's matplotlib figures, as PNG or SVG, through one function
//! ([`save`]) so every command draws the same way.
//!
//! Text is drawn by plotters' pure-Rust `ab_glyph` path with DejaVu Sans, shipped in
//! `assets/` (its licence is `assets/DejaVuSans-LICENSE.txt`), so plotting needs no system
//! font libraries.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// One line of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub label: String,
    /// `(x, y)` points; non-finite `y` values are skipped.
    pub points: Vec<(f64, f64)>,
    /// Draw dashed (the book draws training curves dashed next to solid test curves).
    pub dashed: bool,
}

impl Series {
    /// A solid line through `y` against `0, 1, 2, …`.
    pub fn from_values(label: impl Into<String>, y: &[f64]) -> Self {
        Series {
            label: label.into(),
            points: y.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect(),
            dashed: false,
        }
    }

    /// The same line, dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// One set of axes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// Title above the axes (may be empty).
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Fixed vertical range, like the book's `plt.ylim`; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// The lines.
    pub series: Vec<Series>,
    /// Put the legend in the lower right corner instead of the upper right (for rising
    /// curves such as accuracy).
    pub legend_lower_right: bool,
}

/// A grid of panels, filled row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The panels.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// Pixel size of one panel.
    pub panel_size: (u32, u32),
}

impl Figure {
    /// A figure of one panel, 800×500 pixels.
    pub fn single(panel: Panel) -> Self {
        Figure {
            panels: vec![panel],
            columns: 1,
            panel_size: (800, 500),
        }
    }
}

/// The family name the shipped font is registered under.
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| {
        ok = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok();
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(
            "the shipped font could not be loaded".into(),
        ))
    }
}

/// `figure` as an SVG document (for embedding, as in the HTML report).
pub fn to_svg(figure: &Figure) -> Result<String> {
    register_font()?;
    let columns = figure.columns.max(1);
    let rows = figure.panels.len().div_ceil(columns).max(1);
    let size = (
        figure.panel_size.0 * columns as u32,
        figure.panel_size.1 * rows as u32,
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root, figure, rows, columns)
            .map_err(|e| Error::Invalid(format!("drawing the plot failed: {e}")))?;
        root.present()
            .map_err(|e| Error::Invalid(format!("drawing the plot failed: {e}")))?;
    }
    Ok(svg)
}

/// Writes `figure` to `path`: PNG for `.png`, SVG for `.svg`. The file is written to a
/// temporary name in the same directory and renamed into place.
pub fn save(figure: &Figure, path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match ext.as_deref() {
        Some("png") => to_png(figure).map_err(|e| Error::format(path, e.to_string()))?,
        Some("svg") => to_svg(figure)
            .map_err(|e| Error::format(path, e.to_string()))?
            .into_bytes(),
        _ => {
            return Err(Error::Invalid(format!(
                "{}: the plot file must end in .png or .svg",
                path.display()
            )));
        }
    };
    crate::io::write_atomic(path, &bytes)
}

/// `figure` as PNG bytes: drawn into an RGB buffer, then encoded (plotters' own encoder
/// would pull in the `image` crate).
pub fn to_png(figure: &Figure) -> Result<Vec<u8>> {
    register_font()?;
    let columns = figure.columns.max(1);
    let rows = figure.panels.len().div_ceil(columns).max(1);
    let (w, h) = (
        figure.panel_size.0 * columns as u32,
        figure.panel_size.1 * rows as u32,
    );
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw(&root, figure, rows, columns)
            .map_err(|e| Error::Invalid(format!("drawing the plot failed: {e}")))?;
        root.present()
            .map_err(|e| Error::Invalid(format!("drawing the plot failed: {e}")))?;
    }
    let png = crate::io::image::encode_png(&rgb, w, h, png::ColorType::Rgb)
        .map_err(|e| Error::Invalid(format!("encoding the plot failed: {e}")))?;
    Ok(png)
}

/// Matplotlib's default colour cycle, so figures look like the book's.
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
    rows: usize,
    columns: usize,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((rows, columns));
    for (panel, area) in figure.panels.iter().zip(areas.iter()) {
        draw_panel(area, panel).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn ranges(panel: &Panel) -> ((f64, f64), (f64, f64)) {
    let finite = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let (mut x0, mut x1) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (mut y0, mut y1) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if x0 == x1 {
        x1 = x0 + 1.0;
    }
    if let Some(r) = panel.y_range {
        (y0, y1) = r;
    } else if y0 > y1 {
        (y0, y1) = (0.0, 1.0);
    } else {
        let pad = ((y1 - y0) * 0.05).max(1e-9);
        (y0, y1) = (y0 - pad, y1 + pad);
    }
    ((x0, x1), (y0, y1))
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let ((x0, x1), (y0, y1)) = ranges(panel);
    let (w, h) = area.dim_in_pixel();
    let text = (h as f64 / 28.0).clamp(11.0, 18.0);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, text * 1.2))
        .margin(8)
        .margin_right(24)
        .x_label_area_size(text * 2.6)
        .y_label_area_size(text * 3.8)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .label_style((FONT, text))
        .axis_desc_style((FONT, text))
        .light_line_style(WHITE.mix(0.0))
        .x_labels((w / 90).max(3) as usize)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .y_labels((h / 60).max(3) as usize)
        .draw()?;
    let clip = |(x, y): (f64, f64)| (x, y.clamp(y0, y1));
    for (i, s) in panel.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let style = ShapeStyle::from(color).stroke_width(2);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(clip)
            .collect();
        let anno = if s.dashed {
            chart.draw_series(DashedLineSeries::new(pts, 6, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(pts, style))?
        };
        let dashed = s.dashed;
        anno.label(&s.label).legend(move |(x, y)| {
            if dashed {
                PathElement::new(vec![(x, y), (x + 8, y)], style)
            } else {
                PathElement::new(vec![(x, y), (x + 20, y)], style)
            }
        });
    }
    if panel.series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .label_font((FONT, text))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(if panel.legend_lower_right {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .draw()?;
    }
    Ok(())
}

/// A tick label: integers without a decimal point, others with up to 4 significant digits.
fn tick(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 1e-3 {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    }
}

/// The book's `smooth_curve` (`common/util.py`), used for loss plots: mirror-pad by 10 on
/// each side (`x[10:0:-1] + x + x[-1:-11:-1]`), convolve with the normalised Kaiser window of
/// length 11 and β = 2, keep the middle `len(x)` values.
///
/// Inputs shorter than 11 points cannot be mirror-padded that way (the book's code fails or
/// misbehaves on them) and are returned unchanged.
pub fn smooth_curve(x: &[f64]) -> Vec<f64> {
    const WINDOW: usize = 11;
    let n = x.len();
    if n < WINDOW {
        return x.to_vec();
    }
    let w = kaiser(WINDOW, 2.0);
    let total: f64 = w.iter().sum();
    let mut s = Vec::with_capacity(n + 2 * (WINDOW - 1));
    s.extend((1..WINDOW).rev().map(|i| x[i]));
    s.extend_from_slice(x);
    s.extend((1..WINDOW).map(|i| x[n - i]));
    // y[j] = Σ_k w[k] s[j + k] over the "valid" range; the window is symmetric, so
    // convolution and correlation agree. The book then drops 5 values at each end.
    (0..n)
        .map(|j| {
            let start = j + WINDOW / 2;
            (0..WINDOW).map(|k| w[k] * s[start + k]).sum::<f64>() / total
        })
        .collect()
}

/// `numpy.kaiser(m, beta)`: `I₀(β √(1 − (2k/(m−1) − 1)²)) / I₀(β)` for `k = 0 … m−1`.
pub fn kaiser(m: usize, beta: f64) -> Vec<f64> {
    if m == 1 {
        return vec![1.0];
    }
    let denom = bessel_i0(beta);
    (0..m)
        .map(|k| {
            let r = 2.0 * k as f64 / (m - 1) as f64 - 1.0;
            bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / denom
        })
        .collect()
}

/// The modified Bessel function `I₀(x) = Σ ((x/2)ᵏ / k!)²`, summed until the terms stop
/// mattering (fast for the small arguments of a Kaiser window).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..500 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaiser_matches_numpy() {
        // numpy.kaiser(11, 2)
        let want = [
            0.4386762798370488,
            0.6113943543616491,
            0.7676749968275236,
            0.8921614338542881,
            0.9723298008693713,
            1.0,
        ];
        let got = kaiser(11, 2.0);
        for (k, w) in want.iter().enumerate() {
            assert!((got[k] - w).abs() < 1e-15, "{k}: {} vs {w}", got[k]);
            assert!((got[10 - k] - w).abs() < 1e-15);
        }
    }

    #[test]
    fn smooth_curve_matches_the_book_function() {
        // x[i] = (7i mod 13) + i/2, smoothed by the book's smooth_curve under NumPy 2.4.
        let x: Vec<f64> = (0..15)
            .map(|i| ((i * 7) % 13) as f64 + 0.5 * i as f64)
            .collect();
        let want = [
            5.70509615920208,
            5.552471044686337,
            6.176693025707088,
            6.469879876073767,
            7.490979529010933,
            8.113910818886277,
            9.386089181113721,
            10.113910818886279,
            10.704301919781846,
            11.163686469831346,
            11.799635868747785,
            11.68088495144523,
            11.88905225912374,
            12.021065585847591,
            12.084890571257016,
        ];
        let got = smooth_curve(&x);
        assert_eq!(got.len(), x.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{g} vs {w}");
        }
    }

    #[test]
    fn smooth_curve_keeps_constants_and_short_inputs() {
        assert!(
            smooth_curve(&[2.5; 30])
                .iter()
                .all(|&v| (v - 2.5).abs() < 1e-14)
        );
        assert_eq!(smooth_curve(&[1.0, 3.0]), vec![1.0, 3.0]);
    }

    #[test]
    fn writes_png_and_svg_and_rejects_other_extensions() {
        let dir = std::env::temp_dir().join(format!("backprop-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fig = Figure::single(Panel {
            title: "test".into(),
            x_label: "iterations".into(),
            y_label: "loss".into(),
            y_range: Some((0.0, 1.0)),
            legend_lower_right: false,
            series: vec![
                Series::from_values("a", &[0.9, 0.5, 0.3, f64::NAN, 0.2]),
                Series::from_values("b", &[0.8, 0.7, 0.6, 0.5, 2.0]).dashed(),
            ],
        });
        let png = dir.join("p.png");
        save(&fig, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let svg = dir.join("p.svg");
        save(&fig, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg") && text.contains("iterations"));
        let err = save(&fig, &dir.join("p.jpg")).unwrap_err();
        assert!(err.to_string().contains(".png or .svg"), "{err}");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 2, "temporary files left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
