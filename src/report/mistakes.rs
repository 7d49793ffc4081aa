//! The misclassified test images in a grid, each captioned with its index, label and
//! prediction (the book's `ch08/misclassified_mnist.py`, fig. 8-6).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::Drawing;
use super::fonts;
use crate::data::Dataset;

/// Images per row, as the book's 4 × 5 grid of the first 20 mistakes.
pub const COLUMNS: usize = 5;

/// A grid of mistakes: each image drawn as dark ink on white (channel 0, scaled to at most
/// 112 pixels), with `#index` over it and `label → prediction` under it, by class name.
#[derive(Clone, Debug)]
pub struct MistakeGrid<'a> {
    set: &'a Dataset,
    mistakes: &'a [(usize, usize, usize)],
    scale: u32,
}

const CAPTION: u32 = 40;
const GAP: u32 = 10;

impl<'a> MistakeGrid<'a> {
    /// The grid of `mistakes` `(index, label, prediction)` of `set`.
    pub fn new(set: &'a Dataset, mistakes: &'a [(usize, usize, usize)]) -> Self {
        let [_, h, w] = set.image_shape;
        let side = h.max(w).max(1) as u32;
        MistakeGrid {
            set,
            mistakes,
            scale: (112 / side).max(1),
        }
    }

    fn tile(&self) -> (u32, u32) {
        let [_, h, w] = self.set.image_shape;
        let (w, h) = (w as u32 * self.scale, h as u32 * self.scale);
        ((w + 2 * GAP).max(150), h + CAPTION + GAP)
    }

    /// The caption under mistake `k`: `label → prediction`, by class name.
    pub fn caption(&self, k: usize) -> String {
        let (_, label, pred) = self.mistakes[k];
        let name = |c: usize| {
            self.set
                .class_names
                .get(c)
                .cloned()
                .unwrap_or_else(|| c.to_string())
        };
        format!("{} → {}", name(label), name(pred))
    }
}

impl Drawing for MistakeGrid<'_> {
    fn size(&self) -> (u32, u32) {
        let (tw, th) = self.tile();
        let cols = self.mistakes.len().clamp(1, COLUMNS) as u32;
        let rows = self.mistakes.len().div_ceil(COLUMNS).max(1) as u32;
        (
            tw * cols,
            th * rows + if self.mistakes.is_empty() { 40 } else { 0 },
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        if self.mistakes.is_empty() {
            let text = "no misclassified images";
            root.draw(&Text::new(text, (10, 10), (fonts::LATIN, 18)))
                .map_err(e)?;
            return Ok(());
        }
        let (tw, th) = self.tile();
        let [_, h, w] = self.set.image_shape;
        let max = f64::from(self.set.max_value.max(1));
        let s = self.scale as i32;
        for (k, &(index, _, _)) in self.mistakes.iter().enumerate() {
            let x0 = (k % COLUMNS) as i32 * tw as i32;
            let y0 = (k / COLUMNS) as i32 * th as i32;
            let left = x0 + (tw as i32 - w as i32 * s) / 2;
            let top = y0 + 18;
            let head = format!("#{index}");
            root.draw(&Text::new(
                head.clone(),
                (left, y0 + 2),
                (fonts::family(&head), 14),
            ))
            .map_err(e)?;
            let pixels = &self.set.image(index)[..h * w];
            for (i, &p) in pixels.iter().enumerate() {
                let level = 255.0 * (1.0 - f64::from(p) / max);
                let grey = level.round().clamp(0.0, 255.0) as u8;
                if grey == 255 {
                    continue;
                }
                let (px, py) = (left + (i % w) as i32 * s, top + (i / w) as i32 * s);
                root.draw(&Rectangle::new(
                    [(px, py), (px + s, py + s)],
                    RGBColor(grey, grey, grey).filled(),
                ))
                .map_err(e)?;
            }
            root.draw(&Rectangle::new(
                [
                    (left - 1, top - 1),
                    (left + w as i32 * s, top + h as i32 * s),
                ],
                BLACK.mix(0.3),
            ))
            .map_err(e)?;
            let caption = self.caption(k);
            root.draw(&Text::new(
                caption.clone(),
                (left, top + h as i32 * s + 4),
                (fonts::family(&caption), 16),
            ))
            .map_err(e)?;
        }
        Ok(())
    }
}
