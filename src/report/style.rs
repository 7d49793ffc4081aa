//! The one look every figure shares: colours, line styles, markers and text sizes.
//!
//! Colours come from the Okabe–Ito palette (Okabe & Ito, *Color Universal Design*, 2008),
//! chosen so that people with any common form of colour blindness can tell them apart; each
//! line style also differs by dash pattern and marker shape, so that no figure relies on
//! colour alone (the book's fig. 6-9 marks its optimizers with ○ □ △ ◇ for the same reason).
//!
//! One convention holds everywhere: a training curve is [`TRAIN`] (blue, solid, circles), a
//! test or validation curve is [`TEST`] (orange, dashed, squares). Other series take
//! [`cycle`]`(i)` in order, whose first two entries are those two.
//!
//! Plots ([`super::plot`]), the computation graphs (`graph::render`), filter pictures
//! ([`super::filters`]) and the HTML report ([`super::html`]) all take their colours and sizes
//! from here.

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`, for SVG and CSS.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Okabe–Ito blue.
pub const BLUE: Rgb = Rgb(0, 114, 178);
/// Okabe–Ito orange.
pub const ORANGE: Rgb = Rgb(230, 159, 0);
/// Okabe–Ito bluish green.
pub const GREEN: Rgb = Rgb(0, 158, 115);
/// Okabe–Ito vermillion (the derivatives in computation graphs).
pub const VERMILLION: Rgb = Rgb(213, 94, 0);
/// Okabe–Ito reddish purple.
pub const PURPLE: Rgb = Rgb(204, 121, 167);
/// Okabe–Ito sky blue.
pub const SKY_BLUE: Rgb = Rgb(86, 180, 233);
/// Text, axes and forward values.
pub const INK: Rgb = Rgb(0, 0, 0);
/// Reference lines (chance level) and secondary text.
pub const GREY: Rgb = Rgb(110, 110, 110);

/// How a line is broken up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dash {
    /// Unbroken.
    Solid,
    /// Long dashes.
    Dashed,
    /// Dots.
    Dotted,
    /// Dash, dot, dash.
    DashDot,
}

impl Dash {
    /// The on/off lengths in line widths (scaled by the stroke width when drawn), or an empty
    /// slice for a solid line.
    pub fn pattern(self) -> &'static [f64] {
        match self {
            Dash::Solid => &[],
            Dash::Dashed => &[4.0, 2.5],
            Dash::Dotted => &[1.0, 1.8],
            Dash::DashDot => &[4.5, 1.8, 1.0, 1.8],
        }
    }

    /// The SVG/CSS `stroke-dasharray` for a line `width` pixels wide (`none` when solid).
    pub fn dasharray(self, width: f64) -> String {
        let p = self.pattern();
        if p.is_empty() {
            "none".into()
        } else {
            p.iter()
                .map(|v| format!("{}", v * width))
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

/// The shape drawn on a line every few points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Marker {
    /// No marker.
    None,
    /// ○
    Circle,
    /// □
    Square,
    /// △
    Triangle,
    /// ◇
    Diamond,
    /// ▽
    TriangleDown,
    /// ×
    Cross,
}

/// Colour, dash pattern and marker of one plotted line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineStyle {
    /// Line and marker colour.
    pub color: Rgb,
    /// Dash pattern.
    pub dash: Dash,
    /// Marker shape.
    pub marker: Marker,
}

/// Training curves: blue, solid, circles.
pub const TRAIN: LineStyle = LineStyle {
    color: BLUE,
    dash: Dash::Solid,
    marker: Marker::Circle,
};

/// Test and validation curves: orange, dashed, squares.
pub const TEST: LineStyle = LineStyle {
    color: ORANGE,
    dash: Dash::Dashed,
    marker: Marker::Square,
};

/// The styles given to series in order; [`TRAIN`] and [`TEST`] come first. Every entry differs
/// from every other in colour, dash pattern and marker.
pub const CYCLE: [LineStyle; 6] = [
    TRAIN,
    TEST,
    LineStyle {
        color: GREEN,
        dash: Dash::Dotted,
        marker: Marker::Triangle,
    },
    LineStyle {
        color: VERMILLION,
        dash: Dash::DashDot,
        marker: Marker::Diamond,
    },
    LineStyle {
        color: PURPLE,
        dash: Dash::Solid,
        marker: Marker::TriangleDown,
    },
    LineStyle {
        color: SKY_BLUE,
        dash: Dash::Dashed,
        marker: Marker::Cross,
    },
];

/// The style of the `i`-th series of a figure (wrapping around after six).
pub fn cycle(i: usize) -> LineStyle {
    CYCLE[i % CYCLE.len()]
}

/// A thin dotted grey line for reference levels such as the chance-level loss.
pub const REFERENCE: LineStyle = LineStyle {
    color: GREY,
    dash: Dash::Dotted,
    marker: Marker::None,
};

/// Text sizes in pixels at a figure's nominal size (PNG figures are drawn larger and scaled
/// down, which keeps them the same). They follow the book's figures, whose text is about
/// 1/30 of a panel's height: tick labels and legends at 15 px, axis labels 16, panel titles
/// 17, a figure's title 20.
pub mod text {
    /// Tick labels and legend entries.
    pub const TICK: f64 = 15.0;
    /// Axis labels.
    pub const LABEL: f64 = 16.0;
    /// A panel's title.
    pub const PANEL_TITLE: f64 = 17.0;
    /// A figure's title (above all its panels).
    pub const FIGURE_TITLE: f64 = 20.0;
}

/// Width of plotted lines in pixels at nominal size.
pub const LINE_WIDTH: f64 = 2.0;
/// Marker radius in pixels at nominal size.
pub const MARKER_RADIUS: f64 = 4.5;
/// About this many markers are drawn on each line, however many points it has.
pub const MARKERS_PER_LINE: usize = 10;

/// The grey of a weight value `level` in `0 ..= 1` (0 the smallest weight shown, 1 the
/// largest) as pictures of weights draw it, the book's `gray_r`: small values white, large
/// values black. The HTML report's key and `show filters` use it.
pub fn weight_grey(level: f64) -> u8 {
    (255.0 * (1.0 - level.clamp(0.0, 1.0))).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_is_blue_solid_and_test_orange_dashed() {
        assert_eq!((TRAIN.color, TRAIN.dash), (BLUE, Dash::Solid));
        assert_eq!((TEST.color, TEST.dash), (ORANGE, Dash::Dashed));
        assert_eq!((cycle(0), cycle(1)), (TRAIN, TEST));
    }

    #[test]
    fn cycle_entries_differ_in_colour_dash_or_marker_pairwise() {
        for (i, &a) in CYCLE.iter().enumerate() {
            for (j, &b) in CYCLE.iter().enumerate().take(i) {
                assert_ne!(a.color, b.color, "{i} {j}");
                assert_ne!(a.marker, b.marker, "{i} {j}");
                // Not colour alone: neighbours in the cycle differ in dash pattern too.
                if i == j + 1 {
                    assert_ne!(a.dash, b.dash, "{i} {j}");
                }
            }
        }
    }

    #[test]
    fn the_four_optimizer_colours_stay_apart_for_red_green_colour_blindness() {
        // Deuteranopia simulated with the Viénot–Brettel–Mollon (1999) projection in linear
        // sRGB: the four first colours must stay distinguishable (Euclidean distance in the
        // projected space).
        fn lin(c: u8) -> f64 {
            let v = c as f64 / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        }
        fn deutan(c: Rgb) -> [f64; 3] {
            let (r, g, b) = (lin(c.0), lin(c.1), lin(c.2));
            // Viénot et al.'s deuteranope matrix (linear RGB).
            [
                0.29031 * r + 0.70969 * g,
                0.29031 * r + 0.70969 * g,
                -0.02197 * r + 0.02197 * g + b,
            ]
        }
        let cols: Vec<[f64; 3]> = CYCLE[..4].iter().map(|s| deutan(s.color)).collect();
        for i in 0..4 {
            for j in 0..i {
                let d: f64 = (0..3)
                    .map(|k| (cols[i][k] - cols[j][k]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(d > 0.15, "{i} and {j} look alike: {d}");
            }
        }
        // Matplotlib's green (44,160,44) and red (214,39,40), the old AdaGrad and Adam,
        // are what the issue saw as unreadable: this measure must call them close.
        let (g, r) = (deutan(Rgb(44, 160, 44)), deutan(Rgb(214, 39, 40)));
        let d: f64 = (0..3).map(|k| (g[k] - r[k]).powi(2)).sum::<f64>().sqrt();
        assert!(d < 0.1, "the measure cannot fail: {d}");
    }

    #[test]
    fn weights_are_drawn_gray_r() {
        assert_eq!(weight_grey(0.0), 255);
        assert_eq!(weight_grey(1.0), 0);
        assert_eq!(weight_grey(0.5), 128);
    }
}
