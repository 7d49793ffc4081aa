//! Drawing a [`Graph`] as the book draws computation graphs (figs. 5-15 to 5-17): inputs on
//! the left, operation nodes in circles, values flowing right, each arrow labelled with its
//! forward value above it (black) and the derivative flowing back along it below (red).
//!
//! Three renderings share one layout: SVG (written by hand, self-contained), Graphviz DOT,
//! and a plain-text table. Numbers are shown with [`short`] (10 significant digits, no
//! float noise); the SVG keeps the exact values in tooltips.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::node::{Graph, NodeId, Op, short};
use crate::pyfmt::py_repr;
use crate::report::style;

/// Where each node goes: a column (left to right) and a row (top to bottom, may be
/// fractional so that a node sits between its arguments).
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Column of each node.
    pub col: Vec<usize>,
    /// Row of each node.
    pub row: Vec<f64>,
}

impl Layout {
    /// Lays `g` out in layers by depth.
    ///
    /// Columns: an operation sits at its depth, the longest path from it to the output,
    /// counted from the right; a leaf (input or constant) sits just left of its leftmost
    /// consumer, as the book draws the tax next to the last node. Rows: leaves are numbered in the order a depth-first walk from the output
    /// meets them, and each operation sits at the mean row of its arguments, which draws a
    /// tree the way the book does; nodes that would overlap in a column are pushed down.
    pub fn new(g: &Graph) -> Layout {
        let n = g.nodes.len();
        // Depth = longest path to the output; nodes sit as far right as they can, next to
        // what consumes them, which keeps arrows short.
        let mut depth = vec![0usize; n];
        for i in (0..n).rev() {
            for &a in &g.nodes[i].args {
                depth[a] = depth[a].max(depth[i] + 1);
            }
        }
        let max_depth = depth.iter().copied().max().unwrap_or(0);
        let mut col: Vec<usize> = depth.iter().map(|d| max_depth - d).collect();
        let mut first_use = vec![usize::MAX; n];
        for (i, node) in g.nodes.iter().enumerate() {
            for &a in &node.args {
                first_use[a] = first_use[a].min(col[i]);
            }
        }
        for (i, node) in g.nodes.iter().enumerate() {
            if node.args.is_empty() && first_use[i] != usize::MAX {
                col[i] = first_use[i] - 1;
            }
        }

        // Post-order walk from the output with an explicit stack (graphs can be long).
        let mut row = vec![f64::NAN; n];
        let mut next_leaf = 0.0;
        let mut stack: Vec<(NodeId, bool)> = g.output().map(|o| (o, false)).into_iter().collect();
        while let Some((i, expanded)) = stack.pop() {
            if !row[i].is_nan() {
                continue;
            }
            let args = &g.nodes[i].args;
            if args.is_empty() {
                row[i] = next_leaf;
                next_leaf += 1.0;
            } else if expanded {
                row[i] = args.iter().map(|&a| row[a]).sum::<f64>() / args.len() as f64;
            } else {
                stack.push((i, true));
                stack.extend(args.iter().rev().map(|&a| (a, false)));
            }
        }
        // Nodes the output does not use (none in parsed graphs) go below everything.
        for r in row.iter_mut().filter(|r| r.is_nan()) {
            *r = next_leaf;
            next_leaf += 1.0;
        }

        let max_col = col.iter().copied().max().unwrap_or(0);
        let mut by_col: Vec<Vec<NodeId>> = vec![Vec::new(); max_col + 1];
        for i in 0..n {
            by_col[col[i]].push(i);
        }
        for ids in &mut by_col {
            ids.sort_by(|&a, &b| row[a].total_cmp(&row[b]).then(a.cmp(&b)));
            for k in 1..ids.len() {
                let (prev, cur) = (ids[k - 1], ids[k]);
                if row[cur] < row[prev] + 1.0 {
                    row[cur] = row[prev] + 1.0;
                }
            }
        }
        Layout { col, row }
    }
}

/// One arrow of the picture: from a node into argument slot `slot` of another node, or
/// (`to == None`) from the output node to the output's name.
struct Edge {
    from: NodeId,
    to: Option<(NodeId, usize)>,
    forward: f64,
    backward: f64,
}

fn edges(g: &Graph) -> Vec<Edge> {
    let mut out = Vec::new();
    for (i, node) in g.nodes.iter().enumerate() {
        for (k, &a) in node.args.iter().enumerate() {
            out.push(Edge {
                from: a,
                to: Some((i, k)),
                forward: g.nodes[a].value,
                backward: g.edge_grad(i, k),
            });
        }
    }
    if let Some(o) = g.output() {
        out.push(Edge {
            from: o,
            to: None,
            forward: g.nodes[o].value,
            backward: g.nodes[o].grad,
        });
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Rough width of `s` in 14 px sans-serif, for sizing shapes and margins.
fn text_width(s: &str) -> f64 {
    s.chars().count() as f64 * 8.0
}

const COL_W: f64 = 170.0;
const ROW_H: f64 = 90.0;
const TOP: f64 = 90.0; // top of the drawing, under the title and legend
const NODE_RY: f64 = 19.0;

/// Half-width of an operation's shape: a circle for one- and two-character symbols, an
/// ellipse for function names.
fn node_rx(op: &Op) -> f64 {
    let w = text_width(&op.symbol());
    if w <= 16.0 { NODE_RY } else { w / 2.0 + 12.0 }
}

/// A label's box in the picture (y down), before the body is shifted under the title.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Box2 {
    /// Left.
    pub x0: f64,
    /// Top.
    pub y0: f64,
    /// Right.
    pub x1: f64,
    /// Bottom.
    pub y1: f64,
}

impl Box2 {
    fn around(cx: f64, cy: f64, w: f64, h: f64) -> Box2 {
        Box2 {
            x0: cx - w / 2.0,
            y0: cy - h / 2.0,
            x1: cx + w / 2.0,
            y1: cy + h / 2.0,
        }
    }

    fn grown(&self, by: f64) -> Box2 {
        Box2 {
            x0: self.x0 - by,
            y0: self.y0 - by,
            x1: self.x1 + by,
            y1: self.y1 + by,
        }
    }

    fn overlaps(&self, o: &Box2) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    /// Distance from the point to the box (0 inside).
    pub fn distance(&self, (x, y): (f64, f64)) -> f64 {
        let dx = (self.x0 - x).max(0.0).max(x - self.x1);
        let dy = (self.y0 - y).max(0.0).max(y - self.y1);
        dx.hypot(dy)
    }

    /// Distance from the polyline to the box.
    pub fn distance_to_line(&self, line: &[(f64, f64)]) -> f64 {
        line.iter()
            .map(|&p| self.distance(p))
            .fold(f64::INFINITY, f64::min)
    }
}

/// Height of a 14 px label's box.
const LABEL_H: f64 = 16.0;

/// One arrow as drawn: a cubic Bézier `p0 → p3` with controls `c1`, `c2`, its labels' boxes
/// and centres.
#[derive(Clone, Debug)]
pub struct EdgeGeometry {
    /// Start, first control, second control, end.
    pub curve: [(f64, f64); 4],
    /// The forward value's box (above the arrow).
    pub forward: Box2,
    /// The derivative's box (below the arrow).
    pub backward: Box2,
}

impl EdgeGeometry {
    /// The curve as `n + 1` points.
    pub fn points(&self, n: usize) -> Vec<(f64, f64)> {
        (0..=n)
            .map(|k| bezier(&self.curve, k as f64 / n as f64))
            .collect()
    }
}

fn bezier(c: &[(f64, f64); 4], t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, cc, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (
        a * c[0].0 + b * c[1].0 + cc * c[2].0 + d * c[3].0,
        a * c[0].1 + b * c[1].1 + cc * c[2].1 + d * c[3].1,
    )
}

fn bezier_tangent(c: &[(f64, f64); 4], t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, cc) = (3.0 * u * u, 6.0 * u * t, 3.0 * t * t);
    (
        a * (c[1].0 - c[0].0) + b * (c[2].0 - c[1].0) + cc * (c[3].0 - c[2].0),
        a * (c[1].1 - c[0].1) + b * (c[2].1 - c[1].1) + cc * (c[3].1 - c[2].1),
    )
}

/// The picture's geometry: node centres and every arrow's curve and label boxes.
struct Geometry {
    pos: Vec<(f64, f64)>,
    out_x: f64,
    edges: Vec<(Edge, EdgeGeometry)>,
}

/// The arrows' curves, then their labels, placed so that each label belongs visibly to its
/// arrow: on it (forward value above, derivative below, as in the book), nearer to it than to
/// any other arrow, crossed by no arrow, and never stacked in one gap with another arrow's
/// label.
fn geometry(g: &Graph) -> Geometry {
    let lay = Layout::new(g);
    let leaf_w = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| n.args.is_empty() && lay.col[*i] == 0)
        .map(|(_, n)| text_width(&n.op.symbol()))
        .fold(0.0, f64::max);
    let left = 30.0 + leaf_w;
    let max_col = lay.col.iter().copied().max().unwrap_or(0);
    let pos: Vec<(f64, f64)> = (0..g.nodes.len())
        .map(|i| (left + lay.col[i] as f64 * COL_W, lay.row[i] * ROW_H))
        .collect();
    let out_x = left + (max_col + 1) as f64 * COL_W;
    let all = edges(g);
    // Counts for the bends, computed once (graphs can be long).
    let mut fan_out = vec![0usize; g.nodes.len()];
    let mut pairs: HashMap<(NodeId, Option<NodeId>), usize> = HashMap::new();
    for e in &all {
        fan_out[e.from] += 1;
        *pairs.entry((e.from, e.to.map(|t| t.0))).or_default() += 1;
    }
    let mut drawn: HashMap<(NodeId, Option<NodeId>), usize> = HashMap::new();
    let mut by_col: Vec<Vec<NodeId>> = vec![Vec::new(); max_col + 1];
    for (i, &c) in lay.col.iter().enumerate() {
        by_col[c].push(i);
    }
    let mut curves = Vec::new();
    for e in &all {
        let (x0, y0) = pos[e.from];
        let src_node = &g.nodes[e.from];
        let (cx1, cy1, rx1) = match e.to {
            Some((t, _)) => {
                let (x, y) = pos[t];
                (x, y, node_rx(&g.nodes[t].op))
            }
            None => (out_x, y0, 0.0),
        };
        // Parallel edges between the same pair (x·x) bend apart; an edge that skips columns
        // bends around the nodes it would run through.
        let key = (e.from, e.to.map(|t| t.0));
        let count = pairs[&key];
        let rank = drawn.entry(key).or_default();
        let mut bend = (*rank as f64 - (count as f64 - 1.0) / 2.0) * 120.0;
        *rank += 1;
        if let Some((t, _)) = e.to.filter(|_| count == 1) {
            let (c0, c1) = (lay.col[e.from], lay.col[t]);
            // Offsets from the straight arrow of the nodes in the columns it crosses.
            let blocking = by_col[(c0 + 1).min(c1)..c1]
                .iter()
                .flatten()
                .map(|&k| {
                    let (x, y) = pos[k];
                    y - (y0 + (cy1 - y0) * (x - x0) / (cx1 - x0))
                })
                .filter(|off| off.abs() < ROW_H * 0.6)
                .min_by(|a, b| a.abs().total_cmp(&b.abs()));
            if let Some(off) = blocking {
                let away = if off > 0.0 { -1.0 } else { 1.0 };
                // Clear of the source's other arrows too (x·x + x: the arc to + must pass
                // under the two bent arrows into ×, not along them).
                let crowded = if fan_out[e.from] > 1 { 80.0 } else { 0.0 };
                bend = away * (90.0 + crowded + 40.0 * (c1 - c0).saturating_sub(2) as f64);
            }
        }
        // A leaf's arrow starts just right of its name.
        let x0 = if src_node.args.is_empty() {
            x0 + 6.0
        } else {
            x0
        };
        let on_ellipse = |cx: f64, cy: f64, rx: f64, toward: (f64, f64)| {
            let (dx, dy) = (toward.0 - cx, toward.1 - cy);
            let t = 1.0 / ((dx / rx).powi(2) + (dy / NODE_RY).powi(2)).sqrt();
            (cx + t * dx, cy + t * dy)
        };
        let curve = if bend == 0.0 {
            // The book's arrows: leave the source level, turn, and arrive level, so that
            // the labels near the source sit on a level stretch a whole row away from the
            // next arrow.
            let p0 = if src_node.args.is_empty() {
                (x0, y0)
            } else {
                on_ellipse(x0, y0, node_rx(&src_node.op), (cx1, y0))
            };
            let p3 = if e.to.is_some() {
                on_ellipse(cx1, cy1, rx1, (p0.0, cy1))
            } else {
                (cx1, cy1)
            };
            let mid = (p0.0 + p3.0) / 2.0;
            [p0, (mid, p0.1), (mid, p3.1), p3]
        } else {
            // Control point of a quadratic: the midpoint shifted vertically by `bend`; both
            // ends on the shapes' boundaries toward it; raised to a cubic.
            let q = ((x0 + cx1) / 2.0, (y0 + cy1) / 2.0 + bend);
            let p3 = if e.to.is_some() {
                on_ellipse(cx1, cy1, rx1, q)
            } else {
                (cx1, cy1)
            };
            let p0 = if src_node.args.is_empty() {
                (x0, y0)
            } else {
                on_ellipse(x0, y0, node_rx(&src_node.op), q)
            };
            let lift =
                |p: (f64, f64)| (p.0 + 2.0 / 3.0 * (q.0 - p.0), p.1 + 2.0 / 3.0 * (q.1 - p.1));
            [p0, lift(p0), lift(p3), p3]
        };
        curves.push(curve);
    }

    // Labels, one arrow at a time, at the first position along the arrow that keeps them
    // clear of what is placed already: near the source where arrows are a row apart, later
    // along arrows that share their source (they coincide at first).
    let samples: Vec<Vec<(f64, f64)>> = curves
        .iter()
        .map(|c| (0..=48).map(|k| bezier(c, k as f64 / 48.0)).collect())
        .collect();
    let nodes: Vec<Box2> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (x, y) = pos[i];
            if n.args.is_empty() {
                let w = text_width(&n.op.symbol());
                Box2 {
                    x0: x - w,
                    y0: y - 9.0,
                    x1: x,
                    y1: y + 9.0,
                }
            } else {
                Box2::around(x, y, 2.0 * node_rx(&n.op), 2.0 * NODE_RY)
            }
        })
        .collect();
    let mut placed: Vec<(usize, Box2)> = Vec::new();
    let mut out = Vec::new();
    for (k, (e, curve)) in all.into_iter().zip(curves.iter()).enumerate() {
        let (fwd, bwd) = (short(e.forward), short(e.backward));
        let boxes_at = |t: f64| {
            let (mx, my) = bezier(curve, t);
            let (tx, ty) = bezier_tangent(curve, t);
            let len = tx.hypot(ty).max(1e-9);
            let (mut nx, mut ny) = (ty / len, -tx / len);
            if ny > 0.0 {
                (nx, ny) = (-nx, -ny);
            }
            // Far enough along the normal that the box clears a sloped arrow.
            let place = |label: &str, sign: f64| {
                let w = text_width(label) + 4.0;
                let d = 3.0 + w / 2.0 * nx.abs() + LABEL_H / 2.0 * ny.abs();
                Box2::around(mx + sign * d * nx, my + sign * d * ny, w, LABEL_H)
            };
            (place(&fwd, 1.0), place(&bwd, -1.0))
        };
        let fits = |b: &Box2| {
            let own = b.distance_to_line(&samples[k]);
            let crossed_or_nearer = samples
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .any(|(_, l)| b.distance_to_line(l) < own + 14.0);
            let stacked = placed.iter().any(|(j, o)| {
                *j != k
                    && b.x0 - 6.0 < o.x1
                    && o.x0 < b.x1 + 6.0
                    && (b.y0 - o.y1).max(o.y0 - b.y1) < 2.0 * LABEL_H
            });
            let on_node = nodes.iter().any(|n| n.overlaps(&b.grown(2.0)));
            !crossed_or_nearer && !stacked && !on_node
        };
        let shared_source = fan_out[e.from] > 1;
        let order: &[f64] = if shared_source {
            &[0.6, 0.7, 0.5, 0.8, 0.4, 0.3]
        } else {
            &[0.25, 0.35, 0.2, 0.45, 0.55, 0.65, 0.75]
        };
        let (forward, backward) = order
            .iter()
            .map(|&t| boxes_at(t))
            .find(|(f, b)| fits(f) && fits(b))
            .unwrap_or_else(|| boxes_at(order[0]));
        placed.push((k, forward));
        placed.push((k, backward));
        out.push((
            e,
            EdgeGeometry {
                curve: *curve,
                forward,
                backward,
            },
        ));
    }
    Geometry {
        pos,
        out_x,
        edges: out,
    }
}

/// Every arrow of the picture [`to_svg`] draws, in the order it draws them: the arrows into
/// each node in forward order, then the output's. Tests check the labels' placement on it.
pub fn edge_geometry(g: &Graph) -> Vec<EdgeGeometry> {
    geometry(g).edges.into_iter().map(|(_, e)| e).collect()
}

/// The title of the picture: the output's name and the expression, with `×` for `*` as on
/// the nodes.
pub fn title(g: &Graph) -> String {
    if g.source.is_empty() {
        g.output_name.clone()
    } else {
        format!("{} = {}", g.output_name, g.source.replace('*', "×"))
    }
}

/// The picture as a standalone SVG document.
///
/// ```
/// use backprop::graph::{render, shopping};
/// let svg = render::to_svg(&shopping::apple_orange_graph());
/// assert!(svg.starts_with("<svg") && svg.contains(">715</text>"));
/// ```
pub fn to_svg(g: &Graph) -> String {
    let geo = geometry(g);
    let pos = |i: NodeId| geo.pos[i];
    let out_x = geo.out_x;
    let title = title(g);

    // The body is drawn with rows from y = 0 and shifted down under the title once its
    // vertical extent (arcs and labels included) is known.
    let (mut min_y, mut max_y) = (-NODE_RY, NODE_RY);
    let mut body = String::new();
    // Edges first, so that nodes are drawn over their ends.
    for (e, eg) in &geo.edges {
        let src_node = &g.nodes[e.from];
        let target_name = match e.to {
            Some((t, _)) => g.nodes[t].op.symbol(),
            None => g.output_name.clone(),
        };
        for p in eg.points(16) {
            min_y = min_y.min(p.1);
            max_y = max_y.max(p.1);
        }
        for b in [&eg.forward, &eg.backward] {
            min_y = min_y.min(b.y0);
            max_y = max_y.max(b.y1);
        }
        let [p0, c1, c2, p3] = eg.curve;
        let centre = |b: &Box2| ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0 + 5.0);
        let ((fx, fy), (bx, by)) = (centre(&eg.forward), centre(&eg.backward));
        let _ = writeln!(
            body,
            "<g><title>{} → {}: forward {}, backward {}</title>\
             <path class=\"edge\" d=\"M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" marker-end=\"url(#arrow)\"/>\
             <text class=\"fwd\" x=\"{fx:.1}\" y=\"{fy:.1}\" text-anchor=\"middle\">{}</text>\
             <text class=\"bwd\" x=\"{bx:.1}\" y=\"{by:.1}\" text-anchor=\"middle\">{}</text></g>",
            xml_escape(&src_node.op.symbol()),
            xml_escape(&target_name),
            py_repr(e.forward),
            py_repr(e.backward),
            p0.0,
            p0.1,
            c1.0,
            c1.1,
            c2.0,
            c2.1,
            p3.0,
            p3.1,
            xml_escape(&short(e.forward)),
            xml_escape(&short(e.backward)),
        );
    }

    for (i, node) in g.nodes.iter().enumerate() {
        let (x, y) = pos(i);
        max_y = max_y.max(y + NODE_RY);
        let label = xml_escape(&node.op.symbol());
        if node.args.is_empty() {
            let _ = writeln!(
                body,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="end" font-weight="bold">{label}</text>"#,
                y + 5.0
            );
        } else {
            let rx = node_rx(&node.op);
            let _ = writeln!(
                body,
                "<g><title>{label}: forward {}, backward {}</title>\
                 <ellipse class=\"node\" cx=\"{x:.1}\" cy=\"{y:.1}\" rx=\"{rx:.1}\" ry=\"{NODE_RY}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{}\">{label}</text></g>",
                py_repr(node.value),
                py_repr(node.grad),
                y + 6.0,
                if rx == NODE_RY { 18 } else { 14 },
            );
        }
    }
    if let Some(o) = g.output() {
        let (_, y) = pos(o);
        let _ = writeln!(
            body,
            r#"<text x="{:.1}" y="{:.1}" font-weight="bold">{}</text>"#,
            out_x + 6.0,
            y + 5.0,
            xml_escape(&g.output_name)
        );
    }

    let shift = TOP - min_y;
    let width = (out_x + text_width(&g.output_name) + 40.0)
        .max(text_width(&title) + 40.0)
        .max(560.0);
    let height = shift + max_y + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="14">"##
    );
    let _ = writeln!(s, "<title>{}</title>", xml_escape(&title));
    let _ = writeln!(
        s,
        concat!(
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" ",
            "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">",
            "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"{ink}\"/></marker></defs>\n",
            "<style>.fwd{{fill:{ink}}}.bwd{{fill:{red}}}.node{{fill:white;stroke:{ink};stroke-width:1.5}}",
            ".edge{{fill:none;stroke:{ink};stroke-width:1.3}}</style>\n",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
        ),
        ink = style::INK.hex(),
        red = style::VERMILLION.hex(),
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="28" font-size="16" font-weight="bold">{}</text>"#,
        xml_escape(&title)
    );
    let _ = writeln!(
        s,
        concat!(
            r#"<text x="20" y="50" font-size="12" class="fwd">above each arrow: forward value</text>"#,
            r#"<text x="225" y="50" font-size="12" class="bwd">below it: backward value, ∂{}/∂(that value)</text>"#
        ),
        xml_escape(&g.output_name)
    );
    let _ = writeln!(s, r#"<g transform="translate(0,{shift:.1})">"#);
    s.push_str(&body);
    s.push_str("</g>\n</svg>\n");
    s
}

/// The graph in Graphviz's DOT language: `dot -Tpng` draws it left to right, each edge
/// labelled with its forward value over its backward value (in the derivative colour,
/// [`style::VERMILLION`]).
///
/// ```
/// use backprop::graph::{render, shopping};
/// let dot = render::to_dot(&shopping::apple_graph());
/// assert!(dot.contains("rankdir=LR") && dot.contains(r##"<font color="#d55e00">2.2</font>"##));
/// ```
pub fn to_dot(g: &Graph) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph {:?} {{", g.output_name);
    let _ = writeln!(s, "  rankdir=LR; fontname=\"Helvetica\";");
    let _ = writeln!(s, "  label={:?}; labelloc=t;", title(g));
    let _ = writeln!(
        s,
        "  node [fontname=\"Helvetica\"]; edge [fontname=\"Helvetica\"];"
    );
    for (i, node) in g.nodes.iter().enumerate() {
        let shape = if node.args.is_empty() {
            "plaintext"
        } else if node_rx(&node.op) == NODE_RY {
            "circle"
        } else {
            "ellipse"
        };
        let _ = writeln!(s, "  n{i} [label={:?}, shape={shape}];", node.op.symbol());
    }
    let _ = writeln!(s, "  out [label={:?}, shape=plaintext];", g.output_name);
    for e in edges(g) {
        let to = e.to.map_or("out".to_string(), |(t, _)| format!("n{t}"));
        let _ = writeln!(
            s,
            "  n{} -> {to} [label=<{}<br/><font color=\"{}\">{}</font>>];",
            e.from,
            xml_escape(&short(e.forward)),
            style::VERMILLION.hex(),
            xml_escape(&short(e.backward))
        );
    }
    s.push_str("}\n");
    s
}

/// The graph as a text table, one node per line in forward order, then the output and every
/// input's derivative with Python's full `repr` (as the book's scripts print them).
///
/// ```text
/// price = apple * apple_num * tax
///
///   #  node               forward  backward
///   0  apple                  100       2.2
/// …
/// ```
pub fn to_text(g: &Graph) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} = {}\n", g.output_name, g.source);
    let rows: Vec<(String, String, String)> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let what = g.label(i);
            let what = if Some(i) == g.output() {
                format!("{what}  → {}", g.output_name)
            } else {
                what
            };
            (what, short(n.value), short(n.grad))
        })
        .collect();
    let w = rows
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let wf = rows.iter().map(|r| r.1.len()).max().unwrap_or(7).max(7);
    let wb = rows.iter().map(|r| r.2.len()).max().unwrap_or(8).max(8);
    let wi = g.nodes.len().saturating_sub(1).to_string().len().max(1);
    let _ = writeln!(
        s,
        "  {:>wi$}  {:<w$}  {:>wf$}  {:>wb$}",
        "#", "node", "forward", "backward"
    );
    for (i, (what, f, b)) in rows.iter().enumerate() {
        let _ = writeln!(s, "  {i:>wi$}  {what:<w$}  {f:>wf$}  {b:>wb$}");
    }
    let _ = writeln!(
        s,
        "\nexact values (the table rounds to 6 significant digits; these are the floats the \
         computer holds, printed as Python prints them):"
    );
    if let Some(o) = g.output() {
        let _ = writeln!(s, "{} = {}", g.output_name, py_repr(g.nodes[o].value));
    }
    for (name, _, grad) in g.gradients() {
        let _ = writeln!(s, "∂{}/∂{name} = {}", g.output_name, py_repr(grad));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::expr::evaluate;
    use crate::graph::shopping::apple_orange_graph;

    #[test]
    fn apple_orange_is_laid_out_like_fig_5_17() {
        let g = apple_orange_graph();
        let lay = Layout::new(&g);
        let at = |name: &str| g.find(name).unwrap();
        // The four goods in column 0, top to bottom in the book's order; tax one column left
        // of the last ×, below everything.
        let goods = ["apple", "apple_num", "orange", "orange_num"];
        assert!(goods.iter().all(|n| lay.col[at(n)] == 0));
        assert!(
            goods
                .windows(2)
                .all(|w| lay.row[at(w[0])] < lay.row[at(w[1])])
        );
        let out = g.output().unwrap();
        assert_eq!(lay.col, [0, 0, 1, 0, 0, 1, 2, 2, 3]);
        assert_eq!(lay.col[at("tax")] + 1, lay.col[out]);
        assert!(lay.row.iter().all(|&r| r <= lay.row[at("tax")]));
        // The × nodes sit between their two inputs.
        assert_eq!(lay.row[2], 0.5);
        assert_eq!(lay.row[5], 2.5);
    }

    #[test]
    fn nodes_in_a_column_never_overlap() {
        let g = evaluate("exp(x) + log(x) + tanh(x) * x", "f", &[("x", 2.0)]).unwrap();
        let lay = Layout::new(&g);
        for i in 0..g.nodes.len() {
            for j in 0..i {
                if lay.col[i] == lay.col[j] {
                    assert!(
                        (lay.row[i] - lay.row[j]).abs() >= 1.0,
                        "{i} and {j} overlap"
                    );
                }
            }
        }
    }

    #[test]
    fn a_name_used_twice_gets_two_arrows() {
        let g = evaluate("x*x", "f", &[("x", 3.0)]).unwrap();
        let svg = to_svg(&g);
        let arrows: Vec<&str> = svg
            .lines()
            .filter(|l| l.starts_with("<g><title>x → ×: forward 3.0, backward 3.0</title>"))
            .collect();
        assert_eq!(arrows.len(), 2);
        assert_ne!(arrows[0], arrows[1], "the two arrows must not coincide");
    }

    #[test]
    fn text_table_lists_every_node() {
        let text = to_text(&apple_orange_graph());
        assert!(text.starts_with("price = (apple * apple_num + orange * orange_num) * tax\n"));
        assert!(
            text.contains("  8  #6 × #7  → price      715         1\n"),
            "{text}"
        );
        assert!(text.contains("∂price/∂tax = 650.0\n"));
    }

    /// Each label of each arrow is nearer to its own arrow than to any other by a clear
    /// margin, no arrow runs through it, no two labels overlap, and labels of different
    /// arrows are never stacked in one gap (the forward value of one arrow right under the
    /// derivative of the next, told apart only by colour).
    fn assert_labels_belong_to_their_arrows(g: &Graph) {
        let edges = edge_geometry(g);
        let lines: Vec<Vec<(f64, f64)>> = edges.iter().map(|e| e.points(200)).collect();
        let boxes: Vec<(usize, Box2)> = edges
            .iter()
            .enumerate()
            .flat_map(|(k, e)| [(k, e.forward), (k, e.backward)])
            .collect();
        for &(k, b) in &boxes {
            let own = b.distance_to_line(&lines[k]);
            assert!(
                own < 12.0,
                "{}: label {k} is {own} px from its arrow",
                g.source
            );
            for (j, l) in lines.iter().enumerate().filter(|&(j, _)| j != k) {
                let other = b.distance_to_line(l);
                assert!(
                    other >= own + 10.0,
                    "{}: label of arrow {k} is {other} px from arrow {j}, {own} from its own",
                    g.source
                );
            }
            for &(j, o) in &boxes {
                if (j, o) == (k, b) {
                    continue;
                }
                assert!(
                    !b.overlaps(&o),
                    "{}: labels of {k} and {j} overlap",
                    g.source
                );
                if j != k && b.x0 < o.x1 && o.x0 < b.x1 {
                    let gap = (b.y0 - o.y1).max(o.y0 - b.y1);
                    assert!(
                        gap >= LABEL_H,
                        "{}: labels of arrows {k} and {j} stacked {gap} px apart",
                        g.source
                    );
                }
            }
        }
    }

    #[test]
    fn labels_belong_visibly_to_their_arrows() {
        assert_labels_belong_to_their_arrows(&apple_orange_graph());
        assert_labels_belong_to_their_arrows(&crate::graph::shopping::apple_graph());
        for (expr, vars) in [
            ("x*x + x", vec![("x", 3.0)]),
            (
                "sigmoid(w*x + b)",
                vec![("w", 2.0), ("x", 0.5), ("b", -1.0)],
            ),
            (
                "a*b + c*d",
                vec![("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)],
            ),
        ] {
            let g = evaluate(expr, "f", &vars).unwrap();
            assert_labels_belong_to_their_arrows(&g);
        }
    }

    #[test]
    fn the_title_uses_the_nodes_times_sign() {
        let g = apple_orange_graph();
        assert_eq!(
            title(&g),
            "price = (apple × apple_num + orange × orange_num) × tax"
        );
        let svg = to_svg(&g);
        assert!(
            svg.contains("<title>price = (apple × apple_num + orange × orange_num) × tax</title>")
        );
        assert!(!svg.contains("apple * apple_num"));
        assert!(to_dot(&g).contains("label=\"price = (apple × apple_num"));
    }

    #[test]
    fn the_exact_floats_are_explained() {
        let text = to_text(&crate::graph::shopping::apple_graph());
        let (table, exact) = text.split_once("exact values").unwrap();
        assert!(
            table.contains("  220  ") || table.contains(" 220\n"),
            "{table}"
        );
        assert!(exact.contains("6 significant digits"), "{exact}");
        assert!(exact.contains("\nprice = 220.00000000000003\n"), "{exact}");
    }
}
