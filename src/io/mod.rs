//! Files: model weights, the book's pickles, images to classify.

pub mod image;
