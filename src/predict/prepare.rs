//! MNIST-style preparation of an image for `backprop predict`.
//!
//! MNIST digits are light strokes on a black background, fitted into a 20×20 box and centred
//! by their centre of mass in a 28×28 frame. A photo or drawing of a digit is usually dark on
//! light, of any size and placement, so it is: converted to grey; inverted when its border is
//! light (most pixels on the edge are background); cropped to the bounding box of its ink;
//! scaled (area averaging) so that its longer side fills 20/28 of the frame; and placed so that
//! its centre of mass sits at the frame's centre.

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::image::read_gray;

/// An image prepared as network input.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    /// `height × width` values in `[0, 1]`, row-major, ink bright on a dark background.
    pub pixels: Vec<f32>,
    /// Whether the image was inverted because its background was light.
    pub inverted: bool,
    /// The original size, `(width, height)`.
    pub original_size: (u32, u32),
}

/// The part of the frame's side that a digit's longer side fills in MNIST: 20 of 28 pixels.
pub const MNIST_BOX: f32 = 20.0 / 28.0;

/// Reads `path` and prepares it for a network that takes `height × width` images.
pub fn load_for_model(path: &Path, height: usize, width: usize) -> Result<Prepared> {
    load_for_model_fit(path, height, width, MNIST_BOX)
}

/// [`load_for_model`] with the digit's longer side filling `box_fraction` of the frame
/// instead of MNIST's 20/28 (the embedded 8×8 digits fill their whole frame: 1).
pub fn load_for_model_fit(
    path: &Path,
    height: usize,
    width: usize,
    box_fraction: f32,
) -> Result<Prepared> {
    let (gray, w, h) = read_gray(path)?;
    if w == 0 || h == 0 {
        return Err(Error::format(path, "the image is empty"));
    }
    let (pixels, inverted) =
        prepare_fit(&gray, w as usize, h as usize, height, width, box_fraction);
    Ok(Prepared {
        pixels,
        inverted,
        original_size: (w, h),
    })
}

/// The MNIST-style preparation of a grey image (`w × h`, 0 = black) into `out_h × out_w`
/// values in `[0, 1]`. Returns the pixels and whether the image was inverted.
pub fn prepare(gray: &[u8], w: usize, h: usize, out_h: usize, out_w: usize) -> (Vec<f32>, bool) {
    prepare_fit(gray, w, h, out_h, out_w, MNIST_BOX)
}

/// [`prepare`] with the ink's longer side fitted into `box_fraction` of the frame.
pub fn prepare_fit(
    gray: &[u8],
    w: usize,
    h: usize,
    out_h: usize,
    out_w: usize,
    box_fraction: f32,
) -> (Vec<f32>, bool) {
    assert_eq!(
        gray.len(),
        w * h,
        "prepare: {} bytes for {w}×{h}",
        gray.len()
    );
    // Each step works on the grey bytes through tables of their 256 levels, so preparing
    // takes no memory in proportion to the image (`predict`'s bound rests on it).
    let level = |v: u8| v as f32 / 255.0;
    // The border is mostly background: light border → dark ink on light paper → invert.
    let border: Vec<f32> = (0..w)
        .flat_map(|x| [gray[x], gray[(h - 1) * w + x]])
        .chain((0..h).flat_map(|y| [gray[y * w], gray[y * w + w - 1]]))
        .map(level)
        .collect();
    let inverted = median(border) > 0.5;
    let ink: [f32; 256] = std::array::from_fn(|v| {
        let v = level(v as u8);
        if inverted { 1.0 - v } else { v }
    });

    // Bounding box of the ink (values clearly above the background).
    let background = median_level(gray, &ink);
    let threshold = background + 0.2;
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for y in 0..h {
        for x in 0..w {
            if ink[gray[y * w + x] as usize] > threshold {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
            }
        }
    }
    let mut out = vec![0.0f32; out_h * out_w];
    if x0 >= x1 {
        return (out, inverted); // no ink: a blank image
    }
    let (bw, bh) = (x1 - x0, y1 - y0);
    // The crop, with the background level removed so that it maps to 0.
    let above: [f32; 256] = std::array::from_fn(|v| {
        ((ink[v] - background) / (1.0 - background).max(1e-6)).clamp(0.0, 1.0)
    });
    let crop = |x: usize, y: usize| above[gray[(y0 + y) * w + x0 + x] as usize];

    // Fit the longer side into the box (MNIST: 20/28 of the frame), keeping the aspect ratio.
    let box_side = ((out_h.min(out_w) as f32) * box_fraction).round().max(1.0);
    let scale = box_side / bw.max(bh) as f32;
    let (sw, sh) = (
        ((bw as f32 * scale).round() as usize).max(1),
        ((bh as f32 * scale).round() as usize).max(1),
    );
    let small = resize_area_with(crop, bw, bh, sw.min(out_w), sh.min(out_h));
    let (sw, sh) = (sw.min(out_w), sh.min(out_h));

    // Centre of mass to the frame's centre.
    let (mut mass, mut cx, mut cy) = (0.0f32, 0.0f32, 0.0f32);
    for y in 0..sh {
        for x in 0..sw {
            let v = small[y * sw + x];
            mass += v;
            cx += v * (x as f32 + 0.5);
            cy += v * (y as f32 + 0.5);
        }
    }
    let (cx, cy) = if mass > 0.0 {
        (cx / mass, cy / mass)
    } else {
        (sw as f32 / 2.0, sh as f32 / 2.0)
    };
    let left =
        ((out_w as f32 / 2.0 - cx).round() as isize).clamp(0, (out_w - sw) as isize) as usize;
    let top = ((out_h as f32 / 2.0 - cy).round() as isize).clamp(0, (out_h - sh) as isize) as usize;
    for y in 0..sh {
        out[(top + y) * out_w + left..(top + y) * out_w + left + sw]
            .copy_from_slice(&small[y * sw..(y + 1) * sw]);
    }
    (out, inverted)
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// The median of `ink[v]` over the grey values `v` of `gray` (what [`median`] of them all
/// gives), from a histogram of the 256 levels instead of a sorted copy.
fn median_level(gray: &[u8], ink: &[f32; 256]) -> f32 {
    let mut count = [0usize; 256];
    for &v in gray {
        count[v as usize] += 1;
    }
    let mut levels: Vec<usize> = (0..256).collect();
    levels.sort_by(|&a, &b| ink[a].total_cmp(&ink[b]));
    let mut seen = 0;
    for v in levels {
        seen += count[v];
        if seen > gray.len() / 2 {
            return ink[v];
        }
    }
    unreachable!("the counts add up to gray.len() > gray.len() / 2")
}

/// Resizes by area averaging: each output pixel is the mean of the input area it covers
/// (exact for down-scaling, a blocky nearest-area for up-scaling).
pub fn resize_area(src: &[f32], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<f32> {
    resize_area_with(|x, y| src[y * w + x], w, h, out_w, out_h)
}

/// [`resize_area`] of the `w × h` image whose pixel `(x, y)` is `src(x, y)`.
fn resize_area_with(
    src: impl Fn(usize, usize) -> f32,
    w: usize,
    h: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<f32> {
    let mut out = vec![0.0f32; out_w * out_h];
    let (sx, sy) = (w as f32 / out_w as f32, h as f32 / out_h as f32);
    for oy in 0..out_h {
        let (fy0, fy1) = (oy as f32 * sy, (oy + 1) as f32 * sy);
        for ox in 0..out_w {
            let (fx0, fx1) = (ox as f32 * sx, (ox + 1) as f32 * sx);
            let (mut sum, mut area) = (0.0, 0.0);
            let mut y = fy0.floor() as usize;
            while (y as f32) < fy1 && y < h {
                let wy = (fy1.min(y as f32 + 1.0) - fy0.max(y as f32)).max(0.0);
                let mut x = fx0.floor() as usize;
                while (x as f32) < fx1 && x < w {
                    let wx = (fx1.min(x as f32 + 1.0) - fx0.max(x as f32)).max(0.0);
                    sum += src(x, y) * wx * wy;
                    area += wx * wy;
                    x += 1;
                }
                y += 1;
            }
            out[oy * out_w + ox] = if area > 0.0 { sum / area } else { 0.0 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_resize_averages_blocks() {
        let src = [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        assert_eq!(resize_area(&src, 4, 2, 2, 1), vec![1.0, 0.0]);
        let up = resize_area(&[0.25], 1, 1, 3, 2);
        assert!(up.iter().all(|&v| (v - 0.25).abs() < 1e-6));
    }

    /// A dark bar on white paper, off-centre in a 100×60 image.
    fn bar_on_paper() -> Vec<u8> {
        let (w, h) = (100, 60);
        let mut img = vec![250u8; w * h];
        for y in 10..50 {
            for x in 70..80 {
                img[y * w + x] = 5;
            }
        }
        img
    }

    #[test]
    fn dark_on_light_is_inverted_fitted_and_centred() {
        let (out, inverted) = prepare(&bar_on_paper(), 100, 60, 28, 28);
        assert!(inverted);
        // background 0, ink bright
        assert_eq!(out[0], 0.0);
        // the 40-pixel-tall bar now spans 20 rows (20/28 box), centred at row 14
        let rows: Vec<usize> = (0..28)
            .filter(|&y| (0..28).any(|x| out[y * 28 + x] > 0.5))
            .collect();
        assert_eq!(rows.len(), 20, "{rows:?}");
        assert_eq!(
            rows[0] + rows[rows.len() - 1] + 1,
            28,
            "vertically centred: {rows:?}"
        );
        let cols: Vec<usize> = (0..28)
            .filter(|&x| (0..28).any(|y| out[y * 28 + x] > 0.5))
            .collect();
        assert_eq!(cols.len(), 5, "width scaled by the same factor: {cols:?}");
        assert!(
            (cols[0] + cols[cols.len() - 1] + 1).abs_diff(28) <= 1,
            "{cols:?}"
        );
    }

    #[test]
    fn light_on_dark_is_kept_and_blank_is_blank() {
        let img: Vec<u8> = bar_on_paper().iter().map(|v| 255 - v).collect();
        let (_, inverted) = prepare(&img, 100, 60, 28, 28);
        assert!(!inverted);
        let (out, _) = prepare(&[0u8; 64], 8, 8, 8, 8);
        assert!(out.iter().all(|&v| v == 0.0));
    }
}
