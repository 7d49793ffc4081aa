//! `train --report run.html`: one self-contained HTML page about a training run — its
//! configuration, learning curves, per-epoch accuracy, confusion matrix, misclassified test
//! images and the first layer's weights — with every chart and image inline, so the file can
//! be mailed or opened offline and fetches nothing.

use std::fmt::Write as _;

use crate::train::EpochRecord;

/// A grey image to show in the report.
#[derive(Clone, Debug)]
pub struct Tile {
    /// `height × width` values; shown min–max normalised (black = min, white = max).
    pub values: Vec<f32>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Text under the image.
    pub caption: String,
}

/// Everything the report shows. Wall-clock times are left out (they are on the terminal and
/// in `--json`), so that the same run with the same seed writes the same page.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The page title.
    pub title: String,
    /// The run's configuration, as (name, value) rows (see [`config_rows`]).
    pub config: Vec<(String, String)>,
    /// Said plainly at the top when training failed (see [`crate::eval::Failure`]).
    pub warning: Option<String>,
    /// Charts already rendered as SVG (loss curve, accuracy), each with a heading (its tooltip;
    /// the SVG shows its own title).
    pub charts: Vec<(String, String)>,
    /// One row per evaluation (its times are not shown).
    pub history: Vec<EpochRecord>,
    /// Class names, for the confusion matrix.
    pub class_names: Vec<String>,
    /// `confusion[label][prediction]` counts on the test set.
    pub confusion: Vec<Vec<usize>>,
    /// Misclassified test images, captioned with label and prediction.
    pub misclassified: Vec<Tile>,
    /// The first layer's weights as images (Affine rows as input-sized tiles, conv filters).
    pub first_layer: Vec<Tile>,
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648) of `bytes`, for `data:` URIs.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The rows of a configuration table for the JSON `value`: one `(name, value)` per leaf,
/// nested names joined with `.` under `prefix`, arrays as comma-separated lists; `null`s
/// (settings left at their default) are left out.
///
/// ```
/// let v = serde_json::json!({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": null}});
/// assert_eq!(
///     backprop::report::html::config_rows("", &v),
///     [("optimizer.name".to_string(), "sgd".to_string()), ("optimizer.lr".into(), "0.1".into())]
/// );
/// ```
pub fn config_rows(prefix: &str, value: &serde_json::Value) -> Vec<(String, String)> {
    use serde_json::Value;
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Null => Vec::new(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| config_rows(&key(k), v))
            .collect(),
        Value::Array(items) => vec![(
            prefix.to_string(),
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        )],
        Value::String(s) => vec![(prefix.to_string(), s.clone())],
        other => vec![(prefix.to_string(), other.to_string())],
    }
}

/// A tile as a PNG `data:` URI (min–max normalised grey: the smallest value black).
pub fn tile_png_uri(tile: &Tile) -> String {
    tile_png_uri_as(tile, false)
}

/// A tile as a PNG `data:` URI, min–max normalised; with `weights`, drawn as pictures of
/// weights are everywhere ([`super::style::weight_grey`], the book's `gray_r`: the smallest
/// value white, the largest black).
pub fn tile_png_uri_as(tile: &Tile, weights: bool) -> String {
    let (lo, hi) = tile
        .values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let grey: Vec<u8> = tile
        .values
        .iter()
        .map(|&v| {
            let level = ((v - lo) / span) as f64;
            if weights {
                super::style::weight_grey(level)
            } else {
                (level * 255.0).round().clamp(0.0, 255.0) as u8
            }
        })
        .collect();
    let png = crate::io::image::encode_png(
        &grey,
        tile.width as u32,
        tile.height as u32,
        png::ColorType::Grayscale,
    )
    .expect("encoding a PNG into memory does not fail");
    format!("data:image/png;base64,{}", base64(&png))
}

/// The page's style. The font list names Hangul fonts (NanumGothic, Noto Sans CJK KR, the
/// Mac and Windows ones) after the Latin ones, so a browser draws Korean class names and
/// titles with whichever it has, character by character.
const STYLE: &str = "body{font-family:system-ui,\"DejaVu Sans\",NanumGothic,\"Noto Sans CJK KR\",\"Apple SD Gothic Neo\",\"Malgun Gothic\",sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222;line-height:1.4}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right;border:1px solid #e4e4e4}\
th{background:#f4f4f4}\
table.config th{text-align:left;white-space:nowrap;vertical-align:top;font-weight:normal}\
table.config td{text-align:left;font-family:ui-monospace,monospace}\
.warning{border:2px solid #d55e00;background:#fff4ec;padding:.6em 1em;margin:1em 0}\
.warning strong{color:#a04000}\
.chart{width:100%;margin:1em 0}.chart svg{width:100%;height:auto;display:block}\
tr.best td{font-weight:bold}details{margin-top:.6em}summary{cursor:pointer}\
.grid{display:flex;flex-wrap:wrap;gap:12px}\
figure{margin:0;text-align:center;font-size:.8em}\
figure figcaption{white-space:nowrap}\
figure img{image-rendering:pixelated;width:64px;height:64px;border:1px solid #ccc}\
.key{display:flex;align-items:center;gap:.6em;font-size:.85em;margin:.4em 0 .8em}\
.key .bar{width:160px;height:14px;border:1px solid #ccc}";

fn history_row(html: &mut String, e: &EpochRecord, class: &str, note: &str) {
    let _ = write!(
        html,
        "<tr{class}><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{note}</td></tr>",
        e.epoch, e.iter, e.loss, e.train_acc, e.test_acc
    );
}

const HISTORY_HEAD: &str =
    "<tr><th>epoch</th><th>step</th><th>loss</th><th>train acc</th><th>test acc</th><th></th></tr>";

/// The first, best (highest test accuracy, first of equals) and last evaluations in a short
/// table, all of them behind a `<details>`.
fn section_table(html: &mut String, r: &Report) {
    if r.history.is_empty() {
        return;
    }
    let best = r.history.iter().enumerate().fold(0, |b, (i, e)| {
        if e.test_acc > r.history[b].test_acc {
            i
        } else {
            b
        }
    });
    let last = r.history.len() - 1;
    let mut shown = vec![(0, "first")];
    if best != 0 && best != last {
        shown.push((best, "best test accuracy"));
    }
    if last != 0 {
        shown.push((last, "last"));
    }
    let _ = write!(
        html,
        "<h2>Accuracy per evaluation</h2><table class=\"history\">{HISTORY_HEAD}"
    );
    for (i, note) in &shown {
        let mut note = note.to_string();
        if *i == best && best == last && last != 0 {
            note = "last, best test accuracy".into();
        } else if *i == best && best == 0 {
            note = "first, best test accuracy".into();
        }
        let class = if *i == best { " class=\"best\"" } else { "" };
        history_row(html, &r.history[*i], class, &note);
    }
    html.push_str("</table>");
    if r.history.len() > shown.len() {
        let _ = write!(
            html,
            "<details><summary>all {} evaluations</summary><table class=\"history\">{HISTORY_HEAD}",
            r.history.len()
        );
        for (i, e) in r.history.iter().enumerate() {
            let class = if i == best { " class=\"best\"" } else { "" };
            history_row(html, e, class, "");
        }
        html.push_str("</table></details>");
    }
}

fn section_confusion(html: &mut String, r: &Report) {
    if r.confusion.is_empty() {
        return;
    }
    let max = r
        .confusion
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    html.push_str("<h2>Confusion matrix (test set; rows: label, columns: prediction)</h2><table><tr><th></th>");
    for name in &r.class_names {
        let _ = write!(html, "<th>{}</th>", escape(name));
    }
    html.push_str("</tr>");
    for (label, row) in r.confusion.iter().enumerate() {
        let name = r
            .class_names
            .get(label)
            .map_or(label.to_string(), |n| escape(n));
        let _ = write!(html, "<tr><th>{name}</th>");
        for (pred, &count) in row.iter().enumerate() {
            // diagonal in green, errors in red, shade by count
            let alpha = (count as f64 / max).sqrt();
            let colour = if label == pred {
                "40,160,80"
            } else {
                "210,60,60"
            };
            let _ = write!(
                html,
                "<td style=\"background:rgba({colour},{alpha:.2})\">{count}</td>"
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
}

/// A grid of captioned tiles; `weights` draws them as weights (see [`tile_png_uri_as`])
/// under a grey-scale key.
fn section_tiles(html: &mut String, heading: &str, tiles: &[Tile], weights: bool) {
    if tiles.is_empty() {
        return;
    }
    let _ = write!(html, "<h2>{}</h2>", escape(heading));
    if weights {
        let (lo, hi) = (
            super::style::weight_grey(0.0),
            super::style::weight_grey(1.0),
        );
        let _ = write!(
            html,
            "<div class=\"key\">smallest weight<span class=\"bar\" style=\"background:linear-gradient(to right,rgb({lo},{lo},{lo}),rgb({hi},{hi},{hi}))\"></span>largest weight (each tile scaled to its own range)</div>"
        );
    }
    html.push_str("<div class=\"grid\">");
    for t in tiles {
        let _ = write!(
            html,
            "<figure><img alt=\"{c}\" src=\"{}\"><figcaption>{c}</figcaption></figure>",
            tile_png_uri_as(t, weights),
            c = escape(&t.caption)
        );
    }
    html.push_str("</div>");
}

/// Renders the report as one HTML document.
pub fn render(r: &Report) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>",
        t = escape(&r.title)
    );
    if let Some(w) = &r.warning {
        let _ = write!(
            html,
            "<div class=\"warning\" role=\"alert\"><strong>{}</strong></div>",
            escape(w)
        );
    }
    html.push_str("<h2>Configuration</h2><table class=\"config\">");
    for (k, v) in &r.config {
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        );
    }
    html.push_str("</table>");
    if !r.charts.is_empty() {
        // One above the other, each the page's full width; each SVG carries its own title.
        html.push_str("<h2>Learning curves</h2><div class=\"charts\">");
        for (heading, svg) in &r.charts {
            let _ = write!(
                html,
                "<div class=\"chart\" title=\"{}\">{svg}</div>",
                escape(heading)
            );
        }
        html.push_str("</div>");
    }
    section_table(&mut html, r);
    section_confusion(&mut html, r);
    section_tiles(
        &mut html,
        "Misclassified test images (label → prediction)",
        &r.misclassified,
        false,
    );
    section_tiles(&mut html, "First layer weights", &r.first_layer, true);
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn tiles_become_decodable_pngs() {
        let tile = Tile {
            values: vec![0.0, 0.5, 1.0, -1.0],
            width: 2,
            height: 2,
            caption: "x".into(),
        };
        let uri = tile_png_uri(&tile);
        let b64 = uri.strip_prefix("data:image/png;base64,").unwrap();
        // decode base64 by hand-rolled inverse of the alphabet
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = Vec::new();
        for c in b64.trim_end_matches('=').chars() {
            let v = alphabet.find(c).unwrap() as u32;
            for i in (0..6).rev() {
                bits.push((v >> i) & 1);
            }
        }
        let bytes: Vec<u8> = bits
            .chunks_exact(8)
            .map(|b| b.iter().fold(0u8, |a, &x| a << 1 | x as u8))
            .collect();
        let (gray, w, h) = crate::io::image::decode_gray(&bytes).unwrap();
        assert_eq!((w, h), (2, 2));
        // min −1 → 0, max 1 → 255, 0 → 128 (rounded), 0.5 → 191
        assert_eq!(gray, vec![128, 191, 255, 0]);
    }

    #[test]
    fn the_page_escapes_text_and_fetches_nothing() {
        let r = Report {
            title: "run <1>".into(),
            config: vec![("model".into(), "two-layer & co".into())],
            charts: vec![(
                "Loss".into(),
                "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".into(),
            )],
            class_names: vec!["a".into(), "b".into()],
            confusion: vec![vec![5, 1], vec![0, 4]],
            ..Report::default()
        };
        let html = render(&r);
        assert!(html.contains("run &lt;1&gt;") && html.contains("two-layer &amp; co"));
        assert!(html.contains("<td style=\"background:rgba(40,160,80,1.00)\">5</td>"));
        for needle in [
            "src=\"http",
            "href=\"http",
            "<script src",
            "@import",
            "url(http",
        ] {
            assert!(!html.contains(needle), "{needle}");
        }
    }

    fn record(epoch: usize, test_acc: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            iter: epoch * 10,
            loss: 1.0 / epoch as f64,
            train_acc: test_acc + 0.01,
            test_acc,
            test_loss: None,
            seconds: 0.0,
        }
    }

    #[test]
    fn the_page_has_its_sections_a_config_table_and_a_collapsed_history() {
        let history: Vec<EpochRecord> = (1..=200)
            .map(|e| {
                record(
                    e,
                    if e == 150 {
                        0.99
                    } else {
                        0.5 + e as f64 / 1000.0
                    },
                )
            })
            .collect();
        let v = serde_json::json!({"optimizer": {"name": "adam", "lr": 0.001, "beta1": null},
                                   "hidden": [100, 100]});
        let tile = Tile {
            values: vec![0.0, 1.0, 2.0, 3.0],
            width: 2,
            height: 2,
            caption: "#101: 9 → 4".into(),
        };
        let r = Report {
            title: "run".into(),
            config: config_rows("", &v),
            warning: Some("training failed: accuracy 0.1000 is near chance".into()),
            charts: vec![("loss".into(), "<svg></svg>".into())],
            history,
            class_names: vec!["a".into(), "b".into()],
            confusion: vec![vec![1, 0], vec![0, 1]],
            misclassified: vec![tile.clone()],
            first_layer: vec![tile],
        };
        let html = render(&r);
        for h in [
            "<h2>Configuration</h2>",
            "<h2>Learning curves</h2>",
            "<h2>Accuracy per evaluation</h2>",
            "<h2>Confusion matrix",
            "<h2>Misclassified test images",
            "<h2>First layer weights</h2>",
        ] {
            assert!(html.contains(h), "{h} missing");
        }
        // The configuration: one row per setting, no JSON, no nulls.
        assert!(html.contains("<tr><th>optimizer.name</th><td>adam</td></tr>"));
        assert!(html.contains("<tr><th>optimizer.lr</th><td>0.001</td></tr>"));
        assert!(html.contains("<tr><th>hidden</th><td>100, 100</td></tr>"));
        assert!(!html.contains("null") && !html.contains("beta1") && !html.contains("{&quot;"));
        assert!(!html.contains("break-all"));
        // The warning comes first, before the configuration.
        let warn = html.find("class=\"warning\"").unwrap();
        assert!(warn < html.find("<h2>Configuration").unwrap());
        // History: first, best (epoch 150), last shown; all 200 behind <details>; no
        // seconds column.
        let (short, rest) = html.split_once("<details>").unwrap();
        let short = &short[short.find("Accuracy per evaluation").unwrap()..];
        assert_eq!(
            short.matches("<tr><td>").count() + short.matches("<tr class=\"best\"><td>").count(),
            3
        );
        assert!(short.contains("<tr class=\"best\"><td>150</td>"));
        assert!(
            short.contains("<td>1</td><td>10</td>") && short.contains("<td>200</td><td>2000</td>")
        );
        assert!(rest.starts_with("<summary>all 200 evaluations</summary>"));
        assert!(!html.contains("seconds"));
        // Full-width charts, one-line captions, the weights' key.
        assert!(html.contains(".chart{width:100%"));
        assert!(html.contains("figcaption{white-space:nowrap}"));
        assert!(html.contains("smallest weight<span class=\"bar\""));
    }

    #[test]
    fn weights_are_drawn_gray_r_and_images_as_they_are() {
        let tile = Tile {
            values: vec![0.0, 1.0],
            width: 2,
            height: 1,
            caption: String::new(),
        };
        let decode = |uri: String| {
            let b64 = uri
                .strip_prefix("data:image/png;base64,")
                .unwrap()
                .to_string();
            let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut bits = Vec::new();
            for c in b64.trim_end_matches('=').chars() {
                let v = alphabet.find(c).unwrap() as u32;
                for i in (0..6).rev() {
                    bits.push((v >> i) & 1);
                }
            }
            let bytes: Vec<u8> = bits
                .chunks_exact(8)
                .map(|b| b.iter().fold(0u8, |a, &x| a << 1 | x as u8))
                .collect();
            crate::io::image::decode_gray(&bytes).unwrap().0
        };
        assert_eq!(decode(tile_png_uri_as(&tile, false)), vec![0, 255]);
        assert_eq!(decode(tile_png_uri_as(&tile, true)), vec![255, 0]);
    }
}
