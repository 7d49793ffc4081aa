//! Datasets: images kept as `u8` in memory, converted to floats one batch at a time.

pub mod datasets;
pub mod digits;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod idx;
pub mod store;

use ndarray::ArrayD;

use crate::float::Float;
use crate::rng::Rng;

/// A labelled image dataset. Pixels stay `u8` (an MNIST training set is 47 MB this way,
/// 188 MB as `f32`); [`Dataset::batch`] scales the requested samples to `[0, 1]`.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The dataset's name (`digits`, `mnist`, …).
    pub name: String,
    /// `len × C·H·W` pixels, one sample after another, row-major.
    pub images: Vec<u8>,
    /// One class index per sample.
    pub labels: Vec<u8>,
    /// The shape of one image, `[C, H, W]`.
    pub image_shape: [usize; 3],
    /// The pixel value that maps to 1.0 (16 for the UCI digits, 255 for IDX files).
    pub max_value: u8,
    /// A name for each class.
    pub class_names: Vec<String>,
}

/// Training and test parts of a dataset.
#[derive(Clone, Debug)]
pub struct Split {
    /// Samples to learn from.
    pub train: Dataset,
    /// Samples held out for measuring accuracy.
    pub test: Dataset,
}

/// Whether a batch is given to the network flat, `(N, C·H·W)`, or as images, `(N, C, H, W)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `(N, C·H·W)`, for fully connected nets.
    Flat,
    /// `(N, C, H, W)`, for convolutional nets.
    Image,
}

/// Hints the processor to start loading `bytes` into cache (no effect elsewhere than x86-64).
#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: prefetching is only a hint; it never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                line.as_ptr() as *const i8,
                std::arch::x86_64::_MM_HINT_T0,
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

impl Dataset {
    /// The number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Refuses a set without samples (a usage error): `part` says which ("training",
    /// "test"), so that nothing is reported on nothing (an accuracy of 0/0).
    pub fn require_samples(&self, part: &str) -> crate::error::Result<()> {
        if self.is_empty() {
            Err(crate::error::Error::Invalid(format!(
                "the {} dataset has no {part} samples",
                self.name
            )))
        } else {
            Ok(())
        }
    }

    /// Pixels per sample, `C·H·W`.
    pub fn sample_size(&self) -> usize {
        self.image_shape.iter().product()
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The pixels of sample `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let d = self.sample_size();
        &self.images[i * d..(i + 1) * d]
    }

    /// The shape of one sample as a network sees it in `layout`.
    pub fn input_shape(&self, layout: Layout) -> Vec<usize> {
        match layout {
            Layout::Flat => vec![self.sample_size()],
            Layout::Image => self.image_shape.to_vec(),
        }
    }

    /// The samples at `indices` as a float batch scaled to `[0, 1]`, and their labels.
    pub fn batch<F: Float>(
        &self,
        indices: &[usize],
        layout: Layout,
        labels: &mut Vec<usize>,
    ) -> ArrayD<F> {
        let d = self.sample_size();
        let scale = F::one() / F::from_u8(self.max_value).unwrap();
        // The batch's images lie scattered over the whole set, so reading them is bound by
        // memory latency: ask for an image's cache lines a few images before converting it.
        // Four ahead beat asking for all 100 first (TwoLayerNet +3 %, interleaved runs).
        const AHEAD: usize = 4;
        for &i in indices.iter().take(AHEAD) {
            prefetch(self.image(i));
        }
        let mut data = Vec::with_capacity(indices.len() * d);
        labels.clear();
        for (n, &i) in indices.iter().enumerate() {
            if let Some(&next) = indices.get(n + AHEAD) {
                prefetch(self.image(next));
            }
            F::extend_from_pixels(self.image(i), scale, &mut data);
            labels.push(self.labels[i] as usize);
        }
        let mut shape = vec![indices.len()];
        shape.extend(self.input_shape(layout));
        ArrayD::from_shape_vec(shape, data).expect("batch size matches")
    }

    /// A new dataset holding the samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * self.sample_size());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        crate::alloc::prefer_huge_pages(&images);
        Dataset {
            name: self.name.clone(),
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            image_shape: self.image_shape,
            max_value: self.max_value,
            class_names: self.class_names.clone(),
        }
    }

    /// Shuffles the samples with `rng` and splits them into a training part holding
    /// `train_fraction` of them and a test part holding the rest.
    pub fn split(&self, train_fraction: f64, rng: &mut Rng) -> Split {
        let perm = rng.permutation(self.len());
        let n_train = (self.len() as f64 * train_fraction).round() as usize;
        Split {
            train: self.subset(&perm[..n_train]),
            test: self.subset(&perm[n_train..]),
        }
    }

    /// Samples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}
