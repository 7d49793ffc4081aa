//! The first convolution layer's filters applied to one image: the feature maps of the
//! book's `ch07/apply_filter.py` (fig. 7-25's idea on our own images).

use std::path::Path;

use ndarray::{Array1, Array4, ArrayD, ArrayView4, Axis};

use super::filters::FilterGrid;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{Convolution, Layer};

/// Each filter of `w` `(FN, C, FH, FW)` applied to `image` (`C·H·W` values, row-major, of
/// `shape` `[C, H, W]`) with bias 0, stride 1 and no padding, as `apply_filter.py` does with
/// the book's `Convolution(w, b=0)`: `(FN, H − FH + 1, W − FW + 1)` maps.
pub fn feature_maps<F: Float>(
    w: ArrayView4<F>,
    image: &[f32],
    shape: [usize; 3],
) -> Result<ArrayD<F>> {
    let [c, h, wd] = shape;
    let (fnum, wc, fh, fw) = w.dim();
    if wc != c || fh > h || fw > wd || image.len() != c * h * wd {
        return Err(Error::Shape(format!(
            "filters {:?} do not fit a {c}×{h}×{wd} image",
            w.dim()
        )));
    }
    let mut conv = Convolution::new(w.to_owned(), Array1::zeros(fnum), 1, 0);
    let x = ArrayD::from_shape_vec(
        vec![1, c, h, wd],
        image.iter().map(|&p| F::lit(p as f64)).collect(),
    )
    .map_err(|e| Error::Shape(e.to_string()))?;
    Ok(conv.forward(x, false).index_axis_move(Axis(0), 0))
}

/// The feature maps of `net`'s first-layer filters ([`first_filters`]) on `image`, written
/// to `path` as [`write_png`] draws them; `what` names the network in errors. Returns the
/// maps' shape `[FN, OH, OW]`.
///
/// [`first_filters`]: super::filters::first_filters
pub fn write_first_layer_maps(
    net: &mut crate::nets::Network<f32>,
    image: &[f32],
    shape: [usize; 3],
    path: &Path,
    what: &str,
) -> Result<[usize; 3]> {
    let w = super::filters::first_filters(net, what)?;
    let maps = feature_maps(w.view(), image, shape)?;
    write_png(&maps, path)?;
    let s = maps.shape();
    Ok([s[0], s[1], s[2]])
}

/// The maps as a grid, 8 per row, each min-max normalised on its own and drawn with
/// `gray_r` (the smallest value white, the largest black) like the filters
/// ([`FilterGrid`]), scaled up to about 96 pixels a side.
pub fn write_png<F: Float>(maps: &ArrayD<F>, path: &Path) -> Result<()> {
    let (n, h, w) = match maps.shape() {
        &[n, h, w] => (n, h, w),
        s => return Err(Error::Shape(format!("feature maps of shape {s:?}"))),
    };
    let as4: Array4<F> = maps
        .to_owned()
        .into_shape_with_order((n, 1, h, w))
        .map_err(|e| Error::Shape(e.to_string()))?;
    let grid = FilterGrid {
        scale: (96 / h.max(w).max(1)).max(1),
        spacing: 4,
    };
    grid.write_png(as4.view(), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×3 image and two 2×2 filters, convolved by hand.
    #[test]
    fn maps_are_the_filters_slid_over_the_image() {
        let image = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let w = Array4::from_shape_vec((2, 1, 2, 2), vec![1.0, 0.0, 0.0, -1.0, 0.5, 0.5, 0.5, 0.5])
            .unwrap();
        let maps = feature_maps(w.view(), &image, [1, 3, 3]).unwrap();
        assert_eq!(maps.shape(), &[2, 2, 2]);
        // Filter 0: x[i][j] − x[i+1][j+1] = −4 everywhere; filter 1: half of each 2×2 sum.
        let want = [-4.0, -4.0, -4.0, -4.0, 6.0, 8.0, 12.0, 14.0];
        assert_eq!(maps.iter().copied().collect::<Vec<f64>>(), want);
        assert!(feature_maps(w.view(), &image[..4], [1, 2, 2]).is_ok());
        assert!(feature_maps(w.view(), &image, [1, 1, 9]).is_err());
    }
}
