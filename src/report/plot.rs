//! Line plots like the book's matplotlib figures, as PNG or SVG, through one function
//! ([`save`]) so every command draws the same way, in the style of [`super::style`].
//!
//! What every figure gets:
//! - each line in its own colour, dash pattern and markers ([`style::cycle`]; training curves
//!   [`style::TRAIN`], test and validation curves [`style::TEST`]);
//! - the legend where it covers nothing: in a corner of the axes that no line or reference
//!   line crosses (measured on the drawn pixels), else beside the axes; a figure of several
//!   panels showing the same lines has one legend above them all ([`layout`] reports where
//!   everything went, so tests can check it);
//! - whole-number ticks on epoch axes ([`Panel::x_integer`]), optional reference lines such
//!   as the chance-level loss ([`Reference`]);
//! - PNGs drawn at three (large figures two) times their size and averaged down, which
//!   anti-aliases lines and text (plotters' bitmap backend draws aliased lines).
//!
//! Text is drawn by plotters' pure-Rust `ab_glyph` path with DejaVu Sans, shipped in
//! `assets/` (its licence is `assets/DejaVuSans-LICENSE.txt`), so plotting needs no system
//! font libraries.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor;

use super::fonts;
use super::style::{self, Dash, LineStyle, Marker, text};
use crate::error::{Error, Result};

/// One line of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub label: String,
    /// `(x, y)` points; non-finite `y` values are skipped.
    pub points: Vec<(f64, f64)>,
    /// Colour, dashes and markers; `None` takes [`style::cycle`] of the series' position.
    pub style: Option<LineStyle>,
    /// Draw thin and pale, without markers (raw values behind their smoothed curve).
    pub faint: bool,
}

impl Series {
    /// A line through `y` against `0, 1, 2, …`.
    pub fn from_values(label: impl Into<String>, y: &[f64]) -> Self {
        Series::from_points(
            label,
            y.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect(),
        )
    }

    /// A line through `points`.
    pub fn from_points(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            style: None,
            faint: false,
        }
    }

    /// The same line in `style`.
    pub fn styled(mut self, style: LineStyle) -> Self {
        self.style = Some(style);
        self
    }

    /// The same line as a training curve ([`style::TRAIN`]).
    pub fn train(self) -> Self {
        self.styled(style::TRAIN)
    }

    /// The same line as a test or validation curve ([`style::TEST`]).
    pub fn test(self) -> Self {
        self.styled(style::TEST)
    }

    /// The same line, thin and pale.
    pub fn faint(mut self) -> Self {
        self.faint = true;
        self
    }
}

/// A horizontal reference line with its label, such as the loss of guessing.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// Its height.
    pub y: f64,
    /// Text drawn on it, at the left.
    pub label: String,
}

impl Reference {
    /// The cross-entropy loss of a classifier that gives every one of `classes` classes the
    /// same probability, `ln classes` (2.30 for ten): a loss that stays there has learnt
    /// nothing.
    pub fn chance_loss(classes: usize) -> Self {
        let y = (classes.max(1) as f64).ln();
        Reference {
            y,
            label: format!("chance level: ln {classes} = {y:.2}"),
        }
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
    /// When the range is fitted, start it at 0 (losses: a flat loss must look flat).
    pub y_from_zero: bool,
    /// Ticks on the horizontal axis only at whole numbers (epochs).
    pub x_integer: bool,
    /// Horizontal reference lines.
    pub references: Vec<Reference>,
    /// A heading over the legend's entries (such as "smoothed loss"; may be empty).
    pub legend_title: String,
    /// The lines.
    pub series: Vec<Series>,
}

/// A grid of panels, filled row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Title above all panels (may be empty; a one-panel figure uses its panel's title).
    pub title: String,
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
            title: String::new(),
            panels: vec![panel],
            columns: 1,
            panel_size: (800, 500),
        }
    }

    /// The size in pixels of the whole figure, strips for its title and shared legend
    /// included.
    pub fn size(&self) -> (u32, u32) {
        let columns = self.columns.max(1);
        let rows = self.panels.len().div_ceil(columns).max(1);
        let mut h = self.panel_size.1 * rows as u32;
        if !self.title.is_empty() {
            h += title_strip(1.0) as u32;
        }
        if shared_legend(self).is_some() {
            h += legend_strip(1.0) as u32;
        }
        (self.panel_size.0 * columns as u32, h)
    }
}

/// A rectangle in pixels of the figure at its nominal size, `x0 < x1`, `y0 < y1`, y down.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rect {
    /// Left.
    pub x0: f64,
    /// Top.
    pub y0: f64,
    /// Right.
    pub x1: f64,
    /// Bottom.
    pub y1: f64,
}

impl Rect {
    fn scaled(self, f: f64) -> Rect {
        Rect {
            x0: self.x0 * f,
            y0: self.y0 * f,
            x1: self.x1 * f,
            y1: self.y1 * f,
        }
    }

    /// Whether the two rectangles share any area.
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    /// Whether the segment from `p` to `q` passes through the rectangle (Liang–Barsky
    /// clipping).
    pub fn hit_by_segment(&self, p: (f64, f64), q: (f64, f64)) -> bool {
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (pk, qk) in [
            (-dx, p.0 - self.x0),
            (dx, self.x1 - p.0),
            (-dy, p.1 - self.y0),
            (dy, self.y1 - p.1),
        ] {
            if pk == 0.0 {
                if qk < 0.0 {
                    return false;
                }
            } else {
                let r = qk / pk;
                if pk < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
                if t0 > t1 {
                    return false;
                }
            }
        }
        true
    }

    /// Whether any segment of the polyline passes through the rectangle.
    pub fn hit_by_line(&self, line: &[(f64, f64)]) -> bool {
        match line {
            [] => false,
            [p] => self.hit_by_segment(*p, *p),
            _ => line.windows(2).any(|w| self.hit_by_segment(w[0], w[1])),
        }
    }
}

/// Where one panel's parts went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PanelLayout {
    /// The axes' plotting area.
    pub plot: Rect,
    /// The panel's own legend, if it has one.
    pub legend: Option<Rect>,
    /// Every plotted line (series and reference lines) as drawn, in pixels.
    pub lines: Vec<Vec<(f64, f64)>>,
    /// Labels of reference lines, which the legend must not cover either.
    pub labels: Vec<Rect>,
}

/// Where the parts of a figure went, in pixels of the figure at its nominal size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// The one legend of a multi-panel figure whose panels show the same lines.
    pub shared_legend: Option<Rect>,
    /// Each panel.
    pub panels: Vec<PanelLayout>,
}

/// The family name the shipped font is registered under (Korean text falls back to a
/// Hangul font: [`fonts::family`]).
const FONT: &str = fonts::LATIN;

fn register_font() -> Result<()> {
    fonts::register()
}

/// `figure` as an SVG document (for embedding, as in the HTML report).
pub fn to_svg(figure: &Figure) -> Result<String> {
    Ok(svg_and_layout(figure)?.0)
}

/// Where [`save`] puts each part of `figure`: its plotting areas, legends and lines.
pub fn layout(figure: &Figure) -> Result<Layout> {
    Ok(svg_and_layout(figure)?.1)
}

fn svg_and_layout(figure: &Figure) -> Result<(String, Layout)> {
    register_font()?;
    let size = figure.size();
    let mut svg = String::new();
    let layout;
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        layout = draw(&root, figure, 1.0)
            .map_err(|e| Error::Invalid(format!("drawing the plot failed: {e}")))?;
        root.present()
            .map_err(|e| Error::Invalid(format!("drawing the plot failed: {e}")))?;
    }
    Ok((svg, layout))
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

/// How many times larger a PNG is drawn before it is averaged down: 3 (9 samples per pixel),
/// or 2 for figures above 1.6 megapixels, to bound the memory of the large drawing.
fn supersampling(w: u32, h: u32) -> u32 {
    if w as u64 * h as u64 <= 1_600_000 {
        3
    } else {
        2
    }
}

/// `figure` as PNG bytes: drawn anti-aliased (at 3 or 2 times its size, then averaged down) into an RGB buffer, then
/// encoded (plotters' own encoder would pull in the `image` crate).
pub fn to_png(figure: &Figure) -> Result<Vec<u8>> {
    register_font()?;
    let (w, h) = figure.size();
    let s = supersampling(w, h);
    let (bw, bh) = (w * s, h * s);
    let mut big = vec![0u8; bw as usize * bh as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut big, (bw, bh)).into_drawing_area();
        draw(&root, figure, s as f64)
            .map_err(|e| Error::Invalid(format!("drawing the plot failed: {e}")))?;
        root.present()
            .map_err(|e| Error::Invalid(format!("drawing the plot failed: {e}")))?;
    }
    let rgb = downsample(&big, w as usize, h as usize, s as usize);
    let png = crate::io::image::encode_png(&rgb, w, h, png::ColorType::Rgb)
        .map_err(|e| Error::Invalid(format!("encoding the plot failed: {e}")))?;
    Ok(png)
}

/// Averages each `s × s` block of the RGB image `big` (`w·s × h·s`) into one pixel.
fn downsample(big: &[u8], w: usize, h: usize, s: usize) -> Vec<u8> {
    let bw = w * s;
    let mut out = vec![0u8; w * h * 3];
    let n = (s * s) as u32;
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0u32; 3];
            for dy in 0..s {
                let row = (y * s + dy) * bw;
                for dx in 0..s {
                    let i = (row + x * s + dx) * 3;
                    for c in 0..3 {
                        acc[c] += big[i + c] as u32;
                    }
                }
            }
            for c in 0..3 {
                out[(y * w + x) * 3 + c] = ((acc[c] + n / 2) / n) as u8;
            }
        }
    }
    out
}

fn rgb(c: style::Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// The font at `size` pixels (plotters draws a font of size `n` with glyphs `n / 1.24` pixels
/// high, so the size asked for is scaled up by that).
fn font(size: f64, s: f64) -> TextStyle<'static> {
    (FIGURE_FONT.with(|f| f.get()), size * s * 1.24)
        .into_font()
        .color(&BLACK)
}

thread_local! {
    /// The family the figure being drawn uses: DejaVu, or the Hangul font when some of its
    /// text (titles, labels, legends) has characters DejaVu lacks ([`fonts::family`]).
    static FIGURE_FONT: std::cell::Cell<&'static str> = const { std::cell::Cell::new(FONT) };
}

/// Picks the family for `figure`'s text (see [`FIGURE_FONT`]).
fn choose_font(figure: &Figure) {
    let mut all = figure.title.clone();
    for p in &figure.panels {
        all.push_str(&p.title);
        all.push_str(&p.x_label);
        all.push_str(&p.y_label);
        all.push_str(&p.legend_title);
        for series in &p.series {
            all.push_str(&series.label);
        }
    }
    FIGURE_FONT.with(|f| f.set(fonts::family(&all)));
}

/// Height of the strip holding a figure's title.
fn title_strip(s: f64) -> f64 {
    text::FIGURE_TITLE * 2.0 * s
}

/// Height of the strip holding a figure's shared legend (one row of entries).
fn legend_strip(s: f64) -> f64 {
    text::TICK * 2.6 * s
}

/// The legend entries all panels share, when the figure has several panels that show the
/// same lines in the same styles.
fn shared_legend(figure: &Figure) -> Option<Vec<Entry>> {
    if figure.panels.len() < 2 {
        return None;
    }
    let first = entries(&figure.panels[0]);
    if first.is_empty() {
        return None;
    }
    figure.panels[1..]
        .iter()
        .all(|p| entries(p) == first)
        .then_some(first)
}

/// One legend entry: label, style, faint.
type Entry = (String, LineStyle, bool);

fn entries(panel: &Panel) -> Vec<Entry> {
    panel
        .series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.label.is_empty())
        .map(|(i, s)| (s.label.clone(), s.style.unwrap_or(style::cycle(i)), s.faint))
        .collect()
}

/// Length of the line sample in front of a legend entry.
const SAMPLE: f64 = 40.0;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
    s: f64,
) -> std::result::Result<Layout, String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    choose_font(figure);
    root.fill(&WHITE).map_err(e)?;
    let mut layout = Layout::default();
    let mut area = root.clone();
    let (w, _) = root.dim_in_pixel();
    if !figure.title.is_empty() {
        let (top, rest) = area.split_vertically(title_strip(s) as u32);
        let style = font(text::FIGURE_TITLE, s).pos(text_anchor::Pos::new(
            text_anchor::HPos::Center,
            text_anchor::VPos::Center,
        ));
        let (_, th) = top.dim_in_pixel();
        top.draw_text(&figure.title, &style, (w as i32 / 2, th as i32 / 2))
            .map_err(e)?;
        area = rest;
    }
    let shared = shared_legend(figure);
    if let Some(entries) = &shared {
        let (top, rest) = area.split_vertically(legend_strip(s) as u32);
        let title = figure
            .panels
            .first()
            .map_or(String::new(), |p| p.legend_title.clone());
        let rect = draw_legend_row(root, &top, entries, &title, s).map_err(e)?;
        layout.shared_legend = Some(rect.scaled(1.0 / s));
        area = rest;
    }
    let columns = figure.columns.max(1);
    let rows = figure.panels.len().div_ceil(columns).max(1);
    let areas = area.split_evenly((rows, columns));
    let n = figure.panels.len();
    for (k, (panel, a)) in figure.panels.iter().zip(areas.iter()).enumerate() {
        // Repeated axis labels go in a grid: x labels on the lowest panel of each column,
        // y labels on the first column only.
        let grid = n > 1 && shared.is_some();
        let show_x = !grid || k + columns >= n;
        let show_y = !grid || k % columns == 0;
        let p = draw_panel(root, a, panel, s, shared.is_none(), show_x, show_y).map_err(e)?;
        layout.panels.push(p);
    }
    Ok(layout)
}

/// The legend as one centred row (wrapped onto more when too wide) inside `strip`.
fn draw_legend_row<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    strip: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    title: &str,
    s: f64,
) -> std::result::Result<Rect, DrawingAreaErrorKind<DB::ErrorType>> {
    let f = font(text::TICK, s);
    let gap = 24.0 * s;
    let mut widths = Vec::new();
    if !title.is_empty() {
        widths.push(strip.estimate_text_size(&format!("{title}:"), &f)?.0 as f64);
    }
    for (label, _, _) in entries {
        widths.push(SAMPLE * s + 8.0 * s + strip.estimate_text_size(label, &f)?.0 as f64);
    }
    let total: f64 = widths.iter().sum::<f64>() + gap * (widths.len() as f64 - 1.0);
    let (x0, y0) = strip.get_base_pixel();
    let (sw, sh) = strip.dim_in_pixel();
    let mut x = x0 as f64 + ((sw as f64 - total) / 2.0).max(8.0 * s);
    let y = y0 as f64 + sh as f64 / 2.0;
    let left = x;
    let mut items = widths.iter();
    let centre = f.pos(text_anchor::Pos::new(
        text_anchor::HPos::Left,
        text_anchor::VPos::Center,
    ));
    if !title.is_empty() {
        let w = items.next().copied().unwrap_or(0.0);
        root.draw_text(&format!("{title}:"), &centre, (x as i32, y as i32))?;
        x += w + gap;
    }
    for ((label, st, faint), w) in entries.iter().zip(items) {
        draw_sample(root, (x, y), *st, *faint, s)?;
        root.draw_text(
            label,
            &centre,
            ((x + SAMPLE * s + 8.0 * s) as i32, y as i32),
        )?;
        x += w + gap;
    }
    let half = text::TICK * 0.9 * s;
    Ok(Rect {
        x0: left,
        y0: y - half,
        x1: x - gap,
        y1: y + half,
    })
}

/// A short piece of line in `style` starting at `(x, y)`, with one marker in its middle.
fn draw_sample<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (f64, f64),
    st: LineStyle,
    faint: bool,
    s: f64,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let line = [(x, y), (x + SAMPLE * s, y)];
    draw_line(root, &line, st, faint, s)?;
    if !faint {
        draw_marker(root, (x + SAMPLE * s / 2.0, y), st, s)?;
    }
    Ok(())
}

/// Draws the polyline `pts` (backend pixels) in `st`'s colour and dash pattern.
fn draw_line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    pts: &[(f64, f64)],
    st: LineStyle,
    faint: bool,
    s: f64,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (width, dash) = if faint {
        (1.0 * s, Dash::Solid)
    } else {
        (style::LINE_WIDTH * s, st.dash)
    };
    let color = if faint {
        rgb(st.color).mix(0.35)
    } else {
        rgb(st.color).mix(1.0)
    };
    let shape = ShapeStyle::from(color).stroke_width(width.round().max(1.0) as u32);
    for piece in dashes(pts, dash, width) {
        let ipts: Vec<(i32, i32)> = piece
            .iter()
            .map(|&(x, y)| (x.round() as i32, y.round() as i32))
            .collect();
        root.draw(&PathElement::new(ipts, shape))?;
    }
    Ok(())
}

/// Cuts the polyline into the "on" pieces of `dash`'s pattern (lengths in line widths).
fn dashes(pts: &[(f64, f64)], dash: Dash, width: f64) -> Vec<Vec<(f64, f64)>> {
    let pattern: Vec<f64> = dash.pattern().iter().map(|v| v * width).collect();
    if pattern.is_empty() || pts.len() < 2 {
        return vec![pts.to_vec()];
    }
    let mut out = Vec::new();
    let (mut k, mut left) = (0usize, pattern[0]);
    let mut on = true;
    let mut cur = vec![pts[0]];
    for w in pts.windows(2) {
        let (mut a, b) = (w[0], w[1]);
        let mut len = (b.0 - a.0).hypot(b.1 - a.1);
        while len > left {
            let t = left / len;
            let p = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            if on {
                cur.push(p);
                out.push(std::mem::take(&mut cur));
            } else {
                cur = vec![p];
            }
            on = !on;
            len -= left;
            a = p;
            k = (k + 1) % pattern.len();
            left = pattern[k];
        }
        left -= len;
        if on {
            cur.push(b);
        }
    }
    if on && cur.len() > 1 {
        out.push(cur);
    }
    out
}

fn draw_marker<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (f64, f64),
    st: LineStyle,
    s: f64,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let r = style::MARKER_RADIUS * s;
    let color = rgb(st.color);
    let fill = ShapeStyle::from(color).filled();
    let outline = ShapeStyle::from(WHITE).stroke_width((0.8 * s).round().max(1.0) as u32);
    let at = |dx: f64, dy: f64| ((x + dx * r).round() as i32, (y + dy * r).round() as i32);
    let poly =
        |p: Vec<(i32, i32)>| -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
            root.draw(&Polygon::new(p.clone(), fill))?;
            let mut closed = p;
            closed.push(closed[0]);
            root.draw(&PathElement::new(closed, outline))
        };
    match st.marker {
        Marker::None => Ok(()),
        Marker::Circle => {
            root.draw(&Circle::new(at(0.0, 0.0), r.round() as i32, fill))?;
            root.draw(&Circle::new(at(0.0, 0.0), r.round() as i32, outline))
        }
        Marker::Square => poly(vec![
            at(-0.85, -0.85),
            at(0.85, -0.85),
            at(0.85, 0.85),
            at(-0.85, 0.85),
        ]),
        Marker::Triangle => poly(vec![at(0.0, -1.15), at(1.05, 0.75), at(-1.05, 0.75)]),
        Marker::TriangleDown => poly(vec![at(0.0, 1.15), at(1.05, -0.75), at(-1.05, -0.75)]),
        Marker::Diamond => poly(vec![
            at(0.0, -1.2),
            at(1.0, 0.0),
            at(0.0, 1.2),
            at(-1.0, 0.0),
        ]),
        Marker::Cross => {
            let w = ShapeStyle::from(color).stroke_width((2.0 * s).round() as u32);
            root.draw(&PathElement::new(vec![at(-1.0, -1.0), at(1.0, 1.0)], w))?;
            root.draw(&PathElement::new(vec![at(-1.0, 1.0), at(1.0, -1.0)], w))
        }
    }
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
    for r in panel.references.iter().filter(|r| r.y.is_finite()) {
        y0 = y0.min(r.y);
        y1 = y1.max(r.y);
    }
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
        if panel.y_from_zero {
            y0 = y0.min(0.0);
        }
        let pad = ((y1 - y0) * 0.05).max(1e-9);
        y1 += pad;
        if !(panel.y_from_zero && y0 == 0.0) {
            y0 -= pad;
        }
    }
    ((x0, x1), (y0, y1))
}

/// Maps data to backend pixels inside the plotting area `plot`.
struct Mapping {
    x: (f64, f64),
    y: (f64, f64),
    plot: Rect,
}

impl Mapping {
    fn at(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y.clamp(self.y.0, self.y.1) - self.y.0) / (self.y.1 - self.y.0);
        (
            self.plot.x0 + fx * (self.plot.x1 - self.plot.x0),
            self.plot.y1 - fy * (self.plot.y1 - self.plot.y0),
        )
    }
}

fn plot_rect<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    a: &DrawingArea<DB, CT>,
) -> Rect {
    let (xr, yr) = a.get_pixel_range();
    Rect {
        x0: xr.start as f64,
        y0: yr.start as f64,
        x1: (xr.end - 1) as f64,
        y1: (yr.end - 1) as f64,
    }
}

/// A reference line as drawn: its pixels, its label's box and the line itself.
type PlacedReference<'a> = (Vec<(f64, f64)>, Rect, &'a Reference);

#[allow(clippy::too_many_arguments)]
fn draw_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    s: f64,
    own_legend: bool,
    show_x: bool,
    show_y: bool,
) -> std::result::Result<PanelLayout, DrawingAreaErrorKind<DB::ErrorType>> {
    let ((x0, x1), (y0, y1)) = ranges(panel);
    let title_h = if panel.title.is_empty() {
        8.0 * s
    } else {
        text::PANEL_TITLE * 1.9 * s
    };
    let (title_area, chart_area) = area.split_vertically(title_h as u32);
    if !panel.title.is_empty() {
        let (tw, th) = title_area.dim_in_pixel();
        let style = font(text::PANEL_TITLE, s).pos(text_anchor::Pos::new(
            text_anchor::HPos::Center,
            text_anchor::VPos::Center,
        ));
        title_area.draw_text(&panel.title, &style, (tw as i32 / 2, th as i32 / 2 + 2))?;
    }

    // The legend's size, measured with the font it is drawn in.
    let tick_font = font(text::TICK, s);
    let legend_entries = if own_legend {
        entries(panel)
    } else {
        Vec::new()
    };
    let line_h = text::TICK * 1.5 * s;
    let pad = 8.0 * s;
    let legend_size = if legend_entries.is_empty() {
        None
    } else {
        let mut w: f64 = 0.0;
        if !panel.legend_title.is_empty() {
            w = w.max(
                chart_area
                    .estimate_text_size(&panel.legend_title, &tick_font)?
                    .0 as f64,
            );
        }
        for (label, _, _) in &legend_entries {
            let t = chart_area.estimate_text_size(label, &tick_font)?.0 as f64;
            w = w.max(SAMPLE * s + 8.0 * s + t);
        }
        let rows = legend_entries.len() + usize::from(!panel.legend_title.is_empty());
        Some((w + 2.0 * pad, rows as f64 * line_h + 2.0 * pad * 0.75))
    };

    let x_area = if show_x {
        text::TICK * 3.6
    } else {
        text::TICK * 2.0
    };
    let y_area = if show_y {
        text::TICK * 5.0
    } else {
        text::TICK * 3.4
    };
    let build = |a: &DrawingArea<DB, Shift>| {
        ChartBuilder::on(a)
            .margin((6.0 * s) as u32)
            .margin_right((22.0 * s) as u32)
            .x_label_area_size((x_area * s) as u32)
            .y_label_area_size((y_area * s) as u32)
            .build_cartesian_2d(x0..x1, y0..y1)
    };
    let mut chart = build(&chart_area)?;
    let mut plot = plot_rect(chart.plotting_area());
    let lines_in = |plot: Rect| -> Vec<(Vec<(f64, f64)>, usize)> {
        let map = Mapping {
            x: (x0, x1),
            y: (y0, y1),
            plot,
        };
        panel
            .series
            .iter()
            .enumerate()
            .map(|(i, sr)| {
                let pts = sr
                    .points
                    .iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .map(|p| map.at(p))
                    .collect();
                (pts, i)
            })
            .collect()
    };
    let references_in = |plot: Rect| -> Vec<PlacedReference> {
        let map = Mapping {
            x: (x0, x1),
            y: (y0, y1),
            plot,
        };
        let series = lines_in(plot);
        panel
            .references
            .iter()
            .filter(|r| r.y.is_finite() && r.y >= y0 && r.y <= y1)
            .map(|r| {
                let (_, py) = map.at((x0, r.y));
                let line = vec![(plot.x0, py), (plot.x1, py)];
                let w = r.label.chars().count() as f64 * text::TICK * 0.62 * s;
                // The label sits above its line (below when the line is at the top of the
                // axes), at the left, or at the right when a line crosses it at the left.
                let above = py - plot.y0 > text::TICK * 1.6 * s;
                let (ly0, ly1) = if above {
                    (py - text::TICK * 1.5 * s, py - 2.0 * s)
                } else {
                    (py + 2.0 * s, py + text::TICK * 1.5 * s)
                };
                let at = |x: f64| Rect {
                    x0: x,
                    y0: ly0,
                    x1: x + w,
                    y1: ly1,
                };
                let (left, right) = (at(plot.x0 + 6.0 * s), at(plot.x1 - 6.0 * s - w));
                let label = if series.iter().any(|(l, _)| left.hit_by_line(l))
                    && !series.iter().any(|(l, _)| right.hit_by_line(l))
                {
                    right
                } else {
                    left
                };
                (line, label, r)
            })
            .collect()
    };
    // The legend goes in the first corner of the axes that nothing drawn crosses (lines
    // widened by their markers); else it moves out to the right of the axes.
    let mut legend = None;
    if let Some((lw, lh)) = legend_size {
        let blocked = |cand: &Rect, plot: Rect| {
            let grow = style::MARKER_RADIUS * s + style::LINE_WIDTH * s;
            let wide = Rect {
                x0: cand.x0 - grow,
                y0: cand.y0 - grow,
                x1: cand.x1 + grow,
                y1: cand.y1 + grow,
            };
            lines_in(plot).iter().any(|(l, _)| wide.hit_by_line(l))
                || references_in(plot)
                    .iter()
                    .any(|(l, label, _)| wide.hit_by_line(l) || wide.overlaps(label))
        };
        let m = 10.0 * s;
        let (px0, py0, px1, py1) = (plot.x0 + m, plot.y0 + m, plot.x1 - m, plot.y1 - m);
        let mid_y = (py0 + py1 - lh) / 2.0;
        let candidates = [
            (px1 - lw, py0),
            (px1 - lw, py1 - lh),
            (px0, py0),
            (px0, py1 - lh),
            (px1 - lw, mid_y),
            (px0, mid_y),
            ((px0 + px1 - lw) / 2.0, py0),
            ((px0 + px1 - lw) / 2.0, py1 - lh),
        ];
        legend = candidates
            .iter()
            .map(|&(x, y)| Rect {
                x0: x,
                y0: y,
                x1: x + lw,
                y1: y + lh,
            })
            .filter(|r| r.x0 >= plot.x0 && r.y0 >= plot.y0)
            .find(|r| !blocked(r, plot));
        if legend.is_none() {
            let (cw, _) = chart_area.dim_in_pixel();
            let keep = (cw as f64 - lw - 14.0 * s).max(cw as f64 * 0.5);
            let (left, _) = chart_area.split_horizontally(keep as u32);
            chart = build(&left)?;
            plot = plot_rect(chart.plotting_area());
            let x = plot.x1 + 20.0 * s;
            legend = Some(Rect {
                x0: x,
                y0: plot.y0,
                x1: x + lw,
                y1: plot.y0 + lh,
            });
        }
    }

    let ticks_x = ((plot.x1 - plot.x0) / (85.0 * s)).max(2.0) as usize;
    let ticks_x = if panel.x_integer {
        // Steps of 1, 2, 5, 10 … only: never more ticks than whole numbers in the range.
        let denser = ((plot.x1 - plot.x0) / (55.0 * s)).max(2.0) as usize;
        denser.min((x1 - x0).floor() as usize + 1).max(2)
    } else {
        ticks_x
    };
    let ticks_y = ((plot.y1 - plot.y0) / (48.0 * s)).max(2.0) as usize;
    let integer = panel.x_integer;
    let x_fmt = move |v: &f64| {
        if integer && (v - v.round()).abs() > 1e-9 {
            String::new()
        } else {
            tick(*v)
        }
    };
    let y_fmt = |v: &f64| tick(*v);
    let x_desc = if show_x { panel.x_label.as_str() } else { "" };
    let y_desc = if show_y { panel.y_label.as_str() } else { "" };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(font(text::TICK, s))
        .axis_desc_style(font(text::LABEL, s))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.07))
        .axis_style(ShapeStyle::from(BLACK).stroke_width(s.round().max(1.0) as u32))
        .set_all_tick_mark_size((5.0 * s) as u32)
        .x_labels(ticks_x)
        .y_labels(ticks_y)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;

    let mut layout = PanelLayout {
        plot: plot.scaled(1.0 / s),
        ..PanelLayout::default()
    };
    for (line, label, r) in references_in(plot) {
        draw_line(root, &line, style::REFERENCE, false, s)?;
        let grey = rgb(style::GREY);
        let f = font(text::TICK, s).color(&grey);
        root.draw_text(&r.label, &f, (label.x0 as i32, label.y0 as i32))?;
        layout
            .lines
            .push(line.iter().map(|&(x, y)| (x / s, y / s)).collect());
        layout.labels.push(label.scaled(1.0 / s));
    }
    let count = panel.series.len().max(1);
    for (line, i) in lines_in(plot) {
        let sr = &panel.series[i];
        let st = sr.style.unwrap_or(style::cycle(i));
        draw_line(root, &line, st, sr.faint, s)?;
        if !sr.faint && !line.is_empty() {
            // About MARKERS_PER_LINE markers, shifted per series so that lines sharing
            // their points (a flat loss, two curves at 1.0) still show every marker.
            let every = line.len().div_ceil(style::MARKERS_PER_LINE).max(1);
            let offset = i * every / count;
            for p in line.iter().skip(offset % every).step_by(every) {
                draw_marker(root, *p, st, s)?;
            }
        }
        layout
            .lines
            .push(line.iter().map(|&(x, y)| (x / s, y / s)).collect());
    }
    if let Some(r) = legend {
        root.draw(&Rectangle::new(
            [(r.x0 as i32, r.y0 as i32), (r.x1 as i32, r.y1 as i32)],
            ShapeStyle::from(WHITE).filled(),
        ))?;
        root.draw(&Rectangle::new(
            [(r.x0 as i32, r.y0 as i32), (r.x1 as i32, r.y1 as i32)],
            ShapeStyle::from(BLACK.mix(0.35)).stroke_width(s.round().max(1.0) as u32),
        ))?;
        let style = font(text::TICK, s).pos(text_anchor::Pos::new(
            text_anchor::HPos::Left,
            text_anchor::VPos::Center,
        ));
        let mut y = r.y0 + pad * 0.75 + line_h / 2.0;
        if !panel.legend_title.is_empty() {
            root.draw_text(&panel.legend_title, &style, ((r.x0 + pad) as i32, y as i32))?;
            y += line_h;
        }
        for (label, st, faint) in &legend_entries {
            draw_sample(root, (r.x0 + pad, y), *st, *faint, s)?;
            root.draw_text(
                label,
                &style,
                ((r.x0 + pad + SAMPLE * s + 8.0 * s) as i32, y as i32),
            )?;
            y += line_h;
        }
        layout.legend = Some(r.scaled(1.0 / s));
    }
    Ok(layout)
}

/// How a [`Label`] sits at its point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Its left end, vertically centred.
    Left,
    /// Its centre.
    Centre,
    /// Its right end, vertically centred.
    Right,
}

/// A line of text for [`draw_labels`].
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// The text.
    pub text: String,
    /// Its size in pixels.
    pub size: f64,
    /// Where it goes.
    pub at: (f64, f64),
    /// How it sits there.
    pub anchor: Anchor,
}

/// Draws `labels` in the shipped font onto the RGB image `rgb` (`width × height`), for
/// pictures that are not plots (the filter grids).
pub fn draw_labels(rgb: &mut [u8], width: u32, height: u32, labels: &[Label]) -> Result<()> {
    register_font()?;
    let root = BitMapBackend::with_buffer(rgb, (width, height)).into_drawing_area();
    for l in labels {
        let h = match l.anchor {
            Anchor::Left => text_anchor::HPos::Left,
            Anchor::Centre => text_anchor::HPos::Center,
            Anchor::Right => text_anchor::HPos::Right,
        };
        let style = font(l.size, 1.0).pos(text_anchor::Pos::new(h, text_anchor::VPos::Center));
        root.draw_text(&l.text, &style, (l.at.0 as i32, l.at.1 as i32))
            .map_err(|e| Error::Invalid(format!("drawing text failed: {e}")))?;
    }
    root.present()
        .map_err(|e| Error::Invalid(format!("drawing text failed: {e}")))?;
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
            series: vec![
                Series::from_values("a", &[0.9, 0.5, 0.3, f64::NAN, 0.2]),
                Series::from_values("b", &[0.8, 0.7, 0.6, 0.5, 2.0]).test(),
            ],
            ..Panel::default()
        });
        let png = dir.join("p.png");
        save(&fig, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let (rgb, w, h) = decode_rgb(&bytes);
        assert_eq!((w, h), fig.size());
        // Anti-aliased: the lines' edges blend into the white background, so the picture
        // holds many more colours than the handful it draws with.
        let mut colours: Vec<[u8; 3]> = rgb.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
        colours.sort();
        colours.dedup();
        assert!(colours.len() > 200, "{} colours", colours.len());
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

    fn decode_rgb(bytes: &[u8]) -> (Vec<u8>, u32, u32) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (buf, info.width, info.height)
    }

    /// Every legend of `fig` is clear of every drawn line and reference label, and a shared
    /// legend is clear of every panel's axes.
    fn assert_legends_clear(fig: &Figure) -> Layout {
        let lay = layout(fig).unwrap();
        assert_eq!(lay.panels.len(), fig.panels.len());
        for (k, p) in lay.panels.iter().enumerate() {
            assert!(!p.lines.is_empty(), "panel {k} drew nothing");
            if let Some(legend) = &p.legend {
                for (i, line) in p.lines.iter().enumerate() {
                    assert!(
                        !legend.hit_by_line(line),
                        "panel {k}: line {i} under the legend"
                    );
                }
                for l in &p.labels {
                    assert!(!legend.overlaps(l), "panel {k}: legend on a label");
                }
            }
            if let Some(shared) = &lay.shared_legend {
                assert!(p.legend.is_none(), "panel {k} repeats the shared legend");
                assert!(
                    !shared.overlaps(&p.plot),
                    "shared legend on panel {k}'s axes"
                );
            }
        }
        lay
    }

    /// Fig. 6-15's shape: std=0.01 flat at ln 10 = 2.30 right through the upper-right
    /// corner of a 0 … 2.5 axis, the others falling from there. The old fixed upper-right
    /// legend sat on it.
    fn init_like() -> Figure {
        let flat: Vec<f64> = (0..400)
            .map(|i| 2.302 + 0.002 * ((i % 7) as f64 - 3.0))
            .collect();
        let xavier: Vec<f64> = (0..400)
            .map(|i| 2.3 * (-(i as f64) / 60.0).exp() + 0.2)
            .collect();
        let he: Vec<f64> = (0..400)
            .map(|i| 2.3 * (-(i as f64) / 30.0).exp() + 0.1)
            .collect();
        Figure::single(Panel {
            title: "init".into(),
            y_range: Some((0.0, 2.5)),
            references: vec![Reference::chance_loss(10)],
            series: vec![
                Series::from_values("std=0.01", &flat),
                Series::from_values("Xavier", &xavier),
                Series::from_values("He", &he),
            ],
            ..Panel::default()
        })
    }

    #[test]
    fn a_legend_finds_an_empty_corner() {
        let lay = assert_legends_clear(&init_like());
        let p = &lay.panels[0];
        let legend = p.legend.expect("one legend");
        assert!(
            legend.x0 >= p.plot.x0 && legend.x1 <= p.plot.x1,
            "an empty corner exists, so the legend stays inside the axes: {legend:?} {:?}",
            p.plot
        );
        // The fixed upper-right placement of before would have been on the std=0.01 line.
        let upper_right = Rect {
            x0: legend.x0.max(p.plot.x1 - (legend.x1 - legend.x0) - 10.0),
            y0: p.plot.y0 + 10.0,
            x1: p.plot.x1 - 10.0,
            y1: p.plot.y0 + 10.0 + (legend.y1 - legend.y0),
        };
        assert!(p.lines.iter().any(|l| upper_right.hit_by_line(l)));
    }

    #[test]
    fn a_legend_with_no_empty_corner_moves_beside_the_axes() {
        // Lines zig-zagging across the whole panel leave no corner free.
        let zig = |phase: usize| -> Vec<f64> {
            (0..200)
                .map(|i| {
                    if (i + phase).is_multiple_of(2) {
                        0.02
                    } else {
                        0.98
                    }
                })
                .collect()
        };
        let fig = Figure::single(Panel {
            y_range: Some((0.0, 1.0)),
            series: vec![
                Series::from_values("train", &zig(0)).train(),
                Series::from_values("test", &zig(1)).test(),
            ],
            ..Panel::default()
        });
        let lay = assert_legends_clear(&fig);
        let p = &lay.panels[0];
        assert!(
            p.legend.unwrap().x0 > p.plot.x1,
            "{:?} {:?}",
            p.legend,
            p.plot
        );
    }

    #[test]
    fn panels_showing_the_same_lines_share_one_legend_above_them() {
        // The batch-norm figure: 16 panels, "without BN" flat at 0.1 along the bottom, batch
        // norm rising to 1 along the top.
        let panels: Vec<Panel> = (0..16)
            .map(|k| Panel {
                title: format!("W: {k}"),
                y_range: Some((0.0, 1.0)),
                x_integer: true,
                series: vec![
                    Series::from_values(
                        "Batch Normalization",
                        &(0..20)
                            .map(|e| 1.0 - 0.9 * (-(e as f64) / 3.0).exp())
                            .collect::<Vec<_>>(),
                    ),
                    Series::from_values("Normal (without BN)", &[0.1; 20]),
                ],
                ..Panel::default()
            })
            .collect();
        let fig = Figure {
            title: "batch norm".into(),
            panels,
            columns: 4,
            panel_size: (400, 300),
        };
        let lay = assert_legends_clear(&fig);
        let shared = lay.shared_legend.expect("one legend for the figure");
        assert!(lay.panels.iter().all(|p| p.legend.is_none()));
        assert!(lay.panels.iter().all(|p| shared.y1 <= p.plot.y0));
        // A figure whose panels show different lines keeps one legend per panel.
        let mut fig = fig;
        fig.panels[3].series[1].label = "something else".into();
        let lay = assert_legends_clear(&fig);
        assert!(lay.shared_legend.is_none());
        assert!(lay.panels.iter().all(|p| p.legend.is_some()));
    }

    #[test]
    fn series_take_the_style_table_in_order() {
        let panel = Panel {
            series: vec![
                Series::from_values("a", &[1.0, 2.0]),
                Series::from_values("b", &[1.0, 2.0]),
                Series::from_values("c", &[1.0, 2.0]).train(),
                Series::from_values("d", &[1.0, 2.0]).test(),
            ],
            ..Panel::default()
        };
        let styles: Vec<LineStyle> = entries(&panel).into_iter().map(|e| e.1).collect();
        assert_eq!(
            styles,
            [style::cycle(0), style::cycle(1), style::TRAIN, style::TEST]
        );
        // The SVG draws them in their colours.
        let svg = to_svg(&Figure::single(panel)).unwrap();
        for c in [style::BLUE, style::ORANGE] {
            let hex = c.hex().to_uppercase();
            assert!(
                svg.to_uppercase().contains(&hex)
                    || svg.contains(&format!("rgb({},{},{})", c.0, c.1, c.2)),
                "{hex} missing"
            );
        }
    }

    #[test]
    fn dashes_follow_the_pattern_along_the_line() {
        // A 100 px line, dashed with [4, 2.5] × 2 px: 8 on, 5 off, 100 / 13 → 8 pieces.
        let pieces = dashes(&[(0.0, 0.0), (60.0, 0.0), (100.0, 0.0)], Dash::Dashed, 2.0);
        assert_eq!(pieces.len(), 8);
        for (k, p) in pieces.iter().enumerate() {
            let start = p[0].0;
            let end = p.last().unwrap().0;
            assert!((start - 13.0 * k as f64).abs() < 1e-9, "{k}: {p:?}");
            assert!(((end - start) - 8.0).abs() < 1e-9 || k == 7, "{k}: {p:?}");
        }
        // The piece that crosses the corner at 60 keeps the corner point.
        assert!(pieces[4].contains(&(60.0, 0.0)), "{:?}", pieces[4]);
        assert_eq!(dashes(&[(0.0, 0.0), (5.0, 5.0)], Dash::Solid, 2.0).len(), 1);
    }

    #[test]
    fn epoch_axes_tick_whole_numbers_only() {
        for epochs in [2usize, 3, 4, 7, 20, 201] {
            let fig = Figure::single(Panel {
                x_label: "epochs".into(),
                x_integer: true,
                series: vec![Series::from_points(
                    "acc",
                    (1..=epochs).map(|e| (e as f64, 0.5)).collect(),
                )],
                ..Panel::default()
            });
            let svg = to_svg(&fig).unwrap();
            // Tick labels are the texts of the lower axis; no label may hold a point.
            let labels: Vec<&str> = svg
                .split("</text>")
                .filter_map(|t| t.rsplit('>').next())
                .map(str::trim)
                .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .collect();
            assert!(!labels.is_empty(), "{epochs}");
            assert!(
                labels
                    .iter()
                    .all(|l| !l.contains('.') || l.parse::<f64>().is_ok_and(|v| v <= 1.0)),
                "{epochs} epochs: {labels:?}"
            );
        }
    }

    #[test]
    fn loss_axes_can_start_at_zero_and_show_chance_level() {
        // A flat loss near ln 10: with the axis from 0 its wiggle is a few pixels, not the
        // whole panel.
        let flat: Vec<f64> = (0..100)
            .map(|i| 2.30 + 0.01 * ((i % 3) as f64 - 1.0))
            .collect();
        let panel = Panel {
            y_from_zero: true,
            references: vec![Reference::chance_loss(10)],
            series: vec![Series::from_values("loss", &flat)],
            ..Panel::default()
        };
        let ((_, _), (y0, y1)) = ranges(&panel);
        assert_eq!(y0, 0.0);
        assert!(y1 > 2.31 && y1 < 2.5, "{y1}");
        let lay = layout(&Figure::single(panel)).unwrap();
        let p = &lay.panels[0];
        let span = |l: &Vec<(f64, f64)>| {
            let ys = l.iter().map(|q| q.1);
            ys.clone().fold(f64::MIN, f64::max) - ys.fold(f64::MAX, f64::min)
        };
        assert!(span(p.lines.last().unwrap()) < 0.02 * (p.plot.y1 - p.plot.y0));
        // The chance line is drawn, flat, and labelled.
        assert_eq!(p.lines.len(), 2);
        assert_eq!(span(&p.lines[0]), 0.0);
        assert_eq!(p.labels.len(), 1);
        assert!(
            to_svg(&Figure::single(Panel {
                references: vec![Reference::chance_loss(10)],
                series: vec![Series::from_values("loss", &flat)],
                ..Panel::default()
            }))
            .unwrap()
            .contains("chance level: ln 10 = 2.30")
        );
    }
}
